"""staticflow's static shapes are at least as precise as TensorFlow's.

The graphs are those of static_shape_cases.py; TensorFlow's shapes were recorded
from tf.compat.v1 graph mode by make_static_shapes.py. For every output, where
TensorFlow knows the rank or a dimension, staticflow must know the same; where
TensorFlow rejects the graph at construction, so must staticflow (and it rejects the few
graphs of REJECTED_EARLIER that TensorFlow builds but can never run).
"""

from __future__ import annotations

import importlib.util
import json
import pathlib

import pytest

import staticflow as sf

HERE = pathlib.Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("static_shape_cases", HERE / "static_shape_cases.py")
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)
RECORDED = json.loads((HERE.parent / "fixtures" / "tensorflow" / "static_shapes.json").read_text())["shapes"]


def _flatten(x) -> list:
    if isinstance(x, (list, tuple)):
        return [t for y in x for t in _flatten(y)]
    return [x]


def _reference(name):
    want = RECORDED[name]
    if isinstance(want, dict) and "unavailable" in want:
        return cases.EXPECTED[name]
    return want


def test_every_case_has_a_reference():
    assert set(RECORDED) == set(cases.CASES), "re-run make_static_shapes.py with TensorFlow"
    for name, want in RECORDED.items():
        if isinstance(want, dict) and "unavailable" in want:
            assert name in cases.EXPECTED, f"{name}: TensorFlow could not build it and no TF1 shape is given"


@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_static_shape_at_least_as_precise_as_tensorflow(name):
    want = _reference(name)
    g = sf.Graph()
    with g.as_default():
        if isinstance(want, dict) or name in cases.REJECTED_EARLIER:
            with pytest.raises((ValueError, TypeError)):
                cases.CASES[name](sf)
            return
        got = [t.shape for t in _flatten(cases.CASES[name](sf))]
    assert len(got) == len(want), f"{len(got)} outputs, TensorFlow has {len(want)}"
    for i, (s, w) in enumerate(zip(got, want)):
        if w is None:
            continue
        assert s.ndims == len(w), f"output {i}: staticflow {s}, TensorFlow {w}"
        for j, (a, b) in enumerate(zip(s.as_tuple(), w)):
            assert b is None or a == b, f"output {i} dim {j}: staticflow {s}, TensorFlow {w}"
