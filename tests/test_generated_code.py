"""The generated protobuf modules are current: regenerating them from proto/
gives the installed files byte for byte, every .proto has its module, and the
protobuf runtime is new enough for the generator that wrote them."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.resources
import pathlib
import re
import tomllib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PROTO = ROOT / "proto"
PROTOS = sorted(PROTO.rglob("*.proto"))


def module_name(proto: pathlib.Path) -> str:
    rel = proto.relative_to(PROTO)
    return ".".join(rel.parent.parts + (rel.stem + "_pb2",))


def test_schema_present():
    assert PROTOS, f"no .proto files under {PROTO}"


@pytest.mark.parametrize("proto", PROTOS, ids=lambda p: str(p.relative_to(PROTO)))
def test_every_proto_has_its_module(proto):
    mod = importlib.import_module(module_name(proto))
    assert mod.DESCRIPTOR.name == str(proto.relative_to(PROTO))


def test_regenerated_modules_equal_installed(tmp_path):
    protoc = pytest.importorskip("grpc_tools.protoc")
    well_known = importlib.resources.files("grpc_tools") / "_proto"
    args = [
        "grpc_tools.protoc",
        f"--proto_path={PROTO}",
        f"--proto_path={well_known}",
        f"--python_out={tmp_path}",
        *(str(p.relative_to(PROTO)) for p in PROTOS),
    ]
    assert protoc.main(args) == 0, "protoc failed"
    stale = []
    for proto in PROTOS:
        fresh = (tmp_path / proto.relative_to(PROTO)).with_name(proto.stem + "_pb2.py")
        installed = pathlib.Path(importlib.import_module(module_name(proto)).__file__)
        if fresh.read_text() != installed.read_text():
            stale.append(str(installed))
    assert not stale, (
        f"generated modules differ from proto/ (rebuild with `make install` or "
        f"`python setup.py gen_proto`): {stale}"
    )


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text)[:3])


def _lower_bound(spec: str) -> tuple[int, ...]:
    return _version(re.search(r">=\s*([\d.]+)", spec).group(1))


def test_runtime_is_at_least_the_generator():
    import google.protobuf

    mod = importlib.import_module(module_name(PROTOS[0]))
    stamp = re.search(r"Protobuf Python Version: ([\d.]+)", pathlib.Path(mod.__file__).read_text())
    assert stamp, "generated module carries no protobuf version stamp"
    gen, run = _version(stamp.group(1)), _version(google.protobuf.__version__)
    assert run[0] == gen[0] and run >= gen, f"protobuf runtime {run} does not match gencode {gen}"


def test_pins_agree():
    """The generator pinned for the build, the one the tests regenerate with, and
    the protobuf runtime range agree (pyproject.toml)."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    build = [r for r in meta["build-system"]["requires"] if r.startswith("grpcio-tools")]
    test = [r for r in meta["project"]["optional-dependencies"]["test"] if r.startswith("grpcio-tools")]
    assert build == test and len(build) == 1, (build, test)
    try:
        installed = importlib.metadata.version("grpcio-tools")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("grpcio-tools is not installed")
    assert build[0] == f"grpcio-tools=={installed}"
    protobuf = [r for r in meta["project"]["dependencies"] if r.startswith("protobuf")]
    needed = importlib.metadata.requires("grpcio-tools")
    needed = [r for r in needed if r.startswith("protobuf")]
    assert _lower_bound(protobuf[0]) >= _lower_bound(needed[0]), (protobuf, needed)
