"""A test file in TF1's tf.test.TestCase idiom, run unmodified under staticflow and TensorFlow.

It imports ``staticflow as tf``; with STATICFLOW_TEST_ENGINE=tensorflow it imports
TensorFlow's ``tf.compat.v1`` (v2 behaviour disabled) instead. test_tf1_idiom.py
runs it with pytest under both and checks that every test has the same outcome:
tests named ``test_fails_*`` hold an assertion that must fail (under both
engines), every other test must pass. The name does not match pytest's test
file pattern, so the suite collects it only through that test.
"""

from __future__ import annotations

import os
import random

import numpy as np

if os.environ.get("STATICFLOW_TEST_ENGINE") == "tensorflow":
    import tensorflow.compat.v1 as tf

    tf.disable_v2_behavior()
else:
    import staticflow as tf


# a deliberately wrong gradient of Square: g * x instead of 2 * g * x
@tf.RegisterGradient("HalfSquareGradForIdiomTests")
def _half_square_grad(op, grad):
    return grad * op.inputs[0]


class GraphAndSessionTest(tf.test.TestCase):
    def test_graph_1_adds_ops(self):
        tf.constant(1.0, name="c")
        tf.Variable(np.zeros(3, np.float32), name="v")
        self.assertLen(tf.global_variables(), 1)

    def test_graph_2_is_fresh(self):
        self.assertEmpty(tf.get_default_graph().get_operations())
        self.assertEmpty(tf.global_variables())
        self.assertEqual(tf.constant(1.0).op.name, "Const")

    def test_session_is_default_and_closed_after(self):
        c = tf.constant([1.0, 2.0]) * 3.0
        with self.session() as sess:
            self.assertIs(tf.get_default_session(), sess)
            self.assertAllEqual(c.eval(), [3.0, 6.0])
        self.assertIsNone(tf.get_default_session())
        with self.assertRaisesRegex(RuntimeError, "closed Session"):
            sess.run(c)

    def test_cached_session_is_reused(self):
        with self.cached_session() as s1:
            pass
        with self.cached_session() as s2:
            self.assertIs(s1, s2)
        with self.test_session() as s3:
            self.assertIs(s1, s3)

    def test_cached_session_with_another_graph_is_an_error(self):
        with self.cached_session():
            pass
        with self.assertRaisesRegex(ValueError, "graph used to get the cached session is different"):
            with self.cached_session(graph=tf.Graph()):
                pass

    def test_session_on_another_graph(self):
        g = tf.Graph()
        with g.as_default():
            c = tf.constant(5.0)
        with self.session(graph=g) as sess:
            self.assertIs(sess.graph, g)
            self.assertEqual(sess.run(c), 5.0)

    def test_evaluate_structures_and_variables(self):
        v = tf.Variable(np.array([1.0, 2.0], np.float32))
        with self.cached_session() as sess:
            sess.run(v.initializer)
            out = self.evaluate({"a": tf.constant(1), "b": [v * 2.0, tf.constant("s")]})
            self.assertEqual(out["a"], 1)
            self.assertAllClose(out["b"][0], [2.0, 4.0])
            self.assertEqual(out["b"][1], b"s")
            self.assertAllClose(v, [1.0, 2.0])

    def test_evaluate_without_a_session_uses_the_cached_one(self):
        x = tf.constant([[1.0, 2.0]])
        self.assertAllClose(self.evaluate(tf.matmul(x, x, transpose_b=True)), [[5.0]])

    def test_variables_in_a_training_step(self):
        w = tf.Variable(np.array([1.0, -1.0], np.float32))
        x = tf.placeholder(tf.float32, [None, 2])
        loss = tf.reduce_mean(tf.square(tf.reduce_sum(x * w, axis=1) - 1.0))
        step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        with self.cached_session() as sess:
            sess.run(tf.global_variables_initializer())
            feed = {x: np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)}
            before = sess.run(loss, feed)
            sess.run(step, feed)
            self.assertLess(sess.run(loss, feed), before)
            self.assertAllClose(w, [1.0, -0.8])


class SeedsAndTempDirTest(tf.test.TestCase):
    def test_numpy_and_python_seeds(self):
        self.assertEqual(np.random.randint(1 << 30), np.random.RandomState(87654321).randint(1 << 30))
        self.assertEqual(random.random(), random.Random(87654321).random())

    def test_graph_seed_makes_random_ops_repeatable(self):
        r = tf.random_uniform([4])
        with self.session() as s1:
            a = s1.run(r)
        with self.session() as s2:
            b = s2.run(r)
        self.assertAllEqual(a, b)
        self.assertAllInRange(a, 0.0, 1.0, open_upper_bound=True)

    def test_temp_dir(self):
        d = self.get_temp_dir()
        self.assertEqual(d, self.get_temp_dir())
        self.assertTrue(os.path.isdir(d))
        self.assertTrue(d.startswith(tf.test.get_temp_dir()))
        with open(os.path.join(d, "f.txt"), "w") as f:
            f.write("x")

    def test_no_gpu_here(self):
        self.assertFalse(tf.test.is_gpu_available())
        self.assertEqual(tf.test.gpu_device_name(), "")


class AssertionsTest(tf.test.TestCase):
    def test_all_close_nested(self):
        a = {"w": [1.0, 2.0], "b": (np.float32(3.0), np.array([[4.0]]))}
        b = {"w": np.array([1.0, 2.0 + 1e-7]), "b": (3.0, [[4.0]])}
        self.assertAllClose(a, b)

    def test_all_close_tensors_and_nans(self):
        self.assertAllClose(tf.constant([1.0, np.nan]), [1.0, np.nan])

    def test_fails_all_close_values(self):
        self.assertAllClose([1.0, 2.0, 3.0], [1.0, 2.5, 3.0])

    def test_fails_all_close_shapes(self):
        self.assertAllClose(np.zeros((2, 3)), np.zeros((3, 2)))

    def test_fails_all_close_float16_with_float32_tolerance(self):
        self.assertAllClose(np.float16([1.0]), np.float16([1.0009765625]))

    def test_all_close_according_to_type_float16(self):
        self.assertAllCloseAccordingToType(np.float16([1.0]), np.float16([1.0009765625]))

    def test_fails_all_close_according_to_type_float32(self):
        self.assertAllCloseAccordingToType(np.float32([1.0]), np.float32([1.0001]))

    def test_all_close_custom_tolerance(self):
        self.assertAllClose([100.0], [101.0], rtol=0.02)

    def test_fails_not_all_close(self):
        self.assertNotAllClose([1.0], [1.0])

    def test_all_equal(self):
        self.assertAllEqual(tf.constant([[1, 2], [3, 4]]), [[1, 2], [3, 4]])
        self.assertAllEqual([b"a", b"b"], [b"a", b"b"])
        self.assertAllEqual([np.nan], [np.nan])

    def test_fails_all_equal(self):
        self.assertAllEqual(tf.constant([1, 2, 3]), [1, 2, 4])

    def test_near_and_array_near(self):
        self.assertNear(1.0, 1.05, 0.1)
        self.assertNear(float("inf"), float("inf"), 0.0)
        self.assertArrayNear([1.0, 2.0], [1.01, 1.99], 0.02)

    def test_fails_near(self):
        self.assertNear(1.0, 1.2, 0.1)

    def test_fails_array_near_lengths(self):
        self.assertArrayNear([1.0, 2.0], [1.0], 0.1)

    def test_shape_equal(self):
        self.assertShapeEqual(np.zeros((2, 3)), tf.placeholder(tf.float32, [2, 3]))
        self.assertShapeEqual(np.zeros((2, 3)), np.ones((2, 3)))

    def test_fails_shape_equal(self):
        self.assertShapeEqual(np.zeros((2, 3)), tf.zeros([3, 2]))

    def test_all_in_range(self):
        self.assertAllInRange(np.array([0.0, 0.5, 1.0]), 0.0, 1.0)
        self.assertAllInRange(tf.constant([1, 2, 3]), 1, 3)

    def test_fails_all_in_range_open_bound(self):
        self.assertAllInRange(np.array([0.0, 0.5, 1.0]), 0.0, 1.0, open_upper_bound=True)

    def test_fails_all_in_range_nan(self):
        self.assertAllInRange(np.array([0.5, np.nan]), 0.0, 1.0)

    def test_greater_less_set(self):
        self.assertAllGreater(tf.constant([2.0, 3.0]), 1.0)
        self.assertAllLessEqual([1, 2], 2)
        self.assertAllInSet(tf.constant([1, 2, 1]), {1, 2})


class ErrorsTest(tf.test.TestCase):
    def test_raises_op_error_missing_feed(self):
        x = tf.placeholder(tf.float32, name="x")
        with self.cached_session() as sess:
            with self.assertRaisesOpError("must feed a value for placeholder tensor 'x'"):
                sess.run(x * 2.0)

    def test_raises_op_error_check_numerics(self):
        bad = tf.check_numerics(tf.constant([1.0, np.inf]), "the message")
        with self.assertRaisesOpError("the message"):
            self.evaluate(bad)

    def test_fails_raises_op_error_not_raised(self):
        with self.cached_session() as sess:
            with self.assertRaisesOpError("anything"):
                sess.run(tf.constant(1.0))

    def test_fails_raises_op_error_wrong_message(self):
        x = tf.placeholder(tf.float32)
        with self.cached_session() as sess:
            with self.assertRaisesOpError("a message no error has"):
                sess.run(x)

    def test_raises_with_predicate_match_at_graph_construction(self):
        with self.assertRaisesWithPredicateMatch(ValueError, lambda e: "Dimensions must be equal" in str(e)):
            tf.matmul(tf.ones([2, 3]), tf.ones([2, 3]))
        with self.assertRaisesWithPredicateMatch(ValueError, r"must be equal"):
            tf.matmul(tf.ones([2, 3]), tf.ones([2, 3]))

    def test_fails_raises_with_predicate_match_wrong_type(self):
        with self.assertRaisesWithPredicateMatch(TypeError, "Dimensions"):
            tf.matmul(tf.ones([2, 3]), tf.ones([2, 3]))


class GradientTest(tf.test.TestCase):
    def _square_error(self, override: bool) -> float:
        x = tf.placeholder(tf.float64, [3])
        if override:
            with tf.get_default_graph().gradient_override_map({"Square": "HalfSquareGradForIdiomTests"}):
                y = tf.square(x)
        else:
            y = tf.square(x)
        with self.cached_session():
            return tf.test.compute_gradient_error(x, [3], y, [3], x_init_value=np.array([0.5, -1.0, 2.0]))

    def test_gradient_of_square(self):
        self.assertLess(self._square_error(override=False), 1e-6)

    def test_fails_wrong_gradient_registered_in_the_test(self):
        self.assertLess(self._square_error(override=True), 1e-6)

    def test_compute_gradient_jacobians(self):
        x = tf.constant(np.array([[1.0, 2.0], [3.0, 4.0]]))
        y = tf.reduce_sum(x * x, axis=1)
        with self.cached_session():
            theoretical, numerical = tf.test.compute_gradient(
                x, [2, 2], y, [2], x_init_value=np.array([[1.0, 2.0], [3.0, 4.0]])
            )
        self.assertAllClose(theoretical, [[2.0, 0.0], [4.0, 0.0], [0.0, 6.0], [0.0, 8.0]])
        self.assertAllClose(theoretical, numerical, rtol=1e-4, atol=1e-4)


if __name__ == "__main__":
    tf.test.main()
