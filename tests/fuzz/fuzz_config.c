/*
 * fuzz_config.c - libFuzzer target for the ketend.conf parser and checks.
 *
 * Runs kt_conf_parse over the input with KT_CONF_SYNTAX_ONLY, so a fuzzed
 * file never makes the parser open a key file, a directory or the user
 * database: libconfig's parser and every structural and value check run;
 * the file-system checks are covered by tests/unit/test_conf.c. Must never
 * crash, leak or hang; any result code is fine.
 */
#include <stddef.h>
#include <stdint.h>

#include "keten/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/* libconfig 1.5's parser leaks the token it holds when a syntax error
 * stops it (seeds leak-libconfig-*.conf; fixed in libconfig 1.7). That is
 * not ours to fix, so leaks allocated inside libconfig are not reported.
 * conf.c's own config_destroy is checked by test_conf under ASan. */
const char *__lsan_default_suppressions(void)
{
    return "leak:libconfig.so\n";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kt_conf_errors_t errs = {0};
    kt_conf_t *c = NULL;

    if (kt_conf_parse(&c, (const char *)data, size, "/fuzz/ketend.conf", KT_CONF_SYNTAX_ONLY,
                      &errs) == 0) {
        /* A config that passed must be complete. */
        if (c == NULL || c->id[0] == '\0' || c->listen == NULL || c->store_path == NULL ||
            c->control_path == NULL || c->policies_dir == NULL || c->key_path == NULL ||
            errs.count != 0)
            __builtin_trap();
        (void)kt_conf_partner(c, "swv-a");
    } else if (c != NULL || errs.count == 0) {
        __builtin_trap(); /* a failure always says why */
    }
    kt_conf_destroy(&c);
    kt_conf_errors_free(&errs);
    return 0;
}
