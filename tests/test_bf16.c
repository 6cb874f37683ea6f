/* The bf16 storage dtype: conversions (bit-exact against an independent
 * reference), copies and casts on strided views, printing, elementwise
 * ops, reductions, contractions, errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "support.h"

static float f_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t u_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Reference: of the two bf16 neighbours of x (truncated, and one step
 * further from zero) take the nearer, by exact distance in double; ties go
 * to the even pattern. NaN: any NaN pattern with the sign kept. */
static na_bf16 ref_round(float x)
{
    uint32_t u = u_of(x);
    if (isnan(x))
        return (na_bf16)((u >> 16) | 0x7fc0u); /* checked as "is NaN" */
    na_bf16 lo = (na_bf16)(u >> 16), hi = (na_bf16)(lo + 1);
    double dl = fabs((double)x - (double)f_of((uint32_t)lo << 16));
    double up = (double)f_of((uint32_t)hi << 16); /* may be inf: lo is max */
    if ((hi & 0x7fff) == 0x7f80) /* past the largest finite bf16 */
        up = copysign(ldexp(1.0, 128), x); /* where the rounding boundary lies */
    double dh = fabs((double)x - up);
    if (dl < dh)
        return lo;
    if (dh < dl)
        return hi;
    return (lo & 1) ? hi : lo;
}

static bool bf16_is_nan(na_bf16 b) { return (b & 0x7f80) == 0x7f80 && (b & 0x7f); }

Test(bf16, rounding_table_is_bit_exact)
{
    static const struct {
        uint32_t in;
        na_bf16 out;
    } t[] = {
        {0x3f800000, 0x3f80}, /* 1                         */
        {0x3f808000, 0x3f80}, /* tie, even stays           */
        {0x3f818000, 0x3f82}, /* tie, odd rounds up        */
        {0x3f808001, 0x3f81}, /* above the tie             */
        {0x3f807fff, 0x3f80}, /* below the tie             */
        {0xbf818000, 0xbf82}, /* negative tie, to even     */
        {0x7f7fffff, 0x7f80}, /* max f32 rounds to inf     */
        {0x7f7f7fff, 0x7f7f}, /* largest finite bf16 stays */
        {0x80000000, 0x8000}, /* -0                        */
        {0x7f800000, 0x7f80}, /* inf                       */
        {0xff800000, 0xff80}, /* -inf                      */
        {0x00000001, 0x0000}, /* tiny subnormal -> 0       */
        {0x00018000, 0x0002}, /* subnormal tie, odd -> up  */
        {0x00008000, 0x0000}, /* subnormal tie, even       */
        {0x0000ffff, 0x0001},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        na_bf16 got = na_bf16_from_f32(f_of(t[i].in));
        cr_assert_eq(got, t[i].out, "0x%08x -> 0x%04x, want 0x%04x", t[i].in, got,
                     t[i].out);
    }
    /* NaNs stay NaN (quiet), sign kept, even when only low payload bits are set */
    const uint32_t nans[] = {0x7fc00000, 0x7f800001, 0xff800001, 0x7fffffff, 0x7f80ffff};
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++) {
        na_bf16 b = na_bf16_from_f32(f_of(nans[i]));
        cr_assert(bf16_is_nan(b), "0x%08x -> 0x%04x is not NaN", nans[i], b);
        cr_assert_eq(b >> 15, nans[i] >> 31, "sign of 0x%08x", nans[i]);
    }
}

Test(bf16, random_bits_match_the_reference_and_widening_is_exact)
{
    uint64_t s = 0x9e3779b97f4a7c15ull;
    enum { N = 1 << 18 };
    float *x = malloc(sizeof(float) * N);
    na_bf16 *b = malloc(sizeof(na_bf16) * N);
    float *w = malloc(sizeof(float) * N);
    for (int i = 0; i < N; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        uint32_t u = (uint32_t)s;
        if (i % 4 == 0) /* many exact ties */
            u = (u & 0xffff0000u) | 0x8000u;
        x[i] = f_of(u);
    }
    na_bf16_from_f32_n(x, b, N);
    for (int i = 0; i < N; i++) {
        na_bf16 want = ref_round(x[i]);
        cr_assert_eq(b[i], na_bf16_from_f32(x[i]), "bulk and scalar differ at %d", i);
        if (isnan(x[i]))
            cr_assert(bf16_is_nan(b[i]), "0x%08x", u_of(x[i]));
        else
            cr_assert_eq(b[i], want, "0x%08x -> 0x%04x, want 0x%04x", u_of(x[i]), b[i],
                         want);
    }
    /* every bf16 pattern widens exactly and rounds back to itself */
    for (uint32_t v = 0; v < 65536; v++) {
        float f = na_bf16_to_f32((na_bf16)v);
        cr_assert_eq(u_of(f), v << 16);
        if (!bf16_is_nan((na_bf16)v))
            cr_assert_eq(na_bf16_from_f32(f), v);
    }
    na_bf16 all[512];
    for (int i = 0; i < 512; i++)
        all[i] = (na_bf16)(i * 127);
    na_bf16_to_f32_n(all, w, 512);
    for (int i = 0; i < 512; i++)
        cr_assert_eq(u_of(w[i]), (uint32_t)all[i] << 16);
    free(x), free(b), free(w);
}

/* astype both ways on a strided, permuted view; bf16 copies of views. */
Test(bf16, astype_and_copies_on_strided_views)
{
    na_array *x = ts_random(NA_F32, NA_DIMS({"a", 5}, {"b", 7}), 3);
    na_array *sx = ts_strided_copy(x);
    na_array *px = ts_permuted(sx, (int[]){1, 0});
    na_array *b = NULL, *back = NULL, *bcopy = NULL, *bperm = NULL;
    NA_OK_OR_FAIL(na_astype(px, NA_BF16, &b));
    ts_expect_shape(b, "bf16[b:7, a:5]");
    cr_assert(na_is_contiguous(b));
    const na_bf16 *bv = na_data(b);
    for (int64_t i = 0; i < 7; i++)
        for (int64_t j = 0; j < 5; j++) {
            float want = ((const float *)na_data(x))[j * 7 + i];
            cr_assert_eq(bv[i * 5 + j], na_bf16_from_f32(want), "(%lld, %lld)",
                         (long long)i, (long long)j);
        }
    NA_OK_OR_FAIL(na_astype(b, NA_F32, &back));
    for (int64_t i = 0; i < 35; i++)
        cr_assert_eq(u_of(((const float *)na_data(back))[i]), (uint32_t)bv[i] << 16);
    /* a bf16 view copied: the same patterns, reordered */
    bperm = ts_permuted(b, (int[]){1, 0});
    NA_OK_OR_FAIL(na_copy(bperm, &bcopy));
    ts_expect_shape(bcopy, "bf16[a:5, b:7]");
    for (int64_t j = 0; j < 5; j++)
        for (int64_t i = 0; i < 7; i++)
            cr_assert_eq(((const na_bf16 *)na_data(bcopy))[j * 7 + i], bv[i * 5 + j]);
    /* f64 and i32 convert too */
    na_array *d = NULL, *db = NULL;
    NA_OK_OR_FAIL(na_full(NA_F64, NA_DIMS({"a", 3}), 1.0 / 3.0, &d));
    NA_OK_OR_FAIL(na_astype(d, NA_BF16, &db));
    cr_assert_eq(((const na_bf16 *)na_data(db))[2], na_bf16_from_f32(1.0f / 3.0f));
    TS_FREE(x, sx, px, b, back, bcopy, bperm, d, db);
}

Test(bf16, dtype_name_size_print_and_full)
{
    cr_assert_str_eq(na_dtype_name(NA_BF16), "bf16");
    cr_assert_eq(na_dtype_size(NA_BF16), 2);
    na_array *x = NULL;
    NA_OK_OR_FAIL(na_full(NA_BF16, NA_DIMS({"seq", 3}), 0.1, &x));
    cr_assert_eq(((const na_bf16 *)na_data(x))[1], na_bf16_from_f32(0.1f));
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    NA_OK_OR_FAIL(na_array_print(x, f));
    fclose(f);
    /* 0.1 in bf16 is 0.10009765625 */
    cr_assert_str_eq(buf, "bf16[seq:3] axes (seq):\n[0.100098, 0.100098, 0.100098]\n");
    free(buf);
    na_array_free(x);
}

/* Elementwise: bf16 computes in f32 and rounds once; bf16 with f32 gives
 * f32; comparisons give bool; where keeps bf16. */
Test(bf16, elementwise_ops)
{
    na_array *af = ts_random(NA_F32, NA_DIMS({"a", 9}, {"b", 3}), 1);
    na_array *bf = ts_random(NA_F32, NA_DIMS({"b", 3}), 2);
    na_array *a = NULL, *b = NULL, *s = NULL, *m = NULL, *e = NULL, *lt = NULL,
             *w = NULL;
    NA_OK_OR_FAIL(na_astype(af, NA_BF16, &a));
    NA_OK_OR_FAIL(na_astype(bf, NA_BF16, &b));
    NA_OK_OR_FAIL(na_add(a, b, &s));
    NA_OK_OR_FAIL(na_mul(a, bf, &m));
    NA_OK_OR_FAIL(na_unary(NA_EXP, a, &e));
    NA_OK_OR_FAIL(na_binary(NA_LT, a, b, &lt));
    NA_OK_OR_FAIL(na_where(lt, a, b, &w));
    ts_expect_shape(s, "bf16[a:9, b:3]");
    ts_expect_shape(m, "f32[a:9, b:3]");
    ts_expect_shape(e, "bf16[a:9, b:3]");
    ts_expect_shape(lt, "bool[a:9, b:3]");
    ts_expect_shape(w, "bf16[a:9, b:3]");
    const na_bf16 *av = na_data(a), *bv = na_data(b);
    for (int i = 0; i < 9; i++)
        for (int j = 0; j < 3; j++) {
            float x = na_bf16_to_f32(av[i * 3 + j]), y = na_bf16_to_f32(bv[j]);
            int k = i * 3 + j;
            cr_assert_eq(((const na_bf16 *)na_data(s))[k], na_bf16_from_f32(x + y));
            cr_assert_eq(((const float *)na_data(m))[k], x * ((const float *)na_data(bf))[j]);
            cr_assert_eq(((const na_bf16 *)na_data(e))[k], na_bf16_from_f32(expf(x)));
            cr_assert_eq(((const bool *)na_data(lt))[k], x < y);
            cr_assert_eq(((const na_bf16 *)na_data(w))[k], x < y ? av[k] : bv[j]);
        }
    NA_EXPECT_FAIL(na_binary(NA_LOGICAL_AND, a, b, &s), NA_ERR_DTYPE,
                   "bf16[a:9, b:3]", "bf16[b:3]");
    TS_FREE(af, bf, a, b, s, m, e, lt, w);
}

Test(bf16, reductions_and_softmax)
{
    na_array *xf = ts_random(NA_F32, NA_DIMS({"a", 4}, {"b", 37}), 5);
    na_array *x = NULL, *sum = NULL, *mx = NULL, *am = NULL, *sm = NULL;
    NA_OK_OR_FAIL(na_astype(xf, NA_BF16, &x));
    NA_OK_OR_FAIL(na_sum(x, NA_NAMES("b"), &sum));
    NA_OK_OR_FAIL(na_max(x, NA_NAMES("b"), &mx));
    NA_OK_OR_FAIL(na_argmax(x, "b", &am));
    NA_OK_OR_FAIL(na_softmax(x, NA_NAMES("b"), &sm));
    ts_expect_shape(sum, "bf16[a:4]");
    ts_expect_shape(am, "i32[a:4]");
    ts_expect_shape(sm, "bf16[a:4, b:37]");
    const na_bf16 *xv = na_data(x);
    for (int i = 0; i < 4; i++) {
        double acc = 0, best = -INFINITY, z = 0;
        int arg = 0;
        for (int j = 0; j < 37; j++) {
            double v = na_bf16_to_f32(xv[i * 37 + j]);
            acc += v;
            if (v > best)
                best = v, arg = j;
        }
        for (int j = 0; j < 37; j++)
            z += exp(na_bf16_to_f32(xv[i * 37 + j]) - best);
        cr_assert_eq(((const na_bf16 *)na_data(sum))[i], na_bf16_from_f32((float)acc));
        cr_assert_eq(((const na_bf16 *)na_data(mx))[i], na_bf16_from_f32((float)best));
        cr_assert_eq(((const int32_t *)na_data(am))[i], arg);
        for (int j = 0; j < 37; j++) {
            double p = exp(na_bf16_to_f32(xv[i * 37 + j]) - best) / z;
            float got = na_bf16_to_f32(((const na_bf16 *)na_data(sm))[i * 37 + j]);
            cr_assert(fabs(got - p) <= p * 0x1p-8 + 1e-7, "%g vs %g", got, p);
        }
    }
    TS_FREE(xf, x, sum, mx, am, sm);
}

/* Contractions: bf16 x f32 -> f32, bf16 x bf16 -> bf16, accumulating in
 * f32 over the exactly widened values; f64 x bf16 is refused. */
Test(bf16, contraction_operands)
{
    na_array *wf = ts_random(NA_F32, NA_DIMS({"out", 13}, {"in", 29}), 7);
    na_array *xf = ts_random(NA_F32, NA_DIMS({"seq", 5}, {"in", 29}), 8);
    na_array *w = NULL, *x = NULL, *y = NULL, *yb = NULL, *xd = NULL;
    NA_OK_OR_FAIL(na_astype(wf, NA_BF16, &w));
    NA_OK_OR_FAIL(na_astype(xf, NA_BF16, &x));
    NA_OK_OR_FAIL(na_contract(xf, w, NA_NAMES("in"), &y));
    NA_OK_OR_FAIL(na_contract(x, w, NA_NAMES("in"), &yb));
    ts_expect_shape(y, "f32[seq:5, out:13]");
    ts_expect_shape(yb, "bf16[seq:5, out:13]");
    const na_bf16 *wv = na_data(w), *xv = na_data(x);
    for (int s = 0; s < 5; s++)
        for (int o = 0; o < 13; o++) {
            double acc = 0, accb = 0;
            for (int i = 0; i < 29; i++) {
                double wi = na_bf16_to_f32(wv[o * 29 + i]);
                acc += ((const float *)na_data(xf))[s * 29 + i] * wi;
                accb += na_bf16_to_f32(xv[s * 29 + i]) * wi;
            }
            float got = ((const float *)na_data(y))[s * 13 + o];
            cr_assert(fabs(got - acc) < 1e-5, "%g vs %g", got, acc);
            float gotb = na_bf16_to_f32(((const na_bf16 *)na_data(yb))[s * 13 + o]);
            cr_assert(fabs(gotb - accb) <= fabs(accb) * 0x1p-8 + 1e-6, "%g vs %g", gotb,
                      accb);
        }
    NA_OK_OR_FAIL(na_astype(xf, NA_F64, &xd));
    na_set_dtype_promotion(NA_PROMOTE_STRICT); /* else f64 x bf16 -> f64 */
    NA_EXPECT_FAIL(na_contract(xd, w, NA_NAMES("in"), &y), NA_ERR_DTYPE, "na_contract",
                   "f64[seq:5, in:29]", "bf16[out:13, in:29]");
    na_set_dtype_promotion(NA_PROMOTE_JAX);
    na_array *yd = NULL;
    NA_OK_OR_FAIL(na_contract(xd, w, NA_NAMES("in"), &yd));
    cr_assert_eq(yd->dtype, NA_F64);
    TS_FREE(wf, xf, w, x, y, yb, xd, yd);
}
