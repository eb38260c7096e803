/*
 * test_counts.c - the totals check (the fixtures' tables come out as their
 * `expected` says, the likely excluded row is named, flows balance or not,
 * carry-over between years), the thuiszitter definitions at their
 * thresholds (> 4 weeks against >= 4 weeks, > 3 months, day 1), undecided
 * pupils and missing columns, breakdowns with explicit onbekend and
 * niet_te_koppelen, suppression, differences, and the count vector codec
 * (round trip, refusal of every non-canonical spelling, nothing of a
 * suppressed value on the wire).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keten/counts.h"

/* ---- totals check ---- */

/* nij_thuiszitters_by_soort from the fixtures */
static void test_check_nij_soort(void **state)
{
    static const char *const cols[] = {"2020-2021", "2019-2020", "2018-2019", "2017-2018",
                                       "2016-2017"};
    static const char *const rows[] = {"MBO", "PO",  "SO",
                                       "VO",  "VSO", "Geen onderwijssoort bekend"};
    static const int64_t v[] = {13, 32, 31, 33, 23, 8, 16, 16, 10, 12, 2, 3, 4, 8,  4,
                                21, 22, 41, 39, 72, 1, 11, 17, 20, 15, 1, 9, 4, 18, 3};
    static const int64_t total[] = {46, 93, 113, 110, 129};
    kt_counts_table_t t = {
        "nij_thuiszitters_by_soort", 5, 6, cols, rows, v, 1, total, 0, NULL, NULL, NULL, NULL};
    kt_counts_colcheck_t c[5];
    kt_diag_t d;

    (void)state;
    assert_int_equal(kt_counts_check(c, &t, &d), 0);
    for (int j = 0; j < 5; j++) {
        if (j == 3)
            continue;
        assert_int_equal(c[j].status, KT_CHECK_OK);
        assert_int_equal(c[j].sum, total[j]);
        assert_int_equal(c[j].nlikely, 0);
    }
    assert_int_equal(c[3].sum, 128);
    assert_int_equal(c[3].stated, 110);
    assert_int_equal(c[3].status, KT_CHECK_MISMATCH);
    assert_int_equal(c[3].diff, -18);
    assert_int_equal(c[3].nlikely, 1);
    assert_string_equal(rows[c[3].likely[0]], "Geen onderwijssoort bekend");
    assert_string_equal(kt_counts_status_name(c[3].status), "mismatch");
}

/* alphen_leerplicht_incidenten_by_soort: 2014/2015 short by the absoluut
 * verzuim row; 2015/2016 over by a bucket without a row */
static void test_check_alphen(void **state)
{
    static const char *const cols[] = {"2014/2015", "2015/2016"};
    static const char *const rows[] = {"primair", "voortgezet",       "speciaal",
                                       "MBO",     "absoluut verzuim", "vrijstellingen"};
    static const int64_t v[] = {257, 269, 503, 536, 99, 123, 24, 31, 4, 2, 24, 20};
    static const int64_t total[] = {907, 1012};
    kt_counts_table_t t = {"alphen", 2, 6, cols, rows, v, 1, total, 0, NULL, NULL, NULL, NULL};
    kt_counts_colcheck_t c[2];

    (void)state;
    assert_int_equal(kt_counts_check(c, &t, NULL), 0);
    assert_int_equal(c[0].sum, 911);
    assert_int_equal(c[0].diff, -4);
    assert_int_equal(c[0].status, KT_CHECK_MISMATCH);
    assert_int_equal(c[0].nlikely, 1);
    assert_string_equal(rows[c[0].likely[0]], "absoluut verzuim");
    assert_int_equal(c[1].sum, 981);
    assert_int_equal(c[1].diff, 31);
    assert_int_equal(c[1].nlikely, 0); /* a total that holds more names no row */
}

/* nij_thuiszitters_2020_2021_duur: -6 and no row of 6; no total at all */
static void test_check_no_row_no_total(void **state)
{
    static const char *const cols[] = {"2020-2021"};
    static const char *const rows[] = {"korter dan 4 weken", "korter dan 3 maanden",
                                       "langer dan 3 maanden"};
    static const int64_t v[] = {7, 21, 23};
    static const int64_t total[] = {45};
    kt_counts_table_t t = {"duur", 1, 3, cols, rows, v, 1, total, 0, NULL, NULL, NULL, NULL};
    kt_counts_colcheck_t c[1];
    kt_diag_t d;

    (void)state;
    assert_int_equal(kt_counts_check(c, &t, &d), 0);
    assert_int_equal(c[0].sum, 51);
    assert_int_equal(c[0].diff, -6);
    assert_int_equal(c[0].nlikely, 0);
    t.has_total = 0;
    t.total = NULL;
    assert_int_equal(kt_counts_check(c, &t, &d), 0);
    assert_int_equal(c[0].status, KT_CHECK_NO_TOTAL);
    assert_false(c[0].has_stated);
    assert_string_equal(kt_counts_status_name(c[0].status), "no_total");
    t.ncols = 0;
    assert_int_equal(kt_counts_check(c, &t, &d), KT_EINVAL);
    assert_string_equal(d.msg, "table duur: 1 to 64 columns and at most 1024 rows");
}

/* Alphen thuiszitters (DOMAIN.md §7.2 lesson 5): 2 + 6 - 6 = 2 balances,
 * 1 + 3 - 4 = 0 balances, but 2015/2016 opens at 1 after ending at 2. */
static void test_check_flows(void **state)
{
    static const char *const cols[] = {"2015/2016", "2014/2015"};
    static const char *const rows[] = {"thuiszitters"};
    static const int64_t v[] = {4, 8};
    static const int64_t begin[] = {1, 2}, in[] = {3, 6}, out[] = {4, 6}, end[] = {0, 2};
    kt_counts_table_t t = {"alphen_flows", 2, 1, cols, rows, v, 0, NULL, 1, begin, in, out, end};
    kt_counts_colcheck_t c[2];
    int64_t bad_end[] = {1, 2};

    (void)state;
    assert_int_equal(kt_counts_check(c, &t, NULL), 0);
    assert_true(c[0].has_flow && c[1].has_flow);
    assert_int_equal(c[0].flow_status, KT_CHECK_OK);
    assert_int_equal(c[0].flow_expected, 0);
    assert_int_equal(c[1].flow_status, KT_CHECK_OK);
    assert_int_equal(c[1].flow_expected, 2);
    /* carry-over: 2015/2016 begins at 1, 2014/2015 ended at 2 */
    assert_true(c[0].has_carry);
    assert_int_equal(c[0].carry_from, 1);
    assert_int_equal(c[0].carry_status, KT_CHECK_MISMATCH);
    assert_int_equal(c[0].carry_diff, -1);
    assert_false(c[1].has_carry); /* no year before 2014/2015 in the table */
    /* imbalance within a year */
    t.end = bad_end;
    assert_int_equal(kt_counts_check(c, &t, NULL), 0);
    assert_int_equal(c[0].flow_status, KT_CHECK_MISMATCH);
    assert_int_equal(c[0].flow_diff, 1);
    assert_int_equal(c[1].flow_status, KT_CHECK_OK);
    assert_int_equal(kt_counts_schooljaar("2014-2015"), 2014);
    assert_int_equal(kt_counts_schooljaar("2014/2016"), -1);
    assert_int_equal(kt_counts_schooljaar("Totaal"), -1);
}

static void test_check_overflow(void **state)
{
    static const char *const cols[] = {"x"};
    static const char *const rows[] = {"a", "b"};
    static const int64_t v[] = {INT64_MAX, 1};
    kt_counts_table_t t = {"big", 1, 2, cols, rows, v, 0, NULL, 0, NULL, NULL, NULL, NULL};
    kt_counts_colcheck_t c[1];
    kt_diag_t d;

    (void)state;
    assert_int_equal(kt_counts_check(c, &t, &d), KT_EINVAL);
    assert_string_equal(d.msg, "table big: the sum overflows");
}

/* ---- definitions ---- */

/* An enrolled, ongeoorloofd absent pupil at home from begin, every optional
 * fact known. */
static kt_registry_entry_t s_entry(const char *id, const char *begin, const char *end)
{
    kt_registry_entry_t e;

    memset(&e, 0, sizeof(e));
    snprintf(e.leerling_id, sizeof(e.leerling_id), "%s", id);
    snprintf(e.geboortedatum, sizeof(e.geboortedatum), "2010-01-01");
    snprintf(e.onderwijssoort, sizeof(e.onderwijssoort), "vo");
    snprintf(e.woongemeente, sizeof(e.woongemeente), "0268");
    snprintf(e.brin, sizeof(e.brin), "21PA00");
    snprintf(e.swv, sizeof(e.swv), "VO9901");
    e.ingeschreven = KT_REG_JA;
    e.verzuim = KT_VERZUIM_ONGEOORLOOFD;
    snprintf(e.vrijstelling, sizeof(e.vrijstelling), "geen");
    e.geschorst = KT_REG_NEE;
    snprintf(e.belastbaarheid, sizeof(e.belastbaarheid), "onbekend");
    snprintf(e.begindatum, sizeof(e.begindatum), "%s", begin);
    snprintf(e.einddatum, sizeof(e.einddatum), "%s", end ? end : "");
    e.aanwezigheid_pct = 0;
    return e;
}

static int64_t s_count(const kt_registry_entry_t *e, size_t n, const char *def, const char *period,
                       kt_counts_stats_t *st)
{
    kt_counts_set_t *s = calloc(1, sizeof(*s));
    kt_counts_query_t q = {def, period, NULL, NULL};
    kt_counts_stats_t local;
    kt_diag_t d;
    int64_t t;

    assert_non_null(s);
    assert_int_equal(kt_counts_compute(s, st ? st : &local, e, n, &q, &d), 0);
    assert_string_equal(s->key.definitie, def);
    t = kt_counts_total(s);
    free(s);
    return t;
}

/* Begin 2021-09-01: day 28 at home is 2021-09-28, day 29 is 2021-09-29. */
static void test_four_weeks_boundary(void **state)
{
    kt_registry_entry_t e = s_entry("999600011", "2021-09-01", NULL);

    (void)state;
    /* 27 days: nobody yet */
    assert_int_equal(s_count(&e, 1, "vier_weken", "2021-09-27", NULL), 0);
    assert_int_equal(s_count(&e, 1, "eerste_dag", "2021-09-27", NULL), 1);
    /* exactly 4 weeks: >= counts, > does not */
    assert_int_equal(s_count(&e, 1, "vier_weken", "2021-09-28", NULL), 1);
    assert_int_equal(s_count(&e, 1, "inspectie", "2021-09-28", NULL), 0);
    assert_int_equal(s_count(&e, 1, "breed", "2021-09-28", NULL), 0);
    /* one day more */
    assert_int_equal(s_count(&e, 1, "inspectie", "2021-09-29", NULL), 1);
    assert_int_equal(s_count(&e, 1, "langdurig_relatief", "2021-09-29", NULL), 1);
    assert_int_equal(s_count(&e, 1, "breed", "2021-09-29", NULL), 1);
    /* day 1 and before it */
    assert_int_equal(s_count(&e, 1, "eerste_dag", "2021-09-01", NULL), 1);
    assert_int_equal(s_count(&e, 1, "eerste_dag", "2021-08-31", NULL), 0);
    /* back at school on 2021-10-10 (last day at home 2021-10-09) */
    e = s_entry("999600011", "2021-09-01", "2021-10-09");
    assert_int_equal(s_count(&e, 1, "inspectie", "2021-10-09", NULL), 1);
    assert_int_equal(s_count(&e, 1, "inspectie", "2021-10-10", NULL), 0);
    /* thuiszitters_geweest: the year it happened in, not the next */
    assert_int_equal(s_count(&e, 1, "inspectie", "2021-2022", NULL), 1);
    assert_int_equal(s_count(&e, 1, "inspectie", "2020-2021", NULL), 0);
    assert_int_equal(s_count(&e, 1, "inspectie", "2022-2023", NULL), 0);
}

/* > 3 months from 2021-01-31: at home on 2021-04-30 (clamped month end). */
static void test_three_months_boundary(void **state)
{
    kt_registry_entry_t e = s_entry("999600011", "2021-01-31", NULL);

    (void)state;
    assert_int_equal(s_count(&e, 1, "drie_maanden", "2021-04-29", NULL), 0);
    assert_int_equal(s_count(&e, 1, "drie_maanden", "2021-04-30", NULL), 1);
    /* reached over the threshold in the last days of a school year */
    e = s_entry("999600011", "2021-04-30", "2021-07-31");
    assert_int_equal(s_count(&e, 1, "drie_maanden", "2020-2021", NULL), 1);
    e = s_entry("999600011", "2021-05-01", "2021-07-31");
    assert_int_equal(s_count(&e, 1, "drie_maanden", "2020-2021", NULL), 0);
}

/* Who each definition takes (DOMAIN.md §6). */
static void test_groups(void **state)
{
    kt_registry_entry_t e[6];
    kt_counts_stats_t st;

    (void)state;
    for (int i = 0; i < 6; i++)
        e[i] = s_entry("999600011", "2021-09-01", NULL);
    e[1].verzuim = KT_VERZUIM_GEOORLOOFD; /* ill but able to attend */
    snprintf(e[1].belastbaarheid, sizeof(e[1].belastbaarheid), "gedeeltelijk");
    e[2].verzuim = KT_VERZUIM_GEOORLOOFD; /* ill, not able */
    snprintf(e[2].belastbaarheid, sizeof(e[2].belastbaarheid), "niet");
    e[3].ingeschreven = KT_REG_NEE; /* absoluut verzuim */
    e[3].verzuim = KT_VERZUIM_GEEN;
    snprintf(e[4].vrijstelling, sizeof(e[4].vrijstelling), "art_5a");
    e[4].ingeschreven = KT_REG_NEE;
    e[5].geschorst = KT_REG_JA;
    e[5].aanwezigheid_pct = 40;
    assert_int_equal(s_count(e, 6, "inspectie", "2021-10-15", NULL), 2);          /* 0, 3 */
    assert_int_equal(s_count(e, 6, "langdurig_relatief", "2021-10-15", NULL), 1); /* 0 */
    assert_int_equal(s_count(e, 6, "vier_weken", "2021-10-15", NULL), 3);         /* 0, 1, 3 */
    assert_int_equal(s_count(e, 6, "breed", "2021-10-15", NULL), 6);
    assert_int_equal(s_count(e, 6, "nul_procent", "2021-10-15", NULL), 5);
    assert_int_equal(s_count(e, 6, "breed_5a", "2021-10-15", &st), 5);
    assert_int_equal(st.undecided, 1); /* geschorst: the definition does not say */
    assert_string_equal(st.undecided_reason,
                        "the definition does not say whether geschorst pupils count");
    e[0].aanwezigheid_pct = 10;
    e[3].aanwezigheid_pct = 11;
    assert_int_equal(s_count(e, 6, "negentig_procent", "2021-10-15", NULL), 1); /* 0 */
    e[0].aanwezigheid_pct = 50; /* back at 50%: nobody's thuiszitter */
    assert_int_equal(s_count(e, 6, "breed", "2021-10-15", NULL), 5);
    /* another vrijstelling: never */
    snprintf(e[1].vrijstelling, sizeof(e[1].vrijstelling), "art_5b");
    assert_int_equal(s_count(e, 6, "breed", "2021-10-15", NULL), 4);
}

static void test_undecided_and_missing(void **state)
{
    kt_registry_entry_t e[2];
    kt_counts_stats_t st;
    kt_counts_set_t *s = calloc(1, sizeof(*s));
    kt_counts_query_t q = {"vier_weken", "2021-10-15", NULL, NULL};
    kt_diag_t d;

    (void)state;
    e[0] = s_entry("999600011", "2021-09-01", NULL);
    e[1] = s_entry("999600023", "2021-09-01", NULL);
    e[1].verzuim = KT_VERZUIM_ONBEKEND;
    assert_int_equal(s_count(e, 2, "inspectie", "2021-10-15", &st), 1);
    assert_int_equal(st.undecided, 1);
    assert_string_equal(st.undecided_reason, "verzuim onbekend");
    e[1].verzuim = KT_VERZUIM_GEOORLOOFD; /* ill; able or not is onbekend */
    assert_int_equal(s_count(e, 2, "inspectie", "2021-10-15", &st), 1);
    assert_int_equal(st.undecided, 0); /* geoorloofd is out either way */
    assert_int_equal(s_count(e, 2, "vier_weken", "2021-10-15", &st), 1);
    assert_int_equal(st.undecided, 1);
    assert_string_equal(st.undecided_reason, "belastbaarheid onbekend or geen_advies");
    assert_int_equal(s_count(e, 2, "breed", "2021-10-15", &st), 2);
    e[1].aanwezigheid_pct = KT_REG_PCT_ONBEKEND;
    assert_int_equal(s_count(e, 2, "nul_procent", "2021-10-15", &st), 1);
    assert_string_equal(st.undecided_reason, "aanwezigheid_pct onbekend");
    /* a list without the column a definition needs is refused */
    e[0].belastbaarheid[0] = '\0';
    e[1].belastbaarheid[0] = '\0';
    assert_int_equal(kt_counts_compute(s, &st, e, 2, &q, &d), KT_ENOENT);
    assert_string_equal(d.msg, "definition vier_weken needs column belastbaarheid (ill but able "
                               "to attend), which this list does not have; import the list with "
                               "that column");
    e[0].aanwezigheid_pct = e[1].aanwezigheid_pct = KT_REG_PCT_ABSENT;
    q.definitie = "nul_procent";
    assert_int_equal(kt_counts_compute(s, &st, e, 2, &q, &d), KT_ENOENT);
    assert_non_null(strstr(d.msg, "column aanwezigheid_pct"));
    q.definitie = "breed"; /* needs neither */
    assert_int_equal(kt_counts_compute(s, &st, e, 2, &q, &d), 0);
    q.definitie = "smal";
    assert_int_equal(kt_counts_compute(s, &st, e, 2, &q, &d), KT_EINVAL);
    assert_non_null(strstr(d.msg, "unknown definition"));
    q.definitie = "breed";
    q.period = "2021-2023";
    assert_int_equal(kt_counts_compute(s, &st, e, 2, &q, &d), KT_EINVAL);
    q.period = "2021-10-15";
    q.by = "naam";
    assert_int_equal(kt_counts_compute(s, &st, e, 2, &q, &d), KT_EINVAL);
    free(s);
}

static const kt_counts_bucket_t *s_bucket(const kt_counts_set_t *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->b[i].name, name) == 0)
            return &s->b[i];
    return NULL;
}

static void test_breakdowns(void **state)
{
    kt_registry_entry_t e[4];
    kt_counts_set_t *s = calloc(1, sizeof(*s));
    kt_counts_query_t q = {"breed", "2021-2022", "onderwijssoort", NULL};
    kt_counts_stats_t st;
    kt_diag_t d;

    (void)state;
    for (int i = 0; i < 4; i++)
        e[i] = s_entry("999600011", "2021-09-01", NULL);
    snprintf(e[1].onderwijssoort, sizeof(e[1].onderwijssoort), "onbekend");
    snprintf(e[2].onderwijssoort, sizeof(e[2].onderwijssoort), "po");
    snprintf(e[2].brin, sizeof(e[2].brin), "geen");
    e[2].ingeschreven = KT_REG_NEE;
    snprintf(e[3].woongemeente, sizeof(e[3].woongemeente), "onbekend");
    snprintf(e[3].einddatum, sizeof(e[3].einddatum), "2022-03-01"); /* 6 months at home */
    assert_int_equal(kt_counts_compute(s, &st, e, 4, &q, &d), 0);
    assert_string_equal(s->key.eenheid, "thuiszitters_geweest");
    assert_string_equal(s->key.scope, "lijst");
    assert_string_equal(s->key.by, "onderwijssoort");
    assert_int_equal(s->n, 10); /* 8 codes, onbekend, niet_te_koppelen */
    assert_int_equal(s_bucket(s, "vo")->value, 2);
    assert_int_equal(s_bucket(s, "onbekend")->value, 1);
    assert_int_equal(s_bucket(s, "po")->value, 1);
    assert_int_equal(s_bucket(s, "sbo")->value, 0);
    assert_int_equal(s_bucket(s, "niet_te_koppelen")->value, 0);
    for (size_t i = 1; i < s->n; i++)
        assert_true(strcmp(s->b[i - 1].name, s->b[i].name) < 0);
    q.by = "brin";
    assert_int_equal(kt_counts_compute(s, &st, e, 4, &q, &d), 0);
    assert_int_equal(s_bucket(s, "21PA00")->value, 3);
    assert_int_equal(s_bucket(s, "niet_te_koppelen")->value, 1); /* no school */
    assert_int_equal(s_bucket(s, "onbekend")->value, 0);
    q.by = "woongemeente";
    q.period = "2022-01-01"; /* stand */
    assert_int_equal(kt_counts_compute(s, &st, e, 4, &q, &d), 0);
    assert_string_equal(s->key.eenheid, "thuiszitters_stand");
    assert_int_equal(s_bucket(s, "0268")->value, 3);
    assert_int_equal(s_bucket(s, "onbekend")->value, 1);
    q.by = "duur";
    assert_int_equal(kt_counts_compute(s, &st, e, 4, &q, &d), 0);
    assert_int_equal(s_bucket(s, "3_tot_6_maanden")->value, 4); /* 4 months on 2022-01-01 */
    q.period = "2021-10-15";
    assert_int_equal(kt_counts_compute(s, &st, e, 4, &q, &d), 0);
    assert_int_equal(s_bucket(s, "4_weken_tot_3_maanden")->value, 4);
    q.by = NULL;
    q.scope = "woongemeente:0268";
    assert_int_equal(kt_counts_compute(s, &st, e, 4, &q, &d), 0);
    assert_int_equal(s_bucket(s, "totaal")->value, 3);
    assert_int_equal(st.out_of_scope, 1);
    assert_string_equal(s->key.scope, "woongemeente:0268");
    q.scope = "brin:21PA";
    assert_int_equal(kt_counts_compute(s, &st, e, 4, &q, &d), 0);
    assert_int_equal(s_bucket(s, "totaal")->value, 3); /* 21PA00 is a vestiging of 21PA */
    q.scope = "school";
    assert_int_equal(kt_counts_compute(s, &st, e, 4, &q, &d), KT_EINVAL);
    free(s);
}

/* ---- suppression, differences ---- */

static void s_set(kt_counts_set_t *s, const char *def, const char *const *names,
                  const int64_t *vals, size_t n)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->key.eenheid, sizeof(s->key.eenheid), "thuiszitters_stand");
    snprintf(s->key.definitie, sizeof(s->key.definitie), "%s", def);
    snprintf(s->key.scope, sizeof(s->key.scope), "lijst");
    snprintf(s->key.period, sizeof(s->key.period), "2021-10-01");
    snprintf(s->key.by, sizeof(s->key.by), "onderwijssoort");
    for (size_t i = 0; i < n; i++) {
        snprintf(s->b[i].name, sizeof(s->b[i].name), "%s", names[i]);
        s->b[i].value = vals[i];
    }
    s->n = n;
}

static void test_suppress(void **state)
{
    static const char *const names[] = {"mbo", "niet_te_koppelen", "onbekend", "po", "vo"};
    static const int64_t vals[] = {0, 1, 4, 5, 12};
    kt_counts_set_t *s = calloc(1, sizeof(*s));

    (void)state;
    s_set(s, "breed", names, vals, 5);
    assert_int_equal(kt_counts_suppress(s, 1), 0);
    assert_int_equal(kt_counts_suppress(s, 5), 2);
    assert_false(s->b[0].suppressed); /* 0 is shown */
    assert_true(s->b[1].suppressed);
    assert_int_equal(s->b[1].value, 0);
    assert_true(s->b[2].suppressed);
    assert_false(s->b[3].suppressed); /* 5 is at the threshold */
    assert_int_equal(kt_counts_total(s), 17);
    free(s);
}

static void test_suppress_complement(void **state)
{
    static const char *const names[] = {"mbo", "niet_te_koppelen", "onbekend", "po", "vo"};
    static const int64_t one[] = {0, 3, 9, 6, 12}, two[] = {0, 1, 4, 5, 12},
                         none[] = {0, 0, 9, 0, 0};
    kt_counts_set_t *s = calloc(1, sizeof(*s));

    (void)state;
    /* one bucket hidden: the smallest other non-zero one goes too */
    s_set(s, "breed", names, one, 5);
    assert_int_equal(kt_counts_suppress(s, 5), 1); /* niet_te_koppelen 3 */
    assert_int_equal(kt_counts_suppress_complement(s), 1);
    assert_true(s->b[3].suppressed);  /* po 6, the smallest other */
    assert_false(s->b[0].suppressed); /* 0 is shown: it says nothing */
    assert_false(s->b[2].suppressed);
    assert_int_equal(kt_counts_total(s), 21);
    /* two hidden already, or none: nothing more */
    s_set(s, "breed", names, two, 5);
    assert_int_equal(kt_counts_suppress(s, 5), 2);
    assert_int_equal(kt_counts_suppress_complement(s), 0);
    s_set(s, "breed", names, none, 5);
    assert_int_equal(kt_counts_suppress(s, 5), 0);
    assert_int_equal(kt_counts_suppress_complement(s), 0);
    free(s);
}

static void test_diff(void **state)
{
    static const char *const na[] = {"onbekend", "po", "so", "vo"};
    static const int64_t va[] = {3, 7, 2, 10};
    static const char *const nb[] = {"mbo", "onbekend", "po", "vo"};
    static const int64_t vb[] = {4, 0, 9, 10};
    kt_counts_set_t *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    kt_counts_diff_t *x = calloc(1, sizeof(*x));
    kt_diag_t d;

    (void)state;
    s_set(a, "breed", na, va, 4);
    s_set(b, "breed", nb, vb, 4);
    assert_int_equal(kt_counts_suppress(b, 5), 1); /* mbo 4 */
    assert_int_equal(kt_counts_diff(x, a, b, &d), 0);
    assert_int_equal(x->n, 5);
    assert_string_equal(x->d[0].name, "mbo");
    assert_int_equal(x->d[0].a_state, KT_COUNTS_ABSENT);
    assert_int_equal(x->d[0].b_state, KT_COUNTS_SUPPRESSED);
    assert_false(x->d[0].has_diff);
    assert_string_equal(x->d[1].name, "onbekend");
    assert_int_equal(x->d[1].diff, -3);
    assert_string_equal(x->d[2].name, "po");
    assert_int_equal(x->d[2].diff, 2);
    assert_string_equal(x->d[3].name, "so"); /* only a has it */
    assert_int_equal(x->d[3].b_state, KT_COUNTS_ABSENT);
    assert_true(x->d[3].has_diff);
    assert_int_equal(x->d[3].diff, -2);
    assert_string_equal(x->d[4].name, "vo");
    assert_int_equal(x->d[4].diff, 0);
    assert_int_equal(x->differ, 4);
    /* different keys: side by side, never subtracted */
    s_set(b, "inspectie", nb, vb, 4);
    assert_int_equal(kt_counts_diff(x, a, b, &d), KT_EINVAL);
    assert_string_equal(d.msg, "the counts have different keys (definitie): show them side by "
                               "side, do not subtract them");
    free(a);
    free(b);
    free(x);
}

/* ---- the count vector ---- */

static const uint8_t s_vector[] = {
    0xa2, 0x63, 'k', 'e',  'y',  0xa5, 0x62, 'b',  'y',  0x62, 'p', 'o',  0x65, 's',
    'c',  'o',  'p', 'e',  0x61, 'x',  0x66, 'p',  'e',  'r',  'i', 'o',  'd',  0x61,
    'y',  0x67, 'e', 'e',  'n',  'h',  'e',  'i',  'd',  0x61, 'u', 0x69, 'd',  'e',
    'f',  'i',  'n', 'i',  't',  'i',  'e',  0x61, 'd',  0x67, 'b', 'u',  'c',  'k',
    'e',  't',  's', 0x82, 0x82, 0x61, 'a',  0x05, 0x82, 0x61, 'b', 0xf6,
};

static void test_wire_known_answer(void **state)
{
    kt_counts_set_t *s = calloc(1, sizeof(*s));
    uint8_t *buf = NULL;
    size_t len = 0;
    kt_diag_t d;

    (void)state;
    assert_int_equal(kt_counts_decode(s, s_vector, sizeof(s_vector), &d), 0);
    assert_string_equal(s->key.by, "po");
    assert_string_equal(s->key.definitie, "d");
    assert_int_equal(s->n, 2);
    assert_int_equal(s->b[0].value, 5);
    assert_true(s->b[1].suppressed);
    assert_int_equal(kt_counts_encode(&buf, &len, s, &d), 0);
    assert_int_equal(len, sizeof(s_vector));
    assert_memory_equal(buf, s_vector, len);
    kt_counts_free_bytes(buf);
    free(s);
}

static void s_refused(const uint8_t *buf, size_t len, int code)
{
    kt_counts_set_t *s = calloc(1, sizeof(*s));
    kt_diag_t d;

    assert_int_equal(kt_counts_decode(s, buf, len, &d), code);
    assert_int_equal(s->n, 0);
    free(s);
}

static void test_wire_refuses(void **state)
{
    uint8_t b[sizeof(s_vector) + 8];
    size_t n = sizeof(s_vector);

    (void)state;
    /* trailing byte */
    memcpy(b, s_vector, n);
    b[n] = 0x00;
    s_refused(b, n + 1, KT_EMALFORMED);
    /* truncated */
    s_refused(s_vector, n - 1, KT_EMALFORMED);
    /* 5 spelt in two bytes (0x18 0x05): not the shortest form */
    memcpy(b, s_vector, n - 5);
    b[n - 5] = 0x18;
    b[n - 4] = 0x05;
    memcpy(b + n - 3, s_vector + n - 4, 4);
    s_refused(b, n + 1, KT_EMALFORMED);
    /* buckets out of order: "b" before "a" */
    memcpy(b, s_vector, n);
    b[n - 6] = 'b';
    b[n - 2] = 'a';
    s_refused(b, n, KT_EMALFORMED);
    /* the same bucket twice */
    b[n - 6] = 'a';
    s_refused(b, n, KT_EMALFORMED);
    /* a negative value */
    memcpy(b, s_vector, n);
    b[n - 5] = 0x25;
    s_refused(b, n, KT_EMALFORMED);
    /* key "by" spelt "bz" */
    memcpy(b, s_vector, n);
    b[8] = 'z';
    s_refused(b, n, KT_EMALFORMED);
    /* an indefinite-length buckets array */
    memcpy(b, s_vector, n);
    b[59] = 0x9f;
    memcpy(b + n, "\xff", 1);
    s_refused(b, n + 1, KT_EMALFORMED);
    /* a float instead of a value */
    memcpy(b, s_vector, n);
    b[n - 5] = 0xf9;
    s_refused(b, n, KT_EMALFORMED);
    /* too big */
    s_refused(s_vector, KT_COUNTS_WIRE_MAX_BYTES + 1, KT_ETOOBIG);
}

static void test_wire_round_trip(void **state)
{
    kt_registry_entry_t e[3];
    kt_counts_set_t *s = calloc(1, sizeof(*s)), *r = calloc(1, sizeof(*r));
    kt_counts_query_t q = {"breed", "2021-10-15", "onderwijssoort", NULL};
    kt_counts_stats_t st;
    uint8_t *buf = NULL;
    size_t len = 0;
    kt_diag_t d;

    (void)state;
    for (int i = 0; i < 3; i++)
        e[i] = s_entry("999600011", "2021-09-01", NULL);
    snprintf(e[2].onderwijssoort, sizeof(e[2].onderwijssoort), "po");
    assert_int_equal(kt_counts_compute(s, &st, e, 3, &q, &d), 0);
    assert_int_equal(kt_counts_suppress(s, 2), 1); /* po = 1 */
    assert_int_equal(kt_counts_encode(&buf, &len, s, &d), 0);
    assert_int_equal(kt_counts_decode(r, buf, len, &d), 0);
    assert_memory_equal(&r->key, &s->key, sizeof(s->key));
    assert_int_equal(r->n, s->n);
    for (size_t i = 0; i < s->n; i++) {
        assert_string_equal(r->b[i].name, s->b[i].name);
        assert_int_equal(r->b[i].value, s->b[i].value);
        assert_int_equal(r->b[i].suppressed, s->b[i].suppressed);
    }
    assert_true(s_bucket(r, "po")->suppressed);
    assert_int_equal(s_bucket(r, "vo")->value, 2);
    /* a flipped byte never decodes to something else silently */
    for (size_t i = 0; i < len; i++) {
        kt_counts_set_t *t = calloc(1, sizeof(*t));

        buf[i] ^= 0x01;
        if (kt_counts_decode(t, buf, len, &d) == 0)
            assert_memory_not_equal(t, r, sizeof(*t));
        buf[i] ^= 0x01;
        free(t);
    }
    kt_counts_free_bytes(buf);
    /* encoding refuses what it could not decode */
    s->b[0].suppressed = 1;
    s->b[0].value = 3;
    assert_int_equal(kt_counts_encode(&buf, &len, s, &d), KT_EINVAL);
    s->b[0].suppressed = 0;
    snprintf(s->b[1].name, sizeof(s->b[1].name), "%s", s->b[0].name);
    assert_int_equal(kt_counts_encode(&buf, &len, s, &d), KT_EINVAL);
    assert_string_equal(d.msg, "counts: buckets must be sorted by name, each once");
    free(s);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_nij_soort),
        cmocka_unit_test(test_check_alphen),
        cmocka_unit_test(test_check_no_row_no_total),
        cmocka_unit_test(test_check_flows),
        cmocka_unit_test(test_check_overflow),
        cmocka_unit_test(test_four_weeks_boundary),
        cmocka_unit_test(test_three_months_boundary),
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_undecided_and_missing),
        cmocka_unit_test(test_breakdowns),
        cmocka_unit_test(test_suppress),
        cmocka_unit_test(test_suppress_complement),
        cmocka_unit_test(test_diff),
        cmocka_unit_test(test_wire_known_answer),
        cmocka_unit_test(test_wire_refuses),
        cmocka_unit_test(test_wire_round_trip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
