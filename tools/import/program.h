/* One [program:x] of supervisord as sbx units, one per process. */
#ifndef SBX_IMPORT_PROGRAM_H
#define SBX_IMPORT_PROGRAM_H

#include "svconf.h"
#include "unitout.h"

/* supervisord: its [supervisord] section (for environment=), or NULL;
 * group: the [group:NAME] listing the program, or NULL. */
void program_convert(const sv_section *supervisord, const sv_section *prog,
                     const char *group, units *out, notes *n);

#endif
