/*
 * ktpeer.c - a raw keten peer for the integration fault tests.
 *
 * `ktpeer send` connects to a node's ROUTER as a CURVE client with a node's
 * key, sends one hand-built ZeroMQ message (any protocol id, kind, frame
 * count and payload, including ones keten itself would never build), waits a
 * bounded time for what comes back and prints one line per reply: the kind,
 * and for a receipt its status, code, ref and a hash of the signed receipt
 * (to compare re-acknowledgements). `ktpeer craft` seals a signed container
 * by hand with libsodium, skipping every check kt_envelope_seal makes, so a
 * test can send a record signed by another node, addressed to another node
 * or created long ago. See tests/tools/README.md.
 *
 * A test tool: it includes zmq.h and sodium.h directly because it must craft
 * what the engine refuses to. It never prints key material or record
 * contents. Exit: 0 a reply came for every message sent, 3 at least one got
 * none, 1 error, 2 usage.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <zmq.h>

#include "keten/envelope.h"
#include "keten/keys.h"
#include "keten/receipt.h"

#define S_EXIT_OK 0
#define S_EXIT_ERR 1
#define S_EXIT_USAGE 2
#define S_EXIT_NOREPLY 3
#define S_FILE_MAX (1024 * 1024)
#define S_FRAMES_MAX 64

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: ktpeer send --key K.key --server PARTNER.pub --endpoint tcp://HOST:PORT\n"
            "                   [--proto S] [--kind S] [--frames N]\n"
            "                   (--payload FILE | --size N | --empty) [--flip OFFSET]\n"
            "                   [--timeout-ms N] [--repeat N]\n"
            "       ktpeer craft --seal-from K.key --seal-to PARTNER.pub --signed SIGNED\n"
            "                   [--resign S.key [--to-id ID] [--created UNIX]] --out ENV\n");
}

static int s_read_file(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *b;
    size_t n;

    if (f == NULL) {
        fprintf(stderr, "ktpeer: %s: %s\n", path, strerror(errno));
        return -1;
    }
    b = malloc(S_FILE_MAX + 1);
    if (b == NULL) {
        fclose(f);
        return -1;
    }
    n = fread(b, 1, S_FILE_MAX + 1, f);
    fclose(f);
    if (n > S_FILE_MAX) {
        fprintf(stderr, "ktpeer: %s: larger than %d bytes\n", path, S_FILE_MAX);
        free(b);
        return -1;
    }
    *out = b;
    *len = n;
    return 0;
}

static int s_write_file(const char *path, const uint8_t *b, size_t n)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL || fwrite(b, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "ktpeer: %s: cannot write\n", path);
        return -1;
    }
    return 0;
}

static void s_hex(char *out, const uint8_t *b, size_t n)
{
    sodium_bin2hex(out, 2 * n + 1, b, n);
}

/* --- craft: seal by hand, docs/protocol.md §4 --- */

/* 0x01 || nonce || crypto_box_easy(pad(container), nonce, to.box_pk, from.box_sk),
 * the envelope being the smallest power-of-two bucket (512..65536) that
 * holds container + 1 padding byte + 41 bytes of overhead. */
static int s_seal_raw(uint8_t **out, size_t *outlen, const uint8_t *c, size_t clen,
                      const kt_keys_t *from, const kt_pubkey_t *to)
{
    size_t bucket = KT_ENVELOPE_MIN_BYTES, plain_len, padded_len;
    uint8_t *plain, *env;

    while (bucket < clen + 1 + KT_ENVELOPE_OVERHEAD_BYTES && bucket < KT_ENVELOPE_MAX_BYTES)
        bucket *= 2;
    if (clen + 1 + KT_ENVELOPE_OVERHEAD_BYTES > bucket) {
        fprintf(stderr, "ktpeer: container too large to seal\n");
        return -1;
    }
    plain_len = bucket - KT_ENVELOPE_OVERHEAD_BYTES;
    plain = calloc(1, plain_len);
    env = malloc(bucket);
    if (plain == NULL || env == NULL) {
        free(plain);
        free(env);
        return -1;
    }
    memcpy(plain, c, clen);
    if (sodium_pad(&padded_len, plain, clen, plain_len, plain_len) != 0 ||
        padded_len != plain_len) {
        free(plain);
        free(env);
        return -1;
    }
    env[0] = KT_ENVELOPE_VERSION;
    randombytes_buf(env + 1, KT_ENVELOPE_NONCE_BYTES);
    if (crypto_box_easy(env + 1 + KT_ENVELOPE_NONCE_BYTES, plain, plain_len, env + 1, to->box_pk,
                        kt_keys_box_sk(from)) != 0) {
        sodium_memzero(plain, plain_len);
        free(plain);
        free(env);
        return -1;
    }
    sodium_memzero(plain, plain_len);
    free(plain);
    *out = env;
    *outlen = bucket;
    return 0;
}

static int s_craft(int argc, char **argv)
{
    const char *seal_from = NULL, *seal_to = NULL, *signed_path = NULL, *resign = NULL;
    const char *to_id = NULL, *out_path = NULL;
    long long created = -1;
    kt_keys_t *from = NULL, *signer = NULL;
    kt_pubkey_t to;
    kt_payload_t pl;
    kt_diag_t d = {{0}};
    uint8_t *in = NULL, *resigned = NULL, *env = NULL;
    size_t in_len = 0, resigned_len = 0, env_len = 0;
    const uint8_t *c;
    size_t clen;
    int i, rc = S_EXIT_ERR;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (v == NULL) {
            s_usage(stderr);
            return S_EXIT_USAGE;
        }
        if (strcmp(a, "--seal-from") == 0)
            seal_from = v;
        else if (strcmp(a, "--seal-to") == 0)
            seal_to = v;
        else if (strcmp(a, "--signed") == 0)
            signed_path = v;
        else if (strcmp(a, "--resign") == 0)
            resign = v;
        else if (strcmp(a, "--to-id") == 0)
            to_id = v;
        else if (strcmp(a, "--created") == 0)
            created = atoll(v);
        else if (strcmp(a, "--out") == 0)
            out_path = v;
        else {
            s_usage(stderr);
            return S_EXIT_USAGE;
        }
        i++;
    }
    if (seal_from == NULL || seal_to == NULL || signed_path == NULL || out_path == NULL ||
        ((to_id != NULL || created >= 0) && resign == NULL)) {
        s_usage(stderr);
        return S_EXIT_USAGE;
    }
    if (kt_keys_load(&from, seal_from, &d) != 0 || kt_keys_load_public(&to, seal_to, &d) != 0 ||
        (resign != NULL && kt_keys_load(&signer, resign, &d) != 0)) {
        fprintf(stderr, "ktpeer: %s\n", d.msg);
        goto out;
    }
    if (s_read_file(signed_path, &in, &in_len) != 0)
        goto out;
    c = in;
    clen = in_len;
    if (signer != NULL) {
        /* Same id and body, another `to` or `created`, signed again by S. */
        if (kt_envelope_verify(&pl, in, in_len, kt_keys_public(signer), &d) != 0) {
            fprintf(stderr, "ktpeer: %s: not signed by the --resign key: %s\n", signed_path,
                    d.msg);
            goto out;
        }
        if (kt_envelope_sign(&resigned, &resigned_len, pl.kind, pl.id,
                             created >= 0 ? (uint64_t)created : pl.created,
                             to_id != NULL ? to_id : pl.to, pl.body, pl.body_len, signer,
                             &d) != 0) {
            fprintf(stderr, "ktpeer: cannot sign: %s\n", d.msg);
            goto out;
        }
        c = resigned;
        clen = resigned_len;
    }
    if (s_seal_raw(&env, &env_len, c, clen, from, &to) != 0 ||
        s_write_file(out_path, env, env_len) != 0)
        goto out;
    rc = S_EXIT_OK;
out:
    kt_envelope_free(resigned, resigned_len);
    free(in);
    free(env);
    kt_keys_destroy(&from);
    kt_keys_destroy(&signer);
    return rc;
}

/* --- send --- */

struct s_send {
    const char *key, *server, *endpoint, *proto, *kind, *payload_path;
    long size, flip;
    int empty, frames, timeout_ms, repeat;
};

/* Prints one line for one reply message. */
static void s_print_reply(zmq_msg_t *parts, int n, const kt_envelope_peer_t *peer)
{
    char kind[32] = "";
    uint8_t *signed_buf = NULL;
    size_t signed_len = 0, klen;
    kt_payload_t pl;
    kt_receipt_t r;
    kt_diag_t d = {{0}};
    uint8_t h[16];
    char ref[2 * KT_RECEIPT_REF_BYTES + 1], dg[2 * KT_RECEIPT_DIGEST_BYTES + 1], hh[33];
    int i;

    if (n != 3 || zmq_msg_size(&parts[0]) != 7 || memcmp(zmq_msg_data(&parts[0]), "KETEN/1", 7)) {
        printf("reply kind=? frames=%d\n", n);
        return;
    }
    klen = zmq_msg_size(&parts[1]);
    if (klen >= sizeof(kind))
        klen = sizeof(kind) - 1;
    for (i = 0; i < (int)klen; i++) {
        char ch = ((const char *)zmq_msg_data(&parts[1]))[i];

        kind[i] = (ch >= 'a' && ch <= 'z') || ch == '-' ? ch : '?';
    }
    if (kt_envelope_open(&signed_buf, &signed_len, &pl, zmq_msg_data(&parts[2]),
                         zmq_msg_size(&parts[2]), peer, &d) != 0) {
        printf("reply kind=%s open=failed (%s)\n", kind, d.msg);
        return;
    }
    crypto_generichash(h, sizeof(h), signed_buf, signed_len, NULL, 0);
    s_hex(hh, h, sizeof(h));
    if (pl.kind != KT_KIND_RECEIPT || strcmp(kind, "receipt") != 0) {
        printf("reply kind=%s envelope=%s signed=%s\n", kind, kt_kind_name(pl.kind), hh);
    } else if (kt_receipt_decode(&r, pl.body, pl.body_len, &d) != 0) {
        printf("reply kind=receipt decode=failed (%s) signed=%s\n", d.msg, hh);
    } else {
        s_hex(ref, r.ref, sizeof(r.ref));
        s_hex(dg, r.digest, sizeof(r.digest));
        printf("reply kind=receipt status=%s code=%s ref=%s digest=%s signed=%s\n",
               kt_receipt_status_name(r.status), r.code, ref, dg, hh);
    }
    kt_envelope_free(signed_buf, signed_len);
}

static int s_build_payload(const struct s_send *o, uint8_t **buf, size_t *len)
{
    if (o->empty) {
        *buf = malloc(1);
        *len = 0;
    } else if (o->payload_path != NULL) {
        if (s_read_file(o->payload_path, buf, len) != 0)
            return -1;
    } else if (o->size > 0) {
        *len = (size_t)o->size;
        *buf = malloc(*len);
        if (*buf != NULL)
            randombytes_buf(*buf, *len);
    } else {
        fprintf(stderr, "ktpeer: one of --payload, --size or --empty is needed\n");
        return -1;
    }
    if (*buf == NULL)
        return -1;
    if (o->flip >= 0) {
        if ((size_t)o->flip >= *len) {
            fprintf(stderr, "ktpeer: --flip %ld is past the payload (%zu bytes)\n", o->flip,
                    *len);
            return -1;
        }
        (*buf)[o->flip] ^= 0x01;
    }
    return 0;
}

/* Sends the frames: [proto][kind][payload], cut to or extended to `frames`
 * (extra frames are single bytes "x"). */
static int s_send_msg(void *sock, const struct s_send *o, const uint8_t *payload, size_t plen)
{
    const void *data[3] = {o->proto, o->kind, payload};
    size_t lens[3] = {strlen(o->proto), strlen(o->kind), plen};
    int i;

    for (i = 0; i < o->frames; i++) {
        int more = i + 1 < o->frames ? ZMQ_SNDMORE : 0;
        int rc = i < 3 ? zmq_send(sock, data[i], lens[i], more) : zmq_send(sock, "x", 1, more);

        if (rc < 0) {
            fprintf(stderr, "ktpeer: send: %s\n", zmq_strerror(zmq_errno()));
            return -1;
        }
    }
    return 0;
}

/* Handles monitor events; returns 1 if the handshake was refused. */
static int s_monitor(void *mon)
{
    zmq_msg_t ev, addr;
    uint16_t event;
    uint32_t value;
    int refused = 0;

    for (;;) {
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            break;
        }
        zmq_msg_init(&addr);
        if (zmq_msg_more(&ev))
            (void)zmq_msg_recv(&addr, mon, 0);
        if (zmq_msg_size(&ev) == 6) {
            memcpy(&event, zmq_msg_data(&ev), 2);
            memcpy(&value, (uint8_t *)zmq_msg_data(&ev) + 2, 4);
            if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
                printf("handshake ok\n");
            } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
                printf("handshake refused status=%u\n", (unsigned)value);
                refused = 1;
            } else if (event & (ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)) {
                printf("handshake failed\n");
                refused = 1;
            } else if (event == ZMQ_EVENT_DISCONNECTED) {
                printf("disconnected\n");
            }
        }
        zmq_msg_close(&addr);
        zmq_msg_close(&ev);
    }
    fflush(stdout);
    return refused;
}

static int64_t s_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for one reply (or a refusal) until the deadline; 1 reply, 0 none. */
static int s_wait_reply(void *sock, void *mon, const kt_envelope_peer_t *peer, int timeout_ms,
                        int *refused)
{
    int64_t deadline = s_now_ms() + timeout_ms;

    for (;;) {
        zmq_pollitem_t items[2] = {{sock, 0, ZMQ_POLLIN, 0}, {mon, 0, ZMQ_POLLIN, 0}};
        int64_t left = deadline - s_now_ms();

        if (left <= 0 || *refused)
            return 0;
        if (zmq_poll(items, 2, (long)left) < 0 && zmq_errno() != EINTR)
            return 0;
        if (items[1].revents & ZMQ_POLLIN)
            *refused |= s_monitor(mon);
        if (items[0].revents & ZMQ_POLLIN) {
            zmq_msg_t parts[S_FRAMES_MAX];
            int n = 0, more = 1;

            while (more) {
                zmq_msg_t m;

                zmq_msg_init(&m);
                if (zmq_msg_recv(&m, sock, 0) < 0) {
                    zmq_msg_close(&m);
                    break;
                }
                more = zmq_msg_more(&m);
                if (n < S_FRAMES_MAX)
                    parts[n++] = m;
                else
                    zmq_msg_close(&m);
            }
            s_print_reply(parts, n, peer);
            while (n > 0)
                zmq_msg_close(&parts[--n]);
            fflush(stdout);
            return 1;
        }
    }
}

static int s_send(int argc, char **argv)
{
    struct s_send o = {.proto = "KETEN/1", .kind = "record", .frames = 3, .timeout_ms = 3000,
                       .repeat = 1, .flip = -1};
    kt_keys_t *k = NULL;
    kt_pubkey_t server;
    kt_envelope_peer_t *peer = NULL;
    kt_diag_t d = {{0}};
    uint8_t *payload = NULL;
    size_t plen = 0;
    void *ctx = NULL, *sock = NULL, *mon = NULL;
    int i, rc = S_EXIT_ERR, replies = 0, refused = 0, opt;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--empty") == 0) {
            o.empty = 1;
            continue;
        }
        if (v == NULL) {
            s_usage(stderr);
            return S_EXIT_USAGE;
        }
        if (strcmp(a, "--key") == 0)
            o.key = v;
        else if (strcmp(a, "--server") == 0)
            o.server = v;
        else if (strcmp(a, "--endpoint") == 0)
            o.endpoint = v;
        else if (strcmp(a, "--proto") == 0)
            o.proto = v;
        else if (strcmp(a, "--kind") == 0)
            o.kind = v;
        else if (strcmp(a, "--frames") == 0)
            o.frames = atoi(v);
        else if (strcmp(a, "--payload") == 0)
            o.payload_path = v;
        else if (strcmp(a, "--size") == 0)
            o.size = atol(v);
        else if (strcmp(a, "--flip") == 0)
            o.flip = atol(v);
        else if (strcmp(a, "--timeout-ms") == 0)
            o.timeout_ms = atoi(v);
        else if (strcmp(a, "--repeat") == 0)
            o.repeat = atoi(v);
        else {
            s_usage(stderr);
            return S_EXIT_USAGE;
        }
        i++;
    }
    if (o.key == NULL || o.server == NULL || o.endpoint == NULL || o.frames < 1 ||
        o.frames > S_FRAMES_MAX || o.timeout_ms < 1 || o.repeat < 1 || o.size < 0 ||
        o.size > 16 * 1024 * 1024) {
        s_usage(stderr);
        return S_EXIT_USAGE;
    }
    if (kt_keys_load(&k, o.key, &d) != 0 || kt_keys_load_public(&server, o.server, &d) != 0 ||
        kt_envelope_peer_new(&peer, k, &server, &d) != 0) {
        fprintf(stderr, "ktpeer: %s\n", d.msg);
        goto out;
    }
    if (s_build_payload(&o, &payload, &plen) != 0)
        goto out;

    ctx = zmq_ctx_new();
    sock = ctx ? zmq_socket(ctx, ZMQ_DEALER) : NULL;
    if (sock == NULL)
        goto out;
    opt = 1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server.box_pk, KT_BOX_PK_BYTES) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, kt_keys_public(k)->box_pk, KT_BOX_PK_BYTES) !=
            0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, kt_keys_box_sk(k), KT_BOX_SK_BYTES) != 0 ||
        zmq_setsockopt(sock, ZMQ_LINGER, &(int){0}, sizeof(int)) != 0 ||
        zmq_setsockopt(sock, ZMQ_IMMEDIATE, &opt, sizeof(opt)) != 0) {
        fprintf(stderr, "ktpeer: socket options: %s\n", zmq_strerror(zmq_errno()));
        goto out;
    }
    if (zmq_socket_monitor(sock, "inproc://ktpeer-mon",
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_DISCONNECTED) !=
            0 ||
        (mon = zmq_socket(ctx, ZMQ_PAIR)) == NULL ||
        zmq_connect(mon, "inproc://ktpeer-mon") != 0 || zmq_connect(sock, o.endpoint) != 0) {
        fprintf(stderr, "ktpeer: connect %s: %s\n", o.endpoint, zmq_strerror(zmq_errno()));
        goto out;
    }
    for (i = 0; i < o.repeat; i++) {
        int64_t deadline = s_now_ms() + o.timeout_ms, left;
        int sent = 0;

        /* ZMQ_IMMEDIATE: the socket is writable only once a handshake has
         * completed, so a refused key never has a message queued for it. */
        while (!refused && s_now_ms() < deadline) {
            zmq_pollitem_t it[2] = {{sock, 0, ZMQ_POLLOUT, 0}, {mon, 0, ZMQ_POLLIN, 0}};

            if (zmq_poll(it, 2, 50) < 0 && zmq_errno() != EINTR)
                break;
            if (it[1].revents & ZMQ_POLLIN)
                refused |= s_monitor(mon);
            if (it[0].revents & ZMQ_POLLOUT) {
                if (s_send_msg(sock, &o, payload, plen) != 0)
                    goto out;
                sent = 1;
                break;
            }
        }
        if (!sent) {
            printf("no reply\n");
            continue;
        }
        left = deadline - s_now_ms();
        if (s_wait_reply(sock, mon, peer, left > 0 ? (int)left : 1, &refused) == 1) {
            replies++;
        } else {
            printf("no reply\n");
        }
        fflush(stdout);
    }
    rc = replies == o.repeat ? S_EXIT_OK : S_EXIT_NOREPLY;
out:
    fflush(stdout);
    free(payload);
    if (mon != NULL)
        zmq_close(mon);
    if (sock != NULL)
        zmq_close(sock);
    if (ctx != NULL)
        zmq_ctx_term(ctx);
    kt_envelope_peer_destroy(&peer);
    kt_keys_destroy(&k);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        s_usage(stderr);
        return S_EXIT_USAGE;
    }
    if (kt_keys_init() != 0) {
        fprintf(stderr, "ktpeer: cannot initialise libsodium\n");
        return S_EXIT_ERR;
    }
    if (strcmp(argv[1], "send") == 0)
        return s_send(argc - 1, argv + 1);
    if (strcmp(argv[1], "craft") == 0)
        return s_craft(argc - 1, argv + 1);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        s_usage(stdout);
        return S_EXIT_OK;
    }
    s_usage(stderr);
    return S_EXIT_USAGE;
}
