/* A fleet of fake units for http-test-server, written as the JSON of
 * `sbxctl status --json` and as metrics through supervisor/metrics.c. */
#include "fake_units.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "metrics.h"

typedef struct fake {
    char name[32];
    const char *instance_of, *description, *state, *health;
    int pid;
    int64_t memory, memory_peak, memory_limit;
    double cpu_share;            /* of one core, while running */
    int cpu_limit, tasks, tasks_limit, restarts, oom_kills;
    int last_exit;               /* -1: none */
} fake;

static const fake demo[] = {
    {"batch", NULL, "nightly import", "running", NULL, 4101, 52 << 20, 60 << 20, 128 << 20, 0.6, 100, 3, 32, 0, 0, -1},
    {"cache", NULL, "demo cache (a sleeper)", "running", "healthy", 4102, 184320, 262144, 16 << 20, 0.01, 0, 1, 4, 0, 0, -1},
    {"deploy", NULL, "rolls out the web tier", "starting", NULL, 4103, 2 << 20, 2 << 20, 0, 0.05, 0, 1, 0, 0, 0, -1},
    {"flaky", NULL, "demo crash loop", "backoff", NULL, 0, 208896, 524288, 0, 0, 0, 0, 0, 2, 0, 3},
    {"jail", NULL, "demo sandboxed job", "running", "unhealthy", 4105, 512000, 655360, 32 << 20, 0.09, 10, 3, 8, 0, 1, 137},
    {"web", NULL, "demo web server on 127.0.0.1:8080", "running", "healthy", 4106, 11587584, 11706368, 64 << 20, 0.3, 50, 1, 16, 0, 0, -1},
    {"worker@1", "worker", "demo worker pool", "running", NULL, 4107, 401408, 524288, 32 << 20, 0.15, 20, 2, 8, 0, 0, -1},
    {"worker@2", "worker", "demo worker pool", "running", NULL, 4108, 397312, 524288, 32 << 20, 0.18, 20, 2, 8, 1, 0, 0},
    {"worker@3", "worker", "demo worker pool", "running", NULL, 4109, 397312, 524288, 32 << 20, 0.12, 20, 2, 8, 0, 0, -1},
};

static const char *const states[] = {"inactive", "starting", "running", "stopping", "backoff", "exited", "failed"};

static fake *units;
static size_t nunits;
static uint64_t t0_ms;           /* when the fleet "started" */

static uint64_t now_ms(void) { return uv_hrtime() / 1000000; }

static void generate(unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        fake *u = &units[i];
        snprintf(u->name, sizeof u->name, "u-%05u", i);
        u->instance_of = "u";
        u->description = "generated unit";
        u->state = i % 50 == 7 ? "backoff" : "running";
        u->pid = 10000 + (int)i;
        u->memory = 1000000 + (int64_t)(i % 997) * 4096;
        u->memory_peak = u->memory + 65536;
        u->memory_limit = 64 << 20;
        u->cpu_share = (double)(i % 10) / 100;
        u->cpu_limit = 50;
        u->tasks = 1 + (int)(i % 3);
        u->tasks_limit = 16;
        u->restarts = (int)(i % 5);
        u->last_exit = i % 50 == 7 ? 1 : -1;
    }
}

int fake_units_init(unsigned n)
{
    nunits = n ? n : sizeof demo / sizeof demo[0];
    units = calloc(nunits, sizeof *units);
    if (!units)
        return -ENOMEM;
    if (n)
        generate(n);
    else
        memcpy(units, demo, sizeof demo);
    t0_ms = now_ms();
    return 0;
}

void fake_units_advance(void)
{
    for (size_t i = 0; i < nunits; i++) {
        fake *u = &units[i];
        if (strcmp(u->name, "deploy") == 0)
            u->state = "running";
        if (strcmp(u->name, "batch") == 0) {
            u->state = "failed";
            u->pid = 0;
            u->tasks = 0;
            u->memory = 0;
            u->last_exit = 2;
        }
    }
}

void fake_units_free(void)
{
    free(units);
    units = NULL;
}

static bool up(const fake *u) { return u->pid > 0; }

static int64_t cpu_us(const fake *u) { return (int64_t)((double)(now_ms() - t0_ms) * 1000 * u->cpu_share) + 4000; }

static void num_or_null(outbuf *b, const char *key, int64_t v, bool known)
{
    out_fmt(b, ",\"%s\":", key);
    if (known)
        out_i64(b, v);
    else
        out_raw(b, "null", 4);
}

static void last_json(outbuf *b, const fake *u)
{
    if (u->last_exit < 0) {
        out_str0(b, "null");
        return;
    }
    if (u->last_exit > 128)
        out_fmt(b, "{\"reason\":\"signaled\",\"exit_code\":null,\"signal\":%d", u->last_exit - 128);
    else
        out_fmt(b, "{\"reason\":\"exited\",\"exit_code\":%d,\"signal\":null", u->last_exit);
    out_fmt(b, ",\"wall_ms\":1113,\"peak_memory_bytes\":%lld}", (long long)u->memory_peak);
}

static void brief_json(outbuf *b, const fake *u)
{
    uint64_t age = now_ms() - t0_ms;
    out_fmt(b, "{\"name\":\"%s\",\"description\":\"%s\",\"state\":\"%s\"", u->name, u->description, u->state);
    num_or_null(b, "pid", u->pid, up(u));
    num_or_null(b, "uptime_ms", (int64_t)age + 3600000, up(u));
    num_or_null(b, "since_ms", (int64_t)age, true);
    num_or_null(b, "restarts", u->restarts, true);
    num_or_null(b, "memory", u->memory, true);
    num_or_null(b, "memory_peak", u->memory_peak, true);
    num_or_null(b, "memory_limit", u->memory_limit, u->memory_limit != 0);
    num_or_null(b, "cpu_usage_us", cpu_us(u), true);
    num_or_null(b, "cpu_limit_percent", u->cpu_limit, u->cpu_limit != 0);
    num_or_null(b, "tasks", u->tasks, true);
    num_or_null(b, "tasks_limit", u->tasks_limit, u->tasks_limit != 0);
    if (u->health)
        out_fmt(b, ",\"health\":\"%s\"", u->health);
    out_raw(b, ",\"last\":", 8);
    last_json(b, u);
}

int fake_units_json(void *ctx, outbuf *out)
{
    (void)ctx;
    out_str0(out, "{\"units\":[");
    for (size_t i = 0; i < nunits; i++) {
        if (i)
            out_raw(out, ",", 1);
        brief_json(out, &units[i]);
        out_raw(out, "}", 1);
    }
    out_str0(out, "]}\n");
    return 0;
}

static void detail_json(outbuf *b, const fake *u)
{
    out_str0(b, ",\"limits\":{\"memory_swap\":0,\"cpu_weight\":null,\"nofile\":1024,\"runtime_max_ms\":0,"
                "\"stop_timeout_ms\":5000,\"start_timeout_ms\":0,\"stop_signal\":15");
    num_or_null(b, "memory", u->memory_limit, u->memory_limit != 0);
    num_or_null(b, "cpu", u->cpu_limit, u->cpu_limit != 0);
    num_or_null(b, "pids", u->tasks_limit, u->tasks_limit != 0);
    out_raw(b, "}", 1);
    out_str0(b, ",\"policy\":\"on-failure\",\"enforced\":[");
    if (u->memory_limit)
        out_str0(b, "{\"limit\":\"memory\",\"by\":\"cgroup1 memory.limit_in_bytes\"},");
    if (u->cpu_limit)
        out_str0(b, "{\"limit\":\"cpu\",\"by\":\"cgroup1 cpu.cfs_quota_us\"},");
    if (u->tasks_limit)
        out_str0(b, "{\"limit\":\"pids\",\"by\":\"cgroup1 pids.max\"},");
    out_str0(b, "{\"limit\":\"nofile\",\"by\":\"rlimit RLIMIT_NOFILE\"}],\"isolation\":[\"no-new-privs\",\"net\"]");
    out_fmt(b, ",\"cgroup\":\"/sys/fs/cgroup/memory/sbxd/%s\",\"command\":[\"/usr/bin/%s\",\"--serve\"]", u->name, u->name);
    out_str0(b, ",\"runs\":[{\"reason\":\"exited\",\"exit_code\":3,\"signal\":null,\"wall_ms\":1130,"
                "\"peak_memory_bytes\":524288},{\"reason\":\"signaled\",\"exit_code\":null,\"signal\":9,"
                "\"wall_ms\":86400000,\"peak_memory_bytes\":33554432}]");
    out_fmt(b, ",\"log\":\"%s: listening\\n%s: <b>not bold</b> & \\\"quoted\\\"\\n\"", u->name, u->name);
}

int fake_unit_json(void *ctx, const char *name, outbuf *out)
{
    (void)ctx;
    for (size_t i = 0; i < nunits; i++) {
        if (strcmp(units[i].name, name) == 0) {
            brief_json(out, &units[i]);
            detail_json(out, &units[i]);
            out_str0(out, "}\n");
            return 0;
        }
    }
    return -ENOENT;
}

static void to_metrics(metrics_unit *m, const fake *u, uint64_t wall_ms)
{
    *m = (metrics_unit){
        .name = u->name, .instance_of = u->instance_of, .state = u->state, .up = up(u),
        .memory_bytes = u->memory, .memory_peak_bytes = u->memory_peak,
        .memory_limit_bytes = (uint64_t)u->memory_limit, .cpu_usage_us = cpu_us(u),
        .cpu_limit_percent = (uint32_t)u->cpu_limit, .tasks = u->tasks, .tasks_limit = (uint64_t)u->tasks_limit,
        .restarts = (uint64_t)u->restarts, .oom_kills = (uint64_t)u->oom_kills,
        .start_time_ms = up(u) ? (int64_t)wall_ms - 3600000 : -1,
        .last_exit_known = u->last_exit >= 0, .last_exit_code = u->last_exit,
        .log_bytes_written = 4096, .log_bytes_dropped = 0,
    };
}

int fake_metrics(void *ctx, outbuf *out)
{
    (void)ctx;
    metrics_unit *m = malloc(nunits * sizeof *m);
    if (!m)
        return -ENOMEM;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t wall_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    for (size_t i = 0; i < nunits; i++)
        to_metrics(&m[i], &units[i], wall_ms);
    metrics_process proc;
    metrics_input in = {m, nunits, states, sizeof states / sizeof states[0],
                        metrics_process_read(&proc) == 0 ? &proc : NULL};
    metrics_write(out, &in);
    free(m);
    return 0;
}
