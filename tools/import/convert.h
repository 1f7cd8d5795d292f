/* supervisord's programs as sbx units: [program:x] (numprocs of them)
 * become units named by process_name; every setting that has no sbx
 * equivalent, and every other section, becomes a note saying what to do. */
#ifndef SBX_IMPORT_CONVERT_H
#define SBX_IMPORT_CONVERT_H

#include "svconf.h"
#include "unitout.h"

void convert_conf(const sv_conf *c, units *out, notes *n);

#endif
