/*
 * psi.c - benchmark of the private list comparison (issue 6): both sides of
 * a 100,000 x 100,000 comparison with 50 % overlap in one process, through
 * keten's psi module and its wire codec (every set is chunked, encoded,
 * decoded and collected as on the exchange, minus signing and transport),
 * and, in the same run, the primitive cost it is judged against:
 *
 *   n x (hash_to_group + 2 x scalarmult), single-threaded, n = 100,000
 *
 * (per identifier: hashed once, multiplied by each side's scalar). Both
 * sides together do that work twice, so with two threads the ideal
 * ratio wall / primitive is 1.0. The primitive costs come from libsodium
 * directly, timed over PSI_BENCH_SAMPLE identifiers (default 20,000)
 * before and after the run; the better of the two is the ceiling.
 *
 * Prints `info`, `ceiling psi_primitive ...` and `e2e psi_100k ...
 * ceiling=psi_primitive` lines for bench/run.sh. Exit 1 if the result is
 * not the plain set arithmetic. Never part of `make test`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "keten/psi.h"

#define N 100000
#define OVERLAP 50000

static double s_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void s_die(const char *what, int rc, const kt_diag_t *d)
{
    fprintf(stderr, "bench psi: %s: %s (%s)\n", what, d ? d->msg : "", kt_strerror(rc));
    exit(1);
}

/* 9-digit leerling-like ids; list A is 0..N-1, list B is N-OVERLAP.. */
static char **s_ids(size_t first, size_t n)
{
    char **ids = calloc(n, sizeof(*ids));
    size_t i;

    if (ids == NULL)
        exit(1);
    for (i = 0; i < n; i++)
        if (asprintf(&ids[i], "%09zu", 100000000 + first * 7 + i * 7) < 0)
            exit(1);
    return ids;
}

/* Sends a set the way the exchange does: chunk, encode, decode, collect.
 * Returns the collected points (malloc'd). */
static uint8_t *s_ship(const uint8_t *pts, size_t n, kt_psi_step_t step)
{
    kt_psi_msg_t m = {.step = step, .mode = KT_PSI_MEMBERSHIP, .total = (uint32_t)n};
    kt_psi_collect_t *c = NULL;
    const uint8_t *all;
    uint8_t *enc, *copy;
    size_t len, got;
    kt_diag_t d = {""};
    uint32_t p;
    int rc;

    strcpy(m.from, "swv-bench");
    strcpy(m.to, "gemeente-bench");
    strcpy(m.list, "thuiszitters");
    m.parts = kt_psi_wire_parts(m.total);
    if (kt_psi_collect_new(&c) != 0)
        exit(1);
    for (p = 0; p < m.parts; p++) {
        kt_psi_msg_t back;

        m.part = p;
        m.pts = pts + (size_t)p * KT_PSI_CHUNK_POINTS * KT_PSI_POINT_BYTES;
        m.npts = kt_psi_wire_part_points(m.total, p);
        if ((rc = kt_psi_wire_encode(&enc, &len, &m, &d)) != 0)
            s_die("encode", rc, &d);
        if ((rc = kt_psi_wire_decode(&back, enc, len, &d)) != 0 ||
            (rc = kt_psi_collect_add(c, &back, &d)) != 0)
            s_die("decode", rc, &d);
        free(enc);
    }
    all = kt_psi_collect_points(c, &got);
    if (all == NULL || got != n || (copy = malloc(n * KT_PSI_POINT_BYTES + 1)) == NULL)
        exit(1);
    memcpy(copy, all, n * KT_PSI_POINT_BYTES);
    kt_psi_collect_destroy(&c);
    return copy;
}

/* Seconds per hash_to_group and per scalarmult, libsodium directly. */
static void s_primitive(size_t sample, double *h2g, double *mult)
{
    unsigned char k[32], h[64], *pts = malloc(sample * 32), q[32];
    char id[16];
    double t0;
    size_t i;
    int fail = 0;

    if (pts == NULL)
        exit(1);
    crypto_core_ristretto255_scalar_random(k);
    t0 = s_now();
    for (i = 0; i < sample; i++) {
        crypto_generichash_state st;
        int len = snprintf(id, sizeof(id), "%09zu", 300000000 + i);

        crypto_generichash_init(&st, NULL, 0, sizeof(h));
        crypto_generichash_update(&st, (const unsigned char *)KT_PSI_H2G_DOMAIN,
                                  KT_PSI_H2G_DOMAIN_BYTES);
        crypto_generichash_update(&st, (const unsigned char *)id, (size_t)len);
        crypto_generichash_final(&st, h, sizeof(h));
        crypto_core_ristretto255_from_hash(pts + i * 32, h);
    }
    *h2g = (s_now() - t0) / (double)sample;
    t0 = s_now();
    for (i = 0; i < sample; i++)
        fail |= crypto_scalarmult_ristretto255(q, k, pts + i * 32);
    *mult = (s_now() - t0) / (double)sample;
    if (fail)
        exit(1);
    free(pts);
}

static void s_expect(const char *who, const kt_psi_result_t *r)
{
    size_t i, in = 0;

    for (i = 0; i < N; i++)
        in += r->in_theirs[i];
    if (r->own != N || r->theirs != N || r->both != OVERLAP || r->only_own != N - OVERLAP ||
        r->only_theirs != N - OVERLAP || in != OVERLAP) {
        fprintf(stderr, "bench psi: %s's result is wrong\n", who);
        exit(1);
    }
}

int main(void)
{
    const char *e = getenv("PSI_BENCH_SAMPLE"), *t = getenv("PSI_THREADS");
    size_t sample = e ? strtoul(e, NULL, 10) : 20000;
    unsigned threads = t ? (unsigned)strtoul(t, NULL, 10) : 2;
    char **x = s_ids(0, N), **y = s_ids(N - OVERLAP, N);
    uint8_t *a1 = malloc((size_t)N * 32), *b1 = malloc((size_t)N * 32), *a2, *b2, *got_a1, *got_b1,
            *got_a2, *got_b2;
    uint32_t *perm_a = malloc(N * sizeof(uint32_t)), *perm_b = malloc(N * sizeof(uint32_t));
    kt_psi_t *sa = NULL, *sb = NULL;
    kt_psi_result_t ra, rb;
    kt_diag_t d = {""};
    double h2g, mult, h2g_after, mult_after, prim, t0, wall;
    int rc;

    if (sample < 100 || sample > N)
        sample = 20000;
    if (sodium_init() < 0 || a1 == NULL || b1 == NULL || perm_a == NULL || perm_b == NULL) {
        fprintf(stderr, "bench psi: out of memory\n");
        exit(1);
    }
    s_primitive(sample, &h2g, &mult);
    printf("info psi_ids %d x %d, overlap %d, membership, %u threads, libsodium %s\n", N, N,
           OVERLAP, threads, sodium_version_string());
    printf("info psi_primitive_before h2g %.2f us, scalarmult %.2f us (1 thread, %zu samples)\n",
           h2g * 1e6, mult * 1e6, sample);
    fflush(stdout);

    t0 = s_now();
    /* A: blind X, send a1 */
    if ((rc = kt_psi_new(&sa)) != 0 || (rc = kt_psi_new(&sb)) != 0)
        s_die("session", rc, NULL);
    if ((rc = kt_psi_blind(sa, a1, perm_a, (const char *const *)x, N, threads, &d)) != 0)
        s_die("A blind", rc, &d);
    got_a1 = s_ship(a1, N, KT_PSI_A1);
    /* B: reblind a1 in A's order (a2), blind Y (b1), send both */
    a2 = got_a1; /* in place */
    if ((rc = kt_psi_reblind(sb, a2, got_a1, N, 1, threads, &d)) != 0)
        s_die("B reblind", rc, &d);
    if ((rc = kt_psi_blind(sb, b1, perm_b, (const char *const *)y, N, threads, &d)) != 0)
        s_die("B blind", rc, &d);
    got_a2 = s_ship(a2, N, KT_PSI_A2);
    got_b1 = s_ship(b1, N, KT_PSI_B1);
    /* A: reblind b1 in B's order (b2), compare, send b2 */
    b2 = got_b1;
    if ((rc = kt_psi_reblind(sa, b2, got_b1, N, 1, threads, &d)) != 0)
        s_die("A reblind", rc, &d);
    if ((rc = kt_psi_compare(&ra, got_a2, N, perm_a, b2, N, &d)) != 0)
        s_die("A compare", rc, &d);
    got_b2 = s_ship(b2, N, KT_PSI_B2);
    /* B: compare */
    if ((rc = kt_psi_compare(&rb, got_b2, N, perm_b, a2, N, &d)) != 0)
        s_die("B compare", rc, &d);
    kt_psi_destroy(&sa);
    kt_psi_destroy(&sb);
    wall = s_now() - t0;

    s_expect("A", &ra);
    s_expect("B", &rb);
    /* measured again after the run; like every ceiling, the best of the two
     * (the machine is shared: load moves between the phases) */
    s_primitive(sample, &h2g_after, &mult_after);
    printf("info psi_primitive_after h2g %.2f us, scalarmult %.2f us\n", h2g_after * 1e6,
           mult_after * 1e6);
    prim = (double)N * (h2g + 2 * mult);
    if ((double)N * (h2g_after + 2 * mult_after) < prim)
        prim = (double)N * (h2g_after + 2 * mult_after);
    printf("ceiling psi_primitive %.3f s\n", prim);
    printf("e2e psi_100k %.3f s ceiling=psi_primitive\n", wall);
    printf("info psi_ratio %.2f (wall / primitive; target <= 1.5, goal 1.2)\n", wall / prim);
    kt_psi_result_clear(&ra);
    kt_psi_result_clear(&rb);
    free(a1);
    free(b1);
    free(got_a1); /* a2 */
    free(got_b1); /* b2 */
    free(got_a2);
    free(got_b2);
    free(perm_a);
    free(perm_b);
    return 0;
}
