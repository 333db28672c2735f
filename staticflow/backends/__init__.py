"""Bindings of the compiled kernel libraries (the only package that imports cffi).

Importing the package registers each backend of this build with
`staticflow.framework.backend` (the CPU's today), through which the runtime and the
lowering of ops reach kernels.
"""

from staticflow.backends import cpu  # noqa: F401  (registers the CPU backend)
