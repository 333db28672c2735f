"""FileWriter: Event protocol buffers into a TensorBoard event file.

The file is ``<logdir>/events.out.tfevents.<seconds>.<host><suffix>``, a
TFRecord file (`records`) of `Event` messages whose first event carries
``file_version = "brain.Event:2"``. The schema (proto/staticflow/util/
event.proto) is wire-compatible with TensorFlow's, so TensorBoard reads the
graph and the scalars written here.
"""

from __future__ import annotations

import os
import socket
import threading
import time

from staticflow.util import records

FILE_VERSION = "brain.Event:2"


def _pb():
    from staticflow.framework import summary_pb2
    from staticflow.util import event_pb2

    return event_pb2, summary_pb2


def _graph_def_of(graph=None, graph_def=None):
    """A GraphDef from a Graph, a GraphDef, or None."""
    if graph_def is not None:
        return graph_def
    if graph is None:
        return None
    if hasattr(graph, "as_graph_def"):
        return graph.as_graph_def(add_shapes=True)
    if hasattr(graph, "SerializeToString"):
        return graph
    raise TypeError(f"add_graph: expected an sf.Graph or a GraphDef, got {type(graph).__name__}")


class FileWriter:
    """Writes Event messages to an event file in `logdir` (as tf.compat.v1.summary.FileWriter).

    Events are queued and written when `max_queue` are pending, when
    `flush_secs` have passed since the last write (checked on each add), on
    `flush()` and on `close()`. Usable as a context manager.
    """

    def __init__(
        self,
        logdir: str,
        graph=None,
        max_queue: int = 10,
        flush_secs: float = 120,
        graph_def=None,
        filename_suffix: str | None = None,
        session=None,
    ):
        if session is not None and graph is None:
            graph = session.graph
        self._logdir = str(logdir)
        self._max_queue = max(1, int(max_queue))
        self._flush_secs = flush_secs
        self._suffix = filename_suffix or ""
        self._lock = threading.Lock()
        self._file = None
        self._path: str | None = None
        self._queue: list[bytes] = []
        self._last_flush = time.time()
        self._closed = False
        self._open()
        if graph is not None or graph_def is not None:
            self.add_graph(graph, graph_def=graph_def)

    # --- file ---------------------------------------------------------------------------
    def _open(self) -> None:
        event_pb2, _ = _pb()
        os.makedirs(self._logdir, exist_ok=True)
        now = time.time()
        name = f"events.out.tfevents.{int(now):010d}.{socket.gethostname()}{self._suffix}"
        path = os.path.join(self._logdir, name)
        # a second writer in the same second on the same host gets its own file
        k = 1
        while os.path.exists(path):
            path = os.path.join(self._logdir, f"{name}.{k}")
            k += 1
        self._path = path
        self._file = open(path, "wb")  # noqa: SIM115 - closed in close()
        first = event_pb2.Event(wall_time=now, file_version=FILE_VERSION)
        first.source_metadata.writer = "staticflow.summary.FileWriter"
        self._file.write(records.encode_record(first.SerializeToString()))
        self._file.flush()
        self._closed = False

    @property
    def path(self) -> str:
        """The event file being written."""
        return self._path

    def get_logdir(self) -> str:
        return self._logdir

    # --- events -------------------------------------------------------------------------
    def add_event(self, event) -> None:
        """Queue an Event message (wall_time is filled in when unset)."""
        if self._closed:
            raise RuntimeError(f"FileWriter for {self._logdir} is closed (reopen() it first)")
        if not event.wall_time:
            event.wall_time = time.time()
        data = event.SerializeToString()
        with self._lock:
            self._queue.append(data)
            due = len(self._queue) >= self._max_queue or time.time() - self._last_flush >= self._flush_secs
        if due:
            self.flush()

    def add_summary(self, summary, global_step: int | None = None) -> None:
        """Record a Summary message (or its serialized bytes) at `global_step`."""
        event_pb2, summary_pb2 = _pb()
        if isinstance(summary, bytes):
            summary = summary_pb2.Summary.FromString(summary)
        ev = event_pb2.Event(summary=summary)
        if global_step is not None:
            ev.step = int(global_step)
        self.add_event(ev)

    def add_scalar(self, tag: str, value: float, step: int | None = None) -> None:
        """Record one scalar (TensorBoard's Scalars tab) without building a summary op."""
        _, summary_pb2 = _pb()
        s = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=float(value))])
        self.add_summary(s, step)

    def add_graph(self, graph=None, global_step: int | None = None, graph_def=None) -> None:
        """Record a graph (an sf.Graph, or a GraphDef) for TensorBoard's Graphs tab."""
        event_pb2, _ = _pb()
        gd = _graph_def_of(graph, graph_def)
        if gd is None:
            raise ValueError("add_graph needs a graph or a graph_def")
        ev = event_pb2.Event(graph_def=gd.SerializeToString())
        if global_step is not None:
            ev.step = int(global_step)
        self.add_event(ev)

    def add_session_log(self, session_log, global_step: int | None = None) -> None:
        event_pb2, _ = _pb()
        ev = event_pb2.Event(session_log=session_log)
        if global_step is not None:
            ev.step = int(global_step)
        self.add_event(ev)

    # --- lifetime -----------------------------------------------------------------------
    def flush(self) -> None:
        """Write the queued events to disk."""
        with self._lock:
            if self._file is None:
                return
            for data in self._queue:
                self._file.write(records.encode_record(data))
            self._queue.clear()
            self._file.flush()
            self._last_flush = time.time()

    def close(self) -> None:
        """Flush and close the file; `reopen()` starts a new file in the same logdir."""
        if self._closed:
            return
        self.flush()
        with self._lock:
            self._file.close()
            self._file = None
            self._closed = True

    def reopen(self) -> None:
        if self._closed:
            self._open()

    def __enter__(self) -> FileWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finalizer
            pass


class FileWriterCache:
    """One FileWriter per logdir, shared (as tf.compat.v1.summary.FileWriterCache)."""

    _cache: dict[str, FileWriter] = {}
    _lock = threading.Lock()

    @staticmethod
    def get(logdir: str) -> FileWriter:
        key = os.path.abspath(str(logdir))
        with FileWriterCache._lock:
            w = FileWriterCache._cache.get(key)
            if w is None:
                w = FileWriterCache._cache[key] = FileWriter(logdir)
            return w

    @staticmethod
    def clear() -> None:
        """Close and forget every cached writer."""
        with FileWriterCache._lock:
            for w in FileWriterCache._cache.values():
                w.close()
            FileWriterCache._cache.clear()


def summary_iterator(path: str):
    """The Event messages of an event file, in order (checksums verified)."""
    event_pb2, _ = _pb()
    for data in records.read_records(path):
        yield event_pb2.Event.FromString(data)
