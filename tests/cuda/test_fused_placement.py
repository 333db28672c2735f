"""Placement of the pattern-fused nodes and the candidate samplers on a GPU that has
exactly the CUDA library's kernels: the simulated GPU (runs the C kernels on memory of
its own) with the kernel table of kernels/cuda/ (its CPU build: no nvcc or GPU needed).
With soft placement off, a node without a CUDA kernel would fail the run."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf
from staticflow.backends import simulated

GPU = "/job:localhost/replica:0/task:0/device:GPU:0"
FUSED = {"_FusedMatMul", "_FusedConv2D", "_FusedConv2DMaxPool", "_FusedBiasActivationGrad",
         "_MatMulApplyGradientDescent"}


def _cuda_has(table, without=()):
    """The CUDA library's kernels as a predicate on C kernel symbols, less those whose names
    contain a string in `without`."""

    def has(sym: str) -> bool:
        if not sym.startswith("sf_cpu_") or any(w in sym for w in without):
            return False
        return "sf_cuda_" + sym[len("sf_cpu_"):] in table

    return has


def _model():
    g = sf.Graph()
    rng = np.random.default_rng(0)
    with g.as_default():
        with sf.device("/gpu:0"):
            x = sf.placeholder(sf.float32, [4, 6, 6, 2], name="x")
            f = sf.Variable(rng.standard_normal((3, 3, 2, 3)).astype(np.float32), name="f")
            fb = sf.Variable(np.full(3, 0.1, np.float32), name="fb")
            conv = sf.nn.relu(sf.nn.bias_add(sf.nn.conv2d(x, f, [1, 1, 1, 1], "SAME"), fb))
            pooled = sf.nn.max_pool(conv, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
            flat = sf.reshape(pooled, [4, 27])
            w = sf.Variable(rng.standard_normal((27, 5)).astype(np.float32) * 0.3, name="w")
            b = sf.Variable(np.zeros(5, np.float32), name="b")
            h = sf.nn.relu(sf.matmul(flat, w) + b)
            loss = sf.reduce_mean(sf.square(h))
            step = sf.train.GradientDescentOptimizer(0.1).minimize(loss)
            labels = sf.constant([[1], [3]], sf.int64)
            sampled = sf.nn.log_uniform_candidate_sampler(labels, 1, 4, True, 50, seed=3)[0]
        init = sf.global_variables_initializer()
    return g, x, loss, step, sampled, init


def _run(where: dict | None, soft: bool = False):
    g, x, loss, step, sampled, init = _model()
    xv = np.random.default_rng(1).standard_normal((4, 6, 6, 2)).astype(np.float32)
    with sf.Session(graph=g, config=sf.ConfigProto(allow_soft_placement=soft)) as s:
        s.run(init)
        before = s.run(loss, {x: xv})
        s.run(step, {x: xv})
        after = s.run(loss, {x: xv})
        cands = s.run(sampled)
        if where is not None:
            for fetch in (step, sampled):
                for st in s.plan(fetch, {x: xv}).steps:
                    if st.node.opdef is not None and not st.node.opdef.transfer:
                        where.setdefault(st.node.opdef.name, set()).add(st.node.device)
    return before, after, cands


def test_fused_nodes_and_samplers_run_on_a_gpu_with_the_cuda_kernels(emu):
    simulated.install(kernels=_cuda_has(emu.table))
    try:
        where: dict = {}
        got = _run(where)
    finally:
        simulated.uninstall()
    want = _run(None, soft=True)  # no GPU: the CPU
    fused = FUSED & set(where)
    assert {"_FusedMatMul", "_FusedBiasActivationGrad", "_MatMulApplyGradientDescent"} <= fused, where
    assert fused & {"_FusedConv2D", "_FusedConv2DMaxPool"}, where
    assert all(where[n] == {GPU} for n in fused), where
    sampler = [n for n in where if "CandidateSampler" in n]
    assert sampler and all(where[n] == {GPU} for n in sampler), where
    np.testing.assert_allclose(got[:2], want[:2], rtol=1e-5)
    np.testing.assert_array_equal(got[2], want[2])


@pytest.mark.parametrize("missing", ["fused_matmul", "candidate_sampler", "fused_conv2d"])
def test_without_the_cuda_kernel_the_node_cannot_be_placed(emu, missing):
    """The control: the same GPU without one family fails with soft placement off."""
    simulated.install(kernels=_cuda_has(emu.table, without=(missing,)))
    try:
        with pytest.raises(sf.errors.InvalidArgumentError, match="Cannot assign a device"):
            _run(None)
    finally:
        simulated.uninstall()
