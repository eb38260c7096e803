/* test_error.c - error names and diagnostics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "keten/error.h"

static void test_every_code_has_its_own_name(void **state)
{
    int codes[] = {KT_EMALFORMED, KT_ETOOBIG, KT_EAUTH,  KT_EDENIED, KT_ENOCONSENT,
                   KT_EIO,        KT_ENOMEM,  KT_EINVAL, KT_EEXIST,  KT_ENOENT,
                   KT_EPERM,      KT_EVERSION, KT_ECONFIG, KT_EREPLAY};
    size_t i, j, n = sizeof(codes) / sizeof(codes[0]);

    (void)state;
    assert_string_equal(kt_strerror(KT_OK), "ok");
    assert_string_equal(kt_strerror(KT_EAUTH), "authentication failed");
    for (i = 0; i < n; i++) {
        assert_string_not_equal(kt_strerror(codes[i]), "unknown error");
        for (j = i + 1; j < n; j++)
            assert_string_not_equal(kt_strerror(codes[i]), kt_strerror(codes[j]));
    }
    assert_string_equal(kt_strerror(-999), "unknown error");
}

static void test_diag_set_returns_the_code(void **state)
{
    kt_diag_t d;

    (void)state;
    assert_int_equal(kt_diag_set(&d, KT_EINVAL, "field '%s': %s", "reden", "bad"), KT_EINVAL);
    assert_string_equal(d.msg, "field 'reden': bad");
    assert_int_equal(kt_diag_set(NULL, KT_EIO, "ignored"), KT_EIO);
}

static void test_diag_prefix_and_truncation(void **state)
{
    kt_diag_t d;
    char long_name[2 * KT_DIAG_BYTES];

    (void)state;
    kt_diag_set(&d, KT_EINVAL, "field 'x': not a date");
    kt_diag_prefix(&d, "%s:%d", "in.json", 3);
    assert_string_equal(d.msg, "in.json:3: field 'x': not a date");
    kt_diag_prefix(NULL, "nothing");

    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    kt_diag_set(&d, KT_EINVAL, "%s", long_name);
    assert_int_equal(strlen(d.msg), KT_DIAG_BYTES - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_has_its_own_name),
        cmocka_unit_test(test_diag_set_returns_the_code),
        cmocka_unit_test(test_diag_prefix_and_truncation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
