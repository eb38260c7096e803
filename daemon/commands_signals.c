/*
 * commands_signals.c - the control commands that import a school's
 * attendance and turn it into records: attendance-import, signals,
 * signals-submit.
 *
 * Owns the step from rule hits (signal.c) to records, the candidates'
 * partners and consent states under the node's policies, and the memory of
 * what was submitted (once per pupil, rule and episode). Records carry the
 * rule's code and numbers, never attendance rows. Must never log a pupil's
 * number or BSN, put one in an error, or submit past the policy: every
 * record goes through kt_exchange_submit, which applies policy and consent.
 */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keten/commands_signals.h"
#include "keten/trail.h"
#include "keten/consent.h"
#include "keten/envelope.h"
#include "keten/log.h"
#include "keten/policy.h"
#include "keten/record.h"
#include "keten/signal.h"

#define S_PARTNERS_MAX KT_EXCHANGE_FANOUT_MAX
#define S_TO_TEXT 1024

static const char S_READY[] = "ready";
static const char S_PARENT[] = "needs consent of parent";
static const char S_PUPIL[] = "needs consent of pupil (16+)";
static const char S_BOTH[] = "needs consent of parent and pupil";
static const char S_DENIED[] = "not allowed";

/* Everything one command works from. */
typedef struct s_env {
    kt_commands_t *c;
    kt_signal_conf_t conf;
    kt_policy_set_t *set;
    kt_signal_pupil_t *p;
    size_t np;
    char date[KT_DATE_BYTES];
    char actor[KT_AUDIT_ACTOR_MAX + 1]; /* the operator, for audit entries */
} s_env_t;

/* One candidate: a hit, its record and where it would go. */
typedef struct s_cand {
    size_t pupil;
    kt_signal_hit_t hit;
    kt_record_t *rec;
    char partner[S_PARTNERS_MAX][KT_NODE_ID_MAX + 1];
    const char *pstate[S_PARTNERS_MAX];
    size_t npartners;
    const char *state;
    int submitted;
    char to[S_TO_TEXT]; /* closures: who received the opening record */
} s_cand_t;

static void s_env_free(s_env_t *e)
{
    kt_policy_set_destroy(&e->set);
    kt_signal_pupils_free(e->p, e->np);
    e->p = NULL;
    e->np = 0;
}

static int s_conf_path(const kt_conf_t *conf, char *out, size_t len)
{
    char *dup = strdup(conf->path);
    int n;

    if (dup == NULL)
        return KT_ENOMEM;
    n = snprintf(out, len, "%s/%s", dirname(dup), KT_SIGNAL_CONF_NAME);
    free(dup);
    return n < 0 || (size_t)n >= len ? KT_EINVAL : 0;
}

/* Loads signals.conf (errors into rep). */
static int s_load_conf(s_env_t *e, kt_ctl_reply_t *rep)
{
    kt_conf_errors_t errs = {NULL, 0};
    char path[4096];
    int rc;

    if ((rc = s_conf_path(*e->c->conf, path, sizeof(path))) != 0)
        return kt_ctl_reply_error(rep, rc, "signals.conf: path too long");
    if ((rc = kt_signal_conf_load(&e->conf, path, &errs)) != 0) {
        rc = kt_ctl_reply_error(rep, KT_ECONFIG, "%s%s", errs.count ? errs.msg[0] : "signals.conf",
                                errs.count > 1 ? " (and more: ketenctl signals check)" : "");
        kt_conf_errors_free(&errs);
        return rc;
    }
    return 0;
}

static int s_setup(s_env_t *e, kt_commands_t *c, const kt_ctl_req_t *req, kt_ctl_reply_t *rep)
{
    kt_conf_errors_t errs = {NULL, 0};
    kt_policy_roles_t roles;
    const char *date = NULL;
    kt_diag_t d = {{0}};
    int rc;

    memset(e, 0, sizeof(*e));
    e->c = c;
    kt_consent_today(e->date);
    if (kt_ctl_req_has(req, "date")) {
        if (kt_ctl_req_str(req, "date", &date) != 0 || !kt_consent_date_valid(date))
            return kt_ctl_reply_error(rep, KT_EINVAL, "date: not a date (YYYY-MM-DD)");
        snprintf(e->date, sizeof(e->date), "%s", date);
    }
    if ((rc = s_load_conf(e, rep)) != 0)
        return rc;
    kt_policy_roles_from_conf(&roles, *c->conf);
    if ((rc = kt_policy_load(&e->set, (*c->conf)->policies_dir, &roles, &errs)) != 0) {
        rc = kt_ctl_reply_error(rep, rc, "policies: %s", errs.count ? errs.msg[0] : "invalid");
        kt_conf_errors_free(&errs);
        return rc;
    }
    if ((rc = kt_signal_pupils_load(&e->p, &e->np, c->st, kt_exchange_vault(c->x), &d)) != 0)
        return kt_ctl_reply_error(rep, rc, "%s", d.msg);
    return 0;
}

/* ---- records ---- */

static const char *s_gv_reden(kt_signal_cat_t c)
{
    return c == KT_CAT_ZIEK ? "ziek" : c == KT_CAT_VERLOF ? "verlof" : "overig";
}

static int s_build(kt_record_t **out, const kt_signal_pupil_t *p, const kt_signal_hit_t *h,
                   const char *date, kt_diag_t *d)
{
    kt_record_t *r = NULL;
    const char *name = kt_signal_rule_name(h->rule);
    int rc, melding = h->rule == KT_RULE_WETTELIJK_16U || h->rule == KT_RULE_VROEG_10U;

    if ((rc = kt_record_new(&r, melding ? "verzuimmelding" : "geoorloofd_verzuim", d)) != 0)
        return rc;
    if ((rc = kt_record_set_text(r, "leerling_id", p->leerling_id, d)) != 0 ||
        (rc = kt_record_set_text(r, "geboortedatum", p->geboortedatum, d)) != 0 ||
        (rc = kt_record_set_text(r, "criterium", name, d)) != 0)
        goto out;
    if (melding) {
        if ((rc = kt_record_set_text(r, "melddatum", date, d)) != 0 ||
            (rc = kt_record_set_text(
                 r, "soort", h->rule == KT_RULE_WETTELIJK_16U ? "wettelijk" : "overig", d)) != 0 ||
            (rc = kt_record_set_text(r, "periode_start", h->periode_start, d)) != 0 ||
            (rc = kt_record_set_text(r, "periode_eind", h->periode_eind, d)) != 0 ||
            (rc = kt_record_set_int(r, "minuten", h->minuten, d)) != 0 ||
            (rc = kt_record_set_int(r, "te_laat", h->te_laat, d)) != 0 ||
            (rc = kt_record_set_text(r, "afhandeling", "open", d)) != 0)
            goto out;
    } else if (h->closed) {
        if ((rc = kt_record_set_text(r, "begindatum", h->episode, d)) != 0 ||
            (rc = kt_record_set_text(r, "einddatum", h->einddatum, d)) != 0 ||
            (rc = kt_record_set_text(r, "peildatum", date, d)) != 0 ||
            (rc = kt_record_set_text(r, "status", "gesloten", d)) != 0 ||
            (rc = kt_record_set_text(r, "afsluitreden", "boven_50_pct", d)) != 0)
            goto out;
    } else {
        if ((rc = kt_record_set_text(r, "begindatum", h->episode, d)) != 0 ||
            (rc = kt_record_set_text(r, "peildatum", date, d)) != 0 ||
            (rc = kt_record_set_text(r, "reden", s_gv_reden(h->reden), d)) != 0 ||
            (rc = kt_record_set_text(r, "status", "open", d)) != 0)
            goto out;
        if (h->rule == KT_RULE_GEOORLOOFD_LT50 &&
            ((rc = kt_record_set_int(r, "aanwezigheid_pct", h->pct, d)) != 0 ||
             (rc = kt_record_set_int(r, "weken_aaneengesloten", h->weken, d)) != 0))
            goto out;
        if (h->rule != KT_RULE_GEOORLOOFD_LT50 &&
            (rc = kt_record_set_int(r, "ziekmeldingen", h->ziekmeldingen, d)) != 0)
            goto out;
    }
    rc = kt_record_validate(r, d);
out:
    if (rc != 0)
        kt_record_destroy(&r);
    *out = r;
    return rc;
}

/* One recipient's consent state for rec. */
static const char *s_partner_state(s_env_t *e, const kt_record_t *rec,
                                   const uint8_t subject[KT_SUBJECT_BYTES], const char *partner)
{
    const kt_policy_rule_t *rule;
    kt_consent_query_t q;
    uint8_t id[KT_CONSENT_ID_BYTES];
    kt_diag_t d = {{0}};
    unsigned by = 0;

    rule = kt_policy_rule(e->set, partner, KT_POLICY_SEND, kt_record_type(rec), e->date);
    if (rule == NULL)
        return S_DENIED;
    if (!kt_policy_needs_consent(rule, rec))
        return S_READY;
    if (kt_policy_consent_by(rule, rec, e->date, &by) != 0)
        return S_DENIED;
    memset(&q, 0, sizeof(q));
    q.subject = subject;
    q.recipient = partner;
    q.doel = rule->doel;
    q.record_type = kt_record_type(rec);
    q.date = e->date;
    q.accepted = by;
    if (kt_consent_find_active(id, e->c->st, &q, &d) == 0)
        return S_READY;
    if (by & KT_GEGEVEN_OUDERS)
        return S_PARENT;
    if (by & KT_GEGEVEN_LEERLING)
        return S_PUPIL;
    return S_BOTH;
}

/* Partners (fan-out under policy, or the closure's earlier recipients) and
 * the candidate's overall state: the first that still needs something. */
static void s_route(s_env_t *e, s_cand_t *k)
{
    const char *list[S_PARTNERS_MAX];
    char copy[S_TO_TEXT]; /* list[] points into it below: it must live as long */
    size_t n = 0, i;

    if (k->hit.closed) {
        char *tok, *save = NULL;

        memcpy(copy, k->to, sizeof(copy));
        for (tok = strtok_r(copy, ",", &save); tok != NULL && n < S_PARTNERS_MAX;
             tok = strtok_r(NULL, ",", &save))
            list[n++] = tok;
    } else {
        n = kt_policy_recipients(e->set, kt_record_type(k->rec), e->date, list, S_PARTNERS_MAX);
        if (n > S_PARTNERS_MAX)
            n = S_PARTNERS_MAX;
    }
    k->state = n == 0 ? S_DENIED : S_READY;
    k->npartners = n;
    for (i = 0; i < n; i++) {
        snprintf(k->partner[i], sizeof(k->partner[i]), "%s", list[i]);
        k->pstate[i] = s_partner_state(e, k->rec, e->p[k->pupil].subject, list[i]);
        if (k->state == S_READY && k->pstate[i] != S_READY)
            k->state = k->pstate[i];
    }
}

typedef struct s_cands {
    s_cand_t *k;
    size_t n, cap;
} s_cands_t;

static void s_cands_free(s_cands_t *cs)
{
    for (size_t i = 0; i < cs->n; i++)
        kt_record_destroy(&cs->k[i].rec);
    free(cs->k);
    memset(cs, 0, sizeof(*cs));
}

static int s_add(s_env_t *e, s_cands_t *cs, size_t pupil, const kt_signal_hit_t *h, const char *to,
                 kt_diag_t *d)
{
    s_cand_t *k;
    int rc;

    if (cs->n == cs->cap) {
        s_cand_t *g = realloc(cs->k, (cs->cap + 32) * sizeof(*g));

        if (g == NULL)
            return kt_diag_set(d, KT_ENOMEM, "out of memory");
        cs->k = g;
        cs->cap += 32;
    }
    k = &cs->k[cs->n];
    memset(k, 0, sizeof(*k));
    k->pupil = pupil;
    k->hit = *h;
    if (to != NULL)
        snprintf(k->to, sizeof(k->to), "%s", to);
    if ((rc = s_build(&k->rec, &e->p[pupil], h, e->date, d)) != 0)
        return rc;
    rc = kt_signal_sent_get(e->c->st, e->p[pupil].subject, h->rule, h->episode, NULL, NULL, 0, d);
    if (rc != 0 && rc != KT_ENOENT) {
        kt_record_destroy(&k->rec);
        return rc;
    }
    k->submitted = rc == 0 && !h->closed;
    cs->n++;
    s_route(e, k);
    return 0;
}

/* Closures: submitted geoorloofd_lt50 cases that closed since. */
typedef struct s_open {
    char episode[KT_SIGNAL_DATE_BYTES];
    char to[S_TO_TEXT];
} s_open_t;

typedef struct s_opens {
    s_open_t o[16];
    size_t n;
} s_opens_t;

static int s_collect_open(void *ctx, const char *episode, const char *to)
{
    s_opens_t *os = ctx;

    if (os->n < sizeof(os->o) / sizeof(os->o[0])) {
        snprintf(os->o[os->n].episode, sizeof(os->o[0].episode), "%s", episode);
        snprintf(os->o[os->n].to, sizeof(os->o[0].to), "%s", to);
        os->n++;
    }
    return 0;
}

static int s_candidates(s_env_t *e, s_cands_t *cs, kt_diag_t *d)
{
    kt_signal_hit_t hits[KT_SIGNAL_HITS_MAX], closed;
    int rc;

    for (size_t i = 0; i < e->np; i++) {
        const kt_signal_pupil_t *p = &e->p[i];
        s_opens_t os;
        int nh;

        nh = kt_signal_evaluate(&e->conf, p->days, p->ndays, e->date, hits, KT_SIGNAL_HITS_MAX);
        if (nh < 0)
            return kt_diag_set(d, nh, "signals: cannot evaluate on this date");
        for (int h = 0; h < nh && h < KT_SIGNAL_HITS_MAX; h++)
            if ((rc = s_add(e, cs, i, &hits[h], NULL, d)) != 0)
                return rc;
        memset(&os, 0, sizeof(os));
        if ((rc = kt_signal_sent_open_lt50(e->c->st, p->subject, s_collect_open, &os, d)) != 0)
            return rc;
        for (size_t j = 0; j < os.n; j++)
            if (kt_signal_lt50_closed(&e->conf, p->days, p->ndays, os.o[j].episode, e->date,
                                      &closed) &&
                (rc = s_add(e, cs, i, &closed, os.o[j].to, d)) != 0)
                return rc;
    }
    return 0;
}

/* ---- replies ---- */

static void s_reply_evidence(kt_ctl_reply_t *rep, const kt_signal_hit_t *h)
{
    kt_ctl_reply_begin_object(rep, "evidence");
    switch (h->rule) {
    case KT_RULE_WETTELIJK_16U:
    case KT_RULE_VROEG_10U:
        kt_ctl_reply_int(rep, "minuten", h->minuten);
        kt_ctl_reply_int(rep, "lesweken", h->weken);
        kt_ctl_reply_int(rep, "te_laat", h->te_laat);
        break;
    case KT_RULE_GEOORLOOFD_LT50:
        if (!h->closed) {
            kt_ctl_reply_int(rep, "weken_onder", h->weken);
            kt_ctl_reply_int(rep, "aanwezigheid_pct", h->pct);
        }
        break;
    default:
        kt_ctl_reply_int(rep, "ziekmeldingen", h->ziekmeldingen);
        kt_ctl_reply_int(rep, "dagen", h->dagen);
        break;
    }
    kt_ctl_reply_end_object(rep);
}

static void s_reply_record(kt_ctl_reply_t *rep, const kt_record_t *r)
{
    kt_ctl_reply_begin_object(rep, "record");
    kt_ctl_reply_str(rep, "type", kt_record_type(r));
    kt_ctl_reply_begin_object(rep, "fields");
    for (size_t i = 0; i < kt_record_nfields(r); i++) {
        const char *f = kt_record_field_at(r, i), *text = NULL;
        kt_field_kind_t kind;
        int64_t num = 0;

        if (strcmp(f, "leerling_id") == 0 || strcmp(f, "geboortedatum") == 0 ||
            kt_record_get(r, f, &kind, &text, &num) != 0)
            continue; /* the pupil is named by the school's own number */
        if (kind == KT_FIELD_INT)
            kt_ctl_reply_int(rep, f, num);
        else if (kind == KT_FIELD_BOOL)
            kt_ctl_reply_bool(rep, f, (int)num);
        else
            kt_ctl_reply_str(rep, f, text);
    }
    kt_ctl_reply_end_object(rep);
    kt_ctl_reply_end_object(rep);
}

static void s_reply_cand(kt_ctl_reply_t *rep, const s_env_t *e, const s_cand_t *k)
{
    kt_ctl_reply_begin_object(rep, NULL);
    kt_ctl_reply_str(rep, "pupil", e->p[k->pupil].number);
    kt_ctl_reply_str(rep, "rule", kt_signal_rule_name(k->hit.rule));
    kt_ctl_reply_str(rep, "episode", k->hit.episode);
    kt_ctl_reply_str(rep, "status", k->hit.closed ? "gesloten" : "open");
    kt_ctl_reply_bool(rep, "submitted", k->submitted);
    s_reply_evidence(rep, &k->hit);
    s_reply_record(rep, k->rec);
    kt_ctl_reply_begin_array(rep, "partners");
    for (size_t i = 0; i < k->npartners; i++) {
        kt_ctl_reply_begin_object(rep, NULL);
        kt_ctl_reply_str(rep, "partner", k->partner[i]);
        kt_ctl_reply_str(rep, "state", k->pstate[i]);
        kt_ctl_reply_end_object(rep);
    }
    kt_ctl_reply_end_array(rep);
    kt_ctl_reply_str(rep, "state", k->state);
    kt_ctl_reply_end_object(rep);
}

/* ---- attendance-import ---- */

static int s_import(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                    kt_ctl_reply_t *rep)
{
    kt_commands_t *c = ctx;
    s_env_t e;
    kt_signal_row_t *rows = NULL;
    const char *csv = NULL;
    size_t n = 0, pupils = 0;
    kt_diag_t d = {{0}};
    int rc;

    (void)who;
    memset(&e, 0, sizeof(e));
    e.c = c;
    if (kt_ctl_req_str(req, "csv", &csv) != 0)
        return kt_ctl_reply_error(rep, KT_EMALFORMED, "attendance-import needs \"csv\", a string");
    if ((rc = s_load_conf(&e, rep)) != 0)
        return rc;
    if ((rc = kt_signal_csv_parse(&rows, &n, csv, strlen(csv), &e.conf, &d)) != 0) {
        rc = kt_ctl_reply_error(rep, rc, "%s; nothing was imported", d.msg);
        goto out;
    }
    if ((rc = kt_signal_import(c->st, kt_exchange_vault(c->x), &e.conf, rows, n, &pupils, &d)) !=
        0) {
        rc = kt_ctl_reply_error(rep, rc, "%s; nothing was imported", d.msg);
        goto out;
    }
    kt_log_info("attendance import: %zu rows for %zu pupils", n, pupils);
    kt_ctl_reply_int(rep, "rows", (int64_t)n);
    kt_ctl_reply_int(rep, "pupils", (int64_t)pupils);
out:
    kt_signal_rows_free(rows, n);
    return rc;
}

/* ---- signals ---- */

static int s_signals(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                     kt_ctl_reply_t *rep)
{
    s_env_t e;
    s_cands_t cs = {NULL, 0, 0};
    kt_diag_t d = {{0}};
    int rc;

    (void)who;
    if ((rc = s_setup(&e, ctx, req, rep)) != 0)
        goto out;
    if ((rc = s_candidates(&e, &cs, &d)) != 0) {
        rc = kt_ctl_reply_error(rep, rc, "%s", d.msg);
        goto out;
    }
    kt_ctl_reply_str(rep, "date", e.date);
    kt_ctl_reply_begin_array(rep, "candidates");
    for (size_t i = 0; i < cs.n; i++)
        s_reply_cand(rep, &e, &cs.k[i]);
    kt_ctl_reply_end_array(rep);
out:
    s_cands_free(&cs);
    s_env_free(&e);
    return rc;
}

/* ---- signals-submit ---- */

/* Records, inside the submission's own transaction, that the candidate went
 * and to whom: a crash can lose both or neither, never send a signal twice. */
struct s_mark {
    s_env_t *e;
    s_cand_t *k;
};

static int s_mark_sent(void *ctx, const kt_exchange_copies_t *copies, kt_diag_t *d)
{
    struct s_mark *m = ctx;
    char to[S_TO_TEXT] = "";

    for (size_t i = 0; i < copies->n; i++) {
        size_t used = strlen(to);

        snprintf(to + used, sizeof(to) - used, "%s%s", used ? "," : "", copies->copy[i].partner);
    }
    /* a closing report updates the opening's row */
    return kt_signal_sent_put(
        m->e->c->st, m->e->p[m->k->pupil].subject, m->k->hit.rule, m->k->hit.episode,
        m->k->hit.closed ? KT_SIGNAL_SENT_CLOSED : KT_SIGNAL_SENT_OPEN, to, d);
}

/* Submits one candidate; fills *id and the copies made. */
static int s_submit_one(s_env_t *e, s_cand_t *k, uint8_t id[KT_ENVELOPE_ID_BYTES],
                        kt_exchange_copies_t *copies, kt_diag_t *d)
{
    uint8_t *buf = NULL, (*ids)[KT_ENVELOPE_ID_BYTES] = (uint8_t(*)[KT_ENVELOPE_ID_BYTES])id;
    const uint8_t *recs[1];
    const char *dest[S_PARTNERS_MAX];
    struct s_mark mark = {e, k};
    size_t len = 0, lens[1];
    int rc;

    if ((rc = kt_record_encode(k->rec, &buf, &len, d)) != 0)
        return rc;
    for (size_t i = 0; i < k->npartners; i++)
        dest[i] = k->partner[i];
    recs[0] = buf;
    lens[0] = len;
    rc = kt_exchange_submit_also(e->c->x, e->actor, k->hit.closed ? dest : NULL,
                                 k->hit.closed ? k->npartners : 0, recs, lens, 1, ids, copies,
                                 s_mark_sent, &mark, d);
    kt_record_free_bytes(buf, len);
    return rc;
}

static void s_reply_submitted(kt_ctl_reply_t *rep, const s_env_t *e, const s_cand_t *k,
                              const uint8_t id[KT_ENVELOPE_ID_BYTES],
                              const kt_exchange_copies_t *copies)
{
    char hex[KT_ENVELOPE_ID_HEX];

    kt_envelope_id_hex(hex, id);
    kt_ctl_reply_begin_object(rep, NULL);
    kt_ctl_reply_str(rep, "id", hex);
    kt_ctl_reply_str(rep, "pupil", e->p[k->pupil].number);
    kt_ctl_reply_str(rep, "rule", kt_signal_rule_name(k->hit.rule));
    kt_ctl_reply_str(rep, "type", kt_record_type(k->rec));
    kt_ctl_reply_str(rep, "status", k->hit.closed ? "gesloten" : "open");
    kt_ctl_reply_begin_array(rep, "copies");
    for (size_t i = 0; i < copies->n; i++) {
        kt_ctl_reply_begin_object(rep, NULL);
        kt_ctl_reply_str(rep, "partner", copies->copy[i].partner);
        kt_ctl_reply_str(rep, "state", kt_outbox_state_name(copies->copy[i].state));
        kt_ctl_reply_end_object(rep);
    }
    kt_ctl_reply_end_array(rep);
    kt_ctl_reply_end_object(rep);
}

static int s_signals_submit(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                            kt_ctl_reply_t *rep)
{
    s_env_t e;
    s_cands_t cs = {NULL, 0, 0};
    kt_diag_t d = {{0}};
    size_t skipped = 0, done = 0;
    int rc;

    if ((rc = s_setup(&e, ctx, req, rep)) != 0)
        goto out;
    kt_trail_uid(e.actor, (unsigned)who->uid);
    if ((rc = s_candidates(&e, &cs, &d)) != 0) {
        rc = kt_ctl_reply_error(rep, rc, "%s", d.msg);
        goto out;
    }
    kt_ctl_reply_str(rep, "date", e.date);
    kt_ctl_reply_begin_array(rep, "submitted");
    for (size_t i = 0; i < cs.n; i++) {
        s_cand_t *k = &cs.k[i];
        kt_exchange_copies_t copies = {NULL, 0, 0};
        uint8_t id[KT_ENVELOPE_ID_BYTES];

        if (k->submitted || k->state == S_DENIED) {
            skipped++;
            continue;
        }
        if ((rc = s_submit_one(&e, k, id, &copies, &d)) != 0) {
            kt_exchange_copies_free(&copies);
            kt_log_warnx("signals submit: %s for one pupil: %s", kt_signal_rule_name(k->hit.rule),
                         d.msg);
            rc = kt_ctl_reply_error(rep, rc == KT_EDENIED ? KT_EINVAL : rc,
                                    "%s (rule %s); %zu submitted before it", d.msg,
                                    kt_signal_rule_name(k->hit.rule), done);
            goto out;
        }
        s_reply_submitted(rep, &e, k, id, &copies);
        kt_exchange_copies_free(&copies);
        done++;
    }
    kt_ctl_reply_end_array(rep);
    kt_ctl_reply_int(rep, "skipped", (int64_t)skipped);
    kt_log_info("signals submit: %zu records, %zu skipped (already submitted or not allowed)", done,
                skipped);
out:
    s_cands_free(&cs);
    s_env_free(&e);
    return rc;
}

int kt_commands_signals_register(kt_control_t *ctl, kt_commands_t *c)
{
    int rc;

    if ((rc = kt_control_register(ctl, "attendance-import", KT_ROLE_OPERATOR, s_import, c)) != 0 ||
        (rc = kt_control_register(ctl, "signals", KT_ROLE_OPERATOR, s_signals, c)) != 0 ||
        (rc = kt_control_register(ctl, "signals-submit", KT_ROLE_OPERATOR, s_signals_submit, c)) !=
            0)
        return rc;
    return 0;
}
