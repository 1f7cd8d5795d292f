/* The unit status encoder: see status.h. Everything is written straight
 * into one buffer: the status of 10,000 units as a jansson tree took most
 * of the time of the answer. */
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "result.h"
#include "sampler.h"
#include "status.h"

static json_t *figure(int64_t v)
{
    return v < 0 ? json_null() : json_integer(v);
}

/* What is kept of one past run. */
static json_t *run_summary_to_json(const run_summary *r)
{
    return json_pack("{s:s, s:o, s:o, s:I, s:o}", "reason", run_reason_name((run_reason)r->reason),
                     "exit_code", r->reason == RUN_EXITED ? json_integer(r->exit_code) : json_null(),
                     "signal", r->signal ? json_integer(r->signal) : json_null(),
                     "wall_ms", (json_int_t)r->wall_ms, "peak_memory_bytes", figure(r->peak_memory));
}

/* What the brief form and the table row both show, gathered once. */
typedef struct {
    sbx_stats st;
    bool running;           /* it runs, ready or not */
    pid_t pid;
    int64_t uptime_ms;
    const char *health;     /* NULL without a probe */
    const char *health_output;
} brief_facts;

static void gather(manager *m, service *s, brief_facts *f)
{
    sbx_box *box = manager_box(s);
    f->st = SBX_STATS_UNKNOWN;
    if (box)
        sbx_box_stats_brief(box, &f->st);  /* what the brief form shows, cheaply */
    f->running = s->state == SVC_RUNNING || s->state == SVC_STOPPING ||
                 s->state == SVC_READYING;  /* it runs, not ready yet */
    f->pid = manager_pid(s);
    f->uptime_ms = (int64_t)(uv_now(m->loop) - s->started_ms);
    const char *output, *health = manager_health(s, &output);
    bool checked = s->def.health.argv.n > 0;
    f->health = checked && strcmp(health, "none") != 0 ? health : NULL;
    f->health_output = checked && output[0] ? output : NULL;
}

static void write_last(json_out *b, const service *s)
{
    if (s->nhistory)
        json_out_value(b, run_summary_to_json(&s->history[(s->nhistory - 1) % SVC_HISTORY]));
    else
        json_out_raw(b, "null", 4);
}

/* The fields of the brief form (and the start of the detailed one). */
static void write_brief(json_out *b, manager *m, service *s)
{
    brief_facts f;
    gather(m, s, &f);
    const sbx_stats *st = &f.st;
    uint64_t now = uv_now(m->loop);
    const sbx_limits *l = &s->def.limits;
    json_out_raw(b, "{\"name\":\"", 9);
    json_out_raw(b, s->def.name, strlen(s->def.name));  /* [A-Za-z0-9_.@-]: no escapes */
    json_out_raw(b, "\",\"description\":", 16);
    json_out_str(b, s->def.description);
    json_out_fmt(b, ",\"state\":\"%s\"", svc_state_name(s->state));
    if (manager_adopted(s))  /* taken over from an sbxd that died */
        json_out_raw(b, ",\"adopted\":true", 15);
    json_out_num(b, "pid", f.pid, f.running && f.pid > 0);
    json_out_num(b, "uptime_ms", f.uptime_ms, f.running);
    json_out_num(b, "since_ms", (int64_t)(now - manager_since(s)), true);
    json_out_num(b, "restarts", s->restarts, true);
    const char *status_text = manager_status_text(s);
    json_out_fmt(b, ",\"ready\":%s", s->state == SVC_RUNNING ? "true" : "false");
    json_out_key(b, "health");
    json_out_str(b, f.health);
    json_out_key(b, "health_output");
    json_out_str(b, f.health_output);
    json_out_key(b, "status_text");
    json_out_str(b, status_text[0] ? status_text : NULL);
    if (s->def.privileged)  /* in words in sbxctl: "privileged: can undo its own limits" */
        json_out_raw(b, ",\"privileged\":true", 18);
    json_out_num(b, "memory", st->memory_current, st->memory_current >= 0);
    json_out_num(b, "memory_peak", st->memory_peak, st->memory_peak >= 0);
    json_out_num(b, "memory_limit", (int64_t)l->memory, l->memory != 0);
    json_out_num(b, "cpu_usage_us", st->user_us + st->sys_us, st->user_us >= 0);
    json_out_num(b, "cpu_limit_percent", l->cpu_percent, l->cpu_percent != 0);
    json_out_num(b, "tasks", st->pids_current, st->pids_current >= 0);
    json_out_num(b, "tasks_limit", (int64_t)l->pids, l->pids != 0);
    uint64_t log_written, log_dropped;
    manager_log_counts(s, &log_written, &log_dropped);
    json_out_num(b, "log_bytes_dropped", (int64_t)log_dropped, true);
    json_out_key(b, "last");
    write_last(b, s);
    sampler_write_trend(b, s);
}

/* ---- the table form: one array per unit, in the order of columns ---- */

static const char table_columns[] =
    "[\"name\",\"state\",\"adopted\",\"health\",\"pid\",\"uptime_ms\",\"restarts\",\"memory\","
    "\"memory_peak\",\"memory_limit\",\"cpu_usage_us\",\"cpu_limit_percent\",\"tasks\","
    "\"tasks_limit\",\"last\"]";

static void cell_num(json_out *b, int64_t v, bool known)
{
    json_out_raw(b, ",", 1);
    if (known)
        out_i64(b, v);
    else
        json_out_raw(b, "null", 4);
}

static void write_row(json_out *b, manager *m, service *s)
{
    brief_facts f;
    gather(m, s, &f);
    const sbx_limits *l = &s->def.limits;
    json_out_raw(b, "[\"", 2);
    json_out_raw(b, s->def.name, strlen(s->def.name));  /* no escapes, as above */
    json_out_fmt(b, "\",\"%s\",%s,", svc_state_name(s->state),
                 manager_adopted(s) ? "true" : "false");
    json_out_str(b, f.health);
    cell_num(b, f.pid, f.running && f.pid > 0);
    cell_num(b, f.uptime_ms, f.running);
    cell_num(b, s->restarts, true);
    cell_num(b, f.st.memory_current, f.st.memory_current >= 0);
    cell_num(b, f.st.memory_peak, f.st.memory_peak >= 0);
    cell_num(b, (int64_t)l->memory, l->memory != 0);
    cell_num(b, f.st.user_us + f.st.sys_us, f.st.user_us >= 0);
    cell_num(b, l->cpu_percent, l->cpu_percent != 0);
    cell_num(b, f.st.pids_current, f.st.pids_current >= 0);
    cell_num(b, (int64_t)l->pids, l->pids != 0);
    json_out_raw(b, ",", 1);
    write_last(b, s);
    json_out_raw(b, "]", 1);
}

/* The limits of the definition: libsbx's table, then the times. */
static json_t *limits_json(const unit_def *d)
{
    json_t *limits = proto_limits_json(&d->limits, false);
    json_object_set_new(limits, "runtime_max_ms", json_integer((json_int_t)d->runtime_max_ms));
    json_object_set_new(limits, "stop_timeout_ms", json_integer((json_int_t)d->stop_timeout_ms));
    json_object_set_new(limits, "start_timeout_ms", json_integer((json_int_t)d->start_timeout_ms));
    json_object_set_new(limits, "stop_signal", json_integer(d->stop_signal));
    return limits;
}

/* What the detailed form adds. */
static void write_detail(json_out *b, service *s)
{
    sbx_box *box = manager_box(s);
    sbx_isolation iso;
    unit_isolation(&s->def, &iso);
    json_out_key(b, "limits");
    json_out_value(b, limits_json(&s->def));
    json_out_key(b, "policy");
    json_out_str(b, restart_policy_name(s->def.policy));
    json_out_key(b, "enforced");
    json_out_value(b, enforced_to_json(box));
    json_out_key(b, "isolation");
    json_out_value(b, isolation_to_json(&iso));
    json_out_key(b, "cgroup");
    json_out_str(b, box ? sbx_box_path(box) : NULL);
    json_out_key(b, "command");
    for (size_t i = 0; i < s->def.argv.n; i++) {
        json_out_raw(b, i ? "," : "[", 1);
        json_out_str(b, s->def.argv.v[i]);
    }
    json_out_raw(b, s->def.argv.n ? "]" : "[]", s->def.argv.n ? 1 : 2);
    json_out_key(b, "runs");
    uint32_t first = s->nhistory > SVC_HISTORY ? s->nhistory - SVC_HISTORY : 0;
    for (uint32_t i = first; i < s->nhistory; i++) {
        json_out_raw(b, i > first ? "," : "[", 1);
        json_out_value(b, run_summary_to_json(&s->history[i % SVC_HISTORY]));
    }
    json_out_raw(b, s->nhistory ? "]" : "[]", s->nhistory ? 1 : 2);
    char tail[4096];
    size_t n = manager_log_tail(s, tail, sizeof tail);
    json_out_key(b, "log");
    json_out_value(b, proto_text(tail, n));
}

void status_write_unit(json_out *b, manager *m, service *s, bool detail)
{
    write_brief(b, m, s);
    if (detail)
        write_detail(b, s);
    json_out_raw(b, "}", 1);
}

void status_write_units(json_out *b, manager *m, service *const *svcs, size_t n, bool detail)
{
    json_out_raw(b, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (i)
            json_out_raw(b, ",", 1);
        status_write_unit(b, m, svcs[i], detail);
    }
    json_out_raw(b, "]", 1);
}

/* {"v":1,"id":ID,"ok":true then the body's fields, "}" and a newline. */
static char *reply_with(const json_t *id, json_out *body, size_t *len)
{
    json_out b = {0};
    size_t head_len;
    json_t *ok = proto_ok(id);
    char *head = proto_dump_line(ok, &head_len);  /* {...}\n */
    json_decref(ok);
    if (!head || body->failed) {
        free(head);
        free(body->p);
        return NULL;
    }
    json_out_raw(&b, head, head_len - 2);  /* without its closing brace */
    free(head);
    json_out_raw(&b, body->p, body->len);
    free(body->p);
    json_out_raw(&b, "}\n", 2);
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}

char *status_reply(manager *m, const json_t *id, service *const *svcs, size_t n,
                   bool detail, size_t *len)
{
    json_out body = {0};
    json_out_raw(&body, ",\"units\":", 9);
    status_write_units(&body, m, svcs, n, detail);
    return reply_with(id, &body, len);
}

char *status_table_reply(manager *m, const json_t *id, service *const *svcs, size_t n,
                         size_t *len)
{
    json_out body = {0};
    json_out_raw(&body, ",\"columns\":", 11);
    json_out_raw(&body, table_columns, sizeof table_columns - 1);
    json_out_raw(&body, ",\"rows\":[", 9);
    for (size_t i = 0; i < n; i++) {
        if (i)
            json_out_raw(&body, ",", 1);
        write_row(&body, m, svcs[i]);
    }
    json_out_raw(&body, "]", 1);
    return reply_with(id, &body, len);
}
