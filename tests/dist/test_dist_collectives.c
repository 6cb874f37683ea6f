/* Meshes, axis mappings, collectives, sharded arrays and the sharded
 * contraction, against single-process results computed on every process
 * from the same seeds. Run with mpirun -np 1, 2 or 4 (4: a 2x2 mesh). */
#include "dist_check.h"

static int world;
static na_mesh *mesh;      /* {model:n} for n = 1, 2; {data:2, model:2} for 4 */

static const char *mesh_spec(void)
{
    return world == 4 ? "data=2,model=2" : world == 2 ? "model=2" : "model=1";
}

/* The data process `rank` contributes: same shape everywhere. */
static na_array *rank_data(int rank, na_dtype dt, int64_t seq)
{
    na_array *x = NULL;
    na_random_normal(100 + (uint64_t)rank, NA_F32, NA_DIMS({"seq", seq}, {"heads", 4},
                                                           {"projection", 3}), 0, 1, &x);
    if (dt != NA_F32) {
        na_array *y = NULL;
        na_array *s = NULL;
        na_binary_scalar(NA_MUL, x, 10, &s);
        na_astype(s, dt, &y);
        na_array_free(s), na_array_free(x);
        x = y;
    }
    return x;
}

/* The ranks of my group along `axis`, in coordinate order (p is
 * row-major over the mesh axes). */
static int group_ranks(const char *axis, int *ranks)
{
    int n = 0, naxes = na_mesh_axis_count(mesh), me = na_mesh_rank(mesh);
    for (int p = 0; p < world; p++) {
        bool same = true;
        for (int i = naxes - 1, a = p, b = me; i >= 0; i--) {
            int sz = na_mesh_axis_size(mesh, na_mesh_axis_name(mesh, i));
            const char *name = na_mesh_axis_name(mesh, i);
            if (!axis || strcmp(name, axis))
                same &= axis == NULL || a % sz == b % sz;
            a /= sz, b /= sz;
        }
        if (same)
            ranks[n++] = p;
    }
    return n;
}

static void test_mesh(void)
{
    DC_CHECK(na_mesh_size(mesh) == world, "size %d", na_mesh_size(mesh));
    DC_CHECK(na_mesh_rank(mesh) == dc_rank, "rank %d", na_mesh_rank(mesh));
    int model = world >= 2 ? 2 : 1;
    DC_CHECK(na_mesh_axis_size(mesh, "model") == model, "model %d",
             na_mesh_axis_size(mesh, "model"));
    DC_CHECK(na_mesh_coord(mesh, "model") == dc_rank % model, "coord %d",
             na_mesh_coord(mesh, "model"));
    DC_CHECK(na_mesh_axis_size(mesh, "nope") == -1, "absent axis");
    char buf[256];
    na_mesh_str(mesh, buf, sizeof buf);
    if (world == 4 && dc_rank == 3)
        DC_CHECK(!strcmp(buf, "mesh{data:2, model:2} rank 3 at data=1, model=1"), "%s", buf);
    if (world == 2 && dc_rank == 1)
        DC_CHECK(!strcmp(buf, "mesh{model:2} rank 1 at model=1"), "%s", buf);
    /* a size -1 takes the rest */
    na_mesh *m = NULL;
    DC_OK(na_mesh_parse(MPI_COMM_WORLD, "data=-1", &m));
    DC_CHECK(na_mesh_axis_size(m, "data") == world, "rest");
    na_mesh_free(m);
}

static void test_mesh_errors(void)
{
    na_mesh *m = NULL;
    DC_CHECK(na_mesh_parse(MPI_COMM_WORLD, "data=3", &m) == NA_ERR_SHAPE, "product");
    DC_MSG_HAS("the mesh axes multiply to 3 processes but the communicator has");
    DC_CHECK(na_mesh_parse(MPI_COMM_WORLD, "data", &m) == NA_ERR_ARGUMENT, "no size");
    DC_MSG_HAS("na_mesh_parse: bad mesh spec 'data'");
    DC_CHECK(na_mesh_parse(MPI_COMM_WORLD, "a=1,a=1", &m) == NA_ERR_AXIS, "repeat");
    DC_MSG_HAS("mesh axis 'a' repeats");
    DC_CHECK(na_mesh_parse(MPI_COMM_WORLD, "data=x", &m) == NA_ERR_ARGUMENT, "bad size");
    DC_MSG_HAS("bad size for mesh axis 'data'");
    DC_CHECK(m == NULL, "no mesh on error");
}

static void test_mapping(void)
{
    na_axis_mapping *map = NULL;
    DC_OK(na_axis_mapping_parse(NA_MAPPING_DEFAULT, &map));
    const char *h = na_axis_mapping_lookup(map, mesh, "heads");
    const char *b = na_axis_mapping_lookup(map, mesh, "batch");
    DC_CHECK(world >= 2 ? h && !strcmp(h, "model") : h == NULL, "heads -> %s", h ? h : "-");
    DC_CHECK(world == 4 ? b && !strcmp(b, "data") : b == NULL, "batch -> %s", b ? b : "-");
    DC_CHECK(na_axis_mapping_lookup(map, mesh, "seq") == NULL, "seq unmapped");
    na_axis_mapping_free(map);
    map = NULL;
    DC_CHECK(na_axis_mapping_parse("heads=model,heads=data", &map) == NA_ERR_AXIS, "twice");
    DC_MSG_HAS("axis 'heads' is mapped twice");
    DC_CHECK(na_axis_mapping_parse("heads", &map) == NA_ERR_ARGUMENT, "bad");
    DC_MSG_HAS("bad entry 'heads'");
    DC_CHECK(map == NULL, "none");
}

static void check_all_reduce(const char *axis, na_reduce_op op, na_dtype dt)
{
    int ranks[8], n = group_ranks(axis, ranks);
    na_array *mine = rank_data(dc_rank, dt, 5), *got = NULL, *want = NULL;
    DC_OK(na_all_reduce(mesh, axis, op, mine, &got));
    for (int i = 0; i < n; i++) {
        na_array *x = rank_data(ranks[i], dt, 5), *acc = NULL;
        if (!want)
            want = x, x = NULL;
        else
            na_binary(op == NA_REDUCE_SUM ? NA_ADD : NA_MAXIMUM, want, x, &acc);
        if (acc)
            na_array_free(want), want = acc;
        na_array_free(x);
    }
    if (got)
        DC_CHECK(got->dtype == dt, "dtype %s", na_dtype_name(got->dtype));
    DC_CLOSE(got, want, 1e-5);
    na_array_free(mine), na_array_free(got), na_array_free(want);
}

static void test_all_reduce(void)
{
    check_all_reduce("model", NA_REDUCE_SUM, NA_F32);
    check_all_reduce("model", NA_REDUCE_MAX, NA_F32);
    check_all_reduce(NULL, NA_REDUCE_SUM, NA_F64);
    check_all_reduce(NULL, NA_REDUCE_MAX, NA_I32);
    if (world == 4) {
        check_all_reduce("data", NA_REDUCE_SUM, NA_F32);
        check_all_reduce("data", NA_REDUCE_MAX, NA_I32);
    }
    /* a strided, broadcast input */
    na_array *x = rank_data(dc_rank, NA_F32, 5), *t = NULL, *got = NULL;
    na_order_as(x, NA_NAMES("projection", "seq", "heads"), &t);
    DC_OK(na_all_reduce(mesh, NULL, NA_REDUCE_SUM, t, &got));
    DC_CHECK(got && got->name[0] == na_intern("projection"), "order kept");
    na_array_free(x), na_array_free(t), na_array_free(got);
}

/* bf16 travels as itself in gathers; reductions widen to f32, sum there
 * and round once: 256 + 1.5 on each other process is 256 + 1.5 (n - 1)
 * rounded to bf16 (4 processes: 260.5 -> 260, where adding in bf16 step
 * by step would stay at 256). */
static void test_bf16(void)
{
    na_array *x = NULL, *b = NULL, *got = NULL, *wide = NULL, *want = NULL;
    na_full(NA_F32, NA_DIMS({"heads", 4}, {"seq", 2}), dc_rank ? 1.5 : 256, &x);
    na_astype(x, NA_BF16, &b);
    DC_OK(na_all_reduce(mesh, NULL, NA_REDUCE_SUM, b, &got));
    DC_CHECK(got && got->dtype == NA_BF16, "bf16 in, bf16 out");
    double exact = 256 + 1.5 * (world - 1);
    double rounded = world == 4 ? 260 : world == 2 ? 258 : 256;
    na_astype(got, NA_F32, &wide);
    na_full(NA_F32, NA_DIMS({"heads", 4}, {"seq", 2}), rounded, &want);
    DC_CLOSE(wide, want, 0);
    DC_CHECK(exact != rounded || world == 1, "the case rounds");
    na_array_free(got), na_array_free(wide), na_array_free(want);
    got = wide = want = NULL;
    /* reduce-scatter: the same sums, this process's block of heads */
    DC_OK(na_reduce_scatter(mesh, NULL, b, "heads", &got));
    DC_CHECK(got && got->dtype == NA_BF16 && na_axis_size(got, "heads") == 4 / world,
             "block of heads");
    na_astype(got, NA_F32, &wide);
    na_full(NA_F32, NA_DIMS({"heads", 4 / world}, {"seq", 2}), rounded, &want);
    DC_CLOSE(wide, want, 0);
    na_array_free(got), na_array_free(wide), na_array_free(want);
    /* gather: bit for bit */
    got = NULL;
    DC_OK(na_all_gather(mesh, NULL, b, "seq", &got));
    DC_CHECK(got && got->dtype == NA_BF16 && na_axis_size(got, "seq") == 2 * world,
             "gathered bf16");
    na_array_free(got), na_array_free(b), na_array_free(x);
}

static void check_all_gather(const char *axis, const char *along)
{
    int ranks[8], n = group_ranks(axis, ranks);
    na_array *mine = rank_data(dc_rank, NA_F32, 3), *got = NULL, *want = NULL;
    na_array *parts[8];
    for (int i = 0; i < n; i++)
        parts[i] = rank_data(ranks[i], NA_F32, 3);
    na_concatenate(n, (const na_array *const *)parts, along, &want);
    DC_OK(na_all_gather(mesh, axis, mine, along, &got));
    DC_CLOSE(got, want, 0);
    if (got)
        DC_CHECK(got->name[0] == na_intern("seq") && got->name[2] == na_intern("projection"),
                 "dim order kept");
    for (int i = 0; i < n; i++)
        na_array_free(parts[i]);
    na_array_free(mine), na_array_free(got), na_array_free(want);
}

static void test_all_gather(void)
{
    check_all_gather("model", "heads");
    check_all_gather("model", "seq");
    check_all_gather(NULL, "projection");
    if (world == 4)
        check_all_gather("data", "heads");
}

static void check_reduce_scatter(const char *axis)
{
    int ranks[8], n = group_ranks(axis, ranks);
    na_array *mine = rank_data(dc_rank, NA_F32, 4), *got = NULL, *sum = NULL, *want = NULL;
    for (int i = 0; i < n; i++) {
        na_array *x = rank_data(ranks[i], NA_F32, 4), *acc = NULL;
        if (sum)
            na_add(sum, x, &acc), na_array_free(sum), na_array_free(x), sum = acc;
        else
            sum = x;
    }
    int c = na_mesh_coord(mesh, axis), parts = n;
    if (!axis)
        c = dc_rank;
    int64_t b = 4 / parts;
    na_array *view = NULL;
    na_index_by(sum, 1, &NA_RANGE("heads", c * b, (c + 1) * b, 1), &view);
    DC_OK(na_reduce_scatter(mesh, axis, mine, "heads", &got));
    DC_CLOSE(got, view, 1e-5);
    na_array_free(view), na_array_free(mine), na_array_free(got), na_array_free(sum);
    na_array_free(want);
}

static void test_reduce_scatter(void)
{
    check_reduce_scatter("model");
    check_reduce_scatter(NULL);
    /* 3 does not split over 2 (or 4): every process fails */
    if (world > 1) {
        na_array *x = NULL, *y = NULL;
        na_zeros(NA_F32, NA_DIMS({"heads", 3}), &x);
        DC_CHECK(na_reduce_scatter(mesh, "model", x, "heads", &y) == NA_ERR_SHAPE, "split");
        DC_MSG_HAS("does not split into 2 equal blocks");
        na_array_free(x);
    }
}

static void test_broadcast(void)
{
    int root = world - 1;
    na_array *x = NULL, *got = NULL;
    if (dc_rank == root)
        x = rank_data(root, NA_I32, 2);
    DC_OK(na_broadcast(mesh, NULL, root, x, &got));
    na_array *want = rank_data(root, NA_I32, 2);
    DC_CLOSE(got, want, 0);
    if (got)
        DC_CHECK(got->dtype == NA_I32, "dtype");
    na_array_free(x), na_array_free(got), na_array_free(want);
    /* along model, from coordinate 0; bool */
    na_array *m = NULL;
    if (na_mesh_coord(mesh, "model") == 0)
        na_random_bernoulli(7 + (uint64_t)dc_rank, NA_DIMS({"kv_seq", 9}), 0.5, &m);
    int src = dc_rank - na_mesh_coord(mesh, "model");
    DC_OK(na_broadcast(mesh, "model", 0, m, &got));
    na_random_bernoulli(7 + (uint64_t)src, NA_DIMS({"kv_seq", 9}), 0.5, &want);
    DC_CLOSE(got, want, 0);
    na_array_free(m), na_array_free(got), na_array_free(want);
    DC_CHECK(na_broadcast(mesh, NULL, world, NULL, &got) == NA_ERR_ARGUMENT, "root");
    DC_MSG_HAS("root");
}

/* Processes that disagree all get the same error, quickly. */
static void test_disagreement(void)
{
    if (world == 1)
        return;
    na_array *x = rank_data(dc_rank, NA_F32, dc_rank == 1 ? 6 : 5), *y = NULL;
    double t0 = MPI_Wtime();
    DC_CHECK(na_all_reduce(mesh, NULL, NA_REDUCE_SUM, x, &y) == NA_ERR_SHAPE, "shape");
    DC_MSG_HAS("na_all_reduce sum over '(all)': the processes disagree:");
    DC_MSG_HAS("rank 0 has 'na_all_reduce sum over '(all)' f32[seq:5, heads:4, projection:3]'");
    DC_MSG_HAS("rank 1 has 'na_all_reduce sum over '(all)' f32[seq:6, heads:4, projection:3]'");
    DC_CHECK(y == NULL, "no output");
    /* a different name on one process */
    na_array *r = NULL;
    const char *to = dc_rank == 1 ? "kv_heads" : "heads";
    na_rename(x, NA_NAMES("heads"), (const char *const[]){to, NULL}, &r);
    DC_CHECK(na_all_gather(mesh, NULL, r, "seq", &y) == NA_ERR_SHAPE, "names");
    DC_MSG_HAS("kv_heads:4");
    /* a different collective on one process */
    na_status st = dc_rank == 1 ? na_all_gather(mesh, NULL, x, "seq", &y)
                                : na_all_reduce(mesh, NULL, NA_REDUCE_SUM, x, &y);
    DC_CHECK(st == NA_ERR_SHAPE, "ops");
    DC_MSG_HAS("the processes disagree");
    /* a process whose own arguments are wrong takes the others down with it */
    st = na_all_gather(mesh, NULL, x, dc_rank == 1 ? "nope" : "seq", &y);
    DC_CHECK(st == NA_ERR_AXIS, "local failure: %s", na_status_name(st));
    DC_MSG_HAS("na_all_gather: rank 1 failed: na_all_gather:");
    DC_MSG_HAS("lacks the gathered axis");
    DC_CHECK(MPI_Wtime() - t0 < 10, "took %.1f s", MPI_Wtime() - t0);
    na_array_free(x), na_array_free(r);
}

/* One process failing to open a file: the others fail cleanly too. */
static void test_agree(void)
{
    na_status local = NA_OK;
    if (dc_rank == world - 1)
        local = na_fail(NA_ERR_IO, "open 'missing.safetensors': No such file");
    na_status st = na_dist_agree(mesh, local, "load");
    DC_CHECK(st == NA_ERR_IO, "status %s", na_status_name(st));
    char want[96];
    snprintf(want, sizeof want, "load: rank %d failed: open 'missing.safetensors'", world - 1);
    DC_MSG_HAS(want);
    DC_OK(na_dist_agree(mesh, NA_OK, "load"));
}

/* The counters see each data exchange and its bytes. */
static void test_stats(void)
{
    na_array *x = rank_data(dc_rank, NA_F32, 5), *y = NULL;
    na_dist_stats s;
    na_dist_stats_reset();
    na_dist_stats_read(&s);
    DC_CHECK(s.calls == 0 && s.bytes == 0 && s.seconds == 0, "reset");
    DC_OK(na_all_reduce(mesh, NULL, NA_REDUCE_SUM, x, &y));
    na_array_free(y);
    DC_OK(na_all_gather(mesh, NULL, x, "seq", &y));
    na_dist_stats_read(&s);
    /* a group of one moves nothing for the all-reduce */
    DC_CHECK(s.calls == (world > 1 ? 2 : 1), "calls %lld", (long long)s.calls);
    DC_CHECK(s.bytes == (world > 1 ? 2 : 1) * 60 * 4, "bytes %lld", (long long)s.bytes);
    DC_CHECK(s.seconds > 0, "seconds %g", s.seconds);
    na_array_free(x), na_array_free(y);
}

static void test_sharded(void)
{
    na_axis_mapping *map = NULL;
    na_axis_mapping_parse(NA_MAPPING_DEFAULT, &map);
    na_array *full = NULL, *back = NULL;
    na_random_normal(5, NA_F32, NA_DIMS({"batch", 2}, {"seq", 8}, {"heads", 32}), 0, 1, &full);
    na_sharded *s = NULL;
    DC_OK(na_shard(mesh, map, full, &s));
    char buf[128];
    na_sharded_str(s, buf, sizeof buf);
    const char *want = world == 4 ? "f32[batch:2/2@data, seq:8, heads:32/2@model]"
                       : world == 2 ? "f32[batch:2, seq:8, heads:32/2@model]"
                                    : "f32[batch:2, seq:8, heads:32]";
    DC_CHECK(!strcmp(buf, want), "'%s' vs '%s'", buf, want);
    int64_t h = world >= 2 ? 16 : 32;
    DC_CHECK(s && na_axis_size(s->local, "heads") == h, "local heads");
    na_array *view = NULL;
    na_index_by(full, 1, &NA_RANGE("heads", na_mesh_coord(mesh, "model") * h,
                                    (na_mesh_coord(mesh, "model") + 1) * h, 1), &view);
    if (world < 4)
        DC_CLOSE(s->local, view, 0);
    DC_OK(na_sharded_gather(s, &back));
    DC_CLOSE(back, full, 0);
    na_sharded *l = NULL;
    DC_OK(na_sharded_from_local(mesh, map, s->local, &l));
    na_sharded_str(l, buf, sizeof buf);
    DC_CHECK(!strcmp(buf, want), "from local '%s'", buf);
    na_array *odd = NULL;
    na_zeros(NA_F32, NA_DIMS({"heads", 3}), &odd);
    na_sharded *bad = NULL;
    if (world > 1) {
        DC_CHECK(na_shard(mesh, map, odd, &bad) == NA_ERR_SHAPE, "odd");
        DC_MSG_HAS("na_shard: axis 'heads' of f32[heads:3] does not split into 2 equal blocks");
    }
    na_sharded_free(s), na_sharded_free(l);
    na_array_free(full), na_array_free(back), na_array_free(view), na_array_free(odd);
    na_axis_mapping_free(map);
}

/* A contraction over a split axis ends with its all-reduce by itself. */
static void test_sharded_contract(void)
{
    na_axis_mapping *map = NULL;
    na_axis_mapping_parse("hidden=model,batch=data", &map);
    na_array *x = NULL, *w = NULL, *want = NULL, *got = NULL;
    na_random_normal(1, NA_F32, NA_DIMS({"batch", 4}, {"seq", 3}, {"hidden", 10}), 0, 1, &x);
    na_random_normal(2, NA_F32, NA_DIMS({"hidden", 10}, {"embedding", 7}), 0, 1, &w);
    na_contract(x, w, NA_NAMES("hidden"), &want);
    na_sharded *sx = NULL, *sw = NULL, *sy = NULL;
    DC_OK(na_shard(mesh, map, x, &sx));
    DC_OK(na_shard(mesh, map, w, &sw));
    DC_OK(na_sharded_contract(sx, sw, NA_NAMES("hidden"), &sy));
    char buf[128];
    na_sharded_str(sy, buf, sizeof buf);
    DC_CHECK(!strcmp(buf, world == 4 ? "f32[batch:4/2@data, seq:3, embedding:7]"
                                     : "f32[batch:4, seq:3, embedding:7]"), "%s", buf);
    DC_OK(na_sharded_gather(sy, &got));
    DC_CLOSE(got, want, 1e-5);
    /* a name split in one operand only */
    na_sharded *rep = NULL, *bad = NULL;
    na_axis_mapping *none = NULL;
    na_axis_mapping_parse("x=y", &none);
    na_shard(mesh, none, w, &rep);
    if (world > 1) {
        DC_CHECK(na_sharded_contract(sx, rep, NA_NAMES("hidden"), &bad) == NA_ERR_AXIS, "mix");
        DC_MSG_HAS("axis 'hidden' is split over 'model' in a but over '(none)' in b");
    }
    na_sharded_free(sx), na_sharded_free(sw), na_sharded_free(sy), na_sharded_free(rep);
    na_array_free(x), na_array_free(w), na_array_free(want), na_array_free(got);
    na_axis_mapping_free(map), na_axis_mapping_free(none);
}

int main(int argc, char **argv)
{
    if (dc_init(&argc, &argv, &world)) {
        fprintf(stderr, "%s\n", na_last_error());
        return 1;
    }
    if (na_mesh_parse(MPI_COMM_WORLD, mesh_spec(), &mesh) != NA_OK) {
        fprintf(stderr, "%s\n", na_last_error());
        return 1;
    }
    DC_RUN(test_mesh);
    DC_RUN(test_mesh_errors);
    DC_RUN(test_mapping);
    DC_RUN(test_all_reduce);
    DC_RUN(test_all_gather);
    DC_RUN(test_bf16);
    DC_RUN(test_reduce_scatter);
    DC_RUN(test_broadcast);
    DC_RUN(test_disagreement);
    DC_RUN(test_agree);
    DC_RUN(test_stats);
    DC_RUN(test_sharded);
    DC_RUN(test_sharded_contract);
    na_mesh_free(mesh);
    return dc_end();
}
