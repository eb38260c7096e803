/*
 * commands.c - the control commands of a running node: submit, status,
 * outbox, inbox, show, partners.
 *
 * Owns the mapping from control requests to engine calls and back to
 * replies, and which role each command needs. Must never put a record's
 * field values in a reply except in `show`, which is how an operator reads a
 * record on purpose; and never in a log line.
 */
#include <stdlib.h>
#include <string.h>

#include "keten/commands.h"
#include "keten/trail.h"
#include "keten/inbox.h"
#include "keten/outbox.h"
#include "keten/record.h"

/* Unix seconds, or null for "never" (0). */
static void s_reply_time(kt_ctl_reply_t *rep, const char *key, int64_t ms)
{
    if (ms <= 0)
        kt_ctl_reply_null(rep, key);
    else
        kt_ctl_reply_int(rep, key, ms / 1000);
}

/* ---- submit ---- */

/* Where each record went: one entry per recipient. */
static void s_reply_copies(kt_ctl_reply_t *rep, uint8_t (*ids)[KT_ENVELOPE_ID_BYTES],
                           const kt_exchange_copies_t *copies)
{
    size_t i;

    kt_ctl_reply_begin_array(rep, "copies");
    for (i = 0; i < copies->n; i++) {
        const kt_exchange_copy_t *cp = &copies->copy[i];
        char hex[KT_ENVELOPE_ID_HEX];

        kt_envelope_id_hex(hex, ids[cp->record]);
        kt_ctl_reply_begin_object(rep, NULL);
        kt_ctl_reply_str(rep, "id", hex);
        kt_ctl_reply_str(rep, "partner", cp->partner);
        kt_ctl_reply_str(rep, "state", kt_outbox_state_name(cp->state));
        kt_ctl_reply_str(rep, "stripped", cp->stripped);
        kt_ctl_reply_end_object(rep);
    }
    kt_ctl_reply_end_array(rep);
}

static void s_free_records(uint8_t **recs, size_t *lens, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        kt_ctl_bytes_free(recs[i], lens[i]);
    free(recs);
    free(lens);
}

static int s_submit(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                    kt_ctl_reply_t *rep)
{
    kt_commands_t *c = ctx;
    const char **to = NULL, **b64 = NULL;
    size_t nto = 0, n = 0, i;
    uint8_t **recs = NULL, (*ids)[KT_ENVELOPE_ID_BYTES] = NULL;
    kt_exchange_copies_t copies = {NULL, 0, 0};
    size_t *lens = NULL;
    char actor[KT_AUDIT_ACTOR_MAX + 1];
    kt_diag_t d = {{0}};
    int rc;

    if ((kt_ctl_req_has(req, "to") && kt_ctl_req_strv(req, "to", &to, &nto) != 0) ||
        kt_ctl_req_strv(req, "records", &b64, &n) != 0) {
        rc = kt_ctl_reply_error(rep, KT_EMALFORMED,
                                "submit needs \"records\" (and optionally \"to\") as arrays of "
                                "strings");
        goto out;
    }
    if (n == 0 || n > KT_EXCHANGE_SUBMIT_MAX) {
        rc = kt_ctl_reply_error(rep, KT_EINVAL, "a submission holds 1 to %d records",
                                KT_EXCHANGE_SUBMIT_MAX);
        goto out;
    }
    recs = calloc(n, sizeof(*recs));
    lens = calloc(n, sizeof(*lens));
    ids = calloc(n, sizeof(*ids));
    if (recs == NULL || lens == NULL || ids == NULL) {
        rc = kt_ctl_reply_error(rep, KT_ENOMEM, "out of memory");
        goto out;
    }
    for (i = 0; i < n; i++)
        if (kt_ctl_decode_bytes(b64[i], &recs[i], &lens[i]) != 0) {
            rc = kt_ctl_reply_error(rep, KT_EMALFORMED, "record %zu: not base64", i + 1);
            goto out;
        }
    kt_trail_uid(actor, (unsigned)who->uid);
    rc = kt_exchange_submit(c->x, actor, to, nto, (const uint8_t *const *)recs, lens, n, ids,
                            &copies, &d);
    if (rc != 0) {
        /* a policy refusal is about the records, not about the caller's
         * rights: "invalid", so ketenctl does not call it permission denied */
        rc = kt_ctl_reply_error(rep, rc == KT_EDENIED ? KT_EINVAL : rc, "%s", d.msg);
        goto out;
    }
    kt_ctl_reply_begin_array(rep, "ids");
    for (i = 0; i < n; i++) {
        char hex[KT_ENVELOPE_ID_HEX];

        kt_envelope_id_hex(hex, ids[i]);
        kt_ctl_reply_str(rep, NULL, hex);
    }
    kt_ctl_reply_end_array(rep);
    s_reply_copies(rep, ids, &copies);
    kt_exchange_copies_free(&copies);
out:
    if (recs != NULL)
        s_free_records(recs, lens, n);
    else
        free(lens);
    free(ids);
    free(to);
    free(b64);
    return rc;
}

/* ---- status, partners ---- */

static void s_reply_partners(kt_commands_t *c, kt_ctl_reply_t *rep)
{
    const kt_conf_t *conf = *c->conf;
    size_t i;

    kt_ctl_reply_begin_array(rep, "partners");
    for (i = 0; i < conf->n_partners; i++) {
        const kt_conf_partner_t *p = &conf->partners[i];
        int connected = 0;
        time_t seen = 0;

        (void)!kt_exchange_partner_state(c->x, p->id, &connected, &seen);
        kt_ctl_reply_begin_object(rep, NULL);
        kt_ctl_reply_str(rep, "id", p->id);
        kt_ctl_reply_str(rep, "role", kt_role_name(p->role));
        kt_ctl_reply_str(rep, "fingerprint", p->fingerprint);
        kt_ctl_reply_str(rep, "endpoint", p->endpoint);
        kt_ctl_reply_bool(rep, "connected", connected);
        s_reply_time(rep, "last_seen", (int64_t)seen * 1000);
        kt_ctl_reply_end_object(rep);
    }
    kt_ctl_reply_end_array(rep);
}

static int s_partners(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                      kt_ctl_reply_t *rep)
{
    (void)who;
    (void)req;
    s_reply_partners(ctx, rep);
    return 0;
}

static int s_status(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                    kt_ctl_reply_t *rep)
{
    kt_commands_t *c = ctx;
    const kt_conf_t *conf = *c->conf;
    size_t counts[KT_OUT_NSTATES] = {0}, inbox = 0, i;
    kt_diag_t d = {{0}};
    int rc;

    (void)who;
    (void)req;
    if ((rc = kt_outbox_counts(c->st, counts, &d)) != 0 ||
        (rc = kt_inbox_count(c->st, &inbox, &d)) != 0)
        return kt_ctl_reply_error(rep, rc, "%s", d.msg);
    kt_ctl_reply_begin_object(rep, "node");
    kt_ctl_reply_str(rep, "id", conf->id);
    kt_ctl_reply_str(rep, "role", kt_role_name(kt_keys_public(conf->keys)->role));
    kt_ctl_reply_str(rep, "fingerprint", conf->fingerprint);
    kt_ctl_reply_str(rep, "listen", kt_exchange_endpoint(c->x));
    kt_ctl_reply_end_object(rep);
    s_reply_partners(c, rep);
    kt_ctl_reply_begin_object(rep, "outbox");
    for (i = 0; i < KT_OUT_NSTATES; i++)
        kt_ctl_reply_int(rep, kt_outbox_state_name((kt_out_state_t)i), (int64_t)counts[i]);
    kt_ctl_reply_end_object(rep);
    kt_ctl_reply_begin_object(rep, "inbox");
    kt_ctl_reply_int(rep, "accepted", (int64_t)inbox);
    kt_ctl_reply_end_object(rep);
    return 0;
}

/* ---- outbox, inbox ---- */

static void s_reply_out_rows(kt_ctl_reply_t *rep, const kt_outbox_row_t *rows, size_t n)
{
    size_t i;

    kt_ctl_reply_begin_array(rep, "outbox");
    for (i = 0; i < n; i++) {
        char hex[KT_ENVELOPE_ID_HEX];

        kt_envelope_id_hex(hex, rows[i].id);
        kt_ctl_reply_begin_object(rep, NULL);
        kt_ctl_reply_str(rep, "id", hex);
        kt_ctl_reply_str(rep, "partner", rows[i].partner);
        kt_ctl_reply_str(rep, "type", rows[i].record_type);
        kt_ctl_reply_str(rep, "state", kt_outbox_state_name(rows[i].state));
        kt_ctl_reply_int(rep, "attempts", rows[i].attempts);
        s_reply_time(rep, "next_attempt", rows[i].next_attempt_ms);
        s_reply_time(rep, "created", rows[i].created_ms);
        s_reply_time(rep, "updated", rows[i].updated_ms);
        if (rows[i].reason[0] != '\0')
            kt_ctl_reply_str(rep, "reason", rows[i].reason);
        else
            kt_ctl_reply_null(rep, "reason");
        kt_ctl_reply_end_object(rep);
    }
    kt_ctl_reply_end_array(rep);
}

static int s_outbox(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                    kt_ctl_reply_t *rep)
{
    kt_commands_t *c = ctx;
    kt_outbox_row_t *rows = NULL;
    kt_out_state_t st;
    const char *state = NULL;
    size_t n = 0;
    kt_diag_t d = {{0}};
    int rc, filter = -1;

    (void)who;
    if (kt_ctl_req_has(req, "state")) {
        if (kt_ctl_req_str(req, "state", &state) != 0 || kt_outbox_state_parse(state, &st) != 0)
            return kt_ctl_reply_error(rep, KT_EINVAL,
                                      "state must be one of held, queued, sent, delivered, "
                                      "rejected");
        filter = (int)st;
    }
    if ((rc = kt_outbox_list(c->st, filter, &rows, &n, &d)) != 0)
        return kt_ctl_reply_error(rep, rc, "%s", d.msg);
    s_reply_out_rows(rep, rows, n);
    free(rows);
    return 0;
}

static void s_reply_in_rows(kt_ctl_reply_t *rep, const kt_inbox_row_t *rows, size_t n)
{
    size_t i;

    kt_ctl_reply_begin_array(rep, "inbox");
    for (i = 0; i < n; i++) {
        char hex[KT_ENVELOPE_ID_HEX];

        kt_envelope_id_hex(hex, rows[i].id);
        kt_ctl_reply_begin_object(rep, NULL);
        kt_ctl_reply_str(rep, "sender", rows[i].sender);
        kt_ctl_reply_str(rep, "id", hex);
        kt_ctl_reply_str(rep, "type", rows[i].record_type);
        kt_ctl_reply_str(rep, "state", rows[i].state);
        s_reply_time(rep, "created", rows[i].created_s * 1000);
        s_reply_time(rep, "received", rows[i].received_ms);
        kt_ctl_reply_end_object(rep);
    }
    kt_ctl_reply_end_array(rep);
}

static int s_inbox(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                   kt_ctl_reply_t *rep)
{
    kt_commands_t *c = ctx;
    kt_inbox_row_t *rows = NULL;
    size_t n = 0;
    kt_diag_t d = {{0}};
    int rc;

    (void)who;
    (void)req;
    if ((rc = kt_inbox_list(c->st, &rows, &n, &d)) != 0)
        return kt_ctl_reply_error(rep, rc, "%s", d.msg);
    s_reply_in_rows(rep, rows, n);
    free(rows);
    return 0;
}

/* ---- show ---- */

void kt_commands_reply_record(kt_ctl_reply_t *rep, const kt_record_t *r)
{
    size_t i, n = kt_record_nfields(r);

    kt_ctl_reply_begin_object(rep, "record");
    kt_ctl_reply_str(rep, "type", kt_record_type(r));
    kt_ctl_reply_begin_object(rep, "fields");
    for (i = 0; i < n; i++) {
        const char *name = kt_record_field_at(r, i), *text = NULL;
        kt_field_kind_t kind;
        int64_t num = 0;

        if (kt_record_get(r, name, &kind, &text, &num) != 0)
            continue;
        if (kind == KT_FIELD_INT)
            kt_ctl_reply_int(rep, name, num);
        else if (kind == KT_FIELD_BOOL)
            kt_ctl_reply_bool(rep, name, (int)num);
        else
            kt_ctl_reply_str(rep, name, text);
    }
    kt_ctl_reply_end_object(rep);
    kt_ctl_reply_end_object(rep);
}

/* The record itself, from the first copy this node holds of it. */
/* The signed container of a record this node sent (sender NULL) or
 * received from sender, and the key that signed it. */
int kt_commands_signed(kt_commands_t *c, const uint8_t *id, const char *partner, const char *sender,
                       uint8_t **buf, size_t *len, const kt_pubkey_t **signer, kt_diag_t *d)
{
    const kt_conf_partner_t *p;

    *buf = NULL;
    *len = 0;
    if (sender == NULL) {
        *signer = kt_keys_public((*c->conf)->keys);
        return kt_outbox_signed(c->st, kt_exchange_vault(c->x), id, partner, buf, len, d);
    }
    if ((p = kt_conf_partner(*c->conf, sender)) == NULL)
        return kt_diag_set(d, KT_ENOENT,
                           "sender '%s' is no longer a partner: its key is "
                           "not configured",
                           sender);
    *signer = &p->pub;
    return kt_inbox_signed(c->st, kt_exchange_vault(c->x), sender, id, buf, len, d);
}

int kt_commands_load_record(kt_commands_t *c, const uint8_t *id, const kt_outbox_row_t *out,
                            size_t nout, const kt_inbox_row_t *in, size_t nin, kt_record_t **rec,
                            kt_diag_t *d)
{
    const kt_pubkey_t *signer = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    kt_payload_t pl;
    int rc;

    (void)nin;
    rc = kt_commands_signed(c, id, nout > 0 ? out[0].partner : NULL, nout > 0 ? NULL : in[0].sender,
                            &buf, &len, &signer, d);
    if (rc == 0 && (rc = kt_envelope_verify(&pl, buf, len, signer, d)) == 0)
        rc = kt_record_decode(rec, pl.body, pl.body_len, d);
    kt_vault_free(buf, len);
    return rc;
}

static int s_show(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                  kt_ctl_reply_t *rep)
{
    kt_commands_t *c = ctx;
    kt_outbox_row_t *out = NULL;
    kt_inbox_row_t *in = NULL;
    kt_record_t *rec = NULL;
    size_t nout = 0, nin = 0;
    uint8_t id[KT_ENVELOPE_ID_BYTES];
    const char *hex;
    kt_diag_t d = {{0}};
    int rc;

    (void)who;
    if (kt_ctl_req_str(req, "id", &hex) != 0 || kt_envelope_id_parse(id, hex) != 0)
        return kt_ctl_reply_error(rep, KT_EINVAL, "a record id is 32 lowercase hex characters");
    rc = kt_outbox_get(c->st, id, &out, &nout, &d);
    if (rc == 0 || rc == KT_ENOENT)
        rc = kt_inbox_get(c->st, id, &in, &nin, &d);
    if (rc != 0 && rc != KT_ENOENT) {
        rc = kt_ctl_reply_error(rep, rc, "%s", d.msg);
        goto out;
    }
    if (nout == 0 && nin == 0) {
        rc = kt_ctl_reply_error(rep, KT_ENOENT, "no record %s on this node", hex);
        goto out;
    }
    rc = 0;
    kt_ctl_reply_str(rep, "id", hex);
    s_reply_out_rows(rep, out, nout);
    s_reply_in_rows(rep, in, nin);
    if (kt_commands_load_record(c, id, out, nout, in, nin, &rec, &d) == 0)
        kt_commands_reply_record(rep, rec);
    else
        kt_ctl_reply_str(rep, "record_error", d.msg);
out:
    kt_record_destroy(&rec);
    free(out);
    free(in);
    return rc;
}

/* ---- purge ---- */

static int s_purge(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                   kt_ctl_reply_t *rep)
{
    kt_commands_t *c = ctx;
    kt_exchange_purge_t r;
    kt_diag_t d = {{0}};
    int rc;

    (void)who;
    (void)req;
    if ((rc = kt_exchange_purge(c->x, &r, &d)) != 0)
        return kt_ctl_reply_error(rep, rc, "%s", d.msg);
    kt_ctl_reply_int(rep, "retractions", (int64_t)r.retractions);
    kt_ctl_reply_int(rep, "inbox", (int64_t)r.inbox);
    kt_ctl_reply_int(rep, "outbox", (int64_t)r.outbox);
    kt_ctl_reply_int(rep, "consents", (int64_t)r.consents);
    kt_ctl_reply_int(rep, "subjects", (int64_t)r.subjects);
    kt_ctl_reply_int(rep, "attendance", (int64_t)r.attendance);
    return 0;
}

/* ---- registration ---- */

int kt_commands_register(kt_control_t *ctl, kt_commands_t *c)
{
    static const struct {
        const char *name;
        unsigned roles;
        kt_ctl_fn fn;
    } cmds[] = {
        {"submit", KT_ROLE_OPERATOR, s_submit},
        {"status", KT_ROLE_OPERATOR | KT_ROLE_AUDITOR, s_status},
        {"partners", KT_ROLE_OPERATOR | KT_ROLE_AUDITOR, s_partners},
        {"outbox", KT_ROLE_OPERATOR, s_outbox},
        {"inbox", KT_ROLE_OPERATOR, s_inbox},
        {"show", KT_ROLE_OPERATOR, s_show},
        {"purge", KT_ROLE_OPERATOR, s_purge},
    };
    size_t i;
    int rc;

    for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if ((rc = kt_control_register(ctl, cmds[i].name, cmds[i].roles, cmds[i].fn, c)) != 0)
            return rc;
    return 0;
}
