"""Training-step throughput of LeNet-style CNNs on 28x28x1 images, batch 64, plain SGD.

Two networks (NHWC): "lenet5", conv 5x5x6 SAME + relu -> max pool 2x2 -> conv
5x5x16 SAME + relu -> max pool 2x2 -> dense 784-120-84-10 (LeNet-5's widths),
and "wide", conv 5x5x32 -> pool -> conv 5x5x64 -> pool -> dense 3136-512-10 (the
TensorFlow tutorial's); in both, relu between dense layers, then the
mean sparse softmax cross-entropy. One step -- forward, loss, backward, and
the update ``w -= 0.01 * dw`` of every parameter -- per call: one
``sess.run`` of the optimizer's train op for staticflow and TensorFlow 1.x
graph mode (tensorflow.compat.v1, whose CPU convolutions are oneDNN's), and
``loss.backward(); opt.step()`` for PyTorch (NCHW, its native layout; the
filters and the first dense layer's rows are permuted to match, so the
function computed is the same). All start from the same weights and batch,
and their first losses must agree to rtol 1e-4 before anything is timed: the
engines sum the 800-term conv dot products and the 3136-term dense ones in
different orders in float32, which may move the loss by up to about 1e-6
relative (on the default batch the three losses come out bit-identical),
while any wiring mistake (layout, padding, flatten order) moves it by far
more than 1e-4. staticflow runs three times: with every graph pass (by default
the plan's calls one after another, each kernel on every core), with
independent kernel calls at once ("sf inter-op": inter_op_parallelism_threads =
intra_op_parallelism_threads = cores, TensorFlow's default: the calls running at
once share the cores, so a call that runs alone gets every core and two
independent ones one each; kernels cut their work by its size, not the thread
count, so the results are the in-order run's bits), and without pattern fusion ("sf
no-remap"). Measured in one process and printed as samples per second with
ratios as in bench_foundation.py: peer time per step divided by staticflow's,
so above 1 means staticflow is faster.
Run: ``make bench`` or ``python benchmarks/bench_cnn.py [--trace-dir DIR]``; with
``--trace-dir`` each network's "sf inter-op" step is also run traced once and
written to DIR/<model>_step_trace.json, a Chrome trace (Perfetto, chrome://tracing)
with a lane per thread that ran kernels, and drawn beside it as a PNG where matplotlib is
installed (trace_picture.py).
"""

from __future__ import annotations

import argparse
import json
import os

import idle_threads  # noqa: F401  (before NumPy loads its BLAS)
import numpy as np
from harness import (
    import_tf1,
    machine_line,
    print_table,
    run_engines,
    session_step,
    staticflow_config,
    timed,
)

import staticflow as sf

IMAGE = (28, 28, 1)  # H, W, C
# (kernel size, out channels) per conv, each SAME + relu + 2x2 max pool; then dense sizes
MODELS = {
    "lenet5": ([(5, 6), (5, 16)], [120, 84, 10]),  # LeNet-5's widths
    "wide": ([(5, 32), (5, 64)], [512, 10]),  # the TensorFlow tutorial's wider LeNet
}
LR = 0.01
WARMUP, REPEAT = 10, 10  # untimed steps first, then best of REPEAT rounds (of about 0.2 s)


def _glorot(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int, fan_out: int) -> np.ndarray:
    lim = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-lim, lim, shape).astype(np.float32)


def make_problem(convs, dense, batch: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Initial float32 params ``[f1, b1, f2, b2, w3, b3, w4, b4]`` (filters [KH, KW, C, O],
    dense [in, out]) and one random batch (x [N, 28, 28, 1] in [0, 1), int labels)."""
    rng = np.random.default_rng(seed)
    params: list[np.ndarray] = []
    h, w, c = IMAGE
    for k, o in convs:
        params += [_glorot(rng, (k, k, c, o), k * k * c, k * k * o), np.full(o, 0.01, np.float32)]
        h, w, c = h // 2, w // 2, o
    fan = h * w * c
    for o in dense:
        params += [_glorot(rng, (fan, o), fan, o), np.full(o, 0.01, np.float32)]
        fan = o
    x = rng.random((batch, *IMAGE), dtype=np.float32)
    y = rng.integers(0, dense[-1], batch).astype(np.int64)
    return params, x, y


def tf1_style_step(tf, convs, dense, init: list[np.ndarray], x0: np.ndarray, y0: np.ndarray, config=None):
    """A TF1-API graph and session for one SGD step; returns (first loss, step function)."""
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, *IMAGE], name="x")
        y = tf.placeholder(tf.int64, [None], name="y")
        params = [tf.Variable(p, name=f"p{i}") for i, p in enumerate(init)]
        h = x
        for i in range(len(convs)):
            h = tf.nn.conv2d(h, params[2 * i], strides=[1, 1, 1, 1], padding="SAME")
            h = tf.nn.relu(tf.nn.bias_add(h, params[2 * i + 1]))
            h = tf.nn.max_pool(h, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID")
        h = tf.reshape(h, [-1, int(init[2 * len(convs)].shape[0])])
        for j in range(len(dense)):
            i = len(convs) + j
            h = tf.matmul(h, params[2 * i]) + params[2 * i + 1]
            if j < len(dense) - 1:
                h = tf.nn.relu(h)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=h))
        train_op = tf.train.GradientDescentOptimizer(LR).minimize(loss)
        init_op = tf.global_variables_initializer()
    return session_step(tf, g, init_op, loss, train_op, {x: x0, y: y0}, config)


def bench_tf1_style(tf, convs, dense, init, x0, y0, config=None) -> tuple[float, float] | None:
    """The same TF1-API code on staticflow or TensorFlow (None when `tf` is missing)."""
    if tf is None:
        return None
    first, step = tf1_style_step(tf, convs, dense, init, x0, y0, config)
    return first, timed(step, WARMUP, REPEAT)


def torch_params(convs, dense, init: list[np.ndarray]) -> list[np.ndarray]:
    """`init` in PyTorch's layouts: filters [O, C, KH, KW]; the first dense layer's rows
    reordered from the NHWC flatten (h, w, c) to the NCHW one (c, h, w); dense [out, in]."""
    out: list[np.ndarray] = []
    nc = len(convs)
    for i in range(nc):
        out += [np.ascontiguousarray(init[2 * i].transpose(3, 2, 0, 1)), init[2 * i + 1]]
    side, chans = IMAGE[0] >> nc, convs[-1][1]
    for j in range(len(dense)):
        w = init[2 * (nc + j)]
        if j == 0:
            w = w.reshape(side, side, chans, -1).transpose(2, 0, 1, 3).reshape(w.shape)
        out += [np.ascontiguousarray(w.T), init[2 * (nc + j) + 1]]
    return out


def bench_pytorch(convs, dense, init, x0, y0) -> tuple[float, float] | None:
    try:
        import torch
        import torch.nn.functional as F  # noqa: N812
    except ImportError:
        return None
    params = [torch.tensor(p, requires_grad=True) for p in torch_params(convs, dense, init)]
    opt = torch.optim.SGD(params, lr=LR)
    tx = torch.from_numpy(np.ascontiguousarray(x0.transpose(0, 3, 1, 2)))
    ty = torch.from_numpy(y0)
    nc = len(convs)

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        h = tx
        for i, (k, _) in enumerate(convs):
            h = F.max_pool2d(F.relu(F.conv2d(h, params[2 * i], params[2 * i + 1], padding=k // 2)), 2)
        h = h.flatten(1)
        for j in range(len(dense)):
            i = nc + j
            h = F.linear(h, params[2 * i], params[2 * i + 1])
            if j < len(dense) - 1:
                h = F.relu(h)
        loss = F.cross_entropy(h, ty)
        loss.backward()
        opt.step()
        return loss.detach()

    first = float(step())
    return first, timed(step, WARMUP, REPEAT)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=64, help="examples per step (default 64)")
    ap.add_argument("--model", choices=[*MODELS, "all"], default="all", help="which network (default: all)")
    ap.add_argument("--trace-dir", help="write a Chrome trace of each network's sf inter-op step here")
    args = ap.parse_args()
    print(machine_line())
    for name in MODELS if args.model == "all" else [args.model]:
        run_model(name, args.batch, args.trace_dir)


def picture_title() -> str:
    n = os.cpu_count() or 1
    return f"inter_op_parallelism_threads={n}, intra_op_parallelism_threads={n}"


def inter_op_config():
    """Independent kernel calls at once, sharing the cores' threads."""
    n = os.cpu_count() or 1
    return sf.ConfigProto(inter_op_parallelism_threads=n, intra_op_parallelism_threads=n)


def write_trace(convs, dense, init, x0, y0, path: str) -> None:
    """One traced "sf inter-op" step (after the warm-up steps) as a Chrome trace at `path`."""
    _, step = tf1_style_step(sf, convs, dense, init, x0, y0, inter_op_config())
    for _ in range(WARMUP):
        step()
    md = sf.RunMetadata()
    full = sf.RunOptions(trace_level=sf.RunOptions.FULL_TRACE)
    step.session.run(step.train_op, step.feed, options=full, run_metadata=md)
    with open(path, "w") as f:
        f.write(sf.profiler.Timeline(md.step_stats).generate_chrome_trace_format())
    lanes = {ns.thread_id for d in md.step_stats.dev_stats for ns in d.node_stats}
    print(f"  trace: {path} ({len(lanes)} thread lanes)")
    try:
        import matplotlib  # noqa: F401
        import trace_picture
    except ImportError:
        return
    picture = path.replace(".json", ".png")
    with open(path) as f:
        trace_picture.draw(json.load(f), picture, "one training step, " + picture_title())
    print(f"  picture: {picture}")


def run_model(model: str, batch: int, trace_dir: str | None = None) -> None:
    """Measure one network of MODELS on every engine and print its table."""
    convs, dense = MODELS[model]
    init, x0, y0 = make_problem(convs, dense, batch)
    results = run_engines(
        {
            "staticflow": lambda: bench_tf1_style(sf, convs, dense, init, x0, y0),
            "sf inter-op": lambda: bench_tf1_style(sf, convs, dense, init, x0, y0, inter_op_config()),
            "sf no-remap": lambda: bench_tf1_style(
                sf, convs, dense, init, x0, y0, staticflow_config("no-remap")
            ),
            # PyTorch before TensorFlow: its optimizer loads triton, which crashes the process
            # when TensorFlow's libraries are already loaded
            "pytorch": lambda: bench_pytorch(convs, dense, init, x0, y0),
            "tensorflow1": lambda: bench_tf1_style(import_tf1(), convs, dense, init, x0, y0),
        }
    )
    layers = " -> ".join(f"conv {k}x{k}x{o} SAME relu, pool 2x2" for k, o in convs)
    print(
        f"\n{model}: CNN {'x'.join(map(str, IMAGE))}: {layers} -> dense {'-'.join(map(str, dense))}; "
        f"batch {batch}, SGD (lr {LR})"
    )
    base = results["staticflow"][0]
    spread = max(abs(loss - base) for loss, _ in results.values()) / abs(base)
    print(f"  first loss {base:.6f} (all engines agree to rtol 1e-4; largest gap {spread:.1e})")
    print_table(results, "samples", batch)
    if trace_dir:
        os.makedirs(trace_dir, exist_ok=True)
        write_trace(convs, dense, init, x0, y0, os.path.join(trace_dir, f"{model}_step_trace.json"))


if __name__ == "__main__":
    main()
