"""Checkpoints survive kill -9 at any point of a save, and concurrent saves to one prefix.

The work happens in tests/train/crash_harness.py (one process that forks the savers, kills them
and checks every checkpoint left behind); these tests run it and assert its counts: no
unloadable checkpoint, every loaded state one that was saved and not older than the last save
that returned, no temporary or unreferenced file left after the next complete save, no failed
restore while two processes save, and a final checkpoint that is the last save of one of them.
`make crash-test` runs the full version (200 kills per scenario, 200 concurrent rounds).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HARNESS = os.path.join(os.path.dirname(__file__), "crash_harness.py")
FAILURES = ("unloadable", "wrong_state", "older_than_acked", "leftovers_after_clean_save",
            "restore_failures", "corrupt_final", "child_errors")  # fmt: skip


def _harness(tmp_path, *args: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    r = subprocess.run(
        [sys.executable, HARNESS, *args, "--dir", str(tmp_path)],
        capture_output=True, text=True, timeout=900, env=env,
    )  # fmt: skip
    lines = r.stdout.strip().splitlines()
    assert lines, f"the harness printed nothing (status {r.returncode}): {r.stderr[-3000:]}"
    counts = json.loads(lines[-1])
    print(json.dumps(counts))
    failed = {k: counts[k] for k in FAILURES if counts[k]}
    assert not failed and r.returncode == 0, f"{failed} {counts['messages']} {r.stderr[-3000:]}"
    return counts


def test_kill_at_every_point_of_a_save(tmp_path):
    """Deterministic: a kill at each progress point of a save (after each write, fsync, rename,
    before each deletion), to a fixed prefix and to step prefixes."""
    counts = _harness(tmp_path, "points")
    assert counts["kills"] == counts["points"] >= 20
    assert counts["leftovers_seen"] > 0  # the crashes did leave files, and the next save removed them


@pytest.mark.parametrize("scenario", ["fixed", "steps"])
def test_random_kills_during_repeated_saves(tmp_path, scenario):
    counts = _harness(tmp_path, scenario, "--kills", "20", "--seed", "1")
    assert counts["kills"] == 20 and counts["saves_acked"] >= 20
    assert counts["checkpoints_loaded"] >= 20


def test_two_processes_save_while_a_third_restores(tmp_path):
    counts = _harness(tmp_path, "concurrent", "--rounds", "4", "--seed", "1")
    assert counts["rounds"] == 4 and counts["saves"] == 4 * 2 * 12
    assert counts["restores"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("scenario", ["fixed", "steps"])
def test_200_random_kills(tmp_path, scenario):
    counts = _harness(tmp_path, scenario, "--kills", "200", "--seed", "2")
    assert counts["kills"] == 200


@pytest.mark.slow
def test_200_concurrent_rounds(tmp_path):
    counts = _harness(tmp_path, "concurrent", "--rounds", "200", "--seed", "2")
    assert counts["rounds"] == 200
