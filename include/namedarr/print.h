/* namedarr/print.h — the text pretty-printer for layer trees (DESIGN §6).
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
 * just its index or its NamedGroup name. Colour (ANSI) is used on a
 * terminal unless NO_COLOR is set; options can force it either way.
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

#ifdef __cplusplus
extern "C" {
#endif

typedef enum na_color_mode {
    NA_COLOR_AUTO = 0,  /* colour iff the stream is a tty and NO_COLOR unset */
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
/* The same text as a malloc'ed string (*out; free() it). NA_COLOR_AUTO
 * means no colour here. */
na_status na_print_tree_str(const na_layer *root, const na_print_options *opt,
                            char **out);
/* "2,048" or, with `short_form`, "2.0K" / "3.4M" / "1.2B". Returns buf. */
const char *na_format_count(int64_t n, bool short_form, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
