"""Data types, named and numbered as TensorFlow's (``DataType`` enum values).

Every numeric type of TF1 is here: float16 (``half``), bfloat16, float32,
float64, int8/16/32/64, uint8/16/32/64, plus bool and string, and ``variant`` (a host
object: a TensorList, the value TensorArrays are built on). bfloat16 has no
NumPy type of its own; as in TensorFlow, its NumPy type is ``ml_dtypes.bfloat16``
(16-bit storage, round-to-nearest-even conversion from float32). ml_dtypes is a large
extension library that a float32 program never needs: it loads when bfloat16's NumPy type
or a float type's limits are first asked for.
"""

from __future__ import annotations

import sys

import numpy as np


class DType:
    """A tensor element type: TF name, enum value, NumPy type and kind."""

    __slots__ = ("name", "as_datatype_enum", "as_numpy_dtype", "_np", "_kind")

    def __init__(self, name: str, enum: int, np_type, kind: str):
        self.name = name
        self.as_datatype_enum = enum
        self.as_numpy_dtype = np_type
        self._np = np.dtype(np_type) if np_type is not None else None
        # f: floating point, i: signed integer, u: unsigned integer, b: bool, s: string,
        # v: variant (a host object, never touched by a kernel)
        self._kind = kind

    @property
    def is_floating(self) -> bool:
        return self._kind == "f"

    @property
    def is_integer(self) -> bool:
        return self._kind in "iu"

    @property
    def is_unsigned(self) -> bool:
        return self._kind == "u"

    @property
    def is_bool(self) -> bool:
        return self._kind == "b"

    @property
    def is_numeric(self) -> bool:
        return self._kind in "fiu"

    @property
    def is_complex(self) -> bool:
        return False

    @property
    def is_quantized(self) -> bool:
        return False

    @property
    def is_numpy_compatible(self) -> bool:
        return True

    @property
    def base_dtype(self) -> DType:
        return self

    @property
    def real_dtype(self) -> DType:
        """The type of the real part (the type itself for a real type)."""
        return self

    @property
    def size(self) -> int:
        """Bytes per element (0 for string and variant, as in TensorFlow)."""
        return 0 if self._kind in "sv" else self._np.itemsize

    @property
    def np(self) -> np.dtype:
        return self._np

    @property
    def min(self):
        """The lowest finite value (TypeError for bool and string, as in TensorFlow)."""
        return self._limit(0)

    @property
    def max(self):
        """The highest finite value."""
        return self._limit(1)

    def _limit(self, which: int):
        if self._kind == "f":
            import ml_dtypes

            info = ml_dtypes.finfo(self._np)
            return (info.min, info.max)[which]
        if self._kind in "iu":
            info = np.iinfo(self._np)
            return (info.min, info.max)[which]
        raise TypeError(f"Cannot find {('minimum', 'maximum')[which]} value of {self!r}.")

    @property
    def limits(self, clip_negative: bool = True) -> tuple:
        """(min, max) of image intensities of this type (TF's `dtype_range`, min clipped to 0)."""
        rng = _IMAGE_RANGE.get(self.name)
        if rng is None:
            raise ValueError(f"Unknown dtype range for {self.name}")
        return (0, rng[1]) if clip_negative else rng

    def is_compatible_with(self, other) -> bool:
        """True when a value of type `other` can be used where this type is expected."""
        try:
            return self is as_dtype(other)
        except TypeError:
            return False

    def __repr__(self) -> str:
        return f"sf.{self.name}"

    def __str__(self) -> str:
        return f"<dtype: {self.name!r}>"

    def __reduce__(self):
        return (as_dtype, (self.name,))

    def __eq__(self, other) -> bool:
        if isinstance(other, DType):
            return self is other
        try:
            return self is as_dtype(other)
        except TypeError:
            return False

    def __ne__(self, other) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return self.as_datatype_enum

    def __int__(self) -> int:
        return self.as_datatype_enum


class _LazyNumPyType(DType):
    """A DType whose NumPy type comes from a module loaded on first use (bfloat16's, from
    ml_dtypes)."""

    __slots__ = ("_module",)

    def __init__(self, name: str, enum: int, module: str, kind: str):
        # the two NumPy slots are set through DType's descriptors: here they are properties
        self.name, self.as_datatype_enum, self._kind, self._module = name, enum, kind, module
        DType.as_numpy_dtype.__set__(self, None)
        DType._np.__set__(self, None)

    def _load(self):
        import importlib

        t = getattr(importlib.import_module(self._module), self.name)
        DType.as_numpy_dtype.__set__(self, t)
        DType._np.__set__(self, np.dtype(t))
        _BY_NP[np.dtype(t)] = self
        return t

    @property
    def as_numpy_dtype(self):
        t = DType.as_numpy_dtype.__get__(self)
        return self._load() if t is None else t

    @property
    def _np(self) -> np.dtype:
        d = DType._np.__get__(self)
        if d is None:
            self._load()
            d = DType._np.__get__(self)
        return d


float16 = DType("float16", 19, np.float16, "f")
half = float16
bfloat16 = _LazyNumPyType("bfloat16", 14, "ml_dtypes", "f")
float32 = DType("float32", 1, np.float32, "f")
float64 = DType("float64", 2, np.float64, "f")
double = float64
int8 = DType("int8", 6, np.int8, "i")
int16 = DType("int16", 5, np.int16, "i")
int32 = DType("int32", 3, np.int32, "i")
int64 = DType("int64", 9, np.int64, "i")
uint8 = DType("uint8", 4, np.uint8, "u")
uint16 = DType("uint16", 17, np.uint16, "u")
uint32 = DType("uint32", 22, np.uint32, "u")
uint64 = DType("uint64", 23, np.uint64, "u")
bool_ = DType("bool", 10, np.bool_, "b")
string = DType("string", 7, np.object_, "s")
# a variant tensor's element is a Python object (ops/list_ops.py: TensorList); it lives in the
# plan's object arrays, as strings do, and only host calls read or write it
variant = DType("variant", 21, np.object_, "v")

ALL = (
    float16,
    bfloat16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    uint8,
    uint16,
    uint32,
    uint64,
    bool_,
    string,
)
# (variant is not in ALL: no constant, feed or variable holds one; ops make and read it)
_BY_NAME = {d.name: d for d in ALL} | {"half": float16, "double": float64, "float": float32}
_BY_NAME["variant"] = variant
_BY_ENUM = {d.as_datatype_enum: d for d in (*ALL, variant)}
# TensorFlow's reference types (float32_ref, ...) read as their base type
_BY_ENUM.update({d.as_datatype_enum + 100: d for d in (*ALL, variant)})
# bfloat16's entry is added when ml_dtypes loads (a bfloat16 array cannot exist before)
_BY_NP = {d.np: d for d in ALL if d is not string and d is not bfloat16}

# TF's image intensity ranges (skimage's dtype_range), read by DType.limits
_IMAGE_RANGE = {
    "bool": (False, True),
    "float32": (-1, 1),
    "float64": (-1, 1),
    **{d.name: (int(np.iinfo(d.np).min), int(np.iinfo(d.np).max)) for d in ALL if d._kind in "iu"},
}

# Type groups for the op registry's `allowed` lists.
HALF_FLOATS = (float16, bfloat16)  # 16-bit floats: computed in float32, rounded to 16 bits
FLOATS = (float32, float64)
ALL_FLOATS = HALF_FLOATS + FLOATS
INTS = (int32, int64)
SMALL_SIGNED_INTS = (int8, int16)
UNSIGNED_INTS = (uint8, uint16, uint32, uint64)
SIGNED_INTS = SMALL_SIGNED_INTS + INTS
ALL_INTS = SIGNED_INTS + UNSIGNED_INTS
NUMERIC = FLOATS + INTS
ALL_NUMERIC = ALL_FLOATS + ALL_INTS
REAL_AND_BOOL = NUMERIC + (bool_,)
# every type a tensor of fixed-size elements can have (copies, variables, feeds)
FIXED_SIZE = ALL_NUMERIC + (bool_,)


def holds_objects(dt: DType) -> bool:
    """Whether a tensor of this type holds Python objects (string, variant): kept in object
    arrays outside the arena, read and written by host calls only."""
    return dt._kind in "sv"


def as_dtype(value) -> DType:
    """Convert a DType, name, enum value, NumPy dtype or Python type to a DType."""
    if isinstance(value, DType):
        return value
    if isinstance(value, str):
        d = _BY_NAME.get(value)
        if d is None:
            raise TypeError(f"Cannot convert the argument `type_value`: {value!r} to a staticflow DType.")
        return d
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        d = _BY_ENUM.get(int(value))
        if d is None:
            raise TypeError(f"Cannot convert the argument `type_value`: {value} to a staticflow DType.")
        return d
    if value is float:
        return float32
    if value is int:
        return int32
    if value is bool:
        return bool_
    if hasattr(value, "as_datatype_enum"):  # another framework's DType (TensorFlow's)
        return as_dtype(int(value.as_datatype_enum))
    try:
        npd = np.dtype(value)
    except TypeError:
        raise TypeError(
            f"Cannot convert the argument `type_value`: {value!r} to a staticflow DType."
        ) from None
    if npd.kind in "SUO":
        return string
    d = _BY_NP.get(npd)
    if d is None and npd.name == "bfloat16" and "ml_dtypes" in sys.modules:
        bfloat16.np  # noqa: B018  (adds its entry)
        d = _BY_NP.get(npd)
    if d is None:
        raise TypeError(f"NumPy dtype {npd} has no staticflow dtype")
    return d
