/*
 * test_record_vectors.c - known answers for the canonical encoding: every
 * tests/vectors/records/NAME.json must encode to exactly NAME.hex, and those
 * bytes must decode and re-encode unchanged. The .hex files come from an
 * independent assembler (tests/vectors/records/README.md). Run from the
 * repository root, as tests/run.sh does. One TAP line per vector.
 */
#include <ctype.h>
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../client/ketenctl.h"

#define VECTOR_DIR "tests/vectors/records"
#define MAX_VECTORS 32

struct one {
    kt_record_t *rec;
    size_t n;
};

static int take(void *ctx, size_t recno, kt_record_t **rec)
{
    struct one *o = ctx;

    (void)recno;
    o->n++;
    if (o->rec == NULL) {
        o->rec = *rec;
        *rec = NULL;
    }
    return 0;
}

/* The bytes of a hex file (whitespace ignored); exits the test on bad hex. */
static uint8_t *read_hex(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    uint8_t *buf = malloc(KT_RECORD_MAX_BYTES);
    int c, hi = -1;

    assert_non_null(f);
    assert_non_null(buf);
    *len = 0;
    while ((c = fgetc(f)) != EOF) {
        if (isspace(c))
            continue;
        assert_true(isxdigit(c) && !isupper(c));
        c = isdigit(c) ? c - '0' : c - 'a' + 10;
        if (hi < 0) {
            hi = c;
            continue;
        }
        assert_true(*len < KT_RECORD_MAX_BYTES);
        buf[(*len)++] = (uint8_t)(hi << 4 | c);
        hi = -1;
    }
    assert_int_equal(hi, -1);
    fclose(f);
    return buf;
}

static void test_vector(void **state)
{
    const char *json = *state;
    char hex[512];
    struct one o = {NULL, 0};
    kt_record_t *back = NULL;
    uint8_t *want, *enc = NULL, *re = NULL;
    size_t wlen, len = 0, relen = 0;
    kt_diag_t d = {""};
    FILE *f = fopen(json, "rb");

    assert_non_null(f);
    snprintf(hex, sizeof(hex), "%.*s.hex", (int)(strlen(json) - 5), json);
    want = read_hex(hex, &wlen);
    if (kt_json_read_records(f, json, take, &o, &d) != 0)
        fail_msg("%s", d.msg);
    fclose(f);
    assert_int_equal(o.n, 1);
    assert_int_equal(kt_record_encode(o.rec, &enc, &len, &d), 0);
    assert_int_equal(len, wlen);
    assert_memory_equal(enc, want, wlen);
    if (kt_record_decode(&back, want, wlen, &d) != 0)
        fail_msg("%s", d.msg);
    assert_int_equal(kt_record_encode(back, &re, &relen, &d), 0);
    assert_int_equal(relen, wlen);
    assert_memory_equal(re, want, wlen);
    kt_record_free_bytes(enc, len);
    kt_record_free_bytes(re, relen);
    kt_record_destroy(&o.rec);
    kt_record_destroy(&back);
    free(want);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
    struct CMUnitTest tests[MAX_VECTORS];
    char *paths[MAX_VECTORS];
    DIR *dir = opendir(VECTOR_DIR);
    struct dirent *e;
    size_t n = 0, i;
    int rc;

    if (dir == NULL) {
        printf("not ok 1 - cannot open %s (run from the repository root)\n", VECTOR_DIR);
        return 1;
    }
    while ((e = readdir(dir)) != NULL && n < MAX_VECTORS) {
        size_t l = strlen(e->d_name);

        if (l <= 5 || strcmp(e->d_name + l - 5, ".json") != 0)
            continue;
        if (asprintf(&paths[n], "%s/%s", VECTOR_DIR, e->d_name) < 0)
            return 1;
        n++;
    }
    closedir(dir);
    qsort(paths, n, sizeof(paths[0]), by_name);
    for (i = 0; i < n; i++)
        tests[i] = (struct CMUnitTest){paths[i], test_vector, NULL, NULL, paths[i]};
    if (n < 4) {
        printf("not ok 1 - expected at least 4 vectors in %s, found %zu\n", VECTOR_DIR, n);
        return 1;
    }
    rc = _cmocka_run_group_tests("record_vectors", tests, n, NULL, NULL);
    for (i = 0; i < n; i++)
        free(paths[i]);
    return rc;
}
