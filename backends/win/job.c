/* The job-object backend (Windows). One job per box, created with
 * kill-on-close so nothing outlives the supervisor; limits through the
 * job's extended and CPU-rate information; whole-tree kill with
 * TerminateJobObject.
 *
 * Events: every job is associated with the backend's one I/O completion
 * port, its key naming the box. A thread waits on the port, counts
 * processes in and out and memory-limit hits, and calls
 * the notify callback so an event loop elsewhere can look (uv_async_send).
 * Windows may drop these messages, so the job's own accounting is preferred
 * where the system fills it in; wine does not, and then the counts are what
 * there is. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <windows.h>

#include "../backend.h"
#include "win.h"

struct job_box {
    HANDLE job;
    ULONG_PTR key;
    struct job_box *next;
    /* Under the backend's lock: the port thread writes them. */
    LONG active, peak;
    LONG memory_hits;
    LONG process_limit_hits;   /* CreateProcess calls the limit refused */
};

struct job_backend {
    HANDLE port;
    HANDLE thread;
    SRWLOCK lock;
    struct job_box *boxes;
    ULONG_PTR next_key;
    void (*notify)(void *data);
    void *notify_data;
};

#define QUIT_KEY ((ULONG_PTR)0)

static struct job_box *find_box(struct job_backend *jb, ULONG_PTR key)
{
    for (struct job_box *b = jb->boxes; b; b = b->next)
        if (b->key == key)
            return b;
    return NULL;
}

static void count_message(struct job_box *b, DWORD msg)
{
    switch (msg) {
    case JOB_OBJECT_MSG_NEW_PROCESS:
        if (++b->active > b->peak)
            b->peak = b->active;
        break;
    case JOB_OBJECT_MSG_EXIT_PROCESS:
    case JOB_OBJECT_MSG_ABNORMAL_EXIT_PROCESS:
        if (b->active > 0)
            b->active--;
        break;
    case JOB_OBJECT_MSG_ACTIVE_PROCESS_ZERO:
        b->active = 0;
        break;
    case JOB_OBJECT_MSG_JOB_MEMORY_LIMIT:
    case JOB_OBJECT_MSG_PROCESS_MEMORY_LIMIT:
        b->memory_hits++;
        break;
    case JOB_OBJECT_MSG_ACTIVE_PROCESS_LIMIT:
        b->process_limit_hits++;
        break;
    default:
        break;
    }
}

static DWORD WINAPI port_thread(void *arg)
{
    struct job_backend *jb = arg;
    for (;;) {
        DWORD msg;
        ULONG_PTR key;
        OVERLAPPED *ov;
        if (!GetQueuedCompletionStatus(jb->port, &msg, &key, &ov, INFINITE))
            continue;
        if (key == QUIT_KEY)
            return 0;
        AcquireSRWLockExclusive(&jb->lock);
        struct job_box *b = find_box(jb, key);
        (void)ov;  /* the message's "overlapped" is a process id: not needed */
        if (b)
            count_message(b, msg);
        /* Under the lock, so that once set_notify(NULL) returns the old
         * callback is never called again. */
        if (jb->notify)
            jb->notify(jb->notify_data);
        ReleaseSRWLockExclusive(&jb->lock);
    }
}

static int job_open(sbx_backend *be, sbx_error *err)
{
    struct job_backend *jb = calloc(1, sizeof *jb);
    if (!jb)
        return sbx_error_set(err, -ENOMEM, "out of memory");
    InitializeSRWLock(&jb->lock);
    jb->next_key = 1;
    jb->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
    if (jb->port)
        jb->thread = CreateThread(NULL, 64 * 1024, port_thread, jb, 0, NULL);
    if (!jb->port || !jb->thread) {
        int e = sbx__win_errno(GetLastError());
        if (jb->port)
            CloseHandle(jb->port);
        free(jb);
        return sbx_error_set(err, e, "job events: %s", sbx__win_strerror(GetLastError()));
    }
    be->priv = jb;
    return 0;
}

static void job_close(sbx_backend *be)
{
    struct job_backend *jb = be->priv;
    PostQueuedCompletionStatus(jb->port, 0, QUIT_KEY, NULL);
    WaitForSingleObject(jb->thread, INFINITE);
    CloseHandle(jb->thread);
    CloseHandle(jb->port);
    free(jb);
}

static void job_set_notify(sbx_backend *be, void (*cb)(void *data), void *data)
{
    struct job_backend *jb = be->priv;
    AcquireSRWLockExclusive(&jb->lock);
    jb->notify = cb;
    jb->notify_data = data;
    ReleaseSRWLockExclusive(&jb->lock);
}

static void job_describe(const sbx_backend *be, sbx_backend_info *info)
{
    (void)be;
    static const char *const limits[] = {"memory", "cpu", "cpu_weight", "pids"};
    for (size_t i = 0; i < 4; i++)
        info->controllers[info->ncontrollers++] = limits[i];
    snprintf(info->base, sizeof info->base, "job objects");
}

static int set_info(sbx_box *box, JOBOBJECTINFOCLASS cls, void *info, DWORD len,
                    const char *what, sbx_error *err)
{
    struct job_box *b = box->priv;
    if (SetInformationJobObject(b->job, cls, info, len))
        return 0;
    DWORD e = GetLastError();
    return sbx_error_set(err, sbx__win_errno(e), "%s: SetInformationJobObject: %s", what,
                         sbx__win_strerror(e));
}

/* Job memory is commit charge, which pagefile-backed memory counts in:
 * swap cannot escape it, and an allowance for swap is added to it. */
static int apply_extended(sbx_box *box, sbx_error *err)
{
    const sbx_limits *l = &box->limits;
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION el;
    memset(&el, 0, sizeof el);
    el.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    if (l->memory) {
        el.BasicLimitInformation.LimitFlags |= JOB_OBJECT_LIMIT_JOB_MEMORY;
        el.JobMemoryLimit = (SIZE_T)(l->memory + l->memory_swap);
    }
    if (l->pids) {
        el.BasicLimitInformation.LimitFlags |= JOB_OBJECT_LIMIT_ACTIVE_PROCESS;
        el.BasicLimitInformation.ActiveProcessLimit = (DWORD)l->pids;
    }
    int r = set_info(box, JobObjectExtendedLimitInformation, &el, sizeof el, "limits", err);
    if (r == 0 && l->memory)
        sbx__enforce(box, "memory", "job JobMemoryLimit (commit charge)");
    if (r == 0 && l->memory_swap)
        sbx__enforce(box, "memory_swap", "job JobMemoryLimit (commit charge)");
    if (r == 0 && l->pids)
        sbx__enforce(box, "pids", "job ActiveProcessLimit");
    return r;
}

/* The hard cap is in 1/10000 of the whole machine; the limit is in percent
 * of one core. The weight maps 1..10000 onto Windows' 1..9. */
static int apply_cpu(sbx_box *box, sbx_error *err)
{
    const sbx_limits *l = &box->limits;
    JOBOBJECT_CPU_RATE_CONTROL_INFORMATION cr;
    memset(&cr, 0, sizeof cr);
    if (l->cpu_percent) {
        SYSTEM_INFO si;
        GetSystemInfo(&si);
        uint64_t rate = (uint64_t)l->cpu_percent * 100 / (si.dwNumberOfProcessors ? si.dwNumberOfProcessors : 1);
        cr.ControlFlags = JOB_OBJECT_CPU_RATE_CONTROL_ENABLE | JOB_OBJECT_CPU_RATE_CONTROL_HARD_CAP;
        cr.CpuRate = rate < 1 ? 1 : rate > 10000 ? 10000 : (DWORD)rate;
    } else if (l->cpu_weight) {
        cr.ControlFlags = JOB_OBJECT_CPU_RATE_CONTROL_ENABLE | JOB_OBJECT_CPU_RATE_CONTROL_WEIGHT_BASED;
        cr.Weight = 1 + (l->cpu_weight - 1) * 8 / 9999;
    } else {
        return 0;
    }
    int r = set_info(box, JobObjectCpuRateControlInformation, &cr, sizeof cr, "cpu", err);
    if (r < 0 && (box->flags & SBX_BEST_EFFORT)) {  /* wine has no CPU rate control */
        sbx__enforce(box, l->cpu_percent ? "cpu" : "cpu_weight", NULL);
        return 0;
    }
    if (r == 0 && l->cpu_percent)
        sbx__enforce(box, "cpu", "job CpuRate hard cap");
    if (r == 0 && l->cpu_weight && !l->cpu_percent)
        sbx__enforce(box, "cpu_weight", "job CpuRate weight");
    if (r == 0 && l->cpu_weight && l->cpu_percent)
        r = sbx__cannot_enforce(box, "cpu_weight", "a job has either a CPU cap or a weight, "
                                "and the cap is set", err);
    return r;
}

static int apply_limits(sbx_box *box, sbx_error *err)
{
    int r = apply_extended(box, err);
    if (r == 0)
        r = apply_cpu(box, err);
    if (r == 0 && box->limits.nofile)
        r = sbx__cannot_enforce(box, "nofile", "Windows has no open-file limit", err);
    if (r == 0 && box->limits.core >= 0)
        r = sbx__cannot_enforce(box, "core", "Windows has no core-size limit", err);
    return r;
}

static void unlink_box(struct job_backend *jb, struct job_box *b)
{
    AcquireSRWLockExclusive(&jb->lock);
    for (struct job_box **p = &jb->boxes; *p; p = &(*p)->next)
        if (*p == b) {
            *p = b->next;
            break;
        }
    ReleaseSRWLockExclusive(&jb->lock);
}

static int job_create(sbx_box *box, sbx_error *err)
{
    struct job_backend *jb = box->be->priv;
    struct job_box *b = calloc(1, sizeof *b);
    if (!b)
        return sbx_error_set(err, -ENOMEM, "out of memory");
    b->job = CreateJobObjectW(NULL, NULL);
    if (!b->job) {
        DWORD e = GetLastError();
        free(b);
        return sbx_error_set(err, sbx__win_errno(e), "CreateJobObject: %s", sbx__win_strerror(e));
    }
    box->priv = b;
    snprintf(box->path, sizeof box->path, "job %s", box->name);
    AcquireSRWLockExclusive(&jb->lock);
    b->key = jb->next_key++;
    b->next = jb->boxes;
    jb->boxes = b;
    ReleaseSRWLockExclusive(&jb->lock);
    JOBOBJECT_ASSOCIATE_COMPLETION_PORT acp = {(void *)b->key, jb->port};
    int r = set_info(box, JobObjectAssociateCompletionPortInformation, &acp, sizeof acp,
                     "job events", err);
    if (r == 0)
        r = apply_limits(box, err);
    if (r < 0) {
        unlink_box(jb, b);
        CloseHandle(b->job);
        free(b);
        box->priv = NULL;
    }
    return r;
}

int sbx__job_post(sbx_box *box, DWORD msg, DWORD pid)
{
    struct job_backend *jb = box->be->priv;
    struct job_box *b = box->priv;
    return PostQueuedCompletionStatus(jb->port, msg, b->key, (OVERLAPPED *)(ULONG_PTR)pid) ? 0 : -EIO;
}

HANDLE sbx__job_handle(sbx_box *box)
{
    return ((struct job_box *)box->priv)->job;
}

/* Windows has no signals: any signal ends the whole job, each process with
 * exit code 128 + sig, as a shell reports a death by signal. */
static int job_kill(sbx_box *box, int sig, sbx_error *err)
{
    struct job_box *b = box->priv;
    if (TerminateJobObject(b->job, 128 + (UINT)sig))
        return 0;
    DWORD e = GetLastError();
    return sbx_error_set(err, sbx__win_errno(e), "TerminateJobObject: %s", sbx__win_strerror(e));
}

static int job_freeze(sbx_box *box, bool frozen, sbx_error *err)
{
    (void)box;
    (void)frozen;
    return sbx_error_set(err, -EOPNOTSUPP, "Windows jobs cannot be frozen");
}

static int job_update(sbx_box *box, sbx_error *err)
{
    return apply_limits(box, err);
}

/* The system's accounting, or false where it is not filled in (wine
 * returns success without writing it: a sentinel tells). */
static bool accounting(struct job_box *b, JOBOBJECT_BASIC_ACCOUNTING_INFORMATION *acc)
{
    memset(acc, 0, sizeof *acc);
    acc->TotalProcesses = 0xffffffffu;
    return QueryInformationJobObject(b->job, JobObjectBasicAccountingInformation, acc,
                                     sizeof *acc, NULL) &&
           acc->TotalProcesses != 0xffffffffu;
}

static int job_count(sbx_box *box)
{
    struct job_box *b = box->priv;
    JOBOBJECT_BASIC_ACCOUNTING_INFORMATION acc;
    if (accounting(b, &acc))
        return (int)acc.ActiveProcesses;
    struct job_backend *jb = box->be->priv;
    AcquireSRWLockShared(&jb->lock);
    int n = b->active;
    ReleaseSRWLockShared(&jb->lock);
    return n;
}

static int job_is_empty(sbx_box *box)
{
    return job_count(box) == 0;
}

static int job_stats(sbx_box *box, sbx_stats *st, sbx_error *err)
{
    (void)err;
    struct job_box *b = box->priv;
    struct job_backend *jb = box->be->priv;
    JOBOBJECT_BASIC_ACCOUNTING_INFORMATION acc;
    if (accounting(b, &acc)) {  /* 100 ns units */
        st->user_us = acc.TotalUserTime.QuadPart / 10;
        st->sys_us = acc.TotalKernelTime.QuadPart / 10;
    }
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION el;
    if (QueryInformationJobObject(b->job, JobObjectExtendedLimitInformation, &el, sizeof el, NULL) &&
        el.PeakJobMemoryUsed)
        st->memory_peak = (int64_t)el.PeakJobMemoryUsed;
    st->pids_current = job_count(box);
    AcquireSRWLockShared(&jb->lock);
    st->pids_peak = b->peak;
    st->oom_kills = b->memory_hits;
    st->pids_limit_hits = b->process_limit_hits;
    ReleaseSRWLockShared(&jb->lock);
    return 0;
}

static int job_destroy(sbx_box *box, sbx_error *err)
{
    struct job_box *b = box->priv;
    if (!job_is_empty(box)) {
        TerminateJobObject(b->job, 128 + 9);
        return sbx_error_set(err, -EBUSY, "%s: processes are still exiting", box->path);
    }
    return 0;
}

static void job_free(sbx_box *box)
{
    struct job_box *b = box->priv;
    if (!b)
        return;
    unlink_box(box->be->priv, b);
    CloseHandle(b->job);  /* kill-on-close: nothing outlives it */
    free(b);
}

const sbx__ops sbx__job_ops = {
    .name = "job",
    .open = job_open,
    .close = job_close,
    .describe = job_describe,
    .set_notify = job_set_notify,
    .create = job_create,
    .kill = job_kill,
    .freeze = job_freeze,
    .update = job_update,
    .is_empty = job_is_empty,
    .count = job_count,
    .stats = job_stats,
    .destroy = job_destroy,
    .free = job_free,
};
