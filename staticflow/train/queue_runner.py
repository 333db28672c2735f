"""QueueRunner: threads that keep a queue filled (TF1's tf.train.QueueRunner).

Each enqueue op runs in a loop on a thread of its own until the coordinator
asks to stop or the enqueue's input ends (OutOfRangeError, e.g. from an
epoch limit); the last thread to end closes the queue, so consumers drain
what remains and then get OutOfRangeError. A coordinator's stop request runs
the cancel op, which closes the queue and cancels enqueues waiting on it.
Runs on these threads do not hold the main thread back: a run locks only its
own plan, and a dequeue waits outside any lock (runtime/sources.py).
"""

from __future__ import annotations

import sys
import threading
import weakref

from staticflow.framework import errors
from staticflow.framework import ops as fops


class QueueRunner:
    """Holds the enqueue ops of a queue and the close and cancel ops that end them."""

    def __init__(
        self,
        queue=None,
        enqueue_ops=None,
        close_op=None,
        cancel_op=None,
        queue_closed_exception_types=None,
        queue_runner_def=None,
        import_scope=None,
    ):
        if queue_runner_def is not None:
            raise ValueError(
                "staticflow keeps queue runners in the graph's collection, not as QueueRunnerDef"
            )
        if not queue or not enqueue_ops:
            raise ValueError("Must provide queue and enqueue_ops.")
        self._queue = queue
        self._enqueue_ops = list(enqueue_ops)
        self._close_op = close_op if close_op is not None else queue.close()
        self._cancel_op = cancel_op if cancel_op is not None else queue.close(cancel_pending_enqueues=True)
        if queue_closed_exception_types is None:
            queue_closed_exception_types = (errors.OutOfRangeError,)
        elif not isinstance(queue_closed_exception_types, tuple) or not queue_closed_exception_types:
            raise TypeError("queue_closed_exception_types, when provided, must be a tuple of exception types")
        self._queue_closed_exception_types = queue_closed_exception_types
        self._lock = threading.Lock()
        self._runs_per_session: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._exceptions_raised: list = []

    @property
    def queue(self):
        return self._queue

    @property
    def enqueue_ops(self) -> list:
        return list(self._enqueue_ops)

    @property
    def close_op(self):
        return self._close_op

    @property
    def cancel_op(self):
        return self._cancel_op

    @property
    def queue_closed_exception_types(self) -> tuple:
        return self._queue_closed_exception_types

    @property
    def exceptions_raised(self) -> list:
        """Exceptions the threads raised (when they had no coordinator to report to)."""
        return list(self._exceptions_raised)

    @property
    def name(self) -> str:
        return self._queue.name

    def _run(self, sess, enqueue_op, coord=None) -> None:
        """One thread: run enqueue_op until a stop request or the end of its input."""
        decremented = False
        try:
            while True:
                if coord is not None and coord.should_stop():
                    break
                try:
                    sess.run(enqueue_op)
                except self._queue_closed_exception_types:
                    # the input ended (or the queue closed): the last thread closes the queue
                    with self._lock:
                        self._runs_per_session[sess] -= 1
                        decremented = True
                        if self._runs_per_session[sess] == 0:
                            try:
                                sess.run(self._close_op)
                            except Exception:  # the session or queue may be closed already
                                pass
                    return
        except Exception as e:
            if coord is not None and not _session_closed(sess, e):
                coord.request_stop(sys.exc_info())
            elif coord is None:
                with self._lock:
                    self._exceptions_raised.append(e)
                raise
        finally:
            if not decremented:
                with self._lock:
                    self._runs_per_session[sess] -= 1

    def _close_on_stop(self, sess, cancel_op, coord) -> None:
        """Wait for the coordinator's stop request, then close the queue and cancel waiting enqueues."""
        coord.wait_for_stop()
        try:
            sess.run(cancel_op)
        except Exception:  # the session may be closed already: nothing waits then
            pass

    def create_threads(self, sess, coord=None, daemon: bool = False, start: bool = False) -> list:
        """Threads that run the enqueue ops in `sess` (one per op), plus one that cancels
        them when `coord` asks to stop. With start, they are started; with coord, registered
        with it. A session whose threads still run gets no new ones."""
        with self._lock:
            if self._runs_per_session.get(sess, 0) > 0:
                return []
            self._runs_per_session[sess] = len(self._enqueue_ops)
            self._exceptions_raised = []
        threads = [
            threading.Thread(
                target=self._run,
                args=(sess, op, coord),
                name=f"QueueRunnerThread-{self.name}-{op.name}",
            )
            for op in self._enqueue_ops
        ]
        if coord is not None:
            threads.append(
                threading.Thread(
                    target=self._close_on_stop,
                    args=(sess, self._cancel_op, coord),
                    name=f"QueueRunnerThread-{self.name}-close_on_stop",
                )
            )
        for t in threads:
            if coord is not None:
                coord.register_thread(t)
            t.daemon = daemon
            if start:
                t.start()
        return threads


def _session_closed(sess, e: Exception) -> bool:
    """Whether e only says that the session was closed under the thread (not an error to report)."""
    closed = getattr(sess, "_closed", False)
    return closed and isinstance(e, (RuntimeError, errors.CancelledError))


def add_queue_runner(qr: QueueRunner, collection: str = fops.GraphKeys.QUEUE_RUNNERS) -> None:
    """Add qr to the graph collection that start_queue_runners starts."""
    fops.add_to_collection(collection, qr)


def start_queue_runners(
    sess=None, coord=None, daemon: bool = True, start: bool = True, collection=fops.GraphKeys.QUEUE_RUNNERS
) -> list:
    """Start the threads of every QueueRunner in the graph's collection; returns them."""
    from staticflow.runtime.session import get_default_session

    if sess is None:
        sess = get_default_session()
        if sess is None:
            raise ValueError(
                "Cannot start queue runners: No default session is registered. Use `with "
                "sess.as_default()` or pass an explicit session to sf.train.start_queue_runners(sess=sess)"
            )
    if not hasattr(sess, "run") or not hasattr(sess, "graph"):
        raise TypeError(f"sess must be a `sf.Session` object. Given class: {type(sess)}")
    with sess.graph.as_default():
        threads = []
        for qr in sess.graph.get_collection(collection):
            threads.extend(qr.create_threads(sess, coord=coord, daemon=daemon, start=start))
    return threads
