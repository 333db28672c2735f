"""sf.gfile (and sf.io.gfile), sf.logging, sf.compat and the top-level protobuf classes,
against the behaviour of TensorFlow 2.21's tf.compat.v1 (recorded here as expectations)."""

from __future__ import annotations

import logging
import pathlib

import numpy as np
import pytest

import staticflow as sf

gf = sf.gfile


# ---------------------------------------------------------------------------
# gfile
# ---------------------------------------------------------------------------


def test_gfile_reads_writes_seeks_like_tensorflow(tmp_path):
    p = str(tmp_path / "a.txt")
    with gf.GFile(p, "w") as f:
        f.write("hello\nworld\nlast")
        f.write(b"")  # bytes are accepted in text mode, as in TF
    f = gf.GFile(p)
    assert f.read(3) == "hel" and f.tell() == 3
    assert f.readline() == "lo\n"
    assert f.readlines() == ["world\n", "last"]
    assert f.tell() == 16 and f.size() == 16 and f.read() == "" and f.readline() == ""
    f.seek(0)
    assert f.read() == "hello\nworld\nlast"
    f.seek(2)
    assert f.read(2) == "ll"
    f.seek(position=0)  # TF's deprecated name
    assert list(f) == ["hello\n", "world\n", "last"]
    assert f.mode == "r" and f.name == p and f.seekable()
    f.close()
    with gf.GFile(p, "rb") as f:
        assert f.read(3) == b"hel" and f.readline() == b"lo\n" and list(f) == [b"world\n", b"last"]
    with gf.GFile(p, "a") as f:
        f.write("+app")
    assert gf.GFile(p).read() == "hello\nworld\nlast+app"
    with gf.GFile(p, "wb") as f:
        f.write("é€")  # str in binary mode: UTF-8
    assert gf.GFile(p).read() == "é€" and gf.GFile(p, "rb").read() == b"\xc3\xa9\xe2\x82\xac"
    assert gf.GFile(p).size() == 5 and gf.GFile(p).read(2) == "é"  # read(n) counts bytes
    with gf.GFile(p, "w+") as f:
        f.write("zz")
        f.seek(0)
        assert f.read() == "zz"
    assert gf.FastGFile(p, "rb").read() == b"zz" and gf.Open(p).read() == "zz"
    assert issubclass(gf.FastGFile, gf.GFile)


def test_gfile_errors_are_tensorflows(tmp_path):
    d = str(tmp_path)
    missing = gf.GFile(d + "/nope")  # lazy: no error until used
    with pytest.raises(sf.errors.NotFoundError, match="nope; No such file or directory"):
        missing.read()
    with pytest.raises(sf.errors.NotFoundError):
        missing.size()
    with pytest.raises(sf.errors.PermissionDeniedError, match="isn't open for reading"):
        gf.GFile(d + "/w.txt", "w").read()
    with open(d + "/r.txt", "w") as f:
        f.write("x")
    with pytest.raises(sf.errors.PermissionDeniedError, match="isn't open for writing"):
        gf.GFile(d + "/r.txt").write("x")
    with pytest.raises(sf.errors.InvalidArgumentError, match="mode is not"):
        gf.GFile(d + "/r.txt", "x")
    with pytest.raises(sf.errors.NotFoundError):
        gf.GFile(d + "/no/dir/f.txt", "w").write("x")
    gf.GFile(d + "/no/dir/g.txt", "w").close()  # nothing written: no error, no file
    with pytest.raises(sf.errors.FailedPreconditionError, match="Is a directory"):
        gf.GFile(d).read()
    assert sf.errors.PermissionDeniedError(None, None, "m").error_code == 7


def test_gfile_file_system_functions(tmp_path):
    d = str(tmp_path)
    with open(d + "/a.txt", "w") as f:
        f.write("abc")
    assert gf.Exists(d + "/a.txt") and gf.Exists(d) and not gf.Exists(d + "/nope") and not gf.Exists("")
    assert gf.IsDirectory(d) and not gf.IsDirectory(d + "/a.txt") and not gf.IsDirectory(d + "/nope")
    gf.MakeDirs(d + "/x/y/z")
    gf.MakeDirs(d + "/x/y/z")  # exists: fine
    with pytest.raises(sf.errors.FailedPreconditionError, match="a.txt is not a directory"):
        gf.MakeDirs(d + "/a.txt/q")
    gf.MkDir(d + "/m")
    gf.MkDir(d + "/m")  # exists: fine, as in TensorFlow
    with pytest.raises(sf.errors.NotFoundError):
        gf.MkDir(d + "/p/q")
    assert gf.ListDirectory(d) == ["a.txt", "m", "x"]
    assert gf.ListDirectory(d + "/x") == ["y"]
    with pytest.raises(sf.errors.NotFoundError, match="Could not find directory"):
        gf.ListDirectory(d + "/a.txt")
    assert gf.Glob(d + "/*.txt") == [d + "/a.txt"]
    assert gf.Glob([d + "/a*", d + "/m*"]) == [d + "/a.txt", d + "/m"]
    assert gf.Glob(d + "/nope/*") == []
    with pytest.raises(sf.errors.FailedPreconditionError, match="Is a directory"):
        gf.Remove(d + "/m")
    with pytest.raises(sf.errors.NotFoundError):
        gf.Remove(d + "/nope")
    gf.Copy(d + "/a.txt", d + "/b.txt")
    with pytest.raises(sf.errors.AlreadyExistsError, match="file already exists"):
        gf.Copy(d + "/a.txt", d + "/b.txt")
    gf.Copy(d + "/a.txt", d + "/b.txt", overwrite=True)
    with pytest.raises(sf.errors.NotFoundError):
        gf.Copy(d + "/nope", d + "/c.txt")
    with pytest.raises(sf.errors.AlreadyExistsError):
        gf.Rename(d + "/a.txt", d + "/b.txt")
    gf.Rename(d + "/a.txt", d + "/b.txt", overwrite=True)
    assert not gf.Exists(d + "/a.txt") and gf.GFile(d + "/b.txt").read() == "abc"
    with pytest.raises(sf.errors.NotFoundError):
        gf.Rename(d + "/nope", d + "/q")
    gf.Rename(d + "/m", d + "/m2")
    with pytest.raises(sf.errors.FailedPreconditionError):
        gf.Rename(d + "/b.txt", d + "/x", overwrite=True)  # a file over a directory
    st = gf.Stat(d + "/b.txt")
    assert st.length == 3 and not st.is_directory and st.mtime_nsec > 10**18
    assert gf.Stat(d + "/x").is_directory
    with pytest.raises(sf.errors.NotFoundError):
        gf.Stat(d + "/nope")
    open(d + "/x/y/f1", "w").close()
    open(d + "/x/f0", "w").close()
    top = d + "/x"
    assert list(gf.Walk(top)) == [
        (top, ["y"], ["f0"]),
        (top + "/y", ["z"], ["f1"]),
        (top + "/y/z", [], []),
    ]
    assert [w[0] for w in gf.Walk(top, in_order=False)] == [top + "/y/z", top + "/y", top]
    assert list(gf.Walk(d + "/nope")) == [] and list(gf.Walk(d + "/b.txt")) == []
    with pytest.raises(sf.errors.NotFoundError, match="not found"):
        gf.DeleteRecursively(d + "/nope")
    gf.DeleteRecursively(d + "/x")
    gf.DeleteRecursively(d + "/b.txt")
    assert gf.ListDirectory(d) == ["m2"]


def test_io_gfile_aliases(tmp_path):
    from staticflow.io import gfile as iog

    assert sf.io.gfile is iog
    p = str(tmp_path / "f")
    with iog.GFile(p, "w") as f:
        f.write("1")
    assert iog.exists(p) and iog.isdir(str(tmp_path)) and iog.listdir(str(tmp_path)) == ["f"]
    assert iog.glob(str(tmp_path / "*")) == [p] and iog.stat(p).length == 1
    iog.makedirs(str(tmp_path / "a/b"))
    iog.mkdir(str(tmp_path / "c"))
    iog.copy(p, p + "2")
    iog.rename(p + "2", p + "3")
    iog.remove(p + "3")
    iog.rmtree(str(tmp_path / "a"))
    assert [w[0] for w in iog.walk(str(tmp_path))] == [str(tmp_path), str(tmp_path / "c")]
    assert iog.join("a", "b") == "a/b"


# ---------------------------------------------------------------------------
# logging
# ---------------------------------------------------------------------------


@pytest.fixture
def staticflow_log(caplog):
    old = sf.logging.get_verbosity()
    caplog.set_level(logging.DEBUG, logger="staticflow")
    yield caplog
    sf.logging.set_verbosity(old)


def test_logging_levels_and_verbosity(staticflow_log):
    assert (sf.logging.DEBUG, sf.logging.INFO, sf.logging.WARN, sf.logging.ERROR, sf.logging.FATAL) == (
        10,
        20,
        30,
        40,
        50,
    )
    sf.logging.set_verbosity(sf.logging.INFO)
    assert sf.logging.get_verbosity() == sf.logging.INFO
    sf.logging.debug("hidden %d", 0)
    sf.logging.info("shown %d", 2)
    sf.logging.warn("w")
    sf.logging.warning("w2")
    sf.logging.error("e")
    sf.logging.fatal("f")  # logs, does not exit
    sf.logging.log_if(sf.logging.INFO, "maybe", False)
    got = [(r.levelname, r.getMessage(), r.name) for r in staticflow_log.records]
    assert got == [
        ("INFO", "shown 2", "staticflow"),
        ("WARNING", "w", "staticflow"),
        ("WARNING", "w2", "staticflow"),
        ("ERROR", "e", "staticflow"),
        ("CRITICAL", "f", "staticflow"),
    ]


def test_log_every_n_and_first_n_count_per_call_site(staticflow_log):
    sf.logging.set_verbosity(sf.logging.INFO)
    for i in range(7):
        sf.logging.log_every_n(sf.logging.INFO, "every3 %d", 3, i)
        sf.logging.log_first_n(sf.logging.INFO, "first2 %d", 2, i)
    msgs = [r.getMessage() for r in staticflow_log.records]
    assert [m for m in msgs if m.startswith("every3")] == ["every3 0", "every3 3", "every3 6"]
    assert [m for m in msgs if m.startswith("first2")] == ["first2 0", "first2 1"]


def test_logging_prints_tensorflows_format(capfd):
    import subprocess
    import sys

    code = "import staticflow as sf; sf.logging.set_verbosity(sf.logging.INFO); sf.logging.info('hi %d', 3)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stderr.strip().splitlines()[-1] == "INFO:staticflow:hi 3"


# ---------------------------------------------------------------------------
# compat
# ---------------------------------------------------------------------------


def test_compat_text_helpers_match_tensorflow():
    c = sf.compat
    assert c.as_bytes("é") == b"\xc3\xa9" and c.as_bytes(b"x") == b"x" and c.as_bytes(bytearray(b"x")) == b"x"
    assert c.as_bytes("é", "latin-1") == b"\xe9"
    assert c.as_text(b"\xc3\xa9") == "é" and c.as_text("x") == "x" and c.as_str(b"x") == "x"
    for f in (c.as_bytes, c.as_text):
        with pytest.raises(TypeError, match="Expected binary or unicode string, got 3"):
            f(3)
    assert c.as_str_any(3) == "3" and c.as_str_any(b"y") == "y" and c.as_str_any(pathlib.Path("/a")) == "/a"
    assert c.path_to_str(pathlib.Path("/a/b")) == "/a/b" and c.path_to_str("s") == "s"
    assert c.path_to_str(b"s") == b"s"
    assert c.bytes_or_text_types == (bytes, str)
    assert isinstance(np.int8(1), c.integral_types) and isinstance(3, c.integral_types)
    assert isinstance(np.float16(1), c.real_types) and not isinstance(1j, c.real_types)
    assert isinstance(1j, c.complex_types) and isinstance(np.uint8(1), c.complex_types)


def test_compat_v1_is_staticflow():
    assert sf.compat.v1 is sf
    import staticflow.compat as compat

    tf = compat.v1
    with tf.Graph().as_default():
        x = tf.compat.v1.placeholder(tf.float32, [2])
        with tf.compat.v1.Session() as sess:
            np.testing.assert_array_equal(sess.run(x * 2, {x: [1, 2]}), [2, 4])
    with pytest.raises(AttributeError):
        _ = compat.v3


# ---------------------------------------------------------------------------
# protobuf message classes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, full_name",
    [
        ("AttrValue", "staticflow.AttrValue"),
        ("NameAttrList", "staticflow.NameAttrList"),
        ("GraphDef", "staticflow.GraphDef"),
        ("NodeDef", "staticflow.NodeDef"),
        ("MetaGraphDef", "staticflow.MetaGraphDef"),
        ("TensorInfo", "staticflow.TensorInfo"),
        ("Summary", "staticflow.Summary"),
        ("SummaryMetadata", "staticflow.SummaryMetadata"),
        ("HistogramProto", "staticflow.HistogramProto"),
        ("Event", "staticflow.Event"),
        ("LogMessage", "staticflow.LogMessage"),
        ("SessionLog", "staticflow.SessionLog"),
        ("TensorProto", "staticflow.TensorProto"),
        ("ConfigProto", "staticflow.ConfigProto"),
    ],
)
def test_protobuf_classes_at_top_level(name, full_name):
    cls = getattr(sf, name)
    assert isinstance(cls, type) and cls.DESCRIPTOR.full_name == full_name
    msg = cls()
    assert isinstance(msg, cls)
    assert isinstance(cls.FromString(msg.SerializeToString()), cls)


def test_node_def_and_attr_value_build_a_graph():
    gd = sf.GraphDef()
    node = sf.NodeDef(name="c", op="Const")
    node.attr["dtype"].CopyFrom(sf.AttrValue(type=sf.int8.as_datatype_enum))
    node.attr["value"].CopyFrom(sf.AttrValue(tensor=sf.make_tensor_proto(np.array([1, -2], np.int8))))
    gd.node.append(node)
    with sf.Graph().as_default() as g:
        sf.import_graph_def(gd, name="")
        with sf.Session(graph=g) as sess:
            np.testing.assert_array_equal(sess.run("c:0"), np.array([1, -2], np.int8))
    with pytest.raises(AttributeError, match="no attribute 'NoSuchProto'"):
        _ = sf.NoSuchProto
