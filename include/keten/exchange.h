/*
 * exchange.h - a running node's network side: submit, send, receive,
 * acknowledge.
 *
 * Ties the transport, the envelope, the outbox and the inbox together. One
 * call, kt_exchange_poll(), waits for the network (and the caller's fds),
 * handles what arrived in batches — each batch one transaction, committed
 * before any receipt goes out — and sends what the outbox has due.
 */
#ifndef KETEN_EXCHANGE_H
#define KETEN_EXCHANGE_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "keten/conf.h"
#include "keten/consent.h"
#include "keten/envelope.h"
#include "keten/error.h"
#include "keten/hook.h"
#include "keten/outbox.h"
#include "keten/store.h"
#include "keten/vault.h"

#define KT_EXCHANGE_BATCH 64         /* messages committed per transaction */
#define KT_EXCHANGE_SEND_BATCH 64    /* outbox rows sent per round */
#define KT_EXCHANGE_WINDOW 256       /* unacknowledged records per partner (the HWM) */
#define KT_EXCHANGE_TICK_MS 1000     /* longest wait: timers and idle checks */
#define KT_EXCHANGE_SUBMIT_MAX 10000 /* records in one submit */
#define KT_EXCHANGE_FANOUT_MAX 64    /* recipients of one record */

typedef struct kt_exchange kt_exchange_t;

/* Binds conf->listen and connects to every partner. conf and st are
 * borrowed and must outlive the exchange (or be replaced with set_conf). */
int kt_exchange_new(kt_exchange_t **out, const kt_conf_t *conf, kt_store_t *st,
                    const kt_hook_t *hook, kt_diag_t *d) KT_WUR;
void kt_exchange_destroy(kt_exchange_t **p);

/* A reloaded configuration (same node and key): partners added, removed or
 * changed take effect at once; a removed partner's queued records stay
 * queued. On error the old configuration stays in force. */
int kt_exchange_set_conf(kt_exchange_t *x, const kt_conf_t *conf, kt_diag_t *d) KT_WUR;

/* Waits at most timeout_ms (less when the outbox has something due) for a
 * message or one of fds; handles every message that has arrived and sends
 * what is due. fds[i].revents says which of the caller's fds are ready. */
int kt_exchange_poll(kt_exchange_t *x, int timeout_ms, struct pollfd *fds, size_t nfds) KT_WUR;

/* One copy of a submitted record: to whom, in which state. */
typedef struct kt_exchange_copy {
    size_t record; /* index into the submission */
    char partner[KT_NODE_ID_MAX + 1];
    kt_out_state_t state; /* queued, or held until consent */
    char stripped[KT_HOOK_NAMES_BYTES];
} kt_exchange_copy_t;

typedef struct kt_exchange_copies {
    kt_exchange_copy_t *copy;
    size_t n, cap;
} kt_exchange_copies_t;

/* Accepts n canonical records for the recipients `to` (nto > 0), or for
 * every partner whose policy has a send rule for each record's type (nto ==
 * 0). Per recipient the policy decides: queued (fields it does not allow
 * stripped), held until consent, or refused — a refusal fails the whole
 * submission, so an operator never half-submits. Everything is committed in
 * one durable transaction before this returns the new record ids (ids[i] for
 * records[i]) and the copies made, together with their audit entries
 * (submitted, sent or held, stripped) under `actor` ("uid:N"). A refusal is
 * audited in a transaction of its own after the rollback. Sending starts at
 * the next poll. */
int kt_exchange_submit(kt_exchange_t *x, const char *actor, const char *const *to, size_t nto,
                       const uint8_t *const *records, const size_t *lens, size_t n,
                       uint8_t (*ids)[KT_ENVELOPE_ID_BYTES], kt_exchange_copies_t *copies,
                       kt_diag_t *d) KT_WUR;
void kt_exchange_copies_free(kt_exchange_copies_t *c);

/* kt_exchange_submit that also runs `also` inside the same transaction,
 * after every copy is added and before the commit: whatever the caller
 * records about the submission commits with it or not at all. */
typedef int (*kt_exchange_also_fn)(void *ctx, const kt_exchange_copies_t *copies, kt_diag_t *d);
int kt_exchange_submit_also(kt_exchange_t *x, const char *actor, const char *const *to, size_t nto,
                            const uint8_t *const *records, const size_t *lens, size_t n,
                            uint8_t (*ids)[KT_ENVELOPE_ID_BYTES], kt_exchange_copies_t *copies,
                            kt_exchange_also_fn also, void *also_ctx, kt_diag_t *d) KT_WUR;

/* Every held record whose consent is now active is signed again and queued
 * (after a grant). */
int kt_exchange_release_held(kt_exchange_t *x, size_t *released, kt_diag_t *d) KT_WUR;

/* Takes back every record sent under a consent that was withdrawn: queues a
 * signed retraction per recipient (outbox.h). */
int kt_exchange_retract_consent(kt_exchange_t *x, const uint8_t id[KT_CONSENT_ID_BYTES],
                                size_t *retractions, kt_diag_t *d) KT_WUR;

/* The purge job (also run every minute): retractions for consents that
 * expired, records past their retention, ended consents, raw attendance past
 * its retention, and the keys of pupils of whom nothing remains; then the WAL is checkpointed and
 * truncated so no deleted page survives in it. */
typedef struct kt_exchange_purge {
    size_t retractions, inbox, outbox, consents, subjects, attendance;
} kt_exchange_purge_t;
int kt_exchange_purge(kt_exchange_t *x, kt_exchange_purge_t *r, kt_diag_t *d) KT_WUR;

/*
 * Reconciliation (reconcile.h) rides on the exchange: its messages (kinds
 * counts, psi-request, psi-response) arrive on the listening socket, are
 * opened and verified like records (signer = the ZAP-authenticated partner,
 * addressed to this node, not older than the maximum message age) and are
 * handed to fn after the batch they came in has committed, outside any
 * transaction. They get no receipt and are never stored by the exchange.
 * fn NULL refuses them (a signed rejection, denied).
 */
typedef void (*kt_exchange_msg_fn)(void *ctx, const char *partner, const kt_payload_t *p,
                                   int64_t now_ms);
void kt_exchange_set_handler(kt_exchange_t *x, kt_exchange_msg_fn fn, void *ctx);

/* Signs body (one CBOR item) as kind with id, seals it to partner and sends
 * it on the partner connection; not stored, not retried. KT_ENOENT for an
 * unknown partner. */
int kt_exchange_send(kt_exchange_t *x, const char *partner, kt_kind_t kind,
                     const uint8_t id[KT_ENVELOPE_ID_BYTES], const uint8_t *body, size_t len,
                     kt_diag_t *d) KT_WUR;

/* The pair's pseudonym of a pupil (for identifier = "pseudoniem"). */
int kt_exchange_pseudonym(void *x, const char *partner, const char *leerling_id,
                          char out[KT_PSEUDONYM_BYTES]);

/* For status commands. */
const char *kt_exchange_endpoint(const kt_exchange_t *x);
const kt_vault_t *kt_exchange_vault(const kt_exchange_t *x);
int kt_exchange_partner_state(const kt_exchange_t *x, const char *partner, int *connected,
                              time_t *last_seen);

#endif
