"""Data types, named and numbered as TensorFlow's (``DataType`` enum values)."""

from __future__ import annotations

import numpy as np


class DType:
    """A tensor element type: TF name, enum value, NumPy dtype."""

    __slots__ = ("name", "as_datatype_enum", "as_numpy_dtype", "_np")

    def __init__(self, name: str, enum: int, np_type):
        self.name = name
        self.as_datatype_enum = enum
        self.as_numpy_dtype = np_type
        self._np = np.dtype(np_type) if np_type is not None else None

    @property
    def is_floating(self) -> bool:
        return self._np is not None and self._np.kind == "f"

    @property
    def is_integer(self) -> bool:
        return self._np is not None and self._np.kind in "iu"

    @property
    def is_bool(self) -> bool:
        return self is bool_

    @property
    def is_numeric(self) -> bool:
        return self.is_floating or self.is_integer

    @property
    def base_dtype(self) -> DType:
        return self

    @property
    def size(self) -> int:
        return self._np.itemsize

    @property
    def np(self) -> np.dtype:
        return self._np

    @property
    def min(self):
        return np.finfo(self._np).min if self.is_floating else np.iinfo(self._np).min

    @property
    def max(self):
        return np.finfo(self._np).max if self.is_floating else np.iinfo(self._np).max

    def __repr__(self) -> str:
        return f"sf.{self.name}"

    def __reduce__(self):
        return (as_dtype, (self.name,))

    def __eq__(self, other) -> bool:
        if isinstance(other, DType):
            return self is other
        try:
            return self is as_dtype(other)
        except TypeError:
            return False

    def __hash__(self) -> int:
        return self.as_datatype_enum


float16 = DType("float16", 19, np.float16)
half = float16
float32 = DType("float32", 1, np.float32)
float64 = DType("float64", 2, np.float64)
double = float64
int32 = DType("int32", 3, np.int32)
uint8 = DType("uint8", 4, np.uint8)
int64 = DType("int64", 9, np.int64)
bool_ = DType("bool", 10, np.bool_)
string = DType("string", 7, np.object_)

ALL = (float16, float32, float64, int32, uint8, int64, bool_, string)
_BY_NAME = {d.name: d for d in ALL} | {"half": float16, "double": float64, "float": float32}
_BY_ENUM = {d.as_datatype_enum: d for d in ALL}
# TensorFlow's reference types (float32_ref, ...) read as their base type
_BY_ENUM.update({d.as_datatype_enum + 100: d for d in ALL})
_BY_NP = {d.np: d for d in ALL if d is not string}

FLOATS = (float32, float64)
INTS = (int32, int64)
NUMERIC = FLOATS + INTS
REAL_AND_BOOL = NUMERIC + (bool_,)


def as_dtype(value) -> DType:
    """Convert a DType, name, enum value, NumPy dtype or Python type to a DType."""
    if isinstance(value, DType):
        return value
    if isinstance(value, str):
        d = _BY_NAME.get(value)
        if d is None:
            raise TypeError(f"unknown dtype name {value!r}")
        return d
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        d = _BY_ENUM.get(int(value))
        if d is None:
            raise TypeError(f"unknown DataType enum value {value}")
        return d
    if value is float:
        return float32
    if value is int:
        return int32
    if value is bool:
        return bool_
    try:
        npd = np.dtype(value)
    except TypeError:
        raise TypeError(f"cannot interpret {value!r} as a staticflow dtype") from None
    if npd.kind in "SUO":
        return string
    d = _BY_NP.get(npd)
    if d is None:
        raise TypeError(f"NumPy dtype {npd} has no staticflow dtype")
    return d
