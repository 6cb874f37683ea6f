/* safetensors reading and writing, with axis names in the metadata. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/internal.h"
#include "namedarr/safetensors.h"

#define AXES_KEY "namedarr.axes."
#define MAX_HEADER ((uint64_t)100 << 20)

typedef enum file_dtype { FD_F32, FD_F64, FD_I32, FD_BOOL, FD_F16, FD_BF16 } file_dtype;

static const struct {
    const char *tag;
    file_dtype fd;
    size_t size;
    na_dtype dtype; /* what it loads as */
} k_dtypes[] = {
    {"F32", FD_F32, 4, NA_F32}, {"F64", FD_F64, 8, NA_F64},
    {"I32", FD_I32, 4, NA_I32}, {"BOOL", FD_BOOL, 1, NA_BOOL},
    {"F16", FD_F16, 2, NA_F32}, {"BF16", FD_BF16, 2, NA_BF16},
};

typedef struct entry {
    char *label;
    int dtype_index;
    int ndim;
    int64_t shape[NA_MAX_DIMS];
    char *names[NA_MAX_DIMS]; /* NULL = positional */
    uint64_t begin, end;      /* within the data section */
} entry;

struct na_safetensors {
    char *path;
    void *map;
    size_t map_size;
    const unsigned char *data; /* start of the data section */
    uint64_t data_size;
    int count;
    entry *entries;
    cJSON *meta; /* the __metadata__ object (NULL: none) */
};

/* ---- writing --------------------------------------------------------- */

static const char *tag_of(na_dtype dt)
{
    switch (dt) {
    case NA_F32: return "F32";
    case NA_F64: return "F64";
    case NA_I32: return "I32";
    case NA_BOOL: return "BOOL";
    case NA_BF16: return "BF16";
    }
    return "?";
}

static char *axes_string(const na_array *x)
{
    size_t cap = 1;
    for (int d = 0; d < x->ndim; d++)
        cap += (x->name[d] ? strlen(x->name[d]) : 0) + 1;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    s[0] = '\0';
    for (int d = 0; d < x->ndim; d++) {
        if (d)
            strcat(s, ",");
        if (x->name[d])
            strcat(s, x->name[d]);
    }
    return s;
}

static cJSON *header_json(int n, const char *const *labels,
                          const na_array *const *arrays, const na_safetensors_meta *extra)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
    if (!meta)
        goto fail;
    cJSON_AddStringToObject(meta, "format", "namedarr");
    for (int i = 0; extra && i < extra->count; i++)
        if (!cJSON_AddStringToObject(meta, extra->keys[i], extra->values[i]))
            goto fail;
    uint64_t offset = 0;
    for (int i = 0; i < n; i++) {
        const na_array *x = arrays[i];
        uint64_t bytes = (uint64_t)na_size(x) * na_dtype_size(x->dtype);
        cJSON *t = cJSON_AddObjectToObject(root, labels[i]);
        if (!t || !cJSON_AddStringToObject(t, "dtype", tag_of(x->dtype)))
            goto fail;
        cJSON *shape = cJSON_AddArrayToObject(t, "shape");
        cJSON *offs = cJSON_AddArrayToObject(t, "data_offsets");
        if (!shape || !offs)
            goto fail;
        for (int d = 0; d < x->ndim; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)x->shape[d]));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)offset));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(offset + bytes)));
        offset += bytes;
        char *axes = axes_string(x);
        size_t klen = strlen(AXES_KEY) + strlen(labels[i]) + 1;
        char *key = malloc(klen);
        bool ok = axes && key;
        if (ok) {
            snprintf(key, klen, "%s%s", AXES_KEY, labels[i]);
            ok = cJSON_AddStringToObject(meta, key, axes) != NULL;
        }
        free(axes);
        free(key);
        if (!ok)
            goto fail;
    }
    return root;
fail:
    cJSON_Delete(root);
    return NULL;
}

/* Extra metadata: string keys and values, none reserved or repeated. */
static na_status check_meta(const na_safetensors_meta *m)
{
    const char *who = "na_safetensors_write_ex";
    if (!m)
        return NA_OK;
    if (m->count < 0 || (m->count > 0 && (!m->keys || !m->values)))
        return na__fail(NA_ERR_ARGUMENT, "%s: metadata count %d without keys or values",
                        who, m->count);
    for (int i = 0; i < m->count; i++) {
        if (!m->keys[i] || !m->keys[i][0] || !m->values[i])
            return na__fail(NA_ERR_ARGUMENT, "%s: metadata entry %d has no key or value",
                            who, i);
        if (strcmp(m->keys[i], "format") == 0 ||
            strncmp(m->keys[i], AXES_KEY, strlen(AXES_KEY)) == 0)
            return na__fail(NA_ERR_ARGUMENT, "%s: metadata key '%s' is reserved", who,
                            m->keys[i]);
        for (int j = 0; j < i; j++)
            if (strcmp(m->keys[i], m->keys[j]) == 0)
                return na__fail(NA_ERR_ARGUMENT, "%s: metadata key '%s' repeats", who,
                                m->keys[i]);
    }
    return NA_OK;
}

static na_status check_write_args(int n, const char *const *labels,
                                  const na_array *const *arrays)
{
    if (n < 0 || (n > 0 && (!labels || !arrays)))
        return na__fail(NA_ERR_ARGUMENT, "na_safetensors_write: bad arguments");
    for (int i = 0; i < n; i++) {
        if (!labels[i] || !labels[i][0] || !arrays[i])
            return na__fail(NA_ERR_ARGUMENT,
                            "na_safetensors_write: entry %d has no label or array", i);
        if (strcmp(labels[i], "__metadata__") == 0)
            return na__fail(NA_ERR_ARGUMENT,
                            "na_safetensors_write: '__metadata__' is reserved");
        for (int j = 0; j < i; j++)
            if (strcmp(labels[i], labels[j]) == 0)
                return na__fail(NA_ERR_ARGUMENT,
                                "na_safetensors_write: label '%s' repeats", labels[i]);
    }
    return NA_OK;
}

static bool write_all(FILE *f, const void *p, size_t n)
{
    return n == 0 || fwrite(p, 1, n, f) == n;
}

na_status na_safetensors_write(const char *path, int n,
                               const char *const *labels,
                               const na_array *const *arrays)
{
    return na_safetensors_write_ex(path, n, labels, arrays, NULL);
}

na_status na_safetensors_write_ex(const char *path, int n, const char *const *labels,
                                  const na_array *const *arrays,
                                  const na_safetensors_meta *meta)
{
    if (!path)
        return na__fail(NA_ERR_ARGUMENT, "na_safetensors_write: path is NULL");
    na_status st = check_write_args(n, labels, arrays);
    if (st == NA_OK)
        st = check_meta(meta);
    if (st != NA_OK)
        return st;
    cJSON *root = header_json(n, labels, arrays, meta);
    char *json = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!json)
        return na__fail(NA_ERR_NO_MEMORY, "na_safetensors_write: out of memory");
    size_t jlen = strlen(json);
    size_t padded = (jlen + 7) / 8 * 8; /* data starts 8-byte aligned */
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(json);
        return na__fail(NA_ERR_IO, "na_safetensors_write: cannot open '%s': %s",
                        path, strerror(errno));
    }
    unsigned char len8[8];
    for (int b = 0; b < 8; b++)
        len8[b] = (unsigned char)((uint64_t)padded >> (8 * b));
    bool ok = write_all(f, len8, 8) && write_all(f, json, jlen);
    for (size_t i = jlen; ok && i < padded; i++)
        ok = fputc(' ', f) != EOF;
    free(json);
    for (int i = 0; ok && i < n; i++) {
        size_t bytes = (size_t)na_size(arrays[i]) * na_dtype_size(arrays[i]->dtype);
        void *buf = malloc(bytes ? bytes : 1);
        ok = buf && na_copy_to(arrays[i], arrays[i]->dtype, buf) == NA_OK &&
             write_all(f, buf, bytes);
        free(buf);
    }
    if (fclose(f) != 0)
        ok = false;
    if (!ok)
        return na__fail(NA_ERR_IO, "na_safetensors_write: writing '%s' failed", path);
    return NA_OK;
}

/* ---- reading --------------------------------------------------------- */

static void free_entries(na_safetensors *st)
{
    for (int i = 0; i < st->count; i++) {
        free(st->entries[i].label);
        for (int d = 0; d < st->entries[i].ndim; d++)
            free(st->entries[i].names[d]);
    }
    free(st->entries);
}

void na_safetensors_close(na_safetensors *st)
{
    if (!st)
        return;
    free_entries(st);
    cJSON_Delete(st->meta);
    if (st->map)
        munmap(st->map, st->map_size);
    free(st->path);
    free(st);
}

static na_status bad(const na_safetensors *st, const char *label, const char *what)
{
    return na__fail(NA_ERR_FORMAT, "na_safetensors_open: '%s': %s%s%s%s", st->path,
                    label ? "tensor '" : "", label ? label : "", label ? "': " : "",
                    what);
}

static bool as_u64(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9.0e15 ||
        v->valuedouble != (double)(uint64_t)v->valuedouble)
        return false;
    *out = (uint64_t)v->valuedouble;
    return true;
}

static na_status parse_names(na_safetensors *st, entry *e, const char *axes)
{
    const char *p = axes;
    for (int d = 0; d < e->ndim; d++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if ((d + 1 < e->ndim) != (comma != NULL))
            return bad(st, e->label, "axis-name metadata does not match the shape");
        if (len > 0 && p[0] == NA__RESERVED_NAME_BYTE)
            return bad(st, e->label, "an axis name starts with the reserved byte 0x1f");
        if (len > 0) {
            e->names[d] = strndup(p, len);
            if (!e->names[d])
                return na__fail(NA_ERR_NO_MEMORY, "na_safetensors_open: out of memory");
        }
        p = comma ? comma + 1 : p + len;
    }
    if (e->ndim == 0 && axes[0] != '\0')
        return bad(st, e->label, "axis-name metadata does not match the shape");
    return NA_OK;
}

/* The axis-name metadata item of `label` (any length), or NULL. */
static const cJSON *axes_item(const cJSON *meta, const char *label)
{
    for (const cJSON *it = meta->child; it; it = it->next) {
        size_t n = strlen(AXES_KEY);
        if (it->string && strncmp(it->string, AXES_KEY, n) == 0 &&
            strcmp(it->string + n, label) == 0)
            return it;
    }
    return NULL;
}

static na_status parse_entry(na_safetensors *st, const cJSON *t, const cJSON *meta,
                             entry *e)
{
    e->label = strdup(t->string);
    if (!e->label)
        return na__fail(NA_ERR_NO_MEMORY, "na_safetensors_open: out of memory");
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(t, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(t, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs) ||
        cJSON_GetArraySize(offs) != 2)
        return bad(st, e->label, "needs dtype, shape and two data_offsets");
    e->dtype_index = -1;
    for (int i = 0; i < (int)(sizeof k_dtypes / sizeof *k_dtypes); i++)
        if (strcmp(dt->valuestring, k_dtypes[i].tag) == 0)
            e->dtype_index = i;
    if (e->dtype_index < 0)
        return na__fail(NA_ERR_UNSUPPORTED,
                        "na_safetensors_open: '%s': tensor '%s' has dtype %s "
                        "(F32, F64, I32, BOOL, F16, BF16 are read)",
                        st->path, e->label, dt->valuestring);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > NA_MAX_DIMS)
        return bad(st, e->label, "too many dimensions");
    e->ndim = ndim;
    uint64_t count = 1;
    for (int d = 0; d < ndim; d++) {
        uint64_t s;
        if (!as_u64(cJSON_GetArrayItem(shape, d), &s) || s > ((uint64_t)1 << 40))
            return bad(st, e->label, "shape entries must be non-negative integers");
        e->shape[d] = (int64_t)s;
        if (s && count > UINT64_MAX / s)
            return bad(st, e->label, "shape overflows");
        count *= s;
    }
    if (!as_u64(cJSON_GetArrayItem(offs, 0), &e->begin) ||
        !as_u64(cJSON_GetArrayItem(offs, 1), &e->end) || e->begin > e->end ||
        e->end > st->data_size)
        return bad(st, e->label, "data_offsets lie outside the file");
    size_t esize = k_dtypes[e->dtype_index].size;
    if (count > UINT64_MAX / esize || e->end - e->begin != count * esize)
        return bad(st, e->label, "data_offsets do not match dtype and shape");
    const cJSON *axes = meta ? axes_item(meta, e->label) : NULL;
    if (axes && !cJSON_IsString(axes))
        return bad(st, e->label, "axis-name metadata is not a string");
    return axes ? parse_names(st, e, axes->valuestring) : NA_OK;
}

static int by_begin(const void *a, const void *b)
{
    const entry *x = *(const entry *const *)a, *y = *(const entry *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static na_status check_overlap(na_safetensors *st)
{
    entry **order = malloc(sizeof *order * (size_t)(st->count ? st->count : 1));
    if (!order)
        return na__fail(NA_ERR_NO_MEMORY, "na_safetensors_open: out of memory");
    for (int i = 0; i < st->count; i++)
        order[i] = &st->entries[i];
    qsort(order, (size_t)st->count, sizeof *order, by_begin);
    na_status s = NA_OK;
    for (int i = 1; i < st->count && s == NA_OK; i++)
        if (order[i]->begin < order[i - 1]->end && order[i]->begin != order[i]->end)
            s = bad(st, order[i]->label, "data overlaps another tensor");
    free(order);
    return s;
}

static na_status parse_header(na_safetensors *st, const char *json, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return bad(st, NULL, "the header is not a JSON object");
    }
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
    if (meta && !cJSON_IsObject(meta)) {
        cJSON_Delete(root);
        return bad(st, NULL, "__metadata__ is not an object");
    }
    int n = cJSON_GetArraySize(root) - (meta ? 1 : 0);
    st->entries = calloc((size_t)(n > 0 ? n : 1), sizeof *st->entries);
    na_status s = st->entries ? NA_OK
                              : na__fail(NA_ERR_NO_MEMORY, "na_safetensors_open: out of memory");
    const cJSON *t;
    cJSON_ArrayForEach(t, root)
    {
        if (s != NA_OK || t == meta)
            continue;
        if (!cJSON_IsObject(t)) {
            s = bad(st, t->string, "is not an object");
            break;
        }
        s = parse_entry(st, t, meta, &st->entries[st->count++]);
    }
    if (s == NA_OK && meta && !(st->meta = cJSON_Duplicate(meta, 1)))
        s = na__fail(NA_ERR_NO_MEMORY, "na_safetensors_open: out of memory");
    cJSON_Delete(root);
    return s == NA_OK ? check_overlap(st) : s;
}

static na_status map_file(na_safetensors *st)
{
    int fd = open(st->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return na__fail(NA_ERR_IO, "na_safetensors_open: cannot open '%s': %s", st->path,
                        strerror(errno));
    struct stat sb;
    na_status s = NA_OK;
    if (fstat(fd, &sb) != 0) {
        s = na__fail(NA_ERR_IO, "na_safetensors_open: cannot stat '%s': %s", st->path,
                     strerror(errno));
    } else if (S_ISDIR(sb.st_mode)) {
        s = na__fail(NA_ERR_IO, "na_safetensors_open: '%s' is a directory, not a "
                     "safetensors file", st->path);
    } else if (!S_ISREG(sb.st_mode)) {
        s = na__fail(NA_ERR_IO, "na_safetensors_open: '%s' is not a regular file",
                     st->path);
    } else if (sb.st_size < 8) {
        s = bad(st, NULL, "the file is shorter than its 8-byte header length");
    } else {
        st->map_size = (size_t)sb.st_size;
        st->map = mmap(NULL, st->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (st->map == MAP_FAILED) {
            st->map = NULL;
            s = na__fail(NA_ERR_IO, "na_safetensors_open: cannot map '%s': %s", st->path,
                         strerror(errno));
        }
    }
    close(fd);
    return s;
}

na_status na_safetensors_open(const char *path, na_safetensors **out)
{
    if (!path || !out)
        return na__fail(NA_ERR_ARGUMENT, "na_safetensors_open: NULL argument");
    na_safetensors *st = calloc(1, sizeof *st);
    if (!st || !(st->path = strdup(path))) {
        free(st);
        return na__fail(NA_ERR_NO_MEMORY, "na_safetensors_open: out of memory");
    }
    na_status s = map_file(st);
    if (s == NA_OK) {
        const unsigned char *p = st->map;
        uint64_t hlen = 0;
        for (int b = 0; b < 8; b++)
            hlen |= (uint64_t)p[b] << (8 * b);
        if (hlen > MAX_HEADER || hlen > st->map_size - 8) {
            s = bad(st, NULL, "the header length runs past the end of the file");
        } else {
            st->data = p + 8 + hlen;
            st->data_size = st->map_size - 8 - hlen;
            s = parse_header(st, (const char *)p + 8, (size_t)hlen);
        }
    }
    if (s != NA_OK) {
        na_safetensors_close(st);
        return s;
    }
    *out = st;
    return NA_OK;
}

int na_safetensors_count(const na_safetensors *st) { return st ? st->count : 0; }

const char *na_safetensors_metadata(const na_safetensors *st, const char *key)
{
    if (!st || !st->meta || !key)
        return NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(st->meta, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *na_safetensors_label(const na_safetensors *st, int i)
{
    return st && i >= 0 && i < st->count ? st->entries[i].label : NULL;
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp == 0) {
        float v = (float)man * (1.0f / 16777216.0f); /* man * 2^-24 */
        return sign ? -v : v;
    } else {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static void convert_f16(const unsigned char *src, float *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dst[i] = half_to_float((uint16_t)(src[2 * i] | (src[2 * i + 1] << 8)));
}

static const entry *find(const na_safetensors *st, const char *label)
{
    for (int i = 0; i < st->count; i++)
        if (strcmp(st->entries[i].label, label) == 0)
            return &st->entries[i];
    return NULL;
}

na_status na_safetensors_get(const na_safetensors *st, const char *label,
                             na_array **out)
{
    if (!st || !label || !out)
        return na__fail(NA_ERR_ARGUMENT, "na_safetensors_get: NULL argument");
    const entry *e = find(st, label);
    if (!e)
        return na__fail(NA_ERR_NOT_FOUND, "na_safetensors_get: no tensor '%s' in '%s'",
                        label, st->path);
    na_dim dims[NA_MAX_DIMS];
    for (int d = 0; d < e->ndim; d++)
        dims[d] = (na_dim){e->names[d], e->shape[d]};
    na_array *x;
    na_status s = na__new("na_safetensors_get", k_dtypes[e->dtype_index].dtype, e->ndim,
                          dims, &x);
    if (s != NA_OK)
        return s;
    const unsigned char *src = st->data + e->begin;
    file_dtype fd = k_dtypes[e->dtype_index].fd;
    if (fd == FD_F16)
        convert_f16(src, na_data(x), na_size(x));
    else
        memcpy(na_data(x), src, (size_t)(e->end - e->begin));
    if (fd == FD_BOOL) { /* normalise bytes to 0/1 */
        unsigned char *b = na_data(x);
        for (int64_t i = 0; i < na_size(x); i++)
            b[i] = b[i] != 0;
    }
    *out = x;
    return NA_OK;
}

/* A view over the mapped file; 16-bit floats (f16) and bool tensors, and
 * misaligned ones, come as a converted copy instead. */
na_status na_safetensors_view(const na_safetensors *st, const char *label, na_array **out)
{
    if (!st || !label || !out)
        return na__fail(NA_ERR_ARGUMENT, "na_safetensors_view: NULL argument");
    const entry *e = find(st, label);
    if (!e)
        return na__fail(NA_ERR_NOT_FOUND, "na_safetensors_view: no tensor '%s' in '%s'",
                        label, st->path);
    file_dtype fd = k_dtypes[e->dtype_index].fd;
    na_dtype dt = k_dtypes[e->dtype_index].dtype;
    const unsigned char *src = st->data + e->begin;
    if (fd == FD_F16 || fd == FD_BOOL || (uintptr_t)src % na_dtype_size(dt) != 0)
        return na_safetensors_get(st, label, out);
    na_dim dims[NA_MAX_DIMS];
    for (int d = 0; d < e->ndim; d++)
        dims[d] = (na_dim){e->names[d], e->shape[d]};
    return na_wrap(dt, e->ndim, dims, (void *)src, NULL, NULL, out);
}

/* A block of a tensor: `ranges` (NA_RANGE entries by axis name, step 1)
 * index a view over the mapped file, and only the block is copied, so
 * only its pages are read. */
na_status na_safetensors_get_block(const na_safetensors *st, const char *label, int n,
                                   const na_index *ranges, na_array **out)
{
    const char *who = "na_safetensors_get_block";
    if (!st || !label || !out || n < 0 || (n > 0 && !ranges))
        return na__fail(NA_ERR_ARGUMENT, "%s: NULL argument or negative count", who);
    for (int i = 0; i < n; i++)
        if (ranges[i].kind != NA_INDEX_RANGE || ranges[i].step != 1 || !ranges[i].axis)
            return na__fail(NA_ERR_ARGUMENT, "%s: entry %d of the index for '%s' is not a "
                            "named range with step 1", who, i, label);
    if (!find(st, label))
        return na__fail(NA_ERR_NOT_FOUND, "%s: no tensor '%s' in '%s'", who, label, st->path);
    na_array *whole = NULL, *view = NULL;
    na_status s = na_safetensors_view(st, label, &whole);
    if (s == NA_OK)
        s = na_index_by(whole, n, ranges, &view);
    if (s == NA_OK)
        s = na_copy(view, out);
    if (s != NA_OK)
        na__fail_append(" (%s: '%s' in '%s')", who, label, st->path);
    na_array_free(view);
    na_array_free(whole);
    return s;
}

/* ---- models ---------------------------------------------------------- */

typedef struct param_list {
    na_param **items;
    int count, cap;
} param_list;

static bool list_has(const param_list *l, const na_param *p)
{
    for (int i = 0; i < l->count; i++)
        if (l->items[i] == p)
            return true;
    return false;
}

static na_status collect(const na_layer *layer, param_list *l)
{
    for (int i = 0; i < na_layer_param_count(layer); i++) {
        na_param *p = na_layer_param(layer, i);
        if (!p || p->kind != NA_PARAM || list_has(l, p))
            continue;
        if (l->count == l->cap) {
            int cap = l->cap ? l->cap * 2 : 16;
            na_param **items = realloc(l->items, sizeof *items * (size_t)cap);
            if (!items)
                return na__fail(NA_ERR_NO_MEMORY, "safetensors: out of memory");
            l->items = items;
            l->cap = cap;
        }
        l->items[l->count++] = p;
    }
    for (int i = 0; i < na_layer_child_count(layer); i++) {
        const na_layer *c = na_layer_child(layer, i);
        na_status s = c ? collect(c, l) : NA_OK;
        if (s != NA_OK)
            return s;
    }
    return NA_OK;
}

na_status na_safetensors_save_model(na_layer *model, const char *path)
{
    if (!model || !path)
        return na__fail(NA_ERR_ARGUMENT, "na_safetensors_save_model: NULL argument");
    param_list l = {0};
    na_status s = collect(model, &l);
    const char **labels = malloc(sizeof *labels * (size_t)(l.count + 1));
    const na_array **arrays = malloc(sizeof *arrays * (size_t)(l.count + 1));
    if (s == NA_OK && (!labels || !arrays))
        s = na__fail(NA_ERR_NO_MEMORY, "na_safetensors_save_model: out of memory");
    for (int i = 0; s == NA_OK && i < l.count; i++) {
        labels[i] = l.items[i]->label;
        arrays[i] = l.items[i]->value;
    }
    if (s == NA_OK)
        s = na_safetensors_write(path, l.count, labels, arrays);
    free(labels);
    free(arrays);
    free(l.items);
    return s;
}

/* The file's array for parameter p, checked against p's shape. Arrays saved
 * without axis names take p's names when their sizes match p's dim order. */
static na_status load_one(const na_safetensors *st, const na_param *p, na_array **out)
{
    na_array *x;
    na_status s = na_safetensors_get(st, p->label, &x);
    if (s != NA_OK)
        return s;
    const na_array *want = p->value;
    if (na_named_count(x) == 0 && x->ndim == want->ndim) {
        bool sizes_match = true;
        for (int d = 0; d < x->ndim; d++)
            sizes_match &= x->shape[d] == want->shape[d];
        for (int d = 0; sizes_match && d < x->ndim; d++)
            x->name[d] = want->name[d];
    }
    if (x->dtype != want->dtype || !na_same_shape(x, want)) {
        s = na__fail(NA_ERR_SHAPE,
                     "na_safetensors_load_model: parameter '%s' is %s in the model "
                     "but %s in '%s'",
                     p->label, na__shape(want), na__shape(x), st->path);
        na_array_free(x);
        return s;
    }
    *out = x;
    return NA_OK;
}

static na_status check_extra(const na_safetensors *st, const param_list *l)
{
    for (int i = 0; i < st->count; i++) {
        bool known = false;
        for (int j = 0; j < l->count && !known; j++)
            known = strcmp(l->items[j]->label, st->entries[i].label) == 0;
        if (!known)
            return na__fail(NA_ERR_NOT_FOUND,
                            "na_safetensors_load_model: '%s' has tensor '%s', which "
                            "the model has no parameter for",
                            st->path, st->entries[i].label);
    }
    return NA_OK;
}

na_status na_safetensors_load_model(na_layer *model, const char *path)
{
    if (!model || !path)
        return na__fail(NA_ERR_ARGUMENT, "na_safetensors_load_model: NULL argument");
    na_safetensors *st = NULL;
    param_list l = {0};
    na_array **loaded = NULL;
    na_status s = na_safetensors_open(path, &st);
    if (s == NA_OK)
        s = collect(model, &l);
    if (s == NA_OK)
        s = check_extra(st, &l);
    if (s == NA_OK && !(loaded = calloc((size_t)(l.count + 1), sizeof *loaded)))
        s = na__fail(NA_ERR_NO_MEMORY, "na_safetensors_load_model: out of memory");
    for (int i = 0; s == NA_OK && i < l.count; i++) {
        if (!find(st, l.items[i]->label))
            s = na__fail(NA_ERR_NOT_FOUND,
                         "na_safetensors_load_model: parameter '%s' (%s) is missing "
                         "from '%s'",
                         l.items[i]->label, na__shape(l.items[i]->value), path);
        else
            s = load_one(st, l.items[i], &loaded[i]);
    }
    for (int i = 0; i < l.count && loaded; i++) {
        if (s == NA_OK)
            na_param_set_value(l.items[i], loaded[i]);
        else
            na_array_free(loaded[i]);
    }
    free(loaded);
    free(l.items);
    na_safetensors_close(st);
    return s;
}
