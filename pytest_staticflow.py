"""staticflow's pytest plugin: fixtures for testing models, the `gpu` marker, readable failures.

Installed with staticflow (entry point ``pytest11``), so any pytest run in an
environment with staticflow has:

- ``sf_graph``: a new default graph for the test (the previous default comes back after);
- ``sf_session``: an ``sf.Session`` on that graph, the default session during the test,
  closed after it, also when the test fails;
- ``sf_seed``: TensorFlow's per-test seeds (87654321) as the graph-level seed and for
  NumPy's global generator and Python's ``random`` (restored after); its value is the seed;
- the marker ``@pytest.mark.gpu``: the test is skipped, with the reason, where staticflow
  has no GPU to run on;
- failures from staticflow's errors (sf.errors.OpError, and the ValueError/TypeError of
  graph construction, which name the op and the user's source line) are shown without
  staticflow's internal frames; ``--fulltrace`` shows them, and the ini option
  ``staticflow_hide_internal_frames = false`` turns this off.

This module imports only pytest and the standard library: staticflow is loaded by the
fixtures and hooks that need it, so a pytest run that does not use them pays nothing.
The helpers (assert_all_close, check_gradients, assert_no_new_plans) are in
``staticflow.testing``.
"""

from __future__ import annotations

import os
import sys

import pytest

_HIDE_INI = "staticflow_hide_internal_frames"
# exception types staticflow raises for a user's mistake (sf.errors.OpError is checked apart)
_USER_ERRORS = (ValueError, TypeError, LookupError, RuntimeError, AssertionError)
_hidden_frames = pytest.StashKey[dict]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        _HIDE_INI,
        type="bool",
        default=True,
        help="staticflow: leave staticflow's internal frames out of failures caused by its errors",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "gpu: needs a GPU that staticflow runs on; skipped, with the reason, where there is none"
    )


# --- fixtures ----------------------------------------------------------------------------------
@pytest.fixture
def sf_graph():
    """A new sf.Graph as the default graph for the test; the previous one comes back after."""
    from staticflow.testing.isolation import fresh_default_graph

    with fresh_default_graph() as graph:
        yield graph


@pytest.fixture
def sf_session(sf_graph):
    """An sf.Session on `sf_graph`, the default session during the test, closed after it."""
    from staticflow.runtime.session import Session

    sess = Session(graph=sf_graph)
    try:
        with sess.as_default():
            yield sess
    finally:
        sess.close()


@pytest.fixture
def sf_seed(sf_graph):
    """Deterministic seeds for the test (TF's per-test 87654321): the graph-level seed of
    `sf_graph`, so every random op gets a fixed op seed, and the seeds of NumPy's global
    generator and Python's `random`, restored after. Its value is the seed."""
    from staticflow.testing.isolation import DEFAULT_SEED, seeded

    with seeded(sf_graph, DEFAULT_SEED) as seed:
        yield seed


# --- the gpu marker ------------------------------------------------------------------------------
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gpu_items = [item for item in items if item.get_closest_marker("gpu") is not None]
    if not gpu_items:
        return
    from staticflow.runtime.session import list_local_devices
    from staticflow.test import gpu_device_name

    if gpu_device_name():
        return
    skip = pytest.mark.skip(
        reason=f"needs a GPU: staticflow has none to run on here (devices: {', '.join(list_local_devices())})"
    )
    for item in gpu_items:
        item.add_marker(skip)


# --- failures without staticflow's internal frames ---------------------------------------------
def _is_user_error(exc: BaseException) -> bool:
    errors = sys.modules.get("staticflow.framework.errors")
    if errors is not None and isinstance(exc, errors.OpError):
        return True
    return isinstance(exc, _USER_ERRORS)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """The failure of a test that a staticflow error ended shows the test's lines and the
    error's message (op, source line), not the frames inside staticflow."""
    if call.when == "call":
        _install_frame_filter(item)
    outcome = yield
    report = outcome.get_result()
    hidden = sum(item.stash.get(_hidden_frames, {}).values())
    if hidden and report.failed and hasattr(report.longrepr, "addsection"):
        report.longrepr.addsection(
            "staticflow",
            f"{hidden} frame{'s' if hidden != 1 else ''} inside staticflow hidden "
            "(pytest --fulltrace shows them)",
        )


def _install_frame_filter(item: pytest.Item) -> None:
    """Wrap the item's traceback filter (what pytest applies before showing a failure;
    --fulltrace skips it) so that it also drops staticflow's frames."""
    original = getattr(item, "_traceback_filter", None)
    if original is None or getattr(original, "_staticflow", False):
        return

    def tbfilter(excinfo):
        tb = original(excinfo)
        kept = _without_internal_frames(item, excinfo, tb)
        if kept is None:
            return tb
        item.stash.setdefault(_hidden_frames, {})[id(excinfo.value)] = len(tb) - len(kept)
        return kept

    tbfilter._staticflow = True
    item._traceback_filter = tbfilter


def _without_internal_frames(item: pytest.Item, excinfo, tb):
    """`tb` without staticflow's frames when `excinfo` is a staticflow error raised
    inside staticflow, else None."""
    sf = sys.modules.get("staticflow")
    if sf is None or not item.config.getini(_HIDE_INI) or not _is_user_error(excinfo.value):
        return None
    pkg = os.path.dirname(os.path.abspath(sf.__file__)) + os.sep
    full = excinfo.traceback
    if not len(full) or not str(full[-1].path).startswith(pkg):
        return None  # raised outside staticflow
    kept = [entry for entry in tb if not str(entry.path).startswith(pkg)]
    if not kept or len(kept) == len(tb):
        return None
    kept[-1] = kept[-1].with_repr_style(None)  # the line that called staticflow, in full
    return type(tb)(kept)
