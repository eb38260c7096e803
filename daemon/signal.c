/*
 * signal.c - the signal rules of DOMAIN.md §5 over one pupil's attendance:
 * which rules fire on a date, since when (the episode), and the numbers that
 * show it (minutes, weeks, percentages, counts).
 *
 * Pure: no I/O, no allocation beyond the call, no identity (the rules see
 * dates and minutes, never a pupil id). Must never round a threshold: all
 * comparisons are on integer minutes and cross-multiplied percentages, so
 * "more than" and "at least" stay exact, and exactly 50 % neither opens nor
 * closes a case.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keten/signal.h"

static const char *const s_rule_names[KT_RULE_COUNT] = {
    "wettelijk_16u", "vroeg_10u",      "geoorloofd_lt50", "ziek_3x_2mnd", "ziek_10d",
    "ziek_4d_maand", "ziek_opvallend", "ziek_4x_12w",     "ziek_2w",
};

static const char *const s_cat_names[KT_CAT_COUNT] = {
    "aanwezig", "ziek", "verlof", "geoorloofd", "ongeoorloofd", "te_laat", "luxe",
};

const char *kt_signal_rule_name(kt_signal_rule_t r)
{
    return (unsigned)r < KT_RULE_COUNT ? s_rule_names[r] : "";
}

int kt_signal_rule_parse(const char *s, kt_signal_rule_t *out)
{
    for (int i = 0; i < KT_RULE_COUNT; i++)
        if (s != NULL && strcmp(s, s_rule_names[i]) == 0) {
            *out = (kt_signal_rule_t)i;
            return 0;
        }
    return KT_EINVAL;
}

const char *kt_signal_cat_name(kt_signal_cat_t c)
{
    return (unsigned)c < KT_CAT_COUNT ? s_cat_names[c] : "";
}

int kt_signal_cat_parse(const char *s, kt_signal_cat_t *out)
{
    for (int i = 0; i < KT_CAT_COUNT; i++)
        if (s != NULL && strcmp(s, s_cat_names[i]) == 0) {
            *out = (kt_signal_cat_t)i;
            return 0;
        }
    return KT_EINVAL;
}

const char *kt_signal_cmp_name(kt_signal_cmp_t c)
{
    return c == KT_CMP_GT ? "gt" : c == KT_CMP_GE ? "ge" : "";
}

/* ---- dates as day numbers (days since 1970-01-01, a Thursday) ---- */

static int s_mdays(int y, int m)
{
    static const int md[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return md[m - 1];
}

static long s_civil(int y, int m, int d)
{
    long era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DD" into *y, *m, *dd; 0 or KT_EINVAL. */
static int s_split(const char *s, int *y, int *m, int *dd)
{
    if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return KT_EINVAL;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return KT_EINVAL;
    *y = atoi(s);
    *m = atoi(s + 5);
    *dd = atoi(s + 8);
    if (*y < 1900 || *y > 2199 || *m < 1 || *m > 12 || *dd < 1 || *dd > s_mdays(*y, *m))
        return KT_EINVAL;
    return 0;
}

static int s_day(const char *s, long *out)
{
    int y, m, d;

    if (s_split(s, &y, &m, &d) != 0)
        return KT_EINVAL;
    *out = s_civil(y, m, d);
    return 0;
}

static void s_date(char out[KT_SIGNAL_DATE_BYTES], long day)
{
    long z = day + 719468, era, doe, yoe, y, doy, mp, d, m;

    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp + (mp < 10 ? 3 : -9);
    y += m <= 2;
    snprintf(out, KT_SIGNAL_DATE_BYTES, "%04u-%02u-%02u", (unsigned)y % 10000u, (unsigned)m % 100u,
             (unsigned)d % 100u);
}

/* The Monday of day's week. */
static long s_monday(long day)
{
    return day - (((day + 3) % 7) + 7) % 7;
}

/* day minus n calendar months, the day clamped to the month's length. */
static long s_minus_months(long day, int n)
{
    char s[KT_SIGNAL_DATE_BYTES];
    int y, m, d;

    s_date(s, day);
    if (s_split(s, &y, &m, &d) != 0)
        return day;
    m -= n;
    while (m < 1) {
        m += 12;
        y--;
    }
    if (d > s_mdays(y, m))
        d = s_mdays(y, m);
    return s_civil(y, m, d);
}

/* ---- one pupil's data, prepared ---- */

static int s_cmp(kt_signal_cmp_t c, int64_t value, int64_t drempel)
{
    return c == KT_CMP_GT ? value > drempel : c == KT_CMP_GE ? value >= drempel : 0;
}

typedef struct s_week {
    long monday;
    long first, last; /* first and last lesdag */
    int64_t lestijd, afwezig, ongeoorloofd, geoorloofd, cat[KT_CAT_COUNT];
    int te_laat;
} s_week_t;

typedef struct s_les {
    long day;
    int sick;
    unsigned flags;
} s_les_t;

typedef struct s_data {
    s_week_t *w;
    size_t nw;
    s_les_t *l;
    size_t nl;
    long date;
} s_data_t;

static void s_data_free(s_data_t *p)
{
    free(p->w);
    free(p->l);
    memset(p, 0, sizeof(*p));
}

/* Lesdagen and lesweken on or before date: days without planned lessons
 * are skipped, so a week without lessons is no lesweek. */
static int s_prepare(s_data_t *p, const kt_signal_day_t *days, size_t n, const char *date)
{
    memset(p, 0, sizeof(*p));
    if (s_day(date, &p->date) != 0)
        return KT_EINVAL;
    p->w = calloc(n + 1, sizeof(*p->w));
    p->l = calloc(n + 1, sizeof(*p->l));
    if (p->w == NULL || p->l == NULL) {
        s_data_free(p);
        return KT_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const kt_signal_day_t *x = &days[i];
        s_week_t *w;
        long day;

        if (s_day(x->datum, &day) != 0 || day > p->date || x->lestijd <= 0)
            continue;
        if (p->nw == 0 || p->w[p->nw - 1].monday != s_monday(day)) {
            w = &p->w[p->nw++];
            w->monday = s_monday(day);
            w->first = day;
        }
        w = &p->w[p->nw - 1];
        w->last = day;
        w->lestijd += x->lestijd;
        w->afwezig += x->afwezig;
        if ((unsigned)x->cat < KT_CAT_COUNT)
            w->cat[x->cat] += x->afwezig;
        if (x->cat == KT_CAT_ONGEOORLOOFD || x->cat == KT_CAT_TE_LAAT)
            w->ongeoorloofd += x->afwezig;
        if (x->cat == KT_CAT_ZIEK || x->cat == KT_CAT_VERLOF || x->cat == KT_CAT_GEOORLOOFD)
            w->geoorloofd += x->afwezig;
        if (x->cat == KT_CAT_TE_LAAT && x->afwezig > 0)
            w->te_laat++;
        p->l[p->nl].day = day;
        p->l[p->nl].sick = x->cat == KT_CAT_ZIEK && x->afwezig > 0;
        p->l[p->nl].flags = x->flags;
        p->nl++;
    }
    return 0;
}

/* ---- wettelijk_16u, vroeg_10u: ongeoorloofd minutes in W lesweken ---- */

/* The window of at most W lesweken ending at week k. */
static int64_t s_window(const s_data_t *p, int weken, size_t k, size_t *start, int *late)
{
    size_t j0 = k + 1 >= (size_t)weken ? k + 1 - (size_t)weken : 0;
    int64_t sum = 0;

    *late = 0;
    for (size_t j = j0; j <= k; j++) {
        sum += p->w[j].ongeoorloofd;
        *late += p->w[j].te_laat;
    }
    *start = j0;
    return sum;
}

static int s_minutes_rule(const s_data_t *p, const kt_signal_threshold_t *t, kt_signal_rule_t r,
                          kt_signal_hit_t *h)
{
    size_t k, start, s0;
    int64_t sum;
    int late, l0;

    if (p->nw == 0 || t->weken < 1)
        return 0;
    k = p->nw - 1;
    sum = s_window(p, t->weken, k, &start, &late);
    if (!s_cmp(t->cmp, sum, t->drempel))
        return 0;
    memset(h, 0, sizeof(*h));
    h->rule = r;
    h->minuten = sum;
    h->te_laat = late;
    h->weken = (int)(k - start + 1);
    s_date(h->periode_start, p->w[start].first);
    s_date(h->periode_eind, p->w[k].last);
    /* the episode: the first window of this unbroken run of windows that fire */
    s0 = start;
    while (k > 0 && s_cmp(t->cmp, s_window(p, t->weken, k - 1, &start, &l0), t->drempel)) {
        s0 = start;
        k--;
    }
    s_date(h->episode, p->w[s0].first);
    return 1;
}

/* ---- geoorloofd_lt50: more than N consecutive lesweken below the line ---- */

typedef struct s_lt50 {
    int open;
    long episode; /* first lesdag of the run that opened it */
    int below;    /* weeks below in the run */
    int pct;      /* the last week below */
    kt_signal_cat_t reden;
} s_lt50_t;

static int s_pct_floor(const s_week_t *w)
{
    return (int)(((w->lestijd - w->afwezig) * 100) / w->lestijd);
}

static kt_signal_cat_t s_reden(const s_week_t *w)
{
    if (w->cat[KT_CAT_ZIEK] >= w->cat[KT_CAT_VERLOF] &&
        w->cat[KT_CAT_ZIEK] >= w->cat[KT_CAT_GEOORLOOFD])
        return KT_CAT_ZIEK;
    return w->cat[KT_CAT_VERLOF] >= w->cat[KT_CAT_GEOORLOOFD] ? KT_CAT_VERLOF : KT_CAT_GEOORLOOFD;
}

/*
 * Runs the case over the weeks. Below: present * 100 < pct * lestijd with
 * the absence mostly geoorloofd. Above: present * 100 > pct * lestijd.
 * Exactly pct: neutral, neither counted nor breaking a run, never closing.
 * When `until` >= 0, stops at the closure of the episode that began on it
 * and reports it in *closed_on (the first lesdag of the week above).
 */
static void s_lt50_run(const s_data_t *p, const kt_signal_threshold_t *t, s_lt50_t *c, long until,
                       long *closed_on)
{
    int run = 0;
    long run_start = 0;

    memset(c, 0, sizeof(*c));
    *closed_on = -1;
    for (size_t k = 0; k < p->nw; k++) {
        const s_week_t *w = &p->w[k];
        int64_t present = w->lestijd - w->afwezig, line = (int64_t)t->pct * w->lestijd;
        int below = present * 100 < line, above = present * 100 > line;
        int geo = w->geoorloofd > 0 && w->geoorloofd >= w->afwezig - w->geoorloofd;

        if (c->open) {
            if (above) {
                if (until >= 0 && c->episode == until) {
                    *closed_on = w->first;
                    return;
                }
                c->open = 0;
                run = 0;
            } else if (below && geo) {
                c->below++;
                c->pct = s_pct_floor(w);
                c->reden = s_reden(w);
            }
            continue;
        }
        if (below && geo) {
            if (run == 0)
                run_start = w->first;
            run++;
            c->pct = s_pct_floor(w);
            c->reden = s_reden(w);
            if (s_cmp(t->cmp, run, t->drempel)) {
                c->open = 1;
                c->episode = run_start;
                c->below = run;
            }
        } else if (!(present * 100 == line)) {
            run = 0; /* above the line, or below for another reason */
        }
    }
}

static int s_lt50(const s_data_t *p, const kt_signal_threshold_t *t, kt_signal_hit_t *h)
{
    s_lt50_t c;
    long closed;

    s_lt50_run(p, t, &c, -1, &closed);
    if (!c.open)
        return 0;
    memset(h, 0, sizeof(*h));
    h->rule = KT_RULE_GEOORLOOFD_LT50;
    s_date(h->episode, c.episode);
    s_date(h->periode_start, c.episode);
    s_date(h->periode_eind, p->w[p->nw - 1].last);
    h->weken = c.below;
    h->pct = c.pct;
    h->reden = c.reden;
    return 1;
}

int kt_signal_lt50_closed(const kt_signal_conf_t *c, const kt_signal_day_t *days, size_t n,
                          const char *episode, const char *date, kt_signal_hit_t *hit)
{
    const kt_signal_threshold_t *t = &c->rule[KT_RULE_GEOORLOOFD_LT50];
    s_data_t p;
    s_lt50_t st;
    long ep, closed;

    if (!t->enabled || s_day(episode, &ep) != 0 || s_prepare(&p, days, n, date) != 0)
        return 0;
    s_lt50_run(&p, t, &st, ep, &closed);
    s_data_free(&p);
    if (closed < 0)
        return 0;
    memset(hit, 0, sizeof(*hit));
    hit->rule = KT_RULE_GEOORLOOFD_LT50;
    hit->closed = 1;
    memcpy(hit->episode, episode, KT_SIGNAL_DATE_BYTES);
    s_date(hit->einddatum, closed);
    return 1;
}

/* ---- ziekteverzuim: over lesdagen ---- */

/* Length of the sick run ending at lesdag i (0 if i is not sick); *flags
 * collects the run's flags. */
static int s_run_at(const s_data_t *p, size_t i, unsigned *flags)
{
    int len = 0;

    *flags = 0;
    for (size_t j = i + 1; j-- > 0 && p->l[j].sick;) {
        len++;
        *flags |= p->l[j].flags;
    }
    return len;
}

/* Sick reports (runs) that started after `from` and on or before lesdag i;
 * max_len > 0 counts only runs of at most max_len days (so far). */
static int s_reports(const s_data_t *p, size_t i, long from, int max_len, int *days)
{
    int count = 0;

    *days = 0;
    for (size_t j = 0; j <= i; j++) {
        size_t e = j;

        if (!p->l[j].sick || (j > 0 && p->l[j - 1].sick))
            continue;
        while (e + 1 <= i && p->l[e + 1].sick)
            e++;
        if (p->l[j].day > from && (max_len <= 0 || (int)(e - j + 1) <= max_len)) {
            count++;
            *days += (int)(e - j + 1);
        }
    }
    return count;
}

static int s_count_days(const s_data_t *p, size_t i, long from, unsigned flag)
{
    int count = 0;

    for (size_t j = 0; j <= i; j++)
        if (p->l[j].day > from && (flag ? (p->l[j].flags & flag) != 0 : p->l[j].sick))
            count++;
    return count;
}

/* Does rule r fire at lesdag i, seen from day `at`? Fills the evidence. */
static int s_sick_at(const s_data_t *p, const kt_signal_threshold_t *t, kt_signal_rule_t r,
                     size_t i, long at, kt_signal_hit_t *h)
{
    unsigned flags;
    int len, n, days = 0;

    switch (r) {
    case KT_RULE_ZIEK_3X_2MND:
        n = s_reports(p, i, s_minus_months(at, t->maanden), t->max_dagen, &days);
        h->ziekmeldingen = n;
        h->dagen = days;
        return s_cmp(t->cmp, n, t->drempel);
    case KT_RULE_ZIEK_10D:
        len = s_run_at(p, i, &flags);
        h->dagen = len;
        h->ziekmeldingen = len > 0;
        return (flags & KT_SIGNAL_ONDUIDELIJK) && s_cmp(t->cmp, len, t->drempel);
    case KT_RULE_ZIEK_4D_MAAND:
        n = s_count_days(p, i, s_minus_months(at, t->maanden), 0);
        h->dagen = n;
        h->ziekmeldingen = s_reports(p, i, s_minus_months(at, t->maanden), 0, &days);
        return s_cmp(t->cmp, n, t->drempel);
    case KT_RULE_ZIEK_OPVALLEND:
        n = s_count_days(p, i, s_minus_months(at, t->maanden), KT_SIGNAL_OPVALLEND);
        h->dagen = n;
        h->ziekmeldingen = s_reports(p, i, s_minus_months(at, t->maanden), 0, &days);
        return s_cmp(t->cmp, n, t->drempel);
    case KT_RULE_ZIEK_4X_12W:
        n = s_reports(p, i, at - 7L * t->weken, 0, &days);
        h->ziekmeldingen = n;
        h->dagen = days;
        return s_cmp(t->cmp, n, t->drempel);
    case KT_RULE_ZIEK_2W:
        len = s_run_at(p, i, &flags);
        h->dagen = len;
        h->ziekmeldingen = len > 0;
        return s_cmp(t->cmp, len, t->drempel);
    default:
        return 0;
    }
}

static int s_sick_rule(const s_data_t *p, const kt_signal_threshold_t *t, kt_signal_rule_t r,
                       kt_signal_hit_t *h)
{
    kt_signal_hit_t tmp;
    size_t i, j;

    if (p->nl == 0)
        return 0;
    memset(h, 0, sizeof(*h));
    i = p->nl - 1;
    if (!s_sick_at(p, t, r, i, p->date, h))
        return 0;
    h->rule = r;
    h->reden = KT_CAT_ZIEK;
    for (j = i; j > 0 && s_sick_at(p, t, r, j - 1, p->l[j - 1].day, &tmp); j--)
        ;
    s_date(h->episode, p->l[j].day);
    s_date(h->periode_start, p->l[j].day);
    s_date(h->periode_eind, p->l[i].day);
    return 1;
}

int kt_signal_evaluate(const kt_signal_conf_t *c, const kt_signal_day_t *days, size_t n,
                       const char *date, kt_signal_hit_t *out, size_t cap)
{
    kt_signal_hit_t h;
    s_data_t p;
    int rc, count = 0;

    if ((rc = s_prepare(&p, days, n, date)) != 0)
        return rc;
    for (int r = 0; r < KT_RULE_COUNT; r++) {
        const kt_signal_threshold_t *t = &c->rule[r];
        int fired;

        if (!t->enabled || t->cmp == KT_CMP_NONE)
            continue;
        if (r == KT_RULE_WETTELIJK_16U || r == KT_RULE_VROEG_10U)
            fired = s_minutes_rule(&p, t, (kt_signal_rule_t)r, &h);
        else if (r == KT_RULE_GEOORLOOFD_LT50)
            fired = s_lt50(&p, t, &h);
        else
            fired = s_sick_rule(&p, t, (kt_signal_rule_t)r, &h);
        if (!fired)
            continue;
        if ((size_t)count < cap)
            out[count] = h;
        count++;
    }
    s_data_free(&p);
    return count;
}
