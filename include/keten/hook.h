/*
 * hook.h - where per-partner policy decisions plug into the exchange.
 *
 * The exchange asks `outgoing` once per recipient before a record is signed
 * for it, `incoming` once per received record before anything of it is
 * stored, and `recipients` for a record submitted without explicit
 * recipients. The transport, outbox and inbox code does not depend on how
 * the decision is made.
 *
 * Two implementations exist: kt_hook_addressed() (no policies: a record goes
 * exactly to the partners the operator names and a partner may send any
 * valid record; for tests of the exchange alone) and the node's policy and
 * consent enforcement (enforce.h), which ketend runs.
 */
#ifndef KETEN_HOOK_H
#define KETEN_HOOK_H

#include <stddef.h>
#include <stdint.h>

#include "keten/error.h"
#include "keten/record.h"

#define KT_HOOK_ID_BYTES 16
#define KT_HOOK_NAMES_BYTES 512 /* comma-separated field names */

/* What a decision was based on, for the outbox, the inbox and the log. */
typedef struct kt_hook_decision {
    int has_consent;
    uint8_t consent_id[KT_HOOK_ID_BYTES]; /* the consent it goes under */
    int policy_version;                   /* 0: no policy involved */
    int retention_days;                   /* the rule's retention; 0: none */
    char stripped[KT_HOOK_NAMES_BYTES];   /* fields removed for this recipient; "" if none */
    uint8_t subject[32];                  /* the pupil as a keyed pseudonym */
    int has_subject;
    /* for the audit entry: the rule's purpose and basis, where it is
     * written, and the field names the record carries after the rule */
    char doel[32];
    char grondslag[24];
    char policy_id[128];
    char fields[KT_HOOK_NAMES_BYTES];
} kt_hook_decision_t;

/* Each returns 0 (allow), KT_EDENIED (refuse: diag names the rule) or, for
 * outgoing only, KT_ENOCONSENT (hold until consent). `date` is the sending
 * date (YYYY-MM-DD) that picks the policy version in force. */
typedef struct kt_hook {
    int (*outgoing)(void *ctx, const char *partner, kt_record_t *rec, const char *date,
                    kt_hook_decision_t *dec, kt_diag_t *d);
    int (*incoming)(void *ctx, const char *sender, const kt_record_t *rec, const char *date,
                    kt_hook_decision_t *dec, kt_diag_t *d);
    /* Partners a record goes to when the operator names none; at most cap. */
    size_t (*recipients)(void *ctx, const kt_record_t *rec, const char *date, const char **out,
                         size_t cap);
    void *ctx;
} kt_hook_t;

/* No policies: explicit recipients only, every valid record accepted. */
const kt_hook_t *kt_hook_addressed(void);

#endif
