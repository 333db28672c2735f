"""Queues: TF1's FIFOQueue, RandomShuffleQueue and PaddingFIFOQueue.

A queue is session state (runtime/resources.py) holding tuples of tensors.
Enqueue, close and size are host calls in a plan; dequeues are sources, which
Session.run evaluates before it plans the run, so that a dequeue waiting on
an empty queue holds no lock and a queue-runner thread blocked in an enqueue
on a full queue never stops another thread's dequeue and training step.
Closing a queue lets its remaining elements be dequeued; after that a dequeue
raises OutOfRangeError. `close(cancel_pending_enqueues=True)` and closing the
session make waiting enqueues fail with CancelledError.
"""

from __future__ import annotations

import collections
import threading

import numpy as np

from staticflow.framework import dtypes, errors
from staticflow.framework import ops as fops
from staticflow.framework.tensor_shape import TensorShape, as_shape, unknown_shape
from staticflow.ops import builder
from staticflow.ops.registry import Arg, Attr, Case, op
from staticflow.ops.resource_util import (
    HANDLE,
    copy_value,
    declare_handle,
    empty,
    fail,
    fmt_shape,
    host_lowering,
    scalar_shape,
    session_state_ref,
)

D = dtypes


# ---------------------------------------------------------------------------
# the queue resources
# ---------------------------------------------------------------------------
class QueueState:
    """A bounded FIFO queue of tuples of arrays, safe for any number of threads."""

    kind = "FIFOQueue"

    def __init__(self, hop: fops.Operation):
        self.name = hop.name
        self.dtypes = [D.as_dtype(t) for t in hop.get_attr("component_types")]
        self.shapes = [as_shape(s) for s in hop.get_attr("shapes")]
        cap = int(hop.get_attr("capacity"))
        self.capacity = cap if cap >= 0 else None
        self._items: collections.deque = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        self._cancelled = False  # closed with cancel_pending_enqueues: waiting enqueues fail
        self._session_closed = False

    # --- checks -------------------------------------------------------------------------------
    def _check_types(self, op_, types) -> None:
        if [D.as_dtype(t) for t in types] != self.dtypes:
            got = ", ".join(D.as_dtype(t).name for t in types)
            want = ", ".join(t.name for t in self.dtypes)
            raise fail(
                errors.InvalidArgumentError,
                op_,
                f"{op_.type} op '{op_.name}' has components of types [{got}], but {self.kind} "
                f"'{self.name}' holds [{want}]",
            )

    def _check_shapes(self, op_, comps, batch: int | None) -> None:
        if not self.shapes:
            return
        for i, (c, s) in enumerate(zip(comps, self.shapes)):
            want = s if batch is None else TensorShape([batch]).concatenate(s)
            if not want.is_compatible_with(c.shape):
                raise fail(
                    errors.InvalidArgumentError,
                    op_,
                    f"Shape mismatch in tuple component {i}. Expected {fmt_shape(want)}, got "
                    f"{fmt_shape(c.shape)}",
                )

    def _closed_error(self, op_):
        if self._session_closed:
            return fail(errors.CancelledError, op_, "Session has been closed.")
        return fail(errors.CancelledError, op_, f"{self.kind} '{self.name}' is closed.")

    def _insufficient(self, op_, n: int):
        return fail(
            errors.OutOfRangeError,
            op_,
            f"{self.kind} '{self.name}' is closed and has insufficient elements (requested {n}, "
            f"current size {len(self._items)})",
        )

    # --- enqueue ------------------------------------------------------------------------------
    def enqueue(self, op_, comps: list[np.ndarray]) -> None:
        self._check_shapes(op_, comps, None)
        self._put_all(op_, [tuple(copy_value(c) for c in comps)])

    def enqueue_many(self, op_, comps: list[np.ndarray]) -> None:
        for i, c in enumerate(comps):
            if c.ndim == 0:
                raise fail(
                    errors.InvalidArgumentError,
                    op_,
                    f"EnqueueMany: component {i} is a scalar; each component needs a first (batch) dimension",
                )
        n = comps[0].shape[0]
        for i, c in enumerate(comps[1:], 1):
            if c.shape[0] != n:
                raise fail(
                    errors.InvalidArgumentError,
                    op_,
                    f"Shape mismatch in tuple component {i}. Expected {fmt_shape((n, *c.shape[1:]))}, "
                    f"got {fmt_shape(c.shape)}",
                )
        self._check_shapes(op_, comps, n)
        self._put_all(op_, [tuple(copy_value(c[k, ...]) for c in comps) for k in range(n)])

    def _put_all(self, op_, elements: list[tuple]) -> None:
        """Insert the elements one by one as room appears (as TensorFlow does); a closed
        queue takes none, a cancelled wait raises CancelledError."""
        with self._cond:
            if self._closed or self._session_closed:
                raise self._closed_error(op_)
            for el in elements:
                while self.capacity is not None and len(self._items) >= self.capacity:
                    if self._cancelled or self._session_closed:
                        raise self._closed_error(op_)
                    self._cond.wait()
                if self._cancelled or self._session_closed:
                    raise self._closed_error(op_)
                self._items.append(el)
                self._cond.notify_all()

    # --- dequeue ------------------------------------------------------------------------------
    def _ready(self, n: int) -> bool:
        """Whether n elements may be taken now (before the queue is closed)."""
        return len(self._items) >= n

    def _take(self, n: int) -> list[tuple]:
        return [self._items.popleft() for _ in range(n)]

    def dequeue(self, op_, n: int | None, up_to: bool = False) -> list[np.ndarray]:
        """One element (n None) or a batch of n stacked along a new first dim; up_to: fewer
        when the queue is closed with fewer than n left."""
        want = 1 if n is None else n
        if n is not None and not self.shapes:
            raise fail(
                errors.InvalidArgumentError,
                op_,
                f"{self.kind}'s DequeueMany and DequeueUpTo require the components to have specified shapes.",
            )
        if want < 0:
            raise fail(errors.InvalidArgumentError, op_, f"{op_.type} requested {want} < 0 elements")
        with self._cond:
            while True:
                if self._session_closed:
                    raise self._closed_error(op_)
                if self._ready(want):
                    elements = self._take(want)
                    break
                if self._closed:
                    if len(self._items) >= want:
                        elements = self._take(want)
                        break
                    if up_to and self._items:
                        elements = self._take(len(self._items))
                        break
                    raise self._insufficient(op_, want)
                self._cond.wait()
            self._cond.notify_all()
        if n is None:
            return list(elements[0])
        return [self._stack(i, [e[i] for e in elements]) for i in range(len(self.dtypes))]

    def _stack(self, i: int, items: list[np.ndarray]) -> np.ndarray:
        if not items:
            return empty([0, *self.shapes[i].as_list()], self.dtypes[i])
        return np.stack(items)

    # --- state --------------------------------------------------------------------------------
    def close(self, cancel_pending_enqueues: bool) -> None:
        with self._cond:
            self._closed = True
            self._cancelled = self._cancelled or cancel_pending_enqueues
            self._cond.notify_all()

    def close_session(self) -> None:
        """The session closed: every waiting enqueue and dequeue fails with CancelledError."""
        with self._cond:
            self._session_closed = True
            self._cond.notify_all()

    def size(self) -> int:
        with self._cond:
            return len(self._items)

    def is_closed(self) -> bool:
        with self._cond:
            return self._closed


class PaddingQueueState(QueueState):
    """A FIFO queue whose shapes may have unknown dims: a batch is padded to its largest
    element with zeros (empty strings)."""

    kind = "PaddingFIFOQueue"

    def _stack(self, i: int, items: list[np.ndarray]) -> np.ndarray:
        s = self.shapes[i].as_list()
        if not items:
            return empty([0] + [d or 0 for d in s], self.dtypes[i])
        dims = [max(x.shape[k] for x in items) if s[k] is None else s[k] for k in range(len(s))]
        out = empty([len(items), *dims], self.dtypes[i])
        for j, x in enumerate(items):
            out[(j, *[slice(0, n) for n in x.shape])] = x
        return out


class ShuffleQueueState(QueueState):
    """A queue that hands out a random element of those it holds, keeping at least
    min_after_dequeue until it is closed (so that what it gives is well mixed)."""

    kind = "RandomShuffleQueue"

    def __init__(self, hop: fops.Operation):
        super().__init__(hop)
        self._items = []  # type: ignore[assignment]
        self.min_after_dequeue = int(hop.get_attr("min_after_dequeue"))
        seed, seed2 = int(hop.get_attr("seed")), int(hop.get_attr("seed2"))
        self._rng = np.random.default_rng([seed, seed2] if (seed or seed2) else None)

    def _ready(self, n: int) -> bool:
        return len(self._items) >= n + self.min_after_dequeue

    def _take(self, n: int) -> list[tuple]:
        out = []
        items = self._items
        for _ in range(n):
            k = int(self._rng.integers(len(items)))
            items[k], items[-1] = items[-1], items[k]
            out.append(items.pop())
        return out


def _queue_attrs(extra=()):
    return [
        Attr("component_types", "list(type)"),
        Attr("shapes", "list(shape)", []),
        Attr("capacity", "int", -1),
        *extra,
    ]


# ---------------------------------------------------------------------------
# op declarations
# ---------------------------------------------------------------------------
def _scenario_fifo(sf) -> None:
    g = sf.Graph()
    with g.as_default(), sf.Session() as sess:
        q = sf.FIFOQueue(10, [sf.int32, sf.string], shapes=[[2], []])
        rows = [([i, -i], f"r{i}".encode()) for i in range(5)]
        sess.run(q.enqueue_many(([r[0] for r in rows], [r[1] for r in rows])))
        assert sess.run(q.size()) == 5
        got = [sess.run(q.dequeue()) for _ in range(2)]
        a, b = sess.run(q.dequeue_many(2))
        sess.run(q.close())
        assert bool(sess.run(q.is_closed()))
        c, d = sess.run(q.dequeue_up_to(4))
    flat = [(list(x[0]), x[1]) for x in got] + [(list(x), y) for x, y in zip(a, b)]
    flat += [(list(x), y) for x, y in zip(c, d)]
    assert flat == [(list(r[0]), r[1]) for r in rows], flat


def _scenario_padding(sf) -> None:
    g = sf.Graph()
    with g.as_default(), sf.Session() as sess:
        q = sf.PaddingFIFOQueue(4, [sf.int64], shapes=[[None]])
        x = sf.placeholder(sf.int64, [None])
        enq = q.enqueue([x])
        for v in ([1, 2, 3], [4], np.zeros(0, np.int64)):
            sess.run(enq, {x: v})
        got = sess.run(q.dequeue_many(3))
    np.testing.assert_array_equal(got, [[1, 2, 3], [4, 0, 0], [0, 0, 0]])


def _scenario_shuffle(sf) -> None:
    g = sf.Graph()
    with g.as_default(), sf.Session() as sess:
        q = sf.RandomShuffleQueue(20, 5, [sf.int32], shapes=[[]], seed=7)
        sess.run(q.enqueue_many([np.arange(20, dtype=np.int32)]))
        first = sess.run(q.dequeue_many(15))
        sess.run(q.close())
        rest = sess.run(q.dequeue_up_to(10))
    got = np.concatenate([first, rest])
    assert sorted(got.tolist()) == list(range(20))  # nothing lost or repeated
    assert got.tolist() != list(range(20))  # and mixed


declare_handle(
    "FIFOQueueV2",
    _queue_attrs(),
    lambda hop, store: QueueState(hop),
    "A queue that hands out its elements in first-in first-out order.",
    _scenario_fifo,
)
declare_handle(
    "PaddingFIFOQueueV2",
    _queue_attrs(),
    lambda hop, store: PaddingQueueState(hop),
    "A FIFO queue whose dequeue_many pads elements of unknown dims to the largest of the batch.",
    _scenario_padding,
)
declare_handle(
    "RandomShuffleQueueV2",
    _queue_attrs([Attr("min_after_dequeue", "int", 0), Attr("seed", "int", 0), Attr("seed2", "int", 0)]),
    lambda hop, store: ShuffleQueueState(hop),
    "A queue that hands out its elements in random order.",
    _scenario_shuffle,
)


def _queue(store, op_, handle) -> QueueState:
    return store.get(handle, op_, QueueState)


def _enqueue_fn(many: bool):
    def run(op_, store, ins, outs):
        q = _queue(store, op_, ins[0])
        q._check_types(op_, op_.get_attr("Tcomponents"))
        comps = [np.asarray(x) for x in ins[1:]]
        (q.enqueue_many if many else q.enqueue)(op_, comps)

    return run


for _name, _many, _doc in (
    ("QueueEnqueueV2", False, "Puts one element (a tuple of tensors) in the queue; waits while it is full."),
    (
        "QueueEnqueueManyV2",
        True,
        "Puts the slices along the first dimension in the queue, one by one as room appears.",
    ),
):
    op(
        name=_name,
        inputs=[HANDLE, Arg("components", type_list_attr="Tcomponents")],
        outputs=[],
        attrs=[Attr("Tcomponents", "list(type)"), Attr("timeout_ms", "int", -1)],
        shape_fn=lambda c: [],
        ref=session_state_ref,
        lower=host_lowering(_enqueue_fn(_many)),
        strings_lowered=True,
        stateful=True,
        differentiable=False,
        cases=lambda rng: [Case((), grad=False, scenario=_scenario_fifo)],
        doc=_doc,
    )


def _dequeue_source(kind: str):
    def source(op_, store, values):
        q = _queue(store, op_, values[0])
        q._check_types(op_, op_.get_attr("component_types"))
        if kind == "one":
            return q.dequeue(op_, None)
        return q.dequeue(op_, int(values[1]), up_to=kind == "up_to")

    return source


def _unknown_components(c):
    return [unknown_shape() for _ in c.attrs["component_types"]]


for _name, _kind, _doc in (
    ("QueueDequeueV2", "one", "Takes one element from the queue; waits while it is empty."),
    ("QueueDequeueManyV2", "many", "Takes n elements, stacked along a new first dimension; waits for n."),
    (
        "QueueDequeueUpToV2",
        "up_to",
        "As QueueDequeueManyV2, but a closed queue with fewer than n left gives what it has.",
    ),
):
    op(
        name=_name,
        inputs=[HANDLE] + ([] if _kind == "one" else [Arg("n", dtype=D.int32, host=True)]),
        outputs=[Arg("components", type_list_attr="component_types")],
        attrs=[Attr("component_types", "list(type)"), Attr("timeout_ms", "int", -1)],
        shape_fn=_unknown_components,
        ref=session_state_ref,
        source=_dequeue_source(_kind),
        stateful=True,
        differentiable=False,
        cases=lambda rng: [Case((), grad=False, scenario=_scenario_fifo)],
        doc=_doc,
    )


def _close_fn(op_, store, ins, outs):
    _queue(store, op_, ins[0]).close(op_.get_attr("cancel_pending_enqueues"))


def _size_fn(op_, store, ins, outs):
    outs[0][...] = _queue(store, op_, ins[0]).size()


def _is_closed_fn(op_, store, ins, outs):
    outs[0][...] = _queue(store, op_, ins[0]).is_closed()


for _name, _fn, _out, _attrs, _doc in (
    (
        "QueueCloseV2",
        _close_fn,
        None,
        [Attr("cancel_pending_enqueues", "bool", False)],
        "Closes the queue: no more enqueues; dequeues drain it, then raise OutOfRangeError.",
    ),
    ("QueueSizeV2", _size_fn, D.int32, [], "The number of elements in the queue."),
    ("QueueIsClosedV2", _is_closed_fn, D.bool_, [], "Whether the queue is closed."),
):
    op(
        name=_name,
        inputs=[HANDLE],
        outputs=[] if _out is None else [Arg("output", dtype=_out)],
        attrs=_attrs,
        shape_fn=(lambda c: []) if _out is None else scalar_shape,
        ref=session_state_ref,
        lower=host_lowering(_fn),
        strings_lowered=True,
        stateful=True,
        differentiable=False,
        cases=lambda rng: [Case((), grad=False, scenario=_scenario_fifo)],
        doc=_doc,
    )


# ---------------------------------------------------------------------------
# the Python classes (TF1's tf.FIFOQueue, ...)
# ---------------------------------------------------------------------------
def _as_shapes(shapes, n: int, unknown_dim_allowed: bool) -> list[TensorShape]:
    """TF's reading of a queue's `shapes`: None, one shape, or one shape per component."""
    if unknown_dim_allowed and (
        not isinstance(shapes, (list, tuple))
        or not shapes
        or any(s is None or isinstance(s, int) for s in shapes)
    ):
        raise ValueError("When providing partial shapes, a list of shapes must be provided.")
    if shapes is None:
        return []
    if isinstance(shapes, TensorShape):
        shapes = [shapes]
    if not isinstance(shapes, (list, tuple)):
        raise TypeError(
            f"Shapes must be a TensorShape or a list or tuple of TensorShapes, got {type(shapes)}"
        )
    if all(s is None or isinstance(s, int) for s in shapes):  # one shape
        shapes = [shapes]
    out = [as_shape(s) for s in shapes]
    if not unknown_dim_allowed and any(not s.is_fully_defined() for s in out):
        raise ValueError(f"All shapes must be fully defined: {[str(s) for s in out]}")
    if any(s.ndims is None for s in out):
        raise ValueError(f"All shapes must have a defined rank: {[str(s) for s in out]}")
    if len(out) != n:
        raise ValueError("Queue shapes must have the same length as dtypes")
    return out


class QueueBase:
    """Base class of the queues: enqueue, dequeue, close and size ops on one queue handle."""

    def __init__(self, dtypes_, shapes, names, queue_ref):
        self._dtypes = dtypes_
        self._shapes = shapes if shapes else [unknown_shape() for _ in dtypes_]
        self._names = names
        self._queue_ref = queue_ref
        self._name = queue_ref.op.name.split("/")[-1]

    @property
    def queue_ref(self) -> fops.Tensor:
        return self._queue_ref

    @property
    def name(self) -> str:
        return self._queue_ref.op.name

    @property
    def dtypes(self) -> list:
        return list(self._dtypes)

    @property
    def shapes(self) -> list:
        return list(self._shapes)

    @property
    def names(self):
        return self._names

    # --- enqueue ------------------------------------------------------------------------------
    def _flat(self, vals, what: str) -> list:
        if isinstance(vals, dict):
            if self._names is None:
                raise ValueError("Queue must have names to enqueue a dictionary")
            if sorted(self._names) != sorted(vals.keys()):
                raise ValueError(
                    f"Keys in dictionary to enqueue do not match names of Queue.  Dictionary: "
                    f"{sorted(vals.keys())}, Queue: {sorted(self._names)}"
                )
            vals = [vals[k] for k in self._names]
        elif self._names is not None:
            raise ValueError("You must enqueue a dictionary in a Queue with names")
        if not isinstance(vals, (list, tuple)):
            vals = [vals]
        if len(vals) != len(self._dtypes):
            raise ValueError(
                f"{what}: the queue holds {len(self._dtypes)} components, got {len(vals)} values"
            )
        return list(vals)

    def _convert(self, vals, scope: str) -> list[fops.Tensor]:
        out = []
        with fops.name_scope(scope.rstrip("/") + "/"):
            for i, (v, dt) in enumerate(zip(vals, self._dtypes)):
                out.append(fops.convert_to_tensor(v, dtype=dt, name=f"component_{i}"))
        return out

    def enqueue(self, vals, name=None) -> fops.Operation:
        """An op that puts one element (one tensor per component) in the queue."""
        vals = self._flat(vals, "enqueue")
        with fops.name_scope(name, f"{self._name}_enqueue") as scope:
            ts = self._convert(vals, scope)
            for t, s in zip(ts, self._shapes):
                if not t.shape.is_compatible_with(s):
                    raise ValueError(f"Shapes {t.shape} and {s} are incompatible")
            return builder.apply_op(
                "QueueEnqueueV2", [self._queue_ref, ts], None, name=scope[:-1], exact_name=True
            )

    def enqueue_many(self, vals, name=None) -> fops.Operation:
        """An op that puts each slice along the first dimension in the queue."""
        vals = self._flat(vals, "enqueue_many")
        with fops.name_scope(name, f"{self._name}_EnqueueMany") as scope:
            ts = self._convert(vals, scope)
            batch = TensorShape([None])
            for t, s in zip(ts, self._shapes):
                if t.shape.ndims == 0:
                    raise ValueError(f"Shape {t.shape} must have rank at least 1")
                if t.shape.ndims is not None:
                    if not t.shape[1:].is_compatible_with(s):
                        raise ValueError(f"Shapes {t.shape[1:]} and {s} are incompatible")
                    batch = batch.merge_with(t.shape[:1])
            return builder.apply_op(
                "QueueEnqueueManyV2", [self._queue_ref, ts], None, name=scope[:-1], exact_name=True
            )

    # --- dequeue ------------------------------------------------------------------------------
    def _pack(self, op_: fops.Operation, lead: list | None):
        outs = list(op_.outputs)
        for t, s in zip(outs, self._shapes):
            t.set_shape(s if lead is None else TensorShape(lead).concatenate(s))
        if self._names is not None:
            return dict(zip(self._names, outs))
        return outs[0] if len(outs) == 1 else outs

    def dequeue(self, name=None):
        """One element: a tensor, a list of them, or a dict when the queue has names."""
        o = builder.apply_op(
            "QueueDequeueV2",
            [self._queue_ref],
            {"component_types": self._dtypes},
            name or f"{self._name}_Dequeue",
        )
        return self._pack(o, None)

    def _dequeue_n(self, op_type, n, name, default):
        with fops.name_scope(name, default) as scope:
            n_t = fops.convert_to_tensor(n, dtype=D.int32, name="n")
            o = builder.apply_op(
                op_type,
                [self._queue_ref, n_t],
                {"component_types": self._dtypes},
                name=scope[:-1],
                exact_name=True,
            )
        return o, n_t

    def dequeue_many(self, n, name=None):
        """n elements, each component stacked along a new first dimension of size n."""
        o, n_t = self._dequeue_n("QueueDequeueManyV2", n, name, f"{self._name}_DequeueMany")
        v = builder.constant_value(n_t)
        return self._pack(o, [None if v is None else int(v)])

    def dequeue_up_to(self, n, name=None):
        """As dequeue_many, but a closed queue with fewer than n left gives what remains."""
        o, _ = self._dequeue_n("QueueDequeueUpToV2", n, name, f"{self._name}_DequeueUpTo")
        return self._pack(o, [None])

    # --- state --------------------------------------------------------------------------------
    def close(self, cancel_pending_enqueues: bool = False, name=None) -> fops.Operation:
        """An op that closes the queue (and, if asked, cancels the enqueues waiting on it)."""
        return builder.apply_op(
            "QueueCloseV2",
            [self._queue_ref],
            {"cancel_pending_enqueues": bool(cancel_pending_enqueues)},
            name or f"{self._name}_Close",
        )

    def is_closed(self, name=None) -> fops.Tensor:
        return builder.apply_op(
            "QueueIsClosedV2", [self._queue_ref], None, name or f"{self._name}_IsClosed"
        ).outputs[0]

    def size(self, name=None) -> fops.Tensor:
        """The number of elements in the queue when the op runs."""
        return builder.apply_op("QueueSizeV2", [self._queue_ref], None, name or f"{self._name}_Size").outputs[
            0
        ]


def _dtype_list(dtypes_, names):
    if isinstance(dtypes_, dict):
        raise TypeError("dtypes must be a list (give the component names in `names`)")
    if not isinstance(dtypes_, (list, tuple)):
        dtypes_ = [dtypes_]
    dts = [D.as_dtype(t) for t in dtypes_]
    if names is not None:
        names = [names] if isinstance(names, str) else list(names)
        if len(names) != len(dts):
            raise ValueError("Queue names must have the same length as dtypes")
    return dts, names


def _handle(op_type, attrs, name):
    """The queue's handle op, named `name` (in the current scope; a name ending in '/' is a
    full name, as TF1's wrappers pass their scope) or, for None, after its type."""
    if name is not None and name.endswith("/"):
        return builder.apply_op(op_type, [], attrs, name=name[:-1], exact_name=True).outputs[0]
    return builder.apply_op(op_type, [], attrs, name or op_type).outputs[0]


class FIFOQueue(QueueBase):
    """A queue that dequeues elements in first-in first-out order (TF1's tf.FIFOQueue)."""

    def __init__(self, capacity, dtypes, shapes=None, names=None, shared_name=None, name="fifo_queue"):
        dts, names = _dtype_list(dtypes, names)
        shp = _as_shapes(shapes, len(dts), unknown_dim_allowed=False)
        ref = _handle(
            "FIFOQueueV2",
            {
                "component_types": dts,
                "shapes": shp,
                "capacity": int(capacity),
                "shared_name": shared_name or "",
            },
            name,
        )
        super().__init__(dts, shp, names, ref)


class PaddingFIFOQueue(QueueBase):
    """A FIFO queue whose dequeue_many pads the components of unknown dims with zeros."""

    def __init__(self, capacity, dtypes, shapes, names=None, shared_name=None, name="padding_fifo_queue"):
        dts, names = _dtype_list(dtypes, names)
        shp = _as_shapes(shapes, len(dts), unknown_dim_allowed=True)
        ref = _handle(
            "PaddingFIFOQueueV2",
            {
                "component_types": dts,
                "shapes": shp,
                "capacity": int(capacity),
                "shared_name": shared_name or "",
            },
            name,
        )
        super().__init__(dts, shp, names, ref)


class RandomShuffleQueue(QueueBase):
    """A queue that dequeues its elements in random order, holding at least
    min_after_dequeue of them until it is closed (TF1's tf.RandomShuffleQueue)."""

    def __init__(
        self,
        capacity,
        min_after_dequeue,
        dtypes,
        shapes=None,
        names=None,
        seed=None,
        shared_name=None,
        name="random_shuffle_queue",
    ):
        from staticflow.ops.random_ops import get_seed

        dts, names = _dtype_list(dtypes, names)
        shp = _as_shapes(shapes, len(dts), unknown_dim_allowed=False)
        seed1, seed2 = get_seed(seed)
        ref = _handle(
            "RandomShuffleQueueV2",
            {
                "component_types": dts,
                "shapes": shp,
                "capacity": int(capacity),
                "min_after_dequeue": int(min_after_dequeue),
                "seed": int(seed1),
                "seed2": int(seed2),
                "shared_name": shared_name or "",
            },
            name,
        )
        super().__init__(dts, shp, names, ref)
