/*
 * enforce.c - per-partner policy and consent on every record that leaves or
 * arrives (enforce.h).
 *
 * Owns the order of the checks: rule, consent (decided on the record as the
 * school submitted it, before anything is stripped), then stripping and the
 * pseudonym. It must never let a record out without a send rule, never let
 * a consent-gated record out without an active matching consent, never
 * accept a field outside the node's own receive rule, and never put a field
 * value into a diagnostic: rule, type, partner and field names only.
 */
#include <stdio.h>
#include <string.h>

#include "keten/consent.h"
#include "keten/enforce.h"
#include "keten/log.h"

static void s_names(char out[KT_HOOK_NAMES_BYTES], const kt_policy_names_t *n)
{
    size_t i, len = 0;

    out[0] = '\0';
    for (i = 0; i < n->count; i++) {
        int w = snprintf(out + len, KT_HOOK_NAMES_BYTES - len, "%s%s", i ? "," : "", n->name[i]);

        if (w < 0 || (size_t)w >= KT_HOOK_NAMES_BYTES - len)
            break;
        len += (size_t)w;
    }
}

/* The names of the fields rec carries, comma-separated. */
static void s_record_names(char out[KT_HOOK_NAMES_BYTES], const kt_record_t *rec)
{
    size_t i, len = 0, n = kt_record_nfields(rec);

    out[0] = '\0';
    for (i = 0; i < n; i++) {
        int w = snprintf(out + len, KT_HOOK_NAMES_BYTES - len, "%s%s", i ? "," : "",
                         kt_record_field_at(rec, i));

        if (w < 0 || (size_t)w >= KT_HOOK_NAMES_BYTES - len)
            break;
        len += (size_t)w;
    }
}

/* What the audit entry says about the rule. */
static void s_rule_facts(kt_hook_decision_t *dec, const kt_policy_rule_t *rule)
{
    const char *base = rule->file ? strrchr(rule->file, '/') : NULL;

    dec->policy_version = rule->version;
    dec->retention_days = rule->retention_days;
    snprintf(dec->doel, sizeof(dec->doel), "%s", rule->doel ? rule->doel : "");
    snprintf(dec->grondslag, sizeof(dec->grondslag), "%s",
             kt_policy_grondslag_name(rule->grondslag));
    snprintf(dec->policy_id, sizeof(dec->policy_id), "%s",
             base ? base + 1 : (rule->file ? rule->file : rule->partner));
}

/* The consent the record goes under, or KT_ENOCONSENT. */
static int s_consent(kt_enforce_t *e, const kt_policy_rule_t *rule, const char *partner,
                     const kt_record_t *rec, const char *date, kt_hook_decision_t *dec,
                     kt_diag_t *d)
{
    kt_consent_query_t q;
    unsigned by = 0;
    int rc;

    if ((rc = kt_policy_consent_by(rule, rec, date, &by)) != 0)
        return rc;
    memset(&q, 0, sizeof(q));
    q.subject = dec->subject;
    q.recipient = partner;
    q.doel = rule->doel;
    q.record_type = rule->type;
    q.date = date;
    q.accepted = by;
    rc = kt_consent_find_active(dec->consent_id, e->st, &q, d);
    if (rc == 0)
        dec->has_consent = 1;
    else if (rc == KT_ENOCONSENT)
        kt_diag_set(d, KT_ENOCONSENT,
                    "held: %s to %s needs consent for %s (policy version %d), and none is active",
                    rule->type, partner, rule->doel, rule->version);
    return rc;
}

static int s_outgoing(void *ctx, const char *partner, kt_record_t *rec, const char *date,
                      kt_hook_decision_t *dec, kt_diag_t *d)
{
    kt_enforce_t *e = ctx;
    const char *type = kt_record_type(rec);
    const kt_policy_rule_t *rule = kt_policy_rule(*e->set, partner, KT_POLICY_SEND, type, date);
    char pseudonym[KT_PSEUDONYM_BYTES];
    kt_policy_names_t stripped;
    int rc, held = 0;

    if (rule == NULL)
        return kt_diag_set(d, KT_EDENIED,
                           "refused: no send rule for %s to %s on %s (ketenctl policy explain)",
                           type, partner, date);
    s_rule_facts(dec, rule);
    if ((rc = kt_vault_subject(dec->subject, e->vault, kt_record_leerling_id(rec), d)) != 0)
        return rc;
    dec->has_subject = 1;
    if (kt_policy_needs_consent(rule, rec)) {
        rc = s_consent(e, rule, partner, rec, date, dec, d);
        if (rc == KT_ENOCONSENT)
            held = 1; /* still stripped below: a held record waits as it would go */
        else if (rc != 0)
            return rc;
    }
    if (rule->identifier == KT_IDENT_PSEUDONIEM &&
        (e->pseudonym == NULL ||
         e->pseudonym(e->pseudonym_ctx, partner, kt_record_leerling_id(rec), pseudonym) != 0))
        return kt_diag_set(d, KT_EDENIED, "refused: no pseudonym for %s", partner);
    rc = kt_policy_apply_send(rule, rec, rule->identifier == KT_IDENT_PSEUDONIEM ? pseudonym : NULL,
                              &stripped, held ? NULL : d);
    if (rc != 0)
        return rc;
    s_names(dec->stripped, &stripped);
    s_record_names(dec->fields, rec);
    return held ? KT_ENOCONSENT : 0;
}

static int s_incoming(void *ctx, const char *sender, const kt_record_t *rec, const char *date,
                      kt_hook_decision_t *dec, kt_diag_t *d)
{
    kt_enforce_t *e = ctx;
    const char *type = kt_record_type(rec);
    const kt_policy_rule_t *rule = kt_policy_rule(*e->set, sender, KT_POLICY_RECEIVE, type, date);

    if (rule == NULL)
        return kt_diag_set(d, KT_EDENIED, "no receive rule for %s from %s on %s", type, sender,
                           date);
    s_rule_facts(dec, rule);
    s_record_names(dec->fields, rec);
    return kt_policy_check_receive(rule, rec, d);
}

static size_t s_recipients(void *ctx, const kt_record_t *rec, const char *date, const char **out,
                           size_t cap)
{
    kt_enforce_t *e = ctx;

    return kt_policy_recipients(*e->set, kt_record_type(rec), date, out, cap);
}

void kt_enforce_init(kt_enforce_t *e, const kt_policy_set_t *const *set, kt_store_t *st)
{
    memset(e, 0, sizeof(*e));
    e->set = set;
    e->st = st;
    e->hook.outgoing = s_outgoing;
    e->hook.incoming = s_incoming;
    e->hook.recipients = s_recipients;
    e->hook.ctx = e;
}
