"""A feedable iterator (tf.data.Iterator.from_string_handle) switching between a one-shot and an
initializable iterator through their string handles, TF1's train/validation idiom. The handles'
text is each engine's own; what they select is compared."""

import numpy as np


def program(tf) -> dict:
    rng = np.random.default_rng(23)
    train = rng.standard_normal((6, 2)).astype(np.float32)
    valid = rng.standard_normal((3, 2)).astype(np.float32)
    out = {}
    with tf.Graph().as_default():
        train_it = tf.data.make_one_shot_iterator(tf.data.Dataset.from_tensor_slices(train).repeat())
        data = tf.placeholder(tf.float32, [None, 2])
        valid_it = tf.data.make_initializable_iterator(tf.data.Dataset.from_tensor_slices(data))
        handle = tf.placeholder(tf.string, [])
        feedable = tf.data.Iterator.from_string_handle(
            handle, tf.data.get_output_types(train_it), tf.data.get_output_shapes(train_it)
        )
        nxt = feedable.get_next()
        out["next_static_shape"] = np.array(nxt.shape.as_list())
        t_handle, v_handle = train_it.string_handle(), valid_it.string_handle()
        with tf.Session() as sess:
            th, vh = sess.run([t_handle, v_handle])
            out["handles_are_distinct_scalar_strings"] = np.array(
                [isinstance(th, bytes), isinstance(vh, bytes), th != vh]
            )
            sess.run(valid_it.initializer, {data: valid})
            seq = [sess.run(nxt, {handle: th}) for _ in range(4)]
            seq += [sess.run(nxt, {handle: vh}) for _ in range(3)]
            seq += [sess.run(nxt, {handle: th}) for _ in range(3)]  # the train stream goes on
            out["sequence"] = np.array(seq)
            try:
                sess.run(nxt, {handle: vh})
                out["validation_exhausted"] = np.array(0)
            except Exception as e:  # tf.errors.OutOfRangeError under either engine
                if type(e).__name__ != "OutOfRangeError":
                    raise
                out["validation_exhausted"] = np.array(1)
    return out
