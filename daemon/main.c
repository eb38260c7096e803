/*
 * main.c - ketend: the command line, then daemon.c.
 *
 * Owns option parsing, exit codes (0 ok, 1 error, 2 usage) and library
 * initialisation. Must never daemonize (systemd and the tests supervise a
 * foreground process) and never do work that belongs in a module.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keten/keys.h"

#include "keten/daemon.h"
#include "keten/log.h"

#ifndef KT_SYSCONFDIR
#define KT_SYSCONFDIR "/usr/local/etc"
#endif
#define KT_DEFAULT_CONF KT_SYSCONFDIR "/keten/ketend.conf"

enum { KT_EXIT_OK = 0, KT_EXIT_ERR = 1, KT_EXIT_USAGE = 2 };

static void s_usage(FILE *out)
{
    fprintf(out, "usage: ketend [-dhnv] [-c FILE]\n"
                 "  -c FILE  configuration file (default " KT_DEFAULT_CONF ")\n"
                 "  -d       debug: log to stderr whatever the configuration says, verbosely\n"
                 "  -h       print this help\n"
                 "  -n       check the configuration and keys, print `configuration OK', exit\n"
                 "  -v       verbose logging\n"
                 "ketend runs in the foreground; SIGHUP reloads the configuration,\n"
                 "SIGTERM or SIGINT stop it. See ketend(8) and keten.conf(5).\n");
}

int main(int argc, char **argv)
{
    const char *conf = KT_DEFAULT_CONF;
    int ch, check = 0, debug = 0, verbose = 0, rc;
    kt_daemon_t *dm = NULL;

    while ((ch = getopt(argc, argv, "c:dhnv")) != -1) {
        switch (ch) {
        case 'c':
            conf = optarg;
            break;
        case 'd':
            debug = 1;
            break;
        case 'h':
            s_usage(stdout);
            return KT_EXIT_OK;
        case 'n':
            check = 1;
            break;
        case 'v':
            verbose = 1;
            break;
        default:
            s_usage(stderr);
            return KT_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "ketend: unexpected argument '%s'\n", argv[optind]);
        s_usage(stderr);
        return KT_EXIT_USAGE;
    }
    if (kt_keys_init() < 0) {
        fprintf(stderr, "ketend: cannot initialise libsodium\n");
        return KT_EXIT_ERR;
    }
    if (check)
        return kt_daemon_check(conf) == 0 ? KT_EXIT_OK : KT_EXIT_ERR;
    if (kt_daemon_init(&dm, conf, debug, verbose) != 0)
        return KT_EXIT_ERR;
    rc = kt_daemon_run(dm);
    kt_daemon_destroy(&dm);
    return rc == 0 ? KT_EXIT_OK : KT_EXIT_ERR;
}
