/* Race-free spawn: the child enters its box before its first instruction.
 *
 * On cgroup v2 the kernel creates the child directly in the box's cgroup
 * (clone3 with CLONE_INTO_CGROUP). Elsewhere the child writes itself into
 * each cgroup.procs before execve. Everything the child needs (fds, paths,
 * rlimits, exec candidates) is prepared before the fork; between fork and
 * exec the child makes only async-signal-safe calls. If a step fails, the
 * child sends {stage, errno} over a close-on-exec pipe and exits, so the
 * parent reports a start failure, never an exit code. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../backend.h"
#include "initmem.h"
#include "isolate.h"
#include "status_board.h"

struct child_report {
    int stage;
    int err;
    char step[64];          /* sandbox: the step and its path */
    char path[176];
};

/* Everything the child reads, prepared in the parent. */
struct child_plan {
    const sbx_command *cmd;
    const sbx__join *join;
    bool joined;            /* already in the cgroup through clone3 */
    int stdio_src[3];       /* fd to install as 0/1/2, or -1 to inherit */
    char **candidates;      /* full paths to try with execve, NULL-terminated */
    int report_fd;
    sbx__board_map status;  /* pid namespace: the init posts the status here */
    int sync_fd;            /* user namespace: one byte once the id maps are written */
    sbx__iso_plan iso;
};

static void copy_text(char *dst, size_t size, const char *src)
{
    size_t n = 0;
    for (; src && src[n] && n + 1 < size; n++)
        dst[n] = src[n];
    dst[n] = '\0';
}

static _Noreturn void child_fail_at(const struct child_plan *p, sbx_stage stage, int e,
                                    const sbx__iso_failure *f)
{
    struct child_report rep = {stage, e, "", ""};
    if (f) {
        copy_text(rep.step, sizeof rep.step, f->step);
        copy_text(rep.path, sizeof rep.path, f->path);
    }
    ssize_t n;
    do
        n = write(p->report_fd, &rep, sizeof rep);
    while (n < 0 && errno == EINTR);
    _exit(127);
}

static _Noreturn void child_fail(const struct child_plan *p, sbx_stage stage, int e)
{
    child_fail_at(p, stage, e, NULL);
}

/* PID 1 of the sandbox's PID namespace: forwards the usual signals to the
 * program, reaps every process that ends inside, and when the program
 * ends posts its wait status in its slot of the status board and exits. */
static pid_t init_program;

/* The signals sbx's init passes on to the program. */
static const int init_forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

/* Unblocks every signal but, with keep_forwarded, those above. */
static void unblock_signals(bool keep_forwarded)
{
    sigset_t mask;
    sigemptyset(&mask);
    for (size_t i = 0; keep_forwarded && i < sizeof init_forwarded / sizeof init_forwarded[0]; i++)
        sigaddset(&mask, init_forwarded[i]);
    sigprocmask(SIG_SETMASK, &mask, NULL);
}

static void init_forward(int sig)
{
    if (init_program > 0)
        kill(init_program, sig);
}

/* Reads a small /proc/self file into buf (NUL-terminated); length or -1. */
static ssize_t read_self(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

/* The init is a fork of its caller (sbxd) and would keep its argv, so
 * `pidof sbxd` (which reads argv[0]) and `kill $(pidof sbxd)` would reach
 * it; and its environment, which a unit that has its own (clear_env)
 * could read at /proc/1/environ. Both areas are this process's own copy
 * (fields 48-51 of /proc/self/stat): the environment is zeroed and the
 * arguments overwritten with "sbx-init" (not PR_SET_MM: where it is
 * allowed, one of its two calls could succeed alone and leave a range
 * that cannot be read: an empty cmdline). Only when the
 * area holds the program's own argv[0]: under valgrind, whose argv it is,
 * it does not, and that memory is not the program's to write. Before
 * PR_SET_NAME. System calls and plain writes only. */
static char init_args[] = "sbx-init";

/* Fields 48 to 51 of a /proc/PID/stat line: arg_start, arg_end,
 * env_start, env_end (0 where missing). */
static void stat_areas(const char *stat, unsigned long field[4])
{
    const char *q = strrchr(stat, ')');
    for (int i = 3; q && *q && i <= 51; i++) {
        while (*q && *q != ' ')
            q++;
        while (*q == ' ')
            q++;
        if (i >= 48) {
            unsigned long v = 0;
            for (; *q >= '0' && *q <= '9'; q++)
                v = v * 10 + (unsigned long)(*q - '0');
            field[i - 48] = v;
        }
    }
}

/* Returns where the arguments start (what /proc/PID/cmdline shows), 0
 * when unknown. */
static uintptr_t init_rename(void)
{
    char comm[32], arg0[256], buf[1024];
    if (read_self("/proc/self/comm", comm, sizeof comm) <= 0 ||
        read_self("/proc/self/cmdline", arg0, sizeof arg0) <= 0 ||
        read_self("/proc/self/stat", buf, sizeof buf) <= 0)
        return 0;
    unsigned long field[4] = {0, 0, 0, 0};
    stat_areas(buf, field);
    comm[strcspn(comm, "\n")] = '\0';
    const char *base = strrchr(arg0, '/');
    if (strncmp(base ? base + 1 : arg0, comm, 15) != 0)
        return field[0];  /* comm is argv[0]'s name cut to 15 bytes */
    if (field[2] && field[3] > field[2])
        memset((char *)field[2], 0, field[3] - field[2]);
    if (!field[0] || field[1] <= field[0])
        return field[0];
    char *args = (char *)field[0];
    size_t len = field[1] - field[0];
    memset(args, 0, len);
    memcpy(args, init_args, len < sizeof init_args ? len - 1 : sizeof init_args);
    return field[0];
}

static void child_become_init(const struct child_plan *p)
{
    /* The run's own slot, mapped before the board's descriptor goes. */
    sbx__board_cell *cell = mmap(NULL, p->status.len, PROT_READ | PROT_WRITE, MAP_SHARED,
                                 p->status.fd, p->status.offset);
    if (cell == MAP_FAILED) {
        sbx__iso_failure f = {"map the status slot", "of sbx's init"};
        child_fail_at(p, SBX_STAGE_SANDBOX, errno, &f);
    }
    pid_t pid = fork();
    if (pid < 0) {
        sbx__iso_failure f = {"start the program inside", "the PID namespace"};
        child_fail_at(p, SBX_STAGE_SANDBOX, errno, &f);
    }
    if (pid == 0) {
        munmap(cell, p->status.len);
        /* Entering a sandbox (a probe), the relay is no init: the program
         * must not outlive it (killed at a probe's timeout, SIGKILL cannot
         * be passed on). Its parent is outside the namespace (getppid 0)
         * until the relay is gone. */
        if (p->cmd->enter_pid > 0 &&
            (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != 0))
            _exit(127);
        /* A session of the program's own, as without an init: it leads
         * it, and kill(0) reaches its own group, not the init. */
        if ((p->cmd->new_session || p->iso.contained) && setsid() < 0)
            child_fail(p, SBX_STAGE_SESSION, errno);
        unblock_signals(false);  /* a stop that came meanwhile: now */
        return;  /* the program goes on to exec */
    }
    init_program = pid;
    /* No descriptor stays open: the program's stdin, stdout and the report
     * pipe must see their ends closed when the program closes them, and
     * the status board is reached through the slot's mapping only. */
    syscall(SYS_close_range, 0, ~0u, 0);
    uintptr_t args = init_rename();  /* first: it compares argv[0] with the name */
    prctl(PR_SET_NAME, "sbx-init", 0, 0, 0);
    sbx__contain_init(&p->iso);
    struct sigaction fwd;
    memset(&fwd, 0, sizeof fwd);
    fwd.sa_handler = init_forward;
    for (size_t i = 0; i < sizeof init_forwarded / sizeof init_forwarded[0]; i++)
        sigaction(init_forwarded[i], &fwd, NULL);
    bool wait_all = p->iso.wait_all;  /* p is in the caller's memory */
    /* This function never returns: the frames above it are dead. */
    sbx__init_shed_memory((uintptr_t)__builtin_frame_address(0), args);
    unblock_signals(false);  /* what came before the handlers: passed on now */
    int program = 0;
    bool ended = false;
    for (;;) {
        int st;
        pid_t w = waitpid(-1, &st, 0);
        if (w == pid) {
            program = st;
            ended = true;
        }
        bool none_left = w < 0 && errno == ECHILD;
        if (ended && (!wait_all || none_left)) {
            cell->status = program;
            __atomic_store_n(&cell->posted, SBX__BOARD_POSTED, __ATOMIC_RELEASE);
            _exit(WIFEXITED(program) ? WEXITSTATUS(program) : 128 + WTERMSIG(program));
        }
        if (w < 0 && errno != EINTR)
            _exit(127);
    }
}

/* Handlers would be reset by execve anyway; what must be undone here is
 * ignored signals (SIGPIPE in a daemon), which execve keeps, and handlers
 * that could run before it. Only the classic signals: libsbx's callers
 * install no real-time handlers, and skipping the 33 others saves as many
 * system calls per spawn. A future init keeps the signals it forwards
 * blocked until its handlers are set: as PID 1 of its namespace it would
 * drop them (default action), and a stop sent right after the spawn
 * would never reach the program. */
static void child_reset_signals(bool init)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < 32; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &dfl, NULL);
    unblock_signals(init);
}

static int write_all(int fd, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, s, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        s += n;
        len -= (size_t)n;
    }
    return 0;
}

static void child_stdio(const struct child_plan *p)
{
    int moved[3];
    /* Move every source above 2 first, so installing one cannot clobber
     * another that still sits on 0..2. */
    for (int i = 0; i < 3; i++) {
        moved[i] = -1;
        if (p->stdio_src[i] < 0)
            continue;
        moved[i] = fcntl(p->stdio_src[i], F_DUPFD_CLOEXEC, 3);
        if (moved[i] < 0)
            child_fail(p, SBX_STAGE_STDIO, errno);
    }
    for (int i = 0; i < 3; i++)
        if (moved[i] >= 0 && dup2(moved[i], i) < 0)
            child_fail(p, SBX_STAGE_STDIO, errno);
}

/* Into the box, the session, the namespaces' set-up. */
static void child_enter(const struct child_plan *p)
{
    /* die_with_parent: the first layer (with a PID namespace the kernel
     * ends all inside when this child dies); the box's watcher (watch.c)
     * ends what this cannot reach: orphans without a PID namespace, a
     * child whose setuid cleared this. */
    if (p->iso.die_with_parent && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        child_fail(p, SBX_STAGE_SESSION, errno);
    if (!p->joined)
        for (int i = 0; i < p->join->nprocs; i++)
            if (write_all(p->join->procs_fd[i], "0", 1) < 0)
                child_fail(p, SBX_STAGE_CGROUP, errno);
    sbx__iso_failure f;
    if (sbx__iso_enter(&p->iso, &f) < 0)
        child_fail_at(p, SBX_STAGE_SANDBOX, errno, &f);
    bool session = p->cmd->new_session || p->iso.contained;
    if (session && setsid() < 0)
        child_fail(p, SBX_STAGE_SESSION, errno);
    if (p->join->own_pgrp && !session && setpgid(0, 0) < 0)
        child_fail(p, SBX_STAGE_SESSION, errno);
    if (sbx__iso_setup(&p->iso, p->sync_fd, &f) < 0)
        child_fail_at(p, SBX_STAGE_SANDBOX, errno, &f);
}

static _Noreturn void child_main(const struct child_plan *p)
{
    child_reset_signals(p->iso.pid_init);
    child_enter(p);
    if (p->iso.pid_init)
        child_become_init(p);
    child_stdio(p);
    for (int i = 0; i < p->join->nrlimit; i++)
        if (setrlimit(p->join->rlimit[i].resource, &p->join->rlimit[i].lim) < 0)
            child_fail(p, SBX_STAGE_RLIMIT, errno);
    sbx__iso_failure f;
    sbx_stage stage;
    if (sbx__iso_lock(&p->iso, p->cmd, &stage, &f) < 0)
        child_fail_at(p, stage, errno, stage == SBX_STAGE_SANDBOX ? &f : NULL);
    if (p->cmd->cwd && chdir(p->cmd->cwd) < 0)
        child_fail(p, SBX_STAGE_CWD, errno);
    /* Last, so the containment's close-on-exec sweep is behind it. (Should
     * the number be the report pipe's, a failed exec goes unreported.) */
    if (p->cmd->pass_fd_as > 2) {
        const sbx_command *c = p->cmd;
        if (c->pass_fd == c->pass_fd_as ? fcntl(c->pass_fd, F_SETFD, 0) < 0
                                        : dup2(c->pass_fd, c->pass_fd_as) < 0)
            child_fail(p, SBX_STAGE_STDIO, errno);
    }
    /* As execvp: remember EACCES, go on past ENOENT/ENOTDIR, stop at others. */
    int saved = ENOENT;
    for (char **c = p->candidates; *c; c++) {
        execve(*c, p->cmd->argv, p->cmd->envp);
        if (errno == EACCES)
            saved = EACCES;
        else if (errno != ENOENT && errno != ENOTDIR) {
            saved = errno;
            break;
        }
    }
    child_fail(p, SBX_STAGE_EXEC, saved);
}

static const char *env_path(char *const *envp)
{
    for (; envp && *envp; envp++)
        if (strncmp(*envp, "PATH=", 5) == 0)
            return *envp + 5;
    return "/usr/local/bin:/usr/bin:/bin";
}

/* The paths execve will try, from the child's own PATH (not ours). */
static char **exec_candidates(const char *file, char *const *envp)
{
    if (strchr(file, '/')) {
        char **c = calloc(2, sizeof *c);
        if (c && !(c[0] = strdup(file))) {
            free(c);
            return NULL;
        }
        return c;
    }
    const char *path = env_path(envp);
    size_t n = 2;
    for (const char *s = path; *s; s++)
        n += *s == ':';
    size_t flen = strlen(file);
    char **c = calloc(n + 1, sizeof *c);
    if (!c)
        return NULL;
    size_t i = 0;
    for (const char *s = path;; ) {
        size_t dlen = strcspn(s, ":");
        char *full = malloc(dlen + flen + 3);
        if (!full)
            break;
        if (dlen == 0)
            memcpy(full, ".", (dlen = 1));  /* an empty element means the cwd */
        else
            memcpy(full, s, dlen);
        full[dlen] = '/';
        memcpy(full + dlen + 1, file, flen + 1);
        c[i++] = full;
        s += strcspn(s, ":");
        if (*s != ':')
            break;
        s++;
    }
    return c;
}

static void free_candidates(char **c)
{
    for (size_t i = 0; c && c[i]; i++)
        free(c[i]);
    free(c);
}

static int clone_into_cgroup(int cgroup_fd, unsigned long ns_flags)
{
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_INTO_CGROUP | ns_flags;
    args.exit_signal = SIGCHLD;
    args.cgroup = (uint64_t)cgroup_fd;
    return (int)syscall(SYS_clone3, &args, sizeof args);
}

/* Opens the fds for the child's stdio; the caller's ends go to proc. */
static int open_stdio(const sbx_command *cmd, int src[3], int close_after[6],
                      sbx_process *proc, sbx_error *err)
{
    for (int i = 0; i < 3; i++) {
        const sbx_stdio *s = &cmd->stdio[i];
        src[i] = -1;
        switch (s->kind) {
        case SBX_STDIO_INHERIT:
            break;
        case SBX_STDIO_NULL:
            src[i] = close_after[i] = open("/dev/null", (i == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
            if (src[i] < 0)
                return sbx_error_set(err, -errno, "stdio: open /dev/null: %s", strerror(errno));
            break;
        case SBX_STDIO_FILE:
            src[i] = close_after[i] = open(s->path, i == 0 ? O_RDONLY | O_CLOEXEC
                                           : O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
            if (src[i] < 0)
                return sbx_error_set(err, -errno, "stdio: open %s: %s", s->path, strerror(errno));
            break;
        case SBX_STDIO_PIPE: {
            int fds[2];
            if (pipe2(fds, O_CLOEXEC) < 0)
                return sbx_error_set(err, -errno, "stdio: pipe: %s", strerror(errno));
            src[i] = close_after[i] = fds[i == 0 ? 0 : 1];
            proc->stdio_fd[i] = close_after[3 + i] = fds[i == 0 ? 1 : 0];
            break;
        }
        case SBX_STDIO_FD:
            src[i] = s->fd;
            break;
        }
    }
    return 0;
}

static void close_fds(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0) {
            close(fds[i]);
            fds[i] = -1;
        }
}

/* The descriptors a backend opened for this spawn only. */
static void release_join(sbx__join *join)
{
    if (!join->owned)
        return;
    close_fds(join->procs_fd, join->nprocs);
    close_fds(&join->clone_cgroup_fd, 1);
    join->nprocs = 0;
}

/* fork(), or with namespaces the raw clone system call, which forks the
 * same way (the child returns 0 on the same stack). */
static pid_t plain_fork(unsigned long ns_flags)
{
    if (!ns_flags)
        return fork();
    return (pid_t)syscall(SYS_clone, ns_flags | SIGCHLD, NULL, NULL, NULL, 0);
}

static pid_t fork_child(const sbx__join *join, unsigned long ns_flags, bool *joined)
{
    static bool no_clone3;
    *joined = false;
    if (join->clone_cgroup_fd >= 0 && !no_clone3) {
        pid_t pid = clone_into_cgroup(join->clone_cgroup_fd, ns_flags);
        if (pid >= 0) {
            *joined = true;
            return pid;
        }
        if (errno != ENOSYS && errno != E2BIG && errno != EINVAL)
            return -1;
        no_clone3 = true;  /* an older kernel: join by writing cgroup.procs */
    }
    return plain_fork(ns_flags);
}

/* Waits for the child's report: nothing (exec happened) or a failure. */
static int await_exec(int fd, struct child_report *rep)
{
    ssize_t n;
    do
        n = read(fd, rep, sizeof *rep);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof *rep;
}


/* The message of a child's failure report. */
static int report_error(const struct child_report *rep, const sbx_command *cmd, sbx_error *err)
{
    const char *stage = sbx_stage_name((sbx_stage)rep->stage);
    const char *e = strerror(rep->err);
    switch ((sbx_stage)rep->stage) {
    case SBX_STAGE_EXEC: return sbx_error_set(err, -rep->err, "%s: %s: %s", stage, cmd->argv[0], e);
    case SBX_STAGE_CWD: return sbx_error_set(err, -rep->err, "%s: %s: %s", stage, cmd->cwd, e);
    case SBX_STAGE_SANDBOX:
        return sbx_error_set(err, -rep->err, "sandbox: %s %s: %s", rep->step, rep->path, e);
    case SBX_STAGE_NONE:
    case SBX_STAGE_CGROUP:
    case SBX_STAGE_SESSION:
    case SBX_STAGE_STDIO:
    case SBX_STAGE_RLIMIT:
    case SBX_STAGE_USER:
        break;
    }
    return sbx_error_set(err, -rep->err, "%s: %s", stage, e);
}

static void take_report(const struct child_report *rep, sbx_process *proc)
{
    proc->failed_stage = (sbx_stage)rep->stage;
    proc->failed_errno = rep->err;
    if (rep->stage == SBX_STAGE_SANDBOX)
        snprintf(proc->failed_step, sizeof proc->failed_step, "%s %s", rep->step, rep->path);
}

int sbx_spawn_outcome(sbx_process *proc)
{
    struct child_report rep;
    if (proc->report_fd < 0)  /* read before, or never async */
        return proc->failed_errno ? -proc->failed_errno : 0;
    int failed = await_exec(proc->report_fd, &rep);
    close(proc->report_fd);
    proc->report_fd = -1;
    if (!failed)
        return 0;
    take_report(&rep, proc);
    return -rep.err;
}

void sbx_spawn_program_status(sbx_process *proc, int *status)
{
    sbx__board_collect(proc->status_slot, status);
    proc->status_slot = 0;
}

pid_t sbx_process_program_pid(sbx_process *proc)
{
    if (!proc->init)
        return proc->pid;
    if (proc->program_pid > 0 || proc->pid <= 0)
        return proc->program_pid;
    /* The init's only child is the program (orphans it adopts come later). */
    char path[64], buf[32];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)proc->pid, (int)proc->pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n > 0) {
        buf[n] = '\0';
        proc->program_pid = (pid_t)strtol(buf, NULL, 10);
    }
    return proc->program_pid;
}

void sbx_process_release(sbx_process *proc)
{
    close_fds(&proc->report_fd, 1);
    sbx__board_put(proc->status_slot);
    proc->status_slot = 0;
}

int sbx_spawn(sbx_box *box, const sbx_command *cmd, sbx_process *proc,
              sbx_error *err)
{
    sbx__join join = {.clone_cgroup_fd = -1};
    int own[6] = {-1, -1, -1, -1, -1, -1};  /* child ends 0..2, ours 3..5 */
    int report[2] = {-1, -1}, sync[2] = {-1, -1};
    struct child_plan plan = {.cmd = cmd, .join = &join, .status = {.fd = -1}, .sync_fd = -1};
    memset(proc, 0, sizeof *proc);
    proc->pid = -1;
    proc->report_fd = -1;
    for (int i = 0; i < 3; i++)
        proc->stdio_fd[i] = -1;
    if (!cmd->argv || !cmd->argv[0])
        return sbx_error_set(err, -EINVAL, "no command given");

    int r = box->be->ops->prepare_join(box, &join, err);
    if (r < 0) {
        release_join(&join);
        return r;
    }
    sbx__common_rlimits(box, &join);
    if ((r = sbx__iso_prepare(cmd->iso, &plan.iso, err)) < 0 ||
        (cmd->enter_pid > 0 && (r = sbx__iso_enter_prepare(cmd->enter_pid, &plan.iso, err)) < 0)) {
        proc->failed_stage = SBX_STAGE_SANDBOX;
        proc->failed_errno = -r;
        goto fail;
    }
    if ((r = open_stdio(cmd, plan.stdio_src, own, proc, err)) < 0)
        goto fail;
    plan.candidates = exec_candidates(cmd->argv[0], cmd->envp);
    if (!plan.candidates) {
        r = sbx_error_set(err, -ENOMEM, "out of memory");
        goto fail;
    }
    if (cmd->set_ids && plan.iso.userns) {
        r = sbx_error_set(err, -EPERM, "sandbox: switching user and group needs root (not "
                          "possible inside an unprivileged user namespace)");
        goto fail;
    }
    if (cmd->iso && cmd->iso->die_with_parent && (r = sbx__box_watch(box, err)) < 0)
        goto fail;
    if (plan.iso.pid_init) {
        if ((r = sbx__board_take(&plan.status, err)) < 0)
            goto fail;
        proc->status_slot = (unsigned)r;
    }
    if (pipe2(report, O_CLOEXEC) < 0 || (plan.iso.userns && pipe2(sync, O_CLOEXEC) < 0)) {
        r = sbx_error_set(err, -errno, "pipe: %s", strerror(errno));
        goto fail;
    }
    plan.report_fd = report[1];
    plan.sync_fd = sync[0];

    /* Block signals so no handler of ours runs in the child before it has
     * reset them all. */
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    box->used = true;
    pid_t pid = fork_child(&join, plan.iso.clone_flags, &plan.joined);
    if (pid == 0)
        child_main(&plan);
    int fork_errno = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    release_join(&join);
    close_fds(&report[1], 1);
    close_fds(own, 3);
    if (pid < 0 && plan.iso.clone_flags) {
        proc->failed_stage = SBX_STAGE_SANDBOX;
        proc->failed_errno = fork_errno;
        r = sbx_error_set(err, -fork_errno, "sandbox: create the namespaces%s: %s",
                          plan.iso.userns ? " (with a user namespace: are they allowed here?)" : "",
                          strerror(fork_errno));
        goto fail;
    }
    if (pid < 0) {
        r = sbx_error_set(err, -fork_errno, "fork: %s", strerror(fork_errno));
        goto fail;
    }
    proc->pid = pid;
    proc->init = plan.iso.pid_init;
    if (plan.iso.userns) {
        r = sbx__iso_map_ids(&plan.iso, pid, err);
        char go = 1;
        if (r == 0 && write(sync[1], &go, 1) != 1)
            r = sbx_error_set(err, -errno, "sandbox: wake the child: %s", strerror(errno));
        close_fds(sync, 2);  /* without the byte, the child fails its set-up */
        if (r < 0) {
            proc->failed_stage = SBX_STAGE_SANDBOX;
            proc->failed_errno = -r;
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            proc->pid = -1;
            goto fail;
        }
    }
    if (cmd->async) {
        proc->report_fd = report[0];
        report[0] = -1;
    } else {
        struct child_report rep;
        if (await_exec(report[0], &rep)) {
            waitpid(pid, NULL, 0);
            proc->pid = -1;
            take_report(&rep, proc);
            r = report_error(&rep, cmd, err);
            goto fail;
        }
        close_fds(report, 1);
    }
    free_candidates(plan.candidates);
    sbx__iso_free(&plan.iso);
    if (box->be->ops->started)
        box->be->ops->started(box, pid);
    return 0;

fail:
    release_join(&join);
    close_fds(report, 2);
    close_fds(sync, 2);
    sbx__board_put(proc->status_slot);  /* the child, if any, is reaped */
    proc->status_slot = 0;
    close_fds(own, 6);
    for (int i = 0; i < 3; i++)
        proc->stdio_fd[i] = -1;
    free_candidates(plan.candidates);
    sbx__iso_free(&plan.iso);
    return r;
}
