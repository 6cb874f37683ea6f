/* A bf16 KV cache (na_kv_cache_options.dtype = NA_BF16): rows rounded to
 * nearest even as they are written (bit-exact, ties and specials
 * included); the decode kernels that read bf16 keys and values (each set
 * the CPU can run, against a plain double reference on random data with
 * odd sizes); the fused decode path over bf16 keys and values against the
 * same values widened to f32 (MHA, GQA, every mask kind, left padding,
 * strided features, each kernel set forced); a bf16 cache against an f32
 * cache within bf16 tolerance, through prefill and steps. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <namedarr/attention.h>
#include <namedarr/combinators.h>
#include <namedarr/layers.h>
#include <namedarr/tree.h>

#include "../src/attention/fused_internal.h"
#include "../src/core/cpu.h"
#include "support.h"

static float f_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static float wide(uint16_t b)
{
    return f_of((uint32_t)b << 16);
}

static uint64_t g_rng = 88172645463325252ull;
static double urand(void) /* [-1, 1) */
{
    g_rng ^= g_rng << 13, g_rng ^= g_rng >> 7, g_rng ^= g_rng << 17;
    return (double)(g_rng >> 11) / (double)(1ull << 52) - 1.0;
}

/* The bf16 kernel sets this CPU can run. */
static const char *const sets[] = {"generic", "avx2", "avx512", "avx512_bf16"};
#define NSETS 4

/* ---- the kernels against a plain reference ------------------------------------------- */

static void check_kernels(const char *set, int64_t nk, int64_t dp, int nr)
{
    int64_t kc = dp + 3, ls = nk + 5; /* rows of the cache and of the scores padded */
    float *q = malloc(sizeof(float) * (size_t)(nr * dp));
    uint16_t *qb = malloc(sizeof(uint16_t) * (size_t)(2 * nr * dp));
    uint16_t *k = malloc(sizeof(uint16_t) * (size_t)(nk * kc));
    float *s = malloc(sizeof(float) * (size_t)(nr * ls));
    float *p = malloc(sizeof(float) * (size_t)(nr * ls));
    float *o = malloc(sizeof(float) * (size_t)(nr * dp));
    for (int64_t i = 0; i < nr * dp; i++)
        q[i] = (float)urand() * 3;
    for (int r = 0; r < nr; r++)
        na__fused_split_bf16(dp, q + r * dp, qb + 2 * r * dp, qb + 2 * r * dp + dp);
    for (int64_t i = 0; i < nk * kc; i++)
        k[i] = na_bf16_from_f32((float)urand());
    for (int64_t i = 0; i < nr * ls; i++)
        p[i] = (float)(urand() + 1) / 2, s[i] = -7;
    for (int64_t i = 0; i < nr * dp; i++)
        o[i] = (float)urand();
    float *o0 = malloc(sizeof(float) * (size_t)(nr * dp));
    memcpy(o0, o, sizeof(float) * (size_t)(nr * dp));
    const na__fused_bf16_ops *ops = na__fused_bf16_ops_get();
    cr_assert_str_eq(ops->name, set);
    ops->dots(nk, dp, nr, q, qb, k, kc, s, ls);
    ops->wsum(nk, dp, nr, p, ls, k, kc, o); /* the keys serve as values */
    for (int r = 0; r < nr; r++) {
        for (int64_t j = 0; j < nk; j++) {
            double ref = 0, mag = 0;
            for (int64_t d = 0; d < dp; d++) {
                ref += (double)q[r * dp + d] * wide(k[j * kc + d]);
                mag += fabs((double)q[r * dp + d] * wide(k[j * kc + d]));
            }
            double err = fabs(s[r * ls + j] - ref);
            cr_assert(err <= 2e-5 * mag + 1e-30, "%s dots nk %lld dp %lld nr %d: [%d,%lld] "
                      "%g vs %g", set, (long long)nk, (long long)dp, nr, r, (long long)j,
                      s[r * ls + j], ref);
        }
        cr_assert_eq(s[r * ls + nk], -7, "%s dots wrote past the keys", set);
        for (int64_t c = 0; c < dp; c++) {
            double ref = o0[r * dp + c], mag = fabs(ref);
            for (int64_t j = 0; j < nk; j++) {
                ref += (double)p[r * ls + j] * wide(k[j * kc + c]);
                mag += fabs((double)p[r * ls + j] * wide(k[j * kc + c]));
            }
            cr_assert(fabs(o[r * dp + c] - ref) <= 1e-5 * mag + 1e-30,
                      "%s wsum nk %lld dv %lld nr %d: [%d,%lld] %g vs %g", set,
                      (long long)nk, (long long)dp, nr, r, (long long)c, o[r * dp + c], ref);
        }
    }
    free(q), free(qb), free(k), free(s), free(p), free(o), free(o0);
}

Test(fused_bf16, kernels_match_the_reference)
{
    const int64_t nks[] = {1, 15, 16, 37, 70};
    const int64_t dps[] = {1, 7, 31, 33, 80, 128, 130};
    int ran = 0;
    for (int si = 0; si < NSETS; si++) {
        if (!na__fused_force_bf16(sets[si]))
            continue;
        ran++;
        for (int a = 0; a < 5; a++)
            for (int b = 0; b < 7; b++)
                for (int nr = 1; nr <= 6; nr += 2)
                    check_kernels(sets[si], nks[a], dps[b], nr);
    }
    na__fused_force_bf16(NULL);
    cr_assert(ran >= 1);
    cr_assert_not(na__fused_force_bf16("sse9"));
    cr_assert_eq(na__fused_force_bf16("avx512_bf16"), na__cpu_avx512_bf16());
    na__fused_force_bf16(NULL);
}

/* ---- the cache's write rounding ------------------------------------------------------- */

/* KVCachingAttention over a tuple (q, k, v) given directly. */
static na_layer *direct_cache(int64_t capacity, na_dtype dtype)
{
    na_dot_product_options o = {.causal = true};
    na_layer *sel[3] = {0}, *qk = NULL, *comb = NULL, *av = NULL, *m = NULL;
    for (int i = 0; i < 3; i++)
        NA_OK_OR_FAIL(na_select_attention_input_new(i, NULL, NULL, &sel[i]));
    NA_OK_OR_FAIL(na_dot_product_attn_new(&o, &qk));
    NA_OK_OR_FAIL(na_attention_combine_new("kv_seq", &comb));
    NA_OK_OR_FAIL(na_sequential_new(1, &comb, &av));
    na_kv_cache_options ko = {.capacity = capacity, .dtype = dtype};
    NA_OK_OR_FAIL(na_kv_cache_attention_new(sel[0], sel[1], sel[2], qk, av, &ko, &m));
    return m;
}

static const na_array *state_named(const na_layer *m, const char *suffix,
                                   na_param_list *list)
{
    NA_OK_OR_FAIL(na_tree_params(m, list));
    for (int i = 0; i < list->count; i++) {
        const char *l = list->items[i].param->label;
        if (strlen(l) >= strlen(suffix) && !strcmp(l + strlen(l) - strlen(suffix), suffix))
            return list->items[i].param->value;
    }
    cr_assert_fail("no state %s", suffix);
    return NULL;
}

Test(fused_bf16, cache_rows_round_to_nearest_even_bit_exactly)
{
    /* ties both ways, just above/below, overflow to inf, specials, subnormals */
    static const uint32_t bits[] = {0x3f808000, 0x3f818000, 0x3f808001, 0x3f807fff,
                                    0xbf818000, 0x7f7fffff, 0x7f7f7fff, 0x80000000,
                                    0x7f800000, 0xff800000, 0x00018000, 0x00008000,
                                    0x0000ffff, 0x40490fdb, 0xc2f6e979, 0x3eaaaaab};
    enum { N = 16 };
    float kv[2 * N], q[2 * N];
    for (int i = 0; i < N; i++)
        kv[i] = f_of(bits[i]), kv[N + i] = f_of(bits[(i + 5) % N]), q[i] = q[N + i] = 0.25f;
    na_array *qa = NULL, *k = NULL, *ks = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_F32, NA_DIMS({"seq", 2}, {"heads", 1}, {"projection", 16}),
                               q, &qa));
    NA_OK_OR_FAIL(na_from_data(NA_F32, NA_DIMS({"kv_seq", 2}, {"heads", 1},
                                               {"projection", 16}), kv, &k));
    /* projection 8 of a 16 wide array, every other element: a strided row */
    na_index r = NA_RANGE("projection", 0, 16, 2);
    NA_OK_OR_FAIL(na_index_by(k, 1, &r, &ks));
    for (int strided = 0; strided < 2; strided++) {
        const na_array *kk = strided ? ks : k;
        na_array *v = NULL, *qq = NULL;
        NA_OK_OR_FAIL(na_array_ref(kk, &v));
        int64_t p = na_axis_size(kk, "projection");
        na_index qr = NA_RANGE("projection", 0, p, 1);
        NA_OK_OR_FAIL(na_index_by(qa, 1, &qr, &qq));
        na_layer *m = direct_cache(4, NA_BF16);
        na_value *in = na_value_tuple(3, (na_value *[]){na_value_ref_array(qq),
                                                         na_value_ref_array(kk),
                                                         na_value_ref_array(v)});
        na_value *out = NULL;
        na_side *side = na_side_new();
        NA_OK_OR_FAIL(na_layer_call(m, in, side, &out));
        na_param_list list = {0};
        const na_array *cache = state_named(m, "cache_keys", &list);
        cr_assert_eq(cache->dtype, NA_BF16);
        for (int64_t j = 0; j < 2; j++)
            for (int64_t d = 0; d < p; d++) {
                int64_t at[NA_MAX_DIMS] = {0}, src[NA_MAX_DIMS] = {0};
                at[na_axis_index(cache, "kv_seq")] = j;
                at[na_axis_index(cache, "projection")] = d;
                src[na_axis_index(kk, "kv_seq")] = j;
                src[na_axis_index(kk, "projection")] = d;
                const na_bf16 *cb = na_data(cache);
                int64_t off = 0;
                for (int a = 0; a < cache->ndim; a++)
                    off += at[a] * cache->stride[a];
                float x = (float)na_get(kk, src);
                uint32_t xu;
                memcpy(&xu, &x, sizeof xu);
                na_bf16 want = na_bf16_from_f32(x);
                cr_assert_eq(cb[off], want, "%s row %lld col %lld: 0x%08x -> 0x%04x, want "
                             "0x%04x", strided ? "strided" : "contiguous", (long long)j,
                             (long long)d, xu, cb[off], want);
            }
        na_param_list_clear(&list);
        na_value_free(in), na_value_free(out);
        na_side_free(side);
        na_layer_free(m);
        TS_FREE(v, qq);
    }
    /* the table itself: ties to even (0x3f808000 -> 0x3f80, 0x3f818000 -> 0x3f82) */
    cr_assert_eq(na_bf16_from_f32(f_of(0x3f808000)), 0x3f80);
    cr_assert_eq(na_bf16_from_f32(f_of(0x3f818000)), 0x3f82);
    TS_FREE(qa, k, ks);
}

Test(fused_bf16, cache_dtype_option_errors_and_printing)
{
    na_layer *sel[5] = {0};
    for (int i = 0; i < 3; i++)
        NA_OK_OR_FAIL(na_select_attention_input_new(i, NULL, NULL, &sel[i]));
    na_dot_product_options o = {.causal = true};
    NA_OK_OR_FAIL(na_dot_product_attn_new(&o, &sel[3]));
    na_layer *comb = NULL, *m = NULL;
    NA_OK_OR_FAIL(na_attention_combine_new("kv_seq", &comb));
    NA_OK_OR_FAIL(na_sequential_new(1, &comb, &sel[4]));
    na_kv_cache_options ko = {.capacity = 4, .dtype = NA_I32};
    NA_EXPECT_FAIL(na_kv_cache_attention_new(sel[0], sel[1], sel[2], sel[3], sel[4], &ko, &m),
                   NA_ERR_DTYPE, "na_kv_cache_attention_new", "cache dtype i32", "bf16");
    NA_EXPECT_FAIL(na_model_to_kv_cache_ex(&m, NULL), NA_ERR_ARGUMENT,
                   "na_model_to_kv_cache_ex: model is NULL");
    na_layer *mha = NULL;
    na_mha_options mo = {.num_heads = 2, .in_features = 8};
    NA_OK_OR_FAIL(na_mha_new(&mo, &mha));
    NA_EXPECT_FAIL(na_mha_init_cache_ex(&mha, NULL), NA_ERR_ARGUMENT,
                   "na_mha_init_cache_ex: opt is NULL");
    cr_assert_null(mha, "freed on failure, as na_mha_init_cache");
    NA_OK_OR_FAIL(na_mha_new(&mo, &mha));
    na_kv_cache_options zero = {.dtype = NA_BF16};
    NA_EXPECT_FAIL(na_mha_init_cache_ex(&mha, &zero), NA_ERR_ARGUMENT, "na_mha_init_cache_ex",
                   "batch is 0 (must be > 0)");
    cr_assert_null(mha, "freed on failure, as na_mha_init_cache");
    NA_OK_OR_FAIL(na_mha_new(&mo, &mha));
    NA_OK_OR_FAIL(na_model_to_kv_cache_ex(&mha, &(na_kv_cache_options){.capacity = 4,
                                                                      .batch_size = 1,
                                                                      .dtype = NA_BF16}));
    na_layer_free(mha);
    m = direct_cache(4, NA_BF16);
    char *text = NULL;
    NA_OK_OR_FAIL(na_print_tree_str(m, NULL, &text));
    cr_assert(strstr(text, "kv_dtype=\"bf16\"") || strstr(text, "kv_dtype=bf16"), "%s", text);
    free(text);
    int kind = -1;
    NA_OK_OR_FAIL(na_layer_field_enum(m, "kv_dtype", &kind));
    cr_assert_eq(kind, 1);
    na_layer_free(m);
}

/* ---- the fused path over bf16 keys and values ----------------------------------------- */

typedef struct dcase {
    int B, S, T, Hkv, G, D, Dv; /* G query heads per kv head (0: MHA axes) */
    int mask;                   /* 0 none, 1 causal by positions, 2 bool   */
    int pad;                    /* row 0's first keys at position -1       */
    bool permuted;              /* keys and values with strided features   */
} dcase;

static na_layer *attention(bool causal, bool bool_mask)
{
    na_dot_product_options o = {.causal = causal, .mask_tag = bool_mask ? "m" : NULL};
    na_layer *sel[3] = {0}, *qk = NULL, *comb = NULL, *av = NULL, *m = NULL;
    for (int i = 0; i < 3; i++)
        NA_OK_OR_FAIL(na_select_attention_input_new(i, NULL, NULL, &sel[i]));
    NA_OK_OR_FAIL(na_dot_product_attn_new(&o, &qk));
    NA_OK_OR_FAIL(na_attention_combine_new("kv_seq", &comb));
    NA_OK_OR_FAIL(na_sequential_new(1, &comb, &av));
    NA_OK_OR_FAIL(na_attention_new(sel[0], sel[1], sel[2], qk, av, &m));
    return m;
}

static na_side *case_side(const dcase *c)
{
    na_side *side = na_side_new();
    if (c->mask == 1) {
        int32_t *qp = malloc(sizeof(int32_t) * (size_t)(c->B * c->S));
        int32_t *kp = malloc(sizeof(int32_t) * (size_t)(c->B * c->T));
        for (int b = 0; b < c->B; b++) {
            for (int i = 0; i < c->S; i++)
                qp[b * c->S + i] = c->T - c->S + i;
            for (int j = 0; j < c->T; j++)
                kp[b * c->T + j] = b == 0 && j < c->pad ? -1 : j;
        }
        na_array *a = NULL, *k = NULL;
        NA_OK_OR_FAIL(na_from_data(NA_I32, NA_DIMS({"batch", c->B}, {"seq", c->S}), qp, &a));
        NA_OK_OR_FAIL(na_from_data(NA_I32, NA_DIMS({"batch", c->B}, {"kv_seq", c->T}), kp, &k));
        NA_OK_OR_FAIL(na_side_set_array(side, NA_QUERY_POSITIONS_KEY, a));
        NA_OK_OR_FAIL(na_side_set_array(side, NA_KV_POSITIONS_KEY, k));
        TS_FREE(a, k);
        free(qp), free(kp);
    } else if (c->mask == 2) {
        bool *m = malloc((size_t)(c->B * c->S * c->T));
        for (int i = 0; i < c->B * c->S * c->T; i++)
            m[i] = urand() > -0.4 || i % c->T == 0;
        for (int j = 0; j < c->T; j++) /* one query row with no live key */
            m[j] = false;
        na_array *a = NULL;
        NA_OK_OR_FAIL(na_from_data(NA_BOOL, NA_DIMS({"batch", c->B}, {"seq", c->S},
                                                    {"kv_seq", c->T}), m, &a));
        NA_OK_OR_FAIL(na_side_set_array(side, "m", a));
        na_array_free(a);
        free(m);
    }
    return side;
}

/* y of the layer on (q, k, v); the decode path must run. */
static na_array *run(na_layer *m, na_array *q, na_array *k, na_array *v, na_side *side,
                     bool want_decode)
{
    na__fused_counts a, b;
    na__fused_get_counts(&a);
    na_value *in = na_value_tuple(3, (na_value *[]){na_value_ref_array(q), na_value_ref_array(k),
                                                     na_value_ref_array(v)});
    na_value *out = NULL;
    NA_OK_OR_FAIL(na_layer_call(m, in, side, &out));
    na__fused_get_counts(&b);
    if (want_decode)
        cr_assert_eq(b.decode, a.decode + 1, "the decode path did not run");
    na_array *y = NULL;
    NA_OK_OR_FAIL(na_array_ref(out->array, &y));
    na_value_free(in), na_value_free(out);
    return y;
}

static void check_dcase(const dcase *c, uint64_t seed)
{
    const char *qn[] = {"batch", "seq", "kv_heads", "query_heads", "projection"};
    na_array *q = NULL, *k = NULL, *v = NULL, *kb = NULL, *vb = NULL, *kw = NULL, *vw = NULL;
    if (c->G)
        q = ts_random(NA_F32, NA_DIMS({qn[0], c->B}, {qn[1], c->S}, {qn[2], c->Hkv},
                                      {qn[3], c->G}, {qn[4], c->D}), seed);
    else
        q = ts_random(NA_F32, NA_DIMS({"batch", c->B}, {"seq", c->S}, {"heads", c->Hkv},
                                      {"projection", c->D}), seed);
    const char *h = c->G ? "kv_heads" : "heads";
    k = ts_random(NA_F32, NA_DIMS({"batch", c->B}, {"kv_seq", c->T}, {h, c->Hkv},
                                  {"projection", c->D}), seed + 1);
    v = ts_random(NA_F32, NA_DIMS({"batch", c->B}, {"kv_seq", c->T}, {h, c->Hkv},
                                  {"feature", c->Dv}), seed + 2);
    NA_OK_OR_FAIL(na_astype(k, NA_BF16, &kb));
    NA_OK_OR_FAIL(na_astype(v, NA_BF16, &vb));
    if (c->permuted) { /* feature axes outermost in memory: strided features */
        int perm[4] = {3, 0, 1, 2};
        na_array *pk = ts_permuted(kb, perm), *pv = ts_permuted(vb, perm), *ck = NULL,
                 *cv = NULL;
        NA_OK_OR_FAIL(na_contiguous(pk, &ck));
        NA_OK_OR_FAIL(na_contiguous(pv, &cv));
        cr_assert_gt(ck->stride[0], 1, "the feature axis is strided");
        TS_FREE(kb, vb, pk, pv);
        kb = ck, vb = cv;
    }
    NA_OK_OR_FAIL(na_astype(kb, NA_F32, &kw)); /* the same values, widened */
    NA_OK_OR_FAIL(na_astype(vb, NA_F32, &vw));
    na_side *side = case_side(c);
    na_layer *m = attention(c->mask == 1, c->mask == 2);
    const char *fsets[] = {"generic", "avx2", "avx512"};
    for (int fs = 0; fs < 3; fs++) {
        if (!na__fused_force_kernels(fsets[fs]))
            continue;
        na__fused_force_kernels(fsets[fs]);
        na_array *want = run(m, q, kw, vw, side, c->S * (c->G ? c->G : 1) <= 8);
        for (int si = 0; si < NSETS; si++) {
            if (!na__fused_force_bf16(sets[si]))
                continue;
            na_array *got = run(m, q, kb, vb, side, c->S * (c->G ? c->G : 1) <= 8);
            double d = ts_max_abs_diff(got, want);
            cr_assert(d < 2e-5, "fused %s, bf16 %s: %g from the widened keys (B%d S%d T%d "
                      "Hkv%d G%d D%d Dv%d mask %d pad %d permuted %d)", fsets[fs], sets[si],
                      d, c->B, c->S, c->T, c->Hkv, c->G, c->D, c->Dv, c->mask, c->pad,
                      c->permuted);
            na_array_free(got);
        }
        na__fused_force_bf16(NULL);
        na_array_free(want);
    }
    na__fused_force_kernels(NULL);
    /* the general path on the bf16 arrays agrees too */
    na_array *yf = run(m, q, kb, vb, side, false);
    NA_OK_OR_FAIL(na_attention_set_fused(m, false));
    na_array *yg = run(m, q, kb, vb, side, false);
    double d = ts_max_abs_diff(yf, yg);
    cr_assert(d < 2e-5, "fused vs general on bf16 keys: %g", d);
    TS_FREE(yf, yg, q, k, v, kb, vb, kw, vw);
    na_side_free(side);
    na_layer_free(m);
}

Test(fused_bf16, decode_mha_odd_sizes_and_masks)
{
    check_dcase(&(dcase){.B = 1, .S = 1, .T = 5, .Hkv = 1, .D = 16, .Dv = 16}, 22);
    check_dcase(&(dcase){.B = 1, .S = 1, .T = 40, .Hkv = 1, .D = 16, .Dv = 16}, 22);
    check_dcase(&(dcase){.B = 1, .S = 1, .T = 40, .Hkv = 2, .D = 16, .Dv = 16}, 22);
    check_dcase(&(dcase){.B = 2, .S = 1, .T = 131, .Hkv = 3, .D = 17, .Dv = 19, .mask = 1,
                         .pad = 5},
                21);
    check_dcase(&(dcase){.B = 1, .S = 1, .T = 1, .Hkv = 1, .D = 3, .Dv = 2}, 22);
    check_dcase(&(dcase){.B = 2, .S = 1, .T = 77, .Hkv = 2, .D = 128, .Dv = 128, .mask = 2},
                23);
}

Test(fused_bf16, decode_gqa_padding_and_strided_features)
{
    check_dcase(&(dcase){.B = 2, .S = 1, .T = 300, .Hkv = 2, .G = 4, .D = 80, .Dv = 80,
                         .mask = 1, .pad = 9},
                24);
    check_dcase(&(dcase){.B = 1, .S = 2, .T = 45, .Hkv = 1, .G = 3, .D = 33, .Dv = 31,
                         .mask = 2, .permuted = true},
                25);
    /* many rows per head: the tiled path, over widened copies */
    check_dcase(&(dcase){.B = 1, .S = 20, .T = 50, .Hkv = 2, .G = 2, .D = 32, .Dv = 32,
                         .mask = 1},
                26);
}

Test(fused_bf16, decode_keys_split_over_threads)
{
    na_set_num_threads(2);
    check_dcase(&(dcase){.B = 1, .S = 1, .T = 1500, .Hkv = 1, .G = 4, .D = 64, .Dv = 64,
                         .mask = 1, .pad = 3},
                27);
    na_set_num_threads(0);
}

/* ---- a bf16 cache against an f32 cache ------------------------------------------------ */

static na_layer *cached_mha(int heads, int kv_heads, na_dtype dtype)
{
    na_mha_options o = {.num_heads = heads, .num_kv_heads = kv_heads, .in_features = 32,
                        .causal = true, .seed = 5};
    na_layer *m = NULL;
    NA_OK_OR_FAIL(na_mha_new(&o, &m));
    na_kv_cache_options k = {.capacity = 300, .batch_size = 2, .dtype = dtype};
    NA_OK_OR_FAIL(na_mha_init_cache_ex(&m, &k));
    return m;
}

static void bf16_against_f32(int heads, int kv_heads)
{
    na_layer *b = cached_mha(heads, kv_heads, NA_BF16), *f = cached_mha(heads, kv_heads, 0);
    na_array *x = ts_random(NA_F32, NA_DIMS({"batch", 2}, {"seq", 140}, {"embedding", 32}), 3);
    double worst = 0, scale = 0;
    for (int64_t t = 0; t < 140;) {
        int64_t n = t == 0 ? 131 : 1;
        na_array *xs = NULL, *y1 = NULL, *y2 = NULL;
        na_index r = NA_RANGE("seq", t, t + n, 1);
        NA_OK_OR_FAIL(na_index_by(x, 1, &r, &xs));
        na_side *side = na_side_new();
        NA_OK_OR_FAIL(na_layer_call_array(b, xs, side, &y1));
        NA_OK_OR_FAIL(na_layer_call_array(f, xs, side, &y2));
        cr_assert_eq(y1->dtype, NA_F32);
        double d = ts_max_abs_diff(y1, y2);
        worst = d > worst ? d : worst;
        cr_assert(na_is_contiguous(y2));
        for (int64_t i = 0; i < na_size(y2); i++) {
            double a = fabs(((const float *)na_data(y2))[i]);
            scale = a > scale ? a : scale;
        }
        TS_FREE(xs, y1, y2);
        na_side_free(side);
        t += n;
    }
    /* bf16 keeps 8 bits: outputs within ~2^-8 of their size */
    cr_assert(worst < 8e-3 * scale, "bf16 cache %g from f32 (outputs up to %g)", worst, scale);
    cr_assert(worst > 0, "the cache was not bf16");
    na_array_free(x);
    na_layer_free(b);
    na_layer_free(f);
}

Test(fused_bf16, cache_decodes_like_f32_within_bf16_tolerance)
{
    bf16_against_f32(4, 0);
    bf16_against_f32(4, 2);
}
