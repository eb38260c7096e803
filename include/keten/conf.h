/*
 * conf.h - ketend.conf (libconfig syntax) into a typed, checked struct.
 *
 * Strict: an unknown setting, a wrong type, a missing required setting, a
 * duplicate or self-referencing partner, an unreadable or mismatching key
 * file are all errors. Every error is collected (not just the first), each
 * reading "FILE:LINE: message" ("FILE: message" when it concerns the whole
 * file). Relative paths are resolved against the config file's directory.
 * Messages name settings, partner ids and file names, never other values.
 * The format is documented in docs/keten.conf.5.
 */
#ifndef KETEN_CONF_H
#define KETEN_CONF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "keten/error.h"
#include "keten/keys.h"

#define KT_CONF_FILE_MAX 1048576       /* largest config file read (1 MiB) */
#define KT_CONF_ERRORS_MAX 100         /* errors collected before giving up */
#define KT_CONF_ENDPOINT_MAX 255       /* "tcp://HOST:PORT" */
#define KT_CONF_MAX_AGE_DEFAULT 604800 /* 7 days */
#define KT_CONF_MAX_AGE_MIN 60
#define KT_CONF_MAX_AGE_MAX 31536000  /* 365 days */
#define KT_CONF_RETRY_MAX_DEFAULT 300 /* cap of the outbox's retry backoff, seconds */
#define KT_CONF_RETRY_MAX_MIN 1
#define KT_CONF_RETRY_MAX_MAX 86400

/* kt_conf_parse flags */
#define KT_CONF_SYNTAX_ONLY                                                                        \
    0x1 /* no key files, no directories, no user                                                   \
           database: for fuzzing and tooling */

typedef enum { KT_CONF_LOG_STDERR = 0, KT_CONF_LOG_SYSLOG = 1 } kt_conf_log_t;

/* An entry of access.operators or access.auditors. */
typedef struct kt_conf_principal {
    int is_group; /* 0: a user (uid), 1: a group (gid) */
    uint32_t id;  /* uid or gid; resolved at load time */
    char *name;   /* as written, for log lines: "user:NAME", "gid:N", ... */
} kt_conf_principal_t;

typedef struct kt_conf_partner {
    char id[KT_NODE_ID_MAX + 1];
    kt_role_t role;
    char *key_path;  /* resolved */
    char *endpoint;  /* "tcp://HOST:PORT" */
    kt_pubkey_t pub; /* loaded and checked (zero under KT_CONF_SYNTAX_ONLY) */
    char fingerprint[KT_FINGERPRINT_HEX];
    int line; /* where the partner's group starts */
} kt_conf_partner_t;

typedef struct kt_conf {
    char *path; /* the config file, as given */
    char id[KT_NODE_ID_MAX + 1];
    char *key_path;          /* resolved */
    char *listen;            /* "tcp://HOST:PORT"; PORT may be "*" */
    char *store_path;        /* resolved */
    char *control_path;      /* resolved */
    char *policies_dir;      /* resolved */
    int64_t max_message_age; /* seconds */
    int64_t retry_max;       /* seconds: the outbox backoff cap */
    kt_conf_log_t log;
    kt_conf_principal_t *operators;
    size_t n_operators;
    kt_conf_principal_t *auditors;
    size_t n_auditors;
    kt_conf_partner_t *partners;
    size_t n_partners;
    kt_keys_t *keys;                      /* the node's own keys (NULL under KT_CONF_SYNTAX_ONLY) */
    char fingerprint[KT_FINGERPRINT_HEX]; /* of the node's own key */
} kt_conf_t;

/* The collected error messages, in file order within each pass. */
typedef struct kt_conf_errors {
    char **msg;
    size_t count;
} kt_conf_errors_t;

/* Reads and checks path, and loads the node's secret key. On failure returns
 * KT_ECONFIG (or KT_EPERM if others can write the file, KT_ENOMEM, ...),
 * *out stays NULL and errs holds at least one message. */
int kt_conf_load(kt_conf_t **out, const char *path, kt_conf_errors_t *errs) KT_WUR;
/* The same over text in memory (len bytes; need not be NUL-terminated);
 * name is used in messages and its directory for relative paths. */
int kt_conf_parse(kt_conf_t **out, const char *text, size_t len, const char *name, int flags,
                  kt_conf_errors_t *errs) KT_WUR;
void kt_conf_destroy(kt_conf_t **p); /* idempotent; wipes the keys */

/* The partner with this id, or NULL (borrowed). */
const kt_conf_partner_t *kt_conf_partner(const kt_conf_t *c, const char *id);
/* 1 if uid, or one of its groups (gids, n), is listed. */
int kt_conf_principal_matches(const kt_conf_principal_t *list, size_t n, uid_t uid,
                              const gid_t *gids, size_t ngids);

void kt_conf_errors_free(kt_conf_errors_t *e); /* leaves it empty, reusable */

/*
 * Collecting "FILE:LINE: message" errors while checking a file (the config
 * here, policy files in policy.c): every message of a file is kept, those of
 * one file sorted by line when it is done, at most `max` over all files.
 */
typedef struct kt_conf_collector {
    kt_conf_errors_t *errs; /* NULL: count only */
    const char *name;       /* the file, as named in messages */
    size_t base;            /* errs->count when this file started */
    int *lines;             /* the line of each message since base */
    size_t nerrs;           /* messages reported, over every file */
    size_t max;
    int nomem;
} kt_conf_collector_t;

void kt_conf_collect_file(kt_conf_collector_t *c, const char *name);
/* line 0: about the whole file ("FILE: message"). */
void kt_conf_collect(kt_conf_collector_t *c, int line, const char *fmt, ...) KT_PRINTF(3, 4);
void kt_conf_vcollect(kt_conf_collector_t *c, int line, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* Adds a formatted message (taken over; NULL means out of memory), sorted at `line`. */
void kt_conf_collect_msg(kt_conf_collector_t *c, int line, char *msg);
void kt_conf_collect_sort(kt_conf_collector_t *c); /* this file's messages by line */
void kt_conf_collect_done(kt_conf_collector_t *c); /* frees what it holds, not errs */

/* libconfig would open @include files itself, past our permission checks:
 * reports every @include line of text ("@include is not allowed; <advice>")
 * and returns 1 if there was one. */
int kt_conf_refuse_include(kt_conf_collector_t *c, const char *text, const char *advice);

#endif
