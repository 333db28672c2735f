"""Device queries (TF's tf.config): which devices staticflow can run on here.

A GPU is listed where a backend can run kernels on it: the CUDA backend, registered only
where its library is built and the driver sees a GPU (backends/cuda_device.py). A
simulated GPU (backends/simulated.py) is listed only when a test installs it to be.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import NamedTuple

from staticflow.framework import backend


class PhysicalDevice(NamedTuple):
    """A device of the machine (TF's tf.config.PhysicalDevice)."""

    name: str
    device_type: str


class LogicalDevice(NamedTuple):
    """A device plans run on (TF's tf.config.LogicalDevice)."""

    name: str
    device_type: str


def _devices(device_type: str | None) -> list[tuple[str, int]]:
    want = device_type.upper() if device_type else None
    out = []
    for b in backend.listed():
        t = b.device_type.upper()
        if want is None or t == want:
            out.extend((t, i) for i in range(b.device_count()))
    return out


def list_physical_devices(device_type: str | None = None) -> list[PhysicalDevice]:
    """The machine's devices of `device_type` ("CPU", "GPU"; None: all) staticflow can use."""
    return [PhysicalDevice(f"/physical_device:{t}:{i}", t) for t, i in _devices(device_type)]


def list_logical_devices(device_type: str | None = None) -> list[LogicalDevice]:
    """The devices plans can run on, by the names `sf.device` takes."""
    return [LogicalDevice(f"/device:{t}:{i}", t) for t, i in _devices(device_type)]


def get_visible_devices(device_type: str | None = None) -> list[PhysicalDevice]:
    """The devices a session may use: every listed one (ConfigProto.device_count narrows a
    session's own)."""
    return list_physical_devices(device_type)


def set_memory_growth(device: PhysicalDevice, enable: bool) -> None:
    """Accepted for TF compatibility: plans take their device memory in one allocation each,
    so there is no pool to grow."""
    if not isinstance(device, PhysicalDevice):
        raise ValueError(f"set_memory_growth takes a PhysicalDevice, got {device!r}")


def get_memory_growth(device: PhysicalDevice) -> bool:
    return False


experimental = SimpleNamespace(
    list_physical_devices=list_physical_devices,
    list_logical_devices=list_logical_devices,
    get_visible_devices=get_visible_devices,
    set_memory_growth=set_memory_growth,
    get_memory_growth=get_memory_growth,
)
