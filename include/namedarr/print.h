/* namedarr/print.h — the text pretty-printer and the HTML view of layer
 * trees (DESIGN §6).
 *
 * One layer per line, nested like constructor calls: the type, the fields
 * from its describe(), then its parameters and children, with parameter
 * counts per subtree (a parameter shared by several layers is marked
 * "(shared)" and counted once) and a total at the end:
 *
 *   Sequential(  # 2,080 params
 *     AddConstant(value=1),
 *     NamedGroup(name="block_0",  # 2,080 params
 *       Linear(in=[embedding], out=[hidden],  # 2,048 params
 *         Param("block_0/up.weights", f32[embedding:32, hidden:64]),  # 2,048
 *       ),
 *     ),
 *   )
 *   # total: 4 layers, 2,080 params
 *
 * A child is prefixed by its name ("delta=Linear(...)") unless the name is
 * just its index or its NamedGroup name. Shapes print as
 * `f32[seq:8, heads:4 | 16]` (named axes, then positional sizes).
 *
 * Colour (ANSI) with NA_COLOR_AUTO: never when NO_COLOR is set (non-empty);
 * otherwise always when FORCE_COLOR or CLICOLOR_FORCE is set (non-empty and
 * not "0"), e.g. `FORCE_COLOR=1 ./model_demo | less -R`; otherwise only on
 * a terminal. NA_COLOR_ALWAYS / NA_COLOR_NEVER override all of that.
 *
 *   na_print_tree(model, stdout, NULL);                       // defaults
 *   na_print_options o = {.color = NA_COLOR_NEVER, .max_depth = 2};
 *   char *s = NULL;
 *   na_print_tree_str(model, &o, &s);  ...  free(s);
 */
#ifndef NAMEDARR_PRINT_H
#define NAMEDARR_PRINT_H

#include <stdio.h>

#include "namedarr/layer.h"
#include "namedarr/tree.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default) /* the na_ API; the rest is hidden */

typedef enum na_color_mode {
    NA_COLOR_AUTO = 0,  /* NO_COLOR, FORCE_COLOR, else iff a terminal        */
    NA_COLOR_NEVER,
    NA_COLOR_ALWAYS
} na_color_mode;

typedef struct na_print_options {
    na_color_mode color;
    /* Levels shown: 0 = all; 1 = the root line only; 2 = the root and its
     * children; ... A layer at the last level prints its own fields and
     * parameters and folds its children into one line:
     * "... 12 layers, 3.4K params folded". */
    int max_depth;
    bool hide_params;   /* omit the Param(...) lines (counts stay)          */
    bool hide_total;    /* omit the final "# total: ..." line               */
} na_print_options;

/* Print the tree at `root` to `f` (`opt` NULL: defaults). */
na_status na_print_tree(const na_layer *root, FILE *f, const na_print_options *opt);
/* The same text as a malloc'ed string (*out; free() it). A string is not
 * a terminal: NA_COLOR_AUTO colours it only when FORCE_COLOR says so. */
na_status na_print_tree_str(const na_layer *root, const na_print_options *opt,
                            char **out);
/* "2,048" or, with `short_form`, "2.0K" / "3.4M" / "1.2B". Returns buf. */
const char *na_format_count(int64_t n, bool short_form, char *buf, size_t cap);

/* ---- the HTML view ------------------------------------------------------
 *
 * One self-contained HTML file (inline CSS and SVG; no script, font or
 * network access) with the same tree as the text printer. Every layer with
 * a body is a <details> element, so the tree folds and unfolds in any
 * browser, scripts off included. Each parameter shows its dtype, named
 * shape, size, statistics (mean, std, min, max over all its elements) and
 * a heatmap: 1-D arrays as one strip, 2-D arrays directly, higher ranks as
 * a grid of 2-D slices over two chosen axes (rows, cols), one slice per
 * index of the other axes ("heads=2"), all slices of one array on one
 * colour scale with a legend (diverging around 0 when the values have both
 * signs, else sequential). Hovering a cell shows its indices and value.
 * Slices larger than max_side cells a side are shrunk to block means, and
 * the page says so; a cell costs about 100 bytes, so the page has a budget
 * of cells (max_page_cells) after which arrays get statistics only. Extra arrays (captured attention weights, say) are
 * drawn above the tree. All text from layers and users is escaped.
 *
 * Pictures are inline SVG, one <rect> per cell, rather than a <canvas>: a
 * canvas paints only from a script, while SVG shows with scripts off, in
 * file previews and in print, keeps a per-cell tooltip (<title>) without
 * code, and stays sharp when zoomed. The cost, about 100 bytes a cell, is
 * why slices are shrunk and the page has a cell budget.
 *
 *   na_capture *cap = NULL;                  // see namedarr/tree.h
 *   na_capture_new(&cap);
 *   na_capture_add(cap, na_tree_get(model, "query_key_to_attn"), "attention weights");
 *   na_call_capturing(model, x, side, cap, &y);
 *   na_html_options o = {.title = "my model", .capture = cap};
 *   na_layer_save_html(model, &o, "model.html");
 */

/* An extra array for the page. `rows` / `cols` name the axes drawn down and
 * across (both NULL: the two largest dimensions, ties going to the later
 * ones, in dim order; a 1-D array is one row; one NULL: the last other
 * dimension). Every other axis gets one slice per index. Parameters always
 * use the default.
 *
 * `row_labels` / `col_labels` (optional) name the indices of the drawn
 * axes, e.g. the prompt's tokens on {seq, kv_seq} attention weights: a
 * NULL-terminated list with exactly one string (UTF-8) per index. They are
 * written beside each row and above each column (the first 10 characters)
 * and in full in each cell's tooltip, escaped; a slice shrunk to block means
 * shows indices instead. A count that differs from the axis size is an
 * error, reported before anything is written. */
typedef struct na_html_array {
    const char *label;       /* heading (NULL: "array <i>")                 */
    const na_array *value;   /* borrowed                                     */
    const char *rows, *cols;
    const char *const *row_labels; /* NULL: indices only                     */
    const char *const *col_labels;
} na_html_array;

typedef struct na_html_options {
    const char *title;       /* page title (NULL: the root's type)           */
    int max_depth;           /* levels shown, as na_print_options (0: all)   */
    int open_depth;          /* layers above this depth start unfolded
                                (0: all of them)                             */
    bool open_params;        /* parameters start unfolded too                */
    bool hide_heatmaps;      /* statistics only                              */
    int max_side;            /* cells per heatmap side before block means
                                (0: 48; else 2..1024)                        */
    int max_slices;          /* heatmaps per array at most (0: 16; <= 4096)  */
    int64_t max_page_cells;  /* heatmap cells in the whole page (0: 250,000,
                                about 25 MB); arrays past it get statistics
                                only, with a note                            */
    int n_arrays;            /* extra arrays, drawn before the tree          */
    const na_html_array *arrays;
    const na_capture *capture; /* also every array it recorded (NULL: none);
                                  tuple values are shown item by item        */
} na_html_options;

/* Write the page for the tree at `root` to `f` (`opt` NULL: defaults).
 * `root` may be NULL when the options bring arrays: a page of arrays. Bad
 * options fail before anything is written. */
na_status na_layer_write_html(const na_layer *root, const na_html_options *opt,
                              FILE *f);
/* The same into the file at `path` (created or truncated). */
na_status na_layer_save_html(const na_layer *root, const na_html_options *opt,
                             const char *path);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
