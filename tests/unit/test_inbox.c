/*
 * test_inbox.c - the receiver: accept and acknowledge, re-acknowledge a
 * duplicate byte for byte, reject expired, future, malformed and denied
 * records without keeping them, fail without a receipt when the store
 * fails, the audit head in receipts, and expiry of seen ids.
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
#include "keten/inbox.h"

#define BSN "999990044" /* synthetic, passes the elfproef; never stored in the clear */
#define T0 INT64_C(1700000000000)
#define NOW_S (T0 / 1000)
#define MAX_AGE INT64_C(86400)

struct fx {
    kt_keys_t *me, *school, *gem;
    kt_vault_t *v;
    kt_store_t *st;
    uint8_t *rec;
    size_t rec_len;
    kt_inbox_ctx_t c;
};

/* A signed message from `from` to swv-b. */
struct msg {
    uint8_t *buf;
    size_t len;
    kt_payload_t p;
};

static int s_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    kt_record_t *r = NULL;
    kt_diag_t d;

    if (f == NULL || kt_keys_generate(&f->me, "swv-b", KT_ROLE_SWV, &d) != 0 ||
        kt_keys_generate(&f->school, "school-a", KT_ROLE_SCHOOL, &d) != 0 ||
        kt_keys_generate(&f->gem, "gemeente-c", KT_ROLE_GEMEENTE, &d) != 0 ||
        kt_vault_new(&f->v, f->me, &d) != 0 || kt_record_new(&r, "thuiszitter", &d) != 0 ||
        kt_record_set_text(r, "leerling_id", BSN, &d) != 0 ||
        kt_record_set_text(r, "definitie", "breed", &d) != 0 ||
        kt_record_encode(r, &f->rec, &f->rec_len, &d) != 0)
        return -1;
    kt_record_destroy(&r);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    struct fx *f = *state;

    kt_record_free_bytes(f->rec, f->rec_len);
    kt_store_close(&f->st);
    kt_vault_destroy(&f->v);
    kt_keys_destroy(&f->me);
    kt_keys_destroy(&f->school);
    kt_keys_destroy(&f->gem);
    free(f);
    return 0;
}

/* Each test gets a fresh database and the pre-policy hook. */
static int s_fresh(void **state)
{
    struct fx *f = *state;
    kt_diag_t d;

    kt_store_close(&f->st);
    if (kt_store_open_memory(&f->st, &d) != 0)
        return -1;
    f->c = (kt_inbox_ctx_t){f->st, f->me, f->v, kt_hook_addressed(), MAX_AGE, "test-sender"};
    return 0;
}

static void s_id(uint8_t id[KT_ENVELOPE_ID_BYTES], int n)
{
    memset(id, 0, KT_ENVELOPE_ID_BYTES);
    id[0] = 0xb0;
    id[15] = (uint8_t)n;
}

static void mk(struct fx *f, struct msg *m, const kt_keys_t *from, kt_kind_t kind, int n,
               int64_t created, const uint8_t *body, size_t body_len)
{
    uint8_t id[KT_ENVELOPE_ID_BYTES];
    kt_diag_t d;

    s_id(id, n);
    assert_int_equal(kt_envelope_sign(&m->buf, &m->len, kind, id, (uint64_t)created, "swv-b",
                                      body ? body : f->rec, body ? body_len : f->rec_len, from, &d),
                     0);
    assert_int_equal(kt_envelope_verify(&m->p, m->buf, m->len, kt_keys_public(from), &d), 0);
}

static void mk_record(struct fx *f, struct msg *m, int n, int64_t created)
{
    mk(f, m, f->school, KT_KIND_RECORD, n, created, NULL, 0);
}

static void drop(struct msg *m)
{
    kt_envelope_free(m->buf, m->len);
}

/* kt_inbox_accept in a transaction, committed only when it succeeded. */
static int accept(struct fx *f, const char *sender, const struct msg *m, int64_t now,
                  kt_inbox_result_t *res)
{
    kt_diag_t d = {{0}};
    int rc;

    assert_int_equal(kt_store_begin(f->st, &d), 0);
    rc = kt_inbox_accept(&f->c, sender, m->buf, m->len, &m->p, now, res, &d);
    if (rc == 0)
        assert_int_equal(kt_store_commit(f->st, &d), 0);
    else
        kt_store_rollback(f->st);
    return rc;
}

static int64_t s_int(kt_store_t *st, const char *sql)
{
    kt_stmt_t *q = NULL;
    kt_diag_t d;
    int64_t v;

    assert_int_equal(kt_store_prepare(st, &q, sql, &d), 0);
    assert_int_equal(kt_stmt_step(q, &d), KT_STORE_ROW);
    v = kt_stmt_column_int64(q, 0);
    kt_stmt_finalize(&q);
    return v;
}

static size_t inbox_count(struct fx *f)
{
    size_t n = 99;
    kt_diag_t d;

    assert_int_equal(kt_inbox_count(f->st, &n, &d), 0);
    return n;
}

/* The receipt verifies with the receiver's key, is addressed to the sender
 * and says exactly what res->r says; returns its decoded body. */
static void check_receipt(struct fx *f, const kt_inbox_result_t *res, const char *to,
                          const struct msg *m, kt_receipt_status_t status, const char *code)
{
    uint8_t digest[32];
    kt_payload_t p;
    kt_receipt_t r;
    kt_diag_t d;

    assert_non_null(res->receipt);
    assert_int_equal(
        kt_envelope_verify(&p, res->receipt, res->receipt_len, kt_keys_public(f->me), &d), 0);
    assert_int_equal(p.kind, KT_KIND_RECEIPT);
    assert_string_equal(p.from, "swv-b");
    assert_string_equal(p.to, to);
    assert_int_equal(kt_receipt_decode(&r, p.body, p.body_len, &d), 0);
    assert_memory_equal(&r, &res->r, sizeof(r));
    assert_memory_equal(r.ref, m->p.id, sizeof(r.ref));
    kt_vault_digest(digest, m->buf, m->len);
    assert_memory_equal(r.digest, digest, sizeof(digest));
    assert_int_equal(r.status, status);
    assert_string_equal(r.code, code);
}

static void test_accept(void **state)
{
    struct fx *f = *state;
    kt_inbox_result_t res;
    kt_inbox_row_t *rows = NULL;
    uint8_t *out = NULL;
    size_t n = 0, len = 0;
    struct msg m;
    kt_stmt_t *q = NULL;
    kt_diag_t d;

    mk_record(f, &m, 1, NOW_S - 10);
    assert_int_equal(accept(f, "school-a", &m, T0, &res), 0);
    assert_int_equal(res.duplicate, 0);
    check_receipt(f, &res, "school-a", &m, KT_RECEIPT_ACCEPTED, "ok");
    /* the receipt carries the checkpoint signed over the "received" entry */
    assert_int_equal(res.r.has_head, 1);
    assert_int_equal(res.r.head_seq, 1);
    kt_inbox_result_clear(&res);
    assert_null(res.receipt);
    kt_inbox_result_clear(&res); /* idempotent */
    assert_int_equal(inbox_count(f), 1);
    assert_int_equal(kt_inbox_get(f->st, m.p.id, &rows, &n, &d), 0);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].sender, "school-a");
    assert_memory_equal(rows[0].id, m.p.id, KT_ENVELOPE_ID_BYTES);
    assert_string_equal(rows[0].record_type, "thuiszitter");
    assert_string_equal(rows[0].state, "accepted");
    assert_int_equal(rows[0].created_s, NOW_S - 10);
    assert_int_equal(rows[0].received_ms, T0);
    free(rows);
    /* kept exactly as received, so a third party can verify it later */
    assert_int_equal(kt_inbox_signed(f->st, f->v, "school-a", m.p.id, &out, &len, &d), 0);
    assert_int_equal(len, m.len);
    assert_memory_equal(out, m.buf, len);
    kt_vault_free(out, len);
    assert_int_equal(kt_inbox_signed(f->st, f->v, "gemeente-c", m.p.id, &out, &len, &d), KT_ENOENT);
    /* ... and locked at rest */
    assert_int_equal(kt_store_prepare(f->st, &q, "SELECT payload FROM inbox", &d), 0);
    assert_int_equal(kt_stmt_step(q, &d), KT_STORE_ROW);
    {
        const void *b = kt_stmt_column_blob(q, 0);

        assert_non_null(b);
        /* under the pupil's own key: forgetting it shreds every copy */
        assert_int_equal(((const uint8_t *)b)[0], KT_VAULT_SUBJECT_VERSION);
        assert_null(memmem(b, kt_stmt_column_bytes(q, 0), BSN, 9));
    }
    kt_stmt_finalize(&q);
    assert_int_equal(s_int(f->st, "SELECT count(*) FROM seen_ids"), 1);
    assert_int_equal(s_int(f->st, "SELECT expires FROM seen_ids"), (NOW_S - 10 + MAX_AGE) * 1000);
    drop(&m);
}

static int s_denials;

static int s_deny(void *ctx, const char *sender, const kt_record_t *rec, const char *date,
                  kt_hook_decision_t *dec, kt_diag_t *d)
{
    (void)ctx;
    (void)dec;
    assert_int_equal(strlen(date), 10);
    s_denials++;
    assert_string_equal(sender, "school-a");
    assert_string_equal(kt_record_type(rec), "thuiszitter");
    return kt_diag_set(d, KT_EDENIED, "no rule for thuiszitter from %s", sender);
}

static const kt_hook_t s_denying = {NULL, s_deny, NULL, NULL};

static void test_duplicate(void **state)
{
    struct fx *f = *state;
    kt_inbox_result_t first, again;
    struct msg m;

    mk_record(f, &m, 2, NOW_S);
    assert_int_equal(accept(f, "school-a", &m, T0, &first), 0);
    /* later, and even under a policy that would now refuse it: the first answer stands */
    f->c.hook = &s_denying;
    s_denials = 0;
    assert_int_equal(accept(f, "school-a", &m, T0 + 60000, &again), 0);
    assert_int_equal(s_denials, 0);
    assert_int_equal(again.duplicate, 1);
    assert_int_equal(again.receipt_len, first.receipt_len);
    assert_memory_equal(again.receipt, first.receipt, first.receipt_len);
    assert_memory_equal(&again.r, &first.r, sizeof(first.r));
    assert_int_equal(again.r.status, KT_RECEIPT_ACCEPTED);
    assert_int_equal(inbox_count(f), 1);
    assert_int_equal(s_int(f->st, "SELECT count(*) FROM seen_ids"), 1);
    kt_inbox_result_clear(&first);
    kt_inbox_result_clear(&again);
    drop(&m);
}

static void test_expired(void **state)
{
    struct fx *f = *state;
    kt_inbox_result_t res, again;
    struct msg old, edge;

    mk_record(f, &old, 3, NOW_S - MAX_AGE - 1);
    assert_int_equal(accept(f, "school-a", &old, T0, &res), 0);
    check_receipt(f, &res, "school-a", &old, KT_RECEIPT_REJECTED, "expired");
    assert_int_equal(res.duplicate, 0);
    assert_int_equal(inbox_count(f), 0);
    assert_int_equal(s_int(f->st, "SELECT count(*) FROM seen_ids"), 1); /* id remembered */
    assert_int_equal(accept(f, "school-a", &old, T0 + 1, &again), 0);
    assert_int_equal(again.duplicate, 1);
    assert_memory_equal(again.receipt, res.receipt, res.receipt_len);
    kt_inbox_result_clear(&res);
    kt_inbox_result_clear(&again);
    /* exactly max age old is still in time */
    mk_record(f, &edge, 4, NOW_S - MAX_AGE);
    assert_int_equal(accept(f, "school-a", &edge, T0, &res), 0);
    assert_int_equal(res.r.status, KT_RECEIPT_ACCEPTED);
    assert_int_equal(inbox_count(f), 1);
    kt_inbox_result_clear(&res);
    drop(&old);
    drop(&edge);
}

static void test_future(void **state)
{
    struct fx *f = *state;
    kt_inbox_result_t res;
    struct msg far, near, absurd;

    mk_record(f, &far, 5, NOW_S + KT_INBOX_CLOCK_SKEW_S + 1);
    assert_int_equal(accept(f, "school-a", &far, T0, &res), 0);
    check_receipt(f, &res, "school-a", &far, KT_RECEIPT_REJECTED, "expired");
    kt_inbox_result_clear(&res);
    mk(f, &absurd, f->school, KT_KIND_RECORD, 6, INT64_MAX, NULL, 0);
    assert_int_equal(accept(f, "school-a", &absurd, T0, &res), 0);
    assert_int_equal(res.r.status, KT_RECEIPT_REJECTED);
    assert_string_equal(res.r.code, "expired");
    kt_inbox_result_clear(&res);
    assert_int_equal(inbox_count(f), 0);
    mk_record(f, &near, 7, NOW_S + KT_INBOX_CLOCK_SKEW_S);
    assert_int_equal(accept(f, "school-a", &near, T0, &res), 0);
    assert_int_equal(res.r.status, KT_RECEIPT_ACCEPTED);
    assert_int_equal(inbox_count(f), 1);
    kt_inbox_result_clear(&res);
    drop(&far);
    drop(&near);
    drop(&absurd);
}

static void test_malformed(void **state)
{
    struct fx *f = *state;
    /* {"type": "thuiszitter", "fields": {}}: well-formed CBOR, not a valid record */
    static const uint8_t empty_fields[] = "\xa2\x64type\x6bthuiszitter\x66"
                                          "fields\xa0";
    kt_inbox_result_t res;
    struct msg m, kind;

    mk(f, &m, f->school, KT_KIND_RECORD, 8, NOW_S, empty_fields, sizeof(empty_fields) - 1);
    assert_int_equal(accept(f, "school-a", &m, T0, &res), 0);
    check_receipt(f, &res, "school-a", &m, KT_RECEIPT_REJECTED, "malformed");
    kt_inbox_result_clear(&res);
    /* a valid record body under another kind is not a record */
    mk(f, &kind, f->school, KT_KIND_COUNTS, 9, NOW_S, NULL, 0);
    assert_int_equal(accept(f, "school-a", &kind, T0, &res), 0);
    check_receipt(f, &res, "school-a", &kind, KT_RECEIPT_REJECTED, "malformed");
    kt_inbox_result_clear(&res);
    assert_int_equal(inbox_count(f), 0);
    assert_int_equal(s_int(f->st, "SELECT count(*) FROM seen_ids"), 2);
    drop(&m);
    drop(&kind);
}

static void test_denied(void **state)
{
    struct fx *f = *state;
    kt_inbox_result_t res;
    struct msg m;

    f->c.hook = &s_denying;
    s_denials = 0;
    mk_record(f, &m, 10, NOW_S);
    assert_int_equal(accept(f, "school-a", &m, T0, &res), 0);
    assert_int_equal(s_denials, 1);
    check_receipt(f, &res, "school-a", &m, KT_RECEIPT_REJECTED, "denied");
    assert_int_equal(inbox_count(f), 0);
    assert_int_equal(s_int(f->st, "SELECT count(*) FROM inbox"), 0);
    kt_inbox_result_clear(&res);
    drop(&m);
}

static void test_not_attributed(void **state)
{
    struct fx *f = *state;
    kt_inbox_result_t res;
    struct msg m, other;

    /* signed by school-a, but the caller says it came from gemeente-c */
    mk_record(f, &m, 11, NOW_S);
    assert_int_equal(accept(f, "gemeente-c", &m, T0, &res), 0);
    check_receipt(f, &res, "gemeente-c", &m, KT_RECEIPT_REJECTED, "auth");
    kt_inbox_result_clear(&res);
    /* addressed to another node */
    {
        uint8_t id[KT_ENVELOPE_ID_BYTES];
        kt_diag_t d;

        s_id(id, 12);
        assert_int_equal(kt_envelope_sign(&other.buf, &other.len, KT_KIND_RECORD, id,
                                          (uint64_t)NOW_S, "gemeente-c", f->rec, f->rec_len,
                                          f->school, &d),
                         0);
        assert_int_equal(
            kt_envelope_verify(&other.p, other.buf, other.len, kt_keys_public(f->school), &d), 0);
    }
    assert_int_equal(accept(f, "school-a", &other, T0, &res), 0);
    assert_int_equal(res.r.status, KT_RECEIPT_REJECTED);
    assert_string_equal(res.r.code, "auth");
    kt_inbox_result_clear(&res);
    assert_int_equal(inbox_count(f), 0);
    assert_int_equal(s_int(f->st, "SELECT count(*) FROM seen_ids"), 0);
    drop(&m);
    drop(&other);
}

static void test_store_failure(void **state)
{
    struct fx *f = *state;
    kt_inbox_result_t res;
    struct msg m, old;
    kt_diag_t d;

    assert_int_equal(kt_store_exec(f->st,
                                   "CREATE TRIGGER no_inbox BEFORE INSERT ON inbox"
                                   " BEGIN SELECT RAISE(ABORT, 'x'); END",
                                   &d),
                     0);
    mk_record(f, &m, 13, NOW_S);
    memset(&res, 0x5a, sizeof(res));
    assert_int_equal(accept(f, "school-a", &m, T0, &res), KT_EIO);
    assert_null(res.receipt); /* nothing to send: the sender will retry */
    assert_int_equal(res.receipt_len, 0);
    assert_int_equal(s_int(f->st, "SELECT count(*) FROM seen_ids"), 0);
    assert_int_equal(inbox_count(f), 0);
    /* rejections are remembered too, so their write can fail as well */
    assert_int_equal(kt_store_exec(f->st,
                                   "CREATE TRIGGER no_seen BEFORE INSERT ON seen_ids"
                                   " BEGIN SELECT RAISE(ABORT, 'x'); END",
                                   &d),
                     0);
    mk_record(f, &old, 14, NOW_S - MAX_AGE - 1);
    assert_true(accept(f, "school-a", &old, T0, &res) < 0);
    assert_null(res.receipt);
    /* once the store works again, the retry is accepted as new */
    assert_int_equal(kt_store_exec(f->st, "DROP TRIGGER no_inbox; DROP TRIGGER no_seen", &d), 0);
    assert_int_equal(accept(f, "school-a", &m, T0 + 1000, &res), 0);
    assert_int_equal(res.duplicate, 0);
    assert_int_equal(res.r.status, KT_RECEIPT_ACCEPTED);
    assert_int_equal(inbox_count(f), 1);
    kt_inbox_result_clear(&res);
    drop(&m);
    drop(&old);
}

/* Receipts carry the node's latest signed checkpoint: re-signed when the
 * head moved and the last one is a second old (audit.h), and always
 * verifiable under the node's key. */
static void test_audit_head(void **state)
{
    struct fx *f = *state;
    kt_inbox_result_t res;
    kt_audit_checkpoint_t c;
    uint8_t hash[KT_AUDIT_HASH_BYTES];
    int64_t seq;
    struct msg m1, m2, m3;
    kt_diag_t d;

    mk_record(f, &m1, 15, NOW_S);
    assert_int_equal(accept(f, "school-a", &m1, T0, &res), 0);
    assert_int_equal(res.r.has_head, 1);
    assert_int_equal(res.r.head_seq, 1);
    assert_int_equal(kt_audit_head(f->st, &seq, hash, &d), 0);
    assert_int_equal(seq, 1);
    assert_memory_equal(res.r.head, hash, KT_AUDIT_HASH_BYTES);
    c.seq = (int64_t)res.r.head_seq;
    c.time = (int64_t)res.r.head_time;
    memcpy(c.head, res.r.head, sizeof(c.head));
    memcpy(c.sig, res.r.head_sig, sizeof(c.sig));
    assert_int_equal(kt_audit_checkpoint_valid(&c, kt_keys_public(f->me)), 1);
    c.sig[5] ^= 1;
    assert_int_equal(kt_audit_checkpoint_valid(&c, kt_keys_public(f->me)), 0);
    kt_inbox_result_clear(&res);

    mk_record(f, &m2, 16, NOW_S);
    assert_int_equal(accept(f, "school-a", &m2, T0, &res), 0);
    assert_int_equal(res.r.head_seq, 1); /* within the second: the same checkpoint */
    kt_inbox_result_clear(&res);

    mk_record(f, &m3, 17, NOW_S);
    assert_int_equal(accept(f, "school-a", &m3, T0 + 2000, &res), 0);
    assert_int_equal(res.r.head_seq, 3); /* later: the head as it is now */
    kt_inbox_result_clear(&res);
    drop(&m1);
    drop(&m2);
    drop(&m3);
}

static void test_expire_seen(void **state)
{
    struct fx *f = *state;
    kt_inbox_result_t res;
    int64_t expires = (NOW_S + MAX_AGE) * 1000;
    struct msg m;
    kt_diag_t d;

    mk_record(f, &m, 16, NOW_S);
    assert_int_equal(accept(f, "school-a", &m, T0, &res), 0);
    kt_inbox_result_clear(&res);
    assert_int_equal(kt_store_begin(f->st, &d), 0);
    assert_int_equal(kt_inbox_expire_seen(f->st, expires, &d), 0);
    assert_int_equal(kt_store_commit(f->st, &d), 0);
    assert_int_equal(s_int(f->st, "SELECT count(*) FROM seen_ids"), 1);
    /* still a duplicate at the last moment it could be in time */
    assert_int_equal(accept(f, "school-a", &m, expires, &res), 0);
    assert_int_equal(res.duplicate, 1);
    kt_inbox_result_clear(&res);
    assert_int_equal(kt_store_begin(f->st, &d), 0);
    assert_int_equal(kt_inbox_expire_seen(f->st, expires + 1, &d), 0);
    assert_int_equal(kt_store_commit(f->st, &d), 0);
    assert_int_equal(s_int(f->st, "SELECT count(*) FROM seen_ids"), 0);
    assert_int_equal(inbox_count(f), 1); /* the record itself stays */
    /* a replay now is too old: rejected, never applied twice */
    assert_int_equal(accept(f, "school-a", &m, expires + 1, &res), 0);
    assert_int_equal(res.duplicate, 0);
    assert_int_equal(res.r.status, KT_RECEIPT_REJECTED);
    assert_string_equal(res.r.code, "expired");
    assert_int_equal(inbox_count(f), 1);
    kt_inbox_result_clear(&res);
    drop(&m);
}

static void test_reject(void **state)
{
    struct fx *f = *state;
    static const uint8_t raw[] = "garbage frame";
    uint8_t *rc_buf = NULL, digest[32], zero[16] = {0}, id[16];
    size_t len = 0;
    kt_payload_t p;
    kt_receipt_t r;
    kt_diag_t d;

    assert_int_equal(kt_inbox_reject(f->me, "school-a", NULL, raw, sizeof(raw), "malformed", T0,
                                     &rc_buf, &len, &d),
                     0);
    assert_int_equal(kt_envelope_verify(&p, rc_buf, len, kt_keys_public(f->me), &d), 0);
    assert_int_equal(p.kind, KT_KIND_RECEIPT);
    assert_string_equal(p.to, "school-a");
    assert_int_equal(p.created, NOW_S);
    assert_int_equal(kt_receipt_decode(&r, p.body, p.body_len, &d), 0);
    assert_memory_equal(r.ref, zero, 16);
    kt_vault_digest(digest, raw, sizeof(raw));
    assert_memory_equal(r.digest, digest, 32);
    assert_int_equal(r.status, KT_RECEIPT_REJECTED);
    assert_string_equal(r.code, "malformed");
    assert_int_equal(r.has_head, 0);
    kt_envelope_free(rc_buf, len);
    s_id(id, 17);
    assert_int_equal(
        kt_inbox_reject(f->me, "school-a", id, raw, sizeof(raw), "auth", T0, &rc_buf, &len, &d), 0);
    assert_int_equal(kt_envelope_verify(&p, rc_buf, len, kt_keys_public(f->me), &d), 0);
    assert_int_equal(kt_receipt_decode(&r, p.body, p.body_len, &d), 0);
    assert_memory_equal(r.ref, id, 16);
    kt_envelope_free(rc_buf, len);
    assert_int_equal(kt_inbox_reject(f->me, "school-a", id, raw, sizeof(raw), "Not-a-code", T0,
                                     &rc_buf, &len, &d),
                     KT_EINVAL);
    assert_null(rc_buf);
    assert_int_equal(
        kt_inbox_reject(f->me, "Bad Sender", id, raw, sizeof(raw), "auth", T0, &rc_buf, &len, &d),
        KT_EINVAL);
    assert_null(rc_buf);
    assert_int_equal(s_int(f->st, "SELECT count(*) FROM seen_ids"), 0);
}

static void test_list(void **state)
{
    struct fx *f = *state;
    kt_inbox_result_t res;
    kt_inbox_row_t *rows = NULL;
    size_t n = 0;
    struct msg a, b;
    uint8_t id[16];
    kt_diag_t d;

    mk_record(f, &a, 18, NOW_S);
    mk(f, &b, f->gem, KT_KIND_RECORD, 18, NOW_S, NULL, 0); /* same id, other sender */
    assert_int_equal(accept(f, "school-a", &a, T0, &res), 0);
    kt_inbox_result_clear(&res);
    assert_int_equal(accept(f, "gemeente-c", &b, T0 + 5, &res), 0);
    assert_int_equal(res.duplicate, 0); /* seen ids are per sender */
    kt_inbox_result_clear(&res);
    assert_int_equal(kt_inbox_list(f->st, &rows, &n, &d), 0);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].sender, "gemeente-c"); /* newest first */
    assert_string_equal(rows[1].sender, "school-a");
    free(rows);
    assert_int_equal(kt_inbox_get(f->st, a.p.id, &rows, &n, &d), 0);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].sender, "gemeente-c");
    free(rows);
    s_id(id, 99);
    assert_int_equal(kt_inbox_get(f->st, id, &rows, &n, &d), KT_ENOENT);
    assert_string_equal(d.msg, "no record b0000000000000000000000000000063 in the inbox");
    assert_int_equal(inbox_count(f), 2);
    drop(&a);
    drop(&b);
}

/* A retraction deletes the record and is answered purged; a copy of a
 * record that arrives after its retraction is never stored. */
static void test_retract(void **state)
{
    struct fx *f = *state;
    struct msg rec, ret, late, ret2;
    uint8_t body[KT_RETRACT_BYTES], id[KT_ENVELOPE_ID_BYTES];
    kt_inbox_result_t res;

    mk_record(f, &rec, 50, NOW_S);
    assert_int_equal(accept(f, "school-a", &rec, T0, &res), 0);
    check_receipt(f, &res, "school-a", &rec, KT_RECEIPT_ACCEPTED, "ok");
    kt_inbox_result_clear(&res);
    assert_int_equal(inbox_count(f), 1);

    s_id(id, 50);
    kt_retract_encode(body, id);
    mk(f, &ret, f->school, KT_KIND_RETRACT, 51, NOW_S + 1, body, sizeof(body));
    assert_int_equal(accept(f, "school-a", &ret, T0 + 1000, &res), 0);
    check_receipt(f, &res, "school-a", &ret, KT_RECEIPT_PURGED, "ok");
    assert_int_equal(res.duplicate, 0);
    kt_inbox_result_clear(&res);
    assert_int_equal(inbox_count(f), 0);
    /* the same retraction again: the same answer, nothing else */
    assert_int_equal(accept(f, "school-a", &ret, T0 + 2000, &res), 0);
    assert_int_equal(res.duplicate, 1);
    assert_int_equal(res.r.status, KT_RECEIPT_PURGED);
    kt_inbox_result_clear(&res);

    /* retraction of record 52 overtakes record 52 itself */
    s_id(id, 52);
    kt_retract_encode(body, id);
    mk(f, &ret2, f->school, KT_KIND_RETRACT, 53, NOW_S + 1, body, sizeof(body));
    assert_int_equal(accept(f, "school-a", &ret2, T0 + 1000, &res), 0);
    assert_int_equal(res.r.status, KT_RECEIPT_PURGED);
    kt_inbox_result_clear(&res);
    mk_record(f, &late, 52, NOW_S);
    assert_int_equal(accept(f, "school-a", &late, T0 + 3000, &res), 0);
    assert_int_equal(res.duplicate, 1);
    assert_int_equal(res.r.status, KT_RECEIPT_PURGED);
    kt_inbox_result_clear(&res);
    assert_int_equal(inbox_count(f), 0);

    /* a malformed retraction body is rejected, nothing deleted */
    drop(&rec);
    mk_record(f, &rec, 54, NOW_S);
    assert_int_equal(accept(f, "school-a", &rec, T0, &res), 0);
    kt_inbox_result_clear(&res);
    {
        struct msg bad;
        /* well-formed CBOR, wrong shape: a 15-byte ref */
        uint8_t wrong[KT_RETRACT_BYTES - 1] = {0xa1, 0x63, 'r', 'e', 'f', 0x4f};

        mk(f, &bad, f->school, KT_KIND_RETRACT, 55, NOW_S, wrong, sizeof(wrong));
        assert_int_equal(accept(f, "school-a", &bad, T0, &res), 0);
        assert_int_equal(res.r.status, KT_RECEIPT_REJECTED);
        assert_string_equal(res.r.code, "malformed");
        kt_inbox_result_clear(&res);
        drop(&bad);
    }
    assert_int_equal(inbox_count(f), 1);
    drop(&rec);
    drop(&ret);
    drop(&ret2);
    drop(&late);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_accept, s_fresh),
        cmocka_unit_test_setup(test_duplicate, s_fresh),
        cmocka_unit_test_setup(test_expired, s_fresh),
        cmocka_unit_test_setup(test_future, s_fresh),
        cmocka_unit_test_setup(test_malformed, s_fresh),
        cmocka_unit_test_setup(test_denied, s_fresh),
        cmocka_unit_test_setup(test_not_attributed, s_fresh),
        cmocka_unit_test_setup(test_store_failure, s_fresh),
        cmocka_unit_test_setup(test_audit_head, s_fresh),
        cmocka_unit_test_setup(test_expire_seen, s_fresh),
        cmocka_unit_test_setup(test_retract, s_fresh),
        cmocka_unit_test_setup(test_reject, s_fresh),
        cmocka_unit_test_setup(test_list, s_fresh),
    };

    if (kt_keys_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
