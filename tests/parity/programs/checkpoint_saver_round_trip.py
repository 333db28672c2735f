"""TF1 Saver patterns: save into a directory that does not exist yet, save again to the same
prefix, step checkpoints with max_to_keep, latest_checkpoint, restore into a fresh session,
and a nested fetch structure. Returns the restored values and what the directory holds."""

import os
import tempfile

import numpy as np


def program(tf):
    rng = np.random.default_rng(7)
    w0 = rng.standard_normal((3, 4)).astype(np.float32)
    b0 = rng.standard_normal(4).astype(np.float32)
    x_val = rng.standard_normal((2, 3)).astype(np.float32)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        ckpt_dir = os.path.join(tmp, "ckpt")  # missing: the saver creates it
        with tf.Graph().as_default():
            x = tf.placeholder(tf.float32, [None, 3], name="x")
            w = tf.Variable(w0, name="w")
            b = tf.Variable(b0, name="b")
            step = tf.Variable(0, dtype=tf.int64, name="step")
            y = tf.nn.relu(tf.matmul(x, w) + b)
            train = [w.assign(w * 0.5), b.assign(b + 1.0), step.assign_add(1)]
            saver = tf.train.Saver(max_to_keep=2)
            fixed_saver = tf.train.Saver(max_to_keep=None)
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                fixed = fixed_saver.save(sess, os.path.join(ckpt_dir, "fixed"))
                sess.run(train)
                fixed_saver.save(sess, fixed)  # again, the same prefix
                for _ in range(3):
                    sess.run(train)
                    saver.save(sess, os.path.join(ckpt_dir, "model"), global_step=step)
                out["trained_y"] = sess.run(y, {x: x_val})
                nested = sess.run({"a": [y, (y, {"b": [b]})], "s": step}, {x: x_val})
                out["nested_y"] = nested["a"][1][0]
                out["nested_b"] = nested["a"][1][1]["b"][0]
                out["nested_step"] = np.asarray(nested["s"])
            latest = tf.train.latest_checkpoint(ckpt_dir)
            out["latest_name"] = np.array(os.path.basename(latest))
            state = tf.train.get_checkpoint_state(ckpt_dir)
            out["kept"] = np.array([os.path.basename(p) for p in state.all_model_checkpoint_paths])
            out["indexes"] = np.array(sorted(f for f in os.listdir(ckpt_dir) if f.endswith(".index")))
            with tf.Session() as sess:
                saver.restore(sess, latest)
                out["restored_w"], out["restored_step"] = sess.run([w, step])
                saver.restore(sess, fixed)
                out["fixed_w"], out["fixed_b"], out["fixed_step"] = sess.run([w, b, step])
        out["listed"] = np.array(sorted(name for name, _ in tf.train.list_variables(latest)))
        out["loaded_b"] = tf.train.load_variable(latest, "b")
    return out
