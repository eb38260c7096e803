/*
 * trail.c - the exchange's decisions as audit entries (trail.h).
 *
 * Copies only codes, ids, field names and the pseudonym. Text that does not
 * fit its column is an error, never cut — a cut field list would say
 * something other than what happened — except the reason, which is shortened
 * with a visible "...".
 */
#include <stdio.h>
#include <string.h>

#include "keten/trail.h"

static int s_copy(char *dst, size_t cap, const char *src, const char *what, kt_diag_t *d)
{
    if (src == NULL || src[0] == '\0')
        return 0;
    if (strlen(src) >= cap)
        return kt_diag_set(d, KT_ETOOBIG, "audit entry: %s longer than %zu characters", what,
                           cap - 1);
    memcpy(dst, src, strlen(src) + 1);
    return 0;
}

/* A reason is an explanation (a rule's words), so a long one is shortened
 * visibly rather than refused: refusing it would refuse the action. */
static void s_clip(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0, i;

    if (n < cap) {
        memcpy(dst, src ? src : "", n + 1);
    } else {
        memcpy(dst, src, cap - 4);
        memcpy(dst + cap - 4, "...", 4);
    }
    /* a rule's words may quote a path with any bytes in it; the log takes
     * printable ASCII only, and a refused entry would refuse the action */
    for (i = 0; dst[i] != '\0'; i++)
        if ((unsigned char)dst[i] < 0x20 || (unsigned char)dst[i] > 0x7e)
            dst[i] = '?';
}

int kt_trail_write(kt_store_t *st, const kt_trail_t *t, kt_diag_t *d)
{
    const kt_hook_decision_t *dec = t->dec;
    kt_audit_entry_t e;
    int rc;

    kt_audit_entry_init(&e);
    s_clip(e.reason, sizeof(e.reason), t->reason);
    if ((rc = s_copy(e.actor, sizeof(e.actor), t->actor, "actor", d)) != 0 ||
        (rc = s_copy(e.action, sizeof(e.action), t->action, "action", d)) != 0 ||
        (rc = s_copy(e.decision, sizeof(e.decision), t->decision, "decision", d)) != 0 ||
        (rc = s_copy(e.record_type, sizeof(e.record_type), t->record_type, "record type", d)) !=
            0 ||
        (rc = s_copy(e.counterparty, sizeof(e.counterparty), t->partner, "partner", d)) != 0 ||
        (rc = s_copy(e.fields, sizeof(e.fields),
                     t->fields ? t->fields
                     : dec     ? dec->fields
                               : NULL,
                     "field names", d)) != 0 ||
        (rc = s_copy(e.doel, sizeof(e.doel),
                     t->doel ? t->doel
                     : dec   ? dec->doel
                             : NULL,
                     "doel", d)) != 0)
        return rc;
    if (dec != NULL) {
        if ((rc = s_copy(e.grondslag, sizeof(e.grondslag), dec->grondslag, "grondslag", d)) != 0 ||
            (rc = s_copy(e.policy_id, sizeof(e.policy_id), dec->policy_id, "policy", d)) != 0)
            return rc;
        e.policy_version = dec->policy_version;
        if (dec->has_consent) {
            e.has_consent_id = 1;
            memcpy(e.consent_id, dec->consent_id, KT_AUDIT_ID_BYTES);
        }
        if (t->subject == NULL && dec->has_subject) {
            e.has_subject = 1;
            memcpy(e.subject, dec->subject, KT_AUDIT_SUBJECT_BYTES);
        }
    }
    if (t->consent_id != NULL) {
        e.has_consent_id = 1;
        memcpy(e.consent_id, t->consent_id, KT_AUDIT_ID_BYTES);
    }
    if (t->subject != NULL) {
        e.has_subject = 1;
        memcpy(e.subject, t->subject, KT_AUDIT_SUBJECT_BYTES);
    }
    if (t->record_id != NULL) {
        e.has_record_id = 1;
        memcpy(e.record_id, t->record_id, KT_AUDIT_ID_BYTES);
    }
    return kt_audit_append(st, &e, d);
}

void kt_trail_uid(char *out, unsigned uid)
{
    snprintf(out, KT_AUDIT_ACTOR_MAX + 1, "uid:%u", uid);
}

const char *kt_trail_partner(const kt_conf_t *conf, const char *partner)
{
    size_t i;

    for (i = 0; i < conf->n_partners; i++)
        if (strcmp(conf->partners[i].id, partner) == 0)
            return conf->partners[i].fingerprint;
    return partner;
}
