/*
 * replay.c - runs a libFuzzer target over its corpus under gcc, so every
 * `make test` replays the seeds and every crash ever found.
 *
 * Usage: replay_NAME DIR|FILE...  Prints TAP: one "ok" line per input, a
 * crash aborts the run (and the runner counts the missing plan as failed).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int s_count;

static int s_run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        printf("not ok %d - %s: cannot read\n", ++s_count, path);
        if (f)
            fclose(f);
        return 1;
    }
    buf = malloc((size_t)n + 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        printf("not ok %d - %s: cannot read\n", ++s_count, path);
        free(buf);
        fclose(f);
        return 1;
    }
    fclose(f);
    fflush(stdout);
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    free(buf);
    printf("ok %d - %s\n", ++s_count, path);
    return 0;
}

static int s_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int s_run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, i;
    int fails = 0;

    if (d == NULL) {
        printf("not ok %d - %s: cannot open corpus\n", ++s_count, dir);
        return 1;
    }
    while ((e = readdir(d)) != NULL) {
        char **grown;

        if (e->d_name[0] == '.')
            continue;
        grown = realloc(names, (n + 1) * sizeof(*names));
        if (grown == NULL)
            abort();
        names = grown;
        if (asprintf(&names[n], "%s/%s", dir, e->d_name) < 0)
            abort();
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof(*names), s_cmp);
    for (i = 0; i < n; i++) {
        fails += s_run_file(names[i]);
        free(names[i]);
    }
    free(names);
    return fails;
}

int main(int argc, char **argv)
{
    int i, fails = 0;

    for (i = 1; i < argc; i++) {
        struct stat st;

        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
            fails += s_run_dir(argv[i]);
        else
            fails += s_run_file(argv[i]);
    }
    printf("1..%d\n", s_count);
    return fails ? 1 : 0;
}
