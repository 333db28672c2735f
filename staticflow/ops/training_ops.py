"""Optimizer update ops (TensorFlow's Apply*): one fused kernel per update, in place.

Each updates its variable (and slot variables) in place and outputs the
variable. Their NumPy references mutate the same inputs, so the reference
evaluator and the tests see the updated variables too.
"""

from __future__ import annotations

import numpy as np

from staticflow.framework import dtypes
from staticflow.ops import abi, casegen, registry
from staticflow.ops.lowering import coalesce
from staticflow.ops.registry import Arg, Attr, Case, op

D = dtypes
F = D.FLOATS
_rand = casegen.rand


def _shape(n_refs: int, grad_index: int):
    def shape_fn(c):
        s = c.shape(0)
        for i in list(range(1, n_refs)) + [grad_index]:
            try:
                s = s.merge_with(c.shape(i))
            except ValueError:
                raise ValueError(
                    f"input {i} has shape {c.shape(i)}, the variable has shape {c.shape(0)}"
                ) from None
        for i in range(n_refs, len(c.input_shapes)):
            if i != grad_index and c.shape(i).ndims not in (None, 0):
                raise ValueError(f"input {i} must be a scalar, got shape {c.shape(i)}")
        return [s]

    return shape_fn


# the bool attrs of the Apply ops, as the kernels' iattr positions (kernels/include/staticflow.h)
_IATTR = {"use_nesterov": abi.SF_APPLY_USE_NESTEROV, "update_slots": abi.SF_APPLY_UPDATE_SLOTS}


def _lower(base: str, iattr_names=(), n_refs: int = 1):
    def lower(ctx):
        ctx.alias(0, 0)
        if ctx.inp(0).size == 0:
            return
        ins = [ctx.inp(i) for i in range(len(ctx.in_shapes))]
        iattr = abi.pack({_IATTR[n]: int(ctx.attrs[n]) for n in iattr_names})
        if ins[0].dtype not in D.HALF_FLOATS:
            ctx.call(ctx.kernel(base), ins, [], iattr=iattr)
            return
        # 16-bit floats: the float32 update of float32 copies, the variable and its
        # slots rounded back (TensorFlow's half kernels compute in float32 too)
        f32 = [_cast(ctx, v, D.float32, ctx.scratch_buffer(v.shape, D.float32)) for v in ins]
        ctx.call(registry.kernel_name(base, D.float32), f32, [], iattr=iattr)
        for v, f in zip(ins[:n_refs], f32):
            _cast(ctx, f, v.dtype, v)

    return lower


def _cast(ctx, src, dtype, dst):
    if src.size:
        a, b = coalesce([src, dst])
        ctx.call(registry.kernel_name("cast", src.dtype, dtype), [a], [b])
    return dst


def _half_kernels(base: str) -> tuple[str, ...]:
    casts = tuple(
        registry.kernel_name("cast", a, b) for h in D.HALF_FLOATS for a, b in ((h, D.float32), (D.float32, h))
    )
    return casts + (registry.kernel_name(base, D.float32),)


def _ref(update):
    """Wrap update(arrays as float64, attrs) -> new values of the ref inputs; writes them back."""

    def ref(ins, a):
        x64 = [np.asarray(x, np.float64) for x in ins]
        new = update(x64, a)
        for i, v in enumerate(new):
            ins[i][...] = v
        return ins[0]

    return ref


def _gd(x, a):
    var, alpha, delta = x
    return [var - alpha * delta]


def _momentum(x, a):
    var, accum, lr, grad, mom = x
    accum = accum * mom + grad
    step = lr * grad + lr * mom * accum if a["use_nesterov"] else lr * accum
    return [var - step, accum]


def _adam(x, a):
    var, m, v, b1p, b2p, lr, b1, b2, eps, g = x
    lr_t = lr * np.sqrt(1 - b2p) / (1 - b1p)
    m = m + (g - m) * (1 - b1)
    v = v + (g * g - v) * (1 - b2)
    if a["use_nesterov"]:
        var = var - lr_t * (m * b1 + (1 - b1) * g) / (np.sqrt(v) + eps)
    else:
        var = var - lr_t * m / (np.sqrt(v) + eps)
    return [var, m, v]


def _rmsprop(x, a):
    var, ms, mom, lr, rho, momentum, eps, g = x
    ms = ms + (g * g - ms) * (1 - rho)
    mom = mom * momentum + lr * g / np.sqrt(ms + eps)
    return [var - mom, ms, mom]


def _centered_rmsprop(x, a):
    var, mg, ms, mom, lr, rho, momentum, eps, g = x
    mg = mg + (g - mg) * (1 - rho)
    ms = ms + (g * g - ms) * (1 - rho)
    mom = mom * momentum + lr * g / np.sqrt(ms - mg * mg + eps)
    return [var - mom, mg, ms, mom]


def _adagrad(x, a):
    var, accum, lr, g = x
    if a["update_slots"]:
        accum = accum + g * g
    return [var - lr * g / np.sqrt(accum), accum]


def declare_apply(
    name: str,
    base: str,
    order: str,
    update,
    scalars: dict,
    bool_attrs=(),
    positive=(),
    centered: bool = False,
    **props,
) -> None:
    """Declare an Apply op. `order` names its inputs in TensorFlow's order; "var" and the
    slots listed before "|" are updated in place, "grad" is the gradient, the rest are
    scalars (with the test values in `scalars`)."""
    refs, rest = order.split("|")
    ref_names, other = refs.split(), rest.split()
    inputs = [Arg(n, type_attr="T", ref="update") for n in ref_names] + [Arg(n, type_attr="T") for n in other]
    names = ref_names + other

    def cases(rng):
        out = []
        for t in D.ALL_FLOATS:
            for shape in [(3, 4), (5,), ()]:
                vals = []
                for n in names:
                    if n in scalars:
                        vals.append(np.array(scalars[n], t.np))
                    elif n in positive:
                        vals.append(casegen.positive(rng, shape, t))
                    else:
                        vals.append(_rand(rng, shape, t))
                if centered:  # keep ms - mg^2 positive
                    vals[1] = (vals[1] * 0.1).astype(t.np)
                    vals[2] = (np.abs(vals[2]) + 1).astype(t.np)
                out.append(Case(tuple(vals), grad=False, label="variable"))
        return out

    extra = [Attr(n, "bool", default) for n, default in bool_attrs]
    op(
        name=name,
        inputs=inputs,
        outputs=[Arg("out", type_attr="T")],
        attrs=[Attr("T", "type", allowed=D.ALL_FLOATS), Attr("use_locking", "bool", False), *extra],
        shape_fn=_shape(len(ref_names), names.index("grad")),
        ref=_ref(update),
        lower=_lower(base, [a.name for a in extra], len(ref_names)),
        kernels=registry.kernels_for([base], F) + _half_kernels(base),
        stateful=True,
        differentiable=False,
        cases=cases,
        doc=f"TensorFlow's {name}: updates the variable and its slots in place.",
        **props,
    )


_EPS = 1e-7
declare_apply(
    "ApplyGradientDescent",
    "apply_gradient_descent",
    "var | alpha grad",
    _gd,
    {"alpha": 0.1},
    gradient_update="gradient_descent",
)
declare_apply(
    "ApplyMomentum",
    "apply_momentum",
    "var accum | lr grad momentum",
    _momentum,
    {"lr": 0.1, "momentum": 0.9},
    bool_attrs=[("use_nesterov", False)],
)
declare_apply(
    "ApplyAdam",
    "apply_adam",
    "var m v | beta1_power beta2_power lr beta1 beta2 epsilon grad",
    _adam,
    {
        "beta1_power": 0.9**3,
        "beta2_power": 0.999**3,
        "lr": 0.01,
        "beta1": 0.9,
        "beta2": 0.999,
        "epsilon": _EPS,
    },
    bool_attrs=[("use_nesterov", False)],
    positive=("v",),
)
declare_apply(
    "ApplyRMSProp",
    "apply_rms_prop",
    "var ms mom | lr rho momentum epsilon grad",
    _rmsprop,
    {"lr": 0.01, "rho": 0.9, "momentum": 0.5, "epsilon": _EPS},
    positive=("ms",),
)
declare_apply(
    "ApplyCenteredRMSProp",
    "apply_centered_rms_prop",
    "var mg ms mom | lr rho momentum epsilon grad",
    _centered_rmsprop,
    {"lr": 0.01, "rho": 0.9, "momentum": 0.5, "epsilon": _EPS},
    centered=True,
)
declare_apply(
    "ApplyAdagrad",
    "apply_adagrad",
    "var accum | lr grad",
    _adagrad,
    {"lr": 0.1},
    bool_attrs=[("update_slots", True)],
    positive=("accum",),
)
