/*
 * test_audit.c - the audit log on memory stores: the hash formula against
 * an independently computed known answer, the chain, append refusals (no
 * transaction, bad text) that leave nothing behind, checkpoints (signed,
 * periodic, forced), witnessing (bad signature, a rewritten head), and
 * verification naming the exact entry for every kind of tampering,
 * including rows of the wrong type that must not crash it; listing with
 * filters and pages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keten/audit.h"

#define T0 1767607200 /* 2026-01-05T10:00:00Z */

/*
 * The known answer, computed outside keten with Python's hashlib:
 *
 *   import hashlib, struct
 *   def F(x): return struct.pack('>I', 0xffffffff) if x is None else struct.pack('>I', len(x)) + x
 *   m = (b"keten/1 audit\0" + bytes(32) + struct.pack('>QQ', 1, 1767607200) + F(b"uid:1000")
 *        + F(b"sent") + F(bytes(range(16))) + F(b"thuiszitter") + F(b"leerling_id,begindatum")
 *        + F(bytes(range(32, 64))) + F(b"zorgoverleg") + F(b"publieke_taak") + F(None)
 *        + F(b"policies/gemeente-a.conf") + F(b"3") + F(b"gemeente-a") + F(b"queued") + F(None))
 *   print(hashlib.blake2b(m, digest_size=32).hexdigest())
 */
static const char s_kat_hex[] = "f114c51d1ca21503b5071935beb52fce5d4b2cd83fb7b36666227b1ab7ee1ef9";

struct fx {
    kt_keys_t *k, *other;
    kt_store_t *st;
};

static int s_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    uint8_t seed[KT_SEED_BYTES];
    kt_diag_t d;

    if (f == NULL || kt_keys_init() != 0)
        return -1;
    memset(seed, 7, sizeof(seed));
    if (kt_keys_from_seed(&f->k, "school-a", KT_ROLE_SCHOOL, seed, &d) != 0)
        return -1;
    memset(seed, 9, sizeof(seed));
    if (kt_keys_from_seed(&f->other, "gemeente-a", KT_ROLE_GEMEENTE, seed, &d) != 0 ||
        kt_store_open_memory(&f->st, &d) != 0)
        return -1;
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    struct fx *f = *state;

    kt_store_close(&f->st);
    kt_keys_destroy(&f->k);
    kt_keys_destroy(&f->other);
    free(f);
    return 0;
}

static void s_hex(char *out, const uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

static void s_kat_entry(kt_audit_entry_t *e)
{
    size_t i;

    kt_audit_entry_init(e);
    e->time = T0;
    kt_audit_actor_uid(e, 1000);
    strcpy(e->action, KT_AUDIT_SENT);
    e->has_record_id = 1;
    for (i = 0; i < KT_AUDIT_ID_BYTES; i++)
        e->record_id[i] = (uint8_t)i;
    strcpy(e->record_type, "thuiszitter");
    strcpy(e->fields, "leerling_id,begindatum");
    e->has_subject = 1;
    for (i = 0; i < KT_AUDIT_SUBJECT_BYTES; i++)
        e->subject[i] = (uint8_t)(32 + i);
    strcpy(e->doel, "zorgoverleg");
    strcpy(e->grondslag, "publieke_taak");
    strcpy(e->policy_id, "policies/gemeente-a.conf");
    e->policy_version = 3;
    strcpy(e->counterparty, "gemeente-a");
    strcpy(e->decision, "queued");
}

/* Appends n entries (seq i gets time T0 + i, alternating partners, types
 * and actions) in one transaction. */
static void s_fill(kt_store_t *st, int n)
{
    kt_audit_entry_t e;
    kt_diag_t d;
    int i;

    assert_int_equal(kt_store_begin(st, &d), 0);
    for (i = 0; i < n; i++) {
        s_kat_entry(&e);
        e.time = T0 + i + 1;
        strcpy(e.counterparty, i % 2 ? "swv-a" : "gemeente-a");
        strcpy(e.record_type, i % 3 ? "thuiszitter" : "verzuimmelding");
        strcpy(e.action, i % 4 == 3 ? KT_AUDIT_REFUSED : KT_AUDIT_SENT);
        strcpy(e.decision, i % 4 == 3 ? "refused" : "queued");
        e.subject[0] = (uint8_t)(i % 5);
        assert_int_equal(kt_audit_append(st, &e, &d), 0);
    }
    assert_int_equal(kt_store_commit(st, &d), 0);
}

static int64_t s_count(kt_store_t *st, const char *sql)
{
    kt_stmt_t *q = NULL;
    kt_diag_t d;
    int64_t n;

    assert_int_equal(kt_store_prepare(st, &q, sql, &d), 0);
    assert_int_equal(kt_stmt_step(q, &d), KT_STORE_ROW);
    n = kt_stmt_column_int64(q, 0);
    kt_stmt_finalize(&q);
    return n;
}

static void s_exec(kt_store_t *st, const char *sql)
{
    kt_diag_t d;

    if (kt_store_exec(st, sql, &d) != 0)
        fail_msg("%s: %s", sql, d.msg);
}

/* What an attacker with the file does first. */
static void s_drop_triggers(kt_store_t *st)
{
    s_exec(st, "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;"
               "DROP TRIGGER audit_checkpoint_no_update; DROP TRIGGER audit_checkpoint_no_delete");
}

/* ... and then rebuilds the table without its constraints, keeping seq
 * the rowid, so any value of any type fits. */
static void s_unconstrain(kt_store_t *st)
{
    s_drop_triggers(st);
    s_exec(st, "CREATE TABLE a2 (seq INTEGER PRIMARY KEY, time, actor, action, record_id, "
               "record_type, fields, subject, doel, grondslag, consent_id, policy_id, "
               "policy_version, counterparty, decision, reason, prev_hash, hash);"
               "INSERT INTO a2 SELECT * FROM audit; DROP TABLE audit; ALTER TABLE a2 RENAME TO "
               "audit");
}

static kt_audit_report_t s_verify(struct fx *f)
{
    kt_audit_report_t r;
    kt_diag_t d;

    assert_int_equal(kt_audit_verify(f->st, kt_keys_public(f->k), &r, &d), 0);
    return r;
}

/* ---- formula and chain ---- */

static void test_hash_known_answer(void **state)
{
    kt_audit_entry_t e;
    uint8_t h[KT_AUDIT_HASH_BYTES];
    char hex[2 * KT_AUDIT_HASH_BYTES + 1];

    (void)state;
    s_kat_entry(&e);
    e.seq = 1;
    kt_audit_hash(h, &e);
    s_hex(hex, h, sizeof(h));
    assert_string_equal(hex, s_kat_hex);
    /* Every field counts: absent and empty are not the same, nor is a
     * changed prev hash. */
    e.has_consent_id = 1;
    kt_audit_hash(h, &e);
    s_hex(hex, h, sizeof(h));
    assert_string_not_equal(hex, s_kat_hex);
    e.has_consent_id = 0;
    e.prev_hash[31] = 1;
    kt_audit_hash(h, &e);
    s_hex(hex, h, sizeof(h));
    assert_string_not_equal(hex, s_kat_hex);
}

static void test_append_chains(void **state)
{
    struct fx *f = *state;
    kt_audit_entry_t a, b;
    uint8_t head[KT_AUDIT_HASH_BYTES], zero[KT_AUDIT_HASH_BYTES] = {0}, h[KT_AUDIT_HASH_BYTES];
    int64_t seq;
    kt_diag_t d;

    assert_int_equal(kt_audit_head(f->st, &seq, head, &d), 0);
    assert_int_equal(seq, 0);
    assert_memory_equal(head, zero, sizeof(zero));
    s_kat_entry(&a);
    s_kat_entry(&b);
    b.time = 0; /* append sets it */
    assert_int_equal(kt_store_begin(f->st, &d), 0);
    assert_int_equal(kt_audit_append(f->st, &a, &d), 0);
    assert_int_equal(kt_audit_append(f->st, &b, &d), 0);
    assert_int_equal(kt_store_commit(f->st, &d), 0);
    assert_int_equal(a.seq, 1);
    assert_int_equal(b.seq, 2);
    assert_true(b.time > T0);
    assert_memory_equal(a.prev_hash, zero, sizeof(zero));
    assert_memory_equal(b.prev_hash, a.hash, KT_AUDIT_HASH_BYTES);
    kt_audit_hash(h, &a);
    assert_memory_equal(h, a.hash, sizeof(h));
    {
        char hex[65];

        s_hex(hex, a.hash, KT_AUDIT_HASH_BYTES);
        assert_string_equal(hex, s_kat_hex); /* the first entry is the known answer */
    }
    assert_int_equal(kt_audit_head(f->st, &seq, head, &d), 0);
    assert_int_equal(seq, 2);
    assert_memory_equal(head, b.hash, KT_AUDIT_HASH_BYTES);
    /* NULLs are stored for absent values, not "" */
    assert_int_equal(s_count(f->st, "SELECT count(*) FROM audit WHERE reason IS NULL AND "
                                    "consent_id IS NULL AND policy_version = 3"),
                     2);
}

static void test_append_outside_transaction(void **state)
{
    struct fx *f = *state;
    kt_audit_entry_t e;
    kt_diag_t d = {{0}};

    s_kat_entry(&e);
    assert_int_equal(kt_audit_append(f->st, &e, &d), KT_EINVAL);
    assert_non_null(strstr(d.msg, "outside a transaction"));
    assert_int_equal(s_count(f->st, "SELECT count(*) FROM audit"), 0);
}

static void s_expect_refused(struct fx *f, kt_audit_entry_t *e, const char *field)
{
    kt_diag_t d = {{0}};

    assert_int_equal(kt_store_begin(f->st, &d), 0);
    assert_int_equal(kt_audit_append(f->st, e, &d), KT_EINVAL);
    kt_store_rollback(f->st);
    if (strstr(d.msg, field) == NULL)
        fail_msg("'%s' does not name %s", d.msg, field);
    assert_null(strstr(d.msg, "111222333")); /* never the value */
}

static void test_append_bad_text(void **state)
{
    struct fx *f = *state;
    kt_audit_entry_t e;

    s_fill(f->st, 1);
    s_kat_entry(&e);
    strcpy(e.reason, "bsn 111222333\n");
    s_expect_refused(f, &e, "reason");
    s_kat_entry(&e);
    strcpy(e.fields, "leerling_id,\x80");
    s_expect_refused(f, &e, "fields");
    s_kat_entry(&e);
    e.actor[0] = '\0';
    s_expect_refused(f, &e, "actor");
    s_kat_entry(&e);
    e.decision[0] = '\0';
    s_expect_refused(f, &e, "decision");
    s_kat_entry(&e);
    memset(e.doel, 'a', sizeof(e.doel)); /* no terminating NUL */
    s_expect_refused(f, &e, "doel");
    s_kat_entry(&e);
    strcpy(e.grondslag, "111222333");
    s_expect_refused(f, &e, "grondslag");
    s_kat_entry(&e);
    strcpy(e.counterparty, "Not A Node");
    s_expect_refused(f, &e, "counterparty");
    s_kat_entry(&e);
    e.policy_version = -1;
    s_expect_refused(f, &e, "policy_version");
    /* nothing was inserted, and the log is still whole */
    assert_int_equal(s_count(f->st, "SELECT count(*) FROM audit"), 1);
    assert_true(s_verify(f).ok);
}

static void test_no_update_or_delete(void **state)
{
    struct fx *f = *state;
    kt_diag_t d = {{0}};

    s_fill(f->st, 2);
    assert_int_equal(kt_store_exec(f->st, "UPDATE audit SET reason = 'x'", &d), KT_EIO);
    assert_non_null(strstr(d.msg, "append-only"));
    assert_int_equal(kt_store_exec(f->st, "DELETE FROM audit", &d), KT_EIO);
    assert_int_equal(s_count(f->st, "SELECT count(*) FROM audit"), 2);
}

/* ---- checkpoints ---- */

static void test_checkpoint_signing(void **state)
{
    struct fx *f = *state;
    const kt_pubkey_t *pk = kt_keys_public(f->k);
    kt_audit_checkpoint_t c, c2;
    kt_diag_t d;
    int have;

    assert_int_equal(kt_audit_checkpoint(f->st, f->k, 1, T0, &c, &have, &d), 0);
    assert_int_equal(have, 0); /* empty log: nothing to sign */
    s_fill(f->st, 3);
    assert_int_equal(kt_audit_checkpoint(f->st, f->k, 0, T0 + 100, &c, &have, &d), 0);
    assert_int_equal(have, 1); /* no checkpoint yet: the first is signed at once */
    assert_int_equal(c.seq, 3);
    assert_int_equal(c.time, T0 + 100);
    assert_true(kt_audit_checkpoint_valid(&c, pk));
    assert_false(kt_audit_checkpoint_valid(&c, kt_keys_public(f->other)));
    c2 = c;
    c2.sig[5] ^= 1;
    assert_false(kt_audit_checkpoint_valid(&c2, pk));
    c2 = c;
    c2.head[0] ^= 1;
    assert_false(kt_audit_checkpoint_valid(&c2, pk));
    c2 = c;
    c2.seq = 2;
    assert_false(kt_audit_checkpoint_valid(&c2, pk));

    /* head unchanged: the same checkpoint, even forced */
    assert_int_equal(kt_audit_checkpoint(f->st, f->k, 1, T0 + 500, &c2, &have, &d), 0);
    assert_int_equal(c2.seq, 3);
    assert_int_equal(c2.time, T0 + 100);
    /* head moved, latest too young: not signed unless forced */
    s_fill(f->st, 1);
    assert_int_equal(kt_audit_checkpoint(f->st, f->k, 0, T0 + 100 + KT_AUDIT_CHECKPOINT_SECONDS - 1,
                                         &c2, &have, &d),
                     0);
    assert_int_equal(c2.seq, 3);
    assert_int_equal(kt_audit_checkpoint(f->st, f->k, 1, T0 + 110, &c2, &have, &d), 0);
    assert_int_equal(c2.seq, 4);
    /* periodic: the latest is old enough */
    s_fill(f->st, 1);
    assert_int_equal(
        kt_audit_checkpoint(f->st, f->k, 0, T0 + 110 + KT_AUDIT_CHECKPOINT_SECONDS, &c2, &have, &d),
        0);
    assert_int_equal(c2.seq, 5);
    assert_true(kt_audit_checkpoint_valid(&c2, pk));
    assert_int_equal(s_count(f->st, "SELECT count(*) FROM audit_checkpoint"), 3);

    /* inside the caller's transaction it commits with the caller */
    s_fill(f->st, 1);
    assert_int_equal(kt_store_begin(f->st, &d), 0);
    assert_int_equal(kt_audit_checkpoint(f->st, f->k, 1, T0 + 1000, &c2, &have, &d), 0);
    assert_true(kt_store_in_transaction(f->st));
    kt_store_rollback(f->st);
    assert_int_equal(s_count(f->st, "SELECT count(*) FROM audit_checkpoint"), 3);
}

/* ---- witnessing ---- */

static void test_witness_store(void **state)
{
    struct fx *f = *state;
    const kt_pubkey_t *pk = kt_keys_public(f->other);
    kt_store_t *partner = NULL;
    kt_audit_checkpoint_t c, bad;
    kt_diag_t d = {{0}};
    int have;

    /* the partner's log and its checkpoint */
    assert_int_equal(kt_store_open_memory(&partner, &d), 0);
    s_fill(partner, 2);
    assert_int_equal(kt_audit_checkpoint(partner, f->other, 1, T0, &c, &have, &d), 0);
    assert_int_equal(have, 1);

    bad = c;
    bad.sig[0] ^= 1;
    assert_int_equal(kt_audit_witness_store(f->st, pk, &bad, T0 + 5, &d), KT_EAUTH);
    assert_int_equal(s_count(f->st, "SELECT count(*) FROM audit_witness"), 0);
    /* signed by someone else than the partner it is stored for */
    assert_int_equal(kt_audit_witness_store(f->st, kt_keys_public(f->k), &c, T0 + 5, &d), KT_EAUTH);
    assert_int_equal(s_count(f->st, "SELECT count(*) FROM audit_witness"), 0);

    assert_int_equal(kt_audit_witness_store(f->st, pk, &c, T0 + 5, &d), 0);
    assert_int_equal(kt_audit_witness_store(f->st, pk, &c, T0 + 6, &d), 0); /* again: fine */
    assert_int_equal(s_count(f->st, "SELECT count(*) FROM audit_witness"), 1);

    /* the partner signs another head for the same seq: rewritten */
    s_drop_triggers(partner);
    s_exec(partner, "DELETE FROM audit WHERE seq = 2; DELETE FROM audit_checkpoint");
    s_fill(partner, 1); /* a different entry 2 (another time) */
    assert_int_equal(kt_audit_checkpoint(partner, f->other, 1, T0 + 50, &bad, &have, &d), 0);
    assert_int_equal(bad.seq, 2);
    assert_int_equal(kt_audit_witness_store(f->st, pk, &bad, T0 + 60, &d), KT_EAUTH);
    assert_non_null(strstr(d.msg, "gemeente-a"));
    assert_non_null(strstr(d.msg, "entry 2 "));
    assert_non_null(strstr(d.msg, "rewritten"));
    assert_int_equal(s_count(f->st, "SELECT count(*) FROM audit_witness"), 1);
    kt_store_close(&partner);
}

static void test_verify_witness_catches_rewritten_tail(void **state)
{
    struct fx *f = *state;
    const kt_pubkey_t *pk = kt_keys_public(f->k);
    kt_store_t *w = NULL;
    kt_audit_checkpoint_t c;
    kt_audit_report_t r;
    kt_diag_t d;
    int have;

    assert_int_equal(kt_store_open_memory(&w, &d), 0);
    s_fill(f->st, 4);
    assert_int_equal(kt_audit_checkpoint(f->st, f->k, 1, T0, &c, &have, &d), 0);
    assert_int_equal(kt_audit_witness_store(w, pk, &c, T0 + 1, &d), 0);
    s_fill(f->st, 3);
    assert_int_equal(kt_audit_checkpoint(f->st, f->k, 1, T0 + 100, &c, &have, &d), 0);
    assert_int_equal(kt_audit_witness_store(w, pk, &c, T0 + 101, &d), 0);
    assert_int_equal(kt_audit_verify_witness(f->st, pk, w, &r, &d), 0);
    assert_true(r.ok);
    assert_int_equal(r.witnessed, 2);

    /* The node (with its own key) rewrites entries 6 and 7 and signs again:
     * its own log verifies, the witness does not. */
    s_drop_triggers(f->st);
    s_exec(f->st, "DELETE FROM audit WHERE seq >= 6; DELETE FROM audit_checkpoint");
    s_fill(f->st, 2);
    assert_int_equal(kt_audit_checkpoint(f->st, f->k, 1, T0 + 200, &c, &have, &d), 0);
    r = s_verify(f);
    /* (the triggers are gone, so only that is reported) */
    assert_false(r.ok);
    assert_int_equal(r.bad_seq, 0);
    assert_int_equal(r.covered, 7);
    assert_int_equal(kt_audit_verify_witness(f->st, pk, w, &r, &d), 0);
    assert_false(r.ok);
    assert_int_equal(r.bad_seq, 7);
    assert_non_null(strstr(r.what, "received 2026-01-05T10:01:41Z"));
    kt_store_close(&w);
}

/* ---- verification ---- */

static void s_expect_bad(struct fx *f, int64_t seq, const char *what)
{
    kt_audit_report_t r = s_verify(f);

    if (r.ok || r.bad_seq != seq || strstr(r.what, what) == NULL)
        fail_msg("expected entry %lld '%s'; got ok=%d bad_seq=%lld '%s'", (long long)seq, what,
                 r.ok, (long long)r.bad_seq, r.what);
}

static void test_verify_ok(void **state)
{
    struct fx *f = *state;
    kt_audit_checkpoint_t c;
    kt_audit_report_t r;
    kt_diag_t d;
    int have;

    r = s_verify(f);
    assert_true(r.ok); /* an empty log */
    assert_int_equal(r.entries, 0);
    s_fill(f->st, 10);
    assert_int_equal(kt_audit_checkpoint(f->st, f->k, 1, T0, &c, &have, &d), 0);
    s_fill(f->st, 2);
    r = s_verify(f);
    assert_true(r.ok);
    assert_int_equal(r.entries, 12);
    assert_int_equal(r.checkpoints, 1);
    assert_int_equal(r.covered, 10);
    assert_int_equal(r.bad_seq, 0);
    /* without a public key the chain and checkpoints are still checked */
    assert_int_equal(kt_audit_verify(f->st, NULL, &r, &d), 0);
    assert_true(r.ok);
    /* signed by another key */
    assert_int_equal(kt_audit_verify(f->st, kt_keys_public(f->other), &r, &d), 0);
    assert_false(r.ok);
    assert_int_equal(r.bad_seq, 10);
}

static void test_verify_edit(void **state)
{
    struct fx *f = *state;

    s_fill(f->st, 8);
    s_drop_triggers(f->st);
    s_exec(f->st, "UPDATE audit SET decision = 'released' WHERE seq = 5");
    s_expect_bad(f, 5, "hash does not match its contents");
}

static void test_verify_delete(void **state)
{
    struct fx *f = *state;

    s_fill(f->st, 8);
    s_drop_triggers(f->st);
    s_exec(f->st, "DELETE FROM audit WHERE seq = 4");
    s_expect_bad(f, 4, "missing");
}

static void test_verify_delete_first(void **state)
{
    struct fx *f = *state;

    s_fill(f->st, 3);
    s_drop_triggers(f->st);
    s_exec(f->st, "DELETE FROM audit WHERE seq = 1");
    s_expect_bad(f, 1, "missing");
}

static void test_verify_swap(void **state)
{
    struct fx *f = *state;

    s_fill(f->st, 8);
    s_drop_triggers(f->st);
    s_exec(f->st, "UPDATE audit SET seq = -1 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 4;"
                  "UPDATE audit SET seq = 4 WHERE seq = -1");
    s_expect_bad(f, 3, "");
}

static void test_verify_append_forged(void **state)
{
    struct fx *f = *state;

    s_fill(f->st, 5);
    /* an appended row needs no dropped trigger; its hash is made up */
    s_exec(f->st, "INSERT INTO audit (seq, time, actor, action, decision, prev_hash, hash) "
                  "SELECT 6, 1, 'uid:0', 'sent', 'queued', hash, randomblob(32) FROM audit "
                  "WHERE seq = 5");
    s_expect_bad(f, 6, "hash does not match");
}

static void test_verify_append_unlinked(void **state)
{
    struct fx *f = *state;
    kt_audit_entry_t e;
    char sql[512], hh[65];

    s_fill(f->st, 5);
    /* a row with a correct hash of its own, but linked to entry 3 */
    s_kat_entry(&e);
    e.seq = 6;
    e.time = 1;
    e.has_record_id = e.has_subject = 0;
    e.fields[0] = e.doel[0] = e.grondslag[0] = e.policy_id[0] = e.counterparty[0] = '\0';
    e.record_type[0] = '\0';
    e.policy_version = 0;
    {
        kt_stmt_t *q = NULL;
        kt_diag_t d;

        assert_int_equal(kt_store_prepare(f->st, &q, "SELECT hash FROM audit WHERE seq = 3", &d),
                         0);
        assert_int_equal(kt_stmt_step(q, &d), KT_STORE_ROW);
        memcpy(e.prev_hash, kt_stmt_column_blob(q, 0), KT_AUDIT_HASH_BYTES);
        kt_stmt_finalize(&q);
    }
    kt_audit_hash(e.hash, &e);
    s_hex(hh, e.hash, KT_AUDIT_HASH_BYTES);
    snprintf(sql, sizeof(sql),
             "INSERT INTO audit (seq, time, actor, action, decision, prev_hash, hash) SELECT 6, 1,"
             " 'uid:1000', 'sent', 'queued', hash, x'%s' FROM audit WHERE seq = 3",
             hh);
    s_exec(f->st, sql);
    s_expect_bad(f, 6, "does not link");
}

static void test_verify_truncated_tail(void **state)
{
    struct fx *f = *state;
    kt_audit_checkpoint_t c;
    kt_diag_t d;
    int have;

    s_fill(f->st, 6);
    assert_int_equal(kt_audit_checkpoint(f->st, f->k, 1, T0, &c, &have, &d), 0);
    s_drop_triggers(f->st);
    s_exec(f->st, "DELETE FROM audit WHERE seq >= 5");
    s_expect_bad(f, 5, "missing");
}

static void test_verify_checkpoint_forged(void **state)
{
    struct fx *f = *state;
    kt_audit_checkpoint_t c;
    kt_diag_t d;
    int have;

    s_fill(f->st, 6);
    assert_int_equal(kt_audit_checkpoint(f->st, f->k, 1, T0, &c, &have, &d), 0);
    s_drop_triggers(f->st);
    s_exec(f->st, "UPDATE audit_checkpoint SET sig = zeroblob(64)");
    s_expect_bad(f, 6, "not signed");
}

static void test_verify_triggers(void **state)
{
    struct fx *f = *state;
    kt_audit_report_t r;

    s_fill(f->st, 3);
    s_exec(f->st, "DROP TRIGGER audit_no_delete");
    r = s_verify(f);
    assert_false(r.ok);
    assert_int_equal(r.bad_seq, 0);
    assert_non_null(strstr(r.what, "audit_no_delete is missing"));
    s_exec(f->st, "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT 1; END");
    r = s_verify(f);
    assert_false(r.ok);
    assert_non_null(strstr(r.what, "audit_no_delete was replaced"));
}

/* Rows no append writes: every one is a failure at its seq, none a crash. */
static void test_verify_hostile_rows(void **state)
{
    static const struct {
        const char *sql;
        int64_t seq;
    } cases[] = {
        {"UPDATE audit SET time = 'yesterday' WHERE seq = 3", 3},
        {"UPDATE audit SET time = 1.5 WHERE seq = 3", 3},
        {"UPDATE audit SET actor = NULL WHERE seq = 2", 2},
        {"UPDATE audit SET actor = x'00' WHERE seq = 2", 2},
        {"UPDATE audit SET actor = 'uid:' || char(10) WHERE seq = 2", 2},
        {"UPDATE audit SET reason = '' WHERE seq = 4", 4},
        {"UPDATE audit SET reason = 42 WHERE seq = 4", 4},
        {"UPDATE audit SET fields = printf('%.9999c', 'a') WHERE seq = 4", 4},
        {"UPDATE audit SET subject = randomblob(100000) WHERE seq = 1", 1},
        {"UPDATE audit SET subject = 'abc' WHERE seq = 1", 1},
        {"UPDATE audit SET policy_version = 0 WHERE seq = 1", 1},
        {"UPDATE audit SET policy_version = -3 WHERE seq = 1", 1},
        {"UPDATE audit SET policy_version = '3x' WHERE seq = 1", 1},
        {"UPDATE audit SET seq = -7 WHERE seq = 1", -7},
        {"UPDATE audit SET seq = 0 WHERE seq = 1", 0},
    };
    struct fx *f = *state;
    kt_diag_t d;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kt_audit_report_t r;

        kt_store_close(&f->st);
        assert_int_equal(kt_store_open_memory(&f->st, &d), 0);
        s_fill(f->st, 5);
        s_unconstrain(f->st);
        s_exec(f->st, cases[i].sql);
        r = s_verify(f);
        if (r.ok || r.bad_seq != cases[i].seq)
            fail_msg("%s: ok=%d bad_seq=%lld '%s'", cases[i].sql, r.ok, (long long)r.bad_seq,
                     r.what);
    }
}

static void test_verify_table_replaced(void **state)
{
    struct fx *f = *state;
    kt_audit_report_t r;

    s_fill(f->st, 3);
    s_drop_triggers(f->st);
    /* no INTEGER PRIMARY KEY any more: duplicates, NULL and text seqs */
    s_exec(f->st, "CREATE TABLE a2 AS SELECT * FROM audit; DROP TABLE audit;"
                  "ALTER TABLE a2 RENAME TO audit;"
                  "INSERT INTO audit SELECT * FROM audit WHERE seq = 2");
    r = s_verify(f);
    assert_false(r.ok);
    assert_int_equal(r.bad_seq, 2);
    assert_non_null(strstr(r.what, "twice"));
    s_exec(f->st, "DELETE FROM audit WHERE rowid > 3; UPDATE audit SET seq = NULL WHERE seq = 1");
    r = s_verify(f);
    assert_false(r.ok);
    assert_int_equal(r.bad_seq, 1);
    s_exec(f->st, "DROP TABLE audit");
    r = s_verify(f);
    assert_false(r.ok);
    assert_non_null(strstr(r.what, "audit table is not as keten creates it"));
}

/* ---- listing ---- */

struct s_seen {
    int64_t seqs[64];
    size_t n;
    int stop_at;
};

static int s_collect(void *ctx, const kt_audit_entry_t *e)
{
    struct s_seen *s = ctx;

    if (s->n < 64)
        s->seqs[s->n++] = e->seq;
    return s->stop_at != 0 && (int)s->n == s->stop_at ? 42 : 0;
}

static size_t s_list(struct fx *f, const kt_audit_filter_t *flt, struct s_seen *s)
{
    kt_diag_t d;

    memset(s, 0, sizeof(*s));
    assert_int_equal(kt_audit_list(f->st, flt, s_collect, s, &d), 0);
    return s->n;
}

static void test_list_filters(void **state)
{
    struct fx *f = *state;
    kt_audit_filter_t flt;
    struct s_seen s;
    kt_diag_t d;

    s_fill(f->st, 12); /* seq i: time T0+i, partner gemeente-a when i odd */
    memset(&flt, 0, sizeof(flt));
    assert_int_equal(s_list(f, &flt, &s), 12);
    assert_int_equal(s.seqs[0], 1);
    assert_int_equal(s.seqs[11], 12);
    flt.partner = "swv-a";
    assert_int_equal(s_list(f, &flt, &s), 6);
    assert_int_equal(s.seqs[0], 2);
    flt.partner = NULL;
    flt.since = T0 + 3;
    flt.until = T0 + 5;
    assert_int_equal(s_list(f, &flt, &s), 3);
    assert_int_equal(s.seqs[0], 3);
    memset(&flt, 0, sizeof(flt));
    flt.type = "verzuimmelding"; /* i % 3 == 0: seq 1, 4, 7, 10 */
    assert_int_equal(s_list(f, &flt, &s), 4);
    assert_int_equal(s.seqs[1], 4);
    memset(&flt, 0, sizeof(flt));
    flt.action = KT_AUDIT_REFUSED; /* i % 4 == 3: seq 4, 8, 12 */
    flt.decision = "refused";
    assert_int_equal(s_list(f, &flt, &s), 3);
    flt.decision = "queued";
    assert_int_equal(s_list(f, &flt, &s), 0);
    memset(&flt, 0, sizeof(flt));
    flt.has_subject = 1; /* subject[0] = i % 5 */
    {
        kt_audit_entry_t e;

        s_kat_entry(&e);
        memcpy(flt.subject, e.subject, KT_AUDIT_SUBJECT_BYTES);
    }
    flt.subject[0] = 2; /* i = 2, 7: seq 3, 8 */
    assert_int_equal(s_list(f, &flt, &s), 2);
    assert_int_equal(s.seqs[1], 8);
    memset(&flt, 0, sizeof(flt));
    flt.has_record_id = 1;
    assert_int_equal(s_list(f, &flt, &s), 0);
    /* pages */
    memset(&flt, 0, sizeof(flt));
    flt.limit = 5;
    assert_int_equal(s_list(f, &flt, &s), 5);
    flt.after_seq = s.seqs[4];
    assert_int_equal(s_list(f, &flt, &s), 5);
    assert_int_equal(s.seqs[0], 6);
    flt.after_seq = 10;
    assert_int_equal(s_list(f, &flt, &s), 2);
    /* the callback stops the walk */
    memset(&flt, 0, sizeof(flt));
    memset(&s, 0, sizeof(s));
    s.stop_at = 2;
    assert_int_equal(kt_audit_list(f->st, &flt, s_collect, &s, &d), 42);
    assert_int_equal(s.n, 2);
}

static void test_list_damaged(void **state)
{
    struct fx *f = *state;
    kt_audit_filter_t flt;
    struct s_seen s = {0};
    kt_diag_t d = {{0}};

    s_fill(f->st, 3);
    s_unconstrain(f->st);
    s_exec(f->st, "UPDATE audit SET actor = NULL WHERE seq = 2");
    memset(&flt, 0, sizeof(flt));
    assert_int_equal(kt_audit_list(f->st, &flt, s_collect, &s, &d), KT_EIO);
    assert_non_null(strstr(d.msg, "audit entry 2 is damaged (column actor)"));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, s_setup, s_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_hash_known_answer),
        T(test_append_chains),
        T(test_append_outside_transaction),
        T(test_append_bad_text),
        T(test_no_update_or_delete),
        T(test_checkpoint_signing),
        T(test_witness_store),
        T(test_verify_witness_catches_rewritten_tail),
        T(test_verify_ok),
        T(test_verify_edit),
        T(test_verify_delete),
        T(test_verify_delete_first),
        T(test_verify_swap),
        T(test_verify_append_forged),
        T(test_verify_append_unlinked),
        T(test_verify_truncated_tail),
        T(test_verify_checkpoint_forged),
        T(test_verify_triggers),
        T(test_verify_hostile_rows),
        T(test_verify_table_replaced),
        T(test_list_filters),
        T(test_list_damaged),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
