"""tinyclf's tests in TF1's tf.test.TestCase style (run them with pytest, or as a script).

Every test starts with a fresh default graph and TensorFlow's per-test seeds;
cached_session() is the test's session, closed when the test ends.
"""

from __future__ import annotations

import numpy as np
from tinyclf import batches, build_model, initial_params, make_blobs, train_step

import staticflow as tf


def relu(z):
    return np.maximum(z, 0.0)


class TinyClassifierTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        self.x, self.y = make_blobs(120, 4, 3, seed=1)

    def test_graph_shapes(self):
        model = build_model(4, 3)
        self.assertEqual(model.logits.shape.as_list(), [None, 3])
        self.assertEqual(model.loss.shape.as_list(), [])
        self.assertLen(tf.trainable_variables(), 4)

    def test_forward_matches_numpy(self):
        model = build_model(4, 3)
        p = initial_params(4, 3)
        want = relu(self.x[:5] @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]
        with self.cached_session() as sess:
            sess.run(tf.global_variables_initializer())
            logits = sess.run(model.logits, {model.x: self.x[:5]})
        self.assertAllClose(logits, want, rtol=1e-5, atol=1e-5)  # float32 against float64

    def test_predictions_are_classes(self):
        model = build_model(4, 3)
        with self.cached_session() as sess:
            sess.run(tf.global_variables_initializer())
            predictions = sess.run(model.predictions, {model.x: self.x})
        self.assertAllInRange(predictions, 0, 2)
        self.assertEqual(predictions.dtype, np.int64)

    def test_gradient_of_the_loss(self):
        model = build_model(4, 3, dtype=tf.float64)
        w1 = model.params["w1"]
        with self.cached_session() as sess:
            sess.run(tf.global_variables_initializer())
            err = tf.test.compute_gradient_error(
                model.x,
                [6, 4],
                model.loss,
                [],
                x_init_value=self.x[:6].astype(np.float64),
                extra_feed_dict={model.labels: self.y[:6]},
            )
        self.assertLess(err, 1e-4)
        self.assertIsNotNone(tf.gradients(model.loss, w1)[0])

    def test_training_lowers_the_loss(self):
        model = build_model(4, 3)
        with self.cached_session() as sess:
            sess.run(tf.global_variables_initializer())
            feed = {model.x: self.x, model.labels: self.y}
            before = sess.run(model.loss, feed)
            rng = np.random.default_rng(0)
            for _ in range(10):
                for xb, yb in batches(self.x, self.y, 24, rng):
                    train_step(sess, model, xb, yb)
            self.assertLess(sess.run(model.loss, feed), before / 4)
            self.assertGreater(sess.run(model.accuracy, feed), 0.9)

    def test_a_label_out_of_range_is_an_op_error(self):
        model = build_model(4, 3)
        with self.cached_session() as sess:
            sess.run(tf.global_variables_initializer())
            with self.assertRaisesOpError("label value of 7 which is outside the valid range"):
                sess.run(model.loss, {model.x: self.x[:2], model.labels: [0, 7]})

    def test_wrong_feature_count_is_caught_when_feeding(self):
        model = build_model(4, 3)
        with self.cached_session() as sess:
            sess.run(tf.global_variables_initializer())
            with self.assertRaisesRegex(ValueError, r"Cannot feed value of shape \(2, 5\)"):
                sess.run(model.logits, {model.x: np.zeros((2, 5), np.float32)})


if __name__ == "__main__":
    tf.test.main()
