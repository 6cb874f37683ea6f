/* blis.h for the few files that call BLIS directly (blis.c and the
 * contraction benchmark). blis.h is found with -I, not as a system header,
 * so hush the warnings its inline helpers trip. Not installed. */
#ifndef NAMEDARR_BLIS_INCLUDE_H
#define NAMEDARR_BLIS_INCLUDE_H

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include <blis.h>
#pragma GCC diagnostic pop

#endif
