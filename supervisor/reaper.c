/* The reaper's table: pid -> watcher (open addressing, linear probing),
 * and the sweepers called after each batch of exits. How exits are learnt
 * is the platform's: reaper_posix.c (SIGCHLD) and reaper_win.c (process
 * handles, woken by the job backend's thread). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "reaper.h"
#include "reaper_os.h"

struct sweep {
    reaper_sweep_cb cb;
    void *data;
};

static struct {
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
    struct watch w = {pid, cb, data, NULL};
    int r = reaper__open(&w);
    if (r < 0)
        return r;
    if (R.slots[i].pid == 0)
        R.used++;
    if (R.slots[i].pid != pid)
        R.live++;
    else
        reaper__release(&R.slots[i]);
    R.slots[i] = w;
    return 0;
}

void reaper_unwatch(pid_t pid)
{
    struct watch *w = find(pid);
    if (w) {
        reaper__release(w);
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

void reaper__exited(pid_t pid, int status, const struct rusage *ru)
{
    struct watch *w = find(pid);
    if (!w)
        return;  /* an orphan of some tree: reaped, nothing else to do */
    struct watch copy = *w;
    reaper__release(w);
    w->pid = -1;
    R.live--;
    copy.cb(copy.data, pid, status, ru);
}

void reaper__sweep(void)
{
    /* Sweepers may remove themselves: walk a snapshot from the end. */
    for (size_t i = R.nsweeps; i-- > 0;)
        if (i < R.nsweeps)
            R.sweeps[i].cb(R.sweeps[i].data);
}

void reaper__each(void (*fn)(struct watch *w))
{
    for (size_t i = 0; i < R.cap; i++)
        if (R.slots[i].pid > 0)
            fn(&R.slots[i]);
}

void reaper__free(void)
{
    for (size_t i = 0; i < R.cap; i++)
        if (R.slots[i].pid > 0)
            reaper__release(&R.slots[i]);
    free(R.slots);
    free(R.sweeps);
    R.slots = NULL;
    R.sweeps = NULL;
    R.cap = R.used = R.live = R.nsweeps = R.sweeps_cap = 0;
}
