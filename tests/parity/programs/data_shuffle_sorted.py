"""Dataset.shuffle with a seed, repeat and batch; outputs sorted (the streams differ by engine)."""

import numpy as np


def program(tf) -> dict:
    values = np.arange(40, dtype=np.int64)
    with tf.Graph().as_default():
        ds = tf.data.Dataset.from_tensor_slices(values).shuffle(16, seed=5).repeat(3).batch(7)
        nxt = tf.data.make_one_shot_iterator(ds).get_next()
        got = []
        with tf.Session() as sess:
            while True:
                try:
                    got.append(sess.run(nxt))
                except Exception as e:
                    if type(e).__name__ != "OutOfRangeError":
                        raise
                    break
    flat = np.concatenate(got)
    return {
        "sorted": np.sort(flat),
        "batch_sizes": np.array([len(g) for g in got]),
        "per_epoch_sums": flat.reshape(3, 40).sum(axis=1) if len(flat) == 120 else flat,
    }
