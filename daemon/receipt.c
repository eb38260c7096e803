/*
 * receipt.c - the body of a receipt in canonical CBOR (receipt.h,
 * docs/protocol.md "Receipts").
 *
 * Part of the canonical-encoding module with record.c, and like it a user of
 * libcbor: heads are written with libcbor's encoders (shortest form) and read
 * with its streaming decoder (through cbor_read.c), which never allocates, so
 * no length taken from input ever becomes an allocation size. Decoding accepts exactly one
 * spelling: whatever it reads is encoded again and must equal the input byte
 * for byte. It must never accept a receipt it would not itself write, and
 * never put input bytes into a diagnostic.
 */
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "keten/receipt.h"
#include "cbor_read.h"

static const char *const s_status[] = {NULL, "accepted", "rejected", "purged"};
#define S_STATUS_LAST KT_RECEIPT_PURGED

const char *kt_receipt_status_name(kt_receipt_status_t s)
{
    if (s < KT_RECEIPT_ACCEPTED || s > S_STATUS_LAST)
        return "unknown";
    return s_status[s];
}

static int s_status_parse(const uint8_t *p, size_t n, kt_receipt_status_t *out)
{
    int i;

    for (i = KT_RECEIPT_ACCEPTED; i <= S_STATUS_LAST; i++) {
        if (strlen(s_status[i]) == n && memcmp(p, s_status[i], n) == 0) {
            *out = (kt_receipt_status_t)i;
            return 0;
        }
    }
    return KT_EINVAL;
}

/* [a-z_]{1,31} */
static int s_code_valid(const uint8_t *p, size_t n)
{
    size_t i;

    if (n < 1 || n > KT_RECEIPT_CODE_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || p[i] == '_'))
            return 0;
    return 1;
}

/* ---- encoding ---- */

struct s_buf {
    uint8_t b[KT_RECEIPT_MAX_BYTES];
    size_t n;
    int full;
};

static void s_head(struct s_buf *w, size_t (*enc)(size_t, unsigned char *, size_t), size_t v)
{
    size_t k = w->full ? 0 : enc(v, w->b + w->n, sizeof(w->b) - w->n);

    if (k == 0)
        w->full = 1;
    w->n += k;
}

static void s_raw(struct s_buf *w, const void *p, size_t n)
{
    if (w->full || n > sizeof(w->b) - w->n) {
        w->full = 1;
        return;
    }
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void s_text(struct s_buf *w, const char *s)
{
    s_head(w, cbor_encode_string_start, strlen(s));
    s_raw(w, s, strlen(s));
}

static void s_uint(struct s_buf *w, uint64_t v)
{
    size_t k = w->full ? 0 : cbor_encode_uint(v, w->b + w->n, sizeof(w->b) - w->n);

    if (k == 0)
        w->full = 1;
    w->n += k;
}

static void s_bytes(struct s_buf *w, const uint8_t *p, size_t n)
{
    s_head(w, cbor_encode_bytestring_start, n);
    s_raw(w, p, n);
}

/* Keys in encoded-byte order: shorter first, then bytewise. */
static void s_encode(struct s_buf *w, const kt_receipt_t *r)
{
    size_t k;

    s_head(w, cbor_encode_map_start, 5);
    s_text(w, "ref");
    s_bytes(w, r->ref, KT_RECEIPT_REF_BYTES);
    s_text(w, "code");
    s_text(w, r->code);
    s_text(w, "head");
    if (r->has_head) {
        s_head(w, cbor_encode_array_start, 4);
        s_uint(w, r->head_seq);
        s_uint(w, r->head_time);
        s_bytes(w, r->head, KT_RECEIPT_HEAD_BYTES);
        s_bytes(w, r->head_sig, KT_RECEIPT_HEAD_SIG_BYTES);
    } else if (!w->full) {
        k = cbor_encode_null(w->b + w->n, sizeof(w->b) - w->n);
        w->full = k == 0;
        w->n += k;
    }
    s_text(w, "digest");
    s_bytes(w, r->digest, KT_RECEIPT_DIGEST_BYTES);
    s_text(w, "status");
    s_text(w, kt_receipt_status_name(r->status));
}

static int s_check(const kt_receipt_t *r, kt_diag_t *d)
{
    size_t n = strnlen(r->code, sizeof(r->code));

    if (r->status < KT_RECEIPT_ACCEPTED || r->status > S_STATUS_LAST)
        return kt_diag_set(d, KT_EINVAL, "receipt: unknown status");
    if (n == sizeof(r->code) || !s_code_valid((const uint8_t *)r->code, n))
        return kt_diag_set(d, KT_EINVAL,
                           "receipt: the code must be 1 to %d characters of a-z "
                           "and '_'",
                           KT_RECEIPT_CODE_MAX);
    return 0;
}

int kt_receipt_encode(uint8_t **out, size_t *outlen, const kt_receipt_t *r, kt_diag_t *d)
{
    struct s_buf w = {.n = 0, .full = 0};
    int rc;

    *out = NULL;
    *outlen = 0;
    if ((rc = s_check(r, d)) != 0)
        return rc;
    s_encode(&w, r);
    if (w.full) /* cannot happen with the sizes above; kept so it never truncates */
        return kt_diag_set(d, KT_ETOOBIG, "receipt larger than %d bytes", KT_RECEIPT_MAX_BYTES);
    if ((*out = malloc(w.n)) == NULL)
        return kt_diag_set(d, KT_ENOMEM, "out of memory encoding a receipt");
    memcpy(*out, w.b, w.n);
    *outlen = w.n;
    return 0;
}

/* ---- strict decoding ---- */

/* null, or [seq, time, hash, sig] */
static int s_head_field(kt_cbor_reader_t *rd, kt_receipt_t *r)
{
    kt_cbor_event_t ev;

    if (!kt_cbor_key(rd, "head"))
        return 0;
    if (!kt_cbor_next(rd, &ev, KT_CBOR_ARRAY, 4))
        return ev.kind == KT_CBOR_NULL;
    if (!kt_cbor_next(rd, &ev, KT_CBOR_UINT, 0))
        return 0;
    r->head_seq = ev.u;
    if (!kt_cbor_next(rd, &ev, KT_CBOR_UINT, 0))
        return 0;
    r->head_time = ev.u;
    if (!kt_cbor_next(rd, &ev, KT_CBOR_BYTES, KT_RECEIPT_HEAD_BYTES))
        return 0;
    memcpy(r->head, ev.p, KT_RECEIPT_HEAD_BYTES);
    if (!kt_cbor_next(rd, &ev, KT_CBOR_BYTES, KT_RECEIPT_HEAD_SIG_BYTES))
        return 0;
    memcpy(r->head_sig, ev.p, KT_RECEIPT_HEAD_SIG_BYTES);
    r->has_head = 1;
    return 1;
}

static int s_decode_map(kt_cbor_reader_t *rd, kt_receipt_t *r, kt_diag_t *d)
{
    kt_cbor_event_t ev;

    if (!kt_cbor_next(rd, &ev, KT_CBOR_MAP, 5))
        return kt_diag_set(d, KT_EMALFORMED, "receipt: expected a map of 5 entries");
    if (!kt_cbor_bytes_field(rd, "ref", r->ref, KT_RECEIPT_REF_BYTES))
        return kt_diag_set(d, KT_EMALFORMED, "receipt: expected 'ref', a %d-byte string",
                           KT_RECEIPT_REF_BYTES);
    if (!kt_cbor_key(rd, "code") || !kt_cbor_next(rd, &ev, KT_CBOR_TEXT, 0) ||
        !s_code_valid(ev.p, ev.n))
        return kt_diag_set(d, KT_EMALFORMED, "receipt: expected 'code', 1 to %d of a-z and '_'",
                           KT_RECEIPT_CODE_MAX);
    memcpy(r->code, ev.p, ev.n);
    r->code[ev.n] = '\0';
    if (!s_head_field(rd, r))
        return kt_diag_set(d, KT_EMALFORMED,
                           "receipt: expected 'head', null or [seq, time, %d-byte hash, "
                           "%d-byte signature]",
                           KT_RECEIPT_HEAD_BYTES, KT_RECEIPT_HEAD_SIG_BYTES);
    if (!kt_cbor_bytes_field(rd, "digest", r->digest, KT_RECEIPT_DIGEST_BYTES))
        return kt_diag_set(d, KT_EMALFORMED, "receipt: expected 'digest', a %d-byte string",
                           KT_RECEIPT_DIGEST_BYTES);
    if (!kt_cbor_key(rd, "status") || !kt_cbor_next(rd, &ev, KT_CBOR_TEXT, 0) ||
        s_status_parse(ev.p, ev.n, &r->status) != 0)
        return kt_diag_set(d, KT_EMALFORMED,
                           "receipt: expected 'status': accepted, rejected or purged");
    if (rd->pos != rd->len)
        return kt_diag_set(d, KT_EMALFORMED, "receipt: trailing bytes after the receipt");
    return 0;
}

/* Every item was read in order; only a longer-than-needed head is left to catch. */
static int s_check_canonical(const kt_receipt_t *r, const uint8_t *buf, size_t len, kt_diag_t *d)
{
    struct s_buf w = {.n = 0, .full = 0};

    s_encode(&w, r);
    if (w.full || w.n != len || memcmp(w.b, buf, len) != 0)
        return kt_diag_set(d, KT_EMALFORMED,
                           "receipt: not in canonical CBOR form (RFC 8949 §4.2.1)");
    return 0;
}

int kt_receipt_decode(kt_receipt_t *out, const uint8_t *buf, size_t len, kt_diag_t *d)
{
    kt_cbor_reader_t rd = {.b = buf, .len = len, .pos = 0};
    kt_receipt_t r;
    int rc;

    memset(out, 0, sizeof(*out));
    memset(&r, 0, sizeof(r));
    if (len > KT_RECEIPT_MAX_BYTES)
        return kt_diag_set(d, KT_ETOOBIG, "receipt: larger than %d bytes", KT_RECEIPT_MAX_BYTES);
    if ((rc = s_decode_map(&rd, &r, d)) != 0 || (rc = s_check_canonical(&r, buf, len, d)) != 0)
        return rc;
    *out = r;
    return 0;
}

/* ---- retraction bodies ---- */

/* map(1), text(3) "ref", bytes(16): the one canonical spelling. */
static const uint8_t s_retract_head[] = {0xa1, 0x63, 'r', 'e', 'f', 0x50};

void kt_retract_encode(uint8_t out[KT_RETRACT_BYTES], const uint8_t ref[KT_RECEIPT_REF_BYTES])
{
    memcpy(out, s_retract_head, sizeof(s_retract_head));
    memcpy(out + sizeof(s_retract_head), ref, KT_RECEIPT_REF_BYTES);
}

int kt_retract_decode(uint8_t ref[KT_RECEIPT_REF_BYTES], const uint8_t *buf, size_t len,
                      kt_diag_t *d)
{
    if (len != KT_RETRACT_BYTES || memcmp(buf, s_retract_head, sizeof(s_retract_head)) != 0)
        return kt_diag_set(d, KT_EMALFORMED,
                           "retraction: expected the canonical map {\"ref\": 16 bytes}");
    memcpy(ref, buf + sizeof(s_retract_head), KT_RECEIPT_REF_BYTES);
    return 0;
}

/* ---- refusal bodies ---- */

static const uint8_t s_refusal_head[] = {0xa1, 0x67, 'r', 'e', 'f', 'u', 's', 'e', 'd'};

int kt_refusal_encode(uint8_t out[KT_REFUSAL_MAX_BYTES], const char *code)
{
    size_t n = strnlen(code, KT_REFUSAL_CODE_MAX + 1);

    if (n > KT_REFUSAL_CODE_MAX || !s_code_valid((const uint8_t *)code, n))
        return KT_EINVAL;
    memcpy(out, s_refusal_head, sizeof(s_refusal_head));
    out[sizeof(s_refusal_head)] = (uint8_t)(0x60 + n);
    memcpy(out + sizeof(s_refusal_head) + 1, code, n);
    return (int)(sizeof(s_refusal_head) + 1 + n);
}

int kt_refusal_decode(char code[KT_REFUSAL_CODE_MAX + 1], const uint8_t *buf, size_t len)
{
    size_t h = sizeof(s_refusal_head), n;

    code[0] = '\0';
    if (len < h + 2 || len > KT_REFUSAL_MAX_BYTES || memcmp(buf, s_refusal_head, h) != 0)
        return KT_EMALFORMED;
    n = (size_t)buf[h] - 0x60;
    if (buf[h] < 0x61 || n > KT_REFUSAL_CODE_MAX || len != h + 1 + n ||
        !s_code_valid(buf + h + 1, n))
        return KT_EMALFORMED;
    memcpy(code, buf + h + 1, n);
    code[n] = '\0';
    return 0;
}
