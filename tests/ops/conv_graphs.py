"""The graph the conv tests run on every kernel path: a conv2d, the gradients of <y, dy>
with respect to its image and filter, and the kernels its plan calls."""

from __future__ import annotations

import numpy as np

import staticflow as sf


def conv_with_gradients(x, w, dy, dt, strides, padding, dilations=(1, 1)) -> tuple[set, list]:
    """(the kernel symbols the plan calls, [y, dy/dx, dy/dw]) of conv2d(x, w) in dtype dt;
    `padding` a string or ((top, bottom), (left, right)); x fed with an unknown batch."""
    tf_pad = padding if isinstance(padding, str) else [[0, 0], list(padding[0]), list(padding[1]), [0, 0]]
    with sf.Graph().as_default():
        xp = sf.placeholder(dt, [None, *x.shape[1:]])
        wc = sf.constant(w.astype(dt))
        y = sf.nn.conv2d(xp, wc, strides=[1, *strides, 1], padding=tf_pad, dilations=[1, *dilations, 1])
        gx, gw = sf.gradients(sf.reduce_sum(y * sf.constant(np.asarray(dy).astype(dt))), [xp, wc])
        with sf.Session() as sess:
            feeds = {xp: x.astype(dt)}
            plan = sess.plan([y, gx, gw], feeds)
            used = {c.symbol for step in plan.steps for c, _, _ in step.calls}
            return used, sess.run([y, gx, gw], feeds)


def conv_bias_relu_pool(x, w, b) -> tuple[set, np.ndarray]:
    """(the kernel symbols the plan calls, the result) of max_pool2x2(relu(conv2d(x, w, SAME)
    + b)) in float32, x fed with an unknown batch: the pattern the fused conv kernels take."""
    with sf.Graph().as_default():
        xp = sf.placeholder(sf.float32, [None, *x.shape[1:]])
        conv = sf.nn.conv2d(xp, w.astype(np.float32), 1, "SAME")
        h = sf.nn.relu(sf.nn.bias_add(conv, b.astype(np.float32)))
        p = sf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
        with sf.Session() as sess:
            feeds = {xp: x.astype(np.float32)}
            plan = sess.plan(p, feeds)
            return {c.symbol for step in plan.steps for c, _, _ in step.calls}, sess.run(p, feeds)
