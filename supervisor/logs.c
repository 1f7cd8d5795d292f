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

static void open_file(unit_log *log)
{
    if (log->fd >= 0 || !log->path)
        return;
    log->fd = open(log->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_BINARY, 0640);
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
    if (log->fd < 0) {
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

void log_append(unit_log *log, const char *buf, size_t len)
{
    ring_put(log, buf, len);
    log->written += len;
    if (log->path) {
        int err;
        size_t done = file_write(log, buf, len, &err);
        note_drop(log, len - done, err);
        if (log->fd >= 0 && log->max_size && log->size >= log->max_size)
            rotate(log);
    }
    if (log->on_data)
        log->on_data(log, buf, len);
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

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char chunk[64 * 1024];
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(chunk, sizeof chunk);
}

static void on_closed(uv_handle_t *h)
{
    free(h);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    unit_log *log = s->data;
    if (n > 0 && log) {
        log_append(log, buf->base, (size_t)n);
        return;
    }
    if (n < 0 || !log) {  /* EOF: every writer is gone (or the log is) */
        if (log && log->pipe == (uv_pipe_t *)s)
            log->pipe = NULL;
        uv_close((uv_handle_t *)s, on_closed);
    }
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
    log->pipe = p;
    log->loop = loop;  /* an older pipe keeps its data pointer and drains */
    return uv_read_start((uv_stream_t *)p, on_alloc, on_read);
}

/* Detaches every pipe of this log (they may still drain): called with the
 * loop's handle walk so no pipe points at a freed log. */
static void detach(uv_handle_t *h, void *arg)
{
    if (h->type == UV_NAMED_PIPE && h->data == arg && !uv_is_closing(h))
        uv_close(h, on_closed);
}

void log_detach(unit_log *log)
{
#ifndef _WIN32  /* (output FIFOs are POSIX only) */
    uv_os_fd_t fd;
    if (log->pipe && uv_fileno((uv_handle_t *)log->pipe, &fd) == 0) {
        char buf[4096];  /* what is still buffered (the pipe is non-blocking) */
        for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;)
            log_append(log, buf, (size_t)n);
    }
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
