/* Shared between the HTTP listener's files (http.c: the loop and the
 * connections; http_request.c: one request; http_config.c: address and
 * token). Not for use outside them. */
#ifndef SBX_HTTP_INTERNAL_H
#define SBX_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <stdbool.h>

#include "http.h"

/* One open connection, for the request deadline. */
typedef struct http_conn {
    struct http_conn *prev, *next;
    int fd;
    uint64_t deadline_ms;  /* uv_now() by which it must finish a request */
    bool cut;              /* shut down already; MHD will close it */
} http_conn;

struct http_server {
    uv_loop_t *loop;
    struct MHD_Daemon *mhd;
    uv_poll_t poll;
    uv_timer_t timer;
    http_provider provider;
    http_config cfg;
    char *token;                 /* NULL: none */
    size_t token_len;
    bool loopback;               /* listening on a loopback address */
    bool inherited;              /* on a socket handed over by a re-exec */
    struct MHD_Response *page;   /* the status page, made once */
    http_conn *conns;
    outbuf spare;                /* the last body's buffer, kept for the next (see http_request.c) */
    unsigned open_handles;       /* uv handles not yet closed */
};

/* http_request.c */
enum MHD_Result http_handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                            const char *version, const char *upload, size_t *upload_size, void **req);
struct MHD_Response *http_page_response(void);

/* http_config.c */
int http_read_token(const char *path, char **token, size_t *len, char *err, size_t errlen);
bool http_is_loopback(const struct sockaddr_storage *sa);

#endif
