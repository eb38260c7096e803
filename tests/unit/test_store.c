/*
 * test_store.c - the node database: file mode, pragmas, migrations,
 * transactions, the prepared-statement API, append-only audit and
 * secure_delete proven on the raw file.
 *
 * Uses no sqlite3.h: everything goes through store.h, as later modules do.
 * File tests work in their own mkdtemp directory and remove it.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "keten/store.h"

struct fx {
    char dir[64];
    char db[128];
};

static int s_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/keten-test-store.XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->db, sizeof(f->db), "%s/node.db", f->dir);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    struct fx *f = *state;
    const char *sfx[] = {"", "-wal", "-shm", "-journal"};
    char p[160];
    size_t i;

    for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
        snprintf(p, sizeof(p), "%s%s", f->db, sfx[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static int64_t s_int(kt_store_t *st, const char *sql)
{
    kt_stmt_t *q = NULL;
    kt_diag_t d = {{0}};
    int64_t v;

    assert_int_equal(kt_store_prepare(st, &q, sql, &d), 0);
    assert_int_equal(kt_stmt_step(q, &d), KT_STORE_ROW);
    v = kt_stmt_column_int64(q, 0);
    kt_stmt_finalize(&q);
    assert_null(q);
    return v;
}

static void s_text(kt_store_t *st, const char *sql, const char *want)
{
    kt_stmt_t *q = NULL;
    kt_diag_t d = {{0}};

    assert_int_equal(kt_store_prepare(st, &q, sql, &d), 0);
    assert_int_equal(kt_stmt_step(q, &d), KT_STORE_ROW);
    assert_string_equal(kt_stmt_column_text(q, 0), want);
    kt_stmt_finalize(&q);
}

static void s_pragmas_in_effect(kt_store_t *st)
{
    assert_int_equal(s_int(st, "PRAGMA synchronous"), 2); /* FULL */
    assert_int_equal(s_int(st, "PRAGMA foreign_keys"), 1);
    assert_int_equal(s_int(st, "PRAGMA secure_delete"), 1);
    assert_int_equal(s_int(st, "PRAGMA busy_timeout"), KT_STORE_BUSY_TIMEOUT_MS);
    assert_int_equal(s_int(st, "PRAGMA application_id"), KT_STORE_APPLICATION_ID);
}

static void test_memory_store_has_latest_schema_and_pragmas(void **state)
{
    const char *tables[] = {"outbox", "inbox",        "seen_ids", "consent",
                            "audit",  "partner_keys", "counts",   "subject_keys"};
    kt_store_t *st = NULL;
    kt_diag_t d = {{0}};
    char sql[160];
    size_t i;

    (void)state;
    assert_int_equal(kt_store_open_memory(&st, &d), 0);
    assert_int_equal(kt_store_schema_latest(), 3);
    assert_int_equal(kt_store_schema_version(st, &d), kt_store_schema_latest());
    s_pragmas_in_effect(st);
    s_text(st, "PRAGMA journal_mode", "memory");
    for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '%s'",
                 tables[i]);
        assert_int_equal(s_int(st, sql), 1);
    }
    assert_int_equal(kt_store_integrity_check(st, &d), 0);
    kt_store_close(&st);
    assert_null(st);
    kt_store_close(&st); /* idempotent */
}

static void test_file_store_is_0600_wal_and_reopens(void **state)
{
    struct fx *f = *state;
    kt_store_t *st = NULL;
    kt_diag_t d = {{0}};
    struct stat sb;
    char wal[160];
    int64_t objects;

    assert_int_equal(kt_store_open(&st, f->db, &d), 0);
    assert_string_equal(kt_store_path(st), f->db);
    assert_int_equal(stat(f->db, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    s_text(st, "PRAGMA journal_mode", "wal");
    s_pragmas_in_effect(st);
    assert_int_equal(kt_store_exec(st,
                                   "INSERT INTO subject_keys VALUES "
                                   "(zeroblob(32), x'01', 1)",
                                   &d),
                     0);
    snprintf(wal, sizeof(wal), "%s-wal", f->db);
    assert_int_equal(stat(wal, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    objects = s_int(st, "SELECT count(*) FROM sqlite_master");
    kt_store_close(&st);

    /* Opening again applies nothing and keeps the data. */
    assert_int_equal(kt_store_open(&st, f->db, &d), 0);
    assert_int_equal(kt_store_schema_version(st, &d), kt_store_schema_latest());
    assert_int_equal(s_int(st, "SELECT count(*) FROM sqlite_master"), objects);
    assert_int_equal(s_int(st, "SELECT count(*) FROM subject_keys"), 1);
    assert_int_equal(kt_store_integrity_check(st, &d), 0);
    kt_store_close(&st);
}

static void test_readable_database_is_refused(void **state)
{
    struct fx *f = *state;
    kt_store_t *st = NULL;
    kt_diag_t d = {{0}};
    char want[KT_DIAG_BYTES];

    assert_int_equal(kt_store_open(&st, f->db, &d), 0);
    kt_store_close(&st);
    assert_int_equal(chmod(f->db, 0640), 0);
    assert_int_equal(kt_store_open(&st, f->db, &d), KT_EPERM);
    assert_null(st);
    snprintf(want, sizeof(want),
             "%s: database is readable or writable by others; run: chmod 600 %s", f->db, f->db);
    assert_string_equal(d.msg, want);
    assert_int_equal(chmod(f->db, 0600), 0);
    assert_int_equal(kt_store_open(&st, f->db, &d), 0);
    kt_store_close(&st);
}

static void test_newer_schema_is_refused(void **state)
{
    struct fx *f = *state;
    kt_store_t *st = NULL;
    kt_diag_t d = {{0}};
    char sql[64], want[KT_DIAG_BYTES];

    assert_int_equal(kt_store_open(&st, f->db, &d), 0);
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", kt_store_schema_latest() + 1);
    assert_int_equal(kt_store_exec(st, sql, &d), 0);
    kt_store_close(&st);
    assert_int_equal(kt_store_open(&st, f->db, &d), KT_EVERSION);
    assert_null(st);
    snprintf(want, sizeof(want),
             "%s: database schema version %d is newer than this keten supports (%d); run a "
             "newer keten or restore a backup made by this version",
             f->db, kt_store_schema_latest() + 1, kt_store_schema_latest());
    assert_string_equal(d.msg, want);
}

static void test_foreign_database_is_refused(void **state)
{
    struct fx *f = *state;
    kt_store_t *st = NULL;
    kt_diag_t d = {{0}};

    assert_int_equal(kt_store_open(&st, f->db, &d), 0);
    assert_int_equal(kt_store_exec(st, "PRAGMA application_id = 42", &d), 0);
    kt_store_close(&st);
    assert_int_equal(kt_store_open(&st, f->db, &d), KT_EINVAL);
    assert_non_null(strstr(d.msg, "not a keten database"));
}

static void test_non_database_file_is_refused(void **state)
{
    struct fx *f = *state;
    kt_store_t *st = NULL;
    kt_diag_t d = {{0}};
    const char junk[] = "node = { id = \"not-a-db\"; };\n this is a config, not a database ....";
    int fd = open(f->db, O_WRONLY | O_CREAT | O_EXCL, 0600);

    assert_true(fd >= 0);
    for (int i = 0; i < 64; i++)
        assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    close(fd);
    assert_int_equal(kt_store_open(&st, f->db, &d), KT_EIO);
    assert_null(st);
    assert_non_null(strstr(d.msg, f->db));
    assert_non_null(strstr(d.msg, "not a database"));
}

static void test_rollback_leaves_nothing(void **state)
{
    kt_store_t *st = NULL;
    kt_diag_t d = {{0}};

    (void)state;
    assert_int_equal(kt_store_open_memory(&st, &d), 0);
    assert_int_equal(kt_store_in_transaction(st), 0);
    assert_int_equal(kt_store_begin(st, &d), 0);
    assert_int_equal(kt_store_in_transaction(st), 1);
    assert_int_equal(kt_store_exec(st,
                                   "INSERT INTO seen_ids VALUES ('swv-a', zeroblob(16), 9, x'00');"
                                   "INSERT INTO subject_keys VALUES (zeroblob(32), x'01', 1)",
                                   &d),
                     0);
    kt_store_rollback(st);
    assert_int_equal(kt_store_in_transaction(st), 0);
    assert_int_equal(s_int(st, "SELECT count(*) FROM seen_ids"), 0);
    assert_int_equal(s_int(st, "SELECT count(*) FROM subject_keys"), 0);
    kt_store_rollback(st); /* nothing open: a no-op */

    assert_int_equal(kt_store_begin(st, &d), 0);
    assert_int_equal(
        kt_store_exec(st, "INSERT INTO seen_ids VALUES ('swv-a', zeroblob(16), 9, x'00')", &d), 0);
    assert_int_equal(kt_store_commit(st, &d), 0);
    assert_int_equal(s_int(st, "SELECT count(*) FROM seen_ids"), 1);
    kt_store_close(&st);
}

static void test_statements_bind_and_read_back(void **state)
{
    static const uint8_t id[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    kt_store_t *st = NULL;
    kt_stmt_t *q = NULL;
    kt_diag_t d = {{0}};

    (void)state;
    assert_int_equal(kt_store_open_memory(&st, &d), 0);
    assert_int_equal(kt_store_prepare(st, &q, "INSERT INTO seen_ids VALUES (?, ?, ?, x'00')", &d), 0);
    assert_int_equal(kt_stmt_bind_text(q, 1, "gemeente-x"), 0);
    assert_int_equal(kt_stmt_bind_blob(q, 2, id, sizeof(id)), 0);
    assert_int_equal(kt_stmt_bind_int64(q, 3, INT64_C(1) << 40), 0);
    assert_int_equal(kt_stmt_step(q, &d), KT_STORE_DONE);
    assert_int_equal(kt_store_changes(st), 1);

    /* The same row again: a primary key conflict reads as KT_EEXIST. */
    kt_stmt_reset(q);
    assert_int_equal(kt_stmt_bind_text(q, 1, "gemeente-x"), 0);
    assert_int_equal(kt_stmt_bind_blob(q, 2, id, sizeof(id)), 0);
    assert_int_equal(kt_stmt_bind_int64(q, 3, 5), 0);
    assert_int_equal(kt_stmt_step(q, &d), KT_EEXIST);
    assert_non_null(strstr(d.msg, "seen_ids"));
    assert_null(strstr(d.msg, "gemeente-x")); /* never a value */
    kt_stmt_finalize(&q);
    kt_stmt_finalize(&q); /* idempotent */

    assert_int_equal(kt_store_prepare(st, &q,
                                      "SELECT sender, id, expires, NULL, x'' FROM "
                                      "seen_ids WHERE sender = ?",
                                      &d),
                     0);
    assert_int_equal(kt_stmt_bind_text(q, 1, "gemeente-x"), 0);
    assert_int_equal(kt_stmt_step(q, &d), KT_STORE_ROW);
    assert_string_equal(kt_stmt_column_text(q, 0), "gemeente-x");
    assert_memory_equal(kt_stmt_column_blob(q, 1), id, sizeof(id));
    assert_int_equal(kt_stmt_column_bytes(q, 1), sizeof(id));
    assert_true(kt_stmt_column_int64(q, 2) == (INT64_C(1) << 40));
    assert_int_equal(kt_stmt_column_is_null(q, 3), 1);
    assert_int_equal(kt_stmt_column_is_null(q, 4), 0);
    assert_int_equal(kt_stmt_column_bytes(q, 4), 0);
    assert_int_equal(kt_stmt_step(q, &d), KT_STORE_DONE);
    kt_stmt_finalize(&q);
    kt_store_close(&st);
}

static void test_empty_blob_is_not_null_and_bad_binds_stop_step(void **state)
{
    kt_store_t *st = NULL;
    kt_stmt_t *q = NULL;
    kt_diag_t d = {{0}};

    (void)state;
    assert_int_equal(kt_store_open_memory(&st, &d), 0);
    assert_int_equal(kt_store_prepare(st, &q, "SELECT ? IS NULL, length(?)", &d), 0);
    assert_int_equal(kt_stmt_bind_blob(q, 1, NULL, 0), 0);
    assert_int_equal(kt_stmt_bind_blob(q, 2, NULL, 0), 0);
    assert_int_equal(kt_stmt_step(q, &d), KT_STORE_ROW);
    assert_int_equal(kt_stmt_column_int64(q, 0), 0);
    assert_int_equal(kt_stmt_column_int64(q, 1), 0);

    kt_stmt_reset(q);
    assert_int_equal(kt_stmt_bind_int64(q, 3, 1), KT_EINVAL); /* no third parameter */
    assert_int_equal(kt_stmt_bind_int64(q, 1, 1), 0);
    assert_int_equal(kt_stmt_step(q, &d), KT_EINVAL);
    assert_non_null(strstr(d.msg, "cannot bind parameter 3"));
    assert_int_equal(kt_stmt_bind_text(q, 1, NULL), KT_EINVAL);

    kt_stmt_reset(q); /* forgets the failed bind */
    assert_int_equal(kt_stmt_step(q, &d), KT_STORE_ROW);
    assert_int_equal(kt_stmt_column_int64(q, 0), 1);
    kt_stmt_finalize(&q);

    assert_int_equal(kt_store_prepare(st, &q, "SELECT nope FROM nowhere", &d), KT_EIO);
    assert_null(q);
    assert_string_equal(d.msg, ":memory:: cannot prepare 'SELECT nope FROM nowhere': "
                               "no such table: nowhere");
    kt_store_close(&st);
}

static void test_constraints_are_enforced(void **state)
{
    kt_store_t *st = NULL;
    kt_diag_t d = {{0}};

    (void)state;
    assert_int_equal(kt_store_open_memory(&st, &d), 0);
    /* foreign_keys=ON: consent needs a subject key. */
    assert_int_equal(kt_store_exec(st,
                                   "INSERT INTO consent VALUES (zeroblob(16), zeroblob(32), "
                                   "'gemeente-x', 'zorgoverleg', 'thuiszitter', 'ouders', "
                                   "'akkoord', 1, NULL, '2026-01-05', '2026-07-31', NULL, "
                                   "'active', 1)",
                                   &d),
                     KT_EIO);
    assert_non_null(strstr(d.msg, "FOREIGN KEY constraint failed"));
    /* Record ids are exactly 16 bytes. */
    assert_int_equal(kt_store_exec(st, "INSERT INTO seen_ids VALUES ('a', x'01', 1, x'00')", &d), KT_EIO);
    assert_non_null(strstr(d.msg, "CHECK constraint failed"));
    kt_store_close(&st);
}

static void test_audit_is_append_only(void **state)
{
    kt_store_t *st = NULL;
    kt_diag_t d = {{0}};

    (void)state;
    assert_int_equal(kt_store_open_memory(&st, &d), 0);
    assert_int_equal(kt_store_exec(st,
                                   "INSERT INTO audit (time, actor, action, decision, "
                                   "prev_hash, hash) VALUES (1, 'uid:0', 'start', 'ok', "
                                   "zeroblob(32), randomblob(32))",
                                   &d),
                     0);
    assert_int_equal(kt_store_last_insert_rowid(st), 1);
    assert_int_equal(kt_store_exec(st, "UPDATE audit SET action = 'x'", &d), KT_EIO);
    assert_non_null(strstr(d.msg, "audit is append-only"));
    assert_int_equal(kt_store_exec(st, "DELETE FROM audit", &d), KT_EIO);
    assert_non_null(strstr(d.msg, "audit is append-only"));
    assert_int_equal(s_int(st, "SELECT count(*) FROM audit"), 1);
    kt_store_close(&st);
}

/* Searches a whole file for a byte string. */
static int s_file_contains(const char *path, const uint8_t *needle, size_t n)
{
    FILE *fp = fopen(path, "rb");
    uint8_t *buf;
    long len;
    int found = 0;

    if (fp == NULL)
        return 0;
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    len = ftell(fp);
    assert_true(len >= 0);
    rewind(fp);
    buf = malloc((size_t)len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    for (long i = 0; i + (long)n <= len && !found; i++)
        found = memcmp(buf + i, needle, n) == 0;
    free(buf);
    return found;
}

static void test_purge_leaves_nothing_in_file_or_wal(void **state)
{
    struct fx *f = *state;
    uint8_t marker[64];
    kt_store_t *st = NULL;
    kt_stmt_t *q = NULL;
    kt_diag_t d = {{0}};
    char wal[160];
    struct stat sb;

    for (size_t i = 0; i < sizeof(marker); i++)
        marker[i] = (uint8_t)(0xa5 ^ (i * 7));
    snprintf(wal, sizeof(wal), "%s-wal", f->db);
    assert_int_equal(kt_store_open(&st, f->db, &d), 0);
    assert_int_equal(kt_store_prepare(st, &q, "INSERT INTO subject_keys VALUES (?, ?, 1)", &d), 0);
    assert_int_equal(kt_stmt_bind_blob(q, 1, marker, 32), 0);
    assert_int_equal(kt_stmt_bind_blob(q, 2, marker, sizeof(marker)), 0);
    assert_int_equal(kt_store_begin(st, &d), 0);
    assert_int_equal(kt_stmt_step(q, &d), KT_STORE_DONE);
    assert_int_equal(kt_store_commit(st, &d), 0);
    kt_stmt_finalize(&q);
    assert_int_equal(kt_store_checkpoint_truncate(st, &d), 0);
    assert_true(s_file_contains(f->db, marker, sizeof(marker))); /* the search works */

    assert_int_equal(kt_store_begin(st, &d), 0);
    assert_int_equal(kt_store_exec(st, "DELETE FROM subject_keys", &d), 0);
    assert_int_equal(kt_store_commit(st, &d), 0);
    assert_int_equal(kt_store_checkpoint_truncate(st, &d), 0);
    assert_int_equal(stat(wal, &sb), 0);
    assert_int_equal(sb.st_size, 0);
    assert_false(s_file_contains(f->db, marker, sizeof(marker)));
    assert_false(s_file_contains(wal, marker, sizeof(marker)));
    kt_store_close(&st);
    assert_false(s_file_contains(f->db, marker, sizeof(marker)));
}

static void test_store_path_must_be_a_file(void **state)
{
    struct fx *f = *state;
    kt_store_t *st = NULL;
    kt_diag_t d = {{0}};

    assert_int_equal(kt_store_open(&st, ":memory:", &d), KT_EINVAL);
    assert_int_equal(kt_store_open(&st, f->dir, &d), KT_EINVAL);
    assert_non_null(strstr(d.msg, "not a regular file"));
    assert_null(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_store_has_latest_schema_and_pragmas),
        cmocka_unit_test_setup_teardown(test_file_store_is_0600_wal_and_reopens, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_readable_database_is_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_is_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_foreign_database_is_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_non_database_file_is_refused, s_setup, s_teardown),
        cmocka_unit_test(test_rollback_leaves_nothing),
        cmocka_unit_test(test_statements_bind_and_read_back),
        cmocka_unit_test(test_empty_blob_is_not_null_and_bad_binds_stop_step),
        cmocka_unit_test(test_constraints_are_enforced),
        cmocka_unit_test(test_audit_is_append_only),
        cmocka_unit_test_setup_teardown(test_purge_leaves_nothing_in_file_or_wal, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_store_path_must_be_a_file, s_setup, s_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
