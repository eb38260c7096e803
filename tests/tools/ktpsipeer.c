/*
 * ktpsipeer.c - a malicious list comparison partner for the integration
 * tests (docs/protocol.md §12).
 *
 * It plays the initiator of a private set intersection: connected to the
 * responder's ROUTER as a CURVE client with a partner's own key, it sends a1
 * messages, signed and sealed like ketend's, that break one rule each:
 *   invalid    a point that is not a ristretto255 encoding
 *   duplicate  the same valid point twice
 *   toomany    a set claiming KT_PSI_MAX_IDS + 1 points (the codec will not
 *              write that, so the encoded total is patched)
 *   replay     a valid a1, the very same message again while its session is
 *              open, a refusal that ends the session, and the a1 once more
 * It never reads an answer (it has no ROUTER: the responder answers the real
 * node behind the key). It prints "session HEX" so a test can look the
 * session up at the responder. A test tool: it includes zmq.h and sodium.h.
 * Exit: 0 everything was sent, 1 error, 2 usage.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "keten/envelope.h"
#include "keten/keys.h"
#include "keten/psi.h"
#include "keten/receipt.h"

#define S_EXIT_OK 0
#define S_EXIT_ERR 1
#define S_EXIT_USAGE 2
#define S_CONNECT_MS 5000
#define S_LINGER_MS 3000
#define S_PAUSE_US 1000000
#define S_LIST "thuiszitters"

struct s_peer {
    kt_keys_t *k;
    kt_pubkey_t them;
    kt_envelope_peer_t *peer;
    void *ctx, *sock;
};

static int64_t s_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A CURVE DEALER to the endpoint; returns once the handshake has succeeded
 * (ZMQ_IMMEDIATE: only then is the socket writable). */
static int s_connect(struct s_peer *p, const char *endpoint)
{
    int one = 1, linger = S_LINGER_MS;
    int64_t deadline = s_now_ms() + S_CONNECT_MS;

    p->ctx = zmq_ctx_new();
    p->sock = p->ctx ? zmq_socket(p->ctx, ZMQ_DEALER) : NULL;
    if (p->sock == NULL ||
        zmq_setsockopt(p->sock, ZMQ_CURVE_SERVERKEY, p->them.box_pk, KT_BOX_PK_BYTES) != 0 ||
        zmq_setsockopt(p->sock, ZMQ_CURVE_PUBLICKEY, kt_keys_public(p->k)->box_pk,
                       KT_BOX_PK_BYTES) != 0 ||
        zmq_setsockopt(p->sock, ZMQ_CURVE_SECRETKEY, kt_keys_box_sk(p->k), KT_BOX_SK_BYTES) != 0 ||
        zmq_setsockopt(p->sock, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        zmq_setsockopt(p->sock, ZMQ_IMMEDIATE, &one, sizeof(one)) != 0 ||
        zmq_connect(p->sock, endpoint) != 0) {
        fprintf(stderr, "ktpsipeer: connect %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
        return -1;
    }
    while (s_now_ms() < deadline) {
        zmq_pollitem_t it = {p->sock, 0, ZMQ_POLLOUT, 0};

        if (zmq_poll(&it, 1, 50) > 0 && (it.revents & ZMQ_POLLOUT))
            return 0;
    }
    fprintf(stderr, "ktpsipeer: %s: no CURVE handshake within %d ms\n", endpoint, S_CONNECT_MS);
    return -1;
}

/* Signs and seals body as a message of kind with id, to the responder. */
static int s_envelope(uint8_t **env, size_t *envlen, const struct s_peer *p, kt_kind_t kind,
                      const uint8_t id[KT_ENVELOPE_ID_BYTES], const uint8_t *body, size_t len)
{
    uint8_t *sig = NULL;
    size_t siglen = 0;
    kt_diag_t d = {{0}};
    int rc;

    rc = kt_envelope_sign(&sig, &siglen, kind, id, (uint64_t)time(NULL), p->them.id, body, len,
                          p->k, &d);
    if (rc == 0)
        rc = kt_envelope_seal(env, envlen, sig, siglen, p->peer, &d);
    if (rc != 0)
        fprintf(stderr, "ktpsipeer: cannot sign and seal: %s\n", d.msg);
    kt_envelope_free(sig, siglen);
    return rc;
}

/* [ "KETEN/1" ][ kind ][ envelope ] */
static int s_send(const struct s_peer *p, kt_kind_t kind, const uint8_t *env, size_t len)
{
    const char *k = kt_kind_name(kind);

    if (zmq_send(p->sock, "KETEN/1", 7, ZMQ_SNDMORE) < 0 ||
        zmq_send(p->sock, k, strlen(k), ZMQ_SNDMORE) < 0 || zmq_send(p->sock, env, len, 0) < 0) {
        fprintf(stderr, "ktpsipeer: send: %s\n", zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

/* The a1 body for session: npts points, claiming total. */
static int s_a1_body(uint8_t **body, size_t *len, const struct s_peer *p,
                     const uint8_t session[KT_PSI_SESSION_BYTES], const uint8_t *pts, size_t npts,
                     uint32_t total)
{
    kt_psi_msg_t m;
    kt_diag_t d = {{0}};

    memset(&m, 0, sizeof(m));
    memcpy(m.session, session, KT_PSI_SESSION_BYTES);
    randombytes_buf(m.nonce, sizeof(m.nonce));
    snprintf(m.from, sizeof(m.from), "%s", kt_keys_public(p->k)->id);
    snprintf(m.to, sizeof(m.to), "%s", p->them.id);
    snprintf(m.list, sizeof(m.list), "%s", S_LIST);
    m.step = KT_PSI_A1;
    m.mode = KT_PSI_MEMBERSHIP;
    m.total = total;
    m.parts = kt_psi_wire_parts(total);
    m.pts = pts;
    m.npts = npts;
    if (kt_psi_wire_encode(body, len, &m, &d) != 0) {
        fprintf(stderr, "ktpsipeer: cannot encode a1: %s\n", d.msg);
        return -1;
    }
    return 0;
}

/* The largest legal set's first part, its total then patched to one more:
 * both totals take the same 5-byte head (0x1a + u32be), which ends the body,
 * so the result is canonical and only the total breaks a rule. */
static int s_toomany_body(uint8_t **body, size_t *len, const struct s_peer *p,
                          const uint8_t session[KT_PSI_SESSION_BYTES])
{
    static const uint8_t max_head[5] = {0x1a, 0x00, 0x01, 0x86, 0xa0}; /* 100000 */
    size_t n = KT_PSI_CHUNK_POINTS * KT_PSI_POINT_BYTES;
    uint8_t *pts = malloc(n);
    int rc;

    if (pts == NULL)
        return -1;
    randombytes_buf(pts, n);
    rc = s_a1_body(body, len, p, session, pts, KT_PSI_CHUNK_POINTS, KT_PSI_MAX_IDS);
    free(pts);
    if (rc != 0)
        return -1;
    if (KT_PSI_MAX_IDS != 100000 ||
        kt_psi_wire_parts(KT_PSI_MAX_IDS + 1) != kt_psi_wire_parts(KT_PSI_MAX_IDS) ||
        *len < sizeof(max_head) ||
        memcmp(*body + *len - sizeof(max_head), max_head, sizeof(max_head)) != 0) {
        fprintf(stderr, "ktpsipeer: the a1 encoding changed; cannot patch its total\n");
        free(*body);
        *body = NULL;
        return -1;
    }
    (*body)[*len - 1] = 0xa1; /* 100001 */
    return 0;
}

/* Builds the attack's a1 (as a sealed envelope) for session. */
static int s_attack_a1(uint8_t **env, size_t *envlen, const struct s_peer *p, const char *attack,
                       const uint8_t session[KT_PSI_SESSION_BYTES])
{
    uint8_t pts[2 * KT_PSI_POINT_BYTES], id[KT_ENVELOPE_ID_BYTES], *body = NULL;
    size_t len = 0;
    int rc;

    if (kt_psi_hash_to_group(pts, "ktpsipeer-0", 11) != 0 ||
        kt_psi_hash_to_group(pts + KT_PSI_POINT_BYTES, "ktpsipeer-1", 11) != 0)
        return -1;
    if (strcmp(attack, "invalid") == 0)
        memset(pts + KT_PSI_POINT_BYTES, 0xff, KT_PSI_POINT_BYTES);
    else if (strcmp(attack, "duplicate") == 0)
        memcpy(pts + KT_PSI_POINT_BYTES, pts, KT_PSI_POINT_BYTES);
    if (strcmp(attack, "toomany") == 0)
        rc = s_toomany_body(&body, &len, p, session);
    else
        rc = s_a1_body(&body, &len, p, session, pts, 2, 2);
    if (rc != 0)
        return -1;
    kt_envelope_new_id(id);
    rc = s_envelope(env, envlen, p, KT_KIND_PSI_REQUEST, id, body, len);
    free(body);
    return rc;
}

/* The replay: a1; a1 again while the session is open; a refusal from us
 * (the initiator gives up), which ends it; a1 once more. */
static int s_replay(const struct s_peer *p, const uint8_t *a1, size_t a1len,
                    const uint8_t session[KT_PSI_SESSION_BYTES])
{
    uint8_t body[KT_REFUSAL_MAX_BYTES], *env = NULL;
    size_t envlen = 0;
    int n = kt_refusal_encode(body, "cancelled"), rc = -1;

    if (n < 0 || s_send(p, KT_KIND_PSI_REQUEST, a1, a1len) != 0)
        return -1;
    usleep(S_PAUSE_US);
    if (s_send(p, KT_KIND_PSI_REQUEST, a1, a1len) != 0)
        return -1;
    usleep(S_PAUSE_US);
    if (s_envelope(&env, &envlen, p, KT_KIND_PSI_REQUEST, session, body, (size_t)n) == 0 &&
        s_send(p, KT_KIND_PSI_REQUEST, env, envlen) == 0) {
        usleep(S_PAUSE_US);
        rc = s_send(p, KT_KIND_PSI_REQUEST, a1, a1len);
    }
    kt_envelope_free(env, envlen);
    return rc;
}

int main(int argc, char **argv)
{
    static const char *const attacks[] = {"invalid", "duplicate", "toomany", "replay"};
    struct s_peer p;
    kt_diag_t d = {{0}};
    uint8_t session[KT_PSI_SESSION_BYTES], *a1 = NULL;
    char hex[KT_ENVELOPE_ID_HEX];
    size_t a1len = 0, i;
    int rc = S_EXIT_ERR, known = 0;

    for (i = 0; argc == 5 && i < sizeof(attacks) / sizeof(attacks[0]); i++)
        known |= strcmp(argv[1], attacks[i]) == 0;
    if (!known) {
        fprintf(stderr, "usage: ktpsipeer invalid|duplicate|toomany|replay OUR.key THEIR.pub "
                        "tcp://HOST:PORT\n");
        return S_EXIT_USAGE;
    }
    memset(&p, 0, sizeof(p));
    if (kt_keys_init() != 0) {
        fprintf(stderr, "ktpsipeer: cannot initialise libsodium\n");
        return S_EXIT_ERR;
    }
    if (kt_keys_load(&p.k, argv[2], &d) != 0 || kt_keys_load_public(&p.them, argv[3], &d) != 0 ||
        kt_envelope_peer_new(&p.peer, p.k, &p.them, &d) != 0) {
        fprintf(stderr, "ktpsipeer: %s\n", d.msg);
        goto out;
    }
    kt_envelope_new_id(session); /* a session id is 16 random bytes, like a message id */
    kt_envelope_id_hex(hex, session);
    if (s_attack_a1(&a1, &a1len, &p, argv[1], session) != 0 || s_connect(&p, argv[4]) != 0)
        goto out;
    if (strcmp(argv[1], "replay") == 0 ? s_replay(&p, a1, a1len, session) != 0
                                       : s_send(&p, KT_KIND_PSI_REQUEST, a1, a1len) != 0)
        goto out;
    printf("session %s\n", hex);
    rc = S_EXIT_OK;
out:
    fflush(stdout);
    if (p.sock != NULL)
        zmq_close(p.sock); /* lingers until what was queued is sent */
    if (p.ctx != NULL)
        zmq_ctx_term(p.ctx);
    kt_envelope_free(a1, a1len);
    kt_envelope_peer_destroy(&p.peer);
    kt_keys_destroy(&p.k);
    return rc;
}
