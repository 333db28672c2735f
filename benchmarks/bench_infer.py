"""Inference latency and throughput of an MLP: 784-512-512-10, relu, logits out (no softmax).

One forward pass per call, a fed float32 batch in and the [batch, 10] logits out as a
NumPy array, at batch 1 (latency, us per call) and batch 256 (throughput, samples/s):
staticflow's `sess.make_callable(logits, [x])` (its fast path) and `sess.run`,
TensorFlow 1.x graph mode's `make_callable`, ONNX Runtime (the model built with the
`onnx` package's helper API: Gemm, Relu), PyTorch (`torch.inference_mode`, addmm),
a compiled PyTensor function, JAX's jit and plain NumPy, each where installed and each
with its default threads. All use the same weights; every engine's logits must agree
with NumPy's before anything is timed.

Calls are timed in rounds of about ROUND_SECONDS; the engines take turns, each turn a
warm-up and a run of rounds, and each engine's figure is its best round (a shared
machine's load lengthens some rounds, never shortens one). The ratio column is the
peer's time over staticflow's callable: above 1 means staticflow is faster. Targets
(issue 14): batch 1 at most ONNX Runtime's latency; batch 256 ahead of every peer.
Run: ``make bench`` or ``python benchmarks/bench_infer.py`` (``--batches``, ``--cycles``,
``--rounds``).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import idle_threads  # noqa: F401  (before NumPy loads its BLAS)
import numpy as np
import numpy_mlp
from harness import import_tf1, machine_line, pytensor_functions

import staticflow as sf

SIZES = [784, 512, 512, 10]
ROUND_SECONDS = 5e-3
SETTLE_SECONDS = 0.2


def make_params(seed: int = 0) -> list[np.ndarray]:
    """Float32 weights and biases ``[w1, b1, w2, b2, w3, b3]`` (biases non-zero, so they count)."""
    rng = np.random.default_rng(seed)
    params = numpy_mlp.glorot_uniform_params(SIZES, rng, np.float32)
    return [p if p.ndim == 2 else rng.uniform(-0.1, 0.1, p.shape).astype(np.float32) for p in params]


def numpy_forward(params: list[np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    def f(x):
        h = x
        for i in range(len(params) // 2):
            h = h @ params[2 * i] + params[2 * i + 1]
            if i < len(params) // 2 - 1:
                np.maximum(h, 0, out=h)
        return h

    return f


def _tf1_api(tf, params, label: str) -> dict[str, Callable]:
    """The MLP through a TF1-style API (staticflow's or TensorFlow's compat.v1)."""
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, SIZES[0]], name="x")
        ws = [tf.Variable(p, name=f"p{i}") for i, p in enumerate(params)]
        h = x
        for i in range(len(ws) // 2):
            h = tf.matmul(h, ws[2 * i]) + ws[2 * i + 1]
            if i < len(ws) // 2 - 1:
                h = tf.nn.relu(h)
        init = tf.global_variables_initializer()
    sess = tf.Session(graph=g)
    sess.run(init)
    f = sess.make_callable(h, [x])
    calls = {f"{label} callable": f}
    if tf is sf:
        calls[f"{label} sess.run"] = lambda v: sess.run(h, {x: v})
    return calls


def staticflow_calls(params) -> dict[str, Callable]:
    return _tf1_api(sf, params, "staticflow")


def tf1_calls(params) -> dict[str, Callable]:
    tf = import_tf1()
    return {} if tf is None else _tf1_api(tf, params, "tf1")


def onnxruntime_calls(params) -> dict[str, Callable]:
    """The MLP as an ONNX graph (Gemm, Relu) built with onnx.helper, run by ONNX Runtime."""
    try:
        import onnx
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        return {}
    nodes, inits, h = [], [], "x"
    for i in range(len(params) // 2):
        w, b = f"w{i}", f"b{i}"
        inits += [numpy_helper.from_array(params[2 * i], w), numpy_helper.from_array(params[2 * i + 1], b)]
        out = f"g{i}" if i < len(params) // 2 - 1 else "logits"
        nodes.append(helper.make_node("Gemm", [h, w, b], [out]))
        h = out
        if i < len(params) // 2 - 1:
            nodes.append(helper.make_node("Relu", [out], [f"r{i}"]))
            h = f"r{i}"
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", SIZES[0]])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", SIZES[-1]])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = min(model.ir_version, 9)
    onnx.checker.check_model(model)
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return {"onnxruntime": lambda v: s.run(None, {"x": v})[0]}


def pytorch_calls(params) -> dict[str, Callable]:
    try:
        import torch
    except ImportError:
        return {}
    ws = [torch.from_numpy(p) for p in params]

    def f(v):
        with torch.inference_mode():
            h = torch.from_numpy(v)
            for i in range(len(ws) // 2):
                h = torch.addmm(ws[2 * i + 1], h, ws[2 * i])
                if i < len(ws) // 2 - 1:
                    h = torch.relu_(h)
            return h.numpy()

    return {"pytorch": f}


def pytensor_calls(params) -> dict[str, Callable]:
    try:
        import pytensor.tensor as pt
    except ImportError:
        return {}
    x = pt.matrix("x", dtype="float32")
    h = x
    for i in range(len(params) // 2):
        h = pt.dot(h, pt.constant(params[2 * i])) + pt.constant(params[2 * i + 1])
        if i < len(params) // 2 - 1:
            h = pt.maximum(h, 0)
    return pytensor_functions([x], h)


def jax_calls(params) -> dict[str, Callable]:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return {}
    ws = [jnp.asarray(p) for p in params]

    @jax.jit
    def fwd(ws, x):
        h = x
        for i in range(len(ws) // 2):
            h = h @ ws[2 * i] + ws[2 * i + 1]
            if i < len(ws) // 2 - 1:
                h = jnp.maximum(h, 0)
        return h

    return {"jax": lambda v: np.asarray(fwd(ws, v))}


def per_call_seconds(calls: dict[str, Callable], x: np.ndarray, rounds: int, cycles: int) -> dict[str, float]:
    """Best seconds per call of each engine. Each engine takes its turn `cycles` times: a
    SETTLE_SECONDS warm-up (while the previous engine's idle thread pools stop spinning: ONNX
    Runtime's, OpenBLAS's and OpenMP's keep a core busy a while after their last call, which
    would halve a 2-core machine for whoever runs next), then `rounds` timed rounds."""
    clock = time.perf_counter
    size = {}
    for name, fn in calls.items():
        for _ in range(20):  # plans, compiled code, thread pools and caches settle
            fn(x)
        t0 = clock()
        for _ in range(20):
            fn(x)
        size[name] = max(3, int(ROUND_SECONDS / ((clock() - t0) / 20)))
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(cycles):
        for name, fn in calls.items():
            n = size[name]
            end = clock() + SETTLE_SECONDS
            while clock() < end:
                fn(x)
            for _ in range(rounds):
                t0 = clock()
                for _ in range(n):
                    fn(x)
                best[name] = min(best[name], (clock() - t0) / n)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", default="1,256", help="batch sizes, comma-separated (default 1,256)")
    ap.add_argument("--rounds", type=int, default=20, help="timed rounds per engine and turn")
    ap.add_argument("--cycles", type=int, default=5, help="turns each engine takes per batch size")
    args = ap.parse_args()
    print(machine_line() + f"; load {os.getloadavg()[0]:.2f}")
    params = make_params()
    ref = numpy_forward(params)
    calls: dict[str, Callable] = {}
    for make in (staticflow_calls, onnxruntime_calls, tf1_calls, pytorch_calls, pytensor_calls, jax_calls):
        calls.update(make(params))
    calls["numpy"] = ref
    rng = np.random.default_rng(1)
    sizes = "-".join(map(str, SIZES))
    for batch in (int(b) for b in args.batches.split(",")):
        x = rng.random((batch, SIZES[0]), dtype=np.float32)
        want = ref(x)
        for name, fn in calls.items():
            np.testing.assert_allclose(fn(x), want, rtol=1e-4, atol=1e-5, err_msg=name)
        times = per_call_seconds(calls, x, args.rounds, args.cycles)
        base = times["staticflow callable"]
        print(f"\nMLP {sizes} (relu, logits), batch {batch}, best of {args.cycles} x {args.rounds} rounds")
        print(f"  {'engine':22s} {'us/call':>10s} {'samples/s':>12s} {'peer / sf callable':>20s}")
        for name, t in times.items():
            print(f"  {name:22s} {t * 1e6:10.1f} {batch / t:12.0f} {t / base:19.2f}x")
        peers = {k: t for k, t in times.items() if not k.startswith("staticflow")}
        fastest = min(peers, key=peers.get)
        print(f"  fastest peer: {fastest} ({peers[fastest] * 1e6:.1f} us); staticflow {base * 1e6:.1f} us")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
