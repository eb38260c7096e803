/*
 * signal_store.c - the school's raw attendance in the node database (schema
 * v2): import (one transaction, a repeated (pupil, date) replaces), load for
 * the rules, what was submitted, and the purge by retention.
 *
 * The pupil's number, BSN and birth date live only in signal_pupil.payload,
 * locked with the node's store key and bound to the subject pseudonym;
 * attendance rows carry the pseudonym, minutes and a category. Must never
 * write an id in the clear, log a row, or count a row twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keten/signal.h"

#define S_AD "signal_pupil"
#define S_AD_BYTES (sizeof(S_AD) - 1 + KT_SUBJECT_BYTES)
/* payload plaintext: number \0 leerling_id \0 geboortedatum \0 */
#define S_PLAIN_MAX (KT_SIGNAL_NUMBER_MAX + KT_LEERLING_ID_BYTES + KT_SIGNAL_DATE_BYTES + 3)

static void s_ad(uint8_t ad[S_AD_BYTES], const uint8_t subject[KT_SUBJECT_BYTES])
{
    memcpy(ad, S_AD, sizeof(S_AD) - 1);
    memcpy(ad + sizeof(S_AD) - 1, subject, KT_SUBJECT_BYTES);
}

static void s_plus_days(char out[KT_SIGNAL_DATE_BYTES], const char *date, int days)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = atoi(date) - 1900;
    tm.tm_mon = atoi(date + 5) - 1;
    tm.tm_mday = atoi(date + 8) + days;
    tm.tm_hour = 12;
    tm.tm_isdst = -1;
    (void)mktime(&tm);
    strftime(out, KT_SIGNAL_DATE_BYTES, "%Y-%m-%d", &tm);
}

static int s_put_pupil(kt_store_t *st, const kt_vault_t *v, const kt_signal_row_t *r,
                       const uint8_t subject[KT_SUBJECT_BYTES], kt_stmt_t *q, kt_diag_t *d)
{
    uint8_t ad[S_AD_BYTES], *locked = NULL;
    char plain[S_PLAIN_MAX];
    size_t n, locked_len = 0;
    int rc;

    (void)st;
    n = (size_t)snprintf(plain, sizeof(plain), "%s%c%s%c%s", r->number, 0, r->leerling_id, 0,
                         r->geboortedatum) +
        1;
    s_ad(ad, subject);
    rc = kt_vault_lock(&locked, &locked_len, (const uint8_t *)plain, n, ad, sizeof(ad), v, d);
    explicit_bzero(plain, sizeof(plain));
    if (rc != 0)
        return rc;
    kt_stmt_reset(q);
    if ((rc = kt_stmt_bind_blob(q, 1, subject, KT_SUBJECT_BYTES)) == 0 &&
        (rc = kt_stmt_bind_blob(q, 2, locked, locked_len)) == 0)
        rc = kt_stmt_step(q, d);
    kt_vault_free(locked, locked_len);
    return rc < 0 ? rc : 0;
}

static int s_cmp_ids(const void *a, const void *b)
{
    return strcmp(((const kt_signal_row_t *const *)a)[0]->leerling_id,
                  ((const kt_signal_row_t *const *)b)[0]->leerling_id);
}

/* Distinct pupils among rows (they need not be grouped). */
static int s_distinct(kt_store_t *st, const kt_signal_row_t *rows, size_t n, const kt_vault_t *v,
                      size_t *out, kt_diag_t *d)
{
    const kt_signal_row_t **idx;

    (void)st;
    (void)v;
    *out = 0;
    if (n == 0)
        return 0;
    if ((idx = calloc(n, sizeof(*idx))) == NULL)
        return kt_diag_set(d, KT_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        idx[i] = &rows[i];
    qsort(idx, n, sizeof(*idx), s_cmp_ids);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || strcmp(idx[i]->leerling_id, idx[i - 1]->leerling_id) != 0)
            (*out)++;
    free(idx);
    return 0;
}

int kt_signal_import(kt_store_t *st, const kt_vault_t *v, const kt_signal_conf_t *c,
                     const kt_signal_row_t *rows, size_t n, size_t *pupils, kt_diag_t *d)
{
    kt_stmt_t *qp = NULL, *qa = NULL;
    uint8_t subject[KT_SUBJECT_BYTES];
    char expires[KT_SIGNAL_DATE_BYTES];
    size_t distinct = 0;
    int rc;

    *pupils = 0;
    if ((rc = kt_store_begin(st, d)) != 0)
        return rc;
    if ((rc = kt_store_prepare(st, &qp,
                               "INSERT INTO signal_pupil (subject, payload) VALUES (?, ?)"
                               " ON CONFLICT (subject) DO UPDATE SET payload = excluded.payload",
                               d)) != 0 ||
        (rc = kt_store_prepare(st, &qa,
                               "INSERT OR REPLACE INTO attendance (subject, datum, lestijd, "
                               "afwezig, categorie, flags, expires) VALUES (?, ?, ?, ?, ?, ?, ?)",
                               d)) != 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const kt_signal_row_t *r = &rows[i];

        if ((rc = kt_vault_subject(subject, v, r->leerling_id, d)) != 0)
            goto out;
        /* the first row of each run of one pupil's rows stores their ids */
        if (i == 0 || strcmp(rows[i - 1].leerling_id, r->leerling_id) != 0) {
            if ((rc = s_put_pupil(st, v, r, subject, qp, d)) != 0)
                goto out;
        }
        s_plus_days(expires, r->datum, c->retention_days);
        kt_stmt_reset(qa);
        if ((rc = kt_stmt_bind_blob(qa, 1, subject, sizeof(subject))) != 0 ||
            (rc = kt_stmt_bind_text(qa, 2, r->datum)) != 0 ||
            (rc = kt_stmt_bind_int64(qa, 3, r->lestijd)) != 0 ||
            (rc = kt_stmt_bind_int64(qa, 4, r->afwezig)) != 0 ||
            (rc = kt_stmt_bind_text(qa, 5, kt_signal_cat_name(r->cat))) != 0 ||
            (rc = kt_stmt_bind_int64(qa, 6, r->flags)) != 0 ||
            (rc = kt_stmt_bind_text(qa, 7, expires)) != 0 || (rc = kt_stmt_step(qa, d)) < 0)
            goto out;
    }
    kt_stmt_finalize(&qp);
    kt_stmt_finalize(&qa);
    if ((rc = s_distinct(st, rows, n, v, &distinct, d)) != 0 || (rc = kt_store_commit(st, d)) != 0)
        goto out;
    *pupils = distinct;
out:
    kt_stmt_finalize(&qp);
    kt_stmt_finalize(&qa);
    if (rc != 0)
        kt_store_rollback(st);
    explicit_bzero(subject, sizeof(subject));
    return rc;
}

void kt_signal_pupils_free(kt_signal_pupil_t *p, size_t n)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        if (p[i].days != NULL) {
            explicit_bzero(p[i].days, p[i].ndays * sizeof(*p[i].days));
            free(p[i].days);
        }
    }
    explicit_bzero(p, n * sizeof(*p));
    free(p);
}

static int s_unlock_pupil(kt_signal_pupil_t *p, const void *blob, size_t len, const kt_vault_t *v,
                          kt_diag_t *d)
{
    uint8_t ad[S_AD_BYTES], *plain = NULL;
    size_t n = 0, a, b;
    int rc;

    s_ad(ad, p->subject);
    if ((rc = kt_vault_unlock(&plain, &n, blob, len, ad, sizeof(ad), v, d)) != 0)
        return rc;
    a = strnlen((const char *)plain, n);
    b = a + 1 < n ? strnlen((const char *)plain + a + 1, n - a - 1) : n;
    if (n == 0 || plain[n - 1] != 0 || a > KT_SIGNAL_NUMBER_MAX || b != KT_LEERLING_ID_BYTES ||
        n - a - b - 3 != KT_SIGNAL_DATE_BYTES - 1) {
        kt_vault_free(plain, n);
        return kt_diag_set(d, KT_EMALFORMED, "signal_pupil: a stored payload is malformed");
    }
    memcpy(p->number, plain, a + 1);
    memcpy(p->leerling_id, plain + a + 1, b + 1);
    memcpy(p->geboortedatum, plain + a + b + 2, KT_SIGNAL_DATE_BYTES);
    kt_vault_free(plain, n);
    return 0;
}

static int s_find(kt_signal_pupil_t *p, size_t n, const void *subject)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = memcmp(p[mid].subject, subject, KT_SUBJECT_BYTES);

        if (c == 0)
            return (int)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static int s_load_days(kt_signal_pupil_t *p, size_t np, kt_store_t *st, kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    int rc, at = -1;

    if ((rc = kt_store_prepare(st, &q,
                               "SELECT subject, datum, lestijd, afwezig, categorie, flags FROM "
                               "attendance ORDER BY subject, datum",
                               d)) != 0)
        return rc;
    while ((rc = kt_stmt_step(q, d)) == KT_STORE_ROW) {
        const void *sub = kt_stmt_column_blob(q, 0);
        kt_signal_pupil_t *pp;
        kt_signal_day_t *day;
        const char *datum;

        if (kt_stmt_column_bytes(q, 0) != KT_SUBJECT_BYTES)
            continue;
        if (at < 0 || memcmp(p[at].subject, sub, KT_SUBJECT_BYTES) != 0)
            at = s_find(p, np, sub);
        if (at < 0)
            continue;
        pp = &p[at];
        if (pp->ndays % 64 == 0) {
            kt_signal_day_t *g = realloc(pp->days, (pp->ndays + 64) * sizeof(*g));

            if (g == NULL) {
                rc = kt_diag_set(d, KT_ENOMEM, "out of memory");
                break;
            }
            pp->days = g;
        }
        day = &pp->days[pp->ndays];
        memset(day, 0, sizeof(*day));
        datum = kt_stmt_column_text(q, 1);
        if (datum == NULL || strlen(datum) != KT_SIGNAL_DATE_BYTES - 1 ||
            kt_signal_cat_parse(kt_stmt_column_text(q, 4), &day->cat) != 0)
            continue;
        memcpy(day->datum, datum, KT_SIGNAL_DATE_BYTES);
        day->lestijd = (int)kt_stmt_column_int64(q, 2);
        day->afwezig = (int)kt_stmt_column_int64(q, 3);
        day->flags = (unsigned)kt_stmt_column_int64(q, 5);
        pp->ndays++;
    }
    kt_stmt_finalize(&q);
    return rc < 0 ? rc : 0;
}

int kt_signal_pupils_load(kt_signal_pupil_t **out, size_t *n, kt_store_t *st, const kt_vault_t *v,
                          kt_diag_t *d)
{
    kt_signal_pupil_t *p = NULL;
    kt_stmt_t *q = NULL;
    size_t np = 0, cap = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if ((rc = kt_store_prepare(st, &q, "SELECT subject, payload FROM signal_pupil ORDER BY subject",
                               d)) != 0)
        return rc;
    while ((rc = kt_stmt_step(q, d)) == KT_STORE_ROW) {
        if (kt_stmt_column_bytes(q, 0) != KT_SUBJECT_BYTES)
            continue;
        if (np == cap) {
            kt_signal_pupil_t *g = calloc(cap + 64, sizeof(*g));

            if (g == NULL) {
                rc = kt_diag_set(d, KT_ENOMEM, "out of memory");
                goto out;
            }
            if (p != NULL)
                memcpy(g, p, np * sizeof(*p));
            if (p != NULL)
                explicit_bzero(p, np * sizeof(*p));
            free(p);
            p = g;
            cap += 64;
        }
        memcpy(p[np].subject, kt_stmt_column_blob(q, 0), KT_SUBJECT_BYTES);
        {
            const void *blob = kt_stmt_column_blob(q, 1);

            if ((rc = s_unlock_pupil(&p[np], blob, kt_stmt_column_bytes(q, 1), v, d)) != 0)
                goto out;
        }
        np++;
    }
    kt_stmt_finalize(&q);
    if (rc < 0 || (rc = s_load_days(p, np, st, d)) != 0)
        goto out;
    *out = p;
    *n = np;
    p = NULL;
out:
    kt_stmt_finalize(&q);
    kt_signal_pupils_free(p, np);
    return rc < 0 ? rc : 0;
}

int kt_signal_sent_get(kt_store_t *st, const uint8_t subject[KT_SUBJECT_BYTES],
                       kt_signal_rule_t rule, const char *episode, int *state, char *to,
                       size_t tolen, kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    int rc;

    if ((rc = kt_store_prepare(st, &q,
                               "SELECT state, recipients FROM signal_sent WHERE subject = ? AND "
                               "criterium = ? AND episode = ?",
                               d)) != 0)
        return rc;
    if ((rc = kt_stmt_bind_blob(q, 1, subject, KT_SUBJECT_BYTES)) != 0 ||
        (rc = kt_stmt_bind_text(q, 2, kt_signal_rule_name(rule))) != 0 ||
        (rc = kt_stmt_bind_text(q, 3, episode)) != 0)
        goto out;
    rc = kt_stmt_step(q, d);
    if (rc == KT_STORE_ROW) {
        if (state != NULL)
            *state = (int)kt_stmt_column_int64(q, 0);
        if (to != NULL && tolen > 0)
            snprintf(to, tolen, "%s", kt_stmt_column_text(q, 1) ? kt_stmt_column_text(q, 1) : "");
        rc = 0;
    } else if (rc == KT_STORE_DONE) {
        rc = KT_ENOENT;
    }
out:
    kt_stmt_finalize(&q);
    return rc;
}

int kt_signal_sent_put(kt_store_t *st, const uint8_t subject[KT_SUBJECT_BYTES],
                       kt_signal_rule_t rule, const char *episode, int state, const char *to,
                       kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    int rc, own = !kt_store_in_transaction(st);

    if (own && (rc = kt_store_begin(st, d)) != 0)
        return rc;
    if ((rc = kt_store_prepare(st, &q,
                               "INSERT OR REPLACE INTO signal_sent (subject, criterium, episode, "
                               "state, recipients, updated) VALUES (?, ?, ?, ?, ?, ?)",
                               d)) != 0)
        goto out;
    if ((rc = kt_stmt_bind_blob(q, 1, subject, KT_SUBJECT_BYTES)) != 0 ||
        (rc = kt_stmt_bind_text(q, 2, kt_signal_rule_name(rule))) != 0 ||
        (rc = kt_stmt_bind_text(q, 3, episode)) != 0 ||
        (rc = kt_stmt_bind_int64(q, 4, state)) != 0 || (rc = kt_stmt_bind_text(q, 5, to)) != 0 ||
        (rc = kt_stmt_bind_int64(q, 6, (int64_t)time(NULL))) != 0 || (rc = kt_stmt_step(q, d)) < 0)
        goto out;
    kt_stmt_finalize(&q);
    if (own)
        rc = kt_store_commit(st, d);
out:
    kt_stmt_finalize(&q);
    if (rc != 0 && own)
        kt_store_rollback(st);
    return rc < 0 ? rc : 0;
}

int kt_signal_sent_open_lt50(kt_store_t *st, const uint8_t subject[KT_SUBJECT_BYTES],
                             int (*cb)(void *ctx, const char *episode, const char *to), void *ctx,
                             kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    char ep[KT_SIGNAL_DATE_BYTES], to[1024];
    int rc;

    if ((rc = kt_store_prepare(st, &q,
                               "SELECT episode, recipients FROM signal_sent WHERE subject = ? AND "
                               "criterium = 'geoorloofd_lt50' AND state = 1 ORDER BY episode",
                               d)) != 0)
        return rc;
    if ((rc = kt_stmt_bind_blob(q, 1, subject, KT_SUBJECT_BYTES)) != 0)
        goto out;
    while ((rc = kt_stmt_step(q, d)) == KT_STORE_ROW) {
        const char *e = kt_stmt_column_text(q, 0), *t = kt_stmt_column_text(q, 1);

        if (e == NULL || strlen(e) != KT_SIGNAL_DATE_BYTES - 1)
            continue;
        memcpy(ep, e, sizeof(ep));
        snprintf(to, sizeof(to), "%s", t ? t : "");
        /* the callback may write: finish reading first would need a copy of
         * every row; the statement is only read from here on */
        if ((rc = cb(ctx, ep, to)) != 0)
            goto out;
    }
out:
    kt_stmt_finalize(&q);
    return rc < 0 ? rc : 0;
}

int kt_signal_purge(kt_store_t *st, time_t now, size_t *n, kt_diag_t *d)
{
    char today[KT_SIGNAL_DATE_BYTES];
    kt_stmt_t *q = NULL;
    struct tm tm;
    int rc;

    *n = 0;
    if (localtime_r(&now, &tm) == NULL)
        return kt_diag_set(d, KT_EINVAL, "signal purge: bad time");
    strftime(today, sizeof(today), "%Y-%m-%d", &tm);
    if ((rc = kt_store_begin(st, d)) != 0)
        return rc;
    if ((rc = kt_store_prepare(st, &q, "DELETE FROM attendance WHERE expires < ?", d)) != 0 ||
        (rc = kt_stmt_bind_text(q, 1, today)) != 0 || (rc = kt_stmt_step(q, d)) < 0)
        goto out;
    *n = (size_t)kt_store_changes(st);
    kt_stmt_finalize(&q);
    if ((rc = kt_store_exec(st,
                            "DELETE FROM signal_pupil WHERE NOT EXISTS (SELECT 1 FROM attendance a "
                            "WHERE a.subject = signal_pupil.subject);"
                            "DELETE FROM signal_sent WHERE NOT EXISTS (SELECT 1 FROM attendance a "
                            "WHERE a.subject = signal_sent.subject);",
                            d)) != 0)
        goto out;
    rc = kt_store_commit(st, d);
out:
    kt_stmt_finalize(&q);
    if (rc != 0) {
        kt_store_rollback(st);
        *n = 0;
    }
    return rc < 0 ? rc : 0;
}

int kt_signal_count(kt_store_t *st, int64_t *rows, kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    int rc;

    *rows = 0;
    if ((rc = kt_store_prepare(st, &q, "SELECT count(*) FROM attendance", d)) != 0)
        return rc;
    if ((rc = kt_stmt_step(q, d)) == KT_STORE_ROW) {
        *rows = kt_stmt_column_int64(q, 0);
        rc = 0;
    }
    kt_stmt_finalize(&q);
    return rc < 0 ? rc : 0;
}
