/* Writing a model back as a Hugging Face directory: config.json from the
 * config in na_hf_info and model.safetensors with the architecture's
 * tensor names and shapes (the inverse of hf_import.c). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/hf_internal.h"
#include "namedarr/tree.h"

#define WHO "na_hf_save"

static const na_array *param_value(const na_param_list *l, const char *label)
{
    for (int i = 0; i < l->count; i++)
        if (strcmp(l->items[i].param->label, label) == 0)
            return l->items[i].param->value;
    na__fail(NA_ERR_NOT_FOUND, WHO ": the model has no parameter '%s'", label);
    return NULL;
}

/* The tensor of entry k (k is the first of three for a fused qkv). */
static na_status tensor_of(const na_param_list *pl, const na__hf_layout *l, int k,
                           na_array **out)
{
    const na__hf_entry *e = &l->items[k];
    na_array *joined = NULL, *shifted = NULL, *ordered = NULL, *flat = NULL, *pos = NULL;
    const na_array *v = NULL;
    na_status st = NA_OK;
    if (e->part >= 0) {
        const na_array *parts[3];
        for (int i = 0; i < 3 && st == NA_OK; i++)
            st = (parts[i] = param_value(pl, l->items[k + 2 * i].label)) ? NA_OK
                                                                        : na_last_status();
        if (st == NA_OK)
            st = na_stack(3, parts, "qkv", &joined);
        v = joined;
    } else {
        v = param_value(pl, e->label);
        st = v ? NA_OK : na_last_status();
    }
    if (st == NA_OK && e->plus_one)
        st = na_binary_scalar(NA_SUB, v, 1.0, &shifted);
    const char *names[NA__HF_MAX_NAMES + 1] = {0};
    memcpy(names, e->names, sizeof(char *) * (size_t)e->n_names);
    int64_t shape[2];
    na__hf_entry_shape(e, shape);
    if (st == NA_OK)
        st = na_order_as(shifted ? shifted : v, names, &ordered);
    if (st == NA_OK)
        st = na_contiguous(ordered, &flat);
    if (st == NA_OK)
        st = na_untag(flat, names, &pos);
    if (st == NA_OK)
        st = na_reshape(pos, e->ndim, shape, out);
    na_array *tmp[] = {joined, shifted, ordered, flat, pos};
    for (int i = 0; i < 5; i++)
        na_array_free(tmp[i]);
    return st;
}

/* Every tensor once (a fused qkv: its first entry), written to path. */
static na_status write_tensors(const na_layer *model, const na__hf_layout *l,
                               const char *path)
{
    na_param_list pl = {0};
    na_status st = na_tree_params(model, &pl);
    na_array **arrays = calloc((size_t)l->count + 1, sizeof *arrays);
    const char **names = calloc((size_t)l->count + 1, sizeof *names);
    int n = 0;
    if (st == NA_OK && (!arrays || !names))
        st = na__fail(NA_ERR_NO_MEMORY, WHO ": out of memory");
    for (int k = 0; st == NA_OK && k < l->count; k++) {
        if (l->items[k].part > 0)
            continue;
        names[n] = l->items[k].hf;
        st = tensor_of(&pl, l, k, &arrays[n]);
        n += st == NA_OK;
    }
    if (st == NA_OK)
        st = na_safetensors_write(path, n, names, (const na_array *const *)arrays);
    for (int i = 0; i < n; i++)
        na_array_free(arrays[i]);
    free(arrays);
    free(names);
    na_param_list_clear(&pl);
    return st;
}

static void put_rope_scaling(cJSON *j, const na_rope_scaling *r)
{
    if (r->rope_type == NA_ROPE_SCALING_NONE) {
        cJSON_AddNullToObject(j, "rope_scaling");
        return;
    }
    cJSON *s = cJSON_AddObjectToObject(j, "rope_scaling");
    cJSON_AddStringToObject(s, "rope_type",
                            r->rope_type == NA_ROPE_SCALING_LINEAR ? "linear" : "llama3");
    cJSON_AddNumberToObject(s, "factor", r->factor);
    if (r->rope_type == NA_ROPE_SCALING_LLAMA3) {
        cJSON_AddNumberToObject(s, "low_freq_factor", r->low_freq_factor);
        cJSON_AddNumberToObject(s, "high_freq_factor", r->high_freq_factor);
        cJSON_AddNumberToObject(s, "original_max_position_embeddings",
                                (double)r->original_max_position_embeddings);
    }
}

static void put_llama(cJSON *j, const na_llama_config *c, bool qwen)
{
    cJSON_AddNumberToObject(j, "vocab_size", (double)c->vocab_size);
    cJSON_AddNumberToObject(j, "hidden_size", (double)c->hidden_size);
    cJSON_AddNumberToObject(j, "intermediate_size", (double)c->intermediate_size);
    cJSON_AddNumberToObject(j, "num_hidden_layers", c->num_hidden_layers);
    cJSON_AddNumberToObject(j, "num_attention_heads", c->num_attention_heads);
    cJSON_AddNumberToObject(j, "num_key_value_heads", c->num_key_value_heads);
    if (c->head_dim)
        cJSON_AddNumberToObject(j, "head_dim", (double)c->head_dim);
    cJSON_AddNumberToObject(j, "rms_norm_eps", c->rms_norm_eps);
    cJSON_AddNumberToObject(j, "rope_theta", c->rope_theta);
    put_rope_scaling(j, &c->rope_scaling);
    cJSON_AddBoolToObject(j, "tie_word_embeddings", c->tie_word_embeddings);
    if (!qwen)
        cJSON_AddBoolToObject(j, "attention_bias", c->attention_bias);
    cJSON_AddBoolToObject(j, "mlp_bias", c->mlp_bias);
    cJSON_AddStringToObject(j, "hidden_act", "silu");
    if (c->sliding_window)
        cJSON_AddNumberToObject(j, "sliding_window", (double)c->sliding_window);
    if (qwen)
        cJSON_AddBoolToObject(j, "use_sliding_window", c->sliding_window > 0);
    cJSON_AddNumberToObject(j, "max_position_embeddings", (double)c->max_position_embeddings);
}

static void put_gpt2(cJSON *j, const na_gpt2_config *c)
{
    cJSON_AddNumberToObject(j, "vocab_size", (double)c->vocab_size);
    cJSON_AddNumberToObject(j, "n_positions", (double)c->n_positions);
    cJSON_AddNumberToObject(j, "n_embd", (double)c->n_embd);
    cJSON_AddNumberToObject(j, "n_layer", c->n_layer);
    cJSON_AddNumberToObject(j, "n_head", c->n_head);
    if (c->n_inner)
        cJSON_AddNumberToObject(j, "n_inner", (double)c->n_inner);
    else
        cJSON_AddNullToObject(j, "n_inner");
    cJSON_AddNumberToObject(j, "layer_norm_epsilon", c->layer_norm_epsilon);
    cJSON_AddStringToObject(j, "activation_function", "gelu_new");
    cJSON_AddBoolToObject(j, "tie_word_embeddings", c->tie_word_embeddings);
}

static void put_gemma(cJSON *j, const na_gemma_config *c)
{
    const char *keys[] = {"vocab_size", "hidden_size", "intermediate_size",
                          "num_hidden_layers", "num_attention_heads",
                          "num_key_value_heads", "head_dim", "rms_norm_eps", "rope_theta",
                          "query_pre_attn_scalar", "sliding_window"};
    double v[] = {(double)c->vocab_size, (double)c->hidden_size,
                  (double)c->intermediate_size, c->num_hidden_layers,
                  c->num_attention_heads, c->num_key_value_heads, (double)c->head_dim,
                  c->rms_norm_eps, c->rope_theta, c->query_pre_attn_scalar,
                  (double)c->sliding_window};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        cJSON_AddNumberToObject(j, keys[i], v[i]);
    const char *caps[] = {"attn_logit_softcapping", "final_logit_softcapping"};
    double cv[] = {c->attn_logit_softcapping, c->final_logit_softcapping};
    for (int i = 0; i < 2; i++)
        if (cv[i] > 0)
            cJSON_AddNumberToObject(j, caps[i], cv[i]);
        else
            cJSON_AddNullToObject(j, caps[i]);
    cJSON_AddNumberToObject(j, "sliding_window_pattern", c->sliding_window_pattern);
    if (c->version == 3) {
        cJSON_AddNumberToObject(j, "rope_local_base_freq", c->rope_local_base_freq);
        put_rope_scaling(j, &c->rope_scaling);
    }
    cJSON_AddStringToObject(j, "hidden_activation", "gelu_pytorch_tanh");
    cJSON_AddBoolToObject(j, "tie_word_embeddings", c->tie_word_embeddings);
    cJSON_AddBoolToObject(j, "attention_bias", c->attention_bias);
    cJSON_AddNumberToObject(j, "max_position_embeddings", (double)c->max_position_embeddings);
}

static na_status write_config(const na_hf_info *info, const char *path)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *a = j ? cJSON_AddArrayToObject(j, "architectures") : NULL;
    if (a)
        cJSON_AddItemToArray(a, cJSON_CreateString(info->architecture));
    if (j)
        cJSON_AddStringToObject(j, "model_type", info->model_type);
    if (j && info->arch == NA_HF_LLAMA)
        put_llama(j, &info->llama, strcmp(info->model_type, "qwen2") == 0);
    else if (j && info->arch == NA_HF_GPT2)
        put_gpt2(j, &info->gpt2);
    else if (j)
        put_gemma(j, &info->gemma);
    char *text = j ? cJSON_Print(j) : NULL;
    cJSON_Delete(j);
    if (!text)
        return na__fail(NA_ERR_NO_MEMORY, WHO ": out of memory");
    FILE *f = fopen(path, "wb");
    bool ok = f && fputs(text, f) >= 0;
    ok = (f && fclose(f) == 0) && ok;
    free(text);
    return ok ? NA_OK : na__fail(NA_ERR_IO, WHO ": cannot write %s", path);
}

na_status na_hf_save(const na_layer *model, const na_hf_info *info, const char *dir)
{
    if (!model || !info || !dir)
        return na__fail(NA_ERR_ARGUMENT, WHO ": NULL argument");
    na__decoder_spec spec;
    na__hf_layout layout = {0};
    char path[4096];
    na_status st = na__hf_spec(info, &spec);
    if (st == NA_OK)
        st = na__hf_layout_make(info, &spec, &layout);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (st == NA_OK)
        st = write_tensors(model, &layout, path);
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (st == NA_OK)
        st = write_config(info, path);
    na__hf_layout_free(&layout);
    return st;
}
