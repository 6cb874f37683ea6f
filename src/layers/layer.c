/* The layer protocol: the call choke point (hooks, error context), the
 * generic accessors, freeing, and the printer's field list. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "layers/layers_internal.h"

/* ---- call hooks -------------------------------------------------------- */

static _Thread_local na__call_hook *tl_hooks;
/* Hash of the last message this thread annotated with " (in path)": an
 * error bubbling up through several layers is annotated once, innermost. */
static _Thread_local uint64_t tl_annotated_hash;

void na__call_hook_push(na__call_hook *hook)
{
    hook->next = tl_hooks;
    tl_hooks = hook;
}

bool na__call_hooks_active(void) { return tl_hooks != NULL; }

void na__call_hook_pop(na__call_hook *hook)
{
    if (tl_hooks == hook)
        tl_hooks = hook->next;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Does the message already start with "<TypeName>:"? */
static bool names_layer(const char *msg, const na_layer *layer)
{
    const char *t = na_layer_type_name(layer);
    size_t n = strlen(t);
    return strncmp(msg, t, n) == 0 && msg[n] == ':';
}

/* Name the failing layer once, innermost: by its path when it was called
 * by another layer, by its type when it is the outermost. */
static na_status annotate(const na_layer *layer, const na__call_frame *frame,
                          na_status st)
{
    const char *msg = na_last_error();
    if (na_last_status() == NA_OK || !msg[0])
        na__fail(st, "%s: call failed (%s)", na_layer_type_name(layer),
                 na_status_name(st));
    else if (hash_str(msg) == tl_annotated_hash ||
             (!frame->prev && names_layer(msg, layer)))
        return st;
    char path[512];
    na__fail_append(" (in %s)", frame->prev ? na__call_path(frame, path, sizeof path)
                                            : na_layer_type_name(layer));
    tl_annotated_hash = hash_str(na_last_error());
    return st;
}

static na_status run_before(na_layer *layer, const na_value *in, const na_side *side)
{
    for (na__call_hook *h = tl_hooks; h; h = h->next) {
        if (!h->before)
            continue;
        na_status st = h->before(h->ctx, layer, in, side);
        if (st != NA_OK)
            return st;
    }
    return NA_OK;
}

static na_status run_after(na_layer *layer, const na_value *out)
{
    for (na__call_hook *h = tl_hooks; h; h = h->next) {
        if (!h->after)
            continue;
        na_status st = h->after(h->ctx, layer, out);
        if (st != NA_OK)
            return st;
    }
    return NA_OK;
}

static na_status check_call_args(const na_layer *layer, const na_value *in,
                                 na_value **out)
{
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "na_layer_call: out is NULL");
    *out = NULL;
    if (!layer || !layer->type || !layer->type->call)
        return na__fail(NA_ERR_ARGUMENT, "na_layer_call: layer is NULL or has no "
                        "call function");
    if (!in)
        return na__fail(NA_ERR_ARGUMENT, "na_layer_call: input value is NULL "
                        "(layer %s)", na_layer_type_name(layer));
    return NA_OK;
}

na_status na_layer_call(na_layer *layer, const na_value *in, const na_side *side,
                        na_value **out)
{
    na_status st = check_call_args(layer, in, out);
    if (st != NA_OK)
        return st;
    if (tl_hooks && (st = run_before(layer, in, side)) != NA_OK)
        return st;
    na_value *y = NULL;
    na__call_frame frame;
    na__call_frame_push(&frame, layer);
    st = layer->type->call(layer, in, side, &y);
    na__call_frame_pop(&frame);
    if (st != NA_OK) {
        na_value_free(y);
        return annotate(layer, &frame, st);
    }
    if (!y)
        return na__fail(NA_ERR_STATE, "%s: call returned NA_OK without an output",
                        na_layer_type_name(layer));
    if (tl_hooks && (st = run_after(layer, y)) != NA_OK) {
        na_value_free(y);
        return st;
    }
    *out = y;
    return NA_OK;
}

na_status na_layer_call_array(na_layer *layer, const na_array *in,
                              const na_side *side, na_array **out)
{
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "na_layer_call_array: out is NULL");
    *out = NULL;
    if (!layer || !in)
        return na__fail(NA_ERR_ARGUMENT, "na_layer_call_array: %s is NULL",
                        layer ? "input array" : "layer");
    na_value *x = na_value_ref_array(in);
    if (!x)
        return na__fail_in("na_layer_call_array", na_last_status());
    na_value *y = NULL;
    na_status st = na_layer_call(layer, x, side, &y);
    na_value_free(x);
    if (st != NA_OK)
        return st;
    if (y->kind != NA_VALUE_ARRAY) {
        char buf[256];
        na_value_shape_str(y, buf, sizeof buf);
        na_value_free(y);
        return na__fail(NA_ERR_ARGUMENT, "na_layer_call_array: %s returned a tuple "
                        "%s, not an array", na_layer_type_name(layer), buf);
    }
    *out = y->array;
    y->array = NULL;
    na_value_free(y);
    return NA_OK;
}

/* ---- freeing and accessors -------------------------------------------- */

/* Types declare their fields; everything below is derived from them. */

void na_layer_free(na_layer *layer)
{
    if (!layer || !layer->type)
        return;
    if (layer->type->destroy)
        layer->type->destroy(layer);
    if (!na__layer_declared(layer)) /* an old-style type: destroy freed it */
        return;
    na__fields_free(layer);
    free(layer);
}

na_layer **na__layer_child_slot(na_layer *layer, int i)
{
    return na__layer_declared(layer) ? na__fields_child_slot(layer, i) : NULL;
}

int na_layer_child_count(const na_layer *layer)
{
    return na__layer_declared(layer) ? na__fields_child_count(layer) : 0;
}

na_layer *na_layer_child(const na_layer *layer, int i)
{
    na_layer **slot = na__layer_child_slot((na_layer *)layer, i);
    return slot ? *slot : NULL;
}

const char *na_layer_child_name(const na_layer *layer, int i)
{
    if (i < 0 || i >= na_layer_child_count(layer))
        return NULL;
    if (layer->type->child_name)
        return layer->type->child_name(layer, i);
    return na__fields_child_name(layer, i);
}

int na_layer_param_count(const na_layer *layer)
{
    return na__layer_declared(layer) ? na__fields_param_count(layer) : 0;
}

na_param *na_layer_param(const na_layer *layer, int i)
{
    return na__layer_declared(layer) && i >= 0 ? na__fields_param_at(layer, i) : NULL;
}

const char *na_layer_type_name(const na_layer *layer)
{
    if (!layer || !layer->type)
        return "(null layer)";
    return layer->type->name ? layer->type->name : "(unnamed layer type)";
}

bool na_layer_is(const na_layer *layer, const na_layer_type *type)
{
    return layer && type && layer->type == type;
}

/* ---- printer fields ---------------------------------------------------- */

void na__fields_init(na_fields *f) { memset(f, 0, sizeof *f); }

void na__fields_clear(na_fields *f)
{
    for (int i = 0; i < f->count; i++) {
        free(f->items[i].key);
        free(f->items[i].text);
    }
    free(f->items);
    na__fields_init(f);
}

void na__fields_describe(const na_layer *layer, na_fields *f)
{
    na__fields_init(f);
    if (layer && layer->type && layer->type->describe)
        layer->type->describe(layer, f);
    else
        na_fields_layer(f, layer);
}

/* Take ownership of `text` (may be NULL: out of memory). */
static void add_field(na_fields *f, const char *key, na__field_kind kind, char *text)
{
    if (!f)
        goto fail;
    if (!text || !key)
        goto oom;
    if (f->count == f->cap) {
        int cap = f->cap ? f->cap * 2 : 4;
        na__field *items = realloc(f->items, (size_t)cap * sizeof *items);
        if (!items)
            goto oom;
        f->items = items;
        f->cap = cap;
    }
    char *k = malloc(strlen(key) + 1);
    if (!k)
        goto oom;
    strcpy(k, key);
    f->items[f->count++] = (na__field){k, kind, text};
    return;
oom:
    f->oom = true;
fail:
    free(text);
}

static char *fmt_alloc(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *fmt_alloc(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

void na_fields_int(na_fields *f, const char *key, int64_t v)
{
    add_field(f, key, NA__FIELD_INT, fmt_alloc("%" PRId64, v));
}

void na_fields_float(na_fields *f, const char *key, double v)
{
    add_field(f, key, NA__FIELD_FLOAT, fmt_alloc("%.7g", v));
}

void na_fields_bool(na_fields *f, const char *key, bool v)
{
    add_field(f, key, NA__FIELD_BOOL, fmt_alloc("%s", v ? "true" : "false"));
}

void na_fields_str(na_fields *f, const char *key, const char *v)
{
    add_field(f, key, NA__FIELD_STR, fmt_alloc("\"%s\"", v ? v : ""));
}

void na_fields_names(na_fields *f, const char *key, const char *const *names)
{
    size_t n = 3;
    for (int i = 0; names && names[i]; i++)
        n += strlen(names[i]) + 2;
    char *s = malloc(n);
    if (s) {
        strcpy(s, "[");
        for (int i = 0; names && names[i]; i++) {
            if (i)
                strcat(s, ", ");
            strcat(s, names[i]);
        }
        strcat(s, "]");
    }
    add_field(f, key, NA__FIELD_NAMES, s);
}

void na_fields_array(na_fields *f, const char *key, const na_array *x)
{
    if (!x) {
        add_field(f, key, NA__FIELD_ARRAY, fmt_alloc("None"));
        return;
    }
    size_t n = na_shape_str(x, NULL, 0);
    char *s = malloc(n + 1);
    if (s)
        na_shape_str(x, s, n + 1);
    add_field(f, key, NA__FIELD_ARRAY, s);
}
