"""Shared fixtures of the example's tests.

pytest puts this file's folder on sys.path before it imports the tests, so they
import `tinyclf` as they would an installed package (a real project installs it).
"""

from __future__ import annotations

import pytest
from tinyclf import make_blobs

N_FEATURES, N_CLASSES = 4, 3


@pytest.fixture(scope="session")
def blobs():
    """(x, labels): 240 examples of 3 well separated classes."""
    return make_blobs(240, N_FEATURES, N_CLASSES, seed=1)
