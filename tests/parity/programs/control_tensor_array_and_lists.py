"""TensorArray reads, writes, stack, gather, scatter, split, concat and size, the TensorList ops
a while loop's gradient uses (EmptyTensorList, PushBack, PopBack, ScatterV2) through raw_ops,
and the gradients of both."""

import numpy as np


def _static(t):
    return np.array([-1 if d is None else d for d in t.shape.as_list()], np.int64)


def program(tf):
    rng = np.random.default_rng(15)
    x_np = rng.standard_normal((5, 3)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 3])
    ta = tf.TensorArray(tf.float32, size=5).unstack(x)
    r1, r3 = ta.read(1), ta.read(3)
    w = tf.TensorArray(tf.float32, size=0, dynamic_size=True, element_shape=[3])
    w = w.write(0, r1 * r3).write(2, tf.tanh(r1))
    stacked = w.stack()
    gathered = ta.gather([4, 0])
    sc = tf.TensorArray(tf.float32, size=3, element_shape=[3]).scatter([2, 0], x[:2] * 2.0)
    scattered = sc.stack()  # (once: TF1's arrays clear what is read)
    sp = tf.TensorArray(tf.float32, size=2, infer_shape=False).split(tf.reshape(x, [-1]), [4, 11])
    concat = tf.reshape(sp.concat(), [-1])
    raw = tf.raw_ops
    lst = raw.EmptyTensorList(element_shape=[3], max_num_elements=-1, element_dtype=tf.float32)
    lst = raw.TensorListPushBack(input_handle=lst, tensor=x[0] * x[1])
    lst = raw.TensorListPushBack(input_handle=lst, tensor=x[2])
    lst, popped = raw.TensorListPopBack(input_handle=lst, element_shape=[3], element_dtype=tf.float32)
    lst = raw.TensorListPushBack(input_handle=lst, tensor=tf.sin(popped))
    pushed = raw.TensorListStack(input_handle=lst, element_shape=[3], element_dtype=tf.float32)
    scv2 = raw.TensorListScatterV2(tensor=x[3:5], indices=[1, 0], element_shape=[3], num_elements=3)
    scattered_v2 = raw.TensorListStack(input_handle=scv2, element_shape=[3], element_dtype=tf.float32)
    loss = (
        tf.reduce_sum(stacked * stacked)
        + tf.reduce_sum(gathered)
        + tf.reduce_sum(scattered * scattered)
        + tf.reduce_sum(tf.sin(concat))
        + tf.reduce_sum(pushed * pushed)
        + tf.reduce_sum(scattered_v2 * 3.0)
    )
    (dx,) = tf.gradients(loss, [x])
    with tf.Session() as sess:
        out = sess.run(
            [stacked, w.size(), gathered, scattered, concat, pushed, scattered_v2, loss, dx], {x: x_np}
        )
    names = ["stacked", "size", "gathered", "scattered", "concat", "pushed", "scattered_v2", "loss", "dx"]
    result = dict(zip(names, out))
    result["size"] = np.int32(result["size"])
    result["loss"] = np.float32(result["loss"])
    result["read_shape"] = _static(r1)
    result["stacked_shape"] = _static(stacked)
    # (not gathered's static shape: TensorFlow's TF1 arrays leave its first dimension unknown, its
    # TensorList arrays (control flow v2, which the TensorArray here builds) know it: [2, 3])
    return result
