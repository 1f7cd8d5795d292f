/* A run's result as JSON. */
#include <string.h>

#include "result.h"

/* Unknown figures (-1) become null, not a made-up number. */
static json_t *figure(int64_t v)
{
    return v < 0 ? json_null() : json_integer(v);
}

json_t *enforced_to_json(const sbx_box *box)
{
    json_t *list = json_array();
    const sbx_enforced *e;
    size_t n = box ? sbx_box_enforced(box, &e) : 0;
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, json_pack("{s:s, s:s?}", "limit", e[i].what,
                                              "by", e[i].how));
    return list;
}

json_t *result_to_json(const run_result *res, const sbx_backend *be,
                       const sbx_box *box)
{
    const sbx_stats *st = &res->stats;
    json_t *o = json_object();
    json_object_set_new(o, "reason", json_string(run_reason_name(res->reason)));
    if (res->reason == RUN_CRASHED) {  /* a 32-bit NTSTATUS, e.g. 0xC0000005 */
        char hex[16];
        snprintf(hex, sizeof hex, "0x%08X", (unsigned)res->exit_code);
        json_object_set_new(o, "exit_code", json_integer((uint32_t)res->exit_code));
        json_object_set_new(o, "ntstatus", json_string(hex));
    } else {
        json_object_set_new(o, "exit_code", res->exit_code >= 0 ? json_integer(res->exit_code)
                                                                : json_null());
    }
    json_object_set_new(o, "signal", res->signal ? json_integer(res->signal) : json_null());
    json_object_set_new(o, "wall_ms", json_integer((json_int_t)res->wall_ms));
    json_object_set_new(o, "user_ms", figure(st->user_us < 0 ? -1 : st->user_us / 1000));
    json_object_set_new(o, "sys_ms", figure(st->sys_us < 0 ? -1 : st->sys_us / 1000));
    json_object_set_new(o, "peak_memory_bytes", figure(st->memory_peak));
    json_object_set_new(o, "oom_kills", figure(st->oom_kills));
    json_object_set_new(o, "pids_peak", figure(st->pids_peak));
    json_object_set_new(o, "pids_limit_hits", figure(st->pids_limit_hits));
    json_object_set_new(o, "stopped", json_boolean(res->stopped));
    json_object_set_new(o, "backend", be ? json_string(sbx_backend_name(be)) : json_null());
    json_object_set_new(o, "cgroup", box ? json_string(sbx_box_path(box)) : json_null());
    json_object_set_new(o, "enforced", enforced_to_json(box));
    if (res->reason == RUN_START_FAILED) {
        json_object_set_new(o, "stage", json_string(sbx_stage_name(res->failed_stage)));
        json_object_set_new(o, "errno", json_integer(res->failed_errno));
    }
    json_object_set_new(o, "error", res->error[0] ? json_string(res->error) : json_null());
    return o;
}

void enforced_mark_undoable(json_t *enforced, const sbx_isolation *iso)
{
    size_t i;
    json_t *e;
    json_array_foreach(enforced, i, e) {
        const char *by = json_string_value(json_object_get(e, "by"));
        bool rlimit = by && strncmp(by, "setrlimit", 9) == 0;
        const char *why = by && (rlimit || strncmp(by, "cgroup", 6) == 0)
                              ? sbx_isolation_undoes_limits(iso, rlimit) : NULL;
        if (why)
            json_object_set_new(e, "undoable", json_string(why));
    }
}

/* The containment pieces after what was asked for, each named once. */
static void add_pieces(json_t *l, const sbx_isolation *iso)
{
    const char *pieces[24];
    size_t n = sbx_isolation_pieces(iso, pieces, 24);
    if (iso->privileged)
        json_array_append_new(l, json_string("privileged: can undo its own limits"));
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        size_t j;
        json_t *v;
        json_array_foreach(l, j, v)
            seen |= strcmp(json_string_value(v), pieces[i]) == 0;
        if (!seen)
            json_array_append_new(l, json_string(pieces[i]));
    }
}

#ifdef _WIN32
json_t *isolation_to_json(const sbx_isolation *iso)
{
    json_t *l = json_array();
    if (iso)  /* the spawn refuses the rest; the job gives these */
        add_pieces(l, iso);
    return l;
}
#else
static void add_paths(json_t *list, const char *what, char *const *paths)
{
    char item[4200];
    for (; paths && *paths; paths++) {
        snprintf(item, sizeof item, "%s %s", what, *paths);
        json_array_append_new(list, json_string(item));
    }
}

json_t *isolation_to_json(const sbx_isolation *iso)
{
    json_t *l = json_array();
    if (!iso)
        return l;
    bool mounts = (iso->readonly && iso->readonly[0]) || (iso->allow && iso->allow[0]) ||
                  iso->private_tmp || iso->pid_ns;
    bool landlock = sbx_isolation_by_landlock(iso);
    if (landlock) {
        add_paths(l, "landlock readonly", iso->readonly);
        add_paths(l, "landlock allow", iso->allow);
        json_array_append_new(l, json_string("landlock runtime read-only"));
    } else {
        if (mounts)
            json_array_append_new(l, json_string("mount-namespace"));
        add_paths(l, "readonly", iso->readonly);
        add_paths(l, "allow", iso->allow);
        if (iso->allow && iso->allow[0])
            json_array_append_new(l, json_string("new-root (runtime read-only, minimal /dev, "
                                                 "fresh /proc)"));
    }
    if (iso->private_tmp)
        json_array_append_new(l, json_string("private-tmp"));
    if (iso->no_net)
        json_array_append_new(l, json_string("network-namespace (lo only)"));
    if (iso->pid_ns == SBX_PID_NS_PROGRAM)
        json_array_append_new(l, json_string("pid-namespace (the program is PID 1)"));
    else if (iso->pid_ns == SBX_PID_NS_INIT)
        json_array_append_new(l, json_string("pid-namespace (sbx-init is PID 1, the program "
                                             "PID 2)"));
    if (iso->hostname) {
        char item[300];
        snprintf(item, sizeof item, "uts-namespace hostname=%s", iso->hostname);
        json_array_append_new(l, json_string(item));
    }
    if (iso->no_new_privs)
        json_array_append_new(l, json_string("no-new-privs"));
    if (iso->seccomp == SBX_SECCOMP_DEFAULT)
        json_array_append_new(l, json_string("seccomp default"));
    else if (iso->seccomp == SBX_SECCOMP_FILE) {
        char item[4200];
        snprintf(item, sizeof item, "seccomp %s", iso->seccomp_file);
        json_array_append_new(l, json_string(item));
    }
    add_pieces(l, iso);
    return l;
}
#endif
