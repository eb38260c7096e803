/*
 * reconcile.c - reconciliation sessions, their rows and audit entries, and
 * the count comparison (reconcile.h, docs/protocol.md §12).
 *
 * A count message's body is the CBOR array [list name, count set]
 * (counts_wire.c encodes the set); its envelope id is the session id, and
 * the responder answers with the same id. Must never send a count under the
 * policy's suppress_below, answer a session id twice, or put a pupil's id
 * into a row, an audit entry or a log line: only list names, keys, codes
 * and numbers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keten/audit.h"
#include "keten/consent.h"
#include "keten/log.h"
#include "keten/receipt.h"
#include "keten/trail.h"
#include "keten/vault.h"

#include "reconcile_int.h"

#define S_RESULT_COUNTS "KC1"

static void s_copy_col(char *dst, size_t cap, kt_stmt_t *q,
                       int col); /* result blob of a count session: tag, u32be len, ours, theirs */

/* ---- sessions in memory ---- */

struct kt_rc_sess *kt_rc_find(kt_reconcile_t *r, const uint8_t *id)
{
    struct kt_rc_sess *s;

    for (s = r->sessions; s != NULL; s = s->next)
        if (memcmp(s->id, id, KT_RECONCILE_ID_BYTES) == 0)
            return s;
    return NULL;
}

struct kt_rc_sess *kt_rc_add(kt_reconcile_t *r, const uint8_t *id, const char *partner,
                             const char *list, int kind, int role, const char *actor,
                             int64_t now_ms)
{
    struct kt_rc_sess *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    memcpy(s->id, id, KT_RECONCILE_ID_BYTES);
    snprintf(s->partner, sizeof(s->partner), "%s", partner);
    snprintf(s->list, sizeof(s->list), "%s", list);
    snprintf(s->actor, sizeof(s->actor), "%s", actor);
    s->kind = kind;
    s->role = role;
    s->expires_ms = now_ms + (int64_t)KT_RECONCILE_TIMEOUT_S * 1000;
    s->next = r->sessions;
    r->sessions = s;
    return s;
}

size_t kt_rc_open_count(kt_reconcile_t *r, const char *partner)
{
    struct kt_rc_sess *s;
    size_t n = 0;

    for (s = r->sessions; s != NULL; s = s->next)
        n += strcmp(s->partner, partner) == 0;
    return n;
}

void kt_rc_drop(kt_reconcile_t *r, struct kt_rc_sess *s)
{
    struct kt_rc_sess **pp;

    for (pp = &r->sessions; *pp != NULL; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    kt_rc_psi_free(s);
    free(s->ours);
    free(s);
}

/* ---- rows ---- */

static int64_t s_now_s(void)
{
    return (int64_t)time(NULL);
}

const kt_policy_version_t *kt_rc_policy(kt_reconcile_t *r, const char *partner)
{
    char today[KT_DATE_BYTES];

    kt_consent_today(today);
    return kt_policy_version(*r->env.policies, partner, today);
}

/* Partner-imposed limits on a question it asks us: a list our policy for it
 * names, and at most reconcile.per_day sessions a day. 0 when it may go on,
 * else the refusal code (and a log line). */
const char *kt_rc_limits(kt_reconcile_t *r, const kt_policy_version_t *v, const char *partner,
                         const char *list, int64_t now_ms)
{
    static const char sql[] = "SELECT count(*) FROM reconcile_session WHERE partner = ?1 AND"
                              " role = 'responder' AND created > ?2";
    kt_stmt_t *q = NULL;
    kt_diag_t d = {{0}};
    int64_t n = 0;

    if (!kt_policy_reconcile_allows_list(v, list)) {
        kt_log_warnx("reconciliation from %s refused: our policy does not let it compare list %s",
                     partner, list);
        return "denied";
    }
    if (kt_store_prepare(r->env.st, &q, sql, &d) == 0 && kt_stmt_bind_text(q, 1, partner) == 0 &&
        kt_stmt_bind_int64(q, 2, now_ms / 1000 - 86400) == 0 && kt_stmt_step(q, &d) == KT_STORE_ROW)
        n = kt_stmt_column_int64(q, 0);
    kt_stmt_finalize(&q);
    if (n >= v->reconcile_per_day) {
        kt_log_warnx("reconciliation from %s refused: %lld sessions in 24 hours, its policy allows "
                     "%d (reconcile.per_day)",
                     partner, (long long)n, v->reconcile_per_day);
        return "busy";
    }
    return NULL;
}

int kt_rc_seen(kt_reconcile_t *r, const uint8_t *id, kt_diag_t *d)
{
    static const char sql[] = "SELECT 1 FROM reconcile_session WHERE id = ?1";
    kt_stmt_t *q = NULL;
    int rc;

    if ((rc = kt_store_prepare(r->env.st, &q, sql, d)) != 0)
        return rc;
    if ((rc = kt_stmt_bind_blob(q, 1, id, KT_RECONCILE_ID_BYTES)) == 0)
        rc = kt_stmt_step(q, d);
    kt_stmt_finalize(&q);
    return rc < 0 ? rc : rc == KT_STORE_ROW;
}

/* Runs fn in the open transaction, or in one of its own. */
static int s_in_txn(kt_store_t *st, int (*fn)(void *, kt_diag_t *), void *ctx, kt_diag_t *d)
{
    int own = !kt_store_in_transaction(st), rc;

    if (own && (rc = kt_store_begin(st, d)) != 0)
        return rc;
    rc = fn(ctx, d);
    if (own) {
        if (rc == 0)
            rc = kt_store_commit(st, d);
        if (rc != 0)
            kt_store_rollback(st);
    }
    return rc;
}

/* How long a row stays: KT_RECONCILE_KEEP_DAYS, and never shorter than
 * the maximum message age, so a replayed session id always finds its row. */
static int64_t s_keep_s(kt_reconcile_t *r)
{
    int64_t keep = (int64_t)KT_RECONCILE_KEEP_DAYS * 86400, age = (*r->env.conf)->max_message_age;

    return age + 86400 > keep ? age + 86400 : keep;
}

struct s_open {
    kt_reconcile_t *r;
    const struct kt_rc_sess *s;
    const char *key;
    int64_t now_s;
};

static int s_row_open(void *ctx, kt_diag_t *d)
{
    static const char sql[] =
        "INSERT INTO reconcile_session (id, partner, kind, role, list, count_key, state,"
        " created, updated, expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'open', ?7, ?7, ?8)";
    struct s_open *o = ctx;
    kt_stmt_t *q = NULL;
    int rc;

    if ((rc = kt_store_prepare(o->r->env.st, &q, sql, d)) != 0)
        return rc;
    if ((rc = kt_stmt_bind_blob(q, 1, o->s->id, KT_RECONCILE_ID_BYTES)) == 0 &&
        (rc = kt_stmt_bind_text(q, 2, o->s->partner)) == 0 &&
        (rc = kt_stmt_bind_text(q, 3, o->s->kind == S_COUNTS ? "counts" : "lists")) == 0 &&
        (rc = kt_stmt_bind_text(q, 4, o->s->role == S_INITIATOR ? "initiator" : "responder")) ==
            0 &&
        (rc = kt_stmt_bind_text(q, 5, o->s->list)) == 0 &&
        (rc = o->key ? kt_stmt_bind_text(q, 6, o->key) : kt_stmt_bind_null(q, 6)) == 0 &&
        (rc = kt_stmt_bind_int64(q, 7, o->now_s)) == 0 &&
        (rc = kt_stmt_bind_int64(q, 8, o->now_s + s_keep_s(o->r))) == 0)
        rc = kt_stmt_step(q, d);
    kt_stmt_finalize(&q);
    return rc < 0 ? rc : 0;
}

int kt_rc_row_open(kt_reconcile_t *r, const struct kt_rc_sess *s, const char *key, int64_t now_ms,
                   kt_diag_t *d)
{
    struct s_open o = {r, s, key, now_ms / 1000};

    return s_in_txn(r->env.st, s_row_open, &o, d);
}

struct s_fin {
    kt_reconcile_t *r;
    const struct kt_rc_sess *s;
    const char *state, *reason;
    const uint8_t *result;
    size_t len;
    int64_t now_s;
};

static int s_row_finish(void *ctx, kt_diag_t *d)
{
    static const char sql[] = "UPDATE reconcile_session SET state = ?2, reason = ?3, result = ?4,"
                              " updated = ?5 WHERE id = ?1";
    struct s_fin *f = ctx;
    kt_stmt_t *q = NULL;
    kt_trail_t t;
    int rc;

    if ((rc = kt_store_prepare(f->r->env.st, &q, sql, d)) != 0)
        return rc;
    if ((rc = kt_stmt_bind_blob(q, 1, f->s->id, KT_RECONCILE_ID_BYTES)) == 0 &&
        (rc = kt_stmt_bind_text(q, 2, f->state)) == 0 &&
        (rc = kt_stmt_bind_text(q, 3, f->reason)) == 0 &&
        (rc = f->result ? kt_stmt_bind_blob(q, 4, f->result, f->len) : kt_stmt_bind_null(q, 4)) ==
            0 &&
        (rc = kt_stmt_bind_int64(q, 5, f->now_s)) == 0)
        rc = kt_stmt_step(q, d);
    kt_stmt_finalize(&q);
    if (rc < 0)
        return rc;
    memset(&t, 0, sizeof(t));
    t.actor = f->s->actor;
    t.action = KT_AUDIT_RECONCILED;
    t.decision = f->state;
    t.record_type = f->s->kind == S_COUNTS ? "counts" : "lists";
    t.record_id = f->s->id;
    t.partner = f->s->partner;
    t.reason = f->reason;
    t.doel = "lijstvergelijking";
    return kt_trail_write(f->r->env.st, &t, d);
}

void kt_rc_finish(kt_reconcile_t *r, struct kt_rc_sess *s, const char *state, const char *reason,
                  const uint8_t *result, size_t len, int64_t now_ms)
{
    struct s_fin f = {r, s, state, reason, result, len, now_ms / 1000};
    char hex[KT_ENVELOPE_ID_HEX];
    kt_diag_t d = {{0}};

    kt_envelope_id_hex(hex, s->id);
    if (s_in_txn(r->env.st, s_row_finish, &f, &d) != 0)
        kt_log_warnx("reconciliation %s with %s: outcome not stored: %s", hex, s->partner, d.msg);
    else
        kt_log_info("reconciliation %s (%s of list %s) with %s: %s: %s", hex,
                    s->kind == S_COUNTS ? "counts" : "lists", s->list, s->partner, state, reason);
    kt_rc_drop(r, s);
}

void kt_rc_refuse(kt_reconcile_t *r, const char *partner, kt_kind_t kind, const uint8_t *id,
                  const char *code)
{
    uint8_t body[KT_REFUSAL_MAX_BYTES];
    kt_diag_t d = {{0}};
    int n = kt_refusal_encode(body, code);

    if (n < 0 || kt_exchange_send(r->env.x, partner, kind, id, body, (size_t)n, &d) != 0)
        kt_log_warnx("refusal (%s) to %s not sent: %s", code, partner, d.msg);
}

/* ---- count messages: [list, set] ---- */

static int s_counts_body(uint8_t **out, size_t *len, const char *list, const kt_counts_set_t *set,
                         kt_diag_t *d)
{
    size_t n = strlen(list), h = n < 24 ? 1 : 2, slen = 0;
    uint8_t *sb = NULL, *b;
    int rc;

    if ((rc = kt_counts_encode(&sb, &slen, set, d)) != 0)
        return rc;
    if ((b = malloc(1 + h + n + slen)) == NULL) {
        kt_counts_free_bytes(sb);
        return kt_diag_set(d, KT_ENOMEM, "out of memory");
    }
    b[0] = 0x82; /* array(2) */
    if (h == 1) {
        b[1] = (uint8_t)(0x60 + n);
    } else {
        b[1] = 0x78;
        b[2] = (uint8_t)n;
    }
    memcpy(b + 1 + h, list, n);
    memcpy(b + 1 + h + n, sb, slen);
    kt_counts_free_bytes(sb);
    *out = b;
    *len = 1 + h + n + slen;
    return 0;
}

static int s_counts_parse(char list[KT_PSI_LIST_MAX + 1], kt_counts_set_t *set, const uint8_t *b,
                          size_t len, kt_diag_t *d)
{
    size_t n, h;

    if (len < 3 || b[0] != 0x82)
        return kt_diag_set(d, KT_EMALFORMED, "counts: expected [list, count set]");
    if (b[1] >= 0x61 && b[1] < 0x78) {
        n = (size_t)(b[1] - 0x60);
        h = 1;
    } else if (b[1] == 0x78 && b[2] >= 24) {
        n = b[2];
        h = 2;
    } else {
        return kt_diag_set(d, KT_EMALFORMED, "counts: the list name is not a short text");
    }
    if (n > KT_PSI_LIST_MAX || 1 + h + n > len)
        return kt_diag_set(d, KT_EMALFORMED, "counts: the list name is too long");
    memcpy(list, b + 1 + h, n);
    list[n] = '\0';
    if (!kt_registry_name_valid(list))
        return kt_diag_set(d, KT_EMALFORMED, "counts: not a list name");
    return kt_counts_decode(set, b + 1 + h + n, len - 1 - h - n, d);
}

static void s_key_text(char *out, size_t cap, const kt_counts_key_t *k)
{
    snprintf(out, cap, "%s/%s/%s/%s/%s", k->eenheid, k->definitie, k->scope, k->period, k->by);
}

/* Both sets, as the row keeps them. */
static int s_counts_result(uint8_t **out, size_t *len, const kt_counts_set_t *ours,
                           const kt_counts_set_t *theirs, kt_diag_t *d)
{
    uint8_t *a = NULL, *b = NULL, *r;
    size_t alen = 0, blen = 0;
    int rc;

    *out = NULL;
    if ((rc = kt_counts_encode(&a, &alen, ours, d)) != 0 ||
        (rc = kt_counts_encode(&b, &blen, theirs, d)) != 0)
        goto out;
    if ((r = malloc(3 + 4 + alen + blen)) == NULL) {
        rc = kt_diag_set(d, KT_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(r, S_RESULT_COUNTS, 3);
    r[3] = (uint8_t)(alen >> 24);
    r[4] = (uint8_t)(alen >> 16);
    r[5] = (uint8_t)(alen >> 8);
    r[6] = (uint8_t)alen;
    memcpy(r + 7, a, alen);
    memcpy(r + 7 + alen, b, blen);
    *out = r;
    *len = 7 + alen + blen;
out:
    kt_counts_free_bytes(a);
    kt_counts_free_bytes(b);
    return rc;
}

/* The reason line of a finished count session. */
static void s_counts_reason(char *out, size_t cap, const kt_counts_set_t *ours,
                            const kt_counts_set_t *theirs)
{
    kt_counts_diff_t *df = calloc(1, sizeof(*df));
    kt_diag_t d = {{0}};
    char key[5 * (KT_COUNTS_NAME_MAX + 1)];

    s_key_text(key, sizeof(key), &ours->key);
    if (df != NULL && kt_counts_diff(df, ours, theirs, &d) == 0)
        snprintf(out, cap, "%zu of %zu buckets differ (%.60s)", df->differ, df->n, key);
    else
        snprintf(out, cap, "compared (%.60s)", key);
    free(df);
}

/* Our set for list under q, suppressed as our policy for partner says. */
static int s_our_set(kt_reconcile_t *r, const char *partner, const char *list,
                     const kt_counts_query_t *q, kt_counts_set_t *set, kt_diag_t *d)
{
    const kt_policy_version_t *v = kt_rc_policy(r, partner);
    kt_registry_entry_t *e = NULL;
    kt_counts_stats_t stats;
    size_t n = 0, unreadable = 0;
    int rc;

    if ((rc = kt_registry_load(&e, &n, r->env.st, kt_exchange_vault(r->env.x), list, &unreadable,
                               d)) != 0)
        return rc;
    rc = kt_counts_compute(set, &stats, e, n, q, d);
    kt_registry_entries_free(e, n);
    if (rc == 0 && v != NULL && v->suppress_below > 0 && kt_counts_suppress(set, v->suppress_below))
        (void)kt_counts_suppress_complement(set);
    return rc;
}

int kt_reconcile_start_counts(kt_reconcile_t *r, const char *actor, const char *partner,
                              const char *list, const kt_counts_query_t *q,
                              uint8_t id[KT_RECONCILE_ID_BYTES], kt_diag_t *d)
{
    const kt_policy_version_t *v = kt_rc_policy(r, partner);
    int64_t now = s_now_s() * 1000;
    struct kt_rc_sess *s = NULL;
    char key[5 * (KT_COUNTS_NAME_MAX + 1)];
    uint8_t *body = NULL;
    size_t len = 0;
    int rc;

    if (v == NULL || !v->reconcile_counts)
        return kt_diag_set(d, KT_EDENIED,
                           "our policy for %s does not allow count comparison (reconcile.counts "
                           "in its version in force; docs/policy.md)",
                           partner);
    kt_envelope_new_id(id);
    if ((s = kt_rc_add(r, id, partner, list, S_COUNTS, S_INITIATOR, actor, now)) == NULL ||
        (s->ours = calloc(1, sizeof(*s->ours))) == NULL) {
        rc = kt_diag_set(d, KT_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = s_our_set(r, partner, list, q, s->ours, d)) != 0 ||
        (rc = s_counts_body(&body, &len, list, s->ours, d)) != 0)
        goto fail;
    s_key_text(key, sizeof(key), &s->ours->key);
    if ((rc = kt_rc_row_open(r, s, key, now, d)) != 0)
        goto fail;
    if ((rc = kt_exchange_send(r->env.x, partner, KT_KIND_COUNTS, id, body, len, d)) != 0) {
        free(body);
        kt_rc_finish(r, s, "failed", d->msg, NULL, 0, now); /* its row exists: end it */
        return rc;
    }
    free(body);
    return 0;
fail:
    free(body);
    if (s != NULL)
        kt_rc_drop(r, s);
    return rc;
}

static int s_key_equal(const kt_counts_key_t *a, const kt_counts_key_t *b)
{
    return strcmp(a->eenheid, b->eenheid) == 0 && strcmp(a->definitie, b->definitie) == 0 &&
           strcmp(a->scope, b->scope) == 0 && strcmp(a->period, b->period) == 0 &&
           strcmp(a->by, b->by) == 0;
}

/* The partner's answer to our counts. */
static void s_counts_answer(kt_reconcile_t *r, struct kt_rc_sess *s, const char *list,
                            const kt_counts_set_t *theirs, int64_t now_ms)
{
    char reason[160];
    uint8_t *res = NULL;
    size_t len = 0;
    kt_diag_t d = {{0}};

    if (strcmp(list, s->list) != 0 || !s_key_equal(&theirs->key, &s->ours->key)) {
        kt_rc_finish(r, s, "failed", "the answer is for another list or count key", NULL, 0,
                     now_ms);
        return;
    }
    if (s_counts_result(&res, &len, s->ours, theirs, &d) != 0) {
        kt_rc_finish(r, s, "failed", "out of memory", NULL, 0, now_ms);
        return;
    }
    s_counts_reason(reason, sizeof(reason), s->ours, theirs);
    kt_rc_finish(r, s, "done", reason, res, len, now_ms);
    free(res);
}

/* A partner's request: answer with our set under the same key. */
static void s_counts_request(kt_reconcile_t *r, const char *partner, const uint8_t *id,
                             const char *list, const kt_counts_set_t *theirs, int64_t now_ms)
{
    const kt_policy_version_t *v = kt_rc_policy(r, partner);
    const kt_counts_key_t *k = &theirs->key;
    kt_counts_query_t q = {k->definitie, k->period, k->by, k->scope};
    struct kt_rc_sess *s;
    char key[5 * (KT_COUNTS_NAME_MAX + 1)], reason[160];
    uint8_t *body = NULL, *res = NULL;
    size_t len = 0, rlen = 0;
    kt_diag_t d = {{0}};
    const char *limit;
    int seen;

    if ((seen = kt_rc_seen(r, id, &d)) != 0) {
        kt_log_warnx("counts from %s refused: %s", partner, seen > 0 ? "session replayed" : d.msg);
        kt_rc_refuse(r, partner, KT_KIND_COUNTS, id, seen > 0 ? "replay" : "internal");
        return;
    }
    if (v == NULL || !v->reconcile_counts) {
        kt_log_warnx("counts from %s refused: our policy has no reconcile.counts for it", partner);
        kt_rc_refuse(r, partner, KT_KIND_COUNTS, id, "denied");
        return;
    }
    if (kt_rc_open_count(r, partner) >= KT_RECONCILE_OPEN_MAX) {
        kt_log_warnx("counts from %s refused: %d sessions with it are open already", partner,
                     KT_RECONCILE_OPEN_MAX);
        kt_rc_refuse(r, partner, KT_KIND_COUNTS, id, "busy");
        return;
    }
    if ((limit = kt_rc_limits(r, v, partner, list, now_ms)) != NULL) {
        kt_rc_refuse(r, partner, KT_KIND_COUNTS, id, limit);
        return;
    }
    s = kt_rc_add(r, id, partner, list, S_COUNTS, S_RESPONDER,
                  kt_trail_partner(*r->env.conf, partner), now_ms);
    if (s == NULL || (s->ours = calloc(1, sizeof(*s->ours))) == NULL) {
        if (s != NULL)
            kt_rc_drop(r, s);
        return;
    }
    s_key_text(key, sizeof(key), k);
    if (kt_rc_row_open(r, s, key, now_ms, &d) != 0) {
        kt_log_warnx("counts from %s: %s", partner, d.msg);
        kt_rc_drop(r, s);
        return;
    }
    if (s_our_set(r, partner, list, &q, s->ours, &d) != 0) {
        kt_registry_info_t info;
        kt_diag_t ignore = {{0}};

        kt_rc_refuse(r, partner, KT_KIND_COUNTS, id,
                     kt_registry_info(&info, r->env.st, list, &ignore) == KT_ENOENT
                         ? "no_list"
                         : "cannot_count");
        kt_rc_finish(r, s, "failed", d.msg, NULL, 0, now_ms);
        return;
    }
    if (s_counts_body(&body, &len, list, s->ours, &d) != 0 ||
        kt_exchange_send(r->env.x, partner, KT_KIND_COUNTS, id, body, len, &d) != 0 ||
        s_counts_result(&res, &rlen, s->ours, theirs, &d) != 0) {
        kt_rc_finish(r, s, "failed", d.msg, NULL, 0, now_ms);
    } else {
        s_counts_reason(reason, sizeof(reason), s->ours, theirs);
        kt_rc_finish(r, s, "done", reason, res, rlen, now_ms);
    }
    free(body);
    free(res);
}

static void s_on_counts(kt_reconcile_t *r, const char *partner, const kt_payload_t *p,
                        int64_t now_ms)
{
    kt_counts_set_t *set = calloc(1, sizeof(*set));
    char list[KT_PSI_LIST_MAX + 1];
    struct kt_rc_sess *s;
    kt_diag_t d = {{0}};

    if (set == NULL)
        return;
    if (s_counts_parse(list, set, p->body, p->body_len, &d) != 0) {
        kt_log_warnx("counts from %s ignored: %s", partner, d.msg);
        s = kt_rc_find(r, p->id);
        if (s != NULL && s->role == S_INITIATOR && strcmp(s->partner, partner) == 0)
            kt_rc_finish(r, s, "failed", d.msg, NULL, 0, now_ms); /* our own question: done */
        else
            kt_rc_refuse(r, partner, KT_KIND_COUNTS, p->id, "malformed");
    } else if ((s = kt_rc_find(r, p->id)) != NULL) {
        if (s->role == S_INITIATOR && s->kind == S_COUNTS && strcmp(s->partner, partner) == 0)
            s_counts_answer(r, s, list, set, now_ms);
        else
            kt_log_warnx("counts from %s ignored: not an answer to a count session of ours",
                         partner);
    } else {
        s_counts_request(r, partner, p->id, list, set, now_ms);
    }
    free(set);
}

/* ---- refusals, the handler, the tick ---- */

static void s_on_refusal(kt_reconcile_t *r, const char *partner, const uint8_t *id,
                         const char *code, int64_t now_ms)
{
    struct kt_rc_sess *s = kt_rc_find(r, id);
    char why[96];

    if (s == NULL || strcmp(s->partner, partner) != 0)
        return; /* nothing of ours: never answer a refusal */
    snprintf(why, sizeof(why), "%s refused: %s", partner, code);
    kt_rc_finish(r, s, "failed", why, NULL, 0, now_ms);
}

void kt_reconcile_on_message(void *ctx, const char *partner, const kt_payload_t *p, int64_t now_ms)
{
    kt_reconcile_t *r = ctx;
    char code[KT_REFUSAL_CODE_MAX + 1];

    if (p->body != NULL && kt_refusal_decode(code, p->body, p->body_len) == 0)
        s_on_refusal(r, partner, p->id, code, now_ms);
    else if (p->kind == KT_KIND_COUNTS)
        s_on_counts(r, partner, p, now_ms);
    else
        kt_rc_on_psi(r, partner, p, now_ms);
}

void kt_reconcile_tick(kt_reconcile_t *r, int64_t now_ms)
{
    static const char sql[] = "DELETE FROM reconcile_session WHERE state != 'open' AND"
                              " expires < ?1";
    struct kt_rc_sess *s = r->sessions, *next;
    kt_stmt_t *q = NULL;
    kt_diag_t d = {{0}};

    for (; s != NULL; s = next) {
        next = s->next;
        if (s->expires_ms <= now_ms)
            kt_rc_finish(r, s, "failed", "no answer in time", NULL, 0, now_ms);
    }
    if (now_ms < r->next_purge_ms)
        return;
    r->next_purge_ms = now_ms + 60000;
    if (kt_store_prepare(r->env.st, &q, sql, &d) == 0 &&
        kt_stmt_bind_int64(q, 1, now_ms / 1000) == 0 && kt_stmt_step(q, &d) < 0)
        kt_log_warnx("reconciliation rows not purged: %s", d.msg);
    kt_stmt_finalize(&q);
}

/* ---- life and views ---- */

/* Sessions live in memory: one still open when the node stopped can never
 * finish. Its row fails, and the failure is audited like any outcome. */
static int s_fail_stale(void *ctx, kt_diag_t *d)
{
    static const char sql[] =
        "UPDATE reconcile_session SET state = 'failed', reason = ?1, updated = ?2"
        " WHERE state = 'open' RETURNING id, partner, kind, list";
    static const char why[] = "the node stopped during the session";
    kt_reconcile_t *r = ctx;
    struct kt_rc_sess *stale = NULL, *s;
    kt_stmt_t *q = NULL;
    int64_t now = s_now_s();
    kt_trail_t t;
    int rc;

    if ((rc = kt_store_prepare(r->env.st, &q, sql, d)) != 0)
        return rc;
    if ((rc = kt_stmt_bind_text(q, 1, why)) == 0 && (rc = kt_stmt_bind_int64(q, 2, now)) == 0)
        while ((rc = kt_stmt_step(q, d)) == KT_STORE_ROW) {
            const char *kind = kt_stmt_column_text(q, 2);

            if (kt_stmt_column_bytes(q, 0) != KT_RECONCILE_ID_BYTES ||
                (s = calloc(1, sizeof(*s))) == NULL)
                continue;
            memcpy(s->id, kt_stmt_column_blob(q, 0), KT_RECONCILE_ID_BYTES);
            s_copy_col(s->partner, sizeof(s->partner), q, 1);
            s->kind = kind != NULL && strcmp(kind, "counts") == 0 ? S_COUNTS : S_LISTS;
            s->next = stale;
            stale = s;
        }
    kt_stmt_finalize(&q);
    for (rc = rc < 0 ? rc : 0; stale != NULL; stale = s) {
        s = stale->next;
        memset(&t, 0, sizeof(t));
        t.actor = KT_TRAIL_DAEMON;
        t.action = KT_AUDIT_RECONCILED;
        t.decision = "failed";
        t.record_type = stale->kind == S_COUNTS ? "counts" : "lists";
        t.record_id = stale->id;
        t.partner = stale->partner;
        t.reason = why;
        t.doel = "lijstvergelijking";
        if (rc == 0)
            rc = kt_trail_write(r->env.st, &t, d);
        free(stale);
    }
    return rc;
}

int kt_reconcile_new(kt_reconcile_t **out, const kt_reconcile_env_t *env)
{
    kt_diag_t d = {{0}};

    if ((*out = calloc(1, sizeof(**out))) == NULL)
        return KT_ENOMEM;
    (*out)->env = *env;
    if (s_in_txn(env->st, s_fail_stale, *out, &d) != 0)
        kt_log_warnx("reconciliation: sessions open at the last stop not closed: %s", d.msg);
    return 0;
}

void kt_reconcile_destroy(kt_reconcile_t **p)
{
    if (p == NULL || *p == NULL)
        return;
    while ((*p)->sessions != NULL)
        kt_rc_drop(*p, (*p)->sessions);
    free(*p);
    *p = NULL;
}

static void s_copy_col(char *dst, size_t cap, kt_stmt_t *q, int col)
{
    const char *v = kt_stmt_column_text(q, col);

    snprintf(dst, cap, "%s", v ? v : "");
}

#define S_SESSION_COLS "id, partner, kind, role, list, state, reason, created, updated"

static void s_read_session(kt_stmt_t *q, kt_reconcile_session_t *s)
{
    memset(s, 0, sizeof(*s));
    if (kt_stmt_column_bytes(q, 0) == KT_RECONCILE_ID_BYTES)
        memcpy(s->id, kt_stmt_column_blob(q, 0), KT_RECONCILE_ID_BYTES);
    s_copy_col(s->partner, sizeof(s->partner), q, 1);
    s_copy_col(s->kind, sizeof(s->kind), q, 2);
    s_copy_col(s->role, sizeof(s->role), q, 3);
    s_copy_col(s->list, sizeof(s->list), q, 4);
    s_copy_col(s->state, sizeof(s->state), q, 5);
    s_copy_col(s->reason, sizeof(s->reason), q, 6);
    s->created = kt_stmt_column_int64(q, 7);
    s->updated = kt_stmt_column_int64(q, 8);
}

int kt_reconcile_list(kt_reconcile_t *r, kt_reconcile_session_t **out, size_t *n, kt_diag_t *d)
{
    static const char sql[] =
        "SELECT " S_SESSION_COLS " FROM reconcile_session ORDER BY created DESC, rowid DESC";
    kt_reconcile_session_t *a = NULL, *g;
    size_t cap = 0;
    kt_stmt_t *q = NULL;
    int rc;

    *out = NULL;
    *n = 0;
    if ((rc = kt_store_prepare(r->env.st, &q, sql, d)) != 0)
        return rc;
    while ((rc = kt_stmt_step(q, d)) == KT_STORE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            if ((g = realloc(a, cap * sizeof(*a))) == NULL) {
                rc = kt_diag_set(d, KT_ENOMEM, "out of memory");
                break;
            }
            a = g;
        }
        s_read_session(q, &a[(*n)++]);
    }
    kt_stmt_finalize(&q);
    if (rc < 0) {
        free(a);
        *n = 0;
        return rc;
    }
    *out = a;
    return 0;
}

static int s_outcome_counts(kt_reconcile_outcome_t *o, const uint8_t *b, size_t len, kt_diag_t *d)
{
    size_t alen;
    int rc;

    if (len < 7 || memcmp(b, S_RESULT_COUNTS, 3) != 0)
        return kt_diag_set(d, KT_EIO, "reconciliation result: corrupt");
    alen = (size_t)b[3] << 24 | (size_t)b[4] << 16 | (size_t)b[5] << 8 | b[6];
    if (alen > len - 7)
        return kt_diag_set(d, KT_EIO, "reconciliation result: corrupt");
    if ((o->ours = calloc(1, sizeof(*o->ours))) == NULL ||
        (o->theirs = calloc(1, sizeof(*o->theirs))) == NULL)
        return kt_diag_set(d, KT_ENOMEM, "out of memory");
    if ((rc = kt_counts_decode(o->ours, b + 7, alen, d)) != 0 ||
        (rc = kt_counts_decode(o->theirs, b + 7 + alen, len - 7 - alen, d)) != 0)
        return rc;
    return 0;
}

/* The list result, locked under the node key (it may name pupils):
 * "mode own theirs both only_own only_theirs\n" then one id per line. */
static int s_outcome_lists(kt_reconcile_t *r, kt_reconcile_outcome_t *o, const uint8_t *b,
                           size_t len, kt_diag_t *d)
{
    uint8_t *plain = NULL;
    size_t plen = 0, i, k;
    char *line, *save = NULL, *text;
    int mode = 0, rc;

    if ((rc = kt_vault_unlock(&plain, &plen, b, len, o->s.id, KT_RECONCILE_ID_BYTES,
                              kt_exchange_vault(r->env.x), d)) != 0)
        return rc;
    if ((text = malloc(plen + 1)) == NULL) {
        kt_vault_free(plain, plen);
        return kt_diag_set(d, KT_ENOMEM, "out of memory");
    }
    memcpy(text, plain, plen);
    text[plen] = '\0';
    kt_vault_free(plain, plen);
    line = strtok_r(text, "\n", &save);
    if (line == NULL || sscanf(line, "%d %zu %zu %zu %zu %zu", &mode, &o->own, &o->theirs_n,
                               &o->both, &o->only_own, &o->only_theirs) != 6) {
        rc = kt_diag_set(d, KT_EIO, "reconciliation result: corrupt");
        goto out;
    }
    o->mode = mode == KT_PSI_MEMBERSHIP ? KT_PSI_MEMBERSHIP : KT_PSI_CARDINALITY;
    if (o->only_own > 0 && o->mode == KT_PSI_MEMBERSHIP &&
        (o->missing = calloc(o->only_own, sizeof(*o->missing))) == NULL) {
        rc = kt_diag_set(d, KT_ENOMEM, "out of memory");
        goto out;
    }
    for (i = 0;
         o->missing != NULL && i < o->only_own && (line = strtok_r(NULL, "\n", &save)) != NULL;
         i++) {
        k = strlen(line) < KT_PSI_ID_MAX ? strlen(line) : KT_PSI_ID_MAX;
        memcpy(o->missing[i], line, k);
        o->missing[i][k] = '\0';
        o->nmissing++;
    }
out:
    memset(text, 0, plen);
    free(text);
    return rc;
}

int kt_reconcile_get(kt_reconcile_t *r, const uint8_t id[KT_RECONCILE_ID_BYTES],
                     kt_reconcile_outcome_t *o, kt_diag_t *d)
{
    static const char sql[] =
        "SELECT " S_SESSION_COLS ", result FROM reconcile_session WHERE id = ?1";
    char hex[KT_ENVELOPE_ID_HEX];
    kt_stmt_t *q = NULL;
    int rc;

    memset(o, 0, sizeof(*o));
    if ((rc = kt_store_prepare(r->env.st, &q, sql, d)) != 0)
        return rc;
    if ((rc = kt_stmt_bind_blob(q, 1, id, KT_RECONCILE_ID_BYTES)) != 0 ||
        (rc = kt_stmt_step(q, d)) < 0)
        goto out;
    if (rc == KT_STORE_DONE) {
        kt_envelope_id_hex(hex, id);
        rc = kt_diag_set(d, KT_ENOENT, "no reconciliation %s on this node", hex);
        goto out;
    }
    s_read_session(q, &o->s);
    rc = 0;
    if (strcmp(o->s.state, "done") == 0 && kt_stmt_column_bytes(q, 9) > 0)
        rc = strcmp(o->s.kind, "counts") == 0
                 ? s_outcome_counts(o, kt_stmt_column_blob(q, 9), kt_stmt_column_bytes(q, 9), d)
                 : s_outcome_lists(r, o, kt_stmt_column_blob(q, 9), kt_stmt_column_bytes(q, 9), d);
out:
    kt_stmt_finalize(&q);
    if (rc != 0)
        kt_reconcile_outcome_clear(o);
    return rc;
}

void kt_reconcile_outcome_clear(kt_reconcile_outcome_t *o)
{
    free(o->ours);
    free(o->theirs);
    if (o->missing != NULL) {
        memset(o->missing, 0, o->only_own * sizeof(*o->missing));
        free(o->missing);
    }
    memset(o, 0, sizeof(*o));
}
