/*
 * ktauditfill.c - builds audit logs for the tamper tests without a network.
 *
 * `ktauditfill fill` creates (or opens) a keten database and appends N
 * synthetic entries through kt_audit_append, then with --key signs a
 * checkpoint of the head. `ktauditfill witness` stores every checkpoint of
 * one node's database in another database as a partner would on receipt
 * (kt_audit_witness_store). The entries carry no personal data: codes,
 * a fixed fake pseudonym and a counter. See tests/tools/README.md.
 *
 * Exit: 0 ok, 1 error, 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keten/audit.h"
#include "keten/keys.h"
#include "keten/store.h"

#define S_EXIT_OK 0
#define S_EXIT_ERR 1
#define S_EXIT_USAGE 2

static const char *const s_actions[] = {KT_AUDIT_SUBMITTED, KT_AUDIT_SENT,  KT_AUDIT_DELIVERED,
                                        KT_AUDIT_RECEIVED,  KT_AUDIT_HELD,  KT_AUDIT_RELEASED,
                                        KT_AUDIT_REFUSED,   KT_AUDIT_PURGED};
static const char *const s_partners[] = {"gemeente-a", "swv-a"};

static void s_usage(FILE *f)
{
    fprintf(f, "usage: ktauditfill fill --db FILE [--n N] [--key K.key] [--time UNIX]\n"
               "                        [--actor ACTOR]\n"
               "       ktauditfill witness --db PARTNER.db --from NODE.db --pub NODE.pub\n");
}

struct s_opts {
    const char *db, *key, *from, *pub, *actor;
    long long n, time;
};

static int s_parse(int argc, char **argv, struct s_opts *o)
{
    int i;

    for (i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (v == NULL)
            return -1;
        if (strcmp(a, "--db") == 0)
            o->db = v;
        else if (strcmp(a, "--key") == 0)
            o->key = v;
        else if (strcmp(a, "--from") == 0)
            o->from = v;
        else if (strcmp(a, "--pub") == 0)
            o->pub = v;
        else if (strcmp(a, "--actor") == 0)
            o->actor = v;
        else if (strcmp(a, "--n") == 0)
            o->n = strtoll(v, NULL, 10);
        else if (strcmp(a, "--time") == 0)
            o->time = strtoll(v, NULL, 10);
        else
            return -1;
        i++;
    }
    return o->db != NULL && o->n >= 0 && o->time >= 0 ? 0 : -1;
}

static void s_entry(kt_audit_entry_t *e, long long i, const struct s_opts *o)
{
    kt_audit_entry_init(e);
    e->time = o->time > 0 ? o->time + i : 0;
    snprintf(e->actor, sizeof(e->actor), "%s", o->actor ? o->actor : "uid:1000");
    snprintf(e->action, sizeof(e->action), "%s", s_actions[i % 8]);
    e->has_record_id = 1;
    memset(e->record_id, 0, sizeof(e->record_id));
    memcpy(e->record_id, &i, sizeof(i));
    snprintf(e->record_type, sizeof(e->record_type), "%s",
             i % 3 ? "thuiszitter" : "verzuimmelding");
    snprintf(e->fields, sizeof(e->fields), "leerling_id,begindatum,duur");
    e->has_subject = 1;
    memset(e->subject, (int)(0xa0 + i % 4), sizeof(e->subject));
    snprintf(e->doel, sizeof(e->doel), "zorgoverleg");
    snprintf(e->grondslag, sizeof(e->grondslag), "publieke_taak");
    snprintf(e->policy_id, sizeof(e->policy_id), "policies/%s.conf", s_partners[i % 2]);
    e->policy_version = 1;
    snprintf(e->counterparty, sizeof(e->counterparty), "%s", s_partners[i % 2]);
    snprintf(e->decision, sizeof(e->decision), "%s", i % 8 == 6 ? "refused" : "ok");
    if (i % 8 == 6)
        snprintf(e->reason, sizeof(e->reason), "no send rule for thuiszitter");
}

static int s_fill(const struct s_opts *o)
{
    kt_store_t *st = NULL;
    kt_keys_t *k = NULL;
    kt_audit_entry_t e;
    kt_audit_checkpoint_t c;
    kt_diag_t d = {{0}};
    long long i;
    int have, rc = S_EXIT_ERR;

    if (o->key != NULL && kt_keys_load(&k, o->key, &d) != 0)
        goto fail;
    if (kt_store_open(&st, o->db, &d) != 0 || kt_store_begin(st, &d) != 0)
        goto fail;
    for (i = 0; i < o->n; i++) {
        s_entry(&e, i, o);
        if (kt_audit_append(st, &e, &d) != 0)
            goto fail;
    }
    if (kt_store_commit(st, &d) != 0)
        goto fail;
    if (k != NULL && kt_audit_checkpoint(st, k, 1, time(NULL), &c, &have, &d) != 0)
        goto fail;
    rc = S_EXIT_OK;
    goto out;
fail:
    fprintf(stderr, "ktauditfill: %s\n", d.msg);
out:
    kt_store_close(&st);
    kt_keys_destroy(&k);
    return rc;
}

static int s_witness(const struct s_opts *o)
{
    kt_store_t *from = NULL, *st = NULL;
    kt_stmt_t *q = NULL;
    kt_pubkey_t pk;
    kt_audit_checkpoint_t c;
    kt_diag_t d = {{0}};
    int rc = S_EXIT_ERR, step;

    if (o->from == NULL || o->pub == NULL)
        return S_EXIT_USAGE;
    if (kt_keys_load_public(&pk, o->pub, &d) != 0 ||
        kt_store_open_readonly(&from, o->from, &d) != 0 || kt_store_open(&st, o->db, &d) != 0 ||
        kt_store_prepare(from, &q, "SELECT seq, time, head, sig FROM audit_checkpoint ORDER BY seq",
                         &d) != 0)
        goto fail;
    while ((step = kt_stmt_step(q, &d)) == KT_STORE_ROW) {
        if (kt_stmt_column_bytes(q, 2) != KT_AUDIT_HASH_BYTES ||
            kt_stmt_column_bytes(q, 3) != KT_AUDIT_SIG_BYTES) {
            snprintf(d.msg, sizeof(d.msg), "%s: a damaged checkpoint row", o->from);
            goto fail;
        }
        c.seq = kt_stmt_column_int64(q, 0);
        c.time = kt_stmt_column_int64(q, 1);
        memcpy(c.head, kt_stmt_column_blob(q, 2), KT_AUDIT_HASH_BYTES);
        memcpy(c.sig, kt_stmt_column_blob(q, 3), KT_AUDIT_SIG_BYTES);
        if (kt_audit_witness_store(st, &pk, &c, time(NULL), &d) != 0)
            goto fail;
        printf("witnessed %s checkpoint %lld\n", pk.id, (long long)c.seq);
    }
    if (step < 0)
        goto fail;
    rc = S_EXIT_OK;
    goto out;
fail:
    fprintf(stderr, "ktauditfill: %s\n", d.msg);
out:
    kt_stmt_finalize(&q);
    kt_store_close(&from);
    kt_store_close(&st);
    return rc;
}

int main(int argc, char **argv)
{
    struct s_opts o = {0};

    if (argc < 2 || kt_keys_init() != 0) {
        s_usage(stderr);
        return S_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0) {
        s_usage(stdout);
        return S_EXIT_OK;
    }
    if (s_parse(argc, argv, &o) != 0) {
        s_usage(stderr);
        return S_EXIT_USAGE;
    }
    if (strcmp(argv[1], "fill") == 0)
        return s_fill(&o);
    if (strcmp(argv[1], "witness") == 0) {
        int rc = s_witness(&o);

        if (rc == S_EXIT_USAGE)
            s_usage(stderr);
        return rc;
    }
    s_usage(stderr);
    return S_EXIT_USAGE;
}
