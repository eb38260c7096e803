/*
 * cmd_submit.c - `ketenctl submit --to PARTNER ... FILE|-`.
 *
 * Validates every record here first (so the operator sees the line and the
 * field of a mistake before anything is sent), then hands the canonical
 * records to ketend, which answers only once they are committed. Must never
 * print a record's field values: ids only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"
#include "ketenctl.h"

struct s_batch {
    json_t *records; /* base64 strings */
};

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: %s submit [-s PATH] [--to PARTNER ...] FILE|-\n\n"
            "Hands JSON records (one object, or JSON Lines) to ketend. Without --to, each\n"
            "record goes to every partner whose policy has a send rule for its type; with\n"
            "--to, to the partners named. Per recipient the policy strips the fields it\n"
            "does not allow and holds records that need consent until it is given.\n"
            "Returns once everything is committed durably and prints one record id per\n"
            "record; what happened per recipient goes to standard error. Nothing is\n"
            "submitted if any record is invalid or refused.\n",
            kt_progname);
}

static int s_add(void *ctx, size_t recno, kt_record_t **rec)
{
    struct s_batch *b = ctx;
    uint8_t *bytes = NULL;
    size_t len = 0, b64len;
    char *b64 = NULL;
    kt_diag_t d = {{0}};
    int rc;

    (void)recno;
    rc = kt_record_encode(*rec, &bytes, &len, &d);
    kt_record_destroy(rec);
    if (rc != 0)
        return rc;
    b64len = 4 * ((len + 2) / 3) + 1;
    if ((b64 = malloc(b64len)) == NULL) {
        kt_record_free_bytes(bytes, len);
        return KT_ENOMEM;
    }
    kt_ctl_base64(b64, b64len, bytes, len);
    kt_record_free_bytes(bytes, len);
    rc = json_array_append_new(b->records, json_string(b64)) == 0 ? 0 : KT_ENOMEM;
    explicit_bzero(b64, b64len);
    free(b64);
    return rc;
}

static int s_read(const char *path, struct s_batch *b)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    const char *name = f == stdin ? "(stdin)" : path;
    kt_diag_t d = {{0}};
    int rc;

    if (f == NULL) {
        kt_err("%s: cannot open: %s", path, strerror(errno));
        return KT_EIO;
    }
    rc = kt_json_read_records(f, name, s_add, b, &d);
    if (f != stdin)
        fclose(f);
    if (rc != 0)
        kt_err("%s", d.msg);
    else if (json_array_size(b->records) == 0) {
        kt_err("%s: no records", name);
        rc = KT_EINVAL;
    }
    return rc;
}

/* Per recipient, on stderr so stdout stays one id per record. */
static void s_print_copies(const json_t *copies)
{
    size_t i;

    for (i = 0; i < json_array_size(copies); i++) {
        const json_t *c = json_array_get(copies, i);
        const char *id = json_string_value(json_object_get(c, "id"));
        const char *partner = json_string_value(json_object_get(c, "partner"));
        const char *state = json_string_value(json_object_get(c, "state"));
        const char *stripped = json_string_value(json_object_get(c, "stripped"));

        if (id == NULL || partner == NULL || state == NULL)
            continue; /* an older or newer ketend: the ids on stdout still hold */
        fprintf(stderr, "%s: record %s to %s: %s%s%s%s\n", kt_progname, id, partner, state,
                strcmp(state, "held") == 0 ? " until consent is given" : "",
                stripped && stripped[0] ? "; not sent, the policy does not allow: " : "",
                stripped && stripped[0] ? stripped : "");
    }
}

int cmd_submit(int argc, char **argv)
{
    kt_ctl_opts_t o = {0};
    struct s_batch b = {json_array()};
    json_t *to = json_array(), *req = NULL, *reply = NULL, *ids;
    const char *file = NULL;
    int i, r, rc = KT_EXIT_USAGE;
    size_t k;

    if (b.records == NULL || to == NULL) {
        kt_err("out of memory");
        rc = KT_EXIT_ERR;
        goto out;
    }
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            s_usage(stdout);
            rc = KT_EXIT_OK;
            goto out;
        }
        if ((r = kt_ctl_opt(&o, argc, argv, &i)) < 0)
            goto out;
        if (r == 1)
            continue;
        if (strcmp(argv[i], "--to") == 0 && i + 1 < argc) {
            json_array_append_new(to, json_string(argv[++i]));
        } else if (argv[i][0] == '-' && strcmp(argv[i], "-") != 0) {
            kt_err("submit: unknown option '%s'", argv[i]);
            goto out;
        } else if (file == NULL) {
            file = argv[i];
        } else {
            kt_err("submit: one input file only");
            goto out;
        }
    }
    if (file == NULL) {
        s_usage(stderr);
        goto out;
    }
    rc = KT_EXIT_ERR;
    if (s_read(file, &b) != 0)
        goto out;
    if (json_array_size(to) > 0)
        req = json_pack("{s:s,s:O,s:O}", "cmd", "submit", "to", to, "records", b.records);
    else
        req = json_pack("{s:s,s:O}", "cmd", "submit", "records", b.records);
    if (req == NULL || kt_ctl_run(&o, req, &reply) != KT_EXIT_OK)
        goto out;
    ids = json_object_get(reply, "ids");
    for (k = 0; k < json_array_size(ids); k++)
        printf("%s\n", json_string_value(json_array_get(ids, k)));
    s_print_copies(json_object_get(reply, "copies"));
    rc = KT_EXIT_OK;
out:
    json_decref(reply);
    json_decref(req);
    json_decref(to);
    json_decref(b.records);
    return rc;
}
