/*
 * error.c - error code names and diagnostics.
 *
 * Owns the text of each KT_E* code. Must never put input values into a
 * message: callers pass names and positions only.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "keten/error.h"

const char *kt_strerror(int code)
{
    switch (code) {
    case KT_OK:
        return "ok";
    case KT_EMALFORMED:
        return "malformed input";
    case KT_ETOOBIG:
        return "input too large";
    case KT_EAUTH:
        return "authentication failed";
    case KT_EDENIED:
        return "denied by policy";
    case KT_ENOCONSENT:
        return "no consent";
    case KT_EIO:
        return "input/output error";
    case KT_ENOMEM:
        return "out of memory";
    case KT_EINVAL:
        return "invalid value";
    case KT_EEXIST:
        return "already exists";
    case KT_ENOENT:
        return "not found";
    case KT_EPERM:
        return "unsafe file permissions";
    case KT_EVERSION:
        return "unsupported version";
    case KT_ECONFIG:
        return "invalid configuration";
    case KT_EREPLAY:
        return "replayed or expired";
    default:
        return "unknown error";
    }
}

int kt_diag_set(kt_diag_t *d, int code, const char *fmt, ...)
{
    va_list ap;

    if (d == NULL)
        return code;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
    va_end(ap);
    return code;
}

void kt_diag_prefix(kt_diag_t *d, const char *fmt, ...)
{
    char prefix[KT_DIAG_BYTES], old[KT_DIAG_BYTES];
    va_list ap;

    if (d == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, d->msg, sizeof(old));
    /* A message longer than the buffer is cut at the end: the prefix (where
     * the error is) matters more than the tail. */
    if (snprintf(d->msg, sizeof(d->msg), "%s: %s", prefix, old) < 0)
        d->msg[0] = '\0';
}
