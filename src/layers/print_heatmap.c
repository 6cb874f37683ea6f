/* The HTML view's arrays: statistics, and heatmaps as inline SVG.
 *
 * Why SVG rectangles and not <canvas>: a canvas needs a script to paint,
 * and the page must show its pictures with scripts off, in a file viewer
 * and when printed. An SVG cell is an element, so it carries its own
 * tooltip (<title>: indices and value) without a script, stays sharp at any
 * zoom, and can be counted by a test. The price is size, about 100 bytes a
 * cell, which is why a slice is shrunk to at most max_side cells a side. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layers/html_internal.h"
#include "layers/layers_internal.h"

/* The length of the well-formed UTF-8 sequence at `s` (1 to 4), or 0
 * (a stray continuation byte, an overlong form, a surrogate, past U+10FFFF,
 * cut short). */
static int utf8_length(const unsigned char *s)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    int n;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (int i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

/* na__html_text, stopping after `max` characters (with an ellipsis) when
 * max >= 0. */
static void put_text(FILE *f, const char *s, int max)
{
    if (!s)
        return;
    for (const unsigned char *c = (const unsigned char *)s; *c; max--) {
        if (max == 0) {
            fputs("&#8230;", f);
            return;
        }
        int n = utf8_length(c);
        switch (n ? *c : 0) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default:
            if (n == 0 || (*c < 0x20 && *c != '\t' && *c != '\n') || *c == 0x7f)
                fputs("&#xFFFD;", f);
            else
                fwrite(c, 1, (size_t)n, f);
        }
        c += n ? n : 1;
    }
}

void na__html_text(FILE *f, const char *s)
{
    put_text(f, s, -1);
}

/* Characters of `s` (ill-formed bytes count one each), at most `max`. */
static int text_chars(const char *s, int max)
{
    int n = 0;
    for (const unsigned char *c = (const unsigned char *)s; *c && n < max; n++) {
        int k = utf8_length(c);
        c += k ? k : 1;
    }
    return n;
}

/* ---- choosing the axes ------------------------------------------------- */

/* "seq", or "#k" for the k-th positional axis. */
static const char *axis_label(const na_array *x, int d, char *buf, size_t cap)
{
    if (x->name[d])
        return x->name[d];
    int k = 0;
    for (int i = 0; i < d; i++)
        k += x->name[i] == NULL;
    snprintf(buf, cap, "#%d", k);
    return buf;
}

static int last_dim_except(const na_array *x, int skip)
{
    for (int d = x->ndim - 1; d >= 0; d--)
        if (d != skip)
            return d;
    return -1;
}

/* The two largest dimensions (ties: the later one), in dim order; a 1-D
 * array is one row. */
static void largest_two(const na_array *x, int *r, int *c)
{
    *r = *c = -1;
    if (x->ndim == 0)
        return;
    int a = x->ndim - 1;
    for (int d = x->ndim - 2; d >= 0; d--)
        if (x->shape[d] > x->shape[a])
            a = d;
    int b = -1;
    for (int d = x->ndim - 1; d >= 0; d--)
        if (d != a && (b < 0 || x->shape[d] > x->shape[b]))
            b = d;
    if (b < 0) {
        *c = a;
        return;
    }
    *r = a < b ? a : b;
    *c = a < b ? b : a;
}

static na_status find_axis(const char *op, const char *label, const na_array *x,
                           const char *name, const char *role, int *dim)
{
    *dim = na_axis_index(x, name);
    if (*dim >= 0)
        return NA_OK;
    char shape[256];
    na_shape_str(x, shape, sizeof shape);
    return na__fail(NA_ERR_AXIS, "%s: array '%s' %s has no axis '%s' (asked for as %s)",
                    op, label, shape, name, role);
}

na_status na__heatmap_axes(const char *op, const char *label, const na_array *x,
                           const char *rows, const char *cols, int *row_dim,
                           int *col_dim)
{
    int r = -1, c = -1;
    if (rows && find_axis(op, label, x, rows, "rows", &r) != NA_OK)
        return na_last_status();
    if (cols && find_axis(op, label, x, cols, "cols", &c) != NA_OK)
        return na_last_status();
    if (rows && cols && r == c)
        return na__fail(NA_ERR_AXIS, "%s: array '%s': rows and cols are both '%s'", op,
                        label, rows);
    if (!rows && !cols) {
        largest_two(x, &r, &c);
    } else if (!cols) {
        c = last_dim_except(x, r);
    } else if (!rows) {
        r = last_dim_except(x, c);
    }
    *row_dim = r;
    *col_dim = c;
    return NA_OK;
}

/* ---- statistics -------------------------------------------------------- */

typedef struct stats {
    int64_t count, finite;
    double mean, std, min, max;
} stats;

static stats compute_stats(const double *v, int64_t n)
{
    stats s = {.count = n, .min = NAN, .max = NAN, .mean = NAN, .std = NAN};
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            continue;
        if (s.finite == 0 || v[i] < s.min)
            s.min = v[i];
        if (s.finite == 0 || v[i] > s.max)
            s.max = v[i];
        sum += v[i];
        s.finite++;
    }
    if (s.finite == 0)
        return s;
    s.mean = sum / (double)s.finite;
    double ss = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(v[i]))
            ss += (v[i] - s.mean) * (v[i] - s.mean);
    s.std = sqrt(ss / (double)s.finite);
    return s;
}

static void put_stats(FILE *f, const stats *s)
{
    fprintf(f, "<table class=\"stats\" data-count=\"%lld\" data-mean=\"%.9g\" "
               "data-std=\"%.9g\" data-min=\"%.9g\" data-max=\"%.9g\"><tr>"
               "<th>mean</th><td>%.5g</td><th>std</th><td>%.5g</td>"
               "<th>min</th><td>%.5g</td><th>max</th><td>%.5g</td></tr></table>\n",
            (long long)s->count, s->mean, s->std, s->min, s->max, s->mean, s->std,
            s->min, s->max);
    if (s->finite < s->count)
        fprintf(f, "<p class=\"note\">%lld non-finite value%s (drawn grey; left out "
                   "of the statistics)</p>\n", (long long)(s->count - s->finite),
                s->count - s->finite == 1 ? "" : "s");
}

/* ---- colour ------------------------------------------------------------ */

/* Sequential: viridis at nine evenly spaced points. Diverging: a
 * blue-white-red ramp (ColorBrewer RdBu, reversed). */
static const unsigned char SEQ[9][3] = {
    {0x44, 0x01, 0x54}, {0x48, 0x28, 0x78}, {0x3e, 0x49, 0x89},
    {0x31, 0x68, 0x8e}, {0x26, 0x82, 0x8e}, {0x1f, 0x9e, 0x89},
    {0x35, 0xb7, 0x79}, {0x6e, 0xce, 0x58}, {0xfd, 0xe7, 0x25}};
static const unsigned char DIV[9][3] = {
    {0x21, 0x66, 0xac}, {0x43, 0x93, 0xc3}, {0x92, 0xc5, 0xde},
    {0xd1, 0xe5, 0xf0}, {0xf7, 0xf7, 0xf7}, {0xfd, 0xdb, 0xc7},
    {0xf4, 0xa5, 0x82}, {0xd6, 0x60, 0x4d}, {0xb2, 0x18, 0x2b}};

typedef struct scale {
    double lo, hi;     /* the domain; lo == hi: a constant                   */
    bool diverging;
} scale;

static scale make_scale(const stats *s)
{
    scale c = {0, 0, false};
    if (s->finite == 0)
        return c;
    if (s->min < 0 && s->max > 0) {
        double m = fmax(-s->min, s->max);
        return (scale){-m, m, true};
    }
    return (scale){s->min, s->max, false};
}

static void colour_at(const scale *c, double t, char out[8])
{
    const unsigned char(*ramp)[3] = c->diverging ? DIV : SEQ;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double pos = t * 8;
    int i = (int)pos;
    if (i > 7)
        i = 7;
    double w = pos - i;
    int rgb[3];
    for (int k = 0; k < 3; k++)
        rgb[k] = (int)lround(ramp[i][k] * (1 - w) + ramp[i + 1][k] * w);
    snprintf(out, 8, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

static void colour_of(const scale *c, double v, char out[8])
{
    if (!isfinite(v)) {
        snprintf(out, 8, "#9a9a9a");
        return;
    }
    double t = c->hi > c->lo ? (v - c->lo) / (c->hi - c->lo) : 0.5;
    colour_at(c, t, out);
}

/* A horizontal bar, low to high, with its ends and middle labelled; for
 * block means it says so. */
static void put_legend(FILE *f, const scale *c, int uid, bool means)
{
    fprintf(f, "<svg class=\"legend\" width=\"320\" height=\"34\" role=\"img\">"
               "<title>colour scale</title><defs><linearGradient id=\"na-g%d\" "
               "x1=\"0\" y1=\"0\" x2=\"1\" y2=\"0\">", uid);
    for (int i = 0; i <= 8; i++) {
        char col[8];
        colour_at(c, i / 8.0, col);
        fprintf(f, "<stop offset=\"%g\" stop-color=\"%s\"/>", i / 8.0, col);
    }
    fprintf(f, "</linearGradient></defs><rect x=\"8\" y=\"2\" width=\"200\" "
               "height=\"12\" fill=\"url(#na-g%d)\" stroke=\"#888\"/>", uid);
    double mid = (c->lo + c->hi) / 2;
    if (c->hi > c->lo)
        fprintf(f, "<text x=\"8\" y=\"28\">%.4g</text><text x=\"108\" y=\"28\" "
                   "text-anchor=\"middle\">%.4g</text><text x=\"208\" y=\"28\" "
                   "text-anchor=\"end\">%.4g</text>", c->lo, mid, c->hi);
    else
        fprintf(f, "<text x=\"108\" y=\"28\" text-anchor=\"middle\">%.4g (all)</text>",
                mid);
    if (means)
        fputs("<text x=\"216\" y=\"12\">block means</text>", f);
    fputs("</svg>\n", f);
}

/* ---- slices ------------------------------------------------------------ */

typedef struct layout {
    const na_array *x;
    const double *v;        /* row-major over x's dims                       */
    int64_t step[NA_MAX_DIMS];
    int row, col;           /* dims, -1 for none                             */
    int64_t R, C;           /* their sizes (1 for none)                      */
    int64_t r, c;           /* cells drawn                                   */
    const char *const *rlab, *const *clab; /* index names, or NULL           */
    int nslice;             /* the other dims                                */
    int slice_dims[NA_MAX_DIMS];
    double *cells;          /* [slice][r][c]: the values drawn               */
} layout;

/* Block [lo, hi) of `n` items split into `m` blocks. */
static void block(int64_t n, int64_t m, int64_t i, int64_t *lo, int64_t *hi)
{
    *lo = i * n / m;
    *hi = (i + 1) * n / m;
}

/* Mean of the finite values in a block of a slice (NaN if none). */
static double cell_value(const layout *L, int64_t base, int64_t r0, int64_t r1,
                         int64_t c0, int64_t c1)
{
    int64_t rs = L->row >= 0 ? L->step[L->row] : 0, cs = L->col >= 0 ? L->step[L->col] : 0;
    double sum = 0;
    int64_t n = 0;
    for (int64_t i = r0; i < r1; i++)
        for (int64_t j = c0; j < c1; j++) {
            double v = L->v[base + i * rs + j * cs];
            if (isfinite(v)) {
                sum += v;
                n++;
            } else if (r1 - r0 == 1 && c1 - c0 == 1) {
                return v;
            }
        }
    return n ? sum / (double)n : NAN;
}

static void put_range(FILE *f, const layout *L, int dim, int64_t lo, int64_t hi)
{
    char buf[24];
    const char *const *names = dim == L->row ? L->rlab : L->clab;
    na__html_text(f, axis_label(L->x, dim, buf, sizeof buf));
    if (hi - lo > 1) {
        fprintf(f, "=%lld..%lld", (long long)lo, (long long)(hi - 1));
        return;
    }
    fprintf(f, "=%lld", (long long)lo);
    if (names) {
        fputs(" (", f);
        na__html_text(f, names[lo]);
        fputc(')', f);
    }
}

static void put_cell(FILE *f, const layout *L, const scale *sc, const double *cells,
                     int64_t i, int64_t j)
{
    int64_t r0 = 0, r1 = 1, c0 = 0, c1 = 1;
    block(L->R, L->r, i, &r0, &r1);
    block(L->C, L->c, j, &c0, &c1);
    double v = cells[i * L->c + j];
    char col[8];
    colour_of(sc, v, col);
    fprintf(f, "<rect x=\"%lld\" y=\"%lld\" width=\"1\" height=\"1\" fill=\"%s\"><title>",
            (long long)j, (long long)i, col);
    if (L->row >= 0) {
        put_range(f, L, L->row, r0, r1);
        fputs(L->col >= 0 ? ", " : "", f);
    }
    if (L->col >= 0)
        put_range(f, L, L->col, c0, c1);
    bool mean = (r1 - r0) * (c1 - c0) > 1;
    fprintf(f, ": %s%.5g</title></rect>", mean ? "mean " : "", v);
}

/* Where a heatmap's cells go: cell sizes, their extent, and the margins
 * for the axis names and the first and last index or the index labels
 * (drawn only when a cell is at least 8 pixels, at 6 pixels a character). */
typedef struct frame {
    int cw, ch, left, top;
    int64_t W, H;
    const char *const *rlab, *const *clab;
} frame;

#define TICK_CHARS 10

static int widest(const char *const *names, int64_t n)
{
    int w = 0;
    for (int64_t i = 0; i < n; i++) {
        int k = text_chars(names[i], TICK_CHARS + 1);
        w = k > w ? k : w;
    }
    return w;
}

static frame make_frame(const layout *L)
{
    int64_t big = L->r > L->c ? L->r : L->c;
    int cell = (int)(288 / big);
    cell = cell < 3 ? 3 : cell > 20 ? 20 : cell;
    frame F = {.cw = L->c == 1 && cell < 16 ? 16 : cell, .ch = L->r == 1 && cell < 16 ? 16 : cell};
    F.W = L->c * F.cw, F.H = L->r * F.ch;
    F.rlab = F.ch >= 8 ? L->rlab : NULL;
    F.clab = F.cw >= 8 ? L->clab : NULL;
    F.left = L->row < 0 ? 8 : F.rlab ? 26 + 6 * widest(F.rlab, L->r) : 50;
    F.top = L->col < 0 ? 8 : F.clab ? 20 + 6 * widest(F.clab, L->c) : 30;
    F.left = F.left < 50 && L->row >= 0 ? 50 : F.left;
    return F;
}

/* The axis names, and the first and last index or a label per row/column. */
static void put_axes(FILE *f, const layout *L, const frame *F)
{
    char buf[24];
    if (L->col >= 0) {
        fprintf(f, "<text class=\"axis\" x=\"%lld\" y=\"11\" text-anchor=\"middle\">",
                (long long)(F->left + F->W / 2));
        na__html_text(f, axis_label(L->x, L->col, buf, sizeof buf));
        fputs(" &#8594;</text>", f);
        if (!F->clab)
            fprintf(f, "<text x=\"%d\" y=\"26\">0</text><text x=\"%lld\" y=\"26\" "
                       "text-anchor=\"end\">%lld</text>",
                    F->left, (long long)(F->left + F->W), (long long)(L->C - 1));
        for (int64_t j = 0; F->clab && j < L->c; j++) {
            fprintf(f, "<text class=\"tick\" transform=\"translate(%lld,%d) rotate(-90)\">",
                    (long long)(F->left + j * F->cw + F->cw / 2 + 4), F->top - 4);
            put_text(f, F->clab[j], TICK_CHARS);
            fputs("</text>", f);
        }
    }
    if (L->row >= 0) {
        fprintf(f, "<text class=\"axis\" transform=\"translate(12,%lld) rotate(-90)\" "
                   "text-anchor=\"middle\">&#8592; ", (long long)(F->top + F->H / 2));
        na__html_text(f, axis_label(L->x, L->row, buf, sizeof buf));
        fputs("</text>", f);
        if (!F->rlab)
            fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">0</text>",
                    F->left - 4, F->top + 10);
        if (!F->rlab && L->R > 1)
            fprintf(f, "<text x=\"%d\" y=\"%lld\" text-anchor=\"end\">%lld</text>",
                    F->left - 4, (long long)(F->top + F->H - 2), (long long)(L->R - 1));
        for (int64_t i = 0; F->rlab && i < L->r; i++) {
            fprintf(f, "<text class=\"tick\" x=\"%d\" y=\"%lld\" text-anchor=\"end\">",
                    F->left - 4, (long long)(F->top + i * F->ch + F->ch / 2 + 4));
            put_text(f, F->rlab[i], TICK_CHARS);
            fputs("</text>", f);
        }
    }
}

/* One <svg class="heatmap"> for the slice starting at element `base`. */
static void put_heatmap(FILE *f, const layout *L, const scale *sc, const double *cells)
{
    frame F = make_frame(L);
    int left = F.left, top = F.top;
    int64_t W = F.W, H = F.H;
    fprintf(f, "<svg class=\"heatmap\" width=\"%lld\" height=\"%lld\" role=\"img\">",
            (long long)(left + W + 8), (long long)(top + H + 8));
    put_axes(f, L, &F);
    fprintf(f, "<svg x=\"%d\" y=\"%d\" width=\"%lld\" height=\"%lld\" viewBox=\"0 0 %lld "
               "%lld\" preserveAspectRatio=\"none\" shape-rendering=\"crispEdges\">",
            left, top, (long long)W, (long long)H, (long long)L->c, (long long)L->r);
    for (int64_t i = 0; i < L->r; i++)
        for (int64_t j = 0; j < L->c; j++)
            put_cell(f, L, sc, cells, i, j);
    fputs("</svg></svg>", f);
}

static int64_t product(const layout *L)
{
    int64_t n = 1;
    for (int k = 0; k < L->nslice; k++)
        n *= L->x->shape[L->slice_dims[k]];
    return n;
}

static void put_notes(FILE *f, const layout *L, int64_t nslices, int shown)
{
    char buf[24];
    if (L->r < L->R || L->c < L->C) {
        fputs("<p class=\"note\">shrunk to block means:", f);
        if (L->r < L->R) {
            fputc(' ', f);
            na__html_text(f, axis_label(L->x, L->row, buf, sizeof buf));
            fprintf(f, " %lld &#8594; %lld rows", (long long)L->R, (long long)L->r);
        }
        if (L->c < L->C) {
            fputs(L->r < L->R ? ", " : " ", f);
            na__html_text(f, axis_label(L->x, L->col, buf, sizeof buf));
            fprintf(f, " %lld &#8594; %lld columns", (long long)L->C, (long long)L->c);
        }
        fputs("</p>\n", f);
    }
    if (shown < nslices) {
        fprintf(f, "<p class=\"note\">%d of %lld slices shown (over ", shown,
                (long long)nslices);
        for (int k = 0; k < L->nslice; k++) {
            fputs(k ? ", " : "", f);
            na__html_text(f, axis_label(L->x, L->slice_dims[k], buf, sizeof buf));
        }
        fputs(")</p>\n", f);
    }
}

static void put_grid(FILE *f, const layout *L, const scale *sc, int shown)
{
    fputs("<div class=\"grid\">", f);
    for (int s = 0; s < shown; s++) {
        int64_t rest = s;
        fputs("<figure class=\"slice\">", f);
        if (L->nslice)
            fputs("<figcaption>", f);
        int64_t idx[NA_MAX_DIMS];
        for (int k = L->nslice - 1; k >= 0; k--) {
            idx[k] = rest % L->x->shape[L->slice_dims[k]];
            rest /= L->x->shape[L->slice_dims[k]];
        }
        char buf[24];
        for (int k = 0; k < L->nslice; k++) {
            fputs(k ? ", " : "", f);
            na__html_text(f, axis_label(L->x, L->slice_dims[k], buf, sizeof buf));
            fprintf(f, "=%lld", (long long)idx[k]);
        }
        if (L->nslice)
            fputs("</figcaption>", f);
        put_heatmap(f, L, sc, L->cells + (int64_t)s * L->r * L->c);
        fputs("</figure>\n", f);
    }
    fputs("</div>\n", f);
}

/* The first element of slice s (row-major over the slice dims). */
static int64_t slice_base(const layout *L, int64_t s)
{
    int64_t base = 0;
    for (int k = L->nslice - 1; k >= 0; k--) {
        int d = L->slice_dims[k];
        base += (s % L->x->shape[d]) * L->step[d];
        s /= L->x->shape[d];
    }
    return base;
}

static void fill_cells(layout *L, int shown)
{
    double *out = L->cells;
    for (int s = 0; s < shown; s++) {
        int64_t base = slice_base(L, s);
        for (int64_t i = 0; i < L->r; i++)
            for (int64_t j = 0; j < L->c; j++) {
                int64_t r0, r1, c0, c1;
                block(L->R, L->r, i, &r0, &r1);
                block(L->C, L->c, j, &c0, &c1);
                *out++ = cell_value(L, base, r0, r1, c0, c1);
            }
    }
}

static layout make_layout(const na_array *x, const double *v, int row, int col,
                          const na__heatmap_labels *labels, int max_side)
{
    layout L = {.x = x, .v = v, .row = row, .col = col, .R = 1, .C = 1};
    int64_t step = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        L.step[d] = step;
        step *= x->shape[d];
    }
    if (row >= 0)
        L.R = x->shape[row];
    if (col >= 0)
        L.C = x->shape[col];
    L.r = L.R < max_side ? L.R : max_side;
    L.c = L.C < max_side ? L.C : max_side;
    if (labels) { /* names for the indices, unless shrunk to block means */
        L.rlab = row >= 0 && L.r == L.R ? labels->rows : NULL;
        L.clab = col >= 0 && L.c == L.C ? labels->cols : NULL;
    }
    for (int d = 0; d < x->ndim; d++)
        if (d != row && d != col)
            L.slice_dims[L.nslice++] = d;
    return L;
}

na_status na__html_array(FILE *f, const na_array *x, int row_dim, int col_dim,
                         const na__heatmap_labels *labels, na__heatmap_opts *opt,
                         int *uid)
{
    int64_t n = na_size(x);
    double *v = calloc((size_t)(n > 0 ? n : 1), sizeof *v);
    if (!v)
        return na__fail(NA_ERR_NO_MEMORY, "na_layer_write_html: out of memory for an "
                        "array of %lld elements", (long long)n);
    na_status st = n > 0 ? na_copy_to(x, NA_F64, v) : NA_OK;
    if (st != NA_OK) {
        free(v);
        return st;
    }
    stats s = compute_stats(v, n);
    put_stats(f, &s);
    if (n == 0)
        fputs("<p class=\"note\">empty array: nothing to draw</p>\n", f);
    if (opt->heatmaps && n > 0 && x->ndim > 0) {
        layout L = make_layout(x, v, row_dim, col_dim, labels, opt->max_side);
        int64_t nslices = product(&L);
        int shown = nslices < opt->max_slices ? (int)nslices : opt->max_slices;
        int64_t cells = (int64_t)shown * L.r * L.c;
        if (cells > opt->cells_left) {
            fprintf(f, "<p class=\"note\">no heatmap: its %lld cells would pass the "
                       "page's budget of %lld (max_page_cells)</p>\n", (long long)cells,
                    (long long)opt->max_cells);
            free(v);
            return NA_OK;
        }
        L.cells = malloc((size_t)cells * sizeof *L.cells);
        if (!L.cells) {
            free(v);
            return na__fail(NA_ERR_NO_MEMORY, "na_layer_write_html: out of memory");
        }
        opt->cells_left -= cells;
        fill_cells(&L, shown);
        /* One colour scale for the slices, over what is drawn: block means
         * of noise would look flat on the raw values' scale. */
        stats drawn = compute_stats(L.cells, cells);
        scale sc = make_scale(&drawn);
        put_notes(f, &L, nslices, shown);
        fputs("<div class=\"picture\">", f);
        put_legend(f, &sc, (*uid)++, L.r < L.R || L.c < L.C);
        put_grid(f, &L, &sc, shown);
        fputs("</div>\n", f);
        free(L.cells);
    }
    free(v);
    return NA_OK;
}
