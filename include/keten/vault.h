/*
 * vault.h - payloads encrypted at rest.
 *
 * Everything keten stores that holds personal data (signed records in the
 * outbox and inbox) is locked with a key derived from the node's secret key:
 * BLAKE2b-256(key = X25519 secret, message = "keten-store-v1"). A copy of the
 * database alone reveals nothing. Per-subject keys (crypto-shredding) wrap
 * this later; the format's version byte makes that change visible.
 *
 * Locked form: u8 version (1) || nonce (24) || XChaCha20-Poly1305-IETF
 * ciphertext with the caller's associated data (the row's identity, so a
 * payload cannot be moved to another row).
 *
 * Per-subject keys (crypto-shredding, DESIGN.md §6): each pupil has a random
 * 32-byte data key. Payloads locked under it use version byte 2, otherwise
 * the same layout; the key itself is stored wrapped with the node key (the
 * version 1 form above). This file is only the cryptography: which key
 * belongs to which pupil, and deleting it, is daemon/subject.c.
 *
 * The subject pseudonym is BLAKE2b-256(key = BLAKE2b-256(key = X25519
 * secret, message = "keten-subject-v1"), message = leerling_id): the pupil as
 * it appears in `subject` columns and audit entries. Stable per node, so the
 * node finds a pupil again; different on every node, so two nodes' databases
 * cannot be joined on it; and never the BSN itself.
 */
#ifndef KETEN_VAULT_H
#define KETEN_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "keten/error.h"
#include "keten/keys.h"

#define KT_VAULT_VERSION 1         /* locked under the node's store key */
#define KT_VAULT_SUBJECT_VERSION 2 /* locked under a per-subject key */
#define KT_VAULT_OVERHEAD_BYTES (1 + 24 + 16)
#define KT_SUBJECT_BYTES 32     /* a subject pseudonym */
#define KT_SUBJECT_KEY_BYTES 32 /* a per-subject data key */
#define KT_SUBJECT_ID_MAX 64    /* longest leerling_id (or pairwise pseudonym) accepted */

typedef struct kt_vault kt_vault_t;         /* opaque; keys in sodium_malloc memory */
typedef struct kt_vault_key kt_vault_key_t; /* opaque; one subject key, sodium_malloc */

int kt_vault_new(kt_vault_t **out, const kt_keys_t *keys, kt_diag_t *d) KT_WUR;
void kt_vault_destroy(kt_vault_t **p); /* idempotent, wipes */

/* *out is malloc'd; free with kt_vault_free (wipes). */
int kt_vault_lock(uint8_t **out, size_t *outlen, const uint8_t *plain, size_t len,
                  const uint8_t *ad, size_t adlen, const kt_vault_t *v, kt_diag_t *d) KT_WUR;
/* KT_EVERSION on an unknown version, KT_EAUTH when the data or ad was altered. */
int kt_vault_unlock(uint8_t **out, size_t *outlen, const uint8_t *locked, size_t len,
                    const uint8_t *ad, size_t adlen, const kt_vault_t *v, kt_diag_t *d) KT_WUR;
void kt_vault_free(uint8_t *buf, size_t len);

/* BLAKE2b-256 of a signed container: the digest receipts refer to. */
void kt_vault_digest(uint8_t out[32], const uint8_t *buf, size_t len);

/* A uniformly random number in [0, upper) (0 when upper < 2), for modules
 * that must not include sodium.h (the outbox's retry jitter). */
uint32_t kt_vault_random(uint32_t upper);

/* vault.c: subjects */

/* The subject pseudonym of leerling_id (see above). KT_EINVAL for an empty
 * id or one longer than KT_SUBJECT_ID_MAX. Callers validate the id first
 * (kt_record_is_bsn, kt_record_is_onderwijsnummer); this never looks at it
 * beyond its length and never names it in d. */
int kt_vault_subject(uint8_t out[KT_SUBJECT_BYTES], const kt_vault_t *v, const char *leerling_id,
                     kt_diag_t *d) KT_WUR;

/* A fresh random subject key. */
int kt_vault_key_generate(kt_vault_key_t **out, kt_diag_t *d) KT_WUR;
/* A subject key from 32 given bytes (unwrapping builds keys this way;
 * elsewhere, for test vectors only). */
int kt_vault_key_from_bytes(kt_vault_key_t **out, const uint8_t raw[KT_SUBJECT_KEY_BYTES],
                            kt_diag_t *d) KT_WUR;
void kt_vault_key_destroy(kt_vault_key_t **p); /* idempotent, wipes */

/* The key wrapped for storage: the version 1 form under the node's store key
 * with AD "subject_key" (11 bytes) || subject. *out is malloc'd; free with
 * kt_vault_free. */
int kt_vault_key_wrap(uint8_t **out, size_t *outlen, const kt_vault_key_t *k,
                      const uint8_t subject[KT_SUBJECT_BYTES], const kt_vault_t *v,
                      kt_diag_t *d) KT_WUR;
/* And back. KT_EAUTH if it was altered, belongs to another subject or was
 * wrapped by another node; KT_EMALFORMED if it does not hold a key. */
int kt_vault_key_unwrap(kt_vault_key_t **out, const uint8_t *wrapped, size_t len,
                        const uint8_t subject[KT_SUBJECT_BYTES], const kt_vault_t *v,
                        kt_diag_t *d) KT_WUR;

/* As kt_vault_lock / kt_vault_unlock, under a subject key and with version
 * byte KT_VAULT_SUBJECT_VERSION. Each unlock refuses the other's version
 * (KT_EVERSION), so a payload is never tried under the wrong kind of key. */
int kt_vault_lock_subject(uint8_t **out, size_t *outlen, const uint8_t *plain, size_t len,
                          const uint8_t *ad, size_t adlen, const kt_vault_key_t *k,
                          kt_diag_t *d) KT_WUR;
int kt_vault_unlock_subject(uint8_t **out, size_t *outlen, const uint8_t *locked, size_t len,
                            const uint8_t *ad, size_t adlen, const kt_vault_key_t *k,
                            kt_diag_t *d) KT_WUR;

#endif
