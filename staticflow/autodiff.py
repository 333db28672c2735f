"""Reverse-mode automatic differentiation as a graph transformation.

`gradients(ys, xs)` adds gradient operations to the graph that holds ys, so
gradients are ordinary tensors: they can be fetched, saved, drawn,
differentiated again and optimized by the passes. The traversal follows
TensorFlow's: mark the ops between xs and ys, count for each op how many of
its consumers on that path still owe it a gradient, and visit ops in reverse
order once all of their output gradients are in, summing several
contributions to one tensor with a single AddN. Each op's gradient is built
under the name scope ``gradients/<op name>_grad``.
"""

from __future__ import annotations

import collections

from staticflow.framework import dtypes, graph_walk
from staticflow.framework import ops as fops
from staticflow.ops import registry

# the ops' gradient modules register through the registry's decorator (it is re-exported here)
register_gradient = registry.register_gradient


def _as_tensor(x) -> fops.Tensor:
    if hasattr(x, "_ref") and hasattr(x, "initializer"):  # a Variable: differentiate w.r.t. its storage
        return x._ref()
    if hasattr(x, "_as_graph_element"):
        x = x._as_graph_element()
    if not isinstance(x, fops.Tensor):
        return fops.convert_to_tensor(x)
    return x


def _listify(x) -> list:
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _differentiable_dtype(t: fops.Tensor) -> bool:
    # (a variant, a TensorList, carries the gradients of its elements, as in TensorFlow)
    return t.dtype.is_floating or t.dtype is dtypes.variant


def _between(ys, xs, stops) -> set[int]:
    """Ids of ops reachable from xs (forward) that reach ys (backward), not past stops."""

    def consumers(op):
        return [c for t in op.outputs if t not in stops for c in t.consumers()]

    forward = {op._id for op in graph_walk.prune([x.op for x in xs], consumers)}

    def inputs(op):  # the backward walk goes on only through ops the forward one reached
        return [t.op for t in op.inputs if t not in stops] if op._id in forward else []

    return {op._id for op in graph_walk.prune([y.op for y in ys], inputs) if op._id in forward}


def _path_from_ys(op, ys, between) -> str:
    """A readable path ys <- ... <- op, for errors."""
    parents: dict[int, fops.Operation | None] = {y.op._id: None for y in ys}
    queue = collections.deque(y.op for y in ys)
    while queue:
        cur = queue.popleft()
        if cur is op:
            break
        for t in cur.inputs:
            nxt = t.op
            if nxt._id in between and nxt._id not in parents:
                parents[nxt._id] = cur
                queue.append(nxt)
    chain, cur = [], op
    while cur is not None:
        chain.append(cur.name)
        cur = parents.get(cur._id)
    return " <- ".join(reversed(chain))


def _sum_grads(grads: list, name: str):
    grads = [g for g in grads if g is not None]
    if not grads:
        return None
    if len(grads) == 1:
        return grads[0]
    from staticflow.ops import math_ops

    return math_ops.add_n(grads, name=name)


def gradients(
    ys,
    xs,
    grad_ys=None,
    name: str = "gradients",
    colocate_gradients_with_ops: bool = False,
    gate_gradients: bool = False,
    aggregation_method=None,
    stop_gradients=None,
    unconnected_gradients: str = "none",
) -> list:
    """Symbolic partial derivatives of sum(ys) with respect to each of xs.

    Returns one tensor per x (None for an x that ys do not depend on, or zeros
    with unconnected_gradients="zero"). grad_ys weights each y (default: ones).
    Gradients stop at stop_gradients and at StopGradient ops.
    """
    from staticflow.ops import array_ops

    ys = [_as_tensor(y) for y in _listify(ys)]
    xs = [_as_tensor(x) for x in _listify(xs)]
    grad_ys = _listify(grad_ys) if grad_ys is not None else [None] * len(ys)
    if len(grad_ys) != len(ys):
        raise ValueError(f"gradients: {len(grad_ys)} grad_ys for {len(ys)} ys")
    if unconnected_gradients not in ("none", "zero"):
        raise ValueError(f"unconnected_gradients must be 'none' or 'zero', got {unconnected_gradients!r}")
    if not ys:
        return [None] * len(xs)
    g = ys[0].graph
    for t in ys + xs:
        if t.graph is not g:
            raise ValueError(f"gradients: {t.name} is not in the same graph as {ys[0].name}")
    stops = {_as_tensor(s) for s in _listify(stop_gradients)}
    between = _between(ys, xs, stops)

    with g.as_default(), g.name_scope(name):
        # gradients arriving at each tensor, summed when all have arrived
        pending_grads: dict[fops.Tensor, list] = collections.defaultdict(list)
        for y, gy in zip(ys, grad_ys):
            if gy is None:
                if not _differentiable_dtype(y):
                    raise TypeError(f"gradients: ys must be floating point, {y.name} is {y.dtype.name}")
                gy = array_ops.ones_like(y, name=f"grad_ys_{len(pending_grads)}")
            else:
                gy = fops.convert_to_tensor(gy, dtype=y.dtype)
            pending_grads[y].append(gy)

        # each op once every consumer on the path has given it its gradients: the path's ops
        # in reverse dependency order
        ops_between = [op for op in g.get_operations() if op._id in between]

        def path_inputs(op):
            return [t.op for t in op.inputs if t.op._id in between and t not in stops]

        order = graph_walk.toposort(ops_between, path_inputs, key=lambda op: op._id, name=lambda op: op.name)
        xs_set = set(xs)
        done: dict[fops.Tensor, object] = {}
        for op in reversed(order):
            out_grads = []
            for t in op.outputs:
                gsum = _sum_grads(pending_grads.get(t, []), name=f"{op.name}_{t.value_index}_AddN")
                pending_grads[t] = [gsum] if gsum is not None else []
                out_grads.append(gsum)
                if t in xs_set:
                    done[t] = gsum
            if any(gr is not None for gr in out_grads) and _propagates(op, between, stops):
                in_grads = _op_gradients(op, out_grads, ys, between)
                for t, gr in zip(op.inputs, in_grads):
                    if gr is None or t in stops or t.op._id not in between:
                        continue
                    if not _differentiable_dtype(t):
                        continue
                    pending_grads[t].append(gr)

        out = []
        for x in xs:
            gx = done.get(x)
            if gx is None:
                gx = _sum_grads(pending_grads.get(x, []), name=f"{x.op.name}_AddN")
            if gx is None and unconnected_gradients == "zero":
                gx = array_ops.zeros_like(x)
            out.append(gx)
    return out


def _propagates(op, between, stops) -> bool:
    """True when some input of op lies on the path, so its gradient is needed."""
    return any(t.op._id in between and t not in stops and _differentiable_dtype(t) for t in op.inputs)


def _op_gradients(op, out_grads, ys, between) -> list:
    d = registry.get(op.type)
    override = _override_of(op)
    if override is not None:
        fn = _NAMED_GRADIENTS.get(override) or registry.GRADIENTS.get(override)
        if fn is None:
            raise LookupError(
                f"No gradient registered under the name {override!r}, which gradient_override_map "
                f"gives {op.describe()}"
            )
    elif not d.differentiable:
        if d.gradient_error:
            raise LookupError(
                f"{d.gradient_error}: {op.describe()}. Path from ys: {_path_from_ys(op, ys, between)}"
            )
        return [None] * len(op.inputs)
    else:
        fn = registry.GRADIENTS.get(op.type)
    if fn is None:
        raise LookupError(
            f"No gradient defined for operation '{op.name}' (op type: {op.type}). "
            f"Path from ys: {_path_from_ys(op, ys, between)}"
        )
    from staticflow.ops import array_ops

    # outputs without a gradient contribute zeros when others have one
    filled = [
        gr if gr is not None or not t.dtype.is_floating else array_ops.zeros_like(t)
        for t, gr in zip(op.outputs, out_grads)
    ]
    with op.graph.name_scope(op.name + "_grad"):
        grads = fn(op, *filled)
    grads = list(grads) if isinstance(grads, (list, tuple)) else [grads]
    if len(grads) != len(op.inputs):
        raise RuntimeError(f"gradient of {op.type} returned {len(grads)} values for {len(op.inputs)} inputs")
    for t, gr in zip(op.inputs, grads):
        if gr is not None and _differentiable_dtype(t) and not gr.shape.is_compatible_with(t.shape):
            raise ValueError(
                f"gradient of {op.type} op '{op.name}' has shape {gr.shape} for input {t.name} of shape "
                f"{t.shape}"
            )
    return grads


# gradient functions registered under a name (sf.RegisterGradient) that is no op type:
# ops take them through Graph.gradient_override_map
_NAMED_GRADIENTS: dict[str, object] = {}


def _override_of(op) -> str | None:
    """The gradient name gradient_override_map gave `op` (its `_gradient_op_type` attr), or None."""
    attr = op._extra_attrs.get("_gradient_op_type")
    return attr.s.decode() if attr is not None else None


class RegisterGradient:
    """Decorator registering a gradient function under a name (TF1's tf.RegisterGradient).

    A name that is an op type without a gradient becomes that op's gradient; any
    other name is used by ops created under ``graph.gradient_override_map({op_type:
    name})``. The function takes (op, *output_grads) and returns one gradient per input.
    """

    def __init__(self, op_type: str):
        if not isinstance(op_type, str):
            raise TypeError("op_type must be a string")
        self._op_type = op_type

    def __call__(self, f):
        name = self._op_type
        d = registry.lookup(name)
        taken = name in _NAMED_GRADIENTS or registry.GRADIENTS.get(name) is not None
        if taken or (d is not None and not d.differentiable):
            raise KeyError(f"Registering two gradient with name '{name}'!")
        if d is not None:
            registry.GRADIENTS[name] = f
        else:
            _NAMED_GRADIENTS[name] = f
        return f


def hessian_vector_product(ys, xs, v) -> list:
    """H v for H the Hessian of sum(ys) w.r.t. xs: the gradient of <grad, v>."""
    from staticflow.ops import array_ops, math_ops

    xs = _listify(xs)
    vs = _listify(v)
    grads = gradients(ys, xs)
    prods = [
        math_ops.reduce_sum(gr * array_ops.stop_gradient(vv)) for gr, vv in zip(grads, vs) if gr is not None
    ]
    return gradients(math_ops.add_n(prods), xs)


# the gradient of a cond (ops/control_flow_v2.py) differentiates its branches with this
# function, which lives above the ops
def _install() -> None:
    from staticflow.ops import control_flow_v2

    control_flow_v2.install_gradients(gradients)


_install()
