/* The CPU executor: the joined kernel table, the plan runner and the thread
 * count. */
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include <cblas.h>

#include "sf_internal.h"

/* ---- kernel table ------------------------------------------------------- */

typedef int64_t (*sf_entries_fn)(const sf_kernel_entry **out);

static const sf_entries_fn sf_families[] = {
    sf_cpu_elementwise_entries,
    sf_cpu_array_entries,
    sf_cpu_linalg_entries,
    sf_cpu_reduce_entries,
    sf_cpu_nn_entries,
    sf_cpu_training_entries,
    sf_cpu_random_entries,
    sf_cpu_debug_entries,
    sf_cpu_conv_entries,
    sf_cpu_topk_entries,
    sf_cpu_fused_entries,
};
#define SF_N_FAMILIES ((int)(sizeof sf_families / sizeof sf_families[0]))

/* The joined table, built once. The family tables are static arrays, so the
 * join is deterministic: two threads racing on the first call would write the
 * same values; the critical section makes it clean anyway. */
static sf_kernel_entry *sf_table;
static int64_t sf_table_count;
static int sf_table_built;

static void sf_build_table(void)
{
    sf_blas_init();
    int64_t total = 0;
    for (int f = 0; f < SF_N_FAMILIES; f++) {
        const sf_kernel_entry *e = NULL;
        total += sf_families[f](&e);
    }
    /* The executor is not a kernel: one allocation, kept for the process
     * lifetime, holds the joined table (the family sizes are only known at
     * run time). */
    sf_kernel_entry *buf = (sf_kernel_entry *)calloc((size_t)(total ? total : 1), sizeof *buf);
    if (!buf) {
        sf_table_count = 0;
        return;
    }
    int64_t k = 0;
    for (int f = 0; f < SF_N_FAMILIES; f++) {
        const sf_kernel_entry *e = NULL;
        int64_t n = sf_families[f](&e);
        for (int64_t i = 0; i < n; i++) buf[k++] = e[i];
    }
    sf_table = buf;
    sf_table_count = k;
}

const sf_kernel_entry *sf_cpu_kernel_table(int64_t *count)
{
    int built;
#pragma omp atomic read
    built = sf_table_built;
    if (!built) {
#pragma omp critical(sf_kernel_table)
        {
            if (!sf_table_built) {
                sf_build_table();
#pragma omp atomic write
                sf_table_built = 1;
            }
        }
    }
    if (count) *count = sf_table_count;
    return sf_table;
}

/* ---- plan runner -------------------------------------------------------- */

int64_t sf_run_plan(sf_kernel *fns, sf_call *calls, int64_t n, int *status)
{
    for (int64_t i = 0; i < n; i++) {
        int st = fns[i](&calls[i]);
        if (st != SF_OK) {
            if (status) *status = st;
            return i;
        }
    }
    if (status) *status = SF_OK;
    return -1;
}

/* ---- threads ------------------------------------------------------------ */

/* OpenMP keeps the thread count per calling thread (an ICV of its initial
 * task): sf_set_num_threads affects parallel regions started by the thread
 * that called it, which for Python is the thread that runs the session. */

static int sf_default_threads; /* OpenMP default, 0 until captured */

static int sf_capture_default(void)
{
    int d;
#pragma omp atomic read
    d = sf_default_threads;
    if (d <= 0) {
        d = omp_get_max_threads();
        if (d < 1) d = 1;
#pragma omp critical(sf_threads)
        {
            if (sf_default_threads <= 0) {
#pragma omp atomic write
                sf_default_threads = d;
            }
        }
    }
    return d;
}

/* The OpenMP thread count, which every kernel's parallel work uses, BLAS
 * products included (they are split over OpenMP threads, linalg.c; the BLAS
 * library itself stays on one thread). */
void sf_set_num_threads(int n)
{
    int d = sf_capture_default();
    omp_set_num_threads(n > 0 ? n : d);
}

int sf_get_num_threads(void)
{
    sf_capture_default();
    return omp_get_max_threads();
}
