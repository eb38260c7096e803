/*
 * subject.c - the subject_keys table: create, fetch and forget a pupil's
 * data key.
 *
 * Kept apart from vault.c so the vault stays pure cryptography (testable
 * without a database) and this file holds the table logic only: it calls
 * the vault to generate, wrap and unwrap, and the store API for rows (it
 * never includes sqlite3.h). Must never store a key unwrapped, never hand
 * out a key that did not unwrap, never forget a subject that still has a
 * consent, and never name a subject or a key byte in a diagnostic.
 */
#include <assert.h>
#include <stdlib.h>
#include <time.h>

#include "keten/subject.h"

/* Runs a statement that takes the subject as its only parameter. */
static int s_prepare_subject(kt_stmt_t **q, kt_store_t *st, const char *sql,
                             const uint8_t subject[KT_SUBJECT_BYTES], kt_diag_t *d)
{
    int rc;

    if ((rc = kt_store_prepare(st, q, sql, d)) != 0)
        return rc;
    if ((rc = kt_stmt_bind_blob(*q, 1, subject, KT_SUBJECT_BYTES)) != 0) {
        kt_stmt_finalize(q);
        return kt_diag_set(d, rc, "cannot bind a subject");
    }
    return 0;
}

/* Generates, wraps and inserts a key for the subject; *out is the key. */
static int s_create(kt_vault_key_t **out, kt_store_t *st, const kt_vault_t *v,
                    const uint8_t subject[KT_SUBJECT_BYTES], kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    uint8_t *wrapped = NULL;
    size_t wlen = 0;
    int rc;

    if ((rc = kt_vault_key_generate(out, d)) != 0 ||
        (rc = kt_vault_key_wrap(&wrapped, &wlen, *out, subject, v, d)) != 0)
        goto out;
    if ((rc = s_prepare_subject(&q, st,
                                "INSERT INTO subject_keys (subject, wrapped_key, created)"
                                " VALUES (?, ?, ?)",
                                subject, d)) != 0)
        goto out;
    if ((rc = kt_stmt_bind_blob(q, 2, wrapped, wlen)) != 0 ||
        (rc = kt_stmt_bind_int64(q, 3, (int64_t)time(NULL))) != 0) {
        rc = kt_diag_set(d, rc, "cannot bind a subject key");
        goto out;
    }
    rc = kt_stmt_step(q, d);
    rc = rc == KT_STORE_DONE ? 0 : rc;
out:
    kt_stmt_finalize(&q);
    kt_vault_free(wrapped, wlen);
    if (rc != 0)
        kt_vault_key_destroy(out);
    return rc;
}

int kt_subject_get_key(kt_vault_key_t **out, kt_store_t *st, const kt_vault_t *v,
                       const uint8_t subject[KT_SUBJECT_BYTES], int create, kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    int rc;

    *out = NULL;
    assert(!create || kt_store_in_transaction(st));
    if ((rc = s_prepare_subject(&q, st, "SELECT wrapped_key FROM subject_keys WHERE subject = ?",
                                subject, d)) != 0)
        return rc;
    rc = kt_stmt_step(q, d);
    if (rc == KT_STORE_ROW) {
        const void *w = kt_stmt_column_blob(q, 0);
        size_t wlen = kt_stmt_column_bytes(q, 0);

        rc = w == NULL ? kt_diag_set(d, KT_EMALFORMED, "subject key: stored value is empty")
                       : kt_vault_key_unwrap(out, w, wlen, subject, v, d);
    } else if (rc == KT_STORE_DONE) {
        rc = create ? s_create(out, st, v, subject, d)
                    : kt_diag_set(d, KT_ENOENT,
                                  "no key for this subject (never stored, or "
                                  "forgotten)");
    }
    kt_stmt_finalize(&q);
    return rc;
}

int kt_subject_ensure(kt_store_t *st, const kt_vault_t *v, const uint8_t subject[KT_SUBJECT_BYTES],
                      kt_diag_t *d)
{
    kt_vault_key_t *k = NULL;
    int rc;

    if ((rc = kt_subject_exists(st, subject, d)) < 0)
        return rc;
    if (rc == 1)
        return 0;
    rc = kt_subject_get_key(&k, st, v, subject, 1, d);
    kt_vault_key_destroy(&k);
    return rc;
}

/* The count of one `SELECT count(*) ... WHERE subject = ?`. */
static int s_count(kt_store_t *st, const char *sql, const uint8_t subject[KT_SUBJECT_BYTES],
                   int64_t *n, kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    int rc;

    *n = 0;
    if ((rc = s_prepare_subject(&q, st, sql, subject, d)) != 0)
        return rc;
    rc = kt_stmt_step(q, d);
    if (rc == KT_STORE_ROW) {
        *n = kt_stmt_column_int64(q, 0);
        rc = 0;
    } else if (rc == KT_STORE_DONE) {
        rc = kt_diag_set(d, KT_EIO, "count returned nothing");
    }
    kt_stmt_finalize(&q);
    return rc;
}

int kt_subject_exists(kt_store_t *st, const uint8_t subject[KT_SUBJECT_BYTES], kt_diag_t *d)
{
    int64_t n;
    int rc;

    if ((rc = s_count(st, "SELECT count(*) FROM subject_keys WHERE subject = ?", subject, &n, d)) !=
        0)
        return rc;
    return n > 0;
}

int kt_subject_forget(kt_store_t *st, const uint8_t subject[KT_SUBJECT_BYTES], kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    int64_t n;
    int rc;

    assert(kt_store_in_transaction(st));
    if ((rc = s_count(st, "SELECT count(*) FROM consent WHERE subject = ?", subject, &n, d)) != 0)
        return rc;
    if (n > 0)
        return kt_diag_set(d, KT_EEXIST,
                           "cannot forget this subject: %lld consent record(s) of theirs are "
                           "still kept; purge them first",
                           (long long)n);
    /* An imported list entry is locked under this key too; its list owns
     * it (replaced whole, or expiring), so the key stays until then. */
    if ((rc = s_count(st, "SELECT count(*) FROM registry_entry WHERE subject = ?", subject, &n,
                      d)) != 0)
        return rc;
    if (n > 0)
        return kt_diag_set(d, KT_EEXIST,
                           "cannot forget this subject: they are on %lld imported list(s); "
                           "import those lists again without them, or let them expire",
                           (long long)n);
    if ((rc = s_prepare_subject(&q, st, "DELETE FROM subject_keys WHERE subject = ?", subject,
                                d)) != 0)
        return rc;
    rc = kt_stmt_step(q, d);
    if (rc == KT_STORE_DONE)
        rc = kt_store_changes(st) == 1 ? 0
                                       : kt_diag_set(d, KT_ENOENT,
                                                     "no key for this subject "
                                                     "(never stored, or forgotten)");
    kt_stmt_finalize(&q);
    return rc;
}

int kt_subject_forget_unused(kt_store_t *st, size_t *n, kt_diag_t *d)
{
    /* Nothing of the pupil left: no record either way, no consent. */
    static const char sql[] =
        "DELETE FROM subject_keys WHERE"
        " NOT EXISTS (SELECT 1 FROM outbox o WHERE o.subject = subject_keys.subject)"
        " AND NOT EXISTS (SELECT 1 FROM inbox i WHERE i.subject = subject_keys.subject)"
        " AND NOT EXISTS (SELECT 1 FROM consent c WHERE c.subject = subject_keys.subject)"
        " AND NOT EXISTS (SELECT 1 FROM registry_entry r WHERE r.subject = subject_keys.subject)";
    int rc;

    *n = 0;
    if ((rc = kt_store_exec(st, sql, d)) == 0)
        *n = (size_t)kt_store_changes(st);
    return rc;
}
