/* The HTML view's array drawing, shared by print_html.c (not installed). */
#ifndef NAMEDARR_HTML_INTERNAL_H
#define NAMEDARR_HTML_INTERNAL_H

#include <stdbool.h>
#include <stdio.h>

#include "namedarr/array.h"

/* Write `s` as HTML text or attribute content: & < > " ' escaped; control
 * bytes other than tab and newline, and bytes that are not well-formed
 * UTF-8, replaced by U+FFFD. */
void na__html_text(FILE *f, const char *s);

/* The dimensions drawn down (rows) and across (cols) for `x`, -1 for none:
 * the named axes `rows` / `cols` when given, else the two largest
 * dimensions in dim order (ties: the later ones; a 1-D array is one row;
 * with only one of them given, the other is the last remaining dimension). Fails naming `op`, `label`, the axis and the
 * array's shape when an axis is absent or both are the same. */
na_status na__heatmap_axes(const char *op, const char *label, const na_array *x,
                           const char *rows, const char *cols, int *row_dim,
                           int *col_dim);

typedef struct na__heatmap_opts {
    int max_side;     /* cells a side before block means                   */
    int max_slices;   /* heatmaps per array                                */
    bool heatmaps;    /* false: statistics only                            */
    int64_t cells_left; /* the page's budget of heatmap cells; an array that
                           would overdraw it is shown without pictures     */
    int64_t max_cells;  /* the whole budget, for the note                  */
} na__heatmap_opts;

/* Names for the indices of the drawn axes: NULL-terminated lists of one
 * string per index (checked by the caller), or NULL. */
typedef struct na__heatmap_labels {
    const char *const *rows, *const *cols;
} na__heatmap_labels;

/* The statistics table, notes, legend and heatmap grid of `x`. `uid`
 * numbers the page's SVG ids; `labels` may be NULL. */
na_status na__html_array(FILE *f, const na_array *x, int row_dim, int col_dim,
                         const na__heatmap_labels *labels, na__heatmap_opts *opt,
                         int *uid);

#endif
