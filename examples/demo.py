"""staticflow demo: build a model, run it, save it as a GraphDef, reload it elsewhere, draw it.

Run: ``make demo`` (or ``python examples/demo.py [--out DIR]``). The second half
runs in a fresh Python process that knows nothing but the GraphDef file, and
checks it computes the same numbers. The GraphDef and pictures of the forward
and gradient graphs (forward.png, gradients.png) go to DIR (default:
./demo_output).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

import staticflow as sf


def build_model(seed: int = 0) -> sf.Graph:
    """A two-layer MLP classifier on 8 features, weights fixed by `seed`."""
    rng = np.random.default_rng(seed)
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, shape=[None, 8], name="x")
        with sf.name_scope("hidden"):
            w1 = sf.Variable(rng.normal(0, 0.5, (8, 16)).astype(np.float32), name="w")
            b1 = sf.Variable(np.zeros(16, np.float32), name="b")
            h = sf.nn.relu(sf.matmul(x, w1) + b1)
        with sf.name_scope("output"):
            w2 = sf.Variable(rng.normal(0, 0.5, (16, 3)).astype(np.float32), name="w")
            b2 = sf.Variable(np.full(3, 0.1, np.float32), name="b")
            logits = sf.add(sf.matmul(h, w2), b2, name="logits")
        sf.nn.softmax(logits, name="probs")
        sf.argmax(logits, axis=1, name="label")
        sf.global_variables_initializer()
    return g


def run_saved(path: str, inputs: str, outputs: str) -> None:
    """Load a GraphDef file, run it on saved inputs, save the outputs (a fresh process)."""
    gd = sf.io.read_graph(path)
    g = sf.Graph()
    with g.as_default():
        sf.import_graph_def(gd, name="")
    x = np.load(inputs)
    with sf.Session(graph=g) as sess:
        sess.run("init")
        probs, label = sess.run(["probs:0", "label:0"], feed_dict={"x:0": x})
    np.savez(outputs, probs=probs, label=label)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--load", nargs=3, metavar=("GRAPH", "INPUTS", "OUTPUTS"), help=argparse.SUPPRESS)
    ap.add_argument("--out", metavar="DIR", default="demo_output", help="output directory (./demo_output)")
    args = ap.parse_args()
    if args.load:
        run_saved(*args.load)
        return 0

    g = build_model()
    print(f"built a graph of {len(g.get_operations())} ops:")
    for op in g.get_operations():
        shapes = ", ".join(str(t.shape) for t in op.outputs)
        print(f"  {op.name:24s} {op.type:12s} {shapes}")

    x = np.random.default_rng(1).normal(size=(5, 8)).astype(np.float32)
    with sf.Session(graph=g) as sess:
        sess.run("init")
        probs, label = sess.run(["probs:0", "label:0"], feed_dict={"x:0": x})
        plan = sess.plan(["probs:0", "label:0"], {"x:0": x})
    print("\nclass probabilities:\n", np.array2string(probs, precision=4))
    print("labels:", label)
    s = plan.stats
    print(
        f"\nplan: {s.steps} steps, {s.kernel_calls} kernel calls in one C call; arena {s.arena_bytes} bytes "
        f"for {s.intermediate_bytes} bytes of intermediates"
    )

    os.makedirs(args.out, exist_ok=True)
    path = sf.io.write_graph(g, args.out, "mlp.pb", as_text=False)
    text = sf.io.write_graph(g, args.out, "mlp.pbtxt", as_text=True)
    print(
        f"\nwrote {path} ({os.path.getsize(path)} bytes) and "
        f"{os.path.basename(text)} ({os.path.getsize(text)} bytes)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        np.save(os.path.join(tmp, "x.npy"), x)
        out = os.path.join(tmp, "out.npz")
        subprocess.run(
            [sys.executable, __file__, "--load", path, os.path.join(tmp, "x.npy"), out], check=True
        )
        again = np.load(out)
        same = np.array_equal(again["probs"], probs) and np.array_equal(again["label"], label)
    print(f"reloaded in a new process: {'identical results' if same else 'DIFFERENT RESULTS'}")
    draw_pictures(g, args.out)
    return 0 if same else 1


def draw_pictures(g: sf.Graph, out: str) -> None:
    """forward.png: the saved graph; gradients.png: a copy with a loss and its gradients."""
    if shutil.which("dot") is None:
        print("graphviz's `dot` is not installed: no pictures (install the graphviz package)")
        return
    sf.viz.draw(g, os.path.join(out, "forward.png"))
    g2 = build_model()  # the same model, in a graph of its own, to add training ops to
    with g2.as_default():
        labels = sf.placeholder(sf.int32, [None], name="labels")
        logits = g2.get_tensor_by_name("output/logits:0")
        xent = sf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        loss = sf.reduce_mean(xent, name="loss")
        grads = sf.gradients(loss, sf.trainable_variables())
    sf.viz.draw(g2, os.path.join(out, "gradients.png"), fetches=grads)
    print(
        f"drew {os.path.join(out, 'forward.png')} (the model) and "
        f"{os.path.join(out, 'gradients.png')} (its loss, forward and gradient graphs)"
    )


if __name__ == "__main__":
    sys.exit(main())
