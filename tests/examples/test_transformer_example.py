"""The tiny transformer example learns to reverse sequences (the issue's 95% token accuracy)."""

from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "examples"))

import transformer_reverse  # noqa: E402


def test_transformer_learns_to_reverse_sequences():
    assert transformer_reverse.main(["--quiet", "--steps", "150"]) >= 0.95
