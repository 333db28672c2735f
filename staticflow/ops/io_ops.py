"""Readers (TF1's TextLineReader, TFRecordReader, WholeFileReader, IdentityReader)
and file ops (ReadFile, WriteFile, MatchingFiles).

A reader is session state: the file (work unit) it is in and how far. Its
`read(queue)` takes the next record, and when a file is used up dequeues the
next file name from `queue`; a closed, empty queue ends it with
OutOfRangeError. Reads are sources (runtime/sources.py): they run before the
run is planned, so that waiting for a file name holds no lock.
"""

from __future__ import annotations

import glob
import os
import threading

import numpy as np

from staticflow.framework import dtypes, errors
from staticflow.framework import ops as fops
from staticflow.framework.tensor_shape import TensorShape
from staticflow.ops import builder
from staticflow.ops.queue_ops import QueueState
from staticflow.ops.registry import Arg, Attr, Case, op
from staticflow.ops.resource_util import (
    declare_handle,
    fail,
    host_lowering,
    scalar_shape,
    session_state_ref,
)
from staticflow.util import tfrecord

D = dtypes
S = D.string


def _open(op_, path: str):
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise fail(errors.NotFoundError, op_, f"{path}; No such file or directory") from None
    except IsADirectoryError:
        raise fail(errors.FailedPreconditionError, op_, f"{path}; Is a directory") from None
    except OSError as e:
        raise fail(errors.UnknownError, op_, f"{path}; {e.strerror}") from None


class ReaderState:
    """A reader's place in its work: the current file and its remaining records."""

    kind = "Reader"

    def __init__(self, hop: fops.Operation):
        self.name = hop.name
        self._lock = threading.Lock()
        self._records = None  # iterator of (key, value) in the current work unit
        self.produced = 0
        self.completed = 0

    def records(self, op_, work: bytes):
        """(key, value) pairs of one work unit (a file name)."""
        raise NotImplementedError

    def read(self, op_, store, queue_handle, n: int | None):
        """The next record (n None) or up to n records; a work unit is taken from the
        queue when the current one is used up."""
        want = 1 if n is None else n
        if want < 0:
            raise fail(errors.InvalidArgumentError, op_, f"num_records ({want}) must be >= 0")
        keys, values = [], []
        with self._lock:
            while len(keys) < want:
                if self._records is None:
                    q = store.get(queue_handle, op_, QueueState)
                    try:
                        work = q.dequeue(op_, None)[0]
                    except errors.OutOfRangeError:
                        if keys and n is not None:  # read_up_to gives what it has
                            break
                        raise
                    work = work[()] if isinstance(work, np.ndarray) else work
                    self._records = iter(self.records(op_, work))
                try:
                    key, value = next(self._records)
                except StopIteration:
                    self._records = None
                    self.completed += 1
                    continue
                except errors.OpError as e:  # the file is bad: name the reading op
                    self._records = None
                    raise type(e)(None, op_, e.message + _where(op_)) from None
                keys.append(key)
                values.append(value)
                self.produced += 1
        if n is None:
            return [np.array(keys[0], dtype=object), np.array(values[0], dtype=object)]
        k = np.empty(len(keys), dtype=object)
        v = np.empty(len(values), dtype=object)
        k[:], v[:] = keys, values
        return [k, v]

    def reset(self) -> None:
        with self._lock:
            self._records = None
            self.produced = 0
            self.completed = 0


def _where(op_):
    return f"\n\t [[node {op_.name} ({op_.type}) defined at {fops.format_location(op_.location)}]]"


class TextLineReaderState(ReaderState):
    """Lines of text files; the key is 'file:line' (line numbers from 1, counting skipped header lines)."""

    kind = "TextLineReader"

    def __init__(self, hop):
        super().__init__(hop)
        self.skip = int(hop.get_attr("skip_header_lines"))

    def records(self, op_, work: bytes):
        with _open(op_, os.fsdecode(work)) as f:
            for i, line in enumerate(f, 1):
                if i <= self.skip:
                    continue
                if line.endswith(b"\n"):
                    line = line[:-1]
                    if line.endswith(b"\r"):
                        line = line[:-1]
                yield work + b":" + str(i).encode(), line


class TFRecordReaderState(ReaderState):
    """Records of TFRecord files; the key is 'file:offset'."""

    kind = "TFRecordReader"

    def __init__(self, hop):
        super().__init__(hop)
        self.compression = hop.get_attr("compression_type")

    def records(self, op_, work: bytes):
        for pos, data in tfrecord.read_records(work, self.compression):
            yield work + b":" + str(pos).encode(), data


class WholeFileReaderState(ReaderState):
    """Each file whole: the key is its name, the value its contents."""

    kind = "WholeFileReader"

    def records(self, op_, work: bytes):
        with _open(op_, os.fsdecode(work)) as f:
            data = f.read()
        yield work, data


class IdentityReaderState(ReaderState):
    """Each work unit as its own record: key and value are the string dequeued."""

    kind = "IdentityReader"

    def records(self, op_, work: bytes):
        yield work, work


# ---------------------------------------------------------------------------
# declarations
# ---------------------------------------------------------------------------
def _scenario_text_lines(sf) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        paths = []
        for k, body in enumerate([b"head\na,1\r\nb,2\n", b"head\nc,3"]):
            paths.append(os.path.join(d, f"f{k}.csv"))
            with open(paths[-1], "wb") as f:
                f.write(body)
        g = sf.Graph()
        with g.as_default(), sf.Session() as sess:
            q = sf.FIFOQueue(4, [sf.string], shapes=[[]])
            sess.run(q.enqueue_many([paths]))
            sess.run(q.close())
            reader = sf.TextLineReader(skip_header_lines=1)
            key, value = reader.read(q)
            got = []
            while True:
                try:
                    got.append(tuple(sess.run([key, value])))
                except sf.errors.OutOfRangeError:
                    break
            produced, done = sess.run([reader.num_records_produced(), reader.num_work_units_completed()])
    p0, p1 = (p.encode() for p in paths)
    assert got == [(p0 + b":2", b"a,1"), (p0 + b":3", b"b,2"), (p1 + b":2", b"c,3")], got
    assert (produced, done) == (3, 2)


def _scenario_tfrecord(sf) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "r.tfrecord")
        records = [b"alpha", b"", b"x" * 40]
        with sf.python_io.TFRecordWriter(path) as w:
            for r in records:
                w.write(r)
        g = sf.Graph()
        with g.as_default(), sf.Session() as sess:
            q = sf.FIFOQueue(4, [sf.string], shapes=[[]])
            sess.run(q.enqueue_many([[path, path]]))
            sess.run(q.close())
            keys, values = sf.TFRecordReader().read_up_to(q, 4)
            k1, v1 = sess.run([keys, values])
            k2, v2 = sess.run([keys, values])
    assert list(v1) + list(v2) == records * 2
    offsets = [0, 12 + 5 + 4, 2 * 12 + 5 + 2 * 4]
    assert list(k1[:3]) == [f"{path}:{o}".encode() for o in offsets]


def _scenario_whole_file(sf) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "w.bin")
        with open(path, "wb") as f:
            f.write(b"\x00\x01two\nlines")
        g = sf.Graph()
        with g.as_default(), sf.Session() as sess:
            q = sf.FIFOQueue(2, [sf.string], shapes=[[]])
            sess.run(q.enqueue([path]))
            reader = sf.WholeFileReader()
            key, value = reader.read(q)
            got = sess.run([key, value])
            sess.run(reader.reset())
            n = sess.run(reader.num_records_produced())
            ident = sf.IdentityReader()
            sess.run(q.enqueue(["work"]))
            got2 = sess.run(list(ident.read(q)))
            contents = sess.run(sf.read_file(path))
    assert got == [path.encode(), b"\x00\x01two\nlines"] and n == 0
    assert got2 == [b"work", b"work"] and contents == b"\x00\x01two\nlines"


declare_handle(
    "TextLineReaderV2",
    [Attr("skip_header_lines", "int", 0)],
    lambda hop, store: TextLineReaderState(hop),
    "A reader of the lines of text files.",
    _scenario_text_lines,
)
declare_handle(
    "TFRecordReaderV2",
    [Attr("compression_type", "string", "")],
    lambda hop, store: TFRecordReaderState(hop),
    "A reader of the records of TFRecord files.",
    _scenario_tfrecord,
)
declare_handle(
    "WholeFileReaderV2",
    [],
    lambda hop, store: WholeFileReaderState(hop),
    "A reader that gives each file whole.",
    _scenario_whole_file,
)
declare_handle(
    "IdentityReaderV2",
    [],
    lambda hop, store: IdentityReaderState(hop),
    "A reader that gives each work unit as its key and value.",
    _scenario_whole_file,
)


def _reader(store, op_, handle) -> ReaderState:
    return store.get(handle, op_, ReaderState)


def _read_source(up_to: bool):
    def source(op_, store, values):
        n = int(values[2]) if up_to else None
        return _reader(store, op_, values[0]).read(op_, store, values[1], n)

    return source


op(
    name="ReaderReadV2",
    inputs=[Arg("reader_handle", dtype=S), Arg("queue_handle", dtype=S)],
    outputs=[Arg("key", dtype=S), Arg("value", dtype=S)],
    shape_fn=lambda c: [TensorShape([]), TensorShape([])],
    ref=session_state_ref,
    source=_read_source(False),
    stateful=True,
    differentiable=False,
    cases=lambda rng: [Case((), grad=False, scenario=_scenario_text_lines)],
    doc="The reader's next record (key, value); takes a file name from the queue when it needs one.",
)
op(
    name="ReaderReadUpToV2",
    inputs=[
        Arg("reader_handle", dtype=S),
        Arg("queue_handle", dtype=S),
        Arg("num_records", dtype=D.int64, host=True),
    ],
    outputs=[Arg("keys", dtype=S), Arg("values", dtype=S)],
    shape_fn=lambda c: [TensorShape([None]), TensorShape([None])],
    ref=session_state_ref,
    source=_read_source(True),
    stateful=True,
    differentiable=False,
    cases=lambda rng: [Case((), grad=False, scenario=_scenario_tfrecord)],
    doc="Up to num_records records; fewer only when the queue of file names is closed and used up.",
)


def _count_fn(field: str):
    def run(op_, store, ins, outs):
        outs[0][...] = getattr(_reader(store, op_, ins[0]), field)

    return run


def _reset_fn(op_, store, ins, outs):
    _reader(store, op_, ins[0]).reset()


for _name, _fn, _out, _doc in (
    ("ReaderNumRecordsProducedV2", _count_fn("produced"), D.int64, "The records the reader has produced."),
    ("ReaderNumWorkUnitsCompletedV2", _count_fn("completed"), D.int64, "The work units (files) it finished."),
    ("ReaderResetV2", _reset_fn, None, "Puts the reader back to its initial state."),
):
    op(
        name=_name,
        inputs=[Arg("reader_handle", dtype=S)],
        outputs=[] if _out is None else [Arg("output", dtype=_out)],
        shape_fn=(lambda c: []) if _out is None else scalar_shape,
        ref=session_state_ref,
        lower=host_lowering(_fn),
        strings_lowered=True,
        stateful=True,
        differentiable=False,
        cases=lambda rng: [Case((), grad=False, scenario=_scenario_text_lines)],
        doc=_doc,
    )


# ---------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------
def _read_file_ref(ins, a):
    path = os.fsdecode(ins[0][()])
    try:
        with open(path, "rb") as f:
            return np.array(f.read(), dtype=object)
    except FileNotFoundError:
        raise errors.NotFoundError(None, None, f"{path}; No such file or directory") from None
    except IsADirectoryError:
        raise errors.FailedPreconditionError(None, None, f"{path}; Is a directory") from None


def _write_file_ref(ins, a):
    path = os.fsdecode(ins[0][()])
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    with open(path, "wb") as f:
        f.write(ins[1][()])
    return []


def _matching_files_ref(ins, a):
    found: list[str] = []
    for p in np.asarray(ins[0]).reshape(-1):
        found.extend(sorted(glob.glob(os.fsdecode(p))))
    out = np.empty(len(found), dtype=object)
    out[:] = [os.fsencode(p) for p in found]
    return out


def _scenario_files(sf) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        g = sf.Graph()
        with g.as_default(), sf.Session() as sess:
            for name in ("b.txt", "a.txt", "c.dat"):
                sess.run(sf.write_file(os.path.join(d, name), name.upper()))
            found = sess.run(sf.matching_files(os.path.join(d, "*.txt")))
            text = sess.run(sf.read_file(os.path.join(d, "a.txt")))
    assert list(found) == [os.path.join(d, n).encode() for n in ("a.txt", "b.txt")]
    assert text == b"A.TXT"


op(
    name="ReadFile",
    inputs=[Arg("filename", dtype=S)],
    outputs=[Arg("contents", dtype=S)],
    shape_fn=scalar_shape,
    ref=_read_file_ref,
    host_kernel=True,
    foldable=False,
    stateful=True,
    differentiable=False,
    cases=lambda rng: [Case((), grad=False, scenario=_scenario_files)],
    doc="The contents of the file named by filename.",
)
op(
    name="WriteFile",
    inputs=[Arg("filename", dtype=S), Arg("contents", dtype=S)],
    outputs=[],
    shape_fn=lambda c: [],
    ref=_write_file_ref,
    host_kernel=True,
    stateful=True,
    differentiable=False,
    cases=lambda rng: [Case((), grad=False, scenario=_scenario_files)],
    doc="Writes contents to the file named by filename (creating its directory).",
)
op(
    name="MatchingFiles",
    inputs=[Arg("pattern", dtype=S)],
    outputs=[Arg("filenames", dtype=S)],
    shape_fn=lambda c: [TensorShape([None])],
    ref=_matching_files_ref,
    # its length depends on the file system: a source, evaluated before the run is planned
    source=lambda op_, store, values: [_matching_files_ref(values, op_._attrs)],
    foldable=False,
    stateful=True,
    differentiable=False,
    cases=lambda rng: [Case((), grad=False, scenario=_scenario_files)],
    doc="The sorted names of the files matching the glob pattern(s).",
)


def read_file(filename, name=None) -> fops.Tensor:
    """The contents of a file (a string scalar), read each time the op runs."""
    return builder.apply_op("ReadFile", [filename], None, name).outputs[0]


def write_file(filename, contents, name=None) -> fops.Operation:
    """An op that writes contents to the file named filename."""
    return builder.apply_op("WriteFile", [filename, contents], None, name)


def matching_files(pattern, name=None) -> fops.Tensor:
    """The sorted file names that match pattern (a glob, or a vector of them)."""
    return builder.apply_op("MatchingFiles", [pattern], None, name).outputs[0]


# ---------------------------------------------------------------------------
# the reader classes
# ---------------------------------------------------------------------------
class ReaderBase:
    """A reader of records, from the work units (file names) of a queue."""

    def __init__(self, reader_ref: fops.Tensor, supports_serialize: bool = False):
        self._reader_ref = reader_ref
        self._supports_serialize = supports_serialize

    @property
    def reader_ref(self) -> fops.Tensor:
        return self._reader_ref

    @property
    def supports_serialize(self) -> bool:
        return self._supports_serialize

    @staticmethod
    def _queue_ref(queue) -> fops.Tensor:
        return queue if isinstance(queue, fops.Tensor) else queue.queue_ref

    def read(self, queue, name=None):
        """(key, value): the next record, taking a work unit from queue when needed."""
        o = builder.apply_op("ReaderReadV2", [self._reader_ref, self._queue_ref(queue)], None, name)
        return o.outputs[0], o.outputs[1]

    def read_up_to(self, queue, num_records, name=None):
        """(keys, values): up to num_records records (fewer only at the end of the input)."""
        n = (
            fops.convert_to_tensor(num_records, dtype=D.int64)
            if not isinstance(num_records, fops.Tensor)
            else num_records
        )
        o = builder.apply_op("ReaderReadUpToV2", [self._reader_ref, self._queue_ref(queue), n], None, name)
        return o.outputs[0], o.outputs[1]

    def num_records_produced(self, name=None) -> fops.Tensor:
        return builder.apply_op("ReaderNumRecordsProducedV2", [self._reader_ref], None, name).outputs[0]

    def num_work_units_completed(self, name=None) -> fops.Tensor:
        return builder.apply_op("ReaderNumWorkUnitsCompletedV2", [self._reader_ref], None, name).outputs[0]

    def reset(self, name=None) -> fops.Operation:
        """An op that puts the reader back to its initial state."""
        return builder.apply_op("ReaderResetV2", [self._reader_ref], None, name)

    def serialize_state(self, name=None):
        raise NotImplementedError(f"{type(self).__name__} does not support serializing its state")

    def restore_state(self, state, name=None):
        raise NotImplementedError(f"{type(self).__name__} does not support restoring its state")


def _reader_handle(op_type, attrs, name):
    return builder.apply_op(op_type, [], attrs, name).outputs[0]


class TextLineReader(ReaderBase):
    """Reads the lines of files; skip_header_lines lines at the top of each file are skipped."""

    def __init__(self, skip_header_lines=None, name=None):
        super().__init__(
            _reader_handle("TextLineReaderV2", {"skip_header_lines": int(skip_header_lines or 0)}, name)
        )


class TFRecordReader(ReaderBase):
    """Reads the records of TFRecord files (options: a TFRecordOptions for compressed ones)."""

    def __init__(self, name=None, options=None):
        compression = tfrecord.compression_string(options)
        super().__init__(_reader_handle("TFRecordReaderV2", {"compression_type": compression}, name))


class WholeFileReader(ReaderBase):
    """Reads each file whole: key its name, value its contents."""

    def __init__(self, name=None):
        super().__init__(_reader_handle("WholeFileReaderV2", {}, name))


class IdentityReader(ReaderBase):
    """Gives each work unit dequeued as both key and value."""

    def __init__(self, name=None):
        super().__init__(_reader_handle("IdentityReaderV2", {}, name))
