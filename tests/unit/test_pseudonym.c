/*
 * test_pseudonym.c - kt_envelope_peer_pseudonym: both nodes of a pair derive
 * the same pseudonym, other pairs an unrelated one, the form is the one the
 * record module accepts, and the value is pinned by a known answer computed
 * here from the definition with libsodium directly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "keten/envelope.h"

static kt_keys_t *s_keys(const char *id, kt_role_t role, uint8_t fill)
{
    uint8_t seed[KT_SEED_BYTES];
    kt_keys_t *k = NULL;

    memset(seed, fill, sizeof(seed));
    assert_int_equal(kt_keys_from_seed(&k, id, role, seed, NULL), 0);
    return k;
}

static void s_pair(kt_envelope_peer_t **p, const kt_keys_t *me, const kt_keys_t *them)
{
    assert_int_equal(kt_envelope_peer_new(p, me, kt_keys_public(them), NULL), 0);
}

/* The definition, spelled out independently of envelope.c. */
static void s_expected(char out[KT_PSEUDONYM_BYTES], const kt_keys_t *me, const kt_keys_t *them,
                       const char *id)
{
    static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
    uint8_t shared[crypto_box_BEFORENMBYTES], k[32], h[16];
    size_t i;

    assert_int_equal(crypto_box_beforenm(shared, kt_keys_public(them)->box_pk, kt_keys_box_sk(me)), 0);
    crypto_generichash(k, 32, (const uint8_t *)"keten-pseudonym-v1", 18, shared, sizeof(shared));
    crypto_generichash(h, 16, (const uint8_t *)id, strlen(id), k, 32);
    memcpy(out, "ps-", 3);
    for (i = 0; i < 26; i++) { /* bit i*5 .. i*5+4 of h, big-endian */
        size_t bit = i * 5;
        unsigned v = 0, j;

        for (j = 0; j < 5; j++, bit++)
            v = (v << 1) | (bit < 128 ? (h[bit / 8] >> (7 - bit % 8)) & 1u : 0u);
        out[3 + i] = b32[v];
    }
    out[29] = '\0';
}

static void test_pair_agrees_and_others_differ(void **state)
{
    kt_keys_t *a = s_keys("school-a", KT_ROLE_SCHOOL, 1), *b = s_keys("swv-b", KT_ROLE_SWV, 2),
              *c = s_keys("gemeente-c", KT_ROLE_GEMEENTE, 3);
    kt_envelope_peer_t *ab = NULL, *ba = NULL, *ac = NULL;
    char p1[KT_PSEUDONYM_BYTES], p2[KT_PSEUDONYM_BYTES], p3[KT_PSEUDONYM_BYTES],
        want[KT_PSEUDONYM_BYTES];

    (void)state;
    s_pair(&ab, a, b);
    s_pair(&ba, b, a);
    s_pair(&ac, a, c);
    assert_int_equal(kt_envelope_peer_pseudonym(p1, ab, "111222333"), 0);
    assert_int_equal(kt_envelope_peer_pseudonym(p2, ba, "111222333"), 0);
    assert_int_equal(kt_envelope_peer_pseudonym(p3, ac, "111222333"), 0);
    assert_string_equal(p1, p2);
    assert_string_not_equal(p1, p3);
    s_expected(want, a, b, "111222333");
    assert_string_equal(p1, want);
    assert_true(kt_record_is_pseudonym(p1));
    assert_int_equal(kt_record_pupil_id_form(p1), KT_PUPIL_ID_PSEUDONYM);
    /* another pupil, another pseudonym; an onderwijsnummer works too */
    assert_int_equal(kt_envelope_peer_pseudonym(p3, ab, "109000025"), 0);
    assert_string_not_equal(p1, p3);
    /* a pseudonym or junk is refused */
    assert_int_equal(kt_envelope_peer_pseudonym(p3, ab, p1), KT_EINVAL);
    assert_int_equal(kt_envelope_peer_pseudonym(p3, ab, "111222334"), KT_EINVAL);
    assert_string_equal(p3, "");
    kt_envelope_peer_destroy(&ab);
    kt_envelope_peer_destroy(&ba);
    kt_envelope_peer_destroy(&ac);
    kt_keys_destroy(&a);
    kt_keys_destroy(&b);
    kt_keys_destroy(&c);
}

static void test_record_accepts_the_pseudonym(void **state)
{
    kt_keys_t *a = s_keys("school-a", KT_ROLE_SCHOOL, 1), *b = s_keys("swv-b", KT_ROLE_SWV, 2);
    kt_envelope_peer_t *ab = NULL;
    char ps[KT_PSEUDONYM_BYTES];
    kt_record_t *r = NULL;

    (void)state;
    s_pair(&ab, a, b);
    assert_int_equal(kt_envelope_peer_pseudonym(ps, ab, "111222333"), 0);
    assert_int_equal(kt_record_new(&r, "thuiszitter", NULL), 0);
    assert_int_equal(kt_record_set_text(r, "leerling_id", ps, NULL), 0);
    assert_string_equal(kt_record_leerling_id(r), ps);
    kt_record_destroy(&r);
    kt_envelope_peer_destroy(&ab);
    kt_keys_destroy(&a);
    kt_keys_destroy(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pair_agrees_and_others_differ),
        cmocka_unit_test(test_record_accepts_the_pseudonym),
    };

    if (kt_keys_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
