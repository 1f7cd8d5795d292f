/* sbxd's descriptor budget on Windows: handles have no per-process limit
 * to raise or to run into, so there is nothing to say. */
#include "fdlimit.h"

uint64_t fdlimit_raise(void)
{
    return UINT64_MAX;
}

uint64_t fdlimit_current(void)
{
    return UINT64_MAX;
}

unsigned fdlimit_unit_cost(const unit_def *d)
{
    (void)d;
    return 0;
}

uint64_t fdlimit_oom_cost(size_t n, bool shared)
{
    (void)n;
    (void)shared;
    return 0;
}

bool fdlimit_warn(FILE *out, size_t nunits, uint64_t need, uint64_t limit)
{
    (void)out;
    (void)nunits;
    (void)need;
    (void)limit;
    return false;
}

void fdlimit_explain(int err, char *msg, size_t len)
{
    (void)err;
    (void)msg;
    (void)len;
}
