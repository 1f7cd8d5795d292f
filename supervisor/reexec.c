/* Live upgrade: see reexec.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reexec.h"
#include "sbx.h"

typedef struct kept_unit {
    char *name;
    unsigned slot;  /* on the status board, 0: none or taken */
    reexec_unit u;
} kept_unit;

static struct {
    char **argv;
    char *notify;   /* NOTIFY_SOCKET as we were given it, or NULL */
    kept_unit *units;  /* handed over to us */
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

/* "NAME:SLOT:STATE:RESTARTS:FAILURES:PID:RESTART ...": each slot is
 * claimed on the status board again for its unit. RESTART is new: an
 * older sbxd does not send it. */
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
        kept_unit *k = &R.units[R.nunits];
        int restart = 0;
        if (colon && colon < end && colon > p &&
            sscanf(colon + 1, "%u:%d:%u:%u:%d:%d", &k->slot, &k->u.state, &k->u.restarts,
                   &k->u.failures, &k->u.run_pid, &restart) >= 5) {
            k->u.restart = restart == 1;
            if (k->slot && sbx_status_board_claim(k->slot) < 0)
                k->slot = 0;
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

unsigned reexec_unit_slot(const char *name)
{
    for (size_t i = 0; i < R.nunits; i++)
        if (R.units[i].slot && strcmp(R.units[i].name, name) == 0) {
            unsigned slot = R.units[i].slot;
            R.units[i].slot = 0;
            return slot;
        }
    return 0;
}

void reexec_close_unclaimed(void)
{
    for (size_t i = 0; i < R.nunits; i++)
        R.units[i].slot = 0;
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
    out->control = out->lock = out->board = out->http = -1;
    for (const char *p = text; p && *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        int a = parse_fd(p, "control", &out->control);
        if (a == 0)
            a = parse_fd(p, "lock", &out->lock);
        if (a == 0)
            a = parse_fd(p, "board", &out->board);
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

/* Only an fd that is open: a stale variable names nothing of ours. It is
 * CLOEXEC again. */
static int kept_fd(int fd)
{
    if (fd < 0 || fcntl(fd, F_GETFD) < 0)
        return -1;
    set_cloexec(fd, true);
    return fd;
}

/* The status board handed over: libsbx's again, or closed when it is not
 * one (nothing then claims a slot: those runs end reported by their
 * init's own exit status). */
static int take_board(int fd)
{
    if ((fd = kept_fd(fd)) >= 0 && sbx_status_board_adopt(fd) < 0) {
        fprintf(stderr, "sbxd: %s: board=%d is no status board, ignored\n", REEXEC_ENV, fd);
        close(fd);
        fd = -1;
    }
    return fd;
}

bool reexec_inherited(reexec_fds *out)
{
    out->control = out->lock = out->board = out->http = -1;
    const char *v = getenv(REEXEC_ENV);
    reexec_fds got = {.control = -1, .lock = -1, .board = -1, .http = -1};
    if (v && reexec_parse(v, &got) < 0) {
        fprintf(stderr, "sbxd: %s=%s: not understood, ignored\n", REEXEC_ENV, v);
        got.control = got.lock = got.board = got.http = -1;
    }
    got.board = take_board(got.board);  /* before the units claim their slots */
    const char *u = getenv(REEXEC_UNITS_ENV);
    if (u)
        take_units(u);
    unsetenv(REEXEC_UNITS_ENV);
    if (!v)
        return false;
    unsetenv(REEXEC_ENV);  /* before any unit could inherit it */
    got.control = kept_fd(got.control);
    got.lock = kept_fd(got.lock);
    got.http = kept_fd(got.http);
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
    set_cloexec(fds->board, !on);
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
    char v[128] = "";
    const struct { const char *key; int fd; } named[] = {
        {"control", fds->control}, {"lock", fds->lock}, {"board", fds->board},
        {"http", fds->http}};
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
