/* Inside the control server: the transport (control.c: the socket,
 * clients, framing, writing) and the requests (commands.c: the verbs and
 * the waiters that answer later) share these. Not for other modules. */
#ifndef SBX_CONTROL_PRIV_H
#define SBX_CONTROL_PRIV_H

#include <jansson.h>

#include "control.h"
#include "protocol.h"

typedef enum client_mode { MODE_REQUESTS, MODE_EVENTS, MODE_LOGS } client_mode;

typedef struct client {
    struct client *next, *prev;
    control *ctl;
    uv_pipe_t pipe;
    char *buf;
    size_t len, cap;
    bool read_only, closing;
    bool backlog;                /* lines left after its turn: not read meanwhile */
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
    char goal[16];               /* wait: "ready", "healthy" or a state */
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
    size_t backlogged;           /* clients with a backlog */
    uv_idle_t turns;             /* while any: serves them a turn per loop pass */
    waiter *waiters;
    unsigned run_seq;
    bool fds_short;              /* clients are being refused: said once */
    uint64_t refused;            /* clients refused since */
};

/* ---- the transport (control.c) ---- */

/* Queues a whole line (takes it) to the client; drops a client that has
 * stopped reading. */
void send_line(client *c, char *line, size_t len);
/* Queues msg (consumed) to the client. */
void send_msg(client *c, json_t *msg);
void send_error(client *c, const json_t *id, proto_code code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void close_client(client *c);

/* ---- the requests (commands.c) ---- */

/* Handles one request line of a client. */
void control_handle_line(client *c, const char *line, size_t len);
/* Answers the waiters whose units reached their goal; frees those done. */
void waiters_check(control *ctl);
void waiters_free_done(control *ctl);
/* The client is gone: its waiters answer nobody. */
void waiters_forget(control *ctl, const client *c);
/* sbxd stops: every waiter is dropped unanswered. */
void waiters_cancel_all(control *ctl);

#endif
