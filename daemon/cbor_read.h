/*
 * cbor_read.h - private to the canonical-encoding module: items read one at
 * a time with libcbor's streaming decoder, for the strict decoders of
 * receipt.c, counts_wire.c and psi_wire.c. Those files keep their own field
 * order, diagnostics and canonical re-encode check; this is only the reader.
 * Nothing outside daemon/ includes this file.
 */
#ifndef KETEN_CBOR_READ_H
#define KETEN_CBOR_READ_H

#include <stddef.h>
#include <stdint.h>

#include "keten/error.h"

/* What one item is. Indefinite lengths, tags, floats, undefined and breaks
 * are all OTHER; NONE means nothing was read. */
enum {
    KT_CBOR_NONE,
    KT_CBOR_MAP,
    KT_CBOR_ARRAY,
    KT_CBOR_UINT,
    KT_CBOR_NINT,
    KT_CBOR_TEXT,
    KT_CBOR_BYTES,
    KT_CBOR_NULL,
    KT_CBOR_BOOL,
    KT_CBOR_OTHER
};

/* The one item the streaming decoder reported; p points into the input. */
typedef struct {
    int kind;
    size_t n;         /* MAP and ARRAY size; TEXT and BYTES length */
    uint64_t u;       /* UINT value; NINT as -1 - u; BOOL 0 or 1 */
    const uint8_t *p; /* TEXT and BYTES content, borrowed from the input */
} kt_cbor_event_t;

typedef struct {
    const uint8_t *b;
    size_t len, pos;
} kt_cbor_reader_t;

/* Reads one whole item head (and a definite string's content) at pos and
 * moves past it; 1 if it is of `kind` and, unless n is 0, of size or length
 * n. On 0 the item may have been consumed; ev->kind still says what it was
 * (NONE if it did not decode). */
int kt_cbor_next(kt_cbor_reader_t *rd, kt_cbor_event_t *ev, int kind, size_t n) KT_WUR;

/* 1 if the next item is the text `name`. */
int kt_cbor_key(kt_cbor_reader_t *rd, const char *name) KT_WUR;

/* 1 if the next items are the key `name` and a byte string of exactly n
 * bytes, which are copied to out. */
int kt_cbor_bytes_field(kt_cbor_reader_t *rd, const char *name, uint8_t *out, size_t n) KT_WUR;

#endif
