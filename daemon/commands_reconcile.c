/*
 * commands_reconcile.c - the reconciliation control commands
 * (commands_reconcile.h).
 *
 * Starting a session never waits for the partner: the event loop must keep
 * running for the answer to arrive. The leerling_ids of a membership
 * result are the only pupil data here; they go to operators, who hold the
 * list they came from, and never into a log line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keten/commands_reconcile.h"
#include "keten/envelope.h"
#include "keten/trail.h"

static int s_opt(const kt_ctl_req_t *req, const char *key, const char **out)
{
    *out = NULL;
    return kt_ctl_req_has(req, key) ? kt_ctl_req_str(req, key, out) : 0;
}

static int s_partner(kt_commands_reconcile_t *cr, const kt_ctl_req_t *req, const char **with,
                     kt_ctl_reply_t *rep)
{
    if (kt_ctl_req_str(req, "with", with) != 0)
        return kt_ctl_reply_error(rep, KT_EINVAL, "with: the partner's node id is required");
    if (kt_conf_partner(*cr->cmds->conf, *with) == NULL)
        return kt_ctl_reply_error(rep, KT_ENOENT,
                                  "unknown partner '%s': not a partner of this node (see "
                                  "ketenctl partners)",
                                  *with);
    return 0;
}

static int s_started(kt_ctl_reply_t *rep, int rc, const uint8_t *id, const kt_diag_t *d)
{
    char hex[KT_ENVELOPE_ID_HEX];

    if (rc != 0)
        return kt_ctl_reply_error(rep, rc, "%s", d->msg);
    kt_envelope_id_hex(hex, id);
    kt_ctl_reply_str(rep, "id", hex);
    kt_ctl_reply_str(rep, "state", "open");
    return 0;
}

static int s_counts(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                    kt_ctl_reply_t *rep)
{
    kt_commands_reconcile_t *cr = ctx;
    const char *with = NULL, *list = NULL;
    char actor[KT_AUDIT_ACTOR_MAX + 1];
    uint8_t id[KT_RECONCILE_ID_BYTES];
    kt_counts_query_t q;
    kt_diag_t d = {{0}};
    int rc;

    memset(&q, 0, sizeof(q));
    if ((rc = s_partner(cr, req, &with, rep)) != 0)
        return rc;
    if (kt_ctl_req_str(req, "list", &list) != 0 || !kt_registry_name_valid(list))
        return kt_ctl_reply_error(rep, KT_EINVAL, "list: 1 to 64 of a-z, 0-9, '_' and '-'");
    if (kt_ctl_req_str(req, "definition", &q.definitie) != 0 ||
        kt_ctl_req_str(req, "period", &q.period) != 0)
        return kt_ctl_reply_error(rep, KT_EINVAL, "definition and period are required");
    if (s_opt(req, "by", &q.by) != 0 || s_opt(req, "scope", &q.scope) != 0)
        return kt_ctl_reply_error(rep, KT_EINVAL, "by and scope: strings");
    kt_trail_uid(actor, (unsigned)who->uid);
    rc = kt_reconcile_start_counts(cr->rc, actor, with, list, &q, id, &d);
    return s_started(rep, rc, id, &d);
}

static int s_lists(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                   kt_ctl_reply_t *rep)
{
    kt_commands_reconcile_t *cr = ctx;
    const char *with = NULL, *list = NULL, *mode = NULL;
    char actor[KT_AUDIT_ACTOR_MAX + 1];
    uint8_t id[KT_RECONCILE_ID_BYTES];
    kt_psi_mode_t want = KT_PSI_MEMBERSHIP;
    kt_diag_t d = {{0}};
    int rc;

    if ((rc = s_partner(cr, req, &with, rep)) != 0)
        return rc;
    if (kt_ctl_req_str(req, "list", &list) != 0 || !kt_registry_name_valid(list))
        return kt_ctl_reply_error(rep, KT_EINVAL, "list: 1 to 64 of a-z, 0-9, '_' and '-'");
    if (s_opt(req, "mode", &mode) != 0 || (mode != NULL && kt_psi_mode_parse(mode, &want) != 0))
        return kt_ctl_reply_error(rep, KT_EINVAL, "mode: cardinality or membership");
    kt_trail_uid(actor, (unsigned)who->uid);
    rc = kt_reconcile_start_lists(cr->rc, actor, with, list, want, id, &d);
    return s_started(rep, rc, id, &d);
}

static void s_reply_session(kt_ctl_reply_t *rep, const kt_reconcile_session_t *s)
{
    char hex[KT_ENVELOPE_ID_HEX];

    kt_envelope_id_hex(hex, s->id);
    kt_ctl_reply_str(rep, "id", hex);
    kt_ctl_reply_str(rep, "partner", s->partner);
    kt_ctl_reply_str(rep, "kind", s->kind);
    kt_ctl_reply_str(rep, "role", s->role);
    kt_ctl_reply_str(rep, "list", s->list);
    kt_ctl_reply_str(rep, "state", s->state);
    if (s->reason[0] != '\0')
        kt_ctl_reply_str(rep, "reason", s->reason);
    else
        kt_ctl_reply_null(rep, "reason");
    kt_ctl_reply_utc(rep, "created", s->created);
    kt_ctl_reply_utc(rep, "updated", s->updated);
}

static void s_reply_value(kt_ctl_reply_t *rep, const char *key, kt_counts_state_t st, int64_t v)
{
    if (st == KT_COUNTS_VALUE)
        kt_ctl_reply_int(rep, key, v);
    else if (st == KT_COUNTS_SUPPRESSED)
        kt_ctl_reply_str(rep, key, "suppressed");
    else
        kt_ctl_reply_null(rep, key);
}

static int s_reply_counts(kt_ctl_reply_t *rep, const kt_reconcile_outcome_t *o)
{
    kt_counts_diff_t *df = calloc(1, sizeof(*df));
    const kt_counts_key_t *k = &o->ours->key;
    kt_diag_t d = {{0}};
    size_t i;

    if (df == NULL)
        return kt_ctl_reply_error(rep, KT_ENOMEM, "out of memory");
    if (kt_counts_diff(df, o->ours, o->theirs, &d) != 0) {
        free(df);
        return kt_ctl_reply_error(rep, KT_EIO, "%s", d.msg);
    }
    kt_ctl_reply_begin_object(rep, "key");
    kt_ctl_reply_str(rep, "eenheid", k->eenheid);
    kt_ctl_reply_str(rep, "definitie", k->definitie);
    kt_ctl_reply_str(rep, "scope", k->scope);
    kt_ctl_reply_str(rep, "period", k->period);
    kt_ctl_reply_str(rep, "by", k->by);
    kt_ctl_reply_end_object(rep);
    kt_ctl_reply_int(rep, "differ", (int64_t)df->differ);
    kt_ctl_reply_begin_array(rep, "buckets");
    for (i = 0; i < df->n; i++) {
        const kt_counts_delta_t *x = &df->d[i];

        kt_ctl_reply_begin_object(rep, NULL);
        kt_ctl_reply_str(rep, "bucket", x->name);
        s_reply_value(rep, "ours", x->a_state, x->a);
        s_reply_value(rep, "theirs", x->b_state, x->b);
        if (x->has_diff)
            kt_ctl_reply_int(rep, "diff", x->diff);
        else
            kt_ctl_reply_null(rep, "diff");
        kt_ctl_reply_end_object(rep);
    }
    kt_ctl_reply_end_array(rep);
    free(df);
    return 0;
}

static void s_reply_lists(kt_ctl_reply_t *rep, const kt_reconcile_outcome_t *o, int operator)
{
    size_t i;

    kt_ctl_reply_str(rep, "mode", kt_psi_mode_name(o->mode));
    kt_ctl_reply_int(rep, "ours", (int64_t)o->own);
    kt_ctl_reply_int(rep, "theirs", (int64_t)o->theirs_n);
    kt_ctl_reply_int(rep, "both", (int64_t)o->both);
    kt_ctl_reply_int(rep, "only_ours", (int64_t)o->only_own);
    kt_ctl_reply_int(rep, "only_theirs", (int64_t)o->only_theirs);
    if (o->mode != KT_PSI_MEMBERSHIP || !operator) {
        kt_ctl_reply_null(rep, "missing_at_partner");
        return;
    }
    kt_ctl_reply_begin_array(rep, "missing_at_partner");
    for (i = 0; i < o->nmissing; i++)
        kt_ctl_reply_str(rep, NULL, o->missing[i]);
    kt_ctl_reply_end_array(rep);
}

static int s_show(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                  kt_ctl_reply_t *rep)
{
    kt_commands_reconcile_t *cr = ctx;
    kt_reconcile_outcome_t o;
    uint8_t id[KT_RECONCILE_ID_BYTES];
    const char *hex;
    kt_diag_t d = {{0}};
    int rc;

    if (kt_ctl_req_str(req, "id", &hex) != 0 || kt_envelope_id_parse(id, hex) != 0)
        return kt_ctl_reply_error(rep, KT_EINVAL, "a session id is 32 lowercase hex characters");
    if ((rc = kt_reconcile_get(cr->rc, id, &o, &d)) != 0)
        return kt_ctl_reply_error(rep, rc, "%s", d.msg);
    s_reply_session(rep, &o.s);
    if (o.ours != NULL && o.theirs != NULL)
        rc = s_reply_counts(rep, &o);
    else if (strcmp(o.s.kind, "lists") == 0 && strcmp(o.s.state, "done") == 0)
        s_reply_lists(rep, &o, (who->roles & KT_ROLE_OPERATOR) != 0);
    kt_reconcile_outcome_clear(&o);
    return rc;
}

static int s_list(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                  kt_ctl_reply_t *rep)
{
    kt_commands_reconcile_t *cr = ctx;
    kt_reconcile_session_t *rows = NULL;
    kt_diag_t d = {{0}};
    size_t n = 0, i;
    int rc;

    (void)who;
    (void)req;
    if ((rc = kt_reconcile_list(cr->rc, &rows, &n, &d)) != 0)
        return kt_ctl_reply_error(rep, rc, "%s", d.msg);
    kt_ctl_reply_begin_array(rep, "sessions");
    for (i = 0; i < n; i++) {
        kt_ctl_reply_begin_object(rep, NULL);
        s_reply_session(rep, &rows[i]);
        kt_ctl_reply_end_object(rep);
    }
    kt_ctl_reply_end_array(rep);
    free(rows);
    return 0;
}

int kt_commands_reconcile_register(kt_control_t *ctl, kt_commands_reconcile_t *cr)
{
    int rc;

    if ((rc = kt_control_register(ctl, "reconcile-counts", KT_ROLE_OPERATOR, s_counts, cr)) != 0 ||
        (rc = kt_control_register(ctl, "reconcile-lists", KT_ROLE_OPERATOR, s_lists, cr)) != 0 ||
        (rc = kt_control_register(ctl, "reconcile-show", KT_ROLE_OPERATOR | KT_ROLE_AUDITOR, s_show,
                                  cr)) != 0)
        return rc;
    return kt_control_register(ctl, "reconcile-list", KT_ROLE_OPERATOR | KT_ROLE_AUDITOR, s_list,
                               cr);
}
