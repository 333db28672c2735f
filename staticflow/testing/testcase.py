"""sf.test.TestCase: TF1's tf.test.TestCase for staticflow graphs.

A test class written for ``tf.test.TestCase`` runs with ``import staticflow as tf``:
each test gets a fresh default graph and TensorFlow's per-test seeds; session(),
cached_session() and test_session() give sessions that are the default while
the block runs; evaluate() runs tensors; and the assertions pass or fail on the
same values as TensorFlow's (assertAllClose's defaults are rtol = atol = 1e-6
whatever the dtype, as in TensorFlow; assertAllCloseAccordingToType loosens them
for 16-bit floats). Failure messages add the worst mismatch's index and values.
pytest collects these classes as it collects any unittest.TestCase.
"""

from __future__ import annotations

import contextlib
import math
import re
import tempfile
from collections.abc import Mapping

import numpy as np
from absl.testing import absltest

from staticflow.framework import errors
from staticflow.framework import ops as fops
from staticflow.testing import assertions, isolation

__unittest = True  # unittest and pytest leave these frames out of failure tracebacks


def _is_graph_value(x) -> bool:
    """A Tensor or Variable: evaluated before comparing."""
    return assertions._graph_element(x) is not None


def gpu_device_name() -> str:
    """The name of a GPU device staticflow can run on, or '' (TF1's tf.test.gpu_device_name)."""
    from staticflow.runtime.session import list_local_devices

    for d in list_local_devices():
        if ":GPU:" in d.upper():
            return d
    return ""


class TestCase(absltest.TestCase):
    """Base class for tests of staticflow graphs (TF1's tf.test.TestCase)."""

    def __init__(self, methodName: str = "runTest"):  # noqa: N803 - unittest's name
        super().__init__(methodName)
        self._tempdir: str | None = None
        self._cached_session = None
        self._cached_graph = None
        self._cached_config = None
        self._cached_force_gpu = False

    def setUp(self) -> None:
        super().setUp()
        self._ClearCachedSession()
        graph = self.enterContext(isolation.fresh_default_graph())
        self.enterContext(isolation.seeded(graph, isolation.DEFAULT_SEED))
        # `test_session` is the session helper, not a test: pytest would collect it
        if self.id().endswith(".test_session"):
            self.skipTest("Not a test.")

    def tearDown(self) -> None:
        self._ClearCachedSession()
        super().tearDown()

    def _ClearCachedSession(self) -> None:  # noqa: N802 - TF's name
        if self._cached_session is not None:
            self._cached_session.close()
            self._cached_session = None

    def get_temp_dir(self) -> str:
        """A directory for this test's files (the same one on every call within a test)."""
        if not self._tempdir:
            self._tempdir = tempfile.mkdtemp(dir=isolation.base_temp_dir())
        return self._tempdir

    # --- sessions ---------------------------------------------------------------------------
    def _create_session(self, graph, config, force_gpu):
        from staticflow.runtime.session import Session

        return Session(graph=graph, config=config)

    @contextlib.contextmanager
    def _constrain_devices_and_set_default(self, sess, use_gpu, force_gpu):
        with sess.graph.as_default(), sess.as_default():
            if force_gpu:
                gpu_name = gpu_device_name()
                if not gpu_name:
                    from staticflow.runtime.session import list_local_devices

                    raise errors.InvalidArgumentError(
                        None,
                        None,
                        "force_gpu=True, but staticflow has no GPU device here (devices: "
                        f"{', '.join(list_local_devices())})",
                    )
                with sess.graph.device(gpu_name):
                    yield sess
            elif use_gpu:
                yield sess
            else:
                with sess.graph.device("/device:CPU:0"):
                    yield sess

    def _get_cached_session(self, graph=None, config=None, force_gpu=False, crash_if_inconsistent_args=True):
        if self._cached_session is None:
            sess = self._create_session(graph=graph, config=config, force_gpu=force_gpu)
            self._cached_session = sess
            self._cached_graph = graph
            self._cached_config = config
            self._cached_force_gpu = force_gpu
            return sess
        for what, cached, given in (
            ("graph", self._cached_graph, graph),
            ("config", self._cached_config, config),
            ("force_gpu value", self._cached_force_gpu, force_gpu),
        ):
            if crash_if_inconsistent_args and cached is not given:
                raise ValueError(
                    f"The {what} used to get the cached session is different than the one that was "
                    "used to create the session. Maybe create a new session with self.session()"
                )
        return self._cached_session

    @contextlib.contextmanager
    def session(self, graph=None, config=None, use_gpu: bool = True, force_gpu: bool = False):
        """A new Session (on `graph`, default: the default graph), the default session
        while the block runs and closed after it."""
        with self._create_session(graph, config, force_gpu) as sess:
            with self._constrain_devices_and_set_default(sess, use_gpu, force_gpu):
                yield sess

    @contextlib.contextmanager
    def cached_session(self, graph=None, config=None, use_gpu: bool = True, force_gpu: bool = False):
        """The test's one Session, made on first use and closed when the test ends; a
        different graph, config or force_gpu than the first call's is a ValueError."""
        sess = self._get_cached_session(graph, config, force_gpu, crash_if_inconsistent_args=True)
        with self._constrain_devices_and_set_default(sess, use_gpu, force_gpu) as cached:
            yield cached

    @contextlib.contextmanager
    def test_session(self, graph=None, config=None, use_gpu: bool = True, force_gpu: bool = False):
        """TF1's older helper: the cached session, or a new one when `graph` is given."""
        if self.id().endswith(".test_session"):
            self.skipTest(
                'Tests that have the name "test_session" are automatically skipped by sf.test.TestCase, '
                "as the name is reserved for creating sessions within tests. Please rename "
                "your test if you have a test with this name."
            )
        if graph is None:
            sess = self._get_cached_session(graph, config, force_gpu, crash_if_inconsistent_args=False)
            with self._constrain_devices_and_set_default(sess, use_gpu, force_gpu) as cached:
                yield cached
        else:
            with self.session(graph, config, use_gpu, force_gpu) as sess:
                yield sess

    # a helper, not a test: pytest does not collect it (TensorFlow's TestCase has it
    # collected and skipped as "Not a test"; unittest's runner still does that here)
    test_session.__test__ = False

    def evaluate(self, tensors):
        """The values of `tensors` (a Tensor, or a nested structure of them) as NumPy
        values, run in the default session or else in the test's cached session."""
        from staticflow.runtime.session import get_default_session

        sess = get_default_session()
        if sess is None:
            with self.test_session() as sess:
                return sess.run(tensors)
        return sess.run(tensors)

    # --- values ----------------------------------------------------------------------------------
    def _GetNdArray(self, a):  # noqa: N802 - TF's name
        if _is_graph_value(a):
            a = self.evaluate(a)
        if not isinstance(a, np.ndarray):
            try:
                return np.array(a)
            except ValueError as e:
                if "inhomogeneous shape" in str(e):
                    return np.array(a, dtype=object)
                raise
        return a

    def evaluate_if_both_tensors(self, a, b):
        if _is_graph_value(a) and _is_graph_value(b):
            return self.evaluate((a, b))
        return a, b

    # --- closeness -------------------------------------------------------------------------------
    def _assertArrayLikeAllClose(self, a, b, rtol=1e-6, atol=1e-6, msg=None):  # noqa: N802
        labels = [
            assertions.describe_tensor(assertions._graph_element(x)) if _is_graph_value(x) else ""
            for x in (a, b)
        ]
        a, b = self.evaluate_if_both_tensors(a, b)
        a, b = self._GetNdArray(a), self._GetNdArray(b)
        if a.shape != b.shape and (b.ndim <= 3 or b.size < 500):
            shape_msg = f"Shape mismatch: expected {a.shape}, got {b.shape} with contents {b}."
        else:
            shape_msg = f"Shape mismatch: expected {a.shape}, got {b.shape}."
        self.assertEqual(a.shape, b.shape, shape_msg)
        a_dtype = a.dtype
        a = a.astype(np.float32) if a.dtype.kind == "V" and assertions._is_float(a.dtype) else a
        b = b.astype(np.float32) if b.dtype.kind == "V" and assertions._is_float(b.dtype) else b
        if np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True):
            return
        # b is the reference: |a - b| <= atol + rtol * |b|, as in TensorFlow and NumPy
        report = assertions.mismatch_report(
            a, b, rtol, atol, "Not equal to tolerance", *labels, names=("a", "b")
        ) or (f"Not equal to tolerance rtol={rtol:g}, atol={atol:g}")
        head = [m for m in (msg,) if m]
        raise self.failureException("\n".join(head + [report, f"dtype = {a_dtype}, shape = {a.shape}"]))

    def _assertAllCloseRecursive(self, a, b, rtol=1e-6, atol=1e-6, path=None, msg=None):  # noqa: N802
        path = path or []
        path_str = ("[" + "][".join(str(p) for p in path) + "]") if path else ""
        msg = msg if msg else ""
        if hasattr(a, "_asdict"):
            a = a._asdict()
        if hasattr(b, "_asdict"):
            b = b._asdict()
        a_is_dict = isinstance(a, Mapping)
        if a_is_dict != isinstance(b, Mapping):
            raise ValueError(f"Can't compare dict to non-dict, a{path_str} vs b{path_str}. {msg}")
        if a_is_dict:
            self.assertCountEqual(
                a.keys(),
                b.keys(),
                msg=f"mismatched keys: a{path_str} has keys {a.keys()}, but b{path_str} has keys "
                f"{b.keys()}. {msg}",
            )
            for k in a:
                path.append(k)
                self._assertAllCloseRecursive(a[k], b[k], rtol=rtol, atol=atol, path=path, msg=msg)
                del path[-1]
        elif isinstance(a, (list, tuple)):
            # as one array when it is one, else item by item
            try:
                a, b = self.evaluate_if_both_tensors(a, b)
                a_arr, b_arr = self._GetNdArray(a), self._GetNdArray(b)
                self._assertArrayLikeAllClose(
                    a_arr,
                    b_arr,
                    rtol=rtol,
                    atol=atol,
                    msg=f"Mismatched value: a{path_str} is different from b{path_str}. {msg}",
                )
            except (ValueError, TypeError, NotImplementedError):
                if len(a) != len(b):
                    raise ValueError(
                        f"Mismatched length: a{path_str} has {len(a)} items, but b{path_str} has "
                        f"{len(b)} items. {msg}"
                    ) from None
                for idx, (a_ele, b_ele) in enumerate(zip(a, b)):
                    path.append(str(idx))
                    self._assertAllCloseRecursive(a_ele, b_ele, rtol=rtol, atol=atol, path=path, msg=msg)
                    del path[-1]
        else:
            try:
                self._assertArrayLikeAllClose(
                    a,
                    b,
                    rtol=rtol,
                    atol=atol,
                    msg=f"Mismatched value: a{path_str} is different from b{path_str}. {msg}",
                )
            except TypeError as e:
                more = f"Error: a{path_str} has {type(a)}, but b{path_str} has {type(b)}. {msg}"
                e.args = ((e.args[0] + " : " + more,) + e.args[1:]) if e.args else (more,)
                raise

    def assertAllClose(self, a, b, rtol=1e-6, atol=1e-6, msg=None):  # noqa: N802
        """Assert that two (nested structures of) arrays or Tensors are elementwise close:
        |a - b| <= atol + rtol * |b|, NaN equal to NaN, shapes equal."""
        self._assertAllCloseRecursive(a, b, rtol=rtol, atol=atol, msg=msg)

    def assertAllCloseAccordingToType(  # noqa: N802
        self,
        a,
        b,
        rtol=1e-6,
        atol=1e-6,
        float_rtol=1e-6,
        float_atol=1e-6,
        half_rtol=1e-3,
        half_atol=1e-3,
        bfloat16_rtol=1e-2,
        bfloat16_atol=1e-2,
        msg=None,
    ):
        """assertAllClose with tolerances loosened by the dtypes involved: float32
        (float_*), float16 (half_*), bfloat16 (bfloat16_*)."""
        a, b = self.evaluate_if_both_tensors(a, b)
        a, b = self._GetNdArray(a), self._GetNdArray(b)
        names = {a.dtype.name, b.dtype.name}
        if names & {"float32", "complex64"}:
            rtol, atol = max(rtol, float_rtol), max(atol, float_atol)
        if "float16" in names:
            rtol, atol = max(rtol, half_rtol), max(atol, half_atol)
        if "bfloat16" in names:
            rtol, atol = max(rtol, bfloat16_rtol), max(atol, bfloat16_atol)
        self.assertAllClose(a, b, rtol=rtol, atol=atol, msg=msg)

    def assertNotAllClose(self, a, b, rtol=1e-6, atol=1e-6, msg=None):  # noqa: N802
        try:
            self.assertAllClose(a, b, rtol=rtol, atol=atol, msg=msg)
        except AssertionError:
            return
        raise AssertionError(f"The two values are close at all elements. {msg or ''}")

    # --- equality and ranges ---------------------------------------------------------------------
    def assertAllEqual(self, a, b, msg=None):  # noqa: N802
        """Assert that two arrays or Tensors have the same shape and values (NaN equals NaN)."""
        msg = msg if msg else ""
        labels = [
            assertions.describe_tensor(assertions._graph_element(x)) if _is_graph_value(x) else ""
            for x in (a, b)
        ]
        a, b = self.evaluate_if_both_tensors(a, b)
        a, b = self._GetNdArray(a), self._GetNdArray(b)
        if b.ndim <= 3 or b.size < 500:
            self.assertEqual(
                a.shape,
                b.shape,
                f"Shape mismatch: expected {a.shape}, got {b.shape}. Contents: {b!r}. \n{msg}.",
            )
        else:
            self.assertEqual(a.shape, b.shape, f"Shape mismatch: expected {a.shape}, got {b.shape}. {msg}")
        same = a == b
        if assertions._is_float(a.dtype):
            same = np.logical_or(same, np.logical_and(np.isnan(a), np.isnan(b)))
        if np.all(same):
            return
        if a.dtype.kind != b.dtype.kind and {a.dtype.kind, b.dtype.kind} <= {"U", "S", "O"}:
            a = np.array([x.encode() if isinstance(x, str) else x for x in a.flat]).reshape(a.shape)
            b = np.array([x.encode() if isinstance(x, str) else x for x in b.flat]).reshape(b.shape)
        report = assertions.mismatch_report(a, b, 0.0, 0.0, "Not equal", *labels, names=("a", "b"))
        raise self.failureException("\n".join(m for m in (msg, report) if m))

    def assertNotAllEqual(self, a, b, msg=None):  # noqa: N802
        try:
            self.assertAllEqual(a, b)
        except AssertionError:
            return
        raise AssertionError(f"The two values are equal at all elements. {msg or ''}")

    def assertAllGreater(self, a, comparison_target):  # noqa: N802
        a, comparison_target = self.evaluate_if_both_tensors(a, comparison_target)
        self.assertGreater(np.min(self._GetNdArray(a)), comparison_target)

    def assertAllLess(self, a, comparison_target):  # noqa: N802
        a, comparison_target = self.evaluate_if_both_tensors(a, comparison_target)
        self.assertLess(np.max(self._GetNdArray(a)), comparison_target)

    def assertAllGreaterEqual(self, a, comparison_target):  # noqa: N802
        a, comparison_target = self.evaluate_if_both_tensors(a, comparison_target)
        self.assertGreaterEqual(np.min(self._GetNdArray(a)), comparison_target)

    def assertAllLessEqual(self, a, comparison_target):  # noqa: N802
        a, comparison_target = self.evaluate_if_both_tensors(a, comparison_target)
        self.assertLessEqual(np.max(self._GetNdArray(a)), comparison_target)

    @staticmethod
    def _format_subscripts(subscripts, value, limit: int = 10, indent: int = 2) -> list[str]:
        lines = []
        subscripts = np.transpose(subscripts)
        prefix = " " * indent
        if np.ndim(value) == 0:
            return [prefix + "[0] : " + str(value)]
        for subscript in subscripts[:limit]:
            lines.append(prefix + str(subscript) + " : " + str(value[tuple(subscript)]))
        if len(subscripts) > limit:
            lines.append(prefix + "...")
        return lines

    def assertAllInRange(  # noqa: N802
        self, target, lower_bound, upper_bound, open_lower_bound=False, open_upper_bound=False
    ):
        """Assert that every element lies in [lower_bound, upper_bound] (open ends as
        asked); NaN and non-numeric values fail."""
        target = self._GetNdArray(target)
        if not (np.issubdtype(target.dtype, np.floating) or np.issubdtype(target.dtype, np.integer)):
            raise AssertionError(
                f"The value of {target} does not have an ordered numeric type, instead it has type: "
                f"{target.dtype}"
            )
        nan_subscripts = np.where(np.isnan(target))
        if np.size(nan_subscripts):
            raise AssertionError(
                f"{len(nan_subscripts[0])} of the {np.size(target)} element(s) are NaN. "
                "Subscripts(s) and value(s) of the NaN element(s):\n"
                + "\n".join(self._format_subscripts(nan_subscripts, target))
            )
        range_str = (
            ("(" if open_lower_bound else "[")
            + str(lower_bound)
            + ", "
            + str(upper_bound)
            + (")" if open_upper_bound else "]")
        )
        violations = np.less_equal(target, lower_bound) if open_lower_bound else np.less(target, lower_bound)
        violations = np.logical_or(
            violations,
            np.greater_equal(target, upper_bound) if open_upper_bound else np.greater(target, upper_bound),
        )
        violation_subscripts = np.where(violations)
        if np.size(violation_subscripts):
            raise AssertionError(
                f"{len(violation_subscripts[0])} of the {np.size(target)} element(s) are outside the range "
                f"{range_str}. Subscript(s) and value(s) of the offending elements:\n"
                + "\n".join(self._format_subscripts(violation_subscripts, target))
            )

    def assertAllInSet(self, target, expected_set):  # noqa: N802
        target = self._GetNdArray(target)
        diff = np.setdiff1d(target.flatten(), list(expected_set))
        if np.size(diff):
            raise AssertionError(
                f"{np.size(diff)} unique element(s) are not in the set {expected_set}: {diff}"
            )

    def assertDTypeEqual(self, target, expected_dtype):  # noqa: N802
        target = self._GetNdArray(target)
        self.assertEqual(target.dtype, expected_dtype)

    def assertNear(self, f1, f2, err, msg=None):  # noqa: N802
        """Assert that |f1 - f2| <= err (equal values, infinities included, pass)."""
        f1, f2 = np.squeeze(f1), np.squeeze(f2)
        if f1 != f2:
            diff = math.fabs(f1 - f2)
            self.assertTrue(
                diff <= err,
                f"{f1:f} != {f2:f} +/- {err:f} (difference: {diff:g})"
                + (f" ({msg})" if msg is not None else ""),
            )

    def assertArrayNear(self, farray1, farray2, err, msg=None):  # noqa: N802
        """Assert that two float sequences have equal lengths and items within err."""
        self.assertEqual(len(farray1), len(farray2), msg=msg)
        for f1, f2 in zip(farray1, farray2):
            self.assertNear(float(f1), float(f2), err, msg=msg)

    def assertNDArrayNear(self, ndarray1, ndarray2, err, msg=None):  # noqa: N802
        self.assertTrue(np.linalg.norm(ndarray1 - ndarray2) < err, msg=msg)

    def assertShapeEqual(self, input_a, input_b, msg=None):  # noqa: N802
        """Assert that two NumPy values or Tensors have the same shape (a Tensor's
        static shape, as known when the graph is built)."""
        for name, x in (("input_a", input_a), ("input_b", input_b)):
            if not isinstance(x, (np.ndarray, np.generic, fops.Tensor)):
                raise TypeError(
                    f"{name} must be a Numpy ndarray, Numpy scalar, or a Tensor.Instead received {type(x)}"
                )
        shape_a = input_a.get_shape().as_list() if isinstance(input_a, fops.Tensor) else input_a.shape
        shape_b = input_b.get_shape().as_list() if isinstance(input_b, fops.Tensor) else input_b.shape
        self.assertAllEqual(shape_a, shape_b, msg=msg)

    def assertDeviceEqual(self, device1, device2, msg=None):  # noqa: N802
        def canonical(d) -> str:
            d = d if isinstance(d, str) else d.to_string()
            return re.sub(r"/(gpu|cpu):", lambda m: f"/device:{m.group(1).upper()}:", d, flags=re.IGNORECASE)

        device1, device2 = canonical(device1), canonical(device2)
        self.assertEqual(device1, device2, f"Devices {device1} and {device2} are not equal. {msg}")

    def assertStartsWith(self, actual, expected_start, msg=None):  # noqa: N802
        if not actual.startswith(expected_start):
            fail_msg = f"{actual!r} does not start with {expected_start!r}"
            fail_msg += f" : {msg!r}" if msg else ""
            self.fail(fail_msg)

    def assertProtoEquals(self, expected_message_maybe_ascii, message, msg=None):  # noqa: N802
        """Assert that a protobuf message equals another or its text format."""
        from google.protobuf import text_format

        if isinstance(expected_message_maybe_ascii, type(message)):
            expected = expected_message_maybe_ascii
        elif isinstance(expected_message_maybe_ascii, (str, bytes)):
            expected = type(message)()
            text_format.Merge(expected_message_maybe_ascii, expected)
        else:
            raise AssertionError(
                f"Can't compare protos of type {type(expected_message_maybe_ascii)} and {type(message)}."
            )
        if expected != message:
            self.assertMultiLineEqual(
                text_format.MessageToString(expected), text_format.MessageToString(message), msg=msg
            )

    # --- errors ------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def assertRaisesWithPredicateMatch(self, exception_type, expected_err_re_or_predicate):  # noqa: N802
        """Expect `exception_type` from the block, whose message matches the regular
        expression (searched; an OpError's op name is searched too) or satisfies the
        predicate (a function of the exception)."""
        if callable(expected_err_re_or_predicate):
            predicate = expected_err_re_or_predicate
        else:

            def predicate(e):
                if isinstance(e, errors.OpError):
                    err_str = e.message
                    if e.op is not None:
                        err_str += "\nCaused by: " + e.op.name
                else:
                    err_str = str(e)
                return re.search(expected_err_re_or_predicate, err_str)

        try:
            yield
            self.fail(exception_type.__name__ + " not raised")
        except Exception as e:
            if not isinstance(e, exception_type) or not predicate(e):
                raise AssertionError(f"Exception of type {type(e)}: {e}") from e

    def assertRaisesOpError(self, expected_err_re_or_predicate):  # noqa: N802
        """Expect an sf.errors.OpError (a run-time error) matching the expression or predicate."""
        return self.assertRaisesWithPredicateMatch(errors.OpError, expected_err_re_or_predicate)

    def assertRaisesIncompatibleShapesError(self, exception_type=errors.InvalidArgumentError):  # noqa: N802
        return self.assertRaisesWithPredicateMatch(
            exception_type,
            r"Incompatible shapes|Dimensions must be equal|required broadcastable shapes",
        )


__all__ = ["TestCase", "gpu_device_name"]
