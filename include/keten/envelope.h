/*
 * envelope.h - sign (Ed25519) + seal (X25519 box) / open + verify, padding
 * and the version byte. The byte formats are specified in docs/protocol.md.
 *
 * Signed container: CBOR [bstr payload, bstr(64) signature], where payload is
 * the deterministic CBOR map {v, kind, id, from, to, created, body} and the
 * signature is Ed25519 over "keten-sign-v1\0" || payload. Anyone with a CBOR
 * decoder and an Ed25519 library can verify it.
 *
 * Sealed envelope: 0x01 || nonce (24) || crypto_box(pad(signed container)),
 * padded so that the whole envelope is a power of two between
 * KT_ENVELOPE_MIN_BYTES and KT_ENVELOPE_MAX_BYTES.
 *
 * Byte buffers handed out (*out) are malloc'd, may hold personal data, and
 * are released with kt_envelope_free(), which wipes them. Diagnostics name
 * nodes and rules, never body contents.
 */
#ifndef KETEN_ENVELOPE_H
#define KETEN_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "keten/error.h"
#include "keten/keys.h"
#include "keten/record.h"

#define KT_ENVELOPE_VERSION 0x01
#define KT_PAYLOAD_VERSION 1    /* the payload's "v" */
#define KT_ENVELOPE_ID_BYTES 16 /* record / message id */
#define KT_ENVELOPE_NONCE_BYTES 24
#define KT_ENVELOPE_MAC_BYTES 16
#define KT_SIGNATURE_BYTES 64
#define KT_ENVELOPE_MIN_BYTES 512   /* smallest bucket */
#define KT_ENVELOPE_MAX_BYTES 65536 /* largest bucket, and the limit */
/* version + nonce + MAC */
#define KT_ENVELOPE_OVERHEAD_BYTES (1 + KT_ENVELOPE_NONCE_BYTES + KT_ENVELOPE_MAC_BYTES)
/* Largest signed container that still fits (padding takes at least 1 byte). */
#define KT_SIGNED_MAX_BYTES (KT_ENVELOPE_MAX_BYTES - KT_ENVELOPE_OVERHEAD_BYTES - 1)
#define KT_ENVELOPE_BODY_DEPTH_MAX 16 /* nesting limit inside body */

typedef enum {
    KT_KIND_RECORD = 1,
    KT_KIND_RECEIPT,
    KT_KIND_RETRACT,
    KT_KIND_COUNTS,
    KT_KIND_PSI_REQUEST,
    KT_KIND_PSI_RESPONSE,
    KT_KIND_PING,
} kt_kind_t;

const char *kt_kind_name(kt_kind_t kind); /* "record", "psi-request", ...; "unknown" */
int kt_kind_parse(const char *s, kt_kind_t *kind) KT_WUR;

/* The decoded, verified payload. body points into the signed bytes it was
 * decoded from (borrowed: valid as long as those bytes are). */
typedef struct kt_payload {
    kt_kind_t kind;
    uint8_t id[KT_ENVELOPE_ID_BYTES];
    char from[KT_NODE_ID_MAX + 1];
    char to[KT_NODE_ID_MAX + 1];
    uint64_t created; /* unix seconds */
    const uint8_t *body;
    size_t body_len;
} kt_payload_t;

/* A fresh random message id. */
#define KT_ENVELOPE_ID_HEX (2 * KT_ENVELOPE_ID_BYTES + 1)

/* A record id as 32 lowercase hex characters, and back (exactly 32
 * characters of [0-9a-f]; KT_EINVAL otherwise). */
void kt_envelope_id_hex(char out[KT_ENVELOPE_ID_HEX], const uint8_t id[KT_ENVELOPE_ID_BYTES]);
int kt_envelope_id_parse(uint8_t id[KT_ENVELOPE_ID_BYTES], const char *hex) KT_WUR;

void kt_envelope_new_id(uint8_t id[KT_ENVELOPE_ID_BYTES]);

/* Release a buffer this module handed out: wipes len bytes, then frees. */
void kt_envelope_free(uint8_t *buf, size_t len);

/*
 * Sign: builds the payload from kind, id, created, `to` and body (exactly one
 * well-formed CBOR data item, embedded as is; see docs/protocol.md for what
 * it may contain), with from = signer's node id, and returns the signed
 * container. KT_EINVAL for a bad `to` or kind, KT_EMALFORMED for a bad body,
 * KT_ETOOBIG if the container would exceed KT_SIGNED_MAX_BYTES.
 */
int kt_envelope_sign(uint8_t **out, size_t *outlen, kt_kind_t kind,
                     const uint8_t id[KT_ENVELOPE_ID_BYTES], uint64_t created, const char *to,
                     const uint8_t *body, size_t body_len, const kt_keys_t *signer,
                     kt_diag_t *d) KT_WUR;

/* The payload of a signed container WITHOUT checking its signature: only
 * for containers this node signed itself and kept (behind the vault's AEAD,
 * or just now). Everything received from elsewhere goes through
 * kt_envelope_verify. out->body borrows buf. */
int kt_envelope_parse(kt_payload_t *out, const uint8_t *buf, size_t len, kt_diag_t *d) KT_WUR;

/*
 * Verify a signed container against the expected signer: container shape
 * (KT_EMALFORMED, KT_ETOOBIG), signature (KT_EAUTH), payload shape
 * (KT_EMALFORMED; KT_EVERSION for v != 1), from == signer's id (KT_EAUTH).
 * On success *out describes the payload; out->body borrows from buf.
 */
int kt_envelope_verify(kt_payload_t *out, const uint8_t *buf, size_t len, const kt_pubkey_t *signer,
                       kt_diag_t *d) KT_WUR;

/* The pairing of this node with one partner: the precomputed X25519 shared
 * key (sodium_malloc'd, wiped on destroy) and both public identities. */
typedef struct kt_envelope_peer kt_envelope_peer_t;

/* KT_EAUTH if their box key is unusable (a low-order point). */
int kt_envelope_peer_new(kt_envelope_peer_t **out, const kt_keys_t *me, const kt_pubkey_t *them,
                         kt_diag_t *d) KT_WUR;
void kt_envelope_peer_destroy(kt_envelope_peer_t **p);                      /* idempotent, wipes */
const kt_pubkey_t *kt_envelope_peer_public(const kt_envelope_peer_t *peer); /* borrowed: them */

/*
 * The pairwise pseudonym of a pupil for this pair of nodes (a policy rule
 * with identifier = "pseudoniem" puts it on the wire instead of leerling_id):
 *   k   = BLAKE2b-256(key = the pair's shared box key, "keten-pseudonym-v1")
 *   out = "ps-" || base32(BLAKE2b-128(key = k, leerling_id))
 * with lowercase RFC 4648 base32, no padding. Both nodes of a pair derive the
 * same value; a third node, or the same pupil with another partner, gets an
 * unlinkable one. leerling_id must be a BSN or onderwijsnummer (KT_EINVAL:
 * pseudonymising a pseudonym is a caller's mistake).
 */
int kt_envelope_peer_pseudonym(char out[KT_PSEUDONYM_BYTES], const kt_envelope_peer_t *peer,
                               const char *leerling_id) KT_WUR;

/*
 * Seal a signed container to the peer. Refuses (KT_EAUTH / KT_EINVAL) a
 * container that is not signed by this node or not addressed to the peer.
 * The envelope length is a bucket size (power of two, 512 .. 65536).
 */
int kt_envelope_seal(uint8_t **out, size_t *outlen, const uint8_t *signed_buf, size_t signed_len,
                     const kt_envelope_peer_t *peer, kt_diag_t *d) KT_WUR;

/* Test hook for known-answer vectors: seal with a caller-chosen nonce. Never
 * use it outside tests: a repeated nonce breaks the box. */
int kt_envelope_seal_with_nonce(uint8_t **out, size_t *outlen, const uint8_t *signed_buf,
                                size_t signed_len, const uint8_t nonce[KT_ENVELOPE_NONCE_BYTES],
                                const kt_envelope_peer_t *peer, kt_diag_t *d) KT_WUR;

/*
 * Open an envelope from the peer and verify what is inside. Checks, in this
 * order: length (KT_EMALFORMED, KT_ETOOBIG), version byte (KT_EVERSION),
 * bucket size (KT_EMALFORMED), decryption (KT_EAUTH), padding
 * (KT_EMALFORMED), then everything kt_envelope_verify() checks against the
 * peer's signing key, then to == this node (KT_EAUTH). On success
 * *signed_out is the signed container (free with kt_envelope_free) and
 * payload->body borrows from it.
 */
int kt_envelope_open(uint8_t **signed_out, size_t *signed_len, kt_payload_t *payload,
                     const uint8_t *env, size_t env_len, const kt_envelope_peer_t *peer,
                     kt_diag_t *d) KT_WUR;

/* Test hook: wrap arbitrary payload bytes in a container signed by k, so
 * tests and fuzzers can reach the payload decoder behind the signature. */
int kt_envelope_sign_raw(uint8_t **out, size_t *outlen, const uint8_t *payload, size_t payload_len,
                         const kt_keys_t *k, kt_diag_t *d) KT_WUR;

#endif
