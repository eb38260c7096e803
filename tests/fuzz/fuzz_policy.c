/*
 * fuzz_policy.c - libFuzzer target for the policy loader.
 *
 * Writes the input as the one policy file (swv-a.conf, mode 0600) of a
 * private temporary directory and loads that directory, so the directory
 * walk, the file read and every structural and value check run on it. Must
 * never crash, leak or hang; a failure must always say why, and a set that
 * loaded must answer queries.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "keten/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/* libconfig 1.5 leaks a token on some syntax errors (see fuzz_config.c). */
const char *__lsan_default_suppressions(void)
{
    return "leak:libconfig.so\n";
}

static char s_dir[64], s_file[96];

static void s_cleanup(void)
{
    unlink(s_file);
    rmdir(s_dir);
}

static int s_role_of(void *ctx, const char *partner, kt_role_t *role)
{
    (void)ctx;
    (void)partner;
    *role = KT_ROLE_SWV;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const kt_policy_roles_t roles = {s_role_of, NULL, KT_ROLE_SCHOOL};
    kt_conf_errors_t errs = {0};
    kt_policy_set_t *set = NULL;
    const char *out[4];
    int fd;

    if (s_dir[0] == '\0') {
        snprintf(s_dir, sizeof(s_dir), "/tmp/keten-fuzz-policy.XXXXXX");
        if (mkdtemp(s_dir) == NULL)
            abort();
        snprintf(s_file, sizeof(s_file), "%s/swv-a.conf", s_dir);
        atexit(s_cleanup);
    }
    if ((fd = open(s_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0 ||
        (size > 0 && write(fd, data, size) != (ssize_t)size) || close(fd) != 0)
        abort();
    if (kt_policy_load(&set, s_dir, &roles, &errs) == 0) {
        if (set == NULL || errs.count != 0)
            __builtin_trap();
        (void)kt_policy_rule(set, "swv-a", KT_POLICY_SEND, "thuiszitter", "2025-09-01");
        (void)kt_policy_recipients(set, "geoorloofd_verzuim", "2026-08-01", out, 4);
    } else if (set != NULL || errs.count == 0) {
        __builtin_trap();
    }
    kt_policy_set_destroy(&set);
    kt_conf_errors_free(&errs);
    return 0;
}
