/* The Prometheus text exposition writer (metrics.h). */
#include "metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- one family per unit figure ----
 * A getter answers whether the unit has the figure and its value, as an
 * integer scaled by 10^decimals (so no floating point in the hot path). */

typedef bool (*unit_figure)(const metrics_unit *u, int64_t *v);

typedef struct family {
    const char *name, *type, *help;
    unit_figure get;
    unsigned decimals;
} family;

static bool get_up(const metrics_unit *u, int64_t *v) { *v = u->up; return true; }

static bool known(int64_t x, int64_t *v)
{
    *v = x;
    return x >= 0;
}

static bool limit(uint64_t x, int64_t *v)
{
    *v = x > INT64_MAX ? INT64_MAX : (int64_t)x;
    return x != 0;
}

static bool count(uint64_t x, int64_t *v)
{
    *v = x > INT64_MAX ? INT64_MAX : (int64_t)x;
    return true;
}

static bool get_memory(const metrics_unit *u, int64_t *v) { return known(u->memory_bytes, v); }
static bool get_memory_peak(const metrics_unit *u, int64_t *v) { return known(u->memory_peak_bytes, v); }
static bool get_memory_limit(const metrics_unit *u, int64_t *v) { return limit(u->memory_limit_bytes, v); }
static bool get_cpu(const metrics_unit *u, int64_t *v) { return known(u->cpu_usage_us, v); }
static bool get_cpu_limit(const metrics_unit *u, int64_t *v) { return limit(u->cpu_limit_percent, v); }
static bool get_tasks(const metrics_unit *u, int64_t *v) { return known(u->tasks, v); }
static bool get_tasks_limit(const metrics_unit *u, int64_t *v) { return limit(u->tasks_limit, v); }
static bool get_restarts(const metrics_unit *u, int64_t *v) { return count(u->restarts, v); }
static bool get_ooms(const metrics_unit *u, int64_t *v) { return count(u->oom_kills, v); }
static bool get_start(const metrics_unit *u, int64_t *v) { return known(u->start_time_ms, v); }
static bool get_log_written(const metrics_unit *u, int64_t *v) { return count(u->log_bytes_written, v); }
static bool get_log_dropped(const metrics_unit *u, int64_t *v) { return count(u->log_bytes_dropped, v); }

static bool get_exit(const metrics_unit *u, int64_t *v)
{
    *v = u->last_exit_code;
    return u->last_exit_known;
}

static const family unit_families[] = {
    {"sbx_unit_up", "gauge", "Whether the unit's process runs (1) or not (0).", get_up, 0},
    {"sbx_unit_memory_bytes", "gauge", "Memory the unit's cgroup uses now.", get_memory, 0},
    {"sbx_unit_memory_peak_bytes", "gauge", "The most memory the unit's cgroup has used.", get_memory_peak, 0},
    {"sbx_unit_memory_limit_bytes", "gauge", "The unit's memory limit (absent: none).", get_memory_limit, 0},
    {"sbx_unit_cpu_seconds_total", "counter", "CPU time (user and system) the unit has used.", get_cpu, 6},
    {"sbx_unit_cpu_limit_cores", "gauge", "The unit's CPU quota in cores (absent: none).", get_cpu_limit, 2},
    {"sbx_unit_tasks", "gauge", "Processes and threads in the unit now.", get_tasks, 0},
    {"sbx_unit_tasks_limit", "gauge", "The unit's limit on tasks (absent: none).", get_tasks_limit, 0},
    {"sbx_unit_restarts_total", "counter", "Times sbxd has restarted the unit.", get_restarts, 0},
    {"sbx_unit_oom_kills_total", "counter", "Processes of the unit the kernel killed for memory.", get_ooms, 0},
    {"sbx_unit_start_time_seconds", "gauge", "When the unit's current run started, Unix time.", get_start, 3},
    {"sbx_unit_last_exit_code", "gauge", "The last run's exit code, or 128 + N when signal N ended it.", get_exit, 0},
    {"sbx_unit_log_written_bytes_total", "counter", "Bytes of the unit's output sbxd has kept.", get_log_written, 0},
    {"sbx_unit_log_dropped_bytes_total", "counter", "Bytes of the unit's output sbxd had to drop.", get_log_dropped, 0},
};

/* ---- writing ---- */

void metrics_label_value(outbuf *out, const char *text)
{
    const char *run = text;
    for (const char *p = text; *p; p++) {
        const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
        if (!esc)
            continue;
        out_raw(out, run, (size_t)(p - run));
        out_raw(out, esc, 2);
        run = p + 1;
    }
    out_str0(out, run);
}

static void write_header(outbuf *out, const char *name, const char *type, const char *help)
{
    out_raw(out, "# HELP ", 7);
    out_str0(out, name);
    out_raw(out, " ", 1);
    out_str0(out, help);
    out_raw(out, "\n# TYPE ", 8);
    out_str0(out, name);
    out_raw(out, " ", 1);
    out_str0(out, type);
    out_raw(out, "\n", 1);
}

/* NAME{unit="...",instance_of="..." -- the caller closes the braces. */
static void write_labels(outbuf *out, const char *name, const metrics_unit *u)
{
    out_str0(out, name);
    out_raw(out, "{unit=\"", 7);
    metrics_label_value(out, u->name);
    if (u->instance_of) {
        out_raw(out, "\",instance_of=\"", 15);
        metrics_label_value(out, u->instance_of);
    }
    out_raw(out, "\"", 1);
}

static void write_family(outbuf *out, const family *f, const metrics_input *in)
{
    write_header(out, f->name, f->type, f->help);
    for (size_t i = 0; i < in->nunits; i++) {
        int64_t v;
        if (!f->get(&in->units[i], &v))
            continue;
        write_labels(out, f->name, &in->units[i]);
        out_raw(out, "} ", 2);
        out_fixed(out, v, f->decimals);
        out_raw(out, "\n", 1);
    }
}

/* One sample per unit and state, 1 for the state it is in (the usual
 * shape of an enumeration, so `sbx_unit_state{state="failed"} == 1`
 * selects the failed units). */
static void write_states(outbuf *out, const metrics_input *in)
{
    write_header(out, "sbx_unit_state", "gauge", "The unit's state: 1 for the state it is in, else 0.");
    for (size_t i = 0; i < in->nunits; i++) {
        const metrics_unit *u = &in->units[i];
        for (size_t s = 0; s < in->nstates; s++) {
            write_labels(out, "sbx_unit_state", u);
            out_raw(out, ",state=\"", 8);
            metrics_label_value(out, in->states[s]);
            bool current = u->state && strcmp(u->state, in->states[s]) == 0;
            out_raw(out, current ? "\"} 1\n" : "\"} 0\n", 5);
        }
    }
}

static void write_process(outbuf *out, const metrics_process *p)
{
    write_header(out, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
    out_fmt(out, "process_cpu_seconds_total %.2f\n", p->cpu_seconds);
    write_header(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    out_fmt(out, "process_resident_memory_bytes %llu\n", (unsigned long long)p->resident_bytes);
    write_header(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
    out_fmt(out, "process_virtual_memory_bytes %llu\n", (unsigned long long)p->virtual_bytes);
    write_header(out, "process_open_fds", "gauge", "Number of open file descriptors.");
    out_fmt(out, "process_open_fds %llu\n", (unsigned long long)p->open_fds);
    write_header(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
    out_fmt(out, "process_max_fds %llu\n", (unsigned long long)p->max_fds);
    write_header(out, "process_start_time_seconds", "gauge",
                 "Start time of the process since unix epoch in seconds.");
    out_fmt(out, "process_start_time_seconds %.2f\n", p->start_time_seconds);
}

void metrics_write(outbuf *out, const metrics_input *in)
{
    /* About 1.5 KB per unit: one growth step instead of a dozen. */
    out_grow(out, 1024 + in->nunits * (1536 + 64 * in->nstates));
    write_family(out, &unit_families[0], in);
    write_states(out, in);
    for (size_t f = 1; f < sizeof unit_families / sizeof unit_families[0]; f++)
        write_family(out, &unit_families[f], in);
    if (in->process)
        write_process(out, in->process);
}
