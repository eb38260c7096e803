/*
 * test_transport.c - the ZeroMQ transport: CURVE + ZAP partner admission,
 * the frame rules, limits, partner reloads and reconnects.
 *
 * Several transports live in one process, each in its own zmq context, bound
 * to tcp://127.0.0.1:* (the real port is asked for, never fixed). Bad frames
 * are sent from a hand-made CURVE DEALER built on zmq directly. Every wait is
 * a poll loop with a deadline of a few seconds.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "keten/keys.h"
#include "keten/transport.h"

#define S_WAIT_MS 5000 /* deadline for anything that should happen */
#define S_QUIET_MS 500 /* how long "nothing arrives" is watched */

typedef struct s_node {
    kt_keys_t *keys;
    kt_transport_t *t;
} s_node_t;

static int64_t s_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_node_keys(s_node_t *n, const char *id)
{
    kt_diag_t d = {{0}};

    assert_int_equal(kt_keys_generate(&n->keys, id, KT_ROLE_SCHOOL, &d), 0);
}

static void s_node_start(s_node_t *n, const char *listen)
{
    kt_diag_t d = {{0}};

    assert_int_equal(kt_transport_new(&n->t, n->keys, listen, &d), 0);
    assert_non_null(n->t);
}

static void s_node_new(s_node_t *n, const char *id)
{
    s_node_keys(n, id);
    s_node_start(n, "tcp://127.0.0.1:*");
}

static void s_node_destroy(s_node_t *n)
{
    kt_transport_destroy(&n->t);
    kt_keys_destroy(&n->keys);
}

/* n's entry in someone's partner list. */
static kt_partner_endpoint_t s_entry(const s_node_t *n)
{
    kt_partner_endpoint_t e;

    memset(&e, 0, sizeof(e));
    snprintf(e.id, sizeof(e.id), "%s", kt_keys_public(n->keys)->id);
    memcpy(e.box_pk, kt_keys_public(n->keys)->box_pk, KT_BOX_PK_BYTES);
    snprintf(e.endpoint, sizeof(e.endpoint), "%s", kt_transport_endpoint(n->t));
    return e;
}

static void s_partners(s_node_t *n, const s_node_t *a, const s_node_t *b)
{
    kt_partner_endpoint_t list[2];
    kt_diag_t d = {{0}};
    size_t k = 0;

    if (a != NULL)
        list[k++] = s_entry(a);
    if (b != NULL)
        list[k++] = s_entry(b);
    assert_int_equal(kt_transport_set_partners(n->t, list, k, &d), 0);
}

/* Polls t until a message arrives (1) or ms pass (0); pump (may be NULL) is
 * polled too, so its ZAP handler and monitor keep working. */
static int s_recv(s_node_t *n, kt_transport_msg_t *m, int ms, s_node_t *pump)
{
    int64_t deadline = s_now_ms() + ms;
    int rc;

    while (s_now_ms() < deadline) {
        rc = kt_transport_poll(n->t, 20, m);
        assert_true(rc >= 0);
        if (rc == 1)
            return 1;
        if (pump != NULL) {
            kt_transport_msg_t x;

            rc = kt_transport_poll(pump->t, 0, &x);
            assert_int_equal(rc, 0); /* nothing is expected there */
        }
    }
    return 0;
}

/* Waits (bounded) until from's DEALER to `to` has completed its handshake
 * (to's poll loop answers the ZAP request meanwhile), then sends. DEALERs
 * queue without ZMQ_IMMEDIATE (see transport.c), so waiting first is what
 * makes "sent" mean "on a connection". KT_EIO if no handshake completes. */
static int s_send(s_node_t *from, s_node_t *to, kt_kind_t kind, const char *text)
{
    int64_t deadline = s_now_ms() + S_WAIT_MS;
    const char *id = kt_keys_public(to->keys)->id;

    while (!kt_transport_partner_connected(from->t, id) && s_now_ms() < deadline) {
        kt_transport_msg_t x;

        if (to->t != NULL)
            assert_int_equal(kt_transport_poll(to->t, 10, &x), 0);
        assert_int_equal(kt_transport_poll(from->t, 10, &x), 0);
    }
    if (!kt_transport_partner_connected(from->t, id))
        return KT_EIO;
    return kt_transport_send(from->t, id, kind, (const uint8_t *)text, strlen(text));
}

static void s_assert_payload(const kt_transport_msg_t *m, const char *text)
{
    assert_int_equal(m->len, strlen(text));
    assert_memory_equal(m->payload, text, m->len);
}

/* --- stderr capture, to check what an operator would read --- */

typedef struct s_capture {
    int saved;
    char path[64];
} s_capture_t;

static void s_capture_start(s_capture_t *c)
{
    int fd;

    snprintf(c->path, sizeof(c->path), "/tmp/keten-test-transport.XXXXXX");
    fd = mkstemp(c->path);
    assert_true(fd >= 0);
    fflush(stderr);
    c->saved = dup(2);
    assert_true(c->saved >= 0);
    assert_true(dup2(fd, 2) == 2);
    close(fd);
}

/* Restores stderr; returns what was written (caller frees). */
static char *s_capture_end(s_capture_t *c)
{
    FILE *f;
    char *buf = calloc(1, 65536);
    size_t n;

    fflush(stderr);
    assert_true(dup2(c->saved, 2) == 2);
    close(c->saved);
    assert_non_null(buf);
    f = fopen(c->path, "r");
    assert_non_null(f);
    n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    unlink(c->path);
    fputs(buf, stderr); /* keep it in the test log */
    return buf;
}

/* --- a hand-made CURVE DEALER speaking raw frames --- */

typedef struct s_raw {
    void *ctx;
    void *sock;
} s_raw_t;

static void s_raw_open(s_raw_t *r, const s_node_t *as, const s_node_t *to)
{
    int zero = 0;

    r->ctx = zmq_ctx_new();
    assert_non_null(r->ctx);
    r->sock = zmq_socket(r->ctx, ZMQ_DEALER);
    assert_non_null(r->sock);
    assert_int_equal(zmq_setsockopt(r->sock, ZMQ_LINGER, &zero, sizeof(zero)), 0);
    assert_int_equal(
        zmq_setsockopt(r->sock, ZMQ_CURVE_SERVERKEY, kt_keys_public(to->keys)->box_pk, 32), 0);
    assert_int_equal(
        zmq_setsockopt(r->sock, ZMQ_CURVE_PUBLICKEY, kt_keys_public(as->keys)->box_pk, 32), 0);
    assert_int_equal(zmq_setsockopt(r->sock, ZMQ_CURVE_SECRETKEY, kt_keys_box_sk(as->keys), 32), 0);
    assert_int_equal(zmq_connect(r->sock, kt_transport_endpoint(to->t)), 0);
}

static void s_raw_close(s_raw_t *r)
{
    zmq_close(r->sock);
    zmq_ctx_term(r->ctx);
}

/* Sends n frames given as (pointer, length) pairs. */
static void s_raw_send(s_raw_t *r, int n, ...)
{
    va_list ap;
    int i;

    va_start(ap, n);
    for (i = 0; i < n; i++) {
        const void *p = va_arg(ap, const void *);
        size_t len = va_arg(ap, size_t);

        assert_true(zmq_send(r->sock, p, len, i + 1 < n ? ZMQ_SNDMORE : 0) >= 0);
    }
    va_end(ap);
}

#define F(s) (const void *)(s), strlen(s)

/* Sends raw frames, then expects one malformed event at `to` naming why. */
static void s_expect_malformed(s_node_t *to, const char *partner, const char *why)
{
    kt_transport_msg_t m;

    assert_int_equal(s_recv(to, &m, S_WAIT_MS, NULL), 1);
    assert_int_equal(m.status, KT_EMALFORMED);
    assert_string_equal(m.partner, partner);
    assert_string_equal(m.why, why);
    assert_null(m.payload);
    kt_transport_msg_clear(&m);
}

/* --- tests --- */

static void test_classify(void **state)
{
    static const uint8_t rec[] = "record", env[] = "\x01xyz";
    kt_frame_t f[4] = {{(const uint8_t *)"KETEN/1", 7}, {rec, 6}, {env, 4}, {env, 4}};
    const char *why;
    kt_kind_t kind = 0;

    (void)state;
    assert_int_equal(kt_transport_classify(f, 3, &kind, &why), 0);
    assert_int_equal(kind, KT_KIND_RECORD);
    assert_null(why);

    assert_int_equal(kt_transport_classify(f, 2, &kind, &why), KT_EMALFORMED);
    assert_string_equal(why, "too few frames");
    assert_int_equal(kt_transport_classify(f, 4, &kind, &why), KT_EMALFORMED);
    assert_string_equal(why, "too many frames");
    assert_int_equal(kt_transport_classify(NULL, 0, &kind, &why), KT_EMALFORMED);

    f[0].len = 6; /* "KETEN/" */
    assert_int_equal(kt_transport_classify(f, 3, &kind, &why), KT_EMALFORMED);
    assert_string_equal(why, "unknown protocol id");
    f[0].data = (const uint8_t *)"KETEN/2";
    f[0].len = 7;
    assert_int_equal(kt_transport_classify(f, 3, &kind, &why), KT_EMALFORMED);
    assert_string_equal(why, "unknown protocol id");
    f[0].data = (const uint8_t *)"KETEN/1";

    f[1].data = (const uint8_t *)"Record";
    assert_int_equal(kt_transport_classify(f, 3, &kind, &why), KT_EMALFORMED);
    assert_string_equal(why, "unknown kind");
    f[1].data = rec;
    f[1].len = 7; /* "record\0" */
    assert_int_equal(kt_transport_classify(f, 3, &kind, &why), KT_EMALFORMED);
    assert_string_equal(why, "unknown kind");

    f[1].data = (const uint8_t *)"psi-response";
    f[1].len = 12;
    assert_int_equal(kt_transport_classify(f, 3, &kind, &why), 0);
    assert_int_equal(kind, KT_KIND_PSI_RESPONSE);

    f[2].len = 0;
    assert_int_equal(kt_transport_classify(f, 3, &kind, &why), KT_EMALFORMED);
    assert_string_equal(why, "empty payload");
    f[1].data = (const uint8_t *)"ping";
    f[1].len = 4;
    assert_int_equal(kt_transport_classify(f, 3, &kind, &why), 0);
    assert_int_equal(kind, KT_KIND_PING);

    f[2].len = KT_TRANSPORT_PAYLOAD_MAX_BYTES + 1;
    assert_int_equal(kt_transport_classify(f, 3, &kind, &why), KT_EMALFORMED);
    assert_string_equal(why, "payload too large");
}

static void test_send_and_reply(void **state)
{
    s_node_t a = {0}, b = {0};
    kt_transport_msg_t m;
    kt_transport_partner_state_t st;
    kt_transport_stats_t sa, sb;

    (void)state;
    s_node_new(&a, "school-a");
    s_node_new(&b, "swv-b");
    assert_non_null(strstr(kt_transport_endpoint(b.t), "tcp://127.0.0.1:"));
    assert_null(strstr(kt_transport_endpoint(b.t), "*"));
    s_partners(&a, &b, NULL);
    s_partners(&b, &a, NULL);

    assert_int_equal(s_send(&a, &b, KT_KIND_RECORD, "envelope-1"), 0);
    assert_int_equal(s_recv(&b, &m, S_WAIT_MS, &a), 1);
    assert_int_equal(m.status, 0);
    assert_string_equal(m.partner, "school-a");
    assert_int_equal(m.via, KT_TRANSPORT_VIA_ROUTER);
    assert_int_equal(m.kind, KT_KIND_RECORD);
    s_assert_payload(&m, "envelope-1");
    assert_true(m.route_len > 0);

    assert_int_equal(kt_transport_reply(b.t, &m, KT_KIND_RECEIPT, (const uint8_t *)"rcpt-1", 6), 0);
    kt_transport_msg_clear(&m);
    kt_transport_msg_clear(&m); /* idempotent */

    assert_int_equal(s_recv(&a, &m, S_WAIT_MS, &b), 1);
    assert_int_equal(m.status, 0);
    assert_string_equal(m.partner, "swv-b");
    assert_int_equal(m.via, KT_TRANSPORT_VIA_DEALER);
    assert_int_equal(m.kind, KT_KIND_RECEIPT);
    s_assert_payload(&m, "rcpt-1");
    kt_transport_msg_clear(&m);

    /* a ping may be empty and comes back the same way */
    assert_int_equal(kt_transport_send(a.t, "swv-b", KT_KIND_PING, NULL, 0), 0);
    assert_int_equal(s_recv(&b, &m, S_WAIT_MS, &a), 1);
    assert_int_equal(m.kind, KT_KIND_PING);
    assert_int_equal(m.len, 0);
    kt_transport_msg_clear(&m);

    assert_int_equal(kt_transport_partner_state(a.t, "swv-b", &st), 0);
    assert_int_equal(st.connected, 1);
    assert_true(st.last_seen > 0);
    assert_int_equal(kt_transport_partner_connected(a.t, "swv-b"), 1);
    assert_int_equal(kt_transport_partner_state(b.t, "school-a", &st), 0);
    assert_true(st.last_seen > 0);
    assert_int_equal(kt_transport_partner_state(b.t, "nobody", &st), KT_ENOENT);
    assert_int_equal(kt_transport_partner_connected(b.t, "nobody"), 0);

    kt_transport_stats(a.t, &sa);
    kt_transport_stats(b.t, &sb);
    assert_int_equal(sa.sent, 2);
    assert_int_equal(sa.received, 1);
    assert_int_equal(sb.received, 2);
    assert_int_equal(sb.sent, 1);
    assert_int_equal(sb.refused + sb.dropped + sb.malformed, 0);

    s_node_destroy(&a);
    s_node_destroy(&b);
}

static void test_send_errors(void **state)
{
    s_node_t a = {0}, b = {0};
    uint8_t *big = calloc(1, KT_TRANSPORT_PAYLOAD_MAX_BYTES + 1);

    (void)state;
    assert_non_null(big);
    s_node_new(&a, "school-a");
    s_node_new(&b, "swv-b");
    s_partners(&a, &b, NULL);
    assert_int_equal(kt_transport_send(a.t, "nobody", KT_KIND_RECORD, big, 1), KT_ENOENT);
    assert_int_equal(kt_transport_send(a.t, "swv-b", KT_KIND_RECORD, big, 0), KT_EINVAL);
    assert_int_equal(kt_transport_send(a.t, "swv-b", (kt_kind_t)0, big, 1), KT_EINVAL);
    assert_int_equal(kt_transport_send(a.t, "swv-b", (kt_kind_t)99, big, 1), KT_EINVAL);
    assert_int_equal(kt_transport_send(a.t, "swv-b", KT_KIND_RECORD, NULL, 5), KT_EINVAL);
    assert_int_equal(
        kt_transport_send(a.t, "swv-b", KT_KIND_RECORD, big, KT_TRANSPORT_PAYLOAD_MAX_BYTES + 1),
        KT_ETOOBIG);
    /* b does not list a: no handshake completes; sends are queued, but only
     * up to the high-water mark, then refused at once (memory stays bounded) */
    {
        int i, rc = 0;

        for (i = 0; i < 10000 && rc == 0; i++)
            rc = kt_transport_send(a.t, "swv-b", KT_KIND_RECORD, big, 1);
        assert_int_equal(rc, KT_EIO);
        assert_true(i > 1 && i <= 1000);
    }
    free(big);
    s_node_destroy(&a);
    s_node_destroy(&b);
}

static void test_unknown_key_refused(void **state)
{
    s_node_t b = {0}, c = {0}, a = {0};
    kt_transport_msg_t m;
    kt_transport_stats_t sb;
    s_capture_t cap;
    char *log, fp[17];
    int64_t deadline;
    size_t i;

    (void)state;
    s_node_new(&a, "school-a");
    s_node_new(&b, "swv-b");
    s_node_new(&c, "intruder-c");
    s_partners(&b, &a, NULL); /* b knows a only */
    s_partners(&c, &b, NULL); /* c thinks b is its partner */
    for (i = 0; i < 8; i++)
        snprintf(fp + 2 * i, 3, "%02x", kt_keys_public(c.keys)->box_pk[i]);

    s_capture_start(&cap);
    deadline = s_now_ms() + 1500;
    do {
        int rc = kt_transport_send(c.t, "swv-b", KT_KIND_RECORD, (const uint8_t *)"x", 1);

        /* queued (or refused at the high-water mark), never delivered */
        assert_true(rc == 0 || rc == KT_EIO);
        assert_int_equal(kt_transport_poll(b.t, 20, &m), 0);
        assert_int_equal(kt_transport_poll(c.t, 5, &m), 0);
    } while (s_now_ms() < deadline);
    log = s_capture_end(&cap);

    kt_transport_stats(b.t, &sb);
    assert_true(sb.refused >= 1);
    assert_int_equal(sb.received + sb.malformed, 0);
    assert_non_null(strstr(log, "refused a CURVE handshake from 127.0.0.1"));
    assert_non_null(strstr(log, fp));
    /* c learns why from its side */
    assert_non_null(strstr(log, "partner swv-b refused our key (ZAP status 400)"));
    assert_int_equal(kt_transport_partner_connected(c.t, "swv-b"), 0);
    free(log);

    s_node_destroy(&a);
    s_node_destroy(&b);
    s_node_destroy(&c);
}

static void test_partner_removed(void **state)
{
    s_node_t a = {0}, b = {0};
    kt_transport_msg_t m;
    kt_transport_stats_t sb;
    kt_diag_t d = {{0}};
    int64_t deadline;

    (void)state;
    s_node_new(&a, "school-a");
    s_node_new(&b, "swv-b");
    s_partners(&a, &b, NULL);
    s_partners(&b, &a, NULL);
    assert_int_equal(s_send(&a, &b, KT_KIND_RECORD, "before"), 0);
    assert_int_equal(s_recv(&b, &m, S_WAIT_MS, &a), 1);
    kt_transport_msg_clear(&m);

    /* reload without a: what it still sends on its open connection is dropped */
    assert_int_equal(kt_transport_set_partners(b.t, NULL, 0, &d), 0);
    assert_int_equal(kt_transport_send(a.t, "swv-b", KT_KIND_RECORD, (const uint8_t *)"x", 1), 0);
    assert_int_equal(s_recv(&b, &m, S_QUIET_MS, &a), 0);
    kt_transport_stats(b.t, &sb);
    assert_int_equal(sb.dropped, 1);
    assert_int_equal(sb.received, 1);

    /* a reconnect is refused at the handshake */
    kt_transport_destroy(&a.t);
    s_node_start(&a, "tcp://127.0.0.1:*");
    s_partners(&a, &b, NULL);
    deadline = s_now_ms() + 1000;
    do {
        int rc = kt_transport_send(a.t, "swv-b", KT_KIND_RECORD, (const uint8_t *)"x", 1);

        assert_true(rc == 0 || rc == KT_EIO); /* queued, never delivered */
        assert_int_equal(kt_transport_poll(b.t, 20, &m), 0);
    } while (s_now_ms() < deadline);
    kt_transport_stats(b.t, &sb);
    assert_true(sb.refused >= 1);

    s_node_destroy(&a);
    s_node_destroy(&b);
}

static void test_partner_key_replaced(void **state)
{
    s_node_t a = {0}, b = {0}, a2 = {0};
    kt_transport_msg_t m;
    kt_transport_stats_t sb;

    (void)state;
    s_node_new(&a, "school-a");
    s_node_new(&a2, "school-a"); /* same id, new keys */
    s_node_new(&b, "swv-b");
    s_partners(&a, &b, NULL);
    s_partners(&b, &a, NULL);
    assert_int_equal(s_send(&a, &b, KT_KIND_RECORD, "old key"), 0);
    assert_int_equal(s_recv(&b, &m, S_WAIT_MS, &a), 1);
    kt_transport_msg_clear(&m);

    /* b's operator rotates school-a's key: the old key's open connection
     * still says User-Id school-a, but its messages are dropped */
    s_partners(&b, &a2, NULL);
    assert_int_equal(kt_transport_send(a.t, "swv-b", KT_KIND_RECORD, (const uint8_t *)"x", 1), 0);
    assert_int_equal(s_recv(&b, &m, S_QUIET_MS, &a), 0);
    kt_transport_stats(b.t, &sb);
    assert_int_equal(sb.dropped, 1);

    /* the new key gets through */
    s_partners(&a2, &b, NULL);
    assert_int_equal(s_send(&a2, &b, KT_KIND_RECORD, "new key"), 0);
    assert_int_equal(s_recv(&b, &m, S_WAIT_MS, &a2), 1);
    assert_string_equal(m.partner, "school-a");
    s_assert_payload(&m, "new key");
    kt_transport_msg_clear(&m);

    s_node_destroy(&a);
    s_node_destroy(&a2);
    s_node_destroy(&b);
}

static void test_malformed_frames(void **state)
{
    s_node_t a = {0}, b = {0}, r = {0};
    s_raw_t raw;
    kt_transport_msg_t m;
    kt_transport_stats_t sb;
    char buf[64];
    int more, n;
    size_t ml = sizeof(more);

    (void)state;
    s_node_new(&a, "school-a");
    s_node_new(&b, "swv-b");
    s_node_keys(&r, "raw-r");
    s_partners(&b, &a, NULL);
    {
        kt_partner_endpoint_t list[2] = {s_entry(&a), s_entry(&a)};
        kt_diag_t d = {{0}};

        /* r has no transport: give it a placeholder endpoint */
        snprintf(list[1].id, sizeof(list[1].id), "raw-r");
        memcpy(list[1].box_pk, kt_keys_public(r.keys)->box_pk, KT_BOX_PK_BYTES);
        snprintf(list[1].endpoint, sizeof(list[1].endpoint), "tcp://127.0.0.1:9");
        assert_int_equal(kt_transport_set_partners(b.t, list, 2, &d), 0);
    }
    s_raw_open(&raw, &r, &b);

    s_raw_send(&raw, 2, F("KETEN/1"), F("record"));
    s_expect_malformed(&b, "raw-r", "too few frames");
    s_raw_send(&raw, 4, F("KETEN/1"), F("record"), F("x"), F("y"));
    s_expect_malformed(&b, "raw-r", "too many frames");
    s_raw_send(&raw, 3, F("KETEN/2"), F("record"), F("x"));
    s_expect_malformed(&b, "raw-r", "unknown protocol id");
    s_raw_send(&raw, 3, F("KETEN/1"), F("gossip"), F("x"));
    s_expect_malformed(&b, "raw-r", "unknown kind");
    s_raw_send(&raw, 3, F("KETEN/1"), F("record"), F(""));
    s_expect_malformed(&b, "raw-r", "empty payload");
    s_raw_send(&raw, 1, F("garbage"));
    s_expect_malformed(&b, "raw-r", "too few frames");

    /* a malformed message can be answered on its connection */
    s_raw_send(&raw, 3, F("HTTP/1.1"), F("GET"), F("/"));
    assert_int_equal(s_recv(&b, &m, S_WAIT_MS, NULL), 1);
    assert_int_equal(m.status, KT_EMALFORMED);
    assert_int_equal(kt_transport_reply(b.t, &m, KT_KIND_RECEIPT, (const uint8_t *)"rej", 3), 0);
    kt_transport_msg_clear(&m);
    {
        zmq_pollitem_t it = {raw.sock, 0, ZMQ_POLLIN, 0};

        assert_int_equal(zmq_poll(&it, 1, S_WAIT_MS), 1);
    }
    n = zmq_recv(raw.sock, buf, sizeof(buf), 0);
    assert_int_equal(n, 7);
    assert_memory_equal(buf, "KETEN/1", 7);
    n = zmq_recv(raw.sock, buf, sizeof(buf), 0);
    assert_int_equal(n, 7);
    assert_memory_equal(buf, "receipt", 7);
    n = zmq_recv(raw.sock, buf, sizeof(buf), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(buf, "rej", 3);
    assert_int_equal(zmq_getsockopt(raw.sock, ZMQ_RCVMORE, &more, &ml), 0);
    assert_int_equal(more, 0);

    /* and b keeps serving: a well-formed message from the same peer */
    s_raw_send(&raw, 3, F("KETEN/1"), F("counts"), F("c"));
    assert_int_equal(s_recv(&b, &m, S_WAIT_MS, NULL), 1);
    assert_int_equal(m.status, 0);
    assert_int_equal(m.kind, KT_KIND_COUNTS);
    kt_transport_msg_clear(&m);

    kt_transport_stats(b.t, &sb);
    assert_int_equal(sb.malformed, 7);
    assert_int_equal(sb.received, 1);

    s_raw_close(&raw);
    kt_keys_destroy(&r.keys);
    s_node_destroy(&a);
    s_node_destroy(&b);
}

static void test_oversized(void **state)
{
    s_node_t b = {0}, r = {0};
    s_raw_t raw;
    kt_transport_msg_t m;
    uint8_t *big = malloc(KT_TRANSPORT_MAXMSGSIZE_BYTES);
    int64_t deadline;
    int got = 0;

    (void)state;
    assert_non_null(big);
    memset(big, 0xa5, KT_TRANSPORT_MAXMSGSIZE_BYTES);
    s_node_new(&b, "swv-b");
    s_node_keys(&r, "raw-r");
    {
        kt_partner_endpoint_t e;
        kt_diag_t d = {{0}};

        memset(&e, 0, sizeof(e));
        snprintf(e.id, sizeof(e.id), "raw-r");
        memcpy(e.box_pk, kt_keys_public(r.keys)->box_pk, KT_BOX_PK_BYTES);
        snprintf(e.endpoint, sizeof(e.endpoint), "tcp://127.0.0.1:9");
        assert_int_equal(kt_transport_set_partners(b.t, &e, 1, &d), 0);
    }
    s_raw_open(&raw, &r, &b);

    /* exactly the limit passes */
    s_raw_send(&raw, 3, F("KETEN/1"), F("record"), big, (size_t)KT_TRANSPORT_PAYLOAD_MAX_BYTES);
    assert_int_equal(s_recv(&b, &m, S_WAIT_MS, NULL), 1);
    assert_int_equal(m.status, 0);
    assert_int_equal(m.len, KT_TRANSPORT_PAYLOAD_MAX_BYTES);
    kt_transport_msg_clear(&m);

    /* one byte more still fits the wire limit: a malformed event */
    s_raw_send(&raw, 3, F("KETEN/1"), F("record"), big, (size_t)KT_TRANSPORT_PAYLOAD_MAX_BYTES + 1);
    s_expect_malformed(&b, "raw-r", "payload too large");

    /* over ZMQ_MAXMSGSIZE: libzmq drops the connection, b sees nothing */
    s_raw_send(&raw, 3, F("KETEN/1"), F("record"), big, (size_t)KT_TRANSPORT_MAXMSGSIZE_BYTES);
    assert_int_equal(s_recv(&b, &m, S_QUIET_MS, NULL), 0);

    /* the peer reconnects by itself and b still serves it */
    deadline = s_now_ms() + S_WAIT_MS;
    while (!got && s_now_ms() < deadline) {
        s_raw_send(&raw, 3, F("KETEN/1"), F("record"), F("small"));
        got = s_recv(&b, &m, 200, NULL);
    }
    assert_int_equal(got, 1);
    assert_int_equal(m.status, 0);
    s_assert_payload(&m, "small");
    kt_transport_msg_clear(&m);

    free(big);
    s_raw_close(&raw);
    kt_keys_destroy(&r.keys);
    s_node_destroy(&b);
}

static void test_reconnect(void **state)
{
    s_node_t a = {0}, b = {0};
    kt_transport_msg_t m;
    char endpoint[KT_TRANSPORT_ENDPOINT_MAX];
    int64_t deadline;
    int got = 0;

    (void)state;
    s_node_new(&a, "school-a");
    s_node_new(&b, "swv-b");
    s_partners(&a, &b, NULL);
    s_partners(&b, &a, NULL);
    assert_int_equal(s_send(&a, &b, KT_KIND_RECORD, "one"), 0);
    assert_int_equal(s_recv(&b, &m, S_WAIT_MS, &a), 1);
    kt_transport_msg_clear(&m);
    assert_int_equal(kt_transport_partner_connected(a.t, "swv-b"), 1);

    snprintf(endpoint, sizeof(endpoint), "%s", kt_transport_endpoint(b.t));
    kt_transport_destroy(&b.t);
    deadline = s_now_ms() + S_WAIT_MS;
    while (kt_transport_partner_connected(a.t, "swv-b") && s_now_ms() < deadline)
        assert_int_equal(kt_transport_poll(a.t, 20, &m), 0);
    assert_int_equal(kt_transport_partner_connected(a.t, "swv-b"), 0);

    s_node_start(&b, endpoint);
    assert_string_equal(kt_transport_endpoint(b.t), endpoint);
    s_partners(&b, &a, NULL);
    deadline = s_now_ms() + S_WAIT_MS;
    while (!got && s_now_ms() < deadline) {
        int rc = kt_transport_send(a.t, "swv-b", KT_KIND_RECORD, (const uint8_t *)"two", 3);

        assert_true(rc == 0 || rc == KT_EIO);
        got = s_recv(&b, &m, 50, &a);
    }
    assert_int_equal(got, 1);
    s_assert_payload(&m, "two");
    kt_transport_msg_clear(&m);
    /* the connect event reaches a's monitor on a's next polls */
    deadline = s_now_ms() + S_WAIT_MS;
    while (!kt_transport_partner_connected(a.t, "swv-b") && s_now_ms() < deadline)
        assert_int_equal(kt_transport_poll(a.t, 20, &m), 0);
    assert_int_equal(kt_transport_partner_connected(a.t, "swv-b"), 1);

    s_node_destroy(&a);
    s_node_destroy(&b);
}

/* b lists a only after a was refused: a's connection comes up without a
 * restart (libzmq gives up on a refused connection; the transport redials). */
static void test_refused_then_admitted(void **state)
{
    s_node_t a = {0}, b = {0};
    kt_transport_msg_t m;
    kt_transport_stats_t sb;
    kt_diag_t d = {{0}};
    int64_t deadline;

    (void)state;
    s_node_new(&a, "school-a");
    s_node_new(&b, "swv-b");
    assert_int_equal(kt_transport_set_partners(b.t, NULL, 0, &d), 0);
    s_partners(&a, &b, NULL);
    deadline = s_now_ms() + S_WAIT_MS;
    do {
        assert_int_equal(kt_transport_poll(b.t, 20, &m), 0);
        assert_int_equal(kt_transport_poll(a.t, 5, &m), 0);
        kt_transport_stats(b.t, &sb);
    } while (sb.refused == 0 && s_now_ms() < deadline);
    assert_int_equal(sb.refused, 1);

    s_partners(&b, &a, NULL);
    assert_int_equal(s_send(&a, &b, KT_KIND_RECORD, "late"), 0);
    assert_int_equal(s_recv(&b, &m, S_WAIT_MS, &a), 1);
    s_assert_payload(&m, "late");
    kt_transport_msg_clear(&m);

    s_node_destroy(&a);
    s_node_destroy(&b);
}

static void test_set_partners_rejects(void **state)
{
    s_node_t a = {0}, b = {0};
    kt_partner_endpoint_t list[2];
    kt_transport_msg_t m;
    kt_diag_t d = {{0}};

    (void)state;
    s_node_new(&a, "school-a");
    s_node_new(&b, "swv-b");
    s_partners(&a, &b, NULL);
    s_partners(&b, &a, NULL);
    assert_int_equal(s_send(&a, &b, KT_KIND_RECORD, "one"), 0);
    assert_int_equal(s_recv(&b, &m, S_WAIT_MS, &a), 1);
    kt_transport_msg_clear(&m);

    list[0] = s_entry(&b);
    list[1] = s_entry(&b);
    assert_int_equal(kt_transport_set_partners(a.t, list, 2, &d), KT_EINVAL);
    assert_non_null(strstr(d.msg, "swv-b is listed twice"));
    snprintf(list[1].id, sizeof(list[1].id), "other");
    assert_int_equal(kt_transport_set_partners(a.t, list, 2, &d), KT_EINVAL);
    assert_non_null(strstr(d.msg, "same box key"));
    list[1].box_pk[0] ^= 1;
    snprintf(list[1].endpoint, sizeof(list[1].endpoint), "nonsense://x");
    assert_int_equal(kt_transport_set_partners(a.t, list, 2, &d), KT_EINVAL);
    assert_non_null(strstr(d.msg, "other: cannot connect to nonsense://x"));
    list[1].endpoint[0] = '\0';
    assert_int_equal(kt_transport_set_partners(a.t, list, 2, &d), KT_EINVAL);
    assert_non_null(strstr(d.msg, "other: missing or too long endpoint"));
    snprintf(list[1].id, sizeof(list[1].id), "Bad Id");
    assert_int_equal(kt_transport_set_partners(a.t, list, 2, &d), KT_EINVAL);
    assert_non_null(strstr(d.msg, "partner 2: invalid node id"));
    assert_int_equal(kt_transport_set_partners(a.t, list, KT_TRANSPORT_PARTNERS_MAX + 1, &d),
                     KT_EINVAL);

    /* the old set is still in force, on the same connection */
    assert_int_equal(kt_transport_partner_connected(a.t, "swv-b"), 1);
    assert_int_equal(kt_transport_send(a.t, "swv-b", KT_KIND_RECORD, (const uint8_t *)"two", 3), 0);
    assert_int_equal(s_recv(&b, &m, S_WAIT_MS, &a), 1);
    s_assert_payload(&m, "two");
    kt_transport_msg_clear(&m);
    /* reloading the same set keeps the connection */
    s_partners(&a, &b, NULL);
    assert_int_equal(kt_transport_partner_connected(a.t, "swv-b"), 1);

    s_node_destroy(&a);
    s_node_destroy(&b);
}

/* The daemon polls its control socket and signal pipe with the transport: a
 * ready fd ends the wait at once, with its revents set; a message still
 * arrives as a message. */
static void test_poll_fds(void **state)
{
    s_node_t a, b;
    kt_transport_msg_t m;
    struct pollfd pfd;
    int pipefd[2];
    int64_t t0;

    (void)state;
    s_node_new(&a, "school-a");
    s_node_new(&b, "gemeente-b");
    s_partners(&a, &b, NULL);
    s_partners(&b, &a, NULL);
    assert_int_equal(pipe(pipefd), 0);

    pfd.fd = pipefd[0];
    pfd.events = POLLIN;
    t0 = s_now_ms();
    assert_int_equal(kt_transport_poll_fds(b.t, 200, &pfd, 1, &m), 0);
    assert_int_equal(pfd.revents, 0); /* a timeout: nothing was ready */
    assert_true(s_now_ms() - t0 >= 150);

    assert_int_equal(write(pipefd[1], "x", 1), 1);
    t0 = s_now_ms();
    assert_int_equal(kt_transport_poll_fds(b.t, 5000, &pfd, 1, &m), 0);
    assert_true(pfd.revents & POLLIN);
    assert_true(s_now_ms() - t0 < 1000); /* woke for the fd, not the timeout */

    assert_int_equal(s_send(&a, &b, KT_KIND_PING, "hello"), 0);
    {
        int64_t deadline = s_now_ms() + S_WAIT_MS;
        int rc = 0;

        while (rc != 1 && s_now_ms() < deadline) {
            rc = kt_transport_poll_fds(b.t, 50, &pfd, 1, &m);
            assert_true(rc >= 0);
            (void)!kt_transport_poll(a.t, 0, &(kt_transport_msg_t){0});
        }
        assert_int_equal(rc, 1);
        assert_string_equal(m.partner, "school-a");
        assert_true(pfd.revents & POLLIN); /* the pipe is still readable */
        kt_transport_msg_clear(&m);
    }
    close(pipefd[0]);
    close(pipefd[1]);
    s_node_destroy(&a);
    s_node_destroy(&b);
}

static void test_new_rejects(void **state)
{
    s_node_t a = {0};
    kt_transport_t *t = NULL;
    kt_diag_t d = {{0}};

    (void)state;
    s_node_keys(&a, "school-a");
    assert_int_equal(kt_transport_new(&t, a.keys, "nonsense://x", &d), KT_EINVAL);
    assert_null(t);
    assert_non_null(strstr(d.msg, "cannot listen on nonsense://x"));
    assert_int_equal(kt_transport_new(&t, a.keys, "", &d), KT_EINVAL);
    assert_null(t);
    kt_transport_destroy(&t);
    kt_transport_destroy(&t);
    kt_keys_destroy(&a.keys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_send_and_reply),
        cmocka_unit_test(test_send_errors),
        cmocka_unit_test(test_unknown_key_refused),
        cmocka_unit_test(test_partner_removed),
        cmocka_unit_test(test_partner_key_replaced),
        cmocka_unit_test(test_malformed_frames),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_reconnect),
        cmocka_unit_test(test_refused_then_admitted),
        cmocka_unit_test(test_set_partners_rejects),
        cmocka_unit_test(test_poll_fds),
        cmocka_unit_test(test_new_rejects),
    };

    if (kt_keys_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
