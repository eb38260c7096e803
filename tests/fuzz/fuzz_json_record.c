/*
 * fuzz_json_record.c - kt_json_read_records over arbitrary bytes (one JSON
 * record or JSON Lines). Every record handed to the callback must encode.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../client/ketenctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int s_check(void *ctx, size_t recno, kt_record_t **rec)
{
    uint8_t *enc = NULL;
    size_t len = 0;
    kt_diag_t d;

    (void)ctx;
    (void)recno;
    if (kt_record_encode(*rec, &enc, &len, &d) != 0)
        abort(); /* it was validated: it must encode */
    kt_record_free_bytes(enc, len);
    kt_record_destroy(rec);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f;
    kt_diag_t d;

    if (size == 0)
        return 0; /* fmemopen refuses an empty buffer */
    f = fmemopen((void *)data, size, "rb");
    if (f == NULL)
        return 0;
    if (kt_json_read_records(f, "fuzz", s_check, NULL, &d) != 0 &&
        memchr(d.msg, '\0', sizeof(d.msg)) == NULL)
        abort();
    fclose(f);
    return 0;
}
