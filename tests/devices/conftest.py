"""The simulated GPU (staticflow/backends/simulated.py) as fixtures."""

from __future__ import annotations

import pytest

from staticflow.backends import simulated


@pytest.fixture
def sim_gpu():
    """A fresh simulated GPU for the test (every CPU kernel), removed after it."""
    dev = simulated.install()
    try:
        yield dev
    finally:
        simulated.uninstall()


@pytest.fixture
def make_sim_gpu():
    """install(...) with the test's arguments (a kernel predicate, a device count); every
    device it installs is removed after the test."""
    n = []

    def make(**kwargs):
        n.append(1)
        return simulated.install(**kwargs)

    yield make
    for _ in n:
        simulated.uninstall()
