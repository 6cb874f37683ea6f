/* Printing what this process holds of a sharded model: the mesh line with
 * the parameter counts, then the tree (print.h) with each cut parameter's
 * whole shape and its split, "f32[heads:8/2@model, projection:16]", where
 * the plain printer shows the local block. */
#include <stdlib.h>
#include <string.h>

#include "dist_internal.h"
#include "namedarr/print.h"
#include "namedarr/tree.h"

/* The cut parameter printed on `line` ("Param(\"label\", shape),  # n"). */
static const na__split_note *note_of_line(const char *line, const na_param_list *list)
{
    const char *q = strstr(line, "Param(\"");
    if (!q)
        q = strstr(line, "State(\"");
    if (!q)
        return NULL;
    q += 7;
    const char *end = strstr(q, "\", ");
    for (int i = 0; end && i < list->count; i++) {
        const na_param *p = list->items[i].param;
        if (strlen(p->label) == (size_t)(end - q) && !strncmp(p->label, q, (size_t)(end - q)))
            return na__split_note_find(p);
    }
    return NULL;
}

static void put_line(FILE *f, const na_mesh *mesh, const char *line, size_t len,
                     const na_param_list *list)
{
    char copy[2048];
    snprintf(copy, sizeof copy, "%.*s", (int)(len < sizeof copy ? len : sizeof copy - 1),
             line);
    const na__split_note *e = note_of_line(copy, list);
    char *shape = e ? strstr(copy, "\", ") : NULL, *close = shape ? strstr(shape, "),  #") : NULL;
    if (!close) {
        fwrite(line, 1, len, f);
        return;
    }
    char whole[1024];
    na__split_shape_str(mesh, e->param->value->dtype, e->ndim, e->name, e->global,
                        e->mesh_axis, whole, sizeof whole);
    fprintf(f, "%.*s%s%s", (int)(shape + 3 - copy), copy, whole, close);
}

na_status na_dist_print_model(const na_mesh *mesh, const na_layer *model,
                              const na_shard_report *report, FILE *f)
{
    if (!mesh || !model || !f)
        return na_fail(NA_ERR_ARGUMENT, "na_dist_print_model: NULL %s",
                       !mesh ? "mesh" : !model ? "model" : "f");
    char m[256];
    na_mesh_str(mesh, m, sizeof m);
    int64_t local = na_tree_param_count(model);
    fprintf(f, "%s: %lld parameters here", m, (long long)local);
    if (report && report->global_params)
        fprintf(f, " of %lld (%.1f%%)", (long long)report->global_params,
                100.0 * (double)local / (double)report->global_params);
    fprintf(f, "\n");
    char *text = NULL;
    na_param_list list = {0};
    na_print_options o = {.color = NA_COLOR_NEVER};
    na_status st = na_print_tree_str(model, &o, &text);
    if (st == NA_OK)
        st = na_tree_params(model, &list);
    for (const char *line = text; st == NA_OK && line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) + 1 : strlen(line);
        put_line(f, mesh, line, len, &list);
        line += len;
    }
    na_param_list_clear(&list);
    free(text);
    return st;
}
