"""Ops' own simplification rules, named in their registry declarations (`simplify=`).

Each is ``rule(node, rw) -> Value | None``: given an IR node with concrete shapes
and a `passes.rewrite.Rewriter`, the value that computes the same thing more
cheaply, or None. A rule never reads a value that may change during the run (a
variable's storage) at another point of the run than the node did.
"""

from __future__ import annotations

import numpy as np

from staticflow.framework import dtypes

D = dtypes


def stable(v) -> bool:
    """Whether reading `v` anywhere in the run gives the same value: a feed, or a pure node."""
    return v.node.opdef is None or v.node.pure


def reshape_chain(node, rw):
    """A reshape-like op (reshape, expand_dims, squeeze) of a reshape-like op: one reshape
    of the first input; no reshape at all when the shape does not change."""
    x = node.inputs[0]
    if x.shape == node.shapes[0] and stable(x):
        return x
    inner = x.node
    if inner.opdef is None or not inner.opdef.reshape_like or inner.control or not stable(inner.inputs[0]):
        return None
    src = inner.inputs[0]
    if src.shape == node.shapes[0]:
        return src
    shape = rw.const(np.array(node.shapes[0], np.int64), D.int64, node.origin, f"{node.name}/shape")
    return rw.add(
        "Reshape", [src, shape], {"T": src.dtype, "Tshape": D.int64}, node.origin, node.name
    ).output(0)


def transpose_chain(node, rw):
    """Transposing by the identity permutation is no transpose; two transposes are one."""
    perm = rw.known(node.inputs[1])
    if perm is None:
        return None
    perm = [int(p) for p in np.asarray(perm).reshape(-1)]
    x = node.inputs[0]
    if perm == list(range(len(perm))) and stable(x):
        return x
    inner = x.node
    if inner.type != node.type or inner.control or not stable(inner.inputs[0]):
        return None
    first = rw.known(inner.inputs[1])
    if first is None:
        return None
    first = [int(p) for p in np.asarray(first).reshape(-1)]
    both = [first[p] for p in perm]
    src = inner.inputs[0]
    if both == list(range(len(both))):
        return src
    p = rw.const(np.array(both, np.int32), D.int32, node.origin, f"{node.name}/perm")
    return rw.add("Transpose", [src, p], {"T": src.dtype, "Tperm": D.int32}, node.origin, node.name).output(0)


_MANTISSA = {"float16": 11, "bfloat16": 8, "float32": 24, "float64": 53}


def _exactly(src: dtypes.DType, dst: dtypes.DType) -> bool:
    """Whether every value of `src` survives a cast to `dst` unchanged."""
    if src == dst or src is D.bool_:
        return dst is D.bool_ or dst.is_numeric or src == dst
    if src.is_integer and dst.is_integer:
        return dst.min <= src.min and src.max <= dst.max
    if src.is_integer and dst.is_floating:
        bits = int(np.ceil(np.log2(float(max(abs(int(src.min)), int(src.max)) + 1))))
        return bits <= _MANTISSA.get(dst.name, 0)
    if src.is_floating and dst.is_floating:
        return _MANTISSA.get(src.name, 99) <= _MANTISSA.get(dst.name, 0) and (
            src.name != "float16" or dst.name != "bfloat16"
        )
    return False


def cast_chain(node, rw):
    """A cast to the type a value has is no cast; a cast to a wider type and back is none."""
    x = node.inputs[0]
    if x.dtype == node.dtypes[0] and stable(x):
        return x
    inner = x.node
    if inner.type != node.type or inner.control or not stable(inner.inputs[0]):
        return None
    src = inner.inputs[0]
    if src.dtype == node.dtypes[0] and _exactly(src.dtype, x.dtype):
        return src
    return None


def reduce_nothing(node, rw):
    """A reduction over no axes, or over axes of size 1 only, keeps every element as it is (a
    gradient's sum over the broadcast axes of an operand that was not broadcast): a reshape,
    or nothing at all when the shape does not change."""
    axes = rw.known(node.inputs[1])
    x = node.inputs[0]
    if axes is None or not stable(x) or x.dtype != node.dtypes[0]:
        return None
    r = len(x.shape)
    axes = {int(a) % r for a in np.asarray(axes).reshape(-1)} if r else set()
    if any(x.shape[a] != 1 for a in axes):
        return None
    if x.shape == node.shapes[0]:
        return x
    shape = rw.const(np.array(node.shapes[0], np.int64), D.int64, node.origin, f"{node.name}/shape")
    return rw.add("Reshape", [x, shape], {"T": x.dtype, "Tshape": D.int64}, node.origin, node.name).output(0)
