/*
 * log.h - logging for ketend and ketenctl, after OpenSMTPD's log.c.
 *
 * Foreground: stderr. Otherwise syslog. Log lines carry ids, codes, field
 * names and fingerprints only: never a BSN, a field value or key material.
 */
#ifndef KETEN_LOG_H
#define KETEN_LOG_H

#include "keten/error.h"

void kt_log_init(const char *ident, int foreground, int verbose);
void kt_log_warn(const char *fmt, ...) KT_PRINTF(1, 2); /* appends strerror(errno) */
void kt_log_warnx(const char *fmt, ...) KT_PRINTF(1, 2);
void kt_log_info(const char *fmt, ...) KT_PRINTF(1, 2);
void kt_log_debug(const char *fmt, ...) KT_PRINTF(1, 2); /* only when verbose */
_Noreturn void kt_fatal(const char *fmt, ...) KT_PRINTF(1, 2);
_Noreturn void kt_fatalx(const char *fmt, ...) KT_PRINTF(1, 2);

#endif
