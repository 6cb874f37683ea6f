/* Comparing two arrays element by element, lined up by axis name:
 * na_max_abs_diff and na_allclose (for users' own layers and tests). */
#include <math.h>

#include "internal.h"

/* |a - b| with NaN equal to NaN, a NaN against a number infinitely far,
 * and equal infinities at distance 0. */
static double distance(double va, double vb)
{
    if (isnan(va) || isnan(vb))
        return isnan(va) && isnan(vb) ? 0 : INFINITY;
    return va == vb ? 0 : fabs(va - vb);
}

static na_status check_pair(const char *op, const na_array *a, const na_array *b,
                            const void *out)
{
    if (!a || !b || !out)
        return na__fail(NA_ERR_ARGUMENT, "%s: a, b and out are required", op);
    if (!na_same_shape(a, b))
        return na__fail(NA_ERR_SHAPE, "%s: named shapes differ: a %s vs b %s", op,
                        na__shape(a), na__shape(b));
    return NA_OK;
}

/* Visit every element pair (a's dim order; b's element by name) and keep
 * the largest distance and whether every pair is within atol + rtol*|b|. */
static void compare(const na_array *a, const na_array *b, double rtol, double atol,
                    double *worst, bool *close)
{
    int map[NA_MAX_DIMS];
    int pos = 0;
    for (int d = 0; d < a->ndim; d++)
        map[d] = a->name[d] ? na_axis_index(b, a->name[d]) : na_positional_index(b, pos++);
    int64_t n = na_size(a);
    int64_t idx[NA_MAX_DIMS] = {0}, jdx[NA_MAX_DIMS] = {0};
    *worst = 0;
    *close = true;
    for (int64_t i = 0; i < n; i++) {
        for (int d = 0; d < a->ndim; d++)
            jdx[map[d]] = idx[d];
        double va = na_get(a, idx), vb = na_get(b, jdx), dist = distance(va, vb);
        if (dist > *worst || isnan(dist))
            *worst = dist;
        if (!(dist <= atol + rtol * fabs(vb)) && dist != 0)
            *close = false;
        for (int d = a->ndim - 1; d >= 0; d--) {
            if (++idx[d] < a->shape[d])
                break;
            idx[d] = 0;
        }
    }
}

na_status na_max_abs_diff(const na_array *a, const na_array *b, double *out)
{
    na_status st = check_pair("na_max_abs_diff", a, b, out);
    if (st != NA_OK)
        return st;
    bool close;
    compare(a, b, 0, 0, out, &close);
    return NA_OK;
}

na_status na_allclose(const na_array *a, const na_array *b, double rtol, double atol,
                      bool *out)
{
    na_status st = check_pair("na_allclose", a, b, out);
    if (st != NA_OK)
        return st;
    if (!(rtol >= 0) || !(atol >= 0))
        return na__fail(NA_ERR_ARGUMENT, "na_allclose: rtol (%g) and atol (%g) must "
                        "be >= 0", rtol, atol);
    double worst;
    compare(a, b, rtol, atol, &worst, out);
    return NA_OK;
}
