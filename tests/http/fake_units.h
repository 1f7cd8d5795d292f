/* The fake provider of http-test-server: units shaped like sbxd's. */
#ifndef SBX_FAKE_UNITS_H
#define SBX_FAKE_UNITS_H

#include "outbuf.h"

/* n == 0: the demo fleet; else n generated units. 0 or -ENOMEM. */
int fake_units_init(unsigned n);
/* The one-second state change of the demo fleet. */
void fake_units_advance(void);
void fake_units_free(void);

int fake_units_json(void *ctx, outbuf *out);
int fake_unit_json(void *ctx, const char *name, outbuf *out);
int fake_metrics(void *ctx, outbuf *out);

#endif
