/*
 * fuzz_record_decode.c - kt_record_decode on raw bytes. Besides not
 * crashing, anything accepted must be canonical: its re-encoding is the
 * input, byte for byte (abort otherwise, so the fuzzer reports it).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keten/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kt_record_t *r = NULL;
    uint8_t *enc = NULL;
    size_t len = 0;
    kt_diag_t d;

    if (kt_record_decode(&r, data, size, &d) != 0) {
        if (r != NULL || memchr(d.msg, '\0', sizeof(d.msg)) == NULL)
            abort();
        return 0;
    }
    if (kt_record_encode(r, &enc, &len, &d) != 0 || len != size || memcmp(enc, data, size) != 0)
        abort();
    kt_record_free_bytes(enc, len);
    kt_record_destroy(&r);
    return 0;
}
