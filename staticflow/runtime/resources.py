"""A session's resources: the queues, iterators and readers its runs share.

As in TensorFlow, a queue or an iterator is state of one session, named by a
handle: the value of its handle op (a scalar string, the op's name). The
store creates a resource on first use through the handle op's registry
declaration (`OpDef.resource`), so that ops which use it (enqueue, dequeue,
an iterator's initializer, a reader) find the same object in every run of
the session, and closing the session cancels whatever still waits on it.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np

from staticflow.framework import errors
from staticflow.framework import ops as fops
from staticflow.ops import registry


def handle_name(handle) -> str:
    """The op name a handle value holds (bytes, str, or a 0-d object array of them)."""
    if isinstance(handle, np.ndarray):
        if handle.shape != ():
            raise ValueError(f"a resource handle is a scalar string, got an array of shape {handle.shape}")
        handle = handle[()]
    if isinstance(handle, bytes):
        return handle.decode("utf-8", "replace")
    if isinstance(handle, str):
        return handle
    raise ValueError(f"a resource handle is a string, got {type(handle).__name__}")


class ResourceStore:
    """The resources of one Session, created on first use and closed with it."""

    def __init__(self, graph: fops.Graph, session=None):
        self._graph = graph
        self._session = weakref.ref(session) if session is not None else None
        self._items: dict[tuple, object] = {}
        self._lock = threading.Lock()
        self._closed = False

    @property
    def session(self):
        """The session (for the nested runs of dataset functions)."""
        s = self._session() if self._session is not None else None
        if s is None:
            raise RuntimeError("this resource store belongs to no live session")
        return s

    @property
    def closed(self) -> bool:
        return self._closed

    def handle_op(self, handle, user: fops.Operation | None = None) -> fops.Operation:
        """The handle op that a handle value names."""
        name = handle_name(handle)
        try:
            hop = self._graph.get_operation_by_name(name)
        except (KeyError, ValueError):
            raise errors.NotFoundError(
                None, user, f"Resource {name!r} does not exist: no op of that name in the session's graph"
            ) from None
        d = registry.lookup(hop.type)
        if d is None or d.resource is None:
            raise errors.InvalidArgumentError(
                None,
                user,
                f"{name!r} names a {hop.type} op, which is not a resource (queue, iterator, reader)",
            )
        return hop

    def get(self, handle, user: fops.Operation | None = None, kind: type | None = None):
        """The resource `handle` names, created by its handle op on first use. `user` is the op
        asking (for error messages); `kind` the class it must be."""
        hop = self.handle_op(handle, user)
        shared = hop._attrs.get("shared_name") or ""
        key = ("shared", hop._attrs.get("container") or "", shared) if shared else ("op", hop.name)
        with self._lock:
            if self._closed:
                raise errors.CancelledError(None, user, "Session has been closed.")
            r = self._items.get(key)
            if r is None:
                r = registry.get(hop.type).resource(hop, self)
                self._items[key] = r
        if kind is not None and not isinstance(r, kind):
            what = getattr(user, "type", "this op")
            raise errors.InvalidArgumentError(
                None, user, f"{hop.name!r} is a {type(r).__name__}, which {what} cannot use"
            )
        return r

    def close(self) -> None:
        """Close every resource: whatever waits on one (a blocked enqueue or dequeue) is
        cancelled, background threads stop."""
        with self._lock:
            self._closed = True
            items = list(self._items.values())
        for r in items:
            close = getattr(r, "close_session", None)
            if close is not None:
                close()
