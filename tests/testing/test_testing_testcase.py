"""sf.test.TestCase beyond pass/fail (tf1_idiom_cases.py checks those against TensorFlow):
its messages, what it restores, devices, temporary directories and sf.test.main."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import unittest

import numpy as np
import pytest

import staticflow as sf
from staticflow.testing import isolation


def _run(case_cls) -> unittest.TestResult:
    result = unittest.TestResult()
    unittest.defaultTestLoader.loadTestsFromTestCase(case_cls).run(result)
    return result


def _only_failure(result: unittest.TestResult) -> str:
    assert not result.errors, result.errors
    assert len(result.failures) == 1, result.failures
    return result.failures[0][1]


def test_all_close_failure_names_the_worst_element():
    class T(sf.test.TestCase):
        def test_it(self):
            self.assertAllClose(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 2.0], [3.5, 4.25]]))

    text = _only_failure(_run(T))
    assert "Not equal to tolerance (rtol=1e-06, atol=1e-06" in text
    assert "Mismatched value: a is different from b." in text
    assert "Worst mismatch at index (1, 0): a 3.0, b 3.5" in text
    assert "dtype = float64, shape = (2, 2)" in text
    assert os.path.join("staticflow", "testing", "testcase.py") not in text  # unittest hides its frames


def test_all_equal_and_shape_failures():
    class T(sf.test.TestCase):
        def test_values(self):
            self.assertAllEqual(sf.constant([1, 2, 3]), [1, 5, 3])

        def test_shapes(self):
            self.assertAllClose(np.zeros((2, 3)), np.zeros(6))

    result = _run(T)
    texts = "\n".join(t for _, t in result.failures)
    assert "Worst mismatch at index (1,): a 2, b 5" in texts
    assert "a: Tensor 'Const:0' (Const, made at " in texts
    assert "Shape mismatch: expected (2, 3), got (6,)" in texts


def test_each_test_restores_the_defaults_it_replaced():
    outer = sf.Graph()
    seen = []

    class T(sf.test.TestCase):
        def test_it(self):
            seen.append(sf.get_default_graph())
            sf.get_default_graph().as_default().__enter__()  # a context the test leaves open
            np.random.seed(1)

    state = np.random.get_state()[1].copy()
    with outer.as_default():
        result = _run(T)
        assert sf.get_default_graph() is outer
    assert result.wasSuccessful(), result.failures + result.errors
    assert seen[0] is not outer and seen[0].seed == 87654321
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_evaluate_without_session_closes_the_cached_one_at_teardown():
    sessions = []

    class T(sf.test.TestCase):
        def test_it(self):
            self.assertEqual(self.evaluate(sf.constant(2) * 3), 6)
            sessions.append(self._cached_session)

    assert _run(T).wasSuccessful()
    with pytest.raises(RuntimeError, match="closed Session"):
        sessions[0].run(sessions[0].graph.get_operations()[0].outputs[0])


def test_force_gpu_without_a_gpu_is_an_error_and_use_gpu_false_pins_the_cpu():
    devices = []

    class T(sf.test.TestCase):
        def test_force(self):
            with self.assertRaisesOpError("force_gpu=True, but staticflow has no GPU device here"):
                with self.session(force_gpu=True):
                    pass

        def test_cpu(self):
            with self.session(use_gpu=False):
                devices.append(sf.constant(1.0).device)

    result = _run(T)
    assert result.wasSuccessful(), result.failures + result.errors
    assert devices == ["/device:CPU:0"]


def test_temp_dirs_are_per_test_under_the_process_dir(monkeypatch, tmp_path):
    monkeypatch.setattr(isolation, "_base_temp_dir", None)
    monkeypatch.setenv("TEST_TMPDIR", str(tmp_path / "t"))
    dirs = []

    class T(sf.test.TestCase):
        def test_a(self):
            dirs.append(self.get_temp_dir())

        def test_b(self):
            dirs.append(self.get_temp_dir())

    assert _run(T).wasSuccessful()
    base = sf.test.get_temp_dir()
    assert base.startswith(str(tmp_path / "t"))
    assert len(set(dirs)) == 2 and all(os.path.dirname(d) == base for d in dirs)


def test_devices():
    from staticflow.backends import cuda

    gpu = cuda.available()  # the CUDA library is built and the driver sees a GPU
    assert sf.test.is_gpu_available() is gpu
    assert sf.test.is_gpu_available(cuda_only=True, min_cuda_compute_capability=(3, 0)) is gpu
    assert sf.test.gpu_device_name() == ("/device:GPU:0" if gpu else "")
    built = cuda.LIBRARY.is_file()
    assert sf.test.is_built_with_cuda() is built and sf.test.is_built_with_gpu_support() is built
    assert sf.test.mock.patch is unittest.mock.patch


def test_importing_staticflow_does_not_load_the_test_runner():
    code = (
        "import sys, staticflow; "
        "print(sorted(m for m in ('unittest', 'absl.testing.absltest') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_main_runs_the_modules_tests_and_exits_with_their_result(tmp_path):
    script = tmp_path / "model_test.py"
    script.write_text(
        textwrap.dedent(
            """
            import staticflow as tf

            tf.flags.DEFINE_integer("width", 3, "a flag the test reads")
            FLAGS = tf.flags.FLAGS

            class ModelTest(tf.test.TestCase):
                def test_width(self):
                    self.assertAllEqual(tf.zeros([FLAGS.width]), [0.0] * FLAGS.width)

                def test_maybe_fails(self):
                    self.assertNotEqual(FLAGS.width, 5)

            if __name__ == "__main__":
                tf.test.main()
            """
        )
    )
    ok = subprocess.run(
        [sys.executable, str(script), "--width=4"], capture_output=True, text=True, cwd=tmp_path
    )
    assert ok.returncode == 0, ok.stderr
    assert "Ran 3 tests" in ok.stderr and "skipped=1" in ok.stderr  # test_session: "Not a test."
    bad = subprocess.run(
        [sys.executable, str(script), "--width=5"], capture_output=True, text=True, cwd=tmp_path
    )
    assert bad.returncode == 1
    assert "FAIL: test_maybe_fails" in bad.stderr
