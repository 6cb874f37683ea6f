/* Hugging Face checkpoint layouts (src/io/hf_*.c, not installed): which
 * tensor of a model directory holds which parameter label, and how its
 * positional axes unflatten into the label's named axes. Prefix na__hf_. */
#ifndef NAMEDARR_HF_INTERNAL_H
#define NAMEDARR_HF_INTERNAL_H

#include "models/models_internal.h"
#include "namedarr/safetensors.h"

#define NA__HF_MAX_NAMES 6

/* One tensor <-> one label. The tensor's axis a holds the named axes
 * names[first_a .. first_a + groups[a]) flattened row-major. */
typedef struct na__hf_entry {
    char hf[160];           /* "model.layers.0.self_attn.q_proj.weight"   */
    char label[160];        /* "block_0/attention/query.weights"           */
    int ndim;               /* 1 or 2                                      */
    int groups[2];
    int n_names;
    const char *names[NA__HF_MAX_NAMES];
    int64_t sizes[NA__HF_MAX_NAMES];
    int part;               /* -1, or the item along "qkv" (GPT-2 c_attn) */
    bool plus_one;          /* Gemma's norms store w, the scale is 1 + w   */
} na__hf_entry;

typedef struct na__hf_layout {
    int count, cap;
    na__hf_entry *items;
} na__hf_layout;

/* The spec of info's config (errors name the config field). */
na_status na__hf_spec(const na_hf_info *info, na__decoder_spec *s);
/* Every tensor of the architecture, in checkpoint order. */
na_status na__hf_layout_make(const na_hf_info *info, const na__decoder_spec *s,
                             na__hf_layout *out);
void na__hf_layout_free(na__hf_layout *l);
/* The HF tensor shape of an entry. */
void na__hf_entry_shape(const na__hf_entry *e, int64_t *shape);
/* "(kv_heads:2 query_heads:2 projection:8), embedding:32" for na_unflatten. */
void na__hf_entry_spec(const na__hf_entry *e, char *buf, size_t cap);
/* Parse a JSON object file (hf_config.c); errors name the path. */
typedef struct cJSON cJSON;
na_status na__hf_read_json(const char *path, cJSON **out);
/* Tensors a checkpoint may hold that no parameter needs (buffers). */
bool na__hf_ignorable(const na_hf_info *info, const char *name);

#endif
