/*
 * commands_subject.c - subject access and record export
 * (commands_subject.h).
 *
 * The only place that gathers all of one pupil's data in one reply, so it
 * answers auditors only, audits the request before it answers (an
 * unaudited look is no look), and never logs what it returned. The
 * leerling_id of the request becomes the subject pseudonym at once and is
 * never put into a reply, a log line or an audit entry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keten/audit.h"
#include "keten/commands_subject.h"
#include "keten/consent.h"
#include "keten/envelope.h"
#include "keten/trail.h"
#include "keten/vault.h"

/* Writes the audit entry for a read (subject_access or exported) in its own
 * transaction; the reply waits for its commit. */
static int s_audit_read(kt_commands_t *c, const kt_ctl_caller_t *who, const char *action,
                        const uint8_t *subject, const uint8_t *record_id, const char *partner,
                        kt_diag_t *d)
{
    char actor[KT_AUDIT_ACTOR_MAX + 1];
    kt_trail_t t;
    int rc;

    kt_trail_uid(actor, (unsigned)who->uid);
    memset(&t, 0, sizeof(t));
    t.actor = actor;
    t.action = action;
    t.decision = "answered";
    t.subject = subject;
    t.record_id = record_id;
    t.partner = partner;
    if ((rc = kt_store_begin(c->st, d)) != 0)
        return rc;
    if ((rc = kt_trail_write(c->st, &t, d)) != 0 || (rc = kt_store_commit(c->st, d)) != 0)
        kt_store_rollback(c->st);
    return rc;
}

/* The record's fields, or why they cannot be shown (shredded, partner gone). */
static void s_reply_fields(kt_commands_t *c, kt_ctl_reply_t *rep, const uint8_t *id,
                           const kt_outbox_row_t *out, const kt_inbox_row_t *in)
{
    kt_record_t *rec = NULL;
    kt_diag_t d = {{0}};

    if (kt_commands_load_record(c, id, out, out ? 1 : 0, in, in ? 1 : 0, &rec, &d) == 0)
        kt_commands_reply_record(rep, rec);
    else
        kt_ctl_reply_str(rep, "record_error", d.msg);
    kt_record_destroy(&rec);
}

static void s_reply_sent(kt_commands_t *c, kt_ctl_reply_t *rep, const kt_outbox_row_t *rows,
                         size_t n)
{
    char hex[KT_ENVELOPE_ID_HEX];
    size_t i;

    kt_ctl_reply_begin_array(rep, "sent");
    for (i = 0; i < n; i++) {
        kt_envelope_id_hex(hex, rows[i].id);
        kt_ctl_reply_begin_object(rep, NULL);
        kt_ctl_reply_str(rep, "id", hex);
        kt_ctl_reply_str(rep, "to", rows[i].partner);
        kt_ctl_reply_str(rep, "type", rows[i].record_type);
        kt_ctl_reply_str(rep, "state", kt_outbox_state_name(rows[i].state));
        if (rows[i].has_consent) {
            kt_envelope_id_hex(hex, rows[i].consent_id);
            kt_ctl_reply_str(rep, "consent", hex);
        } else {
            kt_ctl_reply_null(rep, "consent");
        }
        kt_ctl_reply_utc(rep, "created", rows[i].created_ms / 1000);
        kt_ctl_reply_utc(rep, "updated", rows[i].updated_ms / 1000);
        s_reply_fields(c, rep, rows[i].id, &rows[i], NULL);
        kt_ctl_reply_end_object(rep);
    }
    kt_ctl_reply_end_array(rep);
}

static void s_reply_received(kt_commands_t *c, kt_ctl_reply_t *rep, const kt_inbox_row_t *rows,
                             size_t n)
{
    char hex[KT_ENVELOPE_ID_HEX];
    size_t i;

    kt_ctl_reply_begin_array(rep, "received");
    for (i = 0; i < n; i++) {
        kt_envelope_id_hex(hex, rows[i].id);
        kt_ctl_reply_begin_object(rep, NULL);
        kt_ctl_reply_str(rep, "id", hex);
        kt_ctl_reply_str(rep, "from", rows[i].sender);
        kt_ctl_reply_str(rep, "type", rows[i].record_type);
        kt_ctl_reply_str(rep, "state", rows[i].state);
        kt_ctl_reply_utc(rep, "received", rows[i].received_ms / 1000);
        s_reply_fields(c, rep, rows[i].id, NULL, &rows[i]);
        kt_ctl_reply_end_object(rep);
    }
    kt_ctl_reply_end_array(rep);
}

static void s_reply_consents(kt_ctl_reply_t *rep, const kt_consent_t *rows, size_t n)
{
    char hex[KT_ENVELOPE_ID_HEX];
    size_t i;

    kt_ctl_reply_begin_array(rep, "consents");
    for (i = 0; i < n; i++) {
        kt_envelope_id_hex(hex, rows[i].id);
        kt_ctl_reply_begin_object(rep, NULL);
        kt_ctl_reply_str(rep, "id", hex);
        kt_ctl_reply_str(rep, "to", rows[i].recipient);
        kt_ctl_reply_str(rep, "doel", rows[i].doel);
        kt_ctl_reply_str(rep, "types", rows[i].types);
        kt_ctl_reply_str(rep, "door", kt_consent_door_name(rows[i].door));
        kt_ctl_reply_str(rep, "decision", kt_consent_decision_name(rows[i].decision));
        kt_ctl_reply_str(rep, "given", rows[i].gegeven_op);
        kt_ctl_reply_str(rep, "until", rows[i].geldig_tot);
        if (rows[i].ingetrokken_op[0] != '\0')
            kt_ctl_reply_str(rep, "withdrawn", rows[i].ingetrokken_op);
        else
            kt_ctl_reply_null(rep, "withdrawn");
        kt_ctl_reply_end_object(rep);
    }
    kt_ctl_reply_end_array(rep);
}

static void s_opt(kt_ctl_reply_t *rep, const char *key, const char *v)
{
    if (v[0] != '\0')
        kt_ctl_reply_str(rep, key, v);
    else
        kt_ctl_reply_null(rep, key);
}

/* One audit entry about the pupil, as an "exchange". */
static int s_reply_entry(void *ctx, const kt_audit_entry_t *e)
{
    kt_ctl_reply_t *rep = ctx;
    char hex[KT_ENVELOPE_ID_HEX];

    kt_ctl_reply_begin_object(rep, NULL);
    kt_ctl_reply_int(rep, "seq", e->seq);
    kt_ctl_reply_utc(rep, "time", e->time);
    kt_ctl_reply_str(rep, "action", e->action);
    kt_ctl_reply_str(rep, "decision", e->decision);
    s_opt(rep, "partner", e->counterparty);
    if (e->has_record_id) {
        kt_envelope_id_hex(hex, e->record_id);
        kt_ctl_reply_str(rep, "record", hex);
    } else {
        kt_ctl_reply_null(rep, "record");
    }
    s_opt(rep, "type", e->record_type);
    s_opt(rep, "fields", e->fields);
    s_opt(rep, "doel", e->doel);
    s_opt(rep, "grondslag", e->grondslag);
    if (e->has_consent_id) {
        kt_envelope_id_hex(hex, e->consent_id);
        kt_ctl_reply_str(rep, "consent", hex);
    } else {
        kt_ctl_reply_null(rep, "consent");
    }
    s_opt(rep, "policy", e->policy_id);
    if (e->policy_version > 0)
        kt_ctl_reply_int(rep, "policy_version", e->policy_version);
    else
        kt_ctl_reply_null(rep, "policy_version");
    s_opt(rep, "reason", e->reason);
    kt_ctl_reply_end_object(rep);
    return 0;
}

static int s_subject(kt_commands_t *c, const kt_ctl_req_t *req, uint8_t subject[KT_SUBJECT_BYTES],
                     kt_ctl_reply_t *rep)
{
    const char *id = NULL;
    kt_diag_t d = {{0}};
    int rc;

    if (kt_ctl_req_str(req, "leerling", &id) != 0 ||
        (!kt_record_is_bsn(id) && !kt_record_is_onderwijsnummer(id)))
        return kt_ctl_reply_error(rep, KT_EINVAL,
                                  "leerling: not a BSN or onderwijsnummer (9 digits that pass "
                                  "the elfproef)");
    if ((rc = kt_vault_subject(subject, kt_exchange_vault(c->x), id, &d)) != 0)
        return kt_ctl_reply_error(rep, rc, "%s", d.msg);
    return 0;
}

static int s_show(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                  kt_ctl_reply_t *rep)
{
    kt_commands_t *c = ctx;
    uint8_t subject[KT_SUBJECT_BYTES];
    kt_outbox_row_t *out = NULL;
    kt_inbox_row_t *in = NULL;
    kt_consent_t *cons = NULL;
    size_t nout = 0, nin = 0, ncons = 0;
    kt_audit_filter_t f;
    kt_diag_t d = {{0}};
    int rc;

    if ((rc = s_subject(c, req, subject, rep)) != 0)
        return rc;
    if ((rc = s_audit_read(c, who, KT_AUDIT_SUBJECT_ACCESS, subject, NULL, NULL, &d)) != 0)
        return kt_ctl_reply_error(rep, rc, "not answered, the request could not be audited: %s",
                                  d.msg);
    if ((rc = kt_outbox_subject(c->st, subject, &out, &nout, &d)) != 0 ||
        (rc = kt_inbox_subject(c->st, subject, &in, &nin, &d)) != 0 ||
        (rc = kt_consent_list(c->st, subject, &cons, &ncons, &d)) != 0) {
        rc = kt_ctl_reply_error(rep, rc, "%s", d.msg);
        goto out;
    }
    kt_ctl_reply_str(rep, "node", (*c->conf)->id);
    kt_ctl_reply_hex(rep, "subject", subject, sizeof(subject));
    kt_ctl_reply_utc(rep, "generated", (int64_t)time(NULL));
    s_reply_sent(c, rep, out, nout);
    s_reply_received(c, rep, in, nin);
    s_reply_consents(rep, cons, ncons);
    memset(&f, 0, sizeof(f));
    f.has_subject = 1;
    memcpy(f.subject, subject, sizeof(subject));
    kt_ctl_reply_begin_array(rep, "exchanges");
    rc = kt_audit_list(c->st, &f, s_reply_entry, rep, &d);
    kt_ctl_reply_end_array(rep);
    if (rc != 0)
        rc = kt_ctl_reply_error(rep, rc, "%s", d.msg);
out:
    free(out);
    free(in);
    free(cons);
    return rc;
}

static int s_export(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                    kt_ctl_reply_t *rep)
{
    kt_commands_t *c = ctx;
    const char *hex = NULL, *partner = NULL, *sender = NULL;
    const kt_pubkey_t *signer = NULL;
    uint8_t id[KT_ENVELOPE_ID_BYTES], *buf = NULL;
    kt_outbox_row_t *out = NULL;
    kt_inbox_row_t *in = NULL;
    size_t len = 0, nout = 0, nin = 0, i = 0, j = 0;
    const uint8_t *subject = NULL;
    kt_diag_t d = {{0}};
    int rc;

    if (kt_ctl_req_str(req, "id", &hex) != 0 || kt_envelope_id_parse(id, hex) != 0)
        return kt_ctl_reply_error(rep, KT_EINVAL, "a record id is 32 lowercase hex characters");
    if ((kt_ctl_req_has(req, "partner") && kt_ctl_req_str(req, "partner", &partner) != 0) ||
        (kt_ctl_req_has(req, "sender") && kt_ctl_req_str(req, "sender", &sender) != 0))
        return kt_ctl_reply_error(rep, KT_EINVAL, "partner and sender are node ids");
    /* The copy asked for, or the first this node holds, sent before
     * received; its pupil goes into the audit entry, so a subject access
     * request shows this handover too. */
    rc = sender != NULL ? KT_ENOENT : kt_outbox_get(c->st, id, &out, &nout, &d);
    if (rc == KT_ENOENT && partner == NULL)
        rc = kt_inbox_get(c->st, id, &in, &nin, &d);
    if (rc != 0) {
        rc = kt_ctl_reply_error(rep, rc, "no record %s on this node", hex);
        goto out;
    }
    for (i = 0; partner != NULL && i < nout && strcmp(out[i].partner, partner) != 0; i++)
        ;
    for (j = 0; sender != NULL && j < nin && strcmp(in[j].sender, sender) != 0; j++)
        ;
    if ((nout > 0 && i == nout) || (nin > 0 && j == nin)) {
        rc = kt_ctl_reply_error(rep, KT_ENOENT, "no copy of record %s for %s on this node", hex,
                                partner ? partner : sender);
        goto out;
    }
    if (nout > 0) {
        partner = out[i].partner;
        subject = out[i].has_subject ? out[i].subject : NULL;
    } else {
        sender = in[j].sender;
        subject = in[j].has_subject ? in[j].subject : NULL;
    }
    if ((rc = kt_commands_signed(c, id, partner, sender, &buf, &len, &signer, &d)) != 0) {
        rc = kt_ctl_reply_error(rep, rc, "%s", d.msg);
        goto out;
    }
    if ((rc = s_audit_read(c, who, KT_AUDIT_EXPORTED, subject, id, sender ? sender : partner,
                           &d)) != 0) {
        rc =
            kt_ctl_reply_error(rep, rc, "not exported, the export could not be audited: %s", d.msg);
        goto out;
    }
    kt_ctl_reply_str(rep, "id", hex);
    kt_ctl_reply_str(rep, "signer", signer->id);
    kt_ctl_reply_bytes(rep, "signed", buf, len);
out:
    kt_vault_free(buf, len);
    free(out);
    free(in);
    return rc;
}

int kt_commands_subject_register(kt_control_t *ctl, kt_commands_t *c)
{
    int rc;

    if ((rc = kt_control_register(ctl, "subject-show", KT_ROLE_AUDITOR, s_show, c)) != 0)
        return rc;
    return kt_control_register(ctl, "record-export", KT_ROLE_OPERATOR | KT_ROLE_AUDITOR, s_export,
                               c);
}
