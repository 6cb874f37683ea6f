/* safetensors: round trips with axis names, foreign files, bad files. */
#include "support.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include <namedarr/safetensors.h>

static char g_path[64];

static void make_path(void)
{
    snprintf(g_path, sizeof g_path, "/tmp/na_st_test_%d.safetensors", (int)getpid());
}

static void cleanup(void) { unlink(g_path); }

TestSuite(safetensors, .init = make_path, .fini = cleanup);

/* Write a raw file: header JSON then `data_len` bytes of data. */
static void write_raw(const char *json, const void *data, size_t data_len,
                      int64_t header_len_override)
{
    FILE *f = fopen(g_path, "wb");
    cr_assert_not_null(f);
    uint64_t len = header_len_override >= 0 ? (uint64_t)header_len_override : strlen(json);
    for (int b = 0; b < 8; b++)
        fputc((int)((len >> (8 * b)) & 0xff), f);
    fwrite(json, 1, strlen(json), f);
    if (data_len)
        fwrite(data, 1, data_len, f);
    fclose(f);
}

Test(safetensors, round_trip_keeps_names_dtypes_and_values)
{
    na_array *a = ts_random(NA_F32, NA_DIMS({"vocab", 7}, {"embedding", 5}), 1);
    na_array *b = ts_random(NA_F64, NA_DIMS({"heads", 3}), 2);
    na_array *c = NULL, *d = NULL;
    NA_OK_OR_FAIL(na_arange("pos", 4, NA_I32, &c));
    NA_OK_OR_FAIL(na_full(NA_BOOL, NA_DIMS({"q", 2}, {NULL, 3}), 1.0, &d));
    /* A strided view is written by value. */
    na_array *s = ts_strided_copy(a);
    const char *labels[] = {"embed.table", "scale", "positions", "mask", "strided"};
    const na_array *arrays[] = {a, b, c, d, s};
    NA_OK_OR_FAIL(na_safetensors_write(g_path, 5, labels, arrays));

    na_safetensors *st = NULL;
    NA_OK_OR_FAIL(na_safetensors_open(g_path, &st));
    cr_assert_eq(na_safetensors_count(st), 5);
    for (int i = 0; i < 5; i++) {
        na_array *x = NULL;
        NA_OK_OR_FAIL(na_safetensors_get(st, labels[i], &x));
        char want[128], got[128];
        na_shape_str(arrays[i], want, sizeof want);
        na_shape_str(x, got, sizeof got);
        cr_assert_str_eq(got, want, "%s: %s vs %s", labels[i], got, want);
        cr_assert_eq(ts_max_abs_diff(x, arrays[i]), 0.0, "%s differs", labels[i]);
        na_array_free(x);
    }
    na_array *missing = NULL;
    NA_EXPECT_FAIL(na_safetensors_get(st, "nope", &missing), NA_ERR_NOT_FOUND, "'nope'");
    na_safetensors_close(st);
    na_array *all[] = {a, b, c, d, s};
    for (int i = 0; i < 5; i++)
        na_array_free(all[i]);
}

Test(safetensors, foreign_file_loads_positional_and_converts_half_types)
{
    /* F16 [1.0, -2.0, 0.5] and BF16 [1.0, 3.0] as another tool writes them. */
    const unsigned char data[] = {0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38,
                                  0x80, 0x3f, 0x40, 0x40};
    write_raw("{\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]},"
              "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[6,10]}}",
              data, sizeof data, -1);
    na_safetensors *st = NULL;
    NA_OK_OR_FAIL(na_safetensors_open(g_path, &st));
    na_array *h = NULL, *b = NULL;
    NA_OK_OR_FAIL(na_safetensors_get(st, "h", &h));
    NA_OK_OR_FAIL(na_safetensors_get(st, "b", &b));
    cr_assert_eq(h->dtype, NA_F32);
    cr_assert_eq(na_positional_count(h), 1);
    const float *hv = na_data(h);
    cr_assert_float_eq(hv[0], 1.0f, 0);
    cr_assert_float_eq(hv[1], -2.0f, 0);
    cr_assert_float_eq(hv[2], 0.5f, 0);
    cr_assert_eq(b->dtype, NA_BF16, "BF16 loads without widening");
    const na_bf16 *bv = na_data(b);
    cr_assert_eq(bv[0], 0x3f80);
    cr_assert_eq(bv[1], 0x4040);
    cr_assert_float_eq(na_bf16_to_f32(bv[1]), 3.0f, 0);
    na_array_free(h);
    na_array_free(b);
    na_safetensors_close(st);
}

static void expect_bad(const char *json, size_t data_len, int64_t hlen,
                       na_status status, const char *sub)
{
    unsigned char data[64] = {0};
    write_raw(json, data, data_len, hlen);
    na_safetensors *st = (na_safetensors *)0x1;
    NA_EXPECT_FAIL(na_safetensors_open(g_path, &st), status, "na_safetensors_open", sub);
    cr_assert_eq(st, (na_safetensors *)0x1, "output written on failure");
}

Test(safetensors, malformed_files_are_rejected_with_reasons)
{
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, 4096,
               NA_ERR_FORMAT, "past the end");
    expect_bad("not json at all", 0, -1, NA_ERR_FORMAT, "not a JSON object");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,80]}}", 8, -1,
               NA_ERR_FORMAT, "outside the file");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, -1,
               NA_ERR_FORMAT, "do not match dtype and shape");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
               12, -1, NA_ERR_FORMAT, "overlaps");
    expect_bad("{\"a\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, -1,
               NA_ERR_UNSUPPORTED, "C64");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0, -1,
               NA_ERR_FORMAT, "non-negative");
    expect_bad("{\"__metadata__\":{\"namedarr.axes.a\":\"x,y\"},"
               "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
               8, -1, NA_ERR_FORMAT, "axis-name metadata");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, -1, NA_ERR_FORMAT,
               "data_offsets");
}

Test(safetensors, missing_file_and_bad_arguments)
{
    na_safetensors *st = NULL;
    NA_EXPECT_FAIL(na_safetensors_open("/nonexistent/dir/x.safetensors", &st), NA_ERR_IO,
                   "/nonexistent/dir/x.safetensors");
    na_array *a = NULL;
    NA_OK_OR_FAIL(na_zeros(NA_F32, NA_DIMS({"a", 2}), &a));
    const char *labels[] = {"w", "w"};
    const na_array *arrays[] = {a, a};
    NA_EXPECT_FAIL(na_safetensors_write(g_path, 2, labels, arrays), NA_ERR_ARGUMENT,
                   "'w' repeats");
    na_array_free(a);
}

Test(safetensors, extra_metadata_round_trips_and_reserved_keys_fail)
{
    na_array *a = ts_random(NA_F32, NA_DIMS({"x", 3}), 1);
    const char *labels[] = {"a"};
    const na_array *arrays[] = {a};
    const char *keys[] = {"namedarr.model", "note"};
    const char *values[] = {"{\"type\": \"Linear\"}", "hello"};
    na_safetensors_meta meta = {2, keys, values};
    NA_OK_OR_FAIL(na_safetensors_write_ex(g_path, 1, labels, arrays, &meta));
    na_safetensors *st = NULL;
    NA_OK_OR_FAIL(na_safetensors_open(g_path, &st));
    cr_assert_str_eq(na_safetensors_metadata(st, "namedarr.model"), values[0]);
    cr_assert_str_eq(na_safetensors_metadata(st, "note"), "hello");
    cr_assert_str_eq(na_safetensors_metadata(st, "format"), "namedarr");
    cr_assert_null(na_safetensors_metadata(st, "absent"));
    cr_assert_null(na_safetensors_metadata(NULL, "note"));
    na_safetensors_close(st);

    const char *reserved[] = {"format"}, *axes[] = {"namedarr.axes.a"};
    NA_EXPECT_FAIL(na_safetensors_write_ex(g_path, 1, labels, arrays,
                                           &(na_safetensors_meta){1, reserved, values}),
                   NA_ERR_ARGUMENT, "metadata key 'format' is reserved");
    NA_EXPECT_FAIL(na_safetensors_write_ex(g_path, 1, labels, arrays,
                                           &(na_safetensors_meta){1, axes, values}),
                   NA_ERR_ARGUMENT, "'namedarr.axes.a' is reserved");
    const char *twice[] = {"k", "k"};
    NA_EXPECT_FAIL(na_safetensors_write_ex(g_path, 1, labels, arrays,
                                           &(na_safetensors_meta){2, twice, values}),
                   NA_ERR_ARGUMENT, "metadata key 'k' repeats");
    NA_EXPECT_FAIL(na_safetensors_write_ex(g_path, 1, labels, arrays,
                                           &(na_safetensors_meta){1, NULL, values}),
                   NA_ERR_ARGUMENT, "without keys or values");
    na_array_free(a);
}

Test(safetensors, long_labels_keep_their_axis_names)
{
    /* two labels longer than 1023 bytes that share their first 2000 bytes:
     * each must get its own names back */
    char l1[2100], l2[2100];
    memset(l1, 'w', 2000);
    memcpy(l1 + 2000, ".first", 7);
    memset(l2, 'w', 2000);
    memcpy(l2 + 2000, ".second", 8);
    na_array *a = ts_random(NA_F32, NA_DIMS({"vocab", 3}, {"embedding", 2}), 1);
    na_array *b = ts_random(NA_F32, NA_DIMS({"heads", 2}, {"projection", 3}), 2);
    const char *labels[] = {l1, l2};
    const na_array *arrays[] = {a, b};
    NA_OK_OR_FAIL(na_safetensors_write(g_path, 2, labels, arrays));
    na_safetensors *st = NULL;
    NA_OK_OR_FAIL(na_safetensors_open(g_path, &st));
    na_array *x = NULL, *y = NULL;
    NA_OK_OR_FAIL(na_safetensors_get(st, l1, &x));
    NA_OK_OR_FAIL(na_safetensors_get(st, l2, &y));
    ts_expect_shape(x, "f32[vocab:3, embedding:2]");
    ts_expect_shape(y, "f32[heads:2, projection:3]");
    cr_assert_eq(ts_max_abs_diff(y, b), 0.0);
    na_safetensors_close(st);
    TS_FREE(a, b, x, y);
}

Test(safetensors, data_offsets_one_byte_past_the_data)
{
    /* the right length, shifted by one: ends one byte past the 8 data bytes */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1,9]}}", 8, -1,
               NA_ERR_FORMAT, "outside the file");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,9]}}", 8, -1,
               NA_ERR_FORMAT, "'a'");
    /* exactly at the end is fine */
    unsigned char data[8] = {0};
    write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", data, 8, -1);
    na_safetensors *st = NULL;
    NA_OK_OR_FAIL(na_safetensors_open(g_path, &st));
    na_safetensors_close(st);
}

Test(safetensors, f16_subnormals_decode_exactly)
{
    /* 0x0001 = 2^-24, 0x03ff = 1023 * 2^-24, 0x8001 = -2^-24, 0x0400 = 2^-14
     * (the smallest normal), 0x8000 = -0 */
    const unsigned char data[] = {0x01, 0x00, 0xff, 0x03, 0x01, 0x80, 0x00, 0x04,
                                  0x00, 0x80};
    write_raw("{\"h\":{\"dtype\":\"F16\",\"shape\":[5],\"data_offsets\":[0,10]}}", data,
              sizeof data, -1);
    na_safetensors *st = NULL;
    NA_OK_OR_FAIL(na_safetensors_open(g_path, &st));
    na_array *h = NULL;
    NA_OK_OR_FAIL(na_safetensors_get(st, "h", &h));
    const float *v = na_data(h);
    cr_assert_eq(v[0], ldexpf(1.0f, -24), "%a", (double)v[0]);
    cr_assert_eq(v[1], 1023.0f * ldexpf(1.0f, -24), "%a", (double)v[1]);
    cr_assert_eq(v[2], -ldexpf(1.0f, -24), "%a", (double)v[2]);
    cr_assert_eq(v[3], ldexpf(1.0f, -14), "%a", (double)v[3]);
    cr_assert(v[4] == 0.0f && signbit(v[4]), "%a", (double)v[4]);
    na_array_free(h);
    na_safetensors_close(st);
}

Test(safetensors, directory_and_reserved_names_are_refused_clearly)
{
    na_safetensors *st = NULL;
    NA_EXPECT_FAIL(na_safetensors_open("/tmp", &st), NA_ERR_IO, "'/tmp' is a directory");
    cr_assert_null(st);
    expect_bad("{\"__metadata__\":{\"namedarr.axes.a\":\"\\u001fi\"},"
               "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
               8, -1, NA_ERR_FORMAT, "reserved");
}

/* bf16 arrays are written as "BF16" and read back bit for bit (NaN, -0,
 * subnormals, infinities included), with their axis names. */
Test(safetensors, bf16_round_trip_is_bit_exact)
{
    const na_bf16 bits[] = {0x3f80, 0x8000, 0x7fc1, 0xff80, 0x0001, 0x7f7f, 0xc049};
    na_array *x = NULL, *y = NULL;
    NA_OK_OR_FAIL(na_from_data(NA_BF16, NA_DIMS({"vocab", 7}), bits, &x));
    NA_OK_OR_FAIL(na_safetensors_write(g_path, 1, NA_NAMES("w"),
                                       (const na_array *[]){x}));
    FILE *f = fopen(g_path, "rb");
    cr_assert_not_null(f);
    char head[512] = {0};
    cr_assert_gt(fread(head, 1, sizeof head - 1, f), 8);
    fclose(f);
    cr_assert(strstr(head + 8, "\"dtype\":\"BF16\""), "header: %s", head + 8);
    na_safetensors *st = NULL;
    NA_OK_OR_FAIL(na_safetensors_open(g_path, &st));
    NA_OK_OR_FAIL(na_safetensors_get(st, "w", &y));
    na_safetensors_close(st);
    cr_assert_eq(y->dtype, NA_BF16);
    cr_assert_eq(na_axis_size(y, "vocab"), 7);
    cr_assert_eq(memcmp(na_data(y), bits, sizeof bits), 0);
    na_array_free(x);
    na_array_free(y);
}
