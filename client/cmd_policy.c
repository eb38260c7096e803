/*
 * cmd_policy.c - `ketenctl policy check` and `ketenctl policy explain`:
 * validate a node's partner policies, and say in plain words what one rule
 * does with one record type on one date (docs/policy.md).
 *
 * Works offline, without a daemon and without the node's secret key: the
 * node configuration (-c) is read for its policy directory and partner roles
 * only. Prints policy contents (codes, field names, references) and file
 * positions; never a record, never key material.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "keten/conf.h"
#include "keten/policy.h"
#include "ketenctl.h"

#define S_DEFAULT_DIR "policies"

struct s_src {
    const char *conf_path; /* -c FILE, or NULL */
    const char *dir;       /* DIR / --dir, or NULL */
    kt_conf_t *conf;
    kt_policy_roles_t roles;
    int have_roles;
};

/* The node configuration, checked for syntax and settings only: a privacy
 * officer may check policies without read access to the node's key. */
static int s_conf(struct s_src *s)
{
    kt_conf_errors_t errs = {0};
    char *text = NULL;
    size_t len = 0, i;
    FILE *f;
    int rc = KT_EXIT_ERR;

    if ((f = fopen(s->conf_path, "r")) == NULL) {
        kt_err("%s: cannot open: %s", s->conf_path, strerror(errno));
        return KT_EXIT_ERR;
    }
    if ((text = malloc(KT_CONF_FILE_MAX + 1)) == NULL) {
        kt_err("out of memory");
        goto out;
    }
    len = fread(text, 1, KT_CONF_FILE_MAX + 1, f);
    if (ferror(f)) {
        kt_err("%s: cannot read", s->conf_path);
        goto out;
    }
    if (kt_conf_parse(&s->conf, text, len, s->conf_path, KT_CONF_SYNTAX_ONLY, &errs) != 0) {
        for (i = 0; i < errs.count; i++)
            fprintf(stderr, "%s\n", errs.msg[i]);
        goto out;
    }
    kt_policy_roles_from_conf(&s->roles, s->conf);
    s->have_roles = 1;
    rc = KT_EXIT_OK;
out:
    kt_conf_errors_free(&errs);
    free(text);
    fclose(f);
    return rc;
}

static const char *s_dir(const struct s_src *s)
{
    if (s->dir != NULL)
        return s->dir;
    if (s->conf != NULL)
        return s->conf->policies_dir;
    return S_DEFAULT_DIR;
}

/* Loads the set, printing every error; KT_EXIT_OK with *set, or KT_EXIT_ERR. */
static int s_load(struct s_src *s, kt_policy_set_t **set)
{
    kt_conf_errors_t errs = {0};
    size_t i;
    int rc;

    if (s->conf_path != NULL && s_conf(s) != KT_EXIT_OK)
        return KT_EXIT_ERR;
    rc = kt_policy_load(set, s_dir(s), s->have_roles ? &s->roles : NULL, &errs);
    for (i = 0; i < errs.count; i++)
        fprintf(stderr, "%s\n", errs.msg[i]);
    kt_conf_errors_free(&errs);
    return rc == 0 ? KT_EXIT_OK : KT_EXIT_ERR;
}

/* ---- check ---- */

static void s_check_usage(FILE *f)
{
    fprintf(f,
            "usage: %s policy check [-c NODE.conf] [DIR]\n\n"
            "Validates every partner policy (DIR/<partner-id>.conf). DIR defaults to the\n"
            "policy directory of the node configuration given with -c, else ./policies.\n"
            "With -c, partner roles come from the configuration and every policy file must\n"
            "name a configured partner. Prints 'policies OK: N partners, M rules', or every\n"
            "error as FILE:LINE: message (exit 1). See docs/policy.md.\n",
            kt_progname);
}

int cmd_policy_check(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'}, {0}};
    struct s_src s = {0};
    kt_policy_set_t *set = NULL;
    struct stat sb;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            s.conf_path = optarg;
            break;
        case 'h':
            s_check_usage(stdout);
            return KT_EXIT_OK;
        default:
            s_check_usage(stderr);
            return KT_EXIT_USAGE;
        }
    }
    if (argc - optind > 1) {
        s_check_usage(stderr);
        return KT_EXIT_USAGE;
    }
    if (argc - optind == 1)
        s.dir = argv[optind];
    rc = s_load(&s, &set);
    if (rc == KT_EXIT_OK) {
        if (stat(s_dir(&s), &sb) != 0)
            kt_err("note: %s does not exist: no policies, so nothing is sent or accepted",
                   s_dir(&s));
        printf("policies OK: %zu partner%s, %zu rule%s\n", kt_policy_set_partner_count(set),
               kt_policy_set_partner_count(set) == 1 ? "" : "s", kt_policy_set_rule_count(set),
               kt_policy_set_rule_count(set) == 1 ? "" : "s");
    }
    kt_policy_set_destroy(&set);
    kt_conf_destroy(&s.conf);
    return rc;
}

/* ---- explain ---- */

static void s_explain_usage(FILE *f)
{
    fprintf(f,
            "usage: %s policy explain (--to PARTNER | --from PARTNER) --type TYPE\n"
            "                          [--date YYYY-MM-DD] [--dir DIR] [-c NODE.conf]\n\n"
            "Shows the rule in force on DATE (default: today) for sending TYPE to PARTNER\n"
            "(--to) or receiving it from PARTNER (--from): the version and its dates, the\n"
            "grondslag, doel and reference, the identifier form, the retention, who must\n"
            "consent, the fields that go or are accepted and those that are stripped or\n"
            "rejected. Exit 0 when a rule applies, 1 when the record would be refused\n"
            "(default deny) or the policies do not load. See docs/policy.md.\n",
            kt_progname);
}

/* "  label:            a, b, c" wrapped to 80 columns under the first name. */
static void s_print_names(const char *label, const char *const *names, size_t n)
{
    size_t i, col = 20;

    printf("  %-18s", label);
    if (n == 0)
        printf("(none)");
    for (i = 0; i < n; i++) {
        size_t w = strlen(names[i]) + (i + 1 < n ? 2 : 0);

        if (i > 0 && col + w > 80) {
            printf(",\n%20s", "");
            col = 20;
        } else if (i > 0) {
            printf(", ");
        }
        printf("%s", names[i]);
        col += w;
    }
    putchar('\n');
}

static const char *s_grondslag_text(kt_grondslag_t g)
{
    switch (g) {
    case KT_GRONDSLAG_TOESTEMMING:
        return "toestemming (consent, AVG art. 6(1)(a))";
    case KT_GRONDSLAG_WETTELIJKE_PLICHT:
        return "wettelijke_plicht (legal obligation, AVG art. 6(1)(c))";
    case KT_GRONDSLAG_PUBLIEKE_TAAK:
        return "publieke_taak (public task, AVG art. 6(1)(e))";
    }
    return "?";
}

static void s_print_consent(const kt_policy_rule_t *r)
{
    if (r->grondslag == KT_GRONDSLAG_TOESTEMMING && r->toestemming_door == KT_DOOR_WET) {
        printf("  %-18s%s\n", "consent:",
               "required (toestemming_door = wet): under 16 the parents (ouders), from 16 the");
        printf("  %-18s%s\n", "", "pupil (leerling); ouders_en_leerling always counts");
    } else if (r->grondslag == KT_GRONDSLAG_TOESTEMMING) {
        printf("  %-18s%s\n", "consent:",
               "required (toestemming_door = ouders_en_leerling): under 16 the parents");
        printf("  %-18s%s\n", "", "(ouders), from 16 the pupil and the parents together");
    } else if (strcmp(r->type, "thuiszitter") == 0) {
        printf("  %-18s%s\n", "consent:",
               "not needed, except for a record with geoorloofd=true (or geoorloofd unset");
        printf("  %-18s%s\n", "",
               "while enrolled): that one waits for consent as under 'wet' (DOMAIN.md §8 rule 2)");
    } else {
        printf("  %-18s%s\n", "consent:", "not needed on this grondslag");
    }
    if (r->grondslag == KT_GRONDSLAG_TOESTEMMING || strcmp(r->type, "thuiszitter") == 0)
        printf("  %-18s%s\n", "",
               "without geboortedatum only ouders_en_leerling counts (the age is unknown)");
}

static void s_print_rule(const kt_policy_rule_t *r, const char *date)
{
    const char *other[KT_POLICY_FIELDS_MAX];
    size_t i, n = 0;
    int send = r->dir == KT_POLICY_SEND;

    for (i = 0; i < kt_record_field_count(r->type) && n < KT_POLICY_FIELDS_MAX; i++)
        if (!kt_policy_allows_field(r, kt_record_field_name(r->type, i)))
            other[n++] = kt_record_field_name(r->type, i);
    printf("%s %s %s '%s' on %s: %s under version %d\n", send ? "send" : "receive", r->type,
           send ? "to" : "from", r->partner, date, send ? "allowed" : "accepted", r->version);
    printf("  %-18s%s:%d\n", "rule:", r->file, r->line);
    printf("  %-18s%d, valid %s to %s\n", "version:", r->version, r->valid_from,
           r->valid_until[0] ? r->valid_until : "(open-ended)");
    printf("  %-18s%s\n", "reference:", r->reference ? r->reference : "(none)");
    printf("  %-18s%s\n", "grondslag:", s_grondslag_text(r->grondslag));
    printf("  %-18s%s\n", "doel:", r->doel);
    printf("  %-18s%s\n", "identifier:",
           r->identifier == KT_IDENT_BSN
               ? "bsn (leerling_id as is: BSN or onderwijsnummer)"
               : "pseudoniem (a pairwise pseudonym replaces leerling_id)");
    printf("  %-18s%d days\n", "retention:", r->retention_days);
    s_print_consent(r);
    s_print_names(send ? "fields sent:" : "fields accepted:", r->fields, r->nfields);
    s_print_names(send ? "fields stripped:" : "fields rejected:", other, n);
    if (!send)
        printf("  %-18s%s\n", "", "(a record holding any rejected field is rejected whole)");
}

/* Why there is no rule, in the order a reader would look. */
static void s_print_refusal(const kt_policy_set_t *set, const char *partner, kt_policy_dir_t dir,
                            const char *type, const char *date)
{
    const kt_policy_version_t *v = kt_policy_version(set, partner, date);
    int send = dir == KT_POLICY_SEND;

    printf("%s %s %s '%s' on %s: %s (default deny)\n", send ? "send" : "receive", type,
           send ? "to" : "from", partner, date, send ? "refused" : "rejected");
    if (!kt_policy_has_partner(set, partner))
        printf("  there is no policy file for '%s'\n", partner);
    else if (v == NULL)
        printf("  no version of the policy for '%s' is in force on %s\n", partner, date);
    else
        printf("  version %d (%s:%d, valid %s to %s) has no %s rule for %s\n", v->version, v->file,
               v->line, v->valid_from, v->valid_until[0] ? v->valid_until : "(open-ended)",
               kt_policy_dir_name(dir), type);
}

static int s_today(char out[KT_POLICY_DATE_BYTES])
{
    time_t now = time(NULL);
    struct tm tm;

    if (localtime_r(&now, &tm) == NULL)
        return -1;
    return strftime(out, KT_POLICY_DATE_BYTES, "%Y-%m-%d", &tm) == 10 ? 0 : -1;
}

static int s_valid_type(const char *type)
{
    size_t i;

    if (kt_record_type_known(type))
        return 1;
    fprintf(stderr, "%s: unknown record type; known:", kt_progname);
    for (i = 0; kt_record_type_name(i) != NULL; i++)
        fprintf(stderr, " %s", kt_record_type_name(i));
    fputc('\n', stderr);
    return 0;
}

int cmd_policy_explain(int argc, char **argv)
{
    static const struct option opts[] = {
        {"to", required_argument, NULL, 't'},   {"from", required_argument, NULL, 'f'},
        {"type", required_argument, NULL, 'T'}, {"date", required_argument, NULL, 'd'},
        {"dir", required_argument, NULL, 'D'},  {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},       {0}};
    struct s_src s = {0};
    kt_policy_set_t *set = NULL;
    const kt_policy_rule_t *r;
    const char *to = NULL, *from = NULL, *type = NULL, *date = NULL;
    char today[KT_POLICY_DATE_BYTES];
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            to = optarg;
            break;
        case 'f':
            from = optarg;
            break;
        case 'T':
            type = optarg;
            break;
        case 'd':
            date = optarg;
            break;
        case 'D':
            s.dir = optarg;
            break;
        case 'c':
            s.conf_path = optarg;
            break;
        case 'h':
            s_explain_usage(stdout);
            return KT_EXIT_OK;
        default:
            s_explain_usage(stderr);
            return KT_EXIT_USAGE;
        }
    }
    if (optind != argc || (to == NULL) == (from == NULL) || type == NULL) {
        s_explain_usage(stderr);
        return KT_EXIT_USAGE;
    }
    if (!kt_keys_valid_id(to ? to : from)) {
        kt_err("%s: not a node id (1 to 64 of a-z, 0-9 and -)", to ? "--to" : "--from");
        return KT_EXIT_USAGE;
    }
    if (!s_valid_type(type))
        return KT_EXIT_USAGE;
    if (date == NULL) {
        if (s_today(today) != 0) {
            kt_err("cannot tell today's date; give --date YYYY-MM-DD");
            return KT_EXIT_ERR;
        }
        date = today;
    } else if (!kt_policy_is_date(date)) {
        kt_err("--date: not a real date YYYY-MM-DD");
        return KT_EXIT_USAGE;
    }
    if ((rc = s_load(&s, &set)) != KT_EXIT_OK)
        goto out;
    {
        kt_policy_dir_t dir = to ? KT_POLICY_SEND : KT_POLICY_RECEIVE;
        const char *partner = to ? to : from;

        r = kt_policy_rule(set, partner, dir, type, date);
        if (r != NULL) {
            s_print_rule(r, date);
        } else {
            s_print_refusal(set, partner, dir, type, date);
            rc = KT_EXIT_ERR;
        }
    }
out:
    kt_policy_set_destroy(&set);
    kt_conf_destroy(&s.conf);
    return rc;
}
