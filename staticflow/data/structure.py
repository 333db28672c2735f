"""Nested element structures of datasets: tuples, namedtuples and dicts of leaves.

As in tf.data, a tuple (or namedtuple) and a dict (in sorted key order) are
structure; anything else (a tensor, an array, a list of numbers) is one leaf.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def is_nested(x) -> bool:
    return isinstance(x, (tuple, Mapping))


def flatten(x) -> list:
    """The leaves of x, depth first (dicts in sorted key order)."""
    out: list = []
    stack = [x]
    while stack:
        y = stack.pop()
        if isinstance(y, Mapping):
            stack.extend(y[k] for k in reversed(sorted(y)))
        elif isinstance(y, tuple):
            stack.extend(reversed(y))
        else:
            out.append(y)
    return out


def pack(template, flat: list):
    """The structure of `template` with its leaves taken in order from `flat`."""
    it = iter(flat)

    def go(t):
        if isinstance(t, Mapping):
            return (
                type(t)((k, go(t[k])) for k in sorted(t))
                if type(t) is not dict
                else {k: go(t[k]) for k in sorted(t)}
            )
        if _is_namedtuple(t):
            return type(t)(*[go(v) for v in t])
        if isinstance(t, tuple):
            return tuple(go(v) for v in t)
        return next(it)

    out = go(template)
    rest = list(it)
    if rest:
        raise ValueError(f"{len(rest)} values left over after filling the structure {template!r}")
    return out


def map_structure(fn: Callable, x):
    """x with fn applied to every leaf."""
    return pack(x, [fn(v) for v in flatten(x)])


def same_structure(a, b) -> bool:
    """Whether a and b nest the same way (leaves aside)."""
    if isinstance(a, Mapping) or isinstance(b, Mapping):
        return (
            isinstance(a, Mapping)
            and isinstance(b, Mapping)
            and sorted(a) == sorted(b)
            and all(same_structure(a[k], b[k]) for k in a)
        )
    if isinstance(a, tuple) or isinstance(b, tuple):
        return (
            isinstance(a, tuple)
            and isinstance(b, tuple)
            and len(a) == len(b)
            and all(same_structure(x, y) for x, y in zip(a, b))
        )
    return True


def pack_like(template, value, what: str):
    """value read with the structure of template (lists taken as tuples); a TypeError
    naming `what` when it nests differently."""

    def norm(t, v):
        if isinstance(t, Mapping):
            if not isinstance(v, Mapping) or sorted(v) != sorted(t):
                raise TypeError(what)
            return {k: norm(t[k], v[k]) for k in t}
        if isinstance(t, tuple):
            if not isinstance(v, (tuple, list)) or len(v) != len(t):
                raise TypeError(what)
            return tuple(norm(a, b) for a, b in zip(t, v))
        return v

    return norm(template, value)
