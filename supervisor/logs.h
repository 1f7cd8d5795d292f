/* A unit's captured output: read from a pipe on the loop, appended to
 * LOGDIR/NAME.log with size rotation (NAME.log.1 .. NAME.log.KEEP), and
 * kept in a bounded in-memory ring for `sbxctl logs`. The ring and the file
 * are opened on the first byte, so silent units cost nothing. On Linux the
 * bytes move from the pipe into the file by splice(2): a SIGKILL of sbxd
 * leaves each byte in the file or still in the pipe, never read and lost. */
#ifndef SBX_LOGS_H
#define SBX_LOGS_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define LOG_RING_SIZE (16 * 1024)

typedef struct unit_log {
    char *path;             /* NULL: keep the ring only */
    int fd;
    uint64_t size, max_size;
    unsigned keep;
    char *ring;
    size_t head, len;       /* ring: next write position, bytes held */
    uint64_t written;       /* bytes captured since loaded */
    uint64_t dropped;       /* of those, bytes the file refused (disk full, I/O error) */
    bool dropping;          /* the last write was refused */
    uv_loop_t *loop;
    uv_handle_t *pipe;      /* the current run's output (a uv_poll_t on Linux, a
                               uv_pipe_t elsewhere); freed when closed */
    void (*on_data)(struct unit_log *log, const char *buf, size_t len);
    /* The file started refusing output (err: errno, ENOSPC for a full
     * disk) or took it again (err 0): called once per change, not per
     * write. */
    void (*on_drop)(struct unit_log *log, int err);
    void *data;
} unit_log;

void log_init(unit_log *log, const char *dir, const char *name,
              uint64_t max_size, unsigned keep);
/* Starts reading fd (a pipe's read end, now owned by the log). A previous
 * run's pipe, if still open, is read to its end too. */
int log_attach(unit_log *log, uv_loop_t *loop, int fd);
void log_append(unit_log *log, const char *buf, size_t len);
/* Closes and reopens the file (after an external rotation). */
void log_reopen(unit_log *log);
/* Copies the last up to `max` bytes held in the ring into out. */
size_t log_tail(const unit_log *log, char *out, size_t max);
void log_close(unit_log *log);
/* Reads what the current pipe still holds, then stops reading every pipe
 * of the log (an output FIFO never ends by itself); the file and the ring
 * stay. */
void log_detach(unit_log *log);

#endif
