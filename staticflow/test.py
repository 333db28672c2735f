"""sf.test: TF1's tf.test: TestCase, main, device queries and numerical gradient checks.

``TestCase`` (staticflow.testing.testcase) is loaded on first use, so that
``import staticflow`` does not load unittest and absl's test runner; so is
``mock`` (unittest.mock, as tf.test.mock).
"""

from __future__ import annotations

import numpy as np

from staticflow.autodiff import gradients
from staticflow.ops import array_ops
from staticflow.runtime.session import get_default_session


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def compute_gradient(
    x,
    x_shape,
    y,
    y_shape,
    x_init_value=None,
    delta=1e-3,
    init_targets=None,
    extra_feed_dict=None,
    session=None,
):
    """(theoretical, numerical) Jacobians of y w.r.t. x, each [x size, y size].

    The theoretical one comes from the gradient graph, one output element at a
    time; the numerical one from central differences of width 2 delta. Run in
    float64 for tight agreement. Lists of xs give a list of pairs.
    """
    xs, shapes = _as_list(x), _as_list(x_shape) if isinstance(x, (list, tuple)) else [x_shape]
    inits = _as_list(x_init_value) if isinstance(x, (list, tuple)) else [x_init_value]
    sess = session or get_default_session()
    if sess is None:
        raise ValueError("compute_gradient needs a default session (use `with sf.Session():`)")
    if init_targets is not None:
        sess.run(init_targets)
    rng = np.random.default_rng(0)
    values = [
        np.asarray(v, dtype=t.dtype.np) if v is not None else rng.uniform(-1, 1, s).astype(t.dtype.np)
        for t, s, v in zip(xs, shapes, inits)
    ]
    feeds = dict(extra_feed_dict or {})
    feeds.update(zip(xs, values))
    y_size = int(np.prod(y_shape, dtype=np.int64))
    with y.graph.as_default():
        dy = array_ops.placeholder(y.dtype, shape=y_shape)
        grads = gradients(y, xs, grad_ys=dy)
    out = []
    for k, (t, v) in enumerate(zip(xs, values)):
        theo = np.zeros((v.size, y_size))
        num = np.zeros((v.size, y_size))
        if grads[k] is not None:
            for j in range(y_size):
                onehot = np.zeros(y_size, y.dtype.np)
                onehot[j] = 1
                g = sess.run(grads[k], {**feeds, dy: onehot.reshape(y_shape)})
                theo[:, j] = np.asarray(g).reshape(-1)
        for i in range(v.size):
            up, down = v.copy(), v.copy()
            up.reshape(-1)[i] += delta
            down.reshape(-1)[i] -= delta
            fu = sess.run(y, {**feeds, t: up})
            fd = sess.run(y, {**feeds, t: down})
            num[i, :] = (np.asarray(fu, np.float64) - np.asarray(fd, np.float64)).reshape(-1) / (2 * delta)
        out.append((theo, num))
    return out if isinstance(x, (list, tuple)) else out[0]


def compute_gradient_error(
    x,
    x_shape,
    y,
    y_shape,
    x_init_value=None,
    delta=1e-3,
    init_targets=None,
    extra_feed_dict=None,
    session=None,
) -> float:
    """The largest absolute difference between the theoretical and numerical Jacobians."""
    res = compute_gradient(
        x, x_shape, y, y_shape, x_init_value, delta, init_targets, extra_feed_dict, session
    )
    pairs = res if isinstance(res, list) else [res]
    return max(float(np.max(np.abs(a - b))) if a.size else 0.0 for a, b in pairs)


# --- tests and devices (TF1's tf.test.main, is_gpu_available, ...) ------------------------------
def main(argv=None):
    """Run the tests of ``__main__`` with absl's test runner, which parses the command
    line's flags first (sf.flags included) and exits with the result (TF1's tf.test.main)."""
    from absl import app
    from absl.testing import absltest

    if argv is None:
        return absltest.main()
    return app.run(main=lambda args: absltest.main(argv=args), argv=argv)


def gpu_device_name() -> str:
    """The name of a GPU device staticflow runs on, or '' when there is none."""
    from staticflow.testing.testcase import gpu_device_name as name

    return name()


def is_gpu_available(cuda_only: bool = False, min_cuda_compute_capability=None) -> bool:
    """Whether staticflow can run on a GPU here: its CUDA library is built and the driver
    sees a GPU (TF1's signature; the compute capability is not checked: the library's fat
    binary covers sm_80 and sm_90 and carries PTX for newer GPUs)."""
    del cuda_only, min_cuda_compute_capability
    return bool(gpu_device_name())


def is_built_with_cuda() -> bool:
    """Whether staticflow's CUDA kernel library was built (nvcc was found at install)."""
    from staticflow.backends import cuda

    return cuda.LIBRARY.is_file()


def is_built_with_rocm() -> bool:
    return False


def is_built_with_gpu_support() -> bool:
    return is_built_with_cuda() or is_built_with_rocm()


def is_built_with_xla() -> bool:
    return False


def get_temp_dir() -> str:
    """The process's directory for test files, removed at exit ($TEST_TMPDIR when set)."""
    from staticflow.testing.isolation import base_temp_dir

    return base_temp_dir()


def __getattr__(name: str):
    if name == "TestCase":
        from staticflow.testing.testcase import TestCase

        return TestCase
    if name == "mock":
        import unittest.mock

        return unittest.mock
    raise AttributeError(f"module 'staticflow.test' has no attribute {name!r}")
