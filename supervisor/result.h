/* A run's result as JSON: the one format sbx-run prints and sbxd reports. */
#ifndef SBX_RESULT_H
#define SBX_RESULT_H

#include <jansson.h>

#include "run.h"

/* {"reason", "exit_code", "signal", "wall_ms", "user_ms", "sys_ms",
 *  "peak_memory_bytes", "oom_kills", "pids_peak", "backend", "enforced",
 *  "error"}; box may be NULL when none was made. */
json_t *result_to_json(const run_result *res, const sbx_backend *be,
                       const sbx_box *box);
/* The enforced list of a box: [{"limit": "memory", "by": "cgroup2 memory.max"}]. */
json_t *enforced_to_json(const sbx_box *box);

/* What isolation is applied: ["mount-namespace", "readonly /srv", ...],
 * then each containment piece by name ("new-session", "caps-dropped"...),
 * or "privileged: can undo its own limits". */
json_t *isolation_to_json(const sbx_isolation *iso);
/* Adds "undoable": "<why>" to each entry of an enforced list whose limit
 * a program spawned with iso could undo from inside. */
void enforced_mark_undoable(json_t *enforced, const sbx_isolation *iso);

#endif
