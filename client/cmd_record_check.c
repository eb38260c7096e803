/*
 * cmd_record_check.c - `ketenctl record check [--cbor] FILE|-`: validate JSON
 * records (docs/records.md) and report each one's canonical size, and with
 * --cbor its canonical CBOR as hex.
 *
 * Works offline, without a daemon. Prints record contents only where the
 * user asked for them (--cbor); errors name the file, line, record and
 * field, never a value.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ketenctl.h"

struct s_check {
    int cbor;
    size_t count;
    kt_diag_t *d;
};

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: %s record check [--cbor] FILE|-\n\n"
            "Validates every record in FILE (one JSON object, or JSON Lines; - for standard\n"
            "input) and prints its canonical size. --cbor also prints the canonical CBOR\n"
            "encoding as hex. See docs/records.md for the format.\n",
            kt_progname);
}

static void s_print_hex(const uint8_t *buf, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        printf("%02x", buf[i]);
    putchar('\n');
}

static int s_on_record(void *ctx, size_t recno, kt_record_t **rec)
{
    struct s_check *c = ctx;
    uint8_t *enc = NULL;
    size_t len = 0;
    int rc = kt_record_encode(*rec, &enc, &len, c->d);

    if (rc < 0) {
        kt_diag_prefix(c->d, "record %zu", recno);
        return rc;
    }
    printf("record %zu: ok %s (%zu fields, %zu bytes canonical)\n", recno, kt_record_type(*rec),
           kt_record_nfields(*rec), len);
    if (c->cbor)
        s_print_hex(enc, len);
    kt_record_free_bytes(enc, len);
    kt_record_destroy(rec);
    c->count++;
    return 0;
}

static int s_check_file(const char *path, int cbor)
{
    kt_diag_t d = {""};
    struct s_check c = {.cbor = cbor, .d = &d};
    int is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "<stdin>" : path;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    int rc;

    if (f == NULL) {
        kt_err("cannot open %s: %s", path, strerror(errno));
        return KT_EXIT_ERR;
    }
    rc = kt_json_read_records(f, name, s_on_record, &c, &d);
    if (!is_stdin)
        fclose(f);
    if (rc == 0 && c.count == 0) {
        kt_err("%s: no records", name);
        return KT_EXIT_ERR;
    }
    if (rc != 0) {
        kt_err("%s", d.msg);
        return KT_EXIT_ERR;
    }
    if (fflush(stdout) != 0) {
        kt_err("cannot write to standard output: %s", strerror(errno));
        return KT_EXIT_ERR;
    }
    return KT_EXIT_OK;
}

int cmd_record_check(int argc, char **argv)
{
    const char *path = NULL;
    int cbor = 0, i, opts = 1;

    for (i = 1; i < argc; i++) {
        if (opts && (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)) {
            s_usage(stdout);
            return KT_EXIT_OK;
        } else if (opts && strcmp(argv[i], "--cbor") == 0) {
            cbor = 1;
        } else if (opts && strcmp(argv[i], "--") == 0) {
            opts = 0;
        } else if (opts && argv[i][0] == '-' && argv[i][1] != '\0') {
            kt_err("record check: unknown option '%s'", argv[i]);
            s_usage(stderr);
            return KT_EXIT_USAGE;
        } else if (path == NULL) {
            path = argv[i];
        } else {
            kt_err("record check: expects one FILE");
            s_usage(stderr);
            return KT_EXIT_USAGE;
        }
    }
    if (path == NULL) {
        s_usage(stderr);
        return KT_EXIT_USAGE;
    }
    return s_check_file(path, cbor);
}
