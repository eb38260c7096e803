/*
 * cmd_purge.c - running the node's purge job now.
 *
 * ketend runs the job every minute; an operator (or a test proving that
 * nothing of a pupil remains) runs it at once with this command and sees
 * what it did. Prints counts only: the reply carries no personal data, and
 * this file must never add any.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"
#include "ketenctl.h"

#define S_USAGE "purge [-s PATH] [--json]"

static long long s_count(json_t *reply, const char *key)
{
    return (long long)json_integer_value(json_object_get(reply, key));
}

static void s_print(json_t *reply)
{
    printf("retractions queued:  %lld\n", s_count(reply, "retractions"));
    printf("received deleted:    %lld\n", s_count(reply, "inbox"));
    printf("sent deleted:        %lld\n", s_count(reply, "outbox"));
    printf("consents deleted:    %lld\n", s_count(reply, "consents"));
    printf("attendance deleted:  %lld\n", s_count(reply, "attendance"));
    printf("pupil keys deleted:  %lld\n", s_count(reply, "subjects"));
}

int cmd_purge(int argc, char **argv)
{
    kt_ctl_opts_t o = {0};
    json_t *req, *reply = NULL;
    int i, rc;

    for (i = 1; i < argc; i++) {
        int r;

        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s %s\n", kt_progname, S_USAGE);
            return KT_EXIT_OK;
        }
        if ((r = kt_ctl_opt(&o, argc, argv, &i)) < 0)
            return KT_EXIT_USAGE;
        if (r == 0) {
            kt_err("purge: unexpected argument '%s'", argv[i]);
            fprintf(stderr, "usage: %s %s\n", kt_progname, S_USAGE);
            return KT_EXIT_USAGE;
        }
    }
    if ((req = json_pack("{s:s}", "cmd", "purge")) == NULL) {
        kt_err("out of memory");
        return KT_EXIT_ERR;
    }
    rc = kt_ctl_run(&o, req, &reply);
    if (rc == KT_EXIT_OK) {
        if (o.json)
            kt_ctl_print_json(stdout, reply);
        else
            s_print(reply);
    }
    json_decref(reply);
    json_decref(req);
    return rc;
}
