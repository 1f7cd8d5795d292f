/* cgroup v2 OOM events: one inotify instance watches every box's
 * memory.events (a user may have only 128 instances: one per box stopped
 * the 129th). Each event names its watch; a table sorted by watch
 * descriptor (the kernel hands them out in increasing order) finds the box. */
#ifndef SBX_LINUX_CGROUP2_EVENTS_H
#define SBX_LINUX_CGROUP2_EVENTS_H

#include <stddef.h>

#include "../sbx.h"

typedef struct sbx__v2_events {
    int fd;                     /* the instance, or -1 before the first watch */
    struct sbx__v2_watch {
        int wd;
        sbx_box *box;           /* NULL: removed (dropped at the next compaction) */
    } *v;
    size_t n, cap, dead;
} sbx__v2_events;

void sbx__v2_events_init(sbx__v2_events *e);
/* Watches path (a box's memory.events) for box: the watch descriptor, or
 * -1 (then the box has no OOM events). */
int sbx__v2_events_add(sbx__v2_events *e, sbx_box *box, const char *path);
void sbx__v2_events_remove(sbx__v2_events *e, int wd);
/* Reads every pending event; fn for each box named. Returns how many. */
int sbx__v2_events_read(sbx__v2_events *e, void (*fn)(sbx_box *box, void *data), void *data);
void sbx__v2_events_close(sbx__v2_events *e);

#endif
