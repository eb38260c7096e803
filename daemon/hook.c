/*
 * hook.c - decisions without policies (hook.h): kt_hook_addressed().
 *
 * A record goes exactly to the partners the operator named, and a
 * configured partner may send any valid record. Who is a partner is decided
 * before these hooks run (ZAP admits only configured keys; the envelope's
 * signer must be that partner). ketend runs the policy enforcement of
 * enforce.c; this exists for tests of the exchange alone and must never be
 * what a node runs in production.
 */
#include "keten/hook.h"

/* The operator addressed the record to this partner by name. */
static int s_outgoing(void *ctx, const char *partner, kt_record_t *rec, const char *date,
                      kt_hook_decision_t *dec, kt_diag_t *d)
{
    (void)ctx;
    (void)partner;
    (void)rec;
    (void)date;
    (void)dec;
    (void)d;
    return 0;
}

/* Only configured partners get this far, and only with a valid record. */
static int s_incoming(void *ctx, const char *sender, const kt_record_t *rec, const char *date,
                      kt_hook_decision_t *dec, kt_diag_t *d)
{
    (void)ctx;
    (void)sender;
    (void)rec;
    (void)date;
    (void)dec;
    (void)d;
    return 0;
}

/* Nobody unless named. */
static size_t s_recipients(void *ctx, const kt_record_t *rec, const char *date, const char **out,
                           size_t cap)
{
    (void)ctx;
    (void)rec;
    (void)date;
    (void)out;
    (void)cap;
    return 0;
}

static const kt_hook_t s_addressed = {
    .outgoing = s_outgoing,
    .incoming = s_incoming,
    .recipients = s_recipients,
    .ctx = NULL,
};

const kt_hook_t *kt_hook_addressed(void)
{
    return &s_addressed;
}
