"""sf.train.Saver: bit-identical round trips, max_to_keep, atomic saves under injected
failures, and clear errors for truncated, corrupted, foreign and mismatched checkpoints."""

from __future__ import annotations

import errno
import glob
import os
import re

import numpy as np
import pytest

import staticflow as sf
from staticflow.train import checkpoint_io

VALUES = {
    "f32": np.array([[1.5, -0.0, np.nan], [np.inf, -np.inf, 1e-45]], np.float32),
    "f64": np.random.default_rng(0).standard_normal((3, 4, 5)),
    "i64": np.array([np.iinfo(np.int64).min, -1, 0, np.iinfo(np.int64).max], np.int64),
    "i32": np.arange(-6, 6, dtype=np.int32).reshape(3, 2, 2),
    "u8": np.arange(7, dtype=np.uint8),
    "flag": np.array([True, False, True]),
    "scalar": np.float64(3.25),
    "empty": np.zeros((0, 3), np.float32),
}


def _build(values=VALUES):
    vs = {k: sf.Variable(v, name=k) for k, v in values.items()}
    return vs


def _same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


def _data_files(prefix):
    return glob.glob(glob.escape(prefix) + ".data-*")


def _no_temp_files(d):
    assert not [f for f in os.listdir(d) if ".tmp-" in f]


@pytest.fixture(autouse=True)
def _graph(sf_graph):
    yield
    checkpoint_io.WRITE_HOOKS.clear()


def test_round_trip_is_bit_identical(tmp_path):
    vs = _build()
    saver = sf.train.Saver()
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        path = saver.save(sess, str(tmp_path / "model"))
    assert path == str(tmp_path / "model")
    files = sorted(os.listdir(tmp_path))
    assert files[0] == "checkpoint" and files[2:] == ["model.index", "model.meta"]
    assert re.fullmatch(r"model\.data-[0-9a-f]{16}", files[1])  # named by this save alone
    with sf.Session() as sess:  # a new session: nothing initialized
        saver.restore(sess, path)
        for k, v in vs.items():
            _same_bits(sess.run(v), VALUES[k])
    # and without a graph
    assert dict(sf.train.list_variables(str(tmp_path))) == {k: list(np.shape(v)) for k, v in VALUES.items()}
    for k, v in VALUES.items():
        _same_bits(sf.train.load_variable(path, k), v)


def test_restore_overwrites_trained_values_in_place(tmp_path):
    w = sf.Variable(np.ones((2, 2), np.float32), name="w")
    y = w * 2.0
    saver = sf.train.Saver()
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        before = sess.run(y)  # a cached plan bound to the variable's storage
        path = saver.save(sess, str(tmp_path / "m"))
        sess.run(w.assign(np.full((2, 2), 5.0, np.float32)))
        saver.restore(sess, path)
        np.testing.assert_array_equal(sess.run(y), before)


def test_var_list_dict_and_global_step(tmp_path):
    a = sf.Variable(np.arange(3.0), name="a")
    step = sf.train.get_or_create_global_step()
    saver = sf.train.Saver({"renamed": a})
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        sess.run(step.assign(42))
        path = saver.save(sess, str(tmp_path / "m"), global_step=step)
    assert path.endswith("m-42")
    assert sf.train.list_variables(path) == [("renamed", [3])]


def test_max_to_keep_and_checkpoint_state(tmp_path):
    sf.Variable(1.0, name="v")
    saver = sf.train.Saver(max_to_keep=2)
    prefix = str(tmp_path / "ckpt")
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        paths = [saver.save(sess, prefix, global_step=i) for i in range(4)]
    assert saver.last_checkpoints == paths[2:]
    assert sf.train.latest_checkpoint(str(tmp_path)) == paths[3]
    state = sf.train.get_checkpoint_state(str(tmp_path))
    assert list(state.all_model_checkpoint_paths) == paths[2:]
    assert 'model_checkpoint_path: "ckpt-3"' in (tmp_path / "checkpoint").read_text()  # relative
    for p in paths[:2]:
        assert not any(os.path.exists(p + s) for s in (".index", ".meta")) and not _data_files(p)
    for p in paths[2:]:
        assert sf.train.checkpoint_exists(p)


# ---------------------------------------------------------------------------
# atomicity: a failure at any write step leaves the previous checkpoint loadable
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("step", checkpoint_io.SAVE_STEPS)
@pytest.mark.parametrize("error", [RuntimeError("injected crash"), OSError(errno.ENOSPC, "No space left")])
def test_failure_at_each_write_step_keeps_previous_checkpoint(tmp_path, step, error):
    w = sf.Variable(np.arange(1000, dtype=np.float64), name="w")
    v = sf.Variable(np.int64(1), name="v")
    saver = sf.train.Saver(max_to_keep=1)  # the second save deletes the first when it succeeds
    prefix = str(tmp_path / "model")
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        first = saver.save(sess, prefix, global_step=1)
        sess.run([w.assign(w * -1.0), v.assign(2)])

        def hook(s, path):
            if s == step:
                raise error

        checkpoint_io.WRITE_HOOKS.append(hook)
        with pytest.raises(type(error)):
            saver.save(sess, prefix, global_step=2)
        checkpoint_io.WRITE_HOOKS.clear()
    _no_temp_files(tmp_path)
    latest = sf.train.latest_checkpoint(str(tmp_path))
    committed = checkpoint_io.SAVE_STEPS.index(step) >= checkpoint_io.SAVE_STEPS.index("state_rename")
    assert latest == (prefix + "-2" if committed else first)
    with sf.Session() as sess:  # whichever checkpoint is the latest loads, complete
        saver.restore(sess, latest)
        sign = -1.0 if committed else 1.0
        np.testing.assert_array_equal(sess.run(w), sign * np.arange(1000.0))
        assert sess.run(v) == (2 if committed else 1)
    with sf.Session() as sess:  # and the first one is intact unless deleted after the commit
        if os.path.exists(first + ".index"):
            saver.restore(sess, first)
            np.testing.assert_array_equal(sess.run(w), np.arange(1000.0))


def test_failed_overwrite_of_same_prefix_keeps_old_files(tmp_path):
    w = sf.Variable(np.arange(10.0), name="w")
    saver = sf.train.Saver()
    prefix = str(tmp_path / "model")
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        saver.save(sess, prefix)
        sess.run(w.assign(w + 100.0))
        for step in ("data_write", "data_sync", "index_write", "index_sync"):
            checkpoint_io.WRITE_HOOKS[:] = [
                lambda s, p, step=step: (_ for _ in ()).throw(OSError(s)) if s == step else None
            ]
            with pytest.raises(OSError):
                saver.save(sess, prefix)
        checkpoint_io.WRITE_HOOKS.clear()
        saver.restore(sess, prefix)
        np.testing.assert_array_equal(sess.run(w), np.arange(10.0))
    _no_temp_files(tmp_path)


# ---------------------------------------------------------------------------
# damaged and foreign files
# ---------------------------------------------------------------------------
def _saved(tmp_path):
    vs = _build({"a": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.arange(5, dtype=np.int64)})
    saver = sf.train.Saver()
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        path = saver.save(sess, str(tmp_path / "model"))
    return vs, saver, path


def _expect_data_loss(saver, path, filename):
    with sf.Session() as sess:
        with pytest.raises(sf.errors.DataLossError) as e:
            saver.restore(sess, path)
        assert filename in str(e.value)
        for name in ("a", "b"):  # nothing restored
            assert not sess._variables.is_initialized(name)
    return e.value


@pytest.mark.parametrize("keep", [0, 1, 10, 47])
def test_truncated_data_file(tmp_path, keep):
    _, saver, path = _saved(tmp_path)
    (data,) = _data_files(path)
    raw = open(data, "rb").read()
    open(data, "wb").write(raw[:keep])
    err = _expect_data_loss(saver, path, data)
    assert "truncated" in str(err)
    with pytest.raises(sf.errors.DataLossError, match="truncated"):
        sf.train.load_variable(path, "a")


def test_truncated_index_file(tmp_path):
    _, saver, path = _saved(tmp_path)
    index = path + ".index"
    raw = open(index, "rb").read()
    for keep in range(len(raw)):
        open(index, "wb").write(raw[:keep])
        _expect_data_loss(saver, path, index)


def test_every_bit_flip_in_the_index_is_detected(tmp_path):
    _, saver, path = _saved(tmp_path)
    index = path + ".index"
    raw = open(index, "rb").read()
    for pos in range(len(raw)):
        for bit in (0, 3, 7):
            bad = bytearray(raw)
            bad[pos] ^= 1 << bit
            open(index, "wb").write(bytes(bad))
            _expect_data_loss(saver, path, index)


def test_bit_flips_in_the_data_file_are_detected(tmp_path):
    vs, saver, path = _saved(tmp_path)
    (data,) = _data_files(path)
    raw = open(data, "rb").read()
    for pos in range(len(raw)):
        bad = bytearray(raw)
        bad[pos] ^= 1 << (pos % 8)
        open(data, "wb").write(bytes(bad))
        err = _expect_data_loss(saver, path, data)
        assert "corrupted" in str(err)


def test_foreign_files(tmp_path):
    _, saver, path = _saved(tmp_path)
    index = path + ".index"
    for junk in (
        b"",
        b"hello world\n",
        sf.get_default_graph().as_graph_def().SerializeToString(),
        os.urandom(300),
    ):
        open(index, "wb").write(junk)
        err = _expect_data_loss(saver, path, index)
        assert "staticflow checkpoint" in str(err) or "corrupted" in str(err)
    (tmp_path / "checkpoint").write_bytes(b"\xff\xfe not text")
    with pytest.raises(sf.errors.DataLossError, match="checkpoint"):
        sf.train.latest_checkpoint(str(tmp_path))


def test_missing_checkpoint(tmp_path):
    _, saver, _ = _saved(tmp_path)
    with sf.Session() as sess:
        with pytest.raises(sf.errors.NotFoundError, match="nope"):
            saver.restore(sess, str(tmp_path / "nope"))
    assert sf.train.latest_checkpoint(str(tmp_path / "empty_dir_that_does_not_exist")) is None


# ---------------------------------------------------------------------------
# graph and checkpoint disagree
# ---------------------------------------------------------------------------
def test_shape_and_dtype_mismatch_names_each(tmp_path):
    _, _, path = _saved(tmp_path)
    with sf.Graph().as_default():
        sf.Variable(np.zeros((4, 3), np.float32), name="a")  # shape differs
        sf.Variable(np.zeros(5, np.float64), name="b")  # dtype differs
        saver = sf.train.Saver()
        with sf.Session() as sess:
            with pytest.raises(sf.errors.InvalidArgumentError) as e:
                saver.restore(sess, path)
    msg = str(e.value)
    assert "a: shape [3, 4] in the checkpoint, [4, 3] in the graph" in msg
    assert "b: dtype int64 in the checkpoint, float64 in the graph" in msg


def test_missing_variable_is_named(tmp_path):
    _, _, path = _saved(tmp_path)
    with sf.Graph().as_default():
        sf.Variable(np.zeros((3, 4), np.float32), name="a")
        sf.Variable(np.zeros(2), name="extra")
        saver = sf.train.Saver()
        with sf.Session() as sess:
            with pytest.raises(sf.errors.NotFoundError, match="extra"):
                saver.restore(sess, path)
            assert not sess._variables.is_initialized("a")


def test_saving_uninitialized_variable_fails(tmp_path):
    sf.Variable(1.0, name="v")
    saver = sf.train.Saver()
    with sf.Session() as sess:
        with pytest.raises(sf.errors.FailedPreconditionError, match="v"):
            saver.save(sess, str(tmp_path / "m"))
    assert os.listdir(tmp_path) == []


def test_no_variables_and_bad_directory(tmp_path):
    with pytest.raises(ValueError, match="No variables to save"):
        sf.train.Saver()
    sf.Variable(1.0, name="v")
    saver = sf.train.Saver()
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        (tmp_path / "file").write_text("not a directory")
        for parent in ("file", "file/below"):
            with pytest.raises(ValueError, match="Parent directory .* is not a directory"):
                saver.save(sess, str(tmp_path / parent / "m"))
        assert sorted(os.listdir(tmp_path)) == ["file"]


def test_save_creates_missing_parent_directories(tmp_path):
    """As TensorFlow's V2 checkpoint writer does (TF1 scripts save to "ckpt/model" unprepared)."""
    v = sf.Variable(np.arange(3.0), name="v")
    saver = sf.train.Saver()
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        path = saver.save(sess, str(tmp_path / "runs" / "ckpt" / "model"), global_step=7)
    assert sf.train.latest_checkpoint(str(tmp_path / "runs" / "ckpt")) == path
    with sf.Session() as sess:
        saver.restore(sess, path)
        np.testing.assert_array_equal(sess.run(v), np.arange(3.0))
