/* Shared test fixture helpers: see fixture.h. */
#include <stdlib.h>

#include "fixture.h"

int fixture_new(void **state, size_t size)
{
    void *f = calloc(1, size);
    if (!f)
        return -1;
    *state = f;
    return 0;
}
