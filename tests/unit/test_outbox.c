/*
 * test_outbox.c - the sender's state machine: add, due, send, back off,
 * receipts (accepted, rejected, mismatched, unknown, repeated), wake,
 * held rows, listings, and no plaintext record in the database.
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

#include "keten/outbox.h"

#define BSN "999990044" /* synthetic, passes the elfproef; must never be stored in the clear */
#define T0 INT64_C(1700000000000)
#define CAP INT64_C(10000)

struct fx {
    kt_keys_t *me, *swv, *gem;
    kt_vault_t *v;
    kt_store_t *st;
    uint8_t *rec;
    size_t rec_len;
    uint8_t subject[KT_SUBJECT_BYTES];
    kt_outbox_meta_t meta; /* the fixture's pupil: payloads under their own key */
};

static int s_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    kt_record_t *r = NULL;
    kt_diag_t d;

    if (f == NULL || kt_keys_generate(&f->me, "school-a", KT_ROLE_SCHOOL, &d) != 0 ||
        kt_keys_generate(&f->swv, "swv-b", KT_ROLE_SWV, &d) != 0 ||
        kt_keys_generate(&f->gem, "gemeente-c", KT_ROLE_GEMEENTE, &d) != 0 ||
        kt_vault_new(&f->v, f->me, &d) != 0 || kt_store_open_memory(&f->st, &d) != 0 ||
        kt_record_new(&r, "thuiszitter", &d) != 0 ||
        kt_record_set_text(r, "leerling_id", BSN, &d) != 0 ||
        kt_record_set_text(r, "definitie", "breed", &d) != 0 ||
        kt_record_encode(r, &f->rec, &f->rec_len, &d) != 0 ||
        kt_vault_subject(f->subject, f->v, BSN, &d) != 0)
        return -1;
    f->meta.subject = f->subject;
    f->meta.retention_days = 30;
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
    kt_keys_destroy(&f->swv);
    kt_keys_destroy(&f->gem);
    free(f);
    return 0;
}

static void s_id(uint8_t id[KT_ENVELOPE_ID_BYTES], int n)
{
    memset(id, 0, KT_ENVELOPE_ID_BYTES);
    id[0] = 0xa0;
    id[15] = (uint8_t)n;
}

static void add(struct fx *f, int n, const char *to, kt_out_state_t state, int64_t now)
{
    uint8_t id[KT_ENVELOPE_ID_BYTES];
    kt_diag_t d = {{0}};

    s_id(id, n);
    assert_int_equal(kt_store_begin(f->st, &d), 0);
    assert_int_equal(kt_outbox_add(f->st, f->me, f->v, id, to, "thuiszitter", f->rec, f->rec_len,
                                   state, &f->meta, now, &d),
                     0);
    assert_int_equal(kt_store_commit(f->st, &d), 0);
}

/* The one row of (n, partner). */
static kt_outbox_row_t row(struct fx *f, int n, const char *partner)
{
    uint8_t id[KT_ENVELOPE_ID_BYTES];
    kt_outbox_row_t *rows = NULL, r;
    size_t k = 0, i;
    int found = 0;
    kt_diag_t d;

    s_id(id, n);
    assert_int_equal(kt_outbox_get(f->st, id, &rows, &k, &d), 0);
    for (i = 0; i < k; i++)
        if (strcmp(rows[i].partner, partner) == 0) {
            r = rows[i];
            found = 1;
        }
    free(rows);
    assert_true(found);
    return r;
}

static size_t due(struct fx *f, int64_t now, const char *partner, kt_outbox_item_t *items,
                  size_t max)
{
    size_t n = 99;
    kt_diag_t d;

    assert_int_equal(kt_outbox_due(f->st, f->v, now, partner, items, max, &n, &d), 0);
    return n;
}

static size_t due_count(struct fx *f, int64_t now)
{
    kt_outbox_item_t items[8];
    size_t n = due(f, now, NULL, items, 8), i;

    for (i = 0; i < n; i++)
        kt_outbox_item_clear(&items[i]);
    return n;
}

static void mark_sent(struct fx *f, int n, const char *partner, int64_t now)
{
    uint8_t id[KT_ENVELOPE_ID_BYTES];
    kt_diag_t d;

    s_id(id, n);
    assert_int_equal(kt_outbox_mark_sent(f->st, id, partner, now, CAP, &d), 0);
}

/* A receipt from `partner` about record n; digest of what we signed unless `digest`. */
static int apply(struct fx *f, int n, const char *partner, kt_receipt_status_t status,
                 const char *code, const uint8_t *digest, uint8_t **signed_out, size_t *slen)
{
    const kt_keys_t *signer = strcmp(partner, "swv-b") == 0 ? f->swv : f->gem;
    uint8_t id[KT_ENVELOPE_ID_BYTES], mid[KT_ENVELOPE_ID_BYTES], *sig = NULL, *body = NULL;
    uint8_t *sent = NULL;
    size_t sent_len = 0, blen = 0, len = 0;
    kt_receipt_t r;
    kt_diag_t d;
    int rc;

    s_id(id, n);
    memset(&r, 0, sizeof(r));
    memcpy(r.ref, id, sizeof(r.ref));
    if (digest != NULL) {
        memcpy(r.digest, digest, sizeof(r.digest));
    } else if (kt_outbox_signed(f->st, f->v, id, partner, &sent, &sent_len, &d) == 0) {
        kt_vault_digest(r.digest, sent, sent_len);
        kt_vault_free(sent, sent_len);
    }
    r.status = status;
    snprintf(r.code, sizeof(r.code), "%s", code);
    assert_int_equal(kt_receipt_encode(&body, &blen, &r, &d), 0);
    s_id(mid, 200 + n);
    assert_int_equal(kt_envelope_sign(&sig, &len, KT_KIND_RECEIPT, mid, (uint64_t)(T0 / 1000),
                                      "school-a", body, blen, signer, &d),
                     0);
    free(body);
    assert_int_equal(kt_store_begin(f->st, &d), 0);
    rc = kt_outbox_apply_receipt(f->st, "test-actor", partner, &r, sig, len, T0 + 5000, &d);
    assert_int_equal(kt_store_commit(f->st, &d), 0);
    if (signed_out != NULL) {
        *signed_out = sig;
        *slen = len;
    } else {
        kt_envelope_free(sig, len);
    }
    return rc;
}

static void test_add_due_send(void **state)
{
    struct fx *f = *state;
    kt_outbox_item_t items[4];
    kt_outbox_row_t r;
    kt_payload_t p;
    uint8_t id[KT_ENVELOPE_ID_BYTES];
    kt_diag_t d;

    add(f, 1, "swv-b", KT_OUT_QUEUED, T0);
    r = row(f, 1, "swv-b");
    assert_int_equal(r.state, KT_OUT_QUEUED);
    assert_int_equal(r.attempts, 0);
    assert_int_equal(r.next_attempt_ms, T0);
    assert_int_equal(r.created_ms, T0);
    assert_int_equal(r.updated_ms, T0);
    assert_string_equal(r.record_type, "thuiszitter");
    assert_string_equal(r.reason, "");
    assert_int_equal(due(f, T0 - 1, NULL, items, 4), 0);
    assert_int_equal(due(f, T0, NULL, items, 4), 1);
    /* what goes out is the record signed by us, for the partner, under its id */
    s_id(id, 1);
    assert_memory_equal(items[0].id, id, sizeof(id));
    assert_string_equal(items[0].partner, "swv-b");
    assert_int_equal(items[0].attempts, 0);
    assert_int_equal(
        kt_envelope_verify(&p, items[0].signed_buf, items[0].signed_len, kt_keys_public(f->me), &d),
        0);
    assert_int_equal(p.kind, KT_KIND_RECORD);
    assert_memory_equal(p.id, id, sizeof(id));
    assert_string_equal(p.to, "swv-b");
    assert_int_equal(p.created, T0 / 1000);
    assert_int_equal(p.body_len, f->rec_len);
    assert_memory_equal(p.body, f->rec, f->rec_len);
    kt_outbox_item_clear(&items[0]);
    assert_null(items[0].signed_buf);
    kt_outbox_item_clear(&items[0]); /* idempotent */

    assert_int_equal(kt_store_begin(f->st, &d), 0);
    mark_sent(f, 1, "swv-b", T0);
    assert_int_equal(kt_store_commit(f->st, &d), 0);
    r = row(f, 1, "swv-b");
    assert_int_equal(r.state, KT_OUT_SENT);
    assert_int_equal(r.attempts, 1);
    assert_in_range(r.next_attempt_ms, T0 + 250, T0 + 500);
    assert_int_equal(due(f, r.next_attempt_ms - 1, NULL, items, 4), 0);
    assert_int_equal(due_count(f, r.next_attempt_ms), 1); /* no receipt: send again */

    /* the same (id, partner) twice is refused; another partner is another row */
    assert_int_equal(kt_store_begin(f->st, &d), 0);
    assert_int_equal(kt_outbox_add(f->st, f->me, f->v, id, "swv-b", "thuiszitter", f->rec,
                                   f->rec_len, KT_OUT_QUEUED, NULL, T0, &d),
                     KT_EEXIST);
    assert_string_equal(d.msg, "record a0000000000000000000000000000001 is already in the outbox "
                               "for swv-b");
    assert_int_equal(kt_outbox_add(f->st, f->me, f->v, id, "gemeente-c", "thuiszitter", f->rec,
                                   f->rec_len, KT_OUT_QUEUED, NULL, T0, &d),
                     0);
    kt_store_rollback(f->st);
}

static void test_add_refuses(void **state)
{
    struct fx *f = *state;
    uint8_t id[KT_ENVELOPE_ID_BYTES];
    size_t counts[KT_OUT_NSTATES], i;
    kt_diag_t d;

    s_id(id, 2);
    assert_int_equal(kt_store_begin(f->st, &d), 0);
    assert_int_equal(kt_outbox_add(f->st, f->me, f->v, id, "Bad Partner", "thuiszitter", f->rec,
                                   f->rec_len, KT_OUT_QUEUED, NULL, T0, &d),
                     KT_EINVAL);
    assert_int_equal(kt_outbox_add(f->st, f->me, f->v, id, "swv-b", "thuiszitter", f->rec,
                                   f->rec_len, KT_OUT_SENT, NULL, T0, &d),
                     KT_EINVAL);
    assert_int_equal(kt_outbox_add(f->st, f->me, f->v, id, "swv-b", "Thuis zitter", f->rec,
                                   f->rec_len, KT_OUT_QUEUED, NULL, T0, &d),
                     KT_EINVAL);
    assert_int_equal(kt_outbox_add(f->st, f->me, f->v, id, "swv-b", "thuiszitter",
                                   (const uint8_t *)"\xff", 1, KT_OUT_QUEUED, NULL, T0, &d),
                     KT_EMALFORMED);
    assert_int_equal(kt_store_commit(f->st, &d), 0);
    assert_int_equal(kt_outbox_counts(f->st, counts, &d), 0);
    for (i = 0; i < KT_OUT_NSTATES; i++)
        assert_int_equal(counts[i], 0);
}

static void test_backoff(void **state)
{
    int64_t v, lo = INT64_MAX, hi = 0, bound;
    int a, i;

    (void)state;
    for (a = 0; a < 70; a++) {
        bound = a < 20 && (INT64_C(500) << a) < CAP ? INT64_C(500) << a : CAP;
        for (i = 0; i < 50; i++) {
            v = kt_outbox_backoff_ms(a, CAP);
            assert_in_range(v, (bound + 1) / 2, bound);
        }
    }
    assert_in_range(kt_outbox_backoff_ms(0, CAP), 250, 500);
    assert_in_range(kt_outbox_backoff_ms(-3, CAP), 250, 500);
    assert_in_range(kt_outbox_backoff_ms(1000, 0), KT_OUTBOX_RETRY_MAX_MS_DEFAULT / 2,
                    KT_OUTBOX_RETRY_MAX_MS_DEFAULT);
    assert_in_range(kt_outbox_backoff_ms(INT32_MAX, INT64_C(1) << 40), INT64_C(1) << 39,
                    INT64_C(1) << 40);
    /* jittered: spread over the whole [0.5, 1] band, not one value */
    for (i = 0; i < 400; i++) {
        v = kt_outbox_backoff_ms(3, CAP); /* bound 4000 */
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    assert_true(lo < 2400);
    assert_true(hi > 3600);
}

/* Grows with each attempt, and stops growing at the cap. */
static void test_backoff_schedule(void **state)
{
    struct fx *f = *state;
    int64_t now = T0, prev_bound = 0, bound;
    kt_outbox_row_t r;
    kt_diag_t d;
    int a;

    add(f, 3, "swv-b", KT_OUT_QUEUED, T0);
    for (a = 0; a < 8; a++) {
        assert_int_equal(kt_store_begin(f->st, &d), 0);
        mark_sent(f, 3, "swv-b", now);
        assert_int_equal(kt_store_commit(f->st, &d), 0);
        r = row(f, 3, "swv-b");
        bound = (INT64_C(500) << a) < CAP ? INT64_C(500) << a : CAP;
        assert_int_equal(r.attempts, a + 1);
        assert_in_range(r.next_attempt_ms - now, (bound + 1) / 2, bound);
        assert_true(bound >= prev_bound);
        prev_bound = bound;
        now = r.next_attempt_ms;
    }
    assert_int_equal(prev_bound, CAP);
}

static void test_receipt_accepted(void **state)
{
    struct fx *f = *state;
    uint8_t *sig = NULL;
    size_t slen = 0, counts[KT_OUT_NSTATES];
    int64_t when;
    kt_outbox_row_t r;
    kt_stmt_t *q = NULL;
    kt_diag_t d;

    add(f, 4, "swv-b", KT_OUT_QUEUED, T0);
    assert_int_equal(kt_store_begin(f->st, &d), 0);
    mark_sent(f, 4, "swv-b", T0);
    assert_int_equal(kt_store_commit(f->st, &d), 0);
    assert_int_equal(apply(f, 4, "swv-b", KT_RECEIPT_ACCEPTED, "ok", NULL, &sig, &slen), 0);
    r = row(f, 4, "swv-b");
    assert_int_equal(r.state, KT_OUT_DELIVERED);
    assert_int_equal(r.next_attempt_ms, 0);
    assert_int_equal(r.updated_ms, T0 + 5000);
    assert_string_equal(r.reason, "");
    assert_int_equal(due_count(f, T0 + 100000000), 0);
    assert_int_equal(kt_outbox_next_due(f->st, &when, &d), KT_ENOENT);
    /* the partner's signed receipt is kept as it came */
    assert_int_equal(kt_store_prepare(f->st, &q, "SELECT receipt FROM outbox WHERE id = ?1", &d),
                     0);
    assert_int_equal(kt_stmt_bind_blob(q, 1, (const uint8_t[16]){0xa0, [15] = 4}, 16), 0);
    assert_int_equal(kt_stmt_step(q, &d), KT_STORE_ROW);
    assert_non_null(kt_stmt_column_blob(q, 0));
    assert_int_equal(kt_stmt_column_bytes(q, 0), slen);
    assert_memory_equal(kt_stmt_column_blob(q, 0), sig, slen);
    kt_stmt_finalize(&q);
    kt_envelope_free(sig, slen);
    /* twice, or a contradicting one later: nothing changes */
    assert_int_equal(apply(f, 4, "swv-b", KT_RECEIPT_ACCEPTED, "ok", NULL, NULL, NULL), 0);
    assert_int_equal(apply(f, 4, "swv-b", KT_RECEIPT_REJECTED, "denied", NULL, NULL, NULL), 0);
    r = row(f, 4, "swv-b");
    assert_int_equal(r.state, KT_OUT_DELIVERED);
    assert_string_equal(r.reason, "");
    assert_int_equal(kt_outbox_counts(f->st, counts, &d), 0);
    assert_int_equal(counts[KT_OUT_DELIVERED], 1);
    assert_int_equal(counts[KT_OUT_SENT], 0);
}

static void test_receipt_rejected(void **state)
{
    struct fx *f = *state;
    kt_outbox_row_t r;

    add(f, 5, "swv-b", KT_OUT_QUEUED, T0);
    /* a receipt may overtake our own bookkeeping: queued goes straight to final */
    assert_int_equal(apply(f, 5, "swv-b", KT_RECEIPT_REJECTED, "denied", NULL, NULL, NULL), 0);
    r = row(f, 5, "swv-b");
    assert_int_equal(r.state, KT_OUT_REJECTED);
    assert_string_equal(r.reason, "denied");
    assert_int_equal(r.next_attempt_ms, 0);
    assert_int_equal(apply(f, 5, "swv-b", KT_RECEIPT_ACCEPTED, "ok", NULL, NULL, NULL), 0);
    r = row(f, 5, "swv-b");
    assert_int_equal(r.state, KT_OUT_REJECTED);
    assert_string_equal(r.reason, "denied");
}

static void test_receipt_mismatch_unknown(void **state)
{
    struct fx *f = *state;
    uint8_t digest[32];
    kt_outbox_row_t before, after;

    add(f, 6, "swv-b", KT_OUT_QUEUED, T0);
    add(f, 6, "gemeente-c", KT_OUT_QUEUED, T0);
    before = row(f, 6, "swv-b");
    memset(digest, 0x11, sizeof(digest));
    assert_int_equal(apply(f, 6, "swv-b", KT_RECEIPT_ACCEPTED, "ok", digest, NULL, NULL), KT_EAUTH);
    after = row(f, 6, "swv-b");
    assert_memory_equal(&after, &before, sizeof(before));
    /* unknown id; and a known id from a partner it was not sent to */
    assert_int_equal(apply(f, 60, "swv-b", KT_RECEIPT_ACCEPTED, "ok", digest, NULL, NULL),
                     KT_ENOENT);
    add(f, 61, "gemeente-c", KT_OUT_QUEUED, T0);
    assert_int_equal(apply(f, 61, "swv-b", KT_RECEIPT_ACCEPTED, "ok", digest, NULL, NULL),
                     KT_ENOENT);
    /* the digest of the copy sent to the other partner does not fit this row */
    {
        uint8_t *sent = NULL, id[KT_ENVELOPE_ID_BYTES];
        size_t len = 0;
        kt_diag_t d;

        s_id(id, 6);
        assert_int_equal(kt_outbox_signed(f->st, f->v, id, "gemeente-c", &sent, &len, &d), 0);
        kt_vault_digest(digest, sent, len);
        kt_vault_free(sent, len);
    }
    assert_int_equal(apply(f, 6, "swv-b", KT_RECEIPT_ACCEPTED, "ok", digest, NULL, NULL), KT_EAUTH);
    assert_int_equal(row(f, 6, "swv-b").state, KT_OUT_QUEUED);
}

static void test_receipt_internal_purged(void **state)
{
    struct fx *f = *state;
    kt_outbox_row_t r;
    kt_diag_t d;

    add(f, 7, "swv-b", KT_OUT_QUEUED, T0);
    assert_int_equal(kt_store_begin(f->st, &d), 0);
    mark_sent(f, 7, "swv-b", T0);
    assert_int_equal(kt_store_commit(f->st, &d), 0);
    /* "internal": the receiver could not commit; we must send again */
    assert_int_equal(apply(f, 7, "swv-b", KT_RECEIPT_REJECTED, "internal", NULL, NULL, NULL), 0);
    r = row(f, 7, "swv-b");
    assert_int_equal(r.state, KT_OUT_SENT);
    assert_true(r.next_attempt_ms > 0);
    /* purged: the receiver had a tombstone for it (its retraction arrived
     * first), so the record is gone there and the row is final here */
    assert_int_equal(apply(f, 7, "swv-b", KT_RECEIPT_PURGED, "ok", NULL, NULL, NULL), 0);
    assert_int_equal(row(f, 7, "swv-b").state, KT_OUT_PURGED);
    assert_int_equal(due_count(f, T0 + 100 * CAP), 0);
}

static void test_wake(void **state)
{
    struct fx *f = *state;
    int64_t when = 0;
    kt_diag_t d;

    add(f, 8, "swv-b", KT_OUT_QUEUED, T0);
    add(f, 9, "gemeente-c", KT_OUT_QUEUED, T0);
    assert_int_equal(kt_store_begin(f->st, &d), 0);
    mark_sent(f, 8, "swv-b", T0);
    mark_sent(f, 8, "swv-b", T0);
    mark_sent(f, 8, "swv-b", T0); /* next attempt 1000..2000 ms on */
    mark_sent(f, 9, "gemeente-c", T0);
    assert_int_equal(kt_outbox_wake(f->st, "swv-b", T0 + 10, &d), 0);
    assert_int_equal(kt_store_commit(f->st, &d), 0);
    assert_int_equal(row(f, 8, "swv-b").next_attempt_ms, T0 + 10);
    assert_true(row(f, 9, "gemeente-c").next_attempt_ms >= T0 + 250); /* other partner: as was */
    assert_int_equal(kt_outbox_next_due(f->st, &when, &d), 0);
    assert_int_equal(when, T0 + 10);
    assert_int_equal(due_count(f, T0 + 10), 1);
    /* waking never pushes a row that is already due later */
    assert_int_equal(kt_store_begin(f->st, &d), 0);
    assert_int_equal(kt_outbox_wake(f->st, "swv-b", T0 + 20, &d), 0);
    assert_int_equal(kt_store_commit(f->st, &d), 0);
    assert_int_equal(row(f, 8, "swv-b").next_attempt_ms, T0 + 10);
}

static void test_held(void **state)
{
    struct fx *f = *state;
    uint8_t id[KT_ENVELOPE_ID_BYTES];
    size_t counts[KT_OUT_NSTATES];
    int64_t when = 5;
    kt_outbox_row_t r;
    kt_diag_t d;

    add(f, 10, "swv-b", KT_OUT_HELD, T0);
    r = row(f, 10, "swv-b");
    assert_int_equal(r.state, KT_OUT_HELD);
    assert_int_equal(r.next_attempt_ms, 0);
    assert_int_equal(due_count(f, INT64_MAX), 0);
    assert_int_equal(kt_outbox_next_due(f->st, &when, &d), KT_ENOENT);
    assert_int_equal(kt_store_begin(f->st, &d), 0);
    assert_int_equal(kt_outbox_wake(f->st, "swv-b", T0, &d), 0);
    s_id(id, 10);
    assert_int_equal(kt_outbox_mark_sent(f->st, id, "swv-b", T0, CAP, &d), KT_EINVAL);
    assert_string_equal(d.msg, "record a000000000000000000000000000000a to swv-b is held, not "
                               "waiting to be sent");
    assert_int_equal(kt_store_commit(f->st, &d), 0);
    assert_int_equal(due_count(f, INT64_MAX), 0);
    assert_int_equal(apply(f, 10, "swv-b", KT_RECEIPT_ACCEPTED, "ok", NULL, NULL, NULL), KT_ENOENT);
    assert_int_equal(row(f, 10, "swv-b").state, KT_OUT_HELD);
    assert_int_equal(kt_outbox_counts(f->st, counts, &d), 0);
    assert_int_equal(counts[KT_OUT_HELD], 1);
    assert_int_equal(counts[KT_OUT_QUEUED], 0);
}

static void test_next_due_and_order(void **state)
{
    struct fx *f = *state;
    kt_outbox_item_t items[4];
    int64_t when = 0;
    kt_diag_t d;

    assert_int_equal(kt_outbox_next_due(f->st, &when, &d), KT_ENOENT);
    add(f, 11, "swv-b", KT_OUT_QUEUED, T0 + 300);
    add(f, 12, "gemeente-c", KT_OUT_QUEUED, T0 + 100);
    add(f, 13, "swv-b", KT_OUT_QUEUED, T0 + 200);
    assert_int_equal(kt_outbox_next_due(f->st, &when, &d), 0);
    assert_int_equal(when, T0 + 100);
    /* oldest first, at most max, optionally one partner */
    assert_int_equal(due(f, T0 + 1000, NULL, items, 2), 2);
    assert_int_equal(items[0].id[15], 12);
    assert_int_equal(items[1].id[15], 13);
    kt_outbox_item_clear(&items[0]);
    kt_outbox_item_clear(&items[1]);
    assert_int_equal(due(f, T0 + 1000, "swv-b", items, 4), 2);
    assert_int_equal(items[0].id[15], 13);
    assert_int_equal(items[1].id[15], 11);
    kt_outbox_item_clear(&items[0]);
    kt_outbox_item_clear(&items[1]);
    assert_int_equal(due(f, T0 + 1000, "nobody", items, 4), 0);
    assert_int_equal(due(f, T0 + 1000, NULL, items, 0), 0);
}

static void test_list_counts_get(void **state)
{
    struct fx *f = *state;
    kt_outbox_row_t *rows = NULL;
    size_t n = 0, counts[KT_OUT_NSTATES];
    uint8_t id[KT_ENVELOPE_ID_BYTES];
    kt_out_state_t s;
    kt_diag_t d;

    add(f, 20, "swv-b", KT_OUT_QUEUED, T0 + 1);
    add(f, 20, "gemeente-c", KT_OUT_QUEUED, T0 + 1);
    add(f, 21, "swv-b", KT_OUT_HELD, T0 + 2);
    add(f, 22, "swv-b", KT_OUT_QUEUED, T0 + 3);
    assert_int_equal(apply(f, 22, "swv-b", KT_RECEIPT_REJECTED, "expired", NULL, NULL, NULL), 0);
    assert_int_equal(kt_outbox_counts(f->st, counts, &d), 0);
    assert_int_equal(counts[KT_OUT_QUEUED], 2);
    assert_int_equal(counts[KT_OUT_HELD], 1);
    assert_int_equal(counts[KT_OUT_REJECTED], 1);
    assert_int_equal(counts[KT_OUT_SENT] + counts[KT_OUT_DELIVERED], 0);
    /* all, newest first */
    assert_int_equal(kt_outbox_list(f->st, -1, &rows, &n, &d), 0);
    assert_int_equal(n, 4);
    assert_int_equal(rows[0].id[15], 22);
    assert_string_equal(rows[0].reason, "expired");
    assert_int_equal(rows[1].id[15], 21);
    assert_int_equal(rows[3].id[15], 20);
    free(rows);
    assert_int_equal(kt_outbox_list(f->st, KT_OUT_QUEUED, &rows, &n, &d), 0);
    assert_int_equal(n, 2);
    assert_int_equal(rows[0].state, KT_OUT_QUEUED);
    assert_int_equal(rows[1].state, KT_OUT_QUEUED);
    free(rows);
    assert_int_equal(kt_outbox_list(f->st, KT_OUT_DELIVERED, &rows, &n, &d), 0);
    assert_int_equal(n, 0);
    free(rows);
    assert_int_equal(kt_outbox_list(f->st, KT_OUT_NSTATES, &rows, &n, &d), KT_EINVAL);
    /* one id, one row per recipient */
    s_id(id, 20);
    assert_int_equal(kt_outbox_get(f->st, id, &rows, &n, &d), 0);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].partner, "gemeente-c");
    assert_string_equal(rows[1].partner, "swv-b");
    free(rows);
    s_id(id, 99);
    assert_int_equal(kt_outbox_get(f->st, id, &rows, &n, &d), KT_ENOENT);
    assert_string_equal(d.msg, "no record a0000000000000000000000000000063 in the outbox");
    assert_null(rows);
    /* state names */
    assert_string_equal(kt_outbox_state_name(KT_OUT_DELIVERED), "delivered");
    assert_string_equal(kt_outbox_state_name(KT_OUT_NSTATES), "unknown");
    assert_int_equal(kt_outbox_state_parse("held", &s), 0);
    assert_int_equal(s, KT_OUT_HELD);
    assert_int_equal(kt_outbox_state_parse("retracted", &s), 0);
    assert_int_equal(s, KT_OUT_RETRACTED);
    assert_int_equal(kt_outbox_state_parse("bezorgd", &s), KT_EINVAL);
    assert_int_equal(kt_outbox_state_parse(NULL, &s), KT_EINVAL);
}

static void test_signed_and_at_rest(void **state)
{
    struct fx *f = *state;
    uint8_t id[KT_ENVELOPE_ID_BYTES], *out = NULL;
    kt_outbox_item_t items[2];
    size_t len = 0, blobs = 0;
    kt_stmt_t *q = NULL;
    kt_payload_t p;
    kt_diag_t d;

    add(f, 30, "swv-b", KT_OUT_QUEUED, T0);
    add(f, 30, "gemeente-c", KT_OUT_QUEUED, T0);
    s_id(id, 30);
    assert_int_equal(kt_outbox_signed(f->st, f->v, id, "swv-b", &out, &len, &d), 0);
    assert_int_equal(due(f, T0, "swv-b", items, 2), 1);
    assert_int_equal(items[0].signed_len, len);
    assert_memory_equal(items[0].signed_buf, out, len);
    kt_outbox_item_clear(&items[0]);
    assert_int_equal(kt_envelope_verify(&p, out, len, kt_keys_public(f->me), &d), 0);
    assert_memory_equal(p.body, f->rec, f->rec_len);
    assert_non_null(memmem(out, len, BSN, 9)); /* the marker is really in the record */
    kt_vault_free(out, len);
    assert_int_equal(kt_outbox_signed(f->st, f->v, id, "nobody", &out, &len, &d), KT_ENOENT);
    assert_null(out);

    /* the payload column never holds the record in the clear */
    assert_int_equal(kt_store_prepare(f->st, &q, "SELECT payload, digest FROM outbox", &d), 0);
    while (kt_stmt_step(q, &d) == KT_STORE_ROW) {
        const void *b = kt_stmt_column_blob(q, 0);
        size_t n = kt_stmt_column_bytes(q, 0);

        assert_non_null(b);
        assert_true(n > KT_VAULT_OVERHEAD_BYTES + f->rec_len);
        /* under the pupil's own key: forgetting it shreds every copy */
        assert_int_equal(((const uint8_t *)b)[0], KT_VAULT_SUBJECT_VERSION);
        assert_null(memmem(b, n, BSN, 9));
        assert_null(memmem(b, n, "breed", 5));
        assert_int_equal(kt_stmt_column_bytes(q, 1), 32);
        blobs++;
    }
    kt_stmt_finalize(&q);
    assert_int_equal(blobs, 2);

    /* a payload moved to another row does not open there */
    assert_int_equal(kt_store_exec(f->st,
                                   "UPDATE outbox SET payload = (SELECT payload FROM outbox WHERE"
                                   " partner = 'gemeente-c') WHERE partner = 'swv-b'",
                                   &d),
                     0);
    assert_int_equal(kt_outbox_signed(f->st, f->v, id, "swv-b", &out, &len, &d), KT_EAUTH);
    assert_null(out);
    memset(items, 0x5a, sizeof(items));
    assert_int_equal(kt_outbox_due(f->st, f->v, T0, "swv-b", items, 2, &len, &d), KT_EAUTH);
    assert_int_equal(len, 0);
    assert_int_equal(kt_outbox_signed(f->st, f->v, id, "gemeente-c", &out, &len, &d), 0);
    kt_vault_free(out, len);
}

/* The same search on the database file itself, WAL included. */
static void test_file_has_no_plaintext(void **state)
{
    struct fx *f = *state;
    char dir[] = "/tmp/keten-test-outbox.XXXXXX", path[96], side[112];
    const char *sfx[] = {"", "-wal", "-shm"};
    uint8_t id[KT_ENVELOPE_ID_BYTES];
    static uint8_t buf[1 << 20];
    kt_store_t *st = NULL;
    size_t i, n, total = 0;
    FILE *fp;
    kt_diag_t d;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/node.db", dir);
    assert_int_equal(kt_store_open(&st, path, &d), 0);
    s_id(id, 40);
    assert_int_equal(kt_store_begin(st, &d), 0);
    assert_int_equal(kt_outbox_add(st, f->me, f->v, id, "swv-b", "thuiszitter", f->rec, f->rec_len,
                                   KT_OUT_QUEUED, NULL, T0, &d),
                     0);
    assert_int_equal(kt_store_commit(st, &d), 0);
    for (i = 0; i < 3; i++) {
        snprintf(side, sizeof(side), "%s%s", path, sfx[i]);
        if ((fp = fopen(side, "rb")) == NULL)
            continue;
        n = fread(buf, 1, sizeof(buf), fp); /* a one-row database fits */
        assert_true(feof(fp));
        fclose(fp);
        assert_null(memmem(buf, n, BSN, 9));
        total += n;
    }
    assert_true(total > 4096);
    kt_store_close(&st);
    for (i = 0; i < 3; i++) {
        snprintf(side, sizeof(side), "%s%s", path, sfx[i]);
        unlink(side);
    }
    rmdir(dir);
}

/* Each test gets a fresh database. */
static int s_fresh(void **state)
{
    struct fx *f = *state;
    kt_diag_t d;

    kt_store_close(&f->st);
    return kt_store_open_memory(&f->st, &d);
}

/* A held row released by consent is signed again, now, and queued under it. */
static void test_release(void **state)
{
    struct fx *f = *state;
    uint8_t id[KT_ENVELOPE_ID_BYTES], consent[KT_ENVELOPE_ID_BYTES], *buf = NULL;
    size_t len = 0;
    kt_outbox_row_t *held = NULL, r;
    kt_payload_t pl;
    size_t n = 0;
    kt_diag_t d;

    add(f, 30, "gemeente-c", KT_OUT_HELD, T0);
    assert_int_equal(kt_outbox_held(f->st, &held, &n, &d), 0);
    assert_int_equal(n, 1);
    assert_int_equal(held[0].has_consent, 0);
    free(held);
    s_id(id, 30);
    memset(consent, 0xc5, sizeof(consent));
    assert_int_equal(kt_store_begin(f->st, &d), 0);
    assert_int_equal(kt_outbox_release(f->st, f->me, f->v, id, "gemeente-c", consent, f->rec,
                                       f->rec_len, T0 + 86400000, &d),
                     0);
    /* a second release finds it queued, not held */
    assert_int_equal(kt_outbox_release(f->st, f->me, f->v, id, "gemeente-c", consent, f->rec,
                                       f->rec_len, T0 + 86400000, &d),
                     KT_EINVAL);
    assert_string_equal(d.msg, "record a000000000000000000000000000001e to gemeente-c is queued, "
                               "not held");
    assert_int_equal(kt_store_commit(f->st, &d), 0);
    r = row(f, 30, "gemeente-c");
    assert_int_equal(r.state, KT_OUT_QUEUED);
    assert_int_equal(r.has_consent, 1);
    assert_memory_equal(r.consent_id, consent, sizeof(consent));
    /* signed anew: created is the release time, the record is the same */
    assert_int_equal(kt_outbox_signed(f->st, f->v, id, "gemeente-c", &buf, &len, &d), 0);
    assert_int_equal(kt_envelope_verify(&pl, buf, len, kt_keys_public(f->me), &d), 0);
    assert_true(pl.created == (uint64_t)((T0 + 86400000) / 1000));
    assert_memory_equal(pl.id, id, sizeof(id));
    assert_int_equal(pl.body_len, f->rec_len);
    assert_memory_equal(pl.body, f->rec, f->rec_len);
    kt_vault_free(buf, len);
    assert_int_equal(due_count(f, T0 + 86400000), 1);
}

/* Withdrawal: what never left is purged, what left is retracted and a
 * retraction goes out; its purged receipt makes the record purged. */
static void test_retract_consent(void **state)
{
    struct fx *f = *state;
    uint8_t consent[KT_ENVELOPE_ID_BYTES], id[KT_ENVELOPE_ID_BYTES], ref[KT_ENVELOPE_ID_BYTES];
    kt_outbox_item_t items[8];
    kt_payload_t pl;
    size_t n = 0, k, i;
    kt_diag_t d;

    memset(consent, 0x77, sizeof(consent));
    add(f, 40, "gemeente-c", KT_OUT_QUEUED, T0); /* will be delivered */
    add(f, 41, "gemeente-c", KT_OUT_QUEUED, T0); /* will stay queued */
    add(f, 42, "gemeente-c", KT_OUT_QUEUED, T0); /* another consent */
    assert_int_equal(kt_store_begin(f->st, &d), 0);
    s_id(id, 40);
    assert_int_equal(kt_outbox_set_consent(f->st, id, "gemeente-c", consent, &d), 0);
    s_id(id, 41);
    assert_int_equal(kt_outbox_set_consent(f->st, id, "gemeente-c", consent, &d), 0);
    mark_sent(f, 40, "gemeente-c", T0);
    assert_int_equal(kt_store_commit(f->st, &d), 0);
    assert_int_equal(apply(f, 40, "gemeente-c", KT_RECEIPT_ACCEPTED, "ok", NULL, NULL, NULL), 0);

    assert_int_equal(kt_store_begin(f->st, &d), 0);
    assert_int_equal(kt_outbox_retract_consent(f->st, f->me, f->v, consent, T0 + 1000, &n, &d), 0);
    assert_int_equal(kt_store_commit(f->st, &d), 0);
    assert_int_equal(n, 1);
    assert_int_equal(row(f, 40, "gemeente-c").state, KT_OUT_RETRACTED);
    assert_int_equal(row(f, 41, "gemeente-c").state, KT_OUT_PURGED);
    assert_int_equal(row(f, 42, "gemeente-c").state, KT_OUT_QUEUED);

    /* the retraction is due, signed as kind retract, naming record 40 */
    k = due(f, T0 + 1000, "gemeente-c", items, 8);
    for (i = 0; i < k && items[i].kind != KT_KIND_RETRACT; i++)
        ;
    assert_true(i < k);
    assert_int_equal(kt_envelope_verify(&pl, items[i].signed_buf, items[i].signed_len,
                                        kt_keys_public(f->me), &d),
                     0);
    assert_int_equal(pl.kind, KT_KIND_RETRACT);
    assert_int_equal(kt_retract_decode(ref, pl.body, pl.body_len, &d), 0);
    s_id(id, 40);
    assert_memory_equal(ref, id, sizeof(id));
    {
        /* gemeente-c answers purged for the retraction */
        uint8_t mid[KT_ENVELOPE_ID_BYTES], *body = NULL, *sig = NULL;
        size_t blen = 0, slen = 0;
        kt_receipt_t r;

        memset(&r, 0, sizeof(r));
        memcpy(r.ref, pl.id, sizeof(r.ref));
        kt_vault_digest(r.digest, items[i].signed_buf, items[i].signed_len);
        r.status = KT_RECEIPT_PURGED;
        strcpy(r.code, "ok");
        kt_envelope_new_id(mid);
        assert_int_equal(kt_receipt_encode(&body, &blen, &r, &d), 0);
        assert_int_equal(kt_envelope_sign(&sig, &slen, KT_KIND_RECEIPT, mid, T0 / 1000, "school-a",
                                          body, blen, f->gem, &d),
                         0);
        assert_int_equal(kt_store_begin(f->st, &d), 0);
        assert_int_equal(kt_outbox_apply_receipt(f->st, "test-actor", "gemeente-c", &r, sig, slen,
                                                 T0 + 2000, &d),
                         0);
        assert_int_equal(kt_store_commit(f->st, &d), 0);
        free(body);
        kt_envelope_free(sig, slen);
    }
    for (i = 0; i < k; i++)
        kt_outbox_item_clear(&items[i]);
    assert_int_equal(row(f, 40, "gemeente-c").state, KT_OUT_PURGED);
    /* a purged row keeps no payload; retractions are not listed */
    s_id(id, 40);
    {
        uint8_t *buf = NULL;
        size_t len = 0;

        assert_int_equal(kt_outbox_signed(f->st, f->v, id, "gemeente-c", &buf, &len, &d),
                         KT_ENOENT);
    }
    {
        size_t counts[KT_OUT_NSTATES];

        assert_int_equal(kt_outbox_counts(f->st, counts, &d), 0);
        assert_int_equal(counts[KT_OUT_PURGED], 2);
        assert_int_equal(counts[KT_OUT_QUEUED], 1);
        assert_int_equal(counts[KT_OUT_DELIVERED], 0); /* the retraction row is not counted */
    }
}

/* Forgetting the pupil's key makes every payload of theirs unreadable. */
static void test_shredded(void **state)
{
    struct fx *f = *state;
    uint8_t id[KT_ENVELOPE_ID_BYTES], *out = NULL;
    kt_outbox_item_t items[2];
    size_t len = 0;
    kt_diag_t d;

    add(f, 60, "swv-b", KT_OUT_QUEUED, T0);
    s_id(id, 60);
    assert_int_equal(kt_outbox_signed(f->st, f->v, id, "swv-b", &out, &len, &d), 0);
    kt_vault_free(out, len);
    assert_int_equal(kt_store_exec(f->st, "DELETE FROM subject_keys", &d), 0);
    assert_int_not_equal(kt_outbox_signed(f->st, f->v, id, "swv-b", &out, &len, &d), 0);
    assert_null(out);
    assert_non_null(strstr(d.msg, "outbox row a000000000000000000000000000003c to swv-b"));
    {
        size_t n = 99;

        assert_int_not_equal(kt_outbox_due(f->st, f->v, T0, NULL, items, 2, &n, &d), 0);
        assert_int_equal(n, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_add_due_send, s_fresh),
        cmocka_unit_test_setup(test_add_refuses, s_fresh),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test_setup(test_backoff_schedule, s_fresh),
        cmocka_unit_test_setup(test_receipt_accepted, s_fresh),
        cmocka_unit_test_setup(test_receipt_rejected, s_fresh),
        cmocka_unit_test_setup(test_receipt_mismatch_unknown, s_fresh),
        cmocka_unit_test_setup(test_receipt_internal_purged, s_fresh),
        cmocka_unit_test_setup(test_wake, s_fresh),
        cmocka_unit_test_setup(test_held, s_fresh),
        cmocka_unit_test_setup(test_next_due_and_order, s_fresh),
        cmocka_unit_test_setup(test_list_counts_get, s_fresh),
        cmocka_unit_test_setup(test_signed_and_at_rest, s_fresh),
        cmocka_unit_test_setup(test_release, s_fresh),
        cmocka_unit_test_setup(test_shredded, s_fresh),
        cmocka_unit_test_setup(test_retract_consent, s_fresh),
        cmocka_unit_test(test_file_has_no_plaintext),
    };

    if (kt_keys_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
