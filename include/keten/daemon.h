/*
 * daemon.h - the ketend process: configuration, store and the event loop.
 *
 * main.c parses the command line and calls init, run and destroy. The loop
 * waits on a signal pipe today; the network and control modules add their
 * sockets to the same poll.
 */
#ifndef KETEN_DAEMON_H
#define KETEN_DAEMON_H

#include "keten/conf.h"
#include "keten/error.h"
#include "keten/store.h"

typedef struct kt_daemon kt_daemon_t; /* opaque */

/* Prints every error of conf_path to stderr as "FILE:LINE: message" and
 * returns its code, or prints "configuration OK" and returns 0. */
int kt_daemon_check(const char *conf_path) KT_WUR;

/* Loads the configuration and keys, sets up logging (stderr if debug or
 * `log = "stderr"`, else syslog), opens and migrates the store and installs
 * the signal handlers. Errors are logged. */
int kt_daemon_init(kt_daemon_t **out, const char *conf_path, int debug, int verbose) KT_WUR;
/* Runs until SIGTERM or SIGINT (returns 0) or a fatal error. SIGHUP
 * reloads. */
int kt_daemon_run(kt_daemon_t *dm) KT_WUR;
/* Re-reads and re-checks the configuration; keeps the running one on any
 * error, or if node.id, node.key or node.store changed (those need a
 * restart). */
int kt_daemon_reload(kt_daemon_t *dm) KT_WUR;
/* Closes the store and restores signal dispositions; idempotent. */
void kt_daemon_destroy(kt_daemon_t **p);

const kt_conf_t *kt_daemon_conf(const kt_daemon_t *dm); /* borrowed */
kt_store_t *kt_daemon_store(kt_daemon_t *dm);           /* borrowed */

#endif
