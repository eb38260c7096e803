/*
 * cmd_signals.c - ketenctl signals and signals submit: the pupils the
 * signal rules select on a date, what each would become and where it may
 * go; and handing them to the node's exchange.
 *
 * Tables show the school's own pupil number, the rule, the evidence (numbers
 * only), the record's key fields, the partners and the consent state. Must
 * never print a BSN (the daemon never returns one) nor attendance rows.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"
#include "ketenctl.h"

#define S_LIST_USAGE "signals [-s PATH] [--json] [--date YYYY-MM-DD]"
#define S_SUBMIT_USAGE "signals submit [-s PATH] [--json] [--date YYYY-MM-DD]"

static int s_parse(int argc, char **argv, const char *usage, kt_ctl_opts_t *o, const char **date)
{
    int i, r;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s %s\n", kt_progname, usage);
            return 1;
        }
        if ((r = kt_ctl_opt(o, argc, argv, &i)) < 0)
            return -1;
        if (r == 1)
            continue;
        if (strcmp(argv[i], "--date") == 0 && i + 1 < argc) {
            *date = argv[++i];
            continue;
        }
        kt_err("unexpected argument '%s'", argv[i]);
        fprintf(stderr, "usage: %s %s\n", kt_progname, usage);
        return -1;
    }
    return 0;
}

/* "k=v k=v" of an object of numbers and strings into buf. */
static void s_join(char *buf, size_t len, json_t *obj, const char *sep)
{
    const char *k;
    json_t *v;
    size_t used = 0;

    buf[0] = '\0';
    json_object_foreach(obj, k, v)
    {
        char val[64];

        if (json_is_integer(v))
            snprintf(val, sizeof(val), "%lld", (long long)json_integer_value(v));
        else if (json_is_string(v))
            snprintf(val, sizeof(val), "%s", json_string_value(v));
        else
            continue;
        used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%s=%s",
                                 used ? sep : "", k, val);
        if (used >= len)
            break;
    }
}

static void s_print(json_t *reply)
{
    json_t *rows = json_object_get(reply, "candidates"), *c;
    size_t i;

    printf("signals on %s: %zu candidate(s)\n", json_string_value(json_object_get(reply, "date")),
           json_array_size(rows));
    json_array_foreach(rows, i, c)
    {
        char ev[256], rec[512], parts[512] = "";
        json_t *p, *r = json_object_get(c, "record");
        size_t j, used = 0;

        s_join(ev, sizeof(ev), json_object_get(c, "evidence"), " ");
        s_join(rec, sizeof(rec), json_object_get(r, "fields"), " ");
        json_array_foreach(json_object_get(c, "partners"), j, p)
        {
            used += (size_t)snprintf(parts + used, used < sizeof(parts) ? sizeof(parts) - used : 0,
                                     "%s%s: %s", used ? "; " : "",
                                     json_string_value(json_object_get(p, "partner")),
                                     json_string_value(json_object_get(p, "state")));
            if (used >= sizeof(parts))
                break;
        }
        printf("\npupil %s  %s (%s%s)\n", json_string_value(json_object_get(c, "pupil")),
               json_string_value(json_object_get(c, "rule")),
               json_string_value(json_object_get(c, "status")),
               json_is_true(json_object_get(c, "submitted")) ? ", submitted" : "");
        printf("  evidence  %s\n", ev[0] ? ev : "-");
        printf("  record    %s: %s\n", json_string_value(json_object_get(r, "type")), rec);
        printf("  partners  %s\n", parts[0] ? parts : "(none: no policy sends this type)");
        printf("  state     %s\n", json_string_value(json_object_get(c, "state")));
    }
}

static void s_print_submit(json_t *reply)
{
    json_t *rows = json_object_get(reply, "submitted"), *c, *p;
    size_t i, j;

    json_array_foreach(rows, i, c)
    {
        printf("%s  pupil %s  %s %s (%s):", json_string_value(json_object_get(c, "id")),
               json_string_value(json_object_get(c, "pupil")),
               json_string_value(json_object_get(c, "type")),
               json_string_value(json_object_get(c, "rule")),
               json_string_value(json_object_get(c, "status")));
        json_array_foreach(json_object_get(c, "copies"), j, p)
            printf(" %s %s", json_string_value(json_object_get(p, "partner")),
                   json_string_value(json_object_get(p, "state")));
        printf("\n");
    }
    printf("%zu submitted, %lld skipped (already submitted, or no policy allows them)\n",
           json_array_size(rows), (long long)json_integer_value(json_object_get(reply, "skipped")));
}

static int s_run(int argc, char **argv, const char *usage, const char *cmd, void (*print)(json_t *))
{
    kt_ctl_opts_t o = {0};
    const char *date = NULL;
    json_t *req, *reply = NULL;
    int r, rc;

    if ((r = s_parse(argc, argv, usage, &o, &date)) != 0)
        return r > 0 ? KT_EXIT_OK : KT_EXIT_USAGE;
    req = date ? json_pack("{s:s, s:s}", "cmd", cmd, "date", date) : json_pack("{s:s}", "cmd", cmd);
    if (req == NULL) {
        kt_err("out of memory");
        return KT_EXIT_ERR;
    }
    rc = kt_ctl_run(&o, req, &reply);
    if (rc == KT_EXIT_OK) {
        if (o.json)
            kt_ctl_print_json(stdout, reply);
        else
            print(reply);
    }
    json_decref(reply);
    json_decref(req);
    return rc;
}

int cmd_signals(int argc, char **argv)
{
    return s_run(argc, argv, S_LIST_USAGE, "signals", s_print);
}

int cmd_signals_submit(int argc, char **argv)
{
    return s_run(argc, argv, S_SUBMIT_USAGE, "signals-submit", s_print_submit);
}
