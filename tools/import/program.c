/* A [program:x] section, key by key. Values are expanded per process as
 * supervisord does (here, program_name, group_name, host_node_name,
 * process_num, numprocs, ENV_X, the program's own environment as ENV_X),
 * then written as unit keys; whatever has no sbx equivalent is noted once
 * per section. Mapping by concern: mapping.c. */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "expand.h"
#include "mapping.h"
#include "program.h"

/* Every key supervisord takes in [program:x]; those without a mapper
 * here are handled in mapping.c. */
static const char *const known_keys[] = {
    "command", "process_name", "numprocs", "numprocs_start", "priority", "autostart",
    "startsecs", "startretries", "autorestart", "exitcodes", "stopsignal", "stopwaitsecs",
    "stopasgroup", "killasgroup", "user", "redirect_stderr", "stdout_logfile",
    "stdout_logfile_maxbytes", "stdout_logfile_backups", "stdout_capture_maxbytes",
    "stdout_events_enabled", "stdout_syslog", "stderr_logfile", "stderr_logfile_maxbytes",
    "stderr_logfile_backups", "stderr_capture_maxbytes", "stderr_events_enabled",
    "stderr_syslog", "environment", "directory", "umask", "serverurl",
};

static void note_unknown_keys(const sv_section *s, notes *n)
{
    for (size_t k = 0; k < s->nkeys; k++) {
        size_t i = 0;
        while (i < sizeof known_keys / sizeof known_keys[0] &&
               strcmp(known_keys[i], s->keys[k].name) != 0)
            i++;
        if (i == sizeof known_keys / sizeof known_keys[0])
            note(n, s->keys[k].file, s->keys[k].line, s->name, s->keys[k].name,
                 "not a supervisord [program] key: ignored");
    }
}

char *proc_value(proc *p, const char *key, const sv_key **where)
{
    const sv_key *k = sv_get(p->sec, key);
    if (where)
        *where = k;
    if (!k)
        return NULL;
    p->ex.here = k->here;
    char *why = NULL, *v = expand(k->value, &p->ex, &why);
    if (!v) {
        if (p->first)
            note_error(p->n, k->file, k->line, p->sec->name, key, "%s", why);
        free(why);
        p->failed = true;
    }
    return v;
}

void proc_note(proc *p, const sv_key *k, const char *fmt, ...)
{
    if (!p->first || !k)
        return;
    char *what;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&what, fmt, ap) < 0)
        what = NULL;
    va_end(ap);
    note(p->n, k->file, k->line, p->sec->name, k->name, "%s", what ? what : fmt);
    free(what);
}

void proc_error(proc *p, const sv_key *k, const char *what)
{
    if (p->first)
        note_error(p->n, k ? k->file : p->sec->file, k ? k->line : p->sec->line,
                   p->sec->name, k ? k->name : NULL, "%s", what);
    p->failed = true;
}

void proc_put(proc *p, enum unit_part part, const char *key, const char *value, const sv_key *src)
{
    const char *why;
    if (unit_put(p->u, part, key, value, &why))
        return;
    unit_comment(p->u, PART_HEAD, "TODO: %s: %s (then rename this file to %s.ini)", key, why, p->u->name);
    note(p->n, src ? src->file : p->sec->file, src ? src->line : p->sec->line,
             p->sec->name, src ? src->name : NULL,
             "unit %s: %s: %s: written as %s.ini.todo, which sbxd does not read; "
             "fix it (a script for a long command) and rename it", p->u->name, key, why, p->u->name);
}

/* A unit name from a process name: [A-Za-z0-9_.-], at most 63 bytes. */
static char *unit_name(const char *process_name, bool *changed)
{
    char *name = xasprintf("%.*s", UNIT_NAME_MAX, process_name);
    *changed = strlen(process_name) > UNIT_NAME_MAX;
    for (char *c = name; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-' && *c != '.')
            *c = '_', *changed = true;
    if (name[0] == '.' || name[0] == '-')
        name[0] = '_', *changed = true;
    return name;
}

static bool name_taken(const units *out, const char *name)
{
    for (size_t i = 0; i < out->n; i++)
        if (strcmp(out->v[i].name, name) == 0)
            return true;
    return false;
}

/* Starts the unit of one process: named by process_name. */
static bool begin_unit(proc *p, units *out, const char *process_name)
{
    const sv_key *k = sv_get(p->sec, "process_name");
    bool changed;
    char *name = unit_name(process_name, &changed);
    if (changed && k)
        proc_note(p, k, "'%s' is not a unit name: the unit is named '%s'", process_name, name);
    if (name_taken(out, name)) {
        note_error(p->n, p->sec->file, p->sec->line, p->sec->name, NULL,
                   "a second process named '%s': not converted", name);
        free(name);
        return false;
    }
    p->u = units_add(out, name);
    p->u->src_file = p->sec->file;
    p->u->src_line = p->sec->line;
    unit_comment(p->u, PART_HEAD, "From %s:%d [%s] by sbx-import-supervisord.",
                 p->sec->file, p->sec->line, p->sec->name);
    if (strcmp(p->ex.group_name, p->ex.program_name) != 0)
        unit_comment(p->u, PART_HEAD, "supervisord group: %s", p->ex.group_name);
    char *what = xasprintf("supervisord program %s", process_name);
    proc_put(p, PART_UNIT, "description", what, NULL);
    free(what);
    free(name);
    return true;
}

static void one_process(proc *p, units *out, const char *process_name_raw, long priority)
{
    if (!mapping_environment(p))
        return;
    const sv_key *pn = sv_get(p->sec, "process_name");
    p->ex.here = pn ? pn->here : p->sec->here;
    char *why = NULL, *pname = expand(process_name_raw, &p->ex, &why);
    if (!pname) {
        proc_error(p, sv_get(p->sec, "process_name"), why);
        free(why);
        return;
    }
    if (begin_unit(p, out, pname)) {
        p->u->priority = (int)priority;
        mapping_exec(p);
        mapping_restart(p);
        mapping_stop(p);
        mapping_output(p);
        if (p->failed)
            units_pop(out);
    }
    free(pname);
}

static bool count(proc *p, const char *key, long dflt, long min, long *out)
{
    const sv_key *k;
    char *v = proc_value(p, key, &k), *end;
    *out = dflt;
    if (!v)
        return !p->failed;
    *out = strtol(v, &end, 10);
    bool ok = *v && !*end && *out >= min && *out <= 100000;
    if (!ok)
        proc_error(p, k, "not a whole number in range (supervisord refuses it)");
    free(v);
    return ok;
}

void program_convert(const sv_section *supervisord, const sv_section *prog,
                     const char *group, units *out, notes *n)
{
    const char *name = prog->name + 8;
    proc p = {.sec = prog, .supervisord = supervisord, .n = n, .first = true,
              .ex = {.program_name = name, .group_name = group ? group : name}};
    note_unknown_keys(prog, n);
    long numprocs, start, priority;
    if (!count(&p, "numprocs", 1, 1, &numprocs) || !count(&p, "numprocs_start", 0, 0, &start) ||
        !count(&p, "priority", 999, 0, &priority))
        return;
    const sv_key *pn = sv_get(prog, "process_name");
    const char *process_name = pn ? pn->value : "%(program_name)s";
    if (numprocs > 1 && !strstr(process_name, "%(process_num)")) {
        proc_error(&p, pn ? pn : sv_get(prog, "numprocs"),
                   "numprocs > 1 needs %(process_num) in process_name (supervisord refuses it)");
        return;
    }
    if (!sv_get(prog, "command")) {
        proc_error(&p, NULL, "no command = (supervisord refuses it)");
        return;
    }
    mapping_note_lost(&p);
    for (long num = start; num < start + numprocs; num++) {
        p.ex.per_process = true;
        p.ex.process_num = num;
        p.ex.numprocs = numprocs;
        one_process(&p, out, process_name, priority);
        proc_reset(&p);
        p.first = false;
    }
}
