/* Re-adoption where there is none (Windows): a job object dies with its
 * last handle, so nothing outlives sbxd to be adopted; no state directory
 * either (sbxd's default there is "none"). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "adopt.h"
#include "reexec.h"

const char *adopt_verdict_name(adopt_verdict v)
{
    (void)v;
    return "nothing";
}

adopt_verdict adopt_judge(const state_record *r, int read_result, bool pid_alive,
                          bool in_box, uint64_t def_hash)
{
    (void)r, (void)read_result, (void)pid_alive, (void)in_box, (void)def_hash;
    return ADOPT_NOTHING;
}

int adopt_watch_start(uv_loop_t *loop, pid_t pid, uint64_t pid_start, sbx_box *box,
                      adopt_exit_cb cb, void *data, adopt_watch **out)
{
    (void)loop, (void)pid, (void)pid_start, (void)box, (void)cb, (void)data, (void)out;
    return -ENOSYS;
}

void adopt_watch_close(adopt_watch *w)
{
    (void)w;
}

uint64_t state_hash(const char *text)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    return h;
}

int state_open(state_dir *sd, const char *path, char *why, size_t whylen)
{
    (void)path;
    memset(sd, 0, sizeof *sd);
    sd->units_fd = sd->lock_fd = sd->output_fd = -1;
    snprintf(why, whylen, "no state directory on this platform");
    return -ENOSYS;
}

void state_close(state_dir *sd) { (void)sd; }
void state_close_clean(state_dir *sd) { (void)sd; }
int state_write(state_dir *sd, const char *name, const state_record *r)
{
    (void)sd, (void)name, (void)r;
    return -ENOSYS;
}
int state_read(state_dir *sd, const char *name, state_record *r, char *why, size_t whylen)
{
    (void)sd, (void)name, (void)r, (void)why, (void)whylen;
    return -ENOENT;
}
void state_remove(state_dir *sd, const char *name) { (void)sd, (void)name; }
int state_fifo(state_dir *sd, const char *name, bool nonblock)
{
    (void)sd, (void)name, (void)nonblock;
    return -ENOSYS;
}
void state_fifo_remove(state_dir *sd, const char *name) { (void)sd, (void)name; }
void state_prune(state_dir *sd, bool (*keep)(const char *name, void *data), void *data)
{
    (void)sd, (void)keep, (void)data;
}
int state_pid_start(pid_t pid, uint64_t *start)
{
    (void)pid, (void)start;
    return -ENOSYS;
}
bool state_pid_matches(pid_t pid, uint64_t start)
{
    (void)pid, (void)start;
    return false;
}

/* No re-exec on Windows (reexec.h, state.h): nothing is ever handed over. */
bool state_pid_is_child(pid_t pid, uint64_t start)
{
    (void)pid, (void)start;
    return false;
}

pid_t state_pid_parent(pid_t pid)
{
    (void)pid;
    return -1;
}

unsigned reexec_unit_slot(const char *name)
{
    (void)name;
    return 0;
}

const reexec_unit *reexec_unit_find(const char *name)
{
    (void)name;
    return NULL;
}
