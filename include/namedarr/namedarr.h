/* namedarr/namedarr.h — everything: named arrays, contraction, runtime.
 *
 *   #include <namedarr/namedarr.h>
 */
#ifndef NAMEDARR_H
#define NAMEDARR_H

#include "namedarr/status.h"
#include "namedarr/array.h"
#include "namedarr/contract.h"
#include "namedarr/runtime.h"

#define NAMEDARR_VERSION_MAJOR 0
#define NAMEDARR_VERSION_MINOR 1
#define NAMEDARR_VERSION_PATCH 0

#endif
