/*
 * record.h - record types, the field registry of DOMAIN.md §4, validation and
 * canonical (deterministic) CBOR encoding.
 *
 * A kt_record_t is a record type plus a set of fields that have each passed
 * their field's rule. Setters validate as they go; kt_record_validate() checks
 * what only the whole record can tell (required fields, date order).
 *
 * Canonical form (RFC 8949 §4.2.1 core deterministic encoding):
 *   map(2) { "type": text, "fields": map(n) { name: value, ... } }
 * with map keys sorted by their encoded bytes (shorter key first, then
 * bytewise), integers in their shortest form, definite lengths only. Values:
 * enum, date ("YYYY-MM-DD"), string and identifier fields as text strings;
 * int fields as CBOR integers; bool fields as true/false. Fields that are not
 * set are absent. kt_record_decode() accepts only this exact form: any input
 * whose re-encoding differs byte for byte is KT_EMALFORMED.
 *
 * Diagnostics name the field and the rule, never the value.
 */
#ifndef KETEN_RECORD_H
#define KETEN_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "keten/error.h"

#define KT_RECORD_MAX_BYTES 8192 /* upper bound of a canonical record */
#define KT_RECORD_NAME_MAX 64    /* longest type or field name */
#define KT_LEERLING_ID_BYTES 9   /* BSN and onderwijsnummer: 9 digits */
/* A pairwise pseudonym of leerling_id (kt_envelope_peer_pseudonym):
 * "ps-" + 26 lowercase RFC 4648 base32 characters (128 bits, no padding). */
#define KT_PSEUDONYM_PREFIX "ps-"
#define KT_PSEUDONYM_CHARS 29 /* prefix + 26 */
#define KT_PSEUDONYM_BYTES 30 /* with the NUL */

typedef enum {
    KT_FIELD_ENUM,   /* one of the registry's codes */
    KT_FIELD_INT,    /* integer within the field's [min, max] */
    KT_FIELD_DATE,   /* YYYY-MM-DD, a real calendar date */
    KT_FIELD_BOOL,   /* true / false */
    KT_FIELD_STRING, /* pattern-checked code string (brin, woongemeente, ...) */
    KT_FIELD_PUPIL,  /* leerling_id: BSN, onderwijsnummer or pairwise pseudonym */
} kt_field_kind_t;

/* The two forms a leerling_id takes: the number itself (BSN or
 * onderwijsnummer) or a pairwise pseudonym; a policy rule says which one a
 * partner sends and expects. */
typedef enum {
    KT_PUPIL_ID_INVALID = 0,
    KT_PUPIL_ID_NUMBER = 1,
    KT_PUPIL_ID_PSEUDONYM = 2,
} kt_pupil_id_form_t;

typedef struct kt_record kt_record_t;

/* Registry introspection (for help texts, policies and docs). */
size_t kt_record_type_count(void);
const char *kt_record_type_name(size_t i);      /* NULL past the end */
int kt_record_type_known(const char *type);     /* 1 or 0 */
size_t kt_record_field_count(const char *type); /* 0 for an unknown type */
const char *kt_record_field_name(const char *type, size_t i);
int kt_record_field_kind(const char *type, const char *field, kt_field_kind_t *kind) KT_WUR;
/* As kt_record_field_kind, with a diag for an unknown type or field
 * ("unknown field 'naam' for record type thuiszitter"). kind may be NULL. */
int kt_record_field_lookup(const char *type, const char *field, kt_field_kind_t *kind,
                           kt_diag_t *d) KT_WUR;
/* 1 if s is [a-z0-9_]{1,64}: a name that is safe to show in a diagnostic. */
int kt_record_is_name(const char *s);

/* Identifier checks of DOMAIN.md §4.2 (exposed for signals and imports). */
int kt_record_is_bsn(const char *s);             /* 9 digits, elfproef */
int kt_record_is_onderwijsnummer(const char *s); /* 9 digits, starts 10, sum = 5 mod 11 */
/* "ps-" + 26 of [a-z2-7], the last one canonical (its 2 unused bits zero). */
int kt_record_is_pseudonym(const char *s);
kt_pupil_id_form_t kt_record_pupil_id_form(const char *s); /* INVALID for NULL */
/* The field every record of this type must hold besides leerling_id
 * ("begindatum", "definitie", ...); NULL for an unknown type. */
const char *kt_record_required_field(const char *type);

/* A new, empty record of a known type. KT_EINVAL (with diag) for an unknown type. */
int kt_record_new(kt_record_t **out, const char *type, kt_diag_t *d) KT_WUR;
void kt_record_destroy(kt_record_t **p); /* idempotent; wipes field values */

/* Set one field, validating it against the registry. Setting a field twice is
 * KT_EINVAL. Errors: unknown field (KT_EINVAL), wrong kind for the field
 * (KT_EMALFORMED: e.g. set_int on a date), value outside the rule (KT_EINVAL).
 * Diag reads like "field 'reden': not a code of reden (allowed: ziek, ...)". */
int kt_record_set_text(kt_record_t *r, const char *field, const char *value, kt_diag_t *d) KT_WUR;
int kt_record_set_int(kt_record_t *r, const char *field, int64_t value, kt_diag_t *d) KT_WUR;
int kt_record_set_bool(kt_record_t *r, const char *field, int value, kt_diag_t *d) KT_WUR;

/* Whole-record rules: required fields present, end dates not before start dates. */
int kt_record_validate(const kt_record_t *r, kt_diag_t *d) KT_WUR;

/* Borrowed views. */
const char *kt_record_type(const kt_record_t *r);
const char *kt_record_leerling_id(const kt_record_t *r); /* NULL when not set */
size_t kt_record_nfields(const kt_record_t *r);
const char *kt_record_field_at(const kt_record_t *r, size_t i); /* set fields, canonical order */

/* One set field's value: for INT fields *num, for BOOL fields *num (0 or 1),
 * for every other kind *text (borrowed, valid while r lives and the field is
 * set). Any out pointer may be NULL. KT_ENOENT when the field is not set. */
int kt_record_get(const kt_record_t *r, const char *field, kt_field_kind_t *kind, const char **text,
                  int64_t *num) KT_WUR;
/* Removes a set field (policies strip fields a partner may not receive);
 * KT_ENOENT when it is not set. The record may then fail kt_record_validate. */
int kt_record_unset(kt_record_t *r, const char *field) KT_WUR;

/* Canonical CBOR. kt_record_encode validates first; *out is malloc'd and the
 * caller frees it with kt_record_free_bytes (it holds personal data). */
int kt_record_encode(const kt_record_t *r, uint8_t **out, size_t *outlen, kt_diag_t *d) KT_WUR;
void kt_record_free_bytes(uint8_t *buf, size_t len);

/* Strict decode of canonical bytes into a validated record. */
int kt_record_decode(kt_record_t **out, const uint8_t *buf, size_t len, kt_diag_t *d) KT_WUR;

#endif
