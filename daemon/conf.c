/*
 * conf.c - reads ketend.conf (libconfig) into a kt_conf_t and checks it.
 *
 * Owns the configuration format (docs/keten.conf.5) and libconfig.h, which
 * only this file and the policy module include. Every string is copied out
 * of libconfig before config_destroy. Must never stop at the first error
 * (the operator wants them all at once), never accept a setting it does not
 * know, never follow @include (one file, one permission check), and never
 * put a setting's value into a message: messages name settings, partner ids
 * and files.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libconfig.h>

#include "keten/conf.h"

enum { S_STR = 1, S_INT, S_GROUP, S_GROUP_LIST, S_STR_LIST };

struct s_field {
    const char *name;
    int kind;
    int required;
};

static const struct s_field s_top_fields[] = {
    {"node", S_GROUP, 1},
    {"access", S_GROUP, 0},
    {"partners", S_GROUP_LIST, 0},
};
static const struct s_field s_node_fields[] = {
    {"id", S_STR, 1},
    {"key", S_STR, 1},
    {"listen", S_STR, 1},
    {"store", S_STR, 1},
    {"control", S_STR, 1},
    {"policies", S_STR, 1},
    {"max_message_age", S_INT, 0},
    {"retry_max", S_INT, 0},
    {"log", S_STR, 0},
};
static const struct s_field s_access_fields[] = {
    {"operators", S_STR_LIST, 0},
    {"auditors", S_STR_LIST, 0},
};
static const struct s_field s_partner_fields[] = {
    {"id", S_STR, 1},
    {"role", S_STR, 1},
    {"key", S_STR, 1},
    {"endpoint", S_STR, 1},
};

#define S_NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

struct s_ctx {
    kt_conf_collector_t col; /* the errors, and the file's name */
    char *dir;               /* relative paths start here */
    int flags;
    kt_conf_t *c;
};

static void s_err(struct s_ctx *x, int line, const char *fmt, ...) KT_PRINTF(3, 4);
static void s_err(struct s_ctx *x, int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    kt_conf_vcollect(&x->col, line, fmt, ap);
    va_end(ap);
}

static int s_line(const config_setting_t *s)
{
    return s ? (int)config_setting_source_line(s) : 0;
}

static char *s_strdup(struct s_ctx *x, const char *s)
{
    char *p = strdup(s);

    if (p == NULL)
        x->col.nomem = 1;
    return p;
}

/* ---- structure: names and types ---- */

static const char *s_kind_text(int kind)
{
    switch (kind) {
    case S_STR:
        return "a string";
    case S_INT:
        return "an integer";
    case S_GROUP:
        return "a group { ... }";
    case S_GROUP_LIST:
        return "a list ( { ... }, ... ) of groups";
    default:
        return "a list of strings";
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
    case S_GROUP:
        return t == CONFIG_TYPE_GROUP;
    case S_GROUP_LIST:
        return t == CONFIG_TYPE_LIST;
    default:
        return t == CONFIG_TYPE_LIST || t == CONFIG_TYPE_ARRAY;
    }
}

/* Reports unknown members, wrong types and missing required members of a
 * group. who prefixes the message ("partner 'x': "), path the setting
 * names ("node."). */
static void s_check_members(struct s_ctx *x, const config_setting_t *group, const struct s_field *f,
                            size_t nf, const char *who, const char *path)
{
    int i, n = config_setting_length(group);
    size_t j;

    for (i = 0; i < n; i++) {
        const config_setting_t *m = config_setting_get_elem(group, (unsigned)i);
        const char *name = config_setting_name(m);

        for (j = 0; j < nf && strcmp(f[j].name, name ? name : "") != 0; j++)
            ;
        if (j == nf)
            s_err(x, s_line(m), "%sunknown setting '%s%s'", who, path, name ? name : "?");
        else if (!s_kind_matches(m, f[j].kind))
            s_err(x, s_line(m), "%s'%s%s' must be %s", who, path, name, s_kind_text(f[j].kind));
    }
    for (j = 0; j < nf; j++) {
        if (f[j].required && config_setting_get_member(group, f[j].name) == NULL)
            s_err(x, s_line(group), "%smissing required setting '%s%s'", who, path, f[j].name);
    }
}

/* The member if present with the right kind, else NULL (already reported). */
static config_setting_t *s_member(const config_setting_t *group, const char *name, int kind)
{
    config_setting_t *m = config_setting_get_member(group, name);

    return m != NULL && s_kind_matches(m, kind) ? m : NULL;
}

/* ---- values ---- */

/* Resolves a path against the config directory into a new string. */
static char *s_path(struct s_ctx *x, const config_setting_t *s, const char *who, const char *what)
{
    const char *v = config_setting_get_string(s);
    char *out = NULL;

    if (v == NULL || v[0] == '\0') {
        s_err(x, s_line(s), "%s'%s' must not be empty", who, what);
        return NULL;
    }
    if (strlen(v) + strlen(x->dir) + 2 > PATH_MAX) {
        s_err(x, s_line(s), "%s'%s' is too long", who, what);
        return NULL;
    }
    if (v[0] == '/')
        return s_strdup(x, v);
    if (asprintf(&out, "%s/%s", x->dir, v) < 0) {
        x->col.nomem = 1;
        return NULL;
    }
    return out;
}

static int s_valid_host(const char *h, size_t n, int allow_wild)
{
    size_t i;

    if (n == 1 && h[0] == '*')
        return allow_wild;
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
        for (i = 1; i + 1 < n; i++)
            if (!strchr("0123456789abcdefABCDEF:.", h[i]))
                return 0;
        return n > 2;
    }
    if (n == 0 || n > 253 || h[0] == '-' || h[0] == '.')
        return 0;
    for (i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-", h[i]))
            return 0;
    return 1;
}

static int s_valid_port(const char *p, int allow_wild)
{
    unsigned long v = 0;
    size_t i, n = strlen(p);

    if (n == 1 && p[0] == '*')
        return allow_wild;
    if (n == 0 || n > 5 || p[0] == '0')
        return 0;
    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        v = v * 10 + (unsigned long)(p[i] - '0');
    }
    return v >= 1 && v <= 65535;
}

/* tcp://HOST:PORT with HOST a name, an IPv4 address, [IPv6] or (listen
 * only) *, and PORT 1-65535 or (listen only) *. */
static int s_valid_endpoint(const char *s, int allow_wild)
{
    const char *host, *colon;

    if (s == NULL || strlen(s) > KT_CONF_ENDPOINT_MAX || strncmp(s, "tcp://", 6) != 0)
        return 0;
    host = s + 6;
    if ((colon = strrchr(host, ':')) == NULL)
        return 0;
    return s_valid_host(host, (size_t)(colon - host), allow_wild) &&
           s_valid_port(colon + 1, allow_wild);
}

static char *s_endpoint(struct s_ctx *x, const config_setting_t *s, const char *who,
                        const char *what, int allow_wild)
{
    const char *v = config_setting_get_string(s);

    if (!s_valid_endpoint(v, allow_wild)) {
        s_err(x, s_line(s), "%s'%s' must read tcp://HOST:PORT (%s)", who, what,
              allow_wild ? "HOST a name, an address or *; PORT 1-65535 or *"
                         : "HOST a name or an address; PORT 1-65535");
        return NULL;
    }
    return s_strdup(x, v);
}

/* A directory that must exist (the policies, or the parent of a file the
 * daemon will create). Skipped under KT_CONF_SYNTAX_ONLY. */
static void s_check_dir(struct s_ctx *x, int line, const char *what, const char *path, int parent)
{
    char buf[PATH_MAX], *dir = (char *)path;
    struct stat sb;

    if (path == NULL || (x->flags & KT_CONF_SYNTAX_ONLY))
        return;
    if (parent) {
        snprintf(buf, sizeof(buf), "%s", path);
        dir = dirname(buf);
    }
    if (stat(dir, &sb) != 0)
        s_err(x, line, "'%s': directory %s: %s", what, dir, strerror(errno));
    else if (!S_ISDIR(sb.st_mode))
        s_err(x, line, "'%s': %s is not a directory", what, dir);
}

/* ---- node ---- */

static void s_node_key(struct s_ctx *x, const config_setting_t *s)
{
    kt_conf_t *c = x->c;
    kt_diag_t d = {{0}};
    const kt_pubkey_t *pk;

    if (c->key_path == NULL || (x->flags & KT_CONF_SYNTAX_ONLY))
        return;
    if (kt_keys_load(&c->keys, c->key_path, &d) != 0) {
        s_err(x, s_line(s), "'node.key': %s", d.msg);
        return;
    }
    pk = kt_keys_public(c->keys);
    kt_keys_fingerprint(c->fingerprint, pk);
    if (c->id[0] != '\0' && strcmp(pk->id, c->id) != 0)
        s_err(x, s_line(s), "'node.key': key file %s belongs to node '%s', not to node.id '%s'",
              c->key_path, pk->id, c->id);
}

static void s_node_scalars(struct s_ctx *x, const config_setting_t *node)
{
    kt_conf_t *c = x->c;
    config_setting_t *s;

    if ((s = s_member(node, "retry_max", S_INT)) != NULL) {
        long long v = config_setting_get_int64(s);

        if (v < KT_CONF_RETRY_MAX_MIN || v > KT_CONF_RETRY_MAX_MAX)
            s_err(x, s_line(s), "'node.retry_max' must be %d to %d seconds", KT_CONF_RETRY_MAX_MIN,
                  KT_CONF_RETRY_MAX_MAX);
        else
            c->retry_max = v;
    }
    if ((s = s_member(node, "max_message_age", S_INT)) != NULL) {
        long long v = config_setting_get_int64(s);

        if (v < KT_CONF_MAX_AGE_MIN || v > KT_CONF_MAX_AGE_MAX)
            s_err(x, s_line(s), "'node.max_message_age' must be %d to %d seconds",
                  KT_CONF_MAX_AGE_MIN, KT_CONF_MAX_AGE_MAX);
        else
            c->max_message_age = v;
    }
    if ((s = s_member(node, "log", S_STR)) != NULL) {
        const char *v = config_setting_get_string(s);

        if (strcmp(v, "stderr") == 0)
            c->log = KT_CONF_LOG_STDERR;
        else if (strcmp(v, "syslog") == 0)
            c->log = KT_CONF_LOG_SYSLOG;
        else
            s_err(x, s_line(s), "'node.log' must be \"stderr\" or \"syslog\"");
    }
}

static void s_node(struct s_ctx *x, const config_setting_t *node)
{
    kt_conf_t *c = x->c;
    config_setting_t *s;

    s_check_members(x, node, s_node_fields, S_NFIELDS(s_node_fields), "", "node.");
    if ((s = s_member(node, "id", S_STR)) != NULL) {
        if (kt_keys_valid_id(config_setting_get_string(s)))
            snprintf(c->id, sizeof(c->id), "%s", config_setting_get_string(s));
        else
            s_err(x, s_line(s), "'node.id' must be a node id: 1 to 64 of a-z, 0-9 and -");
    }
    if ((s = s_member(node, "listen", S_STR)) != NULL)
        c->listen = s_endpoint(x, s, "", "node.listen", 1);
    if ((s = s_member(node, "store", S_STR)) != NULL) {
        c->store_path = s_path(x, s, "", "node.store");
        s_check_dir(x, s_line(s), "node.store", c->store_path, 1);
    }
    if ((s = s_member(node, "control", S_STR)) != NULL) {
        c->control_path = s_path(x, s, "", "node.control");
        s_check_dir(x, s_line(s), "node.control", c->control_path, 1);
    }
    if ((s = s_member(node, "policies", S_STR)) != NULL) {
        c->policies_dir = s_path(x, s, "", "node.policies");
        s_check_dir(x, s_line(s), "node.policies", c->policies_dir, 0);
    }
    s_node_scalars(x, node);
    if ((s = s_member(node, "key", S_STR)) != NULL) {
        c->key_path = s_path(x, s, "", "node.key");
        s_node_key(x, s);
    }
}

/* ---- access ---- */

static int s_valid_name(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || n > 32 || s[0] == '-')
        return 0;
    for (i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", s[i]))
            return 0;
    return 1;
}

static int s_parse_number(const char *s, uint32_t *out)
{
    unsigned long long v = 0;
    size_t i, n = strlen(s);

    if (n == 0 || n > 10 || (n > 1 && s[0] == '0'))
        return 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (unsigned long long)(s[i] - '0');
    }
    if (v >= UINT32_MAX) /* (uid_t)-1 means "no user" */
        return 0;
    *out = (uint32_t)v;
    return 1;
}

static int s_lookup(const char *name, int is_group, uint32_t *id)
{
    char buf[16384];
    int rc;

    if (is_group) {
        struct group gr, *res = NULL;

        rc = getgrnam_r(name, &gr, buf, sizeof(buf), &res);
        if (rc == 0 && res != NULL)
            *id = (uint32_t)res->gr_gid;
        return rc == 0 && res != NULL;
    } else {
        struct passwd pw, *res = NULL;

        rc = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
        if (rc == 0 && res != NULL)
            *id = (uint32_t)res->pw_uid;
        return rc == 0 && res != NULL;
    }
}

/* "user:NAME", "group:NAME", "uid:N" or "gid:N". 0 or an error already
 * reported. */
static int s_principal(struct s_ctx *x, const config_setting_t *e, const char *what, int idx,
                       kt_conf_principal_t *p)
{
    const char *v = config_setting_get_string(e);
    int by_name;

    if (v == NULL) {
        s_err(x, s_line(e), "'%s' entry %d must be a string", what, idx);
        return -1;
    }
    p->is_group = strncmp(v, "group:", 6) == 0 || strncmp(v, "gid:", 4) == 0;
    by_name = strncmp(v, "user:", 5) == 0 || strncmp(v, "group:", 6) == 0;
    if (!by_name && strncmp(v, "uid:", 4) != 0 && strncmp(v, "gid:", 4) != 0) {
        s_err(x, s_line(e), "'%s' entry %d must read user:NAME, group:NAME, uid:N or gid:N", what,
              idx);
        return -1;
    }
    if (by_name ? !s_valid_name(strchr(v, ':') + 1) : !s_parse_number(v + 4, &p->id)) {
        s_err(x, s_line(e), "'%s' entry %d: not a valid %s", what, idx,
              by_name ? "user or group name" : "uid or gid");
        return -1;
    }
    if (by_name && !(x->flags & KT_CONF_SYNTAX_ONLY) &&
        !s_lookup(strchr(v, ':') + 1, p->is_group, &p->id)) {
        s_err(x, s_line(e), "'%s' entry %d: no such %s on this system", what, idx,
              p->is_group ? "group" : "user");
        return -1;
    }
    if ((p->name = s_strdup(x, v)) == NULL)
        return -1;
    return 0;
}

static void s_principals(struct s_ctx *x, const config_setting_t *list, const char *what,
                         kt_conf_principal_t **out, size_t *nout)
{
    int i, n = config_setting_length(list);
    size_t j;

    if (n <= 0 || (*out = calloc((size_t)n, sizeof(**out))) == NULL) {
        x->col.nomem |= n > 0;
        return;
    }
    for (i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
        kt_conf_principal_t *p = &(*out)[*nout];

        if (s_principal(x, e, what, i + 1, p) != 0)
            continue;
        for (j = 0; j < *nout; j++)
            if (strcmp((*out)[j].name, p->name) == 0 ||
                (!(x->flags & KT_CONF_SYNTAX_ONLY) && (*out)[j].is_group == p->is_group &&
                 (*out)[j].id == p->id))
                break;
        if (j < *nout) {
            s_err(x, s_line(e), "'%s' entry %d names the same %s as entry %zu", what, i + 1,
                  p->is_group ? "group" : "user", j + 1);
            free(p->name);
            p->name = NULL;
            continue;
        }
        (*nout)++;
    }
}

static void s_access(struct s_ctx *x, const config_setting_t *access)
{
    config_setting_t *s;

    s_check_members(x, access, s_access_fields, S_NFIELDS(s_access_fields), "", "access.");
    if ((s = s_member(access, "operators", S_STR_LIST)) != NULL)
        s_principals(x, s, "access.operators", &x->c->operators, &x->c->n_operators);
    if ((s = s_member(access, "auditors", S_STR_LIST)) != NULL)
        s_principals(x, s, "access.auditors", &x->c->auditors, &x->c->n_auditors);
}

/* ---- partners ---- */

static void s_partner_key(struct s_ctx *x, kt_conf_partner_t *p, const config_setting_t *s,
                          const char *who)
{
    kt_diag_t d = {{0}};

    if (p->key_path == NULL || (x->flags & KT_CONF_SYNTAX_ONLY))
        return;
    if (kt_keys_load_public(&p->pub, p->key_path, &d) != 0) {
        s_err(x, s_line(s), "%s%s", who, d.msg);
        return;
    }
    kt_keys_fingerprint(p->fingerprint, &p->pub);
    if (p->id[0] != '\0' && strcmp(p->pub.id, p->id) != 0)
        s_err(x, s_line(s), "%skey file %s belongs to node '%s'", who, p->key_path, p->pub.id);
    else if (p->role != 0 && p->pub.role != p->role)
        s_err(x, s_line(s), "%skey file %s is for a %s, not a %s", who, p->key_path,
              kt_role_name(p->pub.role), kt_role_name(p->role));
    else if (strcmp(p->fingerprint, x->c->fingerprint) == 0)
        s_err(x, s_line(s), "%skey file %s is this node's own key", who, p->key_path);
}

/* Checks p against the node and the partners before it. */
static void s_partner_unique(struct s_ctx *x, const kt_conf_partner_t *p, size_t n, const char *who)
{
    size_t i;

    if (p->id[0] != '\0' && strcmp(p->id, x->c->id) == 0)
        s_err(x, p->line, "%sa partner cannot have the node's own id", who);
    for (i = 0; i < n; i++) {
        const kt_conf_partner_t *q = &x->c->partners[i];

        /* A key file must name its partner's id, so a repeated key is a
         * repeated id. */
        if (p->id[0] != '\0' && strcmp(p->id, q->id) == 0)
            s_err(x, p->line, "%sduplicate partner id (first at line %d)", who, q->line);
    }
}

static void s_partner(struct s_ctx *x, const config_setting_t *g, size_t idx)
{
    kt_conf_partner_t *p = &x->c->partners[idx];
    config_setting_t *s;
    char who[KT_NODE_ID_MAX + 32];

    p->line = s_line(g);
    snprintf(who, sizeof(who), "partner #%zu: ", idx + 1);
    if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
        s_err(x, p->line, "%smust be a group { id = ...; role = ...; key = ...; endpoint = ...; }",
              who);
        return;
    }
    if ((s = s_member(g, "id", S_STR)) != NULL) {
        if (kt_keys_valid_id(config_setting_get_string(s))) {
            snprintf(p->id, sizeof(p->id), "%s", config_setting_get_string(s));
            snprintf(who, sizeof(who), "partner '%s': ", p->id);
        } else {
            s_err(x, s_line(s), "%s'id' must be a node id: 1 to 64 of a-z, 0-9 and -", who);
        }
    }
    s_check_members(x, g, s_partner_fields, S_NFIELDS(s_partner_fields), who, "");
    if ((s = s_member(g, "role", S_STR)) != NULL &&
        kt_role_parse(config_setting_get_string(s), &p->role) != 0) {
        p->role = 0;
        s_err(x, s_line(s), "%s'role' must be school, swv or gemeente", who);
    }
    if ((s = s_member(g, "endpoint", S_STR)) != NULL)
        p->endpoint = s_endpoint(x, s, who, "endpoint", 0);
    if ((s = s_member(g, "key", S_STR)) != NULL) {
        p->key_path = s_path(x, s, who, "key");
        s_partner_key(x, p, s, who);
    }
    s_partner_unique(x, p, idx, who);
}

static void s_partners(struct s_ctx *x, const config_setting_t *list)
{
    int i, n = config_setting_length(list);

    if (n <= 0)
        return;
    if ((x->c->partners = calloc((size_t)n, sizeof(*x->c->partners))) == NULL) {
        x->col.nomem = 1;
        return;
    }
    for (i = 0; i < n; i++) {
        s_partner(x, config_setting_get_elem(list, (unsigned)i), (size_t)i);
        x->c->n_partners++;
    }
}

/* ---- the file ---- */

static void s_root(struct s_ctx *x, const config_setting_t *root)
{
    config_setting_t *s;

    s_check_members(x, root, s_top_fields, S_NFIELDS(s_top_fields), "", "");
    if ((s = s_member(root, "node", S_GROUP)) != NULL)
        s_node(x, s);
    if ((s = s_member(root, "access", S_GROUP)) != NULL)
        s_access(x, s);
    if ((s = s_member(root, "partners", S_GROUP_LIST)) != NULL)
        s_partners(x, s);
}

static void s_parse_text(struct s_ctx *x, const char *text)
{
    config_t cfg;

    if (kt_conf_refuse_include(&x->col, text, "keep the configuration in one file"))
        return;
    config_init(&cfg);
    if (config_read_string(&cfg, text) != CONFIG_TRUE) {
        s_err(x, config_error_line(&cfg), "%s",
              config_error_text(&cfg) ? config_error_text(&cfg) : "syntax error");
    } else {
        s_root(x, config_root_setting(&cfg));
    }
    config_destroy(&cfg);
}

static char *s_dir_of(const char *name, int flags)
{
    char *copy = strdup(name), *dir, *out;

    if (copy == NULL)
        return NULL;
    dir = dirname(copy);
    out = (flags & KT_CONF_SYNTAX_ONLY) ? NULL : realpath(dir, NULL);
    if (out == NULL)
        out = strdup(dir);
    free(copy);
    return out;
}

int kt_conf_parse(kt_conf_t **out, const char *text, size_t len, const char *name, int flags,
                  kt_conf_errors_t *errs)
{
    struct s_ctx x = {.flags = flags};
    char *buf = NULL;
    int rc = 0;

    *out = NULL;
    x.col.errs = errs;
    x.col.max = KT_CONF_ERRORS_MAX;
    kt_conf_collect_file(&x.col, name);
    if (len > KT_CONF_FILE_MAX) {
        s_err(&x, 0, "larger than %d bytes", KT_CONF_FILE_MAX);
        return KT_ETOOBIG;
    }
    if ((x.c = calloc(1, sizeof(*x.c))) == NULL || (buf = malloc(len + 1)) == NULL ||
        (x.c->path = strdup(name)) == NULL || (x.dir = s_dir_of(name, flags)) == NULL) {
        x.col.nomem = 1;
        goto out;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    x.c->max_message_age = KT_CONF_MAX_AGE_DEFAULT;
    x.c->retry_max = KT_CONF_RETRY_MAX_DEFAULT;
    s_parse_text(&x, buf);
out:
    if (x.col.nomem) {
        kt_conf_collect_msg(&x.col, INT_MAX, strdup("out of memory reading the configuration"));
        rc = KT_ENOMEM;
    } else if (x.col.nerrs > 0) {
        rc = KT_ECONFIG;
    }
    kt_conf_collect_sort(&x.col);
    kt_conf_collect_done(&x.col);
    free(buf);
    free(x.dir);
    if (rc == 0)
        *out = x.c;
    else
        kt_conf_destroy(&x.c);
    return rc;
}

static int s_read_file(const char *path, char **buf, size_t *len, kt_conf_errors_t *errs)
{
    struct s_ctx x = {.flags = 0};
    struct stat sb;
    ssize_t r;
    size_t got = 0;
    int fd, rc = KT_EIO;

    x.col.errs = errs;
    x.col.max = KT_CONF_ERRORS_MAX;
    kt_conf_collect_file(&x.col, path);
    *buf = NULL;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
        rc = errno == ENOENT ? KT_ENOENT : KT_EIO;
        s_err(&x, 0, "cannot open: %s", strerror(errno));
        kt_conf_collect_done(&x.col);
        return x.col.nomem ? KT_ENOMEM : rc;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        s_err(&x, 0, "not a regular file");
    } else if (sb.st_mode & (S_IWGRP | S_IWOTH)) {
        s_err(&x, 0, "configuration is writable by group or others; run: chmod go-w %s", path);
        rc = KT_EPERM;
    } else if (sb.st_size > KT_CONF_FILE_MAX) {
        s_err(&x, 0, "larger than %d bytes", KT_CONF_FILE_MAX);
        rc = KT_ETOOBIG;
    } else if ((*buf = malloc((size_t)sb.st_size + 1)) == NULL) {
        s_err(&x, 0, "out of memory reading the configuration");
        rc = KT_ENOMEM;
    } else {
        rc = 0;
        while (rc == 0 && got < (size_t)sb.st_size) {
            r = read(fd, *buf + got, (size_t)sb.st_size - got);
            if (r > 0)
                got += (size_t)r;
            else if (r == 0)
                break; /* shrank while we read: parse what is there */
            else if (errno != EINTR)
                rc = KT_EIO;
        }
        if (rc != 0)
            s_err(&x, 0, "cannot read: %s", strerror(errno));
        *len = got;
    }
    close(fd);
    kt_conf_collect_done(&x.col);
    if (x.col.nomem)
        rc = KT_ENOMEM;
    if (rc != 0) {
        free(*buf);
        *buf = NULL;
    }
    return rc;
}

int kt_conf_load(kt_conf_t **out, const char *path, kt_conf_errors_t *errs)
{
    char *buf = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    if ((rc = s_read_file(path, &buf, &len, errs)) != 0)
        return rc;
    rc = kt_conf_parse(out, buf, len, path, 0, errs);
    free(buf);
    return rc;
}

static void s_free_principals(kt_conf_principal_t *p, size_t n)
{
    size_t i;

    for (i = 0; p != NULL && i < n; i++)
        free(p[i].name);
    free(p);
}

void kt_conf_destroy(kt_conf_t **p)
{
    kt_conf_t *c;
    size_t i;

    if (p == NULL || (c = *p) == NULL)
        return;
    for (i = 0; c->partners != NULL && i < c->n_partners; i++) {
        free(c->partners[i].key_path);
        free(c->partners[i].endpoint);
    }
    free(c->partners);
    s_free_principals(c->operators, c->n_operators);
    s_free_principals(c->auditors, c->n_auditors);
    kt_keys_destroy(&c->keys);
    free(c->path);
    free(c->key_path);
    free(c->listen);
    free(c->store_path);
    free(c->control_path);
    free(c->policies_dir);
    free(c);
    *p = NULL;
}

const kt_conf_partner_t *kt_conf_partner(const kt_conf_t *c, const char *id)
{
    size_t i;

    for (i = 0; i < c->n_partners; i++)
        if (strcmp(c->partners[i].id, id) == 0)
            return &c->partners[i];
    return NULL;
}

int kt_conf_principal_matches(const kt_conf_principal_t *list, size_t n, uid_t uid,
                              const gid_t *gids, size_t ngids)
{
    size_t i, j;

    for (i = 0; i < n; i++) {
        if (!list[i].is_group && list[i].id == (uint32_t)uid)
            return 1;
        for (j = 0; list[i].is_group && j < ngids; j++)
            if (list[i].id == (uint32_t)gids[j])
                return 1;
    }
    return 0;
}

void kt_conf_errors_free(kt_conf_errors_t *e)
{
    size_t i;

    if (e == NULL)
        return;
    for (i = 0; i < e->count; i++)
        free(e->msg[i]);
    free(e->msg);
    e->msg = NULL;
    e->count = 0;
}

/* ---- the error collector (conf.h) ---- */

void kt_conf_collect_file(kt_conf_collector_t *c, const char *name)
{
    c->name = name;
    c->base = c->errs ? c->errs->count : 0;
    free(c->lines);
    c->lines = NULL;
}

void kt_conf_collect_msg(kt_conf_collector_t *c, int line, char *msg)
{
    char **grown;
    int *lines;

    if (msg == NULL) {
        c->nomem = 1;
        return;
    }
    if (c->errs == NULL) {
        free(msg);
        return;
    }
    if ((grown = realloc(c->errs->msg, (c->errs->count + 1) * sizeof(*grown))) == NULL) {
        c->nomem = 1;
        free(msg);
        return;
    }
    c->errs->msg = grown;
    if ((lines = realloc(c->lines, (c->errs->count - c->base + 1) * sizeof(*lines))) == NULL) {
        c->nomem = 1;
        free(msg);
        return;
    }
    c->lines = lines;
    c->lines[c->errs->count - c->base] = line;
    c->errs->msg[c->errs->count++] = msg;
}

void kt_conf_vcollect(kt_conf_collector_t *c, int line, const char *fmt, va_list ap)
{
    char body[KT_DIAG_BYTES], *msg = NULL;
    int key = line;

    c->nerrs++;
    if (c->nerrs > c->max)
        return;
    if (c->nerrs == c->max) {
        snprintf(body, sizeof(body), "too many errors; stopping here");
        line = 0;
        key = INT_MAX;
    } else {
        vsnprintf(body, sizeof(body), fmt, ap);
    }
    if ((line > 0 ? asprintf(&msg, "%s:%d: %s", c->name, line, body)
                  : asprintf(&msg, "%s: %s", c->name, body)) < 0)
        msg = NULL;
    kt_conf_collect_msg(c, key, msg);
}

void kt_conf_collect(kt_conf_collector_t *c, int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    kt_conf_vcollect(c, line, fmt, ap);
    va_end(ap);
}

/* Stable: checks run group by group, the reader reads top down. */
void kt_conf_collect_sort(kt_conf_collector_t *c)
{
    size_t i, j, n;

    if (c->errs == NULL || c->lines == NULL)
        return;
    n = c->errs->count - c->base;
    for (i = 1; i < n; i++) {
        char *m = c->errs->msg[c->base + i];
        int l = c->lines[i];

        for (j = i; j > 0 && c->lines[j - 1] > l; j--) {
            c->lines[j] = c->lines[j - 1];
            c->errs->msg[c->base + j] = c->errs->msg[c->base + j - 1];
        }
        c->lines[j] = l;
        c->errs->msg[c->base + j] = m;
    }
}

void kt_conf_collect_done(kt_conf_collector_t *c)
{
    free(c->lines);
    c->lines = NULL;
}

int kt_conf_refuse_include(kt_conf_collector_t *c, const char *text, const char *advice)
{
    const char *p = text;
    int line = 1, found = 0;

    while (*p != '\0') {
        const char *q = p;

        while (*q == ' ' || *q == '\t')
            q++;
        if (strncmp(q, "@include", 8) == 0) {
            kt_conf_collect(c, line, "@include is not allowed; %s", advice);
            found = 1;
        }
        if ((p = strchr(p, '\n')) == NULL)
            break;
        p++;
        line++;
    }
    return found;
}
