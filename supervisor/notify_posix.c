/* A unit's sd_notify socket on the loop: see notify.h. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

struct notify_sock {
    uv_poll_t poll;
    int fd;
    notify_cb cb;
    void *data;
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static int fail(char *why, size_t len, int r, const char *what, const char *path)
{
    snprintf(why, len, "notify socket: %s %s: %s", what, path, strerror(-r));
    return r;
}

/* One datagram: its text, the sender's pid, and no descriptor kept (a
 * FDSTORE=1 sender's are closed: sbxd keeps none). */
static ssize_t receive(int fd, char *buf, size_t len, pid_t *pid)
{
    union {
        char space[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 16)];
        struct cmsghdr align;
    } control;
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                        .msg_controllen = sizeof control};
    ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    *pid = 0;
    if (n < 0)
        return -errno;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET)
            continue;
        if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
            struct ucred cred;
            memcpy(&cred, CMSG_DATA(c), sizeof cred);
            *pid = cred.pid;
        } else if (c->cmsg_type == SCM_RIGHTS) {
            size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < nfd; i++) {
                int got;
                memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
                close(got);
            }
        }
    }
    if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
        return -EMSGSIZE;  /* not a message we can trust whole */
    return n;
}

static void on_readable(uv_poll_t *p, int status, int events)
{
    notify_sock *n = p->data;
    (void)events;
    if (status < 0)
        return;
    char buf[4096];
    pid_t pid;
    /* A burst is read at once, but bounded: other units get their turn. */
    for (int i = 0; i < 64; i++) {
        ssize_t got = receive(n->fd, buf, sizeof buf, &pid);
        if (got == -EAGAIN || got == -EWOULDBLOCK)
            return;
        if (got < 0)
            continue;
        notify_msg m;
        if (notify_parse(buf, (size_t)got, &m) > 0)
            n->cb(n, &m, pid, n->data);
    }
}

static int bind_socket(notify_sock *n, long uid, long gid, char *why, size_t len)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, n->path, strlen(n->path) + 1);
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (n->fd < 0)
        return fail(why, len, -errno, "socket", n->path);
    int one = 1;
    if (setsockopt(n->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
        return fail(why, len, -errno, "SO_PASSCRED", n->path);
    unlink(n->path);  /* left by an sbxd that was killed */
    if (bind(n->fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        return fail(why, len, -errno, "bind", n->path);
    /* The unit's user must be able to send; nobody else needs to. */
    if ((uid >= 0 || gid >= 0) &&
        (chown(n->dir, (uid_t)uid, (gid_t)gid) < 0 || chown(n->path, (uid_t)uid, (gid_t)gid) < 0))
        return fail(why, len, -errno, "chown", n->path);
    if (chmod(n->path, 0600) < 0)
        return fail(why, len, -errno, "chmod", n->path);
    return 0;
}

void notify_make_dir(const char *base)
{
    char path[1200];
    snprintf(path, sizeof path, "%s", base);
    for (char *c = path + 1; *c; c++)
        if (*c == '/') {
            *c = '\0';
            mkdir(path, 0755);
            *c = '/';
        }
    mkdir(path, 0755);
}

int notify_open(notify_sock **out, uv_loop_t *loop, const char *base, const char *name,
                long uid, long gid, notify_cb cb, void *data, char *why, size_t len)
{
    notify_sock *n = calloc(1, sizeof *n);
    int r;
    *out = NULL;
    if (!n)
        return fail(why, len, -ENOMEM, "for", name);
    n->fd = -1;
    n->cb = cb;
    n->data = data;
    int dl = snprintf(n->dir, sizeof n->dir, "%s/%s", base, name);
    int pl = snprintf(n->path, sizeof n->path, "%s/notify", n->dir);
    if (dl < 0 || pl < 0 || (size_t)pl >= sizeof n->path) {
        r = fail(why, len, -ENAMETOOLONG, "path", n->dir);
        goto error_free;
    }
    notify_make_dir(base);
    if (mkdir(n->dir, 0700) < 0 && errno != EEXIST) {
        r = fail(why, len, -errno, "mkdir", n->dir);
        goto error;
    }
    if ((r = bind_socket(n, uid, gid, why, len)) < 0)
        goto error;
    if ((r = uv_poll_init(loop, &n->poll, n->fd)) < 0) {
        r = fail(why, len, r, "poll", n->path);
        goto error;
    }
    n->poll.data = n;
    uv_poll_start(&n->poll, UV_READABLE, on_readable);
    *out = n;
    return 0;
error:
    if (n->fd >= 0) {
        close(n->fd);
        unlink(n->path);
    }
    rmdir(n->dir);
error_free:
    free(n);
    return r;
}

const char *notify_path(const notify_sock *n)
{
    return n->path;
}

const char *notify_dir(const notify_sock *n)
{
    return n->dir;
}

static void on_closed(uv_handle_t *h)
{
    notify_sock *n = h->data;
    close(n->fd);
    free(n);
}

void notify_close(notify_sock *n)
{
    if (!n)
        return;
    unlink(n->path);
    rmdir(n->dir);
    uv_close((uv_handle_t *)&n->poll, on_closed);
}

/* ---- sbxd's own messages ---- */

static struct {
    int fd;
    struct sockaddr_un sa;
    socklen_t len;
} self = {.fd = -1};

void notify_self_init(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    size_t n = path ? strlen(path) : 0;
    if (n == 0 || n >= sizeof self.sa.sun_path || (path[0] != '/' && path[0] != '@')) {
        unsetenv("NOTIFY_SOCKET");
        return;
    }
    self.sa.sun_family = AF_UNIX;
    memcpy(self.sa.sun_path, path, n);
    if (path[0] == '@')
        self.sa.sun_path[0] = '\0';
    self.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '/'));
    self.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    unsetenv("NOTIFY_SOCKET");
}

void notify_self(const char *text)
{
    if (self.fd >= 0)
        sendto(self.fd, text, strlen(text), MSG_NOSIGNAL, (struct sockaddr *)&self.sa, self.len);
}
