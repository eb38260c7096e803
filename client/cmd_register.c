/*
 * cmd_register.c - `ketenctl register`: the AVG art. 30 record of processing
 * activities of one node, generated from the policies in force on a date, as
 * Markdown for people or JSON for tools (docs/policy.md "The art. 30
 * register").
 *
 * Works offline like `policy check`: the node configuration is read for its
 * id, policy directory and partner roles only, never the secret key. The
 * register is built by daemon/register.c; this file only formats it, sorted
 * and stable so it can be diffed and committed. It must never print a pupil,
 * a record or key material: the register holds codes, field names, partner
 * ids, dates and file positions.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "keten/conf.h"
#include "keten/keys.h"
#include "keten/policy.h"
#include "keten/register.h"
#include "ketenctl.h"

#define S_DEFAULT_DIR "policies"
#define S_FORMAT_VERSION 1

struct s_opts {
    const char *conf_path, *dir, *date, *out;
    int json;
};

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: %s register [-c NODE.conf] [--dir DIR] [--date YYYY-MM-DD]\n"
            "                        [--format md|json] [-o FILE]\n\n"
            "Generates the node's AVG art. 30 register of processing activities from the\n"
            "policies in force on DATE (default: today): one activity per record type, doel\n"
            "and grondslag with its recipients and senders, the categories of data and of\n"
            "data subjects, retention, who must consent, the security measures keten\n"
            "enforces, and the policy versions announced after DATE. Markdown by default;\n"
            "--format json for tools. Works without a daemon and without the secret key;\n"
            "policy errors are reported as by 'policy check' (exit 1). See docs/policy.md.\n",
            kt_progname);
}

/* ---- loading: as cmd_policy.c, so errors read the same ---- */

static int s_conf(const char *path, kt_conf_t **conf)
{
    kt_conf_errors_t errs = {0};
    char *text = NULL;
    size_t len, i;
    FILE *f;
    int rc = KT_EXIT_ERR;

    if ((f = fopen(path, "r")) == NULL) {
        kt_err("%s: cannot open: %s", path, strerror(errno));
        return KT_EXIT_ERR;
    }
    if ((text = malloc(KT_CONF_FILE_MAX + 1)) == NULL) {
        kt_err("out of memory");
        goto out;
    }
    len = fread(text, 1, KT_CONF_FILE_MAX + 1, f);
    if (ferror(f)) {
        kt_err("%s: cannot read", path);
        goto out;
    }
    if (kt_conf_parse(conf, text, len, path, KT_CONF_SYNTAX_ONLY, &errs) != 0) {
        for (i = 0; i < errs.count; i++)
            fprintf(stderr, "%s\n", errs.msg[i]);
        goto out;
    }
    rc = KT_EXIT_OK;
out:
    kt_conf_errors_free(&errs);
    free(text);
    fclose(f);
    return rc;
}

/* The node's own role from the public key file beside its secret key
 * (keygen writes ID.key and ID.pub together); 0 when it cannot be read. The
 * secret key itself is never opened. */
static kt_role_t s_self_role(const kt_conf_t *conf)
{
    kt_pubkey_t pk;
    kt_diag_t d = {0};
    char *pub;
    size_t n;
    kt_role_t role = 0;

    if (conf->key_path == NULL || (n = strlen(conf->key_path)) < 4 ||
        strcmp(conf->key_path + n - 4, ".key") != 0)
        return 0;
    if ((pub = strdup(conf->key_path)) == NULL)
        return 0;
    memcpy(pub + n - 4, ".pub", 4);
    if (access(pub, R_OK) == 0 && kt_keys_load_public(&pk, pub, &d) == 0 &&
        strcmp(pk.id, conf->id) == 0)
        role = pk.role;
    free(pub);
    return role;
}

static int s_today(char out[KT_POLICY_DATE_BYTES])
{
    time_t now = time(NULL);
    struct tm tm;

    if (localtime_r(&now, &tm) == NULL)
        return -1;
    return strftime(out, KT_POLICY_DATE_BYTES, "%Y-%m-%d", &tm) == 10 ? 0 : -1;
}

/* ---- words ---- */

static const char *s_role_text(kt_role_t role)
{
    switch (role) {
    case KT_ROLE_SCHOOL:
        return "school";
    case KT_ROLE_SWV:
        return "swv";
    case KT_ROLE_GEMEENTE:
        return "gemeente";
    }
    return "onbekend";
}

static const char *s_role_long(kt_role_t role)
{
    switch (role) {
    case KT_ROLE_SCHOOL:
        return "school (bevoegd gezag)";
    case KT_ROLE_SWV:
        return "samenwerkingsverband passend onderwijs";
    case KT_ROLE_GEMEENTE:
        return "gemeente (leerplicht)";
    }
    return "onbekend";
}

static const char *s_grondslag_text(kt_grondslag_t g)
{
    switch (g) {
    case KT_GRONDSLAG_TOESTEMMING:
        return "toestemming (AVG art. 6 lid 1 onder a)";
    case KT_GRONDSLAG_WETTELIJKE_PLICHT:
        return "wettelijke plicht (AVG art. 6 lid 1 onder c)";
    case KT_GRONDSLAG_PUBLIEKE_TAAK:
        return "publieke taak (AVG art. 6 lid 1 onder e)";
    }
    return "?";
}

static const char *s_door_text(unsigned bit)
{
    switch (bit) {
    case KT_REGISTER_DOOR_WET:
        return "wet: ouders/verzorgers onder 16 jaar, de leerling vanaf 16 jaar "
               "(UAVG art. 5)";
    case KT_REGISTER_DOOR_OUDERS_EN_LEERLING:
        return "ouders_en_leerling: ouders/verzorgers onder 16 jaar, vanaf 16 jaar leerling "
               "en ouders samen";
    case KT_REGISTER_DOOR_GEOORLOOFD:
        return "geoorloofd: een thuiszitter met geoorloofd verzuim gaat pas weg met "
               "toestemming, als onder 'wet' (DOMAIN.md §8 regel 2)";
    }
    return "?";
}

static const char *s_door_code(unsigned bit)
{
    switch (bit) {
    case KT_REGISTER_DOOR_WET:
        return "wet";
    case KT_REGISTER_DOOR_OUDERS_EN_LEERLING:
        return "ouders_en_leerling";
    case KT_REGISTER_DOOR_GEOORLOOFD:
        return "geoorloofd_thuiszitter";
    }
    return "?";
}

static const unsigned s_door_bits[] = {KT_REGISTER_DOOR_WET, KT_REGISTER_DOOR_OUDERS_EN_LEERLING,
                                       KT_REGISTER_DOOR_GEOORLOOFD};
#define S_NDOOR (sizeof(s_door_bits) / sizeof(s_door_bits[0]))

/* ---- Markdown ---- */

static void s_md_names(FILE *f, const char *const *names, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        fprintf(f, "%s`%s`", i ? ", " : "", names[i]);
}

static void s_md_activity(FILE *f, const kt_register_activity_t *a, const char *num)
{
    size_t i, k;

    fprintf(f, "### %s `%s`, doel `%s`, grondslag `%s`\n\n", num, a->type, a->doel,
            kt_policy_grondslag_name(a->grondslag));
    fprintf(f, "- **Doel:** `%s`\n", a->doel);
    fprintf(f, "- **Grondslag:** %s\n", s_grondslag_text(a->grondslag));
    fprintf(f, "- **Betrokkenen:** leerlingen%s\n",
            a->consent ? "; ouders/verzorgers (en de leerling vanaf 16 jaar) als gevers van "
                         "toestemming"
                       : "");
    if (a->consent) {
        fprintf(f, "- **Toestemming door:**");
        for (i = 0, k = 0; i < S_NDOOR; i++)
            if (a->consent & s_door_bits[i])
                fprintf(f, "%s%s", k++ ? "; " : " ", s_door_text(s_door_bits[i]));
        fputc('\n', f);
    } else {
        fprintf(f, "- **Toestemming door:** niet nodig op deze grondslag\n");
    }
    fprintf(f, "- **Bijzondere persoonsgegevens:** %s\n",
            a->special ? "ja, gezondheid (AVG art. 9); alleen codes, geen medische details"
                       : "nee");
    fprintf(f, "- **Categorieën persoonsgegevens:**\n");
    for (i = 0; i < a->ngroups; i++) {
        fprintf(f, "  - %s: ", kt_register_cat_label(a->groups[i].cat));
        s_md_names(f, a->groups[i].fields, a->groups[i].nfields);
        fputc('\n', f);
    }
    fprintf(f, "\n| richting | partner | rol | bewaartermijn | identificatie | toestemming door "
               "| versie | geldig | regel |\n");
    fprintf(f, "|---|---|---|---|---|---|---|---|---|\n");
    for (i = 0; i < a->nparties; i++) {
        const kt_policy_rule_t *r = a->parties[i].rule;
        const char *door = kt_policy_door_name(r->toestemming_door);

        fprintf(f, "| %s | `%s` | %s | %d dagen | %s | %s | %d | %s t/m %s | `%s:%d` |\n",
                r->dir == KT_POLICY_SEND ? "verstrekt aan" : "ontvangen van", r->partner,
                s_role_text(a->parties[i].role), r->retention_days,
                kt_policy_ident_name(r->identifier), door[0] ? door : "-", r->version,
                r->valid_from, r->valid_until[0] ? r->valid_until : "(open)", r->file, r->line);
    }
    fputc('\n', f);
    for (i = 0; i < a->nparties; i++) {
        const kt_policy_rule_t *r = a->parties[i].rule;

        fprintf(f, "Velden %s `%s`: ", r->dir == KT_POLICY_SEND ? "aan" : "van", r->partner);
        s_md_names(f, r->fields, r->nfields);
        fprintf(f, ".\n\n");
    }
}

static void s_md_versions(FILE *f, const kt_register_version_t *v, size_t n)
{
    size_t i;

    fprintf(f, "| partner | rol | versie | geldig van | geldig t/m | referentie | bestand |\n");
    fprintf(f, "|---|---|---|---|---|---|---|\n");
    for (i = 0; i < n; i++)
        fprintf(f, "| `%s` | %s | %d | %s | %s | %s | `%s:%d` |\n", v[i].partner,
                s_role_text(v[i].role), v[i].version, v[i].valid_from,
                v[i].valid_until[0] ? v[i].valid_until : "(open)",
                v[i].reference ? v[i].reference : "-", v[i].file, v[i].line);
    fputc('\n', f);
}

static const char *s_lists_text(int lists)
{
    return lists == KT_POLICY_LISTS_MEMBERSHIP    ? "ja; de partner leert ook welke van zijn eigen "
                                                    "leerlingen bij ons ontbreken"
           : lists == KT_POLICY_LISTS_CARDINALITY ? "ja; de partner leert alleen de aantallen"
                                                  : "nee";
}

/* Comparing registries (doel lijstvergelijking), per partner whose version
 * in force has a reconcile group: a processing of its own. */
static void s_md_reconcile(FILE *f, const kt_register_t *reg)
{
    size_t i, n = 0;

    for (i = 0; i < reg->nversions; i++)
        n += reg->versions[i].reconcile_counts || reg->versions[i].reconcile_lists;
    fprintf(f, "### Registervergelijking (doel `lijstvergelijking`)\n\n");
    if (n == 0) {
        fprintf(f, "Geen: geen partner mag registers vergelijken.\n\n");
        return;
    }
    fprintf(f, "Eigen geïmporteerde lijsten (thuiszitterregisters) worden vergeleken zonder ze te "
               "verstrekken: aantallen als ondertekende telvectoren, lijsten privé (private set "
               "intersection, docs/protocol.md §12). Geen leerlingnummer verlaat de node.\n\n");
    fprintf(f, "| partner | rol | aantallen | onderdrukt onder | lijsten |\n|---|---|---|---|---|\n");
    for (i = 0; i < reg->nversions; i++) {
        const kt_register_version_t *v = &reg->versions[i];

        if (!v->reconcile_counts && !v->reconcile_lists)
            continue;
        fprintf(f, "| `%s` | %s | %s | %d | %s |\n", v->partner, s_role_text(v->role),
                v->reconcile_counts ? "ja" : "nee", v->suppress_below,
                s_lists_text(v->reconcile_lists));
    }
    fputc('\n', f);
}

/* Partners with their types per direction, from the activities in force. */
static void s_md_recipients(FILE *f, const kt_register_t *reg)
{
    size_t i, j, k, d;

    fprintf(f, "| partner | rol | verstrekt aan partner | ontvangen van partner |\n");
    fprintf(f, "|---|---|---|---|\n");
    for (i = 0; i < reg->nversions; i++) {
        const char *p = reg->versions[i].partner;

        fprintf(f, "| `%s` | %s |", p, s_role_long(reg->versions[i].role));
        for (d = KT_POLICY_SEND; d <= KT_POLICY_RECEIVE; d++) {
            int any = 0;

            for (j = 0; j < reg->nactivities; j++) {
                const kt_register_activity_t *a = &reg->activities[j];

                for (k = 0; k < a->nparties; k++) {
                    const kt_policy_rule_t *r = a->parties[k].rule;

                    if (r->dir == (kt_policy_dir_t)d && strcmp(r->partner, p) == 0) {
                        fprintf(f, "%s`%s` (%s)", any++ ? ", " : " ", r->type,
                                kt_policy_grondslag_name(r->grondslag));
                        break;
                    }
                }
            }
            fprintf(f, "%s |", any ? "" : " -");
        }
        fputc('\n', f);
    }
    fputc('\n', f);
}

static void s_md_retention(FILE *f, const kt_register_t *reg)
{
    size_t i, j;

    fprintf(f, "| recordtype | richting | partner | bewaartermijn | regel |\n");
    fprintf(f, "|---|---|---|---|---|\n");
    for (i = 0; i < reg->nactivities; i++) {
        const kt_register_activity_t *a = &reg->activities[i];

        for (j = 0; j < a->nparties; j++) {
            const kt_policy_rule_t *r = a->parties[j].rule;

            fprintf(f, "| `%s` | %s | `%s` | %d dagen | `%s:%d` |\n", r->type,
                    r->dir == KT_POLICY_SEND ? "verstrekt aan" : "ontvangen van", r->partner,
                    r->retention_days, r->file, r->line);
        }
    }
    fprintf(f, "\nDe termijn loopt voor ontvangen records vanaf de ontvangst, voor verstrekte "
               "records vanaf de ontvangstbevestiging van de partner; daarna verwijdert de node "
               "het record automatisch. Bij intrekking of verloop van de toestemming wordt een "
               "record op grondslag toestemming eerder verwijderd, ook bij de ontvangers.\n\n");
}

static void s_markdown(FILE *f, const kt_register_t *reg, const char *conf_path)
{
    size_t i;
    int consent = 0;
    char num[32];

    fprintf(f, "# Register van verwerkingsactiviteiten (AVG art. 30)\n\n");
    fprintf(f,
            "Node `%s`, beleid in werking op %s. Gegenereerd door `ketenctl register` uit de "
            "beleidsbestanden; niet met de hand bewerken, maar het beleid wijzigen en opnieuw "
            "genereren. Dit register bevat geen gegevens van leerlingen.\n\n",
            reg->node[0] ? reg->node : "(onbekend)", reg->date);

    fprintf(f, "## 1. Verwerkingsverantwoordelijke\n\n");
    fprintf(f, "| | |\n|---|---|\n");
    fprintf(f, "| node | `%s` |\n", reg->node[0] ? reg->node : "(geen configuratie)");
    fprintf(f, "| rol | %s |\n", s_role_long(reg->role));
    if (conf_path != NULL)
        fprintf(f, "| configuratie | `%s` |\n", conf_path);
    fprintf(f, "| beleidsmap | `%s` |\n", reg->policies_dir);
    fprintf(f, "| partners met beleid in werking | %zu |\n\n", reg->nversions);
    fprintf(f, "Naam, adres en contactgegevens van de organisatie en van de functionaris "
               "gegevensbescherming staan niet in de configuratie van keten; vermeld ze in het "
               "register van de organisatie.\n\n");

    fprintf(f, "## 2. Categorieën van betrokkenen\n\n");
    fprintf(f, "- leerlingen (leer- en kwalificatieplichtige jongeren): in elke verwerking\n");
    for (i = 0; i < reg->nactivities; i++)
        consent |= reg->activities[i].consent != 0;
    if (consent) {
        fprintf(f, "- ouders/verzorgers, als gevers van toestemming (en de leerling vanaf 16 "
                   "jaar): in");
        for (i = 0; i < reg->nactivities; i++)
            if (reg->activities[i].consent)
                fprintf(f, " 3.%zu", i + 1);
        fputc('\n', f);
    }
    fputc('\n', f);

    fprintf(f, "## 3. Verwerkingen\n\n");
    if (reg->nactivities == 0)
        fprintf(f,
                "Geen: op %s is geen beleidsregel in werking, dus wisselt de node niets "
                "uit (standaard weigeren).\n\n",
                reg->date);
    for (i = 0; i < reg->nactivities; i++) {
        snprintf(num, sizeof(num), "3.%zu", i + 1);
        s_md_activity(f, &reg->activities[i], num);
    }

    fprintf(f, "## 4. Categorieën van ontvangers\n\n");
    if (reg->nversions == 0)
        fprintf(f, "Geen.\n\n");
    else
        s_md_recipients(f, reg);

    fprintf(f, "## 5. Doorgifte buiten de EER\n\n");
    fprintf(f, "Geen. De node wisselt alleen uit met de partners in zijn configuratie, "
               "organisaties in de Nederlandse leerplichtketen, en met geen andere "
               "ontvanger.\n\n");

    fprintf(f, "## 6. Bewaartermijnen\n\n");
    if (reg->nactivities == 0)
        fprintf(f, "Geen verwerkingen.\n\n");
    else
        s_md_retention(f, reg);

    fprintf(f, "## 7. Technische en organisatorische beveiligingsmaatregelen\n\n");
    for (i = 0; i < kt_register_measure_count(); i++) {
        const kt_register_measure_t *m = kt_register_measure_at(i);

        fprintf(f, "- %s (%s)\n", m->text, m->ref);
    }
    fputc('\n', f);

    fprintf(f, "## 8. Beleid in werking op %s\n\n", reg->date);
    if (reg->nversions == 0)
        fprintf(f, "Geen.\n\n");
    else
        s_md_versions(f, reg->versions, reg->nversions);

    s_md_reconcile(f, reg);

    fprintf(f, "## 9. Aangekondigd\n\n");
    if (reg->nannounced == 0) {
        fprintf(f, "Geen beleidsversies met een latere ingangsdatum.\n");
        return;
    }
    fprintf(f, "Beleidsversies die na %s in werking treden:\n\n", reg->date);
    s_md_versions(f, reg->announced, reg->nannounced);
    for (i = 0; i < reg->nupcoming; i++) {
        snprintf(num, sizeof(num), "9.%zu", i + 1);
        s_md_activity(f, &reg->upcoming[i], num);
    }
}

/* ---- JSON (keys documented in docs/policy.md) ---- */

static json_t *s_json_str_or_null(const char *s)
{
    return s != NULL && s[0] ? json_string(s) : json_null();
}

static json_t *s_json_names(const char *const *names, size_t n)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; a != NULL && i < n; i++)
        json_array_append_new(a, json_string(names[i]));
    return a;
}

static json_t *s_json_versions(const kt_register_version_t *v, size_t n)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; a != NULL && i < n; i++)
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:i, s:s, s:o, s:o, s:s, s:i, s:{s:b, s:i, s:s}}", "partner",
                         v[i].partner, "role", s_role_text(v[i].role), "version", v[i].version,
                         "valid_from", v[i].valid_from, "valid_until",
                         s_json_str_or_null(v[i].valid_until), "reference",
                         s_json_str_or_null(v[i].reference), "file", v[i].file, "line", v[i].line,
                         "reconcile", "counts", v[i].reconcile_counts, "suppress_below",
                         v[i].suppress_below, "lists",
                         v[i].reconcile_lists == KT_POLICY_LISTS_MEMBERSHIP    ? "membership"
                         : v[i].reconcile_lists == KT_POLICY_LISTS_CARDINALITY ? "cardinality"
                                                                               : "none"));
    return a;
}

static json_t *s_json_activity(const kt_register_activity_t *a)
{
    json_t *o, *cats = json_array(), *parties = json_array(), *door = json_array();
    json_t *subjects = json_array();
    size_t i;

    if (cats == NULL || parties == NULL || door == NULL || subjects == NULL)
        goto fail;
    json_array_append_new(subjects, json_string("leerlingen"));
    if (a->consent)
        json_array_append_new(subjects, json_string("ouders_verzorgers"));
    for (i = 0; i < S_NDOOR; i++)
        if (a->consent & s_door_bits[i])
            json_array_append_new(door, json_string(s_door_code(s_door_bits[i])));
    for (i = 0; i < a->ngroups; i++)
        json_array_append_new(
            cats, json_pack("{s:s, s:b, s:o}", "category", kt_register_cat_code(a->groups[i].cat),
                            "special", kt_register_cat_special(a->groups[i].cat), "fields",
                            s_json_names(a->groups[i].fields, a->groups[i].nfields)));
    for (i = 0; i < a->nparties; i++) {
        const kt_policy_rule_t *r = a->parties[i].rule;

        json_array_append_new(
            parties,
            json_pack("{s:s, s:s, s:s, s:i, s:s, s:o, s:i, s:s, s:o, s:o, s:s, s:i, s:o}",
                      "partner", r->partner, "role", s_role_text(a->parties[i].role), "direction",
                      kt_policy_dir_name(r->dir), "version", r->version, "valid_from",
                      r->valid_from, "valid_until", s_json_str_or_null(r->valid_until),
                      "retention_days", r->retention_days, "identifier",
                      kt_policy_ident_name(r->identifier), "toestemming_door",
                      s_json_str_or_null(kt_policy_door_name(r->toestemming_door)), "reference",
                      s_json_str_or_null(r->reference), "file", r->file, "line", r->line, "fields",
                      s_json_names(r->fields, r->nfields)));
    }
    o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:o, s:o, s:o, s:o}", "record_type", a->type, "doel",
                  a->doel, "grondslag", kt_policy_grondslag_name(a->grondslag), "avg_article",
                  kt_register_avg_article(a->grondslag), "special", a->special, "data_subjects",
                  subjects, "consent_by", door, "data_categories", cats, "parties", parties);
    return o;
fail:
    json_decref(cats);
    json_decref(parties);
    json_decref(door);
    json_decref(subjects);
    return NULL;
}

static json_t *s_json_activities(const kt_register_activity_t *a, size_t n)
{
    json_t *arr = json_array();
    size_t i;

    for (i = 0; arr != NULL && i < n; i++)
        json_array_append_new(arr, s_json_activity(&a[i]));
    return arr;
}

static json_t *s_json(const kt_register_t *reg, const char *conf_path)
{
    json_t *measures = json_array(), *subjects = json_array();
    size_t i;
    int consent = 0;

    for (i = 0; i < reg->nactivities; i++)
        consent |= reg->activities[i].consent != 0;
    if (subjects != NULL) {
        json_array_append_new(subjects, json_string("leerlingen"));
        if (consent)
            json_array_append_new(subjects, json_string("ouders_verzorgers"));
    }

    for (i = 0; measures != NULL && i < kt_register_measure_count(); i++) {
        const kt_register_measure_t *m = kt_register_measure_at(i);

        json_array_append_new(measures, json_pack("{s:s, s:s, s:s}", "code", m->code, "text",
                                                  m->text, "ref", m->ref));
    }
    return json_pack(
        "{s:s, s:i, s:s, s:{s:o, s:s, s:o, s:s}, s:o, s:o, s:o, s:b, s:o, s:{s:o, s:o}}",
        "register", "avg_art30", "format_version", S_FORMAT_VERSION, "date", reg->date,
        "controller", "node", s_json_str_or_null(reg->node), "role", s_role_text(reg->role),
        "config", s_json_str_or_null(conf_path), "policies_dir", reg->policies_dir, "policies",
        s_json_versions(reg->versions, reg->nversions), "processing",
        s_json_activities(reg->activities, reg->nactivities), "security_measures", measures,
        "transfers_outside_eea", 0, "data_subject_categories", subjects, "announced", "policies",
        s_json_versions(reg->announced, reg->nannounced), "processing",
        s_json_activities(reg->upcoming, reg->nupcoming));
}

/* ---- output ---- */

static int s_write(const struct s_opts *o, const kt_register_t *reg)
{
    char *tmp = NULL;
    FILE *f = stdout;
    json_t *j = NULL;
    int rc = KT_EXIT_ERR, bad;

    if (o->out != NULL) {
        if (asprintf(&tmp, "%s.tmp", o->out) < 0) {
            kt_err("out of memory");
            return KT_EXIT_ERR;
        }
        if ((f = fopen(tmp, "w")) == NULL) {
            kt_err("%s: cannot create: %s", tmp, strerror(errno));
            free(tmp);
            return KT_EXIT_ERR;
        }
    }
    if (o->json) {
        if ((j = s_json(reg, o->conf_path)) == NULL) {
            kt_err("out of memory");
            goto out;
        }
        bad = json_dumpf(j, f, JSON_INDENT(2) | JSON_SORT_KEYS) != 0 || fputc('\n', f) == EOF;
    } else {
        s_markdown(f, reg, o->conf_path);
        bad = ferror(f);
    }
    if (fflush(f) != 0 || bad) {
        kt_err("%s: cannot write", o->out ? tmp : "stdout");
        goto out;
    }
    rc = KT_EXIT_OK;
out:
    json_decref(j);
    if (o->out != NULL) {
        if (fclose(f) != 0 && rc == KT_EXIT_OK) {
            kt_err("%s: cannot write", tmp);
            rc = KT_EXIT_ERR;
        }
        if (rc == KT_EXIT_OK && rename(tmp, o->out) != 0) {
            kt_err("%s: cannot rename to %s: %s", tmp, o->out, strerror(errno));
            rc = KT_EXIT_ERR;
        }
        if (rc != KT_EXIT_OK)
            unlink(tmp);
        free(tmp);
    }
    return rc;
}

static int s_parse(int argc, char **argv, struct s_opts *o)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"dir", required_argument, NULL, 'D'},
                                         {"date", required_argument, NULL, 'd'},
                                         {"format", required_argument, NULL, 'F'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+c:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->conf_path = optarg;
            break;
        case 'D':
            o->dir = optarg;
            break;
        case 'd':
            o->date = optarg;
            break;
        case 'F':
            if (strcmp(optarg, "json") == 0) {
                o->json = 1;
            } else if (strcmp(optarg, "md") != 0) {
                kt_err("--format: md or json");
                return KT_EXIT_USAGE;
            }
            break;
        case 'o':
            o->out = optarg;
            break;
        case 'h':
            s_usage(stdout);
            return -1;
        default:
            s_usage(stderr);
            return KT_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        s_usage(stderr);
        return KT_EXIT_USAGE;
    }
    if (o->date != NULL && !kt_policy_is_date(o->date)) {
        kt_err("--date: not a real date YYYY-MM-DD");
        return KT_EXIT_USAGE;
    }
    return KT_EXIT_OK;
}

int cmd_register(int argc, char **argv)
{
    struct s_opts o = {0};
    kt_conf_t *conf = NULL;
    kt_policy_set_t *set = NULL;
    kt_register_t *reg = NULL;
    kt_policy_roles_t roles;
    kt_conf_errors_t errs = {0};
    char today[KT_POLICY_DATE_BYTES];
    const char *dir;
    size_t i;
    int rc;

    if ((rc = s_parse(argc, argv, &o)) != KT_EXIT_OK)
        return rc < 0 ? KT_EXIT_OK : rc;
    if (o.date == NULL) {
        if (s_today(today) != 0) {
            kt_err("cannot tell today's date; give --date YYYY-MM-DD");
            return KT_EXIT_ERR;
        }
        o.date = today;
    }
    if (o.conf_path != NULL && (rc = s_conf(o.conf_path, &conf)) != KT_EXIT_OK)
        return rc;
    dir = o.dir ? o.dir : conf ? conf->policies_dir : S_DEFAULT_DIR;
    if (conf != NULL)
        kt_policy_roles_from_conf(&roles, conf);
    rc = kt_policy_load(&set, dir, conf ? &roles : NULL, &errs);
    for (i = 0; i < errs.count; i++)
        fprintf(stderr, "%s\n", errs.msg[i]);
    kt_conf_errors_free(&errs);
    if (rc != 0) {
        rc = KT_EXIT_ERR;
        goto out;
    }
    rc = kt_register_build(&reg, set, conf, conf ? s_self_role(conf) : 0, dir, o.date);
    if (rc != 0) {
        kt_err("cannot build the register: %s", kt_strerror(rc));
        rc = KT_EXIT_ERR;
        goto out;
    }
    rc = s_write(&o, reg);
out:
    kt_register_destroy(&reg);
    kt_policy_set_destroy(&set);
    kt_conf_destroy(&conf);
    return rc;
}
