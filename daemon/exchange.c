/*
 * exchange.c - a running node's network side.
 *
 * Owns the order of durable steps: a submission is committed before it is
 * acknowledged to the client; a received batch is committed before any of
 * its receipts is sent; a receipt changes the outbox in the same
 * transaction as the rest of its batch. Must never send a receipt for
 * something it did not commit, never answer a receipt with a receipt (no
 * loops between nodes), and never log a record's contents: ids, node ids and
 * codes only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keten/consent.h"
#include "keten/exchange.h"
#include "keten/inbox.h"
#include "keten/audit.h"
#include "keten/audit_node.h"
#include "keten/log.h"
#include "keten/outbox.h"
#include "keten/receipt.h"
#include "keten/record.h"
#include "keten/registry.h"
#include "keten/signal.h"
#include "keten/subject.h"
#include "keten/trail.h"
#include "keten/transport.h"

#define S_SEEN_EXPIRY_MS 60000 /* how often the purge job runs */
#define S_BLOCKED_WAIT_MS 50   /* re-check a full window at least this often */

struct s_peer {
    char id[KT_NODE_ID_MAX + 1];
    kt_envelope_peer_t *peer;
    int connected;
    /* The partner's audit checkpoint last stored as a witness: committed,
     * and in the open transaction. A partner signs one at most once a
     * second and sends it on every receipt; storing the same one again is a
     * no-op that still cost a signature check per receipt. Never carried
     * over a configuration change (the partner's key may have changed). */
    kt_audit_checkpoint_t witnessed, pending;
    int has_witnessed, has_pending;
};

struct kt_exchange {
    const kt_conf_t *conf; /* borrowed */
    kt_store_t *st;        /* borrowed */
    const kt_hook_t *hook; /* borrowed */
    kt_vault_t *vault;
    kt_transport_t *t;
    struct s_peer *peers;
    size_t npeers;
    int64_t next_expiry_ms;
    int blocked;               /* due rows wait for receipts (window full, or queue full) */
    kt_exchange_msg_fn on_msg; /* reconciliation messages */
    void *on_msg_ctx;
};

/* One message of a batch and what goes back for it. */
struct s_item {
    kt_transport_msg_t msg;
    uint8_t *reply; /* sealed receipt, or NULL */
    size_t reply_len;
    /* a verified reconciliation message, handed on after the batch commits */
    uint8_t *later;
    size_t later_len;
    kt_payload_t later_pl; /* borrows later */
};

static int64_t s_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct s_peer *s_peer(const kt_exchange_t *x, const char *id)
{
    size_t i;

    for (i = 0; i < x->npeers; i++)
        if (strcmp(x->peers[i].id, id) == 0)
            return &x->peers[i];
    return NULL;
}

/* ---- configuration ---- */

static void s_peers_free(struct s_peer *peers, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        kt_envelope_peer_destroy(&peers[i].peer);
    free(peers);
}

/* Peers for conf's partners; connection state carried over from old ones. */
static int s_peers_build(kt_exchange_t *x, const kt_conf_t *conf, struct s_peer **out, kt_diag_t *d)
{
    struct s_peer *peers = calloc(conf->n_partners ? conf->n_partners : 1, sizeof(*peers));
    size_t i;
    int rc;

    *out = NULL;
    if (peers == NULL)
        return kt_diag_set(d, KT_ENOMEM, "out of memory");
    for (i = 0; i < conf->n_partners; i++) {
        const kt_conf_partner_t *p = &conf->partners[i];
        const struct s_peer *old = s_peer(x, p->id);

        memcpy(peers[i].id, p->id, sizeof(peers[i].id));
        peers[i].connected = old ? old->connected : 0;
        if ((rc = kt_envelope_peer_new(&peers[i].peer, conf->keys, &p->pub, d)) != 0) {
            s_peers_free(peers, i + 1);
            return rc;
        }
    }
    *out = peers;
    return 0;
}

static int s_transport_partners(kt_exchange_t *x, const kt_conf_t *conf, kt_diag_t *d)
{
    kt_partner_endpoint_t *list = calloc(conf->n_partners ? conf->n_partners : 1, sizeof(*list));
    size_t i;
    int rc;

    if (list == NULL)
        return kt_diag_set(d, KT_ENOMEM, "out of memory");
    for (i = 0; i < conf->n_partners; i++) {
        const kt_conf_partner_t *p = &conf->partners[i];

        memcpy(list[i].id, p->id, sizeof(list[i].id));
        memcpy(list[i].box_pk, p->pub.box_pk, sizeof(list[i].box_pk));
        if (strlen(p->endpoint) >= sizeof(list[i].endpoint)) {
            free(list);
            return kt_diag_set(d, KT_EINVAL, "partner '%s': endpoint too long", p->id);
        }
        memcpy(list[i].endpoint, p->endpoint, strlen(p->endpoint) + 1);
    }
    rc = kt_transport_set_partners(x->t, list, conf->n_partners, d);
    free(list);
    return rc;
}

int kt_exchange_set_conf(kt_exchange_t *x, const kt_conf_t *conf, kt_diag_t *d)
{
    struct s_peer *peers = NULL;
    int rc;

    if ((rc = s_peers_build(x, conf, &peers, d)) != 0)
        return rc;
    if ((rc = s_transport_partners(x, conf, d)) != 0) {
        s_peers_free(peers, conf->n_partners);
        return rc;
    }
    s_peers_free(x->peers, x->npeers);
    x->peers = peers;
    x->npeers = conf->n_partners;
    x->conf = conf;
    return 0;
}

int kt_exchange_new(kt_exchange_t **out, const kt_conf_t *conf, kt_store_t *st,
                    const kt_hook_t *hook, kt_diag_t *d)
{
    kt_exchange_t *x = calloc(1, sizeof(*x));
    int rc;

    *out = NULL;
    if (x == NULL)
        return kt_diag_set(d, KT_ENOMEM, "out of memory");
    x->st = st;
    x->hook = hook;
    if ((rc = kt_vault_new(&x->vault, conf->keys, d)) != 0 ||
        (rc = kt_transport_new(&x->t, conf->keys, conf->listen, d)) != 0 ||
        (rc = kt_exchange_set_conf(x, conf, d)) != 0) {
        kt_exchange_destroy(&x);
        return rc;
    }
    *out = x;
    return 0;
}

void kt_exchange_destroy(kt_exchange_t **p)
{
    kt_exchange_t *x;

    if (p == NULL || (x = *p) == NULL)
        return;
    kt_transport_destroy(&x->t);
    s_peers_free(x->peers, x->npeers);
    kt_vault_destroy(&x->vault);
    free(x);
    *p = NULL;
}

/* ---- receiving ---- */

static const char *s_open_code(int rc)
{
    switch (rc) {
    case KT_EVERSION:
        return KT_RCODE_VERSION;
    case KT_ETOOBIG:
        return KT_RCODE_TOO_BIG;
    case KT_EMALFORMED:
        return KT_RCODE_MALFORMED;
    default:
        return KT_RCODE_AUTH;
    }
}

/* Seals a signed receipt for the partner the item came from. */
static void s_seal_reply(struct s_item *it, const struct s_peer *p, uint8_t *receipt, size_t len)
{
    kt_diag_t d = {{0}};

    if (kt_envelope_seal(&it->reply, &it->reply_len, receipt, len, p->peer, &d) != 0) {
        kt_log_warnx("receipt for %s not sealed: %s", p->id, d.msg);
        it->reply = NULL;
    }
}

/* A signed rejection for something that could not be opened or verified. */
static void s_reject(kt_exchange_t *x, struct s_item *it, const struct s_peer *p,
                     const uint8_t *ref, const char *code)
{
    uint8_t *receipt = NULL;
    size_t len = 0;
    kt_diag_t d = {{0}};

    kt_trail_t t;

    memset(&t, 0, sizeof(t));
    t.actor = kt_trail_partner(x->conf, p->id);
    t.action = KT_AUDIT_REJECTED;
    t.decision = "rejected";
    t.reason = code;
    t.record_id = ref;
    t.partner = p->id;
    if (kt_trail_write(x->st, &t, &d) != 0)
        kt_log_warnx("rejection of a message from %s not audited: %s", p->id, d.msg);
    if (kt_inbox_reject(x->conf->keys, p->id, ref, it->msg.payload, it->msg.len, code, s_now_ms(),
                        &receipt, &len, &d) != 0) {
        kt_log_warnx("rejection for %s not signed: %s", p->id, d.msg);
        return;
    }
    s_seal_reply(it, p, receipt, len);
    kt_envelope_free(receipt, len);
}

/* A record on our ROUTER. Returns < 0 only when the store failed. */
static int s_on_record(kt_exchange_t *x, struct s_item *it, const struct s_peer *p)
{
    kt_inbox_ctx_t ic = {x->st,
                         x->conf->keys,
                         x->vault,
                         x->hook,
                         x->conf->max_message_age,
                         kt_trail_partner(x->conf, p->id)};
    kt_inbox_result_t res = {0};
    kt_payload_t pl;
    uint8_t *signed_buf = NULL;
    size_t signed_len = 0;
    char hex[KT_ENVELOPE_ID_HEX];
    kt_diag_t d = {{0}};
    int rc;

    rc = kt_envelope_open(&signed_buf, &signed_len, &pl, it->msg.payload, it->msg.len, p->peer, &d);
    if (rc != 0) {
        kt_log_warnx("record from %s rejected (%s): %s", p->id, s_open_code(rc), d.msg);
        s_reject(x, it, p, NULL, s_open_code(rc));
        return 0;
    }
    kt_envelope_id_hex(hex, pl.id);
    if (pl.kind != it->msg.kind) {
        kt_log_warnx("%s %s from %s rejected (malformed): envelope of kind %s in a %s frame",
                     kt_kind_name(it->msg.kind), hex, p->id, kt_kind_name(pl.kind),
                     kt_kind_name(it->msg.kind));
        s_reject(x, it, p, pl.id, KT_RCODE_MALFORMED);
        rc = 0;
        goto out;
    }
    if ((rc = kt_inbox_accept(&ic, p->id, signed_buf, signed_len, &pl, s_now_ms(), &res, &d)) < 0) {
        kt_log_warnx("record %s from %s not stored: %s", hex, p->id, d.msg);
        goto out;
    }
    if (res.r.status == KT_RECEIPT_REJECTED && !res.duplicate)
        kt_log_warnx("record %s from %s: rejected (%s): %s", hex, p->id, res.r.code, d.msg);
    else
        kt_log_info("%s %s from %s: %s%s (%s)", kt_kind_name(pl.kind), hex, p->id,
                    kt_receipt_status_name(res.r.status), res.duplicate ? " again" : "",
                    res.r.code);
    s_seal_reply(it, p, res.receipt, res.receipt_len);
out:
    kt_inbox_result_clear(&res);
    kt_envelope_free(signed_buf, signed_len);
    return rc;
}

/* Keeps the partner's audit checkpoint from a receipt: a witness of its
 * log (audit.h). One that does not verify is logged and not kept; the
 * receipt itself still counts, since its envelope signature checked out. */
static int s_same_checkpoint(const kt_audit_checkpoint_t *a, const kt_audit_checkpoint_t *b)
{
    return a->seq == b->seq && a->time == b->time &&
           memcmp(a->head, b->head, sizeof(a->head)) == 0 &&
           memcmp(a->sig, b->sig, sizeof(a->sig)) == 0;
}

static void s_witness(kt_exchange_t *x, struct s_peer *p, const kt_receipt_t *r)
{
    const kt_conf_partner_t *cp = NULL;
    kt_audit_checkpoint_t c;
    kt_diag_t d = {{0}};
    size_t i;

    if (!r->has_head || r->head_seq == 0 || r->head_seq > INT64_MAX || r->head_time > INT64_MAX)
        return;
    for (i = 0; i < x->conf->n_partners; i++)
        if (strcmp(x->conf->partners[i].id, p->id) == 0)
            cp = &x->conf->partners[i];
    if (cp == NULL)
        return;
    c.seq = (int64_t)r->head_seq;
    c.time = (int64_t)r->head_time;
    memcpy(c.head, r->head, sizeof(c.head));
    memcpy(c.sig, r->head_sig, sizeof(c.sig));
    if ((p->has_pending && s_same_checkpoint(&c, &p->pending)) ||
        (p->has_witnessed && s_same_checkpoint(&c, &p->witnessed)))
        return; /* verified and stored already, with this very head */
    if (kt_audit_witness_store(x->st, &cp->pub, &c, time(NULL), &d) != 0) {
        kt_log_warnx("audit checkpoint %lld from %s not kept: %s", (long long)c.seq, p->id, d.msg);
        return;
    }
    p->pending = c;
    p->has_pending = 1;
}

/* The witnesses stored in the transaction that just ended: kept in memory
 * once committed, forgotten if it was rolled back. */
static void s_witness_end(kt_exchange_t *x, int committed)
{
    size_t i;

    for (i = 0; i < x->npeers; i++) {
        struct s_peer *p = &x->peers[i];

        if (p->has_pending && committed) {
            p->witnessed = p->pending;
            p->has_witnessed = 1;
        }
        p->has_pending = 0;
    }
}

/* A receipt on the DEALER of partner p. Returns < 0 only when the store failed. */
static int s_on_receipt(kt_exchange_t *x, struct s_item *it, struct s_peer *p)
{
    kt_payload_t pl;
    kt_receipt_t r;
    uint8_t *signed_buf = NULL;
    size_t signed_len = 0;
    char hex[KT_ENVELOPE_ID_HEX];
    kt_diag_t d = {{0}};
    int rc;

    rc = kt_envelope_open(&signed_buf, &signed_len, &pl, it->msg.payload, it->msg.len, p->peer, &d);
    if (rc == 0 && pl.kind != KT_KIND_RECEIPT)
        rc = kt_diag_set(&d, KT_EMALFORMED, "envelope of kind %s in a receipt frame",
                         kt_kind_name(pl.kind));
    if (rc == 0)
        rc = kt_receipt_decode(&r, pl.body, pl.body_len, &d);
    if (rc != 0) {
        kt_log_warnx("receipt from %s ignored: %s", p->id, d.msg);
        rc = 0;
        goto out;
    }
    kt_envelope_id_hex(hex, r.ref);
    s_witness(x, p, &r);
    rc = kt_outbox_apply_receipt(x->st, kt_trail_partner(x->conf, p->id), p->id, &r, signed_buf,
                                 signed_len, s_now_ms(), &d);
    if (rc == 0)
        kt_log_info("record %s to %s: %s (%s)", hex, p->id, kt_receipt_status_name(r.status),
                    r.code);
    else if (rc == KT_ENOENT || rc == KT_EAUTH)
        kt_log_warnx("receipt from %s for record %s ignored: %s", p->id, hex, d.msg);
    else
        kt_log_warnx("receipt from %s for record %s not stored: %s", p->id, hex, d.msg);
    if (rc == KT_ENOENT || rc == KT_EAUTH)
        rc = 0;
out:
    kt_envelope_free(signed_buf, signed_len);
    return rc;
}

/* A reconciliation message on our ROUTER: opened, verified, handed on. One
 * that does not open, or is not what its frame says, gets a signed
 * rejection like a record would; the rest is the session's business. */
static void s_on_reconcile(kt_exchange_t *x, struct s_item *it, const struct s_peer *p)
{
    const char *kind = kt_kind_name(it->msg.kind);
    uint8_t *signed_buf = NULL;
    size_t signed_len = 0;
    int64_t now = s_now_ms(), age;
    kt_payload_t pl;
    kt_diag_t d = {{0}};
    int rc;

    if ((rc = kt_envelope_open(&signed_buf, &signed_len, &pl, it->msg.payload, it->msg.len, p->peer,
                               &d)) != 0) {
        kt_log_warnx("%s message from %s rejected (%s): %s", kind, p->id, s_open_code(rc), d.msg);
        s_reject(x, it, p, NULL, s_open_code(rc));
        return;
    }
    age = now / 1000 - (int64_t)pl.created;
    if (pl.kind != it->msg.kind || strcmp(pl.to, x->conf->id) != 0) {
        kt_log_warnx("%s message from %s rejected (malformed): envelope of kind %s to %s", kind,
                     p->id, kt_kind_name(pl.kind), pl.to);
        s_reject(x, it, p, pl.id, KT_RCODE_MALFORMED);
    } else if (age > x->conf->max_message_age || age < -KT_INBOX_CLOCK_SKEW_S) {
        kt_log_warnx("%s message from %s rejected (expired): created %lld s ago", kind, p->id,
                     (long long)age);
        s_reject(x, it, p, pl.id, KT_RCODE_EXPIRED);
    } else if (x->on_msg == NULL) {
        kt_log_warnx("%s message from %s rejected (denied): this node does not reconcile", kind,
                     p->id);
        s_reject(x, it, p, pl.id, KT_RCODE_DENIED);
    } else {
        /* Handed on once this batch has committed: the session's rows, audit
         * entries and answers then never depend on a batch that may roll
         * back, and the PSI arithmetic does not hold the write lock. */
        it->later = signed_buf;
        it->later_len = signed_len;
        it->later_pl = pl;
        return;
    }
    kt_envelope_free(signed_buf, signed_len);
}

void kt_exchange_set_handler(kt_exchange_t *x, kt_exchange_msg_fn fn, void *ctx)
{
    x->on_msg = fn;
    x->on_msg_ctx = ctx;
}

int kt_exchange_send(kt_exchange_t *x, const char *partner, kt_kind_t kind,
                     const uint8_t id[KT_ENVELOPE_ID_BYTES], const uint8_t *body, size_t len,
                     kt_diag_t *d)
{
    const struct s_peer *p = s_peer(x, partner);
    uint8_t *signed_buf = NULL, *env = NULL;
    size_t signed_len = 0, env_len = 0;
    int rc;

    if (p == NULL)
        return kt_diag_set(d, KT_ENOENT, "unknown partner '%s'", partner);
    if ((rc = kt_envelope_sign(&signed_buf, &signed_len, kind, id, (uint64_t)(s_now_ms() / 1000),
                               partner, body, len, x->conf->keys, d)) != 0)
        return rc;
    rc = kt_envelope_seal(&env, &env_len, signed_buf, signed_len, p->peer, d);
    if (rc == 0 && kt_transport_send(x->t, partner, kind, env, env_len) != 0)
        rc = kt_diag_set(d, KT_EIO, "%s message to %s not sent: its queue is full",
                         kt_kind_name(kind), partner);
    kt_envelope_free(signed_buf, signed_len);
    kt_envelope_free(env, env_len);
    return rc;
}

static int s_on_message(kt_exchange_t *x, struct s_item *it)
{
    const kt_transport_msg_t *m = &it->msg;
    struct s_peer *p = s_peer(x, m->partner);
    int on_router = m->via == KT_TRANSPORT_VIA_ROUTER;

    if (p == NULL) /* removed between the transport's check and now */
        return 0;
    if (m->status != 0) {
        /* Unparseable frames: answered only where the partner asked
         * (our ROUTER), never on the DEALER our own requests use. */
        kt_log_warnx("malformed message from %s: %s", p->id, m->why ? m->why : "?");
        if (on_router)
            s_reject(x, it, p, NULL, KT_RCODE_MALFORMED);
        return 0;
    }
    if ((m->kind == KT_KIND_RECORD || m->kind == KT_KIND_RETRACT) && on_router)
        return s_on_record(x, it, p);
    if (m->kind == KT_KIND_RECEIPT && !on_router)
        return s_on_receipt(x, it, p);
    if (m->kind == KT_KIND_PING)
        return 0;
    if ((m->kind == KT_KIND_COUNTS || m->kind == KT_KIND_PSI_REQUEST ||
         m->kind == KT_KIND_PSI_RESPONSE) &&
        on_router) {
        s_on_reconcile(x, it, p);
        return 0;
    }
    kt_log_warnx("%s message from %s on the %s ignored: not handled by this node",
                 kt_kind_name(m->kind), p->id,
                 on_router ? "listening socket" : "partner connection");
    if (on_router && m->kind != KT_KIND_RECEIPT)
        s_reject(x, it, p, NULL, KT_RCODE_DENIED);
    return 0;
}

static void s_items_clear(struct s_item *items, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        kt_transport_msg_clear(&items[i].msg);
        kt_envelope_free(items[i].reply, items[i].reply_len);
        items[i].reply = NULL;
        kt_envelope_free(items[i].later, items[i].later_len);
        items[i].later = NULL;
    }
}

/* Handles a batch in one transaction; sends the replies only once it is
 * committed. A failed commit sends nothing: the senders will retry. */
static int s_batch(kt_exchange_t *x, struct s_item *items, size_t n)
{
    kt_diag_t d = {{0}};
    size_t i;
    int rc;

    if ((rc = kt_store_begin(x->st, &d)) != 0)
        goto fail;
    for (i = 0; i < n; i++)
        if ((rc = s_on_message(x, &items[i])) < 0) {
            kt_store_rollback(x->st);
            s_witness_end(x, 0);
            kt_log_warnx("batch of %zu messages rolled back; senders will retry", n);
            return rc;
        }
    if ((rc = kt_store_commit(x->st, &d)) != 0)
        goto fail;
    s_witness_end(x, 1);
    for (i = 0; i < n; i++)
        if (items[i].reply != NULL && kt_transport_reply(x->t, &items[i].msg, KT_KIND_RECEIPT,
                                                         items[i].reply, items[i].reply_len) != 0)
            kt_log_warnx("receipt to %s not sent; it will be re-sent when the record is",
                         items[i].msg.partner);
    for (i = 0; i < n; i++)
        if (items[i].later != NULL && x->on_msg != NULL)
            x->on_msg(x->on_msg_ctx, items[i].msg.partner, &items[i].later_pl, s_now_ms());
    return 0;
fail:
    kt_store_rollback(x->st);
    s_witness_end(x, 0);
    kt_log_warnx("cannot commit received messages: %s", d.msg);
    return rc;
}

/* ---- sending ---- */

/* Sends what is due to one partner, keeping at most KT_EXCHANGE_WINDOW
 * records unacknowledged: without a window, a backlog larger than what the
 * partner commits before the first retry is sent two or three times over.
 * A send the transport cannot take (queue full) ends the round and is not
 * counted as an attempt. */
static int s_send_partner(kt_exchange_t *x, const struct s_peer *p, int64_t now, size_t *sent)
{
    kt_outbox_item_t items[KT_EXCHANGE_SEND_BATCH];
    int64_t cap = x->conf->retry_max * 1000;
    size_t n = 0, i, flying = 0, room;
    kt_diag_t d = {{0}};
    int rc;

    memset(items, 0, sizeof(items));
    if ((rc = kt_outbox_in_flight(x->st, p->id, now, &flying, &d)) != 0)
        goto out;
    if (flying >= KT_EXCHANGE_WINDOW) {
        x->blocked = 1;
        goto out;
    }
    room = KT_EXCHANGE_WINDOW - flying;
    rc = kt_outbox_due(x->st, x->vault, now, p->id, items,
                       room < KT_EXCHANGE_SEND_BATCH ? room : KT_EXCHANGE_SEND_BATCH, &n, &d);
    if (rc != 0 || n == 0)
        goto out;
    if ((rc = kt_store_begin(x->st, &d)) != 0)
        goto out;
    for (i = 0; i < n; i++) {
        uint8_t *env = NULL;
        size_t env_len = 0;
        int ok = kt_envelope_seal(&env, &env_len, items[i].signed_buf, items[i].signed_len, p->peer,
                                  &d) == 0 &&
                 kt_transport_send(x->t, p->id, items[i].kind, env, env_len) == 0;

        kt_envelope_free(env, env_len);
        if (!ok) {
            x->blocked = 1;
            break;
        }
        (*sent)++;
        if ((rc = kt_outbox_mark_sent(x->st, items[i].id, p->id, now, cap, &d)) != 0)
            break;
    }
    if (rc == 0)
        rc = kt_store_commit(x->st, &d);
    if (rc != 0)
        kt_store_rollback(x->st);
out:
    if (rc != 0)
        kt_log_warnx("outbox to %s: %s", p->id, d.msg);
    for (i = 0; i < n; i++)
        kt_outbox_item_clear(&items[i]);
    return rc;
}

/* A partner that has just connected gets its pending records at once. */
static void s_wake_connected(kt_exchange_t *x, int64_t now)
{
    kt_diag_t d = {{0}};
    size_t i;

    for (i = 0; i < x->npeers; i++) {
        int c = kt_transport_partner_connected(x->t, x->peers[i].id);

        if (c && !x->peers[i].connected) {
            kt_log_info("partner %s connected", x->peers[i].id);
            if (kt_store_begin(x->st, &d) != 0 ||
                kt_outbox_wake(x->st, x->peers[i].id, now, &d) != 0 ||
                kt_store_commit(x->st, &d) != 0) {
                kt_store_rollback(x->st);
                kt_log_warnx("outbox to %s: %s", x->peers[i].id, d.msg);
            }
        } else if (!c && x->peers[i].connected) {
            kt_log_info("partner %s disconnected", x->peers[i].id);
        }
        x->peers[i].connected = c;
    }
}

static void s_pump(kt_exchange_t *x)
{
    int64_t now = s_now_ms(), due;
    size_t i, sent = 0;
    kt_diag_t d = {{0}};

    s_wake_connected(x, now);
    x->blocked = 0;
    if (kt_outbox_next_due(x->st, &due, &d) != 0 || due > now)
        return;
    for (i = 0; i < x->npeers; i++)
        if (s_send_partner(x, &x->peers[i], now, &sent) < 0)
            break;
    if (sent > 0)
        kt_log_debug("sent %zu record%s", sent, sent == 1 ? "" : "s");
}

/* Ended consents take back what they let out. */
static int s_expire_consents(kt_exchange_t *x, const char *date, size_t *retractions, kt_diag_t *d)
{
    uint8_t(*ids)[KT_CONSENT_ID_BYTES] = NULL;
    size_t n = 0, i, k;
    int rc;

    *retractions = 0;
    if ((rc = kt_consent_expire(x->st, date, &ids, &n, d)) != 0)
        return rc;
    for (i = 0; i < n && rc == 0; i++) {
        kt_consent_t c;

        if ((rc = kt_consent_get(x->st, ids[i], &c, d)) != 0 ||
            (rc = kt_audit_node_consent(x->st, KT_TRAIL_DAEMON, KT_AUDIT_CONSENT_EXPIRED, &c, d)) !=
                0)
            break;
        rc = kt_outbox_retract_consent(x->st, x->conf->keys, x->vault, ids[i], s_now_ms(), &k, d);
        *retractions += k;
    }
    free(ids);
    return rc;
}

/* One entry for n rows of a kind the purge deleted that are not records
 * (ended consents, pupils' keys, attendance rows). */
static int s_trail_count(kt_exchange_t *x, const char *what, const char *why, size_t n,
                         kt_diag_t *d)
{
    char reason[64];
    kt_trail_t t;

    if (n == 0)
        return 0;
    memset(&t, 0, sizeof(t));
    snprintf(reason, sizeof(reason), "%s: %zu", why, n);
    t.actor = KT_TRAIL_DAEMON;
    t.action = KT_AUDIT_PURGED;
    t.decision = "deleted";
    t.record_type = what;
    t.reason = reason;
    return kt_trail_write(x->st, &t, d);
}

int kt_exchange_purge(kt_exchange_t *x, kt_exchange_purge_t *r, kt_diag_t *d)
{
    char date[KT_DATE_BYTES];
    int64_t now = s_now_ms();
    size_t lists = 0; /* registry lists past their retention */
    int rc;

    memset(r, 0, sizeof(*r));
    kt_consent_today(date);
    if ((rc = kt_store_begin(x->st, d)) != 0)
        return rc;
    if ((rc = s_expire_consents(x, date, &r->retractions, d)) != 0 ||
        (rc = kt_inbox_purge_expired(x->st, now, &r->inbox, d)) != 0 ||
        (rc = kt_outbox_purge_expired(x->st, now, &r->outbox, d)) != 0 ||
        (rc = kt_consent_purge(x->st, date, &r->consents, d)) != 0 ||
        (rc = kt_inbox_expire_seen(x->st, now, d)) != 0 ||
        (rc = kt_registry_purge(x->st, date, &lists, d)) != 0 ||
        (rc = kt_subject_forget_unused(x->st, &r->subjects, d)) != 0 ||
        (rc = s_trail_count(x, "registry_list", "retention", lists, d)) != 0 ||
        (rc = s_trail_count(x, "consent", "retention_after_end", r->consents, d)) != 0 ||
        (rc = s_trail_count(x, "subject_key", "nothing_left_of_pupil", r->subjects, d)) != 0 ||
        (rc = kt_store_commit(x->st, d)) != 0) {
        kt_store_rollback(x->st);
        return rc;
    }
    /* raw attendance past its own retention (signal.h; its own transaction) */
    if ((rc = kt_signal_purge(x->st, (time_t)(now / 1000), &r->attendance, d)) != 0)
        return rc;
    if (r->attendance > 0) {
        if ((rc = kt_store_begin(x->st, d)) != 0)
            return rc;
        if ((rc = s_trail_count(x, "attendance", "retention", r->attendance, d)) != 0 ||
            (rc = kt_store_commit(x->st, d)) != 0) {
            kt_store_rollback(x->st);
            return rc;
        }
    }
    /* Deleted pages are zeroed (secure_delete); the WAL still holds the old
     * ones until it is checkpointed and truncated. */
    if (r->inbox + r->outbox + r->consents + r->subjects + r->attendance + lists > 0 &&
        (rc = kt_store_checkpoint_truncate(x->st, d)) != 0)
        return rc;
    if (r->retractions + r->inbox + r->outbox + r->consents + r->subjects + r->attendance > 0)
        kt_log_info("purge: %zu retraction%s queued; deleted %zu received and %zu sent "
                    "record%s, %zu ended consent%s, %zu attendance row%s; forgot %zu pupil key%s",
                    r->retractions, r->retractions == 1 ? "" : "s", r->inbox, r->outbox,
                    r->outbox == 1 ? "" : "s", r->consents, r->consents == 1 ? "" : "s",
                    r->attendance, r->attendance == 1 ? "" : "s", r->subjects,
                    r->subjects == 1 ? "" : "s");
    return 0;
}

static void s_housekeeping(kt_exchange_t *x)
{
    kt_exchange_purge_t r;
    int64_t now = s_now_ms();
    kt_diag_t d = {{0}};

    if (now < x->next_expiry_ms)
        return;
    x->next_expiry_ms = now + S_SEEN_EXPIRY_MS;
    if (kt_exchange_purge(x, &r, &d) != 0)
        kt_log_warnx("purge: %s", d.msg);
    {
        kt_audit_checkpoint_t cp;
        int have = 0;

        /* signs only when the head moved since the last one */
        if (kt_audit_checkpoint(x->st, x->conf->keys, 0, (time_t)(now / 1000), &cp, &have, &d) != 0)
            kt_log_warnx("audit checkpoint: %s", d.msg);
    }
}

/* How long the loop may sleep: until the next outbox row is due. */
static int s_wait_ms(kt_exchange_t *x, int timeout_ms)
{
    int64_t due, now = s_now_ms();

    if (kt_outbox_next_due(x->st, &due, NULL) != 0)
        return timeout_ms;
    if (due <= now) /* due, unless only receipts can make room: they wake the poll */
        return x->blocked ? (timeout_ms < S_BLOCKED_WAIT_MS ? timeout_ms : S_BLOCKED_WAIT_MS) : 0;
    return due - now < timeout_ms ? (int)(due - now) : timeout_ms;
}

int kt_exchange_poll(kt_exchange_t *x, int timeout_ms, struct pollfd *fds, size_t nfds)
{
    struct s_item items[KT_EXCHANGE_BATCH];
    size_t n = 0;
    int rc;

    memset(items, 0, sizeof(items));
    rc = kt_transport_poll_fds(x->t, s_wait_ms(x, timeout_ms), fds, nfds, &items[0].msg);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        n = 1;
        while (n < KT_EXCHANGE_BATCH && kt_transport_poll(x->t, 0, &items[n].msg) == 1)
            n++;
        (void)!s_batch(x, items, n); /* logged; the senders retry */
        s_items_clear(items, n);
    }
    s_pump(x);
    s_housekeeping(x);
    return 0;
}

/* ---- submitting ---- */

static int s_check_to(const kt_exchange_t *x, const char *const *to, size_t nto, kt_diag_t *d)
{
    size_t i, j;

    if (nto > KT_EXCHANGE_FANOUT_MAX)
        return kt_diag_set(d, KT_EINVAL, "at most %d recipients", KT_EXCHANGE_FANOUT_MAX);
    for (i = 0; i < nto; i++) {
        if (!kt_keys_valid_id(to[i]))
            return kt_diag_set(d, KT_EINVAL, "recipient %zu is not a node id ([a-z0-9-]{1,64})",
                               i + 1);
        if (s_peer(x, to[i]) == NULL)
            return kt_diag_set(d, KT_ENOENT,
                               "unknown partner '%s': not a partner of node %s (see ketenctl "
                               "partners)",
                               to[i], x->conf->id);
        for (j = 0; j < i; j++)
            if (strcmp(to[i], to[j]) == 0)
                return kt_diag_set(d, KT_EINVAL, "partner '%s' is named twice", to[i]);
    }
    return 0;
}

/* The audit entries of one copy: submitted (with the first copy), sent or
 * held, and stripped when the rule removed fields. */
static int s_trail_copy(kt_exchange_t *x, const char *actor, const uint8_t *id, const char *to,
                        const char *type, const kt_exchange_copy_t *copy,
                        const kt_hook_decision_t *dec, int first, kt_diag_t *d)
{
    kt_trail_t t;
    int rc;

    memset(&t, 0, sizeof(t));
    t.actor = actor;
    t.record_id = id;
    t.record_type = type;
    t.dec = dec;
    if (first) {
        t.action = KT_AUDIT_SUBMITTED;
        t.decision = "accepted";
        if ((rc = kt_trail_write(x->st, &t, d)) != 0)
            return rc;
    }
    t.partner = to;
    t.action = copy->state == KT_OUT_HELD ? KT_AUDIT_HELD : KT_AUDIT_SENT;
    t.decision = copy->state == KT_OUT_HELD ? "held" : "queued";
    t.reason = copy->state == KT_OUT_HELD ? "no_active_consent" : NULL;
    if ((rc = kt_trail_write(x->st, &t, d)) != 0 || dec->stripped[0] == '\0')
        return rc;
    t.action = KT_AUDIT_STRIPPED;
    t.decision = "stripped";
    t.reason = "not_in_policy";
    t.fields = dec->stripped;
    return kt_trail_write(x->st, &t, d);
}

/* One record for one recipient, as the outgoing hook decides: queued, held
 * (waiting for consent) or refused (the whole submission fails). */
static int s_add_one(kt_exchange_t *x, const char *actor, const uint8_t *id, const char *to,
                     const uint8_t *rec, size_t len, const char *date, int64_t now, int first,
                     kt_exchange_copy_t *copy, kt_diag_t *d)
{
    kt_record_t *r = NULL;
    uint8_t *bytes = NULL;
    size_t blen = 0;
    kt_hook_decision_t dec;
    kt_outbox_meta_t meta;
    int rc;

    memset(&dec, 0, sizeof(dec));
    if ((rc = kt_record_decode(&r, rec, len, d)) != 0)
        goto out;
    rc = x->hook->outgoing(x->hook->ctx, to, r, date, &dec, d);
    copy->state = rc == KT_ENOCONSENT ? KT_OUT_HELD : KT_OUT_QUEUED;
    if (rc != 0 && rc != KT_ENOCONSENT)
        goto out;
    if (!dec.has_subject &&
        (rc = kt_vault_subject(dec.subject, x->vault, kt_record_leerling_id(r), d)) != 0)
        goto out;
    dec.has_subject = 1;
    /* A held copy keeps the record as submitted: the consent decision at
     * release needs what stripping removes (the pupil's age). It is
     * stripped and signed afresh when it goes. */
    if (copy->state == KT_OUT_QUEUED && (rc = kt_record_encode(r, &bytes, &blen, d)) != 0)
        goto out;
    meta.subject = dec.subject;
    meta.retention_days = dec.retention_days;
    rc = kt_outbox_add(x->st, x->conf->keys, x->vault, id, to, kt_record_type(r),
                       bytes ? bytes : rec, bytes ? blen : len, copy->state, &meta, now, d);
    if (rc == 0 && dec.has_consent)
        rc = kt_outbox_set_consent(x->st, id, to, dec.consent_id, d);
    memcpy(copy->stripped, dec.stripped, sizeof(copy->stripped));
    if (rc == 0)
        rc = s_trail_copy(x, actor, id, to, kt_record_type(r), copy, &dec, first, d);
out:
    if (bytes != NULL)
        kt_record_free_bytes(bytes, blen);
    kt_record_destroy(&r);
    return rc;
}

/* A refusal, audited after the submission was rolled back: the refused
 * attempt is a decision too. A failure here is logged; the operator already
 * gets the refusal. */
static void s_trail_refused(kt_exchange_t *x, const char *actor, const uint8_t *rec, size_t len,
                            const char *to, const char *why)
{
    kt_record_t *r = NULL;
    kt_hook_decision_t dec;
    kt_diag_t d = {{0}};
    kt_trail_t t;

    memset(&dec, 0, sizeof(dec));
    memset(&t, 0, sizeof(t));
    if (kt_record_decode(&r, rec, len, &d) == 0) {
        t.record_type = kt_record_type(r);
        dec.has_subject =
            kt_vault_subject(dec.subject, x->vault, kt_record_leerling_id(r), &d) == 0;
    }
    t.actor = actor;
    t.action = KT_AUDIT_REFUSED;
    t.decision = "refused";
    t.reason = why;
    t.partner = to;
    t.dec = &dec;
    if (kt_store_begin(x->st, &d) != 0 || kt_trail_write(x->st, &t, &d) != 0 ||
        kt_store_commit(x->st, &d) != 0) {
        kt_store_rollback(x->st);
        kt_log_warnx("refusal not audited: %s", d.msg);
    }
    kt_record_destroy(&r);
}

/* The recipients of record i: the named ones, or the policy's fan-out. */
static size_t s_recipients(kt_exchange_t *x, const char *const *to, size_t nto, const uint8_t *rec,
                           size_t len, const char *date, const char **out, kt_diag_t *d)
{
    kt_record_t *r = NULL;
    size_t n;

    if (nto > 0) {
        memcpy(out, to, nto * sizeof(*out));
        return nto;
    }
    if (kt_record_decode(&r, rec, len, d) != 0)
        return 0;
    n = x->hook->recipients(x->hook->ctx, r, date, out, KT_EXCHANGE_FANOUT_MAX);
    if (n == 0)
        kt_diag_set(d, KT_EDENIED,
                    "no partner's policy has a send rule for %s on %s (ketenctl policy explain)",
                    kt_record_type(r), date);
    kt_record_destroy(&r);
    return n > KT_EXCHANGE_FANOUT_MAX ? KT_EXCHANGE_FANOUT_MAX : n;
}

/* Room for m more copies (grown as records fan out, not for the worst case). */
static int s_copies_grow(kt_exchange_copies_t *c, size_t m, kt_diag_t *d)
{
    kt_exchange_copy_t *grown;
    size_t want = c->n + m, cap = c->cap ? c->cap : 16;

    if (want <= c->cap)
        return 0;
    while (cap < want)
        cap *= 2;
    if ((grown = realloc(c->copy, cap * sizeof(*grown))) == NULL)
        return kt_diag_set(d, KT_ENOMEM, "out of memory");
    memset(grown + c->cap, 0, (cap - c->cap) * sizeof(*grown));
    c->copy = grown;
    c->cap = cap;
    return 0;
}

static void s_log_copy(const uint8_t *id, const kt_exchange_copy_t *c)
{
    char hex[KT_ENVELOPE_ID_HEX];

    kt_envelope_id_hex(hex, id);
    if (c->stripped[0] != '\0')
        kt_log_info("record %s to %s: %s, fields stripped by policy: %s", hex, c->partner,
                    kt_outbox_state_name(c->state), c->stripped);
    else
        kt_log_info("record %s to %s: %s", hex, c->partner, kt_outbox_state_name(c->state));
}

int kt_exchange_submit(kt_exchange_t *x, const char *actor, const char *const *to, size_t nto,
                       const uint8_t *const *records, const size_t *lens, size_t n,
                       uint8_t (*ids)[KT_ENVELOPE_ID_BYTES], kt_exchange_copies_t *copies,
                       kt_diag_t *d)
{
    return kt_exchange_submit_also(x, actor, to, nto, records, lens, n, ids, copies, NULL, NULL, d);
}

int kt_exchange_submit_also(kt_exchange_t *x, const char *actor, const char *const *to, size_t nto,
                            const uint8_t *const *records, const size_t *lens, size_t n,
                            uint8_t (*ids)[KT_ENVELOPE_ID_BYTES], kt_exchange_copies_t *copies,
                            kt_exchange_also_fn also, void *also_ctx, kt_diag_t *d)
{
    const char *rcpt[KT_EXCHANGE_FANOUT_MAX], *refused_by = NULL;
    int64_t now = s_now_ms();
    char date[KT_DATE_BYTES];
    size_t i, j, k, m = 0;
    int rc;

    memset(copies, 0, sizeof(*copies));
    if ((rc = s_check_to(x, to, nto, d)) != 0)
        return rc;
    if (n == 0 || n > KT_EXCHANGE_SUBMIT_MAX)
        return kt_diag_set(d, KT_EINVAL, "a submission holds 1 to %d records",
                           KT_EXCHANGE_SUBMIT_MAX);
    kt_consent_today(date);
    if ((rc = kt_store_begin(x->st, d)) != 0)
        goto fail;
    for (i = 0; i < n; i++) {
        kt_envelope_new_id(ids[i]);
        if ((m = s_recipients(x, to, nto, records[i], lens[i], date, rcpt, d)) == 0) {
            rc = KT_EDENIED;
            goto record_fail;
        }
        if ((rc = s_copies_grow(copies, m, d)) != 0)
            goto fail;
        for (j = 0; j < m; j++) {
            kt_exchange_copy_t *c = &copies->copy[copies->n];

            c->record = i;
            snprintf(c->partner, sizeof(c->partner), "%s", rcpt[j]);
            if ((rc = s_add_one(x, actor, ids[i], rcpt[j], records[i], lens[i], date, now, j == 0,
                                c, d)) != 0) {
                refused_by = rcpt[j];
                goto record_fail;
            }
            copies->n++;
        }
    }
    if ((also != NULL && (rc = also(also_ctx, copies, d)) != 0) ||
        (rc = kt_store_commit(x->st, d)) != 0)
        goto fail;
    for (k = 0; k < copies->n; k++)
        s_log_copy(ids[copies->copy[k].record], &copies->copy[k]);
    kt_log_info("accepted %zu record%s, %zu cop%s", n, n == 1 ? "" : "s", copies->n,
                copies->n == 1 ? "y" : "ies");
    return 0;
record_fail:
    kt_store_rollback(x->st);
    if (rc == KT_EDENIED || rc == KT_EINVAL) /* a policy said no */
        s_trail_refused(x, actor, records[i], lens[i], refused_by, d->msg);
    kt_diag_prefix(d, "record %zu", i + 1);
    kt_exchange_copies_free(copies);
    return rc;
fail:
    kt_store_rollback(x->st);
    kt_exchange_copies_free(copies);
    return rc;
}

void kt_exchange_copies_free(kt_exchange_copies_t *c)
{
    free(c->copy);
    memset(c, 0, sizeof(*c));
}

/* ---- consent: release, retraction, expiry ---- */

static int s_trail_released(kt_exchange_t *x, const kt_outbox_row_t *row, const char *type,
                            const kt_hook_decision_t *dec, kt_diag_t *d)
{
    kt_trail_t t;
    int rc;

    memset(&t, 0, sizeof(t));
    t.actor = KT_TRAIL_DAEMON;
    t.action = KT_AUDIT_RELEASED;
    t.decision = "queued";
    t.reason = dec->has_consent ? "consent_active" : "consent_not_needed";
    t.record_id = row->id;
    t.record_type = type;
    t.partner = row->partner;
    t.dec = dec;
    if ((rc = kt_trail_write(x->st, &t, d)) != 0 || dec->stripped[0] == '\0')
        return rc;
    t.action = KT_AUDIT_STRIPPED;
    t.decision = "stripped";
    t.reason = "not_in_policy";
    t.fields = dec->stripped;
    return kt_trail_write(x->st, &t, d);
}

/* A held row: may it go now? 0 and the consent when it may. */
static int s_try_release(kt_exchange_t *x, const kt_outbox_row_t *row, const char *date,
                         int64_t now, int *by_consent, kt_diag_t *d)
{
    kt_hook_decision_t dec;
    kt_record_t *r = NULL;
    uint8_t *buf = NULL, *bytes = NULL;
    size_t len = 0, blen = 0;
    kt_payload_t pl;
    int rc;

    memset(&dec, 0, sizeof(dec));
    if ((rc = kt_outbox_signed(x->st, x->vault, row->id, row->partner, &buf, &len, d)) != 0 ||
        (rc = kt_envelope_verify(&pl, buf, len, kt_keys_public(x->conf->keys), d)) != 0 ||
        (rc = kt_record_decode(&r, pl.body, pl.body_len, d)) != 0)
        goto out;
    rc = x->hook->outgoing(x->hook->ctx, row->partner, r, date, &dec, d);
    *by_consent = dec.has_consent;
    if (rc == 0 && (rc = kt_record_encode(r, &bytes, &blen, d)) == 0)
        rc = kt_outbox_release(x->st, x->conf->keys, x->vault, row->id, row->partner,
                               dec.has_consent ? dec.consent_id : NULL, bytes, blen, now, d);
    if (rc == 0)
        rc = s_trail_released(x, row, kt_record_type(r), &dec, d);
out:
    if (bytes != NULL)
        kt_record_free_bytes(bytes, blen);
    kt_record_destroy(&r);
    kt_vault_free(buf, len);
    return rc;
}

int kt_exchange_release_held(kt_exchange_t *x, size_t *released, kt_diag_t *d)
{
    kt_outbox_row_t *rows = NULL;
    char date[KT_DATE_BYTES], hex[KT_ENVELOPE_ID_HEX];
    int64_t now = s_now_ms();
    size_t n = 0, i;
    int rc;

    *released = 0;
    kt_consent_today(date);
    if ((rc = kt_store_begin(x->st, d)) != 0)
        return rc;
    if ((rc = kt_outbox_held(x->st, &rows, &n, d)) != 0)
        goto fail;
    for (i = 0; i < n; i++) {
        kt_diag_t why = {{0}};
        int by_consent = 0, r = s_try_release(x, &rows[i], date, now, &by_consent, &why);

        if (r == 0) {
            kt_envelope_id_hex(hex, rows[i].id);
            kt_log_info("record %s to %s: released %s", hex, rows[i].partner,
                        by_consent ? "by consent" : "(its rule no longer needs consent)");
            (*released)++;
        } else if (r != KT_ENOCONSENT && r != KT_EDENIED) {
            rc = r;
            *d = why;
            goto fail;
        }
    }
    free(rows);
    return kt_store_commit(x->st, d);
fail:
    free(rows);
    kt_store_rollback(x->st);
    return rc;
}

int kt_exchange_retract_consent(kt_exchange_t *x, const uint8_t id[KT_CONSENT_ID_BYTES],
                                size_t *retractions, kt_diag_t *d)
{
    char hex[KT_ENVELOPE_ID_HEX];
    int rc;

    if ((rc = kt_store_begin(x->st, d)) != 0)
        return rc;
    rc = kt_outbox_retract_consent(x->st, x->conf->keys, x->vault, id, s_now_ms(), retractions, d);
    if (rc == 0)
        rc = kt_store_commit(x->st, d);
    if (rc != 0) {
        kt_store_rollback(x->st);
        return rc;
    }
    kt_envelope_id_hex(hex, id);
    kt_log_info("consent %s ended: %zu retraction%s queued", hex, *retractions,
                *retractions == 1 ? "" : "s");
    return 0;
}

/* ---- views ---- */

const char *kt_exchange_endpoint(const kt_exchange_t *x)
{
    return kt_transport_endpoint(x->t);
}

const kt_vault_t *kt_exchange_vault(const kt_exchange_t *x)
{
    return x->vault;
}

int kt_exchange_partner_state(const kt_exchange_t *x, const char *partner, int *connected,
                              time_t *last_seen)
{
    kt_transport_partner_state_t s;
    int rc = kt_transport_partner_state(x->t, partner, &s);

    if (rc != 0)
        return rc;
    *connected = s.connected;
    *last_seen = s.last_seen;
    return 0;
}

int kt_exchange_pseudonym(void *ctx, const char *partner, const char *leerling_id,
                          char out[KT_PSEUDONYM_BYTES])
{
    const kt_exchange_t *x = ctx;
    const struct s_peer *p = s_peer(x, partner);

    if (p == NULL)
        return KT_ENOENT;
    return kt_envelope_peer_pseudonym(out, p->peer, leerling_id);
}
