/* sbxctl: talk to a running sbxd over its control socket, protocol version
 * 1 (doc/protocol.md): status tables, start/stop, logs and events as they
 * come, transient runs, live limit changes. One request per connection on a
 * plain blocking socket (a named pipe on Windows). Exit statuses as
 * systemctl's: 0 ok, 1 failed, 3 unit not running, 4 no such unit. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef _WIN32
#include <windows.h>
#define localtime_r(t, tm) (localtime_s((tm), (t)) ? NULL : (tm))
#define DEFAULT_SOCKET "\\\\.\\pipe\\sbxd"
#else
#include <sys/socket.h>
#include <sys/un.h>
#define DEFAULT_SOCKET "/run/sbx/sbxd.sock"
#endif

#include "limit_options.h"
#include "sbx.h"
#include "sbxctl_top.h"
#include "version.h"

#define MAX_LINE_IN (64u << 20)   /* a status of many units in detail; metrics of 10,000 */
#define MAX_LINE_OUT 65536        /* sbxd's own bound on a request line */

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_NOT_RUNNING = 3, EXIT_NO_UNIT = 4 };

/* One line at a time from the socket, however the bytes arrive. */
struct conn {
#ifdef _WIN32
    HANDLE pipe;
#else
    int fd;
#endif
    char *buf;
    size_t len, cap;
    size_t used;     /* bytes of the line handed out last */
    size_t scanned;  /* bytes already searched for '\n' */
};

struct ctl {
    const char *socket;
    bool json, color;
    bool head_only;         /* --json status: parse only the reply's head */
    bool follow, no_wait, wait;
    uint64_t timeout_ms;
    const char *timeout, *signal, *name, *cwd;
    const char *goal;       /* wait: ready (default), healthy, or a state */
    long lines;             /* -1: the server's default */
    json_t *limits, *env;   /* run */
    char **args;            /* operands after the verb */
    int nargs;
    struct conn conn;
    const char *raw;        /* the last line received, as sent */
    json_t *reply;          /* the response to the request */
};

static const char usage_text[] =
    "usage: sbxctl [--socket PATH] [--json] [--no-color] COMMAND [ARG...]\n"
    "Commands:\n"
    "  status [UNIT...]                 a table of units; one UNIT: its details\n"
    "  start|stop|restart UNIT...       wait until done; --no-wait, --timeout DURATION\n"
    "  kill [-s SIGNAL] UNIT            signal every process of UNIT (default TERM)\n"
    "  freeze UNIT | thaw UNIT          pause or resume UNIT's whole cgroup\n"
    "  reload                           re-read the units, print what changed\n"
    "  reexec                           sbxd executes its binary again (live upgrade:\n"
    "                                   every unit keeps running), prints the versions\n"
    "  version                          the version of the sbxd that answers\n"
    "  logs [-f] [-n N] UNIT            captured output; -f: follow new output\n"
    "  events [-f]                      state changes, exits, OOMs, restarts\n"
    "  run [OPTIONS] -- COMMAND [ARG...]  start COMMAND as a transient unit:\n"
    "      -m, --memory SIZE   --memory-swap SIZE   -c, --cpu PERCENT\n"
    "      -p, --pids N        --nofile N           --cpu-weight N\n"
    "      -t, --timeout DURATION\n"
    "      -e, --env NAME=VALUE (repeatable)        -C, --cwd DIR\n"
    "      --name NAME         --wait (wait for the end and print the result)\n"
    "  set UNIT KEY=VALUE...            change memory, memory_swap, cpu, pids live\n"
    "  metrics                          the Prometheus text of GET /metrics\n"
    "  top                              a live table sorted by CPU or memory (keys c, m, n;\n"
    "                                   q quits); the status table when not on a terminal\n"
    "  wait [--ready|--healthy|--state S] [--timeout D] UNIT...\n"
    "                                   block until every UNIT is ready (default),\n"
    "                                   healthy or in state S; exit 1 if one cannot\n"
    "Options:\n"
    "      --socket PATH   sbxd's socket (default: $SBX_SOCKET, else " DEFAULT_SOCKET ")\n"
    "      --json          print the response objects as sent, one per line\n"
    "      --no-color      no colour even on a terminal (also: NO_COLOR set)\n"
    "  -h, --help          this text\n"
    "      --version       print sbxctl's version\n"
    "Exit status: 0 ok, 1 failed, 3 unit not running, 4 no such unit.\n";

/* ---- errors ---- */

static _Noreturn __attribute__((format(printf, 1, 2))) void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("sbxctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(EXIT_FAILED);
}

static _Noreturn void die_usage(const char *what, const char *msg)
{
    fprintf(stderr, "sbxctl: %s%s%s\n", what ? what : "", what ? ": " : "", msg);
    fputs("Try 'sbxctl --help'.\n", stderr);
    exit(EXIT_FAILED);
}

static __attribute__((format(printf, 1, 2))) char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        fail("out of memory");
    return s;
}

/* ---- the connection ---- */

static _Noreturn void unreachable(const char *path, int err)
{
    fail("cannot reach sbxd at %s: %s", path,
         err == ENOENT ? "no such socket (is sbxd running?)"
         : err == ECONNREFUSED ? "connection refused (is sbxd running?)"
         : err == EACCES || err == EPERM ? "permission denied"
         : err == ENOTSOCK ? "not a socket" : strerror(err));
}

#ifdef _WIN32
static void conn_open(struct conn *k, const char *path)
{
    for (;;) {
        k->pipe = CreateFileA(path, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
        if (k->pipe != INVALID_HANDLE_VALUE)
            return;
        DWORD e = GetLastError();
        if (e == ERROR_PIPE_BUSY && WaitNamedPipeA(path, 10000))
            continue;  /* every instance was taken: one is free again */
        unreachable(path, e == ERROR_FILE_NOT_FOUND ? ENOENT
                          : e == ERROR_ACCESS_DENIED ? EACCES
                          : e == ERROR_PIPE_BUSY ? EBUSY : EIO);
    }
}

/* Bytes read, 0 at the end of the stream, -1 (errno set) on an error. */
static long conn_recv(struct conn *k, char *buf, size_t n)
{
    DWORD got;
    if (ReadFile(k->pipe, buf, n > 1u << 30 ? 1u << 30 : (DWORD)n, &got, NULL))
        return (long)got;
    DWORD e = GetLastError();
    if (e == ERROR_BROKEN_PIPE)
        return 0;
    errno = EIO;
    return -1;
}

static long conn_send(struct conn *k, const char *s, size_t n)
{
    DWORD put;
    if (WriteFile(k->pipe, s, n > 1u << 30 ? 1u << 30 : (DWORD)n, &put, NULL))
        return (long)put;
    DWORD e = GetLastError();
    errno = e == ERROR_NO_DATA || e == ERROR_BROKEN_PIPE ? EPIPE : EIO;
    return -1;
}

static void conn_close(struct conn *k)
{
    if (k->pipe && k->pipe != INVALID_HANDLE_VALUE)
        CloseHandle(k->pipe);
}
#else
static void conn_open(struct conn *k, const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        fail("cannot reach sbxd at %s: socket path too long", path);
    strcpy(sa.sun_path, path);
    if ((k->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        fail("socket: %s", strerror(errno));
    struct stat st;
    while (connect(k->fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        if (errno != EINTR)   /* a plain file there also gives ECONNREFUSED */
            unreachable(path, errno == ECONNREFUSED && stat(path, &st) == 0 &&
                              !S_ISSOCK(st.st_mode) ? ENOTSOCK : errno);
}

static long conn_recv(struct conn *k, char *buf, size_t n)
{
    return (long)read(k->fd, buf, n);
}

static long conn_send(struct conn *k, const char *s, size_t n)
{
    return (long)send(k->fd, s, n, MSG_NOSIGNAL);
}

static void conn_close(struct conn *k)
{
    if (k->fd > 0)
        close(k->fd);
}
#endif

/* Returns the next line without its '\n' (valid until the next call), or
 * NULL at a clean end of the stream. */
static char *conn_read_line(struct conn *k, size_t *len)
{
    if (k->used) {   /* drop the line handed out last time */
        k->len -= k->used;
        memmove(k->buf, k->buf + k->used, k->len);
        k->used = k->scanned = 0;
    }
    for (;;) {
        char *nl = k->len ? memchr(k->buf + k->scanned, '\n', k->len - k->scanned) : NULL;
        if (nl) {
            *nl = '\0';
            *len = (size_t)(nl - k->buf);
            k->used = *len + 1;
            return k->buf;
        }
        k->scanned = k->len;
        if (k->len == k->cap) {
            if (k->cap >= MAX_LINE_IN)
                fail("a line from sbxd is longer than %u MiB", MAX_LINE_IN >> 20);
            k->cap = k->cap ? k->cap * 2 : 65536;
            if (!(k->buf = realloc(k->buf, k->cap)))
                fail("out of memory");
        }
        long n = conn_recv(k, k->buf + k->len, k->cap - k->len);
        if (n < 0 && errno != EINTR)
            fail("reading from sbxd: %s", strerror(errno));
        if (n == 0 && k->len)
            fail("sbxd closed the connection in the middle of a line");
        if (n == 0)
            return NULL;
        k->len += n > 0 ? (size_t)n : 0;
    }
}

static void conn_write(struct conn *k, const char *s, size_t len)
{
    while (len) {
        long n = conn_send(k, s, len);
        if (n < 0 && errno != EINTR)
            fail("writing to sbxd: %s", errno == EPIPE ? "sbxd closed the connection"
                                                       : strerror(errno));
        s += n > 0 ? n : 0;
        len -= n > 0 ? (size_t)n : 0;
    }
}

/* The next message as a JSON object; at the end of the stream, NULL when
 * eof_ok, else a failure. */
/* With --json, a status of thousands of units is printed as it came: only
 * its head (v, id, ok, code, error come first: doc/protocol.md) is parsed
 * for the exit status. That halves the time of a large status. */
static size_t head_length(const char *line, size_t len, const char *body_key)
{
    size_t k = strlen(body_key);
    for (size_t i = 0; i + k <= len; i++)   /* the key is near the start */
        if (line[i] == body_key[0] && memcmp(line + i, body_key, k) == 0)
            return i;
    return 0;
}

static json_t *receive(struct ctl *c, bool eof_ok)
{
    size_t len;
    char *line = conn_read_line(&c->conn, &len);
    if (!line && eof_ok)
        return NULL;
    if (!line)
        fail("sbxd at %s closed the connection", c->socket);
    json_error_t err;
    size_t head = c->json && c->head_only ? head_length(line, len, ",\"units\":[") : 0;
    json_t *m;
    if (head) {
        line[head] = '}';  /* the head alone, as an object */
        m = json_loadb(line, head + 1, JSON_ALLOW_NUL, &err);
        line[head] = ',';
    } else {
        m = json_loadb(line, len, JSON_ALLOW_NUL, &err);
    }
    if (!json_is_object(m))
        fail("sbxd sent a line that is not a JSON object%s%s", m ? "" : ": ", m ? "" : err.text);
    c->raw = line;
    return m;
}

static void print_raw(const struct ctl *c)
{
    puts(c->raw);
}

/* An error response ends the program: its text on stderr (and the object
 * itself on stdout with --json), the exit status from its code. */
static void check_response(const struct ctl *c, json_t *m)
{
    if (!json_is_false(json_object_get(m, "ok")))
        return;
    const char *error = json_string_value(json_object_get(m, "error"));
    const char *code = json_string_value(json_object_get(m, "code"));
    if (c->json)
        print_raw(c);
    fflush(stdout);
    fprintf(stderr, "sbxctl: %s\n", error ? error : code ? code : "request failed");
    exit(!code ? EXIT_FAILED
         : strcmp(code, "no-such-unit") == 0 ? EXIT_NO_UNIT
         : strcmp(code, "not-running") == 0 ? EXIT_NOT_RUNNING : EXIT_FAILED);
}

/* The greeting: a refusal ends the program; else protocol 1 must be offered.
 * Returns it (the caller frees it). */
static json_t *greet(struct ctl *c)
{
    conn_open(&c->conn, c->socket);
    json_t *g = receive(c, false), *p, *versions = json_object_get(g, "protocol");
    size_t i;
    bool ours = false;
    check_response(c, g);
    json_array_foreach(versions, i, p)
        ours |= json_integer_value(p) == 1;
    if (!ours)
        fail("sbxd at %s does not speak protocol version 1 (it offers %s)", c->socket,
             json_is_array(versions) ? json_dumps(versions, JSON_COMPACT) : "none");
    return g;
}

static void connect_and_greet(struct ctl *c)
{
    json_decref(greet(c));
}

static json_t *request(const char *cmd)
{
    return json_pack("{s:i, s:i, s:s}", "v", 1, "id", 1, "cmd", cmd);
}

/* Connects, sends req (consumed) and returns the successful response
 * (c->reply, freed at the end). */
static json_t *call(struct ctl *c, json_t *req)
{
    char *line = json_dumps(req, JSON_COMPACT | JSON_PRESERVE_ORDER);
    size_t len = line ? strlen(line) : 0;
    if (!line)
        fail("out of memory");
    if (len >= MAX_LINE_OUT)
        fail("the request is longer than sbxd accepts (%d bytes)", MAX_LINE_OUT);
    connect_and_greet(c);
    line[len] = '\n';   /* over the terminating NUL */
    conn_write(&c->conn, line, len + 1);
    free(line);
    json_decref(req);
    c->reply = receive(c, false);
    check_response(c, c->reply);
    if (c->json)
        print_raw(c);
    return c->reply;
}

/* ---- figures as text ---- */

/* Every figure is formatted into a cell of its own: no allocation. */
#define CELL 96
typedef char cell[CELL];

static bool get_int(const json_t *o, const char *key, int64_t *v)
{
    json_t *j = json_object_get(o, key);
    if (!json_is_number(j))
        return false;
    *v = json_is_integer(j) ? json_integer_value(j) : (int64_t)json_real_value(j);
    return true;
}

static const char *get_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static const char *or(const char *s, const char *otherwise)
{
    return s ? s : otherwise;
}

/* 850ms, 5.2s, 10s, 3m07s, 2h05m, 3d04h */
static char *fmt_ms(char *out, int64_t ms)
{
    long long s = ms / 1000;
    if (ms < 1000)
        snprintf(out, CELL, "%lldms", (long long)ms);
    else if (ms < 60000 && ms % 1000 == 0)
        snprintf(out, CELL, "%llds", s);
    else if (ms < 60000)
        snprintf(out, CELL, "%.1fs", (double)ms / 1000);
    else if (s < 3600)
        snprintf(out, CELL, "%lldm%02llds", s / 60, s % 60);
    else if (s < 86400)
        snprintf(out, CELL, "%lldh%02lldm", s / 3600, s / 60 % 60);
    else
        snprintf(out, CELL, "%lldd%02lldh", s / 86400, s / 3600 % 24);
    return out;
}

/* A figure of o by its kind: 's' size, 'd' duration in ms, 'n' number;
 * "-" when unknown. */
static char *fmt(char *out, const json_t *o, const char *key, char kind)
{
    int64_t v;
    if (!get_int(o, key, &v) || (kind != 'n' && v < 0))
        snprintf(out, CELL, "-");
    else if (kind == 's')
        sbx_format_size((uint64_t)v, out, CELL);
    else if (kind == 'd')
        fmt_ms(out, v);
    else
        snprintf(out, CELL, "%lld", (long long)v);
    return out;
}

/* now/peak of limit: 1.8M/1.9M of 64M */
static char *fmt_memory(char *out, const json_t *u)
{
    cell now, peak, limit;
    fmt(now, u, "memory", 's');
    fmt(peak, u, "memory_peak", 's');
    fmt(limit, u, "memory_limit", 's');
    if (*now == '-' && *peak == '-' && *limit == '-')
        return strcpy(out, "-");
    snprintf(out, CELL, "%s/%s%s%s", now, peak, *limit != '-' ? " of " : "",
             *limit != '-' ? limit : "");
    return out;
}

/* CPU time used, and the quota when there is one: 1.2s max 50% */
static char *fmt_cpu(char *out, const json_t *u)
{
    int64_t us, pct;
    cell used = "-";
    if (get_int(u, "cpu_usage_us", &us) && us >= 0)
        fmt_ms(used, us / 1000);
    if (get_int(u, "cpu_limit_percent", &pct) && pct > 0)
        snprintf(out, CELL, "%s max %lld%%", used, (long long)pct);
    else
        snprintf(out, CELL, "%s", used);
    return out;
}

static char *fmt_tasks(char *out, const json_t *u)
{
    cell now, max;
    fmt(now, u, "tasks", 'n');
    fmt(max, u, "tasks_limit", 'n');
    snprintf(out, CELL, "%s%s%s", now, *max != '-' ? "/" : "", *max != '-' ? max : "");
    return out;
}

/* How a run ended, in a few words: exited 0 after 1.0s */
static char *fmt_result(char *out, const json_t *r)
{
    const char *reason = get_str(r, "reason");
    int64_t code = -1, sig = 0;
    cell wall;
    get_int(r, "exit_code", &code);
    get_int(r, "signal", &sig);
    const char *signame = sbx_signal_name((int)sig);
    if (!reason)
        return strcpy(out, "-");
    if (strcmp(reason, "exited") == 0)
        snprintf(out, CELL, "exited %lld", (long long)code);
    else if (strcmp(reason, "signaled") == 0 && signame)
        snprintf(out, CELL, "signal %s", signame);
    else
        snprintf(out, CELL, "%s", strcmp(reason, "memory") == 0 ? "out of memory"
                                : strcmp(reason, "timeout") == 0 ? "timed out"
                                : strcmp(reason, "start-failed") == 0 ? "start failed"
                                : reason);
    if (*fmt(wall, r, "wall_ms", 'd') != '-')
        snprintf(out + strlen(out), CELL - strlen(out), " after %s", wall);
    return out;
}

static const char *state_color(const struct ctl *c, const char *state)
{
    if (!c->color || !state)
        return "";
    if (strcmp(state, "running") == 0)
        return "\033[32m";
    if (strcmp(state, "failed") == 0)
        return "\033[31m";
    if (strcmp(state, "backoff") == 0 || strcmp(state, "starting") == 0)
        return "\033[33m";
    return "";
}

static const char *color_end(const char *color)
{
    return *color ? "\033[0m" : "";
}

/* ---- status ---- */

enum { COL_NAME, COL_STATE, COL_HEALTH, COL_PID, COL_UPTIME, COL_RESTARTS, COL_MEM, COL_CPU,
       COL_TASKS, COL_LAST, NCOLS };

static void format_row(cell *row, const json_t *u)
{
    snprintf(row[COL_NAME], CELL, "%s", or(get_str(u, "name"), "?"));
    snprintf(row[COL_STATE], CELL, "%s%s", or(get_str(u, "state"), "-"),
             json_is_true(json_object_get(u, "adopted")) ? " (adopted)" : "");
    snprintf(row[COL_HEALTH], CELL, "%s", or(get_str(u, "health"), "-"));
    fmt(row[COL_PID], u, "pid", 'n');
    fmt(row[COL_UPTIME], u, "uptime_ms", 'd');
    fmt(row[COL_RESTARTS], u, "restarts", 'n');
    fmt_memory(row[COL_MEM], u);
    fmt_cpu(row[COL_CPU], u);
    fmt_tasks(row[COL_TASKS], u);
    fmt_result(row[COL_LAST], json_object_get(u, "last"));
}

static void print_row(const struct ctl *c, cell *row, const size_t *width, bool header)
{
    for (int i = 0; i < NCOLS; i++) {
        const char *color = header || i != COL_STATE ? "" : state_color(c, row[i]);
        int pad = i == NCOLS - 1 ? 0 : (int)(width[i] - strlen(row[i]) + 2);
        printf("%s%s%s%*s", color, row[i], color_end(color), pad, "");
    }
    putchar('\n');
}

/* Unit i of a status: units[i] of the brief form, or, of the table form
 * (columns + rows), row i as an object (one, reused: set per row). */
static const json_t *unit_at(const json_t *r, size_t i, json_t *scratch)
{
    const json_t *units = json_object_get(r, "units"), *cols = json_object_get(r, "columns");
    if (units)
        return json_array_get(units, i);
    const json_t *row = json_array_get(json_object_get(r, "rows"), i);
    for (size_t k = 0; k < json_array_size(cols); k++) {
        const char *key = json_string_value(json_array_get(cols, k));
        if (key)
            json_object_set(scratch, key, json_array_get(row, k) ? json_array_get(row, k)
                                                                 : json_null());
    }
    return scratch;
}

static size_t unit_count(const json_t *r)
{
    const json_t *units = json_object_get(r, "units");
    return json_array_size(units ? units : json_object_get(r, "rows"));
}

/* Two passes over the units, the first for the widths, so that no more
 * than one row is ever held. */
static void show_table(const struct ctl *c, const json_t *reply)
{
    static const char *const headers[NCOLS] = {
        "NAME", "STATE", "HEALTH", "PID", "UPTIME", "RESTARTS", "MEM", "CPU", "TASKS", "LAST"};
    cell row[NCOLS];
    size_t width[NCOLS], n = unit_count(reply);
    json_t *scratch = json_object();
    for (int k = 0; k < NCOLS; k++)
        width[k] = strlen(strcpy(row[k], headers[k]));
    for (size_t i = 0; i < n; i++) {
        format_row(row, unit_at(reply, i, scratch));
        for (int k = 0; k < NCOLS; k++)
            width[k] = strlen(row[k]) > width[k] ? strlen(row[k]) : width[k];
    }
    for (int k = 0; k < NCOLS; k++)
        strcpy(row[k], headers[k]);
    print_row(c, row, width, true);
    for (size_t i = 0; i < n; i++) {
        format_row(row, unit_at(reply, i, scratch));
        print_row(c, row, width, false);
    }
    json_decref(scratch);
}

static bool is_ms(const char *key)
{
    size_t n = strlen(key);
    return n > 3 && strcmp(key + n - 3, "_ms") == 0;
}

/* A limit as unit files write it: a size (memory...), a duration (..._ms),
 * a percentage (cpu), a signal's name; NULL when unset (null, or 0 ms). */
static const char *fmt_limit(char *out, const char *key, const json_t *v)
{
    int64_t i = json_integer_value(v);
    const char *sig = sbx_signal_name((int)i);
    if (json_is_null(v) || (is_ms(key) && json_is_integer(v) && i <= 0))
        return NULL;
    if (json_is_string(v))
        snprintf(out, CELL, "%s", json_string_value(v));
    else if (!json_is_integer(v))
        snprintf(out, CELL, "?");
    else if (sbx_limit_find(key))
        return sbx_limit_format(sbx_limit_find(key), (uint64_t)i, out, CELL);
    else if (is_ms(key))
        fmt_ms(out, i);
    else if (strstr(key, "signal") && sig)
        snprintf(out, CELL, "%s", sig);
    else
        snprintf(out, CELL, "%lld", (long long)i);
    return out;
}

/* key=value ... on one line; unset limits as "none", or left out. */
static void print_limits(const json_t *obj, bool show_unset)
{
    const char *key;
    json_t *v;
    int n = 0;
    json_object_foreach((json_t *)obj, key, v) {
        cell text = "";
        const char *s = fmt_limit(text, key, v);
        if (s || show_unset)
            printf("%s%.*s=%s", n++ ? " " : "", (int)(strlen(key) - (is_ms(key) ? 3 : 0)), key,
                   or(s, "none"));
    }
    putchar('\n');
}

/* The left column of the detailed view; only a field's first line has it. */
static void label(const char *name, bool first)
{
    printf("%10s%c ", first ? name : "", first ? ':' : ' ');
}

/* The last lines of output: one string, or a list of lines. */
static void show_log(const json_t *log)
{
    size_t i, n = json_string_length(log);
    json_t *line;
    if (!n && !json_array_size(log))
        return;
    puts("\nLog:");
    fwrite(or(json_string_value(log), ""), 1, n, stdout);
    if (n && json_string_value(log)[n - 1] != '\n')
        putchar('\n');
    json_array_foreach(log, i, line)
        puts(or(json_string_value(line), ""));
}

/* Limits in force, what enforces each ([{"limit","by"}] as sbx-run
 * --result), the last runs (oldest first; else the last one). */
static void show_limits_and_runs(const json_t *u)
{
    size_t i;
    json_t *e;
    cell how;
    if (json_is_object(json_object_get(u, "limits"))) {
        label("Limits", true);
        print_limits(json_object_get(u, "limits"), false);
    }
    json_array_foreach(json_object_get(u, "enforced"), i, e) {
        label("Enforced", i == 0);
        printf("%s by %s\n", or(get_str(e, "limit"), "?"),
               or(get_str(e, "by"), "nothing (best effort)"));
    }
    json_array_foreach(json_object_get(u, "isolation"), i, e) {
        label("Isolation", i == 0);
        printf("%s\n", or(json_string_value(e), "?"));
    }
    if (!json_array_size(json_object_get(u, "runs"))) {
        label("Last", true);
        printf("%s\n", fmt_result(how, json_object_get(u, "last")));
    }
    json_array_foreach(json_object_get(u, "runs"), i, e) {
        const char *error = get_str(e, "error");
        cell peak;
        label("Runs", i == 0);
        fmt(peak, e, "peak_memory_bytes", 's');
        printf("%s%s%s%s%s\n", fmt_result(how, e), *peak != '-' ? ", peak memory " : "",
               *peak != '-' ? peak : "", error ? ": " : "", or(error, ""));
    }
}

static void show_detail(const struct ctl *c, const json_t *u)
{
    const char *desc = get_str(u, "description"), *state = get_str(u, "state");
    const char *color = state_color(c, state);
    cell pid, up, restarts, figure;
    printf("%s%s%s\n", or(get_str(u, "name"), "?"), desc && *desc ? " - " : "", or(desc, ""));
    label("State", true);
    printf("%s%s%s%s", color, or(state, "-"), color_end(color),
           json_is_true(json_object_get(u, "adopted")) ? " (adopted)" : "");
    if (*fmt(pid, u, "pid", 'n') != '-')
        printf(", pid %s, up %s", pid, fmt(up, u, "uptime_ms", 'd'));
    printf(", %s restarts%s\n", fmt(restarts, u, "restarts", 'n'),
           state && strcmp(state, "starting") == 0 && json_is_integer(json_object_get(u, "pid"))
               ? ", not ready yet" : "");
    if (get_str(u, "status_text")) {
        label("Status", true);
        printf("%s\n", get_str(u, "status_text"));
    }
    if (get_str(u, "health")) {
        label("Health", true);
        printf("%s%s%s\n", get_str(u, "health"), get_str(u, "health_output") ? ": " : "",
               or(get_str(u, "health_output"), ""));
    }
    if (json_is_true(json_object_get(u, "privileged"))) {
        label("Sandbox", true);
        printf("privileged: can undo its own limits\n");
    }
    label("Memory", true);
    printf("%s%s\n", fmt_memory(figure, u), *figure != '-' ? " (now/peak of limit)" : "");
    label("CPU", true);
    printf("%s\n", fmt_cpu(figure, u));
    label("Tasks", true);
    printf("%s\n", fmt_tasks(figure, u));
    if (get_str(u, "cgroup")) {
        label("Cgroup", true);
        printf("%s\n", get_str(u, "cgroup"));
    }
    show_limits_and_runs(u);
    show_log(json_object_get(u, "log"));
}

static json_t *names(char **args, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_string(args[i]));
    return a;
}

static json_t *unit_request(const struct ctl *c, const char *cmd)
{
    json_t *req = request(cmd);
    json_object_set_new(req, "unit", json_string(c->args[0]));
    return req;
}

static int do_status(struct ctl *c, const char *cmd)
{
    json_t *req = request(cmd);
    if (c->nargs)
        json_object_set_new(req, "units", names(c->args, c->nargs));
    if (c->nargs == 1)
        json_object_set_new(req, "detail", json_true());
    else if (!c->json)  /* only the table's columns: a fraction to parse */
        json_object_set_new(req, "table", json_true());
    c->head_only = true;
    json_t *r = call(c, req), *units = json_object_get(r, "units");
    if (c->json)
        return EXIT_OK;
    if (c->nargs == 1 && json_array_size(units) == 1)
        show_detail(c, json_array_get(units, 0));
    else
        show_table(c, r);
    return EXIT_OK;
}

/* One status for top, on a connection of its own, marked "watch" so that
 * sbxd samples the units' trends while top runs. */
static json_t *top_fetch(void *ctx)
{
    struct ctl *c = ctx;
    conn_close(&c->conn);
    free(c->conn.buf);
    c->conn = (struct conn){0};
    json_decref(c->reply);
    c->reply = NULL;
    json_t *req = request("status");
    json_object_set_new(req, "watch", json_true());
    return json_incref(json_object_get(call(c, req), "units"));
}

static int do_top(struct ctl *c, const char *cmd)
{
    (void)cmd;
    if (c->json || top_run(top_fetch, c, 1000, c->color) < 0)
        return do_status(c, "status");  /* not a terminal: the plain table */
    return EXIT_OK;
}

/* ---- control verbs ---- */

/* start, stop, restart, and wait: each unit and the state it reached.
 * wait blocks until the units reach its goal (ready, healthy or a state);
 * sbxd answers failed (exit 1) when one cannot, or at the timeout. */
static int do_start_stop(struct ctl *c, const char *cmd)
{
    json_t *req = request(cmd), *u;
    json_object_set_new(req, "units", names(c->args, c->nargs));
    if (strcmp(cmd, "wait") == 0)
        json_object_set_new(req, "goal", json_string(c->goal ? c->goal : "ready"));
    else
        json_object_set_new(req, "wait", json_boolean(!c->no_wait));
    if (c->timeout)
        json_object_set_new(req, "timeout_ms", json_integer((json_int_t)c->timeout_ms));
    json_t *r = call(c, req);
    size_t i;
    if (!c->json)
        json_array_foreach(json_object_get(r, "units"), i, u)
            printf("%s: %s\n", or(get_str(u, "name"), "?"), or(get_str(u, "state"), "?"));
    return EXIT_OK;
}

/* A signal as sbxd takes it: a number, or a bare upper-case name (KILL). */
static json_t *signal_value(const char *text)
{
    uint64_t n;
    sbx_error e = {0};
    char name[32];
    size_t i = strncasecmp(text, "SIG", 3) == 0 ? 3 : 0, k = 0;
    if (text[0] >= '0' && text[0] <= '9') {
        if (sbx_parse_count(text, 1, 64, &n, &e) < 0)
            die_usage("--signal", e.msg);
        return json_integer((json_int_t)n);
    }
    for (; text[i] && k + 1 < sizeof name; i++)
        name[k++] = (char)toupper((unsigned char)text[i]);
    name[k] = '\0';
    return json_string(name);
}

static int do_kill(struct ctl *c, const char *cmd)
{
    json_t *req = unit_request(c, cmd);
    int64_t n;
    if (c->signal)
        json_object_set_new(req, "signal", signal_value(c->signal));
    json_t *r = call(c, req);
    if (!c->json && get_int(r, "signaled", &n))
        printf("%s: %lld process%s signaled\n", c->args[0], (long long)n, n == 1 ? "" : "es");
    return EXIT_OK;
}

/* freeze, thaw: nothing to say when it worked. */
static int do_unit_verb(struct ctl *c, const char *cmd)
{
    call(c, unit_request(c, cmd));
    return EXIT_OK;
}

static size_t print_names(const char *label, const json_t *list)
{
    size_t i;
    json_t *v;
    if (!json_array_size(list))
        return 0;
    printf("%s:", label);
    json_array_foreach(list, i, v)
        printf(" %s", or(json_string_value(v), "?"));
    putchar('\n');
    return i;
}

/* What changed; exit status 1 when some unit file could not be loaded. */
static int do_reload(struct ctl *c, const char *cmd)
{
    json_t *r = call(c, request(cmd)), *errors = json_object_get(r, "errors"), *e;
    size_t i, n = 0;
    if (!c->json) {
        n += print_names("added", json_object_get(r, "added"));
        n += print_names("removed", json_object_get(r, "removed"));
        n += print_names("changed", json_object_get(r, "changed"));
        json_array_foreach(errors, i, e)
            fprintf(stderr, "%s\n", or(json_string_value(e), "?"));
        if (!n && !json_array_size(errors))
            puts("no changes");
    }
    return json_array_size(errors) ? EXIT_FAILED : EXIT_OK;
}

/* sbxd's version, from its greeting. */
static int do_version(struct ctl *c, const char *cmd)
{
    (void)cmd;
    json_t *g = greet(c);
    if (c->json)
        print_raw(c);
    else
        printf("sbxd %s\n", or(json_string_value(json_object_get(g, "sbxd")), "?"));
    json_decref(g);
    return EXIT_OK;
}

static void reconnect(struct ctl *c)
{
    conn_close(&c->conn);
    free(c->conn.buf);
    c->conn = (struct conn){0};
}

/* Live upgrade: sbxd executes its binary again. It answers only a failure;
 * on success the connection closes with the exec, and the greeting on a
 * new one (queued by the kernel until the new program listens) names the
 * version now running. */
static int do_reexec(struct ctl *c, const char *cmd)
{
    json_t *before = greet(c);
    char *old = strdup(or(json_string_value(json_object_get(before, "sbxd")), "?"));
    json_decref(before);
    json_t *req = request(cmd);
    char *line = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!line || !old)
        fail("out of memory");
    size_t len = strlen(line);
    line[len] = '\n';
    conn_write(&c->conn, line, len + 1);
    free(line);
    json_t *r = receive(c, true);
    if (r) {  /* the exec failed: sbxd runs on, as it was */
        check_response(c, r);
        json_decref(r);
        free(old);
        fail("sbxd answered a re-exec, which it never does on success");
    }
    reconnect(c);
    json_t *after = greet(c);
    if (c->json)
        print_raw(c);
    else
        printf("sbxd re-executed: %s -> %s\n", old,
               or(json_string_value(json_object_get(after, "sbxd")), "?"));
    json_decref(after);
    free(old);
    return EXIT_OK;
}

/* ---- streams ---- */

/* Prints each message of a stream with show (raw with --json) until sbxd
 * ends it, which is a failure: a stream ends when the client closes it. */
static int follow(struct ctl *c, void (*show)(const json_t *))
{
    json_t *m;
    fflush(stdout);
    while ((m = receive(c, true))) {
        check_response(c, m);
        if (c->json)
            print_raw(c);
        else
            show(m);
        fflush(stdout);
        json_decref(m);
    }
    fail("sbxd closed the connection");
}

static void write_string(const json_t *s)
{
    fwrite(or(json_string_value(s), ""), 1, json_string_length(s), stdout);
}

static void show_log_chunk(const json_t *m)
{
    write_string(json_object_get(m, "log"));
}

/* The same text sbxd's GET /metrics serves, for hosts where no port may
 * be opened (a textfile collector, a cron job). */
static int do_metrics(struct ctl *c, const char *cmd)
{
    json_t *r = call(c, request(cmd));
    if (!c->json)
        write_string(json_object_get(r, "text"));
    return EXIT_OK;
}

static int do_logs(struct ctl *c, const char *cmd)
{
    json_t *req = unit_request(c, cmd);
    if (c->lines >= 0)
        json_object_set_new(req, "lines", json_integer(c->lines));
    json_object_set_new(req, "follow", json_boolean(c->follow));
    json_t *r = call(c, req);
    if (!c->json)
        write_string(json_object_get(r, "data"));
    return c->follow ? follow(c, show_log_chunk) : EXIT_OK;
}

/* 2026-11-27 14:03:07.250 web exited: status 1. time_ms is taken as ms
 * since the epoch, or, when smaller than 2001 is, as sbxd's monotonic
 * clock (the same host's: it is a Unix socket). */
/* Wall-clock time at boot, to place times of sbxd's loop clock. */
static int64_t boot_time_ms(void)
{
#ifdef _WIN32
    FILETIME ft;   /* 100 ns since 1601 */
    GetSystemTimeAsFileTime(&ft);
    int64_t real = (int64_t)((((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime) / 10000) -
                   11644473600000LL;
    return real - (int64_t)GetTickCount64();
#else
    struct timespec mono, real;
    clock_gettime(CLOCK_MONOTONIC, &mono);
    clock_gettime(CLOCK_REALTIME, &real);
    return (real.tv_sec - mono.tv_sec) * 1000 + (real.tv_nsec - mono.tv_nsec) / 1000000;
#endif
}

static void show_event(const json_t *ev)
{
    int64_t ms = 0;
    char when[64] = "-";
    struct tm tm;
    if (get_int(ev, "time_ms", &ms)) {
        if (ms < 1000000000000)   /* sbxd's loop clock, time since boot */
            ms += boot_time_ms();
        time_t t = (time_t)(ms / 1000);
        size_t n = strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
        snprintf(when + n, sizeof when - n, ".%03d", (int)(ms % 1000));
    }
    const json_t *d = json_object_get(ev, "detail");
    char *dump = json_is_string(d) || json_is_null(d) ? NULL : json_dumps(d, JSON_COMPACT | JSON_ENCODE_ANY);
    const char *detail = dump ? dump : json_string_value(d);
    printf("%s %s %s%s%s\n", when, or(get_str(ev, "unit"), "-"), or(get_str(ev, "event"), "?"),
           detail && *detail ? ": " : "", or(detail, ""));
    free(dump);
}

static void show_event_line(const json_t *m)
{
    show_event(json_object_get(m, "event"));
}

static int do_events(struct ctl *c, const char *cmd)
{
    json_t *req = request(cmd), *ev;
    size_t i;
    json_object_set_new(req, "follow", json_boolean(c->follow));
    json_t *r = call(c, req);
    if (c->follow)
        return follow(c, show_event_line);
    if (!c->json)
        json_array_foreach(json_object_get(r, "events"), i, ev)
            show_event(ev);
    return EXIT_OK;
}

/* ---- run and set ---- */

/* The limits of run (options) and set (KEY=VALUE), by libsbx's table,
 * checked with its parsers so that a typo fails here, before anything is
 * sent; sbxd gets the text as written. */
static void add_limit(json_t *limits, const sbx_limit_info *k, const char *what,
                      const char *value)
{
    sbx_error e = {0};
    sbx_limits scratch;
    sbx_limits_init(&scratch);
    if (sbx_limit_parse(k, &scratch, value, &e) < 0)
        die_usage(what, e.msg);
    json_object_set_new(limits, k->name, json_string(value));
}

static int do_run(struct ctl *c, const char *cmd)
{
    json_t *req = request(cmd);
    json_object_set_new(req, "command", names(c->args, c->nargs));
    if (c->name)
        json_object_set_new(req, "name", json_string(c->name));
    if (json_object_size(c->limits))
        json_object_set(req, "limits", c->limits);
    if (c->timeout)
        json_object_set_new(req, "timeout", json_string(c->timeout));
    if (json_array_size(c->env))
        json_object_set(req, "env", c->env);
    if (c->cwd) {   /* sbxd's to resolve: a relative one is made absolute here */
        char *here = c->cwd[0] == '/' ? NULL : getcwd(NULL, 0);
        json_object_set_new(req, "cwd", here ? json_sprintf("%s/%s", here, c->cwd)
                                             : json_string(c->cwd));
        free(here);
    }
    json_object_set_new(req, "wait", json_boolean(c->wait));
    json_t *r = call(c, req), *res = json_object_get(r, "result");
    const char *unit = or(get_str(r, "unit"), "?"), *reason = get_str(res, "reason");
    const char *error = get_str(res, "error");
    int64_t code = -1;
    cell how, peak;
    if (!c->json && !c->wait)
        puts(unit);
    if (!c->wait)
        return EXIT_OK;
    fmt(peak, res, "peak_memory_bytes", 's');
    if (!c->json)
        printf("%s: %s%s%s%s%s\n", unit, fmt_result(how, res), *peak != '-' ? ", peak memory " : "",
               *peak != '-' ? peak : "", error ? ": " : "", or(error, ""));
    get_int(res, "exit_code", &code);
    return reason && strcmp(reason, "exited") == 0 && code == 0 ? EXIT_OK : EXIT_FAILED;
}

/* "memory, memory_swap, cpu, pids": what set can change. */
static const char *live_limits(void)
{
    static char names[200];
    const sbx_limit_info *k;
    size_t at = 0;
    for (size_t i = 0; (k = sbx_limit_at(i)) && at < sizeof names; i++)
        if (k->live)
            at += (size_t)snprintf(names + at, sizeof names - at, "%s%s", at ? ", " : "", k->name);
    return names;
}

static int do_set(struct ctl *c, const char *cmd)
{
    json_t *req = unit_request(c, cmd), *limits = json_object();
    for (int i = 1; i < c->nargs; i++) {
        char *arg = c->args[i], *eq = strchr(arg, '=');
        for (char *p = arg; eq && p < eq; p++)
            *p = *p == '-' ? '_' : *p;   /* memory-swap as memory_swap */
        if (eq)
            *eq = '\0';
        const sbx_limit_info *k = eq ? sbx_limit_find(arg) : NULL;
        if (!k || !k->live) {
            if (eq)
                *eq = '=';
            die_usage(arg, xasprintf("expected KEY=VALUE, KEY one of %s", live_limits()));
        }
        add_limit(limits, k, arg, eq + 1);
    }
    json_object_set_new(req, "limits", limits);
    json_t *r = call(c, req);
    if (!c->json && json_is_object(json_object_get(r, "limits")))
        print_limits(json_object_get(r, "limits"), true);
    return EXIT_OK;
}

/* ---- command line ---- */

/* The options each verb takes, by their short or internal letters; the
 * global ones (--socket, --json, --no-color, --help) go everywhere. */
#define GLOBAL_OPTIONS "SJNhV"

static const struct verb {
    const char *name;       /* also the protocol's cmd */
    int (*fn)(struct ctl *, const char *cmd);
    const char *options;
    int min_args, max_args; /* operands; -1: any number */
    const char *operands;   /* for the message when they do not fit */
} verbs[] = {
    {"status", do_status, "", 0, -1, "[UNIT...]"},
    {"start", do_start_stop, "Wt", 1, -1, "UNIT..."},
    {"stop", do_start_stop, "Wt", 1, -1, "UNIT..."},
    {"restart", do_start_stop, "Wt", 1, -1, "UNIT..."},
    {"kill", do_kill, "s", 1, 1, "one UNIT"},
    {"freeze", do_unit_verb, "", 1, 1, "one UNIT"},
    {"thaw", do_unit_verb, "", 1, 1, "one UNIT"},
    {"reload", do_reload, "", 0, 0, "no arguments"},
    {"logs", do_logs, "fn", 1, 1, "one UNIT"},
    {"events", do_events, "f", 0, 0, "no arguments"},
    {"run", do_run, "LteCaw", 1, -1, "-- COMMAND [ARG...]"},
    {"set", do_set, "", 2, -1, "UNIT KEY=VALUE..."},
    {"metrics", do_metrics, "", 0, 0, "no arguments"},
    {"top", do_top, "", 0, 0, "no arguments"},
    {"version", do_version, "", 0, 0, "no arguments"},
    {"reexec", do_reexec, "", 0, 0, "no arguments"},
    {"wait", do_start_stop, "tRHT", 1, -1, "UNIT..."},
};

static const struct option base_options[] = {
    {"socket", required_argument, NULL, 'S'},
    {"json", no_argument, NULL, 'J'},
    {"no-color", no_argument, NULL, 'N'},
    {"help", no_argument, NULL, 'h'},
    {"no-wait", no_argument, NULL, 'W'},
    {"timeout", required_argument, NULL, 't'},
    {"signal", required_argument, NULL, 's'},
    {"follow", no_argument, NULL, 'f'},
    {"lines", required_argument, NULL, 'n'},
    {"env", required_argument, NULL, 'e'},
    {"cwd", required_argument, NULL, 'C'},
    {"name", required_argument, NULL, 'a'},
    {"wait", no_argument, NULL, 'w'},
    {"version", no_argument, NULL, 'V'},
    {"ready", no_argument, NULL, 'R'},
    {"healthy", no_argument, NULL, 'H'},
    {"state", required_argument, NULL, 'T'},
};
#define NBASE (sizeof base_options / sizeof base_options[0])

/* base_options and the limits of run, ended by a zero entry. */
static struct option longs[NBASE + SBX_LIMITS_MAX + 1];

/* The letter a verb's options list for getopt's value: 'L' for every limit. */
static int option_letter(int val)
{
    return limit_option_row(val) ? 'L' : val;
}

static const char *option_name(int val)
{
    for (const struct option *o = longs; o->name; o++)
        if (o->val == val)
            return o->name;
    return "?";
}

static void set_option(struct ctl *c, int val, const char *arg)
{
    sbx_error e = {0};
    uint64_t n;
    char opt[32];
    snprintf(opt, sizeof opt, "--%s", option_name(val));
    switch (val) {
    case 'S': c->socket = arg; break;
    case 'J': c->json = true; break;
    case 'N': c->color = false; break;
    case 'h': fputs(usage_text, stdout); exit(EXIT_OK);
    case 'W': c->no_wait = true; break;
    case 't':
        if (sbx_parse_duration(arg, &c->timeout_ms, &e) < 0)
            die_usage(opt, e.msg);
        c->timeout = arg;
        break;
    case 's': c->signal = arg; break;
    case 'f': c->follow = true; break;
    case 'n':
        if (sbx_parse_count(arg, 0, 1000000, &n, &e) < 0)
            die_usage(opt, e.msg);
        c->lines = (long)n;
        break;
    case 'e':
        if (!strchr(arg, '=') || arg[0] == '=')
            die_usage(opt, "expected NAME=VALUE");
        json_array_append_new(c->env, json_string(arg));
        break;
    case 'C': c->cwd = arg; break;
    case 'a': c->name = arg; break;
    case 'w': c->wait = true; break;
    case 'R': c->goal = "ready"; break;
    case 'H': c->goal = "healthy"; break;
    case 'T': c->goal = arg; break;
    case 'V': puts("sbxctl " SBX_VERSION); exit(EXIT_OK);
    default:
        if (limit_option_row(val))
            add_limit(c->limits, limit_option_row(val), opt, arg);
        break;
    }
}

/* Reads the options of argv: before the verb (v NULL) only the global ones;
 * after it those of the verb too, up to the command for run, anywhere
 * among the operands for the others. */
static void parse_options(struct ctl *c, int argc, char **argv, const struct verb *v)
{
    int val;
    optind = 0;   /* GNU: start over on this argv */
    opterr = 0;
    bool in_order = !v || v->fn == do_run;
    while ((val = getopt_long(argc, argv, in_order ? "+hs:fn:m:c:p:t:e:C:" : "hs:fn:m:c:p:t:e:C:",
                              longs, NULL)) != -1) {
        if (val == '?')
            die_usage(argv[optind - 1], "unknown option or missing value");
        if (!strchr(GLOBAL_OPTIONS, val) && (!v || !strchr(v->options, option_letter(val))))
            die_usage(xasprintf("--%s", option_name(val)),
                      v ? xasprintf("not an option of %s", v->name) : "goes after the command");
        set_option(c, val, optarg);
    }
}

static const struct verb *find_verb(const char *name)
{
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (strcmp(verbs[i].name, name) == 0)
            return &verbs[i];
    return NULL;
}

/* sbxctl [GLOBAL OPTIONS] VERB [OPTIONS] OPERANDS */
static const struct verb *parse_args(struct ctl *c, int argc, char **argv)
{
    parse_options(c, argc, argv, NULL);
    if (optind >= argc)
        die_usage(NULL, "no command given");
    int at = optind;
    const struct verb *v = find_verb(argv[at]);
    if (!v)
        die_usage(argv[at], "unknown command");
    parse_options(c, argc - at, argv + at, v);
    c->args = argv + at + optind;
    c->nargs = argc - at - optind;
    if (c->nargs < v->min_args || (v->max_args >= 0 && c->nargs > v->max_args))
        die_usage(v->name, v->fn == do_run ? "no command given"
                                           : xasprintf("expects %s", v->operands));
    return v;
}

int main(int argc, char **argv)
{
#ifdef _WIN32
    argv = sbx_utf8_argv(&argc);  /* UTF-8, not the ANSI code page */
#endif
    const char *env_socket = getenv("SBX_SOCKET"), *no_color = getenv("NO_COLOR");
    struct ctl c = {
        .socket = env_socket && *env_socket ? env_socket : DEFAULT_SOCKET,
        .color = isatty(STDOUT_FILENO) && !(no_color && *no_color),
        .lines = -1,
        .limits = json_object(),
        .env = json_array(),
    };
    limit_options_build(longs, base_options, NBASE);
    const struct verb *v = parse_args(&c, argc, argv);
    int status = v->fn(&c, v->name);
    if (fflush(stdout) != 0)
        fail("writing the output: %s", strerror(errno));
    json_decref(c.reply);
    json_decref(c.limits);
    json_decref(c.env);
    free(c.conn.buf);
    conn_close(&c.conn);
    return status;
}
