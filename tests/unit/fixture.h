/* What the table-driven cmocka suites share: each test's fixture is one
 * zeroed allocation that its teardown frees, so everything a test makes
 * is freed even when an assertion fails (clean under LeakSanitizer). */
#ifndef SBX_TEST_FIXTURE_H
#define SBX_TEST_FIXTURE_H

#include <stddef.h>

/* *state = a zeroed block of size bytes; -1 when out of memory. */
int fixture_new(void **state, size_t size);

#endif
