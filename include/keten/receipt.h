/*
 * receipt.h - the body of a receipt message, in canonical CBOR.
 *
 * A receiver answers every record (and every frame it could attribute to a
 * partner) with a receipt: the id it refers to, the digest of the signed
 * record it received, the status and a reason code, and the receiver's latest
 * signed audit checkpoint (audit.h), which the sender keeps as a witness of
 * the receiver's log. The body is signed and sealed like any message (kind
 * receipt).
 *
 * Canonical form (RFC 8949 §4.2.1), keys in encoded-byte order:
 *   { "ref": bstr(16), "code": text,
 *     "head": [seq: uint, time: uint, hash: bstr(32), sig: bstr(64)] / null,
 *     "digest": bstr(32), "status": text }
 * Part of the canonical-encoding module with record.c (libcbor's only user).
 */
#ifndef KETEN_RECEIPT_H
#define KETEN_RECEIPT_H

#include <stddef.h>
#include <stdint.h>

#include "keten/error.h"

#define KT_RECEIPT_REF_BYTES 16
#define KT_RECEIPT_DIGEST_BYTES 32
#define KT_RECEIPT_HEAD_BYTES 32
#define KT_RECEIPT_HEAD_SIG_BYTES 64
#define KT_RECEIPT_CODE_MAX 31
#define KT_RECEIPT_MAX_BYTES 320

typedef enum {
    KT_RECEIPT_ACCEPTED = 1, /* committed by the receiver */
    KT_RECEIPT_REJECTED = 2, /* refused; code says why; nothing of it kept */
    KT_RECEIPT_PURGED = 3,   /* deleted after a retraction */
} kt_receipt_status_t;

/* Stable reason codes, also shown to operators. "ok" goes with accepted. */
#define KT_RCODE_OK "ok"
#define KT_RCODE_MALFORMED "malformed" /* frame, envelope or record does not parse */
#define KT_RCODE_AUTH "auth"           /* signature, seal, signer or addressee wrong */
#define KT_RCODE_EXPIRED "expired"     /* older than the maximum message age */
#define KT_RCODE_DENIED "denied"       /* the receiver's policy refuses it */
#define KT_RCODE_TOO_BIG "too_big"     /* over a size limit */
#define KT_RCODE_VERSION "version"     /* unsupported protocol or envelope version */
#define KT_RCODE_INTERNAL "internal"   /* the receiver could not commit it; retry */

typedef struct kt_receipt {
    uint8_t ref[KT_RECEIPT_REF_BYTES]; /* all zero when the record id is unknown */
    uint8_t digest[KT_RECEIPT_DIGEST_BYTES];
    kt_receipt_status_t status;
    char code[KT_RECEIPT_CODE_MAX + 1];
    int has_head; /* the receiver's checkpoint; 0 while its log is empty */
    uint64_t head_seq;
    uint64_t head_time;
    uint8_t head[KT_RECEIPT_HEAD_BYTES];
    uint8_t head_sig[KT_RECEIPT_HEAD_SIG_BYTES];
} kt_receipt_t;

const char *kt_receipt_status_name(kt_receipt_status_t s); /* "accepted", ... */

/* Canonical body; *out is malloc'd (free with free()). Code must match
 * [a-z_]{1,31}. */
int kt_receipt_encode(uint8_t **out, size_t *outlen, const kt_receipt_t *r, kt_diag_t *d) KT_WUR;
/* Strict: only the exact canonical form; fuzzed. */
int kt_receipt_decode(kt_receipt_t *out, const uint8_t *buf, size_t len, kt_diag_t *d) KT_WUR;

/*
 * The body of a retraction (kind retract): which record the sender takes
 * back, after consent was withdrawn or expired. Canonical CBOR
 * { "ref": bstr(16) }, always exactly KT_RETRACT_BYTES bytes:
 * a1 63 72 65 66 50 || ref.
 */
#define KT_RETRACT_BYTES 22

void kt_retract_encode(uint8_t out[KT_RETRACT_BYTES], const uint8_t ref[KT_RECEIPT_REF_BYTES]);
/* KT_EMALFORMED unless buf is exactly that form. */
int kt_retract_decode(uint8_t ref[KT_RECEIPT_REF_BYTES], const uint8_t *buf, size_t len,
                      kt_diag_t *d) KT_WUR;

/*
 * The body of a refusal in a reconciliation session (kinds counts,
 * psi-request, psi-response): the envelope's id is the session's, and the
 * body says why the other side will not go on. Canonical CBOR
 * { "refused": text } with the code [a-z_]{1,23}: a1 67 'refused' (60+n) code.
 */
#define KT_REFUSAL_CODE_MAX 23
#define KT_REFUSAL_MAX_BYTES (9 + 1 + KT_REFUSAL_CODE_MAX)

/* out holds KT_REFUSAL_MAX_BYTES; returns the length, or KT_EINVAL for a
 * code outside [a-z_]{1,23}. */
int kt_refusal_encode(uint8_t out[KT_REFUSAL_MAX_BYTES], const char *code) KT_WUR;
/* KT_EMALFORMED unless buf is exactly that form. */
int kt_refusal_decode(char code[KT_REFUSAL_CODE_MAX + 1], const uint8_t *buf, size_t len) KT_WUR;

#endif
