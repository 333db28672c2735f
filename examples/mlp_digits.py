"""A two-hidden-layer perceptron (relu) trained with Adam, TensorFlow 1.x style.

Trains on scikit-learn's 8x8 digits by default (nothing to download), or on
MNIST with ``--data DIR`` pointing at its four IDX files (plain or .gz), and
prints the held-out accuracy. The model and training code is TensorFlow 1.x's
API unchanged: with ``import tensorflow.compat.v1 as sf`` (and eager execution
disabled) the same lines build and train the same graph on TensorFlow.

Run: ``python examples/mlp_digits.py [--data DIR] [--epochs N] [--hidden 128,64] [--quiet]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from tqdm import tqdm

import staticflow as sf
from staticflow.datasets import batches, load_digits_split

# Per data set: (epochs, batch size, learning rate).
DEFAULTS = {"digits": (20, 32, 0.003), "mnist": (3, 100, 0.001)}


def load_data(data_dir: str | None) -> tuple[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """(name, (x_train, y_train, x_test, y_test)): MNIST from `data_dir`, else the digits."""
    if data_dir:
        (x_train, y_train), (x_test, y_test) = sf.io.load_mnist(data_dir)
        return "mnist", (x_train, y_train, x_test, y_test)
    return "digits", load_digits_split(test_fraction=0.25, seed=0)


def dense(x: sf.Tensor, units: int, name: str, activation=None) -> sf.Tensor:
    """A fully connected layer: glorot-uniform weights, zero biases, optional activation."""
    with sf.variable_scope(name):
        w = sf.get_variable("weights", [int(x.shape[1]), units], initializer=sf.glorot_uniform_initializer())
        b = sf.get_variable("biases", [units], initializer=sf.zeros_initializer())
    y = sf.matmul(x, w) + b
    return activation(y) if activation is not None else y


def build_model(
    n_features: int, hidden: tuple[int, ...], n_classes: int, learning_rate: float
) -> dict[str, sf.Tensor]:
    """The graph: relu hidden layers, linear logits, mean cross-entropy, an Adam step, accuracy."""
    x = sf.placeholder(sf.float32, [None, n_features], name="x")
    y = sf.placeholder(sf.int64, [None], name="y")
    h = x
    for i, units in enumerate(hidden):
        h = dense(h, units, f"hidden{i + 1}", activation=sf.nn.relu)
    logits = dense(h, n_classes, "logits")
    loss = sf.reduce_mean(sf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    global_step = sf.train.get_or_create_global_step()
    train_op = sf.train.AdamOptimizer(learning_rate).minimize(loss, global_step=global_step)
    accuracy = sf.reduce_mean(sf.cast(sf.equal(sf.argmax(logits, 1), y), sf.float32))
    return {"x": x, "y": y, "loss": loss, "train_op": train_op, "accuracy": accuracy}


def main(argv: list[str] | None = None) -> float:
    """Train, print and return the held-out accuracy."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", metavar="DIR", help="directory with the MNIST IDX files (default: the digits)")
    ap.add_argument("--epochs", type=int, help="passes over the training set (default: 20 digits, 3 MNIST)")
    ap.add_argument("--batch-size", type=int, help="examples per step (default: 32 digits, 100 MNIST)")
    ap.add_argument("--lr", type=float, help="Adam's learning rate (default: 0.003 digits, 0.001 MNIST)")
    ap.add_argument("--hidden", default="128,64", help="hidden layer sizes, comma-separated (default 128,64)")
    ap.add_argument("--seed", type=int, default=0, help="graph-level random seed and shuffling seed")
    ap.add_argument("--quiet", action="store_true", help="no progress bar and no output")
    args = ap.parse_args(argv)

    name, (x_train, y_train, x_test, y_test) = load_data(args.data)
    epochs, batch_size, lr = DEFAULTS[name]
    epochs = args.epochs if args.epochs is not None else epochs
    batch_size = args.batch_size or batch_size
    lr = args.lr or lr
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    hidden = tuple(int(u) for u in args.hidden.split(",") if u)

    graph = sf.Graph()
    with graph.as_default():
        sf.set_random_seed(args.seed)
        m = build_model(x_train.shape[1], hidden, n_classes, lr)
        init = sf.global_variables_initializer()

    rng = np.random.default_rng(args.seed)
    steps_per_epoch = -(-len(x_train) // batch_size)
    t0 = time.perf_counter()
    with sf.Session(graph=graph) as sess:
        sess.run(init)
        with tqdm(total=epochs * steps_per_epoch, desc=f"mlp on {name}", disable=args.quiet) as bar:
            for epoch in range(epochs):
                total, n = 0.0, 0
                for xb, yb in batches(x_train, y_train, batch_size, rng):
                    _, loss = sess.run([m["train_op"], m["loss"]], {m["x"]: xb, m["y"]: yb})
                    total, n = total + float(loss), n + 1
                    bar.set_postfix(epoch=epoch + 1, loss=f"{total / n:.4f}", refresh=False)
                    bar.update()
        accuracy = float(sess.run(m["accuracy"], {m["x"]: x_test, m["y"]: y_test}))
    if not args.quiet:
        print(
            f"held-out accuracy: {accuracy:.4f} ({len(x_test)} {name} examples, "
            f"{epochs} epochs in {time.perf_counter() - t0:.1f} s)"
        )
    return accuracy


if __name__ == "__main__":
    main()
