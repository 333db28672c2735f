"""Iterator ops of sf.data: IteratorV2, OneShotIterator, MakeIterator, IteratorGetNext.

A dataset is a Python description (staticflow/data); its iterator is session
state (runtime/resources.py). MakeIterator, an iterator's initializer, is a
host call that takes the tensors the dataset needs (fed placeholders,
captured tensors of its functions) and starts a fresh pass over it.
IteratorGetNext is a source: Session.run takes the next element before it
plans the run, once per run however many of its outputs are fetched; the end
of the data is OutOfRangeError. A one-shot iterator starts itself on its
first get_next.
"""

from __future__ import annotations

import threading

from staticflow.framework import dtypes, errors
from staticflow.framework import ops as fops
from staticflow.framework.tensor_shape import as_shape
from staticflow.ops.registry import Arg, Attr, Case, op
from staticflow.ops.resource_util import declare_handle, fail, host_lowering, session_state_ref

D = dtypes
S = D.string
_NOT_INITIALIZED = (
    "GetNext() failed because the iterator has not been initialized. Ensure that you have run the "
    "initializer operation for this iterator before getting the next element."
)


class IteratorState:
    """An iterator of one session: the running pass over its dataset, if any."""

    def __init__(self, hop: fops.Operation, store):
        self.name = hop.name
        self.output_types = [D.as_dtype(t) for t in hop.get_attr("output_types")]
        self.output_shapes = [as_shape(s) for s in hop.get_attr("output_shapes")]
        self._store = store
        self._one_shot = getattr(hop, "_dataset", None) if hop.type == "OneShotIterator" else None
        self._one_shot_missing = hop.type == "OneShotIterator" and self._one_shot is None
        self._lock = threading.Lock()
        self._elements = None  # the running pass: an iterator of flat element lists

    def initialize(self, dataset, values: dict) -> None:
        """Start a new pass over dataset with the values of the tensors it needs."""
        with self._lock:
            self._stop()
            self._elements = dataset._start(self._store.session, values)

    def _stop(self) -> None:
        old, self._elements = self._elements, None
        close = getattr(old, "close", None)
        if close is not None:
            close()

    def get_next(self, op_) -> list:
        with self._lock:
            if self._elements is None:
                if self._one_shot is None:
                    if self._one_shot_missing:
                        raise fail(
                            errors.FailedPreconditionError,
                            op_,
                            f"the dataset of one-shot iterator '{self.name}' was defined in Python and is "
                            "not part of this graph (imported from a GraphDef?)",
                        )
                    raise fail(errors.FailedPreconditionError, op_, _NOT_INITIALIZED)
                ds = self._one_shot
                inputs = ds._inputs()
                vals = self._store.session._run_internal(inputs, [], {}) if inputs else []
                self._elements = ds._start(self._store.session, dict(zip(inputs, _arrays(vals))))
            try:
                return next(self._elements)
            except StopIteration:
                raise fail(errors.OutOfRangeError, op_, "End of sequence") from None

    def close_session(self) -> None:
        with self._lock:
            self._stop()


def _arrays(values) -> list:
    import numpy as np

    return [np.asarray(v, dtype=object) if isinstance(v, bytes) else np.asarray(v) for v in values]


def _iterator_attrs():
    return [Attr("output_types", "list(type)"), Attr("output_shapes", "list(shape)")]


def _scenario_initializable(sf) -> None:
    import numpy as np

    g = sf.Graph()
    with g.as_default(), sf.Session() as sess:
        x = sf.placeholder(sf.float32, [None, 2])
        scale = sf.placeholder(sf.float32, [])
        it = sf.data.Dataset.from_tensor_slices(x).map(lambda r: r * scale).make_initializable_iterator()
        nxt = it.get_next()
        data = np.arange(6, dtype=np.float32).reshape(3, 2)
        for factor in (2.0, -1.0):
            sess.run(it.initializer, {x: data, scale: factor})
            got = [sess.run(nxt) for _ in range(3)]
            np.testing.assert_array_equal(got, data * factor)
            try:
                sess.run(nxt)
                raise AssertionError("no OutOfRangeError at the end")
            except sf.errors.OutOfRangeError:
                pass
        handle = sess.run(it.string_handle())
        assert handle == it._iterator_resource.op.name.encode()


def _scenario_one_shot(sf) -> None:
    g = sf.Graph()
    with g.as_default(), sf.Session() as sess:
        ds = sf.data.Dataset.range(5).batch(2)
        nxt = ds.make_one_shot_iterator().get_next()
        got = []
        while True:
            try:
                got.append(sess.run(nxt).tolist())
            except sf.errors.OutOfRangeError:
                break
    assert got == [[0, 1], [2, 3], [4]], got


declare_handle(
    "IteratorV2",
    _iterator_attrs(),
    lambda hop, store: IteratorState(hop, store),
    "An iterator over the elements of a dataset, started by MakeIterator.",
    _scenario_initializable,
)
declare_handle(
    "OneShotIterator",
    _iterator_attrs(),
    lambda hop, store: IteratorState(hop, store),
    "An iterator that starts its one pass over a dataset on its first get_next.",
    _scenario_one_shot,
)


def _iterator(store, op_, handle) -> IteratorState:
    return store.get(handle, op_, IteratorState)


def _check_types(it: IteratorState, op_, types) -> None:
    types = [D.as_dtype(t) for t in types]
    if types != it.output_types:
        raise fail(
            errors.InvalidArgumentError,
            op_,
            f"{op_.type} op '{op_.name}' expects elements of types [{', '.join(t.name for t in types)}], but "
            f"iterator '{it.name}' gives [{', '.join(t.name for t in it.output_types)}]",
        )


def _make_iterator_fn(op_, store, ins, outs):
    dataset = getattr(op_, "_dataset", None)
    if dataset is None:
        raise fail(
            errors.FailedPreconditionError,
            op_,
            f"the dataset of MakeIterator '{op_.name}' was defined in Python and is not part of this graph "
            "(imported from a GraphDef?)",
        )
    it = _iterator(store, op_, ins[0])
    _check_types(it, op_, [s.dtype for s in dataset._flat_specs()])
    values = {t: v.copy() for t, v in zip(dataset._inputs(), ins[1:])}
    it.initialize(dataset, values)


op(
    name="MakeIterator",
    inputs=[Arg("iterator", dtype=S), Arg("inputs", type_list_attr="Tinputs")],
    outputs=[],
    attrs=[Attr("Tinputs", "list(type)")],
    shape_fn=lambda c: [],
    ref=session_state_ref,
    lower=host_lowering(_make_iterator_fn),
    strings_lowered=True,
    stateful=True,
    differentiable=False,
    cases=lambda rng: [Case((), grad=False, scenario=_scenario_initializable)],
    doc="Starts the iterator on its dataset, given the tensors the dataset needs.",
)


def _get_next_source(op_, store, values):
    it = _iterator(store, op_, values[0])
    _check_types(it, op_, op_.get_attr("output_types"))
    return it.get_next(op_)


op(
    name="IteratorGetNext",
    inputs=[Arg("iterator", dtype=S)],
    outputs=[Arg("components", type_list_attr="output_types")],
    attrs=_iterator_attrs(),
    shape_fn=lambda c: [as_shape(s) for s in c.attrs["output_shapes"]],
    ref=session_state_ref,
    source=_get_next_source,
    stateful=True,
    differentiable=False,
    cases=lambda rng: [
        Case((), grad=False, scenario=_scenario_one_shot),
        Case((), grad=False, scenario=_scenario_initializable),
    ],
    doc="The iterator's next element; OutOfRangeError at the end of the data.",
)

op(
    name="IteratorToStringHandle",
    inputs=[Arg("resource_handle", dtype=S)],
    outputs=[Arg("string_handle", dtype=S)],
    shape_fn=lambda c: [as_shape([])],
    ref=lambda ins, a: ins[0].copy(),
    host_kernel=True,
    differentiable=False,
    cases=lambda rng: [Case((), grad=False, scenario=_scenario_initializable)],
    doc="The iterator's handle as a string, to feed to Iterator.from_string_handle.",
)
