/*
 * counts.h - count sets, the thuiszitter definitions of DOMAIN.md §6, the
 * totals check of published tables, and the count vector exchanged between
 * nodes (docs/reconcile.md).
 *
 * A count set is keyed (DOMAIN.md §7.1) by eenheid, definitie, scope, period
 * and breakdown, and holds named buckets, always including `onbekend` and
 * `niet_te_koppelen`. Counts with different keys are shown side by side,
 * never subtracted: kt_counts_diff refuses them.
 *
 * Pure C over plain structs: counts.c computes and checks (no JSON, no
 * database), counts_wire.c is the canonical CBOR codec (part of the
 * canonical-encoding module with record.c and receipt.c).
 */
#ifndef KETEN_COUNTS_H
#define KETEN_COUNTS_H

#include <stddef.h>
#include <stdint.h>

#include "keten/error.h"
#include "keten/registry.h"

#define KT_COUNTS_NAME_MAX 64     /* a bucket name or a key part */
#define KT_COUNTS_BUCKETS_MAX 512 /* buckets in one set */
#define KT_COUNTS_VALUE_MAX 1000000000000LL
#define KT_COUNTS_WIRE_MAX_BYTES                                                                   \
    (64 + 5 * (KT_COUNTS_NAME_MAX + 2) + KT_COUNTS_BUCKETS_MAX * (KT_COUNTS_NAME_MAX + 12))

#define KT_COUNTS_ONBEKEND "onbekend"
#define KT_COUNTS_NIET_TE_KOPPELEN "niet_te_koppelen"
#define KT_COUNTS_TOTAAL "totaal" /* the one bucket of a count without breakdown */

/* The key (DOMAIN.md §7.1). Each part is [a-z0-9_:.-]{1,64}; by is "totaal"
 * for a count without breakdown. */
typedef struct kt_counts_key {
    char eenheid[KT_COUNTS_NAME_MAX + 1];   /* thuiszitters_stand, thuiszitters_geweest */
    char definitie[KT_COUNTS_NAME_MAX + 1]; /* inspectie, breed, ... */
    char scope[KT_COUNTS_NAME_MAX + 1];     /* "lijst", "woongemeente:0268", "brin:21PA", ... */
    char period[KT_COUNTS_NAME_MAX + 1];    /* "2020-2021" or "2021-10-01" */
    char by[KT_COUNTS_NAME_MAX + 1];        /* onderwijssoort, woongemeente, ..., or totaal */
} kt_counts_key_t;

typedef struct kt_counts_bucket {
    char name[KT_COUNTS_NAME_MAX + 1];
    int64_t value;  /* 0..KT_COUNTS_VALUE_MAX; 0 when suppressed */
    int suppressed; /* 1: between 1 and threshold-1, value withheld */
} kt_counts_bucket_t;

/* A count set: buckets sorted by name (bytewise), names unique. */
typedef struct kt_counts_set {
    kt_counts_key_t key;
    kt_counts_bucket_t b[KT_COUNTS_BUCKETS_MAX];
    size_t n;
} kt_counts_set_t;

/* ---- definitions and counting (counts.c) ---- */

typedef enum {
    KT_DEF_INSPECTIE = 0,
    KT_DEF_LANGDURIG_RELATIEF,
    KT_DEF_NEGENTIG_PROCENT,
    KT_DEF_VIER_WEKEN,
    KT_DEF_EERSTE_DAG,
    KT_DEF_BREED,
    KT_DEF_NUL_PROCENT,
    KT_DEF_BREED_5A,
    KT_DEF_DRIE_MAANDEN,
    KT_DEF_COUNT
} kt_counts_def_t;

const char *kt_counts_def_name(kt_counts_def_t d);
int kt_counts_def_parse(const char *s, kt_counts_def_t *out) KT_WUR;

/* What to count. period: a schooljaar "YYYY-YYYY" (unit thuiszitters_geweest:
 * a thuiszitter at any time in 1 August .. 31 July) or a peildatum
 * "YYYY-MM-DD" (unit thuiszitters_stand). by: NULL/"" or "totaal" (one
 * bucket), onderwijssoort, woongemeente, brin, swv or duur. scope: NULL/""
 * for the whole list ("lijst"), or "woongemeente:CODE", "brin:CODE",
 * "swv:CODE" to count only those pupils. */
typedef struct kt_counts_query {
    const char *definitie;
    const char *period;
    const char *by;
    const char *scope;
} kt_counts_query_t;

/* What the count left out, besides the pupils it does not count. */
typedef struct kt_counts_stats {
    size_t entries;   /* pupils on the list */
    size_t counted;   /* in a bucket */
    size_t undecided; /* a fact the definition needs is onbekend: in no bucket */
    size_t out_of_scope;
    char undecided_reason[KT_DIAG_BYTES]; /* the first reason, e.g. "verzuim onbekend" */
} kt_counts_stats_t;

/*
 * Counts entries under q into out (key and buckets). KT_EINVAL with a
 * sentence for an unknown definition, period, breakdown or scope; KT_ENOENT
 * when the definition needs a fact the list has no column for ("definition
 * vier_weken needs column belastbaarheid (ill but able to attend), which this
 * list does not have").
 */
int kt_counts_compute(kt_counts_set_t *out, kt_counts_stats_t *stats,
                      const kt_registry_entry_t *entries, size_t n, const kt_counts_query_t *q,
                      kt_diag_t *d) KT_WUR;

/* Sum of the unsuppressed buckets. */
int64_t kt_counts_total(const kt_counts_set_t *s);

/* Marks buckets with a value from 1 to threshold-1 suppressed and sets
 * their value to 0 (it is never encoded or shown). threshold < 2 does
 * nothing. Returns how many were suppressed. */
size_t kt_counts_suppress(kt_counts_set_t *s, int64_t threshold);

/* Complementary suppression, for a set that leaves the node: when exactly
 * one bucket is suppressed, its value would follow from the total of the
 * same key asked with another breakdown (or by=totaal) minus the others,
 * so the smallest other non-zero bucket is suppressed too. Returns 1 if it
 * suppressed one. Several different breakdowns of one list can still be
 * combined; docs/reconcile.md says so. */
size_t kt_counts_suppress_complement(kt_counts_set_t *s);

/* ---- differences between two nodes' counts (counts.c) ---- */

typedef enum {
    KT_COUNTS_ABSENT = 0, /* the side has no such bucket */
    KT_COUNTS_VALUE = 1,
    KT_COUNTS_SUPPRESSED = 2,
} kt_counts_state_t;

typedef struct kt_counts_delta {
    char name[KT_COUNTS_NAME_MAX + 1];
    kt_counts_state_t a_state, b_state;
    int64_t a, b; /* 0 unless VALUE */
    int has_diff; /* neither side suppressed (an absent bucket counts as 0) */
    int64_t diff; /* b - a */
} kt_counts_delta_t;

typedef struct kt_counts_diff {
    kt_counts_delta_t d[2 * KT_COUNTS_BUCKETS_MAX];
    size_t n;      /* every bucket either side has, by name */
    size_t differ; /* deltas with has_diff and diff != 0, or with a bucket one side lacks */
} kt_counts_diff_t;

/* Per-bucket differences of two sets with the same key; KT_EINVAL ("the
 * counts have different keys (definitie): compare them side by side") when
 * the keys differ. */
int kt_counts_diff(kt_counts_diff_t *out, const kt_counts_set_t *a, const kt_counts_set_t *b,
                   kt_diag_t *d) KT_WUR;

/* ---- the totals check of published tables (counts.c) ---- */

/* One published table (the format of tests/fixtures/seed-counts.json). All
 * pointers are borrowed. v is nrows x ncols, row-major. total, when
 * has_total, has ncols values. Flows, when has_flows, are four arrays of
 * ncols values: begin + new - exits must equal end in each column. */
typedef struct kt_counts_table {
    const char *id;
    size_t ncols, nrows;
    const char *const *cols;
    const char *const *rows;
    const int64_t *v;
    int has_total;
    const int64_t *total;
    int has_flows;
    const int64_t *begin, *inflow, *exits, *end;
} kt_counts_table_t;

typedef enum {
    KT_CHECK_OK = 0,
    KT_CHECK_MISMATCH = 1,
    KT_CHECK_NO_TOTAL = 2,
} kt_counts_status_t;

const char *kt_counts_status_name(kt_counts_status_t s); /* "ok", "mismatch", "no_total" */

#define KT_COUNTS_LIKELY_MAX 8

typedef struct kt_counts_colcheck {
    int64_t sum;
    int has_stated;
    int64_t stated;
    kt_counts_status_t status;
    int64_t diff; /* stated - sum, when mismatch */
    /* diff < 0: rows whose value equals -diff (the bucket the total likely
     * leaves out); indexes into the table's rows */
    size_t likely[KT_COUNTS_LIKELY_MAX];
    size_t nlikely;
    /* flows: begin + new - exits = end */
    int has_flow;
    int64_t flow_expected; /* begin + new - exits */
    kt_counts_status_t flow_status;
    int64_t flow_diff; /* end - expected */
    /* carry-over: this column's begin against the end of the school year
     * before it, when the table holds that year too */
    int has_carry;
    size_t carry_from; /* column index of the year before */
    kt_counts_status_t carry_status;
    int64_t carry_diff; /* begin - the year before's end */
} kt_counts_colcheck_t;

/* Checks every column of t into out[0..t->ncols-1]. KT_EINVAL for a table
 * that does not hold together (no columns, more than the limits, a sum that
 * overflows), with a sentence naming the table. */
#define KT_COUNTS_TABLE_COLS_MAX 64
#define KT_COUNTS_TABLE_ROWS_MAX 1024
int kt_counts_check(kt_counts_colcheck_t *out, const kt_counts_table_t *t, kt_diag_t *d) KT_WUR;

/* The school year a column label names ("2014/2015", "2014-2015"): its first
 * year, or -1. */
int kt_counts_schooljaar(const char *label);

/* ---- the count vector (counts_wire.c) ----
 *
 * Canonical CBOR (RFC 8949 §4.2.1), keys in encoded-byte order:
 *   { "key": { "by": text, "scope": text, "period": text, "eenheid": text,
 *              "definitie": text },
 *     "buckets": [ [name: text, value: uint / null], ... ] }
 * buckets sorted by name bytewise, names unique; null marks a suppressed
 * bucket (its value never leaves the node). Decoding accepts only this
 * exact form.
 */
int kt_counts_encode(uint8_t **out, size_t *outlen, const kt_counts_set_t *s, kt_diag_t *d) KT_WUR;
void kt_counts_free_bytes(uint8_t *buf);
int kt_counts_decode(kt_counts_set_t *out, const uint8_t *buf, size_t len, kt_diag_t *d) KT_WUR;

/* 1 if s is a valid key part or bucket name: 1..64 bytes of printable
 * ASCII without '"' and '\\'. Bucket names come from published tables and
 * codes ("21PA", "0268", "geen_onderwijs"). */
int kt_counts_name_valid(const char *s);

#endif
