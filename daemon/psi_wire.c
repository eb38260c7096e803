/*
 * psi_wire.c - the bodies of the private list comparison messages in
 * canonical CBOR, and the collector that puts a chunked set back together
 * (psi.h, docs/protocol.md §12).
 *
 * Part of the canonical-encoding module with record.c and receipt.c, and
 * written like receipt.c: heads come from libcbor's encoders (shortest
 * form), reads go through its streaming decoder (cbor_read.c), which never
 * allocates;
 * every item is checked for kind and size as it is read, and what was read
 * is encoded again and must equal the input byte for byte. The points are
 * opaque bytes here (psi.c validates them). It must never accept a body it
 * would not itself write, and never put input bytes into a diagnostic.
 */
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "keten/psi.h"
#include "cbor_read.h"

#define P KT_PSI_POINT_BYTES
#define S_ENTRIES 11

static const char *const s_steps[] = {NULL, "a1", "a2", "b1", "b2"};
static const char *const s_modes[] = {NULL, "cardinality", "membership"};

const char *kt_psi_step_name(kt_psi_step_t s)
{
    if (s < KT_PSI_A1 || s > KT_PSI_B2)
        return "unknown";
    return s_steps[s];
}

const char *kt_psi_mode_name(kt_psi_mode_t m)
{
    if (m < KT_PSI_CARDINALITY || m > KT_PSI_MEMBERSHIP)
        return "unknown";
    return s_modes[m];
}

static int s_lookup(const char *const *names, int last, const uint8_t *p, size_t n)
{
    int i;

    for (i = 1; i <= last; i++)
        if (strlen(names[i]) == n && memcmp(p, names[i], n) == 0)
            return i;
    return 0;
}

int kt_psi_mode_parse(const char *s, kt_psi_mode_t *m)
{
    int i = s ? s_lookup(s_modes, KT_PSI_MEMBERSHIP, (const uint8_t *)s, strlen(s)) : 0;

    if (i == 0)
        return KT_EINVAL;
    *m = (kt_psi_mode_t)i;
    return 0;
}

uint32_t kt_psi_wire_parts(uint32_t total)
{
    return total == 0 ? 1 : (total + KT_PSI_CHUNK_POINTS - 1) / KT_PSI_CHUNK_POINTS;
}

size_t kt_psi_wire_part_points(uint32_t total, uint32_t part)
{
    uint32_t parts = kt_psi_wire_parts(total);

    if (part >= parts)
        return 0;
    if (part + 1 < parts)
        return KT_PSI_CHUNK_POINTS;
    return total - (size_t)part * KT_PSI_CHUNK_POINTS;
}

/* [a-z0-9_-]{1,64} */
static int s_list_valid(const uint8_t *p, size_t n)
{
    size_t i;

    if (n < 1 || n > KT_PSI_LIST_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '_' ||
              p[i] == '-'))
            return 0;
    return 1;
}

/* part, parts, total and the point count agree; the rules of §12.3 */
static int s_check_chunk(const kt_psi_msg_t *m, kt_diag_t *d)
{
    size_t want;

    if (m->total > KT_PSI_MAX_IDS)
        return kt_diag_set(d, KT_ETOOBIG, "psi message: a set of %u points; at most %d",
                           (unsigned)m->total, KT_PSI_MAX_IDS);
    if (m->parts != kt_psi_wire_parts(m->total))
        return kt_diag_set(
            d, KT_EMALFORMED, "psi message: 'parts' is %u but a set of %u points takes %u",
            (unsigned)m->parts, (unsigned)m->total, (unsigned)kt_psi_wire_parts(m->total));
    if (m->part >= m->parts)
        return kt_diag_set(d, KT_EMALFORMED, "psi message: part %u is out of range (parts %u)",
                           (unsigned)m->part, (unsigned)m->parts);
    want = kt_psi_wire_part_points(m->total, m->part);
    if (m->npts != want)
        return kt_diag_set(d, KT_EMALFORMED, "psi message: part %u holds %zu points, expected %zu",
                           (unsigned)m->part, m->npts, want);
    return 0;
}

static int s_check(const kt_psi_msg_t *m, kt_diag_t *d)
{
    if (!kt_keys_valid_id(m->from) || !kt_keys_valid_id(m->to))
        return kt_diag_set(d, KT_EINVAL,
                           "psi message: 'from' and 'to' must be node ids "
                           "([a-z0-9-]{1,64})");
    if (!s_list_valid((const uint8_t *)m->list, strnlen(m->list, sizeof(m->list))))
        return kt_diag_set(d, KT_EINVAL,
                           "psi message: the list name must be 1 to %d of "
                           "a-z, 0-9, '_' and '-'",
                           KT_PSI_LIST_MAX);
    if (m->step < KT_PSI_A1 || m->step > KT_PSI_B2)
        return kt_diag_set(d, KT_EINVAL, "psi message: unknown step");
    if (m->mode < KT_PSI_CARDINALITY || m->mode > KT_PSI_MEMBERSHIP)
        return kt_diag_set(d, KT_EINVAL, "psi message: unknown mode");
    if (m->npts > 0 && m->pts == NULL)
        return kt_diag_set(d, KT_EINVAL, "psi message: no points given");
    return s_check_chunk(m, d);
}

/* ---- encoding ---- */

struct s_buf {
    uint8_t *b;
    size_t n, cap;
    int full;
};

static void s_head(struct s_buf *w, size_t (*enc)(size_t, unsigned char *, size_t), size_t v)
{
    size_t k = w->full ? 0 : enc(v, w->b + w->n, w->cap - w->n);

    if (k == 0)
        w->full = 1;
    w->n += k;
}

static void s_uint(struct s_buf *w, uint32_t v)
{
    size_t k = w->full ? 0 : cbor_encode_uint(v, w->b + w->n, w->cap - w->n);

    if (k == 0)
        w->full = 1;
    w->n += k;
}

static void s_raw(struct s_buf *w, const void *p, size_t n)
{
    if (w->full || n > w->cap - w->n) {
        w->full = 1;
        return;
    }
    if (n)
        memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void s_text(struct s_buf *w, const char *s)
{
    s_head(w, cbor_encode_string_start, strlen(s));
    s_raw(w, s, strlen(s));
}

static void s_bytes(struct s_buf *w, const uint8_t *p, size_t n)
{
    s_head(w, cbor_encode_bytestring_start, n);
    s_raw(w, p, n);
}

/* Keys in encoded-byte order: shorter first, then bytewise. */
static void s_encode(struct s_buf *w, const kt_psi_msg_t *m)
{
    s_head(w, cbor_encode_map_start, S_ENTRIES);
    s_text(w, "n");
    s_bytes(w, m->nonce, KT_PSI_NONCE_BYTES);
    s_text(w, "s");
    s_bytes(w, m->session, KT_PSI_SESSION_BYTES);
    s_text(w, "to");
    s_text(w, m->to);
    s_text(w, "pts");
    s_bytes(w, m->pts, m->npts * P);
    s_text(w, "from");
    s_text(w, m->from);
    s_text(w, "list");
    s_text(w, m->list);
    s_text(w, "mode");
    s_text(w, kt_psi_mode_name(m->mode));
    s_text(w, "part");
    s_uint(w, m->part);
    s_text(w, "step");
    s_text(w, kt_psi_step_name(m->step));
    s_text(w, "parts");
    s_uint(w, m->parts);
    s_text(w, "total");
    s_uint(w, m->total);
}

int kt_psi_wire_encode(uint8_t **out, size_t *outlen, const kt_psi_msg_t *m, kt_diag_t *d)
{
    struct s_buf w = {.n = 0, .cap = KT_PSI_WIRE_MAX_BYTES, .full = 0};
    int rc;

    *out = NULL;
    *outlen = 0;
    if ((rc = s_check(m, d)) != 0)
        return rc;
    if ((w.b = malloc(w.cap)) == NULL)
        return kt_diag_set(d, KT_ENOMEM, "out of memory encoding a psi message");
    s_encode(&w, m);
    if (w.full) { /* cannot happen within the limits checked; never truncate */
        free(w.b);
        return kt_diag_set(d, KT_ETOOBIG, "psi message larger than %d bytes",
                           KT_PSI_WIRE_MAX_BYTES);
    }
    *out = w.b;
    *outlen = w.n;
    return 0;
}

/* ---- strict decoding ---- */

static int s_node(kt_cbor_reader_t *rd, const char *name, char out[KT_NODE_ID_MAX + 1])
{
    kt_cbor_event_t ev;

    if (!kt_cbor_key(rd, name) || !kt_cbor_next(rd, &ev, KT_CBOR_TEXT, 0) || ev.n < 1 ||
        ev.n > KT_NODE_ID_MAX)
        return 0;
    memcpy(out, ev.p, ev.n);
    out[ev.n] = '\0';
    return kt_keys_valid_id(out);
}

static int s_u32(kt_cbor_reader_t *rd, const char *name, uint32_t *out)
{
    kt_cbor_event_t ev;

    if (!kt_cbor_key(rd, name) || !kt_cbor_next(rd, &ev, KT_CBOR_UINT, 0) || ev.u > UINT32_MAX)
        return 0;
    *out = (uint32_t)ev.u;
    return 1;
}

static int s_name(kt_cbor_reader_t *rd, const char *key, const char *const *names, int last,
                  int *out)
{
    kt_cbor_event_t ev;

    if (!kt_cbor_key(rd, key) || !kt_cbor_next(rd, &ev, KT_CBOR_TEXT, 0))
        return 0;
    return (*out = s_lookup(names, last, ev.p, ev.n)) != 0;
}

#define S_BAD(what) kt_diag_set(d, KT_EMALFORMED, "psi message: expected " what)

static int s_decode_map(kt_cbor_reader_t *rd, kt_psi_msg_t *m, kt_diag_t *d)
{
    kt_cbor_event_t ev;
    int step = 0, mode = 0;

    if (!kt_cbor_next(rd, &ev, KT_CBOR_MAP, S_ENTRIES))
        return S_BAD("a map of 11 entries");
    if (!kt_cbor_bytes_field(rd, "n", m->nonce, KT_PSI_NONCE_BYTES))
        return S_BAD("'n', a 16-byte string");
    if (!kt_cbor_bytes_field(rd, "s", m->session, KT_PSI_SESSION_BYTES))
        return S_BAD("'s', a 16-byte string");
    if (!s_node(rd, "to", m->to))
        return S_BAD("'to', a node id");
    if (!kt_cbor_key(rd, "pts") || !kt_cbor_next(rd, &ev, KT_CBOR_BYTES, 0) || ev.n % P != 0 ||
        ev.n / P > KT_PSI_CHUNK_POINTS)
        return S_BAD("'pts', a byte string of at most 1800 points of 32 bytes");
    m->pts = ev.n ? ev.p : NULL;
    m->npts = ev.n / P;
    if (!s_node(rd, "from", m->from))
        return S_BAD("'from', a node id");
    if (!kt_cbor_key(rd, "list") || !kt_cbor_next(rd, &ev, KT_CBOR_TEXT, 0) ||
        !s_list_valid(ev.p, ev.n))
        return S_BAD("'list', 1 to 64 of a-z, 0-9, '_' and '-'");
    memcpy(m->list, ev.p, ev.n);
    m->list[ev.n] = '\0';
    if (!s_name(rd, "mode", s_modes, KT_PSI_MEMBERSHIP, &mode))
        return S_BAD("'mode': cardinality or membership");
    m->mode = (kt_psi_mode_t)mode;
    if (!s_u32(rd, "part", &m->part))
        return S_BAD("'part', an unsigned integer");
    if (!s_name(rd, "step", s_steps, KT_PSI_B2, &step))
        return S_BAD("'step': a1, a2, b1 or b2");
    m->step = (kt_psi_step_t)step;
    if (!s_u32(rd, "parts", &m->parts))
        return S_BAD("'parts', an unsigned integer");
    if (!s_u32(rd, "total", &m->total))
        return S_BAD("'total', an unsigned integer");
    if (rd->pos != rd->len)
        return kt_diag_set(d, KT_EMALFORMED, "psi message: trailing bytes after the body");
    return 0;
}

/* Every item was read in order; what is left to catch is a longer-than-
 * needed head, which only encoding again reveals. */
static int s_check_canonical(const kt_psi_msg_t *m, const uint8_t *buf, size_t len, kt_diag_t *d)
{
    struct s_buf w = {.n = 0, .cap = KT_PSI_WIRE_MAX_BYTES, .full = 0};
    int same;

    if ((w.b = malloc(w.cap)) == NULL)
        return kt_diag_set(d, KT_ENOMEM, "out of memory decoding a psi message");
    s_encode(&w, m);
    same = !w.full && w.n == len && memcmp(w.b, buf, len) == 0;
    free(w.b);
    if (!same)
        return kt_diag_set(d, KT_EMALFORMED,
                           "psi message: not in canonical CBOR form (RFC 8949 §4.2.1)");
    return 0;
}

int kt_psi_wire_decode(kt_psi_msg_t *out, const uint8_t *buf, size_t len, kt_diag_t *d)
{
    kt_cbor_reader_t rd = {.b = buf, .len = len, .pos = 0};
    kt_psi_msg_t m;
    int rc;

    memset(out, 0, sizeof(*out));
    memset(&m, 0, sizeof(m));
    if (len > KT_PSI_WIRE_MAX_BYTES)
        return kt_diag_set(d, KT_ETOOBIG, "psi message: larger than %d bytes",
                           KT_PSI_WIRE_MAX_BYTES);
    if ((rc = s_decode_map(&rd, &m, d)) != 0 || (rc = s_check_chunk(&m, d)) != 0 ||
        (rc = s_check_canonical(&m, buf, len, d)) != 0)
        return rc;
    *out = m;
    return 0;
}

/* ---- collector ---- */

struct kt_psi_collect {
    int have;
    kt_psi_msg_t hdr;
    uint8_t *pts;  /* total points */
    uint8_t *seen; /* parts flags */
    uint32_t nseen;
};

int kt_psi_collect_new(kt_psi_collect_t **out)
{
    *out = calloc(1, sizeof(**out));
    return *out ? 0 : KT_ENOMEM;
}

void kt_psi_collect_destroy(kt_psi_collect_t **p)
{
    if (p == NULL || *p == NULL)
        return;
    free((*p)->pts);
    free((*p)->seen);
    free(*p);
    *p = NULL;
}

/* The name of the first binding field in which m differs from h, or NULL. */
static const char *s_mismatch(const kt_psi_msg_t *h, const kt_psi_msg_t *m)
{
    if (memcmp(h->session, m->session, KT_PSI_SESSION_BYTES) != 0)
        return "session";
    if (memcmp(h->nonce, m->nonce, KT_PSI_NONCE_BYTES) != 0)
        return "nonce";
    if (strcmp(h->from, m->from) != 0)
        return "from";
    if (strcmp(h->to, m->to) != 0)
        return "to";
    if (h->step != m->step)
        return "step";
    if (h->mode != m->mode)
        return "mode";
    if (strcmp(h->list, m->list) != 0)
        return "list";
    if (h->parts != m->parts)
        return "parts";
    if (h->total != m->total)
        return "total";
    return NULL;
}

static int s_collect_first(kt_psi_collect_t *c, const kt_psi_msg_t *m, kt_diag_t *d)
{
    c->pts = malloc(m->total ? (size_t)m->total * P : 1);
    c->seen = calloc(m->parts, 1);
    if (c->pts == NULL || c->seen == NULL) {
        free(c->pts);
        free(c->seen);
        c->pts = c->seen = NULL;
        kt_diag_set(d, KT_ENOMEM, "out of memory collecting a psi set");
        return KT_ENOMEM;
    }
    c->hdr = *m;
    c->hdr.pts = NULL;
    c->hdr.npts = 0;
    c->have = 1;
    return 0;
}

int kt_psi_collect_add(kt_psi_collect_t *c, const kt_psi_msg_t *m, kt_diag_t *d)
{
    const char *field;
    int rc;

    if ((rc = s_check_chunk(m, d)) != 0)
        return rc;
    if (c->seen == NULL && (rc = s_collect_first(c, m, d)) != 0)
        return rc;
    if ((field = s_mismatch(&c->hdr, m)) != NULL)
        return kt_diag_set(d, KT_EMALFORMED,
                           "psi message: part %u does not match the first part's '%s'",
                           (unsigned)m->part, field);
    if (c->seen[m->part])
        return kt_diag_set(d, KT_EREPLAY, "psi message: part %u arrived twice", (unsigned)m->part);
    if (m->npts)
        memcpy(c->pts + (size_t)m->part * KT_PSI_CHUNK_POINTS * P, m->pts, m->npts * P);
    c->seen[m->part] = 1;
    c->nseen++;
    return 0;
}

int kt_psi_collect_done(const kt_psi_collect_t *c)
{
    return c->have && c->nseen == c->hdr.parts;
}

const kt_psi_msg_t *kt_psi_collect_header(const kt_psi_collect_t *c)
{
    return c->have ? &c->hdr : NULL;
}

const uint8_t *kt_psi_collect_points(const kt_psi_collect_t *c, size_t *n)
{
    if (!kt_psi_collect_done(c)) {
        *n = 0;
        return NULL;
    }
    *n = c->hdr.total;
    return c->pts;
}
