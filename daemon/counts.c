/*
 * counts.c - count sets from a registry list under the thuiszitter
 * definitions of DOMAIN.md §6, suppression, differences between two nodes'
 * counts, and the totals check of published tables (DOMAIN.md §7).
 *
 * Pure functions over plain structs: no JSON (the client parses tables),
 * no database (the command loads the list), no I/O. Must never count a
 * pupil whose inclusion it cannot decide (they are reported as undecided,
 * never guessed into a bucket), never subtract counts with different keys,
 * and never name a pupil: a count set holds codes and numbers only.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keten/counts.h"

/* ---- definitions ---- */

/* The groups a pupil on a list falls into (exactly one when every fact is
 * known). */
enum {
    G_5A = 1u << 0,        /* vrijstelling art. 5a */
    G_VRIJ = 1u << 1,      /* another vrijstelling: no thuiszitter under any definition */
    G_GESCHORST = 1u << 2, /* geschorst in afwachting van verwijdering */
    G_ABSOLUUT = 1u << 3,  /* not enrolled, no vrijstelling */
    G_ONGEOORL = 1u << 4,  /* enrolled, ongeoorloofd absent */
    G_GEOORL_B = 1u << 5,  /* enrolled, geoorloofd, but able to attend (belastbaar) */
    G_GEOORL_N = 1u << 6,  /* enrolled, geoorloofd, not able (or no advice yet) */
    G_NONE = 1u << 7,      /* enrolled, no absence registered */
};

/* Columns a definition needs. */
enum { N_VRIJ = 1u << 0, N_GESCHORST = 1u << 1, N_BELAST = 1u << 2, N_PCT = 1u << 3 };

enum { T_GT_28D, T_GE_28D, T_GE_1D, T_GT_3M };
enum { L_LT50, L_LE10, L_ZERO };

typedef struct s_def {
    const char *name;
    unsigned groups;   /* counted */
    unsigned unstated; /* the definition does not say: undecided */
    int thr, level;
    unsigned needs;
} s_def_t;

#define S_BREED (G_ONGEOORL | G_GEOORL_B | G_GEOORL_N | G_ABSOLUUT | G_5A | G_GESCHORST)

static const s_def_t s_defs[KT_DEF_COUNT] = {
    [KT_DEF_INSPECTIE] = {"inspectie", G_ONGEOORL | G_ABSOLUUT, 0, T_GT_28D, L_LT50,
                          N_VRIJ | N_GESCHORST},
    [KT_DEF_LANGDURIG_RELATIEF] = {"langdurig_relatief", G_ONGEOORL, 0, T_GT_28D, L_LT50,
                                   N_VRIJ | N_GESCHORST},
    [KT_DEF_NEGENTIG_PROCENT] = {"negentig_procent", G_ONGEOORL | G_ABSOLUUT, 0, T_GT_28D, L_LE10,
                                 N_VRIJ | N_GESCHORST | N_PCT},
    [KT_DEF_VIER_WEKEN] = {"vier_weken", G_ONGEOORL | G_GEOORL_B | G_ABSOLUUT, 0, T_GE_28D, L_LT50,
                           N_VRIJ | N_GESCHORST | N_BELAST},
    [KT_DEF_EERSTE_DAG] = {"eerste_dag", G_ONGEOORL | G_GEOORL_B | G_ABSOLUUT, 0, T_GE_1D, L_LT50,
                           N_VRIJ | N_GESCHORST | N_BELAST},
    [KT_DEF_BREED] = {"breed", S_BREED, 0, T_GT_28D, L_LT50, N_VRIJ},
    [KT_DEF_NUL_PROCENT] = {"nul_procent", S_BREED, 0, T_GT_28D, L_ZERO, N_VRIJ | N_PCT},
    [KT_DEF_BREED_5A] = {"breed_5a", S_BREED & ~G_GESCHORST, G_GESCHORST, T_GT_28D, L_LT50,
                         N_VRIJ | N_GESCHORST},
    [KT_DEF_DRIE_MAANDEN] = {"drie_maanden", G_ONGEOORL | G_ABSOLUUT, 0, T_GT_3M, L_LT50,
                             N_VRIJ | N_GESCHORST},
};

const char *kt_counts_def_name(kt_counts_def_t d)
{
    return d >= 0 && d < KT_DEF_COUNT ? s_defs[d].name : "unknown";
}

int kt_counts_def_parse(const char *s, kt_counts_def_t *out)
{
    for (int i = 0; s != NULL && i < KT_DEF_COUNT; i++)
        if (strcmp(s, s_defs[i].name) == 0) {
            *out = (kt_counts_def_t)i;
            return 0;
        }
    return KT_EINVAL;
}

int kt_counts_name_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n < 1 || n > KT_COUNTS_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
            return 0;
    return 1;
}

/* ---- one pupil ---- */

static unsigned s_verzuim_groups(const kt_registry_entry_t *e)
{
    switch (e->verzuim) {
    case KT_VERZUIM_ONGEOORLOOFD:
        return G_ONGEOORL;
    case KT_VERZUIM_GEEN:
        return G_NONE;
    case KT_VERZUIM_GEOORLOOFD:
        if (strcmp(e->belastbaarheid, "volledig") == 0 ||
            strcmp(e->belastbaarheid, "gedeeltelijk") == 0)
            return G_GEOORL_B;
        if (strcmp(e->belastbaarheid, "niet") == 0)
            return G_GEOORL_N;
        return G_GEOORL_B | G_GEOORL_N; /* onbekend, geen_advies or no column */
    default:
        return G_ONGEOORL | G_GEOORL_B | G_GEOORL_N | G_NONE;
    }
}

/* Every group the pupil may be in, given what is onbekend. */
static unsigned s_groups(const kt_registry_entry_t *e)
{
    unsigned g = 0, vz = s_verzuim_groups(e);
    int v5a, vother, vnone, gja, gnee, ija, inee;

    v5a = strcmp(e->vrijstelling, "art_5a") == 0;
    vnone = strcmp(e->vrijstelling, "geen") == 0;
    vother = !v5a && !vnone && strncmp(e->vrijstelling, "art_", 4) == 0;
    if (!v5a && !vnone && !vother) /* onbekend, or no column */
        v5a = vnone = vother = 1;
    gja = e->geschorst != KT_REG_NEE;
    gnee = e->geschorst != KT_REG_JA;
    ija = e->ingeschreven != KT_REG_NEE;
    inee = e->ingeschreven != KT_REG_JA;
    if (v5a)
        g |= G_5A;
    if (vother)
        g |= G_VRIJ;
    if (vnone) {
        if (gja)
            g |= G_GESCHORST;
        if (gnee) {
            if (inee)
                g |= G_ABSOLUUT;
            if (ija)
                g |= vz;
        }
    }
    return g;
}

/* Why a pupil could not be decided: the facts that are onbekend. */
static void s_reason(char *out, size_t cap, const kt_registry_entry_t *e, const s_def_t *def,
                     unsigned possible)
{
    size_t used = 0;

    out[0] = '\0';
#define ADD(cond, text)                                                                            \
    do {                                                                                           \
        if ((cond) && used < cap)                                                                  \
            used += (size_t)snprintf(out + used, cap - used, "%s%s", used ? ", " : "", text);      \
    } while (0)
    ADD(possible & def->unstated, "the definition does not say whether geschorst pupils count");
    ADD(strncmp(e->vrijstelling, "art_", 4) != 0 && strcmp(e->vrijstelling, "geen") != 0,
        "vrijstelling onbekend");
    ADD(e->geschorst == KT_REG_ONBEKEND, "geschorst onbekend");
    ADD(e->ingeschreven == KT_REG_ONBEKEND, "ingeschreven onbekend");
    ADD(e->verzuim == KT_VERZUIM_ONBEKEND, "verzuim onbekend");
    ADD(e->verzuim == KT_VERZUIM_GEOORLOOFD && (possible & G_GEOORL_B) && (possible & G_GEOORL_N),
        "belastbaarheid onbekend or geen_advies");
#undef ADD
}

/* The first day the pupil counts under the threshold. */
static int64_t s_threshold_day(int thr, int64_t begin)
{
    switch (thr) {
    case T_GT_28D:
        return begin + 28; /* at home on day 29: more than 4 weeks */
    case T_GE_28D:
        return begin + 27; /* at home on day 28: 4 weeks */
    case T_GE_1D:
        return begin;
    default:
        return kt_registry_add_months(begin, 3); /* more than 3 months */
    }
}

typedef struct s_period {
    int stand; /* 1: peildatum; 0: schooljaar */
    int64_t from, to;
} s_period_t;

static int s_period_parse(s_period_t *p, const char *s)
{
    int y1, y2;
    char tail;

    if (s == NULL)
        return -1;
    if (strlen(s) == 9 && sscanf(s, "%4d-%4d%c", &y1, &y2, &tail) == 2 && s[4] == '-' &&
        y1 >= 1900 && y2 == y1 + 1) {
        char a[24], b[24];

        for (int i = 0; i < 9; i++)
            if (i != 4 && (s[i] < '0' || s[i] > '9'))
                return -1;
        snprintf(a, sizeof(a), "%04d-08-01", y1);
        snprintf(b, sizeof(b), "%04d-07-31", y2);
        p->stand = 0;
        return kt_registry_date_days(a, &p->from) != 0 || kt_registry_date_days(b, &p->to) != 0 ? -1
                                                                                                : 0;
    }
    if (kt_registry_date_days(s, &p->from) != 0)
        return -1;
    p->to = p->from;
    p->stand = 1;
    return 0;
}

/* 1 if at home and over the threshold within the period; *ref is the day
 * the duration is measured at. */
static int s_in_period(const kt_registry_entry_t *e, const s_def_t *def, const s_period_t *p,
                       int64_t *ref)
{
    int64_t b, end = INT64_MAX, t, last;

    if (kt_registry_date_days(e->begindatum, &b) != 0 ||
        (e->einddatum[0] && kt_registry_date_days(e->einddatum, &end) != 0))
        return 0;
    t = s_threshold_day(def->thr, b);
    last = end < p->to ? end : p->to;
    if (last < p->from || t > last)
        return 0;
    *ref = p->stand ? p->from : last;
    return 1;
}

/* ---- buckets ---- */

static int s_bucket_cmp(const void *a, const void *b)
{
    return strcmp(((const kt_counts_bucket_t *)a)->name, ((const kt_counts_bucket_t *)b)->name);
}

static int s_add(kt_counts_set_t *s, const char *name, int64_t inc)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->b[i].name, name) == 0) {
            s->b[i].value += inc;
            return 0;
        }
    if (s->n >= KT_COUNTS_BUCKETS_MAX || !kt_counts_name_valid(name))
        return KT_ETOOBIG;
    snprintf(s->b[s->n].name, sizeof(s->b[0].name), "%s", name);
    s->b[s->n].value = inc;
    s->b[s->n].suppressed = 0;
    s->n++;
    return 0;
}

static const char *const s_soorten[] = {
    "po", "sbo", "so", "vo", "vso", "pro", "mbo", "geen_onderwijs", NULL};
static const char *const s_duren[] = {"korter_dan_4_weken", "4_weken_tot_3_maanden",
                                      "3_tot_6_maanden", "langer_dan_6_maanden", NULL};

enum { BY_TOTAAL, BY_SOORT, BY_GEMEENTE, BY_BRIN, BY_SWV, BY_DUUR };

static const char *s_duur(const kt_registry_entry_t *e, int64_t ref)
{
    int64_t b;

    if (kt_registry_date_days(e->begindatum, &b) != 0)
        return KT_COUNTS_ONBEKEND;
    if (ref - b + 1 < 28)
        return s_duren[0];
    if (ref < kt_registry_add_months(b, 3))
        return s_duren[1];
    if (ref < kt_registry_add_months(b, 6))
        return s_duren[2];
    return s_duren[3];
}

static const char *s_bucket_of(const kt_registry_entry_t *e, int by, int64_t ref)
{
    switch (by) {
    case BY_SOORT:
        return e->onderwijssoort;
    case BY_GEMEENTE:
        return e->woongemeente;
    case BY_BRIN:
        return strcmp(e->brin, "geen") == 0 ? KT_COUNTS_NIET_TE_KOPPELEN : e->brin;
    case BY_SWV:
        return e->swv;
    case BY_DUUR:
        return s_duur(e, ref);
    default:
        return KT_COUNTS_TOTAAL;
    }
}

static int s_by_parse(const char *s, int *by)
{
    static const char *const names[] = {"totaal", "onderwijssoort", "woongemeente", "brin", "swv",
                                        "duur"};

    if (s == NULL || s[0] == '\0') {
        *by = BY_TOTAAL;
        return 0;
    }
    for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
        if (strcmp(s, names[i]) == 0) {
            *by = i;
            return 0;
        }
    return -1;
}

/* Scope "kind:code": 0 in scope, 1 out, -1 malformed. */
static int s_scope_kind(const char *scope, const char **code)
{
    static const char *const kinds[] = {"woongemeente:", "brin:", "swv:"};

    for (int i = 0; i < 3; i++)
        if (strncmp(scope, kinds[i], strlen(kinds[i])) == 0 && scope[strlen(kinds[i])] != '\0') {
            *code = scope + strlen(kinds[i]);
            return i;
        }
    return -1;
}

static int s_in_scope(const kt_registry_entry_t *e, int kind, const char *code)
{
    switch (kind) {
    case 0:
        return strcmp(e->woongemeente, code) == 0;
    case 1:
        return strcmp(e->brin, code) == 0 ||
               (strlen(code) == 4 && strlen(e->brin) == 6 && strncmp(e->brin, code, 4) == 0);
    case 2:
        return strcmp(e->swv, code) == 0;
    default:
        return 1;
    }
}

/* The list has no column for what def (or the breakdown) needs. */
static int s_missing_column(const kt_registry_entry_t *e, size_t n, const s_def_t *def, int by,
                            int scope_kind, kt_diag_t *d)
{
    static const struct {
        unsigned need;
        const char *col, *fact;
    } cols[] = {
        {N_VRIJ, "vrijstelling", "5a and other vrijstellingen"},
        {N_GESCHORST, "geschorst", "geschorst in afwachting van verwijdering"},
        {N_BELAST, "belastbaarheid", "ill but able to attend"},
        {N_PCT, "aanwezigheid_pct", "the share of onderwijs attended"},
    };

    if (n == 0)
        return 0;
    for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
        int absent = (cols[i].need == N_VRIJ && e[0].vrijstelling[0] == '\0') ||
                     (cols[i].need == N_GESCHORST && e[0].geschorst == KT_REG_ABSENT) ||
                     (cols[i].need == N_BELAST && e[0].belastbaarheid[0] == '\0') ||
                     (cols[i].need == N_PCT && e[0].aanwezigheid_pct == KT_REG_PCT_ABSENT);

        if ((def->needs & cols[i].need) && absent)
            return kt_diag_set(d, KT_ENOENT,
                               "definition %s needs column %s (%s), which this list does not "
                               "have; import the list with that column",
                               def->name, cols[i].col, cols[i].fact);
    }
    if ((by == BY_SWV || scope_kind == 2) && e[0].swv[0] == '\0')
        return kt_diag_set(d, KT_ENOENT, "this list has no column swv to count by");
    return 0;
}

/* 1 counted, 0 not counted, -1 undecided (reason in why). */
static int s_decide(const kt_registry_entry_t *e, const s_def_t *def, char *why, size_t cap)
{
    unsigned possible = s_groups(e);

    if (e->aanwezigheid_pct >= 50)
        return 0; /* no longer below 50%: no thuiszitter under any definition */
    if ((possible & (def->groups | def->unstated)) == 0)
        return 0;
    if ((possible & ~def->groups) != 0) {
        s_reason(why, cap, e, def, possible);
        return -1;
    }
    if (def->level != L_LT50) {
        if (e->aanwezigheid_pct < 0) {
            snprintf(why, cap, "aanwezigheid_pct onbekend");
            return -1;
        }
        if (def->level == L_ZERO ? e->aanwezigheid_pct != 0 : e->aanwezigheid_pct > 10)
            return 0;
    }
    return 1;
}

static int s_key(kt_counts_key_t *k, const s_period_t *p, const kt_counts_query_t *q)
{
    snprintf(k->eenheid, sizeof(k->eenheid), "%s",
             p->stand ? "thuiszitters_stand" : "thuiszitters_geweest");
    snprintf(k->definitie, sizeof(k->definitie), "%s", q->definitie);
    snprintf(k->scope, sizeof(k->scope), "%s", q->scope && q->scope[0] ? q->scope : "lijst");
    snprintf(k->period, sizeof(k->period), "%s", q->period);
    snprintf(k->by, sizeof(k->by), "%s", q->by && q->by[0] ? q->by : KT_COUNTS_TOTAAL);
    return kt_counts_name_valid(k->scope) ? 0 : -1;
}

/* Explicit zero buckets: the categories of an enumerated breakdown, and
 * always onbekend and niet_te_koppelen (DOMAIN.md §7.1). */
static void s_seed(kt_counts_set_t *s, int by)
{
    const char *const *cat = by == BY_SOORT ? s_soorten : by == BY_DUUR ? s_duren : NULL;

    if (by == BY_TOTAAL)
        (void)s_add(s, KT_COUNTS_TOTAAL, 0);
    for (; cat != NULL && *cat != NULL; cat++)
        (void)s_add(s, *cat, 0);
    (void)s_add(s, KT_COUNTS_ONBEKEND, 0);
    (void)s_add(s, KT_COUNTS_NIET_TE_KOPPELEN, 0);
}

int kt_counts_compute(kt_counts_set_t *out, kt_counts_stats_t *stats,
                      const kt_registry_entry_t *entries, size_t n, const kt_counts_query_t *q,
                      kt_diag_t *d)
{
    kt_counts_def_t def;
    s_period_t p;
    const char *scode = NULL;
    int by, skind = -1, rc;

    memset(out, 0, sizeof(*out));
    memset(stats, 0, sizeof(*stats));
    if (kt_counts_def_parse(q->definitie, &def) != 0)
        return kt_diag_set(d, KT_EINVAL,
                           "unknown definition; one of inspectie, langdurig_relatief, "
                           "negentig_procent, vier_weken, eerste_dag, breed, nul_procent, "
                           "breed_5a, drie_maanden (DOMAIN.md §6)");
    if (s_period_parse(&p, q->period) != 0)
        return kt_diag_set(d, KT_EINVAL,
                           "period: a schooljaar (2020-2021: thuiszitters_geweest) or a "
                           "peildatum (YYYY-MM-DD: thuiszitters_stand)");
    if (s_by_parse(q->by, &by) != 0)
        return kt_diag_set(d, KT_EINVAL,
                           "by: one of onderwijssoort, woongemeente, brin, swv, duur, totaal");
    if (q->scope != NULL && q->scope[0] != '\0' && strcmp(q->scope, "lijst") != 0 &&
        (skind = s_scope_kind(q->scope, &scode)) < 0)
        return kt_diag_set(d, KT_EINVAL, "scope: lijst, woongemeente:CODE, brin:CODE or swv:CODE");
    if (s_key(&out->key, &p, q) != 0)
        return kt_diag_set(d, KT_EINVAL, "scope: at most %d printable characters",
                           KT_COUNTS_NAME_MAX);
    if ((rc = s_missing_column(entries, n, &s_defs[def], by, skind, d)) != 0)
        return rc;
    s_seed(out, by);
    stats->entries = n;
    for (size_t i = 0; i < n; i++) {
        const kt_registry_entry_t *e = &entries[i];
        char why[KT_DIAG_BYTES];
        int64_t ref = 0;
        int dec;

        if (skind >= 0 && !s_in_scope(e, skind, scode)) {
            stats->out_of_scope++;
            continue;
        }
        if (!s_in_period(e, &s_defs[def], &p, &ref))
            continue;
        if ((dec = s_decide(e, &s_defs[def], why, sizeof(why))) < 0) {
            if (stats->undecided++ == 0)
                snprintf(stats->undecided_reason, sizeof(stats->undecided_reason), "%s", why);
            continue;
        }
        if (dec == 0)
            continue;
        if (s_add(out, s_bucket_of(e, by, ref), 1) != 0)
            return kt_diag_set(d, KT_ETOOBIG, "more than %d buckets", KT_COUNTS_BUCKETS_MAX);
        stats->counted++;
    }
    qsort(out->b, out->n, sizeof(out->b[0]), s_bucket_cmp);
    return 0;
}

int64_t kt_counts_total(const kt_counts_set_t *s)
{
    int64_t t = 0;

    for (size_t i = 0; i < s->n; i++)
        if (!s->b[i].suppressed)
            t += s->b[i].value;
    return t;
}

size_t kt_counts_suppress(kt_counts_set_t *s, int64_t threshold)
{
    size_t k = 0;

    if (threshold < 2)
        return 0;
    for (size_t i = 0; i < s->n; i++)
        if (!s->b[i].suppressed && s->b[i].value >= 1 && s->b[i].value < threshold) {
            s->b[i].suppressed = 1;
            s->b[i].value = 0;
            k++;
        }
    return k;
}

size_t kt_counts_suppress_complement(kt_counts_set_t *s)
{
    size_t i, hidden = 0, pick = s->n;

    for (i = 0; i < s->n; i++)
        hidden += s->b[i].suppressed != 0;
    if (hidden != 1)
        return 0;
    for (i = 0; i < s->n; i++)
        if (!s->b[i].suppressed && s->b[i].value >= 1 &&
            (pick == s->n || s->b[i].value < s->b[pick].value))
            pick = i;
    if (pick == s->n)
        return 0;
    s->b[pick].suppressed = 1;
    s->b[pick].value = 0;
    return 1;
}

/* ---- differences ---- */

static const kt_counts_bucket_t *s_find(const kt_counts_set_t *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->b[i].name, name) == 0)
            return &s->b[i];
    return NULL;
}

static int s_delta_cmp(const void *a, const void *b)
{
    return strcmp(((const kt_counts_delta_t *)a)->name, ((const kt_counts_delta_t *)b)->name);
}

static void s_side(const kt_counts_bucket_t *x, kt_counts_state_t *st, int64_t *v)
{
    *st = x == NULL ? KT_COUNTS_ABSENT : x->suppressed ? KT_COUNTS_SUPPRESSED : KT_COUNTS_VALUE;
    *v = *st == KT_COUNTS_VALUE ? x->value : 0;
}

int kt_counts_diff(kt_counts_diff_t *out, const kt_counts_set_t *a, const kt_counts_set_t *b,
                   kt_diag_t *d)
{
    static const char *const parts[] = {"eenheid", "definitie", "scope", "period", "by"};
    const char *pa[] = {a->key.eenheid, a->key.definitie, a->key.scope, a->key.period, a->key.by};
    const char *pb[] = {b->key.eenheid, b->key.definitie, b->key.scope, b->key.period, b->key.by};

    memset(out, 0, sizeof(*out));
    for (int i = 0; i < 5; i++)
        if (strcmp(pa[i], pb[i]) != 0)
            return kt_diag_set(d, KT_EINVAL,
                               "the counts have different keys (%s): show them side by side, "
                               "do not subtract them",
                               parts[i]);
    for (int side = 0; side < 2; side++) {
        const kt_counts_set_t *s = side == 0 ? a : b;

        for (size_t i = 0; i < s->n; i++) {
            kt_counts_delta_t *x;

            if (side == 1 && s_find(a, s->b[i].name) != NULL)
                continue;
            x = &out->d[out->n++];
            snprintf(x->name, sizeof(x->name), "%s", s->b[i].name);
            s_side(s_find(a, x->name), &x->a_state, &x->a);
            s_side(s_find(b, x->name), &x->b_state, &x->b);
            x->has_diff = x->a_state != KT_COUNTS_SUPPRESSED && x->b_state != KT_COUNTS_SUPPRESSED;
            x->diff = x->has_diff ? x->b - x->a : 0;
            if ((x->has_diff && x->diff != 0) || x->a_state == KT_COUNTS_ABSENT ||
                x->b_state == KT_COUNTS_ABSENT)
                out->differ++;
        }
    }
    qsort(out->d, out->n, sizeof(out->d[0]), s_delta_cmp);
    return 0;
}

/* ---- totals check ---- */

const char *kt_counts_status_name(kt_counts_status_t s)
{
    switch (s) {
    case KT_CHECK_OK:
        return "ok";
    case KT_CHECK_MISMATCH:
        return "mismatch";
    default:
        return "no_total";
    }
}

int kt_counts_schooljaar(const char *label)
{
    int y1 = 0, y2 = 0;

    if (label == NULL || strlen(label) != 9 || (label[4] != '/' && label[4] != '-'))
        return -1;
    for (int i = 0; i < 9; i++) {
        if (i == 4)
            continue;
        if (label[i] < '0' || label[i] > '9')
            return -1;
        if (i < 4)
            y1 = y1 * 10 + (label[i] - '0');
        else
            y2 = y2 * 10 + (label[i] - '0');
    }
    return y2 == y1 + 1 ? y1 : -1;
}

static int s_flow(kt_counts_colcheck_t *c, const kt_counts_table_t *t, size_t j)
{
    int64_t x;

    if (__builtin_add_overflow(t->begin[j], t->inflow[j], &x) ||
        __builtin_sub_overflow(x, t->exits[j], &x))
        return -1;
    c->has_flow = 1;
    c->flow_expected = x;
    if (__builtin_sub_overflow(t->end[j], x, &c->flow_diff))
        return -1;
    c->flow_status = c->flow_diff == 0 ? KT_CHECK_OK : KT_CHECK_MISMATCH;
    for (size_t i = 0; i < t->ncols; i++) {
        int yi = kt_counts_schooljaar(t->cols[i]), yj = kt_counts_schooljaar(t->cols[j]);

        if (yi >= 0 && yj >= 0 && yi + 1 == yj) {
            c->has_carry = 1;
            c->carry_from = i;
            if (__builtin_sub_overflow(t->begin[j], t->end[i], &c->carry_diff))
                return -1;
            c->carry_status = c->carry_diff == 0 ? KT_CHECK_OK : KT_CHECK_MISMATCH;
            break;
        }
    }
    return 0;
}

int kt_counts_check(kt_counts_colcheck_t *out, const kt_counts_table_t *t, kt_diag_t *d)
{
    const char *id = t->id ? t->id : "?";

    if (t->ncols < 1 || t->ncols > KT_COUNTS_TABLE_COLS_MAX || t->nrows > KT_COUNTS_TABLE_ROWS_MAX)
        return kt_diag_set(d, KT_EINVAL, "table %s: 1 to %d columns and at most %d rows", id,
                           KT_COUNTS_TABLE_COLS_MAX, KT_COUNTS_TABLE_ROWS_MAX);
    if (t->has_flows && (!t->begin || !t->inflow || !t->exits || !t->end))
        return kt_diag_set(d, KT_EINVAL, "table %s: flows need begin, new, exits and end", id);
    for (size_t j = 0; j < t->ncols; j++) {
        kt_counts_colcheck_t *c = &out[j];

        memset(c, 0, sizeof(*c));
        for (size_t i = 0; i < t->nrows; i++)
            if (__builtin_add_overflow(c->sum, t->v[i * t->ncols + j], &c->sum))
                return kt_diag_set(d, KT_EINVAL, "table %s: the sum overflows", id);
        c->has_stated = t->has_total;
        if (!t->has_total) {
            c->status = KT_CHECK_NO_TOTAL;
        } else {
            c->stated = t->total[j];
            if (__builtin_sub_overflow(c->stated, c->sum, &c->diff))
                return kt_diag_set(d, KT_EINVAL, "table %s: the total overflows", id);
            c->status = c->diff == 0 ? KT_CHECK_OK : KT_CHECK_MISMATCH;
        }
        /* a total that is short by exactly one row's value likely leaves that row out */
        for (size_t i = 0; c->diff < 0 && c->diff != INT64_MIN && i < t->nrows &&
                           c->nlikely < KT_COUNTS_LIKELY_MAX;
             i++)
            if (t->v[i * t->ncols + j] == -c->diff)
                c->likely[c->nlikely++] = i;
        if (t->has_flows && s_flow(c, t, j) != 0)
            return kt_diag_set(d, KT_EINVAL, "table %s: the flows overflow", id);
    }
    return 0;
}
