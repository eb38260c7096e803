/*
 * commands_registry.h - the registry and count commands of a running node:
 * registry-import (operator), registry-list and counts (operator, auditor).
 * Requests and replies are in docs/reconcile.md ("Control commands").
 *
 * Replies carry list names, numbers and codes, never a pupil: registry-list
 * shows names, rows, dates and a digest; counts shows buckets.
 */
#ifndef KETEN_COMMANDS_REGISTRY_H
#define KETEN_COMMANDS_REGISTRY_H

#include "keten/commands.h"
#include "keten/control.h"

/* Registers the three commands; c must outlive ctl. */
int kt_commands_registry_register(kt_control_t *ctl, kt_commands_t *c) KT_WUR;

#endif
