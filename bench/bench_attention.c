/* bench_attention: the fused attention path against the general one (the
 * materialised logits) and a plain-loop reference, and decode steps against
 * the machine's streaming read bandwidth, both measured in the same run.
 *
 * One JSON object per line; every line has "bench":"attention", "seq",
 * "kv_seq", "heads", "kv_heads", "projection", "causal", "kv_dtype",
 * "page_faults_per_call", "peak_rss_mb" and
 *   prefill: "fused_ms", "general_ms" (when the logits fit), "frac_peak"...
 *   decode:  "step_us", "kv_bytes", "gbs", "read_bw_gbs", "frac_bw"...
 * Times are medians; fused and general samples alternate. Flops count the
 * useful work only: 4 * projection per (query, visible key, head) pair.
 * The FMA peak is measured again before every sample and "frac_peak" is
 * the median of the per-sample ratios, so a machine whose load changes
 * during the run still gives a fair ratio. "peak_rss_mb" is the process's
 * peak resident memory during the fused calls alone (the allocator's cache
 * emptied and the kernel's high-water mark reset first); "qkvo_mb" is the
 * size of q, k, v and the output, "rss_over_qkvo" their ratio.
 * Decode steps cycle through enough separate caches (one per "layer") that
 * K and V come from memory, as in a real model; warm_gbs repeats one cache.
 *
 *   bench_attention            full shapes
 *   bench_attention --quick    small shapes, a few seconds (CI)
 *   bench_attention --reps N   samples per figure (default 7; quick 3)
 *   bench_attention --case S   only the cases whose name contains S
 *   bench_attention --kernels generic   the plain-C kernels (the fallback)
 * Exits 1 if the fused and general paths disagree (by 1e-4) or a decode
 * step misses the decode path: the quick run is also a smoke test.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <namedarr/namedarr.h>

#include "../src/attention/fused_internal.h"
#include "bench_util.h"

static int g_reps = 7;
static const char *g_only; /* --case NAME: run only the cases containing NAME */
static bool g_quick;
static double g_peak1; /* GFLOP/s, one thread */
static const char *g_isa = "none";

/* ---- the model: Attention over (q, k, v) given directly ---------------------------- */

/* q {batch:1, seq, heads | kv_heads, query_heads, projection}, k, v. */
typedef struct shape {
    int64_t s, t, heads, kv_heads, d;
} shape;


/* alibi: ApplyALiBiBias over the query heads (`heads` of them). */
static na_layer *core_model(bool causal, const char *mask_tag, const shape *sh,
                            bool alibi)
{
    na_dot_product_options o = {.causal = causal, .mask_tag = mask_tag};
    na_alibi_options a = {.num_heads = (int)sh->heads};
    if (sh->kv_heads != sh->heads)
        a.heads_axis = "query_heads", a.group_axis = "kv_heads",
        a.num_groups = (int)sh->kv_heads;
    if (alibi)
        o.alibi = &a;
    na_layer *sel[3] = {0}, *qk = NULL, *comb = NULL, *av = NULL, *m = NULL;
    for (int i = 0; i < 3; i++)
        if (na_select_attention_input_new(i, NULL, NULL, &sel[i]) != NA_OK)
            return NULL;
    if (na_dot_product_attn_new(&o, &qk) != NA_OK ||
        na_attention_combine_new("kv_seq", &comb) != NA_OK ||
        na_sequential_new(1, &comb, &av) != NA_OK ||
        na_attention_new(sel[0], sel[1], sel[2], qk, av, &m) != NA_OK)
        return NULL;
    return m;
}

static na_array *rnd(int ndim, const na_dim *dims, uint64_t seed)
{
    na_array *x = NULL;
    return na_random_uniform(seed, NA_F32, ndim, dims, -1.0, 1.0, &x) == NA_OK ? x : NULL;
}

static void make_qkv(const shape *sh, uint64_t seed, na_array **q, na_array **k,
                     na_array **v)
{
    bool gqa = sh->kv_heads != sh->heads;
    const char *h = gqa ? "kv_heads" : "heads";
    if (gqa)
        *q =
            rnd(NA_DIMS({"batch", 1}, {"seq", sh->s}, {"kv_heads", sh->kv_heads},
                        {"query_heads", sh->heads / sh->kv_heads}, {"projection", sh->d}),
                seed);
    else
        *q = rnd(NA_DIMS({"batch", 1}, {"seq", sh->s}, {"heads", sh->heads},
                         {"projection", sh->d}),
                 seed);
    *k = rnd(NA_DIMS({"batch", 1}, {"kv_seq", sh->t}, {h, sh->kv_heads},
                     {"projection", sh->d}),
             seed + 1);
    *v = rnd(NA_DIMS({"batch", 1}, {"kv_seq", sh->t}, {h, sh->kv_heads},
                     {"projection", sh->d}),
             seed + 2);
}

static na_value *triple(const na_array *q, const na_array *k, const na_array *v)
{
    return na_value_tuple(3, (na_value *[]){na_value_ref_array(q), na_value_ref_array(k),
                                            na_value_ref_array(v)});
}

static double call_ms(na_layer *m, const na_value *in, const na_side *side, int calls,
                      na_array **keep)
{
    double t0 = bu_now();
    for (int i = 0; i < calls; i++) {
        na_value *y = NULL;
        if (na_layer_call(m, in, side, &y) != NA_OK) {
            fprintf(stderr, "bench_attention: %s\n", na_last_error());
            exit(1);
        }
        if (keep && i == 0)
            na_array_ref(y->array, keep);
        na_value_free(y);
    }
    return (bu_now() - t0) * 1e3 / calls;
}

/* max |a - b|, axes matched by name (the two paths may order them apart) */
static double max_abs_diff(const na_array *a, const na_array *b)
{
    na_array *d = NULL;
    if (na_binary(NA_SUB, a, b, &d) != NA_OK)
        return INFINITY;
    const float *p = na_data(d); /* a new contiguous array */
    double m = 0;
    for (int64_t i = 0; i < na_size(d); i++)
        m = fmax(m, fabs((double)p[i]));
    na_array_free(d);
    return m;
}

/* ---- the plain-loop reference (one thread, causal / masked like the model) --------- */

static double reference_ms(const shape *sh, const na_array *q, const na_array *k,
                           const na_array *v, const bool *kv_ok, bool causal)
{
    int64_t S = sh->s, T = sh->t, H = sh->heads, G = sh->heads / sh->kv_heads, D = sh->d;
    const float *qd = na_data(q), *kd = na_data(k), *vd = na_data(v);
    float *w = malloc(sizeof(float) * (size_t)T),
          *y = calloc((size_t)(S * H * D), sizeof(float));
    float scale = 1.0f / sqrtf((float)D);
    double t0 = bu_now();
    for (int64_t i = 0; i < S; i++)
        for (int64_t h = 0; h < H; h++) {
            const float *qi = qd + (i * H + h) * D; /* {seq, heads...} row-major */
            float mx = -INFINITY, sum = 0;
            for (int64_t j = 0; j < T; j++) {
                const float *kj = kd + (j * sh->kv_heads + h / G) * D;
                float dot = 0;
                for (int64_t e = 0; e < D; e++)
                    dot += qi[e] * kj[e];
                bool keep = (!causal || j <= i) && (!kv_ok || kv_ok[j]);
                w[j] = keep ? dot * scale : -INFINITY;
                mx = fmaxf(mx, w[j]);
            }
            for (int64_t j = 0; j < T; j++)
                sum += w[j] = expf(w[j] - mx);
            float *yi = y + (i * H + h) * D;
            for (int64_t j = 0; j < T; j++)
                for (int64_t e = 0; e < D; e++)
                    yi[e] += w[j] / sum * vd[(j * sh->kv_heads + h / G) * D + e];
        }
    double ms = (bu_now() - t0) * 1e3;
    free(w), free(y);
    return ms;
}

/* ---- prefill ----------------------------------------------------------------------- */

typedef struct pcase {
    const char *name;
    shape sh;
    bool causal, padding, reference;
    bool general; /* also time the general path (its logits fit in memory) */
} pcase;

/* A case named "..alibi..." has ALiBi in query_key_to_attn ("bias":"alibi"). */
static bool has_alibi(const pcase *c)
{
    return strstr(c->name, "alibi") != NULL;
}

/* The FMA peak now, in GFLOP/s, with every thread (a short run). */
static double peak_now(void)
{
    const char *isa;
    return bu_measure_peak(na_get_num_threads(), g_quick ? 200000 : 2000000, &isa);
}

/* Peak resident memory (MB) over `calls` fused calls, the allocator's cache
 * emptied first so that only what the calls hold counts. */
static double fused_peak_rss(na_layer *m, const na_value *in, const na_side *side)
{
    na_attention_set_fused(m, true);
    na_mem_trim();
    if (!bu_reset_peak_rss())
        return -1;
    call_ms(m, in, side, 2, NULL);
    return bu_peak_rss_mb();
}

typedef struct prefill_times {
    double fused_ms, general_ms, frac_peak, peak_gflops;
    long faults;
    int calls;
} prefill_times;

/* Fused and (if asked) general samples alternating, a peak measurement
 * before each fused sample. */
static prefill_times time_prefill(const pcase *c, na_layer *m, const na_value *in,
                                  const na_side *side, double flops)
{
    prefill_times t = {.general_ms = -1};
    t.calls = (int)(2e8 / flops) + 1;
    t.calls = t.calls > 200 ? 200 : t.calls;
    double fused[64], general[64], frac[64], peak[64];
    for (int rep = 0; rep < g_reps; rep++)
        for (int side_i = 0; side_i < 2; side_i++) {
            bool do_fused = (side_i == 0) == (rep % 2 == 0);
            if (!do_fused && !c->general)
                continue;
            na_attention_set_fused(m, do_fused);
            if (do_fused)
                peak[rep] = peak_now();
            long f0 = bu_minor_faults();
            double ms = call_ms(m, in, side, t.calls, NULL);
            if (do_fused) {
                fused[rep] = ms;
                frac[rep] = flops / ms / 1e6 / peak[rep];
                t.faults += bu_minor_faults() - f0;
            } else {
                general[rep] = ms;
            }
        }
    t.fused_ms = bu_median(fused, g_reps);
    t.frac_peak = bu_median(frac, g_reps);
    t.peak_gflops = bu_median(peak, g_reps);
    if (c->general)
        t.general_ms = bu_median(general, g_reps);
    return t;
}

static int run_prefill(const pcase *c)
{
    na_array *q, *k, *v, *mask = NULL;
    make_qkv(&c->sh, 11, &q, &k, &v);
    bool *kv_ok = NULL;
    double live_pairs = c->causal ? (double)c->sh.s * (double)(c->sh.s + 1) / 2
                                  : (double)c->sh.s * (double)c->sh.t;
    na_side *side = na_side_new();
    if (c->padding) { /* the last quarter of the keys is padding */
        kv_ok = malloc((size_t)c->sh.t);
        for (int64_t j = 0; j < c->sh.t; j++)
            kv_ok[j] = j < c->sh.t * 3 / 4;
        na_from_data(NA_BOOL, NA_DIMS({"batch", 1}, {"kv_seq", c->sh.t}), kv_ok, &mask);
        na_side_set_array(side, "attn_mask", mask);
        live_pairs = (double)c->sh.s * (double)(c->sh.t * 3 / 4);
    }
    na_layer *m = core_model(c->causal, c->padding ? "attn_mask" : NULL, &c->sh, has_alibi(c));
    na_value *in = triple(q, k, v);
    if (!m || !in || !q || !k || !v) {
        fprintf(stderr, "%s: setup failed: %s\n", c->name, na_last_error());
        return 1;
    }
    double flops = 4.0 * (double)c->sh.d * (double)c->sh.heads * live_pairs;
    double qkvo_mb = (double)(na_size(q) * 2 + na_size(k) + na_size(v)) * 4 / 1048576.0;
    double rss = fused_peak_rss(m, in, side);
    /* warm-up (allocator caches filled), and the results to compare */
    na_array *yf = NULL, *yg = NULL;
    for (int w = 0; w < 2; w++) { /* twice: both paths' blocks in the cache */
        na_attention_set_fused(m, true);
        call_ms(m, in, side, 1, w ? NULL : &yf);
        if (c->general) {
            na_attention_set_fused(m, false);
            call_ms(m, in, side, 1, w ? NULL : &yg);
        }
    }
    double diff = yg ? max_abs_diff(yf, yg) : 0;
    prefill_times t = time_prefill(c, m, in, side, flops);
    double ref = c->reference ? reference_ms(&c->sh, q, k, v, kv_ok, c->causal) : -1;
    double fm = t.fused_ms, gflops = flops / fm / 1e6;
    printf("{\"bench\":\"attention\",\"case\":\"%s\",\"batch\":1,\"seq\":%lld,"
           "\"kv_seq\":%lld,\"heads\":%lld,\"kv_heads\":%lld,\"projection\":%lld,"
           "\"causal\":%s,\"padding\":%s,\"bias\":\"%s\",\"kv_dtype\":\"f32\","
           "\"threads\":%d,\"kernels\":\"%s\",\"fused_ms\":%.3f,",
           c->name, (long long)c->sh.s, (long long)c->sh.t, (long long)c->sh.heads,
           (long long)c->sh.kv_heads, (long long)c->sh.d, c->causal ? "true" : "false",
           c->padding ? "true" : "false", has_alibi(c) ? "alibi" : "none",
           na_get_num_threads(), na__fused_kernels(), fm);
    if (c->general)
        printf("\"general_ms\":%.3f,\"fused_over_general\":%.3f,", t.general_ms,
               fm / t.general_ms);
    if (ref >= 0)
        printf("\"reference_ms\":%.3f,\"fused_over_reference\":%.4f,", ref, fm / ref);
    printf("\"fused_gflops\":%.1f,\"peak_gflops\":%.1f,\"frac_peak\":%.3f,"
           "\"page_faults_per_call\":%.2f,\"peak_rss_mb\":%.1f,\"qkvo_mb\":%.1f,"
           "\"rss_over_qkvo\":%.3f,\"max_abs_diff\":%.2e,\"reps\":%d,"
           "\"calls_per_rep\":%d,\"peak_isa\":\"%s\"}\n",
           gflops, t.peak_gflops, t.frac_peak,
           (double)t.faults / (double)(t.calls * g_reps), rss, qkvo_mb, rss / qkvo_mb,
           diff, g_reps, t.calls, g_isa);
    fflush(stdout);
    na_array_free(yf), na_array_free(yg), na_array_free(q), na_array_free(k),
        na_array_free(v);
    na_array_free(mask);
    na_value_free(in);
    na_side_free(side);
    na_layer_free(m);
    free(kv_ok);
    if (!(diff < 1e-4)) { /* a smoke test too: CI fails on a wrong result */
        fprintf(stderr, "%s: fused and general paths differ by %g\n", c->name, diff);
        return 1;
    }
    return 0;
}

/* ---- decode ------------------------------------------------------------------------ */

typedef struct dcase {
    const char *name;
    shape sh;  /* s = 1 */
    bool bf16; /* keys and values in bf16 (a bf16 KV cache) */
} dcase;

/* x as bf16 (x freed). */
static na_array *to_bf16(na_array *x)
{
    na_array *y = NULL;
    na_astype(x, NA_BF16, &y);
    na_array_free(x);
    return y;
}

static void set_positions(na_side *side, int64_t t)
{
    na_array *qp = NULL, *kp = NULL, *r = NULL;
    na_scalar(NA_I32, (double)(t - 1), &r);
    na_broadcast_to(r, NA_DIMS({"seq", 1}), &qp);
    na_arange("kv_seq", t, NA_I32, &kp);
    na_side_set_array(side, NA_QUERY_POSITIONS_KEY, qp);
    na_side_set_array(side, NA_KV_POSITIONS_KEY, kp);
    na_array_free(qp), na_array_free(kp), na_array_free(r);
}

static int run_decode(const dcase *c, double read_bw)
{
    const shape *sh = &c->sh;
    double es = c->bf16 ? 2 : 4;
    double kv_bytes = 2.0 * (double)sh->t * (double)sh->kv_heads * (double)sh->d * es;
    /* enough layers that their caches do not fit in the last-level cache */
    int layers = (int)ceil((g_quick ? 16e6 : 256e6) / kv_bytes);
    if (layers < 2)
        layers = 2;
    na_array **q = calloc((size_t)layers, sizeof *q),
             **k = calloc((size_t)layers, sizeof *k),
             **v = calloc((size_t)layers, sizeof *v);
    na_value **in = calloc((size_t)layers, sizeof *in);
    for (int l = 0; l < layers; l++) {
        make_qkv(sh, 100 + 3 * (uint64_t)l, &q[l], &k[l], &v[l]);
        if (c->bf16)
            k[l] = to_bf16(k[l]), v[l] = to_bf16(v[l]);
        in[l] = k[l] && v[l] ? triple(q[l], k[l], v[l]) : NULL;
    }
    na_side *side = na_side_new();
    set_positions(side, sh->t);
    na_layer *m = core_model(true, NULL, sh, false);
    if (!m || !in[layers - 1]) {
        fprintf(stderr, "%s: setup failed: %s\n", c->name, na_last_error());
        return 1;
    }
    na_array *yf = NULL, *yg = NULL;
    double rss = fused_peak_rss(m, in[0], side);
    na_attention_set_fused(m, true);
    call_ms(m, in[0], side, 1, &yf);
    na_attention_set_fused(m, false);
    call_ms(m, in[0], side, 1, &yg);
    double diff = max_abs_diff(yf, yg);
    na__fused_counts c0, c1;
    na__fused_get_counts(&c0);
    double cold[64], warm[64], general[64], stream[64];
    volatile float sink = 0;
    long faults = 0;
    int rounds = g_quick ? 2 : 4;
    for (int rep = 0; rep < g_reps; rep++) {
        na_attention_set_fused(m, true);
        long f0 = bu_minor_faults();
        double t0 = bu_now();
        for (int r = 0; r < rounds; r++)
            for (int l = 0; l < layers; l++)
                call_ms(m, in[l], side, 1, NULL);
        cold[rep] = (bu_now() - t0) * 1e6 / (rounds * layers);
        faults += bu_minor_faults() - f0;
        warm[rep] = call_ms(m, in[0], side, rounds * layers, NULL) * 1e3;
        na_attention_set_fused(m, false);
        t0 = bu_now();
        for (int l = 0; l < layers; l++)
            call_ms(m, in[l], side, 1, NULL);
        general[rep] = (bu_now() - t0) * 1e6 / layers;
        /* the same K and V, read front to back by the same threads */
        t0 = bu_now();
        for (int r = 0; r < rounds; r++)
            for (int l = 0; l < layers; l++) {
                size_t floats = (size_t)((double)na_size(k[l]) * es / 4);
                sink += bu_read(na_data(k[l]), floats);
                sink += bu_read(na_data(v[l]), floats);
            }
        stream[rep] = (bu_now() - t0) * 1e6 / (rounds * layers);
    }
    na__fused_get_counts(&c1);
    double step = bu_median(cold, g_reps), ws = bu_median(warm, g_reps);
    double gs = bu_median(general, g_reps), gbs = kv_bytes / step / 1e3;
    double same_bw = kv_bytes / bu_median(stream, g_reps) / 1e3;
    (void)sink;
    printf(
        "{\"bench\":\"attention\",\"case\":\"%s\",\"batch\":1,\"seq\":1,\"kv_seq\":%lld,"
        "\"heads\":%lld,\"kv_heads\":%lld,\"projection\":%lld,\"causal\":true,"
        "\"kv_dtype\":\"%s\",\"threads\":%d,"
        "\"kernels\":\"%s\",\"decode_path\":%s,\"layers\":%d,\"step_us\":%.2f,"
        "\"kv_bytes\":%.0f,\"gbs\":%.2f,\"read_bw_gbs\":%.2f,\"frac_bw\":%.3f,"
        "\"same_kv_read_gbs\":%.2f,\"frac_same_kv_read\":%.3f,"
        "\"warm_step_us\":%.2f,\"warm_gbs\":%.2f,\"general_step_us\":%.2f,"
        "\"fused_over_general\":%.3f,\"page_faults_per_call\":%.2f,"
        "\"peak_rss_mb\":%.1f,\"max_abs_diff\":%.2e,\"reps\":%d}\n",
        c->name, (long long)sh->t, (long long)sh->heads, (long long)sh->kv_heads,
        (long long)sh->d, c->bf16 ? "bf16" : "f32", na_get_num_threads(),
        c->bf16 ? na__fused_bf16_ops_get()->name : na__fused_kernels(),
        c1.decode > c0.decode ? "true" : "false", layers, step, kv_bytes, gbs, read_bw,
        read_bw > 0 ? gbs / read_bw : 0.0, same_bw, gbs / same_bw, ws,
        kv_bytes / ws / 1e3, gs, step / gs,
        (double)faults / (double)(rounds * layers * g_reps), rss, diff, g_reps);
    fflush(stdout);
    for (int l = 0; l < layers; l++) {
        na_array_free(q[l]), na_array_free(k[l]), na_array_free(v[l]);
        na_value_free(in[l]);
    }
    free(q), free(k), free(v), free(in);
    na_array_free(yf), na_array_free(yg);
    na_side_free(side);
    na_layer_free(m);
    if (!(diff < 1e-4) || c1.decode == c0.decode) {
        fprintf(stderr, "%s: fused decode path %s, differs from general by %g\n", c->name,
                c1.decode > c0.decode ? "taken" : "not taken", diff);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            g_quick = true;
            g_reps = 3;
        } else if (strcmp(argv[i], "--kernels") == 0 && i + 1 < argc) {
            if (!na__fused_force_kernels(argv[++i])) {
                fprintf(stderr, "kernels '%s' cannot run here\n", argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--case") == 0 && i + 1 < argc) {
            g_only = argv[++i];
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            g_reps = atoi(argv[++i]);
            g_reps = g_reps < 1 ? 1 : g_reps > 64 ? 64 : g_reps;
        } else {
            fprintf(stderr, "usage: %s [--quick] [--reps N] [--case SUBSTRING] "
                            "[--kernels avx512|generic]\n",
                    argv[0]);
            return 2;
        }
    }
    int threads = na_get_num_threads();
    g_peak1 = bu_measure_peak(1, g_quick ? 2000000 : 50000000, &g_isa);
    bu_pool_start(threads);
    double read_bw = bu_measure_read_bw(g_quick ? (size_t)64 << 20 : (size_t)512 << 20);
    int status = 0;
    const pcase full[] = {
        {"prefill_causal_s256", {256, 256, 8, 8, 64}, true, false, true, true},
        {"prefill_causal_s1024", {1024, 1024, 8, 8, 64}, true, false, false, true},
        {"prefill_causal_s2048", {2048, 2048, 8, 8, 64}, true, false, false, false},
        {"prefill_gqa_q32_kv8_causal_s1024_d128",
         {1024, 1024, 32, 8, 128},
         true,
         false,
         false,
         false},
        {"prefill_padding_s1024", {1024, 1024, 8, 8, 64}, false, true, false, true},
        {"prefill_causal_s8192", {8192, 8192, 8, 8, 64}, true, false, false, false},
        {"prefill_causal_alibi_s1024", {1024, 1024, 8, 8, 64}, true, false, false, true},
    };
    const pcase quick[] = {
        {"prefill_causal_s128", {128, 128, 4, 4, 32}, true, false, true, true},
        {"prefill_padding_s128", {128, 128, 4, 4, 32}, false, true, true, true},
        {"prefill_gqa_kv2_causal_s128", {128, 128, 4, 2, 32}, true, false, true, true},
        {"prefill_gqa_kv2_causal_alibi_s128", {128, 128, 4, 2, 32}, true, false, false, true},
    };
    const pcase *pc = g_quick ? quick : full;
    int npc = g_quick ? (int)(sizeof quick / sizeof *quick) : (int)(sizeof full / sizeof *full);
    for (int i = 0; i < npc; i++)
        if (!g_only || strstr(pc[i].name, g_only))
            status |= run_prefill(&pc[i]);
    const dcase dfull[] = {
        {"decode_mha_t32_h32_d128", {1, 32, 32, 32, 128}, false},
        {"decode_mha_t32_h32_d128_bf16", {1, 32, 32, 32, 128}, true},
        {"decode_mha_t2048_h32_d128", {1, 2048, 32, 32, 128}, false},
        {"decode_mha_t2048_h32_d128_bf16", {1, 2048, 32, 32, 128}, true},
        {"decode_gqa_q32_kv8_t4096_d128", {1, 4096, 32, 8, 128}, false},
        {"decode_gqa_q32_kv8_t4096_d128_bf16", {1, 4096, 32, 8, 128}, true},
        {"decode_mha_t4096", {1, 4096, 8, 8, 64}, false},
    };
    const dcase dquick[] = {
        {"decode_mha_t512", {1, 512, 4, 4, 32}, false},
        {"decode_mha_t512_bf16", {1, 512, 4, 4, 32}, true},
        {"decode_gqa_kv2_t512", {1, 512, 4, 2, 32}, false},
    };
    const dcase *dc = g_quick ? dquick : dfull;
    int ndc = g_quick ? 3 : 7;
    for (int i = 0; i < ndc; i++)
        if (!g_only || strstr(dc[i].name, g_only))
            status |= run_decode(&dc[i], read_bw);
    bu_pool_stop();
    return status;
}
