/*
 * cmd_consent.c - ketenctl consent grant, withdraw and list: the consent
 * registry of a running node.
 *
 * Each command sends one request (docs/protocol.md "Consent commands") and
 * prints the answer as a table, or as JSON with --json. `grant` refuses on
 * its own, before anything is sent, unless the operator states with
 * --ouders-geinformeerd that the parents were informed first (privacy rule
 * 3); ketend refuses such a request as well. Must never print a leerling_id
 * (the daemon never returns one) nor echo one in an error.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"
#include "ketenctl.h"

#define S_GRANT_USAGE                                                                              \
    "consent grant [-s PATH] [--json] --leerling ID --to PARTNER --doel DOEL --types T[,T...]\n"   \
    "        --door ouders|leerling|ouders_en_leerling --until YYYY-MM-DD [--given YYYY-MM-DD]\n"  \
    "        [--evidence REF] [--niet-akkoord] --ouders-geinformeerd"
#define S_WITHDRAW_USAGE "consent withdraw [-s PATH] [--json] ID"
#define S_LIST_USAGE "consent list [-s PATH] [--json] [--leerling ID]"

static const char s_grant_help[] =
    "\n"
    "Records a consent decision of the parents (ouders), the pupil (leerling, from 16) or both\n"
    "for one pupil, one partner (--to) and one purpose (--doel), covering the record types in\n"
    "--types, valid from --given (default today) through --until inclusive.\n"
    "\n"
    "  --doel      melding_geoorloofd, zorgoverleg, contact_hulpverlening,\n"
    "              terugkoppeling_school, overleg_vrijstelling, lijstvergelijking\n"
    "  --types     geoorloofd_verzuim, thuiszitter, verzuimmelding, vrijstelling\n"
    "  --evidence  a reference such as a form number (A-Z a-z 0-9 . _ / -, at most 64)\n"
    "  --niet-akkoord  record a refusal: it never releases a record and never leaves this node\n"
    "  --ouders-geinformeerd  states that the parents were informed first (required)\n";

/* Unexpected or missing argument: "what" followed by arg, usage, exit 2. */
static int s_usage(const char *usage, const char *what, const char *arg)
{
    if (what != NULL)
        kt_err("%s%s", what, arg);
    fprintf(stderr, "usage: %s %s\n", kt_progname, usage);
    return KT_EXIT_USAGE;
}

/* Sends req; prints JSON or hands the reply to print. */
static int s_run(const kt_ctl_opts_t *o, json_t *req, void (*print)(json_t *reply))
{
    json_t *reply = NULL;
    int rc;

    if (req == NULL) {
        kt_err("out of memory");
        return KT_EXIT_ERR;
    }
    rc = kt_ctl_run(o, req, &reply);
    if (rc == KT_EXIT_OK) {
        if (o->json)
            kt_ctl_print_json(stdout, reply);
        else
            print(reply);
    }
    json_decref(reply);
    json_decref(req);
    return rc;
}

static void s_print_rows(json_t *rows)
{
    static const char *const keys[] = {"id",    "to",    "doel",      "types", "door", "decision",
                                       "given", "until", "withdrawn", "state", NULL};
    static const char *const heads[] = {"ID",    "TO",    "DOEL",      "TYPES", "DOOR", "DECISION",
                                        "GIVEN", "UNTIL", "WITHDRAWN", "STATE", NULL};

    kt_ctl_print_table(stdout, rows, keys, heads);
}

static void s_print_list(json_t *reply)
{
    s_print_rows(json_object_get(reply, "consents"));
}

static void s_print_one(json_t *reply)
{
    json_t *rows = json_array();

    if (rows == NULL)
        return;
    json_array_append(rows, json_object_get(reply, "consent"));
    s_print_rows(rows);
    json_decref(rows);
}

/* "a,b,c" into a JSON array of strings (empty items refused). */
static json_t *s_types(const char *list)
{
    json_t *arr = json_array();
    const char *p = list;

    while (arr != NULL) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);

        if (n == 0 || json_array_append_new(arr, json_stringn(p, n)) != 0) {
            json_decref(arr);
            return NULL;
        }
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return arr;
}

struct s_grant {
    const char *leerling, *to, *doel, *types, *door, *until, *given, *evidence;
    int informed, niet_akkoord;
};

/* The option at argv[*i] that takes a value, into *slot. */
static int s_value(const char *name, const char **slot, int argc, char **argv, int *i)
{
    if (strcmp(argv[*i], name) != 0)
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *slot = argv[++*i];
    return 1;
}

static int s_grant_parse(int argc, char **argv, kt_ctl_opts_t *o, struct s_grant *g)
{
    static const char *const names[] = {"--leerling", "--to",    "--doel",  "--types",
                                        "--door",     "--until", "--given", "--evidence"};
    const char **slots[] = {&g->leerling, &g->to,    &g->doel,  &g->types,
                            &g->door,     &g->until, &g->given, &g->evidence};
    int i, r;
    size_t k;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s %s\n%s", kt_progname, S_GRANT_USAGE, s_grant_help);
            return 1;
        }
        if ((r = kt_ctl_opt(o, argc, argv, &i)) < 0)
            return -1;
        if (r == 1)
            continue;
        if (strcmp(argv[i], "--ouders-geinformeerd") == 0) {
            g->informed = 1;
            continue;
        }
        if (strcmp(argv[i], "--niet-akkoord") == 0) {
            g->niet_akkoord = 1;
            continue;
        }
        for (k = 0, r = 0; k < sizeof(names) / sizeof(names[0]) && r == 0; k++)
            r = s_value(names[k], slots[k], argc, argv, &i);
        if (r < 0) {
            s_usage(S_GRANT_USAGE, "consent grant: a value is needed after ", argv[i]);
            return -1;
        }
        if (r == 0) {
            /* never echo a value: it may be a BSN */
            s_usage(S_GRANT_USAGE, "consent grant: unexpected argument ",
                    argv[i][0] == '-' ? argv[i] : "(a value without an option)");
            return -1;
        }
    }
    for (k = 0; k < 6; k++)
        if (*slots[k] == NULL) {
            s_usage(S_GRANT_USAGE, "consent grant: required: ", names[k]);
            return -1;
        }
    return 0;
}

int cmd_consent_grant(int argc, char **argv)
{
    struct s_grant g = {0};
    kt_ctl_opts_t o = {0};
    json_t *req, *types;
    int r = s_grant_parse(argc, argv, &o, &g);

    if (r != 0)
        return r > 0 ? KT_EXIT_OK : KT_EXIT_USAGE;
    if (!g.informed) {
        kt_err("consent grant: refused: the parents must be informed before a consent is "
               "recorded (privacy rule 3, 'parents informed first'); inform them, then repeat "
               "with --ouders-geinformeerd");
        return KT_EXIT_ERR;
    }
    if ((types = s_types(g.types)) == NULL) {
        kt_err("consent grant: --types is a comma-separated list of record types");
        return KT_EXIT_USAGE;
    }
    req = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:b, s:s}", "cmd", "consent-grant",
                    "leerling", g.leerling, "to", g.to, "doel", g.doel, "types", types, "door",
                    g.door, "until", g.until, "informed", 1, "decision",
                    g.niet_akkoord ? "niet_akkoord" : "akkoord");
    if (req != NULL && g.evidence != NULL)
        json_object_set_new(req, "evidence", json_string(g.evidence));
    if (req != NULL && g.given != NULL)
        json_object_set_new(req, "given", json_string(g.given));
    return s_run(&o, req, s_print_one);
}

int cmd_consent_withdraw(int argc, char **argv)
{
    kt_ctl_opts_t o = {0};
    const char *id = NULL;
    int i, r;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s %s\n\nWithdraws a consent on today's date. Records already sent "
                   "under it are retracted.\n",
                   kt_progname, S_WITHDRAW_USAGE);
            return KT_EXIT_OK;
        }
        if ((r = kt_ctl_opt(&o, argc, argv, &i)) < 0)
            return s_usage(S_WITHDRAW_USAGE, NULL, NULL);
        if (r == 1)
            continue;
        if (id != NULL || argv[i][0] == '-')
            return s_usage(S_WITHDRAW_USAGE, "consent withdraw: unexpected argument ",
                           argv[i][0] == '-' ? argv[i] : "(a second id)");
        id = argv[i];
    }
    if (id == NULL)
        return s_usage(S_WITHDRAW_USAGE, "consent withdraw: ", "name the consent id");
    return s_run(&o, json_pack("{s:s, s:s}", "cmd", "consent-withdraw", "id", id), s_print_one);
}

int cmd_consent_list(int argc, char **argv)
{
    kt_ctl_opts_t o = {0};
    const char *leerling = NULL;
    json_t *req;
    int i, r;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s %s\n\nLists consent decisions, newest first: all, or one pupil's. "
                   "No leerling_id is shown.\n",
                   kt_progname, S_LIST_USAGE);
            return KT_EXIT_OK;
        }
        if ((r = kt_ctl_opt(&o, argc, argv, &i)) < 0)
            return s_usage(S_LIST_USAGE, NULL, NULL);
        if (r == 1)
            continue;
        if ((r = s_value("--leerling", &leerling, argc, argv, &i)) == 1)
            continue;
        return s_usage(S_LIST_USAGE,
                       r < 0 ? "consent list: a value is needed after "
                             : "consent list: unexpected argument ",
                       argv[i][0] == '-' ? argv[i] : "(a value without an option)");
    }
    req = json_pack("{s:s}", "cmd", "consent-list");
    if (req != NULL && leerling != NULL)
        json_object_set_new(req, "leerling", json_string(leerling));
    return s_run(&o, req, s_print_list);
}
