"""bfloat16 elementwise math and reductions, image dtype conversion and bitcast."""

import numpy as np

RTOL = 1e-2  # bfloat16: 8 bits of precision
ATOL = 1e-2


def program(tf):
    rng = np.random.default_rng(9)
    img = rng.integers(0, 256, (2, 4, 4, 3)).astype(np.uint8)
    xv = rng.uniform(-2, 2, (3, 5)).astype(np.float32)
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 5])
        b = tf.cast(x, tf.bfloat16)
        y = tf.tanh(b) * tf.constant(2, tf.bfloat16) + tf.square(b)
        images = tf.constant(img)
        as_float = tf.image.convert_image_dtype(images, tf.float32)
        back = tf.image.convert_image_dtype(as_float * 0.5, tf.uint8)
        to16 = tf.image.convert_image_dtype(images, tf.uint16)
        halves = tf.cast(x, tf.float16)
        t = {
            "bf16_expr": tf.cast(y, tf.float32),
            "bf16_row_sum": tf.cast(tf.reduce_sum(y, axis=1), tf.float32),
            "bf16_max": tf.cast(tf.reduce_max(b), tf.float32),
            "bf16_less": tf.less(b, tf.constant(0.5, tf.bfloat16)),
            "f16_sigmoid": tf.sigmoid(halves),
            "f16_mean": tf.reduce_mean(halves, axis=0),
            "image_float": as_float,
            "image_back": back,
            "image_u16": to16,
            "bits": tf.bitcast(tf.constant([1.0, -2.5, 3.25], tf.float32), tf.int32),
            "bits_u8": tf.bitcast(tf.constant([1.0], tf.float16), tf.uint8),
        }
        with tf.Session() as sess:
            vals = sess.run(t, {x: xv})
    return {k: np.asarray(v) for k, v in vals.items()}
