/* bench_models: whole-model prefill and decode speed for each transformer
 * builder (Llama-like, GPT-2-like, Gemma-like, about 20M parameters each,
 * plus a ~100M Llama-like model without --quick), through the KV cache and
 * na_generate, as fractions of the machine's FMA peak and read bandwidth
 * measured in the same run.
 *
 * One JSON object per line and case:
 *   {"bench":"model","arch":"llama","params":18880896,"weights_dtype":"f32",
 *    "kv_dtype":"f32","batch":1,"prompt_tokens":512,"decode_tokens":32,"threads":2,
 *    "prefill_tokens_per_s":...,"prefill_frac_peak":...,
 *    "decode_tokens_per_s":...,"decode_frac_bw":...,
 *    "peak_gflops":...,"read_bw_gbs":...}
 * Figures are medians over --reps runs (after one warm-up run).
 *
 *   prefill_frac_peak = prefill flops / time / peak, counting the matrix
 *     products only: 2 x (every projection, MLP and head weight) per token
 *     (the head runs on every prompt position, as in a plain forward call),
 *     plus 4 x heads x head_dim per (query, visible key) pair for attention.
 *   decode_frac_bw = bytes a decode step must read / step time / bandwidth:
 *     every projection, MLP and head weight once per step (whatever the
 *     batch) plus each row's cached keys and values. The embedding lookup
 *     (one row per token) is left out of both.
 * Batched decode: "batch":4 lines decode 4 prompts together (tokens/s
 * counts the tokens of all rows).
 * Each model runs in f32, then with its weights of two axes or more in
 * bf16 and a bf16 KV cache ("weights_dtype":"bf16", "kv_dtype":"bf16"):
 * the byte counts above use 2 bytes per element then.
 *
 *   bench_models            20M models (prompt 512, 32 new tokens) + 100M,
 *                           each on 1 thread and on the library's count
 *   bench_models --quick    20M models, prompt 32, 8 new tokens, the
 *                           library's thread count (seconds; CI)
 *   bench_models --reps N   timed runs per figure (default 3; quick 1)
 *   bench_models --arch S   only the cases whose arch contains S
 *   bench_models --threads N   the library's thread count (default: its own)
 *   bench_models --model-dir DIR   also a Hugging Face model directory (Llama,
 *                           GPT-2, Gemma 2/3); its lines add "model":"DIR" and
 *                           --arch matches DIR. Default: the trained adder
 *                           (models/adder here or in the source tree) when
 *                           found. Prompt + new tokens are cut to the model's
 *                           max_position_embeddings (the adder: 64).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <namedarr/namedarr.h>
#include <namedarr/fields.h>
#include <namedarr/generate.h>
#include <namedarr/models.h>
#include <namedarr/tree.h>

#include "bench_util.h"

static int g_reps = 3;
static bool g_bf16; /* the case running: weights and KV cache in bf16 */
static double g_head_es = 4; /* bytes per element of the head's weights */
static bool g_quick;
static const char *g_only;
/* GFLOP/s and GB/s measured with 1 thread [0] and the library's threads [1] */
static double g_peak[2], g_bw[2];

/* What the flop and byte counts need to know of a model. */
typedef struct shape {
    const char *arch;
    int64_t vocab, hidden, layers, q_heads, kv_heads, head_dim;
    int64_t matmul_params; /* weights of every product (projections, MLP, head) */
    const char *model;     /* a model directory, or NULL for a built model      */
    int64_t max_positions; /* prompt + new tokens at most (0: no limit)         */
} shape;

static shape llama_shape(const char *arch, const na_llama_config *c)
{
    int64_t h = c->hidden_size, d = c->head_dim, q = c->num_attention_heads,
            kv = c->num_key_value_heads;
    int64_t per_layer = h * d * (2 * q + 2 * kv) + 3 * h * c->intermediate_size;
    return (shape){arch, c->vocab_size, h, c->num_hidden_layers, q, kv, d,
                   per_layer * c->num_hidden_layers + h * c->vocab_size, NULL, 0};
}

static shape gpt2_shape(const na_gpt2_config *c)
{
    int64_t h = c->n_embd, per_layer = 4 * h * h + 2 * h * c->n_inner;
    return (shape){"gpt2", c->vocab_size, h, c->n_layer, c->n_head, c->n_head, h / c->n_head,
                   per_layer * c->n_layer + h * c->vocab_size, NULL, 0};
}

static shape gemma_shape(const na_gemma_config *c)
{
    na_llama_config l = {.hidden_size = c->hidden_size, .head_dim = c->head_dim,
                         .num_attention_heads = c->num_attention_heads,
                         .num_key_value_heads = c->num_key_value_heads,
                         .intermediate_size = c->intermediate_size,
                         .num_hidden_layers = c->num_hidden_layers, .vocab_size = c->vocab_size};
    return llama_shape("gemma2", &l);
}

static void make_prompts(int64_t batch, int64_t len, int64_t vocab, na_token_list *rows)
{
    uint64_t s = 0x2545F4914F6CDD1Dull;
    for (int64_t b = 0; b < batch; b++) {
        rows[b].ids = malloc((size_t)len * sizeof(int32_t));
        rows[b].count = (size_t)len;
        for (int64_t i = 0; i < len && rows[b].ids; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            rows[b].ids[i] = (int32_t)((s >> 33) % (uint64_t)vocab);
        }
    }
}

static double prefill_flops(const shape *s, int64_t batch, int64_t p)
{
    double pairs = (double)p * (double)(p + 1) / 2; /* causal: visible keys */
    return (double)batch * (2.0 * (double)s->matmul_params * (double)p +
                            4.0 * (double)(s->layers * s->q_heads * s->head_dim) * pairs);
}

/* Bytes a decode step reads at the mean context length. */
static double decode_bytes(const shape *s, int64_t batch, int64_t p, int64_t n)
{
    double ctx = (double)p + 0.5 * (double)n, es = g_bf16 ? 2.0 : 4.0;
    double kv = 2.0 * (double)(s->layers * s->kv_heads * s->head_dim) * ctx * es;
    double head = (double)(s->hidden * s->vocab);
    return es * ((double)s->matmul_params - head) + (g_bf16 ? g_head_es : 4.0) * head +
           (double)batch * kv;
}

/* Every f32 weight with two axes or more (projections, MLP, an untied
 * head) in bf16, as a checkpoint kept in bf16 would load; norms, biases and
 * the embedding tables (".embeddings": their lookups feed the norms, which
 * take f32) stay f32, so a tied head reads f32. */
static int weights_to_bf16(na_layer *model)
{
    na_param_list list = {0};
    if (na_tree_params(model, &list) != NA_OK)
        return fprintf(stderr, "bench_models: %s\n", na_last_error()), 1;
    for (int i = 0; i < list.count; i++) {
        na_param *p = list.items[i].param;
        na_array *b = NULL;
        const char *l = p->label, *tail = ".embeddings";
        size_t n = strlen(l), t = strlen(tail);
        if (p->kind != NA_PARAM || p->value->ndim < 2 || p->value->dtype != NA_F32 ||
            (n >= t && strcmp(l + n - t, tail) == 0))
            continue;
        if (na_axis_index(p->value, "vocab") >= 0)
            g_head_es = 2;
        if (na_astype(p->value, NA_BF16, &b) != NA_OK)
            return fprintf(stderr, "bench_models: %s\n", na_last_error()), 1;
        na_param_set_value(p, b);
    }
    na_param_list_clear(&list);
    return 0;
}

/* The dtype name of the first projection weight (label "*.weights"). */
static const char *weights_dtype(const na_layer *model)
{
    na_param_list list = {0};
    const char *name = "?";
    if (na_tree_params(model, &list) != NA_OK)
        return name;
    for (int i = 0; i < list.count; i++)
        if (strstr(list.items[i].param->label, ".weights")) {
            name = na_dtype_name(list.items[i].param->value->dtype);
            break;
        }
    na_param_list_clear(&list);
    return name;
}

/* The line's start: {"bench":"model", and "model":"DIR", for a directory. */
static void put_model_field(const char *dir)
{
    printf("{\"bench\":\"model\",");
    if (!dir)
        return;
    printf("\"model\":\"");
    for (const char *c = dir; *c; c++)
        printf(*c == '"' || *c == '\\' ? "\\%c" : (unsigned char)*c < 32 ? "?" : "%c", *c);
    printf("\",");
}

static int run_case(na_layer **model_ptr, const shape *s, int64_t batch)
{
    int64_t p = g_quick ? 32 : 512, n = g_quick ? 8 : 32;
    if (s->max_positions > n && p + n > s->max_positions)
        p = s->max_positions - n;
    na_token_list rows[4];
    double pre[16], dec[16];
    na_kv_cache_options ko = {.capacity = p + n, .batch_size = batch,
                              .dtype = g_bf16 ? NA_BF16 : NA_F32};
    if (na_model_to_kv_cache_ex(model_ptr, &ko) != NA_OK)
        return fprintf(stderr, "bench_models: %s\n", na_last_error()), 1;
    na_layer *model = *model_ptr;
    make_prompts(batch, p, s->vocab, rows);
    for (int r = -1; r < g_reps; r++) { /* r = -1: warm-up */
        na_generation g;
        na_generate_options o = {.max_new_tokens = r < 0 ? 2 : n};
        if (na_generate(model, rows, batch, &o, &g) != NA_OK)
            return fprintf(stderr, "bench_models: %s\n", na_last_error()), 1;
        if (r >= 0)
            pre[r] = g.prefill_tokens_per_s, dec[r] = g.decode_tokens_per_s;
        na_generation_free(&g);
    }
    for (int64_t b = 0; b < batch; b++)
        free(rows[b].ids);
    double pre_tps = bu_median(pre, g_reps), dec_tps = bu_median(dec, g_reps);
    int one = na_get_num_threads() == 1 ? 0 : 1;
    double peak = g_peak[one], bw = g_bw[one];
    double pre_gf = prefill_flops(s, 1, p) * pre_tps / (double)p / 1e9;
    double step_s = (double)batch / dec_tps;
    double dec_gbs = decode_bytes(s, batch, p, n) / step_s / 1e9;
    put_model_field(s->model);
    printf("\"arch\":\"%s\",\"params\":%lld,\"weights_dtype\":\"%s\",\"kv_dtype\":\"%s\","
           "\"batch\":%lld,\"prompt_tokens\":%lld,\"decode_tokens\":%lld,\"threads\":%d,"
           "\"prefill_tokens_per_s\":%.1f,\"prefill_frac_peak\":%.3f,"
           "\"decode_tokens_per_s\":%.1f,\"decode_frac_bw\":%.3f,"
           "\"peak_gflops\":%.1f,\"read_bw_gbs\":%.1f}\n",
           s->arch, (long long)na_tree_param_count(model), weights_dtype(model),
           g_bf16 ? "bf16" : "f32", (long long)batch,
           (long long)p,
           (long long)n, na_get_num_threads(), pre_tps, peak > 0 ? pre_gf / peak : 0,
           dec_tps, bw > 0 ? dec_gbs / bw : 0, peak, bw);
    fflush(stdout);
    return 0;
}

/* Both batch sizes, 1 thread and the library's count (the caching form
 * is rebuilt for each case). */
static int bench_threads(na_layer *model, const shape *s)
{
    int rc = 0, threads = na_get_num_threads();
    /* without --quick: 1 thread too, for the speed-up of more threads */
    for (int t = g_quick || threads == 1 ? threads : 1; t <= threads && rc == 0;
         t = t == threads ? threads + 1 : threads) {
        na_set_num_threads(t);
        for (int batch = 1; batch <= 4 && rc == 0; batch += 3) {
            na_layer *m = NULL;
            if (na_layer_clone(model, NA_CLONE_SHARE_PARAMS, &m) != NA_OK)
                return fprintf(stderr, "bench_models: %s\n", na_last_error()), 1;
            rc = run_case(&m, s, batch);
            na_layer_free(m);
        }
    }
    na_set_num_threads(threads);
    return rc;
}

/* Both batch sizes on one built model (the caching form is rebuilt), f32
 * then bf16 (weights and cache). */
static int bench_model(na_layer *model, const shape *s)
{
    if (!model)
        return fprintf(stderr, "bench_models: %s: %s\n", s->arch, na_last_error()), 1;
    int rc = 0;
    for (int bf16 = 0; bf16 < 2 && rc == 0; bf16++) {
        g_bf16 = bf16;
        if (bf16)
            rc = weights_to_bf16(model);
        if (rc == 0)
            rc = bench_threads(model, s);
    }
    g_bf16 = false;
    na_layer_free(model);
    return rc;
}

static bool wanted(const char *arch)
{
    return !g_only || strstr(arch, g_only);
}

static int bench_llama(int64_t hidden, int64_t inter, int layers, int heads, int kv,
                       int64_t vocab, const char *arch)
{
    na_llama_config c;
    na_llama_config_init(&c);
    c.vocab_size = vocab, c.hidden_size = hidden, c.intermediate_size = inter;
    c.num_hidden_layers = layers, c.num_attention_heads = heads, c.num_key_value_heads = kv;
    c.head_dim = hidden / heads, c.max_position_embeddings = 2048, c.rope_theta = 10000;
    shape s = llama_shape(arch, &c);
    na_layer *m = NULL;
    na_llama_new(&c, 1, &m);
    return bench_model(m, &s);
}

static int bench_gpt2(void)
{
    na_gpt2_config c;
    na_gpt2_config_init(&c);
    c.vocab_size = 12288, c.n_positions = 1024, c.n_embd = 384, c.n_layer = 8, c.n_head = 6;
    c.n_inner = 1536;
    shape s = gpt2_shape(&c);
    na_layer *m = NULL;
    na_gpt2_new(&c, 2, &m);
    return bench_model(m, &s);
}

static int bench_gemma(void)
{
    na_gemma_config c;
    na_gemma_config_init(&c, 2);
    c.vocab_size = 16384, c.hidden_size = 384, c.intermediate_size = 1024;
    c.num_hidden_layers = 8, c.num_attention_heads = 6, c.num_key_value_heads = 2;
    c.head_dim = 64, c.query_pre_attn_scalar = 64, c.sliding_window = 4096;
    c.max_position_embeddings = 2048;
    shape s = gemma_shape(&c);
    na_layer *m = NULL;
    na_gemma_new(&c, 3, &m);
    return bench_model(m, &s);
}

/* A Hugging Face directory through the importer (the adder by default). */
static int bench_dir(const char *dir)
{
    na_hf_info info;
    na_layer *m = NULL;
    if (na_hf_load(dir, &m, &info) != NA_OK)
        return fprintf(stderr, "bench_models: %s\n", na_last_error()), 1;
    shape s = info.arch == NA_HF_GPT2 ? gpt2_shape(&info.gpt2)
              : info.arch == NA_HF_LLAMA ? llama_shape(info.model_type, &info.llama)
                                         : gemma_shape(&info.gemma);
    s.arch = info.model_type;
    s.model = dir;
    s.max_positions = info.arch == NA_HF_GPT2    ? info.gpt2.n_positions
                      : info.arch == NA_HF_LLAMA ? info.llama.max_position_embeddings
                                                 : info.gemma.max_position_embeddings;
    return bench_model(m, &s);
}

/* models/adder below the current directory or in the source tree, or NULL. */
static const char *default_model_dir(void)
{
    struct stat st;
    if (stat("models/adder/config.json", &st) == 0)
        return "models/adder";
#ifdef NAMEDARR_SOURCE_DIR
    if (stat(NAMEDARR_SOURCE_DIR "/models/adder/config.json", &st) == 0)
        return NAMEDARR_SOURCE_DIR "/models/adder";
#endif
    return NULL;
}

int main(int argc, char **argv)
{
    const char *dir = default_model_dir();
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            g_quick = true, g_reps = 1;
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            g_reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--arch") == 0 && i + 1 < argc)
            g_only = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            na_set_num_threads(atoi(argv[++i]));
        else if (strcmp(argv[i], "--model-dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else
            return fprintf(stderr, "usage: bench_models [--quick] [--reps N] [--arch S] "
                                   "[--threads N] [--model-dir DIR]\n"),
                   2;
    }
    if (g_reps < 1 || g_reps > 16)
        return fprintf(stderr, "bench_models: --reps must be in [1, 16]\n"), 2;
    int threads = na_get_num_threads();
    const char *isa = "none";
    for (int k = 0; k < 2; k++) { /* k = 0: 1 thread (full runs only) */
        int t = k == 0 ? 1 : threads;
        if (k == 0 && (g_quick || threads == 1))
            continue;
        g_peak[k] = bu_measure_peak(t, g_quick ? 2000000 : 20000000, &isa);
        bu_pool_start(t);
        g_bw[k] = bu_measure_read_bw(g_quick ? (size_t)128 << 20 : (size_t)512 << 20);
        bu_pool_stop();
    }
    if (g_quick || threads == 1)
        g_peak[0] = g_peak[1], g_bw[0] = g_bw[1];
    int rc = 0;
    if (wanted("llama"))
        rc |= bench_llama(384, 1024, 8, 6, 2, 8192, "llama");
    if (wanted("gpt2"))
        rc |= bench_gpt2();
    if (wanted("gemma2"))
        rc |= bench_gemma();
    if (!g_quick && wanted("llama_100m"))
        rc |= bench_llama(768, 2048, 12, 12, 4, 16384, "llama_100m");
    if (dir && wanted(dir))
        rc |= bench_dir(dir);
    return rc;
}
