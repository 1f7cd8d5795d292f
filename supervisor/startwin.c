/* A window of spawns in flight (see startwin.h). */
#include "startwin.h"

#include <stdlib.h>

void startwin_init(start_window *w, unsigned limit)
{
    *w = (start_window){.limit = limit ? limit : 1};
}

bool startwin_push(start_window *w, void *item)
{
    if (w->head == w->n)  /* drained: reuse the array from its start */
        w->head = w->n = 0;
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        void **v = realloc(w->v, cap * sizeof *v);
        if (!v)
            return false;
        w->v = v;
        w->cap = cap;
    }
    w->v[w->n++] = item;
    return true;
}

void *startwin_next(start_window *w)
{
    while (w->in_flight < w->limit && w->head < w->n) {
        void *item = w->v[w->head++];
        if (item)
            return item;
    }
    return NULL;
}

bool startwin_pending(start_window *w)
{
    while (w->head < w->n && !w->v[w->head])  /* forgotten ones */
        w->head++;
    return w->head < w->n;
}

/* Rare (a reload drops a unit still waiting): a scan is fine. */
void startwin_forget(start_window *w, const void *item)
{
    for (size_t i = w->head; i < w->n; i++)
        if (w->v[i] == item)
            w->v[i] = NULL;
}

void startwin_enter(start_window *w)
{
    w->in_flight++;
}

void startwin_leave(start_window *w)
{
    if (w->in_flight)
        w->in_flight--;
}

void startwin_clear(start_window *w)
{
    w->head = w->n = 0;
}

void startwin_free(start_window *w)
{
    free(w->v);
    *w = (start_window){.limit = w->limit};
}
