/*
 * reconcile_int.h - what reconcile.c (sessions, rows, counts) and
 * reconcile_psi.c (the list comparison) share. Private to those two files.
 */
#ifndef KETEN_RECONCILE_INT_H
#define KETEN_RECONCILE_INT_H

#include "keten/reconcile.h"
#include "keten/registry.h"

enum { S_COUNTS = 1, S_LISTS = 2 };
enum { S_INITIATOR = 1, S_RESPONDER = 2 };

/* One session in progress. Secrets (the PSI scalar, the own ids) live here
 * only, and are wiped when it ends. */
struct kt_rc_sess {
    uint8_t id[KT_RECONCILE_ID_BYTES];
    char partner[KT_NODE_ID_MAX + 1];
    char list[KT_PSI_LIST_MAX + 1];
    char actor[80]; /* who started it: "uid:N", or the partner's fingerprint */
    int kind, role;
    int64_t expires_ms;
    /* counts (initiator): what we sent */
    kt_counts_set_t *ours;
    /* lists */
    kt_psi_t *psi;
    uint8_t nonce[KT_PSI_NONCE_BYTES];
    kt_psi_mode_t want;         /* what we asked to learn */
    kt_psi_mode_t granted_us;   /* what the partner lets us learn */
    kt_psi_mode_t granted_them; /* what we let the partner learn */
    kt_registry_id_t *ids;      /* our list */
    size_t nids;
    uint32_t *perm; /* ids[perm[i]] is the i-th point we sent */
    uint8_t *sent2; /* responder: the initiator's set as we blinded it again */
    size_t nsent2;
    kt_psi_collect_t *c1, *c2; /* initiator: a2, b1; responder: a1, b2 */
    struct kt_rc_sess *next;
};

struct kt_reconcile {
    kt_reconcile_env_t env;
    struct kt_rc_sess *sessions;
    int64_t next_purge_ms;
};

/* reconcile.c */
struct kt_rc_sess *kt_rc_find(kt_reconcile_t *r, const uint8_t *id);
size_t kt_rc_open_count(kt_reconcile_t *r, const char *partner); /* sessions in memory */
struct kt_rc_sess *kt_rc_add(kt_reconcile_t *r, const uint8_t *id, const char *partner,
                             const char *list, int kind, int role, const char *actor,
                             int64_t now_ms);
void kt_rc_drop(kt_reconcile_t *r, struct kt_rc_sess *s);
const kt_policy_version_t *kt_rc_policy(kt_reconcile_t *r, const char *partner);
int kt_rc_seen(kt_reconcile_t *r, const uint8_t *id, kt_diag_t *d);
const char *kt_rc_limits(kt_reconcile_t *r, const kt_policy_version_t *v, const char *partner,
                         const char *list, int64_t now_ms);
int kt_rc_row_open(kt_reconcile_t *r, const struct kt_rc_sess *s, const char *key, int64_t now_ms,
                   kt_diag_t *d);
/* Ends the session: its row gets state, reason and result, and an audit
 * entry (reconciled) commits with it; then the session is dropped. */
void kt_rc_finish(kt_reconcile_t *r, struct kt_rc_sess *s, const char *state, const char *reason,
                  const uint8_t *result, size_t len, int64_t now_ms);
void kt_rc_refuse(kt_reconcile_t *r, const char *partner, kt_kind_t kind, const uint8_t *id,
                  const char *code);

/* reconcile_psi.c */
void kt_rc_on_psi(kt_reconcile_t *r, const char *partner, const kt_payload_t *p, int64_t now_ms);
void kt_rc_psi_free(struct kt_rc_sess *s);

#endif
