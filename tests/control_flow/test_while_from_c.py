"""Loops whose cond and body are each one segment of kernel calls run from C
(sf_run_while): the same values as a NumPy loop, errors named as from Python, and
a loop that returns to Python part way resumes where it stopped."""

import numpy as np
import pytest

import staticflow as sf
from staticflow.backends.cpu import CPUBackend
from staticflow.runtime.plan import LoopRunner


@pytest.fixture
def c_calls(monkeypatch):
    """The number of sf_run_while calls made while the test runs."""
    calls = []
    original = CPUBackend.run_while

    def counting(self, *args):
        calls.append(1)
        return original(self, *args)

    monkeypatch.setattr(CPUBackend, "run_while", counting)
    return calls


def _reference(k, x, w, acc):
    for _ in range(k):
        x, acc = np.tanh(x @ w), acc + x.sum()
    return x, acc


def _loop():
    n = sf.placeholder(sf.int32, [], name="n")
    w = sf.constant(np.array([[0.5, -0.2], [0.1, 0.9]], np.float32))
    x0 = sf.constant(np.array([[1.0, 2.0]], np.float32))
    keep = sf.constant(np.arange(3, dtype=np.int64))
    return n, w, sf.while_loop(
        lambda i, x, acc, kept: i < n,
        lambda i, x, acc, kept: (i + 1, sf.tanh(sf.matmul(x, w)), acc + sf.reduce_sum(x), kept),
        [0, x0, 0.0, keep],
    )


def test_loop_runs_from_c_with_numpy_values(c_calls):
    with sf.Graph().as_default():
        n, w, (i, x, acc, kept) = _loop()
        with sf.Session() as sess:
            for k in (0, 1, 2, 9, 3):
                got_i, got_x, got_acc, got_kept = sess.run([i, x, acc, kept], {n: k})
                want_x, want_acc = _reference(k, np.array([[1.0, 2.0]], np.float32),
                                              np.array([[0.5, -0.2], [0.1, 0.9]], np.float32), np.float32(0))
                assert got_i == k
                np.testing.assert_allclose(got_x, want_x, rtol=1e-5)
                np.testing.assert_allclose(got_acc, want_acc, rtol=1e-5)
                np.testing.assert_array_equal(got_kept, np.arange(3))
    # the first iteration of a run runs from Python; the rest, down to the cond's stop, from C
    assert len(c_calls) == 4


def test_loop_that_returns_to_python_resumes(c_calls, monkeypatch):
    monkeypatch.setattr(LoopRunner, "C_LIMIT", 2)  # back to Python after every 2 bodies
    with sf.Graph().as_default():
        n, w, (i, x, acc, _) = _loop()
        with sf.Session() as sess:
            got_i, got_x, got_acc = sess.run([i, x, acc], {n: 11})
    want_x, want_acc = _reference(11, np.array([[1.0, 2.0]], np.float32),
                                  np.array([[0.5, -0.2], [0.1, 0.9]], np.float32), np.float32(0))
    assert got_i == 11
    np.testing.assert_allclose(got_x, want_x, rtol=1e-5)
    np.testing.assert_allclose(got_acc, want_acc, rtol=1e-5)
    assert len(c_calls) == 6  # 10 bodies after the first, 2 per call, then the cond's stop


def test_time_budget_returns_to_python_and_resumes(c_calls, monkeypatch):
    monkeypatch.setattr(LoopRunner, "C_BUDGET_NS", 1)  # every body spends the budget
    with sf.Graph().as_default():
        n = sf.placeholder(sf.int32, [])
        i, s = sf.while_loop(lambda i, s: i < n, lambda i, s: (i + 1, s + sf.cast(i, sf.float32)), [0, 0.0])
        with sf.Session() as sess:
            assert sess.run([i, s], {n: 6}) == [6, 15.0]
    assert len(c_calls) == 6  # bodies 2..6 one per call, then the call whose cond stops


def test_a_failing_kernel_in_a_c_loop_names_its_op():
    with sf.Graph().as_default():
        n = sf.placeholder(sf.int32, [])
        x0 = sf.constant(np.array([1.0, 2.0], np.float32))

        def body(i, x):
            # the logarithm of a negative value is NaN from the third iteration on
            return i + 1, sf.debugging.check_numerics(sf.log(x - 0.75), "loop value")

        _, x = sf.while_loop(lambda i, x: i < n, body, [0, x0])
        with sf.Session() as sess:
            sess.run(x, {n: 1})
            with pytest.raises(sf.errors.InvalidArgumentError, match="loop value"):
                sess.run(x, {n: 5})

