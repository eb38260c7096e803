/*
 * commands_registry.c - the control commands for imported lists and their
 * counts: registry-import, registry-list, counts.
 *
 * Owns the step from a request to the registry and counts modules and back
 * to a reply. Must never log or reply with a pupil's number or any cell of
 * a list: errors name lines and columns (registry.c), replies hold list
 * names, numbers and codes, and log lines hold list names and numbers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keten/commands_registry.h"
#include "keten/consent.h"
#include "keten/counts.h"
#include "keten/log.h"
#include "keten/registry.h"
#include "keten/trail.h"

static int s_list_arg(const kt_ctl_req_t *req, const char **name, kt_ctl_reply_t *rep)
{
    if (kt_ctl_req_str(req, "list", name) != 0 || !kt_registry_name_valid(*name))
        return kt_ctl_reply_error(rep, KT_EINVAL,
                                  "list: a name of 1 to %d of a-z, 0-9, '_' and '-'",
                                  KT_REGISTRY_NAME_MAX);
    return 0;
}

static void s_reply_info(kt_ctl_reply_t *rep, const char *key, const kt_registry_info_t *info)
{
    kt_ctl_reply_begin_object(rep, key);
    kt_ctl_reply_str(rep, "name", info->name);
    kt_ctl_reply_int(rep, "rows", info->rows);
    kt_ctl_reply_int(rep, "imported", info->imported);
    kt_ctl_reply_str(rep, "expires", info->expires);
    kt_ctl_reply_hex(rep, "digest", info->digest, KT_REGISTRY_DIGEST_BYTES);
    kt_ctl_reply_end_object(rep);
}

/* ---- registry-import ---- */

static int s_import(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                    kt_ctl_reply_t *rep)
{
    kt_commands_t *c = ctx;
    kt_registry_entry_t *e = NULL;
    kt_registry_info_t info, old;
    const char *name = NULL, *csv = NULL, *date = NULL;
    char today[KT_DATE_BYTES];
    int64_t days = KT_REGISTRY_RETENTION_DEFAULT;
    char actor[KT_AUDIT_ACTOR_MAX + 1];
    kt_diag_t d = {{0}};
    size_t n = 0;
    int rc, replaced;

    if ((rc = s_list_arg(req, &name, rep)) != 0)
        return rc;
    if (kt_ctl_req_str(req, "csv", &csv) != 0)
        return kt_ctl_reply_error(rep, KT_EMALFORMED, "registry-import needs \"csv\", a string");
    if (kt_ctl_req_has(req, "retention_days") &&
        (kt_ctl_req_int(req, "retention_days", &days) != 0 || days < 1 ||
         days > KT_REGISTRY_RETENTION_MAX))
        return kt_ctl_reply_error(rep, KT_EINVAL, "retention_days: 1 to %d",
                                  KT_REGISTRY_RETENTION_MAX);
    kt_consent_today(today);
    if (kt_ctl_req_has(req, "date")) {
        if (kt_ctl_req_str(req, "date", &date) != 0 || !kt_consent_date_valid(date))
            return kt_ctl_reply_error(rep, KT_EINVAL, "date: not a date (YYYY-MM-DD)");
        snprintf(today, sizeof(today), "%s", date);
    }
    if ((rc = kt_registry_csv_parse(&e, &n, csv, strlen(csv), &d)) != 0)
        return kt_ctl_reply_error(rep, rc, "%s; nothing was imported", d.msg);
    replaced = kt_registry_info(&old, c->st, name, NULL) == 0;
    kt_trail_uid(actor, (unsigned)who->uid);
    rc = kt_registry_import(c->st, kt_exchange_vault(c->x), name, e, n, today, (int)days,
                            (int64_t)time(NULL), actor, &info, &d);
    kt_registry_entries_free(e, n);
    if (rc != 0)
        return kt_ctl_reply_error(rep, rc, "%s; nothing was imported", d.msg);
    kt_log_info("registry import: list %s, %zu pupils, expires %s%s", name, n, info.expires,
                replaced ? " (replaced)" : "");
    s_reply_info(rep, "list", &info);
    kt_ctl_reply_bool(rep, "replaced", replaced);
    return 0;
}

/* ---- registry-list ---- */

static int s_lists(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                   kt_ctl_reply_t *rep)
{
    kt_commands_t *c = ctx;
    kt_registry_info_t *v = NULL;
    kt_diag_t d = {{0}};
    size_t n = 0;
    int rc;

    (void)who;
    (void)req;
    if ((rc = kt_registry_lists(&v, &n, c->st, &d)) != 0)
        return kt_ctl_reply_error(rep, rc, "%s", d.msg);
    kt_ctl_reply_begin_array(rep, "lists");
    for (size_t i = 0; i < n; i++)
        s_reply_info(rep, NULL, &v[i]);
    kt_ctl_reply_end_array(rep);
    free(v);
    return 0;
}

/* ---- counts ---- */

static int s_opt_str(const kt_ctl_req_t *req, const char *key, const char **out)
{
    *out = NULL;
    return kt_ctl_req_has(req, key) ? kt_ctl_req_str(req, key, out) : 0;
}

static void s_reply_set(kt_ctl_reply_t *rep, const kt_counts_set_t *s)
{
    kt_ctl_reply_begin_object(rep, "key");
    kt_ctl_reply_str(rep, "eenheid", s->key.eenheid);
    kt_ctl_reply_str(rep, "definitie", s->key.definitie);
    kt_ctl_reply_str(rep, "scope", s->key.scope);
    kt_ctl_reply_str(rep, "period", s->key.period);
    kt_ctl_reply_str(rep, "by", s->key.by);
    kt_ctl_reply_end_object(rep);
    kt_ctl_reply_begin_array(rep, "buckets");
    for (size_t i = 0; i < s->n; i++) {
        kt_ctl_reply_begin_object(rep, NULL);
        kt_ctl_reply_str(rep, "name", s->b[i].name);
        if (s->b[i].suppressed)
            kt_ctl_reply_null(rep, "value");
        else
            kt_ctl_reply_int(rep, "value", s->b[i].value);
        kt_ctl_reply_bool(rep, "suppressed", s->b[i].suppressed);
        kt_ctl_reply_end_object(rep);
    }
    kt_ctl_reply_end_array(rep);
}

static int s_counts(void *ctx, const kt_ctl_caller_t *who, const kt_ctl_req_t *req,
                    kt_ctl_reply_t *rep)
{
    kt_commands_t *c = ctx;
    kt_counts_query_t q;
    kt_counts_stats_t stats;
    kt_counts_set_t *set = NULL;
    kt_registry_entry_t *e = NULL;
    const char *name = NULL;
    int64_t threshold = 0;
    kt_diag_t d = {{0}};
    size_t n = 0, unreadable = 0, suppressed;
    int rc;

    (void)who;
    memset(&q, 0, sizeof(q));
    if ((rc = s_list_arg(req, &name, rep)) != 0)
        return rc;
    if (kt_ctl_req_str(req, "definition", &q.definitie) != 0 ||
        kt_ctl_req_str(req, "period", &q.period) != 0)
        return kt_ctl_reply_error(rep, KT_EMALFORMED,
                                  "counts needs \"definition\" and \"period\", strings");
    if (s_opt_str(req, "by", &q.by) != 0 || s_opt_str(req, "scope", &q.scope) != 0)
        return kt_ctl_reply_error(rep, KT_EMALFORMED, "by and scope: strings");
    if (kt_ctl_req_has(req, "threshold") &&
        (kt_ctl_req_int(req, "threshold", &threshold) != 0 || threshold < 0 || threshold > 1000))
        return kt_ctl_reply_error(rep, KT_EINVAL, "threshold: 0 to 1000");
    if ((set = calloc(1, sizeof(*set))) == NULL)
        return kt_ctl_reply_error(rep, KT_ENOMEM, "out of memory");
    if ((rc = kt_registry_load(&e, &n, c->st, kt_exchange_vault(c->x), name, &unreadable, &d)) !=
            0 ||
        (rc = kt_counts_compute(set, &stats, e, n, &q, &d)) != 0) {
        rc = kt_ctl_reply_error(rep, rc, "%s", d.msg);
        goto out;
    }
    suppressed = kt_counts_suppress(set, threshold);
    kt_ctl_reply_str(rep, "list", name);
    s_reply_set(rep, set);
    kt_ctl_reply_int(rep, "total", kt_counts_total(set));
    kt_ctl_reply_int(rep, "suppressed", (int64_t)suppressed);
    kt_ctl_reply_int(rep, "threshold", threshold);
    kt_ctl_reply_int(rep, "entries", (int64_t)stats.entries);
    kt_ctl_reply_int(rep, "undecided", (int64_t)stats.undecided);
    if (stats.undecided > 0)
        kt_ctl_reply_str(rep, "undecided_reason", stats.undecided_reason);
    kt_ctl_reply_int(rep, "out_of_scope", (int64_t)stats.out_of_scope);
    kt_ctl_reply_int(rep, "unreadable", (int64_t)unreadable);
out:
    kt_registry_entries_free(e, n);
    free(set);
    return rc;
}

int kt_commands_registry_register(kt_control_t *ctl, kt_commands_t *c)
{
    int rc;

    if ((rc = kt_control_register(ctl, "registry-import", KT_ROLE_OPERATOR, s_import, c)) != 0 ||
        (rc = kt_control_register(ctl, "registry-list", KT_ROLE_OPERATOR | KT_ROLE_AUDITOR, s_lists,
                                  c)) != 0 ||
        (rc = kt_control_register(ctl, "counts", KT_ROLE_OPERATOR | KT_ROLE_AUDITOR, s_counts,
                                  c)) != 0)
        return rc;
    return 0;
}
