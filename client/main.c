/*
 * main.c - ketenctl: dispatch to one handler per task.
 *
 * Owns the command table and the usage text. Must never print key material
 * or record contents on its own behalf.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <malloc.h>
#include <jansson.h>

#include "keten/keys.h"
#include "ketenctl.h"

const char *kt_progname = "ketenctl";

struct kt_cmd {
    const char *group;
    const char *sub; /* NULL: the group is the command */
    kt_cmd_fn fn;
    const char *desc;
};

static const struct kt_cmd s_cmds[] = {
    {"keygen", NULL, cmd_keygen, "generate a node key pair: --id ID --role ROLE --out DIR"},
    {"key", "show", cmd_key_show, "print a key file's id, role and fingerprints"},
    {"record", "check", cmd_record_check, "validate JSON records and print their canonical form"},
    {"record", "sign", cmd_record_sign, "sign a JSON record with a node's secret key"},
    {"record", "verify", cmd_record_verify, "verify a signed record against a node's public key"},
    {"record", "seal", cmd_record_seal, "seal a signed record to a recipient's public key"},
    {"record", "open", cmd_record_open, "open a sealed envelope and verify the record inside"},
    {"record", "export", cmd_record_export,
     "write a record as signed, for a third party to verify: ID [-o FILE]"},
    {"submit", NULL, cmd_submit, "hand records to ketend for partners: --to PARTNER FILE|-"},
    {"status", NULL, cmd_status, "the node, its partners and its outbox and inbox counts"},
    {"partners", NULL, cmd_partners, "configured partners, connected or not, last seen"},
    {"outbox", NULL, cmd_outbox, "records sent or waiting, per recipient: --state S"},
    {"inbox", NULL, cmd_inbox, "records received"},
    {"show", NULL, cmd_show, "one record: where it went or came from, and its fields"},
    {"purge", NULL, cmd_purge,
     "run the purge job now: retention, ended consents, forgotten pupils, WAL truncate"},
    {"policy", "check", cmd_policy_check, "validate partner policies: [-c NODE.conf] [DIR]"},
    {"policy", "explain", cmd_policy_explain,
     "what a policy does with a type: --to|--from PARTNER --type T"},
    {"consent", "grant", cmd_consent_grant,
     "record a consent decision: --leerling ID --to PARTNER --doel D --types T,..."},
    {"consent", "withdraw", cmd_consent_withdraw, "withdraw a consent: ID"},
    {"consent", "list", cmd_consent_list, "consent decisions, all or one pupil's: [--leerling ID]"},
    {"attendance", "import", cmd_attendance_import,
     "import the school's attendance export (CSV): FILE"},
    {"signals", "submit", cmd_signals_submit,
     "submit the signals' records under policy and consent"},
    {"signals", NULL, cmd_signals, "pupils the signal rules select: [--date D]"},
    {"reconcile", "counts", cmd_reconcile_counts,
     "compare count sets with a partner: --with P --list L --definition D --period P"},
    {"reconcile", "lists", cmd_reconcile_lists,
     "compare lists privately (PSI) with a partner: --with P --list L [--mode M]"},
    {"reconcile", "show", cmd_reconcile_show, "one reconciliation and its outcome: ID"},
    {"reconcile", "list", cmd_reconcile_list, "every reconciliation, newest first"},
    {"subject", "show", cmd_subject_show,
     "everything held about one pupil (AVG art. 15): --leerling ID [--export FILE]"},
    {"register", NULL, cmd_register,
     "the AVG art. 30 register from the policies in force: [-c NODE.conf] [--format md|json]"},
    {"audit", "list", cmd_audit_list,
     "the audit log, filtered (auditor): [--since D] [--leerling ID] ..."},
    {"audit", "export", cmd_audit_export,
     "the audit log as CSV or JSON: --format csv|json [-o FILE]"},
    {"audit", "verify", cmd_audit_verify,
     "check the audit chain and checkpoints: [--db FILE --pub NODE.pub --witness P.db]"},
    {"registry", "import", cmd_registry_import,
     "import a list of pupils (CSV), replacing it whole: --list NAME FILE"},
    {"registry", "list", cmd_registry_list, "imported lists: name, pupils, expiry (no pupils)"},
    {"counts", "check", cmd_counts_check, "check published count tables' totals and flows: FILE"},
    {"counts", NULL, cmd_counts,
     "count a list under a definition: --list NAME --definition D --period P [--by B]"},
    {"version", NULL, cmd_version, "print the versions of ketenctl and the running ketend"},
};

void kt_err(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", kt_progname);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* jansson keeps its own copies of every string it parses; records hold
 * personal data, so its memory is wiped before it goes back to the heap. */
static void s_json_free(void *p)
{
    if (p == NULL)
        return;
    explicit_bzero(p, malloc_usable_size(p));
    free(p);
}

static void s_usage(FILE *f)
{
    size_t i;

    fprintf(f, "usage: %s COMMAND [ARGS]\n\ncommands:\n", kt_progname);
    for (i = 0; i < sizeof(s_cmds) / sizeof(s_cmds[0]); i++) {
        char name[64];

        snprintf(name, sizeof(name), "%s%s%s", s_cmds[i].group, s_cmds[i].sub ? " " : "",
                 s_cmds[i].sub ? s_cmds[i].sub : "");
        fprintf(f, "  %-16s %s\n", name, s_cmds[i].desc);
    }
    fprintf(f, "\nEach command takes --help. See ketenctl(1).\n");
}

int main(int argc, char **argv)
{
    size_t i;
    int group_known = 0;

    if (argc < 2) {
        s_usage(stderr);
        return KT_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        s_usage(stdout);
        return KT_EXIT_OK;
    }
    if (kt_keys_init() < 0) {
        kt_err("cannot initialise libsodium");
        return KT_EXIT_ERR;
    }
    json_set_alloc_funcs(malloc, s_json_free);
    for (i = 0; i < sizeof(s_cmds) / sizeof(s_cmds[0]); i++) {
        const struct kt_cmd *c = &s_cmds[i];

        if (strcmp(argv[1], c->group) != 0)
            continue;
        group_known = 1;
        if (c->sub == NULL)
            return c->fn(argc - 1, argv + 1);
        if (argc >= 3 && strcmp(argv[2], c->sub) == 0)
            return c->fn(argc - 2, argv + 2);
    }
    if (group_known)
        kt_err("'%s' needs a subcommand; run '%s --help' for the list", argv[1], kt_progname);
    else
        kt_err("unknown command '%s'; run '%s --help' for the list", argv[1], kt_progname);
    return KT_EXIT_USAGE;
}
