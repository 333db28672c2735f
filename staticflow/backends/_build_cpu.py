"""cffi builder of the CPU kernel library (`staticflow.backends._sf_cpu`).

Run by setup.py through ``cffi_modules``, or directly (``python -m
staticflow.backends._build_cpu``) to build in place during development.
The cdef is the ABI header itself, so Python and C read one declaration.
"""

from __future__ import annotations

import os
import pathlib
import re
import sys

from cffi import FFI

ROOT = pathlib.Path(__file__).resolve().parents[2]
INCLUDE = ROOT / "kernels" / "include"
CPU = ROOT / "kernels" / "cpu"


def _cdef_text() -> str:
    """The ABI header with preprocessor lines and non-cdef blocks removed."""
    text = (INCLUDE / "staticflow.h").read_text()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    out, skip = [], 0
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("#ifndef SF_CDEF"):
            skip += 1
            continue
        if skip and s.startswith("#endif"):
            skip -= 1
            continue
        if skip or s.startswith("#"):
            # keep simple integer #defines, which cffi understands
            m = re.match(r"#define\s+(SF_\w+)\s+(\d+)$", s)
            if m and not skip:
                out.append(f"#define {m.group(1)} {m.group(2)}")
            continue
        out.append(line)
    return "\n".join(out)


def _blas() -> tuple[list[str], list[str], list[str]]:
    """Include dir, library dir and library name of scipy-openblas32."""
    import scipy_openblas32 as blas

    return [blas.get_include_dir()], [blas.get_lib_dir()], [blas.get_library()]


def _compile_args() -> list[str]:
    args = ["-O3", "-std=c99", "-fopenmp", "-fno-math-errno", "-Wall", "-Wno-unused-function"]
    if os.environ.get("STATICFLOW_PORTABLE", "") not in ("1", "true", "yes"):
        args.append("-march=native")
    return args


def make_ffi() -> FFI:
    ffibuilder = FFI()
    ffibuilder.cdef(_cdef_text())
    inc, libdirs, libs = _blas()
    sources = sorted(str(p.relative_to(ROOT)) for p in CPU.glob("*.c"))
    ffibuilder.set_source(
        "staticflow.backends._sf_cpu",
        '#include "staticflow.h"\n',
        sources=sources,
        include_dirs=[str(INCLUDE), str(CPU)] + inc,
        library_dirs=libdirs,
        runtime_library_dirs=libdirs,
        libraries=libs + ["m"],
        extra_compile_args=_compile_args(),
        extra_link_args=["-fopenmp"],
    )
    return ffibuilder


ffibuilder = make_ffi()

if __name__ == "__main__":
    os.chdir(ROOT)
    ffibuilder.compile(tmpdir=str(ROOT / "build" / "cffi"), verbose="-v" in sys.argv)
