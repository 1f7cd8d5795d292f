/* sd_notify on Windows: there are no datagram sockets to give the program
 * (see notify.h); ready = notify is refused. */
#include <errno.h>
#include <stdio.h>

#include "notify.h"

int notify_open(notify_sock **out, uv_loop_t *loop, const char *run_dir, const char *name,
                long uid, long gid, notify_cb cb, void *data, char *why, size_t len)
{
    (void)loop; (void)run_dir; (void)name; (void)uid; (void)gid; (void)cb; (void)data;
    *out = NULL;
    snprintf(why, len, "ready = notify is not supported on Windows (no datagram sockets)");
    return -ENOTSUP;
}

const char *notify_path(const notify_sock *n)
{
    (void)n;
    return "";
}

void notify_close(notify_sock *n)
{
    (void)n;
}

void notify_self_init(void)
{
}

void notify_self(const char *text)
{
    (void)text;
}
