/*
 * test_psi_wire.c - the PSI message bodies (daemon/psi_wire.c): the encoder
 * checked against bodies assembled by hand from RFC 8949 (not against
 * itself), every chunking rule, every way a body can be almost canonical,
 * the collector's reassembly, matching and replay rules, and the largest
 * body signed into a real envelope to show it fits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keten/envelope.h"
#include "keten/keys.h"
#include "keten/psi.h"

#define PB KT_PSI_POINT_BYTES

/* ---- a hand assembler: every head as RFC 8949 §3 writes it ---- */

struct body {
    uint8_t *b;
    size_t n;
};

static void put(struct body *w, const void *p, size_t n)
{
    assert_true(w->n + n <= 70000);
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void head(struct body *w, unsigned major, uint64_t v)
{
    uint8_t h[9];
    size_t k = 1, i;

    if (v < 24) {
        h[0] = (uint8_t)(major << 5 | v);
    } else {
        k = v <= 0xff ? 2 : v <= 0xffff ? 3 : v <= 0xffffffffu ? 5 : 9;
        h[0] = (uint8_t)(major << 5 | (k == 2 ? 24 : k == 3 ? 25 : k == 5 ? 26 : 27));
        for (i = 1; i < k; i++)
            h[i] = (uint8_t)(v >> (8 * (k - 1 - i)));
    }
    put(w, h, k);
}

static void text(struct body *w, const char *s)
{
    head(w, 3, strlen(s));
    put(w, s, strlen(s));
}

struct fields {
    const char *to, *from, *list, *mode, *step;
    uint64_t part, parts, total;
    size_t pts_bytes;
};

static const struct fields good = {
    "gemeente-utrecht", "swv-utrecht", "thuiszitters", "membership", "a1", 0, 1, 3, 3 * PB};

static uint8_t g_pts[KT_PSI_CHUNK_POINTS * PB + 64];

static void assemble(struct body *w, const struct fields *f)
{
    uint8_t sixteen[16];

    memset(sixteen, 0x11, sizeof(sixteen));
    head(w, 5, 11);
    text(w, "n");
    head(w, 2, 16);
    put(w, sixteen, 16);
    memset(sixteen, 0x22, sizeof(sixteen));
    text(w, "s");
    head(w, 2, 16);
    put(w, sixteen, 16);
    text(w, "to");
    text(w, f->to);
    text(w, "pts");
    head(w, 2, f->pts_bytes);
    put(w, g_pts, f->pts_bytes);
    text(w, "from");
    text(w, f->from);
    text(w, "list");
    text(w, f->list);
    text(w, "mode");
    text(w, f->mode);
    text(w, "part");
    head(w, 0, f->part);
    text(w, "step");
    text(w, f->step);
    text(w, "parts");
    head(w, 0, f->parts);
    text(w, "total");
    head(w, 0, f->total);
}

static uint8_t g_buf[70000];

static int decode_fields(const struct fields *f, kt_psi_msg_t *m, kt_diag_t *d)
{
    struct body w = {g_buf, 0};

    assemble(&w, f);
    return kt_psi_wire_decode(m, w.b, w.n, d);
}

static kt_psi_msg_t msg_of(const struct fields *f)
{
    kt_psi_msg_t m;

    memset(&m, 0, sizeof(m));
    memset(m.nonce, 0x11, sizeof(m.nonce));
    memset(m.session, 0x22, sizeof(m.session));
    snprintf(m.to, sizeof(m.to), "%s", f->to);
    snprintf(m.from, sizeof(m.from), "%s", f->from);
    snprintf(m.list, sizeof(m.list), "%s", f->list);
    assert_int_equal(kt_psi_mode_parse(f->mode, &m.mode), 0);
    m.step = KT_PSI_A1;
    m.part = (uint32_t)f->part;
    m.parts = (uint32_t)f->parts;
    m.total = (uint32_t)f->total;
    m.pts = g_pts;
    m.npts = f->pts_bytes / PB;
    return m;
}

static int setup(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(g_pts); i++)
        g_pts[i] = (uint8_t)(i * 7 + 3);
    return 0;
}

/* ---- tests ---- */

static void test_encoder_matches_hand_assembly(void **state)
{
    struct body w = {g_buf, 0};
    kt_psi_msg_t m = msg_of(&good), back;
    uint8_t *enc = NULL;
    size_t len = 0;
    kt_diag_t d = {""};

    (void)state;
    assemble(&w, &good);
    assert_int_equal(kt_psi_wire_encode(&enc, &len, &m, &d), 0);
    assert_int_equal(len, w.n);
    assert_memory_equal(enc, w.b, len);
    assert_int_equal(kt_psi_wire_decode(&back, enc, len, &d), 0);
    assert_memory_equal(back.session, m.session, KT_PSI_SESSION_BYTES);
    assert_memory_equal(back.nonce, m.nonce, KT_PSI_NONCE_BYTES);
    assert_string_equal(back.from, "swv-utrecht");
    assert_string_equal(back.to, "gemeente-utrecht");
    assert_string_equal(back.list, "thuiszitters");
    assert_int_equal(back.mode, KT_PSI_MEMBERSHIP);
    assert_int_equal(back.step, KT_PSI_A1);
    assert_int_equal(back.part, 0);
    assert_int_equal(back.parts, 1);
    assert_int_equal(back.total, 3);
    assert_int_equal(back.npts, 3);
    /* borrowed: map head, "n" and 16 bytes, "s" and 16 bytes, "to" and
     * 16 characters, "pts" and its 2-byte head */
    assert_ptr_equal(back.pts, enc + 1 + (2 + 17) + (2 + 17) + (3 + 17) + 4 + 2);
    assert_memory_equal(back.pts, g_pts, 3 * PB);
    free(enc);
}

static void test_every_step_and_mode(void **state)
{
    static const char *steps[] = {"a1", "a2", "b1", "b2"};
    struct fields f = good;
    kt_psi_msg_t m;
    kt_diag_t d = {""};
    int i;

    (void)state;
    for (i = 0; i < 4; i++) {
        f.step = steps[i];
        f.mode = i % 2 ? "cardinality" : "membership";
        assert_int_equal(decode_fields(&f, &m, &d), 0);
        assert_int_equal(m.step, KT_PSI_A1 + i);
        assert_string_equal(kt_psi_step_name(m.step), steps[i]);
        assert_string_equal(kt_psi_mode_name(m.mode), f.mode);
    }
    assert_string_equal(kt_psi_step_name((kt_psi_step_t)9), "unknown");
    assert_string_equal(kt_psi_mode_name((kt_psi_mode_t)0), "unknown");
}

static void test_chunk_arithmetic(void **state)
{
    (void)state;
    assert_int_equal(kt_psi_wire_parts(0), 1);
    assert_int_equal(kt_psi_wire_parts(1), 1);
    assert_int_equal(kt_psi_wire_parts(1800), 1);
    assert_int_equal(kt_psi_wire_parts(1801), 2);
    assert_int_equal(kt_psi_wire_parts(100000), 56);
    assert_int_equal(kt_psi_wire_part_points(100000, 0), 1800);
    assert_int_equal(kt_psi_wire_part_points(100000, 55), 100000 - 55 * 1800);
    assert_int_equal(kt_psi_wire_part_points(100000, 56), 0);
    assert_int_equal(kt_psi_wire_part_points(0, 0), 0);
}

static void expect_bad(const struct fields *f, int code, const char *msg)
{
    kt_psi_msg_t m;
    kt_diag_t d = {""};

    assert_int_equal(decode_fields(f, &m, &d), code);
    assert_string_equal(d.msg, msg);
    assert_null(m.pts); /* nothing half-decoded is handed out */
    assert_int_equal(m.total, 0);
}

static void test_wrong_chunks(void **state)
{
    struct fields f = good;

    (void)state;
    f.part = 1; /* only part 0 exists */
    expect_bad(&f, KT_EMALFORMED, "psi message: part 1 is out of range (parts 1)");
    f = good;
    f.parts = 2;
    expect_bad(&f, KT_EMALFORMED, "psi message: 'parts' is 2 but a set of 3 points takes 1");
    f = good;
    f.total = 4; /* says 4, carries 3 */
    expect_bad(&f, KT_EMALFORMED, "psi message: part 0 holds 3 points, expected 4");
    f = good;
    f.total = 1801; /* needs 2 parts */
    expect_bad(&f, KT_EMALFORMED, "psi message: 'parts' is 1 but a set of 1801 points takes 2");
    f.parts = 2; /* part 0 of 2 must be full */
    expect_bad(&f, KT_EMALFORMED, "psi message: part 0 holds 3 points, expected 1800");
    f = good;
    f.total = KT_PSI_MAX_IDS + 1;
    f.parts = kt_psi_wire_parts(KT_PSI_MAX_IDS + 1);
    expect_bad(&f, KT_ETOOBIG, "psi message: a set of 100001 points; at most 100000");
    f = good;
    f.pts_bytes = 3 * PB - 1;
    expect_bad(&f, KT_EMALFORMED,
               "psi message: expected 'pts', a byte string of at most 1800 points of 32 bytes");
    f = good;
    f.part = 1ull << 32;
    expect_bad(&f, KT_EMALFORMED, "psi message: expected 'part', an unsigned integer");
}

static void test_field_rules(void **state)
{
    struct fields f = good;

    (void)state;
    f.step = "a3";
    expect_bad(&f, KT_EMALFORMED, "psi message: expected 'step': a1, a2, b1 or b2");
    f = good;
    f.mode = "all";
    expect_bad(&f, KT_EMALFORMED, "psi message: expected 'mode': cardinality or membership");
    f = good;
    f.to = "Gemeente";
    expect_bad(&f, KT_EMALFORMED, "psi message: expected 'to', a node id");
    f = good;
    f.from = "";
    expect_bad(&f, KT_EMALFORMED, "psi message: expected 'from', a node id");
    f = good;
    f.list = "lijst A";
    expect_bad(&f, KT_EMALFORMED, "psi message: expected 'list', 1 to 64 of a-z, 0-9, '_' and '-'");
}

/* One spelling only: longer heads, other orders, other types, extra bytes. */
static void test_refuses_non_canonical(void **state)
{
    struct body w = {g_buf, 0};
    uint8_t alt[70000];
    kt_psi_msg_t m;
    kt_diag_t d = {""};
    size_t n;

    (void)state;
    assemble(&w, &good);
    n = w.n;

    /* 'total' 3 written as a 1-byte argument (18 03) instead of 03 */
    memcpy(alt, g_buf, n - 1);
    alt[n - 1] = 0x18;
    alt[n] = 0x03;
    assert_int_equal(kt_psi_wire_decode(&m, alt, n + 1, &d), KT_EMALFORMED);
    assert_string_equal(d.msg, "psi message: not in canonical CBOR form (RFC 8949 §4.2.1)");

    /* the 16-byte nonce with a 1-byte length (58 10) instead of 50 */
    memcpy(alt, g_buf, 3);
    alt[3] = 0x58;
    alt[4] = 0x10;
    memcpy(alt + 5, g_buf + 4, n - 4);
    assert_int_equal(kt_psi_wire_decode(&m, alt, n + 1, &d), KT_EMALFORMED);
    assert_string_equal(d.msg, "psi message: not in canonical CBOR form (RFC 8949 §4.2.1)");

    /* an indefinite-length map */
    memcpy(alt, g_buf, n);
    alt[0] = 0xbf;
    assert_int_equal(kt_psi_wire_decode(&m, alt, n, &d), KT_EMALFORMED);
    assert_string_equal(d.msg, "psi message: expected a map of 11 entries");

    /* 's' before 'n': keys out of order */
    memcpy(alt, g_buf, n);
    alt[2] = 's';
    alt[21] = 'n';
    assert_int_equal(kt_psi_wire_decode(&m, alt, n, &d), KT_EMALFORMED);
    assert_string_equal(d.msg, "psi message: expected 'n', a 16-byte string");

    /* a trailing byte */
    memcpy(alt, g_buf, n);
    alt[n] = 0x00;
    assert_int_equal(kt_psi_wire_decode(&m, alt, n + 1, &d), KT_EMALFORMED);
    assert_string_equal(d.msg, "psi message: trailing bytes after the body");

    /* a truncated body, at every length */
    for (size_t k = 0; k < n; k++)
        assert_int_equal(kt_psi_wire_decode(&m, g_buf, k, &d), KT_EMALFORMED);

    /* larger than any body can be */
    assert_int_equal(kt_psi_wire_decode(&m, alt, KT_PSI_WIRE_MAX_BYTES + 1, &d), KT_ETOOBIG);
    assert_string_equal(d.msg, "psi message: larger than 58000 bytes");
}

static void test_encoder_refuses(void **state)
{
    struct fields f = good;
    kt_psi_msg_t m;
    uint8_t *enc = NULL;
    size_t len = 0;
    kt_diag_t d = {""};

    (void)state;
    f.from = "SWV";
    m = msg_of(&f);
    assert_int_equal(kt_psi_wire_encode(&enc, &len, &m, &d), KT_EINVAL);
    assert_string_equal(d.msg, "psi message: 'from' and 'to' must be node ids ([a-z0-9-]{1,64})");
    assert_null(enc);
    m = msg_of(&good);
    m.npts = 2;
    assert_int_equal(kt_psi_wire_encode(&enc, &len, &m, &d), KT_EMALFORMED);
    assert_string_equal(d.msg, "psi message: part 0 holds 2 points, expected 3");
    m = msg_of(&good);
    m.step = (kt_psi_step_t)0;
    assert_int_equal(kt_psi_wire_encode(&enc, &len, &m, &d), KT_EINVAL);
    assert_string_equal(d.msg, "psi message: unknown step");
}

/* The largest body there can be still signs into one envelope. */
static void test_largest_body_fits_an_envelope(void **state)
{
    char id64[KT_NODE_ID_MAX + 1];
    kt_psi_msg_t m, back;
    kt_keys_t *k = NULL;
    kt_payload_t p;
    uint8_t *enc = NULL, *sig = NULL, mid[KT_ENVELOPE_ID_BYTES] = {1};
    size_t len = 0, slen = 0;
    kt_diag_t d = {""};

    (void)state;
    memset(id64, 'x', KT_NODE_ID_MAX);
    id64[KT_NODE_ID_MAX] = '\0';
    memset(&m, 0, sizeof(m));
    snprintf(m.from, sizeof(m.from), "%s", id64);
    snprintf(m.to, sizeof(m.to), "%s", id64);
    id64[0] = 'y';
    snprintf(m.list, sizeof(m.list), "%s", id64);
    m.step = KT_PSI_B2;
    m.mode = KT_PSI_CARDINALITY;
    m.total = KT_PSI_MAX_IDS;
    m.parts = kt_psi_wire_parts(m.total);
    m.part = 0;
    m.pts = g_pts;
    m.npts = KT_PSI_CHUNK_POINTS;
    assert_int_equal(kt_psi_wire_encode(&enc, &len, &m, &d), 0);
    assert_true(len <= KT_PSI_WIRE_MAX_BYTES);
    assert_true(len > KT_PSI_WIRE_MAX_BYTES - 200); /* the limit is not loose */

    assert_int_equal(kt_keys_init(), 0);
    assert_int_equal(kt_keys_generate(&k, id64 + 0, KT_ROLE_SWV, &d), 0);
    assert_int_equal(
        kt_envelope_sign(&sig, &slen, KT_KIND_PSI_RESPONSE, mid, 1700000000, m.to, enc, len, k, &d),
        0);
    assert_true(slen <= KT_SIGNED_MAX_BYTES);
    assert_true(KT_SIGNED_MAX_BYTES - slen > 7 * 1024);
    assert_int_equal(kt_envelope_parse(&p, sig, slen, &d), 0);
    assert_int_equal(kt_psi_wire_decode(&back, p.body, p.body_len, &d), 0);
    assert_int_equal(back.npts, KT_PSI_CHUNK_POINTS);
    kt_envelope_free(sig, slen);
    kt_keys_destroy(&k);
    free(enc);
}

/* ---- the collector ---- */

static kt_psi_msg_t part_of(uint32_t total, uint32_t part)
{
    kt_psi_msg_t m = msg_of(&good);

    m.total = total;
    m.parts = kt_psi_wire_parts(total);
    m.part = part;
    m.pts = g_pts + (size_t)part * PB; /* different bytes per part */
    m.npts = kt_psi_wire_part_points(total, part);
    return m;
}

static void test_collect_reassembles(void **state)
{
    const uint32_t total = 2 * KT_PSI_CHUNK_POINTS + 7;
    kt_psi_collect_t *c = NULL;
    kt_psi_msg_t m;
    const uint8_t *all;
    size_t n = 99, p;
    kt_diag_t d = {""};

    (void)state;
    assert_int_equal(kt_psi_collect_new(&c), 0);
    assert_null(kt_psi_collect_header(c));
    for (p = 3; p-- > 0;) { /* last part first */
        assert_false(kt_psi_collect_done(c));
        assert_null(kt_psi_collect_points(c, &n));
        assert_int_equal(n, 0);
        m = part_of(total, (uint32_t)p);
        assert_int_equal(kt_psi_collect_add(c, &m, &d), 0);
    }
    assert_true(kt_psi_collect_done(c));
    assert_int_equal(kt_psi_collect_header(c)->total, total);
    assert_null(kt_psi_collect_header(c)->pts);
    all = kt_psi_collect_points(c, &n);
    assert_int_equal(n, total);
    for (p = 0; p < 3; p++)
        assert_memory_equal(all + p * KT_PSI_CHUNK_POINTS * PB, g_pts + p * PB,
                            kt_psi_wire_part_points(total, (uint32_t)p) * PB);
    kt_psi_collect_destroy(&c);
    assert_null(c);
    kt_psi_collect_destroy(&c);

    /* an empty set is one part of no points */
    assert_int_equal(kt_psi_collect_new(&c), 0);
    m = part_of(0, 0);
    assert_int_equal(kt_psi_collect_add(c, &m, &d), 0);
    assert_true(kt_psi_collect_done(c));
    assert_non_null(kt_psi_collect_points(c, &n));
    assert_int_equal(n, 0);
    kt_psi_collect_destroy(&c);
}

static void test_collect_refuses(void **state)
{
    const uint32_t total = KT_PSI_CHUNK_POINTS + 5;
    kt_psi_collect_t *c = NULL;
    kt_psi_msg_t m, first = part_of(total, 0);
    kt_diag_t d = {""};

    (void)state;
    assert_int_equal(kt_psi_collect_new(&c), 0);
    assert_int_equal(kt_psi_collect_add(c, &first, &d), 0);
    assert_int_equal(kt_psi_collect_add(c, &first, &d), KT_EREPLAY);
    assert_string_equal(d.msg, "psi message: part 0 arrived twice");

    m = part_of(total + 1, 1); /* the same parts, another total */
    assert_int_equal(kt_psi_collect_add(c, &m, &d), KT_EMALFORMED);
    assert_string_equal(d.msg, "psi message: part 1 does not match the first part's 'total'");
    m = part_of(total, 1);
    m.session[5] ^= 1;
    assert_int_equal(kt_psi_collect_add(c, &m, &d), KT_EMALFORMED);
    assert_string_equal(d.msg, "psi message: part 1 does not match the first part's 'session'");
    m = part_of(total, 1);
    m.nonce[0] ^= 1;
    assert_int_equal(kt_psi_collect_add(c, &m, &d), KT_EMALFORMED);
    assert_string_equal(d.msg, "psi message: part 1 does not match the first part's 'nonce'");
    m = part_of(total, 1);
    m.step = KT_PSI_B1;
    assert_int_equal(kt_psi_collect_add(c, &m, &d), KT_EMALFORMED);
    assert_string_equal(d.msg, "psi message: part 1 does not match the first part's 'step'");
    m = part_of(total, 1);
    snprintf(m.from, sizeof(m.from), "school-x");
    assert_int_equal(kt_psi_collect_add(c, &m, &d), KT_EMALFORMED);
    assert_string_equal(d.msg, "psi message: part 1 does not match the first part's 'from'");
    m = part_of(total, 2);
    m.npts = 0;
    assert_int_equal(kt_psi_collect_add(c, &m, &d), KT_EMALFORMED);
    assert_string_equal(d.msg, "psi message: part 2 is out of range (parts 2)");
    assert_false(kt_psi_collect_done(c));

    m = part_of(total, 1);
    assert_int_equal(kt_psi_collect_add(c, &m, &d), 0);
    assert_true(kt_psi_collect_done(c));
    kt_psi_collect_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoder_matches_hand_assembly),
        cmocka_unit_test(test_every_step_and_mode),
        cmocka_unit_test(test_chunk_arithmetic),
        cmocka_unit_test(test_wrong_chunks),
        cmocka_unit_test(test_field_rules),
        cmocka_unit_test(test_refuses_non_canonical),
        cmocka_unit_test(test_encoder_refuses),
        cmocka_unit_test(test_largest_body_fits_an_envelope),
        cmocka_unit_test(test_collect_reassembles),
        cmocka_unit_test(test_collect_refuses),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
