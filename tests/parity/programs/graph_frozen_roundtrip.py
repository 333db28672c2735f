"""Freeze a trained graph (variables to constants), serialize it, import it elsewhere and run it."""

import numpy as np


def program(tf):
    rng = np.random.default_rng(4)
    x_np = rng.standard_normal((5, 3)).astype(np.float32)
    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float32, [None, 3], name="input")
        w = tf.Variable(rng.standard_normal((3, 2)).astype(np.float32), name="w")
        b = tf.Variable(np.array([0.5, -0.5], np.float32), name="b")
        y = tf.nn.softmax(tf.matmul(x, w) + b, name="output")
        with tf.Session(graph=g) as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(tf.assign_add(w, tf.ones_like(w)))
            live = sess.run(y, {x: x_np})
            frozen = tf.graph_util.convert_variables_to_constants(sess, g.as_graph_def(), ["output"])
    data = frozen.SerializeToString()
    with tf.Graph().as_default() as g2:
        gd = tf.GraphDef()
        gd.ParseFromString(data)
        (out,) = tf.import_graph_def(gd, name="frozen", return_elements=["output:0"])
        with tf.Session(graph=g2) as sess:
            imported = sess.run(out, {g2.get_tensor_by_name("frozen/input:0"): x_np})
        ops = sorted(op.type for op in g2.get_operations())
    return {
        "live": live,
        "imported": imported,
        "frozen_has_variables": np.bool_(any(n.op.startswith("Variable") for n in frozen.node)),
        "imported_op_types": np.array(sorted(set(ops))),
        "output_name": np.array(out.name),
    }
