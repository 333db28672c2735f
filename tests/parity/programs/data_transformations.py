"""sf.data transformations through one-shot and initializable iterators (no shuffling)."""

import numpy as np


def _drain(sess, nxt, feed=None):
    out = []
    while True:
        try:
            out.append(sess.run(nxt, feed))
        except Exception as e:  # tf.errors.OutOfRangeError under either engine
            if type(e).__name__ != "OutOfRangeError":
                raise
            return out


def program(tf) -> dict:
    rng = np.random.default_rng(3)
    features = rng.standard_normal((10, 3)).astype(np.float32)
    labels = rng.integers(0, 4, 10).astype(np.int64)
    out = {}
    with tf.Graph().as_default():
        scale = tf.constant(2.0)
        ds = tf.data.Dataset.from_tensor_slices((features, labels))
        ds = ds.map(lambda x, y: (x * scale + 1.0, y * 10))
        ds = ds.filter(lambda x, y: tf.greater(tf.reduce_sum(x), 0.0))
        ds = ds.repeat(2).batch(4)
        x_b, y_b = tf.data.make_one_shot_iterator(ds).get_next()
        out["batch_static_shape"] = np.array([-1 if d is None else d for d in x_b.shape.as_list()])

        ph = tf.placeholder(tf.float32, [None, 3])
        init_ds = tf.data.Dataset.from_tensor_slices(ph).skip(1).take(5).map(lambda r: tf.reduce_max(r))
        it = tf.data.make_initializable_iterator(init_ds)
        nxt = it.get_next()

        zipped = tf.data.Dataset.zip((tf.data.Dataset.range(5), tf.data.Dataset.range(100, 103)))
        z_next = tf.data.make_one_shot_iterator(
            zipped.concatenate(tf.data.Dataset.range(7, 9).map(lambda v: (v, -v)))
        ).get_next()

        ragged = tf.data.Dataset.range(1, 5).map(lambda n: tf.fill(tf.reshape(n, [1]), n))
        padded = tf.data.make_one_shot_iterator(ragged.padded_batch(3, padded_shapes=[None])).get_next()

        fm = tf.data.Dataset.range(4).flat_map(lambda v: tf.data.Dataset.from_tensors(v).repeat(v))
        fm_next = tf.data.make_one_shot_iterator(fm).get_next()

        with tf.Session() as sess:
            batches = _drain(sess, (x_b, y_b))
            out["x_batches"] = np.concatenate([b[0] for b in batches])
            out["y_batches"] = np.concatenate([b[1] for b in batches])
            out["batch_sizes"] = np.array([len(b[0]) for b in batches])
            sess.run(it.initializer, {ph: features})
            out["initializable_pass1"] = np.array(_drain(sess, nxt))
            sess.run(it.initializer, {ph: features[::-1] * 3})
            out["initializable_pass2"] = np.array(_drain(sess, nxt))
            out["zip_concat"] = np.array(_drain(sess, z_next))
            out["padded"] = np.concatenate(
                [np.pad(p, ((0, 0), (0, 4 - p.shape[1]))) for p in _drain(sess, padded)]
            )
            out["flat_map"] = np.array(_drain(sess, fm_next))
    return out
