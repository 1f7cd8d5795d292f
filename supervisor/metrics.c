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

/* Every unit's labels, escaped once per scrape instead of once per
 * sample: `unit="...",instance_of="..."` back to back in one buffer. */
typedef struct unit_labels {
    outbuf text;
    size_t *end;            /* unit i's labels are text.p[end[i-1] .. end[i]) */
} unit_labels;

static int labels_make(unit_labels *l, const metrics_input *in)
{
    *l = (unit_labels){{0}, calloc(in->nunits + 1, sizeof(size_t))};
    if (!l->end)
        return -ENOMEM;
    out_grow(&l->text, in->nunits * 32);
    for (size_t i = 0; i < in->nunits; i++) {
        out_raw(&l->text, "unit=\"", 6);
        metrics_label_value(&l->text, in->units[i].name);
        if (in->units[i].instance_of) {
            out_raw(&l->text, "\",instance_of=\"", 15);
            metrics_label_value(&l->text, in->units[i].instance_of);
        }
        out_raw(&l->text, "\"", 1);
        l->end[i + 1] = l->text.len;
    }
    return l->text.failed ? -ENOMEM : 0;
}

static void labels_free(unit_labels *l)
{
    out_free(&l->text);
    free(l->end);
}

/* NAME{LABELS -- the caller closes the braces. */
static void write_labels(outbuf *out, const char *name, size_t name_len, const unit_labels *l, size_t i)
{
    size_t len = l->end[i + 1] - l->end[i];
    out_grow(out, name_len + len + 64);  /* and the value, in the same block */
    if (out->failed)
        return;
    char *p = out->p + out->len;
    memcpy(p, name, name_len);
    p[name_len] = '{';
    memcpy(p + name_len + 1, l->text.p + l->end[i], len);
    out->len += name_len + 1 + len;
}

static void write_family(outbuf *out, const family *f, const metrics_input *in, const unit_labels *l)
{
    write_header(out, f->name, f->type, f->help);
    size_t name_len = strlen(f->name);
    for (size_t i = 0; i < in->nunits; i++) {
        int64_t v;
        if (!f->get(&in->units[i], &v))
            continue;
        write_labels(out, f->name, name_len, l, i);
        out_raw(out, "} ", 2);
        out_fixed(out, v, f->decimals);
        out_raw(out, "\n", 1);
    }
}

/* One sample per unit and state, 1 for the state it is in (the usual
 * shape of an enumeration, so `sbx_unit_state{state="failed"} == 1`
 * selects the failed units). */
static void write_states(outbuf *out, const metrics_input *in, const unit_labels *l)
{
    static const char name[] = "sbx_unit_state";
    write_header(out, name, "gauge", "The unit's state: 1 for the state it is in, else 0.");
    outbuf states = {0};  /* ,state="NAME"} once per state, escaped */
    size_t *end = calloc(in->nstates + 1, sizeof *end);
    for (size_t s = 0; end && s < in->nstates; s++) {
        out_raw(&states, ",state=\"", 8);
        metrics_label_value(&states, in->states[s]);
        out_raw(&states, "\"} ", 3);
        end[s + 1] = states.len;
    }
    if (!end || states.failed)
        out->failed = true;
    for (size_t i = 0; i < in->nunits && !out->failed; i++) {
        const char *current = in->units[i].state ? in->units[i].state : "";
        for (size_t s = 0; s < in->nstates; s++) {
            write_labels(out, name, sizeof name - 1, l, i);
            out_raw(out, states.p + end[s], end[s + 1] - end[s]);
            out_raw(out, strcmp(current, in->states[s]) == 0 ? "1\n" : "0\n", 2);
        }
    }
    out_free(&states);
    free(end);
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
    unit_labels labels;
    if (labels_make(&labels, in)) {
        labels_free(&labels);
        out->failed = true;
        return;
    }
    /* About 1.2 KB per unit: one growth step instead of a dozen. */
    out_grow(out, 1024 + in->nunits * (1024 + 64 * in->nstates));
    write_family(out, &unit_families[0], in, &labels);
    write_states(out, in, &labels);
    for (size_t f = 1; f < sizeof unit_families / sizeof unit_families[0]; f++)
        write_family(out, &unit_families[f], in, &labels);
    if (in->process)
        write_process(out, in->process);
    labels_free(&labels);
}
