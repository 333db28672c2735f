"""TF1-style parity programs (tests/parity/programs/) give TensorFlow's results.

Each program with a recorded TensorFlow run (tests/fixtures/tensorflow/program_<name>.npz,
made by make_program_outputs.py there) runs under staticflow and every array it returns
is compared with TensorFlow's, within the program's RTOL and ATOL. No TensorFlow needed.
"""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np
import pytest

import staticflow as sf

HERE = pathlib.Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures" / "tensorflow"
PROGRAMS = sorted(
    p.stem for p in (HERE / "programs").glob("*.py") if (FIXTURES / f"program_{p.stem}.npz").exists()
)


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"parity_program_{name}", HERE / "programs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_programs_have_fixtures():
    assert len(PROGRAMS) >= 4


@pytest.mark.parametrize("name", PROGRAMS)
def test_program_matches_tensorflow(name):
    module = _load(name)
    with sf.Graph().as_default():
        got = module.program(sf)
    want = np.load(FIXTURES / f"program_{name}.npz")
    assert sorted(got) == sorted(want.files)
    rtol, atol = getattr(module, "RTOL", 1e-5), getattr(module, "ATOL", 1e-6)
    for key in want.files:
        g, w = np.asarray(got[key]), want[key]
        assert g.dtype == w.dtype, f"{key}: dtype {g.dtype}, TensorFlow {w.dtype}"
        assert g.shape == w.shape, f"{key}: shape {g.shape}, TensorFlow {w.shape}"
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, equal_nan=True, err_msg=key)
