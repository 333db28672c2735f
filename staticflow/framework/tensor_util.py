"""NumPy arrays <-> TensorProto (TF's make_tensor_proto / MakeNdarray)."""

from __future__ import annotations

import numpy as np

from staticflow.framework import dtypes

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
    if dt is dtypes.string:
        p.string_val.extend(v if isinstance(v, bytes) else str(v).encode() for v in arr.reshape(-1))
    elif arr.ndim == 0 or dt in _ALWAYS_VAL_FIELD:
        v = arr.reshape(-1)
        if dt in _BIT_PATTERN:
            p.half_val.extend(v.view(np.uint16).astype(np.int32).tolist())
        else:
            getattr(p, _VAL_FIELD[dt]).extend(v.tolist())
    else:
        p.tensor_content = np.asarray(arr, dtype=arr.dtype.newbyteorder("<"), order="C").tobytes()
    return p


def make_ndarray(p) -> np.ndarray:
    """The array a TensorProto holds; a short typed value list repeats its last value (TF rule)."""
    dt = dtypes.as_dtype(p.dtype)
    shape = [d.size for d in p.tensor_shape.dim]
    n = int(np.prod(shape, dtype=np.int64))
    if dt is dtypes.string:
        vals = list(p.string_val)
        return _fill(np.array(vals, dtype=object), shape, n, "string_val")
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
    if dt in _BIT_PATTERN:
        arr = np.array(list(vals), dtype=np.int32).astype(np.uint16).view(dt.np)
    else:
        arr = np.array(list(vals), dtype=dt.np)
    return _fill(arr, shape, n, field)


def _fill(arr, shape, n, field):
    if arr.size == n:
        return arr.reshape(shape)
    if arr.size == 0:
        return np.zeros(shape, dtype=arr.dtype) if arr.dtype != object else np.full(shape, b"", dtype=object)
    if arr.size > n:
        raise ValueError(f"TensorProto has {arr.size} values in {field} for {n} elements")
    return np.concatenate([arr, np.full(n - arr.size, arr[-1], dtype=arr.dtype)]).reshape(shape)
