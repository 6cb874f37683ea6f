/* Model files, writing: the tree as JSON (from each layer's declared
 * fields) plus every parameter, state variable and array field as a
 * tensor, in one safetensors file (namedarr/model_file.h). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/model_file_internal.h"

/* The tensors to write and the parameters already named. */
typedef struct save_ctx {
    int n, cap;
    char **labels;          /* owned copies                                 */
    const na_array **arrays;
    const na_param **params; /* params[i] is stored under labels[i] (or NULL) */
    int n_arrays;           /* array fields stored so far                   */
} save_ctx;

static void save_ctx_free(save_ctx *c)
{
    for (int i = 0; i < c->n; i++)
        free(c->labels[i]);
    free(c->labels);
    free(c->arrays);
    free(c->params);
}

static na_status add_tensor(save_ctx *c, const char *label, const na_array *x,
                            const na_param *p)
{
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 16;
        char **l = realloc(c->labels, sizeof *l * (size_t)cap);
        if (l)
            c->labels = l;
        const na_array **a = l ? realloc(c->arrays, sizeof *a * (size_t)cap) : NULL;
        if (a)
            c->arrays = a;
        const na_param **ps = a ? realloc(c->params, sizeof *ps * (size_t)cap) : NULL;
        if (!ps)
            return na__fail(NA_ERR_NO_MEMORY, "na_model_save: out of memory");
        c->params = ps;
        c->cap = cap;
    }
    if (!(c->labels[c->n] = strdup(label)))
        return na__fail(NA_ERR_NO_MEMORY, "na_model_save: out of memory");
    c->arrays[c->n] = x;
    c->params[c->n] = p;
    c->n++;
    return NA_OK;
}

/* {"param": label} once the parameter's tensor is listed (once). */
static na_status param_json(save_ctx *c, const na_param *p, const char *path,
                            cJSON **out)
{
    bool seen = false; /* a parameter has one label: finding the label is enough */
    for (int i = 0; i < c->n && !seen; i++) {
        if (strcmp(c->labels[i], p->label) != 0)
            continue;
        if (c->params[i] != p)
            return na__fail(NA_ERR_ARGUMENT, "na_model_save: two different parameters "
                            "are labelled '%s' (second at %s)", p->label, path);
        seen = true;
    }
    na_status st = seen ? NA_OK : add_tensor(c, p->label, p->value, p);
    if (st != NA_OK)
        return st;
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, p->kind == NA_STATE ? "state" : "param",
                                       p->label)) {
        cJSON_Delete(o);
        return na__fail(NA_ERR_NO_MEMORY, "na_model_save: out of memory");
    }
    *out = o;
    return NA_OK;
}

static cJSON *names_json(const char *const *names)
{
    if (!names)
        return cJSON_CreateNull();
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && names[i]; i++)
        if (!cJSON_AddItemToArray(a, cJSON_CreateString(names[i]))) {
            cJSON_Delete(a);
            return NULL;
        }
    return a;
}

static cJSON *string_or_null(const char *s)
{
    return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

/* Integers beyond 2^53 do not survive a JSON number: write them as text. */
static cJSON *int_json(int64_t v)
{
    if (v >= -(INT64_C(1) << 53) && v <= (INT64_C(1) << 53))
        return cJSON_CreateNumber((double)v);
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    return cJSON_CreateString(buf);
}

static cJSON *float_json(double v)
{
    if (isnan(v))
        return cJSON_CreateString("nan");
    if (isinf(v))
        return cJSON_CreateString(v > 0 ? "inf" : "-inf");
    return cJSON_CreateNumber(v);
}

static na_status array_json(save_ctx *c, const na_array *x, cJSON **out)
{
    if (!x) {
        *out = cJSON_CreateNull();
        return NA_OK;
    }
    char key[64];
    snprintf(key, sizeof key, "%s%d", NA__MODEL_ARRAY_PREFIX, c->n_arrays++);
    na_status st = add_tensor(c, key, x, NULL);
    cJSON *o = st == NA_OK ? cJSON_CreateObject() : NULL;
    if (st == NA_OK && (!o || !cJSON_AddStringToObject(o, "tensor", key))) {
        cJSON_Delete(o);
        return na__fail(NA_ERR_NO_MEMORY, "na_model_save: out of memory");
    }
    *out = o;
    return st;
}

static na_status node_json(save_ctx *c, const na_layer *l, const char *path, cJSON **out);

static na_status children_json(save_ctx *c, const na_layer *l, const na_field_desc *d,
                               const char *path, cJSON **out)
{
    int n = *(const int *)((const char *)l + d->count_offset);
    na_layer *const *kids = *(na_layer *const *const *)((const char *)l + d->offset);
    cJSON *a = cJSON_CreateArray();
    na_status st = a ? NA_OK : na__fail(NA_ERR_NO_MEMORY, "na_model_save: out of memory");
    for (int i = 0; i < n && st == NA_OK; i++) {
        char sub[NA__MODEL_PATH_MAX];
        snprintf(sub, sizeof sub, "%s/%d", path, i);
        cJSON *node = NULL;
        st = node_json(c, kids[i], sub, &node);
        if (st == NA_OK)
            cJSON_AddItemToArray(a, node);
    }
    if (st != NA_OK) {
        cJSON_Delete(a);
        return st;
    }
    *out = a;
    return NA_OK;
}

/* One field's value as JSON. */
static na_status field_json(save_ctx *c, const na_layer *l, const na_field_desc *d,
                            const char *path, cJSON **out)
{
    const void *p = (const char *)l + d->offset;
    char sub[NA__MODEL_PATH_MAX];
    snprintf(sub, sizeof sub, "%s/%s", path, d->name);
    *out = NULL;
    switch (d->kind) {
    case NA_FIELD_CHILD: {
        const na_layer *kid = *(na_layer *const *)p;
        if (kid)
            return node_json(c, kid, sub, out);
        *out = cJSON_CreateNull();
        break;
    }
    case NA_FIELD_CHILDREN:
        return children_json(c, l, d, path, out);
    case NA_FIELD_PARAM:
    case NA_FIELD_STATE: {
        const na_param *prm = *(na_param *const *)p;
        if (prm)
            return param_json(c, prm, sub, out);
        *out = cJSON_CreateNull();
        break;
    }
    case NA_FIELD_NAMES: *out = names_json(*(const char *const *const *)p); break;
    case NA_FIELD_AXIS: *out = string_or_null(*(const char *const *)p); break;
    case NA_FIELD_STRING: *out = string_or_null(*(char *const *)p); break;
    case NA_FIELD_INT: *out = int_json(*(const int64_t *)p); break;
    case NA_FIELD_FLOAT: *out = float_json(*(const double *)p); break;
    case NA_FIELD_BOOL: *out = cJSON_CreateBool(*(const bool *)p); break;
    case NA_FIELD_ENUM: {
        int v = *(const int *)p, count = 0;
        while (d->enum_names && d->enum_names[count])
            count++;
        if (v < 0 || v >= count)
            return na__fail(NA_ERR_ARGUMENT, "na_model_save: enum field %s has value %d, "
                            "outside its %d names", sub, v, count);
        *out = cJSON_CreateString(d->enum_names[v]);
        break;
    }
    case NA_FIELD_ARRAY:
        return array_json(c, *(na_array *const *)p, out);
    }
    return *out ? NA_OK : na__fail(NA_ERR_NO_MEMORY, "na_model_save: out of memory");
}

static na_status node_json(save_ctx *c, const na_layer *l, const char *path, cJSON **out)
{
    const na_layer_type *t = l->type;
    if (t->size == 0)
        return na__fail(NA_ERR_UNSUPPORTED, "na_model_save: layer %s at '%s' has no "
                        "field table", t->name, path[0] ? path : "/");
    cJSON *node = cJSON_CreateObject(), *fields = NULL;
    na_status st = node && cJSON_AddStringToObject(node, "type", t->name) &&
                           (fields = cJSON_AddObjectToObject(node, "fields"))
                       ? NA_OK
                       : na__fail(NA_ERR_NO_MEMORY, "na_model_save: out of memory");
    for (int i = 0; i < t->field_count && st == NA_OK; i++) {
        cJSON *v = NULL;
        st = field_json(c, l, &t->fields[i], path, &v);
        if (st == NA_OK)
            cJSON_AddItemToObject(fields, t->fields[i].name, v);
    }
    if (st != NA_OK) {
        cJSON_Delete(node);
        return st;
    }
    *out = node;
    return NA_OK;
}

/* The architecture JSON and the tensors it refers to. */
static na_status architecture(const na_layer *model, save_ctx *c, char **json)
{
    cJSON *root = cJSON_CreateObject(), *tree = NULL;
    na_status st = root && cJSON_AddStringToObject(root, "format", NA__MODEL_FORMAT)
                       ? node_json(c, model, "", &tree)
                       : na__fail(NA_ERR_NO_MEMORY, "na_model_save: out of memory");
    if (st == NA_OK)
        cJSON_AddItemToObject(root, "root", tree);
    *json = st == NA_OK ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (st == NA_OK && !*json)
        st = na__fail(NA_ERR_NO_MEMORY, "na_model_save: out of memory");
    return st;
}

na_status na_model_architecture_json(const na_layer *model, char **out)
{
    if (!model || !out)
        return na__fail(NA_ERR_ARGUMENT, "na_model_architecture_json: NULL argument");
    save_ctx c = {0};
    na_status st = architecture(model, &c, out);
    save_ctx_free(&c);
    return st;
}

na_status na_model_save(const na_layer *model, const char *path)
{
    if (!model || !path)
        return na__fail(NA_ERR_ARGUMENT, "na_model_save: %s is NULL",
                        model ? "path" : "model");
    save_ctx c = {0};
    char *json = NULL;
    na_status st = architecture(model, &c, &json);
    if (st == NA_OK) {
        const char *keys[] = {NA_MODEL_METADATA_KEY};
        const char *values[] = {json};
        st = na_safetensors_write_ex(path, c.n, (const char *const *)c.labels, c.arrays,
                                     &(na_safetensors_meta){1, keys, values});
    }
    free(json);
    save_ctx_free(&c);
    return st;
}
