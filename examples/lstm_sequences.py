"""An LSTM run by dynamic_rnn learns the majority bit of variable-length bit strings.

Each example is a string of 1 to MAX_LENGTH bits (an odd count, so there is no tie), padded
with zero bits to MAX_LENGTH; its label is whether it has more ones than zeros. The padding
looks like zeros, so only a network that stops at each string's end (`sequence_length`)
can be right: dynamic_rnn copies the state through past the length, and the final state
feeds a logistic classifier. Trained with Adam on fresh random strings, it prints the
accuracy on held-out strings, and exits non-zero below the target. Well under a minute on
2 cores. The model code is TensorFlow 1.x's API unchanged.

Run: ``python examples/lstm_sequences.py`` (``--quiet``, ``--steps N``, ``--seed S``).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from tqdm import tqdm

import staticflow as sf

MAX_LENGTH, UNITS, BATCH = 15, 32, 64
TARGET = 0.95


def make_batch(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bits [n, MAX_LENGTH, 1] as +1/-1 with -1 padding, lengths [n], labels [n])."""
    lengths = 2 * rng.integers(0, (MAX_LENGTH + 1) // 2, n) + 1  # 1, 3, ..., MAX_LENGTH
    bits = rng.integers(0, 2, (n, MAX_LENGTH))
    live = np.arange(MAX_LENGTH)[None, :] < lengths[:, None]
    bits = np.where(live, bits, 0)
    labels = (2 * bits.sum(1) > lengths).astype(np.float32)
    return (2.0 * bits - 1.0).astype(np.float32)[:, :, None], lengths.astype(np.int32), labels


def build(seed: int, learning_rate: float) -> dict[str, sf.Tensor]:
    """bits, lengths -> LSTM (dynamic_rnn) -> final h -> logit; loss, Adam step, accuracy."""
    sf.set_random_seed(seed)
    bits = sf.placeholder(sf.float32, [None, MAX_LENGTH, 1], name="bits")
    lengths = sf.placeholder(sf.int32, [None], name="lengths")
    labels = sf.placeholder(sf.float32, [None], name="labels")
    cell = sf.nn.rnn_cell.LSTMCell(UNITS)
    _, state = sf.nn.dynamic_rnn(cell, bits, sequence_length=lengths, dtype=sf.float32)
    logits = sf.squeeze(sf.layers.dense(state.h, 1, name="classifier"), [1])
    loss = sf.reduce_mean(sf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))
    train = sf.train.AdamOptimizer(learning_rate).minimize(loss)
    accuracy = sf.reduce_mean(sf.cast(sf.equal(sf.cast(logits > 0, sf.float32), labels), sf.float32))
    return {
        "bits": bits,
        "lengths": lengths,
        "labels": labels,
        "loss": loss,
        "train": train,
        "accuracy": accuracy,
    }


def main(argv: list[str] | None = None) -> float:
    """Train, print and return the held-out accuracy."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=200, help="training steps (default 200)")
    ap.add_argument("--lr", type=float, default=0.01, help="Adam's learning rate (default 0.01)")
    ap.add_argument("--seed", type=int, default=0, help="graph-level random seed and data seed")
    ap.add_argument("--quiet", action="store_true", help="no progress bar and no output")
    args = ap.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    test_bits, test_lengths, test_labels = make_batch(np.random.default_rng(args.seed + 1000), 1000)
    graph = sf.Graph()
    with graph.as_default():
        m = build(args.seed, args.lr)
        init = sf.global_variables_initializer()
    t0 = time.perf_counter()
    with sf.Session(graph=graph) as sess:
        sess.run(init)
        with tqdm(total=args.steps, desc="lstm on bit strings", disable=args.quiet) as bar:
            for _ in range(args.steps):
                b, n, y = make_batch(rng, BATCH)
                _, loss = sess.run([m["train"], m["loss"]], {m["bits"]: b, m["lengths"]: n, m["labels"]: y})
                bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
                bar.update()
        feeds = {m["bits"]: test_bits, m["lengths"]: test_lengths, m["labels"]: test_labels}
        accuracy = float(sess.run(m["accuracy"], feeds))
    if not args.quiet:
        print(
            f"held-out accuracy: {accuracy:.4f} (majority bit of {len(test_labels)} strings of 1 to "
            f"{MAX_LENGTH} bits, target {TARGET}; {args.steps} steps in {time.perf_counter() - t0:.1f} s)"
        )
    return accuracy


if __name__ == "__main__":
    sys.exit(0 if main() >= TARGET else 1)
