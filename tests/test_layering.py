"""The package's layers import downward only: every module's imports (function-level ones
included) are checked against the declared order, so an import cycle between layers cannot
come back. The order and the reasons for it are in docs/layers.md."""

from __future__ import annotations

import ast
import pathlib

import staticflow

PACKAGE = pathlib.Path(staticflow.__file__).resolve().parent

# bottom to top; a unit (a subpackage or top-level module of staticflow) may import units of
# its own layer or below. Units not named here are the public API's top modules.
LAYERS = [
    {"protobuf", "framework", "util", "flags", "gfile", "logging"},
    {"ops"},
    {"autodiff", "compiler", "viz"},
    {"passes", "backends"},
    {"runtime"},
    {"testing", "summary", "io", "data", "layers", "train", "graph_util", "saved_model", "test"},
]
TOP = len(LAYERS)  # everything else: the public API's modules (nn, losses, contrib, cli, ...)

def layer_of(unit: str) -> int:
    for k, units in enumerate(LAYERS):
        if unit in units:
            return k
    return TOP


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(mod: str, is_package: bool, source: str):
    """(line, imported module path inside staticflow, "" for the package itself) of every
    import of module `mod`, function-level ones included."""
    package = mod.split(".") if is_package else mod.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                names = [".".join(["staticflow", *base, *([node.module] if node.module else [])])]
            else:
                names = [node.module or ""]
            if names[0] == "staticflow":  # `from staticflow import viz`: modules of the package
                names = ["staticflow." + a.name for a in node.names]
        else:
            continue
        for name in names:
            if name == "staticflow":
                yield node.lineno, ""
            elif name.startswith("staticflow."):
                yield node.lineno, name[len("staticflow.") :]


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name.endswith("_pb2.py") or path.name == "_build_cpu.py":
            continue  # generated code; the build script (it imports nothing of staticflow)
        yield path, _module_name(path)


def _unit_layer(unit: str) -> int:
    """A unit's layer; the package itself and names its __init__ defines are the top."""
    if unit == "staticflow" or not ((PACKAGE / unit).is_dir() or (PACKAGE / f"{unit}.py").exists()):
        return TOP
    return layer_of(unit)


def violations() -> list[str]:
    out = []
    for path, mod in _modules():
        if not mod:
            continue  # staticflow/__init__.py: the top imports everything
        unit = mod.split(".")[0]
        for line, target in _imports(mod, path.name == "__init__.py", path.read_text()):
            tunit = target.split(".")[0] if target else "staticflow"
            if tunit == unit or _unit_layer(tunit) <= layer_of(unit):
                continue
            where = f"staticflow/{path.relative_to(PACKAGE)}:{line}"
            out.append(f"{where}: {mod} imports {target or 'staticflow'}")
    return out


def test_layers_import_only_downward():
    found = violations()
    assert not found, "imports against the layer order (docs/layers.md):\n" + "\n".join(found)


def test_the_framework_imports_nothing_above_it():
    for path, mod in _modules():
        if mod.split(".")[0] != "framework":
            continue
        for line, target in _imports(mod, path.name == "__init__.py", path.read_text()):
            unit = target.split(".")[0]
            assert unit in {"framework", "protobuf"}, f"{mod}:{line} imports staticflow.{target}"


def test_the_checker_sees_function_level_and_relative_imports():
    src = "def f():\n    from staticflow.runtime import session\n    from ..ops import registry\n"
    found = list(_imports("framework.graph_walk", False, src))
    assert found == [(2, "runtime"), (3, "ops")]
    assert _unit_layer("runtime") > layer_of("framework") and _unit_layer("staticflow") == TOP
