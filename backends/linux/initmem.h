/* sbx's init gives back the memory it took over from its caller: see
 * initmem.c. */
#ifndef SBX_LINUX_INITMEM_H
#define SBX_LINUX_INITMEM_H

#include <stdint.h>

/* In the init (a fork that never execs), once everything it needs is in
 * locals and globals: unmaps the caller's heap and large anonymous
 * mappings, drops the stack below the current frame and, when the caller
 * never returns below frame (its frame address), the stack above it up
 * to the page of args (where /proc/PID/cmdline reads; 0: unknown, then
 * nothing above is dropped). Allocates nothing. */
void sbx__init_shed_memory(uintptr_t frame, uintptr_t args);

#endif
