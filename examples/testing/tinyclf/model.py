"""A tiny classifier in TF1 style: one hidden layer, softmax cross-entropy, gradient descent.

`forward` is the model as a function of tensors (so a test can differentiate it with
respect to any of them); `build_model` wraps it around variables and placeholders and
adds the loss, the accuracy and a training op; `train_step` and `batches` train it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

import staticflow as tf


class Model(NamedTuple):
    x: tf.Tensor  # [batch, features] placeholder
    labels: tf.Tensor  # [batch] int64 placeholder
    logits: tf.Tensor
    loss: tf.Tensor  # mean cross-entropy
    accuracy: tf.Tensor
    predictions: tf.Tensor
    train_op: tf.Operation
    params: dict  # name -> Variable


def initial_params(n_features: int, n_classes: int, hidden: int = 16, seed: int = 0) -> dict:
    """Glorot-uniform weights and zero biases, from NumPy (the same numbers on every engine)."""
    rng = np.random.default_rng(seed)

    def glorot(fan_in, fan_out):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, (fan_in, fan_out))

    return {
        "w1": glorot(n_features, hidden),
        "b1": np.zeros(hidden),
        "w2": glorot(hidden, n_classes),
        "b2": np.zeros(n_classes),
    }


def forward(x, w1, b1, w2, b2):
    """Logits of a batch: relu(x w1 + b1) w2 + b2."""
    hidden = tf.nn.relu(tf.matmul(x, w1) + b1, name="hidden")
    return tf.add(tf.matmul(hidden, w2), b2, name="logits")


def cross_entropy(logits, labels):
    """Mean softmax cross-entropy of integer labels."""
    per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    return tf.reduce_mean(per_example, name="loss")


def build_model(
    n_features: int,
    n_classes: int,
    hidden: int = 16,
    learning_rate: float = 0.5,
    dtype=tf.float32,
    seed: int = 0,
) -> Model:
    """The classifier's graph in the default graph."""
    x = tf.placeholder(dtype, [None, n_features], name="x")
    labels = tf.placeholder(tf.int64, [None], name="labels")
    params = {
        name: tf.Variable(value.astype(dtype.as_numpy_dtype), name=name)
        for name, value in initial_params(n_features, n_classes, hidden, seed).items()
    }
    logits = forward(x, **params)
    loss = cross_entropy(logits, labels)
    predictions = tf.argmax(logits, axis=1, name="predictions")
    accuracy = tf.reduce_mean(tf.cast(tf.equal(predictions, labels), dtype), name="accuracy")
    train_op = tf.train.GradientDescentOptimizer(learning_rate).minimize(loss)
    return Model(x, labels, logits, loss, accuracy, predictions, train_op, params)


def make_blobs(n: int, n_features: int, n_classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A toy data set: one Gaussian blob per class around a random centre."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 4.0, (n_classes, n_features))
    labels = rng.integers(0, n_classes, n)
    x = centres[labels] + rng.normal(0.0, 0.8, (n, n_features))
    return x.astype(np.float32), labels.astype(np.int64)


def batches(
    x: np.ndarray, y: np.ndarray, batch_size: int, rng=None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Shuffled (if `rng`) batches of exactly `batch_size` examples: the remainder is
    dropped, so every training step has the same shapes and runs the same plan."""
    order = rng.permutation(len(x)) if rng is not None else np.arange(len(x))
    for start in range(0, len(x) - batch_size + 1, batch_size):
        idx = order[start : start + batch_size]
        yield x[idx], y[idx]


def train_step(sess, model: Model, x: np.ndarray, y: np.ndarray) -> float:
    """One gradient-descent step on a batch; the batch's loss before the step."""
    loss, _ = sess.run([model.loss, model.train_op], {model.x: x, model.labels: y})
    return float(loss)
