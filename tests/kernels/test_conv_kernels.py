"""The direct conv kernels (conv.c) called with bad geometry or scratch: each refuses
with a message naming what is wrong, and writes nothing."""

import numpy as np
import pytest

from staticflow.backends.cpu import KernelError, call_kernel, simd_bytes

LANES = simd_bytes() // 4  # float32 lanes of one vector


def _args(o=6, scratch=4096, chunk=None):
    x = np.ones((2, 5, 5, 1), np.float32)
    w = np.ones((3, 3, 1, o), np.float32)
    y = np.full((2, 5, 5, o), 7.0, np.float32)
    chunk = chunk if chunk is not None else LANES * o  # a multiple of both
    return [x, w, np.zeros(scratch, np.float32)], [y], (1, 1, 1, 1, 1, 1, chunk)


def test_direct_conv_runs_with_good_arguments():
    ins, outs, ia = _args()
    call_kernel("sf_cpu_conv2d_direct_float32", ins, outs, ia)
    # interior outputs see all 9 taps of ones, corners 4
    assert outs[0][0, 2, 2, 0] == 9.0 and outs[0][0, 0, 0, 5] == 4.0


@pytest.mark.parametrize(
    "change,message",
    [
        (dict(chunk=LANES * 6 + 1), "must be a multiple of the depth"),
        (dict(chunk=LANES * 9 * 6), "at most 8 vectors"),
        (dict(scratch=10), "the scratch must hold"),
    ],
)
def test_direct_conv_refuses_bad_arguments(change, message):
    ins, outs, ia = _args(**change)
    with pytest.raises(KernelError, match=message):
        call_kernel("sf_cpu_conv2d_direct_float32", ins, outs, ia)
    assert np.all(outs[0] == 7.0)


def test_direct_conv_needs_stride_one():
    ins, outs, ia = _args()
    with pytest.raises(KernelError, match="strides and dilations 1"):
        call_kernel("sf_cpu_conv2d_direct_float32", ins, outs, (2,) + ia[1:])


def test_direct_filter_gradient_refuses_a_small_scratch():
    x = np.ones((2, 5, 5, 1), np.float32)
    dy = np.ones((2, 5, 5, 6), np.float32)
    dw = np.full((3, 3, 1, 6), 7.0, np.float32)
    with pytest.raises(KernelError, match="the scratch must hold"):
        call_kernel("sf_cpu_conv2d_backprop_filter_direct_float32", [x, dy, np.zeros(10, np.float32)], [dw],
                    (1, 1, 1, 1, 1, 1, LANES * 6))
    assert np.all(dw == 7.0)


def _igemm_args(o=LANES, scratch=4096):
    x = np.ones((2, 5, 5, LANES), np.float32)
    w = np.ones((3, 3, LANES, o), np.float32)
    y = np.full((2, 5, 5, o), 7.0, np.float32)
    return [x, w, np.zeros(scratch, np.float32)], [y], (1, 1, 1, 1, 1, 1, 0)


def test_igemm_conv_runs_with_good_arguments():
    ins, outs, ia = _igemm_args()
    call_kernel("sf_cpu_conv2d_igemm_float32", ins, outs, ia)
    # interior outputs see 9 taps of LANES ones each, corners 4
    assert outs[0][0, 2, 2, 0] == 9.0 * LANES and outs[0][1, 4, 4, LANES - 1] == 4.0 * LANES


@pytest.mark.parametrize(
    "kernel,change,message",
    [
        ("conv2d_igemm", dict(o=LANES + 1), "not a multiple of the"),
        ("conv2d_igemm", dict(scratch=10), "the scratch must hold"),
        ("fused_conv2d_igemm", dict(scratch=10), "the scratch must hold"),
    ],
)
def test_igemm_conv_refuses_bad_arguments(kernel, change, message):
    ins, outs, ia = _igemm_args(**change)
    with pytest.raises(KernelError, match=message):
        call_kernel(f"sf_cpu_{kernel}_float32", ins, outs, ia)
    assert np.all(outs[0] == 7.0)


def test_igemm_gradients_refuse_bad_arguments():
    x = np.ones((2, 5, 5, LANES), np.float32)
    w = np.ones((3, 3, LANES, LANES), np.float32)
    dy = np.ones((2, 5, 5, LANES), np.float32)
    dx = np.full(x.shape, 7.0, np.float32)
    dw = np.full(w.shape, 7.0, np.float32)
    small, big = np.zeros(10, np.float32), np.zeros(8192, np.float32)
    dx_kernel = "sf_cpu_conv2d_backprop_input_igemm_float32"
    with pytest.raises(KernelError, match="the scratch must hold"):
        call_kernel(dx_kernel, [w, dy, small], [dx], (1, 1, 1, 1, 1, 1, 0))
    with pytest.raises(KernelError, match="needs strides 1"):
        call_kernel(dx_kernel, [w, np.ascontiguousarray(dy[:, :3, :3]), big], [dx], (2, 2, 1, 1, 1, 1, 0))
    with pytest.raises(KernelError, match="needs strides 1"):  # padding 3 > the filter's reach 2
        call_kernel(dx_kernel, [w, dy, big], [dx], (1, 1, 1, 1, 3, 1, 0))
    assert np.all(dx == 7.0)
    with pytest.raises(KernelError, match="the scratch must hold"):
        dw_kernel = "sf_cpu_conv2d_backprop_filter_igemm_float32"
        call_kernel(dw_kernel, [x, dy, small], [dw], (1, 1, 1, 1, 1, 1, 0))
    assert np.all(dw == 7.0)
