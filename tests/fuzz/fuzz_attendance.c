/*
 * fuzz_attendance.c - libFuzzer target for the attendance CSV parser
 * (kt_signal_csv_parse) under a fixed code mapping, and the rules over
 * whatever it accepts. Must never crash, leak or hang; an error must always
 * say why, and accepted rows must satisfy the row invariants.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keten/signal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

const char *__lsan_default_suppressions(void)
{
    return "leak:libconfig.so\n";
}

static const char s_conf_text[] =
    "retention_days = 30;\n"
    "codes = ( { code = \"Z\"; categorie = \"ziek\"; },\n"
    "  { code = \"ZO\"; categorie = \"ziek\"; onduidelijk = true; },\n"
    "  { code = \"O\"; categorie = \"ongeoorloofd\"; },\n"
    "  { code = \"L\"; categorie = \"te_laat\"; } );\n"
    "rules = {\n"
    "  wettelijk_16u = { minuten = 960; comparator = \"gt\"; lesweken = 4; };\n"
    "  geoorloofd_lt50 = { lesweken = 4; comparator = \"gt\"; pct = 50; };\n"
    "  ziek_3x_2mnd = { keer = 3; comparator = \"ge\"; maanden = 2; max_dagen = 2; };\n"
    "  ziek_10d = { dagen = 10; comparator = \"gt\"; };\n"
    "  ziek_4x_12w = { keer = 4; comparator = \"ge\"; weken = 12; };\n"
    "};\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static kt_signal_conf_t conf;
    static int ready;
    kt_signal_row_t *rows = NULL;
    kt_signal_day_t *days;
    kt_signal_hit_t hits[KT_SIGNAL_HITS_MAX];
    size_t n = 0;
    kt_diag_t d = {{0}};
    int rc;

    if (!ready) {
        kt_conf_errors_t e = {NULL, 0};

        if (kt_signal_conf_parse(&conf, "fuzz.conf", s_conf_text, strlen(s_conf_text), &e) != 0)
            abort();
        kt_conf_errors_free(&e);
        ready = 1;
    }
    rc = kt_signal_csv_parse(&rows, &n, (const char *)data, size, &conf, &d);
    if (rc != 0) {
        if (d.msg[0] == '\0' || rows != NULL || n != 0)
            abort();
        return 0;
    }
    if (n == 0)
        return kt_signal_rows_free(rows, n), 0;
    if ((days = calloc(n, sizeof(*days))) == NULL)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (rows[i].afwezig < 0 || rows[i].afwezig > rows[i].lestijd)
            abort();
        memcpy(days[i].datum, rows[i].datum, sizeof(days[i].datum));
        days[i].lestijd = rows[i].lestijd;
        days[i].afwezig = rows[i].afwezig;
        days[i].cat = rows[i].cat;
        days[i].flags = rows[i].flags;
    }
    if (kt_signal_evaluate(&conf, days, n, rows[n - 1].datum, hits, KT_SIGNAL_HITS_MAX) < 0)
        abort();
    free(days);
    kt_signal_rows_free(rows, n);
    return 0;
}
