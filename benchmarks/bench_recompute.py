"""Recomputation: the arena and step time of SGD training steps with it off and on.

Two relu MLPs with a mean sparse softmax cross-entropy and a plain SGD step, each planned
and run three ways: recomputation off (the default), RewriterConfig.memory_optimization =
RECOMPUTATION_HEURISTICS (checkpoints every ~sqrt(n) forward nodes), and the hidden layers
wrapped in `sf.recompute_grad` blocks of about sqrt(depth) layers (MANUAL marks, honoured by
default). The arena is the plan's `stats.arena_bytes` (every intermediate tensor of the step;
variables and the fed batch are outside it); the time is the best of REPEAT steps after
WARMUP, the three ways taking turns. The losses of the first steps must be the same bits in
all three runs before anything is timed.

- "wide": 784-4096-4096-4096-10, batch 1024 (the activations are a few large tensors);
- "deep": 64 hidden layers of 1024, batch 128 (many activations: the sqrt(n) saving).

Run: ``python benchmarks/bench_recompute.py`` (``--quick`` for small sizes).
"""

from __future__ import annotations

import argparse
import math

import idle_threads  # noqa: F401  (before NumPy loads its BLAS)
import numpy as np
from harness import machine_line, timed

import staticflow as sf

LR = 0.01


def build(sizes: list[int], batch: int, blocks: int, seed: int = 0):
    """The graph, its train op and loss, and a feed; `blocks` > 0 wraps the hidden layers in
    that many recompute_grad blocks."""
    rng = np.random.default_rng(seed)
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [batch, sizes[0]], name="x")
        y = sf.placeholder(sf.int64, [batch], name="y")
        params = []
        for i in range(len(sizes) - 1):
            w = rng.standard_normal((sizes[i], sizes[i + 1])) * math.sqrt(2.0 / sizes[i])
            params.append(
                (sf.Variable(w.astype(np.float32)), sf.Variable(np.zeros(sizes[i + 1], np.float32)))
            )

        def layers(h, ps):
            for w, b in ps:
                h = sf.nn.relu(sf.matmul(h, w) + b)
            return h

        hidden = params[:-1]
        if blocks:
            per = math.ceil(len(hidden) / blocks)
            h = x
            for k in range(0, len(hidden), per):
                h = sf.recompute_grad(lambda t, ps=hidden[k : k + per]: layers(t, ps))(h)
        else:
            h = layers(x, hidden)
        w, b = params[-1]
        logits = sf.matmul(h, w) + b
        loss = sf.reduce_mean(sf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        train = sf.train.GradientDescentOptimizer(LR).minimize(loss)
        init = sf.global_variables_initializer()
    feed = {x: rng.random((batch, sizes[0]), dtype=np.float32), y: rng.integers(0, sizes[-1], batch)}
    return g, init, loss, train, feed


MODES = ("off", "heuristics", "recompute_grad")


def prepare(sizes, batch, mode: str):
    """(session, one-step function, arena bytes, losses of the first two steps) for one way
    of running."""
    blocks = round(math.sqrt(len(sizes) - 2)) if mode == "recompute_grad" else 0
    g, init, loss, train, feed = build(sizes, batch, blocks)
    rw = sf.RewriterConfig
    mem = rw.RECOMPUTATION_HEURISTICS if mode == "heuristics" else rw.DEFAULT_MEM_OPT
    config = sf.ConfigProto(graph_options=sf.GraphOptions(rewrite_options=rw(memory_optimization=mem)))
    sess = sf.Session(graph=g, config=config)
    sess.run(init)
    arena = sess.plan([loss, train], feed).stats.arena_bytes
    losses = [sess.run([loss, train], feed)[0] for _ in range(2)]
    return sess, lambda: sess.run([loss, train], feed), arena, losses


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    args = ap.parse_args(argv)
    models = {
        "wide 784-4096x3-10 b1024": ([784, 4096, 4096, 4096, 10], 1024),
        "deep 64x1024 b128": ([784] + [1024] * 64 + [10], 128),
    }
    if args.quick:
        models = {
            "wide 784-256x3-10 b64": ([784, 256, 256, 256, 10], 64),
            "deep 16x128 b32": ([784] + [128] * 16 + [10], 32),
        }
    print(machine_line())
    print(
        f"{'model':26s} {'recomputation':15s} {'arena MiB':>10s} {'ms/step':>9s} {'arena':>7s} {'time':>6s}"
    )
    for name, (sizes, batch) in models.items():
        runs = {mode: prepare(sizes, batch, mode) for mode in MODES}
        for mode, (_s, _step, _arena, losses) in runs.items():
            if losses != runs["off"][3]:
                raise SystemExit(f"{name} {mode}: losses {losses} differ from {runs['off'][3]} (off)")
        # the ways take turns, one round of each at a time, so that a change of the machine's
        # load hits all of them alike; the best round of each
        best = dict.fromkeys(MODES, math.inf)
        for _ in range(args.warmup):
            for _s, step, _a, _l in runs.values():
                step()
        for _ in range(args.repeat):
            for mode, (_s, step, _a, _l) in runs.items():
                best[mode] = min(best[mode], timed(step, 0, 1))
        base_arena, base_time = runs["off"][2], best["off"]
        for mode, (sess, _step, arena, _l) in runs.items():
            sess.close()
            print(
                f"{name:26s} {mode:15s} {arena / 2**20:10.1f} {best[mode] * 1e3:9.1f} "
                f"{arena / base_arena:7.2f} {best[mode] / base_time:6.2f}"
            )


if __name__ == "__main__":
    main()
