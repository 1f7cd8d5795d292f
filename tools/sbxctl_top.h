/* `sbxctl top`: a live table of the units in the terminal, like
 * systemd-cgtop. The connection stays sbxctl.c's: top asks `fetch` for the
 * units (a status with "watch", so sbxd samples their trends meanwhile). */
#ifndef SBXCTL_TOP_H
#define SBXCTL_TOP_H

#include <jansson.h>
#include <stdbool.h>

/* The units array of a fresh status (a new reference), or NULL. */
typedef json_t *(*top_fetch_fn)(void *ctx);

/* Runs until q (or end of input): redraws every interval_ms, sorted by CPU
 * (c) or memory (m). Returns 0, or -1 when stdin/stdout is not a terminal
 * (the caller then prints a plain status). */
int top_run(top_fetch_fn fetch, void *ctx, unsigned interval_ms, bool color);

#endif
