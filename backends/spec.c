/* Limits and their text forms: "512M", "250ms", "150%". No OS calls here,
 * so the parsers are unit-tested on strings alone. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sbx.h"

void sbx_limits_init(sbx_limits *l)
{
    memset(l, 0, sizeof *l);
    l->core = -1;
}

/* Reads the leading decimal number of text (with an optional fraction) as
 * a value scaled by 1000, so "1.5" gives 1500. Returns the rest. */
static const char *parse_milli(const char *text, uint64_t *milli, bool *ok)
{
    const char *p = text;
    uint64_t whole = 0, frac = 0, scale = 1000;
    *ok = false;
    if (*p < '0' || *p > '9')
        return text;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (whole > (UINT64_MAX / 1000 - 9) / 10)
            return text;
        whole = whole * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return text;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (scale > 1) {
                scale /= 10;
                frac += (uint64_t)(*p - '0') * scale;
            }
        }
    }
    *milli = whole * 1000 + frac;
    *ok = true;
    return p;
}

struct unit { const char *suffix; uint64_t factor; };

/* Multiplies the milli-value by the factor of the suffix that matches rest
 * exactly (case-insensitive). */
static int apply_unit(const char *text, const char *rest, uint64_t milli,
                      const struct unit *units, const char *what,
                      uint64_t *out, sbx_error *err)
{
    for (const struct unit *u = units; u->suffix; u++) {
        if (strcasecmp(rest, u->suffix) != 0)
            continue;
        if (milli != 0 && u->factor > UINT64_MAX / milli)
            return sbx_error_set(err, -ERANGE, "%s '%s' is too large", what, text);
        *out = milli * u->factor / 1000;
        return 0;
    }
    return sbx_error_set(err, -EINVAL, "%s '%s': unknown unit '%s'", what, text, rest);
}

int sbx_parse_size(const char *text, uint64_t *bytes, sbx_error *err)
{
    static const struct unit units[] = {
        {"", 1}, {"b", 1},
        {"k", 1ull << 10}, {"kb", 1ull << 10}, {"kib", 1ull << 10},
        {"m", 1ull << 20}, {"mb", 1ull << 20}, {"mib", 1ull << 20},
        {"g", 1ull << 30}, {"gb", 1ull << 30}, {"gib", 1ull << 30},
        {"t", 1ull << 40}, {"tb", 1ull << 40}, {"tib", 1ull << 40},
        {NULL, 0},
    };
    uint64_t milli;
    bool ok;
    const char *rest = parse_milli(text, &milli, &ok);
    if (!ok)
        return sbx_error_set(err, -EINVAL,
                             "size '%s' is not a number with a unit (512K, 64M, 2G)", text);
    uint64_t v = 0;
    int r = apply_unit(text, rest, milli, units, "size", &v, err);
    if (r == 0 && v == 0)
        return sbx_error_set(err, -EINVAL, "size '%s' must be more than 0", text);
    if (r == 0)
        *bytes = v;
    return r;
}

int sbx_parse_duration(const char *text, uint64_t *ms, sbx_error *err)
{
    static const struct unit units[] = {
        {"ms", 1}, {"s", 1000}, {"", 1000}, {"m", 60000}, {"min", 60000},
        {"h", 3600000}, {"d", 86400000}, {NULL, 0},
    };
    uint64_t milli;
    bool ok;
    const char *rest = parse_milli(text, &milli, &ok);
    if (!ok)
        return sbx_error_set(err, -EINVAL,
                             "duration '%s' is not a number with a unit (500ms, 10s, 2m)", text);
    uint64_t v = 0;
    int r = apply_unit(text, rest, milli, units, "duration", &v, err);
    if (r == 0 && v == 0)
        return sbx_error_set(err, -EINVAL, "duration '%s' must be at least 1ms", text);
    if (r == 0)
        *ms = v;
    return r;
}

/* Up to 1024 cores' worth: more is a typo, not a limit. */
#define SBX_MAX_CPU_PERCENT 102400u

int sbx_parse_percent(const char *text, uint32_t *percent, sbx_error *err)
{
    uint64_t milli;
    bool ok;
    const char *rest = parse_milli(text, &milli, &ok);
    if (!ok || (strcmp(rest, "%") != 0 && *rest != '\0'))
        return sbx_error_set(err, -EINVAL,
                             "CPU '%s' is not a percentage of one core (50%%, 250%%)", text);
    if (milli < 1000 || milli / 1000 > SBX_MAX_CPU_PERCENT)
        return sbx_error_set(err, -ERANGE, "CPU '%s' must be between 1%% and %u%%",
                             text, SBX_MAX_CPU_PERCENT);
    *percent = (uint32_t)(milli / 1000);
    return 0;
}

int sbx_parse_count(const char *text, uint64_t min, uint64_t max,
                    uint64_t *value, sbx_error *err)
{
    uint64_t v = 0;
    const char *p = text;
    if (*p == '\0')
        return sbx_error_set(err, -EINVAL, "'%s' is not a whole number", text);
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return sbx_error_set(err, -EINVAL, "'%s' is not a whole number", text);
        if (v > (UINT64_MAX - 9) / 10)
            return sbx_error_set(err, -ERANGE, "'%s' is too large", text);
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v < min || v > max)
        return sbx_error_set(err, -ERANGE, "'%s' must be between %" PRIu64 " and %" PRIu64,
                             text, min, max);
    *value = v;
    return 0;
}

const char *sbx_format_size(uint64_t bytes, char *buf, size_t len)
{
    static const char suffix[] = "KMGT";
    if (bytes < 1024) {
        snprintf(buf, len, "%" PRIu64, bytes);
        return buf;
    }
    double v = (double)bytes / 1024;
    int i = 0;
    while (v >= 1024 && i < 3) {
        v /= 1024;
        i++;
    }
    if (v == (double)(uint64_t)v)
        snprintf(buf, len, "%" PRIu64 "%c", (uint64_t)v, suffix[i]);
    else
        snprintf(buf, len, "%.1f%c", v, suffix[i]);
    return buf;
}

static const char *const signal_names[32] = {
    NULL,   "HUP",  "INT",    "QUIT", "ILL",    "TRAP", "ABRT",  "BUS",
    "FPE",  "KILL", "USR1",   "SEGV", "USR2",   "PIPE", "ALRM",  "TERM",
    "STKFLT", "CHLD", "CONT", "STOP", "TSTP",   "TTIN", "TTOU",  "URG",
    "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH",  "IO",   "PWR",   "SYS",
};
#ifdef __linux__
_Static_assert(SIGTERM == 15 && SIGCHLD == 17 && SIGSYS == 31 && SIGBUS == 7,
               "signal_names follows the x86/arm numbering");
#endif

const char *sbx_signal_name(int sig)
{
    return sig > 0 && sig < 32 ? signal_names[sig] : NULL;
}

int sbx_parse_signal(const char *text)
{
    const char *t = strncasecmp(text, "SIG", 3) == 0 ? text + 3 : text;
    for (int i = 1; i < 32; i++)
        if (strcasecmp(t, signal_names[i]) == 0)
            return i;
    char *end;
    long n = strtol(text, &end, 10);
    return *text && !*end && n > 0 && n < 65 ? (int)n : -EINVAL;
}

/* ---- the limits table ---- */

#define FIELD(f) offsetof(sbx_limits, f), sizeof(((sbx_limits *)0)->f)
static const sbx_limit_info limit_table[] = {
    /* name          short kind                    min max         live   0=none */
    {"memory",        'm', SBX_LIMIT_SIZE,         0, 0,           true,  true,  FIELD(memory)},
    {"memory_swap",   0,   SBX_LIMIT_SIZE_OR_ZERO, 0, 0,           true,  false, FIELD(memory_swap)},
    {"cpu",           'c', SBX_LIMIT_PERCENT,      0, 0,           true,  true,  FIELD(cpu_percent)},
    {"cpu_weight",    0,   SBX_LIMIT_COUNT,        1, 10000,       false, true,  FIELD(cpu_weight)},
    {"pids",          'p', SBX_LIMIT_COUNT,        1, 4194304,     true,  true,  FIELD(pids)},
    {"nofile",        0,   SBX_LIMIT_COUNT,        1, 1u << 30,    false, true,  FIELD(nofile)},
};
#define NLIMITS (sizeof limit_table / sizeof limit_table[0])
_Static_assert(NLIMITS <= SBX_LIMITS_MAX, "raise SBX_LIMITS_MAX");

const sbx_limit_info *sbx_limit_at(size_t i)
{
    return i < NLIMITS ? &limit_table[i] : NULL;
}

const sbx_limit_info *sbx_limit_find(const char *name)
{
    for (size_t i = 0; i < NLIMITS; i++)
        if (strcmp(limit_table[i].name, name) == 0)
            return &limit_table[i];
    return NULL;
}

static void store(const sbx_limit_info *k, sbx_limits *l, uint64_t v)
{
    void *field = (char *)l + k->offset;
    if (k->size == sizeof(uint32_t))
        *(uint32_t *)field = (uint32_t)v;
    else
        *(uint64_t *)field = v;
}

uint64_t sbx_limit_get(const sbx_limit_info *k, const sbx_limits *l)
{
    const void *field = (const char *)l + k->offset;
    return k->size == sizeof(uint32_t) ? *(const uint32_t *)field : *(const uint64_t *)field;
}

int sbx_limit_parse(const sbx_limit_info *k, sbx_limits *l, const char *text,
                    sbx_error *err)
{
    uint64_t v = 0;
    uint32_t pct = 0;
    int r;
    switch (k->kind) {
    case SBX_LIMIT_SIZE_OR_ZERO:
        r = strcmp(text, "0") == 0 ? 0 : sbx_parse_size(text, &v, err);
        break;
    case SBX_LIMIT_SIZE: r = sbx_parse_size(text, &v, err); break;
    case SBX_LIMIT_PERCENT:
        r = sbx_parse_percent(text, &pct, err);
        v = pct;
        break;
    case SBX_LIMIT_COUNT:
    default: r = sbx_parse_count(text, k->min, k->max, &v, err); break;
    }
    if (r == 0)
        store(k, l, v);
    return r;
}

int sbx_limit_set(sbx_limits *l, const char *name, const char *text, sbx_error *err)
{
    const sbx_limit_info *k = sbx_limit_find(name);
    if (!k)
        return sbx_error_set(err, -ENOENT, "unknown limit '%s'", name);
    return sbx_limit_parse(k, l, text, err);
}

const char *sbx_limit_format(const sbx_limit_info *k, uint64_t value, char *buf,
                             size_t len)
{
    if (value == 0 && k->zero_is_none)
        return NULL;
    if (k->kind == SBX_LIMIT_SIZE || k->kind == SBX_LIMIT_SIZE_OR_ZERO)
        return sbx_format_size(value, buf, len);
    snprintf(buf, len, "%" PRIu64 "%s", value, k->kind == SBX_LIMIT_PERCENT ? "%" : "");
    return buf;
}
