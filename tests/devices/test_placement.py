"""Placement: scopes, soft placement on and off, TF1's messages and log lines, colocation."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf
from staticflow.framework import backend

GPU = "/job:localhost/replica:0/task:0/device:GPU:0"
CPU = "/job:localhost/replica:0/task:0/device:CPU:0"


def _devices(sess, fetches, feeds=None) -> dict:
    """User op name -> the device its step ran on, in the plan of this run."""
    p = sess.plan(fetches, feeds)
    out = {}
    for step in p.steps:
        if step.node.opdef is not None and step.node.opdef.transfer:
            continue
        for o in step.node.origin:
            out[o.name] = step.node.device
    return out


def test_scopes_place_ops_and_unscoped_ops_go_to_the_gpu(sim_gpu):
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [2, 3], name="x")
        with sf.device("/cpu:0"):
            a = sf.exp(x, name="on_cpu")
        with sf.device("/device:GPU:0"):
            b = sf.tanh(a, name="on_gpu")
        c = sf.negative(b, name="unscoped")
    xv = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    with sf.Session(graph=g) as s:
        got = s.run(c, {x: xv})
        where = _devices(s, c, {x: xv})
    np.testing.assert_allclose(got, -np.tanh(np.exp(xv)), rtol=1e-6)
    assert where["on_cpu"] == CPU
    assert where["on_gpu"] == GPU
    assert where["unscoped"] == GPU  # TF places an op without a scope on the GPU when it can


def test_without_a_gpu_an_explicit_gpu_op_fails_with_tensorflows_message():
    assert not backend.has_devices()
    g = sf.Graph()
    with g.as_default():
        with sf.device("/gpu:0"):
            y = sf.add(sf.constant([1.0]), 1.0, name="add")
    with sf.Session(graph=g) as s:
        with pytest.raises(sf.errors.InvalidArgumentError) as e:
            s.run(y)
    msg = str(e.value)
    assert "Cannot assign a device for operation" in msg
    assert "was explicitly assigned to /device:GPU:0 but available devices are [ " + CPU + " ]" in msg
    assert "test_placement.py" in msg  # the user's line
    with sf.Session(graph=g, config=sf.ConfigProto(allow_soft_placement=True)) as s:
        assert s.run(y) == pytest.approx([2.0])


def test_an_op_without_a_gpu_kernel_falls_back_only_with_soft_placement(make_sim_gpu):
    make_sim_gpu(kernels=lambda sym: "tanh" not in sym)
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [4], name="x")
        with sf.device("/gpu:0"):
            t = sf.tanh(x, name="squash")
            y = sf.exp(t, name="grow")
    xv = np.array([-1, 0, 0.5, 2], np.float32)
    with sf.Session(graph=g) as s:
        with pytest.raises(sf.errors.InvalidArgumentError) as e:
            s.run(y, {x: xv})
    msg = str(e.value)
    assert (
        "Cannot assign a device for operation squash: Could not satisfy explicit device specification "
        "'/device:GPU:0' because no supported kernel for GPU devices is available" in msg
    )
    assert "node squash (Tanh) defined at" in msg and "test_placement.py" in msg
    with sf.Session(graph=g, config=sf.ConfigProto(allow_soft_placement=True)) as s:
        np.testing.assert_allclose(s.run(y, {x: xv}), np.exp(np.tanh(xv)), rtol=1e-6)
        where = _devices(s, y, {x: xv})
    assert where == {"squash": CPU, "grow": GPU}


def test_log_device_placement_prints_tensorflows_lines(sim_gpu, capfd):
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [2], name="x")
        with sf.device("/gpu:0"):
            y = sf.square(x, name="sq")
        with sf.device("/cpu:0"):
            z = sf.sqrt(y, name="root")
    with sf.Session(graph=g, config=sf.ConfigProto(log_device_placement=True)) as s:
        s.run(z, {x: [3.0, 4.0]})
    err = capfd.readouterr().err
    assert f"sq: (Square): {GPU}" in err.splitlines()
    assert f"root: (Sqrt): {CPU}" in err.splitlines()
    assert "upload" not in err and "download" not in err  # the copies are not user ops


def test_a_variable_its_read_and_its_updates_are_colocated(make_sim_gpu):
    # the GPU lacks the optimizer's update kernel: with soft placement the variable, its
    # read and its update all stay on the CPU together
    make_sim_gpu(kernels=lambda sym: "apply_gradient_descent" not in sym)
    g = sf.Graph()
    with g.as_default():
        with sf.device("/gpu:0"):
            w = sf.Variable(np.ones(3, np.float32), name="w")
            loss = sf.reduce_sum(sf.square(w), name="loss")
            step = sf.train.GradientDescentOptimizer(0.25).minimize(loss)
        init = sf.global_variables_initializer()
    with sf.Session(graph=g, config=sf.ConfigProto(allow_soft_placement=True)) as s:
        s.run(init)
        s.run(step)
        where = _devices(s, step)
        np.testing.assert_allclose(s.run(w), np.full(3, 0.5, np.float32))
        assert s._variables.device_of("w") == ""  # the variable's storage is host memory
    assert where["GradientDescent/update_w/ApplyGradientDescent"] == CPU
    assert where["loss"] == GPU  # what is not colocated with it still goes to the GPU
    with sf.Session(graph=g) as s:  # soft placement off: the group's message names the update
        with pytest.raises(sf.errors.InvalidArgumentError, match="ApplyGradientDescent"):
            s.run(init)


def test_device_count_zero_keeps_a_session_off_the_gpu(sim_gpu):
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [2], name="x")
        y = sf.exp(x, name="e")
    cfg = sf.ConfigProto(device_count={"GPU": 0})
    with sf.Session(graph=g, config=cfg) as s:
        assert _devices(s, y, {x: [0.0, 1.0]})["e"] in ("", CPU)  # ("": placement had nothing to do)
    sim_gpu.reset()
    with sf.Session(graph=g, config=cfg) as s:
        s.run(y, {x: [0.0, 1.0]})
    assert sim_gpu.counters.launches == 0 and sim_gpu.counters.uploads == 0


def test_a_second_gpu_is_placed_and_copied_through_the_host(make_sim_gpu):
    dev = make_sim_gpu(count=2)
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [3], name="x")
        with sf.device("/gpu:0"):
            a = sf.exp(x, name="a")
        with sf.device("/gpu:1"):
            b = sf.negative(a, name="b")
    xv = np.array([0.0, 1.0, 2.0], np.float32)
    with sf.Session(graph=g) as s:
        np.testing.assert_allclose(s.run(b, {x: xv}), -np.exp(xv), rtol=1e-6)
        where = _devices(s, b, {x: xv})
        dev.reset()
        s.run(b, {x: xv})
    assert where == {"a": GPU, "b": GPU[:-1] + "1"}
    # x up to GPU:0; a down to the host and up to GPU:1; b down
    assert (dev.counters.uploads, dev.counters.downloads) == (2, 2)


def test_queries_list_a_gpu_only_where_one_can_run(make_sim_gpu):
    assert sf.config.list_physical_devices("GPU") == []
    assert sf.config.experimental.list_physical_devices("GPU") == []
    assert not sf.test.is_gpu_available()
    cpus = sf.config.list_physical_devices("CPU")
    assert [d.name for d in cpus] == ["/physical_device:CPU:0"]
    make_sim_gpu()  # a simulated device is not a GPU staticflow can run on ...
    assert not sf.test.is_gpu_available()
    assert sf.config.list_physical_devices("GPU") == []
    make_sim_gpu(listed=True)  # ... unless a test asks for it to be listed
    assert sf.test.is_gpu_available()
    assert [d.name for d in sf.config.list_physical_devices("GPU")] == ["/physical_device:GPU:0"]
    assert [d.name for d in sf.config.list_logical_devices("GPU")] == ["/device:GPU:0"]


def test_visible_device_list_bounds_the_gpus_a_session_uses(make_sim_gpu):
    make_sim_gpu(count=2)
    g = sf.Graph()
    with g.as_default():
        with sf.device("/gpu:1"):
            y = sf.exp(sf.constant([0.0]), name="e")
    one = sf.ConfigProto(gpu_options=sf.GPUOptions(visible_device_list="0"))
    with sf.Session(graph=g, config=one) as s:
        with pytest.raises(sf.errors.InvalidArgumentError, match="explicitly assigned to /device:GPU:1"):
            s.run(y)
    with sf.Session(graph=g) as s:
        assert s.run(y) == pytest.approx([1.0])


def test_16_bit_float_graphs_run_on_a_gpu_with_the_cuda_librarys_kernels(make_sim_gpu):
    """A simulated GPU with exactly the kernels the CUDA library exports: float16 and
    bfloat16 nodes (elementwise, addn, casts, transposes, gathers, a reduction through
    float32) are placed on it with soft placement off, none falls back to the CPU."""
    from staticflow.backends import cuda

    try:
        table = cuda.kernel_table()
    except cuda.CudaUnavailable as e:
        pytest.skip(str(e))
    have = {"sf_cpu_" + n[len("sf_cuda_"):] for n in table}
    make_sim_gpu(kernels=lambda sym: sym in have)
    g = sf.Graph()
    with g.as_default(), sf.device("/gpu:0"):
        x = sf.placeholder(sf.float16, [3, 4], name="x")
        b = sf.cast(x, sf.bfloat16, name="to_bf16")
        z = sf.add(sf.multiply(b, b, name="square"), sf.constant(1.0, sf.bfloat16), name="plus_one")
        s = sf.add_n([z, z, b], name="sum3")
        t = sf.transpose(s, name="flip")
        picked = sf.gather(t, [2, 0], name="pick")
        total = sf.reduce_sum(sf.cast(picked, sf.float16, name="to_f16"), axis=1, name="total")
    xv = (np.arange(12, dtype=np.float32).reshape(3, 4) / 7).astype(np.float16)
    with sf.Session(graph=g, config=sf.ConfigProto(allow_soft_placement=False)) as s_:
        got = s_.run(total, {x: xv})
        where = _devices(s_, total, {x: xv})
    for name in ("to_bf16", "square", "plus_one", "sum3", "flip", "pick", "to_f16", "total"):
        assert where[name] == GPU, (name, where)
    bv = xv.astype(np.float32).astype(sf.bfloat16.np)
    zv = ((bv * bv).astype(np.float32) + 1).astype(sf.bfloat16.np)
    sv = (zv.astype(np.float32) + zv.astype(np.float32)).astype(sf.bfloat16.np)
    sv = (sv.astype(np.float32) + bv.astype(np.float32)).astype(sf.bfloat16.np)
    picked_f16 = sv.T[[2, 0]].astype(np.float32).astype(np.float16)
    want = picked_f16.astype(np.float32).sum(axis=1).astype(np.float16)
    np.testing.assert_array_equal(got, want)
