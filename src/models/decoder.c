/* The generic decoder-only transformer tree (models.h) built from a
 * na__decoder_spec: embedding, blocks of (pre-norm attention, pre-norm
 * MLP) residuals with optional post-norms, final norm and head. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/models_internal.h"
#include "namedarr/tree.h"

bool na__spec_is_local(const na__decoder_spec *s, int i)
{
    return s->window > 0 && (s->window_pattern == 0 || (i + 1) % s->window_pattern != 0);
}

static void free_list(na_layer **l, int n)
{
    for (int i = 0; i < n; i++)
        na_layer_free(l[i]);
}

/* RMSLayerNorm or LayerNorm (with bias) over `axis`:size, labelled `label`. */
static na_status norm_layer(const na__decoder_spec *s, const char *label,
                            const char *axis, int64_t size, na_layer **out)
{
    na_dim d = {axis, size};
    na_status st = s->norm == NA__NORM_RMS ? na_rms_layer_norm_new(label, 1, &d, out)
                                           : na_layer_norm_new(label, 1, &d, out);
    if (st == NA_OK && (st = na_norm_set_eps(*out, s->eps)) != NA_OK) {
        na_layer_free(*out);
        *out = NULL;
    }
    return st;
}

/* The heads axes of the output projection's input. */
static const char *const *head_names(const na__decoder_spec *s)
{
    static const char *const mha[] = {"heads", "projection", NULL};
    static const char *const gqa[] = {"kv_heads", "query_heads", "projection", NULL};
    return s->nkv == s->nq ? mha : gqa;
}

/* q, k, v biased but not the output (Qwen2): Affine -> its Linear. */
static na_status drop_output_bias(const na__decoder_spec *s, na_layer *attn)
{
    na_layer *av = na_tree_get(attn, "attn_value_to_output");
    na_layer *affine = av ? na_layer_child(av, 1) : NULL;
    na_param *w = affine ? na_linear_weights(na_layer_child(affine, 0)) : NULL;
    if (!w)
        return na__fail(NA_ERR_STATE, "%s: unexpected attention output path", s->who);
    na_layer *lin = NULL;
    na_status st = na_linear_from_param(w, head_names(s), NA_NAMES("embedding"), &lin);
    if (st == NA_OK)
        st = na_sequential_remove(av, 1, NULL);
    return st == NA_OK ? na_sequential_insert(av, 1, lin) : (na_layer_free(lin), st);
}

/* Gemma 3: RMSLayerNorm over projection after the q and k projections. */
static na_status add_qk_norms(const na__decoder_spec *s, const char *name, na_layer *attn)
{
    static const char *const paths[] = {"input_to_query", "input_to_key"};
    static const char *const parts[] = {"query_norm", "key_norm"};
    na_status st = NA_OK;
    for (int i = 0; i < 2 && st == NA_OK; i++) {
        char label[256];
        snprintf(label, sizeof label, "%s/%s", name, parts[i]);
        na_layer *path = na_tree_get(attn, paths[i]), *norm = NULL;
        st = path ? norm_layer(s, label, "projection", s->head_dim, &norm)
                  : na_last_status();
        if (st == NA_OK)
            st = na_sequential_insert(path, 2, norm);
    }
    return st;
}

static na_status attention_layer(const na__decoder_spec *s, int i, na_layer **out)
{
    char name[64];
    snprintf(name, sizeof name, "block_%d/attention", i);
    bool local = na__spec_is_local(s, i);
    na_mha_options o = {
        .num_heads = s->nq, .num_kv_heads = s->nkv, .in_features = s->hidden,
        .qkv_features = s->nq * s->head_dim, .out_features = s->hidden,
        .no_bias = !(s->qkv_bias || s->out_bias), .causal = true,
        .scale = s->attn_scale, .name = name,
        .rotary = !s->rope ? NULL
                  : local && s->rope_local.max_wavelength > 0 ? &s->rope_local
                                                               : &s->rope_global,
        .sliding_window = local ? s->window : 0, .logit_soft_cap = s->attn_cap};
    na_status st = na_mha_new(&o, out);
    if (st == NA_OK && s->qkv_bias && !s->out_bias)
        st = drop_output_bias(s, *out);
    if (st == NA_OK && s->qk_norm)
        st = add_qk_norms(s, name, *out);
    if (st != NA_OK && *out) {
        na_layer_free(*out);
        *out = NULL;
    }
    return st;
}

/* Linear or Affine "block_<i>/mlp/<part>": in -> out. */
static na_status mlp_proj(const na__decoder_spec *s, int i, const char *part, na_dim in,
                          na_dim o, uint64_t seed, na_layer **out)
{
    char label[64];
    snprintf(label, sizeof label, "block_%d/mlp/%s", i, part);
    return s->mlp_bias ? na_affine_new(label, 1, &in, 1, &o, seed, out)
                       : na_linear_new(label, 1, &in, 1, &o, seed, out);
}

/* Gated: [BranchAndMultiply(Sequential(gate, act), up), down];
 * plain: [up, act, down]. */
static na_status mlp_layer(const na__decoder_spec *s, int i, uint64_t seed,
                           na_layer **out)
{
    na_dim e = {"embedding", s->hidden}, h = {"hidden", s->ffn};
    na_layer *l[4] = {0};
    na_status st = mlp_proj(s, i, "up", e, h, seed, &l[0]);
    if (st == NA_OK)
        st = na_elementwise_new(s->act, &l[1]);
    if (st == NA_OK)
        st = mlp_proj(s, i, "down", h, e, seed, &l[2]);
    if (st == NA_OK && s->gated)
        st = mlp_proj(s, i, "gate", e, h, seed, &l[3]);
    if (st != NA_OK) {
        free_list(l, 4);
        return st;
    }
    if (!s->gated)
        return na_named_group_new("mlp", 3, l, out);
    na_layer *gate = NULL, *both = NULL;
    st = na_sequential_new(2, (na_layer *[]){l[3], l[1]}, &gate);
    if (st != NA_OK) {
        na_layer_free(l[0]), na_layer_free(l[2]);
        return st;
    }
    st = na_branch_mul_new(2, (na_layer *[]){gate, l[0]}, &both);
    if (st != NA_OK) {
        na_layer_free(l[2]);
        return st;
    }
    return na_named_group_new("mlp", 2, (na_layer *[]){both, l[2]}, out);
}

/* Residual(NamedGroup(group: pre norm, core, [post norm])). */
static na_status sublayer(const na__decoder_spec *s, int i, const char *group,
                          const char *pre, const char *post, na_layer *core,
                          na_layer **out)
{
    char label[64];
    na_layer *l[3] = {0, core, 0}, *g = NULL;
    int n = 2;
    snprintf(label, sizeof label, "block_%d/%s", i, pre);
    na_status st = core ? norm_layer(s, label, "embedding", s->hidden, &l[0])
                        : na_last_status();
    if (st == NA_OK && s->post_norms) {
        snprintf(label, sizeof label, "block_%d/%s", i, post);
        st = norm_layer(s, label, "embedding", s->hidden, &l[n]);
        n += st == NA_OK;
    }
    if (st != NA_OK) {
        free_list(l, 3);
        return st;
    }
    st = na_named_group_new(group, n, l, &g);
    return st == NA_OK ? na_residual_new(g, out) : st;
}

static na_status block(const na__decoder_spec *s, int i, uint64_t seed, na_layer **out)
{
    na_layer *attn = NULL, *mlp = NULL, *r[2] = {0};
    char name[32];
    na_status st = attention_layer(s, i, &attn);
    if (st == NA_OK)
        st = sublayer(s, i, "attention_block", "pre_attention_norm",
                      "post_attention_norm", attn, &r[0]);
    if (st == NA_OK)
        st = mlp_layer(s, i, seed, &mlp);
    if (st == NA_OK)
        st = sublayer(s, i, "mlp_block", "pre_mlp_norm", "post_mlp_norm", mlp, &r[1]);
    if (st != NA_OK) {
        free_list(r, 2);
        return st;
    }
    snprintf(name, sizeof name, "block_%d", i);
    return na_named_group_new(name, 2, r, out);
}

/* NamedGroup "embed": lookup, [learned positions], [* sqrt(hidden)]. */
static na_status embed_group(const na__decoder_spec *s, na_param *table, uint64_t seed,
                             na_layer **out)
{
    na_layer *l[3] = {0};
    int n = 0;
    na_status st = na_embedding_lookup_new(table, "vocab", &l[n]);
    n += st == NA_OK;
    if (st == NA_OK && s->learned_positions) {
        na_param *pos = NULL;
        st = na_embedding_table_new("position_embed", "position", s->max_positions, 1,
                                    &(na_dim){"embedding", s->hidden}, seed, &pos);
        if (st == NA_OK) {
            st = na__learned_positions_new(pos, &l[n]);
            na_param_release(pos);
            n += st == NA_OK;
        }
    }
    if (st == NA_OK && s->embed_scale) {
        st = na_constant_rescale_new((double)(float)sqrt((double)s->hidden), &l[n]);
        n += st == NA_OK;
    }
    if (st != NA_OK) {
        free_list(l, n);
        return st;
    }
    return na_named_group_new("embed", n, l, out);
}

/* NamedGroup "final": norm, head, [TanhSoftCap]. */
static na_status final_group(const na__decoder_spec *s, na_param *table, uint64_t seed,
                             na_layer **out)
{
    na_layer *l[3] = {0};
    int n = 0;
    na_status st = norm_layer(s, "final_norm", "embedding", s->hidden, &l[n]);
    n += st == NA_OK;
    if (st == NA_OK) {
        st = s->tie ? na_embedding_decode_new(table, "vocab", &l[n])
                    : na_linear_new("lm_head", 1, &(na_dim){"embedding", s->hidden}, 1,
                                    &(na_dim){"vocab", s->vocab}, seed, &l[n]);
        n += st == NA_OK;
    }
    if (st == NA_OK && s->final_cap > 0) {
        st = na_tanh_soft_cap_new(s->final_cap, &l[n]);
        n += st == NA_OK;
    }
    if (st != NA_OK) {
        free_list(l, n);
        return st;
    }
    return na_named_group_new("final", n, l, out);
}

na_status na__decoder_new(const na__decoder_spec *s, uint64_t seed, na_layer **out)
{
    if (!out)
        return na__fail(NA_ERR_ARGUMENT, "%s: out is NULL", s->who);
    int n = s->layers + 2;
    na_layer **l = calloc((size_t)n, sizeof *l);
    na_param *table = NULL;
    if (!l)
        return na__fail(NA_ERR_NO_MEMORY, "%s: out of memory", s->who);
    na_status st = na_embedding_table_new(
        "embed", "vocab", s->vocab, 1, &(na_dim){"embedding", s->hidden}, seed, &table);
    if (st == NA_OK)
        st = embed_group(s, table, seed, &l[0]);
    for (int i = 0; i < s->layers && st == NA_OK; i++)
        st = block(s, i, seed, &l[i + 1]);
    if (st == NA_OK)
        st = final_group(s, table, seed, &l[n - 1]);
    na_param_release(table);
    if (st == NA_OK)
        st = na_sequential_new(n, l, out);
    else
        free_list(l, n);
    free(l);
    return st;
}
