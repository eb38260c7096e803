/*
 * cmd_record.c - `ketenctl record sign|verify|seal|open`: the envelope
 * (docs/protocol.md) from the command line, without a daemon.
 *
 * Owns argument handling, file I/O and the human summary of a signed record.
 * Must never print a record's field values (the summary names the signer,
 * times, ids and the record type only), never write binary to a terminal,
 * and never create an output file before the keys and input checked out.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "keten/envelope.h"
#include "keten/keys.h"
#include "keten/record.h"
#include "ketenctl.h"

enum { OPT_KEY = 'k', OPT_TO = 't', OPT_FROM = 'f', OPT_PUB = 'p', OPT_OUT = 'o', OPT_HELP = 'h' };

struct s_args {
    const char *key, *to, *from, *pub, *out, *input;
};

static const char *const s_usages[] = {
    "sign --key NODE.key --to NODE_ID [--out FILE] FILE|-\n\n"
    "Validates exactly one JSON record, encodes it canonically and signs it for\n"
    "node NODE_ID with a fresh record id and the current time. Writes the signed\n"
    "record to --out or to standard output, which must not be a terminal.\n",
    "verify --pub SIGNER.pub SIGNED\n\n"
    "Checks a signed record against the signer's public key and prints the signer,\n"
    "creation time, record id, kind, recipient and record type.\n",
    "seal --key SENDER.key --to RECIPIENT.pub [--out FILE] SIGNED\n\n"
    "Seals a signed record to the recipient. The record must be signed by SENDER and\n"
    "addressed to RECIPIENT. Writes the envelope to --out or to standard output,\n"
    "which must not be a terminal.\n",
    "open --key RECIPIENT.key --from SENDER.pub [--out FILE] ENVELOPE\n\n"
    "Opens an envelope, checks that SENDER signed the record inside and that it is\n"
    "addressed to RECIPIENT, and prints the same summary as verify. --out writes the\n"
    "signed record, which anyone can verify again later.\n",
};
enum { U_SIGN, U_VERIFY, U_SEAL, U_OPEN };

/* Parses the options this command allows (`allowed`: letters of OPT_*). */
static int s_parse(int argc, char **argv, const char *allowed, int usage, struct s_args *a)
{
    static const struct option opts[] = {{"key", required_argument, NULL, OPT_KEY},
                                         {"to", required_argument, NULL, OPT_TO},
                                         {"from", required_argument, NULL, OPT_FROM},
                                         {"pub", required_argument, NULL, OPT_PUB},
                                         {"out", required_argument, NULL, OPT_OUT},
                                         {"help", no_argument, NULL, OPT_HELP},
                                         {NULL, 0, NULL, 0}};
    int c;

    memset(a, 0, sizeof(*a));
    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == OPT_HELP) {
            printf("usage: %s record %s", kt_progname, s_usages[usage]);
            return KT_EXIT_OK;
        }
        if (c == '?' || c == ':' || strchr(allowed, c) == NULL) {
            kt_err("record %s: unknown option or missing value", argv[0]);
            goto usage;
        }
        *(c == OPT_KEY    ? &a->key
          : c == OPT_TO   ? &a->to
          : c == OPT_FROM ? &a->from
          : c == OPT_PUB  ? &a->pub
                          : &a->out) = optarg;
    }
    if (argc - optind != 1) {
        kt_err("record %s: expected one input file", argv[0]);
        goto usage;
    }
    a->input = argv[optind];
    if ((strchr(allowed, OPT_KEY) && a->key == NULL) || (strchr(allowed, OPT_TO) && !a->to) ||
        (strchr(allowed, OPT_FROM) && !a->from) || (strchr(allowed, OPT_PUB) && !a->pub)) {
        kt_err("record %s: a required option is missing", argv[0]);
        goto usage;
    }
    return -1; /* go on */
usage:
    fprintf(stderr, "usage: %s record %s", kt_progname, s_usages[usage]);
    return KT_EXIT_USAGE;
}

/* Binary goes to --out, or to a stdout that is not a terminal. */
static int s_binary_ok(const struct s_args *a)
{
    if (a->out == NULL && isatty(STDOUT_FILENO)) {
        kt_err("refusing to write binary to a terminal; use --out FILE or a pipe");
        return 0;
    }
    return 1;
}

/* Reads a whole file (or stdin for "-") of at most max bytes. */
static int s_read_file(const char *path, size_t max, uint8_t **out, size_t *len)
{
    int is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    uint8_t *buf;
    size_t n;

    *out = NULL;
    *len = 0;
    if (f == NULL) {
        kt_err("cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if ((buf = malloc(max + 1)) == NULL) {
        kt_err("out of memory");
        goto fail;
    }
    n = fread(buf, 1, max + 1, f);
    if (ferror(f)) {
        kt_err("cannot read %s: %s", path, strerror(errno));
        goto fail;
    }
    if (n > max) {
        kt_err("%s: larger than %zu bytes; not a keten envelope or signed record", path, max);
        goto fail;
    }
    if (!is_stdin)
        fclose(f);
    *out = buf;
    *len = n;
    return 0;
fail:
    if (buf)
        kt_envelope_free(buf, max + 1);
    if (!is_stdin)
        fclose(f);
    return -1;
}

static int s_write_out(const char *path, const uint8_t *buf, size_t len)
{
    int fd = path ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : STDOUT_FILENO;
    size_t done = 0;

    if (fd < 0) {
        kt_err("cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    while (done < len) {
        ssize_t w = write(fd, buf + done, len - done);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            kt_err("cannot write %s: %s", path ? path : "standard output", strerror(errno));
            if (path) {
                close(fd);
                unlink(path);
            }
            return -1;
        }
        done += (size_t)w;
    }
    if (path && (fsync(fd) != 0 || close(fd) != 0)) {
        kt_err("cannot write %s: %s", path, strerror(errno));
        unlink(path);
        return -1;
    }
    return 0;
}

/* The summary of a verified payload: no field values, only what identifies it. */
static int s_print_summary(const char *name, const kt_payload_t *pl, const kt_pubkey_t *signer)
{
    char fp[KT_FINGERPRINT_HEX], when[32] = "?";
    kt_record_t *rec = NULL;
    kt_diag_t d = {""};
    time_t t = (time_t)pl->created;
    struct tm tm;
    size_t i;

    if (pl->kind == KT_KIND_RECORD && kt_record_decode(&rec, pl->body, pl->body_len, &d) != 0) {
        kt_err("%s: signed correctly, but the body is not a valid record: %s", name, d.msg);
        return KT_EXIT_ERR;
    }
    kt_keys_fingerprint(fp, signer);
    if (gmtime_r(&t, &tm) != NULL)
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("signer: %s (%s)\n", signer->id, fp);
    printf("created: %s\n", when);
    printf("id: ");
    for (i = 0; i < sizeof(pl->id); i++)
        printf("%02x", pl->id[i]);
    printf("\nkind: %s\n", kt_kind_name(pl->kind));
    printf("to: %s\n", pl->to);
    if (rec != NULL)
        printf("type: %s\n", kt_record_type(rec));
    kt_record_destroy(&rec);
    return KT_EXIT_OK;
}

struct s_one {
    kt_record_t *rec;
    size_t count;
    kt_diag_t *d;
    const char *name;
};

static int s_take_one(void *ctx, size_t recno, kt_record_t **rec)
{
    struct s_one *o = ctx;

    (void)recno;
    if (++o->count > 1) {
        kt_record_destroy(rec);
        return kt_diag_set(o->d, KT_EINVAL,
                           "%s: holds more than one record; record sign takes exactly one",
                           o->name);
    }
    o->rec = *rec;
    *rec = NULL;
    return 0;
}

int cmd_record_sign(int argc, char **argv)
{
    struct s_args a;
    struct s_one one = {0};
    uint8_t id[KT_ENVELOPE_ID_BYTES], *body = NULL, *sig = NULL;
    size_t blen = 0, slen = 0;
    kt_keys_t *k = NULL;
    kt_diag_t d = {""};
    FILE *f = NULL;
    int rc = s_parse(argc, argv, "kto", U_SIGN, &a);

    if (rc >= 0)
        return rc;
    rc = KT_EXIT_ERR;
    if (!kt_keys_valid_id(a.to)) {
        kt_err("--to: a node id must match [a-z0-9-]{1,64}");
        return KT_EXIT_USAGE;
    }
    if (!s_binary_ok(&a))
        return KT_EXIT_ERR;
    if (kt_keys_load(&k, a.key, &d) != 0) {
        kt_err("%s", d.msg);
        return KT_EXIT_ERR;
    }
    one.d = &d;
    one.name = strcmp(a.input, "-") == 0 ? "<stdin>" : a.input;
    f = strcmp(a.input, "-") == 0 ? stdin : fopen(a.input, "rb");
    if (f == NULL) {
        kt_err("cannot open %s: %s", a.input, strerror(errno));
        goto out;
    }
    if (kt_json_read_records(f, one.name, s_take_one, &one, &d) != 0) {
        kt_err("%s", d.msg);
        goto out;
    }
    if (one.rec == NULL) {
        kt_err("%s: no record", one.name);
        goto out;
    }
    if (kt_record_encode(one.rec, &body, &blen, &d) != 0) {
        kt_err("%s: %s", one.name, d.msg);
        goto out;
    }
    kt_envelope_new_id(id);
    if (kt_envelope_sign(&sig, &slen, KT_KIND_RECORD, id, (uint64_t)time(NULL), a.to, body, blen, k,
                         &d) != 0) {
        kt_err("%s: %s", one.name, d.msg);
        goto out;
    }
    if (s_write_out(a.out, sig, slen) == 0)
        rc = KT_EXIT_OK;
out:
    if (f != NULL && f != stdin)
        fclose(f);
    kt_record_destroy(&one.rec);
    kt_record_free_bytes(body, blen);
    kt_envelope_free(sig, slen);
    kt_keys_destroy(&k);
    return rc;
}

int cmd_record_verify(int argc, char **argv)
{
    struct s_args a;
    kt_pubkey_t signer;
    kt_payload_t pl;
    kt_diag_t d = {""};
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = s_parse(argc, argv, "p", U_VERIFY, &a);

    if (rc >= 0)
        return rc;
    if (kt_keys_load_public(&signer, a.pub, &d) != 0) {
        kt_err("%s", d.msg);
        return KT_EXIT_ERR;
    }
    if (s_read_file(a.input, KT_ENVELOPE_MAX_BYTES, &buf, &len) != 0)
        return KT_EXIT_ERR;
    if (kt_envelope_verify(&pl, buf, len, &signer, &d) != 0) {
        kt_err("%s: %s", a.input, d.msg);
        rc = KT_EXIT_ERR;
    } else {
        rc = s_print_summary(a.input, &pl, &signer);
    }
    kt_envelope_free(buf, len);
    return rc;
}

int cmd_record_seal(int argc, char **argv)
{
    struct s_args a;
    kt_pubkey_t them;
    kt_keys_t *k = NULL;
    kt_envelope_peer_t *peer = NULL;
    kt_diag_t d = {""};
    uint8_t *buf = NULL, *env = NULL;
    size_t len = 0, elen = 0;
    int rc = s_parse(argc, argv, "kto", U_SEAL, &a);

    if (rc >= 0)
        return rc;
    rc = KT_EXIT_ERR;
    if (!s_binary_ok(&a))
        return KT_EXIT_ERR;
    if (kt_keys_load(&k, a.key, &d) != 0 || kt_keys_load_public(&them, a.to, &d) != 0 ||
        kt_envelope_peer_new(&peer, k, &them, &d) != 0) {
        kt_err("%s", d.msg);
        goto out;
    }
    if (s_read_file(a.input, KT_ENVELOPE_MAX_BYTES, &buf, &len) != 0)
        goto out;
    if (kt_envelope_seal(&env, &elen, buf, len, peer, &d) != 0) {
        kt_err("%s: %s", a.input, d.msg);
        goto out;
    }
    if (s_write_out(a.out, env, elen) == 0)
        rc = KT_EXIT_OK;
out:
    free(env);
    kt_envelope_free(buf, len);
    kt_envelope_peer_destroy(&peer);
    kt_keys_destroy(&k);
    return rc;
}

int cmd_record_open(int argc, char **argv)
{
    struct s_args a;
    kt_pubkey_t them;
    kt_keys_t *k = NULL;
    kt_envelope_peer_t *peer = NULL;
    kt_payload_t pl;
    kt_diag_t d = {""};
    uint8_t *env = NULL, *sig = NULL;
    size_t elen = 0, slen = 0;
    int rc = s_parse(argc, argv, "kfo", U_OPEN, &a);

    if (rc >= 0)
        return rc;
    rc = KT_EXIT_ERR;
    if (kt_keys_load(&k, a.key, &d) != 0 || kt_keys_load_public(&them, a.from, &d) != 0 ||
        kt_envelope_peer_new(&peer, k, &them, &d) != 0) {
        kt_err("%s", d.msg);
        goto out;
    }
    if (s_read_file(a.input, KT_ENVELOPE_MAX_BYTES + 1, &env, &elen) != 0)
        goto out;
    if (kt_envelope_open(&sig, &slen, &pl, env, elen, peer, &d) != 0) {
        kt_err("%s: %s", a.input, d.msg);
        goto out;
    }
    if (s_print_summary(a.input, &pl, &them) != KT_EXIT_OK)
        goto out;
    if (a.out == NULL || s_write_out(a.out, sig, slen) == 0)
        rc = KT_EXIT_OK;
out:
    kt_envelope_free(sig, slen);
    free(env);
    kt_envelope_peer_destroy(&peer);
    kt_keys_destroy(&k);
    return rc;
}
