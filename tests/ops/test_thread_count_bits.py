"""Tests generated from the op registry: every op's cases give the same bits with 1, 2
and 3 kernel threads.

Kernels cut their parallel work by the size of the work, never by the thread count, and
sum in a fixed number of partial sums; so the executor may choose the thread count per run
(from what it observes of the machine) without changing any result: a plan, made once,
gives the same bits whichever count runs it. The cases run once as
declared and once with the parallel thresholds at their floor (`sf_set_parallel_min`), so
that the registry's small cases take the kernels' parallel paths too.
"""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf
from staticflow.backends import cpu
from staticflow.framework import dtypes
from staticflow.ops import builder, registry

RNG_SEED = 1234
THREADS = (1, 2, 3)


def _cases(d):
    return d.cases(np.random.default_rng(RNG_SEED))


def _runnable(d, case) -> bool:
    if case.scenario is not None or case.label in ("feed", "variable"):
        return False
    return not any(a.ref for a in d.inputs)


ALL_OPS = registry.all_ops()
PARAMS = [
    pytest.param(d.name, i, id=f"{d.name}-{i}")
    for d in ALL_OPS
    for i, case in enumerate(_cases(d))
    if _runnable(d, case)
]


def _build(d, case):
    """The op on placeholders of the case's full shapes (host inputs as constants), its
    feeds, and the gradient of its float outputs w.r.t. its float inputs (when it has one),
    so that the backward kernels are covered too."""
    feeds, grouped, floats = {}, [], []
    for a, v in zip(d.inputs, case.inputs):
        vals = list(v) if a.is_list else [v]
        ts = []
        for x in vals:
            x = np.asarray(x)
            dt = dtypes.as_dtype(x.dtype)
            if a.host:
                ts.append(sf.constant(x, dtype=dt))
                continue
            ph = sf.placeholder(dt, shape=x.shape)
            feeds[ph] = x
            ts.append(ph)
            if dt.is_floating and a.differentiable:
                floats.append(ph)
        grouped.append(ts if a.is_list else ts[0])
    op = builder.apply_op(d.name, grouped, dict(case.attrs))
    fetches = list(op.outputs) if op.outputs else [op]
    outs = [t for t in op.outputs if t.dtype.is_floating]
    if case.grad and outs and floats and registry.GRADIENTS.get(d.name) is not None:
        try:
            grads = sf.gradients([sf.reduce_sum(t * t) for t in outs], floats)
        except (LookupError, ValueError, TypeError, NotImplementedError):
            grads = []
        fetches += [g for g in grads if g is not None]
    return fetches, feeds


def _bits(v) -> bytes:
    if isinstance(v, bytes) or v is None:
        return v or b""
    a = np.ascontiguousarray(np.asarray(v))
    return a.tobytes() if a.dtype != object else repr(a.tolist()).encode()


@pytest.fixture
def restore_threads():
    before = cpu.get_num_threads()
    yield
    cpu.set_num_threads(0)
    cpu.set_parallel_min(-1)
    assert cpu.get_num_threads() == before


@pytest.mark.parametrize("op_name,index", PARAMS)
def test_bits_do_not_depend_on_thread_count(op_name, index, restore_threads):
    d = registry.get(op_name)
    case = _cases(d)[index]
    g = sf.Graph()
    with g.as_default():
        fetches, feeds = _build(d, case)
    for floor in (False, True):
        cpu.set_parallel_min(1 if floor else -1)
        got = {}
        sess = None
        # the plan is made at the first run, with the most threads (its scratch holds their
        # parts); the runs after it vary the count. A stateful op (a random one) runs in a
        # session of its own per count, so that its state starts over.
        for n in sorted(THREADS, reverse=True):
            cpu.set_num_threads(n)
            if sess is None or d.stateful:
                if sess is not None:
                    sess.close()
                sess = sf.Session(graph=g)
            got[n] = [_bits(v) for v in sess.run(fetches, feeds)]
        sess.close()
        for n in THREADS[1:]:
            for j, (a, b) in enumerate(zip(got[1], got[n])):
                assert a == b, (
                    f"{op_name} case {index}: fetch {j} ({fetches[j].name}) differs between 1 and "
                    f"{n} threads{' with the parallel thresholds at their floor' if floor else ''}"
                )
