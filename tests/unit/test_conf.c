/*
 * test_conf.c - ketend.conf: a valid file, and for each kind of mistake the
 * exact "FILE:LINE: message" an operator will read.
 *
 * Uses sodium.h for sodium_init only. Each test gets its own mkdtemp
 * directory holding freshly generated keys (kt_keys_generate + kt_keys_save)
 * and a config built from one valid base by line-preserving edits, so the
 * line numbers below are those of s_base.
 */
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "keten/conf.h"

static const char s_base[] = "node = {\n"                                       /* 1 */
                             "  id = \"school-a\";\n"                           /* 2 */
                             "  key = \"keys/school-a.key\";\n"                 /* 3 */
                             "  listen = \"tcp://*:7001\";\n"                   /* 4 */
                             "  store = \"school-a.db\";\n"                     /* 5 */
                             "  control = \"ketend.sock\";\n"                   /* 6 */
                             "  policies = \"policies\";\n"                     /* 7 */
                             "  # node extra\n"                                 /* 8 */
                             "};\n"                                             /* 9 */
                             "access = {\n"                                     /* 10 */
                             "  operators = ( \"user:root\", \"uid:1000\" );\n" /* 11 */
                             "  auditors = [ \"group:root\" ];\n"               /* 12 */
                             "};\n"                                             /* 13 */
                             "partners = (\n"                                   /* 14 */
                             "  {\n"                                            /* 15 */
                             "    id = \"swv-a\";\n"                            /* 16 */
                             "    role = \"swv\";\n"                            /* 17 */
                             "    key = \"keys/swv-a.pub\";\n"                  /* 18 */
                             "    endpoint = \"tcp://swv-a.example:7002\";\n"   /* 19 */
                             "    # partner extra\n"                            /* 20 */
                             "  },\n"                                           /* 21 */
                             "  {\n"                                            /* 22 */
                             "    id = \"gemeente-x\";\n"                       /* 23 */
                             "    role = \"gemeente\";\n"                       /* 24 */
                             "    key = \"keys/gemeente-x.pub\";\n"             /* 25 */
                             "    endpoint = \"tcp://[::1]:7003\";\n"           /* 26 */
                             "  }\n"                                            /* 27 */
                             ");\n"                                             /* 28 */
                             "# top extra\n";                                   /* 29 */

struct fx {
    char dir[64];
    char real[256]; /* realpath of dir: where relative paths resolve */
    char conf[256];
    kt_conf_errors_t errs;
    kt_conf_t *c;
};

static void s_keygen(const char *dir, const char *id, kt_role_t role)
{
    kt_keys_t *k = NULL;
    kt_diag_t d = {{0}};

    assert_int_equal(kt_keys_generate(&k, id, role, &d), 0);
    assert_int_equal(kt_keys_save(k, dir, &d), 0);
    kt_keys_destroy(&k);
}

static int s_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char p[PATH_MAX + 16], *real;

    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/keten-test-conf.XXXXXX");
    if (mkdtemp(f->dir) == NULL || (real = realpath(f->dir, NULL)) == NULL)
        return -1;
    snprintf(f->real, sizeof(f->real), "%s", real);
    free(real);
    snprintf(f->conf, sizeof(f->conf), "%s/ketend.conf", f->dir);
    snprintf(p, sizeof(p), "%s/keys", f->dir);
    if (mkdir(p, 0700) != 0)
        return -1;
    s_keygen(p, "school-a", KT_ROLE_SCHOOL);
    s_keygen(p, "swv-a", KT_ROLE_SWV);
    s_keygen(p, "swv-b", KT_ROLE_SWV);
    s_keygen(p, "gemeente-x", KT_ROLE_GEMEENTE);
    s_keygen(p, "school-z", KT_ROLE_SCHOOL); /* claims to be school-z, not swv-a */
    snprintf(p, sizeof(p), "%s/policies", f->dir);
    if (mkdir(p, 0755) != 0)
        return -1;
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    struct fx *f = *state;
    char cmd[PATH_MAX + 16];

    kt_conf_destroy(&f->c);
    kt_conf_errors_free(&f->errs);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

/* Writes s_base with edits applied: pairs of (from, to), NULL-terminated.
 * Each `from` must occur; edits keep line numbers if `to` has no newline. */
static void s_write(struct fx *f, mode_t mode, ...)
{
    char text[4096], tmp[4096], *at;
    const char *from, *to;
    va_list ap;
    FILE *fp;

    snprintf(text, sizeof(text), "%s", s_base);
    va_start(ap, mode);
    while ((from = va_arg(ap, const char *)) != NULL) {
        to = va_arg(ap, const char *);
        at = strstr(text, from);
        assert_non_null(at);
        snprintf(tmp, sizeof(tmp), "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
        memcpy(text, tmp, sizeof(text));
    }
    va_end(ap);
    fp = fopen(f->conf, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(f->conf, mode), 0);
}

/* Loads f->conf expecting failure with exactly these messages, each given
 * as "LINE: message" (or ": message") and prefixed here with the file. */
static void s_expect(struct fx *f, int code, ...)
{
    const char *want;
    char full[2048];
    size_t i = 0;
    va_list ap;

    assert_int_equal(kt_conf_load(&f->c, f->conf, &f->errs), code);
    assert_null(f->c);
    va_start(ap, code);
    while ((want = va_arg(ap, const char *)) != NULL) {
        snprintf(full, sizeof(full), "%s:%s", f->conf, want);
        if (want[0] == ':')
            snprintf(full, sizeof(full), "%s%s", f->conf, want);
        assert_true(i < f->errs.count);
        assert_string_equal(f->errs.msg[i], full);
        i++;
    }
    va_end(ap);
    assert_int_equal(f->errs.count, i);
}

static void test_valid_config_loads(void **state)
{
    struct fx *f = *state;
    const kt_conf_partner_t *p;
    char want[512];
    gid_t wheel[] = {4, 0};

    s_write(f, 0644, NULL);
    assert_int_equal(kt_conf_load(&f->c, f->conf, &f->errs), 0);
    assert_int_equal(f->errs.count, 0);
    assert_string_equal(f->c->path, f->conf);
    assert_string_equal(f->c->id, "school-a");
    snprintf(want, sizeof(want), "%s/keys/school-a.key", f->real);
    assert_string_equal(f->c->key_path, want);
    snprintf(want, sizeof(want), "%s/school-a.db", f->real);
    assert_string_equal(f->c->store_path, want);
    snprintf(want, sizeof(want), "%s/ketend.sock", f->real);
    assert_string_equal(f->c->control_path, want);
    snprintf(want, sizeof(want), "%s/policies", f->real);
    assert_string_equal(f->c->policies_dir, want);
    assert_string_equal(f->c->listen, "tcp://*:7001");
    assert_int_equal(f->c->max_message_age, KT_CONF_MAX_AGE_DEFAULT);
    assert_int_equal(f->c->log, KT_CONF_LOG_STDERR);
    assert_non_null(f->c->keys);
    assert_string_equal(kt_keys_public(f->c->keys)->id, "school-a");
    assert_int_equal(strlen(f->c->fingerprint), KT_FINGERPRINT_HEX - 1);

    assert_int_equal(f->c->n_operators, 2);
    assert_string_equal(f->c->operators[0].name, "user:root");
    assert_int_equal(f->c->operators[0].is_group, 0);
    assert_int_equal(f->c->operators[0].id, 0);
    assert_int_equal(f->c->operators[1].id, 1000);
    assert_int_equal(f->c->n_auditors, 1);
    assert_int_equal(f->c->auditors[0].is_group, 1);
    assert_true(kt_conf_principal_matches(f->c->operators, 2, 1000, NULL, 0));
    assert_false(kt_conf_principal_matches(f->c->operators, 2, 1001, wheel, 2));
    assert_true(kt_conf_principal_matches(f->c->auditors, 1, 1001, wheel, 2));
    assert_false(kt_conf_principal_matches(f->c->auditors, 1, 0, wheel, 1));

    assert_int_equal(f->c->n_partners, 2);
    p = kt_conf_partner(f->c, "gemeente-x");
    assert_non_null(p);
    assert_int_equal(p->role, KT_ROLE_GEMEENTE);
    assert_string_equal(p->endpoint, "tcp://[::1]:7003");
    assert_string_equal(p->pub.id, "gemeente-x");
    assert_int_equal(p->line, 22);
    assert_int_equal(strlen(p->fingerprint), KT_FINGERPRINT_HEX - 1);
    assert_string_not_equal(p->fingerprint, f->c->fingerprint);
    assert_null(kt_conf_partner(f->c, "swv-b"));
}

static void test_optional_settings(void **state)
{
    struct fx *f = *state;

    s_write(f, 0600, "# node extra", "max_message_age = 3600; log = \"syslog\";",
            "store = \"school-a.db\"", "store = \"/tmp/../tmp/x.db\"", NULL);
    assert_int_equal(kt_conf_load(&f->c, f->conf, &f->errs), 0);
    assert_int_equal(f->c->max_message_age, 3600);
    assert_int_equal(f->c->log, KT_CONF_LOG_SYSLOG);
    assert_string_equal(f->c->store_path, "/tmp/../tmp/x.db"); /* absolute: as is */
}

static void test_unknown_setting_at_top_level(void **state)
{
    struct fx *f = *state;

    s_write(f, 0644, "# top extra", "colour = \"blue\";", NULL);
    s_expect(f, KT_ECONFIG, "29: unknown setting 'colour'", NULL);
}

static void test_unknown_setting_in_a_partner(void **state)
{
    struct fx *f = *state;

    s_write(f, 0644, "# partner extra", "colour = \"blue\";", NULL);
    s_expect(f, KT_ECONFIG, "20: partner 'swv-a': unknown setting 'colour'", NULL);
}

static void test_unknown_setting_in_node_and_access(void **state)
{
    struct fx *f = *state;

    s_write(f, 0644, "# node extra", "port = 7001;", "  auditors", "  admins = ( ); auditors",
            NULL);
    s_expect(f, KT_ECONFIG, "8: unknown setting 'node.port'", "12: unknown setting 'access.admins'",
             NULL);
}

static void test_wrong_types(void **state)
{
    struct fx *f = *state;

    s_write(f, 0644, "# node extra", "max_message_age = \"7d\";", "role = \"swv\"", "role = 2",
            "operators = ( \"user:root\", \"uid:1000\" )", "operators = \"user:root\"", NULL);
    s_expect(f, KT_ECONFIG, "8: 'node.max_message_age' must be an integer",
             "11: 'access.operators' must be a list of strings",
             "17: partner 'swv-a': 'role' must be a string", NULL);
}

static void test_partners_must_be_a_list_of_groups(void **state)
{
    struct fx *f = *state;

    s_write(f, 0644, "# top extra", "access2 = 1;", "partners = (", "partners = [ 1 ];\nx = (",
            NULL);
    /* The edit added a line: x starts at 15 and access2 moved to 30. */
    s_expect(f, KT_ECONFIG, "14: 'partners' must be a list ( { ... }, ... ) of groups",
             "15: unknown setting 'x'", "30: unknown setting 'access2'", NULL);
}

static void test_missing_required_settings(void **state)
{
    struct fx *f = *state;

    s_write(f, 0644, "  store = \"school-a.db\";", "", "    endpoint = \"tcp://[::1]:7003\";", "",
            NULL);
    s_expect(f, KT_ECONFIG, "1: missing required setting 'node.store'",
             "22: partner 'gemeente-x': missing required setting 'endpoint'", NULL);
}

static void test_missing_node_group(void **state)
{
    struct fx *f = *state;

    s_write(f, 0644, "node = {", "nodes = {", NULL);
    s_expect(f, KT_ECONFIG, ": missing required setting 'node'", "1: unknown setting 'nodes'",
             NULL);
}

static void test_duplicate_partner(void **state)
{
    struct fx *f = *state;

    s_write(f, 0644, "id = \"gemeente-x\"", "id = \"swv-a\"", "role = \"gemeente\"",
            "role = \"swv\"", "keys/gemeente-x.pub", "keys/swv-a.pub", NULL);
    s_expect(f, KT_ECONFIG, "22: partner 'swv-a': duplicate partner id (first at line 15)", NULL);
}

static void test_partner_with_the_nodes_own_id(void **state)
{
    struct fx *f = *state;
    char want[1024];

    s_write(f, 0644, "id = \"swv-a\"", "id = \"school-a\"", "role = \"swv\"", "role = \"school\"",
            "keys/swv-a.pub", "keys/school-a.pub", NULL);
    snprintf(want, sizeof(want),
             "18: partner 'school-a': key file %s/keys/school-a.pub is this node's own key",
             f->real);
    s_expect(f, KT_ECONFIG, "15: partner 'school-a': a partner cannot have the node's own id", want,
             NULL);
}

static void test_missing_partner_key_file(void **state)
{
    struct fx *f = *state;
    char want[1024];

    s_write(f, 0644, "keys/swv-a.pub", "keys/swv-nope.pub", NULL);
    snprintf(want, sizeof(want),
             "18: partner 'swv-a': %s/keys/swv-nope.pub: No such file or directory", f->real);
    s_expect(f, KT_ECONFIG, want, NULL);
}

static void test_partner_key_of_another_node(void **state)
{
    struct fx *f = *state;
    char want[1024];

    s_write(f, 0644, "keys/swv-a.pub", "keys/school-z.pub", NULL);
    snprintf(want, sizeof(want),
             "18: partner 'swv-a': key file %s/keys/school-z.pub belongs to node 'school-z'",
             f->real);
    s_expect(f, KT_ECONFIG, want, NULL);
}

static void test_partner_key_of_another_role(void **state)
{
    struct fx *f = *state;
    char want[1024];

    s_write(f, 0644, "role = \"swv\"", "role = \"gemeente\"", NULL);
    snprintf(want, sizeof(want),
             "18: partner 'swv-a': key file %s/keys/swv-a.pub is for a swv, not a gemeente",
             f->real);
    s_expect(f, KT_ECONFIG, want, NULL);
}

static void test_node_key_checks(void **state)
{
    struct fx *f = *state;
    char want[1024], key[512];

    /* A key of another node. */
    s_write(f, 0644, "keys/school-a.key", "keys/school-z.key", NULL);
    snprintf(want, sizeof(want),
             "3: 'node.key': key file %s/keys/school-z.key belongs to node 'school-z', not to "
             "node.id 'school-a'",
             f->real);
    s_expect(f, KT_ECONFIG, want, NULL);
    kt_conf_errors_free(&f->errs);

    /* A secret key others can read. */
    snprintf(key, sizeof(key), "%s/keys/school-a.key", f->dir);
    assert_int_equal(chmod(key, 0640), 0);
    s_write(f, 0644, NULL);
    snprintf(want, sizeof(want),
             "3: 'node.key': %s/keys/school-a.key: secret key is readable or writable by "
             "others; run: chmod 600 %s/keys/school-a.key",
             f->real, f->real);
    s_expect(f, KT_ECONFIG, want, NULL);
}

static void test_syntax_error(void **state)
{
    struct fx *f = *state;

    s_write(f, 0644, "  listen = \"tcp://*:7001\";", "  listen = = \"tcp://*:7001\";", NULL);
    s_expect(f, KT_ECONFIG, "4: syntax error", NULL);
    kt_conf_errors_free(&f->errs);
    s_write(f, 0644, "# top extra", "node = { };", NULL);
    s_expect(f, KT_ECONFIG, "29: duplicate setting name", NULL);
}

static void test_include_is_refused(void **state)
{
    struct fx *f = *state;

    s_write(f, 0644, "# top extra", "  @include \"/etc/passwd\"", NULL);
    s_expect(f, KT_ECONFIG, "29: @include is not allowed; keep the configuration in one file",
             NULL);
}

static void test_writable_config_is_refused(void **state)
{
    struct fx *f = *state;
    char want[1024];

    s_write(f, 0664, NULL);
    snprintf(want, sizeof(want),
             ": configuration is writable by group or others; run: chmod go-w %s", f->conf);
    s_expect(f, KT_EPERM, want, NULL);
    kt_conf_errors_free(&f->errs);
    assert_int_equal(chmod(f->conf, 0646), 0);
    s_expect(f, KT_EPERM, want, NULL);
    kt_conf_errors_free(&f->errs);
    assert_int_equal(chmod(f->conf, 0644), 0); /* readable is fine: no secrets */
    assert_int_equal(kt_conf_load(&f->c, f->conf, &f->errs), 0);
}

static void test_missing_config_file(void **state)
{
    struct fx *f = *state;

    s_expect(f, KT_ENOENT, ": cannot open: No such file or directory", NULL);
}

static void test_several_errors_reported_together(void **state)
{
    struct fx *f = *state;
    char want[1024];

    s_write(f, 0644, "id = \"school-a\"", "id = \"School A\"", "tcp://*:7001", "tcp://*:99999",
            "policies = \"policies\"", "policies = \"nope\"", "# node extra", "log = \"file\";",
            "\"uid:1000\"", "\"user:no-such-user-kt\"", "\"group:root\"",
            "\"group:root\", \"gid:0\", \"nobody\"", "tcp://swv-a.example:7002",
            "udp://swv-a.example:7002", "# top extra", "colour = 1;", NULL);
    snprintf(want, sizeof(want), "7: 'node.policies': directory %s/nope: No such file or directory",
             f->real);
    /* node.key is compared with node.id only when node.id is valid. */
    s_expect(f, KT_ECONFIG, "2: 'node.id' must be a node id: 1 to 64 of a-z, 0-9 and -",
             "4: 'node.listen' must read tcp://HOST:PORT (HOST a name, an address or *; PORT "
             "1-65535 or *)",
             want, "8: 'node.log' must be \"stderr\" or \"syslog\"",
             "11: 'access.operators' entry 2: no such user on this system",
             "12: 'access.auditors' entry 2 names the same group as entry 1",
             "12: 'access.auditors' entry 3 must read user:NAME, group:NAME, uid:N or gid:N",
             "19: partner 'swv-a': 'endpoint' must read tcp://HOST:PORT (HOST a name or an "
             "address; PORT 1-65535)",
             "29: unknown setting 'colour'", NULL);
}

static void test_endpoints(void **state)
{
    static const struct {
        const char *listen;
        int ok;
    } cases[] = {
        {"tcp://*:7001", 1},    {"tcp://127.0.0.1:*", 1},
        {"tcp://[::1]:1", 1},   {"tcp://node.example.nl:65535", 1},
        {"tcp://eth0:7001", 1}, {"tcp://*:0", 0},
        {"tcp://*:65536", 0},   {"tcp://*:07001", 0},
        {"tcp://:7001", 0},     {"tcp://*", 0},
        {"ipc:///tmp/x", 0},    {"tcp://a b:1", 0},
        {"tcp://[::1:1", 0},    {"tcp://-x:1", 0},
        {"TCP://x:1", 0},
    };
    char edit[128];
    size_t i;
    struct fx *f = *state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(edit, sizeof(edit), "listen = \"%s\"", cases[i].listen);
        s_write(f, 0644, "listen = \"tcp://*:7001\"", edit, NULL);
        if (cases[i].ok) {
            assert_int_equal(kt_conf_load(&f->c, f->conf, &f->errs), 0);
            kt_conf_destroy(&f->c);
        } else {
            s_expect(f, KT_ECONFIG,
                     "4: 'node.listen' must read tcp://HOST:PORT (HOST a name, an address or "
                     "*; PORT 1-65535 or *)",
                     NULL);
            kt_conf_errors_free(&f->errs);
        }
    }
}

static void test_syntax_only_touches_no_files(void **state)
{
    static const char text[] = "node = { id = \"a\"; key = \"/nonexistent/a.key\";"
                               " listen = \"tcp://*:1\"; store = \"/nonexistent/db\";"
                               " control = \"c\"; policies = \"/nonexistent\"; };"
                               "access = { operators = ( \"user:no-such-user-kt\" ); };"
                               "partners = ( { id = \"b\"; role = \"swv\";"
                               " key = \"/nonexistent/b.pub\"; endpoint = \"tcp://b:2\"; } );";
    struct fx *f = *state;

    assert_int_equal(
        kt_conf_parse(&f->c, text, sizeof(text) - 1, "mem.conf", KT_CONF_SYNTAX_ONLY, &f->errs), 0);
    assert_null(f->c->keys);
    assert_string_equal(f->c->control_path, "./c");
    kt_conf_destroy(&f->c);
    assert_int_equal(kt_conf_parse(&f->c, text, sizeof(text) - 1, "mem.conf", 0, &f->errs),
                     KT_ECONFIG);
    assert_true(f->errs.count >= 4);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, s_setup, s_teardown)
    const struct CMUnitTest tests[] = {
        T(test_valid_config_loads),
        T(test_optional_settings),
        T(test_unknown_setting_at_top_level),
        T(test_unknown_setting_in_a_partner),
        T(test_unknown_setting_in_node_and_access),
        T(test_wrong_types),
        T(test_partners_must_be_a_list_of_groups),
        T(test_missing_required_settings),
        T(test_missing_node_group),
        T(test_duplicate_partner),
        T(test_partner_with_the_nodes_own_id),
        T(test_missing_partner_key_file),
        T(test_partner_key_of_another_node),
        T(test_partner_key_of_another_role),
        T(test_node_key_checks),
        T(test_syntax_error),
        T(test_include_is_refused),
        T(test_writable_config_is_refused),
        T(test_missing_config_file),
        T(test_several_errors_reported_together),
        T(test_endpoints),
        T(test_syntax_only_touches_no_files),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
