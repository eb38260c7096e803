/*
 * fuzz_envelope_open.c - libFuzzer target for everything that reads
 * envelope bytes: kt_envelope_open (sealed envelopes from a fixed peer),
 * kt_envelope_verify (signed containers), and the payload decoder behind a
 * valid signature (the input re-signed with kt_envelope_sign_raw).
 *
 * Keys are the known-answer vector's (seeds 00..1f and 20..3f), so the seed
 * corpus's valid envelope opens. The first input byte picks the path; the
 * other paths also see every input, so a plain envelope file works too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keten/envelope.h"
#include "keten/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static kt_keys_t *s_sender, *s_recipient;
static kt_envelope_peer_t *s_peer; /* the recipient's view of the sender */

static void s_init(void)
{
    uint8_t seed[KT_SEED_BYTES];
    size_t i;

    if (kt_keys_init() != 0)
        abort();
    for (i = 0; i < sizeof(seed); i++)
        seed[i] = (uint8_t)i;
    if (kt_keys_from_seed(&s_sender, "school-a", KT_ROLE_SCHOOL, seed, NULL) != 0)
        abort();
    for (i = 0; i < sizeof(seed); i++)
        seed[i] = (uint8_t)(0x20 + i);
    if (kt_keys_from_seed(&s_recipient, "gemeente-b", KT_ROLE_GEMEENTE, seed, NULL) != 0 ||
        kt_envelope_peer_new(&s_peer, s_recipient, kt_keys_public(s_sender), NULL) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kt_payload_t pl;
    kt_diag_t d;
    uint8_t *out = NULL;
    size_t outlen = 0;

    if (s_peer == NULL)
        s_init();
    if (kt_envelope_open(&out, &outlen, &pl, data, size, s_peer, &d) == 0) {
        /* what opened must verify again and be addressed to us */
        if (kt_envelope_verify(&pl, out, outlen, kt_keys_public(s_sender), &d) != 0 ||
            strcmp(pl.to, "gemeente-b") != 0 || pl.body < out || pl.body + pl.body_len > out + outlen)
            abort();
        kt_envelope_free(out, outlen);
    }
    if (kt_envelope_verify(&pl, data, size, kt_keys_public(s_sender), &d) == 0 &&
        (pl.body < data || pl.body + pl.body_len > data + size))
        abort();
    /* the unverified parse (own containers) bounds everything it hands back */
    if (kt_envelope_parse(&pl, data, size, &d) == 0 &&
        (pl.body < data || pl.body + pl.body_len > data + size))
        abort();
    /* reach the payload decoder behind a valid signature */
    if (size > 0 && size <= 4096 && (data[0] & 1) &&
        kt_envelope_sign_raw(&out, &outlen, data + 1, size - 1, s_sender, &d) == 0) {
        if (kt_envelope_verify(&pl, out, outlen, kt_keys_public(s_sender), &d) == 0 &&
            (pl.body < out || pl.body + pl.body_len > out + outlen))
            abort();
        kt_envelope_free(out, outlen);
    }
    return 0;
}
