/* Private: the struct of the dist wrapper layers (dist_layers.c). */
#ifndef NAMEDARR_DIST_LAYERS_H
#define NAMEDARR_DIST_LAYERS_H

#include "namedarr/dist.h"

typedef struct na__dist_wrap {
    na_layer base;
    na_layer *child;
    const char *mesh_axis;   /* interned                                    */
    const char *axis;        /* AllGatherOutput: the gathered axis          */
    int64_t offset;          /* ShardedEmbeddingLookup: first id of the block */
    const na_mesh *mesh;     /* borrowed; not a field (a live MPI object)   */
} na__dist_wrap;

/* A wrapper of `type` around `child`: taken on success; on failure the
 * caller still owns it. */
na_status na__dist_wrap_new(const na_layer_type *type, const na_mesh *mesh,
                            const char *mesh_axis, const char *axis, int64_t offset,
                            na_layer *child, na_layer **out);

#endif
