/*
 * control.h - ketend's local control socket (docs/protocol.md §10).
 *
 * A Unix stream socket, mode 0660, one JSON object per line each way. Every
 * request is {"v": 1, "cmd": "NAME", ...args}; every reply is
 * {"v": 1, "ok": true, ...} or {"v": 1, "ok": false, "error": {"code", "message"}}.
 * Callers are identified by SO_PEERCRED and each command is authorized by the
 * roles it was registered with. The event loop belongs to the caller: it polls
 * the fds from kt_control_pollfds() next to its own and hands the ready ones to
 * kt_control_handle().
 *
 * Handlers never see JSON: they read arguments through kt_ctl_req_* and build
 * their answer through kt_ctl_reply_*. jansson.h stays inside control.c.
 */
#ifndef KETEN_CONTROL_H
#define KETEN_CONTROL_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "keten/error.h"

#define KETEN_VERSION "0.1.0"
#define KT_CONTROL_PROTOCOL 1
#define KT_CONTROL_DEFAULT_PATH "/run/keten/ketend.sock"
#define KT_CONTROL_SOCKET_MODE 0660
#define KT_CONTROL_LINE_MAX_BYTES 1048576 /* one request or reply, without '\n' */
#define KT_CONTROL_MAX_CLIENTS 64
#define KT_CONTROL_IDLE_TIMEOUT_MS 60000
#define KT_CONTROL_CMD_NAME_MAX_BYTES 32

/* Roles, as a mask: a command registered with OPERATOR|AUDITOR may be run by
 * either. ANY admits every peer that can open the socket. A mask of 0 is
 * refused at registration (default deny). No role implies another. */
enum {
    KT_ROLE_OPERATOR = 1 << 0,
    KT_ROLE_AUDITOR = 1 << 1,
    KT_ROLE_ANY = 1 << 2,
};

/* Flags for kt_control_opts_t. */
enum {
    /* Tests only: do not grant every role to root and to the daemon's own
     * uid, so the access lists can be tested while running as root. */
    KT_CONTROL_NO_IMPLICIT_ROLES = 1 << 0,
};

/* A caller matches a list if its uid is in uids or its primary gid is in
 * gids. Supplementary groups are not known to SO_PEERCRED, so they do not
 * count: name the group a user logs in with, or the uid. */
typedef struct kt_access_list {
    uid_t *uids;
    size_t nuids;
    gid_t *gids;
    size_t ngids;
} kt_access_list_t;

typedef struct kt_control_opts {
    kt_access_list_t operators; /* access.operators; copied */
    kt_access_list_t auditors;  /* access.auditors; copied */
    gid_t socket_group;         /* group of the socket file, or (gid_t)-1 to leave it */
    int idle_timeout_ms;        /* 0: KT_CONTROL_IDLE_TIMEOUT_MS */
    unsigned flags;             /* KT_CONTROL_* */
} kt_control_opts_t;

/* Who is asking, from SO_PEERCRED. */
typedef struct kt_ctl_caller {
    uid_t uid;
    gid_t gid;
    pid_t pid;
    unsigned roles; /* KT_ROLE_* the caller holds (set before a handler runs) */
} kt_ctl_caller_t;

typedef struct kt_control kt_control_t;
typedef struct kt_ctl_req kt_ctl_req_t;
typedef struct kt_ctl_reply kt_ctl_reply_t;

/*
 * A command handler. Reads req (borrowed, valid during the call), adds its
 * answer to rep and returns 0; or returns a negative KT_E* code, preferably
 * through kt_ctl_reply_error() so the caller gets a sentence. Messages must
 * not contain personal data: they may end up in a terminal or a log.
 */
typedef int (*kt_ctl_fn)(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                         kt_ctl_reply_t *rep);

/* control.c: the server */

/* A server without a socket yet: enough for kt_control_process_line(). The
 * built-in command `version` (any role) is registered. */
int kt_control_new(kt_control_t **out, const kt_control_opts_t *opts, kt_diag_t *d) KT_WUR;

/* Destroys c, closes every connection and removes the socket file if it is
 * still the one c created. Idempotent; nulls *c. */
void kt_control_destroy(kt_control_t **c);

/* Replaces both access lists (SIGHUP). Open connections are re-authorized on
 * their next request. */
int kt_control_set_access(kt_control_t *c, const kt_access_list_t *operators,
                          const kt_access_list_t *auditors) KT_WUR;

/* Registers cmd (1..KT_CONTROL_CMD_NAME_MAX_BYTES of [a-z0-9_-]) for the roles
 * in mask. KT_EEXIST if cmd is taken, KT_EINVAL for a bad name or mask. */
int kt_control_register(kt_control_t *c, const char *cmd, unsigned roles, kt_ctl_fn fn,
                        void *ctx) KT_WUR;

/* Creates the socket at path, mode 0660: refuses a path that exists and is
 * not a socket (KT_EEXIST), replaces a stale socket nothing listens on, and
 * refuses one a live process listens on (KT_EEXIST, "another ketend is
 * running on PATH"). Non-blocking, close-on-exec. */
int kt_control_listen(kt_control_t *c, const char *path, kt_diag_t *d) KT_WUR;

/* The fds to poll and their events (POLLIN/POLLOUT); at most max entries,
 * returns how many. kt_control_nfds() says how many are needed. */
size_t kt_control_nfds(const kt_control_t *c);
size_t kt_control_pollfds(const kt_control_t *c, struct pollfd *out, size_t max);

/* Handles the ready entries of fds (entries for other fds are ignored, so
 * the caller may pass its whole array). Also closes idle connections: call it
 * at least once a second, with n = 0 if nothing was ready. Problems with one
 * client close that client and are logged; returns 0, or KT_ENOMEM. */
int kt_control_handle(kt_control_t *c, const struct pollfd *fds, size_t n) KT_WUR;

/* Convenience loop step for tests and simple callers: poll the control fds
 * for at most timeout_ms and handle what is ready. */
int kt_control_poll(kt_control_t *c, int timeout_ms) KT_WUR;

/* Number of open client connections. */
size_t kt_control_nclients(const kt_control_t *c);

/*
 * The whole request path, without a socket: parses one line (without its
 * '\n'), checks version, command and role, runs the handler and returns the
 * reply line (with '\n', NUL-terminated) in *reply, which the caller frees.
 * Always produces a well-formed reply unless memory runs out (KT_ENOMEM).
 */
int kt_control_process_line(kt_control_t *c, const kt_ctl_caller_t *who, const char *line,
                            size_t len, char **reply, size_t *reply_len) KT_WUR;

/* The stable protocol code ("malformed", "denied", ...) for a KT_E* code. */
const char *kt_ctl_code_name(int code);

/* control.c: request arguments. Each getter returns 0, KT_ENOENT if key is
 * absent, or KT_EMALFORMED if it has another type. Strings are borrowed from
 * req and contain no NUL bytes. */
const char *kt_ctl_req_cmd(const kt_ctl_req_t *req);
int kt_ctl_req_has(const kt_ctl_req_t *req, const char *key);
int kt_ctl_req_str(const kt_ctl_req_t *req, const char *key, const char **out) KT_WUR;
int kt_ctl_req_int(const kt_ctl_req_t *req, const char *key, int64_t *out) KT_WUR;
int kt_ctl_req_bool(const kt_ctl_req_t *req, const char *key, int *out) KT_WUR;
/* An array of strings: *out is a new array of borrowed strings the caller
 * frees with free(). */
int kt_ctl_req_strv(const kt_ctl_req_t *req, const char *key, const char ***out, size_t *n) KT_WUR;
/* A base64 string (RFC 4648, padded): *out is new, free it with
 * kt_ctl_bytes_free(), which wipes it. */
int kt_ctl_req_bytes(const kt_ctl_req_t *req, const char *key, uint8_t **out, size_t *len) KT_WUR;
/* Strict base64 of one string (an element of a kt_ctl_req_strv array);
 * *out is freed with kt_ctl_bytes_free. KT_EMALFORMED on bad base64. */
int kt_ctl_decode_bytes(const char *s, uint8_t **out, size_t *len) KT_WUR;
void kt_ctl_bytes_free(uint8_t *p, size_t len);
/* Any value as compact JSON text (e.g. a record for kt_json_read_records);
 * *out is new, free it with kt_ctl_bytes_free((uint8_t *)*out, *len). */
int kt_ctl_req_json(const kt_ctl_req_t *req, const char *key, char **out, size_t *len) KT_WUR;

/*
 * control.c: the reply builder. Keys are ignored inside arrays (pass NULL).
 * "v", "ok" and "error" are reserved at the top level. Builder errors (out of
 * memory, unbalanced begin/end, a reserved key) latch: the caller then gets an
 * "internal" error reply instead of a partial answer, so these return nothing.
 */
void kt_ctl_reply_str(kt_ctl_reply_t *rep, const char *key, const char *val);
void kt_ctl_reply_int(kt_ctl_reply_t *rep, const char *key, int64_t val);
/* n bytes as lowercase hex (n <= KT_CTL_HEX_MAX_BYTES), or null when p is NULL. */
#define KT_CTL_HEX_MAX_BYTES 64
void kt_ctl_reply_hex(kt_ctl_reply_t *rep, const char *key, const uint8_t *p, size_t n);
/* Unix seconds as ISO 8601 UTC ("2026-11-23T14:41:47Z"), or null when <= 0. */
void kt_ctl_reply_utc(kt_ctl_reply_t *rep, const char *key, int64_t unix_s);
/* n bytes as standard padded base64 (RFC 4648), as requests carry them. */
void kt_ctl_reply_bytes(kt_ctl_reply_t *rep, const char *key, const uint8_t *p, size_t n);
void kt_ctl_reply_bool(kt_ctl_reply_t *rep, const char *key, int val);
void kt_ctl_reply_null(kt_ctl_reply_t *rep, const char *key);
void kt_ctl_reply_begin_object(kt_ctl_reply_t *rep, const char *key);
void kt_ctl_reply_end_object(kt_ctl_reply_t *rep);
void kt_ctl_reply_begin_array(kt_ctl_reply_t *rep, const char *key);
void kt_ctl_reply_end_array(kt_ctl_reply_t *rep);
/* Makes the reply an error with code's protocol name and a sentence (no
 * personal data, no echoed input); drops anything added so far. Returns code
 * (a negative KT_E*) so a handler can `return kt_ctl_reply_error(...)`. */
int kt_ctl_reply_error(kt_ctl_reply_t *rep, int code, const char *fmt, ...) KT_PRINTF(3, 4);

#endif
