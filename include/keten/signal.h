/*
 * signal.h - attendance at the school node, and the signal rules of
 * DOMAIN.md §5 that turn it into candidate records (docs/signals.md).
 *
 * Three layers, each testable on its own:
 *   signals.conf  the school's code mapping, the regional thresholds and the
 *                 comparators (kt_signal_conf_*; libconfig);
 *   CSV import    an attendance export into checked rows (kt_signal_csv_parse;
 *                 libcsv), all or nothing, errors naming line and column;
 *   rules         pure functions over one pupil's days (kt_signal_evaluate).
 * The store layer (signal_store.c) keeps the rows keyed (subject pseudonym,
 * date), the pupil's ids locked, and what was submitted.
 *
 * Raw attendance never leaves the node: records built here carry the rule's
 * code and numbers (minutes, weeks, percentages, counts), never a row.
 * Diagnostics name lines, columns, settings and codes, never a value.
 */
#ifndef KETEN_SIGNAL_H
#define KETEN_SIGNAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "keten/conf.h"
#include "keten/error.h"
#include "keten/record.h"
#include "keten/store.h"
#include "keten/vault.h"

#define KT_SIGNAL_CONF_NAME "signals.conf" /* next to ketend.conf */
#define KT_SIGNAL_CSV_MAX_BYTES 786432     /* one import (the control line is 1 MiB) */
#define KT_SIGNAL_ROWS_MAX 20000           /* rows in one import */
#define KT_SIGNAL_CODES_MAX 64             /* absence codes in the mapping */
#define KT_SIGNAL_CODE_MAX 16              /* bytes of a school's code */
#define KT_SIGNAL_NUMBER_MAX 20            /* bytes of the school's own pupil number */
#define KT_SIGNAL_DAY_MINUTES 1440         /* most planned minutes on one day */
#define KT_SIGNAL_DATE_BYTES 11
#define KT_SIGNAL_RETENTION_MAX 3650

/* keten's absence categories. */
typedef enum {
    KT_CAT_AANWEZIG = 0, /* no absence (the code for a day without absence) */
    KT_CAT_ZIEK,
    KT_CAT_VERLOF,     /* geoorloofd: verlof (art. 11) */
    KT_CAT_GEOORLOOFD, /* geoorloofd: other */
    KT_CAT_ONGEOORLOOFD,
    KT_CAT_TE_LAAT, /* ongeoorloofd lateness: counts towards the 16 hours */
    KT_CAT_LUXE,    /* ongeoorloofd holiday: a melding of its own, not counted */
    KT_CAT_COUNT
} kt_signal_cat_t;

/* Flags a code carries besides its category. */
#define KT_SIGNAL_ONDUIDELIJK 0x1u /* the school confirms "onduidelijk" (ziek_10d) */
#define KT_SIGNAL_OPVALLEND 0x2u   /* the school marks conspicuous sickness (ziek_opvallend) */

typedef enum { KT_CMP_NONE = 0, KT_CMP_GT = 1, KT_CMP_GE = 2 } kt_signal_cmp_t;

/* The rules, in DOMAIN.md §5 order. */
typedef enum {
    KT_RULE_WETTELIJK_16U = 0,
    KT_RULE_VROEG_10U,
    KT_RULE_GEOORLOOFD_LT50,
    KT_RULE_ZIEK_3X_2MND,
    KT_RULE_ZIEK_10D,
    KT_RULE_ZIEK_4D_MAAND,
    KT_RULE_ZIEK_OPVALLEND,
    KT_RULE_ZIEK_4X_12W,
    KT_RULE_ZIEK_2W,
    KT_RULE_COUNT
} kt_signal_rule_t;

/* One rule's regional setting. Unused members are 0. */
typedef struct kt_signal_threshold {
    int enabled;         /* the rule appears in signals.conf */
    kt_signal_cmp_t cmp; /* required: no default (DOMAIN.md §5.1) */
    int64_t drempel;     /* minutes, weeks, days or count: see docs/signals.md */
    int weken;           /* window in lesweken (16u, 10u) or weeks (4x_12w) */
    int maanden;         /* window in calendar months (3x_2mnd, 4d_maand, opvallend) */
    int max_dagen;       /* ziek_3x_2mnd: only sick reports of at most this many days */
    int pct;             /* geoorloofd_lt50: the attendance line, percent */
} kt_signal_threshold_t;

typedef struct kt_signal_code {
    char code[KT_SIGNAL_CODE_MAX + 1];
    kt_signal_cat_t cat;
    unsigned flags;
} kt_signal_code_t;

typedef struct kt_signal_conf {
    int retention_days; /* raw attendance; required */
    kt_signal_code_t codes[KT_SIGNAL_CODES_MAX];
    size_t ncodes;
    kt_signal_threshold_t rule[KT_RULE_COUNT];
} kt_signal_conf_t;

/* One imported row. */
typedef struct kt_signal_row {
    char number[KT_SIGNAL_NUMBER_MAX + 1];      /* the school's own pupil number */
    char leerling_id[KT_LEERLING_ID_BYTES + 1]; /* BSN or onderwijsnummer */
    char geboortedatum[KT_SIGNAL_DATE_BYTES];
    char datum[KT_SIGNAL_DATE_BYTES];
    int lestijd; /* planned minutes */
    int afwezig; /* minutes absent */
    kt_signal_cat_t cat;
    unsigned flags;
} kt_signal_row_t;

/* One pupil's day, as the rules see it (no identity). */
typedef struct kt_signal_day {
    char datum[KT_SIGNAL_DATE_BYTES];
    int lestijd, afwezig;
    kt_signal_cat_t cat;
    unsigned flags;
} kt_signal_day_t;

/* A rule that fires on the evaluation date, or a case that closed. */
typedef struct kt_signal_hit {
    kt_signal_rule_t rule;
    char episode[KT_SIGNAL_DATE_BYTES]; /* when this run began: the dedup key */
    int closed;                         /* geoorloofd_lt50: the case closed (boven_50_pct) */
    char einddatum[KT_SIGNAL_DATE_BYTES];
    /* evidence: numbers only */
    char periode_start[KT_SIGNAL_DATE_BYTES], periode_eind[KT_SIGNAL_DATE_BYTES];
    int64_t minuten;       /* ongeoorloofd minutes in the window (16u, 10u) */
    int te_laat;           /* late arrivals in the window */
    int weken;             /* lesweken in the window, or weeks below the line */
    int pct;               /* attendance of the last counted week, percent (floor) */
    int ziekmeldingen;     /* sick reports in the window */
    int dagen;             /* sick days counted */
    kt_signal_cat_t reden; /* ziek, verlof or geoorloofd (lt50) */
} kt_signal_hit_t;

#define KT_SIGNAL_HITS_MAX (2 * KT_RULE_COUNT)

/* signal.c: codes */
const char *kt_signal_rule_name(kt_signal_rule_t r); /* the criterium code */
int kt_signal_rule_parse(const char *s, kt_signal_rule_t *out) KT_WUR;
const char *kt_signal_cat_name(kt_signal_cat_t c);
int kt_signal_cat_parse(const char *s, kt_signal_cat_t *out) KT_WUR;
const char *kt_signal_cmp_name(kt_signal_cmp_t c); /* "gt", "ge", "" */

/* signal.c: the rules (pure). days: one pupil's, sorted by date, unique.
 * Only days on or before date count. Writes at most cap hits; returns how
 * many fired (may exceed cap), or KT_EINVAL for a bad date. */
int kt_signal_evaluate(const kt_signal_conf_t *c, const kt_signal_day_t *days, size_t n,
                       const char *date, kt_signal_hit_t *out, size_t cap) KT_WUR;
/* The geoorloofd_lt50 episode that began on episode: 1 with *hit set to the
 * closure (closed = 1) if it closed on or before date, 0 if it is still open
 * or never opened. */
int kt_signal_lt50_closed(const kt_signal_conf_t *c, const kt_signal_day_t *days, size_t n,
                          const char *episode, const char *date, kt_signal_hit_t *hit);

/* signal_import.c: configuration. Every error as "FILE:LINE: message". */
int kt_signal_conf_parse(kt_signal_conf_t *out, const char *name, const char *text, size_t len,
                         kt_conf_errors_t *errs) KT_WUR;
int kt_signal_conf_load(kt_signal_conf_t *out, const char *path, kt_conf_errors_t *errs) KT_WUR;
/* The mapping of a school's code, or NULL. */
const kt_signal_code_t *kt_signal_conf_code(const kt_signal_conf_t *c, const char *code);

/* signal_import.c: CSV. Parses a whole export into *rows (malloc'd; free
 * with kt_signal_rows_free, which wipes). On the first error nothing is
 * returned and d reads "line L, column C (name): what is wrong". */
int kt_signal_csv_parse(kt_signal_row_t **rows, size_t *n, const char *csv, size_t len,
                        const kt_signal_conf_t *c, kt_diag_t *d) KT_WUR;
void kt_signal_rows_free(kt_signal_row_t *rows, size_t n);

/* signal_store.c: the tables (schema v2) */

/* Stores rows in one transaction of its own: each (pupil, date) replaces
 * what was there. expires = date + retention. *pupils: distinct pupils. */
int kt_signal_import(kt_store_t *st, const kt_vault_t *v, const kt_signal_conf_t *c,
                     const kt_signal_row_t *rows, size_t n, size_t *pupils, kt_diag_t *d) KT_WUR;

/* One pupil as the command layer needs it; ids unlocked (wipe with
 * kt_signal_pupils_free). */
typedef struct kt_signal_pupil {
    uint8_t subject[KT_SUBJECT_BYTES];
    char number[KT_SIGNAL_NUMBER_MAX + 1];
    char leerling_id[KT_LEERLING_ID_BYTES + 1];
    char geboortedatum[KT_SIGNAL_DATE_BYTES];
    kt_signal_day_t *days;
    size_t ndays;
} kt_signal_pupil_t;

int kt_signal_pupils_load(kt_signal_pupil_t **out, size_t *n, kt_store_t *st, const kt_vault_t *v,
                          kt_diag_t *d) KT_WUR;
void kt_signal_pupils_free(kt_signal_pupil_t *p, size_t n);

/* What was submitted per pupil, rule and episode. */
int kt_signal_sent_get(kt_store_t *st, const uint8_t subject[KT_SUBJECT_BYTES],
                       kt_signal_rule_t rule, const char *episode, int *state, char *to,
                       size_t tolen, kt_diag_t *d) KT_WUR; /* KT_ENOENT if never */
int kt_signal_sent_put(kt_store_t *st, const uint8_t subject[KT_SUBJECT_BYTES],
                       kt_signal_rule_t rule, const char *episode, int state, const char *to,
                       kt_diag_t *d) KT_WUR;
#define KT_SIGNAL_SENT_OPEN 1
#define KT_SIGNAL_SENT_CLOSED 2

/* Open geoorloofd_lt50 cases of a subject that were submitted: calls cb per
 * episode. */
int kt_signal_sent_open_lt50(kt_store_t *st, const uint8_t subject[KT_SUBJECT_BYTES],
                             int (*cb)(void *ctx, const char *episode, const char *to), void *ctx,
                             kt_diag_t *d) KT_WUR;

/* The purge job's hook: deletes attendance rows past their retention (now,
 * local date), then pupils and submission marks of whom no row remains.
 * *n: attendance rows deleted. Runs its own transaction. */
int kt_signal_purge(kt_store_t *st, time_t now, size_t *n, kt_diag_t *d) KT_WUR;

/* Rows stored (tests, status). */
int kt_signal_count(kt_store_t *st, int64_t *rows, kt_diag_t *d) KT_WUR;

#endif
