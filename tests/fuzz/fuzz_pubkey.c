/*
 * fuzz_pubkey.c - libFuzzer target for kt_keys_parse_public, the strict
 * parser of .pub text that partners exchange.
 *
 * A parsed key must have a valid id and role, and its fingerprint must be
 * computable; anything else is refused without a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keten/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    char fp[KT_FINGERPRINT_HEX];
    kt_pubkey_t pk;
    kt_diag_t d;

    if (!inited) {
        if (kt_keys_init() != 0)
            abort();
        inited = 1;
    }
    if (kt_keys_parse_public(&pk, (const char *)data, size, &d) == 0) {
        if (!kt_keys_valid_id(pk.id) || strcmp(kt_role_name(pk.role), "unknown") == 0)
            abort();
        kt_keys_fingerprint(fp, &pk);
        if (strlen(fp) != KT_FINGERPRINT_HEX - 1)
            abort();
    }
    return 0;
}
