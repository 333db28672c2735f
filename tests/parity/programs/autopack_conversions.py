"""TF's auto-packing: a (nested) list or tuple holding tensors, wherever a tensor is expected,
is packed with stack; its dtype comes from the tensors (Python numbers take it), or from the
dtype asked for, to which the tensors are cast."""

import numpy as np


def _shape(t):
    return np.array([-1 if d is None else d for d in t.shape.as_list()])


def program(tf):
    rng = np.random.default_rng(21)
    a = tf.placeholder(tf.float32, [])
    b = tf.placeholder(tf.float32, [])
    n = tf.placeholder(tf.int32, [])
    v = tf.placeholder(tf.float32, [3])
    x = tf.placeholder(tf.float32, [None, 5, 4])
    batch = tf.shape(x)[0]
    out = {
        "nested": tf.convert_to_tensor([[a, 1.0], [b, 2.0]]),
        "tuple": tf.convert_to_tensor((a, b, 3)),
        "with_arrays": tf.convert_to_tensor([v, np.arange(3.0), [7.0, 8.0, 9.0]]),
        "cast_to_dtype": tf.convert_to_tensor([n, 2], dtype=tf.float32),
        "ints": tf.convert_to_tensor([n, 2, -1]),
        "stop_gradient": tf.stop_gradient([a, b]),
        "identity_nested": tf.identity([[a], [b]]),
        "reshape_batch": tf.reshape(x, [batch, -1]),
        "reshape_batch_int64": tf.reshape(x, [tf.cast(batch, tf.int64), 20]),
        "zeros_batch": tf.zeros([batch, 3]),
        "tile_batch": tf.tile(v[None], [n, 1]),
        "add_list": v + [a, b, 1.0],
        "concat_lists": tf.concat([[a, b], [1.0]], 0),
        "stack_lists": tf.stack([[a, b], [1.0, 2.0]]),
    }
    feeds = {
        a: 1.5,
        b: -2.0,
        n: 2,
        v: rng.standard_normal(3).astype(np.float32),
        x: rng.standard_normal((2, 5, 4)).astype(np.float32),
    }
    with tf.Session() as sess:
        values = sess.run(out, feeds)
    result = {k: np.asarray(val) for k, val in values.items()}
    result.update({k + "_static_shape": _shape(t) for k, t in out.items()})
    return result
