/* libsbx's limit table as command-line options, shared by sbx-run and
 * sbxctl run: the row memory_swap is --memory-swap, and the rows with a
 * short option (-m, -c, -p) have it too. A new row is a new option. */
#ifndef SBX_LIMIT_OPTIONS_H
#define SBX_LIMIT_OPTIONS_H

#include <getopt.h>
#include <stddef.h>

#include "sbx.h"

/* getopt's value for row i when it has no short option. */
#define LIMIT_OPTION_BASE 0x100

/* A program's getopt_long table: its own nbase options, one per row of
 * the limit table, and the zero entry that ends it. out needs room for
 * nbase + SBX_LIMITS_MAX + 1. */
void limit_options_build(struct option *out, const struct option *base, size_t nbase);
/* The row getopt's value stands for, or NULL. */
const sbx_limit_info *limit_option_row(int val);

#endif
