/* die_with_parent: the box ends with the process that made it.
 *
 * PR_SET_PDEATHSIG alone cannot promise that: it reaches one process (not
 * what it forked and left behind, when there is no PID namespace to end
 * with its PID 1), and a change of uid clears it. So a watcher, forked
 * from the caller before the box's first process, waits outside the box
 * (in the caller's own cgroup, where nothing in the box can see or signal
 * it through a PID namespace) on a pipe only the caller holds. The kernel
 * closes that pipe when the caller ends, whatever kills it; the watcher
 * then kills every process of the box (cgroup.kill, or freeze + kill) and
 * removes the box. A caller that ends normally destroys its box first; the
 * watcher then finds nothing to do. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../backend.h"

static void watcher_signals(void)
{
    struct sigaction ign, dfl;
    memset(&ign, 0, sizeof ign);
    memset(&dfl, 0, sizeof dfl);
    ign.sa_handler = SIG_IGN;
    dfl.sa_handler = SIG_DFL;
    /* Terminal and group signals are the caller's business, not ours: a
     * ^C reaches the caller, which ends the run itself. */
    for (int sig = 1; sig < 32; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, sig == SIGCHLD ? &dfl : &ign, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static _Noreturn void watcher_main(sbx_box *box, int fd)
{
    /* Nothing of the caller's stays open (its output pipes must see their
     * end when it ends), but our end of the pipe. */
    if (fd > 0)
        syscall(SYS_close_range, 0, fd - 1, 0);
    syscall(SYS_close_range, fd + 1, ~0u, 0);
    watcher_signals();
    prctl(PR_SET_NAME, "sbx-watch", 0, 0, 0);
    char c;
    while (read(fd, &c, 1) < 0 && errno == EINTR)
        ;
    sbx_box_kill(box, SIGKILL, NULL);
    /* The killed are reaped by whoever inherits them; the box can go once
     * they are (about 20 ms on v1 for a frozen tree). */
    for (int i = 0; i < 250 && sbx_box_destroy(box, NULL) == -EBUSY; i++)
        usleep(20000);
    _exit(0);
}

int sbx__box_watch(sbx_box *box, sbx_error *err)
{
    if (box->watch_fd >= 0)
        return 0;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return sbx_error_set(err, -errno, "die with parent: pipe: %s", strerror(errno));
    /* No handler of the caller's may run in the watcher before it has set
     * its own (a libuv handler would write into the caller's loop). */
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[1]);
        watcher_main(box, fds[0]);
    }
    int e = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(fds[0]);
    if (pid < 0) {
        close(fds[1]);
        return sbx_error_set(err, -e, "die with parent: fork the watcher: %s", strerror(e));
    }
    box->watch_fd = fds[1];
    return 0;
}
