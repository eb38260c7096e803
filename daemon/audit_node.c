/*
 * audit_node.c - audit entries for the node's configuration, policies and
 * consent decisions (audit_node.h).
 *
 * The partner_keys table is the node's memory of whom it trusted with which
 * key; a difference with the configuration is what gets audited, so a
 * restart without changes adds only the policy entries and a checkpoint.
 * Never writes a consent's evidence reference or any pupil identifier: the
 * pupil appears as the subject pseudonym only.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "keten/audit.h"
#include "keten/audit_node.h"
#include "keten/trail.h"

static int s_entry(kt_store_t *st, const char *actor, const char *action, const char *decision,
                   const char *partner, const char *reason, kt_diag_t *d)
{
    kt_trail_t t;

    memset(&t, 0, sizeof(t));
    t.actor = actor;
    t.action = action;
    t.decision = decision;
    t.partner = partner;
    t.reason = reason;
    return kt_trail_write(st, &t, d);
}

/* The fingerprint partner_keys holds for partner (not retired); "" if none. */
static int s_known(kt_store_t *st, const char *partner, char fp[KT_FINGERPRINT_HEX], kt_diag_t *d)
{
    static const char sql[] = "SELECT fingerprint FROM partner_keys WHERE partner = ?1"
                              " AND retired IS NULL ORDER BY first_seen DESC LIMIT 1";
    kt_stmt_t *q = NULL;
    const char *v;
    int rc;

    fp[0] = '\0';
    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    if ((rc = kt_stmt_bind_text(q, 1, partner)) == 0 && (rc = kt_stmt_step(q, d)) == KT_STORE_ROW &&
        (v = kt_stmt_column_text(q, 0)) != NULL)
        snprintf(fp, KT_FINGERPRINT_HEX, "%s", v);
    kt_stmt_finalize(&q);
    return rc < 0 ? rc : 0;
}

static int s_run(kt_store_t *st, const char *sql, const char *a, const kt_conf_partner_t *p,
                 int64_t now, kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    int rc;

    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    if ((rc = kt_stmt_bind_text(q, 1, a)) == 0 && (rc = kt_stmt_bind_int64(q, 2, now)) == 0 &&
        (p == NULL || ((rc = kt_stmt_bind_text(q, 3, kt_role_name(p->role))) == 0 &&
                       (rc = kt_stmt_bind_text(q, 4, p->fingerprint)) == 0 &&
                       (rc = kt_stmt_bind_blob(q, 5, p->pub.sign_pk, KT_SIGN_PK_BYTES)) == 0 &&
                       (rc = kt_stmt_bind_blob(q, 6, p->pub.box_pk, KT_BOX_PK_BYTES)) == 0)))
        rc = kt_stmt_step(q, d);
    kt_stmt_finalize(&q);
    return rc < 0 ? rc : 0;
}

static int s_partner(kt_store_t *st, const char *actor, const kt_conf_partner_t *p, int self,
                     int64_t now, kt_diag_t *d)
{
    static const char retire[] =
        "UPDATE partner_keys SET retired = ?2 WHERE partner = ?1 AND retired IS NULL";
    static const char add[] =
        "INSERT INTO partner_keys (partner, first_seen, role, fingerprint, sign_pk, box_pk)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (partner, fingerprint)"
        " DO UPDATE SET retired = NULL, role = excluded.role";
    char fp[KT_FINGERPRINT_HEX], why[96];
    int rc;

    if ((rc = s_known(st, p->id, fp, d)) != 0 || strcmp(fp, p->fingerprint) == 0)
        return rc;
    if (fp[0] != '\0') {
        snprintf(why, sizeof(why), "%skey %s replaces %s", self ? "own " : "", p->fingerprint, fp);
        if ((rc = s_run(st, retire, p->id, NULL, now, d)) != 0 ||
            (rc = s_entry(st, actor, KT_AUDIT_KEY_CHANGED, "trusted", p->id, why, d)) != 0)
            return rc;
    } else if (self) {
        snprintf(why, sizeof(why), "own key %s first used", p->fingerprint);
        if ((rc = s_entry(st, actor, KT_AUDIT_KEY_CHANGED, "trusted", p->id, why, d)) != 0)
            return rc;
    } else {
        snprintf(why, sizeof(why), "role %s, key %s", kt_role_name(p->role), p->fingerprint);
        if ((rc = s_entry(st, actor, KT_AUDIT_PARTNER_ADDED, "trusted", p->id, why, d)) != 0)
            return rc;
    }
    return s_run(st, add, p->id, p, now, d);
}

/* The node's own key, remembered in partner_keys under its own id: a new
 * key is audited, and checkpoints signed before it need the old .pub. */
static int s_self(kt_store_t *st, const kt_conf_t *conf, const char *actor, int64_t now,
                  kt_diag_t *d)
{
    kt_conf_partner_t me;

    memset(&me, 0, sizeof(me));
    snprintf(me.id, sizeof(me.id), "%s", conf->id);
    me.pub = *kt_keys_public(conf->keys);
    me.role = me.pub.role;
    snprintf(me.fingerprint, sizeof(me.fingerprint), "%s", conf->fingerprint);
    return s_partner(st, actor, &me, 1, now, d);
}

static int s_configured(const kt_conf_t *conf, const char *id)
{
    size_t i;

    if (strcmp(conf->id, id) == 0)
        return 1; /* the node itself (s_self) */

    for (i = 0; i < conf->n_partners; i++)
        if (strcmp(conf->partners[i].id, id) == 0)
            return 1;
    return 0;
}

/* Partners that are trusted in the table but no longer configured. */
static int s_removed(kt_store_t *st, const kt_conf_t *conf, const char *actor, int64_t now,
                     kt_diag_t *d)
{
    static const char sel[] = "SELECT DISTINCT partner FROM partner_keys WHERE retired IS NULL"
                              " ORDER BY partner";
    static const char retire[] =
        "UPDATE partner_keys SET retired = ?2 WHERE partner = ?1 AND retired IS NULL";
    char gone[64][KT_NODE_ID_MAX + 1];
    size_t n = 0, i;
    kt_stmt_t *q = NULL;
    const char *v;
    int rc;

    if ((rc = kt_store_prepare(st, &q, sel, d)) != 0)
        return rc;
    while ((rc = kt_stmt_step(q, d)) == KT_STORE_ROW && n < 64)
        if ((v = kt_stmt_column_text(q, 0)) != NULL && !s_configured(conf, v))
            snprintf(gone[n++], sizeof(gone[0]), "%s", v);
    kt_stmt_finalize(&q);
    if (rc < 0)
        return rc;
    for (i = 0, rc = 0; rc == 0 && i < n; i++)
        if ((rc = s_run(st, retire, gone[i], NULL, now, d)) == 0)
            rc = s_entry(st, actor, KT_AUDIT_PARTNER_REMOVED, "untrusted", gone[i], NULL, d);
    return rc;
}

/* One entry per partner policy: its file, highest version, version today. */
static int s_policies(kt_store_t *st, const kt_policy_set_t *set, const char *actor, kt_diag_t *d)
{
    char today[KT_POLICY_DATE_BYTES], why[64];
    size_t p, i, n = kt_policy_set_rule_count(set);
    struct tm tm;
    time_t now = time(NULL);
    int rc = 0;

    localtime_r(&now, &tm);
    strftime(today, sizeof(today), "%Y-%m-%d", &tm);
    for (p = 0; rc == 0 && p < kt_policy_set_partner_count(set); p++) {
        const char *partner = kt_policy_set_partner(set, p);
        const kt_policy_rule_t *top = NULL;
        kt_hook_decision_t dec;
        int in_force = 0;
        kt_trail_t t;

        for (i = 0; i < n; i++) {
            const kt_policy_rule_t *r = kt_policy_set_rule_at(set, i);

            if (strcmp(r->partner, partner) != 0)
                continue;
            if (top == NULL || r->version > top->version)
                top = r;
            if (strcmp(r->valid_from, today) <= 0 &&
                (r->valid_until[0] == '\0' || strcmp(today, r->valid_until) <= 0) &&
                r->version > in_force)
                in_force = r->version;
        }
        if (top == NULL)
            continue;
        memset(&dec, 0, sizeof(dec));
        memset(&t, 0, sizeof(t));
        snprintf(dec.policy_id, sizeof(dec.policy_id), "%s",
                 strrchr(top->file, '/') ? strrchr(top->file, '/') + 1 : top->file);
        dec.policy_version = top->version;
        if (in_force > 0)
            snprintf(why, sizeof(why), "version %d in force", in_force);
        else
            snprintf(why, sizeof(why), "no version in force today");
        t.actor = actor;
        t.action = KT_AUDIT_POLICY_LOADED;
        t.decision = "loaded";
        t.partner = partner;
        t.reason = why;
        t.dec = &dec;
        rc = kt_trail_write(st, &t, d);
    }
    return rc;
}

int kt_audit_node_config(kt_store_t *st, const kt_conf_t *conf, const kt_policy_set_t *set,
                         const char *actor, kt_diag_t *d)
{
    kt_audit_checkpoint_t cp;
    int own = !kt_store_in_transaction(st), have = 0, rc;
    int64_t now = (int64_t)time(NULL);
    size_t i;

    if (own && (rc = kt_store_begin(st, d)) != 0)
        return rc;
    rc = s_self(st, conf, actor, now, d);
    for (i = 0; rc == 0 && i < conf->n_partners; i++)
        rc = s_partner(st, actor, &conf->partners[i], 0, now, d);
    if (rc == 0)
        rc = s_removed(st, conf, actor, now, d);
    if (rc == 0 && set != NULL)
        rc = s_policies(st, set, actor, d);
    if (rc == 0)
        rc = kt_audit_checkpoint(st, conf->keys, 1, (time_t)now, &cp, &have, d);
    if (own) {
        if (rc == 0)
            rc = kt_store_commit(st, d);
        if (rc != 0)
            kt_store_rollback(st);
    }
    return rc;
}

int kt_audit_node_consent(kt_store_t *st, const char *actor, const char *action,
                          const kt_consent_t *c, kt_diag_t *d)
{
    char why[KT_CONSENT_TYPES_TEXT + 128];
    kt_trail_t t;

    snprintf(why, sizeof(why), "%s by %s for %s, %s to %s", kt_consent_decision_name(c->decision),
             kt_consent_door_name(c->door), c->types, c->gegeven_op, c->geldig_tot);
    memset(&t, 0, sizeof(t));
    t.actor = actor;
    t.action = action;
    t.decision = kt_consent_decision_name(c->decision);
    t.reason = why;
    t.subject = c->subject;
    t.consent_id = c->id;
    t.partner = c->recipient;
    t.doel = c->doel;
    return kt_trail_write(st, &t, d);
}
