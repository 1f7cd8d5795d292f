/* The Prometheus text exposition (format 0.0.4) of sbx's units and of
 * sbxd's own process: a pure writer. The caller fills one metrics_unit
 * per unit from whatever it keeps (the manager, a test's fixed table);
 * this module knows nothing of services, cgroups or sockets, and writes
 * straight into an outbuf (no JSON library, no per-sample allocation):
 * 10,000 units take a few milliseconds.
 *
 * Every family gets HELP and TYPE lines and its samples together, as the
 * format requires; each sample of a unit carries unit="NAME" and, for a
 * fleet member, instance_of="TEMPLATE". A figure that is unknown (-1) or
 * a limit that is not set (0) is left out rather than written as 0, so a
 * dashboard can tell "no limit" from "limit 0". */
#ifndef SBX_METRICS_H
#define SBX_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outbuf.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct metrics_unit {
    const char *name;
    const char *instance_of;       /* the template of a fleet member, else NULL */
    const char *state;             /* one of metrics_input.states */
    bool up;                       /* its process runs (running, stopping) */
    int64_t memory_bytes;          /* -1: unknown */
    int64_t memory_peak_bytes;     /* -1: unknown */
    uint64_t memory_limit_bytes;   /* 0: no limit */
    int64_t cpu_usage_us;          /* user + system; -1: unknown */
    uint32_t cpu_limit_percent;    /* 150 = 1.5 cores; 0: no limit */
    int64_t tasks;                 /* -1: unknown */
    uint64_t tasks_limit;          /* 0: no limit */
    uint64_t restarts;
    uint64_t oom_kills;
    int64_t start_time_ms;         /* the current run's start, Unix ms; -1: not running */
    bool last_exit_known;          /* it has ended at least once */
    int last_exit_code;            /* its exit code, or 128 + N when killed by signal N */
    uint64_t log_bytes_written;
    uint64_t log_bytes_dropped;
} metrics_unit;

/* sbxd's own figures, the standard process_* family. */
typedef struct metrics_process {
    double cpu_seconds;            /* user + system */
    uint64_t resident_bytes;
    uint64_t virtual_bytes;
    uint64_t open_fds;
    uint64_t max_fds;              /* the soft RLIMIT_NOFILE */
    double start_time_seconds;     /* Unix time */
} metrics_process;

typedef struct metrics_input {
    const metrics_unit *units;
    size_t nunits;
    const char *const *states;     /* every state name, for sbx_unit_state */
    size_t nstates;
    const metrics_process *process; /* NULL: no process_* families */
} metrics_input;

/* Appends the exposition of `in` to out (check out->failed). */
void metrics_write(outbuf *out, const metrics_input *in);

/* Appends text as a label value: backslash, double quote and newline
 * escaped as the exposition format says. */
void metrics_label_value(outbuf *out, const char *text);

/* Fills p from the texts of /proc/self/stat and /proc/stat (btime), the
 * clock tick and page size: the parser, apart from the files. Returns 0 or
 * -EINVAL when a text does not parse. open_fds and max_fds are left. */
int metrics_process_parse(metrics_process *p, const char *self_stat, const char *proc_stat,
                          long ticks_per_second, long page_size);

/* Reads this process's figures from /proc (Linux). 0 or a negative errno. */
int metrics_process_read(metrics_process *p);

#endif
