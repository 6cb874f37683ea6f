/* Dtype promotion (runtime.h na_set_dtype_promotion): JAX's lattice over
 * bool < i32 < f32 < f64 in elementwise ops, where, concatenate,
 * contractions, einsum and the layers built on them; the strict option. */
#include "support.h"

#include <math.h>

static const na_dtype DT[4] = {NA_BOOL, NA_I32, NA_F32, NA_F64};

/* {x:3} of dtype t holding small exact values (row r of the table). */
static na_array *small(na_dtype t, int r)
{
    static const double v[2][3] = {{1, 0, 1}, {2, -3, 5}};
    double f[2][3] = {{0.5, 1.25, -2}, {0.1, 0.2, 0.3}};
    na_array *x = NULL, *d = NULL;
    const double *src = t == NA_BOOL ? v[0] : t == NA_I32 ? v[1] : f[r];
    NA_OK_OR_FAIL(na_from_data(NA_F64, NA_DIMS({"x", 3}), src, &d));
    NA_OK_OR_FAIL(na_astype(d, t, &x));
    na_array_free(d);
    return x;
}

/* jnp.promote_types with x64 on, written out as a table (not computed). */
static const na_dtype JAX[4][4] = {
    /*            bool     i32     f32     f64   */
    /* bool */ {NA_BOOL, NA_I32, NA_F32, NA_F64},
    /* i32  */ {NA_I32, NA_I32, NA_F32, NA_F64},
    /* f32  */ {NA_F32, NA_F32, NA_F32, NA_F64},
    /* f64  */ {NA_F64, NA_F64, NA_F64, NA_F64},
};

static double as(na_dtype t, double v)
{
    return t == NA_F32 ? (double)(float)v : t == NA_BOOL ? (double)(v != 0) : v;
}

Test(promotion, elementwise_follows_jax_lattice_exact_dtypes_and_values)
{
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            na_array *a = small(DT[i], 0), *b = small(DT[j], 1), *y = NULL, *m = NULL;
            NA_OK_OR_FAIL(na_add(a, b, &y));
            cr_assert_eq(y->dtype, JAX[i][j], "%s + %s gave %s", na_dtype_name(DT[i]),
                         na_dtype_name(DT[j]), na_dtype_name(y->dtype));
            NA_OK_OR_FAIL(na_binary(NA_MAXIMUM, b, a, &m));
            cr_assert_eq(m->dtype, JAX[j][i]);
            for (int64_t k = 0; k < 3; k++) {
                double av = na_get(a, &k), bv = na_get(b, &k);
                double want = as(JAX[i][j], as(JAX[i][j], av) + as(JAX[i][j], bv));
                if (JAX[i][j] == NA_BOOL)
                    want = av != 0 || bv != 0;
                cr_assert_eq(na_get(y, &k), want, "%s + %s at %lld", na_dtype_name(DT[i]),
                             na_dtype_name(DT[j]), (long long)k);
            }
            TS_FREE(a, b, y, m);
        }
}

Test(promotion, where_and_concatenate_promote)
{
    na_array *mask = NULL, *i = small(NA_I32, 1), *f = small(NA_F32, 0), *d = small(NA_F64, 1);
    na_array *w = NULL, *c = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_BOOL, NA_DIMS({"x", 3}), (bool[]){true, false, true}, &mask));
    NA_OK_OR_FAIL(na_where(mask, i, f, &w));
    cr_assert_eq(w->dtype, NA_F32);
    cr_assert_eq(na_get(w, (int64_t[]){0}), 2.0);
    cr_assert_eq(na_get(w, (int64_t[]){1}), 1.25);
    NA_OK_OR_FAIL(na_concatenate(2, (const na_array *[]){f, d}, "x", &c));
    cr_assert_eq(c->dtype, NA_F64);
    cr_assert_eq(na_get(c, (int64_t[]){2}), -2.0);
    cr_assert_eq(na_get(c, (int64_t[]){3}), 0.1);
    TS_FREE(mask, i, f, d, w, c);
}

Test(promotion, contraction_and_einsum_promote_to_the_common_float)
{
    na_array *a32 = ts_random(NA_F32, NA_DIMS({"m", 5}, {"k", 7}), 1);
    na_array *b64 = ts_random(NA_F64, NA_DIMS({"k", 7}, {"n", 3}), 2);
    na_array *a64 = NULL, *y = NULL, *ref = NULL, *e = NULL;
    NA_OK_OR_FAIL(na_astype(a32, NA_F64, &a64));
    NA_OK_OR_FAIL(na_contract(a32, b64, NA_NAMES("k"), &y));
    NA_OK_OR_FAIL(na_contract(a64, b64, NA_NAMES("k"), &ref));
    cr_assert_eq(y->dtype, NA_F64);
    cr_assert_eq(ts_max_abs_diff(y, ref), 0.0, "f32 x f64 computes as f64 x f64");
    NA_OK_OR_FAIL(na_einsum("m:i k:j, k:j n:l -> m:i n:l", 2,
                            (const na_array *[]){a32, b64}, &e));
    cr_assert_eq(e->dtype, NA_F64);
    cr_assert_lt(ts_max_abs_diff(e, ref), 1e-12);
    /* i32 x f32 -> f32: integer ids times a float table */
    na_array *ids = NULL, *yi = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_I32, NA_DIMS({"k", 7}), (int32_t[]){1, -2, 3, 0, 4, 1, -1}, &ids));
    NA_OK_OR_FAIL(na_contract(ids, a32, NA_NAMES("k"), &yi));
    cr_assert_eq(yi->dtype, NA_F32);
    for (int64_t m = 0; m < 5; m++) {
        double want = 0;
        const int w[7] = {1, -2, 3, 0, 4, 1, -1};
        for (int64_t k = 0; k < 7; k++)
            want += w[k] * na_get(a32, (int64_t[]){m, k});
        cr_assert_lt(fabs(na_get(yi, &m) - want), 1e-5);
    }
    na_array *out = NULL;
    NA_EXPECT_FAIL(na_contract(ids, ids, NA_NAMES("k"), &out), NA_ERR_DTYPE, "na_contract",
                   "promote to a float dtype", "i32[k:7]");
    NA_EXPECT_FAIL(na_einsum("k:i, k:i ->", 2, (const na_array *[]){ids, ids}, &out),
                   NA_ERR_DTYPE, "na_einsum", "common dtype i32");
    cr_assert_null(out);
    TS_FREE(a32, b64, a64, y, ref, e, ids, yi);
}

/* Flax promotes inputs and parameters to a common dtype: a Linear and a
 * LayerNorm with f32 parameters run on f64 input compute in f64. */
Test(promotion, layers_with_f32_params_on_f64_input_compute_in_f64)
{
    na_layer *lin = NULL, *ln = NULL;
    NA_OK_OR_FAIL(na_linear_new("lin", NA_DIMS({"e", 6}), NA_DIMS({"h", 4}), 3, &lin));
    NA_OK_OR_FAIL(na_layer_norm_new("ln", NA_DIMS({"h", 4}), &ln));
    const na_array *w = na_linear_weights(lin)->value;
    cr_assert_eq(w->dtype, NA_F32);
    na_array *x = ts_random(NA_F64, NA_DIMS({"b", 3}, {"e", 6}), 4), *h = NULL, *y = NULL;
    NA_OK_OR_FAIL(na_layer_call_array(lin, x, NULL, &h));
    NA_OK_OR_FAIL(na_layer_call_array(ln, h, NULL, &y));
    cr_assert_eq(h->dtype, NA_F64);
    cr_assert_eq(y->dtype, NA_F64);
    for (int64_t b = 0; b < 3; b++) {
        double r[4], mean = 0, var = 0;
        for (int64_t o = 0; o < 4; o++) {
            r[o] = 0;
            for (int64_t e = 0; e < 6; e++)
                r[o] += ts_at(x, 2, NA_NAMES("b", "e"), (int64_t[]){b, e}) *
                        ts_at(w, 2, NA_NAMES("e", "h"), (int64_t[]){e, o});
            cr_assert_lt(fabs(ts_at(h, 2, NA_NAMES("b", "h"), (int64_t[]){b, o}) - r[o]),
                         1e-13, "f64 accuracy, not f32's");
            mean += r[o] / 4;
        }
        for (int64_t o = 0; o < 4; o++)
            var += (r[o] - mean) * (r[o] - mean) / 4;
        for (int64_t o = 0; o < 4; o++) {
            double want = (r[o] - mean) / sqrt(var + NA_NORM_DEFAULT_EPS);
            cr_assert_lt(fabs(ts_at(y, 2, NA_NAMES("b", "h"), (int64_t[]){b, o}) - want),
                         1e-12);
        }
    }
    TS_FREE(x, h, y);
    na_layer_free(lin);
    na_layer_free(ln);
}

Test(promotion, strict_option_errors_on_mixed_dtypes)
{
    cr_assert_eq(na_get_dtype_promotion(), NA_PROMOTE_JAX, "JAX's promotion by default");
    na_set_dtype_promotion(NA_PROMOTE_STRICT);
    cr_assert_eq(na_get_dtype_promotion(), NA_PROMOTE_STRICT);
    na_array *f = small(NA_F32, 0), *d = small(NA_F64, 1), *i = small(NA_I32, 1);
    na_array *out = NULL, *same = NULL;
    NA_EXPECT_FAIL(na_add(f, d, &out), NA_ERR_DTYPE,
                   "na_add: mixed dtypes f32[x:3] and f64[x:3] under strict dtype promotion "
                   "(NA_PROMOTE_JAX would compute in f64)");
    NA_EXPECT_FAIL(na_mul(i, f, &out), NA_ERR_DTYPE, "na_mul: mixed dtypes i32[x:3] and f32[x:3]");
    NA_EXPECT_FAIL(na_concatenate(2, (const na_array *[]){f, d}, "x", &out), NA_ERR_DTYPE,
                   "na_concatenate: mixed dtypes");
    na_array *a = ts_random(NA_F32, NA_DIMS({"k", 2}), 1), *b = ts_random(NA_F64, NA_DIMS({"k", 2}), 2);
    NA_EXPECT_FAIL(na_contract(a, b, NA_NAMES("k"), &out), NA_ERR_DTYPE,
                   "na_contract: mixed dtypes f32[k:2] and f64[k:2] under strict");
    NA_EXPECT_FAIL(na_einsum("k:i, k:i ->", 2, (const na_array *[]){a, b}, &out), NA_ERR_DTYPE,
                   "na_einsum: mixed dtypes");
    na_layer *lin = NULL;
    NA_OK_OR_FAIL(na_linear_new("lin", NA_DIMS({"k", 2}), NA_DIMS({"h", 3}), 3, &lin));
    NA_EXPECT_FAIL(na_layer_call_array(lin, b, NULL, &out), NA_ERR_DTYPE, "mixed dtypes",
                   "strict");
    NA_OK_OR_FAIL(na_add(f, f, &same)); /* one dtype is fine */
    cr_assert_null(out);
    na_set_dtype_promotion(NA_PROMOTE_JAX);
    NA_OK_OR_FAIL(na_add(f, d, &out));
    cr_assert_eq(out->dtype, NA_F64);
    TS_FREE(f, d, i, a, b, same, out);
    na_layer_free(lin);
}

/* bf16 in the lattice: bool < i32 < bf16 < f32 < f64 (values exact in bf16). */
Test(promotion, bf16_sits_between_i32_and_f32)
{
    const na_dtype other[4] = {NA_BOOL, NA_I32, NA_F32, NA_F64};
    const na_dtype want[4] = {NA_BF16, NA_BF16, NA_F32, NA_F64};
    na_array *h = NULL, *f = small(NA_F32, 0);
    NA_OK_OR_FAIL(na_astype(f, NA_BF16, &h));
    for (int i = 0; i < 4; i++) {
        na_array *o = small(other[i], other[i] == NA_F32 || other[i] == NA_F64 ? 0 : 1), *y = NULL;
        NA_OK_OR_FAIL(na_add(h, o, &y));
        cr_assert_eq(y->dtype, want[i], "bf16 + %s gave %s", na_dtype_name(other[i]),
                     na_dtype_name(y->dtype));
        for (int64_t k = 0; k < 3; k++)
            cr_assert_eq(na_get(y, &k), na_get(h, &k) + na_get(o, &k));
        TS_FREE(o, y);
    }
    TS_FREE(h, f);
}
