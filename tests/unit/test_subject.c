/*
 * test_subject.c - subject pseudonyms and per-subject keys: the pseudonym is
 * stable per node and differs between nodes; payloads lock and unlock under
 * a subject key (version 2, refused by the node-key unlock and vice versa);
 * the stored key is wrapped, not raw; forgetting deletes the row, makes the
 * payload unreadable and leaves no trace of the wrapped key in the file or
 * its WAL; a subject with a consent cannot be forgotten.
 */
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

#include "keten/consent.h"
#include "keten/registry.h"
#include "keten/subject.h"
#include "keten/vault.h"

static const uint8_t s_plain[] = "signed record of pupil 111222333";
static const uint8_t s_ad[] = "outbox-row-1";

struct fx {
    kt_keys_t *k1, *k2;
    kt_vault_t *v1, *v2;
    kt_store_t *st;
};

static int s_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    kt_diag_t d;

    if (f == NULL || kt_keys_init() != 0 ||
        kt_keys_generate(&f->k1, "school-a", KT_ROLE_SCHOOL, &d) != 0 ||
        kt_keys_generate(&f->k2, "swv-b", KT_ROLE_SWV, &d) != 0 ||
        kt_vault_new(&f->v1, f->k1, &d) != 0 || kt_vault_new(&f->v2, f->k2, &d) != 0 ||
        kt_store_open_memory(&f->st, &d) != 0)
        return -1;
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    struct fx *f = *state;

    kt_store_close(&f->st);
    kt_vault_destroy(&f->v1);
    kt_vault_destroy(&f->v2);
    kt_keys_destroy(&f->k1);
    kt_keys_destroy(&f->k2);
    free(f);
    return 0;
}

static void test_pseudonym(void **state)
{
    struct fx *f = *state;
    uint8_t a[KT_SUBJECT_BYTES], b[KT_SUBJECT_BYTES], c[KT_SUBJECT_BYTES], o[KT_SUBJECT_BYTES];
    char big[KT_SUBJECT_ID_MAX + 2];
    kt_diag_t d;

    assert_int_equal(kt_vault_subject(a, f->v1, "111222333", &d), 0);
    assert_int_equal(kt_vault_subject(b, f->v1, "111222333", &d), 0);
    assert_memory_equal(a, b, sizeof(a)); /* stable on one node */
    assert_int_equal(kt_vault_subject(c, f->v1, "123456782", &d), 0);
    assert_memory_not_equal(a, c, sizeof(a)); /* another pupil */
    assert_int_equal(kt_vault_subject(o, f->v2, "111222333", &d), 0);
    assert_memory_not_equal(a, o, sizeof(a)); /* another node */
    assert_null(memmem(a, sizeof(a), "111222333", 9));
    assert_int_equal(kt_vault_subject(a, f->v1, "", &d), KT_EINVAL);
    memset(big, '1', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(kt_vault_subject(a, f->v1, big, &d), KT_EINVAL);
    assert_string_equal(d.msg, "a leerling_id has 1 to 64 characters");
}

/* The wrapped key as stored. */
static size_t s_wrapped(kt_store_t *st, const uint8_t subject[KT_SUBJECT_BYTES], uint8_t *out,
                        size_t max)
{
    kt_stmt_t *q = NULL;
    kt_diag_t d;
    size_t n = 0;

    assert_int_equal(kt_store_prepare(st, &q,
                                      "SELECT wrapped_key FROM subject_keys WHERE "
                                      "subject = ?",
                                      &d),
                     0);
    assert_int_equal(kt_stmt_bind_blob(q, 1, subject, KT_SUBJECT_BYTES), 0);
    if (kt_stmt_step(q, &d) == KT_STORE_ROW) {
        n = kt_stmt_column_bytes(q, 0);
        assert_true(n <= max);
        memcpy(out, kt_stmt_column_blob(q, 0), n);
    }
    kt_stmt_finalize(&q);
    return n;
}

static void test_lock_unlock_and_forget(void **state)
{
    struct fx *f = *state;
    uint8_t subject[KT_SUBJECT_BYTES], wrapped[128];
    kt_vault_key_t *k = NULL, *again = NULL;
    uint8_t *locked = NULL, *plain = NULL;
    size_t len = 0, plen = 0, wlen;
    kt_diag_t d;

    assert_int_equal(kt_vault_subject(subject, f->v1, "111222333", &d), 0);
    assert_int_equal(kt_subject_exists(f->st, subject, &d), 0);
    assert_int_equal(kt_subject_get_key(&k, f->st, f->v1, subject, 0, &d), KT_ENOENT);
    assert_string_equal(d.msg, "no key for this subject (never stored, or forgotten)");
    assert_int_equal(kt_store_begin(f->st, &d), 0);
    assert_int_equal(kt_subject_get_key(&k, f->st, f->v1, subject, 1, &d), 0);
    assert_int_equal(kt_store_commit(f->st, &d), 0);
    assert_int_equal(kt_subject_exists(f->st, subject, &d), 1);

    assert_int_equal(
        kt_vault_lock_subject(&locked, &len, s_plain, sizeof(s_plain), s_ad, sizeof(s_ad), k, &d),
        0);
    assert_int_equal(locked[0], KT_VAULT_SUBJECT_VERSION);
    assert_int_equal(len, sizeof(s_plain) + KT_VAULT_OVERHEAD_BYTES);
    assert_null(memmem(locked, len, "111222333", 9));
    /* the same key comes back from the table */
    assert_int_equal(kt_subject_get_key(&again, f->st, f->v1, subject, 0, &d), 0);
    assert_int_equal(
        kt_vault_unlock_subject(&plain, &plen, locked, len, s_ad, sizeof(s_ad), again, &d), 0);
    assert_memory_equal(plain, s_plain, sizeof(s_plain));
    kt_vault_free(plain, plen);
    kt_vault_key_destroy(&again);
    /* a node-key unlock refuses a subject-key payload */
    assert_int_equal(kt_vault_unlock(&plain, &plen, locked, len, s_ad, sizeof(s_ad), f->v1, &d),
                     KT_EVERSION);
    assert_string_equal(d.msg, "stored payload is locked under a subject key (format version 2), "
                               "not the node's store key");
    /* a flipped byte or another row's AD does not open */
    locked[len - 1] ^= 1;
    assert_int_equal(kt_vault_unlock_subject(&plain, &plen, locked, len, s_ad, sizeof(s_ad), k, &d),
                     KT_EAUTH);
    locked[len - 1] ^= 1;
    assert_int_equal(
        kt_vault_unlock_subject(&plain, &plen, locked, len, s_ad, sizeof(s_ad) - 1, k, &d),
        KT_EAUTH);
    /* the wrapped key only opens for its own subject on its own node */
    wlen = s_wrapped(f->st, subject, wrapped, sizeof(wrapped));
    assert_int_equal(wlen, KT_SUBJECT_KEY_BYTES + KT_VAULT_OVERHEAD_BYTES);
    assert_int_equal(wrapped[0], KT_VAULT_VERSION);
    assert_int_equal(kt_vault_key_unwrap(&again, wrapped, wlen, subject, f->v2, &d), KT_EAUTH);
    subject[0] ^= 1;
    assert_int_equal(kt_vault_key_unwrap(&again, wrapped, wlen, subject, f->v1, &d), KT_EAUTH);
    subject[0] ^= 1;

    /* forget: the row is gone, the key cannot be had, the payload stays shut */
    assert_int_equal(kt_store_begin(f->st, &d), 0);
    assert_int_equal(kt_subject_forget(f->st, subject, &d), 0);
    assert_int_equal(kt_store_commit(f->st, &d), 0);
    assert_int_equal(kt_subject_exists(f->st, subject, &d), 0);
    assert_int_equal(s_wrapped(f->st, subject, wrapped, sizeof(wrapped)), 0);
    assert_int_equal(kt_subject_get_key(&again, f->st, f->v1, subject, 0, &d), KT_ENOENT);
    assert_null(again);
    assert_int_equal(kt_store_begin(f->st, &d), 0);
    assert_int_equal(kt_subject_forget(f->st, subject, &d), KT_ENOENT);
    /* a new key for the same pupil does not open the old payload */
    assert_int_equal(kt_subject_get_key(&again, f->st, f->v1, subject, 1, &d), 0);
    assert_int_equal(kt_store_commit(f->st, &d), 0);
    assert_int_equal(
        kt_vault_unlock_subject(&plain, &plen, locked, len, s_ad, sizeof(s_ad), again, &d),
        KT_EAUTH);
    kt_vault_key_destroy(&again);
    kt_vault_key_destroy(&k);
    kt_vault_key_destroy(&k); /* idempotent */
    kt_vault_free(locked, len);
}

/* No 32-byte window of the stored column is the key: each one, tried as a
 * key, fails to open a payload locked under the real one. */
static void test_stored_key_is_wrapped(void **state)
{
    struct fx *f = *state;
    uint8_t subject[KT_SUBJECT_BYTES], wrapped[128];
    kt_vault_key_t *k = NULL, *w = NULL;
    uint8_t *locked = NULL, *plain = NULL;
    size_t len = 0, plen = 0, wlen, i;
    kt_diag_t d;

    assert_int_equal(kt_vault_subject(subject, f->v1, "123456782", &d), 0);
    assert_int_equal(kt_store_begin(f->st, &d), 0);
    assert_int_equal(kt_subject_get_key(&k, f->st, f->v1, subject, 1, &d), 0);
    assert_int_equal(kt_store_commit(f->st, &d), 0);
    assert_int_equal(
        kt_vault_lock_subject(&locked, &len, s_plain, sizeof(s_plain), s_ad, sizeof(s_ad), k, &d),
        0);
    wlen = s_wrapped(f->st, subject, wrapped, sizeof(wrapped));
    assert_true(wlen > KT_SUBJECT_KEY_BYTES);
    for (i = 0; i + KT_SUBJECT_KEY_BYTES <= wlen; i++) {
        assert_int_equal(kt_vault_key_from_bytes(&w, wrapped + i, &d), 0);
        assert_int_equal(
            kt_vault_unlock_subject(&plain, &plen, locked, len, s_ad, sizeof(s_ad), w, &d),
            KT_EAUTH);
        kt_vault_key_destroy(&w);
    }
    /* the search works: the real key opens it */
    assert_int_equal(kt_vault_unlock_subject(&plain, &plen, locked, len, s_ad, sizeof(s_ad), k, &d),
                     0);
    kt_vault_free(plain, plen);
    kt_vault_free(locked, len);
    kt_vault_key_destroy(&k);
}

static void test_consent_blocks_forget(void **state)
{
    struct fx *f = *state;
    static const char *const types[] = {"geoorloofd_verzuim"};
    kt_consent_grant_t g = {.recipient = "gemeente-a",
                            .doel = "melding_geoorloofd",
                            .types = types,
                            .ntypes = 1,
                            .door = "ouders",
                            .informed = 1,
                            .gegeven_op = "2026-01-05",
                            .geldig_tot = "2026-07-31"};
    uint8_t id[KT_CONSENT_ID_BYTES], (*ids)[KT_CONSENT_ID_BYTES] = NULL;
    size_t n = 0;
    kt_diag_t d;

    assert_int_equal(kt_vault_subject(g.subject, f->v1, "111222333", &d), 0);
    assert_int_equal(kt_store_begin(f->st, &d), 0);
    assert_int_equal(kt_consent_grant(id, f->st, f->v1, &g, &d), 0); /* creates the key */
    assert_int_equal(kt_subject_exists(f->st, g.subject, &d), 1);
    assert_int_equal(kt_subject_forget(f->st, g.subject, &d), KT_EEXIST);
    assert_string_equal(d.msg, "cannot forget this subject: 1 consent record(s) of theirs are "
                               "still kept; purge them first");
    assert_int_equal(kt_subject_exists(f->st, g.subject, &d), 1);
    /* once the consent has ended and is purged, the subject can go */
    assert_int_equal(kt_consent_expire(f->st, "2026-08-01", &ids, &n, &d), 0);
    assert_int_equal(n, 1);
    free(ids);
    assert_int_equal(kt_consent_purge(f->st, "2026-08-01", &n, &d), 0);
    assert_int_equal(n, 1);
    assert_int_equal(kt_subject_forget(f->st, g.subject, &d), 0);
    assert_int_equal(kt_store_commit(f->st, &d), 0);
}

/* A pupil on an imported list keeps their key until the list lets go. */
static void test_registry_blocks_forget(void **state)
{
    struct fx *f = *state;
    static const char csv[] =
        "leerling_id,geboortedatum,onderwijssoort,woongemeente,brin,swv,ingeschreven,verzuim,"
        "vrijstelling,geschorst,belastbaarheid,begindatum,einddatum,aanwezigheid_pct\n"
        "999600011,2007-01-01,vo,0252,geen,VO9901,nee,geen,art_5a,nee,onbekend,2021-05-01,"
        "2021-05-21,0\n";
    kt_registry_entry_t *e = NULL;
    kt_registry_info_t info;
    uint8_t subject[KT_SUBJECT_BYTES];
    size_t n = 0;
    kt_diag_t d;

    assert_int_equal(kt_registry_csv_parse(&e, &n, csv, sizeof(csv) - 1, &d), 0);
    assert_int_equal(
        kt_registry_import(f->st, f->v1, "lijst", e, n, "2026-01-05", 90, 1, NULL, &info, &d), 0);
    kt_registry_entries_free(e, n);
    assert_int_equal(kt_vault_subject(subject, f->v1, "999600011", &d), 0);
    assert_int_equal(kt_store_begin(f->st, &d), 0);
    assert_int_equal(kt_subject_forget(f->st, subject, &d), KT_EEXIST);
    assert_string_equal(d.msg, "cannot forget this subject: they are on 1 imported list(s); "
                               "import those lists again without them, or let them expire");
    assert_int_equal(kt_subject_exists(f->st, subject, &d), 1);
    kt_store_rollback(f->st);
}

/* secure_delete + checkpoint: the wrapped key is gone from the file and WAL. */
static int s_file_has(const char *path, const uint8_t *needle, size_t n)
{
    FILE *fp = fopen(path, "rb");
    uint8_t *buf;
    struct stat sb;
    int found;

    if (fp == NULL)
        return 0;
    assert_int_equal(fstat(fileno(fp), &sb), 0);
    buf = malloc((size_t)sb.st_size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)sb.st_size, fp), (size_t)sb.st_size);
    fclose(fp);
    found = memmem(buf, (size_t)sb.st_size, needle, n) != NULL;
    free(buf);
    return found;
}

static void test_forget_leaves_no_trace_in_files(void **state)
{
    struct fx *f = *state;
    char dir[] = "/tmp/kt-subject-XXXXXX", db[64], wal[72];
    uint8_t subject[KT_SUBJECT_BYTES], wrapped[128];
    kt_vault_key_t *k = NULL;
    kt_store_t *st = NULL;
    size_t wlen;
    kt_diag_t d;

    assert_non_null(mkdtemp(dir));
    snprintf(db, sizeof(db), "%s/n.db", dir);
    snprintf(wal, sizeof(wal), "%s-wal", db);
    assert_int_equal(kt_store_open(&st, db, &d), 0);
    assert_int_equal(kt_vault_subject(subject, f->v1, "111222333", &d), 0);
    assert_int_equal(kt_store_begin(st, &d), 0);
    assert_int_equal(kt_subject_get_key(&k, st, f->v1, subject, 1, &d), 0);
    assert_int_equal(kt_store_commit(st, &d), 0);
    kt_vault_key_destroy(&k);
    wlen = s_wrapped(st, subject, wrapped, sizeof(wrapped));
    assert_int_equal(kt_store_checkpoint_truncate(st, &d), 0);
    assert_true(s_file_has(db, wrapped, wlen)); /* the search works */
    assert_int_equal(kt_store_begin(st, &d), 0);
    assert_int_equal(kt_subject_forget(st, subject, &d), 0);
    assert_int_equal(kt_store_commit(st, &d), 0);
    assert_int_equal(kt_store_checkpoint_truncate(st, &d), 0);
    assert_false(s_file_has(db, wrapped, wlen));
    assert_false(s_file_has(wal, wrapped, wlen));
    kt_store_close(&st);
    unlink(wal);
    snprintf(wal, sizeof(wal), "%s-shm", db);
    unlink(wal);
    unlink(db);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pseudonym, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_lock_unlock_and_forget, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_stored_key_is_wrapped, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_consent_blocks_forget, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_registry_blocks_forget, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_forget_leaves_no_trace_in_files, s_setup, s_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
