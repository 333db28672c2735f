"""TensorArray reads and writes: a 100-step recurrence unrolled in the graph, forward and backward.

x [T=100, B=64, H=256] is unstacked into a TensorArray; step t reads element t, computes
h = tanh(x_t + 0.5 h) and writes h into a second array, which is stacked; the step fetches
the loss sum(stack^2) and its gradient with respect to x. Every read and write is a
TensorList op (on the host in staticflow: a Python call holding a list of arrays; a C++
kernel in TensorFlow), so the table shows what the arrays cost beside the same recurrence
written with sf.unstack / sf.stack (no TensorArray), and beside TensorFlow 1.x graph mode
with control flow v2 (whose TensorArray is the same TensorList ops), where installed.

Run: ``python benchmarks/bench_tensor_array.py``; figures are the best of several rounds.
"""

from __future__ import annotations

import idle_threads  # noqa: F401  (before NumPy loads its BLAS)
import numpy as np
from harness import import_tf1, machine_line, timed

import staticflow as sf

T, B, H = 100, 64, 256


def build(tf, x_np: np.ndarray, arrays: bool):
    """(graph, fetches, feed) of the recurrence in a TF1-style API; `arrays`: through
    TensorArrays, else through unstack/stack."""
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [T, B, H])
        h = tf.zeros([B, H])
        if arrays:
            inp = tf.TensorArray(tf.float32, size=T).unstack(x)
            out = tf.TensorArray(tf.float32, size=T, element_shape=[B, H])
            for t in range(T):
                h = tf.tanh(inp.read(t) + 0.5 * h)
                out = out.write(t, h)
            ys = out.stack()
        else:
            outs = []
            for xt in tf.unstack(x):
                h = tf.tanh(xt + 0.5 * h)
                outs.append(h)
            ys = tf.stack(outs)
        loss = tf.reduce_sum(ys * ys)
        (gx,) = tf.gradients(loss, [x])
    return g, [loss, gx], {x: x_np}


def engine(tf, x_np, arrays: bool):
    g, fetches, feed = build(tf, x_np, arrays)
    sess = tf.Session(graph=g)
    first = sess.run(fetches, feed)
    return first, timed(lambda: sess.run(fetches, feed), warmup=3, repeat=5)


def main() -> None:
    print(machine_line())
    x_np = np.random.default_rng(0).standard_normal((T, B, H)).astype(np.float32) * 0.1
    rows = {}
    ref, t = engine(sf, x_np, arrays=True)
    rows["staticflow TensorArray"] = t
    other, t = engine(sf, x_np, arrays=False)
    rows["staticflow unstack/stack"] = t
    np.testing.assert_allclose(other[0], ref[0], rtol=1e-4)
    tf = import_tf1()
    if tf is None:
        print("  TensorFlow: not installed")
    else:
        tf.enable_control_flow_v2()
        got, t = engine(tf, x_np, arrays=True)
        np.testing.assert_allclose(got[0], ref[0], rtol=1e-4)
        np.testing.assert_allclose(got[1], ref[1], rtol=1e-3, atol=1e-4)
        rows["tf1 TensorArray (v2)"] = t
        _, t = engine(tf, x_np, arrays=False)
        rows["tf1 unstack/stack"] = t
    base = rows["staticflow TensorArray"]
    print(f"  recurrence T={T} B={B} H={H}, forward + backward")
    print(f"  {'engine':28s} {'ms/step':>10s} {'time / staticflow TensorArray':>32s}")
    for name, t in rows.items():
        print(f"  {name:28s} {t * 1e3:10.2f} {t / base:31.2f}x")


if __name__ == "__main__":
    main()
