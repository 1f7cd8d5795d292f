/* Unit status as JSON: the one encoder of it. The control server's status
 * (brief and detailed) uses it, and so can any other view (metrics, an
 * HTTP API): it needs the manager, not a client. The brief form is what a
 * table of every unit shows; the detailed form adds the definition, what
 * enforces each limit, the last runs and the end of the output. See
 * doc/protocol.md for the fields. */
#ifndef SBX_STATUS_H
#define SBX_STATUS_H

#include "jsonout.h"
#include "manager.h"

/* One unit's object. */
void status_write_unit(json_out *b, manager *m, service *s, bool detail);
/* [unit, ...] for the given units. */
void status_write_units(json_out *b, manager *m, service *const *svcs, size_t n, bool detail);
/* The status reply as one line: {"v":1,"id":ID,"ok":true,"units":[...]}
 * and its newline; *len its length. NULL when out of memory. free() it. */
char *status_reply(manager *m, const json_t *id, service *const *svcs, size_t n,
                   bool detail, size_t *len);
/* The table form: {"v":1,"id":ID,"ok":true,"columns":[NAME...],"rows":[[...]...]}
 * and its newline, a row per unit with what `sbxctl status` shows (the
 * brief form's values of those columns): a fraction of the brief form's
 * size and of a client's parsing. NULL when out of memory. free() it. */
char *status_table_reply(manager *m, const json_t *id, service *const *svcs, size_t n,
                         size_t *len);

#endif
