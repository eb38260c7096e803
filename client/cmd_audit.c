/*
 * cmd_audit.c - ketenctl audit list, export and verify: the privacy
 * officer's view of a node's audit log.
 *
 * list and export page through the running ketend (audit-list, auditor
 * role) with the same filters; export writes CSV (quoted by libcsv) or a
 * JSON array, one entry per row. verify asks the daemon (audit-verify), or
 * with --db opens a copy of a node's database read-only, without a daemon,
 * and checks the chain, the checkpoints (with --pub their signatures) and
 * with --witness the checkpoints partners hold. Must never print or echo a
 * leerling_id (it is sent once, as a filter, and never comes back), and
 * never write to a database it verifies.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <csv.h>
#include <jansson.h>

#include "ctl.h"
#include "keten/audit.h"
#include "keten/commands_audit.h"
#include "keten/keys.h"
#include "keten/store.h"
#include "ketenctl.h"

#define S_FILTERS                                                                                  \
    "[--since DATE] [--until DATE] [--partner ID] [--type T] [--leerling ID]\n"                    \
    "        [--action A] [--decision D]"
#define S_LIST_USAGE "audit list [-s PATH] [--json] " S_FILTERS
#define S_EXPORT_USAGE "audit export [-s PATH] --format csv|json [-o FILE] " S_FILTERS
#define S_VERIFY_USAGE                                                                             \
    "audit verify [-s PATH] [--json] [--db FILE [--pub NODE.pub] [--witness PARTNER.db ...]]"
#define S_WITNESS_MAX 32

static const char s_filter_help[] =
    "  --since, --until DATE  YYYY-MM-DD (local day, inclusive) or YYYY-MM-DDTHH:MM[:SS]\n"
    "                         with Z or +HH:MM for UTC or an offset (local time without)\n"
    "  --partner ID           the counterparty node id\n"
    "  --type T               record type, e.g. thuiszitter\n"
    "  --leerling ID          a BSN or onderwijsnummer; ketend turns it into its subject\n"
    "                         pseudonym and matches on that (the id is never shown)\n"
    "  --action A             sent, held, received, consent_granted, ... (see docs/audit.md)\n"
    "  --decision D           the decision code of the entry\n";

/* Every column, in log order: the CSV header and the JSON keys. */
static const char *const s_cols[] = {
    "seq",          "time",     "at",     "actor",     "action",     "record_id", "record_type",
    "fields",       "subject",  "doel",   "grondslag", "consent_id", "policy_id", "policy_version",
    "counterparty", "decision", "reason", "prev_hash", "hash",       NULL};

static int s_usage(const char *usage, const char *what, const char *arg)
{
    if (what != NULL)
        kt_err("%s%s", what, arg);
    fprintf(stderr, "usage: %s %s\n", kt_progname, usage);
    return KT_EXIT_USAGE;
}

/* ---- dates ---- */

/* DATE into unix seconds: a date alone is the local day's first second
 * (end_of_day: its last); a time without a zone is local. -1 if malformed. */
static int s_parse_time(const char *s, int end_of_day, int64_t *out)
{
    struct tm tm;
    int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0, n = 0, zoned = 0, sign = 1;
    char tail[8] = "";
    time_t t;

    memset(&tm, 0, sizeof(tm));
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return -1;
    if (s[10] != '\0') {
        int m = 0;

        if (s[10] != 'T' || sscanf(s + 11, "%2d:%2d%n", &h, &mi, &m) != 2 || m != 5)
            return -1;
        n = 16;
        if (s[n] == ':') {
            if (sscanf(s + n + 1, "%2d%n", &sec, &m) != 1 || m != 2)
                return -1;
            n += 3;
        }
        if (strcmp(s + n, "Z") == 0) {
            zoned = 1;
        } else if ((s[n] == '+' || s[n] == '-') &&
                   sscanf(s + n + 1, "%2d:%2d%7s", &oh, &om, tail) == 2 && strlen(s + n) == 6 &&
                   oh <= 14 && om < 60) {
            zoned = 1;
            sign = s[n] == '-' ? -1 : 1;
        } else if (s[n] != '\0') {
            return -1;
        }
        end_of_day = 0;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = end_of_day ? 23 : h;
    tm.tm_min = end_of_day ? 59 : mi;
    tm.tm_sec = end_of_day ? 59 : sec;
    tm.tm_isdst = -1;
    t = zoned ? timegm(&tm) : mktime(&tm);
    if (t == (time_t)-1 || tm.tm_mday != d) /* mktime normalises 2026-02-31 */
        return -1;
    *out = (int64_t)t - (zoned ? sign * (oh * 3600 + om * 60) : 0);
    return 0;
}

/* ---- filters ---- */

struct s_args {
    kt_ctl_opts_t o;
    const char *since, *until, *partner, *type, *leerling, *action, *decision;
    const char *format, *out;
};

static int s_value(const char *name, const char **slot, int argc, char **argv, int *i)
{
    if (strcmp(argv[*i], name) != 0)
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *slot = argv[++*i];
    return 1;
}

/* Parses filters (and, for export, --format and -o). 1: --help printed,
 * 0: ok, -1: usage printed. */
static int s_parse(int argc, char **argv, struct s_args *a, int export, const char *usage,
                   const char *help)
{
    const char *names[] = {"--since",  "--until",    "--partner", "--type", "--leerling",
                           "--action", "--decision", "--format",  "-o",     "--output"};
    const char **slots[] = {&a->since,  &a->until,    &a->partner, &a->type, &a->leerling,
                            &a->action, &a->decision, &a->format,  &a->out,  &a->out};
    size_t k, nopts = export ? 10 : 7;
    int i, r;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s %s\n%s%s", kt_progname, usage, help, s_filter_help);
            return 1;
        }
        if (!export || strcmp(argv[i], "--json") != 0) {
            if ((r = kt_ctl_opt(&a->o, argc, argv, &i)) < 0)
                return -1;
            if (r == 1)
                continue;
        }
        for (k = 0, r = 0; k < nopts && r == 0; k++)
            r = s_value(names[k], slots[k], argc, argv, &i);
        if (r < 0) {
            s_usage(usage, "audit: a value is needed after ", argv[i]);
            return -1;
        }
        if (r == 0) {
            s_usage(usage, "audit: unexpected argument ",
                    argv[i][0] == '-' ? argv[i] : "(a value without an option)");
            return -1;
        }
    }
    return 0;
}

/* The audit-list request for a's filters, or NULL (message printed). */
static json_t *s_request(const struct s_args *a)
{
    json_t *req = json_pack("{s:s}", "cmd", "audit-list");
    int64_t t;
    const char *keys[] = {"partner", "type", "leerling", "action", "decision"};
    const char *vals[] = {a->partner, a->type, a->leerling, a->action, a->decision};
    size_t k;

    if (req == NULL) {
        kt_err("out of memory");
        return NULL;
    }
    if (a->since != NULL) {
        if (s_parse_time(a->since, 0, &t) != 0)
            goto bad_date;
        json_object_set_new(req, "since", json_integer(t));
    }
    if (a->until != NULL) {
        if (s_parse_time(a->until, 1, &t) != 0)
            goto bad_date;
        json_object_set_new(req, "until", json_integer(t));
    }
    for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
        if (vals[k] != NULL)
            json_object_set_new(req, keys[k], json_string(vals[k]));
    return req;
bad_date:
    kt_err("audit: --since and --until take YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM]");
    json_decref(req);
    return NULL;
}

/* Pages through audit-list, handing each page's entries to fn. */
typedef int (*s_page_fn)(void *ctx, json_t *entries);

static int s_pages(const struct s_args *a, s_page_fn fn, void *ctx)
{
    json_t *req = s_request(a), *reply = NULL, *next;
    int rc = KT_EXIT_OK;

    if (req == NULL)
        return KT_EXIT_USAGE;
    json_object_set_new(req, "limit", json_integer(KT_AUDIT_PAGE_MAX));
    for (;;) {
        if ((rc = kt_ctl_run(&a->o, req, &reply)) != KT_EXIT_OK)
            break;
        if ((rc = fn(ctx, json_object_get(reply, "entries"))) != KT_EXIT_OK)
            break;
        next = json_object_get(reply, "next_after");
        if (!json_is_true(json_object_get(reply, "more")) || !json_is_integer(next))
            break;
        json_object_set_new(req, "after", json_integer(json_integer_value(next)));
        json_decref(reply);
        reply = NULL;
    }
    json_decref(reply);
    json_decref(req);
    return rc;
}

/* ---- list ---- */

static int s_collect(void *ctx, json_t *entries)
{
    if (!json_is_array(entries) || json_array_extend(ctx, entries) != 0) {
        kt_err("audit list: ketend's reply has no entries");
        return KT_EXIT_ERR;
    }
    return KT_EXIT_OK;
}

int cmd_audit_list(int argc, char **argv)
{
    static const char *const keys[] = {"seq",         "at",        "actor",        "action",
                                       "record_type", "record_id", "counterparty", "decision",
                                       "reason",      NULL};
    static const char *const heads[] = {"SEQ",    "TIME",    "ACTOR",    "ACTION", "TYPE",
                                        "RECORD", "PARTNER", "DECISION", "REASON", NULL};
    struct s_args a;
    json_t *all, *out;
    int r;

    memset(&a, 0, sizeof(a));
    r = s_parse(argc, argv, &a, 0, S_LIST_USAGE,
                "\nLists the node's audit entries in order, oldest first (auditor role).\n\n");
    if (r != 0)
        return r > 0 ? KT_EXIT_OK : KT_EXIT_USAGE;
    if ((all = json_array()) == NULL)
        return KT_EXIT_ERR;
    if ((r = s_pages(&a, s_collect, all)) == KT_EXIT_OK) {
        if (a.o.json) {
            out = json_pack("{s:O}", "entries", all);
            kt_ctl_print_json(stdout, out);
            json_decref(out);
        } else {
            kt_ctl_print_table(stdout, all, keys, heads);
        }
    }
    json_decref(all);
    return r;
}

/* ---- export ---- */

struct s_export {
    FILE *f;
    int csv;
    size_t n;
};

static void s_csv_value(FILE *f, json_t *v)
{
    char num[32];

    if (json_is_string(v))
        csv_fwrite(f, json_string_value(v), json_string_length(v));
    else if (json_is_integer(v)) {
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        csv_fwrite(f, num, strlen(num));
    }
    /* null or absent: an empty field */
}

static int s_export_page(void *ctx, json_t *entries)
{
    struct s_export *x = ctx;
    json_t *e;
    size_t i, c;

    if (!json_is_array(entries)) {
        kt_err("audit export: ketend's reply has no entries");
        return KT_EXIT_ERR;
    }
    json_array_foreach(entries, i, e)
    {
        if (x->csv) {
            for (c = 0; s_cols[c] != NULL; c++) {
                if (c > 0)
                    fputc(',', x->f);
                s_csv_value(x->f, json_object_get(e, s_cols[c]));
            }
            fputs("\r\n", x->f);
        } else {
            fputs(x->n == 0 ? "[\n  " : ",\n  ", x->f);
            json_dumpf(e, x->f, JSON_COMPACT | JSON_PRESERVE_ORDER);
        }
        x->n++;
    }
    return ferror(x->f) ? KT_EXIT_ERR : KT_EXIT_OK;
}

/* -o FILE, mode 0600: the export holds pseudonyms and the log's detail. */
static FILE *s_open_out(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    FILE *f;

    if (fd < 0) {
        kt_err("audit export: %s: %s", path, strerror(errno));
        return NULL;
    }
    if ((f = fdopen(fd, "w")) == NULL) {
        kt_err("audit export: %s: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

int cmd_audit_export(int argc, char **argv)
{
    struct s_args a;
    struct s_export x = {stdout, 0, 0};
    size_t c;
    int r;

    memset(&a, 0, sizeof(a));
    r = s_parse(argc, argv, &a, 1, S_EXPORT_USAGE,
                "\nWrites the node's audit entries (auditor role), all columns, oldest first:\n"
                "CSV with a header row, or a JSON array of objects. Ids and hashes are hex;\n"
                "`subject` is this node's pseudonym of the pupil, never an id.\n\n"
                "  --format csv|json  required\n"
                "  -o, --output FILE  write to FILE (created mode 0600) instead of stdout\n");
    if (r != 0)
        return r > 0 ? KT_EXIT_OK : KT_EXIT_USAGE;
    if (a.format == NULL || (strcmp(a.format, "csv") != 0 && strcmp(a.format, "json") != 0))
        return s_usage(S_EXPORT_USAGE, "audit export: ", "--format csv or --format json");
    x.csv = strcmp(a.format, "csv") == 0;
    if (a.out != NULL && (x.f = s_open_out(a.out)) == NULL)
        return KT_EXIT_ERR;
    if (x.csv) {
        for (c = 0; s_cols[c] != NULL; c++)
            fprintf(x.f, "%s%s", c ? "," : "", s_cols[c]);
        fputs("\r\n", x.f);
    }
    r = s_pages(&a, s_export_page, &x);
    if (r == KT_EXIT_OK && !x.csv)
        fputs(x.n == 0 ? "[]\n" : "\n]\n", x.f);
    if (x.f != stdout) {
        if (fclose(x.f) != 0 && r == KT_EXIT_OK) {
            kt_err("audit export: %s: %s", a.out, strerror(errno));
            r = KT_EXIT_ERR;
        }
    } else if (fflush(stdout) != 0 && r == KT_EXIT_OK) {
        r = KT_EXIT_ERR;
    }
    if (r == KT_EXIT_OK && a.out != NULL)
        fprintf(stderr, "%s: %zu entries written to %s\n", kt_progname, x.n, a.out);
    return r;
}

/* ---- verify ---- */

struct s_verify {
    kt_ctl_opts_t o;
    const char *db, *pub;
    const char *witness[S_WITNESS_MAX];
    size_t nwitness;
};

static int s_verify_parse(int argc, char **argv, struct s_verify *v)
{
    int i, r;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s %s\n\n"
                   "Recomputes the audit chain and checks every signed checkpoint; names the\n"
                   "first entry that does not match. Without --db it asks the running ketend\n"
                   "(auditor role); with --db it reads a copy of a node's database, read-only,\n"
                   "without a daemon.\n\n"
                   "  --db FILE           the node database (a copy is fine)\n"
                   "  --pub NODE.pub      the node's public key: check checkpoint signatures\n"
                   "  --witness PARTNER.db  a partner's database: the node's checkpoints it\n"
                   "                      holds must match the log (needs --pub; repeatable)\n\n"
                   "Exit status: 0 intact, 1 failed or could not be read, 2 usage.\n",
                   kt_progname, S_VERIFY_USAGE);
            return 1;
        }
        if ((r = kt_ctl_opt(&v->o, argc, argv, &i)) < 0)
            return -1;
        if (r == 1)
            continue;
        if ((r = s_value("--db", &v->db, argc, argv, &i)) == 0)
            r = s_value("--pub", &v->pub, argc, argv, &i);
        if (r == 0 && strcmp(argv[i], "--witness") == 0) {
            if (i + 1 >= argc)
                r = -1;
            else if (v->nwitness == S_WITNESS_MAX) {
                s_usage(S_VERIFY_USAGE, "audit verify: too many --witness files", "");
                return -1;
            } else {
                v->witness[v->nwitness++] = argv[++i];
                r = 1;
            }
        }
        if (r < 0) {
            s_usage(S_VERIFY_USAGE, "audit verify: a value is needed after ", argv[i]);
            return -1;
        }
        if (r == 0) {
            s_usage(S_VERIFY_USAGE, "audit verify: unexpected argument ", argv[i]);
            return -1;
        }
    }
    if (v->db == NULL && (v->pub != NULL || v->nwitness > 0)) {
        s_usage(S_VERIFY_USAGE, "audit verify: ", "--pub and --witness need --db");
        return -1;
    }
    if (v->nwitness > 0 && v->pub == NULL) {
        s_usage(S_VERIFY_USAGE, "audit verify: ",
                "--witness needs --pub (the node's checkpoints are found by its key)");
        return -1;
    }
    return 0;
}

static void s_print_verdict(const kt_audit_report_t *r, int64_t witnessed, const char *wfile)
{
    if (!r->ok) {
        if (r->bad_seq != 0)
            printf("audit FAILED at entry %" PRId64 ": ", r->bad_seq);
        else
            printf("audit FAILED: ");
        if (wfile != NULL)
            printf("witness %s: ", wfile);
        printf("%s\n", r->what);
        return;
    }
    printf("audit OK: %" PRId64 " entr%s, %" PRId64 " checkpoint%s, covered to %" PRId64,
           r->entries, r->entries == 1 ? "y" : "ies", r->checkpoints,
           r->checkpoints == 1 ? "" : "s", r->covered);
    if (witnessed >= 0)
        printf("; %" PRId64 " witness checkpoint%s match", witnessed, witnessed == 1 ? "" : "s");
    putchar('\n');
    if (r->entries > r->covered)
        printf("%" PRId64 " entr%s after %" PRId64 " not yet covered by a signed checkpoint\n",
               r->entries - r->covered, r->entries - r->covered == 1 ? "y" : "ies", r->covered);
}

static void s_print_json(const kt_audit_report_t *r, int64_t witnessed, const char *wfile)
{
    json_t *j =
        json_pack("{s:b, s:I, s:I, s:I}", "intact", r->ok, "entries", (json_int_t)r->entries,
                  "checkpoints", (json_int_t)r->checkpoints, "covered", (json_int_t)r->covered);

    if (j == NULL)
        return;
    json_object_set_new(j, "bad_seq", r->ok ? json_null() : json_integer(r->bad_seq));
    json_object_set_new(j, "what", r->ok ? json_null() : json_string(r->what));
    json_object_set_new(j, "witnessed", json_integer(witnessed < 0 ? 0 : witnessed));
    if (wfile != NULL)
        json_object_set_new(j, "witness", json_string(wfile));
    kt_ctl_print_json(stdout, j);
    json_decref(j);
}

/* Checks each witness file; 0 all match (total in *witnessed), 1 one
 * failed (r and *bad_file say which), -1 error printed. */
static int s_witnesses(kt_store_t *st, const kt_pubkey_t *pk, const struct s_verify *v,
                       kt_audit_report_t *r, int64_t *witnessed, const char **bad_file)
{
    kt_store_t *w = NULL;
    kt_diag_t d = {{0}};
    size_t i;
    int rc;

    *witnessed = 0;
    for (i = 0; i < v->nwitness; i++) {
        if (kt_store_open_readonly(&w, v->witness[i], &d) != 0) {
            kt_err("audit verify: %s", d.msg);
            return -1;
        }
        rc = kt_audit_verify_witness(st, pk, w, r, &d);
        kt_store_close(&w);
        if (rc != 0) {
            kt_err("audit verify: %s: %s", v->witness[i], d.msg);
            return -1;
        }
        *witnessed += r->witnessed;
        if (!r->ok) {
            *bad_file = v->witness[i];
            return 1;
        }
    }
    return 0;
}

static int s_verify_offline(const struct s_verify *v)
{
    kt_audit_report_t r, wr;
    kt_pubkey_t pk;
    kt_store_t *st = NULL;
    kt_diag_t d = {{0}};
    const char *bad_file = NULL;
    int64_t witnessed = -1;
    int rc = KT_EXIT_ERR, w;

    if (v->pub != NULL && kt_keys_load_public(&pk, v->pub, &d) != 0) {
        kt_err("audit verify: %s", d.msg);
        return KT_EXIT_ERR;
    }
    if (kt_store_open_readonly(&st, v->db, &d) != 0) {
        kt_err("audit verify: %s", d.msg);
        return KT_EXIT_ERR;
    }
    if (kt_audit_verify(st, v->pub ? &pk : NULL, &r, &d) != 0) {
        kt_err("audit verify: %s", d.msg);
        goto out;
    }
    if (r.ok && v->nwitness > 0) {
        if ((w = s_witnesses(st, &pk, v, &wr, &witnessed, &bad_file)) < 0)
            goto out;
        if (w == 1) {
            r.ok = 0;
            r.bad_seq = wr.bad_seq;
            memcpy(r.what, wr.what, sizeof(r.what));
        }
    }
    if (v->o.json)
        s_print_json(&r, witnessed, bad_file);
    else
        s_print_verdict(&r, witnessed, bad_file);
    if (!v->o.json && v->pub == NULL)
        fprintf(stderr, "%s: note: checkpoint signatures not checked; give --pub NODE.pub\n",
                kt_progname);
    rc = r.ok ? KT_EXIT_OK : KT_EXIT_ERR;
out:
    kt_store_close(&st);
    return rc;
}

static int s_verify_daemon(const struct s_verify *v)
{
    json_t *req = json_pack("{s:s}", "cmd", "audit-verify"), *reply = NULL;
    kt_audit_report_t r;
    const char *what;
    int rc;

    if (req == NULL)
        return KT_EXIT_ERR;
    rc = kt_ctl_run(&v->o, req, &reply);
    json_decref(req);
    if (rc != KT_EXIT_OK)
        return rc;
    memset(&r, 0, sizeof(r));
    r.ok = json_is_true(json_object_get(reply, "intact"));
    r.entries = json_integer_value(json_object_get(reply, "entries"));
    r.checkpoints = json_integer_value(json_object_get(reply, "checkpoints"));
    r.covered = json_integer_value(json_object_get(reply, "covered"));
    r.bad_seq = json_integer_value(json_object_get(reply, "bad_seq"));
    what = json_string_value(json_object_get(reply, "what"));
    snprintf(r.what, sizeof(r.what), "%s", what ? what : "");
    if (v->o.json)
        kt_ctl_print_json(stdout, reply);
    else
        s_print_verdict(&r, -1, NULL);
    json_decref(reply);
    return r.ok ? KT_EXIT_OK : KT_EXIT_ERR;
}

int cmd_audit_verify(int argc, char **argv)
{
    struct s_verify v;
    int r;

    memset(&v, 0, sizeof(v));
    if ((r = s_verify_parse(argc, argv, &v)) != 0)
        return r > 0 ? KT_EXIT_OK : KT_EXIT_USAGE;
    return v.db != NULL ? s_verify_offline(&v) : s_verify_daemon(&v);
}
