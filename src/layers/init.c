/* Seeded initializers: constants and variance scaling over in/out axes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "namedarr/init.h"
#include "layers/layers_internal.h"

/* Standard deviation of N(0, 1) truncated to [-2, 2]. */
#define TRUNC2_STDDEV 0.87962566103423978

na_init na_init_constant(double value)
{
    return (na_init){.kind = NA_INIT_CONSTANT, .value = value};
}

na_init na_init_zeros(void) { return na_init_constant(0.0); }
na_init na_init_ones(void) { return na_init_constant(1.0); }

na_init na_init_variance_scaling(double scale, na_fan_mode mode,
                                 na_init_distribution distribution)
{
    return (na_init){.kind = NA_INIT_VARIANCE_SCALING, .scale = scale,
                     .mode = mode, .distribution = distribution};
}

na_init na_init_xavier_uniform(void)
{
    return na_init_variance_scaling(1.0, NA_FAN_AVG, NA_DIST_UNIFORM);
}

na_init na_init_xavier_normal(void)
{
    return na_init_variance_scaling(1.0, NA_FAN_AVG, NA_DIST_NORMAL);
}

na_init na_init_lecun_normal(void)
{
    return na_init_variance_scaling(1.0, NA_FAN_IN, NA_DIST_TRUNCATED_NORMAL);
}

na_init na_init_he_normal(void)
{
    return na_init_variance_scaling(2.0, NA_FAN_IN, NA_DIST_TRUNCATED_NORMAL);
}

/* ---- seeds ----------------------------------------------------------- */

static uint64_t splitmix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t na_init_seed_for(uint64_t seed, const char *label)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *s = label ? label : ""; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return splitmix64(splitmix64(seed) ^ h);
}

/* ---- describing -------------------------------------------------------- */

static const char *mode_name(na_fan_mode m)
{
    return m == NA_FAN_IN ? "fan_in" : m == NA_FAN_OUT ? "fan_out" : "fan_avg";
}

static const char *dist_name(na_init_distribution d)
{
    return d == NA_DIST_NORMAL ? "normal"
           : d == NA_DIST_TRUNCATED_NORMAL ? "truncated_normal" : "uniform";
}

const char *na_init_describe(const na_init *init, char *buf, size_t cap)
{
    na_init x = init ? *init : na_init_xavier_uniform();
    if (x.kind == NA_INIT_CONSTANT)
        snprintf(buf, cap, "constant(%g)", x.value);
    else if (x.scale == 1.0 && x.mode == NA_FAN_AVG && x.distribution != NA_DIST_TRUNCATED_NORMAL)
        snprintf(buf, cap, "xavier_%s", dist_name(x.distribution));
    else
        snprintf(buf, cap, "variance_scaling(%g, %s, %s)", x.scale,
                 mode_name(x.mode), dist_name(x.distribution));
    return buf;
}

/* ---- checks ------------------------------------------------------------ */

static na_status gather_dims(int n_in, const na_dim *in, int n_out, const na_dim *out,
                             int n_par, const na_dim *par, na_dim *dims, int *ndim,
                             const char *who)
{
    int groups[3] = {n_in, n_out, n_par};
    const na_dim *src[3] = {in, out, par};
    int n = 0;
    for (int g = 0; g < 3; g++) {
        if (groups[g] < 0 || (groups[g] > 0 && !src[g]))
            return na__fail(NA_ERR_ARGUMENT, "%s: bad dim list (count %d)", who,
                            groups[g]);
        for (int i = 0; i < groups[g]; i++) {
            if (n >= NA_MAX_DIMS)
                return na__fail(NA_ERR_ARGUMENT, "%s: more than %d axes", who,
                                NA_MAX_DIMS);
            dims[n++] = src[g][i];
        }
    }
    for (int i = 0; i < n; i++) {
        if (!dims[i].name || !dims[i].name[0])
            return na__fail(NA_ERR_AXIS, "%s: every axis needs a name", who);
        if (dims[i].size < 0)
            return na__fail(NA_ERR_SHAPE, "%s: axis '%s' has size %lld", who,
                            dims[i].name, (long long)dims[i].size);
        for (int j = 0; j < i; j++)
            if (strcmp(dims[i].name, dims[j].name) == 0)
                return na__fail(NA_ERR_AXIS,
                                "%s: axis '%s' is listed twice "
                                "(input, output and parallel axes must be distinct)",
                                who, dims[i].name);
    }
    *ndim = n;
    return NA_OK;
}

static double fan_of(int n, const na_dim *dims)
{
    double f = 1.0;
    for (int i = 0; i < n; i++)
        f *= (double)dims[i].size;
    return f;
}

static double variance_of(const na_init *init, double fan_in, double fan_out)
{
    double n = init->mode == NA_FAN_IN    ? fan_in
               : init->mode == NA_FAN_OUT ? fan_out
                                          : (fan_in + fan_out) / 2;
    return init->scale / (n > 0 ? n : 1.0);
}

/* ---- truncated normal by inverse CDF ------------------------------------ */

static double normal_cdf(double z) { return 0.5 * erfc(-z / sqrt(2.0)); }

/* z with Phi(z) = u for u in [Phi(-2), Phi(2)]: Newton from 0 (monotone on
 * each side since Phi is convex below 0 and concave above). */
static double normal_quantile(double u)
{
    double z = 0.0;
    for (int it = 0; it < 60; it++) {
        double pdf = exp(-0.5 * z * z) / sqrt(2.0 * M_PI);
        double step = (normal_cdf(z) - u) / pdf;
        z -= step;
        if (fabs(step) < 1e-15)
            break;
    }
    return z < -2.0 ? -2.0 : z > 2.0 ? 2.0 : z;
}

static na_status truncated_normal(uint64_t seed, na_dtype dtype, int ndim,
                                  const na_dim *dims, double stddev,
                                  na_array **out)
{
    na_array *u = NULL, *z = NULL;
    na_status st = na_random_uniform(seed, NA_F64, ndim, dims, normal_cdf(-2.0),
                                     normal_cdf(2.0), &u);
    if (st != NA_OK)
        return st;
    double *p = na_data(u); /* fresh and contiguous */
    int64_t n = na_size(u);
    for (int64_t i = 0; i < n; i++)
        p[i] = stddev * normal_quantile(p[i]);
    st = dtype == NA_F64 ? na_array_ref(u, &z) : na_astype(u, dtype, &z);
    na_array_free(u);
    if (st == NA_OK)
        *out = z;
    return st;
}

/* ---- entry points ------------------------------------------------------- */

static na_status random_fill(const na_init *init, uint64_t seed, na_dtype dtype, int ndim,
                             const na_dim *dims, double variance, const char *who,
                             na_array **out)
{
    double sd = sqrt(variance);
    switch (init->distribution) {
    case NA_DIST_NORMAL:
        return na_random_normal(seed, dtype, ndim, dims, 0.0, sd, out);
    case NA_DIST_TRUNCATED_NORMAL:
        return truncated_normal(seed, dtype, ndim, dims, sd / TRUNC2_STDDEV, out);
    case NA_DIST_UNIFORM:
        return na_random_uniform(seed, dtype, ndim, dims, -sqrt(3.0) * sd,
                                 sqrt(3.0) * sd, out);
    }
    return na__fail(NA_ERR_ARGUMENT, "%s: unknown distribution %d", who,
                    (int)init->distribution);
}

/* The options of the basic calls: f32, no parallel axes. */
static na_init_options basic_options(const na_init *init, uint64_t seed, int n_in,
                                     const na_dim *in, int n_out, const na_dim *out)
{
    na_init_options o = {.init = init, .seed = seed};
    o.n_in = n_in, o.in = in, o.n_out = n_out, o.out = out;
    return o;
}

static na_status init_array(const na_init_options *opt, const char *who, na_array **out)
{
    if (!out || !opt)
        return na__fail(NA_ERR_ARGUMENT, "%s: %s is NULL", who, out ? "opt" : "out");
    *out = NULL;
    na_init def = na_init_xavier_uniform();
    const na_init *init = opt->init ? opt->init : &def;
    if (opt->dtype != NA_F32 && opt->dtype != NA_F64)
        return na__fail(NA_ERR_DTYPE, "%s: dtype %s (want f32 or f64)", who,
                        na_dtype_name(opt->dtype));
    na_dim dims[NA_MAX_DIMS];
    int ndim = 0;
    na_status st = gather_dims(opt->n_in, opt->in, opt->n_out, opt->out, opt->n_parallel,
                               opt->parallel, dims, &ndim, who);
    if (st != NA_OK)
        return st;
    if (init->kind == NA_INIT_CONSTANT)
        return na_full(opt->dtype, ndim, dims, init->value, out);
    if (init->kind != NA_INIT_VARIANCE_SCALING || !(init->scale > 0))
        return na__fail(NA_ERR_ARGUMENT,
                        "%s: variance scaling needs a "
                        "positive scale (got %g)",
                        who, init->scale);
    if (init->fan_in < 0 || init->fan_out < 0)
        return na__fail(NA_ERR_ARGUMENT,
                        "%s: fan_in %g and fan_out %g must be "
                        ">= 0 (0: the axes' products)",
                        who, init->fan_in, init->fan_out);
    double fi = init->fan_in > 0 ? init->fan_in : fan_of(opt->n_in, opt->in);
    double fo = init->fan_out > 0 ? init->fan_out : fan_of(opt->n_out, opt->out);
    double var = variance_of(init, fi, fo);
    return random_fill(init, opt->seed, opt->dtype, ndim, dims, var, who, out);
}

na_status na_init_array(const na_init *init, uint64_t seed, int n_in, const na_dim *in,
                        int n_out, const na_dim *out_dims, na_array **out)
{
    na_init_options o = basic_options(init, seed, n_in, in, n_out, out_dims);
    return init_array(&o, "na_init_array", out);
}

na_status na_init_array_ex(const na_init_options *opt, na_array **out)
{
    return init_array(opt, "na_init_array_ex", out);
}

static na_status init_param(const char *label, const na_init_options *opt,
                            const char *who, na_param **out)
{
    if (!out || !opt)
        return na__fail(NA_ERR_ARGUMENT, "%s: %s is NULL", who, out ? "opt" : "out");
    *out = NULL;
    na_init_options o = *opt;
    o.seed = na_init_seed_for(opt->seed, label);
    na_array *value = NULL;
    na_status st = init_array(&o, who, &value);
    if (st != NA_OK) {
        na__fail_append(" (parameter '%s')", label ? label : "");
        return st;
    }
    na_param *p = na_param_new(label, NA_PARAM, value);
    if (!p)
        return na_last_status();
    *out = p;
    return NA_OK;
}

na_status na_init_param_ex(const char *label, const na_init_options *opt, na_param **out)
{
    return init_param(label, opt, "na_init_param_ex", out);
}

na_status na_init_param(const char *label, const na_init *init, uint64_t seed, int n_in,
                        const na_dim *in, int n_out, const na_dim *out_dims,
                        na_param **out)
{
    na_init_options o = basic_options(init, seed, n_in, in, n_out, out_dims);
    return init_param(label, &o, "na_init_param", out);
}
