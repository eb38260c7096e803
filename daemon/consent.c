/*
 * consent.c - the consent registry: the `consent` table, its codes and its
 * date rules (DOMAIN.md §4.7, §8 rules 1-4).
 *
 * Owns what a valid consent is, when one is in force and when it expires.
 * Pure rules (dates, codes, matching) are plain functions over kt_consent_t
 * so they are tested without a database; the table is reached through the
 * store API. Must never store or name a leerling_id (only the subject
 * pseudonym reaches this file), never record a consent the parents were not
 * told about first, never let a niet_akkoord, withdrawn or expired consent
 * answer a gate, and never cut a value to fit a buffer.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keten/consent.h"
#include "keten/envelope.h"
#include "keten/record.h"
#include "keten/subject.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *const s_doelen[] = {
    "melding_geoorloofd",    "zorgoverleg",          "contact_hulpverlening",
    "terugkoppeling_school", "overleg_vrijstelling", "lijstvergelijking",
};

static const char s_doel_list[] = "melding_geoorloofd, zorgoverleg, contact_hulpverlening, "
                                  "terugkoppeling_school, overleg_vrijstelling, "
                                  "lijstvergelijking";

static const char s_not_informed[] =
    "refused: the parents must be informed before a consent is recorded (privacy rule 3, "
    "'parents informed first'); inform them, then record the consent";

/* The columns every row query selects, in kt_consent_t order. */
#define S_COLUMNS                                                                                  \
    "id, subject, recipient, doel, record_types, gegeven_door, beslissing, evidence, "             \
    "gegeven_op, geldig_tot, ingetrokken_op, state, created"

/* ---- codes ---- */

int kt_consent_doel_known(const char *doel)
{
    size_t i;

    for (i = 0; doel != NULL && i < NELEM(s_doelen); i++)
        if (strcmp(doel, s_doelen[i]) == 0)
            return 1;
    return 0;
}

const char *kt_consent_doel_at(size_t i)
{
    return i < NELEM(s_doelen) ? s_doelen[i] : NULL;
}

int kt_consent_door_parse(const char *s, kt_consent_door_t *out)
{
    if (s == NULL)
        return KT_EINVAL;
    if (strcmp(s, "ouders") == 0)
        *out = KT_CONSENT_BY_OUDERS;
    else if (strcmp(s, "leerling") == 0)
        *out = KT_CONSENT_BY_LEERLING;
    else if (strcmp(s, "ouders_en_leerling") == 0)
        *out = KT_CONSENT_BY_BOTH;
    else
        return KT_EINVAL;
    return 0;
}

const char *kt_consent_door_name(kt_consent_door_t door)
{
    switch (door) {
    case KT_CONSENT_BY_OUDERS:
        return "ouders";
    case KT_CONSENT_BY_LEERLING:
        return "leerling";
    case KT_CONSENT_BY_BOTH:
        return "ouders_en_leerling";
    }
    return "?";
}

const char *kt_consent_decision_name(kt_consent_decision_t dec)
{
    return dec == KT_CONSENT_NIET_AKKOORD ? "niet_akkoord" : "akkoord";
}

const char *kt_consent_state_name(kt_consent_state_t st)
{
    static const char *const names[] = {"active", "withdrawn", "expired"};

    return (unsigned)st < NELEM(names) ? names[st] : "?";
}

static int s_state_parse(const char *s, kt_consent_state_t *out)
{
    size_t i;

    for (i = 0; s != NULL && i < 3; i++)
        if (strcmp(s, kt_consent_state_name((kt_consent_state_t)i)) == 0) {
            *out = (kt_consent_state_t)i;
            return 0;
        }
    return KT_EINVAL;
}

/* ---- dates and other pure rules ---- */

static int s_digits(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int s_num(const char *s, size_t n)
{
    int v = 0;
    size_t i;

    for (i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

int kt_consent_date_valid(const char *s)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, dd, leap;

    if (s == NULL || strnlen(s, 11) != 10 || !s_digits(s, 4) || s[4] != '-' ||
        !s_digits(s + 5, 2) || s[7] != '-' || !s_digits(s + 8, 2))
        return 0;
    y = s_num(s, 4);
    m = s_num(s + 5, 2);
    dd = s_num(s + 8, 2);
    if (y < 1900 || y > 2199 || m < 1 || m > 12 || dd < 1)
        return 0;
    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return dd <= mdays[m - 1] + (m == 2 && leap);
}

void kt_consent_today(char out[KT_DATE_BYTES])
{
    time_t now = time(NULL);
    struct tm tm;

    if (localtime_r(&now, &tm) == NULL || strftime(out, KT_DATE_BYTES, "%Y-%m-%d", &tm) != 10)
        snprintf(out, KT_DATE_BYTES, "1970-01-01"); /* unreachable with a sane clock */
}

int kt_consent_evidence_valid(const char *s)
{
    size_t i;

    if (s == NULL)
        return 0;
    for (i = 0; i <= KT_CONSENT_EVIDENCE_MAX && s[i] != '\0'; i++) {
        char c = s[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '/' || c == '-'))
            return 0;
    }
    return i >= 1 && i <= KT_CONSENT_EVIDENCE_MAX;
}

int kt_consent_types_has(const char *types, const char *type)
{
    size_t n = strlen(type);
    const char *p = types;

    if (n == 0)
        return 0;
    while ((p = strstr(p, type)) != NULL) {
        if ((p == types || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return 1;
        p += n;
    }
    return 0;
}

kt_consent_state_t kt_consent_state_on(const kt_consent_t *c, const char *date)
{
    if (c->state == KT_CONSENT_WITHDRAWN || c->ingetrokken_op[0] != '\0')
        return KT_CONSENT_WITHDRAWN;
    if (c->state == KT_CONSENT_EXPIRED || strcmp(date, c->geldig_tot) > 0)
        return KT_CONSENT_EXPIRED;
    return KT_CONSENT_ACTIVE;
}

int kt_consent_matches(const kt_consent_t *c, const kt_consent_query_t *q)
{
    return c->decision == KT_CONSENT_AKKOORD && c->state == KT_CONSENT_ACTIVE &&
           c->ingetrokken_op[0] == '\0' && strcmp(c->gegeven_op, q->date) <= 0 &&
           strcmp(q->date, c->geldig_tot) <= 0 &&
           memcmp(c->subject, q->subject, KT_SUBJECT_BYTES) == 0 &&
           strcmp(c->recipient, q->recipient) == 0 && strcmp(c->doel, q->doel) == 0 &&
           kt_consent_types_has(c->types, q->record_type) && (q->accepted & (unsigned)c->door);
}

/* ---- grant ---- */

static int s_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The sorted, comma-joined set of g's types into out. */
static int s_types_text(char out[KT_CONSENT_TYPES_TEXT], const kt_consent_grant_t *g, kt_diag_t *d)
{
    const char *sorted[KT_CONSENT_TYPES_MAX];
    size_t i, len = 0;

    if (g->ntypes == 0)
        return kt_diag_set(d, KT_EINVAL, "types: name at least one record type");
    if (g->ntypes > KT_CONSENT_TYPES_MAX)
        return kt_diag_set(d, KT_EINVAL, "types: at most %d record types", KT_CONSENT_TYPES_MAX);
    for (i = 0; i < g->ntypes; i++) {
        if (g->types[i] == NULL || !kt_record_type_known(g->types[i]))
            return kt_diag_set(d, KT_EINVAL,
                               "types: item %zu is not a record type (geoorloofd_verzuim, "
                               "thuiszitter, verzuimmelding, vrijstelling)",
                               i + 1);
        sorted[i] = g->types[i];
    }
    qsort(sorted, g->ntypes, sizeof(sorted[0]), s_cmp_str);
    out[0] = '\0';
    for (i = 0; i < g->ntypes; i++) {
        if (i > 0 && strcmp(sorted[i], sorted[i - 1]) == 0)
            return kt_diag_set(d, KT_EINVAL, "types: %s is named twice", sorted[i]);
        len += (size_t)snprintf(out + len, KT_CONSENT_TYPES_TEXT - len, "%s%s", i ? "," : "",
                                sorted[i]);
    }
    return 0;
}

static int s_grant_check(const kt_consent_grant_t *g, char types[KT_CONSENT_TYPES_TEXT],
                         kt_diag_t *d)
{
    kt_consent_door_t door;
    int rc;

    if (!g->informed)
        return kt_diag_set(d, KT_EINVAL, "%s", s_not_informed);
    if (g->recipient == NULL || !kt_keys_valid_id(g->recipient))
        return kt_diag_set(d, KT_EINVAL, "to: not a node id (1 to 64 of a-z, 0-9 and -)");
    if (!kt_consent_doel_known(g->doel))
        return kt_diag_set(d, KT_EINVAL, "doel: not a consent purpose (one of %s)", s_doel_list);
    if ((rc = s_types_text(types, g, d)) != 0)
        return rc;
    if (kt_consent_door_parse(g->door, &door) != 0)
        return kt_diag_set(d, KT_EINVAL,
                           "door: who gave it is ouders, leerling or "
                           "ouders_en_leerling");
    if (g->decision != NULL && strcmp(g->decision, "akkoord") != 0 &&
        strcmp(g->decision, "niet_akkoord") != 0)
        return kt_diag_set(d, KT_EINVAL, "decision: akkoord or niet_akkoord");
    if (g->evidence != NULL && !kt_consent_evidence_valid(g->evidence))
        return kt_diag_set(d, KT_EINVAL,
                           "evidence: a reference such as a form number, 1 to 64 of A-Z, a-z, "
                           "0-9 and . _ / - (no free text)");
    if (!kt_consent_date_valid(g->gegeven_op))
        return kt_diag_set(d, KT_EINVAL, "given (gegeven_op): not a date (YYYY-MM-DD)");
    if (!kt_consent_date_valid(g->geldig_tot))
        return kt_diag_set(d, KT_EINVAL, "until (geldig_tot): not a date (YYYY-MM-DD)");
    if (strcmp(g->geldig_tot, g->gegeven_op) <= 0)
        return kt_diag_set(d, KT_EINVAL,
                           "until (geldig_tot) must be after the day the consent was given "
                           "(gegeven_op)");
    return 0;
}

/* KT_EEXIST if the pupil has a decision in force for this recipient and doel
 * whose validity overlaps the new one. */
static int s_grant_overlap(kt_store_t *st, const kt_consent_grant_t *g, kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    char hex[KT_ENVELOPE_ID_HEX];
    int rc;

    rc = kt_store_prepare(st, &q,
                          "SELECT id, geldig_tot FROM consent WHERE subject = ? AND recipient = ? "
                          "AND doel = ? AND state = 'active' AND gegeven_op <= ? AND "
                          "geldig_tot >= ? LIMIT 1",
                          d);
    if (rc != 0)
        return rc;
    if ((rc = kt_stmt_bind_blob(q, 1, g->subject, KT_SUBJECT_BYTES)) != 0 ||
        (rc = kt_stmt_bind_text(q, 2, g->recipient)) != 0 ||
        (rc = kt_stmt_bind_text(q, 3, g->doel)) != 0 ||
        (rc = kt_stmt_bind_text(q, 4, g->geldig_tot)) != 0 ||
        (rc = kt_stmt_bind_text(q, 5, g->gegeven_op)) != 0) {
        rc = kt_diag_set(d, rc, "cannot bind a consent");
        goto out;
    }
    rc = kt_stmt_step(q, d);
    if (rc == KT_STORE_ROW && kt_stmt_column_bytes(q, 0) == KT_CONSENT_ID_BYTES) {
        const char *until = kt_stmt_column_text(q, 1);

        kt_envelope_id_hex(hex, kt_stmt_column_blob(q, 0));
        rc = kt_diag_set(d, KT_EEXIST,
                         "this pupil already has a consent decision for %s and doel %s in force "
                         "(%s, until %s); withdraw it first",
                         g->recipient, g->doel, hex,
                         until != NULL && kt_consent_date_valid(until) ? until : "?");
    } else if (rc == KT_STORE_ROW) {
        rc = kt_diag_set(d, KT_EIO, "a consent row has a malformed id");
    }
out:
    kt_stmt_finalize(&q);
    return rc;
}

static int s_insert(kt_store_t *st, const uint8_t id[KT_CONSENT_ID_BYTES],
                    const kt_consent_grant_t *g, const char *types, kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    int rc;

    rc = kt_store_prepare(st, &q,
                          "INSERT INTO consent (id, subject, recipient, doel, record_types, "
                          "gegeven_door, beslissing, ouders_vooraf_geinformeerd, evidence, "
                          "gegeven_op, geldig_tot, ingetrokken_op, state, created) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, NULL, 'active', ?)",
                          d);
    if (rc != 0)
        return rc;
    if ((rc = kt_stmt_bind_blob(q, 1, id, KT_CONSENT_ID_BYTES)) != 0 ||
        (rc = kt_stmt_bind_blob(q, 2, g->subject, KT_SUBJECT_BYTES)) != 0 ||
        (rc = kt_stmt_bind_text(q, 3, g->recipient)) != 0 ||
        (rc = kt_stmt_bind_text(q, 4, g->doel)) != 0 ||
        (rc = kt_stmt_bind_text(q, 5, types)) != 0 ||
        (rc = kt_stmt_bind_text(q, 6, g->door)) != 0 ||
        (rc = kt_stmt_bind_text(q, 7, g->decision ? g->decision : "akkoord")) != 0 ||
        (rc = g->evidence ? kt_stmt_bind_text(q, 8, g->evidence) : kt_stmt_bind_null(q, 8)) != 0 ||
        (rc = kt_stmt_bind_text(q, 9, g->gegeven_op)) != 0 ||
        (rc = kt_stmt_bind_text(q, 10, g->geldig_tot)) != 0 ||
        (rc = kt_stmt_bind_int64(q, 11, (int64_t)time(NULL))) != 0) {
        rc = kt_diag_set(d, rc, "cannot bind a consent");
        goto out;
    }
    rc = kt_stmt_step(q, d);
    rc = rc == KT_STORE_DONE ? 0 : rc;
out:
    kt_stmt_finalize(&q);
    return rc;
}

int kt_consent_grant(uint8_t id[KT_CONSENT_ID_BYTES], kt_store_t *st, const kt_vault_t *v,
                     const kt_consent_grant_t *g, kt_diag_t *d)
{
    char types[KT_CONSENT_TYPES_TEXT];
    uint8_t newid[KT_CONSENT_ID_BYTES];
    int rc;

    assert(kt_store_in_transaction(st));
    if ((rc = s_grant_check(g, types, d)) != 0 || (rc = s_grant_overlap(st, g, d)) != 0 ||
        (rc = kt_subject_ensure(st, v, g->subject, d)) != 0)
        return rc;
    kt_envelope_new_id(newid);
    if ((rc = s_insert(st, newid, g, types, d)) != 0)
        return rc;
    memcpy(id, newid, KT_CONSENT_ID_BYTES);
    return 0;
}

/* ---- reading rows ---- */

/* Copies a text column; -1 if it is NULL (and required) or does not fit. */
static int s_copy(char *dst, size_t n, const char *src, int nullable)
{
    size_t len;

    dst[0] = '\0';
    if (src == NULL)
        return nullable ? 0 : -1;
    if ((len = strnlen(src, n)) >= n)
        return -1;
    memcpy(dst, src, len + 1);
    return 0;
}

static int s_row(kt_stmt_t *q, kt_consent_t *c, kt_diag_t *d)
{
    const char *dec = kt_stmt_column_text(q, 6);

    memset(c, 0, sizeof(*c));
    if (kt_stmt_column_bytes(q, 0) != KT_CONSENT_ID_BYTES ||
        kt_stmt_column_bytes(q, 1) != KT_SUBJECT_BYTES)
        return kt_diag_set(d, KT_EIO, "a consent row has a malformed id or subject");
    memcpy(c->id, kt_stmt_column_blob(q, 0), KT_CONSENT_ID_BYTES);
    memcpy(c->subject, kt_stmt_column_blob(q, 1), KT_SUBJECT_BYTES);
    if (s_copy(c->recipient, sizeof(c->recipient), kt_stmt_column_text(q, 2), 0) != 0 ||
        s_copy(c->doel, sizeof(c->doel), kt_stmt_column_text(q, 3), 0) != 0 ||
        s_copy(c->types, sizeof(c->types), kt_stmt_column_text(q, 4), 0) != 0 ||
        kt_consent_door_parse(kt_stmt_column_text(q, 5), &c->door) != 0 || dec == NULL ||
        s_copy(c->evidence, sizeof(c->evidence), kt_stmt_column_text(q, 7), 1) != 0 ||
        s_copy(c->gegeven_op, sizeof(c->gegeven_op), kt_stmt_column_text(q, 8), 0) != 0 ||
        s_copy(c->geldig_tot, sizeof(c->geldig_tot), kt_stmt_column_text(q, 9), 0) != 0 ||
        s_copy(c->ingetrokken_op, sizeof(c->ingetrokken_op), kt_stmt_column_text(q, 10), 1) != 0 ||
        s_state_parse(kt_stmt_column_text(q, 11), &c->state) != 0)
        return kt_diag_set(d, KT_EIO, "a consent row holds a value out of range");
    c->decision = strcmp(dec, "niet_akkoord") == 0 ? KT_CONSENT_NIET_AKKOORD : KT_CONSENT_AKKOORD;
    c->created = kt_stmt_column_int64(q, 12);
    return 0;
}

/* Appends every row q yields to *rows. */
static int s_collect(kt_stmt_t *q, kt_consent_t **rows, size_t *n, kt_diag_t *d)
{
    size_t cap = 0;
    int rc;

    *rows = NULL;
    *n = 0;
    while ((rc = kt_stmt_step(q, d)) == KT_STORE_ROW) {
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            kt_consent_t *p = realloc(*rows, ncap * sizeof(**rows));

            if (p == NULL) {
                rc = kt_diag_set(d, KT_ENOMEM, "out of memory listing consents");
                break;
            }
            *rows = p;
            cap = ncap;
        }
        if ((rc = s_row(q, &(*rows)[*n], d)) != 0)
            break;
        (*n)++;
    }
    if (rc == KT_STORE_DONE)
        return 0;
    free(*rows);
    *rows = NULL;
    *n = 0;
    return rc;
}

int kt_consent_get(kt_store_t *st, const uint8_t id[KT_CONSENT_ID_BYTES], kt_consent_t *out,
                   kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    kt_consent_t *rows = NULL;
    size_t n = 0;
    char hex[KT_ENVELOPE_ID_HEX];
    int rc;

    if ((rc = kt_store_prepare(st, &q, "SELECT " S_COLUMNS " FROM consent WHERE id = ?", d)) != 0)
        return rc;
    if ((rc = kt_stmt_bind_blob(q, 1, id, KT_CONSENT_ID_BYTES)) != 0)
        rc = kt_diag_set(d, rc, "cannot bind a consent id");
    else if ((rc = s_collect(q, &rows, &n, d)) == 0 && n == 0) {
        kt_envelope_id_hex(hex, id);
        rc = kt_diag_set(d, KT_ENOENT, "no consent %s on this node", hex);
    } else if (rc == 0) {
        *out = rows[0];
    }
    free(rows);
    kt_stmt_finalize(&q);
    return rc;
}

int kt_consent_list(kt_store_t *st, const uint8_t *subject, kt_consent_t **rows, size_t *n,
                    kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    int rc;

    *rows = NULL;
    *n = 0;
    rc = kt_store_prepare(st, &q,
                          subject ? "SELECT " S_COLUMNS " FROM consent WHERE subject = ? "
                                    "ORDER BY created DESC, rowid DESC"
                                  : "SELECT " S_COLUMNS " FROM consent "
                                    "ORDER BY created DESC, rowid DESC",
                          d);
    if (rc != 0)
        return rc;
    if (subject != NULL && (rc = kt_stmt_bind_blob(q, 1, subject, KT_SUBJECT_BYTES)) != 0)
        rc = kt_diag_set(d, rc, "cannot bind a subject");
    else
        rc = s_collect(q, rows, n, d);
    kt_stmt_finalize(&q);
    return rc;
}

int kt_consent_find_active(uint8_t id[KT_CONSENT_ID_BYTES], kt_store_t *st,
                           const kt_consent_query_t *qu, kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    kt_consent_t *rows = NULL;
    size_t n = 0, i;
    int rc;

    if (qu->subject == NULL || qu->recipient == NULL || qu->doel == NULL ||
        qu->record_type == NULL || !kt_consent_date_valid(qu->date))
        return kt_diag_set(d, KT_EINVAL,
                           "a consent query needs a subject, recipient, doel, "
                           "record type and date");
    rc = kt_store_prepare(st, &q,
                          "SELECT " S_COLUMNS " FROM consent WHERE subject = ? AND recipient = ? "
                          "AND doel = ? AND state = 'active' AND beslissing = 'akkoord' "
                          "ORDER BY gegeven_op DESC, rowid DESC",
                          d);
    if (rc != 0)
        return rc;
    if ((rc = kt_stmt_bind_blob(q, 1, qu->subject, KT_SUBJECT_BYTES)) != 0 ||
        (rc = kt_stmt_bind_text(q, 2, qu->recipient)) != 0 ||
        (rc = kt_stmt_bind_text(q, 3, qu->doel)) != 0) {
        rc = kt_diag_set(d, rc, "cannot bind a consent query");
        goto out;
    }
    if ((rc = s_collect(q, &rows, &n, d)) != 0)
        goto out;
    rc = kt_diag_set(d, KT_ENOCONSENT,
                     "no active consent for this pupil, recipient %s, doel %s and record type %s",
                     kt_keys_valid_id(qu->recipient) ? qu->recipient : "?",
                     kt_consent_doel_known(qu->doel) ? qu->doel : "?",
                     kt_record_type_known(qu->record_type) ? qu->record_type : "?");
    for (i = 0; i < n; i++)
        if (kt_consent_matches(&rows[i], qu)) {
            memcpy(id, rows[i].id, KT_CONSENT_ID_BYTES);
            rc = 0;
            break;
        }
out:
    free(rows);
    kt_stmt_finalize(&q);
    return rc;
}

/* ---- withdraw, expire, purge ---- */

int kt_consent_withdraw(kt_store_t *st, const uint8_t id[KT_CONSENT_ID_BYTES], const char *date,
                        kt_diag_t *d)
{
    kt_consent_t c;
    kt_stmt_t *q = NULL;
    char hex[KT_ENVELOPE_ID_HEX];
    int rc;

    assert(kt_store_in_transaction(st));
    kt_envelope_id_hex(hex, id);
    if (!kt_consent_date_valid(date))
        return kt_diag_set(d, KT_EINVAL, "withdrawal date: not a date (YYYY-MM-DD)");
    if ((rc = kt_consent_get(st, id, &c, d)) != 0)
        return rc;
    switch (kt_consent_state_on(&c, date)) {
    case KT_CONSENT_WITHDRAWN:
        return kt_diag_set(d, KT_EINVAL, "consent %s is already withdrawn (on %s)", hex,
                           c.ingetrokken_op);
    case KT_CONSENT_EXPIRED:
        return kt_diag_set(d, KT_EINVAL,
                           "consent %s has expired (valid until %s); there is "
                           "nothing to withdraw",
                           hex, c.geldig_tot);
    case KT_CONSENT_ACTIVE:
        break;
    }
    if (strcmp(date, c.gegeven_op) < 0)
        return kt_diag_set(d, KT_EINVAL,
                           "consent %s was given on %s: it cannot be withdrawn "
                           "before that",
                           hex, c.gegeven_op);
    rc = kt_store_prepare(st, &q,
                          "UPDATE consent SET state = 'withdrawn', ingetrokken_op = ? "
                          "WHERE id = ? AND state = 'active'",
                          d);
    if (rc != 0)
        return rc;
    if ((rc = kt_stmt_bind_text(q, 1, date)) != 0 ||
        (rc = kt_stmt_bind_blob(q, 2, id, KT_CONSENT_ID_BYTES)) != 0)
        rc = kt_diag_set(d, rc, "cannot bind a withdrawal");
    else if ((rc = kt_stmt_step(q, d)) == KT_STORE_DONE)
        rc = kt_store_changes(st) == 1 ? 0
                                       : kt_diag_set(d, KT_EIO,
                                                     "consent %s changed "
                                                     "while withdrawing",
                                                     hex);
    kt_stmt_finalize(&q);
    return rc;
}

/* Runs sql with date bound to every parameter; for rows, appends the first
 * column (an id) to *ids when the second reads 'akkoord'. */
static int s_run_dated(kt_store_t *st, const char *sql, const char *date, int nparams,
                       uint8_t (**ids)[KT_CONSENT_ID_BYTES], size_t *n, kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    size_t cap = 0;
    int rc, i;

    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    for (i = 1; i <= nparams; i++)
        if ((rc = kt_stmt_bind_text(q, i, date)) != 0) {
            rc = kt_diag_set(d, rc, "cannot bind a date");
            goto out;
        }
    while ((rc = kt_stmt_step(q, d)) == KT_STORE_ROW) {
        const char *dec = kt_stmt_column_text(q, 1);

        if (dec == NULL || strcmp(dec, "akkoord") != 0)
            continue;
        if (kt_stmt_column_bytes(q, 0) != KT_CONSENT_ID_BYTES) {
            rc = kt_diag_set(d, KT_EIO, "a consent row has a malformed id");
            goto out;
        }
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            uint8_t(*p)[KT_CONSENT_ID_BYTES] = realloc(*ids, ncap * sizeof(**ids));

            if (p == NULL) {
                rc = kt_diag_set(d, KT_ENOMEM, "out of memory expiring consents");
                goto out;
            }
            *ids = p;
            cap = ncap;
        }
        memcpy((*ids)[(*n)++], kt_stmt_column_blob(q, 0), KT_CONSENT_ID_BYTES);
    }
    rc = rc == KT_STORE_DONE ? 0 : rc;
out:
    kt_stmt_finalize(&q);
    return rc;
}

int kt_consent_expire(kt_store_t *st, const char *date, uint8_t (**ids)[KT_CONSENT_ID_BYTES],
                      size_t *n, kt_diag_t *d)
{
    int rc;

    assert(kt_store_in_transaction(st));
    *ids = NULL;
    *n = 0;
    if (!kt_consent_date_valid(date))
        return kt_diag_set(d, KT_EINVAL, "expiry date: not a date (YYYY-MM-DD)");
    rc = s_run_dated(st,
                     "UPDATE consent SET state = 'expired' WHERE state = 'active' AND "
                     "geldig_tot < ? RETURNING id, beslissing",
                     date, 1, ids, n, d);
    if (rc != 0) {
        free(*ids);
        *ids = NULL;
        *n = 0;
    }
    return rc;
}

int kt_consent_purge(kt_store_t *st, const char *cutoff, size_t *n, kt_diag_t *d)
{
    uint8_t(*none)[KT_CONSENT_ID_BYTES] = NULL;
    size_t zero = 0;
    int rc;

    assert(kt_store_in_transaction(st));
    *n = 0;
    if (!kt_consent_date_valid(cutoff))
        return kt_diag_set(d, KT_EINVAL, "purge cutoff: not a date (YYYY-MM-DD)");
    rc = s_run_dated(st,
                     "DELETE FROM consent WHERE (state = 'withdrawn' AND ingetrokken_op < ?) "
                     "OR (state = 'expired' AND geldig_tot < ?)",
                     cutoff, 2, &none, &zero, d);
    free(none);
    if (rc == 0)
        *n = (size_t)kt_store_changes(st);
    return rc;
}
