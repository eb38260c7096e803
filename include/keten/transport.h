/*
 * transport.h - ZeroMQ sockets, CurveZMQ, ZAP partner authentication, frame
 * layout and limits (docs/protocol.md §6).
 *
 * A node binds one ROUTER as CURVE server and keeps one DEALER per partner as
 * CURVE client. Every message is exactly three frames
 * [KT_TRANSPORT_PROTOCOL][kind][payload]; the ROUTER sees a routing id in
 * front. Only configured partners' box keys pass the ZAP handler, which sets
 * the ZAP User-Id to the partner's node id. The transport does not look inside
 * payloads (envelopes): checking that the envelope's signer equals msg.partner
 * is the caller's job.
 *
 * Single-threaded: one kt_transport_t is used from one thread, and the ZAP
 * handler runs inside kt_transport_poll(), so a node must keep polling for
 * handshakes to complete. This is the only module that includes zmq.h.
 */
#ifndef KETEN_TRANSPORT_H
#define KETEN_TRANSPORT_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "keten/envelope.h"
#include "keten/error.h"
#include "keten/keys.h"

#define KT_TRANSPORT_PROTOCOL "KETEN/1" /* first frame of every message */
#define KT_TRANSPORT_FRAMES 3           /* protocol, kind, payload */
#define KT_TRANSPORT_PAYLOAD_MAX_BYTES KT_ENVELOPE_MAX_BYTES
/* ZMQ_MAXMSGSIZE: libzmq checks it per frame on the wire, where a CURVE frame
 * carries 33 bytes more than its payload (command name, nonce, flags, MAC);
 * a larger frame makes libzmq drop the connection. */
#define KT_TRANSPORT_CURVE_OVERHEAD_BYTES 64
#define KT_TRANSPORT_MAXMSGSIZE_BYTES                                                              \
    (KT_TRANSPORT_PAYLOAD_MAX_BYTES + KT_TRANSPORT_CURVE_OVERHEAD_BYTES)
#define KT_TRANSPORT_ENDPOINT_MAX 256    /* incl. NUL: "tcp://host:port" */
#define KT_TRANSPORT_ROUTE_MAX_BYTES 255 /* ZMTP routing ids are 1..255 bytes */
#define KT_TRANSPORT_PARTNERS_MAX 250    /* 3 zmq sockets each; see docs */

/* One partner as the transport needs it: plain data, safe to copy. */
typedef struct kt_partner_endpoint {
    char id[KT_NODE_ID_MAX + 1];              /* node id, [a-z0-9-]{1,64} */
    uint8_t box_pk[KT_BOX_PK_BYTES];          /* its X25519 (CurveZMQ) public key */
    char endpoint[KT_TRANSPORT_ENDPOINT_MAX]; /* where its ROUTER listens */
} kt_partner_endpoint_t;

typedef enum {
    KT_TRANSPORT_VIA_ROUTER = 1, /* the partner connected to us */
    KT_TRANSPORT_VIA_DEALER = 2, /* a reply on our connection to the partner */
} kt_transport_via_t;

/*
 * A received message, filled in by kt_transport_poll(); caller-allocated,
 * released with kt_transport_msg_clear(). When status is KT_EMALFORMED the
 * frames broke the layout: kind and payload are unset, `why` names the rule
 * (a static string without input bytes) and the sender can still be answered
 * with kt_transport_reply().
 */
typedef struct kt_transport_msg {
    char partner[KT_NODE_ID_MAX + 1]; /* authenticated sender (ZAP User-Id or DEALER's partner) */
    kt_transport_via_t via;
    int status;       /* 0, or KT_EMALFORMED */
    const char *why;  /* NULL, or why the frames were malformed */
    kt_kind_t kind;   /* valid when status == 0 */
    uint8_t *payload; /* owned by the msg; NULL for an empty payload */
    size_t len;
    uint8_t route[KT_TRANSPORT_ROUTE_MAX_BYTES]; /* ROUTER routing id (reply handle) */
    size_t route_len;
} kt_transport_msg_t;

typedef struct kt_transport_stats {
    uint64_t received;  /* well-formed messages handed to the caller */
    uint64_t malformed; /* messages handed over as KT_EMALFORMED */
    uint64_t dropped;   /* from a removed partner or a replaced key: never handed over */
    uint64_t refused;   /* handshakes refused by ZAP */
    uint64_t sent;      /* messages queued by send and reply */
} kt_transport_stats_t;

typedef struct kt_transport_partner_state {
    int connected;    /* our DEALER has a completed CURVE handshake with the partner */
    time_t last_seen; /* wall clock of the last message from it on either socket; 0 = never */
} kt_transport_partner_state_t;

/* One frame as the classifier sees it (borrowed bytes). The kind frame is
 * kt_kind_name(kind) without a NUL: "record", "psi-request", ... */
typedef struct kt_frame {
    const uint8_t *data;
    size_t len;
} kt_frame_t;

typedef struct kt_transport kt_transport_t; /* opaque */

/*
 * Binds the ROUTER to `listen` (e.g. "tcp://0.0.0.0:7100" or, in tests,
 * "tcp://127.0.0.1:*") after starting the ZAP handler. Borrows keys: they
 * must outlive the transport (new DEALERs need them on every reload; libzmq
 * also keeps its own copy of the secret per socket). No partners yet: until
 * kt_transport_set_partners() every handshake is refused. KT_EINVAL for a bad
 * endpoint, KT_EIO if it cannot bind, KT_ENOMEM.
 */
int kt_transport_new(kt_transport_t **out, const kt_keys_t *keys, const char *listen,
                     kt_diag_t *d) KT_WUR;
void kt_transport_destroy(kt_transport_t **p); /* idempotent; linger bounded */

/* The endpoint actually bound, with the real port (borrowed). */
const char *kt_transport_endpoint(const kt_transport_t *t);

/*
 * Replaces the partner set (start-up and reload). Unchanged partners (same id,
 * box key and endpoint) keep their connection; removed or changed ones are
 * closed and refused by ZAP from now on, and messages already arriving from
 * them are dropped; new ones are connected. All or nothing: on error
 * (KT_EINVAL: bad or duplicate id or key, bad endpoint, too many partners;
 * KT_ENOMEM; KT_EIO) the old set stays in force.
 */
int kt_transport_set_partners(kt_transport_t *t, const kt_partner_endpoint_t *list, size_t n,
                              kt_diag_t *d) KT_WUR;

/*
 * Queues one message to the partner on its DEALER, never blocking. KT_ENOENT
 * for an unknown partner, KT_EINVAL for a bad kind or an empty payload (only
 * ping may be empty), KT_ETOOBIG over KT_TRANSPORT_PAYLOAD_MAX_BYTES, KT_EIO
 * when it would block (not connected yet, or the high-water mark is reached):
 * the outbox keeps the record and retries later.
 */
int kt_transport_send(kt_transport_t *t, const char *partner, kt_kind_t kind,
                      const uint8_t *payload, size_t len) KT_WUR;

/*
 * Answers `to` on the connection it came in on: over the ROUTER to its
 * routing id, or on the partner's DEALER. Works for KT_EMALFORMED messages
 * too (for a signed rejection). Errors as kt_transport_send(); KT_EIO also
 * when the peer has gone, KT_ENOENT when the partner was removed meanwhile.
 */
int kt_transport_reply(kt_transport_t *t, const kt_transport_msg_t *to, kt_kind_t kind,
                       const uint8_t *payload, size_t len) KT_WUR;

/*
 * Waits up to timeout_ms (-1: forever) for one message from any partner,
 * answering ZAP requests and tracking connection events meanwhile. Returns 1
 * with *out filled (status 0 or KT_EMALFORMED; clear it afterwards), 0 on
 * timeout or when a signal interrupted the wait, KT_EIO or KT_ENOMEM on
 * failure. Messages from non-partners are dropped and counted, never
 * returned.
 */
/* kt_transport_poll that also watches the caller's own fds (the control
 * socket, a signal pipe): it returns when a message arrived (1), when one of
 * fds is ready (0, with fds[i].revents set as poll(2) would) or on timeout
 * (0, all revents 0). The caller's fds are checked on every return. */
int kt_transport_poll_fds(kt_transport_t *t, int timeout_ms, struct pollfd *fds, size_t nfds,
                          kt_transport_msg_t *out) KT_WUR;
int kt_transport_poll(kt_transport_t *t, int timeout_ms, kt_transport_msg_t *out) KT_WUR;

/* Frees the payload and resets *m (idempotent). */
void kt_transport_msg_clear(kt_transport_msg_t *m);

/* KT_ENOENT for an unknown partner. */
int kt_transport_partner_state(const kt_transport_t *t, const char *partner,
                               kt_transport_partner_state_t *out) KT_WUR;
/* 1 if connected (see above), 0 if not or unknown. */
int kt_transport_partner_connected(const kt_transport_t *t, const char *partner);

void kt_transport_stats(const kt_transport_t *t, kt_transport_stats_t *out);

/*
 * The frame rules, as a pure function (fuzzed): `frames` holds the message's
 * frames after any routing id, n of them. Returns 0 and sets *kind for a
 * well-formed message, else KT_EMALFORMED with *why set to a static reason.
 */
int kt_transport_classify(const kt_frame_t *frames, size_t n, kt_kind_t *kind,
                          const char **why) KT_WUR;

#endif
