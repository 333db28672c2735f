/* check_numerics: sf_cuda_debug.h's kernels and launchers, and the family's table. */
#include "sf_cuda_debug.h"

static const sf_kernel_entry sf_cu_debug_table[] = {SF_DEBUG_TYPES(SF_DEBUG_ENTRY)};
SF_CU_ENTRIES(debug, sf_cu_debug_table)
