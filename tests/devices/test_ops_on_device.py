"""The registry's op tests on the simulated GPU: the selection `make test-gpu` runs on a GPU
(tests/ondevice.py), here one case per op with kernels, so that placing, copying and
running every op family on a device's memory is tested on every machine."""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np
import ondevice
import pytest

from staticflow.backends import simulated
from staticflow.ops import registry

_HERE = pathlib.Path(__file__).resolve().parent


def _registry_tests():
    path = _HERE.parent / "ops" / "test_registry_ops.py"
    spec = importlib.util.spec_from_file_location("_registry_ops_on_device", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _selected() -> list[str]:
    out = []
    for d in registry.all_ops():
        if d.internal or d.lower is None or d.cases is None:
            continue
        cases = d.cases(np.random.default_rng(1234))
        if cases and cases[0].scenario is None:
            out.append(d.name)
    return out


SELECTED = _selected()


@pytest.fixture(scope="module")
def on_sim_gpu():
    saved = ondevice.MODE
    dev = simulated.install()
    ondevice.MODE = "simulated"
    try:
        yield dev
    finally:
        ondevice.MODE = saved
        simulated.uninstall()


@pytest.fixture(scope="module")
def registry_tests():
    return _registry_tests()


@pytest.mark.parametrize("chunk", range(8))
def test_first_case_of_every_op_on_the_simulated_gpu(chunk, on_sim_gpu, registry_tests):
    """Each op's values equal its reference with the op on the device; an op that placement
    kept on the CPU (no kernel there: its lowering runs host code) is the exception, and
    every other op launched kernels on the device."""
    silent = []
    for name in SELECTED[chunk::8]:
        before = on_sim_gpu.counters.launches
        registry_tests.test_op_matches_reference(name, 0)
        if on_sim_gpu.counters.launches == before and name not in ondevice.FELL_BACK:
            silent.append(name)
    # an op that launched nothing and was not refused: its case computes nothing at run time
    # (folded to a constant while planning, or an empty tensor)
    assert len(silent) <= len(SELECTED[chunk::8]) // 3, silent
