/*
 * test_register.c - the AVG art. 30 register built from policies: one
 * activity per (type, doel, grondslag) across partners, the rules in force on
 * the date and the announced ones, categories of data from the field
 * registry (complete, health codes marked), who must consent, sorted output,
 * and the example network's SWV policies (run from the repository root, as
 * tests/run.sh does).
 *
 * Policies are written to a mkdtemp directory per test and loaded as ketend
 * loads them.
 */
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
#include "keten/register.h"

/* swv-a: thuiszitter to the SWV on publieke_taak; vrijstelling on consent
 * until 2026-07-31, statutory from 2026-08-01 (the 5a change). */
static const char s_swv_a[] =
    "partner = \"swv-a\";\n"
    "versions = (\n"
    "  { version = 1; valid_from = \"2025-08-01\"; valid_until = \"2026-07-31\";\n"
    "    reference = \"Convenant 2025\";\n"
    "    send = (\n"
    "      { type = \"thuiszitter\"; grondslag = \"publieke_taak\"; doel = \"zorgoverleg\";\n"
    "        identifier = \"bsn\"; retention_days = 730;\n"
    "        fields = [ \"leerling_id\", \"definitie\", \"geoorloofd\", \"begindatum\" ]; },\n"
    "      { type = \"vrijstelling\"; grondslag = \"toestemming\"; doel = "
    "\"overleg_vrijstelling\";\n"
    "        toestemming_door = \"wet\"; identifier = \"bsn\"; retention_days = 365;\n"
    "        fields = [ \"leerling_id\", \"artikel\", \"artsverklaring\" ]; }\n"
    "    );\n"
    "  },\n"
    "  { version = 2; valid_from = \"2026-08-01\";\n"
    "    reference = \"Leerplichtwet 1969 art. 5a (nieuw)\";\n"
    "    send = (\n"
    "      { type = \"thuiszitter\"; grondslag = \"publieke_taak\"; doel = \"zorgoverleg\";\n"
    "        identifier = \"bsn\"; retention_days = 730;\n"
    "        fields = [ \"leerling_id\", \"definitie\", \"geoorloofd\", \"begindatum\" ]; },\n"
    "      { type = \"vrijstelling\"; grondslag = \"wettelijke_plicht\"; doel = "
    "\"overleg_vrijstelling\";\n"
    "        identifier = \"bsn\"; retention_days = 365;\n"
    "        fields = [ \"leerling_id\", \"artikel\" ]; }\n"
    "    );\n"
    "  }\n"
    ");\n";

/* gem-b: the same thuiszitter activity (another field set), and a
 * geoorloofd_verzuim it receives on consent of both. */
static const char s_gem_b[] =
    "partner = \"gem-b\";\n"
    "versions = (\n"
    "  { version = 3; valid_from = \"2025-01-01\";\n"
    "    send = (\n"
    "      { type = \"thuiszitter\"; grondslag = \"publieke_taak\"; doel = \"zorgoverleg\";\n"
    "        identifier = \"pseudoniem\"; retention_days = 100;\n"
    "        fields = [ \"leerling_id\", \"definitie\", \"woongemeente\", \"oorzaak\" ]; }\n"
    "    );\n"
    "    receive = (\n"
    "      { type = \"geoorloofd_verzuim\"; grondslag = \"toestemming\"; doel = "
    "\"melding_geoorloofd\";\n"
    "        toestemming_door = \"ouders_en_leerling\"; identifier = \"bsn\"; retention_days = "
    "400;\n"
    "        fields = [ \"leerling_id\", \"begindatum\", \"belastbaarheid\", \"brin\" ]; }\n"
    "    );\n"
    "  }\n"
    ");\n";

struct fx {
    char dir[64];
    kt_policy_set_t *set;
    kt_register_t *reg;
};

static void s_write(struct fx *f, const char *name, const char *text)
{
    char path[160];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(path, 0644), 0);
}

static int s_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    kt_conf_errors_t errs = {0};
    size_t i;

    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/keten-test-register.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    s_write(f, "swv-a.conf", s_swv_a);
    s_write(f, "gem-b.conf", s_gem_b);
    if (kt_policy_load(&f->set, f->dir, NULL, &errs) != 0) {
        for (i = 0; i < errs.count; i++)
            fprintf(stderr, "%s\n", errs.msg[i]);
        kt_conf_errors_free(&errs);
        return -1;
    }
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    struct fx *f = *state;
    char path[160];

    kt_register_destroy(&f->reg);
    kt_policy_set_destroy(&f->set);
    snprintf(path, sizeof(path), "%s/swv-a.conf", f->dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/gem-b.conf", f->dir);
    unlink(path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static const kt_register_activity_t *s_find(const kt_register_activity_t *a, size_t n,
                                            const char *type)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(a[i].type, type) == 0)
            return &a[i];
    return NULL;
}

static const kt_register_group_t *s_group(const kt_register_activity_t *a, kt_register_cat_t c)
{
    size_t i;

    for (i = 0; i < a->ngroups; i++)
        if (a->groups[i].cat == c)
            return &a->groups[i];
    return NULL;
}

/* Every field of every registry type has a category: a field added to the
 * registry without one fails here, not silently in a register. */
static void test_every_registry_field_has_a_category(void **state)
{
    size_t t, i;
    kt_register_cat_t cat;

    (void)state;
    for (t = 0; kt_record_type_name(t) != NULL; t++) {
        const char *type = kt_record_type_name(t);

        for (i = 0; i < kt_record_field_count(type); i++) {
            const char *field = kt_record_field_name(type, i);

            if (kt_register_field_cat(type, field, &cat) != 0)
                fail_msg("%s.%s has no register category", type, field);
            assert_non_null(kt_register_cat_code(cat));
        }
    }
    assert_int_equal(kt_register_field_cat("thuiszitter", "naam", &cat), KT_ENOENT);
    assert_int_equal(kt_register_field_cat("thuiszitter", "reden", &cat), KT_ENOENT);
    assert_int_equal(kt_register_field_cat("dossier", "leerling_id", &cat), KT_ENOENT);
    assert_int_equal(kt_register_field_cat("geoorloofd_verzuim", "belastbaarheid", &cat), 0);
    assert_int_equal(cat, KT_REGISTER_CAT_GEZONDHEID);
    assert_true(kt_register_cat_special(cat));
    assert_int_equal(kt_register_field_cat("thuiszitter", "leerling_id", &cat), 0);
    assert_int_equal(cat, KT_REGISTER_CAT_IDENTIFICATIE);
    assert_false(kt_register_cat_special(cat));
    assert_null(kt_register_cat_code(KT_REGISTER_CAT_COUNT));
}

static void test_measures_are_a_fixed_list_with_references(void **state)
{
    size_t i, j, n = kt_register_measure_count();
    static const char *const must[] = {"signatures",   "sealed_envelopes", "curvezmq",
                                       "encryption_at_rest", "audit_log", "default_deny",
                                       "consent_gate", "no_free_text"};

    (void)state;
    assert_true(n >= 8);
    for (i = 0; i < n; i++) {
        const kt_register_measure_t *m = kt_register_measure_at(i);

        assert_true(strlen(m->text) > 20);
        assert_true(strncmp(m->ref, "docs/", 5) == 0 || strncmp(m->ref, "include/", 8) == 0);
        for (j = 0; j < i; j++)
            assert_string_not_equal(kt_register_measure_at(j)->code, m->code);
    }
    for (j = 0; j < sizeof(must) / sizeof(must[0]); j++) {
        int found = 0;

        for (i = 0; i < n; i++)
            found |= strcmp(kt_register_measure_at(i)->code, must[j]) == 0;
        if (!found)
            fail_msg("no measure %s", must[j]);
    }
    assert_null(kt_register_measure_at(n));
}

/* One activity per (type, doel, grondslag), partners listed under it. */
static void test_one_activity_across_partners(void **state)
{
    struct fx *f = *state;
    const kt_register_activity_t *th, *gv;
    const kt_register_group_t *g;

    assert_int_equal(kt_register_build(&f->reg, f->set, NULL, 0, f->dir, "2026-03-01"), 0);
    assert_string_equal(f->reg->date, "2026-03-01");
    assert_string_equal(f->reg->node, "");
    /* sorted by type: geoorloofd_verzuim, thuiszitter, vrijstelling */
    assert_int_equal(f->reg->nactivities, 3);
    assert_string_equal(f->reg->activities[0].type, "geoorloofd_verzuim");
    assert_string_equal(f->reg->activities[1].type, "thuiszitter");
    assert_string_equal(f->reg->activities[2].type, "vrijstelling");

    th = &f->reg->activities[1];
    assert_string_equal(th->doel, "zorgoverleg");
    assert_int_equal(th->grondslag, KT_GRONDSLAG_PUBLIEKE_TAAK);
    assert_int_equal(th->nparties, 2);
    assert_int_equal(th->nsend, 2);
    assert_string_equal(th->parties[0].rule->partner, "gem-b"); /* by partner */
    assert_int_equal(th->parties[0].rule->retention_days, 100);
    assert_string_equal(th->parties[1].rule->partner, "swv-a");
    assert_int_equal(th->parties[1].rule->version, 1);
    /* the union of both field sets, grouped, registry order within a group */
    g = s_group(th, KT_REGISTER_CAT_IDENTIFICATIE);
    assert_non_null(g);
    assert_int_equal(g->nfields, 2);
    assert_string_equal(g->fields[0], "leerling_id");
    assert_string_equal(g->fields[1], "woongemeente");
    assert_non_null(s_group(th, KT_REGISTER_CAT_BEGELEIDING));
    assert_null(s_group(th, KT_REGISTER_CAT_GEZONDHEID));
    assert_false(th->special);
    /* a geoorloofd thuiszitter still waits for consent */
    assert_int_equal(th->consent, KT_REGISTER_DOOR_GEOORLOOFD);

    gv = &f->reg->activities[0];
    assert_int_equal(gv->nreceive, 1);
    assert_int_equal(gv->parties[0].rule->dir, KT_POLICY_RECEIVE);
    assert_true(gv->special);
    assert_int_equal(gv->consent, KT_REGISTER_DOOR_OUDERS_EN_LEERLING);
    g = s_group(gv, KT_REGISTER_CAT_GEZONDHEID);
    assert_non_null(g);
    assert_int_equal(g->nfields, 1);
    assert_string_equal(g->fields[0], "belastbaarheid");

    /* in force: both partners' versions, sorted */
    assert_int_equal(f->reg->nversions, 2);
    assert_string_equal(f->reg->versions[0].partner, "gem-b");
    assert_int_equal(f->reg->versions[0].version, 3);
    assert_string_equal(f->reg->versions[0].valid_until, "");
    assert_string_equal(f->reg->versions[1].partner, "swv-a");
    assert_string_equal(f->reg->versions[1].reference, "Convenant 2025");
}

/* The 5a change: the basis of the vrijstelling activity follows the date,
 * and the later version is announced until it is in force. */
static void test_date_selects_versions_and_announces_later_ones(void **state)
{
    struct fx *f = *state;
    const kt_register_activity_t *v;

    assert_int_equal(kt_register_build(&f->reg, f->set, NULL, 0, f->dir, "2026-07-31"), 0);
    v = s_find(f->reg->activities, f->reg->nactivities, "vrijstelling");
    assert_non_null(v);
    assert_int_equal(v->grondslag, KT_GRONDSLAG_TOESTEMMING);
    assert_int_equal(v->consent, KT_REGISTER_DOOR_WET);
    assert_true(v->special);
    assert_non_null(s_group(v, KT_REGISTER_CAT_GEZONDHEID)); /* artsverklaring */
    assert_int_equal(f->reg->nannounced, 1);
    assert_string_equal(f->reg->announced[0].partner, "swv-a");
    assert_int_equal(f->reg->announced[0].version, 2);
    assert_string_equal(f->reg->announced[0].valid_from, "2026-08-01");
    assert_string_equal(f->reg->announced[0].reference, "Leerplichtwet 1969 art. 5a (nieuw)");
    v = s_find(f->reg->upcoming, f->reg->nupcoming, "vrijstelling");
    assert_non_null(v);
    assert_int_equal(v->grondslag, KT_GRONDSLAG_WETTELIJKE_PLICHT);
    assert_int_equal(v->consent, 0);
    kt_register_destroy(&f->reg);
    assert_null(f->reg);

    assert_int_equal(kt_register_build(&f->reg, f->set, NULL, 0, f->dir, "2026-08-01"), 0);
    v = s_find(f->reg->activities, f->reg->nactivities, "vrijstelling");
    assert_non_null(v);
    assert_int_equal(v->grondslag, KT_GRONDSLAG_WETTELIJKE_PLICHT);
    assert_int_equal(v->parties[0].rule->version, 2);
    assert_null(s_group(v, KT_REGISTER_CAT_GEZONDHEID)); /* v2 drops artsverklaring */
    assert_true(v->special);                             /* 5a: still art. 9 data */
    assert_int_equal(f->reg->nannounced, 0);
    assert_int_equal(f->reg->nupcoming, 0);
    kt_register_destroy(&f->reg);

    /* before any version: default deny, nothing in force, everything announced */
    assert_int_equal(kt_register_build(&f->reg, f->set, NULL, 0, f->dir, "2024-12-31"), 0);
    assert_int_equal(f->reg->nactivities, 0);
    assert_int_equal(f->reg->nversions, 0);
    assert_int_equal(f->reg->nannounced, 3);
    assert_string_equal(f->reg->announced[0].partner, "gem-b");
    assert_string_equal(f->reg->announced[1].partner, "swv-a");
    assert_int_equal(f->reg->announced[1].version, 1);
    assert_int_equal(f->reg->announced[2].version, 2);
}

static void test_bad_input(void **state)
{
    struct fx *f = *state;

    assert_int_equal(kt_register_build(&f->reg, f->set, NULL, 0, f->dir, "2026-02-30"),
                     KT_EINVAL);
    assert_null(f->reg);
    assert_int_equal(kt_register_build(&f->reg, NULL, NULL, 0, f->dir, "2026-02-01"), KT_EINVAL);
    kt_register_destroy(&f->reg); /* idempotent on NULL */
    kt_register_destroy(NULL);
    assert_string_equal(kt_register_avg_article(KT_GRONDSLAG_TOESTEMMING), "6(1)(a)");
    assert_string_equal(kt_register_avg_article(KT_GRONDSLAG_WETTELIJKE_PLICHT), "6(1)(c)");
    assert_string_equal(kt_register_avg_article(KT_GRONDSLAG_PUBLIEKE_TAAK), "6(1)(e)");
}

/* An empty directory: a valid, empty register. */
static void test_empty_set(void **state)
{
    kt_policy_set_t *set = NULL;
    kt_register_t *reg = NULL;
    kt_conf_errors_t errs = {0};

    (void)state;
    assert_int_equal(kt_policy_load(&set, "/nonexistent-keten-dir", NULL, &errs), 0);
    assert_int_equal(kt_register_build(&reg, set, NULL, 0, NULL, "2026-01-01"), 0);
    assert_int_equal(reg->nactivities, 0);
    assert_int_equal(reg->nannounced, 0);
    assert_string_equal(reg->policies_dir, "");
    kt_register_destroy(&reg);
    kt_policy_set_destroy(&set);
}

/* The example SWV: the school sends geoorloofd_verzuim on consent with
 * retention 365; the gemeente's vrijstelling changes basis on 2026-08-01. */
static void test_example_swv_policies(void **state)
{
    kt_policy_set_t *set = NULL;
    kt_register_t *reg = NULL;
    kt_conf_errors_t errs = {0};
    const kt_register_activity_t *gv, *vr;

    (void)state;
    assert_int_equal(kt_policy_load(&set, "policies/swv-vo-9901", NULL, &errs), 0);
    assert_int_equal(kt_register_build(&reg, set, NULL, KT_ROLE_SWV, "policies/swv-vo-9901",
                                       "2026-03-01"),
                     0);
    gv = s_find(reg->activities, reg->nactivities, "geoorloofd_verzuim");
    assert_non_null(gv);
    assert_int_equal(gv->grondslag, KT_GRONDSLAG_TOESTEMMING);
    assert_int_equal(gv->nparties, 1);
    assert_string_equal(gv->parties[0].rule->partner, "school-de-linde");
    assert_int_equal(gv->parties[0].rule->dir, KT_POLICY_RECEIVE);
    assert_int_equal(gv->parties[0].rule->retention_days, 365);
    vr = s_find(reg->activities, reg->nactivities, "vrijstelling");
    assert_non_null(vr);
    assert_int_equal(vr->grondslag, KT_GRONDSLAG_TOESTEMMING);
    assert_int_equal(reg->nannounced, 1);
    vr = s_find(reg->upcoming, reg->nupcoming, "vrijstelling");
    assert_non_null(vr);
    assert_int_equal(vr->grondslag, KT_GRONDSLAG_WETTELIJKE_PLICHT);
    kt_register_destroy(&reg);
    kt_policy_set_destroy(&set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_registry_field_has_a_category),
        cmocka_unit_test(test_measures_are_a_fixed_list_with_references),
        cmocka_unit_test_setup_teardown(test_one_activity_across_partners, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_date_selects_versions_and_announces_later_ones,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, s_setup, s_teardown),
        cmocka_unit_test(test_empty_set),
        cmocka_unit_test(test_example_swv_policies),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
