/* The CPU run of a generated GPU fused kernel: included after the generated source
 * (compiled as C), it packs the call with the launcher's own sf_fused_pack and runs
 * the per-element functions the way the GPU's threads would: elementwise, element
 * after element; row mode, each task's SF_FUSED_THREADS thread partials combined in
 * the block tree's order (sf_fused_tree_emu), long rows' partials added in order by
 * the second pass; column mode, one partial per output. The error word is the
 * maximum of the elements' errors, as the kernels' atomicMax leaves it. */
#ifndef SF_FUSED_EMU_H
#define SF_FUSED_EMU_H

#include <stddef.h>

#include "sf_fused_launch.h"

int sf_emu_fused(sf_call *c)
{
    const sf_fused_fn *f = (const sf_fused_fn *)(intptr_t)c->iattr[0];
    union {
        sf_fused_head h;
        char bytes[4096];
    } buf;
    size_t size = 0;
    int st = sf_fused_pack(c, f, &buf, sizeof buf, &size);
    if (st) return st;
    if (f->mode != SF_FUSED_MODE || size != sizeof(sf_fused_args))
        return sf_fused_fail(c, SF_ERR_INTERNAL, "descriptor and source disagree");
    const sf_fused_args *a = (const sf_fused_args *)&buf;
    int err = 0;
#if SF_FUSED_MODE == 0
    for (int64_t i = 0; i < a->h.n; i++) {
        const int e = sf_fused_elem(a, i);
        if (e > err) err = e;
    }
#elif SF_FUSED_MODE == 1
    for (int64_t task = 0; task < a->h.n; task++) {
        const int64_t k = task / a->h.nch, r0 = task % a->h.nch * SF_FUSED_CHUNK;
        const int64_t r1 = r0 + SF_FUSED_CHUNK < a->h.R ? r0 + SF_FUSED_CHUNK : a->h.R;
        double v[SF_FUSED_THREADS];
        for (int t = 0; t < SF_FUSED_THREADS; t++) v[t] = sf_fused_partial(a, k, r0, r1, t, SF_FUSED_THREADS, &err);
        const double acc = sf_fused_tree_emu(v);
        if (a->h.nch > 1) a->h.part[task] = acc;
        else sf_fused_final(a, k, acc);
    }
    if (a->h.nch > 1)
        for (int64_t k = 0; k < a->h.K; k++) {
            double acc = 0;
            for (int64_t ch = 0; ch < a->h.nch; ch++) acc += a->h.part[k * a->h.nch + ch];
            sf_fused_final(a, k, acc);
        }
#else
    for (int64_t k = 0; k < a->h.K; k++) sf_fused_final(a, k, sf_fused_partial(a, k, 0, a->h.R, 0, 1, &err));
#endif
    if (a->h.err) *a->h.err = (unsigned long long)err;
    return err ? sf_fused_error(c, (unsigned long long)err) : SF_OK;
}

int64_t sf_emu_descriptor_size(void) { return (int64_t)sizeof(sf_fused_fn); }
int64_t sf_emu_dt_offset(void) { return (int64_t)offsetof(sf_fused_fn, dt); }

#endif
