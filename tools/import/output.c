/* Output and its rotation: stdout_logfile/stderr_logfile (AUTO: sbx's
 * own LOGDIR/NAME.log; NONE: null; a path: file:PATH), redirect_stderr,
 * and *_logfile_maxbytes/_backups as the unit's one [log] max_size and
 * keep. Also the notes for the keys with no sbx equivalent. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mapping.h"

/* The unit's destination for one stream: "log", "null" or "file:/PATH". */
static char *destination(proc *p, const char *stream)
{
    char key[32];
    snprintf(key, sizeof key, "%s_logfile", stream);
    const sv_key *k;
    char *v = proc_value(p, key, &k), *dest;
    if (!v || !strcasecmp(v, "auto"))
        dest = xstrdup("log");
    else if (!strcasecmp(v, "none"))
        dest = xstrdup("null");
    else if (!strcasecmp(v, "syslog")) {
        proc_note(p, k, "sbx has no syslog output: it goes to LOGDIR/%s.log", p->u->name);
        dest = xstrdup("log");
    } else if (v[0] == '/') {
        dest = xasprintf("file:%s", v);
    } else {
        proc_note(p, k, "a relative path (supervisord opens it from its own working directory): "
                        "made absolute from %s; check it", k->here);
        dest = xasprintf("file:%s/%s", k->here, v);
    }
    free(v);
    return dest;
}

/* supervisor's byte_size: a number with KB, MB or GB (sbx reads them too). */
static bool byte_size(const char *v, bool *zero)
{
    size_t digits = strspn(v, "0123456789");
    *zero = digits && strspn(v, "0") == digits;
    const char *unit = v + digits;
    return digits && (!*unit || !strcasecmp(unit, "kb") || !strcasecmp(unit, "mb") ||
                      !strcasecmp(unit, "gb"));
}

/* One stream's rotation settings into *size / *keep (NULL: not set). */
static void rotation(proc *p, const char *stream, const char *dest, char **size, char **keep)
{
    char key[48];
    const sv_key *k;
    bool zero;
    snprintf(key, sizeof key, "%s_logfile_maxbytes", stream);
    char *v = proc_value(p, key, &k);
    if (v && strcmp(dest, "null") == 0)
        ;
    else if (v && strncmp(dest, "file:", 5) == 0)
        proc_note(p, k, "sbx does not rotate file: outputs: rotate %s with logrotate (copytruncate)", dest + 5);
    else if (v && !byte_size(v, &zero))
        proc_error(p, k, "not a size such as 50MB (supervisord refuses it)");
    else if (v && zero)
        proc_note(p, k, "0 (never rotate): sbx rotates LOGDIR/NAME.log at [log] max_size: "
                        "set a large one if the program's output must be kept whole");
    else if (v && !*size)
        *size = xstrdup(v);
    free(v);
    snprintf(key, sizeof key, "%s_logfile_backups", stream);
    long n = 0;
    char *end = NULL;
    if ((v = proc_value(p, key, &k)))
        n = strtol(v, &end, 10);
    if (!v || strcmp(dest, "log") != 0)
        ;
    else if (!*v || *end || n < 0)
        proc_error(p, k, "not a whole number (supervisord refuses it)");
    else if (n == 0 || n > 100)
        proc_note(p, k, "sbx keeps 1 to 100 rotated logs: keep = %d", n ? 100 : 1);
    if (v && strcmp(dest, "log") == 0 && end && !*end && !*keep)
        *keep = xasprintf("%ld", n < 1 ? 1 : n > 100 ? 100 : n);
    free(v);
}

void mapping_output(proc *p)
{
    const sv_key *redirect = sv_get(p->sec, "redirect_stderr");
    bool merged = false;
    if (redirect) {
        char *v = proc_value(p, "redirect_stderr", NULL);
        merged = v && (!strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
                       !strcasecmp(v, "on") || !strcmp(v, "1"));
        free(v);
    }
    char *out = destination(p, "stdout");
    char *err = merged ? xstrdup(out) : destination(p, "stderr");
    const sv_key *ek = sv_get(p->sec, "stderr_logfile");
    if (merged && ek)
        proc_note(p, ek, "ignored with redirect_stderr = true (by supervisord too)");
    proc_put(p, PART_EXEC, "stdout", out, sv_get(p->sec, "stdout_logfile"));
    proc_put(p, PART_EXEC, "stderr", err, merged ? redirect : ek);
    char *size = NULL, *keep = NULL;
    rotation(p, "stdout", out, &size, &keep);
    if (!merged)
        rotation(p, "stderr", err, &size, &keep);
    if (size)
        proc_put(p, PART_LOG, "max_size", size, sv_get(p->sec, "stdout_logfile_maxbytes"));
    if (keep)
        proc_put(p, PART_LOG, "keep", keep, sv_get(p->sec, "stdout_logfile_backups"));
    free(size);
    free(keep);
    free(out);
    free(err);
}

static bool is_false(const char *v)
{
    return !strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off") ||
           strspn(v, "0") == strlen(v);
}

/* Keys with no sbx equivalent: what to do instead, when set to anything
 * but their harmless value (NULL: any value is noted). */
static const struct {
    const char *key, *harmless, *what;
} lost[] = {
    {"startsecs", NULL, "sbx has no start delay yet: a unit is running once started, and a quick "
                        "exit is retried by [restart] policy within burst/interval"},
    {"umask", NULL, "no umask key: wrap the command (sh -c 'umask 027; exec ...')"},
    {"serverurl", "auto", "sbx sets no SUPERVISOR_SERVER_URL: programs that call supervisorctl must use sbxctl"},
    {"stdout_capture_maxbytes", "false", "no process communication events: `sbxctl events` streams state changes"},
    {"stderr_capture_maxbytes", "false", "no process communication events: `sbxctl events` streams state changes"},
    {"stdout_events_enabled", "false", "no process log events: `sbxctl logs -f` follows the output"},
    {"stderr_events_enabled", "false", "no process log events: `sbxctl logs -f` follows the output"},
    {"stdout_syslog", "false", "sbx has no syslog output: the output is in LOGDIR/NAME.log"},
    {"stderr_syslog", "false", "sbx has no syslog output: the output is in LOGDIR/NAME.log"},
    {"startretries", NULL, "sbx counts every start within [restart] interval (10s), not only quick "
                           "exits: burst is startretries + 1"},
    /* sbx always ends the whole cgroup: false cannot be kept. */
    {"stopasgroup", "true", "sbx always signals and kills every process of the unit (its cgroup): "
                            "nothing to do unless children must outlive a stop"},
    {"killasgroup", "true", "sbx always signals and kills every process of the unit (its cgroup): "
                            "nothing to do unless children must outlive a stop"},
};

static bool harmless(const char *value, const char *what)
{
    if (!what)
        return false;
    if (strcmp(what, "false") == 0)
        return is_false(value);
    if (strcmp(what, "true") == 0)
        return !is_false(value);
    return strcasecmp(value, what) == 0;
}

void mapping_note_lost(proc *p)
{
    for (size_t i = 0; i < sizeof lost / sizeof lost[0]; i++) {
        const sv_key *k = sv_get(p->sec, lost[i].key);
        if (k && !harmless(k->value, lost[i].harmless))
            proc_note(p, k, "%s", lost[i].what);
    }
}
