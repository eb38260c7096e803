/*
 * cmd_reconcile.c - `ketenctl reconcile counts|lists|show|list`: compare a
 * registry with a partner's, by count vectors or privately by list
 * (docs/reconcile.md).
 *
 * counts and lists start a session at the node and wait (bounded by
 * --wait) for the partner's node to answer, then print the outcome. The
 * only pupil data printed is, for a membership comparison, the leerling_ids
 * of our own pupils the partner lacks — ours to begin with.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ctl.h"
#include "ketenctl.h"

#define S_COUNTS_USAGE                                                                             \
    "reconcile counts --with PARTNER --list NAME --definition D --period P [--by B] "              \
    "[--scope S] [--wait SECONDS] [--json] [-s SOCK]"
#define S_LISTS_USAGE                                                                              \
    "reconcile lists --with PARTNER --list NAME [--mode cardinality|membership] "                  \
    "[--wait SECONDS] [--json] [-s SOCK]"
#define S_SHOW_USAGE "reconcile show ID [--json] [-s SOCK]"
#define S_LIST_USAGE "reconcile list [--json] [-s SOCK]"
#define S_WAIT_DEFAULT_S 30
#define S_POLL_MS 100

static int s_usage(const char *usage, const char *what, const char *arg)
{
    if (what != NULL)
        kt_err("%s%s", what, arg);
    fprintf(stderr, "usage: %s %s\n", kt_progname, usage);
    return KT_EXIT_USAGE;
}

static const char *s_str(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));

    return v != NULL ? v : "-";
}

static void s_num(char *out, size_t cap, const json_t *v)
{
    if (json_is_integer(v))
        snprintf(out, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_string(v))
        snprintf(out, cap, "%s", json_string_value(v));
    else
        snprintf(out, cap, "-");
}

static void s_print_counts(const json_t *rep)
{
    const json_t *k = json_object_get(rep, "key"), *rows = json_object_get(rep, "buckets");
    char a[24], b[24], c[24];
    size_t i;

    printf("counts of list %s with %s: %s, definitie %s, scope %s, period %s, by %s\n",
           s_str(rep, "list"), s_str(rep, "partner"), s_str(k, "eenheid"), s_str(k, "definitie"),
           s_str(k, "scope"), s_str(k, "period"), s_str(k, "by"));
    printf("%-28s %10s %10s %8s\n", "BUCKET", "OURS", "THEIRS", "DIFF");
    for (i = 0; i < json_array_size(rows); i++) {
        const json_t *r = json_array_get(rows, i);

        s_num(a, sizeof(a), json_object_get(r, "ours"));
        s_num(b, sizeof(b), json_object_get(r, "theirs"));
        s_num(c, sizeof(c), json_object_get(r, "diff"));
        printf("%-28s %10s %10s %8s\n", s_str(r, "bucket"), a, b, c);
    }
    printf("%lld of %zu buckets differ\n",
           (long long)json_integer_value(json_object_get(rep, "differ")), json_array_size(rows));
}

static void s_print_lists(const json_t *rep)
{
    const json_t *missing = json_object_get(rep, "missing_at_partner");
    json_int_t own = json_integer_value(json_object_get(rep, "only_ours"));
    size_t i;

    printf("list %s with %s (%s): ours %lld, theirs %lld, on both %lld\n", s_str(rep, "list"),
           s_str(rep, "partner"), s_str(rep, "mode"),
           (long long)json_integer_value(json_object_get(rep, "ours")),
           (long long)json_integer_value(json_object_get(rep, "theirs")),
           (long long)json_integer_value(json_object_get(rep, "both")));
    printf("%lld of ours are not on %s's list; %lld of theirs are not on ours\n", (long long)own,
           s_str(rep, "partner"),
           (long long)json_integer_value(json_object_get(rep, "only_theirs")));
    if (json_is_array(missing) && json_array_size(missing) > 0) {
        printf("ours that %s lacks:\n", s_str(rep, "partner"));
        for (i = 0; i < json_array_size(missing); i++)
            printf("  %s\n", json_string_value(json_array_get(missing, i)));
    }
}

/* Prints a session's outcome; the exit code says whether it is done. */
static int s_print(const kt_ctl_opts_t *o, const json_t *rep)
{
    const char *state = s_str(rep, "state");

    if (o->json) {
        kt_ctl_print_json(stdout, rep);
    } else if (strcmp(state, "done") != 0) {
        printf("reconciliation %s with %s: %s%s%s\n", s_str(rep, "id"), s_str(rep, "partner"),
               state, json_is_string(json_object_get(rep, "reason")) ? ": " : "",
               json_is_string(json_object_get(rep, "reason")) ? s_str(rep, "reason") : "");
    } else if (strcmp(s_str(rep, "kind"), "counts") == 0) {
        s_print_counts(rep);
    } else {
        s_print_lists(rep);
    }
    return strcmp(state, "done") == 0 ? KT_EXIT_OK : KT_EXIT_ERR;
}

static int s_show_id(const kt_ctl_opts_t *o, const char *id, json_t **reply)
{
    json_t *req = json_pack("{s:s, s:s}", "cmd", "reconcile-show", "id", id);
    int rc;

    if (req == NULL) {
        kt_err("out of memory");
        return KT_EXIT_ERR;
    }
    rc = kt_ctl_run(o, req, reply);
    json_decref(req);
    return rc;
}

/* Starts the session in req, then waits for its outcome. */
static int s_start_and_wait(const kt_ctl_opts_t *o, json_t *req, long wait_s)
{
    json_t *reply = NULL;
    char id[33];
    struct timespec nap = {0, S_POLL_MS * 1000000L};
    long waited_ms = 0;
    int rc;

    if (req == NULL) {
        kt_err("out of memory");
        return KT_EXIT_ERR;
    }
    rc = kt_ctl_run(o, req, &reply);
    json_decref(req);
    if (rc != KT_EXIT_OK)
        return rc;
    snprintf(id, sizeof(id), "%s", s_str(reply, "id"));
    for (;;) {
        json_decref(reply);
        reply = NULL;
        if ((rc = s_show_id(o, id, &reply)) != KT_EXIT_OK)
            return rc;
        if (strcmp(s_str(reply, "state"), "open") != 0 || waited_ms >= wait_s * 1000)
            break;
        nanosleep(&nap, NULL);
        waited_ms += S_POLL_MS;
    }
    if (strcmp(s_str(reply, "state"), "open") == 0 && !o->json) {
        kt_err("reconciliation %s: no answer from %s within %ld s; it stays open for a while: "
               "ketenctl reconcile show %s",
               id, s_str(reply, "partner"), wait_s, id);
        json_decref(reply);
        return KT_EXIT_ERR;
    }
    rc = s_print(o, reply);
    json_decref(reply);
    return rc;
}

struct s_args {
    kt_ctl_opts_t o;
    const char *with, *list, *definition, *period, *by, *scope, *mode, *wait, *id;
};

/* allow: bit k lets names[k] through; positional: one ID is taken. */
static int s_parse(const char *usage, unsigned allow, int positional, int argc, char **argv,
                   struct s_args *a)
{
    static const char *const names[] = {"--with", "--list",  "--definition", "--period",
                                        "--by",   "--scope", "--mode",       "--wait"};
    const char **slots[] = {&a->with, &a->list,  &a->definition, &a->period,
                            &a->by,   &a->scope, &a->mode,       &a->wait};
    size_t k;
    int i, r;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s %s\n\nSee docs/reconcile.md.\n", kt_progname, usage);
            return 1;
        }
        if ((r = kt_ctl_opt(&a->o, argc, argv, &i)) < 0)
            return -1;
        if (r == 1)
            continue;
        for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
            if (strcmp(argv[i], names[k]) == 0)
                break;
        if (k < sizeof(names) / sizeof(names[0]) && (allow & (1u << k))) {
            if (i + 1 >= argc) {
                kt_err("reconcile: a value is needed after %s", argv[i]);
                return -1;
            }
            *slots[k] = argv[++i];
            continue;
        }
        if (positional && a->id == NULL && argv[i][0] != '-') {
            a->id = argv[i];
            continue;
        }
        kt_err("reconcile: unexpected argument %s", argv[i]);
        return -1;
    }
    return 0;
}

static long s_wait(const char *w)
{
    char *end;
    long v;

    if (w == NULL)
        return S_WAIT_DEFAULT_S;
    v = strtol(w, &end, 10);
    return *end == '\0' && v >= 0 && v <= 3600 ? v : -1;
}

int cmd_reconcile_counts(int argc, char **argv)
{
    struct s_args a;
    json_t *req;
    long wait;
    int r;

    memset(&a, 0, sizeof(a));
    if ((r = s_parse(S_COUNTS_USAGE, 0xbf, 0, argc, argv, &a)) != 0)
        return r > 0 ? KT_EXIT_OK : s_usage(S_COUNTS_USAGE, NULL, NULL);
    if (a.with == NULL || a.list == NULL || a.definition == NULL || a.period == NULL)
        return s_usage(S_COUNTS_USAGE,
                       "reconcile counts: --with, --list, --definition and --period are required",
                       "");
    if ((wait = s_wait(a.wait)) < 0)
        return s_usage(S_COUNTS_USAGE, "reconcile counts: --wait is 0 to 3600 seconds, not ",
                       a.wait);
    req = json_pack("{s:s, s:s, s:s, s:s, s:s}", "cmd", "reconcile-counts", "with", a.with, "list",
                    a.list, "definition", a.definition, "period", a.period);
    if (req != NULL && a.by != NULL)
        json_object_set_new(req, "by", json_string(a.by));
    if (req != NULL && a.scope != NULL)
        json_object_set_new(req, "scope", json_string(a.scope));
    return s_start_and_wait(&a.o, req, wait);
}

int cmd_reconcile_lists(int argc, char **argv)
{
    struct s_args a;
    json_t *req;
    long wait;
    int r;

    memset(&a, 0, sizeof(a));
    if ((r = s_parse(S_LISTS_USAGE, 0xc3, 0, argc, argv, &a)) != 0)
        return r > 0 ? KT_EXIT_OK : s_usage(S_LISTS_USAGE, NULL, NULL);
    if (a.with == NULL || a.list == NULL)
        return s_usage(S_LISTS_USAGE, "reconcile lists: --with and --list are required", "");
    if ((wait = s_wait(a.wait)) < 0)
        return s_usage(S_LISTS_USAGE, "reconcile lists: --wait is 0 to 3600 seconds, not ", a.wait);
    req = json_pack("{s:s, s:s, s:s}", "cmd", "reconcile-lists", "with", a.with, "list", a.list);
    if (req != NULL && a.mode != NULL)
        json_object_set_new(req, "mode", json_string(a.mode));
    return s_start_and_wait(&a.o, req, wait);
}

int cmd_reconcile_show(int argc, char **argv)
{
    struct s_args a;
    json_t *reply = NULL;
    int r, rc;

    memset(&a, 0, sizeof(a));
    if ((r = s_parse(S_SHOW_USAGE, 0, 1, argc, argv, &a)) != 0)
        return r > 0 ? KT_EXIT_OK : s_usage(S_SHOW_USAGE, NULL, NULL);
    if (a.id == NULL)
        return s_usage(S_SHOW_USAGE, "reconcile show: the session ID is required", "");
    if ((rc = s_show_id(&a.o, a.id, &reply)) != KT_EXIT_OK)
        return rc;
    rc = s_print(&a.o, reply);
    json_decref(reply);
    return rc;
}

int cmd_reconcile_list(int argc, char **argv)
{
    static const char *const keys[] = {"id",    "partner", "kind",   "role", "list",
                                       "state", "created", "reason", NULL};
    static const char *const heads[] = {"ID",    "PARTNER", "KIND",   "ROLE", "LIST",
                                        "STATE", "CREATED", "REASON", NULL};
    struct s_args a;
    json_t *req, *reply = NULL;
    int r, rc;

    memset(&a, 0, sizeof(a));
    if ((r = s_parse(S_LIST_USAGE, 0, 0, argc, argv, &a)) != 0)
        return r > 0 ? KT_EXIT_OK : s_usage(S_LIST_USAGE, NULL, NULL);
    if ((req = json_pack("{s:s}", "cmd", "reconcile-list")) == NULL) {
        kt_err("out of memory");
        return KT_EXIT_ERR;
    }
    rc = kt_ctl_run(&a.o, req, &reply);
    json_decref(req);
    if (rc == KT_EXIT_OK) {
        if (a.o.json)
            kt_ctl_print_json(stdout, reply);
        else
            kt_ctl_print_table(stdout, json_object_get(reply, "sessions"), keys, heads);
    }
    json_decref(reply);
    return rc;
}
