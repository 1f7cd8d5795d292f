/* Replays inputs through a fuzz target without libFuzzer, so its corpus is
 * a regression test in every build (and under ASan and UBSan in the
 * sanitizer build):
 *
 *   fuzz_TARGET_replay PATH...
 *
 * Each PATH is a file, or a directory whose files are taken in name order
 * (not recursively; names starting with '.' skipped). Each file is read
 * into a buffer of exactly its size, as libFuzzer does, and passed to
 * LLVMFuzzerTestOneInput once; its name is printed first, so the input of
 * a crash is the last name printed. Exit status: 0 when every input ran; 1
 * when a path cannot be read or no input was found; a crash is the target's
 * own (abort, a sanitizer report). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Reads the whole file into *data (free it); -errno on failure. */
static int read_file(const char *path, uint8_t **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    int r = buf ? 0 : -ENOMEM;
    while (r == 0) {
        if (n == cap) {
            uint8_t *b = realloc(buf, cap *= 2);
            if (!b) {
                r = -ENOMEM;
                break;
            }
            buf = b;
        }
        n += fread(buf + n, 1, cap - n, f);
        if (ferror(f))
            r = -EIO;
        else if (feof(f))
            break;
    }
    fclose(f);
    if (r < 0) {
        free(buf);
        return r;
    }
    /* Exactly its size, so reading past the end is caught by ASan. */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) {
        free(buf);
        return -ENOMEM;
    }
    memcpy(exact, buf, n);
    free(buf);
    *data = exact;
    *size = n;
    return 0;
}

static int run_file(const char *path)
{
    uint8_t *data = NULL;
    size_t size = 0;
    int r = read_file(path, &data, &size);
    if (r < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(-r));
        return r;
    }
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, size);
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 0;
}

static int skip_hidden(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

/* Runs every regular file of dir; returns how many, or -1. */
static int run_dir(const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, skip_hidden, alphasort);
    if (n < 0) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int count = 0, status = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        if (status == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (run_file(path) < 0)
                status = -1;
            else
                count++;
        }
        free(names[i]);
    }
    free(names);
    return status < 0 ? -1 : count;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE_OR_DIRECTORY...\n", argv[0]);
        return 2;
    }
    int total = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) < 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        int n = S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(argv[i]) < 0 ? -1 : 1;
        if (n < 0)
            return 1;
        total += n;
    }
    if (total == 0) {
        fprintf(stderr, "replay: no input found\n");
        return 1;
    }
    fprintf(stderr, "replay: %d inputs, no crash\n", total);
    return 0;
}
