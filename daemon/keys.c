/*
 * keys.c - node identity: key generation, the secret (.key) and public
 * (.pub) file formats, file-mode checks, fingerprints and wiping.
 *
 * Owns the byte layout of DIR/ID.key and the text layout of DIR/ID.pub (both
 * specified in docs/protocol.md). Secrets only ever live in the
 * sodium_malloc'd kt_keys_t or in stack arrays that are wiped before every
 * return. Must never print, log or put into a diagnostic any key byte, and
 * must never overwrite an existing key file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "keten/keys.h"

#define KT_SK_MAGIC "KETENSK1"
#define KT_SK_MAGIC_BYTES 8
#define KT_B64_32 44 /* sodium base64 (original, padded) of 32 bytes */
#define KT_B64_64 88 /* ... of 64 bytes */

static const char s_fp_domain[] = "keten-fingerprint-v1"; /* hashed without its NUL */
static const char s_pub_domain[] = "keten-pub-v1";        /* hashed with its NUL */
static const char s_box_domain[] = "keten-x25519-v1";     /* hashed without its NUL */

struct kt_keys {
    kt_pubkey_t pub;
    uint8_t sign_sk[KT_SIGN_SK_BYTES]; /* libsodium form: seed || pk */
    uint8_t box_sk[KT_BOX_SK_BYTES];
    uint8_t seed[KT_SEED_BYTES]; /* the Ed25519 seed, as stored in the file */
};

/* magic || role || id length || id (zero padded) || Ed25519 seed || X25519 secret */
_Static_assert(KT_SK_FILE_BYTES ==
                   KT_SK_MAGIC_BYTES + 1 + 1 + KT_NODE_ID_MAX + KT_SEED_BYTES + KT_BOX_SK_BYTES,
               "secret key file layout");
_Static_assert(KT_SIGN_PK_BYTES == crypto_sign_PUBLICKEYBYTES, "sign pk size");
_Static_assert(KT_KEYS_SIG_BYTES == crypto_sign_BYTES, "signature size");
_Static_assert(KT_SIGN_SK_BYTES == crypto_sign_SECRETKEYBYTES, "sign sk size");
_Static_assert(KT_BOX_PK_BYTES == crypto_box_PUBLICKEYBYTES, "box pk size");
_Static_assert(KT_BOX_SK_BYTES == crypto_box_SECRETKEYBYTES, "box sk size");
_Static_assert(KT_SEED_BYTES == crypto_sign_SEEDBYTES, "seed size");

static const char *const s_roles[] = {NULL, "school", "swv", "gemeente"};

int kt_keys_init(void)
{
    return sodium_init() < 0 ? KT_ENOMEM : 0;
}

const char *kt_role_name(kt_role_t role)
{
    if (role < KT_ROLE_SCHOOL || role > KT_ROLE_GEMEENTE)
        return "unknown";
    return s_roles[role];
}

int kt_role_parse(const char *s, kt_role_t *role)
{
    int i;

    if (s == NULL)
        return KT_EINVAL;
    for (i = KT_ROLE_SCHOOL; i <= KT_ROLE_GEMEENTE; i++) {
        if (strcmp(s, s_roles[i]) == 0) {
            *role = (kt_role_t)i;
            return 0;
        }
    }
    return KT_EINVAL;
}

static int s_valid_id_n(const char *id, size_t n)
{
    size_t i;

    if (n < 1 || n > KT_NODE_ID_MAX)
        return 0;
    for (i = 0; i < n; i++) {
        char c = id[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
    }
    return 1;
}

int kt_keys_valid_id(const char *id)
{
    if (id == NULL)
        return 0;
    return s_valid_id_n(id, strnlen(id, KT_NODE_ID_MAX + 1));
}

static kt_keys_t *s_keys_alloc(void)
{
    /* sodium_malloc only aligns allocations whose size is a multiple of the alignment */
    size_t n = (sizeof(kt_keys_t) + 15) & ~(size_t)15;
    kt_keys_t *k = sodium_malloc(n);

    if (k != NULL)
        sodium_memzero(k, n);
    return k;
}

void kt_keys_destroy(kt_keys_t **p)
{
    if (p == NULL || *p == NULL)
        return;
    sodium_free(*p); /* zeroes before unmapping */
    *p = NULL;
}

/* Fills k from its id, role, Ed25519 seed and X25519 secret (already in k). */
static int s_keys_complete(kt_keys_t *k, kt_diag_t *d)
{
    if (crypto_sign_seed_keypair(k->pub.sign_pk, k->sign_sk, k->seed) != 0 ||
        crypto_scalarmult_base(k->pub.box_pk, k->box_sk) != 0)
        return kt_diag_set(d, KT_EINVAL, "cannot derive the public keys");
    return 0;
}

static int s_check_id_role(const char *id, kt_role_t role, kt_diag_t *d)
{
    if (!kt_keys_valid_id(id))
        return kt_diag_set(d, KT_EINVAL, "node id must be 1 to %d characters of a-z, 0-9 and '-'",
                           KT_NODE_ID_MAX);
    if (role < KT_ROLE_SCHOOL || role > KT_ROLE_GEMEENTE)
        return kt_diag_set(d, KT_EINVAL, "role must be school, swv or gemeente");
    return 0;
}

int kt_keys_from_seed(kt_keys_t **out, const char *id, kt_role_t role,
                      const uint8_t seed[KT_SEED_BYTES], kt_diag_t *d)
{
    kt_keys_t *k;
    int rc;

    *out = NULL;
    if ((rc = s_check_id_role(id, role, d)) != 0)
        return rc;
    if ((k = s_keys_alloc()) == NULL)
        return kt_diag_set(d, KT_ENOMEM, "out of memory for a key");
    memcpy(k->pub.id, id, strlen(id) + 1);
    k->pub.role = role;
    memcpy(k->seed, seed, KT_SEED_BYTES);
    /* X25519 secret = BLAKE2b-256(key = seed, message = "keten-x25519-v1") */
    if (crypto_generichash(k->box_sk, sizeof(k->box_sk), (const uint8_t *)s_box_domain,
                           sizeof(s_box_domain) - 1, seed, KT_SEED_BYTES) != 0) {
        kt_keys_destroy(&k);
        return kt_diag_set(d, KT_EINVAL, "cannot derive the X25519 key");
    }
    if ((rc = s_keys_complete(k, d)) != 0) {
        kt_keys_destroy(&k);
        return rc;
    }
    *out = k;
    return 0;
}

int kt_keys_generate(kt_keys_t **out, const char *id, kt_role_t role, kt_diag_t *d)
{
    uint8_t seed[KT_SEED_BYTES];
    int rc;

    randombytes_buf(seed, sizeof(seed));
    rc = kt_keys_from_seed(out, id, role, seed, d);
    sodium_memzero(seed, sizeof(seed));
    return rc;
}

const kt_pubkey_t *kt_keys_public(const kt_keys_t *k)
{
    return &k->pub;
}

const uint8_t *kt_keys_sign_sk(const kt_keys_t *k)
{
    return k->sign_sk;
}

const uint8_t *kt_keys_box_sk(const kt_keys_t *k)
{
    return k->box_sk;
}

void kt_keys_fingerprint(char out[KT_FINGERPRINT_HEX], const kt_pubkey_t *pk)
{
    crypto_generichash_state st;
    uint8_t h[32];

    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    crypto_generichash_update(&st, (const uint8_t *)s_fp_domain, sizeof(s_fp_domain) - 1);
    crypto_generichash_update(&st, pk->sign_pk, sizeof(pk->sign_pk));
    crypto_generichash_update(&st, pk->box_pk, sizeof(pk->box_pk));
    crypto_generichash_final(&st, h, sizeof(h));
    sodium_bin2hex(out, KT_FINGERPRINT_HEX, h, KT_FINGERPRINT_BYTES);
}

void kt_keys_public_base64(char sign[KT_KEY_BASE64_BYTES], char box[KT_KEY_BASE64_BYTES],
                           const kt_pubkey_t *pk)
{
    sodium_bin2base64(sign, KT_KEY_BASE64_BYTES, pk->sign_pk, KT_SIGN_PK_BYTES,
                      sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(box, KT_KEY_BASE64_BYTES, pk->box_pk, KT_BOX_PK_BYTES,
                      sodium_base64_VARIANT_ORIGINAL);
}

/*
 * The bytes the .pub self-signature covers:
 *   "keten-pub-v1\0" || u8 len(id) || id || u8 len(role) || role || sign_pk || box_pk
 */
#define KT_PUB_MSG_MAX (sizeof(s_pub_domain) + 1 + KT_NODE_ID_MAX + 1 + 8 + 32 + 32)

static size_t s_pub_message(uint8_t msg[KT_PUB_MSG_MAX], const kt_pubkey_t *pk)
{
    const char *role = kt_role_name(pk->role);
    size_t idlen = strlen(pk->id), rolelen = strlen(role), n = 0;

    memcpy(msg + n, s_pub_domain, sizeof(s_pub_domain));
    n += sizeof(s_pub_domain);
    msg[n++] = (uint8_t)idlen;
    memcpy(msg + n, pk->id, idlen);
    n += idlen;
    msg[n++] = (uint8_t)rolelen;
    memcpy(msg + n, role, rolelen);
    n += rolelen;
    memcpy(msg + n, pk->sign_pk, KT_SIGN_PK_BYTES);
    n += KT_SIGN_PK_BYTES;
    memcpy(msg + n, pk->box_pk, KT_BOX_PK_BYTES);
    n += KT_BOX_PK_BYTES;
    return n;
}

int kt_keys_format_public(char *out, size_t outlen, const kt_keys_t *k)
{
    uint8_t msg[KT_PUB_MSG_MAX], sig[crypto_sign_BYTES];
    char b_sign[KT_B64_32 + 1], b_box[KT_B64_32 + 1], b_sig[KT_B64_64 + 1];
    size_t n = s_pub_message(msg, &k->pub);
    int w;

    crypto_sign_detached(sig, NULL, msg, n, k->sign_sk);
    sodium_bin2base64(b_sign, sizeof(b_sign), k->pub.sign_pk, KT_SIGN_PK_BYTES,
                      sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(b_box, sizeof(b_box), k->pub.box_pk, KT_BOX_PK_BYTES,
                      sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(b_sig, sizeof(b_sig), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
    w = snprintf(out, outlen, "keten-pub 1\nid %s\nrole %s\nsign %s\nbox %s\nsig %s\n", k->pub.id,
                 kt_role_name(k->pub.role), b_sign, b_box, b_sig);
    if (w < 0 || (size_t)w >= outlen)
        return KT_ETOOBIG;
    return w;
}

/* Next '\n'-terminated line of text[*pos..len); the newline is required. */
static int s_next_line(const char *text, size_t len, size_t *pos, const char **line,
                       size_t *linelen)
{
    const char *nl;

    if (*pos >= len)
        return -1;
    nl = memchr(text + *pos, '\n', len - *pos);
    if (nl == NULL)
        return -1;
    *line = text + *pos;
    *linelen = (size_t)(nl - *line);
    *pos += *linelen + 1;
    return 0;
}

/* Line must be exactly "KEY VALUE"; returns VALUE's start and length. */
static int s_field(const char *line, size_t n, const char *key, const char **val, size_t *vlen)
{
    size_t klen = strlen(key);

    if (n < klen + 1 || memcmp(line, key, klen) != 0 || line[klen] != ' ')
        return -1;
    *val = line + klen + 1;
    *vlen = n - klen - 1;
    return 0;
}

static int s_b64_exact(uint8_t *bin, size_t binlen, const char *b64, size_t b64len)
{
    char again[KT_B64_64 + 1];
    size_t got = 0;
    const char *end = NULL;

    if (b64len != sodium_base64_ENCODED_LEN(binlen, sodium_base64_VARIANT_ORIGINAL) - 1)
        return -1;
    if (sodium_base642bin(bin, binlen, b64, b64len, NULL, &got, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got != binlen || end != b64 + b64len)
        return -1;
    /* only the canonical encoding is accepted */
    sodium_bin2base64(again, sizeof(again), bin, binlen, sodium_base64_VARIANT_ORIGINAL);
    return memcmp(again, b64, b64len) == 0 ? 0 : -1;
}

int kt_keys_parse_public(kt_pubkey_t *out, const char *text, size_t len, kt_diag_t *d)
{
    static const char *const keys[] = {"id", "role", "sign", "box", "sig"};
    uint8_t msg[KT_PUB_MSG_MAX], sig[crypto_sign_BYTES];
    const char *line, *val;
    size_t linelen, vlen, pos = 0, i, n;
    kt_pubkey_t pk;
    char role[16];

    memset(out, 0, sizeof(*out));
    memset(&pk, 0, sizeof(pk));
    if (len > KT_PUB_TEXT_MAX)
        return kt_diag_set(d, KT_ETOOBIG, "public key text is larger than %d bytes",
                           KT_PUB_TEXT_MAX);
    if (s_next_line(text, len, &pos, &line, &linelen) != 0)
        return kt_diag_set(d, KT_EMALFORMED, "not a keten public key (no header line)");
    if (linelen > 10 && linelen <= 20 && memcmp(line, "keten-pub ", 10) == 0 &&
        strspn(line + 10, "0123456789") == linelen - 10 && !(linelen == 11 && line[10] == '1'))
        return kt_diag_set(d, KT_EVERSION,
                           "line 1: unsupported public key version (this build reads 1)");
    if (linelen != 11 || memcmp(line, "keten-pub 1", 11) != 0)
        return kt_diag_set(d, KT_EMALFORMED,
                           "not a keten public key (line 1 must be 'keten-pub 1')");
    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (s_next_line(text, len, &pos, &line, &linelen) != 0 ||
            s_field(line, linelen, keys[i], &val, &vlen) != 0)
            return kt_diag_set(d, KT_EMALFORMED, "line %zu: expected '%s ...'", i + 2, keys[i]);
        switch (i) {
        case 0:
            if (!s_valid_id_n(val, vlen))
                return kt_diag_set(d, KT_EMALFORMED,
                                   "line 2: node id must be 1 to %d characters of a-z, 0-9 "
                                   "and '-'",
                                   KT_NODE_ID_MAX);
            memcpy(pk.id, val, vlen);
            pk.id[vlen] = '\0';
            break;
        case 1:
            if (vlen >= sizeof(role) || memchr(val, '\0', vlen) != NULL)
                return kt_diag_set(d, KT_EMALFORMED,
                                   "line 3: role must be school, swv or gemeente");
            memcpy(role, val, vlen);
            role[vlen] = '\0';
            if (kt_role_parse(role, &pk.role) != 0)
                return kt_diag_set(d, KT_EMALFORMED,
                                   "line 3: role must be school, swv or gemeente");
            break;
        case 2:
            if (s_b64_exact(pk.sign_pk, sizeof(pk.sign_pk), val, vlen) != 0)
                return kt_diag_set(d, KT_EMALFORMED,
                                   "line 4: 'sign' must be 32 bytes in base64 (44 characters)");
            break;
        case 3:
            if (s_b64_exact(pk.box_pk, sizeof(pk.box_pk), val, vlen) != 0)
                return kt_diag_set(d, KT_EMALFORMED,
                                   "line 5: 'box' must be 32 bytes in base64 (44 characters)");
            break;
        default:
            if (s_b64_exact(sig, sizeof(sig), val, vlen) != 0)
                return kt_diag_set(d, KT_EMALFORMED,
                                   "line 6: 'sig' must be 64 bytes in base64 (88 characters)");
            break;
        }
    }
    if (pos != len)
        return kt_diag_set(d, KT_EMALFORMED, "unexpected text after line 6");
    n = s_pub_message(msg, &pk);
    if (crypto_sign_verify_detached(sig, msg, n, pk.sign_pk) != 0)
        return kt_diag_set(d, KT_EAUTH,
                           "self-signature does not match: the file was altered or was not "
                           "made by ketenctl keygen");
    *out = pk;
    return 0;
}

/* Opens path read-only and checks it is a regular file; fills st. */
static int s_open_regular(const char *path, int *fd, struct stat *st, kt_diag_t *d)
{
    *fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (*fd < 0) {
        int e = errno;

        return kt_diag_set(d, e == ENOENT ? KT_ENOENT : KT_EIO, "%s: %s", path, strerror(e));
    }
    if (fstat(*fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(*fd);
        *fd = -1;
        return kt_diag_set(d, KT_EIO, "%s: not a regular file", path);
    }
    return 0;
}

static int s_read_all(int fd, uint8_t *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

int kt_keys_load_public(kt_pubkey_t *out, const char *path, kt_diag_t *d)
{
    char text[KT_PUB_TEXT_MAX];
    struct stat st;
    int fd, rc;

    memset(out, 0, sizeof(*out));
    if ((rc = s_open_regular(path, &fd, &st, d)) != 0)
        return rc;
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        close(fd);
        return kt_diag_set(d, KT_EPERM, "%s: public key is writable by others; run: chmod 644 %s",
                           path, path);
    }
    if (st.st_size > KT_PUB_TEXT_MAX) {
        close(fd);
        return kt_diag_set(d, KT_EMALFORMED,
                           "%s: not a keten public key (%lld bytes, at most %d expected)", path,
                           (long long)st.st_size, KT_PUB_TEXT_MAX);
    }
    rc = s_read_all(fd, (uint8_t *)text, (size_t)st.st_size);
    close(fd);
    if (rc != 0)
        return kt_diag_set(d, KT_EIO, "%s: cannot read", path);
    rc = kt_keys_parse_public(out, text, (size_t)st.st_size, d);
    if (rc != 0)
        kt_diag_prefix(d, "%s", path);
    return rc;
}

int kt_keys_load(kt_keys_t **out, const char *path, kt_diag_t *d)
{
    uint8_t buf[KT_SK_FILE_BYTES];
    const uint8_t *p = buf + KT_SK_MAGIC_BYTES;
    kt_keys_t *k = NULL;
    struct stat st;
    size_t idlen;
    int fd, rc;

    *out = NULL;
    if ((rc = s_open_regular(path, &fd, &st, d)) != 0)
        return rc;
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        close(fd);
        return kt_diag_set(d, KT_EPERM,
                           "%s: secret key is readable or writable by others; run: chmod 600 %s",
                           path, path);
    }
    if (st.st_size != KT_SK_FILE_BYTES) {
        close(fd);
        return kt_diag_set(d, KT_EMALFORMED, "%s: not a keten secret key (%lld bytes, expected %d)",
                           path, (long long)st.st_size, KT_SK_FILE_BYTES);
    }
    rc = s_read_all(fd, buf, sizeof(buf));
    close(fd);
    if (rc != 0) {
        rc = kt_diag_set(d, KT_EIO, "%s: cannot read", path);
        goto out;
    }
    if (memcmp(buf, KT_SK_MAGIC, KT_SK_MAGIC_BYTES) != 0) {
        rc = kt_diag_set(d, KT_EMALFORMED, "%s: not a keten secret key (bad magic)", path);
        goto out;
    }
    idlen = p[1];
    if (p[0] < KT_ROLE_SCHOOL || p[0] > KT_ROLE_GEMEENTE || idlen < 1 || idlen > KT_NODE_ID_MAX ||
        !s_valid_id_n((const char *)p + 2, idlen) ||
        !sodium_is_zero(p + 2 + idlen, KT_NODE_ID_MAX - idlen)) {
        rc = kt_diag_set(d, KT_EMALFORMED, "%s: corrupt secret key (bad role or node id)", path);
        goto out;
    }
    if ((k = s_keys_alloc()) == NULL) {
        rc = kt_diag_set(d, KT_ENOMEM, "out of memory for a key");
        goto out;
    }
    k->pub.role = (kt_role_t)p[0];
    memcpy(k->pub.id, p + 2, idlen);
    memcpy(k->seed, p + 2 + KT_NODE_ID_MAX, KT_SEED_BYTES);
    memcpy(k->box_sk, p + 2 + KT_NODE_ID_MAX + KT_SEED_BYTES, KT_BOX_SK_BYTES);
    if ((rc = s_keys_complete(k, d)) != 0) {
        kt_diag_prefix(d, "%s", path);
        kt_keys_destroy(&k);
        goto out;
    }
    *out = k;
out:
    sodium_memzero(buf, sizeof(buf));
    return rc;
}

static int s_write_all(int fd, const void *buf, size_t n)
{
    const uint8_t *b = buf;

    while (n > 0) {
        ssize_t w = write(fd, b, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int s_create_excl(const char *path, mode_t mode, kt_diag_t *d)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);

    if (fd < 0) {
        int e = errno;

        if (e == EEXIST)
            return kt_diag_set(d, KT_EEXIST, "%s already exists; refusing to overwrite a key",
                               path);
        return kt_diag_set(d, KT_EIO, "%s: %s", path, strerror(e));
    }
    return fd;
}

int kt_keys_save(const kt_keys_t *k, const char *dir, kt_diag_t *d)
{
    char kpath[4096], ppath[4096], pub[KT_PUB_TEXT_MAX];
    uint8_t buf[KT_SK_FILE_BYTES];
    uint8_t *p = buf;
    size_t idlen = strlen(k->pub.id);
    int kfd = -1, pfd = -1, publen, rc = 0;

    if (snprintf(kpath, sizeof(kpath), "%s/%s.key", dir, k->pub.id) >= (int)sizeof(kpath) ||
        snprintf(ppath, sizeof(ppath), "%s/%s.pub", dir, k->pub.id) >= (int)sizeof(ppath))
        return kt_diag_set(d, KT_EINVAL, "key directory path is too long");
    publen = kt_keys_format_public(pub, sizeof(pub), k);
    if (publen < 0)
        return kt_diag_set(d, publen, "cannot format the public key");
    if ((kfd = s_create_excl(kpath, 0600, d)) < 0)
        return kfd;
    if ((pfd = s_create_excl(ppath, 0644, d)) < 0) {
        rc = pfd;
        close(kfd);
        unlink(kpath);
        return rc;
    }
    memset(buf, 0, sizeof(buf));
    memcpy(p, KT_SK_MAGIC, KT_SK_MAGIC_BYTES);
    p += KT_SK_MAGIC_BYTES;
    *p++ = (uint8_t)k->pub.role;
    *p++ = (uint8_t)idlen;
    memcpy(p, k->pub.id, idlen);
    p += KT_NODE_ID_MAX;
    memcpy(p, k->seed, KT_SEED_BYTES);
    p += KT_SEED_BYTES;
    memcpy(p, k->box_sk, KT_BOX_SK_BYTES);
    if (s_write_all(kfd, buf, sizeof(buf)) != 0 || fsync(kfd) != 0 ||
        s_write_all(pfd, pub, (size_t)publen) != 0 || fsync(pfd) != 0)
        rc = kt_diag_set(d, KT_EIO, "cannot write the key files in %s: %s", dir, strerror(errno));
    sodium_memzero(buf, sizeof(buf));
    if (close(kfd) != 0 && rc == 0)
        rc = kt_diag_set(d, KT_EIO, "%s: %s", kpath, strerror(errno));
    if (close(pfd) != 0 && rc == 0)
        rc = kt_diag_set(d, KT_EIO, "%s: %s", ppath, strerror(errno));
    if (rc != 0) {
        unlink(kpath);
        unlink(ppath);
    }
    return rc;
}

void kt_keys_sign_detached(uint8_t sig[KT_KEYS_SIG_BYTES], const uint8_t *msg, size_t len,
                           const kt_keys_t *k)
{
    crypto_sign_detached(sig, NULL, msg, len, k->sign_sk);
}

int kt_keys_verify_detached(const uint8_t sig[KT_KEYS_SIG_BYTES], const uint8_t *msg, size_t len,
                            const kt_pubkey_t *pk)
{
    return crypto_sign_verify_detached(sig, msg, len, pk->sign_pk) == 0;
}
