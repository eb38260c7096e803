/*
 * test_record.c - the record module: registry, field rules, whole-record
 * rules, canonical CBOR encoding and strict decoding.
 *
 * CBOR inputs are assembled here byte by byte (put_* below), independently
 * of libcbor and of the encoder under test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keten/record.h"
#include "../../daemon/record_registry.h"

#define BSN "999900006"      /* synthetic, passes the elfproef */
#define BSN_OFF "999900007"  /* check digit off by one */
#define ONUM "109000001"     /* synthetic onderwijsnummer */
#define ONUM_OFF "109000002" /* check digit off by one */

/* ---- helpers ---- */

static kt_record_t *new_record(const char *type)
{
    kt_record_t *r = NULL;
    kt_diag_t d;

    assert_int_equal(kt_record_new(&r, type, &d), 0);
    assert_non_null(r);
    return r;
}

/* A record of `type` with leerling_id and its defining field set. */
static kt_record_t *minimal(const char *type)
{
    kt_record_t *r = new_record(type);
    kt_diag_t d;

    assert_int_equal(kt_record_set_text(r, "leerling_id", BSN, &d), 0);
    if (strcmp(type, "thuiszitter") == 0)
        assert_int_equal(kt_record_set_text(r, "definitie", "breed", &d), 0);
    else if (strcmp(type, "verzuimmelding") == 0)
        assert_int_equal(kt_record_set_text(r, "soort", "wettelijk", &d), 0);
    else if (strcmp(type, "vrijstelling") == 0)
        assert_int_equal(kt_record_set_text(r, "artikel", "art_5a", &d), 0);
    else
        assert_int_equal(kt_record_set_text(r, "begindatum", "2024-01-08", &d), 0);
    return r;
}

/* Set a text field on a fresh thuiszitter; return the code, diag in d. */
static int try_text(const char *type, const char *field, const char *value, kt_diag_t *d)
{
    kt_record_t *r = new_record(type);
    int rc = kt_record_set_text(r, field, value, d);

    assert_int_equal(kt_record_nfields(r), rc == 0 ? 1 : 0);
    kt_record_destroy(&r);
    return rc;
}

struct out {
    uint8_t b[1024];
    size_t n;
};

/* A CBOR head; width 0 = shortest, else force 1, 2, 4 or 8 argument bytes. */
static void put_head(struct out *o, uint8_t major, uint64_t v, int width)
{
    int i;

    if (width == 0)
        width = v < 24 ? -1 : v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffffu ? 4 : 8;
    if (width == -1) {
        o->b[o->n++] = (uint8_t)(major << 5 | v);
        return;
    }
    o->b[o->n++] = (uint8_t)(major << 5 | (width == 1   ? 24
                                           : width == 2 ? 25
                                           : width == 4 ? 26
                                                        : 27));
    for (i = width - 1; i >= 0; i--)
        o->b[o->n++] = (uint8_t)(v >> (8 * i));
}

static void put_text(struct out *o, const char *s)
{
    put_head(o, 3, strlen(s), 0);
    memcpy(o->b + o->n, s, strlen(s));
    o->n += strlen(s);
}

/* {"type": type, "fields": map(n) ...: the caller appends the fields. */
static void put_record_head(struct out *o, const char *type, size_t nfields)
{
    put_head(o, 5, 2, 0);
    put_text(o, "type");
    put_text(o, type);
    put_text(o, "fields");
    put_head(o, 5, nfields, 0);
}

/* The canonical bytes of vrijstelling {artikel: art_5a, leerling_id: BSN}. */
static void put_minimal_vrijstelling(struct out *o)
{
    put_record_head(o, "vrijstelling", 2);
    put_text(o, "artikel"); /* 7 bytes: before the 11-byte leerling_id */
    put_text(o, "art_5a");
    put_text(o, "leerling_id");
    put_text(o, BSN);
}

static int decode(const struct out *o, kt_diag_t *d)
{
    kt_record_t *r = NULL;
    int rc = kt_record_decode(&r, o->b, o->n, d);

    assert_true(rc == 0 ? r != NULL : r == NULL);
    kt_record_destroy(&r);
    return rc;
}

static void assert_rejected(const struct out *o, const char *msg)
{
    kt_diag_t d = {""};

    assert_true(decode(o, &d) < 0);
    assert_non_null(strstr(d.msg, msg));
    assert_null(strstr(d.msg, BSN));
}

/* ---- registry ---- */

static void test_registry_has_the_four_types(void **state)
{
    const char *want[] = {"geoorloofd_verzuim", "thuiszitter", "verzuimmelding", "vrijstelling"};
    size_t i;

    (void)state;
    assert_int_equal(kt_record_type_count(), 4);
    for (i = 0; i < 4; i++) {
        assert_string_equal(kt_record_type_name(i), want[i]);
        assert_true(kt_record_type_known(want[i]));
    }
    assert_null(kt_record_type_name(4));
    assert_false(kt_record_type_known("consent")); /* §4.7 is not a record of this module */
    assert_int_equal(kt_record_field_count("thuiszitter"), 31);
    assert_int_equal(kt_record_field_count("geoorloofd_verzuim"), 25);
    assert_int_equal(kt_record_field_count("verzuimmelding"), 19);
    assert_int_equal(kt_record_field_count("vrijstelling"), 20);
    assert_int_equal(kt_record_field_count("nope"), 0);
}

static void test_registry_pupil_fields_in_every_type(void **state)
{
    const char *pupil[] = {"leerling_id",    "geboortedatum", "woongemeente",
                           "brin",           "swv",           "schooljaar",
                           "onderwijssoort", "plicht",        "startkwalificatie"};
    kt_field_kind_t want[] = {KT_FIELD_PUPIL,  KT_FIELD_DATE,   KT_FIELD_STRING,
                              KT_FIELD_STRING, KT_FIELD_STRING, KT_FIELD_STRING,
                              KT_FIELD_ENUM,   KT_FIELD_ENUM,   KT_FIELD_BOOL};
    size_t t, i;

    (void)state;
    for (t = 0; t < kt_record_type_count(); t++) {
        const char *type = kt_record_type_name(t);

        for (i = 0; i < 9; i++) {
            kt_field_kind_t k;

            assert_string_equal(kt_record_field_name(type, i), pupil[i]);
            assert_int_equal(kt_record_field_kind(type, pupil[i], &k), 0);
            assert_int_equal(k, want[i]);
        }
    }
}

static void test_registry_names_are_unique_identifiers(void **state)
{
    size_t t, i, j;

    (void)state;
    for (t = 0; t < kt_record_type_count(); t++) {
        const char *type = kt_record_type_name(t);
        size_t n = kt_record_field_count(type);

        assert_true(kt_record_is_name(type));
        assert_null(kt_record_field_name(type, n));
        for (i = 0; i < n; i++) {
            assert_true(kt_record_is_name(kt_record_field_name(type, i)));
            for (j = i + 1; j < n; j++)
                assert_string_not_equal(kt_record_field_name(type, i),
                                        kt_record_field_name(type, j));
        }
    }
}

static void test_registry_kinds(void **state)
{
    kt_field_kind_t k;
    kt_diag_t d;

    (void)state;
    assert_int_equal(kt_record_field_kind("thuiszitter", "aanwezigheid_pct", &k), 0);
    assert_int_equal(k, KT_FIELD_INT);
    assert_int_equal(kt_record_field_kind("thuiszitter", "geschorst", &k), 0);
    assert_int_equal(k, KT_FIELD_BOOL);
    assert_int_equal(kt_record_field_kind("vrijstelling", "geldig_tot", &k), 0);
    assert_int_equal(k, KT_FIELD_DATE);
    assert_int_equal(kt_record_field_kind("verzuimmelding", "mas_route", &k), 0);
    assert_int_equal(k, KT_FIELD_ENUM);
    assert_int_equal(kt_record_field_kind("verzuimmelding", "minuten", &k), 0);
    assert_int_equal(k, KT_FIELD_INT);
    /* no free-text field anywhere (DOMAIN.md §4.1) */
    assert_int_equal(kt_record_field_kind("thuiszitter", "opmerking", &k), KT_EINVAL);
    assert_int_equal(kt_record_field_kind("thuiszitter", "toelichting", &k), KT_EINVAL);
    assert_int_equal(kt_record_field_lookup("thuiszitter", "naam", NULL, &d), KT_EINVAL);
    assert_string_equal(d.msg, "unknown field 'naam' for record type thuiszitter");
    assert_int_equal(kt_record_field_lookup("x", "naam", NULL, &d), KT_EINVAL);
    assert_non_null(strstr(d.msg, "unknown record type 'x'"));
}

/* Every registered code is accepted by its field and fits the value buffer. */
static void test_registry_every_code_is_settable(void **state)
{
    const struct kt_type_def *t;
    const char *const *c;
    size_t i, j, ncodes = 0;

    (void)state;
    for (i = 0; (t = kt_record_reg_type_at(i)) != NULL; i++) {
        for (j = 0; j < t->nfields; j++) {
            if (t->fields[j]->kind != KT_FIELD_ENUM)
                continue;
            for (c = t->fields[j]->codes; *c != NULL; c++, ncodes++) {
                kt_diag_t d;

                assert_true(strlen(*c) < KT_RECORD_VALUE_BYTES);
                if (try_text(t->name, t->fields[j]->name, *c, &d) != 0)
                    fail_msg("%s.%s: %s", t->name, t->fields[j]->name, d.msg);
            }
        }
    }
    assert_true(ncodes > 150);
}

static void test_is_name(void **state)
{
    char long_name[80];

    (void)state;
    memset(long_name, 'a', sizeof(long_name));
    long_name[64] = '\0';
    assert_true(kt_record_is_name(long_name));
    long_name[64] = 'a';
    long_name[65] = '\0';
    assert_false(kt_record_is_name(long_name));
    assert_false(kt_record_is_name(""));
    assert_false(kt_record_is_name("Naam"));
    assert_false(kt_record_is_name("a b"));
    assert_false(kt_record_is_name("999'900"));
    assert_false(kt_record_is_name(NULL));
}

/* ---- identifiers ---- */

static void test_bsn_and_onderwijsnummer(void **state)
{
    (void)state;
    assert_true(kt_record_is_bsn(BSN));
    assert_true(kt_record_is_bsn("999900018"));
    assert_true(kt_record_is_bsn("111222333"));
    assert_false(kt_record_is_bsn(BSN_OFF));
    assert_false(kt_record_is_bsn("999900005"));
    assert_false(kt_record_is_bsn("000000000"));
    assert_false(kt_record_is_bsn("99990000"));   /* 8 digits */
    assert_false(kt_record_is_bsn("9999000060")); /* 10 digits */
    assert_false(kt_record_is_bsn("99990000a"));
    assert_false(kt_record_is_bsn(""));
    assert_false(kt_record_is_bsn(NULL));
    assert_false(kt_record_is_bsn(ONUM));

    assert_true(kt_record_is_onderwijsnummer(ONUM));
    assert_true(kt_record_is_onderwijsnummer("109000013"));
    assert_false(kt_record_is_onderwijsnummer(ONUM_OFF));
    assert_false(
        kt_record_is_onderwijsnummer("110000001")); /* sum = 5 (mod 11) but no leading 10 */
    assert_false(kt_record_is_onderwijsnummer(BSN));
    assert_false(kt_record_is_onderwijsnummer("10900000"));
    assert_false(kt_record_is_onderwijsnummer(NULL));
}

static void test_leerling_id_rule(void **state)
{
    kt_diag_t d;

    (void)state;
    assert_int_equal(try_text("thuiszitter", "leerling_id", BSN, &d), 0);
    assert_int_equal(try_text("thuiszitter", "leerling_id", ONUM, &d), 0);
    assert_int_equal(try_text("thuiszitter", "leerling_id", BSN_OFF, &d), KT_EINVAL);
    assert_string_equal(
        d.msg, "field 'leerling_id': neither a valid BSN (elfproef) nor a valid onderwijsnummer");
    assert_int_equal(try_text("thuiszitter", "leerling_id", ONUM_OFF, &d), KT_EINVAL);
    assert_null(strstr(d.msg, ONUM_OFF));
    assert_int_equal(try_text("vrijstelling", "leerling_id", "000000000", &d), KT_EINVAL);
}

/* ---- field rules ---- */

static void test_enum_rule(void **state)
{
    kt_diag_t d;

    (void)state;
    assert_int_equal(try_text("geoorloofd_verzuim", "reden", "ziek", &d), 0);
    assert_int_equal(try_text("geoorloofd_verzuim", "reden", "griep", &d), KT_EINVAL);
    assert_string_equal(d.msg, "field 'reden': not a code of reden "
                               "(allowed: ziek, lestijdverkorting, verlof, overig)");
    /* the same name, another type, other codes */
    assert_int_equal(try_text("verzuimmelding", "reden", "ziek", &d), KT_EINVAL);
    assert_string_equal(d.msg,
                        "field 'reden': not a code of reden "
                        "(allowed: frequent_te_laat, licht, signaal, ziekteverzuim, overig)");
    assert_int_equal(try_text("verzuimmelding", "reden", "ziekteverzuim", &d), 0);
    assert_int_equal(try_text("thuiszitter", "definitie", "Breed", &d), KT_EINVAL);
    assert_int_equal(try_text("thuiszitter", "definitie", "breed_5a", &d), 0);
    assert_int_equal(try_text("thuiszitter", "vrijstelling_artikel", "art_11g", &d), 0);
    assert_int_equal(try_text("thuiszitter", "duur", "4_weken_tot_3_maanden", &d), 0);
    assert_int_equal(try_text("geoorloofd_verzuim", "criterium", "ziek_4x_12w", &d), 0);
    assert_int_equal(try_text("geoorloofd_verzuim", "criterium", "kpi_doelen", &d), KT_EINVAL);
    assert_int_equal(try_text("verzuimmelding", "mas_route", "halt", &d), 0);
    assert_int_equal(try_text("verzuimmelding", "afhandeling", "overdracht_volgend_schooljaar", &d),
                     0);
    assert_int_equal(try_text("vrijstelling", "besluit", "van_rechtswege", &d), 0);
    assert_int_equal(try_text("thuiszitter", "onderwijssoort", "geen_onderwijs", &d), 0);
    assert_int_equal(try_text("thuiszitter", "onderwijssoort", "", &d), KT_EINVAL);
}

static void test_enum_diag_never_echoes_the_value(void **state)
{
    kt_diag_t d;

    (void)state;
    assert_int_equal(try_text("thuiszitter", "oorzaak", "depressie bij " BSN, &d), KT_EINVAL);
    assert_null(strstr(d.msg, "depressie"));
    assert_null(strstr(d.msg, BSN));
}

static void test_date_rule(void **state)
{
    const char *bad[] = {"2023-02-29", "2024-13-01", "2024-04-31",  "2024-1-01",  "2024-01-1",
                         "2024-00-10", "2024-01-00", "1900-02-29",  "1899-12-31", "2200-01-01",
                         "2024/01/01", "20240101",   "2024-01-01 ", "",           "2024-01-0a"};
    const char *good[] = {"2024-02-29", "2000-02-29", "2023-12-31", "1900-01-01", "2199-12-31"};
    kt_diag_t d;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(try_text("thuiszitter", "begindatum", bad[i], &d), KT_EINVAL);
        assert_string_equal(d.msg,
                            "field 'begindatum': not a real date (YYYY-MM-DD, years 1900-2199)");
    }
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(try_text("thuiszitter", "geboortedatum", good[i], &d), 0);
}

static void test_string_rules(void **state)
{
    kt_diag_t d;

    (void)state;
    assert_int_equal(try_text("thuiszitter", "woongemeente", "0268", &d), 0);
    assert_int_equal(try_text("thuiszitter", "woongemeente", "268", &d), KT_EINVAL);
    assert_string_equal(d.msg, "field 'woongemeente': not a CBS gemeentecode (4 digits)");
    assert_int_equal(try_text("thuiszitter", "woongemeente", "02680", &d), KT_EINVAL);
    assert_int_equal(try_text("thuiszitter", "brin", "21PA", &d), 0);
    assert_int_equal(try_text("thuiszitter", "brin", "21PA00", &d), 0);
    assert_int_equal(try_text("thuiszitter", "brin", "0912", &d), 0);
    assert_int_equal(try_text("thuiszitter", "brin", "21pa", &d), KT_EINVAL);
    assert_non_null(strstr(d.msg, "field 'brin': not a BRIN code"));
    assert_int_equal(try_text("thuiszitter", "brin", "2PA0", &d), KT_EINVAL);
    assert_int_equal(try_text("thuiszitter", "brin", "21PA0", &d), KT_EINVAL);
    assert_int_equal(try_text("thuiszitter", "brin", "21PA0A", &d), KT_EINVAL);
    assert_int_equal(try_text("thuiszitter", "swv", "VO2506", &d), 0);
    assert_int_equal(try_text("thuiszitter", "swv", "PO2501", &d), 0);
    assert_int_equal(try_text("thuiszitter", "swv", "vo2506", &d), KT_EINVAL);
    assert_string_equal(d.msg, "field 'swv': not an SWV code (PO or VO + 4 digits)");
    assert_int_equal(try_text("thuiszitter", "swv", "SO2506", &d), KT_EINVAL);
    assert_int_equal(try_text("thuiszitter", "swv", "VO 25-06", &d), KT_EINVAL);
    assert_int_equal(try_text("thuiszitter", "schooljaar", "2020-2021", &d), 0);
    assert_int_equal(try_text("thuiszitter", "schooljaar", "2020-2022", &d), KT_EINVAL);
    assert_string_equal(d.msg,
                        "field 'schooljaar': not a schooljaar (YYYY-YYYY, consecutive years)");
    assert_int_equal(try_text("thuiszitter", "schooljaar", "2020/2021", &d), KT_EINVAL);
    assert_int_equal(try_text("thuiszitter", "schooljaar", "2021-2020", &d), KT_EINVAL);
}

static void test_int_rule(void **state)
{
    kt_record_t *r = new_record("geoorloofd_verzuim");
    kt_diag_t d;

    (void)state;
    assert_int_equal(kt_record_set_int(r, "aanwezigheid_pct", 101, &d), KT_EINVAL);
    assert_string_equal(d.msg, "field 'aanwezigheid_pct': out of range (0..100)");
    assert_int_equal(kt_record_set_int(r, "aanwezigheid_pct", -1, &d), KT_EINVAL);
    assert_int_equal(kt_record_set_int(r, "aanwezigheid_pct", INT64_MIN, &d), KT_EINVAL);
    assert_int_equal(kt_record_set_int(r, "aanwezigheid_pct", 0, &d), 0);
    assert_int_equal(kt_record_set_int(r, "ziekmeldingen", 1001, &d), KT_EINVAL);
    assert_int_equal(kt_record_set_int(r, "ziekmeldingen", 1000, &d), 0);
    assert_int_equal(kt_record_set_int(r, "weken_aaneengesloten", 700, &d), 0);
    kt_record_destroy(&r);
    r = new_record("verzuimmelding");
    assert_int_equal(kt_record_set_int(r, "minuten", 40321, &d), KT_EINVAL);
    assert_int_equal(kt_record_set_int(r, "minuten", 960, &d), 0);
    assert_int_equal(kt_record_set_int(r, "te_laat", 1000, &d), 0);
    kt_record_destroy(&r);
}

static void test_kind_mismatch(void **state)
{
    kt_record_t *r = new_record("thuiszitter");
    kt_diag_t d;

    (void)state;
    assert_int_equal(kt_record_set_int(r, "begindatum", 20240101, &d), KT_EMALFORMED);
    assert_string_equal(d.msg, "field 'begindatum': expects text, not an integer");
    assert_int_equal(kt_record_set_text(r, "aanwezigheid_pct", "50", &d), KT_EMALFORMED);
    assert_string_equal(d.msg, "field 'aanwezigheid_pct': expects an integer, not text");
    assert_int_equal(kt_record_set_text(r, "geoorloofd", "true", &d), KT_EMALFORMED);
    assert_string_equal(d.msg, "field 'geoorloofd': expects true or false, not text");
    assert_int_equal(kt_record_set_bool(r, "definitie", 1, &d), KT_EMALFORMED);
    assert_int_equal(kt_record_set_bool(r, "aanwezigheid_pct", 1, &d), KT_EMALFORMED);
    assert_int_equal(kt_record_set_int(r, "geoorloofd", 1, &d), KT_EMALFORMED);
    assert_int_equal(kt_record_nfields(r), 0);
    kt_record_destroy(&r);
}

static void test_unknown_type_and_field(void **state)
{
    kt_record_t *r = NULL;
    kt_diag_t d;

    (void)state;
    assert_int_equal(kt_record_new(&r, "x", &d), KT_EINVAL);
    assert_null(r);
    assert_string_equal(d.msg, "unknown record type 'x' (known: geoorloofd_verzuim, thuiszitter, "
                               "verzuimmelding, vrijstelling)");
    assert_int_equal(kt_record_new(&r, "Jan " BSN, &d), KT_EINVAL);
    assert_null(strstr(d.msg, BSN));
    assert_non_null(strstr(d.msg, "unknown record type (not an identifier; known: "));
    assert_int_equal(kt_record_new(&r, NULL, &d), KT_EINVAL);
    assert_int_equal(kt_record_new(&r, "consent", &d), KT_EINVAL);

    r = new_record("thuiszitter");
    assert_int_equal(kt_record_set_text(r, "naam", "Jan", &d), KT_EINVAL);
    assert_string_equal(d.msg, "unknown field 'naam' for record type thuiszitter");
    assert_int_equal(kt_record_set_text(r, "Jan de Vries", "x", &d), KT_EINVAL);
    assert_string_equal(d.msg, "unknown field (not an identifier) for record type thuiszitter");
    /* a field of another type */
    assert_int_equal(kt_record_set_text(r, "mas_route", "halt", &d), KT_EINVAL);
    assert_string_equal(d.msg, "unknown field 'mas_route' for record type thuiszitter");
    kt_record_destroy(&r);
}

static void test_set_twice(void **state)
{
    kt_record_t *r = minimal("thuiszitter");
    kt_diag_t d;

    (void)state;
    assert_int_equal(kt_record_set_text(r, "definitie", "breed", &d), KT_EINVAL);
    assert_string_equal(d.msg, "field 'definitie': set twice");
    assert_int_equal(kt_record_set_bool(r, "geoorloofd", 1, &d), 0);
    assert_int_equal(kt_record_set_bool(r, "geoorloofd", 0, &d), KT_EINVAL);
    kt_record_destroy(&r);
}

/* ---- whole-record rules ---- */

static void test_required_fields(void **state)
{
    const char *type[] = {"geoorloofd_verzuim", "thuiszitter", "verzuimmelding", "vrijstelling"};
    const char *def[] = {"begindatum", "definitie", "soort", "artikel"};
    char want[KT_DIAG_BYTES];
    kt_diag_t d;
    size_t i;

    (void)state;
    for (i = 0; i < 4; i++) {
        kt_record_t *r = new_record(type[i]), *m = minimal(type[i]);

        assert_int_equal(kt_record_validate(m, &d), 0);
        assert_int_equal(kt_record_validate(r, &d), KT_EINVAL);
        snprintf(want, sizeof(want), "record type %s: required field 'leerling_id' is missing",
                 type[i]);
        assert_string_equal(d.msg, want);
        assert_int_equal(kt_record_set_text(r, "leerling_id", ONUM, &d), 0);
        assert_int_equal(kt_record_validate(r, &d), KT_EINVAL);
        snprintf(want, sizeof(want), "record type %s: required field '%s' is missing", type[i],
                 def[i]);
        assert_string_equal(d.msg, want);
        kt_record_destroy(&r);
        kt_record_destroy(&m);
    }
}

static void check_order(const char *type, const char *start, const char *end)
{
    kt_record_t *r = minimal(type), *same = minimal(type);
    char want[KT_DIAG_BYTES];
    kt_diag_t d;

    assert_int_equal(kt_record_set_text(r, end, "2024-03-01", &d), 0);
    assert_int_equal(kt_record_set_text(r, start, "2024-03-02", &d), 0);
    assert_int_equal(kt_record_validate(r, &d), KT_EINVAL);
    snprintf(want, sizeof(want), "field '%s': before '%s'", end, start);
    assert_string_equal(d.msg, want);
    /* same day is fine */
    assert_int_equal(kt_record_set_text(same, end, "2024-03-02", &d), 0);
    assert_int_equal(kt_record_set_text(same, start, "2024-03-02", &d), 0);
    assert_int_equal(kt_record_validate(same, &d), 0);
    kt_record_destroy(&r);
    kt_record_destroy(&same);
}

static void test_end_not_before_start(void **state)
{
    kt_record_t *r;
    kt_diag_t d;

    (void)state;
    check_order("thuiszitter", "begindatum", "einddatum");
    check_order("verzuimmelding", "periode_start", "periode_eind");
    check_order("vrijstelling", "ingediend_op", "besluitdatum");
    check_order("vrijstelling", "geldig_van", "geldig_tot");
    /* geoorloofd_verzuim: begindatum is the required one, already 2024-01-08 */
    r = minimal("geoorloofd_verzuim");
    assert_int_equal(kt_record_set_text(r, "einddatum", "2024-01-07", &d), 0);
    assert_int_equal(kt_record_validate(r, &d), KT_EINVAL);
    assert_string_equal(d.msg, "field 'einddatum': before 'begindatum'");
    kt_record_destroy(&r);
    /* an end without a start is fine */
    r = minimal("thuiszitter");
    assert_int_equal(kt_record_set_text(r, "einddatum", "2024-01-07", &d), 0);
    assert_int_equal(kt_record_validate(r, &d), 0);
    kt_record_destroy(&r);
}

static void test_views(void **state)
{
    kt_record_t *r = minimal("thuiszitter");
    kt_diag_t d;

    (void)state;
    assert_string_equal(kt_record_type(r), "thuiszitter");
    assert_string_equal(kt_record_leerling_id(r), BSN);
    assert_int_equal(kt_record_set_int(r, "aanwezigheid_pct", 0, &d), 0);
    assert_int_equal(kt_record_set_bool(r, "geoorloofd", 0, &d), 0);
    assert_int_equal(kt_record_set_text(r, "swv", "VO2506", &d), 0);
    assert_int_equal(kt_record_nfields(r), 5);
    /* canonical order: length first, then bytewise */
    assert_string_equal(kt_record_field_at(r, 0), "swv");
    assert_string_equal(kt_record_field_at(r, 1), "definitie");
    assert_string_equal(kt_record_field_at(r, 2), "geoorloofd");
    assert_string_equal(kt_record_field_at(r, 3), "leerling_id");
    assert_string_equal(kt_record_field_at(r, 4), "aanwezigheid_pct");
    assert_null(kt_record_field_at(r, 5));
    kt_record_destroy(&r);
    r = new_record("vrijstelling");
    assert_null(kt_record_leerling_id(r));
    kt_record_destroy(&r);
    kt_record_destroy(&r); /* idempotent */
    kt_record_destroy(NULL);
    kt_record_free_bytes(NULL, 0);
}

/* ---- canonical encoding ---- */

static void test_encode_matches_hand_assembled_bytes(void **state)
{
    kt_record_t *r = minimal("vrijstelling");
    struct out want = {.n = 0};
    uint8_t *enc = NULL;
    size_t len = 0;
    kt_diag_t d;

    (void)state;
    put_minimal_vrijstelling(&want);
    assert_int_equal(kt_record_encode(r, &enc, &len, &d), 0);
    assert_int_equal(len, want.n);
    assert_memory_equal(enc, want.b, len);
    /* the first bytes, spelled out: map(2) "type" */
    assert_int_equal(enc[0], 0xa2);
    assert_int_equal(enc[1], 0x64);
    kt_record_free_bytes(enc, len);
    kt_record_destroy(&r);
}

static void test_encode_integer_widths(void **state)
{
    const int64_t v[] = {0, 23, 24, 255, 256, 40320};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        kt_record_t *r = minimal("verzuimmelding");
        struct out want = {.n = 0};
        uint8_t *enc = NULL;
        size_t len = 0;
        kt_diag_t d;

        assert_int_equal(kt_record_set_int(r, "minuten", v[i], &d), 0);
        put_record_head(&want, "verzuimmelding", 3);
        put_text(&want, "soort");
        put_text(&want, "wettelijk");
        put_text(&want, "minuten");
        put_head(&want, 0, (uint64_t)v[i], 0);
        put_text(&want, "leerling_id");
        put_text(&want, BSN);
        assert_int_equal(kt_record_encode(r, &enc, &len, &d), 0);
        assert_int_equal(len, want.n);
        assert_memory_equal(enc, want.b, len);
        kt_record_free_bytes(enc, len);
        kt_record_destroy(&r);
    }
}

static void fill_thuiszitter(kt_record_t *r, int reverse)
{
    const char *text[][2] = {{"leerling_id", ONUM},        {"definitie", "vier_weken"},
                             {"begindatum", "2024-01-08"}, {"einddatum", "2024-03-01"},
                             {"brin", "21PA00"},           {"swv", "VO2506"},
                             {"oorzaak", "onbekend"},      {"schooljaar", "2023-2024"}};
    size_t n = sizeof(text) / sizeof(text[0]), i;
    kt_diag_t d;

    for (i = 0; i < n; i++) {
        size_t k = reverse ? n - 1 - i : i;

        assert_int_equal(kt_record_set_text(r, text[k][0], text[k][1], &d), 0);
        if (i == 3) {
            assert_int_equal(kt_record_set_int(r, "aanwezigheid_pct", 40, &d), 0);
            assert_int_equal(kt_record_set_bool(r, "geoorloofd", 1, &d), 0);
        }
    }
}

static void test_encode_is_deterministic(void **state)
{
    kt_record_t *a = new_record("thuiszitter"), *b = new_record("thuiszitter");
    uint8_t *ea = NULL, *eb = NULL;
    size_t la = 0, lb = 0;
    kt_diag_t d;

    (void)state;
    fill_thuiszitter(a, 0);
    fill_thuiszitter(b, 1);
    assert_int_equal(kt_record_encode(a, &ea, &la, &d), 0);
    assert_int_equal(kt_record_encode(b, &eb, &lb, &d), 0);
    assert_int_equal(la, lb);
    assert_memory_equal(ea, eb, la);
    kt_record_free_bytes(ea, la);
    kt_record_free_bytes(eb, lb);
    kt_record_destroy(&a);
    kt_record_destroy(&b);
}

static void test_encode_validates_first(void **state)
{
    kt_record_t *r = new_record("thuiszitter");
    uint8_t *enc = (uint8_t *)"x";
    size_t len = 7;
    kt_diag_t d;

    (void)state;
    assert_int_equal(kt_record_encode(r, &enc, &len, &d), KT_EINVAL);
    assert_null(enc);
    assert_int_equal(len, 0);
    assert_non_null(strstr(d.msg, "required field 'leerling_id'"));
    kt_record_destroy(&r);
}

static void test_decode_round_trip(void **state)
{
    kt_record_t *a = new_record("thuiszitter"), *b = NULL;
    uint8_t *ea = NULL, *eb = NULL;
    size_t la = 0, lb = 0, i;
    kt_diag_t d;

    (void)state;
    fill_thuiszitter(a, 0);
    assert_int_equal(kt_record_encode(a, &ea, &la, &d), 0);
    assert_int_equal(kt_record_decode(&b, ea, la, &d), 0);
    assert_string_equal(kt_record_type(b), "thuiszitter");
    assert_string_equal(kt_record_leerling_id(b), ONUM);
    assert_int_equal(kt_record_nfields(b), kt_record_nfields(a));
    for (i = 0; i < kt_record_nfields(a); i++)
        assert_string_equal(kt_record_field_at(a, i), kt_record_field_at(b, i));
    assert_int_equal(kt_record_encode(b, &eb, &lb, &d), 0);
    assert_int_equal(la, lb);
    assert_memory_equal(ea, eb, la);
    kt_record_free_bytes(ea, la);
    kt_record_free_bytes(eb, lb);
    kt_record_destroy(&a);
    kt_record_destroy(&b);
}

static void test_decode_every_type(void **state)
{
    size_t t;

    (void)state;
    for (t = 0; t < kt_record_type_count(); t++) {
        kt_record_t *r = minimal(kt_record_type_name(t)), *back = NULL;
        uint8_t *enc = NULL;
        size_t len = 0;
        kt_diag_t d;

        assert_int_equal(kt_record_encode(r, &enc, &len, &d), 0);
        assert_int_equal(kt_record_decode(&back, enc, len, &d), 0);
        assert_string_equal(kt_record_type(back), kt_record_type_name(t));
        kt_record_free_bytes(enc, len);
        kt_record_destroy(&r);
        kt_record_destroy(&back);
    }
}

/* ---- strict decoding ---- */

static void test_decode_accepts_hand_assembled(void **state)
{
    struct out o = {.n = 0};
    kt_diag_t d;

    (void)state;
    put_minimal_vrijstelling(&o);
    assert_int_equal(decode(&o, &d), 0);
}

static void test_decode_rejects_non_shortest_int(void **state)
{
    struct out o = {.n = 0};
    kt_diag_t d;

    (void)state;
    put_record_head(&o, "verzuimmelding", 3);
    put_text(&o, "soort");
    put_text(&o, "wettelijk");
    put_text(&o, "minuten");
    put_head(&o, 0, 5, 1); /* 0x18 0x05 instead of 0x05 */
    put_text(&o, "leerling_id");
    put_text(&o, BSN);
    assert_rejected(&o, "not in canonical CBOR form");
    o.n = 0;
    put_record_head(&o, "verzuimmelding", 3);
    put_text(&o, "soort");
    put_text(&o, "wettelijk");
    put_text(&o, "minuten");
    put_head(&o, 0, 960, 4); /* 4 bytes for a 2-byte value */
    put_text(&o, "leerling_id");
    put_text(&o, BSN);
    assert_rejected(&o, "not in canonical CBOR form");
    o.n = 0;
    put_record_head(&o, "verzuimmelding", 3);
    put_text(&o, "soort");
    put_text(&o, "wettelijk");
    put_text(&o, "minuten");
    put_head(&o, 0, 960, 2); /* canonical: accepted */
    put_text(&o, "leerling_id");
    put_text(&o, BSN);
    assert_int_equal(decode(&o, &d), 0);
}

static void test_decode_rejects_non_shortest_lengths(void **state)
{
    struct out o = {.n = 0};

    (void)state;
    put_record_head(&o, "vrijstelling", 2);
    put_text(&o, "artikel");
    put_head(&o, 3, 6, 1); /* text length 6 as 0x78 0x06 */
    memcpy(o.b + o.n, "art_5a", 6);
    o.n += 6;
    put_text(&o, "leerling_id");
    put_text(&o, BSN);
    assert_rejected(&o, "not in canonical CBOR form");
    o.n = 0;
    put_head(&o, 5, 2, 1); /* map(2) as 0xb8 0x02 */
    put_text(&o, "type");
    put_text(&o, "vrijstelling");
    put_text(&o, "fields");
    put_head(&o, 5, 2, 0);
    put_text(&o, "artikel");
    put_text(&o, "art_5a");
    put_text(&o, "leerling_id");
    put_text(&o, BSN);
    assert_rejected(&o, "not in canonical CBOR form");
}

static void test_decode_rejects_unsorted_keys(void **state)
{
    struct out o = {.n = 0};

    (void)state;
    put_record_head(&o, "vrijstelling", 2);
    put_text(&o, "leerling_id");
    put_text(&o, BSN);
    put_text(&o, "artikel");
    put_text(&o, "art_5a");
    assert_rejected(&o, "not in canonical CBOR form");
    /* "fields" before "type" */
    o.n = 0;
    put_head(&o, 5, 2, 0);
    put_text(&o, "fields");
    put_head(&o, 5, 2, 0);
    put_text(&o, "artikel");
    put_text(&o, "art_5a");
    put_text(&o, "leerling_id");
    put_text(&o, BSN);
    put_text(&o, "type");
    put_text(&o, "vrijstelling");
    assert_rejected(&o, "expected a map of 'type' and 'fields'");
}

static void test_decode_rejects_indefinite_lengths(void **state)
{
    struct out o = {.n = 0};

    (void)state;
    put_head(&o, 5, 2, 0);
    put_text(&o, "type");
    put_text(&o, "vrijstelling");
    put_text(&o, "fields");
    o.b[o.n++] = 0xbf; /* indefinite map */
    put_text(&o, "artikel");
    put_text(&o, "art_5a");
    put_text(&o, "leerling_id");
    put_text(&o, BSN);
    o.b[o.n++] = 0xff;
    assert_rejected(&o, "expected 'fields' map after 'type'");
    o.n = 0;
    put_record_head(&o, "vrijstelling", 2);
    put_text(&o, "artikel");
    o.b[o.n++] = 0x7f; /* indefinite text */
    put_text(&o, "art_5a");
    o.b[o.n++] = 0xff;
    put_text(&o, "leerling_id");
    put_text(&o, BSN);
    assert_rejected(&o, "field 'artikel': malformed value");
    o.n = 0;
    o.b[o.n++] = 0xbf; /* indefinite top-level map */
    put_text(&o, "type");
    assert_rejected(&o, "expected a map of 'type' and 'fields'");
}

static void test_decode_rejects_trailing_and_duplicates(void **state)
{
    struct out o = {.n = 0};

    (void)state;
    put_minimal_vrijstelling(&o);
    o.b[o.n++] = 0x00;
    assert_rejected(&o, "trailing bytes");
    o.n = 0;
    put_record_head(&o, "vrijstelling", 3);
    put_text(&o, "artikel");
    put_text(&o, "art_5a");
    put_text(&o, "artikel");
    put_text(&o, "art_5b");
    put_text(&o, "leerling_id");
    put_text(&o, BSN);
    assert_rejected(&o, "field 'artikel': set twice");
}

static void test_decode_rejects_wrong_items(void **state)
{
    struct out o = {.n = 0};

    (void)state;
    /* a byte string where text belongs */
    put_record_head(&o, "vrijstelling", 2);
    put_text(&o, "artikel");
    put_head(&o, 2, 6, 0);
    memcpy(o.b + o.n, "art_5a", 6);
    o.n += 6;
    put_text(&o, "leerling_id");
    put_text(&o, BSN);
    assert_rejected(&o, "field 'artikel': malformed value");
    /* a tag, a float, null */
    o.n = 0;
    put_record_head(&o, "verzuimmelding", 2);
    put_text(&o, "soort");
    o.b[o.n++] = 0xc0;
    assert_rejected(&o, "field 'soort': malformed value");
    o.n = 0;
    put_record_head(&o, "verzuimmelding", 2);
    put_text(&o, "minuten");
    o.b[o.n++] = 0xf9;
    o.b[o.n++] = 0x3c;
    o.b[o.n++] = 0x00;
    assert_rejected(&o, "field 'minuten': malformed value");
    o.n = 0;
    put_record_head(&o, "verzuimmelding", 2);
    put_text(&o, "minuten");
    o.b[o.n++] = 0xf6;
    assert_rejected(&o, "field 'minuten': malformed value");
    /* an unknown field, with a value that must not be echoed */
    o.n = 0;
    put_record_head(&o, "vrijstelling", 2);
    put_text(&o, "naam");
    put_text(&o, BSN);
    assert_rejected(&o, "unknown field 'naam' for record type vrijstelling");
    /* an unknown type, and a type that is no identifier */
    o.n = 0;
    put_record_head(&o, "consent", 0);
    assert_rejected(&o, "unknown record type 'consent'");
    o.n = 0;
    put_record_head(&o, BSN " x", 0);
    assert_rejected(&o, "unknown record type (not an identifier");
    /* a negative integer: valid CBOR, outside every range */
    o.n = 0;
    put_record_head(&o, "verzuimmelding", 3);
    put_text(&o, "soort");
    put_text(&o, "wettelijk");
    put_text(&o, "minuten");
    put_head(&o, 1, 0, 0);
    put_text(&o, "leerling_id");
    put_text(&o, BSN);
    assert_rejected(&o, "field 'minuten': out of range (0..40320)");
    /* a value that breaks its field's rule */
    o.n = 0;
    put_record_head(&o, "vrijstelling", 2);
    put_text(&o, "artikel");
    put_text(&o, "art_5a");
    put_text(&o, "leerling_id");
    put_text(&o, BSN_OFF);
    assert_rejected(&o, "neither a valid BSN");
    /* valid CBOR, valid fields, missing the required one */
    o.n = 0;
    put_record_head(&o, "vrijstelling", 1);
    put_text(&o, "leerling_id");
    put_text(&o, BSN);
    assert_rejected(&o, "required field 'artikel' is missing");
}

static void test_decode_bounds(void **state)
{
    static uint8_t big[KT_RECORD_MAX_BYTES + 1];
    struct out o = {.n = 0};
    kt_record_t *r = (kt_record_t *)1;
    kt_diag_t d;

    (void)state;
    assert_int_equal(kt_record_decode(&r, big, sizeof(big), &d), KT_ETOOBIG);
    assert_null(r);
    assert_true(kt_record_decode(&r, big, 0, &d) < 0);
    /* huge declared sizes must not be allocation sizes */
    put_record_head(&o, "vrijstelling", 0);
    o.n--;
    put_head(&o, 5, UINT64_MAX, 8);
    assert_rejected(&o, "more fields than type vrijstelling has");
    o.n = 0;
    put_record_head(&o, "vrijstelling", 1);
    put_text(&o, "artikel");
    put_head(&o, 3, UINT64_MAX, 8);
    assert_rejected(&o, "field 'artikel': malformed value");
    o.n = 0;
    put_head(&o, 5, 2, 0);
    put_text(&o, "type");
    put_head(&o, 3, 0xffffffffu, 4);
    assert_rejected(&o, "'type' is not a record type name");
}

static void test_decode_every_prefix_and_flip(void **state)
{
    kt_record_t *a = new_record("thuiszitter"), *b = NULL;
    uint8_t *enc = NULL, *re = NULL;
    size_t len = 0, n, i, relen;
    kt_diag_t d;

    (void)state;
    fill_thuiszitter(a, 0);
    assert_int_equal(kt_record_encode(a, &enc, &len, &d), 0);
    for (n = 0; n < len; n++)
        assert_true(kt_record_decode(&b, enc, n, &d) < 0);
    for (i = 0; i < len; i++) {
        enc[i] ^= 0x01;
        /* a flip may yield another valid record; then it must be canonical */
        if (kt_record_decode(&b, enc, len, &d) == 0) {
            assert_int_equal(kt_record_encode(b, &re, &relen, &d), 0);
            assert_int_equal(relen, len);
            assert_memory_equal(re, enc, len);
            kt_record_free_bytes(re, relen);
            kt_record_destroy(&b);
        }
        enc[i] ^= 0x01;
    }
    kt_record_free_bytes(enc, len);
    kt_record_destroy(&a);
}

/* Values come back as set; a removed field is gone from the encoding. */
static void test_get_and_unset(void **state)
{
    kt_record_t *r = NULL;
    kt_field_kind_t kind;
    const char *text = NULL;
    int64_t num = -1;
    kt_diag_t d = {{0}};

    (void)state;
    assert_int_equal(kt_record_new(&r, "thuiszitter", &d), 0);
    assert_int_equal(kt_record_set_text(r, "leerling_id", "111222333", &d), 0);
    assert_int_equal(kt_record_set_text(r, "definitie", "breed", &d), 0);
    assert_int_equal(kt_record_set_int(r, "aanwezigheid_pct", 40, &d), 0);
    assert_int_equal(kt_record_set_bool(r, "geoorloofd", 1, &d), 0);

    assert_int_equal(kt_record_get(r, "definitie", &kind, &text, NULL), 0);
    assert_int_equal(kind, KT_FIELD_ENUM);
    assert_string_equal(text, "breed");
    assert_int_equal(kt_record_get(r, "aanwezigheid_pct", &kind, NULL, &num), 0);
    assert_int_equal(kind, KT_FIELD_INT);
    assert_int_equal(num, 40);
    assert_int_equal(kt_record_get(r, "geoorloofd", &kind, NULL, &num), 0);
    assert_int_equal(kind, KT_FIELD_BOOL);
    assert_int_equal(num, 1);
    assert_int_equal(kt_record_get(r, "duur", NULL, NULL, NULL), KT_ENOENT); /* not set */
    assert_int_equal(kt_record_get(r, "bestaat_niet", NULL, NULL, NULL), KT_ENOENT);

    assert_int_equal(kt_record_nfields(r), 4);
    assert_int_equal(kt_record_unset(r, "aanwezigheid_pct"), 0);
    assert_int_equal(kt_record_unset(r, "aanwezigheid_pct"), KT_ENOENT);
    assert_int_equal(kt_record_nfields(r), 3);
    assert_int_equal(kt_record_get(r, "aanwezigheid_pct", NULL, NULL, NULL), KT_ENOENT);
    assert_int_equal(kt_record_validate(r, &d), 0);
    /* Required fields can be removed too; validation then says so. */
    assert_int_equal(kt_record_unset(r, "definitie"), 0);
    assert_int_not_equal(kt_record_validate(r, &d), 0);
    assert_non_null(strstr(d.msg, "definitie"));
    kt_record_destroy(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_has_the_four_types),
        cmocka_unit_test(test_registry_pupil_fields_in_every_type),
        cmocka_unit_test(test_registry_names_are_unique_identifiers),
        cmocka_unit_test(test_registry_kinds),
        cmocka_unit_test(test_registry_every_code_is_settable),
        cmocka_unit_test(test_is_name),
        cmocka_unit_test(test_bsn_and_onderwijsnummer),
        cmocka_unit_test(test_leerling_id_rule),
        cmocka_unit_test(test_enum_rule),
        cmocka_unit_test(test_enum_diag_never_echoes_the_value),
        cmocka_unit_test(test_date_rule),
        cmocka_unit_test(test_string_rules),
        cmocka_unit_test(test_int_rule),
        cmocka_unit_test(test_kind_mismatch),
        cmocka_unit_test(test_unknown_type_and_field),
        cmocka_unit_test(test_set_twice),
        cmocka_unit_test(test_required_fields),
        cmocka_unit_test(test_end_not_before_start),
        cmocka_unit_test(test_views),
        cmocka_unit_test(test_encode_matches_hand_assembled_bytes),
        cmocka_unit_test(test_encode_integer_widths),
        cmocka_unit_test(test_encode_is_deterministic),
        cmocka_unit_test(test_encode_validates_first),
        cmocka_unit_test(test_decode_round_trip),
        cmocka_unit_test(test_decode_every_type),
        cmocka_unit_test(test_decode_accepts_hand_assembled),
        cmocka_unit_test(test_decode_rejects_non_shortest_int),
        cmocka_unit_test(test_decode_rejects_non_shortest_lengths),
        cmocka_unit_test(test_decode_rejects_unsorted_keys),
        cmocka_unit_test(test_decode_rejects_indefinite_lengths),
        cmocka_unit_test(test_decode_rejects_trailing_and_duplicates),
        cmocka_unit_test(test_decode_rejects_wrong_items),
        cmocka_unit_test(test_decode_bounds),
        cmocka_unit_test(test_decode_every_prefix_and_flip),
        cmocka_unit_test(test_get_and_unset),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
