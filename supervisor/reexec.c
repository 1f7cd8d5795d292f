/* Live upgrade: see reexec.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reexec.h"

typedef struct kept_pipe {
    char *name;
    int fd;         /* -1 once claimed */
    reexec_unit u;
} kept_pipe;

static struct {
    char **argv;
    char *notify;   /* NOTIFY_SOCKET as we were given it, or NULL */
    kept_pipe *units;  /* handed over to us */
    size_t nunits;
} R;

void reexec_init(int argc, char **argv)
{
    /* getopt permutes argv in place: the copy is the command line given */
    R.argv = calloc((size_t)argc + 1, sizeof *R.argv);
    for (int i = 0; R.argv && i < argc; i++)
        R.argv[i] = strdup(argv[i]);
    const char *n = getenv("NOTIFY_SOCKET");
    R.notify = n ? strdup(n) : NULL;
}

void reexec_free(void)
{
    for (size_t i = 0; R.argv && R.argv[i]; i++)
        free(R.argv[i]);
    free(R.argv);
    free(R.notify);
    R.argv = NULL;
    R.notify = NULL;
    reexec_close_unclaimed();
    for (size_t i = 0; i < R.nunits; i++)
        free(R.units[i].name);
    free(R.units);
    R.units = NULL;
    R.nunits = 0;
}

/* "NAME:FD:STATE:RESTARTS:FAILURES:PID:RESTART ...": each open fd is kept
 * (CLOEXEC again) for its unit. RESTART is new: an older sbxd does not
 * send it. */
static void take_units(const char *text)
{
    size_t n = 1;
    for (const char *p = text; *p; p++)
        n += *p == ' ';
    if (!(R.units = calloc(n, sizeof *R.units)))
        return;
    for (const char *p = text; *p;) {
        const char *end = strchr(p, ' '), *colon = strchr(p, ':');
        if (!end)
            end = p + strlen(p);
        kept_pipe *k = &R.units[R.nunits];
        int restart = 0;
        if (colon && colon < end && colon > p &&
            sscanf(colon + 1, "%d:%d:%u:%u:%d:%d", &k->fd, &k->u.state, &k->u.restarts,
                   &k->u.failures, &k->u.run_pid, &restart) >= 5) {
            k->u.restart = restart == 1;
            if (k->fd <= 2 || fcntl(k->fd, F_GETFD) < 0)
                k->fd = -1;
            else
                fcntl(k->fd, F_SETFD, FD_CLOEXEC);
            if ((k->name = strndup(p, (size_t)(colon - p))))
                R.nunits++;
        }
        p = *end ? end + 1 : end;
    }
}

const reexec_unit *reexec_unit_find(const char *name)
{
    for (size_t i = 0; i < R.nunits; i++)
        if (strcmp(R.units[i].name, name) == 0)
            return &R.units[i].u;
    return NULL;
}

int reexec_unit_fd(const char *name)
{
    for (size_t i = 0; i < R.nunits; i++)
        if (R.units[i].name && R.units[i].fd >= 0 && strcmp(R.units[i].name, name) == 0) {
            int fd = R.units[i].fd;
            R.units[i].fd = -1;
            return fd;
        }
    return -1;
}

void reexec_close_unclaimed(void)
{
    for (size_t i = 0; i < R.nunits; i++)
        if (R.units[i].fd >= 0) {
            close(R.units[i].fd);
            R.units[i].fd = -1;
        }
}

static int parse_fd(const char *word, const char *key, int *fd)
{
    size_t n = strlen(key);
    if (strncmp(word, key, n) != 0 || word[n] != '=')
        return 0;
    char *end;
    long v = strtol(word + n + 1, &end, 10);
    if (end == word + n + 1 || (*end && *end != ' ') || v < 0 || v > 1 << 24)
        return -1;
    *fd = (int)v;
    return 1;
}

int reexec_parse(const char *text, reexec_fds *out)
{
    out->control = out->lock = out->http = -1;
    for (const char *p = text; p && *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        int a = parse_fd(p, "control", &out->control);
        if (a == 0)
            a = parse_fd(p, "lock", &out->lock);
        if (a == 0)
            a = parse_fd(p, "http", &out->http);
        if (a <= 0)
            return -1;
        p = strchr(p, ' ');
    }
    return 0;
}

static void set_cloexec(int fd, bool on)
{
    int fl = fd >= 0 ? fcntl(fd, F_GETFD) : -1;
    if (fl >= 0)
        fcntl(fd, F_SETFD, on ? fl | FD_CLOEXEC : fl & ~FD_CLOEXEC);
}

/* Only fds that are open: a stale variable names nothing of ours. */
static int open_or_none(int fd)
{
    return fd >= 0 && fcntl(fd, F_GETFD) < 0 ? -1 : fd;
}

bool reexec_inherited(reexec_fds *out)
{
    out->control = out->lock = out->http = -1;
    const char *u = getenv(REEXEC_UNITS_ENV);
    if (u)
        take_units(u);
    unsetenv(REEXEC_UNITS_ENV);
    const char *v = getenv(REEXEC_ENV);
    if (!v)
        return false;
    reexec_fds got;
    if (reexec_parse(v, &got) < 0) {
        fprintf(stderr, "sbxd: %s=%s: not understood, ignored\n", REEXEC_ENV, v);
        got.control = got.lock = got.http = -1;
    }
    unsetenv(REEXEC_ENV);  /* before any unit could inherit it */
    got.control = open_or_none(got.control);
    got.lock = open_or_none(got.lock);
    got.http = open_or_none(got.http);
    set_cloexec(got.control, true);
    set_cloexec(got.lock, true);
    set_cloexec(got.http, true);
    *out = got;
    return true;
}

/* /proc/self/exe names the file we run; once a package upgrade replaced
 * it, " (deleted)" follows the path, where the new file now is. */
static bool own_path(char *buf, size_t len)
{
    ssize_t n = readlink("/proc/self/exe", buf, len - 1);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    static const char gone[] = " (deleted)";
    size_t g = sizeof gone - 1;
    if ((size_t)n > g && strcmp(buf + n - g, gone) == 0)
        buf[n - g] = '\0';
    return true;
}

static void hand_over(const reexec_fds *fds, bool on)
{
    set_cloexec(fds->control, !on);
    set_cloexec(fds->lock, !on);
    set_cloexec(fds->http, !on);
    if (!on) {
        unsetenv(REEXEC_ENV);
        unsetenv(REEXEC_UNITS_ENV);
        unsetenv("NOTIFY_SOCKET");
        return;
    }
    if (fds->units)
        setenv(REEXEC_UNITS_ENV, fds->units, 1);
    /* Only the fds there are ("-1" would not parse): the variable present
     * with none still says "this is a re-exec". */
    char v[96] = "";
    const struct { const char *key; int fd; } named[] = {
        {"control", fds->control}, {"lock", fds->lock}, {"http", fds->http}};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (named[i].fd >= 0)
            snprintf(v + strlen(v), sizeof v - strlen(v), "%s%s=%d", *v ? " " : "", named[i].key,
                     named[i].fd);
    setenv(REEXEC_ENV, v, 1);
    if (R.notify)
        setenv("NOTIFY_SOCKET", R.notify, 1);
}

int reexec_exec(const reexec_fds *fds, char *why, size_t whylen)
{
    if (!R.argv || !R.argv[0]) {
        snprintf(why, whylen, "no command line kept");
        return -ENOMEM;
    }
    char path[4096];
    bool have = own_path(path, sizeof path);
    hand_over(fds, true);
    fflush(NULL);
    int e = ENOENT;
    if (have) {
        execv(path, R.argv);
        e = errno;
    }
    /* The file at /proc/self/exe's path is gone (not replaced): argv[0]. */
    if (!have || e == ENOENT) {
        if (strchr(R.argv[0], '/'))
            execv(R.argv[0], R.argv);
        else
            execvp(R.argv[0], R.argv);
        if (!have || errno != ENOENT)
            e = errno;
        if (!have)
            snprintf(path, sizeof path, "%s", R.argv[0]);
    }
    hand_over(fds, false);
    snprintf(why, whylen, "exec %s: %s", path, strerror(e));
    return -e;
}
