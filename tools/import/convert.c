/* One [program:x] at a time: its values expanded per process as
 * supervisord does, then mapped key by key (program.c), then the start
 * order of priorities turned into `after =` between units. */
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "expand.h"
#include "program.h"

/* What to do about the sections that hold no program. */
static const struct {
    const char *prefix, *what;
} other_sections[] = {
    {"unix_http_server", "sbxd's control socket is /run/sbx/sbxd.sock (socket in sbxd.ini(5)); "
                         "access by peer credentials: control_group/read_group instead of chmod, chown or a password"},
    {"inet_http_server", "sbxd has no TCP endpoint: use sbxctl on the host (over ssh)"},
    {"supervisorctl", "sbxctl needs no settings (--socket PATH if sbxd's is not the default)"},
    {"rpcinterface:", "no XML-RPC: sbxctl --json, or the line-JSON control protocol"},
    {"eventlistener:", "event listeners are not carried over: `sbxctl events` streams state changes as JSON lines"},
    {"fcgi-program:", "not carried over: sbx has no socket activation; run the program as a plain unit"},
    {"ctlplugin:", "supervisorctl plugins have no sbxctl equivalent"},
};

/* [supervisord] keys: what to do instead; NULL where carried over. */
static const struct {
    const char *key, *what;
} supervisord_keys[] = {
    {"environment", NULL},
    {"logfile", "sbxd's own events go to stderr (the journal under systemd)"},
    {"logfile_maxbytes", "sbxd's own events go to the journal, which rotates them"},
    {"logfile_backups", "sbxd's own events go to the journal, which rotates them"},
    {"loglevel", "sbxd logs every event; choose text or json with log_format in sbxd.ini"},
    {"pidfile", "not needed: systemd tracks sbxd (systemctl status sbxd)"},
    {"nodaemon", "sbxd always runs in the foreground"},
    {"silent", "sbxd always runs in the foreground, its events on stderr"},
    {"minfds", "sbxd raises its open-file limit to the hard one: set LimitNOFILE= in sbxd.service, "
               "and nofile in a unit's [limits] to limit it"},
    {"minprocs", "set LimitNPROC= in sbxd.service; pids in a unit's [limits] limits a unit"},
    {"umask", "units inherit sbxd's umask (UMask= in sbxd.service)"},
    {"user", "sbxd runs as root and drops each unit to its own user = (set in [exec])"},
    {"directory", "give each unit its cwd = in [exec]"},
    {"identifier", "not needed: one sbxd per socket"},
    {"childlogdir", "unit output goes to log_dir (sbxd.ini, default /var/log/sbx)"},
    {"nocleanup", "sbxd keeps no temporary log files"},
    {"strip_ansi", "not carried over: output is logged as written"},
};

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void note_supervisord(const sv_section *s, notes *n)
{
    for (size_t k = 0; k < s->nkeys; k++) {
        const sv_key *key = &s->keys[k];
        size_t i = 0;
        while (i < sizeof supervisord_keys / sizeof supervisord_keys[0] &&
               strcmp(supervisord_keys[i].key, key->name) != 0)
            i++;
        if (i == sizeof supervisord_keys / sizeof supervisord_keys[0])
            note(n, key->file, key->line, s->name, key->name, "not a supervisord setting: ignored");
        else if (supervisord_keys[i].what)
            note(n, key->file, key->line, s->name, key->name, "%s", supervisord_keys[i].what);
    }
}

static void note_section(const sv_section *s, notes *n)
{
    if (strcmp(s->name, "supervisord") == 0) {
        note_supervisord(s, n);
        return;
    }
    if (strcmp(s->name, "include") == 0 || starts_with(s->name, "program:") ||
        starts_with(s->name, "group:"))
        return;
    for (size_t i = 0; i < sizeof other_sections / sizeof other_sections[0]; i++)
        if (starts_with(s->name, other_sections[i].prefix)) {
            note(n, s->file, s->line, s->name, NULL, "%s", other_sections[i].what);
            return;
        }
    note(n, s->file, s->line, s->name, NULL, "not a supervisord section: ignored");
}

/* The [group:x] that lists program `name`, if any. */
static const sv_section *group_of(const sv_conf *c, const char *name, const sv_key **programs)
{
    for (size_t i = 0; i < c->n; i++) {
        const sv_section *g = &c->secs[i];
        const sv_key *list = starts_with(g->name, "group:") ? sv_get(g, "programs") : NULL;
        if (!list)
            continue;
        char *copy = xstrdup(list->value), *save = NULL;
        bool found = false;
        for (char *w = strtok_r(copy, ", \t\n", &save); w && !found; w = strtok_r(NULL, ", \t\n", &save))
            found = strcmp(w, name) == 0;
        free(copy);
        if (found) {
            *programs = list;
            return g;
        }
    }
    return NULL;
}

static void note_groups(const sv_conf *c, notes *n)
{
    for (size_t i = 0; i < c->n; i++) {
        const sv_section *g = &c->secs[i];
        if (!starts_with(g->name, "group:"))
            continue;
        for (size_t k = 0; k < g->nkeys; k++) {
            const sv_key *key = &g->keys[k];
            if (strcmp(key->name, "priority") == 0)
                note(n, key->file, key->line, g->name, key->name,
                     "sbx units have no groups: order the units with after = (the programs' own priorities are carried over)");
            else if (strcmp(key->name, "programs") != 0)
                note(n, key->file, key->line, g->name, key->name, "not a [group] key: ignored");
        }
        if (!sv_get(g, "programs"))
            note_error(n, g->file, g->line, g->name, NULL, "no programs = (supervisord refuses it)");
    }
}

/* Lower priorities start first: each unit is ordered after the units of
 * the next lower priority (which are after theirs, and so on). */
static void order_by_priority(units *out, notes *n)
{
    for (size_t i = 0; i < out->n; i++) {
        int below = -1;
        bool any = false;
        for (size_t k = 0; k < out->n; k++)
            if (out->v[k].priority < out->v[i].priority && out->v[k].priority > below)
                below = out->v[k].priority, any = true;
        if (!any)
            continue;
        char *list = xstrdup("");
        for (size_t k = 0; k < out->n; k++)
            if (out->v[k].priority == below) {
                char *more = xasprintf("%s%s%s", list, *list ? " " : "", out->v[k].name);
                free(list);
                list = more;
            }
        const char *why;
        unit_comment(&out->v[i], PART_UNIT, "supervisord priority %d: started after priority %d",
                     out->v[i].priority, below);
        if (!unit_put(&out->v[i], PART_UNIT, "after", list, &why))
            note(n, out->v[i].src_file, out->v[i].src_line, "program", "priority",
                 "unit %s: after = %s: shorten the unit names, or order fewer of them", out->v[i].name, why);
        free(list);
    }
}

void convert_conf(const sv_conf *c, units *out, notes *n)
{
    const sv_section *sd = sv_find(c, "supervisord");
    if (!sd)
        note_error(n, c->files[0], 0, NULL, NULL,
                   "no [supervisord] section (supervisord refuses the file)");
    for (size_t i = 0; i < c->n; i++)
        note_section(&c->secs[i], n);
    note_groups(c, n);
    for (size_t i = 0; i < c->n; i++) {
        const sv_section *s = &c->secs[i];
        if (!starts_with(s->name, "program:"))
            continue;
        const sv_key *programs = NULL;
        const sv_section *g = group_of(c, s->name + 8, &programs);
        program_convert(sd, s, g ? g->name + 6 : NULL, out, n);
    }
    order_by_priority(out, n);
}
