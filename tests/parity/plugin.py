"""pytest hooks of the parity suite, loaded by tests/conftest.py (so also in xdist's controller).

- Without STATICFLOW_PARITY_PYTHON the parity tests are skipped, with one reason.
- With STATICFLOW_PARITY_REQUIRED=1 (as `make test` sets it) a missing environment
  stops the run instead.
- At the end, the terminal summary says how many ops, op cases and programs were
  compared with TensorFlow, and how many differences are listed.
"""

from __future__ import annotations

import os
from collections import defaultdict

import pytest

from parity import oracle

PARITY_DIR = os.path.dirname(os.path.abspath(__file__))
_seen: defaultdict[str, set] = defaultdict(set)  # what was compared, by kind and outcome


def _needs_tensorflow(item) -> bool:
    return "tf_oracle" in getattr(item, "fixturenames", ())


def pytest_sessionstart(session):
    python, required = oracle.environment()
    if required and (python is None or not os.path.exists(python)):
        raise pytest.UsageError(
            f"the TensorFlow parity suite is required ({oracle.REQUIRED_ENV}=1) but "
            f"{oracle.PYTHON_ENV}={python!r} names no Python; run `make test`, which creates .venv-tf"
        )
    _seen.clear()


def pytest_collection_modifyitems(config, items):
    if any(_needs_tensorflow(item) for item in items):
        _seen["collected"].add(True)
    python, _ = oracle.environment()
    if python is not None:
        return
    skip = pytest.mark.skip(reason=oracle.SKIP_REASON)
    for item in items:
        if _needs_tensorflow(item):
            item.add_marker(skip)


def pytest_runtest_logreport(report):
    """Note the comparisons a test made (in xdist's controller: reports carry user_properties)."""
    if report.when != "call":
        return
    seen = _seen
    for key, what in report.user_properties:
        if key != "parity":
            continue
        outcome = "xfailed" if hasattr(report, "wasxfail") else report.outcome
        seen["tensorflow"].add(what.get("tensorflow"))
        if what["kind"] == "program_op":
            seen[f"program_op:{outcome}"].add(what["op"])
        elif what["kind"] == "op":
            seen[f"op:{outcome}"].add(what["op"])
            seen[f"case:{outcome}"].add((what["op"], what["case"]))
            seen[f"variant:{outcome}"].add((what["op"], what["case"], what["variant"]))
        else:
            seen[f"program:{outcome}"].add(what["name"])


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    seen = _seen
    if not seen["collected"] and not any(k.startswith(("op:", "program:")) for k in seen):
        return  # no parity test in this run
    python, _ = oracle.environment()
    tr = terminalreporter
    tr.section("TensorFlow parity")
    if python is None:
        tr.write_line(f"skipped: {oracle.SKIP_REASON}")
        return
    from parity import differences

    intended, bugs = differences.count()
    version = ", ".join(sorted(v for v in seen["tensorflow"] if v)) or "?"

    def n(kind: str, *outcomes: str) -> int:
        return len(set().union(*(seen[f"{kind}:{o}"] for o in outcomes)))

    every = ("passed", "failed", "xfailed")
    if not n("variant", *every) and not n("program", *every) and not n("program_op", *every):
        tr.write_line("no op or program was compared with TensorFlow in this run")
        return
    tr.write_line(
        f"compared with TensorFlow {version}: {n('op', *every)} ops, {n('case', *every)} op cases "
        f"({n('variant', *every)} graphs with exact and partially known shapes: values, gradients, "
        f"static shapes), {n('program', *every)} programs"
    )
    if n("program_op", *every):
        tr.write_line(
            f"{n('program_op', *every)} ops of session state (queues, readers, iterators) compared "
            f"through the programs that run them; {n('program_op', 'failed')} run by no program"
        )
    tr.write_line(
        f"agreed: {n('variant', 'passed')} graphs, {n('program', 'passed')} programs; "
        f"disagreed: {n('variant', 'failed')} graphs, {n('program', 'failed')} programs; "
        f"known bugs (strict xfail): {n('variant', 'xfailed')} graphs, {n('program', 'xfailed')} programs"
    )
    tr.write_line(
        f"differences listed in tests/parity/differences.py: {intended} intended, {bugs} known bugs"
    )
