/* sbxd's default paths: where an installed sbxd finds its units and
 * writes its logs (the FHS places chosen at configure time), and the
 * source tree's conf.d when it runs from the build tree. */
#ifndef SBX_PATHS_H
#define SBX_PATHS_H

/* The units directory to use when none is given. */
const char *paths_default_units(void);
/* The log directory to use when none is given; NULL (memory only) when
 * not installed. */
const char *paths_default_log_dir(void);

#endif
