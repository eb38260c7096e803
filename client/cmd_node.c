/*
 * cmd_node.c - reading a running node: status, partners, outbox, inbox,
 * show.
 *
 * Each command sends one request and prints the reply as a table, or as JSON
 * with --json. Must never print a record's field values except in `show`,
 * whose purpose that is.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ctl.h"
#include "ketenctl.h"

struct s_args {
    kt_ctl_opts_t o;
    const char *state; /* outbox --state */
    const char *id;    /* show ID */
};

/* Parses the common options plus --state (outbox) or one id (show). */
static int s_parse(const char *cmd, const char *usage, int argc, char **argv, struct s_args *a)
{
    int i, r;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s %s\n", kt_progname, usage);
            return 1;
        }
        if ((r = kt_ctl_opt(&a->o, argc, argv, &i)) < 0)
            return -1;
        if (r == 1)
            continue;
        if (strcmp(cmd, "outbox") == 0 && strcmp(argv[i], "--state") == 0 && i + 1 < argc)
            a->state = argv[++i];
        else if (strcmp(cmd, "show") == 0 && a->id == NULL && argv[i][0] != '-')
            a->id = argv[i];
        else {
            kt_err("%s: unexpected argument '%s'", cmd, argv[i]);
            fprintf(stderr, "usage: %s %s\n", kt_progname, usage);
            return -1;
        }
    }
    if (strcmp(cmd, "show") == 0 && a->id == NULL) {
        fprintf(stderr, "usage: %s %s\n", kt_progname, usage);
        return -1;
    }
    return 0;
}

/* Unix seconds in the rows' time fields become ISO 8601 UTC for tables. */
static void s_iso_times(json_t *rows, const char *const *keys)
{
    size_t i, k;

    for (i = 0; i < json_array_size(rows); i++) {
        json_t *row = json_array_get(rows, i);

        for (k = 0; keys[k] != NULL; k++) {
            json_t *v = json_object_get(row, keys[k]);
            char buf[32];
            time_t t;
            struct tm tm;

            if (!json_is_integer(v))
                continue;
            t = (time_t)json_integer_value(v);
            if (gmtime_r(&t, &tm) == NULL)
                continue;
            strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
            json_object_set_new(row, keys[k], json_string(buf));
        }
    }
}

/* Runs one request; on success prints the reply as JSON (--json) or hands
 * it to print. */
static int s_run(struct s_args *a, json_t *req, void (*print)(json_t *reply))
{
    json_t *reply = NULL;
    int rc;

    if (req == NULL) {
        kt_err("out of memory");
        return KT_EXIT_ERR;
    }
    rc = kt_ctl_run(&a->o, req, &reply);
    if (rc == KT_EXIT_OK) {
        if (a->o.json)
            kt_ctl_print_json(stdout, reply);
        else
            print(reply);
    }
    json_decref(reply);
    json_decref(req);
    return rc;
}

static void s_print_partners(json_t *reply)
{
    static const char *const keys[] = {"id",       "role",        "connected", "last_seen",
                                       "endpoint", "fingerprint", NULL};
    static const char *const heads[] = {"PARTNER",  "ROLE",        "CONNECTED", "LAST SEEN",
                                        "ENDPOINT", "FINGERPRINT", NULL};
    static const char *const times[] = {"last_seen", NULL};
    json_t *rows = json_object_get(reply, "partners");

    s_iso_times(rows, times);
    kt_ctl_print_table(stdout, rows, keys, heads);
}

static void s_print_status(json_t *reply)
{
    json_t *node = json_object_get(reply, "node"), *out = json_object_get(reply, "outbox");
    json_t *in = json_object_get(reply, "inbox");

    printf("node:    %s (%s), fingerprint %s\n", json_string_value(json_object_get(node, "id")),
           json_string_value(json_object_get(node, "role")),
           json_string_value(json_object_get(node, "fingerprint")));
    printf("listen:  %s\n", json_string_value(json_object_get(node, "listen")));
    printf("outbox:  %lld held, %lld queued, %lld sent, %lld delivered, %lld rejected\n",
           (long long)json_integer_value(json_object_get(out, "held")),
           (long long)json_integer_value(json_object_get(out, "queued")),
           (long long)json_integer_value(json_object_get(out, "sent")),
           (long long)json_integer_value(json_object_get(out, "delivered")),
           (long long)json_integer_value(json_object_get(out, "rejected")));
    printf("inbox:   %lld accepted\n\n",
           (long long)json_integer_value(json_object_get(in, "accepted")));
    s_print_partners(reply);
}

static void s_print_outbox_rows(json_t *rows)
{
    static const char *const keys[] = {"id",       "partner", "type",    "state",
                                       "attempts", "reason",  "updated", NULL};
    static const char *const heads[] = {"ID",       "PARTNER", "TYPE",    "STATE",
                                        "ATTEMPTS", "REASON",  "UPDATED", NULL};
    static const char *const times[] = {"updated", NULL};

    s_iso_times(rows, times);
    kt_ctl_print_table(stdout, rows, keys, heads);
}

static void s_print_inbox_rows(json_t *rows)
{
    static const char *const keys[] = {"id", "sender", "type", "state", "received", NULL};
    static const char *const heads[] = {"ID", "SENDER", "TYPE", "STATE", "RECEIVED", NULL};
    static const char *const times[] = {"received", NULL};

    s_iso_times(rows, times);
    kt_ctl_print_table(stdout, rows, keys, heads);
}

static void s_print_outbox(json_t *reply)
{
    s_print_outbox_rows(json_object_get(reply, "outbox"));
}

static void s_print_inbox(json_t *reply)
{
    s_print_inbox_rows(json_object_get(reply, "inbox"));
}

static void s_print_show(json_t *reply)
{
    json_t *rec = json_object_get(reply, "record"), *fields = json_object_get(rec, "fields");
    json_t *err = json_object_get(reply, "record_error");
    const char *key;
    json_t *v;

    printf("record %s\n", json_string_value(json_object_get(reply, "id")));
    if (json_array_size(json_object_get(reply, "outbox")) > 0) {
        printf("\nsent to:\n");
        s_print_outbox_rows(json_object_get(reply, "outbox"));
    }
    if (json_array_size(json_object_get(reply, "inbox")) > 0) {
        printf("\nreceived from:\n");
        s_print_inbox_rows(json_object_get(reply, "inbox"));
    }
    if (err != NULL) {
        printf("\ncontents unavailable: %s\n", json_string_value(err));
        return;
    }
    printf("\n%s:\n", json_string_value(json_object_get(rec, "type")));
    json_object_foreach(fields, key, v)
    {
        if (json_is_string(v))
            printf("  %-26s %s\n", key, json_string_value(v));
        else if (json_is_integer(v))
            printf("  %-26s %lld\n", key, (long long)json_integer_value(v));
        else
            printf("  %-26s %s\n", key, json_is_true(v) ? "true" : "false");
    }
}

int cmd_status(int argc, char **argv)
{
    struct s_args a = {0};
    int r = s_parse("status", "status [-s PATH] [--json]", argc, argv, &a);

    if (r != 0)
        return r > 0 ? KT_EXIT_OK : KT_EXIT_USAGE;
    return s_run(&a, json_pack("{s:s}", "cmd", "status"), s_print_status);
}

int cmd_partners(int argc, char **argv)
{
    struct s_args a = {0};
    int r = s_parse("partners", "partners [-s PATH] [--json]", argc, argv, &a);

    if (r != 0)
        return r > 0 ? KT_EXIT_OK : KT_EXIT_USAGE;
    return s_run(&a, json_pack("{s:s}", "cmd", "partners"), s_print_partners);
}

int cmd_outbox(int argc, char **argv)
{
    struct s_args a = {0};
    int r =
        s_parse("outbox", "outbox [-s PATH] [--state held|queued|sent|delivered|rejected] [--json]",
                argc, argv, &a);

    if (r != 0)
        return r > 0 ? KT_EXIT_OK : KT_EXIT_USAGE;
    if (a.state != NULL)
        return s_run(&a, json_pack("{s:s,s:s}", "cmd", "outbox", "state", a.state), s_print_outbox);
    return s_run(&a, json_pack("{s:s}", "cmd", "outbox"), s_print_outbox);
}

int cmd_inbox(int argc, char **argv)
{
    struct s_args a = {0};
    int r = s_parse("inbox", "inbox [-s PATH] [--json]", argc, argv, &a);

    if (r != 0)
        return r > 0 ? KT_EXIT_OK : KT_EXIT_USAGE;
    return s_run(&a, json_pack("{s:s}", "cmd", "inbox"), s_print_inbox);
}

int cmd_show(int argc, char **argv)
{
    struct s_args a = {0};
    int r = s_parse("show", "show [-s PATH] [--json] ID", argc, argv, &a);

    if (r != 0)
        return r > 0 ? KT_EXIT_OK : KT_EXIT_USAGE;
    return s_run(&a, json_pack("{s:s,s:s}", "cmd", "show", "id", a.id), s_print_show);
}
