/* The AVX2 kernel set of the fused attention path: the plain-C kernels
 * (fused_kernels_c.h) compiled with AVX2 and FMA enabled by a target
 * attribute on each function (no file-wide flag, so the rest of the build
 * stays runnable on any x86-64; gcc and clang both honour the attribute).
 * fused_dispatch.c runs it only on CPUs with AVX2 and FMA. */
#if defined(__x86_64__)

#include "attention/fused_kernels_c.h"

NA__FUSED_C_KERNELS(avx2, __attribute__((target("avx2,fma"))))

#else
typedef int na__fused_avx2_unused; /* ISO C: no empty translation unit */
#endif
