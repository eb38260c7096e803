/*
 * test_consent.c - the consent registry on a memory store: every grant
 * error with its message, the refusal without informed parents, the exact
 * validity window, what does not count (another doel, recipient or type, a
 * withdrawn consent, a niet_akkoord, a giver the rule does not accept),
 * withdrawal errors, expiry reported once, listing by subject, and the pure
 * date and set rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keten/consent.h"
#include "keten/policy.h"
#include "keten/subject.h"

/* kt_policy_consent_by's set is passed to the gate unchanged. */
_Static_assert(KT_CONSENT_BY_OUDERS == KT_GEGEVEN_OUDERS, "giver bits");
_Static_assert(KT_CONSENT_BY_LEERLING == KT_GEGEVEN_LEERLING, "giver bits");
_Static_assert(KT_CONSENT_BY_BOTH == KT_GEGEVEN_OUDERS_EN_LEERLING, "giver bits");

static const char *const s_types2[] = {"thuiszitter", "geoorloofd_verzuim"};

struct fx {
    kt_keys_t *k;
    kt_vault_t *v;
    kt_store_t *st;
    uint8_t pupil[KT_SUBJECT_BYTES], other[KT_SUBJECT_BYTES];
};

static int s_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    kt_diag_t d;

    if (f == NULL || kt_keys_init() != 0 ||
        kt_keys_generate(&f->k, "school-a", KT_ROLE_SCHOOL, &d) != 0 ||
        kt_vault_new(&f->v, f->k, &d) != 0 || kt_store_open_memory(&f->st, &d) != 0 ||
        kt_vault_subject(f->pupil, f->v, "111222333", &d) != 0 ||
        kt_vault_subject(f->other, f->v, "123456782", &d) != 0)
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

static kt_consent_grant_t s_grant(const struct fx *f)
{
    kt_consent_grant_t g = {.recipient = "gemeente-a",
                            .doel = "melding_geoorloofd",
                            .types = s_types2,
                            .ntypes = 2,
                            .door = "ouders",
                            .informed = 1,
                            .evidence = "FORM-2026/017",
                            .gegeven_op = "2026-01-05",
                            .geldig_tot = "2026-07-31"};

    memcpy(g.subject, f->pupil, KT_SUBJECT_BYTES);
    return g;
}

static int s_do_grant(struct fx *f, const kt_consent_grant_t *g, uint8_t id[16], kt_diag_t *d)
{
    int rc;

    assert_int_equal(kt_store_begin(f->st, d), 0);
    rc = kt_consent_grant(id, f->st, f->v, g, d);
    if (rc == 0)
        assert_int_equal(kt_store_commit(f->st, d), 0);
    else
        kt_store_rollback(f->st);
    return rc;
}

static int s_count(struct fx *f)
{
    kt_consent_t *rows = NULL;
    size_t n = 0;
    kt_diag_t d;

    assert_int_equal(kt_consent_list(f->st, NULL, &rows, &n, &d), 0);
    free(rows);
    return (int)n;
}

/* One bad field: the exact message, and nothing stored. */
static void s_refused(struct fx *f, const kt_consent_grant_t *g, int code, const char *msg)
{
    uint8_t id[16];
    kt_diag_t d;

    assert_int_equal(s_do_grant(f, g, id, &d), code);
    assert_string_equal(d.msg, msg);
    assert_int_equal(s_count(f), 0);
}

static void test_grant_validation(void **state)
{
    struct fx *f = *state;
    static const char *const unknown[] = {"geoorloofd_verzuim", "medisch_dossier"};
    static const char *const twice[] = {"thuiszitter", "thuiszitter"};
    kt_consent_grant_t g;

    g = s_grant(f);
    g.informed = 0;
    s_refused(f, &g, KT_EINVAL,
              "refused: the parents must be informed before a consent is recorded (privacy rule "
              "3, 'parents informed first'); inform them, then record the consent");
    g = s_grant(f);
    g.informed = 0;
    g.decision = "niet_akkoord"; /* a refusal is recorded only after informing, too */
    s_refused(f, &g, KT_EINVAL,
              "refused: the parents must be informed before a consent is recorded (privacy rule "
              "3, 'parents informed first'); inform them, then record the consent");
    g = s_grant(f);
    g.recipient = "Gemeente A";
    s_refused(f, &g, KT_EINVAL, "to: not a node id (1 to 64 of a-z, 0-9 and -)");
    g = s_grant(f);
    g.doel = "onderzoek";
    s_refused(f, &g, KT_EINVAL,
              "doel: not a consent purpose (one of melding_geoorloofd, zorgoverleg, "
              "contact_hulpverlening, terugkoppeling_school, overleg_vrijstelling, "
              "lijstvergelijking)");
    g = s_grant(f);
    g.ntypes = 0;
    s_refused(f, &g, KT_EINVAL, "types: name at least one record type");
    g = s_grant(f);
    g.types = unknown;
    s_refused(f, &g, KT_EINVAL,
              "types: item 2 is not a record type (geoorloofd_verzuim, thuiszitter, "
              "verzuimmelding, vrijstelling)");
    g = s_grant(f);
    g.types = twice;
    s_refused(f, &g, KT_EINVAL, "types: thuiszitter is named twice");
    g = s_grant(f);
    g.door = "school";
    s_refused(f, &g, KT_EINVAL, "door: who gave it is ouders, leerling or ouders_en_leerling");
    g = s_grant(f);
    g.decision = "misschien";
    s_refused(f, &g, KT_EINVAL, "decision: akkoord or niet_akkoord");
    g = s_grant(f);
    g.evidence = "formulier getekend door moeder";
    s_refused(f, &g, KT_EINVAL,
              "evidence: a reference such as a form number, 1 to 64 of A-Z, a-z, 0-9 and . _ / - "
              "(no free text)");
    g = s_grant(f);
    g.evidence = "";
    s_refused(f, &g, KT_EINVAL,
              "evidence: a reference such as a form number, 1 to 64 of A-Z, a-z, 0-9 and . _ / - "
              "(no free text)");
    g = s_grant(f);
    g.gegeven_op = "2026-02-30";
    s_refused(f, &g, KT_EINVAL, "given (gegeven_op): not a date (YYYY-MM-DD)");
    g = s_grant(f);
    g.geldig_tot = "31-07-2026";
    s_refused(f, &g, KT_EINVAL, "until (geldig_tot): not a date (YYYY-MM-DD)");
    g = s_grant(f);
    g.geldig_tot = g.gegeven_op;
    s_refused(f, &g, KT_EINVAL,
              "until (geldig_tot) must be after the day the consent was given (gegeven_op)");
    g = s_grant(f);
    g.geldig_tot = "2025-12-31";
    s_refused(f, &g, KT_EINVAL,
              "until (geldig_tot) must be after the day the consent was given (gegeven_op)");
}

static void test_grant_stores_what_was_given(void **state)
{
    struct fx *f = *state;
    kt_consent_grant_t g = s_grant(f);
    uint8_t id[16];
    kt_consent_t c;
    kt_diag_t d;

    assert_int_equal(s_do_grant(f, &g, id, &d), 0);
    assert_int_equal(kt_consent_get(f->st, id, &c, &d), 0);
    assert_memory_equal(c.id, id, 16);
    assert_memory_equal(c.subject, f->pupil, KT_SUBJECT_BYTES);
    assert_string_equal(c.recipient, "gemeente-a");
    assert_string_equal(c.doel, "melding_geoorloofd");
    assert_string_equal(c.types, "geoorloofd_verzuim,thuiszitter"); /* sorted */
    assert_int_equal(c.door, KT_CONSENT_BY_OUDERS);
    assert_int_equal(c.decision, KT_CONSENT_AKKOORD);
    assert_string_equal(c.evidence, "FORM-2026/017");
    assert_string_equal(c.gegeven_op, "2026-01-05");
    assert_string_equal(c.geldig_tot, "2026-07-31");
    assert_string_equal(c.ingetrokken_op, "");
    assert_int_equal(c.state, KT_CONSENT_ACTIVE);
    assert_int_equal(kt_subject_exists(f->st, f->pupil, &d), 1);

    /* one decision in force per pupil, recipient and doel */
    g.ntypes = 1;
    g.gegeven_op = "2026-03-01";
    assert_int_equal(s_do_grant(f, &g, id, &d), KT_EEXIST);
    assert_non_null(strstr(d.msg, "this pupil already has a consent decision for gemeente-a and "
                                  "doel melding_geoorloofd in force ("));
    assert_non_null(strstr(d.msg, ", until 2026-07-31); withdraw it first"));
    /* ... but another doel, recipient or pupil is separate; so is a later period */
    g.doel = "zorgoverleg";
    assert_int_equal(s_do_grant(f, &g, id, &d), 0);
    g.recipient = "swv-a";
    assert_int_equal(s_do_grant(f, &g, id, &d), 0);
    g = s_grant(f);
    memcpy(g.subject, f->other, KT_SUBJECT_BYTES);
    assert_int_equal(s_do_grant(f, &g, id, &d), 0);
    g = s_grant(f);
    g.gegeven_op = "2026-08-01";
    g.geldig_tot = "2027-07-31";
    assert_int_equal(s_do_grant(f, &g, id, &d), 0);
    /* no evidence is fine */
    g = s_grant(f);
    g.evidence = NULL;
    g.doel = "lijstvergelijking";
    assert_int_equal(s_do_grant(f, &g, id, &d), 0);
    assert_int_equal(kt_consent_get(f->st, id, &c, &d), 0);
    assert_string_equal(c.evidence, "");
}

static kt_consent_query_t s_query(const struct fx *f, const char *date)
{
    kt_consent_query_t q = {.subject = f->pupil,
                            .recipient = "gemeente-a",
                            .doel = "melding_geoorloofd",
                            .record_type = "geoorloofd_verzuim",
                            .date = date,
                            .accepted = KT_CONSENT_BY_OUDERS | KT_CONSENT_BY_BOTH};
    return q;
}

static int s_find(struct fx *f, const kt_consent_query_t *q, uint8_t want[16])
{
    uint8_t got[16];
    kt_diag_t d;
    int rc = kt_consent_find_active(got, f->st, q, &d);

    if (rc == 0 && want != NULL)
        assert_memory_equal(got, want, 16);
    if (rc == KT_ENOCONSENT)
        assert_non_null(strstr(d.msg, "no active consent for this pupil"));
    return rc;
}

static void test_validity_window_is_exact(void **state)
{
    struct fx *f = *state;
    kt_consent_grant_t g = s_grant(f);
    kt_consent_query_t q;
    uint8_t id[16];
    kt_diag_t d;

    assert_int_equal(s_do_grant(f, &g, id, &d), 0);
    q = s_query(f, "2026-01-04");
    assert_int_equal(s_find(f, &q, NULL), KT_ENOCONSENT); /* the day before it was given */
    q.date = "2026-01-05";
    assert_int_equal(s_find(f, &q, id), 0); /* on gegeven_op */
    q.date = "2026-04-15";
    assert_int_equal(s_find(f, &q, id), 0);
    q.date = "2026-07-31";
    assert_int_equal(s_find(f, &q, id), 0); /* on geldig_tot */
    q.date = "2026-08-01";
    assert_int_equal(s_find(f, &q, NULL), KT_ENOCONSENT); /* the day after */
    q.date = "2026-13-01";
    assert_int_equal(kt_consent_find_active(id, f->st, &q, &d), KT_EINVAL);
}

static void test_what_does_not_count(void **state)
{
    struct fx *f = *state;
    kt_consent_grant_t g = s_grant(f);
    kt_consent_query_t q;
    uint8_t id[16], refused[16];
    kt_diag_t d;

    assert_int_equal(s_do_grant(f, &g, id, &d), 0);
    q = s_query(f, "2026-03-02");
    assert_int_equal(s_find(f, &q, id), 0);
    q.record_type = "thuiszitter";
    assert_int_equal(s_find(f, &q, id), 0); /* both types covered */

    q = s_query(f, "2026-03-02");
    q.doel = "zorgoverleg";
    assert_int_equal(s_find(f, &q, NULL), KT_ENOCONSENT); /* another purpose */
    q = s_query(f, "2026-03-02");
    q.recipient = "swv-a";
    assert_int_equal(s_find(f, &q, NULL), KT_ENOCONSENT); /* another recipient */
    q = s_query(f, "2026-03-02");
    q.record_type = "vrijstelling";
    assert_int_equal(s_find(f, &q, NULL), KT_ENOCONSENT); /* another type */
    q = s_query(f, "2026-03-02");
    q.subject = f->other;
    assert_int_equal(s_find(f, &q, NULL), KT_ENOCONSENT); /* another pupil */
    /* the pupil is 16: the rule accepts only the pupil's own consent */
    q = s_query(f, "2026-03-02");
    q.accepted = KT_CONSENT_BY_LEERLING | KT_CONSENT_BY_BOTH;
    assert_int_equal(s_find(f, &q, NULL), KT_ENOCONSENT);
    q.accepted = 0;
    assert_int_equal(s_find(f, &q, NULL), KT_ENOCONSENT);

    /* a niet_akkoord never opens the gate */
    g = s_grant(f);
    g.recipient = "swv-a";
    g.decision = "niet_akkoord";
    assert_int_equal(s_do_grant(f, &g, refused, &d), 0);
    q = s_query(f, "2026-03-02");
    q.recipient = "swv-a";
    q.accepted = KT_CONSENT_BY_ALL;
    assert_int_equal(s_find(f, &q, NULL), KT_ENOCONSENT);

    /* a withdrawn consent never opens it, not even for dates before the withdrawal */
    assert_int_equal(kt_store_begin(f->st, &d), 0);
    assert_int_equal(kt_consent_withdraw(f->st, id, "2026-04-01", &d), 0);
    assert_int_equal(kt_store_commit(f->st, &d), 0);
    q = s_query(f, "2026-03-02");
    assert_int_equal(s_find(f, &q, NULL), KT_ENOCONSENT);
}

static void test_withdraw(void **state)
{
    struct fx *f = *state;
    kt_consent_grant_t g = s_grant(f);
    uint8_t id[16], nope[16] = {0};
    kt_consent_t c;
    kt_diag_t d;

    assert_int_equal(s_do_grant(f, &g, id, &d), 0);
    assert_int_equal(kt_store_begin(f->st, &d), 0);
    assert_int_equal(kt_consent_withdraw(f->st, nope, "2026-04-01", &d), KT_ENOENT);
    assert_string_equal(d.msg, "no consent 00000000000000000000000000000000 on this node");
    assert_int_equal(kt_consent_withdraw(f->st, id, "2026-01-04", &d), KT_EINVAL);
    assert_non_null(strstr(d.msg, " was given on 2026-01-05: it cannot be withdrawn before "
                                  "that"));
    assert_int_equal(kt_consent_withdraw(f->st, id, "2026-04-31", &d), KT_EINVAL);
    assert_string_equal(d.msg, "withdrawal date: not a date (YYYY-MM-DD)");
    assert_int_equal(kt_consent_withdraw(f->st, id, "2026-04-01", &d), 0);
    assert_int_equal(kt_consent_withdraw(f->st, id, "2026-04-02", &d), KT_EINVAL);
    assert_non_null(strstr(d.msg, " is already withdrawn (on 2026-04-01)"));
    assert_int_equal(kt_store_commit(f->st, &d), 0);
    assert_int_equal(kt_consent_get(f->st, id, &c, &d), 0);
    assert_int_equal(c.state, KT_CONSENT_WITHDRAWN);
    assert_string_equal(c.ingetrokken_op, "2026-04-01");

    /* an expired consent cannot be withdrawn */
    g.gegeven_op = "2026-08-01";
    g.geldig_tot = "2026-12-31";
    assert_int_equal(s_do_grant(f, &g, id, &d), 0);
    assert_int_equal(kt_store_begin(f->st, &d), 0);
    assert_int_equal(kt_consent_withdraw(f->st, id, "2027-01-01", &d), KT_EINVAL);
    assert_non_null(strstr(d.msg, " has expired (valid until 2026-12-31); there is nothing to "
                                  "withdraw"));
    kt_store_rollback(f->st);
    /* a withdrawal frees the pupil, recipient and doel for a new decision */
    g = s_grant(f);
    assert_int_equal(s_do_grant(f, &g, id, &d), 0);
}

static int s_has_id(uint8_t (*ids)[16], size_t n, const uint8_t id[16])
{
    size_t i;

    for (i = 0; i < n; i++)
        if (memcmp(ids[i], id, 16) == 0)
            return 1;
    return 0;
}

static void test_expire_reports_each_once(void **state)
{
    struct fx *f = *state;
    kt_consent_grant_t g = s_grant(f);
    uint8_t a[16], b[16], later[16], refused[16], gone[16], (*ids)[16] = NULL;
    kt_consent_t c;
    size_t n = 0;
    kt_diag_t d;

    assert_int_equal(s_do_grant(f, &g, a, &d), 0); /* until 2026-07-31 */
    g.recipient = "swv-a";
    assert_int_equal(s_do_grant(f, &g, b, &d), 0); /* until 2026-07-31 */
    g.recipient = "gemeente-b";
    g.geldig_tot = "2026-12-31";
    assert_int_equal(s_do_grant(f, &g, later, &d), 0);
    g.recipient = "gemeente-c";
    g.geldig_tot = "2026-07-31";
    g.decision = "niet_akkoord";
    assert_int_equal(s_do_grant(f, &g, refused, &d), 0);
    g = s_grant(f);
    g.recipient = "gemeente-d";
    assert_int_equal(s_do_grant(f, &g, gone, &d), 0);

    assert_int_equal(kt_store_begin(f->st, &d), 0);
    assert_int_equal(kt_consent_withdraw(f->st, gone, "2026-02-01", &d), 0);
    /* on geldig_tot nothing expires yet */
    assert_int_equal(kt_consent_expire(f->st, "2026-07-31", &ids, &n, &d), 0);
    assert_int_equal(n, 0);
    assert_null(ids);
    /* the day after: both akkoord consents, once; not the refusal, not the withdrawn one */
    assert_int_equal(kt_consent_expire(f->st, "2026-08-01", &ids, &n, &d), 0);
    assert_int_equal(n, 2);
    assert_true(s_has_id(ids, n, a));
    assert_true(s_has_id(ids, n, b));
    free(ids);
    assert_int_equal(kt_consent_expire(f->st, "2026-08-01", &ids, &n, &d), 0);
    assert_int_equal(n, 0);
    assert_int_equal(kt_consent_expire(f->st, "2026-09-01", &ids, &n, &d), 0);
    assert_int_equal(n, 0);
    assert_int_equal(kt_consent_expire(f->st, "2027-01-01", &ids, &n, &d), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(ids[0], later, 16);
    free(ids);
    assert_int_equal(kt_consent_expire(f->st, "2027-13-01", &ids, &n, &d), KT_EINVAL);
    assert_int_equal(kt_store_commit(f->st, &d), 0);
    assert_int_equal(kt_consent_get(f->st, a, &c, &d), 0);
    assert_int_equal(c.state, KT_CONSENT_EXPIRED);
    assert_int_equal(kt_consent_get(f->st, refused, &c, &d), 0);
    assert_int_equal(c.state, KT_CONSENT_EXPIRED);
    assert_int_equal(kt_consent_get(f->st, gone, &c, &d), 0);
    assert_int_equal(c.state, KT_CONSENT_WITHDRAWN);

    /* purge: ended before the cutoff */
    assert_int_equal(kt_store_begin(f->st, &d), 0);
    assert_int_equal(kt_consent_purge(f->st, "2026-02-01", &n, &d), 0);
    assert_int_equal(n, 0);
    assert_int_equal(kt_consent_purge(f->st, "2026-08-01", &n, &d), 0);
    assert_int_equal(n, 4); /* a, b, the refusal, the withdrawn one */
    assert_int_equal(kt_store_commit(f->st, &d), 0);
    assert_int_equal(s_count(f), 1);
}

static void test_list_by_subject(void **state)
{
    struct fx *f = *state;
    kt_consent_grant_t g = s_grant(f);
    uint8_t first[16], second[16], theirs[16];
    kt_consent_t *rows = NULL;
    size_t n = 0;
    kt_diag_t d;

    assert_int_equal(s_do_grant(f, &g, first, &d), 0);
    g.recipient = "swv-a";
    assert_int_equal(s_do_grant(f, &g, second, &d), 0);
    memcpy(g.subject, f->other, KT_SUBJECT_BYTES);
    assert_int_equal(s_do_grant(f, &g, theirs, &d), 0);

    assert_int_equal(kt_consent_list(f->st, f->pupil, &rows, &n, &d), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(rows[0].id, second, 16); /* newest first */
    assert_memory_equal(rows[1].id, first, 16);
    free(rows);
    assert_int_equal(kt_consent_list(f->st, f->other, &rows, &n, &d), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(rows[0].id, theirs, 16);
    free(rows);
    assert_int_equal(kt_consent_list(f->st, NULL, &rows, &n, &d), 0);
    assert_int_equal(n, 3);
    free(rows);
    memset(g.subject, 0x5a, KT_SUBJECT_BYTES);
    assert_int_equal(kt_consent_list(f->st, g.subject, &rows, &n, &d), 0);
    assert_int_equal(n, 0);
    assert_null(rows);
}

static void test_pure_rules(void **state)
{
    kt_consent_t c;
    kt_consent_door_t door;
    char today[KT_DATE_BYTES];

    (void)state;
    assert_true(kt_consent_date_valid("2024-02-29"));
    assert_false(kt_consent_date_valid("2026-02-29"));
    assert_false(kt_consent_date_valid("2100-02-29"));
    assert_true(kt_consent_date_valid("2000-02-29"));
    assert_false(kt_consent_date_valid("2026-04-31"));
    assert_false(kt_consent_date_valid("2026-1-05"));
    assert_false(kt_consent_date_valid("2026-01-05 "));
    assert_false(kt_consent_date_valid(""));
    assert_false(kt_consent_date_valid(NULL));
    kt_consent_today(today);
    assert_true(kt_consent_date_valid(today));

    assert_true(kt_consent_evidence_valid("F-12/2026.a_b"));
    assert_false(kt_consent_evidence_valid("form 12"));
    assert_false(kt_consent_evidence_valid("form\n12"));
    assert_true(kt_consent_evidence_valid("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
    assert_false(kt_consent_evidence_valid("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));

    assert_true(kt_consent_types_has("geoorloofd_verzuim,thuiszitter", "thuiszitter"));
    assert_true(kt_consent_types_has("geoorloofd_verzuim,thuiszitter", "geoorloofd_verzuim"));
    assert_false(kt_consent_types_has("geoorloofd_verzuim,thuiszitter", "verzuim"));
    assert_false(kt_consent_types_has("geoorloofd_verzuim", "geoorloofd"));
    assert_false(kt_consent_types_has("thuiszitter", ""));

    assert_int_equal(kt_consent_door_parse("leerling", &door), 0);
    assert_int_equal(door, KT_CONSENT_BY_LEERLING);
    assert_int_equal(kt_consent_door_parse("ouder", &door), KT_EINVAL);
    assert_string_equal(kt_consent_door_name(KT_CONSENT_BY_BOTH), "ouders_en_leerling");
    assert_true(kt_consent_doel_known("overleg_vrijstelling"));
    assert_false(kt_consent_doel_known("Zorgoverleg"));
    assert_string_equal(kt_consent_doel_at(0), "melding_geoorloofd");
    assert_null(kt_consent_doel_at(6));

    memset(&c, 0, sizeof(c));
    strcpy(c.gegeven_op, "2026-01-05");
    strcpy(c.geldig_tot, "2026-07-31");
    c.state = KT_CONSENT_ACTIVE;
    assert_int_equal(kt_consent_state_on(&c, "2026-07-31"), KT_CONSENT_ACTIVE);
    assert_int_equal(kt_consent_state_on(&c, "2026-08-01"), KT_CONSENT_EXPIRED);
    strcpy(c.ingetrokken_op, "2026-03-01");
    assert_int_equal(kt_consent_state_on(&c, "2026-02-01"), KT_CONSENT_WITHDRAWN);
    assert_string_equal(kt_consent_state_name(KT_CONSENT_EXPIRED), "expired");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, s_setup, s_teardown)
    const struct CMUnitTest tests[] = {
        T(test_grant_validation),         T(test_grant_stores_what_was_given),
        T(test_validity_window_is_exact), T(test_what_does_not_count),
        T(test_withdraw),                 T(test_expire_reports_each_once),
        T(test_list_by_subject),          T(test_pure_rules),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
