/* na_contract against a plain-loop reference: odd sizes, batch axes,
 * permuted and strided operands, zero-size axes, GEMV shapes, f64, one and
 * two threads; and its error paths. */
#include <math.h>
#include <stdlib.h>

#include "internal.h"
#include "support.h"

/* ---- reference ------------------------------------------------------------ */

static bool listed(const char *const *list, const char *name)
{
    for (int i = 0; list && list[i]; i++)
        if (strcmp(list[i], name) == 0)
            return true;
    return false;
}

/* out{batch (a order), free a (a order), free b (b order)} = sum over the
 * summed names of a * b, in double, as an f64 array. */
static na_array *ref_contract(const na_array *a, const na_array *b,
                              const char *const *sum)
{
    na_dim od[NA_MAX_DIMS], kd[NA_MAX_DIMS];
    int no = 0, nk = 0;
    for (int d = 0; d < a->ndim; d++)
        if (na_axis_index(b, a->name[d]) >= 0 && !listed(sum, a->name[d]))
            od[no++] = (na_dim){a->name[d], a->shape[d]};
    for (int d = 0; d < a->ndim; d++)
        if (na_axis_index(b, a->name[d]) < 0)
            od[no++] = (na_dim){a->name[d], a->shape[d]};
    for (int d = 0; d < b->ndim; d++)
        if (na_axis_index(a, b->name[d]) < 0)
            od[no++] = (na_dim){b->name[d], b->shape[d]};
    for (int d = 0; d < a->ndim; d++)
        if (listed(sum, a->name[d]))
            kd[nk++] = (na_dim){a->name[d], a->shape[d]};
    na_array *r = NULL;
    NA_OK_OR_FAIL(na_zeros(NA_F64, no, od, &r));
    int64_t total = na_size(r), ktotal = 1;
    for (int i = 0; i < nk; i++)
        ktotal *= kd[i].size;
    int64_t oi[NA_MAX_DIMS] = {0};
    double *rd = na_data(r);
    for (int64_t e = 0; e < total; e++) {
        int64_t ki[NA_MAX_DIMS] = {0};
        double acc = 0;
        for (int64_t q = 0; q < ktotal; q++) {
            int64_t ia[NA_MAX_DIMS], ib[NA_MAX_DIMS];
            for (int d = 0; d < a->ndim; d++) {
                for (int i = 0; i < no; i++)
                    if (a->name[d] == r->name[i])
                        ia[d] = oi[i];
                for (int i = 0; i < nk; i++)
                    if (strcmp(a->name[d], kd[i].name) == 0)
                        ia[d] = ki[i];
            }
            for (int d = 0; d < b->ndim; d++) {
                for (int i = 0; i < no; i++)
                    if (b->name[d] == r->name[i])
                        ib[d] = oi[i];
                for (int i = 0; i < nk; i++)
                    if (strcmp(b->name[d], kd[i].name) == 0)
                        ib[d] = ki[i];
            }
            acc += na_get(a, ia) * na_get(b, ib);
            for (int i = nk - 1; i >= 0; i--) {
                if (++ki[i] < kd[i].size)
                    break;
                ki[i] = 0;
            }
        }
        rd[e] = acc;
        for (int i = no - 1; i >= 0; i--) {
            if (++oi[i] < r->shape[i])
                break;
            oi[i] = 0;
        }
    }
    return r;
}

/* Contract with 1 and 2 threads; compare with the reference, names in
 * order, and return the max error seen. */
static void check_contract(const na_array *a, const na_array *b,
                           const char *const *sum, double tol)
{
    na_array *want = ref_contract(a, b, sum);
    for (int threads = 1; threads <= 2; threads++) {
        na_set_num_threads(threads);
        na_array *got = NULL;
        NA_OK_OR_FAIL(na_contract(a, b, sum, &got));
        cr_assert_eq(got->dtype, a->dtype);
        cr_assert_eq(got->ndim, want->ndim, "%s vs %s", na__shape(got),
                     na__shape(want));
        for (int d = 0; d < got->ndim; d++) {
            cr_assert_eq(got->name[d], want->name[d], "dim %d: %s vs %s", d,
                         na__shape(got), na__shape(want));
            cr_assert_eq(got->shape[d], want->shape[d]);
        }
        cr_assert(na_is_contiguous(got));
        double err = ts_max_abs_diff(got, want);
        cr_assert(err <= tol, "%d threads: %s x %s: max error %g > %g", threads,
                  na__shape(a), na__shape(b), err, tol);
        na_array_free(got);
    }
    na_set_num_threads(0);
    na_array_free(want);
}

static double tol_for(na_dtype dt, int64_t k)
{
    return (dt == NA_F32 ? 2e-6 : 1e-13) * (double)(k + 4);
}

#define RAND(dt, seed, ...) ts_random((dt), NA_DIMS(__VA_ARGS__), (seed))

/* ---- plain matrices ----------------------------------------------------- */

Test(contract, matrices_odd_sizes_f32)
{
    static const int64_t sizes[] = {1, 7, 33, 65};
    uint64_t seed = 1;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 4; l++) {
                int64_t m = sizes[i], k = sizes[j], n = sizes[l];
                na_array *a = RAND(NA_F32, seed++, {"i", m}, {"k", k});
                na_array *b = RAND(NA_F32, seed++, {"k", k}, {"j", n});
                check_contract(a, b, NA_NAMES("k"), tol_for(NA_F32, k));
                TS_FREE(a, b);
            }
}

Test(contract, matrices_f64)
{
    na_array *a = RAND(NA_F64, 3, {"i", 65}, {"k", 33});
    na_array *b = RAND(NA_F64, 4, {"k", 33}, {"j", 129});
    check_contract(a, b, NA_NAMES("k"), tol_for(NA_F64, 33));
    TS_FREE(a, b);
}

Test(contract, bigger_product_uses_both_threads)
{
    na_array *a = RAND(NA_F32, 5, {"i", 200}, {"k", 150});
    na_array *b = RAND(NA_F32, 6, {"k", 150}, {"j", 170});
    check_contract(a, b, NA_NAMES("k"), tol_for(NA_F32, 150));
    TS_FREE(a, b);
}

Test(contract, result_dims_batch_then_free_a_then_free_b)
{
    na_array *a = RAND(NA_F32, 7, {"i", 3}, {"h", 2}, {"k", 4}, {"p", 5});
    na_array *b = RAND(NA_F32, 8, {"q", 6}, {"k", 4}, {"h", 2});
    na_array *c = NULL;
    NA_OK_OR_FAIL(na_contract(a, b, NA_NAMES("k"), &c));
    char buf[128];
    na_shape_str(c, buf, sizeof buf);
    cr_assert_str_eq(buf, "f32[h:2, i:3, p:5, q:6]");
    na_array_free(c);
    check_contract(a, b, NA_NAMES("k"), tol_for(NA_F32, 4));
    TS_FREE(a, b);
}

/* ---- batch axes, several axes per group, permuted orders ------------------ */

Test(contract, batch_axes)
{
    na_array *a = RAND(NA_F32, 9, {"h", 3}, {"i", 7}, {"k", 5});
    na_array *b = RAND(NA_F32, 10, {"h", 3}, {"k", 5}, {"j", 9});
    check_contract(a, b, NA_NAMES("k"), tol_for(NA_F32, 5));
    TS_FREE(a, b);
}

Test(contract, many_small_products_run_over_the_batch)
{
    na_array *a = RAND(NA_F32, 11, {"h", 64}, {"i", 8}, {"k", 9});
    na_array *b = RAND(NA_F32, 12, {"h", 64}, {"k", 9}, {"j", 7});
    check_contract(a, b, NA_NAMES("k"), tol_for(NA_F32, 9));
    TS_FREE(a, b);
}

Test(contract, big_products_even_batch)
{
    na_array *a = RAND(NA_F32, 13, {"h", 4}, {"i", 130}, {"k", 70});
    na_array *b = RAND(NA_F32, 14, {"h", 4}, {"j", 120}, {"k", 70});
    check_contract(a, b, NA_NAMES("k"), tol_for(NA_F32, 70));
    TS_FREE(a, b);
}

Test(contract, several_axes_per_group)
{
    na_array *a = RAND(NA_F64, 15, {"b", 2}, {"i1", 3}, {"i2", 5}, {"k1", 4}, {"k2", 3});
    na_array *b = RAND(NA_F64, 16, {"k1", 4}, {"k2", 3}, {"b", 2}, {"j1", 6}, {"j2", 7});
    check_contract(a, b, NA_NAMES("k1", "k2"), tol_for(NA_F64, 12));
    check_contract(a, b, NA_NAMES("k2", "k1"), tol_for(NA_F64, 12));
    TS_FREE(a, b);
}

Test(contract, summed_axes_in_different_memory_orders_pack_one_operand)
{
    /* a: k1 outer, k2 inner; b: k2 outer, k1 inner -> no common fold */
    na_array *a = RAND(NA_F32, 17, {"i", 9}, {"k1", 5}, {"k2", 6});
    na_array *b = RAND(NA_F32, 18, {"k2", 6}, {"k1", 5}, {"j", 11});
    check_contract(a, b, NA_NAMES("k1", "k2"), tol_for(NA_F32, 30));
    TS_FREE(a, b);
}

Test(contract, permuted_dim_orders)
{
    na_array *a0 = RAND(NA_F32, 19, {"i", 7}, {"h", 3}, {"k", 33});
    na_array *b0 = RAND(NA_F32, 20, {"k", 33}, {"j", 5}, {"h", 3});
    static const int perms[][3] = {{0, 1, 2}, {2, 0, 1}, {1, 2, 0}, {2, 1, 0}};
    for (int p = 0; p < 4; p++)
        for (int q = 0; q < 4; q++) {
            na_array *a = ts_permuted(a0, perms[p]), *b = ts_permuted(b0, perms[q]);
            check_contract(a, b, NA_NAMES("k"), tol_for(NA_F32, 33));
            TS_FREE(a, b);
        }
    TS_FREE(a0, b0);
}

Test(contract, free_axes_out_of_memory_order_are_packed)
{
    na_array *a0 = RAND(NA_F32, 21, {"i1", 4}, {"i2", 6}, {"k", 7});
    int perm[3] = {1, 0, 2}; /* {i2, i1, k}: M does not chain in dim order */
    na_array *a = ts_permuted(a0, perm);
    na_array *b = RAND(NA_F32, 22, {"k", 7}, {"j", 5});
    check_contract(a, b, NA_NAMES("k"), tol_for(NA_F32, 7));
    check_contract(b, a, NA_NAMES("k"), tol_for(NA_F32, 7));
    TS_FREE(a0, a, b);
}

Test(contract, strided_views)
{
    na_array *a0 = RAND(NA_F32, 23, {"h", 2}, {"i", 33}, {"k", 17});
    na_array *b0 = RAND(NA_F32, 24, {"h", 2}, {"k", 17}, {"j", 65});
    na_array *a = ts_strided_copy(a0), *b = ts_strided_copy(b0);
    check_contract(a, b, NA_NAMES("k"), tol_for(NA_F32, 17));
    check_contract(a0, b, NA_NAMES("k"), tol_for(NA_F32, 17));
    check_contract(a, b0, NA_NAMES("k"), tol_for(NA_F32, 17));
    TS_FREE(a0, b0, a, b);
}

Test(contract, strided_multi_axis_groups)
{
    na_array *a0 = RAND(NA_F64, 25, {"i1", 3}, {"i2", 4}, {"k1", 5}, {"k2", 2});
    na_array *b0 = RAND(NA_F64, 26, {"k1", 5}, {"k2", 2}, {"j", 6});
    na_array *a = ts_strided_copy(a0), *b = ts_strided_copy(b0);
    check_contract(a, b, NA_NAMES("k1", "k2"), tol_for(NA_F64, 10));
    TS_FREE(a0, b0, a, b);
}

Test(contract, broadcast_and_reversed_operands)
{
    /* a view with stride 0 (broadcast) and one with a negative stride */
    na_array *a0 = RAND(NA_F32, 27, {"i", 9}, {"k", 1});
    na_array *a = NULL;
    NA_OK_OR_FAIL(na_array_ref(a0, &a));
    a->shape[1] = 13;
    a->stride[1] = 0;
    na_array *b0 = RAND(NA_F32, 28, {"k", 13}, {"j", 10});
    na_array *b = NULL;
    NA_OK_OR_FAIL(na_array_ref(b0, &b));
    b->offset += (b->shape[0] - 1) * b->stride[0];
    b->stride[0] = -b->stride[0];
    check_contract(a, b, NA_NAMES("k"), tol_for(NA_F32, 13));
    check_contract(b, a, NA_NAMES("k"), tol_for(NA_F32, 13));
    TS_FREE(a0, b0, a, b);
}

/* ---- GEMV shapes ---------------------------------------------------------- */

Test(contract, one_row_and_one_column_products)
{
    na_array *v = RAND(NA_F32, 29, {"k", 65});
    na_array *w = RAND(NA_F32, 30, {"k", 65}, {"j", 33});
    na_array *u = RAND(NA_F32, 31, {"i", 7}, {"k", 65});
    na_array *v2 = RAND(NA_F32, 32, {"k", 65});
    check_contract(v, w, NA_NAMES("k"), tol_for(NA_F32, 65));  /* m == 1 */
    check_contract(u, v, NA_NAMES("k"), tol_for(NA_F32, 65));  /* n == 1 */
    check_contract(v, v2, NA_NAMES("k"), tol_for(NA_F32, 65)); /* dot    */
    na_array *d = NULL;
    NA_OK_OR_FAIL(na_contract(v, v2, NA_NAMES("k"), &d));
    cr_assert_eq(d->ndim, 0);
    TS_FREE(d, v, w, u, v2);
}

Test(contract, decode_step_gemv_per_head)
{
    na_array *q = RAND(NA_F32, 33, {"heads", 4}, {"projection", 33});
    na_array *k = RAND(NA_F32, 34, {"heads", 4}, {"kv_seq", 65}, {"projection", 33});
    check_contract(q, k, NA_NAMES("projection"), tol_for(NA_F32, 33));
    na_array *ks = ts_strided_copy(k);
    check_contract(q, ks, NA_NAMES("projection"), tol_for(NA_F32, 33));
    TS_FREE(q, k, ks);
}

Test(contract, big_gemv_splits_rows_over_threads)
{
    na_array *a = RAND(NA_F64, 35, {"i", 700}, {"k", 200});
    na_array *x = RAND(NA_F64, 36, {"k", 200});
    check_contract(a, x, NA_NAMES("k"), tol_for(NA_F64, 200));
    check_contract(x, a, NA_NAMES("k"), tol_for(NA_F64, 200));
    TS_FREE(a, x);
}

Test(contract, outer_and_elementwise_products)
{
    na_array *a = RAND(NA_F32, 37, {"i", 5});
    na_array *b = RAND(NA_F32, 38, {"j", 7});
    na_array *c = RAND(NA_F32, 39, {"i", 5});
    check_contract(a, b, NULL, tol_for(NA_F32, 1));   /* outer        */
    check_contract(a, c, NULL, tol_for(NA_F32, 1));   /* elementwise  */
    TS_FREE(a, b, c);
}

/* ---- zero-size axes -------------------------------------------------------- */

Test(contract, zero_size_summed_axis_gives_zeros)
{
    na_array *a = RAND(NA_F32, 40, {"i", 3}, {"k", 0});
    na_array *b = RAND(NA_F32, 41, {"k", 0}, {"j", 4});
    na_array *c = NULL;
    NA_OK_OR_FAIL(na_contract(a, b, NA_NAMES("k"), &c));
    cr_assert_eq(na_size(c), 12);
    for (int64_t i = 0; i < 12; i++)
        cr_assert_eq(((float *)na_data(c))[i], 0.0f);
    TS_FREE(c, a, b);
}

Test(contract, zero_size_free_or_batch_axis_gives_empty)
{
    na_array *a = RAND(NA_F32, 42, {"h", 2}, {"i", 0}, {"k", 3});
    na_array *b = RAND(NA_F32, 43, {"h", 2}, {"k", 3}, {"j", 4});
    na_array *c = NULL;
    NA_OK_OR_FAIL(na_contract(a, b, NA_NAMES("k"), &c));
    cr_assert_eq(na_size(c), 0);
    cr_assert_eq(na_axis_size(c, "i"), 0);
    cr_assert_eq(na_axis_size(c, "j"), 4);
    na_array_free(c);
    na_array *a2 = RAND(NA_F32, 44, {"h", 0}, {"k", 3});
    na_array *b2 = RAND(NA_F32, 45, {"h", 0}, {"k", 3}, {"j", 4});
    NA_OK_OR_FAIL(na_contract(a2, b2, NA_NAMES("k"), &c));
    cr_assert_eq(na_size(c), 0);
    TS_FREE(c, a, b, a2, b2);
}

/* ---- memory reuse ---------------------------------------------------------- */

Test(contract, repeated_calls_reuse_cached_storage)
{
    na_array *a = RAND(NA_F32, 46, {"i", 128}, {"k", 64});
    na_array *b = RAND(NA_F32, 47, {"k", 64}, {"j", 256});
    na_array *c = NULL;
    NA_OK_OR_FAIL(na_contract(a, b, NA_NAMES("k"), &c));
    na_array_free(c);
    na_mem_stats before, after;
    na_get_mem_stats(&before);
    NA_OK_OR_FAIL(na_contract(a, b, NA_NAMES("k"), &c));
    na_array_free(c);
    na_get_mem_stats(&after);
    cr_assert_gt(after.reused, before.reused, "the 128 KiB result came fresh");
    TS_FREE(a, b);
}

/* Storage blocks na_contract takes: the result, plus one per packed operand. */
static uint64_t blocks_taken(const na_array *a, const na_array *b,
                             const char *const *sum)
{
    na_mem_stats before, after;
    na_array *c = NULL;
    na_get_mem_stats(&before);
    NA_OK_OR_FAIL(na_contract(a, b, sum, &c));
    na_get_mem_stats(&after);
    na_array_free(c);
    return after.allocs - before.allocs;
}

Test(contract, strided_and_transposed_views_go_to_blis_uncopied)
{
    na_array *a0 = RAND(NA_F32, 60, {"i1", 5}, {"i2", 7}, {"k", 33});
    na_array *b0 = RAND(NA_F32, 61, {"k", 33}, {"j", 65});
    na_array *as = ts_strided_copy(a0), *bs = ts_strided_copy(b0);
    na_array *bt = ts_permuted(b0, (int[]){1, 0}); /* {j, k}: a transposed view */
    /* i1, i2 fold into one row stride; strided and transposed views are
     * given to BLIS as they are: only the result is allocated. */
    cr_assert_eq(blocks_taken(a0, b0, NA_NAMES("k")), 1);
    cr_assert_eq(blocks_taken(a0, bs, NA_NAMES("k")), 1);
    cr_assert_eq(blocks_taken(a0, bt, NA_NAMES("k")), 1);
    /* a's free axes strided apart cannot fold: a is packed (one more block) */
    cr_assert_eq(blocks_taken(as, b0, NA_NAMES("k")), 2);
    check_contract(a0, bt, NA_NAMES("k"), tol_for(NA_F32, 33));
    check_contract(as, bs, NA_NAMES("k"), tol_for(NA_F32, 33));
    TS_FREE(a0, b0, as, bs, bt);
}

/* ---- errors ---------------------------------------------------------------- */

Test(contract, positional_axes_are_refused)
{
    na_array *a = NULL, *b = RAND(NA_F32, 48, {"k", 3});
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"i", 2}, {NULL, 3}), &a));
    na_array *out = NULL;
    NA_EXPECT_FAIL(na_contract(a, b, NA_NAMES("k"), &out), NA_ERR_AXIS,
                   "na_contract", "positional", "na_tag", "f32[i:2 | 3]");
    cr_assert_null(out);
    TS_FREE(a, b);
}

/* Mixed dtypes promote (test_promotion); strict promotion refuses them. */
Test(contract, dtype_mismatch_is_refused_when_strict)
{
    na_array *a = RAND(NA_F32, 49, {"i", 2}, {"k", 3});
    na_array *b = RAND(NA_F64, 50, {"k", 3});
    na_array *ia = NULL, *ib = NULL, *out = NULL;
    na_set_dtype_promotion(NA_PROMOTE_STRICT);
    NA_EXPECT_FAIL(na_contract(a, b, NA_NAMES("k"), &out), NA_ERR_DTYPE,
                   "na_contract", "f32[i:2, k:3]", "f64[k:3]");
    na_set_dtype_promotion(NA_PROMOTE_JAX);
    NA_OK_OR_FAIL(na_zeros(NA_I32, NA_DIMS({"k", 3}), &ia));
    NA_OK_OR_FAIL(na_zeros(NA_I32, NA_DIMS({"k", 3}), &ib));
    NA_EXPECT_FAIL(na_contract(ia, ib, NA_NAMES("k"), &out), NA_ERR_DTYPE,
                   "na_contract", "i32[k:3]");
    cr_assert_null(out);
    TS_FREE(a, b, ia, ib);
}

Test(contract, size_clash_names_axis_and_shapes)
{
    na_array *a = RAND(NA_F32, 51, {"i", 2}, {"k", 3});
    na_array *b = RAND(NA_F32, 52, {"k", 4}, {"j", 5});
    na_array *out = NULL;
    NA_EXPECT_FAIL(na_contract(a, b, NA_NAMES("k"), &out), NA_ERR_SHAPE,
                   "na_contract", "'k'", "f32[i:2, k:3]", "f32[k:4, j:5]");
    /* a batch axis clash too */
    na_array *c = RAND(NA_F32, 53, {"i", 3}, {"k", 3});
    NA_EXPECT_FAIL(na_contract(a, c, NA_NAMES("k"), &out), NA_ERR_SHAPE,
                   "'i'", "f32[i:2, k:3]", "f32[i:3, k:3]");
    cr_assert_null(out);
    TS_FREE(a, b, c);
}

Test(contract, sum_name_must_be_in_both)
{
    na_array *a = RAND(NA_F32, 54, {"i", 2}, {"k", 3});
    na_array *b = RAND(NA_F32, 55, {"k", 3}, {"j", 5});
    na_array *out = NULL;
    NA_EXPECT_FAIL(na_contract(a, b, NA_NAMES("z"), &out), NA_ERR_AXIS,
                   "na_contract", "'z'", "f32[i:2, k:3]", "f32[k:3, j:5]");
    NA_EXPECT_FAIL(na_contract(a, b, NA_NAMES("i"), &out), NA_ERR_AXIS,
                   "'i'", "not in b");
    NA_EXPECT_FAIL(na_contract(a, b, NA_NAMES("k", "k"), &out), NA_ERR_AXIS,
                   "'k'", "twice");
    NA_EXPECT_FAIL(na_contract(a, NULL, NA_NAMES("k"), &out), NA_ERR_ARGUMENT,
                   "na_contract");
    cr_assert_null(out);
    TS_FREE(a, b);
}

Test(contract, scalar_operands)
{
    na_array *s = NULL;
    NA_OK_OR_FAIL(na_scalar(NA_F32, 2.5, &s));
    na_array *x = RAND(NA_F32, 56, {"i", 7}, {"j", 3});
    check_contract(s, x, NULL, tol_for(NA_F32, 1));
    check_contract(x, s, NULL, tol_for(NA_F32, 1));
    check_contract(s, s, NULL, tol_for(NA_F32, 1));
    TS_FREE(s, x);
}

Test(contract, size_one_axes_everywhere)
{
    na_array *a = RAND(NA_F64, 57, {"h", 1}, {"i", 1}, {"k", 1}, {"i2", 5});
    na_array *b = RAND(NA_F64, 58, {"k", 1}, {"h", 1}, {"j", 1});
    check_contract(a, b, NA_NAMES("k"), tol_for(NA_F64, 1));
    check_contract(b, a, NA_NAMES("k"), tol_for(NA_F64, 1));
    TS_FREE(a, b);
}
