/* The sd_notify protocol, as a unit speaks it to sbxd (ready = notify).
 *
 * Each unit that uses it gets a datagram socket of its own at
 * RUNDIR/notify/HASH/NAME/notify (HASH: one directory per sbxd instance,
 * from its cgroup tree and state directory), named to its program in
 * NOTIFY_SOCKET: a message that arrives there is the unit's, known
 * without looking the sender up in /proc (Debian's systemd-notify sends
 * and exits at once, so a lookup afterwards races with its exit). In a
 * unit's mount namespace RUNDIR/notify is hidden but for the unit's own
 * directory (sbx_isolation.reveal), so no other unit can reach the
 * socket, even by a sender that exits before sbxd reads. The sender's
 * pid (SO_PASSCRED) is still checked against the unit's box, so a live
 * process outside the unit that finds the socket (a privileged unit, the
 * host) is ignored and logged.
 *
 * Messages are KEY=VALUE lines: READY=1, STATUS=TEXT, WATCHDOG=1,
 * STOPPING=1, RELOADING=1, MAINPID=N; others are ignored, as systemd
 * does. notify_parse is pure (tested without a socket). Windows has no
 * such sockets: notify_open says so and ready = notify is refused there. */
#ifndef SBX_NOTIFY_H
#define SBX_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <uv.h>

#define NOTIFY_STATUS_MAX 256

typedef struct notify_msg {
    bool ready, watchdog, stopping, reloading;
    bool has_status;
    char status[NOTIFY_STATUS_MAX];     /* cut at the limit, NUL-terminated */
    long mainpid;                       /* 0: none given */
} notify_msg;

/* Parses one datagram. Returns the number of KEY=VALUE lines understood
 * (0: nothing for us). Never fails: bad lines are skipped. */
int notify_parse(const char *buf, size_t len, notify_msg *m);

typedef struct notify_sock notify_sock;
/* A message from pid (0 when the kernel did not say). */
typedef void (*notify_cb)(notify_sock *n, const notify_msg *m, pid_t pid, void *data);

/* mkdir -p of BASE (sbxd's RUNDIR/notify/HASH), each level readable by
 * all: a unit's user must pass through (its own directory is 0700). */
void notify_make_dir(const char *base);
/* Makes BASE/NAME/ (BASE, sbxd's notify directory, too when missing) and
 * binds the socket there (an old one is removed first), owned by uid/gid
 * when they are >= 0. Returns 0, or -errno with why filled. */
int notify_open(notify_sock **out, uv_loop_t *loop, const char *base, const char *name,
                long uid, long gid, notify_cb cb, void *data, char *why, size_t len);
/* The path to give the program as NOTIFY_SOCKET. */
const char *notify_path(const notify_sock *n);
/* Its directory (BASE/NAME): the one a unit sees of sbxd's notify tree. */
const char *notify_dir(const notify_sock *n);
/* Closes the socket and removes its file and directory. */
void notify_close(notify_sock *n);

/* sbxd's own side, as a service of systemd (or any manager that sets
 * NOTIFY_SOCKET): notify_self_init takes the variable out of the
 * environment (the units must not inherit it) and keeps where it points
 * ("@NAME": the abstract namespace); notify_self sends one message, or
 * does nothing when there is no such socket. */
void notify_self_init(void);
void notify_self(const char *text);

#endif
