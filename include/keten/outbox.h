/*
 * outbox.h - the sender's store-and-forward state machine.
 *
 * A record accepted by `submit` gets one row per recipient, keyed by (record
 * id, partner), holding the signed record locked at rest. States:
 *
 *   held ──(consent)──> queued ──(sent)──> sent ──(accepted receipt)──> delivered
 *                         ^                  │ └──(rejected receipt)──> rejected
 *                         └──(no receipt by next_attempt: resend)──┘
 *
 *   sent, delivered ──(consent withdrawn or expired)──> retracted ──(purged receipt)──> purged
 *   queued          ──(consent withdrawn or expired)──> purged (it never left)
 *
 * A retraction travels as a row of its own (kind retract, ref = the record),
 * sent and retried like a record; such rows are not listed to operators,
 * whose view is the record row's state.
 *
 * Retries back off exponentially with jitter, persist across restarts (the
 * schedule is in the database) and are pulled forward when a partner
 * reconnects. Every state change is one statement inside the caller's
 * transaction: the caller commits before it acknowledges anything.
 */
#ifndef KETEN_OUTBOX_H
#define KETEN_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "keten/envelope.h"
#include "keten/error.h"
#include "keten/keys.h"
#include "keten/receipt.h"
#include "keten/record.h"
#include "keten/store.h"
#include "keten/vault.h"

typedef enum {
    KT_OUT_HELD = 0,
    KT_OUT_QUEUED,
    KT_OUT_SENT,
    KT_OUT_DELIVERED,
    KT_OUT_REJECTED,
    KT_OUT_RETRACTED, /* consent ended; the recipient has not confirmed the purge yet */
    KT_OUT_PURGED,    /* the recipient confirmed it deleted the record */
    KT_OUT_NSTATES
} kt_out_state_t;

#define KT_OUTBOX_RETRY_MIN_MS 500            /* first retry after about this */
#define KT_OUTBOX_RETRY_MAX_MS_DEFAULT 300000 /* backoff cap unless configured */

const char *kt_outbox_state_name(kt_out_state_t s);
int kt_outbox_state_parse(const char *s, kt_out_state_t *out) KT_WUR;

/* Delay before attempt number `attempts` + 1: min(cap, MIN * 2^attempts),
 * scaled by a random factor in [0.5, 1] (jitter spreads a thundering herd). */
int64_t kt_outbox_backoff_ms(int attempts, int64_t cap_ms);

/* What a record row carries besides the record. */
typedef struct kt_outbox_meta {
    const uint8_t *subject; /* KT_SUBJECT_BYTES: the pupil; the payload is locked
                               under their key (crypto-shredding). NULL: node key */
    int retention_days;     /* the send rule's retention, counted from delivery; 0: none */
} kt_outbox_meta_t;

/* Inside an open transaction: sign `record` (canonical CBOR of type
 * record_type) for `to` under `id`, created `now_ms`/1000, lock it and insert
 * it as queued (or held). KT_EEXIST if (id, to) exists. meta may be NULL. */
int kt_outbox_add(kt_store_t *st, const kt_keys_t *keys, const kt_vault_t *v,
                  const uint8_t id[KT_ENVELOPE_ID_BYTES], const char *to, const char *record_type,
                  const uint8_t *record, size_t record_len, kt_out_state_t state,
                  const kt_outbox_meta_t *meta, int64_t now_ms, kt_diag_t *d) KT_WUR;

/* A row due for (re)sending, with its signed record unlocked. */
typedef struct kt_outbox_item {
    kt_kind_t kind; /* KT_KIND_RECORD or KT_KIND_RETRACT */
    uint8_t id[KT_ENVELOPE_ID_BYTES];
    char partner[KT_NODE_ID_MAX + 1];
    int attempts;
    uint8_t *signed_buf; /* owned; cleared (wiped) by kt_outbox_item_clear */
    size_t signed_len;
} kt_outbox_item_t;

/* Up to `max` rows in state queued or sent whose next attempt is due at
 * now_ms, oldest first, optionally only for one partner (NULL: all). */
int kt_outbox_due(kt_store_t *st, const kt_vault_t *v, int64_t now_ms, const char *partner,
                  kt_outbox_item_t *items, size_t max, size_t *n, kt_diag_t *d) KT_WUR;
void kt_outbox_item_clear(kt_outbox_item_t *it);

/* After a send attempt (whether or not the transport took it): state sent
 * (if it was queued), attempts + 1, next attempt after the backoff. */
int kt_outbox_mark_sent(kt_store_t *st, const uint8_t id[KT_ENVELOPE_ID_BYTES], const char *partner,
                        int64_t now_ms, int64_t cap_ms, kt_diag_t *d) KT_WUR;

/* A verified receipt from `partner`: the digest must match what we sent
 * (KT_EAUTH otherwise), the row becomes delivered or rejected (reason = code)
 * and keeps the signed receipt. KT_ENOENT for an unknown (id, partner); a
 * receipt for a row already final is accepted and changes nothing. Each
 * change is audited (delivered, rejected, purged) with `actor`, the
 * partner's fingerprint, as the entry's actor. */
int kt_outbox_apply_receipt(kt_store_t *st, const char *actor, const char *partner,
                            const kt_receipt_t *r, const uint8_t *receipt_signed,
                            size_t receipt_len, int64_t now_ms, kt_diag_t *d) KT_WUR;

/* Every pending row of `partner` becomes due now (it has just connected). */
int kt_outbox_wake(kt_store_t *st, const char *partner, int64_t now_ms, kt_diag_t *d) KT_WUR;

/* How many of partner's rows were sent and still wait for a receipt within
 * their retry time: the sender's window. */
int kt_outbox_in_flight(kt_store_t *st, const char *partner, int64_t now_ms, size_t *n,
                        kt_diag_t *d) KT_WUR;

/* When the next row is due (ms); KT_ENOENT when nothing is pending. */
int kt_outbox_next_due(kt_store_t *st, int64_t *when_ms, kt_diag_t *d) KT_WUR;

/* Inside an open transaction: a held row whose consent is now there gets
 * consent_id (NULL: its rule no longer needs one) and `record` — the copy as
 * it may go now, stripped by the policy — signed with created = now (the
 * receiver's maximum message age counts from sending, not from submission),
 * then queued. A held row keeps the record as submitted until then, because
 * the consent decision needs fields stripping removes. KT_EINVAL unless the
 * row is held. */
int kt_outbox_release(kt_store_t *st, const kt_keys_t *keys, const kt_vault_t *v,
                      const uint8_t id[KT_ENVELOPE_ID_BYTES], const char *partner,
                      const uint8_t consent_id[KT_ENVELOPE_ID_BYTES], const uint8_t *record,
                      size_t record_len, int64_t now_ms, kt_diag_t *d) KT_WUR;

/* Inside an open transaction: every row sent under consent_id is taken
 * back. Queued rows are purged at once (they never left); sent and delivered
 * rows become retracted and a retraction is queued for their recipient.
 * *n counts the retractions queued. */
int kt_outbox_retract_consent(kt_store_t *st, const kt_keys_t *keys, const kt_vault_t *v,
                              const uint8_t consent_id[KT_ENVELOPE_ID_BYTES], int64_t now_ms,
                              size_t *n, kt_diag_t *d) KT_WUR;

/* Records the consent a queued row goes under (set at submit). */
int kt_outbox_set_consent(kt_store_t *st, const uint8_t id[KT_ENVELOPE_ID_BYTES],
                          const char *partner, const uint8_t consent_id[KT_ENVELOPE_ID_BYTES],
                          kt_diag_t *d) KT_WUR;

/* Deletes rows past the retention of their send rule (counted from the
 * final receipt) and confirmed retractions; *n rows. Each deleted record
 * copy is audited as purged (retention). */
int kt_outbox_purge_expired(kt_store_t *st, int64_t now_ms, size_t *n, kt_diag_t *d) KT_WUR;

/* A row as listed to operators: no payload, no personal data. */
typedef struct kt_outbox_row {
    uint8_t id[KT_ENVELOPE_ID_BYTES];
    int has_consent;
    uint8_t consent_id[KT_ENVELOPE_ID_BYTES];
    char partner[KT_NODE_ID_MAX + 1];
    char record_type[KT_RECORD_NAME_MAX + 1];
    kt_out_state_t state;
    int attempts;
    int64_t next_attempt_ms; /* 0 when not pending */
    int64_t created_ms, updated_ms;
    char reason[KT_RECEIPT_CODE_MAX + 1]; /* "" unless rejected */
    int has_subject;                      /* 0 once the pupil's key was shredded */
    uint8_t subject[KT_SUBJECT_BYTES];
} kt_outbox_row_t;

/* All rows (state < 0) or those in one state, newest first; *rows malloc'd. */
int kt_outbox_list(kt_store_t *st, int state, kt_outbox_row_t **rows, size_t *n,
                   kt_diag_t *d) KT_WUR;
/* The held rows, oldest first (for the caller to test against consent). */
int kt_outbox_held(kt_store_t *st, kt_outbox_row_t **rows, size_t *n, kt_diag_t *d) KT_WUR;
int kt_outbox_counts(kt_store_t *st, size_t counts[KT_OUT_NSTATES], kt_diag_t *d) KT_WUR;
/* The rows of one record id (one per recipient); KT_ENOENT if none. */
/* Every record copy of one pupil (subject access), oldest first; none is
 * not an error. */
int kt_outbox_subject(kt_store_t *st, const uint8_t subject[KT_SUBJECT_BYTES],
                      kt_outbox_row_t **rows, size_t *n, kt_diag_t *d) KT_WUR;
int kt_outbox_get(kt_store_t *st, const uint8_t id[KT_ENVELOPE_ID_BYTES], kt_outbox_row_t **rows,
                  size_t *n, kt_diag_t *d) KT_WUR;
/* The signed record of one row, unlocked (free with kt_vault_free). */
int kt_outbox_signed(kt_store_t *st, const kt_vault_t *v, const uint8_t id[KT_ENVELOPE_ID_BYTES],
                     const char *partner, uint8_t **out, size_t *outlen, kt_diag_t *d) KT_WUR;

#endif
