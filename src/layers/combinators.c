/* Combinators: Sequential, NamedGroup, BranchAndAdd/MultiplyTogether (list
 * shaped), Residual, Identity and CheckStructure. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/layers_internal.h"
#include "namedarr/combinators.h"

/* ---- list-shaped combinators ------------------------------------------ */

typedef struct list_layer {
    na_layer base;
    int count;
    na_layer **children;
    char *name;              /* NamedGroup only                            */
} list_layer;

static bool is_list_type(const na_layer_type *t)
{
    return t == &na_sequential_type || t == &na_named_group_type ||
           t == &na_branch_add_type || t == &na_branch_mul_type;
}

static list_layer *as_list(const na_layer *l)
{
    return l && is_list_type(l->type) ? (list_layer *)l : NULL;
}

/* A NamedGroup child's name if no sibling shares it, else the index. */
static const char *list_child_name(const na_layer *self, int i)
{
    const list_layer *l = as_list(self);
    const char *g = na_named_group_name(l->children[i]);
    if (g && *g) {
        bool unique = true;
        for (int j = 0; j < l->count && unique; j++) {
            const char *h = j == i ? NULL : na_named_group_name(l->children[j]);
            unique = !(h && strcmp(h, g) == 0);
        }
        if (unique)
            return g;
    }
    char buf[16];
    snprintf(buf, sizeof buf, "%d", i);
    return na_intern(buf); /* interned: a stable pointer */
}

static na_status sequential_call(na_layer *self, const na_value *in,
                                 const na_side *side, na_value **out)
{
    list_layer *l = as_list(self);
    if (l->count == 0) {
        *out = na_value_clone(in);
        return *out ? NA_OK : na_last_status();
    }
    na_value *cur = NULL;
    for (int i = 0; i < l->count; i++) {
        na_value *y = NULL;
        na_status st = na_layer_call(l->children[i], cur ? cur : in, side, &y);
        na_value_free(cur);
        if (st != NA_OK)
            return st;
        cur = y;
    }
    *out = cur;
    return NA_OK;
}

typedef na_status (*binop_fn)(const na_array *, const na_array *, na_array **);

/* Call every branch on `in` and fold the array outputs with `op`. */
static na_status branch_call(list_layer *l, binop_fn op, const na_value *in,
                             const na_side *side, na_value **out)
{
    const char *who = l->base.type->name;
    na_array *acc = NULL;
    for (int i = 0; i < l->count; i++) {
        na_value *y = NULL;
        na_status st = na_layer_call(l->children[i], in, side, &y);
        if (st != NA_OK) {
            na_array_free(acc);
            return st;
        }
        const na_array *ya = na_value_array(y, who);
        na_array *next = NULL;
        if (!ya)
            st = na_last_status();
        else if (!acc)
            st = na_array_ref(ya, &next);
        else if ((st = op(acc, ya, &next)) != NA_OK)
            na__fail_append(" (%s: combining branch %d)", who, i);
        na_value_free(y);
        na_array_free(acc);
        if (st != NA_OK)
            return st;
        acc = next;
    }
    *out = na_value_from_array(acc);
    return *out ? NA_OK : na_last_status();
}

static na_status branch_add_call(na_layer *self, const na_value *in,
                                 const na_side *side, na_value **out)
{
    return branch_call(as_list(self), na_add, in, side, out);
}

static na_status branch_mul_call(na_layer *self, const na_value *in,
                                 const na_side *side, na_value **out)
{
    return branch_call(as_list(self), na_mul, in, side, out);
}

static const na_field_desc list_fields[] = {
    NA_FIELD_LIST(list_layer, children, count),
};

static const na_field_desc group_fields[] = {
    NA_FIELD(list_layer, name, NA_FIELD_STRING),
    NA_FIELD_LIST(list_layer, children, count),
};

#define LIST_TYPE(var, tname, callfn, table)                                 \
    const na_layer_type var = {                                              \
        .name = tname,                                                       \
        .call = callfn,                                                      \
        .size = sizeof(list_layer),                                          \
        .fields = table,                                                     \
        .field_count = NA_FIELD_COUNT(table),                                \
        .child_name = list_child_name,                                       \
    }

LIST_TYPE(na_sequential_type, "Sequential", sequential_call, list_fields);
LIST_TYPE(na_named_group_type, "NamedGroup", sequential_call, group_fields);
LIST_TYPE(na_branch_add_type, "BranchAndAddTogether", branch_add_call, list_fields);
LIST_TYPE(na_branch_mul_type, "BranchAndMultiplyTogether", branch_mul_call, list_fields);

static void free_children(int n, na_layer *const *children)
{
    for (int i = 0; children && i < n; i++)
        na_layer_free(children[i]);
}

static na_status reserve(list_layer *l, int need)
{
    na_layer **c = realloc(l->children, (size_t)(need > 0 ? need : 1) * sizeof *c);
    if (!c)
        return na__fail(NA_ERR_NO_MEMORY, "%s: out of memory", l->base.type->name);
    l->children = c;
    return NA_OK;
}

static na_status check_children(const char *op, int n, na_layer *const *children,
                                 int min_count)
{
    if (n < min_count || n < 0 || (n > 0 && !children))
        return na__fail(NA_ERR_ARGUMENT, "%s: needs at least %d layer(s), got %d",
                        op, min_count, n);
    for (int i = 0; i < n; i++)
        if (!children[i])
            return na__fail(NA_ERR_ARGUMENT, "%s: child %d is NULL (did its "
                            "constructor fail?)", op, i);
    return NA_OK;
}

static na_status list_new_ex(const na_layer_type *type, const char *op,
                             int min_count, int n, na_layer *const *children,
                             bool consume, na_layer **out)
{
    na_status st = out ? check_children(op, n, children, min_count)
                       : na__fail(NA_ERR_ARGUMENT, "%s: out is NULL", op);
    na_layer *made = NULL;
    if (st == NA_OK)
        st = na_layer_alloc(type, &made);
    list_layer *l = (list_layer *)made;
    if (st == NA_OK)
        st = reserve(l, n);
    if (st != NA_OK) {
        if (consume)
            free_children(n, children);
        na_layer_free(made);
        return st;
    }
    if (n > 0)
        memcpy(l->children, children, (size_t)n * sizeof *children);
    l->count = n;
    *out = &l->base;
    return NA_OK;
}

static na_status list_new(const na_layer_type *type, const char *op, int min_count,
                          int n, na_layer *const *children, na_layer **out)
{
    return list_new_ex(type, op, min_count, n, children, true, out);
}

na_status na__sequential_pair(na_layer *first, na_layer *second, na_layer **out)
{
    return list_new_ex(&na_sequential_type, "na_sequential_new", 2, 2,
                       (na_layer *[]){first, second}, false, out);
}

na_status na_sequential_new(int n, na_layer *const *children, na_layer **out)
{
    return list_new(&na_sequential_type, "na_sequential_new", 0, n, children, out);
}

na_status na_named_group_new(const char *name, int n, na_layer *const *children,
                             na_layer **out)
{
    if (!name || !*name) {
        free_children(n, children);
        return na__fail(NA_ERR_ARGUMENT, "na_named_group_new: a name is required");
    }
    char *copy = na__strdup("na_named_group_new", name);
    if (!copy) {
        free_children(n, children);
        return NA_ERR_NO_MEMORY;
    }
    na_status st = list_new(&na_named_group_type, "na_named_group_new", 0, n,
                            children, out);
    if (st != NA_OK) {
        free(copy);
        return st;
    }
    as_list(*out)->name = copy;
    return NA_OK;
}

const char *na_named_group_name(const na_layer *layer)
{
    return layer && layer->type == &na_named_group_type ? as_list(layer)->name : NULL;
}

na_status na_branch_add_new(int n, na_layer *const *branches, na_layer **out)
{
    return list_new(&na_branch_add_type, "na_branch_add_new", 1, n, branches, out);
}

na_status na_branch_mul_new(int n, na_layer *const *branches, na_layer **out)
{
    return list_new(&na_branch_mul_type, "na_branch_mul_new", 1, n, branches, out);
}

bool na_is_sequential(const na_layer *layer)
{
    return layer && (layer->type == &na_sequential_type ||
                     layer->type == &na_named_group_type);
}

na_status na_sequential_insert(na_layer *seq, int index, na_layer *child)
{
    const char *op = "na_sequential_insert";
    na_status st = NA_OK;
    if (!na_is_sequential(seq))
        st = na__fail(NA_ERR_ARGUMENT, "%s: target is a %s, not a Sequential or "
                      "NamedGroup", op, na_layer_type_name(seq));
    else if (!child)
        st = na__fail(NA_ERR_ARGUMENT, "%s: child is NULL", op);
    else if (index < 0 || index > as_list(seq)->count)
        st = na__fail(NA_ERR_INDEX, "%s: index %d out of range 0..%d", op, index,
                      as_list(seq)->count);
    list_layer *l = as_list(seq);
    if (st == NA_OK)
        st = reserve(l, l->count + 1);
    if (st != NA_OK) {
        na_layer_free(child);
        return st;
    }
    memmove(l->children + index + 1, l->children + index,
            (size_t)(l->count - index) * sizeof *l->children);
    l->children[index] = child;
    l->count++;
    return NA_OK;
}

na_status na_sequential_append(na_layer *seq, na_layer *child)
{
    int n = na_is_sequential(seq) ? as_list(seq)->count : 0;
    na_status st = na_sequential_insert(seq, n, child);
    return st == NA_OK ? st : na__fail_in("na_sequential_append", st);
}

na_status na_sequential_remove(na_layer *seq, int index, na_layer **out)
{
    const char *op = "na_sequential_remove";
    if (out)
        *out = NULL;
    if (!na_is_sequential(seq))
        return na__fail(NA_ERR_ARGUMENT, "%s: target is a %s, not a Sequential or "
                        "NamedGroup", op, na_layer_type_name(seq));
    list_layer *l = as_list(seq);
    if (index < 0 || index >= l->count)
        return na__fail(NA_ERR_INDEX, "%s: index %d out of range (%d children)", op,
                        index, l->count);
    na_layer *child = l->children[index];
    memmove(l->children + index, l->children + index + 1,
            (size_t)(l->count - index - 1) * sizeof *l->children);
    l->count--;
    if (out)
        *out = child;
    else
        na_layer_free(child);
    return NA_OK;
}

/* ---- Residual ---------------------------------------------------------- */

typedef struct residual_layer {
    na_layer base;
    na_layer *delta;
} residual_layer;

static na_status residual_call(na_layer *self, const na_value *in,
                               const na_side *side, na_value **out)
{
    const na_array *x = na_value_array(in, "Residual");
    if (!x)
        return na_last_status();
    na_value *d = NULL;
    na_status st = na_layer_call(((residual_layer *)self)->delta, in, side, &d);
    if (st != NA_OK)
        return st;
    const na_array *da = na_value_array(d, "Residual (output of delta)");
    na_array *y = NULL;
    if (!da)
        st = na_last_status();
    else if ((st = na_add(da, x, &y)) != NA_OK)
        na__fail_append(" (Residual: adding delta %s to input %s)", na__shape(da),
                        na__shape(x));
    na_value_free(d);
    if (st != NA_OK)
        return st;
    *out = na_value_from_array(y);
    return *out ? NA_OK : na_last_status();
}

static const na_field_desc residual_fields[] = {
    NA_FIELD(residual_layer, delta, NA_FIELD_CHILD),
};

const na_layer_type na_residual_type = {
    .name = "Residual",
    .call = residual_call,
    .size = sizeof(residual_layer),
    .fields = residual_fields,
    .field_count = NA_FIELD_COUNT(residual_fields),
};

na_status na_residual_new(na_layer *delta, na_layer **out)
{
    na_status st = NA_OK;
    if (!out)
        st = na__fail(NA_ERR_ARGUMENT, "na_residual_new: out is NULL");
    else if (!delta)
        st = na__fail(NA_ERR_ARGUMENT, "na_residual_new: delta is NULL (did its "
                      "constructor fail?)");
    na_layer *made = NULL;
    if (st == NA_OK)
        st = na_layer_alloc(&na_residual_type, &made);
    if (st != NA_OK) {
        na_layer_free(delta);
        return st;
    }
    residual_layer *r = (residual_layer *)made;
    r->delta = delta;
    *out = &r->base;
    return NA_OK;
}

/* ---- Identity ---------------------------------------------------------- */

static na_status identity_call(na_layer *self, const na_value *in,
                               const na_side *side, na_value **out)
{
    (void)self;
    (void)side;
    *out = na_value_clone(in);
    return *out ? NA_OK : na_last_status();
}

const na_layer_type na_identity_type = {
    .name = "Identity",
    .call = identity_call,
    .size = sizeof(na_layer),
};

na_status na_identity_new(na_layer **out)
{
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "na_identity_new: out is NULL");
    return na_layer_alloc(&na_identity_type, out);
}

/* ---- CheckStructure ---------------------------------------------------- */

#define CS_MAX_ITEMS 8
#define CS_MAX_VARS 32
#define CS_NAME_CAP 64

typedef struct cs_axis {
    const char *name;   /* interned                                          */
    int64_t size;       /* fixed size, when var < 0                          */
    int var;            /* index into vars, or -1                            */
} cs_axis;

typedef struct cs_item {
    int n;
    cs_axis axes[NA_MAX_DIMS];
    bool open;          /* "...": other axes allowed                         */
} cs_item;

typedef struct check_layer {
    na_layer base;
    char *spec;
    int nitems, nvars;
    cs_item items[CS_MAX_ITEMS];
    char vars[CS_MAX_VARS][CS_NAME_CAP];
} check_layer;

#define CS_OP "na_check_structure_new"

static bool word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.';
}

/* Copy the word at p into buf; returns its length (0: none / too long). */
static size_t read_word(const char *p, char *buf)
{
    size_t n = 0;
    while (word_char(p[n]))
        n++;
    if (n == 0 || n >= CS_NAME_CAP)
        return 0;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return n;
}

static int cs_var(check_layer *c, const char *name)
{
    for (int v = 0; v < c->nvars; v++)
        if (strcmp(c->vars[v], name) == 0)
            return v;
    if (c->nvars == CS_MAX_VARS)
        return -1;
    strcpy(c->vars[c->nvars], name);
    return c->nvars++;
}

static na_status cs_parse_size(check_layer *c, const char *word, cs_axis *a)
{
    if (isdigit((unsigned char)word[0])) {
        char *end;
        errno = 0;
        long long v = strtoll(word, &end, 10);
        if (*end || v < 0 || errno == ERANGE || v > NA_MAX_ELEMENTS)
            return na__fail(NA_ERR_ARGUMENT, CS_OP ": bad size '%s' for axis '%s' "
                            "in \"%s\"", word, a->name, c->spec);
        a->size = v;
        a->var = -1;
        return NA_OK;
    }
    if (!isalpha((unsigned char)word[0]) && word[0] != '_')
        return na__fail(NA_ERR_ARGUMENT, CS_OP ": bad size '%s' for axis '%s' in "
                        "\"%s\"", word, a->name, c->spec);
    a->var = cs_var(c, word);
    if (a->var < 0)
        return na__fail(NA_ERR_ARGUMENT, CS_OP ": more than %d variables in \"%s\"",
                        CS_MAX_VARS, c->spec);
    return NA_OK;
}

/* One "name:size" token at *pp into item. */
static na_status cs_parse_axis(check_layer *c, const char **pp, cs_item *item)
{
    char name[CS_NAME_CAP], size[CS_NAME_CAP];
    const char *p = *pp;
    size_t n = read_word(p, name);
    if (n == 0 || p[n] != ':')
        return na__fail(NA_ERR_ARGUMENT, CS_OP ": expected \"name:size\" at \"%s\" "
                        "in \"%s\"", p, c->spec);
    p += n + 1;
    size_t m = read_word(p, size);
    if (m == 0)
        return na__fail(NA_ERR_ARGUMENT, CS_OP ": expected a size or variable after "
                        "'%s:' in \"%s\"", name, c->spec);
    if (item->n == NA_MAX_DIMS)
        return na__fail(NA_ERR_ARGUMENT, CS_OP ": too many axes in \"%s\"", c->spec);
    cs_axis *a = &item->axes[item->n];
    a->name = na_intern(name);
    if (!a->name)
        return na_last_status();
    for (int i = 0; i < item->n; i++)
        if (item->axes[i].name == a->name)
            return na__fail(NA_ERR_AXIS, CS_OP ": axis '%s' listed twice in \"%s\"",
                            name, c->spec);
    na_status st = cs_parse_size(c, size, a);
    if (st != NA_OK)
        return st;
    item->n++;
    *pp = p + m;
    return NA_OK;
}

static na_status cs_parse(check_layer *c)
{
    const char *p = c->spec;
    cs_item *item = &c->items[0];
    c->nitems = 1;
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            return NA_OK;
        if (*p == ',') {
            if (c->nitems == CS_MAX_ITEMS)
                return na__fail(NA_ERR_ARGUMENT, CS_OP ": more than %d items in "
                                "\"%s\"", CS_MAX_ITEMS, c->spec);
            item = &c->items[c->nitems++];
            p++;
            while (isspace((unsigned char)*p))
                p++;
            if (!*p)
                return na__fail(NA_ERR_ARGUMENT, CS_OP ": trailing ',' in \"%s\" "
                                "(an empty last item)", c->spec);
        } else if (strncmp(p, "...", 3) == 0) {
            item->open = true;
            p += 3;
        } else {
            na_status st = cs_parse_axis(c, &p, item);
            if (st != NA_OK)
                return st;
        }
    }
}

typedef struct cs_binding {
    int64_t value[CS_MAX_VARS];
    const char *by[CS_MAX_VARS];   /* axis that bound it; NULL: unbound    */
} cs_binding;

static na_status cs_fail(const check_layer *c, const na_array *x, na_status st,
                         const char *what)
{
    return na__fail(st, "CheckStructure: %s (input %s, expected \"%s\")", what,
                    na__shape(x), c->spec);
}

static na_status cs_check_axis(const check_layer *c, const cs_axis *a,
                               const na_array *x, cs_binding *b)
{
    char msg[256];
    int64_t size = na_axis_size(x, a->name);
    if (size < 0) {
        snprintf(msg, sizeof msg, "missing axis '%s'", a->name);
        return cs_fail(c, x, NA_ERR_AXIS, msg);
    }
    if (a->var < 0 && size != a->size) {
        snprintf(msg, sizeof msg, "axis '%s' has size %lld, expected %lld", a->name,
                 (long long)size, (long long)a->size);
        return cs_fail(c, x, NA_ERR_SHAPE, msg);
    }
    if (a->var >= 0 && b->by[a->var] && b->value[a->var] != size) {
        snprintf(msg, sizeof msg, "axis '%s' has size %lld, but %s = %lld (bound by "
                 "axis '%s')", a->name, (long long)size, c->vars[a->var],
                 (long long)b->value[a->var], b->by[a->var]);
        return cs_fail(c, x, NA_ERR_SHAPE, msg);
    }
    if (a->var >= 0 && !b->by[a->var]) {
        b->by[a->var] = a->name;
        b->value[a->var] = size;
    }
    return NA_OK;
}

static bool cs_listed(const cs_item *item, const char *name)
{
    for (int i = 0; i < item->n; i++)
        if (item->axes[i].name == name)
            return true;
    return false;
}

static na_status cs_check_item(const check_layer *c, const cs_item *item,
                               const na_value *v, cs_binding *b)
{
    const na_array *x = na_value_array(v, "CheckStructure");
    if (!x)
        return na_last_status();
    for (int i = 0; i < item->n; i++) {
        na_status st = cs_check_axis(c, &item->axes[i], x, b);
        if (st != NA_OK)
            return st;
    }
    if (item->open)
        return NA_OK;
    char msg[256];
    for (int d = 0; d < x->ndim; d++) {
        if (x->name[d] && !cs_listed(item, x->name[d])) {
            snprintf(msg, sizeof msg, "unexpected axis '%s'", x->name[d]);
            return cs_fail(c, x, NA_ERR_AXIS, msg);
        }
    }
    if (na_positional_count(x) > 0)
        return cs_fail(c, x, NA_ERR_AXIS, "unexpected positional axes");
    return NA_OK;
}

static na_status check_call(na_layer *self, const na_value *in, const na_side *side,
                            na_value **out)
{
    (void)side;
    const check_layer *c = (const check_layer *)self;
    cs_binding b;
    memset(&b, 0, sizeof b);
    if (c->nitems > 1 && (in->kind != NA_VALUE_TUPLE || in->count != c->nitems)) {
        char buf[256];
        na_value_shape_str(in, buf, sizeof buf);
        return na__fail(NA_ERR_ARGUMENT, "CheckStructure: expected a tuple of %d "
                        "items, got %s (expected \"%s\")", c->nitems, buf, c->spec);
    }
    for (int i = 0; i < c->nitems; i++) {
        const na_value *v = c->nitems > 1 ? in->items[i] : in;
        na_status st = cs_check_item(c, &c->items[i], v, &b);
        if (st != NA_OK)
            return st;
    }
    *out = na_value_clone(in);
    return *out ? NA_OK : na_last_status();
}

/* The parsed items and variables are derived from the spec. */
static na_status check_finish(na_layer *self)
{
    check_layer *c = (check_layer *)self;
    if (!c->spec)
        return na__fail(NA_ERR_ARGUMENT, CS_OP ": spec is required");
    memset(c->items, 0, sizeof c->items);
    c->nitems = c->nvars = 0;
    return cs_parse(c);
}

static const na_field_desc check_fields[] = {
    NA_FIELD(check_layer, spec, NA_FIELD_STRING),
};

const na_layer_type na_check_structure_type = {
    .name = "CheckStructure",
    .call = check_call,
    .size = sizeof(check_layer),
    .fields = check_fields,
    .field_count = NA_FIELD_COUNT(check_fields),
    .finish = check_finish,
};

na_status na_check_structure_new(const char *spec, na_layer **out)
{
    if (!out || !spec)
        return na__fail(NA_ERR_ARGUMENT, CS_OP ": spec and out are required");
    na_layer *l = NULL;
    na_status st = na_layer_alloc(&na_check_structure_type, &l);
    if (st == NA_OK)
        st = na_layer_field_set_string(l, "spec", spec);
    if (st == NA_OK)
        st = na_layer_finish(l);
    if (st != NA_OK) {
        na_layer_free(l);
        return st;
    }
    *out = l;
    return NA_OK;
}
