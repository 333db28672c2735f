"""Fixtures of the TensorFlow parity suite: one TensorFlow worker per test process."""

from __future__ import annotations

import pytest

from parity import oracle


@pytest.fixture(scope="session")
def tf_oracle():
    """The TensorFlow worker, started once per test process and closed at the end.

    The parity tests are skipped before they get here when no environment is named
    (see plugin.py); one that is named but does not start is an error of every test."""
    python, _ = oracle.environment()
    if python is None:
        pytest.skip(oracle.SKIP_REASON)
    try:
        worker = oracle.Oracle(python)
    except oracle.OracleError as e:
        pytest.fail(f"the TensorFlow parity environment is broken: {e}", pytrace=False)
    yield worker
    code = worker.close()
    assert code == 0, f"the TensorFlow worker exited with status {code}:\n{worker.log_tail()}"


@pytest.fixture
def record_parity(request, tf_oracle):
    """record_parity(kind, **what): note a comparison for the run's parity summary."""

    def record(kind: str, **what) -> None:
        what["tensorflow"] = tf_oracle.versions.get("tensorflow")
        request.node.user_properties.append(("parity", {"kind": kind, **what}))

    return record
