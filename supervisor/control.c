/* The control server's transport: the socket (a named pipe on Windows),
 * its clients, the framing of request lines, writing that never blocks the
 * loop, and the event and log streams. The requests are commands.c's. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control_priv.h"
#include "control_os.h"
#include "protocol.h"
#include "version.h"

#define MAX_QUEUED (4u << 20)   /* a client that stops reading is dropped */
/* Requests served to one client in a row: a client that sends many at
 * once gets the rest on the next passes of the loop, others between. */
#define LINES_PER_TURN 16

/* ---- writing ---- */

typedef struct write_req {
    uv_write_t req;
    char *data;
} write_req;

static void on_written(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    (void)status;
    free(w->data);
    free(w);
}

void send_line(client *c, char *line, size_t len)
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

void send_msg(client *c, json_t *msg)
{
    size_t len;
    char *line = proto_dump_line(msg, &len);
    json_decref(msg);
    if (line)
        send_line(c, line, len);
}

void send_error(client *c, const json_t *id, proto_code code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    send_msg(c, proto_error(id, code, msg));
}

/* ---- connections ---- */

static void end_backlog(client *c);

static void on_client_closed(uv_handle_t *h)
{
    client *c = h->data;
    free(c->buf);
    free(c);
}

void close_client(client *c)
{
    if (c->closing)
        return;
    c->closing = true;
    end_backlog(c);
    waiters_forget(c->ctl, c);
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

/* ---- requests: a bounded turn per client ---- */

/* Serves up to LINES_PER_TURN complete lines of c's buffer and drops
 * them from it. Returns true when complete lines are left. */
static bool serve_lines(client *c)
{
    size_t start = 0;
    int served = 0;
    bool more = false;
    for (char *nl; c->mode == MODE_REQUESTS && !c->closing &&
                   (nl = memchr(c->buf + start, '\n', c->len - start));) {
        if (served == LINES_PER_TURN) {
            more = true;
            break;
        }
        size_t len = (size_t)(nl - (c->buf + start));
        if (len && c->buf[start + len - 1] == '\r')
            len--;
        if (len) {
            control_handle_line(c, c->buf + start, len);
            served++;
        }
        start = (size_t)(nl - c->buf) + 1;
    }
    memmove(c->buf, c->buf + start, c->len - start);
    c->len -= start;
    return more;
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf);

static void on_turn(uv_idle_t *idle);

/* More lines than a turn: the client is not read until they are served
 * (the kernel's buffer then holds a flood back), one turn per pass. */
static void begin_backlog(client *c)
{
    if (c->backlog)
        return;
    c->backlog = true;
    uv_read_stop((uv_stream_t *)&c->pipe);
    if (c->ctl->backlogged++ == 0)
        uv_idle_start(&c->ctl->turns, on_turn);
}

static void end_backlog(client *c)
{
    if (!c->backlog)
        return;
    c->backlog = false;
    if (--c->ctl->backlogged == 0)
        uv_idle_stop(&c->ctl->turns);
    if (!c->closing)
        uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

/* After a turn: a backlog, or read on; a line too long is refused. */
static void after_turn(client *c, bool more)
{
    if (more && !c->closing) {
        begin_backlog(c);
        return;
    }
    end_backlog(c);
    if (c->len > PROTO_MAX_LINE && !c->closing) {
        send_error(c, NULL, PROTO_TOO_LONG, "request line longer than %d bytes", PROTO_MAX_LINE);
        uv_read_stop((uv_stream_t *)&c->pipe);
        close_client(c);
    }
    if (c->mode != MODE_REQUESTS)
        c->len = 0;  /* a stream reads nothing more */
}

static void on_turn(uv_idle_t *idle)
{
    control *ctl = idle->data;
    for (client *c = ctl->clients, *next; c; c = next) {
        next = c->next;
        if (c->backlog)
            after_turn(c, serve_lines(c));
    }
    waiters_free_done(ctl);
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
    after_turn(c, serve_lines(c));
    waiters_free_done(c->ctl);
}

/* Out of descriptors: said once when it starts (a failed accept, or a
 * client that would eat into the units' reserve), once when it ends, and
 * every client in between counted. libuv closes connections it cannot
 * accept at all (its EMFILE trick), so the loop never spins on them. */
static void fds_short(control *ctl, const char *why)
{
    ctl->refused++;
    if (ctl->fds_short)
        return;
    ctl->fds_short = true;
    FILE *out = ctl->m->events ? ctl->m->events : stderr;
    fprintf(out, "sbxd: control: %s: new clients are refused until descriptors are free "
            "again (units keep %d for their starts)\n", why, CONTROL_FD_RESERVE);
    fflush(out);
}

static void fds_back(control *ctl)
{
    if (!ctl->fds_short)
        return;
    FILE *out = ctl->m->events ? ctl->m->events : stderr;
    fprintf(out, "sbxd: control: descriptors free again: clients accepted (%llu were refused)\n",
            (unsigned long long)ctl->refused);
    fflush(out);
    ctl->fds_short = false;
    ctl->refused = 0;
}

/* Once clients are refused, they are accepted again only with this many
 * more descriptors free: a unit's restart gives back and takes again a few
 * (its pipes), which must not make the refusal come and go, said each
 * time. */
#define FDS_BACK_MARGIN (CONTROL_FD_RESERVE / 2)

static bool still_short(const control *ctl, uint64_t in_use, uint64_t limit)
{
    return ctl->fds_short && limit != UINT64_MAX && in_use > 0 &&
           in_use + CONTROL_FD_RESERVE + FDS_BACK_MARGIN > limit;
}

/* A client accepted with few descriptors left: told why, then closed. */
static bool refuse_if_short(control *ctl, client *c)
{
    uint64_t in_use = 0, limit = UINT64_MAX;
    if (!control_os_fds_short(&c->pipe, &in_use, &limit) && !still_short(ctl, in_use, limit)) {
        fds_back(ctl);
        return false;
    }
    char why[128];
    snprintf(why, sizeof why, "%llu of %llu descriptors in use (RLIMIT_NOFILE)",
             (unsigned long long)in_use, (unsigned long long)limit);
    fds_short(ctl, why);
    send_error(c, NULL, PROTO_FAILED, "sbxd is out of file descriptors: %s", why);
    close_client(c);
    return true;
}

static void on_connection(uv_stream_t *server, int status)
{
    control *ctl = server->data;
    if (status < 0) {
        char why[128];
        snprintf(why, sizeof why, "accept: %s", uv_strerror(status));
        fds_short(ctl, why);
        return;
    }
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
    if (refuse_if_short(ctl, c))
        return;
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
    waiters_check(ctl);
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

static void on_turns_closed(uv_handle_t *h)
{
    control *ctl = h->data;
    free(ctl->path);
    free(ctl);
}

static void on_server_closed(uv_handle_t *h)
{
    control *ctl = h->data;
    uv_close((uv_handle_t *)&ctl->turns, on_turns_closed);  /* frees ctl */
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
    uv_idle_init(loop, &ctl->turns);
    ctl->turns.data = ctl;
    ctl->cfg = *cfg;
    ctl->cfg.path = ctl->path;
    uv_pipe_init(loop, &ctl->server, 0);
    ctl->server.data = ctl;
    int r = 0;
    if (!cfg->has_listen_fd)
        r = control_os_bind(&ctl->server, cfg, err);
    else if ((r = uv_pipe_open(&ctl->server, cfg->listen_fd)) < 0)
        sbx_error_set(err, r, "the socket kept across re-exec (fd %d): %s", cfg->listen_fd,
                      uv_strerror(r));
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

int control_listen_fd(const control *ctl)
{
#ifdef _WIN32
    (void)ctl;
    return -1;  /* no re-exec on Windows */
#else
    uv_os_fd_t fd;
    if (!ctl || uv_fileno((const uv_handle_t *)&ctl->server, &fd) < 0)
        return -1;
    return fd;
#endif
}

void control_close(control *ctl)
{
    if (!ctl)
        return;
    while (ctl->clients)
        close_client(ctl->clients);
    waiters_cancel_all(ctl);
    ctl->m->on_event = NULL;
    ctl->m->on_log = NULL;
    control_os_unbind(ctl->path);
    uv_close((uv_handle_t *)&ctl->server, on_server_closed);
}

