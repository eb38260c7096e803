/*
 * vault.c - payloads at rest: the store key, lock/unlock, subject pseudonyms
 * and per-subject keys, the receipt digest and the random numbers the engine
 * modules without sodium.h need.
 *
 * Owns the locked formats of docs/protocol.md "Storage at rest": version
 * byte 1 (node store key) or 2 (a subject key) || 24-byte nonce ||
 * XChaCha20-Poly1305-IETF(plain, ad). The node-derived keys and every
 * subject key live only in sodium_malloc memory. Pure cryptography: it never
 * touches the store (daemon/subject.c keeps the key table). Must never hand
 * out plaintext that did not authenticate, never reuse a nonce (each lock
 * draws a fresh random one), never leave a key or a plaintext in memory it
 * frees, and never name a byte of either, or a leerling_id, in a diagnostic.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keten/vault.h"

#define S_KEY_BYTES crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define S_NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define S_MAC_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES

static const char s_kdf_msg[] = "keten-store-v1";       /* without its NUL */
static const char s_subject_msg[] = "keten-subject-v1"; /* without its NUL */
static const char s_wrap_ad[] = "subject_key";          /* without its NUL */

_Static_assert(KT_VAULT_OVERHEAD_BYTES == 1 + S_NONCE_BYTES + S_MAC_BYTES, "vault overhead");
_Static_assert(S_KEY_BYTES == 32, "vault key size");
_Static_assert(KT_BOX_SK_BYTES == crypto_generichash_KEYBYTES, "kdf key size");
_Static_assert(KT_SUBJECT_KEY_BYTES == S_KEY_BYTES, "subject key size");
_Static_assert(KT_SUBJECT_BYTES == crypto_generichash_BYTES, "subject size");

struct kt_vault {
    uint8_t *key;         /* sodium_malloc, read-only after derivation */
    uint8_t *subject_key; /* the pseudonym key; same */
};

struct kt_vault_key {
    uint8_t *key; /* a slot of the pool, or its own sodium_malloc; read-only once set */
    int slot;     /* its slot in s_pool, or -1 */
};

/* Subject keys live a few microseconds each (one lock or unlock), but a
 * sodium_malloc of their own costs an mmap, three mprotects, an mlock and
 * an munmap: about 30 us a key, which was a sixth of a node's CPU at full
 * load. So they take slots of one sodium_malloc region instead (guard pages,
 * mlocked, read-only except while a slot is written or wiped), and fall back
 * to a region of their own when every slot is taken. A slot is wiped when
 * its key is destroyed, so nothing outlives the key. */
#define S_POOL_SLOTS 64
static struct {
    pthread_mutex_t lock;
    uint8_t *mem; /* S_POOL_SLOTS * S_KEY_BYTES, sodium_malloc, never freed */
    uint64_t used;
    int failed; /* the region could not be had: every key gets its own */
} s_pool = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0};
_Static_assert(S_POOL_SLOTS <= 64, "one bit per slot");

/* BLAKE2b-256(key = X25519 secret, message = msg) into a read-only buffer. */
static int s_derive(uint8_t **out, const kt_keys_t *keys, const char *msg, size_t len)
{
    if ((*out = sodium_malloc(S_KEY_BYTES)) == NULL)
        return -1;
    if (crypto_generichash(*out, S_KEY_BYTES, (const uint8_t *)msg, len, kt_keys_box_sk(keys),
                           KT_BOX_SK_BYTES) != 0 ||
        sodium_mprotect_readonly(*out) != 0)
        return -1;
    return 0;
}

int kt_vault_new(kt_vault_t **out, const kt_keys_t *keys, kt_diag_t *d)
{
    kt_vault_t *v = NULL;
    int rc = 0;

    *out = NULL;
    if (kt_keys_init() != 0)
        return kt_diag_set(d, KT_ENOMEM, "cannot start the crypto library");
    if ((v = calloc(1, sizeof(*v))) == NULL) {
        rc = kt_diag_set(d, KT_ENOMEM, "out of memory deriving the store key");
        goto out;
    }
    if (s_derive(&v->key, keys, s_kdf_msg, sizeof(s_kdf_msg) - 1) != 0 ||
        s_derive(&v->subject_key, keys, s_subject_msg, sizeof(s_subject_msg) - 1) != 0) {
        rc = kt_diag_set(d, KT_ENOMEM, "cannot derive the store keys");
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
    sodium_free((*p)->subject_key);
    free(*p);
    *p = NULL;
}

static const char *s_key_kind(uint8_t version)
{
    return version == KT_VAULT_VERSION ? "the node's store key" : "a subject key";
}

/* The locked form under key with the given version byte. */
static int s_lock(uint8_t **out, size_t *outlen, uint8_t version, const uint8_t *plain, size_t len,
                  const uint8_t *ad, size_t adlen, const uint8_t *key, kt_diag_t *d)
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
    b[0] = version;
    randombytes_buf(b + 1, S_NONCE_BYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt(b + 1 + S_NONCE_BYTES, &clen, plain, len, ad, adlen,
                                               NULL, b + 1, key);
    *out = b;
    *outlen = 1 + S_NONCE_BYTES + (size_t)clen;
    return 0;
}

static int s_unlock(uint8_t **out, size_t *outlen, uint8_t version, const uint8_t *locked,
                    size_t len, const uint8_t *ad, size_t adlen, const uint8_t *key, kt_diag_t *d)
{
    uint8_t *b;
    size_t n;
    unsigned long long plen = 0;

    *out = NULL;
    *outlen = 0;
    if (len == 0)
        return kt_diag_set(d, KT_EMALFORMED, "stored payload is empty");
    if (locked[0] != version &&
        (locked[0] == KT_VAULT_VERSION || locked[0] == KT_VAULT_SUBJECT_VERSION))
        return kt_diag_set(d, KT_EVERSION,
                           "stored payload is locked under %s (format version "
                           "%u), not %s",
                           s_key_kind(locked[0]), locked[0], s_key_kind(version));
    if (locked[0] != version)
        return kt_diag_set(d, KT_EVERSION,
                           "stored payload has format version %u (this keten reads %d and %d)",
                           locked[0], KT_VAULT_VERSION, KT_VAULT_SUBJECT_VERSION);
    if (len < KT_VAULT_OVERHEAD_BYTES)
        return kt_diag_set(d, KT_EMALFORMED, "stored payload is truncated");
    n = len - KT_VAULT_OVERHEAD_BYTES;
    if ((b = malloc(n > 0 ? n : 1)) == NULL)
        return kt_diag_set(d, KT_ENOMEM, "out of memory reading a payload");
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(b, &plen, NULL, locked + 1 + S_NONCE_BYTES,
                                                   len - 1 - S_NONCE_BYTES, ad, adlen, locked + 1,
                                                   key) != 0) {
        free(b); /* nothing was written to it */
        return kt_diag_set(d, KT_EAUTH,
                           "stored payload does not authenticate (altered, moved "
                           "to another row, or another node's key)");
    }
    *out = b;
    *outlen = (size_t)plen;
    return 0;
}

int kt_vault_lock(uint8_t **out, size_t *outlen, const uint8_t *plain, size_t len,
                  const uint8_t *ad, size_t adlen, const kt_vault_t *v, kt_diag_t *d)
{
    return s_lock(out, outlen, KT_VAULT_VERSION, plain, len, ad, adlen, v->key, d);
}

int kt_vault_unlock(uint8_t **out, size_t *outlen, const uint8_t *locked, size_t len,
                    const uint8_t *ad, size_t adlen, const kt_vault_t *v, kt_diag_t *d)
{
    return s_unlock(out, outlen, KT_VAULT_VERSION, locked, len, ad, adlen, v->key, d);
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

/* ---- subjects ---- */

int kt_vault_subject(uint8_t out[KT_SUBJECT_BYTES], const kt_vault_t *v, const char *leerling_id,
                     kt_diag_t *d)
{
    size_t n = strnlen(leerling_id, KT_SUBJECT_ID_MAX + 1);

    if (n == 0 || n > KT_SUBJECT_ID_MAX)
        return kt_diag_set(d, KT_EINVAL, "a leerling_id has 1 to %d characters", KT_SUBJECT_ID_MAX);
    crypto_generichash(out, KT_SUBJECT_BYTES, (const uint8_t *)leerling_id, n, v->subject_key,
                       S_KEY_BYTES);
    return 0;
}

/* Takes a free slot of the pool, writable, with the pool locked; -1 if
 * there is none (the pool is then unlocked). */
static int s_slot_take(void)
{
    int i;

    pthread_mutex_lock(&s_pool.lock);
    if (s_pool.mem == NULL && !s_pool.failed) {
        if ((s_pool.mem = sodium_malloc(S_POOL_SLOTS * S_KEY_BYTES)) == NULL ||
            sodium_mprotect_readonly(s_pool.mem) != 0) {
            sodium_free(s_pool.mem);
            s_pool.mem = NULL;
            s_pool.failed = 1;
        }
    }
    for (i = 0; s_pool.mem != NULL && i < S_POOL_SLOTS; i++)
        if (!(s_pool.used & (UINT64_C(1) << i))) {
            if (sodium_mprotect_readwrite(s_pool.mem) != 0)
                break;
            s_pool.used |= UINT64_C(1) << i;
            return i;
        }
    pthread_mutex_unlock(&s_pool.lock);
    return -1;
}

/* The pool read-only again and unlocked; 0, or -1 if it stays writable. */
static int s_slot_done(void)
{
    int rc = sodium_mprotect_readonly(s_pool.mem);

    pthread_mutex_unlock(&s_pool.lock);
    return rc;
}

/* A new key: a copy of raw, or a fresh random one when raw is NULL. */
static int s_key_new(kt_vault_key_t **out, const uint8_t *raw, kt_diag_t *d)
{
    kt_vault_key_t *k;
    int protected;

    *out = NULL;
    if (kt_keys_init() != 0)
        return kt_diag_set(d, KT_ENOMEM, "cannot start the crypto library");
    if ((k = calloc(1, sizeof(*k))) == NULL)
        return kt_diag_set(d, KT_ENOMEM, "out of memory for a subject key");
    if ((k->slot = s_slot_take()) >= 0)
        k->key = s_pool.mem + (size_t)k->slot * S_KEY_BYTES;
    else if ((k->key = sodium_malloc(S_KEY_BYTES)) == NULL) {
        free(k);
        return kt_diag_set(d, KT_ENOMEM, "out of memory for a subject key");
    }
    if (raw != NULL)
        memcpy(k->key, raw, S_KEY_BYTES);
    else
        crypto_aead_xchacha20poly1305_ietf_keygen(k->key);
    protected = k->slot >= 0 ? s_slot_done() : sodium_mprotect_readonly(k->key);
    *out = k;
    if (protected != 0) {
        kt_vault_key_destroy(out);
        return kt_diag_set(d, KT_ENOMEM, "cannot protect a subject key");
    }
    return 0;
}

int kt_vault_key_generate(kt_vault_key_t **out, kt_diag_t *d)
{
    return s_key_new(out, NULL, d);
}

int kt_vault_key_from_bytes(kt_vault_key_t **out, const uint8_t raw[KT_SUBJECT_KEY_BYTES],
                            kt_diag_t *d)
{
    return s_key_new(out, raw, d);
}

void kt_vault_key_destroy(kt_vault_key_t **p)
{
    kt_vault_key_t *k;

    if (p == NULL || (k = *p) == NULL)
        return;
    if (k->slot < 0) {
        sodium_free(k->key); /* wipes, also when read-only */
    } else {
        pthread_mutex_lock(&s_pool.lock);
        /* Wiped even if the pool cannot be made writable: a crash then,
         * not a key left behind. */
        (void)sodium_mprotect_readwrite(s_pool.mem);
        sodium_memzero(k->key, S_KEY_BYTES);
        s_pool.used &= ~(UINT64_C(1) << k->slot);
        (void)s_slot_done();
    }
    free(k);
    *p = NULL;
}

/* "subject_key" || subject: a wrapped key opens only for its own subject. */
static size_t s_wrap_ad_of(uint8_t ad[sizeof(s_wrap_ad) - 1 + KT_SUBJECT_BYTES],
                           const uint8_t subject[KT_SUBJECT_BYTES])
{
    memcpy(ad, s_wrap_ad, sizeof(s_wrap_ad) - 1);
    memcpy(ad + sizeof(s_wrap_ad) - 1, subject, KT_SUBJECT_BYTES);
    return sizeof(s_wrap_ad) - 1 + KT_SUBJECT_BYTES;
}

int kt_vault_key_wrap(uint8_t **out, size_t *outlen, const kt_vault_key_t *k,
                      const uint8_t subject[KT_SUBJECT_BYTES], const kt_vault_t *v, kt_diag_t *d)
{
    uint8_t ad[sizeof(s_wrap_ad) - 1 + KT_SUBJECT_BYTES];
    size_t adlen = s_wrap_ad_of(ad, subject);

    return s_lock(out, outlen, KT_VAULT_VERSION, k->key, S_KEY_BYTES, ad, adlen, v->key, d);
}

int kt_vault_key_unwrap(kt_vault_key_t **out, const uint8_t *wrapped, size_t len,
                        const uint8_t subject[KT_SUBJECT_BYTES], const kt_vault_t *v, kt_diag_t *d)
{
    uint8_t ad[sizeof(s_wrap_ad) - 1 + KT_SUBJECT_BYTES];
    size_t adlen = s_wrap_ad_of(ad, subject), plen = 0;
    uint8_t *plain = NULL;
    int rc;

    *out = NULL;
    if ((rc = s_unlock(&plain, &plen, KT_VAULT_VERSION, wrapped, len, ad, adlen, v->key, d)) != 0) {
        kt_diag_prefix(d, "subject key");
        return rc;
    }
    if (plen != S_KEY_BYTES) {
        rc = kt_diag_set(d, KT_EMALFORMED, "subject key: wrong length after unwrapping");
        goto out;
    }
    rc = kt_vault_key_from_bytes(out, plain, d);
out:
    kt_vault_free(plain, plen);
    return rc;
}

int kt_vault_lock_subject(uint8_t **out, size_t *outlen, const uint8_t *plain, size_t len,
                          const uint8_t *ad, size_t adlen, const kt_vault_key_t *k, kt_diag_t *d)
{
    return s_lock(out, outlen, KT_VAULT_SUBJECT_VERSION, plain, len, ad, adlen, k->key, d);
}

int kt_vault_unlock_subject(uint8_t **out, size_t *outlen, const uint8_t *locked, size_t len,
                            const uint8_t *ad, size_t adlen, const kt_vault_key_t *k, kt_diag_t *d)
{
    return s_unlock(out, outlen, KT_VAULT_SUBJECT_VERSION, locked, len, ad, adlen, k->key, d);
}
