/* argmax / argmin: sf_cuda_arg.h's kernels and launchers, and the family's table. */
#include "sf_cuda_arg.h"

static const sf_kernel_entry sf_cu_arg_table[] = {SF_ARG_KERNELS(SF_ARG_ENTRY)};
SF_CU_ENTRIES(arg, sf_cu_arg_table)
