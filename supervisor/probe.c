/* Probes on the loop: see probe.h. A probe's memory lives until every
 * handle and request it started has come back (refs), so a cancel never
 * leaves a callback pointing at freed memory. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe.h"
#include "reaper.h"

/* ---- the read helper ---- */

struct probe_reader {
    uv_pipe_t pipe;
    probe_read_cb cb;
    void *data;
    size_t len;
    char tail[PROBE_OUTPUT_MAX];
    char buf[1024];
};

/* Keeps the last bytes: a long output shows its end (the error). */
static void keep(probe_reader *r, const char *s, size_t n)
{
    size_t room = sizeof r->tail - 1;
    if (n >= room) {
        memcpy(r->tail, s + n - room, room);
        r->len = room;
    } else {
        if (r->len + n > room) {
            size_t drop = r->len + n - room;
            memmove(r->tail, r->tail + drop, r->len - drop);
            r->len -= drop;
        }
        memcpy(r->tail + r->len, s, n);
        r->len += n;
    }
    r->tail[r->len] = '\0';
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    probe_reader *r = h->data;
    (void)hint;
    *buf = uv_buf_init(r->buf, sizeof r->buf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    probe_reader *r = s->data;
    if (n > 0) {
        keep(r, buf->base, (size_t)n);
        if (r->cb)
            r->cb(r, buf->base, (size_t)n, r->data);
    } else if (n < 0) {
        uv_read_stop(s);  /* EOF or error: nothing more will come */
    }
}

probe_reader *probe_reader_open(uv_loop_t *loop, int fd, probe_read_cb cb, void *data)
{
    probe_reader *r = calloc(1, sizeof *r);
    if (!r || uv_pipe_init(loop, &r->pipe, 0) < 0) {
        free(r);
        close(fd);
        return NULL;
    }
    r->pipe.data = r;
    r->cb = cb;
    r->data = data;
    if (uv_pipe_open(&r->pipe, fd) < 0 ||
        uv_read_start((uv_stream_t *)&r->pipe, on_alloc, on_read) < 0) {
        close(fd);
        r->cb = NULL;
        probe_reader_close(r);
        return NULL;
    }
    return r;
}

/* A last read of what a probe that just ended wrote (its pipe may be held
 * open by something it started). On Windows the pipe is read as it comes
 * only. */
void probe_reader_drain(probe_reader *r)
{
#ifdef _WIN32
    (void)r;
#else
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&r->pipe, &fd) < 0)
        return;
    for (int i = 0; i < 16; i++) {
        ssize_t n = read((int)fd, r->buf, sizeof r->buf);
        if (n <= 0)
            return;
        keep(r, r->buf, (size_t)n);
        if (r->cb)
            r->cb(r, r->buf, (size_t)n, r->data);
    }
#endif
}

const char *probe_reader_tail(const probe_reader *r)
{
    return r->tail;
}

static void free_handle_data(uv_handle_t *h)
{
    free(h->data);
}

void probe_reader_close(probe_reader *r)
{
    if (r)
        uv_close((uv_handle_t *)&r->pipe, free_handle_data);
}

/* ---- probes ---- */

struct probe {
    uv_loop_t *loop;
    probe_kind kind;
    probe_cb cb;
    void *data;
    bool done;
    int refs;                   /* handles and requests still out */
    uv_timer_t *timer;
    uv_tcp_t *tcp;
    uv_connect_t connect;
    uv_fs_t stat;
    sbx_process proc;
    pid_t pid;                  /* command: until reaped */
    probe_reader *out;
    uint64_t timeout_ms;
    char why[PROBE_OUTPUT_MAX];
};

static void unref(probe *p)
{
    if (--p->refs == 0)
        free(p);
}

static void on_handle_closed(uv_handle_t *h)
{
    probe *p = h->data;
    free(h);
    unref(p);
}

static void kill_command(probe *p)
{
    if (p->pid > 0) {
        uv_kill(-p->pid, SIGKILL);  /* its session (POSIX): what it started too */
        uv_kill(p->pid, SIGKILL);
    }
}

/* The one end of a probe: tell (unless cancelled), then let go of it. */
static void finish(probe *p, bool ok, bool tell)
{
    if (p->done)
        return;
    p->done = true;
    if (p->timer)
        uv_close((uv_handle_t *)p->timer, on_handle_closed);
    if (p->tcp)
        uv_close((uv_handle_t *)p->tcp, on_handle_closed);
    p->timer = NULL;
    p->tcp = NULL;
    kill_command(p);  /* running still: a timeout or a cancel */
    if (p->out && !p->why[0])
        snprintf(p->why, sizeof p->why, "%s", probe_reader_tail(p->out));
    probe_reader_close(p->out);
    p->out = NULL;
    if (tell)
        p->cb(p->data, ok, p->why);
    unref(p);  /* the probe's own reference */
}

static void on_timeout(uv_timer_t *t)
{
    probe *p = t->data;
    if (p->out)
        probe_reader_drain(p->out);
    int n = snprintf(p->why, sizeof p->why, "timed out after %llu ms",
                     (unsigned long long)p->timeout_ms);
    if (p->out && probe_reader_tail(p->out)[0] && n > 0 && (size_t)n + 2 < sizeof p->why)
        snprintf(p->why + n, sizeof p->why - (size_t)n, ": %s", probe_reader_tail(p->out));
    finish(p, false, true);
}

static void on_connect(uv_connect_t *req, int status)
{
    probe *p = req->data;
    if (status < 0)
        snprintf(p->why, sizeof p->why, "connect: %s", uv_strerror(status));
    finish(p, status == 0, true);
    unref(p);
}

static void on_stat(uv_fs_t *req)
{
    probe *p = req->data;
    int r = (int)req->result;
    uv_fs_req_cleanup(req);
    if (r < 0)
        snprintf(p->why, sizeof p->why, "%s", uv_strerror(r));
    finish(p, r == 0, true);
    unref(p);
}

static void on_command_exit(void *data, pid_t pid, int status, const struct rusage *ru)
{
    probe *p = data;
    int code = -1, sig = 0;
    (void)pid;
    (void)ru;
    p->pid = 0;
    sbx_spawn_program_status(&p->proc, &status);
    int outcome = sbx_spawn_outcome(&p->proc);
    sbx_process_release(&p->proc);
    bool exited = reaper_exited(status, &code, &sig);
    if (p->out)
        probe_reader_drain(p->out);
    if (!p->done) {
        if (outcome < 0)
            snprintf(p->why, sizeof p->why, "could not start (%s): %s",
                     sbx_stage_name(p->proc.failed_stage), strerror(-outcome));
        else if (!exited)
            snprintf(p->why, sizeof p->why, "killed by signal %d", sig);
        else if (code != 0 && p->out && !probe_reader_tail(p->out)[0])
            snprintf(p->why, sizeof p->why, "exit code %d", code);
    }
    finish(p, outcome == 0 && exited && code == 0, true);
    unref(p);
}

static int start_command(probe *p, const probe_target *t)
{
    int fds[2];
    int r = uv_pipe(fds, UV_NONBLOCK_PIPE, 0);
    if (r < 0)
        return r;
    sbx_command cmd = {.argv = t->argv, .envp = t->envp, .new_session = true, .async = true,
                       .iso = t->iso, .set_ids = t->set_ids, .uid = t->uid, .gid = t->gid,
                       .enter_pid = t->enter_pid};
    cmd.stdio[0] = (sbx_stdio){SBX_STDIO_NULL, NULL, -1};
    cmd.stdio[1] = cmd.stdio[2] = (sbx_stdio){SBX_STDIO_FD, NULL, fds[1]};
    sbx_error err = {0};
    r = sbx_spawn(t->box, &cmd, &p->proc, &err);
    close(fds[1]);
    if (r < 0) {
        close(fds[0]);
        return r;
    }
    p->pid = p->proc.pid;
    p->out = probe_reader_open(p->loop, fds[0], NULL, NULL);
    p->refs++;  /* the reaper's call */
    reaper_watch(p->pid, on_command_exit, p);
    return 0;
}

static int start_kind(probe *p, const probe_target *t)
{
    struct sockaddr_in sa;
    int r;
    switch (t->kind) {
    case PROBE_PORT:
        if (!(p->tcp = malloc(sizeof *p->tcp)))
            return -ENOMEM;
        if ((r = uv_tcp_init(p->loop, p->tcp)) < 0) {
            free(p->tcp);
            p->tcp = NULL;
            return r;
        }
        p->tcp->data = p;
        p->refs++;  /* the tcp handle's close */
        uv_ip4_addr("127.0.0.1", t->port, &sa);
        p->connect.data = p;
        if ((r = uv_tcp_connect(&p->connect, p->tcp, (struct sockaddr *)&sa, on_connect)) < 0)
            return r;
        p->refs++;
        return 0;
    case PROBE_FILE:
        p->stat.data = p;
        if ((r = uv_fs_stat(p->loop, &p->stat, t->path, on_stat)) < 0)
            return r;
        p->refs++;
        return 0;
    case PROBE_COMMAND:
        return start_command(p, t);
    }
    return -EINVAL;
}

int probe_start(probe **out, uv_loop_t *loop, const probe_target *t, uint64_t timeout_ms,
                probe_cb cb, void *data)
{
    probe *p = calloc(1, sizeof *p);
    *out = NULL;
    if (!p || !(p->timer = malloc(sizeof *p->timer))) {
        free(p);
        return -ENOMEM;
    }
    p->loop = loop;
    p->kind = t->kind;
    p->cb = cb;
    p->data = data;
    p->timeout_ms = timeout_ms;
    p->refs = 2;  /* the probe's own, and the timer's close */
    uv_timer_init(loop, p->timer);
    p->timer->data = p;
    int r = start_kind(p, t);
    if (r < 0) {
        finish(p, false, false);
        return r;
    }
    if (timeout_ms)
        uv_timer_start(p->timer, on_timeout, timeout_ms, 0);
    *out = p;
    return 0;
}

void probe_cancel(probe *p)
{
    if (p)
        finish(p, false, false);
}

uv_timer_t *probe_timer_new(uv_loop_t *loop, void *data)
{
    uv_timer_t *t = malloc(sizeof *t);
    if (t) {
        uv_timer_init(loop, t);
        t->data = data;
    }
    return t;
}

static void free_timer(uv_handle_t *t)
{
    free(t);
}

void probe_stop(probe **p, uv_timer_t **timer)
{
    probe_cancel(*p);
    *p = NULL;
    if (*timer)
        uv_close((uv_handle_t *)*timer, free_timer);
    *timer = NULL;
}
