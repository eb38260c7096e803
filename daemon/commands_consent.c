/*
 * commands_consent.c - the control commands of the consent registry:
 * consent-grant, consent-withdraw, consent-list.
 *
 * Owns the mapping from those requests to kt_consent_* calls (each in one
 * transaction) and the hooks the exchange hangs off them. Turns the
 * leerling_id it is given into the subject pseudonym at once and keeps
 * nothing else of it. Must never put a leerling_id in a reply, a log line or
 * a diagnostic, never record a consent for a node that is not a partner,
 * and never run a `granted` or `withdrawn` hook before the change is
 * committed.
 */
#include <stdlib.h>
#include <string.h>

#include "keten/commands_consent.h"
#include "keten/envelope.h"
#include "keten/log.h"
#include "keten/record.h"

/* The subject of req's "leerling" into subject; 0, KT_ENOENT when absent,
 * or an error already put in rep. */
static int s_subject(kt_commands_consent_t *cc, const kt_ctl_req_t *req,
                     uint8_t subject[KT_SUBJECT_BYTES], kt_ctl_reply_t *rep)
{
    const char *id = NULL;
    kt_diag_t d = {{0}};
    int rc;

    if (!kt_ctl_req_has(req, "leerling"))
        return KT_ENOENT;
    if (kt_ctl_req_str(req, "leerling", &id) != 0 ||
        (!kt_record_is_bsn(id) && !kt_record_is_onderwijsnummer(id)))
        return kt_ctl_reply_error(rep, KT_EINVAL,
                                  "leerling: not a BSN or onderwijsnummer (9 digits that pass "
                                  "the elfproef)");
    if ((rc = kt_vault_subject(subject, kt_exchange_vault(cc->cmds->x), id, &d)) != 0)
        return kt_ctl_reply_error(rep, rc, "%s", d.msg);
    return 0;
}

static void s_reply_row(kt_ctl_reply_t *rep, const char *key, const kt_consent_t *c,
                        const char *today)
{
    char hex[KT_ENVELOPE_ID_HEX], types[KT_CONSENT_TYPES_TEXT];
    char *tok, *save = NULL;

    kt_envelope_id_hex(hex, c->id);
    kt_ctl_reply_begin_object(rep, key);
    kt_ctl_reply_str(rep, "id", hex);
    kt_ctl_reply_str(rep, "to", c->recipient);
    kt_ctl_reply_str(rep, "doel", c->doel);
    kt_ctl_reply_begin_array(rep, "types");
    memcpy(types, c->types, sizeof(types));
    for (tok = strtok_r(types, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
        kt_ctl_reply_str(rep, NULL, tok);
    kt_ctl_reply_end_array(rep);
    kt_ctl_reply_str(rep, "door", kt_consent_door_name(c->door));
    kt_ctl_reply_str(rep, "decision", kt_consent_decision_name(c->decision));
    kt_ctl_reply_str(rep, "given", c->gegeven_op);
    kt_ctl_reply_str(rep, "until", c->geldig_tot);
    if (c->ingetrokken_op[0] != '\0')
        kt_ctl_reply_str(rep, "withdrawn", c->ingetrokken_op);
    else
        kt_ctl_reply_null(rep, "withdrawn");
    if (c->evidence[0] != '\0')
        kt_ctl_reply_str(rep, "evidence", c->evidence);
    else
        kt_ctl_reply_null(rep, "evidence");
    kt_ctl_reply_str(rep, "state", kt_consent_state_name(kt_consent_state_on(c, today)));
    kt_ctl_reply_end_object(rep);
}

/* Runs the audit hook (inside the transaction) for the row id. */
static int s_audit(kt_commands_consent_t *cc, const kt_ctl_caller_t *who, const char *action,
                   const uint8_t id[KT_CONSENT_ID_BYTES], kt_consent_t *row, kt_diag_t *d)
{
    int rc;

    if ((rc = kt_consent_get(cc->cmds->st, id, row, d)) != 0)
        return rc;
    if (cc->events.audit == NULL)
        return 0;
    return cc->events.audit(cc->events.ctx, cc->cmds->st, who, action, row, d);
}

/* ---- consent-grant ---- */

/* Reads the grant's arguments into g (borrowing from req), or puts the
 * error in rep. */
static int s_grant_args(kt_commands_consent_t *cc, const kt_ctl_req_t *req, kt_consent_grant_t *g,
                        const char ***types, const char *today, kt_ctl_reply_t *rep)
{
    const char *to = NULL;
    int rc;

    if ((rc = s_subject(cc, req, g->subject, rep)) != 0)
        return rc == KT_ENOENT ? kt_ctl_reply_error(rep, KT_EINVAL, "leerling: required") : rc;
    if (kt_ctl_req_str(req, "to", &to) != 0)
        return kt_ctl_reply_error(rep, KT_EINVAL, "to: required (a partner node id)");
    if (!kt_keys_valid_id(to) || kt_conf_partner(*cc->cmds->conf, to) == NULL)
        return kt_ctl_reply_error(rep, KT_ENOENT,
                                  "to: not a partner of this node; see ketenctl partners");
    g->recipient = to;
    if (kt_ctl_req_str(req, "doel", &g->doel) != 0 || kt_ctl_req_str(req, "door", &g->door) != 0 ||
        kt_ctl_req_str(req, "until", &g->geldig_tot) != 0)
        return kt_ctl_reply_error(rep, KT_EINVAL, "doel, door and until are required strings");
    if (kt_ctl_req_strv(req, "types", types, &g->ntypes) != 0)
        return kt_ctl_reply_error(rep, KT_EINVAL, "types: required, an array of record types");
    g->types = *types;
    if (kt_ctl_req_bool(req, "informed", &g->informed) != 0)
        return kt_ctl_reply_error(rep, KT_EINVAL,
                                  "informed: required, true once the parents were informed "
                                  "(privacy rule 3)");
    if ((kt_ctl_req_has(req, "evidence") && kt_ctl_req_str(req, "evidence", &g->evidence) != 0) ||
        (kt_ctl_req_has(req, "decision") && kt_ctl_req_str(req, "decision", &g->decision) != 0) ||
        (kt_ctl_req_has(req, "given") && kt_ctl_req_str(req, "given", &g->gegeven_op) != 0))
        return kt_ctl_reply_error(rep, KT_EINVAL, "evidence, decision and given are strings");
    if (g->gegeven_op == NULL)
        g->gegeven_op = today;
    else if (kt_consent_date_valid(g->gegeven_op) && strcmp(g->gegeven_op, today) > 0)
        return kt_ctl_reply_error(rep, KT_EINVAL, "given: must not be in the future");
    return 0;
}

static int s_grant(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                   kt_ctl_reply_t *rep)
{
    kt_commands_consent_t *cc = ctx;
    kt_store_t *st = cc->cmds->st;
    kt_consent_grant_t g;
    kt_consent_t row;
    const char **types = NULL;
    char today[KT_DATE_BYTES], hex[KT_ENVELOPE_ID_HEX];
    uint8_t id[KT_CONSENT_ID_BYTES];
    kt_diag_t d = {{0}};
    int rc;

    memset(&g, 0, sizeof(g));
    kt_consent_today(today);
    if ((rc = s_grant_args(cc, req, &g, &types, today, rep)) != 0)
        goto out;
    if ((rc = kt_store_begin(st, &d)) != 0 ||
        (rc = kt_consent_grant(id, st, kt_exchange_vault(cc->cmds->x), &g, &d)) != 0 ||
        (rc = s_audit(cc, who,
                      g.decision && strcmp(g.decision, "niet_akkoord") == 0 ? "consent_refused"
                                                                            : "consent_granted",
                      id, &row, &d)) != 0 ||
        (rc = kt_store_commit(st, &d)) != 0) {
        kt_store_rollback(st);
        rc = kt_ctl_reply_error(rep, rc, "%s", d.msg);
        goto out;
    }
    kt_envelope_id_hex(hex, id);
    kt_log_info("consent %s recorded: %s for %s, doel %s", hex,
                kt_consent_decision_name(row.decision), row.recipient, row.doel);
    if (row.decision == KT_CONSENT_AKKOORD && cc->events.granted != NULL)
        cc->events.granted(cc->events.ctx, id);
    kt_ctl_reply_str(rep, "id", hex);
    kt_ctl_reply_str(rep, "state", kt_consent_state_name(kt_consent_state_on(&row, today)));
    s_reply_row(rep, "consent", &row, today);
out:
    free(types);
    return rc;
}

/* ---- consent-withdraw ---- */

static int s_withdraw(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                      kt_ctl_reply_t *rep)
{
    kt_commands_consent_t *cc = ctx;
    kt_store_t *st = cc->cmds->st;
    kt_consent_t row;
    const char *hex = NULL;
    char today[KT_DATE_BYTES];
    uint8_t id[KT_CONSENT_ID_BYTES];
    kt_diag_t d = {{0}};
    int rc;

    if (kt_ctl_req_str(req, "id", &hex) != 0 || kt_envelope_id_parse(id, hex) != 0)
        return kt_ctl_reply_error(rep, KT_EINVAL, "a consent id is 32 lowercase hex characters");
    kt_consent_today(today);
    if ((rc = kt_store_begin(st, &d)) != 0 || (rc = kt_consent_withdraw(st, id, today, &d)) != 0 ||
        (rc = s_audit(cc, who, "consent_withdrawn", id, &row, &d)) != 0 ||
        (rc = kt_store_commit(st, &d)) != 0) {
        kt_store_rollback(st);
        return kt_ctl_reply_error(rep, rc, "%s", d.msg);
    }
    kt_log_info("consent %s withdrawn: %s for %s, doel %s", hex,
                kt_consent_decision_name(row.decision), row.recipient, row.doel);
    if (row.decision == KT_CONSENT_AKKOORD && cc->events.withdrawn != NULL)
        cc->events.withdrawn(cc->events.ctx, id);
    kt_ctl_reply_str(rep, "id", hex);
    kt_ctl_reply_str(rep, "state", kt_consent_state_name(row.state));
    s_reply_row(rep, "consent", &row, today);
    return 0;
}

/* ---- consent-list ---- */

static int s_list(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                  kt_ctl_reply_t *rep)
{
    kt_commands_consent_t *cc = ctx;
    uint8_t subject[KT_SUBJECT_BYTES];
    kt_consent_t *rows = NULL;
    char today[KT_DATE_BYTES];
    size_t n = 0, i;
    kt_diag_t d = {{0}};
    int rc, by_subject;

    (void)who;
    if ((rc = s_subject(cc, req, subject, rep)) != 0 && rc != KT_ENOENT)
        return rc;
    by_subject = rc == 0;
    kt_consent_today(today);
    if ((rc = kt_consent_list(cc->cmds->st, by_subject ? subject : NULL, &rows, &n, &d)) != 0)
        return kt_ctl_reply_error(rep, rc, "%s", d.msg);
    kt_ctl_reply_begin_array(rep, "consents");
    for (i = 0; i < n; i++)
        s_reply_row(rep, NULL, &rows[i], today);
    kt_ctl_reply_end_array(rep);
    free(rows);
    return 0;
}

int kt_commands_consent_register(kt_control_t *ctl, kt_commands_consent_t *cc)
{
    int rc;

    if ((rc = kt_control_register(ctl, "consent-grant", KT_ROLE_OPERATOR, s_grant, cc)) != 0 ||
        (rc = kt_control_register(ctl, "consent-withdraw", KT_ROLE_OPERATOR, s_withdraw, cc)) !=
            0 ||
        (rc = kt_control_register(ctl, "consent-list", KT_ROLE_OPERATOR | KT_ROLE_AUDITOR, s_list,
                                  cc)) != 0)
        return rc;
    return 0;
}
