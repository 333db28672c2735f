"""sf.test: numerical gradient checking (TF1's tf.test.compute_gradient[_error])."""

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
