/* Exits on Windows: each watched process's handle. The job backend's port
 * thread wakes the loop (uv_async_send) whenever a job has news; every
 * watched handle is then looked at without waiting. */
#include "reaper_os.h"  /* first: uv.h brings winsock2.h before windows.h */

#include <psapi.h>
#include <windows.h>

static struct {
    uv_async_t wake;
    bool running;
    sbx_backend *be;
} W;

/* The pid cannot be reused before the exit is seen: the spawner holds its
 * own handle until the run is over (sbx_process_release). */
int reaper__open(struct watch *w)
{
    w->handle = OpenProcess(SYNCHRONIZE | PROCESS_QUERY_INFORMATION, FALSE, (DWORD)w->pid);
    return w->handle ? 0 : -ESRCH;
}

void reaper__release(struct watch *w)
{
    if (w->handle)
        CloseHandle(w->handle);
    w->handle = NULL;
}

static int64_t filetime_us(FILETIME t)
{
    return (int64_t)(((uint64_t)t.dwHighDateTime << 32 | t.dwLowDateTime) / 10);
}

static void usage_of(HANDLE h, struct rusage *ru)
{
    memset(ru, 0, sizeof *ru);
    FILETIME created, ended, sys, user;
    if (GetProcessTimes(h, &created, &ended, &sys, &user)) {
        int64_t u = filetime_us(user), s = filetime_us(sys);
        ru->ru_utime = (struct timeval){(long)(u / 1000000), (long)(u % 1000000)};
        ru->ru_stime = (struct timeval){(long)(s / 1000000), (long)(s % 1000000)};
    }
    PROCESS_MEMORY_COUNTERS pmc;  /* wine keeps none for an ended process */
    ru->ru_maxrss = GetProcessMemoryInfo(h, &pmc, sizeof pmc) ? (long)(pmc.PeakWorkingSetSize / 1024) : 0;
}

static void look(struct watch *w)
{
    if (WaitForSingleObject(w->handle, 0) != WAIT_OBJECT_0)
        return;
    DWORD code = 0;
    GetExitCodeProcess(w->handle, &code);
    struct rusage ru;
    usage_of(w->handle, &ru);
    reaper__exited(w->pid, (int)code, &ru);
}

void reaper_reap(void)
{
    reaper__each(look);
    reaper__sweep();  /* a box may have emptied without a watched exit */
}

static void on_wake(uv_async_t *a)
{
    (void)a;
    reaper_reap();
}

static void wake_from_thread(void *data)
{
    (void)data;
    uv_async_send(&W.wake);
}

int reaper_init(uv_loop_t *loop)
{
    int r = uv_async_init(loop, &W.wake, on_wake);
    if (r < 0)
        return r;
    W.running = true;
    uv_unref((uv_handle_t *)&W.wake);
    return 0;
}

void reaper_attach(sbx_backend *be)
{
    if (W.be)
        sbx_backend_set_notify(W.be, NULL, NULL);
    W.be = be;
    if (be)
        sbx_backend_set_notify(be, wake_from_thread, NULL);
}

void reaper_close(void)
{
    reaper_attach(NULL);  /* no wake-up may reach the handle once it is closed */
    if (W.running)
        uv_close((uv_handle_t *)&W.wake, NULL);
    W.running = false;
    reaper__free();
}

bool reaper_exited(int status, int *code, int *sig)
{
    *code = status;
    *sig = 0;
    return (unsigned)status < 0xC0000000u;  /* NTSTATUS errors are crashes */
}
