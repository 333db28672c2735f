"""Tiny inputs that claim huge tensors: checked against the bytes present and the limit.

A 57-byte GraphDef holding a Const of shape [1 << 40] with one float_val used to
make import allocate 4 TiB. Tensor contents are now checked against their
shapes; the splat form stays one value until a plan expands it; and every
allocation above the limit is a ResourceExhaustedError naming the op and size.
"""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf
from staticflow.framework import graph_pb2, sizes, tensor_pb2, tensor_util


def _splat_graph_def(dims, n_values=1) -> bytes:
    gd = graph_pb2.GraphDef()
    n = gd.node.add(name="big", op="Const")
    n.attr["dtype"].type = 1
    t = n.attr["value"].tensor
    t.dtype = 1
    for d in dims:
        t.tensor_shape.dim.add(size=d)
    t.float_val.extend([1.5] * n_values)
    return gd.SerializeToString()


def test_a_splat_constant_of_4_tib_imports_without_allocating_it(child):
    data = _splat_graph_def([1 << 40])
    assert len(data) < 60
    # a child with a 2 GiB address-space limit: expanding the constant at import fails there
    # (under AddressSanitizer, the sanitizer reports an allocation that large)
    r = child(
        f"""
        import os, resource
        if "asan" not in os.environ.get("LD_PRELOAD", ""):  # AddressSanitizer maps terabytes of shadow
            resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
        import staticflow as sf
        g = sf.Graph()
        with g.as_default():
            sf.import_graph_def(sf.GraphDef.FromString({data!r}), name="")
        big = g.get_tensor_by_name("big:0")
        print("shape", big.shape)
        with sf.Session(graph=g) as s:
            try:
                s.run(big)
            except sf.errors.ResourceExhaustedError as e:
                print("ResourceExhaustedError:", str(e).splitlines()[0])
        """
    )
    assert not r.crashed and r.returncode == 0, r
    assert "shape (1099511627776,)" in r.stdout, r
    want = "ResourceExhaustedError: OOM when allocating a float32 constant of shape [1099511627776]"
    assert want in r.stdout, r
    assert "4.00 TiB" in r.stdout


def test_a_splat_constant_runs_and_round_trips_as_a_splat():
    g = sf.Graph()
    with g.as_default():
        sf.import_graph_def(sf.GraphDef.FromString(_splat_graph_def([3, 4])), name="")
        y = g.get_tensor_by_name("big:0") * 2.0
    with sf.Session(graph=g) as sess:
        np.testing.assert_array_equal(sess.run(y), np.full((3, 4), 3.0, np.float32))
    # written back in the splat form: one value, no tensor_content
    t = g.as_graph_def().node[0].attr["value"].tensor
    assert list(t.float_val) == [1.5] and not t.tensor_content


def test_constant_with_one_value_for_a_huge_shape_is_lazy():
    g = sf.Graph()
    with g.as_default():
        c = sf.constant(0.0, shape=[1 << 40])  # TensorFlow builds this too (a splat proto)
    assert c.shape.as_list() == [1 << 40]
    with sf.Session(graph=g) as sess:
        with pytest.raises(sf.errors.ResourceExhaustedError, match=r"node Const \(Const\)"):
            sess.run(c)


def test_zeros_of_4_tib_is_a_resource_exhausted_error_naming_the_op():
    g = sf.Graph()
    with g.as_default():
        z = sf.zeros([1 << 40], name="zeros")  # building it allocates nothing
    with sf.Session(graph=g) as sess:
        with pytest.raises(sf.errors.ResourceExhaustedError) as e:
            sess.run(z)
    assert e.value.error_code == 8 and e.value.op is z.op
    assert "OOM when allocating a float32 tensor of shape [1099511627776]" in str(e.value)
    assert "node zeros (Fill)" in str(e.value)


def test_range_of_a_huge_size_is_sized_without_being_made():
    g = sf.Graph()
    with g.as_default():
        r = sf.range(1 << 40)
    assert r.shape.as_list() == [1 << 40]
    with sf.Session(graph=g) as sess, pytest.raises(sf.errors.ResourceExhaustedError, match="Range"):
        sess.run(r)


def test_a_huge_variable_is_a_resource_exhausted_error():
    g = sf.Graph()
    with g.as_default():
        v = sf.Variable(sf.zeros([1 << 38]), name="v")
    with sf.Session(graph=g) as sess:
        with pytest.raises(sf.errors.ResourceExhaustedError, match="allocating variable v: 1.00 TiB"):
            sess.run(v)  # planned before it runs: refused before "uninitialized"
        with pytest.raises(sf.errors.ResourceExhaustedError, match=r"node v/initial_value|zeros"):
            sess.run(v.initializer)


def test_the_limit_is_configurable_by_config_and_environment(monkeypatch):
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [None])
        y = x * 2.0
    feed = {x: np.ones(1000, np.float32)}  # 4000-byte tensors
    with sf.Session(graph=g, config=sf.ConfigProto(allocation_limit_bytes=2000)) as sess:
        with pytest.raises(sf.errors.ResourceExhaustedError, match=r"limit of 1.95 KiB \(2000 bytes\)"):
            sess.run(y, feed)
    with sf.Session(graph=g, config=sf.ConfigProto(allocation_limit_bytes=1 << 20)) as sess:
        np.testing.assert_array_equal(sess.run(y, feed), np.full(1000, 2.0, np.float32))
    monkeypatch.setenv(sizes.ENV_LIMIT, "2K")
    assert sizes.allocation_limit() == 2048
    with sf.Session(graph=g) as sess:
        with pytest.raises(sf.errors.ResourceExhaustedError, match="limit of 2.00 KiB"):
            sess.run(y, feed)
    monkeypatch.setenv(sizes.ENV_LIMIT, "lots")
    with pytest.raises(ValueError, match="STATICFLOW_ALLOCATION_LIMIT='lots' is not a byte count"):
        sizes.allocation_limit()


def test_the_default_limit_is_a_fraction_of_physical_memory(monkeypatch):
    monkeypatch.delenv(sizes.ENV_LIMIT, raising=False)
    mem = sizes.physical_memory()
    assert mem and sizes.allocation_limit() == int(mem * sizes.DEFAULT_FRACTION)
    assert sizes.parse_bytes("512M") == 512 << 20 and sizes.parse_bytes("8GiB") == 8 << 30


# ---------------------------------------------------------------------------
# tensor contents checked against their shapes
# ---------------------------------------------------------------------------
def _proto(dims, dtype=1):
    t = tensor_pb2.TensorProto(dtype=dtype)
    for d in dims:
        t.tensor_shape.dim.add(size=d)
    return t


@pytest.mark.parametrize("nbytes", [0 + 4, 23, 25, 48])
def test_tensor_content_of_the_wrong_length_is_refused(nbytes):
    t = _proto([2, 3])
    t.tensor_content = b"\0" * nbytes
    with pytest.raises(ValueError, match=f"has {nbytes} content bytes, expected 24"):
        tensor_util.make_ndarray(t)


def test_tensor_content_of_the_right_length_is_read():
    t = _proto([2, 3])
    t.tensor_content = np.arange(6, dtype="<f4").tobytes()
    np.testing.assert_array_equal(tensor_util.make_ndarray(t), np.arange(6, dtype=np.float32).reshape(2, 3))


def test_tensor_shapes_that_overflow_or_are_negative_are_refused():
    t = _proto([1 << 62, 1 << 62])
    t.float_val.append(1.0)
    with pytest.raises(ValueError, match="too many elements"):
        tensor_util.make_ndarray(t)
    t = _proto([-3])
    with pytest.raises(ValueError, match="negative dimension"):
        tensor_util.make_ndarray(t)
    t = _proto([2])
    t.float_val.extend([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="3 values in float_val for 2 elements"):
        tensor_util.make_ndarray(t)


def test_splats_are_legal_and_expand_within_the_limit():
    t = _proto([2, 3])
    t.float_val.append(2.5)
    np.testing.assert_array_equal(tensor_util.make_ndarray(t), np.full((2, 3), 2.5, np.float32))
    lazy = tensor_util.make_ndarray(t, lazy=True)
    assert lazy.shape == (2, 3) and not lazy.flags.writeable
    t.float_val.append(7.0)  # TensorFlow's rule: the last value repeats
    np.testing.assert_array_equal(tensor_util.make_ndarray(t).reshape(-1), [2.5, 7, 7, 7, 7, 7])
    empty = _proto([4])
    np.testing.assert_array_equal(tensor_util.make_ndarray(empty), np.zeros(4, np.float32))
    huge = _proto([1 << 40])
    huge.float_val.append(1.0)
    with pytest.raises(sf.errors.ResourceExhaustedError):
        tensor_util.make_ndarray(huge)  # the public function expands: within the limit
    assert tensor_util.make_ndarray(huge, lazy=True).shape == (1 << 40,)


def test_a_graph_def_with_short_tensor_content_is_refused_at_import():
    gd = graph_pb2.GraphDef.FromString(_splat_graph_def([4]))
    t = gd.node[0].attr["value"].tensor
    t.ClearField("float_val")
    t.tensor_content = b"\0" * 12
    g = sf.Graph()
    with g.as_default():
        with pytest.raises(ValueError, match=r"node 'big' \(Const\).*12 content bytes, expected 16"):
            sf.import_graph_def(gd, name="")
