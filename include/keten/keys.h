/*
 * keys.h - node identity: generate, load, save, file-mode checks,
 * fingerprints, wiping.
 *
 * A node is an Ed25519 signing key pair plus an X25519 key pair (sealing and
 * CurveZMQ). The secret file DIR/ID.key (mode 0600, fixed size) holds both
 * secrets with the node id and role; the public file DIR/ID.pub holds id,
 * role, both public keys and a self-signature. Secrets live in sodium_malloc
 * memory and are wiped on destroy and on every error path. Nothing here ever
 * prints or logs a secret byte.
 */
#ifndef KETEN_KEYS_H
#define KETEN_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "keten/error.h"

#define KT_NODE_ID_MAX 64 /* ids match [a-z0-9-]{1,64} */
#define KT_SIGN_PK_BYTES 32
#define KT_SIGN_SK_BYTES 64
#define KT_BOX_PK_BYTES 32
#define KT_BOX_SK_BYTES 32
#define KT_SEED_BYTES 32
#define KT_FINGERPRINT_BYTES 16
#define KT_FINGERPRINT_HEX (KT_FINGERPRINT_BYTES * 2 + 1)
#define KT_SK_FILE_BYTES 138 /* size of a secret key file (docs/protocol.md) */
#define KT_PUB_TEXT_MAX 512  /* largest .pub text accepted */

typedef enum { KT_ROLE_SCHOOL = 1, KT_ROLE_SWV = 2, KT_ROLE_GEMEENTE = 3 } kt_role_t;

/* Initialises the crypto library (idempotent, thread-safe). Call once before
 * any other kt_keys_* or kt_envelope_* function; ketenctl's main does it via
 * sodium_init. KT_ENOMEM if the library cannot start. */
int kt_keys_init(void) KT_WUR;

const char *kt_role_name(kt_role_t role); /* "school", "swv", "gemeente" */
int kt_role_parse(const char *s, kt_role_t *role) KT_WUR;
int kt_keys_valid_id(const char *id); /* 1 if [a-z0-9-]{1,64} */

/* A node's public identity: plain data, safe to copy. */
typedef struct kt_pubkey {
    char id[KT_NODE_ID_MAX + 1];
    kt_role_t role;
    uint8_t sign_pk[KT_SIGN_PK_BYTES];
    uint8_t box_pk[KT_BOX_PK_BYTES];
} kt_pubkey_t;

typedef struct kt_keys kt_keys_t; /* opaque; holds secrets */

int kt_keys_generate(kt_keys_t **out, const char *id, kt_role_t role, kt_diag_t *d) KT_WUR;
/* Deterministic keys from a 32-byte seed: for test vectors only. */
int kt_keys_from_seed(kt_keys_t **out, const char *id, kt_role_t role,
                      const uint8_t seed[KT_SEED_BYTES], kt_diag_t *d) KT_WUR;
/* Writes DIR/ID.key (0600) and DIR/ID.pub; KT_EEXIST if either exists. */
int kt_keys_save(const kt_keys_t *k, const char *dir, kt_diag_t *d) KT_WUR;
/* Loads a secret key file; KT_EPERM if group/world readable or writable
 * (diag names the file and says `chmod 600 FILE`), KT_EMALFORMED on a wrong
 * size or magic. */
int kt_keys_load(kt_keys_t **out, const char *path, kt_diag_t *d) KT_WUR;
void kt_keys_destroy(kt_keys_t **p); /* idempotent, wipes */

const kt_pubkey_t *kt_keys_public(const kt_keys_t *k); /* borrowed */
const uint8_t *kt_keys_sign_sk(const kt_keys_t *k);    /* borrowed secret */
const uint8_t *kt_keys_box_sk(const kt_keys_t *k);     /* borrowed secret */

/* Loads and checks a .pub file (format and self-signature); KT_EPERM if
 * others can write it. */
int kt_keys_load_public(kt_pubkey_t *out, const char *path, kt_diag_t *d) KT_WUR;
/* Parses .pub text already in memory (the fuzzed parser). */
int kt_keys_parse_public(kt_pubkey_t *out, const char *text, size_t len, kt_diag_t *d) KT_WUR;

/* The self-signed .pub text of k, NUL-terminated, into out (KT_PUB_TEXT_MAX
 * bytes always suffice). Returns its length, or KT_ETOOBIG if outlen is short. */
int kt_keys_format_public(char *out, size_t outlen, const kt_keys_t *k) KT_WUR;

/* Both public keys in standard base64 (as in .pub files), constant-time. */
#define KT_KEY_BASE64_BYTES 45 /* 44 characters + NUL */
void kt_keys_public_base64(char sign[KT_KEY_BASE64_BYTES], char box[KT_KEY_BASE64_BYTES],
                           const kt_pubkey_t *pk);

/* Lowercase hex of the first 16 bytes of BLAKE2b-256 over
 * "keten-fingerprint-v1" || sign_pk || box_pk. */
void kt_keys_fingerprint(char out[KT_FINGERPRINT_HEX], const kt_pubkey_t *pk);

/* Detached Ed25519 over msg with the node's signing key. Callers put their
 * own domain-separation prefix in msg (audit checkpoints, count vectors). */
#define KT_KEYS_SIG_BYTES 64
void kt_keys_sign_detached(uint8_t sig[KT_KEYS_SIG_BYTES], const uint8_t *msg, size_t len,
                           const kt_keys_t *k);
/* 1 when sig is pk's signature over msg, else 0. */
int kt_keys_verify_detached(const uint8_t sig[KT_KEYS_SIG_BYTES], const uint8_t *msg, size_t len,
                            const kt_pubkey_t *pk);

#endif
