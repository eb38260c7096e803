/*
 * reconcile_psi.c - comparing lists with a partner by private set
 * intersection (reconcile.h; docs/protocol.md §12).
 *
 *   initiator A                          responder B
 *   a1 = H(x)^a, shuffled      ------>
 *                              <------   a2 = (a1)^b, in A's order only if B's
 *                                        policy lets A learn membership
 *                              <------   b1 = H(y)^b, shuffled
 *   b2 = (b1)^a, in B's order  ------>
 *   only if A's policy lets B
 *   learn membership
 *
 * Each side compares its own doubly blinded set with the other's. Neither
 * ever sees an identifier it did not hold; the scalars and the own ids live
 * in the session and are wiped when it ends. Every point received is
 * validated (psi.c), counts must match what was sent, and a session id is
 * answered once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keten/log.h"
#include "keten/trail.h"
#include "keten/vault.h"

#include "reconcile_int.h"

static kt_kind_t s_kind(kt_psi_step_t step)
{
    return step == KT_PSI_A1 || step == KT_PSI_B2 ? KT_KIND_PSI_REQUEST : KT_KIND_PSI_RESPONSE;
}

void kt_rc_psi_free(struct kt_rc_sess *s)
{
    kt_psi_destroy(&s->psi);
    if (s->ids != NULL)
        kt_registry_ids_free(s->ids, s->nids);
    s->ids = NULL;
    /* which point is which pupil, and what we answered: wiped too */
    if (s->perm != NULL)
        memset(s->perm, 0, (s->nids + 1) * sizeof(*s->perm));
    free(s->perm);
    s->perm = NULL;
    s->nids = 0;
    if (s->sent2 != NULL)
        memset(s->sent2, 0, (s->nsent2 + 1) * KT_PSI_POINT_BYTES);
    free(s->sent2);
    s->sent2 = NULL;
    kt_psi_collect_destroy(&s->c1);
    kt_psi_collect_destroy(&s->c2);
}

static kt_psi_mode_t s_min(kt_psi_mode_t a, kt_psi_mode_t b)
{
    return a == KT_PSI_MEMBERSHIP && b == KT_PSI_MEMBERSHIP ? KT_PSI_MEMBERSHIP
                                                            : KT_PSI_CARDINALITY;
}

/* What our policy for partner lets it learn, or 0 (no comparison at all). */
static kt_psi_mode_t s_allowed(kt_reconcile_t *r, const char *partner)
{
    const kt_policy_version_t *v = kt_rc_policy(r, partner);

    if (v == NULL || v->reconcile_lists == KT_POLICY_LISTS_NONE)
        return 0;
    return v->reconcile_lists == KT_POLICY_LISTS_MEMBERSHIP ? KT_PSI_MEMBERSHIP
                                                            : KT_PSI_CARDINALITY;
}

/* Sends one set in chunks. */
static int s_send_set(kt_reconcile_t *r, const struct kt_rc_sess *s, kt_psi_step_t step,
                      kt_psi_mode_t mode, const uint8_t *pts, size_t n, kt_diag_t *d)
{
    uint8_t id[KT_ENVELOPE_ID_BYTES], *body = NULL;
    size_t len = 0, off = 0;
    kt_psi_msg_t m;
    uint32_t part;
    int rc = 0;

    memset(&m, 0, sizeof(m));
    memcpy(m.session, s->id, KT_PSI_SESSION_BYTES);
    memcpy(m.nonce, s->nonce, KT_PSI_NONCE_BYTES);
    snprintf(m.from, sizeof(m.from), "%s", (*r->env.conf)->id);
    snprintf(m.to, sizeof(m.to), "%s", s->partner);
    snprintf(m.list, sizeof(m.list), "%s", s->list);
    m.step = step;
    m.mode = mode;
    m.total = (uint32_t)n;
    m.parts = kt_psi_wire_parts(m.total);
    for (part = 0; rc == 0 && part < m.parts; part++) {
        m.part = part;
        m.npts = kt_psi_wire_part_points(m.total, part);
        m.pts = m.npts > 0 ? pts + off * KT_PSI_POINT_BYTES : NULL;
        off += m.npts;
        kt_envelope_new_id(id);
        if ((rc = kt_psi_wire_encode(&body, &len, &m, d)) == 0)
            rc = kt_exchange_send(r->env.x, s->partner, s_kind(step), id, body, len, d);
        free(body);
        body = NULL;
    }
    return rc;
}

/* Our list, hashed and blinded in a random order (s->perm). */
static int s_blind_own(kt_reconcile_t *r, struct kt_rc_sess *s, uint8_t **pts, kt_diag_t *d)
{
    const char **v = NULL;
    size_t unreadable = 0, i;
    int rc;

    *pts = NULL;
    if ((rc = kt_registry_ids(&s->ids, &s->nids, r->env.st, kt_exchange_vault(r->env.x), s->list,
                              &unreadable, d)) != 0)
        return rc;
    if (s->nids > KT_PSI_MAX_IDS)
        return kt_diag_set(d, KT_ETOOBIG, "list %s has %zu pupils; at most %d are compared",
                           s->list, s->nids, KT_PSI_MAX_IDS);
    if (s->psi == NULL && (rc = kt_psi_new(&s->psi)) != 0)
        return kt_diag_set(d, rc, "cannot make a secret scalar");
    if ((v = calloc(s->nids + 1, sizeof(*v))) == NULL ||
        (*pts = malloc((s->nids + 1) * KT_PSI_POINT_BYTES)) == NULL ||
        (s->perm = calloc(s->nids + 1, sizeof(*s->perm))) == NULL) {
        free(v);
        return kt_diag_set(d, KT_ENOMEM, "out of memory");
    }
    for (i = 0; i < s->nids; i++)
        v[i] = s->ids[i];
    rc = kt_psi_blind(s->psi, *pts, s->perm, v, s->nids, KT_RECONCILE_THREADS, d);
    free(v);
    return rc;
}

/* The result row: counts, and for membership our pupils the partner lacks;
 * locked under the node key with the session id as associated data. */
static void s_finish(kt_reconcile_t *r, struct kt_rc_sess *s, const kt_psi_result_t *res,
                     int membership, int64_t now_ms)
{
    size_t cap = 96 + (membership ? res->only_own * (KT_PSI_ID_MAX + 1) : 0), n, i;
    char *text = malloc(cap), reason[160];
    uint8_t *locked = NULL;
    size_t llen = 0;
    kt_diag_t d = {{0}};

    if (text == NULL) {
        kt_rc_finish(r, s, "failed", "out of memory", NULL, 0, now_ms);
        return;
    }
    n = (size_t)snprintf(text, cap, "%d %zu %zu %zu %zu %zu\n",
                         membership ? KT_PSI_MEMBERSHIP : KT_PSI_CARDINALITY, res->own, res->theirs,
                         res->both, res->only_own, res->only_theirs);
    for (i = 0; membership && res->in_theirs != NULL && i < s->nids && n < cap; i++)
        if (!res->in_theirs[i])
            n += (size_t)snprintf(text + n, cap - n, "%s\n", s->ids[i]);
    snprintf(reason, sizeof(reason),
             "%s: ours %zu, theirs %zu, both %zu, only ours %zu, only theirs %zu",
             membership ? "membership" : "cardinality", res->own, res->theirs, res->both,
             res->only_own, res->only_theirs);
    if (kt_vault_lock(&locked, &llen, (const uint8_t *)text, n, s->id, KT_RECONCILE_ID_BYTES,
                      kt_exchange_vault(r->env.x), &d) != 0)
        kt_rc_finish(r, s, "failed", d.msg, NULL, 0, now_ms);
    else
        kt_rc_finish(r, s, "done", reason, locked, llen, now_ms);
    memset(text, 0, cap);
    free(text);
    kt_vault_free(locked, llen);
}

static void s_fail(kt_reconcile_t *r, struct kt_rc_sess *s, const char *code, const char *why,
                   int64_t now_ms)
{
    kt_rc_refuse(r, s->partner, s->role == S_INITIATOR ? KT_KIND_PSI_REQUEST : KT_KIND_PSI_RESPONSE,
                 s->id, code);
    kt_rc_finish(r, s, "failed", why, NULL, 0, now_ms);
}

int kt_reconcile_start_lists(kt_reconcile_t *r, const char *actor, const char *partner,
                             const char *list, kt_psi_mode_t want,
                             uint8_t id[KT_RECONCILE_ID_BYTES], kt_diag_t *d)
{
    kt_psi_mode_t allowed = s_allowed(r, partner);
    int64_t now = (int64_t)time(NULL) * 1000;
    struct kt_rc_sess *s;
    uint8_t *a1 = NULL;
    int rc;

    if (allowed == 0)
        return kt_diag_set(d, KT_EDENIED,
                           "our policy for %s does not allow list comparison (reconcile.lists in "
                           "its version in force; docs/policy.md)",
                           partner);
    if (!kt_registry_name_valid(list))
        return kt_diag_set(d, KT_EINVAL, "list: 1 to 64 of a-z, 0-9, '_' and '-'");
    kt_envelope_new_id(id);
    if ((s = kt_rc_add(r, id, partner, list, S_LISTS, S_INITIATOR, actor, now)) == NULL)
        return kt_diag_set(d, KT_ENOMEM, "out of memory");
    kt_envelope_new_id(s->nonce);
    s->want = want;
    s->granted_them = allowed;
    if ((rc = s_blind_own(r, s, &a1, d)) != 0 || (rc = kt_psi_collect_new(&s->c1)) != 0 ||
        (rc = kt_psi_collect_new(&s->c2)) != 0 || (rc = kt_rc_row_open(r, s, NULL, now, d)) != 0) {
        if (rc == KT_ENOMEM && d->msg[0] == '\0')
            kt_diag_set(d, rc, "out of memory");
        free(a1);
        kt_rc_drop(r, s);
        return rc;
    }
    if ((rc = s_send_set(r, s, KT_PSI_A1, want, a1, s->nids, d)) != 0) {
        free(a1);
        kt_rc_finish(r, s, "failed", d->msg, NULL, 0, now); /* its row exists: end it */
        return rc;
    }
    free(a1);
    return 0;
}

/* Responder: the initiator's whole set is in; answer with a2 and b1. */
static void s_answer(kt_reconcile_t *r, struct kt_rc_sess *s, int64_t now_ms)
{
    const uint8_t *a1;
    uint8_t *b1 = NULL;
    size_t n = 0;
    kt_diag_t d = {{0}};
    int rc;

    /* Their points first: a bad set must not cost a pass over our list. */
    a1 = kt_psi_collect_points(s->c1, &n);
    if (kt_psi_new(&s->psi) != 0 || (s->sent2 = malloc((n + 1) * KT_PSI_POINT_BYTES)) == NULL) {
        s_fail(r, s, "internal", "out of memory", now_ms);
        goto out;
    }
    s->nsent2 = n;
    if (kt_psi_reblind(s->psi, s->sent2, a1, n, s->granted_them == KT_PSI_MEMBERSHIP,
                       KT_RECONCILE_THREADS, &d) != 0) {
        kt_log_warnx("list comparison with %s: %s", s->partner, d.msg);
        s_fail(r, s, "invalid_points", d.msg, now_ms);
        goto out;
    }
    if ((rc = s_blind_own(r, s, &b1, &d)) != 0) {
        s_fail(r, s, rc == KT_ENOENT ? "no_list" : "internal", d.msg, now_ms);
        goto out;
    }
    kt_psi_collect_destroy(&s->c1);
    if (s_send_set(r, s, KT_PSI_A2, s->granted_them, s->sent2, n, &d) != 0 ||
        s_send_set(r, s, KT_PSI_B1, s->want, b1, s->nids, &d) != 0)
        s_fail(r, s, "internal", d.msg, now_ms);
out:
    free(b1);
}

/* Initiator: a2 and b1 are in; compare, and send b2. */
static void s_conclude(kt_reconcile_t *r, struct kt_rc_sess *s, int64_t now_ms)
{
    const kt_psi_msg_t *h2 = kt_psi_collect_header(s->c1), *h1 = kt_psi_collect_header(s->c2);
    const uint8_t *a2, *b1;
    size_t na2 = 0, nb1 = 0;
    kt_psi_result_t res;
    uint8_t *b2 = NULL;
    kt_diag_t d = {{0}};
    int membership;

    a2 = kt_psi_collect_points(s->c1, &na2);
    b1 = kt_psi_collect_points(s->c2, &nb1);
    memset(&res, 0, sizeof(res));
    if (na2 != s->nids) {
        snprintf(d.msg, sizeof(d.msg), "the answer holds %zu points for our %zu", na2, s->nids);
        s_fail(r, s, "malformed", d.msg, now_ms);
        return;
    }
    s->granted_us = s_min(h2->mode, s->want);
    s->granted_them = s_min(h1->mode, s->granted_them);
    membership = s->granted_us == KT_PSI_MEMBERSHIP;
    if ((b2 = malloc((nb1 + 1) * KT_PSI_POINT_BYTES)) == NULL ||
        kt_psi_reblind(s->psi, b2, b1, nb1, s->granted_them == KT_PSI_MEMBERSHIP,
                       KT_RECONCILE_THREADS, &d) != 0) {
        s_fail(r, s, b2 ? "invalid_points" : "internal", b2 ? d.msg : "out of memory", now_ms);
        goto out;
    }
    if (kt_psi_compare(&res, a2, na2, membership ? s->perm : NULL, b2, nb1, &d) != 0) {
        s_fail(r, s, "invalid_points", d.msg, now_ms);
        goto out;
    }
    if (s_send_set(r, s, KT_PSI_B2, s->granted_them, b2, nb1, &d) != 0) {
        s_fail(r, s, "internal", d.msg, now_ms);
        goto out;
    }
    s_finish(r, s, &res, membership, now_ms);
out:
    kt_psi_result_clear(&res);
    free(b2);
}

/* Responder: b2 is in; compare with the a2 we sent. */
static void s_close(kt_reconcile_t *r, struct kt_rc_sess *s, int64_t now_ms)
{
    const kt_psi_msg_t *h = kt_psi_collect_header(s->c2);
    const uint8_t *b2;
    size_t nb2 = 0;
    kt_psi_result_t res;
    kt_diag_t d = {{0}};
    int membership;

    memset(&res, 0, sizeof(res));
    b2 = kt_psi_collect_points(s->c2, &nb2);
    if (nb2 != s->nids) {
        snprintf(d.msg, sizeof(d.msg), "the answer holds %zu points for our %zu", nb2, s->nids);
        s_fail(r, s, "malformed", d.msg, now_ms);
        return;
    }
    membership = s_min(h->mode, s->want) == KT_PSI_MEMBERSHIP;
    if (kt_psi_compare(&res, b2, nb2, membership ? s->perm : NULL, s->sent2, s->nsent2, &d) != 0)
        s_fail(r, s, "invalid_points", d.msg, now_ms);
    else
        s_finish(r, s, &res, membership, now_ms);
    kt_psi_result_clear(&res);
}

/* Why we will not answer this first a1 chunk, or NULL: a replayed session,
 * no policy for it, our list not open to it, a set over its max_ids, too
 * many sessions today or at once. Logs the refusal. */
static const char *s_refusal(kt_reconcile_t *r, const char *partner, const kt_psi_msg_t *m,
                             int64_t now_ms)
{
    const kt_policy_version_t *v = kt_rc_policy(r, partner);
    kt_diag_t d = {{0}};
    int seen = kt_rc_seen(r, m->session, &d);
    const char *limit;

    if (seen != 0) {
        kt_log_warnx("list comparison from %s refused: %s", partner,
                     seen > 0 ? "session replayed" : d.msg);
        return seen > 0 ? "replay" : "internal";
    }
    if (s_allowed(r, partner) == 0) {
        kt_log_warnx("list comparison from %s refused: our policy has reconcile.lists none for it",
                     partner);
        return "denied";
    }
    if (m->total > (uint32_t)v->reconcile_max_ids) {
        kt_log_warnx("list comparison from %s refused: a set of %u, its policy allows %d "
                     "(reconcile.max_ids)",
                     partner, (unsigned)m->total, v->reconcile_max_ids);
        return "too_big";
    }
    if ((limit = kt_rc_limits(r, v, partner, m->list, now_ms)) != NULL)
        return limit;
    if (kt_rc_open_count(r, partner) >= KT_RECONCILE_OPEN_MAX) {
        kt_log_warnx("list comparison from %s refused: %d sessions with it are open already",
                     partner, KT_RECONCILE_OPEN_MAX);
        return "busy";
    }
    return NULL;
}

/* The first a1 chunk of a session we have not seen: open it if we may. */
static struct kt_rc_sess *s_open_responder(kt_reconcile_t *r, const char *partner,
                                           const kt_psi_msg_t *m, int64_t now_ms)
{
    const char *why = s_refusal(r, partner, m, now_ms);
    struct kt_rc_sess *s;
    kt_diag_t d = {{0}};

    if (why != NULL) {
        kt_rc_refuse(r, partner, KT_KIND_PSI_RESPONSE, m->session, why);
        return NULL;
    }
    s = kt_rc_add(r, m->session, partner, m->list, S_LISTS, S_RESPONDER,
                  kt_trail_partner(*r->env.conf, partner), now_ms);
    if (s == NULL)
        return NULL;
    memcpy(s->nonce, m->nonce, KT_PSI_NONCE_BYTES);
    s->want = KT_PSI_MEMBERSHIP;
    s->granted_them = s_min(m->mode, s_allowed(r, partner));
    if (kt_psi_collect_new(&s->c1) != 0 || kt_psi_collect_new(&s->c2) != 0 ||
        kt_rc_row_open(r, s, NULL, now_ms, &d) != 0) {
        kt_log_warnx("list comparison from %s: %s", partner, d.msg);
        kt_rc_drop(r, s);
        return NULL;
    }
    return s;
}

/* Which collector a chunk goes to, or NULL when it does not belong. */
static kt_psi_collect_t *s_slot(const struct kt_rc_sess *s, const kt_psi_msg_t *m, kt_kind_t kind)
{
    kt_psi_collect_t *c;

    if (s->kind != S_LISTS || memcmp(s->nonce, m->nonce, KT_PSI_NONCE_BYTES) != 0 ||
        strcmp(s->list, m->list) != 0 || kind != s_kind(m->step))
        return NULL;
    /* b2 only once we have answered; nothing for a set already complete
     * (a late duplicate part is ignored, not fatal) */
    if (s->role == S_RESPONDER)
        c = m->step == KT_PSI_A1                                        ? s->c1
            : m->step == KT_PSI_B2 && s->c1 == NULL && s->sent2 != NULL ? s->c2
                                                                        : NULL;
    else
        c = m->step == KT_PSI_A2 ? s->c1 : m->step == KT_PSI_B1 ? s->c2 : NULL;
    return c != NULL && !kt_psi_collect_done(c) ? c : NULL;
}

void kt_rc_on_psi(kt_reconcile_t *r, const char *partner, const kt_payload_t *p, int64_t now_ms)
{
    struct kt_rc_sess *s;
    kt_psi_collect_t *c;
    kt_psi_msg_t m;
    kt_diag_t d = {{0}};

    if (p->body == NULL || kt_psi_wire_decode(&m, p->body, p->body_len, &d) != 0) {
        kt_log_warnx("%s from %s ignored: %s", kt_kind_name(p->kind), partner, d.msg);
        return;
    }
    if (strcmp(m.from, partner) != 0 || strcmp(m.to, (*r->env.conf)->id) != 0) {
        kt_log_warnx("%s from %s ignored: it names %s to %s", kt_kind_name(p->kind), partner,
                     m.from, m.to);
        return;
    }
    s = kt_rc_find(r, m.session);
    if (s == NULL && m.step == KT_PSI_A1 && p->kind == KT_KIND_PSI_REQUEST)
        s = s_open_responder(r, partner, &m, now_ms);
    else if (s == NULL)
        kt_log_warnx("%s (%s) from %s ignored: no such session", kt_kind_name(p->kind),
                     kt_psi_step_name(m.step), partner);
    if (s == NULL)
        return;
    if (strcmp(s->partner, partner) != 0 || (c = s_slot(s, &m, p->kind)) == NULL) {
        kt_log_warnx("%s (%s) from %s ignored: not the step its session expects",
                     kt_kind_name(p->kind), kt_psi_step_name(m.step), partner);
        return;
    }
    if (kt_psi_collect_add(c, &m, &d) != 0) {
        kt_log_warnx("list comparison with %s: %s", partner, d.msg);
        s_fail(r, s, "malformed", d.msg, now_ms);
        return;
    }
    if (!kt_psi_collect_done(c))
        return;
    if (s->role == S_RESPONDER && m.step == KT_PSI_A1)
        s_answer(r, s, now_ms);
    else if (s->role == S_RESPONDER)
        s_close(r, s, now_ms);
    else if (kt_psi_collect_done(s->c1) && kt_psi_collect_done(s->c2))
        s_conclude(r, s, now_ms);
}
