/* The control server: a Unix socket (a named pipe on Windows) on the loop
 * speaking doc/protocol.md. Each connection's access is decided by the
 * endpoint (control_os.h); requests are handled one
 * line at a time; event and log streams write without ever blocking the
 * loop (a client that stops reading is dropped). */
#ifndef SBX_CONTROL_H
#define SBX_CONTROL_H

#include <stdbool.h>
#include <sys/types.h>
#include <uv.h>

#include "manager.h"
#include "outbuf.h"

typedef struct control_settings {
    const char *path;
    bool has_control_gid, has_read_gid;
    gid_t control_gid;      /* members may control */
    gid_t read_gid;         /* members may query */
    const char *units_cgroup_root; /* peers in it are refused (peer_cgroup.h);
                                      NULL: no such check */
    const char *units_cgroup_base; /* the root is below this v2 cgroup, not
                                      below sbxd's own (scope.h); or NULL */
    /* The Prometheus text of the units, for the metrics verb (observe.c
     * writes it); NULL: the verb answers that there is none here. */
    int (*metrics)(void *views, outbuf *out);
    void *views;
    /* A status request with "watch":true (sbxctl top): someone looks at
     * the units, so their trends are sampled for a while. NULL: ignored. */
    void (*watched)(void *watch_ctx);
    void *watch_ctx;
    /* The reexec verb: executes sbxd again (reexec.h); returns only on
     * failure, with why filled. NULL: the verb fails. */
    void (*reexec)(void *reexec_ctx, char *why, size_t len);
    void *reexec_ctx;
    /* A listening socket kept open across a re-exec: used as it is, no
     * bind (and the path is not checked for a live sbxd: it is us). */
    bool has_listen_fd;
    int listen_fd;
} control_settings;

typedef struct control control;

int control_start(control **out, uv_loop_t *loop, manager *m,
                  const control_settings *cfg, sbx_error *err);
/* The listening socket's fd, to keep across a re-exec; -1 when none. */
int control_listen_fd(const control *ctl);
/* Closes the socket and every client; the memory goes with the handles. */
void control_close(control *ctl);

#endif
