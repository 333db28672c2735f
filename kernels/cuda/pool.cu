/* max_pool, avg_pool and their gradients: sf_cuda_pool.h's kernels and launchers,
 * and the family's table. */
#include "sf_cuda_pool.h"

static const sf_kernel_entry sf_cu_pool_table[] = {SF_POOL_TYPES(SF_POOL_ENTRY)};
SF_CU_ENTRIES(pool, sf_cu_pool_table)
