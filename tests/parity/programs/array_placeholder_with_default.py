"""placeholder_with_default: the default when not fed, the feed otherwise, and its static shape."""

import numpy as np


def program(tf):
    default = np.arange(6, dtype=np.float32).reshape(2, 3)
    p = tf.placeholder_with_default(default, shape=[None, 3])
    y = tf.reduce_sum(p * 2.0, axis=0)
    flag = tf.placeholder_with_default(True, shape=[])
    z = tf.where(flag, y, -y)
    with tf.Session() as sess:
        unfed = sess.run(z)
        fed = sess.run(z, {p: np.ones((4, 3), np.float32), flag: False})
    shape = np.array([-1 if d is None else d for d in p.shape.as_list()], np.int64)
    return {"unfed": unfed, "fed": fed, "shape": shape}
