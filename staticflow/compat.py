"""sf.compat: TF1's tf.compat text and number helpers, and ``sf.compat.v1``.

``sf.compat.v1`` is staticflow itself (whose API is tf.compat.v1's), so a
script written against ``tf.compat.v1.placeholder`` runs unchanged.
"""

from __future__ import annotations

import numbers as _numbers
import os as _os

import numpy as _np

from staticflow.framework.tensor_shape import dimension_value

bytes_or_text_types = (bytes, str)
integral_types = (_numbers.Integral, _np.integer)
real_types = (_numbers.Real, _np.integer, _np.floating)
complex_types = (_numbers.Complex, _np.number)


def as_bytes(bytes_or_text, encoding: str = "utf-8") -> bytes:
    """bytes as they are (a bytearray copied), str encoded; TypeError for anything else."""
    if isinstance(bytes_or_text, bytearray):
        return bytes(bytes_or_text)
    if isinstance(bytes_or_text, str):
        return bytes_or_text.encode(encoding)
    if isinstance(bytes_or_text, bytes):
        return bytes_or_text
    raise TypeError(f"Expected binary or unicode string, got {bytes_or_text!r}")


def as_text(bytes_or_text, encoding: str = "utf-8") -> str:
    """str as it is, bytes decoded; TypeError for anything else."""
    if isinstance(bytes_or_text, str):
        return bytes_or_text
    if isinstance(bytes_or_text, bytes):
        return bytes_or_text.decode(encoding)
    raise TypeError(f"Expected binary or unicode string, got {bytes_or_text!r}")


as_str = as_text


def as_str_any(value, encoding: str = "utf-8") -> str:
    """bytes decoded, anything else str(value)."""
    if isinstance(value, bytes):
        return as_str(value, encoding)
    return str(value)


def path_to_str(path):
    """A path-like object's path (str or bytes); other values unchanged."""
    if isinstance(path, _os.PathLike):
        return _os.fspath(path)
    return path


def dimension_at_index(shape, index):
    """The Dimension at `index` of `shape`."""
    from staticflow.framework.tensor_shape import as_shape

    return as_shape(shape)[index]


def __getattr__(name: str):
    if name == "v1":
        import staticflow

        return staticflow
    raise AttributeError(f"module 'staticflow.compat' has no attribute {name!r}")


__all__ = [
    "as_bytes",
    "as_str",
    "as_str_any",
    "as_text",
    "bytes_or_text_types",
    "complex_types",
    "dimension_at_index",
    "dimension_value",
    "integral_types",
    "path_to_str",
    "real_types",
]
