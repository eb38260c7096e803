/*
 * control.c - ketend's local control socket: the listening socket, the
 * connections, JSON-lines framing, the protocol version check, per-command
 * authorization by SO_PEERCRED, and the request/reply API handlers use.
 *
 * Owns jansson on the daemon side: nothing else in daemon/ sees json_t. Must
 * never log or echo request arguments or rejected input (they may hold
 * personal data): refusals are logged with the caller's uid, gid and pid and
 * the command name only if it is a registered one. Must never block: every
 * socket is non-blocking and the caller's event loop drives it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "keten/control.h"
#include "keten/log.h"

#define S_MAX_DEPTH 16
#define S_READ_CHUNK_BYTES 65536
#define S_OUT_HIGH_BYTES 262144 /* stop reading while this much is unsent */
#define S_BACKLOG 32
#define S_ACCEPT_PAUSE_MS 1000

struct s_cmd {
    char name[KT_CONTROL_CMD_NAME_MAX_BYTES + 1];
    unsigned roles;
    kt_ctl_fn fn;
    void *ctx;
};

struct kt_ctl_req {
    json_t *obj;
    const char *cmd;
};

struct kt_ctl_reply {
    json_t *root;
    json_t *stack[S_MAX_DEPTH];
    size_t depth;
    int failed;   /* latched builder error */
    int err_code; /* 0, or the KT_E* code of kt_ctl_reply_error() */
    char err_msg[KT_DIAG_BYTES];
};

struct s_client {
    int fd;
    kt_ctl_caller_t who;
    char *in;
    size_t in_len;
    char *out;
    size_t out_len, out_off;
    int eof;     /* peer will send nothing more */
    int closing; /* answer nothing more: close once out is flushed */
    int64_t last_ms;
};

struct kt_control {
    kt_access_list_t ops, auds;
    unsigned flags;
    gid_t group;
    int idle_ms;
    uid_t self_uid;
    struct s_cmd *cmds;
    size_t ncmds;
    int lfd;
    char *path;
    dev_t dev;
    ino_t ino;
    int64_t accept_paused_until;
    struct s_client *clients[KT_CONTROL_MAX_CLIENTS];
    size_t nclients;
};

static int64_t s_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- access lists ---- */

static void s_list_free(kt_access_list_t *l)
{
    free(l->uids);
    free(l->gids);
    memset(l, 0, sizeof(*l));
}

static int s_list_copy(kt_access_list_t *dst, const kt_access_list_t *src)
{
    memset(dst, 0, sizeof(*dst));
    if (src == NULL)
        return 0;
    if (src->nuids > SIZE_MAX / sizeof(uid_t) || src->ngids > SIZE_MAX / sizeof(gid_t))
        return KT_EINVAL;
    if (src->nuids > 0) {
        dst->uids = malloc(src->nuids * sizeof(uid_t));
        if (dst->uids == NULL)
            goto oom;
        memcpy(dst->uids, src->uids, src->nuids * sizeof(uid_t));
        dst->nuids = src->nuids;
    }
    if (src->ngids > 0) {
        dst->gids = malloc(src->ngids * sizeof(gid_t));
        if (dst->gids == NULL)
            goto oom;
        memcpy(dst->gids, src->gids, src->ngids * sizeof(gid_t));
        dst->ngids = src->ngids;
    }
    return 0;
oom:
    s_list_free(dst);
    return KT_ENOMEM;
}

static int s_list_has(const kt_access_list_t *l, const kt_ctl_caller_t *who)
{
    size_t i;

    for (i = 0; i < l->nuids; i++)
        if (l->uids[i] == who->uid)
            return 1;
    for (i = 0; i < l->ngids; i++)
        if (l->gids[i] == who->gid)
            return 1;
    return 0;
}

static unsigned s_roles_of(const kt_control_t *c, const kt_ctl_caller_t *who)
{
    unsigned roles = KT_ROLE_ANY;

    if (!(c->flags & KT_CONTROL_NO_IMPLICIT_ROLES) && (who->uid == 0 || who->uid == c->self_uid))
        return roles | KT_ROLE_OPERATOR | KT_ROLE_AUDITOR;
    if (s_list_has(&c->ops, who))
        roles |= KT_ROLE_OPERATOR;
    if (s_list_has(&c->auds, who))
        roles |= KT_ROLE_AUDITOR;
    return roles;
}

int kt_control_set_access(kt_control_t *c, const kt_access_list_t *operators,
                          const kt_access_list_t *auditors)
{
    kt_access_list_t ops, auds;
    int rc;

    if ((rc = s_list_copy(&ops, operators)) < 0)
        return rc;
    if ((rc = s_list_copy(&auds, auditors)) < 0) {
        s_list_free(&ops);
        return rc;
    }
    s_list_free(&c->ops);
    s_list_free(&c->auds);
    c->ops = ops;
    c->auds = auds;
    return 0;
}

/* ---- error codes ---- */

const char *kt_ctl_code_name(int code)
{
    switch (code) {
    case KT_EMALFORMED:
        return "malformed";
    case KT_ETOOBIG:
        return "too_big";
    case KT_EAUTH:
        return "auth";
    case KT_EDENIED:
        return "denied";
    case KT_ENOCONSENT:
        return "no_consent";
    case KT_EINVAL:
        return "invalid";
    case KT_EEXIST:
        return "exists";
    case KT_ENOENT:
        return "not_found";
    case KT_EVERSION:
        return "version";
    case KT_ECONFIG:
        return "config";
    case KT_EREPLAY:
        return "replay";
    default: /* KT_EIO, KT_ENOMEM, KT_EPERM and anything unknown */
        return "internal";
    }
}

/* ---- reply builder ---- */

static int s_reply_init(kt_ctl_reply_t *rep)
{
    memset(rep, 0, sizeof(*rep));
    rep->root = json_pack("{s:i,s:b}", "v", KT_CONTROL_PROTOCOL, "ok", 1);
    if (rep->root == NULL)
        return KT_ENOMEM;
    rep->stack[0] = rep->root;
    return 0;
}

static void s_reply_clear(kt_ctl_reply_t *rep)
{
    json_decref(rep->root);
    rep->root = NULL;
}

static int s_is_reserved(const char *key)
{
    return strcmp(key, "v") == 0 || strcmp(key, "ok") == 0 || strcmp(key, "error") == 0;
}

/* Adds val (stolen) to the open container; 0 or -1 (latched). */
static int s_reply_add(kt_ctl_reply_t *rep, const char *key, json_t *val)
{
    json_t *top;

    if (rep->failed || rep->err_code) {
        json_decref(val);
        return -1;
    }
    if (val == NULL) {
        rep->failed = KT_ENOMEM;
        return -1;
    }
    top = rep->stack[rep->depth];
    if (json_is_array(top)) {
        if (json_array_append_new(top, val) < 0)
            goto fail;
        return 0;
    }
    if (key == NULL || (rep->depth == 0 && s_is_reserved(key))) {
        json_decref(val);
        goto fail;
    }
    if (json_object_set_new(top, key, val) < 0)
        goto fail;
    return 0;
fail:
    rep->failed = KT_EINVAL;
    return -1;
}

void kt_ctl_reply_str(kt_ctl_reply_t *rep, const char *key, const char *val)
{
    (void)s_reply_add(rep, key, val ? json_string(val) : NULL);
}

void kt_ctl_reply_bytes(kt_ctl_reply_t *rep, const char *key, const uint8_t *p, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i, o = 0, cap = 4 * ((n + 2) / 3) + 1;
    char *out = malloc(cap);

    if (out == NULL) {
        (void)s_reply_add(rep, key, NULL);
        return;
    }
    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = a[(v >> 6) & 63];
        out[o++] = a[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);

        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = i + 1 < n ? a[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    (void)s_reply_add(rep, key, json_string(out));
    free(out);
}

void kt_ctl_reply_hex(kt_ctl_reply_t *rep, const char *key, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char out[2 * KT_CTL_HEX_MAX_BYTES + 1];
    size_t i;

    if (p == NULL) {
        kt_ctl_reply_null(rep, key);
        return;
    }
    if (n > KT_CTL_HEX_MAX_BYTES) {
        (void)s_reply_add(rep, key, NULL); /* a programmer's error: the reply fails */
        return;
    }
    for (i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
    kt_ctl_reply_str(rep, key, out);
}

void kt_ctl_reply_utc(kt_ctl_reply_t *rep, const char *key, int64_t unix_s)
{
    char buf[32];
    struct tm tm;
    time_t t = (time_t)unix_s;

    if (unix_s <= 0 || gmtime_r(&t, &tm) == NULL ||
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        kt_ctl_reply_null(rep, key);
        return;
    }
    kt_ctl_reply_str(rep, key, buf);
}

void kt_ctl_reply_int(kt_ctl_reply_t *rep, const char *key, int64_t val)
{
    (void)s_reply_add(rep, key, json_integer((json_int_t)val));
}

void kt_ctl_reply_bool(kt_ctl_reply_t *rep, const char *key, int val)
{
    (void)s_reply_add(rep, key, json_boolean(val));
}

void kt_ctl_reply_null(kt_ctl_reply_t *rep, const char *key)
{
    (void)s_reply_add(rep, key, json_null());
}

static void s_reply_begin(kt_ctl_reply_t *rep, const char *key, json_t *container)
{
    if (container != NULL && rep->depth + 1 >= S_MAX_DEPTH && !rep->failed) {
        json_decref(container);
        rep->failed = KT_EINVAL;
        return;
    }
    if (s_reply_add(rep, key, container) == 0)
        rep->stack[++rep->depth] = container; /* borrowed: the parent owns it */
}

static void s_reply_end(kt_ctl_reply_t *rep, int want_array)
{
    if (rep->failed || rep->err_code)
        return;
    if (rep->depth == 0 || json_is_array(rep->stack[rep->depth]) != want_array) {
        rep->failed = KT_EINVAL;
        return;
    }
    rep->depth--;
}

void kt_ctl_reply_begin_object(kt_ctl_reply_t *rep, const char *key)
{
    s_reply_begin(rep, key, json_object());
}

void kt_ctl_reply_end_object(kt_ctl_reply_t *rep)
{
    s_reply_end(rep, 0);
}

void kt_ctl_reply_begin_array(kt_ctl_reply_t *rep, const char *key)
{
    s_reply_begin(rep, key, json_array());
}

void kt_ctl_reply_end_array(kt_ctl_reply_t *rep)
{
    s_reply_end(rep, 1);
}

static int s_reply_verror(kt_ctl_reply_t *rep, int code, const char *fmt, va_list ap)
    KT_PRINTF(3, 0);

static int s_reply_verror(kt_ctl_reply_t *rep, int code, const char *fmt, va_list ap)
{
    if (code >= 0)
        code = KT_EINVAL; /* an error reply always carries an error code */
    if (rep->err_code == 0) {
        rep->err_code = code;
        vsnprintf(rep->err_msg, sizeof(rep->err_msg), fmt, ap);
    }
    return code;
}

int kt_ctl_reply_error(kt_ctl_reply_t *rep, int code, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = s_reply_verror(rep, code, fmt, ap);
    va_end(ap);
    return rc;
}

/* Internal: an error with a protocol code that has no KT_E* (unknown_command). */
static json_t *s_error_obj(const char *code, const char *msg)
{
    json_t *err = json_pack("{s:s,s:s}", "code", code, "message", msg);

    if (err == NULL) /* msg was not UTF-8 (a handler's bug): keep the reply well formed */
        err = json_pack("{s:s,s:s}", "code", code, "message", "error message unavailable");
    return json_pack("{s:i,s:b,s:o}", "v", KT_CONTROL_PROTOCOL, "ok", 0, "error", err);
}

static char *s_dump_line(json_t *obj, size_t *len)
{
    char *s = json_dumps(obj, JSON_COMPACT);
    char *line;
    size_t n;

    if (s == NULL)
        return NULL;
    n = strlen(s);
    line = realloc(s, n + 2);
    if (line == NULL) {
        free(s);
        return NULL;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    *len = n + 1;
    return line;
}

/* ---- request getters ---- */

const char *kt_ctl_req_cmd(const kt_ctl_req_t *req)
{
    return req->cmd;
}

int kt_ctl_req_has(const kt_ctl_req_t *req, const char *key)
{
    return json_object_get(req->obj, key) != NULL;
}

static int s_get(const kt_ctl_req_t *req, const char *key, json_t **out)
{
    *out = json_object_get(req->obj, key);
    return *out ? 0 : KT_ENOENT;
}

int kt_ctl_req_str(const kt_ctl_req_t *req, const char *key, const char **out)
{
    json_t *v;

    if (s_get(req, key, &v) < 0)
        return KT_ENOENT;
    if (!json_is_string(v))
        return KT_EMALFORMED;
    *out = json_string_value(v);
    return 0;
}

int kt_ctl_req_int(const kt_ctl_req_t *req, const char *key, int64_t *out)
{
    json_t *v;

    if (s_get(req, key, &v) < 0)
        return KT_ENOENT;
    if (!json_is_integer(v))
        return KT_EMALFORMED;
    *out = (int64_t)json_integer_value(v);
    return 0;
}

int kt_ctl_req_bool(const kt_ctl_req_t *req, const char *key, int *out)
{
    json_t *v;

    if (s_get(req, key, &v) < 0)
        return KT_ENOENT;
    if (!json_is_boolean(v))
        return KT_EMALFORMED;
    *out = json_is_true(v);
    return 0;
}

int kt_ctl_req_strv(const kt_ctl_req_t *req, const char *key, const char ***out, size_t *n)
{
    const char **v = NULL;
    json_t *arr;
    size_t i, len;

    if (s_get(req, key, &arr) < 0)
        return KT_ENOENT;
    if (!json_is_array(arr))
        return KT_EMALFORMED;
    len = json_array_size(arr);
    for (i = 0; i < len; i++)
        if (!json_is_string(json_array_get(arr, i)))
            return KT_EMALFORMED;
    v = calloc(len + 1, sizeof(*v)); /* +1: never calloc(0) and NULL-terminated */
    if (v == NULL)
        return KT_ENOMEM;
    for (i = 0; i < len; i++)
        v[i] = json_string_value(json_array_get(arr, i));
    *out = v;
    *n = len;
    return 0;
}

static int s_b64val(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return -1;
}

/* Strict RFC 4648 base64 with padding; canonical (unused bits zero). */
static int s_b64_decode(const char *s, size_t slen, uint8_t *out, size_t *outlen)
{
    size_t i, o = 0, pad = 0;

    if (slen % 4 != 0)
        return KT_EMALFORMED;
    if (slen > 0 && s[slen - 1] == '=')
        pad = (slen > 1 && s[slen - 2] == '=') ? 2 : 1;
    for (i = 0; i < slen; i += 4) {
        int v[4], k, last = (i + 4 == slen);
        uint32_t w = 0;

        for (k = 0; k < 4; k++) {
            if (last && k >= 4 - (int)pad) {
                v[k] = 0;
                continue;
            }
            if ((v[k] = s_b64val((unsigned char)s[i + (size_t)k])) < 0)
                return KT_EMALFORMED;
        }
        w = ((uint32_t)v[0] << 18) | ((uint32_t)v[1] << 12) | ((uint32_t)v[2] << 6) |
            (uint32_t)v[3];
        if (last && ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff))))
            return KT_EMALFORMED;
        out[o++] = (uint8_t)(w >> 16);
        if (!last || pad < 2)
            out[o++] = (uint8_t)(w >> 8);
        if (!last || pad < 1)
            out[o++] = (uint8_t)w;
    }
    *outlen = o;
    return 0;
}

int kt_ctl_decode_bytes(const char *s, uint8_t **out, size_t *len)
{
    uint8_t *buf;
    size_t slen = strlen(s), n = 0;
    int rc;

    buf = malloc(slen / 4 * 3 + 1);
    if (buf == NULL)
        return KT_ENOMEM;
    if ((rc = s_b64_decode(s, slen, buf, &n)) < 0) {
        kt_ctl_bytes_free(buf, slen / 4 * 3 + 1);
        return rc;
    }
    *out = buf;
    *len = n;
    return 0;
}

int kt_ctl_req_bytes(const kt_ctl_req_t *req, const char *key, uint8_t **out, size_t *len)
{
    const char *s;
    int rc;

    if ((rc = kt_ctl_req_str(req, key, &s)) < 0)
        return rc;
    return kt_ctl_decode_bytes(s, out, len);
}

void kt_ctl_bytes_free(uint8_t *p, size_t len)
{
    if (p == NULL)
        return;
    explicit_bzero(p, len);
    free(p);
}

int kt_ctl_req_json(const kt_ctl_req_t *req, const char *key, char **out, size_t *len)
{
    json_t *v;
    char *s;

    if (s_get(req, key, &v) < 0)
        return KT_ENOENT;
    s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s == NULL)
        return KT_ENOMEM;
    *out = s;
    *len = strlen(s);
    return 0;
}

/* ---- commands ---- */

static int s_cmd_version(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                         kt_ctl_reply_t *rep)
{
    (void)ctx;
    (void)who;
    (void)req;
    kt_ctl_reply_int(rep, "protocol", KT_CONTROL_PROTOCOL);
    kt_ctl_reply_str(rep, "version", KETEN_VERSION);
    return 0;
}

static int s_valid_name(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || n > KT_CONTROL_CMD_NAME_MAX_BYTES)
        return 0;
    for (i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              s[i] == '-'))
            return 0;
    return 1;
}

static const struct s_cmd *s_find(const kt_control_t *c, const char *name)
{
    size_t i;

    for (i = 0; i < c->ncmds; i++)
        if (strcmp(c->cmds[i].name, name) == 0)
            return &c->cmds[i];
    return NULL;
}

int kt_control_register(kt_control_t *c, const char *cmd, unsigned roles, kt_ctl_fn fn, void *ctx)
{
    const unsigned all = KT_ROLE_OPERATOR | KT_ROLE_AUDITOR | KT_ROLE_ANY;
    struct s_cmd *grown;

    if (cmd == NULL || fn == NULL || !s_valid_name(cmd) || roles == 0 || (roles & ~all))
        return KT_EINVAL;
    if (s_find(c, cmd) != NULL)
        return KT_EEXIST;
    grown = realloc(c->cmds, (c->ncmds + 1) * sizeof(*grown));
    if (grown == NULL)
        return KT_ENOMEM;
    c->cmds = grown;
    memset(&c->cmds[c->ncmds], 0, sizeof(c->cmds[0]));
    memcpy(c->cmds[c->ncmds].name, cmd, strlen(cmd) + 1);
    c->cmds[c->ncmds].roles = roles;
    c->cmds[c->ncmds].fn = fn;
    c->cmds[c->ncmds].ctx = ctx;
    c->ncmds++;
    return 0;
}

/* ---- the request path ---- */

static void s_denied_msg(kt_ctl_reply_t *rep, const struct s_cmd *cmd, const kt_ctl_caller_t *who)
{
    unsigned r = cmd->roles & (KT_ROLE_OPERATOR | KT_ROLE_AUDITOR);

    if (r == (KT_ROLE_OPERATOR | KT_ROLE_AUDITOR))
        kt_ctl_reply_error(rep, KT_EDENIED,
                           "%s needs the operator or auditor role (your uid %u and group %u are "
                           "in neither access.operators nor access.auditors)",
                           cmd->name, (unsigned)who->uid, (unsigned)who->gid);
    else
        kt_ctl_reply_error(
            rep, KT_EDENIED, "%s needs the %s role (your uid %u and group %u are not in access.%s)",
            cmd->name, r == KT_ROLE_OPERATOR ? "operator" : "auditor", (unsigned)who->uid,
            (unsigned)who->gid, r == KT_ROLE_OPERATOR ? "operators" : "auditors");
}

/* Parses and checks the envelope of a request; on success req->cmd is set. */
static int s_check_request(json_t **root, const char *line, size_t len, kt_ctl_reply_t *rep,
                           kt_ctl_req_t *req)
{
    json_error_t jerr;
    json_t *v, *cmd;

    if (len > KT_CONTROL_LINE_MAX_BYTES)
        return kt_ctl_reply_error(rep, KT_ETOOBIG, "request longer than %d bytes",
                                  KT_CONTROL_LINE_MAX_BYTES);
    *root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (*root == NULL) /* jerr.text may quote the input: give the position only */
        return kt_ctl_reply_error(rep, KT_EMALFORMED, "request is not valid JSON (at byte %d)",
                                  jerr.position);
    if (!json_is_object(*root))
        return kt_ctl_reply_error(rep, KT_EMALFORMED, "request is not a JSON object");
    v = json_object_get(*root, "v");
    if (v == NULL)
        return kt_ctl_reply_error(rep, KT_EVERSION,
                                  "request has no protocol version \"v\"; this ketend speaks "
                                  "version %d",
                                  KT_CONTROL_PROTOCOL);
    if (!json_is_integer(v) || json_integer_value(v) != KT_CONTROL_PROTOCOL)
        return kt_ctl_reply_error(rep, KT_EVERSION,
                                  "unsupported protocol version; this ketend speaks version %d",
                                  KT_CONTROL_PROTOCOL);
    cmd = json_object_get(*root, "cmd");
    req->cmd = json_is_string(cmd) ? json_string_value(cmd) : NULL;
    if (req->cmd == NULL)
        return kt_ctl_reply_error(rep, KT_EMALFORMED, "request has no \"cmd\" string");
    req->obj = *root;
    return 0;
}

static void s_log_refusal(const kt_ctl_caller_t *who, const struct s_cmd *cmd, const char *code)
{
    kt_log_warnx("control: refused %s from uid %u gid %u pid %ld: %s",
                 cmd ? cmd->name : "a request", (unsigned)who->uid, (unsigned)who->gid,
                 (long)who->pid, code);
}

static int s_dispatch(kt_control_t *c, const kt_ctl_caller_t *who, kt_ctl_req_t *req,
                      kt_ctl_reply_t *rep, const struct s_cmd **found)
{
    const struct s_cmd *cmd = s_find(c, req->cmd);
    int rc;

    *found = cmd;
    if (cmd == NULL)
        return 1; /* unknown_command has no KT_E* code: the caller answers it */
    if (!(cmd->roles & s_roles_of(c, who))) {
        s_denied_msg(rep, cmd, who);
        s_log_refusal(who, cmd, "denied");
        return KT_EDENIED;
    }
    {
        kt_ctl_caller_t as = *who; /* the handler sees the caller's roles */

        as.roles = s_roles_of(c, who);
        rc = cmd->fn(cmd->ctx, &as, req, rep);
    }
    if (rc < 0 && rep->err_code == 0)
        kt_ctl_reply_error(rep, rc, "%s failed: %s", cmd->name, kt_strerror(rc));
    if (rc >= 0 && rep->err_code == 0 && (rep->failed || rep->depth != 0)) {
        kt_log_warnx("control: %s built an invalid reply (%s)", cmd->name,
                     kt_strerror(rep->failed ? rep->failed : KT_EINVAL));
        kt_ctl_reply_error(rep, KT_EIO, "internal error while answering %s", cmd->name);
    }
    if (rep->err_code)
        kt_log_info("control: %s for uid %u pid %ld: %s", cmd->name, (unsigned)who->uid,
                    (long)who->pid, kt_ctl_code_name(rep->err_code));
    return rep->err_code;
}

/* The final reply object from rep, or from an unknown command. */
static json_t *s_reply_object(kt_ctl_reply_t *rep, int unknown)
{
    if (unknown)
        return s_error_obj("unknown_command",
                           "unknown command; run 'ketenctl --help' for the commands");
    if (rep->err_code)
        return s_error_obj(kt_ctl_code_name(rep->err_code), rep->err_msg);
    return json_incref(rep->root);
}

static int s_render(json_t *obj, char **reply, size_t *reply_len)
{
    char *line = obj ? s_dump_line(obj, reply_len) : NULL;

    if (line != NULL && *reply_len - 1 > KT_CONTROL_LINE_MAX_BYTES) {
        free(line);
        line = NULL;
        obj = s_error_obj("too_big", "reply larger than the line limit; narrow the request");
        if (obj != NULL) {
            line = s_dump_line(obj, reply_len);
            json_decref(obj);
        }
    }
    if (line == NULL)
        return KT_ENOMEM;
    *reply = line;
    return 0;
}

int kt_control_process_line(kt_control_t *c, const kt_ctl_caller_t *who, const char *line,
                            size_t len, char **reply, size_t *reply_len)
{
    const struct s_cmd *cmd = NULL;
    kt_ctl_reply_t rep;
    kt_ctl_req_t req = {0};
    json_t *root = NULL, *obj = NULL;
    int rc, unknown = 0;

    *reply = NULL;
    *reply_len = 0;
    if (s_reply_init(&rep) < 0)
        return KT_ENOMEM;
    rc = s_check_request(&root, line, len, &rep, &req);
    if (rc == 0 && req.cmd != NULL) {
        rc = s_dispatch(c, who, &req, &rep, &cmd);
        unknown = (rc == 1);
    }
    if (rc != 0 && cmd == NULL) /* s_dispatch logged the others */
        s_log_refusal(who, NULL, unknown ? "unknown_command" : kt_ctl_code_name(rc));
    obj = s_reply_object(&rep, unknown);
    rc = s_render(obj, reply, reply_len);
    json_decref(obj);
    json_decref(root);
    s_reply_clear(&rep);
    return rc;
}

/* ---- lifecycle ---- */

int kt_control_new(kt_control_t **out, const kt_control_opts_t *opts, kt_diag_t *d)
{
    kt_control_t *c = calloc(1, sizeof(*c));
    int rc = KT_ENOMEM;

    *out = NULL;
    if (c == NULL)
        return kt_diag_set(d, KT_ENOMEM, "control: out of memory");
    c->lfd = -1;
    c->group = (gid_t)-1;
    c->idle_ms = KT_CONTROL_IDLE_TIMEOUT_MS;
    c->self_uid = geteuid();
    if (opts != NULL) {
        c->flags = opts->flags;
        c->group = opts->socket_group;
        if (opts->idle_timeout_ms > 0)
            c->idle_ms = opts->idle_timeout_ms;
        if ((rc = kt_control_set_access(c, &opts->operators, &opts->auditors)) < 0) {
            kt_diag_set(d, rc, "control: cannot copy the access lists: %s", kt_strerror(rc));
            goto out;
        }
    }
    if ((rc = kt_control_register(c, "version", KT_ROLE_ANY, s_cmd_version, NULL)) < 0) {
        kt_diag_set(d, rc, "control: cannot register version: %s", kt_strerror(rc));
        goto out;
    }
    *out = c;
    c = NULL;
    rc = 0;
out:
    kt_control_destroy(&c);
    return rc;
}

static void s_client_free(struct s_client *cl)
{
    if (cl == NULL)
        return;
    if (cl->fd >= 0)
        close(cl->fd);
    /* buffers may hold personal data from requests and replies */
    if (cl->in)
        explicit_bzero(cl->in, KT_CONTROL_LINE_MAX_BYTES + 1);
    free(cl->in);
    if (cl->out)
        explicit_bzero(cl->out, cl->out_len);
    free(cl->out);
    free(cl);
}

static void s_client_remove(kt_control_t *c, size_t i)
{
    s_client_free(c->clients[i]);
    c->clients[i] = c->clients[--c->nclients];
    c->clients[c->nclients] = NULL;
}

void kt_control_destroy(kt_control_t **cp)
{
    kt_control_t *c;
    struct stat st;

    if (cp == NULL || *cp == NULL)
        return;
    c = *cp;
    while (c->nclients > 0)
        s_client_remove(c, c->nclients - 1);
    if (c->lfd >= 0)
        close(c->lfd);
    /* remove the socket only if it is still ours, not a successor's */
    if (c->path && lstat(c->path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == c->dev &&
        st.st_ino == c->ino)
        unlink(c->path);
    free(c->path);
    free(c->cmds);
    s_list_free(&c->ops);
    s_list_free(&c->auds);
    free(c);
    *cp = NULL;
}

/* ---- the listening socket ---- */

static int s_fill_addr(struct sockaddr_un *sa, const char *path, kt_diag_t *d)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (path[0] == '\0' || strlen(path) >= sizeof(sa->sun_path))
        return kt_diag_set(d, KT_EINVAL,
                           "control socket path '%s' is empty or longer than %zu bytes", path,
                           sizeof(sa->sun_path) - 1);
    memcpy(sa->sun_path, path, strlen(path) + 1);
    return 0;
}

/* Is a live process accepting on path? 1 yes, 0 no (refused), <0 cannot tell. */
static int s_probe(const struct sockaddr_un *sa, int *err)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int rc;

    if (fd < 0) {
        *err = errno;
        return -1;
    }
    rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
    *err = errno;
    close(fd);
    if (rc == 0 || *err == EAGAIN || *err == EINPROGRESS)
        return 1; /* EAGAIN: a live listener with a full backlog */
    return *err == ECONNREFUSED ? 0 : -1;
}

static int s_clear_stale(const struct sockaddr_un *sa, const char *path, kt_diag_t *d)
{
    struct stat st;
    int err = 0, live;

    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        return kt_diag_set(d, KT_EIO, "cannot check control socket %s: %s", path, strerror(errno));
    }
    if (!S_ISSOCK(st.st_mode))
        return kt_diag_set(d, KT_EEXIST,
                           "%s exists and is not a socket; refusing to replace it (set "
                           "control.socket to another path or remove the file)",
                           path);
    live = s_probe(sa, &err);
    if (live == 1)
        return kt_diag_set(d, KT_EEXIST, "another ketend is running on %s", path);
    if (live < 0)
        return kt_diag_set(d, KT_EIO,
                           "cannot tell whether %s is in use: %s; remove it if no ketend runs",
                           path, strerror(err));
    if (unlink(path) < 0 && errno != ENOENT)
        return kt_diag_set(d, KT_EIO, "cannot remove stale socket %s: %s", path, strerror(errno));
    kt_log_info("control: removed stale socket %s", path);
    return 0;
}

static int s_bind(kt_control_t *c, int fd, const struct sockaddr_un *sa, const char *path,
                  kt_diag_t *d)
{
    mode_t old;
    int rc;

    old = umask(0117); /* the socket is born 0660: no window with wider access */
    rc = bind(fd, (const struct sockaddr *)sa, sizeof(*sa));
    umask(old);
    if (rc < 0) {
        if (errno == EADDRINUSE)
            return kt_diag_set(d, KT_EEXIST, "another ketend is running on %s", path);
        return kt_diag_set(d, KT_EIO, "cannot bind control socket %s: %s", path, strerror(errno));
    }
    if (chmod(path, KT_CONTROL_SOCKET_MODE) < 0)
        return kt_diag_set(d, KT_EIO, "cannot chmod control socket %s: %s", path, strerror(errno));
    if (c->group != (gid_t)-1 && chown(path, (uid_t)-1, c->group) < 0)
        return kt_diag_set(d, KT_EPERM, "cannot give control socket %s to group %u: %s", path,
                           (unsigned)c->group, strerror(errno));
    return 0;
}

int kt_control_listen(kt_control_t *c, const char *path, kt_diag_t *d)
{
    struct sockaddr_un sa;
    struct stat st;
    int fd = -1, rc;

    if (c->lfd >= 0)
        return kt_diag_set(d, KT_EINVAL, "control socket already listening on %s", c->path);
    if ((rc = s_fill_addr(&sa, path, d)) < 0 || (rc = s_clear_stale(&sa, path, d)) < 0)
        return rc;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return kt_diag_set(d, KT_EIO, "cannot create control socket: %s", strerror(errno));
    if ((rc = s_bind(c, fd, &sa, path, d)) < 0)
        goto out;
    if (listen(fd, S_BACKLOG) < 0 || lstat(path, &st) < 0) {
        rc =
            kt_diag_set(d, KT_EIO, "cannot listen on control socket %s: %s", path, strerror(errno));
        goto out;
    }
    if ((c->path = strdup(path)) == NULL) {
        rc = kt_diag_set(d, KT_ENOMEM, "control: out of memory");
        goto out;
    }
    c->dev = st.st_dev;
    c->ino = st.st_ino;
    c->lfd = fd;
    fd = -1;
    kt_log_info("control: listening on %s", path);
    rc = 0;
out:
    if (fd >= 0) {
        close(fd);
        if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
            unlink(path); /* we bound it a moment ago */
    }
    return rc;
}

/* ---- connections ---- */

static size_t s_pending(const struct s_client *cl)
{
    return cl->out_len - cl->out_off;
}

static int s_wants_read(const struct s_client *cl)
{
    return !cl->eof && !cl->closing && s_pending(cl) < S_OUT_HIGH_BYTES;
}

size_t kt_control_nfds(const kt_control_t *c)
{
    return (c->lfd >= 0 ? 1 : 0) + c->nclients;
}

size_t kt_control_nclients(const kt_control_t *c)
{
    return c->nclients;
}

size_t kt_control_pollfds(const kt_control_t *c, struct pollfd *out, size_t max)
{
    size_t i, n = 0;

    for (i = 0; i < c->nclients && n < max; i++) {
        const struct s_client *cl = c->clients[i];
        short ev = (short)((s_wants_read(cl) ? POLLIN : 0) | (s_pending(cl) ? POLLOUT : 0));

        out[n++] = (struct pollfd){.fd = cl->fd, .events = ev};
    }
    if (c->lfd >= 0 && n < max) {
        int full = c->nclients >= KT_CONTROL_MAX_CLIENTS;
        int paused = c->accept_paused_until > s_now_ms();

        out[n++] = (struct pollfd){.fd = c->lfd, .events = (full || paused) ? 0 : POLLIN};
    }
    return n;
}

static int s_queue(struct s_client *cl, const char *data, size_t len)
{
    char *grown;

    if (cl->out_off == cl->out_len) {
        cl->out_off = cl->out_len = 0;
    }
    grown = realloc(cl->out, cl->out_len + len);
    if (grown == NULL)
        return KT_ENOMEM;
    cl->out = grown;
    memcpy(cl->out + cl->out_len, data, len);
    cl->out_len += len;
    return 0;
}

static int s_answer(kt_control_t *c, struct s_client *cl, const char *line, size_t len)
{
    char *reply = NULL;
    size_t rlen = 0;
    int rc;

    if ((rc = kt_control_process_line(c, &cl->who, line, len, &reply, &rlen)) < 0)
        return rc;
    rc = s_queue(cl, reply, rlen);
    explicit_bzero(reply, rlen);
    free(reply);
    return rc;
}

static int s_answer_too_big(struct s_client *cl)
{
    static const char msg[] = "{\"v\":1,\"ok\":false,\"error\":{\"code\":\"too_big\",\"message\":"
                              "\"request line longer than 1048576 bytes; connection closed\"}}\n";

    _Static_assert(KT_CONTROL_LINE_MAX_BYTES == 1048576, "update the too_big message");
    s_log_refusal(&cl->who, NULL, "too_big");
    cl->closing = 1;
    return s_queue(cl, msg, sizeof(msg) - 1);
}

/* Answers complete lines while there is room to send the answers. */
static int s_client_work(kt_control_t *c, struct s_client *cl)
{
    size_t off = 0;
    int rc = 0;

    while (!cl->closing && s_pending(cl) < S_OUT_HIGH_BYTES) {
        char *nl = memchr(cl->in + off, '\n', cl->in_len - off);
        size_t len;

        if (nl == NULL) {
            if (cl->in_len - off > KT_CONTROL_LINE_MAX_BYTES) {
                rc = s_answer_too_big(cl);
            } else if (cl->eof) {
                if (cl->in_len > off) /* a last line without '\n' */
                    rc = s_answer(c, cl, cl->in + off, cl->in_len - off);
                off = cl->in_len;
                cl->closing = 1;
            }
            break;
        }
        len = (size_t)(nl - (cl->in + off));
        if (len > 0 && cl->in[off + len - 1] == '\r')
            len--;
        if (len > 0 && (rc = s_answer(c, cl, cl->in + off, len)) < 0)
            break;
        off = (size_t)(nl - cl->in) + 1;
    }
    if (cl->closing)
        off = cl->in_len; /* nothing more will be answered */
    memmove(cl->in, cl->in + off, cl->in_len - off);
    cl->in_len -= off;
    return rc;
}

/* 0 keep, <0 close. */
static int s_client_read(kt_control_t *c, struct s_client *cl)
{
    size_t room = KT_CONTROL_LINE_MAX_BYTES + 1 - cl->in_len;
    ssize_t n;

    if (room > S_READ_CHUNK_BYTES)
        room = S_READ_CHUNK_BYTES;
    if (room == 0)
        return 0; /* not reached: s_wants_read() is false with a full buffer */
    n = recv(cl->fd, cl->in + cl->in_len, room, 0);
    if (n < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : KT_EIO;
    if (n == 0)
        cl->eof = 1;
    cl->in_len += (size_t)n;
    cl->last_ms = s_now_ms();
    return s_client_work(c, cl);
}

static int s_client_write(kt_control_t *c, struct s_client *cl)
{
    ssize_t n = send(cl->fd, cl->out + cl->out_off, s_pending(cl), MSG_NOSIGNAL);

    if (n < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : KT_EIO;
    cl->out_off += (size_t)n;
    cl->last_ms = s_now_ms();
    return s_client_work(c, cl); /* room again: answer lines that waited */
}

static int s_client_done(const struct s_client *cl)
{
    return (cl->closing || cl->eof) && s_pending(cl) == 0;
}

static void s_client_event(kt_control_t *c, size_t i, short revents)
{
    struct s_client *cl = c->clients[i];
    int rc = 0;

    if (revents & POLLNVAL)
        rc = KT_EIO;
    if (rc == 0 && (revents & POLLOUT) && s_pending(cl))
        rc = s_client_write(c, cl);
    if (rc == 0 && (revents & (POLLIN | POLLHUP | POLLERR)) && s_wants_read(cl))
        rc = s_client_read(c, cl);
    else if (rc == 0 && (revents & POLLERR))
        rc = KT_EIO;
    if (rc == KT_ENOMEM)
        kt_log_warnx("control: out of memory answering uid %u; connection closed",
                     (unsigned)cl->who.uid);
    if (rc < 0 || s_client_done(cl))
        s_client_remove(c, i);
}

static int s_accept_one(kt_control_t *c)
{
    struct ucred cred;
    socklen_t clen = sizeof(cred);
    struct s_client *cl;
    int fd = accept4(c->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            kt_log_warn("control: accept");
            c->accept_paused_until = s_now_ms() + S_ACCEPT_PAUSE_MS;
        }
        return -1;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
        kt_log_warn("control: SO_PEERCRED");
        close(fd);
        return 0;
    }
    cl = calloc(1, sizeof(*cl));
    if (cl == NULL || (cl->in = malloc(KT_CONTROL_LINE_MAX_BYTES + 1)) == NULL) {
        kt_log_warnx("control: out of memory; connection from uid %u refused", (unsigned)cred.uid);
        free(cl);
        close(fd);
        return -1;
    }
    cl->fd = fd;
    cl->who = (kt_ctl_caller_t){.uid = cred.uid, .gid = cred.gid, .pid = cred.pid};
    cl->last_ms = s_now_ms();
    c->clients[c->nclients++] = cl;
    kt_log_debug("control: connection from uid %u gid %u pid %ld", (unsigned)cred.uid,
                 (unsigned)cred.gid, (long)cred.pid);
    return 0;
}

static void s_reap_idle(kt_control_t *c)
{
    int64_t now = s_now_ms();
    size_t i = c->nclients;

    while (i-- > 0) {
        if (now - c->clients[i]->last_ms <= c->idle_ms)
            continue;
        kt_log_debug("control: closing idle connection of uid %u",
                     (unsigned)c->clients[i]->who.uid);
        s_client_remove(c, i);
    }
}

int kt_control_handle(kt_control_t *c, const struct pollfd *fds, size_t n)
{
    size_t i, j;
    int accept_ready = 0;

    for (i = 0; i < n; i++) {
        if (fds[i].revents == 0 || fds[i].fd < 0)
            continue;
        if (fds[i].fd == c->lfd) {
            accept_ready = 1;
            continue;
        }
        for (j = 0; j < c->nclients; j++) {
            if (c->clients[j]->fd == fds[i].fd) {
                s_client_event(c, j, fds[i].revents);
                break;
            }
        }
    }
    /* accept last, so a new connection cannot take the fd of one closed above */
    while (accept_ready && c->nclients < KT_CONTROL_MAX_CLIENTS && s_accept_one(c) == 0)
        ;
    s_reap_idle(c);
    return 0;
}

int kt_control_poll(kt_control_t *c, int timeout_ms)
{
    struct pollfd fds[KT_CONTROL_MAX_CLIENTS + 1];
    size_t n = kt_control_pollfds(c, fds, sizeof(fds) / sizeof(fds[0]));
    int r = poll(fds, (nfds_t)n, timeout_ms);

    if (r < 0)
        return errno == EINTR ? 0 : KT_EIO;
    return kt_control_handle(c, fds, r > 0 ? n : 0);
}
