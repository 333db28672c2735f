"""Coordinator: stops a set of threads together (TF1's tf.train.Coordinator).

Threads loop while `should_stop()` is false; any of them (or the main
thread) calls `request_stop()`, possibly with the exception that made it
stop, and `join()` waits for all of them and re-raises that exception.
Exceptions of the clean-stop types (OutOfRangeError: the input is used up)
end the threads without being reported.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time

from staticflow.framework import errors


class Coordinator:
    """A coordinator of threads: a stop flag, the first error reported, and join."""

    def __init__(self, clean_stop_exception_types=None):
        if clean_stop_exception_types is None:
            clean_stop_exception_types = (errors.OutOfRangeError,)
        self._clean_stop_exception_types = tuple(clean_stop_exception_types)
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._exc_info_to_raise = None
        self._joined = False
        self._registered_threads: set = set()

    def _filter_exception(self, ex):
        """None for a clean-stop exception (it ends the threads without an error)."""
        ex2 = ex[1] if isinstance(ex, tuple) else ex
        return None if isinstance(ex2, self._clean_stop_exception_types) else ex

    def request_stop(self, ex=None) -> None:
        """Ask every thread to stop. `ex` (an exception or a sys.exc_info() triple) is
        re-raised by join(), unless it is a clean-stop type or an earlier one was reported."""
        with self._lock:
            ex = self._filter_exception(ex)
            if self._joined:  # nobody will join again: raise it here
                if isinstance(ex, tuple):
                    raise ex[1].with_traceback(ex[2])
                if ex is not None:
                    raise ex
            if self._stop_event.is_set():
                return
            if ex is not None and self._exc_info_to_raise is None:
                if isinstance(ex, tuple):
                    self._exc_info_to_raise = ex
                else:
                    self._exc_info_to_raise = (type(ex), ex, ex.__traceback__)
                if not (
                    len(self._exc_info_to_raise) == 3
                    and self._exc_info_to_raise[0]
                    and self._exc_info_to_raise[1]
                ):
                    err = ValueError(f"ex must be a tuple or an exception: {self._exc_info_to_raise}")
                    self._exc_info_to_raise = (ValueError, err, None)
            self._stop_event.set()

    def clear_stop(self) -> None:
        """Forget the stop request and the reported exception, so the coordinator can be reused."""
        with self._lock:
            self._joined = False
            self._exc_info_to_raise = None
            if self._stop_event.is_set():
                self._stop_event.clear()

    def should_stop(self) -> bool:
        """Whether a stop was requested."""
        return self._stop_event.is_set()

    @contextlib.contextmanager
    def stop_on_exception(self):
        """A context in which an exception requests a stop (and is reported to join())."""
        try:
            yield
        except BaseException:
            self.request_stop(ex=sys.exc_info())

    def wait_for_stop(self, timeout=None) -> bool:
        """Wait until a stop is requested (or timeout seconds pass); whether it was."""
        return self._stop_event.wait(timeout)

    def register_thread(self, thread: threading.Thread) -> None:
        """A thread that join() waits for."""
        with self._lock:
            self._registered_threads.add(thread)

    def join(self, threads=None, stop_grace_period_secs: float = 120, ignore_live_threads: bool = False):
        """Wait for the threads (and the registered ones) to end after a stop request; then
        re-raise the exception reported with it. Threads still alive `stop_grace_period_secs`
        after the request are a RuntimeError unless ignore_live_threads."""
        with self._lock:
            threads = set(self._registered_threads) | set(threads or ())
            threads = list(threads)
        while any(t.is_alive() for t in threads) and not self.wait_for_stop(1.0):
            pass
        deadline = time.monotonic() + stop_grace_period_secs
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        stragglers = [t.name for t in threads if t.is_alive()]
        with self._lock:
            self._joined = True
            self._registered_threads = set()
            if self._exc_info_to_raise:
                _, ex, tb = self._exc_info_to_raise
                raise ex.with_traceback(tb)
            if stragglers and not ignore_live_threads:
                raise RuntimeError(f"Coordinator stopped with threads still running: {' '.join(stragglers)}")

    @property
    def joined(self) -> bool:
        return self._joined

    def raise_requested_exception(self) -> None:
        """Re-raise the exception reported with the stop request, if any."""
        with self._lock:
            if self._exc_info_to_raise:
                _, ex, tb = self._exc_info_to_raise
                raise ex.with_traceback(tb)


class LooperThread(threading.Thread):
    """A thread that calls a function repeatedly (every timer_interval_secs, or back to back)
    until its coordinator asks it to stop; an exception requests a stop."""

    def __init__(self, coord: Coordinator, timer_interval_secs, target=None, args=None, kwargs=None):
        if not isinstance(coord, Coordinator):
            raise ValueError(f"'coord' argument must be a Coordinator: {coord}")
        super().__init__()
        self.daemon = True
        self._coord = coord
        self._timer_interval_secs = timer_interval_secs
        self._target = target
        self._args = args or ()
        self._kwargs = kwargs or {}
        self._coord.register_thread(self)

    @staticmethod
    def loop(coord, timer_interval_secs, target, args=None, kwargs=None) -> LooperThread:
        """Start a LooperThread that calls target(*args, **kwargs) repeatedly."""
        t = LooperThread(coord, timer_interval_secs, target=target, args=args, kwargs=kwargs)
        t.start()
        return t

    def run(self) -> None:
        with self._coord.stop_on_exception():
            self.start_loop()
            if self._timer_interval_secs is None:
                while not self._coord.should_stop():
                    self.run_loop()
            else:
                next_at = time.monotonic()
                while not self._coord.wait_for_stop(max(0.0, next_at - time.monotonic())):
                    next_at += self._timer_interval_secs
                    self.run_loop()
            self.stop_loop()

    def start_loop(self) -> None:
        """Called once when the thread starts."""

    def stop_loop(self) -> None:
        """Called once when the thread stops."""

    def run_loop(self) -> None:
        """One iteration: the target, or what a subclass does."""
        if self._target:
            self._target(*self._args, **self._kwargs)
