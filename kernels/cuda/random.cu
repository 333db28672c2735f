/* Random CUDA kernels: random.c's counter-based Philox4x32-10 streams, so the
 * GPU draws the CPU's values for the same state: sf_cuda_random_uniform_<dt>,
 * sf_cuda_random_normal_<dt>, sf_cuda_truncated_normal_<dt> (float32,
 * float64) and sf_cuda_random_uniform_int_<dt> (int32, int64). One thread per
 * Philox block (per truncated-normal group); in[0] is the device state [seed,
 * seed2, counter], read by every thread and advanced afterwards by a one-thread
 * kernel on the same stream. Uniform and integer values equal the CPU's bit
 * for bit; normals go through the device's log, sin and cos (within a few ulp
 * of the CPU's). The candidate samplers draw in sequence on one thread (their
 * draws depend on the set of those before); see sf_cuda_random.h. */
#include "sf_cuda_random.h"

#define E_RANDOM(KIND, DT, T, EPB, BPU, PUBLIC) {"sf_cuda_" #PUBLIC, sf_cuda_##PUBLIC},
static const sf_kernel_entry sf_cu_random_table[] = {SF_CU_RANDOM(E_RANDOM) SF_SAMPLER_ENTRIES};
SF_CU_ENTRIES(random, sf_cu_random_table)
