/*
 * test_keys.c - node keys: generation, the .key and .pub file formats, file
 * mode checks, the strict .pub parser and fingerprints.
 *
 * Each test works in its own mkdtemp directory and removes it.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "keten/keys.h"

#define KETEN_FP_SCHOOL_A "faa27235158239b997f88b3515889ced"

static const uint8_t s_seed_a[KT_SEED_BYTES] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};

struct fx {
    char dir[64];
    char key[128];
    char pub[128];
};

static int s_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    kt_keys_t *k = NULL;
    kt_diag_t d = {{0}};

    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/keten-test-keys.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->key, sizeof(f->key), "%s/school-a.key", f->dir);
    snprintf(f->pub, sizeof(f->pub), "%s/school-a.pub", f->dir);
    if (kt_keys_from_seed(&k, "school-a", KT_ROLE_SCHOOL, s_seed_a, &d) != 0 ||
        kt_keys_save(k, f->dir, &d) != 0)
        return -1;
    kt_keys_destroy(&k);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static size_t s_read(const char *path, char *buf, size_t cap)
{
    FILE *fp = fopen(path, "rb");
    size_t n;

    assert_non_null(fp);
    n = fread(buf, 1, cap, fp);
    fclose(fp);
    return n;
}

static void s_write(const char *path, const void *buf, size_t n, mode_t mode)
{
    int fd;

    unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, n), (ssize_t)n);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

static void test_roundtrip(void **state)
{
    struct fx *f = *state;
    kt_keys_t *gen = NULL, *k = NULL, *again = NULL;
    kt_pubkey_t pub;
    kt_diag_t d = {{0}};
    struct stat st;
    char dir[128];

    assert_int_equal(kt_keys_from_seed(&gen, "school-a", KT_ROLE_SCHOOL, s_seed_a, &d), 0);
    assert_int_equal(kt_keys_load(&k, f->key, &d), 0);
    assert_memory_equal(kt_keys_public(k), kt_keys_public(gen), sizeof(kt_pubkey_t));
    assert_memory_equal(kt_keys_sign_sk(k), kt_keys_sign_sk(gen), KT_SIGN_SK_BYTES);
    assert_memory_equal(kt_keys_box_sk(k), kt_keys_box_sk(gen), KT_BOX_SK_BYTES);
    assert_int_equal(kt_keys_load_public(&pub, f->pub, &d), 0);
    assert_string_equal(pub.id, "school-a");
    assert_int_equal(pub.role, KT_ROLE_SCHOOL);
    assert_memory_equal(&pub, kt_keys_public(gen), sizeof(pub));

    assert_int_equal(stat(f->key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, KT_SK_FILE_BYTES);

    /* a freshly generated key also survives save and load */
    assert_int_equal(kt_keys_generate(&again, "swv-2801", KT_ROLE_SWV, &d), 0);
    snprintf(dir, sizeof(dir), "%s", f->dir);
    assert_int_equal(kt_keys_save(again, dir, &d), 0);
    kt_keys_destroy(&k);
    snprintf(dir, sizeof(dir), "%s/swv-2801.key", f->dir);
    assert_int_equal(kt_keys_load(&k, dir, &d), 0);
    assert_memory_equal(kt_keys_public(k), kt_keys_public(again), sizeof(kt_pubkey_t));
    assert_memory_not_equal(kt_keys_public(k)->sign_pk, kt_keys_public(gen)->sign_pk,
                            KT_SIGN_PK_BYTES);

    kt_keys_destroy(&gen);
    kt_keys_destroy(&k);
    kt_keys_destroy(&again);
    kt_keys_destroy(&again); /* idempotent */
    assert_null(again);
}

static void test_from_seed_deterministic(void **state)
{
    kt_keys_t *a = NULL, *b = NULL, *c = NULL;
    uint8_t other[KT_SEED_BYTES];
    kt_diag_t d = {{0}};

    (void)state;
    memcpy(other, s_seed_a, sizeof(other));
    other[31] ^= 1;
    assert_int_equal(kt_keys_from_seed(&a, "school-a", KT_ROLE_SCHOOL, s_seed_a, &d), 0);
    assert_int_equal(kt_keys_from_seed(&b, "school-a", KT_ROLE_SCHOOL, s_seed_a, &d), 0);
    assert_int_equal(kt_keys_from_seed(&c, "school-a", KT_ROLE_SCHOOL, other, &d), 0);
    assert_memory_equal(kt_keys_public(a), kt_keys_public(b), sizeof(kt_pubkey_t));
    assert_memory_not_equal(kt_keys_public(a)->sign_pk, kt_keys_public(c)->sign_pk, 32);
    assert_memory_not_equal(kt_keys_public(a)->box_pk, kt_keys_public(c)->box_pk, 32);
    /* the two key pairs are independent values */
    assert_memory_not_equal(kt_keys_public(a)->sign_pk, kt_keys_public(a)->box_pk, 32);
    kt_keys_destroy(&a);
    kt_keys_destroy(&b);
    kt_keys_destroy(&c);
}

static void test_refuse_overwrite(void **state)
{
    struct fx *f = *state;
    kt_keys_t *k = NULL;
    kt_diag_t d = {{0}};
    char before[KT_SK_FILE_BYTES], after[KT_SK_FILE_BYTES], want[256];
    struct stat st;

    assert_int_equal(s_read(f->key, before, sizeof(before)), KT_SK_FILE_BYTES);
    assert_int_equal(kt_keys_generate(&k, "school-a", KT_ROLE_SCHOOL, &d), 0);
    assert_int_equal(kt_keys_save(k, f->dir, &d), KT_EEXIST);
    snprintf(want, sizeof(want), "%s already exists; refusing to overwrite a key", f->key);
    assert_string_equal(d.msg, want);
    assert_int_equal(s_read(f->key, after, sizeof(after)), KT_SK_FILE_BYTES);
    assert_memory_equal(before, after, sizeof(before));

    /* only the .pub exists: still refused, and no .key is left behind */
    assert_int_equal(unlink(f->key), 0);
    assert_int_equal(kt_keys_save(k, f->dir, &d), KT_EEXIST);
    assert_non_null(strstr(d.msg, "school-a.pub already exists"));
    assert_int_not_equal(stat(f->key, &st), 0);
    kt_keys_destroy(&k);
}

static void test_mode_refused(void **state)
{
    struct fx *f = *state;
    static const mode_t modes[] = {0640, 0604, 0602, 0620, 0700, 0610};
    kt_keys_t *k = NULL;
    kt_diag_t d = {{0}};
    char want[512];
    size_t i;

    snprintf(want, sizeof(want),
             "%s: secret key is readable or writable by others; run: chmod 600 %s", f->key,
             f->key);
    for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        assert_int_equal(chmod(f->key, modes[i]), 0);
        memset(&d, 0, sizeof(d));
        if (modes[i] == 0700) {
            assert_int_equal(kt_keys_load(&k, f->key, &d), 0); /* owner bits are fine */
            kt_keys_destroy(&k);
            continue;
        }
        assert_int_equal(kt_keys_load(&k, f->key, &d), KT_EPERM);
        assert_null(k);
        assert_string_equal(d.msg, want);
    }
    assert_int_equal(chmod(f->key, 0600), 0);
    assert_int_equal(kt_keys_load(&k, f->key, &d), 0);
    kt_keys_destroy(&k);
}

static void test_wrong_size_and_magic(void **state)
{
    struct fx *f = *state;
    char buf[KT_SK_FILE_BYTES + 1], want[512];
    kt_keys_t *k = NULL;
    kt_diag_t d = {{0}};

    assert_int_equal(s_read(f->key, buf, sizeof(buf)), KT_SK_FILE_BYTES);
    s_write(f->key, buf, KT_SK_FILE_BYTES - 1, 0600);
    assert_int_equal(kt_keys_load(&k, f->key, &d), KT_EMALFORMED);
    snprintf(want, sizeof(want), "%s: not a keten secret key (137 bytes, expected 138)", f->key);
    assert_string_equal(d.msg, want);

    buf[KT_SK_FILE_BYTES] = 0;
    s_write(f->key, buf, KT_SK_FILE_BYTES + 1, 0600);
    assert_int_equal(kt_keys_load(&k, f->key, &d), KT_EMALFORMED);
    snprintf(want, sizeof(want), "%s: not a keten secret key (139 bytes, expected 138)", f->key);
    assert_string_equal(d.msg, want);

    s_write(f->key, "", 0, 0600);
    assert_int_equal(kt_keys_load(&k, f->key, &d), KT_EMALFORMED);

    buf[0] = 'X';
    s_write(f->key, buf, KT_SK_FILE_BYTES, 0600);
    assert_int_equal(kt_keys_load(&k, f->key, &d), KT_EMALFORMED);
    snprintf(want, sizeof(want), "%s: not a keten secret key (bad magic)", f->key);
    assert_string_equal(d.msg, want);
    assert_null(k);

    snprintf(want, sizeof(want), "%s/missing.key", f->dir);
    assert_int_equal(kt_keys_load(&k, want, &d), KT_ENOENT);
    assert_non_null(strstr(d.msg, "missing.key"));
    assert_int_equal(kt_keys_load(&k, f->dir, &d), KT_EIO); /* a directory */
}

static void test_corrupt_secret_fields(void **state)
{
    struct fx *f = *state;
    char orig[KT_SK_FILE_BYTES], buf[KT_SK_FILE_BYTES];
    kt_keys_t *k = NULL;
    kt_diag_t d = {{0}};

    assert_int_equal(s_read(f->key, orig, sizeof(orig)), KT_SK_FILE_BYTES);
    /* role byte 0 and 4 */
    memcpy(buf, orig, sizeof(buf));
    buf[8] = 0;
    s_write(f->key, buf, sizeof(buf), 0600);
    assert_int_equal(kt_keys_load(&k, f->key, &d), KT_EMALFORMED);
    assert_non_null(strstr(d.msg, "corrupt secret key"));
    buf[8] = 4;
    s_write(f->key, buf, sizeof(buf), 0600);
    assert_int_equal(kt_keys_load(&k, f->key, &d), KT_EMALFORMED);
    /* id length 0, 65, and a length that exposes padding */
    memcpy(buf, orig, sizeof(buf));
    buf[9] = 0;
    s_write(f->key, buf, sizeof(buf), 0600);
    assert_int_equal(kt_keys_load(&k, f->key, &d), KT_EMALFORMED);
    buf[9] = 65;
    s_write(f->key, buf, sizeof(buf), 0600);
    assert_int_equal(kt_keys_load(&k, f->key, &d), KT_EMALFORMED);
    buf[9] = 9;
    s_write(f->key, buf, sizeof(buf), 0600);
    assert_int_equal(kt_keys_load(&k, f->key, &d), KT_EMALFORMED);
    /* an upper-case id, and bytes in the padding */
    memcpy(buf, orig, sizeof(buf));
    buf[10] = 'S';
    s_write(f->key, buf, sizeof(buf), 0600);
    assert_int_equal(kt_keys_load(&k, f->key, &d), KT_EMALFORMED);
    memcpy(buf, orig, sizeof(buf));
    buf[10 + 63] = 'x';
    s_write(f->key, buf, sizeof(buf), 0600);
    assert_int_equal(kt_keys_load(&k, f->key, &d), KT_EMALFORMED);
    assert_null(k);
    /* and the original still loads */
    s_write(f->key, orig, sizeof(orig), 0600);
    assert_int_equal(kt_keys_load(&k, f->key, &d), 0);
    kt_keys_destroy(&k);
}

static void test_ids_and_roles(void **state)
{
    kt_keys_t *k = NULL;
    kt_diag_t d = {{0}};
    char long_id[KT_NODE_ID_MAX + 2];
    kt_role_t r = KT_ROLE_SCHOOL;

    (void)state;
    assert_true(kt_keys_valid_id("school-a"));
    assert_true(kt_keys_valid_id("0"));
    assert_false(kt_keys_valid_id(""));
    assert_false(kt_keys_valid_id("School"));
    assert_false(kt_keys_valid_id("school_a"));
    assert_false(kt_keys_valid_id("school a"));
    assert_false(kt_keys_valid_id("../etc"));
    assert_false(kt_keys_valid_id(NULL));
    memset(long_id, 'a', sizeof(long_id));
    long_id[KT_NODE_ID_MAX] = '\0';
    assert_true(kt_keys_valid_id(long_id));
    long_id[KT_NODE_ID_MAX] = 'a';
    long_id[KT_NODE_ID_MAX + 1] = '\0';
    assert_false(kt_keys_valid_id(long_id));

    assert_int_equal(kt_keys_generate(&k, "../x", KT_ROLE_SCHOOL, &d), KT_EINVAL);
    assert_string_equal(d.msg, "node id must be 1 to 64 characters of a-z, 0-9 and '-'");
    assert_null(k);
    assert_int_equal(kt_keys_generate(&k, long_id, KT_ROLE_SCHOOL, &d), KT_EINVAL);
    assert_int_equal(kt_keys_generate(&k, "ok", (kt_role_t)9, &d), KT_EINVAL);
    assert_string_equal(d.msg, "role must be school, swv or gemeente");

    assert_int_equal(kt_role_parse("swv", &r), 0);
    assert_int_equal(r, KT_ROLE_SWV);
    assert_int_equal(kt_role_parse("gemeente", &r), 0);
    assert_int_equal(r, KT_ROLE_GEMEENTE);
    assert_int_equal(kt_role_parse("Gemeente", &r), KT_EINVAL);
    assert_int_equal(kt_role_parse("", &r), KT_EINVAL);
    assert_string_equal(kt_role_name(KT_ROLE_SCHOOL), "school");
    assert_string_equal(kt_role_name((kt_role_t)0), "unknown");
}

/* Replace the first occurrence of `from` in the .pub text and parse it. */
static int s_parse_edited(const char *text, const char *from, const char *to, kt_diag_t *d)
{
    char buf[2048];
    const char *at = strstr(text, from);
    kt_pubkey_t pk;

    assert_non_null(at);
    snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    return kt_keys_parse_public(&pk, buf, strlen(buf), d);
}

static void test_pub_tamper(void **state)
{
    struct fx *f = *state;
    char text[KT_PUB_TEXT_MAX + 1], *p;
    kt_pubkey_t pk;
    kt_diag_t d = {{0}};
    size_t n;

    n = s_read(f->pub, text, sizeof(text) - 1);
    text[n] = '\0';
    assert_int_equal(kt_keys_parse_public(&pk, text, n, &d), 0);

    /* another valid id, another role: the self-signature catches it */
    assert_int_equal(s_parse_edited(text, "id school-a\n", "id school-b\n", &d), KT_EAUTH);
    assert_string_equal(d.msg, "self-signature does not match: the file was altered or was not "
                               "made by ketenctl keygen");
    assert_int_equal(s_parse_edited(text, "role school\n", "role swv\n", &d), KT_EAUTH);

    /* one base64 character of each key changed (keeping the encoding canonical) */
    {
        static const char *const at[] = {"\nbox ", "\nsign ", "\nsig "};
        size_t i;

        for (i = 0; i < 3; i++) {
            char saved;
            int rc;

            p = strstr(text, at[i]) + strlen(at[i]);
            saved = *p;
            *p = saved == 'A' ? 'B' : 'A';
            rc = kt_keys_parse_public(&pk, text, n, &d);
            /* a changed sign key may also be an invalid point: refused either way */
            if (i == 1)
                assert_int_not_equal(rc, 0);
            else
                assert_int_equal(rc, KT_EAUTH);
            *p = saved;
        }
    }
    assert_int_equal(kt_keys_parse_public(&pk, text, n, &d), 0);

    /* the file on disk, tampered */
    s_write(f->pub, text, n, 0644);
    assert_int_equal(kt_keys_load_public(&pk, f->pub, &d), 0);
    {
        char bad[KT_PUB_TEXT_MAX + 1];

        snprintf(bad, sizeof(bad), "%s", text);
        memcpy(strstr(bad, "id school-a"), "id school-z", 11);
        s_write(f->pub, bad, n, 0644);
        assert_int_equal(kt_keys_load_public(&pk, f->pub, &d), KT_EAUTH);
        assert_non_null(strstr(d.msg, f->pub));
    }
}

static void test_pub_strict(void **state)
{
    struct fx *f = *state;
    char text[KT_PUB_TEXT_MAX + 1], buf[2048];
    kt_pubkey_t pk;
    kt_diag_t d = {{0}};
    size_t n;
    const char *sig;

    n = s_read(f->pub, text, sizeof(text) - 1);
    text[n] = '\0';
    /* no final newline; trailing text; CRLF; blank line; wrong order */
    assert_int_equal(kt_keys_parse_public(&pk, text, n - 1, &d), KT_EMALFORMED);
    snprintf(buf, sizeof(buf), "%sx\n", text);
    assert_int_equal(kt_keys_parse_public(&pk, buf, strlen(buf), &d), KT_EMALFORMED);
    assert_string_equal(d.msg, "unexpected text after line 6");
    assert_int_equal(s_parse_edited(text, "keten-pub 1\n", "keten-pub 1\r\n", &d), KT_EMALFORMED);
    assert_int_equal(s_parse_edited(text, "\nrole", "\n\nrole", &d), KT_EMALFORMED);
    assert_string_equal(d.msg, "line 3: expected 'role ...'");
    assert_int_equal(s_parse_edited(text, "id school-a\nrole school\n",
                                    "role school\nid school-a\n", &d),
                     KT_EMALFORMED);
    /* duplicate line */
    assert_int_equal(s_parse_edited(text, "role school\n", "role school\nrole school\n", &d),
                     KT_EMALFORMED);
    /* double space, bad id, bad role, upper-case id */
    assert_int_equal(s_parse_edited(text, "id school-a", "id  school-a", &d), KT_EMALFORMED);
    assert_int_equal(s_parse_edited(text, "id school-a", "id School-a", &d), KT_EMALFORMED);
    assert_string_equal(d.msg, "line 2: node id must be 1 to 64 characters of a-z, 0-9 and '-'");
    assert_int_equal(s_parse_edited(text, "id school-a", "id ", &d), KT_EMALFORMED);
    assert_int_equal(s_parse_edited(text, "role school", "role teacher", &d), KT_EMALFORMED);
    assert_int_equal(s_parse_edited(text, "role school", "role schoolschoolschool", &d),
                     KT_EMALFORMED);
    /* versions */
    assert_int_equal(s_parse_edited(text, "keten-pub 1", "keten-pub 2", &d), KT_EVERSION);
    assert_int_equal(s_parse_edited(text, "keten-pub 1", "keten-pub 10", &d), KT_EVERSION);
    assert_int_equal(s_parse_edited(text, "keten-pub 1", "ssh-ed25519 1", &d), KT_EMALFORMED);
    /* base64: short, long, without padding, not base64 */
    sig = strstr(text, "\nsig ") + 5;
    snprintf(buf, sizeof(buf), "%.*s\n", (int)(sig - text + 87), text);
    assert_int_equal(kt_keys_parse_public(&pk, buf, strlen(buf), &d), KT_EMALFORMED);
    assert_string_equal(d.msg, "line 6: 'sig' must be 64 bytes in base64 (88 characters)");
    snprintf(buf, sizeof(buf), "%.*s\n", (int)(sig - text + 86), text);
    assert_int_equal(kt_keys_parse_public(&pk, buf, strlen(buf), &d), KT_EMALFORMED);
    snprintf(buf, sizeof(buf), "%.*sA=\n", (int)(sig - text + 86), text);
    assert_int_equal(kt_keys_parse_public(&pk, buf, strlen(buf), &d), KT_EMALFORMED);
    snprintf(buf, sizeof(buf), "%.*s==A\n", (int)(sig - text + 86), text);
    assert_int_equal(kt_keys_parse_public(&pk, buf, strlen(buf), &d), KT_EMALFORMED);
    /* non-canonical padding bits: last data character before "==" */
    snprintf(buf, sizeof(buf), "%s", text);
    {
        char *c = strstr(buf, "\nsig ") + 5 + 85;

        assert_string_equal(c + 1, "==\n");
        *c = (char)(*c == 'w' ? 'x' : *c + 1);
        assert_int_equal(kt_keys_parse_public(&pk, buf, strlen(buf), &d), KT_EMALFORMED);
    }
    /* NUL bytes, empty input, oversize input */
    memcpy(buf, text, n);
    buf[15] = '\0';
    assert_int_not_equal(kt_keys_parse_public(&pk, buf, n, &d), 0);
    assert_int_equal(kt_keys_parse_public(&pk, "", 0, &d), KT_EMALFORMED);
    memset(buf, 'a', KT_PUB_TEXT_MAX + 1);
    assert_int_equal(kt_keys_parse_public(&pk, buf, KT_PUB_TEXT_MAX + 1, &d), KT_ETOOBIG);
    /* every prefix of a valid file is refused */
    for (size_t i = 0; i < n; i++)
        assert_int_not_equal(kt_keys_parse_public(&pk, text, i, NULL), 0);
}

static void test_pub_mode(void **state)
{
    struct fx *f = *state;
    kt_pubkey_t pk;
    kt_diag_t d = {{0}};
    char want[512];

    snprintf(want, sizeof(want), "%s: public key is writable by others; run: chmod 644 %s",
             f->pub, f->pub);
    assert_int_equal(chmod(f->pub, 0664), 0);
    assert_int_equal(kt_keys_load_public(&pk, f->pub, &d), KT_EPERM);
    assert_string_equal(d.msg, want);
    assert_int_equal(chmod(f->pub, 0646), 0);
    assert_int_equal(kt_keys_load_public(&pk, f->pub, &d), KT_EPERM);
    assert_int_equal(chmod(f->pub, 0444), 0);
    assert_int_equal(kt_keys_load_public(&pk, f->pub, &d), 0);
}

static void test_fingerprint(void **state)
{
    struct fx *f = *state;
    kt_keys_t *k = NULL;
    kt_pubkey_t pk;
    kt_diag_t d = {{0}};
    char fp1[KT_FINGERPRINT_HEX], fp2[KT_FINGERPRINT_HEX];

    assert_int_equal(kt_keys_from_seed(&k, "school-a", KT_ROLE_SCHOOL, s_seed_a, &d), 0);
    kt_keys_fingerprint(fp1, kt_keys_public(k));
    assert_int_equal(kt_keys_load_public(&pk, f->pub, &d), 0);
    kt_keys_fingerprint(fp2, &pk);
    assert_string_equal(fp1, fp2);
    assert_int_equal(strlen(fp1), 32);
    /* known answer (recomputed independently by tests/vectors/independent_verify.py) */
    assert_string_equal(fp1, KETEN_FP_SCHOOL_A);
    /* id and role are not part of the fingerprint; the keys are */
    pk.id[0] = 'x';
    kt_keys_fingerprint(fp2, &pk);
    assert_string_equal(fp1, fp2);
    pk.box_pk[0] ^= 1;
    kt_keys_fingerprint(fp2, &pk);
    assert_string_not_equal(fp1, fp2);
    kt_keys_destroy(&k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, s_setup, s_teardown),
        cmocka_unit_test(test_from_seed_deterministic),
        cmocka_unit_test_setup_teardown(test_refuse_overwrite, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_mode_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_size_and_magic, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_secret_fields, s_setup, s_teardown),
        cmocka_unit_test(test_ids_and_roles),
        cmocka_unit_test_setup_teardown(test_pub_tamper, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_pub_strict, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_pub_mode, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_fingerprint, s_setup, s_teardown),
    };

    if (kt_keys_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
