/* Embeddings: one table parameter shared by EmbeddingLookup and
 * EmbeddingDecode (tied embeddings). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/std_internal.h"

static na_status table_new(const na_embedding_options *opt, const char *who,
                           na_param **out)
{
    if (!out || !opt || !opt->vocab_axis || !opt->vocab_axis[0])
        return na__fail(NA_ERR_ARGUMENT, "%s: opt, vocab_axis and out are required", who);
    *out = NULL;
    const char *vocab_axis = opt->vocab_axis;
    int64_t vocab_size = opt->vocab_size;
    int n = opt->n_embedding;
    const na_dim *embedding = opt->embedding;
    if (vocab_size <= 0 || n <= 0 || !embedding || n >= NA_MAX_DIMS)
        return na__fail(NA_ERR_ARGUMENT, "%s: need a positive vocabulary size (got "
                        "%lld) and 1..%d embedding axes (got %d)", who,
                        (long long)vocab_size, NA_MAX_DIMS - 1, n);
    char *label = na__std_label(opt->name, "embeddings", who);
    if (!label)
        return na_last_status();
    na_init def = na_init_variance_scaling(1.0, NA_FAN_OUT, NA_DIST_NORMAL);
    na_dim vocab = {vocab_axis, vocab_size};
    na_array *raw = NULL, *ordered = NULL, *table = NULL;
    na_init_options io = {.init = opt->init ? opt->init : &def,
                          .seed = na_init_seed_for(opt->seed, label),
                          .n_out = n,
                          .out = embedding,
                          .n_parallel = 1,
                          .parallel = &vocab};
    na_status st = na_init_array_ex(&io, &raw);
    /* rows contiguous: {vocab, embedding...} */
    const char *order[NA_MAX_DIMS + 1] = {vocab_axis};
    for (int i = 0; i < n; i++)
        order[i + 1] = embedding[i].name;
    if (st == NA_OK)
        st = na_order_as(raw, order, &ordered);
    if (st == NA_OK)
        st = na_copy(ordered, &table);
    na_array_free(raw);
    na_array_free(ordered);
    if (st == NA_OK && !(*out = na_param_new(label, NA_PARAM, table)))
        st = na_last_status();
    free(label);
    return st == NA_OK ? st : na__fail_in(who, st);
}

na_status na_embedding_table_new(const char *name, const char *vocab_axis,
                                 int64_t vocab_size, int n, const na_dim *embedding,
                                 uint64_t seed, na_param **out)
{
    na_embedding_options o = {.name = name,
                              .vocab_axis = vocab_axis,
                              .vocab_size = vocab_size,
                              .n_embedding = n,
                              .embedding = embedding,
                              .seed = seed};
    return table_new(&o, "na_embedding_table_new", out);
}

na_status na_embedding_table_new_ex(const na_embedding_options *opt, na_param **out)
{
    return table_new(opt, "na_embedding_table_new_ex", out);
}

typedef struct embed_layer {
    na_layer base;
    na_param *table;      /* {vocab, embedding...}                         */
    const char *vocab;    /* interned                                      */
    const char **emb;     /* the table's other axes                        */
} embed_layer;

static embed_layer *as_embed(const na_layer *l)
{
    bool ok = l && (l->type == &na_embedding_lookup_type ||
                    l->type == &na_embedding_decode_type);
    return ok ? (embed_layer *)l : NULL;
}

/* No axis of x may be the vocabulary axis or (when `emb_too`) an
 * embedding axis. */
static na_status check_no_clash(const embed_layer *l, const na_array *x, bool emb_too,
                                const char *who)
{
    for (int d = 0; d < x->ndim; d++) {
        const char *a = x->name[d];
        if (a && (a == l->vocab || (emb_too && na__std_names_has(l->emb, a))))
            return na__fail(NA_ERR_AXIS, "%s: input %s already has axis '%s' of the "
                            "table '%s' %s", who, na__shape(x), a, l->table->label,
                            na__shape(l->table->value));
    }
    return NA_OK;
}

/* ids: {batch, seq} (i32) -> {embedding..., batch, seq} */
static na_status lookup_call(na_layer *self, const na_value *in, const na_side *side,
                             na_value **out)
{
    (void)side;
    embed_layer *l = as_embed(self);
    const char *who = "EmbeddingLookup";
    const na_array *ids = NULL;
    na_status st = na__std_input(in, who, true, &ids);
    if (st == NA_OK && ids->dtype != NA_I32)
        st = na__fail(NA_ERR_DTYPE, "%s: ids %s must be i32", who, na__shape(ids));
    if (st == NA_OK)
        st = check_no_clash(l, ids, true, who);
    na_array *y = NULL;
    if (st == NA_OK)
        st = na_index_by(l->table->value, 1,
                         (na_index[]){NA_GATHER(l->vocab, ids)}, &y);
    return st == NA_OK ? na__std_output(y, out) : st;
}

/* x: {batch, seq, embedding...} -> {batch, seq, vocab} */
static na_status decode_call(na_layer *self, const na_value *in, const na_side *side,
                             na_value **out)
{
    (void)side;
    embed_layer *l = as_embed(self);
    const char *who = "EmbeddingDecode";
    const na_value *v = in;
    const na_array *x = NULL;
    na_status st = na__std_input(v, who, true, &x);
    if (st == NA_OK)
        st = check_no_clash(l, x, false, who);
    if (st == NA_OK)
        st = na__std_require_axes(x, l->emb, who, "embedding axis");
    for (int i = 0; st == NA_OK && l->emb[i]; i++)
        st = na__std_require_size(x, l->emb[i], na_axis_size(l->table->value, l->emb[i]),
                                  who);
    na_array *y = NULL;
    if (st == NA_OK)
        st = na_contract(x, l->table->value, l->emb, &y);
    return st == NA_OK ? na__std_output(y, out) : st;
}

static na_status embed_finish(na_layer *self)
{
    const embed_layer *l = as_embed(self);
    if (!l->table || !l->table->value || !l->vocab || !l->emb)
        return na__fail(NA_ERR_ARGUMENT, "%s: table, vocab_axis and embedding are "
                        "required", self->type->name);
    return NA_OK;
}

static const na_field_desc embed_fields[] = {
    NA_FIELD(embed_layer, table, NA_FIELD_PARAM),
    NA_FIELD_AS("vocab_axis", embed_layer, vocab, NA_FIELD_AXIS, 0),
    NA_FIELD_AS("embedding", embed_layer, emb, NA_FIELD_NAMES, 0),
};

#define EMBED_TYPE(var, type_name, callfn)                                   \
    const na_layer_type var = {                                              \
        .name = type_name,                                                   \
        .call = callfn,                                                      \
        .size = sizeof(embed_layer),                                         \
        .fields = embed_fields,                                              \
        .field_count = NA_FIELD_COUNT(embed_fields),                         \
        .finish = embed_finish,                                              \
    }

EMBED_TYPE(na_embedding_lookup_type, "EmbeddingLookup", lookup_call);
EMBED_TYPE(na_embedding_decode_type, "EmbeddingDecode", decode_call);

static na_status embed_new(const na_layer_type *type, const char *who, na_param *table,
                           const char *vocab_axis, na_layer **out)
{
    if (!out || !table || !table->value || !vocab_axis)
        return na__fail(NA_ERR_ARGUMENT,
                        "%s: table, vocab_axis and out are "
                        "required",
                        who);
    *out = NULL;
    const na_array *t = table->value;
    if (na_axis_index(t, vocab_axis) < 0 || na_positional_count(t) > 0 || t->ndim < 2)
        return na__fail(NA_ERR_AXIS, "%s: table '%s' %s needs the vocabulary axis '%s' "
                        "and at least one more named axis (and no positional axes)",
                        who, table->label, na__shape(t), vocab_axis);
    const char *names[NA_MAX_DIMS + 1] = {0};
    int n = 0;
    for (int d = 0; d < t->ndim; d++)
        if (strcmp(t->name[d], vocab_axis) != 0)
            names[n++] = t->name[d];
    const char **emb = na__std_names_dup(names, who);
    na_layer *made = NULL;
    na_status st = emb ? na_layer_alloc(type, &made) : na_last_status();
    if (st != NA_OK) {
        free(emb);
        return st;
    }
    embed_layer *l = as_embed(made);
    l->table = na_param_retain(table);
    l->vocab = na_intern(vocab_axis);
    l->emb = emb;
    *out = &l->base;
    return NA_OK;
}

na_status na_embedding_lookup_new(na_param *table, const char *vocab_axis, na_layer **out)
{
    return embed_new(&na_embedding_lookup_type, "na_embedding_lookup_new", table,
                     vocab_axis, out);
}

na_status na_embedding_decode_new(na_param *table, const char *vocab_axis, na_layer **out)
{
    return embed_new(&na_embedding_decode_type, "na_embedding_decode_new", table,
                     vocab_axis, out);
}
