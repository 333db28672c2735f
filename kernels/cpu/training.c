/* Training kernels: TensorFlow's Apply* / ResourceApply* optimizer updates.
 *
 * Each kernel updates its variable and slots in place: in[0] is the variable
 * and the slots follow it, all contiguous and of the variable's shape (they
 * are the persistent buffers the kernel WRITES); hyper-parameters are
 * scalars (0-d, or any shape of one element); the gradient is a contiguous
 * tensor of the variable's shape. There are no outputs (n_out = 0).
 *
 * The updates are TensorFlow's expressions in TensorFlow's order, computed in
 * the variable's dtype (scalars are read as that dtype), so float32 results
 * track TensorFlow's. Each is one pass over the elements: a `omp simd` loop
 * per chunk of TR_CHUNK elements, chunks on OpenMP threads when there are
 * >= SF_PARALLEL_MIN elements. An operand may be the very same buffer as
 * another (each element is read before it is written at the same index);
 * partially overlapping buffers are not supported.
 */
#include <math.h>
#include <stdint.h>

#include "sf_internal.h"

/* Elements per parallel task. */
#define TR_CHUNK 16384

/* Checks arity, dtypes and shapes. names[i] names in[i] in messages; bit i of
 * vec_mask set: in[i] has the variable's shape and is contiguous, clear: a
 * scalar. Sets *numel to the variable's element count. */
static int tr_check(sf_call *c, const char *name, int32_t code, int nin, const char *const *names,
                    unsigned vec_mask, int64_t *numel)
{
    char s1[96], s2[96];
    if (c->n_in != nin || c->n_out != 0)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s takes %d inputs and no outputs, got %d and %d", name, nin,
                       (int)c->n_in, (int)c->n_out);
    const sf_tensor *var = &c->in[0];
    if (var->ndim < 0 || var->ndim > SF_MAX_DIMS)
        return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: var has %d dims", name, (int)var->ndim);
    for (int i = 0; i < nin; i++) {
        const sf_tensor *t = &c->in[i];
        if (t->dtype != code)
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: %s has dtype %s, expected %s", name, names[i],
                           sf_dtype_name(t->dtype), sf_dtype_name(code));
        if (vec_mask >> i & 1u) {
            int same = t->ndim == var->ndim;
            for (int d = 0; same && d < var->ndim; d++) same = t->shape[d] == var->shape[d];
            if (!same)
                return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: %s and var do not have the same shape: %s vs %s",
                               name, names[i], sf_shape_str(t, s1, sizeof s1), sf_shape_str(var, s2, sizeof s2));
            if (!sf_is_contiguous(t) && sf_numel(t) != 0)
                return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: %s must be contiguous", name, names[i]);
        } else if (t->ndim < 0 || t->ndim > SF_MAX_DIMS || sf_numel(t) != 1) {
            return sf_fail(c, SF_ERR_INVALID_ARGUMENT, "%s: %s is not a scalar: %s", name, names[i],
                           sf_shape_str(t, s1, sizeof s1));
        }
    }
    *numel = sf_numel(var);
    return SF_OK;
}

/* Runs the statement(s) `...` for i in [0, N): chunks on threads when large,
 * each chunk one simd loop. */
#define TR_LOOP(N, ...)                                                              \
    do {                                                                             \
        const int64_t n_ = (N), nch_ = (n_ + TR_CHUNK - 1) / TR_CHUNK;               \
        _Pragma("omp parallel for schedule(dynamic) if(n_ >= SF_PARALLEL_MIN)")      \
        for (int64_t ch_ = 0; ch_ < nch_; ch_++) {                                   \
            const int64_t i0_ = ch_ * TR_CHUNK;                                      \
            const int64_t i1_ = n_ - i0_ < TR_CHUNK ? n_ : i0_ + TR_CHUNK;           \
            _Pragma("omp simd")                                                      \
            for (int64_t i = i0_; i < i1_; i++) { __VA_ARGS__ }                      \
        }                                                                            \
    } while (0)

#define TR_VEC(T, K) ((T *)c->in[K].data)
#define TR_SCALAR(T, K) (*(const T *)c->in[K].data)

/* X(DT, CODE, T, S): S is libm's suffix */
#define TR_DTYPES(X) X(float32, SF_FLOAT32, float, f) X(float64, SF_FLOAT64, double, )

#define TR_DEFINE(DT, CODE, T, S)                                                            \
    /* var -= delta * alpha */                                                               \
    int sf_cpu_apply_gradient_descent_##DT(sf_call *c)                                       \
    {                                                                                        \
        static const char *const names[] = {"var", "alpha", "delta"};                        \
        int64_t n = 0;                                                                       \
        int st = tr_check(c, "apply_gradient_descent_" #DT, CODE, 3, names, 0x5u, &n);       \
        if (st) return st;                                                                   \
        T *var = TR_VEC(T, 0);                                                                  \
        const T *delta = TR_VEC(T, 2);                                                          \
        const T alpha = TR_SCALAR(T, 1);                                                        \
        TR_LOOP(n, var[i] -= delta[i] * alpha;);                                             \
        return SF_OK;                                                                        \
    }                                                                                        \
                                                                                             \
    /* accum = accum * momentum + grad;                                                     \
     * var -= nesterov ? grad * lr + accum * momentum * lr : lr * accum */                  \
    int sf_cpu_apply_momentum_##DT(sf_call *c)                                               \
    {                                                                                        \
        static const char *const names[] = {"var", "accum", "lr", "grad", "momentum"};       \
        int64_t n = 0;                                                                       \
        int st = tr_check(c, "apply_momentum_" #DT, CODE, 5, names, 0xBu, &n);               \
        if (st) return st;                                                                   \
        T *var = TR_VEC(T, 0), *accum = TR_VEC(T, 1);                                              \
        const T *grad = TR_VEC(T, 3);                                                           \
        const T lr = TR_SCALAR(T, 2), mom = TR_SCALAR(T, 4);                                       \
        if (c->iattr[SF_APPLY_USE_NESTEROV]) {                                                                   \
            TR_LOOP(n, const T g = grad[i]; const T a = accum[i] * mom + g; accum[i] = a;    \
                    var[i] -= g * lr + a * mom * lr;);                                       \
        } else {                                                                             \
            TR_LOOP(n, const T a = accum[i] * mom + grad[i]; accum[i] = a; var[i] -= lr * a;); \
        }                                                                                    \
        return SF_OK;                                                                        \
    }                                                                                        \
                                                                                             \
    /* alpha = lr * sqrt(1 - beta2_power) / (1 - beta1_power);                              \
     * m += (grad - m) * (1 - beta1); v += (grad^2 - v) * (1 - beta2);                      \
     * var -= nesterov ? (grad * (1 - beta1) + beta1 * m) * alpha / (sqrt(v) + epsilon)     \
     *                 : m * alpha / (sqrt(v) + epsilon) */                                 \
    int sf_cpu_apply_adam_##DT(sf_call *c)                                                   \
    {                                                                                        \
        static const char *const names[] = {"var", "m", "v", "beta1_power", "beta2_power",   \
                                            "lr", "beta1", "beta2", "epsilon", "grad"};      \
        int64_t n = 0;                                                                       \
        int st = tr_check(c, "apply_adam_" #DT, CODE, 10, names, 0x207u, &n);                \
        if (st) return st;                                                                   \
        T *var = TR_VEC(T, 0), *m = TR_VEC(T, 1), *v = TR_VEC(T, 2);                                  \
        const T *grad = TR_VEC(T, 9);                                                           \
        const T b1p = TR_SCALAR(T, 3), b2p = TR_SCALAR(T, 4), lr = TR_SCALAR(T, 5);                   \
        const T b1 = TR_SCALAR(T, 6), b2 = TR_SCALAR(T, 7), eps = TR_SCALAR(T, 8);                    \
        const T alpha = lr * sqrt##S((T)1 - b2p) / ((T)1 - b1p);                             \
        const T omb1 = (T)1 - b1, omb2 = (T)1 - b2;                                          \
        if (c->iattr[SF_APPLY_USE_NESTEROV]) {                                                                   \
            TR_LOOP(n, const T g = grad[i]; const T mi = m[i] + (g - m[i]) * omb1;           \
                    const T vi = v[i] + (g * g - v[i]) * omb2; m[i] = mi; v[i] = vi;         \
                    var[i] -= ((g * omb1 + b1 * mi) * alpha) / (sqrt##S(vi) + eps););         \
        } else {                                                                             \
            TR_LOOP(n, const T g = grad[i]; const T mi = m[i] + (g - m[i]) * omb1;           \
                    const T vi = v[i] + (g * g - v[i]) * omb2; m[i] = mi; v[i] = vi;         \
                    var[i] -= (mi * alpha) / (sqrt##S(vi) + eps););                           \
        }                                                                                    \
        return SF_OK;                                                                        \
    }                                                                                        \
                                                                                             \
    /* ms += (grad^2 - ms) * (1 - rho);                                                     \
     * mom = mom * momentum + grad * lr / sqrt(ms + epsilon); var -= mom */                 \
    int sf_cpu_apply_rms_prop_##DT(sf_call *c)                                               \
    {                                                                                        \
        static const char *const names[] = {"var", "ms", "mom", "lr", "rho", "momentum",     \
                                            "epsilon", "grad"};                              \
        int64_t n = 0;                                                                       \
        int st = tr_check(c, "apply_rms_prop_" #DT, CODE, 8, names, 0x87u, &n);              \
        if (st) return st;                                                                   \
        T *var = TR_VEC(T, 0), *ms = TR_VEC(T, 1), *mom = TR_VEC(T, 2);                               \
        const T *grad = TR_VEC(T, 7);                                                           \
        const T lr = TR_SCALAR(T, 3), rho = TR_SCALAR(T, 4), momentum = TR_SCALAR(T, 5);              \
        const T eps = TR_SCALAR(T, 6), omr = (T)1 - rho;                                        \
        TR_LOOP(n, const T g = grad[i]; const T s = ms[i] + (g * g - ms[i]) * omr; ms[i] = s; \
                const T u = mom[i] * momentum + (g * lr) / sqrt##S(s + eps); mom[i] = u;     \
                var[i] -= u;);                                                               \
        return SF_OK;                                                                        \
    }                                                                                        \
                                                                                             \
    /* ms += (grad^2 - ms) * (1 - rho); mg += (grad - mg) * (1 - rho);                      \
     * mom = mom * momentum + grad * lr / sqrt(ms - mg^2 + epsilon); var -= mom */          \
    int sf_cpu_apply_centered_rms_prop_##DT(sf_call *c)                                      \
    {                                                                                        \
        static const char *const names[] = {"var", "mg", "ms", "mom", "lr", "rho",           \
                                            "momentum", "epsilon", "grad"};                  \
        int64_t n = 0;                                                                       \
        int st = tr_check(c, "apply_centered_rms_prop_" #DT, CODE, 9, names, 0x10Fu, &n);    \
        if (st) return st;                                                                   \
        T *var = TR_VEC(T, 0), *mg = TR_VEC(T, 1), *ms = TR_VEC(T, 2), *mom = TR_VEC(T, 3);              \
        const T *grad = TR_VEC(T, 8);                                                           \
        const T lr = TR_SCALAR(T, 4), rho = TR_SCALAR(T, 5), momentum = TR_SCALAR(T, 6);              \
        const T eps = TR_SCALAR(T, 7), omr = (T)1 - rho;                                        \
        TR_LOOP(n, const T g = grad[i]; const T s = ms[i] + (g * g - ms[i]) * omr; ms[i] = s; \
                const T a = mg[i] + (g - mg[i]) * omr; mg[i] = a;                            \
                const T u = mom[i] * momentum + (g * lr) / sqrt##S((s - a * a) + eps);       \
                mom[i] = u; var[i] -= u;);                                                   \
        return SF_OK;                                                                        \
    }                                                                                        \
                                                                                             \
    /* if update_slots: accum += grad^2; var -= grad * lr / sqrt(accum) */                  \
    int sf_cpu_apply_adagrad_##DT(sf_call *c)                                                \
    {                                                                                        \
        static const char *const names[] = {"var", "accum", "lr", "grad"};                   \
        int64_t n = 0;                                                                       \
        int st = tr_check(c, "apply_adagrad_" #DT, CODE, 4, names, 0xBu, &n);                \
        if (st) return st;                                                                   \
        T *var = TR_VEC(T, 0), *accum = TR_VEC(T, 1);                                              \
        const T *grad = TR_VEC(T, 3);                                                           \
        const T lr = TR_SCALAR(T, 2);                                                           \
        if (c->iattr[SF_APPLY_UPDATE_SLOTS]) {                                                                   \
            TR_LOOP(n, const T g = grad[i]; const T a = accum[i] + g * g; accum[i] = a;      \
                    var[i] -= g * lr / sqrt##S(a););                                         \
        } else {                                                                             \
            TR_LOOP(n, var[i] -= grad[i] * lr / sqrt##S(accum[i]););                         \
        }                                                                                    \
        return SF_OK;                                                                        \
    }

TR_DTYPES(TR_DEFINE)

#define TR_ENTRIES(DT, CODE, T, S)                                                \
    {"sf_cpu_apply_gradient_descent_" #DT, sf_cpu_apply_gradient_descent_##DT},   \
    {"sf_cpu_apply_momentum_" #DT, sf_cpu_apply_momentum_##DT},                   \
    {"sf_cpu_apply_adam_" #DT, sf_cpu_apply_adam_##DT},                           \
    {"sf_cpu_apply_rms_prop_" #DT, sf_cpu_apply_rms_prop_##DT},                   \
    {"sf_cpu_apply_centered_rms_prop_" #DT, sf_cpu_apply_centered_rms_prop_##DT}, \
    {"sf_cpu_apply_adagrad_" #DT, sf_cpu_apply_adagrad_##DT},

static const sf_kernel_entry tr_entries[] = {TR_DTYPES(TR_ENTRIES)};

int64_t sf_cpu_training_entries(const sf_kernel_entry **out)
{
    if (out) *out = tr_entries;
    return (int64_t)(sizeof tr_entries / sizeof tr_entries[0]);
}
