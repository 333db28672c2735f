"""nvcc builder of the CUDA kernel library (``staticflow/backends/_sf_cuda.so``).

Run by ``make install`` (``python staticflow/backends/_build_cuda.py``) after the
C library: when nvcc is found (``$CUDA_HOME/bin``, ``$CUDA_PATH/bin``, ``PATH``,
``/usr/local/cuda/bin``) it compiles every ``kernels/cuda/*.cu`` (one kernel
family each) into an object under build/cuda/, the families in parallel, and
links them into one shared library: a fat binary with code for sm_80 and sm_90
plus sm_90's PTX, which the driver compiles for newer GPUs. The CUDA runtime is
nvcc's static one (``-cudart static``), so the library needs only the driver
(libcuda) at run time, and loads without one (`staticflow.backends.cuda`
then says why no GPU is usable). Without nvcc it prints one line and builds
nothing.

A family is recompiled only when its source, a header it includes (directly or
not: the quoted #includes, followed through kernels/), the generated op lists it
includes or the flags changed (a hash per object, kept beside it); the library is
relinked only when an object changed. The build never needs a GPU.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import importlib.util
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
KERNELS = ROOT / "kernels"
CUDA = KERNELS / "cuda"
BUILD = ROOT / "build" / "cuda"
LIBRARY = ROOT / "staticflow" / "backends" / "_sf_cuda.so"
GENERATED = ROOT / "build" / "generated"

# sm_80 (A100) and sm_90 (H100) machine code, and compute_90 PTX for later GPUs
GENCODE = [
    "-gencode", "arch=compute_80,code=sm_80",
    "-gencode", "arch=compute_90,code=[sm_90,compute_90]",
]
FLAGS = ["-O3", "-std=c++17", "-Xcompiler", "-fPIC", "--diag-suppress=177", *GENCODE]


def find_nvcc() -> str | None:
    """The nvcc to build with, or None."""
    for var in ("CUDA_HOME", "CUDA_PATH"):
        home = os.environ.get(var)
        if home and os.access(os.path.join(home, "bin", "nvcc"), os.X_OK):
            return os.path.join(home, "bin", "nvcc")
    found = shutil.which("nvcc")
    if found:
        return found
    default = "/usr/local/cuda/bin/nvcc"
    return default if os.access(default, os.X_OK) else None


def sources() -> list[pathlib.Path]:
    return sorted(CUDA.glob("*.cu"))


def _table_text() -> str:
    """sf_scalar_table.h (the elementwise op lists) as the C build writes it. The table
    is loaded by path: the build cannot import staticflow."""
    path = ROOT / "staticflow" / "ops" / "scalar_table.py"
    spec = importlib.util.spec_from_file_location("_sf_scalar_table", path)
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    return table.c_header()


def _generated_dir() -> pathlib.Path:
    """The directory of sf_scalar_table.h, written when it changed."""
    GENERATED.mkdir(parents=True, exist_ok=True)
    out = GENERATED / "sf_scalar_table.h"
    text = _table_text()
    if not out.exists() or out.read_text() != text:
        out.write_text(text)
    return GENERATED


def _include_dirs(generated: pathlib.Path) -> list[str]:
    return [str(KERNELS / "include"), str(KERNELS / "cpu"), str(CUDA), str(generated)]


_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]+"([^"]+)"', re.M)
_TABLE_HEADER = "sf_scalar_table.h"


def _deps(src: pathlib.Path) -> list[pathlib.Path]:
    """The headers under kernels/ that `src` includes, directly or through others (every
    quoted #include, whatever the #if around it: a superset). The generated op lists are
    not a file here: _digest hashes their text."""
    dirs = [src.parent, KERNELS / "include", KERNELS / "cpu", CUDA]
    seen: dict[pathlib.Path, None] = {}
    todo = [src]
    while todo:
        for name in _INCLUDE.findall(todo.pop().read_text()):
            for d in dirs:
                h = d / name
                if h.is_file():
                    if h not in seen:
                        seen[h] = None
                        todo.append(h)
                    break
    return sorted(seen)


def _digest(src: pathlib.Path, nvcc: str, table: str) -> str:
    """Hash of what an object is made from: its source, the headers it includes (the
    generated op lists when it includes them), the flags, nvcc."""
    h = hashlib.sha256()
    for p in [src, *_deps(src)]:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    if _TABLE_HEADER in _INCLUDE.findall("\n".join(p.read_text() for p in [src, *_deps(src)])):
        h.update(table.encode())
    h.update(" ".join(FLAGS).encode())
    h.update(os.path.realpath(nvcc).encode())
    return h.hexdigest()


def _stale(build_dir: pathlib.Path, nvcc: str, srcs: list[pathlib.Path] | None = None
           ) -> list[tuple[pathlib.Path, str]]:
    out = []
    table = _table_text()
    for src in srcs if srcs is not None else sources():
        digest = _digest(src, nvcc, table)
        obj = build_dir / (src.stem + ".o")
        stamp = obj.with_suffix(".hash")
        if not (obj.exists() and stamp.exists() and stamp.read_text() == digest):
            out.append((src, digest))
    return out


def is_up_to_date(nvcc: str | None = None) -> bool:
    """Whether the built library matches the current sources and flags (no compile needed)."""
    nvcc = nvcc or find_nvcc()
    if nvcc is None or not LIBRARY.exists():
        return False
    if _stale(BUILD, nvcc):
        return False
    newest = max((BUILD / (s.stem + ".o")).stat().st_mtime for s in sources())
    return LIBRARY.stat().st_mtime >= newest


def _compile(nvcc: str, src: pathlib.Path, obj: pathlib.Path, generated: pathlib.Path) -> float:
    """Compiles one family; returns the seconds it took."""
    t0 = time.perf_counter()
    cmd = [nvcc, *FLAGS, *(f"-I{d}" for d in _include_dirs(generated)), "-c", str(src), "-o", str(obj)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"nvcc failed on {src.relative_to(ROOT)}:\n{r.stdout}{r.stderr}")
    return time.perf_counter() - t0


def build(build_dir: pathlib.Path = BUILD, library: pathlib.Path = LIBRARY, nvcc: str | None = None,
          jobs: int | None = None, verbose: bool = False) -> pathlib.Path:
    """Compile the stale families (in parallel) and link `library`; returns its path.
    Raises RuntimeError with nvcc's output when a source does not compile."""
    nvcc = nvcc or find_nvcc()
    if nvcc is None:
        raise RuntimeError("nvcc was not found")
    generated = _generated_dir()
    build_dir.mkdir(parents=True, exist_ok=True)
    # the costliest families first (by their last object's size, else their source's),
    # so that the small ones fill in beside them
    def cost(s: tuple[pathlib.Path, str]) -> tuple[int, int]:
        obj = build_dir / (s[0].stem + ".o")
        return (obj.stat().st_size if obj.exists() else 0, s[0].stat().st_size)

    srcs = sources()  # once: a source added meanwhile waits for the next build
    stale = sorted(_stale(build_dir, nvcc, srcs), key=cost, reverse=True)
    jobs = jobs or max(1, min(len(stale), os.cpu_count() or 1))
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {}
        for src, digest in stale:
            obj = build_dir / (src.stem + ".o")
            obj.with_suffix(".hash").unlink(missing_ok=True)
            if verbose:
                print(f"nvcc {src.relative_to(ROOT)}", flush=True)
            futures[pool.submit(_compile, nvcc, src, obj, generated)] = (obj, digest)
        for f in concurrent.futures.as_completed(futures):
            seconds = f.result()  # raises the first compile error
            obj, digest = futures[f]
            obj.with_suffix(".hash").write_text(digest)
            if verbose:
                print(f"  {obj.stem}.cu: {seconds:.1f} s", flush=True)
    objs = [build_dir / (s.stem + ".o") for s in srcs]
    if stale or not library.exists() or library.stat().st_mtime < max(o.stat().st_mtime for o in objs):
        tmp = library.with_name(library.name + ".tmp")
        # -ldl: linalg.cu opens cuBLAS and cuDNN at run time
        cmd = [nvcc, "-shared", "-cudart", "static", *GENCODE, *(str(o) for o in objs), "-ldl",
               "-o", str(tmp)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"linking the CUDA library failed:\n{r.stdout}{r.stderr}")
        os.replace(tmp, library)
    return library


def build_to_temp(nvcc: str | None = None) -> pathlib.Path:
    """A full build into a temporary directory (the tests' compile check when the
    installed build is stale); the caller removes the directory."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="sf_cuda_build_"))
    return build(build_dir=d, library=d / "_sf_cuda.so", nvcc=nvcc)


def main(argv: list[str]) -> int:
    nvcc = find_nvcc()
    if nvcc is None:
        print("CUDA kernels: nvcc not found, skipping the CUDA library (set CUDA_HOME to build it)")
        return 0
    t0 = time.perf_counter()
    try:
        path = build(nvcc=nvcc, verbose="-v" in argv)
    except RuntimeError as e:
        print(f"CUDA kernels: {e}", file=sys.stderr)
        return 1
    print(f"CUDA kernels: {path.relative_to(ROOT)} up to date ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

