/* A window of spawns in flight, for starting many units at once.
 *
 * An async spawn keeps a descriptor (its exec report) until the child has
 * exec'd, and the loop reads it only between passes: forking 10,000 units
 * in one pass would hold 10,000 of them at once, on top of each unit's own.
 * So a bulk start queues every unit here (the backlog) and admits at most
 * `limit` at a time; each report read frees a place for the next. The
 * descriptor peak is then bounded by the window, whatever the number of
 * units. The items are opaque (the manager's services). */
#ifndef SBX_STARTWIN_H
#define SBX_STARTWIN_H

#include <stdbool.h>
#include <stddef.h>

typedef struct start_window {
    void **v;               /* the backlog; v[head..n) wait, NULL: forgotten */
    size_t head, n, cap;
    unsigned in_flight;     /* spawns whose report has not been read yet */
    unsigned limit;
} start_window;

void startwin_init(start_window *w, unsigned limit);
/* Queues item behind the others. false when out of memory. */
bool startwin_push(start_window *w, void *item);
/* The next item to start while the window has room, else NULL. */
void *startwin_next(start_window *w);
/* Whether items wait in the backlog. */
bool startwin_pending(start_window *w);
/* An item leaves the backlog unstarted (its unit is dropped). */
void startwin_forget(start_window *w, const void *item);
/* A spawn entered the window; its report was read. */
void startwin_enter(start_window *w);
void startwin_leave(start_window *w);
/* Empties the backlog (the spawns in flight still leave one by one). */
void startwin_clear(start_window *w);
void startwin_free(start_window *w);

#endif
