/*
 * json_record.c - ketenctl's JSON record input: one JSON object
 * {"type": ..., "fields": {...}} or JSON Lines (one object per line, blank
 * lines skipped), each turned into a validated record (docs/records.md).
 *
 * Owns the input limits and the mapping of JSON types onto field kinds; the
 * record module owns every value rule. Must never echo input: jansson's
 * error texts quote the input, so only its error code, line and column are
 * reported, and names only when they are plain identifiers. The input buffer
 * holds personal data and is wiped before it is freed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ketenctl.h"

#define KT_JSON_INPUT_MAX_BYTES (16u << 20)  /* a whole input */
#define KT_JSON_RECORD_MAX_BYTES (64u << 10) /* one line, or one multi-line record */
#define KT_JSON_CHUNK_BYTES 65536

struct s_reader {
    const char *name;
    kt_record_cb cb;
    void *ctx;
    kt_diag_t *d;
    size_t recno;
};

/* jansson's own texts quote the input: say what kind of error it was instead. */
static const char *s_reason(const json_error_t *e)
{
    switch (json_error_code(e)) {
    case json_error_premature_end_of_input:
        return "premature end of input";
    case json_error_end_of_input_expected:
        return "more than one JSON value";
    case json_error_invalid_utf8:
        return "invalid UTF-8";
    case json_error_null_character:
    case json_error_null_byte_in_key:
        return "NUL character";
    case json_error_duplicate_key:
        return "duplicate key";
    case json_error_numeric_overflow:
        return "number out of range";
    case json_error_stack_overflow:
        return "nested too deeply";
    case json_error_out_of_memory:
        return "out of memory";
    default:
        return "invalid syntax";
    }
}

static json_t *s_parse(const char *p, size_t n, json_error_t *e)
{
    return json_loadb(p, n, JSON_REJECT_DUPLICATES, e);
}

/* Grow *buf to hold cap bytes without leaving an unwiped copy behind. */
static int s_grow(char **buf, size_t len, size_t cap)
{
    char *p = malloc(cap);

    if (p == NULL)
        return KT_ENOMEM;
    if (*buf != NULL) {
        memcpy(p, *buf, len);
        explicit_bzero(*buf, len);
        free(*buf);
    }
    *buf = p;
    return 0;
}

static int s_read_all(FILE *f, const char *name, char **buf, size_t *len, kt_diag_t *d)
{
    size_t cap = 0, n;
    int rc = 0;

    *buf = NULL;
    *len = 0;
    do {
        if (*len == cap) {
            cap = cap ? cap * 2 : KT_JSON_CHUNK_BYTES;
            if (cap > KT_JSON_INPUT_MAX_BYTES + 1)
                cap = KT_JSON_INPUT_MAX_BYTES + 1;
            rc = s_grow(buf, *len, cap);
            if (rc < 0)
                return kt_diag_set(d, rc, "%s: out of memory", name);
        }
        n = fread(*buf + *len, 1, cap - *len, f);
        *len += n;
    } while (n > 0 && *len <= KT_JSON_INPUT_MAX_BYTES);
    if (ferror(f))
        rc = kt_diag_set(d, KT_EIO, "%s: read error: %s", name, strerror(errno));
    else if (*len > KT_JSON_INPUT_MAX_BYTES)
        rc = kt_diag_set(d, KT_ETOOBIG, "%s: input larger than %u MiB", name,
                         KT_JSON_INPUT_MAX_BYTES >> 20);
    return rc;
}

static int s_set_field(kt_record_t *r, const char *key, json_t *val, kt_diag_t *d)
{
    kt_field_kind_t kind;
    int rc = kt_record_field_lookup(kt_record_type(r), key, &kind, d);

    if (rc < 0)
        return rc;
    if (json_is_null(val))
        return kt_diag_set(d, KT_EMALFORMED, "field '%s': null is not allowed (leave it out)", key);
    switch (kind) {
    case KT_FIELD_INT:
        if (!json_is_integer(val))
            return kt_diag_set(d, KT_EMALFORMED,
                               "field '%s': wrong JSON type (expected an integer)", key);
        return kt_record_set_int(r, key, json_integer_value(val), d);
    case KT_FIELD_BOOL:
        if (!json_is_boolean(val))
            return kt_diag_set(d, KT_EMALFORMED,
                               "field '%s': wrong JSON type (expected true or false)", key);
        return kt_record_set_bool(r, key, json_is_true(val), d);
    default:
        if (!json_is_string(val))
            return kt_diag_set(d, KT_EMALFORMED, "field '%s': wrong JSON type (expected a string)",
                               key);
        return kt_record_set_text(r, key, json_string_value(val), d);
    }
}

/* The top level: exactly "type" (a string) and "fields" (an object). */
static int s_check_shape(json_t *obj, kt_diag_t *d)
{
    const char *key;
    json_t *val;

    if (!json_is_object(obj))
        return kt_diag_set(d, KT_EMALFORMED,
                           "not a JSON object (expected {\"type\": ..., \"fields\": {...}})");
    json_object_foreach(obj, key, val)
    {
        if (strcmp(key, "type") == 0 || strcmp(key, "fields") == 0)
            continue;
        if (kt_record_is_name(key))
            return kt_diag_set(d, KT_EMALFORMED,
                               "unexpected key '%s' (a record has only 'type' and 'fields')", key);
        return kt_diag_set(d, KT_EMALFORMED,
                           "unexpected key (a record has only 'type' and 'fields')");
    }
    if (json_object_get(obj, "type") == NULL)
        return kt_diag_set(d, KT_EMALFORMED, "missing key 'type'");
    if (!json_is_string(json_object_get(obj, "type")))
        return kt_diag_set(d, KT_EMALFORMED, "'type' is not a string");
    if (json_object_get(obj, "fields") == NULL)
        return kt_diag_set(d, KT_EMALFORMED, "missing key 'fields'");
    if (!json_is_object(json_object_get(obj, "fields")))
        return kt_diag_set(d, KT_EMALFORMED, "'fields' is not an object");
    return 0;
}

static int s_build(json_t *obj, kt_record_t **out, kt_diag_t *d)
{
    kt_record_t *r = NULL;
    const char *key;
    json_t *val;
    int rc = s_check_shape(obj, d);

    if (rc == 0)
        rc = kt_record_new(&r, json_string_value(json_object_get(obj, "type")), d);
    if (rc < 0)
        goto out;
    json_object_foreach(json_object_get(obj, "fields"), key, val)
    {
        rc = s_set_field(r, key, val, d);
        if (rc < 0)
            goto out;
    }
    rc = kt_record_validate(r, d);
out:
    if (rc == 0)
        *out = r;
    else
        kt_record_destroy(&r);
    return rc;
}

/* One parsed JSON value starting on `line`: build, validate, hand over. */
static int s_record(struct s_reader *rd, json_t *obj, size_t line)
{
    kt_record_t *r = NULL;
    int rc;

    rd->recno++;
    rc = s_build(obj, &r, rd->d);
    if (rc < 0) {
        kt_diag_prefix(rd->d, "%s:%zu: record %zu", rd->name, line, rd->recno);
        return rc;
    }
    rc = rd->cb(rd->ctx, rd->recno, &r);
    kt_record_destroy(&r);
    return rc;
}

/* Where jansson stopped in text (which starts on `line`): past the end of
 * the input it means "premature end", so point at the last byte that is not
 * whitespace instead of at a line after the record. */
static int s_syntax_error(struct s_reader *rd, size_t line, const char *text, size_t n,
                          const json_error_t *e)
{
    size_t pos = e->position > 0 ? (size_t)e->position : 0, i, col = 0;

    while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t' || text[n - 1] == '\r' ||
                     text[n - 1] == '\n'))
        n--;
    if (pos > n)
        pos = n;
    for (i = 0; i < pos; i++) {
        if (text[i] == '\n') {
            line++;
            col = 0;
        } else {
            col++;
        }
    }
    return kt_diag_set(rd->d, KT_EMALFORMED,
                       "%s:%zu: record %zu: malformed JSON at column %zu (%s)", rd->name, line,
                       rd->recno + 1, col, s_reason(e));
}

static int s_is_blank(const char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return 0;
    return 1;
}

static size_t s_line_len(const char *p, size_t n)
{
    const char *nl = memchr(p, '\n', n);

    return nl ? (size_t)(nl - p) : n;
}

static int s_json_lines(struct s_reader *rd, const char *buf, size_t len)
{
    size_t off = 0, line = 0;
    int rc = 0;

    while (off < len && rc == 0) {
        size_t n = s_line_len(buf + off, len - off);
        json_error_t e;
        json_t *obj;

        line++;
        if (n > KT_JSON_RECORD_MAX_BYTES) {
            rc = kt_diag_set(rd->d, KT_ETOOBIG, "%s:%zu: line longer than %u bytes", rd->name, line,
                             KT_JSON_RECORD_MAX_BYTES);
        } else if (!s_is_blank(buf + off, n)) {
            obj = s_parse(buf + off, n, &e);
            rc = obj ? s_record(rd, obj, line) : s_syntax_error(rd, line, buf + off, n, &e);
            json_decref(obj);
        }
        off += n + 1;
    }
    return rc;
}

/* 1-based number of the first non-blank line and its offset; 0 if none. */
static size_t s_first_line(const char *buf, size_t len, size_t *off)
{
    size_t line = 1, n;

    for (*off = 0; *off < len; *off += n + 1, line++) {
        n = s_line_len(buf + *off, len - *off);
        if (!s_is_blank(buf + *off, n))
            return line;
    }
    return 0;
}

static int s_dispatch(struct s_reader *rd, const char *buf, size_t len)
{
    size_t off, first = s_first_line(buf, len, &off), n;
    json_error_t whole, e;
    json_t *obj = NULL;
    int rc;

    if (first == 0)
        return 0;
    if (len <= KT_JSON_RECORD_MAX_BYTES && (obj = s_parse(buf, len, &whole)) != NULL) {
        rc = s_record(rd, obj, first);
        goto out;
    }
    n = s_line_len(buf + off, len - off);
    if (n <= KT_JSON_RECORD_MAX_BYTES && (obj = s_parse(buf + off, n, &e)) != NULL) {
        rc = s_json_lines(rd, buf, len);
        goto out;
    }
    if (len > KT_JSON_RECORD_MAX_BYTES) /* not one record; JSON Lines from here */
        rc = s_json_lines(rd, buf, len);
    else /* one record over several lines: jansson's position is the useful one */
        rc = s_syntax_error(rd, 1, buf, len, &whole);
out:
    json_decref(obj);
    return rc;
}

int kt_json_read_records(FILE *f, const char *name, kt_record_cb cb, void *ctx, kt_diag_t *d)
{
    struct s_reader rd = {.name = name, .cb = cb, .ctx = ctx, .d = d};
    char *buf = NULL;
    size_t len = 0;
    int rc = s_read_all(f, name, &buf, &len, d);

    if (rc == 0)
        rc = s_dispatch(&rd, buf, len);
    if (buf != NULL)
        explicit_bzero(buf, len);
    free(buf);
    return rc;
}
