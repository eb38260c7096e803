/*
 * ceilings.c - the raw ceilings of libsodium, libzmq and SQLite on this
 * machine, against which `make bench` sets keten's end-to-end figures
 * (DESIGN.md §11, docs/PERFORMANCE.md).
 *
 * This program owns the definition of every ceiling figure and its output
 * line, `ceiling NAME VALUE UNIT` (context lines start with `info`). It
 * includes sodium.h, zmq.h and sqlite3.h directly, where the rest of keten
 * reaches each library only through the module that owns it (store.c owns
 * SQLite), because it measures the libraries themselves, not keten: the
 * receiver pipeline P mirrors daemon/envelope.c (crypto_box_open_easy_afternm,
 * sodium_unpad, crypto_sign_verify_detached) so that P stays the ceiling of
 * that work rather than a second measurement of keten's code. It never runs
 * in `make test` or CI, never asserts on a timing, never uses real keys or
 * personal data (all bytes are random), and leaves no file behind: its
 * databases live in one mkdtemp directory under DIR (argv[1], default ".",
 * normally BUILD/bench) that it removes at exit, also on SIGINT/SIGTERM.
 *
 * Usage: ceilings [DIR]; BENCH_SECONDS (default 1.5) is the measured wall
 * time of each figure, after a warm-up of a fifth of it (at most 0.5 s).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>
#include <zmq.h>

/*
 * Signed container sizes, measured with `ketenctl record sign --to
 * gemeente-nijmegen` by a school-de-linde key: the record vectors
 * (tests/vectors/records) make 229..376 bytes, the demo's full records
 * (demo/records) 571..666. A 512-byte envelope holds a container of at most
 * 470 bytes, so compact records use the 512 bucket and full ones the 1024
 * bucket; both are measured.
 */
#define BENCH_CONTAINER_512_BYTES 376  /* tests/vectors/records/geoorloofd_verzuim_lt50.json */
#define BENCH_CONTAINER_1024_BYTES 605 /* demo/records/geoorloofd_verzuim.json */
/* Container = 0x82 || 0x59 len16 || payload || 0x58 0x40 || signature
 * (docs/protocol.md §3; every payload here is 256..65535 bytes). */
#define BENCH_CONTAINER_OVERHEAD_BYTES (1 + 3 + 2 + crypto_sign_BYTES)
#define BENCH_ENVELOPE_OVERHEAD_BYTES (1 + crypto_box_NONCEBYTES + crypto_box_MACBYTES)
#define BENCH_ID_BYTES 16
#define BENCH_ID_OFFSET 8    /* a7 61 76 01 62 69 64 50: the id follows "v": 1, "id" */
#define BENCH_BLOB_BYTES 600 /* a stored record in the SQLite ceiling */
#define BENCH_PIPELINE_BATCH 16
#define BENCH_POOL 2048       /* distinct pre-sealed envelopes the pipeline cycles through */
#define BENCH_MAX_ROWS 400000 /* bounds each database (~300 MB) whatever BENCH_SECONDS says */
#define BENCH_MAX_OPS 200000000ULL
#define BENCH_ZMQ_TIMEOUT_MS 5000 /* every wait on a socket is bounded */
#define BENCH_ZAP_ENDPOINT "inproc://zeromq.zap.01"

static const uint8_t s_sign_domain[] = "keten-sign-v1"; /* 14 bytes with its NUL */
static const char s_partner[] = "school-de-linde";

static double g_seconds = 1.5;
static double g_warmup = 0.3;
static volatile sig_atomic_t g_stop;
static char g_dir[4096];

static void s_on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static double s_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((format(printf, 1, 2))) static int s_fail(const char *fmt, ...)
{
    va_list ap;

    fputs("ceilings: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

static void s_figure(const char *name, double value, const char *unit)
{
    printf("ceiling %s %.1f %s\n", name, value, unit);
    fflush(stdout);
}

/* ---- the measuring loop ------------------------------------------------ */

/* One step of a benchmark: does some work and adds what it did to *units. */
typedef int (*s_step_fn)(void *ctx, uint64_t *units);

typedef struct {
    double seconds;
    uint64_t steps;
    uint64_t units;
} s_result_t;

/* Warm-up for g_warmup, then steps for g_seconds of wall time or until
 * max_units, whichever comes first. */
static int s_measure(s_result_t *r, s_step_fn step, void *ctx, uint64_t max_units)
{
    uint64_t ignored = 0;
    double t0 = s_now(), t1;

    memset(r, 0, sizeof(*r));
    while (!g_stop && s_now() - t0 < g_warmup)
        if (step(ctx, &ignored) != 0)
            return -1;
    t1 = s_now();
    while (!g_stop && r->units < max_units) {
        if (step(ctx, &r->units) != 0)
            return -1;
        r->steps++;
        if ((r->seconds = s_now() - t1) >= g_seconds)
            break;
    }
    if (g_stop)
        return s_fail("interrupted");
    if (r->seconds <= 0)
        return s_fail("no time elapsed");
    return 0;
}

/* ---- sealed records, built the way daemon/envelope.c builds them ------- */

typedef struct {
    uint8_t sign_pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t sign_sk[crypto_sign_SECRETKEYBYTES];
    uint8_t shared[crypto_box_BEFORENMBYTES];
} s_keys_t;

static int s_keys_init(s_keys_t *k)
{
    uint8_t a_pk[crypto_box_PUBLICKEYBYTES], a_sk[crypto_box_SECRETKEYBYTES];
    uint8_t b_pk[crypto_box_PUBLICKEYBYTES], b_sk[crypto_box_SECRETKEYBYTES];
    int rc;

    crypto_sign_keypair(k->sign_pk, k->sign_sk);
    crypto_box_keypair(a_pk, a_sk);
    crypto_box_keypair(b_pk, b_sk);
    /* The sender's beforenm(b_pk, a_sk) equals the receiver's beforenm(a_pk, b_sk). */
    rc = crypto_box_beforenm(k->shared, b_pk, a_sk);
    sodium_memzero(a_sk, sizeof(a_sk));
    sodium_memzero(b_sk, sizeof(b_sk));
    return rc == 0 ? 0 : s_fail("crypto_box_beforenm failed");
}

/* "keten-sign-v1\0" || payload into m; returns its length. */
static size_t s_sign_message(uint8_t *m, const uint8_t *payload, size_t plen)
{
    memcpy(m, s_sign_domain, sizeof(s_sign_domain));
    memcpy(m + sizeof(s_sign_domain), payload, plen);
    return sizeof(s_sign_domain) + plen;
}

/* A signed container of exactly clen bytes with a random id and filler. */
static int s_container_make(uint8_t *c, size_t clen, const s_keys_t *k)
{
    static const uint8_t head[BENCH_ID_OFFSET] = {0xa7, 0x61, 0x76, 0x01, 0x62, 0x69, 0x64, 0x50};
    size_t plen = clen - BENCH_CONTAINER_OVERHEAD_BYTES, mlen;
    uint8_t *payload = c + 4, m[sizeof(s_sign_domain) + 65536];

    if (plen < 256 || plen > 65535)
        return s_fail("container size %zu outside this benchmark's layout", clen);
    c[0] = 0x82;
    c[1] = 0x59;
    c[2] = (uint8_t)(plen >> 8);
    c[3] = (uint8_t)plen;
    memcpy(payload, head, sizeof(head));
    randombytes_buf(payload + sizeof(head), plen - sizeof(head));
    c[4 + plen] = 0x58;
    c[5 + plen] = 0x40;
    mlen = s_sign_message(m, payload, plen);
    return crypto_sign_detached(c + 6 + plen, NULL, m, mlen, k->sign_sk) == 0
               ? 0
               : s_fail("crypto_sign_detached failed");
}

/* 0x01 || nonce || box(pad(container)) into env, a bucket of `bucket` bytes. */
static int s_envelope_seal(uint8_t *env, size_t bucket, const uint8_t *c, size_t clen,
                           const s_keys_t *k)
{
    size_t plen = bucket - BENCH_ENVELOPE_OVERHEAD_BYTES, padded;
    uint8_t m[65536];

    memcpy(m, c, clen);
    if (sodium_pad(&padded, m, clen, plen, plen) != 0 || padded != plen)
        return s_fail("container of %zu bytes does not fit the %zu bucket", clen, bucket);
    env[0] = 0x01;
    randombytes_buf(env + 1, crypto_box_NONCEBYTES);
    if (crypto_box_easy_afternm(env + 1 + crypto_box_NONCEBYTES, m, plen, env + 1, k->shared))
        return s_fail("crypto_box_easy_afternm failed");
    return 0;
}

/* ---- Ed25519 and box --------------------------------------------------- */

typedef struct {
    const s_keys_t *k;
    uint8_t m[sizeof(s_sign_domain) + 65536];
    size_t mlen;
    uint8_t sig[crypto_sign_BYTES];
    uint8_t nonce[crypto_box_NONCEBYTES];
    uint8_t plain[65536];
    uint8_t boxed[65536];
    size_t plen;
} s_crypto_ctx_t;

static int s_step_sign(void *p, uint64_t *units)
{
    s_crypto_ctx_t *x = p;

    x->m[sizeof(s_sign_domain)]++; /* a different message each time */
    if (crypto_sign_detached(x->sig, NULL, x->m, x->mlen, x->k->sign_sk) != 0)
        return s_fail("crypto_sign_detached failed");
    ++*units;
    return 0;
}

static int s_step_verify(void *p, uint64_t *units)
{
    s_crypto_ctx_t *x = p;

    if (crypto_sign_verify_detached(x->sig, x->m, x->mlen, x->k->sign_pk) != 0)
        return s_fail("crypto_sign_verify_detached rejected a good signature");
    ++*units;
    return 0;
}

static int s_step_seal(void *p, uint64_t *units)
{
    s_crypto_ctx_t *x = p;

    sodium_increment(x->nonce, sizeof(x->nonce));
    if (crypto_box_easy_afternm(x->boxed, x->plain, x->plen, x->nonce, x->k->shared) != 0)
        return s_fail("crypto_box_easy_afternm failed");
    ++*units;
    return 0;
}

static int s_step_open(void *p, uint64_t *units)
{
    s_crypto_ctx_t *x = p;

    if (crypto_box_open_easy_afternm(x->plain, x->boxed, x->plen + crypto_box_MACBYTES, x->nonce,
                                     x->k->shared) != 0)
        return s_fail("crypto_box_open_easy_afternm rejected a good box");
    ++*units;
    return 0;
}

static int s_bench_crypto(const s_keys_t *k)
{
    static s_crypto_ctx_t x; /* large: not on the stack */
    static const size_t buckets[] = {512, 1024};
    uint8_t c[BENCH_CONTAINER_512_BYTES];
    size_t plen = sizeof(c) - BENCH_CONTAINER_OVERHEAD_BYTES;
    char name[64];
    s_result_t r;

    x.k = k;
    if (s_container_make(c, sizeof(c), k) != 0)
        return -1;
    x.mlen = s_sign_message(x.m, c + 4, plen);
    if (s_measure(&r, s_step_sign, &x, BENCH_MAX_OPS) != 0)
        return -1;
    s_figure("ed25519_sign", (double)r.units / r.seconds, "ops/s");
    if (crypto_sign_detached(x.sig, NULL, x.m, x.mlen, k->sign_sk) != 0)
        return s_fail("crypto_sign_detached failed");
    if (s_measure(&r, s_step_verify, &x, BENCH_MAX_OPS) != 0)
        return -1;
    s_figure("ed25519_verify", (double)r.units / r.seconds, "ops/s");

    for (size_t i = 0; i < sizeof(buckets) / sizeof(buckets[0]); i++) {
        x.plen = buckets[i] - BENCH_ENVELOPE_OVERHEAD_BYTES;
        randombytes_buf(x.plain, x.plen);
        randombytes_buf(x.nonce, sizeof(x.nonce));
        if (s_measure(&r, s_step_seal, &x, BENCH_MAX_OPS) != 0)
            return -1;
        snprintf(name, sizeof(name), "box_seal_%zu", buckets[i]);
        s_figure(name, (double)r.units / r.seconds, "ops/s");
        if (s_measure(&r, s_step_open, &x, BENCH_MAX_OPS) != 0)
            return -1;
        snprintf(name, sizeof(name), "box_open_%zu", buckets[i]);
        s_figure(name, (double)r.units / r.seconds, "ops/s");
    }
    return 0;
}

/* ---- SQLite ------------------------------------------------------------ */

static int s_db_exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        s_fail("%.40s: %s", sql, err != NULL ? err : sqlite3_errmsg(db));
        sqlite3_free(err);
        return -1;
    }
    return 0;
}

static void s_db_remove(const char *path)
{
    char side[sizeof(g_dir) + 64];

    unlink(path);
    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);
}

static void s_db_close(sqlite3 **db, const char *path)
{
    if (*db != NULL)
        sqlite3_close(*db); /* every statement is finalized before this */
    *db = NULL;
    s_db_remove(path);
}

/* A fresh database with keten's pragmas (daemon/store.c, DESIGN.md §6). */
static int s_db_open(sqlite3 **db, const char *path, const char *schema)
{
    sqlite3_stmt *st = NULL;
    int wal;

    s_db_remove(path);
    if (sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        return s_fail("%s: %s", path, *db != NULL ? sqlite3_errmsg(*db) : "cannot open");
    if (sqlite3_prepare_v2(*db, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW)
        return sqlite3_finalize(st), s_fail("%s: journal_mode: %s", path, sqlite3_errmsg(*db));
    wal = strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    sqlite3_finalize(st);
    if (!wal)
        return s_fail("%s: this filesystem does not support WAL", path);
    return s_db_exec(*db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
                          "PRAGMA secure_delete = ON;") != 0 ||
                   s_db_exec(*db, schema) != 0
               ? -1
               : 0;
}

static int s_db_prepare(sqlite3 *db, sqlite3_stmt **st, const char *sql)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
        return s_fail("prepare %.40s: %s", sql, sqlite3_errmsg(db));
    return 0;
}

static int s_db_done(sqlite3 *db, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return s_fail("step: %s", sqlite3_errmsg(db));
    return 0;
}

typedef struct {
    sqlite3 *db;
    sqlite3_stmt *ins;
    int batch;
    uint8_t blob[BENCH_BLOB_BYTES];
} s_sql_ctx_t;

/* One transaction of `batch` rows. */
static int s_step_sql(void *p, uint64_t *units)
{
    s_sql_ctx_t *x = p;
    uint8_t id[BENCH_ID_BYTES];

    if (s_db_exec(x->db, "BEGIN IMMEDIATE") != 0)
        return -1;
    for (int i = 0; i < x->batch; i++) {
        randombytes_buf(id, sizeof(id));
        x->blob[0]++;
        if (sqlite3_bind_text(x->ins, 1, s_partner, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_blob(x->ins, 2, id, sizeof(id), SQLITE_TRANSIENT) != SQLITE_OK ||
            sqlite3_bind_blob(x->ins, 3, x->blob, sizeof(x->blob), SQLITE_TRANSIENT) != SQLITE_OK)
            return s_fail("bind: %s", sqlite3_errmsg(x->db));
        if (s_db_done(x->db, x->ins) != 0)
            return -1;
    }
    if (s_db_exec(x->db, "COMMIT") != 0)
        return -1;
    *units += (uint64_t)x->batch;
    return 0;
}

static int s_bench_sqlite(void)
{
    static const int batches[] = {1, 16, 128};
    static const char schema[] =
        "CREATE TABLE records (n INTEGER PRIMARY KEY, partner TEXT NOT NULL,"
        " id BLOB NOT NULL, body BLOB NOT NULL, UNIQUE (partner, id))";
    s_sql_ctx_t x;
    char path[sizeof(g_dir) + 32], name[64];
    s_result_t r;
    int rc = -1;

    memset(&x, 0, sizeof(x));
    snprintf(path, sizeof(path), "%s/ceiling.db", g_dir);
    randombytes_buf(x.blob, sizeof(x.blob));
    for (size_t i = 0; i < sizeof(batches) / sizeof(batches[0]); i++) {
        x.batch = batches[i];
        if (s_db_open(&x.db, path, schema) != 0 ||
            s_db_prepare(x.db, &x.ins, "INSERT INTO records (partner, id, body) VALUES (?, ?, ?)"))
            goto out;
        if (s_measure(&r, s_step_sql, &x, BENCH_MAX_ROWS) != 0)
            goto out;
        snprintf(name, sizeof(name), "sqlite_commit_b%d", x.batch);
        s_figure(name, (double)r.steps / r.seconds, "commits/s");
        snprintf(name, sizeof(name), "sqlite_rows_b%d", x.batch);
        s_figure(name, (double)r.units / r.seconds, "rows/s");
        sqlite3_finalize(x.ins);
        x.ins = NULL;
        s_db_close(&x.db, path);
    }
    rc = 0;
out:
    sqlite3_finalize(x.ins);
    s_db_close(&x.db, path);
    return rc;
}

/* ---- CurveZMQ ---------------------------------------------------------- */

typedef struct {
    void *ctx;
    void *zap;    /* REP on the ZAP endpoint, owned by the ZAP thread once started */
    void *server; /* ROUTER, CURVE server */
    void *client; /* DEALER, CURVE client */
    uint8_t client_pk[32];
    int zap_accepted;
    int zap_refused;
    uint8_t msg[512];
    pthread_t zap_thread, peer_thread;
    int zap_started, peer_started;
    int client_given, server_given; /* handed to the peer thread, which closes it */
} s_zmq_t;

/* Answers ZAP requests (RFC 27): CURVE with the one known client key gets
 * 200 and a user id, as ketend's handler will; anything else 400. Stops
 * when the context is shut down. */
static void *s_zap_main(void *p)
{
    s_zmq_t *z = p;
    char version[16], reqid[256], domain[64], addr[64], ident[256], mech[32];
    uint8_t key[64];
    int n[7], ok;

    for (;;) {
        n[0] = zmq_recv(z->zap, version, sizeof(version), 0);
        if (n[0] < 0)
            break;
        n[1] = zmq_recv(z->zap, reqid, sizeof(reqid), 0);
        n[2] = zmq_recv(z->zap, domain, sizeof(domain), 0);
        n[3] = zmq_recv(z->zap, addr, sizeof(addr), 0);
        n[4] = zmq_recv(z->zap, ident, sizeof(ident), 0);
        n[5] = zmq_recv(z->zap, mech, sizeof(mech), 0);
        n[6] = zmq_recv(z->zap, key, sizeof(key), 0);
        if (n[1] < 0 || n[6] < 0)
            break;
        ok = n[5] == 5 && memcmp(mech, "CURVE", 5) == 0 && n[6] == 32 &&
             sodium_memcmp(key, z->client_pk, 32) == 0;
        if (ok)
            z->zap_accepted++;
        else
            z->zap_refused++;
        if (zmq_send(z->zap, "1.0", 3, ZMQ_SNDMORE) < 0 ||
            zmq_send(z->zap, reqid, (size_t)n[1] < sizeof(reqid) ? (size_t)n[1] : sizeof(reqid),
                     ZMQ_SNDMORE) < 0 ||
            zmq_send(z->zap, ok ? "200" : "400", 3, ZMQ_SNDMORE) < 0 ||
            zmq_send(z->zap, ok ? "OK" : "unknown key", ok ? 2 : 11, ZMQ_SNDMORE) < 0 ||
            zmq_send(z->zap, ok ? s_partner : "", ok ? strlen(s_partner) : 0, ZMQ_SNDMORE) < 0 ||
            zmq_send(z->zap, "", 0, 0) < 0)
            break;
    }
    zmq_close(z->zap);
    return NULL;
}

static int s_sockopt_int(void *sock, int opt, int v)
{
    return zmq_setsockopt(sock, opt, &v, sizeof(v));
}

/* Starts a helper thread with SIGINT and SIGTERM blocked, so an interrupt
 * reaches the main thread, which stops the benchmark and cleans up. */
static int s_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
    sigset_t block, old;
    int rc;

    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    rc = pthread_create(t, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc == 0 ? 0 : s_fail("pthread_create: %s", strerror(rc));
}

/* Context, ZAP handler, ROUTER bound as CURVE server on an ephemeral port,
 * DEALER connected as CURVE client with the one key ZAP accepts. */
static int s_zmq_setup(s_zmq_t *z)
{
    uint8_t server_pk[32], server_sk[32], client_sk[32];
    char endpoint[256];
    size_t elen = sizeof(endpoint);
    int rc = -1;

    crypto_box_keypair(server_pk, server_sk);
    crypto_box_keypair(z->client_pk, client_sk);
    randombytes_buf(z->msg, sizeof(z->msg));
    if ((z->ctx = zmq_ctx_new()) == NULL)
        return s_fail("zmq_ctx_new: %s", zmq_strerror(errno));
    if ((z->zap = zmq_socket(z->ctx, ZMQ_REP)) == NULL ||
        s_sockopt_int(z->zap, ZMQ_LINGER, 0) != 0 || zmq_bind(z->zap, BENCH_ZAP_ENDPOINT) != 0)
        goto out;
    if (s_thread_start(&z->zap_thread, s_zap_main, z) != 0)
        goto out_quiet;
    z->zap_started = 1;
    if ((z->server = zmq_socket(z->ctx, ZMQ_ROUTER)) == NULL ||
        s_sockopt_int(z->server, ZMQ_LINGER, 0) != 0 ||
        s_sockopt_int(z->server, ZMQ_CURVE_SERVER, 1) != 0 ||
        zmq_setsockopt(z->server, ZMQ_CURVE_SECRETKEY, server_sk, 32) != 0 ||
        zmq_setsockopt(z->server, ZMQ_ZAP_DOMAIN, "keten", 5) != 0 ||
        s_sockopt_int(z->server, ZMQ_RCVTIMEO, BENCH_ZMQ_TIMEOUT_MS) != 0 ||
        zmq_bind(z->server, "tcp://127.0.0.1:*") != 0 ||
        zmq_getsockopt(z->server, ZMQ_LAST_ENDPOINT, endpoint, &elen) != 0)
        goto out;
    if ((z->client = zmq_socket(z->ctx, ZMQ_DEALER)) == NULL ||
        s_sockopt_int(z->client, ZMQ_LINGER, 0) != 0 ||
        zmq_setsockopt(z->client, ZMQ_CURVE_SERVERKEY, server_pk, 32) != 0 ||
        zmq_setsockopt(z->client, ZMQ_CURVE_PUBLICKEY, z->client_pk, 32) != 0 ||
        zmq_setsockopt(z->client, ZMQ_CURVE_SECRETKEY, client_sk, 32) != 0 ||
        s_sockopt_int(z->client, ZMQ_RCVTIMEO, BENCH_ZMQ_TIMEOUT_MS) != 0 ||
        s_sockopt_int(z->client, ZMQ_SNDTIMEO, BENCH_ZMQ_TIMEOUT_MS) != 0 ||
        zmq_connect(z->client, endpoint) != 0)
        goto out;
    rc = 0;
    goto out_quiet;
out:
    s_fail("zmq setup: %s", zmq_strerror(errno));
out_quiet:
    sodium_memzero(server_sk, sizeof(server_sk));
    sodium_memzero(client_sk, sizeof(client_sk));
    return rc;
}

/* Closes what the main thread owns, shuts the context down so the helper
 * threads' blocking calls return ETERM, joins them, terminates. */
static void s_zmq_teardown(s_zmq_t *z)
{
    if (z->ctx == NULL)
        return;
    if (!z->zap_started && z->zap != NULL)
        zmq_close(z->zap);
    if (!(z->peer_started && z->client_given) && z->client != NULL)
        zmq_close(z->client);
    if (!(z->peer_started && z->server_given) && z->server != NULL)
        zmq_close(z->server);
    zmq_ctx_shutdown(z->ctx);
    if (z->peer_started)
        pthread_join(z->peer_thread, NULL);
    if (z->zap_started)
        pthread_join(z->zap_thread, NULL);
    zmq_ctx_term(z->ctx);
    z->ctx = NULL;
}

/* Throughput: the DEALER (a thread of its own) sends as fast as the
 * high-water mark lets it; the ROUTER (main thread) counts. */
static void *s_sender_main(void *p)
{
    s_zmq_t *z = p;

    while (zmq_send(z->client, z->msg, sizeof(z->msg), 0) >= 0 || errno == EAGAIN || errno == EINTR)
        ;
    zmq_close(z->client);
    return NULL;
}

static int s_step_router_recv(void *p, uint64_t *units)
{
    s_zmq_t *z = p;
    uint8_t id[256], buf[1024];
    int n;

    if (zmq_recv(z->server, id, sizeof(id), 0) < 0 ||
        (n = zmq_recv(z->server, buf, sizeof(buf), 0)) < 0)
        return s_fail("router receive: %s", zmq_strerror(errno));
    if (n != (int)sizeof(z->msg))
        return s_fail("router received %d bytes, sent %zu", n, sizeof(z->msg));
    ++*units;
    return 0;
}

/* Round trip: the ROUTER (a thread) answers each envelope with a receipt;
 * a receipt is an envelope too, so it is 512 bytes (the smallest bucket). */
static void *s_echo_main(void *p)
{
    s_zmq_t *z = p;
    uint8_t id[256], buf[1024];
    int n;

    s_sockopt_int(z->server, ZMQ_RCVTIMEO, -1); /* the context shutdown ends it */
    for (;;) {
        if ((n = zmq_recv(z->server, id, sizeof(id), 0)) < 0 ||
            zmq_recv(z->server, buf, sizeof(buf), 0) < 0)
            break;
        if (zmq_send(z->server, id, (size_t)n, ZMQ_SNDMORE) < 0 ||
            zmq_send(z->server, z->msg, sizeof(z->msg), 0) < 0)
            break;
    }
    zmq_close(z->server);
    return NULL;
}

static int s_step_round_trip(void *p, uint64_t *units)
{
    s_zmq_t *z = p;
    uint8_t buf[1024];

    if (zmq_send(z->client, z->msg, sizeof(z->msg), 0) < 0 ||
        zmq_recv(z->client, buf, sizeof(buf), 0) < 0)
        return s_fail("dealer round trip: %s", zmq_strerror(errno));
    ++*units;
    return 0;
}

static int s_zap_check(const s_zmq_t *z)
{
    if (z->zap_accepted < 1 || z->zap_refused != 0)
        return s_fail("the ZAP handler saw %d accepted, %d refused handshakes", z->zap_accepted,
                      z->zap_refused);
    return 0;
}

static int s_bench_zmq(void)
{
    s_zmq_t z;
    s_result_t r;
    int rc = -1;

    if (!zmq_has("curve"))
        return s_fail("this libzmq has no CURVE support");

    memset(&z, 0, sizeof(z));
    if (s_zmq_setup(&z) != 0)
        goto out;
    z.client_given = 1;
    if (s_thread_start(&z.peer_thread, s_sender_main, &z) != 0)
        goto out;
    z.peer_started = 1;
    if (s_measure(&r, s_step_router_recv, &z, BENCH_MAX_OPS) != 0)
        goto out;
    s_zmq_teardown(&z); /* joins the ZAP thread: its counts are final */
    if (s_zap_check(&z) != 0)
        goto out;
    s_figure("zmq_curve_msg_512", (double)r.units / r.seconds, "msg/s");

    memset(&z, 0, sizeof(z));
    if (s_zmq_setup(&z) != 0)
        goto out;
    z.server_given = 1;
    if (s_thread_start(&z.peer_thread, s_echo_main, &z) != 0)
        goto out;
    z.peer_started = 1;
    if (s_measure(&r, s_step_round_trip, &z, BENCH_MAX_OPS) != 0)
        goto out;
    s_zmq_teardown(&z);
    if (s_zap_check(&z) != 0)
        goto out;
    s_figure("zmq_curve_rtt_512", (double)r.units / r.seconds, "rtt/s");
    rc = 0;
out:
    s_zmq_teardown(&z);
    return rc;
}

/* ---- P: the single-core receiver pipeline ------------------------------ */

typedef struct {
    const s_keys_t *k;
    sqlite3 *db;
    sqlite3_stmt *ins, *audit;
    size_t bucket;
    uint8_t *pool;                          /* BENCH_POOL envelopes of `bucket` bytes */
    uint64_t next;                          /* records received so far */
    uint8_t prev[crypto_generichash_BYTES]; /* audit chain head */
    char actor[crypto_generichash_BYTES + 1];
    uint8_t m[65536];
    uint8_t msg[sizeof(s_sign_domain) + 65536];
} s_pipe_ctx_t;

/* Receive one record: open, unpad, parse the container, verify, store, and
 * append the audit entry that chains to the previous one. */
static int s_pipe_one(s_pipe_ctx_t *x)
{
    const uint8_t *env = x->pool + (x->next % BENCH_POOL) * x->bucket;
    size_t plen = x->bucket - BENCH_ENVELOPE_OVERHEAD_BYTES, clen, paylen, mlen;
    uint64_t round = x->next / BENCH_POOL;
    uint8_t id[BENCH_ID_BYTES], hash[crypto_generichash_BYTES];
    char idhex[2 * BENCH_ID_BYTES + 1], entry[256];
    crypto_generichash_state h;
    int64_t now = (int64_t)time(NULL);
    int elen;

    if (env[0] != 0x01)
        return s_fail("pipeline: bad version byte");
    if (crypto_box_open_easy_afternm(x->m, env + 1 + crypto_box_NONCEBYTES,
                                     x->bucket - 1 - crypto_box_NONCEBYTES, env + 1,
                                     x->k->shared) != 0)
        return s_fail("pipeline: box did not open");
    if (sodium_unpad(&clen, x->m, plen, plen) != 0)
        return s_fail("pipeline: bad padding");
    if (clen < BENCH_CONTAINER_OVERHEAD_BYTES || x->m[0] != 0x82 || x->m[1] != 0x59)
        return s_fail("pipeline: bad container");
    paylen = (size_t)x->m[2] << 8 | x->m[3];
    if (paylen + BENCH_CONTAINER_OVERHEAD_BYTES != clen || x->m[4 + paylen] != 0x58 ||
        x->m[5 + paylen] != 0x40 || paylen < BENCH_ID_OFFSET + BENCH_ID_BYTES)
        return s_fail("pipeline: bad container");
    mlen = s_sign_message(x->msg, x->m + 4, paylen);
    if (crypto_sign_verify_detached(x->m + 6 + paylen, x->msg, mlen, x->k->sign_pk) != 0)
        return s_fail("pipeline: signature did not verify");

    /* The pool repeats; a fresh id per round keeps the dedupe key unique. */
    memcpy(id, x->m + 4 + BENCH_ID_OFFSET, sizeof(id));
    for (int i = 0; i < 8; i++)
        id[8 + i] ^= (uint8_t)(round >> (8 * i));
    if (sqlite3_bind_text(x->ins, 1, s_partner, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_blob(x->ins, 2, id, sizeof(id), SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_bind_int64(x->ins, 3, now) != SQLITE_OK ||
        sqlite3_bind_blob(x->ins, 4, env, (int)x->bucket, SQLITE_STATIC) != SQLITE_OK ||
        s_db_done(x->db, x->ins) != 0)
        return s_fail("pipeline: inbox insert: %s", sqlite3_errmsg(x->db));

    sodium_bin2hex(idhex, sizeof(idhex), id, sizeof(id));
    elen = snprintf(entry, sizeof(entry), "%llu|%lld|%s|receive|%s|record|accepted",
                    (unsigned long long)x->next + 1, (long long)now, x->actor, idhex);
    if (elen < 0 || (size_t)elen >= sizeof(entry))
        return s_fail("pipeline: audit entry too long");
    crypto_generichash_init(&h, NULL, 0, sizeof(hash));
    crypto_generichash_update(&h, x->prev, sizeof(x->prev));
    crypto_generichash_update(&h, (const uint8_t *)entry, (size_t)elen);
    crypto_generichash_final(&h, hash, sizeof(hash));
    if (sqlite3_bind_int64(x->audit, 1, (sqlite3_int64)(x->next + 1)) != SQLITE_OK ||
        sqlite3_bind_int64(x->audit, 2, now) != SQLITE_OK ||
        sqlite3_bind_text(x->audit, 3, x->actor, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_blob(x->audit, 4, id, sizeof(id), SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_bind_text(x->audit, 5, entry, elen, SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_bind_blob(x->audit, 6, x->prev, sizeof(x->prev), SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_bind_blob(x->audit, 7, hash, sizeof(hash), SQLITE_TRANSIENT) != SQLITE_OK ||
        s_db_done(x->db, x->audit) != 0)
        return s_fail("pipeline: audit insert: %s", sqlite3_errmsg(x->db));
    memcpy(x->prev, hash, sizeof(hash));
    x->next++;
    return 0;
}

static int s_step_pipe(void *p, uint64_t *units)
{
    s_pipe_ctx_t *x = p;

    if (s_db_exec(x->db, "BEGIN IMMEDIATE") != 0)
        return -1;
    for (int i = 0; i < BENCH_PIPELINE_BATCH; i++)
        if (s_pipe_one(x) != 0)
            return -1;
    if (s_db_exec(x->db, "COMMIT") != 0)
        return -1;
    *units += BENCH_PIPELINE_BATCH;
    return 0;
}

static int s_bench_pipeline(const s_keys_t *k, size_t bucket, size_t clen, const char *name)
{
    static const char schema[] =
        "CREATE TABLE inbox (n INTEGER PRIMARY KEY, sender TEXT NOT NULL, id BLOB NOT NULL,"
        " received INTEGER NOT NULL, envelope BLOB NOT NULL, UNIQUE (sender, id));"
        "CREATE TABLE audit (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor TEXT NOT NULL,"
        " ref BLOB, entry TEXT NOT NULL, prev BLOB NOT NULL, hash BLOB NOT NULL)";
    static s_pipe_ctx_t x; /* large: not on the stack */
    uint8_t c[65536], fp[crypto_generichash_BYTES / 2];
    char path[sizeof(g_dir) + 32];
    s_result_t r;
    int rc = -1;

    memset(&x, 0, sizeof(x));
    x.k = k;
    x.bucket = bucket;
    snprintf(path, sizeof(path), "%s/pipeline.db", g_dir);
    if ((x.pool = malloc(BENCH_POOL * bucket)) == NULL)
        return s_fail("out of memory");
    for (size_t i = 0; i < BENCH_POOL; i++)
        if (s_container_make(c, clen, k) != 0 ||
            s_envelope_seal(x.pool + i * bucket, bucket, c, clen, k) != 0)
            goto out;
    crypto_generichash(fp, sizeof(fp), k->sign_pk, sizeof(k->sign_pk), NULL, 0);
    sodium_bin2hex(x.actor, sizeof(x.actor), fp, sizeof(fp));
    if (s_db_open(&x.db, path, schema) != 0 ||
        s_db_prepare(x.db, &x.ins,
                     "INSERT INTO inbox (sender, id, received, envelope) VALUES (?, ?, ?, ?)") ||
        s_db_prepare(x.db, &x.audit,
                     "INSERT INTO audit (seq, at, actor, ref, entry, prev, hash)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?)"))
        goto out;
    if (s_measure(&r, s_step_pipe, &x, BENCH_MAX_ROWS) != 0)
        goto out;
    s_figure(name, (double)r.units / r.seconds, "records/s");
    rc = 0;
out:
    sqlite3_finalize(x.ins);
    sqlite3_finalize(x.audit);
    s_db_close(&x.db, path);
    free(x.pool);
    return rc;
}

/* ---- main -------------------------------------------------------------- */

static const char *s_fs_name(long type)
{
    switch ((unsigned long)type) {
    case 0xEF53:
        return "ext2/ext3/ext4";
    case 0x01021994:
        return "tmpfs";
    case 0x858458f6:
        return "ramfs";
    case 0x58465342:
        return "xfs";
    case 0x9123683E:
        return "btrfs";
    case 0x794c7630:
        return "overlayfs";
    case 0x2fc12fc1:
        return "zfs";
    case 0xF2F52010:
        return "f2fs";
    case 0x6969:
        return "nfs";
    case 0x65735546:
        return "fuse";
    default:
        return "unknown";
    }
}

static int s_config(void)
{
    const char *s = getenv("BENCH_SECONDS");
    char *end;

    if (s != NULL && *s != '\0') {
        errno = 0;
        g_seconds = strtod(s, &end);
        if (errno != 0 || *end != '\0' || !(g_seconds >= 0.05 && g_seconds <= 600))
            return s_fail("BENCH_SECONDS must be a number of seconds from 0.05 to 600, not '%s'",
                          s);
    }
    g_warmup = g_seconds / 5 < 0.5 ? g_seconds / 5 : 0.5;
    return 0;
}

int main(int argc, char **argv)
{
    const char *base = argc > 1 ? argv[1] : ".";
    struct sigaction sa;
    struct statfs fs;
    s_keys_t *k = NULL;
    int rc = 1;

    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: ceilings [DIR]   (BENCH_SECONDS=%.1f by default)\n", g_seconds);
        return 2;
    }
    if (s_config() != 0)
        return 2;
    if (sodium_init() < 0 || sqlite3_initialize() != SQLITE_OK) {
        s_fail("cannot initialise libsodium or SQLite");
        return 1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (snprintf(g_dir, sizeof(g_dir), "%s/ceilings.XXXXXX", base) >= (int)sizeof(g_dir) - 32) {
        s_fail("%s: path too long", base);
        return 1;
    }
    if (mkdtemp(g_dir) == NULL) {
        s_fail("%s: cannot create a temporary directory: %s", base, strerror(errno));
        return 1;
    }
    if ((k = sodium_malloc(sizeof(*k))) == NULL) {
        s_fail("out of memory");
        goto out;
    }

    printf("info bench_seconds %.2f\n", g_seconds);
    printf("info container_bytes %d (512 bucket) %d (1024 bucket)\n", BENCH_CONTAINER_512_BYTES,
           BENCH_CONTAINER_1024_BYTES);
    if (statfs(g_dir, &fs) == 0) {
        printf("info db_filesystem %s (statfs type 0x%lx) at %s\n", s_fs_name((long)fs.f_type),
               (unsigned long)fs.f_type, base);
        if (strcmp(s_fs_name((long)fs.f_type), "tmpfs") == 0 ||
            strcmp(s_fs_name((long)fs.f_type), "ramfs") == 0)
            fprintf(stderr,
                    "ceilings: warning: %s is in memory; fsync costs nothing there, so the "
                    "SQLite figures are not durable ceilings\n",
                    base);
    }
    fflush(stdout);

    if (s_keys_init(k) != 0 || s_bench_crypto(k) != 0 || s_bench_sqlite() != 0 ||
        s_bench_zmq() != 0 ||
        s_bench_pipeline(k, 512, BENCH_CONTAINER_512_BYTES, "pipeline_b16") != 0 ||
        s_bench_pipeline(k, 1024, BENCH_CONTAINER_1024_BYTES, "pipeline_b16_1024") != 0)
        goto out;
    rc = 0;
out:
    sodium_free(k);
    if (rmdir(g_dir) != 0)
        s_fail("%s: cannot remove: %s", g_dir, strerror(errno));
    return g_stop ? 130 : rc;
}
