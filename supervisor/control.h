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

typedef struct control_settings {
    const char *path;
    bool has_control_gid, has_read_gid;
    gid_t control_gid;      /* members may control */
    gid_t read_gid;         /* members may query */
    const char *units_cgroup_root; /* peers in it are refused (peer_cgroup.h);
                                      NULL: no such check */
} control_settings;

typedef struct control control;

int control_start(control **out, uv_loop_t *loop, manager *m,
                  const control_settings *cfg, sbx_error *err);
/* Closes the socket and every client; the memory goes with the handles. */
void control_close(control *ctl);

#endif
