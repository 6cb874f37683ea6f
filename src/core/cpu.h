/* The CPU feature probe shared by the whole library (cpu.c): cpuid for what
 * the processor implements and xgetbv for what the operating system saves
 * on a context switch (AVX and AVX-512 registers are usable only if both
 * say yes). Kernel choices (BLIS configuration, fused attention, matrix-
 * vector kernels) read these flags and never a model name.
 *
 * Not installed; prefix na__. Probed once, thread-safe.
 */
#ifndef NAMEDARR_CORE_CPU_H
#define NAMEDARR_CORE_CPU_H

#include <stdbool.h>

typedef struct na__cpu {
    char vendor[13];       /* "AuthenticInt", "AuthenticAMD", ... (report only) */
    bool os_avx;           /* XCR0 saves the YMM state                         */
    bool os_avx512;        /* XCR0 saves the opmask and ZMM state              */
    bool avx, fma, f16c;   /* usable: the CPU has them and the OS saves them   */
    bool avx2;
    bool avx512f, avx512dq, avx512bw, avx512vl;
    bool avx512_bf16;      /* vdpbf16ps, vcvtne2ps2bf16                        */
} na__cpu;

/* The probed features (static storage). */
const na__cpu *na__cpu_get(void);

/* AVX2 and FMA usable (BLIS haswell/zen kernels, the "avx2" kernel sets). */
bool na__cpu_avx2_fma(void);
/* AVX-512 F, DQ, BW and VL usable (BLIS skx kernels, "avx512" sets). */
bool na__cpu_avx512(void);
/* AVX-512 as above plus AVX512-BF16 (bf16 dot products). */
bool na__cpu_avx512_bf16(void);

/* The usable features as one line, "avx avx2 fma ... avx512_bf16". */
const char *na__cpu_features_str(void);

#endif
