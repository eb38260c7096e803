/*
 * test_envelope.c - sign/verify, seal/open, tamper and truncation, padding
 * buckets, the payload's strict shape, and the known-answer vectors in
 * tests/vectors/envelope/ (compared byte for byte).
 *
 * Does not depend on the record module: bodies are hand-assembled CBOR.
 * KETEN_WRITE_VECTORS=1 rewrites the vector files instead of comparing (only
 * when the format changes on purpose; then rerun independent_verify.sh).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keten/envelope.h"
#include "keten/keys.h"

#define VEC_DIR "tests/vectors/envelope"

/* The vector inputs; tests/vectors/envelope/inputs.txt says the same. */
static uint8_t s_seed_sender[KT_SEED_BYTES], s_seed_recipient[KT_SEED_BYTES];
static uint8_t s_vec_id[KT_ENVELOPE_ID_BYTES], s_vec_nonce[KT_ENVELOPE_NONCE_BYTES];
#define VEC_CREATED 1700000000ULL
/* {"type": "test", "fields": {"n": 1}} in deterministic CBOR */
static const uint8_t s_body[] = {0xa2, 0x64, 't', 'y', 'p', 'e', 0x64, 't', 'e', 's', 't', 0x66,
                                 'f',  'i',  'e', 'l', 'd', 's', 0xa1, 0x61, 'n', 0x01};

struct fx {
    kt_keys_t *a, *b, *c;            /* school-a, gemeente-b, swv-c */
    kt_envelope_peer_t *ab, *ba, *ca; /* a->b, b<-a, c<-a */
};

static void s_fill(uint8_t *p, size_t n, uint8_t start)
{
    size_t i;

    for (i = 0; i < n; i++)
        p[i] = (uint8_t)(start + i);
}

static int s_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    uint8_t seed_c[KT_SEED_BYTES];

    if (f == NULL)
        return -1;
    s_fill(s_seed_sender, sizeof(s_seed_sender), 0x00);
    s_fill(s_seed_recipient, sizeof(s_seed_recipient), 0x20);
    s_fill(seed_c, sizeof(seed_c), 0x60);
    s_fill(s_vec_id, sizeof(s_vec_id), 0xa0);
    s_fill(s_vec_nonce, sizeof(s_vec_nonce), 0x40);
    if (kt_keys_from_seed(&f->a, "school-a", KT_ROLE_SCHOOL, s_seed_sender, NULL) != 0 ||
        kt_keys_from_seed(&f->b, "gemeente-b", KT_ROLE_GEMEENTE, s_seed_recipient, NULL) != 0 ||
        kt_keys_from_seed(&f->c, "swv-c", KT_ROLE_SWV, seed_c, NULL) != 0 ||
        kt_envelope_peer_new(&f->ab, f->a, kt_keys_public(f->b), NULL) != 0 ||
        kt_envelope_peer_new(&f->ba, f->b, kt_keys_public(f->a), NULL) != 0 ||
        kt_envelope_peer_new(&f->ca, f->c, kt_keys_public(f->a), NULL) != 0)
        return -1;
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    struct fx *f = *state;

    kt_envelope_peer_destroy(&f->ab);
    kt_envelope_peer_destroy(&f->ba);
    kt_envelope_peer_destroy(&f->ca);
    kt_envelope_peer_destroy(&f->ca);
    kt_keys_destroy(&f->a);
    kt_keys_destroy(&f->b);
    kt_keys_destroy(&f->c);
    free(f);
    return 0;
}

static void s_sign(const struct fx *f, uint8_t **out, size_t *len, const uint8_t *body,
                   size_t blen)
{
    kt_diag_t d = {{0}};
    int rc = kt_envelope_sign(out, len, KT_KIND_RECORD, s_vec_id, VEC_CREATED, "gemeente-b", body,
                              blen, f->a, &d);

    if (rc != 0)
        fail_msg("sign: %s", d.msg);
}

static void test_sign_verify(void **state)
{
    struct fx *f = *state;
    uint8_t *s = NULL;
    size_t n = 0;
    kt_payload_t pl;
    kt_diag_t d = {{0}};

    s_sign(f, &s, &n, s_body, sizeof(s_body));
    assert_int_equal(kt_envelope_verify(&pl, s, n, kt_keys_public(f->a), &d), 0);
    assert_int_equal(pl.kind, KT_KIND_RECORD);
    assert_string_equal(pl.from, "school-a");
    assert_string_equal(pl.to, "gemeente-b");
    assert_memory_equal(pl.id, s_vec_id, sizeof(s_vec_id));
    assert_int_equal(pl.created, VEC_CREATED);
    assert_int_equal(pl.body_len, sizeof(s_body));
    assert_memory_equal(pl.body, s_body, sizeof(s_body));
    assert_true(pl.body > s && pl.body < s + n); /* borrowed */

    /* signed by someone else: wrong key */
    assert_int_equal(kt_envelope_verify(&pl, s, n, kt_keys_public(f->c), &d), KT_EAUTH);
    assert_string_equal(d.msg, "signature does not verify with the key of node 'swv-c': wrong "
                               "key, or the record was altered");
    kt_envelope_free(s, n);
}

static void test_sign_inputs(void **state)
{
    struct fx *f = *state;
    static const uint8_t two_items[] = {0x01, 0x02}, indefinite[] = {0x9f, 0xff},
                         long_int[] = {0x18, 0x01}, tagged[] = {0xc1, 0x01},
                         float16[] = {0xf9, 0x00, 0x00}, bad_utf8[] = {0x62, 0xc3, 0x28},
                         short_text[] = {0x63, 'a', 'b'};
    uint8_t *s = NULL, deep[40];
    size_t n = 0, i;
    kt_diag_t d = {{0}};

    assert_int_equal(kt_envelope_sign(&s, &n, KT_KIND_RECORD, s_vec_id, 1, "Gemeente", s_body,
                                      sizeof(s_body), f->a, &d),
                     KT_EINVAL);
    assert_int_equal(kt_envelope_sign(&s, &n, (kt_kind_t)0, s_vec_id, 1, "b", s_body,
                                      sizeof(s_body), f->a, &d),
                     KT_EINVAL);
    assert_int_equal(kt_envelope_sign(&s, &n, KT_KIND_RECORD, s_vec_id, 1, "b", s_body, 0, f->a,
                                      &d),
                     KT_EMALFORMED);
    assert_string_equal(d.msg, "body must be exactly one well-formed CBOR data item");
#define BAD(x)                                                                                     \
    assert_int_equal(                                                                              \
        kt_envelope_sign(&s, &n, KT_KIND_RECORD, s_vec_id, 1, "b", x, sizeof(x), f->a, &d),        \
        KT_EMALFORMED)
    BAD(two_items);
    BAD(indefinite);
    BAD(long_int);
    BAD(tagged);
    BAD(float16);
    BAD(bad_utf8);
    BAD(short_text);
    /* nesting deeper than the limit */
    for (i = 0; i < sizeof(deep); i++)
        deep[i] = 0x81;
    deep[sizeof(deep) - 1] = 0x00;
    BAD(deep);
#undef BAD
    assert_null(s);
    /* within the limit is fine */
    for (i = 0; i < KT_ENVELOPE_BODY_DEPTH_MAX; i++)
        deep[i] = 0x81;
    deep[KT_ENVELOPE_BODY_DEPTH_MAX] = 0xf6;
    assert_int_equal(kt_envelope_sign(&s, &n, KT_KIND_PING, s_vec_id, 1, "b", deep,
                                      KT_ENVELOPE_BODY_DEPTH_MAX + 1, f->a, &d),
                     0);
    kt_envelope_free(s, n);
    assert_string_equal(kt_kind_name(KT_KIND_PSI_REQUEST), "psi-request");
    {
        kt_kind_t k;

        assert_int_equal(kt_kind_parse("psi-response", &k), 0);
        assert_int_equal(k, KT_KIND_PSI_RESPONSE);
        assert_int_equal(kt_kind_parse("Record", &k), KT_EINVAL);
    }
}

static void test_signed_every_byte_flipped(void **state)
{
    struct fx *f = *state;
    uint8_t *s = NULL;
    size_t n = 0, i;
    kt_payload_t pl;
    int bit;

    s_sign(f, &s, &n, s_body, sizeof(s_body));
    for (i = 0; i < n; i++) {
        for (bit = 0; bit < 8; bit += 7) {
            s[i] ^= (uint8_t)(1 << bit);
            if (kt_envelope_verify(&pl, s, n, kt_keys_public(f->a), NULL) == 0)
                fail_msg("byte %zu bit %d flipped and still verified", i, bit);
            s[i] ^= (uint8_t)(1 << bit);
        }
    }
    for (i = 0; i < n; i++)
        if (kt_envelope_verify(&pl, s, i, kt_keys_public(f->a), NULL) != KT_EMALFORMED)
            fail_msg("truncated to %zu bytes and not malformed", i);
    assert_int_equal(kt_envelope_verify(&pl, s, n, kt_keys_public(f->a), NULL), 0);
    kt_envelope_free(s, n);
}

static void test_seal_open(void **state)
{
    struct fx *f = *state;
    uint8_t *s = NULL, *e = NULL, *o = NULL;
    size_t n = 0, en = 0, on = 0;
    kt_payload_t pl;
    kt_diag_t d = {{0}};

    s_sign(f, &s, &n, s_body, sizeof(s_body));
    assert_int_equal(kt_envelope_seal(&e, &en, s, n, f->ab, &d), 0);
    assert_int_equal(en, 512);
    assert_int_equal(e[0], KT_ENVELOPE_VERSION);
    assert_int_equal(kt_envelope_open(&o, &on, &pl, e, en, f->ba, &d), 0);
    assert_int_equal(on, n);
    assert_memory_equal(o, s, n);
    assert_string_equal(pl.from, "school-a");
    assert_string_equal(pl.to, "gemeente-b");
    assert_memory_equal(pl.body, s_body, sizeof(s_body));
    assert_string_equal(kt_envelope_peer_public(f->ba)->id, "school-a");
    kt_envelope_free(o, on);

    /* two seals of the same record differ (random nonce) */
    {
        uint8_t *e2 = NULL;
        size_t en2 = 0;

        assert_int_equal(kt_envelope_seal(&e2, &en2, s, n, f->ab, &d), 0);
        assert_int_equal(en2, en);
        assert_memory_not_equal(e, e2, en);
        kt_envelope_free(e2, en2);
    }

    /* sealed to b, opened by c: cannot decrypt */
    assert_int_equal(kt_envelope_open(&o, &on, &pl, e, en, f->ca, &d), KT_EAUTH);
    assert_string_equal(d.msg, "cannot decrypt: not sealed by node 'school-a' to this node "
                               "'swv-c', or altered in transit");
    assert_null(o);
    assert_int_equal(on, 0);
    kt_envelope_free(e, en);
    kt_envelope_free(s, n);
}

static void test_seal_refuses(void **state)
{
    struct fx *f = *state;
    uint8_t *s = NULL, *e = NULL;
    size_t n = 0, en = 0;
    kt_diag_t d = {{0}};

    /* addressed to someone else */
    assert_int_equal(kt_envelope_sign(&s, &n, KT_KIND_RECORD, s_vec_id, 1, "swv-c", s_body,
                                      sizeof(s_body), f->a, &d),
                     0);
    assert_int_equal(kt_envelope_seal(&e, &en, s, n, f->ab, &d), KT_EINVAL);
    assert_string_equal(d.msg,
                        "refusing to seal: the record is addressed to 'swv-c', not to 'gemeente-b'");
    kt_envelope_free(s, n);
    /* signed by another node */
    assert_int_equal(kt_envelope_sign(&s, &n, KT_KIND_RECORD, s_vec_id, 1, "gemeente-b", s_body,
                                      sizeof(s_body), f->c, &d),
                     0);
    assert_int_equal(kt_envelope_seal(&e, &en, s, n, f->ab, &d), KT_EAUTH);
    assert_non_null(strstr(d.msg, "refusing to seal a record this node did not sign"));
    assert_null(e);
    kt_envelope_free(s, n);
}

static void test_sealed_every_byte_flipped(void **state)
{
    struct fx *f = *state;
    uint8_t *s = NULL, *e = NULL, *o = NULL;
    size_t n = 0, en = 0, on = 0, i;
    kt_payload_t pl;

    s_sign(f, &s, &n, s_body, sizeof(s_body));
    assert_int_equal(kt_envelope_seal(&e, &en, s, n, f->ab, NULL), 0);
    for (i = 0; i < en; i++) {
        int rc;

        e[i] ^= 0x01;
        rc = kt_envelope_open(&o, &on, &pl, e, en, f->ba, NULL);
        if (rc == 0)
            fail_msg("byte %zu flipped and still opened", i);
        if (i == 0)
            assert_int_equal(rc, KT_EVERSION);
        else
            assert_int_equal(rc, KT_EAUTH);
        e[i] ^= 0x01;
    }
    for (i = 0; i < en; i++) {
        int rc = kt_envelope_open(&o, &on, &pl, e, i, f->ba, NULL);

        assert_int_not_equal(rc, 0);
        assert_null(o);
    }
    assert_int_equal(kt_envelope_open(&o, &on, &pl, e, en, f->ba, NULL), 0);
    kt_envelope_free(o, on);
    kt_envelope_free(e, en);
    kt_envelope_free(s, n);
}

static void test_version_and_size(void **state)
{
    struct fx *f = *state;
    uint8_t *s = NULL, *e = NULL, *o = NULL, *big;
    size_t n = 0, en = 0, on = 0;
    kt_payload_t pl;
    kt_diag_t d = {{0}};

    s_sign(f, &s, &n, s_body, sizeof(s_body));
    assert_int_equal(kt_envelope_seal(&e, &en, s, n, f->ab, NULL), 0);
    e[0] = 0x02;
    assert_int_equal(kt_envelope_open(&o, &on, &pl, e, en, f->ba, &d), KT_EVERSION);
    assert_string_equal(d.msg, "envelope version 2 is not supported (this build reads 1)");
    e[0] = 0x00;
    assert_int_equal(kt_envelope_open(&o, &on, &pl, e, en, f->ba, &d), KT_EVERSION);
    e[0] = KT_ENVELOPE_VERSION;
    /* not a bucket length */
    assert_int_equal(kt_envelope_open(&o, &on, &pl, e, en - 1, f->ba, &d), KT_EMALFORMED);
    assert_int_equal(kt_envelope_open(&o, &on, &pl, e, 0, f->ba, &d), KT_EMALFORMED);
    kt_envelope_free(e, en);
    kt_envelope_free(s, n);

    /* oversize envelope: refused before anything else */
    big = calloc(1, KT_ENVELOPE_MAX_BYTES + 1);
    assert_non_null(big);
    big[0] = KT_ENVELOPE_VERSION;
    assert_int_equal(kt_envelope_open(&o, &on, &pl, big, KT_ENVELOPE_MAX_BYTES + 1, f->ba, &d),
                     KT_ETOOBIG);
    assert_string_equal(d.msg, "envelope is larger than 65536 bytes");
    assert_int_equal(kt_envelope_verify(&pl, big, KT_SIGNED_MAX_BYTES + 1, kt_keys_public(f->a),
                                        &d),
                     KT_ETOOBIG);

    /* a body as large as fits makes a 65536-byte envelope; one byte more is too big */
    {
        size_t blen = 64000, max_blen;
        uint8_t *body = big;

        memset(big, 0x5a, KT_ENVELOPE_MAX_BYTES);
        body[0] = 0x59; /* bstr, 2-byte length */
#define SET_LEN(l) (body[1] = (uint8_t)(((l)-3) >> 8), body[2] = (uint8_t)((l)-3))
        SET_LEN(blen);
        s_sign(f, &s, &n, body, blen);
        kt_envelope_free(s, n);
        max_blen = blen + (KT_SIGNED_MAX_BYTES - n);
        SET_LEN(max_blen);
        s_sign(f, &s, &n, body, max_blen);
        assert_int_equal(n, KT_SIGNED_MAX_BYTES);
        assert_int_equal(kt_envelope_seal(&e, &en, s, n, f->ab, &d), 0);
        assert_int_equal(en, KT_ENVELOPE_MAX_BYTES);
        assert_int_equal(kt_envelope_open(&o, &on, &pl, e, en, f->ba, &d), 0);
        assert_int_equal(on, n);
        assert_int_equal(pl.body_len, max_blen);
        kt_envelope_free(o, on);
        kt_envelope_free(e, en);
        kt_envelope_free(s, n);
        SET_LEN(max_blen + 1);
        assert_int_equal(kt_envelope_sign(&s, &n, KT_KIND_RECORD, s_vec_id, VEC_CREATED,
                                          "gemeente-b", body, max_blen + 1, f->a, &d),
                         KT_ETOOBIG);
        assert_string_equal(d.msg, "signed record would exceed 65494 bytes");
        assert_null(s);
        SET_LEN(65500);
        assert_int_equal(kt_envelope_sign(&s, &n, KT_KIND_RECORD, s_vec_id, VEC_CREATED,
                                          "gemeente-b", body, 65500, f->a, &d),
                         KT_ETOOBIG);
#undef SET_LEN
    }
    free(big);
}

static size_t s_expected_bucket(size_t signed_len)
{
    size_t b = 512;

    while (b < signed_len + 1 + 1 + 24 + 16)
        b *= 2;
    return b;
}

/* A byte string item that is exactly total bytes long, in shortest form. */
static int s_make_bstr(uint8_t *b, size_t total)
{
    if (total >= 1 && total - 1 < 24) {
        b[0] = (uint8_t)(0x40 | (total - 1));
        return 1;
    }
    if (total >= 2 && total - 2 >= 24 && total - 2 <= 0xff) {
        b[0] = 0x58;
        b[1] = (uint8_t)(total - 2);
        return 1;
    }
    if (total >= 3 && total - 3 > 0xff && total - 3 <= 0xffff) {
        b[0] = 0x59;
        b[1] = (uint8_t)((total - 3) >> 8);
        b[2] = (uint8_t)(total - 3);
        return 1;
    }
    return 0;
}

static void test_padding_buckets(void **state)
{
    struct fx *f = *state;
    uint8_t body[5000], *s = NULL, *e = NULL, *o = NULL;
    size_t n = 0, en = 0, on = 0, blen;
    size_t seen[8] = {0};
    kt_payload_t pl;

    memset(body, 0x5a, sizeof(body));
    for (blen = 1; blen < sizeof(body); blen += (blen > 400 && blen % 512 > 40) ? 61 : 1) {
        size_t i;

        if (!s_make_bstr(body, blen))
            continue;
        s_sign(f, &s, &n, body, blen);
        assert_int_equal(kt_envelope_seal(&e, &en, s, n, f->ab, NULL), 0);
        assert_int_equal(en, s_expected_bucket(n));
        for (i = 0; i < 8; i++)
            if (en == (size_t)512 << i)
                seen[i]++;
        assert_int_equal(kt_envelope_open(&o, &on, &pl, e, en, f->ba, NULL), 0);
        assert_int_equal(on, n);
        assert_memory_equal(o, s, n);
        kt_envelope_free(o, on);
        kt_envelope_free(e, en);
        kt_envelope_free(s, n);
    }
    /* the boundaries: 470 signed bytes still fit in 512, 471 do not */
    assert_int_equal(s_expected_bucket(470), 512);
    assert_int_equal(s_expected_bucket(471), 1024);
    assert_true(seen[0] > 0 && seen[1] > 0 && seen[2] > 0 && seen[3] > 0 && seen[4] > 0);
}

static void test_to_and_from_mismatch(void **state)
{
    struct fx *f = *state;
    kt_keys_t *b_alias = NULL, *a_alias = NULL;
    kt_envelope_peer_t *to_alias = NULL;
    uint8_t *s = NULL, *e = NULL, *o = NULL;
    size_t n = 0, en = 0, on = 0;
    kt_payload_t pl;
    kt_diag_t d = {{0}};

    /* the same box key under another node id: decrypts, but `to` is not b */
    assert_int_equal(
        kt_keys_from_seed(&b_alias, "gemeente-z", KT_ROLE_GEMEENTE, s_seed_recipient, NULL), 0);
    assert_int_equal(kt_envelope_peer_new(&to_alias, f->a, kt_keys_public(b_alias), NULL), 0);
    assert_int_equal(kt_envelope_sign(&s, &n, KT_KIND_RECORD, s_vec_id, 1, "gemeente-z", s_body,
                                      sizeof(s_body), f->a, &d),
                     0);
    assert_int_equal(kt_envelope_seal(&e, &en, s, n, to_alias, &d), 0);
    assert_int_equal(kt_envelope_open(&o, &on, &pl, e, en, f->ba, &d), KT_EAUTH);
    assert_string_equal(d.msg, "record is addressed to 'gemeente-z', not to this node 'gemeente-b'");
    assert_null(o);
    kt_envelope_free(e, en);
    kt_envelope_free(s, n);

    /* a's signing key under another node id: the signature checks, `from` does not */
    assert_int_equal(kt_keys_from_seed(&a_alias, "school-z", KT_ROLE_SCHOOL, s_seed_sender, NULL),
                     0);
    assert_int_equal(kt_envelope_sign(&s, &n, KT_KIND_RECORD, s_vec_id, 1, "gemeente-b", s_body,
                                      sizeof(s_body), a_alias, &d),
                     0);
    assert_int_equal(kt_envelope_verify(&pl, s, n, kt_keys_public(f->a), &d), KT_EAUTH);
    assert_string_equal(d.msg, "record names 'school-z' as its sender but was signed by "
                               "'school-a'");
    kt_envelope_free(s, n);
    kt_envelope_peer_destroy(&to_alias);
    kt_keys_destroy(&b_alias);
    kt_keys_destroy(&a_alias);
}

/* Signed payloads that are not exactly the documented shape. */
static void test_payload_shape(void **state)
{
    struct fx *f = *state;
    uint8_t *s = NULL, *good = NULL, buf[512];
    size_t n = 0, gn = 0, plen;
    const uint8_t *payload;
    kt_payload_t pl;
    kt_diag_t d = {{0}};

    s_sign(f, &good, &gn, s_body, sizeof(s_body));
    /* the container is 0x82 0x58 len payload 0x58 0x40 sig */
    assert_int_equal(good[0], 0x82);
    assert_int_equal(good[1], 0x58);
    plen = good[2];
    payload = good + 3;
    assert_int_equal(gn, 3 + plen + 2 + 64);
    /* the payload re-signed as is verifies */
    assert_int_equal(kt_envelope_sign_raw(&s, &n, payload, plen, f->a, &d), 0);
    assert_int_equal(n, gn);
    assert_memory_equal(s, good, gn);
    assert_int_equal(kt_envelope_verify(&pl, s, n, kt_keys_public(f->a), &d), 0);
    kt_envelope_free(s, n);

#define RESIGN_EXPECT(code)                                                                        \
    do {                                                                                           \
        assert_int_equal(kt_envelope_sign_raw(&s, &n, buf, plen, f->a, &d), 0);                    \
        assert_int_equal(kt_envelope_verify(&pl, s, n, kt_keys_public(f->a), &d), (code));         \
        kt_envelope_free(s, n);                                                                    \
        s = NULL;                                                                                  \
    } while (0)
    /* v = 2 */
    memcpy(buf, payload, plen);
    assert_int_equal(buf[3], 0x01);
    buf[3] = 0x02;
    RESIGN_EXPECT(KT_EVERSION);
    assert_string_equal(d.msg, "payload: version 2 is not supported (this build reads 1)");
    /* map of 8 */
    memcpy(buf, payload, plen);
    buf[0] = 0xa8;
    RESIGN_EXPECT(KT_EMALFORMED);
    /* keys out of order: "id" <-> "to" names */
    memcpy(buf, payload, plen);
    memcpy(buf + 5, "to", 2);
    RESIGN_EXPECT(KT_EMALFORMED);
    assert_string_equal(d.msg, "payload: 'id' must be a 16-byte byte string");
    /* unknown kind: "record" -> "recorx" */
    memcpy(buf, payload, plen);
    {
        uint8_t *k = memmem(buf, plen, "record", 6);

        assert_non_null(k);
        k[5] = 'x';
    }
    RESIGN_EXPECT(KT_EMALFORMED);
    assert_string_equal(d.msg, "payload: 'kind' must be a known message kind");
    /* a trailing byte */
    memcpy(buf, payload, plen);
    buf[plen] = 0x00;
    plen++;
    RESIGN_EXPECT(KT_EMALFORMED);
    assert_string_equal(d.msg, "payload: bytes after the map");
    plen--;
    /* created in a longer form than needed: 0x1a 0x65 .. -> 0x1b 00 00 00 00 65 .. */
    memcpy(buf, payload, plen);
    assert_int_equal(buf[plen - 5], 0x1a);
    buf[plen - 5] = 0x1b;
    memmove(buf + plen - 4 + 4, buf + plen - 4, 4);
    memset(buf + plen - 4, 0, 4);
    plen += 4;
    RESIGN_EXPECT(KT_EMALFORMED);
    plen -= 4;
    /* an invalid node id in `to` */
    memcpy(buf, payload, plen);
    {
        uint8_t *t = memmem(buf, plen, "gemeente-b", 10);

        assert_non_null(t);
        t[0] = 'G';
    }
    RESIGN_EXPECT(KT_EMALFORMED);
    assert_string_equal(d.msg, "payload: 'to' must be a node id");
    /* every truncation of the payload, re-signed, is malformed */
    for (size_t cut = 0; cut < plen; cut++) {
        memcpy(buf, payload, plen);
        assert_int_equal(kt_envelope_sign_raw(&s, &n, buf, cut, f->a, &d), 0);
        assert_int_equal(kt_envelope_verify(&pl, s, n, kt_keys_public(f->a), &d), KT_EMALFORMED);
        kt_envelope_free(s, n);
    }
#undef RESIGN_EXPECT
    kt_envelope_free(good, gn);
}

/* --- known-answer vectors --- */

static char *s_slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf = calloc(1, 1 << 17);
    size_t n;

    if (fp == NULL)
        fail_msg("%s: cannot open (run from the repository root)", path);
    assert_non_null(buf);
    n = fread(buf, 1, (1 << 17) - 1, fp);
    fclose(fp);
    *len = n;
    return buf;
}

static void s_spit(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

static char *s_hex(const uint8_t *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *h = malloc(2 * n + 2);
    size_t i;

    assert_non_null(h);
    for (i = 0; i < n; i++) {
        h[2 * i] = digits[b[i] >> 4];
        h[2 * i + 1] = digits[b[i] & 15];
    }
    h[2 * n] = '\n';
    h[2 * n + 1] = '\0';
    return h;
}

static void s_check_vector(const char *name, const char *got)
{
    char path[256], *want;
    size_t len;

    snprintf(path, sizeof(path), VEC_DIR "/%s", name);
    if (getenv("KETEN_WRITE_VECTORS") != NULL) {
        s_spit(path, got);
        return;
    }
    want = s_slurp(path, &len);
    if (strcmp(want, got) != 0)
        fail_msg("%s differs from what this build computes", path);
    free(want);
}

static void test_vectors(void **state)
{
    struct fx *f = *state;
    char pub[KT_PUB_TEXT_MAX], *h;
    uint8_t *s = NULL, *e = NULL, *o = NULL;
    size_t n = 0, en = 0, on = 0;
    kt_payload_t pl;
    kt_diag_t d = {{0}};

    assert_true(kt_keys_format_public(pub, sizeof(pub), f->a) > 0);
    s_check_vector("sender.pub", pub);
    assert_true(kt_keys_format_public(pub, sizeof(pub), f->b) > 0);
    s_check_vector("recipient.pub", pub);
    h = s_hex(s_body, sizeof(s_body));
    s_check_vector("body.hex", h);
    free(h);

    s_sign(f, &s, &n, s_body, sizeof(s_body));
    h = s_hex(s, n);
    s_check_vector("signed.hex", h);
    free(h);
    assert_int_equal(kt_envelope_seal_with_nonce(&e, &en, s, n, s_vec_nonce, f->ab, &d), 0);
    assert_memory_equal(e + 1, s_vec_nonce, sizeof(s_vec_nonce));
    h = s_hex(e, en);
    s_check_vector("sealed.hex", h);
    free(h);

    /* the committed files also load and open through the public API */
    {
        kt_pubkey_t spk;
        size_t len, i;
        char *text = s_slurp(VEC_DIR "/sealed.hex", &len);
        uint8_t *bin = malloc(len / 2);

        assert_int_equal(kt_keys_load_public(&spk, VEC_DIR "/sender.pub", &d), 0);
        assert_memory_equal(&spk, kt_keys_public(f->a), sizeof(spk));
        assert_non_null(bin);
        assert_int_equal(len, 2 * en + 1);
        for (i = 0; i < en; i++) {
            unsigned v;

            assert_int_equal(sscanf(text + 2 * i, "%2x", &v), 1);
            bin[i] = (uint8_t)v;
        }
        assert_int_equal(kt_envelope_open(&o, &on, &pl, bin, en, f->ba, &d), 0);
        assert_int_equal(on, n);
        assert_memory_equal(o, s, n);
        assert_int_equal(pl.created, VEC_CREATED);
        kt_envelope_free(o, on);
        free(bin);
        free(text);
    }
    kt_envelope_free(e, en);
    kt_envelope_free(s, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_verify),
        cmocka_unit_test(test_sign_inputs),
        cmocka_unit_test(test_signed_every_byte_flipped),
        cmocka_unit_test(test_seal_open),
        cmocka_unit_test(test_seal_refuses),
        cmocka_unit_test(test_sealed_every_byte_flipped),
        cmocka_unit_test(test_version_and_size),
        cmocka_unit_test(test_padding_buckets),
        cmocka_unit_test(test_to_and_from_mismatch),
        cmocka_unit_test(test_payload_shape),
        cmocka_unit_test(test_vectors),
    };

    if (kt_keys_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
