/* The BLIS adapter, part one: which BLIS kernels run (blis.c has the
 * product wrappers).
 *
 * Debian's BLIS 0.9.0 does not know recent CPUs: it falls back to its
 * generic kernels on AMD Zen 4/5 and picks the AVX2 (haswell) kernels on
 * Intel Xeons that run its AVX-512 (skx) kernels 1.5x faster. BLIS is
 * linked statically, so its global kernel structure holds a context for
 * every x86-64 configuration it was built with. namedarr makes its own
 * choice, once, at first use:
 *
 *  1. Candidates: skx, zen3, zen2, zen, haswell and generic, those present
 *     in libblis.a whose instructions the CPU and OS support (cpu.h:
 *     AVX-512 F/DQ/BW/VL for skx, AVX2+FMA for the others) — whatever BLIS
 *     itself detected.
 *  2. With one candidate the choice is clear. Otherwise each candidate runs
 *     a small single-threaded product (192^3, a few ms in all, rounds
 *     interleaved, best of three) and the fastest wins; the preferred one
 *     (skx on AVX-512, else BLIS's own pick, else haswell) is kept when it
 *     is within 5% of the fastest, so timing noise cannot swap near-equal
 *     kernels.
 *  3. NAMEDARR_BLIS_KERNELS=<config> in the environment, or
 *     na_set_blis_kernels(), forces a candidate.
 *
 * The chosen context goes to BLIS's expert API (bli_?gemm_ex) on every call.
 */
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blis_include.h"

#include "blis_adapter.h"
#include "cpu.h"
#include "internal.h"

typedef struct candidate {
    const char *config;
    arch_t id;
    bool (*usable)(void);
    cntx_t *cntx;
    double gflops;
    char kernel[80];
} candidate;

static bool always(void) { return true; }

/* In order of preference when measurements tie. */
static candidate g_all[] = {
    {"skx", BLIS_ARCH_SKX, na__cpu_avx512, NULL, 0, ""},
    {"zen3", BLIS_ARCH_ZEN3, na__cpu_avx2_fma, NULL, 0, ""},
    {"zen2", BLIS_ARCH_ZEN2, na__cpu_avx2_fma, NULL, 0, ""},
    {"zen", BLIS_ARCH_ZEN, na__cpu_avx2_fma, NULL, 0, ""},
    {"haswell", BLIS_ARCH_HASWELL, na__cpu_avx2_fma, NULL, 0, ""},
    {"generic", BLIS_ARCH_GENERIC, always, NULL, 0, ""},
};
#define NALL ((int)(sizeof g_all / sizeof g_all[0]))

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static candidate *g_cand[NALL]; /* usable and present, preference order */
static int g_ncand;
static int g_auto;              /* index into g_cand of the automatic choice */
static _Atomic int g_forced = -1;
static na__blis_choice g_choice[NALL]; /* one description per candidate */
static char g_reason[NALL][320];
static char g_auto_reason[256];

/* ---- candidates ------------------------------------------------------------ */

/* BLIS's name for the sgemm microkernel of `c`. */
static void name_kernel(candidate *c)
{
    void_fp ukr = bli_cntx_get_l3_nat_ukr_dt(BLIS_FLOAT, BLIS_GEMM_UKR, c->cntx);
    static const struct {
        void_fp fp;
        const char *name;
    } known[] = {
        {(void_fp)bli_sgemm_skx_asm_32x12_l2, "bli_sgemm_skx_asm_32x12_l2"},
        {(void_fp)bli_sgemm_haswell_asm_6x16, "bli_sgemm_haswell_asm_6x16"},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (ukr == known[i].fp) {
            snprintf(c->kernel, sizeof c->kernel, "%s", known[i].name);
            return;
        }
    long mr = (long)bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_MR, c->cntx);
    long nr = (long)bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_NR, c->cntx);
    bool ref = bli_gks_cntx_l3_nat_ukr_is_ref(BLIS_FLOAT, BLIS_GEMM_UKR, c->cntx);
    snprintf(c->kernel, sizeof c->kernel, "bli_sgemm_%s_%s (%ldx%ld)", c->config,
             ref ? "ref" : "optimized", mr, nr);
}

static void find_candidates(void)
{
    for (int i = 0; i < NALL; i++) {
        candidate *c = &g_all[i];
        cntx_t **set = bli_gks_lookup_id(c->id);
        if (!set || !set[BLIS_NAT] || !c->usable())
            continue;
        c->cntx = set[BLIS_NAT];
        name_kernel(c);
        g_cand[g_ncand++] = c;
    }
}

static int find(const char *config)
{
    for (int i = 0; config && i < g_ncand; i++)
        if (strcmp(g_cand[i]->config, config) == 0)
            return i;
    return -1;
}

/* ---- measurement ----------------------------------------------------------- */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#define PROBE 192

/* Best of three single-threaded 192^3 products per candidate, in GFLOP/s;
 * rounds interleave the candidates so a burst of load hits them alike. */
static bool measure(void)
{
    const int64_t s = PROBE;
    float *buf = malloc(sizeof(float) * 3 * s * s);
    if (!buf)
        return false;
    float *a = buf, *b = buf + s * s, *c = buf + 2 * s * s, one = 1, zero = 0;
    for (int64_t i = 0; i < 2 * s * s; i++)
        buf[i] = (float)((i * 7919) % 61) / 61.0f - 0.5f;
    rntm_t r;
    bli_rntm_init(&r);
    bli_rntm_set_num_threads(1, &r);
    double best[NALL] = {0};
    for (int round = 0; round < 4; round++) /* round 0 warms up */
        for (int i = 0; i < g_ncand; i++) {
            double t0 = now();
            bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, s, s, s, &one, a, s, 1, b,
                         s, 1, &zero, c, s, 1, g_cand[i]->cntx, &r);
            double gf = 2.0 * (double)(s * s * s) / (now() - t0) / 1e9;
            if (round > 0 && gf > best[i])
                best[i] = gf;
        }
    for (int i = 0; i < g_ncand; i++)
        g_cand[i]->gflops = best[i];
    free(buf);
    return true;
}

/* The candidate kept when the measurements are close. */
static int preferred(arch_t detected)
{
    if (na__cpu_avx512() && find("skx") >= 0)
        return find("skx");
    for (int i = 0; i < g_ncand; i++)
        if (g_cand[i]->id == detected && detected != BLIS_ARCH_GENERIC)
            return i;
    int h = find("haswell");
    return h >= 0 ? h : 0;
}

static void choose(arch_t detected)
{
    if (g_ncand == 1) {
        g_auto = 0;
        snprintf(g_auto_reason, sizeof g_auto_reason,
                 "the only BLIS kernels this CPU can run (features: %s)",
                 na__cpu_features_str());
        return;
    }
    int pref = preferred(detected);
    if (!measure()) {
        g_auto = pref;
        snprintf(g_auto_reason, sizeof g_auto_reason,
                 "preferred for CPU features %s (not measured: out of memory)",
                 na__cpu_features_str());
        return;
    }
    int fast = 0;
    for (int i = 1; i < g_ncand; i++)
        if (g_cand[i]->gflops > g_cand[fast]->gflops)
            fast = i;
    g_auto = g_cand[pref]->gflops >= 0.95 * g_cand[fast]->gflops ? pref : fast;
    snprintf(g_auto_reason, sizeof g_auto_reason,
             "fastest of %d candidates on a %dx%dx%d product (%.1f GFLOP/s, 1 thread)%s; "
             "CPU features: %s",
             g_ncand, PROBE, PROBE, PROBE, g_cand[g_auto]->gflops,
             g_auto == fast ? "" : " within 5% of the fastest, preferred for its features",
             na__cpu_features_str());
}

static void describe(const char *version, const char *detected)
{
    for (int i = 0; i < g_ncand; i++)
        g_choice[i] = (na__blis_choice){
            .version = version,
            .detected = detected,
            .config = g_cand[i]->config,
            .gemm_kernel = g_cand[i]->kernel,
            .reason = g_reason[i],
        };
    snprintf(g_reason[g_auto], sizeof g_reason[g_auto], "BLIS %s detected %s; %s",
             version, detected, g_auto_reason);
}

static void select_kernels(void)
{
    bli_init();
    arch_t detected = bli_arch_query_id();
    find_candidates();
    const char *env = getenv("NAMEDARR_BLIS_KERNELS");
    int forced = find(env);
    if (forced >= 0) {
        g_auto = forced;
        snprintf(g_auto_reason, sizeof g_auto_reason,
                 "forced by NAMEDARR_BLIS_KERNELS (not measured)");
    } else {
        choose(detected);
        if (env && *env) {
            size_t used = strlen(g_auto_reason);
            snprintf(g_auto_reason + used, sizeof g_auto_reason - used,
                     "; NAMEDARR_BLIS_KERNELS=%.32s is not a candidate here, ignored",
                     env);
        }
    }
    describe(bli_info_get_version_str(), bli_arch_string(detected));
}

static int current(void)
{
    pthread_once(&g_once, select_kernels);
    int f = atomic_load_explicit(&g_forced, memory_order_relaxed);
    return f >= 0 ? f : g_auto;
}

/* ---- the adapter's interface -------------------------------------------------- */

const na__blis_choice *na__blis(void) { return &g_choice[current()]; }

void *na__blis_cntx(void) { return g_cand[current()]->cntx; }

int na__blis_candidates(na__blis_candidate *out, int cap)
{
    pthread_once(&g_once, select_kernels);
    for (int i = 0; i < g_ncand && i < cap; i++)
        out[i] = (na__blis_candidate){g_cand[i]->config, g_cand[i]->kernel,
                                      g_cand[i]->gflops};
    return g_ncand;
}

void *na__blis_config_cntx(const char *config)
{
    pthread_once(&g_once, select_kernels);
    int i = find(config);
    return i >= 0 ? g_cand[i]->cntx : NULL;
}

na_status na_set_blis_kernels(const char *config)
{
    pthread_once(&g_once, select_kernels);
    if (!config || strcmp(config, "auto") == 0) {
        atomic_store(&g_forced, -1);
        return NA_OK;
    }
    int i = find(config);
    if (i < 0) {
        char list[128] = "";
        size_t used = 0;
        for (int k = 0; k < g_ncand && used < sizeof list; k++)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
                                     k ? ", " : "", g_cand[k]->config);
        return na__fail(NA_ERR_ARGUMENT,
                        "na_set_blis_kernels: '%.32s' is not a candidate on this CPU "
                        "(candidates: %s)",
                        config, list);
    }
    if (i != g_auto)
        snprintf(g_reason[i], sizeof g_reason[i],
                 "forced by na_set_blis_kernels (automatic choice: %s)",
                 g_cand[g_auto]->config);
    atomic_store(&g_forced, i);
    return NA_OK;
}
