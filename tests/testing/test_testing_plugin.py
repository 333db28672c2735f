"""The pytest plugin (pytest_staticflow): fixtures, the gpu marker, failure reports.

Each test writes a small test file and runs pytest on it (pytester, in this process,
with the plugin loaded from its entry point as in a user's project)."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

# loaded before pytester's in-process runs, which unload the modules a run imports
# (NumPy's C extension cannot be loaded twice)
import staticflow  # noqa: F401

pytest_plugins = ["pytester"]


def _run(pytester, source: str, *args: str):
    pytester.makepyfile(test_model=source)
    return pytester.runpytest("-p", "no:cacheprovider", "-p", "no:xdist", *args)


def test_the_plugin_is_an_installed_entry_point():
    eps = importlib.metadata.entry_points(group="pytest11")
    assert any(ep.name == "staticflow" and ep.value == "pytest_staticflow" for ep in eps)


def test_loading_the_plugin_does_not_import_staticflow():
    code = "import sys, pytest_staticflow; print('staticflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_fixtures_are_isolated_between_tests(pytester):
    result = _run(
        pytester,
        """
        import staticflow as sf

        BEFORE = sf.get_default_graph()
        N_BEFORE = len(BEFORE.get_operations())

        def test_1_makes_a_variable(sf_graph):
            sf.Variable([1.0, 2.0], name="v")
            assert sf.get_default_graph() is sf_graph and sf_graph is not BEFORE
            assert len(sf.global_variables()) == 1

        def test_2_does_not_see_it(sf_graph):
            assert sf.global_variables() == []
            assert sf_graph.get_operations() == []
            assert sf.constant(1.0).op.name == "Const"

        def test_3_nor_through_a_session(sf_session):
            assert sf.global_variables() == []
            assert sf.get_default_session() is sf_session

        def test_4_without_fixtures_the_previous_default_graph_is_back():
            assert sf.get_default_graph() is BEFORE
            assert len(BEFORE.get_operations()) == N_BEFORE
            assert sf.get_default_session() is None
        """,
    )
    result.assert_outcomes(passed=4)


def test_sessions_are_closed_after_a_failing_test(pytester):
    result = _run(
        pytester,
        """
        import pytest
        import staticflow as sf

        SESSIONS = []

        def test_1_fails(sf_session):
            SESSIONS.append(sf_session)
            c = sf.constant(2.0) * 3.0
            assert sf_session.run(c) == 6.0
            assert False, "deliberate"

        def test_2_the_session_was_closed():
            (sess,) = SESSIONS
            with pytest.raises(RuntimeError, match="closed Session"):
                sess.run(sess.graph.get_operations()[-1].outputs[0])
            assert sf.get_default_session() is None
        """,
    )
    result.assert_outcomes(passed=1, failed=1)


def test_seed_fixture_makes_random_ops_repeatable(pytester):
    result = _run(
        pytester,
        """
        import random
        import numpy as np
        import staticflow as sf

        VALUES = []

        def _draw():
            return sf.Session().run(sf.random_uniform([5]))

        def test_1(sf_seed, sf_graph):
            assert sf_seed == 87654321 and sf_graph.seed == sf_seed
            assert np.random.randint(1 << 30) == np.random.RandomState(sf_seed).randint(1 << 30)
            assert random.random() == random.Random(sf_seed).random()
            VALUES.append(_draw())

        def test_2(sf_seed):
            VALUES.append(_draw())
            np.testing.assert_array_equal(VALUES[0], VALUES[1])

        def test_3_unseeded_graph(sf_graph):
            assert sf_graph.seed is None
        """,
    )
    result.assert_outcomes(passed=3)


def test_gpu_marker_skips_with_the_reason(pytester):
    result = _run(
        pytester,
        """
        import pytest

        @pytest.mark.gpu
        def test_needs_a_gpu():
            raise AssertionError("must not run")

        def test_runs():
            pass
        """,
        "-rs",
        "--strict-markers",
    )
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(
        ["*SKIPPED*needs a GPU: staticflow has none to run on here (devices: /device:CPU:0)*"]
    )


def test_failing_assert_all_close_shows_the_worst_mismatch(pytester):
    result = _run(
        pytester,
        """
        import numpy as np
        import staticflow as sf
        from staticflow.testing import assert_all_close

        def test_values(sf_session):
            x = sf.placeholder(sf.float32, [2, 3], name="x")
            y = sf.multiply(x, 2.0, name="double")
            want = np.array([[2.0, 4.0, 6.0], [8.0, 10.5, 12.25]])
            assert_all_close(y, want, feed_dict={x: np.arange(1, 7, dtype=np.float32).reshape(2, 3)})
        """,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*Not close (rtol=1e-06, atol=1e-06; actual float32, desired float64)",
            "*actual:  Tensor 'double:0' (Mul, made at *test_model.py:7)",
            "*Mismatched elements: 2 / 6 (33.3%)",
            "*Worst mismatch at index (1, 1): actual 10.0, desired 10.5",
            "*|actual - desired| = 0.5, allowed 1.1*e-05*",
            "*(1, 2): 12.0 vs 12.25",
        ]
    )


def test_failures_hide_staticflows_frames(pytester):
    source = """
        import numpy as np
        import staticflow as sf

        def test_bad_feed(sf_session):
            x = sf.placeholder(sf.float32, [2], name="x")
            sf_session.run(x * 2.0, {x: np.zeros(3)})

        def test_missing_feed(sf_session):
            x = sf.placeholder(sf.float32, [2], name="x")
            sf_session.run(x * 2.0)
        """
    result = _run(pytester, source)
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    assert "session.py" not in out and "plan.py" not in out
    result.stdout.fnmatch_lines(
        [
            ">*sf_session.run(x * 2.0, {x: np.zeros(3)})",
            "E*ValueError: Cannot feed value of shape (3,) for Tensor 'x:0', which has shape '(2,)'",
            "*frames inside staticflow hidden (pytest --fulltrace shows them)",
            "E*InvalidArgumentError: You must feed a value for placeholder tensor 'x'*",
            "E*node x (Placeholder) defined at *test_model.py:9]]",
        ]
    )
    full = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:xdist", "--fulltrace")
    assert "session.py" in full.stdout.str()
    pytester.makeini("[pytest]\nstaticflow_hide_internal_frames = false\n")
    shown = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:xdist")
    assert "session.py" in shown.stdout.str() and "frames inside staticflow hidden" not in shown.stdout.str()


def test_errors_of_the_users_own_code_keep_their_traceback(pytester):
    result = _run(
        pytester,
        """
        import staticflow as sf

        def helper():
            raise ValueError("from the user's code")

        def test_it(sf_graph):
            helper()
        """,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([">*raise ValueError*"])
    assert "frames inside staticflow hidden" not in result.stdout.str()


def test_tf_test_case_classes_run_under_pytest(pytester):
    result = _run(
        pytester,
        """
        import staticflow as tf

        class ModelTest(tf.test.TestCase):
            def test_ops(self):
                with self.cached_session():
                    self.assertAllClose(tf.constant([1.0, 2.0]) * 2.0, [2.0, 4.0])

            def test_fresh_graph(self):
                self.assertEqual(tf.get_default_graph().get_operations(), [])

            def test_fails(self):
                self.assertAllClose([[1.0, 2.0]], [[1.0, 2.5]])
        """,
        "-rA",
    )
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*Worst mismatch at index (0, 1): a 2.0, b 2.5"])
    assert "test_session" not in result.stdout.str()  # the helper is not collected as a test
