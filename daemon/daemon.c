/*
 * daemon.c - the ketend process: holds the running configuration and the
 * store, turns signals into events and runs the loop.
 *
 * Owns process-wide state (signal dispositions, the log destination) and
 * the order of start-up and shut-down. Must never swap in a configuration
 * that failed its checks, never exit from a signal handler (the handler only
 * writes to a pipe; the loop decides), and never leave the store open on a
 * clean exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keten/commands.h"
#include "keten/commands_audit.h"
#include "keten/audit.h"
#include "keten/audit_node.h"
#include "keten/commands_consent.h"
#include "keten/commands_reconcile.h"
#include "keten/commands_subject.h"
#include "keten/commands_registry.h"
#include "keten/commands_signals.h"
#include "keten/control.h"
#include "keten/enforce.h"
#include "keten/daemon.h"
#include "keten/exchange.h"
#include "keten/log.h"
#include "keten/trail.h"

struct kt_daemon {
    char *conf_path;
    int debug;
    int verbose;
    kt_conf_t *conf;
    kt_store_t *store;
    kt_exchange_t *x;
    kt_control_t *ctl;
    kt_commands_t cmds;
    kt_commands_consent_t consent;
    kt_commands_reconcile_t reconcile;
    kt_reconcile_t *rc;
    kt_policy_set_t *policies; /* in force; a reload swaps it only if the new one loads */
    kt_enforce_t enforce;
    int sig[2]; /* self-pipe: handler writes the signal number */
    int handlers;
};

static const int s_signals[] = {SIGHUP, SIGTERM, SIGINT};
static int s_sig_wr = -1;

static void s_on_signal(int signo)
{
    int saved = errno;
    unsigned char b = (unsigned char)signo;

    if (s_sig_wr >= 0)
        (void)!write(s_sig_wr, &b, 1); /* a full pipe already holds a wake-up */
    errno = saved;
}

static void s_print_errors(const kt_conf_errors_t *e, int to_log)
{
    size_t i;

    for (i = 0; i < e->count; i++) {
        if (to_log)
            kt_log_warnx("%s", e->msg[i]);
        else
            fprintf(stderr, "%s\n", e->msg[i]);
    }
}

int kt_daemon_check(const char *conf_path)
{
    kt_conf_errors_t errs = {0};
    kt_conf_t *c = NULL;
    int rc;

    rc = kt_conf_load(&c, conf_path, &errs);
    if (rc != 0)
        s_print_errors(&errs, 0);
    else
        fprintf(stderr, "configuration OK\n");
    kt_conf_errors_free(&errs);
    kt_conf_destroy(&c);
    return rc;
}

static void s_log_setup(const kt_daemon_t *dm)
{
    int to_stderr = dm->debug || dm->conf->log == KT_CONF_LOG_STDERR;

    kt_log_init("ketend", to_stderr, dm->verbose || dm->debug);
}

static int s_signals_install(kt_daemon_t *dm)
{
    struct sigaction sa;
    size_t i;

    if (pipe2(dm->sig, O_CLOEXEC | O_NONBLOCK) != 0) {
        kt_log_warn("cannot create the signal pipe");
        return KT_EIO;
    }
    s_sig_wr = dm->sig[1];
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = s_on_signal;
    for (i = 0; i < sizeof(s_signals) / sizeof(s_signals[0]); i++)
        if (sigaction(s_signals[i], &sa, NULL) != 0) {
            kt_log_warn("cannot install a signal handler");
            return KT_EIO;
        }
    signal(SIGPIPE, SIG_IGN); /* peers that vanish are errors, not deaths */
    /* A file size limit reached is a failed write (EFBIG: SQLite reports the
     * disk full and the action is refused), not a death. */
    signal(SIGXFSZ, SIG_IGN);
    dm->handlers = 1;
    return 0;
}

static void s_signals_restore(kt_daemon_t *dm)
{
    size_t i;

    if (dm->handlers)
        for (i = 0; i < sizeof(s_signals) / sizeof(s_signals[0]); i++)
            signal(s_signals[i], SIG_DFL);
    dm->handlers = 0;
    s_sig_wr = -1;
    if (dm->sig[0] >= 0)
        close(dm->sig[0]);
    if (dm->sig[1] >= 0)
        close(dm->sig[1]);
    dm->sig[0] = dm->sig[1] = -1;
}

static int s_open_store(kt_daemon_t *dm)
{
    kt_diag_t d = {{0}};
    int rc;

    if ((rc = kt_store_open(&dm->store, dm->conf->store_path, &d)) != 0) {
        kt_log_warnx("%s", d.msg);
        return rc;
    }
    return 0;
}

static void s_access_free(kt_access_list_t *a)
{
    free(a->uids);
    free(a->gids);
    memset(a, 0, sizeof(*a));
}

/* access.operators or access.auditors as the control socket wants them. */
static int s_access(kt_access_list_t *a, const kt_conf_principal_t *p, size_t n)
{
    size_t i;

    memset(a, 0, sizeof(*a));
    a->uids = calloc(n ? n : 1, sizeof(*a->uids));
    a->gids = calloc(n ? n : 1, sizeof(*a->gids));
    if (a->uids == NULL || a->gids == NULL) {
        s_access_free(a);
        return KT_ENOMEM;
    }
    for (i = 0; i < n; i++) {
        if (p[i].is_group)
            a->gids[a->ngids++] = (gid_t)p[i].id;
        else
            a->uids[a->nuids++] = (uid_t)p[i].id;
    }
    return 0;
}

static int s_access_pair(const kt_conf_t *c, kt_access_list_t *ops, kt_access_list_t *auds)
{
    if (s_access(ops, c->operators, c->n_operators) != 0)
        return KT_ENOMEM;
    if (s_access(auds, c->auditors, c->n_auditors) != 0) {
        s_access_free(ops);
        return KT_ENOMEM;
    }
    return 0;
}

/* Loads the policy directory of c; every error is logged. */
static int s_policies_load(const kt_conf_t *c, kt_policy_set_t **out)
{
    kt_conf_errors_t errs = {0};
    kt_policy_roles_t roles;
    int rc;

    kt_policy_roles_from_conf(&roles, c);
    if ((rc = kt_policy_load(out, c->policies_dir, &roles, &errs)) != 0)
        s_print_errors(&errs, 1);
    kt_conf_errors_free(&errs);
    return rc;
}

/* After a consent decision: held records may go now, or sent ones must be
 * taken back. Failures are logged; the purge job and the next grant retry. */
static void s_consent_granted(void *ctx, const uint8_t id[KT_CONSENT_ID_BYTES])
{
    kt_daemon_t *dm = ctx;
    kt_diag_t d = {{0}};
    size_t n = 0;

    (void)id;
    if (kt_exchange_release_held(dm->x, &n, &d) != 0)
        kt_log_warnx("releasing held records: %s", d.msg);
}

static void s_consent_withdrawn(void *ctx, const uint8_t id[KT_CONSENT_ID_BYTES])
{
    kt_daemon_t *dm = ctx;
    kt_diag_t d = {{0}};
    size_t n = 0;

    if (kt_exchange_retract_consent(dm->x, id, &n, &d) != 0)
        kt_log_warnx("retracting records: %s", d.msg);
}

/* A consent decision's audit entry, inside the command's transaction: no
 * consent change without it. */
static int s_consent_audit(void *ctx, kt_store_t *st, const kt_ctl_caller_t *who,
                           const char *action, const kt_consent_t *c, kt_diag_t *d)
{
    char actor[KT_AUDIT_ACTOR_MAX + 1];

    (void)ctx;
    kt_trail_uid(actor, (unsigned)who->uid);
    return kt_audit_node_consent(st, actor, action, c, d);
}

/* The network side and the control socket. */
static int s_services_start(kt_daemon_t *dm)
{
    kt_control_opts_t opts;
    kt_diag_t d = {{0}};
    int rc;

    if ((rc = s_policies_load(dm->conf, &dm->policies)) != 0)
        return rc;
    kt_enforce_init(&dm->enforce, (const kt_policy_set_t *const *)&dm->policies, dm->store);
    if ((rc = kt_exchange_new(&dm->x, dm->conf, dm->store, &dm->enforce.hook, &d)) != 0) {
        kt_log_warnx("%s: %s", dm->conf->listen, d.msg);
        return rc;
    }
    dm->enforce.vault = kt_exchange_vault(dm->x);
    dm->enforce.pseudonym = kt_exchange_pseudonym;
    dm->enforce.pseudonym_ctx = dm->x;
    /* Fail closed: a node that cannot audit its configuration does not run. */
    if ((rc = kt_audit_node_config(dm->store, dm->conf, dm->policies, KT_TRAIL_DAEMON, &d)) != 0) {
        kt_log_warnx("audit log: %s", d.msg);
        return rc;
    }
    memset(&opts, 0, sizeof(opts));
    opts.socket_group = (gid_t)-1;
    if ((rc = s_access_pair(dm->conf, &opts.operators, &opts.auditors)) != 0)
        return rc;
    rc = kt_control_new(&dm->ctl, &opts, &d);
    s_access_free(&opts.operators);
    s_access_free(&opts.auditors);
    if (rc != 0) {
        kt_log_warnx("control socket: %s", d.msg);
        return rc;
    }
    dm->cmds.x = dm->x;
    dm->cmds.st = dm->store;
    dm->cmds.conf = (const kt_conf_t *const *)&dm->conf;
    if ((rc = kt_commands_register(dm->ctl, &dm->cmds)) != 0)
        return rc;
    dm->consent.cmds = &dm->cmds;
    dm->consent.events.audit = s_consent_audit;
    dm->consent.events.granted = s_consent_granted;
    dm->consent.events.withdrawn = s_consent_withdrawn;
    dm->consent.events.ctx = dm;
    if ((rc = kt_commands_consent_register(dm->ctl, &dm->consent)) != 0)
        return rc;
    if ((rc = kt_commands_registry_register(dm->ctl, &dm->cmds)) != 0)
        return rc;
    if ((rc = kt_commands_audit_register(dm->ctl, &dm->cmds)) != 0)
        return rc;
    if ((rc = kt_commands_signals_register(dm->ctl, &dm->cmds)) != 0)
        return rc;
    if ((rc = kt_commands_subject_register(dm->ctl, &dm->cmds)) != 0)
        return rc;
    {
        kt_reconcile_env_t env = {dm->x, dm->store, (const kt_conf_t *const *)&dm->conf,
                                  (const kt_policy_set_t *const *)&dm->policies};

        if ((rc = kt_reconcile_new(&dm->rc, &env)) != 0)
            return rc;
    }
    kt_exchange_set_handler(dm->x, kt_reconcile_on_message, dm->rc);
    dm->reconcile.cmds = &dm->cmds;
    dm->reconcile.rc = dm->rc;
    if ((rc = kt_commands_reconcile_register(dm->ctl, &dm->reconcile)) != 0)
        return rc;
    if ((rc = kt_control_listen(dm->ctl, dm->conf->control_path, &d)) != 0) {
        kt_log_warnx("%s", d.msg);
        return rc;
    }
    return 0;
}

int kt_daemon_init(kt_daemon_t **out, const char *conf_path, int debug, int verbose)
{
    kt_conf_errors_t errs = {0};
    kt_daemon_t *dm = NULL;
    int rc, v;

    *out = NULL;
    kt_log_init("ketend", 1, verbose || debug); /* until the config says where */
    if ((dm = calloc(1, sizeof(*dm))) == NULL || (dm->conf_path = strdup(conf_path)) == NULL) {
        free(dm);
        kt_log_warnx("out of memory");
        return KT_ENOMEM;
    }
    dm->debug = debug;
    dm->verbose = verbose;
    dm->sig[0] = dm->sig[1] = -1;
    if ((rc = kt_conf_load(&dm->conf, conf_path, &errs)) != 0) {
        s_print_errors(&errs, 1);
        goto out;
    }
    s_log_setup(dm);
    if ((rc = s_open_store(dm)) != 0 || (rc = s_signals_install(dm)) != 0)
        goto out;
    if ((v = kt_store_schema_version(dm->store, NULL)) < 0) {
        rc = v;
        goto out;
    }
    if ((rc = s_services_start(dm)) != 0)
        goto out;
    kt_log_info("node %s (fingerprint %s) ready, store schema v%d, listening on %s, control "
                "socket %s",
                dm->conf->id, dm->conf->fingerprint, v, kt_exchange_endpoint(dm->x),
                dm->conf->control_path);
    *out = dm;
out:
    kt_conf_errors_free(&errs);
    if (rc != 0)
        kt_daemon_destroy(&dm);
    return rc;
}

/* Settings the running process cannot take over without a restart. */
static int s_reload_allowed(const kt_conf_t *old, const kt_conf_t *nc)
{
    const char *what = NULL;

    if (strcmp(old->id, nc->id) != 0)
        what = "node.id";
    else if (strcmp(old->fingerprint, nc->fingerprint) != 0)
        what = "node.key";
    else if (strcmp(old->store_path, nc->store_path) != 0)
        what = "node.store";
    if (what == NULL)
        return 1;
    kt_log_warnx("%s: reload refused: %s changed, which needs a restart; keeping the running "
                 "configuration",
                 nc->path, what);
    return 0;
}

/* Puts nc in force for the network and the control socket. The running key
 * object stays (the transport holds it); nc's copy of the same key goes with
 * the old configuration. */
static int s_reload_services(kt_daemon_t *dm, kt_conf_t *nc)
{
    kt_access_list_t ops, auds;
    kt_keys_t *same = nc->keys;
    kt_diag_t d = {{0}};
    int rc;

    kt_policy_set_t *np = NULL;

    if ((rc = s_policies_load(nc, &np)) != 0) {
        kt_log_warnx("%s: reload failed: the policies in %s do not load; keeping the running "
                     "configuration and policies",
                     nc->path, nc->policies_dir);
        return rc;
    }
    /* The new configuration and its audit entries take effect together:
     * the entries are written, the exchange switches, then they commit; if
     * either fails, neither happens. */
    if ((rc = kt_store_begin(dm->store, &d)) != 0 ||
        (rc = kt_audit_node_config(dm->store, nc, np, KT_TRAIL_DAEMON, &d)) != 0) {
        kt_store_rollback(dm->store);
        kt_policy_set_destroy(&np);
        kt_log_warnx("%s: reload failed: audit log: %s; keeping the running configuration",
                     nc->path, d.msg);
        return rc;
    }
    nc->keys = dm->conf->keys;
    dm->conf->keys = same;
    if ((rc = kt_exchange_set_conf(dm->x, nc, &d)) != 0) {
        kt_store_rollback(dm->store);
        kt_policy_set_destroy(&np);
        dm->conf->keys = nc->keys;
        nc->keys = same;
        kt_log_warnx("%s: reload failed: %s; keeping the running configuration", nc->path, d.msg);
        return rc;
    }
    if ((rc = kt_store_commit(dm->store, &d)) != 0) {
        kt_store_rollback(dm->store);
        kt_log_warnx("%s: reload: the audit entries did not commit (%s); going back to the "
                     "running configuration",
                     nc->path, d.msg);
        dm->conf->keys = nc->keys;
        nc->keys = same;
        if (kt_exchange_set_conf(dm->x, dm->conf, &d) != 0)
            kt_log_warnx("cannot go back to the running configuration: %s", d.msg);
        kt_policy_set_destroy(&np);
        return rc;
    }
    kt_policy_set_destroy(&dm->policies);
    dm->policies = np;
    kt_log_info("policies loaded: %zu partner%s, %zu rule%s", kt_policy_set_partner_count(np),
                kt_policy_set_partner_count(np) == 1 ? "" : "s", kt_policy_set_rule_count(np),
                kt_policy_set_rule_count(np) == 1 ? "" : "s");
    /* A new version may no longer need consent (the 5a law change): held
     * records are decided again under it, as after a grant. */
    {
        size_t released = 0;

        if (kt_exchange_release_held(dm->x, &released, &d) != 0)
            kt_log_warnx("releasing held records: %s", d.msg);
    }
    if (s_access_pair(nc, &ops, &auds) == 0) {
        if (kt_control_set_access(dm->ctl, &ops, &auds) != 0)
            kt_log_warnx("access lists not updated: out of memory");
        s_access_free(&ops);
        s_access_free(&auds);
    }
    return 0;
}

int kt_daemon_reload(kt_daemon_t *dm)
{
    kt_conf_errors_t errs = {0};
    kt_conf_t *nc = NULL;
    int rc;

    kt_log_info("reloading %s", dm->conf_path);
    if ((rc = kt_conf_load(&nc, dm->conf_path, &errs)) != 0) {
        s_print_errors(&errs, 1);
        kt_log_warnx("%s: reload failed (%zu error%s); keeping the running configuration",
                     dm->conf_path, errs.count, errs.count == 1 ? "" : "s");
        kt_conf_errors_free(&errs);
        return rc;
    }
    if (!s_reload_allowed(dm->conf, nc)) {
        kt_conf_destroy(&nc);
        return KT_ECONFIG;
    }
    if (strcmp(dm->conf->listen, nc->listen) != 0 ||
        strcmp(dm->conf->control_path, nc->control_path) != 0)
        kt_log_warnx("node.listen or node.control changed: takes effect at the next restart");
    if ((rc = s_reload_services(dm, nc)) != 0) {
        kt_conf_destroy(&nc);
        return rc;
    }
    kt_conf_destroy(&dm->conf);
    dm->conf = nc;
    s_log_setup(dm);
    kt_log_info("configuration reloaded: node %s, %zu partner%s", nc->id, nc->n_partners,
                nc->n_partners == 1 ? "" : "s");
    return 0;
}

/* Drains the signal pipe; 1 if the loop must stop. */
static int s_handle_signals(kt_daemon_t *dm)
{
    unsigned char buf[16];
    ssize_t n, i;
    int stop = 0, reload = 0;

    while ((n = read(dm->sig[0], buf, sizeof(buf))) > 0)
        for (i = 0; i < n; i++) {
            if (buf[i] == SIGHUP)
                reload = 1;
            else
                stop = 1;
        }
    if (stop) {
        kt_log_info("shutting down");
        return 1;
    }
    if (reload)
        (void)!kt_daemon_reload(dm); /* logged; the old config stays */
    return 0;
}

int kt_daemon_run(kt_daemon_t *dm)
{
    for (;;) {
        struct pollfd fds[1 + 2 * KT_CONTROL_MAX_CLIENTS + 2];
        size_t n = 1;
        int rc;

        fds[0].fd = dm->sig[0];
        fds[0].events = POLLIN;
        n += kt_control_pollfds(dm->ctl, fds + 1, sizeof(fds) / sizeof(fds[0]) - 1);
        if ((rc = kt_exchange_poll(dm->x, KT_EXCHANGE_TICK_MS, fds, n)) != 0) {
            kt_log_warnx("network: %s", kt_strerror(rc));
            return rc;
        }
        if ((fds[0].revents & POLLIN) && s_handle_signals(dm))
            return 0;
        kt_reconcile_tick(dm->rc, (int64_t)time(NULL) * 1000);
        /* Every tick, ready or not: the control socket closes idle clients. */
        if ((rc = kt_control_handle(dm->ctl, fds + 1, n - 1)) != 0)
            kt_log_warnx("control socket: %s", kt_strerror(rc));
    }
}

void kt_daemon_destroy(kt_daemon_t **p)
{
    kt_daemon_t *dm;

    if (p == NULL || (dm = *p) == NULL)
        return;
    s_signals_restore(dm);
    if (dm->store != NULL && dm->conf != NULL && dm->conf->keys != NULL && dm->x != NULL) {
        kt_audit_checkpoint_t cp;
        kt_diag_t d = {{0}};
        int have = 0;

        /* The head at shutdown, signed: a copy of the stopped node's
         * database verifies to its last entry. */
        if (kt_audit_checkpoint(dm->store, dm->conf->keys, 1, time(NULL), &cp, &have, &d) != 0)
            kt_log_warnx("audit checkpoint at shutdown: %s", d.msg);
    }
    kt_control_destroy(&dm->ctl);
    if (dm->x != NULL)
        kt_exchange_set_handler(dm->x, NULL, NULL);
    kt_reconcile_destroy(&dm->rc);
    kt_exchange_destroy(&dm->x);
    kt_policy_set_destroy(&dm->policies);
    kt_store_close(&dm->store);
    kt_conf_destroy(&dm->conf);
    free(dm->conf_path);
    free(dm);
    *p = NULL;
}

const kt_conf_t *kt_daemon_conf(const kt_daemon_t *dm)
{
    return dm->conf;
}

kt_store_t *kt_daemon_store(kt_daemon_t *dm)
{
    return dm->store;
}
