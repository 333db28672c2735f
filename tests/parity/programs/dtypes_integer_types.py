"""int8/int16/uint8/uint16/uint32/uint64 arithmetic, comparisons, reductions and casts (exact)."""

import numpy as np


def program(tf):
    rng = np.random.default_rng(5)
    out = {}
    g = tf.Graph()
    with g.as_default():
        a8 = tf.placeholder(tf.int8, [None])
        u8 = tf.placeholder(tf.uint8, [None])
        i16 = tf.constant(rng.integers(-300, 300, (3, 4)).astype(np.int16))
        u16 = tf.constant(rng.integers(0, 65535, (3, 4)).astype(np.uint16))
        u32 = tf.constant(np.array([2**32 - 1, 7, 100], np.uint32))
        u64 = tf.constant(np.array([2**63 + 5, 2**64 - 9, 3], np.uint64))
        v8 = tf.get_variable("v8", initializer=tf.constant(np.array([1, -2, 3, 100], np.int8)))
        t = {
            "i8_sum": a8 + v8,
            "i8_mul": a8 * tf.constant(3, tf.int8),
            "i8_floordiv": tf.floordiv(a8, tf.constant(-3, tf.int8)),
            "i8_mod": tf.floormod(a8, tf.constant(5, tf.int8)),
            "i8_abs_neg": tf.abs(-a8),
            "u8_sub": u8 - tf.constant(10, tf.uint8),
            "u8_max": tf.maximum(u8, tf.constant(100, tf.uint8)),
            "u8_mean": tf.reduce_mean(u8),
            "u8_cast_i8": tf.cast(u8, tf.int8),
            "u8_sat_i8": tf.saturate_cast(u8, tf.int8),
            "i16_sum_rows": tf.reduce_sum(i16, axis=1),
            "i16_argmax": tf.argmax(i16, axis=0),
            "i16_gt": tf.greater(i16, tf.constant(0, tf.int16)),
            "u16_min": tf.reduce_min(u16, axis=0),
            "u16_prod": tf.reduce_prod(tf.cast(tf.constant([3, 5, 7], tf.int32), tf.uint16)),
            "u16_to_f32": tf.cast(u16, tf.float32),
            "u32_div": tf.floordiv(u32, tf.constant(3, tf.uint32)),
            "u32_to_i64": tf.cast(u32, tf.int64),
            "u64_max": tf.reduce_max(u64),
            "u64_add": u64 + tf.constant(10, tf.uint64),
            "u64_eq": tf.equal(u64, tf.constant(3, tf.uint64)),
        }
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            vals = sess.run(
                t,
                {a8: np.array([127, -100, 4, 0], np.int8), u8: np.array([5, 200, 10, 255], np.uint8)},
            )
            sess.run(tf.assign_add(v8, tf.constant(np.array([1, 1, 1, 100], np.int8))))
            vals["v8_after"] = sess.run(v8)
    out.update({k: np.asarray(v) for k, v in vals.items()})
    return out
