/*
 * fuzz_psi_wire.c - kt_psi_wire_decode on raw bytes (a PSI body arrives
 * from a partner inside a signed envelope). Besides not crashing, anything
 * accepted must be canonical (its re-encoding is the input, byte for byte)
 * and must be a part a fresh collector takes; a rejection leaves a
 * terminated diagnostic and a zeroed message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keten/psi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const kt_psi_msg_t zero;
    kt_psi_collect_t *c = NULL;
    kt_psi_msg_t m;
    uint8_t *enc = NULL;
    size_t len = 0;
    kt_diag_t d;

    if (kt_psi_wire_decode(&m, data, size, &d) != 0) {
        if (memchr(d.msg, '\0', sizeof(d.msg)) == NULL || memcmp(&m, &zero, sizeof(m)) != 0)
            abort();
        return 0;
    }
    if (m.npts && (m.pts < data || m.pts + m.npts * KT_PSI_POINT_BYTES > data + size))
        abort();
    if (kt_psi_wire_encode(&enc, &len, &m, &d) != 0 || len != size || memcmp(enc, data, size) != 0)
        abort();
    free(enc);
    if (kt_psi_collect_new(&c) != 0)
        return 0;
    if (kt_psi_collect_add(c, &m, &d) != 0 || kt_psi_collect_done(c) != (m.parts == 1))
        abort();
    kt_psi_collect_destroy(&c);
    return 0;
}
