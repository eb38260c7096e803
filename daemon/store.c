/*
 * store.c - the node's SQLite database: file mode, pragmas, migrations,
 * transactions and a thin prepared-statement API.
 *
 * Owns sqlite3.h (no other module includes it) and the schema. Must never
 * build SQL from values (everything variable is bound), never put a row
 * value into a diagnostic, never open a database file that others can read,
 * and never downgrade or guess at a schema newer than it knows.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "keten/store.h"

/* Prepared statements are kept and reused: the engine's SQL is static text,
 * and preparing it again for every record cost more than running it. */
#define S_CACHE_MAX 96

struct kt_stmt {
    kt_store_t *st;
    sqlite3_stmt *stmt;
    int bind_err; /* first failed bind since the last reset, or 0 */
    int bind_idx;
    const char *key; /* the SQL pointer it was prepared from */
    int cached;      /* owned by the store's cache */
    int in_use;
};

struct kt_store {
    sqlite3 *db;
    char *path;
    int memory;
    kt_stmt_t *cache[S_CACHE_MAX];
    size_t ncache;
};

#define S_SQL_SHOWN 40 /* characters of SQL named in a diagnostic */

/*
 * Schema history. Each entry is one migration, applied in its own
 * transaction together with `PRAGMA user_version = N`. Never edit a shipped
 * entry: append a new one.
 *
 * Conventions: record ids are 16-byte BLOBs, node ids TEXT, times INTEGER
 * unix seconds (UTC), codes TEXT as in DOMAIN.md. Personal data exists only
 * inside `payload` columns, encrypted at rest under the subject's key
 * (version byte first); deleting a subject key shreds every payload of that
 * pupil. The audit table holds field names and a keyed subject pseudonym,
 * never a value, and triggers make it append-only.
 */
static const char s_schema_v1[] =
    "PRAGMA application_id = 1263813966;" /* KT_STORE_APPLICATION_ID */
    "CREATE TABLE subject_keys ("
    " subject BLOB PRIMARY KEY CHECK (length(subject) BETWEEN 16 AND 64),"
    " wrapped_key BLOB NOT NULL,"
    " created INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE partner_keys ("
    " partner TEXT NOT NULL,"
    " role TEXT NOT NULL CHECK (role IN ('school', 'swv', 'gemeente')),"
    " fingerprint TEXT NOT NULL CHECK (length(fingerprint) = 32),"
    " sign_pk BLOB NOT NULL CHECK (length(sign_pk) = 32),"
    " box_pk BLOB NOT NULL CHECK (length(box_pk) = 32),"
    " first_seen INTEGER NOT NULL,"
    " retired INTEGER,"
    " PRIMARY KEY (partner, fingerprint)"
    ") WITHOUT ROWID;"
    /* One consent decision (DOMAIN.md §4.7) per row. No ON DELETE CASCADE
     * from subject_keys: a pupil's key cannot be shredded while a consent of
     * theirs is kept (daemon/subject.c says so before SQLite does). Dates
     * are local calendar dates YYYY-MM-DD, which compare as text;
     * ingetrokken_op is NULL until withdrawn. record_types is the sorted,
     * comma-separated set of record types covered. state 'expired' is set
     * by kt_consent_expire, so each expiry is reported once. */
    "CREATE TABLE consent ("
    " id BLOB PRIMARY KEY CHECK (length(id) = 16),"
    " subject BLOB NOT NULL REFERENCES subject_keys (subject),"
    " recipient TEXT NOT NULL,"
    " doel TEXT NOT NULL CHECK (doel IN ('melding_geoorloofd', 'zorgoverleg',"
    "  'contact_hulpverlening', 'terugkoppeling_school', 'overleg_vrijstelling',"
    "  'lijstvergelijking')),"
    " record_types TEXT NOT NULL CHECK (length(record_types) > 0),"
    " gegeven_door TEXT NOT NULL CHECK (gegeven_door IN ('ouders', 'leerling',"
    "  'ouders_en_leerling')),"
    " beslissing TEXT NOT NULL CHECK (beslissing IN ('akkoord', 'niet_akkoord')),"
    " ouders_vooraf_geinformeerd INTEGER NOT NULL CHECK (ouders_vooraf_geinformeerd = 1),"
    " evidence TEXT CHECK (evidence IS NULL OR length(evidence) BETWEEN 1 AND 64),"
    " gegeven_op TEXT NOT NULL CHECK (gegeven_op GLOB"
    "  '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),"
    " geldig_tot TEXT NOT NULL CHECK (geldig_tot GLOB"
    "  '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]' AND geldig_tot > gegeven_op),"
    " ingetrokken_op TEXT CHECK (ingetrokken_op IS NULL OR ingetrokken_op GLOB"
    "  '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),"
    " state TEXT NOT NULL CHECK (state IN ('active', 'withdrawn', 'expired')),"
    " created INTEGER NOT NULL,"
    " CHECK ((state = 'withdrawn') = (ingetrokken_op IS NOT NULL))"
    ");"
    "CREATE INDEX consent_lookup ON consent (subject, recipient, doel);"
    "CREATE INDEX consent_expiry ON consent (state, geldig_tot);"
    "CREATE TABLE outbox ("
    " id BLOB NOT NULL CHECK (length(id) = 16),"
    " partner TEXT NOT NULL,"
    " kind TEXT NOT NULL CHECK (kind IN ('record', 'retract')),"
    " ref BLOB CHECK (ref IS NULL OR length(ref) = 16),"
    " record_type TEXT NOT NULL,"
    " subject BLOB REFERENCES subject_keys (subject) ON DELETE SET NULL,"
    " state TEXT NOT NULL CHECK (state IN ('held', 'queued', 'sent', 'delivered',"
    "  'rejected', 'retracted', 'purged')),"
    " attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),"
    " next_attempt INTEGER,"
    " consent_id BLOB CHECK (consent_id IS NULL OR length(consent_id) = 16),"
    " policy_id TEXT,"
    " policy_version INTEGER,"
    " payload BLOB,"
    " digest BLOB CHECK (digest IS NULL OR length(digest) = 32),"
    " keep_days INTEGER CHECK (keep_days IS NULL OR keep_days > 0),"
    " receipt BLOB,"
    " reason TEXT,"
    " created INTEGER NOT NULL,"
    " updated INTEGER NOT NULL,"
    " PRIMARY KEY (id, partner)"
    ");"
    "CREATE INDEX outbox_due ON outbox (state, next_attempt);"
    "CREATE INDEX outbox_subject ON outbox (subject);"
    "CREATE TABLE inbox ("
    " sender TEXT NOT NULL,"
    " id BLOB NOT NULL CHECK (length(id) = 16),"
    " kind TEXT NOT NULL CHECK (kind IN ('record', 'retract')),"
    " ref BLOB CHECK (ref IS NULL OR length(ref) = 16),"
    " record_type TEXT NOT NULL,"
    " subject BLOB REFERENCES subject_keys (subject) ON DELETE SET NULL,"
    " state TEXT NOT NULL CHECK (state IN ('accepted', 'rejected', 'purged')),"
    " reason TEXT,"
    " policy_id TEXT,"
    " policy_version INTEGER,"
    " payload BLOB,"
    " created INTEGER NOT NULL,"
    " received INTEGER NOT NULL,"
    " expires INTEGER,"
    " PRIMARY KEY (sender, id)"
    ");"
    "CREATE INDEX inbox_subject ON inbox (subject);"
    "CREATE INDEX inbox_expires ON inbox (expires);"
    "CREATE TABLE seen_ids ("
    " sender TEXT NOT NULL,"
    " id BLOB NOT NULL CHECK (length(id) = 16),"
    " expires INTEGER NOT NULL,"
    " receipt BLOB NOT NULL,"
    " PRIMARY KEY (sender, id)"
    ") WITHOUT ROWID;"
    "CREATE INDEX seen_ids_expires ON seen_ids (expires);"
    "CREATE TABLE counts ("
    " origin TEXT NOT NULL,"
    " eenheid TEXT NOT NULL,"
    " definitie TEXT NOT NULL DEFAULT '',"
    " scope TEXT NOT NULL,"
    " period TEXT NOT NULL,"
    " bucket TEXT NOT NULL,"
    " value INTEGER NOT NULL CHECK (value >= 0),"
    " received INTEGER NOT NULL,"
    " PRIMARY KEY (origin, eenheid, definitie, scope, period, bucket)"
    ") WITHOUT ROWID;"
    "CREATE TABLE audit ("
    " seq INTEGER PRIMARY KEY,"
    " time INTEGER NOT NULL,"
    " actor TEXT NOT NULL,"
    " action TEXT NOT NULL,"
    " record_id BLOB CHECK (record_id IS NULL OR length(record_id) = 16),"
    " record_type TEXT,"
    " fields TEXT,"
    " subject BLOB,"
    " doel TEXT,"
    " grondslag TEXT CHECK (grondslag IS NULL OR grondslag IN"
    "  ('toestemming', 'wettelijke_plicht', 'publieke_taak')),"
    " consent_id BLOB CHECK (consent_id IS NULL OR length(consent_id) = 16),"
    " policy_id TEXT,"
    " policy_version INTEGER,"
    " counterparty TEXT,"
    " decision TEXT NOT NULL,"
    " reason TEXT,"
    " prev_hash BLOB NOT NULL CHECK (length(prev_hash) = 32),"
    " hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32)"
    ");"
    "CREATE INDEX audit_record ON audit (record_id);"
    "CREATE INDEX audit_subject ON audit (subject);"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;";

/*
 * v2: attendance at the school node (daemon/signal_store.c). signal_pupil
 * holds the pupil's ids only locked (payload); attendance holds minutes and
 * keten's category per (subject, datum), so a repeated row replaces, and an
 * expiry date from the school's retention setting; signal_sent remembers
 * what was submitted per pupil, rule and episode.
 */
static const char s_schema_v2[] =
    "CREATE TABLE signal_pupil ("
    " subject BLOB PRIMARY KEY NOT NULL,"
    " payload BLOB NOT NULL"
    ");"
    "CREATE TABLE attendance ("
    " subject BLOB NOT NULL REFERENCES signal_pupil (subject) ON DELETE CASCADE,"
    " datum TEXT NOT NULL,"
    " lestijd INTEGER NOT NULL CHECK (lestijd >= 0),"
    " afwezig INTEGER NOT NULL CHECK (afwezig >= 0 AND afwezig <= lestijd),"
    " categorie TEXT NOT NULL,"
    " flags INTEGER NOT NULL DEFAULT 0,"
    " expires TEXT NOT NULL,"
    " PRIMARY KEY (subject, datum)"
    ") WITHOUT ROWID;"
    "CREATE INDEX attendance_expires ON attendance (expires);"
    "CREATE TABLE signal_sent ("
    " subject BLOB NOT NULL,"
    " criterium TEXT NOT NULL,"
    " episode TEXT NOT NULL,"
    " state INTEGER NOT NULL,"
    " recipients TEXT NOT NULL,"
    " updated INTEGER NOT NULL,"
    " PRIMARY KEY (subject, criterium, episode)"
    ") WITHOUT ROWID;";

/*
 * v3: audit checkpoints and witnessing (daemon/audit.c), registries
 * (daemon/registry.c) and reconciliation results (daemon/reconcile.c).
 *
 * audit_checkpoint holds this node's signed statements "my log's entry seq
 * has hash head"; audit_witness holds the ones partners sent in their
 * receipts, verified before they are stored. Both are append-only like the
 * audit table. registry_entry holds one pupil of an imported list, its
 * fields locked under the pupil's key like any payload (crypto-shredding
 * reaches it). reconcile_session holds one count or list comparison; its
 * result is locked under the node key because a membership result names
 * pupils.
 */
static const char s_schema_v3[] =
    "CREATE TABLE audit_checkpoint ("
    " seq INTEGER PRIMARY KEY,"
    " time INTEGER NOT NULL,"
    " head BLOB NOT NULL CHECK (length(head) = 32),"
    " sig BLOB NOT NULL CHECK (length(sig) = 64)"
    ");"
    "CREATE TRIGGER audit_checkpoint_no_update BEFORE UPDATE ON audit_checkpoint"
    " BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
    "CREATE TRIGGER audit_checkpoint_no_delete BEFORE DELETE ON audit_checkpoint"
    " BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
    "CREATE TABLE audit_witness ("
    " partner TEXT NOT NULL,"
    " fingerprint TEXT NOT NULL CHECK (length(fingerprint) = 32),"
    " seq INTEGER NOT NULL CHECK (seq > 0),"
    " time INTEGER NOT NULL,"
    " head BLOB NOT NULL CHECK (length(head) = 32),"
    " sig BLOB NOT NULL CHECK (length(sig) = 64),"
    " received INTEGER NOT NULL,"
    " PRIMARY KEY (fingerprint, seq)"
    ") WITHOUT ROWID;"
    "CREATE TRIGGER audit_witness_no_update BEFORE UPDATE ON audit_witness"
    " BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
    "CREATE TRIGGER audit_witness_no_delete BEFORE DELETE ON audit_witness"
    " BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
    "CREATE INDEX audit_time ON audit (time);"
    "CREATE TABLE registry_list ("
    " name TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),"
    " imported INTEGER NOT NULL,"
    " rows INTEGER NOT NULL CHECK (rows >= 0),"
    " digest BLOB NOT NULL CHECK (length(digest) = 32),"
    " expires TEXT NOT NULL"
    ");"
    "CREATE TABLE registry_entry ("
    " list TEXT NOT NULL REFERENCES registry_list (name) ON DELETE CASCADE,"
    " subject BLOB NOT NULL REFERENCES subject_keys (subject),"
    " payload BLOB NOT NULL,"
    " PRIMARY KEY (list, subject)"
    ") WITHOUT ROWID;"
    "CREATE INDEX registry_entry_subject ON registry_entry (subject);"
    "CREATE TABLE reconcile_session ("
    " id BLOB PRIMARY KEY CHECK (length(id) = 16),"
    " partner TEXT NOT NULL,"
    " kind TEXT NOT NULL CHECK (kind IN ('counts', 'lists')),"
    " role TEXT NOT NULL CHECK (role IN ('initiator', 'responder')),"
    " list TEXT NOT NULL,"
    " count_key TEXT,"
    " state TEXT NOT NULL CHECK (state IN ('open', 'done', 'failed')),"
    " reason TEXT,"
    " result BLOB,"
    " created INTEGER NOT NULL,"
    " updated INTEGER NOT NULL,"
    " expires INTEGER NOT NULL"
    ");"
    "CREATE INDEX reconcile_session_expires ON reconcile_session (expires);";

static const char *const s_migrations[] = {
    s_schema_v1, /* -> user_version 1 */
    s_schema_v2, /* -> user_version 2 */
    s_schema_v3, /* -> user_version 3 */
};

#define S_LATEST ((int)(sizeof(s_migrations) / sizeof(s_migrations[0])))

int kt_store_schema_latest(void)
{
    return S_LATEST;
}

const char *kt_store_path(const kt_store_t *st)
{
    return st->path;
}

/* Maps a SQLite result code onto a KT_E* code and writes
 * "PATH: OP 'SQL...': sqlite message". The SQL is ours (values are bound),
 * and SQLite's messages name constraints and columns, not values. */
static int s_fail(const kt_store_t *st, int src, const char *op, const char *sql, kt_diag_t *d)
{
    int code = KT_EIO;

    if (src == SQLITE_NOMEM)
        code = KT_ENOMEM;
    else if (src == SQLITE_CONSTRAINT_UNIQUE || src == SQLITE_CONSTRAINT_PRIMARYKEY)
        code = KT_EEXIST;
    if ((src & 0xff) == SQLITE_FULL || (src & 0xff) == SQLITE_IOERR)
        return kt_diag_set(d, code,
                           "%s: %s: %s; nothing was changed (is the disk full, or a file size "
                           "limit reached? free space and try again)",
                           st->path, op, st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(src));
    if (sql == NULL)
        return kt_diag_set(d, code, "%s: %s: %s", st->path, op,
                           st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(src));
    return kt_diag_set(d, code, "%s: %s '%.*s%s': %s", st->path, op, S_SQL_SHOWN, sql,
                       strlen(sql) > S_SQL_SHOWN ? "..." : "",
                       st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(src));
}

int kt_store_exec(kt_store_t *st, const char *sql, kt_diag_t *d)
{
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);

    if (rc != SQLITE_OK)
        return s_fail(st, rc, "cannot run", sql, d);
    return 0;
}

/* Runs a pragma that answers one row and copies its first column. */
static int s_pragma_text(kt_store_t *st, const char *sql, char *out, size_t outlen, kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    const char *v;
    int rc;

    out[0] = '\0';
    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    rc = kt_stmt_step(q, d);
    if (rc == KT_STORE_ROW) {
        v = kt_stmt_column_text(q, 0);
        snprintf(out, outlen, "%s", v ? v : "");
        rc = 0;
    } else if (rc == KT_STORE_DONE) {
        rc = kt_diag_set(d, KT_EIO, "%s: '%s' returned nothing", st->path, sql);
    }
    kt_stmt_finalize(&q);
    return rc;
}

static int s_pragma_int(kt_store_t *st, const char *sql, int64_t *out, kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    int rc;

    *out = 0;
    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    rc = kt_stmt_step(q, d);
    if (rc == KT_STORE_ROW) {
        *out = kt_stmt_column_int64(q, 0);
        rc = 0;
    } else if (rc == KT_STORE_DONE) {
        rc = kt_diag_set(d, KT_EIO, "%s: '%s' returned nothing", st->path, sql);
    }
    kt_stmt_finalize(&q);
    return rc;
}

/* Sets a pragma and reads it back: SQLite ignores some pragmas silently
 * (foreign_keys inside a transaction, journal_mode on some filesystems). */
static int s_pragma_require(kt_store_t *st, const char *name, const char *value, int64_t want,
                            kt_diag_t *d)
{
    char sql[64];
    int64_t got;
    int rc;

    snprintf(sql, sizeof(sql), "PRAGMA %s = %s", name, value);
    if ((rc = kt_store_exec(st, sql, d)) != 0)
        return rc;
    snprintf(sql, sizeof(sql), "PRAGMA %s", name);
    if ((rc = s_pragma_int(st, sql, &got, d)) != 0)
        return rc;
    if (got != want)
        return kt_diag_set(d, KT_EIO, "%s: PRAGMA %s = %s did not take effect", st->path, name,
                           value);
    return 0;
}

static int s_configure(kt_store_t *st, kt_diag_t *d)
{
    char mode[16];
    int rc;

    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, KT_STORE_BUSY_TIMEOUT_MS);
    /* No schema tricks from a tampered file: no writable_schema, no
     * functions with side effects called from views or triggers. */
    sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    sqlite3_db_config(st->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
    if ((rc = s_pragma_text(st, "PRAGMA journal_mode = WAL", mode, sizeof(mode), d)) != 0)
        return rc;
    if (strcmp(mode, st->memory ? "memory" : "wal") != 0)
        return kt_diag_set(d, KT_EIO,
                           "%s: cannot switch to WAL journaling (got '%s'); the database must "
                           "be on a local filesystem",
                           st->path, mode);
    if ((rc = s_pragma_require(st, "synchronous", "FULL", 2, d)) != 0 ||
        (rc = s_pragma_require(st, "foreign_keys", "ON", 1, d)) != 0 ||
        (rc = s_pragma_require(st, "secure_delete", "ON", 1, d)) != 0)
        return rc;
    return 0;
}

int kt_store_schema_version(kt_store_t *st, kt_diag_t *d)
{
    int64_t v;
    int rc;

    if ((rc = s_pragma_int(st, "PRAGMA user_version", &v, d)) != 0)
        return rc;
    if (v < 0 || v > INT_MAX)
        return kt_diag_set(d, KT_EVERSION, "%s: schema version out of range", st->path);
    return (int)v;
}

/* Refuses another program's SQLite file before touching it. */
static int s_check_identity(kt_store_t *st, int version, kt_diag_t *d)
{
    int64_t appid, objects;
    int rc;

    if ((rc = s_pragma_int(st, "PRAGMA application_id", &appid, d)) != 0)
        return rc;
    if (appid != 0 && appid != KT_STORE_APPLICATION_ID)
        return kt_diag_set(d, KT_EINVAL, "%s: not a keten database (foreign application id)",
                           st->path);
    if (version != 0)
        return 0;
    if ((rc = s_pragma_int(st, "SELECT count(*) FROM sqlite_master", &objects, d)) != 0)
        return rc;
    if (objects != 0)
        return kt_diag_set(d, KT_EINVAL,
                           "%s: not a keten database (has tables but no schema version)", st->path);
    return 0;
}

static int s_too_new(const kt_store_t *st, int version, kt_diag_t *d)
{
    return kt_diag_set(d, KT_EVERSION,
                       "%s: database schema version %d is newer than this keten supports (%d); "
                       "run a newer keten or restore a backup made by this version",
                       st->path, version, S_LATEST);
}

/* Applies the migration that leads from `from` to from + 1 in its own
 * transaction. Re-reads the version under the write lock, so two processes
 * starting at once cannot both apply a step. */
static int s_migrate_step(kt_store_t *st, kt_diag_t *d)
{
    char bump[48];
    int v, rc;

    if ((rc = kt_store_begin(st, d)) != 0)
        return rc;
    if ((v = kt_store_schema_version(st, d)) < 0) {
        rc = v;
        goto out;
    }
    if (v >= S_LATEST) {
        rc = v > S_LATEST ? s_too_new(st, v, d) : 0;
        goto out;
    }
    snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", v + 1);
    if ((rc = kt_store_exec(st, s_migrations[v], d)) != 0 ||
        (rc = kt_store_exec(st, bump, d)) != 0) {
        kt_diag_prefix(d, "migration to schema version %d", v + 1);
        goto out;
    }
    return kt_store_commit(st, d);
out:
    kt_store_rollback(st);
    return rc;
}

static int s_migrate(kt_store_t *st, kt_diag_t *d)
{
    int v, rc;

    if ((v = kt_store_schema_version(st, d)) < 0)
        return v;
    if (v > S_LATEST)
        return s_too_new(st, v, d);
    if ((rc = s_check_identity(st, v, d)) != 0)
        return rc;
    while (v < S_LATEST) {
        if ((rc = s_migrate_step(st, d)) != 0)
            return rc;
        if ((v = kt_store_schema_version(st, d)) < 0)
            return v;
    }
    return 0;
}

static int s_open(kt_store_t **out, const char *path, int flags, kt_diag_t *d)
{
    kt_store_t *st = calloc(1, sizeof(*st));
    int rc;

    if (st == NULL || (st->path = strdup(path)) == NULL) {
        free(st);
        return kt_diag_set(d, KT_ENOMEM, "out of memory opening the store");
    }
    st->memory = strcmp(path, ":memory:") == 0;
    rc = sqlite3_open_v2(path, &st->db, flags, NULL);
    if (rc != SQLITE_OK) {
        rc = s_fail(st, rc, "cannot open the database", NULL, d);
        goto out;
    }
    if ((rc = s_configure(st, d)) != 0 || (rc = s_migrate(st, d)) != 0)
        goto out;
    *out = st;
    return 0;
out:
    kt_store_close(&st);
    return rc;
}

/* An existing file must be ours alone; a new one is created 0600 before
 * SQLite sees it (SQLite gives its -wal and -shm files the same mode). */
static int s_prepare_file(const char *path, kt_diag_t *d)
{
    struct stat sb;
    int fd;

    if (lstat(path, &sb) == 0) {
        if (!S_ISREG(sb.st_mode))
            return kt_diag_set(d, KT_EINVAL, "%s: not a regular file", path);
        if (sb.st_mode & (S_IRWXG | S_IRWXO))
            return kt_diag_set(d, KT_EPERM,
                               "%s: database is readable or writable by others; run: chmod 600 "
                               "%s",
                               path, path);
        return 0;
    }
    if (errno != ENOENT)
        return kt_diag_set(d, KT_EIO, "%s: %s", path, strerror(errno));
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return kt_diag_set(d, KT_EIO, "%s: cannot create: %s", path, strerror(errno));
    close(fd);
    return 0;
}

int kt_store_open(kt_store_t **out, const char *path, kt_diag_t *d)
{
    int rc;

    *out = NULL;
    if (strcmp(path, ":memory:") == 0 || path[0] == '\0')
        return kt_diag_set(d, KT_EINVAL, "store path must name a file");
    if ((rc = s_prepare_file(path, d)) != 0)
        return rc;
    return s_open(out, path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, d);
}

/* "file:PATH" (percent-encoded), with immutable=1 when no PATH-wal exists:
 * then nothing else has the file open in WAL mode, and SQLite creates no
 * -wal or -shm file next to it, so a copy on read-only media can be read
 * and a copy on disk is left exactly as it was. With a -wal file (a copy
 * taken with its WAL, or the live database) the WAL must be read, which
 * takes an -shm file. */
static int s_readonly_uri(char **out, const char *path)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(path), i, o = 0;
    char *wal, *uri;
    int has_wal;

    if ((wal = malloc(n + 5)) == NULL || (uri = malloc(3 * n + 32)) == NULL) {
        free(wal);
        return KT_ENOMEM;
    }
    snprintf(wal, n + 5, "%s-wal", path);
    has_wal = access(wal, F_OK) == 0;
    free(wal);
    o = (size_t)snprintf(uri, 3 * n + 32, "file:");
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)path[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("/-_.~", c) != NULL) {
            uri[o++] = (char)c;
        } else {
            uri[o++] = '%';
            uri[o++] = hex[c >> 4];
            uri[o++] = hex[c & 15];
        }
    }
    snprintf(uri + o, 3 * n + 32 - o, "%s", has_wal ? "?mode=ro" : "?mode=ro&immutable=1");
    *out = uri;
    return 0;
}

/* A read-only connection: no WAL switch, no pragma that writes, and
 * query_only on top of SQLITE_OPEN_READONLY. The file must already be a
 * keten database at exactly the schema this code knows: verifying an older
 * or newer one would read columns by the wrong names. */
static int s_open_readonly(kt_store_t *st, kt_diag_t *d)
{
    char *uri = NULL;
    int64_t appid;
    int v, rc;

    if ((rc = s_readonly_uri(&uri, st->path)) != 0)
        return kt_diag_set(d, rc, "out of memory opening the store");
    rc = sqlite3_open_v2(uri, &st->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
    free(uri);
    if (rc != SQLITE_OK)
        return s_fail(st, rc, "cannot open the database read-only", NULL, d);
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, KT_STORE_BUSY_TIMEOUT_MS);
    sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    sqlite3_db_config(st->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
    if (s_pragma_int(st, "PRAGMA application_id", &appid, d) != 0)
        return kt_diag_set(d, KT_EINVAL, "%s: not a keten database (not an SQLite file)", st->path);
    if (appid != KT_STORE_APPLICATION_ID)
        return kt_diag_set(d, KT_EINVAL, "%s: not a keten database (%s application id)", st->path,
                           appid == 0 ? "no" : "foreign");
    if ((rc = kt_store_exec(st, "PRAGMA query_only = 1", d)) != 0)
        return rc;
    if ((v = kt_store_schema_version(st, d)) < 0)
        return v;
    if (v > S_LATEST)
        return s_too_new(st, v, d);
    if (v < S_LATEST)
        return kt_diag_set(d, KT_EVERSION,
                           "%s: database schema version %d is older than this keten's (%d); "
                           "start this version's ketend on it once (it migrates), or use the "
                           "ketenctl of the keten that wrote it",
                           st->path, v, S_LATEST);
    return 0;
}

int kt_store_open_readonly(kt_store_t **out, const char *path, kt_diag_t *d)
{
    kt_store_t *st;
    struct stat sb;
    int rc;

    *out = NULL;
    if (strcmp(path, ":memory:") == 0 || path[0] == '\0')
        return kt_diag_set(d, KT_EINVAL, "store path must name a file");
    if (stat(path, &sb) != 0)
        return kt_diag_set(d, errno == ENOENT ? KT_ENOENT : KT_EIO, "%s: %s", path,
                           strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return kt_diag_set(d, KT_EINVAL, "%s: not a regular file", path);
    if ((st = calloc(1, sizeof(*st))) == NULL || (st->path = strdup(path)) == NULL) {
        free(st);
        return kt_diag_set(d, KT_ENOMEM, "out of memory opening the store");
    }
    if ((rc = s_open_readonly(st, d)) != 0) {
        kt_store_close(&st);
        return rc;
    }
    *out = st;
    return 0;
}

int kt_store_open_memory(kt_store_t **out, kt_diag_t *d)
{
    *out = NULL;
    return s_open(out, ":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, d);
}

void kt_store_close(kt_store_t **p)
{
    kt_store_t *st;

    if (p == NULL || (st = *p) == NULL)
        return;
    while (st->ncache > 0) {
        kt_stmt_t *c = st->cache[--st->ncache];

        sqlite3_finalize(c->stmt);
        free(c);
    }
    if (st->db != NULL) {
        kt_store_rollback(st);
        sqlite3_close_v2(st->db);
    }
    free(st->path);
    free(st);
    *p = NULL;
}

int kt_store_begin(kt_store_t *st, kt_diag_t *d)
{
    return kt_store_exec(st, "BEGIN IMMEDIATE", d);
}

int kt_store_commit(kt_store_t *st, kt_diag_t *d)
{
    return kt_store_exec(st, "COMMIT", d);
}

void kt_store_rollback(kt_store_t *st)
{
    if (kt_store_in_transaction(st))
        (void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

int kt_store_in_transaction(const kt_store_t *st)
{
    return sqlite3_get_autocommit(st->db) ? 0 : 1;
}

int64_t kt_store_changes(const kt_store_t *st)
{
    return sqlite3_changes64(st->db);
}

int64_t kt_store_last_insert_rowid(const kt_store_t *st)
{
    return sqlite3_last_insert_rowid(st->db);
}

/* The first row of a check pragma, or "ok" when it returns none. */
static int s_check_pragma(kt_store_t *st, const char *sql, const char *what, const char *detail,
                          kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    const char *first;
    int rc;

    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    rc = kt_stmt_step(q, d);
    if (rc == KT_STORE_ROW) {
        /* integrity_check rows name pages, tables and indexes;
         * foreign_key_check's first column is a table name. */
        first = kt_stmt_column_text(q, 0);
        if (first != NULL && strcmp(first, "ok") == 0)
            rc = 0;
        else
            rc = kt_diag_set(d, KT_EIO, "%s: %s failed: %s%s", st->path, what, detail,
                             first ? first : "(no detail)");
    }
    kt_stmt_finalize(&q);
    return rc;
}

int kt_store_integrity_check(kt_store_t *st, kt_diag_t *d)
{
    int rc;

    if ((rc = s_check_pragma(st, "PRAGMA integrity_check", "integrity check", "", d)) != 0)
        return rc;
    return s_check_pragma(st, "PRAGMA foreign_key_check", "foreign key check", "table ", d);
}

int kt_store_checkpoint_truncate(kt_store_t *st, kt_diag_t *d)
{
    int rc = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);

    if (rc == SQLITE_BUSY)
        return kt_diag_set(d, KT_EIO,
                           "%s: WAL checkpoint blocked by another reader or writer; retry later",
                           st->path);
    if (rc != SQLITE_OK)
        return s_fail(st, rc, "WAL checkpoint", NULL, d);
    return 0;
}

/* A cached statement for exactly this SQL that nobody holds, or NULL. */
static kt_stmt_t *s_cached(kt_store_t *st, const char *sql)
{
    size_t i;

    for (i = 0; i < st->ncache; i++) {
        kt_stmt_t *s = st->cache[i];

        if (s->key == sql && !s->in_use && strcmp(sqlite3_sql(s->stmt), sql) == 0) {
            s->in_use = 1;
            return s;
        }
    }
    return NULL;
}

int kt_store_prepare(kt_store_t *st, kt_stmt_t **out, const char *sql, kt_diag_t *d)
{
    kt_stmt_t *s;
    int rc;

    if ((*out = s_cached(st, sql)) != NULL)
        return 0;
    if ((s = calloc(1, sizeof(*s))) == NULL) {
        (void)kt_diag_set(d, KT_ENOMEM, "out of memory preparing a statement");
        return KT_ENOMEM;
    }
    rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->stmt, NULL);
    if (rc != SQLITE_OK || s->stmt == NULL) {
        if (rc != SQLITE_OK)
            rc = s_fail(st, rc, "cannot prepare", sql, d);
        else
            rc = kt_diag_set(d, KT_EINVAL, "%s: empty SQL statement", st->path);
        sqlite3_finalize(s->stmt);
        free(s);
        return rc < 0 ? rc : KT_EINVAL;
    }
    s->st = st;
    s->key = sql;
    s->in_use = 1;
    if (st->ncache < S_CACHE_MAX) {
        s->cached = 1;
        st->cache[st->ncache++] = s;
    }
    *out = s;
    return 0;
}

/* Remembers the first failed bind, so step refuses to run. */
static int s_bound(kt_stmt_t *s, int idx, int src)
{
    int code;

    if (src == SQLITE_OK)
        return 0;
    code = src == SQLITE_NOMEM ? KT_ENOMEM : src == SQLITE_TOOBIG ? KT_ETOOBIG : KT_EINVAL;
    if (s->bind_err == 0) {
        s->bind_err = code;
        s->bind_idx = idx;
    }
    return code;
}

int kt_stmt_bind_int64(kt_stmt_t *s, int idx, int64_t v)
{
    return s_bound(s, idx, sqlite3_bind_int64(s->stmt, idx, v));
}

int kt_stmt_bind_blob(kt_stmt_t *s, int idx, const void *p, size_t n)
{
    if (n > INT_MAX)
        return s_bound(s, idx, SQLITE_TOOBIG);
    /* A NULL pointer would bind SQL NULL, not an empty blob. */
    if (n == 0)
        return s_bound(s, idx, sqlite3_bind_zeroblob(s->stmt, idx, 0));
    return s_bound(s, idx, sqlite3_bind_blob(s->stmt, idx, p, (int)n, SQLITE_TRANSIENT));
}

int kt_stmt_bind_text(kt_stmt_t *s, int idx, const char *str)
{
    if (str == NULL)
        return s_bound(s, idx, SQLITE_MISUSE);
    if (strlen(str) > INT_MAX)
        return s_bound(s, idx, SQLITE_TOOBIG);
    return s_bound(s, idx, sqlite3_bind_text(s->stmt, idx, str, -1, SQLITE_TRANSIENT));
}

int kt_stmt_bind_null(kt_stmt_t *s, int idx)
{
    return s_bound(s, idx, sqlite3_bind_null(s->stmt, idx));
}

int kt_stmt_step(kt_stmt_t *s, kt_diag_t *d)
{
    const char *sql = sqlite3_sql(s->stmt);
    int rc;

    if (s->bind_err != 0)
        return kt_diag_set(d, s->bind_err, "%s: cannot bind parameter %d of '%.*s%s'", s->st->path,
                           s->bind_idx, S_SQL_SHOWN, sql, strlen(sql) > S_SQL_SHOWN ? "..." : "");
    rc = sqlite3_step(s->stmt);
    if (rc == SQLITE_ROW)
        return KT_STORE_ROW;
    if (rc == SQLITE_DONE)
        return KT_STORE_DONE;
    return s_fail(s->st, rc, "cannot run", sql, d);
}

int64_t kt_stmt_column_int64(kt_stmt_t *s, int col)
{
    return sqlite3_column_int64(s->stmt, col);
}

const void *kt_stmt_column_blob(kt_stmt_t *s, int col)
{
    return sqlite3_column_blob(s->stmt, col);
}

const char *kt_stmt_column_text(kt_stmt_t *s, int col)
{
    return (const char *)sqlite3_column_text(s->stmt, col);
}

size_t kt_stmt_column_bytes(kt_stmt_t *s, int col)
{
    int n = sqlite3_column_bytes(s->stmt, col);

    return n > 0 ? (size_t)n : 0;
}

int kt_stmt_column_is_null(kt_stmt_t *s, int col)
{
    return sqlite3_column_type(s->stmt, col) == SQLITE_NULL;
}

void kt_stmt_reset(kt_stmt_t *s)
{
    (void)sqlite3_reset(s->stmt);
    (void)sqlite3_clear_bindings(s->stmt);
    s->bind_err = 0;
    s->bind_idx = 0;
}

void kt_stmt_finalize(kt_stmt_t **p)
{
    if (p == NULL || *p == NULL)
        return;
    if ((*p)->cached) { /* back to the cache, reset: no read left open, no binding kept */
        kt_stmt_reset(*p);
        (*p)->in_use = 0;
    } else {
        sqlite3_finalize((*p)->stmt);
        free(*p);
    }
    *p = NULL;
}
