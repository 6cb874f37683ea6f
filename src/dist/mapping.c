/* Axis mappings: array axis name -> mesh axis name. */
#include <stdlib.h>
#include <string.h>

#include "dist_internal.h"

static na_status add_pair(na_axis_mapping *m, const char *spec, char *tok)
{
    const char *who = "na_axis_mapping_parse";
    char *eq = strchr(tok, '=');
    if (!eq || eq == tok || !eq[1])
        return na_fail(NA_ERR_ARGUMENT, "%s: bad entry '%s' in '%s' (want "
                       "\"array_axis=mesh_axis,...\")", who, tok, spec);
    *eq = '\0';
    const char *axis = na_intern(tok);
    for (int i = 0; i < m->n; i++)
        if (m->axis[i] == axis)
            return na_fail(NA_ERR_AXIS, "%s: axis '%s' is mapped twice in '%s'", who,
                           tok, spec);
    if (m->n == NA__MAP_MAX)
        return na_fail(NA_ERR_ARGUMENT, "%s: more than %d entries in '%s'", who,
                       NA__MAP_MAX, spec);
    size_t len = strlen(eq + 1);
    bool optional = eq[len] == '?';
    if (optional)
        eq[len] = '\0';
    if (!eq[1])
        return na_fail(NA_ERR_ARGUMENT, "%s: bad entry '%s' in '%s' (want "
                       "\"array_axis=mesh_axis,...\")", who, tok, spec);
    m->axis[m->n] = axis;
    m->optional[m->n] = optional;
    m->mesh_axis[m->n++] = na_intern(eq + 1);
    return NA_OK;
}

na_status na_axis_mapping_parse(const char *spec, na_axis_mapping **out)
{
    if (!spec || !out)
        return na_fail(NA_ERR_ARGUMENT, "na_axis_mapping_parse: NULL %s",
                       spec ? "out" : "spec");
    *out = NULL;
    na_axis_mapping *m = calloc(1, sizeof *m);
    char *buf = strdup(spec);
    na_status st = m && buf ? NA_OK
                            : na_fail(NA_ERR_NO_MEMORY, "na_axis_mapping_parse: out of memory");
    for (char *save = NULL, *tok = st == NA_OK ? strtok_r(buf, ",", &save) : NULL;
         tok && st == NA_OK; tok = strtok_r(NULL, ",", &save))
        st = add_pair(m, spec, tok);
    free(buf);
    if (st != NA_OK) {
        free(m);
        return st;
    }
    *out = m;
    return NA_OK;
}

void na_axis_mapping_free(na_axis_mapping *map) { free(map); }

const char *na_axis_mapping_lookup(const na_axis_mapping *map, const na_mesh *mesh,
                                   const char *axis)
{
    const char *a = map && mesh && axis ? na_intern(axis) : NULL;
    for (int i = 0; a && i < map->n; i++)
        if (map->axis[i] == a)
            return na_mesh_axis_size(mesh, map->mesh_axis[i]) > 1 ? map->mesh_axis[i]
                                                                   : NULL;
    return NULL;
}

/* The first dim of the array named `axis` (interned), or -1. */
static int dim_of(int ndim, const char *const *names, const char *axis)
{
    for (int d = 0; d < ndim; d++)
        if (names[d] && na_intern(names[d]) == axis)
            return d;
    return -1;
}

na_status na__mapping_split(const na_axis_mapping *map, const na_mesh *mesh, const char *who,
                            const char *label, int ndim, const char *const *names,
                            const int64_t *sizes, const char **split)
{
    const char *used[NA__MAP_MAX];
    int nused = 0;
    for (int d = 0; d < ndim; d++)
        split[d] = NULL;
    for (int i = 0; map && i < map->n; i++) {
        const char *m = map->mesh_axis[i];
        int parts = na_mesh_axis_size(mesh, m), d = dim_of(ndim, names, map->axis[i]);
        bool taken = false;
        for (int u = 0; u < nused; u++)
            taken |= used[u] == m;
        if (parts <= 1 || d < 0 || taken)
            continue;
        if (sizes[d] % parts == 0) {
            split[d] = m;
            used[nused++] = m;
        } else if (!map->optional[i]) {
            return na_fail(NA_ERR_SHAPE, "%s: axis '%s' of '%s' (size %lld) does not split "
                           "into %d equal blocks over mesh axis '%s'", who, map->axis[i],
                           label, (long long)sizes[d], parts, m);
        }
    }
    return NA_OK;
}

na_status na__array_split(const na_axis_mapping *map, const na_mesh *mesh, const char *who,
                          const char *label, const na_array *x, const char **split)
{
    return na__mapping_split(map, mesh, who, label, x->ndim, (const char *const *)x->name,
                             x->shape, split);
}
