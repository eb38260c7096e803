/*
 * policy.c - per-partner policy files into an immutable rule set, and the
 * pure decisions taken from it (docs/policy.md).
 *
 * Owns the policy file format and, with conf.c, libconfig.h. Loading reads a
 * directory of <partner-id>.conf files, checks every setting against the
 * record registry and DOMAIN.md §8, and collects every error as
 * "FILE:LINE: message" in file and line order. After a successful load the
 * set never changes; the decision functions do no I/O and no allocation.
 * This file must never accept a setting it does not know, never follow
 * @include, never stop at the first error, never put a record value into a
 * message, and never answer "allowed" where a rule is missing (default deny).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libconfig.h>

#include "keten/policy.h"

/* ---- the set ---- */

struct s_rule {
    kt_policy_rule_t pub; /* first: the public view */
    const char *names[KT_POLICY_FIELDS_MAX];
};

struct s_version {
    kt_policy_version_t pub;
    int bad_dates; /* reported already: no overlap check against it */
};

struct kt_policy_set {
    char **partners; /* sorted ids */
    size_t npartners;
    struct s_rule **rules;
    size_t nrules;
    struct s_version **versions;
    size_t nversions;
    char **owned; /* file names and references the rules point at */
    size_t nowned;
};

static const char *const s_doel_codes[] = {
    "melding_geoorloofd",
    "zorgoverleg",
    "contact_hulpverlening",
    "terugkoppeling_school",
    "overleg_vrijstelling",
    "lijstvergelijking",
    NULL,
};

/* ---- load context and errors (as conf.c) ---- */

enum { S_STR = 1, S_INT, S_GROUP_LIST, S_STR_LIST, S_GROUP, S_BOOL };

struct s_field {
    const char *name;
    int kind;
    int required;
};

static const struct s_field s_top_fields[] = {
    {"partner", S_STR, 1},
    {"versions", S_GROUP_LIST, 1},
};
static const struct s_field s_version_fields[] = {
    {"version", S_INT, 1},     {"valid_from", S_STR, 1},  {"valid_until", S_STR, 0},
    {"reference", S_STR, 0},   {"send", S_GROUP_LIST, 0}, {"receive", S_GROUP_LIST, 0},
    {"reconcile", S_GROUP, 0},
};
static const struct s_field s_reconcile_fields[] = {
    {"counts", S_BOOL, 0},         {"suppress_below", S_INT, 0}, {"lists", S_STR, 0},
    {"list_names", S_STR_LIST, 0}, {"max_ids", S_INT, 0},        {"per_day", S_INT, 0},
};
static const struct s_field s_rule_fields[] = {
    {"type", S_STR, 1},
    {"grondslag", S_STR, 1},
    {"doel", S_STR, 1},
    {"fields", S_STR_LIST, 1},
    {"identifier", S_STR, 1},
    {"retention_days", S_INT, 1},
    {"toestemming_door", S_STR, 0},
};

#define S_NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct s_ctx {
    kt_policy_set_t *set;
    const kt_policy_roles_t *roles;
    kt_conf_collector_t col; /* the errors, over the whole load */
    int perm;                /* a file was writable by others */
    /* the file being read (its name is col.name) */
    const char *file; /* owned by set */
    char partner[KT_NODE_ID_MAX + 1];
    kt_role_t role; /* 0: unknown */
};

static void s_err(struct s_ctx *x, int line, const char *fmt, ...) KT_PRINTF(3, 4);
static void s_err(struct s_ctx *x, int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    kt_conf_vcollect(&x->col, line, fmt, ap);
    va_end(ap);
}

/* Errors from here on belong to file name and sort by line within it. */
static void s_start_file(struct s_ctx *x, const char *name)
{
    kt_conf_collect_file(&x->col, name);
}

static int s_line(const config_setting_t *s)
{
    return s ? (int)config_setting_source_line(s) : 0;
}

static const char *s_own(struct s_ctx *x, const char *s)
{
    kt_policy_set_t *set = x->set;
    char **grown, *copy;

    if ((copy = strdup(s)) == NULL ||
        (grown = realloc(set->owned, (set->nowned + 1) * sizeof(*grown))) == NULL) {
        free(copy);
        x->col.nomem = 1;
        return NULL;
    }
    set->owned = grown;
    set->owned[set->nowned++] = copy;
    return copy;
}

/* ---- dates ---- */

static int s_digits(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* A real calendar date "YYYY-MM-DD", years 1900-2199 (as record dates). */
static int s_date(const char *s, int *y, int *m, int *d)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap;

    if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-' || !s_digits(s, 4) ||
        !s_digits(s + 5, 2) || !s_digits(s + 8, 2))
        return 0;
    *y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    *m = (s[5] - '0') * 10 + (s[6] - '0');
    *d = (s[8] - '0') * 10 + (s[9] - '0');
    if (*y < 1900 || *y > 2199 || *m < 1 || *m > 12 || *d < 1)
        return 0;
    leap = (*y % 4 == 0 && *y % 100 != 0) || *y % 400 == 0;
    return *d <= mdays[*m - 1] + (*m == 2 && leap);
}

static int s_is_date(const char *s)
{
    int y, m, d;

    return s_date(s, &y, &m, &d);
}

int kt_policy_is_date(const char *s)
{
    return s_is_date(s);
}

/* Valid dates compare as strings; "" as until means open-ended. */
static int s_in_period(const char *date, const char *from, const char *until)
{
    return strcmp(date, from) >= 0 && (until[0] == '\0' || strcmp(date, until) <= 0);
}

static int s_overlap(const char *f1, const char *u1, const char *f2, const char *u2)
{
    return (u1[0] == '\0' || strcmp(f2, u1) <= 0) && (u2[0] == '\0' || strcmp(f1, u2) <= 0);
}

/* ---- structure ---- */

static const char *s_kind_text(int kind)
{
    switch (kind) {
    case S_STR:
        return "a string";
    case S_INT:
        return "an integer";
    case S_GROUP_LIST:
        return "a list ( { ... }, ... ) of groups";
    case S_GROUP:
        return "a group { ... }";
    case S_BOOL:
        return "true or false";
    default:
        return "a list of strings [ \"...\", ... ]";
    }
}

static int s_kind_matches(const config_setting_t *s, int kind)
{
    int t = config_setting_type(s);

    switch (kind) {
    case S_STR:
        return t == CONFIG_TYPE_STRING;
    case S_INT:
        return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
    case S_GROUP_LIST:
        return t == CONFIG_TYPE_LIST;
    case S_GROUP:
        return t == CONFIG_TYPE_GROUP;
    case S_BOOL:
        return t == CONFIG_TYPE_BOOL;
    default:
        return t == CONFIG_TYPE_LIST || t == CONFIG_TYPE_ARRAY;
    }
}

static void s_check_members(struct s_ctx *x, const config_setting_t *group, const struct s_field *f,
                            size_t nf, const char *who)
{
    int i, n = config_setting_length(group);
    size_t j;

    for (i = 0; i < n; i++) {
        const config_setting_t *m = config_setting_get_elem(group, (unsigned)i);
        const char *name = config_setting_name(m);

        for (j = 0; j < nf && strcmp(f[j].name, name ? name : "") != 0; j++)
            ;
        if (j == nf)
            s_err(x, s_line(m), "%sunknown setting '%s'", who, name ? name : "?");
        else if (!s_kind_matches(m, f[j].kind))
            s_err(x, s_line(m), "%s'%s' must be %s", who, name, s_kind_text(f[j].kind));
    }
    for (j = 0; j < nf; j++)
        if (f[j].required && config_setting_get_member(group, f[j].name) == NULL)
            s_err(x, s_line(group), "%smissing required setting '%s'", who, f[j].name);
}

static config_setting_t *s_member(const config_setting_t *group, const char *name, int kind)
{
    config_setting_t *m = config_setting_get_member(group, name);

    return m != NULL && s_kind_matches(m, kind) ? m : NULL;
}

static const char *s_str(const config_setting_t *group, const char *name)
{
    config_setting_t *m = s_member(group, name, S_STR);

    return m ? config_setting_get_string(m) : NULL;
}

static int s_code(const char *const *codes, const char *v)
{
    int i;

    for (i = 0; v != NULL && codes[i] != NULL; i++)
        if (strcmp(codes[i], v) == 0)
            return i;
    return -1;
}

/* ---- rules ---- */

static const char *const s_grondslag_codes[] = {"toestemming", "wettelijke_plicht", "publieke_taak",
                                                NULL};
static const char *const s_ident_codes[] = {"bsn", "pseudoniem", NULL};
static const char *const s_door_codes[] = {"wet", "ouders_en_leerling", NULL};

/* Enforcement data (DOMAIN.md §8 rule 12) only between gemeenten. */
static void s_rule_mas_route(struct s_ctx *x, const config_setting_t *s, const char *who)
{
    const kt_policy_roles_t *r = x->roles;

    if (x->role == 0)
        s_err(x, s_line(s),
              "%sfield 'mas_route' is enforcement data and may only go between gemeenten "
              "(DOMAIN.md §8 rule 12); the role of partner '%s' is unknown",
              who, x->partner);
    else if (x->role != KT_ROLE_GEMEENTE)
        s_err(x, s_line(s),
              "%sfield 'mas_route' is enforcement data and may only go between gemeenten "
              "(DOMAIN.md §8 rule 12); partner '%s' is a %s",
              who, x->partner, kt_role_name(x->role));
    else if (r != NULL && r->self != 0 && r->self != KT_ROLE_GEMEENTE)
        s_err(x, s_line(s),
              "%sfield 'mas_route' is enforcement data and may only go between gemeenten "
              "(DOMAIN.md §8 rule 12); this node is a %s",
              who, kt_role_name(r->self));
}

static void s_rule_field_list(struct s_ctx *x, const config_setting_t *list, struct s_rule *r,
                              const char *who)
{
    int i, j, n = config_setting_length(list), known = kt_record_type_known(r->pub.type);
    const char *req = kt_record_required_field(r->pub.type);
    int has_id = 0, has_req = 0;

    for (i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
        const char *f = config_setting_get_string(e);
        kt_diag_t d = {{0}};
        size_t k;

        if (f == NULL) {
            s_err(x, s_line(e), "%s'fields' entry %d must be a string", who, i + 1);
            continue;
        }
        if (!known)
            continue;
        if (kt_record_field_lookup(r->pub.type, f, NULL, &d) != 0) {
            s_err(x, s_line(e), "%s'fields': %s", who, d.msg);
            continue;
        }
        for (j = 0; j < i; j++) {
            const char *g = config_setting_get_string(config_setting_get_elem(list, (unsigned)j));
            if (g != NULL && strcmp(f, g) == 0)
                break;
        }
        if (j < i) {
            s_err(x, s_line(e), "%s'fields' lists '%s' twice", who, f);
            continue;
        }
        if (strcmp(f, "mas_route") == 0)
            s_rule_mas_route(x, e, who);
        has_id |= strcmp(f, "leerling_id") == 0;
        has_req |= req != NULL && strcmp(f, req) == 0;
        /* registry order, so explain and audit list fields the same way */
        for (k = 0; k < kt_record_field_count(r->pub.type); k++)
            if (strcmp(kt_record_field_name(r->pub.type, k), f) == 0)
                break;
        if (r->pub.nfields < KT_POLICY_FIELDS_MAX) /* no type has more: duplicates are out */
            r->names[r->pub.nfields++] = kt_record_field_name(r->pub.type, k);
    }
    if (known && !has_id)
        s_err(x, s_line(list),
              "%s'fields' must include 'leerling_id': a record without a pupil id cannot be "
              "exchanged",
              who);
    if (known && req != NULL && !has_req)
        s_err(x, s_line(list), "%s'fields' must include '%s', which every %s record holds", who,
              req, r->pub.type);
}

static int s_registry_order(const char *type, const char *a, const char *b)
{
    size_t k, ia = 0, ib = 0;

    for (k = 0; k < kt_record_field_count(type); k++) {
        if (strcmp(kt_record_field_name(type, k), a) == 0)
            ia = k;
        if (strcmp(kt_record_field_name(type, k), b) == 0)
            ib = k;
    }
    return ia < ib ? -1 : ia > ib;
}

static void s_sort_names(struct s_rule *r)
{
    size_t i, j;

    for (i = 1; i < r->pub.nfields; i++) {
        const char *n = r->names[i];

        for (j = i; j > 0 && s_registry_order(r->pub.type, r->names[j - 1], n) > 0; j--)
            r->names[j] = r->names[j - 1];
        r->names[j] = n;
    }
}

static void s_rule_basis(struct s_ctx *x, const config_setting_t *g, struct s_rule *r,
                         const char *who)
{
    config_setting_t *s;
    int i;

    if ((s = s_member(g, "grondslag", S_STR)) != NULL) {
        if ((i = s_code(s_grondslag_codes, config_setting_get_string(s))) < 0)
            s_err(x, s_line(s),
                  "%s'grondslag' must be toestemming, wettelijke_plicht or publieke_taak", who);
        else
            r->pub.grondslag = (kt_grondslag_t)(i + 1);
    }
    if ((s = s_member(g, "doel", S_STR)) != NULL) {
        if ((i = s_code(s_doel_codes, config_setting_get_string(s))) < 0)
            s_err(x, s_line(s),
                  "%s'doel' must be a consent doel code: melding_geoorloofd, zorgoverleg, "
                  "contact_hulpverlening, terugkoppeling_school, overleg_vrijstelling or "
                  "lijstvergelijking",
                  who);
        else
            r->pub.doel = s_doel_codes[i];
    }
    if ((s = s_member(g, "identifier", S_STR)) != NULL) {
        if ((i = s_code(s_ident_codes, config_setting_get_string(s))) < 0)
            s_err(x, s_line(s), "%s'identifier' must be bsn or pseudoniem", who);
        else
            r->pub.identifier = (kt_policy_ident_t)(i + 1);
    }
    if ((s = s_member(g, "retention_days", S_INT)) != NULL) {
        long long v = config_setting_get_int64(s);

        if (v < KT_POLICY_RETENTION_MIN || v > KT_POLICY_RETENTION_MAX)
            s_err(x, s_line(s), "%s'retention_days' must be %d to %d days", who,
                  KT_POLICY_RETENTION_MIN, KT_POLICY_RETENTION_MAX);
        else
            r->pub.retention_days = (int)v;
    }
    s = config_setting_get_member(g, "toestemming_door");
    if (r->pub.grondslag == KT_GRONDSLAG_TOESTEMMING && s == NULL)
        s_err(x, s_line(g),
              "%smissing 'toestemming_door' (wet or ouders_en_leerling): grondslag toestemming "
              "must say who consents",
              who);
    else if (r->pub.grondslag != 0 && r->pub.grondslag != KT_GRONDSLAG_TOESTEMMING && s != NULL)
        s_err(x, s_line(s), "%s'toestemming_door' is only allowed with grondslag toestemming", who);
    else if (s != NULL && s_kind_matches(s, S_STR)) {
        if ((i = s_code(s_door_codes, config_setting_get_string(s))) < 0)
            s_err(x, s_line(s), "%s'toestemming_door' must be wet or ouders_en_leerling", who);
        else
            r->pub.toestemming_door = (kt_policy_door_t)(i + 1);
    }
    if (r->pub.type != NULL && strcmp(r->pub.type, "geoorloofd_verzuim") == 0 &&
        r->pub.grondslag != 0 && r->pub.grondslag != KT_GRONDSLAG_TOESTEMMING)
        s_err(x, s_line(s_member(g, "grondslag", S_STR)),
              "%sgeoorloofd_verzuim may only be exchanged on grondslag toestemming "
              "(DOMAIN.md §8 rule 2)",
              who);
}

static int s_push_rule(struct s_ctx *x, struct s_rule *r)
{
    kt_policy_set_t *set = x->set;
    struct s_rule **grown = realloc(set->rules, (set->nrules + 1) * sizeof(*grown));

    if (grown == NULL) {
        x->col.nomem = 1;
        return -1;
    }
    set->rules = grown;
    set->rules[set->nrules++] = r;
    return 0;
}

static void s_rule(struct s_ctx *x, const config_setting_t *g, const struct s_version *v,
                   kt_policy_dir_t dir, int idx, size_t first)
{
    struct s_rule *r;
    config_setting_t *s;
    const char *type;
    char who[96];
    size_t i;

    snprintf(who, sizeof(who), "%s rule #%d: ", kt_policy_dir_name(dir), idx);
    if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
        s_err(x, s_line(g), "%smust be a group { type = ...; grondslag = ...; ... }", who);
        return;
    }
    if ((r = calloc(1, sizeof(*r))) == NULL) {
        x->col.nomem = 1;
        return;
    }
    r->pub.dir = dir;
    r->pub.fields = r->names;
    r->pub.partner = v->pub.partner;
    r->pub.version = v->pub.version;
    memcpy(r->pub.valid_from, v->pub.valid_from, sizeof(r->pub.valid_from));
    memcpy(r->pub.valid_until, v->pub.valid_until, sizeof(r->pub.valid_until));
    r->pub.reference = v->pub.reference;
    r->pub.file = x->file;
    r->pub.line = s_line(g);
    if ((type = s_str(g, "type")) != NULL) {
        kt_diag_t d = {{0}};

        /* the registry's own string: it outlives libconfig's copy */
        for (i = 0; kt_record_type_name(i) != NULL; i++)
            if (strcmp(kt_record_type_name(i), type) == 0)
                r->pub.type = kt_record_type_name(i);
        if (r->pub.type != NULL)
            snprintf(who, sizeof(who), "%s rule for %s: ", kt_policy_dir_name(dir), r->pub.type);
        else if (kt_record_field_lookup(type, "leerling_id", NULL, &d) != 0)
            s_err(x, s_line(s_member(g, "type", S_STR)), "%s'type': %s", who, d.msg);
    }
    s_check_members(x, g, s_rule_fields, S_NELEM(s_rule_fields), who);
    s_rule_basis(x, g, r, who);
    if ((s = s_member(g, "fields", S_STR_LIST)) != NULL && r->pub.type != NULL)
        s_rule_field_list(x, s, r, who);
    s_sort_names(r);
    for (i = first; r->pub.type != NULL && i < x->set->nrules; i++) {
        const kt_policy_rule_t *q = &x->set->rules[i]->pub;

        if (q->dir == dir && q->type != NULL && strcmp(q->type, r->pub.type) == 0) {
            s_err(x, r->pub.line, "%sversion %d already has a %s rule for %s (line %d)", who,
                  v->pub.version, kt_policy_dir_name(dir), r->pub.type, q->line);
            break;
        }
    }
    if (s_push_rule(x, r) != 0)
        free(r);
}

static void s_rules(struct s_ctx *x, const config_setting_t *vg, struct s_version *v, size_t first)
{
    static const kt_policy_dir_t dirs[] = {KT_POLICY_SEND, KT_POLICY_RECEIVE};
    config_setting_t *list;
    size_t k;
    int i, n;

    for (k = 0; k < S_NELEM(dirs); k++) {
        if ((list = s_member(vg, kt_policy_dir_name(dirs[k]), S_GROUP_LIST)) == NULL)
            continue;
        n = config_setting_length(list);
        for (i = 0; i < n; i++)
            s_rule(x, config_setting_get_elem(list, (unsigned)i), v, dirs[k], i + 1, first);
        if (dirs[k] == KT_POLICY_SEND)
            v->pub.nsend = (size_t)n;
        else
            v->pub.nreceive = (size_t)n;
    }
}

/* ---- versions ---- */

static void s_version_dates(struct s_ctx *x, const config_setting_t *vg, struct s_version *v,
                            const char *who)
{
    config_setting_t *s;
    const char *t;

    if ((s = s_member(vg, "valid_from", S_STR)) != NULL) {
        if (!s_is_date(t = config_setting_get_string(s))) {
            s_err(x, s_line(s), "%s'valid_from' must be a real date YYYY-MM-DD", who);
            v->bad_dates = 1;
        } else
            memcpy(v->pub.valid_from, t, KT_POLICY_DATE_BYTES);
    }
    if (config_setting_get_member(vg, "valid_until") != NULL &&
        s_member(vg, "valid_until", S_STR) == NULL)
        v->bad_dates = 1; /* wrong kind, reported: not open-ended */
    if ((s = s_member(vg, "valid_until", S_STR)) != NULL) {
        if (!s_is_date(t = config_setting_get_string(s))) {
            s_err(x, s_line(s), "%s'valid_until' must be a real date YYYY-MM-DD", who);
            v->bad_dates = 1;
        } else if (v->pub.valid_from[0] != '\0' && strcmp(t, v->pub.valid_from) < 0) {
            s_err(x, s_line(s), "%s'valid_until' is before 'valid_from'", who);
            v->bad_dates = 1;
        } else
            memcpy(v->pub.valid_until, t, KT_POLICY_DATE_BYTES);
    }
}

static void s_version_reference(struct s_ctx *x, const config_setting_t *vg, struct s_version *v,
                                const char *who)
{
    config_setting_t *s = s_member(vg, "reference", S_STR);
    const unsigned char *p;
    const char *t;

    if (s == NULL)
        return;
    t = config_setting_get_string(s);
    for (p = (const unsigned char *)t; *p != '\0' && *p >= 0x20 && *p != 0x7f; p++)
        ;
    if (*p != '\0' || t[0] == '\0' || strlen(t) > KT_POLICY_REFERENCE_MAX)
        s_err(x, s_line(s),
              "%s'reference' must be 1 to %d printable characters (a short name of the legal "
              "basis or convenant)",
              who, KT_POLICY_REFERENCE_MAX);
    else
        v->pub.reference = s_own(x, t);
}

/* list_names = [ "thuiszitters", ... ]: which of our lists the partner may
 * compare with (comma-joined into one owned string); absent: any. */
static void s_reconcile_names(struct s_ctx *x, const config_setting_t *g, struct s_version *v,
                              const char *in)
{
    config_setting_t *s = s_member(g, "list_names", S_STR_LIST);
    char joined[KT_POLICY_RECONCILE_NAMES_MAX + 1];
    size_t len = 0;
    int i, n;

    if (s == NULL)
        return;
    joined[0] = '\0';
    n = config_setting_length(s);
    for (i = 0; i < n; i++) {
        const char *t = config_setting_get_string_elem(s, (unsigned)i);
        size_t k = t ? strlen(t) : 0, j;
        int ok = k >= 1 && k <= 64;

        for (j = 0; ok && j < k; j++)
            ok = (t[j] >= 'a' && t[j] <= 'z') || (t[j] >= '0' && t[j] <= '9') || t[j] == '_' ||
                 t[j] == '-';
        if (!ok) {
            s_err(x, s_line(s),
                  "%s'list_names' entry %d is not a list name (1 to 64 of a-z, 0-9, "
                  "'_' and '-')",
                  in, i + 1);
            return;
        }
        if (len + k + 2 > sizeof(joined)) {
            s_err(x, s_line(s), "%s'list_names' is too long", in);
            return;
        }
        len += (size_t)snprintf(joined + len, sizeof(joined) - len, "%s%s", len ? "," : "", t);
    }
    v->pub.reconcile_names = s_own(x, joined);
}

/* reconcile = { counts = true; suppress_below = 5; lists = "membership"; }:
 * what this partner may do with our registries (docs/policy.md). */
static void s_version_reconcile(struct s_ctx *x, const config_setting_t *vg, struct s_version *v,
                                const char *who)
{
    static const char *const modes[] = {"none", "cardinality", "membership", NULL};
    config_setting_t *g = s_member(vg, "reconcile", S_GROUP), *s;
    char in[80];
    int m;

    if (g == NULL)
        return;
    snprintf(in, sizeof(in), "%sreconcile: ", who);
    s_check_members(x, g, s_reconcile_fields, S_NELEM(s_reconcile_fields), in);
    if ((s = s_member(g, "counts", S_BOOL)) != NULL)
        v->pub.reconcile_counts = config_setting_get_bool(s);
    if ((s = s_member(g, "suppress_below", S_INT)) != NULL) {
        long long n = config_setting_get_int64(s);

        if (n < 0 || n > 100)
            s_err(x, s_line(s), "%s'suppress_below' must be 0 (no suppression) to 100", in);
        else
            v->pub.suppress_below = (int)n;
    }
    if ((s = s_member(g, "lists", S_STR)) != NULL) {
        if ((m = s_code(modes, config_setting_get_string(s))) < 0)
            s_err(x, s_line(s), "%s'lists' must be none, cardinality or membership", in);
        else
            v->pub.reconcile_lists = m;
    }
    v->pub.reconcile_max_ids = KT_POLICY_RECONCILE_MAX_IDS;
    v->pub.reconcile_per_day = KT_POLICY_RECONCILE_PER_DAY;
    if ((s = s_member(g, "max_ids", S_INT)) != NULL) {
        long long n = config_setting_get_int64(s);

        if (n < 1 || n > KT_POLICY_RECONCILE_MAX_IDS)
            s_err(x, s_line(s), "%s'max_ids' must be 1 to %d", in, KT_POLICY_RECONCILE_MAX_IDS);
        else
            v->pub.reconcile_max_ids = (int)n;
    }
    if ((s = s_member(g, "per_day", S_INT)) != NULL) {
        long long n = config_setting_get_int64(s);

        if (n < 1 || n > 1000)
            s_err(x, s_line(s), "%s'per_day' must be 1 to 1000", in);
        else
            v->pub.reconcile_per_day = (int)n;
    }
    s_reconcile_names(x, g, v, in);
}

/* Versions before this one in this file: [vfirst, nversions). */
static void s_version_unique(struct s_ctx *x, const struct s_version *v, size_t vfirst,
                             const char *who)
{
    size_t i;

    for (i = vfirst; i + 1 < x->set->nversions; i++) {
        const kt_policy_version_t *q = &x->set->versions[i]->pub;
        int dates_ok = !v->bad_dates && !x->set->versions[i]->bad_dates;

        if (v->pub.version != 0 && q->version == v->pub.version)
            s_err(x, v->pub.line, "%sversion %d is used twice (first at line %d)", who,
                  v->pub.version, q->line);
        else if (dates_ok && v->pub.valid_from[0] != '\0' && q->valid_from[0] != '\0' &&
                 s_overlap(v->pub.valid_from, v->pub.valid_until, q->valid_from, q->valid_until))
            s_err(x, v->pub.line,
                  "%speriod overlaps version %d (line %d): versions of a policy must not overlap",
                  who, q->version, q->line);
    }
}

static void s_version(struct s_ctx *x, const config_setting_t *vg, int idx, size_t vfirst)
{
    kt_policy_set_t *set = x->set;
    struct s_version *v, **grown;
    config_setting_t *s;
    size_t first = set->nrules;
    char who[64];

    snprintf(who, sizeof(who), "version #%d: ", idx);
    if (config_setting_type(vg) != CONFIG_TYPE_GROUP) {
        s_err(x, s_line(vg), "%smust be a group { version = ...; valid_from = ...; ... }", who);
        return;
    }
    if ((v = calloc(1, sizeof(*v))) == NULL ||
        (grown = realloc(set->versions, (set->nversions + 1) * sizeof(*grown))) == NULL) {
        free(v);
        x->col.nomem = 1;
        return;
    }
    set->versions = grown;
    set->versions[set->nversions++] = v;
    v->pub.partner = set->partners[set->npartners - 1];
    v->pub.file = x->file;
    v->pub.line = s_line(vg);
    if ((s = s_member(vg, "version", S_INT)) != NULL) {
        long long n = config_setting_get_int64(s);

        if (n < 1 || n > INT_MAX)
            s_err(x, s_line(s), "%s'version' must be a positive integer", who);
        else {
            v->pub.version = (int)n;
            snprintf(who, sizeof(who), "version %d: ", v->pub.version);
        }
    }
    s_check_members(x, vg, s_version_fields, S_NELEM(s_version_fields), who);
    s_version_dates(x, vg, v, who);
    s_version_reference(x, vg, v, who);
    s_version_reconcile(x, vg, v, who);
    s_version_unique(x, v, vfirst, who);
    s_rules(x, vg, v, first);
}

/* ---- one file ---- */

static void s_root(struct s_ctx *x, const config_setting_t *root)
{
    config_setting_t *s;
    size_t vfirst = x->set->nversions;
    int i, n;

    s_check_members(x, root, s_top_fields, S_NELEM(s_top_fields), "");
    if ((s = s_member(root, "partner", S_STR)) != NULL &&
        strcmp(config_setting_get_string(s), x->partner) != 0)
        s_err(x, s_line(s), "'partner' must equal the file name: '%s'", x->partner);
    if ((s = s_member(root, "versions", S_GROUP_LIST)) == NULL)
        return;
    n = config_setting_length(s);
    for (i = 0; i < n; i++)
        s_version(x, config_setting_get_elem(s, (unsigned)i), i + 1, vfirst);
}

static int s_push_partner(struct s_ctx *x)
{
    kt_policy_set_t *set = x->set;
    char **grown = realloc(set->partners, (set->npartners + 1) * sizeof(*grown));

    if (grown == NULL) {
        x->col.nomem = 1;
        return -1;
    }
    set->partners = grown;
    if ((set->partners[set->npartners] = strdup(x->partner)) == NULL) {
        x->col.nomem = 1;
        return -1;
    }
    set->npartners++;
    return 0;
}

/* The partner id is the file name without ".conf". */
static int s_partner_of(struct s_ctx *x, const char *path)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    size_t n = strlen(base);
    int rc;

    x->partner[0] = '\0';
    x->role = 0;
    if (n <= 5 || n - 5 > KT_NODE_ID_MAX || strcmp(base + n - 5, ".conf") != 0) {
        s_err(x, 0, "the file name must be <partner-id>.conf");
        return -1;
    }
    memcpy(x->partner, base, n - 5);
    x->partner[n - 5] = '\0';
    if (!kt_keys_valid_id(x->partner)) {
        s_err(x, 0, "the file name must be <partner-id>.conf, with a node id of a-z, 0-9 and -");
        x->partner[0] = '\0';
        return -1;
    }
    if (x->roles == NULL || x->roles->role_of == NULL)
        return 0;
    rc = x->roles->role_of(x->roles->ctx, x->partner, &x->role);
    if (rc == KT_ENOENT) {
        s_err(x, 0, "partner '%s' is not in the node configuration", x->partner);
        x->role = 0;
    } else if (rc != 0) {
        x->role = 0;
    }
    return 0;
}

static void s_parse_file(struct s_ctx *x, const char *name, const char *text, size_t len)
{
    config_t cfg;
    char *buf;

    s_start_file(x, name);
    if ((x->file = s_own(x, name)) == NULL)
        return;
    if (len > KT_POLICY_FILE_MAX) {
        s_err(x, 0, "larger than %d bytes", KT_POLICY_FILE_MAX);
        return;
    }
    if (s_partner_of(x, name) != 0 || s_push_partner(x) != 0)
        return;
    if ((buf = malloc(len + 1)) == NULL) {
        x->col.nomem = 1;
        return;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (memchr(text, '\0', len) != NULL) {
        s_err(x, 0, "not a text file (holds a NUL byte)");
    } else if (!kt_conf_refuse_include(&x->col, buf, "keep each partner's policy in one file")) {
        config_init(&cfg);
        if (config_read_string(&cfg, buf) != CONFIG_TRUE)
            s_err(x, config_error_line(&cfg), "%s",
                  config_error_text(&cfg) ? config_error_text(&cfg) : "syntax error");
        else
            s_root(x, config_root_setting(&cfg));
        config_destroy(&cfg);
    }
    free(buf);
    kt_conf_collect_sort(&x->col);
}

/* Reads path into *buf; errors reported. */
static int s_read(struct s_ctx *x, const char *path, char **buf, size_t *len)
{
    struct stat sb;
    size_t got = 0;
    ssize_t r;
    int fd, rc = -1;

    *buf = NULL;
    s_start_file(x, path);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
        s_err(x, 0, "cannot open: %s", strerror(errno));
        return -1;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        s_err(x, 0, "not a regular file");
    } else if (sb.st_mode & (S_IWGRP | S_IWOTH)) {
        s_err(x, 0, "policy file is writable by group or others; run: chmod go-w %s", path);
        x->perm = 1;
    } else if (sb.st_size > KT_POLICY_FILE_MAX) {
        s_err(x, 0, "larger than %d bytes", KT_POLICY_FILE_MAX);
    } else if ((*buf = malloc((size_t)sb.st_size + 1)) == NULL) {
        x->col.nomem = 1;
    } else {
        rc = 0;
        while (rc == 0 && got < (size_t)sb.st_size) {
            r = read(fd, *buf + got, (size_t)sb.st_size - got);
            if (r > 0)
                got += (size_t)r;
            else if (r == 0)
                break;
            else if (errno != EINTR)
                rc = -1;
        }
        if (rc != 0)
            s_err(x, 0, "cannot read: %s", strerror(errno));
        *len = got;
    }
    close(fd);
    if (rc != 0) {
        free(*buf);
        *buf = NULL;
    }
    return rc;
}

/* ---- the directory ---- */

static int s_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int s_is_policy_name(const char *n)
{
    size_t len = strlen(n);

    return n[0] != '.' && len > 5 && strcmp(n + len - 5, ".conf") == 0;
}

/* The *.conf names in dir, sorted; *n = 0 for a missing directory. */
static int s_list(struct s_ctx *x, const char *dir, char ***names, size_t *n)
{
    struct dirent *e;
    char **grown;
    DIR *d;

    *names = NULL;
    *n = 0;
    s_start_file(x, dir);
    if ((d = opendir(dir)) == NULL) {
        if (errno == ENOENT)
            return 0;
        s_err(x, 0, "cannot read the policy directory: %s", strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (!s_is_policy_name(e->d_name))
            continue;
        if (*n >= KT_POLICY_FILES_MAX) {
            s_err(x, 0, "more than %d policy files", KT_POLICY_FILES_MAX);
            break;
        }
        if ((grown = realloc(*names, (*n + 1) * sizeof(*grown))) == NULL ||
            (grown[*n] = strdup(e->d_name)) == NULL) {
            if (grown != NULL)
                *names = grown;
            x->col.nomem = 1;
            break;
        }
        *names = grown;
        (*n)++;
    }
    closedir(d);
    if (*n > 1)
        qsort(*names, *n, sizeof(**names), s_cmp_str);
    return x->col.nomem ? -1 : 0;
}

static int s_finish(struct s_ctx *x, kt_policy_set_t **out)
{
    int rc = 0;

    if (x->col.nomem) {
        s_start_file(x, "policies");
        kt_conf_collect_msg(&x->col, INT_MAX, strdup("out of memory reading the policies"));
        rc = KT_ENOMEM;
    } else if (x->perm) {
        rc = KT_EPERM;
    } else if (x->col.nerrs > 0) {
        rc = KT_ECONFIG;
    }
    kt_conf_collect_done(&x->col);
    if (rc == 0)
        *out = x->set;
    else
        kt_policy_set_destroy(&x->set);
    return rc;
}

static int s_begin(struct s_ctx *x, kt_policy_set_t **out, const kt_policy_roles_t *roles,
                   kt_conf_errors_t *errs)
{
    memset(x, 0, sizeof(*x));
    x->roles = roles;
    x->col.errs = errs;
    x->col.max = KT_POLICY_ERRORS_MAX;
    *out = NULL;
    if ((x->set = calloc(1, sizeof(*x->set))) == NULL)
        return KT_ENOMEM;
    return 0;
}

int kt_policy_parse(kt_policy_set_t **out, const char *name, const char *text, size_t len,
                    const kt_policy_roles_t *roles, kt_conf_errors_t *errs)
{
    struct s_ctx x;

    if (s_begin(&x, out, roles, errs) != 0)
        return KT_ENOMEM;
    s_parse_file(&x, name, text, len);
    return s_finish(&x, out);
}

int kt_policy_load(kt_policy_set_t **out, const char *dir, const kt_policy_roles_t *roles,
                   kt_conf_errors_t *errs)
{
    struct s_ctx x;
    char **names = NULL, *path = NULL, *buf = NULL;
    size_t i, n = 0, len = 0;

    if (s_begin(&x, out, roles, errs) != 0)
        return KT_ENOMEM;
    if (s_list(&x, dir, &names, &n) != 0)
        goto out;
    for (i = 0; i < n && !x.col.nomem; i++) {
        if (asprintf(&path, "%s/%s", dir, names[i]) < 0) {
            path = NULL;
            x.col.nomem = 1;
            break;
        }
        if (s_read(&x, path, &buf, &len) == 0)
            s_parse_file(&x, path, buf, len);
        free(buf);
        buf = NULL;
        free(path);
        path = NULL;
    }
out:
    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return s_finish(&x, out);
}

void kt_policy_set_destroy(kt_policy_set_t **p)
{
    kt_policy_set_t *s;
    size_t i;

    if (p == NULL || (s = *p) == NULL)
        return;
    for (i = 0; i < s->npartners; i++)
        free(s->partners[i]);
    for (i = 0; i < s->nrules; i++)
        free(s->rules[i]);
    for (i = 0; i < s->nversions; i++)
        free(s->versions[i]);
    for (i = 0; i < s->nowned; i++)
        free(s->owned[i]);
    free(s->partners);
    free(s->rules);
    free(s->versions);
    free(s->owned);
    free(s);
    *p = NULL;
}

/* ---- roles from the node configuration ---- */

static int s_conf_role(void *ctx, const char *partner, kt_role_t *role)
{
    const kt_conf_partner_t *p = kt_conf_partner(ctx, partner);

    if (p == NULL)
        return KT_ENOENT;
    *role = p->role;
    return 0;
}

void kt_policy_roles_from_conf(kt_policy_roles_t *out, const kt_conf_t *conf)
{
    out->role_of = s_conf_role;
    out->ctx = (void *)(uintptr_t)conf; /* read only: kt_conf_partner takes const */
    out->self = conf->keys != NULL ? kt_keys_public(conf->keys)->role : 0;
}

/* ---- queries ---- */

size_t kt_policy_set_partner_count(const kt_policy_set_t *set)
{
    return set->npartners;
}

const char *kt_policy_set_partner(const kt_policy_set_t *set, size_t i)
{
    return i < set->npartners ? set->partners[i] : NULL;
}

size_t kt_policy_set_rule_count(const kt_policy_set_t *set)
{
    return set->nrules;
}

const kt_policy_rule_t *kt_policy_set_rule_at(const kt_policy_set_t *set, size_t i)
{
    return i < set->nrules ? &set->rules[i]->pub : NULL;
}

int kt_policy_has_partner(const kt_policy_set_t *set, const char *partner)
{
    size_t i;

    for (i = 0; partner != NULL && i < set->npartners; i++)
        if (strcmp(set->partners[i], partner) == 0)
            return 1;
    return 0;
}

int kt_policy_reconcile_allows_list(const kt_policy_version_t *v, const char *list)
{
    const char *p;
    size_t n;

    if (v->reconcile_names == NULL)
        return 1;
    n = strlen(list);
    for (p = v->reconcile_names; *p != '\0';) {
        const char *end = strchr(p, ',');
        size_t k = end ? (size_t)(end - p) : strlen(p);

        if (k == n && strncmp(p, list, n) == 0)
            return 1;
        if (end == NULL)
            break;
        p = end + 1;
    }
    return 0;
}

const kt_policy_version_t *kt_policy_version(const kt_policy_set_t *set, const char *partner,
                                             const char *date)
{
    size_t i;

    if (set == NULL || partner == NULL || !s_is_date(date))
        return NULL;
    for (i = 0; i < set->nversions; i++) {
        const kt_policy_version_t *v = &set->versions[i]->pub;

        if (strcmp(v->partner, partner) == 0 && s_in_period(date, v->valid_from, v->valid_until))
            return v;
    }
    return NULL;
}

const kt_policy_rule_t *kt_policy_rule(const kt_policy_set_t *set, const char *partner,
                                       kt_policy_dir_t dir, const char *type, const char *date)
{
    size_t i;

    if (set == NULL || partner == NULL || type == NULL || !s_is_date(date))
        return NULL;
    for (i = 0; i < set->nrules; i++) {
        const kt_policy_rule_t *r = &set->rules[i]->pub;

        if (r->dir == dir && strcmp(r->type, type) == 0 && strcmp(r->partner, partner) == 0 &&
            s_in_period(date, r->valid_from, r->valid_until))
            return r;
    }
    return NULL;
}

size_t kt_policy_recipients(const kt_policy_set_t *set, const char *type, const char *date,
                            const char **out, size_t cap)
{
    size_t i, n = 0;

    for (i = 0; set != NULL && i < set->npartners; i++) {
        if (kt_policy_rule(set, set->partners[i], KT_POLICY_SEND, type, date) == NULL)
            continue;
        if (n < cap)
            out[n] = set->partners[i];
        n++;
    }
    return n;
}

int kt_policy_allows_field(const kt_policy_rule_t *rule, const char *field)
{
    size_t i;

    for (i = 0; rule != NULL && field != NULL && i < rule->nfields; i++)
        if (strcmp(rule->fields[i], field) == 0)
            return 1;
    return 0;
}

/* ---- decisions ---- */

static int s_rule_for(const kt_policy_rule_t *rule, kt_policy_dir_t dir, const kt_record_t *rec,
                      int code, kt_diag_t *d)
{
    if (rule->dir != dir)
        return kt_diag_set(d, code, "the %s rule of '%s' cannot decide a %s",
                           kt_policy_dir_name(rule->dir), rule->partner, kt_policy_dir_name(dir));
    if (strcmp(rule->type, kt_record_type(rec)) != 0)
        return kt_diag_set(d, code, "the %s rule of '%s' is for %s, not %s",
                           kt_policy_dir_name(dir), rule->partner, rule->type, kt_record_type(rec));
    return 0;
}

int kt_policy_apply_send(const kt_policy_rule_t *rule, kt_record_t *rec, const char *pseudonym,
                         kt_policy_names_t *stripped, kt_diag_t *d)
{
    const char *strip[KT_POLICY_FIELDS_MAX];
    size_t i, n = 0, nset;
    int rc;

    if (stripped != NULL)
        stripped->count = 0;
    if ((rc = s_rule_for(rule, KT_POLICY_SEND, rec, KT_EINVAL, d)) != 0)
        return rc;
    if (kt_record_pupil_id_form(kt_record_leerling_id(rec)) != KT_PUPIL_ID_NUMBER)
        return kt_diag_set(d, KT_EINVAL,
                           "field 'leerling_id': a record to send must hold a BSN or "
                           "onderwijsnummer");
    if (rule->identifier == KT_IDENT_PSEUDONIEM && !kt_record_is_pseudonym(pseudonym))
        return kt_diag_set(d, KT_EINVAL,
                           "the send rule for %s to '%s' needs the pairwise pseudonym, and none "
                           "(or a malformed one) was given",
                           rule->type, rule->partner);
    nset = kt_record_nfields(rec);
    for (i = 0; i < nset && n < KT_POLICY_FIELDS_MAX; i++) {
        const char *f = kt_record_field_at(rec, i);

        if (!kt_policy_allows_field(rule, f))
            strip[n++] = f; /* registry names: outlive the unset */
    }
    for (i = 0; i < n; i++) {
        if (kt_record_unset(rec, strip[i]) != 0) /* cannot happen: just listed as set */
            return kt_diag_set(d, KT_EINVAL, "field '%s': could not be stripped", strip[i]);
        if (stripped != NULL)
            stripped->name[stripped->count++] = strip[i];
    }
    if (rule->identifier == KT_IDENT_PSEUDONIEM &&
        ((rc = kt_record_unset(rec, "leerling_id")) != 0 ||
         (rc = kt_record_set_text(rec, "leerling_id", pseudonym, d)) != 0))
        return rc;
    return 0;
}

int kt_policy_check_receive(const kt_policy_rule_t *rule, const kt_record_t *rec, kt_diag_t *d)
{
    kt_pupil_id_form_t form;
    size_t i, n;
    int rc;

    if ((rc = s_rule_for(rule, KT_POLICY_RECEIVE, rec, KT_EDENIED, d)) != 0)
        return rc;
    form = kt_record_pupil_id_form(kt_record_leerling_id(rec));
    if (rule->identifier == KT_IDENT_PSEUDONIEM && form != KT_PUPIL_ID_PSEUDONYM)
        return kt_diag_set(d, KT_EDENIED,
                           "field 'leerling_id': the receive rule for %s from '%s' (%s:%d, "
                           "version %d) expects a pairwise pseudonym",
                           rule->type, rule->partner, rule->file, rule->line, rule->version);
    if (rule->identifier == KT_IDENT_BSN && form != KT_PUPIL_ID_NUMBER)
        return kt_diag_set(d, KT_EDENIED,
                           "field 'leerling_id': the receive rule for %s from '%s' (%s:%d, "
                           "version %d) expects a BSN or onderwijsnummer",
                           rule->type, rule->partner, rule->file, rule->line, rule->version);
    n = kt_record_nfields(rec);
    for (i = 0; i < n; i++) {
        const char *f = kt_record_field_at(rec, i);

        if (!kt_policy_allows_field(rule, f))
            return kt_diag_set(d, KT_EDENIED,
                               "field '%s' is not allowed by the receive rule for %s from '%s' "
                               "(%s:%d, version %d)",
                               f, rule->type, rule->partner, rule->file, rule->line, rule->version);
    }
    return 0;
}

static int s_bool(const kt_record_t *rec, const char *field, int *v)
{
    int64_t num = 0;

    if (kt_record_get(rec, field, NULL, NULL, &num) != 0)
        return 0;
    *v = num != 0;
    return 1;
}

int kt_policy_needs_consent(const kt_policy_rule_t *rule, const kt_record_t *rec)
{
    int geoorloofd, ingeschreven;

    if (rule->grondslag == KT_GRONDSLAG_TOESTEMMING)
        return 1;
    if (strcmp(kt_record_type(rec), "thuiszitter") != 0)
        return 0;
    if (s_bool(rec, "geoorloofd", &geoorloofd))
        return geoorloofd;
    /* Unknown whether the absence is geoorloofd: only a pupil who is not
     * enrolled certainly has no geoorloofd absence (DOMAIN.md §8 rule 2). */
    return !(s_bool(rec, "ingeschreven", &ingeschreven) && !ingeschreven);
}

/* Whole years from birth to on; the birthday counts (29 February: 1 March
 * in a common year, as (month, day) comparison gives). */
static int s_age(int by, int bm, int bd, int y, int m, int d)
{
    int age = y - by;

    if (m < bm || (m == bm && d < bd))
        age--;
    return age;
}

int kt_policy_consent_by(const kt_policy_rule_t *rule, const kt_record_t *rec, const char *date,
                         unsigned *by)
{
    kt_policy_door_t door =
        rule->toestemming_door == KT_DOOR_NONE ? KT_DOOR_WET : rule->toestemming_door;
    const char *birth = NULL;
    int y, m, d, by_, bm, bd;

    *by = 0;
    if (!s_date(date, &y, &m, &d))
        return KT_EINVAL;
    if (kt_record_get(rec, "geboortedatum", NULL, &birth, NULL) != 0 ||
        !s_date(birth, &by_, &bm, &bd)) {
        *by = KT_GEGEVEN_OUDERS_EN_LEERLING;
        return 0;
    }
    if (s_age(by_, bm, bd, y, m, d) < 16)
        *by = KT_GEGEVEN_OUDERS | KT_GEGEVEN_OUDERS_EN_LEERLING;
    else if (door == KT_DOOR_WET)
        *by = KT_GEGEVEN_LEERLING | KT_GEGEVEN_OUDERS_EN_LEERLING;
    else
        *by = KT_GEGEVEN_OUDERS_EN_LEERLING;
    return 0;
}

int kt_policy_consent_accepts(unsigned by, const char *gegeven_door)
{
    unsigned bit;

    for (bit = KT_GEGEVEN_OUDERS; bit <= KT_GEGEVEN_OUDERS_EN_LEERLING; bit <<= 1)
        if ((by & bit) && gegeven_door != NULL &&
            strcmp(kt_policy_gegeven_name(bit), gegeven_door) == 0)
            return 1;
    return 0;
}

/* ---- names ---- */

const char *kt_policy_dir_name(kt_policy_dir_t dir)
{
    return dir == KT_POLICY_SEND ? "send" : dir == KT_POLICY_RECEIVE ? "receive" : "?";
}

const char *kt_policy_grondslag_name(kt_grondslag_t g)
{
    return g >= KT_GRONDSLAG_TOESTEMMING && g <= KT_GRONDSLAG_PUBLIEKE_TAAK
               ? s_grondslag_codes[g - 1]
               : "?";
}

const char *kt_policy_ident_name(kt_policy_ident_t i)
{
    return i == KT_IDENT_BSN ? "bsn" : i == KT_IDENT_PSEUDONIEM ? "pseudoniem" : "?";
}

const char *kt_policy_door_name(kt_policy_door_t door)
{
    return door == KT_DOOR_WET                  ? "wet"
           : door == KT_DOOR_OUDERS_EN_LEERLING ? "ouders_en_leerling"
                                                : "";
}

const char *kt_policy_gegeven_name(unsigned bit)
{
    switch (bit) {
    case KT_GEGEVEN_OUDERS:
        return "ouders";
    case KT_GEGEVEN_LEERLING:
        return "leerling";
    case KT_GEGEVEN_OUDERS_EN_LEERLING:
        return "ouders_en_leerling";
    default:
        return NULL;
    }
}
