/*
 * test_signal.c - the signal rules at their boundaries (one below, at, one
 * above), lesweken that skip weeks without lessons, comparators gt and ge,
 * signals.conf errors, the CSV parser's errors (exact messages, nothing
 * returned), the store (a repeated row replaces; ids never in the clear in
 * the database file) and the purge.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "keten/keys.h"
#include "keten/signal.h"
#include "keten/store.h"
#include "keten/vault.h"

static const char s_conf_text[] =
    "retention_days = 30;\n"
    "codes = ( { code = \"Z\"; categorie = \"ziek\"; },\n"
    "  { code = \"ZO\"; categorie = \"ziek\"; onduidelijk = true; },\n"
    "  { code = \"ZH\"; categorie = \"ziek\"; opvallend = true; },\n"
    "  { code = \"O\"; categorie = \"ongeoorloofd\"; },\n"
    "  { code = \"L\"; categorie = \"te_laat\"; },\n"
    "  { code = \"V\"; categorie = \"verlof\"; } );\n"
    "rules = {\n"
    "  wettelijk_16u = { minuten = 960; comparator = \"%s\"; lesweken = 4; };\n"
    "  vroeg_10u = { minuten = 600; comparator = \"ge\"; lesweken = 4; };\n"
    "  geoorloofd_lt50 = { lesweken = 4; comparator = \"gt\"; pct = 50; };\n"
    "  ziek_3x_2mnd = { keer = 3; comparator = \"ge\"; maanden = 2; max_dagen = 2; };\n"
    "  ziek_10d = { dagen = 10; comparator = \"gt\"; };\n"
    "  ziek_4d_maand = { dagen = 4; comparator = \"gt\"; maanden = 1; };\n"
    "  ziek_opvallend = { dagen = 1; comparator = \"ge\"; maanden = 1; };\n"
    "  ziek_4x_12w = { keer = 4; comparator = \"ge\"; weken = 12; };\n"
    "  ziek_2w = { dagen = 10; comparator = \"ge\"; };\n"
    "};\n";

static void s_conf(kt_signal_conf_t *c, const char *cmp)
{
    char text[4096];
    kt_conf_errors_t e = {NULL, 0};

    snprintf(text, sizeof(text), s_conf_text, cmp);
    assert_int_equal(kt_signal_conf_parse(c, "signals.conf", text, strlen(text), &e), 0);
    kt_conf_errors_free(&e);
}

typedef struct s_days {
    kt_signal_day_t d[400];
    size_t n;
} s_days_t;

/* One day (date from 2025-09-01 + off days). */
static void s_add(s_days_t *s, int off, int lestijd, int afwezig, kt_signal_cat_t cat,
                  unsigned flags)
{
    int y = 2025, m = 9, d = 1 + off;
    static const int md[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    while (d > md[m - 1]) {
        d -= md[m - 1];
        if (++m > 12) {
            m = 1;
            y++;
        }
    }
    kt_signal_day_t *x = &s->d[s->n++];
    memset(x, 0, sizeof(*x));
    snprintf(x->datum, sizeof(x->datum), "%04u-%02u-%02u", (unsigned)y % 10000u, (unsigned)m % 100u,
             (unsigned)d % 100u);
    x->lestijd = lestijd;
    x->afwezig = afwezig;
    x->cat = cat;
    x->flags = flags;
}

/* Week w (0 = the week of Monday 2025-09-01), five lesdagen. */
static void s_week(s_days_t *s, int w, int lestijd, int afwezig, kt_signal_cat_t cat)
{
    for (int d = 0; d < 5; d++)
        s_add(s, 7 * w + d, lestijd, afwezig, cat, 0);
}

static int s_fires(const kt_signal_conf_t *c, const s_days_t *s, const char *date,
                   kt_signal_rule_t r, kt_signal_hit_t *out)
{
    kt_signal_hit_t h[KT_SIGNAL_HITS_MAX];
    int n = kt_signal_evaluate(c, s->d, s->n, date, h, KT_SIGNAL_HITS_MAX);

    assert_true(n >= 0);
    for (int i = 0; i < n; i++)
        if (h[i].rule == r) {
            if (out != NULL)
                *out = h[i];
            return 1;
        }
    return 0;
}

/* 4 lesweken of 300 min/day; ongeoorloofd total `total`, spread over weeks. */
static void s_ongeoorloofd(s_days_t *s, int64_t total, int skip_week)
{
    int weeks[4] = {0, 1, 2, 3}, per;

    memset(s, 0, sizeof(*s));
    if (skip_week)
        weeks[2] = 3, weeks[3] = 4; /* week 2 has no lessons */
    per = (int)(total / 20);
    for (int w = 0; w < 4; w++)
        for (int d = 0; d < 5; d++) {
            int extra = (w == 0 && d == 0) ? (int)(total - per * 20) : 0;
            s_add(s, 7 * weeks[w] + d, 300, per + extra, KT_CAT_ONGEOORLOOFD, 0);
        }
}

static void test_wettelijk_gt(void **state)
{
    kt_signal_conf_t c;
    s_days_t s;
    kt_signal_hit_t h;

    (void)state;
    s_conf(&c, "gt");
    s_ongeoorloofd(&s, 959, 0);
    assert_false(s_fires(&c, &s, "2025-09-26", KT_RULE_WETTELIJK_16U, NULL));
    s_ongeoorloofd(&s, 960, 0);
    assert_false(s_fires(&c, &s, "2025-09-26", KT_RULE_WETTELIJK_16U, NULL));
    s_ongeoorloofd(&s, 961, 0);
    assert_true(s_fires(&c, &s, "2025-09-26", KT_RULE_WETTELIJK_16U, &h));
    assert_int_equal(h.minuten, 961);
    assert_int_equal(h.weken, 4);
    assert_string_equal(h.periode_start, "2025-09-01");
    assert_string_equal(h.periode_eind, "2025-09-26");
    assert_string_equal(h.episode, "2025-09-01");
}

static void test_wettelijk_ge(void **state)
{
    kt_signal_conf_t c;
    s_days_t s;

    (void)state;
    s_conf(&c, "ge");
    s_ongeoorloofd(&s, 959, 0);
    assert_false(s_fires(&c, &s, "2025-09-26", KT_RULE_WETTELIJK_16U, NULL));
    s_ongeoorloofd(&s, 960, 0);
    assert_true(s_fires(&c, &s, "2025-09-26", KT_RULE_WETTELIJK_16U, NULL));
}

/* A week without lessons is no lesweek: 4 lesweken over 5 calendar weeks. */
static void test_window_skips_holiday(void **state)
{
    kt_signal_conf_t c;
    s_days_t s;
    kt_signal_hit_t h;

    (void)state;
    s_conf(&c, "gt");
    s_ongeoorloofd(&s, 961, 1);
    assert_true(s_fires(&c, &s, "2025-10-03", KT_RULE_WETTELIJK_16U, &h));
    assert_int_equal(h.weken, 4);
    assert_string_equal(h.periode_start, "2025-09-01");
    /* days with lestijd 0 in the holiday week change nothing */
    for (int d = 0; d < 5; d++)
        s_add(&s, 14 + d, 0, 0, KT_CAT_AANWEZIG, 0);
    assert_true(s_fires(&c, &s, "2025-10-03", KT_RULE_WETTELIJK_16U, &h));
    assert_int_equal(h.weken, 4);
    /* one more lesweek without absence pushes week 0 out of the window */
    memset(&s, 0, sizeof(s));
    s_week(&s, 0, 300, 961 / 5 + 1, KT_CAT_ONGEOORLOOFD);
    s_week(&s, 1, 300, 0, KT_CAT_AANWEZIG);
    s_week(&s, 3, 300, 0, KT_CAT_AANWEZIG);
    s_week(&s, 4, 300, 0, KT_CAT_AANWEZIG);
    assert_true(s_fires(&c, &s, "2025-10-03", KT_RULE_WETTELIJK_16U, NULL));
    s_week(&s, 5, 300, 0, KT_CAT_AANWEZIG);
    assert_false(s_fires(&c, &s, "2025-10-10", KT_RULE_WETTELIJK_16U, NULL));
    /* and only days up to the evaluation date count */
    assert_true(s_fires(&c, &s, "2025-10-03", KT_RULE_WETTELIJK_16U, NULL));
}

static void test_vroeg_10u_and_te_laat(void **state)
{
    kt_signal_conf_t c;
    s_days_t s;
    kt_signal_hit_t h;

    (void)state;
    s_conf(&c, "gt");
    memset(&s, 0, sizeof(s));
    for (int i = 0; i < 19; i++)
        s_add(&s, i / 5 * 7 + i % 5, 300, 30, KT_CAT_TE_LAAT, 0);
    s_add(&s, 3 * 7 + 4, 300, 29, KT_CAT_ONGEOORLOOFD, 0); /* 599 */
    assert_false(s_fires(&c, &s, "2025-09-26", KT_RULE_VROEG_10U, NULL));
    s.d[s.n - 1].afwezig = 30; /* 600: ge */
    assert_true(s_fires(&c, &s, "2025-09-26", KT_RULE_VROEG_10U, &h));
    assert_int_equal(h.minuten, 600);
    assert_int_equal(h.te_laat, 19);
    s.d[s.n - 1].afwezig = 31;
    assert_true(s_fires(&c, &s, "2025-09-26", KT_RULE_VROEG_10U, NULL));
    /* luxe is not counted towards the hours */
    s.d[s.n - 1].cat = KT_CAT_LUXE;
    assert_false(s_fires(&c, &s, "2025-09-26", KT_RULE_VROEG_10U, NULL));
}

/* lt50: weeks of 300 min/day; absent 151 = 49.67 % present (below),
 * 150 = exactly 50 %, 149 = above. */
static void test_lt50_boundaries(void **state)
{
    kt_signal_conf_t c;
    s_days_t s;
    kt_signal_hit_t h;

    (void)state;
    s_conf(&c, "gt");
    memset(&s, 0, sizeof(s));
    for (int w = 0; w < 4; w++)
        s_week(&s, w, 300, 151, KT_CAT_ZIEK);
    assert_false(s_fires(&c, &s, "2025-09-26", KT_RULE_GEOORLOOFD_LT50, NULL)); /* 4: not more */
    s_week(&s, 4, 300, 151, KT_CAT_ZIEK);
    assert_true(s_fires(&c, &s, "2025-10-03", KT_RULE_GEOORLOOFD_LT50, &h)); /* 5 */
    assert_int_equal(h.weken, 5);
    assert_int_equal(h.pct, 49);
    assert_string_equal(h.episode, "2025-09-01");
    /* exactly 50 %: neither opens ... */
    memset(&s, 0, sizeof(s));
    for (int w = 0; w < 5; w++)
        s_week(&s, w, 300, 150, KT_CAT_ZIEK);
    assert_false(s_fires(&c, &s, "2025-10-03", KT_RULE_GEOORLOOFD_LT50, NULL));
    /* ... nor breaks a run: 4 below, one at 50, one below = 5 below */
    memset(&s, 0, sizeof(s));
    for (int w = 0; w < 4; w++)
        s_week(&s, w, 300, 200, KT_CAT_ZIEK);
    s_week(&s, 4, 300, 150, KT_CAT_ZIEK);
    assert_false(s_fires(&c, &s, "2025-10-03", KT_RULE_GEOORLOOFD_LT50, NULL));
    s_week(&s, 5, 300, 200, KT_CAT_ZIEK);
    assert_true(s_fires(&c, &s, "2025-10-10", KT_RULE_GEOORLOOFD_LT50, NULL));
    /* ... nor closes */
    s_week(&s, 6, 300, 150, KT_CAT_ZIEK);
    assert_true(s_fires(&c, &s, "2025-10-17", KT_RULE_GEOORLOOFD_LT50, NULL));
    assert_false(kt_signal_lt50_closed(&c, s.d, s.n, "2025-09-01", "2025-10-17", &h));
    /* above 50 % closes */
    s_week(&s, 7, 300, 149, KT_CAT_ZIEK);
    assert_false(s_fires(&c, &s, "2025-10-24", KT_RULE_GEOORLOOFD_LT50, NULL));
    assert_true(kt_signal_lt50_closed(&c, s.d, s.n, "2025-09-01", "2025-10-24", &h));
    assert_true(h.closed);
    assert_string_equal(h.einddatum, "2025-10-20");
    /* an above week before opening resets the count */
    memset(&s, 0, sizeof(s));
    for (int w = 0; w < 3; w++)
        s_week(&s, w, 300, 200, KT_CAT_ZIEK);
    s_week(&s, 3, 300, 149, KT_CAT_ZIEK);
    for (int w = 4; w < 8; w++)
        s_week(&s, w, 300, 200, KT_CAT_ZIEK);
    assert_false(s_fires(&c, &s, "2025-10-24", KT_RULE_GEOORLOOFD_LT50, NULL));
    /* ongeoorloofd absence is no langdurig geoorloofd */
    memset(&s, 0, sizeof(s));
    for (int w = 0; w < 6; w++)
        s_week(&s, w, 300, 200, KT_CAT_ONGEOORLOOFD);
    assert_false(s_fires(&c, &s, "2025-10-10", KT_RULE_GEOORLOOFD_LT50, NULL));
}

/* n consecutive sick lesdagen from Monday 2025-09-01 (weekends skipped). */
static void s_sick_run(s_days_t *s, int n, unsigned flags)
{
    memset(s, 0, sizeof(*s));
    for (int i = 0; i < n; i++)
        s_add(s, i / 5 * 7 + i % 5, 300, 300, KT_CAT_ZIEK, flags);
}

static void test_ziek_2w_and_10d(void **state)
{
    kt_signal_conf_t c;
    s_days_t s;

    (void)state;
    s_conf(&c, "gt");
    s_sick_run(&s, 9, 0);
    assert_false(s_fires(&c, &s, "2025-12-31", KT_RULE_ZIEK_2W, NULL));
    s_sick_run(&s, 10, 0);
    assert_true(s_fires(&c, &s, "2025-12-31", KT_RULE_ZIEK_2W, NULL));
    s_sick_run(&s, 11, 0);
    assert_true(s_fires(&c, &s, "2025-12-31", KT_RULE_ZIEK_2W, NULL));
    assert_false(s_fires(&c, &s, "2025-12-31", KT_RULE_ZIEK_10D, NULL)); /* not onduidelijk */
    s_sick_run(&s, 10, KT_SIGNAL_ONDUIDELIJK);
    assert_false(s_fires(&c, &s, "2025-12-31", KT_RULE_ZIEK_10D, NULL)); /* 10: not more */
    s_sick_run(&s, 11, KT_SIGNAL_ONDUIDELIJK);
    assert_true(s_fires(&c, &s, "2025-12-31", KT_RULE_ZIEK_10D, NULL));
    /* back at school: the run is over */
    s_add(&s, 16, 300, 0, KT_CAT_AANWEZIG, 0);
    assert_false(s_fires(&c, &s, "2025-12-31", KT_RULE_ZIEK_10D, NULL));
}

/* Single sick days on the given offsets, school every other lesdag. */
static void s_reports(s_days_t *s, const int *offs, size_t n, int len)
{
    memset(s, 0, sizeof(*s));
    for (int day = 0; day < 90; day++) {
        int sick = 0;

        if (day % 7 >= 5)
            continue;
        for (size_t i = 0; i < n; i++)
            if (day >= offs[i] && day < offs[i] + len)
                sick = 1;
        s_add(s, day, 300, sick ? 300 : 0, sick ? KT_CAT_ZIEK : KT_CAT_AANWEZIG, 0);
    }
}

static void test_ziek_counts(void **state)
{
    static const int two[] = {0, 14}, three[] = {0, 14, 28}, four[] = {0, 14, 28, 42},
                     five_days[] = {7};
    kt_signal_conf_t c;
    s_days_t s;
    kt_signal_hit_t h;

    (void)state;
    s_conf(&c, "gt");
    s_reports(&s, two, 2, 1);
    assert_false(s_fires(&c, &s, "2025-10-01", KT_RULE_ZIEK_3X_2MND, NULL));
    s_reports(&s, three, 3, 1);
    assert_true(s_fires(&c, &s, "2025-10-01", KT_RULE_ZIEK_3X_2MND, &h));
    assert_int_equal(h.ziekmeldingen, 3);
    s_reports(&s, three, 3, 3); /* three-day reports do not count */
    assert_false(s_fires(&c, &s, "2025-10-01", KT_RULE_ZIEK_3X_2MND, NULL));
    s_reports(&s, three, 3, 1); /* two months later the window is past */
    assert_false(s_fires(&c, &s, "2025-11-30", KT_RULE_ZIEK_3X_2MND, NULL));
    s_reports(&s, three, 3, 1);
    assert_false(s_fires(&c, &s, "2025-10-20", KT_RULE_ZIEK_4X_12W, NULL));
    s_reports(&s, four, 4, 1);
    assert_true(s_fires(&c, &s, "2025-10-20", KT_RULE_ZIEK_4X_12W, &h));
    assert_int_equal(h.ziekmeldingen, 4);
    /* ziek_4d_maand: more than 4 days in the past month */
    s_reports(&s, five_days, 1, 4);
    assert_false(s_fires(&c, &s, "2025-09-30", KT_RULE_ZIEK_4D_MAAND, NULL));
    s_reports(&s, five_days, 1, 5);
    assert_true(s_fires(&c, &s, "2025-09-30", KT_RULE_ZIEK_4D_MAAND, &h));
    assert_int_equal(h.dagen, 5);
    /* ziek_opvallend: set by the school */
    s_reports(&s, five_days, 1, 1);
    assert_false(s_fires(&c, &s, "2025-09-30", KT_RULE_ZIEK_OPVALLEND, NULL));
    s.d[5].flags = KT_SIGNAL_OPVALLEND;
    assert_true(s_fires(&c, &s, "2025-09-30", KT_RULE_ZIEK_OPVALLEND, NULL));
}

static void test_conf_errors(void **state)
{
    static const char no_cmp[] =
        "retention_days = 30;\ncodes = ( { code = \"Z\"; categorie = \"ziek\"; } );\n"
        "rules = {\n  wettelijk_16u = { minuten = 960; lesweken = 4; };\n};\n";
    static const char bad_cmp[] =
        "retention_days = 30;\ncodes = ( { code = \"Z\"; categorie = \"ziek\"; } );\n"
        "rules = {\n  wettelijk_16u = { minuten = 960; comparator = \"gte\"; lesweken = 4; "
        "};\n};\n";
    static const char no_16u[] =
        "retention_days = 30;\ncodes = ( { code = \"Z\"; categorie = \"ziek\"; } );\n"
        "rules = {\n  vroeg_10u = { minuten = 600; comparator = \"ge\"; lesweken = 4; };\n};\n";
    kt_conf_errors_t e = {NULL, 0};
    kt_signal_conf_t c;

    (void)state;
    assert_int_equal(kt_signal_conf_parse(&c, "signals.conf", no_cmp, strlen(no_cmp), &e),
                     KT_ECONFIG);
    assert_int_equal(e.count, 1);
    assert_string_equal(e.msg[0], "signals.conf:4: rules.wettelijk_16u: 'comparator' is required "
                                  "(\"gt\" = more than, \"ge\" = at least); there is no default");
    kt_conf_errors_free(&e);
    assert_int_equal(kt_signal_conf_parse(&c, "signals.conf", bad_cmp, strlen(bad_cmp), &e),
                     KT_ECONFIG);
    assert_string_equal(e.msg[0],
                        "signals.conf:4: rules.wettelijk_16u.comparator: must be \"gt\" or \"ge\"");
    kt_conf_errors_free(&e);
    assert_int_equal(kt_signal_conf_parse(&c, "signals.conf", no_16u, strlen(no_16u), &e),
                     KT_ECONFIG);
    assert_non_null(strstr(e.msg[0], "rules.wettelijk_16u is required"));
    kt_conf_errors_free(&e);
}

#define HDR "leerlingnummer,leerling_id,geboortedatum,datum,lestijd_min,afwezig_min,code\n"

static void s_csv_err(const kt_signal_conf_t *c, const char *csv, const char *msg)
{
    kt_signal_row_t *rows = (kt_signal_row_t *)1;
    size_t n = 99;
    kt_diag_t d = {{0}};

    assert_int_equal(kt_signal_csv_parse(&rows, &n, csv, strlen(csv), c, &d), KT_EMALFORMED);
    assert_null(rows);
    assert_int_equal(n, 0);
    assert_string_equal(d.msg, msg);
}

static void test_csv_errors(void **state)
{
    kt_signal_conf_t c;

    (void)state;
    s_conf(&c, "gt");
    s_csv_err(&c, "leerlingnummer,leerling_id,geboortedatum,datum,lestijd_min,code\n",
              "line 1: missing column 'afwezig_min' (the header needs leerlingnummer, "
              "leerling_id, geboortedatum, datum, lestijd_min, afwezig_min, code)");
    s_csv_err(&c,
              HDR
              "L1,999900043,2013-03-21,2025-09-01,300,0,\nL1,999900043,2013-03-21,2025-09-02,300\n",
              "line 3, column 6 (afwezig_min): missing (the line has 5 fields)");
    s_csv_err(&c, HDR "L1,999900043,2013-03-21,2025-02-30,300,0,\n",
              "line 2, column 4 (datum): not a date (YYYY-MM-DD)");
    s_csv_err(&c, HDR "L1,999900043,2013-03-21,01-09-2025,300,0,\n",
              "line 2, column 4 (datum): not a date (YYYY-MM-DD)");
    s_csv_err(&c, HDR "L1,999900043,2013-03-21,2025-09-01,-300,0,\n",
              "line 2, column 5 (lestijd_min): negative");
    s_csv_err(&c, HDR "L1,999900043,2013-03-21,2025-09-01,300,-5,Z\n",
              "line 2, column 6 (afwezig_min): negative");
    s_csv_err(&c, HDR "L1,999900043,2013-03-21,2025-09-01,300,301,Z\n",
              "line 2, column 6 (afwezig_min): more minutes absent than planned (lestijd_min)");
    s_csv_err(&c, HDR "L1,999900043,2013-03-21,2025-09-01,300,60,QQ\n",
              "line 2, column 7 (code): unknown absence code; map it in signals.conf (codes)");
    s_csv_err(&c, HDR "L1,999900044,2013-03-21,2025-09-01,300,60,Z\n",
              "line 2, column 2 (leerling_id): not a BSN or onderwijsnummer (9 digits that pass "
              "the elfproef)");
    s_csv_err(&c, HDR "L1,999900043,2013-03-21,2025-09-01,300,60,\n",
              "line 2, column 7 (code): required when afwezig_min is more than 0");
    s_csv_err(&c, HDR "L1,\"999900043,2013-03-21,2025-09-01,300,60,Z\n",
              "line 2: malformed CSV (a quote is not closed or stray quote inside a field)");
    s_csv_err(&c, "", "the file is empty (no header line)");
}

static void test_csv_ok(void **state)
{
    static const char csv[] = "\xef\xbb\xbf"
                              "code;datum;leerling_id;leerlingnummer;geboortedatum;afwezig_min;"
                              "lestijd_min;naam\r\n"
                              "Z;2025-09-01;999900043;L1;2013-03-21;300;300;ignored\r\n"
                              "\r\n"
                              ";2025-09-02;999900043;L1;2013-03-21;0;300;\r\n";
    kt_signal_conf_t c;
    kt_signal_row_t *rows = NULL;
    size_t n = 0;
    kt_diag_t d = {{0}};

    (void)state;
    s_conf(&c, "gt");
    assert_int_equal(kt_signal_csv_parse(&rows, &n, csv, strlen(csv), &c, &d), 0);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].number, "L1");
    assert_string_equal(rows[0].datum, "2025-09-01");
    assert_int_equal(rows[0].cat, KT_CAT_ZIEK);
    assert_int_equal(rows[1].cat, KT_CAT_AANWEZIG);
    kt_signal_rows_free(rows, n);
}

/* Importing twice replaces; the database file never holds an id or number
 * in the clear; the purge removes expired rows and then the pupil. */
static void test_store(void **state)
{
    static const char csv[] = HDR "PLANT77,999900043,2013-03-21,2025-09-01,300,100,Z\n"
                                  "PLANT77,999900043,2013-03-21,2025-09-02,300,0,\n"
                                  "PLANT78,999900055,2012-11-02,2025-09-01,300,0,\n";
    char dir[] = "/tmp/kt-signal-XXXXXX", path[64];
    kt_signal_conf_t c;
    kt_signal_row_t *rows = NULL;
    kt_signal_pupil_t *p = NULL;
    kt_keys_t *k = NULL;
    kt_vault_t *v = NULL;
    kt_store_t *st = NULL;
    size_t n = 0, pupils = 0, np = 0, purged = 0;
    int64_t count = 0;
    kt_diag_t d = {{0}};
    FILE *f;
    char *buf;
    long len;

    (void)state;
    s_conf(&c, "gt");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/node.db", dir);
    assert_int_equal(kt_keys_init(), 0);
    assert_int_equal(kt_keys_generate(&k, "school-a", KT_ROLE_SCHOOL, &d), 0);
    assert_int_equal(kt_vault_new(&v, k, &d), 0);
    assert_int_equal(kt_store_open(&st, path, &d), 0);
    assert_int_equal(kt_signal_csv_parse(&rows, &n, csv, strlen(csv), &c, &d), 0);
    if (kt_signal_import(st, v, &c, rows, n, &pupils, &d) != 0)
        fail_msg("%s", d.msg);
    assert_int_equal(pupils, 2);
    assert_int_equal(kt_signal_import(st, v, &c, rows, n, &pupils, &d), 0);
    assert_int_equal(kt_signal_count(st, &count, &d), 0);
    assert_int_equal(count, 3); /* replaced, not added */
    assert_int_equal(kt_signal_pupils_load(&p, &np, st, v, &d), 0);
    assert_int_equal(np, 2);
    for (size_t i = 0; i < np; i++)
        if (strcmp(p[i].number, "PLANT77") == 0) {
            assert_string_equal(p[i].leerling_id, "999900043");
            assert_int_equal(p[i].ndays, 2);
        }
    kt_signal_pupils_free(p, np);
    kt_store_close(&st); /* the last connection's close checkpoints the WAL */
    assert_non_null(f = fopen(path, "rb"));
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    assert_non_null(buf = malloc((size_t)len));
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    assert_null(memmem(buf, (size_t)len, "999900043", 9));
    assert_null(memmem(buf, (size_t)len, "PLANT77", 7));
    assert_null(memmem(buf, (size_t)len, "2013-03-21", 10));
    free(buf);
    /* purge: retention 30 days from each row's date */
    assert_int_equal(kt_store_open(&st, path, &d), 0);
    assert_int_equal(kt_signal_purge(st, 1759363200 /* 2025-10-02 */, &purged, &d), 0);
    assert_int_equal(purged, 2); /* 2025-09-01 + 30 = 2025-10-01 < 2025-10-02 */
    assert_int_equal(kt_signal_pupils_load(&p, &np, st, v, &d), 0);
    assert_int_equal(np, 1);
    kt_signal_pupils_free(p, np);
    kt_store_close(&st);
    kt_signal_rows_free(rows, n);
    kt_vault_destroy(&v);
    kt_keys_destroy(&k);
    unlink(path);
    snprintf(path, sizeof(path), "%s/node.db-wal", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/node.db-shm", dir);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wettelijk_gt),
        cmocka_unit_test(test_wettelijk_ge),
        cmocka_unit_test(test_window_skips_holiday),
        cmocka_unit_test(test_vroeg_10u_and_te_laat),
        cmocka_unit_test(test_lt50_boundaries),
        cmocka_unit_test(test_ziek_2w_and_10d),
        cmocka_unit_test(test_ziek_counts),
        cmocka_unit_test(test_conf_errors),
        cmocka_unit_test(test_csv_errors),
        cmocka_unit_test(test_csv_ok),
        cmocka_unit_test(test_store),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
