/*
 * commands_consent.h - the consent control commands: consent-grant and
 * consent-withdraw (operator), consent-list (operator, auditor). Requests
 * and replies are in docs/protocol.md ("Consent commands").
 *
 * The lead's hooks: `audit` runs inside each command's transaction, before
 * the commit (a non-zero return rolls the change back, so no consent change
 * happens without its audit entry); `granted` and `withdrawn` run after the
 * commit, for akkoord decisions only (a niet_akkoord never released or sent
 * anything): release held records, send retractions. Every hook is optional.
 */
#ifndef KETEN_COMMANDS_CONSENT_H
#define KETEN_COMMANDS_CONSENT_H

#include "keten/commands.h"
#include "keten/consent.h"
#include "keten/control.h"

typedef struct kt_consent_events {
    /* action is "consent_granted", "consent_refused" (a niet_akkoord
     * recorded) or "consent_withdrawn"; c is the row after the change. */
    int (*audit)(void *ctx, kt_store_t *st, const kt_ctl_caller_t *who, const char *action,
                 const kt_consent_t *c, kt_diag_t *d);
    void (*granted)(void *ctx, const uint8_t id[KT_CONSENT_ID_BYTES]);
    void (*withdrawn)(void *ctx, const uint8_t id[KT_CONSENT_ID_BYTES]);
    void *ctx;
} kt_consent_events_t;

typedef struct kt_commands_consent {
    kt_commands_t *cmds; /* store, exchange (for the vault), configuration */
    kt_consent_events_t events;
} kt_commands_consent_t;

/* Registers the three commands; cc (and cc->cmds) must outlive ctl. */
int kt_commands_consent_register(kt_control_t *ctl, kt_commands_consent_t *cc) KT_WUR;

#endif
