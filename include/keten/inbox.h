/*
 * inbox.h - the receiver's side: commit, deduplicate, acknowledge.
 *
 * A record that opened and verified (signer = the ZAP-authenticated partner,
 * addressed to this node) goes through kt_inbox_accept inside the caller's
 * transaction. The answer is always a signed receipt, built before the caller
 * commits and sent only after the commit succeeds:
 *
 *   seen before (sender, id)  -> the receipt signed the first time, unchanged
 *   older than max age        -> rejected "expired"  (id remembered, nothing kept)
 *   body not a valid record   -> rejected "malformed"
 *   the incoming hook refuses -> rejected "denied"
 *   otherwise                 -> stored locked at rest, accepted "ok"
 *
 * Each outcome except a duplicate is an audit entry (received, rejected, or
 * purged for a retraction) in the same transaction, and the receipt carries
 * this node's latest signed audit checkpoint.
 *
 * Seen ids are kept for the maximum message age beyond the record's creation,
 * so a replay is either recognised or too old.
 */
#ifndef KETEN_INBOX_H
#define KETEN_INBOX_H

#include <stddef.h>
#include <stdint.h>

#include "keten/envelope.h"
#include "keten/error.h"
#include "keten/hook.h"
#include "keten/keys.h"
#include "keten/receipt.h"
#include "keten/store.h"
#include "keten/vault.h"

/* How far in the future a record's `created` may lie (clocks differ). */
#define KT_INBOX_CLOCK_SKEW_S 300

typedef struct kt_inbox_ctx {
    kt_store_t *st;
    const kt_keys_t *keys; /* signs receipts */
    const kt_vault_t *vault;
    const kt_hook_t *hook;
    int64_t max_age_s; /* maximum message age */
    const char *actor; /* the sender's fingerprint, for audit entries (NULL: its id) */
} kt_inbox_ctx_t;

typedef struct kt_inbox_result {
    uint8_t *receipt; /* signed receipt container (kind receipt, to = sender); owned */
    size_t receipt_len;
    kt_receipt_t r; /* what it says */
    int duplicate;  /* 1: a re-acknowledgement, nothing changed */
} kt_inbox_result_t;

/* `signed_buf` is the verified container, `p` its payload. Returns 0 with a
 * result for every outcome above (rejections included); negative only when
 * the store failed, and then the caller rolls back and answers nothing (the
 * sender retries). */
int kt_inbox_accept(const kt_inbox_ctx_t *c, const char *sender, const uint8_t *signed_buf,
                    size_t signed_len, const kt_payload_t *p, int64_t now_ms,
                    kt_inbox_result_t *res, kt_diag_t *d) KT_WUR;
void kt_inbox_result_clear(kt_inbox_result_t *res);

/* A signed receipt for something that could not be opened or verified:
 * ref all zero (or `ref` if known), digest of the raw bytes, rejected with
 * `code`. Nothing is stored. */
int kt_inbox_reject(const kt_keys_t *keys, const char *sender, const uint8_t *ref,
                    const uint8_t *raw, size_t raw_len, const char *code, int64_t now_ms,
                    uint8_t **receipt, size_t *receipt_len, kt_diag_t *d) KT_WUR;

/* Deletes records past their receive rule's retention; *n rows. */
int kt_inbox_purge_expired(kt_store_t *st, int64_t now_ms, size_t *n, kt_diag_t *d) KT_WUR;

/* Drops seen ids whose time has passed. */
int kt_inbox_expire_seen(kt_store_t *st, int64_t now_ms, kt_diag_t *d) KT_WUR;

typedef struct kt_inbox_row {
    char sender[KT_NODE_ID_MAX + 1];
    uint8_t id[KT_ENVELOPE_ID_BYTES];
    char record_type[KT_RECORD_NAME_MAX + 1];
    char state[16];    /* accepted */
    int64_t created_s; /* by the sender */
    int64_t received_ms;
    int has_subject; /* 0 once the pupil's key was shredded */
    uint8_t subject[KT_SUBJECT_BYTES];
} kt_inbox_row_t;

int kt_inbox_list(kt_store_t *st, kt_inbox_row_t **rows, size_t *n, kt_diag_t *d) KT_WUR;
/* Every received record of one pupil (subject access), oldest first. */
int kt_inbox_subject(kt_store_t *st, const uint8_t subject[KT_SUBJECT_BYTES], kt_inbox_row_t **rows,
                     size_t *n, kt_diag_t *d) KT_WUR;
int kt_inbox_count(kt_store_t *st, size_t *n, kt_diag_t *d) KT_WUR;
/* Rows with this id (from any sender); KT_ENOENT if none. */
int kt_inbox_get(kt_store_t *st, const uint8_t id[KT_ENVELOPE_ID_BYTES], kt_inbox_row_t **rows,
                 size_t *n, kt_diag_t *d) KT_WUR;
/* The stored signed record, unlocked (free with kt_vault_free). */
int kt_inbox_signed(kt_store_t *st, const kt_vault_t *v, const char *sender,
                    const uint8_t id[KT_ENVELOPE_ID_BYTES], uint8_t **out, size_t *outlen,
                    kt_diag_t *d) KT_WUR;

#endif
