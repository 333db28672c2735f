"""A TF1 tf.test.TestCase file runs unmodified under pytest with staticflow and with TensorFlow.

tf1_idiom_cases.py is run by pytest in a subprocess, once with ``import staticflow as
tf`` (this environment) and once with TensorFlow (the parity environment's Python,
STATICFLOW_PARITY_PYTHON, with STATICFLOW_TEST_ENGINE=tensorflow). Every test must
have its expected outcome under both: ``test_fails_*`` fail with an AssertionError
(the deliberate failures), all others pass.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

CASES = pathlib.Path(__file__).resolve().with_name("tf1_idiom_cases.py")
PYTHON_ENV = "STATICFLOW_PARITY_PYTHON"
REQUIRED_ENV = "STATICFLOW_PARITY_REQUIRED"


def _expected(test_id: str) -> str:
    return "failed" if test_id.rsplit(".", 1)[-1].startswith("test_fails_") else "passed"


def _run_cases(python: str, engine: str, tmp_path: pathlib.Path) -> dict[str, tuple[str, str]]:
    """{class.test: (outcome, first line of the failure message)} of one pytest run of the cases."""
    run_dir = tmp_path / engine
    run_dir.mkdir()
    (run_dir / "pytest.ini").write_text("[pytest]\n")  # none of this project's settings
    cases = run_dir / CASES.name  # nor its conftest files: the cases stand alone, as a user's file
    shutil.copyfile(CASES, cases)
    xml_path = run_dir / "report.xml"
    env = dict(os.environ, STATICFLOW_TEST_ENGINE=engine, TF_CPP_MIN_LOG_LEVEL="3", TF_USE_LEGACY_KERAS="1")
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    cmd = [
        python,
        "-m",
        "pytest",
        str(cases),
        "-q",
        "-p",
        "no:cacheprovider",
        "-c",
        str(run_dir / "pytest.ini"),
    ]
    cmd += ["--rootdir", str(run_dir), f"--junitxml={xml_path}"]
    proc = subprocess.run(cmd, cwd=run_dir, env=env, capture_output=True, text=True, timeout=300)
    if not xml_path.exists():
        raise AssertionError(
            f"pytest under {engine} wrote no report (exit {proc.returncode}):\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    outcomes = {}
    for case in ET.parse(xml_path).getroot().iter("testcase"):
        test_id = f"{case.get('classname').rsplit('.', 1)[-1]}.{case.get('name')}"
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            el = case.find(tag)
            if el is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                message = (el.get("message") or "").splitlines()[0] if el.get("message") else ""
                break
        if case.get("name") == "test_session" and outcome == "skipped":
            continue  # TensorFlow's session helper, which pytest collects and skips there only
        outcomes[test_id] = (outcome, message)
    assert outcomes, f"pytest under {engine} ran no test:\n{proc.stdout[-3000:]}"
    return outcomes


def _check(outcomes: dict[str, tuple[str, str]], engine: str) -> None:
    wrong = [
        f"{tid}: {out}{f' ({msg})' if msg else ''}, expected {_expected(tid)}"
        for tid, (out, msg) in sorted(outcomes.items())
        if out != _expected(tid) or (out == "failed" and not msg.startswith("AssertionError"))
    ]
    assert not wrong, f"under {engine}:\n" + "\n".join(wrong)


@pytest.fixture(scope="module")
def staticflow_outcomes(tmp_path_factory):
    return _run_cases(sys.executable, "staticflow", tmp_path_factory.mktemp("tf1_idiom"))


def test_cases_file_is_not_collected_by_the_suite():
    assert not CASES.name.startswith("test_") and not CASES.stem.endswith("_test")


def test_tf1_idiom_file_runs_under_staticflow(staticflow_outcomes):
    _check(staticflow_outcomes, "staticflow")
    assert sum(out == "failed" for out, _ in staticflow_outcomes.values()) >= 10
    assert sum(out == "passed" for out, _ in staticflow_outcomes.values()) >= 20


def _parity_python() -> str:
    python = os.environ.get(PYTHON_ENV)
    required = os.environ.get(REQUIRED_ENV) == "1"
    if not python:
        if required:
            pytest.fail(f"{REQUIRED_ENV}=1 but {PYTHON_ENV} is not set", pytrace=False)
        pytest.skip(f"{PYTHON_ENV} names no Python with TensorFlow and pytest (`make test` sets it)")
    for module, hint in (
        ("tensorflow.compat.v1", "tensorflow-cpu"),
        ("pytest", "pytest (add it to tests/parity/requirements.txt)"),
    ):
        probe = subprocess.run(
            [python, "-c", f"import {module}"],
            capture_output=True,
            text=True,
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
            timeout=300,
        )
        if probe.returncode != 0:
            why = f"{PYTHON_ENV}={python} cannot import {module}: the parity environment needs {hint}"
            if required:
                pytest.fail(f"{why}\n{probe.stderr.strip()[-500:]}", pytrace=False)
            pytest.skip(why)
    return python


def test_tf1_idiom_file_has_the_same_outcomes_under_tensorflow(staticflow_outcomes, tmp_path):
    python = _parity_python()
    tf_outcomes = _run_cases(python, "tensorflow", tmp_path)
    _check(tf_outcomes, "tensorflow")
    assert sorted(tf_outcomes) == sorted(staticflow_outcomes)
    assert {k: v[0] for k, v in tf_outcomes.items()} == {k: v[0] for k, v in staticflow_outcomes.items()}
