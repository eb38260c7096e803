/*
 * psi.h - private list comparison: Diffie-Hellman private set intersection
 * over ristretto255 (DESIGN.md §10, docs/protocol.md §12).
 *
 * Each side hashes its pupil ids to the group, blinds them with a fresh
 * secret scalar and sends them; the other side blinds them a second time.
 * Doubly blinded points H(x)^(ab) are equal exactly when the ids are, so
 * each side can count the overlap, and (policy "membership") see which of
 * its *own* ids the other side lacks, without either side seeing an id it
 * did not hold.
 *
 * Two parts, one header:
 *   psi.c       the group operations (libsodium): a session's scalar,
 *               hash-to-group, blinding, validated reblinding, comparison.
 *   psi_wire.c  the message bodies in canonical CBOR (libcbor), chunked to
 *               fit one envelope, and the collector that reassembles them.
 *
 * The session state machine (who sends what when, replay of session ids,
 * policy, audit) lives in the reconcile module, on top of this API.
 */
#ifndef KETEN_PSI_H
#define KETEN_PSI_H

#include <stddef.h>
#include <stdint.h>

#include "keten/error.h"
#include "keten/keys.h"

#define KT_PSI_POINT_BYTES 32  /* a ristretto255 element encoding */
#define KT_PSI_SCALAR_BYTES 32 /* a canonical scalar, little-endian, < l */
#define KT_PSI_ID_MAX 64       /* a leerling_id: 1..64 bytes of text */
#define KT_PSI_MAX_IDS 100000  /* largest list either side may send */
#define KT_PSI_MAX_THREADS 16

/* "keten/1 psi h2g" 0x00: the 16-byte domain prefix of hash-to-group */
#define KT_PSI_H2G_DOMAIN "keten/1 psi h2g"
#define KT_PSI_H2G_DOMAIN_BYTES 16

/* ---- psi.c ---- */

typedef struct kt_psi kt_psi_t;

/* A session side: a fresh random non-zero scalar in sodium_malloc memory. */
int kt_psi_new(kt_psi_t **out) KT_WUR;
/* The same with a given scalar, for known-answer tests only; KT_EINVAL
 * unless the scalar is canonical (< l) and not zero. */
int kt_psi_new_with_scalar(kt_psi_t **out, const uint8_t scalar[KT_PSI_SCALAR_BYTES]) KT_WUR;
/* Wipes and frees the scalar; idempotent; nulls *p. */
void kt_psi_destroy(kt_psi_t **p);

/* H(id) = ristretto255_from_hash(BLAKE2b-512(domain || id)). KT_EINVAL if
 * idlen is 0 or larger than KT_PSI_ID_MAX. */
int kt_psi_hash_to_group(uint8_t out[KT_PSI_POINT_BYTES], const char *id, size_t idlen) KT_WUR;

/*
 * First blinding: out[i] = H(ids[perm[i]])^k for a fresh random permutation
 * perm (written to perm, n entries), so the order sent says nothing about
 * the order of the list. ids are NUL-terminated. out holds n points.
 * KT_ETOOBIG if n > KT_PSI_MAX_IDS; KT_EINVAL for an empty or too long id
 * or one that repeats an earlier one (the diagnostic names the indexes).
 * nthreads: 1 = in the calling thread; at most KT_PSI_MAX_THREADS.
 */
int kt_psi_blind(kt_psi_t *s, uint8_t *out, uint32_t *perm, const char *const *ids, size_t n,
                 unsigned nthreads, kt_diag_t *d) KT_WUR;

/*
 * Second blinding of the partner's points: out[i] = in[i]^k, in the same
 * order when keep_order is set ("membership": the partner maps answers back
 * to its ids), else in a fresh random order that is not kept
 * ("cardinality"). Every input point is checked first:
 *   n > KT_PSI_MAX_IDS                                      KT_ETOOBIG
 *   not a canonical ristretto255 encoding, or the identity  KT_EMALFORMED
 *   equal to an earlier point                               KT_EMALFORMED
 * The diagnostic names the (lowest) index and the rule, never a point.
 * out may equal in; on error its contents are unspecified.
 */
int kt_psi_reblind(kt_psi_t *s, uint8_t *out, const uint8_t *in, size_t n, int keep_order,
                   unsigned nthreads, kt_diag_t *d) KT_WUR;

typedef struct kt_psi_result {
    size_t own;         /* |X|: my list */
    size_t theirs;      /* |Y|: the partner's list */
    size_t both;        /* |X ∩ Y| */
    size_t only_own;    /* |X \ Y|: mine the partner lacks */
    size_t only_theirs; /* |Y \ X| */
    /* membership only (else NULL): in_theirs[j] is 1 when my ids[j] is in
     * Y, indexed like the list given to kt_psi_blind; malloc'd */
    uint8_t *in_theirs;
} kt_psi_result_t;

/*
 * Compares the doubly blinded sets: mine = my points after the partner's
 * blinding (as the partner returned them), theirs = the partner's points
 * after mine (as I computed them, or for the responder: as it computed the
 * initiator's). With perm (from kt_psi_blind; mine must then be in the
 * order I sent) the result also says which of my ids are in theirs; with
 * perm NULL, counts only. KT_EMALFORMED if either set repeats a point (a
 * partner's answer can; the diagnostic names the set and index),
 * KT_ETOOBIG over KT_PSI_MAX_IDS, KT_ENOMEM. Clear r with
 * kt_psi_result_clear.
 */
int kt_psi_compare(kt_psi_result_t *r, const uint8_t *mine, size_t nmine, const uint32_t *perm,
                   const uint8_t *theirs, size_t ntheirs, kt_diag_t *d) KT_WUR;
void kt_psi_result_clear(kt_psi_result_t *r);

/* ---- psi_wire.c ---- */

#define KT_PSI_SESSION_BYTES 16 /* chosen at random by the initiator */
#define KT_PSI_NONCE_BYTES 16   /* the initiator's nonce */
#define KT_PSI_LIST_MAX 64      /* list names match [a-z0-9_-]{1,64} */
#define KT_PSI_CHUNK_POINTS 1800
/* Largest body: 1800 points and every text at its longest; it leaves more
 * than 7 KiB of KT_SIGNED_MAX_BYTES for the signed payload around it. */
#define KT_PSI_WIRE_MAX_BYTES 58000

typedef enum {
    KT_PSI_A1 = 1, /* initiator -> responder: H(x)^a */
    KT_PSI_A2,     /* responder -> initiator: H(x)^ab */
    KT_PSI_B1,     /* responder -> initiator: H(y)^b */
    KT_PSI_B2,     /* initiator -> responder: H(y)^ba */
} kt_psi_step_t;

typedef enum {
    KT_PSI_CARDINALITY = 1, /* sizes only; answers shuffled */
    KT_PSI_MEMBERSHIP,      /* also which own ids; answers in the sender's order */
} kt_psi_mode_t;

typedef struct kt_psi_msg {
    uint8_t session[KT_PSI_SESSION_BYTES];
    uint8_t nonce[KT_PSI_NONCE_BYTES];
    char from[KT_NODE_ID_MAX + 1];
    char to[KT_NODE_ID_MAX + 1];
    kt_psi_step_t step;
    kt_psi_mode_t mode;
    char list[KT_PSI_LIST_MAX + 1];
    uint32_t part;  /* 0 .. parts-1 */
    uint32_t parts; /* kt_psi_wire_parts(total) */
    uint32_t total; /* points in the whole set, <= KT_PSI_MAX_IDS */
    /* this part's points: KT_PSI_CHUNK_POINTS, fewer in the last part.
     * After decode they borrow from the decoded buffer. */
    const uint8_t *pts;
    size_t npts;
} kt_psi_msg_t;

const char *kt_psi_step_name(kt_psi_step_t s); /* "a1", ...; "unknown" */
const char *kt_psi_mode_name(kt_psi_mode_t m); /* "cardinality", "membership"; "unknown" */
int kt_psi_mode_parse(const char *s, kt_psi_mode_t *m) KT_WUR;

/* Parts for a set of total points: max(1, ceil(total / KT_PSI_CHUNK_POINTS)). */
uint32_t kt_psi_wire_parts(uint32_t total);
/* Points in part `part` of a set of `total`; 0 if part is out of range. */
size_t kt_psi_wire_part_points(uint32_t total, uint32_t part);

/* Canonical body; *out is malloc'd (free with free()). KT_EINVAL for a
 * field outside its rules (the same rules decode enforces). */
int kt_psi_wire_encode(uint8_t **out, size_t *outlen, const kt_psi_msg_t *m, kt_diag_t *d) KT_WUR;
/* Strict: only the exact canonical form, every field within its rules,
 * part/parts/total/points consistent; KT_ETOOBIG over
 * KT_PSI_WIRE_MAX_BYTES or a total over KT_PSI_MAX_IDS; else
 * KT_EMALFORMED. m->pts points into buf. Fuzzed. */
int kt_psi_wire_decode(kt_psi_msg_t *m, const uint8_t *buf, size_t len, kt_diag_t *d) KT_WUR;

/*
 * Reassembles one set from its parts, in any order. The first part added
 * fixes session, nonce, from, to, step, mode, list, parts and total; every
 * later part must repeat them (KT_EMALFORMED "... does not match") and
 * bring a part not seen before (KT_EREPLAY).
 */
typedef struct kt_psi_collect kt_psi_collect_t;

int kt_psi_collect_new(kt_psi_collect_t **out) KT_WUR;
void kt_psi_collect_destroy(kt_psi_collect_t **p);
int kt_psi_collect_add(kt_psi_collect_t *c, const kt_psi_msg_t *m, kt_diag_t *d) KT_WUR;
int kt_psi_collect_done(const kt_psi_collect_t *c); /* all parts in */
/* The header of the first part (pts NULL); NULL before any part. Borrowed. */
const kt_psi_msg_t *kt_psi_collect_header(const kt_psi_collect_t *c);
/* The whole set, total points in part order; borrowed, NULL until done. */
const uint8_t *kt_psi_collect_points(const kt_psi_collect_t *c, size_t *n);

#endif
