/* The HTML view: escaping, heatmap counts, statistics against plain loops,
 * downsampling and slicing notes, balanced tags, folding, error paths. */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include <namedarr/combinators.h>
#include <namedarr/layer.h>
#include <namedarr/print.h>
#include <namedarr/tree.h>

#include "support.h"

/* Heatmap cells (the legend's bar is wider). */
#define CELL "width=\"1\" height=\"1\" fill="

/* ---- a leaf with a hostile name, field and labels ------------------------ */

static void odd_describe(const na_layer *self, na_fields *f)
{
    (void)self;
    na_fields_str(f, "note", "</details><script>alert(1)</script>");
    na_fields_names(f, "axes", NA_NAMES("seq", "heads"));
}

static const na_layer_type odd_type = {"Odd<T>&\"x\"", ts_leaf_call,
                                       .size = sizeof(ts_leaf), .fields = ts_leaf_fields,
                                       .field_count = TS_LEAF_FIELD_COUNT,
                                       .describe = odd_describe};

static na_layer *odd(na_param *a, na_param *b) { return ts_leaf_new(&odd_type, a, b); }

/* small {rows:2, cols:3} = 1..6; attn {heads:3, seq:4, kv_seq:5} random.
 * Model: Sequential(Odd(small, attn), NamedGroup("g<1>", [Odd(small)])):
 * `small` is shared. */
static na_array *small_values(void)
{
    na_array *x = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_F32, NA_DIMS({"rows", 2}, {"cols", 3}),
                               (float[]){1, 2, 3, 4, 5, 6}, &x));
    return x;
}

static na_layer *model(na_array **attn_out)
{
    na_param *small = na_param_new("w<1>&'q'", NA_PARAM, small_values());
    na_array *a = ts_random(NA_F32, NA_DIMS({"heads", 3}, {"seq", 4}, {"kv_seq", 5}), 11);
    if (attn_out)
        NA_OK_OR_FAIL(na_array_ref(a, attn_out));
    na_param *attn = na_param_new("attn", NA_PARAM, a);
    na_layer *g = NULL, *m = NULL;
    NA_OK_OR_FAIL(na_named_group_new("g<1>", NA_LAYERS(odd(na_param_retain(small), NULL)),
                                     &g));
    NA_OK_OR_FAIL(na_sequential_new(NA_LAYERS(odd(small, attn), g), &m));
    return m;
}

static char *html(const na_layer *root, const na_html_options *o)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert(f);
    NA_OK_OR_FAIL(na_layer_write_html(root, o, f));
    fclose(f);
    return buf;
}

static int count(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Occurrences of `needle` between `from` and the next `until` (or the end). */
static int count_in(const char *s, const char *from, const char *until,
                    const char *needle)
{
    const char *a = strstr(s, from);
    cr_assert(a, "no \"%s\" in the page", from);
    const char *b = strstr(a + strlen(from), until);
    size_t n = b ? (size_t)(b - a) : strlen(a);
    char *part = strndup(a, n);
    int c = count(part, needle);
    free(part);
    return c;
}

/* ---- balanced tags ----------------------------------------------------- */

static bool is_void(const char *name)
{
    static const char *const v[] = {"meta", "br", "hr", "img", "input", "link", NULL};
    for (int i = 0; v[i]; i++)
        if (strcmp(name, v[i]) == 0)
            return true;
    return false;
}

/* Every element closed in order; returns an explanation or NULL. */
static const char *check_balanced(const char *s, char *why, size_t cap)
{
    char stack[256][16];
    int depth = 0;
    for (const char *p = strchr(s, '<'); p; p = strchr(p + 1, '<')) {
        if (p[1] == '!')
            continue;
        bool closing = p[1] == '/';
        const char *n = p + 1 + closing;
        size_t len = strcspn(n, " \t\n/>");
        char name[16] = "";
        snprintf(name, sizeof name, "%.*s", (int)(len < 15 ? len : 15), n);
        const char *end = strchr(p, '>');
        if (!end || len == 0) {
            snprintf(why, cap, "broken tag at offset %ld", (long)(p - s));
            return why;
        }
        if (closing) {
            if (depth == 0 || strcmp(stack[depth - 1], name) != 0) {
                snprintf(why, cap, "</%s> closes <%s> at offset %ld", name,
                         depth ? stack[depth - 1] : "(nothing)", (long)(p - s));
                return why;
            }
            depth--;
        } else if (end[-1] != '/' && !is_void(name)) {
            if (depth == 256) {
                snprintf(why, cap, "nesting too deep");
                return why;
            }
            snprintf(stack[depth++], 16, "%s", name);
            if (strcmp(name, "style") == 0 || strcmp(name, "title") == 0) {
                const char *close = strstr(end, strcmp(name, "style") ? "</title>"
                                                                      : "</style>");
                if (!close) {
                    snprintf(why, cap, "<%s> never closed", name);
                    return why;
                }
                p = close - 1;
            }
        }
        p = end;
    }
    if (depth) {
        snprintf(why, cap, "<%s> left open", stack[depth - 1]);
        return why;
    }
    return NULL;
}

/* ---- statistics --------------------------------------------------------- */

typedef struct stats {
    double count, mean, std, min, max;
} stats;

/* The statistics table that follows the first `anchor` in the page. */
static stats page_stats(const char *s, const char *anchor)
{
    const char *a = strstr(s, anchor);
    cr_assert(a, "no \"%s\"", anchor);
    const char *t = strstr(a, "<table class=\"stats\"");
    cr_assert(t);
    stats r;
    cr_assert_eq(sscanf(t, "<table class=\"stats\" data-count=\"%lf\" data-mean=\"%lf\" "
                        "data-std=\"%lf\" data-min=\"%lf\" data-max=\"%lf\"", &r.count,
                        &r.mean, &r.std, &r.min, &r.max), 5, "%.200s", t);
    return r;
}

static stats loop_stats(const na_array *x)
{
    int64_t n = na_size(x);
    double *v = malloc((size_t)n * sizeof *v);
    NA_OK_OR_FAIL(na_copy_to(x, NA_F64, v));
    stats s = {(double)n, 0, 0, v[0], v[0]};
    for (int64_t i = 0; i < n; i++) {
        s.mean += v[i] / (double)n;
        s.min = v[i] < s.min ? v[i] : s.min;
        s.max = v[i] > s.max ? v[i] : s.max;
    }
    for (int64_t i = 0; i < n; i++)
        s.std += (v[i] - s.mean) * (v[i] - s.mean) / (double)n;
    s.std = sqrt(s.std);
    free(v);
    return s;
}

static void expect_stats(stats got, stats want)
{
    cr_assert_eq(got.count, want.count);
    cr_assert_float_eq(got.mean, want.mean, 1e-7 + 1e-6 * fabs(want.mean));
    cr_assert_float_eq(got.std, want.std, 1e-7 + 1e-6 * fabs(want.std));
    cr_assert_float_eq(got.min, want.min, 1e-7);
    cr_assert_float_eq(got.max, want.max, 1e-7);
}

/* ---- tests ---------------------------------------------------------------- */

Test(html, page_escapes_every_label)
{
    na_layer *m = model(NULL);
    na_html_options o = {.title = "<my model> & co"};
    char *s = html(m, &o);
    cr_assert(strncmp(s, "<!DOCTYPE html>", 15) == 0);
    cr_assert(strstr(s, "<title>&lt;my model&gt; &amp; co</title>"));
    cr_assert(strstr(s, "Odd&lt;T&gt;&amp;&quot;x&quot;"));
    cr_assert(strstr(s, "&quot;&lt;/details&gt;&lt;script&gt;alert(1)&lt;/script&gt;&quot;"));
    cr_assert(strstr(s, "w&lt;1&gt;&amp;&#39;q&#39;"));
    cr_assert(strstr(s, "name=<span class=\"v-str\">&quot;g&lt;1&gt;&quot;</span>"));
    cr_assert_null(strstr(s, "<script"));
    cr_assert_null(strstr(s, "Odd<T>"));
    cr_assert_null(strstr(s, "w<1>"));
    /* Self-contained: nothing fetched from anywhere. */
    cr_assert_null(strstr(s, "http://"));
    cr_assert_null(strstr(s, "https://"));
    cr_assert_null(strstr(s, " src="));
    cr_assert_null(strstr(s, "<link"));
    char why[160];
    cr_assert_null(check_balanced(s, why, sizeof why), "%s", why);
    free(s);
    na_layer_free(m);
}

Test(html, heatmaps_per_parameter_and_shared_drawn_once)
{
    na_layer *m = model(NULL);
    char *s = html(m, NULL);
    /* small: one 2x3 heatmap (drawn once though used twice); attn
     * {heads:3, seq:4, kv_seq:5}: one seq x kv_seq heatmap per head. */
    cr_assert_eq(count(s, "<svg class=\"heatmap\""), 4, "%d", count(s, "<svg class=\"heatmap\""));
    cr_assert_eq(count(s, "<svg class=\"legend\""), 2);
    cr_assert_eq(count(s, CELL), 6 + 3 * 20);
    cr_assert_eq(count(s, "<figcaption>heads="), 3);
    cr_assert(strstr(s, "<figcaption>heads=2</figcaption>"));
    cr_assert_eq(count(s, "<details class=\"param\""), 2);
    cr_assert_eq(count(s, "drawn above</a>"), 1);
    cr_assert_eq(count(s, "<span class=\"shared\">shared</span>"), 2);
    cr_assert(strstr(s, "# total: 4 layers, 66 params (1 shared, counted once)"));
    /* Cell tooltips carry the indices and the value. */
    cr_assert(strstr(s, "<title>rows=1, cols=2: 6</title>"), "%s", s);
    cr_assert(strstr(s, "fill=\"#fde725\"><title>rows=1, cols=2: 6</title>"));
    cr_assert(strstr(s, "fill=\"#440154\"><title>rows=0, cols=0: 1</title>"));
    /* Axis names label the pictures. */
    cr_assert(strstr(s, ">kv_seq &#8594;</text>"));
    cr_assert(strstr(s, "rotate(-90)\" text-anchor=\"middle\">&#8592; seq</text>"));
    free(s);
    na_layer_free(m);
}

Test(html, statistics_match_plain_loops)
{
    na_array *attn = NULL;
    na_layer *m = model(&attn);
    char *s = html(m, NULL);
    na_array *small = small_values();
    expect_stats(page_stats(s, "w&lt;1&gt;"), loop_stats(small));
    expect_stats(page_stats(s, "&quot;attn&quot;"), loop_stats(attn));
    stats st = page_stats(s, "w&lt;1&gt;");
    cr_assert_float_eq(st.mean, 3.5, 1e-12);
    cr_assert_float_eq(st.std, sqrt(35.0 / 12.0), 1e-8);
    free(s);
    na_array_free(small);
    na_array_free(attn);
    na_layer_free(m);
}

Test(html, extra_arrays_sliced_over_chosen_axes)
{
    /* Attention weights in an awkward dim order and strided memory. */
    na_array *w0 = ts_random(NA_F32, NA_DIMS({"kv_seq", 4}, {"batch", 2}, {"seq", 3},
                                             {"heads", 2}), 5);
    na_array *w = ts_strided_copy(w0);
    na_html_array extra[] = {{.label = "weights <b>", .value = w, .rows = "seq",
                              .cols = "kv_seq"}};
    na_html_options o = {.n_arrays = 1, .arrays = extra};
    char *s = html(NULL, &o);
    cr_assert(strstr(s, "<h3>weights &lt;b&gt;</h3>"));
    cr_assert_eq(count(s, "<svg class=\"heatmap\""), 4);
    cr_assert_eq(count(s, CELL), 2 * 2 * 3 * 4);
    cr_assert(strstr(s, "<figcaption>batch=1, heads=0</figcaption>"));
    cr_assert_null(strstr(s, "Layer tree"));
    expect_stats(page_stats(s, "weights"), loop_stats(w0));
    /* Cell (batch=1, heads=0, seq=2, kv_seq=3) says its value. */
    char want[128];
    snprintf(want, sizeof want, "<title>seq=2, kv_seq=3: %.5g</title>",
             ts_at(w0, 4, NA_NAMES("batch", "heads", "seq", "kv_seq"),
                   (int64_t[]){1, 0, 2, 3}));
    cr_assert(strstr(s, want), "no %s", want);
    char why[160];
    cr_assert_null(check_balanced(s, why, sizeof why), "%s", why);
    free(s);
    na_array_free(w);
    na_array_free(w0);
}

Test(html, large_arrays_shrink_to_block_means_with_a_note)
{
    na_array *x = ts_random(NA_F64, NA_DIMS({"a", 100}, {"b", 7}), 3);
    na_array *many = ts_random(NA_F32, NA_DIMS({"n", 20}, {"p", 2}, {"q", 3}), 4);
    na_html_array extra[] = {{.label = "big", .value = x},
                             {.label = "many", .value = many, .rows = "p", .cols = "q"}};
    na_html_options o = {.n_arrays = 2, .arrays = extra, .max_side = 10, .max_slices = 5};
    char *s = html(NULL, &o);
    cr_assert(strstr(s, "shrunk to block means: a 100 &#8594; 10 rows</p>"), "%s", s);
    cr_assert_eq(count_in(s, "<h3>big", "<h3>", CELL), 70);
    cr_assert_eq(count_in(s, "<h3>big", "<h3>", ">block means</text>"), 1);
    cr_assert_eq(count_in(s, "<h3>many", "</section>", ">block means</text>"), 0);
    double mean = 0;
    for (int64_t i = 0; i < 10; i++)
        mean += ts_at(x, 2, NA_NAMES("a", "b"), (int64_t[]){i, 0}) / 10;
    char want[96];
    snprintf(want, sizeof want, "<title>a=0..9, b=0: mean %.5g</title>", mean);
    cr_assert(strstr(s, want), "no %s", want);
    /* Statistics cover every element, not the shrunk picture. */
    expect_stats(page_stats(s, "<h3>big"), loop_stats(x));
    cr_assert(strstr(s, "5 of 20 slices shown (over n)"));
    cr_assert_eq(count_in(s, "<h3>many", "</section>", "<svg class=\"heatmap\""), 5);
    free(s);
    na_array_free(x);
    na_array_free(many);
}

Test(html, odd_arrays_scalars_ints_bools_nan_empty)
{
    na_array *scalar = NULL, *ids = NULL, *mask = NULL, *nan = NULL, *empty = NULL,
             *pos = NULL, *flat = NULL;
    /* Default axes: the two largest (a and c), one slice per b. */
    na_array *w3 = ts_random(NA_F32, NA_DIMS({"a", 6}, {"b", 2}, {"c", 5}), 8);
    NA_OK_OR_FAIL(na_scalar(NA_F32, 2.5, &scalar));
    NA_OK_OR_FAIL(na_full(NA_F32, NA_DIMS({"c", 3}), 2.5, &flat));
    NA_OK_OR_FAIL(na_arange("vocab", 6, NA_I32, &ids));
    NA_OK_OR_FAIL(na_from_data(NA_BOOL, NA_DIMS({"q", 2}, {"k", 2}),
                               (bool[]){true, false, true, true}, &mask));
    NA_OK_OR_FAIL(na_from_data(NA_F32, NA_DIMS({"x", 3}), (float[]){1, NAN, 3}, &nan));
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"x", 0}, {"y", 2}), &empty));
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"seq", 2}, {NULL, 3}), &pos));
    na_html_array extra[] = {{.label = "scalar", .value = scalar},
                             {.label = "ids", .value = ids},
                             {.label = "mask", .value = mask},
                             {.label = "nan", .value = nan},
                             {.label = "empty", .value = empty},
                             {.label = "pos", .value = pos},
                             {.label = "flat", .value = flat},
                             {.label = "w3", .value = w3}};
    na_html_options o = {.n_arrays = 8, .arrays = extra};
    char *s = html(NULL, &o);
    stats st = page_stats(s, "<h3>ids");
    cr_assert_float_eq(st.mean, 2.5, 1e-12);
    cr_assert_float_eq(st.max, 5, 1e-12);
    cr_assert_float_eq(page_stats(s, "<h3>mask").mean, 0.75, 1e-12);
    st = page_stats(s, "<h3>nan");
    cr_assert_float_eq(st.mean, 2, 1e-12);
    cr_assert(strstr(s, "1 non-finite value (drawn grey"));
    cr_assert(strstr(s, "fill=\"#9a9a9a\"><title>x=1: nan</title>"));
    cr_assert(strstr(s, "empty array: nothing to draw"));
    cr_assert(strstr(s, "f32[seq:2 | 3]"));
    cr_assert(strstr(s, ">#0 &#8594;</text>"), "positional axes are labelled #k");
    cr_assert_eq(count_in(s, "<h3>scalar", "<h3>", "<svg class=\"heatmap\""), 0);
    cr_assert_float_eq(page_stats(s, "<h3>scalar").mean, 2.5, 1e-12);
    cr_assert_eq(count_in(s, "<h3>flat", "</section>", "2.5 (all)</text>"), 1);
    cr_assert_eq(count_in(s, "<h3>w3", "</section>", "<figcaption>b="), 2);
    cr_assert_eq(count_in(s, "<h3>w3", "</section>", "<title>a=5, c=4: "), 2);
    char why[160];
    cr_assert_null(check_balanced(s, why, sizeof why), "%s", why);
    free(s);
    na_array_free(scalar);
    na_array_free(ids);
    na_array_free(mask);
    na_array_free(nan);
    na_array_free(empty);
    na_array_free(pos);
    na_array_free(flat);
    na_array_free(w3);
}

Test(html, captured_values_arrays_and_tuples)
{
    na_layer *l = odd(NULL, NULL);
    na_capture *cap = NULL;
    NA_OK_OR_FAIL(na_capture_new(&cap));
    NA_OK_OR_FAIL(na_capture_add(cap, l, "act<1>"));
    na_array *a = ts_random(NA_F32, NA_DIMS({"seq", 3}, {"kv_seq", 3}), 1);
    na_array *b = ts_random(NA_F32, NA_DIMS({"seq", 2}), 2);
    na_value *in = na_value_tuple(2, (na_value *[]){na_value_ref_array(a),
                                                    na_value_ref_array(b)});
    na_value *out = NULL;
    NA_OK_OR_FAIL(na_call_capturing(l, in, NULL, cap, &out));
    na_html_options o = {.capture = cap, .hide_heatmaps = true};
    char *s = html(l, &o);
    cr_assert(strstr(s, "<h3>act&lt;1&gt;[0]</h3>"));
    cr_assert(strstr(s, "<h3>act&lt;1&gt;[1]</h3>"));
    cr_assert_eq(count(s, "<svg class=\"heatmap\""), 0);
    expect_stats(page_stats(s, "act&lt;1&gt;[1]"), loop_stats(b));
    free(s);
    na_value_free(in);
    na_value_free(out);
    na_array_free(a);
    na_array_free(b);
    na_capture_free(cap);
    na_layer_free(l);
}

Test(html, folding_depth_and_open_state)
{
    na_layer *m = model(NULL);
    na_html_options o = {.max_depth = 1};
    char *s = html(m, &o);
    cr_assert(strstr(s, "<div class=\"fold\">&#8230; 3 layers, 66 params folded</div>"),
              "%s", s);
    cr_assert_eq(count(s, "<svg class=\"heatmap\""), 0);
    free(s);
    o = (na_html_options){.open_depth = 1, .open_params = true};
    s = html(m, &o);
    cr_assert_eq(count(s, "<details class=\"layer\" open>"), 1);
    cr_assert_eq(count(s, "<details class=\"layer\">"), 3);
    cr_assert_eq(count(s, "<details class=\"param\" id=\"na-p"), 2);
    cr_assert_eq(count(s, "\" open><summary><span class=\"kind\">"), 2);
    free(s);
    na_layer_free(m);
}

Test(html, page_cell_budget)
{
    na_layer *m = model(NULL);
    /* small (6 cells) fits in 10; attn (3 x 20 cells) does not. */
    na_html_options o = {.max_page_cells = 10};
    char *s = html(m, &o);
    cr_assert_eq(count(s, "<svg class=\"heatmap\""), 1);
    cr_assert_eq(count(s, CELL), 6);
    cr_assert(strstr(s, "no heatmap: its 60 cells would pass the page's budget of 10 "
                        "(max_page_cells)"));
    char *full = html(m, NULL); /* statistics are there either way */
    expect_stats(page_stats(s, "&quot;attn&quot;"), page_stats(full, "&quot;attn&quot;"));
    free(full);
    free(s);
    na_layer_free(m);
}

Test(html, save_to_a_file)
{
    na_layer *m = model(NULL);
    char path[] = "/tmp/namedarr_html_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    NA_OK_OR_FAIL(na_layer_save_html(m, NULL, path));
    FILE *f = fopen(path, "r");
    char head[16] = "";
    cr_assert(fgets(head, sizeof head, f));
    cr_assert_str_eq(head, "<!DOCTYPE html>");
    fclose(f);
    remove(path);
    NA_EXPECT_FAIL(na_layer_save_html(m, NULL, "/nonexistent-dir/x.html"), NA_ERR_IO,
                   "na_layer_save_html: cannot open '/nonexistent-dir/x.html'");
    NA_EXPECT_FAIL(na_layer_save_html(m, NULL, NULL), NA_ERR_ARGUMENT, "path is NULL");
    na_layer_free(m);
}

Test(html, errors_write_nothing)
{
    na_layer *m = model(NULL);
    na_array *x = ts_random(NA_F32, NA_DIMS({"seq", 3}, {"heads", 2}), 1);
    FILE *f = tmpfile();
    NA_EXPECT_FAIL(na_layer_write_html(m, NULL, NULL), NA_ERR_ARGUMENT,
                   "na_layer_write_html: the stream is NULL");
    NA_EXPECT_FAIL(na_layer_write_html(NULL, NULL, f), NA_ERR_ARGUMENT,
                   "nothing to show");
    NA_EXPECT_FAIL(na_layer_write_html(m, &(na_html_options){.max_side = 1}, f),
                   NA_ERR_ARGUMENT, "max_side 1 is out of range");
    NA_EXPECT_FAIL(na_layer_write_html(m, &(na_html_options){.max_slices = -2}, f),
                   NA_ERR_ARGUMENT, "max_slices -2 is out of range");
    NA_EXPECT_FAIL(na_layer_write_html(m, &(na_html_options){.max_page_cells = -5}, f),
                   NA_ERR_ARGUMENT, "max_page_cells -5 is negative");
    NA_EXPECT_FAIL(na_layer_write_html(m, &(na_html_options){.max_depth = -1}, f),
                   NA_ERR_ARGUMENT, "max_depth -1");
    NA_EXPECT_FAIL(na_layer_write_html(m, &(na_html_options){.n_arrays = 1}, f),
                   NA_ERR_ARGUMENT, "n_arrays is 1 but arrays is NULL");
    na_html_array bad[] = {{.label = "attn", .value = x, .rows = "seq", .cols = "kv_seq"}};
    NA_EXPECT_FAIL(na_layer_write_html(m, &(na_html_options){.n_arrays = 1,
                                                            .arrays = bad}, f),
                   NA_ERR_AXIS, "na_layer_write_html: array 'attn' f32[seq:3, heads:2] "
                   "has no axis 'kv_seq' (asked for as cols)");
    bad[0].cols = "seq";
    NA_EXPECT_FAIL(na_layer_write_html(m, &(na_html_options){.n_arrays = 1,
                                                            .arrays = bad}, f),
                   NA_ERR_AXIS, "array 'attn': rows and cols are both 'seq'");
    bad[0].value = NULL;
    NA_EXPECT_FAIL(na_layer_write_html(m, &(na_html_options){.n_arrays = 1,
                                                            .arrays = bad}, f),
                   NA_ERR_ARGUMENT, "arrays[0] ('attn') has no value");
    cr_assert_eq(ftell(f), 0, "a failed call wrote %ld bytes", ftell(f));
    fclose(f);
    FILE *full = fopen("/dev/full", "w");
    if (full) {
        NA_EXPECT_FAIL(na_layer_write_html(m, NULL, full), NA_ERR_IO,
                       "na_layer_write_html: write error");
        fclose(full);
    }
    na_array_free(x);
    na_layer_free(m);
}

/* Index labels (the prompt's tokens on attention weights): beside each row,
 * above each column, in the tooltips; escaped, cut to 10 characters,
 * ill-formed UTF-8 replaced; not drawn on block means; a wrong count fails. */
Test(html, index_labels_name_rows_and_columns)
{
    na_array *w = ts_random(NA_F32, NA_DIMS({"seq", 4}, {"kv_seq", 4}), 8);
    const char *tokens[] = {"<s>", "a&b", "na\xc3\xafve_long_token", "\xff\xfe", NULL};
    na_html_array extra[] = {{.label = "w", .value = w, .rows = "seq", .cols = "kv_seq",
                              .row_labels = tokens, .col_labels = tokens}};
    na_html_options o = {.n_arrays = 1, .arrays = extra};
    char *s = html(NULL, &o);
    cr_expect_eq(count(s, "class=\"tick\""), 8);
    cr_expect_eq(count(s, ">&lt;s&gt;</text>"), 2, "the row and the column label");
    cr_expect_eq(count(s, ">a&amp;b</text>"), 2);
    cr_expect_eq(count(s, ">na\xc3\xafve_long&#8230;</text>"), 2, "10 characters, then ...");
    cr_expect_eq(count(s, ">&#xFFFD;&#xFFFD;</text>"), 2, "ill-formed bytes replaced");
    cr_expect_null(strstr(s, "\xff"));
    char want[160];
    snprintf(want, sizeof want, "<title>seq=0 (&lt;s&gt;), kv_seq=1 (a&amp;b): %.5g</title>",
             ts_at(w, 2, NA_NAMES("seq", "kv_seq"), (int64_t[]){0, 1}));
    cr_expect(strstr(s, want), "no %s", want);
    char why[160];
    cr_expect_null(check_balanced(s, why, sizeof why), "%s", why);
    free(s);
    /* shrunk to block means: indices, no labels */
    o.max_side = 2;
    s = html(NULL, &o);
    cr_expect_eq(count(s, "class=\"tick\""), 0);
    cr_expect(strstr(s, "shrunk to block means"));
    free(s);
    na_array_free(w);
}

Test(html, index_labels_must_match_the_axis)
{
    na_array *w = ts_random(NA_F32, NA_DIMS({"seq", 4}, {"kv_seq", 3}), 8);
    const char *four[] = {"a", "b", "c", "d", NULL};
    na_html_array bad[] = {{.label = "w", .value = w, .rows = "seq", .cols = "kv_seq",
                            .row_labels = four, .col_labels = four}};
    FILE *f = tmpfile();
    na_html_options o = {.n_arrays = 1, .arrays = bad};
    NA_EXPECT_FAIL(na_layer_write_html(NULL, &o, f), NA_ERR_ARGUMENT,
                   "na_layer_write_html: arrays[0] ('w'): 4 col_labels for axis 'kv_seq' of "
                   "size 3 in f32[seq:4, kv_seq:3]");
    na_array *v = ts_random(NA_F32, NA_DIMS({"n", 4}), 8);
    na_html_array one[] = {{.label = "v", .value = v, .row_labels = four}};
    o.arrays = one; /* a 1-D array is one row: no axis down */
    NA_EXPECT_FAIL(na_layer_write_html(NULL, &o, f), NA_ERR_ARGUMENT,
                   "arrays[0] ('v'): 4 row_labels, but no axis of f32[n:4] is drawn "
                   "that way");
    cr_expect_eq(ftell(f), 0, "a failed call wrote %ld bytes", ftell(f));
    fclose(f);
    na_array_free(v);
    na_array_free(w);
}
