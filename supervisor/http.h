/* sbxd's read-only HTTP listener: the status page, its JSON API and the
 * Prometheus exposition, served by libmicrohttpd on sbxd's libuv loop.
 *
 * MHD runs in its "external polling" mode with epoll: it has no thread of
 * its own; its epoll fd sits under a uv_poll_t, and MHD_run() is called
 * when that fd is readable. A uv_timer runs only while connections exist
 * (for MHD's idle timeouts and our request deadline), so an HTTP listener
 * nobody talks to costs no CPU.
 *
 * What the listener knows of sbx is the provider below: it never sees the
 * manager, and the provider decides what a unit's JSON holds (never a
 * unit's environment values).
 *
 * Routes (GET and HEAD only; any other method is answered 405):
 *   /                    the status page (supervisor/web/index.html, built in)
 *   /api/v1/units        provider->units_json: {"units":[...]}
 *   /api/v1/units/NAME   provider->unit_json: one unit in detail; 404 if none
 *   /metrics             provider->metrics: Prometheus text 0.0.4
 *
 * Defences: a bearer token (from a file) checked in constant time on every
 * request, also accepted as the password of HTTP Basic so a browser can
 * open the page; on a loopback address, a Host header that names loopback
 * (so a web page elsewhere cannot reach it by DNS rebinding); a limit on
 * connections in all and per client address; a memory limit per
 * connection (oversized headers get 431); an idle timeout; and a deadline
 * by which every connection must have finished a request (a client that
 * sends or reads one byte at a time is cut off then). */
#ifndef SBX_HTTP_H
#define SBX_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "outbuf.h"

/* Each writes a response body into out and returns 0, -ENOENT for "no
 * such unit" (404), or another negative errno (500). Called on the loop's
 * thread, from inside the request. */
typedef struct http_provider {
    void *ctx;
    int (*units_json)(void *ctx, outbuf *out);
    int (*unit_json)(void *ctx, const char *name, outbuf *out);
    int (*metrics)(void *ctx, outbuf *out);
} http_provider;

typedef struct http_config {
    const char *listen;              /* "ADDR:PORT", "[V6ADDR]:PORT" or "PORT" (127.0.0.1) */
    const char *token_file;          /* NULL: no token; else its first line is the token */
    unsigned max_connections;        /* 0: 64 */
    unsigned max_per_address;        /* 0: 16 */
    unsigned idle_timeout_s;         /* 0: 15; a connection silent this long is closed */
    unsigned request_deadline_ms;    /* 0: 20000; see above */
    size_t connection_memory;        /* 0: 32 KiB; headers and buffers of one connection */
    int inherited_fd;                /* > 2: a listening socket handed over by a re-exec,
                                        served when it is bound to `listen` (else closed) */
} http_config;

typedef struct http_server http_server;

/* Parses cfg->listen into sa. 0, or -EINVAL (with a reason in err). */
int http_parse_listen(const char *text, struct sockaddr_storage *sa, char *err, size_t errlen);

/* Starts listening. 0, or a negative errno with a reason in err. */
int http_start(uv_loop_t *loop, const http_config *cfg, const http_provider *provider,
               http_server **out, char *err, size_t errlen);

/* The port it listens on (useful after port 0). */
uint16_t http_port(const http_server *s);
/* The listening socket (to hand over across a re-exec), or -1. */
int http_listen_fd(const http_server *s);
/* Whether the listener is the one handed over (not bound again). */
bool http_inherited(const http_server *s);

/* Closes every connection and the listener; frees s once libuv has let go
 * of its handles (the loop must run on). */
void http_stop(http_server *s);

#endif
