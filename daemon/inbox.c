/*
 * inbox.c - the receiver's side of store-and-forward (inbox.h): decide,
 * commit, deduplicate and sign the receipt.
 *
 * Owns the inbox and seen_ids rows. A received record is judged (replayed,
 * too old or too new, malformed, refused by the incoming hook, or accepted),
 * stored locked at rest (AD "inbox" || sender || id) when accepted, and
 * answered with a receipt that is signed and remembered with its id in the
 * caller's transaction, so a replay gets the very same receipt back. It must
 * never store or answer anything when a store write fails (the caller rolls
 * back and the sender retries), never apply a record twice, never keep a
 * plaintext record in the database or in memory it frees, and never put a
 * record's contents into a diagnostic.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keten/inbox.h"
#include "keten/trail.h"
#include "keten/subject.h"

#define S_AD_PREFIX "inbox"
#define S_AD_MAX (sizeof(S_AD_PREFIX) - 1 + KT_NODE_ID_MAX + KT_ENVELOPE_ID_BYTES)
#define S_MAX_AGE_LIMIT_S (100LL * 366 * 86400) /* beyond this, arithmetic saturates */

/* "inbox" || sender || id: a locked payload only opens in its own row. */
static size_t s_ad(uint8_t out[S_AD_MAX], const char *sender, const uint8_t *id)
{
    size_t p = sizeof(S_AD_PREFIX) - 1, n = strnlen(sender, KT_NODE_ID_MAX);

    memcpy(out, S_AD_PREFIX, p);
    memcpy(out + p, sender, n);
    memcpy(out + p + n, id, KT_ENVELOPE_ID_BYTES);
    return p + n + KT_ENVELOPE_ID_BYTES;
}

/* Binds sender to ?1 and id to ?2. */
static int s_bind_key(kt_stmt_t *q, const char *sender, const uint8_t *id)
{
    int rc = kt_stmt_bind_text(q, 1, sender);

    return rc != 0 ? rc : kt_stmt_bind_blob(q, 2, id, KT_ENVELOPE_ID_BYTES);
}

static int s_run(kt_stmt_t *q, kt_diag_t *d)
{
    int rc = kt_stmt_step(q, d);

    return rc < 0 ? rc : 0;
}

/* ---- receipts ---- */

/* Encodes r and signs it as a receipt message to `to`. */
static int s_sign_receipt(const kt_keys_t *keys, const char *to, const kt_receipt_t *r,
                          int64_t now_ms, uint8_t **out, size_t *outlen, kt_diag_t *d)
{
    uint8_t *body = NULL, mid[KT_ENVELOPE_ID_BYTES];
    size_t blen = 0;
    int rc;

    *out = NULL;
    *outlen = 0;
    if ((rc = kt_receipt_encode(&body, &blen, r, d)) != 0)
        return rc;
    kt_envelope_new_id(mid);
    rc = kt_envelope_sign(out, outlen, KT_KIND_RECEIPT, mid,
                          (uint64_t)(now_ms > 0 ? now_ms / 1000 : 0), to, body, blen, keys, d);
    free(body); /* ids, digests and codes: nothing personal */
    return rc;
}

/* Reads back a receipt this node signed earlier. */
/* What a receipt this node signed and kept says. Its signature is for the
 * sender to check; verifying it again here cost a signature check per
 * duplicate, which is what a flood of retries is made of. */
static int s_open_own(const kt_keys_t *keys, const uint8_t *buf, size_t len, kt_receipt_t *r,
                      kt_diag_t *d)
{
    kt_payload_t pl;
    int rc = kt_envelope_parse(&pl, buf, len, d);

    if (rc == 0 && (pl.kind != KT_KIND_RECEIPT || strcmp(pl.from, kt_keys_public(keys)->id) != 0))
        rc = KT_EMALFORMED;
    if (rc == 0)
        rc = kt_receipt_decode(r, pl.body, pl.body_len, d);
    return rc;
}

/* A signed rejection that nothing is stored for; r says what it says. */
static int s_reject(const kt_keys_t *keys, const char *sender, const uint8_t *ref,
                    const uint8_t *raw, size_t raw_len, const char *code, int64_t now_ms,
                    kt_receipt_t *r, uint8_t **receipt, size_t *receipt_len, kt_diag_t *d)
{
    *receipt = NULL;
    *receipt_len = 0;
    memset(r, 0, sizeof(*r));
    if (ref != NULL)
        memcpy(r->ref, ref, KT_RECEIPT_REF_BYTES);
    kt_vault_digest(r->digest, raw, raw_len);
    r->status = KT_RECEIPT_REJECTED;
    if (code == NULL || strlen(code) > KT_RECEIPT_CODE_MAX)
        return kt_diag_set(d, KT_EINVAL, "receipt: the code must be 1 to %d characters",
                           KT_RECEIPT_CODE_MAX);
    memcpy(r->code, code, strlen(code) + 1);
    return s_sign_receipt(keys, sender, r, now_ms, receipt, receipt_len, d);
}

/* 1 and the first receipt in res if (sender, id) was seen; 0 if not. */
static int s_seen(const kt_inbox_ctx_t *c, const char *sender, const uint8_t *id,
                  kt_inbox_result_t *res, kt_diag_t *d)
{
    static const char sql[] = "SELECT receipt FROM seen_ids WHERE sender = ?1 AND id = ?2";
    char hex[KT_ENVELOPE_ID_HEX];
    kt_stmt_t *q = NULL;
    const void *p;
    size_t n;
    int rc;

    if ((rc = kt_store_prepare(c->st, &q, sql, d)) != 0)
        return rc;
    if ((rc = s_bind_key(q, sender, id)) != 0 || (rc = kt_stmt_step(q, d)) != KT_STORE_ROW)
        goto out;
    p = kt_stmt_column_blob(q, 0);
    n = kt_stmt_column_bytes(q, 0);
    if (p == NULL || n == 0 || n > KT_SIGNED_MAX_BYTES || (res->receipt = malloc(n)) == NULL) {
        rc = kt_diag_set(d, p == NULL || n == 0 ? KT_EIO : KT_ENOMEM, "seen id: no receipt");
        goto out;
    }
    memcpy(res->receipt, p, n);
    res->receipt_len = n;
    res->duplicate = 1;
    if (s_open_own(c->keys, res->receipt, n, &res->r, d) != 0) {
        kt_envelope_id_hex(hex, id);
        rc = kt_diag_set(d, KT_EIO, "stored receipt for record %s from %s does not verify", hex,
                         sender);
        goto out;
    }
    rc = 1;
out:
    kt_stmt_finalize(&q);
    if (rc < 0)
        kt_inbox_result_clear(res);
    return rc;
}

/* The node's latest signed audit checkpoint, for the receipt: the sender
 * keeps it as a witness of this node's log (audit.h). */
static int s_audit_head(const kt_inbox_ctx_t *c, int64_t now_ms, kt_receipt_t *r, kt_diag_t *d)
{
    kt_audit_checkpoint_t cp;
    int have = 0, rc;

    r->has_head = 0;
    if ((rc = kt_audit_checkpoint_within(c->st, c->keys, KT_AUDIT_RECEIPT_CHECKPOINT_SECONDS,
                                         (time_t)(now_ms / 1000), &cp, &have, d)) != 0)
        return rc;
    if (have && cp.seq > 0 && cp.time >= 0) {
        r->has_head = 1;
        r->head_seq = (uint64_t)cp.seq;
        r->head_time = (uint64_t)cp.time;
        memcpy(r->head, cp.head, KT_RECEIPT_HEAD_BYTES);
        memcpy(r->head_sig, cp.sig, KT_RECEIPT_HEAD_SIG_BYTES);
    }
    return 0;
}

/* The audit entry for what happened to a message from sender. */
static int s_trail(const kt_inbox_ctx_t *c, const char *sender, const char *action,
                   const char *decision, const char *reason, const uint8_t *id, const char *type,
                   const kt_hook_decision_t *dec, kt_diag_t *d)
{
    kt_trail_t t;

    memset(&t, 0, sizeof(t));
    t.actor = c->actor ? c->actor : sender;
    t.action = action;
    t.decision = decision;
    t.reason = reason;
    t.record_id = id;
    t.record_type = type;
    t.partner = sender;
    t.dec = dec;
    return kt_trail_write(c->st, &t, d);
}

static int s_remember(kt_store_t *st, const char *sender, const uint8_t *id, int64_t expires_ms,
                      const uint8_t *receipt, size_t len, kt_diag_t *d)
{
    static const char sql[] =
        "INSERT INTO seen_ids (sender, id, expires, receipt) VALUES (?1, ?2, ?3, ?4)";
    kt_stmt_t *q = NULL;
    int rc;

    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    if ((rc = s_bind_key(q, sender, id)) == 0 && (rc = kt_stmt_bind_int64(q, 3, expires_ms)) == 0 &&
        (rc = kt_stmt_bind_blob(q, 4, receipt, len)) == 0)
        rc = s_run(q, d);
    kt_stmt_finalize(&q);
    return rc;
}

/* ---- the decision ---- */

static int64_t s_max_age_s(const kt_inbox_ctx_t *c)
{
    if (c->max_age_s < 0)
        return 0;
    return c->max_age_s > S_MAX_AGE_LIMIT_S ? S_MAX_AGE_LIMIT_S : c->max_age_s;
}

/* Unix seconds after which a replay of this record is too old anyway (ms). */
static int64_t s_seen_expires_ms(uint64_t created, int64_t max_age_s)
{
    if (created > (uint64_t)(INT64_MAX / 1000 - max_age_s))
        return INT64_MAX;
    return ((int64_t)created + max_age_s) * 1000;
}

/* Older than the maximum age, or further in the future than clocks differ. */
static int s_out_of_time(uint64_t created, int64_t max_age_s, int64_t now_ms)
{
    int64_t c_ms;

    if (created > (uint64_t)(INT64_MAX / 1000 - S_MAX_AGE_LIMIT_S))
        return 1;
    c_ms = (int64_t)created * 1000;
    return c_ms > now_ms + (int64_t)KT_INBOX_CLOCK_SKEW_S * 1000 ||
           c_ms + max_age_s * 1000 < now_ms;
}

static void s_verdict(kt_receipt_t *r, kt_receipt_status_t status, const char *code)
{
    r->status = status;
    snprintf(r->code, sizeof(r->code), "%s", code);
}

/* Locks the signed record under the pupil's own key (crypto-shredding). */
static int s_lock(const kt_inbox_ctx_t *c, const uint8_t *subject, const uint8_t *ad, size_t adlen,
                  const uint8_t *signed_buf, size_t signed_len, uint8_t **locked,
                  size_t *locked_len, kt_diag_t *d)
{
    kt_vault_key_t *k = NULL;
    int rc = kt_subject_get_key(&k, c->st, c->vault, subject, 1, d);

    if (rc == 0)
        rc = kt_vault_lock_subject(locked, locked_len, signed_buf, signed_len, ad, adlen, k, d);
    kt_vault_key_destroy(&k);
    return rc;
}

static int s_store(const kt_inbox_ctx_t *c, const char *sender, const uint8_t *signed_buf,
                   size_t signed_len, const kt_payload_t *p, const char *record_type,
                   const kt_hook_decision_t *dec, int64_t now_ms, kt_diag_t *d)
{
    static const char sql[] =
        "INSERT INTO inbox (sender, id, kind, record_type, state, payload, created, received,"
        " subject, expires) VALUES (?1, ?2, 'record', ?3, 'accepted', ?4, ?5, ?6, ?7, ?8)";
    uint8_t ad[S_AD_MAX], *locked = NULL;
    size_t locked_len = 0;
    kt_stmt_t *q = NULL;
    int rc;

    rc = s_lock(c, dec->subject, ad, s_ad(ad, sender, p->id), signed_buf, signed_len, &locked,
                &locked_len, d);
    if (rc != 0 || (rc = kt_store_prepare(c->st, &q, sql, d)) != 0)
        goto out;
    if ((rc = s_bind_key(q, sender, p->id)) == 0 &&
        (rc = kt_stmt_bind_text(q, 3, record_type)) == 0 &&
        (rc = kt_stmt_bind_blob(q, 4, locked, locked_len)) == 0 &&
        (rc = kt_stmt_bind_int64(q, 5, (int64_t)p->created)) == 0 &&
        (rc = kt_stmt_bind_int64(q, 6, now_ms)) == 0 &&
        (rc = kt_stmt_bind_blob(q, 7, dec->subject, KT_SUBJECT_BYTES)) == 0 &&
        (rc = dec->retention_days > 0
                  ? kt_stmt_bind_int64(q, 8, now_ms + (int64_t)dec->retention_days * 86400000)
                  : kt_stmt_bind_null(q, 8)) == 0)
        rc = s_run(q, d);
    /* Already stored, yet its seen id is gone (max age shortened since):
     * it is accepted, and applying it again would be the error. */
    if (rc == KT_EEXIST)
        rc = 0;
out:
    kt_stmt_finalize(&q);
    free(locked); /* ciphertext */
    return rc;
}

/* The sending date (UTC) that picks the policy version in force. */
static void s_date(char out[11], uint64_t created)
{
    time_t t = (time_t)created;
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(out, 11, "%Y-%m-%d", &tm) != 10)
        memcpy(out, "0000-00-00", 11);
}

/* ---- retractions ---- */

static int s_exec_key(kt_store_t *st, const char *sql, const char *sender, const uint8_t *id,
                      kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    int rc;

    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    if ((rc = s_bind_key(q, sender, id)) == 0)
        rc = s_run(q, d);
    kt_stmt_finalize(&q);
    return rc;
}

/* The record `ref` from sender is deleted; a tombstone in seen_ids makes a
 * copy that arrives later (a retry overtaken by its retraction) answered as
 * purged, never stored. */
/* The audit entry for a retraction: the record's type and pupil, read
 * before the row goes. */
static int s_trail_retracted(const kt_inbox_ctx_t *c, const char *sender, const uint8_t *ref,
                             kt_diag_t *d)
{
    static const char sql[] =
        "SELECT record_type, subject FROM inbox WHERE sender = ?1 AND id = ?2";
    char type[KT_RECORD_NAME_MAX + 1] = "";
    kt_hook_decision_t dec;
    kt_stmt_t *q = NULL;
    int rc;

    memset(&dec, 0, sizeof(dec));
    if ((rc = kt_store_prepare(c->st, &q, sql, d)) != 0)
        return rc;
    if ((rc = s_bind_key(q, sender, ref)) == 0 && (rc = kt_stmt_step(q, d)) == KT_STORE_ROW) {
        snprintf(type, sizeof(type), "%s",
                 kt_stmt_column_text(q, 0) ? kt_stmt_column_text(q, 0) : "");
        if (kt_stmt_column_bytes(q, 1) == sizeof(dec.subject)) {
            dec.has_subject = 1;
            memcpy(dec.subject, kt_stmt_column_blob(q, 1), sizeof(dec.subject));
        }
    }
    kt_stmt_finalize(&q);
    if (rc < 0)
        return rc;
    return s_trail(c, sender, KT_AUDIT_PURGED, "purged", "retracted_by_sender", ref, type, &dec, d);
}

static int s_retract(const kt_inbox_ctx_t *c, const char *sender, const kt_payload_t *p,
                     int64_t now_ms, kt_receipt_t *r, kt_diag_t *d)
{
    static const char del[] = "DELETE FROM inbox WHERE sender = ?1 AND id = ?2";
    static const char seen[] = "SELECT 1 FROM seen_ids WHERE sender = ?1 AND id = ?2";
    uint8_t ref[KT_RECEIPT_REF_BYTES], *tomb = NULL;
    size_t tomb_len = 0;
    kt_receipt_t t;
    kt_stmt_t *q = NULL;
    int rc;

    if (kt_retract_decode(ref, p->body, p->body_len, d) != 0) {
        s_verdict(r, KT_RECEIPT_REJECTED, KT_RCODE_MALFORMED);
        return s_trail(c, sender, KT_AUDIT_REJECTED, "rejected", KT_RCODE_MALFORMED, p->id, NULL,
                       NULL, d);
    }
    if ((rc = s_trail_retracted(c, sender, ref, d)) != 0 ||
        (rc = s_exec_key(c->st, del, sender, ref, d)) != 0)
        return rc;
    if ((rc = kt_store_prepare(c->st, &q, seen, d)) != 0)
        return rc;
    if ((rc = s_bind_key(q, sender, ref)) == 0)
        rc = kt_stmt_step(q, d);
    kt_stmt_finalize(&q);
    if (rc == KT_STORE_DONE) { /* never seen: leave the tombstone */
        memset(&t, 0, sizeof(t));
        memcpy(t.ref, ref, sizeof(t.ref));
        s_verdict(&t, KT_RECEIPT_PURGED, KT_RCODE_OK);
        rc = s_sign_receipt(c->keys, sender, &t, now_ms, &tomb, &tomb_len, d);
        if (rc == 0)
            rc = s_remember(c->st, sender, ref, now_ms + s_max_age_s(c) * 1000, tomb, tomb_len, d);
        kt_envelope_free(tomb, tomb_len);
    }
    if (rc < 0)
        return rc;
    s_verdict(r, KT_RECEIPT_PURGED, KT_RCODE_OK);
    return 0;
}

/* Sets r's verdict; stores the record if it is accepted. < 0: the store failed. */
static int s_decide(const kt_inbox_ctx_t *c, const char *sender, const uint8_t *signed_buf,
                    size_t signed_len, const kt_payload_t *p, int64_t now_ms, kt_receipt_t *r,
                    kt_diag_t *d)
{
    const kt_hook_t *hook = c->hook ? c->hook : kt_hook_addressed();
    kt_hook_decision_t dec;
    kt_record_t *rec = NULL;
    char date[11];
    int rc = 0;

    memset(&dec, 0, sizeof(dec));

    if (s_out_of_time(p->created, s_max_age_s(c), now_ms)) {
        s_verdict(r, KT_RECEIPT_REJECTED, KT_RCODE_EXPIRED);
        rc = s_trail(c, sender, KT_AUDIT_REJECTED, "rejected", KT_RCODE_EXPIRED, p->id, NULL, NULL,
                     d);
    } else if (p->kind == KT_KIND_RETRACT) {
        rc = s_retract(c, sender, p, now_ms, r, d);
    } else if (p->kind != KT_KIND_RECORD || p->body == NULL ||
               kt_record_decode(&rec, p->body, p->body_len, d) != 0) {
        s_verdict(r, KT_RECEIPT_REJECTED, KT_RCODE_MALFORMED);
        rc = s_trail(c, sender, KT_AUDIT_REJECTED, "rejected", KT_RCODE_MALFORMED, p->id, NULL,
                     NULL, d);
    } else if (s_date(date, p->created),
               hook->incoming(hook->ctx, sender, rec, date, &dec, d) != 0) {
        kt_diag_t why = *d; /* the rule that refused it, kept for the caller's log */

        s_verdict(r, KT_RECEIPT_REJECTED, KT_RCODE_DENIED);
        if ((rc = kt_vault_subject(dec.subject, c->vault, kt_record_leerling_id(rec), d)) == 0) {
            dec.has_subject = 1;
            rc = s_trail(c, sender, KT_AUDIT_REJECTED, "rejected", why.msg, p->id,
                         kt_record_type(rec), &dec, d);
        }
        if (rc == 0)
            *d = why;
    } else if ((rc = kt_vault_subject(dec.subject, c->vault, kt_record_leerling_id(rec), d)) == 0) {
        dec.has_subject = 1;
        rc = s_store(c, sender, signed_buf, signed_len, p, kt_record_type(rec), &dec, now_ms, d);
        if (rc == 0)
            rc = s_trail(c, sender, KT_AUDIT_RECEIVED, "accepted", KT_RCODE_OK, p->id,
                         kt_record_type(rec), &dec, d);
        s_verdict(r, KT_RECEIPT_ACCEPTED, KT_RCODE_OK);
    }
    kt_record_destroy(&rec);
    return rc;
}

/* The caller promised an opened, verified record from `sender` to us. */
static int s_attributed(const kt_inbox_ctx_t *c, const char *sender, const kt_payload_t *p)
{
    return kt_keys_valid_id(sender) && strcmp(p->from, sender) == 0 &&
           strcmp(p->to, kt_keys_public(c->keys)->id) == 0;
}

int kt_inbox_accept(const kt_inbox_ctx_t *c, const char *sender, const uint8_t *signed_buf,
                    size_t signed_len, const kt_payload_t *p, int64_t now_ms,
                    kt_inbox_result_t *res, kt_diag_t *d)
{
    kt_receipt_t r;
    int rc;

    memset(res, 0, sizeof(*res));
    memset(&r, 0, sizeof(r));
    if (!s_attributed(c, sender, p)) /* nothing about it can be remembered safely */
        return s_reject(c->keys, sender, p->id, signed_buf, signed_len, KT_RCODE_AUTH, now_ms,
                        &res->r, &res->receipt, &res->receipt_len, d);
    if ((rc = s_seen(c, sender, p->id, res, d)) != 0)
        return rc < 0 ? rc : 0;
    memcpy(r.ref, p->id, KT_RECEIPT_REF_BYTES);
    kt_vault_digest(r.digest, signed_buf, signed_len);
    if ((rc = s_decide(c, sender, signed_buf, signed_len, p, now_ms, &r, d)) != 0 ||
        (rc = s_audit_head(c, now_ms, &r, d)) != 0 ||
        (rc = s_sign_receipt(c->keys, sender, &r, now_ms, &res->receipt, &res->receipt_len, d)) !=
            0 ||
        (rc = s_remember(c->st, sender, p->id, s_seen_expires_ms(p->created, s_max_age_s(c)),
                         res->receipt, res->receipt_len, d)) != 0)
        goto out;
    res->r = r;
out:
    if (rc != 0)
        kt_inbox_result_clear(res);
    return rc;
}

void kt_inbox_result_clear(kt_inbox_result_t *res)
{
    if (res == NULL)
        return;
    kt_envelope_free(res->receipt, res->receipt_len);
    memset(res, 0, sizeof(*res));
}

int kt_inbox_reject(const kt_keys_t *keys, const char *sender, const uint8_t *ref,
                    const uint8_t *raw, size_t raw_len, const char *code, int64_t now_ms,
                    uint8_t **receipt, size_t *receipt_len, kt_diag_t *d)
{
    kt_receipt_t r;

    return s_reject(keys, sender, ref, raw, raw_len, code, now_ms, &r, receipt, receipt_len, d);
}

int kt_inbox_expire_seen(kt_store_t *st, int64_t now_ms, kt_diag_t *d)
{
    static const char sql[] = "DELETE FROM seen_ids WHERE expires < ?1";
    kt_stmt_t *q = NULL;
    int rc;

    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    if ((rc = kt_stmt_bind_int64(q, 1, now_ms)) == 0)
        rc = s_run(q, d);
    kt_stmt_finalize(&q);
    return rc;
}

/* ---- listing ---- */

static void s_copy_text(char *dst, size_t size, const char *src)
{
    size_t n = src ? strnlen(src, size - 1) : 0;

    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

static int s_read_row(kt_stmt_t *q, kt_inbox_row_t *row, kt_diag_t *d)
{
    const void *id = kt_stmt_column_blob(q, 1);

    memset(row, 0, sizeof(*row));
    if (id == NULL || kt_stmt_column_bytes(q, 1) != KT_ENVELOPE_ID_BYTES)
        return kt_diag_set(d, KT_EIO, "inbox: corrupt row (id)");
    memcpy(row->id, id, KT_ENVELOPE_ID_BYTES);
    s_copy_text(row->sender, sizeof(row->sender), kt_stmt_column_text(q, 0));
    s_copy_text(row->record_type, sizeof(row->record_type), kt_stmt_column_text(q, 2));
    s_copy_text(row->state, sizeof(row->state), kt_stmt_column_text(q, 3));
    row->created_s = kt_stmt_column_int64(q, 4);
    row->received_ms = kt_stmt_column_int64(q, 5);
    if (kt_stmt_column_bytes(q, 6) == KT_SUBJECT_BYTES) {
        row->has_subject = 1;
        memcpy(row->subject, kt_stmt_column_blob(q, 6), KT_SUBJECT_BYTES);
    }
    return 0;
}

static int s_collect(kt_stmt_t *q, kt_inbox_row_t **rows, size_t *n, kt_diag_t *d)
{
    kt_inbox_row_t *a = NULL, *t;
    size_t cap = 0;
    int rc;

    *rows = NULL;
    *n = 0;
    while ((rc = kt_stmt_step(q, d)) == KT_STORE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            if ((t = realloc(a, cap * sizeof(*a))) == NULL) {
                rc = kt_diag_set(d, KT_ENOMEM, "out of memory listing the inbox");
                break;
            }
            a = t;
        }
        if ((rc = s_read_row(q, &a[*n], d)) != 0)
            break;
        (*n)++;
    }
    if (rc < 0) {
        free(a);
        *n = 0;
        return rc;
    }
    *rows = a;
    return 0;
}

#define S_ROW_COLS "sender, id, record_type, state, created, received, subject"

int kt_inbox_list(kt_store_t *st, kt_inbox_row_t **rows, size_t *n, kt_diag_t *d)
{
    static const char sql[] = "SELECT " S_ROW_COLS " FROM inbox ORDER BY received DESC, rowid DESC";
    kt_stmt_t *q = NULL;
    int rc;

    *rows = NULL;
    *n = 0;
    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    rc = s_collect(q, rows, n, d);
    kt_stmt_finalize(&q);
    return rc;
}

int kt_inbox_subject(kt_store_t *st, const uint8_t subject[KT_SUBJECT_BYTES], kt_inbox_row_t **rows,
                     size_t *n, kt_diag_t *d)
{
    static const char sql[] =
        "SELECT " S_ROW_COLS " FROM inbox WHERE subject = ?1 ORDER BY received, sender";
    kt_stmt_t *q = NULL;
    int rc;

    *rows = NULL;
    *n = 0;
    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    if ((rc = kt_stmt_bind_blob(q, 1, subject, KT_SUBJECT_BYTES)) == 0)
        rc = s_collect(q, rows, n, d);
    kt_stmt_finalize(&q);
    return rc;
}

int kt_inbox_count(kt_store_t *st, size_t *n, kt_diag_t *d)
{
    static const char sql[] = "SELECT count(*) FROM inbox";
    kt_stmt_t *q = NULL;
    int rc;

    *n = 0;
    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    if ((rc = kt_stmt_step(q, d)) == KT_STORE_ROW)
        *n = (size_t)kt_stmt_column_int64(q, 0);
    kt_stmt_finalize(&q);
    return rc < 0 ? rc : 0;
}

int kt_inbox_get(kt_store_t *st, const uint8_t id[KT_ENVELOPE_ID_BYTES], kt_inbox_row_t **rows,
                 size_t *n, kt_diag_t *d)
{
    static const char sql[] = "SELECT " S_ROW_COLS " FROM inbox WHERE id = ?1 ORDER BY sender";
    char hex[KT_ENVELOPE_ID_HEX];
    kt_stmt_t *q = NULL;
    int rc;

    *rows = NULL;
    *n = 0;
    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    if ((rc = kt_stmt_bind_blob(q, 1, id, KT_ENVELOPE_ID_BYTES)) == 0)
        rc = s_collect(q, rows, n, d);
    kt_stmt_finalize(&q);
    if (rc == 0 && *n == 0) {
        kt_envelope_id_hex(hex, id);
        rc = kt_diag_set(d, KT_ENOENT, "no record %s in the inbox", hex);
    }
    return rc;
}

int kt_inbox_signed(kt_store_t *st, const kt_vault_t *v, const char *sender,
                    const uint8_t id[KT_ENVELOPE_ID_BYTES], uint8_t **out, size_t *outlen,
                    kt_diag_t *d)
{
    static const char sql[] = "SELECT payload, subject FROM inbox WHERE sender = ?1 AND id = ?2";
    char hex[KT_ENVELOPE_ID_HEX];
    uint8_t ad[S_AD_MAX];
    kt_vault_key_t *k = NULL;
    kt_stmt_t *q = NULL;
    const void *locked;
    int rc;

    *out = NULL;
    *outlen = 0;
    kt_envelope_id_hex(hex, id);
    if (sender == NULL || !kt_keys_valid_id(sender))
        return kt_diag_set(d, KT_EINVAL, "sender must be a node id");
    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    if ((rc = s_bind_key(q, sender, id)) != 0 || (rc = kt_stmt_step(q, d)) < 0)
        goto out;
    if (rc == KT_STORE_DONE || (locked = kt_stmt_column_blob(q, 0)) == NULL) {
        rc = kt_diag_set(d, KT_ENOENT, "no record %s from %s in the inbox", hex, sender);
        goto out;
    }
    if (kt_stmt_column_bytes(q, 1) != KT_SUBJECT_BYTES)
        rc = kt_diag_set(d, KT_ENOENT, "the pupil's key is gone (forgotten)");
    else if ((rc = kt_subject_get_key(&k, st, v, kt_stmt_column_blob(q, 1), 0, d)) == 0)
        rc = kt_vault_unlock_subject(out, outlen, locked, kt_stmt_column_bytes(q, 0), ad,
                                     s_ad(ad, sender, id), k, d);
    if (rc != 0)
        kt_diag_prefix(d, "inbox row %s from %s", hex, sender);
out:
    kt_vault_key_destroy(&k);
    kt_stmt_finalize(&q);
    return rc;
}

/* A record the purge deleted, for its audit entry. */
struct s_gone {
    char sender[KT_NODE_ID_MAX + 1];
    uint8_t id[KT_ENVELOPE_ID_BYTES];
    char type[KT_RECORD_NAME_MAX + 1];
    kt_hook_decision_t dec; /* the subject only */
};

static void s_gone_read(kt_stmt_t *q, struct s_gone *g)
{
    const char *t;

    memset(g, 0, sizeof(*g));
    t = kt_stmt_column_text(q, 0);
    snprintf(g->sender, sizeof(g->sender), "%s", t ? t : "");
    if (kt_stmt_column_bytes(q, 1) == KT_ENVELOPE_ID_BYTES)
        memcpy(g->id, kt_stmt_column_blob(q, 1), KT_ENVELOPE_ID_BYTES);
    t = kt_stmt_column_text(q, 2);
    snprintf(g->type, sizeof(g->type), "%s", t ? t : "");
    if (kt_stmt_column_bytes(q, 3) == sizeof(g->dec.subject)) {
        g->dec.has_subject = 1;
        memcpy(g->dec.subject, kt_stmt_column_blob(q, 3), sizeof(g->dec.subject));
    }
}

static int s_trail_gone(kt_store_t *st, const struct s_gone *g, kt_diag_t *d)
{
    kt_trail_t t;

    memset(&t, 0, sizeof(t));
    t.actor = KT_TRAIL_DAEMON;
    t.action = KT_AUDIT_PURGED;
    t.decision = "deleted";
    t.reason = "retention";
    t.record_id = g->id;
    t.record_type = g->type;
    t.partner = g->sender;
    t.dec = &g->dec;
    return kt_trail_write(st, &t, d);
}

int kt_inbox_purge_expired(kt_store_t *st, int64_t now_ms, size_t *n, kt_diag_t *d)
{
    static const char sql[] = "DELETE FROM inbox WHERE expires IS NOT NULL AND expires < ?1"
                              " RETURNING sender, id, record_type, subject";
    struct s_gone *gone = NULL, *grown;
    size_t cap = 0, i;
    kt_stmt_t *q = NULL;
    int rc;

    /* Collected first: the DELETE runs to its end before the entries are
     * written. */
    *n = 0;
    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    if ((rc = kt_stmt_bind_int64(q, 1, now_ms)) != 0)
        goto out;
    while ((rc = kt_stmt_step(q, d)) == KT_STORE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            if ((grown = realloc(gone, cap * sizeof(*gone))) == NULL) {
                rc = kt_diag_set(d, KT_ENOMEM, "out of memory");
                goto out;
            }
            gone = grown;
        }
        s_gone_read(q, &gone[(*n)++]);
    }
    if (rc < 0)
        goto out;
    kt_stmt_finalize(&q);
    rc = 0;
    for (i = 0; rc == 0 && i < *n; i++)
        rc = s_trail_gone(st, &gone[i], d);
out:
    kt_stmt_finalize(&q);
    free(gone);
    return rc;
}
