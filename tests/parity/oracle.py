"""The test process's side of the TensorFlow oracle: starts and talks to tf_worker.py.

`Oracle(python)` starts the worker with the parity environment's Python and
checks it answers; `run_cases` sends a batch of graph cases and returns one
result per case; `run_program` runs a program file. A worker that dies (a crash
inside TensorFlow) is restarted, and a batch it died in is retried case by case,
so that one bad case is reported as that case's error and no other is lost.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

import numpy as np

from parity import protocol

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tf_worker.py")
PYTHON_ENV = "STATICFLOW_PARITY_PYTHON"  # the parity environment's Python (make test sets it)
REQUIRED_ENV = "STATICFLOW_PARITY_REQUIRED"  # "1": a missing or broken environment fails the run
SKIP_REASON = (
    f"TensorFlow parity suite: {PYTHON_ENV} names no Python with tensorflow-cpu "
    "(`make test` creates .venv-tf from tests/parity/requirements.txt and sets it)"
)


class OracleError(RuntimeError):
    """The TensorFlow worker could not be started or stopped answering."""


class WorkerDied(OracleError):
    pass


@dataclass
class Step:
    """One `sess.run`: tensors to fetch, ops to run, feeds by tensor name."""

    fetches: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    feeds: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class GradSpec:
    """Gradients of sum_i reduce_sum(ys[i] * weights[i]) with respect to xs."""

    ys: list[str]
    weights: list[np.ndarray]
    xs: list[str]
    feeds: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class GraphCase:
    """A serialized GraphDef and what to do with it in TensorFlow."""

    graph_def: bytes
    shapes: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    grad: GradSpec | None = None


@dataclass
class StepResult:
    error: str | None
    outputs: list[np.ndarray]


@dataclass
class CaseResult:
    """TensorFlow's answer for one GraphCase. import_error is set when TF rejected the
    GraphDef (nothing else is then filled); shapes maps tensor name to (shape, dtype
    name) with shape None for an unknown rank and None for unknown dimensions."""

    import_error: str | None
    shapes: dict[str, tuple[list | None, str]]
    steps: list[StepResult]
    grad_error: str | None = None
    grads: list[np.ndarray | None] | None = None


class Oracle:
    """One TensorFlow worker process; use as a context manager or call close()."""

    def __init__(self, python: str):
        if not python or not os.path.exists(python):
            raise OracleError(f"the parity environment's Python {python!r} does not exist")
        self.python = python
        self.proc: subprocess.Popen | None = None
        self._log = tempfile.TemporaryFile(prefix="sf-tf-worker-")
        self.versions = self._start()

    # -- process -------------------------------------------------------------
    def _start(self) -> dict:
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
        self._log.seek(0)
        self._log.truncate()
        self.proc = subprocess.Popen(
            [self.python, WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            cwd=os.path.dirname(WORKER),
        )
        try:
            header, _ = self._request({"cmd": "hello"})
        except WorkerDied as e:
            raise OracleError(f"the TensorFlow worker did not start ({self.python}): {e}") from None
        return header

    def log_tail(self, n: int = 3000) -> str:
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-n:]

    def _request(self, header: dict, blobs: list[bytes] = ()) -> tuple[dict, list[bytes]]:
        try:
            protocol.write_message(self.proc.stdin, header, blobs)
            reply, out = protocol.read_message(self.proc.stdout)
        except (protocol.ProtocolError, BrokenPipeError, OSError) as e:
            code = self.proc.wait()
            raise WorkerDied(
                f"the TensorFlow worker exited with status {code} ({e}); its last output:\n{self.log_tail()}"
            ) from None
        if not reply.get("ok"):
            raise OracleError(
                f"the TensorFlow worker failed: {reply.get('error')}\n{reply.get('traceback', '')}"
            )
        return reply, out

    def restart(self) -> None:
        self._kill()
        self.versions = self._start()

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout) if self.proc else ():
            try:
                f.close()
            except OSError:
                pass

    def close(self) -> int | None:
        """Ask the worker to exit and wait for it; returns its exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self._request({"cmd": "exit"})
                self.proc.wait(timeout=60)
            except (OracleError, subprocess.TimeoutExpired):
                pass
        self._kill()
        code = self.proc.returncode
        self.proc = None
        self._log.close()
        return code

    def __enter__(self) -> Oracle:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- requests --------------------------------------------------------------
    def run_cases(self, cases: list[GraphCase]) -> list[CaseResult]:
        """TensorFlow's results for a batch of cases, one request for all of them."""
        try:
            return self._run_cases(cases)
        except WorkerDied:
            if len(cases) == 1:
                raise
        # the worker died somewhere in the batch: isolate the case that kills it
        results = []
        for case in cases:
            try:
                results.extend(self._run_cases([case]))
            except WorkerDied as e:
                self.restart()
                results.append(CaseResult(import_error=f"TensorFlow crashed: {e}", shapes={}, steps=[]))
        return results

    def _run_cases(self, cases: list[GraphCase]) -> list[CaseResult]:
        if self.proc is None or self.proc.poll() is not None:
            self.restart()
        arrays: dict[str, np.ndarray] = {}

        def key(v) -> str:
            k = f"a{len(arrays)}"
            arrays[k] = protocol.as_array(v)
            return k

        specs, blobs = [], []
        for c in cases:
            spec = {
                "graph": len(blobs),
                "shapes": list(c.shapes),
                "steps": [
                    {
                        "fetches": s.fetches,
                        "targets": s.targets,
                        "feeds": {n: key(v) for n, v in s.feeds.items()},
                    }
                    for s in c.steps
                ],
            }
            if c.grad is not None:
                spec["grad"] = {
                    "ys": c.grad.ys,
                    "weights": [key(w) for w in c.grad.weights],
                    "xs": c.grad.xs,
                    "feeds": {n: key(v) for n, v in c.grad.feeds.items()},
                }
            specs.append(spec)
            blobs.append(c.graph_def)
        blobs.append(protocol.pack_arrays(arrays))
        reply, out = self._request({"cmd": "cases", "cases": specs, "arrays": True}, blobs)
        values = protocol.unpack_arrays(out[0])
        results = []
        for r in reply["results"]:
            grad = r.get("grad")
            results.append(
                CaseResult(
                    import_error=r["import_error"],
                    shapes={n: (s["shape"], s["dtype"]) for n, s in r["shapes"].items()},
                    steps=[StepResult(s["error"], [values[k] for k in s["outputs"]]) for s in r["steps"]],
                    grad_error=grad["error"] if grad else None,
                    grads=[None if k is None else values[k] for k in grad["outputs"]] if grad else None,
                )
            )
        return results

    def run_program(self, path: str) -> tuple[dict[str, np.ndarray] | None, str | None]:
        """(outputs, None) of `program(tf)` in the file at `path`, or (None, TF's error)."""
        if self.proc is None or self.proc.poll() is not None:
            self.restart()
        try:
            reply, out = self._request({"cmd": "program", "path": os.path.abspath(path)})
        except WorkerDied as e:
            self.restart()
            return None, f"TensorFlow crashed: {e}"
        if reply["error"] is not None:
            return None, f"{reply['error']}\n{reply.get('traceback', '')}"
        return protocol.unpack_arrays(out[0]), None

    def crash_for_test(self) -> None:
        """Make the worker exit at once, as a crash inside TensorFlow would."""
        protocol.write_message(self.proc.stdin, {"cmd": "crash"})
        self.proc.wait()


def environment() -> tuple[str | None, bool]:
    """(the parity Python named by the environment, whether the suite is required)."""
    return os.environ.get(PYTHON_ENV) or None, os.environ.get(REQUIRED_ENV, "") not in ("", "0")


if __name__ == "__main__":  # a quick manual check: python -m parity.oracle PYTHON
    with Oracle(sys.argv[1]) as o:
        print(o.versions)
