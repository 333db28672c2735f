"""Type conversions beyond Cast: TF's saturate_cast, Bitcast, and the image
intensity conversion of ``tf.image.convert_image_dtype``."""

from __future__ import annotations

import numpy as np

from staticflow.framework import dtypes
from staticflow.framework import ops as fops
from staticflow.framework.tensor_shape import TensorShape
from staticflow.ops import builder, math_ops
from staticflow.ops.lowering import COPY_KERNELS, View, contiguous_strides
from staticflow.ops.registry import Arg, Attr, Case, op

D = dtypes
# TensorFlow's Bitcast types (bool and string are not among them)
_BITCAST_T = D.ALL_NUMERIC


def _bitcast_shape(c):
    src, dst = c.input_dtypes[0], c.attrs["type"]
    s = c.shape(0)
    if src.size == dst.size:
        return [s]
    if src.size > dst.size:
        return [s.concatenate([src.size // dst.size])]
    if s.ndims is None:
        return [TensorShape(None)]
    if s.ndims == 0:
        raise ValueError(
            f"Cannot bitcast from {src.name} to {dst.name}: the input must have a last dimension"
        )
    last = s.as_tuple()[-1]
    if last is not None and last != dst.size // src.size:
        raise ValueError(
            f"Cannot bitcast from {src.name} to {dst.name}: shape {s} does not end in {dst.size // src.size}"
        )
    return [s[:-1]]


def _bitcast_ref(ins, a):
    x = np.array(ins[0], order="C")  # (ascontiguousarray makes a 0-d array 1-d)
    dst = a["type"]
    src_size = x.dtype.itemsize
    if src_size > dst.size:
        return x.view(dst.np).reshape(x.shape + (src_size // dst.size,))
    if src_size < dst.size:
        if x.ndim == 0 or x.shape[-1] != dst.size // src_size:
            raise ValueError(f"Cannot bitcast {x.dtype} of shape {x.shape} to {dst.name}")
        return x.view(dst.np).reshape(x.shape[:-1])
    return x.view(dst.np)


def _bitcast_lower(ctx):
    out = ctx.out(0)
    if out.size == 0:
        return
    # the input's bytes read as the output's type: a contiguous view of out's shape
    src = View(("in", 0), out.dtype, out.shape, contiguous_strides(out.shape))
    ctx.copy(src, out)


def _bitcast_cases(rng):
    f = rng.standard_normal((2, 3)).astype(np.float32)
    return [
        Case((f,), {"type": D.int32}, grad=False),
        Case((f,), {"type": D.uint8}, grad=False),
        Case((f,), {"type": D.bfloat16}, grad=False),
        Case((f.astype(np.float64),), {"type": D.int64}, grad=False),
        Case((rng.integers(0, 255, (3, 4)).astype(np.uint8),), {"type": D.float32}, grad=False),
        Case((rng.integers(0, 255, (2, 2)).astype(np.uint8),), {"type": D.int16}, grad=False),
        Case((f.astype(np.float16),), {"type": D.bfloat16}, grad=False),
        Case((np.array(-1, np.int8),), {"type": D.uint8}, grad=False),
        Case((np.zeros((0, 2), np.int16),), {"type": D.int32}, grad=False),
    ]


op(
    name="Bitcast",
    inputs=[Arg("input", type_attr="T")],
    outputs=[Arg("output", type_attr="type")],
    attrs=[Attr("T", "type", allowed=_BITCAST_T), Attr("type", "type", allowed=_BITCAST_T)],
    shape_fn=_bitcast_shape,
    ref=_bitcast_ref,
    lower=_bitcast_lower,
    kernels=COPY_KERNELS,
    differentiable=False,
    cases=_bitcast_cases,
    doc="The input's bytes read as another type (a last dimension grows or goes by the size ratio).",
)


def bitcast(input, type, name=None):  # noqa: A002 - TF's argument names
    """The bytes of `input` reinterpreted as `type` (TF's tf.bitcast).

    Types of one size keep the shape; a larger input type gains a last dimension
    of the size ratio, a smaller one must end in it and loses it.
    """
    return builder.apply_op("Bitcast", [input], {"type": D.as_dtype(type)}, name).outputs[0]


def saturate_cast(value, dtype, name=None):
    """Cast `value` to `dtype` without overflow: values are first clamped to the range both
    types hold (TF's saturate_cast). A limit the input type cannot hold exactly is moved
    toward zero, as TensorFlow does (float32 to int32 saturates at 2147483520)."""
    dtype = D.as_dtype(dtype)
    with fops.name_scope(name, "saturate_cast", [value]) as scope:
        value = fops.convert_to_tensor(value, name="value")
        src = value.dtype
        if src.is_numeric and dtype.is_numeric:
            lo, hi = _saturation_limits(src, dtype)
            value = math_ops.minimum(
                math_ops.maximum(value, fops.convert_to_tensor(lo, dtype=src)),
                fops.convert_to_tensor(hi, dtype=src),
                name="clamp",
            )
        return math_ops.cast(value, dtype, name=scope[:-1] if scope else None)


def _saturation_limits(src: D.DType, dst: D.DType):
    """[lo, hi] in src's type, inside dst's range (TensorFlow's nudged limits)."""
    t = src.as_numpy_dtype
    try:
        promoted = np.promote_types(src.np, dst.np)
    except TypeError:  # bfloat16
        promoted = np.float64
    lo = t(np.maximum(src.min, dst.min))
    if np.array([lo, dst.min], dtype=promoted)[0] < np.array(dst.min, dtype=promoted):
        lo = np.nextafter(lo, t(0), dtype=t)
    hi = t(np.minimum(float(src.max), float(dst.max)))
    if np.array([hi, dst.max], dtype=promoted)[0] > np.array(dst.max, dtype=promoted):
        hi = np.nextafter(hi, t(0), dtype=t)
    return np.asarray(lo, dtype=t), np.asarray(hi, dtype=t)


def convert_image_dtype(image, dtype, saturate=False, name=None):
    """Convert image intensities to `dtype`, rescaling them (TF's tf.image.convert_image_dtype).

    Integer images use the type's whole range [0, max]; float images [0, 1). Integer to
    integer shifts bits, integer to float divides by the input's max, float to integer
    multiplies by max + 0.5 (rounding down), float to float is a cast.
    """
    image = fops.convert_to_tensor(image, name="image")
    dtype = D.as_dtype(dtype)
    if not dtype.is_floating and not dtype.is_integer:
        raise AttributeError("dtype must be either floating point or integer")
    if not image.dtype.is_floating and not image.dtype.is_integer:
        raise AttributeError("image dtype must be either floating point or integer")
    if dtype == image.dtype:
        return _identity(image, name)
    with fops.get_default_graph().name_scope(name or "convert_image"):
        if image.dtype.is_integer and dtype.is_integer:
            scale_in, scale_out = image.dtype.max, dtype.max
            if scale_in > scale_out:
                scale = (scale_in + 1) // (scale_out + 1)
                scaled = math_ops.floordiv(image, _const(scale, image.dtype))
                return saturate_cast(scaled, dtype) if saturate else math_ops.cast(scaled, dtype)
            scale = (scale_out + 1) // (scale_in + 1)
            cast = saturate_cast(image, dtype) if saturate else math_ops.cast(image, dtype)
            return math_ops.multiply(cast, _const(scale, dtype))
        if image.dtype.is_floating and dtype.is_floating:
            return math_ops.cast(image, dtype)
        if image.dtype.is_integer:  # to float
            cast = math_ops.cast(image, dtype)
            return math_ops.multiply(cast, _const(1.0 / image.dtype.max, dtype))
        # float to integer: scale by max + 0.5 so that 1.0 maps to max, then truncate
        scaled = math_ops.multiply(image, _const(dtype.max + 0.5, image.dtype))
        return saturate_cast(scaled, dtype) if saturate else math_ops.cast(scaled, dtype)


def _const(v, dt):
    return fops.convert_to_tensor(np.asarray(v).astype(dt.np), dtype=dt)


def _identity(x, name):
    from staticflow.ops import array_ops

    return array_ops.identity(x, name=name)
