/*
 * signal_import.c - the school's signals.conf (code mapping, regional
 * thresholds, comparators, retention) and its attendance export (CSV) into
 * checked rows.
 *
 * Owns both parsers; the only includer of csv.h (libcsv). Everything is
 * checked before anything is returned: one bad cell refuses the whole
 * import. Must never put a cell's value in a diagnostic (they name the
 * line, the column and what is wrong), never guess a comparator (there is
 * no default: DOMAIN.md §5.1), and never keep a column the rules do not use.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>
#include <libconfig.h>

#include "keten/signal.h"

/* ---- signals.conf ---- */

/* The settings of each rule: the threshold's name and which windows it has. */
typedef struct s_rule_spec {
    const char *drempel; /* name of the threshold setting */
    int weken;           /* 1: "lesweken" window, 2: "weken" window */
    int maanden, max_dagen, pct;
} s_rule_spec_t;

static const s_rule_spec_t s_spec[KT_RULE_COUNT] = {
    [KT_RULE_WETTELIJK_16U] = {"minuten", 1, 0, 0, 0},
    [KT_RULE_VROEG_10U] = {"minuten", 1, 0, 0, 0},
    [KT_RULE_GEOORLOOFD_LT50] = {"lesweken", 0, 0, 0, 1},
    [KT_RULE_ZIEK_3X_2MND] = {"keer", 0, 1, 1, 0},
    [KT_RULE_ZIEK_10D] = {"dagen", 0, 0, 0, 0},
    [KT_RULE_ZIEK_4D_MAAND] = {"dagen", 0, 1, 0, 0},
    [KT_RULE_ZIEK_OPVALLEND] = {"dagen", 0, 1, 0, 0},
    [KT_RULE_ZIEK_4X_12W] = {"keer", 2, 0, 0, 0},
    [KT_RULE_ZIEK_2W] = {"dagen", 0, 0, 0, 0},
};

static void s_err(kt_conf_errors_t *e, const char *name, int line, const char *fmt, ...)
    KT_PRINTF(4, 5);

static void s_err(kt_conf_errors_t *e, const char *name, int line, const char *fmt, ...)
{
    char msg[KT_DIAG_BYTES], full[KT_DIAG_BYTES + 300];
    char **grown;
    va_list ap;

    if (e == NULL || e->count >= KT_CONF_ERRORS_MAX)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(full, sizeof(full), "%s:%d: %s", name, line, msg);
    else
        snprintf(full, sizeof(full), "%s: %s", name, msg);
    grown = realloc(e->msg, (e->count + 1) * sizeof(*e->msg));
    if (grown == NULL)
        return;
    e->msg = grown;
    if ((e->msg[e->count] = strdup(full)) != NULL)
        e->count++;
}

/* An int setting of grp within [lo, hi]; 0 or -1 (error recorded). */
static int s_int(const config_setting_t *grp, const char *key, int64_t lo, int64_t hi, int64_t *out,
                 const char *name, kt_conf_errors_t *e)
{
    const config_setting_t *s = config_setting_get_member(grp, key);
    const char *owner = config_setting_name(grp) ? config_setting_name(grp) : "signals";

    if (s == NULL) {
        s_err(e, name, config_setting_source_line(grp), "%s: '%s' is required", owner, key);
        return -1;
    }
    if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64) {
        s_err(e, name, config_setting_source_line(s), "%s.%s: must be an integer", owner, key);
        return -1;
    }
    *out = config_setting_get_int64(s);
    if (config_setting_type(s) == CONFIG_TYPE_INT)
        *out = config_setting_get_int(s);
    if (*out < lo || *out > hi) {
        s_err(e, name, config_setting_source_line(s), "%s.%s: must be %lld to %lld", owner, key,
              (long long)lo, (long long)hi);
        return -1;
    }
    return 0;
}

static int s_allowed_key(kt_signal_rule_t r, const char *key)
{
    const s_rule_spec_t *sp = &s_spec[r];

    return strcmp(key, "comparator") == 0 || strcmp(key, sp->drempel) == 0 ||
           (sp->weken == 1 && strcmp(key, "lesweken") == 0 && strcmp(sp->drempel, "lesweken")) ||
           (sp->weken == 2 && strcmp(key, "weken") == 0) ||
           (sp->maanden && strcmp(key, "maanden") == 0) ||
           (sp->max_dagen && strcmp(key, "max_dagen") == 0) || (sp->pct && strcmp(key, "pct") == 0);
}

static void s_rule(kt_signal_conf_t *c, kt_signal_rule_t r, const config_setting_t *g,
                   const char *name, kt_conf_errors_t *e)
{
    kt_signal_threshold_t *t = &c->rule[r];
    const s_rule_spec_t *sp = &s_spec[r];
    const char *rn = kt_signal_rule_name(r), *cmp = NULL;
    int64_t v;
    int i, bad = 0;

    if (!config_setting_is_group(g)) {
        s_err(e, name, config_setting_source_line(g), "rules.%s: must be a group { ... }", rn);
        return;
    }
    for (i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);

        if (!s_allowed_key(r, config_setting_name(m))) {
            s_err(e, name, config_setting_source_line(m), "rules.%s: unknown setting '%s'", rn,
                  config_setting_name(m));
            bad = 1;
        }
    }
    if (!config_setting_lookup_string(g, "comparator", &cmp)) {
        s_err(e, name, config_setting_source_line(g),
              "rules.%s: 'comparator' is required (\"gt\" = more than, \"ge\" = at least); "
              "there is no default",
              rn);
        bad = 1;
    } else if (strcmp(cmp, "gt") == 0) {
        t->cmp = KT_CMP_GT;
    } else if (strcmp(cmp, "ge") == 0) {
        t->cmp = KT_CMP_GE;
    } else {
        s_err(e, name, config_setting_source_line(g),
              "rules.%s.comparator: must be \"gt\" or \"ge\"", rn);
        bad = 1;
    }
    bad |= s_int(g, sp->drempel, 0, 1000000, &t->drempel, name, e);
    if (sp->weken) {
        bad |= s_int(g, sp->weken == 1 ? "lesweken" : "weken", 1, 52, &v, name, e);
        t->weken = (int)v;
    }
    if (sp->maanden) {
        bad |= s_int(g, "maanden", 1, 12, &v, name, e);
        t->maanden = (int)v;
    }
    if (sp->max_dagen) {
        bad |= s_int(g, "max_dagen", 1, 30, &v, name, e);
        t->max_dagen = (int)v;
    }
    if (sp->pct) {
        bad |= s_int(g, "pct", 1, 99, &v, name, e);
        t->pct = (int)v;
    }
    t->enabled = !bad;
}

static int s_code_valid(const char *s)
{
    size_t n = strlen(s);

    if (n < 1 || n > KT_SIGNAL_CODE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= '0' && s[i] <= '9') || strchr("_-+.", s[i]) != NULL))
            return 0;
    return 1;
}

static void s_codes(kt_signal_conf_t *c, const config_setting_t *list, const char *name,
                    kt_conf_errors_t *e)
{
    int i, n = config_setting_length(list);

    if (!config_setting_is_list(list) || n < 1) {
        s_err(e, name, config_setting_source_line(list), "codes: must be a list ( {...}, ... )");
        return;
    }
    if (n > KT_SIGNAL_CODES_MAX) {
        s_err(e, name, config_setting_source_line(list), "codes: at most %d codes",
              KT_SIGNAL_CODES_MAX);
        return;
    }
    for (i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
        const char *code = NULL, *cat = NULL;
        int line = config_setting_source_line(g), b = 0;
        kt_signal_code_t *k = &c->codes[c->ncodes];

        if (!config_setting_is_group(g) || !config_setting_lookup_string(g, "code", &code) ||
            !s_code_valid(code)) {
            s_err(e, name, line,
                  "codes: each entry needs code = \"...\" (1-%d of A-Z a-z 0-9 _ - + .)",
                  KT_SIGNAL_CODE_MAX);
            continue;
        }
        if (kt_signal_conf_code(c, code) != NULL) {
            s_err(e, name, line, "codes: code '%s' is mapped twice", code);
            continue;
        }
        if (!config_setting_lookup_string(g, "categorie", &cat) ||
            kt_signal_cat_parse(cat, &k->cat) != 0) {
            s_err(e, name, line,
                  "codes: code '%s' needs categorie = one of aanwezig, ziek, verlof, geoorloofd, "
                  "ongeoorloofd, te_laat, luxe",
                  code);
            continue;
        }
        for (int j = 0; j < config_setting_length(g); j++) {
            const char *key = config_setting_name(config_setting_get_elem(g, (unsigned)j));

            if (strcmp(key, "code") && strcmp(key, "categorie") && strcmp(key, "onduidelijk") &&
                strcmp(key, "opvallend"))
                s_err(e, name, line, "codes: code '%s': unknown setting '%s'", code, key);
        }
        if (config_setting_lookup_bool(g, "onduidelijk", &b) && b)
            k->flags |= KT_SIGNAL_ONDUIDELIJK;
        if (config_setting_lookup_bool(g, "opvallend", &b) && b)
            k->flags |= KT_SIGNAL_OPVALLEND;
        if (k->flags && k->cat != KT_CAT_ZIEK) {
            s_err(e, name, line, "codes: code '%s': onduidelijk and opvallend need categorie ziek",
                  code);
            continue;
        }
        snprintf(k->code, sizeof(k->code), "%s", code);
        c->ncodes++;
    }
}

static void s_conf(kt_signal_conf_t *c, const config_t *cfg, const char *name, kt_conf_errors_t *e)
{
    const config_setting_t *root = config_root_setting(cfg), *codes, *rules;
    int64_t v;
    int i;

    for (i = 0; i < config_setting_length(root); i++) {
        const char *key = config_setting_name(config_setting_get_elem(root, (unsigned)i));

        if (strcmp(key, "retention_days") && strcmp(key, "codes") && strcmp(key, "rules"))
            s_err(e, name, config_setting_source_line(config_setting_get_elem(root, (unsigned)i)),
                  "unknown setting '%s'", key);
    }
    if (s_int(root, "retention_days", 1, KT_SIGNAL_RETENTION_MAX, &v, name, e) == 0)
        c->retention_days = (int)v;
    if ((codes = config_setting_get_member(root, "codes")) == NULL)
        s_err(e, name, 0, "'codes' is required: the mapping of the school's absence codes");
    else
        s_codes(c, codes, name, e);
    if ((rules = config_setting_get_member(root, "rules")) == NULL ||
        !config_setting_is_group(rules)) {
        s_err(e, name, 0, "'rules' is required: a group with the regional thresholds");
        return;
    }
    for (i = 0; i < config_setting_length(rules); i++) {
        const config_setting_t *g = config_setting_get_elem(rules, (unsigned)i);
        kt_signal_rule_t r;

        if (kt_signal_rule_parse(config_setting_name(g), &r) != 0)
            s_err(e, name, config_setting_source_line(g), "rules: unknown rule '%s'",
                  config_setting_name(g));
        else
            s_rule(c, r, g, name, e);
    }
    if (config_setting_get_member(rules, "wettelijk_16u") == NULL)
        s_err(e, name, config_setting_source_line(rules),
              "rules.wettelijk_16u is required (the statutory 16-hour rule)");
}

int kt_signal_conf_parse(kt_signal_conf_t *out, const char *name, const char *text, size_t len,
                         kt_conf_errors_t *errs)
{
    config_t cfg;
    char *buf;
    size_t before = errs ? errs->count : 0;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if ((buf = malloc(len + 1)) == NULL)
        return KT_ENOMEM;
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (memchr(text, '\0', len) != NULL) {
        s_err(errs, name, 0, "not a text file");
        free(buf);
        return KT_ECONFIG;
    }
    config_init(&cfg);
    if (config_read_string(&cfg, buf) != CONFIG_TRUE) {
        s_err(errs, name, config_error_line(&cfg), "%s", config_error_text(&cfg));
        rc = KT_ECONFIG;
    } else {
        s_conf(out, &cfg, name, errs);
        if (errs == NULL || errs->count != before)
            rc = KT_ECONFIG;
    }
    config_destroy(&cfg);
    free(buf);
    if (rc != 0)
        memset(out, 0, sizeof(*out));
    return rc;
}

int kt_signal_conf_load(kt_signal_conf_t *out, const char *path, kt_conf_errors_t *errs)
{
    FILE *f = fopen(path, "re");
    char *buf = NULL;
    size_t n;
    int rc;

    memset(out, 0, sizeof(*out));
    if (f == NULL) {
        s_err(errs, path, 0, "cannot open (%s); see docs/signals.md", strerror(errno));
        return errno == ENOENT ? KT_ENOENT : KT_EIO;
    }
    if ((buf = malloc(KT_CONF_FILE_MAX + 1)) == NULL) {
        fclose(f);
        return KT_ENOMEM;
    }
    n = fread(buf, 1, KT_CONF_FILE_MAX + 1, f);
    if (ferror(f) || n > KT_CONF_FILE_MAX) {
        s_err(errs, path, 0, ferror(f) ? "cannot read" : "larger than 1 MiB");
        rc = KT_ECONFIG;
    } else {
        rc = kt_signal_conf_parse(out, path, buf, n, errs);
    }
    fclose(f);
    free(buf);
    return rc;
}

const kt_signal_code_t *kt_signal_conf_code(const kt_signal_conf_t *c, const char *code)
{
    for (size_t i = 0; i < c->ncodes; i++)
        if (strcmp(c->codes[i].code, code) == 0)
            return &c->codes[i];
    return NULL;
}

/* ---- CSV ---- */

enum { S_NUMBER, S_ID, S_BIRTH, S_DATE, S_PLANNED, S_ABSENT, S_CODE, S_NCOLS };

static const char *const s_cols[S_NCOLS] = {
    "leerlingnummer", "leerling_id", "geboortedatum", "datum", "lestijd_min", "afwezig_min", "code",
};

#define S_FIELDS_MAX 64
#define S_FIELD_MAX 256

/* One line's fields, as libcsv hands them over. */
typedef struct s_line {
    char f[S_FIELDS_MAX][S_FIELD_MAX + 1];
    size_t n;
    int too_many, too_long;
} s_line_t;

static void s_on_field(void *s, size_t len, void *ctx)
{
    s_line_t *l = ctx;

    if (l->n >= S_FIELDS_MAX) {
        l->too_many = 1;
        return;
    }
    if (len > S_FIELD_MAX) {
        l->too_long = (int)l->n + 1;
        len = 0;
    }
    if (len > 0)
        memcpy(l->f[l->n], s, len);
    l->f[l->n][len] = '\0';
    l->n++;
}

static void s_on_row(int c, void *ctx)
{
    (void)c;
    (void)ctx;
}

/* Splits one physical line (no newline) into l. */
static int s_split_line(s_line_t *l, const char *p, size_t len, unsigned char delim)
{
    struct csv_parser cp;
    int rc = 0;

    memset(l, 0, sizeof(*l));
    if (csv_init(&cp, CSV_STRICT | CSV_STRICT_FINI) != 0)
        return KT_ENOMEM;
    csv_set_delim(&cp, delim);
    if (csv_parse(&cp, p, len, s_on_field, s_on_row, l) != len ||
        csv_fini(&cp, s_on_field, s_on_row, l) != 0)
        rc = KT_EMALFORMED;
    csv_free(&cp);
    return rc;
}

/* A whole number of minutes: "-" -> *neg, digits only, at most 5 of them. */
static int s_minutes(const char *s, int *out, int *neg)
{
    long v = 0;

    *neg = s[0] == '-';
    if (*neg)
        s++;
    if (*s == '\0' || strlen(s) > 5)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
    }
    *out = (int)v;
    return 0;
}

static int s_is_date(const char *s)
{
    kt_signal_hit_t h;
    kt_signal_conf_t c;
    kt_signal_day_t day;

    /* kt_signal_evaluate checks its date strictly and touches nothing else
     * with an empty configuration and no days. */
    memset(&c, 0, sizeof(c));
    memset(&day, 0, sizeof(day));
    return kt_signal_evaluate(&c, &day, 0, s, &h, 0) == 0;
}

static int s_number_valid(const char *s)
{
    size_t n = strlen(s);

    if (n < 1 || n > KT_SIGNAL_NUMBER_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
            return 0;
    return 1;
}

#define S_COLERR(col, ...) kt_diag_set(d, KT_EMALFORMED, "line %zu, column %d (%s): " __VA_ARGS__)

/* One data line into r; map[c] is the field index of column c. */
static int s_row(kt_signal_row_t *r, const s_line_t *l, const int *map, size_t line,
                 const kt_signal_conf_t *c, kt_diag_t *d)
{
    const kt_signal_code_t *code;
    int neg;

#define COL(k) (map[k] + 1), s_cols[k]
    for (int k = 0; k < S_NCOLS; k++)
        if ((size_t)map[k] >= l->n)
            return S_COLERR(k, "missing (the line has %zu fields)", line, COL(k), l->n);
    if (!s_number_valid(l->f[map[S_NUMBER]]))
        return S_COLERR(S_NUMBER, "not a pupil number (1-%d of A-Z a-z 0-9 - _)", line,
                        COL(S_NUMBER), KT_SIGNAL_NUMBER_MAX);
    if (!kt_record_is_bsn(l->f[map[S_ID]]) && !kt_record_is_onderwijsnummer(l->f[map[S_ID]]))
        return S_COLERR(S_ID, "not a BSN or onderwijsnummer (9 digits that pass the elfproef)",
                        line, COL(S_ID));
    if (!s_is_date(l->f[map[S_BIRTH]]))
        return S_COLERR(S_BIRTH, "not a date (YYYY-MM-DD)", line, COL(S_BIRTH));
    if (!s_is_date(l->f[map[S_DATE]]))
        return S_COLERR(S_DATE, "not a date (YYYY-MM-DD)", line, COL(S_DATE));
    if (s_minutes(l->f[map[S_PLANNED]], &r->lestijd, &neg) != 0)
        return S_COLERR(S_PLANNED, "not a whole number of minutes", line, COL(S_PLANNED));
    if (neg)
        return S_COLERR(S_PLANNED, "negative", line, COL(S_PLANNED));
    if (r->lestijd > KT_SIGNAL_DAY_MINUTES)
        return S_COLERR(S_PLANNED, "more than %d minutes in one day", line, COL(S_PLANNED),
                        KT_SIGNAL_DAY_MINUTES);
    if (s_minutes(l->f[map[S_ABSENT]], &r->afwezig, &neg) != 0)
        return S_COLERR(S_ABSENT, "not a whole number of minutes", line, COL(S_ABSENT));
    if (neg)
        return S_COLERR(S_ABSENT, "negative", line, COL(S_ABSENT));
    if (r->afwezig > r->lestijd)
        return S_COLERR(S_ABSENT, "more minutes absent than planned (lestijd_min)", line,
                        COL(S_ABSENT));
    if (l->f[map[S_CODE]][0] == '\0') {
        if (r->afwezig > 0)
            return S_COLERR(S_CODE, "required when afwezig_min is more than 0", line, COL(S_CODE));
        r->cat = KT_CAT_AANWEZIG;
    } else if ((code = kt_signal_conf_code(c, l->f[map[S_CODE]])) == NULL) {
        return S_COLERR(S_CODE, "unknown absence code; map it in signals.conf (codes)", line,
                        COL(S_CODE));
    } else {
        r->cat = code->cat;
        r->flags = code->flags;
    }
#undef COL
    memcpy(r->number, l->f[map[S_NUMBER]], strlen(l->f[map[S_NUMBER]]) + 1);
    memcpy(r->leerling_id, l->f[map[S_ID]], KT_LEERLING_ID_BYTES + 1);
    memcpy(r->geboortedatum, l->f[map[S_BIRTH]], KT_SIGNAL_DATE_BYTES);
    memcpy(r->datum, l->f[map[S_DATE]], KT_SIGNAL_DATE_BYTES);
    return 0;
}

/* The header line: where each column is. */
static int s_header(const s_line_t *l, int *map, kt_diag_t *d)
{
    for (int k = 0; k < S_NCOLS; k++) {
        map[k] = -1;
        for (size_t i = 0; i < l->n; i++)
            if (strcmp(l->f[i], s_cols[k]) == 0) {
                if (map[k] >= 0)
                    return kt_diag_set(d, KT_EMALFORMED, "line 1: column '%s' appears twice",
                                       s_cols[k]);
                map[k] = (int)i;
            }
        if (map[k] < 0)
            return kt_diag_set(d, KT_EMALFORMED,
                               "line 1: missing column '%s' (the header needs leerlingnummer, "
                               "leerling_id, geboortedatum, datum, lestijd_min, afwezig_min, code)",
                               s_cols[k]);
    }
    return 0;
}

void kt_signal_rows_free(kt_signal_row_t *rows, size_t n)
{
    if (rows == NULL)
        return;
    explicit_bzero(rows, n * sizeof(*rows));
    free(rows);
}

int kt_signal_csv_parse(kt_signal_row_t **rows, size_t *n, const char *csv, size_t len,
                        const kt_signal_conf_t *c, kt_diag_t *d)
{
    kt_signal_row_t *out = NULL;
    s_line_t *l = NULL;
    size_t line = 0, nrows = 0, cap = 0, pos = 0;
    unsigned char delim = ',';
    int map[S_NCOLS], rc = 0, have_header = 0;

    *rows = NULL;
    *n = 0;
    if (len > KT_SIGNAL_CSV_MAX_BYTES)
        return kt_diag_set(d, KT_ETOOBIG,
                           "the file is larger than %d bytes; import it in parts "
                           "(rows that repeat replace, never add up)",
                           KT_SIGNAL_CSV_MAX_BYTES);
    if (memchr(csv, '\0', len) != NULL)
        return kt_diag_set(d, KT_EMALFORMED, "not a text file (it holds a NUL byte)");
    if ((l = malloc(sizeof(*l))) == NULL)
        return kt_diag_set(d, KT_ENOMEM, "out of memory");
    if (len >= 3 && memcmp(csv, "\xef\xbb\xbf", 3) == 0)
        pos = 3; /* a UTF-8 byte order mark, as spreadsheets write it */
    while (pos < len) {
        const char *p = csv + pos, *nl = memchr(p, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - p) : len - pos;

        pos += ll + (nl != NULL);
        line++;
        if (ll > 0 && p[ll - 1] == '\r')
            ll--;
        if (ll == 0)
            continue;
        if (!have_header && memchr(p, ';', ll) != NULL && memchr(p, ',', ll) == NULL)
            delim = ';'; /* Dutch spreadsheets separate with ; */
        if (s_split_line(l, p, ll, delim) != 0) {
            rc = kt_diag_set(d, KT_EMALFORMED,
                             "line %zu: malformed CSV (a quote is not closed "
                             "or stray quote inside a field)",
                             line);
            goto out;
        }
        if (l->too_many || l->too_long) {
            rc = l->too_many
                     ? kt_diag_set(d, KT_EMALFORMED, "line %zu: more than %d columns", line,
                                   S_FIELDS_MAX)
                     : kt_diag_set(d, KT_EMALFORMED, "line %zu, column %d: longer than %d bytes",
                                   line, l->too_long, S_FIELD_MAX);
            goto out;
        }
        if (!have_header) {
            if (line != 1) {
                rc = kt_diag_set(d, KT_EMALFORMED, "line 1: the header line is missing");
                goto out;
            }
            if ((rc = s_header(l, map, d)) != 0)
                goto out;
            have_header = 1;
            continue;
        }
        if (nrows >= KT_SIGNAL_ROWS_MAX) {
            rc = kt_diag_set(d, KT_ETOOBIG, "line %zu: more than %d rows; import in parts", line,
                             KT_SIGNAL_ROWS_MAX);
            goto out;
        }
        if (nrows == cap) {
            kt_signal_row_t *g = calloc(cap + 256, sizeof(*g));

            if (g == NULL) {
                rc = kt_diag_set(d, KT_ENOMEM, "out of memory");
                goto out;
            }
            if (out != NULL)
                memcpy(g, out, nrows * sizeof(*g));
            kt_signal_rows_free(out, cap);
            out = g;
            cap += 256;
        }
        memset(&out[nrows], 0, sizeof(out[nrows]));
        if ((rc = s_row(&out[nrows], l, map, line, c, d)) != 0)
            goto out;
        nrows++;
    }
    if (!have_header) {
        rc = kt_diag_set(d, KT_EMALFORMED, "the file is empty (no header line)");
        goto out;
    }
    *rows = out;
    *n = nrows;
    out = NULL;
out:
    if (l != NULL) {
        explicit_bzero(l, sizeof(*l));
        free(l);
    }
    kt_signal_rows_free(out, cap);
    return rc;
}
