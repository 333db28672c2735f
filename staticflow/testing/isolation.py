"""Per-test isolation shared by sf.test.TestCase and the pytest fixtures.

Each test gets a new default graph (the graph and session defaults that were in
place come back afterwards, even when the test left a context open), and
optionally TensorFlow's per-test seeds: the graph-level seed, NumPy's global
generator and Python's `random`, whose states are restored afterwards.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import random
import shutil
import tempfile
from collections.abc import Iterator

import numpy as np

# TensorFlow's DEFAULT_GRAPH_SEED: the seed tf.test.TestCase sets for every test
DEFAULT_SEED = 87654321


@contextlib.contextmanager
def fresh_default_graph() -> Iterator:
    """A new Graph as the process's default graph for the block (as TF1's TestCase
    does with reset_default_graph); the previous defaults are restored after."""
    from staticflow.framework import ops as fops
    from staticflow.runtime import session as session_mod

    graphs, sessions = fops._graph_stack(), session_mod._session_stack()
    saved_graphs, saved_sessions = list(graphs), list(sessions)
    saved_default = fops._global_default_graph
    graphs.clear()
    sessions.clear()
    fops._global_default_graph = graph = fops.Graph()
    try:
        yield graph
    finally:
        graphs[:] = saved_graphs
        sessions[:] = saved_sessions
        fops._global_default_graph = saved_default


@contextlib.contextmanager
def seeded(graph, seed: int = DEFAULT_SEED) -> Iterator[int]:
    """`seed` as the graph-level seed of `graph` and the seed of NumPy's global
    generator and Python's `random` for the block (their states restored after)."""
    np_state, py_state = np.random.get_state(), random.getstate()
    np.random.seed(seed)
    random.seed(seed)
    graph.seed = seed
    try:
        yield seed
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)


_base_temp_dir: str | None = None


def base_temp_dir() -> str:
    """The process's directory for test files: under $TEST_TMPDIR when set, else the
    system's temporary directory; created on first use and removed at exit."""
    global _base_temp_dir
    if _base_temp_dir is None or not os.path.isdir(_base_temp_dir):
        parent = os.environ.get("TEST_TMPDIR") or None
        if parent:
            os.makedirs(parent, exist_ok=True)
        _base_temp_dir = tempfile.mkdtemp(prefix="staticflow_test_", dir=parent)
        atexit.register(shutil.rmtree, _base_temp_dir, True)
    return _base_temp_dir
