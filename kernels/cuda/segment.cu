/* unsorted_segment_sum: sf_cuda_segment.h's kernels and launchers, and the family's table. */
#include "sf_cuda_segment.h"

static const sf_kernel_entry sf_cu_segment_table[] = {SF_SEGMENT_TYPES(SF_SEGMENT_ENTRY)};
SF_CU_ENTRIES(segment, sf_cu_segment_table)
