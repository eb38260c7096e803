/*
 * test_control.c - the control socket: framing, version, errors, roles,
 * socket creation, and ketenctl's side of the connection.
 *
 * Server and clients run in this process on a socket in a mkdtemp directory:
 * client fds are non-blocking and every wait pumps the server for a bounded
 * time. The blocking ketenctl calls talk to a server in a forked child that
 * exits on its own after a few seconds. kt_err is faked to capture messages.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../client/ctl.h"
#include "../../client/ketenctl.h"
#include "keten/control.h"
#include "keten/log.h"

#define WAIT_MS 5000

/* ---- fakes for client/main.c ---- */

const char *kt_progname = "ketenctl";
static char s_errbuf[1024];

void kt_err(const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(s_errbuf, sizeof(s_errbuf), "%s: ", kt_progname);

    va_start(ap, fmt);
    vsnprintf(s_errbuf + n, sizeof(s_errbuf) - (size_t)n, fmt, ap);
    va_end(ap);
}

/* ---- fixture ---- */

struct fx {
    char dir[40];
    char path[80];
    kt_control_t *c;
};

static int64_t s_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int s_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/kt-control.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/ketend.sock", f->dir);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    struct fx *f = *state;
    char cmd[256];

    kt_control_destroy(&f->c);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

/* ---- handlers ---- */

static int h_echo(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                  kt_ctl_reply_t *rep)
{
    const char *s = NULL, **v = NULL;
    int64_t i = 0;
    int b = 0, rc;
    size_t n = 0, k, blen = 0, jlen = 0;
    uint8_t *bytes = NULL;
    char *json = NULL;

    (void)ctx;
    if ((rc = kt_ctl_req_str(req, "s", &s)) < 0)
        return kt_ctl_reply_error(rep, KT_EMALFORMED, "\"s\" must be a string");
    if (kt_ctl_req_int(req, "i", &i) == KT_EMALFORMED ||
        kt_ctl_req_bool(req, "b", &b) == KT_EMALFORMED)
        return KT_EINVAL; /* no message: the dispatcher names the command */
    kt_ctl_reply_str(rep, "cmd", kt_ctl_req_cmd(req));
    kt_ctl_reply_str(rep, "s", s);
    kt_ctl_reply_int(rep, "i", i);
    kt_ctl_reply_bool(rep, "b", b);
    kt_ctl_reply_int(rep, "uid", who->uid);
    if (kt_ctl_req_strv(req, "list", &v, &n) == 0) {
        kt_ctl_reply_begin_array(rep, "list");
        for (k = 0; k < n; k++) {
            kt_ctl_reply_begin_object(rep, NULL);
            kt_ctl_reply_str(rep, "item", v[k]);
            kt_ctl_reply_end_object(rep);
        }
        kt_ctl_reply_end_array(rep);
        free(v);
    }
    if ((rc = kt_ctl_req_bytes(req, "bytes", &bytes, &blen)) == 0) {
        kt_ctl_reply_int(rep, "nbytes", (int64_t)blen);
        kt_ctl_reply_int(rep, "byte0", blen ? bytes[0] : -1);
        kt_ctl_bytes_free(bytes, blen);
    } else if (rc == KT_EMALFORMED) {
        return kt_ctl_reply_error(rep, KT_EMALFORMED, "\"bytes\" is not base64");
    }
    if (kt_ctl_req_json(req, "raw", &json, &jlen) == 0) {
        kt_ctl_reply_str(rep, "raw", json);
        kt_ctl_bytes_free((uint8_t *)json, jlen);
    }
    return 0;
}

static int h_notfound(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                      kt_ctl_reply_t *rep)
{
    (void)ctx;
    (void)who;
    (void)req;
    kt_ctl_reply_str(rep, "dropped", "yes");
    return kt_ctl_reply_error(rep, KT_ENOENT, "no record with that id");
}

static int h_unbalanced(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                        kt_ctl_reply_t *rep)
{
    (void)ctx;
    (void)who;
    (void)req;
    kt_ctl_reply_begin_array(rep, "x");
    kt_ctl_reply_str(rep, "ok", "reserved key at the top level is fine inside an array");
    return 0;
}

static int h_reserved(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                      kt_ctl_reply_t *rep)
{
    (void)ctx;
    (void)who;
    (void)req;
    kt_ctl_reply_bool(rep, "ok", 0);
    return 0;
}

static int h_huge(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                  kt_ctl_reply_t *rep)
{
    static char chunk[1001];
    int k;

    (void)ctx;
    (void)who;
    (void)req;
    memset(chunk, 'a', sizeof(chunk) - 1);
    kt_ctl_reply_begin_array(rep, "rows");
    for (k = 0; k < 1100; k++)
        kt_ctl_reply_str(rep, NULL, chunk);
    kt_ctl_reply_end_array(rep);
    return 0;
}

static int h_ok(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req, kt_ctl_reply_t *rep)
{
    (void)who;
    (void)req;
    kt_ctl_reply_str(rep, "ran", ctx);
    return 0;
}

/* ---- helpers ---- */

static kt_control_t *s_server(const kt_control_opts_t *o)
{
    kt_control_t *c = NULL;
    kt_diag_t d = {{0}};

    assert_int_equal(kt_control_new(&c, o, &d), 0);
    assert_int_equal(kt_control_register(c, "echo", KT_ROLE_ANY, h_echo, NULL), 0);
    assert_int_equal(kt_control_register(c, "notfound", KT_ROLE_ANY, h_notfound, NULL), 0);
    assert_int_equal(kt_control_register(c, "unbalanced", KT_ROLE_ANY, h_unbalanced, NULL), 0);
    assert_int_equal(kt_control_register(c, "reserved", KT_ROLE_ANY, h_reserved, NULL), 0);
    assert_int_equal(kt_control_register(c, "huge", KT_ROLE_ANY, h_huge, NULL), 0);
    assert_int_equal(kt_control_register(c, "submit", KT_ROLE_OPERATOR, h_ok, "submit"), 0);
    assert_int_equal(kt_control_register(c, "audit", KT_ROLE_AUDITOR, h_ok, "audit"), 0);
    assert_int_equal(
        kt_control_register(c, "status", KT_ROLE_OPERATOR | KT_ROLE_AUDITOR, h_ok, "status"), 0);
    return c;
}

static kt_control_t *s_listen(struct fx *f, const kt_control_opts_t *o)
{
    kt_diag_t d = {{0}};

    f->c = s_server(o);
    if (kt_control_listen(f->c, f->path, &d) != 0)
        fail_msg("listen: %s", d.msg);
    return f->c;
}

static int s_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void s_send(kt_control_t *c, int fd, const char *buf, size_t len)
{
    int64_t end = s_now_ms() + WAIT_MS;
    size_t off = 0;

    while (off < len) {
        ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);

        if (n > 0)
            off += (size_t)n;
        else if (n < 0 && errno != EAGAIN)
            fail_msg("send: %s", strerror(errno));
        assert_true(s_now_ms() < end);
        assert_int_equal(kt_control_poll(c, 5), 0);
    }
}

static void s_send_str(kt_control_t *c, int fd, const char *s)
{
    s_send(c, fd, s, strlen(s));
}

/* One reply line (without '\n', new), or NULL on EOF. Fails after WAIT_MS. */
static char *s_recv_line(kt_control_t *c, int fd)
{
    static char buf[1 << 16];
    static size_t len;
    int64_t end = s_now_ms() + WAIT_MS;

    for (;;) {
        char *nl = memchr(buf, '\n', len);
        ssize_t n;

        if (nl != NULL) {
            char *line = strndup(buf, (size_t)(nl - buf));

            len -= (size_t)(nl - buf) + 1;
            memmove(buf, nl + 1, len);
            return line;
        }
        assert_true(s_now_ms() < end);
        assert_int_equal(kt_control_poll(c, 5), 0);
        n = recv(fd, buf + len, sizeof(buf) - len, 0);
        if (n == 0) {
            assert_int_equal(len, 0);
            return NULL;
        }
        if (n > 0)
            len += (size_t)n;
        else
            assert_true(errno == EAGAIN);
    }
}

static char *s_ask(kt_control_t *c, int fd, const char *line)
{
    s_send_str(c, fd, line);
    return s_recv_line(c, fd);
}

static void s_expect_error(char *line, const char *code, const char *message)
{
    json_t *r;
    json_error_t e;

    assert_non_null(line);
    r = json_loads(line, 0, &e);
    if (r == NULL)
        fail_msg("reply is not JSON: %s", line);
    assert_int_equal(json_integer_value(json_object_get(r, "v")), 1);
    assert_true(json_is_false(json_object_get(r, "ok")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "error"), "code")),
                        code);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "error"), "message")),
                        message);
    assert_int_equal(json_object_size(r), 3);
    json_decref(r);
    free(line);
}

static void s_expect_raw(char *line, const char *want)
{
    assert_non_null(line);
    assert_string_equal(line, want);
    free(line);
}

static const char *VERSION_OK = "{\"v\":1,\"ok\":true,\"protocol\":1,\"version\":\"0.1.0\"}";
static const char *MSG_NO_V = "request has no protocol version \"v\"; this ketend speaks version 1";
static const char *MSG_BAD_V = "unsupported protocol version; this ketend speaks version 1";
static const char *MSG_UNKNOWN = "unknown command; run 'ketenctl --help' for the commands";

/* Captures what is written to fd (1 or 2) between start and stop. */
struct capture {
    int saved;
    int fd;
    FILE *tmp;
};

static void s_capture_start(struct capture *cap, int fd)
{
    fflush(NULL);
    cap->fd = fd;
    cap->tmp = tmpfile();
    assert_non_null(cap->tmp);
    cap->saved = dup(fd);
    assert_true(cap->saved >= 0);
    assert_true(dup2(fileno(cap->tmp), fd) >= 0);
}

static char *s_capture_stop(struct capture *cap)
{
    char *buf = calloc(1, 65536);
    size_t n;

    fflush(NULL);
    assert_true(dup2(cap->saved, cap->fd) >= 0);
    close(cap->saved);
    rewind(cap->tmp);
    n = fread(buf, 1, 65535, cap->tmp);
    buf[n] = '\0';
    fclose(cap->tmp);
    return buf;
}

/* ---- tests: the request path ---- */

static void test_version_over_the_socket(void **state)
{
    struct fx *f = *state;
    kt_control_t *c = s_listen(f, NULL);
    int fd = s_connect(f->path);

    s_expect_raw(s_ask(c, fd, "{\"v\":1,\"cmd\":\"version\"}\n"), VERSION_OK);
    /* CRLF and blank lines are tolerated */
    s_expect_raw(s_ask(c, fd, "\n{\"cmd\":\"version\",\"v\":1}\r\n"), VERSION_OK);
    close(fd);
}

static void test_bad_requests_get_exact_errors_and_the_connection_survives(void **state)
{
    struct fx *f = *state;
    kt_control_t *c = s_listen(f, NULL);
    int fd = s_connect(f->path);

    s_expect_error(s_ask(c, fd, "{\"cmd\":\"version\"}\n"), "version", MSG_NO_V);
    s_expect_error(s_ask(c, fd, "{\"v\":2,\"cmd\":\"version\"}\n"), "version", MSG_BAD_V);
    s_expect_error(s_ask(c, fd, "{\"v\":\"1\",\"cmd\":\"version\"}\n"), "version", MSG_BAD_V);
    s_expect_error(s_ask(c, fd, "{\"v\":1.0,\"cmd\":\"version\"}\n"), "version", MSG_BAD_V);
    s_expect_error(s_ask(c, fd, "{\"v\":1,\"cmd\":\n"), "malformed",
                   "request is not valid JSON (at byte 13)");
    s_expect_error(s_ask(c, fd, "{\"v\":1,\"cmd\":\"version\"} x\n"), "malformed",
                   "request is not valid JSON (at byte 25)");
    s_expect_error(s_ask(c, fd, "[1]\n"), "malformed", "request is not a JSON object");
    s_expect_error(s_ask(c, fd, "{\"v\":1,\"v\":1,\"cmd\":\"version\"}\n"), "malformed",
                   "request is not valid JSON (at byte 10)");
    s_expect_error(s_ask(c, fd, "{\"v\":1}\n"), "malformed", "request has no \"cmd\" string");
    s_expect_error(s_ask(c, fd, "{\"v\":1,\"cmd\":7}\n"), "malformed",
                   "request has no \"cmd\" string");
    s_expect_error(s_ask(c, fd, "{\"v\":1,\"cmd\":\"BSN 123456782\"}\n"), "unknown_command",
                   MSG_UNKNOWN);
    s_expect_raw(s_ask(c, fd, "{\"v\":1,\"cmd\":\"version\"}\n"), VERSION_OK);
    close(fd);
    fd = s_connect(f->path);
    s_expect_raw(s_ask(c, fd, "{\"v\":1,\"cmd\":\"version\"}\n"), VERSION_OK);
    close(fd);
}

static void test_too_long_line_is_refused_and_closed(void **state)
{
    struct fx *f = *state;
    kt_control_t *c = s_listen(f, NULL);
    size_t n = KT_CONTROL_LINE_MAX_BYTES + 1;
    char *big = malloc(n);
    int fd = s_connect(f->path);

    assert_non_null(big);
    memset(big, ' ', n);
    s_send(c, fd, big, n);
    s_expect_error(s_recv_line(c, fd), "too_big",
                   "request line longer than 1048576 bytes; connection closed");
    assert_null(s_recv_line(c, fd)); /* closed */
    close(fd);
    assert_int_equal(kt_control_nclients(c), 0);

    /* exactly the limit (spaces around a valid request) is fine */
    fd = s_connect(f->path);
    memset(big, ' ', n);
    memcpy(big, "{\"v\":1,\"cmd\":\"version\"}", 23);
    big[n - 1] = '\n';
    s_send(c, fd, big, n);
    s_expect_raw(s_recv_line(c, fd), VERSION_OK);
    close(fd);
    free(big);

    fd = s_connect(f->path);
    s_expect_raw(s_ask(c, fd, "{\"v\":1,\"cmd\":\"version\"}\n"), VERSION_OK);
    close(fd);
}

static void test_pipelined_requests_and_last_line_without_newline(void **state)
{
    struct fx *f = *state;
    kt_control_t *c = s_listen(f, NULL);
    int fd = s_connect(f->path);

    s_send_str(c, fd, "{\"v\":1,\"cmd\":\"version\"}\n{\"v\":2}\n{\"v\":1,\"cmd\":\"version\"}");
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    s_expect_raw(s_recv_line(c, fd), VERSION_OK);
    s_expect_error(s_recv_line(c, fd), "version", MSG_BAD_V);
    s_expect_raw(s_recv_line(c, fd), VERSION_OK);
    assert_null(s_recv_line(c, fd));
    close(fd);
}

static void test_two_clients_at_once(void **state)
{
    struct fx *f = *state;
    kt_control_t *c = s_listen(f, NULL);
    int a = s_connect(f->path), b = s_connect(f->path);

    s_send_str(c, a, "{\"v\":1,\"cmd\":");
    s_expect_raw(s_ask(c, b, "{\"v\":1,\"cmd\":\"version\"}\n"), VERSION_OK);
    assert_int_equal(kt_control_nclients(c), 2);
    s_expect_raw(s_ask(c, a, "\"version\"}\n"), VERSION_OK);
    close(a);
    s_expect_raw(s_ask(c, b, "{\"v\":1,\"cmd\":\"version\"}\n"), VERSION_OK);
    close(b);
}

static void test_handler_api(void **state)
{
    struct fx *f = *state;
    kt_control_t *c = s_listen(f, NULL);
    int fd = s_connect(f->path);

    s_expect_raw(s_ask(c, fd,
                       "{\"v\":1,\"cmd\":\"echo\",\"s\":\"h\\u00e9\",\"i\":-5,\"b\":true,"
                       "\"list\":[\"a\",\"b\"],\"bytes\":\"AQID\",\"raw\":{\"k\":[1,null]}}\n"),
                 "{\"v\":1,\"ok\":true,\"cmd\":\"echo\",\"s\":\"h\xc3\xa9\",\"i\":-5,\"b\":true,"
                 "\"uid\":0,\"list\":[{\"item\":\"a\"},{\"item\":\"b\"}],\"nbytes\":3,"
                 "\"byte0\":1,\"raw\":\"{\\\"k\\\":[1,null]}\"}");
    s_expect_raw(s_ask(c, fd, "{\"v\":1,\"cmd\":\"echo\",\"s\":\"\",\"bytes\":\"\"}\n"),
                 "{\"v\":1,\"ok\":true,\"cmd\":\"echo\",\"s\":\"\",\"i\":0,\"b\":false,"
                 "\"uid\":0,\"nbytes\":0,\"byte0\":-1}");
    s_expect_error(s_ask(c, fd, "{\"v\":1,\"cmd\":\"echo\",\"s\":1}\n"), "malformed",
                   "\"s\" must be a string");
    s_expect_error(s_ask(c, fd, "{\"v\":1,\"cmd\":\"echo\",\"s\":\"x\",\"bytes\":\"AQI\"}\n"),
                   "malformed", "\"bytes\" is not base64");
    s_expect_error(s_ask(c, fd, "{\"v\":1,\"cmd\":\"echo\",\"s\":\"x\",\"bytes\":\"AQJ=\"}\n"),
                   "malformed", "\"bytes\" is not base64"); /* non-canonical */
    s_expect_error(s_ask(c, fd, "{\"v\":1,\"cmd\":\"echo\",\"s\":\"x\",\"b\":1}\n"), "invalid",
                   "echo failed: invalid value");
    s_expect_error(s_ask(c, fd, "{\"v\":1,\"cmd\":\"echo\",\"s\":\"\\u0000\"}\n"), "malformed",
                   "request is not valid JSON (at byte 32)");
    s_expect_error(s_ask(c, fd, "{\"v\":1,\"cmd\":\"notfound\"}\n"), "not_found",
                   "no record with that id");
    s_expect_error(s_ask(c, fd, "{\"v\":1,\"cmd\":\"unbalanced\"}\n"), "internal",
                   "internal error while answering unbalanced");
    s_expect_error(s_ask(c, fd, "{\"v\":1,\"cmd\":\"reserved\"}\n"), "internal",
                   "internal error while answering reserved");
    s_expect_error(s_ask(c, fd, "{\"v\":1,\"cmd\":\"huge\"}\n"), "too_big",
                   "reply larger than the line limit; narrow the request");
    s_expect_raw(s_ask(c, fd, "{\"v\":1,\"cmd\":\"version\"}\n"), VERSION_OK);
    close(fd);
}

static void test_register_rules(void **state)
{
    kt_control_t *c = s_server(NULL);

    (void)state;
    assert_int_equal(kt_control_register(c, "version", KT_ROLE_ANY, h_ok, NULL), KT_EEXIST);
    assert_int_equal(kt_control_register(c, "x", 0, h_ok, NULL), KT_EINVAL);
    assert_int_equal(kt_control_register(c, "x", 1u << 7, h_ok, NULL), KT_EINVAL);
    assert_int_equal(kt_control_register(c, "Bad Name", KT_ROLE_ANY, h_ok, NULL), KT_EINVAL);
    assert_int_equal(kt_control_register(c, "", KT_ROLE_ANY, h_ok, NULL), KT_EINVAL);
    assert_int_equal(
        kt_control_register(c, "a23456789012345678901234567890123", KT_ROLE_ANY, h_ok, NULL),
        KT_EINVAL);
    assert_int_equal(kt_control_register(c, "x", KT_ROLE_ANY, NULL, NULL), KT_EINVAL);
    assert_int_equal(kt_control_register(c, "outbox-list_2", KT_ROLE_ANY, h_ok, NULL), 0);
    kt_control_destroy(&c);
    assert_null(c);
    kt_control_destroy(&c);
}

/* ---- tests: authorization ---- */

static char *s_process(kt_control_t *c, uid_t uid, gid_t gid, const char *line)
{
    kt_ctl_caller_t who = {.uid = uid, .gid = gid, .pid = 1};
    char *reply = NULL;
    size_t len = 0;

    assert_int_equal(kt_control_process_line(c, &who, line, strlen(line), &reply, &len), 0);
    assert_int_equal(strlen(reply), len);
    assert_int_equal(reply[len - 1], '\n');
    reply[len - 1] = '\0';
    return reply;
}

#define OK_REPLY(what) "{\"v\":1,\"ok\":true,\"ran\":\"" what "\"}"

static void test_roles_by_uid_and_primary_gid(void **state)
{
    uid_t op_uids[] = {1000};
    gid_t aud_gids[] = {2000};
    kt_control_opts_t o = {.operators = {op_uids, 1, NULL, 0},
                           .auditors = {NULL, 0, aud_gids, 1},
                           .socket_group = (gid_t)-1};
    kt_control_t *c = s_server(&o);
    const char *submit = "{\"v\":1,\"cmd\":\"submit\"}", *audit = "{\"v\":1,\"cmd\":\"audit\"}",
               *status = "{\"v\":1,\"cmd\":\"status\"}";

    (void)state;
    s_expect_raw(s_process(c, 1000, 100, submit), OK_REPLY("submit"));
    s_expect_error(s_process(c, 1000, 100, audit), "denied",
                   "audit needs the auditor role (your uid 1000 and group 100 are not in "
                   "access.auditors)");
    s_expect_raw(s_process(c, 1000, 100, status), OK_REPLY("status"));
    s_expect_raw(s_process(c, 1001, 2000, audit), OK_REPLY("audit"));
    s_expect_error(s_process(c, 1001, 2000, submit), "denied",
                   "submit needs the operator role (your uid 1001 and group 2000 are not in "
                   "access.operators)");
    s_expect_error(s_process(c, 1002, 100, status), "denied",
                   "status needs the operator or auditor role (your uid 1002 and group 100 are "
                   "in neither access.operators nor access.auditors)");
    s_expect_raw(s_process(c, 1002, 100, "{\"v\":1,\"cmd\":\"version\"}"), VERSION_OK);
    /* root and the daemon's own uid hold every role */
    s_expect_raw(s_process(c, 0, 0, submit), OK_REPLY("submit"));
    s_expect_raw(s_process(c, geteuid(), 4321, audit), OK_REPLY("audit"));
    /* reloaded lists apply at once */
    assert_int_equal(kt_control_set_access(c, &o.auditors, &o.operators), 0);
    s_expect_raw(s_process(c, 1001, 2000, submit), OK_REPLY("submit"));
    s_expect_error(s_process(c, 1000, 100, submit), "denied",
                   "submit needs the operator role (your uid 1000 and group 100 are not in "
                   "access.operators)");
    kt_control_destroy(&c);
}

static void test_roles_over_the_socket_without_implicit_root(void **state)
{
    struct fx *f = *state;
    uid_t aud_uids[] = {geteuid()};
    kt_control_opts_t o = {.auditors = {aud_uids, 1, NULL, 0},
                           .socket_group = (gid_t)-1,
                           .flags = KT_CONTROL_NO_IMPLICIT_ROLES};
    kt_control_t *c = s_listen(f, &o);
    int fd = s_connect(f->path);
    struct capture cap;
    char want[256], *line, *log;

    snprintf(want, sizeof(want),
             "submit needs the operator role (your uid %u and group %u are not in "
             "access.operators)",
             (unsigned)geteuid(), (unsigned)getegid());
    s_capture_start(&cap, 2);
    line = s_ask(c, fd, "{\"v\":1,\"cmd\":\"submit\",\"bsn\":\"123456782\"}\n");
    log = s_capture_stop(&cap);
    s_expect_error(line, "denied", want);
    /* the refusal is logged with who and what, never the arguments */
    snprintf(want, sizeof(want), "control: refused submit from uid %u gid %u pid %ld: denied\n",
             (unsigned)geteuid(), (unsigned)getegid(), (long)getpid());
    assert_non_null(strstr(log, want));
    assert_null(strstr(log, "123456782"));
    free(log);
    s_expect_raw(s_ask(c, fd, "{\"v\":1,\"cmd\":\"audit\"}\n"), OK_REPLY("audit"));
    s_expect_raw(s_ask(c, fd, "{\"v\":1,\"cmd\":\"status\"}\n"), OK_REPLY("status"));
    close(fd);
}

/* ---- tests: the socket file ---- */

static void test_socket_mode_and_removal(void **state)
{
    struct fx *f = *state;
    struct stat st;

    s_listen(f, NULL);
    assert_int_equal(lstat(f->path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0660);
    kt_control_destroy(&f->c);
    assert_int_equal(lstat(f->path, &st), -1);
    assert_int_equal(errno, ENOENT);
}

static void s_make_stale_socket(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd); /* the file stays, nothing listens */
}

static void test_stale_socket_replaced_live_one_refused(void **state)
{
    struct fx *f = *state;
    kt_control_t *second = s_server(NULL);
    kt_diag_t d = {{0}};
    char want[256];
    int fd;

    s_make_stale_socket(f->path);
    s_listen(f, NULL);
    fd = s_connect(f->path);
    s_expect_raw(s_ask(f->c, fd, "{\"v\":1,\"cmd\":\"version\"}\n"), VERSION_OK);
    close(fd);

    assert_int_equal(kt_control_listen(second, f->path, &d), KT_EEXIST);
    snprintf(want, sizeof(want), "another ketend is running on %s", f->path);
    assert_string_equal(d.msg, want);
    kt_control_destroy(&second); /* must not remove the live server's socket */
    fd = s_connect(f->path);
    s_expect_raw(s_ask(f->c, fd, "{\"v\":1,\"cmd\":\"version\"}\n"), VERSION_OK);
    close(fd);
    assert_int_equal(kt_control_listen(f->c, f->path, &d), KT_EINVAL);
}

static void test_path_that_is_not_a_socket_is_refused(void **state)
{
    struct fx *f = *state;
    kt_control_t *c = s_server(NULL);
    kt_diag_t d = {{0}};
    FILE *fp = fopen(f->path, "w");
    char want[512], longpath[200];
    struct stat st;

    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(kt_control_listen(c, f->path, &d), KT_EEXIST);
    snprintf(want, sizeof(want),
             "%s exists and is not a socket; refusing to replace it (set control.socket to "
             "another path or remove the file)",
             f->path);
    assert_string_equal(d.msg, want);
    assert_int_equal(lstat(f->path, &st), 0);
    assert_true(S_ISREG(st.st_mode));

    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(kt_control_listen(c, longpath, &d), KT_EINVAL);
    kt_control_destroy(&c);
}

/* ---- tests: ketenctl's side ---- */

#define NOT_RUNNING                                                                                \
    "ketend is not running (no socket at %s); start it with: ketend -c /path/to/ketend.conf"

static void test_client_daemon_not_running(void **state)
{
    struct fx *f = *state;
    kt_ctl_opts_t o = {.socket = f->path};
    json_t *req = json_pack("{s:s}", "cmd", "version"), *reply = NULL;
    kt_diag_t d = {{0}};
    char want[512];
    int fd = -1;

    snprintf(want, sizeof(want), NOT_RUNNING, f->path);
    assert_int_equal(kt_ctl_connect(&fd, f->path, &d), KT_ENOENT);
    assert_string_equal(d.msg, want);
    assert_int_equal(fd, -1);

    s_errbuf[0] = '\0';
    assert_int_equal(kt_ctl_run(&o, req, &reply), KT_EXIT_ERR);
    assert_null(reply);
    snprintf(want, sizeof(want), "ketenctl: " NOT_RUNNING, f->path);
    assert_string_equal(s_errbuf, want);

    s_make_stale_socket(f->path); /* ECONNREFUSED reads the same */
    s_errbuf[0] = '\0';
    assert_int_equal(kt_ctl_run(&o, req, &reply), KT_EXIT_ERR);
    assert_string_equal(s_errbuf, want);
    json_decref(req);
}

static void test_client_socket_path_and_timeout_choice(void **state)
{
    kt_ctl_opts_t o = {0};

    (void)state;
    unsetenv(KT_CTL_ENV_SOCKET);
    unsetenv(KT_CTL_ENV_TIMEOUT);
    assert_string_equal(kt_ctl_socket_path(&o), "/run/keten/ketend.sock");
    assert_int_equal(kt_ctl_timeout_ms(&o), 30000);
    setenv(KT_CTL_ENV_SOCKET, "/tmp/env.sock", 1);
    setenv(KT_CTL_ENV_TIMEOUT, "7", 1);
    assert_string_equal(kt_ctl_socket_path(&o), "/tmp/env.sock");
    assert_int_equal(kt_ctl_timeout_ms(&o), 7000);
    o.socket = "/tmp/opt.sock";
    o.timeout_ms = 250;
    assert_string_equal(kt_ctl_socket_path(&o), "/tmp/opt.sock");
    assert_int_equal(kt_ctl_timeout_ms(&o), 250);
    o.timeout_ms = 0;
    setenv(KT_CTL_ENV_TIMEOUT, "soon", 1);
    s_errbuf[0] = '\0';
    assert_int_equal(kt_ctl_timeout_ms(&o), 30000);
    assert_string_equal(s_errbuf, "ketenctl: ignoring KETEN_CONTROL_TIMEOUT: not a number of "
                                  "seconds from 1 to 3600; waiting 30 s");
    unsetenv(KT_CTL_ENV_SOCKET);
    unsetenv(KT_CTL_ENV_TIMEOUT);
}

static void test_client_common_options(void **state)
{
    char *argv[] = {"status", "--json", "-s", "/a.sock", "--socket=/b.sock", "x", "--socket"};
    kt_ctl_opts_t o = {0};
    int i = 1;

    (void)state;
    assert_int_equal(kt_ctl_opt(&o, 7, argv, &i), 1);
    assert_true(o.json);
    i = 2;
    assert_int_equal(kt_ctl_opt(&o, 7, argv, &i), 1);
    assert_int_equal(i, 3);
    assert_string_equal(o.socket, "/a.sock");
    i = 4;
    assert_int_equal(kt_ctl_opt(&o, 7, argv, &i), 1);
    assert_string_equal(o.socket, "/b.sock");
    i = 5;
    assert_int_equal(kt_ctl_opt(&o, 7, argv, &i), 0);
    i = 6;
    assert_int_equal(kt_ctl_opt(&o, 7, argv, &i), -1);
    assert_string_equal(s_errbuf, "ketenctl: --socket needs a socket path");
}

/* A server in a child process for the blocking client; it exits by itself. */
static pid_t s_fork_server(struct fx *f, const kt_control_opts_t *o)
{
    int64_t end;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        kt_control_t *c = s_server(o);
        kt_diag_t d;

        if (kt_control_listen(c, f->path, &d) != 0)
            _exit(2);
        end = s_now_ms() + 10000;
        while (s_now_ms() < end)
            if (kt_control_poll(c, 50) != 0)
                _exit(3);
        kt_control_destroy(&c);
        _exit(0);
    }
    end = s_now_ms() + WAIT_MS;
    while (access(f->path, F_OK) != 0) {
        assert_true(s_now_ms() < end);
        usleep(10000);
    }
    return pid;
}

static void s_stop(pid_t pid)
{
    int status;

    kill(pid, SIGTERM);
    assert_int_equal(waitpid(pid, &status, 0), pid);
}

static void test_client_round_trips_and_presents_errors(void **state)
{
    struct fx *f = *state;
    kt_control_opts_t so = {.socket_group = (gid_t)-1, .flags = KT_CONTROL_NO_IMPLICIT_ROLES};
    kt_ctl_opts_t o = {.socket = f->path, .timeout_ms = WAIT_MS};
    pid_t pid = s_fork_server(f, &so);
    json_t *req = json_pack("{s:s}", "cmd", "version"), *reply = NULL;
    kt_diag_t d = {{0}};
    char want[512], *out;
    char *argv[] = {"version", "-s", f->path, NULL};
    char *argv_json[] = {"version", "-s", f->path, "--json", NULL};
    struct capture cap;
    int rc;

    assert_int_equal(kt_ctl_call(&o, req, &reply, &d), 0);
    assert_string_equal(json_string_value(json_object_get(reply, "version")), KETEN_VERSION);
    assert_int_equal(json_integer_value(json_object_get(req, "v")), 1);
    json_decref(reply);
    json_decref(req);

    req = json_pack("{s:s}", "cmd", "submit");
    s_errbuf[0] = '\0';
    assert_int_equal(kt_ctl_run(&o, req, &reply), KT_EXIT_ERR);
    snprintf(want, sizeof(want),
             "ketenctl: permission denied: submit needs the operator role (your uid %u and "
             "group %u are not in access.operators)",
             (unsigned)geteuid(), (unsigned)getegid());
    assert_string_equal(s_errbuf, want);
    json_decref(req);

    req = json_pack("{s:s}", "cmd", "frobnicate");
    assert_int_equal(kt_ctl_call(&o, req, &reply, &d), KT_EINVAL);
    assert_string_equal(d.msg, "ketend does not know the command 'frobnicate'; it may be older "
                               "than this ketenctl (0.1.0)");
    json_decref(req);

    req = json_pack("{s:s}", "cmd", "notfound");
    assert_int_equal(kt_ctl_call(&o, req, &reply, &d), KT_ENOENT);
    assert_string_equal(d.msg, "notfound: no record with that id (not_found)");
    json_decref(req);

    s_capture_start(&cap, 1);
    rc = cmd_version(3, argv);
    out = s_capture_stop(&cap);
    assert_int_equal(rc, KT_EXIT_OK);
    snprintf(want, sizeof(want),
             "ketenctl 0.1.0 (control protocol 1)\nketend   0.1.0 (control protocol 1) at %s\n",
             f->path);
    assert_string_equal(out, want);
    free(out);
    s_capture_start(&cap, 1);
    rc = cmd_version(4, argv_json);
    out = s_capture_stop(&cap);
    assert_int_equal(rc, KT_EXIT_OK);
    assert_string_equal(out, "{\n  \"ketenctl\": {\n    \"protocol\": 1,\n    \"version\": "
                             "\"0.1.0\"\n  },\n  \"ketend\": {\n    \"protocol\": 1,\n    "
                             "\"version\": \"0.1.0\"\n  }\n}\n");
    free(out);
    s_stop(pid);

    /* no daemon: version still answers for ketenctl */
    s_capture_start(&cap, 1);
    rc = cmd_version(3, argv);
    out = s_capture_stop(&cap);
    assert_int_equal(rc, KT_EXIT_OK);
    snprintf(want, sizeof(want),
             "ketenctl 0.1.0 (control protocol 1)\nketend   not running (no socket at %s)\n",
             f->path);
    assert_string_equal(out, want);
    free(out);
    s_capture_start(&cap, 1);
    rc = cmd_version(4, argv_json);
    out = s_capture_stop(&cap);
    assert_int_equal(rc, KT_EXIT_OK);
    assert_non_null(strstr(out, "\"ketend\": null"));
    free(out);
    argv[1] = "--bogus";
    assert_int_equal(cmd_version(2, argv), KT_EXIT_USAGE);
}

static void test_client_times_out_on_a_silent_server(void **state)
{
    struct fx *f = *state;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    kt_ctl_opts_t o = {.socket = f->path, .timeout_ms = 200};
    json_t *req = json_pack("{s:s}", "cmd", "version"), *reply = NULL;
    kt_diag_t d = {{0}};
    int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    int64_t t0;
    char want[512];

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(lfd, 4), 0);
    t0 = s_now_ms();
    assert_int_equal(kt_ctl_call(&o, req, &reply, &d), KT_EIO);
    assert_true(s_now_ms() - t0 < 2000);
    snprintf(want, sizeof(want), "%s: ketend did not answer within 200 ms", f->path);
    assert_string_equal(d.msg, want);
    close(lfd);
    json_decref(req);
}

static void test_client_output_helpers(void **state)
{
    json_t *rows = json_loads("[{\"id\":\"r1\",\"n\":3,\"ok\":true,\"to\":[\"swv\",\"gem\"]},"
                              "{\"id\":\"record-2\",\"ok\":false,\"n\":null}]",
                              0, NULL);
    json_t *reply = json_loads("{\"v\":1,\"ok\":true,\"b\":[1],\"a\":\"x\"}", 0, NULL);
    const char *keys[] = {"id", "n", "ok", "to", NULL};
    const char *heads[] = {"ID", "N", "OK", "TO"};
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);

    (void)state;
    kt_ctl_print_table(m, rows, keys, heads);
    fflush(m);
    assert_string_equal(buf, "ID        N  OK   TO\n"
                             "r1        3  yes  swv,gem\n"
                             "record-2  -  no   -\n");
    fclose(m);
    free(buf);
    m = open_memstream(&buf, &len);
    kt_ctl_print_json(m, reply);
    fflush(m);
    assert_string_equal(buf, "{\n  \"a\": \"x\",\n  \"b\": [\n    1\n  ],\n  \"ok\": true,\n"
                             "  \"v\": 1\n}\n");
    fclose(m);
    free(buf);
    json_decref(rows);
    json_decref(reply);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_version_over_the_socket, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_bad_requests_get_exact_errors_and_the_connection_survives, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_too_long_line_is_refused_and_closed, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_requests_and_last_line_without_newline,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_two_clients_at_once, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_handler_api, s_setup, s_teardown),
        cmocka_unit_test(test_register_rules),
        cmocka_unit_test(test_roles_by_uid_and_primary_gid),
        cmocka_unit_test_setup_teardown(test_roles_over_the_socket_without_implicit_root, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_socket_mode_and_removal, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_stale_socket_replaced_live_one_refused, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_path_that_is_not_a_socket_is_refused, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_client_daemon_not_running, s_setup, s_teardown),
        cmocka_unit_test(test_client_socket_path_and_timeout_choice),
        cmocka_unit_test(test_client_common_options),
        cmocka_unit_test_setup_teardown(test_client_round_trips_and_presents_errors, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_client_times_out_on_a_silent_server, s_setup,
                                        s_teardown),
        cmocka_unit_test(test_client_output_helpers),
    };

    kt_log_init("test_control", 1, 0);
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
