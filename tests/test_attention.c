/* Attention: the combinator, the builders (Flax MHA, Keras GQA), GQA/MQA
 * head order, cross-attention, captured weights, against a plain-loop
 * reference and Keras's published numbers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <namedarr/attention.h>
#include <namedarr/combinators.h>
#include <namedarr/layers.h>
#include <namedarr/print.h>
#include <namedarr/tree.h>

#include "support.h"

/* ---- plain-loop reference ------------------------------------------------ */

typedef struct ref_spec {
    int B, S, T, E, Ekv, Eo, H, Hkv, D;
    double scale;
    bool zero_rows, qk_norm;
    const float *xq;             /* [B][S][E]                              */
    const float *xkv;            /* [B][T][Ekv]                            */
    const float *wq;             /* [E][H][D], flat head h = kv*G + g      */
    const float *wk, *wv;        /* [Ekv][Hkv][D]                          */
    const float *wo;             /* [H][D][Eo]                             */
    const float *bq, *bk, *bv;   /* [H][D], [Hkv][D], [Hkv][D] or NULL     */
    const float *bo;             /* [Eo] or NULL                           */
    const bool *mask;            /* [B][S][T] or NULL                      */
} ref_spec;

/* y[n][o] = x[n][:] . w[:][o] + b[o] */
static void ref_project(int n, int in, int out, const float *x, const float *w,
                        const float *b, double *y)
{
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++) {
            double s = b ? b[o] : 0;
            for (int e = 0; e < in; e++)
                s += (double)x[i * in + e] * w[e * out + o];
            y[i * out + o] = s;
        }
}

/* LayerNorm over the last axis (size d) of n rows, eps 1e-6, scale 1. */
static void ref_norm(int n, int d, double *x)
{
    for (int i = 0; i < n; i++) {
        double m = 0, v = 0;
        for (int j = 0; j < d; j++)
            m += x[i * d + j];
        m /= d;
        for (int j = 0; j < d; j++)
            v += (x[i * d + j] - m) * (x[i * d + j] - m);
        v /= d;
        for (int j = 0; j < d; j++)
            x[i * d + j] = (x[i * d + j] - m) / sqrt(v + 1e-6);
    }
}

/* out [B][S][Eo]; w (optional) [B][H][S][T]. */
static void ref_attention(const ref_spec *r, double *out, double *w)
{
    int B = r->B, S = r->S, T = r->T, H = r->H, D = r->D, G = r->H / r->Hkv;
    double *q = calloc((size_t)B * S * H * D, sizeof *q);
    double *k = calloc((size_t)B * T * r->Hkv * D, sizeof *k);
    double *v = calloc((size_t)B * T * r->Hkv * D, sizeof *v);
    double *o = calloc((size_t)S * H * D, sizeof *o);
    ref_project(B * S, r->E, H * D, r->xq, r->wq, r->bq, q);
    ref_project(B * T, r->Ekv, r->Hkv * D, r->xkv, r->wk, r->bk, k);
    ref_project(B * T, r->Ekv, r->Hkv * D, r->xkv, r->wv, r->bv, v);
    if (r->qk_norm) {
        ref_norm(B * S * H, D, q);
        ref_norm(B * T * r->Hkv, D, k);
    }
    ts_attn_row row = {.T = T, .D = D, .Dv = D, .zero_rows = r->zero_rows,
                       .scale = r->scale ? r->scale : 1.0 / sqrt(D)};
    ptrdiff_t kv_row = (ptrdiff_t)r->Hkv * D; /* k, v [B][T][Hkv][D] */
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < H; h++)
            for (int i = 0; i < S; i++) {
                const double *kb = k + ((size_t)b * T * r->Hkv + h / G) * D; /* GQA */
                const double *vb = v + ((size_t)b * T * r->Hkv + h / G) * D;
                ts_attend_row(&row, q + ((size_t)(b * S + i) * H + h) * D, kb, kv_row, vb,
                              kv_row, r->mask ? r->mask + (size_t)(b * S + i) * T : NULL, NULL,
                              w ? w + ((size_t)(b * H + h) * S + i) * T : NULL,
                              o + ((size_t)i * H + h) * D);
            }
        for (int i = 0; i < S; i++)
            for (int e = 0; e < r->Eo; e++) {
                double s = r->bo ? r->bo[e] : 0;
                for (int hd = 0; hd < H * D; hd++)
                    s += o[i * H * D + hd] * r->wo[hd * r->Eo + e];
                out[(b * S + i) * r->Eo + e] = s;
            }
    }
    free(q);
    free(k);
    free(v);
    free(o);
}

/* ---- helpers ----------------------------------------------------------------- */

/* x's values in the order of `names` (all of x's axes), as f32. */
static float *to_f32(const na_array *x, const char *const *names)
{
    na_array *o = NULL;
    NA_OK_OR_FAIL(na_order_as(x, names, &o));
    float *d = malloc(sizeof(float) * (size_t)(na_size(o) ? na_size(o) : 1));
    NA_OK_OR_FAIL(na_copy_to(o, NA_F32, d));
    na_array_free(o);
    return d;
}

/* The value of the parameter labelled `label` in the tree, or NULL. */
static float *param_f32(const na_layer *model, const char *label,
                        const char *const *names)
{
    na_param_list list = {0};
    NA_OK_OR_FAIL(na_tree_params(model, &list));
    float *d = NULL;
    for (int i = 0; i < list.count && !d; i++)
        if (strcmp(list.items[i].param->label, label) == 0)
            d = to_f32(list.items[i].param->value, names);
    na_param_list_clear(&list);
    return d;
}

static double max_diff(const float *a, const double *b, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

/* Names of the query-head axes (with projection) for a layout. */
#define MHA_Q NA_NAMES("embedding", "heads", "projection")
#define MHA_O NA_NAMES("heads", "projection", "embedding")
#define GQA_Q NA_NAMES("embedding", "kv_heads", "query_heads", "projection")
#define GQA_KV NA_NAMES("embedding", "kv_heads", "projection")
#define GQA_O NA_NAMES("kv_heads", "query_heads", "projection", "embedding")

typedef struct loaded {
    float *wq, *wk, *wv, *wo, *bq, *bk, *bv, *bo;
} loaded;

static void load_weights(const na_layer *m, const char *name, bool grouped, bool bias,
                         loaded *w)
{
    char l[128];
    const char *const *qn = grouped ? GQA_Q : MHA_Q;
    const char *const *kn = grouped ? GQA_KV : MHA_Q;
    const char *const *on = grouped ? GQA_O : MHA_O;
#define LOAD(field, part, suffix, names)                                      \
    snprintf(l, sizeof l, "%s/%s.%s", name, part, suffix);                    \
    w->field = param_f32(m, l, names);                                        \
    cr_assert(w->field, "no parameter %s", l)
    LOAD(wq, "query", "weights", qn);
    LOAD(wk, "key", "weights", kn);
    LOAD(wv, "value", "weights", kn);
    LOAD(wo, "output", "weights", on);
    if (bias) {
        LOAD(bq, "query", "bias", qn + 1);
        LOAD(bk, "key", "bias", kn + 1);
        LOAD(bv, "value", "bias", kn + 1);
        LOAD(bo, "output", "bias", NA_NAMES("embedding"));
    }
#undef LOAD
}

static void free_loaded(loaded *w)
{
    free(w->wq), free(w->wk), free(w->wv), free(w->wo);
    free(w->bq), free(w->bk), free(w->bv), free(w->bo);
}

/* Randomise every parameter of the tree (biases too, not the LayerNorm
 * scales, which the reference takes as 1), seed by index. */
static void randomise(na_layer *m, uint64_t seed)
{
    na_param_list list = {0};
    NA_OK_OR_FAIL(na_tree_params(m, &list));
    for (int i = 0; i < list.count; i++) {
        const na_array *v = list.items[i].param->value;
        if (strstr(list.items[i].param->label, "_norm"))
            continue;
        na_dim dims[NA_MAX_DIMS];
        for (int d = 0; d < v->ndim; d++)
            dims[d] = (na_dim){v->name[d], v->shape[d]};
        na_param_set_value(list.items[i].param,
                           ts_random(NA_F32, v->ndim, dims, seed + 17 * (uint64_t)i));
    }
    na_param_list_clear(&list);
}

/* Compare a model's output (and optionally kept weights) to the reference. */
static void check_against_ref(na_layer *m, const na_value *in, const na_side *side,
                              ref_spec *r, const char *name, bool grouped, bool bias,
                              double tol)
{
    loaded w = {0};
    load_weights(m, name, grouped, bias, &w);
    r->wq = w.wq, r->wk = w.wk, r->wv = w.wv, r->wo = w.wo;
    r->bq = w.bq, r->bk = w.bk, r->bv = w.bv, r->bo = w.bo;
    na_value *y = NULL;
    NA_OK_OR_FAIL(na_layer_call(m, in, side, &y));
    const na_array *ya = y->kind == NA_VALUE_TUPLE ? y->items[0]->array : y->array;
    cr_assert_eq(na_axis_size(ya, "seq"), r->S);
    float *got = to_f32(ya, NA_NAMES("batch", "seq", "embedding"));
    double *want = calloc((size_t)r->B * r->S * r->Eo, sizeof *want);
    ref_attention(r, want, NULL);
    double err = max_diff(got, want, (int64_t)r->B * r->S * r->Eo);
    cr_assert(err < tol, "max |diff| %g vs reference", err);
    free(got);
    free(want);
    na_value_free(y);
    free_loaded(&w);
}

/* ---- Keras's published case ----------------------------------------------------- */

Test(attention, keras_published_case)
{
    na_gqa_options o = {.head_dim = 8, .num_query_heads = 8, .num_key_value_heads = 8,
                        .query_features = 8, .return_attention_scores = true, .features_axis = "features"};
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_gqa_new(&o, &m));
    float wq[8 * 8 * 8], wo[8 * 8 * 8], eye[64], val[64];
    for (int a = 0; a < 8; a++)
        for (int b = 0; b < 8; b++)
            for (int c = 0; c < 8; c++) {
                wq[(a * 8 + b) * 8 + c] = a == c; /* [m][u][d]: m == d */
                wo[(a * 8 + b) * 8 + c] = a == c; /* [u][d][m]: u == m */
            }
    for (int i = 0; i < 64; i++) {
        eye[i] = i / 8 == i % 8;
        val[i] = (float)i / 100.0f;
    }
    na_array *kq = NULL, *kk = NULL, *ko = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_F32, NA_DIMS({"features", 8}, {"kv_heads", 8},
                               {"query_heads", 1}, {"projection", 8}), wq, &kq));
    NA_OK_OR_FAIL(na_from_data(NA_F32, NA_DIMS({"features", 8}, {"kv_heads", 8},
                               {"projection", 8}), wq, &kk));
    NA_OK_OR_FAIL(na_from_data(NA_F32, NA_DIMS({"kv_heads", 8}, {"query_heads", 1},
                               {"projection", 8}, {"features", 8}), wo, &ko));
    na_labeled_array binds[] = {{"attention/query.weights", kq},
                                {"attention/key.weights", kk},
                                {"attention/value.weights", kk},
                                {"attention/output.weights", ko}};
    NA_OK_OR_FAIL(na_tree_bind(m, 4, binds, NA_BIND_ALLOW_MISSING));
    na_array *q = NULL, *k = NULL, *v = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_F32, NA_DIMS({"seq", 8}, {"features", 8}), eye, &q));
    NA_OK_OR_FAIL(na_from_data(NA_F32, NA_DIMS({"kv_seq", 8}, {"features", 8}), eye, &k));
    NA_OK_OR_FAIL(na_from_data(NA_F32, NA_DIMS({"kv_seq", 8}, {"features", 8}), val, &v));
    /* Keras call order: (query, value, key) */
    na_value *in = na_value_tuple(3, (na_value *[]){na_value_ref_array(q),
                                                    na_value_ref_array(v),
                                                    na_value_ref_array(k)});
    na_value *y = NULL;
    NA_OK_OR_FAIL(na_layer_call(m, in, NULL, &y));
    cr_assert_eq(y->kind, NA_VALUE_TUPLE);
    const na_array *out = y->items[0]->array, *w = y->items[1]->array;
    static const double published[8] = {2.406, 2.440, 2.473, 2.504,
                                        2.535, 2.568, 2.602, 2.633};
    for (int i = 0; i < 8; i++)
        for (int f = 0; f < 8; f++) {
            double got = ts_at(out, 2, NA_NAMES("seq", "features"), (int64_t[]){i, f});
            cr_assert(fabs(got - published[i]) < 2e-3, "out[%d,%d] = %g vs %g", i, f,
                      got, published[i]);
            cr_assert(fabs(got - (2.40723 + 0.03222 * i)) < 1e-4, "out[%d,%d] = %.6f",
                      i, f, got);
        }
    cr_assert_eq(na_axis_size(w, "kv_heads"), 8);
    for (int h = 0; h < 8; h++)
        for (int i = 0; i < 8; i++)
            for (int j = 0; j < 8; j++) {
                double a = ts_at(w, 4, NA_NAMES("kv_heads", "query_heads", "seq", "kv_seq"),
                                 (int64_t[]){h, 0, i, j});
                cr_assert(fabs(a - (i == j ? 0.1691 : 0.1187)) < 1e-4,
                          "weight[%d,%d,%d] = %g", h, i, j, a);
            }
    na_value_free(y);
    na_value_free(in);
    na_array_free(q), na_array_free(k), na_array_free(v);
    na_array_free(kq), na_array_free(kk), na_array_free(ko);
    na_layer_free(m);
}

/* ---- reference comparisons -------------------------------------------------------- */

/* Random input {batch, seq, embedding} as an array and as floats. */
static na_array *rand_input(int b, int s, int e, uint64_t seed, const char *seq,
                            float **data)
{
    na_array *x = ts_random(NA_F32, NA_DIMS({"batch", b}, {seq, s}, {"embedding", e}), seed);
    *data = to_f32(x, NA_NAMES("batch", seq, "embedding"));
    return x;
}

/* MHA or GQA (num_kv_heads) with bias and a padding mask, vs reference. */
static void mha_case(int B, int S, int E, int H, int Hkv, int D, int Eo, bool qk_norm)
{
    na_mha_options o = {.num_heads = H, .num_kv_heads = Hkv, .in_features = E,
                        .qkv_features = H * D, .out_features = Eo, .normalize_qk = qk_norm, .seed = 7};
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_mha_new(&o, &m));
    randomise(m, 100);
    float *xd = NULL;
    na_array *x = rand_input(B, S, E, 3, "seq", &xd);
    /* padding mask {batch, kv_seq}: batch b masks its last b keys */
    bool *pad = calloc((size_t)B * S, 1), *full = calloc((size_t)B * S * S, 1);
    for (int b = 0; b < B; b++)
        for (int j = 0; j < S; j++)
            pad[b * S + j] = j < S - b;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < S; i++)
            for (int j = 0; j < S; j++)
                full[(b * S + i) * S + j] = pad[b * S + j];
    na_array *mask = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_BOOL, NA_DIMS({"batch", B}, {"kv_seq", S}), pad, &mask));
    na_side *side = na_side_new();
    NA_OK_OR_FAIL(na_side_set_array(side, "attn_mask", mask));
    ref_spec r = {.B = B, .S = S, .T = S, .E = E, .Ekv = E, .Eo = Eo, .H = H,
                  .Hkv = Hkv ? Hkv : H, .D = D, .xq = xd, .xkv = xd, .mask = full,
                  .qk_norm = qk_norm};
    na_value *in = na_value_ref_array(x);
    check_against_ref(m, in, side, &r, "attention", Hkv && Hkv != H, true, 2e-5);
    na_value_free(in);
    na_side_free(side);
    na_array_free(mask);
    na_array_free(x);
    free(xd), free(pad), free(full);
    na_layer_free(m);
}

Test(attention, mha_matches_reference) { mha_case(2, 5, 6, 3, 0, 4, 7, false); }
Test(attention, mha_odd_sizes_batch3) { mha_case(3, 7, 5, 1, 0, 3, 5, false); }
Test(attention, gqa_head_order_matches_reference) { mha_case(2, 6, 8, 6, 2, 4, 8, false); }
Test(attention, mqa_matches_reference) { mha_case(2, 5, 8, 4, 1, 5, 3, false); }
Test(attention, normalize_qk_matches_reference) { mha_case(2, 4, 6, 2, 0, 4, 6, true); }

Test(attention, cross_attention_different_lengths)
{
    int B = 2, S = 3, T = 7, E = 6, Ekv = 5, H = 2, D = 4;
    na_mha_options o = {.num_heads = H, .in_features = E, .in_kv_features = Ekv,
                        .qkv_features = H * D, .seed = 3, .no_bias = true};
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_mha_new(&o, &m));
    float *xq = NULL, *xkv = NULL;
    na_array *q = rand_input(B, S, E, 11, "seq", &xq);
    na_array *kv = rand_input(B, T, Ekv, 12, "seq", &xkv); /* seq -> kv_seq inside */
    na_value *in = na_value_tuple(2, (na_value *[]){na_value_ref_array(q),
                                                    na_value_ref_array(kv)});
    ref_spec r = {.B = B, .S = S, .T = T, .E = E, .Ekv = Ekv, .Eo = E, .H = H, .Hkv = H,
                  .D = D, .xq = xq, .xkv = xkv};
    check_against_ref(m, in, NULL, &r, "attention", false, false, 2e-5);
    na_value_free(in);
    na_array_free(q), na_array_free(kv);
    free(xq), free(xkv);
    na_layer_free(m);
}

/* Keras GQA with Hkv == Hq (grouped layout, query_heads:1) equals Flax MHA
 * (heads layout) given the same weights. */
Test(attention, gqa_equal_heads_equals_mha)
{
    int H = 4, D = 3, E = 6;
    na_mha_options mo = {.num_heads = H, .in_features = E, .qkv_features = H * D, .no_bias = true};
    na_gqa_options go = {.head_dim = D, .num_query_heads = H, .num_key_value_heads = H,
                         .query_features = E, .no_bias = true};
    na_layer *mha = NULL, *gqa = NULL;
    NA_OK_OR_FAIL(na_mha_new(&mo, &mha));
    NA_OK_OR_FAIL(na_gqa_new(&go, &gqa));
    randomise(mha, 5);
    const char *parts[] = {"query", "key", "value", "output"};
    for (int i = 0; i < 4; i++) {
        char label[64];
        snprintf(label, sizeof label, "attention/%s.weights", parts[i]);
        bool out = i == 3, q = i == 0;
        float *w = param_f32(mha, label, out ? MHA_O : MHA_Q);
        na_array *a = NULL;
        if (out)
            NA_OK_OR_FAIL(na_from_data(NA_F32, NA_DIMS({"kv_heads", H}, {"query_heads", 1},
                                       {"projection", D}, {"embedding", E}), w, &a));
        else if (q)
            NA_OK_OR_FAIL(na_from_data(NA_F32, NA_DIMS({"embedding", E}, {"kv_heads", H},
                                       {"query_heads", 1}, {"projection", D}), w, &a));
        else
            NA_OK_OR_FAIL(na_from_data(NA_F32, NA_DIMS({"embedding", E}, {"kv_heads", H},
                                       {"projection", D}), w, &a));
        na_labeled_array b = {label, a};
        NA_OK_OR_FAIL(na_tree_bind(gqa, 1, &b, NA_BIND_ALLOW_MISSING));
        na_array_free(a);
        free(w);
    }
    float *xd = NULL;
    na_array *x = rand_input(2, 5, E, 9, "seq", &xd), *y1 = NULL, *y2 = NULL;
    NA_OK_OR_FAIL(na_layer_call_array(mha, x, NULL, &y1));
    NA_OK_OR_FAIL(na_layer_call_array(gqa, x, NULL, &y2));
    cr_assert(ts_max_abs_diff(y1, y2) < 1e-5, "diff %g", ts_max_abs_diff(y1, y2));
    na_array_free(x), na_array_free(y1), na_array_free(y2);
    free(xd);
    na_layer_free(mha);
    na_layer_free(gqa);
}

/* ---- the combinator ---------------------------------------------------------------- */

Test(attention, children_named_and_printed)
{
    na_mha_options o = {.num_heads = 2, .in_features = 8, .causal = true, .no_bias = true};
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_mha_new(&o, &m));
    const char *names[] = {"input_to_query", "input_to_key", "input_to_value",
                           "query_key_to_attn", "attn_value_to_output"};
    cr_assert_eq(na_layer_child_count(m), 5);
    for (int i = 0; i < 5; i++)
        cr_assert_str_eq(na_layer_child_name(m, i), names[i]);
    cr_assert(na_tree_get(m, "query_key_to_attn/0"));
    char *s = NULL;
    na_print_options po = {.color = NA_COLOR_NEVER};
    NA_OK_OR_FAIL(na_print_tree_str(m, &po, &s));
    cr_assert(strstr(s, "Attention("), "%s", s);
    cr_assert(strstr(s, "input_to_query="), "%s", s);
    cr_assert(strstr(s, "AttentionLogits("), "%s", s);
    cr_assert(strstr(s, "ApplyCausalMask("), "%s", s);
    cr_assert(strstr(s, "attention/query.weights"), "%s", s);
    free(s);
    na_layer_free(m);
}

/* A custom layer: checks a side input is there, counts calls, passes the
 * input through. */
typedef struct probe_layer {
    na_layer base;
    int *calls;
} probe_layer;

static na_status probe_call(na_layer *self, const na_value *in, const na_side *side,
                            na_value **out)
{
    if (!na_side_require_array(side, "probe", "Probe"))
        return na_last_status();
    (*((probe_layer *)self)->calls)++;
    *out = na_value_clone(in);
    return NA_OK;
}

static const na_layer_type probe_type = {
    .name = "Probe", .call = probe_call, .size = sizeof(probe_layer)};

static na_status make_probe(na_layer *target, const char *path, void *ctx, na_layer **out)
{
    (void)target, (void)path;
    probe_layer *p = calloc(1, sizeof *p);
    p->base.type = &probe_type;
    p->calls = ctx;
    *out = &p->base;
    return NA_OK;
}

Test(attention, side_inputs_reach_all_five_custom_sublayers)
{
    na_mha_options o = {.num_heads = 2, .in_features = 4, .no_bias = true};
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_mha_new(&o, &m));
    int calls = 0;
    for (int i = 0; i < 5; i++) {
        na_selection *sel = NULL;
        NA_OK_OR_FAIL(na_select_path(&m, na_layer_child_name(m, i), &sel));
        NA_OK_OR_FAIL(na_selection_insert_before(sel, make_probe, &calls));
        na_selection_free(sel);
    }
    na_array *x = ts_random(NA_F32, NA_DIMS({"seq", 3}, {"embedding", 4}), 1), *y = NULL;
    na_side *side = na_side_new();
    NA_EXPECT_FAIL(na_layer_call_array(m, x, side, &y), NA_ERR_NOT_FOUND, "probe",
                   "input_to_query");
    NA_OK_OR_FAIL(na_side_set_array(side, "probe", x));
    NA_OK_OR_FAIL(na_layer_call_array(m, x, side, &y));
    cr_assert_eq(calls, 5);
    cr_assert_eq(na_axis_size(y, "embedding"), 4);
    na_array_free(y);
    na_array_free(x);
    na_side_free(side);
    na_layer_free(m);
}

/* A hand-built Attention (Linear + RenameAxes, no builder) equals the
 * builder's with the same weights. */
Test(attention, hand_built_equals_builder)
{
    int E = 6, H = 2, D = 3;
    na_mha_options o = {.num_heads = H, .in_features = E, .qkv_features = H * D, .no_bias = true};
    na_layer *built = NULL;
    NA_OK_OR_FAIL(na_mha_new(&o, &built));
    na_param_list list = {0};
    NA_OK_OR_FAIL(na_tree_params(built, &list));
    cr_assert_eq(list.count, 4);
    na_layer *lin[4];
    for (int i = 0; i < 4; i++) {
        bool out = i == 3;
        NA_OK_OR_FAIL(na_linear_from_param(list.items[i].param,
                                           out ? NA_NAMES("heads", "projection")
                                               : NA_NAMES("embedding"),
                                           out ? NA_NAMES("embedding")
                                               : NA_NAMES("heads", "projection"),
                                           &lin[i]));
    }
    na_param_list_clear(&list);
    na_layer *rk = NULL, *rv = NULL, *kpath = NULL, *vpath = NULL, *qk = NULL,
             *comb = NULL, *av = NULL, *hand = NULL;
    NA_OK_OR_FAIL(na_rename_axes_new(NA_NAMES("seq"), NA_NAMES("kv_seq"), &rk));
    NA_OK_OR_FAIL(na_rename_axes_new(NA_NAMES("seq"), NA_NAMES("kv_seq"), &rv));
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(lin[1], rk), &kpath));
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(lin[2], rv), &vpath));
    NA_OK_OR_FAIL(na_dot_product_attn_new(NULL, &qk));
    NA_OK_OR_FAIL(na_attention_combine_new(NULL, &comb));
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(comb, lin[3]), &av));
    NA_OK_OR_FAIL(na_attention_new(lin[0], kpath, vpath, qk, av, &hand));
    na_array *x = ts_random(NA_F32, NA_DIMS({"batch", 2}, {"seq", 4}, {"embedding", E}), 4);
    na_array *y1 = NULL, *y2 = NULL;
    NA_OK_OR_FAIL(na_layer_call_array(built, x, NULL, &y1));
    NA_OK_OR_FAIL(na_layer_call_array(hand, x, NULL, &y2));
    cr_assert(ts_max_abs_diff(y1, y2) < 1e-6);
    na_array_free(x), na_array_free(y1), na_array_free(y2);
    na_layer_free(built);
    na_layer_free(hand);
}

Test(attention, captured_weights)
{
    na_mha_options o = {.num_heads = 3, .in_features = 6, .capture_weights = true,
                        .causal = true, .no_bias = true};
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_mha_new(&o, &m));
    cr_assert_null(na_attention_weights(m));
    na_array *x = ts_random(NA_F32, NA_DIMS({"batch", 2}, {"seq", 5}, {"embedding", 6}), 2);
    na_array *y = NULL;
    NA_OK_OR_FAIL(na_layer_call_array(m, x, NULL, &y));
    const na_array *w = na_attention_weights(m);
    cr_assert_not_null(w);
    cr_assert_eq(na_axis_size(w, "heads"), 3);
    cr_assert_eq(na_axis_size(w, "kv_seq"), 5);
    for (int h = 0; h < 3; h++)
        for (int i = 0; i < 5; i++) {
            double sum = 0;
            for (int j = 0; j < 5; j++) {
                double a = ts_at(w, 4, NA_NAMES("batch", "heads", "seq", "kv_seq"),
                                 (int64_t[]){1, h, i, j});
                cr_assert(j <= i || a == 0, "causal: w[%d,%d] = %g", i, j, a);
                sum += a;
            }
            cr_assert(fabs(sum - 1) < 1e-5);
        }
    /* the tree tools see the same thing */
    na_capture *cap = NULL;
    NA_OK_OR_FAIL(na_capture_new(&cap));
    NA_OK_OR_FAIL(na_capture_add(cap, na_tree_get(m, "query_key_to_attn"), "w"));
    na_value *in = na_value_ref_array(x), *out = NULL;
    NA_OK_OR_FAIL(na_call_capturing(m, in, NULL, cap, &out));
    const na_value *cw = na_capture_find(cap, "w", 0);
    cr_assert(cw && ts_max_abs_diff(cw->array, na_attention_weights(m)) == 0);
    na_value_free(in), na_value_free(out);
    na_capture_free(cap);
    na_array_free(x), na_array_free(y);
    na_layer_free(m);
}

/* Flax's broadcast_dropout: one mask over (seq, kv_seq), the same for every
 * batch index and every head. */
Test(attention, broadcast_dropout_shares_mask_across_batch_and_heads)
{
    na_mha_options o = {.num_heads = 4, .in_features = 8, .dropout_rate = 0.5,
                        .capture_weights = true, .seed = 1, .no_bias = true};
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_mha_new(&o, &m));
    na_array *x = ts_random(NA_F32, NA_DIMS({"batch", 2}, {"seq", 6}, {"embedding", 8}), 2);
    na_array *y = NULL;
    NA_OK_OR_FAIL(na_layer_call_array(m, x, NULL, &y));
    const na_array *w = na_attention_weights(m);
    int zeros = 0;
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) {
            const char *const n[] = {"batch", "heads", "seq", "kv_seq", NULL};
            bool z0 = ts_at(w, 4, n, (int64_t[]){0, 0, i, j}) == 0;
            zeros += z0;
            for (int b = 0; b < 2; b++)
                for (int h = 0; h < 4; h++)
                    cr_assert_eq(z0, ts_at(w, 4, n, (int64_t[]){b, h, i, j}) == 0,
                                 "batch %d head %d (%d, %d)", b, h, i, j);
        }
    cr_assert(zeros > 5 && zeros < 31, "%d zeros of 36", zeros);
    na_array_free(x), na_array_free(y);
    na_layer_free(m);
}

/* Without broadcast_dropout every batch index and head draws its own mask. */
Test(attention, dropout_without_broadcast_varies_by_batch_and_head)
{
    na_mha_options o = {.num_heads = 4, .in_features = 8, .dropout_rate = 0.5,
                        .capture_weights = true, .seed = 1, .no_bias = true, .independent_dropout = true};
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_mha_new(&o, &m));
    na_array *x = ts_random(NA_F32, NA_DIMS({"batch", 2}, {"seq", 6}, {"embedding", 8}), 2);
    na_array *y = NULL;
    NA_OK_OR_FAIL(na_layer_call_array(m, x, NULL, &y));
    const na_array *w = na_attention_weights(m);
    const char *const n[] = {"batch", "heads", "seq", "kv_seq", NULL};
    int differ_batch = 0, differ_head = 0;
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) {
            bool z = ts_at(w, 4, n, (int64_t[]){0, 0, i, j}) == 0;
            differ_batch += z != (ts_at(w, 4, n, (int64_t[]){1, 0, i, j}) == 0);
            differ_head += z != (ts_at(w, 4, n, (int64_t[]){0, 1, i, j}) == 0);
        }
    cr_assert(differ_batch > 0 && differ_head > 0, "batch %d head %d", differ_batch,
              differ_head);
    na_array_free(x), na_array_free(y);
    na_layer_free(m);
}

/* Keras: call(query, value) uses the value as the key; passing the key
 * explicitly changes the result. */
Test(attention, keras_key_defaults_to_value)
{
    na_gqa_options o = {.head_dim = 4, .num_query_heads = 4, .num_key_value_heads = 2,
                        .query_features = 6, .value_features = 5, .seed = 9, .no_bias = true};
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_gqa_new(&o, &m));
    na_array *q = ts_random(NA_F32, NA_DIMS({"batch", 2}, {"seq", 3}, {"embedding", 6}), 1);
    na_array *v = ts_random(NA_F32, NA_DIMS({"batch", 2}, {"kv_seq", 5}, {"embedding", 5}), 2);
    na_array *k = ts_random(NA_F32, NA_DIMS({"batch", 2}, {"kv_seq", 5}, {"embedding", 5}), 3);
    na_value *two = na_value_tuple(2, (na_value *[]){na_value_ref_array(q),
                                                     na_value_ref_array(v)});
    na_value *three = na_value_tuple(3, (na_value *[]){na_value_ref_array(q),
                                                       na_value_ref_array(v),
                                                       na_value_ref_array(v)});
    na_value *other = na_value_tuple(3, (na_value *[]){na_value_ref_array(q),
                                                       na_value_ref_array(v),
                                                       na_value_ref_array(k)});
    na_value *y2 = NULL, *y3 = NULL, *yk = NULL;
    NA_OK_OR_FAIL(na_layer_call(m, two, NULL, &y2));
    NA_OK_OR_FAIL(na_layer_call(m, three, NULL, &y3));
    NA_OK_OR_FAIL(na_layer_call(m, other, NULL, &yk));
    const na_array *a2 = na_value_array(y2, "test"), *a3 = na_value_array(y3, "test");
    const na_array *ak = na_value_array(yk, "test");
    cr_assert(a2 && a3 && ak);
    cr_assert_eq(ts_max_abs_diff(a2, a3), 0);
    cr_assert(ts_max_abs_diff(a2, ak) > 1e-4);
    na_value_free(two), na_value_free(three), na_value_free(other);
    na_value_free(y2), na_value_free(y3), na_value_free(yk);
    na_array_free(q), na_array_free(v), na_array_free(k);
    na_layer_free(m);
}

/* ---- Keras's call-time masks ------------------------------------------------------ */

/* Keras's _compute_attention_mask, step by step, for the reference:
 * attention_mask & query_mask[:, :, None] & value_mask[:, None, :] &
 * key_mask[:, None, :] & causal (ones cumsum: row >= col). */
static void keras_mask(int B, int S, int T, const bool *attn, const bool *qm,
                       const bool *vm, const bool *km, bool causal, bool *out)
{
    for (int b = 0; b < B; b++)
        for (int i = 0; i < S; i++)
            for (int j = 0; j < T; j++) {
                bool auto_mask = qm[b * S + i];
                auto_mask = auto_mask && vm[b * T + j];
                auto_mask = auto_mask && km[b * T + j];
                if (causal)
                    auto_mask = auto_mask && i + 1 >= j + 1;
                out[(b * S + i) * T + j] = attn[(b * S + i) * T + j] && auto_mask;
            }
}

static na_array *bool_array(const bool *d, na_dim a, na_dim b)
{
    na_array *x = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_BOOL, 2, (na_dim[]){a, b}, d, &x));
    return x;
}

/* GQA cross-attention with the three padding masks, an explicit mask and
 * the causal mask; batch 1's query row 2 is fully padded (Keras: zero
 * weights, the output is the output bias). Output and the scores in
 * Keras's layout {batch, heads, seq, kv_seq} against the reference. */
Test(attention, keras_query_value_key_masks_combined)
{
    enum { B = 2, S = 4, T = 5, E = 6, Ev = 5, H = 4, Hkv = 2, D = 3 };
    na_gqa_options o = {.head_dim = D, .num_query_heads = H, .num_key_value_heads = Hkv,
                        .query_features = E, .value_features = Ev, .use_causal_mask = true,
                        .return_attention_scores = true, .keras_scores_layout = true,
                        .seed = 4};
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_gqa_new(&o, &m));
    randomise(m, 40);
    float *xq = NULL, *xv = NULL;
    na_array *q = rand_input(B, S, E, 5, "seq", &xq), *v = rand_input(B, T, Ev, 6, "seq", &xv);
    bool qm[B * S] = {1, 1, 1, 1, 1, 1, 0, 1};
    bool vm[B * T] = {1, 1, 1, 1, 0, 1, 1, 1, 1, 1};
    bool km[B * T] = {1, 1, 1, 1, 1, 0, 1, 1, 1, 1};
    bool attn[B * S * T], full[B * S * T];
    for (int i = 0; i < B * S * T; i++)
        attn[i] = i % 7 != 3;
    keras_mask(B, S, T, attn, qm, vm, km, true, full);
    na_array *a = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_BOOL, NA_DIMS({"batch", B}, {"seq", S}, {"kv_seq", T}),
                               attn, &a));
    na_array *qa = bool_array(qm, (na_dim){"batch", B}, (na_dim){"seq", S});
    na_array *va = bool_array(vm, (na_dim){"batch", B}, (na_dim){"kv_seq", T});
    na_array *ka = bool_array(km, (na_dim){"batch", B}, (na_dim){"kv_seq", T});
    na_side *side = na_side_new();
    NA_OK_OR_FAIL(na_side_set_array(side, NA_ATTN_MASK_KEY, a));
    NA_OK_OR_FAIL(na_side_set_array(side, NA_QUERY_MASK_KEY, qa));
    NA_OK_OR_FAIL(na_side_set_array(side, NA_VALUE_MASK_KEY, va));
    NA_OK_OR_FAIL(na_side_set_array(side, NA_KEY_MASK_KEY, ka));
    na_value *in = na_value_tuple(2, (na_value *[]){na_value_ref_array(q),
                                                    na_value_ref_array(v)});
    ref_spec r = {.B = B, .S = S, .T = T, .E = E, .Ekv = Ev, .Eo = E, .H = H, .Hkv = Hkv,
                  .D = D, .xq = xq, .xkv = xv, .mask = full, .zero_rows = true};
    loaded lw = {0};
    load_weights(m, "attention", true, true, &lw);
    r.wq = lw.wq, r.wk = lw.wk, r.wv = lw.wv, r.wo = lw.wo;
    r.bq = lw.bq, r.bk = lw.bk, r.bv = lw.bv, r.bo = lw.bo;
    na_value *y = NULL;
    NA_OK_OR_FAIL(na_layer_call(m, in, side, &y));
    double *want_y = calloc(B * S * E, sizeof(double)), *want_w = calloc(B * H * S * T,
                                                                         sizeof(double));
    ref_attention(&r, want_y, want_w);
    float *got_y = to_f32(y->items[0]->array, NA_NAMES("batch", "seq", "embedding"));
    cr_assert(max_diff(got_y, want_y, B * S * E) < 2e-5, "output vs reference");
    /* the scores: {batch, heads:H, seq, kv_seq}, head = kv_head * 2 + query_head */
    const na_array *w = y->items[1]->array;
    ts_expect_shape(w, "f32[batch:2, heads:4, seq:4, kv_seq:5]");
    float *got_w = to_f32(w, NA_NAMES("batch", "heads", "seq", "kv_seq"));
    cr_assert(max_diff(got_w, want_w, B * H * S * T) < 1e-5, "scores vs reference");
    for (int h = 0; h < H; h++)
        for (int j = 0; j < T; j++)
            cr_assert_eq(got_w[((1 * H + h) * S + 2) * T + j], 0.0f, "padded query row");
    /* and the padded row's output is the output bias */
    for (int e = 0; e < E; e++)
        cr_assert(fabs(got_y[(1 * S + 2) * E + e] - lw.bo[e]) < 1e-6);
    free(want_y), free(want_w), free(got_w), free(got_y);
    free_loaded(&lw);
    na_value_free(y), na_value_free(in);
    na_side_free(side);
    TS_FREE(q, v, a, qa, va, ka);
    free(xq), free(xv);
    na_layer_free(m);
}

Test(attention, keras_masks_errors)
{
    na_gqa_options o = {.head_dim = 2, .num_query_heads = 2, .num_key_value_heads = 1,
                        .query_features = 4};
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_gqa_new(&o, &m));
    na_array *x = ts_random(NA_F32, NA_DIMS({"batch", 2}, {"seq", 3}, {"embedding", 4}), 1);
    bool vm[6] = {1, 1, 1, 1, 1, 0};
    /* a value mask along `seq` (the queries' axis) of the wrong size */
    na_array *bad = bool_array(vm, (na_dim){"batch", 3}, (na_dim){"kv_seq", 2});
    na_side *side = na_side_new();
    NA_OK_OR_FAIL(na_side_set_array(side, NA_VALUE_MASK_KEY, bad));
    na_array *y = NULL;
    NA_EXPECT_FAIL(na_layer_call_array(m, x, side, &y), NA_ERR_SHAPE, "ApplyAttentionMask",
                   "mask 'value_mask'", "axis 'batch' has size 3");
    TS_FREE(x, bad);
    na_side_free(side);
    na_layer_free(m);
}

/* ---- the fused path against the general one ------------------------------------------ */

/* Same model, fused and general (na_attention_set_fused false). */
static void fused_case(int H, int Hkv, int S, int T, bool causal, int64_t window,
                       bool zero_rows, bool pad)
{
    na_gqa_options o = {.head_dim = 5, .num_query_heads = H, .num_key_value_heads = Hkv,
                        .query_features = 7, .value_features = 6, .output_features = 9,
                        .use_causal_mask = causal,
                        .sliding_window = window, .masked_rows = (!zero_rows) ? NA_MASKED_ROWS_UNIFORM : NA_MASKED_ROWS_ZERO,
                        .seed = 3};
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_gqa_new(&o, &m));
    randomise(m, 77);
    na_array *q = ts_random(NA_F32, NA_DIMS({"batch", 3}, {"seq", S}, {"embedding", 7}), 1);
    na_array *v = ts_random(NA_F32, NA_DIMS({"batch", 3}, {"kv_seq", T}, {"embedding", 6}), 2);
    na_value *in = na_value_tuple(2, (na_value *[]){na_value_ref_array(q),
                                                    na_value_ref_array(v)});
    na_side *side = na_side_new();
    if (pad) { /* batch b masks keys j with (j + b) % 4 == 0; batch 2 masks all of query 0 */
        bool *mk = calloc((size_t)3 * S * T, 1);
        for (int b = 0; b < 3; b++)
            for (int i = 0; i < S; i++)
                for (int j = 0; j < T; j++)
                    mk[(b * S + i) * T + j] = (j + b) % 4 != 0 && !(b == 2 && i == 0);
        na_array *ma = NULL;
        NA_OK_OR_FAIL(na_from_data(NA_BOOL, NA_DIMS({"batch", 3}, {"seq", S}, {"kv_seq", T}),
                                   mk, &ma));
        NA_OK_OR_FAIL(na_side_set_array(side, "attn_mask", ma));
        na_array_free(ma);
        free(mk);
    }
    na_value *y1 = NULL, *y2 = NULL;
    na_mem_stats before, mid, after;
    na_get_mem_stats(&before);
    NA_OK_OR_FAIL(na_layer_call(m, in, side, &y1));
    na_get_mem_stats(&mid);
    NA_OK_OR_FAIL(na_attention_set_fused(m, false));
    NA_OK_OR_FAIL(na_layer_call(m, in, side, &y2));
    na_get_mem_stats(&after);
    double d = ts_max_abs_diff(y1->array, y2->array);
    cr_assert(d < 2e-5, "fused vs general: %g", d);
    /* the general path materialises logits (and more): more blocks */
    cr_assert_gt(after.allocs - mid.allocs, mid.allocs - before.allocs);
    na_value_free(y1), na_value_free(y2), na_value_free(in);
    na_side_free(side);
    na_array_free(q), na_array_free(v);
    na_layer_free(m);
}

Test(attention, fused_equals_general_plain) { fused_case(4, 4, 9, 13, false, 0, false, false); }
Test(attention, fused_equals_general_gqa_masked) { fused_case(6, 2, 11, 11, false, 0, false, true); }
Test(attention, fused_equals_general_zero_rows) { fused_case(6, 3, 11, 11, false, 0, true, true); }
Test(attention, fused_equals_general_causal_window) { fused_case(2, 1, 70, 70, true, 5, false, false); }
Test(attention, fused_equals_general_long_cross) { fused_case(4, 2, 3, 150, false, 0, true, true); }

/* ---- errors ------------------------------------------------------------------------ */

Test(attention, indivisible_heads_are_errors)
{
    na_layer *m = NULL;
    na_mha_options o = {.num_heads = 6, .num_kv_heads = 4, .in_features = 12, .no_bias = true};
    NA_EXPECT_FAIL(na_mha_new(&o, &m), NA_ERR_ARGUMENT, "num_kv_heads 4", "num_heads 6");
    na_gqa_options g = {.head_dim = 4, .num_query_heads = 8, .num_key_value_heads = 3,
                        .query_features = 8, .no_bias = true};
    NA_EXPECT_FAIL(na_gqa_new(&g, &m), NA_ERR_ARGUMENT, "num_key_value_heads 3",
                   "must divide");
    na_mha_options q = {.num_heads = 5, .in_features = 12, .no_bias = true};
    NA_EXPECT_FAIL(na_mha_new(&q, &m), NA_ERR_ARGUMENT, "qkv_features 12", "num_heads 5");
    cr_assert_null(m);
}

Test(attention, bad_inputs_are_errors)
{
    na_mha_options o = {.num_heads = 2, .in_features = 4, .no_bias = true};
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_mha_new(&o, &m));
    na_array *x = ts_random(NA_F32, NA_DIMS({"seq", 3}, {"embedding", 5}), 1), *y = NULL;
    NA_EXPECT_FAIL(na_layer_call_array(m, x, NULL, &y), NA_ERR_SHAPE, "input_to_query");
    na_array_free(x);
    na_layer *l = NULL;
    NA_EXPECT_FAIL(na_attention_new(NULL, NULL, NULL, NULL, NULL, &l), NA_ERR_ARGUMENT,
                   "input_to_query");
    /* logits with a non-pair input */
    NA_OK_OR_FAIL(na_attention_logits_new(NULL, 0, &l));
    x = ts_random(NA_F32, NA_DIMS({"seq", 3}), 1);
    NA_EXPECT_FAIL(na_layer_call_array(l, x, NULL, &y), NA_ERR_ARGUMENT,
                   "AttentionLogits", "pair");
    na_array_free(x);
    na_layer_free(l);
    na_layer_free(m);
}
