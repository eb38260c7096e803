/*
 * registry.h - imported lists of pupils (docs/reconcile.md "Registries").
 *
 * A node's registry is the records it holds plus the lists it imports: an
 * SWV's or a gemeente's thuiszitter list as CSV, one row per pupil, with the
 * facts DOMAIN.md §6 needs to decide each thuiszitter definition. Three
 * layers:
 *   CSV      kt_registry_csv_parse: every cell checked, all or nothing,
 *            errors naming line and column (never a value);
 *   store    kt_registry_import: one transaction replaces the whole list;
 *            each row is locked under the pupil's own key (subject.h), so
 *            forgetting a pupil makes their rows unreadable everywhere;
 *   reading  kt_registry_foreach / kt_registry_ids: entries decrypted one at
 *            a time, wiped after the callback.
 * A list expires (retention) and kt_registry_purge deletes it.
 */
#ifndef KETEN_REGISTRY_H
#define KETEN_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "keten/error.h"
#include "keten/record.h"
#include "keten/store.h"
#include "keten/vault.h"

#define KT_REGISTRY_NAME_MAX 64          /* list names: [a-z0-9_-]{1,64} */
#define KT_REGISTRY_CSV_MAX_BYTES 786432 /* one import (the control line is 1 MiB) */
#define KT_REGISTRY_ROWS_MAX 20000       /* rows in one list */
#define KT_REGISTRY_RETENTION_DEFAULT 90 /* days a list is kept unless told */
#define KT_REGISTRY_RETENTION_MAX 730    /* most days a list may be kept */
#define KT_REGISTRY_DATE_BYTES 11        /* "YYYY-MM-DD" + NUL */
#define KT_REGISTRY_CODE_BYTES 24        /* longest code + NUL */
#define KT_REGISTRY_DIGEST_BYTES 32

/* A yes/no fact. ABSENT: the list has no such column; ONBEKEND: the cell
 * says "onbekend". */
typedef enum {
    KT_REG_ABSENT = 0,
    KT_REG_ONBEKEND = 1,
    KT_REG_NEE = 2,
    KT_REG_JA = 3,
} kt_registry_tri_t;

/* The kind of absence (column verzuim). */
typedef enum {
    KT_VERZUIM_ONBEKEND = 0,
    KT_VERZUIM_GEEN = 1,         /* no absence registered (e.g. not enrolled) */
    KT_VERZUIM_ONGEOORLOOFD = 2, /* relatief verzuim without a valid reason */
    KT_VERZUIM_GEOORLOOFD = 3,   /* mostly ziekteverzuim */
} kt_registry_verzuim_t;

#define KT_REG_PCT_ABSENT (-2)   /* no aanwezigheid_pct column */
#define KT_REG_PCT_ONBEKEND (-1) /* "onbekend" */

/*
 * One pupil of a list. Codes are NUL-terminated: "onbekend" where the cell
 * said so, "" where the list has no such column (optional columns), and for
 * brin "geen" when the pupil has no school. Holds personal data: free arrays
 * of these with kt_registry_entries_free (wipes).
 */
typedef struct kt_registry_entry {
    char leerling_id[KT_LEERLING_ID_BYTES + 1];
    char geboortedatum[KT_REGISTRY_DATE_BYTES];
    char onderwijssoort[KT_REGISTRY_CODE_BYTES];
    char woongemeente[KT_REGISTRY_CODE_BYTES];
    char brin[KT_REGISTRY_CODE_BYTES];
    char swv[KT_REGISTRY_CODE_BYTES]; /* optional column */
    kt_registry_tri_t ingeschreven;   /* never ABSENT */
    kt_registry_verzuim_t verzuim;
    char vrijstelling[KT_REGISTRY_CODE_BYTES];   /* optional: art_5a, ..., "geen", "onbekend" */
    kt_registry_tri_t geschorst;                 /* optional */
    char belastbaarheid[KT_REGISTRY_CODE_BYTES]; /* optional: DOMAIN.md §4.8 codes */
    char begindatum[KT_REGISTRY_DATE_BYTES];
    char einddatum[KT_REGISTRY_DATE_BYTES]; /* "" while still at home */
    int aanwezigheid_pct;                   /* 0..100, or KT_REG_PCT_* */
} kt_registry_entry_t;

/* What registry-list shows: no pupils. */
typedef struct kt_registry_info {
    char name[KT_REGISTRY_NAME_MAX + 1];
    int64_t imported; /* unix seconds */
    int64_t rows;
    uint8_t digest[KT_REGISTRY_DIGEST_BYTES]; /* keyed by the node: equal lists, equal digest */
    char expires[KT_REGISTRY_DATE_BYTES];     /* the purge deletes the list on this date */
} kt_registry_info_t;

/* registry.c: names and dates */

/* 1 if s is a valid list name: 1..KT_REGISTRY_NAME_MAX of [a-z0-9_-]. */
int kt_registry_name_valid(const char *s);
/* A real calendar date "YYYY-MM-DD" into days since 1970-01-01; KT_EINVAL
 * otherwise. */
int kt_registry_date_days(const char *s, int64_t *days) KT_WUR;
/* Days since 1970-01-01 back into "YYYY-MM-DD". */
void kt_registry_days_date(char out[KT_REGISTRY_DATE_BYTES], int64_t days);
/* The date n months after days, the day clamped to the month's end
 * (2021-01-31 + 1 month = 2021-02-28). */
int64_t kt_registry_add_months(int64_t days, int n);

/* registry.c: CSV (docs/reconcile.md "CSV columns") */

/* Parses a whole list. On success *out (new, free with
 * kt_registry_entries_free) holds *n entries in file order; on any error
 * nothing, and d names the line and column ("line 7, column 3
 * (geboortedatum): not a date (YYYY-MM-DD)"), or both lines of a duplicate
 * leerling_id. Accepts ',' or ';' as separator and a UTF-8 BOM. */
int kt_registry_csv_parse(kt_registry_entry_t **out, size_t *n, const char *csv, size_t len,
                          kt_diag_t *d) KT_WUR;
void kt_registry_entries_free(kt_registry_entry_t *e, size_t n); /* wipes; NULL is fine */

/* registry.c: store */

/* Replaces list `name` with entries e in one transaction of its own (the
 * old list stays whole if anything fails). imported is unix seconds; the
 * list expires retention_days (1..KT_REGISTRY_RETENTION_MAX) after today
 * ("YYYY-MM-DD"). Duplicate leerling_ids are KT_EEXIST. With an actor
 * ("uid:N"), an audit entry (registry_imported: list name and row count,
 * no pupil) commits with the list, or neither does. */
int kt_registry_import(kt_store_t *st, const kt_vault_t *v, const char *name,
                       const kt_registry_entry_t *e, size_t n, const char *today,
                       int retention_days, int64_t imported, const char *actor,
                       kt_registry_info_t *info, kt_diag_t *d) KT_WUR;

/* One list's metadata; KT_ENOENT (with d naming the list) when it does not exist. */
int kt_registry_info(kt_registry_info_t *out, kt_store_t *st, const char *name,
                     kt_diag_t *d) KT_WUR;
/* All lists, by name; *out is new (free()). */
int kt_registry_lists(kt_registry_info_t **out, size_t *n, kt_store_t *st, kt_diag_t *d) KT_WUR;

/*
 * Calls fn for each entry of list `name`, decrypted into memory that is
 * wiped after the call; e is borrowed for the call only. A non-zero return
 * from fn stops and is returned. Entries whose pupil key is gone (forgotten:
 * crypto-shredding) cannot be read: they are skipped and counted in
 * *unreadable (may be NULL). KT_ENOENT when the list does not exist.
 */
typedef int (*kt_registry_fn)(void *ctx, const kt_registry_entry_t *e);
int kt_registry_foreach(kt_store_t *st, const kt_vault_t *v, const char *name, kt_registry_fn fn,
                        void *ctx, size_t *unreadable, kt_diag_t *d) KT_WUR;

/* Every readable entry of the list at once (for counts); free with
 * kt_registry_entries_free. */
int kt_registry_load(kt_registry_entry_t **out, size_t *n, kt_store_t *st, const kt_vault_t *v,
                     const char *name, size_t *unreadable, kt_diag_t *d) KT_WUR;

/* The leerling_ids of a list (for the private set intersection), each
 * NUL-terminated; free with kt_registry_ids_free (wipes). */
typedef char kt_registry_id_t[KT_LEERLING_ID_BYTES + 1];
int kt_registry_ids(kt_registry_id_t **out, size_t *n, kt_store_t *st, const kt_vault_t *v,
                    const char *name, size_t *unreadable, kt_diag_t *d) KT_WUR;
void kt_registry_ids_free(kt_registry_id_t *ids, size_t n);

/* Deletes every list whose expiry date is on or before today ("YYYY-MM-DD"),
 * with its entries; *n lists. Runs inside the caller's transaction (the
 * purge job's); kt_subject_forget_unused afterwards forgets the pupils of
 * whom nothing else remains. */
int kt_registry_purge(kt_store_t *st, const char *today, size_t *n, kt_diag_t *d) KT_WUR;

#endif
