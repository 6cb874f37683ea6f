/* Loading a Hugging Face model directory: config.json, then
 * model.safetensors or the shards named by model.safetensors.index.json;
 * every tensor of the architecture's layout is checked, unflattened into
 * its label's named axes and bound to a freshly built model in one step
 * (na_tree_bind: all or nothing). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/hf_internal.h"
#include "namedarr/checkpoint.h"
#include "namedarr/tree.h"

#define WHO "na_hf_load"
#define MAX_SHARDS 256

typedef struct tensor_ref {
    const char *name; /* borrowed from its file */
    int file;
    bool used;
} tensor_ref;

typedef struct checkpoint {
    int n_files;
    na_safetensors *files[MAX_SHARDS];
    int n;
    tensor_ref *t;
} checkpoint;

static void checkpoint_close(checkpoint *c)
{
    for (int i = 0; i < c->n_files; i++)
        na_safetensors_close(c->files[i]);
    free(c->t);
    memset(c, 0, sizeof *c);
}

static na_status open_file(checkpoint *c, const char *dir, const char *name)
{
    if (c->n_files == MAX_SHARDS)
        return na__fail(NA_ERR_UNSUPPORTED, WHO ": more than %d shards", MAX_SHARDS);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    na_status st = na_safetensors_open(path, &c->files[c->n_files]);
    if (st != NA_OK)
        return st;
    c->n_files++;
    return NA_OK;
}

/* The distinct shard file names of the index's weight_map. */
static na_status open_shards(checkpoint *c, const char *dir, const char *index)
{
    cJSON *j = NULL;
    na_status st = na__hf_read_json(index, &j);
    const cJSON *map = st == NA_OK ? cJSON_GetObjectItemCaseSensitive(j, "weight_map") : NULL;
    if (st == NA_OK && !cJSON_IsObject(map))
        st = na__fail(NA_ERR_FORMAT, WHO ": %s has no \"weight_map\" object", index);
    const char *seen[MAX_SHARDS];
    int n_seen = 0;
    for (const cJSON *e = map ? map->child : NULL; e && st == NA_OK; e = e->next) {
        if (!cJSON_IsString(e) || strchr(e->valuestring, '/'))
            st = na__fail(NA_ERR_FORMAT, WHO ": %s: weight_map[\"%s\"] must be a file "
                          "name in the directory", index, e->string);
        bool dup = false;
        for (int i = 0; st == NA_OK && i < n_seen; i++)
            dup |= strcmp(seen[i], e->valuestring) == 0;
        if (st == NA_OK && !dup && n_seen < MAX_SHARDS) {
            seen[n_seen++] = e->valuestring;
            st = open_file(c, dir, e->valuestring);
        }
    }
    cJSON_Delete(j);
    return st;
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static na_status checkpoint_open(checkpoint *c, const char *dir)
{
    char index[4096], single[4096];
    snprintf(index, sizeof index, "%s/model.safetensors.index.json", dir);
    snprintf(single, sizeof single, "%s/model.safetensors", dir);
    na_status st = exists(index) ? open_shards(c, dir, index)
                   : exists(single) ? open_file(c, dir, "model.safetensors")
                                    : na__fail(NA_ERR_IO, WHO ": %s has neither "
                                               "model.safetensors nor "
                                               "model.safetensors.index.json", dir);
    int total = 0;
    for (int i = 0; st == NA_OK && i < c->n_files; i++)
        total += na_safetensors_count(c->files[i]);
    if (st == NA_OK && !(c->t = calloc((size_t)total + 1, sizeof *c->t)))
        st = na__fail(NA_ERR_NO_MEMORY, WHO ": out of memory");
    for (int i = 0; st == NA_OK && i < c->n_files; i++)
        for (int k = 0; k < na_safetensors_count(c->files[i]); k++)
            c->t[c->n++] = (tensor_ref){na_safetensors_label(c->files[i], k), i, false};
    return st;
}

/* The tensor called `name` (GPT-2 files saved from GPT2Model lack the
 * "transformer." prefix). */
static tensor_ref *find(checkpoint *c, const char *name)
{
    const char *bare = strncmp(name, "transformer.", 12) == 0 ? name + 12 : NULL;
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->t[i].name, name) == 0 || (bare && strcmp(c->t[i].name, bare) == 0))
            return &c->t[i];
    return NULL;
}

/* "[a, b]" */
static void dims_str(int n, const int64_t *d, char *buf, size_t cap)
{
    snprintf(buf, cap, n == 1 ? "[%lld]" : "[%lld, %lld]", (long long)d[0],
             (long long)(n > 1 ? d[1] : 0));
}

static na_status check_shape(const na__hf_entry *e, const na_array *x)
{
    int64_t want[2];
    na__hf_entry_shape(e, want);
    bool ok = x->ndim == e->ndim && na_named_count(x) == 0;
    for (int a = 0; ok && a < e->ndim; a++)
        ok = x->shape[a] == want[a];
    if (ok)
        return NA_OK;
    char spec[256], got[64], need[64];
    na__hf_entry_spec(e, spec, sizeof spec);
    dims_str(x->ndim > 2 ? 2 : x->ndim, x->shape, got, sizeof got);
    dims_str(e->ndim, want, need, sizeof need);
    return na__fail(NA_ERR_SHAPE, WHO ": tensor '%s' has shape %s%s, but the config needs "
                    "%s (%s for '%s')", e->hf, x->ndim > 2 ? "(rank > 2) " : "", got, need,
                    spec, e->label);
}

/* The label's value from its tensor: unflattened, [qkv item], [+1]. */
static na_status entry_value(checkpoint *c, const na__hf_entry *e, na_array **out)
{
    tensor_ref *t = find(c, e->hf);
    if (!t)
        return na__fail(NA_ERR_NOT_FOUND, WHO ": tensor '%s' (for '%s') is missing from "
                        "the checkpoint", e->hf, e->label);
    t->used = true;
    na_array *raw = NULL, *f = NULL, *named = NULL, *item = NULL;
    char spec[256];
    na__hf_entry_spec(e, spec, sizeof spec);
    na_status st = na_safetensors_get(c->files[t->file], t->name, &raw);
    if (st == NA_OK)
        st = raw->dtype == NA_F32 ? na_array_ref(raw, &f) : na_astype(raw, NA_F32, &f);
    if (st == NA_OK)
        st = check_shape(e, f);
    if (st == NA_OK)
        st = na_unflatten(f, spec, &named);
    if (st == NA_OK && e->part >= 0)
        st = na_index_by(named, 1, (na_index[]){NA_AT("qkv", e->part)}, &item);
    const na_array *v = item ? item : named;
    if (st == NA_OK)
        st = e->plus_one ? na_binary_scalar(NA_ADD, v, 1.0, out) : na_copy(v, out);
    na_array *tmp[] = {raw, f, named, item};
    for (int i = 0; i < 4; i++)
        na_array_free(tmp[i]);
    return st;
}

static na_status check_unused(const checkpoint *c, const na_hf_info *info)
{
    for (int i = 0; i < c->n; i++)
        if (!c->t[i].used && !na__hf_ignorable(info, c->t[i].name))
            return na__fail(NA_ERR_FORMAT, WHO ": tensor '%s' is not used by %s (a config "
                            "that does not match the weights?)", c->t[i].name,
                            info->architecture);
    return NA_OK;
}

/* Read every entry, then bind them all at once. */
static na_status load_weights(checkpoint *c, const na_hf_info *info,
                              const na__hf_layout *l, na_layer *model)
{
    na_array **vals = calloc((size_t)l->count + 1, sizeof *vals);
    na_labeled_array *bind = calloc((size_t)l->count + 1, sizeof *bind);
    na_status st = vals && bind ? NA_OK : na__fail(NA_ERR_NO_MEMORY, WHO ": out of memory");
    for (int i = 0; st == NA_OK && i < l->count; i++) {
        st = entry_value(c, &l->items[i], &vals[i]);
        bind[i] = (na_labeled_array){l->items[i].label, vals[i]};
    }
    if (st == NA_OK)
        st = check_unused(c, info);
    if (st == NA_OK)
        st = na_tree_bind(model, l->count, bind, NA_BIND_STRICT);
    for (int i = 0; vals && i < l->count; i++)
        na_array_free(vals[i]);
    free(vals);
    free(bind);
    return st;
}

na_status na_hf_load(const char *dir, na_layer **out, na_hf_info *info)
{
    if (!dir || !out)
        return na__fail(NA_ERR_ARGUMENT, WHO ": NULL argument");
    na_hf_info in;
    na__decoder_spec spec;
    na__hf_layout layout = {0};
    checkpoint c = {0};
    na_layer *m = NULL;
    na_status st = na_hf_read_config(dir, &in);
    if (st == NA_OK)
        st = na__hf_spec(&in, &spec);
    if (st == NA_OK)
        st = na__hf_layout_make(&in, &spec, &layout);
    if (st == NA_OK)
        st = checkpoint_open(&c, dir);
    if (st == NA_OK)
        st = na__decoder_new(&spec, 0, &m);
    if (st == NA_OK)
        st = load_weights(&c, &in, &layout, m);
    in.tensors = c.n;
    in.files = c.n_files;
    checkpoint_close(&c);
    na__hf_layout_free(&layout);
    if (st != NA_OK) {
        na_layer_free(m);
        return st;
    }
    *out = m;
    if (info)
        *info = in;
    return NA_OK;
}
