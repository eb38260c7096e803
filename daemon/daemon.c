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

#include "keten/daemon.h"
#include "keten/log.h"

struct kt_daemon {
    char *conf_path;
    int debug;
    int verbose;
    kt_conf_t *conf;
    kt_store_t *store;
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
    kt_log_info("node %s (fingerprint %s) ready, store schema v%d", dm->conf->id,
                dm->conf->fingerprint, v);
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
    struct pollfd p = {.fd = dm->sig[0], .events = POLLIN};

    for (;;) {
        if (poll(&p, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            kt_log_warn("poll");
            return KT_EIO;
        }
        if ((p.revents & POLLIN) && s_handle_signals(dm))
            return 0;
    }
}

void kt_daemon_destroy(kt_daemon_t **p)
{
    kt_daemon_t *dm;

    if (p == NULL || (dm = *p) == NULL)
        return;
    s_signals_restore(dm);
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
