/*
 * commands_audit.h - the privacy officer's audit commands: audit-list and
 * audit-verify, for the auditor role only (an operator is refused: the log
 * records what operators did). Requests and replies are in
 * docs/protocol.md §11 ("Audit commands").
 */
#ifndef KETEN_COMMANDS_AUDIT_H
#define KETEN_COMMANDS_AUDIT_H

#include "keten/commands.h"
#include "keten/control.h"

/* Entries in one audit-list reply at most: a worst-case entry is about 2.5
 * KiB of JSON, so a full page stays far below KT_CONTROL_LINE_MAX_BYTES.
 * Callers page with "after". */
#define KT_AUDIT_PAGE_MAX 200

/* Registers both commands; c must outlive ctl. */
int kt_commands_audit_register(kt_control_t *ctl, kt_commands_t *c) KT_WUR;

#endif
