/*
 * registry.c - imported lists of pupils: the CSV parser (libcsv), the
 * registry_list and registry_entry tables, reading a list back decrypted,
 * and retention.
 *
 * Owns the list format of docs/reconcile.md. Joins signal_import.c as a
 * user of csv.h: both imports split lines the same way. Everything is
 * checked before anything is stored, and a list is replaced in one
 * transaction. Each row's payload is locked under the pupil's own key with
 * the list and the subject as associated data, so a row cannot be moved to
 * another list or pupil. Must never put a cell's value in a diagnostic,
 * never store a payload unlocked, and never keep plaintext after use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>

#include "keten/audit.h"
#include "keten/registry.h"
#include "keten/subject.h"
#include "keten/trail.h"

/* ---- names and dates ---- */

int kt_registry_name_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n < 1 || n > KT_REGISTRY_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              s[i] == '-'))
            return 0;
    return 1;
}

/* Days since 1970-01-01 of a civil date (H. Hinnant's algorithm). */
static int64_t s_days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void s_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int s_month_days(int64_t y, int m)
{
    static const int md[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return md[m - 1];
}

int kt_registry_date_days(const char *s, int64_t *days)
{
    int y = 0, m = 0, d = 0;

    if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return KT_EINVAL;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return KT_EINVAL;
    y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    m = (s[5] - '0') * 10 + (s[6] - '0');
    d = (s[8] - '0') * 10 + (s[9] - '0');
    if (y < 1900 || m < 1 || m > 12 || d < 1 || d > s_month_days(y, m))
        return KT_EINVAL;
    *days = s_days_from_civil(y, m, d);
    return 0;
}

void kt_registry_days_date(char out[KT_REGISTRY_DATE_BYTES], int64_t days)
{
    int64_t y;
    int m, d;

    unsigned yy;

    s_civil_from_days(days, &y, &m, &d);
    yy = (unsigned)(y % 10000 + 10000) % 10000;
    out[0] = (char)('0' + yy / 1000);
    out[1] = (char)('0' + yy / 100 % 10);
    out[2] = (char)('0' + yy / 10 % 10);
    out[3] = (char)('0' + yy % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10);
    out[6] = (char)('0' + m % 10);
    out[7] = '-';
    out[8] = (char)('0' + d / 10);
    out[9] = (char)('0' + d % 10);
    out[10] = '\0';
}

int64_t kt_registry_add_months(int64_t days, int n)
{
    int64_t y, mm;
    int m, d, md;

    s_civil_from_days(days, &y, &m, &d);
    mm = (int64_t)(m - 1) + n;
    y += mm >= 0 ? mm / 12 : (mm - 11) / 12;
    m = (int)(((mm % 12) + 12) % 12) + 1;
    md = s_month_days(y, m);
    return s_days_from_civil(y, m, d > md ? md : d);
}

/* ---- CSV ---- */

enum {
    C_ID,
    C_BIRTH,
    C_SOORT,
    C_GEMEENTE,
    C_BRIN,
    C_INGESCHREVEN,
    C_VERZUIM,
    C_BEGIN,
    C_EIND,
    C_REQUIRED, /* the columns above are required, those below optional */
    C_SWV = C_REQUIRED,
    C_VRIJSTELLING,
    C_GESCHORST,
    C_BELASTBAARHEID,
    C_PCT,
    C_NCOLS
};

static const char *const s_cols[C_NCOLS] = {
    "leerling_id",  "geboortedatum", "onderwijssoort", "woongemeente",     "brin",
    "ingeschreven", "verzuim",       "begindatum",     "einddatum",        "swv",
    "vrijstelling", "geschorst",     "belastbaarheid", "aanwezigheid_pct",
};

static const char *const s_soort[] = {
    "po", "sbo", "so", "vo", "vso", "pro", "mbo", "geen_onderwijs", "onbekend", NULL};
static const char *const s_vrij[] = {"art_3a",  "art_3b", "art_5a", "art_5b",   "art_5c",
                                     "art_11g", "art_15", "geen",   "onbekend", NULL};
static const char *const s_belast[] = {"geen_advies", "volledig", "gedeeltelijk",
                                       "niet",        "onbekend", NULL};

#define S_FIELDS_MAX 32
#define S_FIELD_MAX 64

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
        if (!l->too_long)
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

static int s_in(const char *s, const char *const *set)
{
    for (; *set != NULL; set++)
        if (strcmp(s, *set) == 0)
            return 1;
    return 0;
}

static int s_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int s_alnum_upper(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
}

/* 2 digits + 2 of [0-9A-Z], optionally + a 2-digit vestigingsnummer. */
static int s_brin_valid(const char *s)
{
    size_t n = strlen(s);

    return (n == 4 || n == 6) && s_digits(s, 2) && s_alnum_upper(s[2]) && s_alnum_upper(s[3]) &&
           (n == 4 || s_digits(s + 4, 2));
}

static int s_tri(const char *s, kt_registry_tri_t *out)
{
    if (strcmp(s, "ja") == 0)
        *out = KT_REG_JA;
    else if (strcmp(s, "nee") == 0)
        *out = KT_REG_NEE;
    else if (strcmp(s, "onbekend") == 0)
        *out = KT_REG_ONBEKEND;
    else
        return -1;
    return 0;
}

static int s_verzuim(const char *s, kt_registry_verzuim_t *out)
{
    if (strcmp(s, "ongeoorloofd") == 0)
        *out = KT_VERZUIM_ONGEOORLOOFD;
    else if (strcmp(s, "geoorloofd") == 0)
        *out = KT_VERZUIM_GEOORLOOFD;
    else if (strcmp(s, "geen") == 0)
        *out = KT_VERZUIM_GEEN;
    else if (strcmp(s, "onbekend") == 0)
        *out = KT_VERZUIM_ONBEKEND;
    else
        return -1;
    return 0;
}

#define S_CELL(k) l->f[map[k]]
#define S_COLERR(k, what)                                                                          \
    kt_diag_set(d, KT_EMALFORMED, "line %zu, column %d (%s): %s", line, map[k] + 1, s_cols[k], what)

/* The optional columns: "" when the list has no such column. */
static int s_row_optional(kt_registry_entry_t *e, const s_line_t *l, const int *map, size_t line,
                          kt_diag_t *d)
{
    long pct = 0;

    e->geschorst = KT_REG_ABSENT;
    e->aanwezigheid_pct = KT_REG_PCT_ABSENT;
    if (map[C_SWV] >= 0) {
        const char *s = S_CELL(C_SWV);

        if (strcmp(s, "onbekend") != 0 &&
            !(strlen(s) == 6 && (strncmp(s, "PO", 2) == 0 || strncmp(s, "VO", 2) == 0) &&
              s_digits(s + 2, 4)))
            return S_COLERR(C_SWV,
                            "not an SWV code (PO or VO + 4 digits, e.g. VO2506) or onbekend");
        snprintf(e->swv, sizeof(e->swv), "%s", s);
    }
    if (map[C_VRIJSTELLING] >= 0) {
        if (!s_in(S_CELL(C_VRIJSTELLING), s_vrij))
            return S_COLERR(C_VRIJSTELLING, "not a vrijstelling code (art_3a, art_3b, art_5a, "
                                            "art_5b, art_5c, art_11g, art_15, geen, onbekend)");
        snprintf(e->vrijstelling, sizeof(e->vrijstelling), "%s", S_CELL(C_VRIJSTELLING));
    }
    if (map[C_GESCHORST] >= 0 && s_tri(S_CELL(C_GESCHORST), &e->geschorst) != 0)
        return S_COLERR(C_GESCHORST, "must be ja, nee or onbekend");
    if (map[C_BELASTBAARHEID] >= 0) {
        if (!s_in(S_CELL(C_BELASTBAARHEID), s_belast))
            return S_COLERR(C_BELASTBAARHEID, "not a belastbaarheid code (geen_advies, volledig, "
                                              "gedeeltelijk, niet, onbekend)");
        snprintf(e->belastbaarheid, sizeof(e->belastbaarheid), "%s", S_CELL(C_BELASTBAARHEID));
    }
    if (map[C_PCT] >= 0) {
        const char *s = S_CELL(C_PCT);

        if (strcmp(s, "onbekend") == 0) {
            e->aanwezigheid_pct = KT_REG_PCT_ONBEKEND;
        } else {
            if (strlen(s) < 1 || strlen(s) > 3 || !s_digits(s, strlen(s)) ||
                (pct = strtol(s, NULL, 10)) > 100)
                return S_COLERR(C_PCT, "not a whole percentage 0 to 100, or onbekend");
            e->aanwezigheid_pct = (int)pct;
        }
    }
    return 0;
}

static int s_row(kt_registry_entry_t *e, const s_line_t *l, const int *map, size_t line,
                 kt_diag_t *d)
{
    int64_t birth, begin, end;

    for (int k = 0; k < C_NCOLS; k++)
        if (map[k] >= 0 && (size_t)map[k] >= l->n) {
            char what[64];

            snprintf(what, sizeof(what), "missing (the line has %zu fields)", l->n);
            return S_COLERR(k, what);
        }
    if (!kt_record_is_bsn(S_CELL(C_ID)) && !kt_record_is_onderwijsnummer(S_CELL(C_ID)))
        return S_COLERR(C_ID, "not a BSN or onderwijsnummer (9 digits that pass the elfproef)");
    if (kt_registry_date_days(S_CELL(C_BIRTH), &birth) != 0)
        return S_COLERR(C_BIRTH, "not a date (YYYY-MM-DD)");
    if (!s_in(S_CELL(C_SOORT), s_soort))
        return S_COLERR(C_SOORT, "not an onderwijssoort (po, sbo, so, vo, vso, pro, mbo, "
                                 "geen_onderwijs, onbekend)");
    if (strcmp(S_CELL(C_GEMEENTE), "onbekend") != 0 &&
        !(strlen(S_CELL(C_GEMEENTE)) == 4 && s_digits(S_CELL(C_GEMEENTE), 4)))
        return S_COLERR(C_GEMEENTE, "not a CBS gemeentecode (4 digits) or onbekend");
    if (strcmp(S_CELL(C_BRIN), "onbekend") != 0 && strcmp(S_CELL(C_BRIN), "geen") != 0 &&
        !s_brin_valid(S_CELL(C_BRIN)))
        return S_COLERR(C_BRIN, "not a BRIN code (2 digits + 2 letters or digits, optionally + a "
                                "2-digit vestiging), geen or onbekend");
    if (s_tri(S_CELL(C_INGESCHREVEN), &e->ingeschreven) != 0)
        return S_COLERR(C_INGESCHREVEN, "must be ja, nee or onbekend");
    if (s_verzuim(S_CELL(C_VERZUIM), &e->verzuim) != 0)
        return S_COLERR(C_VERZUIM, "must be ongeoorloofd, geoorloofd, geen or onbekend");
    if (kt_registry_date_days(S_CELL(C_BEGIN), &begin) != 0)
        return S_COLERR(C_BEGIN, "not a date (YYYY-MM-DD)");
    if (begin < birth)
        return S_COLERR(C_BEGIN, "before geboortedatum");
    if (S_CELL(C_EIND)[0] != '\0') {
        if (kt_registry_date_days(S_CELL(C_EIND), &end) != 0)
            return S_COLERR(C_EIND, "not a date (YYYY-MM-DD), or empty while still at home");
        if (end < begin)
            return S_COLERR(C_EIND, "before begindatum");
    }
    if (s_row_optional(e, l, map, line, d) != 0)
        return KT_EMALFORMED;
    memcpy(e->leerling_id, S_CELL(C_ID), KT_LEERLING_ID_BYTES + 1);
    memcpy(e->geboortedatum, S_CELL(C_BIRTH), KT_REGISTRY_DATE_BYTES);
    snprintf(e->onderwijssoort, sizeof(e->onderwijssoort), "%s", S_CELL(C_SOORT));
    snprintf(e->woongemeente, sizeof(e->woongemeente), "%s", S_CELL(C_GEMEENTE));
    snprintf(e->brin, sizeof(e->brin), "%s", S_CELL(C_BRIN));
    memcpy(e->begindatum, S_CELL(C_BEGIN), KT_REGISTRY_DATE_BYTES);
    snprintf(e->einddatum, sizeof(e->einddatum), "%s", S_CELL(C_EIND));
    return 0;
}
#undef S_CELL
#undef S_COLERR

static int s_header(const s_line_t *l, int *map, kt_diag_t *d)
{
    for (int k = 0; k < C_NCOLS; k++)
        map[k] = -1;
    for (size_t i = 0; i < l->n; i++) {
        int k;

        for (k = 0; k < C_NCOLS && strcmp(l->f[i], s_cols[k]) != 0; k++)
            ;
        if (k == C_NCOLS)
            return kt_diag_set(d, KT_EMALFORMED,
                               "line 1, column %zu: not a column of a registry list (see "
                               "docs/reconcile.md)",
                               i + 1);
        if (map[k] >= 0)
            return kt_diag_set(d, KT_EMALFORMED, "line 1: column '%s' appears twice", s_cols[k]);
        map[k] = (int)i;
    }
    for (int k = 0; k < C_REQUIRED; k++)
        if (map[k] < 0)
            return kt_diag_set(d, KT_EMALFORMED,
                               "line 1: missing column '%s' (required: leerling_id, "
                               "geboortedatum, onderwijssoort, woongemeente, brin, ingeschreven, "
                               "verzuim, begindatum, einddatum)",
                               s_cols[k]);
    return 0;
}

void kt_registry_entries_free(kt_registry_entry_t *e, size_t n)
{
    if (e == NULL)
        return;
    explicit_bzero(e, n * sizeof(*e));
    free(e);
}

/* For the duplicate check: an entry's id and its line. */
typedef struct s_idline {
    const char *id;
    size_t line;
} s_idline_t;

static int s_idline_cmp(const void *a, const void *b)
{
    const s_idline_t *x = a, *y = b;
    int c = strcmp(x->id, y->id);

    return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

static int s_check_duplicates(const kt_registry_entry_t *e, const size_t *lines, size_t n,
                              int idcol, kt_diag_t *d)
{
    s_idline_t *v;
    size_t first = 0, second = 0;
    int rc = 0;

    if (n < 2)
        return 0;
    if ((v = calloc(n, sizeof(*v))) == NULL)
        return kt_diag_set(d, KT_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        v[i].id = e[i].leerling_id;
        v[i].line = lines[i];
    }
    qsort(v, n, sizeof(*v), s_idline_cmp);
    for (size_t i = 1; i < n; i++)
        if (strcmp(v[i - 1].id, v[i].id) == 0 && (second == 0 || v[i].line < second)) {
            first = v[i - 1].line;
            second = v[i].line;
        }
    if (second != 0)
        rc = kt_diag_set(d, KT_EMALFORMED,
                         "lines %zu and %zu, column %d (leerling_id): the same pupil twice; a "
                         "list holds each pupil once",
                         first, second, idcol);
    explicit_bzero(v, n * sizeof(*v));
    free(v);
    return rc;
}

static int s_grow(kt_registry_entry_t **out, size_t **lines, size_t *cap, size_t n, kt_diag_t *d)
{
    kt_registry_entry_t *g;
    size_t *gl;

    if (n < *cap)
        return 0;
    if ((g = calloc(*cap + 256, sizeof(*g))) == NULL ||
        (gl = realloc(*lines, (*cap + 256) * sizeof(*gl))) == NULL) {
        free(g);
        return kt_diag_set(d, KT_ENOMEM, "out of memory");
    }
    if (*out != NULL)
        memcpy(g, *out, n * sizeof(*g));
    kt_registry_entries_free(*out, *cap);
    *out = g;
    *lines = gl;
    *cap += 256;
    return 0;
}

static int s_line_error(const s_line_t *l, size_t line, kt_diag_t *d)
{
    if (l->too_many)
        return kt_diag_set(d, KT_EMALFORMED, "line %zu: more than %d columns", line, S_FIELDS_MAX);
    return kt_diag_set(d, KT_EMALFORMED, "line %zu, column %d: longer than %d bytes", line,
                       l->too_long, S_FIELD_MAX);
}

int kt_registry_csv_parse(kt_registry_entry_t **rows, size_t *n, const char *csv, size_t len,
                          kt_diag_t *d)
{
    kt_registry_entry_t *out = NULL;
    size_t *lines = NULL, line = 0, nrows = 0, cap = 0, pos = 0;
    s_line_t *l = NULL;
    unsigned char delim = ',';
    int map[C_NCOLS], rc = 0, have_header = 0;

    *rows = NULL;
    *n = 0;
    if (len > KT_REGISTRY_CSV_MAX_BYTES)
        return kt_diag_set(d, KT_ETOOBIG, "the file is larger than %d bytes",
                           KT_REGISTRY_CSV_MAX_BYTES);
    if (memchr(csv, '\0', len) != NULL)
        return kt_diag_set(d, KT_EMALFORMED, "not a text file (it holds a NUL byte)");
    if ((l = malloc(sizeof(*l))) == NULL)
        return kt_diag_set(d, KT_ENOMEM, "out of memory");
    if (len >= 3 && memcmp(csv, "\xef\xbb\xbf", 3) == 0)
        pos = 3;
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
            delim = ';';
        if (s_split_line(l, p, ll, delim) != 0) {
            rc = kt_diag_set(d, KT_EMALFORMED,
                             "line %zu: malformed CSV (a quote is not closed or a stray quote "
                             "inside a field)",
                             line);
            goto out;
        }
        if (l->too_many || l->too_long) {
            rc = s_line_error(l, line, d);
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
        if (nrows >= KT_REGISTRY_ROWS_MAX) {
            rc = kt_diag_set(d, KT_ETOOBIG, "line %zu: more than %d pupils in one list", line,
                             KT_REGISTRY_ROWS_MAX);
            goto out;
        }
        if ((rc = s_grow(&out, &lines, &cap, nrows, d)) != 0)
            goto out;
        memset(&out[nrows], 0, sizeof(out[nrows]));
        if ((rc = s_row(&out[nrows], l, map, line, d)) != 0)
            goto out;
        lines[nrows++] = line;
    }
    if (!have_header) {
        rc = kt_diag_set(d, KT_EMALFORMED, "the file is empty (no header line)");
        goto out;
    }
    if ((rc = s_check_duplicates(out, lines, nrows, map[C_ID] + 1, d)) != 0)
        goto out;
    *rows = out;
    *n = nrows;
    out = NULL;
out:
    explicit_bzero(l, sizeof(*l));
    free(l);
    free(lines);
    kt_registry_entries_free(out, cap);
    return rc;
}

/* ---- payload: "1|id|geboortedatum|soort|gemeente|brin|swv|ingeschreven|verzuim|
 *      vrijstelling|geschorst|belastbaarheid|begindatum|einddatum|pct" ---- */

#define S_PAYLOAD_MAX 256
#define S_PAYLOAD_FIELDS 15

static int s_payload(char out[S_PAYLOAD_MAX], const kt_registry_entry_t *e)
{
    int n =
        snprintf(out, S_PAYLOAD_MAX, "1|%s|%s|%s|%s|%s|%s|%d|%d|%s|%d|%s|%s|%s|%d", e->leerling_id,
                 e->geboortedatum, e->onderwijssoort, e->woongemeente, e->brin, e->swv,
                 (int)e->ingeschreven, (int)e->verzuim, e->vrijstelling, (int)e->geschorst,
                 e->belastbaarheid, e->begindatum, e->einddatum, e->aanwezigheid_pct);

    return n < 0 || n >= S_PAYLOAD_MAX ? KT_ETOOBIG : n;
}

static int s_copy_code(char *dst, size_t cap, const char *src)
{
    if (strlen(src) >= cap)
        return -1;
    memcpy(dst, src, strlen(src) + 1);
    return 0;
}

static int s_small_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

/* The payload back into e; every field is checked again (it was written by
 * this code, but a store is input too). */
static int s_unpayload(kt_registry_entry_t *e, char *p, size_t len)
{
    char *f[S_PAYLOAD_FIELDS], *save = NULL, *tok;
    size_t nf = 0;
    int tri[2], vz;

    memset(e, 0, sizeof(*e));
    if (len == 0 || len >= S_PAYLOAD_MAX || memchr(p, '\0', len) != NULL)
        return KT_EMALFORMED;
    p[len] = '\0';
    /* strsep keeps empty fields (swv, einddatum, ... may be "") */
    save = p;
    while ((tok = strsep(&save, "|")) != NULL) {
        if (nf == S_PAYLOAD_FIELDS)
            return KT_EMALFORMED;
        f[nf++] = tok;
    }
    if (nf != S_PAYLOAD_FIELDS || strcmp(f[0], "1") != 0)
        return KT_EMALFORMED;
    if (s_copy_code(e->leerling_id, sizeof(e->leerling_id), f[1]) ||
        s_copy_code(e->geboortedatum, sizeof(e->geboortedatum), f[2]) ||
        s_copy_code(e->onderwijssoort, sizeof(e->onderwijssoort), f[3]) ||
        s_copy_code(e->woongemeente, sizeof(e->woongemeente), f[4]) ||
        s_copy_code(e->brin, sizeof(e->brin), f[5]) || s_copy_code(e->swv, sizeof(e->swv), f[6]) ||
        s_small_int(f[7], KT_REG_ONBEKEND, KT_REG_JA, &tri[0]) ||
        s_small_int(f[8], KT_VERZUIM_ONBEKEND, KT_VERZUIM_GEOORLOOFD, &vz) ||
        s_copy_code(e->vrijstelling, sizeof(e->vrijstelling), f[9]) ||
        s_small_int(f[10], KT_REG_ABSENT, KT_REG_JA, &tri[1]) ||
        s_copy_code(e->belastbaarheid, sizeof(e->belastbaarheid), f[11]) ||
        s_copy_code(e->begindatum, sizeof(e->begindatum), f[12]) ||
        s_copy_code(e->einddatum, sizeof(e->einddatum), f[13]) ||
        s_small_int(f[14], KT_REG_PCT_ABSENT, 100, &e->aanwezigheid_pct))
        return KT_EMALFORMED;
    e->ingeschreven = (kt_registry_tri_t)tri[0];
    e->verzuim = (kt_registry_verzuim_t)vz;
    e->geschorst = (kt_registry_tri_t)tri[1];
    if (!kt_record_is_bsn(e->leerling_id) && !kt_record_is_onderwijsnummer(e->leerling_id))
        return KT_EMALFORMED;
    return 0;
}

/* AD: "registry_entry" 0x00 || list || 0x00 || subject */
static size_t s_ad(uint8_t *ad, const char *list, const uint8_t subject[KT_SUBJECT_BYTES])
{
    static const char tag[] = "registry_entry";
    size_t n = 0, ln = strlen(list);

    memcpy(ad, tag, sizeof(tag));
    n += sizeof(tag);
    memcpy(ad + n, list, ln + 1);
    n += ln + 1;
    memcpy(ad + n, subject, KT_SUBJECT_BYTES);
    return n + KT_SUBJECT_BYTES;
}

#define S_AD_MAX (16 + KT_REGISTRY_NAME_MAX + 1 + KT_SUBJECT_BYTES)

/* ---- store ---- */

typedef struct s_sorted {
    uint8_t subject[KT_SUBJECT_BYTES];
    size_t idx;
} s_sorted_t;

static int s_sorted_cmp(const void *a, const void *b)
{
    return memcmp(((const s_sorted_t *)a)->subject, ((const s_sorted_t *)b)->subject,
                  KT_SUBJECT_BYTES);
}

/* Inserts one entry (its key created if needed). */
static int s_insert_entry(kt_store_t *st, const kt_vault_t *v, kt_stmt_t *q, const char *name,
                          const kt_registry_entry_t *e, const uint8_t subject[KT_SUBJECT_BYTES],
                          kt_diag_t *d)
{
    kt_vault_key_t *k = NULL;
    uint8_t ad[S_AD_MAX], *locked = NULL;
    size_t adlen = s_ad(ad, name, subject), llen = 0;
    char plain[S_PAYLOAD_MAX];
    int rc, pn;

    if ((pn = s_payload(plain, e)) < 0)
        return kt_diag_set(d, KT_ETOOBIG, "a registry entry is too long");
    if ((rc = kt_subject_get_key(&k, st, v, subject, 1, d)) != 0 ||
        (rc = kt_vault_lock_subject(&locked, &llen, (const uint8_t *)plain, (size_t)pn, ad, adlen,
                                    k, d)) != 0)
        goto out;
    kt_stmt_reset(q);
    if ((rc = kt_stmt_bind_text(q, 1, name)) != 0 ||
        (rc = kt_stmt_bind_blob(q, 2, subject, KT_SUBJECT_BYTES)) != 0 ||
        (rc = kt_stmt_bind_blob(q, 3, locked, llen)) != 0) {
        rc = kt_diag_set(d, rc, "registry: cannot bind an entry");
        goto out;
    }
    rc = kt_stmt_step(q, d);
    if (rc == KT_EEXIST)
        rc = kt_diag_set(d, KT_EEXIST, "registry: the same pupil twice in one list");
    else if (rc == KT_STORE_DONE)
        rc = 0;
out:
    explicit_bzero(plain, sizeof(plain));
    kt_vault_free(locked, llen);
    kt_vault_key_destroy(&k);
    return rc;
}

static int s_exists(kt_store_t *st, const char *name, int *yes, kt_diag_t *d)
{
    kt_registry_info_t old;
    int rc = kt_registry_info(&old, st, name, d);

    *yes = rc == 0;
    return rc == KT_ENOENT ? 0 : rc;
}

/* The list digest: BLAKE2b over each entry's subject and payload, in
 * subject order, so it does not depend on row order and cannot be
 * recomputed without the node's key. */
static int s_digest(uint8_t out[KT_REGISTRY_DIGEST_BYTES], const kt_registry_entry_t *e,
                    const s_sorted_t *s, size_t n, kt_diag_t *d)
{
    size_t cap = n * (KT_SUBJECT_BYTES + S_PAYLOAD_MAX) + 1, used = 0;
    uint8_t *buf = malloc(cap);

    if (buf == NULL)
        return kt_diag_set(d, KT_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        int pn;

        memcpy(buf + used, s[i].subject, KT_SUBJECT_BYTES);
        used += KT_SUBJECT_BYTES;
        if ((pn = s_payload((char *)buf + used, &e[s[i].idx])) < 0) {
            explicit_bzero(buf, cap);
            free(buf);
            return kt_diag_set(d, KT_ETOOBIG, "a registry entry is too long");
        }
        used += (size_t)pn + 1; /* with its NUL: entries cannot run into each other */
    }
    kt_vault_digest(out, buf, used);
    explicit_bzero(buf, cap);
    free(buf);
    return 0;
}

static int s_insert_list(kt_store_t *st, const kt_registry_info_t *info, kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    int rc;

    if ((rc = kt_store_prepare(st, &q, "DELETE FROM registry_list WHERE name = ?", d)) != 0)
        return rc;
    if ((rc = kt_stmt_bind_text(q, 1, info->name)) != 0 ||
        (rc = kt_stmt_step(q, d)) != KT_STORE_DONE) {
        kt_stmt_finalize(&q);
        return rc < 0 ? rc : KT_EIO;
    }
    kt_stmt_finalize(&q);
    if ((rc = kt_store_prepare(st, &q,
                               "INSERT INTO registry_list (name, imported, rows, digest, expires)"
                               " VALUES (?, ?, ?, ?, ?)",
                               d)) != 0)
        return rc;
    if ((rc = kt_stmt_bind_text(q, 1, info->name)) != 0 ||
        (rc = kt_stmt_bind_int64(q, 2, info->imported)) != 0 ||
        (rc = kt_stmt_bind_int64(q, 3, info->rows)) != 0 ||
        (rc = kt_stmt_bind_blob(q, 4, info->digest, KT_REGISTRY_DIGEST_BYTES)) != 0 ||
        (rc = kt_stmt_bind_text(q, 5, info->expires)) != 0)
        rc = kt_diag_set(d, rc, "registry: cannot bind a list");
    else
        rc = kt_stmt_step(q, d) == KT_STORE_DONE ? 0 : KT_EIO;
    kt_stmt_finalize(&q);
    return rc;
}

static int s_import_rows(kt_store_t *st, const kt_vault_t *v, const kt_registry_info_t *info,
                         const kt_registry_entry_t *e, const s_sorted_t *s, size_t n, kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    int rc;

    if ((rc = s_insert_list(st, info, d)) != 0)
        return rc;
    if ((rc = kt_store_prepare(
             st, &q, "INSERT INTO registry_entry (list, subject, payload) VALUES (?, ?, ?)", d)) !=
        0)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = s_insert_entry(st, v, q, info->name, &e[s[i].idx], s[i].subject, d);
    kt_stmt_finalize(&q);
    return rc;
}

/* The audit entry of an import: list name and size, never a pupil. */
static int s_audit(kt_store_t *st, const kt_registry_info_t *li, int replaced, const char *actor,
                   kt_diag_t *d)
{
    char reason[KT_AUDIT_REASON_MAX + 1];
    kt_trail_t t;

    memset(&t, 0, sizeof(t));
    snprintf(reason, sizeof(reason), "list %s: %lld rows, expires %s", li->name,
             (long long)li->rows, li->expires);
    t.actor = actor;
    t.action = KT_AUDIT_REGISTRY_IMPORTED;
    t.decision = replaced ? "replaced" : "imported";
    t.record_type = "registry_list";
    t.reason = reason;
    return kt_trail_write(st, &t, d);
}

int kt_registry_import(kt_store_t *st, const kt_vault_t *v, const char *name,
                       const kt_registry_entry_t *e, size_t n, const char *today,
                       int retention_days, int64_t imported, const char *actor,
                       kt_registry_info_t *info, kt_diag_t *d)
{
    kt_registry_info_t li;
    s_sorted_t *s = NULL;
    int64_t t;
    int rc, replaced = 0;

    memset(&li, 0, sizeof(li));
    if (!kt_registry_name_valid(name))
        return kt_diag_set(d, KT_EINVAL, "a list name is 1 to %d of a-z, 0-9, '_' and '-'",
                           KT_REGISTRY_NAME_MAX);
    if (retention_days < 1 || retention_days > KT_REGISTRY_RETENTION_MAX)
        return kt_diag_set(d, KT_EINVAL, "retention: 1 to %d days", KT_REGISTRY_RETENTION_MAX);
    if (kt_registry_date_days(today, &t) != 0)
        return kt_diag_set(d, KT_EINVAL, "today: not a date (YYYY-MM-DD)");
    if (n > KT_REGISTRY_ROWS_MAX)
        return kt_diag_set(d, KT_ETOOBIG, "more than %d pupils in one list", KT_REGISTRY_ROWS_MAX);
    snprintf(li.name, sizeof(li.name), "%s", name);
    li.imported = imported;
    li.rows = (int64_t)n;
    kt_registry_days_date(li.expires, t + retention_days);
    if (n > 0 && (s = calloc(n, sizeof(*s))) == NULL)
        return kt_diag_set(d, KT_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        s[i].idx = i;
        if ((rc = kt_vault_subject(s[i].subject, v, e[i].leerling_id, d)) != 0)
            goto out;
    }
    if (n > 0)
        qsort(s, n, sizeof(*s), s_sorted_cmp);
    for (size_t i = 1; i < n; i++)
        if (memcmp(s[i - 1].subject, s[i].subject, KT_SUBJECT_BYTES) == 0) {
            rc = kt_diag_set(d, KT_EEXIST, "registry: the same pupil twice in one list");
            goto out;
        }
    if ((rc = s_digest(li.digest, e, s, n, d)) != 0 || (rc = kt_store_begin(st, d)) != 0)
        goto out;
    if ((rc = s_exists(st, name, &replaced, d)) != 0 ||
        (rc = s_import_rows(st, v, &li, e, s, n, d)) != 0 ||
        (actor != NULL && (rc = s_audit(st, &li, replaced, actor, d)) != 0) ||
        (rc = kt_store_commit(st, d)) != 0) {
        kt_store_rollback(st);
        goto out;
    }
    if (info != NULL)
        *info = li;
out:
    free(s);
    return rc;
}

static void s_info_row(kt_registry_info_t *o, kt_stmt_t *q)
{
    const char *name = kt_stmt_column_text(q, 0), *exp = kt_stmt_column_text(q, 4);
    const void *dg = kt_stmt_column_blob(q, 3);

    memset(o, 0, sizeof(*o));
    snprintf(o->name, sizeof(o->name), "%s", name ? name : "");
    o->imported = kt_stmt_column_int64(q, 1);
    o->rows = kt_stmt_column_int64(q, 2);
    if (dg != NULL && kt_stmt_column_bytes(q, 3) == KT_REGISTRY_DIGEST_BYTES)
        memcpy(o->digest, dg, KT_REGISTRY_DIGEST_BYTES);
    snprintf(o->expires, sizeof(o->expires), "%s", exp ? exp : "");
}

int kt_registry_info(kt_registry_info_t *out, kt_store_t *st, const char *name, kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!kt_registry_name_valid(name))
        return kt_diag_set(d, KT_EINVAL, "a list name is 1 to %d of a-z, 0-9, '_' and '-'",
                           KT_REGISTRY_NAME_MAX);
    if ((rc = kt_store_prepare(st, &q,
                               "SELECT name, imported, rows, digest, expires FROM registry_list"
                               " WHERE name = ?",
                               d)) != 0)
        return rc;
    if ((rc = kt_stmt_bind_text(q, 1, name)) != 0) {
        kt_stmt_finalize(&q);
        return kt_diag_set(d, rc, "registry: cannot bind a name");
    }
    rc = kt_stmt_step(q, d);
    if (rc == KT_STORE_ROW) {
        s_info_row(out, q);
        rc = 0;
    } else if (rc == KT_STORE_DONE) {
        rc = kt_diag_set(d, KT_ENOENT,
                         "no list '%s' (import it with: ketenctl registry import --list %s FILE)",
                         name, name);
    }
    kt_stmt_finalize(&q);
    return rc;
}

int kt_registry_lists(kt_registry_info_t **out, size_t *n, kt_store_t *st, kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    kt_registry_info_t *v = NULL;
    size_t cap = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if ((rc = kt_store_prepare(st, &q,
                               "SELECT name, imported, rows, digest, expires FROM registry_list"
                               " ORDER BY name",
                               d)) != 0)
        return rc;
    while ((rc = kt_stmt_step(q, d)) == KT_STORE_ROW) {
        if (*n == cap) {
            kt_registry_info_t *g = realloc(v, (cap + 16) * sizeof(*g));

            if (g == NULL) {
                rc = kt_diag_set(d, KT_ENOMEM, "out of memory");
                break;
            }
            v = g;
            cap += 16;
        }
        s_info_row(&v[(*n)++], q);
    }
    kt_stmt_finalize(&q);
    if (rc != KT_STORE_DONE) {
        free(v);
        *n = 0;
        return rc < 0 ? rc : KT_EIO;
    }
    *out = v;
    return 0;
}

/* Unlocks one row into e; KT_ENOENT when the pupil's key is gone. */
static int s_read_entry(kt_registry_entry_t *e, kt_store_t *st, const kt_vault_t *v,
                        const char *name, kt_stmt_t *q, kt_diag_t *d)
{
    const void *subject = kt_stmt_column_blob(q, 0), *locked;
    size_t slen = kt_stmt_column_bytes(q, 0), llen, plen = 0, adlen;
    uint8_t ad[S_AD_MAX], *plain = NULL, sub[KT_SUBJECT_BYTES];
    kt_vault_key_t *k = NULL;
    char buf[S_PAYLOAD_MAX];
    int rc;

    if (subject == NULL || slen != KT_SUBJECT_BYTES)
        return kt_diag_set(d, KT_EMALFORMED, "registry: an entry without a subject");
    memcpy(sub, subject, KT_SUBJECT_BYTES);
    locked = kt_stmt_column_blob(q, 1);
    llen = kt_stmt_column_bytes(q, 1);
    if ((rc = kt_subject_get_key(&k, st, v, sub, 0, d)) != 0)
        return rc;
    adlen = s_ad(ad, name, sub);
    rc = locked == NULL ? KT_EMALFORMED
                        : kt_vault_unlock_subject(&plain, &plen, locked, llen, ad, adlen, k, d);
    kt_vault_key_destroy(&k);
    if (rc != 0)
        return rc;
    if (plen >= sizeof(buf)) {
        rc = KT_EMALFORMED;
    } else {
        memcpy(buf, plain, plen);
        rc = s_unpayload(e, buf, plen);
    }
    explicit_bzero(buf, sizeof(buf));
    kt_vault_free(plain, plen);
    return rc == 0 ? 0 : kt_diag_set(d, rc, "registry: an entry of list '%s' is damaged", name);
}

int kt_registry_foreach(kt_store_t *st, const kt_vault_t *v, const char *name, kt_registry_fn fn,
                        void *ctx, size_t *unreadable, kt_diag_t *d)
{
    kt_registry_info_t info;
    kt_registry_entry_t e;
    kt_stmt_t *q = NULL;
    size_t bad = 0;
    int rc;

    if (unreadable != NULL)
        *unreadable = 0;
    if ((rc = kt_registry_info(&info, st, name, d)) != 0)
        return rc;
    if ((rc = kt_store_prepare(st, &q,
                               "SELECT subject, payload FROM registry_entry WHERE list = ?"
                               " ORDER BY subject",
                               d)) != 0)
        return rc;
    if ((rc = kt_stmt_bind_text(q, 1, name)) != 0) {
        kt_stmt_finalize(&q);
        return kt_diag_set(d, rc, "registry: cannot bind a name");
    }
    while ((rc = kt_stmt_step(q, d)) == KT_STORE_ROW) {
        rc = s_read_entry(&e, st, v, name, q, d);
        if (rc == KT_ENOENT) {
            bad++; /* forgotten pupil: crypto-shredded */
            continue;
        }
        if (rc == 0)
            rc = fn(ctx, &e);
        explicit_bzero(&e, sizeof(e));
        if (rc != 0)
            break;
    }
    kt_stmt_finalize(&q);
    if (unreadable != NULL)
        *unreadable = bad;
    return rc == KT_STORE_DONE ? 0 : rc;
}

typedef struct s_collect {
    kt_registry_entry_t *e;
    size_t n, cap;
} s_collect_t;

static int s_collect(void *ctx, const kt_registry_entry_t *e)
{
    s_collect_t *c = ctx;

    if (c->n == c->cap) {
        kt_registry_entry_t *g = calloc(c->cap + 256, sizeof(*g));

        if (g == NULL)
            return KT_ENOMEM;
        if (c->e != NULL)
            memcpy(g, c->e, c->n * sizeof(*g));
        kt_registry_entries_free(c->e, c->cap);
        c->e = g;
        c->cap += 256;
    }
    c->e[c->n++] = *e;
    return 0;
}

int kt_registry_load(kt_registry_entry_t **out, size_t *n, kt_store_t *st, const kt_vault_t *v,
                     const char *name, size_t *unreadable, kt_diag_t *d)
{
    s_collect_t c = {NULL, 0, 0};
    int rc;

    *out = NULL;
    *n = 0;
    rc = kt_registry_foreach(st, v, name, s_collect, &c, unreadable, d);
    if (rc == KT_ENOMEM)
        rc = kt_diag_set(d, KT_ENOMEM, "out of memory");
    if (rc != 0) {
        kt_registry_entries_free(c.e, c.cap);
        return rc;
    }
    *out = c.e;
    *n = c.n;
    return 0;
}

int kt_registry_ids(kt_registry_id_t **out, size_t *n, kt_store_t *st, const kt_vault_t *v,
                    const char *name, size_t *unreadable, kt_diag_t *d)
{
    kt_registry_entry_t *e = NULL;
    kt_registry_id_t *ids = NULL;
    size_t ne = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if ((rc = kt_registry_load(&e, &ne, st, v, name, unreadable, d)) != 0)
        return rc;
    if (ne > 0 && (ids = calloc(ne, sizeof(*ids))) == NULL) {
        kt_registry_entries_free(e, ne);
        return kt_diag_set(d, KT_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < ne; i++)
        memcpy(ids[i], e[i].leerling_id, sizeof(ids[i]));
    kt_registry_entries_free(e, ne);
    *out = ids;
    *n = ne;
    return 0;
}

void kt_registry_ids_free(kt_registry_id_t *ids, size_t n)
{
    if (ids == NULL)
        return;
    explicit_bzero(ids, n * sizeof(*ids));
    free(ids);
}

int kt_registry_purge(kt_store_t *st, const char *today, size_t *n, kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    int64_t t;
    int rc;

    *n = 0;
    if (kt_registry_date_days(today, &t) != 0)
        return kt_diag_set(d, KT_EINVAL, "registry purge: today is not a date (YYYY-MM-DD)");
    if ((rc = kt_store_prepare(st, &q, "DELETE FROM registry_list WHERE expires <= ?", d)) != 0)
        return rc;
    if ((rc = kt_stmt_bind_text(q, 1, today)) != 0) {
        kt_stmt_finalize(&q);
        return kt_diag_set(d, rc, "registry purge: cannot bind a date");
    }
    rc = kt_stmt_step(q, d);
    if (rc == KT_STORE_DONE) {
        *n = (size_t)kt_store_changes(st);
        rc = 0;
    }
    kt_stmt_finalize(&q);
    return rc;
}
