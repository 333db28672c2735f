"""String tensors at run time: fed, fetched, computed on the host, kept in variables and saved."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf


def _obj(*items):
    return np.array(list(items), dtype=object)


def test_feed_and_fetch_strings_as_bytes():
    p = sf.placeholder(sf.string, [None])
    q = sf.identity(p)
    with sf.Session() as s:
        got = s.run(q, {p: ["a", b"b", "\u00e9"]})
        assert got.dtype == object
        assert got.tolist() == [b"a", b"b", "\u00e9".encode()]
        assert s.run(q, {p: np.array(["xy", "z"])}).tolist() == [b"xy", b"z"]  # NumPy str array


def test_scalar_fetches_are_scalars_as_in_tensorflow():
    with sf.Session() as s:
        assert s.run(sf.constant("x")) == b"x"
        f = s.run(sf.constant(1.5))
        assert isinstance(f, np.float32) and f == 1.5
        assert s.run(sf.constant(["a", "bc"])).tolist() == [b"a", b"bc"]


def test_feeding_non_strings_names_the_tensor():
    p = sf.placeholder(sf.string, [None], name="words")
    with sf.Session() as s, pytest.raises(TypeError, match="words:0"):
        s.run(sf.identity(p), {p: [1, 2]})


def test_string_ops_beside_kernels():
    x = sf.placeholder(sf.float32, [2, 2])
    y = sf.matmul(x, x)
    text = sf.as_string(y, precision=1)
    back = sf.string_to_number(sf.strings.join([text, "5"], separator="")) * 2.0
    xv = np.array([[1, 2], [3, 4]], np.float32)
    want_y = xv @ xv
    with sf.Session() as s:
        t, b = s.run([text, back], {x: xv})
    assert t.tolist() == [[f"{v:.1f}".encode() for v in row] for row in want_y]
    np.testing.assert_allclose(b, np.vectorize(lambda v: float(f"{v:.1f}5"))(want_y) * 2, rtol=1e-6)


def test_view_ops_move_strings():
    words = sf.constant([["a", "b", "c"], ["d", "e", "f"]])
    outs = [
        sf.transpose(words),
        sf.reshape(words, [3, 2]),
        sf.gather(words, [1, 0]),
        sf.concat([words, words], 1),
        words[:, 1:],
        sf.tile(words, [1, 2]),
        sf.stack([words[0], words[1]], axis=1),
        sf.where(sf.constant([[True, False, True]] * 2), words, sf.zeros_like(words)),
    ]
    w = np.array([["a", "b", "c"], ["d", "e", "f"]]).astype(bytes).astype(object)
    want = [
        w.T,
        w.reshape(3, 2),
        w[[1, 0]],
        np.concatenate([w, w], 1),
        w[:, 1:],
        np.tile(w, [1, 2]),
        np.stack([w[0], w[1]], axis=1),
        np.where([[True, False, True]] * 2, w, b""),
    ]
    with sf.Session() as s:
        for got, exp in zip(s.run(outs), want, strict=True):
            assert got.dtype == object
            np.testing.assert_array_equal(got, exp)


def test_string_equality_and_python_executor_agree():
    p = sf.placeholder(sf.string, [3])
    eq = sf.equal(p, "b")
    feed = {p: ["a", "b", "b"]}
    with sf.Session() as s:
        c = s.run(eq, feed)
    with sf.Session(executor="python") as s:
        py = s.run(eq, feed)
    np.testing.assert_array_equal(c, [False, True, True])
    np.testing.assert_array_equal(py, c)


def test_host_op_error_names_the_op_and_line():
    bad = sf.string_to_number(sf.constant(["1", "x"]), name="parse")
    with sf.Session() as s, pytest.raises(sf.errors.InvalidArgumentError) as e:
        s.run(bad)
    msg = str(e.value)
    assert "parse" in msg and "could not correctly convert" in msg and "test_strings.py" in msg


def test_string_variables_assign_save_and_restore(tmp_path):
    v = sf.Variable(["init", "x"], dtype=sf.string, name="v")
    w = sf.Variable([1.0, 2.0], name="w")
    upd = sf.assign(v, sf.strings.join([v, "\u00e9"], separator="+"))
    saver = sf.train.Saver()
    with sf.Session() as s:
        s.run(sf.global_variables_initializer())
        assert s.run(v).tolist() == [b"init", b"x"]
        s.run(upd)
        want = [b"init+\xc3\xa9", b"x+\xc3\xa9"]
        assert s.run(v).tolist() == want
        path = saver.save(s, str(tmp_path / "model"))
    reader = sf.train.load_checkpoint(path)
    assert reader.get_tensor("v").tolist() == want
    with sf.Session() as s:
        saver.restore(s, path)
        assert s.run(v).tolist() == want
        np.testing.assert_array_equal(s.run(w), [1.0, 2.0])


def test_corrupt_string_tensor_lengths_are_data_loss(tmp_path):
    from staticflow.train import checkpoint_io

    prefix = str(tmp_path / "ck")
    checkpoint_io.write_checkpoint(prefix, [("s", _obj(b"ab", b"c"))])
    reader = checkpoint_io.CheckpointReader(prefix)
    assert reader.get_tensor("s").tolist() == [b"ab", b"c"]
    # rewrite the data with lengths that do not add up, and a checksum that matches them
    data = prefix + checkpoint_io.DATA_SUFFIX
    raw = bytearray(open(data, "rb").read())
    raw[0] = 9
    open(data, "wb").write(bytes(raw))
    with pytest.raises(sf.errors.DataLossError):
        checkpoint_io.CheckpointReader(prefix).get_tensor("s")


def test_string_graph_round_trips_and_freezes():
    g = sf.Graph()
    with g.as_default():
        v = sf.Variable(["p", "q"], dtype=sf.string, name="v")
        out = sf.strings.join([v, sf.constant("!")], name="out")
        with sf.Session() as s:
            s.run(sf.global_variables_initializer())
            frozen = sf.graph_util.convert_variables_to_constants(s, g.as_graph_def(), ["out"])
    g2 = sf.Graph()
    with g2.as_default():
        sf.import_graph_def(sf.GraphDef.FromString(frozen.SerializeToString()), name="")
    with sf.Session(graph=g2) as s:
        assert s.run("out:0").tolist() == [b"p!", b"q!"]
    assert out.dtype == sf.string


def test_print_shows_strings(capfd):
    x = sf.constant([1.0])
    y = sf.Print(x, [sf.constant(["caf\u00e9"])], message="label: ")
    with sf.Session() as s:
        s.run(y)
    assert "label: [caf\u00e9]" in capfd.readouterr().err


_M = np.array([[b"a", b"b"], [b"c", b"d"]], dtype=object)


@pytest.mark.parametrize(
    "fn,inputs,want",
    [
        (lambda x: sf.as_string(x, width=5, fill="0"), np.array([15, -2], np.int32), [b"00015", b"-0002"]),
        (lambda x: sf.as_string(x, fill=" ", width=8), np.array([1.5], np.float32), [b" 1.500000"]),
        (lambda x: sf.as_string(x), np.array([True, False]), [b"true", b"false"]),
        (lambda x: sf.reduce_join(x, axis=[1, 0], separator="."), _M, b"a.b.c.d"),
        (lambda x: sf.reduce_join(x, axis=[0, 1], separator="."), _M, b"a.c.b.d"),
        (lambda x: sf.reduce_join(x), _M, b"abcd"),
        (lambda x: sf.substr(x, -2, 3), _obj(b"hello", b"wo"), [b"lo", b"wo"]),
        (lambda x: sf.strings.length(x, unit="UTF8_CHAR"), _obj("h\u00e9".encode()), [2]),
        (lambda x: sf.regex_replace(x, "(b)", r"<\1>"), _obj(b"abc"), [b"a<b>c"]),
        (lambda x: sf.encode_base64(x), _obj(b"hello?>"), [b"aGVsbG8_Pg"]),
        (lambda x: sf.string_to_number(x), _obj(b" 1.5", b"0x10", b"inf"), [1.5, 16.0, np.inf]),
    ],
)
def test_string_ops_match_tensorflow(fn, inputs, want):
    """Values TensorFlow 2.21 (compat.v1) gives for the same calls."""
    with sf.Session() as s:
        got = s.run(fn(sf.constant(inputs)))
    if isinstance(want, bytes):
        assert got == want
    else:
        np.testing.assert_array_equal(np.asarray(got).tolist(), want)


@pytest.mark.parametrize(
    "fn,match",
    [
        (lambda: sf.as_string(sf.constant([1]), precision=2), "precision"),
        (lambda: sf.as_string(sf.constant([1.0]), fill="*"), "Fill"),
        (lambda: sf.as_string(sf.constant([1.0]), scientific=True, shortest=True), "both"),
        (lambda: sf.strings.join([sf.constant(["a", "b"]), sf.constant(["c", "d", "e"])]), "one shape"),
    ],
)
def test_string_op_construction_errors(fn, match):
    with pytest.raises(ValueError, match=match):
        fn()


@pytest.mark.parametrize(
    "fn",
    [
        lambda: sf.string_to_number(sf.constant(["99999999999"]), out_type=sf.int32),
        lambda: sf.string_to_number(sf.constant(["1.0"]), out_type=sf.int32),
        lambda: sf.substr(sf.constant(["hello", "wo"]), 3, 1),
        lambda: sf.decode_base64(sf.constant(["a*b"])),
    ],
)
def test_string_op_run_errors(fn):
    t = fn()
    with sf.Session() as s, pytest.raises(sf.errors.InvalidArgumentError, match=t.op.name):
        s.run(t)
