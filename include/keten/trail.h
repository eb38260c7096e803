/*
 * trail.h - what the exchange writes to the audit log for each decision.
 *
 * The exchange, the inbox and the outbox know a decision's parts (record,
 * partner, policy rule, consent); audit.h knows how an entry is chained.
 * kt_trail_write turns the one into the other, inside the caller's
 * transaction, so the entry commits with the action or neither does. It
 * copies codes, ids, field names and the subject pseudonym only — there is
 * no parameter through which a field value could reach the log.
 */
#ifndef KETEN_TRAIL_H
#define KETEN_TRAIL_H

#include <stdint.h>

#include "keten/audit.h"
#include "keten/conf.h"
#include "keten/error.h"
#include "keten/hook.h"
#include "keten/store.h"

#define KT_TRAIL_DAEMON "ketend" /* the actor for the node's own timers and jobs */

/* Every pointer may be NULL (absent) except actor, action and decision. */
typedef struct kt_trail {
    const char *actor;    /* "uid:N", KT_TRAIL_DAEMON, or a partner fingerprint */
    const char *action;   /* KT_AUDIT_* */
    const char *decision; /* "queued", "held", "accepted", "rejected", ... */
    const char *reason;   /* a reason code or rule text; never a value */
    const uint8_t *record_id;
    const char *record_type;
    const uint8_t *subject;        /* KT_AUDIT_SUBJECT_BYTES */
    const char *partner;           /* counterparty node id */
    const kt_hook_decision_t *dec; /* doel, grondslag, policy, fields, consent */
    const char *fields;            /* overrides dec->fields (e.g. the stripped names) */
    const uint8_t *consent_id;     /* overrides dec's consent */
    const char *doel;              /* overrides dec->doel */
} kt_trail_t;

int kt_trail_write(kt_store_t *st, const kt_trail_t *t, kt_diag_t *d) KT_WUR;

/* "uid:N" into out (KT_AUDIT_ACTOR_MAX + 1 bytes). */
void kt_trail_uid(char *out, unsigned uid);

/* The actor for a partner: its key fingerprint from the configuration, or
 * its node id when the partner is no longer configured. */
const char *kt_trail_partner(const kt_conf_t *conf, const char *partner);

#endif
