/* An installed sbxd is the binary at SBX_INSTALLED_SBXD (its configured
 * place, e.g. /usr/sbin/sbxd): it uses the FHS directories it was
 * configured with. Any other copy (the build tree, a DESTDIR staging
 * area) keeps the development defaults, so running build/supervisor/sbxd
 * never touches /etc/sbx or /var/log/sbx. */
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "paths.h"

#ifndef SBX_INSTALLED_SBXD
#define SBX_INSTALLED_SBXD "/usr/sbin/sbxd"
#define SBX_UNITS_DIR "/etc/sbx/conf.d"
#define SBX_LOG_DIR "/var/log/sbx"
#endif
#ifndef SBX_SOURCE_UNITS_DIR
#define SBX_SOURCE_UNITS_DIR "conf.d"
#endif

static bool installed(void)
{
#ifdef _WIN32
    return false;  /* no installed layout on Windows: units next to the program */
#else
    static int cached = -1;
    if (cached < 0) {
        /* Both resolved: /usr/sbin may be reached through a link. */
        char exe[PATH_MAX], place[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = '\0';
        cached = n > 0 && realpath(SBX_INSTALLED_SBXD, place) && strcmp(exe, place) == 0;
    }
    return cached;
#endif
}

const char *paths_default_units(void)
{
    return installed() ? SBX_UNITS_DIR : SBX_SOURCE_UNITS_DIR;
}

const char *paths_default_log_dir(void)
{
    return installed() ? SBX_LOG_DIR : NULL;
}
