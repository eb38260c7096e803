/*
 * counts_wire.c - the count vector of the count exchange in canonical CBOR
 * (counts.h, docs/reconcile.md "Count vector").
 *
 * Part of the canonical-encoding module with record.c and receipt.c, and
 * like them a user of libcbor: heads are written with libcbor's encoders
 * (shortest form) and read with its streaming decoder (through cbor_read.c),
 * which never allocates, so no length taken from input becomes an
 * allocation size.
 * Decoding accepts exactly one spelling: what it reads is encoded again and
 * must equal the input byte for byte. Must never encode the value of a
 * suppressed bucket, never accept a vector it would not itself write, and
 * never put input bytes into a diagnostic.
 */
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "keten/counts.h"
#include "cbor_read.h"

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

/* A text of 1..KT_COUNTS_NAME_MAX valid characters into out. */
static int s_name(kt_cbor_reader_t *rd, char out[KT_COUNTS_NAME_MAX + 1])
{
    kt_cbor_event_t ev;

    if (!kt_cbor_next(rd, &ev, KT_CBOR_TEXT, 0) || ev.n < 1 || ev.n > KT_COUNTS_NAME_MAX)
        return 0;
    memcpy(out, ev.p, ev.n);
    out[ev.n] = '\0';
    return strlen(out) == ev.n && kt_counts_name_valid(out);
}

static int s_decode_key(kt_cbor_reader_t *rd, kt_counts_key_t *k)
{
    kt_cbor_event_t ev;

    return kt_cbor_key(rd, "key") && kt_cbor_next(rd, &ev, KT_CBOR_MAP, 5) &&
           kt_cbor_key(rd, "by") && s_name(rd, k->by) && kt_cbor_key(rd, "scope") &&
           s_name(rd, k->scope) && kt_cbor_key(rd, "period") && s_name(rd, k->period) &&
           kt_cbor_key(rd, "eenheid") && s_name(rd, k->eenheid) && kt_cbor_key(rd, "definitie") &&
           s_name(rd, k->definitie);
}

static int s_decode_bucket(kt_cbor_reader_t *rd, kt_counts_bucket_t *b)
{
    kt_cbor_event_t ev;

    if (!kt_cbor_next(rd, &ev, KT_CBOR_ARRAY, 2) || !s_name(rd, b->name))
        return 0;
    if (kt_cbor_next(rd, &ev, KT_CBOR_UINT, 0)) {
        if (ev.u > (uint64_t)KT_COUNTS_VALUE_MAX)
            return 0;
        b->value = (int64_t)ev.u;
        return 1;
    }
    if (ev.kind != KT_CBOR_NULL)
        return 0;
    b->suppressed = 1;
    return 1;
}

static int s_decode(kt_cbor_reader_t *rd, kt_counts_set_t *s, kt_diag_t *d)
{
    kt_cbor_event_t ev;

    if (!kt_cbor_next(rd, &ev, KT_CBOR_MAP, 2))
        return kt_diag_set(d, KT_EMALFORMED, "counts: expected a map of 2 entries");
    if (!s_decode_key(rd, &s->key))
        return kt_diag_set(d, KT_EMALFORMED,
                           "counts: expected 'key', a map of by, scope, period, eenheid and "
                           "definitie (1 to %d printable characters each)",
                           KT_COUNTS_NAME_MAX);
    if (!kt_cbor_key(rd, "buckets") || !kt_cbor_next(rd, &ev, KT_CBOR_ARRAY, 0))
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
    kt_cbor_reader_t rd = {buf, len, 0};
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
