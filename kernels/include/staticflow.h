/* staticflow kernel ABI.
 *
 * Every kernel, hand-written or generated, CPU or GPU, has one signature:
 *
 *     int sf_<device>_<op>_<dtype>(sf_call *call);
 *
 * It reads the tensors in call->in, writes the caller-allocated tensors in
 * call->out, and returns SF_OK, or an error code after writing a message into
 * call->msg. A kernel never allocates, prints, exits or aborts.
 *
 * This header is also the cffi cdef: it holds only declarations cffi can
 * parse (no #include in the cdef part, no macros with arguments).
 */
#ifndef STATICFLOW_H
#define STATICFLOW_H
#ifndef SF_CDEF
#include <stdint.h>
#endif

#define SF_MAX_DIMS 8
#define SF_MAX_ATTRS 16
#define SF_MSG_LEN 256

/* dtype codes are TensorFlow's DataType enum values */
enum {
    SF_FLOAT32 = 1,
    SF_FLOAT64 = 2,
    SF_INT32 = 3,
    SF_UINT8 = 4,
    SF_INT16 = 5,
    SF_INT8 = 6,
    SF_INT64 = 9,
    SF_BOOL = 10,
    SF_BFLOAT16 = 14,
    SF_UINT16 = 17,
    SF_FLOAT16 = 19,
    SF_UINT32 = 22,
    SF_UINT64 = 23
};

#ifndef SF_CDEF
/* Bytes of one element of a dtype code; 0 for a code not listed. (Shared by the C and
 * CUDA kernels, so that they write each dtype's size down once.) */
static inline int64_t sf_dtype_size(int32_t code)
{
    switch (code) {
    case SF_FLOAT64: case SF_INT64: case SF_UINT64: return 8;
    case SF_FLOAT32: case SF_INT32: case SF_UINT32: return 4;
    case SF_FLOAT16: case SF_BFLOAT16: case SF_INT16: case SF_UINT16: return 2;
    case SF_UINT8: case SF_INT8: case SF_BOOL: return 1;
    default: return 0;
    }
}
#endif

/* status codes (mirror staticflow.errors: 3 = InvalidArgument, 11 = OutOfRange, 13 = Internal) */
enum {
    SF_OK = 0,
    SF_ERR_INVALID_ARGUMENT = 3,
    SF_ERR_OUT_OF_RANGE = 11,
    SF_ERR_UNIMPLEMENTED = 12,
    SF_ERR_INTERNAL = 13
};

/* A strided view of memory. data points at element [0, ..., 0]; strides are
 * counted in elements (not bytes) and may be 0 (broadcast) or negative. */
typedef struct sf_tensor {
    void *data;
    int32_t dtype;
    int32_t ndim;
    int64_t shape[SF_MAX_DIMS];
    int64_t strides[SF_MAX_DIMS];
} sf_tensor;

/* One kernel invocation. The meaning of iattr/fattr is fixed per kernel
 * family and documented next to the family's declarations below. */
typedef struct sf_call {
    int32_t n_in;
    int32_t n_out;
    sf_tensor *in;
    sf_tensor *out;
    int64_t iattr[SF_MAX_ATTRS];
    double fattr[SF_MAX_ATTRS];
    void *workspace;
    int64_t workspace_size;
    char msg[SF_MSG_LEN];
    /* The stream a device kernel launches on (a cudaStream_t for the CUDA
     * kernels; NULL: the default stream). The C kernels ignore it. Last, so
     * that the members above keep their offsets. */
    void *stream;
} sf_call;

typedef int (*sf_kernel)(sf_call *call);

/* The executor: runs calls[0..n) in order through fns[0..n). Returns -1 when
 * all succeeded, else the index of the first failing call (whose msg and the
 * returned status in *status tell why). The kernels run on the caller's OpenMP
 * thread count or fewer: each plan (known by `calls`) keeps the time of its runs
 * at the counts it has tried (the caller's, halved down to 1) and takes the
 * fastest, trying the others now and then; on a machine whose cores other
 * processes hold, fewer threads are often faster. Kernels cut their work by
 * its size, not the thread count, so the choice never changes a result. */
int64_t sf_run_plan(sf_kernel *fns, sf_call *calls, int64_t n, int *status);

/* The scheduled executor: runs calls[0..n) on up to `threads` threads (the
 * calling one and a process-wide pool of workers, made once and reused), each
 * call once every call it depends on has finished. npred[i] is the number of
 * calls call i waits for; its successors are succ[succ_start[i]..succ_start[i+1]).
 * The dependencies must order every two calls that touch the same bytes with
 * at least one writing, so results are the sequential loop's, bit for bit.
 * Ready calls start lowest index first. The calls running at once share the
 * OpenMP thread count sf_run_plan would give the run (below): a call that
 * starts gets what its running peers do not hold, split evenly with the ready
 * peers of 32 KiB or more that idle threads can start with it, and at least one
 * thread. cost: NULL (every call a peer of every other), or n estimates of the
 * calls' costs in any one unit; a call whose cost is at most 1/8 of another's
 * is not that one's peer.
 * threads <= 1, or a pool busy with another run, is sf_run_plan's loop in
 * order. trace: NULL, or 4 * n int64s
 * that receive each call's start and end (CLOCK_MONOTONIC ns), the index of
 * the thread that ran it (0: the caller) and the OpenMP threads it was given.
 * Returns as sf_run_plan: -1, or the
 * lowest index of the calls that failed (no call starts after a failure; the
 * running ones finish). */
int64_t sf_run_schedule(sf_kernel *fns, sf_call *calls, int64_t n, const int32_t *npred,
                        const int64_t *succ_start, const int32_t *succ, const int64_t *cost,
                        int threads, int64_t *trace, int *status);

/* A while loop whose cond and body are each one segment of kernel calls (a
 * nested plan without host steps), run from C: no return to the interpreter
 * between iterations. Before a segment's calls run, its copy_in copies are made
 * (the loop variables into its feed buffers); after, its copy_out copies (its
 * results back into the loop variables). Every copy_in copy of a segment is
 * made before any of its copy_out copies, so results may be written over the
 * variables they came from. */
typedef struct sf_copy {
    void *dst;
    const void *src;
    int64_t nbytes;
} sf_copy;

typedef struct sf_segment {
    sf_kernel *fns;
    sf_call *calls;
    int64_t n;
    const sf_copy *copy_in;
    int64_t n_copy_in;
    const sf_copy *copy_out;
    int64_t n_copy_out;
} sf_segment;

/* Runs iterations (cond; if *pred is zero, stop; body) until the cond says
 * stop, `limit` bodies have run, or `budget_ns` has passed (checked after
 * each body; <= 0: no time limit), so the caller can look at signals between
 * calls and call again. *iterations receives the bodies run and *stopped 1
 * when the cond said stop. Returns -1 when every call succeeded, else the
 * index of the failing call in its segment, which *which names (0: cond,
 * 1: body), with its status in *status (as sf_run_plan). */
int64_t sf_run_while(const sf_segment *cond, const uint8_t *pred, const sf_segment *body,
                     int64_t limit, int64_t budget_ns, int64_t *iterations, int *stopped,
                     int *which, int *status);

/* Whether sf_run_plan and sf_run_schedule choose the thread count per run (1, the
 * default) or always use the caller's (0): for measurements. */
void sf_set_adaptive_threads(int on);

/* The thread-count choice of a fresh plan replayed on given times, for tests: run i at
 * rung r (top >> r threads) takes ns[i * rungs + r]; rungs_out[i] receives the rung run i
 * took. Returns the rung count (top, top/2, ..., 1), or -1 for bad arguments. */
int64_t sf_policy_replay(int top, int64_t runs, const int64_t *ns, int32_t *rungs_out);

/* Processors OpenMP sees: the default thread count of the scheduled executor. */
int sf_num_procs(void);

/* The work (elements; multiply-adds for a product) below which kernels stay on one
 * thread; n < 0 restores the defaults. For tests: a low floor sends small inputs down
 * the parallel paths. Not for use while kernels run. */
void sf_set_parallel_min(int64_t n);

/* Every kernel a library holds, by name, so Python finds kernels by the names
 * the op registry declares and can check that none is missing. */
typedef struct sf_kernel_entry {
    const char *name;
    sf_kernel fn;
} sf_kernel_entry;

const sf_kernel_entry *sf_cpu_kernel_table(int64_t *count);

/* Number of threads the kernels may use (OpenMP); 0 keeps the default. */
void sf_set_num_threads(int n);
int sf_get_num_threads(void);

/* Bytes in one vector register of the build's target (64 with AVX-512): the
 * direct conv kernels' chunk lengths are multiples of it (conv.c). */
int sf_cpu_simd_bytes(void);

/* Activations a fused kernel applies in its epilogue (iattr "activation" of
 * fused.c and conv.c's fused kernels), with the elementwise kernels' exact
 * expressions: relu x < 0 ? 0 : x; relu6 min(max(x, 0), 6); elu x > 0 ? x :
 * expm1(x); selu (TF's constants); leaky_relu x > 0 ? x : alpha * x;
 * sigmoid (stable: exp(-|x|)); tanh. */
enum {
    SF_ACT_NONE = 0,
    SF_ACT_RELU = 1,
    SF_ACT_RELU6 = 2,
    SF_ACT_ELU = 3,
    SF_ACT_SELU = 4,
    SF_ACT_LEAKY_RELU = 5,
    SF_ACT_SIGMOID = 6,
    SF_ACT_TANH = 7
};

/* Attribute positions: each kernel family's iattr/fattr entries by name. The C
 * kernels read call->iattr[SF_CONV_STRIDE_H], and the Python lowering writes the
 * same names (staticflow/ops/abi.py, checked against this header by a test). */

/* matmul (linalg.c), gemm_apply and fused_matmul (fused.c): op(a) = a^T when set */
enum { SF_MATMUL_TRANSPOSE_A = 0, SF_MATMUL_TRANSPOSE_B = 1 };

/* fused_matmul (fused.c): after SF_MATMUL_*; fattr alpha of leaky_relu */
enum { SF_FUSED_MATMUL_ACTIVATION = 2, SF_FUSED_MATMUL_HAS_BIAS = 3 };

/* bias_activation_grad (fused.c) */
enum { SF_BIAS_ACT_GRAD_ACTIVATION = 0 };

/* fattr of the kernels with an activation's parameter: leaky_relu(_grad), fused epilogues */
enum { SF_FATTR_ALPHA = 0 };

/* reduce (reduce.c): how many trailing dims of in[0] are reduced */
enum { SF_REDUCE_NDIMS = 0 };

/* apply_momentum / apply_adam (use_nesterov), apply_adagrad (update_slots) (training.c) */
enum { SF_APPLY_USE_NESTEROV = 0, SF_APPLY_UPDATE_SLOTS = 0 };

/* candidate samplers (random.c) */
enum { SF_SAMPLER_RANGE_MAX = 0, SF_SAMPLER_UNIQUE = 1 };

/* conv, direct conv, depthwise conv and the fused convs (conv.c) */
enum {
    SF_CONV_STRIDE_H = 0,
    SF_CONV_STRIDE_W = 1,
    SF_CONV_DILATION_H = 2,
    SF_CONV_DILATION_W = 3,
    SF_CONV_PAD_TOP = 4,
    SF_CONV_PAD_LEFT = 5,
    SF_CONV_CHUNK = 6, /* images per chunk (im2col), or the direct conv's chunk length */
    /* the fused convs' epilogue */
    SF_CONV_ACTIVATION = 7,
    SF_CONV_HAS_BIAS = 8,
    SF_CONV_POOL_KSIZE_H = 9, /* a second output: the max pool of out[0] */
    SF_CONV_POOL_KSIZE_W = 10,
    SF_CONV_POOL_STRIDE_H = 11,
    SF_CONV_POOL_STRIDE_W = 12,
    SF_CONV_POOL_PAD_TOP = 13,
    SF_CONV_POOL_PAD_LEFT = 14
};

/* max_pool, avg_pool and their gradients (conv.c) */
enum {
    SF_POOL_KSIZE_H = 0,
    SF_POOL_KSIZE_W = 1,
    SF_POOL_STRIDE_H = 2,
    SF_POOL_STRIDE_W = 3,
    SF_POOL_PAD_TOP = 4,
    SF_POOL_PAD_LEFT = 5
};

/* ---------------------------------------------------------------------------
 * Kernel families. Names are sf_cpu_<op>_<dtype> with dtype one of float16,
 * bfloat16, float32, float64, int8, int16, int32, int64, uint8, uint16,
 * uint32, uint64, bool. "view" means any strides (0 and negative included);
 * out tensors are views too (usually contiguous). Python coalesces dims and
 * moves axes before the call, so kernels see few dims.
 *
 * 16-bit floats (float16, bfloat16) are stored as their bit patterns; their
 * kernels compute in float32 and round to nearest even, as TensorFlow's CPU
 * kernels do. Their reductions and products run on the float32 kernels
 * between casts (the lowering adds them), so reduce.c and linalg.c have no
 * 16-bit kernels.
 *
 * elementwise.c
 *   unary     in[0] -> out[0], same shape.
 *             float32/float64: neg reciprocal exp expm1 log log1p sqrt rsqrt
 *               square abs sign floor ceil round(half to even) sin cos erf
 *               relu sigmoid tanh softplus (max(x, 0) + log1p(exp(-|x|))) elu
 *               selu (TF's scale 1.0507009873554804934193349852946, alpha
 *               1.6732632423543772848170429916717)
 *             float32/float64 with alpha = fattr[SF_FATTR_ALPHA]: leaky_relu
 *               (x > 0 ? x : alpha * x)
 *             float16/bfloat16: as float32/float64
 *             int8/int16/int32/int64: neg square abs sign relu
 *             uint8/uint16/uint32/uint64: square relu
 *             bool: logical_not
 *   binary    in[0], in[1] broadcast views of out[0]'s shape -> out[0].
 *             float32/float64: add sub mul div floordiv mod(floor mod, sign of
 *               divisor) pow maximum minimum squared_difference
 *             float16/bfloat16: as float32/float64
 *             int32/int64: add sub mul floordiv mod pow maximum minimum
 *               squared_difference (division or mod by zero, and a negative
 *               exponent, return SF_ERR_INVALID_ARGUMENT)
 *             int8/int16: as int32/int64 but squared_difference
 *             uint8/uint16/uint32/uint64: add sub mul floordiv mod maximum
 *               minimum (TensorFlow's sets: no pow, no squared_difference)
 *             compare, out bool: less less_equal greater greater_equal equal
 *               not_equal for every numeric dtype; equal not_equal bool
 *             bool: logical_and logical_or
 *   grad      binary, broadcast like the above, float types; TensorFlow's
 *             *Grad ops with its expressions:
 *               relu_grad(gradients, features) = gradients * (features > 0)
 *               softplus_grad(gradients, features) =
 *                 gradients * sigmoid(features) (stable sigmoid)
 *               leaky_relu_grad(gradients, features) =
 *                 features > 0 ? gradients : gradients * alpha, alpha = fattr[SF_FATTR_ALPHA]
 *               elu_grad(gradients, outputs) =
 *                 outputs < 0 ? gradients * (outputs + 1) : gradients
 *               selu_grad(gradients, outputs) = outputs < 0 ?
 *                 gradients * (outputs + scale * alpha) : gradients * scale
 *               sigmoid_grad(y, dy) = dy * y * (1 - y)
 *               tanh_grad(y, dy) = dy * (1 - y * y)
 *               rsqrt_grad(y, dy) = -0.5 * dy * y^3
 *               sqrt_grad(y, dy) = 0.5 * dy / y
 *               reciprocal_grad(y, dy) = -dy * y * y
 *   select    sf_cpu_select_<dt> (every dtype): in[0] bool cond, in[1] x,
 *             in[2] y, views broadcast to out[0]'s shape; out = cond ? x : y.
 *   cast      sf_cpu_cast_<src>_<dst>, every pair: in[0] -> out[0]; float to
 *             int truncates toward zero, saturating, NaN -> 0; int to int
 *             wraps; to bool is x != 0; to float16/bfloat16 goes through
 *             float32 (float64 and int64 round twice, as TensorFlow's).
 *   addn      sf_cpu_addn_<dt> (every numeric dtype): n_in views of out[0]'s
 *             shape summed; integers wrap; float16/bfloat16 round after each
 *             addition, in input order (TensorFlow's AddN).
 *
 * array.c
 *   copy      sf_cpu_copy_<dt>: in[0] view -> out[0] view of the same shape
 *             (transpose, slice, strided slice, tile, broadcast, concat and
 *             split pieces, pad interiors, fill from a 0-stride scalar).
 *   gather    sf_cpu_gather_<dt>: in[0] params [outer, n, inner] contiguous,
 *             in[1] indices [m] int32 or int64, out[0] [outer, m, inner].
 *             An index outside [0, n) returns SF_ERR_INVALID_ARGUMENT naming
 *             it: "indices[5] = 9 is not in [0, 4)".
 *   one_hot   sf_cpu_one_hot_<dt>: in[0] indices [outer, inner] int32/int64,
 *             in[1] on value and in[2] off value (0-d, out dtype),
 *             out[0] [outer, depth, inner]; indices outside [0, depth) give
 *             a row of off values.
 *   segment   sf_cpu_unsorted_segment_sum_<dt> (float32 float64, every int):
 *             in[0] data [m, inner] contiguous, in[1] ids [m] int32/int64,
 *             out[0] [n, inner]: out[k] = sum of rows with id k; negative ids
 *             are dropped, an id >= n is SF_ERR_INVALID_ARGUMENT.
 *
 * linalg.c
 *   matmul    sf_cpu_matmul_<dt> (float32/float64 on BLAS, int32/int64 loops):
 *             in[0] a [batch..., r, c], in[1] b, out[0] [batch..., M, N]
 *             contiguous; SF_MATMUL_TRANSPOSE_A/_B transpose a/b. Batch
 *             dims of a and b have out's ndim and may have stride 0.
 *
 * reduce.c
 *   reduce    sf_cpu_reduce_{sum,mean,max,min,prod}_<dt> (float32 float64
 *             and every int), sf_cpu_reduce_{all,any}_bool: in[0] view whose
 *             last iattr[SF_REDUCE_NDIMS] dims are reduced, out[0] contiguous with the kept
 *             dims. Empty reductions give the identity (max: lowest value,
 *             mean: NaN for floats, 0 for ints). Narrow and unsigned ints
 *             accumulate in 64 bits: sums and products wrap to the type,
 *             means divide the 64-bit sum (unsigned for unsigned types).
 *   argmax    sf_cpu_{argmax,argmin}_<dt>: in[0] view, its last dim reduced;
 *             out[0] int32 or int64 (by out[0].dtype); first index wins ties.
 *
 * nn.c
 *   softmax   sf_cpu_{softmax,log_softmax}_<dt> float32/float64: in[0] [n, c]
 *             contiguous, over the last dim, max-subtracted for stability.
 *   xent      sf_cpu_softmax_xent_<dt> float32/float64: in[0] logits [n, c],
 *             in[1] labels [n, c] (probabilities, logits' dtype) -> out[0]
 *             loss [n], out[1] backprop [n, c] = softmax(logits) - labels;
 *             loss = sum_j labels_j * (logsumexp - logits_j), max-subtracted
 *             (finite for logits of any size). Any 2-D strides (stride-0
 *             label rows too); backprop must not overlap the inputs.
 *             sf_cpu_sparse_softmax_xent_<dt>_<idx> (idx int32, int64):
 *             in[1] labels [n] class ids; loss = logsumexp - logits[label],
 *             backprop = softmax - onehot(label). A label outside [0, c)
 *             returns SF_ERR_INVALID_ARGUMENT before anything is written:
 *             "Received a label value of 7 which is outside the valid range
 *             of [0, 5)."
 *
 * training.c (TensorFlow's ApplyX / ResourceApplyX, in place)
 *   apply     sf_cpu_apply_<opt>_<dt> float32/float64. in[0] is the variable,
 *             followed by its slots: contiguous tensors of var's shape that
 *             the kernel WRITES; hyper-parameters are scalars of var's dtype
 *             (0-d or size 1); grad / delta has var's shape; n_out = 0.
 *             Computed in var's dtype, TF's expressions.
 *             gradient_descent  in = [var, alpha, delta]:
 *               var -= alpha * delta
 *             momentum  in = [var, accum, lr, grad, momentum],
 *               SF_APPLY_USE_NESTEROV: accum = accum * momentum + grad;
 *               var -= nesterov ? grad * lr + accum * momentum * lr
 *                               : lr * accum
 *             adam  in = [var, m, v, beta1_power, beta2_power, lr, beta1,
 *               beta2, epsilon, grad], SF_APPLY_USE_NESTEROV:
 *               lr_t = lr * sqrt(1 - beta2_power) / (1 - beta1_power);
 *               m += (grad - m) * (1 - beta1); v += (grad^2 - v) * (1 - beta2);
 *               var -= lr_t * (nesterov ? m * beta1 + (1 - beta1) * grad : m)
 *                      / (sqrt(v) + epsilon)
 *             rms_prop  in = [var, ms, mom, lr, rho, momentum, epsilon, grad]:
 *               ms += (grad^2 - ms) * (1 - rho);
 *               mom = mom * momentum + lr * grad / sqrt(ms + epsilon);
 *               var -= mom
 *             centered_rms_prop  in = [var, mg, ms, mom, lr, rho, momentum,
 *               epsilon, grad]: mg += (grad - mg) * (1 - rho); ms as in
 *               rms_prop; mom = mom * momentum
 *               + lr * grad / sqrt(ms - mg^2 + epsilon); var -= mom
 *             adagrad  in = [var, accum, lr, grad], SF_APPLY_UPDATE_SLOTS
 *               (pass 1, TF's default): if update_slots accum += grad^2;
 *               var -= lr * grad / sqrt(accum)
 *
 * random.c (Philox4x32-10; values do not depend on the thread count)
 *   state     in[0] of every kernel: int64 [3] = [seed, seed2, counter],
 *             WRITTEN: counter += the Philox blocks the call used (mod 2^64).
 *             Key = (lo32(seed), hi32(seed)); block b's counter =
 *             (lo32(counter + b), hi32(counter + b), lo32(seed2), hi32(seed2))
 *             (TF's PhiloxRandom(seed, seed2) layout). out[0] contiguous.
 *   uniform   sf_cpu_random_uniform_<dt> float32/float64, in [0, 1): float32
 *             element i = (word i%4 of block i/4 >> 8) * 2^-24; float64 two
 *             words each (2 per block), 53 bits.
 *   normal    sf_cpu_random_normal_<dt> float32/float64: Box-Muller with u1 in
 *             (0, 1] (never log(0)); 4 (float32) or 2 (float64) per block.
 *   truncated sf_cpu_truncated_normal_<dt> float32/float64: normals with
 *             |x| <= 2, the rest resampled (as TF); groups of 4 (float32) or
 *             2 (float64) elements each own 8 blocks, so the counter
 *             advances by 8 per group.
 *   int       sf_cpu_random_uniform_int_<dt> int32/int64: in[1] minval, in[2]
 *             maxval (0-d, same dtype); minval + floor(bits * range / 2^32
 *             (int32, 4 per block) or / 2^64 (int64, 2 per block)), in
 *             [minval, maxval); minval >= maxval is SF_ERR_INVALID_ARGUMENT.
 *   sampler   sf_cpu_{log_uniform,uniform}_candidate_sampler_int64:
 *             in[1] true_classes [n] int64 -> out[0] sampled candidates
 *             [S] int64, out[1] their expected counts [n] float32, out[2]
 *             the candidates' [S] float32, out[3] a scratch set [cap] int64
 *             (cap a power of two >= 2 S, written); SF_SAMPLER_RANGE_MAX,
 *             SF_SAMPLER_UNIQUE. TF's RangeSampler: one draw per float64
 *             uniform of the stream, until S (distinct, when unique) picks;
 *             expected counts from the number of draws (random.c). The
 *             counter advances by ceil(draws / 2); unique with S > range_max
 *             is SF_ERR_INVALID_ARGUMENT "Sampler's range is too small."
 *
 * topk.c
 *   top_k     sf_cpu_top_k_<dt> (float32 float64 int32 int64): in[0] [rows, n]
 *             view -> out[0] values, out[1] int32 indices, [rows, k]
 *             contiguous: each row's k largest, best first, ties by index,
 *             NaN above every number.
 *   in_top_k  sf_cpu_in_top_k_float32_<idx> (int32 int64): in[0] predictions
 *             [b, c], in[1] targets [b], in[2] k (0-d) -> out[0] bool [b]:
 *             fewer than k predictions strictly above the target's; false
 *             for a target outside [0, c) or a row with NaN or Inf (TF).
 *
 * debug.c
 *   check     sf_cpu_check_numerics_<dt> float32/float64: in[0] view ->
 *             out[0] view of the same shape (a copy; out may be in[0] itself,
 *             or n_out = 0 only checks). A NaN or Inf returns
 *             SF_ERR_INVALID_ARGUMENT with "Tensor had NaN values", "Tensor
 *             had Inf values" or "Tensor had Inf and NaN values" (the caller
 *             prefixes the op's message); the copy is written either way.
 *
 * fused.c (the pattern fusions of staticflow/passes/remap.py; float32/float64;
 *   every tensor contiguous)
 *   fused_matmul  sf_cpu_fused_matmul_<dt>: in[0] a, in[1] b (2-D), in[2] bias
 *             [N] when SF_FUSED_MATMUL_HAS_BIAS -> out[0] [M, N] = act(op(a) op(b) + bias);
 *             SF_MATMUL_TRANSPOSE_A/_B, SF_FUSED_MATMUL_ACTIVATION
 *             (SF_ACT_*), SF_FUSED_MATMUL_HAS_BIAS; fattr[SF_FATTR_ALPHA] leaky_relu's alpha. The
 *             product is split over the threads in blocks of rows (or columns),
 *             each block's bias and activation applied right after its GEMM,
 *             while it is in the thread's cache.
 *   bias_activation_grad  sf_cpu_bias_activation_grad_<dt>: in[0] gradients
 *             [R, C], in[1] the activation's features (relu, leaky_relu) or
 *             outputs (elu, selu) [R, C], in[2] float64 scratch of at least
 *             threads * (C + L) elements, L = C * max(1, 256 / C) (whole rows
 *             of at least 256 elements, as one) -> out[0] backprops [R, C] (the
 *             activation gradient op's expression, as relu_grad & co. above),
 *             out[1] [C] = the column sums of backprops (the bias gradient),
 *             accumulated in float64, in one pass over memory; SF_BIAS_ACT_GRAD_ACTIVATION the
 *             activation (SF_ACT_RELU, _LEAKY_RELU, _ELU or _SELU), fattr[SF_FATTR_ALPHA]
 *             alpha.
 *   gemm_apply  sf_cpu_gemm_apply_gradient_descent_<dt>: in[0] var [M, N]
 *             (WRITTEN), in[1] alpha (0-d), in[2] a, in[3] b -> var -= alpha *
 *             op(a) op(b) as one GEMM with beta = 1 (no gradient buffer);
 *             SF_MATMUL_TRANSPOSE_A/_B; n_out = 0.
 *
 * conv.c (NHWC; every tensor a contiguous 4-D view; float32/float64).
 *   Images are [N, H, W, C]; pooled/conv outputs [N, OH, OW, D]. Python
 *   computes SAME/VALID/explicit padding; only pad_top and pad_left are
 *   passed, OH and OW come from the output shapes, and taps outside the
 *   image read zeros (convs) or are skipped (pools).
 *   conv      iattr = [stride_h, stride_w, dilation_h, dilation_w, pad_top,
 *             pad_left, images per chunk]; in[2], when present, is a scratch
 *             tensor (any shape) for the im2col matrices of chunks of images,
 *             one slot per thread: a slot holds chunk * OH*OW*KH*KW*C
 *             elements (and, for the filter gradient, KH*KW*C*O more). A
 *             chunk of 0 takes the whole scratch as one slot. A 1x1 filter
 *             with stride 1 and no padding needs no scratch (n_in may be 2).
 *             sf_cpu_conv2d_<dt>: in[0] input, in[1] filter [KH, KW, C, O]
 *               -> out[0] [N, OH, OW, O].
 *             sf_cpu_conv2d_backprop_input_<dt>: in[0] filter, in[1] dy
 *               [N, OH, OW, O] -> out[0] dx [N, H, W, C] (overwritten).
 *             sf_cpu_conv2d_backprop_filter_<dt>: in[0] input, in[1] dy
 *               -> out[0] dw [KH, KW, C, O] (overwritten).
 *   direct    stride 1, dilation 1 (see conv.c): iattr = [1, 1, 1, 1, pad_top,
 *             pad_left, chunk], chunk a multiple of O and of the vector lanes
 *             (sf_cpu_simd_bytes), at most 8 vectors; in[2] scratch.
 *             sf_cpu_conv2d_direct_<dt>: in[0] input, in[1] filter, in[2]
 *               (KH*KW*C*chunk + slots * expanded image) -> out[0].
 *             sf_cpu_conv2d_backprop_filter_direct_<dt>: in[0] input, in[1]
 *               dy, in[2] (slots * (expanded image + padded dy +
 *               KH*KW*C*chunk)) -> out[0] dw.
 *   igemm     implicit GEMM (see conv.c): iattr as conv (chunk unused), the
 *             vector channels (O; C for the input gradient) a multiple of the
 *             vector lanes; in[2] scratch, with Hp = (OH-1)*sh + (KH-1)*dh + 1
 *             and Wp likewise.
 *             sf_cpu_conv2d_igemm_<dt>: in[0] input, in[1] filter, in[2]
 *               (slots * Hp*Wp*C) -> out[0].
 *             sf_cpu_conv2d_backprop_input_igemm_<dt>: stride 1, padding at
 *               most (K-1)*d; in[0] filter, in[1] dy, in[2] (KH*KW*C*O +
 *               slots * (H+(KH-1)*dh) * (W+(KW-1)*dw) * O) -> out[0] dx.
 *             sf_cpu_conv2d_backprop_filter_igemm_<dt>: in[0] input, in[1] dy,
 *               in[2] (N * Hp*Wp*C) -> out[0] dw.
 *   winograd  F(2x2, 5x5) (see conv.c): a 5x5 filter, strides and dilations
 *             1, C and O multiples of the vector lanes; iattr as conv (chunk
 *             unused); in[2] scratch, with Hp x Wp the implicit-GEMM kernel's
 *             padded image (its fallback for non-finite results), TB = 7,
 *             TBF = 16, parts = min(N, 8).
 *             sf_cpu_conv2d_winograd_<dt>: in[0] input, in[1] filter, in[2]
 *               (36*C*O + slots * (36*TB*(C+O) + Hp*Wp*C)) -> out[0].
 *             sf_cpu_conv2d_backprop_input_winograd_<dt>: padding at most 4;
 *               in[0] filter, in[1] dy, in[2] (61*C*O + slots * (36*TB*(C+O)
 *               + (H+4) * (W+4) * O)) -> out[0] dx.
 *             sf_cpu_conv2d_backprop_filter_winograd_<dt>: in[0] input, in[1]
 *               dy, in[2] (max(parts * 36*C*O + slots * 36*TBF*(C+O),
 *               N * Hp*Wp*C)) -> out[0] dw.
 *   depthwise iattr as conv (the first six), no scratch; filter [KH, KW, C, M], out depth C*M
 *             (channel c*M + m): sf_cpu_depthwise_conv2d_<dt> (in[0] input,
 *             in[1] filter), sf_cpu_depthwise_conv2d_backprop_input_<dt>
 *             (in[0] filter, in[1] dy -> dx),
 *             sf_cpu_depthwise_conv2d_backprop_filter_<dt> (in[0] input,
 *             in[1] dy -> dw).
 *   fused     sf_cpu_fused_conv2d_<dt>, sf_cpu_fused_conv2d_direct_<dt>,
 *             sf_cpu_fused_conv2d_igemm_<dt> and sf_cpu_fused_conv2d_winograd_<dt>:
 *             the conv above (in[0] input, in[1] filter, in[2] its scratch,
 *             absent only for a pointwise conv of the im2col kernel), then,
 *             per chunk of images while they are in cache: + bias (the last
 *             input, when SF_CONV_HAS_BIAS), activation SF_CONV_ACTIVATION (SF_ACT_*, alpha
 *             fattr[SF_FATTR_ALPHA]) -> out[0]; with a second output, out[1] = the max
 *             pool of out[0] with SF_CONV_POOL_* = [ksize_h, ksize_w, stride_h,
 *             stride_w, pad_top, pad_left] (as max_pool below).
 *   pool      iattr = [ksize_h, ksize_w, stride_h, stride_w, pad_top,
 *             pad_left]; windows are clipped to the image.
 *             sf_cpu_max_pool_<dt>: in[0] -> out[0] window max.
 *             sf_cpu_max_pool_grad_<dt>: in[0] orig input, in[1] grad
 *               [N, OH, OW, C] -> out[0] [N, H, W, C]: each grad added at its
 *               window's first max (row-major window order, TF's CPU ties).
 *             sf_cpu_max_pool_grad_grad_<dt>: in[0] orig input, in[1] g
 *               [N, H, W, C] -> out[0] [N, OH, OW, C] = g at each window's
 *               first max.
 *             sf_cpu_avg_pool_<dt>: in[0] -> out[0], the mean over the
 *               window's in-image pixels (padding not counted, as TF).
 *             sf_cpu_avg_pool_grad_<dt>: in[0] grad [N, OH, OW, C] ->
 *               out[0] [N, H, W, C] (its shape gives H and W).
 * ------------------------------------------------------------------------- */

#ifndef SF_CDEF
/* Each kernel family file (kernels/cpu/<family>.c) exposes its entries here;
 * kernels/cpu/executor.c joins them into sf_cpu_kernel_table. */
int64_t sf_cpu_elementwise_entries(const sf_kernel_entry **out);
int64_t sf_cpu_array_entries(const sf_kernel_entry **out);
int64_t sf_cpu_linalg_entries(const sf_kernel_entry **out);
int64_t sf_cpu_reduce_entries(const sf_kernel_entry **out);
int64_t sf_cpu_nn_entries(const sf_kernel_entry **out);
int64_t sf_cpu_training_entries(const sf_kernel_entry **out);
int64_t sf_cpu_random_entries(const sf_kernel_entry **out);
int64_t sf_cpu_debug_entries(const sf_kernel_entry **out);
int64_t sf_cpu_conv_entries(const sf_kernel_entry **out);
int64_t sf_cpu_topk_entries(const sf_kernel_entry **out);
int64_t sf_cpu_fused_entries(const sf_kernel_entry **out);

/* The CUDA kernel library (kernels/cuda/, built by nvcc when it is present;
 * staticflow/backends/cuda.py declares these to cffi itself, since the CPU
 * library does not define them). sf_tensor.data holds device pointers, the
 * sf_call record and its sf_tensor arrays are host memory, call->stream is
 * the cudaStream_t. Names are sf_cuda_<op>_<dtype>, each the CUDA version of
 * the C kernel sf_cpu_<op>_<dtype> with the same iattr/fattr and results
 * (kernels/cuda/README.md lists the families). */
const sf_kernel_entry *sf_cuda_kernel_table(int64_t *count);
/* Devices the CUDA runtime sees (>= 0), or -1 with the runtime's reason in
 * msg (no driver, no device, ...). Never aborts. */
int sf_cuda_device_count(char *msg, int64_t msg_len);
/* Device memory and copies (kind 1: host to device, 2: device to host, 3:
 * device to device); 0, or -1 with CUDA's message in msg. */
int sf_cuda_malloc(void **ptr, int64_t nbytes, char *msg, int64_t msg_len);
int sf_cuda_free(void *ptr, char *msg, int64_t msg_len);
int sf_cuda_memcpy(void *dst, const void *src, int64_t nbytes, int kind, char *msg, int64_t msg_len);
int sf_cuda_synchronize(char *msg, int64_t msg_len);
#endif

#endif
