/*
 * cmd_subject.c - `ketenctl subject show` (an AVG art. 15 request answered
 * in one command) and `ketenctl record export` (a signed record a third
 * party can verify).
 *
 * subject show prints what the node holds about one pupil; --export writes
 * it to a file for the parents, created mode 0600 and complete or not at
 * all. Neither command prints or writes the leerling_id it was given.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl.h"
#include "ketenctl.h"

#define S_SHOW_USAGE                                                                               \
    "subject show --leerling ID [--export FILE [--format md|json]] [--json] [-s SOCK]"
#define S_EXPORT_USAGE "record export ID [--partner ID | --sender ID] [-o FILE] [-s SOCK]"

static int s_usage(const char *usage, const char *what, const char *arg)
{
    if (what != NULL)
        kt_err("%s%s", what, arg);
    fprintf(stderr, "usage: %s %s\n", kt_progname, usage);
    return KT_EXIT_USAGE;
}

static int s_value(const char *name, const char **slot, int argc, char **argv, int *i)
{
    if (strcmp(argv[*i], name) != 0)
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *slot = argv[++*i];
    return 1;
}

static const char *s_str(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));

    return v != NULL ? v : "-";
}

/* ---- the Markdown for the parents ---- */

static void s_md_fields(FILE *f, const json_t *row)
{
    const json_t *fields = json_object_get(json_object_get(row, "record"), "fields");
    const char *k;
    json_t *v;

    if (fields == NULL) {
        fprintf(f, "  - inhoud niet meer leesbaar (%s)\n", s_str(row, "record_error"));
        return;
    }
    json_object_foreach((json_t *)fields, k, v)
    {
        if (json_is_string(v))
            fprintf(f, "  - `%s`: %s\n", k, json_string_value(v));
        else if (json_is_boolean(v))
            fprintf(f, "  - `%s`: %s\n", k, json_is_true(v) ? "ja" : "nee");
        else if (json_is_integer(v))
            fprintf(f, "  - `%s`: %lld\n", k, (long long)json_integer_value(v));
    }
}

static void s_md_records(FILE *f, const json_t *rows, const char *title, const char *who)
{
    size_t i;

    fprintf(f, "## %s\n\n", title);
    if (json_array_size(rows) == 0)
        fprintf(f, "Geen.\n\n");
    for (i = 0; i < json_array_size(rows); i++) {
        const json_t *r = json_array_get(rows, i);

        fprintf(f, "- `%s` %s `%s`, %s, status %s (record %s)\n", s_str(r, "type"), who,
                s_str(r, who[0] == 'a' ? "to" : "from"),
                s_str(r, who[0] == 'a' ? "created" : "received"), s_str(r, "state"),
                s_str(r, "id"));
        s_md_fields(f, r);
    }
    fprintf(f, "\n");
}

static void s_md(FILE *f, const json_t *rep)
{
    const json_t *rows;
    size_t i;

    fprintf(f, "# Inzage in gegevens van een leerling (AVG art. 15)\n\n");
    fprintf(f,
            "Organisatie (node) `%s`, opgesteld op %s. De leerling heet hier "
            "`%.16s...`, het pseudoniem dat deze node in zijn logboek gebruikt.\n\n",
            s_str(rep, "node"), s_str(rep, "generated"), s_str(rep, "subject"));
    s_md_records(f, json_object_get(rep, "sent"), "Gegevens die deze organisatie verstuurde",
                 "aan");
    s_md_records(f, json_object_get(rep, "received"), "Gegevens die deze organisatie ontving",
                 "van");
    fprintf(f, "## Toestemmingen\n\n");
    rows = json_object_get(rep, "consents");
    if (json_array_size(rows) == 0)
        fprintf(f, "Geen.\n");
    for (i = 0; i < json_array_size(rows); i++) {
        const json_t *c = json_array_get(rows, i);

        fprintf(f, "- %s door %s voor `%s` aan `%s`, doel `%s`, van %s tot %s%s%s\n",
                s_str(c, "decision"), s_str(c, "door"), s_str(c, "types"), s_str(c, "to"),
                s_str(c, "doel"), s_str(c, "given"), s_str(c, "until"),
                json_is_string(json_object_get(c, "withdrawn")) ? ", ingetrokken op " : "",
                json_is_string(json_object_get(c, "withdrawn")) ? s_str(c, "withdrawn") : "");
    }
    fprintf(f, "\n## Logboek: elke uitwisseling over deze leerling\n\n");
    fprintf(f, "| tijd | handeling | besluit | partner | type | grondslag | doel | toestemming "
               "| beleid | velden |\n|---|---|---|---|---|---|---|---|---|---|\n");
    rows = json_object_get(rep, "exchanges");
    for (i = 0; i < json_array_size(rows); i++) {
        const json_t *e = json_array_get(rows, i);
        json_int_t v = json_integer_value(json_object_get(e, "policy_version"));

        fprintf(f, "| %s | %s | %s | %s | %s | %s | %s | %s | %s%s%lld | %s |\n", s_str(e, "time"),
                s_str(e, "action"), s_str(e, "decision"), s_str(e, "partner"), s_str(e, "type"),
                s_str(e, "grondslag"), s_str(e, "doel"), s_str(e, "consent"), s_str(e, "policy"),
                v > 0 ? " v" : "", (long long)(v > 0 ? v : 0), s_str(e, "fields"));
    }
}

/* Writes the whole file or nothing: a temporary file beside it, renamed. */
static int s_write_file(const char *path, const json_t *rep, int md)
{
    char tmp[4096];
    FILE *f;
    int fd, ok;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp)) {
        kt_err("%s: path too long", path);
        return KT_EXIT_ERR;
    }
    if ((fd = mkstemp(tmp)) < 0) {
        kt_err("%s: cannot create: %s", path, strerror(errno));
        return KT_EXIT_ERR;
    }
    (void)fchmod(fd, 0600);
    if ((f = fdopen(fd, "w")) == NULL) {
        close(fd);
        unlink(tmp);
        kt_err("%s: cannot write: %s", path, strerror(errno));
        return KT_EXIT_ERR;
    }
    if (md)
        s_md(f, rep);
    else
        kt_ctl_print_json(f, rep);
    ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        kt_err("%s: cannot write: %s", path, strerror(errno));
        unlink(tmp);
        return KT_EXIT_ERR;
    }
    return KT_EXIT_OK;
}

static void s_print(const json_t *rep)
{
    static const char *const keys[] = {"time",      "action", "decision", "partner", "type",
                                       "grondslag", "doel",   "consent",  "policy",  NULL};
    static const char *const heads[] = {"TIME",      "ACTION", "DECISION", "PARTNER", "TYPE",
                                        "GRONDSLAG", "DOEL",   "CONSENT",  "POLICY",  NULL};

    printf("node %s, subject %s\n", s_str(rep, "node"), s_str(rep, "subject"));
    printf("records sent: %zu, received: %zu, consent decisions: %zu, audit entries: %zu\n\n",
           json_array_size(json_object_get(rep, "sent")),
           json_array_size(json_object_get(rep, "received")),
           json_array_size(json_object_get(rep, "consents")),
           json_array_size(json_object_get(rep, "exchanges")));
    kt_ctl_print_table(stdout, json_object_get(rep, "exchanges"), keys, heads);
}

int cmd_subject_show(int argc, char **argv)
{
    kt_ctl_opts_t o = {0};
    const char *leerling = NULL, *file = NULL, *format = "md";
    json_t *req, *reply = NULL;
    int i, r, rc;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s %s\n\nEverything this node holds about one pupil: the records it "
                   "sent and received\nwith their fields, the consent decisions, and every audit "
                   "entry about them.\nAuditors only; the request itself is audited. --export "
                   "writes it to FILE\n(mode 0600) to hand to the parents: Markdown, or JSON with "
                   "--format json.\n",
                   kt_progname, S_SHOW_USAGE);
            return KT_EXIT_OK;
        }
        if ((r = kt_ctl_opt(&o, argc, argv, &i)) < 0)
            return s_usage(S_SHOW_USAGE, NULL, NULL);
        if (r == 1)
            continue;
        if ((r = s_value("--leerling", &leerling, argc, argv, &i)) == 1 ||
            (r == 0 && (r = s_value("--export", &file, argc, argv, &i)) == 1) ||
            (r == 0 && (r = s_value("--format", &format, argc, argv, &i)) == 1))
            continue;
        return s_usage(S_SHOW_USAGE,
                       r < 0 ? "subject show: a value is needed after "
                             : "subject show: unexpected argument ",
                       argv[i][0] == '-' ? argv[i] : "(a value without an option)");
    }
    if (leerling == NULL)
        return s_usage(S_SHOW_USAGE, "subject show: --leerling is required", "");
    if (strcmp(format, "md") != 0 && strcmp(format, "json") != 0)
        return s_usage(S_SHOW_USAGE, "subject show: --format is md or json, not ", format);
    if ((req = json_pack("{s:s, s:s}", "cmd", "subject-show", "leerling", leerling)) == NULL) {
        kt_err("out of memory");
        return KT_EXIT_ERR;
    }
    rc = kt_ctl_run(&o, req, &reply);
    if (rc == KT_EXIT_OK) {
        if (file != NULL) {
            if ((rc = s_write_file(file, reply, strcmp(format, "md") == 0)) == KT_EXIT_OK)
                printf("written to %s\n", file);
        } else if (o.json) {
            kt_ctl_print_json(stdout, reply);
        } else {
            s_print(reply);
        }
    }
    json_decref(reply);
    json_decref(req);
    return rc;
}

/* The signed bytes into path, created mode 0600 (it holds the pupil's
 * data) and complete or not at all, or to stdout. */
static int s_write_signed(const char *path, const uint8_t *p, size_t n)
{
    char tmp[4096];
    int fd, ok;

    if (path == NULL) {
        if (fwrite(p, 1, n, stdout) != n || fflush(stdout) != 0) {
            kt_err("stdout: cannot write: %s", strerror(errno));
            return KT_EXIT_ERR;
        }
        return KT_EXIT_OK;
    }
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp)) {
        kt_err("%s: path too long", path);
        return KT_EXIT_ERR;
    }
    if ((fd = mkstemp(tmp)) < 0) {
        kt_err("%s: cannot create: %s", path, strerror(errno));
        return KT_EXIT_ERR;
    }
    ok = fchmod(fd, 0600) == 0 && write(fd, p, n) == (ssize_t)n && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        kt_err("%s: cannot write: %s", path, strerror(errno));
        unlink(tmp);
        return KT_EXIT_ERR;
    }
    return KT_EXIT_OK;
}

int cmd_record_export(int argc, char **argv)
{
    kt_ctl_opts_t o = {0};
    const char *id = NULL, *partner = NULL, *sender = NULL, *out = NULL, *b64;
    json_t *req, *reply = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    int i, r, rc;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s %s\n\nWrites record ID as it was signed — by this node for a "
                   "record it sent, by the\nsender for one it received — to FILE or stdout. "
                   "Anyone can check it with\n`ketenctl record verify --pub SIGNER.pub FILE`. "
                   "The export is audited.\n",
                   kt_progname, S_EXPORT_USAGE);
            return KT_EXIT_OK;
        }
        if ((r = kt_ctl_opt(&o, argc, argv, &i)) < 0)
            return s_usage(S_EXPORT_USAGE, NULL, NULL);
        if (r == 1)
            continue;
        if ((r = s_value("--partner", &partner, argc, argv, &i)) == 1 ||
            (r == 0 && (r = s_value("--sender", &sender, argc, argv, &i)) == 1) ||
            (r == 0 && (r = s_value("-o", &out, argc, argv, &i)) == 1))
            continue;
        if (r == 0 && id == NULL && argv[i][0] != '-') {
            id = argv[i];
            continue;
        }
        return s_usage(S_EXPORT_USAGE,
                       r < 0 ? "record export: a value is needed after "
                             : "record export: unexpected argument ",
                       argv[i]);
    }
    if (id == NULL)
        return s_usage(S_EXPORT_USAGE, "record export: the record ID is required", "");
    if (partner != NULL && sender != NULL)
        return s_usage(S_EXPORT_USAGE, "record export: --partner or --sender, not both", "");
    req = json_pack("{s:s, s:s}", "cmd", "record-export", "id", id);
    if (req != NULL && partner != NULL)
        json_object_set_new(req, "partner", json_string(partner));
    if (req != NULL && sender != NULL)
        json_object_set_new(req, "sender", json_string(sender));
    if (req == NULL) {
        kt_err("out of memory");
        return KT_EXIT_ERR;
    }
    rc = kt_ctl_run(&o, req, &reply);
    if (rc == KT_EXIT_OK) {
        b64 = json_string_value(json_object_get(reply, "signed"));
        if (b64 == NULL || kt_ctl_decode_bytes(b64, &buf, &len) != 0) {
            kt_err("record export: ketend sent no signed record");
            rc = KT_EXIT_ERR;
        } else if ((rc = s_write_signed(out, buf, len)) == KT_EXIT_OK && out != NULL) {
            printf("record %s, signed by %s, written to %s\n", id, s_str(reply, "signer"), out);
        }
        kt_ctl_bytes_free(buf, len);
    }
    json_decref(reply);
    json_decref(req);
    return rc;
}
