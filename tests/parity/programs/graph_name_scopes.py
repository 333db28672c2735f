"""Op and tensor names: name scopes, variable scopes, unique suffixes, explicit names."""

import numpy as np


def program(tf):
    names = []
    a = tf.constant(1.0, name="a")
    names.append(a.name)
    names.append(tf.constant(2.0, name="a").name)  # a_1
    with tf.name_scope("block"):
        s = tf.add(a, a)
        names.append(s.name)
        names.append(tf.add(a, s).name)
        with tf.name_scope("inner"):
            names.append(tf.multiply(s, 2.0, name="scaled").name)
        names.append(tf.identity(s, name="out").name)
    with tf.name_scope("block"):  # re-entered: a new unique scope
        names.append(tf.add(a, a).name)
    with tf.variable_scope("vs"):
        v = tf.get_variable("v", initializer=np.float32(3.0))
        names.append(v.name)
        names.append(tf.add(v, a).name)
        with tf.variable_scope("sub"):
            names.append(tf.get_variable("w", shape=[2], initializer=tf.zeros_initializer()).name)
    with tf.name_scope(None):
        names.append(tf.constant(0, name="root").name)
    total = tf.add_n([a, s, v], name="total")
    names.append(total.name)
    names.append(total.op.name)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        value = sess.run(total)
    return {"names": np.array(names), "total": np.float32(value)}
