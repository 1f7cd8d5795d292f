/* sbxd's views of its units for people and monitoring: the HTTP
 * listener's provider (http.h) over the real manager, and the Prometheus
 * text that `sbxctl metrics` also gets over the control socket.
 *
 * The units' JSON is status.c's (the same bytes as `sbxctl status --json`),
 * the metrics are metrics.c's, filled from each unit's box (its cgroup
 * files, read through libsbx), its definition and its machine. Nothing a
 * view writes carries a unit's environment values. */
#ifndef SBX_OBSERVE_H
#define SBX_OBSERVE_H

#include "http.h"
#include "manager.h"
#include "outbuf.h"

typedef struct observe observe;

/* A view of m; on_watch (may be NULL) is told each time someone looks at
 * the units (a poll of the page), so samples are taken only then. */
observe *observe_new(manager *m, void (*on_watch)(void *ctx), void *watch_ctx);
void observe_free(observe *o);

/* The provider the HTTP listener asks (ctx is o). */
http_provider observe_provider(observe *o);

/* {"units":[...]}: every unit in brief, as `sbxctl status --json`. */
int observe_units_json(void *o, outbuf *out);
/* One unit in detail (limits, what enforces them, runs, log tail);
 * -ENOENT when there is none. */
int observe_unit_json(void *o, const char *name, outbuf *out);
/* The Prometheus exposition of every unit and of sbxd itself. */
int observe_metrics(void *o, outbuf *out);

#endif
