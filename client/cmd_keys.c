/*
 * cmd_keys.c - `ketenctl keygen` and `ketenctl key show`.
 *
 * Owns the operator's view of node keys: generating a node identity into a
 * 0700 directory, and describing a .key or .pub file. Must never print a
 * secret byte (a secret key is shown as "(hidden)") and never overwrite a
 * key file; the formats themselves belong to daemon/keys.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keten/keys.h"
#include "ketenctl.h"

static void s_keygen_usage(FILE *f)
{
    fprintf(f,
            "usage: %s keygen --id ID --role school|swv|gemeente --out DIR\n\n"
            "Generates a node identity (an Ed25519 signing key pair and an X25519 key pair)\n"
            "and writes DIR/ID.key (secret, mode 0600) and DIR/ID.pub (give this one to\n"
            "partners). DIR is created with mode 0700 if missing. Existing key files are\n"
            "never overwritten. Node ids match [a-z0-9-]{1,64}.\n",
            kt_progname);
}

static int s_usage_error(void (*usage)(FILE *), const char *msg)
{
    kt_err("%s", msg);
    usage(stderr);
    return KT_EXIT_USAGE;
}

static int s_prepare_dir(const char *dir)
{
    struct stat st;

    if (mkdir(dir, 0700) == 0)
        return 0;
    if (errno != EEXIST) {
        kt_err("cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        kt_err("%s exists and is not a directory", dir);
        return -1;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        fprintf(stderr,
                "%s: warning: %s is accessible by others; keep secret keys in a 0700 "
                "directory (chmod 700 %s)\n",
                kt_progname, dir, dir);
    return 0;
}

int cmd_keygen(int argc, char **argv)
{
    static const struct option opts[] = {{"id", required_argument, NULL, 'i'},
                                         {"role", required_argument, NULL, 'r'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *id = NULL, *role_s = NULL, *dir = NULL;
    char fp[KT_FINGERPRINT_HEX];
    kt_keys_t *k = NULL;
    kt_diag_t d = {""};
    kt_role_t role;
    int c;

    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            id = optarg;
            break;
        case 'r':
            role_s = optarg;
            break;
        case 'o':
            dir = optarg;
            break;
        case 'h':
            s_keygen_usage(stdout);
            return KT_EXIT_OK;
        default:
            return s_usage_error(s_keygen_usage, "keygen: unknown option or missing value");
        }
    }
    if (optind != argc)
        return s_usage_error(s_keygen_usage, "keygen: unexpected argument");
    if (id == NULL || role_s == NULL || dir == NULL)
        return s_usage_error(s_keygen_usage, "keygen: --id, --role and --out are required");
    if (!kt_keys_valid_id(id)) {
        kt_err("--id: a node id must match [a-z0-9-]{1,64} (lower-case letters, digits and '-')");
        return KT_EXIT_USAGE;
    }
    if (kt_role_parse(role_s, &role) != 0) {
        kt_err("--role: must be school, swv or gemeente");
        return KT_EXIT_USAGE;
    }
    if (s_prepare_dir(dir) != 0)
        return KT_EXIT_ERR;
    if (kt_keys_generate(&k, id, role, &d) != 0 || kt_keys_save(k, dir, &d) != 0) {
        kt_keys_destroy(&k);
        kt_err("%s", d.msg);
        return KT_EXIT_ERR;
    }
    kt_keys_fingerprint(fp, kt_keys_public(k));
    printf("secret key:  %s/%s.key (mode 0600; never leaves this node)\n", dir, id);
    printf("public key:  %s/%s.pub (give this file to partners)\n", dir, id);
    printf("fingerprint: %s\n", fp);
    kt_keys_destroy(&k);
    return KT_EXIT_OK;
}

static void s_show_usage(FILE *f)
{
    fprintf(f,
            "usage: %s key show FILE\n\n"
            "Prints the node id, role, fingerprint and public keys of a .pub or .key file.\n"
            "A secret key is shown as (hidden); no secret byte is ever printed.\n",
            kt_progname);
}

/* A .pub by name or by its first line; anything else is read as a secret key. */
static int s_is_public(const char *path)
{
    size_t n = strlen(path);
    char head[10] = {0};
    FILE *f;

    if (n >= 4 && strcmp(path + n - 4, ".pub") == 0)
        return 1;
    if (n >= 4 && strcmp(path + n - 4, ".key") == 0)
        return 0;
    if ((f = fopen(path, "rb")) == NULL)
        return 0;
    n = fread(head, 1, sizeof(head), f);
    fclose(f);
    return n == sizeof(head) && memcmp(head, "keten-pub ", sizeof(head)) == 0;
}

int cmd_key_show(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    char fp[KT_FINGERPRINT_HEX], sign[KT_KEY_BASE64_BYTES], box[KT_KEY_BASE64_BYTES];
    const char *path;
    kt_keys_t *k = NULL;
    kt_pubkey_t pk;
    kt_diag_t d = {""};
    int c, secret;

    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (c == 'h') {
            s_show_usage(stdout);
            return KT_EXIT_OK;
        }
        return s_usage_error(s_show_usage, "key show: unknown option");
    }
    if (argc - optind != 1)
        return s_usage_error(s_show_usage, "key show: expected one FILE");
    path = argv[optind];
    secret = !s_is_public(path);
    if (secret) {
        if (kt_keys_load(&k, path, &d) != 0) {
            kt_err("%s", d.msg);
            return KT_EXIT_ERR;
        }
        pk = *kt_keys_public(k);
        kt_keys_destroy(&k);
    } else if (kt_keys_load_public(&pk, path, &d) != 0) {
        kt_err("%s", d.msg);
        return KT_EXIT_ERR;
    }
    kt_keys_fingerprint(fp, &pk);
    kt_keys_public_base64(sign, box, &pk);
    printf("file:        %s (%s key)\n", path, secret ? "secret" : "public");
    printf("id:          %s\n", pk.id);
    printf("role:        %s\n", kt_role_name(pk.role));
    printf("fingerprint: %s\n", fp);
    printf("sign:        %s\n", sign);
    printf("box:         %s\n", box);
    if (secret)
        printf("secret:      (hidden)\n");
    return KT_EXIT_OK;
}
