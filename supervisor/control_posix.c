/* The control endpoint on POSIX: a Unix socket, born 0600 (0660 for the
 * control or read group), peers checked with SO_PEERCRED. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control_os.h"
#include "fdlimit.h"
#include "peer_cgroup.h"

static bool in_group(pid_t pid, gid_t peer_gid, gid_t gid)
{
    if (peer_gid == gid)
        return true;
    char path[64], line[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f))
        if (strncmp(line, "Groups:", 7) == 0)
            for (char *p = line + 7, *end; !found; p = end) {
                long g = strtol(p, &end, 10);
                if (end == p)
                    break;
                found = (gid_t)g == gid;
            }
    if (f)
        fclose(f);
    return found;
}

const char *control_os_access(const control_settings *cfg, uv_pipe_t *client, char *who,
                              size_t len)
{
    uv_os_fd_t fd;
    struct ucred cr;
    socklen_t crlen = sizeof cr;
    if (uv_fileno((uv_handle_t *)client, &fd) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0 || crlen != sizeof cr) {
        snprintf(who, len, "a peer of unknown uid");
        return NULL;
    }
    /* Before the uid: a unit runs as root by default. */
    if (cfg->units_cgroup_root && peer_cgroup_check(cr.pid, cfg->units_cgroup_base, cfg->units_cgroup_root) != 0) {
        snprintf(who, len, "pid %d (in a unit's cgroup)", (int)cr.pid);
        return NULL;
    }
    if (cr.uid == 0 || cr.uid == getuid())
        return "control";
    if (cfg->has_control_gid && in_group(cr.pid, cr.gid, cfg->control_gid))
        return "control";
    if (cfg->has_read_gid && in_group(cr.pid, cr.gid, cfg->read_gid))
        return "read";
    snprintf(who, len, "uid %d", (int)cr.uid);
    return NULL;
}

bool control_os_fds_short(uv_pipe_t *client, uint64_t *in_use, uint64_t *limit)
{
    uv_os_fd_t fd;
    *limit = fdlimit_current();
    if (uv_fileno((uv_handle_t *)client, &fd) < 0 || *limit == UINT64_MAX)
        return false;
    *in_use = (uint64_t)fd + 1;
    return *in_use + CONTROL_FD_RESERVE > *limit;
}

/* Whether the socket at the other end of fd was made listening by a
 * process that is gone. A SIGKILLed sbxd's forks that have not exec'd yet
 * still hold its listening socket for a moment, so a connect succeeds
 * while nobody will ever answer; the credentials a listening socket gives
 * are those of the process that called listen(). */
static bool listener_dead(int fd)
{
    struct ucred cr;
    socklen_t len = sizeof cr;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || cr.pid <= 0)
        return false;
    return kill(cr.pid, 0) < 0 && errno == ESRCH;
}

/* A socket file left by a dead sbxd is removed; a live one is not. */
static int clear_stale(const char *path, sbx_error *err)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return 0;
    if (!S_ISSOCK(st.st_mode))
        return sbx_error_set(err, -EEXIST, "%s exists and is not a socket", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int live = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
               !listener_dead(fd);
    if (fd >= 0)
        close(fd);
    if (live)
        return sbx_error_set(err, -EADDRINUSE, "%s: another sbxd is listening there", path);
    unlink(path);
    return 0;
}

static void make_parent(const char *path)
{
    char dir[sizeof ((struct sockaddr_un *)0)->sun_path];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0755);
            *p = '/';
        }
    mkdir(dir, 0755);
}

int control_os_bind(uv_pipe_t *server, const control_settings *cfg, sbx_error *err)
{
    if (strlen(cfg->path) >= sizeof ((struct sockaddr_un *)0)->sun_path)
        return sbx_error_set(err, -ENAMETOOLONG, "socket path too long: %s", cfg->path);
    make_parent(cfg->path);
    int r = clear_stale(cfg->path, err);
    if (r < 0)
        return r;
    mode_t old = umask(0177);  /* the socket is born 0600 */
    r = uv_pipe_bind(server, cfg->path);
    umask(old);
    if (r < 0)
        return sbx_error_set(err, r, "bind %s: %s", cfg->path, uv_strerror(r));
    gid_t gid = cfg->has_control_gid ? cfg->control_gid : cfg->read_gid;
    if ((cfg->has_control_gid || cfg->has_read_gid) &&
        (chown(cfg->path, (uid_t)-1, gid) < 0 || chmod(cfg->path, 0660) < 0)) {
        r = sbx_error_set(err, -errno, "chown/chmod %s: %s", cfg->path, strerror(errno));
        unlink(cfg->path);
        return r;
    }
    return 0;
}

void control_os_unbind(const char *path)
{
    unlink(path);
}
