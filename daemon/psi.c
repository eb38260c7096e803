/*
 * psi.c - the group operations of the private list comparison (psi.h,
 * docs/protocol.md §12): a session's secret scalar, hash-to-group,
 * blinding, validated reblinding of a partner's points, and the comparison
 * of the doubly blinded sets. One of the three includers of sodium.h.
 *
 * The scalar lives in sodium_malloc memory, read-only once set, and is
 * wiped when the session ends; it never leaves this file. Every point that
 * came from a partner is decoded and checked before it is used, and a
 * diagnostic names only indexes and rules, never a point or an id. The two
 * loops that cost (blinding and reblinding, one scalar multiplication per
 * point) can be split over threads; the results do not depend on the
 * number of threads.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keten/psi.h"

_Static_assert(KT_PSI_POINT_BYTES == crypto_core_ristretto255_BYTES, "point size");
_Static_assert(KT_PSI_SCALAR_BYTES == crypto_core_ristretto255_SCALARBYTES, "scalar size");
_Static_assert(crypto_core_ristretto255_HASHBYTES == crypto_generichash_BYTES_MAX, "h2g input");
_Static_assert(sizeof(KT_PSI_H2G_DOMAIN) == KT_PSI_H2G_DOMAIN_BYTES, "domain with its NUL");
_Static_assert(KT_PSI_MAX_IDS <= UINT32_MAX, "indexes fit uint32_t");

#define P KT_PSI_POINT_BYTES

struct kt_psi {
    unsigned char *k; /* sodium_malloc'd, read-only */
};

static int s_new(kt_psi_t **out, const uint8_t *scalar)
{
    kt_psi_t *s;

    *out = NULL;
    if (sodium_init() < 0)
        return KT_ENOMEM;
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return KT_ENOMEM;
    if ((s->k = sodium_malloc(KT_PSI_SCALAR_BYTES)) == NULL) {
        free(s);
        return KT_ENOMEM;
    }
    if (scalar)
        memcpy(s->k, scalar, KT_PSI_SCALAR_BYTES);
    else
        crypto_core_ristretto255_scalar_random(s->k); /* never zero */
    sodium_mprotect_readonly(s->k);
    *out = s;
    return 0;
}

int kt_psi_new(kt_psi_t **out)
{
    return s_new(out, NULL);
}

int kt_psi_new_with_scalar(kt_psi_t **out, const uint8_t scalar[KT_PSI_SCALAR_BYTES])
{
    unsigned char wide[crypto_core_ristretto255_NONREDUCEDSCALARBYTES] = {0};
    unsigned char red[KT_PSI_SCALAR_BYTES];
    int canonical;

    *out = NULL;
    if (sodium_init() < 0)
        return KT_ENOMEM;
    memcpy(wide, scalar, KT_PSI_SCALAR_BYTES);
    crypto_core_ristretto255_scalar_reduce(red, wide);
    canonical = sodium_memcmp(red, scalar, KT_PSI_SCALAR_BYTES) == 0;
    sodium_memzero(wide, sizeof(wide));
    sodium_memzero(red, sizeof(red));
    if (!canonical || sodium_is_zero(scalar, KT_PSI_SCALAR_BYTES))
        return KT_EINVAL;
    return s_new(out, scalar);
}

void kt_psi_destroy(kt_psi_t **p)
{
    if (p == NULL || *p == NULL)
        return;
    sodium_free((*p)->k); /* wipes */
    free(*p);
    *p = NULL;
}

/* ---- hash to group ---- */

static void s_h2g(uint8_t out[P], const char *id, size_t idlen)
{
    unsigned char h[crypto_core_ristretto255_HASHBYTES];
    crypto_generichash_state st;

    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    crypto_generichash_update(&st, (const unsigned char *)KT_PSI_H2G_DOMAIN,
                              KT_PSI_H2G_DOMAIN_BYTES);
    crypto_generichash_update(&st, (const unsigned char *)id, idlen);
    crypto_generichash_final(&st, h, sizeof(h));
    crypto_core_ristretto255_from_hash(out, h);
    sodium_memzero(h, sizeof(h)); /* a hash of a pupil id */
    sodium_memzero(&st, sizeof(st));
}

int kt_psi_hash_to_group(uint8_t out[KT_PSI_POINT_BYTES], const char *id, size_t idlen)
{
    if (idlen == 0 || idlen > KT_PSI_ID_MAX)
        return KT_EINVAL;
    if (sodium_init() < 0)
        return KT_ENOMEM;
    s_h2g(out, id, idlen);
    return 0;
}

/* ---- threads ---- */

enum { BAD_NONE, BAD_IDENTITY, BAD_POINT, BAD_MULT };

struct s_job {
    const kt_psi_t *s;
    uint8_t *out;
    const uint8_t *in;      /* reblind */
    const char *const *ids; /* blind */
    const uint32_t *perm;   /* blind */
    size_t lo, hi;          /* this slice */
    size_t bad_at;          /* lowest failing index in the slice */
    int bad;                /* BAD_* */
    void (*run)(struct s_job *);
};

static void s_run_blind(struct s_job *j)
{
    uint8_t h[P];
    size_t i, at;

    for (i = j->lo; i < j->hi; i++) {
        at = j->perm[i];
        s_h2g(h, j->ids[at], strlen(j->ids[at]));
        if (crypto_scalarmult_ristretto255(j->out + i * P, j->s->k, h) != 0) {
            j->bad = BAD_MULT;
            j->bad_at = at;
            break;
        }
    }
    sodium_memzero(h, sizeof(h));
}

/* crypto_scalarmult_ristretto255 starts by decoding its input with the very
 * check crypto_core_ristretto255_is_valid_point makes (ristretto255_frombytes:
 * canonical, on the curve, in the group) and fails on anything else, so the
 * point is validated once, not twice; the identity is caught first so that
 * the diagnostic can name the rule. */
static void s_run_reblind(struct s_job *j)
{
    const uint8_t *q;
    size_t i;

    for (i = j->lo; i < j->hi; i++) {
        q = j->in + i * P;
        if (sodium_is_zero(q, P))
            j->bad = BAD_IDENTITY;
        else if (crypto_scalarmult_ristretto255(j->out + i * P, j->s->k, q) != 0)
            j->bad = crypto_core_ristretto255_is_valid_point(q) ? BAD_MULT : BAD_POINT;
        if (j->bad != BAD_NONE) {
            j->bad_at = i;
            break;
        }
    }
}

static void *s_thread(void *arg)
{
    struct s_job *j = arg;

    j->run(j);
    return NULL;
}

/* Splits [0, n) into nthreads slices; fills *bad and *bad_at with the lowest
 * failing index over all slices. A thread that cannot start has its slice
 * run in the calling thread. */
static void s_parallel(const struct s_job *proto, size_t n, unsigned nthreads, int *bad,
                       size_t *bad_at)
{
    struct s_job job[KT_PSI_MAX_THREADS];
    pthread_t tid[KT_PSI_MAX_THREADS];
    int started[KT_PSI_MAX_THREADS] = {0};
    unsigned t;

    if (nthreads < 1)
        nthreads = 1;
    if (nthreads > KT_PSI_MAX_THREADS)
        nthreads = KT_PSI_MAX_THREADS;
    if (n < 64 * (size_t)nthreads) /* not worth a thread */
        nthreads = 1;
    for (t = 0; t < nthreads; t++) {
        job[t] = *proto;
        job[t].lo = n * t / nthreads;
        job[t].hi = n * (t + 1) / nthreads;
        job[t].bad = BAD_NONE;
        job[t].bad_at = 0;
    }
    for (t = 1; t < nthreads; t++)
        started[t] = pthread_create(&tid[t], NULL, s_thread, &job[t]) == 0;
    job[0].run(&job[0]);
    for (t = 1; t < nthreads; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        else
            job[t].run(&job[t]);
    }
    *bad = BAD_NONE;
    *bad_at = 0;
    for (t = 0; t < nthreads; t++) {
        if (job[t].bad != BAD_NONE && (*bad == BAD_NONE || job[t].bad_at < *bad_at)) {
            *bad = job[t].bad;
            *bad_at = job[t].bad_at;
        }
    }
}

/* ---- duplicates and sorting ---- */

static int s_cmp_idx(const void *a, const void *b, void *arg)
{
    const uint8_t *pts = arg;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    int c = memcmp(pts + (size_t)x * P, pts + (size_t)y * P, P);

    if (c != 0)
        return c;
    return x < y ? -1 : x > y;
}

/* Indexes of pts sorted by point (then index); malloc'd, NULL if out of
 * memory. If two points are equal, *dup_first and *dup_later get the pair
 * whose later index is lowest and the function returns 1 in *dup. */
static uint32_t *s_sort(const uint8_t *pts, size_t n, int *dup, size_t *dup_first,
                        size_t *dup_later)
{
    uint32_t *idx = malloc((n ? n : 1) * sizeof(*idx));
    size_t i;

    *dup = 0;
    if (idx == NULL)
        return NULL;
    for (i = 0; i < n; i++)
        idx[i] = (uint32_t)i;
    qsort_r(idx, n, sizeof(*idx), s_cmp_idx, (void *)pts);
    for (i = 1; i < n; i++) {
        if (memcmp(pts + (size_t)idx[i - 1] * P, pts + (size_t)idx[i] * P, P) != 0)
            continue;
        if (!*dup || idx[i] < *dup_later) {
            *dup = 1;
            *dup_first = idx[i - 1];
            *dup_later = idx[i];
        }
    }
    return idx;
}

static void s_shuffle_points(uint8_t *pts, size_t n)
{
    uint8_t tmp[P];
    size_t i, j;

    for (i = n; i > 1; i--) {
        j = randombytes_uniform((uint32_t)i);
        memcpy(tmp, pts + (i - 1) * P, P);
        memmove(pts + (i - 1) * P, pts + j * P, P);
        memcpy(pts + j * P, tmp, P);
    }
}

/* ---- blinding ---- */

static int s_check_ids(const char *const *ids, size_t n, kt_diag_t *d)
{
    size_t i, len;

    for (i = 0; i < n; i++) {
        len = ids[i] ? strnlen(ids[i], KT_PSI_ID_MAX + 1) : 0;
        if (len == 0)
            return kt_diag_set(d, KT_EINVAL, "psi: id %zu is empty", i);
        if (len > KT_PSI_ID_MAX)
            return kt_diag_set(d, KT_EINVAL, "psi: id %zu is longer than %d bytes", i,
                               KT_PSI_ID_MAX);
    }
    return 0;
}

int kt_psi_blind(kt_psi_t *s, uint8_t *out, uint32_t *perm, const char *const *ids, size_t n,
                 unsigned nthreads, kt_diag_t *d)
{
    struct s_job proto = {.s = s, .out = out, .ids = ids, .perm = perm, .run = s_run_blind};
    uint32_t *idx;
    size_t i, j, a, b;
    int rc, bad, dup;

    if (n > KT_PSI_MAX_IDS)
        return kt_diag_set(d, KT_ETOOBIG, "psi: %zu ids; a list may hold at most %d", n,
                           KT_PSI_MAX_IDS);
    if ((rc = s_check_ids(ids, n, d)) != 0)
        return rc;
    for (i = 0; i < n; i++)
        perm[i] = (uint32_t)i;
    for (i = n; i > 1; i--) { /* Fisher-Yates */
        j = randombytes_uniform((uint32_t)i);
        uint32_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
    s_parallel(&proto, n, nthreads, &bad, &a);
    if (bad != BAD_NONE) /* H(id) was the identity: probability about 2^-252 */
        return kt_diag_set(d, KT_EINVAL, "psi: id %zu cannot be blinded", a);
    if ((idx = s_sort(out, n, &dup, &a, &b)) == NULL)
        return kt_diag_set(d, KT_ENOMEM, "psi: out of memory");
    free(idx);
    if (dup) {
        a = perm[a];
        b = perm[b];
        return kt_diag_set(d, KT_EINVAL, "psi: id %zu repeats id %zu", a > b ? a : b,
                           a > b ? b : a);
    }
    return 0;
}

int kt_psi_reblind(kt_psi_t *s, uint8_t *out, const uint8_t *in, size_t n, int keep_order,
                   unsigned nthreads, kt_diag_t *d)
{
    struct s_job proto = {.s = s, .out = out, .in = in, .run = s_run_reblind};
    uint32_t *idx;
    size_t a, b;
    int bad, dup;

    if (n > KT_PSI_MAX_IDS)
        return kt_diag_set(d, KT_ETOOBIG, "psi: %zu points; at most %d are accepted", n,
                           KT_PSI_MAX_IDS);
    s_parallel(&proto, n, nthreads, &bad, &a);
    if (bad == BAD_IDENTITY)
        return kt_diag_set(d, KT_EMALFORMED, "psi: point %zu is the identity element", a);
    if (bad != BAD_NONE)
        return kt_diag_set(d, KT_EMALFORMED,
                           "psi: point %zu is not a canonical ristretto255 encoding", a);
    /* y -> y^k is a bijection, so out repeats a point exactly where in does */
    if ((idx = s_sort(out, n, &dup, &a, &b)) == NULL)
        return kt_diag_set(d, KT_ENOMEM, "psi: out of memory");
    free(idx);
    if (dup)
        return kt_diag_set(d, KT_EMALFORMED, "psi: point %zu repeats point %zu", b, a);
    if (!keep_order)
        s_shuffle_points(out, n);
    return 0;
}

/* ---- comparison ---- */

struct s_key {
    const uint8_t *pt;
    const uint8_t *pts;
};

static int s_cmp_key(const void *key, const void *elem)
{
    const struct s_key *k = key;

    return memcmp(k->pt, k->pts + (size_t) * (const uint32_t *)elem * P, P);
}

void kt_psi_result_clear(kt_psi_result_t *r)
{
    if (r == NULL)
        return;
    if (r->in_theirs != NULL) /* which own pupil is where: wiped like the ids */
        sodium_memzero(r->in_theirs, r->own);
    free(r->in_theirs);
    memset(r, 0, sizeof(*r));
}

int kt_psi_compare(kt_psi_result_t *r, const uint8_t *mine, size_t nmine, const uint32_t *perm,
                   const uint8_t *theirs, size_t ntheirs, kt_diag_t *d)
{
    uint32_t *mi = NULL, *ti = NULL;
    struct s_key key = {.pts = theirs};
    size_t i, a, b;
    int dup, rc = 0, found;

    memset(r, 0, sizeof(*r));
    if (nmine > KT_PSI_MAX_IDS || ntheirs > KT_PSI_MAX_IDS)
        return kt_diag_set(d, KT_ETOOBIG, "psi: a set of more than %d points", KT_PSI_MAX_IDS);
    if ((mi = s_sort(mine, nmine, &dup, &a, &b)) == NULL) {
        rc = kt_diag_set(d, KT_ENOMEM, "psi: out of memory");
        goto out;
    }
    if (dup) {
        rc = kt_diag_set(d, KT_EMALFORMED, "psi: my doubly blinded set repeats point %zu at %zu", a,
                         b);
        goto out;
    }
    if ((ti = s_sort(theirs, ntheirs, &dup, &a, &b)) == NULL) {
        rc = kt_diag_set(d, KT_ENOMEM, "psi: out of memory");
        goto out;
    }
    if (dup) {
        rc = kt_diag_set(d, KT_EMALFORMED,
                         "psi: the partner's doubly blinded set repeats point %zu at %zu", a, b);
        goto out;
    }
    if (perm && (r->in_theirs = calloc(nmine ? nmine : 1, 1)) == NULL) {
        rc = kt_diag_set(d, KT_ENOMEM, "psi: out of memory");
        goto out;
    }
    for (i = 0; i < nmine; i++) {
        key.pt = mine + i * P;
        found = bsearch(&key, ti, ntheirs, sizeof(*ti), s_cmp_key) != NULL;
        r->both += (size_t)found;
        if (perm) {
            if (perm[i] >= nmine) {
                rc = kt_diag_set(d, KT_EINVAL, "psi: permutation entry %zu is out of range", i);
                goto out;
            }
            r->in_theirs[perm[i]] = (uint8_t)found;
        }
    }
    r->own = nmine;
    r->theirs = ntheirs;
    r->only_own = nmine - r->both;
    r->only_theirs = ntheirs - r->both;
out:
    free(mi);
    free(ti);
    if (rc != 0)
        kt_psi_result_clear(r);
    return rc;
}
