/*
 * hook.c - the pre-policy decisions of the exchange (hook.h).
 *
 * Owns kt_hook_addressed(): a record goes exactly to the partners the
 * operator named with `ketenctl submit --to`, and a configured partner may
 * send this node any valid record. Who is a partner is decided before these
 * hooks run (ZAP admits only configured keys; the envelope's signer must be
 * that partner), so neither hook needs to look again. This is the rule the
 * daemon enforces and documents until per-partner policies replace it; it
 * must never become a place that silently widens what leaves the node.
 */
#include "keten/hook.h"

/* The operator addressed the record to this partner by name. */
static int s_outgoing(void *ctx, const char *partner, kt_record_t *rec, kt_diag_t *d)
{
    (void)ctx;
    (void)partner;
    (void)rec;
    (void)d;
    return 0;
}

/* Only configured partners get this far, and only with a valid record. */
static int s_incoming(void *ctx, const char *sender, const kt_record_t *rec, kt_diag_t *d)
{
    (void)ctx;
    (void)sender;
    (void)rec;
    (void)d;
    return 0;
}

static const kt_hook_t s_addressed = {
    .outgoing = s_outgoing,
    .incoming = s_incoming,
    .ctx = NULL,
};

const kt_hook_t *kt_hook_addressed(void)
{
    return &s_addressed;
}
