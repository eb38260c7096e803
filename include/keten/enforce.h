/*
 * enforce.h - the node's policy and consent enforcement, as the exchange's
 * hook (hook.h).
 *
 * Outgoing, per recipient: the send rule in force on the sending date for
 * that partner and record type (none: refused); if the rule or the record
 * needs consent, an active matching consent from the right person for the
 * pupil's age (none: held); then the fields the rule does not allow are
 * stripped and, where the rule says so, the pupil id is replaced by the
 * pair's pseudonym. Incoming: the node's own receive rule for that sender
 * and type (none, or a field outside it: rejected). Fan-out: every partner
 * with a send rule for the type.
 */
#ifndef KETEN_ENFORCE_H
#define KETEN_ENFORCE_H

#include "keten/error.h"
#include "keten/hook.h"
#include "keten/policy.h"
#include "keten/store.h"
#include "keten/vault.h"

/* The pair's pseudonym of a pupil (the exchange holds the pair keys). */
typedef int (*kt_enforce_pseudonym_fn)(void *ctx, const char *partner, const char *leerling_id,
                                       char out[KT_PSEUDONYM_BYTES]);

typedef struct kt_enforce {
    const kt_policy_set_t *const *set; /* the node's policies in force (reload swaps it) */
    kt_store_t *st;                    /* consent lookups */
    const kt_vault_t *vault;           /* subject pseudonyms; set once the exchange exists */
    kt_enforce_pseudonym_fn pseudonym;
    void *pseudonym_ctx;
    kt_hook_t hook; /* ctx = this struct */
} kt_enforce_t;

/* Fills e->hook; e must outlive every use of it. */
void kt_enforce_init(kt_enforce_t *e, const kt_policy_set_t *const *set, kt_store_t *st);

#endif
