/* spawn-libsbx: libsbx's own cost of one sandboxed spawn, in process.
 *
 *   spawn-libsbx [-a] [-w] [-g MS] [--no-limits] [--backend NAME] N
 *
 * Opens the best backend (or NAME) once, then N times: sbx_box_create with
 * memory 64M, cpu 50%, pids 32 (as `sbx-run -m 64M -c 50% -p 32`; none
 * with --no-limits), sbx_spawn of /bin/true (stdio inherited), waitpid,
 * sbx_box_destroy, sbx_box_free. Each iteration is timed from before the
 * create to after the free, so it compares with `spawn-floor v1|v2` and
 * `spawn-floor bare` measured the same way. Output: one line
 * "libsbx BACKEND n=N median_us=... min_us=... max_us=..." or, with -a,
 * every iteration's microseconds, one per line (the backend name goes to
 * stderr). -g MS sleeps MS milliseconds before each iteration, untimed
 * (see spawn-floor.c). -w runs one untimed warm-up iteration first. Exit 0,
 * or 1 with a message. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sbx.h"

extern char **environ;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static _Noreturn void usage(void)
{
    fputs("usage: spawn-libsbx [-a] [-w] [-g MS] [--no-limits] [--backend NAME] N\n", stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    int all = 0, limited = 1, warm = 0;
    long gap_ms = 0;
    const char *backend = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-a") == 0)
            all = 1;
        else if (strcmp(argv[i], "-w") == 0)
            warm = 1;
        else if (strcmp(argv[i], "-g") == 0 && i + 1 < argc)
            gap_ms = atol(argv[++i]);
        else if (strcmp(argv[i], "--no-limits") == 0)
            limited = 0;
        else if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc)
            backend = argv[++i];
        else
            usage();
    }
    if (argc - i != 1)
        usage();
    char *end;
    unsigned long n = strtoul(argv[i], &end, 10);
    if (*end || n == 0 || n > 10000000)
        usage();

    sbx_error e = {0};
    sbx_backend *be = NULL;
    sbx_backend_options bo = {.name = backend};
    if (sbx_backend_open(&bo, &be, &e) < 0) {
        fprintf(stderr, "spawn-libsbx: %s\n", e.msg);
        return 1;
    }
    sbx_limits lim;
    sbx_limits_init(&lim);
    if (limited) {
        lim.memory = 64u << 20;
        lim.cpu_percent = 50;
        lim.pids = 32;
    }
    char *args[] = {"/bin/true", NULL};
    sbx_command cmd = {.argv = args, .envp = environ};
    int64_t *us = calloc(n, sizeof *us);
    if (!us)
        return 1;
    /* With -w, iteration 0 is an untimed warm-up (page faults, caches). */
    for (unsigned long k = warm ? 0 : 1; k <= n; k++) {
        char name[64];
        snprintf(name, sizeof name, "spawn-libsbx-%ld-%lu", (long)getpid(), k);
        if (gap_ms > 0) {
            struct timespec ts = {gap_ms / 1000, (gap_ms % 1000) * 1000000};
            while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
        }
        int64_t t0 = now_ns();
        sbx_box *box = NULL;
        sbx_process proc;
        if (sbx_box_create(be, name, &lim, 0, &box, &e) < 0 ||
            sbx_spawn(box, &cmd, &proc, &e) < 0) {
            fprintf(stderr, "spawn-libsbx: %s\n", e.msg);
            if (box) {
                sbx_box_destroy(box, NULL);
                sbx_box_free(box);
            }
            return 1;
        }
        int st;
        while (waitpid(proc.pid, &st, 0) < 0 && errno == EINTR)
            ;
        int r;
        while ((r = sbx_box_destroy(box, &e)) == -EBUSY)
            ;
        if (r < 0) {
            fprintf(stderr, "spawn-libsbx: %s\n", e.msg);
            return 1;
        }
        sbx_box_free(box);
        if (k > 0)
            us[k - 1] = (now_ns() - t0 + 500) / 1000;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "spawn-libsbx: /bin/true did not exit 0 (status %#x)\n", st);
            return 1;
        }
    }
    const char *bname = sbx_backend_name(be);
    if (all) {
        fprintf(stderr, "spawn-libsbx: backend %s\n", bname);
        for (unsigned long k = 0; k < n; k++)
            printf("%lld\n", (long long)us[k]);
    } else {
        qsort(us, n, sizeof *us, cmp_i64);
        int64_t med = n % 2 ? us[n / 2] : (us[n / 2 - 1] + us[n / 2]) / 2;
        printf("libsbx %s n=%lu median_us=%lld min_us=%lld max_us=%lld\n", bname, n,
               (long long)med, (long long)us[0], (long long)us[n - 1]);
    }
    free(us);
    sbx_backend_close(be);
    return 0;
}
