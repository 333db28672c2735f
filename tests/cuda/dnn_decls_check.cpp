// kernels/cuda/sf_cuda_dnn.h against NVIDIA's headers: every cuBLAS/cuDNN function the
// kernels open with dlopen has the type its header declares, and the constants and the
// algorithm-result layout are the headers' (compiled, never run, by test_library.py).
#include <cuda_runtime_api.h>
#include <cublas_v2.h>
#include <cudnn.h>

#include <cstddef>
#include <type_traits>

#define SF_DNN_REAL
#include "sf_cuda_dnn.h"

#define SF_CHECK_DECL(R, NAME, ARGS) \
    static_assert(std::is_same<decltype(&NAME), R(*) ARGS>::value, #NAME " is not declared as in its header");
SF_CUBLAS_FUNCS(SF_CHECK_DECL)
SF_CUDNN_FUNCS(SF_CHECK_DECL)

static_assert(SF_CUBLAS_STATUS_SUCCESS == CUBLAS_STATUS_SUCCESS, "cublasStatus_t");
static_assert(SF_CUBLAS_OP_N == CUBLAS_OP_N && SF_CUBLAS_OP_T == CUBLAS_OP_T, "cublasOperation_t");
static_assert(SF_CUBLAS_POINTER_MODE_HOST == CUBLAS_POINTER_MODE_HOST &&
                  SF_CUBLAS_POINTER_MODE_DEVICE == CUBLAS_POINTER_MODE_DEVICE, "cublasPointerMode_t");
static_assert(SF_CUDNN_STATUS_SUCCESS == CUDNN_STATUS_SUCCESS, "cudnnStatus_t");
static_assert(SF_CUDNN_DATA_FLOAT == CUDNN_DATA_FLOAT && SF_CUDNN_DATA_DOUBLE == CUDNN_DATA_DOUBLE, "cudnnDataType_t");
static_assert(SF_CUDNN_TENSOR_NCHW == CUDNN_TENSOR_NCHW, "cudnnTensorFormat_t");
static_assert(SF_CUDNN_CROSS_CORRELATION == CUDNN_CROSS_CORRELATION, "cudnnConvolutionMode_t");
static_assert(SF_CUDNN_FMA_MATH == CUDNN_FMA_MATH, "cudnnMathType_t");
// the opaque stand-ins have the ABI of the real types
static_assert(sizeof(cublasOperation_t) == sizeof(int) && sizeof(cublasStatus_t) == sizeof(int) &&
                  sizeof(cublasPointerMode_t) == sizeof(int), "enum size");
static_assert(sizeof(cudnnDataType_t) == sizeof(int) && sizeof(cudnnStatus_t) == sizeof(int), "enum size");
static_assert(sizeof(cudnnConvolutionFwdAlgo_t) == sizeof(int) && sizeof(cudnnMathType_t) == sizeof(int), "enum size");

#define SF_CHECK_PERF(T)                                                                                  \
    static_assert(sizeof(T) == sizeof(sf_cudnn_algo_perf) &&                                              \
                      offsetof(T, algo) == offsetof(sf_cudnn_algo_perf, algo) &&                          \
                      offsetof(T, status) == offsetof(sf_cudnn_algo_perf, status) &&                      \
                      offsetof(T, memory) == offsetof(sf_cudnn_algo_perf, memory) &&                      \
                      offsetof(T, determinism) == offsetof(sf_cudnn_algo_perf, determinism) &&            \
                      offsetof(T, mathType) == offsetof(sf_cudnn_algo_perf, mathType),                    \
                  #T " differs from sf_cudnn_algo_perf");
SF_CHECK_PERF(cudnnConvolutionFwdAlgoPerf_t)
SF_CHECK_PERF(cudnnConvolutionBwdDataAlgoPerf_t)
SF_CHECK_PERF(cudnnConvolutionBwdFilterAlgoPerf_t)
