/*
 * outbox.c - the sender's store-and-forward state machine (outbox.h).
 *
 * Owns the outbox rows: one per (record id, recipient), holding the signed
 * record locked at rest (AD "outbox" || id || partner), its digest, the
 * retry schedule (milliseconds in created, updated and next_attempt) and, at
 * the end, the partner's signed receipt. Every change is one statement in
 * the caller's transaction. It must never drop a row that has not been
 * answered by a valid receipt, never move a final row (delivered, rejected)
 * back, never keep a plaintext record in the database or in memory it
 * frees, and never put anything but ids, node ids, states and codes into a
 * diagnostic.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keten/outbox.h"
#include "keten/trail.h"
#include "keten/subject.h"

#define S_AD_PREFIX "outbox"
#define S_AD_MAX (sizeof(S_AD_PREFIX) - 1 + KT_ENVELOPE_ID_BYTES + KT_NODE_ID_MAX)
#define S_PENDING "state IN ('queued', 'sent')"
#define S_ROW_COLS                                                                                 \
    "id, partner, record_type, state, attempts, next_attempt, created, updated, reason,"           \
    " consent_id, subject"

static int s_collect(kt_stmt_t *q, kt_outbox_row_t **rows, size_t *n, kt_diag_t *d);
static void s_copy_text(char *dst, size_t cap, const char *src);

static const char *const s_states[KT_OUT_NSTATES] = {"held",     "queued",    "sent",  "delivered",
                                                     "rejected", "retracted", "purged"};

const char *kt_outbox_state_name(kt_out_state_t s)
{
    if ((int)s < 0 || s >= KT_OUT_NSTATES)
        return "unknown";
    return s_states[s];
}

int kt_outbox_state_parse(const char *s, kt_out_state_t *out)
{
    int i;

    for (i = 0; s != NULL && i < KT_OUT_NSTATES; i++) {
        if (strcmp(s, s_states[i]) == 0) {
            *out = (kt_out_state_t)i;
            return 0;
        }
    }
    return KT_EINVAL;
}

int64_t kt_outbox_backoff_ms(int attempts, int64_t cap_ms)
{
    int64_t bound = KT_OUTBOX_RETRY_MIN_MS, half;

    if (cap_ms <= 0)
        cap_ms = KT_OUTBOX_RETRY_MAX_MS_DEFAULT;
    while (attempts-- > 0 && bound < cap_ms)
        bound *= 2;
    if (bound > cap_ms)
        bound = cap_ms;
    half = bound / 2;
    if (half >= (int64_t)UINT32_MAX)
        half = (int64_t)UINT32_MAX - 1;
    /* bound - [0, half]: a factor in [0.5, 1] of bound */
    return bound - (int64_t)kt_vault_random((uint32_t)half + 1);
}

/* "outbox" || id || partner: a locked payload only opens in its own row. */
static size_t s_ad(uint8_t out[S_AD_MAX], const uint8_t *id, const char *partner)
{
    size_t p = sizeof(S_AD_PREFIX) - 1, n = strnlen(partner, KT_NODE_ID_MAX);

    memcpy(out, S_AD_PREFIX, p);
    memcpy(out + p, id, KT_ENVELOPE_ID_BYTES);
    memcpy(out + p + KT_ENVELOPE_ID_BYTES, partner, n);
    return p + KT_ENVELOPE_ID_BYTES + n;
}

/* Opens a payload: version 1 under the node key (retractions), version 2
 * under its pupil's key, which is gone once the pupil was forgotten. */
static int s_unlock(kt_store_t *st, const kt_vault_t *v, const uint8_t *id, const char *partner,
                    const uint8_t *subject, const void *locked, size_t len, uint8_t **out,
                    size_t *outlen, kt_diag_t *d)
{
    uint8_t ad[S_AD_MAX];
    size_t adlen = s_ad(ad, id, partner);
    char hex[KT_ENVELOPE_ID_HEX];
    kt_vault_key_t *k = NULL;
    int rc;

    if (len > 0 && ((const uint8_t *)locked)[0] == KT_VAULT_VERSION) {
        rc = kt_vault_unlock(out, outlen, locked, len, ad, adlen, v, d);
    } else if (subject == NULL) {
        rc = kt_diag_set(d, KT_ENOENT, "the pupil's key is gone (forgotten)");
    } else if ((rc = kt_subject_get_key(&k, st, v, subject, 0, d)) == 0) {
        rc = kt_vault_unlock_subject(out, outlen, locked, len, ad, adlen, k, d);
        kt_vault_key_destroy(&k);
    }
    if (rc != 0) {
        kt_envelope_id_hex(hex, id);
        kt_diag_prefix(d, "outbox row %s to %s", hex, partner);
    }
    return rc;
}

/* The subject column at col, or NULL. */
static const uint8_t *s_subject_col(kt_stmt_t *q, int col)
{
    return kt_stmt_column_bytes(q, col) == KT_SUBJECT_BYTES ? kt_stmt_column_blob(q, col) : NULL;
}

static int s_check_partner(const char *partner, kt_diag_t *d)
{
    if (partner == NULL || !kt_keys_valid_id(partner))
        return kt_diag_set(d, KT_EINVAL, "partner must be a node id: 1 to %d of a-z, 0-9 and '-'",
                           KT_NODE_ID_MAX);
    return 0;
}

/* Binds id to ?1 and partner to ?2. */
static int s_bind_key(kt_stmt_t *q, const uint8_t *id, const char *partner)
{
    int rc = kt_stmt_bind_blob(q, 1, id, KT_ENVELOPE_ID_BYTES);

    return rc != 0 ? rc : kt_stmt_bind_text(q, 2, partner);
}

/* Runs a statement that returns no rows. */
static int s_run(kt_stmt_t *q, kt_diag_t *d)
{
    int rc = kt_stmt_step(q, d);

    return rc < 0 ? rc : 0;
}

/* ---- adding ---- */

/* One new row. kind is "record" or "retract"; ref is the retracted record. */
struct s_row {
    const uint8_t *id;
    const char *partner, *kind, *record_type;
    const uint8_t *ref;
    kt_out_state_t state;
    const uint8_t *locked;
    size_t locked_len;
    const uint8_t *digest;
    const kt_outbox_meta_t *meta; /* subject, retention; NULL for none */
};

static int s_insert(kt_store_t *st, const struct s_row *w, int64_t now_ms, kt_diag_t *d)
{
    static const char sql[] =
        "INSERT INTO outbox (id, partner, kind, ref, record_type, state, attempts, next_attempt,"
        " payload, digest, created, updated, subject, keep_days) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
        " 0, ?7, ?8, ?9, ?10, ?10, ?11, ?12)";
    const uint8_t *subject = w->meta ? w->meta->subject : NULL;
    int keep = w->meta ? w->meta->retention_days : 0;
    kt_stmt_t *q = NULL;
    int rc;

    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    if ((rc = s_bind_key(q, w->id, w->partner)) == 0 &&
        (rc = kt_stmt_bind_text(q, 3, w->kind)) == 0 &&
        (rc = w->ref ? kt_stmt_bind_blob(q, 4, w->ref, KT_ENVELOPE_ID_BYTES)
                     : kt_stmt_bind_null(q, 4)) == 0 &&
        (rc = kt_stmt_bind_text(q, 5, w->record_type)) == 0 &&
        (rc = kt_stmt_bind_text(q, 6, kt_outbox_state_name(w->state))) == 0 &&
        (rc = w->state == KT_OUT_QUEUED ? kt_stmt_bind_int64(q, 7, now_ms)
                                        : kt_stmt_bind_null(q, 7)) == 0 &&
        (rc = kt_stmt_bind_blob(q, 8, w->locked, w->locked_len)) == 0 &&
        (rc = kt_stmt_bind_blob(q, 9, w->digest, 32)) == 0 &&
        (rc = kt_stmt_bind_int64(q, 10, now_ms)) == 0 &&
        (rc = subject ? kt_stmt_bind_blob(q, 11, subject, KT_SUBJECT_BYTES)
                      : kt_stmt_bind_null(q, 11)) == 0 &&
        (rc = keep > 0 ? kt_stmt_bind_int64(q, 12, keep) : kt_stmt_bind_null(q, 12)) == 0)
        rc = s_run(q, d);
    kt_stmt_finalize(&q);
    if (rc == KT_EEXIST) {
        char hex[KT_ENVELOPE_ID_HEX];

        kt_envelope_id_hex(hex, w->id);
        kt_diag_set(d, rc, "record %s is already in the outbox for %s", hex, w->partner);
    }
    return rc;
}

/* Signs a message of `kind` for `to`, and locks it for the row (id, to):
 * under the pupil's key when there is a subject, else under the node key. */
static int s_sign_lock(kt_store_t *st, const kt_keys_t *keys, const kt_vault_t *v, kt_kind_t kind,
                       const uint8_t *id, const char *to, const uint8_t *subject,
                       const uint8_t *body, size_t body_len, int64_t now_ms, uint8_t **locked,
                       size_t *locked_len, uint8_t digest[32], kt_diag_t *d)
{
    uint8_t *signed_buf = NULL, ad[S_AD_MAX];
    size_t signed_len = 0, adlen = s_ad(ad, id, to);
    kt_vault_key_t *k = NULL;
    int rc;

    rc = kt_envelope_sign(&signed_buf, &signed_len, kind, id, (uint64_t)(now_ms / 1000), to, body,
                          body_len, keys, d);
    if (rc != 0)
        return rc;
    kt_vault_digest(digest, signed_buf, signed_len);
    if (subject == NULL)
        rc = kt_vault_lock(locked, locked_len, signed_buf, signed_len, ad, adlen, v, d);
    else if ((rc = kt_subject_get_key(&k, st, v, subject, 1, d)) == 0)
        rc = kt_vault_lock_subject(locked, locked_len, signed_buf, signed_len, ad, adlen, k, d);
    kt_vault_key_destroy(&k);
    kt_envelope_free(signed_buf, signed_len);
    return rc;
}

int kt_outbox_add(kt_store_t *st, const kt_keys_t *keys, const kt_vault_t *v,
                  const uint8_t id[KT_ENVELOPE_ID_BYTES], const char *to, const char *record_type,
                  const uint8_t *record, size_t record_len, kt_out_state_t state,
                  const kt_outbox_meta_t *meta, int64_t now_ms, kt_diag_t *d)
{
    uint8_t *locked = NULL, digest[32];
    size_t locked_len = 0;
    struct s_row w;
    int rc;

    if (state != KT_OUT_QUEUED && state != KT_OUT_HELD)
        return kt_diag_set(d, KT_EINVAL, "a new outbox row is queued or held");
    if (record_type == NULL || !kt_record_is_name(record_type))
        return kt_diag_set(d, KT_EINVAL, "record type must be a name of a-z, 0-9 and '_'");
    if (now_ms < 0)
        return kt_diag_set(d, KT_EINVAL, "time before 1970");
    if ((rc = s_check_partner(to, d)) != 0)
        return rc;
    rc = s_sign_lock(st, keys, v, KT_KIND_RECORD, id, to, meta ? meta->subject : NULL, record,
                     record_len, now_ms, &locked, &locked_len, digest, d);
    if (rc == 0) {
        w = (struct s_row){id,    to,     "record",   record_type, NULL,
                           state, locked, locked_len, digest,      meta};
        rc = s_insert(st, &w, now_ms, d);
    }
    free(locked); /* ciphertext: nothing to wipe */
    return rc;
}

/* ---- sending ---- */

void kt_outbox_item_clear(kt_outbox_item_t *it)
{
    if (it == NULL)
        return;
    kt_vault_free(it->signed_buf, it->signed_len);
    memset(it, 0, sizeof(*it));
}

/* Copies the due row at q's cursor into it, unlocking its payload. */
static int s_due_item(kt_store_t *st, kt_stmt_t *q, const kt_vault_t *v, kt_outbox_item_t *it,
                      kt_diag_t *d)
{
    const uint8_t *id = kt_stmt_column_blob(q, 0);
    size_t idlen = kt_stmt_column_bytes(q, 0);
    const char *partner = kt_stmt_column_text(q, 1);
    const void *locked = kt_stmt_column_blob(q, 3);
    size_t locked_len = kt_stmt_column_bytes(q, 3);
    int rc;

    memset(it, 0, sizeof(*it));
    if (idlen != KT_ENVELOPE_ID_BYTES || partner == NULL || !kt_keys_valid_id(partner))
        return kt_diag_set(d, KT_EIO, "outbox: corrupt row (id or partner)");
    memcpy(it->id, id, KT_ENVELOPE_ID_BYTES);
    memcpy(it->partner, partner, strlen(partner) + 1);
    it->attempts = (int)kt_stmt_column_int64(q, 2);
    it->kind = strcmp(kt_stmt_column_text(q, 4) ? kt_stmt_column_text(q, 4) : "", "retract") == 0
                   ? KT_KIND_RETRACT
                   : KT_KIND_RECORD;
    rc = s_unlock(st, v, it->id, it->partner, s_subject_col(q, 5), locked, locked_len,
                  &it->signed_buf, &it->signed_len, d);
    if (rc != 0)
        kt_outbox_item_clear(it);
    return rc;
}

int kt_outbox_due(kt_store_t *st, const kt_vault_t *v, int64_t now_ms, const char *partner,
                  kt_outbox_item_t *items, size_t max, size_t *n, kt_diag_t *d)
{
    static const char sql[] =
        "SELECT id, partner, attempts, payload, kind, subject FROM outbox"
        " WHERE " S_PENDING " AND next_attempt <= ?1 AND (?2 IS NULL OR partner = ?2)"
        " ORDER BY created, rowid LIMIT ?3";
    kt_stmt_t *q = NULL;
    size_t i;
    int rc;

    *n = 0;
    if (max == 0)
        return 0;
    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    if ((rc = kt_stmt_bind_int64(q, 1, now_ms)) != 0 ||
        (rc = partner ? kt_stmt_bind_text(q, 2, partner) : kt_stmt_bind_null(q, 2)) != 0 ||
        (rc = kt_stmt_bind_int64(q, 3, max > INT64_MAX ? INT64_MAX : (int64_t)max)) != 0)
        goto out;
    while (*n < max && (rc = kt_stmt_step(q, d)) == KT_STORE_ROW) {
        if ((rc = s_due_item(st, q, v, &items[*n], d)) != 0)
            goto out;
        (*n)++;
    }
    rc = rc < 0 ? rc : 0;
out:
    kt_stmt_finalize(&q);
    if (rc != 0) {
        for (i = 0; i < *n; i++)
            kt_outbox_item_clear(&items[i]);
        *n = 0;
    }
    return rc;
}

static int s_read_digest(kt_stmt_t *q, int col, uint8_t digest[32])
{
    const void *p = kt_stmt_column_blob(q, col);

    if (p == NULL || kt_stmt_column_bytes(q, col) != 32)
        return KT_EINVAL;
    memcpy(digest, p, 32);
    return 0;
}

/* Reads state and attempts of one row; KT_ENOENT if there is none. */
static int s_row_state(kt_store_t *st, const uint8_t *id, const char *partner,
                       kt_out_state_t *state, int *attempts, uint8_t digest[32], kt_diag_t *d)
{
    static const char sql[] = "SELECT state, attempts, digest FROM outbox WHERE id = ?1 AND "
                              "partner = ?2";
    kt_stmt_t *q = NULL;
    char hex[KT_ENVELOPE_ID_HEX];
    int rc;

    *state = KT_OUT_NSTATES;
    *attempts = 0;
    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    if ((rc = s_bind_key(q, id, partner)) != 0 || (rc = kt_stmt_step(q, d)) < 0)
        goto out;
    kt_envelope_id_hex(hex, id);
    if (rc == KT_STORE_DONE) {
        rc = kt_diag_set(d, KT_ENOENT, "no record %s in the outbox for %s", hex, partner);
        goto out;
    }
    rc = kt_outbox_state_parse(kt_stmt_column_text(q, 0), state);
    *attempts = (int)kt_stmt_column_int64(q, 1);
    if (rc == 0 && digest != NULL)
        rc = s_read_digest(q, 2, digest);
    if (rc != 0)
        rc = kt_diag_set(d, KT_EIO, "outbox row %s to %s: corrupt state or digest", hex, partner);
out:
    kt_stmt_finalize(&q);
    return rc;
}

int kt_outbox_mark_sent(kt_store_t *st, const uint8_t id[KT_ENVELOPE_ID_BYTES], const char *partner,
                        int64_t now_ms, int64_t cap_ms, kt_diag_t *d)
{
    static const char sql[] = "UPDATE outbox SET state = 'sent', attempts = attempts + 1,"
                              " next_attempt = ?3, updated = ?4 WHERE id = ?1 AND partner = ?2";
    kt_out_state_t state;
    kt_stmt_t *q = NULL;
    char hex[KT_ENVELOPE_ID_HEX];
    int attempts, rc;

    if ((rc = s_row_state(st, id, partner, &state, &attempts, NULL, d)) != 0)
        return rc;
    if (state != KT_OUT_QUEUED && state != KT_OUT_SENT) {
        kt_envelope_id_hex(hex, id);
        return kt_diag_set(d, KT_EINVAL, "record %s to %s is %s, not waiting to be sent", hex,
                           partner, kt_outbox_state_name(state));
    }
    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    if ((rc = s_bind_key(q, id, partner)) == 0 &&
        (rc = kt_stmt_bind_int64(q, 3, now_ms + kt_outbox_backoff_ms(attempts, cap_ms))) == 0 &&
        (rc = kt_stmt_bind_int64(q, 4, now_ms)) == 0)
        rc = s_run(q, d);
    kt_stmt_finalize(&q);
    return rc;
}

/* ---- receipts ---- */

/* Sets a row's final state with its receipt; a purged row loses its payload. */
static int s_finish(kt_store_t *st, const uint8_t *id, const char *partner, const char *state,
                    const char *reason, const uint8_t *receipt, size_t receipt_len, int64_t now_ms,
                    kt_diag_t *d)
{
    static const char sql[] =
        "UPDATE outbox SET state = ?3, reason = ?4, receipt = coalesce(?5, receipt),"
        " next_attempt = NULL, updated = ?6,"
        " payload = CASE WHEN ?3 = 'purged' THEN NULL ELSE payload END,"
        " subject = CASE WHEN ?3 = 'purged' THEN NULL ELSE subject END"
        " WHERE id = ?1 AND partner = ?2";
    kt_stmt_t *q = NULL;
    int rc;

    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    if ((rc = s_bind_key(q, id, partner)) == 0 && (rc = kt_stmt_bind_text(q, 3, state)) == 0 &&
        (rc = reason ? kt_stmt_bind_text(q, 4, reason) : kt_stmt_bind_null(q, 4)) == 0 &&
        (rc = receipt ? kt_stmt_bind_blob(q, 5, receipt, receipt_len) : kt_stmt_bind_null(q, 5)) ==
            0 &&
        (rc = kt_stmt_bind_int64(q, 6, now_ms)) == 0)
        rc = s_run(q, d);
    kt_stmt_finalize(&q);
    return rc;
}

/* The record a retraction row refers to; KT_ENOENT if the row is a record. */
static int s_retract_ref(kt_store_t *st, const uint8_t *id, const char *partner,
                         uint8_t ref[KT_ENVELOPE_ID_BYTES], kt_diag_t *d)
{
    static const char sql[] = "SELECT ref FROM outbox WHERE id = ?1 AND partner = ?2"
                              " AND kind = 'retract'";
    kt_stmt_t *q = NULL;
    int rc;

    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    if ((rc = s_bind_key(q, id, partner)) == 0 && (rc = kt_stmt_step(q, d)) == KT_STORE_ROW) {
        if (kt_stmt_column_bytes(q, 0) == KT_ENVELOPE_ID_BYTES) {
            memcpy(ref, kt_stmt_column_blob(q, 0), KT_ENVELOPE_ID_BYTES);
            rc = 0;
        } else {
            rc = kt_diag_set(d, KT_EIO, "outbox: retraction without a record");
        }
    } else if (rc >= 0) {
        rc = KT_ENOENT;
    }
    kt_stmt_finalize(&q);
    return rc;
}

/* A purged receipt for a retraction: it is done, and so is its record. */
static int s_purged(kt_store_t *st, const char *partner, const kt_receipt_t *r,
                    const uint8_t *receipt, size_t len, int64_t now_ms, kt_diag_t *d)
{
    uint8_t ref[KT_ENVELOPE_ID_BYTES];
    int rc = s_retract_ref(st, r->ref, partner, ref, d);

    if (rc == KT_ENOENT) /* a record the receiver had purged already */
        return s_finish(st, r->ref, partner, "purged", NULL, receipt, len, now_ms, d);
    if (rc != 0)
        return rc;
    if ((rc = s_finish(st, r->ref, partner, "delivered", NULL, receipt, len, now_ms, d)) != 0)
        return rc;
    return s_finish(st, ref, partner, "purged", NULL, NULL, 0, now_ms, d);
}

/* What an audit entry about one row says of it. */
struct s_facts {
    char type[KT_RECORD_NAME_MAX + 1];
    int has_subject, has_consent;
    uint8_t subject[KT_SUBJECT_BYTES];
    uint8_t consent[KT_ENVELOPE_ID_BYTES];
};

static int s_row_facts(kt_stmt_t *q, int col, struct s_facts *f)
{
    memset(f, 0, sizeof(*f));
    s_copy_text(f->type, sizeof(f->type), kt_stmt_column_text(q, col));
    if (kt_stmt_column_bytes(q, col + 1) == KT_SUBJECT_BYTES) {
        f->has_subject = 1;
        memcpy(f->subject, kt_stmt_column_blob(q, col + 1), KT_SUBJECT_BYTES);
    }
    if (kt_stmt_column_bytes(q, col + 2) == KT_ENVELOPE_ID_BYTES) {
        f->has_consent = 1;
        memcpy(f->consent, kt_stmt_column_blob(q, col + 2), KT_ENVELOPE_ID_BYTES);
    }
    return 0;
}

static int s_facts(kt_store_t *st, const uint8_t *id, const char *partner, struct s_facts *f,
                   kt_diag_t *d)
{
    static const char sql[] = "SELECT record_type, subject, consent_id FROM outbox"
                              " WHERE id = ?1 AND partner = ?2";
    kt_stmt_t *q = NULL;
    int rc;

    memset(f, 0, sizeof(*f));
    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    if ((rc = s_bind_key(q, id, partner)) == 0 && (rc = kt_stmt_step(q, d)) == KT_STORE_ROW)
        rc = s_row_facts(q, 0, f);
    kt_stmt_finalize(&q);
    return rc < 0 ? rc : 0;
}

static int s_trail(kt_store_t *st, const char *actor, const char *action, const char *decision,
                   const char *reason, const uint8_t *id, const char *partner,
                   const struct s_facts *f, kt_diag_t *d)
{
    kt_trail_t t;

    memset(&t, 0, sizeof(t));
    t.actor = actor;
    t.action = action;
    t.decision = decision;
    t.reason = reason;
    t.record_id = id;
    t.record_type = f->type;
    t.subject = f->has_subject ? f->subject : NULL;
    t.consent_id = f->has_consent ? f->consent : NULL;
    t.partner = partner;
    return kt_trail_write(st, &t, d);
}

/* The receipt's verdict as an audit entry, before the row changes (a purge
 * clears the row's subject). */
static int s_trail_receipt(kt_store_t *st, const char *actor, const char *partner,
                           const kt_receipt_t *r, kt_diag_t *d)
{
    uint8_t ref[KT_ENVELOPE_ID_BYTES];
    const uint8_t *about = r->ref;
    struct s_facts f;
    int rc;

    if (r->status == KT_RECEIPT_PURGED) {
        if ((rc = s_retract_ref(st, r->ref, partner, ref, d)) == 0)
            about = ref;
        else if (rc != KT_ENOENT)
            return rc;
    }
    if ((rc = s_facts(st, about, partner, &f, d)) != 0)
        return rc;
    if (r->status == KT_RECEIPT_ACCEPTED)
        return s_trail(st, actor, KT_AUDIT_DELIVERED, "accepted", r->code, about, partner, &f, d);
    if (r->status == KT_RECEIPT_PURGED)
        return s_trail(st, actor, KT_AUDIT_PURGED, "purged_by_recipient", r->code, about, partner,
                       &f, d);
    return s_trail(st, actor, KT_AUDIT_REJECTED, "rejected", r->code, about, partner, &f, d);
}

int kt_outbox_apply_receipt(kt_store_t *st, const char *actor, const char *partner,
                            const kt_receipt_t *r, const uint8_t *receipt_signed,
                            size_t receipt_len, int64_t now_ms, kt_diag_t *d)
{
    uint8_t digest[32];
    char hex[KT_ENVELOPE_ID_HEX];
    kt_out_state_t state;
    int attempts, rc;

    kt_envelope_id_hex(hex, r->ref);
    if ((rc = s_row_state(st, r->ref, partner, &state, &attempts, digest, d)) != 0)
        return rc;
    if (memcmp(digest, r->digest, sizeof(digest)) != 0)
        return kt_diag_set(d, KT_EAUTH,
                           "receipt for record %s from %s names another digest "
                           "than the record sent",
                           hex, partner);
    if (state == KT_OUT_HELD)
        return kt_diag_set(d, KT_ENOENT, "record %s to %s is held and was never sent", hex,
                           partner);
    if (state != KT_OUT_QUEUED && state != KT_OUT_SENT)
        return 0; /* a repeated receipt: the first one decided */
    /* "internal": the receiver could not commit; the record goes again. */
    if (r->status == KT_RECEIPT_REJECTED && strcmp(r->code, KT_RCODE_INTERNAL) == 0)
        return 0;
    if ((rc = s_trail_receipt(st, actor, partner, r, d)) != 0)
        return rc;
    if (r->status == KT_RECEIPT_PURGED)
        return s_purged(st, partner, r, receipt_signed, receipt_len, now_ms, d);
    if (r->status == KT_RECEIPT_ACCEPTED)
        return s_finish(st, r->ref, partner, "delivered", NULL, receipt_signed, receipt_len, now_ms,
                        d);
    return s_finish(st, r->ref, partner, "rejected", r->code, receipt_signed, receipt_len, now_ms,
                    d);
}

/* ---- consent: release and retraction ---- */

int kt_outbox_set_consent(kt_store_t *st, const uint8_t id[KT_ENVELOPE_ID_BYTES],
                          const char *partner, const uint8_t consent_id[KT_ENVELOPE_ID_BYTES],
                          kt_diag_t *d)
{
    static const char sql[] = "UPDATE outbox SET consent_id = ?3 WHERE id = ?1 AND partner = ?2";
    kt_stmt_t *q = NULL;
    int rc;

    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    if ((rc = s_bind_key(q, id, partner)) == 0 &&
        (rc = kt_stmt_bind_blob(q, 3, consent_id, KT_ENVELOPE_ID_BYTES)) == 0)
        rc = s_run(q, d);
    kt_stmt_finalize(&q);
    return rc;
}

/* Replaces a row's signed payload (and digest) and queues it under consent_id. */
static int s_requeue(kt_store_t *st, const uint8_t *id, const char *partner, const uint8_t *locked,
                     size_t locked_len, const uint8_t digest[32], const uint8_t *consent_id,
                     int64_t now_ms, kt_diag_t *d)
{
    static const char sql[] =
        "UPDATE outbox SET state = 'queued', payload = ?3, digest = ?4, consent_id = ?5,"
        " next_attempt = ?6, updated = ?6 WHERE id = ?1 AND partner = ?2 AND state = 'held'";
    kt_stmt_t *q = NULL;
    int rc;

    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    if ((rc = s_bind_key(q, id, partner)) == 0 &&
        (rc = kt_stmt_bind_blob(q, 3, locked, locked_len)) == 0 &&
        (rc = kt_stmt_bind_blob(q, 4, digest, 32)) == 0 &&
        (rc = consent_id ? kt_stmt_bind_blob(q, 5, consent_id, KT_ENVELOPE_ID_BYTES)
                         : kt_stmt_bind_null(q, 5)) == 0 &&
        (rc = kt_stmt_bind_int64(q, 6, now_ms)) == 0)
        rc = s_run(q, d);
    kt_stmt_finalize(&q);
    return rc;
}

static int s_row_subject(kt_store_t *st, const uint8_t *id, const char *partner,
                         uint8_t subject[KT_SUBJECT_BYTES], int *has, kt_diag_t *d)
{
    static const char sql[] = "SELECT subject FROM outbox WHERE id = ?1 AND partner = ?2";
    kt_stmt_t *q = NULL;
    int rc;

    *has = 0;
    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    if ((rc = s_bind_key(q, id, partner)) == 0 && (rc = kt_stmt_step(q, d)) == KT_STORE_ROW &&
        s_subject_col(q, 0) != NULL) {
        memcpy(subject, s_subject_col(q, 0), KT_SUBJECT_BYTES);
        *has = 1;
    }
    kt_stmt_finalize(&q);
    return rc < 0 ? rc : 0;
}

int kt_outbox_release(kt_store_t *st, const kt_keys_t *keys, const kt_vault_t *v,
                      const uint8_t id[KT_ENVELOPE_ID_BYTES], const char *partner,
                      const uint8_t consent_id[KT_ENVELOPE_ID_BYTES], const uint8_t *record,
                      size_t record_len, int64_t now_ms, kt_diag_t *d)
{
    uint8_t *locked = NULL, digest[32], subject[KT_SUBJECT_BYTES];
    size_t locked_len = 0;
    char hex[KT_ENVELOPE_ID_HEX];
    kt_out_state_t state;
    int attempts, has_subject = 0, rc;

    if ((rc = s_row_state(st, id, partner, &state, &attempts, NULL, d)) != 0)
        return rc;
    if (state != KT_OUT_HELD) {
        kt_envelope_id_hex(hex, id);
        return kt_diag_set(d, KT_EINVAL, "record %s to %s is %s, not held", hex, partner,
                           kt_outbox_state_name(state));
    }
    if ((rc = s_row_subject(st, id, partner, subject, &has_subject, d)) != 0)
        return rc;
    rc = s_sign_lock(st, keys, v, KT_KIND_RECORD, id, partner, has_subject ? subject : NULL, record,
                     record_len, now_ms, &locked, &locked_len, digest, d);
    if (rc == 0)
        rc = s_requeue(st, id, partner, locked, locked_len, digest, consent_id, now_ms, d);
    free(locked);
    return rc;
}

/* Runs sql with ?1 = consent_id and ?2 = now_ms. */
static int s_exec_consent(kt_store_t *st, const char *sql, const uint8_t *consent_id,
                          int64_t now_ms, kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    int rc;

    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    if ((rc = kt_stmt_bind_blob(q, 1, consent_id, KT_ENVELOPE_ID_BYTES)) == 0 &&
        (rc = kt_stmt_bind_int64(q, 2, now_ms)) == 0)
        rc = s_run(q, d);
    kt_stmt_finalize(&q);
    return rc;
}

/* Queues a retraction of record `ref` for `partner`. */
static int s_add_retraction(kt_store_t *st, const kt_keys_t *keys, const kt_vault_t *v,
                            const uint8_t *ref, const char *partner, const char *record_type,
                            int64_t now_ms, kt_diag_t *d)
{
    uint8_t id[KT_ENVELOPE_ID_BYTES], body[KT_RETRACT_BYTES], *locked = NULL, digest[32];
    size_t locked_len = 0;
    struct s_row w;
    int rc;

    kt_envelope_new_id(id);
    kt_retract_encode(body, ref);
    rc = s_sign_lock(st, keys, v, KT_KIND_RETRACT, id, partner, NULL, body, sizeof(body), now_ms,
                     &locked, &locked_len, digest, d);
    if (rc == 0) {
        w = (struct s_row){id,     partner,    "retract", record_type, ref, KT_OUT_QUEUED,
                           locked, locked_len, digest,    NULL};
        rc = s_insert(st, &w, now_ms, d);
    }
    free(locked);
    return rc;
}

int kt_outbox_retract_consent(kt_store_t *st, const kt_keys_t *keys, const kt_vault_t *v,
                              const uint8_t consent_id[KT_ENVELOPE_ID_BYTES], int64_t now_ms,
                              size_t *n, kt_diag_t *d)
{
    static const char sel[] = "SELECT " S_ROW_COLS " FROM outbox WHERE"
                              " consent_id = ?1 AND kind = 'record' AND state IN"
                              " ('queued', 'sent', 'delivered')";
    static const char never_left[] =
        "UPDATE outbox SET state = 'purged', payload = NULL, subject = NULL, next_attempt = NULL,"
        " updated = ?2 WHERE consent_id = ?1 AND kind = 'record' AND state = 'queued'";
    static const char retracted[] =
        "UPDATE outbox SET state = 'retracted', next_attempt = NULL, updated = ?2"
        " WHERE consent_id = ?1 AND kind = 'record' AND state IN ('sent', 'delivered')";
    kt_outbox_row_t *rows = NULL;
    size_t nrows = 0, i;
    kt_stmt_t *q = NULL;
    int rc;

    *n = 0;
    if ((rc = kt_store_prepare(st, &q, sel, d)) != 0)
        return rc;
    if ((rc = kt_stmt_bind_blob(q, 1, consent_id, KT_ENVELOPE_ID_BYTES)) == 0)
        rc = s_collect(q, &rows, &nrows, d);
    kt_stmt_finalize(&q);
    for (i = 0; rc == 0 && i < nrows; i++) {
        struct s_facts f;

        memset(&f, 0, sizeof(f));
        snprintf(f.type, sizeof(f.type), "%s", rows[i].record_type);
        f.has_subject = rows[i].has_subject;
        memcpy(f.subject, rows[i].subject, KT_SUBJECT_BYTES);
        f.has_consent = 1;
        memcpy(f.consent, consent_id, KT_ENVELOPE_ID_BYTES);
        if (rows[i].state == KT_OUT_QUEUED) { /* never left: dropped here */
            rc = s_trail(st, KT_TRAIL_DAEMON, KT_AUDIT_PURGED, "not_sent", "consent_ended",
                         rows[i].id, rows[i].partner, &f, d);
            continue;
        }
        if ((rc = s_add_retraction(st, keys, v, rows[i].id, rows[i].partner, rows[i].record_type,
                                   now_ms, d)) == 0 &&
            (rc = s_trail(st, KT_TRAIL_DAEMON, KT_AUDIT_RETRACTED, "queued", "consent_ended",
                          rows[i].id, rows[i].partner, &f, d)) == 0)
            (*n)++;
    }
    free(rows);
    if (rc == 0)
        rc = s_exec_consent(st, never_left, consent_id, now_ms, d);
    if (rc == 0)
        rc = s_exec_consent(st, retracted, consent_id, now_ms, d);
    return rc;
}

/* ---- schedule ---- */

int kt_outbox_wake(kt_store_t *st, const char *partner, int64_t now_ms, kt_diag_t *d)
{
    static const char sql[] =
        "UPDATE outbox SET next_attempt = ?2 WHERE partner = ?1 AND " S_PENDING
        " AND next_attempt > ?2";
    kt_stmt_t *q = NULL;
    int rc;

    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    if ((rc = kt_stmt_bind_text(q, 1, partner)) == 0 &&
        (rc = kt_stmt_bind_int64(q, 2, now_ms)) == 0)
        rc = s_run(q, d);
    kt_stmt_finalize(&q);
    return rc;
}

int kt_outbox_next_due(kt_store_t *st, int64_t *when_ms, kt_diag_t *d)
{
    static const char sql[] = "SELECT MIN(next_attempt) FROM outbox WHERE " S_PENDING;
    kt_stmt_t *q = NULL;
    int rc;

    *when_ms = 0;
    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    if ((rc = kt_stmt_step(q, d)) == KT_STORE_ROW && !kt_stmt_column_is_null(q, 0)) {
        *when_ms = kt_stmt_column_int64(q, 0);
        rc = 0;
    } else if (rc >= 0) {
        rc = KT_ENOENT; /* no diag: nothing pending is the normal idle case */
    }
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

static int s_read_row(kt_stmt_t *q, kt_outbox_row_t *row, kt_diag_t *d)
{
    const void *id = kt_stmt_column_blob(q, 0);

    memset(row, 0, sizeof(*row));
    if (id == NULL || kt_stmt_column_bytes(q, 0) != KT_ENVELOPE_ID_BYTES ||
        kt_outbox_state_parse(kt_stmt_column_text(q, 3), &row->state) != 0)
        return kt_diag_set(d, KT_EIO, "outbox: corrupt row (id or state)");
    memcpy(row->id, id, KT_ENVELOPE_ID_BYTES);
    s_copy_text(row->partner, sizeof(row->partner), kt_stmt_column_text(q, 1));
    s_copy_text(row->record_type, sizeof(row->record_type), kt_stmt_column_text(q, 2));
    row->attempts = (int)kt_stmt_column_int64(q, 4);
    row->next_attempt_ms = kt_stmt_column_int64(q, 5); /* NULL reads as 0 */
    row->created_ms = kt_stmt_column_int64(q, 6);
    row->updated_ms = kt_stmt_column_int64(q, 7);
    if (row->state == KT_OUT_REJECTED)
        s_copy_text(row->reason, sizeof(row->reason), kt_stmt_column_text(q, 8));
    if (kt_stmt_column_bytes(q, 9) == KT_ENVELOPE_ID_BYTES) {
        row->has_consent = 1;
        memcpy(row->consent_id, kt_stmt_column_blob(q, 9), KT_ENVELOPE_ID_BYTES);
    }
    if (kt_stmt_column_bytes(q, 10) == KT_SUBJECT_BYTES) {
        row->has_subject = 1;
        memcpy(row->subject, kt_stmt_column_blob(q, 10), KT_SUBJECT_BYTES);
    }
    if (row->state != KT_OUT_QUEUED && row->state != KT_OUT_SENT)
        row->next_attempt_ms = 0;
    return 0;
}

/* Collects every row q returns into a malloc'd array. */
static int s_collect(kt_stmt_t *q, kt_outbox_row_t **rows, size_t *n, kt_diag_t *d)
{
    kt_outbox_row_t *a = NULL, *t;
    size_t cap = 0;
    int rc;

    *rows = NULL;
    *n = 0;
    while ((rc = kt_stmt_step(q, d)) == KT_STORE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            if ((t = realloc(a, cap * sizeof(*a))) == NULL) {
                rc = kt_diag_set(d, KT_ENOMEM, "out of memory listing the outbox");
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

int kt_outbox_list(kt_store_t *st, int state, kt_outbox_row_t **rows, size_t *n, kt_diag_t *d)
{
    static const char sql[] = "SELECT " S_ROW_COLS " FROM outbox WHERE kind = 'record' AND"
                              " (?1 IS NULL OR state = ?1) ORDER BY created DESC, rowid DESC";
    kt_stmt_t *q = NULL;
    int rc;

    *rows = NULL;
    *n = 0;
    if (state >= KT_OUT_NSTATES)
        return kt_diag_set(d, KT_EINVAL, "unknown outbox state");
    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    rc = state < 0 ? kt_stmt_bind_null(q, 1)
                   : kt_stmt_bind_text(q, 1, kt_outbox_state_name((kt_out_state_t)state));
    if (rc == 0)
        rc = s_collect(q, rows, n, d);
    kt_stmt_finalize(&q);
    return rc;
}

int kt_outbox_held(kt_store_t *st, kt_outbox_row_t **rows, size_t *n, kt_diag_t *d)
{
    static const char sql[] = "SELECT " S_ROW_COLS " FROM outbox WHERE kind = 'record' AND"
                              " state = 'held' ORDER BY created, rowid";
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

int kt_outbox_counts(kt_store_t *st, size_t counts[KT_OUT_NSTATES], kt_diag_t *d)
{
    static const char sql[] =
        "SELECT state, count(*) FROM outbox WHERE kind = 'record' GROUP BY state";
    kt_out_state_t s;
    kt_stmt_t *q = NULL;
    int rc;

    memset(counts, 0, KT_OUT_NSTATES * sizeof(counts[0]));
    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    while ((rc = kt_stmt_step(q, d)) == KT_STORE_ROW)
        if (kt_outbox_state_parse(kt_stmt_column_text(q, 0), &s) == 0)
            counts[s] = (size_t)kt_stmt_column_int64(q, 1);
    kt_stmt_finalize(&q);
    return rc < 0 ? rc : 0;
}

int kt_outbox_subject(kt_store_t *st, const uint8_t subject[KT_SUBJECT_BYTES],
                      kt_outbox_row_t **rows, size_t *n, kt_diag_t *d)
{
    static const char sql[] = "SELECT " S_ROW_COLS " FROM outbox WHERE subject = ?1 AND"
                              " kind = 'record' ORDER BY created, partner";
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

int kt_outbox_get(kt_store_t *st, const uint8_t id[KT_ENVELOPE_ID_BYTES], kt_outbox_row_t **rows,
                  size_t *n, kt_diag_t *d)
{
    static const char sql[] = "SELECT " S_ROW_COLS " FROM outbox WHERE id = ?1 AND"
                              " kind = 'record' ORDER BY partner";
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
        rc = kt_diag_set(d, KT_ENOENT, "no record %s in the outbox", hex);
    }
    return rc;
}

int kt_outbox_signed(kt_store_t *st, const kt_vault_t *v, const uint8_t id[KT_ENVELOPE_ID_BYTES],
                     const char *partner, uint8_t **out, size_t *outlen, kt_diag_t *d)
{
    static const char sql[] = "SELECT payload, subject FROM outbox WHERE id = ?1 AND partner = ?2";
    char hex[KT_ENVELOPE_ID_HEX];
    kt_stmt_t *q = NULL;
    const void *locked;
    int rc;

    *out = NULL;
    *outlen = 0;
    if ((rc = s_check_partner(partner, d)) != 0)
        return rc;
    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    if ((rc = s_bind_key(q, id, partner)) != 0 || (rc = kt_stmt_step(q, d)) < 0)
        goto out;
    if (rc == KT_STORE_DONE || kt_stmt_column_is_null(q, 0)) {
        kt_envelope_id_hex(hex, id);
        rc = kt_diag_set(d, KT_ENOENT, "no record %s in the outbox for %s", hex, partner);
        goto out;
    }
    locked = kt_stmt_column_blob(q, 0);
    rc = s_unlock(st, v, id, partner, s_subject_col(q, 1), locked, kt_stmt_column_bytes(q, 0), out,
                  outlen, d);
out:
    kt_stmt_finalize(&q);
    return rc;
}

/* ---- retention ---- */

/* A row the purge deleted, for its audit entry. */
struct s_gone {
    uint8_t id[KT_ENVELOPE_ID_BYTES];
    char partner[KT_NODE_ID_MAX + 1];
    struct s_facts f;
};

int kt_outbox_purge_expired(kt_store_t *st, int64_t now_ms, size_t *n, kt_diag_t *d)
{
    /* Final rows past their rule's retention, counted from the receipt, and
     * retractions whose purge was confirmed. */
    static const char sql[] =
        "DELETE FROM outbox WHERE (kind = 'record' AND state IN ('delivered', 'rejected',"
        " 'purged') AND keep_days IS NOT NULL AND updated + keep_days * 86400000 < ?1)"
        " OR (kind = 'retract' AND state = 'delivered')"
        " RETURNING id, partner, kind, record_type, subject, consent_id";
    struct s_gone *gone = NULL, *grown;
    size_t m = 0, cap = 0, i;
    kt_stmt_t *q = NULL;
    int rc;

    /* The RETURNING rows are collected first: the DELETE must be stepped to
     * its end before the audit entries are written. */
    *n = 0;
    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    if ((rc = kt_stmt_bind_int64(q, 1, now_ms)) != 0)
        goto out;
    while ((rc = kt_stmt_step(q, d)) == KT_STORE_ROW) {
        const char *kind = kt_stmt_column_text(q, 2);

        (*n)++;
        if (kind == NULL || strcmp(kind, "record") != 0 ||
            kt_stmt_column_bytes(q, 0) != KT_ENVELOPE_ID_BYTES)
            continue; /* a confirmed retraction: its record's purge was audited */
        if (m == cap) {
            cap = cap ? 2 * cap : 16;
            if ((grown = realloc(gone, cap * sizeof(*gone))) == NULL) {
                rc = kt_diag_set(d, KT_ENOMEM, "out of memory");
                goto out;
            }
            gone = grown;
        }
        memcpy(gone[m].id, kt_stmt_column_blob(q, 0), KT_ENVELOPE_ID_BYTES);
        s_copy_text(gone[m].partner, sizeof(gone[m].partner), kt_stmt_column_text(q, 1));
        s_row_facts(q, 3, &gone[m].f);
        m++;
    }
    if (rc < 0)
        goto out;
    kt_stmt_finalize(&q);
    rc = 0;
    for (i = 0; rc == 0 && i < m; i++)
        rc = s_trail(st, KT_TRAIL_DAEMON, KT_AUDIT_PURGED, "deleted", "retention", gone[i].id,
                     gone[i].partner, &gone[i].f, d);
out:
    kt_stmt_finalize(&q);
    free(gone);
    return rc;
}

int kt_outbox_in_flight(kt_store_t *st, const char *partner, int64_t now_ms, size_t *n,
                        kt_diag_t *d)
{
    static const char sql[] = "SELECT count(*) FROM outbox WHERE partner = ?1 AND state = 'sent'"
                              " AND next_attempt > ?2";
    kt_stmt_t *q = NULL;
    int rc;

    *n = 0;
    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    if ((rc = kt_stmt_bind_text(q, 1, partner)) == 0 &&
        (rc = kt_stmt_bind_int64(q, 2, now_ms)) == 0 && (rc = kt_stmt_step(q, d)) == KT_STORE_ROW) {
        *n = (size_t)kt_stmt_column_int64(q, 0);
        rc = 0;
    }
    kt_stmt_finalize(&q);
    return rc < 0 ? rc : 0;
}
