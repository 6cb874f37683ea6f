/* na_einsum: Penzai's NamedEinsum from a string spec.
 *
 *   "foo:i bar:i baz:j, foo:j qux:k -> x:i y:k z:j"
 *
 * Each input's mentioned axes are renamed to internal index names (a
 * prefix no user name starts with), repeated indices in one input become a
 * diagonal view (strides summed), and the inputs are contracted left to
 * right with na_contract: an index needed later (by the output or a later
 * input) is a batch axis of the step, one in both operands and not needed
 * is summed there, one in a single operand and not needed is summed first
 * by a product with ones. Unmentioned axes are batch axes throughout. The
 * result holds the unmentioned axes (in order of first appearance), then
 * the output's axes in spec order; it is a view of the last product. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broadcast.h"
#include "internal.h"

#define OP "na_einsum"
#define IDX_PREFIX "\x1f" /* NA__RESERVED_NAME_BYTE */
#define IDX_MAX 120

typedef struct term {
    int n;
    const char *axis[NA_MAX_DIMS];  /* interned user axis name         */
    const char *idx[NA_MAX_DIMS];   /* index text, as written           */
    const char *iname[NA_MAX_DIMS]; /* interned internal index name     */
} term;

typedef struct spec {
    char *buf; /* a copy of the spec, cut into tokens */
    int nin;
    term *in;
    term out;
} spec;

/* ---- parsing -------------------------------------------------------------- */

static na_status malformed(const char *text, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static na_status malformed(const char *text, const char *fmt, ...)
{
    char detail[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return na__fail(NA_ERR_ARGUMENT, "%s: malformed spec \"%s\": %s", OP, text,
                    detail);
}

static bool is_identifier(const char *s)
{
    if (!(isalpha((unsigned char)*s) || *s == '_'))
        return false;
    for (s++; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

static na_status parse_term(const char *text, char *part, const char *where,
                            term *t)
{
    t->n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(part, " \t\r\n", &save); tok;
         tok = strtok_r(NULL, " \t\r\n", &save)) {
        char *colon = strchr(tok, ':');
        if (!colon || colon == tok || !colon[1] || strchr(colon + 1, ':'))
            return malformed(text, "token '%s' in %s is not name:index", tok, where);
        *colon = '\0';
        const char *idx = colon + 1;
        if (!is_identifier(idx) || strlen(idx) > IDX_MAX)
            return malformed(text,
                             "index '%s' in %s is not an identifier "
                             "(letters, digits, '_')",
                             idx, where);
        if (t->n == NA_MAX_DIMS)
            return malformed(text, "more than %d axes in %s", NA_MAX_DIMS, where);
        char iname[IDX_MAX + 2];
        snprintf(iname, sizeof iname, IDX_PREFIX "%s", idx);
        t->axis[t->n] = na_intern(tok);
        t->idx[t->n] = idx;
        t->iname[t->n] = na__intern_reserved(iname);
        if (!t->axis[t->n] || !t->iname[t->n]) {
            char why[256];
            snprintf(why, sizeof why, "%s", na_last_error());
            return na__fail(na_last_status(), "%s: spec \"%s\": %s", OP, text, why);
        }
        t->n++;
    }
    return NA_OK;
}

static void spec_free(spec *s)
{
    free(s->buf);
    free(s->in);
}

static na_status parse_spec(const char *text, int n, spec *s)
{
    memset(s, 0, sizeof *s);
    s->buf = strdup(text);
    if (!s->buf)
        return na__fail(NA_ERR_NO_MEMORY, "%s: out of memory", OP);
    char *arrow = strstr(s->buf, "->");
    if (!arrow)
        return malformed(text, "no '->' before the output");
    if (strstr(arrow + 2, "->"))
        return malformed(text, "more than one '->'");
    *arrow = '\0';
    char *rhs = arrow + 2;
    if (strchr(rhs, ','))
        return malformed(text, "the output (after '->') has a ','");
    int nin = 1;
    for (const char *p = s->buf; *p; p++)
        nin += *p == ',';
    if (nin != n)
        return na__fail(NA_ERR_ARGUMENT,
                        "%s: spec \"%s\" names %d input%s but %d array%s given",
                        OP, text, nin, nin == 1 ? "" : "s", n,
                        n == 1 ? " was" : "s were");
    s->nin = nin;
    s->in = calloc((size_t)nin, sizeof *s->in);
    if (!s->in)
        return na__fail(NA_ERR_NO_MEMORY, "%s: out of memory", OP);
    char *part = s->buf;
    for (int t = 0; t < nin; t++) {
        char *comma = strchr(part, ',');
        if (comma)
            *comma = '\0';
        char where[32];
        snprintf(where, sizeof where, "input %d", t);
        na_status st = parse_term(text, part, where, &s->in[t]);
        if (st != NA_OK)
            return st;
        part = comma ? comma + 1 : part + strlen(part);
    }
    return parse_term(text, rhs, "the output", &s->out);
}

/* ---- checks ----------------------------------------------------------------- */

static int find(const char *const *list, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (list[i] == name)
            return i;
    return -1;
}

static bool index_in_inputs(const spec *s, int from, const char *iname)
{
    for (int t = from; t < s->nin; t++)
        if (find(s->in[t].iname, s->in[t].n, iname) >= 0)
            return true;
    return false;
}

/* Every input's mentioned axes exist once; each index has one size; the
 * output's indices come from the inputs, once each, under fresh names. */
static na_status check_spec(const char *text, const spec *s,
                            const na_array *const *xs)
{
    for (int t = 0; t < s->nin; t++) {
        const term *tm = &s->in[t];
        const na_array *x = xs[t];
        if (!x)
            return na__fail(NA_ERR_ARGUMENT, "%s: input %d is NULL", OP, t);
        if (na_positional_count(x) > 0)
            return na__fail(NA_ERR_AXIS,
                            "%s: input %d %s has positional axes; name them with "
                            "na_tag first",
                            OP, t, na__shape(x));
        for (int i = 0; i < tm->n; i++) {
            int d = na_axis_index(x, tm->axis[i]);
            if (d < 0)
                return na__fail(NA_ERR_AXIS, "%s: spec \"%s\": input %d %s has no axis '%s'",
                                OP, text, t, na__shape(x), tm->axis[i]);
            if (find(tm->axis, i, tm->axis[i]) >= 0)
                return na__fail(NA_ERR_AXIS,
                                "%s: spec \"%s\": axis '%s' appears twice in input %d",
                                OP, text, tm->axis[i], t);
            /* the first occurrence of this index fixes its size */
            for (int u = 0; u <= t; u++) {
                int j = find(s->in[u].iname, u == t ? i : s->in[u].n, tm->iname[i]);
                if (j < 0)
                    continue;
                int64_t want = na_axis_size(xs[u], s->in[u].axis[j]);
                if (want != x->shape[d])
                    return na__fail(NA_ERR_SHAPE,
                                    "%s: index '%s' has size %lld (input %d axis '%s' "
                                    "of %s) and %lld (input %d axis '%s' of %s)",
                                    OP, tm->idx[i], (long long)want, u,
                                    s->in[u].axis[j], na__shape(xs[u]),
                                    (long long)x->shape[d], t, tm->axis[i],
                                    na__shape(x));
                break;
            }
        }
    }
    const term *o = &s->out;
    for (int i = 0; i < o->n; i++) {
        if (!index_in_inputs(s, 0, o->iname[i]))
            return na__fail(NA_ERR_ARGUMENT,
                            "%s: malformed spec \"%s\": output index '%s' is in no input",
                            OP, text, o->idx[i]);
        if (find(o->iname, i, o->iname[i]) >= 0)
            return na__fail(NA_ERR_ARGUMENT,
                            "%s: malformed spec \"%s\": output index '%s' appears twice",
                            OP, text, o->idx[i]);
        if (find(o->axis, i, o->axis[i]) >= 0)
            return na__fail(NA_ERR_AXIS,
                            "%s: spec \"%s\": output axis '%s' appears twice",
                            OP, text, o->axis[i]);
    }
    return NA_OK;
}

/* Unmentioned axes of every input: one size each, no clash with the output
 * names. Fills `names`/`sizes` in order of first appearance. */
static na_status collect_batch(const char *text, const spec *s,
                               const na_array *const *xs, const char **names,
                               int64_t *sizes, int *count)
{
    int nb = 0;
    for (int t = 0; t < s->nin; t++) {
        const na_array *x = xs[t];
        for (int d = 0; d < x->ndim; d++) {
            const char *nm = x->name[d];
            if (find(s->in[t].axis, s->in[t].n, nm) >= 0)
                continue;
            int j = find(names, nb, nm);
            if (j >= 0) {
                if (sizes[j] != x->shape[d])
                    return na__fail(NA_ERR_SHAPE,
                                    "%s: size clash on unmentioned axis '%s' (%lld vs "
                                    "%lld): input %d is %s",
                                    OP, nm, (long long)sizes[j],
                                    (long long)x->shape[d], t, na__shape(x));
                continue;
            }
            if (find(s->out.axis, s->out.n, nm) >= 0)
                return na__fail(NA_ERR_AXIS,
                                "%s: spec \"%s\": output axis '%s' clashes with the "
                                "unmentioned axis '%s' of input %d %s",
                                OP, text, nm, nm, t, na__shape(x));
            if (nb + 1 + s->out.n > NA_MAX_DIMS)
                return na__fail(NA_ERR_SHAPE,
                                "%s: the result would have more than %d axes",
                                OP, NA_MAX_DIMS);
            names[nb] = nm;
            sizes[nb] = x->shape[d];
            nb++;
        }
    }
    *count = nb;
    return NA_OK;
}

/* ---- evaluation ----------------------------------------------------------- */

/* x with its mentioned axes renamed to index names and repeated indices
 * folded into one diagonal axis (strides summed): a view. */
static na_status input_view(const na_array *x, const term *tm, na_array **out)
{
    na_array *v = na__view_of(x);
    if (!v)
        return NA_ERR_NO_MEMORY;
    for (int i = 0; i < tm->n; i++)
        v->name[na_axis_index(x, tm->axis[i])] = tm->iname[i];
    for (int d = 0; d < v->ndim; d++) {
        for (int e = d + 1; e < v->ndim; e++) {
            if (v->name[e] != v->name[d])
                continue;
            if (v->shape[e] != v->shape[d]) {
                na_status st = na__fail(NA_ERR_SHAPE,
                                        "%s: axes merged into one index differ in "
                                        "size (%lld vs %lld) in %s",
                                        OP, (long long)v->shape[d],
                                        (long long)v->shape[e], na__shape(x));
                na_array_free(v);
                return st;
            }
            v->stride[d] += v->stride[e];
            for (int f = e; f + 1 < v->ndim; f++) {
                v->name[f] = v->name[f + 1];
                v->shape[f] = v->shape[f + 1];
                v->stride[f] = v->stride[f + 1];
            }
            v->ndim--;
            e--;
        }
    }
    *out = v;
    return NA_OK;
}

static bool is_index(const char *name) { return name[0] == IDX_PREFIX[0]; }

/* Sum x (consumed) over the listed axes with a product by ones. */
static na_status sum_out(na_array *x, const char **names, int n, na_array **out)
{
    if (n == 0) {
        *out = x;
        return NA_OK;
    }
    na_dim dims[NA_MAX_DIMS];
    const char *list[NA_MAX_DIMS + 1];
    for (int i = 0; i < n; i++) {
        dims[i] = (na_dim){names[i], na_axis_size(x, names[i])};
        list[i] = names[i];
    }
    list[n] = NULL;
    na_array *ones = NULL, *r = NULL;
    na_status st = na_ones(x->dtype, n, dims, &ones);
    if (st == NA_OK)
        st = na_contract(x, ones, list, &r);
    na_array_free(ones);
    na_array_free(x);
    if (st == NA_OK)
        *out = r;
    return st;
}

/* Indices of x that nothing after input `t` needs, split by whether
 * `other` has them too. */
static void unneeded(const spec *s, int t, const na_array *x,
                     const na_array *other, const char **both, int *nboth,
                     const char **only, int *nonly)
{
    *nboth = *nonly = 0;
    for (int d = 0; d < x->ndim; d++) {
        const char *nm = x->name[d];
        if (!is_index(nm) || find(s->out.iname, s->out.n, nm) >= 0 ||
            index_in_inputs(s, t + 1, nm))
            continue;
        if (other && na_axis_index(other, nm) >= 0)
            both[(*nboth)++] = nm;
        else
            only[(*nonly)++] = nm;
    }
}

static na_status evaluate(const spec *s, const na_array *const *xs,
                          na_array **out)
{
    na_array *cur = NULL;
    na_status st = input_view(xs[0], &s->in[0], &cur);
    const char *both[NA_MAX_DIMS + 1], *only[NA_MAX_DIMS], *only2[NA_MAX_DIMS];
    int nboth, nonly, nonly2;
    if (st == NA_OK && s->nin == 1) {
        unneeded(s, 0, cur, NULL, both, &nboth, only, &nonly);
        st = sum_out(cur, only, nonly, &cur);
        if (st != NA_OK)
            cur = NULL;
    }
    for (int t = 1; st == NA_OK && t < s->nin; t++) {
        na_array *nxt = NULL, *r = NULL;
        if ((st = input_view(xs[t], &s->in[t], &nxt)) != NA_OK)
            break;
        unneeded(s, t, cur, nxt, both, &nboth, only, &nonly);
        unneeded(s, t, nxt, cur, both, &nboth, only2, &nonly2);
        both[nboth] = NULL;
        st = sum_out(cur, only, nonly, &cur);
        if (st != NA_OK) {
            cur = NULL;
            na_array_free(nxt);
            break;
        }
        st = sum_out(nxt, only2, nonly2, &nxt);
        if (st != NA_OK)
            break;
        st = na_contract(cur, nxt, both, &r);
        na_array_free(nxt);
        na_array_free(cur);
        cur = st == NA_OK ? r : NULL;
    }
    if (st != NA_OK) {
        na_array_free(cur);
        return st;
    }
    *out = cur;
    return NA_OK;
}

/* The final view: unmentioned axes, then the output's axes by name. */
static na_status arrange(na_array *cur, const spec *s, const char **bnames,
                         int nb, na_array **out)
{
    na_array *v = na__view_of(cur);
    na_array_free(cur);
    if (!v)
        return NA_ERR_NO_MEMORY;
    na_array src = *v;
    int k = 0;
    for (int i = 0; i < nb + s->out.n; i++) {
        const char *from = i < nb ? bnames[i] : s->out.iname[i - nb];
        int d = na_axis_index(&src, from);
        v->name[k] = i < nb ? bnames[i] : s->out.axis[i - nb];
        v->shape[k] = src.shape[d];
        v->stride[k] = src.stride[d];
        k++;
    }
    v->ndim = k;
    *out = v;
    return NA_OK;
}

/* conv[t] = input t in the common dtype (JAX's promotion, runtime.h).
 * Products need a float dtype; pure renames and diagonals take any. */
static na_status promote_inputs(const char *text, const spec *s, int n,
                                const na_array *const *xs, na_array **conv)
{
    bool sums = n > 1;
    for (int i = 0; i < s->in[0].n && !sums; i++)
        sums = find(s->out.iname, s->out.n, s->in[0].iname[i]) < 0;
    na_dtype t = xs[0]->dtype;
    na_status st = NA_OK;
    for (int i = 1; i < n && st == NA_OK; i++) {
        na_dtype u;
        st = na__promote_checked(OP, xs[0], xs[i], &u);
        t = na__promote(t, u);
    }
    if (st == NA_OK && sums && t != NA_F32 && t != NA_F64 && t != NA_BF16)
        st = na__fail(NA_ERR_DTYPE,
                      "%s: spec \"%s\" needs inputs that promote to a float dtype: "
                      "input 0 is %s, common dtype %s",
                      OP, text, na__shape(xs[0]), na_dtype_name(t));
    for (int i = 0; i < n && st == NA_OK; i++)
        st = xs[i]->dtype == t ? na_array_ref(xs[i], &conv[i])
                               : na_astype(xs[i], t, &conv[i]);
    return st;
}

na_status na_einsum(const char *text, int n, const na_array *const *xs,
                    na_array **out)
{
    if (!text || !xs || !out || n < 1)
        return na__fail(NA_ERR_ARGUMENT,
                        "%s: spec, inputs and out must not be NULL and n >= 1 (n = %d)",
                        OP, n);
    spec s;
    na_status st = parse_spec(text, n, &s);
    if (st == NA_OK)
        st = check_spec(text, &s, xs);
    const char *bnames[NA_MAX_DIMS];
    int64_t bsizes[NA_MAX_DIMS];
    int nb = 0;
    if (st == NA_OK)
        st = collect_batch(text, &s, xs, bnames, bsizes, &nb);
    na_array **conv = NULL;
    if (st == NA_OK && !(conv = calloc((size_t)n, sizeof *conv)))
        st = na__fail(NA_ERR_NO_MEMORY, "%s: out of memory", OP);
    if (st == NA_OK)
        st = promote_inputs(text, &s, n, xs, conv);
    na_array *r = NULL;
    if (st == NA_OK)
        st = evaluate(&s, (const na_array *const *)conv, &r);
    for (int t = 0; conv && t < n; t++)
        na_array_free(conv[t]);
    free(conv);
    if (st == NA_OK)
        st = arrange(r, &s, bnames, nb, out);
    spec_free(&s);
    return st;
}
