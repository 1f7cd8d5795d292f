/* Into a running sandbox's namespaces (sbx_command.enter_pid): a health
 * probe runs where its unit runs, contained by the same last steps as any
 * spawn. The parent opens a pidfd and decides which namespaces differ from
 * ours; the child enters them all at once with setns(pidfd, flags). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "isolate.h"

/* Whether pid's namespace of this kind is not ours. */
static bool differs(pid_t pid, const char *kind)
{
    char theirs[64], ours[64];
    struct stat a, b;
    snprintf(theirs, sizeof theirs, "/proc/%d/ns/%s", (int)pid, kind);
    snprintf(ours, sizeof ours, "/proc/self/ns/%s", kind);
    return stat(theirs, &a) == 0 && stat(ours, &b) == 0 &&
           (a.st_ino != b.st_ino || a.st_dev != b.st_dev);
}

int sbx__iso_enter_prepare(pid_t pid, sbx__iso_plan *p, sbx_error *err)
{
    static const struct { const char *kind; unsigned long flag; } ns[] = {
        {"user", CLONE_NEWUSER}, {"mnt", CLONE_NEWNS}, {"ipc", CLONE_NEWIPC},
        {"uts", CLONE_NEWUTS}, {"net", CLONE_NEWNET}, {"pid", CLONE_NEWPID},
        {"cgroup", CLONE_NEWCGROUP},
    };
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return sbx_error_set(err, -errno, "sandbox: enter pid %d: %s", (int)pid, strerror(errno));
    p->enter_fd = fd;
    p->enter_flags = 0;
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        if (differs(pid, ns[i].kind))
            p->enter_flags |= ns[i].flag;
    /* The sandbox has its namespaces and mounts already: make none. */
    p->clone_flags = 0;
    p->mount_ns = p->userns = p->hide_proc = p->no_net = p->private_tmp = false;
    p->hostname = NULL;
    p->nro = p->nallow = 0;
    /* A PID namespace takes effect for children: a relay forks the program
     * inside and passes its status on, as sbx's init does. */
    p->pid_init = (p->enter_flags & CLONE_NEWPID) != 0;
    p->pid_ns = false;  /* no /proc of ours: it would land in the sandbox's mounts */
    p->wait_all = false;
    return 0;
}

int sbx__iso_enter(const sbx__iso_plan *p, sbx__iso_failure *f)
{
    if (p->enter_fd < 0 || !p->enter_flags)
        return 0;
    if (setns(p->enter_fd, (int)p->enter_flags) < 0) {
        f->step = "enter the namespaces of";
        f->path = "the sandbox";
        return -errno;
    }
    return 0;
}
