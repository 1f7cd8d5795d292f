/* libsbx: run a program in a sandbox whose limits hold from its first
 * instruction.
 *
 * A backend is one platform mechanism (cgroup v2, cgroup v1, rlimits, or the
 * do-nothing backend for tests), opened once per process. A box is one
 * sandbox made by a backend: a fresh cgroup (or job, or process group) with
 * limits applied. Programs are spawned straight into a box; the box can be
 * signalled as a whole, frozen, measured and destroyed.
 *
 * Every function that can fail returns 0 or a negative errno value and, when
 * given an sbx_error, fills it with a message that says what was being done
 * ("memory.max: write /sys/fs/cgroup/x/memory.max: Permission denied").
 *
 * libsbx does not reap children: the caller owns waitpid() for every pid it
 * gets back, so that one process-wide reaper can serve many boxes. */
#ifndef SBX_H
#define SBX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SBX_UNLIMITED 0

#ifdef _WIN32
/* The API speaks POSIX signal numbers everywhere. On Windows any of them
 * ends the whole job (see sbx_box_kill); these are the ones its C runtime
 * does not name. */
#define SIGHUP 1
#define SIGQUIT 3
#define SIGKILL 9
#define SIGUSR1 10
#define SIGUSR2 12
#define SIGALRM 14
#define SIGCONT 18
#define SIGSTOP 19
#define SIGWINCH 28
#define SIGPWR 30
#undef NSIG
#define NSIG 65  /* numbers up to 64 are valid, as on Linux */
typedef unsigned uid_t;
typedef unsigned gid_t;
/* Strings given to libsbx are UTF-8 on Windows too. These are the process's
 * own arguments and environment so (the C runtime's are in the ANSI code
 * page); made once, kept for the process's life. */
char **sbx_utf8_argv(int *argc);
char **sbx_utf8_environ(void);
#endif

typedef struct sbx_error {
    int code;       /* negative errno, 0 when no error */
    char msg[480];
} sbx_error;

/* Fills err (when not NULL) and returns code, which must be negative. */
int sbx_error_set(sbx_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Puts "context: " in front of the message already in err. */
void sbx_error_prefix(sbx_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- limits and their text forms (spec.c) ---- */

typedef struct sbx_limits {
    uint64_t memory;        /* bytes; 0 = unlimited */
    uint64_t memory_swap;   /* swap allowed on top of memory (default 0) */
    uint32_t cpu_percent;   /* percent of one core: 150 = 1.5 cores; 0 = none */
    uint32_t cpu_weight;    /* 1..10000, 100 is the default share; 0 = unset */
    uint64_t pids;          /* max tasks, the first one included; 0 = none */
    uint64_t nofile;        /* RLIMIT_NOFILE; 0 = inherit */
    int64_t core;           /* RLIMIT_CORE in bytes; -1 = inherit */
} sbx_limits;

void sbx_limits_init(sbx_limits *l);

/* Parsers take text and never touch the OS. They return 0 or -EINVAL /
 * -ERANGE and, on error, a message in err naming what is wrong. */
int sbx_parse_size(const char *text, uint64_t *bytes, sbx_error *err);
int sbx_parse_duration(const char *text, uint64_t *ms, sbx_error *err);
int sbx_parse_percent(const char *text, uint32_t *percent, sbx_error *err);
int sbx_parse_count(const char *text, uint64_t min, uint64_t max,
                    uint64_t *value, sbx_error *err);
/* Signals by the names of Linux's numbering, which the API uses on every
 * platform: "TERM" for 15. sbx_parse_signal takes a name (with or without
 * SIG, any case) or a number 1..64, and returns it or -EINVAL. */
const char *sbx_signal_name(int sig);   /* NULL: no name (or not 1..31) */
int sbx_parse_signal(const char *text);
/* Renders sizes as 512K / 64M / 1.5G into buf. */
const char *sbx_format_size(uint64_t bytes, char *buf, size_t len);

/* The one table of limits: every front end (unit files, the control
 * protocol, sbx-run's and sbxctl's options) walks it, so a new limit is one
 * row in spec.c. The name is the unit-file key and the protocol's; flags
 * write it with '-' for '_'. RLIMIT_CORE (sbx_limits.core) is not a row
 * yet: only sbx-run sets it (--core). */
typedef enum sbx_limit_kind {
    SBX_LIMIT_SIZE,         /* bytes from "512K", "64M", "2G"; more than 0 */
    SBX_LIMIT_SIZE_OR_ZERO, /* a size, or "0" (a real amount: no swap) */
    SBX_LIMIT_PERCENT,      /* percent of one core from "50%", "250%" */
    SBX_LIMIT_COUNT,        /* a whole number between min and max */
} sbx_limit_kind;

typedef struct sbx_limit_info {
    const char *name;       /* "memory_swap" */
    char short_option;      /* sbx-run's and sbxctl run's -m; 0: none */
    sbx_limit_kind kind;
    uint64_t min, max;      /* of a count */
    bool live;              /* sbx_box_update changes it on a running box */
    bool zero_is_none;      /* 0 means "no limit" (printed as none / null) */
    size_t offset, size;    /* the field of sbx_limits */
} sbx_limit_info;

#define SBX_LIMITS_MAX 16   /* rows the table may grow to */

/* The i-th row (0, 1, ...), NULL past the last: for (i = 0; (k =
 * sbx_limit_at(i)); i++). */
const sbx_limit_info *sbx_limit_at(size_t i);
/* The row of that name, or NULL. */
const sbx_limit_info *sbx_limit_find(const char *name);
/* Parses text as k says into its field of l. Returns 0, or -EINVAL /
 * -ERANGE with the parser's message (without the limit's name: callers
 * put their own "[limits] pids: " or "--pids: " in front). */
int sbx_limit_parse(const sbx_limit_info *k, sbx_limits *l, const char *text,
                    sbx_error *err);
/* The same by name; -ENOENT ("unknown limit 'x'") when there is no row. */
int sbx_limit_set(sbx_limits *l, const char *name, const char *text, sbx_error *err);
/* The value of k's field in l. */
uint64_t sbx_limit_get(const sbx_limit_info *k, const sbx_limits *l);
/* A value as a unit file writes it ("64M", "150%", "1024") into buf, or
 * NULL when it means no limit (0 and zero_is_none). */
const char *sbx_limit_format(const sbx_limit_info *k, uint64_t value, char *buf,
                             size_t len);

/* ---- backends ---- */

typedef enum sbx_cgroup_mode {
    SBX_CGROUP_NONE,
    SBX_CGROUP_V1,      /* v1 controllers only */
    SBX_CGROUP_HYBRID,  /* v1 controllers plus a v2 tree without them */
    SBX_CGROUP_V2,      /* unified hierarchy only */
} sbx_cgroup_mode;

const char *sbx_cgroup_mode_name(sbx_cgroup_mode mode);

typedef struct sbx_backend sbx_backend;
typedef struct sbx_box sbx_box;

typedef struct sbx_backend_options {
    const char *name;        /* "cgroup2", "cgroup1", "rlimit", "null"; NULL = best */
    const char *cgroup_root; /* below the caller's own cgroup; NULL = directly */
    /* cgroup2 only: an absolute cgroup (e.g. "/system.slice/x.scope", a
     * systemd scope delegated to the caller) that takes the place of the
     * caller's own; it must hold no process of its own. NULL = own. */
    const char *cgroup_base;
} sbx_backend_options;

int sbx_backend_open(const sbx_backend_options *opts, sbx_backend **out,
                     sbx_error *err);
void sbx_backend_close(sbx_backend *be);
const char *sbx_backend_name(const sbx_backend *be);

typedef struct sbx_backend_info {
    const char *backend;
    sbx_cgroup_mode mode;
    const char *controllers[8];   /* usable controllers, by name */
    size_t ncontrollers;
    char base[512];               /* where boxes are made ("" if no cgroups) */
} sbx_backend_info;

void sbx_backend_describe(const sbx_backend *be, sbx_backend_info *info);
/* Backends whose events arrive on a thread of their own (job objects) call
 * cb, from that thread, whenever a box may have news: a process started or
 * ended, a limit was hit. Others never call it (their news comes as
 * SIGCHLD and through sbx_box_event_fd). */
void sbx_backend_set_notify(sbx_backend *be, void (*cb)(void *data), void *data);
/* Boxes left behind by a supervisor that died (sbx-run killed by SIGKILL):
 * every box of be whose name starts with prefix and that stale() says is
 * stale (its owner is gone) has what is left in it killed and is removed.
 * Returns how many were removed, or -errno. Backends without cgroups: 0. */
typedef bool (*sbx_stale_fn)(const char *name, void *data);
int sbx_backend_sweep(sbx_backend *be, const char *prefix, sbx_stale_fn stale, void *data);
/* The host's cgroup mode, detected without opening a backend. */
sbx_cgroup_mode sbx_detect_cgroup_mode(void);

/* ---- boxes ---- */

enum {
    SBX_BEST_EFFORT = 1u << 0,  /* run even if a limit cannot be enforced */
    SBX_BOX_INIT = 1u << 1,     /* sbx's init will live in the box (a PID
                                   namespace whose PID 1 it is): the pids
                                   limit gets one task more for it, and the
                                   pids figures count it out */
    SBX_BOX_ADOPT = 1u << 2,    /* the box's cgroup may exist already, left
                                   running by a supervisor that died: it is
                                   opened as it is and the limits given are
                                   applied to it (see sbx_box_create) */
};

/* One limit and the mechanism that enforces it ("cgroup1 memory.limit_in_bytes");
 * how is NULL when nothing enforces it (possible with SBX_BEST_EFFORT only). */
typedef struct sbx_enforced {
    const char *what;
    const char *how;
} sbx_enforced;

#define SBX_MAX_ENFORCED 16

/* Makes the box. With SBX_BOX_ADOPT an existing cgroup of that name is
 * taken over instead of refused (its processes keep running; the box is
 * then not fresh). */
int sbx_box_create(sbx_backend *be, const char *name, const sbx_limits *limits,
                   unsigned flags, sbx_box **out, sbx_error *err);
/* Kills what is left with SIGKILL and removes the box. Returns -EBUSY while
 * processes are still exiting (reap them and call again); the box stays
 * valid until this returns 0 or another error. */
int sbx_box_destroy(sbx_box *box, sbx_error *err);
/* Frees the handle even when the cgroup could not be removed (after the
 * caller has reported that), so the process leaks no memory. */
void sbx_box_free(sbx_box *box);

const char *sbx_box_path(const sbx_box *box);
/* True until the first spawn: its counters are all zero. */
bool sbx_box_fresh(const sbx_box *box);
size_t sbx_box_enforced(const sbx_box *box, const sbx_enforced **list);

/* Sends sig to every process in the box. SIGKILL is whole-tree and final
 * (cgroup.kill, or freeze + kill + thaw): nothing in the box survives it.
 * Windows has no signals: any sig terminates the whole job, every process
 * with exit code 128 + sig. */
int sbx_box_kill(sbx_box *box, int sig, sbx_error *err);
int sbx_box_freeze(sbx_box *box, bool frozen, sbx_error *err);
/* Changes the memory, swap, CPU and pids limits of a live box. The box's
 * enforced list is rebuilt; on error some limits may already be changed
 * (the message says which write failed). */
int sbx_box_update(sbx_box *box, const sbx_limits *limits, sbx_error *err);
const sbx_limits *sbx_box_limits(const sbx_box *box);
/* Whether the box still holds: its limits read back as set, and pid (when
 * > 0, a zombie not yet reaped, or a live process) still inside it.
 * Returns 0 when it holds, 1 when it does not (what says why: "pids.max:
 * set to 32, now 4096", "pid 123 left the box for /other"), or -errno. */
int sbx_box_verify(sbx_box *box, pid_t pid, char *what, size_t len);
/* How many processes of the program the box holds (sbx's init not
 * counted), or -errno (-ENOTSUP: it cannot say). */
int sbx_box_count(sbx_box *box);
/* 1 when no process is left in the box, 0 when some are, or -errno. */
int sbx_box_is_empty(sbx_box *box);

typedef struct sbx_stats {
    int64_t user_us, sys_us;         /* -1 when unknown */
    int64_t memory_current, memory_peak;
    int64_t pids_current, pids_peak;
    int64_t oom_kills;               /* since the box was made */
    int64_t pids_limit_hits;         /* process creations the pids limit refused */
} sbx_stats;
#define SBX_STATS_UNKNOWN ((sbx_stats){-1, -1, -1, -1, -1, -1, -1, -1})

int sbx_box_stats(sbx_box *box, sbx_stats *st, sbx_error *err);
/* The figures a status table shows, read cheaply (a third of the system
 * calls on cgroup v1): memory_current, memory_peak, pids_current, and the
 * CPU time as a total in user_us (sys_us 0). The rest is -1. */
int sbx_box_stats_brief(sbx_box *box, sbx_stats *st);

/* An fd that becomes readable when the box's OOM counter may have changed
 * (inotify on v2, eventfd on v1); -1 when the backend has none. The fd is
 * shared by several boxes of one backend, so that 10,000 boxes do not cost
 * 10,000 descriptors: on v2 one inotify instance serves every box, on v1
 * one eventfd up to SBX_EVENT_FD_SHARE boxes. Poll each distinct fd once;
 * when it fires, call sbx_backend_events_read(), and when that cannot say
 * which boxes it concerns (-1), sbx_box_events_drain() and a look at the
 * counter of every box that returned it. It stays open while one of them
 * lives (v2: while the backend is open). */
#define SBX_EVENT_FD_SHARE 32
int sbx_box_event_fd(sbx_box *box);
void sbx_box_events_drain(sbx_box *box);
/* Reads what the shared fd holds and calls fn for each box it names (v2),
 * as often as named. Returns how many, or -1 when the backend cannot say
 * which box fired (v1: every box sharing fd may have). */
int sbx_backend_events_read(sbx_backend *be, int fd, void (*fn)(sbx_box *box, void *data),
                            void *data);
/* A pointer of the caller's kept with the box (NULL at first). */
void sbx_box_set_data(sbx_box *box, void *data);
void *sbx_box_data(const sbx_box *box);

/* ---- spawning ---- */

typedef enum sbx_stdio_kind {
    SBX_STDIO_INHERIT,
    SBX_STDIO_NULL,
    SBX_STDIO_FILE,  /* path opened for reading (stdin) or appending */
    SBX_STDIO_PIPE,  /* a pipe whose other end is handed back */
    SBX_STDIO_FD,    /* an fd of the caller's, dup'ed in */
} sbx_stdio_kind;

typedef struct sbx_stdio {
    sbx_stdio_kind kind;
    const char *path;
    int fd;
} sbx_stdio;

/* Who is PID 1 of the sandbox's PID namespace. The kernel hands every
 * orphan inside to that PID 1 and ends everything inside when it exits,
 * so the two cannot both be the program and a reaper of sbx's. */
typedef enum sbx_pid_ns {
    SBX_PID_NS_NONE,
    SBX_PID_NS_PROGRAM,      /* the program: it reaps what it adopts, and
                                signals reach it only where it handles them */
    SBX_PID_NS_INIT,         /* sbx's minimal init, which reaps every orphan
                                and forwards signals; the program is PID 2 */
} sbx_pid_ns;

typedef enum sbx_seccomp {
    SBX_SECCOMP_NONE,
    SBX_SECCOMP_DEFAULT,     /* deny what no worker needs, with EPERM */
    SBX_SECCOMP_FILE,        /* an allow or deny list from a file */
} sbx_seccomp;

/* Isolation, set up in the child before exec. Without root, namespaces
 * come inside a user namespace of the caller's own; where none can be made
 * (a chroot), paths are held by Landlock and the rest is refused.
 *
 * Containment: unless `privileged`, every spawn given an sbx_isolation is
 * contained, root or not: a new session (no controlling terminal), every
 * descriptor above 2 closed (but cmd->keep_fds), an IPC namespace, a
 * cgroup namespace, a private mount namespace in which /sys (so the cgroup
 * filesystem) is read-only, /proc/sys and the kernel's sensitive /proc
 * files read-only or masked, /dev/shm private; without a PID namespace a
 * /proc that hides the processes the program may not ptrace; the
 * capability bounding, effective, permitted, inheritable and ambient sets
 * cut to sbx_caps_default | cap_add; no_new_privs; and a seccomp filter
 * refusing namespace creation (clone/unshare NEW* flags, setns; clone3
 * answers ENOSYS so libc falls back to clone) and TIOCSTI/TIOCLINUX,
 * on top of any profile.
 *
 * Whether the box ends with its creator is die_with_parent alone (apart
 * from containment): a one-shot runner sets it, a supervisor whose units
 * must outlive its own crash does not. */
typedef struct sbx_isolation {
    char *const *readonly;   /* NULL-terminated; visible, read-only */
    char *const *allow;      /* when any: only these (rw), readonly, and a
                                minimal read-only runtime are visible */
    bool no_net;             /* a fresh network namespace with lo up */
    bool private_tmp;        /* an empty tmpfs on /tmp */
    sbx_pid_ns pid_ns;       /* a PID namespace, and who is its PID 1 */
    bool pid_ns_wait_all;    /* with SBX_PID_NS_INIT: the init ends when
                                every process has, not when the program has
                                (the rest are killed); refused with PROGRAM */
    bool no_new_privs;
    const char *hostname;    /* a UTS namespace with this name */
    sbx_seccomp seccomp;
    const char *seccomp_file;
    bool privileged;         /* none of the containment: the program can
                                undo its own limits (as root) */
    uint64_t cap_add;        /* capabilities given back, 1 << CAP_* */
    bool die_with_parent;    /* when the calling process dies, even by
                                SIGKILL, everything in the box is killed
                                and the box removed: a watcher process
                                outside the box (one per box, in the
                                caller's cgroup) waits for the caller's end;
                                the child also gets PR_SET_PDEATHSIG */
    const char *const *hide; /* NULL-terminated paths made invisible in the
                                box's mount namespace (/dev/null bound over
                                a file, an empty read-only dir over a dir):
                                a supervisor's socket and state; ignored
                                when privileged or without a mount ns */
    const char *const *reveal; /* NULL-terminated paths below a hidden
                                directory that stay reachable there, at
                                the same path (bound back in): a unit's
                                own notify socket in sbxd's hidden dir */
} sbx_isolation;

/* The capabilities a contained root program keeps (Docker's default set
 * without MKNOD, NET_RAW and AUDIT_WRITE), as 1 << CAP_* bits. */
extern const uint64_t sbx_caps_default;
/* Capability names, with or without CAP_, any case, separated by commas
 * or spaces: "sys_admin,NET_ADMIN" or "CAP_KILL CAP_CHOWN". */
int sbx_parse_capabilities(const char *text, uint64_t *mask, sbx_error *err);
/* Why a program spawned with iso could undo limits put on its box
 * ("privileged: can rewrite its cgroup limits"), or NULL when it cannot.
 * rlimits: whether the limit is an rlimit (undone by CAP_SYS_RESOURCE). */
const char *sbx_isolation_undoes_limits(const sbx_isolation *iso, bool rlimits);
/* The containment pieces iso gets here (root or not, user namespaces or
 * not), by name: "new-session", "close-fds", "pid-namespace", ... Returns
 * how many were written to out (at most max). */
size_t sbx_isolation_pieces(const sbx_isolation *iso, const char **out, size_t max);

/* Whether iso asks for anything beyond no_new_privs. */
bool sbx_isolation_wanted(const sbx_isolation *iso);
/* Whether iso needs namespaces (everything but no_new_privs and seccomp). */
bool sbx_isolation_needs_namespaces(const sbx_isolation *iso);
/* Whether this process may make them: root, or unprivileged user
 * namespaces allowed (tried in a short-lived child). */
bool sbx_namespaces_available(void);
/* Whether iso's paths will be held by Landlock instead: namespaces needed
 * but neither root nor user namespaces to make them. */
bool sbx_isolation_by_landlock(const sbx_isolation *iso);

typedef struct sbx_command {
    char *const *argv;      /* argv[0] is looked up in the child's PATH */
    char *const *envp;      /* the child's whole environment */
    const char *cwd;        /* NULL = inherit */
    sbx_stdio stdio[3];
    bool new_session;       /* setsid() in the child */
    bool async;             /* return right after the fork (see sbx_spawn) */
    const sbx_isolation *iso; /* NULL: none */
    bool set_ids;           /* drop to uid/gid, supplementary groups cleared */
    uid_t uid;
    gid_t gid;
    const int *keep_fds;    /* contained: descriptors passed on, by number */
    size_t nkeep_fds;
    int pass_fd, pass_fd_as; /* pass_fd_as > 2: the caller's pass_fd becomes
                               the program's descriptor pass_fd_as (s6's
                               notification-fd); every other one above 2 is
                               closed when contained. POSIX only */
    pid_t enter_pid;        /* > 0: into the namespaces of this process (a
                               running sandbox's; a health probe) instead of
                               new ones: with a PID namespace a relay of
                               sbx's forks the program inside and passes its
                               status on (as sbx's init does); then the same
                               last steps as every contained spawn (session,
                               capabilities, ids, fds, no_new_privs, seccomp).
                               iso's namespace and mount requests are not
                               made (the sandbox has its own) */
} sbx_command;

/* Stages of the child's set-up, reported when one fails. */
typedef enum sbx_stage {
    SBX_STAGE_NONE,
    SBX_STAGE_CGROUP,
    SBX_STAGE_SESSION,
    SBX_STAGE_STDIO,
    SBX_STAGE_RLIMIT,
    SBX_STAGE_CWD,
    SBX_STAGE_EXEC,
    SBX_STAGE_USER,
    SBX_STAGE_SANDBOX,
} sbx_stage;

const char *sbx_stage_name(sbx_stage stage);

typedef struct sbx_process {
    pid_t pid;
    int stdio_fd[3];        /* the caller's ends of SBX_STDIO_PIPE, else -1 */
    sbx_stage failed_stage; /* when spawn failed in the child */
    int failed_errno;
    int report_fd;          /* async: the child's report, until reaped */
    unsigned status_slot;   /* pid namespace: where sbx's init posts the
                               program's wait status (the status board), 0: none */
    char failed_step[200];  /* sandbox: which step failed */
    void *handle;           /* Windows: the process handle, until released */
    bool init;              /* pid is sbx's init, the program its child */
    pid_t program_pid;      /* see sbx_process_program_pid (0: not known) */
} sbx_process;

/* Starts cmd inside box. On success the program has passed exec (its first
 * instruction ran inside the box). On failure in the child, returns the
 * negative errno, fills failed_stage/failed_errno, and the child has been
 * reaped; nothing is left behind. */
int sbx_spawn(sbx_box *box, const sbx_command *cmd, sbx_process *proc,
              sbx_error *err);
/* With cmd->async, sbx_spawn returns right after the fork, without waiting
 * for the child to enter its box and exec: a supervisor starting many
 * programs lets their cgroup migrations overlap. Once report_fd is
 * readable (the child exec'd or failed; a supervisor polls it and so
 * keeps no descriptor for a running program) or the child has been
 * reaped, this says whether it failed before exec (-errno, with
 * failed_stage set) or ran (0), and closes report_fd; later calls give
 * the same answer. */
int sbx_spawn_outcome(sbx_process *proc);
/* With a PID namespace, the pid spawned is sbx's init, which posts the
 * program's wait status before it exits: after reaping the init, this
 * replaces *status with the program's own, and frees status_slot. */
void sbx_spawn_program_status(sbx_process *proc, int *status);
/* The status board (Linux): one memfd for the whole process, a page per
 * run behind sbx's init, where each init posts its program's status. Its
 * descriptor (-1 before the first such spawn), close-on-exec; a process
 * that executes itself again with runs going on hands it over. */
int sbx_status_board_fd(void);
/* After such an exec: fd is the board again (0), or -EINVAL when it is
 * not one (-EBUSY: this process has one already). */
int sbx_status_board_adopt(int fd);
/* The slot of a run that goes on after the exec: taken again, so no new
 * spawn gets it. 0, or -ENOENT / -EBUSY. */
int sbx_status_board_claim(unsigned slot);
/* The program's own pid as the caller sees it: with sbx's init in a PID
 * namespace, the init's child (read from /proc once it exists), else
 * proc->pid. 0 while the init has not forked it yet. */
pid_t sbx_process_program_pid(sbx_process *proc);
/* Closes what the process record still holds (the async report pipe, the
 * status slot, the Windows process handle). After the process is reaped. */
void sbx_process_release(sbx_process *proc);

#endif
