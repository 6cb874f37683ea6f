/* config.json of a Hugging Face model directory -> the models.h config of
 * its architecture (cJSON). Unknown architectures, activations, rope
 * scalings and layer patterns are errors naming the field. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/hf_internal.h"

#define WHO "na_hf_read_config"

typedef struct cfg_reader {
    const cJSON *root;
    const char *path;
} cfg_reader;

/* A number field: required (no default) unless `dflt` is given; JSON null
 * counts as absent. */
static na_status num(const cfg_reader *r, const char *key, bool required, double dflt,
                     double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->root, key);
    if (!v || cJSON_IsNull(v)) {
        if (required)
            return na__fail(NA_ERR_FORMAT, WHO ": %s: missing '%s'", r->path, key);
        *out = dflt;
        return NA_OK;
    }
    if (!cJSON_IsNumber(v))
        return na__fail(NA_ERR_FORMAT, WHO ": %s: '%s' must be a number", r->path, key);
    *out = v->valuedouble;
    return NA_OK;
}

static bool flag(const cfg_reader *r, const char *key, bool dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->root, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

static const char *str(const cfg_reader *r, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->root, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A string field that must be one of `ok` when present. */
static na_status one_of(const cfg_reader *r, const char *key, const char *const *ok)
{
    const char *v = str(r, key);
    for (int i = 0; v && ok[i]; i++)
        if (strcmp(v, ok[i]) == 0)
            return NA_OK;
    return v ? na__fail(NA_ERR_UNSUPPORTED, WHO ": %s: %s \"%s\" is not supported "
                        "(supported: \"%s\")", r->path, key, v, ok[0])
             : NA_OK;
}

static na_status rope_scaling(const cfg_reader *r, na_rope_scaling *out)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(r->root, "rope_scaling");
    memset(out, 0, sizeof *out);
    if (!s || cJSON_IsNull(s))
        return NA_OK;
    cfg_reader sub = {s, r->path};
    const char *type = str(&sub, "rope_type") ? str(&sub, "rope_type") : str(&sub, "type");
    double f = 0, lo = 0, hi = 0, orig = 0;
    na_status st = num(&sub, "factor", false, 1, &f);
    if (st != NA_OK)
        return st;
    out->factor = f;
    if (!type || strcmp(type, "default") == 0)
        return NA_OK;
    if (strcmp(type, "linear") == 0) {
        out->rope_type = NA_ROPE_SCALING_LINEAR;
        return NA_OK;
    }
    if (strcmp(type, "llama3") != 0)
        return na__fail(NA_ERR_UNSUPPORTED, WHO ": %s: rope_scaling type \"%s\" is not "
                        "supported (linear, llama3)", r->path, type);
    out->rope_type = NA_ROPE_SCALING_LLAMA3;
    st = num(&sub, "low_freq_factor", true, 0, &lo);
    if (st == NA_OK)
        st = num(&sub, "high_freq_factor", true, 0, &hi);
    if (st == NA_OK)
        st = num(&sub, "original_max_position_embeddings", true, 0, &orig);
    out->low_freq_factor = lo, out->high_freq_factor = hi;
    out->original_max_position_embeddings = (int64_t)orig;
    return st;
}

/* vocab_size .. num_attention_heads, shared by Llama and Gemma. */
static na_status common_sizes(const cfg_reader *r, double *v)
{
    static const char *const keys[] = {"vocab_size", "hidden_size", "intermediate_size",
                                       "num_hidden_layers", "num_attention_heads"};
    na_status st = NA_OK;
    for (int i = 0; i < 5 && st == NA_OK; i++)
        st = num(r, keys[i], true, 0, &v[i]);
    return st;
}

static na_status read_llama(const cfg_reader *r, const char *type, na_llama_config *c)
{
    static const char *const act[] = {"silu", NULL};
    double v[5], kv, hd, eps, theta, win, maxp;
    na_llama_config_init(c);
    na_status st = common_sizes(r, v);
    if (st == NA_OK)
        st = num(r, "num_key_value_heads", false, v[4], &kv);
    if (st == NA_OK)
        st = num(r, "head_dim", false, 0, &hd);
    if (st == NA_OK)
        st = num(r, "rms_norm_eps", false, 1e-6, &eps);
    if (st == NA_OK)
        st = num(r, "rope_theta", false, 10000, &theta);
    if (st == NA_OK)
        st = num(r, "sliding_window", false, 0, &win);
    if (st == NA_OK)
        st = num(r, "max_position_embeddings", false, 2048, &maxp);
    if (st == NA_OK)
        st = one_of(r, "hidden_act", act);
    if (st == NA_OK)
        st = rope_scaling(r, &c->rope_scaling);
    if (st != NA_OK)
        return st;
    bool qwen = strcmp(type, "qwen2") == 0;
    c->vocab_size = (int64_t)v[0], c->hidden_size = (int64_t)v[1];
    c->intermediate_size = (int64_t)v[2], c->num_hidden_layers = (int)v[3];
    c->num_attention_heads = (int)v[4], c->num_key_value_heads = (int)kv;
    c->head_dim = (int64_t)hd, c->rms_norm_eps = eps, c->rope_theta = theta;
    c->max_position_embeddings = (int64_t)maxp;
    c->tie_word_embeddings = flag(r, "tie_word_embeddings", false);
    c->attention_bias = qwen || flag(r, "attention_bias", false);
    c->o_proj_bias = !qwen && c->attention_bias;
    c->mlp_bias = flag(r, "mlp_bias", false);
    bool window = strcmp(type, "mistral") == 0 || (qwen && flag(r, "use_sliding_window", false));
    c->sliding_window = window ? (int64_t)win : 0;
    return NA_OK;
}

static na_status read_gpt2(const cfg_reader *r, na_gpt2_config *c)
{
    static const char *const act[] = {"gelu_new", "gelu_pytorch_tanh", NULL};
    static const char *const keys[] = {"vocab_size", "n_positions", "n_embd", "n_layer",
                                       "n_head"};
    double v[5], inner, eps;
    na_gpt2_config_init(c);
    na_status st = NA_OK;
    for (int i = 0; i < 5 && st == NA_OK; i++)
        st = num(r, keys[i], true, 0, &v[i]);
    if (st == NA_OK)
        st = num(r, "n_inner", false, 0, &inner);
    if (st == NA_OK)
        st = num(r, "layer_norm_epsilon", false, 1e-5, &eps);
    if (st == NA_OK)
        st = one_of(r, "activation_function", act);
    if (st == NA_OK && (flag(r, "scale_attn_by_inverse_layer_idx", false) ||
                        !flag(r, "scale_attn_weights", true)))
        st = na__fail(NA_ERR_UNSUPPORTED, WHO ": %s: scale_attn_by_inverse_layer_idx / "
                      "scale_attn_weights=false are not supported", r->path);
    if (st != NA_OK)
        return st;
    c->vocab_size = (int64_t)v[0], c->n_positions = (int64_t)v[1];
    c->n_embd = (int64_t)v[2], c->n_layer = (int)v[3], c->n_head = (int)v[4];
    c->n_inner = (int64_t)inner, c->layer_norm_epsilon = eps;
    c->tie_word_embeddings = flag(r, "tie_word_embeddings", true);
    return NA_OK;
}

/* Newer configs list "layer_types"; they must agree with the pattern. */
static na_status check_layer_types(const cfg_reader *r, const na_gemma_config *c)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(r->root, "layer_types");
    if (!t || cJSON_IsNull(t))
        return NA_OK;
    na__decoder_spec s;
    na_status st = na__gemma_spec(c, &s);
    for (int i = 0; st == NA_OK && i < c->num_hidden_layers; i++) {
        const cJSON *x = cJSON_GetArrayItem(t, i);
        bool local = cJSON_IsString(x) && strcmp(x->valuestring, "sliding_attention") == 0;
        if (!cJSON_IsString(x) || local != na__spec_is_local(&s, i))
            st = na__fail(NA_ERR_UNSUPPORTED, WHO ": %s: layer_types[%d] does not follow "
                          "sliding_window_pattern %d", r->path, i,
                          c->sliding_window_pattern);
    }
    return st;
}

static na_status read_gemma(const cfg_reader *r, int version, na_gemma_config *c)
{
    static const char *const act[] = {"gelu_pytorch_tanh", NULL};
    na_gemma_config_init(c, version);
    double v[5], x[10];
    static const char *const keys[] = {"num_key_value_heads", "head_dim", "rms_norm_eps",
                                       "rope_theta", "rope_local_base_freq",
                                       "query_pre_attn_scalar", "attn_logit_softcapping",
                                       "final_logit_softcapping", "sliding_window",
                                       "sliding_window_pattern"};
    double dflt[10] = {c->num_key_value_heads, c->head_dim, c->rms_norm_eps,
                       c->rope_theta, c->rope_local_base_freq, c->query_pre_attn_scalar,
                       0, 0, c->sliding_window, c->sliding_window_pattern};
    na_status st = common_sizes(r, v);
    for (int i = 0; i < 10 && st == NA_OK; i++)
        st = num(r, keys[i], false, dflt[i], &x[i]);
    if (st == NA_OK)
        st = one_of(r, "hidden_activation", act);
    if (st == NA_OK)
        st = rope_scaling(r, &c->rope_scaling);
    if (st != NA_OK)
        return st;
    c->vocab_size = (int64_t)v[0], c->hidden_size = (int64_t)v[1];
    c->intermediate_size = (int64_t)v[2], c->num_hidden_layers = (int)v[3];
    c->num_attention_heads = (int)v[4], c->num_key_value_heads = (int)x[0];
    c->head_dim = (int64_t)x[1], c->rms_norm_eps = x[2], c->rope_theta = x[3];
    c->rope_local_base_freq = x[4], c->query_pre_attn_scalar = x[5];
    c->attn_logit_softcapping = x[6], c->final_logit_softcapping = x[7];
    c->sliding_window = (int64_t)x[8], c->sliding_window_pattern = (int)x[9];
    c->tie_word_embeddings = flag(r, "tie_word_embeddings", true);
    c->attention_bias = flag(r, "attention_bias", false);
    return check_layer_types(r, c);
}

static const struct {
    const char *architecture;
    na_hf_arch arch;
} known[] = {
    {"LlamaForCausalLM", NA_HF_LLAMA}, {"MistralForCausalLM", NA_HF_LLAMA},
    {"Qwen2ForCausalLM", NA_HF_LLAMA}, {"GPT2LMHeadModel", NA_HF_GPT2},
    {"Gemma2ForCausalLM", NA_HF_GEMMA2}, {"Gemma3ForCausalLM", NA_HF_GEMMA3},
};

static na_status pick_arch(const cfg_reader *r, na_hf_info *info)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(r->root, "architectures");
    const cJSON *first = cJSON_IsArray(a) ? cJSON_GetArrayItem(a, 0) : NULL;
    const char *type = str(r, "model_type");
    if (!cJSON_IsString(first) || !type)
        return na__fail(NA_ERR_FORMAT, WHO ": %s: needs \"architectures\" (a list of "
                        "strings) and \"model_type\"", r->path);
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(first->valuestring, known[i].architecture) == 0) {
            info->arch = known[i].arch;
            snprintf(info->architecture, sizeof info->architecture, "%s",
                     first->valuestring);
            snprintf(info->model_type, sizeof info->model_type, "%s", type);
            return NA_OK;
        }
    return na__fail(NA_ERR_UNSUPPORTED, WHO ": %s: architecture \"%s\" is not supported "
                    "(LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, "
                    "GPT2LMHeadModel, Gemma2ForCausalLM, Gemma3ForCausalLM)", r->path,
                    first->valuestring);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = (size_t)n;
    }
    return buf;
}

na_status na__hf_read_json(const char *path, cJSON **out)
{
    size_t len = 0;
    char *text = slurp(path, &len);
    if (!text)
        return na__fail(NA_ERR_IO, "na_hf: cannot read %s", path);
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return na__fail(NA_ERR_FORMAT, "na_hf: %s is not a JSON object", path);
    }
    *out = j;
    return NA_OK;
}

na_status na_hf_read_config(const char *dir, na_hf_info *out)
{
    if (!dir || !out)
        return na__fail(NA_ERR_ARGUMENT, WHO ": NULL argument");
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    cJSON *j = NULL;
    na_status st = na__hf_read_json(path, &j);
    if (st != NA_OK)
        return st;
    na_hf_info info;
    memset(&info, 0, sizeof info);
    cfg_reader r = {j, path};
    st = pick_arch(&r, &info);
    if (st == NA_OK && info.arch == NA_HF_LLAMA)
        st = read_llama(&r, info.model_type, &info.llama);
    else if (st == NA_OK && info.arch == NA_HF_GPT2)
        st = read_gpt2(&r, &info.gpt2);
    else if (st == NA_OK)
        st = read_gemma(&r, info.arch == NA_HF_GEMMA2 ? 2 : 3, &info.gemma);
    cJSON_Delete(j);
    if (st == NA_OK)
        *out = info;
    return st;
}
