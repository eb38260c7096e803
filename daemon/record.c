/*
 * record.c - records: a type plus validated fields, whole-record rules, and
 * the canonical CBOR form of DOMAIN.md §4 records (RFC 8949 §4.2.1).
 *
 * The only file that includes <cbor.h>. Encoding builds a libcbor tree with
 * each integer at its shortest width and the keys in canonical order;
 * decoding walks the input with libcbor's streaming decoder (which never
 * allocates), so a length taken from input is never an allocation size.
 * A decoded record is re-encoded and must match the input byte for byte.
 *
 * Field values are personal data: every buffer that held one is wiped before
 * it is freed, and no diagnostic ever contains a value.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "keten/record.h"
#include "record_registry.h"

struct kt_record {
    const struct kt_type_def *type;
    unsigned char set[KT_RECORD_FIELDS_MAX];
    int64_t num[KT_RECORD_FIELDS_MAX]; /* INT and BOOL fields */
    char text[KT_RECORD_FIELDS_MAX][KT_RECORD_VALUE_BYTES];
};

/* ---- registry introspection ---- */

size_t kt_record_type_count(void)
{
    size_t n = 0;

    while (kt_record_reg_type_at(n) != NULL)
        n++;
    return n;
}

const char *kt_record_type_name(size_t i)
{
    const struct kt_type_def *t = kt_record_reg_type_at(i);

    return t ? t->name : NULL;
}

int kt_record_type_known(const char *type)
{
    return kt_record_reg_find_type(type) != NULL;
}

size_t kt_record_field_count(const char *type)
{
    const struct kt_type_def *t = kt_record_reg_find_type(type);

    return t ? t->nfields : 0;
}

const char *kt_record_field_name(const char *type, size_t i)
{
    const struct kt_type_def *t = kt_record_reg_find_type(type);

    return t && i < t->nfields ? t->fields[i]->name : NULL;
}

int kt_record_field_kind(const char *type, const char *field, kt_field_kind_t *kind)
{
    return kt_record_field_lookup(type, field, kind, NULL);
}

const char *kt_record_required_field(const char *type)
{
    const struct kt_type_def *t = kt_record_reg_find_type(type);

    return t ? t->required : NULL;
}

int kt_record_is_name(const char *s)
{
    return kt_record_reg_is_name(s);
}

static void s_diag_unknown_type(const char *type, kt_diag_t *d)
{
    char known[KT_DIAG_BYTES] = "";
    size_t i, used = 0;

    for (i = 0; kt_record_type_name(i) != NULL && used < sizeof(known); i++) {
        int n = snprintf(known + used, sizeof(known) - used, "%s%s", i ? ", " : "",
                         kt_record_type_name(i));
        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (type != NULL && kt_record_reg_is_name(type))
        kt_diag_set(d, KT_EINVAL, "unknown record type '%s' (known: %s)", type, known);
    else
        kt_diag_set(d, KT_EINVAL, "unknown record type (not an identifier; known: %s)", known);
}

/* Index of `field` in type t, or KT_EINVAL with a diag naming it if it is safe to. */
static int s_field_index(const struct kt_type_def *t, const char *field, kt_diag_t *d)
{
    int i = kt_record_reg_field_index(t, field);

    if (i >= 0)
        return i;
    if (field != NULL && kt_record_reg_is_name(field))
        return kt_diag_set(d, KT_EINVAL, "unknown field '%s' for record type %s", field, t->name);
    return kt_diag_set(d, KT_EINVAL, "unknown field (not an identifier) for record type %s",
                       t->name);
}

int kt_record_field_lookup(const char *type, const char *field, kt_field_kind_t *kind, kt_diag_t *d)
{
    const struct kt_type_def *t = kt_record_reg_find_type(type);
    int i;

    if (t == NULL) {
        s_diag_unknown_type(type, d);
        return KT_EINVAL;
    }
    i = s_field_index(t, field, d);
    if (i < 0)
        return i;
    if (kind != NULL)
        *kind = t->fields[i]->kind;
    return 0;
}

/* ---- records ---- */

int kt_record_new(kt_record_t **out, const char *type, kt_diag_t *d)
{
    const struct kt_type_def *t = kt_record_reg_find_type(type);

    *out = NULL;
    if (t == NULL) {
        s_diag_unknown_type(type, d);
        return KT_EINVAL;
    }
    *out = calloc(1, sizeof(**out));
    if (*out == NULL) {
        kt_diag_set(d, KT_ENOMEM, "out of memory");
        return KT_ENOMEM;
    }
    (*out)->type = t;
    return 0;
}

void kt_record_destroy(kt_record_t **p)
{
    if (p == NULL || *p == NULL)
        return;
    explicit_bzero(*p, sizeof(**p));
    free(*p);
    *p = NULL;
}

/* The index of an unset field, or a negative code. */
static int s_settable(kt_record_t *r, const char *field, kt_diag_t *d)
{
    int i = s_field_index(r->type, field, d);

    if (i >= 0 && r->set[i])
        return kt_diag_set(d, KT_EINVAL, "field '%s': set twice", r->type->fields[i]->name);
    return i;
}

int kt_record_set_text(kt_record_t *r, const char *field, const char *value, kt_diag_t *d)
{
    const struct kt_field_def *f;
    int i = s_settable(r, field, d), rc;

    if (i < 0)
        return i;
    f = r->type->fields[i];
    rc = kt_record_reg_check_text(f, value, d);
    if (rc < 0)
        return rc;
    /* every valid value is shorter than this; the check keeps the copy safe */
    if (strlen(value) >= KT_RECORD_VALUE_BYTES)
        return kt_diag_set(d, KT_EINVAL, "field '%s': value too long", f->name);
    memcpy(r->text[i], value, strlen(value) + 1);
    r->set[i] = 1;
    return 0;
}

int kt_record_set_int(kt_record_t *r, const char *field, int64_t value, kt_diag_t *d)
{
    int i = s_settable(r, field, d), rc;

    if (i < 0)
        return i;
    rc = kt_record_reg_check_int(r->type->fields[i], value, d);
    if (rc < 0)
        return rc;
    r->num[i] = value;
    r->set[i] = 1;
    return 0;
}

int kt_record_set_bool(kt_record_t *r, const char *field, int value, kt_diag_t *d)
{
    const struct kt_field_def *f;
    int i = s_settable(r, field, d);

    if (i < 0)
        return i;
    f = r->type->fields[i];
    if (f->kind != KT_FIELD_BOOL)
        return kt_diag_set(d, KT_EMALFORMED, "field '%s': expects %s, not true or false", f->name,
                           f->kind == KT_FIELD_INT ? "an integer" : "text");
    r->num[i] = value != 0;
    r->set[i] = 1;
    return 0;
}

static const char *s_text_of(const kt_record_t *r, const char *field)
{
    int i = kt_record_reg_field_index(r->type, field);

    return i >= 0 && r->set[i] ? r->text[i] : NULL;
}

int kt_record_validate(const kt_record_t *r, kt_diag_t *d)
{
    const char *required[] = {"leerling_id", r->type->required};
    size_t i;

    for (i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        if (s_text_of(r, required[i]) == NULL)
            return kt_diag_set(d, KT_EINVAL, "record type %s: required field '%s' is missing",
                               r->type->name, required[i]);
    for (i = 0; i < r->type->norder; i++) {
        const struct kt_date_order *o = &r->type->order[i];
        const char *start = s_text_of(r, o->start), *end = s_text_of(r, o->end);

        /* YYYY-MM-DD compares correctly as text */
        if (start != NULL && end != NULL && strcmp(end, start) < 0)
            return kt_diag_set(d, KT_EINVAL, "field '%s': before '%s'", o->end, o->start);
    }
    return 0;
}

const char *kt_record_type(const kt_record_t *r)
{
    return r->type->name;
}

const char *kt_record_leerling_id(const kt_record_t *r)
{
    return s_text_of(r, "leerling_id");
}

/* RFC 8949 §4.2.1 order of text keys: shorter first, then bytewise. */
static int s_key_before(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    return la != lb ? la < lb : strcmp(a, b) < 0;
}

/* Every field of each type in canonical key order, sorted once: the order
 * depends on the type only, and sorting on every call (once per field by
 * the policy checks) was 7-12 % of a node's CPU (docs/PERFORMANCE.md). */
#define S_TYPES_MAX 16
static int s_order[S_TYPES_MAX][KT_RECORD_FIELDS_MAX];
static pthread_once_t s_order_once = PTHREAD_ONCE_INIT;

static void s_order_init(void)
{
    const struct kt_type_def *t;
    size_t k, i, j;

    for (k = 0; k < S_TYPES_MAX && (t = kt_record_reg_type_at(k)) != NULL; k++)
        for (i = 0; i < t->nfields; i++) {
            for (j = i;
                 j > 0 && s_key_before(t->fields[i]->name, t->fields[s_order[k][j - 1]]->name); j--)
                s_order[k][j] = s_order[k][j - 1];
            s_order[k][j] = (int)i;
        }
}

/* The canonical order of r's type, or NULL for a type past S_TYPES_MAX. */
static const int *s_type_order(const kt_record_t *r)
{
    size_t k;

    pthread_once(&s_order_once, s_order_init);
    for (k = 0; k < S_TYPES_MAX && kt_record_reg_type_at(k) != NULL; k++)
        if (kt_record_reg_type_at(k) == r->type)
            return s_order[k];
    return NULL;
}

/* Indexes of the set fields in canonical key order; returns their number. */
static size_t s_canonical(const kt_record_t *r, int idx[KT_RECORD_FIELDS_MAX])
{
    const int *order = s_type_order(r);
    size_t n = 0, i, j;

    if (order != NULL) {
        for (i = 0; i < r->type->nfields; i++)
            if (r->set[order[i]])
                idx[n++] = order[i];
        return n;
    }
    for (i = 0; i < r->type->nfields; i++) {
        if (!r->set[i])
            continue;
        for (j = n;
             j > 0 && s_key_before(r->type->fields[i]->name, r->type->fields[idx[j - 1]]->name);
             j--)
            idx[j] = idx[j - 1];
        idx[j] = (int)i;
        n++;
    }
    return n;
}

size_t kt_record_nfields(const kt_record_t *r)
{
    int idx[KT_RECORD_FIELDS_MAX];

    return s_canonical(r, idx);
}

const char *kt_record_field_at(const kt_record_t *r, size_t i)
{
    int idx[KT_RECORD_FIELDS_MAX];

    return i < s_canonical(r, idx) ? r->type->fields[idx[i]]->name : NULL;
}

int kt_record_get(const kt_record_t *r, const char *field, kt_field_kind_t *kind, const char **text,
                  int64_t *num)
{
    int i = kt_record_reg_field_index(r->type, field);

    if (i < 0 || !r->set[i])
        return KT_ENOENT;
    if (kind != NULL)
        *kind = r->type->fields[i]->kind;
    if (text != NULL)
        *text = r->text[i];
    if (num != NULL)
        *num = r->num[i];
    return 0;
}

int kt_record_unset(kt_record_t *r, const char *field)
{
    int i = kt_record_reg_field_index(r->type, field);

    if (i < 0 || !r->set[i])
        return KT_ENOENT;
    explicit_bzero(r->text[i], sizeof(r->text[i]));
    r->num[i] = 0;
    r->set[i] = 0;
    return 0;
}

/* ---- canonical encoding ---- */

/* libcbor keeps the width it is given, so choose the shortest one here. */
static cbor_item_t *s_build_int(int64_t v)
{
    uint64_t u = v >= 0 ? (uint64_t)v : (uint64_t)(-(v + 1));

    if (u <= UINT8_MAX)
        return v >= 0 ? cbor_build_uint8((uint8_t)u) : cbor_build_negint8((uint8_t)u);
    if (u <= UINT16_MAX)
        return v >= 0 ? cbor_build_uint16((uint16_t)u) : cbor_build_negint16((uint16_t)u);
    if (u <= UINT32_MAX)
        return v >= 0 ? cbor_build_uint32((uint32_t)u) : cbor_build_negint32((uint32_t)u);
    return v >= 0 ? cbor_build_uint64(u) : cbor_build_negint64(u);
}

/* Wipe the bytes of every string in a tree we built, then free it. */
static void s_wipe(cbor_item_t *it)
{
    size_t i;

    if (cbor_isa_string(it) && cbor_string_is_definite(it) && cbor_string_handle(it) != NULL) {
        explicit_bzero(cbor_string_handle(it), cbor_string_length(it));
    } else if (cbor_isa_map(it)) {
        struct cbor_pair *p = cbor_map_handle(it);

        for (i = 0; i < cbor_map_size(it); i++) {
            if (p[i].key != NULL)
                s_wipe(p[i].key);
            if (p[i].value != NULL)
                s_wipe(p[i].value);
        }
    }
}

static void s_release(cbor_item_t **it)
{
    if (*it == NULL)
        return;
    if (cbor_refcount(*it) == 1)
        s_wipe(*it);
    cbor_decref(it);
}

/* Add k: v to a definite map; takes both references, in every case. */
static int s_put(cbor_item_t *map, cbor_item_t *k, cbor_item_t *v)
{
    int rc = KT_ENOMEM;

    if (k != NULL && v != NULL && cbor_map_add(map, (struct cbor_pair){.key = k, .value = v}))
        rc = 0; /* the map now holds its own references */
    s_release(&k);
    s_release(&v);
    return rc;
}

static cbor_item_t *s_build_value(const kt_record_t *r, int i)
{
    switch (r->type->fields[i]->kind) {
    case KT_FIELD_INT:
        return s_build_int(r->num[i]);
    case KT_FIELD_BOOL:
        return cbor_build_bool(r->num[i] != 0);
    default:
        return cbor_build_string(r->text[i]);
    }
}

static int s_build_tree(const kt_record_t *r, cbor_item_t **out)
{
    int idx[KT_RECORD_FIELDS_MAX], rc = KT_ENOMEM;
    size_t n = s_canonical(r, idx), i;
    cbor_item_t *fields = cbor_new_definite_map(n);

    *out = cbor_new_definite_map(2);
    if (*out == NULL || fields == NULL)
        goto out;
    for (i = 0; i < n; i++) {
        rc = s_put(fields, cbor_build_string(r->type->fields[idx[i]]->name),
                   s_build_value(r, idx[i]));
        if (rc < 0)
            goto out;
    }
    /* "type" (4 bytes) sorts before "fields" (6 bytes) */
    rc = s_put(*out, cbor_build_string("type"), cbor_build_string(r->type->name));
    if (rc == 0)
        rc = s_put(*out, cbor_build_string("fields"), cbor_incref(fields));
out:
    s_release(&fields);
    if (rc < 0)
        s_release(out);
    return rc;
}

int kt_record_encode(const kt_record_t *r, uint8_t **out, size_t *outlen, kt_diag_t *d)
{
    uint8_t tmp[KT_RECORD_MAX_BYTES];
    cbor_item_t *root = NULL;
    size_t n;
    int rc;

    *out = NULL;
    *outlen = 0;
    rc = kt_record_validate(r, d);
    if (rc < 0)
        goto out;
    rc = s_build_tree(r, &root);
    if (rc < 0) {
        kt_diag_set(d, rc, "out of memory");
        goto out;
    }
    n = cbor_serialize(root, tmp, sizeof(tmp));
    if (n == 0) {
        rc = kt_diag_set(d, KT_ETOOBIG, "record larger than %d bytes", KT_RECORD_MAX_BYTES);
        goto out;
    }
    *out = malloc(n);
    if (*out == NULL) {
        rc = kt_diag_set(d, KT_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(*out, tmp, n);
    *outlen = n;
out:
    s_release(&root);
    explicit_bzero(tmp, sizeof(tmp)); /* a failed serialization may have written part of it */
    return rc;
}

void kt_record_free_bytes(uint8_t *buf, size_t len)
{
    if (buf == NULL)
        return;
    explicit_bzero(buf, len);
    free(buf);
}

/* ---- strict decoding ---- */

enum { EV_NONE, EV_UINT, EV_NEGINT, EV_TEXT, EV_MAP, EV_BOOL, EV_OTHER };

/* The one item libcbor's streaming decoder reported; text points into the input. */
struct s_event {
    int kind;
    uint64_t u; /* UINT; NEGINT (the value is -1 - u); MAP size; BOOL */
    const uint8_t *p;
    size_t n;
};

static void s_ev(void *c, int kind, uint64_t u)
{
    ((struct s_event *)c)->kind = kind;
    ((struct s_event *)c)->u = u;
}

static void s_on_u8(void *c, uint8_t v)
{
    s_ev(c, EV_UINT, v);
}
static void s_on_u16(void *c, uint16_t v)
{
    s_ev(c, EV_UINT, v);
}
static void s_on_u32(void *c, uint32_t v)
{
    s_ev(c, EV_UINT, v);
}
static void s_on_u64(void *c, uint64_t v)
{
    s_ev(c, EV_UINT, v);
}
static void s_on_n8(void *c, uint8_t v)
{
    s_ev(c, EV_NEGINT, v);
}
static void s_on_n16(void *c, uint16_t v)
{
    s_ev(c, EV_NEGINT, v);
}
static void s_on_n32(void *c, uint32_t v)
{
    s_ev(c, EV_NEGINT, v);
}
static void s_on_n64(void *c, uint64_t v)
{
    s_ev(c, EV_NEGINT, v);
}
static void s_on_map(void *c, size_t n)
{
    s_ev(c, EV_MAP, n);
}
static void s_on_bool(void *c, bool v)
{
    s_ev(c, EV_BOOL, v);
}
static void s_on_other(void *c)
{
    s_ev(c, EV_OTHER, 0);
}
static void s_on_other_n(void *c, size_t n)
{
    (void)n;
    s_ev(c, EV_OTHER, 0);
}
static void s_on_other_u64(void *c, uint64_t v)
{
    (void)v;
    s_ev(c, EV_OTHER, 0);
}
static void s_on_other_f(void *c, float v)
{
    (void)v;
    s_ev(c, EV_OTHER, 0);
}
static void s_on_other_d(void *c, double v)
{
    (void)v;
    s_ev(c, EV_OTHER, 0);
}
static void s_on_other_s(void *c, cbor_data p, size_t n)
{
    (void)p;
    (void)n;
    s_ev(c, EV_OTHER, 0);
}

static void s_on_text(void *c, cbor_data p, size_t n)
{
    s_ev(c, EV_TEXT, 0);
    ((struct s_event *)c)->p = p;
    ((struct s_event *)c)->n = n;
}

/* Everything but definite text, integers, definite maps and booleans is "other". */
static const struct cbor_callbacks s_callbacks = {
    .uint8 = s_on_u8,
    .uint16 = s_on_u16,
    .uint32 = s_on_u32,
    .uint64 = s_on_u64,
    .negint8 = s_on_n8,
    .negint16 = s_on_n16,
    .negint32 = s_on_n32,
    .negint64 = s_on_n64,
    .byte_string_start = s_on_other,
    .byte_string = s_on_other_s,
    .string = s_on_text,
    .string_start = s_on_other,
    .indef_array_start = s_on_other,
    .array_start = s_on_other_n,
    .indef_map_start = s_on_other,
    .map_start = s_on_map,
    .tag = s_on_other_u64,
    .float2 = s_on_other_f,
    .float4 = s_on_other_f,
    .float8 = s_on_other_d,
    .undefined = s_on_other,
    .null = s_on_other,
    .boolean = s_on_bool,
    .indef_break = s_on_other,
};

/* Read one item at *pos; 1 if it is one we may accept. */
static int s_next(const uint8_t *buf, size_t len, size_t *pos, struct s_event *ev)
{
    struct cbor_decoder_result res;

    memset(ev, 0, sizeof(*ev));
    if (*pos >= len)
        return 0;
    res = cbor_stream_decode(buf + *pos, len - *pos, &s_callbacks, ev);
    if (res.status != CBOR_DECODER_FINISHED || ev->kind == EV_NONE || ev->kind == EV_OTHER ||
        res.read == 0 || res.read > len - *pos)
        return 0;
    *pos += res.read;
    return 1;
}

/* A text item of 1..KT_RECORD_NAME_MAX bytes without NUL, copied into name. */
static int s_next_name(const uint8_t *buf, size_t len, size_t *pos,
                       char name[KT_RECORD_NAME_MAX + 1])
{
    struct s_event ev;

    if (!s_next(buf, len, pos, &ev) || ev.kind != EV_TEXT || ev.n == 0 ||
        ev.n > KT_RECORD_NAME_MAX || memchr(ev.p, '\0', ev.n) != NULL)
        return 0;
    memcpy(name, ev.p, ev.n);
    name[ev.n] = '\0';
    return 1;
}

static int s_decode_head(const uint8_t *buf, size_t len, size_t *pos,
                         char type[KT_RECORD_NAME_MAX + 1], size_t *nfields, kt_diag_t *d)
{
    char key[KT_RECORD_NAME_MAX + 1];
    struct s_event ev;

    if (!s_next(buf, len, pos, &ev) || ev.kind != EV_MAP || ev.u != 2 ||
        !s_next_name(buf, len, pos, key) || strcmp(key, "type") != 0)
        return kt_diag_set(d, KT_EMALFORMED, "record: expected a map of 'type' and 'fields'");
    if (!s_next_name(buf, len, pos, type))
        return kt_diag_set(d, KT_EMALFORMED, "record: 'type' is not a record type name");
    if (!s_next_name(buf, len, pos, key) || strcmp(key, "fields") != 0 ||
        !s_next(buf, len, pos, &ev) || ev.kind != EV_MAP)
        return kt_diag_set(d, KT_EMALFORMED, "record: expected 'fields' map after 'type'");
    *nfields = (size_t)ev.u;
    return 0;
}

static int s_decode_text(kt_record_t *r, const char *name, const struct s_event *ev, kt_diag_t *d)
{
    char val[KT_RECORD_VALUE_BYTES];
    int rc;

    if (ev->n >= sizeof(val) || memchr(ev->p, '\0', ev->n) != NULL)
        return kt_diag_set(d, KT_EINVAL, "field '%s': text longer than any valid value", name);
    memcpy(val, ev->p, ev->n);
    val[ev->n] = '\0';
    rc = kt_record_set_text(r, name, val, d);
    explicit_bzero(val, sizeof(val));
    return rc;
}

static int s_decode_value(kt_record_t *r, const char *name, const struct s_event *ev, kt_diag_t *d)
{
    switch (ev->kind) {
    case EV_TEXT:
        return s_decode_text(r, name, ev, d);
    case EV_BOOL:
        return kt_record_set_bool(r, name, ev->u != 0, d);
    case EV_UINT:
    case EV_NEGINT:
        if (ev->u > INT64_MAX)
            return kt_diag_set(d, KT_EINVAL, "field '%s': integer out of range", name);
        return kt_record_set_int(r, name,
                                 ev->kind == EV_UINT ? (int64_t)ev->u : -(int64_t)ev->u - 1, d);
    default:
        return kt_diag_set(d, KT_EMALFORMED, "field '%s': not text, an integer or a boolean", name);
    }
}

static int s_decode_fields(kt_record_t *r, const uint8_t *buf, size_t len, size_t *pos,
                           size_t nfields, kt_diag_t *d)
{
    char name[KT_RECORD_NAME_MAX + 1];
    struct s_event ev;
    size_t i;
    int rc = 0;

    if (nfields > r->type->nfields)
        return kt_diag_set(d, KT_EMALFORMED, "record: more fields than type %s has", r->type->name);
    for (i = 0; i < nfields && rc == 0; i++) {
        if (!s_next_name(buf, len, pos, name))
            return kt_diag_set(d, KT_EMALFORMED, "record: field %zu has no valid name", i + 1);
        rc = kt_record_field_lookup(r->type->name, name, NULL, d);
        if (rc == 0 && !s_next(buf, len, pos, &ev))
            rc = kt_diag_set(d, KT_EMALFORMED, "field '%s': malformed value", name);
        if (rc == 0)
            rc = s_decode_value(r, name, &ev, d);
    }
    return rc;
}

static int s_check_canonical(const kt_record_t *r, const uint8_t *buf, size_t len, kt_diag_t *d)
{
    uint8_t *enc = NULL;
    size_t n = 0;
    int rc = kt_record_encode(r, &enc, &n, d);

    if (rc == 0 && (n != len || memcmp(enc, buf, len) != 0))
        rc = kt_diag_set(d, KT_EMALFORMED, "record: not in canonical CBOR form (RFC 8949 §4.2.1)");
    kt_record_free_bytes(enc, n);
    return rc;
}

int kt_record_decode(kt_record_t **out, const uint8_t *buf, size_t len, kt_diag_t *d)
{
    char type[KT_RECORD_NAME_MAX + 1] = "";
    kt_record_t *r = NULL;
    size_t pos = 0, nfields = 0;
    int rc;

    *out = NULL;
    if (len > KT_RECORD_MAX_BYTES)
        return kt_diag_set(d, KT_ETOOBIG, "record: larger than %d bytes", KT_RECORD_MAX_BYTES);
    rc = s_decode_head(buf, len, &pos, type, &nfields, d);
    if (rc == 0)
        rc = kt_record_new(&r, type, d);
    if (rc == 0)
        rc = s_decode_fields(r, buf, len, &pos, nfields, d);
    if (rc == 0 && pos != len)
        rc = kt_diag_set(d, KT_EMALFORMED, "record: trailing bytes after the record");
    if (rc == 0)
        rc = kt_record_validate(r, d);
    if (rc == 0)
        rc = s_check_canonical(r, buf, len, d);
    if (rc == 0) {
        *out = r;
        r = NULL;
    }
    kt_record_destroy(&r);
    return rc;
}
