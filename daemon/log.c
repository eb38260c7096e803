/*
 * log.c - stderr or syslog logging with printf-checked helpers.
 *
 * Owns where log lines go. Callers must never pass personal data or key
 * material; this file cannot tell, so the rule is theirs to keep.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "keten/log.h"

static int s_foreground = 1;
static int s_verbose;
static const char *s_ident = "keten";

void kt_log_init(const char *ident, int foreground, int verbose)
{
    s_ident = ident;
    s_foreground = foreground;
    s_verbose = verbose;
    if (!foreground)
        openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static void s_vlog(int pri, const char *fmt, va_list ap, const char *suffix)
    __attribute__((format(printf, 2, 0)));

static void s_vlog(int pri, const char *fmt, va_list ap, const char *suffix)
{
    char line[1024];

    vsnprintf(line, sizeof(line), fmt, ap);
    if (s_foreground) {
        if (suffix)
            fprintf(stderr, "%s: %s: %s\n", s_ident, line, suffix);
        else
            fprintf(stderr, "%s: %s\n", s_ident, line);
        fflush(stderr);
    } else if (suffix) {
        syslog(pri, "%s: %s", line, suffix);
    } else {
        syslog(pri, "%s", line);
    }
}

void kt_log_warn(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    s_vlog(LOG_WARNING, fmt, ap, strerror(saved));
    va_end(ap);
    errno = saved;
}

void kt_log_warnx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    s_vlog(LOG_WARNING, fmt, ap, NULL);
    va_end(ap);
}

void kt_log_info(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    s_vlog(LOG_INFO, fmt, ap, NULL);
    va_end(ap);
}

void kt_log_debug(const char *fmt, ...)
{
    va_list ap;

    if (!s_verbose)
        return;
    va_start(ap, fmt);
    s_vlog(LOG_DEBUG, fmt, ap, NULL);
    va_end(ap);
}

void kt_fatal(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    s_vlog(LOG_CRIT, fmt, ap, strerror(saved));
    va_end(ap);
    exit(1);
}

void kt_fatalx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    s_vlog(LOG_CRIT, fmt, ap, NULL);
    va_end(ap);
    exit(1);
}
