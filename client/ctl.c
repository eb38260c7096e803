/*
 * ctl.c - ketenctl's connection to ketend's control socket: where the socket
 * is, one request out, one reply in within a bounded time, and the sentence a
 * user sees when that fails or ketend says no.
 *
 * Owns the client half of docs/protocol.md §10. Must never print request
 * arguments (records hold personal data) or wait without a deadline. Error
 * texts come from ketend's reply or name the socket path, never input values.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "ketenctl.h"

int kt_ctl_opt(kt_ctl_opts_t *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i];

    if (strcmp(a, "--json") == 0) {
        o->json = 1;
        return 1;
    }
    if (strncmp(a, "--socket=", 9) == 0) {
        o->socket = a + 9;
        return 1;
    }
    if (strcmp(a, "-s") != 0 && strcmp(a, "--socket") != 0)
        return 0;
    if (*i + 1 >= argc) {
        kt_err("%s needs a socket path", a);
        return -1;
    }
    o->socket = argv[++*i];
    return 1;
}

const char *kt_ctl_socket_path(const kt_ctl_opts_t *o)
{
    const char *env = getenv(KT_CTL_ENV_SOCKET);

    if (o != NULL && o->socket != NULL)
        return o->socket;
    if (env != NULL && env[0] != '\0')
        return env;
    return KT_CONTROL_DEFAULT_PATH;
}

int kt_ctl_timeout_ms(const kt_ctl_opts_t *o)
{
    const char *env = getenv(KT_CTL_ENV_TIMEOUT);
    char *end = NULL;
    long s;

    if (o != NULL && o->timeout_ms > 0)
        return o->timeout_ms;
    if (env == NULL || env[0] == '\0')
        return KT_CTL_TIMEOUT_MS;
    errno = 0;
    s = strtol(env, &end, 10);
    if (errno != 0 || *end != '\0' || s < 1 || s > KT_CTL_TIMEOUT_MAX_S) {
        kt_err("ignoring %s: not a number of seconds from 1 to %d; waiting %d s",
               KT_CTL_ENV_TIMEOUT, KT_CTL_TIMEOUT_MAX_S, KT_CTL_TIMEOUT_MS / 1000);
        return KT_CTL_TIMEOUT_MS;
    }
    return (int)s * 1000;
}

int kt_ctl_connect(int *fdp, const char *path, kt_diag_t *d)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd, err;

    *fdp = -1;
    if (path[0] == '\0' || strlen(path) >= sizeof(sa.sun_path))
        return kt_diag_set(d, KT_EINVAL, "control socket path '%s' is empty or too long", path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return kt_diag_set(d, KT_EIO, "cannot create a socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        *fdp = fd;
        return 0;
    }
    err = errno;
    close(fd);
    if (err == ENOENT || err == ECONNREFUSED || err == ENOTDIR)
        return kt_diag_set(d, KT_ENOENT,
                           "ketend is not running (no socket at %s); start it with: ketend -c "
                           "/path/to/ketend.conf",
                           path);
    if (err == EACCES || err == EPERM)
        return kt_diag_set(d, KT_EDENIED,
                           "permission denied on %s: ask the node's administrator to add you to "
                           "the socket's group",
                           path);
    if (err == EAGAIN)
        return kt_diag_set(d, KT_EIO, "ketend at %s is too busy to accept; try again", path);
    return kt_diag_set(d, KT_EIO, "cannot connect to ketend at %s: %s", path, strerror(err));
}

static int64_t s_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for ev on fd until deadline: 0 ready, KT_EIO on timeout or error. */
static int s_wait(int fd, short ev, int64_t deadline, int timeout_ms, kt_diag_t *d)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = ev};
        int64_t left = deadline - s_now_ms();
        int r;

        if (left <= 0)
            return timeout_ms % 1000 == 0
                       ? kt_diag_set(d, KT_EIO, "ketend did not answer within %d s",
                                     timeout_ms / 1000)
                       : kt_diag_set(d, KT_EIO, "ketend did not answer within %d ms", timeout_ms);
        r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return kt_diag_set(d, KT_EIO, "waiting for ketend: %s", strerror(errno));
    }
}

static int s_send_all(int fd, const char *buf, size_t len, int64_t deadline, int timeout_ms,
                      kt_diag_t *d)
{
    size_t off = 0;
    int rc;

    while (off < len) {
        ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);

        if (n >= 0) {
            off += (size_t)n;
            continue;
        }
        if (errno == EPIPE || errno == ECONNRESET)
            return kt_diag_set(d, KT_EIO,
                               "ketend closed the connection before the request "
                               "was sent");
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return kt_diag_set(d, KT_EIO, "sending to ketend: %s", strerror(errno));
        if ((rc = s_wait(fd, POLLOUT, deadline, timeout_ms, d)) < 0)
            return rc;
    }
    return 0;
}

/* Reads up to and without the first '\n' into a new buffer. */
static int s_recv_line(int fd, char **out, size_t *outlen, int64_t deadline, int timeout_ms,
                       kt_diag_t *d)
{
    const size_t max = KT_CONTROL_LINE_MAX_BYTES + 1;
    char *buf = malloc(max);
    size_t len = 0;
    int rc;

    if (buf == NULL)
        return kt_diag_set(d, KT_ENOMEM, "out of memory");
    for (;;) {
        char *nl = len ? memchr(buf, '\n', len) : NULL;
        ssize_t n;

        if (nl != NULL) {
            *out = buf;
            *outlen = (size_t)(nl - buf);
            return 0;
        }
        if (len == max) {
            rc = kt_diag_set(d, KT_ETOOBIG, "ketend's reply is longer than %d bytes",
                             KT_CONTROL_LINE_MAX_BYTES);
            goto fail;
        }
        n = recv(fd, buf + len, max - len, 0);
        if (n > 0) {
            len += (size_t)n;
            continue;
        }
        if (n == 0 || errno == ECONNRESET) {
            rc = kt_diag_set(d, KT_EIO, "ketend closed the connection without answering");
            goto fail;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            rc = kt_diag_set(d, KT_EIO, "reading from ketend: %s", strerror(errno));
            goto fail;
        }
        if ((rc = s_wait(fd, POLLIN, deadline, timeout_ms, d)) < 0)
            goto fail;
    }
fail:
    free(buf);
    return rc;
}

/* A reply is {"v":1,"ok":true,...} or {"v":1,"ok":false,"error":{code,message}}. */
static int s_reply_valid(const json_t *r)
{
    const json_t *v = json_object_get(r, "v"), *ok = json_object_get(r, "ok"), *err;

    if (!json_is_object(r) || !json_is_integer(v) || !json_is_boolean(ok))
        return 0;
    if (json_is_true(ok))
        return 1;
    err = json_object_get(r, "error");
    return json_is_string(json_object_get(err, "code")) &&
           json_is_string(json_object_get(err, "message"));
}

int kt_ctl_roundtrip(int fd, json_t *req, json_t **reply, int timeout_ms, kt_diag_t *d)
{
    int64_t deadline = s_now_ms() + timeout_ms;
    char *line = NULL, *in = NULL;
    size_t len = 0, inlen = 0;
    json_t *r = NULL;
    int rc;

    *reply = NULL;
    if (json_object_set_new(req, "v", json_integer(KT_CONTROL_PROTOCOL)) < 0 ||
        (line = json_dumps(req, JSON_COMPACT)) == NULL) {
        rc = kt_diag_set(d, KT_ENOMEM, "cannot encode the request");
        goto out;
    }
    len = strlen(line);
    if (len > KT_CONTROL_LINE_MAX_BYTES) {
        rc = kt_diag_set(d, KT_ETOOBIG, "request is larger than %d bytes; send less at once",
                         KT_CONTROL_LINE_MAX_BYTES);
        goto out;
    }
    line[len] = '\n'; /* json_dumps' NUL is not sent */
    if ((rc = s_send_all(fd, line, len + 1, deadline, timeout_ms, d)) < 0 ||
        (rc = s_recv_line(fd, &in, &inlen, deadline, timeout_ms, d)) < 0)
        goto out;
    r = json_loadb(in, inlen, 0, NULL);
    if (r == NULL || !s_reply_valid(r)) {
        rc = kt_diag_set(d, KT_EMALFORMED, "ketend sent a malformed reply");
        goto out;
    }
    *reply = r;
    r = NULL;
    rc = 0;
out:
    if (line)
        explicit_bzero(line, len);
    free(line);
    if (in)
        explicit_bzero(in, inlen);
    free(in);
    json_decref(r);
    return rc;
}

static const struct {
    const char *name;
    int code;
} s_codes[] = {
    {"malformed", KT_EMALFORMED}, {"too_big", KT_ETOOBIG},       {"auth", KT_EAUTH},
    {"denied", KT_EDENIED},       {"no_consent", KT_ENOCONSENT}, {"invalid", KT_EINVAL},
    {"exists", KT_EEXIST},        {"not_found", KT_ENOENT},      {"version", KT_EVERSION},
    {"config", KT_ECONFIG},       {"replay", KT_EREPLAY},        {"unknown_command", KT_EINVAL},
};

static int s_code_of(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(s_codes) / sizeof(s_codes[0]); i++)
        if (strcmp(s_codes[i].name, name) == 0)
            return s_codes[i].code;
    return KT_EIO; /* internal, or a code newer than this ketenctl */
}

/* The sentence for an error reply of cmd. */
static int s_reply_error(const json_t *reply, const char *cmd, kt_diag_t *d)
{
    const json_t *err = json_object_get(reply, "error");
    const char *code = json_string_value(json_object_get(err, "code"));
    const char *msg = json_string_value(json_object_get(err, "message"));
    int rc = s_code_of(code);

    if (strcmp(code, "denied") == 0)
        return kt_diag_set(d, rc, "permission denied: %s", msg);
    if (strcmp(code, "version") == 0)
        return kt_diag_set(d, rc,
                           "ketend does not speak this ketenctl's protocol (version %d): %s; use "
                           "the ketenctl that came with this ketend",
                           KT_CONTROL_PROTOCOL, msg);
    if (strcmp(code, "unknown_command") == 0)
        return kt_diag_set(d, rc,
                           "ketend does not know the command '%s'; it may be older than this "
                           "ketenctl (%s)",
                           cmd, KETEN_VERSION);
    return kt_diag_set(d, rc, "%s: %s (%s)", cmd, msg, code);
}

int kt_ctl_call(const kt_ctl_opts_t *o, json_t *req, json_t **reply, kt_diag_t *d)
{
    const char *path = kt_ctl_socket_path(o);
    const char *cmd = json_string_value(json_object_get(req, "cmd"));
    json_t *r = NULL;
    int fd = -1, rc;

    *reply = NULL;
    if ((rc = kt_ctl_connect(&fd, path, d)) < 0)
        goto out;
    if ((rc = kt_ctl_roundtrip(fd, req, &r, kt_ctl_timeout_ms(o), d)) < 0) {
        kt_diag_prefix(d, "%s", path);
        goto out;
    }
    if (!json_is_true(json_object_get(r, "ok"))) {
        rc = s_reply_error(r, cmd ? cmd : "request", d);
        goto out;
    }
    *reply = r;
    r = NULL;
out:
    if (fd >= 0)
        close(fd);
    json_decref(r);
    return rc;
}

int kt_ctl_run(const kt_ctl_opts_t *o, json_t *req, json_t **reply)
{
    kt_diag_t d = {{0}};

    if (kt_ctl_call(o, req, reply, &d) < 0) {
        kt_err("%s", d.msg);
        return KT_EXIT_ERR;
    }
    return KT_EXIT_OK;
}

void kt_ctl_print_json(FILE *f, const json_t *reply)
{
    json_dumpf(reply, f, JSON_INDENT(2) | JSON_SORT_KEYS);
    fputc('\n', f);
}

/* One cell as text into buf (a short, bounded rendering). */
static const char *s_cell(const json_t *v, char *buf, size_t n)
{
    size_t i, off = 0;

    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, n, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    if (json_is_boolean(v))
        return json_is_true(v) ? "yes" : "no";
    if (json_is_array(v)) {
        buf[0] = '\0';
        for (i = 0; i < json_array_size(v) && off < n; i++) {
            const char *s = json_string_value(json_array_get(v, i));
            int w = snprintf(buf + off, n - off, "%s%s", i ? "," : "", s ? s : "?");

            off += w > 0 ? (size_t)w : 0;
        }
        return json_array_size(v) ? buf : "-";
    }
    return "-";
}

static void s_print_cell(FILE *f, const char *s, size_t width, int last)
{
    if (last)
        fprintf(f, "%s\n", s);
    else
        fprintf(f, "%-*s  ", (int)width, s);
}

void kt_ctl_print_table(FILE *f, const json_t *rows, const char *const *keys,
                        const char *const *headers)
{
    size_t ncol = 0, c, r, w[32] = {0};
    char buf[256];

    while (ncol < sizeof(w) / sizeof(w[0]) && keys[ncol] != NULL)
        ncol++;
    for (c = 0; c < ncol; c++)
        w[c] = strlen(headers[c]);
    for (r = 0; r < json_array_size(rows); r++)
        for (c = 0; c < ncol; c++) {
            size_t l =
                strlen(s_cell(json_object_get(json_array_get(rows, r), keys[c]), buf, sizeof(buf)));
            if (l > w[c])
                w[c] = l;
        }
    for (c = 0; c < ncol; c++)
        s_print_cell(f, headers[c], w[c], c + 1 == ncol);
    for (r = 0; r < json_array_size(rows); r++)
        for (c = 0; c < ncol; c++)
            s_print_cell(
                f, s_cell(json_object_get(json_array_get(rows, r), keys[c]), buf, sizeof(buf)),
                w[c], c + 1 == ncol);
    if (json_array_size(rows) == 0)
        fprintf(f, "(none)\n");
}

void kt_ctl_base64(char *out, size_t outlen, const uint8_t *in, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i, o = 0;

    if (outlen < 4 * ((n + 2) / 3) + 1) {
        if (outlen > 0)
            out[0] = '\0';
        return;
    }
    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = a[(v >> 6) & 63];
        out[o++] = a[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);

        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = i + 1 < n ? a[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
}
