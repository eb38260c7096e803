/*
 * fuzz_control_request.c - one control request line through the whole
 * request path (kt_control_process_line): parse, version, command lookup,
 * roles, a handler that reads every argument kind and builds a nested reply.
 *
 * Every input must give exactly one well-formed reply line: {"v":1,"ok":true,
 * ...} or {"v":1,"ok":false,"error":{"code":KNOWN,"message":STRING}}. Anything
 * else aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "keten/control.h"
#include "keten/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int s_args(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                  kt_ctl_reply_t *rep)
{
    const char *s = NULL, **v = NULL;
    uint8_t *b = NULL;
    char *j = NULL;
    size_t n = 0, i, blen = 0, jlen = 0;
    int64_t num = 0;
    int flag = 0;

    (void)ctx;
    (void)who;
    if (kt_ctl_req_str(req, "id", &s) == KT_EMALFORMED)
        return kt_ctl_reply_error(rep, KT_EMALFORMED, "\"id\" must be a string");
    if (kt_ctl_req_int(req, "limit", &num) == KT_EMALFORMED ||
        kt_ctl_req_bool(req, "all", &flag) == KT_EMALFORMED)
        return KT_EINVAL;
    kt_ctl_reply_begin_object(rep, "echo");
    if (s != NULL)
        kt_ctl_reply_str(rep, "id", s);
    kt_ctl_reply_int(rep, "limit", num);
    kt_ctl_reply_bool(rep, "all", flag);
    kt_ctl_reply_end_object(rep);
    if (kt_ctl_req_strv(req, "to", &v, &n) == 0) {
        kt_ctl_reply_begin_array(rep, "to");
        for (i = 0; i < n; i++)
            kt_ctl_reply_str(rep, NULL, v[i]);
        kt_ctl_reply_end_array(rep);
        free(v);
    }
    if (kt_ctl_req_bytes(req, "blob", &b, &blen) == 0) {
        kt_ctl_reply_int(rep, "blob_bytes", (int64_t)blen);
        kt_ctl_bytes_free(b, blen);
    }
    if (kt_ctl_req_json(req, "record", &j, &jlen) == 0) {
        kt_ctl_reply_int(rep, "record_bytes", (int64_t)jlen);
        kt_ctl_bytes_free((uint8_t *)j, jlen);
    }
    if (num < 0)
        return kt_ctl_reply_error(rep, KT_ENOENT, "nothing below zero");
    return 0;
}

static const char *const s_known[] = {
    "malformed", "too_big", "auth",   "denied", "no_consent", "invalid",        "exists",
    "not_found", "version", "config", "replay", "internal",   "unknown_command"};

static void s_check(const char *reply, size_t len)
{
    const json_t *err;
    const char *code;
    json_t *r;
    size_t i;
    int known = 0;

    if (len < 2 || reply[len - 1] != '\n' || memchr(reply, '\n', len - 1) != NULL ||
        strlen(reply) != len)
        abort();
    r = json_loadb(reply, len - 1, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(r) || json_integer_value(json_object_get(r, "v")) != 1 ||
        !json_is_boolean(json_object_get(r, "ok")))
        abort();
    if (json_is_false(json_object_get(r, "ok"))) {
        err = json_object_get(r, "error");
        code = json_string_value(json_object_get(err, "code"));
        if (code == NULL || !json_is_string(json_object_get(err, "message")) ||
            json_object_size(r) != 3)
            abort();
        for (i = 0; i < sizeof(s_known) / sizeof(s_known[0]); i++)
            known |= strcmp(code, s_known[i]) == 0;
        if (!known)
            abort();
    }
    json_decref(r);
}

static kt_control_t *s_server(void)
{
    static kt_control_t *c;
    static uid_t ops[] = {1000};
    static gid_t auds[] = {2000};
    kt_control_opts_t o = {.operators = {ops, 1, NULL, 0},
                           .auditors = {NULL, 0, auds, 1},
                           .socket_group = (gid_t)-1,
                           .flags = KT_CONTROL_NO_IMPLICIT_ROLES};

    if (c != NULL)
        return c;
    kt_log_init("fuzz_control_request", 1, 0);
    if (kt_control_new(&c, &o, NULL) != 0 ||
        kt_control_register(c, "submit", KT_ROLE_OPERATOR, s_args, NULL) != 0 ||
        kt_control_register(c, "audit", KT_ROLE_AUDITOR, s_args, NULL) != 0 ||
        kt_control_register(c, "status", KT_ROLE_OPERATOR | KT_ROLE_AUDITOR, s_args, NULL) != 0 ||
        kt_control_register(c, "show", KT_ROLE_ANY, s_args, NULL) != 0)
        abort();
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const kt_ctl_caller_t callers[] = {{1000, 100, 1, 0}, {1001, 2000, 2, 0}, {1002, 100, 3, 0}};
    kt_control_t *c = s_server();
    size_t i;

    for (i = 0; i < sizeof(callers) / sizeof(callers[0]); i++) {
        char *reply = NULL;
        size_t len = 0;

        if (kt_control_process_line(c, &callers[i], (const char *)data, size, &reply, &len) != 0)
            abort(); /* only out of memory may fail, and the fuzzer does not inject that */
        s_check(reply, len);
        free(reply);
    }
    return 0;
}
