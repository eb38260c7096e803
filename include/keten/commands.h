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
#include "keten/inbox.h"
#include "keten/outbox.h"
#include "keten/record.h"
#include "keten/store.h"

typedef struct kt_commands {
    kt_exchange_t *x;
    kt_store_t *st;
    const kt_conf_t *const *conf; /* the daemon's current configuration (reloads replace it) */
} kt_commands_t;

/* Shared with the other command groups: */
/* the record's fields as a "record" object of the reply */
void kt_commands_reply_record(kt_ctl_reply_t *rep, const kt_record_t *r);
/* the record, decoded from the first copy the node holds (out before in) */
int kt_commands_load_record(kt_commands_t *c, const uint8_t *id, const kt_outbox_row_t *out,
                            size_t nout, const kt_inbox_row_t *in, size_t nin, kt_record_t **rec,
                            kt_diag_t *d) KT_WUR;
/* the signed container of a record sent to `partner` (sender NULL) or
 * received from `sender`, and the public key it must verify under
 * (borrowed); *buf is freed with kt_vault_free */
int kt_commands_signed(kt_commands_t *c, const uint8_t *id, const char *partner, const char *sender,
                       uint8_t **buf, size_t *len, const kt_pubkey_t **signer, kt_diag_t *d) KT_WUR;

/* Registers every command with its role; c must outlive ctl. */
int kt_commands_register(kt_control_t *ctl, kt_commands_t *c) KT_WUR;

#endif
