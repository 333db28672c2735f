"""Element counts, byte sizes and the allocation limit, computed without overflow.

Every shape that reaches a plan passes through here: shape functions, reshapes
and views, constants read from files, and every buffer a plan allocates. The
kernels index memory with 64-bit integers, so a shape is refused when the
product of its nonzero dimensions (hence any sub-product a lowering or kernel
forms from it) or its byte size does not fit in a signed 64-bit integer.
NumPy's `np.prod(..., dtype=np.int64)` wraps silently instead (4 * (2**62 + 1)
is 4), which is how a 16-byte buffer could pass for an enormous one.

Allocations larger than the allocation limit raise
`errors.ResourceExhaustedError` naming the op and the size. The limit is, in
order: a session's `ConfigProto.allocation_limit_bytes`, the environment
variable STATICFLOW_ALLOCATION_LIMIT (bytes, optionally with a K, M, G or T
suffix), or DEFAULT_FRACTION of the machine's physical memory.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable

INT64_MAX = (1 << 63) - 1
MAX_RANK = 254  # TensorFlow's limit on the number of dimensions
ENV_LIMIT = "STATICFLOW_ALLOCATION_LIMIT"
DEFAULT_FRACTION = 0.75
# when the physical memory cannot be read: a limit that still stops absurd sizes
_FALLBACK_LIMIT = 1 << 40
_SUFFIXES = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def num_elements(dims: Iterable, what: str = "shape") -> int:
    """The element count of a fully known shape, as a Python int.

    Raises ValueError for a negative or unknown dimension, and when the product of
    the nonzero dimensions does not fit in int64 (TensorFlow's "has too many
    elements")."""
    dims = list(dims)
    if len(dims) > MAX_RANK:
        raise ValueError(f"{what} has {len(dims)} dimensions; at most {MAX_RANK} are allowed")
    n = 1
    nonzero = 1
    for d in dims:
        if d is None:
            raise ValueError(f"{what} {_fmt(dims)} is not fully defined")
        d = int(d)
        if d < 0:
            raise ValueError(f"{what} {_fmt(dims)} has a negative dimension {d}")
        n *= d
        if d:
            nonzero *= d
            if nonzero > INT64_MAX:
                raise ValueError(f"{what} {_fmt(dims)} has too many elements")
    return n


def check_shape(dims: Iterable, itemsize: int = 1, what: str = "shape") -> list[int]:
    """`dims` as ints, checked by num_elements and for a byte size that fits in int64."""
    dims = [None if d is None else int(d) for d in dims]
    num_elements(dims, what)
    nonzero = 1
    for d in dims:
        nonzero *= d or 1
    if nonzero * max(int(itemsize), 1) > INT64_MAX:
        raise ValueError(f"{what} {_fmt(dims)} has too many bytes for its element size {itemsize}")
    return dims


def nbytes(dims: Iterable, itemsize: int, what: str = "shape") -> int:
    """Bytes of a dense tensor of this shape and element size (checked as check_shape)."""
    dims = check_shape(dims, itemsize, what)
    return num_elements(dims, what) * int(itemsize)


def fmt_bytes(n: int) -> str:
    """A byte count for messages: '4.00 TiB (4398046511104 bytes)'."""
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.2f} {unit} ({n} bytes)"
    return f"{n} bytes"


def parse_bytes(text: str, what: str = ENV_LIMIT) -> int:
    """'1073741824', '512M', '8G' -> bytes; ValueError names `what` when it is not one."""
    s = str(text).strip().upper().removesuffix("B").removesuffix("I")
    unit = s[-1:] if s[-1:] in _SUFFIXES and s[-1:] else ""
    digits = s[: len(s) - len(unit)].strip()
    try:
        value = float(digits)
    except ValueError:
        raise ValueError(
            f"{what}={text!r} is not a byte count (an integer, optionally with K, M, G or T)"
        ) from None
    if value <= 0 or value != value:
        raise ValueError(f"{what}={text!r} must be a positive byte count")
    return int(value * _SUFFIXES[unit])


@functools.cache
def physical_memory() -> int | None:
    """Bytes of physical memory, or None when the system does not say."""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    if pages <= 0 or size <= 0:
        return None
    return int(pages) * int(size)


def allocation_limit(configured: int | None = None) -> int:
    """The largest single allocation allowed: `configured` (> 0), else the environment
    variable, else DEFAULT_FRACTION of physical memory."""
    if configured:
        if configured < 0:
            raise ValueError(f"allocation_limit_bytes must be positive, got {configured}")
        return int(configured)
    return _limit_from(os.environ.get(ENV_LIMIT, ""))


@functools.lru_cache(maxsize=16)
def _limit_from(env: str) -> int:
    """The limit the environment variable's text sets (each allocation asks: parsed once)."""
    env = env.strip()
    if env:
        return parse_bytes(env)
    mem = physical_memory()
    return int(mem * DEFAULT_FRACTION) if mem else _FALLBACK_LIMIT


def check_allocation(n: int, what: str, op=None, limit: int | None = None) -> None:
    """Raise ResourceExhaustedError when allocating `n` bytes for `what` would pass the limit.

    `op` (an Operation, or None) is the op the allocation is for; the message names it."""
    from staticflow.framework import errors

    lim = allocation_limit(limit)
    if n <= lim:
        return
    where = ""
    if op is not None:
        from staticflow.framework import ops as fops

        where = f"\n\t [[node {op.name} ({op.type}) defined at {fops.format_location(op.location)}]]"
    raise errors.ResourceExhaustedError(
        None,
        op,
        f"OOM when allocating {what}: {fmt_bytes(n)} is more than the allocation limit of "
        f"{fmt_bytes(lim)} (set it with ConfigProto(allocation_limit_bytes=...) or the "
        f"{ENV_LIMIT} environment variable)" + where,
    )


def _fmt(dims) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"
