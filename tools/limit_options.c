/* libsbx's limit table as command-line options (limit_options.h). */
#include <stdio.h>
#include <string.h>

#include "limit_options.h"

/* The rows' option names, made once: "memory_swap" is "memory-swap". */
static char names[SBX_LIMITS_MAX][32];

static int option_value(size_t i)
{
    const sbx_limit_info *k = sbx_limit_at(i);
    return k->short_option ? k->short_option : LIMIT_OPTION_BASE + (int)i;
}

void limit_options_build(struct option *out, const struct option *base, size_t nbase)
{
    size_t n = nbase;
    memcpy(out, base, nbase * sizeof *base);
    const sbx_limit_info *k;
    for (size_t i = 0; (k = sbx_limit_at(i)); i++) {
        size_t j = 0;
        for (; k->name[j] && j + 1 < sizeof names[i]; j++)
            names[i][j] = k->name[j] == '_' ? '-' : k->name[j];
        names[i][j] = '\0';
        out[n++] = (struct option){names[i], required_argument, NULL, option_value(i)};
    }
    out[n] = (struct option){NULL, 0, NULL, 0};
}

const sbx_limit_info *limit_option_row(int val)
{
    const sbx_limit_info *k;
    for (size_t i = 0; (k = sbx_limit_at(i)); i++)
        if (option_value(i) == val)
            return k;
    return NULL;
}
