"""The TF1-style parity programs: finding, loading, running under staticflow, comparing.

A program is a file programs/<topic>_<name>.py that imports only NumPy and the
standard library and defines `program(tf) -> dict[str, numpy.ndarray]`: it builds
a graph with the `tf` it is given (staticflow, or tensorflow.compat.v1 with v2
behaviour disabled), runs it in a tf.Session and returns named results.
Optional module attributes RTOL and ATOL set the float tolerance (defaults below).
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import os
import sys

import numpy as np

DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs")
DEFAULT_RTOL = 1e-5
DEFAULT_ATOL = 1e-6


def paths() -> list[str]:
    """Every program file, sorted."""
    return sorted(
        os.path.join(DIR, f) for f in os.listdir(DIR) if f.endswith(".py") and not f.startswith(("_", "."))
    )


def load(path: str):
    name = "parity_program_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def foreign_imports(path: str) -> list[str]:
    """Modules the program imports besides NumPy and the standard library."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append("." if node.level else node.module or "")
    allowed = set(sys.stdlib_module_names) | {"numpy", "__future__"}
    return sorted({m for m in found if m.split(".")[0] not in allowed})


def run_staticflow(path: str) -> dict[str, np.ndarray]:
    """`program(staticflow)` in a fresh default graph."""
    import staticflow as sf
    from parity import protocol

    module = load(path)
    sf.reset_default_graph()
    try:
        return {str(k): protocol.as_array(v) for k, v in module.program(sf).items()}
    finally:
        sf.reset_default_graph()


@functools.cache
def ops_used() -> dict[str, tuple[str, ...]]:
    """The programs whose staticflow graphs hold each op type: op type -> program names.

    Ops whose values come from session state (queues, readers, iterators) have no graph
    case of their own in test_ops.py; the programs that run them compare them with
    TensorFlow. Each program runs once under staticflow, with the graph's op creation
    recorded; one that fails is left out here (its own test reports it)."""
    from staticflow.framework import ops as fops

    used: dict[str, set[str]] = {}
    original = fops.Graph._add_op
    for path in paths():
        name = os.path.splitext(os.path.basename(path))[0]

        def add(graph, op, _name=name):
            used.setdefault(op.type, set()).add(_name)
            return original(graph, op)

        fops.Graph._add_op = add
        try:
            run_staticflow(path)
        except Exception:  # noqa: BLE001 - the program's own test reports it
            for names in used.values():
                names.discard(name)
        finally:
            fops.Graph._add_op = original
    return {op: tuple(sorted(names)) for op, names in used.items() if names}


def differences(path: str, got: dict, want: dict, excused: dict[str, str] | None = None) -> list[str]:
    """How staticflow's outputs differ from TensorFlow's: keys, shapes, dtypes, values."""
    from parity import compare, protocol

    module = load(path)
    rtol = getattr(module, "RTOL", DEFAULT_RTOL)
    atol = getattr(module, "ATOL", DEFAULT_ATOL)
    excused = excused or {}
    problems = []
    if set(got) != set(want):
        problems.append(
            f"outputs differ: staticflow only {sorted(set(got) - set(want))}, "
            f"TensorFlow only {sorted(set(want) - set(got))}"
        )
    for key in sorted(set(got) & set(want)):
        g, w = protocol.as_array(got[key]), protocol.as_array(want[key])
        if key in excused:
            continue
        if g.dtype.kind in "OSU" or w.dtype.kind in "OSU":
            problem = compare.array_problem(g, w, key)
        elif g.dtype != w.dtype:
            problem = f"{key}: dtype {g.dtype}, TensorFlow's {w.dtype}"
        elif g.shape != w.shape:
            problem = f"{key}: shape {g.shape}, TensorFlow's {w.shape}"
        elif w.dtype.kind == "c" or compare.is_float(w.dtype):
            problem = None
            if w.dtype.kind == "V":  # bfloat16 widens exactly to float32
                g, w = g.astype(np.float32), w.astype(np.float32)
            if not np.allclose(g, w, rtol=rtol, atol=atol, equal_nan=True):
                err = np.abs(g.astype(np.float64) - w.astype(np.float64))
                i = tuple(int(k) for k in np.unravel_index(np.nanargmax(err), err.shape)) if err.ndim else ()
                problem = (
                    f"{key}: values differ beyond rtol={rtol}, atol={atol}; worst at {i}: "
                    f"staticflow {g[i]!r}, TensorFlow {w[i]!r}"
                )
        else:
            problem = compare.array_problem(g, w, key)
        if problem:
            problems.append(problem)
    return problems

