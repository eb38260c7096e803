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
 */
#ifndef KETEN_VAULT_H
#define KETEN_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "keten/error.h"
#include "keten/keys.h"

#define KT_VAULT_VERSION 1
#define KT_VAULT_OVERHEAD_BYTES (1 + 24 + 16)

typedef struct kt_vault kt_vault_t; /* opaque; key in sodium_malloc memory */

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

#endif
