/*
 * hook.h - where per-partner policy decisions plug into the exchange.
 *
 * The outbox asks `outgoing` once per recipient before a record is signed for
 * it; the inbox asks `incoming` once per received record before anything of it
 * is stored. The policy work supplies these functions; the transport, outbox
 * and inbox code does not change when it does.
 *
 * Until then, kt_hook_addressed() is in force: a record goes exactly to the
 * partners the operator named (ketenctl submit --to), and a configured partner
 * may send any valid record. That is the honest pre-policy rule, not a stub:
 * it is what the daemon enforces and documents until policies exist.
 */
#ifndef KETEN_HOOK_H
#define KETEN_HOOK_H

#include "keten/error.h"
#include "keten/record.h"

/* A decision: 0 allow; KT_EDENIED refuse (diag says which rule);
 * KT_ENOCONSENT hold (outgoing only: the record waits as `held`). */
typedef struct kt_hook {
    int (*outgoing)(void *ctx, const char *partner, kt_record_t *rec, kt_diag_t *d);
    int (*incoming)(void *ctx, const char *sender, const kt_record_t *rec, kt_diag_t *d);
    void *ctx;
} kt_hook_t;

/* The pre-policy hooks described above. */
const kt_hook_t *kt_hook_addressed(void);

#endif
