/*
 * record_registry.h - private to the record module: the field registry of
 * DOMAIN.md §4 and the per-field value rules. record.c builds records and
 * their canonical encoding on top of it; nothing else includes this file.
 */
#ifndef KETEN_RECORD_REGISTRY_H
#define KETEN_RECORD_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "keten/error.h"
#include "keten/record.h"

#define KT_RECORD_FIELDS_MAX 32  /* most fields of any type (thuiszitter: 31) */
#define KT_RECORD_VALUE_BYTES 32 /* longest text value (an enum code) + NUL */

struct kt_field_def {
    const char *name;
    kt_field_kind_t kind;
    const char *const *codes;        /* ENUM: NULL-terminated list */
    int64_t min, max;                /* INT: inclusive range */
    int (*check)(const char *value); /* STRING: 1 if the value fits the pattern */
    const char *rule;                /* STRING: the pattern, for diagnostics */
};

struct kt_date_order {
    const char *start, *end; /* end must not be before start */
};

struct kt_type_def {
    const char *name;
    const struct kt_field_def *const *fields;
    size_t nfields;
    const char *required; /* the defining field, besides leerling_id */
    const struct kt_date_order *order;
    size_t norder;
};

const struct kt_type_def *kt_record_reg_type_at(size_t i); /* NULL past the end */
const struct kt_type_def *kt_record_reg_find_type(const char *name);
int kt_record_reg_field_index(const struct kt_type_def *t, const char *name); /* -1 if unknown */

/* 1 if s is a short identifier ([a-z0-9_]{1,64}) that may appear in a diagnostic. */
int kt_record_reg_is_name(const char *s);

/* Value rules. Diagnostics name the field and the rule, never the value. */
int kt_record_reg_check_text(const struct kt_field_def *f, const char *value, kt_diag_t *d) KT_WUR;
int kt_record_reg_check_int(const struct kt_field_def *f, int64_t value, kt_diag_t *d) KT_WUR;

#endif
