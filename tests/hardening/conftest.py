"""Helpers of the hardening tests: run a snippet in a child interpreter.

Reproducers of memory errors run in a child process, so that a crash (a
segmentation fault, an abort) fails the one test instead of the whole run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

# generous: a hang is a failure too, but a slow machine must not fail a correct child
CHILD_TIMEOUT_S = 300


class ChildResult:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    @property
    def crashed(self) -> bool:
        """Killed by a signal (SIGSEGV, SIGABRT, ...) or by a sanitizer's report."""
        return self.returncode < 0 or "AddressSanitizer" in self.stderr

    def __repr__(self) -> str:
        return f"<child rc={self.returncode}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr[-4000:]}>"


def run_child(code: str, cwd=None, env=None) -> ChildResult:
    """Run `code` (dedented) with this interpreter; its stdout, stderr and exit status."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        cwd=cwd,
        env=full_env,
    )
    return ChildResult(proc)


@pytest.fixture
def child():
    """The run_child function."""
    return run_child
