/*
 * envelope.c - the signed payload, the signed container and the sealed
 * envelope (docs/protocol.md): sign/verify with Ed25519, seal/open with a
 * precomputed X25519 box, ISO/IEC 7816-4 padding to power-of-two buckets.
 *
 * Owns the exact bytes of all three formats. It writes and reads the one
 * fixed CBOR map shape by hand (cbor.h belongs to record.c): every read is
 * bounds-checked first, and anything that is not exactly the documented
 * shape is KT_EMALFORMED. It must never act on a payload before its
 * signature checked out, never allocate from an unchecked length, never leave
 * plaintext or a shared key in memory it frees, and never put body contents
 * into a diagnostic.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keten/envelope.h"

static const char s_sign_domain[] = "keten-sign-v1"; /* signed with its NUL */

/* The payload's keys as encoded, in deterministic (bytewise) order. */
#define K_V "\x61v"
#define K_ID "\x62id"
#define K_TO "\x62to"
#define K_BODY                                                                                     \
    "\x64"                                                                                         \
    "body"
#define K_FROM                                                                                     \
    "\x64"                                                                                         \
    "from"
#define K_KIND                                                                                     \
    "\x64"                                                                                         \
    "kind"
#define K_CREATED                                                                                  \
    "\x67"                                                                                         \
    "created"
#define LIT(s) (const uint8_t *)(s), sizeof(s) - 1

enum {
    M_UINT = 0,
    M_NINT = 1,
    M_BYTES = 2,
    M_TEXT = 3,
    M_ARRAY = 4,
    M_MAP = 5,
    M_TAG = 6,
    M_SIMPLE = 7
};

struct kt_envelope_peer {
    uint8_t shared[crypto_box_BEFORENMBYTES];
    kt_pubkey_t me;
    kt_pubkey_t them;
};

_Static_assert(KT_ENVELOPE_NONCE_BYTES == crypto_box_NONCEBYTES, "nonce size");
_Static_assert(KT_ENVELOPE_MAC_BYTES == crypto_box_MACBYTES, "mac size");
_Static_assert(KT_SIGNATURE_BYTES == crypto_sign_BYTES, "signature size");

static const char *const s_kinds[] = {NULL,     "record",      "receipt",      "retract",
                                      "counts", "psi-request", "psi-response", "ping"};
#define KT_KIND_LAST KT_KIND_PING

const char *kt_kind_name(kt_kind_t kind)
{
    if (kind < KT_KIND_RECORD || kind > KT_KIND_LAST)
        return "unknown";
    return s_kinds[kind];
}

static int s_kind_parse_n(const uint8_t *s, size_t n, kt_kind_t *kind)
{
    int i;

    for (i = KT_KIND_RECORD; i <= KT_KIND_LAST; i++) {
        if (strlen(s_kinds[i]) == n && memcmp(s, s_kinds[i], n) == 0) {
            *kind = (kt_kind_t)i;
            return 0;
        }
    }
    return KT_EINVAL;
}

int kt_kind_parse(const char *s, kt_kind_t *kind)
{
    if (s == NULL)
        return KT_EINVAL;
    return s_kind_parse_n((const uint8_t *)s, strlen(s), kind);
}

void kt_envelope_id_hex(char out[KT_ENVELOPE_ID_HEX], const uint8_t id[KT_ENVELOPE_ID_BYTES])
{
    sodium_bin2hex(out, KT_ENVELOPE_ID_HEX, id, KT_ENVELOPE_ID_BYTES);
}

int kt_envelope_id_parse(uint8_t id[KT_ENVELOPE_ID_BYTES], const char *hex)
{
    size_t i, n = 0;

    if (hex == NULL || strlen(hex) != 2 * KT_ENVELOPE_ID_BYTES)
        return KT_EINVAL;
    for (i = 0; hex[i] != '\0'; i++) /* lowercase only: one spelling per id */
        if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
            return KT_EINVAL;
    if (sodium_hex2bin(id, KT_ENVELOPE_ID_BYTES, hex, strlen(hex), NULL, &n, NULL) != 0 ||
        n != KT_ENVELOPE_ID_BYTES)
        return KT_EINVAL;
    return 0;
}

void kt_envelope_new_id(uint8_t id[KT_ENVELOPE_ID_BYTES])
{
    randombytes_buf(id, KT_ENVELOPE_ID_BYTES);
}

void kt_envelope_free(uint8_t *buf, size_t len)
{
    if (buf == NULL)
        return;
    sodium_memzero(buf, len);
    free(buf);
}

/* --- CBOR heads, written and read by hand --- */

static size_t s_head_len(uint64_t v)
{
    if (v < 24)
        return 1;
    if (v <= 0xff)
        return 2;
    if (v <= 0xffff)
        return 3;
    if (v <= 0xffffffffULL)
        return 5;
    return 9;
}

/* Shortest head for (major, v) at p; returns its length. */
static size_t s_put_head(uint8_t *p, int major, uint64_t v)
{
    size_t n = s_head_len(v), i;
    uint8_t ai = n == 1 ? (uint8_t)v : n == 2 ? 24 : n == 3 ? 25 : n == 5 ? 26 : 27;

    p[0] = (uint8_t)((major << 5) | ai);
    for (i = 1; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return n;
}

/*
 * Reads one head at b[*pos]. Accepts only definite lengths in their shortest
 * form, and of the simple values only false, true and null. For byte and text
 * strings, also checks the content fits in what is left.
 */
static int s_read_head(const uint8_t *b, size_t len, size_t *pos, int *major, uint64_t *arg)
{
    size_t p = *pos, n, i;
    uint8_t ai;
    uint64_t v = 0;

    if (p >= len)
        return -1;
    *major = b[p] >> 5;
    ai = b[p] & 0x1f;
    p++;
    if (*major == M_SIMPLE) {
        if (ai < 20 || ai > 22)
            return -1;
        *arg = ai;
        *pos = p;
        return 0;
    }
    if (ai < 24) {
        v = ai;
    } else {
        if (ai > 27)
            return -1; /* reserved, or indefinite length */
        n = (size_t)1 << (ai - 24);
        if (n > len - p)
            return -1;
        for (i = 0; i < n; i++)
            v = (v << 8) | b[p + i];
        p += n;
        if (s_head_len(v) != n + 1)
            return -1; /* not the shortest form */
    }
    if ((*major == M_BYTES || *major == M_TEXT) && v > len - p)
        return -1;
    *arg = v;
    *pos = p;
    return 0;
}

static int s_utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        uint8_t c = s[i];
        size_t k, extra;
        uint32_t cp;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            extra = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            extra = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            extra = 3, cp = c & 0x07;
        else
            return 0;
        if (extra > n - i - 1)
            return 0;
        for (k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += extra + 1;
    }
    return 1;
}

/* Skips one well-formed data item (see s_read_head), no tags, depth-limited. */
static int s_skip(const uint8_t *b, size_t len, size_t *pos, int depth)
{
    uint64_t arg, i, n;
    int major;

    if (depth > KT_ENVELOPE_BODY_DEPTH_MAX || s_read_head(b, len, pos, &major, &arg) != 0)
        return -1;
    switch (major) {
    case M_UINT:
    case M_NINT:
    case M_SIMPLE:
        return 0;
    case M_TEXT:
        if (!s_utf8_valid(b + *pos, (size_t)arg))
            return -1;
        /* fall through */
    case M_BYTES:
        *pos += (size_t)arg;
        return 0;
    case M_ARRAY:
    case M_MAP:
        /* every item takes at least one byte: bound the loop by what is left */
        if (arg > len - *pos || (major == M_MAP && arg > (len - *pos) / 2))
            return -1;
        n = major == M_MAP ? 2 * arg : arg;
        for (i = 0; i < n; i++)
            if (s_skip(b, len, pos, depth + 1) != 0)
                return -1;
        return 0;
    default:
        return -1; /* tags are not part of the format */
    }
}

static int s_expect(const uint8_t *b, size_t len, size_t *pos, const uint8_t *lit, size_t n)
{
    if (n > len - *pos || memcmp(b + *pos, lit, n) != 0)
        return -1;
    *pos += n;
    return 0;
}

/* A text string holding a valid node id, into out. */
static int s_read_node_id(const uint8_t *b, size_t len, size_t *pos, char out[KT_NODE_ID_MAX + 1])
{
    uint64_t n;
    int major;
    size_t i;

    if (s_read_head(b, len, pos, &major, &n) != 0 || major != M_TEXT || n < 1 || n > KT_NODE_ID_MAX)
        return -1;
    for (i = 0; i < n; i++)
        out[i] = (char)b[*pos + i];
    out[n] = '\0';
    if (!kt_keys_valid_id(out))
        return -1;
    *pos += (size_t)n;
    return 0;
}

/* --- payload --- */

static int s_payload_decode(kt_payload_t *out, const uint8_t *b, size_t len, kt_diag_t *d)
{
    size_t pos = 0, start;
    uint64_t arg;
    int major;

    memset(out, 0, sizeof(*out));
    if (s_expect(b, len, &pos, LIT("\xa7")) != 0 || s_expect(b, len, &pos, LIT(K_V)) != 0 ||
        s_read_head(b, len, &pos, &major, &arg) != 0 || major != M_UINT)
        return kt_diag_set(d, KT_EMALFORMED, "payload: must start with a 7-entry map and 'v'");
    if (arg != KT_PAYLOAD_VERSION)
        return kt_diag_set(d, KT_EVERSION,
                           "payload: version %llu is not supported (this build "
                           "reads %d)",
                           (unsigned long long)arg, KT_PAYLOAD_VERSION);
    if (s_expect(b, len, &pos, LIT(K_ID)) != 0 || s_expect(b, len, &pos, LIT("\x50")) != 0 ||
        KT_ENVELOPE_ID_BYTES > len - pos)
        return kt_diag_set(d, KT_EMALFORMED, "payload: 'id' must be a 16-byte byte string");
    memcpy(out->id, b + pos, KT_ENVELOPE_ID_BYTES);
    pos += KT_ENVELOPE_ID_BYTES;
    if (s_expect(b, len, &pos, LIT(K_TO)) != 0 || s_read_node_id(b, len, &pos, out->to) != 0)
        return kt_diag_set(d, KT_EMALFORMED, "payload: 'to' must be a node id");
    if (s_expect(b, len, &pos, LIT(K_BODY)) != 0)
        return kt_diag_set(d, KT_EMALFORMED, "payload: 'body' missing or out of order");
    start = pos;
    if (s_skip(b, len, &pos, 0) != 0)
        return kt_diag_set(d, KT_EMALFORMED, "payload: 'body' is not a well-formed data item");
    out->body = b + start;
    out->body_len = pos - start;
    if (s_expect(b, len, &pos, LIT(K_FROM)) != 0 || s_read_node_id(b, len, &pos, out->from) != 0)
        return kt_diag_set(d, KT_EMALFORMED, "payload: 'from' must be a node id");
    if (s_expect(b, len, &pos, LIT(K_KIND)) != 0 || s_read_head(b, len, &pos, &major, &arg) != 0 ||
        major != M_TEXT || s_kind_parse_n(b + pos, (size_t)arg, &out->kind) != 0)
        return kt_diag_set(d, KT_EMALFORMED, "payload: 'kind' must be a known message kind");
    pos += (size_t)arg;
    if (s_expect(b, len, &pos, LIT(K_CREATED)) != 0 ||
        s_read_head(b, len, &pos, &major, &out->created) != 0 || major != M_UINT)
        return kt_diag_set(d, KT_EMALFORMED, "payload: 'created' must be an unsigned integer");
    if (pos != len)
        return kt_diag_set(d, KT_EMALFORMED, "payload: bytes after the map");
    return 0;
}

static size_t s_text_len(size_t n)
{
    return s_head_len(n) + n;
}

static int s_payload_encode(uint8_t **out, size_t *outlen, kt_kind_t kind,
                            const uint8_t id[KT_ENVELOPE_ID_BYTES], uint64_t created,
                            const char *from, const char *to, const uint8_t *body, size_t body_len)
{
    const char *kname = kt_kind_name(kind);
    size_t n, p = 0;
    uint8_t *b;

    n = 1 + (sizeof(K_V) - 1) + 1 + (sizeof(K_ID) - 1) + 1 + KT_ENVELOPE_ID_BYTES +
        (sizeof(K_TO) - 1) + s_text_len(strlen(to)) + (sizeof(K_BODY) - 1) + body_len +
        (sizeof(K_FROM) - 1) + s_text_len(strlen(from)) + (sizeof(K_KIND) - 1) +
        s_text_len(strlen(kname)) + (sizeof(K_CREATED) - 1) + s_head_len(created);
    if ((b = malloc(n)) == NULL)
        return KT_ENOMEM;
#define PUT(src, len) (memcpy(b + p, (src), (len)), p += (len))
#define PUTLIT(s) PUT(s, sizeof(s) - 1)
    b[p++] = 0xa7;
    PUTLIT(K_V);
    b[p++] = KT_PAYLOAD_VERSION;
    PUTLIT(K_ID);
    b[p++] = 0x50;
    PUT(id, KT_ENVELOPE_ID_BYTES);
    PUTLIT(K_TO);
    p += s_put_head(b + p, M_TEXT, strlen(to));
    PUT(to, strlen(to));
    PUTLIT(K_BODY);
    PUT(body, body_len);
    PUTLIT(K_FROM);
    p += s_put_head(b + p, M_TEXT, strlen(from));
    PUT(from, strlen(from));
    PUTLIT(K_KIND);
    p += s_put_head(b + p, M_TEXT, strlen(kname));
    PUT(kname, strlen(kname));
    PUTLIT(K_CREATED);
    p += s_put_head(b + p, M_UINT, created);
#undef PUT
#undef PUTLIT
    *out = b;
    *outlen = p;
    return 0;
}

/* --- signed container --- */

static int s_container_parse(const uint8_t *b, size_t len, const uint8_t **payload,
                             size_t *payload_len, const uint8_t **sig, kt_diag_t *d)
{
    size_t pos = 0;
    uint64_t n;
    int major;

    if (s_expect(b, len, &pos, LIT("\x82")) != 0 || s_read_head(b, len, &pos, &major, &n) != 0 ||
        major != M_BYTES)
        return kt_diag_set(d, KT_EMALFORMED, "not a signed record (expected [payload, signature])");
    *payload = b + pos;
    *payload_len = (size_t)n;
    pos += (size_t)n;
    if (s_expect(b, len, &pos, LIT("\x58\x40")) != 0 || KT_SIGNATURE_BYTES != len - pos)
        return kt_diag_set(d, KT_EMALFORMED,
                           "signed record: the signature must be a 64-byte byte string and "
                           "the last item");
    *sig = b + pos;
    return 0;
}

/* "keten-sign-v1\0" || payload, in a buffer the caller frees with kt_envelope_free. */
static uint8_t *s_sign_message(const uint8_t *payload, size_t len, size_t *msglen)
{
    uint8_t *m = malloc(sizeof(s_sign_domain) + len);

    if (m == NULL)
        return NULL;
    memcpy(m, s_sign_domain, sizeof(s_sign_domain));
    memcpy(m + sizeof(s_sign_domain), payload, len);
    *msglen = sizeof(s_sign_domain) + len;
    return m;
}

int kt_envelope_sign_raw(uint8_t **out, size_t *outlen, const uint8_t *payload, size_t payload_len,
                         const kt_keys_t *k, kt_diag_t *d)
{
    uint8_t sig[KT_SIGNATURE_BYTES], *m, *b;
    size_t mlen, n, p = 0;

    *out = NULL;
    *outlen = 0;
    if (payload_len > KT_SIGNED_MAX_BYTES)
        return kt_diag_set(d, KT_ETOOBIG, "signed record would exceed %d bytes",
                           KT_SIGNED_MAX_BYTES);
    n = 1 + s_head_len(payload_len) + payload_len + 2 + KT_SIGNATURE_BYTES;
    if (n > KT_SIGNED_MAX_BYTES)
        return kt_diag_set(d, KT_ETOOBIG, "signed record would exceed %d bytes",
                           KT_SIGNED_MAX_BYTES);
    if ((m = s_sign_message(payload, payload_len, &mlen)) == NULL)
        return kt_diag_set(d, KT_ENOMEM, "out of memory while signing");
    crypto_sign_detached(sig, NULL, m, mlen, kt_keys_sign_sk(k));
    kt_envelope_free(m, mlen);
    if ((b = malloc(n)) == NULL)
        return kt_diag_set(d, KT_ENOMEM, "out of memory while signing");
    b[p++] = 0x82;
    p += s_put_head(b + p, M_BYTES, payload_len);
    memcpy(b + p, payload, payload_len);
    p += payload_len;
    b[p++] = 0x58;
    b[p++] = KT_SIGNATURE_BYTES;
    memcpy(b + p, sig, KT_SIGNATURE_BYTES);
    *out = b;
    *outlen = n;
    return 0;
}

int kt_envelope_sign(uint8_t **out, size_t *outlen, kt_kind_t kind,
                     const uint8_t id[KT_ENVELOPE_ID_BYTES], uint64_t created, const char *to,
                     const uint8_t *body, size_t body_len, const kt_keys_t *signer, kt_diag_t *d)
{
    const kt_pubkey_t *me = kt_keys_public(signer);
    uint8_t *payload = NULL;
    size_t plen = 0, pos = 0;
    int rc;

    *out = NULL;
    *outlen = 0;
    if (kind < KT_KIND_RECORD || kind > KT_KIND_LAST)
        return kt_diag_set(d, KT_EINVAL, "unknown message kind");
    if (!kt_keys_valid_id(to))
        return kt_diag_set(d, KT_EINVAL,
                           "recipient must be a node id: 1 to %d characters of a-z, 0-9 and '-'",
                           KT_NODE_ID_MAX);
    if (body_len > KT_SIGNED_MAX_BYTES)
        return kt_diag_set(d, KT_ETOOBIG, "body is larger than %d bytes", KT_SIGNED_MAX_BYTES);
    if (body == NULL || s_skip(body, body_len, &pos, 0) != 0 || pos != body_len)
        return kt_diag_set(d, KT_EMALFORMED, "body must be exactly one well-formed CBOR data item");
    rc = s_payload_encode(&payload, &plen, kind, id, created, me->id, to, body, body_len);
    if (rc != 0)
        return kt_diag_set(d, rc, "out of memory while signing");
    rc = kt_envelope_sign_raw(out, outlen, payload, plen, signer, d);
    kt_envelope_free(payload, plen);
    return rc;
}

int kt_envelope_parse(kt_payload_t *out, const uint8_t *buf, size_t len, kt_diag_t *d)
{
    const uint8_t *payload = NULL, *sig = NULL;
    size_t plen = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    if (len > KT_SIGNED_MAX_BYTES)
        return kt_diag_set(d, KT_ETOOBIG, "signed record is larger than %d bytes",
                           KT_SIGNED_MAX_BYTES);
    if ((rc = s_container_parse(buf, len, &payload, &plen, &sig, d)) != 0)
        return rc;
    return s_payload_decode(out, payload, plen, d);
}

int kt_envelope_verify(kt_payload_t *out, const uint8_t *buf, size_t len, const kt_pubkey_t *signer,
                       kt_diag_t *d)
{
    const uint8_t *payload = NULL, *sig = NULL;
    size_t plen = 0, mlen = 0;
    uint8_t *m;
    int rc, bad;

    memset(out, 0, sizeof(*out));
    if (len > KT_SIGNED_MAX_BYTES)
        return kt_diag_set(d, KT_ETOOBIG, "signed record is larger than %d bytes",
                           KT_SIGNED_MAX_BYTES);
    if ((rc = s_container_parse(buf, len, &payload, &plen, &sig, d)) != 0)
        return rc;
    if ((m = s_sign_message(payload, plen, &mlen)) == NULL)
        return kt_diag_set(d, KT_ENOMEM, "out of memory while verifying");
    bad = crypto_sign_verify_detached(sig, m, mlen, signer->sign_pk);
    kt_envelope_free(m, mlen);
    if (bad)
        return kt_diag_set(d, KT_EAUTH,
                           "signature does not verify with the key of node '%s': wrong key, or "
                           "the record was altered",
                           signer->id);
    if ((rc = s_payload_decode(out, payload, plen, d)) != 0)
        return rc;
    if (strcmp(out->from, signer->id) != 0) {
        rc = kt_diag_set(d, KT_EAUTH, "record names '%s' as its sender but was signed by '%s'",
                         out->from, signer->id);
        memset(out, 0, sizeof(*out));
        return rc;
    }
    return 0;
}

/* --- peers, seal and open --- */

int kt_envelope_peer_new(kt_envelope_peer_t **out, const kt_keys_t *me, const kt_pubkey_t *them,
                         kt_diag_t *d)
{
    size_t n = (sizeof(kt_envelope_peer_t) + 15) & ~(size_t)15;
    kt_envelope_peer_t *p;

    *out = NULL;
    if ((p = sodium_malloc(n)) == NULL)
        return kt_diag_set(d, KT_ENOMEM, "out of memory for a peer");
    if (crypto_box_beforenm(p->shared, them->box_pk, kt_keys_box_sk(me)) != 0) {
        sodium_free(p);
        return kt_diag_set(d, KT_EAUTH, "the box key of node '%s' is unusable", them->id);
    }
    p->me = *kt_keys_public(me);
    p->them = *them;
    *out = p;
    return 0;
}

void kt_envelope_peer_destroy(kt_envelope_peer_t **p)
{
    if (p == NULL || *p == NULL)
        return;
    sodium_free(*p); /* zeroes before unmapping */
    *p = NULL;
}

const kt_pubkey_t *kt_envelope_peer_public(const kt_envelope_peer_t *peer)
{
    return &peer->them;
}

static const char s_pseudonym_domain[] = "keten-pseudonym-v1";

/* Lowercase RFC 4648 base32 without padding: 16 bytes -> 26 characters.
 * Table lookups by secret-derived index are fine here: the pseudonym is
 * public on the wire. */
static void s_base32(char *out, const uint8_t *in, size_t n)
{
    static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
    uint32_t acc = 0;
    int bits = 0;
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = b32[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        out[o++] = b32[(acc << (5 - bits)) & 31];
    out[o] = '\0';
}

int kt_envelope_peer_pseudonym(char out[KT_PSEUDONYM_BYTES], const kt_envelope_peer_t *peer,
                               const char *leerling_id)
{
    uint8_t key[crypto_generichash_BYTES], h[16];
    int rc = KT_EINVAL;

    out[0] = '\0';
    if (kt_record_pupil_id_form(leerling_id) != KT_PUPIL_ID_NUMBER)
        return KT_EINVAL;
    if (crypto_generichash(key, sizeof(key), (const uint8_t *)s_pseudonym_domain,
                           sizeof(s_pseudonym_domain) - 1, peer->shared,
                           sizeof(peer->shared)) != 0 ||
        crypto_generichash(h, sizeof(h), (const uint8_t *)leerling_id, strlen(leerling_id), key,
                           sizeof(key)) != 0)
        goto out;
    memcpy(out, KT_PSEUDONYM_PREFIX, sizeof(KT_PSEUDONYM_PREFIX) - 1);
    s_base32(out + sizeof(KT_PSEUDONYM_PREFIX) - 1, h, sizeof(h));
    rc = 0;
out:
    sodium_memzero(key, sizeof(key));
    sodium_memzero(h, sizeof(h));
    return rc;
}

_Static_assert(sizeof(KT_PSEUDONYM_PREFIX) - 1 + 26 == KT_PSEUDONYM_CHARS, "pseudonym length");

static size_t s_bucket(size_t signed_len)
{
    size_t b = KT_ENVELOPE_MIN_BYTES;

    while (b < signed_len + 1 + KT_ENVELOPE_OVERHEAD_BYTES)
        b *= 2;
    return b;
}

static int s_is_bucket(size_t len)
{
    size_t b;

    for (b = KT_ENVELOPE_MIN_BYTES; b <= KT_ENVELOPE_MAX_BYTES; b *= 2)
        if (len == b)
            return 1;
    return 0;
}

static int s_seal(uint8_t **out, size_t *outlen, const uint8_t *signed_buf, size_t signed_len,
                  const uint8_t nonce[KT_ENVELOPE_NONCE_BYTES], const kt_envelope_peer_t *peer,
                  kt_diag_t *d)
{
    kt_payload_t pl;
    size_t bucket, plen, padded;
    uint8_t *m = NULL, *e = NULL;
    int rc;

    *out = NULL;
    *outlen = 0;
    /* Structure and names only: the signature was made by this node moments
     * ago or kept behind the vault's AEAD, and the recipient verifies it; a
     * second Ed25519 check here cost more than the seal itself. */
    if ((rc = kt_envelope_parse(&pl, signed_buf, signed_len, d)) != 0)
        return rc;
    if (strcmp(pl.from, peer->me.id) != 0)
        return kt_diag_set(d, KT_EAUTH,
                           "refusing to seal a record this node did not sign (it names '%s')",
                           pl.from);
    if (strcmp(pl.to, peer->them.id) != 0)
        return kt_diag_set(d, KT_EINVAL,
                           "refusing to seal: the record is addressed to '%s', not to '%s'", pl.to,
                           peer->them.id);
    bucket = s_bucket(signed_len); /* signed_len <= KT_SIGNED_MAX_BYTES: bucket <= max */
    plen = bucket - KT_ENVELOPE_OVERHEAD_BYTES;
    if ((m = malloc(plen)) == NULL || (e = malloc(bucket)) == NULL) {
        rc = kt_diag_set(d, KT_ENOMEM, "out of memory while sealing");
        goto out;
    }
    memcpy(m, signed_buf, signed_len);
    if (sodium_pad(&padded, m, signed_len, plen, plen) != 0 || padded != plen) {
        rc = kt_diag_set(d, KT_ETOOBIG, "record too large to pad");
        goto out;
    }
    e[0] = KT_ENVELOPE_VERSION;
    memcpy(e + 1, nonce, KT_ENVELOPE_NONCE_BYTES);
    if (crypto_box_easy_afternm(e + 1 + KT_ENVELOPE_NONCE_BYTES, m, plen, nonce, peer->shared) !=
        0) {
        rc = kt_diag_set(d, KT_EINVAL, "cannot seal");
        goto out;
    }
    *out = e;
    *outlen = bucket;
    e = NULL;
out:
    kt_envelope_free(m, m ? plen : 0);
    free(e);
    return rc;
}

int kt_envelope_seal_with_nonce(uint8_t **out, size_t *outlen, const uint8_t *signed_buf,
                                size_t signed_len, const uint8_t nonce[KT_ENVELOPE_NONCE_BYTES],
                                const kt_envelope_peer_t *peer, kt_diag_t *d)
{
    return s_seal(out, outlen, signed_buf, signed_len, nonce, peer, d);
}

int kt_envelope_seal(uint8_t **out, size_t *outlen, const uint8_t *signed_buf, size_t signed_len,
                     const kt_envelope_peer_t *peer, kt_diag_t *d)
{
    uint8_t nonce[KT_ENVELOPE_NONCE_BYTES];

    randombytes_buf(nonce, sizeof(nonce));
    return s_seal(out, outlen, signed_buf, signed_len, nonce, peer, d);
}

int kt_envelope_open(uint8_t **signed_out, size_t *signed_len, kt_payload_t *payload,
                     const uint8_t *env, size_t env_len, const kt_envelope_peer_t *peer,
                     kt_diag_t *d)
{
    size_t plen, unpadded = 0;
    uint8_t *m = NULL;
    int rc;

    *signed_out = NULL;
    *signed_len = 0;
    memset(payload, 0, sizeof(*payload));
    if (env_len < 1)
        return kt_diag_set(d, KT_EMALFORMED, "envelope is empty");
    if (env_len > KT_ENVELOPE_MAX_BYTES)
        return kt_diag_set(d, KT_ETOOBIG, "envelope is larger than %d bytes",
                           KT_ENVELOPE_MAX_BYTES);
    if (env[0] != KT_ENVELOPE_VERSION)
        return kt_diag_set(d, KT_EVERSION,
                           "envelope version %u is not supported (this build reads %d)", env[0],
                           KT_ENVELOPE_VERSION);
    if (!s_is_bucket(env_len))
        return kt_diag_set(d, KT_EMALFORMED,
                           "envelope length %zu is not a padding bucket (a power of two from "
                           "%d to %d)",
                           env_len, KT_ENVELOPE_MIN_BYTES, KT_ENVELOPE_MAX_BYTES);
    plen = env_len - KT_ENVELOPE_OVERHEAD_BYTES;
    if ((m = malloc(plen)) == NULL)
        return kt_diag_set(d, KT_ENOMEM, "out of memory while opening");
    if (crypto_box_open_easy_afternm(m, env + 1 + KT_ENVELOPE_NONCE_BYTES,
                                     env_len - 1 - KT_ENVELOPE_NONCE_BYTES, env + 1,
                                     peer->shared) != 0) {
        rc = kt_diag_set(d, KT_EAUTH,
                         "cannot decrypt: not sealed by node '%s' to this node '%s', or "
                         "altered in transit",
                         peer->them.id, peer->me.id);
        goto out;
    }
    if (sodium_unpad(&unpadded, m, plen, plen) != 0) {
        rc = kt_diag_set(d, KT_EMALFORMED, "envelope padding is malformed");
        goto out;
    }
    if ((rc = kt_envelope_verify(payload, m, unpadded, &peer->them, d)) != 0)
        goto out;
    if (strcmp(payload->to, peer->me.id) != 0) {
        rc = kt_diag_set(d, KT_EAUTH, "record is addressed to '%s', not to this node '%s'",
                         payload->to, peer->me.id);
        memset(payload, 0, sizeof(*payload));
        goto out;
    }
    *signed_out = m;
    *signed_len = unpadded;
    m = NULL;
out:
    kt_envelope_free(m, plen);
    return rc;
}
