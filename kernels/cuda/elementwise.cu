/* Elementwise CUDA kernels: unary, binary (with broadcasting), compare,
 * logical, the activation gradients, select and addn, each
 * sf_cuda_<op>_<dtype> the CUDA version of the C kernel of the same name (casts
 * are in cast.cu, copies in array.cu).
 *
 * The ops and their expressions come from staticflow/ops/scalar_table.py (the
 * generated sf_scalar_table.h) through the bodies of sf_cuda_bodies.h: one
 * thread per output element in a grid-stride loop, adjacent threads on
 * adjacent elements, so views with unit inner stride are accessed coalesced.
 * Integer division or modulo by zero and negative integer powers are reported
 * through the family's error slot (their kernels wait for the device; the
 * others do not). float16 and bfloat16 load as float32, compute in float32 and
 * round back to nearest even (sf_half.h), bit for bit the C kernels' results.
 */
#include "sf_cuda_ew.cuh"
#include "sf_scalar_table.h"

/* the list entries: body, kernel, public function */
#define X_U(OP, DT, T, EXPR)                                                                    \
    SF_EW_U(OP, DT, T, EXPR)                                                                    \
    SF_CU_EW_KERNEL(OP##_##DT)                                                                  \
    SF_CU_EW_PUBLIC(OP##_##DT, 1, SF_DTC_##DT, 0, 0, SF_DTC_##DT, SF_CU_FALLIBLE(EXPR))
#define X_UA(OP, DT, T, EXPR)                                                                   \
    SF_EW_UA(OP, DT, T, EXPR)                                                                   \
    SF_CU_EW_KERNEL(OP##_##DT)                                                                  \
    SF_CU_EW_PUBLIC(OP##_##DT, 1, SF_DTC_##DT, 0, 0, SF_DTC_##DT, 0)
#define X_B(OP, DT, TI, ODT, TO, EXPR)                                                          \
    SF_EW_B(OP, DT, TI, ODT, TO, EXPR)                                                          \
    SF_CU_EW_KERNEL(OP##_##DT)                                                                  \
    SF_CU_EW_PUBLIC(OP##_##DT, 2, SF_DTC_##DT, SF_DTC_##DT, 0, SF_DTC_##ODT, SF_CU_FALLIBLE(EXPR))
#define X_BA(OP, DT, TI, ODT, TO, EXPR)                                                         \
    SF_EW_BA(OP, DT, TI, ODT, TO, EXPR)                                                         \
    SF_CU_EW_KERNEL(OP##_##DT)                                                                  \
    SF_CU_EW_PUBLIC(OP##_##DT, 2, SF_DTC_##DT, SF_DTC_##DT, 0, SF_DTC_##ODT, 0)

#define X_UH(OP, DT, T, EXPR)                                                                   \
    SF_EW_UH(OP, DT, T, EXPR)                                                                   \
    SF_CU_EW_KERNEL(OP##_##DT)                                                                  \
    SF_CU_EW_PUBLIC(OP##_##DT, 1, SF_DTC_##DT, 0, 0, SF_DTC_##DT, 0)
#define X_UAH(OP, DT, T, EXPR)                                                                  \
    SF_EW_UAH(OP, DT, T, EXPR)                                                                  \
    SF_CU_EW_KERNEL(OP##_##DT)                                                                  \
    SF_CU_EW_PUBLIC(OP##_##DT, 1, SF_DTC_##DT, 0, 0, SF_DTC_##DT, 0)
#define X_BH(OP, DT, TI, ODT, TO, EXPR)                                                         \
    SF_EW_BH(OP, DT, TI, ODT, TO, EXPR)                                                         \
    SF_CU_EW_KERNEL(OP##_##DT)                                                                  \
    SF_CU_EW_PUBLIC(OP##_##DT, 2, SF_DTC_##DT, SF_DTC_##DT, 0, SF_DTC_##ODT, 0)
#define X_BAH(OP, DT, TI, ODT, TO, EXPR)                                                        \
    SF_EW_BAH(OP, DT, TI, ODT, TO, EXPR)                                                        \
    SF_CU_EW_KERNEL(OP##_##DT)                                                                  \
    SF_CU_EW_PUBLIC(OP##_##DT, 2, SF_DTC_##DT, SF_DTC_##DT, 0, SF_DTC_##ODT, 0)

#define X_FLOAT(DT, T, S) SF_EW_FLOAT_LISTS(DT, T, S, X_U, X_UA, X_B, X_BA)
#define X_HALF(DT, T, S) SF_EW_FLOAT_LISTS(DT, T, S, X_UH, X_UAH, X_BH, X_BAH)
#define X_INT(DT, T, UT) SF_EW_INT_LISTS(DT, T, UT, X_U, X_B)
#define X_SMALL(DT, T, UT) SF_EW_SMALL_INT_LISTS(DT, T, UT, X_U, X_B)
#define X_UINT(DT, T, UT) SF_EW_UINT_LISTS(DT, T, UT, X_U, X_B)
SF_CU_FLOAT_TYPES(X_FLOAT)
SF_CU_HALF_TYPES(X_HALF)
SF_CU_INT_TYPES(X_INT)
SF_CU_SMALL_INT_TYPES(X_SMALL)
SF_CU_UINT_TYPES(X_UINT)
SF_EW_BOOL_LISTS(X_U, X_B)

#define X_SELECT(DT, T)                                                                         \
    SF_EW_SELECT(DT, T)                                                                         \
    SF_CU_EW_KERNEL(select_##DT)                                                                \
    SF_CU_EW_PUBLIC(select_##DT, 3, SF_BOOL, SF_DTC_##DT, SF_DTC_##DT, SF_DTC_##DT, 0)
SF_CU_ALL(X_SELECT)

/* addn: sf_ew_addn_run's passes (sf_cuda_ew.h); the 16-bit floats' bodies round after
 * each addition (SF_EW_ADDN_H), the launch is the same */
#define SF_CU_ADDN(DT)                                                                          \
    SF_CU_EW_KERNEL(addn_##DT)                                                                  \
    static int sf_cu_addn_go_##DT(sf_call *c, const char *name, const sf_ew_plan *p, int64_t n) \
    {                                                                                           \
        return sf_cu_ew_go(c, name, k_addn_##DT, p, n, 0);                                      \
    }                                                                                           \
    extern "C" int sf_cuda_addn_##DT(sf_call *c)                                                \
    {                                                                                           \
        return sf_ew_addn_run(c, "sf_cuda_addn_" #DT, SF_DTC_##DT, sf_cu_addn_go_##DT);         \
    }
#define X_ADDN(DT, T, UT) SF_EW_ADDN(DT, T, UT) SF_CU_ADDN(DT)
SF_ADDN_TYPES(X_ADDN)
#define X_ADDN_H(DT) SF_EW_ADDN_H(DT) SF_CU_ADDN(DT)
SF_ADDN_HALF_TYPES(X_ADDN_H)

/* the table */
#define E_U(OP, DT, T, EXPR) {"sf_cuda_" #OP "_" #DT, sf_cuda_##OP##_##DT},
#define E_B(OP, DT, TI, ODT, TO, EXPR) {"sf_cuda_" #OP "_" #DT, sf_cuda_##OP##_##DT},
#define E_FLOAT(DT, T, S) SF_EW_FLOAT_LISTS(DT, T, S, E_U, E_U, E_B, E_B)
#define E_INT(DT, T, UT) SF_EW_INT_LISTS(DT, T, UT, E_U, E_B)
#define E_SMALL(DT, T, UT) SF_EW_SMALL_INT_LISTS(DT, T, UT, E_U, E_B)
#define E_UINT(DT, T, UT) SF_EW_UINT_LISTS(DT, T, UT, E_U, E_B)
#define E_SELECT(DT, T) {"sf_cuda_select_" #DT, sf_cuda_select_##DT},
#define E_ADDN(DT, T, UT) {"sf_cuda_addn_" #DT, sf_cuda_addn_##DT},
#define E_ADDN_H(DT) {"sf_cuda_addn_" #DT, sf_cuda_addn_##DT},

static const sf_kernel_entry sf_cu_ew_table[] = {
    SF_CU_FLOAT_TYPES(E_FLOAT) SF_CU_HALF_TYPES(E_FLOAT) SF_CU_INT_TYPES(E_INT) SF_CU_SMALL_INT_TYPES(E_SMALL) SF_CU_UINT_TYPES(E_UINT)
    SF_EW_BOOL_LISTS(E_U, E_B) SF_CU_ALL(E_SELECT) SF_ADDN_TYPES(E_ADDN)
    SF_ADDN_HALF_TYPES(E_ADDN_H)};

SF_CU_ENTRIES(elementwise, sf_cu_ew_table)
