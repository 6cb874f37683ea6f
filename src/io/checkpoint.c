/* Checkpoint layouts: naming flat positional tensors (na_unflatten) and the
 * Hugging Face Llama / GPT-2 attention loaders. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "namedarr/checkpoint.h"

#define OP "na_unflatten"

typedef struct group {
    int count;
    char names[NA_MAX_DIMS][64];
    int64_t sizes[NA_MAX_DIMS]; /* -1: infer */
} group;

static const char *skip_space(const char *p)
{
    while (*p && isspace((unsigned char)*p))
        p++;
    return p;
}

/* Parse "name" or "name:size" at p into g; returns the end or NULL. */
static const char *parse_item(const char *p, group *g, const char *spec)
{
    if (g->count == NA_MAX_DIMS) {
        na__fail(NA_ERR_ARGUMENT, OP ": too many axes in \"%s\"", spec);
        return NULL;
    }
    size_t len = 0;
    while (p[len] && (isalnum((unsigned char)p[len]) || p[len] == '_' || p[len] == '.'))
        len++;
    if (len == 0 || len >= sizeof g->names[0]) {
        na__fail(NA_ERR_ARGUMENT, OP ": expected an axis name at \"%s\" in \"%s\"", p, spec);
        return NULL;
    }
    memcpy(g->names[g->count], p, len);
    g->names[g->count][len] = '\0';
    g->sizes[g->count] = -1;
    p += len;
    if (*p == ':') {
        char *end;
        errno = 0;
        long long v = isdigit((unsigned char)p[1]) ? strtoll(p + 1, &end, 10) : 0;
        if (v <= 0 || errno == ERANGE || v > NA_MAX_ELEMENTS) {
            na__fail(NA_ERR_ARGUMENT, OP ": bad size for '%s' in \"%s\"",
                     g->names[g->count], spec);
            return NULL;
        }
        g->sizes[g->count] = v;
        p = end;
    }
    g->count++;
    return p;
}

/* Parse one comma-separated group. */
static const char *parse_group(const char *p, group *g, const char *spec)
{
    g->count = 0;
    p = skip_space(p);
    if (*p != '(')
        return parse_item(p, g, spec);
    p = skip_space(p + 1);
    while (p && *p && *p != ')') {
        p = parse_item(p, g, spec);
        if (p)
            p = skip_space(p);
    }
    if (!p)
        return NULL;
    if (*p != ')' || g->count == 0) {
        na__fail(NA_ERR_ARGUMENT, OP ": unbalanced or empty '(' in \"%s\"", spec);
        return NULL;
    }
    return p + 1;
}

/* Fill in the inferred size and check the product against n. */
static na_status resolve_sizes(group *g, int64_t n, const na_array *x, int pos)
{
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < g->count; i++) {
        if (g->sizes[i] < 0) {
            if (infer >= 0)
                return na__fail(NA_ERR_ARGUMENT,
                                OP ": positional axis %d of %s: only one size per group "
                                "may be left out",
                                pos, na__shape(x));
            infer = i;
        } else if (!na__mul_ok(known, g->sizes[i], &known)) {
            goto mismatch;
        }
    }
    if (infer >= 0) {
        if (g->count == 1) {
            g->sizes[infer] = n;
            return NA_OK;
        }
        if (known == 0 || n % known != 0)
            goto mismatch;
        g->sizes[infer] = n / known;
        known = n;
    }
    if (known == n)
        return NA_OK;
mismatch:
    return na__fail(NA_ERR_SHAPE,
                    OP ": positional axis %d of %s has size %lld, which the group "
                    "starting '%s' cannot split",
                    pos, na__shape(x), (long long)n, g->names[0]);
}

na_status na_unflatten(const na_array *x, const char *spec, na_array **out)
{
    if (!x || !spec || !out)
        return na__fail(NA_ERR_ARGUMENT, OP ": NULL argument");
    int npos = na_positional_count(x);
    group *groups = calloc((size_t)(npos ? npos : 1), sizeof *groups);
    if (!groups)
        return na__fail(NA_ERR_NO_MEMORY, OP ": out of memory");
    na_status s = NA_OK;
    const char *p = spec;
    int ng = 0;
    while (s == NA_OK && *skip_space(p)) {
        if (ng == npos || ng == NA_MAX_DIMS) {
            s = na__fail(NA_ERR_SHAPE, OP ": \"%s\" has more groups than %s has "
                                      "positional axes", spec, na__shape(x));
            break;
        }
        p = parse_group(p, &groups[ng], spec);
        if (!p) {
            s = na_last_status();
            break;
        }
        p = skip_space(p);
        if (*p == ',' && !*skip_space(p + 1))
            s = na__fail(NA_ERR_ARGUMENT, OP ": trailing ',' in \"%s\"", spec);
        else if (*p == ',')
            p++;
        else if (*p)
            s = na__fail(NA_ERR_ARGUMENT, OP ": expected ',' at \"%s\" in \"%s\"", p, spec);
        ng++;
    }
    if (s == NA_OK && ng != npos)
        s = na__fail(NA_ERR_SHAPE, OP ": \"%s\" has %d groups but %s has %d positional axes",
                     spec, ng, na__shape(x), npos);
    na_array hdr = *x;
    hdr.ndim = 0;
    for (int d = 0, pos = 0; s == NA_OK && d < x->ndim; d++) {
        if (hdr.ndim + (x->name[d] ? 1 : groups[pos].count) > NA_MAX_DIMS) {
            s = na__fail(NA_ERR_ARGUMENT, OP ": \"%s\" gives %s more than %d axes",
                         spec, na__shape(x), NA_MAX_DIMS);
            break;
        }
        if (x->name[d]) {
            hdr.shape[hdr.ndim] = x->shape[d];
            hdr.stride[hdr.ndim] = x->stride[d];
            hdr.name[hdr.ndim++] = x->name[d];
            continue;
        }
        group *g = &groups[pos];
        s = resolve_sizes(g, x->shape[d], x, pos);
        pos++;
        int64_t stride = x->stride[d];
        int first = hdr.ndim;
        for (int i = g->count - 1; s == NA_OK && i >= 0; i--) {
            hdr.shape[first + i] = g->sizes[i];
            hdr.stride[first + i] = stride;
            if (i > 0)
                stride *= g->sizes[i];
            if (!(hdr.name[first + i] = na_intern(g->names[i])))
                s = NA_ERR_ARGUMENT;
        }
        hdr.ndim += g->count;
    }
    for (int d = 0; s == NA_OK && d < hdr.ndim; d++)
        for (int e = 0; e < d; e++)
            if (hdr.name[e] == hdr.name[d]) {
                s = na__fail(NA_ERR_AXIS, OP ": axis name '%s' appears twice (spec \"%s\", "
                                          "input %s)", hdr.name[d], spec, na__shape(x));
                break;
            }
    free(groups);
    if (s != NA_OK)
        return s;
    na_array *v = na__view_of(&hdr);
    if (!v)
        return NA_ERR_NO_MEMORY;
    *out = v;
    return NA_OK;
}

/* ---- loaders --------------------------------------------------------- */

void na_attention_params_free(na_attention_params *w)
{
    if (!w)
        return;
    na_array *all[] = {w->query, w->key, w->value, w->output,
                       w->query_bias, w->key_bias, w->value_bias, w->output_bias};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        na_array_free(all[i]);
    memset(w, 0, sizeof *w);
}

/* Load "<prefix>.<name>" and unflatten it with `spec`. Missing optional
 * tensors leave *out NULL. */
static na_status load(const na_safetensors *st, const char *prefix, const char *name,
                      const char *spec, bool optional, na_array **out)
{
    char label[512];
    snprintf(label, sizeof label, "%s.%s", prefix, name);
    bool present = false;
    for (int i = 0; i < na_safetensors_count(st) && !present; i++)
        present = strcmp(na_safetensors_label(st, i), label) == 0;
    if (!present && optional)
        return NA_OK;
    na_array *flat = NULL;
    na_status s = na_safetensors_get(st, label, &flat);
    if (s == NA_OK) {
        s = na_unflatten(flat, spec, out);
        if (s != NA_OK)
            na__fail_append(" (loading '%s')", label);
    }
    na_array_free(flat);
    return s;
}

/* The (heads) group of a spec: "heads:H" or "kv_heads:K query_heads:G". */
static void heads_group(char *buf, size_t cap, int heads, int kv_heads, bool kv)
{
    if (kv)
        snprintf(buf, cap, "%s:%d", heads == kv_heads ? "heads" : "kv_heads", kv_heads);
    else if (heads == kv_heads)
        snprintf(buf, cap, "heads:%d", heads);
    else
        snprintf(buf, cap, "kv_heads:%d query_heads:%d", kv_heads, heads / kv_heads);
}

na_status na_load_llama_attention(const na_safetensors *st, const char *prefix,
                                  int num_heads, int num_kv_heads,
                                  na_attention_params *out)
{
    if (!st || !prefix || !out)
        return na__fail(NA_ERR_ARGUMENT, "na_load_llama_attention: NULL argument");
    if (num_heads <= 0 || num_kv_heads <= 0 || num_heads % num_kv_heads != 0)
        return na__fail(NA_ERR_ARGUMENT,
                        "na_load_llama_attention: num_kv_heads (%d) must divide "
                        "num_heads (%d)",
                        num_kv_heads, num_heads);
    char q[96], kv[96], spec[256];
    heads_group(q, sizeof q, num_heads, num_kv_heads, false);
    heads_group(kv, sizeof kv, num_heads, num_kv_heads, true);
    na_attention_params w = {0};
    na_status s;
    snprintf(spec, sizeof spec, "(%s projection), embedding", q);
    s = load(st, prefix, "q_proj.weight", spec, false, &w.query);
    char bspec[256];
    snprintf(bspec, sizeof bspec, "(%s projection)", q);
    if (s == NA_OK)
        s = load(st, prefix, "q_proj.bias", bspec, true, &w.query_bias);
    snprintf(spec, sizeof spec, "(%s projection), embedding", kv);
    snprintf(bspec, sizeof bspec, "(%s projection)", kv);
    if (s == NA_OK)
        s = load(st, prefix, "k_proj.weight", spec, false, &w.key);
    if (s == NA_OK)
        s = load(st, prefix, "k_proj.bias", bspec, true, &w.key_bias);
    if (s == NA_OK)
        s = load(st, prefix, "v_proj.weight", spec, false, &w.value);
    if (s == NA_OK)
        s = load(st, prefix, "v_proj.bias", bspec, true, &w.value_bias);
    snprintf(spec, sizeof spec, "embedding, (%s projection)", q);
    if (s == NA_OK)
        s = load(st, prefix, "o_proj.weight", spec, false, &w.output);
    if (s == NA_OK)
        s = load(st, prefix, "o_proj.bias", "embedding", true, &w.output_bias);
    if (s == NA_OK && (na_axis_size(w.query, "projection") != na_axis_size(w.key, "projection") ||
                       na_axis_size(w.query, "embedding") != na_axis_size(w.key, "embedding")))
        s = na__fail(NA_ERR_SHAPE, "na_load_llama_attention: '%s': query %s and key %s "
                                   "disagree on projection or embedding",
                     prefix, na__shape(w.query), na__shape(w.key));
    if (s != NA_OK) {
        na_attention_params_free(&w);
        return s;
    }
    *out = w;
    return NA_OK;
}

/* A view of x at index i of axis `name`, the axis dropped. */
static na_status take(const na_array *x, const char *name, int64_t i, na_array **out)
{
    int d = na_axis_index(x, name);
    na_array *v = na__view_of(x);
    if (!v)
        return NA_ERR_NO_MEMORY;
    v->offset += i * v->stride[d];
    for (int e = d; e + 1 < v->ndim; e++) {
        v->shape[e] = v->shape[e + 1];
        v->stride[e] = v->stride[e + 1];
        v->name[e] = v->name[e + 1];
    }
    v->ndim--;
    *out = v;
    return NA_OK;
}

static na_status split_qkv(na_array *packed, na_array **q, na_array **k, na_array **v)
{
    na_array **outs[3] = {q, k, v};
    na_status s = NA_OK;
    for (int i = 0; i < 3 && s == NA_OK; i++)
        s = take(packed, "qkv", i, outs[i]);
    na_array_free(packed);
    return s;
}

na_status na_load_gpt2_attention(const na_safetensors *st, const char *prefix,
                                 int num_heads, na_attention_params *out)
{
    if (!st || !prefix || !out)
        return na__fail(NA_ERR_ARGUMENT, "na_load_gpt2_attention: NULL argument");
    if (num_heads <= 0)
        return na__fail(NA_ERR_ARGUMENT, "na_load_gpt2_attention: num_heads is %d",
                        num_heads);
    char spec[128], bspec[128], ospec[128];
    snprintf(spec, sizeof spec, "embedding, (qkv:3 heads:%d projection)", num_heads);
    snprintf(bspec, sizeof bspec, "(qkv:3 heads:%d projection)", num_heads);
    snprintf(ospec, sizeof ospec, "(heads:%d projection), embedding", num_heads);
    na_attention_params w = {0};
    na_array *packed = NULL, *packed_bias = NULL;
    na_status s = load(st, prefix, "c_attn.weight", spec, false, &packed);
    if (s == NA_OK)
        s = split_qkv(packed, &w.query, &w.key, &w.value);
    if (s == NA_OK)
        s = load(st, prefix, "c_attn.bias", bspec, true, &packed_bias);
    if (s == NA_OK && packed_bias)
        s = split_qkv(packed_bias, &w.query_bias, &w.key_bias, &w.value_bias);
    if (s == NA_OK)
        s = load(st, prefix, "c_proj.weight", ospec, false, &w.output);
    if (s == NA_OK)
        s = load(st, prefix, "c_proj.bias", "embedding", true, &w.output_bias);
    if (s != NA_OK) {
        na_attention_params_free(&w);
        return s;
    }
    *out = w;
    return NA_OK;
}
