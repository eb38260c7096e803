/*
 * commands_reconcile.h - the reconciliation control commands:
 *
 *   reconcile-counts (operator)          {"with", "list", "definition", "period", ["by"],
 * ["scope"]} reconcile-lists  (operator)          {"with", "list", ["mode":
 * cardinality|membership]} start a session and answer {"id": HEX} at once; the partner answers over
 * the network, and the client waits with reconcile-show. reconcile-show   (operator, auditor)
 * {"id"}  the session and, once done, its outcome: counts: both sides' buckets and the difference
 * per bucket; lists: the sizes, and with membership our pupils the partner lacks (operators only:
 * those are leerling_ids). reconcile-list   (operator, auditor) every session, newest first.
 *
 * Requests and replies are in docs/protocol.md §12.
 */
#ifndef KETEN_COMMANDS_RECONCILE_H
#define KETEN_COMMANDS_RECONCILE_H

#include "keten/commands.h"
#include "keten/control.h"
#include "keten/reconcile.h"

typedef struct kt_commands_reconcile {
    kt_commands_t *cmds;
    kt_reconcile_t *rc;
} kt_commands_reconcile_t;

/* Registers the four commands; cr (and what it points to) must outlive ctl. */
int kt_commands_reconcile_register(kt_control_t *ctl, kt_commands_reconcile_t *cr) KT_WUR;

#endif
