"""cond (nested, fed predicates, a branch that writes a variable), case, switch_case and
while_loop (fed count, maximum_iterations, nested loops, a body that writes a variable), and
a cond's gradient."""

import numpy as np


def program(tf):
    x = tf.placeholder(tf.float32, [3])
    p = tf.placeholder(tf.bool, [])
    q = tf.placeholder(tf.bool, [])
    n = tf.placeholder(tf.int32, [])
    v = tf.Variable(0.0)
    w = tf.constant(np.array([0.5, -1.0, 2.0], np.float32))

    def counted():
        with tf.control_dependencies([tf.assign_add(v, 1.0)]):
            return tf.identity(x * w)

    c = tf.cond(p, lambda: tf.cond(q, counted, lambda: tf.sin(x)), lambda: tf.square(x) - w)
    (gc,) = tf.gradients(tf.reduce_sum(c * c), x)
    sw = tf.switch_case(n % 3, [lambda: x, lambda: x * 2.0, lambda: -x])
    ca = tf.case([(n < 1, lambda: x + 1.0), (n < 2, lambda: x + 2.0)], default=lambda: x + 3.0)

    def outer(i, acc):
        _, s = tf.while_loop(
            lambda j, s: j < i, lambda j, s: (j + 1, s + tf.tanh(x * tf.cast(j, tf.float32))), [0, x]
        )
        return i + 1, acc + s

    _, loop = tf.while_loop(lambda i, acc: i < n, outer, (0, tf.zeros([3])), maximum_iterations=4)
    steps = tf.Variable(0.0)

    def counting_body(i):
        with tf.control_dependencies([tf.assign_add(steps, 2.0)]):
            return i + 1

    counted_loop = tf.while_loop(lambda i: i < n, counting_body, [0])
    out = {}
    xv = np.array([0.3, -1.2, 2.0], np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for pv in (True, False):
            for qv in (True, False):
                key = f"{int(pv)}{int(qv)}"
                out["c" + key], out["gc" + key] = sess.run([c, gc], {x: xv, p: pv, q: qv})
        out["count"] = np.asarray(sess.run(v))
        for k in (0, 1, 2, 5):
            out[f"sw{k}"], out[f"ca{k}"], out[f"loop{k}"] = sess.run([sw, ca, loop], {x: xv, n: k})
            out[f"counted{k}"] = np.asarray(sess.run(counted_loop, {n: k}))
        out["steps"] = np.asarray(sess.run(steps))
    return out
