/*
 * test_psi.c - the PSI group operations (daemon/psi.c): RFC 9496 Appendix A
 * against libsodium, keten's own known answers (tests/vectors/psi/, also
 * recomputed by the pure-Python verify.py), results equal to plain set
 * arithmetic in both modes and with one and two threads, and every way a
 * partner's points can be wrong, each with its code and message. Run from
 * the repository root, as tests/run.sh does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "keten/psi.h"

#define VEC "tests/vectors/psi/"
#define PB KT_PSI_POINT_BYTES

static void unhex(uint8_t *out, size_t n, const char *hex)
{
    size_t bin = 0;

    assert_int_equal(strlen(hex), 2 * n);
    assert_int_equal(sodium_hex2bin(out, n, hex, 2 * n, NULL, &bin, NULL), 0);
    assert_int_equal(bin, n);
}

/* Non-comment lines of a vector file, split on spaces; returns the count. */
static size_t read_rows(const char *path, char rows[][5][160], size_t max)
{
    FILE *f = fopen(path, "r");
    char line[512];
    size_t n = 0;

    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        char *tok, *save = NULL;
        int k = 0;

        if (line[0] == '#' || line[0] == '\n')
            continue;
        assert_true(n < max);
        memset(rows[n], 0, sizeof(rows[n]));
        for (tok = strtok_r(line, " \n", &save); tok && k < 5; tok = strtok_r(NULL, " \n", &save))
            snprintf(rows[n][k++], sizeof(rows[n][0]), "%s", tok);
        n++;
    }
    fclose(f);
    return n;
}

static char g_rows[64][5][160];

/* ---- RFC 9496 Appendix A, against libsodium ---- */

static void test_rfc9496_generator(void **state)
{
    uint8_t want[PB], got[PB], k[KT_PSI_SCALAR_BYTES];
    size_t n = read_rows(VEC "rfc9496-a1-generator.txt", g_rows, 64), i;

    (void)state;
    assert_int_equal(n, 16);
    for (i = 0; i < n; i++) {
        assert_int_equal(atoi(g_rows[i][0]), (int)i);
        unhex(want, PB, g_rows[i][1]);
        if (i == 0) {
            assert_true(sodium_is_zero(want, PB)); /* the identity */
            continue;
        }
        memset(k, 0, sizeof(k));
        k[0] = (uint8_t)i;
        assert_int_equal(crypto_scalarmult_ristretto255_base(got, k), 0);
        assert_memory_equal(got, want, PB);
    }
}

static void test_rfc9496_addition(void **state)
{
    uint8_t b[PB], acc[PB], want[PB];
    size_t n = read_rows(VEC "rfc9496-a1-generator.txt", g_rows, 64), i;

    (void)state;
    unhex(b, PB, g_rows[1][1]);
    memcpy(acc, b, PB);
    for (i = 2; i < n; i++) { /* B[i+1] = B[i] + B[1] */
        assert_int_equal(crypto_core_ristretto255_add(acc, acc, b), 0);
        unhex(want, PB, g_rows[i][1]);
        assert_memory_equal(acc, want, PB);
    }
}

static void test_rfc9496_invalid(void **state)
{
    uint8_t pt[PB], out[PB];
    size_t n = read_rows(VEC "rfc9496-a2-invalid.txt", g_rows, 64), i;
    kt_psi_t *s = NULL;
    kt_diag_t d = {""};

    (void)state;
    assert_int_equal(n, 29);
    assert_int_equal(kt_psi_new(&s), 0);
    for (i = 0; i < n; i++) {
        unhex(pt, PB, g_rows[i][0]);
        assert_int_equal(crypto_core_ristretto255_is_valid_point(pt), 0);
        assert_int_equal(kt_psi_reblind(s, out, pt, 1, 1, 1, &d), KT_EMALFORMED);
        assert_string_equal(d.msg, "psi: point 0 is not a canonical ristretto255 encoding");
    }
    kt_psi_destroy(&s);
}

static void test_rfc9496_from_hash(void **state)
{
    uint8_t in[64], want[PB], got[PB];
    size_t n = read_rows(VEC "rfc9496-a3-from-hash.txt", g_rows, 64), i;

    (void)state;
    assert_int_equal(n, 11);
    for (i = 0; i < n; i++) {
        unhex(in, sizeof(in), g_rows[i][0]);
        unhex(want, PB, g_rows[i][1]);
        assert_int_equal(crypto_core_ristretto255_from_hash(got, in), 0);
        assert_memory_equal(got, want, PB);
    }
}

/* ---- keten's own known answers ---- */

static void test_keten_vectors(void **state)
{
    uint8_t ka[KT_PSI_SCALAR_BYTES], kb[KT_PSI_SCALAR_BYTES], h[8][PB], ha[8][PB], hab[8][PB];
    uint8_t got[8 * PB], blinded[8 * PB];
    const char *ids[8];
    uint32_t perm[8];
    size_t n = read_rows(VEC "keten-psi.txt", g_rows, 64), i, nid = 0;
    kt_psi_t *a = NULL, *b = NULL;
    kt_diag_t d = {""};

    (void)state;
    for (i = 0; i < n; i++) {
        if (strcmp(g_rows[i][0], "scalar_a") == 0) {
            unhex(ka, sizeof(ka), g_rows[i][1]);
        } else if (strcmp(g_rows[i][0], "scalar_b") == 0) {
            unhex(kb, sizeof(kb), g_rows[i][1]);
        } else {
            assert_string_equal(g_rows[i][0], "id");
            assert_true(nid < 8);
            ids[nid] = g_rows[i][1];
            unhex(h[nid], PB, g_rows[i][2]);
            unhex(ha[nid], PB, g_rows[i][3]);
            unhex(hab[nid], PB, g_rows[i][4]);
            nid++;
        }
    }
    assert_int_equal(nid, 5);
    assert_int_equal(kt_psi_new_with_scalar(&a, ka), 0);
    assert_int_equal(kt_psi_new_with_scalar(&b, kb), 0);
    for (i = 0; i < nid; i++) {
        assert_int_equal(kt_psi_hash_to_group(got, ids[i], strlen(ids[i])), 0);
        assert_memory_equal(got, h[i], PB);
        assert_int_equal(kt_psi_reblind(a, got, got, 1, 1, 1, &d), 0);
        assert_memory_equal(got, ha[i], PB);
        assert_int_equal(kt_psi_reblind(b, got, got, 1, 1, 1, &d), 0);
        assert_memory_equal(got, hab[i], PB);
    }
    /* blinding the whole list: the same values, in the order of perm */
    assert_int_equal(kt_psi_blind(a, blinded, perm, ids, nid, 1, &d), 0);
    for (i = 0; i < nid; i++)
        assert_memory_equal(blinded + i * PB, ha[perm[i]], PB);
    /* and order kept by the second blinding */
    assert_int_equal(kt_psi_reblind(b, got, blinded, nid, 1, 1, &d), 0);
    for (i = 0; i < nid; i++)
        assert_memory_equal(got + i * PB, hab[perm[i]], PB);
    kt_psi_destroy(&a);
    kt_psi_destroy(&b);
}

static void test_scalar_and_id_rules(void **state)
{
    uint8_t k[KT_PSI_SCALAR_BYTES] = {0}, out[PB];
    /* l = 2^252 + 27742317777372353535851937790883648493, little-endian */
    static const uint8_t l[KT_PSI_SCALAR_BYTES] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
                                                   0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
                                                   0,    0,    0,    0,    0,    0,    0,    0,
                                                   0,    0,    0,    0,    0,    0,    0,    0x10};
    char longid[KT_PSI_ID_MAX + 2];
    kt_psi_t *s = NULL;

    (void)state;
    assert_int_equal(kt_psi_new_with_scalar(&s, k), KT_EINVAL); /* zero */
    assert_null(s);
    assert_int_equal(kt_psi_new_with_scalar(&s, l), KT_EINVAL); /* not reduced */
    assert_null(s);
    k[0] = 1;
    assert_int_equal(kt_psi_new_with_scalar(&s, k), 0);
    kt_psi_destroy(&s);
    assert_null(s);
    kt_psi_destroy(&s); /* idempotent */
    kt_psi_destroy(NULL);

    memset(longid, 'x', sizeof(longid));
    longid[sizeof(longid) - 1] = '\0';
    assert_int_equal(kt_psi_hash_to_group(out, "", 0), KT_EINVAL);
    assert_int_equal(kt_psi_hash_to_group(out, longid, KT_PSI_ID_MAX + 1), KT_EINVAL);
    assert_int_equal(kt_psi_hash_to_group(out, longid, KT_PSI_ID_MAX), 0);
}

static void test_blind_rules(void **state)
{
    const char *dup[] = {"1001", "1002", "1003", "1002"};
    const char *empty[] = {"1001", ""};
    char longid[KT_PSI_ID_MAX + 2];
    const char *toolong[] = {"1001", "1002", longid};
    uint8_t out[4 * PB];
    uint32_t perm[4];
    kt_psi_t *s = NULL;
    kt_diag_t d = {""};

    (void)state;
    memset(longid, '7', sizeof(longid));
    longid[sizeof(longid) - 1] = '\0';
    assert_int_equal(kt_psi_new(&s), 0);
    assert_int_equal(kt_psi_blind(s, out, perm, dup, 4, 1, &d), KT_EINVAL);
    assert_string_equal(d.msg, "psi: id 3 repeats id 1");
    assert_int_equal(kt_psi_blind(s, out, perm, empty, 2, 1, &d), KT_EINVAL);
    assert_string_equal(d.msg, "psi: id 1 is empty");
    assert_int_equal(kt_psi_blind(s, out, perm, toolong, 3, 1, &d), KT_EINVAL);
    assert_string_equal(d.msg, "psi: id 2 is longer than 64 bytes");
    assert_int_equal(kt_psi_blind(s, out, perm, dup, KT_PSI_MAX_IDS + 1, 1, &d), KT_ETOOBIG);
    assert_string_equal(d.msg, "psi: 100001 ids; a list may hold at most 100000");
    kt_psi_destroy(&s);
}

/* ---- results equal plain set arithmetic ---- */

static char **make_ids(size_t first, size_t n)
{
    char **ids = calloc(n ? n : 1, sizeof(*ids));
    size_t i;

    assert_non_null(ids);
    for (i = 0; i < n; i++)
        assert_true(asprintf(&ids[i], "%09zu", 100000000 + 13 * (first + i)) > 0);
    return ids;
}

static void free_ids(char **ids, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

/* X = [0, nx), Y = [nx - overlap, nx - overlap + ny): both sides, all steps */
static void run_psi(size_t nx, size_t ny, size_t overlap, kt_psi_mode_t mode, unsigned threads)
{
    int keep = mode == KT_PSI_MEMBERSHIP;
    char **x = make_ids(0, nx), **y = make_ids(nx - overlap, ny);
    uint8_t *a1 = malloc(nx * PB + 1), *a2 = malloc(nx * PB + 1), *b1 = malloc(ny * PB + 1),
            *b2 = malloc(ny * PB + 1);
    uint32_t *pa = malloc(nx * 4 + 4), *pb = malloc(ny * 4 + 4);
    kt_psi_t *sa = NULL, *sb = NULL;
    kt_psi_result_t ra, rb;
    kt_diag_t d = {""};
    size_t i;

    assert_true(a1 && a2 && b1 && b2 && pa && pb);
    assert_int_equal(kt_psi_new(&sa), 0);
    assert_int_equal(kt_psi_new(&sb), 0);
    assert_int_equal(kt_psi_blind(sa, a1, pa, (const char *const *)x, nx, threads, &d), 0);
    assert_int_equal(kt_psi_reblind(sb, a2, a1, nx, keep, threads, &d), 0);
    assert_int_equal(kt_psi_blind(sb, b1, pb, (const char *const *)y, ny, threads, &d), 0);
    assert_int_equal(kt_psi_reblind(sa, b2, b1, ny, keep, threads, &d), 0);
    assert_int_equal(kt_psi_compare(&ra, a2, nx, keep ? pa : NULL, b2, ny, &d), 0);
    assert_int_equal(kt_psi_compare(&rb, b2, ny, keep ? pb : NULL, a2, nx, &d), 0);

    assert_int_equal(ra.own, nx);
    assert_int_equal(ra.theirs, ny);
    assert_int_equal(ra.both, overlap);
    assert_int_equal(ra.only_own, nx - overlap);
    assert_int_equal(ra.only_theirs, ny - overlap);
    assert_int_equal(rb.own, ny);
    assert_int_equal(rb.theirs, nx);
    assert_int_equal(rb.both, overlap);
    assert_int_equal(rb.only_own, ny - overlap);
    assert_int_equal(rb.only_theirs, nx - overlap);
    if (keep) {
        assert_non_null(ra.in_theirs);
        assert_non_null(rb.in_theirs);
        for (i = 0; i < nx; i++) /* x[i] is in Y exactly when i >= nx - overlap */
            assert_int_equal(ra.in_theirs[i], i >= nx - overlap);
        for (i = 0; i < ny; i++) /* y[i] is in X exactly when i < overlap */
            assert_int_equal(rb.in_theirs[i], i < overlap);
    } else {
        assert_null(ra.in_theirs);
        assert_null(rb.in_theirs);
    }
    kt_psi_result_clear(&ra);
    kt_psi_result_clear(&rb);
    kt_psi_destroy(&sa);
    kt_psi_destroy(&sb);
    free(a1);
    free(a2);
    free(b1);
    free(b2);
    free(pa);
    free(pb);
    free_ids(x, nx);
    free_ids(y, ny);
}

static void test_sets_equal_plain_arithmetic(void **state)
{
    static const struct {
        size_t nx, ny, overlap;
    } cases[] = {
        {0, 0, 0},       {0, 5, 0},
        {5, 0, 0},       {1, 1, 0},
        {1, 1, 1},       {300, 200, 0},
        {300, 200, 100}, /* 50 % of Y */ {200, 200, 200}, /* 100 % */
        {400, 400, 200},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_psi(cases[i].nx, cases[i].ny, cases[i].overlap, KT_PSI_MEMBERSHIP, 1);
        run_psi(cases[i].nx, cases[i].ny, cases[i].overlap, KT_PSI_CARDINALITY, 1);
        run_psi(cases[i].nx, cases[i].ny, cases[i].overlap, KT_PSI_MEMBERSHIP, 2);
        run_psi(cases[i].nx, cases[i].ny, cases[i].overlap, KT_PSI_CARDINALITY, 2);
    }
}

/* the order of a cardinality answer says nothing: same set, other order */
static void test_cardinality_shuffles(void **state)
{
    char **x = make_ids(0, 64);
    uint8_t a1[64 * PB], kept[64 * PB], shuffled[64 * PB];
    uint32_t perm[64];
    kt_psi_t *sa = NULL, *sb = NULL;
    kt_psi_result_t r;
    kt_diag_t d = {""};

    (void)state;
    assert_int_equal(kt_psi_new(&sa), 0);
    assert_int_equal(kt_psi_new(&sb), 0);
    assert_int_equal(kt_psi_blind(sa, a1, perm, (const char *const *)x, 64, 1, &d), 0);
    assert_int_equal(kt_psi_reblind(sb, kept, a1, 64, 1, 1, &d), 0);
    assert_int_equal(kt_psi_reblind(sb, shuffled, a1, 64, 0, 1, &d), 0);
    assert_memory_not_equal(kept, shuffled, sizeof(kept)); /* 1 in 64! to fail */
    assert_int_equal(kt_psi_compare(&r, kept, 64, NULL, shuffled, 64, &d), 0);
    assert_int_equal(r.both, 64);
    kt_psi_result_clear(&r);
    kt_psi_destroy(&sa);
    kt_psi_destroy(&sb);
    free_ids(x, 64);
}

/* ---- a malicious partner ---- */

static uint8_t *good_points(size_t n)
{
    uint8_t *p = malloc(n * PB);
    size_t i;

    assert_non_null(p);
    for (i = 0; i < n; i++)
        crypto_core_ristretto255_random(p + i * PB);
    return p;
}

static void test_refuses_bad_points(void **state)
{
    const size_t n = 300;
    uint8_t *in = good_points(n), *out = malloc(n * PB), bad[PB];
    kt_psi_t *s = NULL;
    kt_diag_t d = {""};
    unsigned t;

    (void)state;
    assert_non_null(out);
    memset(bad, 0xff, PB); /* RFC 9496 A.2: a non-canonical field encoding */
    bad[PB - 1] = 0x7f;
    assert_int_equal(kt_psi_new(&s), 0);
    for (t = 1; t <= 2; t++) {
        uint8_t keep[PB * 2];

        /* identity at 3 */
        memcpy(keep, in + 3 * PB, PB);
        memset(in + 3 * PB, 0, PB);
        assert_int_equal(kt_psi_reblind(s, out, in, n, 1, t, &d), KT_EMALFORMED);
        assert_string_equal(d.msg, "psi: point 3 is the identity element");
        memcpy(in + 3 * PB, keep, PB);

        /* invalid at 250 and at 10: the lowest is named, with either thread count */
        memcpy(keep, in + 10 * PB, PB);
        memcpy(keep + PB, in + 250 * PB, PB);
        memcpy(in + 10 * PB, bad, PB);
        memcpy(in + 250 * PB, bad, PB);
        assert_int_equal(kt_psi_reblind(s, out, in, n, 0, t, &d), KT_EMALFORMED);
        assert_string_equal(d.msg, "psi: point 10 is not a canonical ristretto255 encoding");
        memcpy(in + 10 * PB, keep, PB);
        assert_int_equal(kt_psi_reblind(s, out, in, n, 0, t, &d), KT_EMALFORMED);
        assert_string_equal(d.msg, "psi: point 250 is not a canonical ristretto255 encoding");
        memcpy(in + 250 * PB, keep + PB, PB);

        /* duplicates: 7 repeats 2 (and 299 repeats 5) */
        memcpy(keep, in + 7 * PB, PB);
        memcpy(keep + PB, in + 299 * PB, PB);
        memcpy(in + 7 * PB, in + 2 * PB, PB);
        memcpy(in + 299 * PB, in + 5 * PB, PB);
        assert_int_equal(kt_psi_reblind(s, out, in, n, 1, t, &d), KT_EMALFORMED);
        assert_string_equal(d.msg, "psi: point 7 repeats point 2");
        memcpy(in + 7 * PB, keep, PB);
        memcpy(in + 299 * PB, keep + PB, PB);

        assert_int_equal(kt_psi_reblind(s, out, in, n, 1, t, &d), 0);
    }
    /* too many: refused before a single point is read */
    assert_int_equal(kt_psi_reblind(s, out, in, KT_PSI_MAX_IDS + 1, 1, 2, &d), KT_ETOOBIG);
    assert_string_equal(d.msg, "psi: 100001 points; at most 100000 are accepted");
    kt_psi_destroy(&s);
    free(in);
    free(out);
}

/* A partner's answer (mine, doubly blinded) is only compared, never
 * multiplied, but a repeated point would skew the counts. */
static void test_compare_refuses_repeats(void **state)
{
    uint8_t *mine = good_points(20), *theirs = good_points(30);
    kt_psi_result_t r;
    kt_diag_t d = {""};

    (void)state;
    memcpy(mine + 12 * PB, mine + 4 * PB, PB);
    assert_int_equal(kt_psi_compare(&r, mine, 20, NULL, theirs, 30, &d), KT_EMALFORMED);
    assert_string_equal(d.msg, "psi: my doubly blinded set repeats point 4 at 12");
    assert_null(r.in_theirs);
    free(mine);
    mine = good_points(20);
    memcpy(theirs + 29 * PB, theirs, PB);
    assert_int_equal(kt_psi_compare(&r, mine, 20, NULL, theirs, 30, &d), KT_EMALFORMED);
    assert_string_equal(d.msg, "psi: the partner's doubly blinded set repeats point 0 at 29");
    assert_int_equal(kt_psi_compare(&r, mine, KT_PSI_MAX_IDS + 1, NULL, theirs, 30, &d),
                     KT_ETOOBIG);
    free(mine);
    free(theirs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc9496_generator),
        cmocka_unit_test(test_rfc9496_addition),
        cmocka_unit_test(test_rfc9496_invalid),
        cmocka_unit_test(test_rfc9496_from_hash),
        cmocka_unit_test(test_keten_vectors),
        cmocka_unit_test(test_scalar_and_id_rules),
        cmocka_unit_test(test_blind_rules),
        cmocka_unit_test(test_sets_equal_plain_arithmetic),
        cmocka_unit_test(test_cardinality_shuffles),
        cmocka_unit_test(test_refuses_bad_points),
        cmocka_unit_test(test_compare_refuses_repeats),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
