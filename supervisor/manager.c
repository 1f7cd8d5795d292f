/* The set of units: see manager.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "manager.h"
#include "portable.h"
#include "reaper.h"


/* ---- loading a directory of units ---- */

typedef struct def_list {
    unit_def *v;
    size_t n, cap;
} def_list;

static unit_def *def_push(def_list *l)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        unit_def *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return NULL;
        l->v = v;
        l->cap = cap;
    }
    return &l->v[l->n++];
}

static void def_list_free(def_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        unit_def_free(&l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static char *read_whole(const char *path, const char **why)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_BINARY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        *why = strerror(errno);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (st.st_size > (1 << 20)) {
        close(fd);
        *why = "larger than 1 MiB";
        return NULL;
    }
    char *text = malloc((size_t)st.st_size + 1);
    ssize_t n = text ? read(fd, text, (size_t)st.st_size) : -1;
    close(fd);
    if (n < 0) {
        *why = strerror(errno);
        free(text);
        return NULL;
    }
    text[n] = '\0';
    if (memchr(text, '\0', (size_t)n)) {
        *why = "not a text file (NUL byte)";
        free(text);
        return NULL;
    }
    return text;
}

static bool is_unit_file(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".ini") == 0 && name[0] != '.';
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The unit files of dir, sorted (a fixed order for loading and errors). */
static int unit_files(const char *dir, strv *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    struct dirent *de;
    while ((de = readdir(d)))
        if (is_unit_file(de->d_name) && strv_push(out, de->d_name) < 0) {
            closedir(d);
            return -ENOMEM;
        }
    closedir(d);
    if (out->n)
        qsort(out->v, out->n, sizeof *out->v, by_name);
    return 0;
}

/* Parses one file into defs (one, or one per instance). */
static int load_file(const char *dir, const char *fname, def_list *defs, unit_errors *errs)
{
    char path[4096], name[UNIT_NAME_MAX + 8];
    snprintf(path, sizeof path, "%s/%s", dir, fname);
    snprintf(name, sizeof name, "%.*s", (int)(strlen(fname) - 4), fname);
    if (!unit_name_valid(name) || strchr(name, '@')) {
        char line[4200];
        snprintf(line, sizeof line, "%s: invalid unit name '%s' (letters, digits, _ . - only)",
                 path, name);
        strv_push(&errs->lines, line);
        return -EINVAL;
    }
    const char *why = NULL;
    char *text = read_whole(path, &why);
    if (!text) {
        char line[4200];
        snprintf(line, sizeof line, "%s: cannot read: %s", path, why);
        strv_push(&errs->lines, line);
        return -EINVAL;
    }
    unit_def probe;
    int r = unit_parse(path, name, text, 0, &probe, errs);
    unsigned instances = probe.instances;
    if (r == 0 && instances == 0) {
        unit_def *d = def_push(defs);
        if (d)
            *d = probe;
        else
            unit_def_free(&probe);
        free(text);
        return d ? 0 : -ENOMEM;
    }
    unit_def_free(&probe);
    for (unsigned i = 1; r == 0 && i <= instances; i++) {
        char iname[UNIT_NAME_MAX + 16];
        snprintf(iname, sizeof iname, "%s@%u", name, i);
        unit_def *d = def_push(defs);
        if (!d || unit_parse(path, iname, text, i, d, errs) < 0) {
            if (d)
                unit_def_free(d), defs->n--;
            r = -EINVAL;
        }
    }
    free(text);
    return r;
}

static int def_cmp(const void *a, const void *b)
{
    return strcmp(((const unit_def *)a)->name, ((const unit_def *)b)->name);
}

/* A dependency name matches a unit, or every instance of a fleet. */
static bool dep_matches(const char *dep, const char *name)
{
    size_t n = strlen(dep);
    return strcmp(dep, name) == 0 || (strncmp(dep, name, n) == 0 && name[n] == '@');
}

static bool has_unit(const def_list *defs, const bool *bad, const char *dep)
{
    for (size_t i = 0; i < defs->n; i++)
        if (!bad[i] && dep_matches(dep, defs->v[i].name))
            return true;
    return false;
}

static void dep_error(unit_errors *errs, const unit_def *d, const char *key, int line,
                      const char *what)
{
    char text[1024];
    snprintf(text, sizeof text, "%s:%d: [unit] %s: %s", d->file, line, key, what);
    strv_push(&errs->lines, text);
}

/* DFS over requires+after; marks units on a cycle. Colors: 0 new, 1 on
 * the stack, 2 done. */
static bool on_cycle(const def_list *defs, const bool *bad, int *color, size_t i)
{
    color[i] = 1;
    const unit_def *d = &defs->v[i];
    const strv *lists[2] = {&d->requires, &d->after};
    for (int l = 0; l < 2; l++)
        for (size_t k = 0; k < lists[l]->n; k++)
            for (size_t j = 0; j < defs->n; j++) {
                if (bad[j] || !dep_matches(lists[l]->v[k], defs->v[j].name))
                    continue;
                if (color[j] == 1 || (color[j] == 0 && on_cycle(defs, bad, color, j)))
                    return true;
            }
    color[i] = 2;
    return false;
}

/* Refuses units with missing dependencies or on a cycle, and then those
 * that require a refused one, until nothing changes. */
static void check_deps(def_list *defs, bool *bad, unit_errors *errs)
{
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t i = 0; i < defs->n; i++) {
            const unit_def *d = &defs->v[i];
            char what[200];
            for (size_t k = 0; !bad[i] && k < d->requires.n; k++)
                if (!has_unit(defs, bad, d->requires.v[k])) {
                    snprintf(what, sizeof what, "no (working) unit named '%s'", d->requires.v[k]);
                    dep_error(errs, d, "requires", d->requires_line, what);
                    bad[i] = changed = true;
                }
            for (size_t k = 0; !bad[i] && k < d->after.n; k++)
                if (!has_unit(defs, bad, d->after.v[k])) {
                    snprintf(what, sizeof what, "no (working) unit named '%s'", d->after.v[k]);
                    dep_error(errs, d, "after", d->after_line, what);
                    bad[i] = changed = true;
                }
        }
        int *color = calloc(defs->n ? defs->n : 1, sizeof *color);
        for (size_t i = 0; color && i < defs->n; i++) {
            if (bad[i])
                continue;
            memset(color, 0, defs->n * sizeof *color);
            if (on_cycle(defs, bad, color, i)) {
                const unit_def *d = &defs->v[i];
                dep_error(errs, d, d->requires.n ? "requires" : "after",
                          d->requires.n ? d->requires_line : d->after_line,
                          "dependency cycle");
                bad[i] = changed = true;
            }
        }
        free(color);
    }
}

/* Loads every unit of dir into defs (good ones only); returns how many
 * files or units were refused. */
static int load_dir(const char *dir, def_list *defs, unit_errors *errs)
{
    strv names = {0};
    int r = unit_files(dir, &names);
    if (r < 0) {
        char line[4200];
        snprintf(line, sizeof line, "%s: cannot read the units directory: %s", dir, strerror(-r));
        strv_push(&errs->lines, line);
        strv_free(&names);
        return 1;
    }
    int refused = 0;
    for (size_t i = 0; i < names.n; i++)
        if (load_file(dir, names.v[i], defs, errs) < 0)
            refused++;
    strv_free(&names);
    bool *bad = calloc(defs->n ? defs->n : 1, sizeof *bad);
    if (!bad)
        return refused + 1;
    check_deps(defs, bad, errs);
    size_t k = 0;
    for (size_t i = 0; i < defs->n; i++) {
        if (bad[i]) {
            unit_def_free(&defs->v[i]);
            refused++;
        } else {
            defs->v[k++] = defs->v[i];
        }
    }
    defs->n = k;
    free(bad);
    if (defs->n)
        qsort(defs->v, defs->n, sizeof *defs->v, def_cmp);
    return refused;
}

static void print_errors(const unit_errors *errs, FILE *out)
{
    for (size_t i = 0; out && i < errs->lines.n; i++)
        fprintf(out, "%s\n", errs->lines.v[i]);
}

/* What --check says of valid units that are not contained (on stdout:
 * not an error, but in words). */
static void print_privileged(const def_list *defs)
{
    for (size_t i = 0; i < defs->n; i++) {
        sbx_isolation iso;
        unit_isolation(&defs->v[i], &iso);
        if (iso.privileged)
            printf("%s: [sandbox] privileged: can undo its own limits (it has none)\n",
                   defs->v[i].file);
    }
}

int manager_check_dir(const char *dir, FILE *errs)
{
    def_list defs = {0};
    unit_errors e = {0};
    int refused = load_dir(dir, &defs, &e);
    print_privileged(&defs);
    print_errors(&e, errs);
    unit_errors_free(&e);
    def_list_free(&defs);
    return refused;
}

/* ---- events: sbxd's own log ---- */

int64_t manager_wall_ms(void)
{
    uv_timeval64_t tv;
    uv_gettimeofday(&tv);
    return tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void event(manager *m, service *s, const char *what, const char *detail)
{
    if (m->events) {
        if (m->cfg.json_log) {
            json_t *j = json_pack("{s:I, s:s, s:s, s:s?}", "time_ms",
                                  (json_int_t)manager_wall_ms(), "unit", s->def.name,
                                  "event", what, "detail", detail);
            char *line = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
            json_decref(j);
            if (line)  /* one write: stderr is unbuffered */
                fprintf(m->events, "%s\n", line);
            free(line);
        } else {
            fprintf(m->events, "sbxd: %s: %s%s%s\n", s->def.name, what,
                    detail && *detail ? ": " : "", detail ? detail : "");
        }
        fflush(m->events);
    }
    if (m->on_event)
        m->on_event(m, s, what, detail);
}

static service_rt *rt_of(service *s)
{
    return s->owner;
}

/* ---- the world, as the state machine sees it (service_env) ---- */

static uint64_t env_now(void *ctx)
{
    manager *m = ctx;
    return uv_now(m->loop);
}

static uint32_t env_random(void *ctx)
{
    (void)ctx;
    uint32_t x = 0;
    uv_random(NULL, NULL, &x, sizeof x, 0, NULL);  /* restart jitter: rare */
    return x;
}

static void on_svc_timer(uv_timer_t *t)
{
    service_event(t->data, EV_TIMER, NULL);
}

static void env_timer_start(service *s, uint64_t ms)
{
    uv_timer_start(&rt_of(s)->timer, on_svc_timer, ms, 0);
}

static void env_timer_stop(service *s)
{
    uv_timer_stop(&rt_of(s)->timer);
}

static void on_run_done(run *r, const run_result *res);

/* Reports the OOM kills the box's counter shows beyond those reported. */
static void report_oom(service *s)
{
    service_rt *rt = rt_of(s);
    sbx_stats st;
    if (!rt->box || sbx_box_stats(rt->box, &st, NULL) < 0 || st.oom_kills <= rt->oom_seen)
        return;
    char detail[64];
    snprintf(detail, sizeof detail, "%lld process(es) killed", (long long)(st.oom_kills - rt->oom_seen));
    rt->oom_seen = st.oom_kills;
    event(rt->m, s, "oom", detail);
}

/* On v2 this fires once the kill is counted; on v1 when the OOM starts,
 * before: the run's end then catches up (report_oom in on_run_done). */
static void on_oom_event(uv_poll_t *p, int status, int events)
{
    service *s = p->data;
    (void)status;
    (void)events;
    sbx_box_events_drain(rt_of(s)->box);
    report_oom(s);
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}

static void watch_oom(service *s)
{
    service_rt *rt = rt_of(s);
    int fd = sbx_box_event_fd(rt->box);
    if (fd < 0 || rt->oom_poll || !(rt->oom_poll = malloc(sizeof *rt->oom_poll)))
        return;
    if (uv_poll_init(rt->m->loop, rt->oom_poll, fd) < 0) {
        free(rt->oom_poll);
        rt->oom_poll = NULL;
        return;
    }
    rt->oom_poll->data = s;
    uv_poll_start(rt->oom_poll, UV_READABLE, on_oom_event);
    sbx_stats st;
    rt->oom_seen = 0;  /* a fresh box counts from zero */
    if (!sbx_box_fresh(rt->box) && sbx_box_stats(rt->box, &st, NULL) == 0 && st.oom_kills > 0)
        rt->oom_seen = st.oom_kills;
}

static int ensure_box(service *s, run_result *res)
{
    service_rt *rt = rt_of(s);
    if (rt->box)
        return 0;
    sbx_error e = {0};
    unsigned flags = s->def.pid_ns == SBX_PID_NS_INIT ? SBX_BOX_INIT : 0;  /* its init */
    int r = sbx_box_create(rt->m->be, s->def.name, &s->def.limits, flags, &rt->box, &e);
    if (r < 0) {
        snprintf(res->error, sizeof res->error, "sandbox: %s", e.msg);
        return r;
    }
    watch_oom(s);
    return 0;
}

static void set_output(sbx_stdio *io, const unit_output *o, int log_fd)
{
    switch (o->kind) {
    case OUT_LOG: io->kind = SBX_STDIO_FD; io->fd = log_fd; break;
    case OUT_NULL: io->kind = SBX_STDIO_NULL; break;
    case OUT_INHERIT: io->kind = SBX_STDIO_INHERIT; break;
    case OUT_FILE: io->kind = SBX_STDIO_FILE; io->path = o->path; break;
    }
}

static void start_failed(run_result *res, int code, sbx_stage stage)
{
    res->reason = RUN_START_FAILED;
    res->exit_code = -1;
    res->failed_stage = stage;
    res->failed_errno = -code;
    res->stats = SBX_STATS_UNKNOWN;
}

static bool is_required(manager *m, const service *s)
{
    for (size_t i = 0; i < m->n; i++)
        for (size_t k = 0; k < m->svcs[i]->def.requires.n; k++)
            if (dep_matches(m->svcs[i]->def.requires.v[k], s->def.name))
                return true;
    return false;
}

static int env_spawn(service *s, run_result *res)
{
    service_rt *rt = rt_of(s);
    const unit_def *d = &s->def;
    memset(res, 0, sizeof *res);
    int r = ensure_box(s, res);
    if (r < 0)
        return start_failed(res, r, SBX_STAGE_CGROUP), r;
    sbx_isolation iso;
    unit_isolation(d, &iso);
    sbx_command cmd = {.argv = d->argv.v, .cwd = d->cwd, .new_session = true, .iso = &iso};
    if ((r = run_resolve_ids(d->user, d->group, &cmd, res->error, sizeof res->error)) < 0)
        return start_failed(res, r, SBX_STAGE_USER), r;
    int pipefd[2] = {-1, -1};
    bool logged = d->out[0].kind == OUT_LOG || d->out[1].kind == OUT_LOG;
    if (logged && (r = uv_pipe(pipefd, UV_NONBLOCK_PIPE, 0)) < 0) {
        snprintf(res->error, sizeof res->error, "log pipe: %s", uv_strerror(r));
        return start_failed(res, r, SBX_STAGE_STDIO), r;
    }
    cmd.stdio[0] = d->stdin_path ? (sbx_stdio){SBX_STDIO_FILE, d->stdin_path, -1}
                                 : (sbx_stdio){SBX_STDIO_NULL, NULL, -1};
    set_output(&cmd.stdio[1], &d->out[0], pipefd[1]);
    set_output(&cmd.stdio[2], &d->out[1], pipefd[1]);
    char **env = run_env(d->clear_env ? NULL : run_inherited_env(), d->env.v, d->env.n);
    cmd.envp = env;
    run_options opt;
    run_options_init(&opt);
    opt.timeout_ms = d->runtime_max_ms;
    opt.kill_grace_ms = d->stop_timeout_ms;
    opt.stop_signal = d->stop_signal;
    /* When starting many at once, let their cgroup migrations overlap (the
     * start is confirmed at exec or learnt failed at exit). Otherwise, and
     * for units others require, "running" means the program has exec'd. */
    opt.async_spawn = rt->m->bulk && !is_required(rt->m, s);
    r = run_start(&rt->run, rt->m->loop, rt->box, &cmd, &opt, on_run_done, res);
    free(env);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    if (r < 0) {
        if (pipefd[0] >= 0)
            close(pipefd[0]);
        return r;
    }
    rt->run.data = s;
    rt->run_active = true;
    s->pid = rt->run.pid;
    if (pipefd[0] >= 0)
        log_attach(&rt->log, rt->m->loop, pipefd[0]);
    return 0;
}

static void env_stop(service *s)
{
    run_stop(&rt_of(s)->run);
}

static service *find_dep(manager *m, const char *dep, size_t *from)
{
    for (size_t i = *from; i < m->n; i++)
        if (dep_matches(dep, m->svcs[i]->def.name)) {
            *from = i + 1;
            return m->svcs[i];
        }
    return NULL;
}

/* 1 when everything s requires is running (pulling in inactive ones) and
 * everything it is ordered after has settled; 0 to wait; -1 failed. */
static int env_deps(service *s)
{
    manager *m = rt_of(s)->m;
    int ready = 1;
    for (size_t k = 0; k < s->def.requires.n; k++) {
        size_t from = 0;
        for (service *d; (d = find_dep(m, s->def.requires.v[k], &from));) {
            if (d->state == SVC_FAILED)
                return -1;
            if (d->state == SVC_INACTIVE && !m->shutting_down)
                manager_start(m, d);
            if (d->state != SVC_RUNNING && d->state != SVC_EXITED)
                ready = 0;
        }
    }
    for (size_t k = 0; k < s->def.after.n; k++) {
        size_t from = 0;
        for (service *d; (d = find_dep(m, s->def.after.v[k], &from));)
            if (d->state == SVC_STARTING || d->state == SVC_BACKOFF)
                ready = 0;
    }
    return ready;
}

static void settle(manager *m);

static bool at_rest(svc_state st)
{
    return st == SVC_INACTIVE || st == SVC_EXITED || st == SVC_FAILED;
}

static void release_box(service *s)
{
    service_rt *rt = rt_of(s);
    if (rt->oom_poll) {
        uv_close((uv_handle_t *)rt->oom_poll, free_handle);
        rt->oom_poll = NULL;
    }
    if (!rt->box)
        return;
    sbx_error e = {0};
    if (sbx_box_destroy(rt->box, &e) < 0)
        event(rt->m, s, "cleanup-failed", e.msg);
    sbx_box_free(rt->box);
    rt->box = NULL;
}

static void describe_result(const run_result *r, char *buf, size_t len)
{
    switch (r->reason) {
    case RUN_EXITED: snprintf(buf, len, "exit code %d", r->exit_code); break;
    case RUN_SIGNALED: snprintf(buf, len, "killed by signal %d", r->signal); break;
    case RUN_TIMEOUT: snprintf(buf, len, "runtime_max reached"); break;
    case RUN_MEMORY: snprintf(buf, len, "out of memory (oom_kills %lld)",
                              (long long)r->stats.oom_kills); break;
    case RUN_START_FAILED: snprintf(buf, len, "start failed: %s", r->error); break;
    case RUN_CRASHED: snprintf(buf, len, "crashed (NTSTATUS 0x%08X)", (unsigned)r->exit_code); break;
    case RUN_ESCAPED: snprintf(buf, len, "escaped its sandbox: %s", r->error); break;
    }
}

static void env_changed(service *s, svc_state from, const char *why)
{
    manager *m = rt_of(s)->m;
    char detail[600];
    bool restarted = s->state == SVC_RUNNING && from == SVC_RUNNING && s->pid &&
                     s->pid != rt_of(s)->logged_pid;  /* delay 0: exit and start at once */
    if (s->state == from && !restarted) {
        if (at_rest(s->state))
            release_box(s);  /* a start by hand that failed again at once */
        return;
    }
    if (restarted && s->have_last) {  /* how the last run ended, then the start */
        describe_result(&s->last, detail, sizeof detail);
        event(m, s, "restarting", detail);
    }
    if (s->state == SVC_RUNNING) {
        rt_of(s)->logged_pid = s->pid;
        snprintf(detail, sizeof detail, "pid %d", (int)s->pid);
    }
    else if (s->have_last && s->state != SVC_STOPPING &&
             (from == SVC_RUNNING || from == SVC_STOPPING || s->state == SVC_FAILED))
        describe_result(&s->last, detail, sizeof detail);
    else
        detail[0] = '\0';
    char what[80];
    snprintf(what, sizeof what, "%s (%s)", svc_state_name(s->state), why ? why : "");
    rt_of(s)->since_ms = uv_now(m->loop);
    event(m, s, what, detail);
    if (at_rest(s->state)) {
        release_box(s);
        if (rt_of(s)->transient)
            rt_of(s)->remove = true;
    }
    settle(m);
}

static void on_run_done(run *r, const run_result *res)
{
    service *s = r->data;
    service_rt *rt = rt_of(s);
    run_result copy = *res;
    report_oom(s);
    rt->run_active = false;
    run_close(r);
    s->pid = 0;
    service_event(s, EV_EXIT, &copy);
}

/* ---- the set ---- */

static void on_log_data(unit_log *log, const char *buf, size_t len);

static service *service_new(manager *m, unit_def *def)
{
    service *s = calloc(1, sizeof *s);
    service_rt *rt = calloc(1, sizeof *rt);
    if (!s || !rt) {
        free(s);
        free(rt);
        return NULL;
    }
    s->def = *def;
    s->owner = rt;
    rt->m = m;
    if (service_init(s, &m->env) < 0) {
        free(s);
        free(rt);
        return NULL;
    }
    uv_timer_init(m->loop, &rt->timer);
    rt->timer.data = s;
    log_init(&rt->log, m->cfg.log_dir, def->name, def->log_max_size, def->log_keep);
    rt->log.on_data = on_log_data;
    rt->log.data = s;
    return s;
}

static void on_log_data(unit_log *log, const char *buf, size_t len)
{
    service *s = log->data;
    manager *m = rt_of(s)->m;
    if (m->on_log)
        m->on_log(m, s, buf, len);
}

static void on_service_closed(uv_handle_t *h)
{
    service *s = h->data;
    free(s->owner);
    service_free(s);
    free(s);
}

static void service_delete(service *s)
{
    service_rt *rt = rt_of(s);
    release_box(s);
    log_close(&rt->log);
    if (rt->pending) {
        unit_def_free(rt->pending);
        free(rt->pending);
    }
    uv_close((uv_handle_t *)&rt->timer, on_service_closed);
}

static int svc_cmp(const void *a, const void *b)
{
    return strcmp((*(service *const *)a)->def.name, (*(service *const *)b)->def.name);
}

service *manager_find(manager *m, const char *name)
{
    service key_svc;
    snprintf(key_svc.def.name, sizeof key_svc.def.name, "%s", name);
    service *key = &key_svc;
    service **hit = m->svcs ? bsearch(&key, m->svcs, m->n, sizeof *m->svcs, svc_cmp) : NULL;
    return hit ? *hit : NULL;
}

int manager_init(manager *m, uv_loop_t *loop, const manager_settings *cfg, sbx_error *err)
{
    memset(m, 0, sizeof *m);
    m->loop = loop;
    m->cfg = *cfg;
    m->events = stderr;
    m->env = (service_env){
        .now_ms = env_now, .random = env_random, .timer_start = env_timer_start,
        .timer_stop = env_timer_stop, .spawn = env_spawn, .stop = env_stop,
        .deps = env_deps, .changed = env_changed, .ctx = m,
    };
    sbx_backend_options bo = {.name = cfg->backend, .cgroup_root = cfg->cgroup_root};
    return sbx_backend_open(&bo, &m->be, err);
}

static int add_services(manager *m, def_list *defs)
{
    service **v = realloc(m->svcs, (m->n + defs->n + 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    m->svcs = v;
    for (size_t i = 0; i < defs->n; i++) {
        service *s = service_new(m, &defs->v[i]);
        if (!s) {
            unit_def_free(&defs->v[i]);
            continue;
        }
        m->svcs[m->n++] = s;
    }
    defs->n = 0;
    if (m->n)
        qsort(m->svcs, m->n, sizeof *m->svcs, svc_cmp);
    return 0;
}

int manager_load(manager *m, FILE *errs)
{
    def_list defs = {0};
    unit_errors e = {0};
    int refused = load_dir(m->cfg.units_dir, &defs, &e);
    print_errors(&e, errs);
    unit_errors_free(&e);
    add_services(m, &defs);
    def_list_free(&defs);
    return refused;
}

void manager_start(manager *m, service *s)
{
    if (!m->shutting_down)
        service_event(s, EV_START, NULL);
}

void manager_stop(manager *m, service *s)
{
    (void)m;
    service_event(s, EV_STOP, NULL);
}

void manager_start_all(manager *m)
{
    m->bulk = true;
    for (size_t i = 0; i < m->n; i++)
        if (m->svcs[i]->def.autostart && m->svcs[i]->state == SVC_INACTIVE)
            manager_start(m, m->svcs[i]);
    m->bulk = false;
}

/* Whether some unit that requires or follows s is not yet at rest: s
 * must then wait to be stopped (reverse dependency order). */
static bool has_active_dependents(manager *m, service *s)
{
    for (size_t i = 0; i < m->n; i++) {
        service *o = m->svcs[i];
        if (at_rest(o->state) || o == s)
            continue;
        for (size_t k = 0; k < o->def.requires.n; k++)
            if (dep_matches(o->def.requires.v[k], s->def.name))
                return true;
        for (size_t k = 0; k < o->def.after.n; k++)
            if (dep_matches(o->def.after.v[k], s->def.name))
                return true;
    }
    return false;
}

static void shutdown_step(manager *m)
{
    /* Again while stops end at once, freeing what those units depended on. */
    for (bool progress = true; progress;) {
        progress = false;
        for (size_t i = 0; i < m->n; i++) {
            service *s = m->svcs[i];
            if (!at_rest(s->state) && s->state != SVC_STOPPING && !has_active_dependents(m, s)) {
                service_event(s, EV_STOP, NULL);
                progress |= at_rest(s->state);
            }
        }
    }
    /* Some stops end at once (a unit waiting in backoff): count after. */
    bool all_rest = true;
    for (size_t i = 0; i < m->n; i++)
        all_rest &= at_rest(m->svcs[i]->state);
    if (all_rest && m->on_idle) {
        void (*cb)(manager *) = m->on_idle;
        m->on_idle = NULL;
        cb(m);
    }
}

/* After any change: wake units waiting for dependencies, apply reloads,
 * drive a shutdown. Re-entrant calls are folded into one pass. */
static void settle(manager *m)
{
    static int depth;
    if (depth++ > 0) {
        depth--;
        return;
    }
    for (bool again = true; again;) {
        again = false;
        for (size_t i = 0; i < m->n; i++) {
            service *s = m->svcs[i];
            service_rt *rt = rt_of(s);
            if (s->state == SVC_STARTING) {
                int r = env_deps(s);
                if (r != 0) {
                    service_event(s, r > 0 ? EV_DEPS_READY : EV_DEPS_FAILED, NULL);
                    again = true;
                }
            } else if (at_rest(s->state) && !rt->run_active && (rt->pending || rt->remove)) {
                if (rt->remove) {
                    event(m, s, "removed", NULL);
                    service_delete(s);
                    memmove(&m->svcs[i], &m->svcs[i + 1], (m->n - i - 1) * sizeof *m->svcs);
                    m->n--;
                } else {
                    unit_def_free(&s->def);
                    s->def = *rt->pending;
                    free(rt->pending);
                    rt->pending = NULL;
                    free(s->start_times);
                    service_init(s, &m->env);
                    log_close(&rt->log);
                    log_init(&rt->log, m->cfg.log_dir, s->def.name, s->def.log_max_size,
                             s->def.log_keep);
                    rt->log.on_data = on_log_data;
                    rt->log.data = s;
                    if (s->def.autostart)
                        manager_start(m, s);
                }
                again = true;
                break;
            }
        }
    }
    if (m->shutting_down)
        shutdown_step(m);
    depth--;
}

void reload_report_free(reload_report *r)
{
    strv_free(&r->added);
    strv_free(&r->removed);
    strv_free(&r->changed);
    strv_free(&r->errors);
}

int manager_reload(manager *m, reload_report *report)
{
    def_list defs = {0};
    unit_errors e = {0};
    int refused = load_dir(m->cfg.units_dir, &defs, &e);
    report->errors = e.lines;
    /* Units gone from the directory (or now broken) are stopped and removed. */
    for (size_t i = 0; i < m->n; i++) {
        service *s = m->svcs[i];
        unit_def key = {0};
        snprintf(key.name, sizeof key.name, "%s", s->def.name);
        if (!rt_of(s)->transient &&
            !(defs.n && bsearch(&key, defs.v, defs.n, sizeof *defs.v, def_cmp))) {
            rt_of(s)->remove = true;
            strv_push(&report->removed, s->def.name);
            service_event(s, EV_STOP, NULL);
        }
    }
    def_list added = {0};
    for (size_t i = 0; i < defs.n; i++) {
        service *s = manager_find(m, defs.v[i].name);
        if (!s) {
            strv_push(&report->added, defs.v[i].name);
            *def_push(&added) = defs.v[i];
        } else if (unit_def_equal(&s->def, &defs.v[i])) {
            unit_def_free(&defs.v[i]);
        } else {
            service_rt *rt = rt_of(s);
            strv_push(&report->changed, defs.v[i].name);
            if (rt->pending) {
                unit_def_free(rt->pending);
                free(rt->pending);
            }
            rt->pending = malloc(sizeof *rt->pending);
            *rt->pending = defs.v[i];
            rt->transient = false;
            service_event(s, EV_STOP, NULL);
        }
    }
    free(defs.v);
    add_services(m, &added);
    def_list_free(&added);
    for (size_t i = 0; i < m->n; i++)
        if (m->svcs[i]->state == SVC_INACTIVE && m->svcs[i]->def.autostart &&
            !m->svcs[i]->have_last && !rt_of(m->svcs[i])->remove)
            manager_start(m, m->svcs[i]);
    settle(m);
    return refused;
}

void manager_shutdown(manager *m)
{
    m->shutting_down = true;
    settle(m);
}

int manager_kill(manager *m, service *s, int sig, sbx_error *err)
{
    service_rt *rt = rt_of(s);
    (void)m;
    if (!rt->box || !rt->run_active)
        return sbx_error_set(err, -ESRCH, "unit %s is not running", s->def.name);
#ifndef _WIN32
    /* The main process too: just after an (async) start it may not have
     * joined its cgroup yet. Not reaped, so its pid is still ours. (On
     * Windows it is in its job from its first instruction.) */
    kill(rt->run.pid, sig);
#endif
    return sbx_box_kill(rt->box, sig, err);
}

int manager_freeze(manager *m, service *s, bool frozen, sbx_error *err)
{
    service_rt *rt = rt_of(s);
    (void)m;
    if (!rt->box || !rt->run_active)
        return sbx_error_set(err, -ESRCH, "unit %s is not running", s->def.name);
    return sbx_box_freeze(rt->box, frozen, err);
}

int manager_set_limits(manager *m, service *s, const sbx_limits *l, sbx_error *err)
{
    service_rt *rt = rt_of(s);
    (void)m;
    if (rt->box) {
        int r = sbx_box_update(rt->box, l, err);
        if (r < 0)
            return r;
    }
    /* The next run gets them too (until a reload brings back the file's). */
    s->def.limits.memory = l->memory;
    s->def.limits.memory_swap = l->memory_swap;
    s->def.limits.cpu_percent = l->cpu_percent;
    s->def.limits.pids = l->pids;
    return 0;
}

uint64_t manager_since(const service *s)
{
    return ((const service_rt *)s->owner)->since_ms;
}

service *manager_add_transient(manager *m, unit_def *def)
{
    if (manager_find(m, def->name) || m->shutting_down) {
        unit_def_free(def);
        return NULL;
    }
    char name[UNIT_NAME_MAX];
    snprintf(name, sizeof name, "%s", def->name);
    def_list one = {0};
    unit_def *slot = def_push(&one);
    if (!slot) {
        unit_def_free(def);
        return NULL;
    }
    *slot = *def;
    add_services(m, &one);  /* takes the definition */
    free(one.v);
    service *s = manager_find(m, name);
    if (s)
        rt_of(s)->transient = true;
    return s;
}

void manager_reopen_logs(manager *m)
{
    for (size_t i = 0; i < m->n; i++)
        log_reopen(&rt_of(m->svcs[i])->log);
}

void manager_free(manager *m)
{
    for (size_t i = 0; i < m->n; i++)
        service_delete(m->svcs[i]);
    free(m->svcs);
    m->svcs = NULL;
    m->n = 0;
    sbx_backend_close(m->be);
    m->be = NULL;
}
