/*
 * test_registry.c - imported lists: the CSV parser (every column checked,
 * errors naming line and column and never a value, duplicates naming both
 * lines), import and atomic replacement (an injected failure half-way
 * leaves the old list whole), reading back decrypted, retention purge with
 * the pupils' keys forgotten afterwards, crypto-shredding (a forgotten key
 * makes its entries unreadable, the rest stay readable), and no BSN in the
 * stored rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keten/registry.h"
#include "keten/subject.h"
#include "keten/vault.h"

#define HDR                                                                                        \
    "leerling_id,geboortedatum,onderwijssoort,woongemeente,brin,ingeschreven,verzuim,begindatum,"  \
    "einddatum\n"
/* synthetic BSNs that pass the elfproef */
#define B1 "999600011"
#define B2 "999600023"
#define B3 "999600035"
#define ONR "101234564" /* an onderwijsnummer */

struct fx {
    kt_keys_t *k;
    kt_vault_t *v;
    kt_store_t *st;
};

static int s_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    kt_diag_t d;

    if (f == NULL || kt_keys_init() != 0 ||
        kt_keys_generate(&f->k, "swv-a", KT_ROLE_SWV, &d) != 0 ||
        kt_vault_new(&f->v, f->k, &d) != 0 || kt_store_open_memory(&f->st, &d) != 0)
        return -1;
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    struct fx *f = *state;

    kt_store_close(&f->st);
    kt_vault_destroy(&f->v);
    kt_keys_destroy(&f->k);
    free(f);
    return 0;
}

static int s_parse(kt_registry_entry_t **e, size_t *n, const char *csv, kt_diag_t *d)
{
    memset(d, 0, sizeof(*d));
    return kt_registry_csv_parse(e, n, csv, strlen(csv), d);
}

/* The error message for csv, which must be refused as malformed. */
static const char *s_err(const char *csv)
{
    static kt_diag_t d;
    kt_registry_entry_t *e = NULL;
    size_t n = 99;

    assert_int_equal(s_parse(&e, &n, csv, &d), KT_EMALFORMED);
    assert_null(e);
    assert_int_equal(n, 0);
    assert_null(strstr(d.msg, B1)); /* never a value */
    return d.msg;
}

static void test_parse_ok(void **state)
{
    kt_registry_entry_t *e = NULL;
    size_t n = 0;
    kt_diag_t d;

    (void)state;
    assert_int_equal(s_parse(&e, &n,
                             "\xef\xbb\xbf" HDR B1 ",2010-03-01,vo,0268,21PA00,ja,ongeoorloofd,"
                             "2021-09-01,\r\n" ONR ",2011-04-02,onbekend,onbekend,geen,nee,geen,"
                             "2021-10-01,2021-12-01\n\n",
                             &d),
                     0);
    assert_int_equal(n, 2);
    assert_string_equal(e[0].leerling_id, B1);
    assert_string_equal(e[0].brin, "21PA00");
    assert_int_equal(e[0].ingeschreven, KT_REG_JA);
    assert_int_equal(e[0].verzuim, KT_VERZUIM_ONGEOORLOOFD);
    assert_string_equal(e[0].einddatum, "");
    /* optional columns absent */
    assert_int_equal(e[0].geschorst, KT_REG_ABSENT);
    assert_int_equal(e[0].aanwezigheid_pct, KT_REG_PCT_ABSENT);
    assert_string_equal(e[0].vrijstelling, "");
    assert_string_equal(e[1].leerling_id, ONR);
    assert_string_equal(e[1].onderwijssoort, "onbekend");
    assert_int_equal(e[1].ingeschreven, KT_REG_NEE);
    kt_registry_entries_free(e, n);

    /* semicolons, optional columns in any order */
    assert_int_equal(s_parse(&e, &n,
                             "aanwezigheid_pct;brin;leerling_id;geboortedatum;onderwijssoort;"
                             "woongemeente;ingeschreven;verzuim;begindatum;einddatum;geschorst;"
                             "vrijstelling;belastbaarheid;swv\n"
                             "onbekend;21PA;" B1 ";2010-03-01;po;0268;ja;geoorloofd;2021-09-01;;"
                             "onbekend;art_5a;gedeeltelijk;PO2506\n",
                             &d),
                     0);
    assert_int_equal(n, 1);
    assert_int_equal(e[0].aanwezigheid_pct, KT_REG_PCT_ONBEKEND);
    assert_int_equal(e[0].geschorst, KT_REG_ONBEKEND);
    assert_string_equal(e[0].vrijstelling, "art_5a");
    assert_string_equal(e[0].belastbaarheid, "gedeeltelijk");
    assert_string_equal(e[0].swv, "PO2506");
    kt_registry_entries_free(e, n);

    /* a header only: an empty list */
    assert_int_equal(s_parse(&e, &n, HDR, &d), 0);
    assert_int_equal(n, 0);
    kt_registry_entries_free(e, n);
}

static void test_parse_errors(void **state)
{
    (void)state;
    assert_string_equal(s_err(HDR "999600012,2010-03-01,vo,0268,21PA00,ja,ongeoorloofd,"
                                  "2021-09-01,\n"),
                        "line 2, column 1 (leerling_id): not a BSN or onderwijsnummer (9 digits "
                        "that pass the elfproef)");
    assert_string_equal(s_err(HDR B1 ",2010-03-01,vo,0268,21PA00,ja,ongeoorloofd,2021-09-01,\n" B2
                                     ",2010-02-30,vo,0268,21PA00,ja,ongeoorloofd,2021-09-01,\n"),
                        "line 3, column 2 (geboortedatum): not a date (YYYY-MM-DD)");
    assert_string_equal(s_err(HDR B1 ",2010-03-01,havo,0268,21PA00,ja,ongeoorloofd,2021-09-01,\n"),
                        "line 2, column 3 (onderwijssoort): not an onderwijssoort (po, sbo, so, "
                        "vo, vso, pro, mbo, geen_onderwijs, onbekend)");
    assert_string_equal(s_err(HDR B1 ",2010-03-01,vo,268,21PA00,ja,ongeoorloofd,2021-09-01,\n"),
                        "line 2, column 4 (woongemeente): not a CBS gemeentecode (4 digits) or "
                        "onbekend");
    assert_string_equal(s_err(HDR B1 ",2010-03-01,vo,0268,21pa,ja,ongeoorloofd,2021-09-01,\n"),
                        "line 2, column 5 (brin): not a BRIN code (2 digits + 2 letters or "
                        "digits, optionally + a 2-digit vestiging), geen or onbekend");
    assert_string_equal(s_err(HDR B1 ",2010-03-01,vo,0268,21PA,true,ongeoorloofd,2021-09-01,\n"),
                        "line 2, column 6 (ingeschreven): must be ja, nee or onbekend");
    assert_string_equal(s_err(HDR B1 ",2010-03-01,vo,0268,21PA,ja,ziek,2021-09-01,\n"),
                        "line 2, column 7 (verzuim): must be ongeoorloofd, geoorloofd, geen or "
                        "onbekend");
    assert_string_equal(s_err(HDR B1 ",2010-03-01,vo,0268,21PA,ja,geen,2021-09-01,2021-08-31\n"),
                        "line 2, column 9 (einddatum): before begindatum");
    assert_string_equal(s_err(HDR B1 ",2010-03-01,vo,0268,21PA,ja,geen,2021-09-01\n"),
                        "line 2, column 9 (einddatum): missing (the line has 8 fields)");
    assert_string_equal(
        s_err("leerling_id,geboortedatum,onderwijssoort,woongemeente,brin,ingeschreven,verzuim,"
              "begindatum,einddatum,aanwezigheid_pct\n" B1
              ",2010-03-01,vo,0268,21PA,ja,geen,2021-09-01,,101\n"),
        "line 2, column 10 (aanwezigheid_pct): not a whole percentage 0 to 100, or onbekend");
    assert_string_equal(s_err("leerling_id,naam\n"),
                        "line 1, column 2: not a column of a registry list (see "
                        "docs/reconcile.md)");
    assert_string_equal(s_err("leerling_id,geboortedatum\n"),
                        "line 1: missing column 'onderwijssoort' (required: leerling_id, "
                        "geboortedatum, onderwijssoort, woongemeente, brin, ingeschreven, "
                        "verzuim, begindatum, einddatum)");
    assert_string_equal(s_err(HDR "\"" B1 ",2010\n"),
                        "line 2: malformed CSV (a quote is not closed or a stray quote inside a "
                        "field)");
    assert_string_equal(s_err(""), "the file is empty (no header line)");
}

static void test_duplicates(void **state)
{
    (void)state;
    assert_string_equal(s_err(HDR B1 ",2010-03-01,vo,0268,21PA,ja,geen,2021-09-01,\n" B2
                                     ",2010-03-01,vo,0268,21PA,ja,geen,2021-09-01,\n" B3
                                     ",2010-03-01,vo,0268,21PA,ja,geen,2021-09-01,\n" B2
                                     ",2011-03-01,po,0268,21PA,ja,geen,2021-09-01,\n"),
                        "lines 3 and 5, column 1 (leerling_id): the same pupil twice; a list "
                        "holds each pupil once");
}

static const char s_list3[] = HDR B1 ",2010-03-01,vo,0268,21PA,ja,ongeoorloofd,2021-09-01,\n" B2
                                     ",2010-03-01,po,0268,21PA,ja,geoorloofd,2021-09-01,\n" B3
                                     ",2010-03-01,so,onbekend,geen,nee,geen,2021-09-01,\n";

static void s_import(struct fx *f, const char *name, const char *csv, const char *today, int days,
                     int expect)
{
    kt_registry_entry_t *e = NULL;
    kt_registry_info_t info;
    size_t n = 0;
    kt_diag_t d;

    assert_int_equal(s_parse(&e, &n, csv, &d), 0);
    assert_int_equal(kt_registry_import(f->st, f->v, name, e, n, today, days, 1000, "uid:0", &info,
                                        &d),
                     expect);
    if (expect == 0) {
        assert_string_equal(info.name, name);
        assert_int_equal(info.rows, (int64_t)n);
    }
    kt_registry_entries_free(e, n);
}

struct seen {
    char ids[8][KT_LEERLING_ID_BYTES + 1];
    size_t n;
};

static int s_seen(void *ctx, const kt_registry_entry_t *e)
{
    struct seen *s = ctx;

    assert_true(s->n < 8);
    memcpy(s->ids[s->n++], e->leerling_id, KT_LEERLING_ID_BYTES + 1);
    return 0;
}

static int s_has(const struct seen *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->ids[i], id) == 0)
            return 1;
    return 0;
}

static int64_t s_count(struct fx *f, const char *sql)
{
    kt_stmt_t *q = NULL;
    int64_t n;

    assert_int_equal(kt_store_prepare(f->st, &q, sql, NULL), 0);
    assert_int_equal(kt_stmt_step(q, NULL), KT_STORE_ROW);
    n = kt_stmt_column_int64(q, 0);
    kt_stmt_finalize(&q);
    return n;
}

static void test_import_replace(void **state)
{
    struct fx *f = *state;
    struct seen s = {.n = 0};
    kt_registry_info_t info;
    size_t bad = 9, n = 0;
    kt_stmt_t *q = NULL;
    kt_diag_t d;

    s_import(f, "swv", s_list3, "2021-10-01", 90, 0);
    assert_int_equal(kt_registry_info(&info, f->st, "swv", &d), 0);
    assert_int_equal(info.rows, 3);
    assert_string_equal(info.expires, "2021-12-30");
    assert_int_equal(kt_registry_foreach(f->st, f->v, "swv", s_seen, &s, &bad, &d), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(bad, 0);
    assert_true(s_has(&s, B1) && s_has(&s, B2) && s_has(&s, B3));

    /* stored locked: no BSN in any payload or subject */
    assert_int_equal(kt_store_prepare(f->st, &q, "SELECT subject, payload FROM registry_entry", &d),
                     0);
    while (kt_stmt_step(q, NULL) == KT_STORE_ROW) {
        for (int c = 0; c < 2; c++) {
            const void *p = kt_stmt_column_blob(q, c);
            size_t len = kt_stmt_column_bytes(q, c);

            assert_null(memmem(p, len, B1, 9));
            assert_null(memmem(p, len, B2, 9));
            assert_null(memmem(p, len, "2010-03-01", 10));
        }
        n++;
    }
    kt_stmt_finalize(&q);
    assert_int_equal(n, 3);

    /* the same content imported again: the same digest */
    s_import(f, "swv", s_list3, "2021-10-01", 90, 0);
    {
        kt_registry_info_t again;

        assert_int_equal(kt_registry_info(&again, f->st, "swv", &d), 0);
        assert_memory_equal(again.digest, info.digest, KT_REGISTRY_DIGEST_BYTES);
    }

    /* replaced whole: B3 gone, B1 kept, nothing added up */
    s_import(f, "swv", HDR B1 ",2010-03-01,vo,0268,21PA,ja,ongeoorloofd,2021-09-01,\n", "2021-10-02",
             30, 0);
    s.n = 0;
    assert_int_equal(kt_registry_foreach(f->st, f->v, "swv", s_seen, &s, &bad, &d), 0);
    assert_int_equal(s.n, 1);
    assert_true(s_has(&s, B1));
    assert_int_equal(s_count(f, "SELECT count(*) FROM registry_entry"), 1);

    /* a second list is independent; the same pupil may be on both */
    s_import(f, "gemeente", s_list3, "2021-10-01", 90, 0);
    assert_int_equal(s_count(f, "SELECT count(*) FROM registry_entry"), 4);
    {
        kt_registry_info_t *v = NULL;

        assert_int_equal(kt_registry_lists(&v, &n, f->st, &d), 0);
        assert_int_equal(n, 2);
        assert_string_equal(v[0].name, "gemeente");
        assert_string_equal(v[1].name, "swv");
        free(v);
    }
    assert_int_equal(kt_registry_info(&info, f->st, "nope", &d), KT_ENOENT);
    assert_string_equal(d.msg, "no list 'nope' (import it with: ketenctl registry import --list "
                               "nope FILE)");
    assert_int_equal(kt_registry_foreach(f->st, f->v, "nope", s_seen, &s, &bad, &d), KT_ENOENT);
    /* bad names and retention */
    {
        kt_registry_entry_t *e = NULL;

        assert_int_equal(s_parse(&e, &n, s_list3, &d), 0);
        assert_int_equal(kt_registry_import(f->st, f->v, "Bad Name", e, n, "2021-10-01", 90, 0,
                                            NULL, NULL, &d),
                         KT_EINVAL);
        assert_int_equal(kt_registry_import(f->st, f->v, "x", e, n, "2021-10-01", 0, 0, NULL, NULL,
                                            &d),
                         KT_EINVAL);
        assert_int_equal(kt_registry_import(f->st, f->v, "x", e, n, "2021-10-01",
                                            KT_REGISTRY_RETENTION_MAX + 1, 0, NULL, NULL, &d),
                         KT_EINVAL);
        kt_registry_entries_free(e, n);
    }
}

/* SQLite's culture: fail half-way on purpose and prove nothing changed. */
static void test_import_atomic(void **state)
{
    struct fx *f = *state;
    struct seen s = {.n = 0};
    size_t bad = 0;
    kt_diag_t d;

    s_import(f, "swv", HDR B1 ",2010-03-01,vo,0268,21PA,ja,ongeoorloofd,2021-09-01,\n", "2021-10-01",
             90, 0);
    assert_int_equal(kt_store_exec(f->st,
                                   "CREATE TEMP TRIGGER fail_third BEFORE INSERT ON registry_entry"
                                   " WHEN (SELECT count(*) FROM registry_entry WHERE list = 'swv')"
                                   " >= 2 BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
                                   &d),
                     0);
    s_import(f, "swv", s_list3, "2021-10-01", 90, KT_EIO);
    assert_false(kt_store_in_transaction(f->st));
    assert_int_equal(kt_store_exec(f->st, "DROP TRIGGER fail_third", &d), 0);
    assert_int_equal(kt_registry_foreach(f->st, f->v, "swv", s_seen, &s, &bad, &d), 0);
    assert_int_equal(s.n, 1); /* the old list, whole */
    assert_true(s_has(&s, B1));
    assert_int_equal(s_count(f, "SELECT rows FROM registry_list WHERE name = 'swv'"), 1);
    /* no audit entry for the import that did not happen */
    assert_int_equal(s_count(f, "SELECT count(*) FROM audit WHERE action = 'registry_imported'"),
                     1);
}

static void test_purge(void **state)
{
    struct fx *f = *state;
    kt_registry_info_t info;
    size_t n = 9;
    kt_diag_t d;

    s_import(f, "old", s_list3, "2020-01-01", 10, 0);
    s_import(f, "new", HDR B1 ",2010-03-01,vo,0268,21PA,ja,ongeoorloofd,2021-09-01,\n", "2020-01-05",
             10, 0);
    assert_int_equal(kt_registry_info(&info, f->st, "old", &d), 0);
    assert_string_equal(info.expires, "2020-01-11");
    /* keys of pupils on a list are kept */
    assert_int_equal(kt_store_begin(f->st, &d), 0);
    assert_int_equal(kt_subject_forget_unused(f->st, &n, &d), 0);
    assert_int_equal(n, 0);
    assert_int_equal(kt_registry_purge(f->st, "2020-01-10", &n, &d), 0);
    assert_int_equal(n, 0);
    assert_int_equal(kt_registry_purge(f->st, "2020-01-11", &n, &d), 0);
    assert_int_equal(n, 1);
    assert_int_equal(kt_subject_forget_unused(f->st, &n, &d), 0);
    assert_int_equal(n, 2); /* B2 and B3; B1 is still on "new" */
    assert_int_equal(kt_store_commit(f->st, &d), 0);
    assert_int_equal(kt_registry_info(&info, f->st, "old", &d), KT_ENOENT);
    assert_int_equal(kt_registry_info(&info, f->st, "new", &d), 0);
    assert_int_equal(s_count(f, "SELECT count(*) FROM registry_entry"), 1);
    assert_int_equal(kt_store_begin(f->st, &d), 0);
    assert_int_equal(kt_registry_purge(f->st, "2020-01-15", &n, &d), 0);
    assert_int_equal(n, 1);
    assert_int_equal(kt_subject_forget_unused(f->st, &n, &d), 0);
    assert_int_equal(n, 1);
    assert_int_equal(kt_store_commit(f->st, &d), 0);
    assert_int_equal(s_count(f, "SELECT count(*) FROM registry_entry"), 0);
    assert_int_equal(s_count(f, "SELECT count(*) FROM subject_keys"), 0);
    assert_int_equal(kt_registry_purge(f->st, "15-01-2020", &n, &d), KT_EINVAL);
}

static void test_crypto_shredding(void **state)
{
    struct fx *f = *state;
    struct seen s = {.n = 0};
    uint8_t sub[KT_SUBJECT_BYTES];
    kt_registry_id_t *ids = NULL;
    kt_stmt_t *q = NULL;
    size_t bad = 0, n = 0;
    kt_diag_t d;

    s_import(f, "swv", s_list3, "2021-10-01", 90, 0);
    /* B2's key is deleted (as forgetting does; the foreign key is lifted
     * only to reach that state while the row remains) */
    assert_int_equal(kt_vault_subject(sub, f->v, B2, &d), 0);
    assert_int_equal(kt_store_exec(f->st, "PRAGMA foreign_keys = OFF", &d), 0);
    assert_int_equal(kt_store_prepare(f->st, &q, "DELETE FROM subject_keys WHERE subject = ?", &d),
                     0);
    assert_int_equal(kt_stmt_bind_blob(q, 1, sub, sizeof(sub)), 0);
    assert_int_equal(kt_stmt_step(q, &d), KT_STORE_DONE);
    kt_stmt_finalize(&q);
    assert_int_equal(kt_store_exec(f->st, "PRAGMA foreign_keys = ON", &d), 0);
    assert_int_equal(s_count(f, "SELECT count(*) FROM registry_entry"), 3); /* the row is there */
    assert_int_equal(kt_registry_foreach(f->st, f->v, "swv", s_seen, &s, &bad, &d), 0);
    assert_int_equal(bad, 1);
    assert_int_equal(s.n, 2);
    assert_false(s_has(&s, B2));
    assert_int_equal(kt_registry_ids(&ids, &n, f->st, f->v, "swv", &bad, &d), 0);
    assert_int_equal(n, 2);
    assert_int_equal(bad, 1);
    assert_true(strcmp(ids[0], B2) != 0 && strcmp(ids[1], B2) != 0);
    kt_registry_ids_free(ids, n);
}

/* A row moved to another list does not open (the list is associated data). */
static void test_row_bound_to_list(void **state)
{
    struct fx *f = *state;
    struct seen s = {.n = 0};
    size_t bad = 0;
    kt_diag_t d;

    s_import(f, "a", s_list3, "2021-10-01", 90, 0);
    s_import(f, "b", HDR B1 ",2010-03-01,vo,0268,21PA,ja,ongeoorloofd,2021-09-01,\n", "2021-10-01",
             90, 0);
    assert_int_equal(kt_store_exec(f->st,
                                   "UPDATE registry_entry SET payload = (SELECT payload FROM "
                                   "registry_entry e WHERE e.list = 'a' AND e.subject = "
                                   "registry_entry.subject) WHERE list = 'b'",
                                   &d),
                     0);
    assert_int_equal(kt_registry_foreach(f->st, f->v, "b", s_seen, &s, &bad, &d), KT_EAUTH);
}

static void test_dates(void **state)
{
    int64_t a, b;
    char out[KT_REGISTRY_DATE_BYTES];

    (void)state;
    assert_int_equal(kt_registry_date_days("1970-01-01", &a), 0);
    assert_int_equal(a, 0);
    assert_int_equal(kt_registry_date_days("2024-02-29", &a), 0);
    assert_int_equal(kt_registry_date_days("2023-02-29", &b), KT_EINVAL);
    assert_int_equal(kt_registry_date_days("2023-2-28", &b), KT_EINVAL);
    kt_registry_days_date(out, a + 1);
    assert_string_equal(out, "2024-03-01");
    assert_int_equal(kt_registry_date_days("2021-01-31", &a), 0);
    kt_registry_days_date(out, kt_registry_add_months(a, 1));
    assert_string_equal(out, "2021-02-28");
    kt_registry_days_date(out, kt_registry_add_months(a, 3));
    assert_string_equal(out, "2021-04-30");
    kt_registry_days_date(out, kt_registry_add_months(a, 12));
    assert_string_equal(out, "2022-01-31");
    assert_true(kt_registry_name_valid("swv-vo_9901"));
    assert_false(kt_registry_name_valid("SWV"));
    assert_false(kt_registry_name_valid(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ok),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_dates),
        cmocka_unit_test_setup_teardown(test_import_replace, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_import_atomic, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_purge, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_crypto_shredding, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_row_bound_to_list, s_setup, s_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
