/* `sbxctl top`: see sbxctl_top.h. One frame: a line of totals, a header,
 * then one line per unit, as many as the terminal holds, sorted by CPU
 * (the rate between two polls, as systemd-cgtop does) or by memory. Keys:
 * c CPU, m memory, n name, q quit. The terminal is put back however top
 * ends (q, end of input, a failure of the connection, a signal). */
#include "sbxctl_top.h"

#ifdef _WIN32
int top_run(top_fetch_fn fetch, void *ctx, unsigned interval_ms, bool color)
{
    (void)fetch, (void)ctx, (void)interval_ms, (void)color;
    return -1;  /* no console table on Windows: the plain status instead */
}
#else
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "sbx.h"

typedef enum { SORT_CPU, SORT_MEMORY, SORT_NAME } sort_key;

typedef struct row {
    const char *name, *state;
    int64_t memory, memory_limit, tasks, cpu_us, cpu_limit;
    double cpu_percent;          /* < 0: not known yet */
    const json_t *trend;
} row;

static struct termios saved;
static bool raw_mode;

static void restore(void)
{
    if (!raw_mode)
        return;
    raw_mode = false;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    fputs("\033[?25h\033[?1049l", stdout);  /* cursor back, main screen back */
    fflush(stdout);
}

static void on_signal(int sig)
{
    restore();
    signal(sig, SIG_DFL);
    raise(sig);
}

static int enter_raw(void)
{
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO) || tcgetattr(STDIN_FILENO, &saved) < 0)
        return -1;
    struct termios t = saved;
    t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) < 0)
        return -1;
    raw_mode = true;
    atexit(restore);  /* sbxctl's fail() exits: the terminal comes back too */
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    fputs("\033[?1049h\033[?25l", stdout);  /* the alternate screen, no cursor */
    return 0;
}

static int64_t num(const json_t *u, const char *key)
{
    const json_t *v = json_object_get(u, key);
    return json_is_integer(v) ? json_integer_value(v) : -1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The unit's CPU use before, by name (both lists come sorted by name). */
static int64_t previous_cpu(const row *prev, size_t nprev, size_t *at, const char *name)
{
    while (*at < nprev && strcmp(prev[*at].name, name) < 0)
        (*at)++;
    return *at < nprev && strcmp(prev[*at].name, name) == 0 ? prev[*at].cpu_us : -1;
}

static size_t fill_rows(row *rows, const json_t *units, const row *prev, size_t nprev,
                        double elapsed_s)
{
    size_t i, at = 0;
    const json_t *u;
    json_array_foreach(units, i, u) {
        row *r = &rows[i];
        r->name = json_string_value(json_object_get(u, "name"));
        r->state = json_string_value(json_object_get(u, "state"));
        if (!r->name)
            r->name = "?";
        r->memory = num(u, "memory");
        r->memory_limit = num(u, "memory_limit");
        r->tasks = num(u, "tasks");
        r->cpu_us = num(u, "cpu_usage_us");
        r->cpu_limit = num(u, "cpu_limit_percent");
        r->trend = json_object_get(json_object_get(u, "trend"), "memory");
        int64_t before = previous_cpu(prev, nprev, &at, r->name);
        r->cpu_percent = before >= 0 && r->cpu_us >= before && elapsed_s > 0
                             ? (double)(r->cpu_us - before) / 1e4 / elapsed_s
                             : -1;
    }
    return i;
}

static sort_key sorting;

static int by_key(const void *a, const void *b)
{
    const row *x = a, *y = b;
    if (sorting == SORT_CPU && x->cpu_percent != y->cpu_percent)
        return x->cpu_percent < y->cpu_percent ? 1 : -1;
    if (sorting == SORT_MEMORY && x->memory != y->memory)
        return x->memory < y->memory ? 1 : -1;
    return strcmp(x->name, y->name);
}

/* The memory trend as a line of eight-level blocks from its lowest to its
 * highest sample (a flat line is the lowest block). */
static void sparkline(char *out, size_t len, const json_t *trend, size_t width)
{
    static const char *const bars[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
    size_t n = json_array_size(trend), first = n > width ? n - width : 0;
    int64_t lo = INT64_MAX, hi = 0;
    for (size_t i = first; i < n; i++) {
        int64_t v = json_integer_value(json_array_get(trend, i));
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    out[0] = '\0';
    for (size_t i = first; i < n && strlen(out) + 4 < len; i++) {
        const json_t *v = json_array_get(trend, i);
        strcat(out, !json_is_integer(v) ? " "
                    : hi > lo ? bars[(json_integer_value(v) - lo) * 7 / (hi - lo)] : bars[0]);
    }
}

static const char *state_color(const char *state, bool color)
{
    if (!color || !state)
        return "";
    if (!strcmp(state, "running"))
        return "\033[32m";
    if (!strcmp(state, "failed"))
        return "\033[31m";
    return !strcmp(state, "backoff") || !strcmp(state, "starting") ? "\033[33m" : "";
}

static void print_totals(const row *rows, size_t n)
{
    size_t running = 0, failed = 0;
    double cpu = 0;
    int64_t mem = 0, tasks = 0;
    for (size_t i = 0; i < n; i++) {
        running += rows[i].state && !strcmp(rows[i].state, "running");
        failed += rows[i].state && !strcmp(rows[i].state, "failed");
        cpu += rows[i].cpu_percent > 0 ? rows[i].cpu_percent : 0;
        mem += rows[i].memory > 0 ? rows[i].memory : 0;
        tasks += rows[i].tasks > 0 ? rows[i].tasks : 0;
    }
    char size[32];
    printf("units %zu: %zu running, %zu failed   CPU %.1f%%   memory %s   tasks %lld\033[K\n", n,
           running, failed, cpu, sbx_format_size((uint64_t)mem, size, sizeof size),
           (long long)tasks);
    printf("sorted by %s   (c: CPU  m: memory  n: name  q: quit)\033[K\n\033[K\n",
           sorting == SORT_CPU ? "CPU" : sorting == SORT_MEMORY ? "memory" : "name");
}

static void print_row(const row *r, bool color)
{
    char cpu[32] = "-", cpumax[32] = "", mem[32] = "-", lim[32] = "", spark[128];
    if (r->cpu_percent >= 0)
        snprintf(cpu, sizeof cpu, "%.1f%%", r->cpu_percent);
    if (r->cpu_limit > 0)
        snprintf(cpumax, sizeof cpumax, "/%lld%%", (long long)r->cpu_limit);
    if (r->memory >= 0)
        sbx_format_size((uint64_t)r->memory, mem, sizeof mem);
    if (r->memory_limit > 0) {
        lim[0] = '/';
        sbx_format_size((uint64_t)r->memory_limit, lim + 1, sizeof lim - 1);
    }
    strcat(cpu, cpumax);
    strcat(mem, lim);
    sparkline(spark, sizeof spark, r->trend, 16);
    const char *c = state_color(r->state, color);
    printf("%-24.24s %s%-9.9s%s %12s %16s %6lld  %s\033[K\n", r->name, c, r->state ? r->state : "-",
           *c ? "\033[0m" : "", cpu, mem, (long long)(r->tasks >= 0 ? r->tasks : 0), spark);
}

static void draw(row *rows, size_t n, bool color)
{
    struct winsize ws = {0};
    size_t height = ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 4 ? ws.ws_row : 24;
    fputs("\033[H", stdout);
    print_totals(rows, n);
    qsort(rows, n, sizeof *rows, by_key);
    printf("%-24s %-9s %12s %16s %6s  %s\033[K\n", "UNIT", "STATE", "CPU", "MEMORY", "TASKS",
           "MEMORY TREND");
    for (size_t i = 0; i < n && i + 5 < height; i++)
        print_row(&rows[i], color);
    fputs("\033[J", stdout);  /* clear what the last frame had below */
    fflush(stdout);
}

/* Waits up to ms for a key; acts on it. false: quit. */
static bool keys(unsigned ms, bool *redraw)
{
    struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
    if (poll(&p, 1, (int)ms) <= 0)
        return true;
    char ch;
    ssize_t got = read(STDIN_FILENO, &ch, 1);
    if (got == 0)
        return false;  /* end of input */
    if (got < 0)
        return true;
    *redraw = true;
    switch (ch) {
    case 'q': case 'Q': return false;
    case 'c': case 'C': case 'p': case 'P': sorting = SORT_CPU; break;
    case 'm': case 'M': sorting = SORT_MEMORY; break;
    case 'n': case 'N': sorting = SORT_NAME; break;
    default: *redraw = false; break;
    }
    return true;
}

/* One poll: the units and their rows, in name order (as sbxd sends them). */
typedef struct frame {
    json_t *units;
    row *rows;
    size_t n;
    double at;
} frame;

static void frame_free(frame *f)
{
    json_decref(f->units);
    free(f->rows);
    *f = (frame){0};
}

/* Replaces cur by a fresh poll, its CPU rates against cur. */
static int poll_units(top_fetch_fn fetch, void *ctx, frame *cur)
{
    frame next = {.units = fetch(ctx), .at = now_s()};
    if (!json_is_array(next.units))
        return -1;
    next.rows = calloc(json_array_size(next.units) + 1, sizeof *next.rows);
    if (!next.rows) {
        json_decref(next.units);
        return -1;
    }
    next.n = fill_rows(next.rows, next.units, cur->rows, cur->n, next.at - cur->at);
    frame_free(cur);
    *cur = next;
    return 0;
}

int top_run(top_fetch_fn fetch, void *ctx, unsigned interval_ms, bool color)
{
    if (enter_raw() < 0)
        return -1;
    frame cur = {0};
    bool go = true;
    while (go) {
        if (poll_units(fetch, ctx, &cur) < 0)
            break;
        row *shown = malloc((cur.n + 1) * sizeof *shown);  /* draw sorts; cur stays by name */
        if (!shown)
            break;
        memcpy(shown, cur.rows, cur.n * sizeof *shown);
        draw(shown, cur.n, color);
        double next = now_s() + interval_ms / 1000.0;
        for (double left; go && (left = next - now_s()) > 0;) {
            bool redraw = false;
            go = keys((unsigned)(left * 1000) + 1, &redraw);
            if (redraw && go)
                draw(shown, cur.n, color);
        }
        free(shown);
    }
    frame_free(&cur);
    restore();
    return 0;
}
#endif
