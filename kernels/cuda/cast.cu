/* Cast CUDA kernels: sf_cuda_cast_<src>_<dst> for every pair of the covered
 * dtypes, elementwise.c's conversions (float to int truncates and saturates,
 * NaN -> 0; int to int wraps; to bool is x != 0; float16 and bfloat16 go through
 * float32, rounding to nearest even, sf_half.h),
 * through the elementwise launch over strided views. */
#include "sf_cuda_ew.cuh"

#define X_CAST(SDT, ST, SK, DDT, DTT, DK)                                                       \
    SF_EW_CAST(SDT, ST, SK, DDT, DTT, DK)                                                       \
    SF_CU_EW_KERNEL(cast_##SDT##_##DDT)                                                         \
    SF_CU_EW_PUBLIC(cast_##SDT##_##DDT, 1, SF_DTC_##SDT, 0, 0, SF_DTC_##DDT, 0)
SF_CAST_PAIRS(X_CAST)

#define E_CAST(SDT, ST, SK, DDT, DTT, DK) {"sf_cuda_cast_" #SDT "_" #DDT, sf_cuda_cast_##SDT##_##DDT},
static const sf_kernel_entry sf_cu_cast_table[] = {SF_CAST_PAIRS(E_CAST)};
SF_CU_ENTRIES(cast, sf_cu_cast_table)
