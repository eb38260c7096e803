/*
 * fuzz_frames.c - libFuzzer target for the transport's frame rules
 * (kt_transport_classify), the pure function kt_transport_poll() applies to
 * every message from a partner.
 *
 * Input layout: a sequence of frames, each a 2-byte little-endian length and
 * that many bytes; a short last record takes what is left. At most
 * S_MAX_FRAMES frames are kept, as the poll loop keeps a bounded number; the
 * count passed on is the real one. Beyond "never crash", it checks the
 * contract: accepted means exactly three frames, the protocol id, a known
 * kind and a payload within the limit; refused means KT_EMALFORMED and a
 * reason.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keten/transport.h"

#define S_MAX_FRAMES 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_check(const kt_frame_t *f, size_t n, int rc, kt_kind_t kind, const char *why)
{
    if (rc != 0) {
        if (rc != KT_EMALFORMED || why == NULL)
            abort();
        return;
    }
    if (why != NULL || n != KT_TRANSPORT_FRAMES || f[0].len != 7 ||
        memcmp(f[0].data, KT_TRANSPORT_PROTOCOL, 7) != 0 || kind < KT_KIND_RECORD ||
        kind > KT_KIND_PING || f[1].len != strlen(kt_kind_name(kind)) ||
        memcmp(f[1].data, kt_kind_name(kind), f[1].len) != 0 ||
        f[2].len > KT_TRANSPORT_PAYLOAD_MAX_BYTES || (f[2].len == 0 && kind != KT_KIND_PING))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kt_frame_t f[S_MAX_FRAMES] = {{NULL, 0}};
    size_t n = 0, off = 0;
    kt_kind_t kind = 0;
    const char *why = NULL;
    int rc;

    while (off < size) {
        size_t len = data[off];

        if (off + 1 < size)
            len |= (size_t)data[off + 1] << 8;
        off += off + 1 < size ? 2 : 1;
        if (len > size - off)
            len = size - off;
        if (n < S_MAX_FRAMES) {
            f[n].data = data + off;
            f[n].len = len;
        }
        n++;
        off += len;
    }
    rc = kt_transport_classify(f, n, &kind, &why);
    s_check(f, n, rc, kind, why);
    return 0;
}
