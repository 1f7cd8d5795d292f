/* Exits on POSIX: SIGCHLD, then wait4(-1) until nothing more is ready. */
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
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

/* The next child ready to be reaped, left a zombie so the inspect hook can
 * still read its /proc entry; -1 when none. A tracer is told of its
 * tracees' stops whatever it asks for: a stop met here is resumed, never
 * taken for an exit. */
static pid_t next_ready(void)
{
    for (;;) {
        siginfo_t si;
        si.si_pid = 0;
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid <= 0)
            return -1;
        if (si.si_code == CLD_TRAPPED) {
            resume_traced();
            continue;
        }
        inspect.cb(inspect.data, si.si_pid);
        return si.si_pid;
    }
}

/* Every exit ready now is reaped before any is handled: a stop of
 * thousands of units reaps them as they die, and the cleaning up of each
 * (its cgroups, its result) comes after, as a batch. */
struct exit_rec {
    pid_t pid;
    int status;
    struct rusage ru;
};

static struct exit_rec *batch;
static size_t batch_cap;

static size_t reap_ready(void)
{
    size_t n = 0;
    for (;;) {
        if (n == batch_cap) {
            size_t cap = batch_cap ? batch_cap * 2 : 64;
            struct exit_rec *v = realloc(batch, cap * sizeof *v);
            if (!v)
                break;  /* the rest at the next SIGCHLD or pass */
            batch = v;
            batch_cap = cap;
        }
        struct exit_rec *e = &batch[n];
        pid_t next = inspect.cb ? next_ready() : -1;
        if (inspect.cb && next < 0)
            break;
        e->pid = wait4(next, &e->status, WNOHANG, &e->ru);
        if (e->pid <= 0)
            break;  /* 0: none ready; -1/ECHILD: no children at all */
        n++;
    }
    return n;
}

void reaper_reap(void)
{
    bool any = false;
    resume_traced();
    for (size_t n; (n = reap_ready()) > 0;) {
        any = true;
        for (size_t i = 0; i < n; i++)  /* handlers never reap (SIGCHLD only) */
            reaper__exited(batch[i].pid, batch[i].status, &batch[i].ru);
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
    free(batch);
    batch = NULL;
    batch_cap = 0;
}

bool reaper_exited(int status, int *code, int *sig)
{
    *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    *sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    return WIFEXITED(status);
}
