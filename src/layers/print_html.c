/* The HTML view of a layer tree: one self-contained page (inline CSS and
 * SVG, no script), the tree as nested <details> elements, parameters with
 * statistics and heatmaps (print_heatmap.c), extra arrays on top. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "layers/html_internal.h"
#include "layers/layers_internal.h"
#include "layers/print_internal.h"
#include "namedarr/print.h"
#include "namedarr/tree.h"

#define OP "na_layer_write_html"

typedef struct page {
    FILE *f;
    na_html_options o;        /* with the defaults filled in                */
    na__heatmap_opts hm;
    na_param_list all;        /* distinct parameters and their use counts   */
    int *anchor;              /* per entry of `all`: 0, or its element id   */
    int uid;                  /* the page's running id                      */
} page;

static const char CSS[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;"
    "color:#1d1d1f;background:#fff}\n"
    "h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:22px 0 8px;"
    "border-bottom:1px solid #ddd}h3{font-size:14px;margin:14px 0 4px}\n"
    ".mono,.tree,.shape{font-family:ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,"
    "monospace;font-size:13px}\n"
    ".summary,.note{color:#666}.note{margin:4px 0;font-size:12px}\n"
    ".tree details>.body{margin-left:10px;padding-left:12px;border-left:1px dotted #bbb}\n"
    ".tree summary{cursor:pointer;padding:1px 0}.tree .leaf,.tree .fold{padding:1px 0 1px 16px}\n"
    ".type{color:#1f4fb3;font-weight:600}.name{color:#555}.v-str{color:#17803d}"
    ".v-num{color:#9a6700}.v-array,.shape{color:#0b7285}\n"
    ".count{color:#888;margin-left:.8em}.shared{color:#a21caf;font-weight:600;"
    "margin-left:.5em}.label{color:#17803d}.kind{color:#6b21a8}\n"
    ".fold{color:#888;font-style:italic}\n"
    "details.param>div,.array{margin:4px 0 10px 16px}\n"
    "table.stats{border-collapse:collapse;font-size:12px;margin:4px 0}"
    "table.stats th{font-weight:500;color:#666;padding:1px 4px 1px 10px;text-align:right}"
    "table.stats td{font-family:ui-monospace,monospace;padding:1px 4px}\n"
    ".legend{display:block;margin:2px 0 4px}"
    ".grid{display:flex;flex-wrap:wrap;gap:10px}\n"
    "figure.slice{margin:0}figcaption{font-size:12px;color:#444;"
    "font-family:ui-monospace,monospace}\n"
    "svg text{font:11px ui-monospace,monospace;fill:#444}svg text.axis{fill:#222}"
    "svg text.tick{font-size:10px}\n"
    "svg.heatmap rect:hover{stroke:#000;stroke-width:.08}\n"
    "footer{margin-top:28px;color:#999;font-size:12px}\n";

/* ---- checking the options ---------------------------------------------- */

/* Index labels: one per index of the drawn axis `dim` (-1: none). */
static na_status check_labels(int i, const na_html_array *a, const char *label,
                              const char *which, const char *const *names, int dim)
{
    if (!names)
        return NA_OK;
    int64_t n = 0;
    while (names[n])
        n++;
    if (dim < 0)
        return na__fail(NA_ERR_ARGUMENT, OP ": arrays[%d] ('%s'): %lld %s, but no axis "
                        "of %s is drawn that way", i, label, (long long)n, which,
                        na__shape(a->value));
    if (n == a->value->shape[dim])
        return NA_OK;
    char axis[32];
    const char *name = a->value->name[dim];
    if (!name)
        snprintf(axis, sizeof axis, "#%d", dim);
    return na__fail(NA_ERR_ARGUMENT, OP ": arrays[%d] ('%s'): %lld %s for axis '%s' of "
                    "size %lld in %s", i, label, (long long)n, which, name ? name : axis,
                    (long long)a->value->shape[dim], na__shape(a->value));
}

static na_status check_options(const na_layer *root, const na_html_options *o, FILE *f)
{
    if (!f)
        return na__fail(NA_ERR_ARGUMENT, OP ": the stream is NULL");
    if (o->max_depth < 0 || o->open_depth < 0)
        return na__fail(NA_ERR_ARGUMENT, OP ": max_depth %d and open_depth %d must not "
                        "be negative (0: every level)", o->max_depth, o->open_depth);
    if (o->max_side != 0 && (o->max_side < 2 || o->max_side > 1024))
        return na__fail(NA_ERR_ARGUMENT, OP ": max_side %d is out of range (0 for the "
                        "default, else 2..1024)", o->max_side);
    if (o->max_page_cells < 0)
        return na__fail(NA_ERR_ARGUMENT, OP ": max_page_cells %lld is negative (0 for "
                        "the default)", (long long)o->max_page_cells);
    if (o->max_slices < 0 || o->max_slices > 4096)
        return na__fail(NA_ERR_ARGUMENT, OP ": max_slices %d is out of range (0 for the "
                        "default, else 1..4096)", o->max_slices);
    if (o->n_arrays < 0 || (o->n_arrays > 0 && !o->arrays))
        return na__fail(NA_ERR_ARGUMENT, OP ": n_arrays is %d but arrays is %s",
                        o->n_arrays, o->arrays ? "set" : "NULL");
    for (int i = 0; i < o->n_arrays; i++) {
        const na_html_array *a = &o->arrays[i];
        char label[32];
        snprintf(label, sizeof label, "array %d", i);
        if (!a->value)
            return na__fail(NA_ERR_ARGUMENT, OP ": arrays[%d] ('%s') has no value", i,
                            a->label ? a->label : label);
        int r, c;
        if (na__heatmap_axes(OP, a->label ? a->label : label, a->value, a->rows, a->cols,
                             &r, &c) != NA_OK ||
            check_labels(i, a, a->label ? a->label : label, "row_labels", a->row_labels,
                         r) != NA_OK ||
            check_labels(i, a, a->label ? a->label : label, "col_labels", a->col_labels,
                         c) != NA_OK)
            return na_last_status();
    }
    if (!root && o->n_arrays == 0 && (!o->capture || na_capture_count(o->capture) == 0))
        return na__fail(NA_ERR_ARGUMENT, OP ": nothing to show: no layer tree, no "
                        "arrays and no captured values");
    return NA_OK;
}

/* ---- arrays ------------------------------------------------------------- */

static void put_shape(page *p, const na_array *x)
{
    char shape[512];
    na_shape_str(x, shape, sizeof shape);
    fputs("<span class=\"shape\">", p->f);
    na__html_text(p->f, shape);
    fputs("</span>", p->f);
}

static na_status put_array(page *p, const char *label, const na_array *x,
                           const char *rows, const char *cols,
                           const na__heatmap_labels *names)
{
    int r, c;
    if (na__heatmap_axes(OP, label, x, rows, cols, &r, &c) != NA_OK)
        return na_last_status();
    char n[32];
    fputs("<section class=\"array\"><h3>", p->f);
    na__html_text(p->f, label);
    fputs("</h3><div>", p->f);
    put_shape(p, x);
    fprintf(p->f, " <span class=\"count\">%s elements</span></div>\n",
            na_format_count(na_size(x), false, n, sizeof n));
    na_status st = na__html_array(p->f, x, r, c, names, &p->hm, &p->uid);
    fputs("</section>\n", p->f);
    return st;
}

/* A captured value: an array, or a tuple shown item by item ("name[1]"). */
static na_status put_value(page *p, const char *label, const na_value *v)
{
    if (v->kind == NA_VALUE_ARRAY)
        return put_array(p, label, v->array, NULL, NULL, NULL);
    for (int i = 0; i < v->count; i++) {
        size_t len = strlen(label) + 16;
        char *sub = malloc(len);
        if (!sub)
            return na__fail(NA_ERR_NO_MEMORY, OP ": out of memory");
        snprintf(sub, len, "%s[%d]", label, i);
        na_status st = put_value(p, sub, v->items[i]);
        free(sub);
        if (st != NA_OK)
            return st;
    }
    return NA_OK;
}

static na_status put_arrays(page *p)
{
    int ncap = p->o.capture ? na_capture_count(p->o.capture) : 0;
    if (p->o.n_arrays == 0 && ncap == 0)
        return NA_OK;
    fputs("<section class=\"arrays\"><h2>Arrays</h2>\n", p->f);
    na_status st = NA_OK;
    for (int i = 0; i < p->o.n_arrays && st == NA_OK; i++) {
        const na_html_array *a = &p->o.arrays[i];
        char label[32];
        snprintf(label, sizeof label, "array %d", i);
        na__heatmap_labels names = {a->row_labels, a->col_labels};
        st = put_array(p, a->label ? a->label : label, a->value, a->rows, a->cols, &names);
    }
    for (int i = 0; i < ncap && st == NA_OK; i++) {
        const na_value *v = na_capture_value(p->o.capture, i);
        const char *name = na_capture_name(p->o.capture, i);
        if (v)
            st = put_value(p, name ? name : "captured", v);
    }
    fputs("</section>\n", p->f);
    return st;
}

/* ---- the tree ----------------------------------------------------------- */

static const char *field_class(na__field_kind k)
{
    switch (k) {
    case NA__FIELD_STR: return "v-str";
    case NA__FIELD_INT:
    case NA__FIELD_FLOAT:
    case NA__FIELD_BOOL: return "v-num";
    case NA__FIELD_ARRAY: return "v-array";
    case NA__FIELD_NAMES: break;
    }
    return "v-names";
}

static void put_counts(page *p, na__tree_counts c)
{
    char a[32], b[32];
    if (c.params == 0 && c.state == 0)
        return;
    fprintf(p->f, "<span class=\"count\"># %s param%s",
            na_format_count(c.params, false, a, sizeof a), c.params == 1 ? "" : "s");
    if (c.state)
        fprintf(p->f, ", %s state", na_format_count(c.state, false, b, sizeof b));
    fputs("</span>", p->f);
}

/* prefix=Type(key=value, ...)  # counts */
static void put_head(page *p, const na_layer *l, const char *prefix)
{
    if (prefix) {
        fputs("<span class=\"name\">", p->f);
        na__html_text(p->f, prefix);
        fputs("</span>=", p->f);
    }
    fputs("<span class=\"type\">", p->f);
    na__html_text(p->f, na_layer_type_name(l));
    fputs("</span>(", p->f);
    na_fields f;
    na__fields_describe(l, &f);
    for (int i = 0; i < f.count; i++) {
        fputs(i ? ", " : "", p->f);
        na__html_text(p->f, f.items[i].key);
        fprintf(p->f, "=<span class=\"%s\">", field_class(f.items[i].kind));
        na__html_text(p->f, f.items[i].text);
        fputs("</span>", p->f);
    }
    if (f.oom)
        fputs("<span class=\"note\"> fields lost: out of memory</span>", p->f);
    na__fields_clear(&f);
    fputs(")", p->f);
    put_counts(p, na__count_subtree(l, true));
}

static int param_entry(const page *p, const na_param *param)
{
    for (int i = 0; i < p->all.count; i++)
        if (p->all.items[i].param == param)
            return i;
    return -1;
}

static void put_param_head(page *p, const na_param *param, bool shared)
{
    char n[32];
    fprintf(p->f, "<span class=\"kind\">%s</span>(<span class=\"label\">&quot;",
            param->kind == NA_STATE ? "State" : "Param");
    na__html_text(p->f, param->label ? param->label : "");
    fputs("&quot;</span>, ", p->f);
    if (param->value)
        put_shape(p, param->value);
    else
        fputs("<span class=\"shape\">None</span>", p->f);
    fprintf(p->f, ")<span class=\"count\"># %s</span>",
            na_format_count(param->value ? na_size(param->value) : 0, false, n, sizeof n));
    if (shared)
        fputs("<span class=\"shared\">shared</span>", p->f);
}

static na_status put_param(page *p, const na_param *param)
{
    int e = param_entry(p, param);
    bool shared = e >= 0 && p->all.items[e].uses > 1;
    if (!param->value || (e >= 0 && p->anchor[e])) {
        fputs("<div class=\"leaf param\">", p->f);
        put_param_head(p, param, shared);
        if (param->value)
            fprintf(p->f, " <a href=\"#na-p%d\">drawn above</a>", p->anchor[e]);
        fputs("</div>\n", p->f);
        return NA_OK;
    }
    int id = ++p->uid;
    if (e >= 0)
        p->anchor[e] = id;
    fprintf(p->f, "<details class=\"param\" id=\"na-p%d\"%s><summary>", id,
            p->o.open_params ? " open" : "");
    put_param_head(p, param, shared);
    fputs("</summary><div>\n", p->f);
    int r, c;
    na_status st = na__heatmap_axes(OP, param->label, param->value, NULL, NULL, &r, &c);
    if (st == NA_OK)
        st = na__html_array(p->f, param->value, r, c, NULL, &p->hm, &p->uid);
    fputs("</div></details>\n", p->f);
    return st;
}

static void put_fold(page *p, const na_layer *l)
{
    na__tree_counts c = na__count_subtree(l, false);
    char a[32];
    fprintf(p->f, "<div class=\"fold\">&#8230; %lld layer%s", (long long)c.layers,
            c.layers == 1 ? "" : "s");
    if (c.params)
        fprintf(p->f, ", %s params", na_format_count(c.params, true, a, sizeof a));
    fputs(" folded</div>\n", p->f);
}

static na_status put_node(page *p, const na_layer *l, const char *prefix, int depth)
{
    int nc = na_layer_child_count(l), np = na_layer_param_count(l);
    if (nc == 0 && np == 0) {
        fputs("<div class=\"leaf layer\">", p->f);
        put_head(p, l, prefix);
        fputs("</div>\n", p->f);
        return NA_OK;
    }
    bool open = p->o.open_depth == 0 || depth < p->o.open_depth;
    fprintf(p->f, "<details class=\"layer\"%s><summary>", open ? " open" : "");
    put_head(p, l, prefix);
    fputs("</summary><div class=\"body\">\n", p->f);
    na_status st = NA_OK;
    for (int i = 0; i < np && st == NA_OK; i++)
        if (na_layer_param(l, i))
            st = put_param(p, na_layer_param(l, i));
    if (nc > 0 && p->o.max_depth > 0 && depth + 1 >= p->o.max_depth) {
        put_fold(p, l);
        nc = 0;
    }
    for (int i = 0; i < nc && st == NA_OK; i++) {
        const na_layer *c = na_layer_child(l, i);
        if (c)
            st = put_node(p, c, na__child_prefix(l, i, c), depth + 1);
    }
    fputs("</div></details>\n", p->f);
    return st;
}

static void put_total(page *p, const na_layer *root)
{
    na__tree_counts c = na__count_subtree(root, true);
    na_param_stats st;
    if (na_tree_param_stats(root, &st) != NA_OK)
        memset(&st, 0, sizeof st);
    char a[32], b[32];
    fprintf(p->f, "%lld layer%s, %s param%s", (long long)c.layers,
            c.layers == 1 ? "" : "s", na_format_count(c.params, false, a, sizeof a),
            c.params == 1 ? "" : "s");
    if (st.shared)
        fprintf(p->f, " (%d shared, counted once)", st.shared);
    if (c.state)
        fprintf(p->f, ", %s state", na_format_count(c.state, false, b, sizeof b));
}

/* ---- the page ------------------------------------------------------------ */

static na_status put_page(page *p, const na_layer *root)
{
    const char *title = p->o.title ? p->o.title
                        : root ? na_layer_type_name(root) : "namedarr arrays";
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<meta name=\"generator\" content=\"namedarr\">\n<title>", p->f);
    na__html_text(p->f, title);
    fprintf(p->f, "</title>\n<style>\n%s</style></head>\n<body>\n<h1>", CSS);
    na__html_text(p->f, title);
    fputs("</h1>\n", p->f);
    if (root) {
        fputs("<p class=\"summary\">", p->f);
        put_total(p, root);
        fputs("</p>\n", p->f);
    }
    na_status st = put_arrays(p);
    if (st == NA_OK && root) {
        fputs("<section class=\"tree\"><h2>Layer tree</h2>\n", p->f);
        st = put_node(p, root, NULL, 0);
        fputs("<p class=\"total\"># total: ", p->f);
        put_total(p, root);
        fputs("</p></section>\n", p->f);
    }
    fputs("<footer>namedarr HTML view: click a line to fold or unfold it; hover a "
          "heatmap cell for its indices and value. Colours: blue &#8211; white "
          "&#8211; red around 0 when an array has both signs, else dark to yellow "
          "from its minimum to its maximum.</footer>\n</body></html>\n", p->f);
    return st;
}

na_status na_layer_write_html(const na_layer *root, const na_html_options *opt, FILE *f)
{
    page p = {.f = f, .o = opt ? *opt : (na_html_options){0}};
    na_status st = check_options(root, &p.o, f);
    if (st != NA_OK)
        return st;
    p.hm = (na__heatmap_opts){.max_side = p.o.max_side ? p.o.max_side : 48,
                              .max_slices = p.o.max_slices ? p.o.max_slices : 16,
                              .heatmaps = !p.o.hide_heatmaps,
                              .max_cells = p.o.max_page_cells ? p.o.max_page_cells
                                                              : 250000};
    p.hm.cells_left = p.hm.max_cells;
    if (root) {
        if ((st = na_tree_params(root, &p.all)) != NA_OK)
            return st;
        p.anchor = calloc((size_t)(p.all.count ? p.all.count : 1), sizeof *p.anchor);
        if (!p.anchor) {
            na_param_list_clear(&p.all);
            return na__fail(NA_ERR_NO_MEMORY, OP ": out of memory");
        }
    }
    st = put_page(&p, root);
    free(p.anchor);
    na_param_list_clear(&p.all);
    if (st == NA_OK && (fflush(f) != 0 || ferror(f)))
        st = na__fail(NA_ERR_IO, OP ": write error: %s", strerror(errno));
    return st;
}

na_status na_layer_save_html(const na_layer *root, const na_html_options *opt,
                             const char *path)
{
    if (!path)
        return na__fail(NA_ERR_ARGUMENT, "na_layer_save_html: path is NULL");
    /* Check first so that bad options leave no file behind. */
    na_html_options o = opt ? *opt : (na_html_options){0};
    na_status st = check_options(root, &o, stdout);
    if (st != NA_OK)
        return na__fail_in("na_layer_save_html", st);
    FILE *f = fopen(path, "w");
    if (!f)
        return na__fail(NA_ERR_IO, "na_layer_save_html: cannot open '%s': %s", path,
                        strerror(errno));
    st = na_layer_write_html(root, opt, f);
    if (fclose(f) != 0 && st == NA_OK)
        st = na__fail(NA_ERR_IO, "na_layer_save_html: cannot write '%s': %s", path,
                      strerror(errno));
    return st;
}
