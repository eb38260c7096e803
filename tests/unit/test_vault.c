/*
 * test_vault.c - payloads at rest: round trip, the exact locked format,
 * every byte flipped, another row's AD, another node's key, the digest and
 * the random helper.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keten/vault.h"

static const uint8_t s_plain[] = "signed record bytes, 999990044";
static const uint8_t s_ad[] =
    "outbox\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10"
    "gemeente-b";

struct fx {
    kt_keys_t *k1, *k2;
    kt_vault_t *v1, *v2;
};

static int s_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    kt_diag_t d;

    if (f == NULL || kt_keys_generate(&f->k1, "school-a", KT_ROLE_SCHOOL, &d) != 0 ||
        kt_keys_generate(&f->k2, "swv-b", KT_ROLE_SWV, &d) != 0 ||
        kt_vault_new(&f->v1, f->k1, &d) != 0 || kt_vault_new(&f->v2, f->k2, &d) != 0)
        return -1;
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    struct fx *f = *state;

    kt_vault_destroy(&f->v1);
    kt_vault_destroy(&f->v2);
    kt_vault_destroy(&f->v2); /* idempotent */
    assert_null(f->v1);
    kt_keys_destroy(&f->k1);
    kt_keys_destroy(&f->k2);
    free(f);
    return 0;
}

static void s_lock(const kt_vault_t *v, uint8_t **out, size_t *len)
{
    kt_diag_t d;

    assert_int_equal(
        kt_vault_lock(out, len, s_plain, sizeof(s_plain), s_ad, sizeof(s_ad) - 1, v, &d), 0);
}

static void test_round_trip(void **state)
{
    struct fx *f = *state;
    uint8_t *locked = NULL, *locked2 = NULL, *plain = NULL;
    size_t len = 0, len2 = 0, plen = 0;
    kt_diag_t d;

    s_lock(f->v1, &locked, &len);
    assert_int_equal(len, sizeof(s_plain) + KT_VAULT_OVERHEAD_BYTES);
    assert_int_equal(locked[0], KT_VAULT_VERSION);
    assert_null(memmem(locked, len, "999990044", 9)); /* no plaintext at rest */
    assert_int_equal(kt_vault_unlock(&plain, &plen, locked, len, s_ad, sizeof(s_ad) - 1, f->v1, &d),
                     0);
    assert_int_equal(plen, sizeof(s_plain));
    assert_memory_equal(plain, s_plain, plen);
    kt_vault_free(plain, plen);
    /* a fresh nonce each time: the same input never locks the same way */
    s_lock(f->v1, &locked2, &len2);
    assert_int_equal(len2, len);
    assert_memory_not_equal(locked + 1, locked2 + 1, 24);
    kt_vault_free(locked, len);
    kt_vault_free(locked2, len2);
    kt_vault_free(NULL, 0);
}

static void test_empty_payload(void **state)
{
    struct fx *f = *state;
    uint8_t *locked = NULL, *plain = NULL;
    size_t len = 0, plen = 99;
    kt_diag_t d;

    assert_int_equal(kt_vault_lock(&locked, &len, NULL, 0, NULL, 0, f->v1, &d), 0);
    assert_int_equal(len, KT_VAULT_OVERHEAD_BYTES);
    assert_int_equal(kt_vault_unlock(&plain, &plen, locked, len, NULL, 0, f->v1, &d), 0);
    assert_int_equal(plen, 0);
    kt_vault_free(plain, plen);
    kt_vault_free(locked, len);
}

static void test_every_byte_flipped(void **state)
{
    struct fx *f = *state;
    uint8_t *locked = NULL, *plain = NULL;
    size_t len = 0, plen = 0, i;
    kt_diag_t d;

    s_lock(f->v1, &locked, &len);
    for (i = 0; i < len; i++) {
        locked[i] ^= 0x01;
        assert_int_equal(
            kt_vault_unlock(&plain, &plen, locked, len, s_ad, sizeof(s_ad) - 1, f->v1, &d),
            i == 0 ? KT_EVERSION : KT_EAUTH);
        assert_null(plain);
        assert_int_equal(plen, 0);
        locked[i] ^= 0x01;
    }
    assert_int_equal(kt_vault_unlock(&plain, &plen, locked, len, s_ad, sizeof(s_ad) - 1, f->v1, &d),
                     0);
    kt_vault_free(plain, plen);
    kt_vault_free(locked, len);
}

static void test_truncated(void **state)
{
    struct fx *f = *state;
    uint8_t *locked = NULL, *plain = NULL;
    size_t len = 0, plen = 0, n;
    kt_diag_t d;

    s_lock(f->v1, &locked, &len);
    assert_int_equal(kt_vault_unlock(&plain, &plen, locked, 0, s_ad, sizeof(s_ad) - 1, f->v1, &d),
                     KT_EMALFORMED);
    for (n = 1; n < KT_VAULT_OVERHEAD_BYTES; n++)
        assert_int_equal(
            kt_vault_unlock(&plain, &plen, locked, n, s_ad, sizeof(s_ad) - 1, f->v1, &d),
            KT_EMALFORMED);
    assert_string_equal(d.msg, "stored payload is truncated");
    for (; n < len; n++)
        assert_int_equal(
            kt_vault_unlock(&plain, &plen, locked, n, s_ad, sizeof(s_ad) - 1, f->v1, &d), KT_EAUTH);
    assert_null(plain);
    kt_vault_free(locked, len);
}

static void test_wrong_ad(void **state)
{
    struct fx *f = *state;
    uint8_t *locked = NULL, *plain = NULL, ad[sizeof(s_ad) - 1];
    size_t len = 0, plen = 0;
    kt_diag_t d;

    s_lock(f->v1, &locked, &len);
    memcpy(ad, s_ad, sizeof(ad));
    ad[sizeof(ad) - 1] = 'c'; /* another partner: the row was moved */
    assert_int_equal(kt_vault_unlock(&plain, &plen, locked, len, ad, sizeof(ad), f->v1, &d),
                     KT_EAUTH);
    assert_string_equal(d.msg, "stored payload does not authenticate (altered, moved to another "
                               "row, or another node's key)");
    assert_int_equal(kt_vault_unlock(&plain, &plen, locked, len, ad, sizeof(ad) - 1, f->v1, &d),
                     KT_EAUTH);
    assert_int_equal(kt_vault_unlock(&plain, &plen, locked, len, NULL, 0, f->v1, &d), KT_EAUTH);
    assert_null(plain);
    kt_vault_free(locked, len);
}

static void test_other_node(void **state)
{
    struct fx *f = *state;
    uint8_t *locked = NULL, *plain = NULL;
    size_t len = 0, plen = 0;
    kt_vault_t *again = NULL;
    kt_diag_t d;

    s_lock(f->v1, &locked, &len);
    assert_int_equal(kt_vault_unlock(&plain, &plen, locked, len, s_ad, sizeof(s_ad) - 1, f->v2, &d),
                     KT_EAUTH);
    assert_null(plain);
    /* the key is derived from the node key alone: a restart reads it back */
    assert_int_equal(kt_vault_new(&again, f->k1, &d), 0);
    assert_int_equal(kt_vault_unlock(&plain, &plen, locked, len, s_ad, sizeof(s_ad) - 1, again, &d),
                     0);
    assert_memory_equal(plain, s_plain, sizeof(s_plain));
    kt_vault_free(plain, plen);
    kt_vault_destroy(&again);
    kt_vault_free(locked, len);
}

static void test_version(void **state)
{
    struct fx *f = *state;
    uint8_t *locked = NULL, *plain = NULL;
    size_t len = 0, plen = 0;
    kt_diag_t d;

    s_lock(f->v1, &locked, &len);
    locked[0] = 2;
    assert_int_equal(kt_vault_unlock(&plain, &plen, locked, len, s_ad, sizeof(s_ad) - 1, f->v1, &d),
                     KT_EVERSION);
    /* version 2 is a subject-key payload: never tried under the node key */
    assert_string_equal(d.msg, "stored payload is locked under a subject key (format version 2), "
                               "not the node's store key");
    locked[0] = 3;
    assert_int_equal(kt_vault_unlock(&plain, &plen, locked, len, s_ad, sizeof(s_ad) - 1, f->v1, &d),
                     KT_EVERSION);
    assert_string_equal(d.msg, "stored payload has format version 3 (this keten reads 1 and 2)");
    locked[0] = 0;
    assert_int_equal(kt_vault_unlock(&plain, &plen, locked, 1, s_ad, sizeof(s_ad) - 1, f->v1, &d),
                     KT_EVERSION);
    kt_vault_free(locked, len);
}

/* Known answers: BLAKE2b-256 (RFC 7693, unkeyed, 32-byte output) of "" and "abc". */
static void test_digest(void **state)
{
    static const uint8_t empty[32] = {0x0e, 0x57, 0x51, 0xc0, 0x26, 0xe5, 0x43, 0xb2,
                                      0xe8, 0xab, 0x2e, 0xb0, 0x60, 0x99, 0xda, 0xa1,
                                      0xd1, 0xe5, 0xdf, 0x47, 0x77, 0x8f, 0x77, 0x87,
                                      0xfa, 0xab, 0x45, 0xcd, 0xf1, 0x2f, 0xe3, 0xa8};
    static const uint8_t abc[32] = {0xbd, 0xdd, 0x81, 0x3c, 0x63, 0x42, 0x39, 0x72,
                                    0x31, 0x71, 0xef, 0x3f, 0xee, 0x98, 0x57, 0x9b,
                                    0x94, 0x96, 0x4e, 0x3b, 0xb1, 0xcb, 0x3e, 0x42,
                                    0x72, 0x62, 0xc8, 0xc0, 0x68, 0xd5, 0x23, 0x19};
    uint8_t out[32];

    (void)state;
    kt_vault_digest(out, (const uint8_t *)"", 0);
    assert_memory_equal(out, empty, 32);
    kt_vault_digest(out, (const uint8_t *)"abc", 3);
    assert_memory_equal(out, abc, 32);
}

static void test_random(void **state)
{
    uint32_t seen[10] = {0}, v;
    int i;

    (void)state;
    assert_int_equal(kt_vault_random(0), 0);
    assert_int_equal(kt_vault_random(1), 0);
    for (i = 0; i < 2000; i++) {
        v = kt_vault_random(10);
        assert_true(v < 10);
        seen[v]++;
    }
    for (i = 0; i < 10; i++)
        assert_true(seen[i] > 0);
}

/* More live subject keys than the pool has slots (vault.c keeps 64 in one
 * protected region, the rest in regions of their own): each is its own
 * key, opens only what it locked, and slots are reused once destroyed. */
static void test_many_subject_keys(void **state)
{
    static const uint8_t plain[] = "aanwezigheid 40", ad[] = "ad";
    kt_vault_key_t *k[100];
    uint8_t *locked[100], *out = NULL;
    size_t llen[100], olen = 0, i, round;
    kt_diag_t d;

    (void)state;
    for (round = 0; round < 2; round++) {
        for (i = 0; i < 100; i++) {
            assert_int_equal(kt_vault_key_generate(&k[i], &d), 0);
            assert_int_equal(kt_vault_lock_subject(&locked[i], &llen[i], plain, sizeof(plain), ad,
                                                   sizeof(ad), k[i], &d),
                             0);
        }
        for (i = 0; i < 100; i++) {
            assert_int_equal(
                kt_vault_unlock_subject(&out, &olen, locked[i], llen[i], ad, sizeof(ad), k[i], &d),
                0);
            assert_memory_equal(out, plain, sizeof(plain));
            kt_vault_free(out, olen);
            /* another pupil's key does not open it */
            assert_int_equal(kt_vault_unlock_subject(&out, &olen, locked[i], llen[i], ad,
                                                     sizeof(ad), k[(i + 1) % 100], &d),
                             KT_EAUTH);
        }
        for (i = 0; i < 100; i++) {
            kt_vault_key_destroy(&k[i]);
            assert_null(k[i]);
            kt_vault_key_destroy(&k[i]); /* idempotent */
            kt_vault_free(locked[i], llen[i]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_empty_payload),
        cmocka_unit_test(test_every_byte_flipped),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_wrong_ad),
        cmocka_unit_test(test_other_node),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_digest),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_many_subject_keys),
    };

    if (kt_keys_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
