/*
 * error.h - the one list of keten error codes, and diagnostics.
 *
 * Every fallible function returns 0 or a negative KT_E* code. Functions that
 * can say more take a kt_diag_t * (may be NULL) and write one human sentence
 * into it: what was wrong and, where it helps, what to do. A diagnostic never
 * contains a field value, a key byte or anything else that came from input:
 * only file names, line numbers, field names, rule names and codes.
 */
#ifndef KETEN_ERROR_H
#define KETEN_ERROR_H

#include <stddef.h>

#define KT_WUR __attribute__((warn_unused_result))
#define KT_PRINTF(f, a) __attribute__((format(printf, f, a)))

enum {
    KT_OK = 0,
    KT_EMALFORMED = -1, /* input does not parse or breaks a format rule */
    KT_ETOOBIG = -2,    /* input larger than the limit for its kind */
    KT_EAUTH = -3,      /* signature, MAC or key check failed */
    KT_EDENIED = -4,    /* a policy or an access rule says no */
    KT_ENOCONSENT = -5, /* a consent gate is closed */
    KT_EIO = -6,        /* reading, writing or the database failed */
    KT_ENOMEM = -7,     /* out of memory */
    KT_EINVAL = -8,     /* a value is outside its allowed set or range */
    KT_EEXIST = -9,     /* would overwrite something that exists */
    KT_ENOENT = -10,    /* something named does not exist */
    KT_EPERM = -11,     /* file ownership or mode is unsafe */
    KT_EVERSION = -12,  /* unsupported format or protocol version */
    KT_ECONFIG = -13,   /* configuration is invalid */
    KT_EREPLAY = -14,   /* seen before, or too old */
};

/* Short, stable description of a KT_E* code ("malformed input", ...). */
const char *kt_strerror(int code);

#define KT_DIAG_BYTES 512

typedef struct kt_diag {
    char msg[KT_DIAG_BYTES];
} kt_diag_t;

/* Write a message into d (if d is not NULL); returns code, so callers can
 * write `return kt_diag_set(d, KT_EINVAL, "...")`. */
int kt_diag_set(kt_diag_t *d, int code, const char *fmt, ...) KT_PRINTF(3, 4);

/* Prefix an existing message: "ctx: old message". */
void kt_diag_prefix(kt_diag_t *d, const char *fmt, ...) KT_PRINTF(2, 3);

#endif
