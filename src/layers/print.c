/* The text pretty-printer for layer trees. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layers/layers_internal.h"
#include "namedarr/combinators.h"
#include "namedarr/print.h"
#include "namedarr/tree.h"
#include "layers/print_internal.h"

#define C_TYPE "\x1b[1;34m"
#define C_STR "\x1b[32m"
#define C_NUM "\x1b[33m"
#define C_SHAPE "\x1b[36m"
#define C_NOTE "\x1b[90m"
#define C_SHARED "\x1b[1;35m"
#define C_RESET "\x1b[0m"

typedef struct printer {
    FILE *f;
    bool color;
    int max_depth;
    bool hide_params;
    na_param_list all;   /* every distinct parameter, with its use count   */
    bool oom;            /* something could not be described: fail at end */
} printer;

/* ---- counting ---------------------------------------------------------- */

typedef struct pset {
    int n, cap;
    const na_param **items;
    bool oom;
} pset;

static void pset_add(pset *s, const na_param *p)
{
    for (int i = 0; i < s->n; i++)
        if (s->items[i] == p)
            return;
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 16;
        const na_param **items = realloc(s->items, (size_t)cap * sizeof *items);
        if (!items) {
            s->oom = true;
            return;
        }
        s->items = items;
        s->cap = cap;
    }
    s->items[s->n++] = p;
}

static void own_params(const na_layer *l, pset *s)
{
    int n = na_layer_param_count(l);
    for (int i = 0; i < n; i++)
        if (na_layer_param(l, i))
            pset_add(s, na_layer_param(l, i));
}

/* Add the params of l's subtree (l itself if `self`); count the layers. */
static void collect(const na_layer *l, bool self, pset *s, int64_t *layers)
{
    if (self) {
        own_params(l, s);
        ++*layers;
    }
    int n = na_layer_child_count(l);
    for (int i = 0; i < n; i++) {
        const na_layer *c = na_layer_child(l, i);
        if (c)
            collect(c, true, s, layers);
    }
}

typedef na__tree_counts counts;

na__tree_counts na__count_subtree(const na_layer *l, bool self)
{
    pset s = {0};
    counts c = {0};
    collect(l, self, &s, &c.layers);
    for (int i = 0; i < s.n; i++) {
        int64_t n = s.items[i]->value ? na_size(s.items[i]->value) : 0;
        *(s.items[i]->kind == NA_STATE ? &c.state : &c.params) += n;
    }
    free(s.items);
    c.oom = s.oom;
    return c;
}

const char *na_format_count(int64_t n, bool short_form, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return buf;
    if (short_form && (n >= 1000 || n <= -1000)) {
        static const char suffix[] = "KMBT";
        double v = (double)n;
        int k = -1;
        while ((v >= 999.95 || v <= -999.95) && k < 3) {
            v /= 1000.0;
            k++;
        }
        snprintf(buf, cap, "%.1f%c", v, suffix[k]);
        return buf;
    }
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%lld", (long long)(n < 0 ? -n : n));
    size_t o = 0;
    if (n < 0 && o + 1 < cap)
        buf[o++] = '-';
    for (int i = 0; i < len && o + 1 < cap; i++) {
        buf[o++] = digits[i];
        if ((len - i - 1) % 3 == 0 && i < len - 1 && o + 1 < cap)
            buf[o++] = ',';
    }
    buf[o] = '\0';
    return buf;
}

/* ---- output helpers ---------------------------------------------------- */

/* na__count_subtree, remembering an out-of-memory for the final status. */
static counts subtree(printer *p, const na_layer *l, bool self)
{
    counts c = na__count_subtree(l, self);
    p->oom |= c.oom;
    return c;
}

static void put(printer *p, const char *color, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void put(printer *p, const char *color, const char *fmt, ...)
{
    if (p->color && color)
        fputs(color, p->f);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(p->f, fmt, ap);
    va_end(ap);
    if (p->color && color)
        fputs(C_RESET, p->f);
}

static void indent(printer *p, int depth)
{
    for (int i = 0; i < depth; i++)
        fputs("  ", p->f);
}

/* "  # 2,080 params, 16 state" (nothing when both are zero). */
static void put_counts(printer *p, counts c)
{
    char a[32], b[32];
    if (c.params == 0 && c.state == 0)
        return;
    fputs("  ", p->f);
    if (c.state == 0)
        put(p, C_NOTE, "# %s param%s", na_format_count(c.params, false, a, sizeof a),
            c.params == 1 ? "" : "s");
    else
        put(p, C_NOTE, "# %s param%s, %s state",
            na_format_count(c.params, false, a, sizeof a), c.params == 1 ? "" : "s",
            na_format_count(c.state, false, b, sizeof b));
}

static const char *field_color(na__field_kind k)
{
    switch (k) {
    case NA__FIELD_STR: return C_STR;
    case NA__FIELD_INT:
    case NA__FIELD_FLOAT:
    case NA__FIELD_BOOL: return C_NUM;
    case NA__FIELD_ARRAY: return C_SHAPE;
    case NA__FIELD_NAMES: break;
    }
    return NULL;
}

/* The fields, and a "," after them when a body follows. */
static void put_fields(printer *p, const na_layer *l, bool body)
{
    na_fields f;
    na__fields_describe(l, &f);
    for (int i = 0; i < f.count; i++) {
        fprintf(p->f, "%s%s=", i ? ", " : "", f.items[i].key);
        put(p, field_color(f.items[i].kind), "%s", f.items[i].text);
    }
    if (f.oom)
        put(p, C_NOTE, "%s<fields lost: out of memory>", f.count ? ", " : "");
    p->oom |= f.oom;
    bool any = f.count > 0 || f.oom;
    na__fields_clear(&f);
    if (any && body)
        fputc(',', p->f);
}

static bool is_shared(const printer *p, const na_param *param)
{
    for (int i = 0; i < p->all.count; i++)
        if (p->all.items[i].param == param)
            return p->all.items[i].uses > 1;
    return false;
}

static void put_param(printer *p, const na_param *param, int depth)
{
    char shape[512], n[32];
    if (param->value)
        na_shape_str(param->value, shape, sizeof shape);
    else
        snprintf(shape, sizeof shape, "None");
    indent(p, depth);
    fprintf(p->f, "%s(", param->kind == NA_STATE ? "State" : "Param");
    put(p, C_STR, "\"%s\"", param->label ? param->label : "");
    fputs(", ", p->f);
    put(p, C_SHAPE, "%s", shape);
    fputs("),  ", p->f);
    put(p, C_NOTE, "# %s", na_format_count(param->value ? na_size(param->value) : 0,
                                           false, n, sizeof n));
    if (is_shared(p, param))
        put(p, C_SHARED, " (shared)");
    fputc('\n', p->f);
}

/* ---- the tree ---------------------------------------------------------- */

static bool numeric(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

const char *na__child_prefix(const na_layer *parent, int i, const na_layer *child)
{
    const char *name = na_layer_child_name(parent, i);
    if (!name || numeric(name))
        return NULL;
    const char *g = na_named_group_name(child);
    return g && strcmp(g, name) == 0 ? NULL : name;
}

static void put_fold(printer *p, const na_layer *l, int depth)
{
    counts c = subtree(p, l, false);
    char a[32];
    indent(p, depth);
    if (c.params)
        put(p, C_NOTE, "... %lld layer%s, %s params folded", (long long)c.layers,
            c.layers == 1 ? "" : "s", na_format_count(c.params, true, a, sizeof a));
    else
        put(p, C_NOTE, "... %lld layer%s folded", (long long)c.layers,
            c.layers == 1 ? "" : "s");
    fputc('\n', p->f);
}

static void print_node(printer *p, const na_layer *l, const char *prefix, int depth,
                       bool comma);

static void print_body(printer *p, const na_layer *l, int depth)
{
    int np = p->hide_params ? 0 : na_layer_param_count(l);
    for (int i = 0; i < np; i++)
        if (na_layer_param(l, i))
            put_param(p, na_layer_param(l, i), depth + 1);
    int nc = na_layer_child_count(l);
    if (nc > 0 && p->max_depth > 0 && depth + 1 >= p->max_depth) {
        put_fold(p, l, depth + 1);
        return;
    }
    for (int i = 0; i < nc; i++) {
        const na_layer *c = na_layer_child(l, i);
        if (c)
            print_node(p, c, na__child_prefix(l, i, c), depth + 1, true);
    }
}

static void print_node(printer *p, const na_layer *l, const char *prefix, int depth,
                       bool comma)
{
    bool body = na_layer_child_count(l) > 0 ||
                (!p->hide_params && na_layer_param_count(l) > 0);
    indent(p, depth);
    if (prefix)
        fprintf(p->f, "%s=", prefix);
    put(p, C_TYPE, "%s", na_layer_type_name(l));
    fputc('(', p->f);
    put_fields(p, l, body);
    if (!body) {
        fprintf(p->f, ")%s", comma ? "," : "");
        put_counts(p, subtree(p, l, true));
        fputc('\n', p->f);
        return;
    }
    put_counts(p, subtree(p, l, true));
    fputc('\n', p->f);
    print_body(p, l, depth);
    indent(p, depth);
    fprintf(p->f, ")%s\n", comma ? "," : "");
}

static void put_total(printer *p, const na_layer *root)
{
    counts c = subtree(p, root, true);
    na_param_stats st;
    if (na_tree_param_stats(root, &st) != NA_OK)
        memset(&st, 0, sizeof st);
    char a[32], b[32];
    put(p, C_NOTE, "# total: %lld layer%s, %s param%s", (long long)c.layers,
        c.layers == 1 ? "" : "s", na_format_count(c.params, false, a, sizeof a),
        c.params == 1 ? "" : "s");
    if (st.shared)
        put(p, C_NOTE, " (%d shared)", st.shared);
    if (c.state)
        put(p, C_NOTE, ", %s state", na_format_count(c.state, false, b, sizeof b));
    fputc('\n', p->f);
}

static bool env_set(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

bool na__auto_color(bool tty)
{
    const char *no = getenv("NO_COLOR");
    if (no && *no)
        return false;
    return env_set("FORCE_COLOR") || env_set("CLICOLOR_FORCE") || tty;
}

static na_status print_to(const na_layer *root, FILE *f, const na_print_options *opt,
                          bool auto_color)
{
    na_print_options o = opt ? *opt : (na_print_options){0};
    if (o.max_depth < 0)
        return na__fail(NA_ERR_ARGUMENT, "na_print_tree: max_depth %d is negative "
                        "(0 shows every level)", o.max_depth);
    if (o.color != NA_COLOR_AUTO && o.color != NA_COLOR_NEVER && o.color != NA_COLOR_ALWAYS)
        return na__fail(NA_ERR_ARGUMENT, "na_print_tree: unknown colour mode %d",
                        (int)o.color);
    printer p = {.f = f, .max_depth = o.max_depth, .hide_params = o.hide_params};
    p.color = o.color == NA_COLOR_ALWAYS || (o.color == NA_COLOR_AUTO && auto_color);
    na_status st = na_tree_params(root, &p.all);
    if (st != NA_OK)
        return st;
    print_node(&p, root, NULL, 0, false);
    if (!o.hide_total)
        put_total(&p, root);
    na_param_list_clear(&p.all);
    if (p.oom)
        return na__fail(NA_ERR_NO_MEMORY, "na_print_tree: out of memory while "
                        "describing the tree (output incomplete)");
    if (ferror(f))
        return na__fail(NA_ERR_IO, "na_print_tree: write error");
    return NA_OK;
}

na_status na_print_tree(const na_layer *root, FILE *f, const na_print_options *opt)
{
    if (!root || !f)
        return na__fail(NA_ERR_ARGUMENT, "na_print_tree: root and stream are required");
    return print_to(root, f, opt, na__auto_color(isatty(fileno(f))));
}

na_status na_print_tree_str(const na_layer *root, const na_print_options *opt,
                            char **out)
{
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "na_print_tree_str: out is NULL");
    *out = NULL;
    if (!root)
        return na__fail(NA_ERR_ARGUMENT, "na_print_tree_str: root is NULL");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return na__fail(NA_ERR_NO_MEMORY, "na_print_tree_str: out of memory");
    na_status st = print_to(root, f, opt, na__auto_color(false));
    if (fclose(f) != 0 && st == NA_OK)
        st = na__fail(NA_ERR_NO_MEMORY, "na_print_tree_str: out of memory");
    if (st != NA_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    return NA_OK;
}
