/*
 * audit.h - the hash-chained, append-only audit log, its signed
 * checkpoints, partners' checkpoints (witnessing) and offline verification.
 *
 * Every decision a node takes (DESIGN.md §9) is one entry, appended inside
 * the same transaction as the action it records: when the append fails the
 * caller rolls back and the action does not happen (fail closed). Entries
 * hold codes, field names, ids, fingerprints and a keyed subject pseudonym
 * (kt_vault_subject), never a value of a record.
 *
 * Chain (docs/protocol.md §11 is the normative text):
 *   hash(n) = BLAKE2b-256( "keten/1 audit" 0x00 || prev || u64be(seq) ||
 *             u64be(time) || F(actor) || F(action) || F(record_id) ||
 *             F(record_type) || F(fields) || F(subject) || F(doel) ||
 *             F(grondslag) || F(consent_id) || F(policy_id) ||
 *             F(policy_version) || F(counterparty) || F(decision) || F(reason) )
 * prev is hash(n - 1), or 32 zero bytes for seq 1; F(x) is u32be(length) ||
 * bytes, u32be(0xffffffff) for NULL; policy_version is its decimal text.
 * Sequences start at 1 and have no gaps.
 *
 * Checkpoint: Ed25519 by the node's signing key over
 *   "keten/1 checkpoint" 0x00 || F(node id) || u64be(seq) || u64be(time) || head
 * where head is hash(seq). A node signs one when a receipt is about to
 * carry its head and the head moved since a checkpoint at least
 * KT_AUDIT_RECEIPT_CHECKPOINT_SECONDS old (so a partner witnesses the log
 * at most a second behind), every KT_AUDIT_CHECKPOINT_SECONDS while the head
 * moves, at start-up and on shutdown.
 *
 * There is no update or delete function, and triggers in the schema refuse
 * both. Everything here runs on the caller's kt_store_t; none of it opens a
 * transaction except where stated.
 */
#ifndef KETEN_AUDIT_H
#define KETEN_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "keten/error.h"
#include "keten/keys.h"
#include "keten/store.h"

#define KT_AUDIT_HASH_BYTES 32
#define KT_AUDIT_SIG_BYTES 64
#define KT_AUDIT_ID_BYTES 16
#define KT_AUDIT_SUBJECT_BYTES 32
#define KT_AUDIT_ACTOR_MAX 64   /* "uid:1000", "ketend", or a partner fingerprint */
#define KT_AUDIT_CODE_MAX 48    /* action, record type, doel, grondslag, decision */
#define KT_AUDIT_FIELDS_MAX 512 /* comma-separated field names */
#define KT_AUDIT_REASON_MAX 160 /* a reason code or short rule text, never a value */
#define KT_AUDIT_POLICY_MAX 128 /* "policies/swv-vo-9901.conf" or a policy name */
#define KT_AUDIT_CHECKPOINT_SECONDS 60
#define KT_AUDIT_RECEIPT_CHECKPOINT_SECONDS 1 /* how stale a receipt's checkpoint may be */

/* Actions (the `action` column). */
#define KT_AUDIT_SUBMITTED "submitted" /* an operator submitted a record */
#define KT_AUDIT_SENT "sent"           /* a copy queued for a recipient */
#define KT_AUDIT_HELD "held"           /* a copy waits for consent */
#define KT_AUDIT_RELEASED "released"   /* a held copy queued after consent */
#define KT_AUDIT_STRIPPED "stripped"   /* fields removed for a recipient */
#define KT_AUDIT_REFUSED "refused"     /* a policy refused a copy */
#define KT_AUDIT_DELIVERED "delivered" /* the recipient's signed receipt came */
#define KT_AUDIT_RECEIVED "received"   /* a record from a partner was stored */
#define KT_AUDIT_REJECTED "rejected"   /* a record or message was refused */
#define KT_AUDIT_RETRACTED "retracted" /* a retraction was queued or applied */
#define KT_AUDIT_PURGED "purged"       /* data deleted (retention, retraction) */
#define KT_AUDIT_CONSENT_GRANTED "consent_granted"
#define KT_AUDIT_CONSENT_REFUSED "consent_refused" /* a niet_akkoord was recorded */
#define KT_AUDIT_CONSENT_WITHDRAWN "consent_withdrawn"
#define KT_AUDIT_CONSENT_EXPIRED "consent_expired"
#define KT_AUDIT_POLICY_LOADED "policy_loaded"
#define KT_AUDIT_PARTNER_ADDED "partner_added"
#define KT_AUDIT_PARTNER_REMOVED "partner_removed"
#define KT_AUDIT_KEY_CHANGED "key_changed"
#define KT_AUDIT_REGISTRY_IMPORTED "registry_imported"
#define KT_AUDIT_RECONCILED "reconciled"         /* a count or list comparison finished */
#define KT_AUDIT_SUBJECT_ACCESS "subject_access" /* a subject access request was answered */
#define KT_AUDIT_EXPORTED "exported"             /* a signed record or the log was exported */

/*
 * One entry. Text fields are "" when absent (stored as NULL); has_* say
 * whether the binary ones are present; policy_version 0 means none.
 */
typedef struct kt_audit_entry {
    int64_t seq;  /* set by kt_audit_append */
    int64_t time; /* unix seconds; kt_audit_append sets it when 0 */
    char actor[KT_AUDIT_ACTOR_MAX + 1];
    char action[KT_AUDIT_CODE_MAX + 1];
    int has_record_id;
    uint8_t record_id[KT_AUDIT_ID_BYTES];
    char record_type[KT_AUDIT_CODE_MAX + 1];
    char fields[KT_AUDIT_FIELDS_MAX + 1];
    int has_subject;
    uint8_t subject[KT_AUDIT_SUBJECT_BYTES];
    char doel[KT_AUDIT_CODE_MAX + 1];
    char grondslag[KT_AUDIT_CODE_MAX + 1];
    int has_consent_id;
    uint8_t consent_id[KT_AUDIT_ID_BYTES];
    char policy_id[KT_AUDIT_POLICY_MAX + 1];
    int64_t policy_version;
    char counterparty[KT_NODE_ID_MAX + 1]; /* the partner's node id */
    char decision[KT_AUDIT_CODE_MAX + 1];
    char reason[KT_AUDIT_REASON_MAX + 1];
    uint8_t prev_hash[KT_AUDIT_HASH_BYTES]; /* set by append / filled by list */
    uint8_t hash[KT_AUDIT_HASH_BYTES];
} kt_audit_entry_t;

/* Zeroes e (all fields absent). */
void kt_audit_entry_init(kt_audit_entry_t *e);
/* Sets actor to "uid:UID". */
void kt_audit_actor_uid(kt_audit_entry_t *e, unsigned uid);

/* Computes hash(e) from its fields, seq, time and prev_hash (the formula
 * above). Pure; used by append and verify, and by tests. */
void kt_audit_hash(uint8_t out[KT_AUDIT_HASH_BYTES], const kt_audit_entry_t *e);

/*
 * Appends e: reads the head, sets e->seq = head + 1, e->time (if 0),
 * e->prev_hash and e->hash, inserts. Must run inside the caller's
 * transaction (KT_EINVAL otherwise) so the entry commits with its action.
 * KT_EINVAL for an empty actor, action or decision, or a text field that
 * holds a character outside printable ASCII. On any error nothing is
 * inserted and d says why; the caller rolls back.
 */
int kt_audit_append(kt_store_t *st, kt_audit_entry_t *e, kt_diag_t *d) KT_WUR;

/* The newest entry's seq and hash; *seq = 0 and a zero hash for an empty log. */
int kt_audit_head(kt_store_t *st, int64_t *seq, uint8_t hash[KT_AUDIT_HASH_BYTES],
                  kt_diag_t *d) KT_WUR;

/* A signed statement of a log's head. */
typedef struct kt_audit_checkpoint {
    int64_t seq;
    int64_t time;
    uint8_t head[KT_AUDIT_HASH_BYTES];
    uint8_t sig[KT_AUDIT_SIG_BYTES];
} kt_audit_checkpoint_t;

/*
 * The latest checkpoint, signing (and storing, in its own transaction
 * unless one is open) a new one first when the head moved past the latest
 * checkpoint and either `force` is set or the latest is at least
 * KT_AUDIT_CHECKPOINT_SECONDS old. *have = 0 when the log is empty and
 * nothing was signed.
 */
int kt_audit_checkpoint(kt_store_t *st, const kt_keys_t *keys, int force, time_t now,
                        kt_audit_checkpoint_t *out, int *have, kt_diag_t *d) KT_WUR;

/* kt_audit_checkpoint with the age limit given: 0 signs whenever the head
 * moved (as force), else only when the latest is at least max_age_s old. */
int kt_audit_checkpoint_within(kt_store_t *st, const kt_keys_t *keys, int64_t max_age_s, time_t now,
                               kt_audit_checkpoint_t *out, int *have, kt_diag_t *d) KT_WUR;

/* 1 when c is signed by node pk (the formula above), else 0. */
int kt_audit_checkpoint_valid(const kt_audit_checkpoint_t *c, const kt_pubkey_t *pk);

/*
 * Stores a partner's checkpoint after checking its signature against pk
 * (KT_EAUTH when it does not verify; nothing stored). A checkpoint already
 * stored is not an error. A checkpoint for a seq the partner already
 * witnessed with a different head is stored nowhere and is KT_EAUTH with a
 * message naming the partner and seq: the partner's log was rewritten.
 */
int kt_audit_witness_store(kt_store_t *st, const kt_pubkey_t *pk, const kt_audit_checkpoint_t *c,
                           time_t now, kt_diag_t *d) KT_WUR;

/* What kt_audit_verify found. */
typedef struct kt_audit_report {
    int64_t entries;     /* entries read */
    int64_t checkpoints; /* own checkpoints checked */
    int64_t witnessed;   /* partner-held checkpoints checked (verify_witness) */
    int64_t covered;     /* seq of the latest valid checkpoint (0 if none) */
    int ok;              /* 1: every check passed */
    int64_t bad_seq;     /* the first entry that does not match (0 if ok or n/a) */
    char what[256];      /* what is wrong there, without personal data */
} kt_audit_report_t;

/*
 * Recomputes the whole chain in seq order and names the first entry that
 * does not match: a changed column (hash mismatch), a missing entry (a gap:
 * bad_seq is the first missing seq), entries out of order, a prev_hash that
 * does not link, an appended entry whose hash does not follow. Then checks
 * each checkpoint: its entry exists with that hash, and, when pk is given,
 * its signature. Also reports the append-only triggers missing as a
 * failure. Read-only. Returns 0 when the verification ran (r->ok says the
 * verdict), an error when it could not read the log.
 */
int kt_audit_verify(kt_store_t *st, const kt_pubkey_t *pk, kt_audit_report_t *r,
                    kt_diag_t *d) KT_WUR;

/*
 * Checks the checkpoints that the partner database `witness` holds for node
 * pk (matched by fingerprint) against the log in st: each must verify under
 * pk and match the entry at its seq. The first that does not is reported
 * with its seq and the time the partner received it. Read-only. Fills r
 * afresh: witnessed (checkpoints checked), covered (the highest that
 * matched), ok, bad_seq and what; entries and checkpoints stay 0, so run
 * kt_audit_verify on st as well.
 */
int kt_audit_verify_witness(kt_store_t *st, const kt_pubkey_t *pk, kt_store_t *witness,
                            kt_audit_report_t *r, kt_diag_t *d) KT_WUR;

/* Filters for listing; zero / "" / has_subject 0 means "any". */
typedef struct kt_audit_filter {
    int64_t since, until; /* unix seconds, inclusive; 0 = open */
    const char *partner;  /* counterparty node id */
    const char *type;     /* record type */
    const char *action;
    const char *decision;
    int has_subject;
    uint8_t subject[KT_AUDIT_SUBJECT_BYTES];
    int has_record_id;
    uint8_t record_id[KT_AUDIT_ID_BYTES];
    int64_t after_seq; /* only entries with seq > after_seq */
    int64_t limit;     /* 0 = all */
} kt_audit_filter_t;

/* Calls fn for each matching entry in seq order; a non-zero return from fn
 * stops the walk and is returned. */
typedef int (*kt_audit_each_fn)(void *ctx, const kt_audit_entry_t *e);
int kt_audit_list(kt_store_t *st, const kt_audit_filter_t *f, kt_audit_each_fn fn, void *ctx,
                  kt_diag_t *d) KT_WUR;

#endif
