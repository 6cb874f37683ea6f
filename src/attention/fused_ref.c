/* The reference kernel set of the fused attention path: the plain-C
 * kernels (fused_kernels_c.h) compiled for any CPU. It runs where no
 * faster set can, and every faster set is tested against it
 * (tests/test_fused.c). */
#include "attention/fused_kernels_c.h"

NA__FUSED_C_KERNELS(generic, )
