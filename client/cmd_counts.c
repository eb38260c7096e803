/*
 * cmd_counts.c - ketenctl counts (a count set from an imported list, by the
 * running node) and ketenctl counts check (the totals check of published
 * count tables, offline).
 *
 * Owns the JSON side of counting: the tables file (docs/reconcile.md
 * "Totals check") is parsed here with jansson into the plain structs of
 * counts.h, checked by daemon/counts.c, and printed as a table or as JSON in
 * the shape of the fixtures' `expected` objects. Every count printed states
 * its unit and definition. Must never print a pupil: replies carry codes and
 * numbers only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"
#include "keten/counts.h"
#include "ketenctl.h"

#define S_USAGE                                                                                    \
    "counts --list NAME --definition D --period P [--by onderwijssoort|woongemeente|brin|swv|"     \
    "duur] [--scope KIND:CODE] [--threshold N] [-s PATH] [--json]"
#define S_CHECK_USAGE "counts check [--json] FILE.json|-"
#define S_FILE_MAX (16 * 1024 * 1024)

static int s_usage(const char *u)
{
    fprintf(stderr, "usage: %s %s\n", kt_progname, u);
    return KT_EXIT_USAGE;
}

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

/* ---- counts (through the node) ---- */

static void s_print_counts(const json_t *reply)
{
    const json_t *key = json_object_get(reply, "key"), *b;
    const char *period = json_string_value(json_object_get(key, "period"));
    size_t i;

    printf("list %s\n", json_string_value(json_object_get(reply, "list")));
    printf("unit        %s\n", json_string_value(json_object_get(key, "eenheid")));
    printf("definition  %s\n", json_string_value(json_object_get(key, "definitie")));
    printf("scope       %s\n", json_string_value(json_object_get(key, "scope")));
    printf("%-11s %s\n", period && strlen(period) == 10 ? "peildatum" : "schooljaar",
           period ? period : "-");
    printf("by          %s\n\n", json_string_value(json_object_get(key, "by")));
    json_array_foreach(json_object_get(reply, "buckets"), i, b)
    {
        if (json_is_true(json_object_get(b, "suppressed")))
            printf("  %-28s %8s\n", json_string_value(json_object_get(b, "name")), "<thr");
        else
            printf("  %-28s %8lld\n", json_string_value(json_object_get(b, "name")),
                   (long long)json_integer_value(json_object_get(b, "value")));
    }
    printf("  %-28s %8lld\n", "(total)",
           (long long)json_integer_value(json_object_get(reply, "total")));
    if (json_integer_value(json_object_get(reply, "suppressed")) > 0)
        printf("%lld bucket(s) below the threshold of %lld are suppressed (<thr) and not in the "
               "total\n",
               (long long)json_integer_value(json_object_get(reply, "suppressed")),
               (long long)json_integer_value(json_object_get(reply, "threshold")));
    if (json_integer_value(json_object_get(reply, "undecided")) > 0)
        printf("%lld pupil(s) could not be decided under this definition and are in no bucket: "
               "%s\n",
               (long long)json_integer_value(json_object_get(reply, "undecided")),
               json_string_value(json_object_get(reply, "undecided_reason")));
    if (json_integer_value(json_object_get(reply, "unreadable")) > 0)
        printf("%lld entr(y/ies) of forgotten pupils could not be read\n",
               (long long)json_integer_value(json_object_get(reply, "unreadable")));
}

int cmd_counts(int argc, char **argv)
{
    kt_ctl_opts_t o = {0};
    const char *list = NULL, *def = NULL, *period = NULL, *by = NULL, *scope = NULL, *thr = NULL;
    json_t *req, *reply = NULL;
    char *end = NULL;
    long t = 0;
    int i, r, rc;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s %s\n       %s %s\n\nCounts an imported list under one thuiszitter "
                   "definition (DOMAIN.md §6): a peildatum YYYY-MM-DD counts thuiszitters_stand, "
                   "a schooljaar YYYY-YYYY thuiszitters_geweest. See docs/reconcile.md.\n",
                   kt_progname, S_USAGE, kt_progname, S_CHECK_USAGE);
            return KT_EXIT_OK;
        }
        if ((r = kt_ctl_opt(&o, argc, argv, &i)) < 0)
            return KT_EXIT_USAGE;
        if (r == 1)
            continue;
        if ((r = s_valopt("--list", argc, argv, &i, &list)) != 0 ||
            (r = s_valopt("--definition", argc, argv, &i, &def)) != 0 ||
            (r = s_valopt("--period", argc, argv, &i, &period)) != 0 ||
            (r = s_valopt("--by", argc, argv, &i, &by)) != 0 ||
            (r = s_valopt("--scope", argc, argv, &i, &scope)) != 0 ||
            (r = s_valopt("--threshold", argc, argv, &i, &thr)) != 0) {
            if (r < 0)
                return s_usage(S_USAGE);
            continue;
        }
        kt_err("counts: unexpected argument '%s'", argv[i]);
        return s_usage(S_USAGE);
    }
    if (list == NULL || def == NULL || period == NULL)
        return s_usage(S_USAGE);
    if (thr != NULL && ((t = strtol(thr, &end, 10)) < 0 || t > 1000 || *end != '\0')) {
        kt_err("--threshold: a whole number, 0 to 1000");
        return KT_EXIT_USAGE;
    }
    req = json_pack("{s:s, s:s, s:s, s:s}", "cmd", "counts", "list", list, "definition", def,
                    "period", period);
    if (req == NULL || (by && json_object_set_new(req, "by", json_string(by)) != 0) ||
        (scope && json_object_set_new(req, "scope", json_string(scope)) != 0) ||
        (thr && json_object_set_new(req, "threshold", json_integer(t)) != 0)) {
        json_decref(req);
        kt_err("out of memory (or an argument that is not UTF-8)");
        return KT_EXIT_ERR;
    }
    rc = kt_ctl_run(&o, req, &reply);
    if (rc == KT_EXIT_OK) {
        if (o.json)
            kt_ctl_print_json(stdout, reply);
        else
            s_print_counts(reply);
    }
    json_decref(reply);
    json_decref(req);
    return rc;
}

/* ---- counts check (offline) ---- */

/* One table, parsed: owns its arrays; strings are borrowed from the JSON. */
typedef struct s_table {
    kt_counts_table_t t;
    const char **cols, **rows;
    int64_t *v, *total, *flows;
    const char *unit;
} s_table_t;

static void s_table_free(s_table_t *x)
{
    free(x->cols);
    free(x->rows);
    free(x->v);
    free(x->total);
    free(x->flows);
    memset(x, 0, sizeof(*x));
}

/* An array of n integers (|v| <= KT_COUNTS_VALUE_MAX) into out. */
static int s_ints(const json_t *a, size_t n, int64_t *out)
{
    size_t i;
    const json_t *x;

    if (!json_is_array(a) || json_array_size(a) != n)
        return -1;
    json_array_foreach(a, i, x)
    {
        if (!json_is_integer(x) || json_integer_value(x) > KT_COUNTS_VALUE_MAX ||
            json_integer_value(x) < -KT_COUNTS_VALUE_MAX)
            return -1;
        out[i] = (int64_t)json_integer_value(x);
    }
    return 0;
}

static int s_parse_flows(s_table_t *x, const json_t *f, const char *where)
{
    static const char *const names[] = {"begin", "new", "exits", "end"};
    size_t n = x->t.ncols;

    if (!json_is_object(f) || json_object_size(f) != 4) {
        kt_err("%s: flows: an object of begin, new, exits and end", where);
        return -1;
    }
    if ((x->flows = calloc(4 * n, sizeof(*x->flows))) == NULL)
        return -1;
    for (int k = 0; k < 4; k++)
        if (s_ints(json_object_get(f, names[k]), n, x->flows + (size_t)k * n) != 0) {
            kt_err("%s: flows.%s: an array of %zu whole numbers (one per column)", where, names[k],
                   n);
            return -1;
        }
    x->t.has_flows = 1;
    x->t.begin = x->flows;
    x->t.inflow = x->flows + n;
    x->t.exits = x->flows + 2 * n;
    x->t.end = x->flows + 3 * n;
    return 0;
}

static int s_parse_total(s_table_t *x, const json_t *tot, const char *where)
{
    const char *label;
    json_t *val;

    if (tot == NULL || json_is_null(tot))
        return 0;
    if (!json_is_object(tot) || json_object_size(tot) != 1) {
        kt_err("%s: total: null, or an object with one label and its values", where);
        return -1;
    }
    if ((x->total = calloc(x->t.ncols, sizeof(*x->total))) == NULL)
        return -1;
    json_object_foreach((json_t *)tot, label, val)
    {
        if (s_ints(val, x->t.ncols, x->total) != 0) {
            kt_err("%s: total: an array of %zu whole numbers (one per column)", where, x->t.ncols);
            return -1;
        }
    }
    x->t.has_total = 1;
    x->t.total = x->total;
    return 0;
}

static int s_parse_rows(s_table_t *x, const json_t *rows, const char *where)
{
    const char *label;
    json_t *val;
    size_t r = 0, nr = json_object_size(rows);

    if (!json_is_object(rows) || nr > KT_COUNTS_TABLE_ROWS_MAX) {
        kt_err("%s: rows: an object of at most %d labels, each with its values", where,
               KT_COUNTS_TABLE_ROWS_MAX);
        return -1;
    }
    if ((x->rows = calloc(nr + 1, sizeof(*x->rows))) == NULL ||
        (x->v = calloc(nr * x->t.ncols + 1, sizeof(*x->v))) == NULL)
        return -1;
    json_object_foreach((json_t *)rows, label, val)
    {
        if (s_ints(val, x->t.ncols, x->v + r * x->t.ncols) != 0) {
            kt_err("%s: rows: row %zu: an array of %zu whole numbers (one per column)", where,
                   r + 1, x->t.ncols);
            return -1;
        }
        x->rows[r++] = label;
    }
    x->t.nrows = r;
    x->t.rows = x->rows;
    x->t.v = x->v;
    return 0;
}

static int s_parse_table(s_table_t *x, const json_t *j, size_t idx)
{
    const json_t *cols = json_object_get(j, "cols"), *c, *flows;
    char where[96];
    size_t i;

    memset(x, 0, sizeof(*x));
    snprintf(where, sizeof(where), "table %zu", idx + 1);
    if (!json_is_object(j) || !json_is_string(json_object_get(j, "id"))) {
        kt_err("%s: an object with a string \"id\"", where);
        return -1;
    }
    x->t.id = json_string_value(json_object_get(j, "id"));
    x->unit = json_string_value(json_object_get(j, "unit"));
    snprintf(where, sizeof(where), "table %zu (%.60s)", idx + 1, x->t.id);
    if (x->unit == NULL) {
        kt_err("%s: \"unit\" is required: never mix units (DOMAIN.md §7.2)", where);
        return -1;
    }
    if (!json_is_array(cols) || json_array_size(cols) < 1 ||
        json_array_size(cols) > KT_COUNTS_TABLE_COLS_MAX) {
        kt_err("%s: cols: an array of 1 to %d labels", where, KT_COUNTS_TABLE_COLS_MAX);
        return -1;
    }
    x->t.ncols = json_array_size(cols);
    if ((x->cols = calloc(x->t.ncols, sizeof(*x->cols))) == NULL)
        return -1;
    json_array_foreach(cols, i, c)
    {
        if (!json_is_string(c)) {
            kt_err("%s: cols: labels are strings", where);
            return -1;
        }
        x->cols[i] = json_string_value(c);
    }
    x->t.cols = x->cols;
    if (s_parse_rows(x, json_object_get(j, "rows"), where) != 0 ||
        s_parse_total(x, json_object_get(j, "total"), where) != 0)
        return -1;
    if ((flows = json_object_get(j, "flows")) != NULL && s_parse_flows(x, flows, where) != 0)
        return -1;
    return 0;
}

static json_t *s_col_json(const s_table_t *x, const kt_counts_colcheck_t *c)
{
    json_t *o = json_object(), *a;

    json_object_set_new(o, "sum", json_integer(c->sum));
    json_object_set_new(o, "stated", c->has_stated ? json_integer(c->stated) : json_null());
    json_object_set_new(o, "status", json_string(kt_counts_status_name(c->status)));
    if (c->status == KT_CHECK_MISMATCH)
        json_object_set_new(o, "diff", json_integer(c->diff));
    if (c->nlikely > 0) {
        a = json_array();
        for (size_t k = 0; k < c->nlikely; k++)
            json_array_append_new(a, json_string(x->rows[c->likely[k]]));
        json_object_set_new(o, "likely_excluded", a);
    }
    if (c->has_flow) {
        json_t *f = json_object();

        json_object_set_new(f, "expected_end", json_integer(c->flow_expected));
        json_object_set_new(f, "status", json_string(kt_counts_status_name(c->flow_status)));
        if (c->flow_status == KT_CHECK_MISMATCH)
            json_object_set_new(f, "diff", json_integer(c->flow_diff));
        if (c->has_carry) {
            json_t *k = json_object();

            json_object_set_new(k, "from", json_string(x->cols[c->carry_from]));
            json_object_set_new(k, "status", json_string(kt_counts_status_name(c->carry_status)));
            if (c->carry_status == KT_CHECK_MISMATCH)
                json_object_set_new(k, "diff", json_integer(c->carry_diff));
            json_object_set_new(f, "carry", k);
        }
        json_object_set_new(o, "flows", f);
    }
    return o;
}

static void s_col_print(const s_table_t *x, size_t j, const kt_counts_colcheck_t *c)
{
    printf("  %-12s sum %6lld  stated ", x->cols[j], (long long)c->sum);
    if (c->has_stated)
        printf("%6lld", (long long)c->stated);
    else
        printf("%6s", "-");
    printf("  %s", kt_counts_status_name(c->status));
    if (c->status == KT_CHECK_MISMATCH)
        printf(" (diff %+lld)", (long long)c->diff);
    printf("\n");
    for (size_t k = 0; k < c->nlikely; k++)
        printf("      the total likely leaves out row '%s' (%lld)\n", x->rows[c->likely[k]],
               (long long)-c->diff);
    if (c->status == KT_CHECK_MISMATCH && c->diff > 0)
        printf("      the total holds %lld that no row does: a bucket without a row "
               "(niet_te_koppelen?)\n",
               (long long)c->diff);
    if (c->has_flow) {
        printf("      flows: begin + new - exits = %lld, end %lld: %s\n",
               (long long)c->flow_expected, (long long)x->t.end[j],
               kt_counts_status_name(c->flow_status));
        if (c->has_carry)
            printf("      carry-over: begins at %lld, %s ended at %lld: %s\n",
                   (long long)x->t.begin[j], x->cols[c->carry_from],
                   (long long)x->t.end[c->carry_from], kt_counts_status_name(c->carry_status));
    }
}

static json_t *s_load(const char *file)
{
    json_error_t err;
    json_t *j;

    if (strcmp(file, "-") == 0)
        j = json_loadf(stdin, JSON_REJECT_DUPLICATES, &err);
    else
        j = json_load_file(file, JSON_REJECT_DUPLICATES, &err);
    if (j == NULL)
        kt_err("%s: line %d, column %d: %s", file, err.line, err.column, err.text);
    return j;
}

/* Checks every table; out (may be NULL) collects the JSON result. */
static int s_check_all(const json_t *tables, json_t *out, int print)
{
    kt_counts_colcheck_t cc[KT_COUNTS_TABLE_COLS_MAX];
    const json_t *j;
    size_t i;

    json_array_foreach(tables, i, j)
    {
        s_table_t x;
        kt_diag_t d = {{0}};
        json_t *res;

        if (s_parse_table(&x, j, i) != 0) {
            s_table_free(&x);
            return -1;
        }
        if (json_object_get(out, x.t.id) != NULL) {
            kt_err("table %zu: id '%.60s' appears twice", i + 1, x.t.id);
            s_table_free(&x);
            return -1;
        }
        if (kt_counts_check(cc, &x.t, &d) != 0) {
            kt_err("%s", d.msg);
            s_table_free(&x);
            return -1;
        }
        res = json_object();
        if (print)
            printf("%s (%s)\n", x.t.id, x.unit);
        for (size_t c = 0; c < x.t.ncols; c++) {
            json_object_set_new(res, x.cols[c], s_col_json(&x, &cc[c]));
            if (print)
                s_col_print(&x, c, &cc[c]);
        }
        json_object_set_new(out, x.t.id, res);
        s_table_free(&x);
    }
    return 0;
}

int cmd_counts_check(int argc, char **argv)
{
    const char *file = NULL;
    json_t *j = NULL, *tables, *out = NULL;
    int i, json = 0, rc = KT_EXIT_ERR;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s %s\n\nChecks published count tables (docs/reconcile.md): per table "
                   "and column, the rows' sum against the stated total (ok, mismatch with diff = "
                   "stated - sum, or no_total), and flows (begin + new - exits = end, and each "
                   "year's begin against the year before's end). Works without a node.\n",
                   kt_progname, S_CHECK_USAGE);
            return KT_EXIT_OK;
        }
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
            continue;
        }
        if (file == NULL && (argv[i][0] != '-' || strcmp(argv[i], "-") == 0)) {
            file = argv[i];
            continue;
        }
        kt_err("counts check: unexpected argument '%s'", argv[i]);
        return s_usage(S_CHECK_USAGE);
    }
    if (file == NULL)
        return s_usage(S_CHECK_USAGE);
    if ((j = s_load(file)) == NULL)
        return KT_EXIT_ERR;
    if (json_is_object(j)) {
        tables = json_array();
        json_array_append(tables, j);
    } else if (json_is_array(j)) {
        tables = json_incref(j);
    } else {
        kt_err("%s: expected an array of tables (or one table object)", file);
        goto out;
    }
    out = json_object();
    if (s_check_all(tables, out, !json) == 0) {
        if (json)
            kt_ctl_print_json(stdout, out);
        rc = KT_EXIT_OK;
    }
    json_decref(tables);
out:
    json_decref(out);
    json_decref(j);
    return rc;
}
