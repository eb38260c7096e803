/*
 * cmd_attendance.c - ketenctl attendance import: hands a school's
 * attendance export (CSV, docs/signals.md) to the running node.
 *
 * Reads the file whole (at most KT_SIGNAL_CSV_MAX_BYTES) and sends it as one
 * request; ketend checks every cell and imports all rows or none. Must never
 * print a cell of the file: errors name the line and the column.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"
#include "keten/signal.h"
#include "ketenctl.h"

#define S_USAGE "attendance import [-s PATH] [--json] FILE.csv|-"

static int s_read(const char *path, char **out, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
    char *buf;
    size_t n;

    if (f == NULL) {
        kt_err("%s: cannot open", path);
        return -1;
    }
    if ((buf = malloc(KT_SIGNAL_CSV_MAX_BYTES + 1)) == NULL) {
        kt_err("out of memory");
        if (f != stdin)
            fclose(f);
        return -1;
    }
    n = fread(buf, 1, KT_SIGNAL_CSV_MAX_BYTES + 1, f);
    if (ferror(f) || n > KT_SIGNAL_CSV_MAX_BYTES) {
        kt_err("%s: %s", path,
               ferror(f) ? "cannot read"
                         : "larger than 768 KiB; import it in parts (repeated rows replace)");
        explicit_bzero(buf, KT_SIGNAL_CSV_MAX_BYTES + 1);
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

int cmd_attendance_import(int argc, char **argv)
{
    kt_ctl_opts_t o = {0};
    const char *file = NULL;
    json_t *req = NULL, *reply = NULL, *s;
    char *csv = NULL;
    size_t len = 0;
    int i, r, rc = KT_EXIT_ERR;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s %s\n\nImports one attendance export (see docs/signals.md): all rows "
                   "or, on any error, none.\n",
                   kt_progname, S_USAGE);
            return KT_EXIT_OK;
        }
        if ((r = kt_ctl_opt(&o, argc, argv, &i)) < 0)
            return KT_EXIT_USAGE;
        if (r == 1)
            continue;
        if (file == NULL && (argv[i][0] != '-' || strcmp(argv[i], "-") == 0)) {
            file = argv[i];
            continue;
        }
        kt_err("attendance import: unexpected argument '%s'", argv[i]);
        fprintf(stderr, "usage: %s %s\n", kt_progname, S_USAGE);
        return KT_EXIT_USAGE;
    }
    if (file == NULL) {
        fprintf(stderr, "usage: %s %s\n", kt_progname, S_USAGE);
        return KT_EXIT_USAGE;
    }
    if (s_read(file, &csv, &len) != 0)
        return KT_EXIT_ERR;
    if ((s = json_stringn(csv, len)) == NULL) {
        kt_err("%s: not UTF-8 text without NUL bytes", file);
        goto out;
    }
    req = json_pack("{s:s, s:o}", "cmd", "attendance-import", "csv", s);
    if (req == NULL) {
        kt_err("out of memory");
        goto out;
    }
    rc = kt_ctl_run(&o, req, &reply);
    if (rc == KT_EXIT_OK) {
        if (o.json)
            kt_ctl_print_json(stdout, reply);
        else
            printf("imported %lld rows for %lld pupils\n",
                   (long long)json_integer_value(json_object_get(reply, "rows")),
                   (long long)json_integer_value(json_object_get(reply, "pupils")));
    }
out:
    json_decref(reply);
    json_decref(req);
    explicit_bzero(csv, len);
    free(csv);
    return rc;
}
