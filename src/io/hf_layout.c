/* Hugging Face tensor names for each architecture and how each tensor
 * maps onto a parameter label of the models.h tree: nn.Linear weights are
 * [out, in], GPT-2's Conv1D weights [in, out], fused heads unflatten as
 * (kv_heads, query_heads, projection) — the checkpoints' head order. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/hf_internal.h"

static na__hf_entry *add(na__hf_layout *l, int block, const char *hf, const char *label)
{
    if (l->count == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        na__hf_entry *items = realloc(l->items, (size_t)cap * sizeof *items);
        if (!items)
            return NULL;
        l->items = items;
        l->cap = cap;
    }
    na__hf_entry *e = &l->items[l->count++];
    memset(e, 0, sizeof *e);
    snprintf(e->hf, sizeof e->hf, hf, block);
    snprintf(e->label, sizeof e->label, label, block);
    e->part = -1;
    return e;
}

/* Axis groups: a[0..na) flattened into the tensor's axis 0, b[0..nb) into
 * axis 1 (nb 0: a 1-d tensor). */
static void axes(na__hf_entry *e, int na, const na_dim *a, int nb, const na_dim *b)
{
    e->ndim = nb ? 2 : 1;
    e->groups[0] = na;
    e->groups[1] = nb;
    for (int i = 0; i < na + nb; i++) {
        const na_dim *d = i < na ? &a[i] : &b[i - na];
        e->names[i] = d->name;
        e->sizes[i] = d->size;
    }
    e->n_names = na + nb;
}

typedef struct heads {
    int nq, nkv; /* counts of dims */
    na_dim q[3], kv[2];
} heads;

static heads heads_of(const na__decoder_spec *s)
{
    heads h;
    if (s->nkv == s->nq) {
        h.nq = h.nkv = 2;
        h.q[0] = h.kv[0] = (na_dim){"heads", s->nq};
        h.q[1] = h.kv[1] = (na_dim){"projection", s->head_dim};
    } else {
        h.nq = 3, h.nkv = 2;
        h.q[0] = h.kv[0] = (na_dim){"kv_heads", s->nkv};
        h.q[1] = (na_dim){"query_heads", s->nq / s->nkv};
        h.q[2] = h.kv[1] = (na_dim){"projection", s->head_dim};
    }
    return h;
}

#define ADD(l, i, hf, label)                                                   \
    do {                                                                       \
        if (!(e = add(l, i, hf, label)))                                       \
            return na__fail(NA_ERR_NO_MEMORY, "na_hf: out of memory");         \
    } while (0)

/* Llama / Mistral / Qwen2 / Gemma: one block's tensors. */
static na_status llama_block(const na__decoder_spec *s, int i, bool gemma,
                             na__hf_layout *l)
{
    na__hf_entry *e;
    heads h = heads_of(s);
    na_dim E = {"embedding", s->hidden}, F = {"hidden", s->ffn};
    na_dim P = {"projection", s->head_dim};
    static const char *const qkv[] = {"q", "k", "v"}, *const part[] = {"query", "key", "value"};
    char hf[160], label[160];
    ADD(l, i, "model.layers.%d.input_layernorm.weight", "block_%d/pre_attention_norm.scale");
    axes(e, 1, &E, 0, NULL), e->plus_one = gemma;
    for (int k = 0; k < 3; k++) {
        snprintf(hf, sizeof hf, "model.layers.%%d.self_attn.%s_proj.weight", qkv[k]);
        snprintf(label, sizeof label, "block_%%d/attention/%s.weights", part[k]);
        ADD(l, i, hf, label);
        axes(e, k ? h.nkv : h.nq, k ? h.kv : h.q, 1, &E);
        if (!s->qkv_bias)
            continue;
        snprintf(hf, sizeof hf, "model.layers.%%d.self_attn.%s_proj.bias", qkv[k]);
        snprintf(label, sizeof label, "block_%%d/attention/%s.bias", part[k]);
        ADD(l, i, hf, label);
        axes(e, k ? h.nkv : h.nq, k ? h.kv : h.q, 0, NULL);
    }
    ADD(l, i, "model.layers.%d.self_attn.o_proj.weight", "block_%d/attention/output.weights");
    axes(e, 1, &E, h.nq, h.q);
    if (s->out_bias) {
        ADD(l, i, "model.layers.%d.self_attn.o_proj.bias", "block_%d/attention/output.bias");
        axes(e, 1, &E, 0, NULL);
    }
    if (s->qk_norm) {
        ADD(l, i, "model.layers.%d.self_attn.q_norm.weight", "block_%d/attention/query_norm.scale");
        axes(e, 1, &P, 0, NULL), e->plus_one = true;
        ADD(l, i, "model.layers.%d.self_attn.k_norm.weight", "block_%d/attention/key_norm.scale");
        axes(e, 1, &P, 0, NULL), e->plus_one = true;
    }
    if (gemma) {
        ADD(l, i, "model.layers.%d.post_attention_layernorm.weight", "block_%d/post_attention_norm.scale");
        axes(e, 1, &E, 0, NULL), e->plus_one = true;
        ADD(l, i, "model.layers.%d.pre_feedforward_layernorm.weight", "block_%d/pre_mlp_norm.scale");
        axes(e, 1, &E, 0, NULL), e->plus_one = true;
        ADD(l, i, "model.layers.%d.post_feedforward_layernorm.weight", "block_%d/post_mlp_norm.scale");
        axes(e, 1, &E, 0, NULL), e->plus_one = true;
    } else {
        ADD(l, i, "model.layers.%d.post_attention_layernorm.weight", "block_%d/pre_mlp_norm.scale");
        axes(e, 1, &E, 0, NULL);
    }
    static const char *const mlp[] = {"gate", "up", "down"};
    for (int k = 0; k < 3; k++) {
        snprintf(hf, sizeof hf, "model.layers.%%d.mlp.%s_proj.weight", mlp[k]);
        snprintf(label, sizeof label, "block_%%d/mlp/%s.weights", mlp[k]);
        ADD(l, i, hf, label);
        axes(e, 1, k == 2 ? &E : &F, 1, k == 2 ? &F : &E);
        if (!s->mlp_bias)
            continue;
        snprintf(hf, sizeof hf, "model.layers.%%d.mlp.%s_proj.bias", mlp[k]);
        snprintf(label, sizeof label, "block_%%d/mlp/%s.bias", mlp[k]);
        ADD(l, i, hf, label);
        axes(e, 1, k == 2 ? &E : &F, 0, NULL);
    }
    return NA_OK;
}

static na_status llama_layout(const na__decoder_spec *s, bool gemma, na__hf_layout *l)
{
    na__hf_entry *e;
    na_dim E = {"embedding", s->hidden}, V = {"vocab", s->vocab};
    ADD(l, 0, "model.embed_tokens.weight", "embed.embeddings");
    axes(e, 1, &V, 1, &E);
    for (int i = 0; i < s->layers; i++) {
        na_status st = llama_block(s, i, gemma, l);
        if (st != NA_OK)
            return st;
    }
    ADD(l, 0, "model.norm.weight", "final_norm.scale");
    axes(e, 1, &E, 0, NULL), e->plus_one = gemma;
    if (!s->tie) {
        ADD(l, 0, "lm_head.weight", "lm_head.weights");
        axes(e, 1, &V, 1, &E);
    }
    return NA_OK;
}

/* GPT-2: Conv1D weights [in, out]; c_attn holds q, k, v along "qkv". */
static na_status gpt2_block(const na__decoder_spec *s, int i, na__hf_layout *l)
{
    na__hf_entry *e;
    na_dim E = {"embedding", s->hidden}, F = {"hidden", s->ffn};
    na_dim qkv[3] = {{"qkv", 3}, {"heads", s->nq}, {"projection", s->head_dim}};
    static const char *const part[] = {"query", "key", "value"};
    static const char *const norm[] = {"ln_1", "pre_attention_norm", "ln_2", "pre_mlp_norm"};
    for (int k = 0; k < 4; k += 2) {
        char hf[96], label[96];
        snprintf(hf, sizeof hf, "transformer.h.%%d.%s.weight", norm[k]);
        snprintf(label, sizeof label, "block_%%d/%s.scale", norm[k + 1]);
        ADD(l, i, hf, label);
        axes(e, 1, &E, 0, NULL);
        snprintf(hf, sizeof hf, "transformer.h.%%d.%s.bias", norm[k]);
        snprintf(label, sizeof label, "block_%%d/%s.bias", norm[k + 1]);
        ADD(l, i, hf, label);
        axes(e, 1, &E, 0, NULL);
    }
    for (int k = 0; k < 3; k++) {
        char label[96];
        snprintf(label, sizeof label, "block_%%d/attention/%s.weights", part[k]);
        ADD(l, i, "transformer.h.%d.attn.c_attn.weight", label);
        axes(e, 1, &E, 3, qkv), e->part = k;
        snprintf(label, sizeof label, "block_%%d/attention/%s.bias", part[k]);
        ADD(l, i, "transformer.h.%d.attn.c_attn.bias", label);
        axes(e, 3, qkv, 0, NULL), e->part = k;
    }
    ADD(l, i, "transformer.h.%d.attn.c_proj.weight", "block_%d/attention/output.weights");
    axes(e, 2, qkv + 1, 1, &E);
    ADD(l, i, "transformer.h.%d.attn.c_proj.bias", "block_%d/attention/output.bias");
    axes(e, 1, &E, 0, NULL);
    ADD(l, i, "transformer.h.%d.mlp.c_fc.weight", "block_%d/mlp/up.weights");
    axes(e, 1, &E, 1, &F);
    ADD(l, i, "transformer.h.%d.mlp.c_fc.bias", "block_%d/mlp/up.bias");
    axes(e, 1, &F, 0, NULL);
    ADD(l, i, "transformer.h.%d.mlp.c_proj.weight", "block_%d/mlp/down.weights");
    axes(e, 1, &F, 1, &E);
    ADD(l, i, "transformer.h.%d.mlp.c_proj.bias", "block_%d/mlp/down.bias");
    axes(e, 1, &E, 0, NULL);
    return NA_OK;
}

static na_status gpt2_layout(const na__decoder_spec *s, na__hf_layout *l)
{
    na__hf_entry *e;
    na_dim E = {"embedding", s->hidden}, V = {"vocab", s->vocab};
    na_dim P = {"position", s->max_positions};
    ADD(l, 0, "transformer.wte.weight", "embed.embeddings");
    axes(e, 1, &V, 1, &E);
    ADD(l, 0, "transformer.wpe.weight", "position_embed.embeddings");
    axes(e, 1, &P, 1, &E);
    for (int i = 0; i < s->layers; i++) {
        na_status st = gpt2_block(s, i, l);
        if (st != NA_OK)
            return st;
    }
    ADD(l, 0, "transformer.ln_f.weight", "final_norm.scale");
    axes(e, 1, &E, 0, NULL);
    ADD(l, 0, "transformer.ln_f.bias", "final_norm.bias");
    axes(e, 1, &E, 0, NULL);
    if (!s->tie) {
        ADD(l, 0, "lm_head.weight", "lm_head.weights");
        axes(e, 1, &V, 1, &E);
    }
    return NA_OK;
}

na_status na__hf_layout_make(const na_hf_info *info, const na__decoder_spec *s,
                             na__hf_layout *out)
{
    memset(out, 0, sizeof *out);
    na_status st = info->arch == NA_HF_GPT2 ? gpt2_layout(s, out)
                   : llama_layout(s, info->arch != NA_HF_LLAMA, out);
    if (st != NA_OK)
        na__hf_layout_free(out);
    return st;
}

void na__hf_layout_free(na__hf_layout *l)
{
    free(l->items);
    memset(l, 0, sizeof *l);
}

void na__hf_entry_shape(const na__hf_entry *e, int64_t *shape)
{
    int k = 0;
    for (int a = 0; a < e->ndim; a++) {
        shape[a] = 1;
        for (int j = 0; j < e->groups[a]; j++)
            shape[a] *= e->sizes[k++];
    }
}

void na__hf_entry_spec(const na__hf_entry *e, char *buf, size_t cap)
{
    size_t n = 0;
    int k = 0;
    buf[0] = '\0';
    for (int a = 0; a < e->ndim && n < cap; a++) {
        bool group = e->groups[a] > 1;
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", a ? ", " : "", group ? "(" : "");
        for (int j = 0; j < e->groups[a] && n < cap; j++, k++)
            n += (size_t)snprintf(buf + n, cap - n, "%s%s:%lld", j ? " " : "", e->names[k],
                                  (long long)e->sizes[k]);
        if (group && n < cap)
            n += (size_t)snprintf(buf + n, cap - n, ")");
    }
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

bool na__hf_ignorable(const na_hf_info *info, const char *name)
{
    if (ends_with(name, "rotary_emb.inv_freq"))
        return true;
    if (info->arch == NA_HF_GPT2 && (ends_with(name, ".attn.bias") ||
                                     ends_with(name, ".attn.masked_bias")))
        return true;
    bool tied = info->arch == NA_HF_GPT2 ? info->gpt2.tie_word_embeddings
                : info->arch == NA_HF_LLAMA ? info->llama.tie_word_embeddings
                                            : info->gemma.tie_word_embeddings;
    return tied && strcmp(name, "lm_head.weight") == 0;
}

na_status na__hf_spec(const na_hf_info *info, na__decoder_spec *s)
{
    switch (info->arch) {
    case NA_HF_LLAMA: return na__llama_spec(&info->llama, s);
    case NA_HF_GPT2: return na__gpt2_spec(&info->gpt2, s);
    case NA_HF_GEMMA2:
    case NA_HF_GEMMA3: return na__gemma_spec(&info->gemma, s);
    }
    return na__fail(NA_ERR_UNSUPPORTED, "na_hf: unknown architecture %d", (int)info->arch);
}
