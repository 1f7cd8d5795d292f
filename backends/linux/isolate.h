/* Isolation for spawn.c: what the parent prepares (canonical paths, the
 * runtime to show, a compiled seccomp filter) and the steps the child runs
 * with system calls only. Internal to libsbx. */
#ifndef SBX_LINUX_ISOLATE_H
#define SBX_LINUX_ISOLATE_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../sbx.h"

#define SBX__RUNTIME_DIRS 7

typedef struct sbx__iso_plan {
    unsigned long clone_flags;   /* CLONE_NEW* for the child */
    bool active, mount_ns, pid_ns, no_net, private_tmp, nnp;
    bool userns;                 /* not root: a user namespace too */
    bool pid_init;               /* sbx's init is PID 1 (else the program) */
    bool wait_all;               /* the init waits for every process */
    int landlock_fd;             /* no namespaces here: a Landlock ruleset, or -1 */
    uid_t uid;
    gid_t gid;
    const char *hostname;
    char **ro, **allow;          /* canonical absolute paths (owned) */
    size_t nro, nallow;
    struct {
        const char *path;        /* "/usr" */
        char target[256];        /* symlink target, or "" for a directory */
        bool present;
    } runtime[SBX__RUNTIME_DIRS];
    bool contained;              /* not privileged: see sbx_isolation */
    bool die_with_parent;        /* PR_SET_PDEATHSIG in the child */
    const char *const *hide;     /* see sbx_isolation (contained, mount ns) */
    const char *const *reveal;   /* see sbx_isolation: bound back in a hidden dir */
    int enter_fd;                /* a pidfd whose namespaces to enter, or -1 */
    unsigned long enter_flags;   /* which of them (setns) */
    bool hide_proc;              /* contained, no PID namespace: hidepid /proc */
    bool drop_caps;              /* root or a user namespace: caps can be cut */
    uint64_t caps_keep;          /* 1 << CAP_* kept */
    int cap_last;                /* the kernel's highest capability */
    struct sock_fprog filter;    /* len 0: none */
    char cwd[1024];              /* the caller's, to return to in a new root */
} sbx__iso_plan;

/* A failed step in the child: its name and the path it was about. */
typedef struct sbx__iso_failure {
    const char *step;
    const char *path;
} sbx__iso_failure;

int sbx__iso_prepare(const sbx_isolation *iso, sbx__iso_plan *plan, sbx_error *err);
void sbx__iso_free(sbx__iso_plan *plan);
/* enter.c: turns a prepared plan into one that enters pid's namespaces
 * (sbx_command.enter_pid) instead of making new ones. */
int sbx__iso_enter_prepare(pid_t pid, sbx__iso_plan *plan, sbx_error *err);
/* In the child, after joining the box: into those namespaces. */
int sbx__iso_enter(const sbx__iso_plan *plan, sbx__iso_failure *f);
/* In the parent, right after the fork, with a user namespace: the child's
 * uid and gid maps (then tell the child through the sync pipe). */
int sbx__iso_map_ids(const sbx__iso_plan *plan, pid_t pid, sbx_error *err);
/* In the child, in the new namespaces: mounts, hostname, lo. With a user
 * namespace it first waits on sync_fd for its id maps. */
int sbx__iso_setup(const sbx__iso_plan *plan, int sync_fd, sbx__iso_failure *f);
/* In the child, once in its namespaces, last before exec: the capability
 * bounding set, the ids (when set_ids), the capability sets, the fds above
 * 2 (close-on-exec but keep), no_new_privs, Landlock and seccomp. The
 * same steps for every way into a sandbox (a spawn, or a process entering
 * a running box's namespaces). */
int sbx__iso_lock(const sbx__iso_plan *plan, const sbx_command *cmd, sbx_stage *stage,
                  sbx__iso_failure *f);

/* contain.c: the containment of a plan (see sbx_isolation). */
void sbx__contain_prepare(const sbx_isolation *iso, sbx__iso_plan *plan);
/* An allow list, contained: clone and unshare allowed without CLONE_NEW*
 * flags, ioctl but TIOCSTI/TIOCLINUX, setns and clone3 never; those names
 * are taken out of names (freed), the rest left to be allowed as listed. */
int sbx__contain_allow_list(void *scmp_ctx, char **names, sbx_error *err);
/* The seccomp rules every contained program gets. */
int sbx__contain_rules(void *scmp_ctx, sbx_error *err);
/* In the child, in the new mount namespace, after the rest of the mounts:
 * /sys read-only, /proc's sensitive files masked, /dev/shm private. */
int sbx__contain_mounts(const sbx__iso_plan *plan, sbx__iso_failure *f);
/* In the child: the capability bounding set, then (after the ids) the
 * effective, permitted, inheritable and ambient sets. */
int sbx__contain_bound(const sbx__iso_plan *plan, sbx__iso_failure *f);
int sbx__contain_caps(const sbx__iso_plan *plan, sbx__iso_failure *f);
/* In sbx's init (PID 1 of the namespace), once the program is forked: it
 * keeps only CAP_KILL, so nothing the program might make it do is root's. */
void sbx__contain_init(const sbx__iso_plan *plan);
/* In the child: every fd above 2 close-on-exec, but those kept. */
int sbx__contain_fds(const sbx_command *cmd, sbx__iso_failure *f);

#endif
