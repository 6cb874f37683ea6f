/* CPU features: cpuid (what the processor implements) and xgetbv (what the
 * operating system saves), probed once. See cpu.h. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define NA__X86 1
#endif

#include "cpu.h"

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static na__cpu g_cpu;
static char g_str[160];

#ifdef NA__X86
static bool bit(unsigned reg, int b) { return (reg >> b) & 1u; }

/* XCR0: which register states the OS saves (needs OSXSAVE). */
static unsigned long long xcr0(void)
{
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static void probe_x86(na__cpu *c)
{
    unsigned a, b, cx, d, max;
    if (!__get_cpuid(0, &max, &b, &cx, &d))
        return;
    memcpy(c->vendor, &b, 4);
    memcpy(c->vendor + 4, &d, 4);
    memcpy(c->vendor + 8, &cx, 4);
    c->vendor[12] = '\0';
    __cpuid(1, a, b, cx, d);
    unsigned long long x = bit(cx, 27) ? xcr0() : 0; /* OSXSAVE */
    c->os_avx = (x & 0x6) == 0x6;                    /* SSE and YMM state   */
    c->os_avx512 = c->os_avx && (x & 0xe0) == 0xe0;  /* opmask, ZMM 0-31    */
    c->avx = c->os_avx && bit(cx, 28);
    c->fma = c->avx && bit(cx, 12);
    c->f16c = c->avx && bit(cx, 29);
    if (max < 7)
        return;
    unsigned sub;
    __cpuid_count(7, 0, sub, b, cx, d);
    c->avx2 = c->avx && bit(b, 5);
    c->avx512f = c->os_avx512 && bit(b, 16);
    c->avx512dq = c->avx512f && bit(b, 17);
    c->avx512bw = c->avx512f && bit(b, 30);
    c->avx512vl = c->avx512f && bit(b, 31);
    if (sub >= 1) {
        __cpuid_count(7, 1, a, b, cx, d);
        c->avx512_bf16 = c->avx512f && bit(a, 5);
    }
}
#endif

static void probe(void)
{
#ifdef NA__X86
    probe_x86(&g_cpu);
#endif
    const na__cpu *c = &g_cpu;
    const struct {
        bool on;
        const char *name;
    } f[] = {{c->avx, "avx"},           {c->avx2, "avx2"},         {c->fma, "fma"},
             {c->f16c, "f16c"},         {c->avx512f, "avx512f"},   {c->avx512dq, "avx512dq"},
             {c->avx512bw, "avx512bw"}, {c->avx512vl, "avx512vl"}, {c->avx512_bf16, "avx512_bf16"}};
    size_t used = 0;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].on && used < sizeof g_str)
            used += (size_t)snprintf(g_str + used, sizeof g_str - used, "%s%s",
                                     used ? " " : "", f[i].name);
    if (used == 0)
        snprintf(g_str, sizeof g_str, "none");
}

const na__cpu *na__cpu_get(void)
{
    pthread_once(&g_once, probe);
    return &g_cpu;
}

bool na__cpu_avx2_fma(void)
{
    const na__cpu *c = na__cpu_get();
    return c->avx2 && c->fma;
}

bool na__cpu_avx512(void)
{
    const na__cpu *c = na__cpu_get();
    return c->avx512f && c->avx512dq && c->avx512bw && c->avx512vl;
}

bool na__cpu_avx512_bf16(void) { return na__cpu_avx512() && na__cpu_get()->avx512_bf16; }

const char *na__cpu_features_str(void)
{
    na__cpu_get();
    return g_str;
}
