"""The kernels' thread count chosen per run (sf_run_plan, sf_run_schedule): a plan's runs
try fewer threads now and then (on a fixed schedule of run counts: the first probes come
within a few runs whatever the timings) and keep the count that has been fastest. Kernels
cut their work by its size, so whichever count each run takes, training gives the bits
that one thread on every run gives, and those a NumPy loop of the same step gives to
float32 rounding."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf
from staticflow.backends import cpu

STEPS = 40  # runs: several probes of the other count


@pytest.fixture
def parallel_everywhere():
    """Two kernel threads and the parallel thresholds at their floor, so every kernel of
    the step has a parallel path to take; restored afterwards."""
    before = cpu.get_num_threads()
    cpu.set_parallel_min(1)
    cpu.set_num_threads(2)
    yield
    cpu.set_parallel_min(-1)
    cpu.set_num_threads(0)
    cpu.set_adaptive_threads(True)
    assert cpu.get_num_threads() == before


def _data():
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (64, 4, 4, 3)).astype(np.float32)
    y = rng.uniform(-1, 1, (64, 10)).astype(np.float32)
    k = rng.normal(0, 0.3, (3, 3, 3, 8)).astype(np.float32)
    w = rng.normal(0, 0.1, (4 * 4 * 8, 10)).astype(np.float32)
    return x, y, k, w


def _train(config=None, steps: int = STEPS):
    """SGD on a conv + dense + sigmoid model (conv filter gradient, products, reductions):
    the weights after `steps` runs."""
    x0, y0, k0, w0 = _data()
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, x0.shape)
        k = sf.Variable(k0)
        w = sf.Variable(w0)
        h = sf.nn.conv2d(x, k, [1, 1, 1, 1], "SAME")
        out = sf.sigmoid(sf.matmul(sf.reshape(h, [64, -1]), w))
        loss = sf.reduce_mean(sf.square(out - y0))
        train = sf.train.GradientDescentOptimizer(0.5).minimize(loss)
        init = sf.global_variables_initializer()
    with sf.Session(graph=g, config=config) as sess:
        sess.run(init)
        for _ in range(steps):
            sess.run(train, {x: x0})
        return sess.run([k, w])


def _numpy_train(steps: int):
    """The same SGD in NumPy, float64 (the reference for the values, not the bits)."""
    x0, y0, k0, w0 = (a.astype(np.float64) for a in _data())
    pad = np.pad(x0, ((0, 0), (1, 1), (1, 1), (0, 0)))
    cols = np.stack([pad[:, i:i + 4, j:j + 4, :] for i in range(3) for j in range(3)], axis=3)
    cols = cols.reshape(64, 4, 4, 27)
    k, w = k0.reshape(27, 8), w0
    for _ in range(steps):
        h = cols @ k  # [64, 4, 4, 8]
        z = h.reshape(64, -1) @ w
        out = 1 / (1 + np.exp(-z))
        dz = 2 * (out - y0) / out.size * out * (1 - out)
        dw = h.reshape(64, -1).T @ dz
        dh = (dz @ w.T).reshape(h.shape)
        dk = cols.reshape(-1, 27).T @ dh.reshape(-1, 8)
        k, w = k - 0.5 * dk, w - 0.5 * dw
    return k.reshape(k0.shape), w


def test_runs_on_any_thread_count_give_one_threads_bits(parallel_everywhere):
    chosen = _train()  # two threads, fewer on some runs (the probes, and whatever is kept)
    cpu.set_adaptive_threads(False)
    fixed_two = _train()
    cpu.set_num_threads(1)
    one = _train()
    for a, b, c in zip(chosen, fixed_two, one):
        assert a.tobytes() == c.tobytes()
        assert b.tobytes() == c.tobytes()


def test_scheduled_runs_give_the_same_bits(parallel_everywhere):
    sched = sf.ConfigProto(inter_op_parallelism_threads=2)
    got = _train(sched)
    cpu.set_adaptive_threads(False)
    cpu.set_num_threads(1)
    want = _train()
    for a, b in zip(got, want):
        assert a.tobytes() == b.tobytes()


def test_training_matches_numpy(parallel_everywhere):
    got = _train(steps=5)
    for a, b in zip(got, _numpy_train(5)):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)


# ---- the choice itself, replayed on synthetic times (sf_policy_replay): the same pick and
# record code on a fresh plan, run i at rung r taking ns[i, r], so no test here times anything

MS = 1_000_000


def _times(n: int, two: float, one: float) -> np.ndarray:
    """n runs on a 2-core machine where two threads take `two` ms and one thread `one` ms."""
    t = np.empty((n, 2), np.int64)
    t[:, 0], t[:, 1] = int(two * MS), int(one * MS)
    return t


def _runs_of_two(rungs: np.ndarray) -> list[int]:
    """Lengths of the stretches of consecutive runs at rung 0 (two threads)."""
    out, n = [], 0
    for r in rungs:
        if r == 0:
            n += 1
        elif n:
            out.append(n)
            n = 0
    return out + ([n] if n else [])


def test_an_idle_machine_keeps_every_thread_and_probes_one_now_and_then():
    rungs = cpu.policy_replay(2, _times(3000, two=1.1, one=2.0))
    assert 0 < (rungs == 1).sum() <= 0.02 * len(rungs)
    assert (rungs[:6] == 1).any()  # the first probe comes within a few runs


def test_a_taken_core_moves_to_one_thread_and_costly_probes_stay_rare():
    """Two threads cost a scheduler slice (31 ms) when another process holds a core: the
    choice moves to one thread, and its probes of two threads back off by their cost, so
    they take at most about a sixteenth of the time."""
    t = _times(3000, two=31.0, one=2.1)
    rungs = cpu.policy_replay(2, t)
    assert (rungs[10:] == 1).mean() > 0.99
    took = t[np.arange(len(rungs)), rungs][100:]
    assert took[rungs[100:] == 0].sum() <= 0.08 * took.sum()


def test_a_probe_of_more_threads_is_two_runs():
    """The first run of a probe of two threads wakes them and is not timed: after the move to
    one thread every stretch at two threads is two runs long."""
    rungs = cpu.policy_replay(2, _times(3000, two=31.0, one=2.1))
    first_one = int(np.argmax(rungs == 1))
    stretches = _runs_of_two(rungs[first_one:])
    assert stretches and all(n == 2 for n in stretches)


def test_the_choice_returns_when_the_core_is_free_again():
    t = np.concatenate([_times(500, two=31.0, one=2.1), _times(3000, two=1.1, one=2.0)])
    rungs = cpu.policy_replay(2, t)
    assert (rungs[400:500] == 1).mean() > 0.95
    assert (rungs[500 + 1100:] == 0).mean() > 0.97  # within the longest back-off


def test_a_slowdown_on_one_thread_probes_nothing_more():
    """A passing slowdown at the one-thread rung cannot be helped by more threads: the same
    runs with hiccups there probe two threads exactly as often as without them."""
    calm = _times(3000, two=31.0, one=2.1)
    bumpy = calm.copy()
    bumpy[200::37, 1] = int(4.0 * MS)
    assert (cpu.policy_replay(2, calm) == 0).sum() == (cpu.policy_replay(2, bumpy) == 0).sum()


def test_a_slowdown_on_every_thread_probes_fewer_soon():
    """At two threads, a run 1.5x slower than their mean asks for a probe of one thread at the
    next run, whatever the back-off had grown to."""
    t = _times(3000, two=1.1, one=2.0)
    t[2000, 0] = int(5.0 * MS)
    rungs = cpu.policy_replay(2, t)
    assert rungs[2001] == 1


def test_replay_refuses_a_table_of_the_wrong_width():
    with pytest.raises(ValueError, match="rungs"):
        cpu.policy_replay(4, _times(10, two=1.0, one=2.0))  # 4 threads: three rungs
