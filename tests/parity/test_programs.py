"""Every TF1-style program in programs/ gives TensorFlow's outputs under staticflow."""

from __future__ import annotations

import os

import pytest

from parity import differences, programs

PATHS = programs.paths()
IDS = [os.path.splitext(os.path.basename(p))[0] for p in PATHS]


def _param(path, name):
    bug = differences.PROGRAM_BUGS.get(name)
    marks = [pytest.mark.xfail(strict=True, reason=f"known bug: {bug}")] if bug else []
    return pytest.param(path, id=name, marks=marks)


@pytest.mark.parametrize("path", [_param(p, n) for p, n in zip(PATHS, IDS)])
def test_program_matches_tensorflow(path, tf_oracle, record_parity):
    name = os.path.splitext(os.path.basename(path))[0]
    want, error = tf_oracle.run_program(path)
    assert error is None, f"TensorFlow could not run {name}: {error}"
    record_parity("program", name=name)
    got = programs.run_staticflow(path)
    problems = programs.differences(path, got, want, differences.PROGRAMS.get(name))
    assert not problems, f"{name} differs from TensorFlow:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_program_follows_the_contract(path):
    name = os.path.basename(path)
    assert "_" in name, f"{name}: programs are named <topic>_<name>.py"
    assert not programs.foreign_imports(path), f"{name} imports {programs.foreign_imports(path)}"
    assert callable(getattr(programs.load(path), "program", None)), f"{name} defines no program(tf)"


def test_program_differences_name_existing_programs():
    assert set(differences.PROGRAMS) <= set(IDS), set(differences.PROGRAMS) - set(IDS)
    assert set(differences.PROGRAM_BUGS) <= set(IDS), set(differences.PROGRAM_BUGS) - set(IDS)
    for name, outputs in differences.PROGRAMS.items():
        assert all(reason.strip() for reason in outputs.values()), name


def test_program_comparison_catches_differences(tmp_path):
    path = tmp_path / "demo_program.py"
    path.write_text("RTOL = 1e-3\nATOL = 0.0\n")
    want = {"a": programs.np.array([1.0, 2.0], "float32"), "n": programs.np.array(["x", "y"])}
    assert programs.differences(str(path), dict(want), want) == []
    close = {"a": programs.np.array([1.0005, 2.0], "float32"), "n": programs.np.array([b"x", b"y"], object)}
    assert programs.differences(str(path), close, want) == []
    far = {"a": programs.np.array([1.01, 2.0], "float32"), "n": programs.np.array(["x", "z"])}
    found = programs.differences(str(path), far, want)
    assert len(found) == 2 and "worst at (0,)" in found[0] and "strings differ" in found[1]
    assert "outputs differ" in programs.differences(str(path), {"a": want["a"]}, want)[0]
    wrong_dtype = {"a": want["a"].astype("float64"), "n": want["n"]}
    assert "dtype" in programs.differences(str(path), wrong_dtype, want)[0]
