/* The status board: where sbx's init leaves its program's wait status.
 * See status_board.c. Internal to libsbx. */
#ifndef SBX_LINUX_STATUS_BOARD_H
#define SBX_LINUX_STATUS_BOARD_H

#include <stdint.h>
#include <sys/types.h>

#include "../sbx.h"

/* One slot as the init sees it: the first bytes of its own page. */
typedef struct sbx__board_cell {
    uint32_t posted;    /* SBX__BOARD_POSTED once status is written */
    int32_t status;     /* the program's wait status */
} sbx__board_cell;

#define SBX__BOARD_POSTED 0x53425853u  /* "SBXS": not a page of zeros */

/* What the child maps to reach its slot (and only it). */
typedef struct sbx__board_map {
    int fd;             /* the board, -1: none */
    off_t offset;
    size_t len;         /* one page */
} sbx__board_map;

/* Takes a free slot (cleared) for a spawn behind sbx's init, creating or
 * growing the board as needed: the slot number (1..) with *map filled, or
 * a negative errno with err set. */
int sbx__board_take(sbx__board_map *map, sbx_error *err);
/* The status posted in slot (1: *status set; 0: none posted), and the
 * slot freed. Only once the init that had it is reaped. */
int sbx__board_collect(unsigned slot, int *status);
/* Frees slot without reading it (its init is reaped, or never ran). */
void sbx__board_put(unsigned slot);

#endif
