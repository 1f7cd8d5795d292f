/* The control server: see control.h and doc/protocol.md. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "control_os.h"
#include "protocol.h"
#include "result.h"
#include "status.h"
#include "version.h"

#define MAX_QUEUED (4u << 20)   /* a client that stops reading is dropped */

typedef enum client_mode { MODE_REQUESTS, MODE_EVENTS, MODE_LOGS } client_mode;

typedef struct client {
    struct client *next, *prev;
    control *ctl;
    uv_pipe_t pipe;
    char *buf;
    size_t len, cap;
    bool read_only, closing;
    client_mode mode;
    char follow[UNIT_NAME_MAX];  /* MODE_LOGS: the unit */
    int waiting;                 /* waiters that will answer on this client */
} client;

/* A request answered later: start/stop/restart with wait, run with wait. */
typedef struct waiter {
    struct waiter *next;
    control *ctl;
    client *c;                   /* NULL once the client is gone */
    json_t *id;
    proto_cmd cmd;
    strv units;
    uv_timer_t *timer;
    bool done;
} waiter;

struct control {
    uv_loop_t *loop;
    manager *m;
    control_settings cfg;
    char *path;
    uv_pipe_t server;
    client *clients;
    waiter *waiters;
    unsigned run_seq;
    bool checking, recheck;
};

/* ---- writing ---- */

typedef struct write_req {
    uv_write_t req;
    char *data;
} write_req;

static void close_client(client *c);

static void on_written(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    (void)status;
    free(w->data);
    free(w);
}

/* Queues msg (consumed) to the client. */
/* Queues a whole line (takes it) to the client. */
static void send_line(client *c, char *line, size_t len)
{
    if (c->closing) {
        free(line);
        return;
    }
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) > MAX_QUEUED) {
        free(line);
        close_client(c);
        return;
    }
    write_req *w = malloc(sizeof *w);
    if (!w) {
        free(line);
        return;
    }
    w->data = line;
    uv_buf_t b = uv_buf_init(line, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, on_written) < 0) {
        free(line);
        free(w);
        close_client(c);
    }
}

/* Queues msg (consumed) to the client. */
static void send_msg(client *c, json_t *msg)
{
    size_t len;
    char *line = proto_dump_line(msg, &len);
    json_decref(msg);
    if (line)
        send_line(c, line, len);
}

static void send_error(client *c, const json_t *id, proto_code code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void send_error(client *c, const json_t *id, proto_code code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    send_msg(c, proto_error(id, code, msg));
}

/* ---- unit status ---- */

/* Sends the status of the given services (status.c writes it). */
static void send_status(client *c, const json_t *id, service *const *svcs, size_t n,
                        bool detail)
{
    size_t len;
    char *line = status_reply(c->ctl->m, id, svcs, n, detail, &len);
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

/* 1 reached, 0 not yet, -1 failed. */
static int unit_goal(const waiter *w, const service *s)
{
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
        send_msg(w->c, msg);
        w->c->waiting--;
    } else {
        json_decref(units);
    }
    w->done = true;
}

/* Answers the waiters whose units reached their goal. Starting a unit here
 * (restart) raises events that call back in: those are folded into another
 * pass instead of nesting. */
static void check_waiters(control *ctl)
{
    if (ctl->checking) {
        ctl->recheck = true;
        return;
    }
    ctl->checking = true;
    do {
        ctl->recheck = false;
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
    } while (ctl->recheck);
    ctl->checking = false;
}

static void on_waiter_closed(uv_handle_t *h)
{
    free(h);
}

static void free_done_waiters(control *ctl)
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
    free_done_waiters(w->ctl);
}

static waiter *add_waiter(client *c, const proto_request *r, proto_cmd cmd, json_t *units,
                          uint64_t timeout_ms, bool respond)
{
    waiter *w = calloc(1, sizeof *w);
    if (!w || !(w->timer = malloc(sizeof *w->timer))) {
        free(w);
        return NULL;
    }
    w->ctl = c->ctl;
    w->c = respond ? c : NULL;
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
    if (respond)
        c->waiting++;
    return w;
}

/* ---- the verbs ---- */

static void do_status(client *c, const proto_request *r)
{
    json_t *names;
    bool detail;
    char why[200];
    if (!proto_get_strings(r, "units", false, &names, why, sizeof why) ||
        !proto_get_bool(r, "detail", false, &detail, why, sizeof why))
        return send_error(c, r->id, PROTO_BAD_REQUEST, "%s", why);
    if (names && !units_exist(c, r, names))
        return;
    manager *m = c->ctl->m;
    if (!names)
        return send_status(c, r->id, m->svcs, m->n, detail);
    service **picked = calloc(json_array_size(names) + 1, sizeof *picked);
    size_t i;
    json_t *e;
    if (!picked)
        return send_error(c, r->id, PROTO_FAILED, "out of memory");
    json_array_foreach(names, i, e)
        picked[i] = manager_find(m, json_string_value(e));
    send_status(c, r->id, picked, json_array_size(names), detail);
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
    if (wait && !add_waiter(c, r, r->cmd, names, (uint64_t)timeout, true))
        return send_error(c, r->id, PROTO_FAILED, "out of memory");
    if (!wait)
        send_msg(c, proto_ok(r->id));
    check_waiters(c->ctl);
    free_done_waiters(c->ctl);
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

/* Builds a transient unit's definition from a run request. */
static bool run_def(client *c, const proto_request *r, unit_def *d, char *why, size_t len)
{
    const char *name, *cwd, *timeout;
    json_t *argv, *env;
    if (!proto_get_string(r, "name", false, &name, why, len) ||
        !proto_get_string(r, "cwd", false, &cwd, why, len) ||
        !proto_get_string(r, "timeout", false, &timeout, why, len) ||
        !proto_get_strings(r, "command", true, &argv, why, len) ||
        !proto_get_strings(r, "env", false, &env, why, len))
        return false;
    char auto_name[32];
    if (!name) {
        snprintf(auto_name, sizeof auto_name, "run-%u", ++c->ctl->run_seq);
        name = auto_name;
    }
    if (!unit_name_valid(name) || strchr(name, '@'))
        return snprintf(why, len, "invalid unit name '%s'", name), false;
    unit_def_init(d, name);
    d->file = strdup("(sbxctl run)");
    d->source = strdup("");
    d->policy = RESTART_NO;
    d->autostart = false;
    size_t i;
    json_t *e;
    json_array_foreach(argv, i, e)
        strv_push(&d->argv, json_string_value(e));
    json_array_foreach(env, i, e) {
        if (!strchr(json_string_value(e), '='))
            return snprintf(why, len, "env entries are NAME=VALUE"), false;
        strv_push(&d->env, json_string_value(e));
    }
    if (cwd)
        d->cwd = strdup(cwd);
    sbx_error err = {0};
    if (timeout && sbx_parse_duration(timeout, &d->runtime_max_ms, &err) < 0)
        return snprintf(why, len, "timeout: %s", err.msg), false;
    return proto_get_limits(r, false, false, &d->limits, why, len);
}

static void do_run(client *c, const proto_request *r)
{
    char why[300];
    bool wait;
    unit_def d;
    memset(&d, 0, sizeof d);
    if (!proto_get_bool(r, "wait", false, &wait, why, sizeof why) || !run_def(c, r, &d, why, sizeof why)) {
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
        add_waiter(c, r, CMD_RUN, units, 0, true);
    json_decref(units);
    manager_start(c->ctl->m, s);
    if (!wait) {
        json_t *msg = proto_ok(r->id);
        json_object_set_new(msg, "unit", json_string(name));
        send_msg(c, msg);
    }
    check_waiters(c->ctl);
    free_done_waiters(c->ctl);
}

static void handle_line(client *c, const char *line, size_t len)
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
    case CMD__COUNT: break;
    }
    proto_request_free(&r);
}

/* ---- connections ---- */

static void on_client_closed(uv_handle_t *h)
{
    client *c = h->data;
    free(c->buf);
    free(c);
}

static void close_client(client *c)
{
    if (c->closing)
        return;
    c->closing = true;
    for (waiter *w = c->ctl->waiters; w; w = w->next)
        if (w->c == c)
            w->c = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        c->ctl->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    uv_close((uv_handle_t *)&c->pipe, on_client_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    client *c = h->data;
    (void)suggested;
    if (c->cap - c->len < 4096) {
        size_t cap = c->cap ? c->cap * 2 : 8192;
        char *b = realloc(c->buf, cap);
        if (b) {
            c->buf = b;
            c->cap = cap;
        }
    }
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(c->cap - c->len));
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    client *c = st->data;
    (void)buf;
    if (n < 0) {
        close_client(c);
        return;
    }
    c->len += (size_t)n;
    size_t start = 0;
    for (char *nl; c->mode == MODE_REQUESTS && !c->closing &&
                   (nl = memchr(c->buf + start, '\n', c->len - start));) {
        size_t len = (size_t)(nl - (c->buf + start));
        if (len && c->buf[start + len - 1] == '\r')
            len--;
        if (len)
            handle_line(c, c->buf + start, len);
        start = (size_t)(nl - c->buf) + 1;
    }
    memmove(c->buf, c->buf + start, c->len - start);
    c->len -= start;
    if (c->len > PROTO_MAX_LINE && !c->closing) {
        send_error(c, NULL, PROTO_TOO_LONG, "request line longer than %d bytes", PROTO_MAX_LINE);
        uv_read_stop(st);
        close_client(c);
    }
    if (c->mode != MODE_REQUESTS)
        c->len = 0;  /* a stream reads nothing more */
    free_done_waiters(c->ctl);
}

static void on_connection(uv_stream_t *server, int status)
{
    control *ctl = server->data;
    if (status < 0)
        return;
    client *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->ctl = ctl;
    uv_pipe_init(ctl->loop, &c->pipe, 0);
    c->pipe.data = c;
    c->next = ctl->clients;
    if (ctl->clients)
        ctl->clients->prev = c;
    ctl->clients = c;
    if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0) {
        close_client(c);
        return;
    }
    char who[64];
    const char *access = control_os_access(&ctl->cfg, &c->pipe, who, sizeof who);
    if (!access) {
        send_error(c, NULL, PROTO_PERMISSION_DENIED, "permission denied: %s may not use sbxd",
                   who);
        close_client(c);
        return;
    }
    c->read_only = strcmp(access, "read") == 0;
    send_msg(c, json_pack("{s:i, s:s, s:[i], s:s}", "v", PROTO_VERSION, "sbxd", SBX_VERSION,
                          "protocol", PROTO_VERSION, "access", access));
    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

/* ---- the manager's events, to streams and waiters ---- */

static void on_event(manager *m, service *s, const char *what, const char *detail)
{
    control *ctl = m->data;
    json_t *ev = json_pack("{s:I, s:s, s:s, s:s?}", "time_ms", (json_int_t)manager_wall_ms(),
                           "unit", s->def.name, "event", what, "detail", detail);
    for (client *c = ctl->clients, *next; c; c = next) {
        next = c->next;
        if (c->mode == MODE_EVENTS)
            send_msg(c, json_pack("{s:O}", "event", ev));
    }
    json_decref(ev);
    check_waiters(ctl);
}

static void on_log(manager *m, service *s, const char *buf, size_t len)
{
    control *ctl = m->data;
    for (client *c = ctl->clients, *next; c; c = next) {
        next = c->next;
        if (c->mode == MODE_LOGS && strcmp(c->follow, s->def.name) == 0)
            send_msg(c, json_pack("{s:o}", "log", proto_text(buf, len)));
    }
}

/* ---- the socket ---- */

static void on_server_closed(uv_handle_t *h)
{
    control *ctl = h->data;
    free(ctl->path);
    free(ctl);
}

int control_start(control **out, uv_loop_t *loop, manager *m,
                  const control_settings *cfg, sbx_error *err)
{
    control *ctl = calloc(1, sizeof *ctl);
    if (!ctl || !(ctl->path = strdup(cfg->path))) {
        free(ctl);
        return sbx_error_set(err, -ENOMEM, "out of memory");
    }
    ctl->loop = loop;
    ctl->m = m;
    ctl->cfg = *cfg;
    ctl->cfg.path = ctl->path;
    uv_pipe_init(loop, &ctl->server, 0);
    ctl->server.data = ctl;
    int r = control_os_bind(&ctl->server, cfg, err);
    if (r == 0 && (r = uv_listen((uv_stream_t *)&ctl->server, 128, on_connection)) < 0) {
        sbx_error_set(err, r, "listen %s: %s", cfg->path, uv_strerror(r));
        control_os_unbind(cfg->path);
    }
    if (r < 0) {
        *out = NULL;
        uv_close((uv_handle_t *)&ctl->server, on_server_closed);  /* frees ctl */
        return r;
    }
    m->data = ctl;
    m->on_event = on_event;
    m->on_log = on_log;
    *out = ctl;
    return 0;
}

void control_close(control *ctl)
{
    if (!ctl)
        return;
    while (ctl->clients)
        close_client(ctl->clients);
    for (waiter *w = ctl->waiters; w; w = w->next)
        w->done = true;
    free_done_waiters(ctl);
    ctl->m->on_event = NULL;
    ctl->m->on_log = NULL;
    control_os_unbind(ctl->path);
    uv_close((uv_handle_t *)&ctl->server, on_server_closed);
}
