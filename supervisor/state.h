/* sbxd's state directory: what a new sbxd needs to find the units a dead
 * one left running (re-adoption), and the lock that keeps one sbxd per
 * tree.
 *
 *   STATE_DIR/lock         locked (fcntl) by the sbxd that owns the tree;
 *                          holds its pid, for people
 *   STATE_DIR/units/NAME   one record per running unit, replaced
 *                          atomically (temp file + rename) at each start
 *                          and removed when the unit comes to rest
 *   STATE_DIR/output/NAME  the unit's output FIFO (see state_fifo)
 *
 * A record is text, one "key value" a line, first line "sbx-state 1". The
 * pid's start time (field 22 of /proc/PID/stat, clock ticks since boot)
 * tells the pid the record names from a later process given the same
 * number. Parsing takes a buffer (tested without an OS); a record that is
 * truncated, garbage or of another version is refused with a reason, and
 * the cgroup scan then decides alone. */
#ifndef SBX_STATE_H
#define SBX_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define STATE_VERSION 1

typedef struct state_record {
    pid_t pid;                  /* the unit's main process */
    uint64_t pid_start;         /* its start time, field 22 of /proc/PID/stat */
    char cgroup[512];           /* the box's path when it was written */
    uint64_t def_hash;          /* of the definition it was started with */
    int64_t started_ms;         /* wall clock, ms since the epoch */
    uint32_t restarts, failures;
} state_record;

typedef struct state_dir {
    char *path;
    int units_fd;               /* STATE_DIR/units, -1 when not open */
    int lock_fd;
    int output_fd;              /* STATE_DIR/output */
} state_dir;

/* The record as text; returns its length, or -ENOSPC. */
int state_format(const state_record *r, char *buf, size_t len);
/* Parses text (need not be NUL-terminated). Returns 0, or -EINVAL with why
 * ("line 3: bad pid", "truncated: no pid_start", "version 7, not 1"). */
int state_parse(const char *text, size_t len, state_record *r, char *why, size_t whylen);
/* Field 22 (starttime) of /proc/PID/stat text; the command name in
 * parentheses may hold spaces and ')'. Returns 0 or -EINVAL. */
int state_parse_stat(const char *text, uint64_t *start);
/* Reads pid's start time: 0, -ESRCH (gone), or -errno. */
int state_pid_start(pid_t pid, uint64_t *start);
/* Whether pid is alive now (not a zombie) and started at `start`. */
bool state_pid_matches(pid_t pid, uint64_t start);
/* Whether pid, started at `start`, is a child of this process (a zombie
 * too): after a re-exec, the units the sbxd before started. */
bool state_pid_is_child(pid_t pid, uint64_t start);
/* pid's parent, or -1 when pid is gone. */
pid_t state_pid_parent(pid_t pid);
/* A definition's hash (FNV-1a 64 of its text). */
uint64_t state_hash(const char *text);

/* Makes the directory (and units/) and takes the lock. Returns 0, or
 * -EWOULDBLOCK with why naming the other sbxd's pid, or -errno with why. */
int state_open(state_dir *sd, const char *path, char *why, size_t whylen);
void state_close(state_dir *sd);
/* The lock fd an sbxd kept open across its re-exec (the lock is still
 * this process's): the next state_open takes it instead of a new one. */
void state_keep_lock(int fd);

/* Replaces NAME's record (temp file + rename). 0 or -errno. */
int state_write(state_dir *sd, const char *name, const state_record *r);
/* Reads NAME's record: 0, -ENOENT (none), -EINVAL with why, or -errno. */
int state_read(state_dir *sd, const char *name, state_record *r, char *why, size_t whylen);
/* Removes NAME's record; no record is not an error. */
void state_remove(state_dir *sd, const char *name);
/* Removes every record whose name keep() refuses (units no longer loaded),
 * and temp files a crash left. */
void state_prune(state_dir *sd, bool (*keep)(const char *name, void *data), void *data);
/* A unit's output channel that outlives sbxd: a FIFO, made if needed and
 * opened read-write (always: a FIFO held open for reading by its
 * writer never gives EPIPE, and a reader opening it never blocks). sbxd
 * reads one end; each run of the unit writes to another; what the unit
 * writes while no sbxd runs waits in the FIFO's buffer (writes block once
 * it is full) for the next one. nonblock: sbxd's end. Returns the fd or
 * -errno. */
int state_fifo(state_dir *sd, const char *name, bool nonblock);
void state_fifo_remove(state_dir *sd, const char *name);
/* On a clean exit with no record left: removes the directory. */
void state_close_clean(state_dir *sd);

#endif
