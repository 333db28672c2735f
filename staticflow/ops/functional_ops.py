"""TF1's higher-order functions over the first axis of tensors: map_fn, foldl, foldr and
scan, each one while_loop that reads its elements from TensorArrays (the inputs unstacked)
and, for map_fn and scan, writes its results to TensorArrays stacked after the loop, as
TensorFlow builds them (ops named map/..., foldl/..., foldr/..., scan/...)."""

from __future__ import annotations

from collections.abc import Callable

from staticflow.framework import dtypes, nest
from staticflow.framework import ops as fops
from staticflow.framework.tensor_shape import TensorShape
from staticflow.ops import array_ops
from staticflow.ops.control_flow_v2 import while_loop
from staticflow.ops.tensor_array_ops import TensorArray

__all__ = ["map_fn", "foldl", "foldr", "scan"]


def _elems(elems, what: str) -> list[fops.Tensor]:
    flat = [fops.convert_to_tensor(e, name="elem") for e in nest.flatten(elems)]
    if not flat:
        raise ValueError(f"{what}: elems must be a tensor or a nonempty structure of tensors")
    for e in flat:
        if e.shape.ndims == 0:
            raise ValueError(
                f"{what}: elements in elems must be 1+ dimensional Tensors, not scalars ({e.name})"
            )
    return flat


def _length(flat: list[fops.Tensor]):
    """(the elements' count as a tensor or int, its static value or None)."""
    static = None
    for e in flat:
        d = e.shape.as_list()[0] if e.shape.ndims is not None else None
        if d is not None:
            static = d
            break
    n = static if static is not None else array_ops.shape(flat[0])[0]
    return n, static


def _unstacked(flat: list[fops.Tensor], n) -> list[TensorArray]:
    return [TensorArray(dtype=e.dtype, size=n, dynamic_size=False, infer_shape=True).unstack(e) for e in flat]


def _with_length(results: list[fops.Tensor], static) -> None:
    for r in results:
        if r.shape.ndims is not None:
            r.set_shape(TensorShape([static]).concatenate(r.shape.as_list()[1:]))


def map_fn(
    fn: Callable,
    elems,
    dtype=None,
    parallel_iterations=None,
    back_prop: bool = True,
    swap_memory: bool = False,
    infer_shape: bool = True,
    name=None,
):
    """fn applied to each element of `elems` (unpacked along its first axis), results stacked.

    `elems` may be a nested structure of tensors of one first dimension: fn then gets one
    such structure per element. `dtype` gives the structure and dtypes of fn's result when
    they differ from elems'."""
    if not callable(fn):
        raise TypeError(f"map_fn: fn must be callable, got {fn!r}")
    if parallel_iterations is None:
        parallel_iterations = 10
    in_flat = nest.flatten(elems)
    with fops.name_scope(name, "map", [e for e in in_flat if isinstance(e, fops.Tensor)]):
        flat = _elems(elems, "map_fn")
        out_structure = elems if dtype is None else dtype
        if dtype is None:
            out_dtypes = [e.dtype for e in flat]
        else:
            out_dtypes = [dtypes.as_dtype(d) for d in nest.flatten(dtype)]
        n, static = _length(flat)
        elems_ta = _unstacked(flat, n)
        accs_ta = [
            TensorArray(dtype=dt, size=n, dynamic_size=False, infer_shape=infer_shape) for dt in out_dtypes
        ]

        def compute(i, tas):
            packed = nest.pack_sequence_as(elems, [ta.read(i) for ta in elems_ta])
            result = fn(packed)
            try:
                nest.assert_same_structure(out_structure, result)
            except (ValueError, TypeError) as e:
                raise ValueError(
                    f"map_fn: the structure of fn's result must match dtype (or elems when dtype is "
                    f"not given): {e}"
                ) from None
            values = [fops.convert_to_tensor(v) for v in nest.flatten(result)]
            for k, (v, dt) in enumerate(zip(values, out_dtypes)):
                if v.dtype != dt:
                    raise TypeError(
                        f"map_fn: fn returns {v.dtype.name} for output {k}, dtype says {dt.name}"
                    )
            return i + 1, [ta.write(i, v) for ta, v in zip(tas, values)]

        i = array_ops.constant(0, dtypes.int32)
        _, r_a = while_loop(
            lambda i, _: i < n,
            compute,
            (i, accs_ta),
            parallel_iterations=parallel_iterations,
            back_prop=back_prop,
            swap_memory=swap_memory,
            maximum_iterations=n,
        )
        results = [r.stack() for r in r_a]
        _with_length(results, static)
        return nest.pack_sequence_as(out_structure, results)


def _fold(fn, elems, initializer, parallel_iterations, back_prop, swap_memory, name, reverse: bool):
    what = "foldr" if reverse else "foldl"
    if not callable(fn):
        raise TypeError(f"{what}: fn must be callable, got {fn!r}")
    in_flat = nest.flatten(elems)
    with fops.name_scope(name, what, [e for e in in_flat if isinstance(e, fops.Tensor)]):
        flat = _elems(elems, what)
        n, _ = _length(flat)
        elems_ta = _unstacked(flat, n)

        def element(k):
            return nest.pack_sequence_as(elems, [ta.read(k) for ta in elems_ta])

        if initializer is None:
            if reverse:
                i = fops.convert_to_tensor(n, dtype=dtypes.int32) - 1
                a = element(i)
            else:
                a = element(0)
                i = array_ops.constant(1, dtypes.int32)
        else:
            a = initializer
            if reverse:
                i = fops.convert_to_tensor(n, dtype=dtypes.int32)
            else:
                i = array_ops.constant(0, dtypes.int32)

        if reverse:

            def compute(i, a):
                i = i - 1
                return [i, fn(a, element(i))]

            def cond(i, a):
                return i > 0

        else:

            def compute(i, a):
                return [i + 1, fn(a, element(i))]

            def cond(i, a):
                return i < n

        _, r_a = while_loop(
            cond,
            compute,
            [i, a],
            parallel_iterations=parallel_iterations,
            back_prop=back_prop,
            swap_memory=swap_memory,
            maximum_iterations=n,
        )
        return r_a


def foldl(fn, elems, initializer=None, parallel_iterations: int = 10, back_prop: bool = True,
          swap_memory: bool = False, name=None):
    """fn(...fn(fn(initializer, elems[0]), elems[1])..., elems[n-1]): the elements folded from
    the first; without an initializer the fold starts from elems[0]."""
    return _fold(fn, elems, initializer, parallel_iterations, back_prop, swap_memory, name, False)


def foldr(fn, elems, initializer=None, parallel_iterations: int = 10, back_prop: bool = True,
          swap_memory: bool = False, name=None):
    """fn(...fn(fn(initializer, elems[n-1]), elems[n-2])..., elems[0]): the elements folded from
    the last; without an initializer the fold starts from elems[n-1]."""
    return _fold(fn, elems, initializer, parallel_iterations, back_prop, swap_memory, name, True)


def scan(
    fn: Callable,
    elems,
    initializer=None,
    parallel_iterations: int = 10,
    back_prop: bool = True,
    swap_memory: bool = False,
    infer_shape: bool = True,
    reverse: bool = False,
    name=None,
):
    """Every intermediate of a fold: result[k] = fn(result[k-1], elems[k]) (from the last
    element when `reverse`), stacked; result[-1] is `initializer`, or without one result[0]
    is elems[0] and fn's result has elems' structure."""
    if not callable(fn):
        raise TypeError(f"scan: fn must be callable, got {fn!r}")
    in_flat = nest.flatten(elems)
    with fops.name_scope(name, "scan", [e for e in in_flat if isinstance(e, fops.Tensor)]):
        flat = _elems(elems, "scan")
        n, static = _length(flat)
        elems_ta = _unstacked(flat, n)
        n_t = fops.convert_to_tensor(n, dtype=dtypes.int32)
        if initializer is None:
            first = n_t - 1 if reverse else 0
            a_flat = [ta.read(first) for ta in elems_ta]
            a_structure = elems
            start = 1
        else:
            a_flat = [fops.convert_to_tensor(a) for a in nest.flatten(initializer)]
            a_structure = initializer
            start = 0
        accs_ta = [
            TensorArray(
                dtype=a.dtype, size=n, dynamic_size=False, infer_shape=infer_shape,
                element_shape=a.shape if infer_shape else None,
            )
            for a in a_flat
        ]
        if initializer is None:
            accs_ta = [ta.write(n_t - 1 if reverse else 0, a) for ta, a in zip(accs_ta, a_flat)]

        def compute(i, a_flat, tas):
            packed_elems = nest.pack_sequence_as(elems, [ta.read(i) for ta in elems_ta])
            packed_a = nest.pack_sequence_as(a_structure, list(a_flat))
            a_out = fn(packed_a, packed_elems)
            try:
                nest.assert_same_structure(a_structure, a_out)
            except (ValueError, TypeError) as e:
                raise ValueError(
                    f"scan: fn's result must have the structure of initializer (or elems when no "
                    f"initializer is given): {e}"
                ) from None
            flat_out = [fops.convert_to_tensor(v) for v in nest.flatten(a_out)]
            tas = [ta.write(i, v) for ta, v in zip(tas, flat_out)]
            return (i - 1 if reverse else i + 1), flat_out, tas

        if reverse:
            initial_i = n_t - 1 - start

            def cond(i, _1, _2):
                return i >= 0

        else:
            initial_i = array_ops.constant(start, dtypes.int32)

            def cond(i, _1, _2):
                return i < n

        _, _, r_a = while_loop(
            cond,
            compute,
            (initial_i, a_flat, accs_ta),
            parallel_iterations=parallel_iterations,
            back_prop=back_prop,
            swap_memory=swap_memory,
            maximum_iterations=n,
        )
        results = [r.stack() for r in r_a]
        _with_length(results, static)
        return nest.pack_sequence_as(a_structure, results)
