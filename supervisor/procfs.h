/* Small /proc files (Linux): a whole file read in one buffer, and one
 * field of a /proc/PID/stat line. */
#ifndef SBX_PROCFS_H
#define SBX_PROCFS_H

#include <stddef.h>

/* The whole of a small file, NUL-terminated, into buf (at most size - 1
 * bytes). Returns the length read or -errno. */
int procfs_read(const char *path, char *buf, size_t size);

/* Field `field` of a /proc/PID/stat line, counted from 1 as proc(5) does
 * (3 or later: the command name, field 2, may hold spaces and parentheses,
 * so counting starts after its last ')'). Returns 0 or -EINVAL. */
int procfs_stat_field(const char *stat, int field, unsigned long long *v);

#endif
