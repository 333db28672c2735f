"""Gradients registered under a name (tf.RegisterGradient) and given to ops through
Graph.gradient_override_map: a custom gradient of Square, Sign's gradient replaced by
Identity's (the straight-through estimator), and an op outside the map keeping its own."""

import numpy as np


def _register(tf, name, fn):
    try:
        tf.RegisterGradient(name)(fn)
    except KeyError:  # registered by an earlier run of this program in the same process
        pass


def program(tf):
    _register(tf, "ParityTripleSquareGrad", lambda op, grad: grad * 3.0 * op.inputs[0])
    rng = np.random.default_rng(7)
    xv = rng.standard_normal((2, 3))
    g = tf.get_default_graph()
    x = tf.placeholder(tf.float64, [2, 3], name="x")
    with g.gradient_override_map({"Square": "ParityTripleSquareGrad", "Sign": "Identity"}):
        y = tf.square(x, name="y")
        s = tf.sign(x, name="s")
    z = tf.square(x, name="z")
    gy = tf.gradients(tf.reduce_sum(y), x)[0]
    gs = tf.gradients(tf.reduce_sum(s * x), x)[0]
    gz = tf.gradients(tf.reduce_sum(z), x)[0]
    with tf.Session() as sess:
        out = sess.run({"gy": gy, "gs": gs, "gz": gz, "y": y}, {x: xv})
    attrs = {n.name: n.attr["_gradient_op_type"].s.decode() for n in g.as_graph_def().node if n.name in "ysz"}
    # the override each op carries in its GraphDef (1 where it is the expected one)
    want = {"y": "ParityTripleSquareGrad", "s": "Identity", "z": ""}
    out["override_attrs"] = np.array([attrs[k] == v for k, v in want.items()], np.int32)
    return out
