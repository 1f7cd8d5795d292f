/* The HTTP listener on the libuv loop (http.h): MHD in external-polling
 * epoll mode, its epoll fd under a uv_poll_t, a timer only while
 * connections exist, and a deadline per connection. */
#include "http_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void schedule(http_server *s);

/* ---- connections and their deadlines ---- */

static void conn_notify(void *cls, struct MHD_Connection *c, void **socket_ctx,
                        enum MHD_ConnectionNotificationCode code)
{
    http_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        http_conn *hc = calloc(1, sizeof *hc);
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!hc || !info) {
            free(hc);  /* untracked: MHD's idle timeout still applies */
            *socket_ctx = NULL;
            return;
        }
        hc->fd = info->connect_fd;
        hc->deadline_ms = uv_now(s->loop) + s->cfg.request_deadline_ms;
        hc->next = s->conns;
        if (s->conns)
            s->conns->prev = hc;
        s->conns = hc;
        *socket_ctx = hc;
    } else if (*socket_ctx) {
        http_conn *hc = *socket_ctx;
        if (hc->prev)
            hc->prev->next = hc->next;
        else
            s->conns = hc->next;
        if (hc->next)
            hc->next->prev = hc->prev;
        free(hc);
        *socket_ctx = NULL;
    }
}

/* A request answered in full: the connection's next deadline starts now. */
static void request_done(void *cls, struct MHD_Connection *c, void **req, enum MHD_RequestTerminationCode toe)
{
    http_server *s = cls;
    (void)req;
    (void)toe;
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (info && info->socket_context)
        ((http_conn *)info->socket_context)->deadline_ms = uv_now(s->loop) + s->cfg.request_deadline_ms;
}

/* Shuts down the sockets of connections past their deadline (MHD sees the
 * end of the stream and closes them; the fd stays MHD's to close); returns
 * the earliest deadline still ahead, or UINT64_MAX. */
static uint64_t cut_late(http_server *s)
{
    uint64_t now = uv_now(s->loop), next = UINT64_MAX;
    for (http_conn *hc = s->conns; hc; hc = hc->next) {
        if (hc->cut)
            continue;
        if (hc->deadline_ms <= now) {
            shutdown(hc->fd, SHUT_RDWR);
            hc->cut = true;
        } else if (hc->deadline_ms < next) {
            next = hc->deadline_ms;
        }
    }
    return next;
}

/* ---- driving MHD from the loop ---- */

static void run_mhd(http_server *s)
{
    MHD_run(s->mhd);
    schedule(s);  /* which also cuts the connections past their deadline */
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    run_mhd(h->data);
}

static void on_timer(uv_timer_t *t)
{
    run_mhd(t->data);
}

/* Arms the timer for the sooner of MHD's own timeout and the next
 * deadline; with no connection there is neither, and the timer stops. */
static void schedule(http_server *s)
{
    uint64_t wait = UINT64_MAX;
    MHD_UNSIGNED_LONG_LONG mhd_ms;
    if (MHD_get_timeout(s->mhd, &mhd_ms) == MHD_YES)
        wait = mhd_ms;
    uint64_t next = cut_late(s), now = uv_now(s->loop);
    if (next != UINT64_MAX && next - now < wait)
        wait = next - now;
    if (wait == UINT64_MAX)
        uv_timer_stop(&s->timer);
    else
        uv_timer_start(&s->timer, on_timer, wait, 0);
}

/* ---- start and stop ---- */

static void http_defaults(http_config *c)
{
    if (!c->max_connections)
        c->max_connections = 64;
    if (!c->max_per_address)
        c->max_per_address = 16;
    if (!c->idle_timeout_s)
        c->idle_timeout_s = 15;
    if (!c->request_deadline_ms)
        c->request_deadline_ms = 20000;
    if (!c->connection_memory)
        c->connection_memory = 32 * 1024;
    c->listen = NULL;      /* not kept: the caller's strings may go */
    c->token_file = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    (void)fmt;
    (void)ap;  /* MHD's notes about clients (bad requests, resets) would let any client fill sbxd's log */
}

/* Whether fd is a listening TCP socket bound where sa asks (port 0: any
 * port, as the one handed over was chosen for the same address). */
static bool bound_to(int fd, const struct sockaddr_storage *sa)
{
    struct sockaddr_storage got;
    socklen_t len = sizeof got;
    int listening = 0;
    socklen_t ilen = sizeof listening;
    if (getsockname(fd, (struct sockaddr *)&got, &len) < 0 || got.ss_family != sa->ss_family ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ilen) < 0 || !listening)
        return false;
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)&got, *b = (const void *)sa;
        return a->sin_addr.s_addr == b->sin_addr.s_addr && (!b->sin_port || a->sin_port == b->sin_port);
    }
    const struct sockaddr_in6 *a = (const void *)&got, *b = (const void *)sa;
    return memcmp(&a->sin6_addr, &b->sin6_addr, sizeof a->sin6_addr) == 0 &&
           (!b->sin6_port || a->sin6_port == b->sin6_port);
}

/* The listening socket a re-exec handed over, when it still fits the
 * address asked for (the configuration may have changed): served as it
 * is, so a client connecting meanwhile waited in its backlog. Else -1. */
static int take_inherited(http_server *s, const struct sockaddr_storage *sa)
{
    int fd = s->cfg.inherited_fd;
    s->cfg.inherited_fd = 0;
    if (fd <= 2)
        return -1;
    if (!bound_to(fd, sa)) {
        close(fd);
        return -1;
    }
    s->inherited = true;
    return fd;
}

static int start_mhd(http_server *s, const struct sockaddr_storage *sa, char *err, size_t errlen)
{
    unsigned flags = MHD_USE_EPOLL | (sa->ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    int fd = take_inherited(s, sa);
    struct MHD_OptionItem where[] = {
        fd >= 0 ? (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, fd, NULL}
                : (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, (void *)sa},
        {MHD_OPTION_END, 0, NULL}};
    s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, http_handle, s,
        MHD_OPTION_ARRAY, where,
        MHD_OPTION_CONNECTION_LIMIT, s->cfg.max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->cfg.max_per_address,
        MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.idle_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, s->cfg.connection_memory,
        MHD_OPTION_NOTIFY_CONNECTION, conn_notify, s,
        MHD_OPTION_NOTIFY_COMPLETED, request_done, s,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 64u,
        MHD_OPTION_END);
    if (!s->mhd) {
        int e = errno ? errno : EADDRINUSE;
        snprintf(err, errlen, "cannot listen: %s", strerror(e));
        return -e;
    }
    return 0;
}

static int start_handles(http_server *s, char *err, size_t errlen)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    int r = info ? uv_poll_init(s->loop, &s->poll, info->epoll_fd) : UV_EINVAL;
    if (r == 0) {
        s->open_handles++;
        s->poll.data = s;
        r = uv_poll_start(&s->poll, UV_READABLE, on_poll);
    }
    if (r == 0) {
        uv_timer_init(s->loop, &s->timer);
        s->open_handles++;
        s->timer.data = s;
    }
    if (r)
        snprintf(err, errlen, "cannot watch the listener: %s", uv_strerror(r));
    return r;
}

int http_start(uv_loop_t *loop, const http_config *cfg, const http_provider *provider,
               http_server **out, char *err, size_t errlen)
{
    struct sockaddr_storage sa;
    int r = http_parse_listen(cfg->listen ? cfg->listen : "", &sa, err, errlen);
    if (r)
        return r;
    http_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    s->loop = loop;
    s->provider = *provider;
    s->cfg = *cfg;
    http_defaults(&s->cfg);
    s->loopback = http_is_loopback(&sa);
    if ((cfg->token_file && (r = http_read_token(cfg->token_file, &s->token, &s->token_len, err, errlen))) ||
        (r = start_mhd(s, &sa, err, errlen)) || (r = start_handles(s, err, errlen)) ||
        (!(s->page = http_page_response()) && (r = -ENOMEM))) {
        http_stop(s);
        return r;
    }
    *out = s;
    return 0;
}

int http_listen_fd(const http_server *s)
{
    const union MHD_DaemonInfo *info = s ? MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_LISTEN_FD) : NULL;
    return info ? (int)info->listen_fd : -1;
}

bool http_inherited(const http_server *s)
{
    return s && s->inherited;
}

uint16_t http_port(const http_server *s)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

static void handle_closed(uv_handle_t *h)
{
    http_server *s = h->data;
    if (--s->open_handles == 0)
        free(s);
}

void http_stop(http_server *s)
{
    if (!s)
        return;
    unsigned handles = s->open_handles;
    /* Off the loop before MHD closes the epoll fd under it. */
    if (handles >= 1)
        uv_close((uv_handle_t *)&s->poll, handle_closed);
    if (handles >= 2)
        uv_close((uv_handle_t *)&s->timer, handle_closed);
    if (s->mhd)
        MHD_stop_daemon(s->mhd);  /* closes every connection: conn_notify frees them */
    if (s->page)
        MHD_destroy_response(s->page);
    out_free(&s->spare);
    if (s->token)
        memset(s->token, 0, s->token_len);
    free(s->token);
    s->token = NULL;
    if (!handles)
        free(s);
}
