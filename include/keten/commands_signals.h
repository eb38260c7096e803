/*
 * commands_signals.h - the school's signal commands: attendance-import,
 * signals and signals-submit (operator). Requests and replies are in
 * docs/signals.md ("Control commands").
 *
 * The code mapping and thresholds are read from signals.conf next to the
 * node's configuration file on every command, and the partner policies
 * from the node's policy directory, so an edited file takes effect at the
 * next command.
 */
#ifndef KETEN_COMMANDS_SIGNALS_H
#define KETEN_COMMANDS_SIGNALS_H

#include "keten/commands.h"
#include "keten/control.h"

/* Registers the three commands; c must outlive ctl. */
int kt_commands_signals_register(kt_control_t *ctl, kt_commands_t *c) KT_WUR;

#endif
