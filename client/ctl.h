/*
 * ctl.h - ketenctl's side of the control socket (docs/protocol.md §10).
 *
 * The socket path is, in order: -s/--socket PATH, $KETEN_CONTROL, then
 * KT_CONTROL_DEFAULT_PATH (/run/keten/ketend.sock). A reply is awaited for at
 * most $KETEN_CONTROL_TIMEOUT seconds (default 30). Commands that talk to the
 * daemon build a request with jansson, call kt_ctl_run() and print the reply
 * with kt_ctl_print_json() (--json) or their own table.
 */
#ifndef KETENCTL_CTL_H
#define KETENCTL_CTL_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "keten/control.h"
#include "keten/error.h"

#define KT_CTL_TIMEOUT_MS 30000
#define KT_CTL_TIMEOUT_MAX_S 3600
#define KT_CTL_ENV_SOCKET "KETEN_CONTROL"
#define KT_CTL_ENV_TIMEOUT "KETEN_CONTROL_TIMEOUT"

typedef struct kt_ctl_opts {
    const char *socket; /* -s/--socket, or NULL */
    int json;           /* --json */
    int timeout_ms;     /* 0: $KETEN_CONTROL_TIMEOUT, else KT_CTL_TIMEOUT_MS */
} kt_ctl_opts_t;

/* If argv[*i] is a common option (-s PATH, --socket PATH, --socket=PATH,
 * --json), stores it, advances *i past its argument and returns 1; returns 0
 * for anything else, -1 (message printed) for a missing argument. */
int kt_ctl_opt(kt_ctl_opts_t *o, int argc, char **argv, int *i);

/* The effective socket path and timeout for o. */
const char *kt_ctl_socket_path(const kt_ctl_opts_t *o);
int kt_ctl_timeout_ms(const kt_ctl_opts_t *o);

/* Connects to path. KT_ENOENT when nothing listens there (d: "ketend is not
 * running (no socket at PATH); start it with: ketend -c /path/to/ketend.conf"),
 * KT_EDENIED when the socket's mode keeps us out, KT_EIO otherwise. */
int kt_ctl_connect(int *fd, const char *path, kt_diag_t *d) KT_WUR;

/* Sends req (borrowed; "v" is set in it) on fd and waits at most timeout_ms
 * for one reply line. *reply (new) is any well-formed reply, ok or not. */
int kt_ctl_roundtrip(int fd, json_t *req, json_t **reply, int timeout_ms, kt_diag_t *d) KT_WUR;

/* Connect, round trip, close. Returns 0 with an ok reply in *reply, or a
 * negative code with the sentence for the user in d (without "ketenctl: "):
 * an error reply from ketend becomes the KT_E* code of its error code. */
int kt_ctl_call(const kt_ctl_opts_t *o, json_t *req, json_t **reply, kt_diag_t *d) KT_WUR;

/* kt_ctl_call() that prints the error: returns KT_EXIT_OK with *reply set, or
 * KT_EXIT_ERR. */
int kt_ctl_run(const kt_ctl_opts_t *o, json_t *req, json_t **reply) KT_WUR;

/* Standard padded base64 of n bytes into out (outlen >= 4 * ((n + 2) / 3) + 1),
 * for binary values in requests (control.c decodes them strictly). */
void kt_ctl_base64(char *out, size_t outlen, const uint8_t *in, size_t n);

/* --json output: the whole reply, indented, keys sorted, one final newline. */
void kt_ctl_print_json(FILE *f, const json_t *reply);

/* A table of rows (an array of objects): one column per key in keys
 * (NULL-terminated) under headers[i]. Strings as they are, integers in
 * decimal, booleans yes/no, absent and null as "-", string arrays joined with
 * ",". Prints "(none)" under the headers for an empty array. */
void kt_ctl_print_table(FILE *f, const json_t *rows, const char *const *keys,
                        const char *const *headers);

#endif
