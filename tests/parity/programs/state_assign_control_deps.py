"""Variables updated under control dependencies: a counter, assign, assign_sub, group."""

import numpy as np


def program(tf):
    counter = tf.Variable(0, dtype=tf.int32, name="counter")
    acc = tf.Variable(np.zeros(3, np.float32), name="acc")
    x = tf.placeholder(tf.float32, [3])
    inc = tf.assign_add(counter, 1)
    with tf.control_dependencies([inc]):
        add = tf.assign_add(acc, x * tf.cast(counter, tf.float32))
    halve = tf.assign(acc, acc / 2.0)
    step = tf.group(add, name="step")
    values = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for i in range(4):
            sess.run(step, {x: np.array([1.0, 2.0, 3.0], np.float32) * i})
            values.append(sess.run(acc))
        sess.run(halve)
        sess.run(tf.assign_sub(acc, [1.0, 1.0, 1.0]))
        final, count = sess.run([acc, counter])
    return {"history": np.stack(values), "final": final, "count": np.int32(count)}
