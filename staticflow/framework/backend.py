"""The device interface: what planning and running need from a kernel library.

A `Backend` is one device's kernels behind the uniform ABI (kernels/include/staticflow.h):
kernel lookup by name, the executor entry that walks a plan's call records, the
device's thread count and vector width (which lowering reads to size its work),
the compile-and-load of kernels generated at plan time, and the device's name.
The runtime (plans, sessions) and the lowering of ops talk to this interface,
never to a backend module by name, so that a second device is a second
implementation registered here, not a fork of the planner.

Backends register themselves when `staticflow.backends` is imported (the runtime
imports it); `for_device` picks one by a node's device string. A device whose
type no backend serves runs on the default backend, as TensorFlow's soft
placement does (every kernel is a CPU kernel today).
"""

from __future__ import annotations

import re
from typing import Any, Protocol, runtime_checkable

DEFAULT_DEVICE_TYPE = "CPU"


@runtime_checkable
class Backend(Protocol):
    """One device's kernel library behind the ABI."""

    device_type: str  # "CPU", "GPU": the device type of TensorFlow's device names
    device_name: str  # the full name traces and placement logs show
    ffi: Any  # the ABI's cffi FFI: sf_call / sf_tensor / sf_kernel records for the executor

    def kernel(self, symbol: str) -> Any:
        """The function pointer (sf_kernel) of library kernel `symbol`; KeyError names a
        missing one."""

    def kernel_table(self) -> dict[str, Any]:
        """Every kernel of the library, by name."""

    def fill_tensor(self, rec, data, dtype, shape, strides) -> None:
        """Describe a strided view (strides in elements) in an sf_tensor record."""

    def run_plan(self, fns, calls, n: int, status) -> int:
        """The executor: run calls[0..n) through fns[0..n); -1 when all succeeded, else the
        index of the first failing call (its status in status[0], its message in its msg)."""

    def run_schedule(self, fns, calls, n: int, npred, succ_start, succ, threads: int, trace, status) -> int:
        """The scheduled executor: run calls[0..n) on up to `threads` threads, each once the
        calls it depends on are done (npred[i] of them; its successors succ[succ_start[i]:
        succ_start[i + 1]]); `trace` (NULL, or 3 * n int64s) receives each call's start and end
        ns (CLOCK_MONOTONIC, perf_counter_ns's clock) and thread index. Returns as run_plan."""

    def run_while(self, cond, pred, body, limit: int, budget_ns: int, *out) -> int:
        """A while loop of two one-segment nested plans run by the executor (sf_run_while):
        `cond` and `body` are sf_segment records, `pred` the cond's boolean result; it stops
        when the cond gives false, after `limit` bodies or `budget_ns`; `out`: the cells
        receiving the bodies run, whether the cond stopped it, which segment failed and
        the status. Returns as run_plan."""

    def num_procs(self) -> int:
        """Processors of the device: the default of inter-op parallelism."""

    def num_threads(self) -> int:
        """Threads the kernels may use (at least 1)."""

    def set_num_threads(self, n: int) -> None:
        """Threads the kernels may use; 0 restores the default."""

    def simd_bytes(self) -> int:
        """Bytes in one vector register of the kernels' build target."""

    def can_generate(self) -> bool:
        """Whether kernels can be generated and compiled at plan time here."""

    def lower_fused(self, ctx, group) -> bool:
        """Lower a fused elementwise group (ops/fused_elementwise.py) to one generated kernel
        in `ctx`; False when no kernel can be made (the caller lowers its members)."""


_backends: dict[str, Backend] = {}


def register(backend: Backend) -> None:
    """Make `backend` the one for its device type (the last registered wins)."""
    if not isinstance(backend, Backend):
        raise TypeError(f"{backend!r} does not implement the Backend interface")
    _backends[backend.device_type.upper()] = backend


def registered() -> list[Backend]:
    return list(_backends.values())


_DEVICE_TYPE = re.compile(r"(?:^|/)(?:device:)?([A-Za-z_]+)(?::\d+|$)")


def device_type(device: str) -> str:
    """The device type a device string names ("/job:w/device:GPU:1" -> "GPU", "/cpu:0" ->
    "CPU"); the default type for "" or a string without one."""
    for part in reversed((device or "").split("/")):
        m = _DEVICE_TYPE.fullmatch(part) if part else None
        if m and not part.startswith(("job:", "replica:", "task:")):
            return m.group(1).upper()
    return DEFAULT_DEVICE_TYPE


def default() -> Backend:
    """The backend of the default device (the CPU)."""
    try:
        return _backends[DEFAULT_DEVICE_TYPE]
    except KeyError:
        raise RuntimeError(
            "no kernel backend is registered: import staticflow (its runtime loads the backends)"
        ) from None


def for_device(device: str) -> Backend:
    """The backend that runs a node placed on `device`: the one of its device type, else the
    default (soft placement)."""
    return _backends.get(device_type(device)) or default()
