/* Exits on POSIX: SIGCHLD, then wait4(-1) until nothing more is ready. */
#include <signal.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/ptrace.h>
#endif

#include "reaper_os.h"

static struct {
    uv_signal_t sigchld;
    bool running;
} P;

int reaper__open(struct watch *w)
{
    (void)w;
    return 0;
}

void reaper__release(struct watch *w)
{
    (void)w;
}

static struct {
    reaper_inspect_cb cb;
    void *data;
} inspect;

void reaper_set_inspect(reaper_inspect_cb cb, void *data)
{
    inspect.cb = cb;
    inspect.data = data;
}

/* The next child ready to be reaped, left a zombie so the inspect hook can
 * still read its /proc entry; -1 when none. */
static pid_t next_ready(void)
{
    siginfo_t si;
    si.si_pid = 0;
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid <= 0)
        return -1;
    inspect.cb(inspect.data, si.si_pid);
    return si.si_pid;
}

#ifdef __linux__
/* Children stopped under ptrace: sbx-run traces a privileged program on
 * cgroup v1 to see where it is when it exits (a v1 zombie shows "/" in
 * every hierarchy). At that stop the inspect hook reads it and the tracing
 * ends; a signal on its way is delivered; a group stop is kept. */
static void resume_traced(void)
{
    for (;;) {
        siginfo_t si, info;
        si.si_pid = 0;
        if (waitid(P_ALL, 0, &si, WSTOPPED | WNOHANG) < 0 || si.si_pid <= 0)
            return;
        pid_t pid = si.si_pid;
        if (si.si_code != CLD_TRAPPED)
            continue;  /* an untraced child stopped: not ours to resume */
        if (ptrace(PTRACE_GETSIGINFO, pid, 0, &info) < 0) {
            ptrace(PTRACE_LISTEN, pid, 0, 0);  /* a group stop, under PTRACE_SEIZE */
            continue;
        }
        if (info.si_signo == SIGTRAP && (info.si_code >> 8) == PTRACE_EVENT_EXIT) {
            if (inspect.cb)
                inspect.cb(inspect.data, pid);
            ptrace(PTRACE_DETACH, pid, 0, 0);
            continue;
        }
        ptrace(PTRACE_CONT, pid, 0, info.si_signo);
    }
}
#else
static void resume_traced(void)
{
}
#endif

void reaper_reap(void)
{
    bool any = false;
    resume_traced();
    for (;;) {
        int status;
        struct rusage ru;
        pid_t next = inspect.cb ? next_ready() : -1;
        if (inspect.cb && next < 0)
            break;
        pid_t pid = wait4(next, &status, WNOHANG, &ru);
        if (pid <= 0)
            break;  /* 0: none ready; -1/ECHILD: no children at all */
        any = true;
        reaper__exited(pid, status, &ru);
    }
    if (any)
        reaper__sweep();
}

static void on_sigchld(uv_signal_t *h, int signum)
{
    (void)h;
    (void)signum;
    reaper_reap();
}

int reaper_init(uv_loop_t *loop)
{
    int r = uv_signal_init(loop, &P.sigchld);
    if (r < 0)
        return r;
    if ((r = uv_signal_start(&P.sigchld, on_sigchld, SIGCHLD)) < 0)
        return r;
    P.running = true;
    /* Watching for exits is no reason on its own to keep the loop running. */
    uv_unref((uv_handle_t *)&P.sigchld);
    /* Descendants whose parent dies are reparented to us, not to init. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    return 0;
}

void reaper_attach(sbx_backend *be)
{
    (void)be;  /* SIGCHLD says it all */
}

void reaper_close(void)
{
    if (P.running)
        uv_close((uv_handle_t *)&P.sigchld, NULL);
    P.running = false;
    reaper__free();
}

bool reaper_exited(int status, int *code, int *sig)
{
    *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    *sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    return WIFEXITED(status);
}
