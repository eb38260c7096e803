/*
 * counts_wire.c - the count vector of the count exchange in canonical CBOR
 * (counts.h, docs/reconcile.md "Count vector").
 *
 * Part of the canonical-encoding module with record.c and receipt.c, and
 * like them a user of libcbor: heads are written with libcbor's encoders
 * (shortest form) and read with its streaming decoder, which never
 * allocates, so no length taken from input becomes an allocation size.
 * Decoding accepts exactly one spelling: what it reads is encoded again and
 * must equal the input byte for byte. Must never encode the value of a
 * suppressed bucket, never accept a vector it would not itself write, and
 * never put input bytes into a diagnostic.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "keten/counts.h"

/* ---- encoding ---- */

struct s_buf {
    uint8_t *b;
    size_t cap, n;
    int full;
};

static void s_head(struct s_buf *w, size_t (*enc)(size_t, unsigned char *, size_t), size_t v)
{
    size_t k = w->full ? 0 : enc(v, w->b + w->n, w->cap - w->n);

    if (k == 0)
        w->full = 1;
    w->n += k;
}

static void s_raw(struct s_buf *w, const void *p, size_t n)
{
    if (w->full || n > w->cap - w->n) {
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
    size_t k = w->full ? 0 : cbor_encode_uint(v, w->b + w->n, w->cap - w->n);

    if (k == 0)
        w->full = 1;
    w->n += k;
}

static void s_null(struct s_buf *w)
{
    size_t k = w->full ? 0 : cbor_encode_null(w->b + w->n, w->cap - w->n);

    if (k == 0)
        w->full = 1;
    w->n += k;
}

/* Keys in encoded-byte order: shorter first, then bytewise. */
static void s_encode(struct s_buf *w, const kt_counts_set_t *s)
{
    s_head(w, cbor_encode_map_start, 2);
    s_text(w, "key");
    s_head(w, cbor_encode_map_start, 5);
    s_text(w, "by");
    s_text(w, s->key.by);
    s_text(w, "scope");
    s_text(w, s->key.scope);
    s_text(w, "period");
    s_text(w, s->key.period);
    s_text(w, "eenheid");
    s_text(w, s->key.eenheid);
    s_text(w, "definitie");
    s_text(w, s->key.definitie);
    s_text(w, "buckets");
    s_head(w, cbor_encode_array_start, s->n);
    for (size_t i = 0; i < s->n; i++) {
        s_head(w, cbor_encode_array_start, 2);
        s_text(w, s->b[i].name);
        if (s->b[i].suppressed)
            s_null(w);
        else
            s_uint(w, (uint64_t)s->b[i].value);
    }
}

static int s_check(const kt_counts_set_t *s, kt_diag_t *d)
{
    const char *parts[] = {s->key.eenheid, s->key.definitie, s->key.scope, s->key.period,
                           s->key.by};

    for (int i = 0; i < 5; i++)
        if (!kt_counts_name_valid(parts[i]))
            return kt_diag_set(d, KT_EINVAL, "counts: a key part is 1 to %d printable characters",
                               KT_COUNTS_NAME_MAX);
    if (s->n > KT_COUNTS_BUCKETS_MAX)
        return kt_diag_set(d, KT_ETOOBIG, "counts: more than %d buckets", KT_COUNTS_BUCKETS_MAX);
    for (size_t i = 0; i < s->n; i++) {
        if (!kt_counts_name_valid(s->b[i].name))
            return kt_diag_set(d, KT_EINVAL,
                               "counts: a bucket name is 1 to %d printable characters",
                               KT_COUNTS_NAME_MAX);
        if (i > 0 && strcmp(s->b[i - 1].name, s->b[i].name) >= 0)
            return kt_diag_set(d, KT_EINVAL, "counts: buckets must be sorted by name, each once");
        if (s->b[i].suppressed ? s->b[i].value != 0
                               : s->b[i].value < 0 || s->b[i].value > KT_COUNTS_VALUE_MAX)
            return kt_diag_set(d, KT_EINVAL,
                               "counts: a bucket value is 0 to %lld, and 0 when suppressed",
                               (long long)KT_COUNTS_VALUE_MAX);
    }
    return 0;
}

int kt_counts_encode(uint8_t **out, size_t *outlen, const kt_counts_set_t *s, kt_diag_t *d)
{
    struct s_buf w = {NULL, KT_COUNTS_WIRE_MAX_BYTES, 0, 0};
    int rc;

    *out = NULL;
    *outlen = 0;
    if ((rc = s_check(s, d)) != 0)
        return rc;
    if ((w.b = malloc(w.cap)) == NULL)
        return kt_diag_set(d, KT_ENOMEM, "out of memory encoding counts");
    s_encode(&w, s);
    if (w.full) {
        free(w.b);
        return kt_diag_set(d, KT_ETOOBIG, "counts: larger than %d bytes", KT_COUNTS_WIRE_MAX_BYTES);
    }
    *out = w.b;
    *outlen = w.n;
    return 0;
}

void kt_counts_free_bytes(uint8_t *buf)
{
    free(buf);
}

/* ---- strict decoding ---- */

enum { EV_NONE, EV_MAP, EV_ARRAY, EV_UINT, EV_TEXT, EV_NULL, EV_OTHER };

struct s_event {
    int kind;
    size_t n;   /* MAP and ARRAY size; TEXT length */
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
static void s_on_text(void *c, cbor_data p, size_t n)
{
    ((struct s_event *)c)->kind = EV_TEXT;
    ((struct s_event *)c)->p = p;
    ((struct s_event *)c)->n = n;
}
static void s_on_bytes(void *c, cbor_data p, size_t n)
{
    (void)p;
    (void)n;
    s_on_other(c);
}

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

static int s_next(struct s_reader *rd, struct s_event *ev, int kind)
{
    struct cbor_decoder_result res;

    memset(ev, 0, sizeof(*ev));
    if (rd->pos >= rd->len)
        return 0;
    res = cbor_stream_decode(rd->b + rd->pos, rd->len - rd->pos, &s_callbacks, ev);
    if (res.status != CBOR_DECODER_FINISHED || res.read == 0 || res.read > rd->len - rd->pos)
        return 0;
    rd->pos += res.read;
    return ev->kind == kind;
}

static int s_key(struct s_reader *rd, const char *name)
{
    struct s_event ev;

    return s_next(rd, &ev, EV_TEXT) && ev.n == strlen(name) && memcmp(ev.p, name, ev.n) == 0;
}

/* A text of 1..KT_COUNTS_NAME_MAX valid characters into out. */
static int s_name(struct s_reader *rd, char out[KT_COUNTS_NAME_MAX + 1])
{
    struct s_event ev;

    if (!s_next(rd, &ev, EV_TEXT) || ev.n < 1 || ev.n > KT_COUNTS_NAME_MAX)
        return 0;
    memcpy(out, ev.p, ev.n);
    out[ev.n] = '\0';
    return strlen(out) == ev.n && kt_counts_name_valid(out);
}

static int s_decode_key(struct s_reader *rd, kt_counts_key_t *k)
{
    struct s_event ev;

    return s_key(rd, "key") && s_next(rd, &ev, EV_MAP) && ev.n == 5 && s_key(rd, "by") &&
           s_name(rd, k->by) && s_key(rd, "scope") && s_name(rd, k->scope) && s_key(rd, "period") &&
           s_name(rd, k->period) && s_key(rd, "eenheid") && s_name(rd, k->eenheid) &&
           s_key(rd, "definitie") && s_name(rd, k->definitie);
}

static int s_decode_bucket(struct s_reader *rd, kt_counts_bucket_t *b)
{
    struct s_event ev;

    if (!s_next(rd, &ev, EV_ARRAY) || ev.n != 2 || !s_name(rd, b->name))
        return 0;
    if (s_next(rd, &ev, EV_UINT)) {
        if (ev.u > (uint64_t)KT_COUNTS_VALUE_MAX)
            return 0;
        b->value = (int64_t)ev.u;
        return 1;
    }
    if (ev.kind != EV_NULL)
        return 0;
    b->suppressed = 1;
    return 1;
}

static int s_decode(struct s_reader *rd, kt_counts_set_t *s, kt_diag_t *d)
{
    struct s_event ev;

    if (!s_next(rd, &ev, EV_MAP) || ev.n != 2)
        return kt_diag_set(d, KT_EMALFORMED, "counts: expected a map of 2 entries");
    if (!s_decode_key(rd, &s->key))
        return kt_diag_set(d, KT_EMALFORMED,
                           "counts: expected 'key', a map of by, scope, period, eenheid and "
                           "definitie (1 to %d printable characters each)",
                           KT_COUNTS_NAME_MAX);
    if (!s_key(rd, "buckets") || !s_next(rd, &ev, EV_ARRAY))
        return kt_diag_set(d, KT_EMALFORMED, "counts: expected 'buckets', an array");
    if (ev.n > KT_COUNTS_BUCKETS_MAX)
        return kt_diag_set(d, KT_ETOOBIG, "counts: more than %d buckets", KT_COUNTS_BUCKETS_MAX);
    for (size_t i = 0; i < ev.n; i++) {
        if (!s_decode_bucket(rd, &s->b[i]))
            return kt_diag_set(d, KT_EMALFORMED,
                               "counts: bucket %zu: expected [name, value or null] with a value "
                               "up to %lld",
                               i + 1, (long long)KT_COUNTS_VALUE_MAX);
        if (i > 0 && strcmp(s->b[i - 1].name, s->b[i].name) >= 0)
            return kt_diag_set(d, KT_EMALFORMED,
                               "counts: bucket %zu: buckets must be sorted by name, each once",
                               i + 1);
        s->n = i + 1;
    }
    if (rd->pos != rd->len)
        return kt_diag_set(d, KT_EMALFORMED, "counts: trailing bytes after the vector");
    return 0;
}

int kt_counts_decode(kt_counts_set_t *out, const uint8_t *buf, size_t len, kt_diag_t *d)
{
    struct s_reader rd = {buf, len, 0};
    struct s_buf w = {NULL, KT_COUNTS_WIRE_MAX_BYTES, 0, 0};
    int rc;

    memset(out, 0, sizeof(*out));
    if (len > KT_COUNTS_WIRE_MAX_BYTES)
        return kt_diag_set(d, KT_ETOOBIG, "counts: larger than %d bytes", KT_COUNTS_WIRE_MAX_BYTES);
    if ((rc = s_decode(&rd, out, d)) != 0)
        goto out;
    /* every item was read in order; a longer-than-needed head is caught here */
    if ((w.b = malloc(w.cap)) == NULL) {
        rc = kt_diag_set(d, KT_ENOMEM, "out of memory decoding counts");
        goto out;
    }
    s_encode(&w, out);
    if (w.full || w.n != len || memcmp(w.b, buf, len) != 0)
        rc = kt_diag_set(d, KT_EMALFORMED, "counts: not in canonical CBOR form (RFC 8949 §4.2.1)");
out:
    free(w.b);
    if (rc != 0)
        memset(out, 0, sizeof(*out));
    return rc;
}
