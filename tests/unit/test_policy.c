/*
 * test_policy.c - partner policies: for each kind of mistake the exact
 * "FILE:LINE: message" a privacy officer will read; the version in force by
 * date; default deny; stripping; the receive check; who must consent by age;
 * and a property test over thousands of random policies and records.
 *
 * Each test gets its own mkdtemp directory. Files are written from one valid
 * base by line-preserving edits, so the line numbers below are those of
 * s_base. The property test uses a fixed seed: it is deterministic.
 */
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

#include "keten/policy.h"

static const char s_base[] =
    "partner = \"swv-a\";\n"                                                                /* 1 */
    "versions = (\n"                                                                        /* 2 */
    "  { version = 1; valid_from = \"2025-08-01\"; valid_until = \"2026-07-31\";\n"         /* 3 */
    "    reference = \"Convenant 2025\";\n"                                                 /* 4 */
    "    send = (\n"                                                                        /* 5 */
    "      { type = \"geoorloofd_verzuim\"; grondslag = \"toestemming\"; doel = \"melding_geoorloofd\";\n" /* 6 */
    "        toestemming_door = \"wet\"; identifier = \"bsn\"; retention_days = 365;\n"     /* 7 */
    "        fields = [ \"leerling_id\", \"begindatum\", \"aanwezigheid_pct\", \"status\" ]; },\n" /* 8 */
    "      { type = \"thuiszitter\"; grondslag = \"publieke_taak\"; doel = \"zorgoverleg\";\n" /* 9 */
    "        identifier = \"bsn\"; retention_days = 730;\n"                                  /* 10 */
    "        fields = [ \"leerling_id\", \"definitie\", \"geoorloofd\", \"ingeschreven\", \"begindatum\" ]; }\n" /* 11 */
    "    );\n"                                                                              /* 12 */
    "    receive = (\n"                                                                     /* 13 */
    "      { type = \"thuiszitter\"; grondslag = \"publieke_taak\"; doel = \"lijstvergelijking\";\n" /* 14 */
    "        identifier = \"pseudoniem\"; retention_days = 730;\n"                           /* 15 */
    "        fields = [ \"leerling_id\", \"definitie\", \"duur\" ]; }\n"                     /* 16 */
    "    );\n"                                                                              /* 17 */
    "  },\n"                                                                                /* 18 */
    "  { version = 2; valid_from = \"2026-08-01\";\n"                                       /* 19 */
    "    send = (\n"                                                                        /* 20 */
    "      { type = \"geoorloofd_verzuim\"; grondslag = \"toestemming\"; doel = \"melding_geoorloofd\";\n" /* 21 */
    "        toestemming_door = \"ouders_en_leerling\"; identifier = \"pseudoniem\"; retention_days = 180;\n" /* 22 */
    "        fields = [ \"leerling_id\", \"geboortedatum\", \"begindatum\" ]; }\n"          /* 23 */
    "    );\n"                                                                              /* 24 */
    "  }\n"                                                                                 /* 25 */
    ");\n";                                                                                 /* 26 */

/* A valid pseudonym (last character canonical) and two valid BSNs. */
#define PS "ps-abcdefghijklmnopqrstuvwxya"
#define BSN "111222333"

struct fx {
    char dir[64];
    char file[128]; /* dir/swv-a.conf */
    kt_conf_errors_t errs;
    kt_policy_set_t *set;
};

static int s_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/keten-test-policy.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->file, sizeof(f->file), "%s/swv-a.conf", f->dir);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    struct fx *f = *state;
    char cmd[256];

    kt_policy_set_destroy(&f->set);
    kt_conf_errors_free(&f->errs);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static void s_write_text(const char *path, const char *text, mode_t mode)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_true(fputs(text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(path, mode), 0);
}

/* s_base with edits: pairs (from, to), NULL-terminated; each from must occur. */
static void s_write(struct fx *f, const char *name, ...)
{
    char text[8192], tmp[8192], path[256], *at;
    const char *from, *to;
    va_list ap;

    snprintf(text, sizeof(text), "%s", s_base);
    va_start(ap, name);
    while ((from = va_arg(ap, const char *)) != NULL) {
        to = va_arg(ap, const char *);
        at = strstr(text, from);
        assert_non_null(at);
        snprintf(tmp, sizeof(tmp), "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
        memcpy(text, tmp, sizeof(text));
    }
    va_end(ap);
    snprintf(path, sizeof(path), "%s/%s", f->dir, name ? name : "swv-a.conf");
    s_write_text(path, text, 0644);
}

static int s_role_of(void *ctx, const char *partner, kt_role_t *role)
{
    (void)ctx;
    if (strcmp(partner, "swv-a") == 0)
        *role = KT_ROLE_SWV;
    else if (strcmp(partner, "gemeente-x") == 0)
        *role = KT_ROLE_GEMEENTE;
    else if (strcmp(partner, "school-b") == 0)
        *role = KT_ROLE_SCHOOL;
    else
        return KT_ENOENT;
    return 0;
}

static const kt_policy_roles_t s_roles = {s_role_of, NULL, KT_ROLE_GEMEENTE};

static int s_load(struct fx *f, const kt_policy_roles_t *roles)
{
    kt_policy_set_destroy(&f->set);
    kt_conf_errors_free(&f->errs);
    return kt_policy_load(&f->set, f->dir, roles, &f->errs);
}

/* Loads and expects exactly these messages, each "FILE:" + suffix. */
static void s_expect(struct fx *f, int code, const kt_policy_roles_t *roles, ...)
{
    const char *m;
    char want[1024];
    size_t n = 0;
    va_list ap;

    assert_int_equal(s_load(f, roles), code);
    assert_null(f->set);
    va_start(ap, roles);
    while ((m = va_arg(ap, const char *)) != NULL) {
        snprintf(want, sizeof(want), "%s%s", f->file, m);
        if (n >= f->errs.count)
            fail_msg("missing error: %s", want);
        assert_string_equal(f->errs.msg[n], want);
        n++;
    }
    va_end(ap);
    if (n != f->errs.count)
        fail_msg("unexpected error: %s", f->errs.msg[n]);
}

#define ROLES (&s_roles)
#define E(code, ...) s_expect(f, code, ROLES, __VA_ARGS__, NULL)

/* ---- loading ---- */

static void test_valid_policy_loads(void **state)
{
    struct fx *f = *state;
    const kt_policy_rule_t *r;

    s_write(f, NULL, NULL);
    assert_int_equal(s_load(f, ROLES), 0);
    assert_int_equal(f->errs.count, 0);
    assert_int_equal(kt_policy_set_partner_count(f->set), 1);
    assert_string_equal(kt_policy_set_partner(f->set, 0), "swv-a");
    assert_int_equal(kt_policy_set_rule_count(f->set), 4);
    r = kt_policy_rule(f->set, "swv-a", KT_POLICY_SEND, "geoorloofd_verzuim", "2025-09-01");
    assert_non_null(r);
    assert_string_equal(r->file, f->file);
    assert_int_equal(r->line, 6);
    assert_int_equal(r->version, 1);
    assert_string_equal(r->valid_from, "2025-08-01");
    assert_string_equal(r->valid_until, "2026-07-31");
    assert_string_equal(r->reference, "Convenant 2025");
    assert_int_equal(r->grondslag, KT_GRONDSLAG_TOESTEMMING);
    assert_string_equal(r->doel, "melding_geoorloofd");
    assert_int_equal(r->identifier, KT_IDENT_BSN);
    assert_int_equal(r->retention_days, 365);
    assert_int_equal(r->toestemming_door, KT_DOOR_WET);
    assert_int_equal(r->nfields, 4);
    /* registry order, whatever the file's order */
    assert_string_equal(r->fields[0], "leerling_id");
    assert_string_equal(r->fields[1], "begindatum");
    assert_string_equal(r->fields[2], "aanwezigheid_pct");
    assert_string_equal(r->fields[3], "status");
    r = kt_policy_rule(f->set, "swv-a", KT_POLICY_SEND, "geoorloofd_verzuim", "2026-08-01");
    assert_non_null(r);
    assert_null(r->reference);
    assert_string_equal(r->valid_until, "");
    assert_int_equal(r->toestemming_door, KT_DOOR_OUDERS_EN_LEERLING);
}

static void test_empty_or_missing_directory_is_no_policies(void **state)
{
    struct fx *f = *state;
    char missing[128];

    assert_int_equal(s_load(f, ROLES), 0);
    assert_int_equal(kt_policy_set_partner_count(f->set), 0);
    assert_null(kt_policy_rule(f->set, "swv-a", KT_POLICY_SEND, "thuiszitter", "2025-09-01"));
    kt_policy_set_destroy(&f->set);
    snprintf(missing, sizeof(missing), "%s/nope", f->dir);
    assert_int_equal(kt_policy_load(&f->set, missing, ROLES, &f->errs), 0);
    assert_int_equal(f->errs.count, 0);
    assert_int_equal(kt_policy_set_rule_count(f->set), 0);
}

static void test_other_files_are_ignored(void **state)
{
    struct fx *f = *state;
    char p[256];

    snprintf(p, sizeof(p), "%s/README.md", f->dir);
    s_write_text(p, "not a policy", 0644);
    snprintf(p, sizeof(p), "%s/.swv-a.conf.swp", f->dir);
    s_write_text(p, "junk", 0644);
    assert_int_equal(s_load(f, ROLES), 0);
    assert_int_equal(kt_policy_set_partner_count(f->set), 0);
}

static void test_top_level_errors(void **state)
{
    struct fx *f = *state;

    s_write(f, NULL, "partner = \"swv-a\";", "partner = \"swv-b\"; extra = 1;", NULL);
    E(KT_ECONFIG, ":1: unknown setting 'extra'", ":1: 'partner' must equal the file name: 'swv-a'");
    s_write_text(f->file, "partner = \"swv-a\";\n", 0644);
    E(KT_ECONFIG, ": missing required setting 'versions'");
    s_write(f, NULL, "partner = \"swv-a\";", "@include \"other.conf\"", NULL);
    E(KT_ECONFIG, ":1: @include is not allowed; keep each partner's policy in one file");
    s_write(f, NULL, "version = 2;", "version = = 2;", NULL);
    E(KT_ECONFIG, ":19: syntax error");
}

static void test_version_errors(void **state)
{
    struct fx *f = *state;

    s_write(f, NULL, "version = 2;", "version = 0;", NULL);
    E(KT_ECONFIG, ":19: version #2: 'version' must be a positive integer");
    s_write(f, NULL, "version = 2;", "version = 1;", NULL);
    E(KT_ECONFIG, ":19: version 1: version 1 is used twice (first at line 3)");
    s_write(f, NULL, "\"2026-08-01\"", "\"2026-02-30\"", NULL);
    E(KT_ECONFIG, ":19: version 2: 'valid_from' must be a real date YYYY-MM-DD");
    s_write(f, NULL, "\"2026-07-31\"", "\"2025-07-31\"", NULL);
    E(KT_ECONFIG, ":3: version 1: 'valid_until' is before 'valid_from'");
    s_write(f, NULL, "\"2026-07-31\"", "\"2026-08-01\"", NULL);
    E(KT_ECONFIG,
      ":19: version 2: period overlaps version 1 (line 3): versions of a policy must not overlap");
    s_write(f, NULL, "valid_until = \"2026-07-31\";", "", NULL);
    E(KT_ECONFIG,
      ":19: version 2: period overlaps version 1 (line 3): versions of a policy must not overlap");
    s_write(f, NULL, "\"Convenant 2025\"", "\"\"", NULL);
    E(KT_ECONFIG, ":4: version 1: 'reference' must be 1 to 200 printable characters (a short "
                  "name of the legal basis or convenant)");
    s_write(f, NULL, "reference = \"Convenant 2025\";", "reference = \"C\"; note = \"x\";", NULL);
    E(KT_ECONFIG, ":4: version 1: unknown setting 'note'");
    s_write(f, NULL, "{ version = 2; valid_from = \"2026-08-01\";", "{ version = 2;", NULL);
    E(KT_ECONFIG, ":19: version 2: missing required setting 'valid_from'");
}

static void test_rule_errors(void **state)
{
    struct fx *f = *state;

    s_write(f, NULL, "retention_days = 365;", "retention_days = 0;", NULL);
    E(KT_ECONFIG, ":7: send rule for geoorloofd_verzuim: 'retention_days' must be 1 to 3650 days");
    s_write(f, NULL, "retention_days = 365;", "retention_days = 3651;", NULL);
    E(KT_ECONFIG, ":7: send rule for geoorloofd_verzuim: 'retention_days' must be 1 to 3650 days");
    s_write(f, NULL, "retention_days = 365;", "", NULL);
    E(KT_ECONFIG, ":6: send rule for geoorloofd_verzuim: missing required setting 'retention_days'");
    s_write(f, NULL, "retention_days = 365;", "retention_days = \"365\";", NULL);
    E(KT_ECONFIG, ":7: send rule for geoorloofd_verzuim: 'retention_days' must be an integer");
    s_write(f, NULL, "retention_days = 365;", "retention_days = 365; comment = \"x\";", NULL);
    E(KT_ECONFIG, ":7: send rule for geoorloofd_verzuim: unknown setting 'comment'");
    s_write(f, NULL, "type = \"thuiszitter\"", "type = \"afwezig\"", NULL);
    E(KT_ECONFIG, ":9: send rule #2: 'type': unknown record type 'afwezig' (known: "
                  "geoorloofd_verzuim, thuiszitter, verzuimmelding, vrijstelling)");
    s_write(f, NULL, "\"status\" ]", "\"naam\" ]", NULL);
    E(KT_ECONFIG, ":8: send rule for geoorloofd_verzuim: 'fields': unknown field 'naam' for "
                  "record type geoorloofd_verzuim");
    s_write(f, NULL, "\"status\" ]", "\"status\", \"status\" ]", NULL);
    E(KT_ECONFIG, ":8: send rule for geoorloofd_verzuim: 'fields' lists 'status' twice");
    s_write(f, NULL, "[ \"leerling_id\", \"begindatum\", \"aanwezigheid_pct\"",
            "[ \"begindatum\", \"aanwezigheid_pct\"", NULL);
    E(KT_ECONFIG, ":8: send rule for geoorloofd_verzuim: 'fields' must include 'leerling_id': a "
                  "record without a pupil id cannot be exchanged");
    s_write(f, NULL, "\"leerling_id\", \"definitie\", \"geoorloofd\"",
            "\"leerling_id\", \"geoorloofd\"", NULL);
    E(KT_ECONFIG, ":11: send rule for thuiszitter: 'fields' must include 'definitie', which "
                  "every thuiszitter record holds");
    s_write(f, NULL, "identifier = \"bsn\"; retention_days = 365;",
            "identifier = \"naam\"; retention_days = 365;", NULL);
    E(KT_ECONFIG, ":7: send rule for geoorloofd_verzuim: 'identifier' must be bsn or pseudoniem");
}

static void test_grondslag_doel_and_consent_errors(void **state)
{
    struct fx *f = *state;

    s_write(f, NULL, "grondslag = \"publieke_taak\"; doel = \"zorgoverleg\"",
            "grondslag = \"algemeen_belang\"; doel = \"zorgoverleg\"", NULL);
    E(KT_ECONFIG,
      ":9: send rule for thuiszitter: 'grondslag' must be toestemming, wettelijke_plicht or "
      "publieke_taak");
    s_write(f, NULL, "doel = \"zorgoverleg\"", "doel = \"handhaving\"", NULL);
    E(KT_ECONFIG, ":9: send rule for thuiszitter: 'doel' must be a consent doel code: "
                  "melding_geoorloofd, zorgoverleg, contact_hulpverlening, terugkoppeling_school, "
                  "overleg_vrijstelling or lijstvergelijking");
    s_write(f, NULL, "toestemming_door = \"wet\"; ", "", NULL);
    E(KT_ECONFIG, ":6: send rule for geoorloofd_verzuim: missing 'toestemming_door' (wet or "
                  "ouders_en_leerling): grondslag toestemming must say who consents");
    s_write(f, NULL, "toestemming_door = \"wet\";", "toestemming_door = \"ouders\";", NULL);
    E(KT_ECONFIG,
      ":7: send rule for geoorloofd_verzuim: 'toestemming_door' must be wet or ouders_en_leerling");
    s_write(f, NULL, "identifier = \"bsn\"; retention_days = 730;",
            "identifier = \"bsn\"; retention_days = 730; toestemming_door = \"wet\";", NULL);
    E(KT_ECONFIG,
      ":10: send rule for thuiszitter: 'toestemming_door' is only allowed with grondslag "
      "toestemming");
    s_write(f, NULL, "grondslag = \"toestemming\"; doel = \"melding_geoorloofd\";\n        "
                     "toestemming_door = \"wet\";",
            "grondslag = \"publieke_taak\"; doel = \"melding_geoorloofd\";\n        ", NULL);
    E(KT_ECONFIG, ":6: send rule for geoorloofd_verzuim: geoorloofd_verzuim may only be "
                  "exchanged on grondslag toestemming (DOMAIN.md §8 rule 2)");
}

static void test_duplicate_rule_for_a_type(void **state)
{
    struct fx *f = *state;

    s_write(f, NULL, "type = \"thuiszitter\"; grondslag = \"publieke_taak\"; doel = \"zorgoverleg\";",
            "type = \"geoorloofd_verzuim\"; grondslag = \"toestemming\"; doel = \"zorgoverleg\"; "
            "toestemming_door = \"wet\";",
            "\"leerling_id\", \"definitie\", \"geoorloofd\", \"ingeschreven\", \"begindatum\"",
            "\"leerling_id\", \"begindatum\"", NULL);
    E(KT_ECONFIG, ":9: send rule for geoorloofd_verzuim: version 1 already has a send rule for "
                  "geoorloofd_verzuim (line 6)");
}

/* DOMAIN.md §8 rule 12: mas_route only between gemeenten. */
static void test_mas_route_only_between_gemeenten(void **state)
{
    struct fx *f = *state;
    kt_policy_roles_t school = {s_role_of, NULL, KT_ROLE_SCHOOL};
    const char *vm = "type = \"verzuimmelding\"; grondslag = \"wettelijke_plicht\"; doel = "
                     "\"zorgoverleg\";";
    const char *tz = "type = \"thuiszitter\"; grondslag = \"publieke_taak\"; doel = "
                     "\"zorgoverleg\";";
    const char *tzf = "\"leerling_id\", \"definitie\", \"geoorloofd\", \"ingeschreven\", "
                      "\"begindatum\"";
    const char *vmf = "\"leerling_id\", \"soort\", \"mas_route\"";

    s_write(f, NULL, tz, vm, tzf, vmf, NULL);
    E(KT_ECONFIG, ":11: send rule for verzuimmelding: field 'mas_route' is enforcement data and "
                  "may only go between gemeenten (DOMAIN.md §8 rule 12); partner 'swv-a' is a swv");
    s_expect(f, KT_ECONFIG, NULL,
             ":11: send rule for verzuimmelding: field 'mas_route' is enforcement data and may "
             "only go between gemeenten (DOMAIN.md §8 rule 12); the role of partner 'swv-a' is "
             "unknown",
             NULL);
    /* the same file for a gemeente partner is fine, unless this node is a school */
    assert_int_equal(unlink(f->file), 0);
    s_write(f, "gemeente-x.conf", "\"swv-a\"", "\"gemeente-x\"", tz, vm, tzf, vmf, NULL);
    assert_int_equal(s_load(f, ROLES), 0);
    assert_int_equal(s_load(f, &school), KT_ECONFIG);
    assert_int_equal(f->errs.count, 1);
    assert_non_null(strstr(f->errs.msg[0], "gemeente-x.conf:11: send rule for verzuimmelding: "
                                           "field 'mas_route' is enforcement data and may only "
                                           "go between gemeenten (DOMAIN.md §8 rule 12); this "
                                           "node is a school"));
}

static void test_file_checks(void **state)
{
    struct fx *f = *state;
    char p[256], want[512];

    s_write(f, NULL, NULL);
    assert_int_equal(chmod(f->file, 0664), 0);
    snprintf(want, sizeof(want),
             "%s: policy file is writable by group or others; run: chmod go-w %s", f->file,
             f->file);
    assert_int_equal(s_load(f, ROLES), KT_EPERM);
    assert_int_equal(f->errs.count, 1);
    assert_string_equal(f->errs.msg[0], want);
    assert_int_equal(unlink(f->file), 0);

    snprintf(p, sizeof(p), "%s/Swv_A.conf", f->dir);
    s_write_text(p, s_base, 0644);
    assert_int_equal(s_load(f, ROLES), KT_ECONFIG);
    snprintf(want, sizeof(want),
             "%s: the file name must be <partner-id>.conf, with a node id of a-z, 0-9 and -", p);
    assert_int_equal(f->errs.count, 1);
    assert_string_equal(f->errs.msg[0], want);
    assert_int_equal(unlink(p), 0);

    snprintf(p, sizeof(p), "%s/swv-z.conf", f->dir);
    s_write(f, "swv-z.conf", "\"swv-a\"", "\"swv-z\"", NULL);
    assert_int_equal(s_load(f, ROLES), KT_ECONFIG);
    snprintf(want, sizeof(want), "%s: partner 'swv-z' is not in the node configuration", p);
    assert_int_equal(f->errs.count, 1);
    assert_string_equal(f->errs.msg[0], want);
    assert_int_equal(s_load(f, NULL), 0); /* without a configuration, no partner list */
}

static void test_all_errors_collected_in_line_order(void **state)
{
    struct fx *f = *state;

    s_write(f, NULL, "version = 2;", "version = 0;", "retention_days = 365;",
            "retention_days = 0;", "\"status\" ]", "\"naam\" ]", NULL);
    E(KT_ECONFIG, ":7: send rule for geoorloofd_verzuim: 'retention_days' must be 1 to 3650 days",
      ":8: send rule for geoorloofd_verzuim: 'fields': unknown field 'naam' for record type "
      "geoorloofd_verzuim",
      ":19: version #2: 'version' must be a positive integer");
}

/* ---- decisions ---- */

static void test_version_in_force_by_date(void **state)
{
    struct fx *f = *state;
    const kt_policy_rule_t *r;

    s_write(f, NULL, NULL);
    assert_int_equal(s_load(f, ROLES), 0);
#define V(date) kt_policy_rule(f->set, "swv-a", KT_POLICY_SEND, "geoorloofd_verzuim", date)
    assert_null(V("2025-07-31"));
    assert_int_equal(V("2025-08-01")->version, 1);
    assert_int_equal(V("2025-08-02")->version, 1);
    assert_int_equal(V("2026-07-30")->version, 1);
    assert_int_equal(V("2026-07-31")->version, 1);
    assert_int_equal(V("2026-08-01")->version, 2);
    assert_int_equal(V("2099-12-31")->version, 2);
    assert_null(V("2026-02-30"));
    assert_null(V("yesterday"));
    assert_null(V(NULL));
#undef V
    /* a thuiszitter rule exists only in version 1: it ends with it */
    r = kt_policy_rule(f->set, "swv-a", KT_POLICY_SEND, "thuiszitter", "2026-07-31");
    assert_non_null(r);
    assert_null(kt_policy_rule(f->set, "swv-a", KT_POLICY_SEND, "thuiszitter", "2026-08-01"));
    assert_int_equal(kt_policy_version(f->set, "swv-a", "2026-08-01")->version, 2);
    assert_null(kt_policy_version(f->set, "swv-a", "2025-07-31"));
}

static void test_default_deny(void **state)
{
    struct fx *f = *state;

    s_write(f, NULL, NULL);
    assert_int_equal(s_load(f, ROLES), 0);
    assert_null(kt_policy_rule(f->set, "gemeente-x", KT_POLICY_SEND, "thuiszitter", "2025-09-01"));
    assert_null(kt_policy_rule(f->set, "swv-a", KT_POLICY_SEND, "verzuimmelding", "2025-09-01"));
    assert_null(
        kt_policy_rule(f->set, "swv-a", KT_POLICY_RECEIVE, "geoorloofd_verzuim", "2025-09-01"));
    assert_non_null(kt_policy_rule(f->set, "swv-a", KT_POLICY_RECEIVE, "thuiszitter", "2025-09-01"));
    assert_false(kt_policy_has_partner(f->set, "gemeente-x"));
    assert_true(kt_policy_has_partner(f->set, "swv-a"));
}

static void test_recipients(void **state)
{
    struct fx *f = *state;
    const char *out[4];

    s_write(f, NULL, NULL);
    s_write(f, "gemeente-x.conf", "\"swv-a\"", "\"gemeente-x\"", NULL);
    assert_int_equal(s_load(f, ROLES), 0);
    assert_int_equal(kt_policy_recipients(f->set, "geoorloofd_verzuim", "2025-09-01", out, 4), 2);
    assert_string_equal(out[0], "gemeente-x");
    assert_string_equal(out[1], "swv-a");
    assert_int_equal(kt_policy_recipients(f->set, "geoorloofd_verzuim", "2025-09-01", out, 1), 2);
    assert_int_equal(kt_policy_recipients(f->set, "verzuimmelding", "2025-09-01", out, 4), 0);
    assert_int_equal(kt_policy_recipients(f->set, "thuiszitter", "2026-08-01", out, 4), 0);
}

static kt_record_t *s_gv(const char *birth)
{
    kt_record_t *r = NULL;
    kt_diag_t d = {{0}};

    assert_int_equal(kt_record_new(&r, "geoorloofd_verzuim", &d), 0);
    assert_int_equal(kt_record_set_text(r, "leerling_id", BSN, &d), 0);
    assert_int_equal(kt_record_set_text(r, "begindatum", "2025-09-01", &d), 0);
    assert_int_equal(kt_record_set_int(r, "aanwezigheid_pct", 30, &d), 0);
    assert_int_equal(kt_record_set_text(r, "criterium", "geoorloofd_lt50", &d), 0);
    assert_int_equal(kt_record_set_text(r, "reden", "ziek", &d), 0);
    if (birth != NULL)
        assert_int_equal(kt_record_set_text(r, "geboortedatum", birth, &d), 0);
    return r;
}

static void test_apply_send_strips(void **state)
{
    struct fx *f = *state;
    kt_policy_names_t stripped;
    kt_record_t *r = s_gv("2010-03-15");
    const kt_policy_rule_t *rule;
    kt_diag_t d = {{0}};

    s_write(f, NULL, NULL);
    assert_int_equal(s_load(f, ROLES), 0);
    rule = kt_policy_rule(f->set, "swv-a", KT_POLICY_SEND, "geoorloofd_verzuim", "2025-09-01");
    assert_int_equal(kt_policy_apply_send(rule, r, NULL, &stripped, &d), 0);
    assert_int_equal(stripped.count, 3); /* in canonical (CBOR key) order */
    assert_string_equal(stripped.name[0], "reden");
    assert_string_equal(stripped.name[1], "criterium");
    assert_string_equal(stripped.name[2], "geboortedatum");
    assert_int_equal(kt_record_nfields(r), 3);
    assert_string_equal(kt_record_leerling_id(r), BSN);
    assert_int_equal(kt_record_validate(r, &d), 0);
    /* applying again strips nothing */
    assert_int_equal(kt_policy_apply_send(rule, r, NULL, &stripped, &d), 0);
    assert_int_equal(stripped.count, 0);
    /* a rule for another type or direction is a caller's mistake */
    assert_int_equal(kt_policy_apply_send(kt_policy_rule(f->set, "swv-a", KT_POLICY_SEND,
                                                         "thuiszitter", "2025-09-01"),
                                          r, NULL, &stripped, &d),
                     KT_EINVAL);
    assert_string_equal(d.msg, "the send rule of 'swv-a' is for thuiszitter, not geoorloofd_verzuim");
    kt_record_destroy(&r);
}

static void test_apply_send_pseudonymises(void **state)
{
    struct fx *f = *state;
    kt_policy_names_t stripped;
    kt_record_t *r = s_gv("2010-03-15");
    const kt_policy_rule_t *rule;
    kt_diag_t d = {{0}};

    s_write(f, NULL, NULL);
    assert_int_equal(s_load(f, ROLES), 0);
    rule = kt_policy_rule(f->set, "swv-a", KT_POLICY_SEND, "geoorloofd_verzuim", "2026-08-01");
    assert_int_equal(rule->identifier, KT_IDENT_PSEUDONIEM);
    /* without a pseudonym, nothing changes */
    assert_int_equal(kt_policy_apply_send(rule, r, NULL, &stripped, &d), KT_EINVAL);
    assert_int_equal(kt_policy_apply_send(rule, r, "ps-abc", &stripped, &d), KT_EINVAL);
    assert_string_equal(d.msg, "the send rule for geoorloofd_verzuim to 'swv-a' needs the "
                               "pairwise pseudonym, and none (or a malformed one) was given");
    assert_int_equal(kt_record_nfields(r), 6);
    assert_int_equal(kt_policy_apply_send(rule, r, PS, &stripped, &d), 0);
    assert_string_equal(kt_record_leerling_id(r), PS);
    assert_int_equal(kt_record_nfields(r), 3);
    /* a record already pseudonymised is not sent again */
    assert_int_equal(kt_policy_apply_send(rule, r, PS, &stripped, &d), KT_EINVAL);
    kt_record_destroy(&r);
}

static kt_record_t *s_tz(const char *id, int geoorloofd, int ingeschreven)
{
    kt_record_t *r = NULL;
    kt_diag_t d = {{0}};

    assert_int_equal(kt_record_new(&r, "thuiszitter", &d), 0);
    assert_int_equal(kt_record_set_text(r, "leerling_id", id, &d), 0);
    assert_int_equal(kt_record_set_text(r, "definitie", "breed", &d), 0);
    if (geoorloofd >= 0)
        assert_int_equal(kt_record_set_bool(r, "geoorloofd", geoorloofd, &d), 0);
    if (ingeschreven >= 0)
        assert_int_equal(kt_record_set_bool(r, "ingeschreven", ingeschreven, &d), 0);
    return r;
}

static void test_check_receive(void **state)
{
    struct fx *f = *state;
    const kt_policy_rule_t *rule;
    kt_record_t *r;
    kt_diag_t d = {{0}};
    char want[512];

    s_write(f, NULL, NULL);
    assert_int_equal(s_load(f, ROLES), 0);
    rule = kt_policy_rule(f->set, "swv-a", KT_POLICY_RECEIVE, "thuiszitter", "2025-09-01");
    assert_non_null(rule);
    r = s_tz(PS, -1, -1);
    assert_int_equal(kt_policy_check_receive(rule, r, &d), 0);
    kt_record_destroy(&r);

    r = s_tz(PS, 0, -1); /* geoorloofd is not in the receive set */
    assert_int_equal(kt_policy_check_receive(rule, r, &d), KT_EDENIED);
    snprintf(want, sizeof(want),
             "field 'geoorloofd' is not allowed by the receive rule for thuiszitter from 'swv-a' "
             "(%s:14, version 1)",
             f->file);
    assert_string_equal(d.msg, want);
    kt_record_destroy(&r);

    r = s_tz(BSN, -1, -1); /* the rule expects a pseudonym */
    assert_int_equal(kt_policy_check_receive(rule, r, &d), KT_EDENIED);
    snprintf(want, sizeof(want),
             "field 'leerling_id': the receive rule for thuiszitter from 'swv-a' (%s:14, version "
             "1) expects a pairwise pseudonym",
             f->file);
    assert_string_equal(d.msg, want);
    assert_null(strstr(d.msg, BSN));
    kt_record_destroy(&r);

    /* and a pseudonym where the rule expects the number */
    s_write(f, NULL, "identifier = \"pseudoniem\"; retention_days = 730;",
            "identifier = \"bsn\"; retention_days = 730;", NULL);
    assert_int_equal(s_load(f, ROLES), 0);
    rule = kt_policy_rule(f->set, "swv-a", KT_POLICY_RECEIVE, "thuiszitter", "2025-09-01");
    r = s_tz(PS, -1, -1);
    assert_int_equal(kt_policy_check_receive(rule, r, &d), KT_EDENIED);
    assert_non_null(strstr(d.msg, "expects a BSN or onderwijsnummer"));
    kt_record_destroy(&r);
    /* a type without a receive rule: the caller gets NULL, default deny */
    assert_null(kt_policy_rule(f->set, "swv-a", KT_POLICY_RECEIVE, "vrijstelling", "2025-09-01"));
}

static void test_needs_consent(void **state)
{
    struct fx *f = *state;
    const kt_policy_rule_t *gv, *tz;
    kt_record_t *r;

    s_write(f, NULL, NULL);
    assert_int_equal(s_load(f, ROLES), 0);
    gv = kt_policy_rule(f->set, "swv-a", KT_POLICY_SEND, "geoorloofd_verzuim", "2025-09-01");
    tz = kt_policy_rule(f->set, "swv-a", KT_POLICY_SEND, "thuiszitter", "2025-09-01");
    r = s_gv(NULL);
    assert_int_equal(kt_policy_needs_consent(gv, r), 1);
    kt_record_destroy(&r);
    /* publieke_taak, but geoorloofd=true: DOMAIN.md §8 rule 2 */
    r = s_tz(BSN, 1, 1);
    assert_int_equal(kt_policy_needs_consent(tz, r), 1);
    kt_record_destroy(&r);
    r = s_tz(BSN, 0, 1);
    assert_int_equal(kt_policy_needs_consent(tz, r), 0);
    kt_record_destroy(&r);
    r = s_tz(BSN, -1, 1); /* unknown whether geoorloofd: held */
    assert_int_equal(kt_policy_needs_consent(tz, r), 1);
    kt_record_destroy(&r);
    r = s_tz(BSN, -1, -1);
    assert_int_equal(kt_policy_needs_consent(tz, r), 1);
    kt_record_destroy(&r);
    r = s_tz(BSN, -1, 0); /* not enrolled: no geoorloofd absence */
    assert_int_equal(kt_policy_needs_consent(tz, r), 0);
    kt_record_destroy(&r);
}

static unsigned s_by(const kt_policy_rule_t *rule, const char *birth, const char *date)
{
    kt_record_t *r = s_gv(birth);
    unsigned by = 99;

    assert_int_equal(kt_policy_consent_by(rule, r, date, &by), 0);
    kt_record_destroy(&r);
    return by;
}

#define UNDER16 (KT_GEGEVEN_OUDERS | KT_GEGEVEN_OUDERS_EN_LEERLING)
#define FROM16 (KT_GEGEVEN_LEERLING | KT_GEGEVEN_OUDERS_EN_LEERLING)
#define BOTH KT_GEGEVEN_OUDERS_EN_LEERLING

static void test_consent_by_age(void **state)
{
    struct fx *f = *state;
    const kt_policy_rule_t *wet, *both, *tz;
    kt_record_t *r;
    unsigned by;

    s_write(f, NULL, NULL);
    assert_int_equal(s_load(f, ROLES), 0);
    wet = kt_policy_rule(f->set, "swv-a", KT_POLICY_SEND, "geoorloofd_verzuim", "2025-09-01");
    both = kt_policy_rule(f->set, "swv-a", KT_POLICY_SEND, "geoorloofd_verzuim", "2026-09-01");
    tz = kt_policy_rule(f->set, "swv-a", KT_POLICY_SEND, "thuiszitter", "2025-09-01");
    /* the day before the 16th birthday, and on it */
    assert_int_equal(s_by(wet, "2010-03-15", "2026-03-14"), UNDER16);
    assert_int_equal(s_by(wet, "2010-03-15", "2026-03-15"), FROM16);
    assert_int_equal(s_by(both, "2010-03-15", "2026-03-14"), UNDER16);
    assert_int_equal(s_by(both, "2010-03-15", "2026-03-15"), BOTH);
    assert_int_equal(s_by(wet, "2010-12-31", "2026-12-30"), UNDER16);
    assert_int_equal(s_by(wet, "2010-12-31", "2026-12-31"), FROM16);
    /* 29 February: the 16th birthday falls in a leap year, except across 2100 */
    assert_int_equal(s_by(wet, "2008-02-29", "2024-02-28"), UNDER16);
    assert_int_equal(s_by(wet, "2008-02-29", "2024-02-29"), FROM16);
    assert_int_equal(s_by(wet, "2084-02-29", "2100-02-28"), UNDER16);
    assert_int_equal(s_by(wet, "2084-02-29", "2100-03-01"), FROM16);
    /* born after the date (a data error): certainly under 16 */
    assert_int_equal(s_by(wet, "2030-01-01", "2026-01-01"), UNDER16);
    /* no geboortedatum: only both together satisfy every age */
    assert_int_equal(s_by(wet, NULL, "2026-01-01"), BOTH);
    /* a geoorloofd thuiszitter under publieke_taak: as the law says */
    r = s_tz(BSN, 1, 1);
    assert_int_equal(kt_record_set_text(r, "geboortedatum", "2010-03-15", NULL), 0);
    assert_int_equal(kt_policy_consent_by(tz, r, "2026-03-15", &by), 0);
    assert_int_equal(by, FROM16);
    assert_int_equal(kt_policy_consent_by(tz, r, "2026-13-01", &by), KT_EINVAL);
    assert_int_equal(by, 0);
    kt_record_destroy(&r);
    assert_true(kt_policy_consent_accepts(FROM16, "leerling"));
    assert_true(kt_policy_consent_accepts(FROM16, "ouders_en_leerling"));
    assert_false(kt_policy_consent_accepts(FROM16, "ouders"));
    assert_false(kt_policy_consent_accepts(BOTH, "leerling"));
    assert_false(kt_policy_consent_accepts(UNDER16, NULL));
}

static void test_pseudonym_form(void **state)
{
    (void)state;
    assert_true(kt_record_is_pseudonym(PS));
    assert_int_equal(kt_record_pupil_id_form(PS), KT_PUPIL_ID_PSEUDONYM);
    assert_int_equal(kt_record_pupil_id_form(BSN), KT_PUPIL_ID_NUMBER);
    assert_int_equal(kt_record_pupil_id_form("ps-abcdefghijklmnopqrstuvwxyb"), /* not canonical */
                     KT_PUPIL_ID_INVALID);
    assert_int_equal(kt_record_pupil_id_form("ps-abcdefghijklmnopqrstuvwxy"), KT_PUPIL_ID_INVALID);
    assert_int_equal(kt_record_pupil_id_form("ps-ABCDEFGHIJKLMNOPQRSTUVWXYA"),
                     KT_PUPIL_ID_INVALID);
    assert_int_equal(kt_record_pupil_id_form("ps-abcdefghijklmnopqrstuvwx1a"),
                     KT_PUPIL_ID_INVALID);
    assert_int_equal(kt_record_pupil_id_form("xs-abcdefghijklmnopqrstuvwxya"),
                     KT_PUPIL_ID_INVALID);
    assert_int_equal(kt_record_pupil_id_form(NULL), KT_PUPIL_ID_INVALID);
    assert_string_equal(kt_record_required_field("thuiszitter"), "definitie");
    assert_null(kt_record_required_field("afwezig"));
}

/* ---- property test ---- */

static uint64_t s_rng = 0x6b6574656e2d7031ULL; /* fixed: the test is deterministic */

static uint32_t s_rand(void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return (uint32_t)(s_rng >> 16);
}

/* One enum code of field, at random, from the registry's own list (the
 * diagnostic for a wrong code names the allowed ones). */
static int s_random_code(const char *type, const char *field, char *out, size_t outlen)
{
    kt_record_t *r = NULL;
    kt_diag_t d = {{0}};
    char *list, *codes[64], *tok, *save = NULL;
    size_t n = 0;

    assert_int_equal(kt_record_new(&r, type, &d), 0);
    assert_int_not_equal(kt_record_set_text(r, field, "x-not-a-code", &d), 0);
    kt_record_destroy(&r);
    if ((list = strstr(d.msg, "(allowed: ")) == NULL)
        return -1;
    list += strlen("(allowed: ");
    list[strcspn(list, ")")] = '\0';
    for (tok = strtok_r(list, ", ", &save); tok != NULL && n < 64; tok = strtok_r(NULL, ", ", &save))
        codes[n++] = tok;
    if (n == 0)
        return -1;
    snprintf(out, outlen, "%s", codes[s_rand() % n]);
    return 0;
}

/* Sets field to a random valid value; dates ascend in registry order, which
 * puts every start before its end. */
static void s_random_value(kt_record_t *r, const char *type, const char *field, int *day)
{
    static const char *const bsns[] = {"111222333", "999900043", "109000025"};
    kt_field_kind_t kind;
    kt_diag_t d = {{0}};
    char v[64];
    int rc = 0, tries;

    assert_int_equal(kt_record_field_kind(type, field, &kind), 0);
    switch (kind) {
    case KT_FIELD_PUPIL:
        rc = kt_record_set_text(r, field, bsns[s_rand() % 3], &d);
        break;
    case KT_FIELD_DATE:
        *day += 1 + (int)(s_rand() % 20);
        snprintf(v, sizeof(v), "20%02d-%02d-%02d", 10 + *day / 336, 1 + (*day / 28) % 12,
                 1 + *day % 28);
        rc = kt_record_set_text(r, field, v, &d);
        break;
    case KT_FIELD_BOOL:
        rc = kt_record_set_bool(r, field, (int)(s_rand() & 1), &d);
        break;
    case KT_FIELD_INT:
        for (tries = 0; tries < 8; tries++)
            if ((rc = kt_record_set_int(r, field, s_rand() % 101, &d)) == 0)
                break;
        break;
    case KT_FIELD_STRING:
        if (strcmp(field, "woongemeente") == 0)
            rc = kt_record_set_text(r, field, "0268", &d);
        else if (strcmp(field, "brin") == 0)
            rc = kt_record_set_text(r, field, "21PA00", &d);
        else if (strcmp(field, "swv") == 0)
            rc = kt_record_set_text(r, field, "VO2506", &d);
        else
            rc = kt_record_set_text(r, field, "2023-2024", &d);
        break;
    case KT_FIELD_ENUM:
        if (s_random_code(type, field, v, sizeof(v)) == 0)
            rc = kt_record_set_text(r, field, v, &d);
        break;
    }
    if (rc != 0)
        fail_msg("%s", d.msg);
}

/* A random allowed set: leerling_id and the type's required field always. */
static void s_random_fields(const char *type, int *in, const int *base, char *out, size_t outlen)
{
    size_t i, n = kt_record_field_count(type), used = 0;

    used += (size_t)snprintf(out, outlen, "[ ");
    for (i = 0; i < n; i++) {
        const char *name = kt_record_field_name(type, i);

        in[i] = strcmp(name, "leerling_id") == 0 ||
                strcmp(name, kt_record_required_field(type)) == 0 || s_rand() % 2 == 0 ||
                (base != NULL && base[i]);
        if (strcmp(name, "mas_route") == 0)
            in[i] = 0; /* never allowed towards an swv */
        if (in[i])
            used += (size_t)snprintf(out + used, outlen - used, "%s\"%s\"",
                                     used > 2 ? ", " : "", name);
    }
    snprintf(out + used, outlen - used, " ]");
}

static const kt_policy_rule_t *s_random_rule(kt_policy_set_t **set, const char *partner,
                                             kt_policy_dir_t dir, const char *type, int *in,
                                             const int *base, int pseudo)
{
    static const char *const gr[] = {"toestemming", "wettelijke_plicht", "publieke_taak"};
    static const char *const doel[] = {"melding_geoorloofd", "zorgoverleg", "lijstvergelijking"};
    char fields[2048], text[4096], name[64];
    kt_conf_errors_t errs = {0};
    const char *g = strcmp(type, "geoorloofd_verzuim") == 0 ? gr[0] : gr[s_rand() % 3];

    s_random_fields(type, in, base, fields, sizeof(fields));
    snprintf(text, sizeof(text),
             "partner = \"%s\";\nversions = ( { version = %u; valid_from = \"2020-01-01\";\n"
             "%s = ( { type = \"%s\"; grondslag = \"%s\"; doel = \"%s\"; %s identifier = \"%s\";\n"
             "retention_days = %u; fields = %s; } ); } );\n",
             partner, 1 + s_rand() % 9, kt_policy_dir_name(dir), type, g, doel[s_rand() % 3],
             strcmp(g, "toestemming") == 0
                 ? (s_rand() % 2 ? "toestemming_door = \"wet\";"
                                 : "toestemming_door = \"ouders_en_leerling\";")
                 : "",
             pseudo ? "pseudoniem" : "bsn", 1 + s_rand() % 3650, fields);
    snprintf(name, sizeof(name), "/prop/%s.conf", partner);
    if (kt_policy_parse(set, name, text, strlen(text), NULL, &errs) != 0)
        fail_msg("random policy did not load: %s\n%s", errs.count ? errs.msg[0] : "?", text);
    kt_conf_errors_free(&errs);
    return kt_policy_rule(*set, partner, dir, type, "2025-01-01");
}

static void test_property_nothing_outside_both_sets(void **state)
{
    size_t cases, i, ntypes = kt_record_type_count(), accepted = 0, rejected = 0;

    (void)state;
    for (cases = 0; cases < 3000; cases++) {
        const char *type = kt_record_type_name(s_rand() % ntypes);
        size_t nf = kt_record_field_count(type);
        int send_in[64] = {0}, recv_in[64] = {0}, day = 0, ok_expected = 1;
        int spseudo = (int)(s_rand() % 4 == 0), rpseudo = spseudo ^ (int)(s_rand() % 8 == 0);
        kt_policy_set_t *sset = NULL, *rset = NULL;
        const kt_policy_rule_t *srule, *rrule;
        kt_policy_names_t stripped;
        kt_record_t *rec = NULL;
        kt_diag_t d = {{0}};
        int rc;

        srule = s_random_rule(&sset, "swv-b", KT_POLICY_SEND, type, send_in, NULL, spseudo);
        /* half the receivers mirror the sender and allow more, half choose freely */
        rrule = s_random_rule(&rset, "school-a", KT_POLICY_RECEIVE, type, recv_in,
                              s_rand() % 2 ? send_in : NULL, rpseudo);
        assert_non_null(srule);
        assert_non_null(rrule);
        assert_int_equal(kt_record_new(&rec, type, &d), 0);
        for (i = 0; i < nf; i++) {
            const char *f = kt_record_field_name(type, i);

            if (strcmp(f, "leerling_id") == 0 || strcmp(f, kt_record_required_field(type)) == 0 ||
                s_rand() % 3 != 0)
                s_random_value(rec, type, f, &day);
        }
        assert_int_equal(kt_record_validate(rec, &d), 0);

        /* the receive check alone never accepts a field outside its set */
        rc = kt_policy_check_receive(rrule, rec, &d);
        for (i = 0; rc == 0 && i < kt_record_nfields(rec); i++)
            assert_true(kt_policy_allows_field(rrule, kt_record_field_at(rec, i)));

        assert_int_equal(
            kt_policy_apply_send(srule, rec, spseudo ? PS : NULL, &stripped, &d), 0);
        for (i = 0; i < kt_record_nfields(rec); i++) {
            assert_true(kt_policy_allows_field(srule, kt_record_field_at(rec, i)));
            if (!kt_policy_allows_field(rrule, kt_record_field_at(rec, i)))
                ok_expected = 0;
        }
        for (i = 0; i < stripped.count; i++)
            assert_false(kt_policy_allows_field(srule, stripped.name[i]));
        if (spseudo != rpseudo)
            ok_expected = 0;
        rc = kt_policy_check_receive(rrule, rec, &d);
        assert_int_equal(rc, ok_expected ? 0 : KT_EDENIED);
        if (rc == 0) {
            /* what the receiver would store */
            for (i = 0; i < kt_record_nfields(rec); i++) {
                const char *f = kt_record_field_at(rec, i);
                size_t k;

                for (k = 0; k < nf && strcmp(kt_record_field_name(type, k), f) != 0; k++)
                    ;
                assert_true(k < nf && send_in[k] && recv_in[k]);
            }
            accepted++;
        } else {
            assert_null(strstr(d.msg, "111222333"));
            rejected++;
        }
        kt_record_destroy(&rec);
        kt_policy_set_destroy(&sset);
        kt_policy_set_destroy(&rset);
    }
    /* both outcomes must occur, or the test proves nothing */
    assert_true(accepted > 100);
    assert_true(rejected > 100);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, s_setup, s_teardown)
    const struct CMUnitTest tests[] = {
        T(test_valid_policy_loads),
        T(test_empty_or_missing_directory_is_no_policies),
        T(test_other_files_are_ignored),
        T(test_top_level_errors),
        T(test_version_errors),
        T(test_rule_errors),
        T(test_grondslag_doel_and_consent_errors),
        T(test_duplicate_rule_for_a_type),
        T(test_mas_route_only_between_gemeenten),
        T(test_file_checks),
        T(test_all_errors_collected_in_line_order),
        T(test_version_in_force_by_date),
        T(test_default_deny),
        T(test_recipients),
        T(test_apply_send_strips),
        T(test_apply_send_pseudonymises),
        T(test_check_receive),
        T(test_needs_consent),
        T(test_consent_by_age),
        T(test_pseudonym_form),
        T(test_property_nothing_outside_both_sets),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
