/* Builders: Flax-style multi-head attention and Keras-style grouped-query
 * attention, each an ordinary Attention tree made of standard layers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention_internal.h"

/* The four projections. */
enum { PART_Q, PART_K, PART_V, PART_OUT, PART_N };
static const char *const part_names[PART_N] = {"query", "key", "value", "output"};

/* What both builders decide before building. */
typedef struct plan {
    const char *who;
    const char *name;              /* label prefix                        */
    const char *features;          /* the feature axis name               */
    int64_t in_q, in_k, in_v, out; /* feature sizes                      */
    int64_t head_dim;
    int nq, nkv;                   /* query heads, key/value heads        */
    bool grouped;                  /* kv_heads/query_heads vs heads       */
    int key_item, value_item;      /* tuple items of the key/value inputs */
    bool use_bias;
    bool normalize_qk;             /* LayerNorm over projection on q, k   */
    na_init kernel[PART_N], bias[PART_N]; /* per projection (fans set)  */
    uint64_t seed;
    na_dot_product_options qk;
    const char *shared[4];         /* dropout axes shared (NULL-ended)    */
    bool rotary;                   /* RoPE on q and k (rope below)        */
    na_rope_options rope;
    na_alibi_options alibi;        /* with qk.alibi                       */
} plan;

/* Head dims of the queries (q = true) or keys/values, with projection. */
static int head_dims(const plan *p, bool q, na_dim *dims)
{
    int n = 0;
    if (!p->grouped) {
        dims[n++] = (na_dim){"heads", p->nq};
    } else {
        dims[n++] = (na_dim){"kv_heads", p->nkv};
        if (q)
            dims[n++] = (na_dim){"query_heads", p->nq / p->nkv};
    }
    dims[n++] = (na_dim){"projection", p->head_dim};
    return n;
}

/* Affine(linear, bias), taking both (freed on failure). */
static na_status affine_of(na_layer *lin, na_layer *bias, na_layer **out)
{
    na_layer *made = NULL;
    na_status st = na_layer_alloc(&na_affine_type, &made);
    if (st != NA_OK) {
        na_layer_free(lin);
        na_layer_free(bias);
        return st;
    }
    st = na_layer_field_set_child(made, "linear", lin);
    st = st == NA_OK ? na_layer_field_set_child(made, "bias", bias)
                     : (na_layer_free(bias), st);
    if (st != NA_OK) {
        na_layer_free(made);
        return st;
    }
    *out = made;
    return NA_OK;
}

/* Linear or Affine "<name>/<part>": in -> out, with the part's kernel and
 * bias initializers (labels "<name>/<part>.weights", ".bias"). */
static na_status projection(const plan *p, int part, int n_in, const na_dim *in,
                            int n_out, const na_dim *out, na_layer **l)
{
    char label[256];
    snprintf(label, sizeof label, "%s/%s", p->name, part_names[part]);
    na_layer *lin = NULL, *bias = NULL;
    na_linear_options lo = {.name = label,
                            .n_in = n_in,
                            .in = in,
                            .n_out = n_out,
                            .out = out,
                            .init = &p->kernel[part],
                            .seed = p->seed};
    na_status st = na_linear_new_ex(&lo, &lin);
    if (st != NA_OK || !p->use_bias) {
        *l = lin;
        return st;
    }
    na_add_bias_options bo = {.name = label,
                              .n_biased = n_out,
                              .biased = out,
                              .init = &p->bias[part],
                              .seed = p->seed};
    st = na_add_bias_new_ex(&bo, &bias);
    if (st != NA_OK) {
        na_layer_free(lin);
        return st;
    }
    return affine_of(lin, bias, l);
}

static void free_list(na_layer **l, int n)
{
    for (int i = 0; i < n; i++)
        na_layer_free(l[i]);
}

/* [ApplyRoPE(projection)] and, on the key path with RoPE, the late
 * RenameAxes(seq -> kv_seq) (Penzai's order). */
static na_status rotary_tail(const plan *p, int part, na_layer **list, int *n)
{
    if (!p->rotary || part == 2)
        return NA_OK;
    na_status st = na_apply_rope_new("projection", &p->rope, &list[*n]);
    if (st == NA_OK && ++*n && part == 1) {
        st = na_rename_axes_new(NA_NAMES("seq"), NA_NAMES("kv_seq"), &list[*n]);
        if (st == NA_OK)
            ++*n;
    }
    return st;
}

/* Sequential(SelectAttentionInput(item), projection, [LayerNorm], [ApplyRoPE],
 * [RenameAxes]) for part 0 (query), 1 (key) or 2 (value). */
static na_status input_path(const plan *p, int part, int64_t features, bool norm,
                            na_layer **out)
{
    int item = part == 0 ? 0 : part == 1 ? p->key_item : p->value_item;
    na_layer *list[5] = {0};
    int n = 0;
    na_dim in = {p->features, features}, heads[3];
    int nh = head_dims(p, part == 0, heads);
    bool rename_early = part == 2 || (part == 1 && !p->rotary);
    na_status st = na_select_attention_input_new(item, rename_early ? "seq" : NULL,
                                                 rename_early ? "kv_seq" : NULL,
                                                 &list[0]);
    if (st == NA_OK && ++n)
        st = projection(p, part, 1, &in, nh, heads, &list[1]);
    if (st == NA_OK && ++n && norm) {
        char label[256];
        snprintf(label, sizeof label, "%s/%s_norm", p->name, part_names[part]);
        na_norm_options no = {.name = label,
                              .n_across = 1,
                              .across = &(na_dim){"projection", p->head_dim},
                              .no_bias = true}; /* Flax: LayerNorm(use_bias=False) */
        st = na_layer_norm_new_ex(&no, &list[2]);
        if (st == NA_OK)
            n++;
    }
    if (st == NA_OK)
        st = rotary_tail(p, part, list, &n);
    if (st != NA_OK) {
        free_list(list, n);
        return st;
    }
    return na_sequential_new(n, list, out);
}

/* Sequential(AttentionCombine(kv_seq), projection back to features). */
static na_status output_path(const plan *p, na_layer **out)
{
    na_layer *list[2] = {0};
    na_dim heads[3], feat = {p->features, p->out};
    int nh = head_dims(p, true, heads);
    na_status st = na_attention_combine_new("kv_seq", &list[0]);
    if (st != NA_OK)
        return st;
    st = projection(p, PART_OUT, nh, heads, 1, &feat, &list[1]);
    if (st != NA_OK) {
        na_layer_free(list[0]);
        return st;
    }
    return na_sequential_new(2, list, out);
}

static na_status build(const plan *p, na_layer **out)
{
    na_layer *sub[NA__ATTN_N] = {0};
    na_status st = NA_OK;
    for (int i = 0; i < 3 && st == NA_OK; i++)
        st = input_path(p, i, i == 0 ? p->in_q : i == 1 ? p->in_k : p->in_v,
                        i < 2 && p->normalize_qk, &sub[i]);
    if (st == NA_OK)
        st = na_dot_product_attn_new(&p->qk, &sub[NA__ATTN_QK]);
    if (st == NA_OK)
        st = output_path(p, &sub[NA__ATTN_AV]);
    if (st != NA_OK) {
        free_list(sub, NA__ATTN_N);
        return st;
    }
    return na_attention_new(sub[0], sub[1], sub[2], sub[3], sub[4], out);
}

static const char *mask_tag_or_default(const char *tag)
{
    return tag ? tag : NA_ATTN_MASK_KEY; /* "" means none */
}

static na_status check_heads(const char *who, const char *q_name, int nq,
                             const char *kv_name, int nkv)
{
    if (nq <= 0 || nkv <= 0)
        return na__fail(NA_ERR_ARGUMENT, "%s: %s %d and %s %d must be > 0", who,
                        q_name, nq, kv_name, nkv);
    if (nq % nkv != 0)
        return na__fail(NA_ERR_ARGUMENT, "%s: %s %d must divide %s %d (query head h "
                        "uses key/value head h / (%s / %s))", who, kv_name, nkv,
                        q_name, nq, q_name, kv_name);
    return NA_OK;
}

/* The rotary option (copied); the positions also feed the causal mask. */
static na_status set_rotary(plan *p, const na_rope_options *r)
{
    if (!r)
        return NA_OK;
    p->rotary = true;
    p->rope = *r;
    if (!p->rope.default_positions_axis)
        p->rope.default_positions_axis = "seq";
    if (!(p->rope.fraction >= 0 && p->rope.fraction <= 1))
        return na__fail(NA_ERR_ARGUMENT, "%s: rotary fraction %g not in (0, 1]", p->who,
                        p->rope.fraction);
    if (p->rope.fraction > 0 && p->rope.fraction < 1 &&
        (int64_t)((double)p->head_dim * p->rope.fraction) / 2 == 0)
        return na__fail(NA_ERR_ARGUMENT, "%s: rotary fraction %g of head_dim %lld "
                        "rotates no feature pair", p->who, p->rope.fraction,
                        (long long)p->head_dim);
    if (p->rope.positions_key && *p->rope.positions_key) {
        p->qk.query_positions_key = p->rope.positions_key;
        p->qk.kv_positions_key = NULL;
    }
    return NA_OK;
}

/* The optional side-input bias and ALiBi over the plan's heads (after
 * set_rotary: ALiBi reads the same positions as the causal mask). */
static void set_bias(plan *p, const char *bias_tag, bool alibi)
{
    p->qk.bias_tag = bias_tag;
    p->qk.bias_optional = true;
    if (!alibi)
        return;
    p->alibi = (na_alibi_options){.num_heads = p->nq};
    if (p->grouped) {
        p->alibi.group_axis = "kv_heads";
        p->alibi.heads_axis = "query_heads";
        p->alibi.num_groups = p->nkv;
    }
    p->qk.alibi = &p->alibi;
}

/* ---- initializers ------------------------------------------------------------ */

static na_init init_or(const na_init *a, const na_init *b, na_init dflt)
{
    return a ? *a : b ? *b : dflt;
}

/* Flax: kernels keep the library's fans (input axes / feature axes, as
 * DenseGeneral flattens them); JAX cannot compute the fans of the 1-D
 * flattened bias, so a bias initializer must be a constant. */
static na_status flax_inits(const na_mha_options *o, plan *p)
{
    for (int i = 0; i < PART_N; i++) {
        bool out = i == PART_OUT;
        p->kernel[i] = init_or(out ? o->out_kernel_init : NULL, o->kernel_init,
                               na_init_lecun_normal());
        p->bias[i] = init_or(out ? o->out_bias_init : NULL, o->bias_init, na_init_zeros());
        if (p->bias[i].kind != NA_INIT_CONSTANT && p->bias[i].fan_in <= 0 &&
            p->bias[i].fan_out <= 0)
            return na__fail(NA_ERR_ARGUMENT, "%s: %s must be a constant (Flax "
                            "flattens the %s bias to one axis, whose fans JAX cannot "
                            "compute), or give its fan_in/fan_out", p->who,
                            out && o->out_bias_init ? "out_bias_init" : "bias_init",
                            part_names[i]);
    }
    return NA_OK;
}

/* Keras's fans of an einsum shape (..., a, b): (a * r, b * r), r the
 * product of the leading dims; one dim n: (n, n). Set unless given. */
static void keras_fans(na_init *init, int n, const int64_t *shape)
{
    double r = 1;
    for (int i = 0; i < n - 2; i++)
        r *= (double)shape[i];
    double fi = n == 1 ? (double)shape[0] : (double)shape[n - 2] * r;
    double fo = n == 1 ? (double)shape[0] : (double)shape[n - 1] * r;
    if (init->fan_in <= 0)
        init->fan_in = fi;
    if (init->fan_out <= 0)
        init->fan_out = fo;
}

/* Keras's GroupQueryAttention kernels: query (m, u, h), key and value
 * (m, v, h), output (u, h, m); biases (u, h), (v, h), (m,). */
static void keras_inits(const na_gqa_options *o, plan *p)
{
    int64_t m[PART_N] = {p->in_q, p->in_k, p->in_v, p->out};
    int64_t heads[PART_N] = {p->nq, p->nkv, p->nkv, p->nq};
    for (int i = 0; i < PART_N; i++) {
        p->kernel[i] = init_or(o->kernel_initializer, NULL, na_init_xavier_uniform());
        p->bias[i] = init_or(o->bias_initializer, NULL, na_init_zeros());
        bool out = i == PART_OUT;
        int64_t k[3] = {out ? heads[i] : m[i], out ? p->head_dim : heads[i],
                        out ? m[i] : p->head_dim};
        keras_fans(&p->kernel[i], 3, k);
        keras_fans(&p->bias[i], out ? 1 : 2, out ? &m[i] : &k[1]);
    }
}

/* ---- Flax-style MHA ------------------------------------------------------- */

static na_status mha_plan(const na_mha_options *o, plan *p)
{
    const char *who = "na_mha_new";
    p->who = who;
    int nkv = o->num_kv_heads ? o->num_kv_heads : o->num_heads;
    na_status st = check_heads(who, "num_heads", o->num_heads, "num_kv_heads", nkv);
    if (st != NA_OK)
        return st;
    int64_t qkv = o->qkv_features ? o->qkv_features : o->in_features;
    if (o->in_features <= 0 || qkv <= 0 || o->out_features < 0 || o->in_kv_features < 0)
        return na__fail(NA_ERR_ARGUMENT, "%s: in_features %lld and qkv_features %lld "
                        "must be > 0", who, (long long)o->in_features, (long long)qkv);
    if (qkv % o->num_heads != 0)
        return na__fail(NA_ERR_ARGUMENT, "%s: qkv_features %lld must be divisible by "
                        "num_heads %d", who, (long long)qkv, o->num_heads);
    if (o->dropout_rate < 0 || o->dropout_rate >= 1)
        return na__fail(NA_ERR_ARGUMENT, "%s: dropout_rate %g not in [0, 1)", who,
                        o->dropout_rate);
    if (o->sliding_window < 0 || o->logit_soft_cap < 0 ||
        (o->sliding_window > 0 && !o->causal))
        return na__fail(NA_ERR_ARGUMENT, "%s: sliding_window %lld (needs causal) and "
                        "logit_soft_cap %g must be >= 0", who,
                        (long long)o->sliding_window, o->logit_soft_cap);
    p->name = o->name && *o->name ? o->name : "attention";
    p->features = o->features_axis && *o->features_axis ? o->features_axis : "embedding";
    p->in_q = o->in_features;
    p->in_k = p->in_v = o->in_kv_features ? o->in_kv_features : o->in_features;
    p->out = o->out_features ? o->out_features : o->in_features;
    p->head_dim = qkv / o->num_heads;
    p->nq = o->num_heads;
    p->nkv = nkv;
    p->grouped = nkv != o->num_heads;
    p->key_item = 1; /* Flax: (inputs_q, inputs_k, inputs_v) */
    p->value_item = 2;
    p->use_bias = !o->no_bias;
    p->seed = o->seed;
    p->normalize_qk = o->normalize_qk;
    if (!isfinite(o->scale))
        return na__fail(NA_ERR_ARGUMENT, "%s: scale %g must be finite", who, o->scale);
    return flax_inits(o, p);
}

static void mha_qk(const na_mha_options *o, plan *p)
{
    if (!o->independent_dropout) { /* Flax: one mask for every batch index and
                                 * head, varying over (seq, kv_seq) only */
        p->shared[0] = "batch";
        p->shared[1] = p->grouped ? "kv_heads" : "heads";
        p->shared[2] = p->grouped ? "query_heads" : NULL;
    }
    p->qk = (na_dot_product_options){
        .custom_scale = o->custom_scale || o->scale != 0,
        .scale = o->scale,
        .mask_tag = mask_tag_or_default(o->mask_tag),
        .mask_optional = true,
        .causal = o->causal,
        .window = o->sliding_window,
        .soft_cap = o->logit_soft_cap,
        .masked_rows = o->masked_rows == NA_MASKED_ROWS_DEFAULT ? NA_MASKED_ROWS_UNIFORM
                                                                : o->masked_rows,
        .dropout_rate = o->dropout_rate,
        .dropout_shared = p->shared,
        .seed = o->seed,
    };
}

na_status na_mha_new(const na_mha_options *opt, na_layer **out)
{
    if (!opt || !out)
        return na__fail(NA_ERR_ARGUMENT, "na_mha_new: NULL argument");
    plan p = {0};
    na_status st = mha_plan(opt, &p);
    if (st != NA_OK)
        return st;
    mha_qk(opt, &p);
    st = set_rotary(&p, opt->rotary);
    set_bias(&p, opt->bias_tag, opt->alibi);
    if (st == NA_OK)
        st = build(&p, out);
    if (st == NA_OK && opt->capture_weights)
        st = na_attention_set_keep_weights(*out, true);
    return st;
}

/* ---- Keras-style GQA --------------------------------------------------------- */

static const char *const keras_padding_masks[] = {NA_QUERY_MASK_KEY, NA_VALUE_MASK_KEY,
                                                  NA_KEY_MASK_KEY, NULL};

static na_status gqa_plan(const na_gqa_options *o, plan *p)
{
    const char *who = "na_gqa_new";
    p->who = who;
    na_status st = check_heads(who, "num_query_heads", o->num_query_heads,
                               "num_key_value_heads", o->num_key_value_heads);
    if (st != NA_OK)
        return st;
    if (o->head_dim <= 0 || o->query_features <= 0 || o->value_features < 0 ||
        o->key_features < 0 || o->output_features < 0)
        return na__fail(NA_ERR_ARGUMENT, "%s: head_dim %lld and query_features %lld "
                        "must be > 0", who, (long long)o->head_dim,
                        (long long)o->query_features);
    if (o->dropout < 0 || o->dropout >= 1 || o->sliding_window < 0)
        return na__fail(NA_ERR_ARGUMENT, "%s: dropout %g not in [0, 1) or "
                        "sliding_window %lld < 0", who, o->dropout,
                        (long long)o->sliding_window);
    p->name = o->name && *o->name ? o->name : "attention";
    p->features = o->features_axis && *o->features_axis ? o->features_axis : "embedding";
    p->in_q = o->query_features;
    p->in_v = o->value_features ? o->value_features : o->query_features;
    p->in_k = o->key_features ? o->key_features : p->in_v;
    p->out = o->output_features ? o->output_features : o->query_features;
    p->head_dim = o->head_dim;
    p->nq = o->num_query_heads;
    p->nkv = o->num_key_value_heads;
    p->grouped = true;
    p->key_item = 2; /* Keras: (query, value, key), key defaults to value */
    p->value_item = 1;
    p->use_bias = !o->no_bias;
    p->seed = o->seed;
    keras_inits(o, p);
    p->qk = (na_dot_product_options){
        .mask_tag = mask_tag_or_default(o->mask_tag),
        .mask_optional = true,
        .causal = o->use_causal_mask,
        .window = o->sliding_window,
        .masked_rows = o->masked_rows == NA_MASKED_ROWS_DEFAULT ? NA_MASKED_ROWS_ZERO
                                                                : o->masked_rows,
        .dropout_rate = o->dropout,
        .seed = o->seed,
        .padding_mask_tags = keras_padding_masks,
    };
    return NA_OK;
}

na_status na_gqa_new(const na_gqa_options *opt, na_layer **out)
{
    if (!opt || !out)
        return na__fail(NA_ERR_ARGUMENT, "na_gqa_new: NULL argument");
    plan p = {0};
    na_status st = gqa_plan(opt, &p);
    if (st == NA_OK)
        st = set_rotary(&p, opt->rotary);
    set_bias(&p, opt->bias_tag, opt->alibi);
    if (st == NA_OK)
        st = build(&p, out);
    if (st == NA_OK && opt->return_attention_scores)
        st = na_attention_set_return_weights(*out, true);
    if (st == NA_OK && opt->keras_scores_layout)
        st = na_attention_set_merge_weight_heads(*out, true);
    return st;
}

/* ---- Flax decode ------------------------------------------------------------- */

static na_status init_cache(const char *who, na_layer **attention,
                            const na_kv_cache_options *opt)
{
    if (!attention || !*attention)
        return na__fail(NA_ERR_ARGUMENT, "%s: attention is NULL", who);
    int64_t batch = opt ? opt->batch_size : 0, max_length = opt ? opt->capacity : 0;
    na_status st = NA_OK;
    if (!opt)
        st = na__fail(NA_ERR_ARGUMENT, "%s: opt is NULL", who);
    else if (!na_layer_is(*attention, &na_attention_type))
        st = na__fail(NA_ERR_ARGUMENT, "%s: needs an Attention, got %s", who,
                      na_layer_type_name(*attention));
    else if (batch <= 0)
        st = na__fail(NA_ERR_ARGUMENT, "%s: batch is %lld (must be > 0)", who,
                      (long long)batch);
    else if (max_length <= 0)
        st = na__fail(NA_ERR_ARGUMENT, "%s: max_length is %lld (must be > 0)", who,
                      (long long)max_length);
    if (st != NA_OK) { /* freed on failure */
        na_layer_free(*attention);
        *attention = NULL;
        return st;
    }
    na_layer *cached = NULL;
    st = na_kv_cache_from_attention(*attention, opt, &cached);
    *attention = cached;
    return st;
}

na_status na_mha_init_cache(na_layer **attention, int64_t batch, int64_t max_length)
{
    na_kv_cache_options o = {.capacity = max_length, .batch_size = batch};
    return init_cache("na_mha_init_cache", attention, &o);
}

na_status na_mha_init_cache_ex(na_layer **attention, const na_kv_cache_options *opt)
{
    return init_cache("na_mha_init_cache_ex", attention, opt);
}
