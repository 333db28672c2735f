"""Checkpoint files on disk: data files named per save, cleanup of what crashed saves left (never
of what a live save holds), readers unaffected by later saves, the `checkpoint` file confined to
its directory, version-1 checkpoints, and FIFOs or devices refused at once wherever staticflow
opens a model or checkpoint file."""

from __future__ import annotations

import fcntl
import glob
import os
import threading
import zlib

import numpy as np
import pytest

import staticflow as sf
from staticflow.cli import main as cli_main
from staticflow.train import checkpoint_io


@pytest.fixture(autouse=True)
def _graph():
    with sf.Graph().as_default():
        yield
    checkpoint_io.WRITE_HOOKS.clear()


def _saver_and_session(value=None):
    v = sf.Variable(np.arange(4.0) if value is None else value, name="v")
    saver = sf.train.Saver(max_to_keep=2)
    sess = sf.Session()
    sess.run(v.initializer)
    return v, saver, sess


def _data_files(prefix):
    return sorted(glob.glob(glob.escape(prefix) + ".data-*"))


# ---------------------------------------------------------------------------
# a fixed prefix: each save its own data file, the old one deleted after the commit
# ---------------------------------------------------------------------------
def test_each_save_writes_a_new_data_file_and_deletes_the_old_one(tmp_path):
    v, saver, sess = _saver_and_session()
    prefix = str(tmp_path / "model")
    saver.save(sess, prefix)
    (first,) = _data_files(prefix)
    sess.run(v.assign(v * 2.0))
    saver.save(sess, prefix)
    (second,) = _data_files(prefix)
    assert first != second
    assert sf.train.load_variable(prefix, "v").tolist() == [0.0, 2.0, 4.0, 6.0]


def test_a_reader_keeps_its_checkpoint_while_saves_replace_it(tmp_path):
    v, saver, sess = _saver_and_session()
    prefix = str(tmp_path / "model")
    saver.save(sess, prefix)
    with checkpoint_io.CheckpointReader(prefix) as reader:
        for _ in range(3):
            sess.run(v.assign(v + 10.0))
            saver.save(sess, prefix)  # deletes the data file the reader opened
        assert reader.get_tensor("v").tolist() == [0.0, 1.0, 2.0, 3.0]
    assert sf.train.load_variable(prefix, "v").tolist() == [30.0, 31.0, 32.0, 33.0]


def test_a_reader_that_finds_its_data_file_gone_reads_the_newer_checkpoint(tmp_path, monkeypatch):
    """The index was read, then a save committed and deleted the data file: start over."""
    v, saver, sess = _saver_and_session()
    prefix = str(tmp_path / "model")
    saver.save(sess, prefix)
    real_read = checkpoint_io.CheckpointReader._read_index_bytes
    calls = []

    def read_then_save(self):
        raw = real_read(self)
        if not calls:
            sess.run(v.assign(v + 1.0))
            saver.save(sess, prefix)  # between this reader's index read and its data open
        calls.append(1)
        return raw

    monkeypatch.setattr(checkpoint_io.CheckpointReader, "_read_index_bytes", read_then_save)
    with checkpoint_io.CheckpointReader(prefix) as reader:
        assert reader.get_tensor("v").tolist() == [1.0, 2.0, 3.0, 4.0]
    assert len(calls) == 2


# ---------------------------------------------------------------------------
# leftovers of crashed saves
# ---------------------------------------------------------------------------
def _leftovers(d):
    return sorted(f for f in os.listdir(d) if ".tmp-" in f or (f.startswith("model") and ".data-" in f))


def test_next_save_removes_what_crashed_saves_left_but_not_what_a_live_save_holds(tmp_path):
    v, saver, sess = _saver_and_session()
    prefix = str(tmp_path / "model")
    saver.save(sess, prefix, global_step=1)
    # what kill -9 leaves at various points: temporary files, a data file without an index, a data
    # file of a prefix whose index names another one
    crashed = [
        tmp_path / "model-1.index.tmp-4242-0123abcd",
        tmp_path / "checkpoint.tmp-4242-89abcdef",
        tmp_path / "model-1.meta.tmp-77-00000000",
        tmp_path / "model-2.data-00112233445566ff",
        tmp_path / "model-1.data-ffeeddccbbaa0099",
    ]
    for f in crashed:
        f.write_bytes(b"partial")
    held = tmp_path / "model-3.data-0123456789abcdef"  # a save in progress in another process
    fd = os.open(held, os.O_WRONLY | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    # files that are not staticflow's leftovers stay: another tool's temporary file, a TensorFlow
    # checkpoint's data file
    foreign = [tmp_path / "notes.tmp", tmp_path / "tf_model.data-00000-of-00001"]
    for f in foreign:
        f.write_bytes(b"keep me")
    try:
        saver.save(sess, prefix, global_step=2)
        assert all(not f.exists() for f in crashed)
        assert held.exists() and all(f.exists() for f in foreign)
    finally:
        os.close(fd)
    saver.save(sess, prefix, global_step=3)
    assert not held.exists()
    assert len(_data_files(prefix + "-2")) == 1 and len(_data_files(prefix + "-3")) == 1
    assert all(f.exists() for f in foreign)
    assert not [f for f in os.listdir(tmp_path) if ".tmp-" in f]


# ---------------------------------------------------------------------------
# version 1 (data file P.data-00000-of-00001) still reads, and is replaced by a new save
# ---------------------------------------------------------------------------
def _write_v1(prefix: str, name: str, value: np.ndarray) -> None:
    from staticflow.framework.tensor_shape import TensorShape
    from staticflow.protobuf import checkpoint_pb2 as pb

    data = np.ascontiguousarray(value).astype(value.dtype.newbyteorder("<")).tobytes()
    index = pb.TensorIndex(data_file=os.path.basename(prefix) + ".data-00000-of-00001", data_size=len(data))
    dtype = sf.as_dtype(value.dtype).as_datatype_enum
    e = index.tensors.add(name=name, dtype=dtype, offset=0, length=len(data))
    e.shape.CopyFrom(TensorShape(list(value.shape)).as_proto())
    e.crc32 = zlib.crc32(data)
    body = index.SerializeToString()
    env = pb.CheckpointIndex(
        magic="staticflow-checkpoint", format_version=1, body=body, body_crc32=zlib.crc32(body)
    )
    with open(prefix + ".data-00000-of-00001", "wb") as f:
        f.write(data)
    with open(prefix + ".index", "wb") as f:
        f.write(env.SerializeToString())


def test_version_1_checkpoints_still_load_and_a_new_save_replaces_them(tmp_path):
    prefix = str(tmp_path / "model")
    _write_v1(prefix, "v", np.arange(4.0) * 3)
    v, saver, sess = _saver_and_session(np.zeros(4))
    saver.restore(sess, prefix)
    assert sess.run(v).tolist() == [0.0, 3.0, 6.0, 9.0]
    saver.save(sess, prefix)
    assert not os.path.exists(prefix + ".data-00000-of-00001")
    assert sf.train.load_variable(prefix, "v").tolist() == [0.0, 3.0, 6.0, 9.0]


# ---------------------------------------------------------------------------
# the `checkpoint` file names only checkpoints inside its directory
# ---------------------------------------------------------------------------
def test_state_file_is_written_with_names_relative_to_its_directory(tmp_path, monkeypatch):
    v, saver, sess = _saver_and_session()
    monkeypatch.chdir(tmp_path)
    saver.save(sess, "runs/model", global_step=1)  # relative to the working directory
    saver.save(sess, str(tmp_path / "runs" / "model"), global_step=2)  # absolute
    text = (tmp_path / "runs" / "checkpoint").read_text()
    assert text.splitlines() == [
        'model_checkpoint_path: "model-2"',
        'all_model_checkpoint_paths: "model-1"',
        'all_model_checkpoint_paths: "model-2"',
    ] + [line for line in text.splitlines() if "timestamp" in line]
    assert sf.train.latest_checkpoint("runs") == os.path.join("runs", "model-2")


@pytest.mark.parametrize(
    "path", ["../outside/model", "sub/../../outside/model", "/etc/passwd", "..", "."]
)
def test_state_file_pointing_outside_its_directory_is_refused(tmp_path, path):
    v, saver, sess = _saver_and_session()
    outside = tmp_path / "outside"
    saver.save(sess, str(outside / "model"))  # a real checkpoint, one directory up from `d`
    d = tmp_path / "d"
    d.mkdir()
    (d / "checkpoint").write_text(f'model_checkpoint_path: "{path}"\n')
    for call in (
        lambda: sf.train.latest_checkpoint(str(d)),
        lambda: sf.train.get_checkpoint_state(str(d)),
        lambda: saver.restore(sess, str(d)),
        lambda: sf.train.list_variables(str(d)),
    ):
        with pytest.raises(sf.errors.InvalidArgumentError, match="outside the directory") as e:
            call()
        assert str(d / "checkpoint") in str(e.value) and repr(path) in str(e.value)
    (d / "checkpoint").write_text(f'model_checkpoint_path: "model"\nall_model_checkpoint_paths: "{path}"\n')
    with pytest.raises(sf.errors.InvalidArgumentError, match="outside the directory"):
        sf.train.get_checkpoint_state(str(d))


def test_tensorflow_style_absolute_paths_inside_the_directory_are_read(tmp_path):
    """TensorFlow 1.x's Saver writes absolute paths by default; those into the directory itself are fine."""
    v, saver, sess = _saver_and_session()
    prefix = saver.save(sess, str(tmp_path / "model"), global_step=5)
    (tmp_path / "checkpoint").write_text(
        f'model_checkpoint_path: "{prefix}"\nall_model_checkpoint_paths: "{prefix}"\n'
    )
    assert sf.train.latest_checkpoint(str(tmp_path)) == prefix


def test_writing_a_state_file_naming_another_directory_is_refused(tmp_path):
    with pytest.raises(ValueError, match="outside the checkpoint directory"):
        sf.train.update_checkpoint_state(str(tmp_path / "a"), str(tmp_path / "b" / "model"))
    with pytest.raises(ValueError, match="outside the checkpoint directory"):
        sf.train.update_checkpoint_state(str(tmp_path), "../model")
    assert not (tmp_path / "checkpoint").exists()


def test_max_to_keep_never_deletes_outside_the_directory(tmp_path):
    v, saver, sess = _saver_and_session()  # max_to_keep=2
    elsewhere = saver.save(sess, str(tmp_path / "elsewhere" / "keep"), global_step=0)
    saver.recover_last_checkpoints([elsewhere])  # as if a state file had listed it
    for step in range(1, 5):
        saver.save(sess, str(tmp_path / "run" / "model"), global_step=step)
    assert sf.train.checkpoint_exists(elsewhere) and os.path.exists(elsewhere + ".meta")
    assert saver.last_checkpoints == [str(tmp_path / "run" / f"model-{s}") for s in (3, 4)]
    assert sorted(os.listdir(tmp_path / "elsewhere")) == sorted(
        ["checkpoint", "keep-0.index", "keep-0.meta", os.path.basename(_data_files(elsewhere)[0])]
    )


# ---------------------------------------------------------------------------
# FIFOs and devices in place of model and checkpoint files are refused at once
# ---------------------------------------------------------------------------
def _at_once(call, fifo: str):
    """call()'s result or exception; it must not block on the FIFO (run in a thread, unblocked
    and failed if it still waits after two minutes)."""
    result: list = []

    def run():
        try:
            result.append(call())
        except BaseException as e:  # noqa: BLE001 - handed to the test
            result.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(120)
    if t.is_alive():  # unblock the reader so that the thread ends
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        t.join(10)
        pytest.fail(f"blocked on the FIFO {fifo}")
    return result[0]


def test_fifo_in_place_of_checkpoint_files_is_refused(tmp_path):
    v, saver, sess = _saver_and_session()
    prefix = saver.save(sess, str(tmp_path / "model"))
    (data,) = _data_files(prefix)
    restore = lambda: saver.restore(sess, prefix)  # noqa: E731
    restore_dir = lambda: saver.restore(sess, str(tmp_path))  # noqa: E731
    listing = lambda: sf.train.list_variables(prefix)  # noqa: E731
    latest = lambda: sf.train.latest_checkpoint(str(tmp_path))  # noqa: E731
    for victim, calls in (
        (prefix + ".index", [restore, listing, restore_dir]),
        (data, [restore, listing, restore_dir]),
        (str(tmp_path / "checkpoint"), [latest, restore_dir]),
    ):
        os.rename(victim, victim + ".real")
        os.mkfifo(victim)
        for call in calls:
            e = _at_once(call, victim)
            assert isinstance(e, sf.errors.FailedPreconditionError), e
            assert victim in str(e) and "FIFO" in str(e), e
        os.remove(victim)
        os.rename(victim + ".real", victim)
    saver.restore(sess, str(tmp_path))  # intact again


def test_fifo_in_place_of_meta_graph_saved_model_and_graph_def_is_refused(tmp_path):
    v, saver, sess = _saver_and_session()
    meta = str(tmp_path / "m.meta")
    os.mkfifo(meta)
    pb = str(tmp_path / "g.pb")
    os.mkfifo(pb)
    export = tmp_path / "export"
    export.mkdir()
    sm = str(export / "saved_model.pb")
    os.mkfifo(sm)
    for fifo, call in (
        (meta, lambda: sf.train.import_meta_graph(meta)),
        (pb, lambda: sf.io.read_graph(pb)),
        (sm, lambda: sf.saved_model.loader.load(sess, ["serve"], str(export))),
    ):
        e = _at_once(call, fifo)
        assert isinstance(e, sf.errors.FailedPreconditionError), e
        assert fifo in str(e) and "FIFO" in str(e), e


@pytest.mark.parametrize("cmd", ["inspect", "run", "draw"])
def test_cli_refuses_a_fifo_model_at_once(tmp_path, capsys, cmd):
    fifo = str(tmp_path / "model.pb")
    os.mkfifo(fifo)
    assert _at_once(lambda: cli_main([cmd, fifo]), fifo) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fifo in err[0] and "FIFO" in err[0], err


def test_cli_refuses_a_fifo_or_device_as_input(tmp_path, capsys):
    with sf.Graph().as_default() as g:
        x = sf.placeholder(sf.float32, [None, 2], name="x")
        sf.identity(x * 2.0, name="y")
        model = sf.io.write_graph(g.as_graph_def(), str(tmp_path), "g.pb", as_text=False)
    fifo = str(tmp_path / "x.npy")
    os.mkfifo(fifo)
    for source, what in ((fifo, "FIFO"), (os.devnull, "character device")):
        argv = ["run", model, "-i", f"x={source}", "-o", str(tmp_path / "out")]
        assert _at_once(lambda argv=argv: cli_main(argv), fifo) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and source in err[0] and what in err[0], err


def test_file_systems_without_flock_still_save_and_delete_nothing_in_use(tmp_path, monkeypatch):
    import errno

    def no_flock(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(checkpoint_io.fcntl, "flock", no_flock)
    v, saver, sess = _saver_and_session()
    prefix = str(tmp_path / "model")
    leftover = tmp_path / "model.index.tmp-4242-0123abcd"  # cannot be told from a live save's now
    leftover.write_bytes(b"partial")
    for _ in range(3):
        sess.run(v.assign(v + 1.0))
        saver.save(sess, prefix)
    assert leftover.exists()
    assert sf.train.load_variable(prefix, "v").tolist() == [3.0, 4.0, 5.0, 6.0]
    # the data file an index named before is complete and superseded: it goes without a lock
    assert len(_data_files(prefix)) == 1
