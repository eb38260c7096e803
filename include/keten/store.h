/*
 * store.h - the node database: open with safe pragmas, migrate, explicit
 * transactions, and prepared statements for the modules above it.
 *
 * One SQLite file per node (DESIGN.md §6): WAL, synchronous=FULL,
 * foreign_keys=ON, secure_delete=ON, mode 0600, schema migrations keyed by
 * PRAGMA user_version. Only daemon/store.c includes sqlite3.h; every other
 * module reaches the database through kt_store_t and kt_stmt_t.
 *
 * Errors: KT_EIO (with a diagnostic naming the operation and the start of
 * the SQL, never a row value), KT_EEXIST for a UNIQUE or PRIMARY KEY
 * conflict, KT_EPERM for an unsafe file mode, KT_EVERSION for a database
 * newer than this code, KT_ENOMEM.
 */
#ifndef KETEN_STORE_H
#define KETEN_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "keten/error.h"

#define KT_STORE_BUSY_TIMEOUT_MS 5000
#define KT_STORE_APPLICATION_ID 0x4b54454e /* "KTEN" in the database header */

/* kt_stmt_step results besides a negative KT_E* code. */
enum { KT_STORE_DONE = 0, KT_STORE_ROW = 1 };

typedef struct kt_store kt_store_t; /* opaque; one connection */
typedef struct kt_stmt kt_stmt_t;   /* opaque; a prepared statement */

/* store.c: open, close, schema */

/* Opens (creating it with mode 0600 if absent) and migrates the database at
 * path. KT_EPERM if an existing file is readable or writable by group or
 * others (diag says `chmod 600 PATH`); KT_EVERSION if its schema is newer
 * than kt_store_schema_latest(); KT_EINVAL if it is not a keten database. */
int kt_store_open(kt_store_t **out, const char *path, kt_diag_t *d) KT_WUR;
/* Opens an existing keten database read-only (SQLITE_OPEN_READONLY and
 * query_only): never creates, migrates or writes it, and does not check the
 * file mode (it reads a copy, e.g. for `ketenctl audit verify --db`).
 * KT_ENOENT if path does not exist; KT_EINVAL if it is not a keten database;
 * KT_EVERSION if its schema is not exactly kt_store_schema_latest(). */
int kt_store_open_readonly(kt_store_t **out, const char *path, kt_diag_t *d) KT_WUR;
/* A private in-memory database with the same pragmas and schema (tests). */
int kt_store_open_memory(kt_store_t **out, kt_diag_t *d) KT_WUR;
/* Idempotent; nulls *p. Every kt_stmt_t must be finalized first. */
void kt_store_close(kt_store_t **p);

/* The schema version of the open database (PRAGMA user_version), or a
 * negative KT_E* code. */
int kt_store_schema_version(kt_store_t *st, kt_diag_t *d) KT_WUR;
/* The newest schema version this code knows. */
int kt_store_schema_latest(void);
/* The path the store was opened with (":memory:" for memory stores). */
const char *kt_store_path(const kt_store_t *st);

/* store.c: transactions. Every write runs inside one (DESIGN.md §6). begin
 * takes the write lock at once (BEGIN IMMEDIATE) so a transaction never
 * fails half-way for lack of it; nesting is a programmer error. */
int kt_store_begin(kt_store_t *st, kt_diag_t *d) KT_WUR;
int kt_store_commit(kt_store_t *st, kt_diag_t *d) KT_WUR;
/* For cleanup paths: rolls back if a transaction is open, else does
 * nothing. If ROLLBACK itself fails SQLite has already undone the work. */
void kt_store_rollback(kt_store_t *st);
int kt_store_in_transaction(const kt_store_t *st); /* 1 or 0 */

/* Runs SQL without parameters (one or more statements; no rows returned). */
int kt_store_exec(kt_store_t *st, const char *sql, kt_diag_t *d) KT_WUR;
/* Rows changed by the last INSERT/UPDATE/DELETE, and the last rowid. */
int64_t kt_store_changes(const kt_store_t *st);
int64_t kt_store_last_insert_rowid(const kt_store_t *st);

/* store.c: maintenance */

/* PRAGMA integrity_check and foreign_key_check; KT_EIO naming the first
 * problem if either reports one. */
int kt_store_integrity_check(kt_store_t *st, kt_diag_t *d) KT_WUR;
/* wal_checkpoint(TRUNCATE): after purges, so deleted pages leave the WAL
 * too. KT_EIO if the checkpoint could not complete (a reader held it). */
int kt_store_checkpoint_truncate(kt_store_t *st, kt_diag_t *d) KT_WUR;

/* store.c: prepared statements. Parameters and columns count from 1 and 0
 * as in SQLite: bind index 1 is the first `?`, column 0 the first column.
 * A failed bind is also remembered and makes the next step fail, so a
 * statement never runs with a parameter silently left NULL. */
int kt_store_prepare(kt_store_t *st, kt_stmt_t **out, const char *sql, kt_diag_t *d) KT_WUR;
int kt_stmt_bind_int64(kt_stmt_t *s, int idx, int64_t v) KT_WUR;
int kt_stmt_bind_blob(kt_stmt_t *s, int idx, const void *p, size_t n) KT_WUR; /* copies */
int kt_stmt_bind_text(kt_stmt_t *s, int idx, const char *str) KT_WUR;         /* copies */
int kt_stmt_bind_null(kt_stmt_t *s, int idx) KT_WUR;
/* KT_STORE_ROW, KT_STORE_DONE or a negative KT_E* code. */
int kt_stmt_step(kt_stmt_t *s, kt_diag_t *d) KT_WUR;
/* Column values of the current row. Pointers are borrowed until the next
 * step, reset or finalize: copy what you keep. A NULL column reads as 0,
 * NULL (blob) or NULL (text); text is NUL-terminated. Ask for the bytes
 * after the blob or text of the same column (SQLite may convert it). */
int64_t kt_stmt_column_int64(kt_stmt_t *s, int col);
const void *kt_stmt_column_blob(kt_stmt_t *s, int col);
const char *kt_stmt_column_text(kt_stmt_t *s, int col);
size_t kt_stmt_column_bytes(kt_stmt_t *s, int col);
int kt_stmt_column_is_null(kt_stmt_t *s, int col); /* 1 or 0 */
/* Ready to run again: clears the row, the bindings and a remembered bind
 * error. */
void kt_stmt_reset(kt_stmt_t *s);
void kt_stmt_finalize(kt_stmt_t **p); /* idempotent; nulls *p */

#endif
