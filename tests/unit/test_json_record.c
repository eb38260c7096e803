/*
 * test_json_record.c - JSON record input (client/json_record.c): one object
 * or JSON Lines, the limits, and the exact message for every kind of bad
 * input. Every failing case also checks that the bad record never reached
 * the callback and that the message does not contain the input's values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../client/ketenctl.h"

#define BSN "999900006"
#define BSN_OFF "999900007"
#define ONUM "109000001"

struct seen {
    size_t n;
    size_t recno[8];
    char type[8][32];
    int fail_at; /* return an error for this record number */
};

static int collect(void *ctx, size_t recno, kt_record_t **rec)
{
    struct seen *s = ctx;

    if (s->fail_at > 0 && (size_t)s->fail_at == recno)
        return KT_EDENIED;
    if (s->n < 8) {
        s->recno[s->n] = recno;
        snprintf(s->type[s->n], sizeof(s->type[0]), "%s", kt_record_type(*rec));
    }
    s->n++;
    kt_record_destroy(rec);
    return 0;
}

static int read_buf(const char *buf, size_t len, struct seen *s, kt_diag_t *d)
{
    FILE *f = fmemopen((void *)buf, len, "rb");
    int rc;

    assert_non_null(f);
    d->msg[0] = '\0';
    rc = kt_json_read_records(f, "in.json", collect, s, d);
    fclose(f);
    return rc;
}

static int read_str(const char *text, struct seen *s, kt_diag_t *d)
{
    return read_buf(text, strlen(text), s, d);
}

/* One bad record: rc < 0, nothing delivered, the exact message, no value echoed. */
static void assert_bad(const char *text, int code, const char *msg)
{
    struct seen s = {0};
    kt_diag_t d;

    assert_int_equal(read_str(text, &s, &d), code);
    assert_int_equal(s.n, 0);
    assert_string_equal(d.msg, msg);
    assert_null(strstr(d.msg, BSN));
    assert_null(strstr(d.msg, BSN_OFF));
}

#define REC(type, fields) "{\"type\": \"" type "\", \"fields\": {" fields "}}"
#define TZ(extra) REC("thuiszitter", "\"leerling_id\": \"" BSN "\", \"definitie\": \"breed\"" extra)

static void test_single_object_over_several_lines(void **state)
{
    const char *text = "\n{\n  \"type\": \"vrijstelling\",\n  \"fields\": {\n"
                       "    \"leerling_id\": \"" ONUM "\",\n    \"artikel\": \"art_5c\",\n"
                       "    \"bewijs_buitenland\": true\n  }\n}\n";
    struct seen s = {0};
    kt_diag_t d;

    (void)state;
    assert_int_equal(read_str(text, &s, &d), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.recno[0], 1);
    assert_string_equal(s.type[0], "vrijstelling");
}

static void test_json_lines(void **state)
{
    const char *text = TZ("") "\n\n  \r\n" REC(
        "verzuimmelding",
        "\"leerling_id\": \"" ONUM "\", \"soort\": "
        "\"luxe\"") "\r\n" TZ(", \"aanwezigheid_pct\": 0, \"geoorloofd\": false") "\n";
    struct seen s = {0};
    kt_diag_t d;

    (void)state;
    assert_int_equal(read_str(text, &s, &d), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.recno[2], 3);
    assert_string_equal(s.type[1], "verzuimmelding");
}

static void test_empty_input_has_no_records(void **state)
{
    struct seen s = {0};
    kt_diag_t d;

    (void)state;
    assert_int_equal(read_str("", &s, &d), 0);
    assert_int_equal(read_str("\n  \n\t\n", &s, &d), 0);
    assert_int_equal(s.n, 0);
}

static void test_malformed_json(void **state)
{
    (void)state;
    assert_bad("{\"type\": \"thuiszitter\",", KT_EMALFORMED,
               "in.json:1: record 1: malformed JSON at column 23 (premature end of input)");
    /* the end of input is past the newline: still the record's own line */
    assert_bad("{\"type\": \"thuiszitter\", \"fields\": {\n\n", KT_EMALFORMED,
               "in.json:1: record 1: malformed JSON at column 35 (premature end of input)");
    assert_bad("\n\n{\n\"type\": \"thuiszitter\",\n \"fields\": {\n", KT_EMALFORMED,
               "in.json:5: record 1: malformed JSON at column 12 (premature end of input)");
    /* jansson would quote the token; we do not */
    assert_bad("{\"type\": \"thuiszitter\", \"fields\": {\"leerling_id\": " BSN "x}}",
               KT_EMALFORMED, "in.json:1: record 1: malformed JSON at column 60 (invalid syntax)");
    assert_bad("{\"type\": \"thuiszitter\", \"fields\": {\"leerling_id\": \"" BSN
               "\", \"leerling_id\": \"" BSN "\"}}",
               KT_EMALFORMED, "in.json:1: record 1: malformed JSON at column 76 (duplicate key)");
    assert_bad(REC("thuiszitter", "\"aanwezigheid_pct\": 99999999999999999999"), KT_EMALFORMED,
               "in.json:1: record 1: malformed JSON at column 75 (number out of range)");
    /* a multi-line object broken on its 4th line */
    assert_bad("{\n \"type\": \"thuiszitter\",\n \"fields\": {\n  \"definitie\": breed\n }\n}\n",
               KT_EMALFORMED, "in.json:4: record 1: malformed JSON at column 20 (invalid syntax)");
}

static void test_malformed_line_after_good_ones(void **state)
{
    const char *text = TZ("") "\n\n" TZ("") "\n{\"type\": \"thuiszitter\", " BSN "\n" TZ("") "\n";
    struct seen s = {0};
    kt_diag_t d;

    (void)state;
    assert_int_equal(read_str(text, &s, &d), KT_EMALFORMED);
    assert_int_equal(s.n, 2); /* the good ones before; nothing after */
    assert_string_equal(d.msg, "in.json:4: record 3: malformed JSON at column 33 (invalid syntax)");
}

static void test_top_level_shape(void **state)
{
    (void)state;
    assert_bad("[1, 2]", KT_EMALFORMED,
               "in.json:1: record 1: not a JSON object (expected {\"type\": ..., \"fields\": "
               "{...}})");
    assert_bad("{\"fields\": {}}", KT_EMALFORMED, "in.json:1: record 1: missing key 'type'");
    assert_bad("{\"type\": \"thuiszitter\"}", KT_EMALFORMED,
               "in.json:1: record 1: missing key 'fields'");
    assert_bad("{\"type\": 1, \"fields\": {}}", KT_EMALFORMED,
               "in.json:1: record 1: 'type' is not a string");
    assert_bad("{\"type\": \"thuiszitter\", \"fields\": [\"" BSN "\"]}", KT_EMALFORMED,
               "in.json:1: record 1: 'fields' is not an object");
    assert_bad("{\"type\": \"thuiszitter\", \"fields\": {}, \"opmerking\": \"ziek\"}",
               KT_EMALFORMED,
               "in.json:1: record 1: unexpected key 'opmerking' (a record has only 'type' and "
               "'fields')");
    assert_bad("{\"type\": \"thuiszitter\", \"fields\": {}, \"" BSN " Jan\": 1}", KT_EMALFORMED,
               "in.json:1: record 1: unexpected key (a record has only 'type' and 'fields')");
}

static void test_unknown_type(void **state)
{
    (void)state;
    assert_bad(REC("x", ""), KT_EINVAL,
               "in.json:1: record 1: unknown record type 'x' (known: geoorloofd_verzuim, "
               "thuiszitter, verzuimmelding, vrijstelling)");
    assert_bad(REC("Jan " BSN, ""), KT_EINVAL,
               "in.json:1: record 1: unknown record type (not an identifier; known: "
               "geoorloofd_verzuim, thuiszitter, verzuimmelding, vrijstelling)");
}

static void test_unknown_field(void **state)
{
    (void)state;
    assert_bad(TZ(", \"naam\": \"Jan\""), KT_EINVAL,
               "in.json:1: record 1: unknown field 'naam' for record type thuiszitter");
    assert_bad(TZ(", \"Jan de Vries\": \"" BSN "\""), KT_EINVAL,
               "in.json:1: record 1: unknown field (not an identifier) for record type "
               "thuiszitter");
    assert_bad(TZ(", \"mas_route\": \"halt\""), KT_EINVAL,
               "in.json:1: record 1: unknown field 'mas_route' for record type thuiszitter");
}

static void test_wrong_json_type(void **state)
{
    (void)state;
    assert_bad(TZ(", \"aanwezigheid_pct\": \"40\""), KT_EMALFORMED,
               "in.json:1: record 1: field 'aanwezigheid_pct': wrong JSON type (expected an "
               "integer)");
    assert_bad(TZ(", \"aanwezigheid_pct\": 40.0"), KT_EMALFORMED,
               "in.json:1: record 1: field 'aanwezigheid_pct': wrong JSON type (expected an "
               "integer)");
    assert_bad(TZ(", \"aanwezigheid_pct\": true"), KT_EMALFORMED,
               "in.json:1: record 1: field 'aanwezigheid_pct': wrong JSON type (expected an "
               "integer)");
    assert_bad(TZ(", \"geoorloofd\": \"true\""), KT_EMALFORMED,
               "in.json:1: record 1: field 'geoorloofd': wrong JSON type (expected true or "
               "false)");
    assert_bad(TZ(", \"geoorloofd\": 1"), KT_EMALFORMED,
               "in.json:1: record 1: field 'geoorloofd': wrong JSON type (expected true or "
               "false)");
    assert_bad(REC("thuiszitter", "\"leerling_id\": " BSN ", \"definitie\": \"breed\""),
               KT_EMALFORMED,
               "in.json:1: record 1: field 'leerling_id': wrong JSON type (expected a string)");
    assert_bad(TZ(", \"begindatum\": [2024, 1, 8]"), KT_EMALFORMED,
               "in.json:1: record 1: field 'begindatum': wrong JSON type (expected a string)");
    assert_bad(TZ(", \"oorzaak\": {\"code\": \"onbekend\"}"), KT_EMALFORMED,
               "in.json:1: record 1: field 'oorzaak': wrong JSON type (expected a string)");
    assert_bad(TZ(", \"einddatum\": null"), KT_EMALFORMED,
               "in.json:1: record 1: field 'einddatum': null is not allowed (leave it out)");
}

static void test_out_of_range(void **state)
{
    (void)state;
    assert_bad(TZ(", \"aanwezigheid_pct\": 101"), KT_EINVAL,
               "in.json:1: record 1: field 'aanwezigheid_pct': out of range (0..100)");
    assert_bad(TZ(", \"aanwezigheid_pct\": -1"), KT_EINVAL,
               "in.json:1: record 1: field 'aanwezigheid_pct': out of range (0..100)");
    assert_bad(TZ(", \"aanwezigheid_pct\": 9223372036854775807"), KT_EINVAL,
               "in.json:1: record 1: field 'aanwezigheid_pct': out of range (0..100)");
}

static void test_invalid_enum(void **state)
{
    (void)state;
    assert_bad(REC("geoorloofd_verzuim",
                   "\"leerling_id\": \"" BSN
                   "\", \"begindatum\": \"2024-01-08\", \"reden\": \"griep\""),
               KT_EINVAL,
               "in.json:1: record 1: field 'reden': not a code of reden (allowed: ziek, "
               "lestijdverkorting, verlof, overig)");
}

static void test_invalid_dates(void **state)
{
    const char *bad[] = {"2023-02-29", "2024-13-01", "2024-04-31", "2024-1-01"};
    char text[256];
    size_t i;

    (void)state;
    for (i = 0; i < 4; i++) {
        snprintf(text, sizeof(text), TZ(", \"begindatum\": \"%s\""), bad[i]);
        assert_bad(text, KT_EINVAL,
                   "in.json:1: record 1: field 'begindatum': not a real date (YYYY-MM-DD, years "
                   "1900-2199)");
    }
}

static void test_leerling_id(void **state)
{
    struct seen s = {0};
    kt_diag_t d;

    (void)state;
    assert_bad(REC("vrijstelling", "\"leerling_id\": \"" BSN_OFF "\", \"artikel\": \"art_5a\""),
               KT_EINVAL,
               "in.json:1: record 1: field 'leerling_id': neither a valid BSN (elfproef) nor a "
               "valid onderwijsnummer");
    assert_int_equal(
        read_str(
            REC("vrijstelling", "\"leerling_id\": \"" BSN "\", \"artikel\": \"art_5a\"") "\n" REC(
                "vrijstelling", "\"leerling_id\": \"" ONUM "\", \"artikel\": \"art_5a\""),
            &s, &d),
        0);
    assert_int_equal(s.n, 2);
}

static void test_missing_required(void **state)
{
    (void)state;
    assert_bad(REC("thuiszitter", "\"leerling_id\": \"" BSN "\""), KT_EINVAL,
               "in.json:1: record 1: record type thuiszitter: required field 'definitie' is "
               "missing");
    assert_bad(REC("thuiszitter", "\"definitie\": \"breed\""), KT_EINVAL,
               "in.json:1: record 1: record type thuiszitter: required field 'leerling_id' is "
               "missing");
}

static void test_end_before_start(void **state)
{
    (void)state;
    assert_bad(TZ(", \"begindatum\": \"2024-03-01\", \"einddatum\": \"2024-02-29\""), KT_EINVAL,
               "in.json:1: record 1: field 'einddatum': before 'begindatum'");
    assert_bad(REC("vrijstelling",
                   "\"leerling_id\": \"" BSN "\", \"artikel\": \"art_5b\", "
                   "\"geldig_van\": \"2024-08-01\", \"geldig_tot\": \"2024-07-31\""),
               KT_EINVAL, "in.json:1: record 1: field 'geldig_tot': before 'geldig_van'");
}

static void test_error_names_line_and_record(void **state)
{
    const char *text = TZ("") "\n\n" TZ("") "\n" TZ(", \"duur\": \"lang\"") "\n" TZ("") "\n";
    struct seen s = {0};
    kt_diag_t d;

    (void)state;
    assert_int_equal(read_str(text, &s, &d), KT_EINVAL);
    assert_int_equal(s.n, 2);
    assert_non_null(strstr(d.msg, "in.json:4: record 3: field 'duur': not a code of duur"));
}

static void test_callback_error_stops(void **state)
{
    const char *text = TZ("") "\n" TZ("") "\n" TZ("") "\n";
    struct seen s = {.fail_at = 2};
    kt_diag_t d;

    (void)state;
    assert_int_equal(read_str(text, &s, &d), KT_EDENIED);
    assert_int_equal(s.n, 1);
}

static void test_limits(void **state)
{
    size_t big = (16u << 20) + 1, line = (64u << 10) + 1;
    char *buf = malloc(big);
    struct seen s = {0};
    kt_diag_t d;

    (void)state;
    assert_non_null(buf);
    memset(buf, ' ', big);
    assert_int_equal(read_buf(buf, big, &s, &d), KT_ETOOBIG);
    assert_string_equal(d.msg, "in.json: input larger than 16 MiB");
    assert_int_equal(read_buf(buf, big - 1, &s, &d), 0); /* 16 MiB of blanks: no records */
    memset(buf, 'x', line);
    assert_int_equal(read_buf(buf, line, &s, &d), KT_ETOOBIG);
    assert_string_equal(d.msg, "in.json:1: line longer than 65536 bytes");
    assert_int_equal(s.n, 0);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_object_over_several_lines),
        cmocka_unit_test(test_json_lines),
        cmocka_unit_test(test_empty_input_has_no_records),
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_malformed_line_after_good_ones),
        cmocka_unit_test(test_top_level_shape),
        cmocka_unit_test(test_unknown_type),
        cmocka_unit_test(test_unknown_field),
        cmocka_unit_test(test_wrong_json_type),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_invalid_enum),
        cmocka_unit_test(test_invalid_dates),
        cmocka_unit_test(test_leerling_id),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_end_before_start),
        cmocka_unit_test(test_error_names_line_and_record),
        cmocka_unit_test(test_callback_error_stops),
        cmocka_unit_test(test_limits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
