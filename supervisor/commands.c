/* The control server's requests: each verb of doc/protocol.md, and the
 * waiters that answer start/stop/restart/run once their units got there.
 * The transport that carries them is control.c's. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "control_priv.h"
#include "result.h"
#include "status.h"

/* ---- unit status ---- */

/* Sends the status of the given services (status.c writes it). */
static void send_status(client *c, const json_t *id, service *const *svcs, size_t n,
                        bool detail, bool table)
{
    size_t len;
    char *line = table ? status_table_reply(c->ctl->m, id, svcs, n, &len)
                       : status_reply(c->ctl->m, id, svcs, n, detail, &len);
    if (!line)
        return send_error(c, id, PROTO_FAILED, "out of memory");
    send_line(c, line, len);
}

/* ---- looking up units ---- */

/* Every name in list must exist; else answers no-such-unit and returns false. */
static bool units_exist(client *c, const proto_request *r, json_t *list)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        if (!manager_find(c->ctl->m, json_string_value(e))) {
            send_error(c, r->id, PROTO_NO_SUCH_UNIT, "no unit named '%s'", json_string_value(e));
            return false;
        }
    }
    return true;
}

static service *one_unit(client *c, const proto_request *r)
{
    const char *name;
    char why[200];
    if (!proto_get_string(r, "unit", true, &name, why, sizeof why)) {
        send_error(c, r->id, PROTO_BAD_REQUEST, "%s", why);
        return NULL;
    }
    service *s = manager_find(c->ctl->m, name);
    if (!s)
        send_error(c, r->id, PROTO_NO_SUCH_UNIT, "no unit named '%s'", name);
    return s;
}

/* ---- waiters ---- */

/* `wait`: ready (running, or exited for good), healthy, or a state by name.
 * Failed fails every goal but itself; unhealthy fails `healthy`. */
static int wait_goal(const waiter *w, const service *s)
{
    const char *state = svc_state_name(s->state), *output;
    if (strcmp(w->goal, "ready") == 0)
        return s->state == SVC_RUNNING || s->state == SVC_EXITED ? 1
               : s->state == SVC_FAILED ? -1 : 0;
    if (strcmp(w->goal, "healthy") == 0) {
        const char *h = manager_health(s, &output);
        return strcmp(h, "healthy") == 0 ? 1
               : strcmp(h, "unhealthy") == 0 || s->state == SVC_FAILED ? -1 : 0;
    }
    if (strcmp(state, w->goal) == 0)
        return 1;
    return s->state == SVC_FAILED ? -1 : 0;
}

/* 1 reached, 0 not yet, -1 failed. */
static int unit_goal(const waiter *w, const service *s)
{
    if (w->cmd == CMD_WAIT)
        return wait_goal(w, s);
    if (w->cmd == CMD_STOP || w->cmd == CMD_RUN)
        return svc_at_rest(s->state) ? 1 : 0;
    if (s->state == SVC_FAILED)
        return -1;
    return s->state == SVC_RUNNING || s->state == SVC_EXITED ? 1 : 0;
}

static void finish_waiter(waiter *w, bool timed_out)
{
    control *ctl = w->ctl;
    json_t *units = json_array();
    bool failed = timed_out;
    for (size_t i = 0; i < w->units.n; i++) {
        service *s = manager_find(ctl->m, w->units.v[i]);
        const char *state = s ? svc_state_name(s->state) : "removed";
        failed |= !s || s->state == SVC_FAILED;
        json_array_append_new(units, json_pack("{s:s, s:s}", "name", w->units.v[i], "state", state));
    }
    if (w->c) {
        json_t *msg;
        if (w->cmd == CMD_RUN) {
            service *s = manager_find(ctl->m, w->units.v[0]);
            msg = proto_ok(w->id);
            json_object_set_new(msg, "unit", json_string(w->units.v[0]));
            if (s && s->have_last)
                json_object_set_new(msg, "result", result_to_json(&s->last, ctl->m->be,
                                                                  manager_box(s)));
        } else if (failed) {
            msg = proto_error(w->id, PROTO_FAILED, timed_out ? "timed out waiting" : "a unit failed");
        } else {
            msg = proto_ok(w->id);
        }
        json_object_set_new(msg, "units", units);
        client *c = w->c;
        c->waiting--;
        send_msg(c, msg);  /* may drop the client, which clears w->c */
    } else {
        json_decref(units);
    }
    w->done = true;
}

/* Answers the waiters whose units reached their goal. It only reads the
 * units' states and writes answers: nothing in here calls back in. */
void waiters_check(control *ctl)
{
    for (waiter *w = ctl->waiters; w; w = w->next) {
        if (w->done)
            continue;
        int all = 1;
        for (size_t i = 0; i < w->units.n && all >= 0; i++) {
            service *s = manager_find(ctl->m, w->units.v[i]);
            int g = s ? unit_goal(w, s) : -1;
            if (g <= 0)
                all = g;
        }
        if (all != 0)
            finish_waiter(w, false);
    }
}

static void on_waiter_closed(uv_handle_t *h)
{
    free(h);
}

void waiters_free_done(control *ctl)
{
    for (waiter **p = &ctl->waiters; *p;) {
        waiter *w = *p;
        if (!w->done) {
            p = &w->next;
            continue;
        }
        *p = w->next;
        uv_close((uv_handle_t *)w->timer, on_waiter_closed);
        json_decref(w->id);
        strv_free(&w->units);
        free(w);
    }
}

static void on_waiter_timeout(uv_timer_t *t)
{
    waiter *w = t->data;
    if (!w->done)
        finish_waiter(w, true);
    waiters_free_done(w->ctl);
}

static waiter *add_waiter(client *c, const proto_request *r, proto_cmd cmd, json_t *units,
                          uint64_t timeout_ms)
{
    waiter *w = calloc(1, sizeof *w);
    if (!w || !(w->timer = malloc(sizeof *w->timer))) {
        free(w);
        return NULL;
    }
    w->ctl = c->ctl;
    w->c = c;
    w->id = r->id ? json_incref(r->id) : NULL;
    w->cmd = cmd;
    size_t i;
    json_t *e;
    json_array_foreach(units, i, e)
        strv_push(&w->units, json_string_value(e));
    uv_timer_init(c->ctl->loop, w->timer);
    w->timer->data = w;
    if (timeout_ms)
        uv_timer_start(w->timer, on_waiter_timeout, timeout_ms, 0);
    uv_unref((uv_handle_t *)w->timer);
    w->next = c->ctl->waiters;
    c->ctl->waiters = w;
    c->waiting++;
    return w;
}

/* ---- the verbs ---- */

static void do_status(client *c, const proto_request *r)
{
    json_t *names;
    bool detail;
    char why[200];
    bool watch, table;
    if (!proto_get_strings(r, "units", false, &names, why, sizeof why) ||
        !proto_get_bool(r, "detail", false, &detail, why, sizeof why) ||
        !proto_get_bool(r, "watch", false, &watch, why, sizeof why) ||
        !proto_get_bool(r, "table", false, &table, why, sizeof why))
        return send_error(c, r->id, PROTO_BAD_REQUEST, "%s", why);
    if (watch && c->ctl->cfg.watched)
        c->ctl->cfg.watched(c->ctl->cfg.watch_ctx);
    if (names && !units_exist(c, r, names))
        return;
    manager *m = c->ctl->m;
    if (!names)
        return send_status(c, r->id, m->svcs, m->n, detail, table);
    service **picked = calloc(json_array_size(names) + 1, sizeof *picked);
    size_t i;
    json_t *e;
    if (!picked)
        return send_error(c, r->id, PROTO_FAILED, "out of memory");
    json_array_foreach(names, i, e)
        picked[i] = manager_find(m, json_string_value(e));
    send_status(c, r->id, picked, json_array_size(names), detail, table);
    free(picked);
}

static void do_start_stop(client *c, const proto_request *r)
{
    json_t *names;
    bool wait;
    long long timeout;
    char why[200];
    if (!proto_get_strings(r, "units", true, &names, why, sizeof why) ||
        !proto_get_bool(r, "wait", true, &wait, why, sizeof why) ||
        !proto_get_int(r, "timeout_ms", 30000, 1, 86400000, &timeout, why, sizeof why))
        return send_error(c, r->id, PROTO_BAD_REQUEST, "%s", why);
    if (!units_exist(c, r, names))
        return;
    size_t i;
    json_t *e;
    json_array_foreach(names, i, e) {
        service *s = manager_find(c->ctl->m, json_string_value(e));
        if (r->cmd == CMD_START)
            manager_start(c->ctl->m, s);
        else if (r->cmd == CMD_RESTART)
            manager_restart(c->ctl->m, s);
        else
            manager_stop(c->ctl->m, s);
    }
    if (wait && !add_waiter(c, r, r->cmd, names, (uint64_t)timeout))
        return send_error(c, r->id, PROTO_FAILED, "out of memory");
    if (!wait)
        send_msg(c, proto_ok(r->id));
    waiters_check(c->ctl);
    waiters_free_done(c->ctl);
}

static bool goal_valid(const char *goal)
{
    if (strcmp(goal, "ready") == 0 || strcmp(goal, "healthy") == 0)
        return true;
    for (int st = 0; st < SVC__STATES; st++)
        if (strcmp(goal, svc_state_name((svc_state)st)) == 0)
            return true;
    return false;
}

/* Blocks until every unit has reached the goal; fails when one cannot. */
static void do_wait(client *c, const proto_request *r)
{
    json_t *names;
    const char *goal = NULL;
    long long timeout;
    char why[200];
    if (!proto_get_strings(r, "units", true, &names, why, sizeof why) ||
        !proto_get_string(r, "goal", false, &goal, why, sizeof why) ||
        !proto_get_int(r, "timeout_ms", 0, 0, 86400000, &timeout, why, sizeof why))
        return send_error(c, r->id, PROTO_BAD_REQUEST, "%s", why);
    if (!goal)
        goal = "ready";
    if (!goal_valid(goal))
        return send_error(c, r->id, PROTO_BAD_REQUEST, "goal: expected ready, healthy or a "
                          "state name, got '%s'", goal);
    if (!units_exist(c, r, names))
        return;
    waiter *w = add_waiter(c, r, CMD_WAIT, names, (uint64_t)timeout);
    if (!w)
        return send_error(c, r->id, PROTO_FAILED, "out of memory");
    snprintf(w->goal, sizeof w->goal, "%s", goal);
    waiters_check(c->ctl);
    waiters_free_done(c->ctl);
}

static void do_kill(client *c, const proto_request *r)
{
    service *s = one_unit(c, r);
    if (!s)
        return;
    int sig;
    char why[200];
    if (!proto_get_signal(r, "signal", SIGTERM, &sig, why, sizeof why))
        return send_error(c, r->id, PROTO_BAD_REQUEST, "%s", why);
    sbx_error e = {0};
    int count = manager_box_count(s);
    int rc = manager_kill(c->ctl->m, s, sig, &e);
    if (rc == -ESRCH)
        return send_error(c, r->id, PROTO_NOT_RUNNING, "%s", e.msg);
    if (rc < 0)
        return send_error(c, r->id, PROTO_FAILED, "%s", e.msg);
    json_t *msg = proto_ok(r->id);
    if (count >= 0)  /* those in the box just before: a fork may race it */
        json_object_set_new(msg, "signaled", json_integer(count));
    send_msg(c, msg);
}

static void do_freeze(client *c, const proto_request *r)
{
    service *s = one_unit(c, r);
    if (!s)
        return;
    sbx_error e = {0};
    int rc = manager_freeze(c->ctl->m, s, r->cmd == CMD_FREEZE, &e);
    if (rc == -ESRCH)
        return send_error(c, r->id, PROTO_NOT_RUNNING, "%s", e.msg);
    if (rc < 0)
        return send_error(c, r->id, PROTO_FAILED, "%s", e.msg);
    send_msg(c, proto_ok(r->id));
}

static json_t *strv_json(const strv *v)
{
    json_t *a = json_array();
    for (size_t i = 0; i < v->n; i++)
        json_array_append_new(a, json_string(v->v[i]));
    return a;
}

static void do_reload(client *c, const proto_request *r)
{
    reload_report rep = {0};
    manager_reload(c->ctl->m, &rep);
    json_t *msg = proto_ok(r->id);
    json_object_set_new(msg, "added", strv_json(&rep.added));
    json_object_set_new(msg, "removed", strv_json(&rep.removed));
    json_object_set_new(msg, "changed", strv_json(&rep.changed));
    json_object_set_new(msg, "errors", strv_json(&rep.errors));
    reload_report_free(&rep);
    send_msg(c, msg);
}

/* The start of the last n lines of text. */
static size_t last_lines(const char *text, size_t len, long long n)
{
    size_t i = len;
    if (i && text[i - 1] == '\n')
        i--;
    while (i > 0) {
        if (text[i - 1] == '\n' && --n == 0)
            return i;
        i--;
    }
    return 0;
}

static void do_logs(client *c, const proto_request *r)
{
    long long lines;
    bool follow;
    char why[200];
    service *s = one_unit(c, r);
    if (!s)
        return;
    if (!proto_get_int(r, "lines", 50, 0, 1000000, &lines, why, sizeof why) ||
        !proto_get_bool(r, "follow", false, &follow, why, sizeof why))
        return send_error(c, r->id, PROTO_BAD_REQUEST, "%s", why);
    char *tail = malloc(LOG_RING_SIZE);
    size_t n = tail ? manager_log_tail(s, tail, LOG_RING_SIZE) : 0;
    size_t from = lines ? last_lines(tail, n, lines) : n;
    json_t *msg = proto_ok(r->id);
    json_object_set_new(msg, "data", proto_text(tail + from, n - from));
    free(tail);
    send_msg(c, msg);
    if (follow) {
        c->mode = MODE_LOGS;
        snprintf(c->follow, sizeof c->follow, "%s", s->def.name);
    }
}

static void do_events(client *c, const proto_request *r)
{
    bool follow;
    char why[200];
    if (!proto_get_bool(r, "follow", true, &follow, why, sizeof why))
        return send_error(c, r->id, PROTO_BAD_REQUEST, "%s", why);
    send_msg(c, proto_ok(r->id));
    if (follow)
        c->mode = MODE_EVENTS;
}

static void do_set(client *c, const proto_request *r)
{
    char why[300];
    service *s = one_unit(c, r);
    if (!s)
        return;
    sbx_limits l = s->def.limits;
    if (!proto_get_limits(r, true, true, &l, why, sizeof why))
        return send_error(c, r->id, PROTO_BAD_REQUEST, "%s", why);
    sbx_error e = {0};
    if (manager_set_limits(c->ctl->m, s, &l, &e) < 0)
        return send_error(c, r->id, PROTO_FAILED, "%s", e.msg);
    json_t *msg = proto_ok(r->id);
    json_object_set_new(msg, "limits", proto_limits_json(&l, true));
    send_msg(c, msg);
}

/* The Prometheus text, as GET /metrics serves it, in "text": escaped
 * straight into the reply line (no jansson string or tree of 12 MB). */
static void do_metrics(client *c, const proto_request *r)
{
    const control_settings *cfg = &c->ctl->cfg;
    if (!cfg->metrics)
        return send_error(c, r->id, PROTO_FAILED, "metrics are not available on this platform");
    outbuf text = {0};
    int rc = cfg->metrics(cfg->views, &text);
    json_t *ok = proto_ok(r->id);
    size_t head_len;
    char *head = rc == 0 ? proto_dump_line(ok, &head_len) : NULL;  /* {...}\n */
    json_decref(ok);
    json_out line = {0};
    if (head) {
        json_out_raw(&line, head, head_len - 2);  /* without its closing brace */
        json_out_raw(&line, ",\"text\":", 8);
        json_out_text(&line, text.p ? text.p : "", text.len);
        json_out_raw(&line, "}\n", 2);
    }
    free(head);
    out_free(&text);
    if (!head || line.failed) {
        out_free(&line);
        return send_error(c, r->id, PROTO_FAILED, "out of memory");
    }
    send_line(c, line.p, line.len);
}

static void do_run(client *c, const proto_request *r)
{
    char why[300];
    bool wait;
    unit_def d;
    memset(&d, 0, sizeof d);
    if (!proto_get_bool(r, "wait", false, &wait, why, sizeof why) || !proto_get_run(r, &c->ctl->run_seq, &d, why, sizeof why)) {
        unit_def_free(&d);
        return send_error(c, r->id, PROTO_BAD_REQUEST, "%s", why);
    }
    char name[UNIT_NAME_MAX];
    snprintf(name, sizeof name, "%s", d.name);
    service *s = manager_add_transient(c->ctl->m, &d);
    if (!s)
        return send_error(c, r->id, PROTO_FAILED, "a unit named '%s' exists already", name);
    json_t *units = json_pack("[s]", name);
    if (wait)
        add_waiter(c, r, CMD_RUN, units, 0);
    json_decref(units);
    manager_start(c->ctl->m, s);
    if (!wait) {
        json_t *msg = proto_ok(r->id);
        json_object_set_new(msg, "unit", json_string(name));
        send_msg(c, msg);
    }
    waiters_check(c->ctl);
    waiters_free_done(c->ctl);
}

/* Live upgrade (reexec.h): on success sbxd is a new program and every
 * connection, this one too, is closed; only a failure is answered. */
static void do_reexec(client *c, const proto_request *r)
{
    const control_settings *cfg = &c->ctl->cfg;
    char why[600] = "re-exec is not available here";
    if (cfg->reexec)
        cfg->reexec(cfg->reexec_ctx, why, sizeof why);
    send_error(c, r->id, PROTO_FAILED, "%s", why);
}

void control_handle_line(client *c, const char *line, size_t len)
{
    proto_request r;
    char why[300];
    proto_code code = proto_parse(line, len, &r, why, sizeof why);
    if (code != PROTO_OK) {
        send_msg(c, proto_error(r.id, code, why));
        proto_request_free(&r);
        if (code == PROTO_TOO_LONG)
            close_client(c);  /* the stream cannot be trusted to resynchronise */
        return;
    }
    if (c->read_only && !proto_cmd_reads_only(r.cmd)) {
        send_error(c, r.id, PROTO_PERMISSION_DENIED, "permission denied: read-only access "
                   "may not %s", proto_cmd_name(r.cmd));
        proto_request_free(&r);
        return;
    }
    switch (r.cmd) {
    case CMD_PING: send_msg(c, proto_ok(r.id)); break;
    case CMD_STATUS: do_status(c, &r); break;
    case CMD_START:
    case CMD_STOP:
    case CMD_RESTART: do_start_stop(c, &r); break;
    case CMD_KILL: do_kill(c, &r); break;
    case CMD_FREEZE:
    case CMD_THAW: do_freeze(c, &r); break;
    case CMD_RELOAD: do_reload(c, &r); break;
    case CMD_LOGS: do_logs(c, &r); break;
    case CMD_EVENTS: do_events(c, &r); break;
    case CMD_RUN: do_run(c, &r); break;
    case CMD_SET: do_set(c, &r); break;
    case CMD_METRICS: do_metrics(c, &r); break;
    case CMD_WAIT: do_wait(c, &r); break;
    case CMD_REEXEC: do_reexec(c, &r); break;
    case CMD__COUNT: break;
    }
    proto_request_free(&r);
}


void waiters_forget(control *ctl, const client *c)
{
    for (waiter *w = ctl->waiters; w; w = w->next)
        if (w->c == c)
            w->c = NULL;
}

void waiters_cancel_all(control *ctl)
{
    for (waiter *w = ctl->waiters; w; w = w->next)
        w->done = true;
    waiters_free_done(ctl);
}
