/*
 * vault.c - payloads at rest: the store key, lock/unlock, the receipt digest
 * and the random numbers the engine modules without sodium.h need.
 *
 * Owns the locked format of docs/protocol.md "Storage at rest": version byte
 * 1 || 24-byte nonce || XChaCha20-Poly1305-IETF(plain, ad). The key is
 * derived from the node's X25519 secret and lives only in sodium_malloc
 * memory. Must never hand out plaintext that did not authenticate, never
 * reuse a nonce (each lock draws a fresh random one), never leave a key or a
 * plaintext in memory it frees, and never name a byte of either in a
 * diagnostic.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keten/vault.h"

#define S_KEY_BYTES crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define S_NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define S_MAC_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES

static const char s_kdf_msg[] = "keten-store-v1"; /* without its NUL */

_Static_assert(KT_VAULT_OVERHEAD_BYTES == 1 + S_NONCE_BYTES + S_MAC_BYTES, "vault overhead");
_Static_assert(S_KEY_BYTES == 32, "vault key size");
_Static_assert(KT_BOX_SK_BYTES == crypto_generichash_KEYBYTES, "kdf key size");

struct kt_vault {
    uint8_t *key; /* sodium_malloc, read-only after derivation */
};

int kt_vault_new(kt_vault_t **out, const kt_keys_t *keys, kt_diag_t *d)
{
    kt_vault_t *v = NULL;
    int rc = 0;

    *out = NULL;
    if (kt_keys_init() != 0)
        return kt_diag_set(d, KT_ENOMEM, "cannot start the crypto library");
    if ((v = calloc(1, sizeof(*v))) == NULL || (v->key = sodium_malloc(S_KEY_BYTES)) == NULL) {
        rc = kt_diag_set(d, KT_ENOMEM, "out of memory deriving the store key");
        goto out;
    }
    if (crypto_generichash(v->key, S_KEY_BYTES, (const uint8_t *)s_kdf_msg, sizeof(s_kdf_msg) - 1,
                           kt_keys_box_sk(keys), KT_BOX_SK_BYTES) != 0 ||
        sodium_mprotect_readonly(v->key) != 0) {
        rc = kt_diag_set(d, KT_ENOMEM, "cannot derive the store key");
        goto out;
    }
    *out = v;
    v = NULL;
out:
    kt_vault_destroy(&v);
    return rc;
}

void kt_vault_destroy(kt_vault_t **p)
{
    if (p == NULL || *p == NULL)
        return;
    sodium_free((*p)->key); /* wipes, also when read-only */
    free(*p);
    *p = NULL;
}

int kt_vault_lock(uint8_t **out, size_t *outlen, const uint8_t *plain, size_t len,
                  const uint8_t *ad, size_t adlen, const kt_vault_t *v, kt_diag_t *d)
{
    uint8_t *b;
    unsigned long long clen = 0;

    *out = NULL;
    *outlen = 0;
    if (len > crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX ||
        len > SIZE_MAX - KT_VAULT_OVERHEAD_BYTES)
        return kt_diag_set(d, KT_ETOOBIG, "payload too large to store");
    if ((b = malloc(len + KT_VAULT_OVERHEAD_BYTES)) == NULL)
        return kt_diag_set(d, KT_ENOMEM, "out of memory storing a payload");
    b[0] = KT_VAULT_VERSION;
    randombytes_buf(b + 1, S_NONCE_BYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt(b + 1 + S_NONCE_BYTES, &clen, plain, len, ad, adlen,
                                               NULL, b + 1, v->key);
    *out = b;
    *outlen = 1 + S_NONCE_BYTES + (size_t)clen;
    return 0;
}

int kt_vault_unlock(uint8_t **out, size_t *outlen, const uint8_t *locked, size_t len,
                    const uint8_t *ad, size_t adlen, const kt_vault_t *v, kt_diag_t *d)
{
    uint8_t *b;
    size_t n;
    unsigned long long plen = 0;

    *out = NULL;
    *outlen = 0;
    if (len == 0)
        return kt_diag_set(d, KT_EMALFORMED, "stored payload is empty");
    if (locked[0] != KT_VAULT_VERSION)
        return kt_diag_set(d, KT_EVERSION,
                           "stored payload has format version %u (this keten "
                           "reads %d)",
                           locked[0], KT_VAULT_VERSION);
    if (len < KT_VAULT_OVERHEAD_BYTES)
        return kt_diag_set(d, KT_EMALFORMED, "stored payload is truncated");
    n = len - KT_VAULT_OVERHEAD_BYTES;
    if ((b = malloc(n > 0 ? n : 1)) == NULL)
        return kt_diag_set(d, KT_ENOMEM, "out of memory reading a payload");
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(b, &plen, NULL, locked + 1 + S_NONCE_BYTES,
                                                   len - 1 - S_NONCE_BYTES, ad, adlen, locked + 1,
                                                   v->key) != 0) {
        free(b); /* nothing was written to it */
        return kt_diag_set(d, KT_EAUTH,
                           "stored payload does not authenticate (altered, moved "
                           "to another row, or another node's key)");
    }
    *out = b;
    *outlen = (size_t)plen;
    return 0;
}

void kt_vault_free(uint8_t *buf, size_t len)
{
    if (buf == NULL)
        return;
    sodium_memzero(buf, len);
    free(buf);
}

void kt_vault_digest(uint8_t out[32], const uint8_t *buf, size_t len)
{
    crypto_generichash(out, 32, buf, len, NULL, 0);
}

uint32_t kt_vault_random(uint32_t upper)
{
    return upper < 2 ? 0 : randombytes_uniform(upper);
}
