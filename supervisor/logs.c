/* A unit's captured output: see logs.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logs.h"
#include "portable.h"

void log_init(unit_log *log, const char *dir, const char *name,
              uint64_t max_size, unsigned keep)
{
    memset(log, 0, sizeof *log);
    log->fd = -1;
    log->max_size = max_size;
    log->keep = keep;
    if (dir && *dir) {
        size_t n = strlen(dir) + strlen(name) + 6;
        if ((log->path = malloc(n)))
            snprintf(log->path, n, "%s/%s.log", dir, name);
    }
}

/* splice(2) refuses a file opened O_APPEND: on Linux every write seeks to
 * the end first instead (at_end), and the file is opened for reading too,
 * to read back what splice put there. */
#ifdef __linux__
#define LOG_OPEN_MODE O_RDWR
static bool at_end(int fd)
{
    return lseek(fd, 0, SEEK_END) >= 0;
}
#else
#define LOG_OPEN_MODE (O_WRONLY | O_APPEND)
static bool at_end(int fd)
{
    (void)fd;
    return true;
}
#endif

static void open_file(unit_log *log)
{
    if (log->fd >= 0 || !log->path)
        return;
    log->fd = open(log->path, O_CREAT | LOG_OPEN_MODE | O_CLOEXEC | O_BINARY, 0640);
    struct stat st;
    log->size = log->fd >= 0 && fstat(log->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* NAME.log -> NAME.log.1 -> ... -> NAME.log.KEEP (dropped). */
static void rotate(unit_log *log)
{
    size_t n = strlen(log->path) + 16;
    char *from = malloc(n), *to = malloc(n);
    if (from && to) {
        for (unsigned i = log->keep; i >= 1; i--) {
            snprintf(to, n, "%s.%u", log->path, i);
            if (i == 1)
                snprintf(from, n, "%s", log->path);
            else
                snprintf(from, n, "%s.%u", log->path, i - 1);
            rename(from, to);
        }
    }
    free(from);
    free(to);
    close(log->fd);
    log->fd = -1;
    open_file(log);
}

static void ring_put(unit_log *log, const char *buf, size_t len)
{
    if (!log->ring && !(log->ring = malloc(LOG_RING_SIZE)))
        return;
    if (len > LOG_RING_SIZE) {
        buf += len - LOG_RING_SIZE;
        len = LOG_RING_SIZE;
    }
    size_t first = LOG_RING_SIZE - log->head;
    if (first > len)
        first = len;
    memcpy(log->ring + log->head, buf, first);
    memcpy(log->ring, buf + first, len - first);
    log->head = (log->head + len) % LOG_RING_SIZE;
    log->len = log->len + len > LOG_RING_SIZE ? LOG_RING_SIZE : log->len + len;
}

/* A file refused output and was deleted meanwhile (to make room): the
 * next write opens a new one, or the space it held is never freed. */
static void forget_if_unlinked(unit_log *log)
{
    struct stat st;
    if (fstat(log->fd, &st) == 0 && st.st_nlink == 0) {
        close(log->fd);
        log->fd = -1;
    }
}

/* Writes buf to the file; returns how much of it the file took, and in
 * *err why not all (ENOSPC for a full disk, or the open's error). */
static size_t file_write(unit_log *log, const char *buf, size_t len, int *err)
{
    size_t done = 0;
    *err = 0;
    open_file(log);
    if (log->fd < 0 || !at_end(log->fd)) {
        *err = errno;
        return 0;
    }
    /* Regular-file writes do not block for long; a unit that writes faster
     * than the disk is slowed by its own full pipe, since we read at most
     * one buffer per loop turn. A short write is retried once: the second
     * tells why (ENOSPC). */
    while (done < len) {
        ssize_t n = write(log->fd, buf + done, len - done);
        if (n <= 0) {
            *err = n < 0 ? errno : ENOSPC;
            forget_if_unlinked(log);
            break;
        }
        done += (size_t)n;
    }
    log->size += done;
    return done;
}

/* Dropping starts with the first refused byte and ends with the first
 * write taken whole: one report each way, however many bytes between. */
static void note_drop(unit_log *log, size_t lost, int err)
{
    log->dropped += lost;
    bool dropping = lost > 0;
    if (dropping == log->dropping)
        return;
    log->dropping = dropping;
    if (log->on_drop)
        log->on_drop(log, dropping ? (err ? err : EIO) : 0);
}

static void rotate_if_full(unit_log *log)
{
    if (log->fd >= 0 && log->max_size && log->size >= log->max_size)
        rotate(log);
}

/* The bytes for the ring and the streams (sbxctl logs -f). */
static void hand_on(unit_log *log, const char *buf, size_t len)
{
    ring_put(log, buf, len);
    log->written += len;
    if (log->on_data)
        log->on_data(log, buf, len);
}

void log_append(unit_log *log, const char *buf, size_t len)
{
    if (log->path) {
        int err;
        size_t done = file_write(log, buf, len, &err);
        note_drop(log, len - done, err);
        rotate_if_full(log);
    }
    hand_on(log, buf, len);
}

size_t log_tail(const unit_log *log, char *out, size_t max)
{
    size_t n = log->len < max ? log->len : max;
    size_t start = (log->head + LOG_RING_SIZE - n) % LOG_RING_SIZE;
    size_t first = LOG_RING_SIZE - start < n ? LOG_RING_SIZE - start : n;
    if (n) {
        memcpy(out, log->ring + start, first);
        memcpy(out + first, log->ring, n - first);
    }
    return n;
}

void log_reopen(unit_log *log)
{
    if (log->fd >= 0)
        close(log->fd);
    log->fd = -1;
    if (log->len)
        open_file(log);
}

#ifdef __linux__
/* A poll handle and the fd it owns (uv_fileno says EBADF once closing). */
typedef struct log_input {
    uv_poll_t poll;  /* first: the handle is the allocation */
    int fd;
} log_input;
#endif

/* An input handle closed: on Linux a poll handle, which owns its fd. */
static void on_closed(uv_handle_t *h)
{
#ifdef __linux__
    close(((log_input *)h)->fd);
#endif
    free(h);
}

static void close_input(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, on_closed);
}

/* An input handle is done (EOF: every writer is gone, or the log is). */
static void input_done(uv_handle_t *h)
{
    unit_log *log = h->data;
    if (log && log->pipe == h)
        log->pipe = NULL;
    close_input(h);
}

static char chunk[64 * 1024];  /* one buffer per loop turn: see file_write */

#ifdef __linux__
enum { NOT_SPLICED = -1000 };

/* Moves up to one chunk from the pipe into the file in one system call,
 * then reads the same bytes back from the file (the page cache) for the
 * ring and the streams. Returns the bytes moved, 0 at EOF, -EAGAIN, or
 * NOT_SPLICED when the file cannot take them this way (a full disk, a
 * file system without splice): the caller reads them instead, and the
 * usual path counts what the file refuses. */
static ssize_t splice_to_file(unit_log *log, int in)
{
    open_file(log);
    off_t at = log->fd >= 0 ? lseek(log->fd, 0, SEEK_END) : -1;
    if (at < 0)
        return NOT_SPLICED;
    ssize_t n = splice(in, NULL, log->fd, NULL, sizeof chunk, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
    if (n < 0)
        return errno == EAGAIN ? -EAGAIN : NOT_SPLICED;
    if (n == 0)
        return 0;
    log->size = (uint64_t)at + (uint64_t)n;
    note_drop(log, 0, 0);
    ssize_t got = pread(log->fd, chunk, (size_t)n, at);
    hand_on(log, chunk, got > 0 ? (size_t)got : 0);
    log->written += (uint64_t)n - (uint64_t)(got > 0 ? got : 0);
    rotate_if_full(log);
    return n;
}

/* One chunk from the pipe: the bytes taken, 0 at EOF, or -errno. */
static ssize_t take_chunk(unit_log *log, int fd)
{
    ssize_t n = log->path ? splice_to_file(log, fd) : NOT_SPLICED;
    if (n != NOT_SPLICED)
        return n;
    n = read(fd, chunk, sizeof chunk);
    if (n < 0)
        return -errno;
    if (n > 0)
        log_append(log, chunk, (size_t)n);
    return n;
}

static void on_readable(uv_poll_t *p, int status, int events)
{
    (void)events;
    unit_log *log = p->data;
    uv_os_fd_t fd;
    if (status < 0 || !log || uv_fileno((uv_handle_t *)p, &fd) < 0)
        return input_done((uv_handle_t *)p);
    ssize_t n = take_chunk(log, fd);
    if (n == 0 || (n < 0 && n != -EAGAIN && n != -EINTR))
        input_done((uv_handle_t *)p);
}

int log_attach(unit_log *log, uv_loop_t *loop, int fd)
{
    log_input *in = malloc(sizeof *in);
    uv_poll_t *p = &in->poll;
    int r = in ? uv_poll_init(loop, p, fd) : UV_ENOMEM;
    if (r < 0) {
        free(in);
        close(fd);
        return r;
    }
    in->fd = fd;
    p->data = log;
    log->pipe = (uv_handle_t *)p;
    log->loop = loop;  /* an older pipe keeps its data pointer and drains */
    if ((r = uv_poll_start(p, UV_READABLE, on_readable)) < 0)
        uv_close((uv_handle_t *)p, on_closed);
    return r;
}
#else
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(chunk, sizeof chunk);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    unit_log *log = s->data;
    if (n > 0 && log) {
        log_append(log, buf->base, (size_t)n);
        return;
    }
    if (n < 0 || !log)
        input_done((uv_handle_t *)s);
}

int log_attach(unit_log *log, uv_loop_t *loop, int fd)
{
    uv_pipe_t *p = malloc(sizeof *p);
    int r = p ? uv_pipe_init(loop, p, 0) : UV_ENOMEM;
    if (r < 0) {
        free(p);
        close(fd);
        return r;
    }
    if ((r = uv_pipe_open(p, fd)) < 0) {
        close(fd);
        uv_close((uv_handle_t *)p, on_closed);
        return r;
    }
    p->data = log;
    log->pipe = (uv_handle_t *)p;
    log->loop = loop;  /* an older pipe keeps its data pointer and drains */
    return uv_read_start((uv_stream_t *)p, on_alloc, on_read);
}
#endif

/* Detaches every pipe of this log (they may still drain): called with the
 * loop's handle walk so no pipe points at a freed log. */
static void detach(uv_handle_t *h, void *arg)
{
    if ((h->type == UV_NAMED_PIPE || h->type == UV_POLL) && h->data == arg)
        close_input(h);
}

void log_detach(unit_log *log)
{
#ifdef __linux__  /* (output FIFOs are POSIX only) */
    uv_os_fd_t fd;
    if (log->pipe && uv_fileno(log->pipe, &fd) == 0)  /* what is still buffered */
        while (take_chunk(log, fd) > 0)
            ;
#endif
    if (log->loop)
        uv_walk(log->loop, detach, log);
    log->pipe = NULL;
}

void log_close(unit_log *log)
{
    log_detach(log);
    if (log->fd >= 0)
        close(log->fd);
    free(log->ring);
    free(log->path);
    log->fd = -1;
    log->ring = log->path = NULL;
}
