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

/* The tensor's shape (from its header, through a view: no data read for
 * f32/bf16) against the entry's. */
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

static na_status check_unused(const checkpoint *c, const na_hf_info *info)
{
    for (int i = 0; i < c->n; i++)
        if (!c->t[i].used && !na__hf_ignorable(info, c->t[i].name))
            return na__fail(NA_ERR_FORMAT, WHO ": tensor '%s' is not used by %s (a config "
                            "that does not match the weights?)", c->t[i].name,
                            info->architecture);
    return NA_OK;
}

struct na_hf_checkpoint {
    na_hf_info info;
    na__decoder_spec spec;
    na__hf_layout layout;
    checkpoint files;
    int *tensor;            /* per layout entry: its index in files.t */
};

/* Every entry's tensor found and its shape checked; nothing unused. */
static na_status check_entries(na_hf_checkpoint *c)
{
    if (!(c->tensor = calloc((size_t)c->layout.count + 1, sizeof *c->tensor)))
        return na__fail(NA_ERR_NO_MEMORY, WHO ": out of memory");
    for (int i = 0; i < c->layout.count; i++) {
        const na__hf_entry *e = &c->layout.items[i];
        tensor_ref *t = find(&c->files, e->hf);
        if (!t)
            return na__fail(NA_ERR_NOT_FOUND, WHO ": tensor '%s' (for '%s') is missing from "
                            "the checkpoint", e->hf, e->label);
        t->used = true;
        c->tensor[i] = (int)(t - c->files.t);
        na_array *v = NULL;
        na_status st = na_safetensors_view(c->files.files[t->file], t->name, &v);
        if (st == NA_OK)
            st = check_shape(e, v);
        na_array_free(v);
        if (st != NA_OK)
            return st;
    }
    return check_unused(&c->files, &c->info);
}

na_status na_hf_open(const char *dir, na_hf_checkpoint **out)
{
    if (!dir || !out)
        return na__fail(NA_ERR_ARGUMENT, WHO ": NULL argument");
    na_hf_checkpoint *c = calloc(1, sizeof *c);
    if (!c)
        return na__fail(NA_ERR_NO_MEMORY, WHO ": out of memory");
    na_status st = na_hf_read_config(dir, &c->info);
    if (st == NA_OK)
        st = na__hf_spec(&c->info, &c->spec);
    if (st == NA_OK)
        st = na__hf_layout_make(&c->info, &c->spec, &c->layout);
    if (st == NA_OK)
        st = checkpoint_open(&c->files, dir);
    if (st == NA_OK)
        st = check_entries(c);
    c->info.tensors = c->files.n;
    c->info.files = c->files.n_files;
    if (st != NA_OK) {
        na_hf_close(c);
        return st;
    }
    *out = c;
    return NA_OK;
}

void na_hf_close(na_hf_checkpoint *c)
{
    if (!c)
        return;
    checkpoint_close(&c->files);
    na__hf_layout_free(&c->layout);
    free(c->tensor);
    free(c);
}

const na_hf_info *na_hf_checkpoint_info(const na_hf_checkpoint *c)
{
    return c ? &c->info : NULL;
}

na_status na_hf_checkpoint_build(const na_hf_checkpoint *c, uint64_t seed, na_layer **out)
{
    if (!c || !out)
        return na__fail(NA_ERR_ARGUMENT, "na_hf_checkpoint_build: NULL argument");
    return na__decoder_new(&c->spec, seed, out);
}

static int entry_index(const na_hf_checkpoint *c, const char *label)
{
    for (int i = 0; label && i < c->layout.count; i++)
        if (strcmp(c->layout.items[i].label, label) == 0)
            return i;
    return -1;
}

na_status na_hf_param_dims(const na_hf_checkpoint *c, const char *label, int *ndim,
                           na_dim *out)
{
    int i = c && ndim && out ? entry_index(c, label) : -2;
    if (i < 0)
        return na__fail(i == -1 ? NA_ERR_NOT_FOUND : NA_ERR_ARGUMENT,
                        "na_hf_param_dims: %s", i == -1 ? "no such label" : "NULL argument");
    const na__hf_entry *e = &c->layout.items[i];
    *ndim = 0;
    for (int k = 0; k < e->n_names; k++)
        if (e->part < 0 || strcmp(e->names[k], "qkv") != 0)
            out[(*ndim)++] = (na_dim){e->names[k], e->sizes[k]};
    return NA_OK;
}

/* The entry's tensor as the label's named view: unflattened, [qkv item]. */
static na_status entry_view(const na_hf_checkpoint *c, int i, na_array **out)
{
    const na__hf_entry *e = &c->layout.items[i];
    const tensor_ref *t = &c->files.t[c->tensor[i]];
    na_array *raw = NULL, *named = NULL;
    char spec[256];
    na__hf_entry_spec(e, spec, sizeof spec);
    na_status st = na_safetensors_view(c->files.files[t->file], t->name, &raw);
    if (st == NA_OK)
        st = na_unflatten(raw, spec, &named);
    if (st == NA_OK && e->part >= 0)
        st = na_index_by(named, 1, (na_index[]){NA_AT("qkv", e->part)}, out);
    else if (st == NA_OK)
        st = na_array_ref(named, out);
    na_array_free(raw);
    na_array_free(named);
    return st;
}

na_status na_hf_get_block(const na_hf_checkpoint *c, const char *label, int n,
                          const na_index *ranges, na_array **out)
{
    const char *who = "na_hf_get_block";
    if (!c || !label || !out || n < 0 || (n > 0 && !ranges))
        return na__fail(NA_ERR_ARGUMENT, "%s: NULL argument or negative count", who);
    int i = entry_index(c, label);
    if (i < 0)
        return na__fail(NA_ERR_NOT_FOUND, "%s: no parameter '%s' in the layout of %s", who,
                        label, c->info.architecture);
    na_array *view = NULL, *block = NULL, *f = NULL;
    na_status st = entry_view(c, i, &view);
    if (st == NA_OK)
        st = n ? na_index_by(view, n, ranges, &block) : na_array_ref(view, &block);
    if (st == NA_OK) /* only the block's bytes are read here */
        st = block->dtype == NA_F32 ? na_copy(block, &f) : na_astype(block, NA_F32, &f);
    if (st == NA_OK && c->layout.items[i].plus_one)
        st = na_binary_scalar(NA_ADD, f, 1.0, out);
    else if (st == NA_OK)
        *out = f, f = NULL;
    if (st != NA_OK)
        na__fail_append(" (%s: '%s', tensor '%s')", who, label, c->layout.items[i].hf);
    na_array_free(view), na_array_free(block), na_array_free(f);
    return st;
}

/* Read every entry whole, then bind them all at once. */
static na_status load_weights(const na_hf_checkpoint *c, na_layer *model)
{
    const na__hf_layout *l = &c->layout;
    na_array **vals = calloc((size_t)l->count + 1, sizeof *vals);
    na_labeled_array *bind = calloc((size_t)l->count + 1, sizeof *bind);
    na_status st = vals && bind ? NA_OK : na__fail(NA_ERR_NO_MEMORY, WHO ": out of memory");
    for (int i = 0; st == NA_OK && i < l->count; i++) {
        st = na_hf_get_block(c, l->items[i].label, 0, NULL, &vals[i]);
        bind[i] = (na_labeled_array){l->items[i].label, vals[i]};
    }
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
    na_hf_checkpoint *c = NULL;
    na_layer *m = NULL;
    na_status st = na_hf_open(dir, &c);
    if (st == NA_OK)
        st = na_hf_checkpoint_build(c, 0, &m);
    if (st == NA_OK)
        st = load_weights(c, m);
    if (st == NA_OK && info)
        *info = c->info;
    na_hf_close(c);
    if (st != NA_OK) {
        na_layer_free(m);
        return st;
    }
    *out = m;
    return NA_OK;
}
