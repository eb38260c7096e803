/*
 * cbor_read.c - the streaming reader shared by the strict canonical-CBOR
 * decoders (cbor_read.h): one item per call, its kind, size and value, with
 * strings pointing into the input.
 *
 * libcbor's streaming decoder never allocates, so no length taken from input
 * becomes an allocation size here. This file only reports what it read; it
 * must never accept or refuse a document on its own (its callers decide),
 * never copy input anywhere but into a caller's sized buffer, and never put
 * input bytes into a diagnostic.
 */
#include <stdbool.h>
#include <string.h>

#include <cbor.h>

#include "cbor_read.h"

static void s_set(void *c, int kind, uint64_t u)
{
    ((kt_cbor_event_t *)c)->kind = kind;
    ((kt_cbor_event_t *)c)->u = u;
}

static void s_on_u8(void *c, uint8_t v)
{
    s_set(c, KT_CBOR_UINT, v);
}
static void s_on_u16(void *c, uint16_t v)
{
    s_set(c, KT_CBOR_UINT, v);
}
static void s_on_u32(void *c, uint32_t v)
{
    s_set(c, KT_CBOR_UINT, v);
}
static void s_on_u64(void *c, uint64_t v)
{
    s_set(c, KT_CBOR_UINT, v);
}
static void s_on_n8(void *c, uint8_t v)
{
    s_set(c, KT_CBOR_NINT, v);
}
static void s_on_n16(void *c, uint16_t v)
{
    s_set(c, KT_CBOR_NINT, v);
}
static void s_on_n32(void *c, uint32_t v)
{
    s_set(c, KT_CBOR_NINT, v);
}
static void s_on_n64(void *c, uint64_t v)
{
    s_set(c, KT_CBOR_NINT, v);
}
static void s_on_bool(void *c, bool v)
{
    s_set(c, KT_CBOR_BOOL, v);
}
static void s_on_null(void *c)
{
    s_set(c, KT_CBOR_NULL, 0);
}
static void s_on_other(void *c)
{
    s_set(c, KT_CBOR_OTHER, 0);
}
static void s_on_other_u64(void *c, uint64_t v)
{
    (void)v;
    s_on_other(c);
}
static void s_on_other_f(void *c, float v)
{
    (void)v;
    s_on_other(c);
}
static void s_on_other_d(void *c, double v)
{
    (void)v;
    s_on_other(c);
}
static void s_on_size(void *c, int kind, size_t n)
{
    s_set(c, kind, 0);
    ((kt_cbor_event_t *)c)->n = n;
}
static void s_on_array(void *c, size_t n)
{
    s_on_size(c, KT_CBOR_ARRAY, n);
}
static void s_on_map(void *c, size_t n)
{
    s_on_size(c, KT_CBOR_MAP, n);
}
static void s_on_string(void *c, int kind, cbor_data p, size_t n)
{
    s_on_size(c, kind, n);
    ((kt_cbor_event_t *)c)->p = p;
}
static void s_on_text(void *c, cbor_data p, size_t n)
{
    s_on_string(c, KT_CBOR_TEXT, p, n);
}
static void s_on_bytes(void *c, cbor_data p, size_t n)
{
    s_on_string(c, KT_CBOR_BYTES, p, n);
}

/* Indefinite strings, arrays and maps, tags, floats, undefined and breaks
 * have no place in a canonical body of ours: they are all "other". */
static const struct cbor_callbacks s_callbacks = {
    .uint8 = s_on_u8,
    .uint16 = s_on_u16,
    .uint32 = s_on_u32,
    .uint64 = s_on_u64,
    .negint8 = s_on_n8,
    .negint16 = s_on_n16,
    .negint32 = s_on_n32,
    .negint64 = s_on_n64,
    .byte_string_start = s_on_other,
    .byte_string = s_on_bytes,
    .string = s_on_text,
    .string_start = s_on_other,
    .indef_array_start = s_on_other,
    .array_start = s_on_array,
    .indef_map_start = s_on_other,
    .map_start = s_on_map,
    .tag = s_on_other_u64,
    .float2 = s_on_other_f,
    .float4 = s_on_other_f,
    .float8 = s_on_other_d,
    .undefined = s_on_other,
    .null = s_on_null,
    .boolean = s_on_bool,
    .indef_break = s_on_other,
};

int kt_cbor_next(kt_cbor_reader_t *rd, kt_cbor_event_t *ev, int kind, size_t n)
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

int kt_cbor_key(kt_cbor_reader_t *rd, const char *name)
{
    kt_cbor_event_t ev;

    return kt_cbor_next(rd, &ev, KT_CBOR_TEXT, 0) && ev.n == strlen(name) &&
           memcmp(ev.p, name, ev.n) == 0;
}

int kt_cbor_bytes_field(kt_cbor_reader_t *rd, const char *name, uint8_t *out, size_t n)
{
    kt_cbor_event_t ev;

    if (!kt_cbor_key(rd, name) || !kt_cbor_next(rd, &ev, KT_CBOR_BYTES, 0) || ev.n != n)
        return 0;
    memcpy(out, ev.p, n);
    return 1;
}
