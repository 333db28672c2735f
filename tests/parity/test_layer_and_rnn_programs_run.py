"""The layer and RNN parity programs run under staticflow and return numpy arrays; the shared
parity runner compares them with TensorFlow's results."""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np
import pytest

import staticflow as sf

PROGRAMS = pathlib.Path(__file__).parent / "programs"
NAMES = [
    "layers_default_names",
    "layers_conv_variants",
    "rnn_cells",
    "rnn_multi_dropout",
    "rnn_sequence_length",
]


@pytest.mark.parametrize("name", NAMES)
def test_program_runs_under_staticflow(name):
    spec = importlib.util.spec_from_file_location(f"parity_{name}", PROGRAMS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with sf.Graph().as_default():
        out = module.program(sf)
    assert out and all(isinstance(v, np.ndarray) for v in out.values())
    assert all(np.isfinite(v).all() for v in out.values() if v.dtype.kind == "f")
