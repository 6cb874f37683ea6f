/* Internal helpers of views.c / index.c / random.c (not installed). */
#ifndef NAMEDARR_VIEWS_INTERNAL_H
#define NAMEDARR_VIEWS_INTERNAL_H

#include <stdint.h>

/* Philox-4x32-10 (Salmon et al., SC'11): four 32-bit outputs for a 128-bit
 * counter `ctr` and a 64-bit key `key`, written to `out`. A pure function:
 * the random module draws element i of an array from counter i. */
void na__philox4x32(const uint32_t ctr[4], const uint32_t key[2],
                    uint32_t out[4]);

#endif
