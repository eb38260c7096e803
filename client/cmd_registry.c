/*
 * cmd_registry.c - ketenctl registry import and registry list: hands a list
 * of pupils (CSV, docs/reconcile.md) to the running node and shows which
 * lists it holds.
 *
 * Reads the file whole (at most KT_REGISTRY_CSV_MAX_BYTES) and sends it as
 * one request; ketend checks every cell and replaces the list whole or not
 * at all. Must never print a cell of the file: errors name line and column,
 * and the list overview shows names, sizes and dates only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ctl.h"
#include "keten/registry.h"
#include "ketenctl.h"

#define S_IMPORT_USAGE                                                                             \
    "registry import --list NAME [--retention-days N] [--date YYYY-MM-DD] [-s PATH] [--json] "     \
    "FILE.csv|-"
#define S_LIST_USAGE "registry list [-s PATH] [--json]"

static int s_read(const char *path, char **out, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
    char *buf;
    size_t n;

    if (f == NULL) {
        kt_err("%s: cannot open", path);
        return -1;
    }
    if ((buf = malloc(KT_REGISTRY_CSV_MAX_BYTES + 1)) == NULL) {
        kt_err("out of memory");
        if (f != stdin)
            fclose(f);
        return -1;
    }
    n = fread(buf, 1, KT_REGISTRY_CSV_MAX_BYTES + 1, f);
    if (ferror(f) || n > KT_REGISTRY_CSV_MAX_BYTES) {
        kt_err("%s: %s", path, ferror(f) ? "cannot read" : "larger than 768 KiB");
        explicit_bzero(buf, KT_REGISTRY_CSV_MAX_BYTES + 1);
        free(buf);
        if (f != stdin)
            fclose(f);
        return -1;
    }
    if (f != stdin)
        fclose(f);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static int s_usage(const char *usage)
{
    fprintf(stderr, "usage: %s %s\n", kt_progname, usage);
    return KT_EXIT_USAGE;
}

/* --opt VALUE or --opt=VALUE; 1 if argv[*i] is opt, -1 when its value is missing. */
static int s_valopt(const char *opt, int argc, char **argv, int *i, const char **val)
{
    size_t n = strlen(opt);

    if (strncmp(argv[*i], opt, n) == 0 && argv[*i][n] == '=') {
        *val = argv[*i] + n + 1;
        return 1;
    }
    if (strcmp(argv[*i], opt) != 0)
        return 0;
    if (*i + 1 >= argc) {
        kt_err("%s needs a value", opt);
        return -1;
    }
    *val = argv[++*i];
    return 1;
}

int cmd_registry_import(int argc, char **argv)
{
    kt_ctl_opts_t o = {0};
    const char *file = NULL, *list = NULL, *days = NULL, *date = NULL;
    json_t *req = NULL, *reply = NULL, *s;
    char *csv = NULL, *end = NULL;
    size_t len = 0;
    long nd = 0;
    int i, r, rc = KT_EXIT_ERR;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s %s\n\nImports a list of pupils (see docs/reconcile.md) under NAME, "
                   "replacing the list of that name whole, or on any error changing nothing.\n"
                   "The list is deleted %d days after the import unless --retention-days says "
                   "otherwise (at most %d).\n",
                   kt_progname, S_IMPORT_USAGE, KT_REGISTRY_RETENTION_DEFAULT,
                   KT_REGISTRY_RETENTION_MAX);
            return KT_EXIT_OK;
        }
        if ((r = kt_ctl_opt(&o, argc, argv, &i)) < 0)
            return KT_EXIT_USAGE;
        if (r == 1)
            continue;
        if ((r = s_valopt("--list", argc, argv, &i, &list)) != 0 ||
            (r = s_valopt("--retention-days", argc, argv, &i, &days)) != 0 ||
            (r = s_valopt("--date", argc, argv, &i, &date)) != 0) {
            if (r < 0)
                return s_usage(S_IMPORT_USAGE);
            continue;
        }
        if (file == NULL && (argv[i][0] != '-' || strcmp(argv[i], "-") == 0)) {
            file = argv[i];
            continue;
        }
        kt_err("registry import: unexpected argument '%s'", argv[i]);
        return s_usage(S_IMPORT_USAGE);
    }
    if (file == NULL || list == NULL)
        return s_usage(S_IMPORT_USAGE);
    if (!kt_registry_name_valid(list)) {
        kt_err("--list: a name of 1 to %d of a-z, 0-9, '_' and '-'", KT_REGISTRY_NAME_MAX);
        return KT_EXIT_USAGE;
    }
    if (days != NULL &&
        ((nd = strtol(days, &end, 10)) < 1 || nd > KT_REGISTRY_RETENTION_MAX || *end != '\0')) {
        kt_err("--retention-days: a whole number of days, 1 to %d", KT_REGISTRY_RETENTION_MAX);
        return KT_EXIT_USAGE;
    }
    if (s_read(file, &csv, &len) != 0)
        return KT_EXIT_ERR;
    if ((s = json_stringn(csv, len)) == NULL) {
        kt_err("%s: not UTF-8 text without NUL bytes", file);
        goto out;
    }
    req = json_pack("{s:s, s:s, s:o}", "cmd", "registry-import", "list", list, "csv", s);
    if (req == NULL ||
        (days != NULL && json_object_set_new(req, "retention_days", json_integer(nd)) != 0) ||
        (date != NULL && json_object_set_new(req, "date", json_string(date)) != 0)) {
        kt_err("out of memory");
        goto out;
    }
    rc = kt_ctl_run(&o, req, &reply);
    if (rc == KT_EXIT_OK) {
        json_t *l = json_object_get(reply, "list");

        if (o.json)
            kt_ctl_print_json(stdout, reply);
        else
            printf("%s list %s: %lld pupils, expires %s\n",
                   json_is_true(json_object_get(reply, "replaced")) ? "replaced" : "imported", list,
                   (long long)json_integer_value(json_object_get(l, "rows")),
                   json_string_value(json_object_get(l, "expires")));
    }
out:
    json_decref(reply);
    json_decref(req);
    explicit_bzero(csv, len);
    free(csv);
    return rc;
}

int cmd_registry_list(int argc, char **argv)
{
    static const char *const keys[] = {"name", "rows", "imported_at", "expires", "digest", NULL};
    static const char *const heads[] = {"LIST", "ROWS", "IMPORTED", "EXPIRES", "DIGEST", NULL};
    kt_ctl_opts_t o = {0};
    json_t *req, *reply = NULL, *lists, *row;
    size_t k;
    int i, r, rc;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s %s\n\nThe imported lists: name, pupils, when imported, when they "
                   "expire. Never the pupils.\n",
                   kt_progname, S_LIST_USAGE);
            return KT_EXIT_OK;
        }
        if ((r = kt_ctl_opt(&o, argc, argv, &i)) < 0)
            return KT_EXIT_USAGE;
        if (r == 0) {
            kt_err("registry list: unexpected argument '%s'", argv[i]);
            return s_usage(S_LIST_USAGE);
        }
    }
    if ((req = json_pack("{s:s}", "cmd", "registry-list")) == NULL) {
        kt_err("out of memory");
        return KT_EXIT_ERR;
    }
    rc = kt_ctl_run(&o, req, &reply);
    if (rc == KT_EXIT_OK && o.json) {
        kt_ctl_print_json(stdout, reply);
    } else if (rc == KT_EXIT_OK) {
        lists = json_object_get(reply, "lists");
        json_array_foreach(lists, k, row)
        {
            char when[32] = "-", dg[17];
            time_t t = (time_t)json_integer_value(json_object_get(row, "imported"));
            struct tm tm;
            const char *digest = json_string_value(json_object_get(row, "digest"));

            if (gmtime_r(&t, &tm) != NULL)
                strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
            snprintf(dg, sizeof(dg), "%s", digest ? digest : "");
            json_object_set_new(row, "imported_at", json_string(when));
            json_object_set_new(row, "digest", json_string(dg));
        }
        kt_ctl_print_table(stdout, lists, keys, heads);
    }
    json_decref(reply);
    json_decref(req);
    return rc;
}
