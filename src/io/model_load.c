/* Model files, reading: rebuild the tree from the architecture JSON with
 * the registry of layer types and the declared fields, taking parameters,
 * state and array fields from the file's tensors (namedarr/model_file.h). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/model_file_internal.h"

#define OP "na_model_load"

/* The file and the parameters made so far (a label loads once). */
typedef struct load_ctx {
    const na_safetensors *st;
    int n, cap;
    na_param **params;
    int arrays; /* array fields read from tensors */
} load_ctx;

static void load_ctx_free(load_ctx *c)
{
    for (int i = 0; i < c->n; i++)
        na_param_release(c->params[i]);
    free(c->params);
}

static const char *where(const char *path)
{
    return path[0] ? path : "/";
}

static na_status bad_field(const char *path, const char *type, const char *field,
                           const char *what)
{
    return na__fail(NA_ERR_FORMAT, "%s: field '%s' of %s at '%s' %s", OP, field, type,
                    where(path), what);
}

/* The parameter labelled `label` (one per label), kind checked. */
static na_status get_param(load_ctx *c, const char *label, na_param_kind kind,
                           const char *path, na_param **out)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->params[i]->label, label) == 0) {
            if (c->params[i]->kind != kind)
                return na__fail(NA_ERR_FORMAT, "%s: '%s' is used as a parameter and as "
                                "state (at '%s')", OP, label, where(path));
            *out = c->params[i];
            return NA_OK;
        }
    na_array *x = NULL;
    na_status st = na_safetensors_get(c->st, label, &x);
    if (st != NA_OK) {
        na__fail_append(" (%s: tensor of '%s' at '%s')", OP, label, where(path));
        return st;
    }
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 16;
        na_param **p = realloc(c->params, sizeof *p * (size_t)cap);
        if (!p) {
            na_array_free(x);
            return na__fail(NA_ERR_NO_MEMORY, "%s: out of memory", OP);
        }
        c->params = p, c->cap = cap;
    }
    na_param *p = na_param_new(label, kind, x);
    if (!p)
        return na__fail(NA_ERR_NO_MEMORY, "%s: out of memory", OP);
    c->params[c->n++] = p;
    *out = p;
    return NA_OK;
}

static na_status set_param(load_ctx *c, na_layer *l, const na_field_desc *d,
                           const cJSON *v, const char *path)
{
    if (cJSON_IsNull(v))
        return na_layer_field_set_param(l, d->name, NULL);
    bool state = d->kind == NA_FIELD_STATE;
    const cJSON *label = cJSON_GetObjectItemCaseSensitive(v, state ? "state" : "param");
    if (!cJSON_IsObject(v) || !cJSON_IsString(label) || cJSON_GetArraySize(v) != 1)
        return bad_field(path, l->type->name, d->name,
                         state ? "must be {\"state\": label} or null"
                               : "must be {\"param\": label} or null");
    na_param *p = NULL;
    na_status st = get_param(c, label->valuestring, state ? NA_STATE : NA_PARAM, path, &p);
    return st == NA_OK ? na_layer_field_set_param(l, d->name, p) : st;
}

static na_status set_names(na_layer *l, const na_field_desc *d, const cJSON *v,
                           const char *path)
{
    if (cJSON_IsNull(v))
        return na_layer_field_set_names(l, d->name, NULL);
    int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
    if (n < 0 || n > NA_MAX_DIMS * 4)
        return bad_field(path, l->type->name, d->name, "must be a list of names");
    const char *names[NA_MAX_DIMS * 4 + 1];
    for (int i = 0; i < n; i++) {
        const cJSON *s = cJSON_GetArrayItem(v, i);
        if (!cJSON_IsString(s))
            return bad_field(path, l->type->name, d->name, "must be a list of names");
        names[i] = s->valuestring;
    }
    names[n] = NULL;
    return na_layer_field_set_names(l, d->name, names);
}

static na_status set_int(na_layer *l, const na_field_desc *d, const cJSON *v,
                         const char *path)
{
    if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) &&
        fabs(v->valuedouble) <= 9007199254740992.0)
        return na_layer_field_set_int(l, d->name, (int64_t)v->valuedouble);
    if (cJSON_IsString(v)) {
        char *end = NULL;
        errno = 0;
        long long x = strtoll(v->valuestring, &end, 10);
        if (errno == 0 && end != v->valuestring && !*end)
            return na_layer_field_set_int(l, d->name, (int64_t)x);
    }
    return bad_field(path, l->type->name, d->name, "must be an integer");
}

static na_status set_float(na_layer *l, const na_field_desc *d, const cJSON *v,
                           const char *path)
{
    if (cJSON_IsNumber(v))
        return na_layer_field_set_float(l, d->name, v->valuedouble);
    const char *s = cJSON_IsString(v) ? v->valuestring : "";
    double x = strcmp(s, "inf") == 0 ? INFINITY
             : strcmp(s, "-inf") == 0 ? -INFINITY
             : strcmp(s, "nan") == 0 ? NAN
                                     : 0;
    if (x == 0)
        return bad_field(path, l->type->name, d->name, "must be a number");
    return na_layer_field_set_float(l, d->name, x);
}

static na_status set_text(na_layer *l, const na_field_desc *d, const cJSON *v,
                          const char *path)
{
    if (!cJSON_IsNull(v) && !cJSON_IsString(v))
        return bad_field(path, l->type->name, d->name, "must be a string or null");
    const char *s = cJSON_IsString(v) ? v->valuestring : NULL;
    if (d->kind == NA_FIELD_AXIS)
        return na_layer_field_set_axis(l, d->name, s);
    if (d->kind == NA_FIELD_STRING)
        return na_layer_field_set_string(l, d->name, s);
    if (!s)
        return bad_field(path, l->type->name, d->name, "must be one of its names");
    return na_layer_field_set_enum_name(l, d->name, s);
}

static na_status set_array(load_ctx *c, na_layer *l, const na_field_desc *d,
                           const cJSON *v, const char *path)
{
    if (cJSON_IsNull(v))
        return na_layer_field_set_array(l, d->name, NULL);
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(v, "tensor");
    if (!cJSON_IsString(key))
        return bad_field(path, l->type->name, d->name, "must be {\"tensor\": key} or null");
    na_array *x = NULL;
    na_status st = na_safetensors_get(c->st, key->valuestring, &x);
    if (st == NA_OK)
        st = na_layer_field_set_array(l, d->name, x);
    c->arrays += st == NA_OK;
    na_array_free(x);
    return st;
}

static na_status node_load(load_ctx *c, const cJSON *node, const char *path,
                           na_layer **out);

static na_status set_child(load_ctx *c, na_layer *l, const na_field_desc *d,
                           const cJSON *v, const char *path)
{
    if (cJSON_IsNull(v))
        return na_layer_field_set_child(l, d->name, NULL);
    char sub[NA__MODEL_PATH_MAX];
    snprintf(sub, sizeof sub, "%s/%s", path, d->name);
    na_layer *kid = NULL;
    na_status st = node_load(c, v, sub, &kid);
    return st == NA_OK ? na_layer_field_set_child(l, d->name, kid) : st;
}

static na_status set_children(load_ctx *c, na_layer *l, const na_field_desc *d,
                              const cJSON *v, const char *path)
{
    if (!cJSON_IsArray(v))
        return bad_field(path, l->type->name, d->name, "must be a list of layers");
    int n = cJSON_GetArraySize(v);
    na_layer **kids = calloc((size_t)(n > 0 ? n : 1), sizeof *kids);
    if (!kids)
        return na__fail(NA_ERR_NO_MEMORY, "%s: out of memory", OP);
    na_status st = NA_OK;
    for (int i = 0; i < n && st == NA_OK; i++) {
        char sub[NA__MODEL_PATH_MAX];
        snprintf(sub, sizeof sub, "%s/%d", path, i);
        st = node_load(c, cJSON_GetArrayItem(v, i), sub, &kids[i]);
    }
    if (st == NA_OK)
        st = na_layer_field_set_children(l, d->name, n, kids); /* takes them */
    else
        for (int i = 0; i < n; i++)
            na_layer_free(kids[i]);
    free(kids);
    return st;
}

static na_status set_field(load_ctx *c, na_layer *l, const na_field_desc *d,
                           const cJSON *v, const char *path)
{
    switch (d->kind) {
    case NA_FIELD_CHILD: return set_child(c, l, d, v, path);
    case NA_FIELD_CHILDREN: return set_children(c, l, d, v, path);
    case NA_FIELD_PARAM:
    case NA_FIELD_STATE: return set_param(c, l, d, v, path);
    case NA_FIELD_NAMES: return set_names(l, d, v, path);
    case NA_FIELD_INT: return set_int(l, d, v, path);
    case NA_FIELD_FLOAT: return set_float(l, d, v, path);
    case NA_FIELD_BOOL:
        if (!cJSON_IsBool(v))
            return bad_field(path, l->type->name, d->name, "must be true or false");
        return na_layer_field_set_bool(l, d->name, cJSON_IsTrue(v));
    case NA_FIELD_AXIS:
    case NA_FIELD_STRING:
    case NA_FIELD_ENUM: return set_text(l, d, v, path);
    case NA_FIELD_ARRAY: return set_array(c, l, d, v, path);
    }
    return bad_field(path, l->type->name, d->name, "has an unknown kind");
}

/* Every field of the type present, and nothing else. */
static na_status set_fields(load_ctx *c, na_layer *l, const cJSON *fields,
                            const char *path)
{
    const na_layer_type *t = l->type;
    const cJSON *f;
    cJSON_ArrayForEach(f, fields)
    {
        if (!na_layer_type_field_find(t, f->string))
            return na__fail(NA_ERR_FORMAT, "%s: %s at '%s' has no field '%s'", OP, t->name,
                            where(path), f->string);
    }
    for (int i = 0; i < t->field_count; i++) {
        const na_field_desc *d = &t->fields[i];
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(fields, d->name);
        if (!v)
            return bad_field(path, t->name, d->name, "is missing from the file");
        na_status st = set_field(c, l, d, v, path);
        if (st != NA_OK)
            return st;
    }
    return NA_OK;
}

static na_status node_load(load_ctx *c, const cJSON *node, const char *path,
                           na_layer **out)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(node, "type");
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(node, "fields");
    if (!cJSON_IsObject(node) || !cJSON_IsString(type) || !cJSON_IsObject(fields))
        return na__fail(NA_ERR_FORMAT, "%s: the layer at '%s' is not "
                        "{\"type\": name, \"fields\": {...}}", OP, where(path));
    const na_layer_type *t = na_layer_type_find(type->valuestring);
    if (!t)
        return na__fail(NA_ERR_NOT_FOUND, "%s: layer type '%s' at '%s' is not registered "
                        "(na_layer_type_register)", OP, type->valuestring, where(path));
    na_layer *l = NULL;
    na_status st = na_layer_alloc(t, &l);
    if (st == NA_OK)
        st = set_fields(c, l, fields, path);
    if (st == NA_OK && (st = na_layer_finish(l)) != NA_OK)
        na__fail_append(" (%s: %s at '%s')", OP, t->name, where(path));
    if (st != NA_OK) {
        na_layer_free(l);
        return st;
    }
    *out = l;
    return NA_OK;
}

/* The architecture JSON of an open file, parsed. */
static na_status parse_architecture(const na_safetensors *st, const char *path,
                                    cJSON **out)
{
    const char *json = na_safetensors_metadata(st, NA_MODEL_METADATA_KEY);
    if (!json)
        return na__fail(NA_ERR_FORMAT, "%s: '%s' is a safetensors file without a model "
                        "architecture (metadata '%s'); na_safetensors_load_model binds "
                        "such a file into a model built in code", OP, path,
                        NA_MODEL_METADATA_KEY);
    cJSON *root = cJSON_Parse(json);
    const cJSON *format = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (!cJSON_IsObject(root) || !cJSON_IsString(format) ||
        strcmp(format->valuestring, NA__MODEL_FORMAT) != 0 ||
        !cJSON_GetObjectItemCaseSensitive(root, "root")) {
        cJSON_Delete(root);
        return na__fail(NA_ERR_FORMAT, "%s: the architecture in '%s' is not valid JSON "
                        "of format %s", OP, path, NA__MODEL_FORMAT);
    }
    *out = root;
    return NA_OK;
}

na_status na_model_load(const char *path, na_layer **out)
{
    if (!path || !out)
        return na__fail(NA_ERR_ARGUMENT, "%s: %s is NULL", OP, path ? "out" : "path");
    na_safetensors *file = NULL;
    na_status st = na_safetensors_open(path, &file);
    if (st != NA_OK)
        return st;
    cJSON *root = NULL;
    load_ctx c = {.st = file};
    na_layer *model = NULL;
    st = parse_architecture(file, path, &root);
    if (st == NA_OK)
        st = node_load(&c, cJSON_GetObjectItemCaseSensitive(root, "root"), "", &model);
    cJSON_Delete(root);
    if (st == NA_OK && c.n + c.arrays != na_safetensors_count(file)) {
        st = na__fail(NA_ERR_FORMAT, "%s: '%s' holds %d tensors but its architecture uses "
                      "%d", OP, path, na_safetensors_count(file), c.n + c.arrays);
        na_layer_free(model);
    }
    load_ctx_free(&c); /* the layers hold their own references */
    na_safetensors_close(file);
    if (st == NA_OK)
        *out = model;
    return st;
}
