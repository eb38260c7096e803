/*
 * reconcile.h - comparing registries with a partner over the exchange:
 * count vectors, and lists by private set intersection (psi.h), without
 * either side handing over its list (DESIGN.md §10, docs/protocol.md §12).
 *
 * A session is started by an operator at one node (the initiator) and
 * answered by the partner's node (the responder) without anyone there
 * acting; both keep a row in reconcile_session with the outcome, and both
 * audit it (reconciled). What a partner may do is its policy's reconcile
 * group at the responding node, and what the partner may learn of our list
 * is our policy for it: counts under suppress_below are not sent, and a
 * list comparison gives the partner only the sizes unless our policy says
 * membership. A session id is never answered twice (replay), a partner has
 * at most KT_RECONCILE_OPEN_MAX sessions open with us, and a session not
 * finished within KT_RECONCILE_TIMEOUT_S fails.
 *
 * Everything runs on the daemon's thread; the PSI arithmetic on large lists
 * takes seconds and blocks it for that long (docs/PERFORMANCE.md).
 */
#ifndef KETEN_RECONCILE_H
#define KETEN_RECONCILE_H

#include <stddef.h>
#include <stdint.h>

#include "keten/conf.h"
#include "keten/counts.h"
#include "keten/error.h"
#include "keten/exchange.h"
#include "keten/policy.h"
#include "keten/psi.h"
#include "keten/store.h"

#define KT_RECONCILE_ID_BYTES 16
#define KT_RECONCILE_TIMEOUT_S 300 /* an unfinished session fails after this */
#define KT_RECONCILE_KEEP_DAYS 30  /* finished sessions' rows are deleted after this */
#define KT_RECONCILE_THREADS 2     /* for the PSI arithmetic */
#define KT_RECONCILE_OPEN_MAX 4    /* sessions open with one partner; more are refused "busy" */

typedef struct kt_reconcile kt_reconcile_t;

/* Everything borrowed; pointers to the daemon's current configuration and
 * policies, which reloads replace. */
typedef struct kt_reconcile_env {
    kt_exchange_t *x;
    kt_store_t *st;
    const kt_conf_t *const *conf;
    const kt_policy_set_t *const *policies;
} kt_reconcile_env_t;

int kt_reconcile_new(kt_reconcile_t **out, const kt_reconcile_env_t *env) KT_WUR;
void kt_reconcile_destroy(kt_reconcile_t **p); /* wipes every session's secrets */

/* The exchange's handler (kt_exchange_set_handler) for kinds counts,
 * psi-request and psi-response. */
void kt_reconcile_on_message(void *ctx, const char *partner, const kt_payload_t *p, int64_t now_ms);

/* Fails sessions past their time and deletes old rows; call every tick. */
void kt_reconcile_tick(kt_reconcile_t *r, int64_t now_ms);

/* Starts a count comparison of list `list` under q with partner; *id is
 * the session. Refused (KT_EDENIED) when our policy for the partner has no
 * reconcile.counts; KT_ENOENT for an unknown list. actor is "uid:N". */
int kt_reconcile_start_counts(kt_reconcile_t *r, const char *actor, const char *partner,
                              const char *list, const kt_counts_query_t *q,
                              uint8_t id[KT_RECONCILE_ID_BYTES], kt_diag_t *d) KT_WUR;

/* Starts a private comparison of list `list` with the partner's list of the
 * same name; want is what we ask to learn (the partner may grant less).
 * Refused when our policy for the partner has reconcile.lists = none. */
int kt_reconcile_start_lists(kt_reconcile_t *r, const char *actor, const char *partner,
                             const char *list, kt_psi_mode_t want,
                             uint8_t id[KT_RECONCILE_ID_BYTES], kt_diag_t *d) KT_WUR;

/* One session as stored. */
typedef struct kt_reconcile_session {
    uint8_t id[KT_RECONCILE_ID_BYTES];
    char partner[KT_NODE_ID_MAX + 1];
    char kind[8];  /* counts, lists */
    char role[12]; /* initiator, responder */
    char list[KT_PSI_LIST_MAX + 1];
    char state[8]; /* open, done, failed */
    char reason[96];
    int64_t created, updated; /* unix seconds */
} kt_reconcile_session_t;

/* The outcome of a finished session, read back from its row. */
typedef struct kt_reconcile_outcome {
    kt_reconcile_session_t s;
    /* counts: both sides' sets (heap: they are large) */
    kt_counts_set_t *ours, *theirs;
    /* lists */
    kt_psi_mode_t mode; /* what we learned */
    size_t own, theirs_n, both, only_own, only_theirs;
    char (*missing)[KT_PSI_ID_MAX + 1]; /* membership: our pupils the partner lacks */
    size_t nmissing;
} kt_reconcile_outcome_t;

int kt_reconcile_get(kt_reconcile_t *r, const uint8_t id[KT_RECONCILE_ID_BYTES],
                     kt_reconcile_outcome_t *out, kt_diag_t *d) KT_WUR;
void kt_reconcile_outcome_clear(kt_reconcile_outcome_t *o); /* wipes the ids */

/* Every session, newest first; *out is new (free()). */
int kt_reconcile_list(kt_reconcile_t *r, kt_reconcile_session_t **out, size_t *n,
                      kt_diag_t *d) KT_WUR;

#endif
