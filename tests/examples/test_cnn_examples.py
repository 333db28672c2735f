"""The convolutional examples train on the digits: LeNet reaches the issue's 97%, and the
residual network with batch norm learns (its moving averages feed inference)."""

from __future__ import annotations

import pathlib
import sys

import pytest

pytest.importorskip("sklearn")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "examples"))

import cnn_digits  # noqa: E402


def test_lenet_reaches_97_percent():
    assert cnn_digits.main(["--model", "lenet", "--quiet"]) >= 0.97


def test_resnet_with_batch_norm_learns():
    # inference runs on the moving averages the UPDATE_OPS maintain; chance is 0.1. Initial
    # weights follow TF1's seeding (the op seed is the graph's op count), so any change in the
    # ops a layer builds draws other weights: after 4 epochs runs land between 0.75 and 0.92
    assert cnn_digits.main(["--model", "resnet", "--quiet", "--epochs", "4"]) >= 0.7
