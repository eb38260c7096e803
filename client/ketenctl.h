/*
 * ketenctl.h - what the command files of ketenctl share.
 *
 * One file per command group (after wireguard-tools): each exports its
 * handlers, main.c dispatches from one table. Handlers return the process
 * exit code: 0 ok, 1 error, 2 usage.
 */
#ifndef KETENCTL_H
#define KETENCTL_H

#include <stddef.h>
#include <stdio.h>

#include "keten/record.h"

#define KT_EXIT_OK 0
#define KT_EXIT_ERR 1
#define KT_EXIT_USAGE 2

typedef int (*kt_cmd_fn)(int argc, char **argv);

/* main.c */
extern const char *kt_progname;
void kt_err(const char *fmt, ...) KT_PRINTF(1, 2); /* "ketenctl: ...\n" on stderr */

/* cmd_keys.c */
int cmd_keygen(int argc, char **argv);
int cmd_key_show(int argc, char **argv);

/* cmd_record.c */
int cmd_record_sign(int argc, char **argv);
int cmd_record_verify(int argc, char **argv);
int cmd_record_seal(int argc, char **argv);
int cmd_record_open(int argc, char **argv);

/* cmd_submit.c */
int cmd_submit(int argc, char **argv);

/* cmd_node.c */
int cmd_status(int argc, char **argv);
int cmd_partners(int argc, char **argv);
int cmd_outbox(int argc, char **argv);
int cmd_inbox(int argc, char **argv);
int cmd_show(int argc, char **argv);

/* cmd_purge.c */
int cmd_purge(int argc, char **argv);

/* cmd_consent.c */
int cmd_consent_grant(int argc, char **argv);
int cmd_consent_withdraw(int argc, char **argv);
int cmd_consent_list(int argc, char **argv);

/* cmd_attendance.c */
int cmd_attendance_import(int argc, char **argv);

/* cmd_signals.c */
int cmd_signals(int argc, char **argv);
int cmd_signals_submit(int argc, char **argv);

/* cmd_reconcile.c */
int cmd_reconcile_counts(int argc, char **argv);
int cmd_reconcile_lists(int argc, char **argv);
int cmd_reconcile_show(int argc, char **argv);
int cmd_reconcile_list(int argc, char **argv);

/* cmd_subject.c */
int cmd_subject_show(int argc, char **argv);
int cmd_record_export(int argc, char **argv);

/* cmd_register.c */
int cmd_register(int argc, char **argv);

/* cmd_audit.c */
int cmd_audit_list(int argc, char **argv);
int cmd_audit_export(int argc, char **argv);
int cmd_audit_verify(int argc, char **argv);

/* cmd_registry.c */
int cmd_registry_import(int argc, char **argv);
int cmd_registry_list(int argc, char **argv);

/* cmd_counts.c */
int cmd_counts(int argc, char **argv);
int cmd_counts_check(int argc, char **argv);

/* cmd_version.c */
int cmd_version(int argc, char **argv);

/* cmd_record_check.c */
int cmd_record_check(int argc, char **argv);

/* cmd_policy.c */
int cmd_policy_check(int argc, char **argv);
int cmd_policy_explain(int argc, char **argv);

/*
 * json_record.c - JSON input to validated records.
 *
 * Reads one JSON record or JSON Lines ({"type": ..., "fields": {...}}) from
 * `f` (named `name` in messages). For each record, in order, calls cb with
 * its 1-based number and a validated record the callback takes ownership of.
 * Stops at the first error: the diag names the input, the record number (the
 * line for JSON Lines), the field and the rule, and nothing was passed for
 * the bad record. Returns 0, or the error code (or the callback's non-zero
 * return).
 */
typedef int (*kt_record_cb)(void *ctx, size_t recno, kt_record_t **rec);
int kt_json_read_records(FILE *f, const char *name, kt_record_cb cb, void *ctx,
                         kt_diag_t *d) KT_WUR;

#endif
