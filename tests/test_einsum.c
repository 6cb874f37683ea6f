/* na_einsum against a plain-loop reference (every assignment of every
 * index and unmentioned axis), Penzai's published NamedEinsum case, and
 * the spec errors. */
#include <math.h>
#include <stdlib.h>

#include "internal.h"
#include "support.h"

/* ---- reference ------------------------------------------------------------ */

typedef struct rterm {
    int n;
    char axis[NA_MAX_DIMS][32];
    char idx[NA_MAX_DIMS][32];
} rterm;

/* A minimal parser for well-formed specs (the test's own). */
static int ref_parse(const char *spec, rterm *in, rterm *out)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", spec);
    char *arrow = strstr(buf, "->");
    *arrow = '\0';
    int nin = 0;
    for (char *part = buf; part;) {
        char *comma = strchr(part, ',');
        if (comma)
            *comma = '\0';
        rterm *t = &in[nin++];
        t->n = 0;
        char *s2 = NULL;
        for (char *tok = strtok_r(part, " ", &s2); tok; tok = strtok_r(NULL, " ", &s2)) {
            char *c = strchr(tok, ':');
            *c = '\0';
            snprintf(t->axis[t->n], 32, "%s", tok);
            snprintf(t->idx[t->n], 32, "%s", c + 1);
            t->n++;
        }
        part = comma ? comma + 1 : NULL;
    }
    out->n = 0;
    char *s3 = NULL;
    for (char *tok = strtok_r(arrow + 2, " ", &s3); tok; tok = strtok_r(NULL, " ", &s3)) {
        char *c = strchr(tok, ':');
        *c = '\0';
        snprintf(out->axis[out->n], 32, "%s", tok);
        snprintf(out->idx[out->n], 32, "%s", c + 1);
        out->n++;
    }
    return nin;
}

/* A variable of the loop: an index ("i") or an unmentioned axis ("@name"). */
typedef struct rvars {
    int n;
    char name[64][40];
    int64_t size[64];
} rvars;

static int var_of(rvars *v, const char *name, int64_t size)
{
    for (int i = 0; i < v->n; i++)
        if (strcmp(v->name[i], name) == 0)
            return i;
    snprintf(v->name[v->n], 40, "%s", name);
    v->size[v->n] = size;
    return v->n++;
}

static const char *mentioned_idx(const rterm *t, const char *axis)
{
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->axis[i], axis) == 0)
            return t->idx[i];
    return NULL;
}

/* f64 result {unmentioned axes in order of first appearance, output axes}. */
static na_array *ref_einsum(const char *spec, int n, const na_array *const *xs)
{
    rterm in[8], out;
    cr_assert_eq(ref_parse(spec, in, &out), n);
    rvars v = {0};
    int map[8][NA_MAX_DIMS];
    for (int t = 0; t < n; t++)
        for (int d = 0; d < xs[t]->ndim; d++) {
            const char *idx = mentioned_idx(&in[t], xs[t]->name[d]);
            char key[40];
            snprintf(key, sizeof key, idx ? "%s" : "@%s", idx ? idx : xs[t]->name[d]);
            map[t][d] = var_of(&v, key, xs[t]->shape[d]);
        }
    na_dim od[NA_MAX_DIMS];
    int ovar[NA_MAX_DIMS], no = 0;
    for (int i = 0; i < v.n; i++)
        if (v.name[i][0] == '@') {
            od[no] = (na_dim){v.name[i] + 1, v.size[i]};
            ovar[no++] = i;
        }
    for (int i = 0; i < out.n; i++) {
        int k = var_of(&v, out.idx[i], -1);
        od[no] = (na_dim){out.axis[i], v.size[k]};
        ovar[no++] = k;
    }
    na_array *r = NULL;
    NA_OK_OR_FAIL(na_zeros(NA_F64, no, od, &r));
    int64_t total = 1, val[64] = {0};
    for (int i = 0; i < v.n; i++)
        total *= v.size[i];
    double *rd = na_data(r);
    for (int64_t e = 0; e < total; e++) {
        double p = 1;
        for (int t = 0; t < n; t++) {
            int64_t idx[NA_MAX_DIMS];
            for (int d = 0; d < xs[t]->ndim; d++)
                idx[d] = val[map[t][d]];
            p *= na_get(xs[t], idx);
        }
        int64_t off = 0;
        for (int i = 0; i < no; i++)
            off += val[ovar[i]] * r->stride[i];
        rd[off] += p;
        for (int i = v.n - 1; i >= 0; i--) {
            if (++val[i] < v.size[i])
                break;
            val[i] = 0;
        }
    }
    return r;
}

static void check_einsum(const char *spec, int n, const na_array *const *xs,
                         double tol)
{
    na_array *want = ref_einsum(spec, n, xs);
    for (int threads = 1; threads <= 2; threads++) {
        na_set_num_threads(threads);
        na_array *got = NULL;
        NA_OK_OR_FAIL(na_einsum(spec, n, xs, &got));
        cr_assert_eq(got->ndim, want->ndim, "%s: %s vs %s", spec, na__shape(got),
                     na__shape(want));
        for (int d = 0; d < got->ndim; d++) {
            cr_assert_eq(got->name[d], want->name[d], "%s: %s vs %s", spec,
                         na__shape(got), na__shape(want));
            cr_assert_eq(got->shape[d], want->shape[d]);
        }
        double err = ts_max_abs_diff(got, want);
        cr_assert(err <= tol, "%s (%d threads): max error %g", spec, threads, err);
        na_array_free(got);
    }
    na_set_num_threads(0);
    na_array_free(want);
}

#define RAND(dt, seed, ...) ts_random((dt), NA_DIMS(__VA_ARGS__), (seed))
#define XS(...) (const na_array *const[]){__VA_ARGS__}

/* ---- Penzai's NamedEinsum case -------------------------------------------- */

Test(einsum, penzai_named_einsum_case)
{
    na_array *a = RAND(NA_F32, 1, {"batch", 1}, {"foo", 3}, {"bar", 3}, {"baz", 4});
    na_array *b = RAND(NA_F32, 2, {"batch", 1}, {"foo", 4}, {"qux", 5});
    const char *spec = "foo:i bar:i baz:j, foo:j qux:k -> x:i y:k z:j";
    na_array *c = NULL;
    NA_OK_OR_FAIL(na_einsum(spec, 2, XS(a, b), &c));
    /* named shape {batch:1, x:3, z:4, y:5} (as a set of names) */
    cr_assert_eq(c->ndim, 4);
    cr_assert_eq(na_axis_size(c, "batch"), 1);
    cr_assert_eq(na_axis_size(c, "x"), 3);
    cr_assert_eq(na_axis_size(c, "z"), 4);
    cr_assert_eq(na_axis_size(c, "y"), 5);
    /* values: c[batch, x=i, y=k, z=j] = sum? none: a[., i, i, j] * b[., j, k] */
    for (int64_t i = 0; i < 3; i++)
        for (int64_t j = 0; j < 4; j++)
            for (int64_t k = 0; k < 5; k++) {
                double want = ts_at(a, 4, NA_NAMES("batch", "foo", "bar", "baz"),
                                    (int64_t[]){0, i, i, j}) *
                              ts_at(b, 3, NA_NAMES("batch", "foo", "qux"),
                                    (int64_t[]){0, j, k});
                double got = ts_at(c, 4, NA_NAMES("batch", "x", "y", "z"),
                                   (int64_t[]){0, i, k, j});
                cr_assert_float_eq(got, want, 1e-6);
            }
    na_array_free(c);
    check_einsum(spec, 2, XS(a, b), 1e-6);
    TS_FREE(a, b);
}

/* ---- two inputs ------------------------------------------------------------ */

Test(einsum, matmul_with_renames)
{
    na_array *a = RAND(NA_F32, 3, {"seq", 33}, {"embedding", 65});
    na_array *w = RAND(NA_F32, 4, {"embedding", 65}, {"out", 7});
    check_einsum("seq:s embedding:e, embedding:e out:o -> tokens:s features:o", 2,
                 XS(a, w), 1e-4);
    check_einsum("seq:s embedding:e, embedding:e out:o -> features:o tokens:s", 2,
                 XS(a, w), 1e-4);
    TS_FREE(a, w);
}

Test(einsum, unmentioned_axes_are_batch_axes)
{
    na_array *a = RAND(NA_F64, 5, {"batch", 2}, {"a", 3}, {"b", 4});
    na_array *b = RAND(NA_F64, 6, {"batch", 2}, {"b", 4}, {"c", 5});
    check_einsum("b:k, b:k -> ", 2, XS(a, b), 1e-12);
    check_einsum("b:k, b:k -> b:k", 2, XS(a, b), 1e-12);
    TS_FREE(a, b);
}

Test(einsum, index_in_both_and_output_is_batch)
{
    na_array *q = RAND(NA_F32, 7, {"heads", 4}, {"seq", 9}, {"projection", 8});
    na_array *k = RAND(NA_F32, 8, {"heads", 4}, {"kv_seq", 11}, {"projection", 8});
    check_einsum("heads:h seq:s projection:p, heads:h kv_seq:t projection:p -> "
                 "heads:h seq:s kv_seq:t",
                 2, XS(q, k), 1e-5);
    check_einsum("heads:h seq:s projection:p, heads:h kv_seq:t projection:p -> "
                 "kv_seq:t heads:h seq:s",
                 2, XS(q, k), 1e-5);
    TS_FREE(q, k);
}

Test(einsum, index_summed_in_one_input_only)
{
    na_array *a = RAND(NA_F32, 9, {"x", 5}, {"y", 7});
    na_array *b = RAND(NA_F32, 10, {"y", 7}, {"z", 6});
    check_einsum("x:i y:j, y:j z:k -> x:i", 2, XS(a, b), 1e-5);
    check_einsum("x:i y:j, y:j z:k -> z:k y:j", 2, XS(a, b), 1e-5);
    TS_FREE(a, b);
}

Test(einsum, strided_and_f64_inputs)
{
    na_array *a0 = RAND(NA_F64, 11, {"i", 7}, {"k", 33}, {"h", 2});
    na_array *b0 = RAND(NA_F64, 12, {"h", 2}, {"k", 33}, {"j", 5});
    na_array *a = ts_strided_copy(a0), *b = ts_strided_copy(b0);
    check_einsum("i:i k:k h:h, h:h k:k j:j -> h:h j:j i:i", 2, XS(a, b), 1e-12);
    check_einsum("i:i k:k h:h, h:h k:k j:j -> i:i", 2, XS(a, b0), 1e-12);
    TS_FREE(a0, b0, a, b);
}

Test(einsum, zero_size_axes)
{
    na_array *a = RAND(NA_F32, 13, {"i", 3}, {"k", 0});
    na_array *b = RAND(NA_F32, 14, {"k", 0}, {"j", 4});
    check_einsum("i:i k:k, k:k j:j -> i:i j:j", 2, XS(a, b), 0);
    na_array *c = RAND(NA_F32, 15, {"i", 0}, {"k", 2});
    na_array *d = RAND(NA_F32, 16, {"k", 2}, {"j", 4});
    check_einsum("i:i k:k, k:k j:j -> i:i j:j", 2, XS(c, d), 0);
    TS_FREE(a, b, c, d);
}

/* ---- one input --------------------------------------------------------------- */

Test(einsum, one_input_rename_transpose_is_a_view)
{
    na_array *a = RAND(NA_F32, 17, {"a", 3}, {"b", 4});
    na_array *c = NULL;
    NA_OK_OR_FAIL(na_einsum("a:i b:j -> b:i a:j", 1, XS(a), &c));
    cr_assert_eq(c->storage, a->storage, "a rename must not copy");
    na_array_free(c);
    check_einsum("a:i b:j -> b:i a:j", 1, XS(a), 0);
    check_einsum("a:i b:j -> y:j x:i", 1, XS(a), 0);
    na_array_free(a);
}

Test(einsum, one_input_sums_diagonals_and_traces)
{
    na_array *a = RAND(NA_F64, 18, {"a", 5}, {"b", 5}, {"c", 3});
    check_einsum("a:i b:j c:k -> a:i", 1, XS(a), 1e-12);      /* sum b, c     */
    check_einsum("a:i b:i -> d:i", 1, XS(a), 1e-12);          /* diag, c kept */
    check_einsum("a:i b:i c:k -> ", 1, XS(a), 1e-12);         /* full trace   */
    check_einsum("a:i b:i c:k -> k:k", 1, XS(a), 1e-12);
    na_array *d = NULL;
    NA_OK_OR_FAIL(na_einsum("a:i b:i -> d:i", 1, XS(a), &d));
    cr_assert_eq(d->storage, a->storage, "a diagonal must be a view");
    TS_FREE(d, a);
}

Test(einsum, diagonal_of_i32_is_a_view_but_sums_need_floats)
{
    na_array *a = NULL, *d = NULL;
    NA_OK_OR_FAIL(na_zeros(NA_I32, NA_DIMS({"a", 3}, {"b", 3}), &a));
    NA_OK_OR_FAIL(na_einsum("a:i b:i -> d:i", 1, XS(a), &d));
    cr_assert_eq(d->dtype, NA_I32);
    na_array_free(d);
    d = NULL;
    NA_EXPECT_FAIL(na_einsum("a:i b:j -> d:i", 1, XS(a), &d), NA_ERR_DTYPE,
                   "na_einsum", "i32[a:3, b:3]");
    cr_assert_null(d);
    na_array_free(a);
}

/* ---- more than two inputs ---------------------------------------------------- */

Test(einsum, three_inputs_left_to_right)
{
    na_array *a = RAND(NA_F32, 19, {"i", 7}, {"j", 9});
    na_array *b = RAND(NA_F32, 20, {"j", 9}, {"k", 5});
    na_array *c = RAND(NA_F32, 21, {"k", 5}, {"l", 6});
    check_einsum("i:a j:b, j:b k:c, k:c l:d -> i:a l:d", 3, XS(a, b, c), 1e-5);
    /* an index shared by the first and third input only */
    na_array *d = RAND(NA_F32, 22, {"l", 6}, {"i", 7});
    check_einsum("i:a j:b, j:b k:c, l:d i:a -> k:c l:d", 3, XS(a, b, d), 1e-5);
    TS_FREE(a, b, c, d);
}

/* ---- errors ------------------------------------------------------------------ */

Test(einsum, malformed_specs)
{
    na_array *a = RAND(NA_F32, 23, {"a", 2}, {"b", 3});
    na_array *b = RAND(NA_F32, 24, {"b", 3}, {"c", 4});
    na_array *out = NULL;
    NA_EXPECT_FAIL(na_einsum("a:i b:j, b:j c:k", 2, XS(a, b), &out),
                   NA_ERR_ARGUMENT, "na_einsum", "malformed", "'->'");
    NA_EXPECT_FAIL(na_einsum("a:i -> b:i -> c:i", 1, XS(a), &out),
                   NA_ERR_ARGUMENT, "more than one");
    NA_EXPECT_FAIL(na_einsum("a b:j -> b:j", 1, XS(a), &out), NA_ERR_ARGUMENT,
                   "token 'a'", "input 0", "name:index");
    NA_EXPECT_FAIL(na_einsum("a:i b: -> a:i", 1, XS(a), &out), NA_ERR_ARGUMENT,
                   "token 'b:'");
    NA_EXPECT_FAIL(na_einsum("a:1x -> a:1x", 1, XS(a), &out), NA_ERR_ARGUMENT,
                   "index '1x'");
    NA_EXPECT_FAIL(na_einsum("a:i -> x:i, y:i", 1, XS(a), &out), NA_ERR_ARGUMENT,
                   "output", "','");
    NA_EXPECT_FAIL(na_einsum("a:i, b:j -> x:i", 1, XS(a), &out), NA_ERR_ARGUMENT,
                   "2 inputs", "1 array");
    NA_EXPECT_FAIL(na_einsum("a:i -> x:q", 1, XS(a), &out), NA_ERR_ARGUMENT,
                   "output index 'q'");
    NA_EXPECT_FAIL(na_einsum("a:i b:j -> x:i y:i", 1, XS(a), &out),
                   NA_ERR_ARGUMENT, "'i'", "twice");
    cr_assert_null(out);
    TS_FREE(a, b);
}

Test(einsum, axis_and_size_errors)
{
    na_array *a = RAND(NA_F32, 25, {"a", 2}, {"b", 3});
    na_array *b = RAND(NA_F32, 26, {"b", 3}, {"c", 4});
    na_array *out = NULL;
    NA_EXPECT_FAIL(na_einsum("zz:i -> x:i", 1, XS(a), &out), NA_ERR_AXIS,
                   "input 0", "'zz'", "f32[a:2, b:3]");
    NA_EXPECT_FAIL(na_einsum("a:i a:j -> x:i", 1, XS(a), &out), NA_ERR_AXIS,
                   "'a'", "twice");
    NA_EXPECT_FAIL(na_einsum("a:i b:i -> x:i", 1, XS(a), &out), NA_ERR_SHAPE,
                   "index 'i'", "f32[a:2, b:3]");
    NA_EXPECT_FAIL(na_einsum("a:i, b:i -> x:i", 2, XS(a, b), &out), NA_ERR_SHAPE,
                   "index 'i'", "f32[a:2, b:3]", "f32[b:3, c:4]");
    NA_EXPECT_FAIL(na_einsum("a:i, c:k -> x:i b:k", 2, XS(a, b), &out),
                   NA_ERR_AXIS, "'b'", "clashes");
    NA_EXPECT_FAIL(na_einsum("a:i, b:j -> x:i x:j", 2, XS(a, b), &out),
                   NA_ERR_AXIS, "'x'", "twice");
    na_array *c = RAND(NA_F32, 27, {"b", 4});
    NA_EXPECT_FAIL(na_einsum("a:i, -> x:i", 2, XS(a, c), &out), NA_ERR_SHAPE,
                   "'b'", "f32[b:4]");
    na_array *d = RAND(NA_F64, 28, {"c", 4});
    na_set_dtype_promotion(NA_PROMOTE_STRICT); /* else f32 x f64 -> f64 */
    NA_EXPECT_FAIL(na_einsum("b:j c:k, c:k -> x:j", 2, XS(b, d), &out),
                   NA_ERR_DTYPE, "f32[b:3, c:4]", "f64[c:4]");
    na_set_dtype_promotion(NA_PROMOTE_JAX);
    na_array *p = NULL;
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"a", 2}, {NULL, 3}), &p));
    NA_EXPECT_FAIL(na_einsum("a:i -> x:i", 1, XS(p), &out), NA_ERR_AXIS,
                   "positional", "na_tag");
    NA_EXPECT_FAIL(na_einsum(NULL, 1, XS(a), &out), NA_ERR_ARGUMENT, "na_einsum");
    cr_assert_null(out);
    TS_FREE(a, b, c, d, p);
}

Test(einsum, triple_diagonal_and_scalar_input)
{
    na_array *a = RAND(NA_F32, 29, {"a", 4}, {"b", 4}, {"c", 4}, {"d", 2});
    check_einsum("a:i b:i c:i -> x:i", 1, XS(a), 1e-6);
    check_einsum("a:i b:i c:i d:j -> ", 1, XS(a), 1e-5);
    na_array *s = NULL;
    NA_OK_OR_FAIL(na_scalar(NA_F32, -1.5, &s));
    check_einsum(", a:i b:j -> x:i", 2, XS(s, a), 1e-5);
    TS_FREE(s, a);
}
