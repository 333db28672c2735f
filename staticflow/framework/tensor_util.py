"""NumPy arrays <-> TensorProto (TF's make_tensor_proto / MakeNdarray).

A TensorProto's shape is only a claim: its contents are checked against it
(`tensor_content` must hold exactly the bytes the shape and dtype need), and
the splat form TensorFlow writes for constant-filled tensors (one value in the
typed list for a whole shape) can be read lazily, as a read-only broadcast
view, so that a 57-byte constant of shape [1 << 40] costs nothing until a
plan expands it, within the allocation limit.
"""

from __future__ import annotations

import numpy as np

from staticflow.framework import dtypes, sizes

# The typed value field of each dtype, as TensorFlow's tensor.proto assigns them.
_VAL_FIELD = {
    dtypes.float32: "float_val",
    dtypes.float64: "double_val",
    dtypes.int32: "int_val",
    dtypes.int16: "int_val",
    dtypes.int8: "int_val",
    dtypes.uint8: "int_val",
    dtypes.uint16: "int_val",
    dtypes.uint32: "uint32_val",
    dtypes.int64: "int64_val",
    dtypes.uint64: "uint64_val",
    dtypes.bool_: "bool_val",
    dtypes.float16: "half_val",
    dtypes.bfloat16: "half_val",
    dtypes.string: "string_val",
}
# 16-bit floats travel in half_val as their bit patterns
_BIT_PATTERN = (dtypes.float16, dtypes.bfloat16)
# TensorFlow writes these in their value field even when not scalar (it has no
# fast path to tensor_content for them); reading accepts either form
_ALWAYS_VAL_FIELD = (dtypes.uint16,)


def make_tensor_proto(values, dtype=None, shape=None):
    """A TensorProto holding `values` (raw little-endian bytes for non-scalars, as TF writes them)."""
    from staticflow.framework import tensor_pb2

    dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.as_dtype(np.asarray(values).dtype)
    arr = np.asarray(values, dtype=dt.np if dt is not dtypes.string else object)
    if shape is not None:
        arr = np.broadcast_to(arr, tuple(shape)) if arr.size == 1 else arr.reshape(shape)
    p = tensor_pb2.TensorProto(dtype=dt.as_datatype_enum)
    p.tensor_shape.SetInParent()  # present for scalars too, as TensorFlow writes it
    for d in arr.shape:
        p.tensor_shape.dim.add(size=int(d))
    # one value broadcast over the whole shape (a lazy splat, or a scalar given a shape) is
    # written as TensorFlow writes it: that value alone in the typed list
    splat = arr.ndim > 0 and arr.size > 1 and all(st == 0 for st in arr.strides)
    if dt is dtypes.string:
        vals = arr.reshape(-1)[:1] if splat else arr.reshape(-1)
        p.string_val.extend(v if isinstance(v, bytes) else str(v).encode() for v in vals)
    elif arr.ndim == 0 or splat or dt in _ALWAYS_VAL_FIELD:
        v = arr.reshape(-1)[:1] if splat else arr.reshape(-1)
        if dt in _BIT_PATTERN:
            p.half_val.extend(v.view(np.uint16).astype(np.int32).tolist())
        else:
            getattr(p, _VAL_FIELD[dt]).extend(v.tolist())
    else:
        p.tensor_content = np.asarray(arr, dtype=arr.dtype.newbyteorder("<"), order="C").tobytes()
    return p


def make_ndarray(p, lazy: bool = False) -> np.ndarray:
    """The array a TensorProto holds; a short typed value list repeats its last value (TF rule).

    The contents must match the shape: `tensor_content` of exactly the bytes the shape
    needs, or at most as many typed values as elements. `lazy` returns a splat (no value,
    or one value for the whole shape) as a read-only broadcast view instead of expanding
    it; otherwise an expansion beyond the allocation limit is a ResourceExhaustedError."""
    try:
        dt = dtypes.as_dtype(p.dtype)
    except (TypeError, ValueError, KeyError):
        raise ValueError(f"TensorProto has dtype {p.dtype}, which staticflow does not support") from None
    if p.tensor_shape.unknown_rank:
        raise ValueError("TensorProto has a shape of unknown rank")
    shape = [int(d.size) for d in p.tensor_shape.dim]
    n = sizes.num_elements(shape, "TensorProto shape")
    if dt is dtypes.string:
        vals = list(p.string_val)
        return _fill(np.array(vals, dtype=object), shape, n, "string_val", lazy)
    if p.tensor_content:
        le = dt.np.newbyteorder("<")
        if len(p.tensor_content) != n * dt.size:
            raise ValueError(
                f"TensorProto of shape {shape} and dtype {dt.name} has {len(p.tensor_content)} "
                f"content bytes, expected {n * dt.size}"
            )
        return np.frombuffer(p.tensor_content, dtype=le).astype(dt.np).reshape(shape)
    field = _VAL_FIELD.get(dt)
    if field is None:
        raise ValueError(f"TensorProto of dtype {dt.name} is not supported")
    vals = getattr(p, field)
    if len(vals) > max(n, 1):
        raise ValueError(f"TensorProto of shape {shape} has {len(vals)} values in {field} for {n} elements")
    if dt in _BIT_PATTERN:
        arr = np.array(list(vals), dtype=np.int32).astype(np.uint16).view(dt.np)
    else:
        if dt.np.kind in "iu":  # int_val holds int32s for the narrower types too: each must fit
            info = np.iinfo(dt.np)
            bad = next((v for v in vals if not info.min <= v <= info.max), None)
            if bad is not None:
                raise ValueError(f"TensorProto of dtype {dt.name} holds {bad} in {field}, out of its range")
        arr = np.array(list(vals), dtype=dt.np)
    return _fill(arr, shape, n, field, lazy)


def _fill(arr, shape, n, field, lazy=False):
    if arr.size == n:
        return arr.reshape(shape)
    if arr.size > n:
        raise ValueError(f"TensorProto has {arr.size} values in {field} for {n} elements")
    if arr.size <= 1:  # the splat form: no value (zeros) or one value for the whole shape
        v = arr.reshape(-1)[-1] if arr.size else (b"" if arr.dtype == object else np.zeros((), arr.dtype))
        splat = np.broadcast_to(np.array(v, dtype=arr.dtype), tuple(shape))
        if lazy:
            return splat
        sizes.check_allocation(n * arr.dtype.itemsize, f"a constant of shape {shape} ({field})")
        return np.array(splat)
    sizes.check_allocation(n * arr.dtype.itemsize, f"a constant of shape {shape} ({field})")
    return np.concatenate([arr, np.full(n - arr.size, arr[-1], dtype=arr.dtype)]).reshape(shape)
