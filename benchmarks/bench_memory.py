"""Memory of a large MLP's training step: 784-4096-4096-4096-10, relu, batch 1024, plain SGD.

Each engine runs in a fresh process of its own, so that what one loads does not count
against another, and reports:
- RSS after import and graph build: the resident set once the framework is imported, the
  model built and its weights initialized (before the first step). staticflow and TensorFlow
  build their variables as a TF1 model does, with initializer ops (Glorot-uniform weights,
  zero biases); "sf from arrays" starts from the NumPy engines' arrays instead, which its
  graph keeps as constants (a second copy of the weights). The losses therefore differ a
  little between the two groups;
- peak RSS increase during step 1: the kernel's high-water mark of the resident set
  (VmHWM, reset through /proc/self/clear_refs just before the step) minus the resident set
  before it: what the first step needs on top of the weights;
- RSS after the steady steps, against before them: a steady step allocates nothing;
- the steady step time: best of the timed steps after a warm-up.
staticflow also prints its plan's arena, the sum of all its intermediates (what no
planning would take) and the plan's peak of live bytes, with the memory passes on (the
default) and with RewriterConfig.memory_optimization = NO_MEM_OPT. Peers: the hand-written
NumPy MLP (numpy_mlp.py, float32), TensorFlow 1.x graph mode, JAX (jit) and PyTorch where
installed. Ratios are the peer's figure over staticflow's (above 1: staticflow uses less
or is faster). Linux only (/proc).
Run: ``python benchmarks/bench_memory.py`` (``--batch``, ``--sizes`` for a smaller model).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

SIZES = [784, 4096, 4096, 4096, 10]
LR = 0.01
MIB = 1 << 20


def _status(field: str) -> int:
    """A /proc/self/status figure in bytes (VmRSS, VmHWM)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current resident set


def _problem(sizes, batch):
    import numpy as np
    import numpy_mlp

    rng = np.random.default_rng(0)
    params = numpy_mlp.glorot_uniform_params(sizes, rng, np.float32)
    x = rng.random((batch, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], batch).astype(np.int64)
    return params, x, y


def _tf1_style(tf, sizes, batch, config=None, from_arrays=False):
    """A TF1-API graph of the MLP's SGD step on staticflow or TensorFlow; (step fn, session).

    The variables start as a TF1 model's do (tf.layers.dense, tf.get_variable): Glorot-uniform
    initializer ops for the weights, zeros for the biases, drawn when the initializer runs.
    `from_arrays`: from the NumPy arrays the other engines use instead, which the graph then
    holds as constants (a second copy of every weight, kept for re-initializing)."""
    init, x0, y0 = _problem(sizes, batch)
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, sizes[0]], name="x")
        y = tf.placeholder(tf.int64, [None], name="y")
        if from_arrays:
            params = [tf.Variable(p, name=f"p{i}") for i, p in enumerate(init)]
        else:
            glorot = tf.glorot_uniform_initializer(seed=0)
            params = [
                tf.Variable(glorot(p.shape) if p.ndim == 2 else tf.zeros(p.shape), name=f"p{i}")
                for i, p in enumerate(init)
            ]
        del init
        h = x
        for i in range(len(params) // 2):
            h = tf.matmul(h, params[2 * i]) + params[2 * i + 1]
            if i < len(params) // 2 - 1:
                h = tf.nn.relu(h)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=h))
        train_op = tf.train.GradientDescentOptimizer(LR).minimize(loss)
        init_op = tf.global_variables_initializer()
    sess = tf.Session(graph=g, config=config)
    sess.run(init_op)
    feed = {x: x0, y: y0}
    return (lambda: sess.run([loss, train_op], feed)[0]), sess


def _engine(name: str, sizes, batch):
    """Import the engine, build the model; a step function (returning the loss) and extras."""
    if name in ("staticflow", "sf NO_MEM_OPT", "sf from arrays"):
        import staticflow as sf

        config = None
        if name == "sf NO_MEM_OPT":
            config = sf.ConfigProto()
            config.graph_options.rewrite_options.memory_optimization = sf.RewriterConfig.NO_MEM_OPT
        step, sess = _tf1_style(sf, sizes, batch, config, from_arrays=name == "sf from arrays")
        return step, sess
    if name == "tensorflow1":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import tensorflow.compat.v1 as tf

        tf.disable_eager_execution()
        return _tf1_style(tf, sizes, batch)[0], None
    if name == "numpy":
        import numpy_mlp

        params, x0, y0 = _problem(sizes, batch)

        def step():
            loss, grads = numpy_mlp.loss_and_grads(params, x0, y0)
            numpy_mlp.sgd_step(params, grads, LR)
            return loss

        return step, None
    if name in ("jax", "pytorch"):
        import peer_mlp

        init, x0, y0 = _problem(sizes, batch)
        make = peer_mlp.jax_sgd_step if name == "jax" else peer_mlp.torch_sgd_step
        step = make(init, x0, y0, LR)
        del init
        return step, None
    raise ValueError(name)


def child(name: str, sizes, batch, steps: int) -> dict:
    """Measure one engine in this process (see the module's docstring)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import idle_threads  # noqa: F401  (before NumPy loads its BLAS)

    try:
        step, sess = _engine(name, sizes, batch)
    except ImportError as e:
        return {"missing": str(e)}
    out = {"rss_built": _status("VmRSS")}
    _reset_peak()
    before = _status("VmRSS")
    t0 = time.perf_counter()
    loss = float(step())
    out["step1_s"] = time.perf_counter() - t0
    out["peak_step1"] = _status("VmHWM") - before
    out["loss"] = loss
    step()  # warm
    rss0 = _status("VmRSS")
    best = float("inf")
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - t0)
    out["step_s"] = best
    out["steady_growth"] = _status("VmRSS") - rss0
    if sess is not None:  # staticflow: the plan of the step
        plan = [p for ps in sess._plans.values() for p in ps][-1]
        st = plan.stats
        out["plan"] = {
            "arena": st.arena_bytes,
            "intermediates": st.intermediate_bytes,
            "peak": st.peak_bytes,
            "in_place": st.in_place,
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--sizes", default="-".join(map(str, SIZES)), help="layer sizes, e.g. 784-4096-10")
    ap.add_argument("--steps", type=int, default=5, help="timed steady steps per engine")
    ap.add_argument(
        "--engines", default="staticflow,sf NO_MEM_OPT,sf from arrays,numpy,tensorflow1,jax,pytorch"
    )
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split("-")]
    if args.child:
        print(json.dumps(child(args.child, sizes, args.batch, args.steps)))
        return
    import platform

    print(
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, {os.cpu_count()} cores; "
        f"load {os.getloadavg()[0]:.2f}"
    )
    results = {}
    for name in args.engines.split(","):
        cmd = [
            sys.executable,
            os.path.abspath(__file__),
            "--child",
            name,
            "--batch",
            str(args.batch),
            "--sizes",
            args.sizes,
            "--steps",
            str(args.steps),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True)
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
        if done.returncode or not lines:
            print(f"{name}: failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(lines[-1])
        if "missing" in r:
            print(f"{name}: not installed ({r['missing']})")
            continue
        results[name] = r
    print(
        f"\nMLP {args.sizes} (relu), batch {args.batch}, plain SGD (lr {LR}); load after: "
        f"{os.getloadavg()[0]:.2f}"
    )
    base = results.get("staticflow")
    head = (
        f"{'engine':<14}{'step s':>9}{'ratio':>7}{'RSS built MiB':>15}{'ratio':>7}"
        f"{'step-1 peak +MiB':>18}{'ratio':>7}{'steady +MiB':>13}{'loss':>10}"
    )
    print(head)
    for name, r in results.items():

        def ratio(k, r=r):
            return f"{r[k] / base[k]:.2f}" if base and base[k] > 0 else "-"

        print(
            f"{name:<14}{r['step_s']:>9.3f}{ratio('step_s'):>7}{r['rss_built'] / MIB:>15.0f}"
            f"{ratio('rss_built'):>7}{r['peak_step1'] / MIB:>18.0f}{ratio('peak_step1'):>7}"
            f"{r['steady_growth'] / MIB:>13.1f}{r['loss']:>10.5f}"
        )
    for name in ("staticflow", "sf NO_MEM_OPT"):
        if name in results and "plan" in results[name]:
            p = results[name]["plan"]
            print(
                f"{name} plan: arena {p['arena'] / MIB:.1f} MiB, all intermediates "
                f"{p['intermediates'] / MIB:.1f} MiB, peak live {p['peak'] / MIB:.1f} MiB, "
                f"{p['in_place']} outputs written in place"
            )


if __name__ == "__main__":
    main()
