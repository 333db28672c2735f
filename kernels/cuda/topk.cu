/* top_k and in_top_k: sf_cuda_topk.h's kernels and launchers, and the family's table. */
#include "sf_cuda_topk.h"

static const sf_kernel_entry sf_cu_topk_table[] = {SF_TOPK_TYPES(SF_TOPK_ENTRY) SF_IN_TOPK_ENTRIES};
SF_CU_ENTRIES(topk, sf_cu_topk_table)
