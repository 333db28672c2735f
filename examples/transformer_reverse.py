"""A tiny transformer learns to reverse sequences of digits.

One block: token and position embeddings, single-head self-attention, an MLP,
residual connections and layer normalization, trained with Adam on random
sequences; prints token accuracy on fresh sequences. Runs in well under a
minute on 2 cores.

Run: ``python examples/transformer_reverse.py`` (``--quiet``, ``--steps N``).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import staticflow as sf

VOCAB, LENGTH, WIDTH = 10, 8, 64


def build(seed: int):
    """The model: tokens [batch, LENGTH] -> logits [batch, LENGTH, VOCAB]."""
    sf.set_random_seed(seed)
    tokens = sf.placeholder(sf.int32, [None, LENGTH], name="tokens")
    targets = sf.placeholder(sf.int32, [None, LENGTH], name="targets")
    init = sf.random_normal_initializer(0.0, 0.1)
    emb = sf.get_variable("token_embedding", [VOCAB, WIDTH], initializer=init)
    pos = sf.get_variable("position_embedding", [LENGTH, WIDTH], initializer=init)
    h = sf.nn.embedding_lookup(emb, tokens) + pos
    with sf.variable_scope("block"):
        q = sf.layers.dense(h, WIDTH, name="q")
        k = sf.layers.dense(h, WIDTH, name="k")
        v = sf.layers.dense(h, WIDTH, name="v")
        att = sf.nn.scaled_dot_product_attention(q, k, v)
        h = sf.layers.layer_normalization(h + sf.layers.dense(att, WIDTH, name="proj"), name="ln1")
        mlp = sf.layers.dense(
            sf.layers.dense(h, 2 * WIDTH, activation=sf.nn.relu, name="fc1"), WIDTH, name="fc2"
        )
        h = sf.layers.layer_normalization(h + mlp, name="ln2")
    logits = sf.layers.dense(h, VOCAB, name="out")
    loss = sf.reduce_mean(sf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits))
    correct = sf.equal(sf.cast(sf.argmax(logits, -1), sf.int32), targets)
    accuracy = sf.reduce_mean(sf.cast(correct, sf.float32))
    train = sf.train.AdamOptimizer(3e-3).minimize(loss)
    return tokens, targets, loss, accuracy, train


def main(argv=None) -> float:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    g = sf.Graph()
    with g.as_default():
        tokens, targets, loss, accuracy, train = build(args.seed)
        with sf.Session() as sess:
            sess.run(sf.global_variables_initializer())
            steps = range(args.steps)
            bar = None
            if not args.quiet:
                from tqdm import tqdm

                bar = tqdm(steps, desc="reverse", unit="step", mininterval=0.5)
                steps = bar
            for _ in steps:
                x = rng.integers(0, VOCAB, (args.batch, LENGTH)).astype(np.int32)
                _, lv = sess.run([train, loss], {tokens: x, targets: x[:, ::-1]})
                if bar is not None:
                    bar.set_postfix(loss=f"{lv:.4f}", refresh=False)
            test = rng.integers(0, VOCAB, (1000, LENGTH)).astype(np.int32)
            acc = float(sess.run(accuracy, {tokens: test, targets: test[:, ::-1]}))
    if not args.quiet:
        print(f"token accuracy on 1000 new sequences: {acc:.2%}")
    return acc


if __name__ == "__main__":
    sys.exit(0 if main() >= 0.95 else 1)
