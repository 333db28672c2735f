"""cffi builder of the CPU kernel library (`staticflow.backends._sf_cpu`).

Run by setup.py through ``cffi_modules`` (``pip install .``, ``pip install
-e .``, ``make install``), or directly (``python staticflow/backends/_build_cpu.py``)
to rebuild the library in place during development: it compiles under
build/cffi/ and copies the extension next to this file. The cdef is the ABI
header itself, so Python and C read one declaration.

``python staticflow/backends/_build_cpu.py --asan`` builds a second copy with
AddressSanitizer into build/asan/ (ASAN_LIBRARY) and leaves the normal build
alone; `staticflow.backends.cpu` loads it instead when the environment variable
STATICFLOW_KERNEL_LIBRARY names it (with libasan preloaded: ``make asan``).

The extension links libscipy_openblas from the scipy-openblas32 wheel, which
is not on the system's library path; see `_blas_rpaths` for how it is found at
run time.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import re
import shutil
import sys
import sysconfig
import tempfile

from cffi import FFI

ROOT = pathlib.Path(__file__).resolve().parents[2]
INCLUDE = ROOT / "kernels" / "include"
CPU = ROOT / "kernels" / "cpu"
ASAN_DIR = ROOT / "build" / "asan"
# the instrumented library: an extension module of the same name, elsewhere
ASAN_LIBRARY = ASAN_DIR / "_sf_cpu.abi3.so"
ASAN_FLAGS = ["-fsanitize=address", "-fno-omit-frame-pointer", "-fno-common", "-g"]
# headers the build writes (the elementwise op lists, from staticflow/ops/scalar_table.py)
GENERATED = ROOT / "build" / "generated"


def _cdef_text() -> str:
    """The ABI header with preprocessor lines and non-cdef blocks removed."""
    return cdef_of((INCLUDE / "staticflow.h").read_text())


def cdef_of(header: str) -> str:
    """The ABI header's text as a cffi cdef: comments, preprocessor lines and the
    ``#ifndef SF_CDEF`` blocks removed, simple integer #defines kept (cffi reads them).
    The CUDA library's loader reads the same header through it."""
    text = re.sub(r"/\*.*?\*/", "", header, flags=re.S)
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


def _blas_rpaths(build_lib_dir: str) -> tuple[list[str], list[str]]:
    """Run-time search paths for libscipy_openblas: (absolute dirs, link args).

    The library the build links against may live in pip's temporary build
    environment, which is gone at run time, so that path is useless unless it
    is permanent. Instead the extension looks, in order, in
    - ``$ORIGIN/../../scipy_openblas32/lib``: the installed package's copy when
      staticflow is installed into the same site-packages (``pip install .``);
    - the target environment's site-packages (``sysconfig`` of the interpreter
      running the build, which pip keeps even in an isolated build): where an
      editable install's dependency lands while the extension stays in the
      source tree;
    - the build-time directory, when it is not a temporary one.
    Importing ``scipy_openblas32`` before the extension also works in any
    layout: it loads the library (by its soname) into the process.
    """
    origin = "$ORIGIN/../../scipy_openblas32/lib"
    dirs: list[str] = []
    for key in ("purelib", "platlib"):
        d = os.path.join(sysconfig.get_path(key), "scipy_openblas32", "lib")
        if d not in dirs:
            dirs.append(d)
    tmp = os.path.realpath(tempfile.gettempdir())
    if not os.path.realpath(build_lib_dir).startswith(tmp + os.sep) and build_lib_dir not in dirs:
        dirs.append(build_lib_dir)
    return dirs, [f"-Wl,-rpath,{origin}"]


def _compile_args(asan: bool = False) -> list[str]:
    # -ffp-contract=fast lets a * b + c compile to one fused multiply-add
    # instruction; ISO C mode (-std=c99) would turn contraction off
    args = ["-O3", "-std=c99", "-ffp-contract=fast", "-fopenmp", "-fno-math-errno", "-Wall"]
    args.append("-Wno-unused-function")
    if os.environ.get("STATICFLOW_PORTABLE", "") not in ("1", "true", "yes"):
        args.append("-march=native")
    if asan:  # the same code paths (same -march), every load and store checked
        args = [a for a in args if a != "-O3"] + ["-O1"] + ASAN_FLAGS
    return args


def write_scalar_table() -> pathlib.Path:
    """Write ``sf_scalar_table.h`` (elementwise.c's op lists) from the scalar table, which is
    loaded by path: the build cannot import staticflow. Rewritten only when it changes."""
    spec = importlib.util.spec_from_file_location(
        "_sf_scalar_table", ROOT / "staticflow" / "ops" / "scalar_table.py"
    )
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    GENERATED.mkdir(parents=True, exist_ok=True)
    out = GENERATED / "sf_scalar_table.h"
    text = table.c_header()
    if not out.exists() or out.read_text() != text:
        out.write_text(text)
    return out


def make_ffi(absolute_sources: bool = False, asan: bool = False) -> FFI:
    """The cffi builder. setup.py needs source paths relative to the project
    root; a direct build (which compiles in another directory) absolute ones.
    `asan` instruments the kernels with AddressSanitizer."""
    ffibuilder = FFI()
    ffibuilder.cdef(_cdef_text())
    inc, libdirs, libs = _blas()
    rpath_dirs, rpath_args = _blas_rpaths(libdirs[0])

    def path(p: pathlib.Path) -> str:
        return str(p if absolute_sources else p.relative_to(ROOT))

    table = write_scalar_table()
    sources = sorted(path(p) for p in CPU.glob("*.c"))
    # headers: a change rebuilds the extension (setuptools compares mtimes)
    depends = sorted(path(p) for d in (INCLUDE, CPU) for p in d.glob("*.h")) + [str(table)]
    ffibuilder.set_source(
        "staticflow.backends._sf_cpu",
        '#include "staticflow.h"\n',
        sources=sources,
        depends=depends,
        include_dirs=[str(INCLUDE), str(CPU), str(GENERATED)] + inc,
        library_dirs=libdirs,
        runtime_library_dirs=rpath_dirs,
        libraries=libs + ["m"],
        extra_compile_args=_compile_args(asan),
        extra_link_args=["-fopenmp"] + rpath_args + (ASAN_FLAGS if asan else []),
        # as cffi's setuptools hook does: one file name (_sf_cpu.abi3.so) for
        # both ways of building, so an old build never shadows a new one
        py_limited_api=True,
    )
    return ffibuilder


ffibuilder = make_ffi()

def build_asan(verbose: bool = False) -> pathlib.Path:
    """Build the AddressSanitizer copy of the library into ASAN_LIBRARY (the normal
    build is untouched); returns its path."""
    built = make_ffi(absolute_sources=True, asan=True).compile(
        tmpdir=str(ASAN_DIR / "cffi"), verbose=verbose
    )
    ASAN_DIR.mkdir(parents=True, exist_ok=True)
    tmp = ASAN_LIBRARY.with_suffix(".tmp")
    shutil.copy2(built, tmp)
    os.replace(tmp, ASAN_LIBRARY)
    return ASAN_LIBRARY


if __name__ == "__main__":
    if "--asan" in sys.argv:
        print(f"built {build_asan('-v' in sys.argv)}")
        sys.exit(0)
    # cffi compiles inside tmpdir (it changes directory there), so sources are
    # absolute; the extension is then copied where `import` finds it.
    built = make_ffi(absolute_sources=True).compile(
        tmpdir=str(ROOT / "build" / "cffi"), verbose="-v" in sys.argv
    )
    target = ROOT / "staticflow" / "backends" / os.path.basename(built)
    for old in target.parent.glob("_sf_cpu.*.so"):
        old.unlink()  # a differently named build would shadow or be shadowed
    shutil.copy2(built, target)
    print(f"built {target}")
