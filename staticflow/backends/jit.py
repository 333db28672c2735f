"""Kernels compiled while planning: C source -> shared library in a per-user cache ->
a function pointer in the ABI's kernel slot.

The system C compiler (``$STATICFLOW_CC``, else ``$CC``, else ``cc``) builds each
source with the flags of the kernel library into ``sf_<key>.so`` under the cache
directory (``$STATICFLOW_CACHE_DIR``, else ``$XDG_CACHE_HOME/staticflow/kernels``,
else ``~/.cache/staticflow/kernels``). The key hashes the source, the headers it
includes, the flags, the compiler's identity and the processor, so a second process (or the next session)
loads the library without compiling, and a changed source or machine never picks up
a stale one. A library is written under a temporary name and renamed into place, and
compiles of one key are serialized by a lock file: two processes compiling at once
leave one whole library, never a torn one.

Why the system compiler rather than cffi: a fused kernel is plain C behind the ABI's
one function type, so it needs no Python extension module (cffi's would add an import
and an init function per kernel); ctypes loads it and hands back its address, which
the plan's call records take like any other kernel's.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import pathlib
import platform
import shlex
import shutil
import subprocess
import tempfile
import threading
import warnings
from functools import cache

log = logging.getLogger("staticflow.jit")

CACHE_ENV = "STATICFLOW_CACHE_DIR"
CC_ENV = "STATICFLOW_CC"
_HERE = pathlib.Path(__file__).resolve().parent
_ROOT = _HERE.parents[1]


class CompileError(RuntimeError):
    """The compiler rejected a generated source; the message holds its diagnostics."""


class FusionWarning(UserWarning):
    """Kernels cannot be generated here: plans run the unfused kernels instead."""


def cache_dir() -> pathlib.Path:
    """Where compiled kernels are kept (created on first use)."""
    d = os.environ.get(CACHE_ENV)
    if d:
        return pathlib.Path(d)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "staticflow" / "kernels"


def compiler() -> list[str] | None:
    """The compiler command, or None when it is not installed."""
    cmd = _split(os.environ.get(CC_ENV) or os.environ.get("CC") or "cc")
    if not cmd or _which(cmd[0], os.environ.get("PATH")) is None:
        return None
    return list(cmd)


@cache
def _split(text: str) -> tuple[str, ...]:
    return tuple(shlex.split(text))


@cache
def _which(name: str, path: str | None) -> str | None:
    """shutil.which, once per name and PATH: a plan asks for every group it fuses."""
    return shutil.which(name, path=path)


def include_dirs() -> list[str]:
    """The ABI header and the CPU kernels' helper headers: the package's copies (written by
    the build), else the source tree's."""
    return list(_include_dirs())


@cache
def _include_dirs() -> tuple[str, ...]:
    # looked up once per process, as the headers' text (_headers) is
    for inc in (_HERE / "include", _ROOT / "kernels" / "include"):
        cpu = inc / "cpu" if inc.parent == _HERE else _ROOT / "kernels" / "cpu"
        if (inc / "staticflow.h").exists() and (cpu / "sf_scalar.h").exists():
            return (str(inc), str(cpu))
    return ()


def flags() -> list[str]:
    """The kernel library's flags (see _build_cpu.py), for a position-independent library."""
    args = ["-O3", "-std=c99", "-ffp-contract=fast", "-fopenmp", "-fno-math-errno", "-fno-trapping-math"]
    args += ["-Wall", "-Wno-unused-function", "-fPIC", "-shared"]
    if os.environ.get("STATICFLOW_PORTABLE", "") not in ("1", "true", "yes"):
        args.append("-march=native")
    return args


@cache
def _identity(cmd: tuple[str, ...]) -> str:
    """The compiler's version line and the processor: part of every key."""
    try:
        out = subprocess.run([*cmd, "--version"], capture_output=True, text=True, timeout=30)
        version = (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else ""
    except (OSError, subprocess.SubprocessError):
        version = ""
    cpu = platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            info = [ln for ln in f.read().splitlines() if ln.startswith(("model name", "flags"))][:2]
        cpu += "|" + "|".join(info)
    except OSError:
        pass
    return version + "|" + cpu


_warned: set[str] = set()
_lock = threading.Lock()
_loaded: dict[str, tuple[ctypes.CDLL, int]] = {}  # key -> (library, function address), never unloaded
# what this process did: kernels compiled, and libraries loaded from the cache without compiling
stats = {"compiled": 0, "cached": 0}


def warn_once(reason: str, hint: str = "") -> None:
    """One FusionWarning per reason and process; `hint` says what to install (default: a C
    compiler)."""
    if reason in _warned:
        return
    _warned.add(reason)
    hint = hint or f"Install a C compiler (e.g. gcc) or name one in ${CC_ENV}."
    warnings.warn(
        f"staticflow cannot generate fused kernels ({reason}); plans run the unfused kernels. {hint}",
        FusionWarning,
        stacklevel=2,
    )


def available() -> bool:
    """Whether kernels can be generated: a compiler and the headers are there. The first
    time they are not, one FusionWarning says so."""
    if compiler() is None:
        warn_once(f"no C compiler: {os.environ.get(CC_ENV) or os.environ.get('CC') or 'cc'} was not found")
        return False
    if not include_dirs():
        warn_once("the kernel headers are not installed")
        return False
    return True


def _headers() -> str:
    """The headers a source includes: a changed helper must not find an old library."""
    return headers_text(_include_dirs())


@cache
def headers_text(dirs: tuple[str, ...]) -> str:
    """The text of every header in `dirs` (once per process): part of the keys."""
    parts = []
    for d in dirs:
        for f in sorted(pathlib.Path(d).glob("*.h")):
            parts.append(f.read_text())
    return "\n".join(parts)


def key_of(source: str, includes: tuple[str, ...] = ()) -> str:
    """The cache key: source, included headers, flags, compiler and processor."""
    cmd = compiler() or ["cc"]
    h = _key_prefix(tuple(cmd), " ".join(flags())).copy()
    h.update(source.encode())
    if includes:
        h.update(headers_text(tuple(includes)).encode())
    return h.hexdigest()[:32]


@cache
def _key_prefix(cmd: tuple[str, ...], flag_text: str):
    """The hash of what every key shares (headers, flags, compiler, processor), made once:
    the headers alone are far longer than a generated source."""
    h = hashlib.sha256()
    for part in (_headers(), flag_text, " ".join(cmd), _identity(cmd)):
        h.update(part.encode())
        h.update(b"\0")
    return h


def load(source: str, symbol: str, includes: tuple[str, ...] = ()) -> int:
    """The address of function `symbol` of `source`, compiled (or found in the cache) and
    loaded; `includes`: more header directories (their headers are part of the key).
    Raises CompileError when the compiler fails."""
    key = key_of(source, includes)
    with _lock:
        hit = _loaded.get(key)
        if hit is not None:
            return hit[1]
        path = cache_dir() / f"sf_{key}.so"
        lib = None
        if path.exists():
            try:
                lib = ctypes.CDLL(str(path))
                stats["cached"] += 1
            except OSError as e:  # not a loadable library (a foreign or damaged file): rebuild it
                log.warning("rebuilding the cached kernel %s: %s", path, e)
                lib = None
        if lib is None:
            _compile(source, path, includes)
            lib = ctypes.CDLL(str(path))
        addr = ctypes.cast(getattr(lib, symbol), ctypes.c_void_p).value
        _loaded[key] = (lib, addr)
        return addr


def _compile(source: str, path: pathlib.Path, includes: tuple[str, ...] = ()) -> None:
    """Compile `source` into `path` (through `build_entry`: concurrent compiles of one key
    never leave a partial library)."""
    cmd = compiler()
    if cmd is None:
        raise CompileError("no C compiler")

    def build(tmp: str) -> None:
        src = tmp + ".c"
        try:
            with open(src, "w") as f:
                f.write(source)
            inc = [*include_dirs(), *includes]
            args = [*cmd, *flags(), *(f"-I{d}" for d in inc), src, "-o", tmp, "-lm"]
            out = subprocess.run(args, capture_output=True, text=True, timeout=300)
            if out.returncode != 0:
                raise CompileError(
                    f"{' '.join(shlex.quote(a) for a in args)} failed:\n{out.stderr.strip()[-4000:]}"
                )
            stats["compiled"] += 1
            os.replace(src, path.with_suffix(".c"))  # beside the library, for reading
        finally:
            if os.path.exists(src):
                os.unlink(src)

    build_entry(path, build, _loadable)


def _loadable(path: pathlib.Path) -> bool:
    try:
        ctypes.CDLL(str(path))
        return True
    except OSError:
        return False


def build_entry(path: pathlib.Path, build, valid) -> bool:
    """Make cache entry `path` with `build(tmp)`, which writes the file `tmp`: under a lock
    file, into a temporary name renamed into place, so that two processes making one entry
    at once leave one whole file, never a torn one. An entry that another process finished
    while this one waited for the lock, and that `valid(path)` accepts, is kept (returns
    False); else it is built (True). Shared by every kind of generated kernel (C libraries
    here, GPU code in backends/nvrtc.py)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(path.with_suffix(".lock")):
        if path.exists() and valid(path):
            return False
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
        os.close(fd)
        try:
            build(tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return True


class _file_lock:
    """An exclusive lock on a file (fcntl.flock); without flock, no lock (the rename alone
    still keeps the library whole)."""

    def __init__(self, path: pathlib.Path):
        self.path = path
        self.fd = -1

    def __enter__(self):
        try:
            import fcntl

            self.fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except (ImportError, OSError):
            if self.fd >= 0:
                os.close(self.fd)
            self.fd = -1
        return self

    def __exit__(self, *exc):
        if self.fd >= 0:
            os.close(self.fd)  # closing releases the lock
        return False
