"""Debugging ops: CheckNumerics stops a run at the first NaN or Inf; Print prints while running."""

from __future__ import annotations

import sys

import numpy as np

from staticflow.framework import dtypes
from staticflow.framework import ops as fops
from staticflow.ops import builder, casegen, registry
from staticflow.ops.lowering import COPY_DTYPES
from staticflow.ops.registry import Arg, Attr, Case, op

D = dtypes
F = D.FLOATS


def _check_ref(ins, a):
    x = ins[0]
    nan, inf = bool(np.isnan(x).any()), bool(np.isinf(x).any())
    if nan or inf:
        what = "Inf and NaN" if nan and inf else ("NaN" if nan else "Inf")
        raise ValueError(f"{a['message']} : Tensor had {what} values")
    return x.copy()


def _check_lower(ctx):
    out = ctx.out(0)
    if out.size:
        ctx.call(ctx.kernel("check_numerics"), [ctx.inp(0)], [out])


op(
    name="CheckNumerics",
    inputs=[Arg("tensor", type_attr="T")],
    outputs=[Arg("output", type_attr="T")],
    attrs=[Attr("T", "type", allowed=F), Attr("message", "string", "")],
    shape_fn=lambda c: [c.shape(0)],
    ref=_check_ref,
    lower=_check_lower,
    kernels=registry.kernels_for(["check_numerics"], F),
    error_prefix=lambda op_: f"{op_.get_attr('message')} : ",
    cases=lambda rng: [
        Case((casegen.rand(rng, s, t),), {"message": "checked"}) for t in F for s in [(), (3, 4)]
    ],
    doc="Its input; the run stops with an error naming the op when the input has a NaN or Inf.",
)


def _print_fn(op_, arrays, _outs=()):
    """The host side of Print: message and the data tensors, like TensorFlow's."""
    override = getattr(op_, "_host_override", None)
    if override is not None:
        override(op_, arrays)
        return
    first_n = op_.get_attr("first_n")
    count = getattr(op_, "_print_count", 0)
    if first_n >= 0 and count >= first_n:
        return
    op_._print_count = count + 1
    summarize = op_.get_attr("summarize")
    parts = []
    for a in arrays:
        flat = a.reshape(-1)
        shown = " ".join(
            v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in flat[:summarize]
        )
        parts.append(f"[{shown}{'...' if flat.size > summarize else ''}]")
    print(op_.get_attr("message") + "".join(parts), file=sys.stderr, flush=True)


def _print_lower(ctx):
    ctx.alias(0, 0)
    ctx.host(_print_fn, [ctx.inp(i) for i in range(1, len(ctx.in_shapes))])


op(
    name="Print",
    inputs=[Arg("input", type_attr="T"), Arg("data", type_list_attr="U", differentiable=False)],
    outputs=[Arg("output", type_attr="T")],
    attrs=[
        Attr("T", "type", allowed=COPY_DTYPES + (D.string,)),
        Attr("U", "list(type)", allowed=COPY_DTYPES + (D.string,)),
        Attr("message", "string", ""),
        Attr("first_n", "int", -1),
        Attr("summarize", "int", 3),
    ],
    shape_fn=lambda c: [c.shape(0)],
    ref=lambda ins, a: ins[0],
    lower=_print_lower,
    strings_lowered=True,
    stateful=True,
    cases=lambda rng: [
        Case((casegen.rand(rng, (2, 3)), [casegen.rand(rng, (4,))]), {"message": "x: "}),
        Case((casegen.rand(rng, (2,), D.string), [casegen.rand(rng, (3,), D.string)]), grad=False),
        Case((casegen.rand(rng, (2,)), [casegen.rand(rng, (3,), D.int32), casegen.rand(rng, (1, 2))]), {}),
    ],
    doc="Its input; prints message and the data tensors each time it runs (to stderr).",
)


def _summarize(a: np.ndarray, summarize: int) -> str:
    flat = a.reshape(-1)
    shown = " ".join(
        v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in flat[:summarize]
    )
    return f"[{shown}{'...' if flat.size > summarize else ''}]"


def _assert_fn(op_, arrays, _outs=()):
    """The host side of Assert: the run fails, showing the data tensors, when the condition
    does not hold (TensorFlow's message)."""
    if bool(np.asarray(arrays[0]).reshape(())):
        return
    summarize = op_.get_attr("summarize")
    raise ValueError(
        "assertion failed: " + " ".join(_summarize(np.asarray(a), summarize) for a in arrays[1:])
    )


def _assert_ref(ins, a):
    if not bool(np.asarray(ins[0]).reshape(())):
        raise ValueError("assertion failed")
    return []


op(
    name="Assert",
    inputs=[Arg("condition", dtype=D.bool_), Arg("data", type_list_attr="T", differentiable=False)],
    outputs=[],
    attrs=[Attr("T", "list(type)", allowed=COPY_DTYPES + (D.string,)), Attr("summarize", "int", 3)],
    shape_fn=lambda c: [],
    ref=_assert_ref,
    lower=lambda ctx: ctx.host(_assert_fn, [ctx.inp(i) for i in range(len(ctx.in_shapes))]),
    strings_lowered=True,
    stateful=True,
    differentiable=False,
    cases=lambda rng: [Case((np.bool_(True), [casegen.rand(rng, (2,)), np.array(b"x", object)]), grad=False)],
    doc="Nothing; the run fails with the data tensors in its message when condition (a scalar) is false.",
)


def Assert(condition, data, summarize=None, name=None) -> fops.Operation:  # noqa: N802 - TF's name
    """An op that fails the run, showing `data` (tensors or strings), when the bool scalar
    `condition` is false; make what it guards depend on it (control dependencies)."""
    with fops.name_scope(name, "Assert", [condition]) as scope:
        data = [fops.convert_to_tensor(d) for d in data]
        attrs = {"T": [d.dtype for d in data], "summarize": 3 if summarize is None else summarize}
        return builder.apply_op("Assert", [condition, data], attrs, name=scope)


def check_numerics(tensor, message: str, name=None) -> fops.Tensor:
    """tensor, checked for NaN and Inf each time it is computed."""
    return builder.apply_op("CheckNumerics", [tensor], {"message": message}, name).outputs[0]


def add_check_numerics_ops() -> fops.Operation:
    """One op that checks every floating-point tensor of the default graph for NaN and Inf."""
    from staticflow.ops import control_flow_ops

    g = fops.get_default_graph()
    checks = []
    for o in list(g.get_operations()):
        if o.type in ("CheckNumerics", "VariableV2") or o.name.startswith("CheckNumerics"):
            continue
        for t in o.outputs:
            if t.dtype.is_floating and t.dtype in F:
                checks.append(check_numerics(t, f"{o.name}:{t.value_index}"))
    return control_flow_ops.group(*checks, name="CheckNumerics_all")


def print_(input_, data, message=None, first_n=None, summarize=None, name=None) -> fops.Tensor:
    """TF1's tf.Print: input unchanged; prints message and data whenever it is computed."""
    data = [fops.convert_to_tensor(d) for d in data]
    if not data:
        data = [input_]
    attrs = {
        "message": message or "",
        "first_n": -1 if first_n is None else first_n,
        "summarize": 3 if summarize is None else summarize,
    }
    return builder.apply_op("Print", [input_, data], attrs, name).outputs[0]


def print_v2(*inputs, output_stream=None, sep=" ", end="\n", name=None) -> fops.Operation:
    """sf.print: an op that prints its inputs (tensors and Python values) each time it runs."""
    from staticflow.ops import array_ops

    tensors = [x for x in inputs if isinstance(x, fops.Tensor)]
    kinds = [t.dtype for t in tensors]
    data = tensors or [array_ops.constant(0)]

    def fn(op_, arrays):
        it = iter(zip(arrays, kinds))
        parts = []
        for x in inputs:
            if isinstance(x, fops.Tensor):
                arr, kind = next(it)
                parts.append(np.array2string(np.asarray(arr).astype(kind.np)))
            else:
                parts.append(str(x))
        print(sep.join(parts), end=end, file=output_stream or sys.stderr, flush=True)

    out = builder.apply_op("Print", [data[0], data], {"message": ""}, name)
    out._host_override = fn
    return out


def _register_gradients() -> None:
    from staticflow.ops.registry import register_gradient

    @register_gradient("CheckNumerics")
    def _check_numerics_grad(op_, g):
        msg = "Not a number (NaN) or infinity (Inf) values detected in gradient. " + op_.get_attr("message")
        return check_numerics(g, msg)

    @register_gradient("Print")
    def _print_grad(op_, g):
        return [g] + [None] * (len(op_.inputs) - 1)
