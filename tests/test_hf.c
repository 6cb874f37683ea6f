/* Hugging Face import and export (models.h): the test writes tiny
 * checkpoints itself in each exact layout — names, shapes, [out, in]
 * transposes, GPT-2's Conv1D and fused c_attn, Gemma's 1 + w norms, tied
 * heads, shards, f32 / f16 / bf16 — from a model's weights, and the
 * imported model must give the same logits as the model itself. Every
 * import error path names what is wrong; export then import round-trips. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <namedarr/models.h>

#include "model_support.h"

enum { B = 2, S = 6, V = 40, E = 32 };

/* ---- a tiny safetensors writer (the test's own) -------------------------- */

typedef enum { TW_F32, TW_F16, TW_BF16 } tw_dtype;

typedef struct tw_tensor {
    char name[128];
    int ndim;
    int64_t shape[2];
    float *data; /* owned, row-major */
} tw_tensor;

typedef struct tw {
    int n;
    tw_tensor t[512];
} tw;

static float *tw_add(tw *w, const char *name, int ndim, int64_t d0, int64_t d1)
{
    tw_tensor *t = &w->t[w->n++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim, t->shape[0] = d0, t->shape[1] = d1;
    t->data = calloc((size_t)(d0 * (ndim > 1 ? d1 : 1)), sizeof(float));
    return t->data;
}

static int64_t tw_size(const tw_tensor *t)
{
    return t->shape[0] * (t->ndim > 1 ? t->shape[1] : 1);
}

static uint16_t to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7FFF + ((u >> 16) & 1); /* round to nearest even */
    return (uint16_t)(u >> 16);
}

static uint16_t to_f16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000;
    int exp = (int)((u >> 23) & 0xFF) - 127 + 15;
    uint32_t man = u & 0x7FFFFF;
    if (exp <= 0) /* tiny test values: flush to zero */
        return (uint16_t)sign;
    uint32_t h = sign | ((uint32_t)exp << 10) | (man >> 13);
    if ((man & 0x1FFF) > 0x1000 || ((man & 0x1FFF) == 0x1000 && (h & 1)))
        h++;
    return (uint16_t)h;
}

static float from_bits(tw_dtype dt, uint16_t h)
{
    if (dt == TW_BF16) {
        uint32_t u = (uint32_t)h << 16;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    int exp = (h >> 10) & 0x1F;
    double m = exp ? 1 + (h & 0x3FF) / 1024.0 : (h & 0x3FF) / 1024.0;
    double v = ldexp(m, exp ? exp - 15 : -14);
    return (float)((h & 0x8000) ? -v : v);
}

/* Round every tensor to dt (in place) so the reference sees what the file
 * holds. */
static void tw_round(tw *w, tw_dtype dt)
{
    for (int i = 0; dt != TW_F32 && i < w->n; i++)
        for (int64_t k = 0; k < tw_size(&w->t[i]); k++) {
            float f = w->t[i].data[k];
            w->t[i].data[k] = from_bits(dt, dt == TW_BF16 ? to_bf16(f) : to_f16(f));
        }
}

/* Write tensors [from, to) of w as one safetensors file. */
static void tw_write(const tw *w, int from, int to, tw_dtype dt, const char *path)
{
    static const char *const names[] = {"F32", "F16", "BF16"};
    size_t es = dt == TW_F32 ? 4 : 2, off = 0, hl = 0;
    char *h = malloc(1 << 20);
    hl += (size_t)sprintf(h + hl, "{");
    for (int i = from; i < to; i++) {
        const tw_tensor *t = &w->t[i];
        size_t bytes = (size_t)tw_size(t) * es;
        hl += (size_t)sprintf(h + hl, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[%lld", i > from ? "," : "",
                              t->name, names[dt], (long long)t->shape[0]);
        if (t->ndim > 1)
            hl += (size_t)sprintf(h + hl, ",%lld", (long long)t->shape[1]);
        hl += (size_t)sprintf(h + hl, "],\"data_offsets\":[%zu,%zu]}", off, off + bytes);
        off += bytes;
    }
    hl += (size_t)sprintf(h + hl, "}");
    while (hl % 8)
        h[hl++] = ' ';
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    uint64_t n = hl;
    fwrite(&n, 8, 1, f);
    fwrite(h, 1, hl, f);
    for (int i = from; i < to; i++)
        for (int64_t k = 0; k < tw_size(&w->t[i]); k++) {
            float v = w->t[i].data[k];
            uint16_t b = dt == TW_BF16 ? to_bf16(v) : to_f16(v);
            fwrite(dt == TW_F32 ? (const void *)&v : (const void *)&b, es, 1, f);
        }
    fclose(f);
    free(h);
}

static void tw_free(tw *w)
{
    for (int i = 0; i < w->n; i++)
        free(w->t[i].data);
    w->n = 0;
}

/* ---- the checkpoint layouts, written from ref_weights ------------------------ */

/* dst[j][i] = src[i][j] for src [n][m]. */
static void transpose(const float *src, int n, int m, float *dst)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++)
            dst[(size_t)j * n + i] = src[(size_t)i * m + j];
}

static void copy_minus(const float *src, int n, float shift, float *dst)
{
    for (int i = 0; i < n; i++)
        dst[i] = src[i] - shift;
}

static void layer_name(char *buf, int i, const char *what)
{
    sprintf(buf, "model.layers.%d.%s", i, what);
}

/* Llama / Mistral / Qwen2 / Gemma (gemma: 1 + w norms and four norms). */
static void write_llama_layout(tw *w, const ref_cfg *c, const ref_weights *r, bool gemma)
{
    int qd = c->nq * c->hd, kd = c->nkv * c->hd;
    float one = gemma ? 1.0f : 0.0f;
    char n[128];
    memcpy(tw_add(w, "model.embed_tokens.weight", 2, V, E), r->embed, sizeof(float) * V * E);
    for (int i = 0; i < c->layers; i++) {
        const ref_block *b = &r->b[i];
        layer_name(n, i, "input_layernorm.weight");
        copy_minus(b->ln1, E, one, tw_add(w, n, 1, E, 0));
        const float *qkv[] = {b->q, b->k, b->v}, *bias[] = {b->qb, b->kb, b->vb};
        const char *nm[] = {"q", "k", "v"};
        for (int k = 0; k < 3; k++) {
            int out = k ? kd : qd;
            sprintf(n, "model.layers.%d.self_attn.%s_proj.weight", i, nm[k]);
            transpose(qkv[k], E, out, tw_add(w, n, 2, out, E));
            sprintf(n, "model.layers.%d.self_attn.%s_proj.bias", i, nm[k]);
            if (bias[k])
                memcpy(tw_add(w, n, 1, out, 0), bias[k], sizeof(float) * (size_t)out);
        }
        layer_name(n, i, "self_attn.o_proj.weight");
        transpose(b->o, qd, E, tw_add(w, n, 2, E, qd));
        if (b->q_norm) {
            layer_name(n, i, "self_attn.q_norm.weight");
            copy_minus(b->q_norm, c->hd, 1, tw_add(w, n, 1, c->hd, 0));
            layer_name(n, i, "self_attn.k_norm.weight");
            copy_minus(b->k_norm, c->hd, 1, tw_add(w, n, 1, c->hd, 0));
        }
        if (gemma) {
            layer_name(n, i, "post_attention_layernorm.weight");
            copy_minus(b->post_attn, E, 1, tw_add(w, n, 1, E, 0));
            layer_name(n, i, "pre_feedforward_layernorm.weight");
            copy_minus(b->ln2, E, 1, tw_add(w, n, 1, E, 0));
            layer_name(n, i, "post_feedforward_layernorm.weight");
            copy_minus(b->post_mlp, E, 1, tw_add(w, n, 1, E, 0));
        } else {
            layer_name(n, i, "post_attention_layernorm.weight");
            copy_minus(b->ln2, E, 0, tw_add(w, n, 1, E, 0));
        }
        layer_name(n, i, "mlp.gate_proj.weight");
        transpose(b->gate, E, c->ffn, tw_add(w, n, 2, c->ffn, E));
        layer_name(n, i, "mlp.up_proj.weight");
        transpose(b->up, E, c->ffn, tw_add(w, n, 2, c->ffn, E));
        layer_name(n, i, "mlp.down_proj.weight");
        transpose(b->down, c->ffn, E, tw_add(w, n, 2, E, c->ffn));
    }
    copy_minus(r->final_norm, E, one, tw_add(w, "model.norm.weight", 1, E, 0));
    if (!c->tie)
        transpose(r->head, E, V, tw_add(w, "lm_head.weight", 2, V, E));
}

/* GPT-2 (GPT2Model names, no "transformer." prefix, plus its mask buffer). */
static void write_gpt2_layout(tw *w, const ref_cfg *c, const ref_weights *r)
{
    char n[128];
    memcpy(tw_add(w, "wte.weight", 2, V, E), r->embed, sizeof(float) * V * E);
    memcpy(tw_add(w, "wpe.weight", 2, 16, E), r->pos, sizeof(float) * 16 * E);
    for (int i = 0; i < c->layers; i++) {
        const ref_block *b = &r->b[i];
        const float *norms[] = {b->ln1, b->ln1_b, b->ln2, b->ln2_b};
        const char *nn[] = {"ln_1.weight", "ln_1.bias", "ln_2.weight", "ln_2.bias"};
        for (int k = 0; k < 4; k++) {
            sprintf(n, "h.%d.%s", i, nn[k]);
            memcpy(tw_add(w, n, 1, E, 0), norms[k], sizeof(float) * E);
        }
        sprintf(n, "h.%d.attn.c_attn.weight", i);
        float *ca = tw_add(w, n, 2, E, 3 * E);
        sprintf(n, "h.%d.attn.c_attn.bias", i);
        float *cb = tw_add(w, n, 1, 3 * E, 0);
        const float *qkv[] = {b->q, b->k, b->v}, *bias[] = {b->qb, b->kb, b->vb};
        for (int k = 0; k < 3; k++)
            for (int e = 0; e < E; e++) {
                cb[k * E + e] = bias[k][e];
                for (int o = 0; o < E; o++)
                    ca[e * 3 * E + k * E + o] = qkv[k][e * E + o];
            }
        sprintf(n, "h.%d.attn.c_proj.weight", i);
        memcpy(tw_add(w, n, 2, E, E), b->o, sizeof(float) * E * E);
        sprintf(n, "h.%d.attn.c_proj.bias", i);
        memcpy(tw_add(w, n, 1, E, 0), b->ob, sizeof(float) * E);
        sprintf(n, "h.%d.mlp.c_fc.weight", i);
        memcpy(tw_add(w, n, 2, E, c->ffn), b->up, sizeof(float) * (size_t)(E * c->ffn));
        sprintf(n, "h.%d.mlp.c_fc.bias", i);
        memcpy(tw_add(w, n, 1, c->ffn, 0), b->up_b, sizeof(float) * (size_t)c->ffn);
        sprintf(n, "h.%d.mlp.c_proj.weight", i);
        memcpy(tw_add(w, n, 2, c->ffn, E), b->down, sizeof(float) * (size_t)(E * c->ffn));
        sprintf(n, "h.%d.mlp.c_proj.bias", i);
        memcpy(tw_add(w, n, 1, E, 0), b->down_b, sizeof(float) * E);
        sprintf(n, "h.%d.attn.bias", i); /* the causal-mask buffer old files hold */
        tw_add(w, n, 2, 4, 4);
    }
    memcpy(tw_add(w, "ln_f.weight", 1, E, 0), r->final_norm, sizeof(float) * E);
    memcpy(tw_add(w, "ln_f.bias", 1, E, 0), r->final_b, sizeof(float) * E);
}

/* ---- fixtures ------------------------------------------------------------------ */

typedef struct arch_case {
    const char *config;      /* config.json text */
    ref_cfg rc;
    int kind;                /* 0 llama-like, 1 gemma, 2 gpt2 */
} arch_case;

static char g_dir[256];

static const char *tmpdir(const char *tag)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/namedarr_hf_%d_%s", (int)getpid(), tag);
    mkdir(g_dir, 0700);
    return g_dir;
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void rm_dir(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static const char *LLAMA_JSON =
    "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\","
    " \"vocab_size\": 40, \"hidden_size\": 32, \"intermediate_size\": 40,"
    " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2,"
    " \"rms_norm_eps\": 1e-05, \"rope_theta\": 500.0, \"hidden_act\": \"silu\","
    " \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 4.0, \"low_freq_factor\": 1.0,"
    " \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 32},"
    " \"tie_word_embeddings\": false, \"max_position_embeddings\": 64,"
    " \"torch_dtype\": \"bfloat16\"}";

static const char *QWEN_JSON =
    "{\"architectures\": [\"Qwen2ForCausalLM\"], \"model_type\": \"qwen2\","
    " \"vocab_size\": 40, \"hidden_size\": 32, \"intermediate_size\": 40,"
    " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 1,"
    " \"rms_norm_eps\": 1e-06, \"rope_theta\": 1000000.0, \"sliding_window\": 4,"
    " \"use_sliding_window\": false, \"tie_word_embeddings\": true}";

static const char *GPT2_JSON =
    "{\"architectures\": [\"GPT2LMHeadModel\"], \"model_type\": \"gpt2\","
    " \"vocab_size\": 40, \"n_positions\": 16, \"n_embd\": 32, \"n_layer\": 2, \"n_head\": 4,"
    " \"n_inner\": null, \"activation_function\": \"gelu_new\", \"layer_norm_epsilon\": 1e-05}";

static const char *GEMMA2_JSON =
    "{\"architectures\": [\"Gemma2ForCausalLM\"], \"model_type\": \"gemma2\","
    " \"vocab_size\": 40, \"hidden_size\": 32, \"intermediate_size\": 48,"
    " \"num_hidden_layers\": 3, \"num_attention_heads\": 4, \"num_key_value_heads\": 2,"
    " \"head_dim\": 8, \"query_pre_attn_scalar\": 16, \"attn_logit_softcapping\": 1.5,"
    " \"final_logit_softcapping\": 2.5, \"sliding_window\": 3, \"rms_norm_eps\": 1e-06,"
    " \"hidden_activation\": \"gelu_pytorch_tanh\"}";

static const char *GEMMA3_JSON =
    "{\"architectures\": [\"Gemma3ForCausalLM\"], \"model_type\": \"gemma3_text\","
    " \"vocab_size\": 40, \"hidden_size\": 32, \"intermediate_size\": 48,"
    " \"num_hidden_layers\": 3, \"num_attention_heads\": 4, \"num_key_value_heads\": 2,"
    " \"head_dim\": 8, \"query_pre_attn_scalar\": 16, \"sliding_window\": 3,"
    " \"sliding_window_pattern\": 3, \"rope_theta\": 1000000.0, \"rope_local_base_freq\": 10000.0,"
    " \"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": 8.0},"
    " \"attn_logit_softcapping\": null, \"final_logit_softcapping\": null,"
    " \"layer_types\": [\"sliding_attention\", \"sliding_attention\", \"full_attention\"]}";

static arch_case case_of(const char *json)
{
    arch_case a = {.config = json};
    ref_cfg base = {.vocab = V, .hidden = E, .hd = 8, .norm = REF_RMS, .gated = true,
                    .act = REF_SILU, .rope = {.on = true, .scale = 1}};
    a.rc = base;
    if (json == LLAMA_JSON) {
        a.rc.ffn = 40, a.rc.layers = 2, a.rc.nq = 4, a.rc.nkv = 2, a.rc.eps = 1e-5;
        a.rc.rope = (ref_rope){.on = true, .theta = 500, .scale = 1, .l3_factor = 4,
                               .l3_low = 1, .l3_high = 4, .l3_orig = 32};
    } else if (json == QWEN_JSON) {
        a.rc.ffn = 40, a.rc.layers = 2, a.rc.nq = 4, a.rc.nkv = 1, a.rc.eps = 1e-6;
        a.rc.rope.theta = 1e6, a.rc.tie = true, a.rc.qkv_bias = true;
    } else if (json == GPT2_JSON) {
        a.kind = 2;
        a.rc = (ref_cfg){.vocab = V, .hidden = E, .ffn = 128, .layers = 2, .nq = 4, .nkv = 4,
                         .hd = 8, .norm = REF_LAYERNORM, .eps = 1e-5, .act = REF_GELU_TANH,
                         .mlp_bias = true, .qkv_bias = true, .out_bias = true,
                         .learned_pos = true, .tie = true};
    } else {
        a.kind = 1;
        bool g3 = json == GEMMA3_JSON;
        a.rc.ffn = 48, a.rc.layers = 3, a.rc.nq = 4, a.rc.nkv = 2, a.rc.eps = 1e-6;
        a.rc.post_norms = true, a.rc.qk_norm = g3, a.rc.act = REF_GELU_TANH;
        a.rc.embed_scale = true, a.rc.tie = true, a.rc.attn_scale = 0.25;
        a.rc.window = 3, a.rc.pattern = g3 ? 3 : 2;
        a.rc.rope.theta = g3 ? 1e6 : 10000, a.rc.rope.scale = g3 ? 8 : 1;
        if (g3)
            a.rc.local_rope = (ref_rope){.on = true, .theta = 10000, .scale = 1};
        else
            a.rc.attn_cap = 1.5, a.rc.final_cap = 2.5;
    }
    return a;
}

/* The model of config.json in `dir`, randomized; its weights in *w. */
static na_layer *model_for(const char *dir, const arch_case *a, ref_weights *w)
{
    na_hf_info info;
    NA_OK_OR_FAIL(na_hf_read_config(dir, &info));
    na_layer *m = NULL;
    if (info.arch == NA_HF_LLAMA)
        NA_OK_OR_FAIL(na_llama_new(&info.llama, 5, &m));
    else if (info.arch == NA_HF_GPT2)
        NA_OK_OR_FAIL(na_gpt2_new(&info.gpt2, 5, &m));
    else
        NA_OK_OR_FAIL(na_gemma_new(&info.gemma, 5, &m));
    ms_randomize(m, 99, 0.3);
    ms_take_model(m, &a->rc, w);
    return m;
}

static void layout_of(tw *t, const arch_case *a, const ref_weights *w)
{
    if (a->kind == 2)
        write_gpt2_layout(t, &a->rc, w);
    else
        write_llama_layout(t, &a->rc, w, a->kind == 1);
}

static float *logits_of(na_layer *m)
{
    int ids[B * S], pos[B * S];
    for (int i = 0; i < B * S; i++)
        ids[i] = (5 * i + 2) % V, pos[i] = i / S == 1 ? i % S - 2 : i % S;
    na_array *x = ms_i32(B, S, ids), *p = ms_i32(B, S, pos), *y = NULL;
    na_side *side = na_side_new();
    NA_OK_OR_FAIL(na_side_set_array(side, "token_positions", p));
    NA_OK_OR_FAIL(na_layer_call_array(m, x, side, &y));
    float *out = ms_logits(y);
    TS_FREE(x, p, y);
    na_side_free(side);
    return out;
}

/* The reference on the rounded weights, valid rows, vs the imported model. */
static void expect_reference(na_layer *loaded, const arch_case *a, const ref_weights *w,
                             double tol)
{
    float *got = logits_of(loaded), *want = malloc(sizeof(float) * S * V);
    int ids[B * S], pos[B * S];
    for (int i = 0; i < B * S; i++)
        ids[i] = (5 * i + 2) % V, pos[i] = i / S == 1 ? i % S - 2 : i % S;
    double worst = 0;
    for (int b = 0; b < B; b++) {
        ref_forward(&a->rc, w, S, ids + b * S, pos + b * S, want);
        for (int t = 0; t < S; t++)
            for (int j = 0; pos[b * S + t] >= 0 && j < V; j++)
                worst = fmax(worst, fabs(want[t * V + j] - got[(b * S + t) * V + j]));
    }
    cr_assert_lt(worst, tol, "%s: max |imported - reference| = %g", a->config, worst);
    free(got), free(want);
}

/* Write the layout in dt (split over `shards` files), import, compare. */
static void import_case(const char *json, tw_dtype dt, int shards)
{
    arch_case a = case_of(json);
    const char *dir = tmpdir(shards > 1 ? "shards" : "one");
    write_text(dir, "config.json", json);
    ref_weights w;
    na_layer *direct = model_for(dir, &a, &w);
    tw t = {0};
    layout_of(&t, &a, &w);
    tw_round(&t, dt);
    ms_free_model(&a.rc, &w);
    char p[512];
    if (shards == 1) {
        snprintf(p, sizeof p, "%s/model.safetensors", dir);
        tw_write(&t, 0, t.n, dt, p);
    } else {
        char index[16384];
        size_t n = (size_t)sprintf(index, "{\"metadata\": {}, \"weight_map\": {");
        for (int k = 0; k < shards; k++) {
            int from = t.n * k / shards, to = t.n * (k + 1) / shards;
            snprintf(p, sizeof p, "%s/model-%05d-of-%05d.safetensors", dir, k + 1, shards);
            tw_write(&t, from, to, dt, p);
            for (int i = from; i < to; i++)
                n += (size_t)sprintf(index + n, "%s\"%s\": \"model-%05d-of-%05d.safetensors\"",
                                     i ? ", " : "", t.t[i].name, k + 1, shards);
        }
        sprintf(index + n, "}}");
        write_text(dir, "model.safetensors.index.json", index);
    }
    na_layer *loaded = NULL;
    na_hf_info info;
    NA_OK_OR_FAIL(na_hf_load(dir, &loaded, &info));
    cr_assert_eq(info.files, shards);
    if (dt == TW_F32) { /* the same logits as the model bound directly */
        float *l1 = logits_of(direct), *l2 = logits_of(loaded);
        for (int i = 0; i < B * S * V; i++)
            cr_assert_float_eq(l1[i], l2[i], 1e-5, "logit %d: %g vs %g", i, l1[i], l2[i]);
        free(l1), free(l2);
    }
    ref_weights rw; /* the reference on what the file holds */
    ms_take_model(loaded, &a.rc, &rw);
    expect_reference(loaded, &a, &rw, 2e-4);
    ms_free_model(&a.rc, &rw);
    tw_free(&t);
    na_layer_free(direct);
    na_layer_free(loaded);
    rm_dir(dir);
}

Test(hf, llama_f32_untied_llama3_rope) { import_case(LLAMA_JSON, TW_F32, 1); }
Test(hf, llama_bf16_in_three_shards) { import_case(LLAMA_JSON, TW_BF16, 3); }
Test(hf, qwen2_bias_tied_f16) { import_case(QWEN_JSON, TW_F16, 1); }
Test(hf, gpt2_conv1d_fused_qkv) { import_case(GPT2_JSON, TW_F32, 1); }
Test(hf, gemma2_plus_one_norms_softcaps) { import_case(GEMMA2_JSON, TW_F32, 2); }
Test(hf, gemma3_qk_norm_local_rope) { import_case(GEMMA3_JSON, TW_BF16, 1); }

/* Export, import: the same logits, for every architecture. */
Test(hf, export_round_trip)
{
    const char *jsons[] = {LLAMA_JSON, QWEN_JSON, GPT2_JSON, GEMMA2_JSON, GEMMA3_JSON};
    for (int k = 0; k < 5; k++) {
        arch_case a = case_of(jsons[k]);
        const char *dir = tmpdir("export");
        write_text(dir, "config.json", jsons[k]);
        ref_weights w;
        na_layer *m = model_for(dir, &a, &w), *back = NULL;
        ms_free_model(&a.rc, &w);
        na_hf_info info;
        NA_OK_OR_FAIL(na_hf_read_config(dir, &info));
        rm_dir(dir);
        dir = tmpdir("export2");
        NA_OK_OR_FAIL(na_hf_save(m, &info, dir));
        NA_OK_OR_FAIL(na_hf_load(dir, &back, NULL));
        float *l1 = logits_of(m), *l2 = logits_of(back);
        for (int i = 0; i < B * S * V; i++)
            cr_assert_float_eq(l1[i], l2[i], 1e-5, "%s logit %d", info.architecture, i);
        free(l1), free(l2);
        na_layer_free(m);
        na_layer_free(back);
        rm_dir(dir);
    }
}

/* ---- error paths ------------------------------------------------------------------ */

/* A valid Llama directory (f32) with tensor `drop` left out, `extra`
 * added and `reshape` given a wrong shape (each may be NULL). */
static const char *broken_llama(const char *drop, const char *extra, const char *reshape)
{
    arch_case a = case_of(LLAMA_JSON);
    const char *dir = tmpdir("broken");
    write_text(dir, "config.json", LLAMA_JSON);
    ref_weights w;
    na_layer *m = model_for(dir, &a, &w);
    tw t = {0};
    layout_of(&t, &a, &w);
    ms_free_model(&a.rc, &w);
    na_layer_free(m);
    for (int i = 0; i < t.n; i++) {
        if (drop && strcmp(t.t[i].name, drop) == 0) {
            free(t.t[i].data);
            t.t[i] = t.t[--t.n];
        }
        if (reshape && strcmp(t.t[i].name, reshape) == 0)
            t.t[i].shape[0] -= 1;
    }
    if (extra)
        tw_add(&t, extra, 1, 3, 0);
    char p[512];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    tw_write(&t, 0, t.n, TW_F32, p);
    tw_free(&t);
    return dir;
}

Test(hf, missing_unused_and_misshaped_tensors)
{
    na_layer *m = NULL;
    const char *dir = broken_llama("model.layers.1.mlp.up_proj.weight", NULL, NULL);
    NA_EXPECT_FAIL(na_hf_load(dir, &m, NULL), NA_ERR_NOT_FOUND, "na_hf_load",
                   "'model.layers.1.mlp.up_proj.weight'", "block_1/mlp/up.weights", "missing");
    rm_dir(dir);
    dir = broken_llama(NULL, "model.layers.0.self_attn.rotary_extra", NULL);
    NA_EXPECT_FAIL(na_hf_load(dir, &m, NULL), NA_ERR_FORMAT,
                   "'model.layers.0.self_attn.rotary_extra' is not used by LlamaForCausalLM");
    rm_dir(dir);
    dir = broken_llama(NULL, NULL, "model.layers.0.self_attn.k_proj.weight");
    NA_EXPECT_FAIL(na_hf_load(dir, &m, NULL), NA_ERR_SHAPE,
                   "'model.layers.0.self_attn.k_proj.weight'", "shape [15, 32]", "needs [16, 32]",
                   "block_0/attention/key.weights");
    rm_dir(dir);
    cr_assert_null(m);
}

Test(hf, config_errors)
{
    na_layer *m = NULL;
    na_hf_info info;
    const char *dir = tmpdir("config");
    NA_EXPECT_FAIL(na_hf_read_config(dir, &info), NA_ERR_IO, "config.json");
    write_text(dir, "config.json", "{\"architectures\": [\"LlamaForCausalLM\"], ");
    NA_EXPECT_FAIL(na_hf_load(dir, &m, NULL), NA_ERR_FORMAT, "config.json",
                   "not a JSON object");
    write_text(dir, "config.json",
               "{\"architectures\": [\"MambaForCausalLM\"], \"model_type\": \"mamba\"}");
    NA_EXPECT_FAIL(na_hf_load(dir, &m, NULL), NA_ERR_UNSUPPORTED,
                   "architecture \"MambaForCausalLM\" is not supported");
    write_text(dir, "config.json",
               "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\","
               " \"vocab_size\": 40, \"intermediate_size\": 40, \"num_hidden_layers\": 2,"
               " \"num_attention_heads\": 4}");
    NA_EXPECT_FAIL(na_hf_load(dir, &m, NULL), NA_ERR_FORMAT, "missing 'hidden_size'");
    write_text(dir, "config.json",
               "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\","
               " \"vocab_size\": 40, \"hidden_size\": \"big\", \"intermediate_size\": 40,"
               " \"num_hidden_layers\": 2, \"num_attention_heads\": 4}");
    NA_EXPECT_FAIL(na_hf_load(dir, &m, NULL), NA_ERR_FORMAT, "'hidden_size' must be a number");
    write_text(dir, "config.json",
               "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\","
               " \"vocab_size\": 40, \"hidden_size\": 32, \"intermediate_size\": 40,"
               " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"hidden_act\": \"relu\"}");
    NA_EXPECT_FAIL(na_hf_load(dir, &m, NULL), NA_ERR_UNSUPPORTED, "hidden_act \"relu\"");
    write_text(dir, "config.json",
               "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\","
               " \"vocab_size\": 40, \"hidden_size\": 32, \"intermediate_size\": 40,"
               " \"num_hidden_layers\": 2, \"num_attention_heads\": 4,"
               " \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4}}");
    NA_EXPECT_FAIL(na_hf_load(dir, &m, NULL), NA_ERR_UNSUPPORTED, "rope_scaling type \"yarn\"");
    write_text(dir, "config.json", LLAMA_JSON);
    NA_EXPECT_FAIL(na_hf_load(dir, &m, NULL), NA_ERR_IO, "neither model.safetensors");
    write_text(dir, "config.json", GEMMA3_JSON);
    /* a layer pattern that disagrees with layer_types */
    char bad[4096];
    snprintf(bad, sizeof bad, "%s", GEMMA3_JSON);
    char *p = strstr(bad, "\"full_attention\"");
    memcpy(p, "\"sliding_attention\"]}", 22);
    write_text(dir, "config.json", bad);
    NA_EXPECT_FAIL(na_hf_read_config(dir, &info), NA_ERR_UNSUPPORTED, "layer_types[2]");
    cr_assert_null(m);
    rm_dir(dir);
}
