/*
 * fuzz_receipt.c - kt_receipt_decode on raw bytes (a receipt body arrives
 * from a partner inside a signed envelope). Besides not crashing, anything
 * accepted must be canonical: its re-encoding is the input, byte for byte,
 * and a rejection leaves a terminated diagnostic and a zeroed receipt.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keten/receipt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const kt_receipt_t zero;
    kt_receipt_t r;
    uint8_t *enc = NULL;
    size_t len = 0;
    kt_diag_t d;

    {
        /* retraction bodies share the canonical-encoding module: only the
         * one 22-byte spelling opens, and it encodes back to itself */
        uint8_t ref[KT_RECEIPT_REF_BYTES], again[KT_RETRACT_BYTES];

        if (kt_retract_decode(ref, data, size, &d) == 0) {
            kt_retract_encode(again, ref);
            if (size != KT_RETRACT_BYTES || memcmp(again, data, size) != 0)
                abort();
        }
    }
    if (kt_receipt_decode(&r, data, size, &d) != 0) {
        if (memchr(d.msg, '\0', sizeof(d.msg)) == NULL || memcmp(&r, &zero, sizeof(r)) != 0)
            abort();
        return 0;
    }
    if (kt_receipt_encode(&enc, &len, &r, &d) != 0 || len != size || memcmp(enc, data, size) != 0)
        abort();
    free(enc);
    return 0;
}
