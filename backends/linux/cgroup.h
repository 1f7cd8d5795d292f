/* What the cgroup backends share: the detected layout of the host's cgroup
 * trees (detect.c) and small file helpers (cgfile.c). Internal to libsbx. */
#ifndef SBX_LINUX_CGROUP_H
#define SBX_LINUX_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../sbx.h"

typedef enum sbx__ctrl {
    SBX_CTRL_MEMORY,
    SBX_CTRL_CPU,
    SBX_CTRL_CPUACCT,
    SBX_CTRL_PIDS,
    SBX_CTRL_FREEZER,
    SBX_CTRL_COUNT,
} sbx__ctrl;

const char *sbx__ctrl_name(sbx__ctrl c);

/* Where one hierarchy is mounted, and the caller's cgroup inside it. */
typedef struct sbx__hier {
    char mount[256];      /* "/sys/fs/cgroup/memory"; "" when absent */
    char mount_root[256]; /* the mount's root inside the hierarchy, usually "/" */
    char self[512];       /* the caller's cgroup path, from /proc/self/cgroup */
} sbx__hier;

typedef struct sbx__layout {
    sbx_cgroup_mode mode;
    sbx__hier v2;                      /* the unified hierarchy, if mounted */
    sbx__hier v1[SBX_CTRL_COUNT];      /* each v1 controller we use */
    unsigned v1_mask;                  /* bit per sbx__ctrl mounted on v1 */
    unsigned v2_mask;                  /* bit per sbx__ctrl available on v2 */
} sbx__layout;

#define SBX_CGROUP2_MAGIC 0x63677270u
#define SBX_TMPFS_MAGIC 0x01021994u

/* Parsers take buffers, so tests need no OS. Each returns 0 or -EINVAL. */
int sbx__parse_mountinfo(const char *text, sbx__layout *lay);
int sbx__parse_proc_cgroup(const char *text, sbx__layout *lay);
/* cgroup.controllers text ("cpuset cpu io memory pids") to a mask. */
unsigned sbx__parse_controllers(const char *text);
/* Decides the mode from the parsed texts and statfs(/sys/fs/cgroup)'s
 * f_type (0 when statfs failed). */
sbx_cgroup_mode sbx__decide_mode(const sbx__layout *lay, unsigned long fs_type);

/* Reads the running system into lay. */
int sbx__detect(sbx__layout *lay, sbx_error *err);

/* The directory of the caller's own cgroup in hierarchy h. */
int sbx__hier_self_dir(const sbx__hier *h, char *buf, size_t len);

/* ---- file helpers (cgfile.c) ---- */

/* Writes text to dir/file. Returns 0 or -errno with err naming the file. */
int sbx__write_file(const char *dir, const char *file, const char *text,
                    sbx_error *err);
/* Reads dir/file into buf (NUL-terminated). Returns length or -errno. */
ssize_t sbx__read_file(const char *dir, const char *file, char *buf, size_t len);
/* Reads the first whole number of a file, or the value after "key " in a
 * flat-keyed file (memory.events, cpu.stat) when key is not NULL. */
int sbx__read_u64(const char *dir, const char *file, const char *key, uint64_t *out);
/* Finds "key value" in flat-keyed text. */
int sbx__keyed_u64(const char *text, const char *key, uint64_t *out);
/* The first whole number of rel below the directory dirfd: openat and one
 * read (a counter's file is short), no path walk from the root. */
int sbx__read_u64_at(int dirfd, const char *rel, uint64_t *out);
/* "key value" in the first 128 bytes of rel below dirfd (cpu.stat's
 * usage_usec, its first line): one openat and one read. */
int sbx__read_keyed_at(int dirfd, const char *rel, const char *key, uint64_t *out);
int sbx__file_exists(const char *dir, const char *file);
/* mkdir -p below an existing base. */
int sbx__mkdir_below(const char *base, const char *rel, sbx_error *err);
/* Sends sig to every pid listed in dir/cgroup.procs; returns how many. */
int sbx__signal_procs(const char *dir, int sig);
/* rmdir with a few short retries for tasks that are still exiting. */
int sbx__rmdir_retry(const char *dir, sbx_error *err);
/* Whether the host has swap a hog could escape into (SwapTotal > 0). */
bool sbx__host_has_swap(void);
/* Reads a limit back: 0 when dir/file still holds expect, else 1 and what
 * changed in what. */
int sbx__verify_u64(const char *dir, const char *file, uint64_t expect, char *what, size_t len);
/* Kills what is left in, and removes, every cgroup dir below base whose
 * name starts with prefix and that stale() calls stale. Returns how many. */
int sbx__sweep_stale(const char *base, const char *prefix, sbx_stale_fn stale, void *data);
/* Joins a cgroup dir and a file into buf. */
int sbx__path(char *buf, size_t len, const char *dir, const char *file);

#endif
