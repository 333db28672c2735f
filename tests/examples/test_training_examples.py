"""The training examples reach their held-out accuracy targets on the digits.

Softmax regression must reach 92% and the two-hidden-layer MLP 95% held-out
accuracy; both train with fixed seeds, so the figures are reproducible. Each
also runs once through the MNIST path (``--data DIR``) on small synthetic IDX
files written under a tmp dir.
"""

from __future__ import annotations

import gzip
import importlib.util
import pathlib
import struct

import numpy as np
import pytest

pytest.importorskip("sklearn")

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"
TARGETS = {"softmax_regression": 0.92, "mlp_digits": 0.95}


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", list(TARGETS))
def test_example_reaches_target_on_digits(name):
    accuracy = load_example(name).main(["--quiet"])
    assert isinstance(accuracy, float)
    assert accuracy >= TARGETS[name], f"{name}: held-out accuracy {accuracy:.4f} < {TARGETS[name]}"


def write_idx(path: pathlib.Path, arr: np.ndarray) -> None:
    data = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()
    with gzip.open(path, "wb") as f:
        f.write(data)


def synthetic_mnist(directory: pathlib.Path, n_train: int = 300, n_test: int = 100) -> None:
    """28x28 uint8 images whose class k lights up row band k (plus noise): easy to learn."""
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for i, k in enumerate(labels):
            images[i, 2 * k + 4 : 2 * k + 6, 4:24] = 255
        write_idx(directory / f"{split}-images-idx3-ubyte.gz", images)
        write_idx(directory / f"{split}-labels-idx1-ubyte.gz", labels)


@pytest.mark.parametrize("name", list(TARGETS))
def test_example_trains_on_mnist_files(name, tmp_path):
    synthetic_mnist(tmp_path)
    accuracy = load_example(name).main(["--data", str(tmp_path), "--epochs", "3", "--lr", "0.01", "--quiet"])
    assert accuracy >= 0.9
