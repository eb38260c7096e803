/*
 * subject.h - the subject_keys table: one random data key per pupil, for
 * crypto-shredding (DESIGN.md §6).
 *
 * A subject is the keyed pseudonym of a leerling_id (kt_vault_subject). Its
 * key is created on first use, stored wrapped under the node's store key
 * (kt_vault_key_wrap) and handed out unwrapped in sodium_malloc memory.
 * Forgetting a subject deletes the key row: every payload locked under that
 * key (kt_vault_lock_subject) becomes unreadable for good, in this database,
 * its WAL after the next checkpoint, and every backup.
 *
 * Consent rows reference subject_keys without ON DELETE CASCADE: a pupil's
 * key cannot be forgotten while a consent of theirs is kept (KT_EEXIST), so
 * the purge job deletes ended consents (kt_consent_purge) first and never
 * drops an active consent by shredding. outbox and inbox rows are set to a
 * NULL subject by the schema; their payloads are then unreadable.
 *
 * Writes run inside the caller's transaction (kt_store_begin): calling
 * kt_subject_ensure, kt_subject_get_key with create, or kt_subject_forget
 * without one is a programmer error.
 */
#ifndef KETEN_SUBJECT_H
#define KETEN_SUBJECT_H

#include <stdint.h>

#include "keten/error.h"
#include "keten/store.h"
#include "keten/vault.h"

/* The subject's key (new; free with kt_vault_key_destroy). Without create,
 * KT_ENOENT when the subject has no key (never stored, or forgotten). With
 * create, a missing key is generated and stored first. KT_EAUTH when the
 * stored key does not unwrap (altered, or another node's database). */
int kt_subject_get_key(kt_vault_key_t **out, kt_store_t *st, const kt_vault_t *v,
                       const uint8_t subject[KT_SUBJECT_BYTES], int create, kt_diag_t *d) KT_WUR;

/* Creates the subject's key if it has none; 0 either way. */
int kt_subject_ensure(kt_store_t *st, const kt_vault_t *v, const uint8_t subject[KT_SUBJECT_BYTES],
                      kt_diag_t *d) KT_WUR;

/* 1 if the subject has a key, 0 if not, or a negative KT_E* code. */
int kt_subject_exists(kt_store_t *st, const uint8_t subject[KT_SUBJECT_BYTES], kt_diag_t *d) KT_WUR;

/* Deletes the subject's key (crypto-shredding). KT_ENOENT when it has none;
 * KT_EEXIST while consent rows of the subject remain (nothing is deleted).
 * Call kt_store_checkpoint_truncate after the commit so the key's pages
 * leave the WAL too. */
int kt_subject_forget(kt_store_t *st, const uint8_t subject[KT_SUBJECT_BYTES], kt_diag_t *d) KT_WUR;

/* Forgets every pupil of whom nothing remains (no outbox or inbox row, no
 * consent): crypto-shredding for whatever copies exist elsewhere, backups
 * included. *n keys. */
int kt_subject_forget_unused(kt_store_t *st, size_t *n, kt_diag_t *d) KT_WUR;

#endif
