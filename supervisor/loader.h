/* The units directory, read and checked without starting anything: every
 * unit file parsed (each broken one refused on its own, its errors kept),
 * then the dependencies checked (missing units, cycles) so that a unit
 * whose dependencies are broken is refused too. Nothing here needs the
 * loop or the runtime: sbxd --check and the manager both use it. */
#ifndef SBX_LOADER_H
#define SBX_LOADER_H

#include <stdio.h>

#include "unit.h"

typedef struct def_list {
    unit_def *v;
    size_t n, cap;
} def_list;

/* A new slot at the end (NULL when out of memory). */
unit_def *def_push(def_list *l);
void def_list_free(def_list *l);
/* By name, for qsort and bsearch. */
int def_cmp(const void *a, const void *b);
/* Whether a requires/after entry names the unit: "web" or every "web@N". */
bool dep_matches(const char *dep, const char *name);
/* Loads every unit of dir into defs (good ones only, sorted by name);
 * returns how many files or units were refused, their errors in errs. */
int load_dir(const char *dir, def_list *defs, unit_errors *errs);
void print_errors(const unit_errors *errs, FILE *out);
/* Checks a units directory: 0 all good, else the number of broken units
 * (errors printed to errs). */
int loader_check_dir(const char *dir, FILE *errs);

#endif
