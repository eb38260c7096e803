/*
 * commands.h - the control commands of a running node.
 *
 * submit (operator), status and partners (operator, auditor), outbox, inbox
 * and show (operator). Requests and replies are described in
 * docs/protocol.md ("Control socket").
 */
#ifndef KETEN_COMMANDS_H
#define KETEN_COMMANDS_H

#include "keten/conf.h"
#include "keten/control.h"
#include "keten/exchange.h"
#include "keten/store.h"

typedef struct kt_commands {
    kt_exchange_t *x;
    kt_store_t *st;
    const kt_conf_t *const *conf; /* the daemon's current configuration (reloads replace it) */
} kt_commands_t;

/* Registers every command with its role; c must outlive ctl. */
int kt_commands_register(kt_control_t *ctl, kt_commands_t *c) KT_WUR;

#endif
