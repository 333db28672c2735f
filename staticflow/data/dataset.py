"""sf.data.Dataset: TF1's input pipelines of tensors, as Python descriptions.

A dataset describes a stream of elements (nested tuples and dicts of
tensors, with `output_types` and `output_shapes`). Nothing runs when it is
built: an iterator's initializer (MakeIterator) receives the tensors the
dataset needs, and each `get_next` run pulls one element through the chain of
transformations (ops/data_ops.py).

Functions given to `map`, `filter`, `flat_map` and `interleave` are traced
once into the user's graph, on placeholders that stand for an element (under
a name scope of their own), so they may use any op and capture outer tensors
as TensorFlow's dataset functions do. The captured tensors are evaluated when
the iterator is initialized, as TensorFlow passes them to its dataset ops;
each element then runs through the session with the element and the captured
values fed.
"""

from __future__ import annotations

import glob
import os
import queue
import threading
from collections.abc import Iterator as _PyIterator

import numpy as np

from staticflow.data import structure as st
from staticflow.framework import dtypes, errors, strings
from staticflow.framework import ops as fops
from staticflow.framework.tensor_shape import TensorShape, as_shape, unknown_shape

D = dtypes
AUTOTUNE = -1


class Spec:
    """The dtype and static shape of one component of an element."""

    __slots__ = ("dtype", "shape")

    def __init__(self, dtype, shape):
        self.dtype = D.as_dtype(dtype)
        self.shape = as_shape(shape)

    def __repr__(self) -> str:
        return f"Spec({self.shape}, {self.dtype.name})"


class Env:
    """What one pass over a dataset runs with: the session (for dataset functions), the
    values of the tensors the dataset needs, and per-pass state (shuffle streams)."""

    def __init__(self, session, values: dict):
        self.session = session
        self.values = values
        self.state: dict = {}

    def value(self, x):
        if isinstance(x, fops.Tensor):
            return self.values[x]
        return x

    def scalar_int(self, x) -> int:
        return int(np.asarray(self.value(x)).reshape(()))


def _invalid(message: str):
    return errors.InvalidArgumentError(None, None, message)


def _to_array(value, dtype: D.DType | None = None, what: str = "value") -> np.ndarray:
    """A NumPy value as TensorFlow converts it (Python floats to float32, ints to int32,
    str to bytes)."""
    if dtype is D.string or (dtype is None and _is_text(value)):
        return strings.bytes_array(value, what)
    if dtype is None:
        dtype = fops.np_value_dtype(value)
    return np.asarray(value, dtype=dtype.np)


def _is_text(value) -> bool:
    if isinstance(value, (str, bytes)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "USO"
    if isinstance(value, (list, tuple)) and value:
        return _is_text(value[0])
    return False


def _leaf(value, name: str):
    """A component of from_tensors/from_tensor_slices: a Tensor (a run-time input), or the
    NumPy value of anything else (kept in Python, not as a graph constant)."""
    if hasattr(value, "_as_graph_element") or hasattr(value, "initializer") and hasattr(value, "value"):
        value = fops.convert_to_tensor(value)
    if isinstance(value, fops.Tensor):
        return value
    if isinstance(value, list) and any(isinstance(v, fops.Tensor) for v in st.flatten(tuple(value))):
        return fops.convert_to_tensor(value, name=name)
    return _to_array(value, what=f"the component {name}")


def _spec_of(leaf) -> Spec:
    if isinstance(leaf, fops.Tensor):
        return Spec(leaf.dtype, leaf.shape)
    return Spec(D.string if leaf.dtype == object else D.as_dtype(leaf.dtype), leaf.shape)


def _most_specific_compatible(a: TensorShape, b: TensorShape) -> TensorShape:
    if a.ndims is None or b.ndims is None or a.ndims != b.ndims:
        return unknown_shape()
    return TensorShape([x if x == y else None for x, y in zip(a.as_list(), b.as_list())])


class Dataset:
    """A stream of elements; transformations return new datasets (TF1's tf.data.Dataset)."""

    _structure = None  # nested structure of Spec

    # --- what subclasses provide ----------------------------------------------------------
    def _children(self) -> list[Dataset]:
        return []

    def _own_inputs(self) -> list[fops.Tensor]:
        return []

    def _iter(self, env: Env) -> _PyIterator[list]:
        raise NotImplementedError

    # --- structure ----------------------------------------------------------------------------
    def _flat_specs(self) -> list[Spec]:
        return st.flatten(self._structure)

    def _start(self, session, values: dict) -> _PyIterator[list]:
        """A new pass over the elements, with the session and the values of `_inputs()`
        (the entry the iterator ops of the op layer call, without importing this layer)."""
        return self._iter(Env(session, values))

    def _inputs(self) -> list[fops.Tensor]:
        """The graph tensors this dataset needs when an iterator starts on it, each once."""
        out, seen, stack = [], set(), [self]
        while stack:
            ds = stack.pop()
            for t in ds._own_inputs():
                if id(t) not in seen:
                    seen.add(id(t))
                    out.append(t)
            stack.extend(reversed(ds._children()))
        return out

    @property
    def output_types(self):
        return st.map_structure(lambda s: s.dtype, self._structure)

    @property
    def output_shapes(self):
        return st.map_structure(lambda s: s.shape, self._structure)

    @property
    def output_classes(self):
        return st.map_structure(lambda s: fops.Tensor, self._structure)

    def __iter__(self):
        raise RuntimeError(
            "staticflow runs graphs: iterate a dataset through an iterator (make_one_shot_iterator or "
            "make_initializable_iterator) and Session.run of its get_next()"
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} shapes: {self.output_shapes}, types: {self.output_types}>"

    # --- sources ------------------------------------------------------------------------------
    @staticmethod
    def from_tensor_slices(tensors) -> Dataset:
        """The slices of `tensors` (each component) along their first dimension."""
        return _Slices(tensors)

    @staticmethod
    def from_tensors(tensors) -> Dataset:
        """One element: `tensors` whole."""
        return _Tensors(tensors)

    @staticmethod
    def range(*args) -> Dataset:
        """range(stop), range(start, stop) or range(start, stop, step), as int64 scalars."""
        return _Range(*args)

    @staticmethod
    def from_generator(generator, output_types, output_shapes=None, args=None) -> Dataset:
        """The elements a Python generator yields (generator(*args) is called at each start)."""
        return _Generator(generator, output_types, output_shapes, args)

    @staticmethod
    def zip(datasets) -> Dataset:
        """Elements of the datasets side by side (a nested structure of datasets)."""
        return _Zip(datasets)

    @staticmethod
    def list_files(file_pattern, shuffle=None, seed=None) -> Dataset:
        """The names of the files that match file_pattern (a glob, or several), shuffled
        unless shuffle is False."""
        return _ListFiles(file_pattern, True if shuffle is None else shuffle, seed)

    # --- transformations ----------------------------------------------------------------------
    def map(self, map_func, num_parallel_calls=None) -> Dataset:
        """map_func applied to each element (a tuple element is passed as arguments)."""
        return _Map(self, map_func)

    def filter(self, predicate) -> Dataset:
        """The elements for which predicate (a scalar bool tensor) is true."""
        return _Filter(self, predicate)

    def flat_map(self, map_func) -> Dataset:
        """The elements of the dataset map_func returns for each element, one after another."""
        return _Interleave(self, map_func, 1, 1)

    def interleave(self, map_func, cycle_length=AUTOTUNE, block_length=1, num_parallel_calls=None) -> Dataset:
        """The datasets map_func returns, cycle_length at a time, block_length elements from each in turn."""
        return _Interleave(self, map_func, cycle_length, block_length)

    def batch(self, batch_size, drop_remainder=False) -> Dataset:
        """Consecutive elements stacked in batches (the last smaller unless drop_remainder)."""
        return _Batch(self, batch_size, drop_remainder)

    def padded_batch(self, batch_size, padded_shapes, padding_values=None, drop_remainder=False) -> Dataset:
        """Batches whose components are padded to padded_shapes (None or -1: the batch's largest)."""
        return _PaddedBatch(self, batch_size, padded_shapes, padding_values, drop_remainder)

    def unbatch(self) -> Dataset:
        """The slices of each element along its first dimension."""
        return _Unbatch(self)

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=None) -> Dataset:
        """Elements in random order, drawn from a buffer of buffer_size elements."""
        return _Shuffle(
            self, buffer_size, seed, True if reshuffle_each_iteration is None else reshuffle_each_iteration
        )

    def repeat(self, count=None) -> Dataset:
        """The dataset count times (None or -1: forever)."""
        return _Repeat(self, count)

    def take(self, count) -> Dataset:
        """The first count elements (-1: all)."""
        return _Take(self, count)

    def skip(self, count) -> Dataset:
        """All but the first count elements (-1: none)."""
        return _Skip(self, count)

    def concatenate(self, dataset) -> Dataset:
        """This dataset's elements, then dataset's (their types must match)."""
        return _Concatenate(self, dataset)

    def prefetch(self, buffer_size) -> Dataset:
        """The same elements, produced ahead by a background thread into a buffer of buffer_size."""
        return _Prefetch(self, buffer_size)

    def enumerate(self, start=0) -> Dataset:
        """(index, element) pairs, the index an int64 counting from start."""
        return Dataset.zip((Dataset.range(start, np.iinfo(np.int64).max), self))

    def apply(self, transformation_func) -> Dataset:
        """transformation_func(self), which must return a Dataset."""
        out = transformation_func(self)
        if not isinstance(out, Dataset):
            raise TypeError("`transformation_func` must return a Dataset.")
        return out

    # --- iterators ----------------------------------------------------------------------------
    def make_one_shot_iterator(self):
        """An iterator that starts itself on its first get_next (no initializer to run)."""
        from staticflow.data.iterator import Iterator

        return Iterator._one_shot(self)

    def make_initializable_iterator(self, shared_name=None):
        """An iterator whose `initializer` starts (or restarts) a pass over this dataset."""
        from staticflow.data.iterator import Iterator

        return Iterator._initializable(self, shared_name)


# ---------------------------------------------------------------------------
# sources
# ---------------------------------------------------------------------------
class _Tensors(Dataset):
    def __init__(self, tensors):
        self._leaves = [_leaf(v, f"component_{i}") for i, v in enumerate(st.flatten(tensors))]
        self._structure = st.pack(tensors, [_spec_of(v) for v in self._leaves])

    def _own_inputs(self):
        return [v for v in self._leaves if isinstance(v, fops.Tensor)]

    def _iter(self, env):
        yield [np.asarray(env.value(v)) for v in self._leaves]


class _Slices(Dataset):
    def __init__(self, tensors):
        leaves = [_leaf(v, f"component_{i}") for i, v in enumerate(st.flatten(tensors))]
        if not leaves:
            raise ValueError("from_tensor_slices needs at least one tensor")
        specs = []
        n = TensorShape([None])
        for v in leaves:
            s = _spec_of(v)
            if s.shape.ndims == 0:
                raise ValueError(f"Slicing a scalar is not possible: from_tensor_slices got a scalar {v!r}")
            if s.shape.ndims is not None:
                n = n.merge_with(s.shape[:1])
                specs.append(Spec(s.dtype, s.shape[1:]))
            else:
                specs.append(Spec(s.dtype, unknown_shape()))
        self._leaves = leaves
        self._structure = st.pack(tensors, specs)

    def _own_inputs(self):
        return [v for v in self._leaves if isinstance(v, fops.Tensor)]

    def _iter(self, env):
        arrays = [np.asarray(env.value(v)) for v in self._leaves]
        for a in arrays:
            if a.ndim == 0:
                raise _invalid("from_tensor_slices: a component is a scalar, which cannot be sliced")
        n = arrays[0].shape[0]
        for a in arrays[1:]:
            if a.shape[0] != n:
                raise _invalid(
                    f"from_tensor_slices: all components must have the same size in their first "
                    f"dimension, got {n} and {a.shape[0]}"
                )
        for i in range(n):
            yield [a[i, ...] for a in arrays]


class _Range(Dataset):
    def __init__(self, *args):
        if not 1 <= len(args) <= 3:
            raise ValueError(
                f"range takes 1 to 3 arguments (stop; start, stop; start, stop, step), got {len(args)}"
            )
        start, stop, step = (
            (0, args[0], 1) if len(args) == 1 else (args[0], args[1], args[2] if len(args) == 3 else 1)
        )
        self._args = [self._int(a) for a in (start, stop, step)]
        self._structure = Spec(D.int64, [])

    @staticmethod
    def _int(a):
        return a if isinstance(a, fops.Tensor) else int(a)

    def _own_inputs(self):
        return [a for a in self._args if isinstance(a, fops.Tensor)]

    def _iter(self, env):
        start, stop, step = (env.scalar_int(a) for a in self._args)
        if step == 0:
            raise _invalid("step must be a non-zero integer.")
        for v in range(start, stop, step):
            yield [np.array(v, np.int64)]


class _Generator(Dataset):
    def __init__(self, generator, output_types, output_shapes, args):
        if not callable(generator):
            raise TypeError("`generator` must be callable.")
        types = st.map_structure(D.as_dtype, output_types)
        if output_shapes is None:
            shapes = st.map_structure(lambda _: unknown_shape(), types)
        else:
            shapes = output_shapes
            if not st.is_nested(types):
                shapes = as_shape(shapes)
            elif not st.same_structure(types, shapes):
                raise TypeError("`output_shapes` must have the same structure as `output_types`")
        flat_types, flat_shapes = st.flatten(types), [as_shape(s) for s in st.flatten(shapes)]
        self._generator = generator
        self._types = types
        self._args = [_leaf(a, f"arg_{i}") for i, a in enumerate(args or ())]
        self._structure = st.pack(types, [Spec(t, s) for t, s in zip(flat_types, flat_shapes)])

    def _own_inputs(self):
        return [a for a in self._args if isinstance(a, fops.Tensor)]

    def _iter(self, env):
        args = [env.value(a) for a in self._args]
        args = [a[()] if isinstance(a, np.ndarray) and a.ndim == 0 else a for a in args]
        specs = self._flat_specs()
        for value in self._generator(*args):
            try:
                packed = st.pack_like(self._types, value, "")
            except TypeError:
                raise _invalid(
                    f"TypeError: `generator` yielded an element that did not match the expected structure. "
                    f"The expected structure was {self.output_types}, but the yielded element was {value}."
                ) from None
            out = []
            for v, s in zip(st.flatten(packed), specs):
                out.append(self._convert(v, s))
            yield out

    @staticmethod
    def _convert(v, s: Spec) -> np.ndarray:
        try:
            if s.dtype is D.string:
                arr = strings.bytes_array(v, "the generator's element")
            else:
                raw = np.asarray(v)
                if raw.size == 0 and raw.dtype.kind == "f":  # [] converts to any type
                    raw = raw.astype(s.dtype.np)
                if raw.dtype.kind in "USO" or (raw.dtype.kind == "f" and s.dtype.is_integer):
                    raise TypeError
                if raw.dtype.kind == "f" and s.dtype.is_floating or raw.dtype.kind in "iub":
                    arr = raw.astype(s.dtype.np)
                else:
                    raise TypeError
        except (TypeError, ValueError):
            raise _invalid(
                "TypeError: `generator` yielded an element that could not be converted to the expected "
                f"type. The expected type was {s.dtype.name}, but the yielded element was {v}."
            ) from None
        if not s.shape.is_compatible_with(arr.shape):
            raise _invalid(
                f"TypeError: `generator` yielded an element of shape {arr.shape} where an element of shape "
                f"{tuple(s.shape.as_list())} was expected."
            )
        return arr


class _ListFiles(Dataset):
    def __init__(self, pattern, shuffle: bool, seed):
        from staticflow.ops.random_ops import get_seed

        self._pattern = (
            pattern if isinstance(pattern, fops.Tensor) else strings.bytes_array(pattern, "file_pattern")
        )
        self._shuffle = shuffle
        self._seeds = get_seed(seed)
        self._structure = Spec(D.string, [])

    def _own_inputs(self):
        return [self._pattern] if isinstance(self._pattern, fops.Tensor) else []

    def _iter(self, env):
        patterns = np.asarray(env.value(self._pattern), dtype=object).reshape(-1)
        names = []
        for p in patterns:
            names.extend(sorted(glob.glob(os.fsdecode(p))))
        if not names:
            shown = ", ".join(os.fsdecode(p) for p in patterns)
            raise _invalid(f"No files matched pattern: {shown}")
        if self._shuffle:
            _rng(self._seeds).shuffle(names)
        for n in names:
            yield [np.array(os.fsencode(n), dtype=object)]


def _rng(seeds) -> np.random.Generator:
    """A NumPy stream for a pair of op seeds; fresh entropy when both are 0 (no seed set)."""
    s1, s2 = seeds
    return np.random.default_rng([s1, s2] if (s1 or s2) else None)


# ---------------------------------------------------------------------------
# functions traced into the graph
# ---------------------------------------------------------------------------
def _scope_name(kind: str, fn) -> str:
    name = getattr(fn, "__name__", "fn").replace("<", "").replace(">", "")
    name = "".join(c if c.isalnum() or c in "_.-" else "_" for c in name) or "fn"
    return f"Dataset_{kind}_{name}"


class _Function:
    """A user function traced once on placeholders that stand for one element."""

    def __init__(self, fn, in_structure, kind: str, returns_dataset: bool = False):
        g = fops.get_default_graph()
        first_new = g._id_counter + 1
        from staticflow.ops.array_ops import placeholder

        with g.control_dependencies(None), g.name_scope(_scope_name(kind, fn)):
            flat_in = st.flatten(in_structure)
            self.placeholders = [
                placeholder(s.dtype, s.shape, name=f"args_{i}") for i, s in enumerate(flat_in)
            ]
            args = st.pack(in_structure, self.placeholders)
            if isinstance(args, tuple) and not hasattr(args, "_fields"):
                ret = fn(*args)
            else:
                ret = fn(args)
        self.returns_dataset = returns_dataset
        if returns_dataset:
            if not isinstance(ret, Dataset):
                raise TypeError(f"`map_func` must return a `Dataset` object. Got {type(ret)}")
            self.dataset = ret
            outs = ret._inputs()
        else:
            if isinstance(ret, list):
                ret = tuple(ret)
            ret = st.map_structure(lambda v: fops.convert_to_tensor(v), ret)
            self.out_structure = ret
            outs = st.flatten(ret)
        self.outputs = outs
        # captured: tensors made before the trace that the traced ops (or the results) use
        new_ops = [op for op in g.get_operations() if op._id >= first_new]
        captured, seen = [], set(self.placeholders)
        for t in [x for op in new_ops for x in op.inputs] + list(outs):
            if t not in seen and t.op._id < first_new:
                seen.add(t)
                captured.append(t)
        self.captures = captured

    def run(self, env: Env, flat_values: list) -> list:
        """The function's outputs (or the returned dataset's inputs) for one element."""
        feeds = {p: np.asarray(v) for p, v in zip(self.placeholders, flat_values)}
        for c in self.captures:
            feeds[c] = env.values[c]
        if not self.outputs:
            return []
        vals = env.session._run_internal(self.outputs, [], feeds)
        return [np.asarray(v, dtype=object) if isinstance(v, bytes) else np.asarray(v) for v in vals]


class _Map(Dataset):
    def __init__(self, input_ds: Dataset, fn):
        self._input = input_ds
        self._fn = _Function(fn, input_ds._structure, "map")
        self._structure = st.map_structure(lambda t: Spec(t.dtype, t.shape), self._fn.out_structure)

    def _children(self):
        return [self._input]

    def _own_inputs(self):
        return self._fn.captures

    def _iter(self, env):
        for el in self._input._iter(env):
            yield self._fn.run(env, el)


class _Filter(Dataset):
    def __init__(self, input_ds: Dataset, predicate):
        self._input = input_ds
        self._fn = _Function(predicate, input_ds._structure, "filter")
        out = self._fn.out_structure
        if (
            not isinstance(out, fops.Tensor)
            or out.dtype is not D.bool_
            or not out.shape.is_compatible_with([])
        ):
            raise ValueError(
                f"`predicate` return type must be convertible to a scalar boolean tensor. Was {out!r}."
            )
        self._structure = input_ds._structure

    def _children(self):
        return [self._input]

    def _own_inputs(self):
        return self._fn.captures

    def _iter(self, env):
        for el in self._input._iter(env):
            (keep,) = self._fn.run(env, el)
            if bool(keep):
                yield el


class _Interleave(Dataset):
    def __init__(self, input_ds: Dataset, fn, cycle_length, block_length):
        self._input = input_ds
        self._fn = _Function(fn, input_ds._structure, "interleave", returns_dataset=True)
        self._cycle = cycle_length
        self._block = block_length
        self._structure = self._fn.dataset._structure

    def _children(self):
        return [self._input]

    def _own_inputs(self):
        return [c for c in self._fn.captures] + [
            x for x in (self._cycle, self._block) if isinstance(x, fops.Tensor)
        ]

    def _inner(self, env, el):
        """The dataset map_func gave for element el, ready to iterate."""
        inner = self._fn.dataset
        values = dict(zip(self._fn.outputs, self._fn.run(env, el)))
        return inner._iter(Env(env.session, values))

    def _iter(self, env):
        cycle = env.scalar_int(self._cycle)
        if cycle == AUTOTUNE:
            cycle = os.cpu_count() or 1
        block = env.scalar_int(self._block)
        if cycle <= 0 or block <= 0:
            raise _invalid("cycle_length and block_length must be positive")
        inputs = self._input._iter(env)
        slots: list = [None] * cycle
        index = block_index = 0
        open_ = 0
        end_of_input = False
        while not end_of_input or open_ > 0:
            if slots[index] is not None:
                try:
                    el = next(slots[index])
                except StopIteration:
                    slots[index] = None
                    open_ -= 1
                    index, block_index = (index + 1) % cycle, 0
                    continue
                block_index += 1
                if block_index == block:
                    index, block_index = (index + 1) % cycle, 0
                yield el
            elif not end_of_input:
                try:
                    el = next(inputs)
                except StopIteration:
                    end_of_input = True
                    continue
                slots[index] = self._inner(env, el)
                open_ += 1
            else:
                index, block_index = (index + 1) % cycle, 0


# ---------------------------------------------------------------------------
# batching
# ---------------------------------------------------------------------------
def _batch_dim(batch_size, drop_remainder) -> int | None:
    from staticflow.ops import builder

    if not drop_remainder:
        return None
    if isinstance(batch_size, fops.Tensor):
        v = builder.constant_value(batch_size)
        return None if v is None else int(v)
    return int(batch_size)


def _stack(items: list[np.ndarray], component: int) -> np.ndarray:
    first = items[0].shape
    for j, x in enumerate(items[1:], 1):
        if x.shape != first:
            raise _invalid(
                f"Cannot batch tensors with different shapes in component {component}. First element had "
                f"shape {list(first)} and element {j} had shape {list(x.shape)}."
            )
    return np.stack(items)


class _Batch(Dataset):
    def __init__(self, input_ds: Dataset, batch_size, drop_remainder):
        self._input = input_ds
        self._size = batch_size if isinstance(batch_size, fops.Tensor) else int(batch_size)
        self._drop = drop_remainder
        dim = _batch_dim(batch_size, drop_remainder)
        self._structure = st.map_structure(
            lambda s: Spec(s.dtype, TensorShape([dim]).concatenate(s.shape)), input_ds._structure
        )

    def _children(self):
        return [self._input]

    def _own_inputs(self):
        return [x for x in (self._size, self._drop) if isinstance(x, fops.Tensor)]

    def _make(self, items: list[list], env: Env) -> list:
        return [_stack([el[i] for el in items], i) for i in range(len(items[0]))]

    def _iter(self, env):
        n = env.scalar_int(self._size)
        if n <= 0:
            raise _invalid(f"Batch size must be greater than zero, got {n}")
        drop = bool(np.asarray(env.value(self._drop)))
        items = []
        for el in self._input._iter(env):
            items.append(el)
            if len(items) == n:
                yield self._make(items, env)
                items = []
        if items and not drop:
            yield self._make(items, env)


class _PaddedBatch(_Batch):
    def __init__(self, input_ds: Dataset, batch_size, padded_shapes, padding_values, drop_remainder):
        super().__init__(input_ds, batch_size, drop_remainder)
        specs = input_ds._flat_specs()
        if st.is_nested(input_ds._structure):
            shapes = st.flatten(
                st.pack_like(
                    input_ds._structure,
                    padded_shapes,
                    "padded_shapes must have the same structure as the elements",
                )
            )
        else:
            shapes = [padded_shapes]
        self._padded = []
        for s, p in zip(specs, shapes):
            p = as_shape([None if d == -1 else d for d in p] if isinstance(p, (list, tuple)) else p)
            if not s.shape.is_compatible_with(unknown_shape(p.ndims) if p.ndims is not None else p):
                raise ValueError(
                    f"The padded shape {p} is not compatible with the component shape {s.shape}."
                )
            self._padded.append(p)
        if padding_values is None:
            self._pad_values = [b"" if s.dtype is D.string else 0 for s in specs]
        else:
            pv = st.flatten(padding_values) if st.is_nested(input_ds._structure) else [padding_values]
            self._pad_values = pv
        dim = _batch_dim(batch_size, drop_remainder)
        self._structure = st.pack(
            input_ds._structure,
            [Spec(s.dtype, TensorShape([dim]).concatenate(p)) for s, p in zip(specs, self._padded)],
        )

    def _own_inputs(self):
        return super()._own_inputs() + [v for v in self._pad_values if isinstance(v, fops.Tensor)]

    def _make(self, items, env):
        specs = self._input._flat_specs()
        out = []
        for i, (s, p) in enumerate(zip(specs, self._padded)):
            xs = [el[i] for el in items]
            rank = xs[0].ndim
            for x in xs:
                if x.ndim != rank:
                    raise _invalid(
                        "All elements in a batch must have the same rank as the padded shape for "
                        f"component {i}"
                    )
            want = p.as_list() if p.ndims is not None else [None] * rank
            dims = [max(x.shape[k] for x in xs) if want[k] is None else want[k] for k in range(rank)]
            for x in xs:
                if any(x.shape[k] > dims[k] for k in range(rank)):
                    raise _invalid(
                        f"Attempted to pad to a smaller size than the input element. Component {i}: element "
                        f"shape {list(x.shape)}, padded shape {dims}"
                    )
            pad = np.asarray(env.value(self._pad_values[i]))
            arr = np.empty([len(xs), *dims], dtype=object if s.dtype is D.string else s.dtype.np)
            arr[...] = pad.reshape(()) if s.dtype is not D.string else strings.as_bytes(pad.reshape(())[()])
            for j, x in enumerate(xs):
                arr[(j, *[slice(0, d) for d in x.shape])] = x
            out.append(arr)
        return out


class _Unbatch(Dataset):
    def __init__(self, input_ds: Dataset):
        self._input = input_ds
        for s in input_ds._flat_specs():
            if s.shape.ndims == 0:
                raise ValueError("Cannot unbatch an input with scalar components.")
        self._structure = st.map_structure(
            lambda s: Spec(s.dtype, s.shape[1:] if s.shape.ndims is not None else unknown_shape()),
            input_ds._structure,
        )

    def _children(self):
        return [self._input]

    def _iter(self, env):
        for el in self._input._iter(env):
            n = el[0].shape[0]
            if any(x.shape[0] != n for x in el):
                raise _invalid("unbatch: the components of an element differ in their first dimension")
            for i in range(n):
                yield [x[i, ...] for x in el]


# ---------------------------------------------------------------------------
# order and count
# ---------------------------------------------------------------------------
class _Shuffle(Dataset):
    def __init__(self, input_ds: Dataset, buffer_size, seed, reshuffle: bool):
        from staticflow.ops.random_ops import get_seed

        self._input = input_ds
        self._size = buffer_size if isinstance(buffer_size, fops.Tensor) else int(buffer_size)
        self._seeds = get_seed(seed if not isinstance(seed, fops.Tensor) else None)
        self._seed_tensor = seed if isinstance(seed, fops.Tensor) else None
        self._reshuffle = reshuffle
        self._structure = input_ds._structure

    def _children(self):
        return [self._input]

    def _own_inputs(self):
        return [x for x in (self._size, self._seed_tensor) if isinstance(x, fops.Tensor)]

    def _stream(self, env) -> np.random.Generator:
        seeds = self._seeds
        if self._seed_tensor is not None:
            seeds = (seeds[0] or 87654321, env.scalar_int(self._seed_tensor))
        if not self._reshuffle:
            return _rng(seeds)  # the same order every pass
        key = ("shuffle", id(self))
        if key not in env.state:  # one stream per initialization: each epoch a new order
            env.state[key] = _rng(seeds)
        return env.state[key]

    def _iter(self, env):
        size = env.scalar_int(self._size)
        if size <= 0:
            raise _invalid(f"buffer_size must be greater than zero, got {size}")
        rng = self._stream(env)
        buf: list = []
        for el in self._input._iter(env):
            if len(buf) < size:
                buf.append(el)
                continue
            k = int(rng.integers(size))
            out, buf[k] = buf[k], el
            yield out
        while buf:
            k = int(rng.integers(len(buf)))
            buf[k], buf[-1] = buf[-1], buf[k]
            yield buf.pop()


class _Repeat(Dataset):
    def __init__(self, input_ds: Dataset, count):
        self._input = input_ds
        self._count = -1 if count is None else (count if isinstance(count, fops.Tensor) else int(count))
        self._structure = input_ds._structure

    def _children(self):
        return [self._input]

    def _own_inputs(self):
        return [self._count] if isinstance(self._count, fops.Tensor) else []

    def _iter(self, env):
        count = env.scalar_int(self._count)
        k = 0
        while count < 0 or k < count:
            empty = True
            for el in self._input._iter(env):
                empty = False
                yield el
            if empty:  # an empty input repeated forever is still empty
                return
            k += 1


class _Take(Dataset):
    def __init__(self, input_ds: Dataset, count):
        self._input = input_ds
        self._count = count if isinstance(count, fops.Tensor) else int(count)
        self._structure = input_ds._structure

    def _children(self):
        return [self._input]

    def _own_inputs(self):
        return [self._count] if isinstance(self._count, fops.Tensor) else []

    def _iter(self, env):
        count = env.scalar_int(self._count)
        if count == 0:
            return
        for k, el in enumerate(self._input._iter(env)):
            yield el
            if count >= 0 and k + 1 >= count:
                return


class _Skip(_Take):
    def _iter(self, env):
        count = env.scalar_int(self._count)
        for k, el in enumerate(self._input._iter(env)):
            if count < 0 or k < count:
                continue
            yield el


class _Zip(Dataset):
    def __init__(self, datasets):
        flat = st.flatten(datasets)
        for d in flat:
            if not isinstance(d, Dataset):
                raise TypeError(
                    "The argument to `Dataset.zip()` must be a (nested) structure of `Dataset` objects, "
                    f"got {d!r}"
                )
        self._datasets = flat
        self._structure = st.pack(datasets, [d._structure for d in flat])

    def _children(self):
        return list(self._datasets)

    def _iter(self, env):
        its = [d._iter(env) for d in self._datasets]
        while True:
            el = []
            for it in its:
                try:
                    el.extend(next(it))
                except StopIteration:
                    return
            yield el


class _Concatenate(Dataset):
    def __init__(self, first: Dataset, second: Dataset):
        a, b = first._flat_specs(), second._flat_specs()
        if not st.same_structure(first._structure, second._structure) or [s.dtype for s in a] != [
            s.dtype for s in b
        ]:
            raise TypeError(
                f"Incompatible dataset elements:\n  {first.output_types} vs.\n  {second.output_types}"
            )
        self._first, self._second = first, second
        self._structure = st.pack(
            first._structure,
            [Spec(x.dtype, _most_specific_compatible(x.shape, y.shape)) for x, y in zip(a, b)],
        )

    def _children(self):
        return [self._first, self._second]

    def _iter(self, env):
        yield from self._first._iter(env)
        yield from self._second._iter(env)


_END = object()


class _Prefetch(Dataset):
    """A background thread runs the input ahead, into a bounded buffer; errors come out in order."""

    def __init__(self, input_ds: Dataset, buffer_size):
        self._input = input_ds
        self._size = buffer_size if isinstance(buffer_size, fops.Tensor) else int(buffer_size)
        self._structure = input_ds._structure

    def _children(self):
        return [self._input]

    def _own_inputs(self):
        return [self._size] if isinstance(self._size, fops.Tensor) else []

    def _iter(self, env):
        size = env.scalar_int(self._size)
        if size == AUTOTUNE:
            size = 4
        if size < 0:
            raise _invalid(f"buffer_size must be >= -1 (AUTOTUNE), got {size}")
        return _Prefetcher(self._input._iter(env), max(size, 1))


class _Prefetcher:
    """An iterator that a daemon thread fills from `source`; close() stops the thread."""

    def __init__(self, source, size: int):
        self._buf: queue.Queue = queue.Queue(size)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._fill, args=(source,), name="sf.data prefetch", daemon=True
        )
        self._thread.start()
        self._done = False

    def _fill(self, source) -> None:
        try:
            for el in source:
                if not self._put(("ok", el)):
                    return
        except BaseException as e:  # handed to the consumer, in order
            self._put(("error", e))
            return
        self._put(("end", None))

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._buf.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self):
        return self

    def __next__(self):
        if self._done:
            raise StopIteration
        kind, value = self._buf.get()
        if kind == "ok":
            return value
        self._done = True
        if kind == "error":
            raise value
        raise StopIteration

    def close(self) -> None:
        self._stop.set()
        self._done = True


# ---------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------
def _filenames(filenames):
    if isinstance(filenames, fops.Tensor):
        if filenames.dtype is not D.string:
            raise TypeError(f"`filenames` must be a `tf.Tensor` of `tf.string`, got {filenames.dtype.name}")
        if filenames.shape.ndims is not None and filenames.shape.ndims > 1:
            raise ValueError(f"`filenames` must be a scalar or a vector, got shape {filenames.shape}")
        return filenames
    if isinstance(filenames, Dataset):
        raise TypeError(
            "staticflow's file datasets take file names (a string, a list or a tensor), not a Dataset"
        )
    arr = strings.bytes_array(filenames, "filenames")
    if arr.ndim > 1:
        raise ValueError(f"`filenames` must be a scalar or a vector, got shape {arr.shape}")
    return arr


class _FileDataset(Dataset):
    def __init__(self, filenames, compression_type=None):
        from staticflow.util.tfrecord import compression_string

        self._filenames = _filenames(filenames)
        self._compression = compression_string(compression_type)
        self._structure = Spec(D.string, [])

    def _own_inputs(self):
        return [self._filenames] if isinstance(self._filenames, fops.Tensor) else []

    def _files(self, env):
        return [os.fsdecode(f) for f in np.asarray(env.value(self._filenames), dtype=object).reshape(-1)]

    def _open(self, path: str):
        import gzip
        import io
        import zlib

        try:
            f = open(path, "rb")
        except FileNotFoundError:
            raise errors.NotFoundError(None, None, f"{path}; No such file or directory") from None
        if self._compression == "GZIP":
            return gzip.GzipFile(fileobj=f, mode="rb")
        if self._compression == "ZLIB":
            with f:
                return io.BytesIO(zlib.decompress(f.read()))
        return f


class TextLineDataset(_FileDataset):
    """The lines of text files, without their line endings ('\\n' or '\\r\\n')."""

    def __init__(self, filenames, compression_type=None, buffer_size=None, num_parallel_reads=None):
        super().__init__(filenames, compression_type)

    def _iter(self, env):
        for path in self._files(env):
            with self._open(path) as f:
                for line in f:
                    if line.endswith(b"\n"):
                        line = line[:-1]
                        if line.endswith(b"\r"):
                            line = line[:-1]
                    yield [np.array(line, dtype=object)]


class TFRecordDataset(_FileDataset):
    """The records of TFRecord files (compression_type '', 'ZLIB' or 'GZIP')."""

    def __init__(self, filenames, compression_type=None, buffer_size=None, num_parallel_reads=None):
        super().__init__(filenames, compression_type)

    def _iter(self, env):
        from staticflow.util.tfrecord import read_records

        for path in self._files(env):
            for _, data in read_records(path, self._compression):
                yield [np.array(data, dtype=object)]


class FixedLengthRecordDataset(_FileDataset):
    """Records of record_bytes bytes from binary files, after header_bytes and before footer_bytes."""

    def __init__(
        self,
        filenames,
        record_bytes,
        header_bytes=None,
        footer_bytes=None,
        buffer_size=None,
        compression_type=None,
        num_parallel_reads=None,
    ):
        super().__init__(filenames, compression_type)
        self._record = int(record_bytes)
        self._header = int(header_bytes or 0)
        self._footer = int(footer_bytes or 0)
        if self._record <= 0:
            raise ValueError(f"record_bytes must be positive, got {self._record}")

    def _iter(self, env):
        for path in self._files(env):
            with self._open(path) as f:
                data = f.read()
            body = data[self._header : len(data) - self._footer if self._footer else len(data)]
            n = len(body) // self._record
            for i in range(n):
                yield [np.array(body[i * self._record : (i + 1) * self._record], dtype=object)]
