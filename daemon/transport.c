/*
 * transport.c - ZeroMQ sockets, CurveZMQ, the ZAP handler, frame rules and
 * socket limits. The only file that includes zmq.h.
 *
 * Owns one zmq context per transport: the ZAP REP socket on
 * inproc://zeromq.zap.01, the ROUTER (CURVE server), and per partner a DEALER
 * (CURVE client) with a PAIR socket reading its monitor events. The ZAP socket
 * is bound before the ROUTER, so no handshake is ever accepted without it, and
 * it is serviced from kt_transport_poll(): libzmq's I/O thread only queues ZAP
 * requests, so a handshake waits for the next poll and can never deadlock.
 * Must never hand the caller a message from anyone but a current partner,
 * never log payload bytes or secrets (a refused key is logged by the hex of
 * its first 8 public bytes), and never block in send.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "keten/log.h"
#include "keten/transport.h"

/* Limits, set explicitly on every socket because libzmq's defaults are
 * unbounded (see docs/protocol.md §6). */
/* A CURVE handshake takes about a millisecond; 10 s allows a busy poll loop
 * (ZAP answers wait for it) yet drops silent half-open peers. */
#define KT_TRANSPORT_HANDSHAKE_MS 10000
/* Ping an idle connection every 10 s so NAT and firewalls keep it open... */
#define KT_TRANSPORT_HEARTBEAT_IVL_MS 10000
/* ...and give up on it after 30 s without a pong: the DEALER then reconnects. */
#define KT_TRANSPORT_HEARTBEAT_TIMEOUT_MS 30000
/* The peer may drop us after 60 s of silence (covers two missed heartbeats). */
#define KT_TRANSPORT_HEARTBEAT_TTL_MS 60000
/* Queue bound per connection (x 64 KiB = 16 MiB worst case): the outbox, not
 * the socket, is the durable queue, so a small bound just means "retry". */
#define KT_TRANSPORT_HWM 256
/* On close, frames still queued get 1 s to leave; they are all in the outbox. */
#define KT_TRANSPORT_LINGER_MS 1000
/* First reconnect after 100 ms, doubled by libzmq on each failure (with its
 * own jitter) up to 30 s, so a dead partner costs little. */
#define KT_TRANSPORT_RECONNECT_IVL_MS 100
#define KT_TRANSPORT_RECONNECT_IVL_MAX_MS 30000
/* libzmq never reconnects a DEALER whose handshake failed (refused by the
 * partner's ZAP, or a wrong server key), so the transport recreates it: after
 * 1 s, doubling up to the reconnect maximum, half of it random jitter. This
 * lets a partner that adds us later, or a fixed key, connect without restart. */
#define KT_TRANSPORT_REDIAL_MS 1000
/* A TCP connect that hangs (filtered port) is abandoned after 10 s. */
#define KT_TRANSPORT_CONNECT_TIMEOUT_MS 10000
/* Three sockets per partner (DEALER, its monitor, our PAIR) plus ours. */
#define KT_TRANSPORT_MAX_SOCKETS (3 * KT_TRANSPORT_PARTNERS_MAX + 16)
/* Peer-triggered warnings (refusals, drops) at most this often per minute, so
 * a flood cannot fill the log. */
#define KT_TRANSPORT_WARN_PER_MIN 30

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define S_ZAP_DOMAIN "keten"     /* set on the ROUTER, checked by our handler */
#define S_META_KEY "X-Keten-Key" /* ZAP metadata: hex box key the peer proved */
#define S_KEY_HEX (KT_BOX_PK_BYTES * 2 + 1)
#define S_META_BYTES (1 + sizeof(S_META_KEY) - 1 + 4 + S_KEY_HEX - 1)
#define S_ZAP_FRAMES 7  /* a CURVE ZAP request */
#define S_KEEP_FRAMES 8 /* a ZAP request, or routing id + 3; the rest are counted only */
#define S_DROP_BURST 64 /* dropped messages skipped per socket per service pass */
#define S_MONITOR_EVENTS                                                                           \
    (ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |    \
     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)

struct s_partner {
    kt_partner_endpoint_t conf;
    char key_hex[S_KEY_HEX];
    void *dealer;
    void *monitor; /* PAIR receiving the DEALER's monitor events */
    int connected;
    int last_event; /* last monitor event logged, to log changes only */
    time_t last_seen;
    int64_t redial_at; /* monotonic ms when the DEALER is recreated; 0: never */
    int redial_ms;     /* current redial backoff */
};

struct kt_transport {
    void *ctx;
    void *zap;
    void *router;
    const kt_keys_t *keys; /* borrowed */
    char endpoint[KT_TRANSPORT_ENDPOINT_MAX];
    struct s_partner **partners;
    size_t npartners;
    zmq_pollitem_t *items; /* zap, router, then dealer + monitor per partner */
    size_t nitems;
    zmq_pollitem_t *scratch; /* items plus a caller's fds (kt_transport_poll_fds) */
    size_t nscratch;
    size_t next; /* round-robin start among message sockets */
    unsigned monitor_seq;
    kt_transport_stats_t stats;
    time_t warn_window;
    unsigned warn_count;
    uint64_t warn_suppressed;
};

typedef struct s_parts {
    zmq_msg_t part[S_KEEP_FRAMES];
    size_t kept;
    size_t total;
} s_parts_t;

static const uint8_t s_empty[1];

/* --- small helpers --- */

static void s_hex(char *out, const uint8_t *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static int64_t s_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Warnings a peer can trigger go through here: rate-limited per minute. */
static void s_warn_peer(kt_transport_t *t, const char *fmt, ...) KT_PRINTF(2, 3);
static void s_warn_peer(kt_transport_t *t, const char *fmt, ...)
{
    time_t now = time(NULL);
    char line[512];
    va_list ap;

    if (now - t->warn_window >= 60) {
        if (t->warn_suppressed > 0)
            kt_log_warnx("transport: %llu similar warnings suppressed",
                         (unsigned long long)t->warn_suppressed);
        t->warn_window = now;
        t->warn_count = 0;
        t->warn_suppressed = 0;
    }
    if (t->warn_count >= KT_TRANSPORT_WARN_PER_MIN) {
        t->warn_suppressed++;
        return;
    }
    t->warn_count++;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    kt_log_warnx("transport: %s", line);
}

static struct s_partner *s_find(const kt_transport_t *t, const char *id)
{
    size_t i;

    if (id == NULL)
        return NULL;
    for (i = 0; i < t->npartners; i++)
        if (strcmp(t->partners[i]->conf.id, id) == 0)
            return t->partners[i];
    return NULL;
}

static struct s_partner *s_find_key(const kt_transport_t *t, const uint8_t *key)
{
    size_t i;

    for (i = 0; i < t->npartners; i++)
        if (memcmp(t->partners[i]->conf.box_pk, key, KT_BOX_PK_BYTES) == 0)
            return t->partners[i];
    return NULL;
}

static int s_setopt(void *sock, int opt, int value)
{
    return zmq_setsockopt(sock, opt, &value, sizeof(value));
}

/* The limits every socket that talks to a peer gets. */
static int s_set_limits(void *sock)
{
    int64_t max = KT_TRANSPORT_MAXMSGSIZE_BYTES;

    if (zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max, sizeof(max)) != 0 ||
        s_setopt(sock, ZMQ_HANDSHAKE_IVL, KT_TRANSPORT_HANDSHAKE_MS) != 0 ||
        s_setopt(sock, ZMQ_HEARTBEAT_IVL, KT_TRANSPORT_HEARTBEAT_IVL_MS) != 0 ||
        s_setopt(sock, ZMQ_HEARTBEAT_TIMEOUT, KT_TRANSPORT_HEARTBEAT_TIMEOUT_MS) != 0 ||
        s_setopt(sock, ZMQ_HEARTBEAT_TTL, KT_TRANSPORT_HEARTBEAT_TTL_MS) != 0 ||
        s_setopt(sock, ZMQ_SNDHWM, KT_TRANSPORT_HWM) != 0 ||
        s_setopt(sock, ZMQ_RCVHWM, KT_TRANSPORT_HWM) != 0 ||
        s_setopt(sock, ZMQ_LINGER, KT_TRANSPORT_LINGER_MS) != 0)
        return KT_EIO;
    return 0;
}

/* --- frames --- */

static int s_kind_from_frame(const kt_frame_t *f, kt_kind_t *kind)
{
    int i;

    for (i = KT_KIND_RECORD; i <= KT_KIND_PING; i++) {
        const char *name = kt_kind_name((kt_kind_t)i);

        if (f->len > 0 && strlen(name) == f->len && memcmp(name, f->data, f->len) == 0) {
            *kind = (kt_kind_t)i;
            return 0;
        }
    }
    return KT_EMALFORMED;
}

int kt_transport_classify(const kt_frame_t *frames, size_t n, kt_kind_t *kind, const char **why)
{
    static const char proto[] = KT_TRANSPORT_PROTOCOL;

    *why = NULL;
    if (n != KT_TRANSPORT_FRAMES) {
        *why = n < KT_TRANSPORT_FRAMES ? "too few frames" : "too many frames";
        return KT_EMALFORMED;
    }
    if (frames[0].len != sizeof(proto) - 1 || memcmp(frames[0].data, proto, frames[0].len) != 0) {
        *why = "unknown protocol id";
        return KT_EMALFORMED;
    }
    if (s_kind_from_frame(&frames[1], kind) != 0) {
        *why = "unknown kind";
        return KT_EMALFORMED;
    }
    if (frames[2].len == 0 && *kind != KT_KIND_PING) {
        *why = "empty payload";
        return KT_EMALFORMED;
    }
    if (frames[2].len > KT_TRANSPORT_PAYLOAD_MAX_BYTES) {
        *why = "payload too large";
        return KT_EMALFORMED;
    }
    return 0;
}

static int s_check_out(kt_kind_t kind, const uint8_t *payload, size_t len)
{
    if (kind < KT_KIND_RECORD || kind > KT_KIND_PING)
        return KT_EINVAL;
    if ((len == 0 && kind != KT_KIND_PING) || (len > 0 && payload == NULL))
        return KT_EINVAL;
    if (len > KT_TRANSPORT_PAYLOAD_MAX_BYTES)
        return KT_ETOOBIG;
    return 0;
}

/* Sends [route][protocol][kind][payload] without blocking. libzmq only
 * refuses the first frame of a message (HWM, unroutable), so a message is
 * queued whole or not at all. */
static int s_send_frames(void *sock, const uint8_t *route, size_t route_len, kt_kind_t kind,
                         const uint8_t *payload, size_t len)
{
    const char *name = kt_kind_name(kind);
    const int more = ZMQ_SNDMORE | ZMQ_DONTWAIT;

    if (route != NULL && zmq_send(sock, route, route_len, more) < 0)
        return KT_EIO;
    if (zmq_send(sock, KT_TRANSPORT_PROTOCOL, sizeof(KT_TRANSPORT_PROTOCOL) - 1, more) < 0 ||
        zmq_send(sock, name, strlen(name), more) < 0 ||
        zmq_send(sock, len ? payload : s_empty, len, ZMQ_DONTWAIT) < 0)
        return KT_EIO;
    return 0;
}

/* --- receiving --- */

static void s_parts_close(s_parts_t *p)
{
    size_t i;

    for (i = 0; i < p->kept; i++)
        zmq_msg_close(&p->part[i]);
    p->kept = 0;
    p->total = 0;
}

/* Reads one whole multipart message: 1 when read, 0 when none is waiting,
 * KT_EIO on failure. Frames beyond S_KEEP_FRAMES are counted and freed. */
static int s_parts_recv(void *sock, s_parts_t *p)
{
    int more = 1;

    p->kept = p->total = 0;
    while (more) {
        zmq_msg_t scratch, *m = p->kept < S_KEEP_FRAMES ? &p->part[p->kept] : &scratch;

        zmq_msg_init(m);
        if (zmq_msg_recv(m, sock, ZMQ_DONTWAIT) < 0) {
            int e = errno;

            zmq_msg_close(m);
            s_parts_close(p);
            return e == EAGAIN || e == EINTR ? 0 : KT_EIO;
        }
        more = zmq_msg_more(m);
        if (m == &scratch)
            zmq_msg_close(m);
        else
            p->kept++;
        p->total++;
    }
    return 1;
}

/* Copies frames [first..] into out: the kind, payload and status. */
static int s_fill(kt_transport_t *t, struct s_partner *pt, s_parts_t *p, size_t first,
                  kt_transport_msg_t *out)
{
    kt_frame_t f[KT_TRANSPORT_FRAMES] = {{NULL, 0}};
    size_t i, n = p->total - first;

    for (i = 0; i < KT_TRANSPORT_FRAMES && first + i < p->kept; i++) {
        f[i].data = zmq_msg_data(&p->part[first + i]);
        f[i].len = zmq_msg_size(&p->part[first + i]);
    }
    snprintf(out->partner, sizeof(out->partner), "%s", pt->conf.id);
    pt->last_seen = time(NULL);
    out->status = kt_transport_classify(f, n, &out->kind, &out->why);
    if (out->status != 0) {
        out->kind = 0;
        t->stats.malformed++;
        s_warn_peer(t, "malformed message from partner %s: %s (%zu frames)", pt->conf.id, out->why,
                    n);
        return 0;
    }
    if (f[2].len > 0) {
        if ((out->payload = malloc(f[2].len)) == NULL)
            return KT_ENOMEM;
        memcpy(out->payload, f[2].data, f[2].len);
        out->len = f[2].len;
    }
    t->stats.received++;
    return 0;
}

/* A ROUTER message: the sender is the partner whose id ZAP put in User-Id,
 * and only while the key it proved is still that partner's key. */
static int s_from_router(kt_transport_t *t, s_parts_t *p, kt_transport_msg_t *out)
{
    const char *uid, *key;
    struct s_partner *pt;
    size_t rlen;

    if (p->kept < 2) {
        t->stats.dropped++;
        return 0;
    }
    uid = zmq_msg_gets(&p->part[1], "User-Id");
    key = zmq_msg_gets(&p->part[1], S_META_KEY);
    pt = s_find(t, uid);
    if (pt == NULL || key == NULL || strcmp(key, pt->key_hex) != 0) {
        t->stats.dropped++;
        s_warn_peer(t, "dropped a message from %s: no longer a partner with that key",
                    uid && kt_keys_valid_id(uid) ? uid : "(unknown)");
        return 0;
    }
    rlen = zmq_msg_size(&p->part[0]);
    if (rlen == 0 || rlen > KT_TRANSPORT_ROUTE_MAX_BYTES) {
        t->stats.dropped++;
        return 0;
    }
    memcpy(out->route, zmq_msg_data(&p->part[0]), rlen);
    out->route_len = rlen;
    out->via = KT_TRANSPORT_VIA_ROUTER;
    if (s_fill(t, pt, p, 1, out) != 0)
        return KT_ENOMEM;
    return 1;
}

static int s_from_dealer(kt_transport_t *t, struct s_partner *pt, s_parts_t *p,
                         kt_transport_msg_t *out)
{
    out->via = KT_TRANSPORT_VIA_DEALER;
    if (s_fill(t, pt, p, 0, out) != 0)
        return KT_ENOMEM;
    return 1;
}

/* --- ZAP --- */

static int s_frame_is(zmq_msg_t *m, const char *s)
{
    return zmq_msg_size(m) == strlen(s) && memcmp(zmq_msg_data(m), s, strlen(s)) == 0;
}

/* The peer's address for the log: printable ASCII only, bounded. */
static void s_addr(char out[64], zmq_msg_t *m)
{
    size_t i, n = zmq_msg_size(m);
    const uint8_t *b = zmq_msg_data(m);

    if (n > 63)
        n = 63;
    for (i = 0; i < n; i++)
        out[i] = b[i] >= 0x20 && b[i] < 0x7f ? (char)b[i] : '?';
    out[n] = '\0';
}

/* Decides one CURVE ZAP request; the partner admitted, or NULL (logged). */
static struct s_partner *s_zap_decide(kt_transport_t *t, s_parts_t *p)
{
    zmq_msg_t *frames = p->part;
    struct s_partner *pt = NULL;
    char addr[64] = "?", fp[2 * 8 + 1] = "?";

    if (p->total == S_ZAP_FRAMES && s_frame_is(&frames[0], "1.0") &&
        s_frame_is(&frames[2], S_ZAP_DOMAIN) && s_frame_is(&frames[5], "CURVE") &&
        zmq_msg_size(&frames[6]) == KT_BOX_PK_BYTES) {
        s_addr(addr, &frames[3]);
        s_hex(fp, zmq_msg_data(&frames[6]), 8);
        pt = s_find_key(t, zmq_msg_data(&frames[6]));
    }
    if (pt == NULL) {
        t->stats.refused++;
        s_warn_peer(t, "refused a CURVE handshake from %s: box key %s... is not a partner", addr,
                    fp);
    }
    return pt;
}

/* ZMTP property list: one "X-Keten-Key" = hex key. */
static size_t s_zap_metadata(uint8_t out[S_META_BYTES], const struct s_partner *pt)
{
    size_t nl = sizeof(S_META_KEY) - 1, vl = S_KEY_HEX - 1, n = 0;

    out[n++] = (uint8_t)nl;
    memcpy(out + n, S_META_KEY, nl);
    n += nl;
    out[n++] = 0;
    out[n++] = 0;
    out[n++] = 0;
    out[n++] = (uint8_t)vl;
    memcpy(out + n, pt->key_hex, vl);
    return n + vl;
}

/* Answers one pending ZAP request, if any: 1 answered, 0 none, KT_EIO. The
 * REP socket needs exactly one reply per request, so even a request we cannot
 * read gets one. Requests only come from our own ROUTER, but are still
 * checked field by field. Nothing is kept about a refused key. */
static int s_zap_service(kt_transport_t *t)
{
    s_parts_t req;
    struct s_partner *pt;
    uint8_t meta[S_META_BYTES] = {0};
    size_t mlen = 0;
    const int more = ZMQ_SNDMORE;
    int rc;

    rc = s_parts_recv(t->zap, &req);
    if (rc <= 0)
        return rc;
    pt = s_zap_decide(t, &req);
    if (pt != NULL)
        mlen = s_zap_metadata(meta, pt);
    rc = 1;
    if (zmq_send(t->zap, "1.0", 3, more) < 0 ||
        zmq_send(t->zap, req.kept > 1 ? zmq_msg_data(&req.part[1]) : s_empty,
                 req.kept > 1 ? zmq_msg_size(&req.part[1]) : 0, more) < 0 ||
        zmq_send(t->zap, pt ? "200" : "400", 3, more) < 0 ||
        zmq_send(t->zap, pt ? "OK" : "not a partner", pt ? 2 : 13, more) < 0 ||
        zmq_send(t->zap, pt ? pt->conf.id : "", pt ? strlen(pt->conf.id) : 0, more) < 0 ||
        zmq_send(t->zap, mlen ? meta : s_empty, mlen, 0) < 0) {
        kt_log_warn("transport: cannot answer a ZAP request");
        rc = KT_EIO;
    }
    s_parts_close(&req);
    return rc;
}

/* --- monitor events --- */

/* Schedules the DEALER's recreation after a failed handshake. */
static void s_redial_later(struct s_partner *pt)
{
    int64_t now = s_now_ms();
    int half;

    if (pt->redial_at != 0)
        return;
    if (pt->redial_ms == 0)
        pt->redial_ms = KT_TRANSPORT_REDIAL_MS;
    else if (pt->redial_ms < KT_TRANSPORT_RECONNECT_IVL_MAX_MS / 2)
        pt->redial_ms *= 2;
    else
        pt->redial_ms = KT_TRANSPORT_RECONNECT_IVL_MAX_MS;
    half = pt->redial_ms / 2;
    /* jitter only spreads retries; it needs no cryptographic randomness */
    pt->redial_at = now + half + (int64_t)((uint64_t)now * 2654435761u % (uint64_t)half);
}

static void s_monitor_event(struct s_partner *pt, int event, uint32_t value)
{
    int log_it = event != pt->last_event;

    pt->last_event = event;
    if (event & (ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL))
        s_redial_later(pt);
    switch (event) {
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        pt->connected = 1;
        pt->redial_ms = 0;
        kt_log_info("transport: connected to partner %s", pt->conf.id);
        break;
    case ZMQ_EVENT_DISCONNECTED:
        if (pt->connected)
            kt_log_info("transport: disconnected from partner %s", pt->conf.id);
        pt->connected = 0;
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        pt->connected = 0;
        if (log_it)
            kt_log_warnx("transport: partner %s refused our key (ZAP status %u); "
                         "does its configuration list this node?",
                         pt->conf.id, (unsigned)value);
        break;
    default: /* protocol failure: most often a wrong server key in our config */
        pt->connected = 0;
        if (log_it)
            kt_log_warnx("transport: CURVE handshake with partner %s failed; "
                         "check its box key in the configuration",
                         pt->conf.id);
        break;
    }
}

/* Drains one partner's monitor socket. Frame 1: u16 event, u32 value. */
static int s_monitor_service(struct s_partner *pt)
{
    s_parts_t ev;
    uint16_t event;
    uint32_t value;
    int rc;

    while ((rc = s_parts_recv(pt->monitor, &ev)) == 1) {
        if (ev.kept >= 1 && zmq_msg_size(&ev.part[0]) == 6) {
            memcpy(&event, zmq_msg_data(&ev.part[0]), 2);
            memcpy(&value, (uint8_t *)zmq_msg_data(&ev.part[0]) + 2, 4);
            s_monitor_event(pt, event, value);
        }
        s_parts_close(&ev);
    }
    return rc;
}

/* --- partners --- */

static void s_partner_destroy(struct s_partner **p)
{
    struct s_partner *pt = *p;

    if (pt == NULL)
        return;
    if (pt->dealer != NULL)
        (void)zmq_socket_monitor(pt->dealer, NULL, 0);
    if (pt->monitor != NULL)
        zmq_close(pt->monitor);
    if (pt->dealer != NULL)
        zmq_close(pt->dealer);
    free(pt);
    *p = NULL;
}

static int s_dealer_keys(void *sock, const kt_keys_t *keys, const uint8_t *server_pk)
{
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_pk, KT_BOX_PK_BYTES) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, kt_keys_public(keys)->box_pk, KT_BOX_PK_BYTES) !=
            0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, kt_keys_box_sk(keys), KT_BOX_SK_BYTES) != 0)
        return KT_EIO;
    return 0;
}

static int s_dealer_options(void *sock)
{
    if (s_set_limits(sock) != 0 ||
        s_setopt(sock, ZMQ_RECONNECT_IVL, KT_TRANSPORT_RECONNECT_IVL_MS) != 0 ||
        s_setopt(sock, ZMQ_RECONNECT_IVL_MAX, KT_TRANSPORT_RECONNECT_IVL_MAX_MS) != 0 ||
        s_setopt(sock, ZMQ_CONNECT_TIMEOUT, KT_TRANSPORT_CONNECT_TIMEOUT_MS) != 0)
        return KT_EIO;
    return 0;
}

/* The monitor: libzmq publishes the DEALER's events on an inproc PAIR. */
static int s_partner_monitor(kt_transport_t *t, struct s_partner *pt)
{
    char addr[64];

    snprintf(addr, sizeof(addr), "inproc://keten-monitor-%u", t->monitor_seq++);
    if (zmq_socket_monitor(pt->dealer, addr, S_MONITOR_EVENTS) != 0 ||
        (pt->monitor = zmq_socket(t->ctx, ZMQ_PAIR)) == NULL ||
        s_setopt(pt->monitor, ZMQ_LINGER, 0) != 0 || zmq_connect(pt->monitor, addr) != 0)
        return KT_EIO;
    return 0;
}

static int s_partner_new(kt_transport_t *t, struct s_partner **out,
                         const kt_partner_endpoint_t *conf, kt_diag_t *d)
{
    struct s_partner *pt;
    int rc = KT_ENOMEM;

    *out = NULL;
    if ((pt = calloc(1, sizeof(*pt))) == NULL) {
        rc = kt_diag_set(d, KT_ENOMEM, "out of memory");
        goto out;
    }
    pt->conf = *conf;
    s_hex(pt->key_hex, conf->box_pk, KT_BOX_PK_BYTES);
    if ((pt->dealer = zmq_socket(t->ctx, ZMQ_DEALER)) == NULL ||
        s_dealer_options(pt->dealer) != 0 ||
        s_dealer_keys(pt->dealer, t->keys, conf->box_pk) != 0 || s_partner_monitor(t, pt) != 0) {
        rc = kt_diag_set(d, KT_EIO, "partner %s: cannot set up its socket: %s", conf->id,
                         zmq_strerror(errno));
        goto out;
    }
    if (zmq_connect(pt->dealer, conf->endpoint) != 0) {
        rc = kt_diag_set(d, KT_EINVAL, "partner %s: cannot connect to %s: %s", conf->id,
                         conf->endpoint, zmq_strerror(errno));
        goto out;
    }
    *out = pt;
    pt = NULL;
    rc = 0;
out:
    s_partner_destroy(&pt);
    return rc;
}

static void s_fill_items(kt_transport_t *t);

/* Recreates pt's DEALER (and monitor) in place, keeping its state; the old
 * sockets stay if the new ones cannot be made, and it is tried again later. */
static void s_redial(kt_transport_t *t, struct s_partner *pt)
{
    struct s_partner *fresh = NULL;
    void *dealer, *monitor;

    pt->redial_at = 0;
    if (s_partner_new(t, &fresh, &pt->conf, NULL) != 0 || fresh == NULL) {
        kt_log_warnx("transport: cannot recreate the socket for partner %s", pt->conf.id);
        s_redial_later(pt);
        return;
    }
    dealer = pt->dealer;
    monitor = pt->monitor;
    pt->dealer = fresh->dealer;
    pt->monitor = fresh->monitor;
    fresh->dealer = dealer;
    fresh->monitor = monitor;
    pt->connected = 0;
    s_partner_destroy(&fresh);
    kt_log_debug("transport: redialling partner %s", pt->conf.id);
}

/* Redials what is due; returns ms until the next one is due, or -1. */
static long s_redial_due(kt_transport_t *t)
{
    int64_t now = s_now_ms(), next = -1;
    size_t i;
    int changed = 0;

    for (i = 0; i < t->npartners; i++) {
        struct s_partner *pt = t->partners[i];

        if (pt->redial_at != 0 && pt->redial_at <= now) {
            s_redial(t, pt);
            changed = 1;
        }
        if (pt->redial_at != 0 && (next < 0 || pt->redial_at - now < next))
            next = pt->redial_at > now ? pt->redial_at - now : 0;
    }
    if (changed)
        s_fill_items(t);
    return (long)next;
}

static int s_check_partner(const kt_partner_endpoint_t *list, size_t i, kt_diag_t *d)
{
    const kt_partner_endpoint_t *p = &list[i];
    size_t j;

    if (memchr(p->id, '\0', sizeof(p->id)) == NULL || !kt_keys_valid_id(p->id))
        return kt_diag_set(d, KT_EINVAL, "partner %zu: invalid node id", i + 1);
    if (memchr(p->endpoint, '\0', sizeof(p->endpoint)) == NULL || p->endpoint[0] == '\0')
        return kt_diag_set(d, KT_EINVAL, "partner %s: missing or too long endpoint", p->id);
    for (j = 0; j < i; j++) {
        if (strcmp(list[j].id, p->id) == 0)
            return kt_diag_set(d, KT_EINVAL, "partner %s is listed twice", p->id);
        if (memcmp(list[j].box_pk, p->box_pk, KT_BOX_PK_BYTES) == 0)
            return kt_diag_set(d, KT_EINVAL, "partners %s and %s have the same box key", list[j].id,
                               p->id);
    }
    return 0;
}

/* Same id, key and endpoint: the connection can stay. */
static int s_same(const kt_partner_endpoint_t *a, const kt_partner_endpoint_t *b)
{
    return strcmp(a->id, b->id) == 0 && memcmp(a->box_pk, b->box_pk, KT_BOX_PK_BYTES) == 0 &&
           strcmp(a->endpoint, b->endpoint) == 0;
}

static struct s_partner *s_find_same(const kt_transport_t *t, const kt_partner_endpoint_t *conf)
{
    size_t i;

    for (i = 0; i < t->npartners; i++)
        if (s_same(&t->partners[i]->conf, conf))
            return t->partners[i];
    return NULL;
}

static int s_in(struct s_partner *const *set, size_t n, const struct s_partner *pt)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (set[i] == pt)
            return 1;
    return 0;
}

static int s_rebuild_items(kt_transport_t *t, size_t np)
{
    zmq_pollitem_t *items = calloc(2 + 2 * np, sizeof(*items));
    size_t i;

    if (items == NULL)
        return KT_ENOMEM;
    items[0].socket = t->zap;
    items[1].socket = t->router;
    for (i = 0; i < 2 + 2 * np; i++)
        items[i].events = ZMQ_POLLIN;
    free(t->items);
    t->items = items;
    t->nitems = 2 + 2 * np;
    return 0;
}

static void s_fill_items(kt_transport_t *t)
{
    size_t i;

    for (i = 0; i < t->npartners; i++) {
        t->items[2 + 2 * i].socket = t->partners[i]->dealer;
        t->items[3 + 2 * i].socket = t->partners[i]->monitor;
    }
}

/* Frees what set_partners built: fresh partners always, or (after the swap)
 * the old ones that are not kept. */
static void s_release(struct s_partner **set, size_t n, struct s_partner *const *keep, size_t nkeep)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!s_in(keep, nkeep, set[i]))
            s_partner_destroy(&set[i]);
    free(set);
}

int kt_transport_set_partners(kt_transport_t *t, const kt_partner_endpoint_t *list, size_t n,
                              kt_diag_t *d)
{
    struct s_partner **fresh = NULL, **old;
    size_t i, built = 0, nold;
    int rc;

    if (n > KT_TRANSPORT_PARTNERS_MAX)
        return kt_diag_set(d, KT_EINVAL, "too many partners (%zu, at most %d)", n,
                           KT_TRANSPORT_PARTNERS_MAX);
    for (i = 0; i < n; i++)
        if ((rc = s_check_partner(list, i, d)) != 0)
            return rc;
    rc = kt_diag_set(d, KT_ENOMEM, "out of memory");
    if (n > 0 && (fresh = calloc(n, sizeof(struct s_partner *))) == NULL)
        goto out;
    for (built = 0; built < n; built++) {
        struct s_partner *pt = s_find_same(t, &list[built]);

        if (pt == NULL && (rc = s_partner_new(t, &pt, &list[built], d)) != 0)
            goto out;
        if (pt == NULL) {
            rc = KT_EIO;
            goto out;
        }
        fresh[built] = pt;
    }
    if ((rc = s_rebuild_items(t, n)) != 0)
        goto out;
    old = t->partners;
    nold = t->npartners;
    t->partners = fresh;
    t->npartners = n;
    s_fill_items(t);
    t->next = 0;
    s_release(old, nold, fresh, n);
    kt_log_info("transport: %zu partner(s) configured", n);
    return 0;
out:
    /* undo: destroy only what this call created */
    for (i = 0; i < built && fresh != NULL; i++)
        if (s_in(t->partners, t->npartners, fresh[i]))
            fresh[i] = NULL;
    if (fresh != NULL)
        s_release(fresh, built, NULL, 0);
    return rc;
}

/* --- life cycle --- */

static int s_zap_start(kt_transport_t *t, kt_diag_t *d)
{
    if ((t->zap = zmq_socket(t->ctx, ZMQ_REP)) == NULL || s_setopt(t->zap, ZMQ_LINGER, 0) != 0 ||
        zmq_bind(t->zap, S_ZAP_ENDPOINT) != 0)
        return kt_diag_set(d, KT_EIO, "cannot start the ZAP handler: %s", zmq_strerror(errno));
    return 0;
}

static int s_router_start(kt_transport_t *t, const char *listen, kt_diag_t *d)
{
    size_t len = sizeof(t->endpoint);

    if ((t->router = zmq_socket(t->ctx, ZMQ_ROUTER)) == NULL || s_set_limits(t->router) != 0 ||
        s_setopt(t->router, ZMQ_ROUTER_MANDATORY, 1) != 0 ||
        s_setopt(t->router, ZMQ_CURVE_SERVER, 1) != 0 ||
        zmq_setsockopt(t->router, ZMQ_CURVE_SECRETKEY, kt_keys_box_sk(t->keys), KT_BOX_SK_BYTES) !=
            0 ||
        zmq_setsockopt(t->router, ZMQ_ZAP_DOMAIN, S_ZAP_DOMAIN, strlen(S_ZAP_DOMAIN)) != 0)
        return kt_diag_set(d, KT_EIO, "cannot set up the ROUTER socket: %s", zmq_strerror(errno));
    if (zmq_bind(t->router, listen) != 0)
        return kt_diag_set(d, errno == EINVAL || errno == EPROTONOSUPPORT ? KT_EINVAL : KT_EIO,
                           "cannot listen on %s: %s", listen, zmq_strerror(errno));
    if (zmq_getsockopt(t->router, ZMQ_LAST_ENDPOINT, t->endpoint, &len) != 0)
        return kt_diag_set(d, KT_EIO, "cannot read the bound endpoint: %s", zmq_strerror(errno));
    return 0;
}

int kt_transport_new(kt_transport_t **out, const kt_keys_t *keys, const char *listen, kt_diag_t *d)
{
    kt_transport_t *t;
    int rc = kt_diag_set(d, KT_ENOMEM, "out of memory");

    *out = NULL;
    if (listen == NULL || listen[0] == '\0' || strlen(listen) >= KT_TRANSPORT_ENDPOINT_MAX)
        return kt_diag_set(d, KT_EINVAL, "missing or too long listen endpoint");
    if ((t = calloc(1, sizeof(*t))) == NULL)
        return rc;
    t->keys = keys;
    /* Own context per node: the ZAP endpoint is per context, and tests run
     * several nodes in one process. */
    if ((t->ctx = zmq_ctx_new()) == NULL ||
        zmq_ctx_set(t->ctx, ZMQ_MAX_SOCKETS, KT_TRANSPORT_MAX_SOCKETS) != 0) {
        rc = kt_diag_set(d, KT_EIO, "cannot create a zmq context: %s", zmq_strerror(errno));
        goto out;
    }
    if ((rc = s_zap_start(t, d)) != 0 || (rc = s_router_start(t, listen, d)) != 0 ||
        (rc = s_rebuild_items(t, 0)) != 0)
        goto out;
    kt_log_info("transport: listening on %s", t->endpoint);
    *out = t;
    t = NULL;
out:
    kt_transport_destroy(&t);
    return rc;
}

void kt_transport_destroy(kt_transport_t **p)
{
    kt_transport_t *t = *p;
    size_t i;

    if (t == NULL)
        return;
    for (i = 0; i < t->npartners; i++)
        s_partner_destroy(&t->partners[i]);
    free(t->partners);
    free(t->items);
    free(t->scratch);
    if (t->router != NULL)
        zmq_close(t->router);
    if (t->zap != NULL)
        zmq_close(t->zap);
    if (t->ctx != NULL)
        zmq_ctx_term(t->ctx); /* bounded: every socket has a finite linger */
    free(t);
    *p = NULL;
}

const char *kt_transport_endpoint(const kt_transport_t *t)
{
    return t->endpoint;
}

/* --- sending --- */

int kt_transport_send(kt_transport_t *t, const char *partner, kt_kind_t kind,
                      const uint8_t *payload, size_t len)
{
    struct s_partner *pt = s_find(t, partner);
    int rc;

    if (pt == NULL)
        return KT_ENOENT;
    if ((rc = s_check_out(kind, payload, len)) != 0)
        return rc;
    if ((rc = s_send_frames(pt->dealer, NULL, 0, kind, payload, len)) != 0)
        return rc;
    t->stats.sent++;
    return 0;
}

int kt_transport_reply(kt_transport_t *t, const kt_transport_msg_t *to, kt_kind_t kind,
                       const uint8_t *payload, size_t len)
{
    struct s_partner *pt = s_find(t, to->partner);
    int rc;

    if (pt == NULL)
        return KT_ENOENT;
    if ((rc = s_check_out(kind, payload, len)) != 0)
        return rc;
    if (to->via == KT_TRANSPORT_VIA_ROUTER) {
        if (to->route_len == 0 || to->route_len > KT_TRANSPORT_ROUTE_MAX_BYTES)
            return KT_EINVAL;
        rc = s_send_frames(t->router, to->route, to->route_len, kind, payload, len);
    } else if (to->via == KT_TRANSPORT_VIA_DEALER) {
        rc = s_send_frames(pt->dealer, NULL, 0, kind, payload, len);
    } else {
        rc = KT_EINVAL;
    }
    if (rc == 0)
        t->stats.sent++;
    return rc;
}

/* --- polling --- */

/* One message from socket slot (0: ROUTER, i: DEALER of partner i-1): 1 and
 * *out filled, 0 when nothing is waiting, < 0 on error. Dropped messages are
 * skipped, at most S_DROP_BURST per call so a flood cannot hold the loop. */
static int s_recv_slot(kt_transport_t *t, size_t slot, kt_transport_msg_t *out)
{
    struct s_partner *pt = slot == 0 ? NULL : t->partners[slot - 1];
    int tries, rc = 0;

    for (tries = 0; tries < S_DROP_BURST && rc == 0; tries++) {
        s_parts_t p;

        if ((rc = s_parts_recv(pt ? pt->dealer : t->router, &p)) <= 0)
            return rc;
        rc = pt ? s_from_dealer(t, pt, &p, out) : s_from_router(t, &p, out);
        s_parts_close(&p);
    }
    if (rc < 0)
        kt_transport_msg_clear(out);
    return rc;
}

/* Everything that is ready, without waiting: ZAP first (handshakes wait on
 * it), then monitors, then one message, round robin over the sockets. */
static int s_service(kt_transport_t *t, kt_transport_msg_t *out, long *redial_in)
{
    size_t i, nslots = 1 + t->npartners;
    int rc;

    *redial_in = s_redial_due(t);

    while ((rc = s_zap_service(t)) == 1)
        ;
    if (rc < 0)
        return rc;
    for (i = 0; i < t->npartners; i++)
        if ((rc = s_monitor_service(t->partners[i])) < 0)
            return rc;
    for (i = 0; i < nslots; i++) {
        size_t slot = (t->next + i) % nslots;

        if ((rc = s_recv_slot(t, slot, out)) != 0) {
            t->next = slot + 1;
            return rc;
        }
    }
    return 0;
}

/* The transport's items followed by the caller's fds, in t->scratch. */
static zmq_pollitem_t *s_items_with(kt_transport_t *t, const struct pollfd *fds, size_t nfds)
{
    size_t i, n = t->nitems + nfds;

    if (n > t->nscratch) {
        zmq_pollitem_t *grown = realloc(t->scratch, n * sizeof(*grown));

        if (grown == NULL)
            return NULL;
        t->scratch = grown;
        t->nscratch = n;
    }
    memcpy(t->scratch, t->items, t->nitems * sizeof(*t->items));
    for (i = 0; i < nfds; i++) {
        zmq_pollitem_t *it = &t->scratch[t->nitems + i];

        memset(it, 0, sizeof(*it));
        it->fd = fds[i].fd;
        it->events = (short)(((fds[i].events & POLLIN) ? ZMQ_POLLIN : 0) |
                             ((fds[i].events & POLLOUT) ? ZMQ_POLLOUT : 0));
    }
    return t->scratch;
}

/* Copies readiness back to the caller's fds; 1 if any is ready. */
static int s_fds_ready(const zmq_pollitem_t *items, struct pollfd *fds, size_t nfds)
{
    size_t i;
    int any = 0;

    for (i = 0; i < nfds; i++) {
        short re = items[i].revents;

        fds[i].revents =
            (short)(((re & ZMQ_POLLIN) ? POLLIN : 0) | ((re & ZMQ_POLLOUT) ? POLLOUT : 0) |
                    ((re & ZMQ_POLLERR) ? POLLERR : 0));
        any |= fds[i].revents != 0;
    }
    return any;
}

int kt_transport_poll_fds(kt_transport_t *t, int timeout_ms, struct pollfd *fds, size_t nfds,
                          kt_transport_msg_t *out)
{
    int64_t deadline = s_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    size_t i;
    int rc;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < nfds; i++)
        fds[i].revents = 0;
    for (;;) {
        zmq_pollitem_t *items;
        long wait, redial_in;

        if ((rc = s_service(t, out, &redial_in)) != 0) {
            if (rc == 1 && nfds > 0) /* tell the caller about its fds too */
                (void)!poll(fds, nfds, 0);
            return rc;
        }
        wait = timeout_ms < 0 ? -1 : (long)(deadline - s_now_ms());
        if (timeout_ms >= 0 && wait < 0)
            wait = 0;
        if (redial_in >= 0 && (wait < 0 || redial_in < wait))
            wait = redial_in + 1;
        if ((items = s_items_with(t, fds, nfds)) == NULL)
            return KT_ENOMEM;
        rc = zmq_poll(items, (int)(t->nitems + nfds), wait);
        if (rc < 0)
            return errno == EINTR ? 0 : KT_EIO;
        if (s_fds_ready(items + t->nitems, fds, nfds))
            return 0;
        if (rc == 0 && timeout_ms >= 0 && s_now_ms() >= deadline)
            return 0;
    }
}

int kt_transport_poll(kt_transport_t *t, int timeout_ms, kt_transport_msg_t *out)
{
    return kt_transport_poll_fds(t, timeout_ms, NULL, 0, out);
}

void kt_transport_msg_clear(kt_transport_msg_t *m)
{
    if (m == NULL)
        return;
    free(m->payload);
    memset(m, 0, sizeof(*m));
}

/* --- state --- */

int kt_transport_partner_state(const kt_transport_t *t, const char *partner,
                               kt_transport_partner_state_t *out)
{
    const struct s_partner *pt = s_find(t, partner);

    if (pt == NULL)
        return KT_ENOENT;
    out->connected = pt->connected;
    out->last_seen = pt->last_seen;
    return 0;
}

int kt_transport_partner_connected(const kt_transport_t *t, const char *partner)
{
    const struct s_partner *pt = s_find(t, partner);

    return pt != NULL && pt->connected;
}

void kt_transport_stats(const kt_transport_t *t, kt_transport_stats_t *out)
{
    *out = t->stats;
}
