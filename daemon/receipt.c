/*
 * receipt.c - the body of a receipt in canonical CBOR (receipt.h,
 * docs/protocol.md "Receipts").
 *
 * Part of the canonical-encoding module with record.c, and like it a user of
 * libcbor: heads are written with libcbor's encoders (shortest form) and read
 * with its streaming decoder, which never allocates, so no length taken from
 * input ever becomes an allocation size. Decoding accepts exactly one
 * spelling: whatever it reads is encoded again and must equal the input byte
 * for byte. It must never accept a receipt it would not itself write, and
 * never put input bytes into a diagnostic.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "keten/receipt.h"

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

enum { EV_NONE, EV_MAP, EV_ARRAY, EV_UINT, EV_TEXT, EV_BYTES, EV_NULL, EV_OTHER };

/* The one item the streaming decoder reported; p points into the input. */
struct s_event {
    int kind;
    size_t n; /* MAP and ARRAY size; TEXT and BYTES length */
    uint64_t u; /* UINT value */
    const uint8_t *p;
};

static void s_on_other(void *c)
{
    ((struct s_event *)c)->kind = EV_OTHER;
}
static void s_on_uint(void *c, uint64_t v)
{
    ((struct s_event *)c)->kind = EV_UINT;
    ((struct s_event *)c)->u = v;
}
static void s_on_u8(void *c, uint8_t v)
{
    s_on_uint(c, v);
}
static void s_on_u16(void *c, uint16_t v)
{
    s_on_uint(c, v);
}
static void s_on_u32(void *c, uint32_t v)
{
    s_on_uint(c, v);
}
static void s_on_u64(void *c, uint64_t v)
{
    s_on_uint(c, v);
}
static void s_on_neg8(void *c, uint8_t v)
{
    (void)v;
    s_on_other(c);
}
static void s_on_neg16(void *c, uint16_t v)
{
    (void)v;
    s_on_other(c);
}
static void s_on_neg32(void *c, uint32_t v)
{
    (void)v;
    s_on_other(c);
}
static void s_on_neg64(void *c, uint64_t v)
{
    (void)v;
    s_on_other(c);
}
static void s_on_float(void *c, float v)
{
    (void)v;
    s_on_other(c);
}
static void s_on_double(void *c, double v)
{
    (void)v;
    s_on_other(c);
}
static void s_on_bool(void *c, bool v)
{
    (void)v;
    s_on_other(c);
}
static void s_on_array(void *c, size_t n)
{
    ((struct s_event *)c)->kind = EV_ARRAY;
    ((struct s_event *)c)->n = n;
}
static void s_on_map(void *c, size_t n)
{
    ((struct s_event *)c)->kind = EV_MAP;
    ((struct s_event *)c)->n = n;
}
static void s_on_null(void *c)
{
    ((struct s_event *)c)->kind = EV_NULL;
}
static void s_on_string(struct s_event *ev, int kind, cbor_data p, size_t n)
{
    ev->kind = kind;
    ev->p = p;
    ev->n = n;
}
static void s_on_text(void *c, cbor_data p, size_t n)
{
    s_on_string(c, EV_TEXT, p, n);
}
static void s_on_bytes(void *c, cbor_data p, size_t n)
{
    s_on_string(c, EV_BYTES, p, n);
}

/* Only definite maps and arrays, unsigned integers, text, byte strings and
 * null are of use; the rest is "other". */
static const struct cbor_callbacks s_callbacks = {
    .uint8 = s_on_u8,
    .uint16 = s_on_u16,
    .uint32 = s_on_u32,
    .uint64 = s_on_u64,
    .negint8 = s_on_neg8,
    .negint16 = s_on_neg16,
    .negint32 = s_on_neg32,
    .negint64 = s_on_neg64,
    .byte_string_start = s_on_other,
    .byte_string = s_on_bytes,
    .string = s_on_text,
    .string_start = s_on_other,
    .indef_array_start = s_on_other,
    .array_start = s_on_array,
    .indef_map_start = s_on_other,
    .map_start = s_on_map,
    .tag = s_on_neg64,
    .float2 = s_on_float,
    .float4 = s_on_float,
    .float8 = s_on_double,
    .undefined = s_on_other,
    .null = s_on_null,
    .boolean = s_on_bool,
    .indef_break = s_on_other,
};

struct s_reader {
    const uint8_t *b;
    size_t len, pos;
};

/* Reads one item; 1 if it is of `kind` (and, for strings, of length n unless n is 0). */
static int s_next(struct s_reader *rd, struct s_event *ev, int kind, size_t n)
{
    struct cbor_decoder_result res;

    memset(ev, 0, sizeof(*ev));
    if (rd->pos >= rd->len)
        return 0;
    res = cbor_stream_decode(rd->b + rd->pos, rd->len - rd->pos, &s_callbacks, ev);
    if (res.status != CBOR_DECODER_FINISHED || res.read == 0 || res.read > rd->len - rd->pos)
        return 0;
    rd->pos += res.read;
    return ev->kind == kind && (n == 0 || ev->n == n);
}

static int s_key(struct s_reader *rd, const char *name)
{
    struct s_event ev;

    return s_next(rd, &ev, EV_TEXT, strlen(name)) && memcmp(ev.p, name, ev.n) == 0;
}

static int s_bytes_field(struct s_reader *rd, const char *name, uint8_t *out, size_t n)
{
    struct s_event ev;

    if (!s_key(rd, name) || !s_next(rd, &ev, EV_BYTES, n))
        return 0;
    memcpy(out, ev.p, n);
    return 1;
}

/* null, or [seq, time, hash, sig] */
static int s_head_field(struct s_reader *rd, kt_receipt_t *r)
{
    struct s_event ev;

    if (!s_key(rd, "head"))
        return 0;
    if (!s_next(rd, &ev, EV_ARRAY, 4))
        return ev.kind == EV_NULL;
    if (!s_next(rd, &ev, EV_UINT, 0))
        return 0;
    r->head_seq = ev.u;
    if (!s_next(rd, &ev, EV_UINT, 0))
        return 0;
    r->head_time = ev.u;
    if (!s_next(rd, &ev, EV_BYTES, KT_RECEIPT_HEAD_BYTES))
        return 0;
    memcpy(r->head, ev.p, KT_RECEIPT_HEAD_BYTES);
    if (!s_next(rd, &ev, EV_BYTES, KT_RECEIPT_HEAD_SIG_BYTES))
        return 0;
    memcpy(r->head_sig, ev.p, KT_RECEIPT_HEAD_SIG_BYTES);
    r->has_head = 1;
    return 1;
}

static int s_decode_map(struct s_reader *rd, kt_receipt_t *r, kt_diag_t *d)
{
    struct s_event ev;

    if (!s_next(rd, &ev, EV_MAP, 5))
        return kt_diag_set(d, KT_EMALFORMED, "receipt: expected a map of 5 entries");
    if (!s_bytes_field(rd, "ref", r->ref, KT_RECEIPT_REF_BYTES))
        return kt_diag_set(d, KT_EMALFORMED, "receipt: expected 'ref', a %d-byte string",
                           KT_RECEIPT_REF_BYTES);
    if (!s_key(rd, "code") || !s_next(rd, &ev, EV_TEXT, 0) || !s_code_valid(ev.p, ev.n))
        return kt_diag_set(d, KT_EMALFORMED, "receipt: expected 'code', 1 to %d of a-z and '_'",
                           KT_RECEIPT_CODE_MAX);
    memcpy(r->code, ev.p, ev.n);
    r->code[ev.n] = '\0';
    if (!s_head_field(rd, r))
        return kt_diag_set(d, KT_EMALFORMED,
                           "receipt: expected 'head', null or [seq, time, %d-byte hash, "
                           "%d-byte signature]",
                           KT_RECEIPT_HEAD_BYTES, KT_RECEIPT_HEAD_SIG_BYTES);
    if (!s_bytes_field(rd, "digest", r->digest, KT_RECEIPT_DIGEST_BYTES))
        return kt_diag_set(d, KT_EMALFORMED, "receipt: expected 'digest', a %d-byte string",
                           KT_RECEIPT_DIGEST_BYTES);
    if (!s_key(rd, "status") || !s_next(rd, &ev, EV_TEXT, 0) ||
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
    struct s_reader rd = {.b = buf, .len = len, .pos = 0};
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
