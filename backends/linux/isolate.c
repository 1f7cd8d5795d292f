/* Isolation: namespaces, mounts, hostname, loopback, no_new_privs,
 * seccomp. The parent resolves and compiles everything (sbx__iso_prepare);
 * the child only makes system calls (sbx__iso_setup, sbx__iso_lock).
 *
 * With allowed directories the child builds a new root: a tmpfs mounted on
 * /tmp becomes / by pivot_root, the old root stays reachable at /.oldroot
 * while the runtime (/usr, /bin, /sbin, /lib*), a minimal /dev, a fresh
 * /proc and the allowed and read-only directories are bind-mounted in, then
 * the old root is detached and the new one made read-only. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/landlock.h>
#include <linux/mount.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "isolate.h"

#define OLD "/.oldroot"

bool sbx_namespaces_available(void)
{
    static int known = -1;  /* asked once: a probe costs a fork */
    if (geteuid() == 0)
        return true;
    if (known < 0) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(unshare(CLONE_NEWUSER) == 0 ? 0 : 1);
        int status;
        known = pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
                WEXITSTATUS(status) == 0;
    }
    return known;
}

bool sbx_isolation_by_landlock(const sbx_isolation *iso)
{
    return sbx_isolation_needs_namespaces(iso) && geteuid() != 0 && !sbx_namespaces_available();
}

/* ---- in the parent ---- */

static int canonical_list(char *const *in, char ***out, size_t *n, const char *flag,
                          sbx_error *err)
{
    size_t count = 0;
    while (in && in[count])
        count++;
    *out = calloc(count + 1, sizeof **out);
    if (!*out)
        return sbx_error_set(err, -ENOMEM, "out of memory");
    for (*n = 0; *n < count; (*n)++) {
        char *real = realpath(in[*n], NULL);
        struct stat st;
        if (!real || stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
            int e = real ? ENOTDIR : errno;
            free(real);
            return sbx_error_set(err, -e, "sandbox: %s %s: %s", flag, in[*n], strerror(e));
        }
        if (strcmp(real, "/") == 0) {
            free(real);
            return sbx_error_set(err, -EINVAL, "sandbox: %s /: the whole tree is not a "
                                 "directory to %s", flag, flag[2] == 'r' ? "protect" : "allow");
        }
        (*out)[*n] = real;
    }
    return 0;
}

static void runtime_prepare(sbx__iso_plan *p)
{
    static const char *const dirs[SBX__RUNTIME_DIRS] = {
        "/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32",
    };
    for (int i = 0; i < SBX__RUNTIME_DIRS; i++) {
        struct stat st;
        p->runtime[i].path = dirs[i];
        p->runtime[i].present = lstat(dirs[i], &st) == 0;
        p->runtime[i].target[0] = '\0';
        if (p->runtime[i].present && S_ISLNK(st.st_mode)) {
            ssize_t n = readlink(dirs[i], p->runtime[i].target, sizeof p->runtime[i].target - 1);
            p->runtime[i].target[n > 0 ? n : 0] = '\0';
        }
    }
}

/* Calls no worker needs: module loading, mounts, tracing, kexec, bpf,
 * perf, the key store, reboot, swap, clock setting, namespaces. */
static const char *const default_deny[] = {
    "init_module", "finit_module", "delete_module", "create_module", "mount", "umount",
    "umount2", "pivot_root", "mount_setattr", "move_mount", "open_tree", "fsopen",
    "fsmount", "fspick", "ptrace", "process_vm_readv", "process_vm_writev",
    "kexec_load", "kexec_file_load", "bpf", "perf_event_open", "keyctl", "add_key",
    "request_key", "reboot", "swapon", "swapoff", "acct", "settimeofday",
    "clock_settime", "clock_adjtime", "adjtimex", "stime", "quotactl", "syslog",
    "lookup_dcookie", "open_by_handle_at", "name_to_handle_at", "iopl", "ioperm",
    "setns", "unshare", "userfaultfd", "uselib", "vm86", "vm86old", "nfsservctl",
    "get_kernel_syms", "query_module", NULL,
};

static int add_rules(scmp_filter_ctx ctx, uint32_t action, const char *const *names,
                     bool strict, const char *file, sbx_error *err)
{
    for (; *names; names++) {
        int nr = seccomp_syscall_resolve_name(*names);
        if (nr == __NR_SCMP_ERROR) {
            if (!strict)
                continue;  /* not on this architecture */
            return sbx_error_set(err, -EINVAL, "sandbox: seccomp %s: unknown system call '%s'",
                                 file, *names);
        }
        int r = seccomp_rule_add(ctx, action, nr, 0);
        if (r < 0 && r != -EEXIST)
            return sbx_error_set(err, r, "sandbox: seccomp rule for %s: %s", *names, strerror(-r));
    }
    return 0;
}

/* A profile file: the first word "allow" or "deny", then one system call
 * name per line; '#' starts a comment. */
static int read_profile(const char *path, bool *allow_list, char ***names, sbx_error *err)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return sbx_error_set(err, -errno, "sandbox: seccomp %s: %s", path, strerror(errno));
    size_t n = 0, cap = 64;
    char **v = calloc(cap + 1, sizeof *v), line[256];
    int kind = -1, lineno = 0, r = 0;
    while (v && r == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "#\r\n")] = '\0';
        char *w = line + strspn(line, " \t");
        w[strcspn(w, " \t")] = '\0';
        if (!*w)
            continue;
        if (kind < 0) {
            kind = strcmp(w, "allow") == 0 ? 1 : strcmp(w, "deny") == 0 ? 0 : -2;
            if (kind == -2)
                r = sbx_error_set(err, -EINVAL, "sandbox: seccomp %s:%d: expected 'allow' or "
                                  "'deny' first", path, lineno);
            continue;
        }
        if (n == cap) {
            char **grown = realloc(v, (cap * 2 + 1) * sizeof *v);
            if (!grown)
                break;
            v = grown;
            cap *= 2;
        }
        v[n++] = strdup(w);
        v[n] = NULL;
    }
    fclose(f);
    if (r == 0 && kind < 0)
        r = sbx_error_set(err, -EINVAL, "sandbox: seccomp %s: empty profile", path);
    *allow_list = kind == 1;
    *names = v;
    return r;
}

static void free_names(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* Compiles the filter with libseccomp into out: the profile, and the
 * containment rules when contain. */
static int compile_filter(const sbx_isolation *iso, bool contain, struct sock_fprog *out,
                          sbx_error *err)
{
    bool allow_list = false;
    char **names = NULL;
    int r = 0;
    if (iso->seccomp == SBX_SECCOMP_FILE &&
        (r = read_profile(iso->seccomp_file, &allow_list, &names, err)) < 0) {
        free_names(names);
        return r;
    }
    scmp_filter_ctx ctx = seccomp_init(allow_list ? SCMP_ACT_ERRNO(EPERM) : SCMP_ACT_ALLOW);
    if (!ctx) {
        free_names(names);
        return sbx_error_set(err, -ENOMEM, "sandbox: seccomp_init failed");
    }
    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);  /* we set it ourselves */
    if (iso->seccomp == SBX_SECCOMP_DEFAULT)
        r = add_rules(ctx, SCMP_ACT_ERRNO(EPERM), default_deny, false, "default", err);
    if (r == 0 && allow_list && contain)
        r = sbx__contain_allow_list(ctx, names, err);
    if (r == 0 && iso->seccomp == SBX_SECCOMP_FILE)
        r = add_rules(ctx, allow_list ? SCMP_ACT_ALLOW : SCMP_ACT_ERRNO(EPERM),
                      (const char *const *)names, true, iso->seccomp_file, err);
    if (r == 0 && allow_list) {  /* what exec and a dynamic loader need, at least */
        static const char *const base[] = {"execve", "exit", "exit_group", NULL};
        r = add_rules(ctx, SCMP_ACT_ALLOW, base, false, "", err);
    }
    free_names(names);
    if (r == 0 && contain)
        r = sbx__contain_rules(ctx, err);
    int fd = r == 0 ? memfd_create("sbx-seccomp", MFD_CLOEXEC) : -1;
    if (r == 0 && (fd < 0 || (r = seccomp_export_bpf(ctx, fd)) < 0))
        r = sbx_error_set(err, fd < 0 ? -errno : r, "sandbox: seccomp: cannot compile the filter");
    seccomp_release(ctx);
    if (r < 0) {
        if (fd >= 0)
            close(fd);
        return r;
    }
    off_t size = lseek(fd, 0, SEEK_END);
    struct sock_filter *prog = size > 0 ? malloc((size_t)size) : NULL;
    if (!prog || pread(fd, prog, (size_t)size, 0) != size) {
        close(fd);
        free(prog);
        return sbx_error_set(err, -EIO, "sandbox: seccomp: cannot read the filter back");
    }
    close(fd);
    out->filter = prog;
    out->len = (unsigned short)((size_t)size / sizeof *prog);
    return 0;
}

/* The filter for the child. Without a profile file it is one of four, each
 * compiled once per process (libseccomp takes longer than the spawn). */
static int build_filter(const sbx_isolation *iso, sbx__iso_plan *p, sbx_error *err)
{
    bool contain = p->contained || iso->seccomp == SBX_SECCOMP_DEFAULT;
    if (iso->seccomp == SBX_SECCOMP_FILE)
        return compile_filter(iso, contain, &p->filter, err);
    static struct sock_fprog cache[2][2];
    struct sock_fprog *c = &cache[iso->seccomp == SBX_SECCOMP_DEFAULT][contain];
    int r;
    if (!c->len && (r = compile_filter(iso, contain, c, err)) < 0)
        return r;
    if (!c->len)
        return 0;
    size_t size = c->len * sizeof *c->filter;
    if (!(p->filter.filter = malloc(size)))
        return sbx_error_set(err, -ENOMEM, "out of memory");
    memcpy(p->filter.filter, c->filter, size);
    p->filter.len = c->len;
    return 0;
}

/* ---- Landlock: where no namespace can be made ----
 * Landlock only takes access away, path by path: it can give "only the
 * allowed dirs (read-write), the read-only ones and the runtime" (what is
 * outside answers EACCES instead of being invisible), but not a read-only
 * dir inside a writable world, a network namespace, a PID namespace, a
 * private /tmp or a host name. */

#define LL_READ (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | \
                 LANDLOCK_ACCESS_FS_READ_DIR)
#define LL_ALL_V1 ((LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1)

static int ll_rule(int ruleset, const char *path, uint64_t access)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;  /* an absent runtime dir */
    struct landlock_path_beneath_attr rule = {.allowed_access = access, .parent_fd = fd};
    int r = (int)syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
    int e = errno;
    close(fd);
    return r < 0 ? -e : 0;
}

static int landlock_plan(const sbx_isolation *iso, sbx__iso_plan *p, sbx_error *err)
{
    if (iso->no_net || iso->pid_ns || iso->private_tmp || iso->hostname || !p->nallow)
        return sbx_error_set(err, -EPERM, "sandbox: no namespace can be made here (not root, "
                             "user namespaces refused), and Landlock can only hold the allowed "
                             "and read-only paths");
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 1)
        return sbx_error_set(err, -EPERM, "sandbox: no namespace can be made here and the "
                             "kernel has no Landlock (%s)", strerror(errno));
    uint64_t all = LL_ALL_V1 | (abi >= 2 ? LANDLOCK_ACCESS_FS_REFER : 0);
    struct landlock_ruleset_attr attr = {.handled_access_fs = all};
    int fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (fd < 0)
        return sbx_error_set(err, -errno, "sandbox: landlock ruleset: %s", strerror(errno));
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    static const char *const runtime[] = {"/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32",
                                          "/libx32", "/proc"};
    int r = 0;
    for (size_t i = 0; r == 0 && i < sizeof runtime / sizeof runtime[0]; i++)
        r = ll_rule(fd, runtime[i], LL_READ);
    if (r == 0)  /* /dev/null and friends */
        r = ll_rule(fd, "/dev", LL_READ | LANDLOCK_ACCESS_FS_WRITE_FILE);
    for (size_t i = 0; r == 0 && i < p->nro; i++)
        r = ll_rule(fd, p->ro[i], LL_READ);
    for (size_t i = 0; r == 0 && i < p->nallow; i++)
        r = ll_rule(fd, p->allow[i], all);
    if (r < 0) {
        close(fd);
        return sbx_error_set(err, r, "sandbox: landlock rule: %s", strerror(-r));
    }
    p->landlock_fd = fd;
    p->clone_flags = 0;
    p->mount_ns = p->userns = false;
    p->nro = p->nallow = 0;  /* the paths are in the ruleset now */
    return 0;
}

int sbx__iso_prepare(const sbx_isolation *iso, sbx__iso_plan *p, sbx_error *err)
{
    memset(p, 0, sizeof *p);
    p->landlock_fd = p->enter_fd = -1;
    if (!iso)
        return 0;
    p->nnp = iso->no_new_privs;
    p->active = true;
    p->pid_ns = iso->pid_ns != SBX_PID_NS_NONE;
    sbx__contain_prepare(iso, p);
    int r;
    if ((r = canonical_list(iso->readonly, &p->ro, &p->nro, "--ro", err)) < 0 ||
        (r = canonical_list(iso->allow, &p->allow, &p->nallow, "--allow", err)) < 0)
        return r;
    p->no_net = iso->no_net;
    p->private_tmp = iso->private_tmp;
    p->pid_init = iso->pid_ns == SBX_PID_NS_INIT;
    p->wait_all = iso->pid_ns_wait_all;
    if (p->wait_all && iso->pid_ns == SBX_PID_NS_PROGRAM)
        return sbx_error_set(err, -EINVAL, "sandbox: waiting for leftovers with the program as "
                             "PID 1 of its PID namespace: the kernel ends every process "
                             "inside when PID 1 exits; sbx's init as PID 1 can wait for "
                             "them");
    p->hostname = iso->hostname;
    p->mount_ns |= p->nro || p->nallow || p->private_tmp || p->pid_ns;
    p->clone_flags |= (p->mount_ns ? CLONE_NEWNS : 0) | (p->no_net ? CLONE_NEWNET : 0) |
                     (p->pid_ns ? CLONE_NEWPID | CLONE_NEWIPC : 0) |
                     (p->hostname ? CLONE_NEWUTS : 0);
    /* Without root, namespaces come with a user namespace of our own, in
     * which the child may mount; we stay ourselves inside (uid mapped to
     * itself), so the program has no capability after exec. */
    if (p->clone_flags && geteuid() != 0) {
        if (!sbx_namespaces_available())
            r = landlock_plan(iso, p, err);
        if (r < 0)
            return r;
        if (p->clone_flags) {
            p->clone_flags |= CLONE_NEWUSER;
            p->userns = true;
            p->uid = geteuid();
            p->gid = getegid();
        }
    }
    if (p->nallow) {
        runtime_prepare(p);
        if (!getcwd(p->cwd, sizeof p->cwd))
            p->cwd[0] = '\0';
    }
    if ((iso->seccomp != SBX_SECCOMP_NONE || p->contained) && (r = build_filter(iso, p, err)) < 0)
        return r;
    return 0;
}

void sbx__iso_free(sbx__iso_plan *p)
{
    if (p->landlock_fd > 0)
        close(p->landlock_fd);
    if (p->enter_fd >= 0)
        close(p->enter_fd);
    free_names(p->ro);
    free_names(p->allow);
    free(p->filter.filter);
    memset(p, 0, sizeof *p);
}

static int write_map(pid_t pid, const char *file, const char *text)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    return n < 0 ? -e : 0;
}

int sbx__iso_map_ids(const sbx__iso_plan *p, pid_t pid, sbx_error *err)
{
    char map[64];
    int r = write_map(pid, "setgroups", "deny");
    if (r == 0) {
        snprintf(map, sizeof map, "%u %u 1", (unsigned)p->uid, (unsigned)p->uid);
        r = write_map(pid, "uid_map", map);
    }
    if (r == 0) {
        snprintf(map, sizeof map, "%u %u 1", (unsigned)p->gid, (unsigned)p->gid);
        r = write_map(pid, "gid_map", map);
    }
    if (r < 0)
        return sbx_error_set(err, r, "sandbox: map ids into the user namespace: %s", strerror(-r));
    return 0;
}

/* ---- in the child: system calls only ---- */

static int fail(sbx__iso_failure *f, const char *step, const char *path)
{
    f->step = step;
    f->path = path;
    return -errno;
}

/* dst = a + b, with no allocation. */
static const char *join(char *dst, size_t size, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la + lb + 1 > size)
        return a;
    memcpy(dst, a, la);
    memcpy(dst + la, b, lb + 1);
    return dst;
}

static int mkdir_p(const char *path)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len >= sizeof buf)
        return -1;
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -1;
        buf[i] = c;
    }
    return 0;
}

/* Applies attributes to a mount and everything below it (5.12+), else to
 * the mount alone with a remount. */
static int set_attr(const char *path, bool readonly)
{
    struct mount_attr attr = {
        .attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (readonly ? MOUNT_ATTR_RDONLY : 0),
    };
    if (syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &attr, sizeof attr) == 0)
        return 0;
    if (errno != ENOSYS)
        return -1;
    return mount("none", path, "none", MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV |
                 (readonly ? MS_RDONLY : 0), NULL);
}

/* Binds src on dst (made as a directory) with the attributes. */
static int bind_dir(const char *src, const char *dst, bool readonly, sbx__iso_failure *f)
{
    if (mkdir_p(dst) < 0)
        return fail(f, "mkdir", dst);
    if (mount(src, dst, "none", MS_BIND | MS_REC, NULL) < 0)
        return fail(f, readonly ? "bind read-only" : "bind", dst);
    if (set_attr(dst, readonly) < 0)
        return fail(f, readonly ? "make read-only" : "make nosuid,nodev", dst);
    return 0;
}

static int make_dev(sbx__iso_failure *f)
{
    static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
    char src[64], dst[64];
    if (mkdir("/dev", 0755) < 0 ||
        mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV,
              "mode=0755,size=64k") < 0)
        return fail(f, "mount /dev", "/dev");
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
        join(src, sizeof src, OLD "/dev/", nodes[i]);
        join(dst, sizeof dst, "/dev/", nodes[i]);
        int fd = open(dst, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
        if (fd < 0)
            return fail(f, "create", dst);
        close(fd);
        if (mount(src, dst, "none", MS_BIND, NULL) < 0)
            return fail(f, "bind", dst);
    }
    if (symlink("/proc/self/fd", "/dev/fd") < 0 || symlink("/proc/self/fd/0", "/dev/stdin") < 0 ||
        symlink("/proc/self/fd/1", "/dev/stdout") < 0 || symlink("/proc/self/fd/2", "/dev/stderr") < 0)
        return fail(f, "symlink", "/dev/fd");
    if (mkdir("/dev/shm", 01777) < 0 ||
        mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
        return fail(f, "mount", "/dev/shm");
    return 0;
}

static int mount_proc(sbx__iso_failure *f)
{
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        return fail(f, "mount a fresh", "/proc");
    return 0;
}

/* Binds the read-only and allowed dirs, parents before what lies below
 * them (shorter paths first), so an allowed dir inside a read-only one is
 * writable and a read-only dir inside an allowed one is not. The sources
 * are below `from` (the old root, or "" in place). */
static int bind_all(const sbx__iso_plan *p, const char *from, sbx__iso_failure *f)
{
    char buf[4096];
    size_t done = 0, total = p->nro + p->nallow, last = 0;
    while (done < total) {
        size_t next = (size_t)-1;
        for (size_t i = 0; i < total; i++) {  /* the next length up */
            const char *d = i < p->nro ? p->ro[i] : p->allow[i - p->nro];
            size_t len = strlen(d);
            if (len > last && len < next)
                next = len;
        }
        for (size_t i = 0; i < total; i++) {
            bool ro = i < p->nro;
            const char *d = ro ? p->ro[i] : p->allow[i - p->nro];
            if (strlen(d) != next)
                continue;
            if (bind_dir(join(buf, sizeof buf, from, d), d, ro, f) < 0)
                return -1;
            done++;
        }
        last = next;
    }
    return 0;
}

/* The new root: see the comment at the top. */
static int new_root(const sbx__iso_plan *p, sbx__iso_failure *f)
{
    char buf[4096];
    if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
        return fail(f, "mount the new root on", "/tmp");
    if (mkdir("/tmp" OLD, 0700) < 0 || chdir("/tmp") < 0 ||
        syscall(SYS_pivot_root, ".", "." OLD) < 0 || chdir("/") < 0)
        return fail(f, "pivot_root into", "/tmp");
    for (int i = 0; i < SBX__RUNTIME_DIRS; i++) {
        const char *dir = p->runtime[i].path;
        if (!p->runtime[i].present)
            continue;
        if (p->runtime[i].target[0]) {
            if (symlink(p->runtime[i].target, dir) < 0)
                return fail(f, "symlink", dir);
        } else if (bind_dir(join(buf, sizeof buf, OLD, dir), dir, true, f) < 0) {
            return -1;
        }
    }
    int r;
    if ((r = make_dev(f)) < 0)
        return r;
    if (p->private_tmp && (mkdir("/tmp", 01777) < 0 ||
                           mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0))
        return fail(f, "mount a private", "/tmp");
    if (bind_all(p, OLD, f) < 0)
        return -1;
    /* A fresh /proc, while the old one is still visible: in a user
     * namespace the kernel allows proc only where one is fully visible. */
    if (mkdir("/proc", 0555) < 0)
        return fail(f, "mkdir", "/proc");
    /* In a user namespace a proc of our own needs a PID namespace of our
     * own too; without one, the host's /proc is bound in instead. */
    if (p->userns && !p->pid_ns) {
        if (mount(OLD "/proc", "/proc", "none", MS_BIND | MS_REC, NULL) < 0)
            return fail(f, "bind", "/proc");
    } else if ((r = mount_proc(f)) < 0) {
        return r;
    }
    if (umount2(OLD, MNT_DETACH) < 0 || rmdir(OLD) < 0)
        return fail(f, "detach the old root", OLD);
    return 0;
}


static int loopback_up(sbx__iso_failure *f)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
        return fail(f, "find the loopback interface", "lo");
    ifr.ifr_flags |= IFF_UP;
    int r = ioctl(fd, SIOCSIFFLAGS, &ifr);
    close(fd);
    return r < 0 ? fail(f, "bring up", "lo") : 0;
}

int sbx__iso_setup(const sbx__iso_plan *p, int sync_fd, sbx__iso_failure *f)
{
    if (!p->active)
        return 0;
    if (p->userns) {  /* wait until the parent has written our id maps */
        char go;
        ssize_t n;
        do
            n = read(sync_fd, &go, 1);
        while (n < 0 && errno == EINTR);
        if (n != 1) {
            errno = EPERM;
            return fail(f, "set up the user namespace", "");
        }
    }
    /* After joining the box: its cgroup becomes the namespace's root. */
    if (p->contained && p->drop_caps && p->enter_fd < 0 && unshare(CLONE_NEWCGROUP) < 0)
        return fail(f, "make a cgroup namespace", "");
    if (p->mount_ns && mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
        return fail(f, "make mounts private", "/");
    if (p->hostname && sethostname(p->hostname, strlen(p->hostname)) < 0)
        return fail(f, "set hostname", p->hostname);
    if (p->no_net && loopback_up(f) < 0)
        return -1;
    if (p->nallow) {
        if (new_root(p, f) < 0)
            return -1;
    } else {
        if (bind_all(p, "", f) < 0)
            return -1;
        if (p->pid_ns && mount_proc(f) < 0)  /* a /proc of the new PID namespace */
            return -1;
        if (p->private_tmp && (mkdir_p("/tmp") < 0 ||
                               mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0))
            return fail(f, "mount a private", "/tmp");
    }
    if (sbx__contain_mounts(p, f) < 0)
        return -1;
    if (p->nallow && mount("none", "/", "none", MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
        return fail(f, "make read-only", "/");
    /* Back to the caller's directory when it is visible, else the root. */
    if (p->nallow && (!p->cwd[0] || chdir(p->cwd) < 0) && chdir("/") < 0)
        return fail(f, "chdir", "/");
    return 0;
}

/* seccomp(2), or the older prctl where that call is missing (valgrind). */
static int load_filter(const sbx__iso_plan *p)
{
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p->filter) == 0)
        return 0;
    if (errno != ENOSYS)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p->filter, 0, 0);
}

int sbx__iso_lock(const sbx__iso_plan *p, const sbx_command *cmd, sbx_stage *stage,
                  sbx__iso_failure *f)
{
    bool nnp = p->nnp || p->landlock_fd >= 0;
    *stage = SBX_STAGE_SANDBOX;
    if (sbx__contain_bound(p, f) < 0)
        return -1;
    /* Without no_new_privs a filter needs CAP_SYS_ADMIN: load it while
     * we still have it (root), before the ids and capabilities go. */
    if (!nnp && p->filter.len && load_filter(p) < 0)
        return fail(f, "load the seccomp filter", "");
    if (cmd->set_ids && (setgroups(0, NULL) < 0 || setgid(cmd->gid) < 0 ||
                         setuid(cmd->uid) < 0)) {
        *stage = SBX_STAGE_USER;
        return fail(f, "set ids", "");
    }
    if (sbx__contain_caps(p, f) < 0 || (p->contained && sbx__contain_fds(cmd, f) < 0))
        return -1;
    if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return fail(f, "set no_new_privs", "");
    if (p->landlock_fd >= 0 && syscall(SYS_landlock_restrict_self, p->landlock_fd, 0) < 0)
        return fail(f, "enforce the Landlock ruleset", "");
    if (nnp && p->filter.len && load_filter(p) < 0)
        return fail(f, "load the seccomp filter", "");
    return 0;
}
