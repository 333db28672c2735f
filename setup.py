"""Build steps of staticflow that pyproject.toml cannot declare.

Metadata and dependencies are in pyproject.toml. This file adds what is
generated at build time:

- ``staticflow/<pkg>/<name>_pb2.py`` from ``proto/staticflow/<pkg>/<name>.proto``
  (grpc_tools.protoc, ``-I proto --python_out=.``), written into the source
  tree so that editable installs see them too (they are gitignored);
- ``staticflow/backends/include/``: copies of the kernel headers, package data
  for kernels generated at run time (fused kernels compile against the ABI);
- ``staticflow.backends._sf_cpu``: the C kernel library, built by cffi from
  ``kernels/`` (``staticflow/backends/_build_cpu.py``).

``python setup.py gen_proto`` regenerates the protobuf modules alone.
"""

from __future__ import annotations

import filecmp
import pathlib
import shutil
import tempfile

from setuptools import Command, find_packages, setup
from setuptools.command.build_py import build_py

ROOT = pathlib.Path(__file__).resolve().parent
PROTO = ROOT / "proto"
KERNELS = ROOT / "kernels"
HEADERS = ROOT / "staticflow" / "backends" / "include"
# kernels/<dir> -> staticflow/backends/include/<subdir>
HEADER_DIRS = {"include": ".", "cpu": "cpu", "cuda": "cuda"}
HEADER_GLOBS = ("*.h", "*.cuh")


def proto_files() -> list[pathlib.Path]:
    return sorted(PROTO.rglob("*.proto"))


def proto_packages() -> list[str]:
    """Python packages that receive generated modules (proto folders mirror them)."""
    dirs = {p.parent.relative_to(PROTO) for p in proto_files()}
    return sorted(".".join(d.parts) for d in dirs if d.parts)


def _sync(src: pathlib.Path, dst: pathlib.Path) -> bool:
    """Copy src over dst unless equal (keeps mtimes stable); True if written."""
    if dst.exists() and filecmp.cmp(src, dst, shallow=False):
        return False
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return True


def generate_protos(out_dir: pathlib.Path = ROOT) -> list[pathlib.Path]:
    """Run protoc on every proto/**/*.proto; write <name>_pb2.py under out_dir.

    Modules whose content did not change are left untouched, and stale
    modules (whose .proto was removed) are deleted.
    """
    import importlib.resources

    from grpc_tools import protoc

    protos = proto_files()
    if not protos:
        return []
    well_known = importlib.resources.files("grpc_tools") / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "grpc_tools.protoc",
            f"--proto_path={PROTO}",
            f"--proto_path={well_known}",
            f"--python_out={tmp}",
            *(str(p.relative_to(PROTO)) for p in protos),
        ]
        if protoc.main(args) != 0:
            raise RuntimeError("protoc failed on proto/: " + " ".join(args[1:]))
        outputs = []
        for p in protos:
            rel = p.relative_to(PROTO).with_name(p.stem + "_pb2.py")
            if _sync(pathlib.Path(tmp) / rel, out_dir / rel):
                print(f"generated {rel}")
            outputs.append(out_dir / rel)
    for pkg in proto_packages():
        for old in (out_dir / pkg.replace(".", "/")).glob("*_pb2.py"):
            if old not in outputs:
                print(f"removing stale {old.relative_to(out_dir)}")
                old.unlink()
    return outputs


def copy_headers() -> None:
    """Mirror the kernel headers into the package (package data)."""
    wanted = set()
    for src_dir, sub in HEADER_DIRS.items():
        for pattern in HEADER_GLOBS:
            for h in (KERNELS / src_dir).glob(pattern):
                dst = (HEADERS / sub / h.name).resolve()
                wanted.add(dst)
                _sync(h, dst)
    if HEADERS.exists():
        for f in HEADERS.rglob("*"):
            if f.is_file() and f.resolve() not in wanted:
                f.unlink()


class gen_proto(Command):
    """Generate the protobuf modules (and kernel header copies) in the source tree."""

    description = "generate staticflow/**/*_pb2.py from proto/"
    user_options: list = []

    def initialize_options(self) -> None:
        pass

    def finalize_options(self) -> None:
        pass

    def run(self) -> None:
        generate_protos()
        copy_headers()


class build_py_with_generated(build_py):
    """build_py that first generates the modules it then copies (or, in an
    editable install, leaves in place)."""

    def run(self) -> None:
        self.run_command("gen_proto")
        super().run()


setup(
    packages=sorted(set(find_packages(include=["staticflow", "staticflow.*"])) | set(proto_packages())),
    # the pytest plugin (entry point pytest11): a top-level module, so that loading it
    # at every pytest start does not import staticflow
    py_modules=["pytest_staticflow"],
    package_data={"staticflow.backends": ["include/*.h", "include/*/*.h", "include/*/*.cuh", "_sf_cuda.so"]},
    cffi_modules=["staticflow/backends/_build_cpu.py:ffibuilder"],
    cmdclass={"gen_proto": gen_proto, "build_py": build_py_with_generated},
)
