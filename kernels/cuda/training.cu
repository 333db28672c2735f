/* Optimizer-update CUDA kernels: sf_cuda_training.h's kernels and launchers, and
 * the family's table. */
#include "sf_cuda_training.h"

static const sf_kernel_entry sf_cu_tr_table[] = {SF_TR_OPS(SF_TR_ENTRY_F32) SF_TR_OPS(SF_TR_ENTRY_F64)};
SF_CU_ENTRIES(training, sf_cu_tr_table)
