/*
 * test_receipt.c - the receipt body: round trips, one vector assembled by
 * hand from RFC 8949 (so the encoder is checked against the standard, not
 * against itself), and every way a body can be almost right.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keten/receipt.h"

/* A hand-assembled body: every head written out as RFC 8949 §3 says. */
struct body {
    uint8_t b[512];
    size_t n;
};

static void put(struct body *w, const void *p, size_t n)
{
    assert_true(w->n + n <= sizeof(w->b));
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void put1(struct body *w, uint8_t c)
{
    put(w, &c, 1);
}

/* text of < 24 bytes: major type 3, length in the initial byte */
static void text(struct body *w, const char *s)
{
    put1(w, (uint8_t)(0x60 | strlen(s)));
    put(w, s, strlen(s));
}

/* byte string: major type 2; 24..255 bytes take one length byte (0x58) */
static void bytes(struct body *w, uint8_t first, size_t n)
{
    size_t i;

    if (n < 24) {
        put1(w, (uint8_t)(0x40 | n));
    } else {
        put1(w, 0x58);
        put1(w, (uint8_t)n);
    }
    for (i = 0; i < n; i++)
        put1(w, (uint8_t)(first + i));
}

struct shape {
    size_t ref, head, digest; /* lengths; head 0 = null */
    const char *code, *status;
};

static const struct shape s_good = {16, 32, 32, "ok", "accepted"};

static void assemble(struct body *w, const struct shape *s)
{
    w->n = 0;
    put1(w, 0xa5); /* map(5) */
    text(w, "ref");
    bytes(w, 0x00, s->ref);
    text(w, "code");
    text(w, s->code);
    text(w, "head");
    if (s->head) {
        put1(w, 0x84); /* array(4) */
        put1(w, 0x18); /* seq 42 */
        put1(w, 42);
        put1(w, 0x1a); /* time 1700000000 */
        put1(w, 0x65);
        put1(w, 0x53);
        put1(w, 0xf1);
        put1(w, 0x00);
        bytes(w, 0x20, s->head);
        bytes(w, 0x60, 64); /* signature */
    } else {
        put1(w, 0xf6); /* null */
    }
    text(w, "digest");
    bytes(w, 0x40, s->digest);
    text(w, "status");
    text(w, s->status);
}

static void fill(kt_receipt_t *r, int has_head, kt_receipt_status_t st, const char *code)
{
    size_t i;

    memset(r, 0, sizeof(*r));
    for (i = 0; i < 16; i++)
        r->ref[i] = (uint8_t)i;
    for (i = 0; i < 32; i++) {
        r->head[i] = has_head ? (uint8_t)(0x20 + i) : 0;
        r->digest[i] = (uint8_t)(0x40 + i);
    }
    for (i = 0; i < 64; i++)
        r->head_sig[i] = has_head ? (uint8_t)(0x60 + i) : 0;
    r->head_seq = has_head ? 42 : 0;
    r->head_time = has_head ? 1700000000 : 0;
    r->has_head = has_head;
    r->status = st;
    snprintf(r->code, sizeof(r->code), "%s", code);
}

static void test_vector(void **state)
{
    struct body w;
    kt_receipt_t r, back;
    uint8_t *out = NULL;
    size_t len = 0;
    kt_diag_t d;

    (void)state;
    assemble(&w, &s_good);
    /* a5 63'ref' 50.. 64'code' 62'ok' 64'head' 84 182a 1a.. 58 20.. 58 40.. 66'digest' 58 20..
     * 66'status' 68'accepted' */
    assert_int_equal(w.n, 1 + 4 + 17 + 5 + 3 + 5 + (1 + 2 + 5 + 34 + 66) + 7 + 34 + 7 + 9);
    assert_memory_equal(w.b, "\xa5\x63ref\x50\x00\x01", 7);
    fill(&r, 1, KT_RECEIPT_ACCEPTED, "ok");
    assert_int_equal(kt_receipt_encode(&out, &len, &r, &d), 0);
    assert_int_equal(len, w.n);
    assert_memory_equal(out, w.b, len);
    assert_int_equal(kt_receipt_decode(&back, w.b, w.n, &d), 0);
    assert_memory_equal(&back, &r, sizeof(r));
    free(out);
}

static void test_vector_no_head(void **state)
{
    struct shape s = s_good;
    struct body w;
    kt_receipt_t r, back;
    uint8_t *out = NULL;
    size_t len = 0;
    kt_diag_t d;

    (void)state;
    s.head = 0;
    s.code = "not_a_record_";
    s.status = "rejected";
    assemble(&w, &s);
    fill(&r, 0, KT_RECEIPT_REJECTED, "not_a_record_");
    assert_int_equal(kt_receipt_encode(&out, &len, &r, &d), 0);
    assert_int_equal(len, w.n);
    assert_memory_equal(out, w.b, len);
    assert_int_equal(kt_receipt_decode(&back, out, len, &d), 0);
    assert_int_equal(back.has_head, 0);
    assert_int_equal(back.status, KT_RECEIPT_REJECTED);
    assert_string_equal(back.code, "not_a_record_");
    assert_memory_equal(&back, &r, sizeof(r));
    free(out);
}

static void test_round_trips(void **state)
{
    static const char *const codes[] = {
        KT_RCODE_OK,      KT_RCODE_MALFORMED, KT_RCODE_AUTH,
        KT_RCODE_EXPIRED, KT_RCODE_DENIED,    KT_RCODE_TOO_BIG,
        KT_RCODE_VERSION, KT_RCODE_INTERNAL,  "abcdefghijklmnopqrstuvwxyz_____"};
    kt_receipt_t r, back;
    uint8_t *out = NULL;
    size_t len = 0, i;
    int st, h;
    kt_diag_t d;

    (void)state;
    assert_int_equal(strlen(codes[8]), KT_RECEIPT_CODE_MAX);
    for (st = KT_RECEIPT_ACCEPTED; st <= KT_RECEIPT_PURGED; st++)
        for (h = 0; h < 2; h++)
            for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
                fill(&r, h, (kt_receipt_status_t)st, codes[i]);
                assert_int_equal(kt_receipt_encode(&out, &len, &r, &d), 0);
                assert_true(len <= KT_RECEIPT_MAX_BYTES);
                assert_int_equal(kt_receipt_decode(&back, out, len, &d), 0);
                assert_memory_equal(&back, &r, sizeof(r));
                free(out);
            }
    assert_string_equal(kt_receipt_status_name(KT_RECEIPT_ACCEPTED), "accepted");
    assert_string_equal(kt_receipt_status_name(KT_RECEIPT_REJECTED), "rejected");
    assert_string_equal(kt_receipt_status_name(KT_RECEIPT_PURGED), "purged");
    assert_string_equal(kt_receipt_status_name((kt_receipt_status_t)0), "unknown");
}

static void test_encode_refuses(void **state)
{
    kt_receipt_t r;
    uint8_t *out = (uint8_t *)&r;
    size_t len = 7;
    kt_diag_t d;

    (void)state;
    fill(&r, 1, KT_RECEIPT_REJECTED, "");
    assert_int_equal(kt_receipt_encode(&out, &len, &r, &d), KT_EINVAL);
    assert_null(out);
    assert_int_equal(len, 0);
    assert_string_equal(d.msg, "receipt: the code must be 1 to 31 characters of a-z and '_'");
    fill(&r, 1, KT_RECEIPT_REJECTED, "Denied");
    assert_int_equal(kt_receipt_encode(&out, &len, &r, &d), KT_EINVAL);
    fill(&r, 1, KT_RECEIPT_REJECTED, "too-big");
    assert_int_equal(kt_receipt_encode(&out, &len, &r, &d), KT_EINVAL);
    fill(&r, 1, KT_RECEIPT_REJECTED, "x");
    memset(r.code, 'a', sizeof(r.code)); /* no terminator */
    assert_int_equal(kt_receipt_encode(&out, &len, &r, &d), KT_EINVAL);
    fill(&r, 1, (kt_receipt_status_t)4, "ok");
    assert_int_equal(kt_receipt_encode(&out, &len, &r, &d), KT_EINVAL);
    assert_string_equal(d.msg, "receipt: unknown status");
    fill(&r, 1, (kt_receipt_status_t)0, "ok");
    assert_int_equal(kt_receipt_encode(&out, &len, &r, &d), KT_EINVAL);
    assert_null(out);
}

static void expect_bad(const uint8_t *b, size_t n, const char *msg)
{
    kt_receipt_t r;
    kt_diag_t d;

    memset(&r, 0x55, sizeof(r));
    assert_int_equal(kt_receipt_decode(&r, b, n, &d), KT_EMALFORMED);
    if (msg != NULL)
        assert_string_equal(d.msg, msg);
    /* nothing half-decoded is left behind */
    assert_int_equal(r.status, 0);
    assert_int_equal(r.code[0], 0);
}

static void expect_shape_bad(const struct shape *s, const char *msg)
{
    struct body w;

    assemble(&w, s);
    expect_bad(w.b, w.n, msg);
}

static void test_wrong_lengths(void **state)
{
    struct shape s;

    (void)state;
    s = s_good, s.ref = 15;
    expect_shape_bad(&s, "receipt: expected 'ref', a 16-byte string");
    s = s_good, s.ref = 17;
    expect_shape_bad(&s, "receipt: expected 'ref', a 16-byte string");
    s = s_good, s.head = 31;
    expect_shape_bad(&s, "receipt: expected 'head', null or [seq, time, 32-byte hash, 64-byte "
                         "signature]");
    s = s_good, s.head = 33;
    expect_shape_bad(&s, "receipt: expected 'head', null or [seq, time, 32-byte hash, 64-byte "
                         "signature]");
    s = s_good, s.digest = 31;
    expect_shape_bad(&s, "receipt: expected 'digest', a 32-byte string");
    s = s_good, s.digest = 64;
    expect_shape_bad(&s, "receipt: expected 'digest', a 32-byte string");
}

static void test_bad_values(void **state)
{
    static const char *const codes[] = {"", "OK", "o-k", "ok ", "ok1", "\xc3\xa9t\xc3\xa9"};
    static const char *const statuses[] = {"", "done", "Accepted", "accepte", "acceptedx"};
    struct shape s;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        s = s_good, s.code = codes[i];
        expect_shape_bad(&s, "receipt: expected 'code', 1 to 31 of a-z and '_'");
    }
    for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        s = s_good, s.status = statuses[i];
        expect_shape_bad(&s, "receipt: expected 'status': accepted, rejected or purged");
    }
}

static void test_code_too_long(void **state)
{
    struct body w;

    (void)state;
    /* 32 characters need a one-byte length head (78 20) */
    w.n = 0;
    put(&w, "\xa5\x63ref", 5);
    bytes(&w, 0, 16);
    put(&w,
        "\x64"
        "code"
        "\x78\x20",
        7);
    put(&w, "abcdefghijklmnopqrstuvwxyzabcdef", 32);
    put(&w, "\x64head\xf6", 6);
    put(&w,
        "\x66"
        "digest",
        7);
    bytes(&w, 0x40, 32);
    put(&w,
        "\x66status\x68"
        "accepted",
        16);
    expect_bad(w.b, w.n, "receipt: expected 'code', 1 to 31 of a-z and '_'");
}

static void test_unsorted_keys(void **state)
{
    struct body good, w;
    size_t ref_at = 1, ref_len = 4 + 17, code_len = 5 + 3;

    (void)state;
    assemble(&good, &s_good);
    /* code before ref: the same entries in another order */
    w.n = 0;
    put1(&w, 0xa5);
    put(&w, good.b + ref_at + ref_len, code_len);
    put(&w, good.b + ref_at, ref_len);
    put(&w, good.b + ref_at + ref_len + code_len, good.n - (ref_at + ref_len + code_len));
    assert_int_equal(w.n, good.n);
    expect_bad(w.b, w.n, "receipt: expected 'ref', a 16-byte string");
    /* status before digest (both 6 bytes; "digest" sorts first) */
    w.n = 0;
    put(&w, good.b, good.n - 16 - 41);
    put(&w, good.b + good.n - 16, 16);
    put(&w, good.b + good.n - 16 - 41, 41);
    assert_int_equal(w.n, good.n);
    expect_bad(w.b, w.n, "receipt: expected 'digest', a 32-byte string");
}

static void test_not_shortest(void **state)
{
    struct body good, w;

    (void)state;
    assemble(&good, &s_good);
    /* "ok" with its length in a following byte: 78 02 instead of 62 */
    w.n = 0;
    put(&w, good.b, 1 + 4 + 17 + 5);
    put(&w, "\x78\x02ok", 4);
    put(&w, good.b + 1 + 4 + 17 + 5 + 3, good.n - (1 + 4 + 17 + 5 + 3));
    expect_bad(w.b, w.n, "receipt: not in canonical CBOR form (RFC 8949 §4.2.1)");
    /* the map head as b8 05 */
    w.n = 0;
    put(&w, "\xb8\x05", 2);
    put(&w, good.b + 1, good.n - 1);
    expect_bad(w.b, w.n, "receipt: not in canonical CBOR form (RFC 8949 §4.2.1)");
    /* the ref's length as 58 10 */
    w.n = 0;
    put(&w, good.b, 5);
    put(&w, "\x58\x10", 2);
    put(&w, good.b + 6, good.n - 6);
    expect_bad(w.b, w.n, "receipt: not in canonical CBOR form (RFC 8949 §4.2.1)");
    /* an indefinite-length map */
    w.n = 0;
    put1(&w, 0xbf);
    put(&w, good.b + 1, good.n - 1);
    put1(&w, 0xff);
    expect_bad(w.b, w.n, "receipt: expected a map of 5 entries");
}

static void test_shape(void **state)
{
    struct body good, w;
    size_t n;

    (void)state;
    assemble(&good, &s_good);
    /* trailing bytes */
    w = good;
    put1(&w, 0x00);
    expect_bad(w.b, w.n, "receipt: trailing bytes after the receipt");
    /* another entry count */
    w = good;
    w.b[0] = 0xa4;
    expect_bad(w.b, w.n, "receipt: expected a map of 5 entries");
    w.b[0] = 0xa6;
    expect_bad(w.b, w.n, "receipt: expected a map of 5 entries");
    w.b[0] = 0x85; /* an array */
    expect_bad(w.b, w.n, "receipt: expected a map of 5 entries");
    /* head neither a checkpoint nor null */
    w = good;
    w.n = 1 + 4 + 17 + 5 + 3 + 5;
    put1(&w, 0xf4); /* false */
    put(&w, good.b + 1 + 4 + 17 + 5 + 3 + 5 + 108, 7 + 34 + 7 + 9);
    expect_bad(w.b, w.n,
               "receipt: expected 'head', null or [seq, time, 32-byte hash, 64-byte signature]");
    /* a checkpoint with a negative seq */
    w = good;
    w.b[1 + 4 + 17 + 5 + 3 + 5 + 1] = 0x38; /* nint: -43 */
    expect_bad(w.b, w.n,
               "receipt: expected 'head', null or [seq, time, 32-byte hash, 64-byte signature]");
    /* every truncation */
    for (n = 0; n < good.n; n++)
        expect_bad(good.b, n, NULL);
}

static void test_too_big(void **state)
{
    uint8_t big[KT_RECEIPT_MAX_BYTES + 1];
    kt_receipt_t r;
    kt_diag_t d;

    (void)state;
    memset(big, 0, sizeof(big));
    assert_int_equal(kt_receipt_decode(&r, big, sizeof(big), &d), KT_ETOOBIG);
    assert_string_equal(d.msg, "receipt: larger than 320 bytes");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector),        cmocka_unit_test(test_vector_no_head),
        cmocka_unit_test(test_round_trips),   cmocka_unit_test(test_encode_refuses),
        cmocka_unit_test(test_wrong_lengths), cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_code_too_long), cmocka_unit_test(test_unsorted_keys),
        cmocka_unit_test(test_not_shortest),  cmocka_unit_test(test_shape),
        cmocka_unit_test(test_too_big),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
