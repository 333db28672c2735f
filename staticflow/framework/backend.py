"""The device interface: what planning and running need from a kernel library.

A `Backend` is one device's kernels behind the uniform ABI (kernels/include/staticflow.h):
kernel lookup by name, the executor entry that walks a plan's call records, the
device's thread count and vector width (which lowering reads to size its work),
the compile-and-load of kernels generated at plan time, and the device's name.
The runtime (plans, sessions) and the lowering of ops talk to this interface,
never to a backend module by name, so that a second device is a second
implementation registered here, not a fork of the planner.

Devices: a backend also owns its device's memory and its stream of work. Plans ask
it for their arena (`allocate`, one allocation per plan), variables and random
states live in memory it allocated, and the copies between host and device go
through it (`copy_in`, `copy_out`, and the `UPLOAD`/`DOWNLOAD` transfer kernels
that the copy nodes of a plan call through the ABI, on the session's `stream`). The
transfer kernels are asynchronous where their host side is memory of `allocate_host` (a
plan's pinned staging of its fed and fetched tensors): a plan with device steps waits for
each device's stream once per run (`synchronize`), before its fetches are handed out.
Traced runs time each device step with a pair of events on the stream (`new_event`).
`host_memory` says whether the device's pointers are host addresses NumPy may
view: the CPU's are, so CPU plans keep their NumPy-backed arenas and pay nothing
for devices; every other device is reached only through this interface.

Backends register themselves when `staticflow.backends` is imported (the runtime
imports it); `for_device` picks one by a node's device string. The placement pass
(passes/placement.py) gives each node a device some backend serves, so a node's
device names its backend; `for_device` falls back to the default for a device no
backend serves (plans built without placement: nested function plans' tools).
"""

from __future__ import annotations

import re
from typing import Any, Protocol, runtime_checkable

DEFAULT_DEVICE_TYPE = "CPU"
# the full name of a device (TensorFlow's), as placement logs and node devices give it
DEVICE_PREFIX = "/job:localhost/replica:0/task:0/device:"
# the transfer kernels of a non-host device (Backend.kernel): ABI kernels whose in[0] and
# out[0] are one tensor's host and device views (UPLOAD: host in, device out; DOWNLOAD: the
# reverse), run on call->stream like the device's other kernels
UPLOAD = "sf_device_upload"
DOWNLOAD = "sf_device_download"


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

    # --- the device: memory, copies, streams ------------------------------------------------
    host_memory: bool  # device pointers are host addresses (NumPy may view them): the CPU

    def device_count(self) -> int:
        """How many devices of this type the backend can run on."""

    def has_kernel(self, symbol: str) -> bool:
        """Whether `symbol` (a kernel name as lowering gives it: the ABI's CPU name,
        sf_cpu_<op>_<dtype>) has a kernel on this device."""

    def allocate(self, nbytes: int) -> int:
        """Device memory of at least `nbytes` (aligned for any dtype): its address.
        Freed by `free`; MemoryError when the device has none left."""

    def free(self, ptr: int) -> None:
        """Give back memory `allocate` returned."""

    def copy_in(self, dst: int, src, stream=None) -> None:
        """Copy the C-contiguous NumPy array `src` into device memory at `dst` (ordered on
        `stream` with its kernels; `src` may be reused when this returns)."""

    def copy_out(self, dst, src: int, stream=None) -> None:
        """Copy device memory at `src` into the C-contiguous NumPy array `dst`; it holds the
        values when this returns (the stream's earlier work done)."""

    def new_stream(self):
        """A stream of work (one per Session): the value kernels get in sf_call.stream."""

    def synchronize(self, stream=None) -> None:
        """Wait until the work queued on `stream` is done."""

    def free_stream(self, stream) -> None:
        """Give back a stream `new_stream` made (its queued work still completes)."""

    def allocate_host(self, nbytes: int) -> int:
        """Host memory of at least `nbytes` that the device copies to and from
        asynchronously (pinned, page-locked memory on a GPU): the staging buffers of a
        plan's fed and fetched tensors. Freed by `free_host`."""

    def free_host(self, ptr: int) -> None:
        """Give back memory `allocate_host` returned."""

    def new_event(self):
        """A timing event (for traced runs only): recorded on a stream by `record_event`."""

    def record_event(self, event, stream=None) -> None:
        """Mark `event` when the work queued on `stream` so far is done (the device's clock)."""

    def elapsed_ms(self, start, end) -> float:
        """Device milliseconds between two recorded events (both done: after `synchronize`)."""

    def free_event(self, event) -> None:
        """Give back an event `new_event` made."""


_backends: dict[str, Backend] = {}
# functions that register a backend once its device is known to work (the CUDA backend: it
# loads its library and asks the driver), run on the first question about devices, so that
# importing staticflow loads no device library
_probes: list = []


def register(backend: Backend) -> None:
    """Make `backend` the one for its device type (the last registered wins)."""
    if not isinstance(backend, Backend):
        raise TypeError(f"{backend!r} does not implement the Backend interface")
    _backends[backend.device_type.upper()] = backend


def registered() -> list[Backend]:
    _probe()
    return list(_backends.values())


def add_probe(fn) -> None:
    """Run `fn()` (which may `register` a backend) the first time devices are asked about."""
    _probes.append(fn)


def _probe() -> None:
    while _probes:
        _probes.pop(0)()


def listed() -> list[Backend]:
    """The backends of real devices: what device listings and `is_gpu_available` report (a
    simulated device is left out unless it was installed to be listed)."""
    return [b for b in registered() if getattr(b, "listed", True)]


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
    if not device:
        return default()
    return _backends.get(device_type(device)) or default()


def unregister(device_type_: str) -> Backend | None:
    """Remove the backend of a device type (not the default's); the one removed, or None."""
    key = device_type_.upper()
    if key == DEFAULT_DEVICE_TYPE:
        raise ValueError("the default backend cannot be removed")
    return _backends.pop(key, None)


def has_devices() -> bool:
    """Whether a backend besides the default's is registered (placement has work to do)."""
    if _probes:
        _probe()
    return len(_backends) > 1


_INDEX = re.compile(r"(?:^|/)(?:device:)?[A-Za-z_]+:(\d+)$")


def device_index(device: str) -> int | None:
    """The device number a device string names ("/gpu:1" -> 1), None when it names none."""
    for part in reversed((device or "").split("/")):
        m = _INDEX.search("/" + part) if part else None
        if m and not part.startswith(("job:", "replica:", "task:")):
            return int(m.group(1))
    return None


def full_name(device_type_: str, index: int = 0) -> str:
    """TensorFlow's full name of a device: /job:localhost/replica:0/task:0/device:GPU:0."""
    return f"{DEVICE_PREFIX}{device_type_.upper()}:{index}"


def is_host(device: str) -> bool:
    """Whether a node on `device` runs on host memory (the CPU, or no device at all)."""
    return for_device(device).host_memory
