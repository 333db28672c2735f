"""TensorList ops: lists of tensors held in a `variant` tensor, TensorFlow's control flow v2 form.

A TensorList (the value of a scalar `variant` tensor) is a host object: an element dtype, the
list's element shape (partially known, as declared), and one NumPy array per slot, or None
for a slot never written. Every op here is functional: it returns a new list and never
changes its input, so a list value can be read by several ops (and by a gradient) in any
order. The arrays a list holds are its own copies (an arena buffer is reused once its step
is done), and nothing writes them afterwards, so lists share them freely.

The ops run on the host: each lowers to one host call of its NumPy reference (`_lower`).
Plans need every shape before the run; the shape of what is read from a list (an element,
a stack, a concatenation) comes from the op's `element_shape` input and, while planning,
from what the list's producers tell of it (`ListSpec`, recorded by the compiler per variant
value: the shapes written so far, the length), so `ta.unstack(x).read(0)` plans with x's fed
shape even when the graph's static shapes leave it open.

Their semantics and error messages are TensorFlow's (list_kernels): a slot never written reads
as zeros when its shape is known, and fails otherwise; indices out of range fail unless a
write may resize the list.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from staticflow.framework import dtypes
from staticflow.framework.tensor_shape import TensorShape, as_shape
from staticflow.ops import builder, casegen, registry
from staticflow.ops.registry import Arg, Attr, Case, op

D = dtypes
V = D.variant
_SHAPE_TYPES = (D.int32, D.int64)
# what a list may hold: every tensor type (strings too)
_ELEMENT_TYPES = dtypes.FIXED_SIZE + (D.string,)


class TensorList:
    """The value of a variant tensor made by the list ops: `items` holds one array per slot,
    None for a slot never written. Never changed once made: ops build new lists."""

    __slots__ = ("element_dtype", "element_shape", "items", "max_num_elements")

    def __init__(
        self, element_dtype: dtypes.DType, element_shape: TensorShape, items: list, max_num_elements: int = -1
    ):
        self.element_dtype = element_dtype
        self.element_shape = element_shape
        self.items = items
        self.max_num_elements = max_num_elements

    def with_items(self, items: list) -> TensorList:
        return TensorList(self.element_dtype, self.element_shape, items, self.max_num_elements)

    def __len__(self) -> int:  # (NumPy never sees this: references wrap lists in 0-d arrays)
        return len(self.items)

    def __add__(self, other: TensorList) -> TensorList:
        """Elementwise sum of two lists of one length (a slot never written counts as zeros):
        how gradients arriving at one list through several readers are added (AddN)."""
        if not isinstance(other, TensorList):
            return NotImplemented
        if len(self.items) != len(other.items):
            raise ValueError(f"cannot add lists of {len(self.items)} and {len(other.items)} elements")
        items = [b if a is None else a if b is None else None for a, b in zip(self.items, other.items)]
        for i, (a, b) in enumerate(zip(self.items, other.items)):
            if a is None or b is None:  # (most slots: a loop's gradient sets one per iteration)
                continue
            if a.shape != b.shape:
                raise ValueError(
                    f"cannot add list elements {i} of shapes {list(a.shape)} and {list(b.shape)}"
                )
            items[i] = a + b
        return self.with_items(items)

    def __repr__(self) -> str:
        return (
            f"TensorList(dtype={self.element_dtype.name}, element_shape={self.element_shape}, "
            f"length={len(self.items)}, set={sum(x is not None for x in self.items)})"
        )


@dataclass(frozen=True)
class ListSpec:
    """What planning knows of a list value: its declared element shape, its length (None:
    unknown), and per slot the concrete shape of the array written there, None for a slot
    never written (`items` None: not known slot by slot); `item_shape`: a shape every
    written slot is known to have (None: unknown or mixed)."""

    element_shape: TensorShape
    length: int | None = None
    items: tuple | None = None
    item_shape: tuple | None = None

    def with_items(self, items: tuple) -> ListSpec:
        shapes = {s for s in items if s is not None}
        common = next(iter(shapes)) if len(shapes) == 1 else None
        return ListSpec(self.element_shape, len(items), items, common)


@dataclass(frozen=True)
class KnownValue:
    """A plan-time fact about a non-variant output: its value (a list's length or element
    shape, known while planning though the list itself is not)."""

    value: np.ndarray


def joined_spec(specs) -> ListSpec | None:
    """The spec of a list made from lists of these specs by an op that does not know lists
    (Identity: the same list; AddN: their slotwise sum, one length, a slot written where any
    is), or None."""
    got = [s for s in specs if isinstance(s, ListSpec)]
    if not got:
        return None
    if len(got) == 1:
        return got[0]
    first = got[0]
    lengths = {s.length for s in got}
    length = first.length if len(lengths) == 1 else None
    if length is not None and all(s.items is not None for s in got):
        items = []
        for k in range(length):
            shapes = {s.items[k] for s in got} - {None}
            if len(shapes) > 1:
                return ListSpec(first.element_shape, length)
            items.append(next(iter(shapes)) if shapes else None)
        return first.with_items(tuple(items))
    common = {s.item_shape for s in got}
    return ListSpec(first.element_shape, length, None, first.item_shape if len(common) == 1 else None)


# --- helpers ---------------------------------------------------------------------------------
def _list(x: np.ndarray, what: str = "input_handle") -> TensorList:
    v = np.asarray(x)[()] if isinstance(x, np.ndarray) else x
    if not isinstance(v, TensorList):
        raise ValueError(f"{what} is not a TensorList (got {type(v).__name__})")
    return v


def spec_of(value) -> ListSpec | None:
    """What a list value holds, as planning knows lists (a ListSpec of its slots' shapes), or
    None when `value` (a 0-d object array or the TensorList itself) is no list: what a plan
    fed this list, made while running, plans its reads with."""
    tl = value[()] if isinstance(value, np.ndarray) else value
    if not isinstance(tl, TensorList):
        return None
    items = tuple(None if a is None else tuple(np.shape(a)) for a in tl.items)
    return ListSpec(tl.element_shape).with_items(items)


def _wrap(tl: TensorList) -> np.ndarray:
    arr = np.empty((), dtype=object)
    arr[()] = tl
    return arr


def _shape_arg(v) -> TensorShape:
    """An element_shape argument (TF's): -1 (a scalar) is an unknown rank, -1 in a vector an
    unknown dimension."""
    v = np.asarray(v)
    if v.ndim == 0:
        if int(v) != -1:
            raise ValueError(f"element_shape must be -1 (unknown) or a vector, got {int(v)}")
        return TensorShape(None)
    if v.ndim != 1:
        raise ValueError(f"element_shape must be a scalar or a vector, got shape {list(v.shape)}")
    return TensorShape([int(d) if d >= 0 else None for d in v.tolist()])


def _fmt(s: TensorShape) -> str:
    if s.ndims is None:
        return "<unknown>"
    return "[" + ",".join("?" if d is None else str(d) for d in s.as_list()) + "]"


def _check_dtype(tl: TensorList, dt: dtypes.DType) -> None:
    if tl.element_dtype is not dt:
        raise ValueError(
            f"Invalid data types; op elements {dt.name} but list elements {tl.element_dtype.name}"
        )


def _merge(a: TensorShape, b: TensorShape, what: str = "") -> TensorShape:
    try:
        return a.merge_with(b)
    except ValueError:
        raise ValueError(f"Incompatible shapes during merge: {_fmt(a)} vs. {_fmt(b)}{what}") from None


def _read_shape(tl: TensorList, shape_arg) -> TensorShape:
    """The shape of what a read of an unwritten slot gives: the list's element shape merged
    with the op's element_shape and, while not fully defined, with the written slots'."""
    s = _merge(tl.element_shape, _shape_arg(shape_arg))
    if not s.is_fully_defined():
        for x in tl.items:
            if x is not None:
                s = _merge(s, TensorShape(x.shape))
                break
    return s


def _zeros(tl: TensorList, s: TensorShape, what: str) -> np.ndarray:
    if not s.is_fully_defined():
        raise ValueError(
            f"Trying to read an uninitialized tensor but element_shape is not fully defined: "
            f"{_fmt(s)} and no list element is set.{what}"
        )
    return (
        np.zeros(s.as_tuple(), dtype=tl.element_dtype.np)
        if tl.element_dtype is not D.string
        else (np.full(s.as_tuple(), b"", dtype=object))
    )


def _own(x: np.ndarray, dt: dtypes.DType) -> np.ndarray:
    """A copy the list owns (its input is a view of an arena buffer the plan reuses)."""
    a = np.array(x, dtype=dt.np if dt is not D.string else object, copy=True)
    a.flags.writeable = False
    return a


def _fits(es: TensorShape, shape: tuple) -> bool:
    """Whether a concrete shape is compatible with a partial one (without building shapes:
    this runs at every write)."""
    if es.ndims is None:
        return True
    dims = es.as_list()
    return len(dims) == len(shape) and all(d is None or d == n for d, n in zip(dims, shape))


def _check_item_shape(tl: TensorList, shape: tuple) -> None:
    if not _fits(tl.element_shape, tuple(shape)):
        raise ValueError(
            f"Tried to set a tensor with incompatible shape at a list index. Item element shape: "
            f"{_fmt(TensorShape(shape))} list shape: {_fmt(tl.element_shape)}"
        )


def _stacked(tl: TensorList, indices, shape_arg, op_name: str) -> np.ndarray:
    s = _merge(tl.element_shape, _shape_arg(shape_arg))
    picked = []
    for i in indices:
        picked.append(tl.items[i])
    for shape in {x.shape for x in picked if x is not None}:
        s = _merge(s, TensorShape(shape), " (the shapes of the list's elements differ)")
    if not s.is_fully_defined():
        if not tl.items:
            raise ValueError(
                f"Tried to {op_name} elements of an empty list with non-fully-defined "
                f"element_shape: {_fmt(s)}"
            )
        raise ValueError(
            f"Tried to {op_name} list which only contains uninitialized tensors and has a "
            f"non-fully-defined element_shape: {_fmt(s)}"
        )
    shape = s.as_tuple()
    if picked and all(x is not None for x in picked) and tl.element_dtype is not D.string:
        return np.stack(picked)
    out = np.empty((len(picked),) + shape, dtype=tl.element_dtype.np)
    for k, x in enumerate(picked):
        if x is None:
            out[k] = b"" if tl.element_dtype is D.string else 0
        else:
            out[k] = x
    return out


# --- shape functions: what the static shapes and, while planning, the specs know ----------------
def _known(c, i: int):
    """Input i's value known before the run: a constant, a value computed while planning,
    or what a list op told of it (KnownValue); else None."""
    v = c.value(i)
    if v is not None:
        return np.asarray(v)
    s = c.spec(i)
    if isinstance(s, KnownValue):
        return s.value
    return None


def _shape_input(c, i: int) -> TensorShape:
    """An element_shape input as a partial shape (unknown rank when not known)."""
    v = _known(c, i)
    if v is not None:
        try:
            return _shape_arg(v)
        except ValueError:
            return TensorShape(None)
    return c.shape_value(i) if c.shape(i).ndims == 1 else TensorShape(None)


def _spec(c, i: int = 0) -> ListSpec | None:
    s = c.spec(i)
    return s if isinstance(s, ListSpec) else None


def _int_input(c, i: int) -> int | None:
    v = _known(c, i)
    if v is None or np.asarray(v).ndim != 0:
        return None
    return int(v)


def _element_shape(c, shape_index: int, index: int | None = None, indices=None) -> TensorShape:
    """The shape of the elements a read gives: the op's element_shape input merged with what
    is known of the list (the slot read, or every written slot)."""
    s = _shape_input(c, shape_index)
    spec = _spec(c)
    if spec is None:
        return s
    try:
        s = s.merge_with(spec.element_shape)
    except ValueError:
        pass
    if s.is_fully_defined():
        return s
    if spec.items is not None:
        if index is not None and 0 <= index < len(spec.items) and spec.items[index] is not None:
            return TensorShape(spec.items[index])
        chosen = (
            spec.items if indices is None else [spec.items[i] for i in indices if 0 <= i < len(spec.items)]
        )
        written = {x for x in chosen if x is not None} or {x for x in spec.items if x is not None}
        if len(written) == 1:
            return _merge_or(s, TensorShape(next(iter(written))))
    if spec.item_shape is not None:
        return _merge_or(s, TensorShape(spec.item_shape))
    return s


def _merge_or(a: TensorShape, b: TensorShape) -> TensorShape:
    try:
        return a.merge_with(b)
    except ValueError:
        return a


def _planned(c, s: TensorShape, what: str) -> TensorShape:
    """While planning, a shape must be fully known: a clear error names what is missing."""
    if c.planning and not s.is_fully_defined():
        raise ValueError(
            f"the shape of {what} is {_fmt(s)} while planning: give the list (the TensorArray) an "
            "element_shape, or write it with tensors of known shapes"
        )
    return s


def _new_list_shape(c, spec: ListSpec | None):
    if spec is not None:
        c.output_specs[0] = spec
    return [TensorShape([])]


def _empty_shape(c):
    return _new_list_shape(c, ListSpec(_shape_input(c, 0), 0, ()))


def _reserve_shape(c):
    n = _int_input(c, 1)
    es = _shape_input(c, 0)
    return _new_list_shape(c, ListSpec(es, n, (None,) * n if n is not None and n >= 0 else None))


def _from_tensor_shape(c):
    t = c.shape(0)
    if t.ndims is not None and t.ndims < 1:
        raise ValueError("TensorListFromTensor needs a tensor of at least one dimension")
    es = _shape_input(c, 1)
    if t.ndims is not None and not es.is_compatible_with(TensorShape(t.as_list()[1:])):
        raise ValueError(f"Specified a list with shape {_fmt(es)} from a tensor with shape {_fmt(t)}")
    if c.planning and t.is_fully_defined():
        dims = t.as_tuple()
        return _new_list_shape(c, ListSpec(es).with_items((dims[1:],) * dims[0]))
    return _new_list_shape(c, None)


def _get_item_shape(c):
    return [_planned(c, _element_shape(c, 2, index=_int_input(c, 1)), "the element read")]


def _set_item_shape(c):
    spec = _spec(c)
    item = c.shape(2)
    if spec is not None and not spec.element_shape.is_compatible_with(item):
        raise ValueError(
            f"Tried to set a tensor with incompatible shape at a list index. Item element shape: "
            f"{_fmt(item)} list shape: {_fmt(spec.element_shape)}"
        )
    if spec is None or not c.planning:
        return _new_list_shape(c, None)
    i = _int_input(c, 1)
    shape = item.as_tuple()
    resize = c.attrs.get("resize_if_index_out_of_bounds", False)
    if spec.items is not None and i is not None and i >= 0:
        items = list(spec.items)
        if i >= len(items) and resize:
            items += [None] * (i + 1 - len(items))
        if i < len(items):
            items[i] = shape
            return _new_list_shape(c, spec.with_items(tuple(items)))
    common = spec.item_shape if spec.item_shape in (None, shape) else None
    if spec.items is not None and not any(x is not None for x in spec.items):
        common = shape
    return _new_list_shape(c, ListSpec(spec.element_shape, None if resize else spec.length, None, common))


def _stack_shape(c):
    n = c.attrs.get("num_elements", -1)
    spec = _spec(c)
    if n is None or n < 0:
        n = spec.length if spec is not None else None
    s = _planned(c, _element_shape(c, 1), "the stacked elements")
    if c.planning and n is None:
        raise ValueError("the length of the list is not known while planning: give num_elements")
    return [TensorShape([n]).concatenate(s)]


def _gather_shape(c):
    idx = _known(c, 1)
    ind = c.shape(1)
    if ind.ndims is not None and ind.ndims != 1:
        raise ValueError(f"indices must be a vector, got shape {_fmt(ind)}")
    s = _planned(
        c, _element_shape(c, 2, indices=None if idx is None else idx.tolist()), "the gathered elements"
    )
    return [TensorShape([ind[0].value if ind.ndims == 1 else None]).concatenate(s)]


def _scatter_existing_shape(c):
    spec = _spec(c)
    t = c.shape(1)
    if t.ndims is not None and t.ndims < 1:
        raise ValueError("TensorListScatterIntoExistingList needs a tensor of at least one dimension")
    if (
        spec is not None
        and t.ndims is not None
        and not spec.element_shape.is_compatible_with(TensorShape(t.as_list()[1:]))
    ):
        raise ValueError(
            f"Tried to scatter a tensor of shape {_fmt(t)} into a list of element shape "
            f"{_fmt(spec.element_shape)}"
        )
    if spec is None or not c.planning:
        return _new_list_shape(c, None)
    idx = _known(c, 2)
    row = t.as_tuple()[1:]
    if spec.items is not None and idx is not None:
        items = list(spec.items)
        for i in np.asarray(idx).reshape(-1).tolist():
            if i < 0:
                return _new_list_shape(c, None)
            if i >= len(items):
                items += [None] * (i + 1 - len(items))
            items[i] = row
        return _new_list_shape(c, spec.with_items(tuple(items)))
    common = row if spec.item_shape in (None, row) else None
    return _new_list_shape(c, ListSpec(spec.element_shape, None, None, common))


def _scatter_v2_shape(c):
    t = c.shape(0)
    if t.ndims is not None and t.ndims < 1:
        raise ValueError("TensorListScatterV2 needs a tensor of at least one dimension")
    es = _shape_input(c, 2)
    if not c.planning:
        return _new_list_shape(c, None)
    idx, n = _known(c, 1), _int_input(c, 3)
    row = t.as_tuple()[1:]
    if idx is None or n is None:
        return _new_list_shape(c, ListSpec(es, None, None, row))
    flat = np.asarray(idx).reshape(-1).tolist()
    length = max([n] + [i + 1 for i in flat])
    items = [None] * length
    for i in flat:
        if i >= 0:
            items[i] = row
    return _new_list_shape(c, ListSpec(es).with_items(tuple(items)))


def _length_shape(c):
    spec = _spec(c)
    if spec is not None and spec.length is not None:
        c.output_specs[0] = KnownValue(np.asarray(spec.length, np.int32))
    return [TensorShape([])]


def _element_shape_shape(c):
    spec = _spec(c)
    dt = c.attrs.get("shape_type", D.int32)
    if spec is not None:
        es = spec.element_shape
        value = np.asarray(-1 if es.ndims is None else [-1 if d is None else d for d in es.as_list()], dt.np)
        c.output_specs[0] = KnownValue(value)
        return [TensorShape(value.shape)]
    if c.planning:
        raise ValueError("the element shape of the list is not known while planning")
    return [TensorShape(None)]


def _concat_shape(c):
    spec = _spec(c)
    s = _merge_or(_shape_input(c, 1), spec.element_shape) if spec is not None else _shape_input(c, 1)
    if s.ndims is not None and s.ndims < 1:
        raise ValueError("Concat requires elements to be at least vectors")
    rest = TensorShape(None) if s.ndims is None else TensorShape(s.as_list()[1:])
    total = None
    if spec is not None and spec.items is not None:
        lead = _known(c, 2)
        lead = [] if lead is None else np.asarray(lead).reshape(-1).tolist()
        rows = []
        for k, x in enumerate(spec.items):
            if x is not None:
                if not x:
                    raise ValueError(f"Concat saw a scalar shape at index {k} but requires at least vectors")
                rows.append(x[0])
                rest = _merge_or(rest, TensorShape(x[1:]))
            elif k < len(lead):
                rows.append(int(lead[k]))
            else:
                rows = None
                break
        total = None if rows is None else sum(rows)
        if rows is not None and c.planning:  # the lengths output, known while planning
            c.output_specs[1] = KnownValue(np.asarray(rows, np.int64))
    elif spec is not None and spec.item_shape is not None and spec.length is not None:
        total = spec.length * spec.item_shape[0] if spec.item_shape else None
        rest = _merge_or(rest, TensorShape(spec.item_shape[1:]))
    n = spec.length if spec is not None else None
    out = TensorShape([total]).concatenate(rest) if rest.ndims is not None else TensorShape(None)
    if c.planning and (total is None or not out.is_fully_defined()):
        raise ValueError(
            "the shape of the concatenation is not known while planning: the list's elements must be "
            "written with tensors of known shapes"
        )
    return [out, TensorShape([n])]


def _split_shape(c):
    t = c.shape(0)
    if t.ndims is not None and t.ndims < 1:
        raise ValueError("TensorListSplit needs a tensor of at least one dimension")
    es = _shape_input(c, 1)
    if not c.planning:
        return _new_list_shape(c, None)
    lengths = _known(c, 2)
    rest = t.as_tuple()[1:]
    if lengths is None:
        n = c.shape(2)[0].value
        return _new_list_shape(c, ListSpec(es, n, None, None))
    items = tuple((int(k),) + rest for k in np.asarray(lengths).reshape(-1).tolist())
    return _new_list_shape(c, ListSpec(es).with_items(items))


def _push_back_shape(c):
    spec = _spec(c)
    if spec is None or not c.planning:
        return _new_list_shape(c, None)
    shape = c.shape(1).as_tuple()
    if spec.items is not None:
        return _new_list_shape(c, spec.with_items(spec.items + (shape,)))
    common = spec.item_shape if spec.item_shape in (None, shape) else None
    n = None if spec.length is None else spec.length + 1
    return _new_list_shape(c, ListSpec(spec.element_shape, n, None, common))


def _pop_back_shape(c):
    spec = _spec(c)
    index = None if spec is None or spec.length is None else spec.length - 1
    s = _planned(c, _element_shape(c, 1, index=index), "the element popped")
    if spec is not None and c.planning:
        if spec.items is not None and spec.items:
            c.output_specs[0] = spec.with_items(spec.items[:-1])
        else:
            n = None if spec.length is None else max(spec.length - 1, 0)
            c.output_specs[0] = ListSpec(spec.element_shape, n, None, spec.item_shape)
    return [TensorShape([]), s]


def _resize_shape(c):
    spec = _spec(c)
    n = _int_input(c, 1)
    if spec is None or not c.planning:
        return _new_list_shape(c, None)
    if spec.items is not None and n is not None and n >= 0:
        items = spec.items[:n] + (None,) * max(0, n - len(spec.items))
        return _new_list_shape(c, spec.with_items(items))
    return _new_list_shape(c, ListSpec(spec.element_shape, n, None, spec.item_shape))


# --- references (the kernels) ----------------------------------------------------------------------
def _empty_ref(ins, a):
    n = int(ins[1])
    return _wrap(TensorList(a["element_dtype"], _shape_arg(ins[0]), [], n))


def _reserve_ref(ins, a):
    n = int(ins[1])
    if n < 0:
        raise ValueError(f"The num_elements to reserve must be a non negative number, but got {n}")
    return _wrap(TensorList(a["element_dtype"], _shape_arg(ins[0]), [None] * n))


def _from_tensor_ref(ins, a):
    t = np.asarray(ins[0])
    es = _shape_arg(ins[1])
    if t.ndim < 1:
        raise ValueError("Tensor must be at least a vector, but saw shape: []")
    if not es.is_compatible_with(TensorShape(t.shape[1:])):
        raise ValueError(
            f"Specified a list with shape {_fmt(es)} from a tensor with shape {_fmt(TensorShape(t.shape))}"
        )
    owned = _own(t, a["element_dtype"])
    return _wrap(TensorList(a["element_dtype"], es, [owned[i] for i in range(t.shape[0])]))


def _index_error(i: int, n: int, verb: str = "access") -> ValueError:
    return ValueError(f"Trying to {verb} element {i} in a list with {n} elements.")


def _get_item_ref(ins, a):
    tl = _list(ins[0])
    _check_dtype(tl, a["element_dtype"])
    i = int(ins[1])
    if not 0 <= i < len(tl.items):
        raise _index_error(i, len(tl.items))
    x = tl.items[i]
    if x is not None:
        return x
    return _zeros(tl, _read_shape(tl, ins[2]), f" (element {i} of the list was never written)")


def _set_item_ref(ins, a):
    tl = _list(ins[0])
    dt = a["element_dtype"]
    _check_dtype(tl, dt)
    i = int(ins[1])
    item = np.asarray(ins[2])
    _check_item_shape(tl, item.shape)
    items = list(tl.items)
    if i >= len(items) and a.get("resize_if_index_out_of_bounds"):
        items += [None] * (i + 1 - len(items))
    if not 0 <= i < len(items):
        raise _index_error(i, len(tl.items), "modify")
    items[i] = _own(item, dt)
    return _wrap(tl.with_items(items))


def _check_count(tl: TensorList, n: int) -> None:
    if n != -1 and n != len(tl.items):
        raise ValueError(
            f"Operation expected a list with {n} elements but got a list with {len(tl.items)} elements."
        )


def _stack_ref(ins, a):
    tl = _list(ins[0])
    _check_dtype(tl, a["element_dtype"])
    _check_count(tl, a.get("num_elements", -1))
    return _stacked(tl, range(len(tl.items)), ins[1], "stack")


def _gather_ref(ins, a):
    tl = _list(ins[0])
    _check_dtype(tl, a["element_dtype"])
    idx = np.asarray(ins[1]).reshape(-1).tolist()
    for i in idx:
        if not 0 <= i < len(tl.items):
            raise ValueError(f"Index {i} out o range; list only has {len(tl.items)} elements.")
    return _stacked(tl, idx, ins[2], "gather")


def _scatter_into(tl: TensorList, t: np.ndarray, idx, dt) -> TensorList:
    t = np.asarray(t)
    if t.ndim < 1:
        raise ValueError("Tensor must be at least a vector, but saw shape: []")
    idx = np.asarray(idx).reshape(-1).tolist()
    if len(idx) != t.shape[0]:
        raise ValueError(f"Expected len(indices) == tensor.shape[0], but saw: {len(idx)} vs. {t.shape[0]}")
    _check_item_shape(tl, t.shape[1:])
    items = list(tl.items)
    owned = _own(t, dt)
    for k, i in enumerate(idx):
        if i < 0:
            raise ValueError(f"Indices in TensorListScatter must all be non-negative (index {k} is {i}).")
        if i >= len(items):
            if tl.max_num_elements != -1 and i >= tl.max_num_elements:
                raise ValueError(
                    f"Trying to scatter to index {i} in a list with at most {tl.max_num_elements} elements."
                )
            items += [None] * (i + 1 - len(items))
        items[i] = owned[k]
    return tl.with_items(items)


def _scatter_existing_ref(ins, a):
    tl = _list(ins[0])
    _check_dtype(tl, a["element_dtype"])
    return _wrap(_scatter_into(tl, ins[1], ins[2], a["element_dtype"]))


def _scatter_v2_ref(ins, a):
    n = int(ins[3])
    tl = TensorList(a["element_dtype"], _shape_arg(ins[2]), [None] * max(n, 0))
    return _wrap(_scatter_into(tl, ins[0], ins[1], a["element_dtype"]))


def _length_ref(ins, a):
    return np.asarray(len(_list(ins[0]).items), np.int32)


def _element_shape_ref(ins, a):
    es = _list(ins[0]).element_shape
    dt = a.get("shape_type", D.int32)
    if es.ndims is None:
        return np.asarray(-1, dt.np)
    return np.asarray([-1 if d is None else d for d in es.as_list()], dt.np)


def _concat_ref(ins, a):
    tl = _list(ins[0])
    dt = a["element_dtype"]
    _check_dtype(tl, dt)
    s = _merge(tl.element_shape, _shape_arg(ins[1]))
    if s.ndims is not None and s.ndims < 1:
        raise ValueError("Concat requires elements to be at least vectors")
    lead = np.asarray(ins[2]).reshape(-1).tolist()
    rest = TensorShape(None) if s.ndims is None else TensorShape(s.as_list()[1:])
    for k, x in enumerate(tl.items):
        if x is not None:
            if x.ndim == 0:
                raise ValueError(f"Concat saw a scalar shape at index {k} but requires at least vectors.")
            rest = _merge(
                rest, TensorShape(x.shape[1:]), " (the list's elements differ past their first dimension)"
            )
    parts, lengths = [], []
    for k, x in enumerate(tl.items):
        if x is None:
            if k >= len(lead) or not rest.is_fully_defined():
                raise ValueError(
                    f"Trying to concat list with uninitialized element {k}: give leading_dims and a "
                    "fully defined element_shape"
                )
            x = np.zeros((int(lead[k]),) + rest.as_tuple(), dtype=dt.np)
        parts.append(x)
        lengths.append(x.shape[0])
    if not parts:
        if not rest.is_fully_defined():
            raise ValueError(
                f"All except the first dimension must be fully defined when concating an empty "
                f"tensor list. element_shape: {_fmt(s)}"
            )
        return np.zeros((0,) + rest.as_tuple(), dtype=dt.np), np.zeros((0,), np.int64)
    return np.concatenate(parts, axis=0), np.asarray(lengths, np.int64)


def _split_ref(ins, a):
    t = np.asarray(ins[0])
    dt = a["element_dtype"]
    if t.ndim < 1:
        raise ValueError("Tensor must be at least a vector, but saw shape: []")
    lengths = np.asarray(ins[2]).reshape(-1).tolist()
    es = _shape_arg(ins[1])
    owned = _own(t, dt)
    items, at = [], 0
    for k, n in enumerate(lengths):
        if n < 0:
            raise ValueError(f"Invalid value in lengths: {n} (index {k})")
        if at + n > t.shape[0]:
            raise ValueError(f"Attempting to slice [{at}, {at + n}] from tensor with length {t.shape[0]}")
        x = owned[at : at + n]
        if not es.is_compatible_with(TensorShape(x.shape)):
            raise ValueError(
                f"Tried to split a tensor into elements of shape {_fmt(TensorShape(x.shape))}, "
                f"incompatible with the list's element_shape {_fmt(es)}"
            )
        items.append(x)
        at += n
    if at != t.shape[0]:
        raise ValueError(f"Unused values in tensor. Length of tensor: {t.shape[0]} Values used: {at}")
    return _wrap(TensorList(dt, es, items))


def _push_back_ref(ins, a):
    tl = _list(ins[0])
    dt = a["element_dtype"]
    _check_dtype(tl, dt)
    item = np.asarray(ins[1])
    _check_item_shape(tl, item.shape)
    if tl.max_num_elements != -1 and len(tl.items) >= tl.max_num_elements:
        raise ValueError(
            f"Tried to push item into a full list list size: {len(tl.items)} max_num_elements: "
            f"{tl.max_num_elements}"
        )
    return _wrap(tl.with_items(list(tl.items) + [_own(item, dt)]))


def _pop_back_ref(ins, a):
    tl = _list(ins[0])
    _check_dtype(tl, a["element_dtype"])
    if not tl.items:
        raise ValueError("Trying to pop from an empty list.")
    x = tl.items[-1]
    if x is None:
        x = _zeros(tl, _read_shape(tl, ins[1]), " (the last element was never written)")
    return _wrap(tl.with_items(list(tl.items[:-1]))), x


def _resize_ref(ins, a):
    tl = _list(ins[0])
    n = int(ins[1])
    if n < 0:
        raise ValueError(f"TensorListSlice expects size to be non-negative. Got: {n}")
    items = list(tl.items[:n]) + [None] * max(0, n - len(tl.items))
    return _wrap(tl.with_items(items))


# --- declarations ----------------------------------------------------------------------------
_DT = Attr("element_dtype", "type", allowed=_ELEMENT_TYPES)
_ST = Attr("shape_type", "type", D.int32, allowed=_SHAPE_TYPES)
_H = Arg("input_handle", dtype=V)
_OUT = Arg("output_handle", dtype=V)


def _fast(name: str, attrs: dict, shapes: list, generic):
    """The host call of a list op a loop runs at every iteration (get, set, push of one
    element) with the common case written out: the list of the element dtype, the index in
    range, the element's shape one already checked against this list's element shape. Any
    other case takes `generic` (the reference), which gives the op's errors."""
    dt = attrs.get("element_dtype")
    if dt is None or dt is D.string:
        return None
    np_dt = dt.np
    fits: dict = {}  # (id of an element shape, item shape) seen to fit -> that element shape

    def fit(tl, shape) -> bool:
        es = tl.element_shape
        key = (id(es), shape)
        if fits.get(key) is es:
            return True
        if _fits(es, shape):
            if len(fits) > 64:  # (lists made anew by every run bring new element shapes)
                fits.clear()
            fits[key] = es  # (kept: its id stays its own)
            return True
        return False

    def own(x):
        a = np.array(x, dtype=np_dt, copy=True)
        a.flags.writeable = False
        return a

    if name == "TensorListGetItem":
        (want,) = shapes

        def get_item(op, ins, outs):
            tl = ins[0][()]
            if type(tl) is TensorList and tl.element_dtype is dt:
                i = int(ins[1])
                items = tl.items
                if 0 <= i < len(items):
                    x = items[i]
                    if x is not None and x.shape == want:
                        outs[0][...] = x
                        return
            generic(op, ins, outs)

        return get_item
    if name == "TensorListSetItem" and not attrs.get("resize_if_index_out_of_bounds"):

        def set_item(op, ins, outs):
            tl = ins[0][()]
            if type(tl) is TensorList and tl.element_dtype is dt:
                i = int(ins[1])
                item = ins[2]
                items = tl.items
                if 0 <= i < len(items) and fit(tl, item.shape):
                    items = list(items)
                    items[i] = own(item)
                    outs[0][()] = TensorList(dt, tl.element_shape, items, tl.max_num_elements)
                    return
            generic(op, ins, outs)

        return set_item
    if name == "TensorListPushBack":

        def push_back(op, ins, outs):
            tl = ins[0][()]
            if type(tl) is TensorList and tl.element_dtype is dt and tl.max_num_elements == -1:
                item = ins[1]
                if fit(tl, item.shape):
                    outs[0][()] = TensorList(dt, tl.element_shape, [*tl.items, own(item)], -1)
                    return
            generic(op, ins, outs)

        return push_back
    return None


def _lower(ctx) -> None:
    """One host call of the op's reference on the run's arrays, writing its outputs in place: a
    list into its 0-d object array, an element or a stack into its arena buffer (without the
    copy `LowerContext.reference` makes for references that may return their inputs: these
    return arrays of their own or ones a list owns, never an input). Get, set and push of
    one element take a shorter way in their common case (`_fast`)."""
    ref, attrs, shapes = ctx.opdef.ref, ctx.attrs, [tuple(s) for s in ctx.out_shapes]

    def run(op, ins, outs):
        values = ref(ins, attrs)
        if not isinstance(values, tuple):
            values = (values,)
        for j, (o, v) in enumerate(zip(outs, values)):
            if o.dtype == object and o.ndim == 0 and isinstance(v, np.ndarray) and v.dtype == object:
                o[()] = v[()]  # a list (or a string element)
                continue
            v = np.asarray(v)
            if v.shape != shapes[j]:
                raise ValueError(
                    f"output {j} has shape {list(v.shape)} at run time, but the plan made room for "
                    f"{list(shapes[j])} (the shapes of the list's elements changed from what planning saw)"
                )
            o[...] = v

    ctx.host(
        _fast(ctx.opdef.name, attrs, shapes, run) or run,
        [ctx.inp(i) for i in range(len(ctx.in_shapes))],
        [ctx.out(j) for j in range(len(ctx.out_shapes))],
    )


# host calls of their own lowering (strings_lowered: it handles the Python objects itself)
_COMMON = dict(lower=_lower, strings_lowered=True, foldable=False)


def _scenario_cases(*fns):
    """Cases checked by a scenario each (a list is no array a case can hold): `fn(sf)` builds
    graphs using the op, runs them and checks values against NumPy and, for the differentiable
    ops, gradients against central differences."""
    return lambda rng: [Case((), grad=True, scenario=f) for f in fns]


def _scenarios(name: str):
    from staticflow.ops import list_op_scenarios  # (cases only: built when the tests ask)

    return getattr(list_op_scenarios, name)


def _lazy(name: str):
    def run(sf):
        for f in _scenarios(name):
            f(sf)

    run.__name__ = name
    return run


op(
    name="EmptyTensorList",
    inputs=[Arg("element_shape", type_attr="shape_type"), Arg("max_num_elements", dtype=D.int32)],
    outputs=[Arg("handle", dtype=V)],
    attrs=[_DT, _ST],
    shape_fn=_empty_shape,
    ref=_empty_ref,
    differentiable=False,
    cases=_scenario_cases(_lazy("empty")),
    doc="An empty list of tensors of element_dtype (at most max_num_elements, -1: no limit).",
    **_COMMON,
)

op(
    name="TensorListReserve",
    inputs=[Arg("element_shape", type_attr="shape_type"), Arg("num_elements", dtype=D.int32)],
    outputs=[Arg("handle", dtype=V)],
    attrs=[_DT, _ST],
    shape_fn=_reserve_shape,
    ref=_reserve_ref,
    differentiable=False,
    cases=_scenario_cases(_lazy("reserve")),
    doc="A list of num_elements slots, none written.",
    **_COMMON,
)

op(
    name="TensorListFromTensor",
    inputs=[Arg("tensor", type_attr="element_dtype"), Arg("element_shape", type_attr="shape_type")],
    outputs=[_OUT],
    attrs=[_DT, _ST],
    shape_fn=_from_tensor_shape,
    ref=_from_tensor_ref,
    cases=_scenario_cases(_lazy("from_tensor")),
    doc="The list of tensor's rows (TensorArray.unstack).",
    **_COMMON,
)

op(
    name="TensorListGetItem",
    inputs=[_H, Arg("index", dtype=D.int32), Arg("element_shape", type_attr="Tshape")],
    outputs=[Arg("item", type_attr="element_dtype")],
    attrs=[_DT, Attr("Tshape", "type", D.int32, allowed=_SHAPE_TYPES)],
    shape_fn=_get_item_shape,
    ref=_get_item_ref,
    cases=_scenario_cases(_lazy("get_item")),
    doc="Element index of the list (zeros of element_shape for a slot never written).",
    **_COMMON,
)

op(
    name="TensorListSetItem",
    inputs=[_H, Arg("index", dtype=D.int32), Arg("item", type_attr="element_dtype")],
    outputs=[_OUT],
    attrs=[_DT, Attr("resize_if_index_out_of_bounds", "bool", False)],
    shape_fn=_set_item_shape,
    ref=_set_item_ref,
    cases=_scenario_cases(_lazy("set_item")),
    doc="The list with item at index (grown to index + 1 when resize_if_index_out_of_bounds).",
    **_COMMON,
)

op(
    name="TensorListStack",
    inputs=[_H, Arg("element_shape", dtype=D.int32)],
    outputs=[Arg("tensor", type_attr="element_dtype")],
    attrs=[_DT, Attr("num_elements", "int", -1)],
    shape_fn=_stack_shape,
    ref=_stack_ref,
    cases=_scenario_cases(_lazy("stack")),
    doc="The list's elements stacked along a new first axis (TensorArray.stack).",
    **_COMMON,
)

op(
    name="TensorListGather",
    inputs=[_H, Arg("indices", dtype=D.int32), Arg("element_shape", dtype=D.int32)],
    outputs=[Arg("values", type_attr="element_dtype")],
    attrs=[_DT],
    shape_fn=_gather_shape,
    ref=_gather_ref,
    cases=_scenario_cases(_lazy("gather")),
    doc="The elements at indices, stacked.",
    **_COMMON,
)

op(
    name="TensorListScatterIntoExistingList",
    inputs=[_H, Arg("tensor", type_attr="element_dtype"), Arg("indices", dtype=D.int32)],
    outputs=[_OUT],
    attrs=[_DT],
    shape_fn=_scatter_existing_shape,
    ref=_scatter_existing_ref,
    cases=_scenario_cases(_lazy("scatter_existing")),
    doc="The list with tensor's rows written at indices (grown to hold the largest).",
    **_COMMON,
)

op(
    name="TensorListScatterV2",
    inputs=[
        Arg("tensor", type_attr="element_dtype"),
        Arg("indices", dtype=D.int32),
        Arg("element_shape", type_attr="shape_type"),
        Arg("num_elements", dtype=D.int32),
    ],
    outputs=[_OUT],
    attrs=[_DT, _ST],
    shape_fn=_scatter_v2_shape,
    ref=_scatter_v2_ref,
    cases=_scenario_cases(_lazy("scatter_v2")),
    doc="A new list of max(num_elements, largest index + 1) slots with tensor's rows at indices.",
    **_COMMON,
)

op(
    name="TensorListLength",
    inputs=[_H],
    outputs=[Arg("length", dtype=D.int32)],
    shape_fn=_length_shape,
    ref=_length_ref,
    differentiable=False,
    cases=_scenario_cases(_lazy("length")),
    doc="The number of slots of the list.",
    **_COMMON,
)

op(
    name="TensorListElementShape",
    inputs=[_H],
    outputs=[Arg("element_shape", type_attr="shape_type")],
    attrs=[_ST],
    shape_fn=_element_shape_shape,
    ref=_element_shape_ref,
    differentiable=False,
    cases=_scenario_cases(_lazy("element_shape")),
    doc="The list's declared element shape (-1 for an unknown rank or dimension).",
    **_COMMON,
)

op(
    name="TensorListConcatV2",
    inputs=[_H, Arg("element_shape", type_attr="shape_type"), Arg("leading_dims", dtype=D.int64)],
    outputs=[Arg("tensor", type_attr="element_dtype"), Arg("lengths", dtype=D.int64)],
    attrs=[_DT, _ST],
    shape_fn=_concat_shape,
    ref=_concat_ref,
    cases=_scenario_cases(_lazy("concat")),
    doc="The list's elements concatenated along their first axis, and each one's length.",
    **_COMMON,
)

op(
    name="TensorListSplit",
    inputs=[
        Arg("tensor", type_attr="element_dtype"),
        Arg("element_shape", type_attr="shape_type"),
        Arg("lengths", dtype=D.int64),
    ],
    outputs=[_OUT],
    attrs=[_DT, _ST],
    shape_fn=_split_shape,
    ref=_split_ref,
    cases=_scenario_cases(_lazy("split")),
    doc="The list of tensor's consecutive slices of the given lengths along its first axis.",
    **_COMMON,
)

op(
    name="TensorListPushBack",
    inputs=[_H, Arg("tensor", type_attr="element_dtype")],
    outputs=[_OUT],
    attrs=[_DT],
    shape_fn=_push_back_shape,
    ref=_push_back_ref,
    cases=_scenario_cases(_lazy("push_back")),
    doc="The list with tensor appended.",
    **_COMMON,
)

op(
    name="TensorListPopBack",
    inputs=[_H, Arg("element_shape", dtype=D.int32)],
    outputs=[_OUT, Arg("tensor", type_attr="element_dtype")],
    attrs=[_DT],
    shape_fn=_pop_back_shape,
    ref=_pop_back_ref,
    cases=_scenario_cases(_lazy("pop_back")),
    doc="The list without its last element, and that element.",
    **_COMMON,
)

op(
    name="TensorListResize",
    inputs=[_H, Arg("size", dtype=D.int32)],
    outputs=[_OUT],
    shape_fn=_resize_shape,
    ref=_resize_ref,
    cases=_scenario_cases(_lazy("resize")),
    doc="The list cut or grown (with slots never written) to size.",
    **_COMMON,
)


# --- Python wrappers (TF's list_ops) -----------------------------------------------------------
def _shape_tensor(shape):
    """An element_shape argument as TF's _build_element_shape makes it: -1 for an unknown
    rank, a vector with -1 for unknown dimensions; a tensor is taken as it is."""
    from staticflow.framework import ops as fops

    if isinstance(shape, fops.Tensor):
        return shape
    s = as_shape(shape) if shape is not None else TensorShape(None)
    if s.ndims is None:
        return np.asarray(-1, np.int32)
    return np.asarray([-1 if d is None else d for d in s.as_list()], np.int32)


def _apply(op_type: str, inputs: list, attrs: dict, name=None):
    return builder.apply_op(op_type, inputs, attrs, name)


def empty_tensor_list(element_shape, element_dtype, max_num_elements=None, name=None):
    return _apply(
        "EmptyTensorList",
        [_shape_tensor(element_shape), -1 if max_num_elements is None else max_num_elements],
        {"element_dtype": dtypes.as_dtype(element_dtype)},
        name,
    ).outputs[0]


def tensor_list_reserve(element_shape, num_elements, element_dtype, name=None):
    return _apply(
        "TensorListReserve",
        [_shape_tensor(element_shape), num_elements],
        {"element_dtype": dtypes.as_dtype(element_dtype)},
        name,
    ).outputs[0]


def tensor_list_from_tensor(tensor, element_shape, name=None):
    from staticflow.framework import ops as fops

    tensor = fops.convert_to_tensor(tensor)
    return _apply("TensorListFromTensor", [tensor, _shape_tensor(element_shape)], {}, name).outputs[0]


def tensor_list_get_item(input_handle, index, element_dtype, element_shape=None, name=None):
    return _apply(
        "TensorListGetItem",
        [input_handle, index, _shape_tensor(element_shape)],
        {"element_dtype": dtypes.as_dtype(element_dtype)},
        name,
    ).outputs[0]


def tensor_list_set_item(input_handle, index, item, resize_if_index_out_of_bounds=False, name=None):
    return _apply(
        "TensorListSetItem",
        [input_handle, index, item],
        {"resize_if_index_out_of_bounds": bool(resize_if_index_out_of_bounds)},
        name,
    ).outputs[0]


def tensor_list_stack(input_handle, element_dtype, num_elements=-1, element_shape=None, name=None):
    return _apply(
        "TensorListStack",
        [input_handle, _shape_tensor(element_shape)],
        {"element_dtype": dtypes.as_dtype(element_dtype), "num_elements": int(num_elements)},
        name,
    ).outputs[0]


def tensor_list_gather(input_handle, indices, element_dtype, element_shape=None, name=None):
    return _apply(
        "TensorListGather",
        [input_handle, indices, _shape_tensor(element_shape)],
        {"element_dtype": dtypes.as_dtype(element_dtype)},
        name,
    ).outputs[0]


def tensor_list_scatter(tensor, indices, element_shape=None, input_handle=None, name=None):
    from staticflow.framework import ops as fops

    tensor = fops.convert_to_tensor(tensor)
    if input_handle is not None:
        return _apply("TensorListScatterIntoExistingList", [input_handle, tensor, indices], {}, name).outputs[
            0
        ]
    return _apply(
        "TensorListScatterV2", [tensor, indices, _shape_tensor(element_shape), -1], {}, name
    ).outputs[0]


def tensor_list_length(input_handle, name=None):
    return _apply("TensorListLength", [input_handle], {}, name).outputs[0]


def tensor_list_element_shape(input_handle, shape_type=D.int32, name=None):
    return _apply(
        "TensorListElementShape", [input_handle], {"shape_type": dtypes.as_dtype(shape_type)}, name
    ).outputs[0]


def tensor_list_concat(input_handle, element_dtype, element_shape=None, name=None):
    """The concatenation (TF's wrapper drops the lengths output, which gradients use)."""
    return tensor_list_concat_v2(input_handle, element_dtype, element_shape, name=name)[0]


def tensor_list_concat_v2(input_handle, element_dtype, element_shape=None, leading_dims=None, name=None):
    lead = np.zeros((0,), np.int64) if leading_dims is None else leading_dims
    out = _apply(
        "TensorListConcatV2",
        [input_handle, _shape_tensor(element_shape), lead],
        {"element_dtype": dtypes.as_dtype(element_dtype)},
        name,
    ).outputs
    return out[0], out[1]


def tensor_list_split(tensor, element_shape, lengths, name=None):
    from staticflow.framework import ops as fops

    tensor = fops.convert_to_tensor(tensor)
    return _apply("TensorListSplit", [tensor, _shape_tensor(element_shape), lengths], {}, name).outputs[0]


def tensor_list_push_back(input_handle, tensor, name=None):
    return _apply("TensorListPushBack", [input_handle, tensor], {}, name).outputs[0]


def tensor_list_pop_back(input_handle, element_dtype, element_shape=-1, name=None):
    out = _apply(
        "TensorListPopBack",
        [
            input_handle,
            _shape_tensor(None if isinstance(element_shape, int) and element_shape == -1 else element_shape),
        ],
        {"element_dtype": dtypes.as_dtype(element_dtype)},
        name,
    ).outputs
    return out[0], out[1]


def tensor_list_resize(input_handle, size, name=None):
    return _apply("TensorListResize", [input_handle, size], {}, name).outputs[0]


# --- gradients (TensorFlow's list_ops gradients) ------------------------------------------------
def _shape_tail(t):
    """shape(t)[1:], TF's array_ops.slice(array_ops.shape(t), [1], [-1])."""
    from staticflow.ops import array_ops

    return array_ops.slice_(array_ops.shape(t), [1], [-1])


@registry.register_gradient("TensorListStack")
def _stack_grad(op, dtensor):
    return tensor_list_from_tensor(dtensor, element_shape=dtensor.shape[1:]), None


@registry.register_gradient("TensorListFromTensor")
def _from_tensor_grad(op, dlist):
    t = op.inputs[0]
    n = t.shape[0].value if t.shape.ndims else None
    if dlist is None:
        dlist = empty_tensor_list(tensor_list_element_shape(op.outputs[0]), t.dtype)
    grad = tensor_list_stack(
        dlist, t.dtype, num_elements=-1 if n is None else n, element_shape=_shape_tail(t)
    )
    return grad, None


@registry.register_gradient("TensorListGetItem")
def _get_item_grad(op, ditem):
    list_grad = tensor_list_set_item(
        tensor_list_reserve(
            tensor_list_element_shape(op.inputs[0]), tensor_list_length(op.inputs[0]), ditem.dtype
        ),
        op.inputs[1],
        ditem,
    )
    return list_grad, None, None


@registry.register_gradient("TensorListSetItem")
def _set_item_grad(op, dlist):
    from staticflow.ops import array_ops

    input_list, index, item = op.inputs
    list_grad = tensor_list_set_item(dlist, index, array_ops.zeros_like(item))
    element_grad = tensor_list_get_item(dlist, index, item.dtype, element_shape=array_ops.shape(item))
    if op.get_attr("resize_if_index_out_of_bounds"):
        list_grad = tensor_list_resize(list_grad, tensor_list_length(input_list))
    return list_grad, None, element_grad


@registry.register_gradient("TensorListResize")
def _resize_grad(op, dlist):
    return tensor_list_resize(dlist, tensor_list_length(op.inputs[0])), None


@registry.register_gradient("TensorListGather")
def _gather_grad(op, dtensor):
    """TF's gradient scatters the gathered rows' gradients back, so that an index gathered
    twice keeps one of its two gradients; here each row's gradient is first the sum over the
    rows gathered from the same index (a [k, k] indicator times the rows), then scattered."""
    from staticflow.framework import ops as fops
    from staticflow.ops import array_ops, math_ops

    input_list, indices, _ = op.inputs
    idx = fops.convert_to_tensor(indices)
    same = math_ops.cast(
        math_ops.equal(array_ops.expand_dims(idx, 1), array_ops.expand_dims(idx, 0)), dtensor.dtype
    )
    rows = array_ops.reshape(dtensor, array_ops.concat([array_ops.shape(idx), [-1]], axis=0))
    summed = array_ops.reshape(math_ops.matmul(same, rows), array_ops.shape(dtensor))
    dlist = tensor_list_reserve(
        tensor_list_element_shape(input_list), tensor_list_length(input_list), dtensor.dtype
    )
    return tensor_list_scatter(summed, indices, input_handle=dlist), None, None


@registry.register_gradient("TensorListScatterV2")
def _scatter_v2_grad(op, dlist):
    tensor, indices = op.inputs[0], op.inputs[1]
    dtensor = tensor_list_gather(dlist, indices, tensor.dtype, element_shape=_shape_tail(tensor))
    return dtensor, None, None, None


@registry.register_gradient("TensorListScatterIntoExistingList")
def _scatter_existing_grad(op, dlist):
    from staticflow.ops import array_ops

    _, tensor, indices = op.inputs
    dtensor = tensor_list_gather(dlist, indices, tensor.dtype, element_shape=_shape_tail(tensor))
    zeros = array_ops.zeros_like(tensor)
    dlist = tensor_list_scatter(zeros, indices, input_handle=dlist)
    return dlist, dtensor, None


@registry.register_gradient("TensorListConcatV2")
def _concat_grad(op, dtensor, unused_dlengths):
    dlist = tensor_list_split(
        dtensor, element_shape=tensor_list_element_shape(op.inputs[0]), lengths=op.outputs[1]
    )
    return dlist, None, None


@registry.register_gradient("TensorListSplit")
def _split_grad(op, dlist):
    from staticflow.ops import array_ops

    tensor, _, lengths = op.inputs
    element_shape = array_ops.concat([[-1], _shape_tail(tensor)], axis=0)
    grad, _ = tensor_list_concat_v2(dlist, tensor.dtype, element_shape, leading_dims=lengths)
    return grad, None, None


@registry.register_gradient("TensorListPushBack")
def _push_back_grad(op, dresult):
    from staticflow.ops import array_ops

    return tensor_list_pop_back(dresult, op.get_attr("element_dtype"), array_ops.shape(op.inputs[1]))


@registry.register_gradient("TensorListPopBack")
def _pop_back_grad(op, dlist, delement):
    from staticflow.ops import array_ops

    if dlist is None:
        dlist = empty_tensor_list(tensor_list_element_shape(op.outputs[0]), delement.dtype)
    if delement is None:
        delement = array_ops.zeros_like(op.outputs[1])
    return tensor_list_push_back(dlist, delement), None


_ = casegen  # (the scenarios draw their arrays with casegen.rand)
