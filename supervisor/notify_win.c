/* sd_notify on Windows: there are no datagram sockets to give the program
 * (see notify.h); ready = notify is refused. */
#include <errno.h>
#include <stdio.h>

#include "notify.h"

int notify_open(notify_sock **out, uv_loop_t *loop, const char *base, const char *name,
                long uid, long gid, notify_cb cb, void *data, char *why, size_t len)
{
    (void)loop; (void)base; (void)name; (void)uid; (void)gid; (void)cb; (void)data;
    *out = NULL;
    snprintf(why, len, "ready = notify is not supported on Windows (no datagram sockets)");
    return -ENOTSUP;
}

void notify_make_dir(const char *base)
{
    (void)base;
}

const char *notify_path(const notify_sock *n)
{
    (void)n;
    return "";
}

const char *notify_dir(const notify_sock *n)
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
