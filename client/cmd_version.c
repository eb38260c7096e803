/*
 * cmd_version.c - `ketenctl version [-s PATH] [--json]`: this ketenctl's
 * version and control protocol, and the running ketend's if it answers.
 *
 * A ketend that is not running is not an error here (the client's version is
 * still the answer); any other failure to reach it is. Must never need more
 * than the `version` command, which every caller may run.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "ketenctl.h"

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: %s version [-s PATH] [--json]\n\n"
            "Prints the version of ketenctl and, if it runs, of ketend with the control\n"
            "protocol each speaks. -s names the control socket (default $%s, else %s).\n",
            kt_progname, KT_CTL_ENV_SOCKET, KT_CONTROL_DEFAULT_PATH);
}

static int s_parse(kt_ctl_opts_t *o, int argc, char **argv)
{
    int i, r;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            s_usage(stdout);
            return 1;
        }
        if ((r = kt_ctl_opt(o, argc, argv, &i)) < 0)
            return -1;
        if (r == 0) {
            kt_err("version: unexpected argument '%s'", argv[i]);
            return -1;
        }
    }
    return 0;
}

static void s_print_text(const json_t *reply, const char *path)
{
    printf("ketenctl %s (control protocol %d)\n", KETEN_VERSION, KT_CONTROL_PROTOCOL);
    if (reply != NULL)
        printf("ketend   %s (control protocol %lld) at %s\n",
               json_string_value(json_object_get(reply, "version")),
               (long long)json_integer_value(json_object_get(reply, "protocol")), path);
    else
        printf("ketend   not running (no socket at %s)\n", path);
}

static int s_print_json(const json_t *reply)
{
    json_t *out = json_pack("{s:{s:s,s:i},s:O?}", "ketenctl", "version", KETEN_VERSION, "protocol",
                            KT_CONTROL_PROTOCOL, "ketend", NULL);
    json_t *k;

    if (out == NULL)
        return -1;
    if (reply != NULL) {
        k = json_pack("{s:O,s:O}", "version", json_object_get(reply, "version"), "protocol",
                      json_object_get(reply, "protocol"));
        if (k == NULL || json_object_set_new(out, "ketend", k) < 0) {
            json_decref(out);
            return -1;
        }
    }
    kt_ctl_print_json(stdout, out);
    json_decref(out);
    return 0;
}

int cmd_version(int argc, char **argv)
{
    kt_ctl_opts_t o = {0};
    kt_diag_t d = {{0}};
    json_t *req = NULL, *reply = NULL;
    int rc = KT_EXIT_ERR, r;

    if ((r = s_parse(&o, argc, argv)) != 0)
        return r > 0 ? KT_EXIT_OK : KT_EXIT_USAGE;
    if ((req = json_pack("{s:s}", "cmd", "version")) == NULL) {
        kt_err("out of memory");
        goto out;
    }
    r = kt_ctl_call(&o, req, &reply, &d);
    if (r < 0 && r != KT_ENOENT) {
        kt_err("%s", d.msg);
        goto out;
    }
    if (o.json) {
        if (s_print_json(reply) < 0) {
            kt_err("out of memory");
            goto out;
        }
    } else {
        s_print_text(reply, kt_ctl_socket_path(&o));
    }
    rc = KT_EXIT_OK;
out:
    json_decref(req);
    json_decref(reply);
    return rc;
}
