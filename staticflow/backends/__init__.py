"""Bindings of the compiled kernel libraries (the only package that imports cffi).

Importing the package registers each backend of this build with
`staticflow.framework.backend`, through which the runtime and the lowering of ops reach
kernels: the CPU's at once, the CUDA GPU's (backends/cuda_device.py) through a probe run
the first time devices are asked about, and only where a GPU can run its kernels.
"""

from staticflow.backends import cpu  # noqa: F401  (registers the CPU backend)
from staticflow.framework import backend as _backend


def _probe_cuda() -> None:
    from staticflow.backends import cuda_device

    cuda_device.probe()


_backend.add_probe(_probe_cuda)
