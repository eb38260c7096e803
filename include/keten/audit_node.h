/*
 * audit_node.h - the audit entries of the node's own life: which partners
 * and keys it trusts, which policies it loaded, consent decisions, and the
 * checkpoints signed at start, while running and at shutdown.
 *
 * Each function opens and commits its own transaction unless one is open
 * (then it joins it, and the caller commits or rolls back).
 */
#ifndef KETEN_AUDIT_NODE_H
#define KETEN_AUDIT_NODE_H

#include "keten/conf.h"
#include "keten/consent.h"
#include "keten/error.h"
#include "keten/policy.h"
#include "keten/store.h"

/*
 * Compares the configured partners with the partner_keys table and audits
 * each partner added, each key changed (the old key is retired) and each
 * partner removed (retired); then one policy_loaded entry per partner
 * policy (file, highest version, the version in force today), and signs a
 * checkpoint. `actor` is "ketend" at start-up or "uid:N" for a reload.
 */
int kt_audit_node_config(kt_store_t *st, const kt_conf_t *conf, const kt_policy_set_t *set,
                         const char *actor, kt_diag_t *d) KT_WUR;

/* The entry for a consent decision (granted, refused, withdrawn, expired):
 * pupil pseudonym, recipient, doel, the record types and validity in the
 * reason. Runs inside the caller's transaction. */
int kt_audit_node_consent(kt_store_t *st, const char *actor, const char *action,
                          const kt_consent_t *c, kt_diag_t *d) KT_WUR;

#endif
