"""A pytest plugin for the fuzz tests: their counts per outcome class and input kind are
printed in pytest's terminal summary, whether or not output capture is on (-s), and with
xdist too (the root conftest loads it, so the controlling process has the hook)."""

from __future__ import annotations

import pytest

_KEY = "staticflow_fuzz_summary"


@pytest.fixture
def fuzz_report(request):
    """Call with a summary text to have it printed in the terminal summary."""

    def record(text: str) -> None:
        request.node.user_properties.append((_KEY, text))

    return record


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    texts = [
        v
        for reports in terminalreporter.stats.values()
        for r in reports
        if getattr(r, "when", None) == "call"
        for k, v in getattr(r, "user_properties", ())
        if k == _KEY
    ]
    if texts:
        terminalreporter.section("fuzz")
        for t in texts:
            terminalreporter.write_line(t)
