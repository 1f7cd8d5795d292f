/* Capability names and what a given-back capability means for the limits.
 * Linux's numbering on every platform: the text forms are checked the same
 * everywhere, even where nothing drops capabilities (Windows). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sbx.h"

static const char *const cap_names[] = {
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
    "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
    "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
    "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
    "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
    "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
};
#define NCAPS (sizeof cap_names / sizeof cap_names[0])
#define BIT(n) (1ull << (n))

/* CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
 * NET_BIND_SERVICE SYS_CHROOT SETFCAP. */
const uint64_t sbx_caps_default = BIT(0) | BIT(1) | BIT(3) | BIT(4) | BIT(5) | BIT(6) |
                                  BIT(7) | BIT(8) | BIT(10) | BIT(18) | BIT(31);

/* Given back, these undo the sandbox itself: remount the cgroup filesystem
 * (SYS_ADMIN), load a module or poke memory (SYS_MODULE, SYS_RAWIO),
 * drive sbx's init or another process (SYS_PTRACE), open host files by
 * handle (DAC_READ_SEARCH), load BPF that rewrites what it sees (BPF). */
static const uint64_t caps_undoing = BIT(21) | BIT(16) | BIT(17) | BIT(19) | BIT(2) | BIT(39);
#define CAP_SYS_RESOURCE_BIT BIT(24)

static int cap_number(const char *word, size_t len)
{
    if (len > 4 && strncasecmp(word, "CAP_", 4) == 0) {
        word += 4;
        len -= 4;
    }
    for (size_t i = 0; i < NCAPS; i++)
        if (strlen(cap_names[i]) == len && strncasecmp(cap_names[i], word, len) == 0)
            return (int)i;
    return -1;
}

int sbx_parse_capabilities(const char *text, uint64_t *mask, sbx_error *err)
{
    uint64_t m = 0;
    const char *s = text;
    for (;;) {
        s += strspn(s, " ,\t");
        if (!*s)
            break;
        size_t len = strcspn(s, " ,\t");
        int n = cap_number(s, len);
        if (n < 0)
            return sbx_error_set(err, -EINVAL, "unknown capability '%.*s' (expected names "
                                 "such as NET_ADMIN or CAP_SYS_TIME)", (int)len, s);
        m |= BIT(n);
        s += len;
    }
    *mask = m;
    return 0;
}

const char *sbx_isolation_undoes_limits(const sbx_isolation *iso, bool rlimits)
{
#ifdef _WIN32
    (void)iso;  /* a process cannot change the job it is in, privileged or not */
    (void)rlimits;
    return NULL;
#endif
    if (!iso || iso->privileged)
        return rlimits ? "privileged: can raise its own rlimits (CAP_SYS_RESOURCE)"
                       : "privileged: can rewrite its cgroup limits and leave its cgroup";
    if (iso->cap_add & caps_undoing)
        return "a capability given back (SYS_ADMIN, SYS_MODULE, SYS_RAWIO, SYS_PTRACE, "
               "DAC_READ_SEARCH or BPF) can undo the sandbox";
    if (rlimits && (iso->cap_add & CAP_SYS_RESOURCE_BIT))
        return "CAP_SYS_RESOURCE given back: can raise its own rlimits";
    return NULL;
}
