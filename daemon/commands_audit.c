/*
 * commands_audit.c - the control commands of the audit log: audit-list
 * (filtered, paged) and audit-verify (the live log against the node's own
 * public key).
 *
 * Owns the mapping from those requests to kt_audit_list / kt_audit_verify
 * and the JSON form of an entry. Both are for the auditor role alone. A
 * leerling_id given as a filter becomes the subject pseudonym at once and
 * nothing else of it is kept. Reading the log is not audited, except a
 * lookup of one pupil (its first page), which is a subject access like
 * `subject show` and is written before the answer. Must never put a
 * leerling_id or any argument value into a reply message or a log line,
 * and never answer a page larger than KT_AUDIT_PAGE_MAX entries.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "keten/audit.h"
#include "keten/commands_audit.h"
#include "keten/trail.h"
#include "keten/envelope.h"
#include "keten/record.h"
#include "keten/vault.h"

/* A code as the log holds it: [a-z0-9_], 1..KT_AUDIT_CODE_MAX. */
static int s_code_valid(const char *s)
{
    size_t n = strnlen(s, KT_AUDIT_CODE_MAX + 1), i;

    if (n == 0 || n > KT_AUDIT_CODE_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

/* ---- audit-list ---- */

/* An optional integer argument >= 0 into *out; 0 or an error put in rep. */
static int s_opt_int(const kt_ctl_req_t *req, const char *key, int64_t *out, kt_ctl_reply_t *rep)
{
    if (!kt_ctl_req_has(req, key))
        return 0;
    if (kt_ctl_req_int(req, key, out) != 0 || *out < 0)
        return kt_ctl_reply_error(rep, KT_EINVAL, "%s: a whole number of at least 0", key);
    return 0;
}

static int s_opt_code(const kt_ctl_req_t *req, const char *key, const char **out,
                      kt_ctl_reply_t *rep)
{
    if (!kt_ctl_req_has(req, key))
        return 0;
    if (kt_ctl_req_str(req, key, out) != 0 || !s_code_valid(*out))
        return kt_ctl_reply_error(rep, KT_EINVAL, "%s: a code of 1 to %d characters a-z, 0-9 and _",
                                  key, KT_AUDIT_CODE_MAX);
    return 0;
}

static int s_subject(kt_commands_t *c, const kt_ctl_req_t *req, kt_audit_filter_t *f,
                     kt_ctl_reply_t *rep)
{
    const char *id = NULL;
    kt_diag_t d = {{0}};
    int rc;

    if (!kt_ctl_req_has(req, "leerling"))
        return 0;
    if (kt_ctl_req_str(req, "leerling", &id) != 0 ||
        (!kt_record_is_bsn(id) && !kt_record_is_onderwijsnummer(id)))
        return kt_ctl_reply_error(rep, KT_EINVAL,
                                  "leerling: not a BSN or onderwijsnummer (9 digits that pass "
                                  "the elfproef)");
    if ((rc = kt_vault_subject(f->subject, kt_exchange_vault(c->x), id, &d)) != 0)
        return kt_ctl_reply_error(rep, rc, "%s", d.msg);
    f->has_subject = 1;
    return 0;
}

/* The filter of req, borrowing its strings; or the error put in rep. */
static int s_filter(kt_commands_t *c, const kt_ctl_req_t *req, kt_audit_filter_t *f,
                    kt_ctl_reply_t *rep)
{
    const char *hex = NULL;
    int rc;

    memset(f, 0, sizeof(*f));
    f->limit = KT_AUDIT_PAGE_MAX;
    if ((rc = s_opt_int(req, "since", &f->since, rep)) != 0 ||
        (rc = s_opt_int(req, "until", &f->until, rep)) != 0 ||
        (rc = s_opt_int(req, "after", &f->after_seq, rep)) != 0 ||
        (rc = s_opt_int(req, "limit", &f->limit, rep)) != 0 ||
        (rc = s_opt_code(req, "type", &f->type, rep)) != 0 ||
        (rc = s_opt_code(req, "action", &f->action, rep)) != 0 ||
        (rc = s_opt_code(req, "decision", &f->decision, rep)) != 0 ||
        (rc = s_subject(c, req, f, rep)) != 0)
        return rc;
    if (f->limit < 1 || f->limit > KT_AUDIT_PAGE_MAX)
        return kt_ctl_reply_error(rep, KT_EINVAL,
                                  "limit: 1 to %d entries per page; page with "
                                  "after",
                                  KT_AUDIT_PAGE_MAX);
    if (kt_ctl_req_has(req, "partner") &&
        (kt_ctl_req_str(req, "partner", &f->partner) != 0 || !kt_keys_valid_id(f->partner)))
        return kt_ctl_reply_error(rep, KT_EINVAL, "partner: a node id ([a-z0-9-], 1 to %d)",
                                  KT_NODE_ID_MAX);
    if (kt_ctl_req_has(req, "record")) {
        if (kt_ctl_req_str(req, "record", &hex) != 0 ||
            kt_envelope_id_parse(f->record_id, hex) != 0)
            return kt_ctl_reply_error(rep, KT_EINVAL,
                                      "record: a record id is 32 lowercase hex characters");
        f->has_record_id = 1;
    }
    return 0;
}

static void s_opt_str(kt_ctl_reply_t *rep, const char *key, const char *val)
{
    if (val[0] != '\0')
        kt_ctl_reply_str(rep, key, val);
    else
        kt_ctl_reply_null(rep, key);
}

static void s_reply_entry(kt_ctl_reply_t *rep, const kt_audit_entry_t *e)
{
    kt_ctl_reply_begin_object(rep, NULL);
    kt_ctl_reply_int(rep, "seq", e->seq);
    kt_ctl_reply_int(rep, "time", e->time);
    kt_ctl_reply_utc(rep, "at", e->time);
    kt_ctl_reply_str(rep, "actor", e->actor);
    kt_ctl_reply_str(rep, "action", e->action);
    kt_ctl_reply_hex(rep, "record_id", e->has_record_id ? e->record_id : NULL, KT_AUDIT_ID_BYTES);
    s_opt_str(rep, "record_type", e->record_type);
    s_opt_str(rep, "fields", e->fields);
    kt_ctl_reply_hex(rep, "subject", e->has_subject ? e->subject : NULL, KT_AUDIT_SUBJECT_BYTES);
    s_opt_str(rep, "doel", e->doel);
    s_opt_str(rep, "grondslag", e->grondslag);
    kt_ctl_reply_hex(rep, "consent_id", e->has_consent_id ? e->consent_id : NULL,
                     KT_AUDIT_ID_BYTES);
    s_opt_str(rep, "policy_id", e->policy_id);
    if (e->policy_version > 0)
        kt_ctl_reply_int(rep, "policy_version", e->policy_version);
    else
        kt_ctl_reply_null(rep, "policy_version");
    s_opt_str(rep, "counterparty", e->counterparty);
    kt_ctl_reply_str(rep, "decision", e->decision);
    s_opt_str(rep, "reason", e->reason);
    kt_ctl_reply_hex(rep, "prev_hash", e->prev_hash, KT_AUDIT_HASH_BYTES);
    kt_ctl_reply_hex(rep, "hash", e->hash, KT_AUDIT_HASH_BYTES);
    kt_ctl_reply_end_object(rep);
}

struct s_page {
    kt_ctl_reply_t *rep;
    int64_t limit, n, last;
    int more;
};

/* One pupil's entries looked up: audited like a subject access. */
static int s_audit_lookup(kt_commands_t *c, const kt_ctl_caller_t *who, const kt_audit_filter_t *f,
                          kt_diag_t *d)
{
    char actor[KT_AUDIT_ACTOR_MAX + 1];
    kt_trail_t t;
    int rc;

    kt_trail_uid(actor, (unsigned)who->uid);
    memset(&t, 0, sizeof(t));
    t.actor = actor;
    t.action = KT_AUDIT_SUBJECT_ACCESS;
    t.decision = "listed";
    t.reason = "audit list --leerling";
    t.subject = f->subject;
    if ((rc = kt_store_begin(c->st, d)) != 0)
        return rc;
    if ((rc = kt_trail_write(c->st, &t, d)) != 0 || (rc = kt_store_commit(c->st, d)) != 0)
        kt_store_rollback(c->st);
    return rc;
}

/* Asked for limit + 1 entries: the extra one only says there is more. */
static int s_each(void *ctx, const kt_audit_entry_t *e)
{
    struct s_page *p = ctx;

    if (p->n == p->limit) {
        p->more = 1;
        return 1;
    }
    s_reply_entry(p->rep, e);
    p->n++;
    p->last = e->seq;
    return 0;
}

static int s_list(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                  kt_ctl_reply_t *rep)
{
    kt_commands_t *c = ctx;
    kt_audit_filter_t f;
    struct s_page page = {rep, 0, 0, 0, 0};
    kt_diag_t d = {{0}};
    int rc;

    if ((rc = s_filter(c, req, &f, rep)) != 0)
        return rc;
    if (f.has_subject && f.after_seq == 0 && (rc = s_audit_lookup(c, who, &f, &d)) != 0)
        return kt_ctl_reply_error(rep, rc, "not answered, the lookup could not be audited: %s",
                                  d.msg);
    page.limit = f.limit;
    page.last = f.after_seq;
    f.limit++;
    kt_ctl_reply_begin_array(rep, "entries");
    rc = kt_audit_list(c->st, &f, s_each, &page, &d);
    kt_ctl_reply_end_array(rep);
    if (rc < 0)
        return kt_ctl_reply_error(rep, rc, "%s", d.msg);
    kt_ctl_reply_bool(rep, "more", page.more);
    if (page.more)
        kt_ctl_reply_int(rep, "next_after", page.last);
    else
        kt_ctl_reply_null(rep, "next_after");
    return 0;
}

/* ---- audit-verify ---- */

static int s_verify(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                    kt_ctl_reply_t *rep)
{
    kt_commands_t *c = ctx;
    const kt_conf_t *conf = *c->conf;
    kt_audit_report_t r;
    kt_diag_t d = {{0}};
    int rc;

    (void)who;
    (void)req;
    if (conf->keys == NULL)
        return kt_ctl_reply_error(rep, KT_EINVAL, "this node has no key loaded");
    if ((rc = kt_audit_verify(c->st, kt_keys_public(conf->keys), &r, &d)) != 0)
        return kt_ctl_reply_error(rep, rc, "%s", d.msg);
    kt_ctl_reply_str(rep, "node", conf->id);
    kt_ctl_reply_bool(rep, "intact", r.ok);
    kt_ctl_reply_int(rep, "entries", r.entries);
    kt_ctl_reply_int(rep, "checkpoints", r.checkpoints);
    kt_ctl_reply_int(rep, "covered", r.covered);
    if (r.ok) {
        kt_ctl_reply_null(rep, "bad_seq");
        kt_ctl_reply_null(rep, "what");
    } else {
        kt_ctl_reply_int(rep, "bad_seq", r.bad_seq);
        kt_ctl_reply_str(rep, "what", r.what);
    }
    return 0;
}

int kt_commands_audit_register(kt_control_t *ctl, kt_commands_t *c)
{
    int rc;

    if ((rc = kt_control_register(ctl, "audit-list", KT_ROLE_AUDITOR, s_list, c)) != 0 ||
        (rc = kt_control_register(ctl, "audit-verify", KT_ROLE_AUDITOR, s_verify, c)) != 0)
        return rc;
    return 0;
}
