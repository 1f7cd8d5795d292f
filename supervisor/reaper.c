/* The reaper: a pid -> watcher table (open addressing, linear probing) and
 * the SIGCHLD handler that drains it. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "reaper.h"

struct watch {
    pid_t pid;            /* 0 = free, -1 = deleted */
    reaper_exit_cb cb;
    void *data;
};

struct sweep {
    reaper_sweep_cb cb;
    void *data;
};

static struct {
    uv_signal_t sigchld;
    bool running;
    struct watch *slots;
    size_t cap, used, live;
    struct sweep *sweeps;
    size_t nsweeps, sweeps_cap;
} R;

static size_t slot_of(pid_t pid, size_t cap)
{
    return ((size_t)pid * 2654435761u) & (cap - 1);
}

static struct watch *find(pid_t pid)
{
    if (!R.cap)
        return NULL;
    for (size_t i = slot_of(pid, R.cap), n = 0; n < R.cap; i = (i + 1) & (R.cap - 1), n++) {
        if (R.slots[i].pid == pid)
            return &R.slots[i];
        if (R.slots[i].pid == 0)
            return NULL;
    }
    return NULL;
}

static int grow(void)
{
    size_t cap = R.cap ? R.cap * 2 : 64;
    while (R.live * 2 >= cap)
        cap *= 2;
    struct watch *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    for (size_t i = 0; i < R.cap; i++) {
        if (R.slots[i].pid <= 0)
            continue;
        size_t j = slot_of(R.slots[i].pid, cap);
        while (slots[j].pid)
            j = (j + 1) & (cap - 1);
        slots[j] = R.slots[i];
    }
    free(R.slots);
    R.slots = slots;
    R.cap = cap;
    R.used = R.live;
    return 0;
}

int reaper_watch(pid_t pid, reaper_exit_cb cb, void *data)
{
    if ((R.used + 1) * 4 >= R.cap * 3 && grow() < 0)
        return -ENOMEM;
    size_t i = slot_of(pid, R.cap);
    while (R.slots[i].pid > 0 && R.slots[i].pid != pid)
        i = (i + 1) & (R.cap - 1);
    if (R.slots[i].pid == 0)
        R.used++;
    if (R.slots[i].pid != pid)
        R.live++;
    R.slots[i] = (struct watch){pid, cb, data};
    return 0;
}

void reaper_unwatch(pid_t pid)
{
    struct watch *w = find(pid);
    if (w) {
        w->pid = -1;
        R.live--;
    }
}

int reaper_add_sweep(reaper_sweep_cb cb, void *data)
{
    if (R.nsweeps == R.sweeps_cap) {
        size_t cap = R.sweeps_cap ? R.sweeps_cap * 2 : 8;
        struct sweep *s = realloc(R.sweeps, cap * sizeof *s);
        if (!s)
            return -ENOMEM;
        R.sweeps = s;
        R.sweeps_cap = cap;
    }
    R.sweeps[R.nsweeps++] = (struct sweep){cb, data};
    return 0;
}

void reaper_remove_sweep(reaper_sweep_cb cb, void *data)
{
    for (size_t i = 0; i < R.nsweeps; i++)
        if (R.sweeps[i].cb == cb && R.sweeps[i].data == data) {
            R.sweeps[i] = R.sweeps[--R.nsweeps];
            return;
        }
}

void reaper_reap(void)
{
    bool any = false;
    for (;;) {
        int status;
        struct rusage ru;
        pid_t pid = wait4(-1, &status, WNOHANG, &ru);
        if (pid <= 0)
            break;  /* 0: none ready; -1/ECHILD: no children at all */
        any = true;
        struct watch *w = find(pid);
        if (!w)
            continue;  /* an orphan of some tree: reaped, nothing else to do */
        struct watch copy = *w;
        w->pid = -1;
        R.live--;
        copy.cb(copy.data, pid, status, &ru);
    }
    /* Sweepers may remove themselves: walk a snapshot from the end. */
    for (size_t i = R.nsweeps; any && i-- > 0;)
        if (i < R.nsweeps)
            R.sweeps[i].cb(R.sweeps[i].data);
}

static void on_sigchld(uv_signal_t *h, int signum)
{
    (void)h;
    (void)signum;
    reaper_reap();
}

int reaper_init(uv_loop_t *loop)
{
    int r = uv_signal_init(loop, &R.sigchld);
    if (r < 0)
        return r;
    if ((r = uv_signal_start(&R.sigchld, on_sigchld, SIGCHLD)) < 0)
        return r;
    R.running = true;
    /* Watching for exits is no reason on its own to keep the loop running. */
    uv_unref((uv_handle_t *)&R.sigchld);
    /* Descendants whose parent dies are reparented to us, not to init. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    return 0;
}

void reaper_close(void)
{
    if (R.running)
        uv_close((uv_handle_t *)&R.sigchld, NULL);
    R.running = false;
    free(R.slots);
    free(R.sweeps);
    R.slots = NULL;
    R.sweeps = NULL;
    R.cap = R.used = R.live = R.nsweeps = R.sweeps_cap = 0;
}
