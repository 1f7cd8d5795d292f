/* The control server's endpoint, one per platform: a Unix socket whose
 * peers are told apart by SO_PEERCRED (control_posix.c), or a named pipe
 * that only Administrators, SYSTEM and sbxd's own account may open
 * (control_win.c). */
#ifndef SBX_CONTROL_OS_H
#define SBX_CONTROL_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "control.h"

/* Binds server (initialised, not yet listening) to cfg->path with its
 * access already restricted: nobody else can reach it in between. */
int control_os_bind(uv_pipe_t *server, const control_settings *cfg, sbx_error *err);
/* What the peer of an accepted client may do: "control", "read", or NULL
 * (refused; who then names the peer for the message). */
const char *control_os_access(const control_settings *cfg, uv_pipe_t *client, char *who,
                              size_t len);
/* Descriptors kept free for the units: a client accepted with fewer left
 * is refused, so that connections cannot starve spawns and restarts. */
#define CONTROL_FD_RESERVE 32
/* Whether sbxd is short of descriptors, judged by an accepted client's
 * own (the kernel hands out the lowest free number: descriptor N means at
 * least N are in use): true when fewer than CONTROL_FD_RESERVE remain,
 * with *in_use and *limit set. */
bool control_os_fds_short(uv_pipe_t *client, uint64_t *in_use, uint64_t *limit);
/* Removes what control_os_bind left in the file system. */
void control_os_unbind(const char *path);

#endif
