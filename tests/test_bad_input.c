/* Bad input: every public function that returns na_status is called with
 * NULL for each of its pointer arguments in turn (the others valid, from
 * the fixtures below). Each call must return a status with a message
 * (na_last_status() agreeing), or — where NULL is a documented default —
 * succeed; never crash, never leak (the sanitizer build checks leaks).
 * The cases are generated from the headers by tests/bad_input/make_table.py
 * into tests/bad_input/null_table.h: rerun it when the API changes. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* ---- fixtures -------------------------------------------------------------- */

static na_array *A;
static const na_array *AS[2];
static const na_dim D1[1] = {{"a", 2}};
static const int64_t SZ[2] = {6, 1};
static na_index IDX_v;
#define IDX (&IDX_v)
static float BUF[64];
static na_layer *L, *LSEQ, *ROOT, *LIN;
static na_value *V;
static na_side *S;
static FILE *SINK;
static na_selection *SEL;
static na_capture *CAP;
static na_safetensors *ST;
static na_labeled_array LABELED_v;
#define LABELED (&LABELED_v)
static na_param *P;
static na_init INIT_v;
#define INIT (&INIT_v)
static char g_path[64], g_out_path[64];

/* A fresh layer for arguments the callee takes ownership of. */
static na_layer *ID(void)
{
    na_layer *l = NULL;
    na_identity_new(&l);
    return l;
}

/* Outputs: reset before each call, released after an unexpected success. */
static na_array *o_arr;
static na_layer *o_lay;
static na_value *o_val;
static char *o_str;
static int o_int;
static int64_t o_i64;
static double o_dbl;
static bool o_bool;
static const char *o_cstr;
static const char *const *o_names;
static na_field_ref o_field;
static const na_array *o_carr;
static na_param *o_param;
static na_selection *o_sel;
static na_capture *o_cap;
static na_safetensors *o_st;
static na_param_list o_plist;
static na_param_stats o_pstats;

static void release_outputs(void)
{
    na_array_free(o_arr);
    na_layer_free(o_lay);
    na_value_free(o_val);
    free(o_str);
    na_selection_free(o_sel);
    na_capture_free(o_cap);
    na_safetensors_close(o_st);
    na_param_list_clear(&o_plist);
    o_arr = NULL, o_lay = NULL, o_val = NULL, o_str = NULL, o_sel = NULL;
    o_cap = NULL, o_st = NULL;
}

static void setup(void)
{
    A = ts_random(NA_F32, NA_DIMS({"a", 2}, {"b", 3}), 1);
    AS[0] = AS[1] = A;
    IDX_v = NA_AT("a", 0);
    L = ID();
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(ID()), &LSEQ));
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(ID(), ID()), &ROOT));
    NA_OK_OR_FAIL(
        na_linear_new("lin", 1, &(na_dim){"a", 2}, 1, &(na_dim){"c", 4}, 1, &LIN));
    P = na_layer_param(LIN, 0);
    V = na_value_ref_array(A);
    S = na_side_new();
    NA_OK_OR_FAIL(na_side_set_array(S, "a", A));
    SINK = fopen("/dev/null", "w");
    NA_OK_OR_FAIL(na_select_type_name(&ROOT, "Identity", &SEL));
    NA_OK_OR_FAIL(na_capture_new(&CAP));
    snprintf(g_path, sizeof g_path, "/tmp/na_bad_input_%d.safetensors", (int)getpid());
    snprintf(g_out_path, sizeof g_out_path, "/tmp/na_bad_input_out_%d", (int)getpid());
    NA_OK_OR_FAIL(na_safetensors_write(g_path, 1, NA_NAMES("x"), AS));
    NA_OK_OR_FAIL(na_safetensors_open(g_path, &ST));
    LABELED_v = (na_labeled_array){"lin.weights", A};
    INIT_v = na_init_zeros();
}

static void teardown(void)
{
    release_outputs();
    na_selection_free(SEL);
    na_capture_free(CAP);
    na_safetensors_close(ST);
    unlink(g_path);
    unlink(g_out_path);
    fclose(SINK);
    na_side_free(S);
    na_value_free(V);
    na_layer_free(L);
    na_layer_free(LSEQ);
    na_layer_free(ROOT);
    na_layer_free(LIN);
    na_array_free(A);
}

TestSuite(bad_input, .init = setup, .fini = teardown);

/* ---- the generated cases ----------------------------------------------------- */

#define P_(k, v) (i == (k) ? NULL : (v))
#define NULL_CASE(fn, nptr, ...)                                              \
    static na_status null_##fn(int i) { return fn(__VA_ARGS__); }
#include "bad_input/null_table.h"
#undef NULL_CASE

typedef struct null_case {
    const char *name;
    int pointers;
    na_status (*call)(int i);
} null_case;

#define NULL_CASE(fn, nptr, ...) {#fn, nptr, null_##fn},
static const null_case g_cases[] = {
#include "bad_input/null_table.h"
};
#undef NULL_CASE

Test(bad_input, null_for_every_pointer_argument)
{
    int tried = 0, accepted = 0;
    char accepted_list[4096] = "";
    bool verbose = getenv("NAMEDARR_BAD_INPUT_VERBOSE") != NULL;
    for (size_t c = 0; c < sizeof g_cases / sizeof g_cases[0]; c++) {
        const null_case *k = &g_cases[c];
        for (int i = 0; i < k->pointers; i++) {
            if (verbose)
                fprintf(stderr, "bad_input: %s, pointer %d = NULL\n", k->name, i);
            na_clear_error();
            na_status s = k->call(i);
            tried++;
            if (s == NA_OK) { /* NULL is a documented default here */
                accepted++;
                snprintf(accepted_list + strlen(accepted_list),
                         sizeof accepted_list - strlen(accepted_list), " %s#%d", k->name, i);
            } else {
                cr_assert_neq(na_last_error()[0], '\0', "%s with pointer %d NULL: %s and no "
                              "message", k->name, i, na_status_name(s));
                cr_assert_eq(na_last_status(), s, "%s: last status", k->name);
                /* the message names the function the caller called */
                cr_assert(strstr(na_last_error(), k->name), "%s with pointer %d NULL: the "
                          "message does not name %s: %s", k->name, i, k->name,
                          na_last_error());
            }
            release_outputs();
        }
    }
    fprintf(stderr, "bad input: %zu functions, %d NULL arguments tried, %d accepted as "
            "defaults:%s\n", sizeof g_cases / sizeof g_cases[0], tried, accepted,
            accepted_list);
    fprintf(stderr, "bad input: functions without a fixture yet: %s\n", NULL_SKIPPED);
}

/* ---- sizes: negative, zero, too many dimensions -------------------------------
 * Constructors given a negative size, a bad dimension count, or sizes whose
 * element count or byte size overflows (2^62, INT64_MAX, 2^40+1 cubed) fail
 * with a message naming them; zero sizes either build an empty thing or fail
 * with a message. */

typedef na_status (*size_fn)(int64_t n, int ndim, void **out);

#define SIZE_CASE(label, expr)                                                \
    static na_status size_##label(int64_t n, int ndim, void **out)            \
    {                                                                         \
        na_dim dims[NA_MAX_DIMS + 1];                                         \
        static const char *const names[] = {"d0", "d1", "d2", "d3", "d4", "d5", \
            "d6", "d7", "d8", "d9", "d10", "d11", "d12", "d13", "d14", "d15", "d16"}; \
        for (int d = 0; d < NA_MAX_DIMS + 1; d++)                             \
            dims[d] = (na_dim){names[d], d == 0 ? n : 2};                     \
        (void)dims;                                                           \
        return (expr);                                                        \
    }

SIZE_CASE(empty, na_empty(NA_F32, ndim, dims, (na_array **)out))
SIZE_CASE(zeros, na_zeros(NA_F64, ndim, dims, (na_array **)out))
SIZE_CASE(full, na_full(NA_I32, ndim, dims, 3, (na_array **)out))
SIZE_CASE(random_normal, na_random_normal(1, NA_F32, ndim, dims, 0, 1, (na_array **)out))
SIZE_CASE(random_bernoulli, na_random_bernoulli(1, ndim, dims, 0.5, (na_array **)out))
SIZE_CASE(arange, na_arange("a", n, NA_F32, (na_array **)out))
SIZE_CASE(broadcast_to, na_broadcast_to(A, ndim, dims, (na_array **)out))
SIZE_CASE(reshape, na_reshape(A, ndim, (int64_t[]){n, 6, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                                   1, 1, 1, 1}, (na_array **)out))
SIZE_CASE(linear_new,
          na_linear_new("lin", ndim, dims, 1, &(na_dim){"o", n}, 1, (na_layer **)out))
SIZE_CASE(layer_norm_new, na_layer_norm_new("ln", ndim, dims, (na_layer **)out))
SIZE_CASE(embedding_table_new,
          na_embedding_table_new("emb", "vocab", n, 1, &(na_dim){"embedding", 4}, 1,
                                 (na_param **)out))

typedef struct size_case {
    const char *name;
    size_fn call;
    bool layer; /* output is a layer (else an array) */
} size_case;

static void release_sized(const size_case *c, void *out)
{
    if (!out)
        return;
    if (!strcmp(c->name, "na_embedding_table_new"))
        na_param_release(out);
    else if (c->layer)
        na_layer_free(out);
    else
        na_array_free(out);
}

Test(bad_input, negative_zero_and_too_many_dimensions)
{
    static const size_case cases[] = {
        {"na_empty", size_empty, false},       {"na_zeros", size_zeros, false},
        {"na_full", size_full, false},         {"na_random_normal", size_random_normal, false},
        {"na_random_bernoulli", size_random_bernoulli, false},
        {"na_arange", size_arange, false},     {"na_broadcast_to", size_broadcast_to, false},
        {"na_reshape", size_reshape, false},   {"na_linear_new", size_linear_new, true},
        {"na_layer_norm_new", size_layer_norm_new, true},
        {"na_embedding_table_new", size_embedding_table_new, false},
    };
    struct {
        int64_t n;
        int ndim;
        bool must_fail;
    } inputs[] = {{-1, 1, true}, {INT64_MIN, 1, true}, {0, 1, false}, {3, -1, true},
                  {3, NA_MAX_DIMS + 1, true}, {0, 0, false},
                  /* overflowing element counts and byte sizes */
                  {INT64_MAX, 1, true}, {1LL << 62, 1, true}, {1LL << 61, 2, true},
                  {(1LL << 40) + 1, 3, true}, {INT64_MAX, NA_MAX_DIMS, true}};
    int tried = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (size_t k = 0; k < sizeof inputs / sizeof inputs[0]; k++) {
            void *out = NULL;
            na_clear_error();
            na_status s = cases[c].call(inputs[k].n, inputs[k].ndim, &out);
            tried++;
            if (s != NA_OK) {
                cr_assert_null(out, "%s: failed but wrote its output", cases[c].name);
                cr_expect(strstr(na_last_error(), cases[c].name), "%s(n=%lld, ndim=%d): "
                          "the message does not name it: '%s'", cases[c].name,
                          (long long)inputs[k].n, inputs[k].ndim, na_last_error());
            } else {
                /* arange and the embedding table take a size but no dims */
                bool dims_unused = !strcmp(cases[c].name, "na_arange") ||
                                   !strcmp(cases[c].name, "na_embedding_table_new");
                bool must_fail = inputs[k].n < 0 || inputs[k].n > (1LL << 40) ||
                                 (inputs[k].must_fail && !dims_unused);
                cr_assert_not(must_fail,
                              "%s(n=%lld, ndim=%d) succeeded", cases[c].name,
                              (long long)inputs[k].n, inputs[k].ndim);
            }
            release_sized(&cases[c], out);
        }
    }
    fprintf(stderr, "bad input: %d size cases tried\n", tried);
}
