/*
 * audit.c - the hash-chained audit log: append, head, signed checkpoints,
 * partners' checkpoints (witnessing), verification and listing.
 *
 * Owns the chain and checkpoint formulas (docs/protocol.md §11) and the
 * audit, audit_checkpoint and audit_witness tables. Must never update or
 * delete a row, never append outside the caller's transaction, never put a
 * column value into a diagnostic or a report, and never trust a row it
 * reads back: verification treats every column as hostile (any type, any
 * size, NULL) and answers "this entry is bad" rather than crash.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "keten/audit.h"
#include "keten/vault.h"

#define S_HASH_TAG "keten/1 audit"
#define S_CHECKPOINT_TAG "keten/1 checkpoint"
#define S_NULL_LEN 0xffffffffu
/* The largest hashed input: tag, prev, seq, time and 14 fields at their
 * maxima (each with its 4-byte length). */
#define S_HASH_INPUT_MAX 2048
#define S_CHECKPOINT_MSG_MAX (sizeof(S_CHECKPOINT_TAG) + 4 + KT_NODE_ID_MAX + 16 + 32)

/* ---- encoding ---- */

typedef struct s_buf {
    uint8_t *p;
    size_t n, cap;
} s_buf_t;

static void s_put(s_buf_t *b, const void *p, size_t n)
{
    /* The callers bound every field, so this never truncates; the check is
     * for a programmer error only, and then the hash is simply wrong. */
    if (n > b->cap - b->n)
        n = b->cap - b->n;
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void s_put_u32(s_buf_t *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

    s_put(b, x, sizeof(x));
}

static void s_put_u64(s_buf_t *b, uint64_t v)
{
    uint8_t x[8];
    int i;

    for (i = 7; i >= 0; i--, v >>= 8)
        x[i] = (uint8_t)v;
    s_put(b, x, sizeof(x));
}

/* F(x): u32be(length) || bytes, or u32be(0xffffffff) for NULL. */
static void s_put_field(s_buf_t *b, const void *p, size_t n, int present)
{
    if (!present) {
        s_put_u32(b, S_NULL_LEN);
        return;
    }
    s_put_u32(b, (uint32_t)n);
    s_put(b, p, n);
}

static void s_put_text(s_buf_t *b, const char *s)
{
    s_put_field(b, s, strlen(s), s[0] != '\0');
}

void kt_audit_entry_init(kt_audit_entry_t *e)
{
    memset(e, 0, sizeof(*e));
}

void kt_audit_actor_uid(kt_audit_entry_t *e, unsigned uid)
{
    snprintf(e->actor, sizeof(e->actor), "uid:%u", uid);
}

void kt_audit_hash(uint8_t out[KT_AUDIT_HASH_BYTES], const kt_audit_entry_t *e)
{
    uint8_t raw[S_HASH_INPUT_MAX];
    s_buf_t b = {raw, 0, sizeof(raw)};
    char version[24] = "";

    if (e->policy_version != 0)
        snprintf(version, sizeof(version), "%" PRId64, e->policy_version);
    s_put(&b, S_HASH_TAG, sizeof(S_HASH_TAG)); /* with its NUL: the 0x00 separator */
    s_put(&b, e->prev_hash, KT_AUDIT_HASH_BYTES);
    s_put_u64(&b, (uint64_t)e->seq);
    s_put_u64(&b, (uint64_t)e->time);
    s_put_text(&b, e->actor);
    s_put_text(&b, e->action);
    s_put_field(&b, e->record_id, KT_AUDIT_ID_BYTES, e->has_record_id);
    s_put_text(&b, e->record_type);
    s_put_text(&b, e->fields);
    s_put_field(&b, e->subject, KT_AUDIT_SUBJECT_BYTES, e->has_subject);
    s_put_text(&b, e->doel);
    s_put_text(&b, e->grondslag);
    s_put_field(&b, e->consent_id, KT_AUDIT_ID_BYTES, e->has_consent_id);
    s_put_text(&b, e->policy_id);
    s_put_text(&b, version);
    s_put_text(&b, e->counterparty);
    s_put_text(&b, e->decision);
    s_put_text(&b, e->reason);
    kt_vault_digest(out, raw, b.n);
}

/* ---- validation ---- */

static int s_printable(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

/* A text field of e: NUL-terminated inside its array, printable ASCII,
 * non-empty when required. Names the field, never its value. */
static int s_check_text(const char *s, size_t cap, const char *name, int required, kt_diag_t *d)
{
    size_t n = strnlen(s, cap);

    if (n == cap)
        return kt_diag_set(d, KT_EINVAL, "audit entry: %s is longer than %zu characters", name,
                           cap - 1);
    if (required && n == 0)
        return kt_diag_set(d, KT_EINVAL, "audit entry: %s is required", name);
    if (!s_printable(s, n))
        return kt_diag_set(d, KT_EINVAL,
                           "audit entry: %s holds a character outside printable ASCII", name);
    return 0;
}

static int s_grondslag_valid(const char *g)
{
    return g[0] == '\0' || strcmp(g, "toestemming") == 0 || strcmp(g, "wettelijke_plicht") == 0 ||
           strcmp(g, "publieke_taak") == 0;
}

static int s_check_entry(const kt_audit_entry_t *e, kt_diag_t *d)
{
    int rc;

    if ((rc = s_check_text(e->actor, sizeof(e->actor), "actor", 1, d)) != 0 ||
        (rc = s_check_text(e->action, sizeof(e->action), "action", 1, d)) != 0 ||
        (rc = s_check_text(e->record_type, sizeof(e->record_type), "record_type", 0, d)) != 0 ||
        (rc = s_check_text(e->fields, sizeof(e->fields), "fields", 0, d)) != 0 ||
        (rc = s_check_text(e->doel, sizeof(e->doel), "doel", 0, d)) != 0 ||
        (rc = s_check_text(e->grondslag, sizeof(e->grondslag), "grondslag", 0, d)) != 0 ||
        (rc = s_check_text(e->policy_id, sizeof(e->policy_id), "policy_id", 0, d)) != 0 ||
        (rc = s_check_text(e->counterparty, sizeof(e->counterparty), "counterparty", 0, d)) != 0 ||
        (rc = s_check_text(e->decision, sizeof(e->decision), "decision", 1, d)) != 0 ||
        (rc = s_check_text(e->reason, sizeof(e->reason), "reason", 0, d)) != 0)
        return rc;
    if (!s_grondslag_valid(e->grondslag))
        return kt_diag_set(d, KT_EINVAL,
                           "audit entry: grondslag is not toestemming, wettelijke_plicht or "
                           "publieke_taak");
    if (e->counterparty[0] != '\0' && !kt_keys_valid_id(e->counterparty))
        return kt_diag_set(d, KT_EINVAL, "audit entry: counterparty is not a node id");
    if (e->policy_version < 0)
        return kt_diag_set(d, KT_EINVAL, "audit entry: policy_version is negative");
    if (e->time < 0)
        return kt_diag_set(d, KT_EINVAL, "audit entry: time is negative");
    return 0;
}

/* ---- reading rows ---- */

/* Every column of an entry, then the type of each, in the same order. */
#define S_COLS                                                                                     \
    "seq, time, actor, action, record_id, record_type, fields, subject, doel, grondslag, "         \
    "consent_id, policy_id, policy_version, counterparty, decision, reason, prev_hash, hash"
#define S_TYPES                                                                                    \
    "typeof(seq), typeof(time), typeof(actor), typeof(action), typeof(record_id), "                \
    "typeof(record_type), typeof(fields), typeof(subject), typeof(doel), typeof(grondslag), "      \
    "typeof(consent_id), typeof(policy_id), typeof(policy_version), typeof(counterparty), "        \
    "typeof(decision), typeof(reason), typeof(prev_hash), typeof(hash)"
enum {
    C_SEQ,
    C_TIME,
    C_ACTOR,
    C_ACTION,
    C_RECORD_ID,
    C_RECORD_TYPE,
    C_FIELDS,
    C_SUBJECT,
    C_DOEL,
    C_GRONDSLAG,
    C_CONSENT_ID,
    C_POLICY_ID,
    C_POLICY_VERSION,
    C_COUNTERPARTY,
    C_DECISION,
    C_REASON,
    C_PREV_HASH,
    C_HASH,
    C_N
};

static const char *const s_colname[C_N] = {
    "seq",      "time",   "actor",     "action",     "record_id", "record_type",    "fields",
    "subject",  "doel",   "grondslag", "consent_id", "policy_id", "policy_version", "counterparty",
    "decision", "reason", "prev_hash", "hash"};

static int s_type_is(kt_stmt_t *q, int col, const char *type)
{
    const char *t = kt_stmt_column_text(q, C_N + col);

    return t != NULL && strcmp(t, type) == 0;
}

/* A text column into out[cap]: NULL reads as "" (refused when required);
 * anything else must be text of 1..cap-1 printable characters, as append
 * writes it. */
static int s_read_text(kt_stmt_t *q, int col, char *out, size_t cap, int required)
{
    const char *s;
    size_t n;

    out[0] = '\0';
    if (s_type_is(q, col, "null"))
        return required ? -1 : 0;
    if (!s_type_is(q, col, "text"))
        return -1;
    s = kt_stmt_column_text(q, col);
    n = kt_stmt_column_bytes(q, col);
    if (s == NULL || n == 0 || n >= cap || strlen(s) != n || !s_printable(s, n))
        return -1;
    memcpy(out, s, n + 1);
    return 0;
}

/* A blob column of exactly n bytes; NULL allowed when has != NULL. */
static int s_read_blob(kt_stmt_t *q, int col, uint8_t *out, size_t n, int *has)
{
    const void *p;

    if (has != NULL)
        *has = 0;
    if (s_type_is(q, col, "null"))
        return has != NULL ? 0 : -1;
    if (!s_type_is(q, col, "blob"))
        return -1;
    p = kt_stmt_column_blob(q, col);
    if (p == NULL || kt_stmt_column_bytes(q, col) != n)
        return -1;
    memcpy(out, p, n);
    if (has != NULL)
        *has = 1;
    return 0;
}

/* The current row into e. Returns 0, or the column that is not as append
 * writes it (its name goes into the report; its value never does). *seq_ok
 * says whether e->seq could be read at all. */
static int s_read_row(kt_stmt_t *q, kt_audit_entry_t *e, int *seq_ok, const char **bad)
{
    kt_audit_entry_init(e);
    *seq_ok = s_type_is(q, C_SEQ, "integer");
    e->seq = *seq_ok ? kt_stmt_column_int64(q, C_SEQ) : 0;
    *bad = NULL;
    if (!*seq_ok)
        *bad = s_colname[C_SEQ];
    else if (!s_type_is(q, C_TIME, "integer") || (e->time = kt_stmt_column_int64(q, C_TIME)) < 0)
        *bad = s_colname[C_TIME];
    else if (s_read_text(q, C_ACTOR, e->actor, sizeof(e->actor), 1) != 0)
        *bad = s_colname[C_ACTOR];
    else if (s_read_text(q, C_ACTION, e->action, sizeof(e->action), 1) != 0)
        *bad = s_colname[C_ACTION];
    else if (s_read_blob(q, C_RECORD_ID, e->record_id, KT_AUDIT_ID_BYTES, &e->has_record_id) != 0)
        *bad = s_colname[C_RECORD_ID];
    else if (s_read_text(q, C_RECORD_TYPE, e->record_type, sizeof(e->record_type), 0) != 0)
        *bad = s_colname[C_RECORD_TYPE];
    else if (s_read_text(q, C_FIELDS, e->fields, sizeof(e->fields), 0) != 0)
        *bad = s_colname[C_FIELDS];
    else if (s_read_blob(q, C_SUBJECT, e->subject, KT_AUDIT_SUBJECT_BYTES, &e->has_subject) != 0)
        *bad = s_colname[C_SUBJECT];
    else if (s_read_text(q, C_DOEL, e->doel, sizeof(e->doel), 0) != 0)
        *bad = s_colname[C_DOEL];
    else if (s_read_text(q, C_GRONDSLAG, e->grondslag, sizeof(e->grondslag), 0) != 0)
        *bad = s_colname[C_GRONDSLAG];
    else if (s_read_blob(q, C_CONSENT_ID, e->consent_id, KT_AUDIT_ID_BYTES, &e->has_consent_id) !=
             0)
        *bad = s_colname[C_CONSENT_ID];
    else if (s_read_text(q, C_POLICY_ID, e->policy_id, sizeof(e->policy_id), 0) != 0)
        *bad = s_colname[C_POLICY_ID];
    else if (!s_type_is(q, C_POLICY_VERSION, "null") &&
             (!s_type_is(q, C_POLICY_VERSION, "integer") ||
              (e->policy_version = kt_stmt_column_int64(q, C_POLICY_VERSION)) <= 0))
        *bad = s_colname[C_POLICY_VERSION];
    else if (s_read_text(q, C_COUNTERPARTY, e->counterparty, sizeof(e->counterparty), 0) != 0)
        *bad = s_colname[C_COUNTERPARTY];
    else if (s_read_text(q, C_DECISION, e->decision, sizeof(e->decision), 1) != 0)
        *bad = s_colname[C_DECISION];
    else if (s_read_text(q, C_REASON, e->reason, sizeof(e->reason), 0) != 0)
        *bad = s_colname[C_REASON];
    else if (s_read_blob(q, C_PREV_HASH, e->prev_hash, KT_AUDIT_HASH_BYTES, NULL) != 0)
        *bad = s_colname[C_PREV_HASH];
    else if (s_read_blob(q, C_HASH, e->hash, KT_AUDIT_HASH_BYTES, NULL) != 0)
        *bad = s_colname[C_HASH];
    return *bad == NULL ? 0 : -1;
}

/* ---- append and head ---- */

static const char s_sql_head[] =
    "SELECT seq, typeof(seq), hash FROM audit ORDER BY seq DESC LIMIT 1";

int kt_audit_head(kt_store_t *st, int64_t *seq, uint8_t hash[KT_AUDIT_HASH_BYTES], kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    const char *type;
    const void *h;
    int rc;

    *seq = 0;
    memset(hash, 0, KT_AUDIT_HASH_BYTES);
    if ((rc = kt_store_prepare(st, &q, s_sql_head, d)) != 0)
        return rc;
    rc = kt_stmt_step(q, d);
    if (rc == KT_STORE_ROW) {
        type = kt_stmt_column_text(q, 1);
        h = kt_stmt_column_blob(q, 2);
        if (type == NULL || strcmp(type, "integer") != 0 || kt_stmt_column_int64(q, 0) <= 0 ||
            h == NULL || kt_stmt_column_bytes(q, 2) != KT_AUDIT_HASH_BYTES) {
            rc = kt_diag_set(d, KT_EIO,
                             "%s: the newest audit entry is damaged; run ketenctl audit verify",
                             kt_store_path(st));
        } else {
            *seq = kt_stmt_column_int64(q, 0);
            memcpy(hash, h, KT_AUDIT_HASH_BYTES);
            rc = 0;
        }
    }
    kt_stmt_finalize(&q);
    return rc;
}

static const char s_sql_insert[] =
    "INSERT INTO audit (" S_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

static int s_bind_text(kt_stmt_t *q, int idx, const char *s)
{
    return s[0] == '\0' ? kt_stmt_bind_null(q, idx) : kt_stmt_bind_text(q, idx, s);
}

static int s_bind_opt_blob(kt_stmt_t *q, int idx, const uint8_t *p, size_t n, int has)
{
    return has ? kt_stmt_bind_blob(q, idx, p, n) : kt_stmt_bind_null(q, idx);
}

/* Binds e in S_COLS order. A failed bind is remembered by the store and
 * fails the step, so the results need no checking one by one. */
static void s_bind_entry(kt_stmt_t *q, const kt_audit_entry_t *e)
{
    (void)!kt_stmt_bind_int64(q, 1, e->seq);
    (void)!kt_stmt_bind_int64(q, 2, e->time);
    (void)!s_bind_text(q, 3, e->actor);
    (void)!s_bind_text(q, 4, e->action);
    (void)!s_bind_opt_blob(q, 5, e->record_id, KT_AUDIT_ID_BYTES, e->has_record_id);
    (void)!s_bind_text(q, 6, e->record_type);
    (void)!s_bind_text(q, 7, e->fields);
    (void)!s_bind_opt_blob(q, 8, e->subject, KT_AUDIT_SUBJECT_BYTES, e->has_subject);
    (void)!s_bind_text(q, 9, e->doel);
    (void)!s_bind_text(q, 10, e->grondslag);
    (void)!s_bind_opt_blob(q, 11, e->consent_id, KT_AUDIT_ID_BYTES, e->has_consent_id);
    (void)!s_bind_text(q, 12, e->policy_id);
    if (e->policy_version > 0)
        (void)!kt_stmt_bind_int64(q, 13, e->policy_version);
    else
        (void)!kt_stmt_bind_null(q, 13);
    (void)!s_bind_text(q, 14, e->counterparty);
    (void)!s_bind_text(q, 15, e->decision);
    (void)!s_bind_text(q, 16, e->reason);
    (void)!kt_stmt_bind_blob(q, 17, e->prev_hash, KT_AUDIT_HASH_BYTES);
    (void)!kt_stmt_bind_blob(q, 18, e->hash, KT_AUDIT_HASH_BYTES);
}

int kt_audit_append(kt_store_t *st, kt_audit_entry_t *e, kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    int64_t head;
    int rc;

    if (!kt_store_in_transaction(st))
        return kt_diag_set(d, KT_EINVAL,
                           "audit entry outside a transaction: it must commit with its action");
    if ((rc = s_check_entry(e, d)) != 0)
        return rc;
    if ((rc = kt_audit_head(st, &head, e->prev_hash, d)) != 0)
        return rc;
    if (head == INT64_MAX)
        return kt_diag_set(d, KT_EIO, "%s: the audit log is full", kt_store_path(st));
    e->seq = head + 1;
    if (e->time == 0)
        e->time = (int64_t)time(NULL);
    kt_audit_hash(e->hash, e);
    if ((rc = kt_store_prepare(st, &q, s_sql_insert, d)) != 0)
        return rc;
    s_bind_entry(q, e);
    rc = kt_stmt_step(q, d);
    kt_stmt_finalize(&q);
    if (rc < 0) {
        kt_diag_prefix(d, "audit entry %" PRId64 " not written", e->seq);
        return rc;
    }
    return 0;
}

/* ---- checkpoints ---- */

static size_t s_checkpoint_msg(uint8_t *out, const char *node, const kt_audit_checkpoint_t *c)
{
    s_buf_t b = {out, 0, S_CHECKPOINT_MSG_MAX};

    s_put(&b, S_CHECKPOINT_TAG, sizeof(S_CHECKPOINT_TAG));
    s_put_field(&b, node, strnlen(node, KT_NODE_ID_MAX), 1);
    s_put_u64(&b, (uint64_t)c->seq);
    s_put_u64(&b, (uint64_t)c->time);
    s_put(&b, c->head, KT_AUDIT_HASH_BYTES);
    return b.n;
}

int kt_audit_checkpoint_valid(const kt_audit_checkpoint_t *c, const kt_pubkey_t *pk)
{
    uint8_t msg[S_CHECKPOINT_MSG_MAX];
    size_t n;

    if (c->seq <= 0 || c->time < 0)
        return 0;
    n = s_checkpoint_msg(msg, pk->id, c);
    return kt_keys_verify_detached(c->sig, msg, n, pk);
}

static const char s_sql_cp_latest[] = "SELECT seq, typeof(seq), time, typeof(time), head, sig "
                                      "FROM audit_checkpoint ORDER BY seq DESC LIMIT 1";
static const char s_sql_cp_insert[] =
    "INSERT INTO audit_checkpoint (seq, time, head, sig) VALUES (?, ?, ?, ?)";

/* One audit_checkpoint row (seq, typeof, time, typeof, head, sig at col0)
 * into c; -1 when a column is not as kt_audit_checkpoint writes it. */
static int s_read_cp(kt_stmt_t *q, int col0, kt_audit_checkpoint_t *c)
{
    const char *ts = kt_stmt_column_text(q, col0 + 1), *tt = kt_stmt_column_text(q, col0 + 3);
    const void *h = kt_stmt_column_blob(q, col0 + 4);
    size_t hn = kt_stmt_column_bytes(q, col0 + 4);
    const void *s = kt_stmt_column_blob(q, col0 + 5);
    size_t sn = kt_stmt_column_bytes(q, col0 + 5);

    memset(c, 0, sizeof(*c));
    if (ts == NULL || strcmp(ts, "integer") != 0 || tt == NULL || strcmp(tt, "integer") != 0)
        return -1;
    c->seq = kt_stmt_column_int64(q, col0);
    c->time = kt_stmt_column_int64(q, col0 + 2);
    if (h == NULL || hn != KT_AUDIT_HASH_BYTES || s == NULL || sn != KT_AUDIT_SIG_BYTES)
        return -1;
    memcpy(c->head, h, KT_AUDIT_HASH_BYTES);
    memcpy(c->sig, s, KT_AUDIT_SIG_BYTES);
    return c->seq > 0 ? 0 : -1;
}

static int s_cp_latest(kt_store_t *st, kt_audit_checkpoint_t *c, int *have, kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    int rc;

    *have = 0;
    if ((rc = kt_store_prepare(st, &q, s_sql_cp_latest, d)) != 0)
        return rc;
    rc = kt_stmt_step(q, d);
    if (rc == KT_STORE_ROW) {
        if (s_read_cp(q, 0, c) != 0) {
            rc = kt_diag_set(
                d, KT_EIO, "%s: the latest audit checkpoint is damaged; run ketenctl audit verify",
                kt_store_path(st));
        } else {
            *have = 1;
            rc = 0;
        }
    }
    kt_stmt_finalize(&q);
    return rc;
}

/* Signs the head and stores it (inside the open transaction). */
static int s_cp_sign(kt_store_t *st, const kt_keys_t *keys, time_t now, kt_audit_checkpoint_t *c,
                     kt_diag_t *d)
{
    uint8_t msg[S_CHECKPOINT_MSG_MAX];
    kt_stmt_t *q = NULL;
    size_t n;
    int rc;

    if ((rc = kt_audit_head(st, &c->seq, c->head, d)) != 0)
        return rc;
    c->time = (int64_t)now;
    n = s_checkpoint_msg(msg, kt_keys_public(keys)->id, c);
    kt_keys_sign_detached(c->sig, msg, n, keys);
    if ((rc = kt_store_prepare(st, &q, s_sql_cp_insert, d)) != 0)
        return rc;
    (void)!kt_stmt_bind_int64(q, 1, c->seq);
    (void)!kt_stmt_bind_int64(q, 2, c->time);
    (void)!kt_stmt_bind_blob(q, 3, c->head, KT_AUDIT_HASH_BYTES);
    (void)!kt_stmt_bind_blob(q, 4, c->sig, KT_AUDIT_SIG_BYTES);
    rc = kt_stmt_step(q, d);
    kt_stmt_finalize(&q);
    if (rc < 0)
        kt_diag_prefix(d, "audit checkpoint %" PRId64 " not stored", c->seq);
    return rc < 0 ? rc : 0;
}

int kt_audit_checkpoint(kt_store_t *st, const kt_keys_t *keys, int force, time_t now,
                        kt_audit_checkpoint_t *out, int *have, kt_diag_t *d)
{
    return kt_audit_checkpoint_within(st, keys, force ? 0 : KT_AUDIT_CHECKPOINT_SECONDS, now, out,
                                      have, d);
}

int kt_audit_checkpoint_within(kt_store_t *st, const kt_keys_t *keys, int64_t max_age_s,
                               time_t now, kt_audit_checkpoint_t *out, int *have, kt_diag_t *d)
{
    kt_audit_checkpoint_t latest, fresh;
    uint8_t head[KT_AUDIT_HASH_BYTES];
    int64_t seq;
    int rc, got, own_txn = 0;

    *have = 0;
    if ((rc = kt_audit_head(st, &seq, head, d)) != 0 ||
        (rc = s_cp_latest(st, &latest, &got, d)) != 0)
        return rc;
    if (got && latest.seq > seq)
        return kt_diag_set(d, KT_EIO,
                           "%s: the latest audit checkpoint is ahead of the log; run ketenctl "
                           "audit verify",
                           kt_store_path(st));
    if (seq == 0 || (got && latest.seq == seq) ||
        (got && max_age_s > 0 && (int64_t)now - latest.time < max_age_s)) {
        if (got)
            *out = latest;
        *have = got;
        return 0;
    }
    if (!kt_store_in_transaction(st)) {
        if ((rc = kt_store_begin(st, d)) != 0)
            return rc;
        own_txn = 1;
    }
    if ((rc = s_cp_sign(st, keys, now, &fresh, d)) != 0)
        goto out;
    if (own_txn && (rc = kt_store_commit(st, d)) != 0)
        goto out;
    *out = fresh;
    *have = 1;
    return 0;
out:
    if (own_txn)
        kt_store_rollback(st);
    return rc;
}

/* ---- witnessing ---- */

static const char s_sql_wit_get[] =
    "SELECT head FROM audit_witness WHERE fingerprint = ? AND seq = ?";
static const char s_sql_wit_insert[] = "INSERT INTO audit_witness (partner, fingerprint, seq, "
                                       "time, head, sig, received) VALUES (?, ?, ?, ?, ?, ?, ?)";

int kt_audit_witness_store(kt_store_t *st, const kt_pubkey_t *pk, const kt_audit_checkpoint_t *c,
                           time_t now, kt_diag_t *d)
{
    char fp[KT_FINGERPRINT_HEX];
    kt_stmt_t *q = NULL;
    const void *h;
    int rc, same = -1;

    if (!kt_audit_checkpoint_valid(c, pk))
        return kt_diag_set(d, KT_EAUTH,
                           "audit checkpoint from %s does not verify under its key; not stored",
                           pk->id);
    kt_keys_fingerprint(fp, pk);
    if ((rc = kt_store_prepare(st, &q, s_sql_wit_get, d)) != 0)
        return rc;
    (void)!kt_stmt_bind_text(q, 1, fp);
    (void)!kt_stmt_bind_int64(q, 2, c->seq);
    rc = kt_stmt_step(q, d);
    if (rc == KT_STORE_ROW) {
        h = kt_stmt_column_blob(q, 0);
        same = h != NULL && kt_stmt_column_bytes(q, 0) == KT_AUDIT_HASH_BYTES &&
               memcmp(h, c->head, KT_AUDIT_HASH_BYTES) == 0;
    }
    kt_stmt_finalize(&q);
    if (rc < 0)
        return rc;
    if (same == 1)
        return 0;
    if (same == 0)
        return kt_diag_set(d, KT_EAUTH,
                           "partner %s signed a different head for its audit entry %" PRId64
                           " than it signed before: its log was rewritten",
                           pk->id, c->seq);
    if ((rc = kt_store_prepare(st, &q, s_sql_wit_insert, d)) != 0)
        return rc;
    (void)!kt_stmt_bind_text(q, 1, pk->id);
    (void)!kt_stmt_bind_text(q, 2, fp);
    (void)!kt_stmt_bind_int64(q, 3, c->seq);
    (void)!kt_stmt_bind_int64(q, 4, c->time);
    (void)!kt_stmt_bind_blob(q, 5, c->head, KT_AUDIT_HASH_BYTES);
    (void)!kt_stmt_bind_blob(q, 6, c->sig, KT_AUDIT_SIG_BYTES);
    (void)!kt_stmt_bind_int64(q, 7, (int64_t)now);
    rc = kt_stmt_step(q, d);
    kt_stmt_finalize(&q);
    return rc < 0 ? rc : 0;
}

/* ---- verification ---- */

static void s_fail_at(kt_audit_report_t *r, int64_t seq, const char *fmt, ...) KT_PRINTF(3, 4);

static void s_fail_at(kt_audit_report_t *r, int64_t seq, const char *fmt, ...)
{
    va_list ap;

    if (!r->ok)
        return; /* the first failure stands */
    r->ok = 0;
    r->bad_seq = seq;
    va_start(ap, fmt);
    vsnprintf(r->what, sizeof(r->what), fmt, ap);
    va_end(ap);
}

/* The SQL of each trigger the schema creates: a trigger that was dropped,
 * or replaced by one that no longer refuses, no longer protects the log. */
static const struct {
    const char *name, *sql;
} s_triggers[] = {
    {"audit_no_update", "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT "
                        "RAISE(ABORT, 'audit is append-only'); END"},
    {"audit_no_delete", "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT "
                        "RAISE(ABORT, 'audit is append-only'); END"},
    {"audit_checkpoint_no_update",
     "CREATE TRIGGER audit_checkpoint_no_update BEFORE UPDATE ON audit_checkpoint BEGIN SELECT "
     "RAISE(ABORT, 'audit is append-only'); END"},
    {"audit_checkpoint_no_delete",
     "CREATE TRIGGER audit_checkpoint_no_delete BEFORE DELETE ON audit_checkpoint BEGIN SELECT "
     "RAISE(ABORT, 'audit is append-only'); END"},
};

static const char s_sql_trigger[] =
    "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?";

static int s_verify_triggers(kt_store_t *st, kt_audit_report_t *r, kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    const char *sql;
    size_t i;
    int rc, same;

    for (i = 0; i < sizeof(s_triggers) / sizeof(s_triggers[0]); i++) {
        if ((rc = kt_store_prepare(st, &q, s_sql_trigger, d)) != 0)
            return rc;
        (void)!kt_stmt_bind_text(q, 1, s_triggers[i].name);
        rc = kt_stmt_step(q, d);
        sql = rc == KT_STORE_ROW ? kt_stmt_column_text(q, 0) : NULL;
        same = sql != NULL && strcmp(sql, s_triggers[i].sql) == 0;
        kt_stmt_finalize(&q);
        if (rc < 0)
            return rc;
        if (rc == KT_STORE_DONE)
            s_fail_at(r, 0, "trigger %s is missing: the log could be changed in place",
                      s_triggers[i].name);
        else if (!same)
            s_fail_at(r, 0, "trigger %s was replaced: the log could be changed in place",
                      s_triggers[i].name);
    }
    return 0;
}

/* How many of a table's columns carry the names keten gave them: a table
 * dropped, or rebuilt with other columns, is a verdict, not an I/O error. */
static const char s_sql_audit_cols[] =
    "SELECT count(*) FROM pragma_table_info('audit') WHERE name IN ('seq', 'time', 'actor', "
    "'action', 'record_id', 'record_type', 'fields', 'subject', 'doel', 'grondslag', "
    "'consent_id', 'policy_id', 'policy_version', 'counterparty', 'decision', 'reason', "
    "'prev_hash', 'hash')";
static const char s_sql_cp_cols[] = "SELECT count(*) FROM pragma_table_info('audit_checkpoint') "
                                    "WHERE name IN ('seq', 'time', 'head', 'sig')";

static int s_columns(kt_store_t *st, const char *sql, int64_t want, int *ok, kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    int rc;

    *ok = 0;
    if ((rc = kt_store_prepare(st, &q, sql, d)) != 0)
        return rc;
    rc = kt_stmt_step(q, d);
    if (rc == KT_STORE_ROW)
        *ok = kt_stmt_column_int64(q, 0) == want;
    kt_stmt_finalize(&q);
    return rc < 0 ? rc : 0;
}

static const char s_sql_walk[] = "SELECT " S_COLS ", " S_TYPES " FROM audit ORDER BY seq";

/* One row of the walk against what the chain expects next (seq `want`,
 * linking to prev). 0 when it matches; else the report says why. */
static int s_verify_row(kt_stmt_t *q, int64_t want, const uint8_t prev[KT_AUDIT_HASH_BYTES],
                        kt_audit_entry_t *e, kt_audit_report_t *r)
{
    uint8_t h[KT_AUDIT_HASH_BYTES];
    const char *bad;
    int seq_ok;

    if (s_read_row(q, e, &seq_ok, &bad) != 0 && !seq_ok) {
        s_fail_at(r, want, "the entry in this place has a sequence number that is not an integer");
        return -1;
    }
    if (e->seq > want) {
        s_fail_at(r, want, "entry is missing (the log goes on at %" PRId64 "; deleted?)", e->seq);
        return -1;
    }
    if (e->seq < want) {
        if (e->seq <= 0)
            s_fail_at(r, e->seq, "sequence numbers start at 1 (inserted?)");
        else
            s_fail_at(r, e->seq, "sequence number appears twice (inserted?)");
        return -1;
    }
    if (bad != NULL) {
        s_fail_at(r, want, "column %s is not as keten writes it (edited?)", bad);
        return -1;
    }
    kt_audit_hash(h, e);
    if (memcmp(h, e->hash, KT_AUDIT_HASH_BYTES) != 0) {
        s_fail_at(r, want, "hash does not match its contents (edited?)");
        return -1;
    }
    if (memcmp(e->prev_hash, prev, KT_AUDIT_HASH_BYTES) != 0) {
        s_fail_at(r, want,
                  "does not link to the entry before it (reordered, inserted, or the entry "
                  "before it was replaced?)");
        return -1;
    }
    return 0;
}

/* Walks the chain; *last is the seq of the last good entry. 1 when the
 * audit table cannot be read as keten creates it (the report says so). */
static int s_verify_chain(kt_store_t *st, kt_audit_report_t *r, int64_t *last, kt_diag_t *d)
{
    uint8_t prev[KT_AUDIT_HASH_BYTES] = {0};
    kt_audit_entry_t e;
    kt_stmt_t *q = NULL;
    int rc, ok;

    *last = 0;
    if ((rc = s_columns(st, s_sql_audit_cols, C_N, &ok, d)) != 0)
        return rc;
    if (!ok) {
        s_fail_at(r, 0, "the audit table is not as keten creates it (dropped or altered?)");
        return 0;
    }
    if ((rc = kt_store_prepare(st, &q, s_sql_walk, d)) != 0)
        return rc;
    while ((rc = kt_stmt_step(q, d)) == KT_STORE_ROW) {
        if (s_verify_row(q, *last + 1, prev, &e, r) != 0)
            break;
        r->entries++;
        *last = e.seq;
        memcpy(prev, e.hash, KT_AUDIT_HASH_BYTES);
    }
    kt_stmt_finalize(&q);
    return rc < 0 ? rc : 0;
}

static const char s_sql_hash_at[] = "SELECT hash FROM audit WHERE seq = ?";

/* Whether entry seq exists in st with exactly this hash: 1, 0 (missing:
 * *missing set) or a negative error. */
static int s_entry_is(kt_store_t *st, int64_t seq, const uint8_t head[KT_AUDIT_HASH_BYTES],
                      int *missing, kt_diag_t *d)
{
    kt_stmt_t *q = NULL;
    const void *h;
    int rc, same = 0;

    *missing = 0;
    if ((rc = kt_store_prepare(st, &q, s_sql_hash_at, d)) != 0)
        return rc;
    (void)!kt_stmt_bind_int64(q, 1, seq);
    rc = kt_stmt_step(q, d);
    if (rc == KT_STORE_ROW) {
        h = kt_stmt_column_blob(q, 0);
        same = h != NULL && kt_stmt_column_bytes(q, 0) == KT_AUDIT_HASH_BYTES &&
               memcmp(h, head, KT_AUDIT_HASH_BYTES) == 0;
    } else if (rc == KT_STORE_DONE) {
        *missing = 1;
    }
    kt_stmt_finalize(&q);
    return rc < 0 ? rc : same;
}

static const char s_sql_cp_all[] = "SELECT seq, typeof(seq), time, typeof(time), head, sig "
                                   "FROM audit_checkpoint ORDER BY seq";

/* Each own checkpoint against the (already verified) chain ending at last. */
static int s_verify_checkpoints(kt_store_t *st, const kt_pubkey_t *pk, int64_t last,
                                kt_audit_report_t *r, kt_diag_t *d)
{
    kt_audit_checkpoint_t c;
    kt_stmt_t *q = NULL;
    int64_t prev_good = 0;
    int rc, same, missing, ok;

    if ((rc = s_columns(st, s_sql_cp_cols, 4, &ok, d)) != 0)
        return rc;
    if (!ok) {
        s_fail_at(r, 0,
                  "the audit_checkpoint table is not as keten creates it (dropped or "
                  "altered?)");
        return 0;
    }
    if ((rc = kt_store_prepare(st, &q, s_sql_cp_all, d)) != 0)
        return rc;
    while ((rc = kt_stmt_step(q, d)) == KT_STORE_ROW && r->ok) {
        if (s_read_cp(q, 0, &c) != 0) {
            s_fail_at(r, 0, "a checkpoint row is not as keten writes it (edited?)");
            break;
        }
        r->checkpoints++;
        if (c.seq > last) {
            s_fail_at(r, last + 1,
                      "entry is missing: checkpoint %" PRId64 " covers entries up to %" PRId64
                      " (removed from the end?)",
                      c.seq, c.seq);
            break;
        }
        if ((same = s_entry_is(st, c.seq, c.head, &missing, d)) < 0) {
            rc = same;
            break;
        }
        if (!same) {
            s_fail_at(r, c.seq,
                      "differs from what checkpoint %" PRId64 " signed: the log was rewritten "
                      "after entry %" PRId64,
                      c.seq, prev_good);
            break;
        }
        if (pk != NULL && !kt_audit_checkpoint_valid(&c, pk)) {
            s_fail_at(r, c.seq, "checkpoint %" PRId64 " is not signed by %s's key", c.seq, pk->id);
            break;
        }
        prev_good = c.seq;
        r->covered = c.seq;
    }
    kt_stmt_finalize(&q);
    return rc < 0 ? rc : 0;
}

int kt_audit_verify(kt_store_t *st, const kt_pubkey_t *pk, kt_audit_report_t *r, kt_diag_t *d)
{
    int64_t last;
    int rc;

    memset(r, 0, sizeof(*r));
    r->ok = 1;
    if ((rc = s_verify_chain(st, r, &last, d)) != 0)
        return rc;
    if (r->ok && (rc = s_verify_checkpoints(st, pk, last, r, d)) != 0)
        return rc;
    return s_verify_triggers(st, r, d);
}

static const char s_sql_wit_all[] =
    "SELECT seq, typeof(seq), time, typeof(time), head, sig, received, typeof(received) "
    "FROM audit_witness WHERE fingerprint = ? ORDER BY seq";

static void s_utc(char out[32], int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "%" PRId64, t);
}

int kt_audit_verify_witness(kt_store_t *st, const kt_pubkey_t *pk, kt_store_t *witness,
                            kt_audit_report_t *r, kt_diag_t *d)
{
    char fp[KT_FINGERPRINT_HEX], when[32];
    kt_audit_checkpoint_t c;
    kt_stmt_t *q = NULL;
    int rc, same, missing;

    memset(r, 0, sizeof(*r));
    r->ok = 1;
    kt_keys_fingerprint(fp, pk);
    if ((rc = kt_store_prepare(witness, &q, s_sql_wit_all, d)) != 0)
        return rc;
    (void)!kt_stmt_bind_text(q, 1, fp);
    while ((rc = kt_stmt_step(q, d)) == KT_STORE_ROW) {
        if (s_read_cp(q, 0, &c) != 0) {
            s_fail_at(r, 0, "a witness row is not as keten writes it");
            break;
        }
        s_utc(when, kt_stmt_column_int64(q, 6));
        r->witnessed++;
        if (!kt_audit_checkpoint_valid(&c, pk)) {
            s_fail_at(r, c.seq, "the witness's checkpoint %" PRId64 " is not signed by %s's key",
                      c.seq, pk->id);
            break;
        }
        if ((same = s_entry_is(st, c.seq, c.head, &missing, d)) < 0) {
            rc = same;
            break;
        }
        if (!same) {
            s_fail_at(r, c.seq,
                      "%s: the witness holds a checkpoint for it, received %s, with another hash "
                      "(rewritten after the witness saw it)",
                      missing ? "entry is missing" : "entry differs", when);
            break;
        }
        if (c.seq > r->covered)
            r->covered = c.seq;
    }
    kt_stmt_finalize(&q);
    if (rc >= 0 && r->ok && r->witnessed == 0) {
        /* a witness that saw nothing proves nothing: wrong key, or a partner
         * that never received a receipt from this node */
        r->ok = 0;
        snprintf(r->what, sizeof(r->what),
                 "the witness database holds no checkpoint of node %s (fingerprint %s): nothing "
                 "was witnessed; check --pub and that the partner exchanged with this node",
                 pk->id, fp);
    }
    return rc < 0 ? rc : 0;
}

/* ---- listing ---- */

static const char s_sql_list[] =
    "SELECT " S_COLS ", " S_TYPES " FROM audit WHERE seq > ?1"
    " AND (?2 IS NULL OR time >= ?2) AND (?3 IS NULL OR time <= ?3)"
    " AND (?4 IS NULL OR counterparty = ?4) AND (?5 IS NULL OR record_type = ?5)"
    " AND (?6 IS NULL OR action = ?6) AND (?7 IS NULL OR decision = ?7)"
    " AND (?8 IS NULL OR subject = ?8) AND (?9 IS NULL OR record_id = ?9)"
    " ORDER BY seq LIMIT ?10";

static void s_bind_opt_text(kt_stmt_t *q, int idx, const char *s)
{
    if (s != NULL && s[0] != '\0')
        (void)!kt_stmt_bind_text(q, idx, s);
    else
        (void)!kt_stmt_bind_null(q, idx);
}

static void s_bind_filter(kt_stmt_t *q, const kt_audit_filter_t *f)
{
    (void)!kt_stmt_bind_int64(q, 1, f->after_seq > 0 ? f->after_seq : 0);
    if (f->since > 0)
        (void)!kt_stmt_bind_int64(q, 2, f->since);
    else
        (void)!kt_stmt_bind_null(q, 2);
    if (f->until > 0)
        (void)!kt_stmt_bind_int64(q, 3, f->until);
    else
        (void)!kt_stmt_bind_null(q, 3);
    s_bind_opt_text(q, 4, f->partner);
    s_bind_opt_text(q, 5, f->type);
    s_bind_opt_text(q, 6, f->action);
    s_bind_opt_text(q, 7, f->decision);
    (void)!s_bind_opt_blob(q, 8, f->subject, KT_AUDIT_SUBJECT_BYTES, f->has_subject);
    (void)!s_bind_opt_blob(q, 9, f->record_id, KT_AUDIT_ID_BYTES, f->has_record_id);
    (void)!kt_stmt_bind_int64(q, 10, f->limit > 0 ? f->limit : -1);
}

int kt_audit_list(kt_store_t *st, const kt_audit_filter_t *f, kt_audit_each_fn fn, void *ctx,
                  kt_diag_t *d)
{
    kt_audit_entry_t e;
    kt_stmt_t *q = NULL;
    const char *bad;
    int rc, seq_ok;

    if ((rc = kt_store_prepare(st, &q, s_sql_list, d)) != 0)
        return rc;
    s_bind_filter(q, f);
    while ((rc = kt_stmt_step(q, d)) == KT_STORE_ROW) {
        if (s_read_row(q, &e, &seq_ok, &bad) != 0) {
            rc = kt_diag_set(d, KT_EIO,
                             "%s: audit entry %" PRId64 " is damaged (column %s); run ketenctl "
                             "audit verify",
                             kt_store_path(st), e.seq, bad);
            break;
        }
        if ((rc = fn(ctx, &e)) != 0)
            break;
    }
    kt_stmt_finalize(&q);
    return rc; /* KT_STORE_DONE is 0 */
}
