/*
 * fuzz_counts_wire.c - libFuzzer target for the count vector decoder
 * (kt_counts_decode). Must never crash, leak or hang; whatever it accepts
 * must re-encode to exactly the input (one spelling), hold sorted unique
 * buckets within the limits, and an error must always say why.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keten/counts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static kt_counts_set_t s, a;
    static kt_counts_diff_t x;
    uint8_t *buf = NULL;
    size_t len = 0;
    kt_diag_t d = {{0}};

    if (kt_counts_decode(&s, data, size, &d) != 0) {
        if (d.msg[0] == '\0' || s.n != 0)
            abort();
        return 0;
    }
    if (s.n > KT_COUNTS_BUCKETS_MAX)
        abort();
    for (size_t i = 0; i < s.n; i++)
        if ((i > 0 && strcmp(s.b[i - 1].name, s.b[i].name) >= 0) || s.b[i].value < 0 ||
            s.b[i].value > KT_COUNTS_VALUE_MAX || (s.b[i].suppressed && s.b[i].value != 0))
            abort();
    if (kt_counts_encode(&buf, &len, &s, &d) != 0 || len != size || memcmp(buf, data, size) != 0)
        abort();
    kt_counts_free_bytes(buf);
    a = s;
    (void)kt_counts_suppress(&a, 3);
    if (kt_counts_diff(&x, &s, &a, &d) != 0 || x.n != s.n)
        abort();
    return 0;
}
