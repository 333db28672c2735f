"""Readers, TFRecord files and decode_csv against TensorFlow (fixtures it wrote and values it gave)."""

from __future__ import annotations

import gzip
import json
import pathlib

import numpy as np
import pytest

import staticflow as sf

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "pipelines"
# the records tests/fixtures/pipelines/make_fixtures.py wrote with TensorFlow
RECORDS = [b"first", b"", b"\x00\x01\x02binary", b"x" * 300, "caf\u00e9".encode()]


@pytest.fixture(autouse=True)
def _fresh_graph():
    with sf.Graph().as_default() as g:
        yield g


def _drain(fetch, sess):
    out = []
    try:
        while True:
            out.append(sess.run(fetch))
    except sf.errors.OutOfRangeError:
        return out


@pytest.mark.parametrize(
    "name,compression", [("records", ""), ("records_gzip", "GZIP"), ("records_zlib", "ZLIB")]
)
def test_tensorflow_written_tfrecords_read_every_way(name, compression):
    path = str(FIXTURES / f"{name}.tfrecord")
    options = sf.python_io.TFRecordOptions(compression or None)
    assert list(sf.python_io.tf_record_iterator(path, options)) == RECORDS
    assert [v for v in _drain_dataset(sf.data.TFRecordDataset(path, compression_type=compression))] == RECORDS
    q = sf.FIFOQueue(2, [sf.string], shapes=[[]])
    key, value = sf.TFRecordReader(options=options).read(q)
    with sf.Session() as sess:
        sess.run(q.enqueue([path]))
        sess.run(q.close())
        got = _drain([key, value], sess)
    assert [v for _, v in got] == RECORDS
    offsets, pos = [], 0
    for r in RECORDS:
        offsets.append(pos)
        pos += 16 + len(r)
    assert [k for k, _ in got] == [f"{path}:{o}".encode() for o in offsets]


def _drain_dataset(ds):
    nxt = ds.make_one_shot_iterator().get_next()
    with sf.Session() as sess:
        return _drain(nxt, sess)


def test_staticflow_written_tfrecords_are_byte_identical_to_tensorflows(tmp_path):
    out = tmp_path / "mine.tfrecord"
    with sf.python_io.TFRecordWriter(str(out)) as w:
        for r in RECORDS:
            w.write(r)
    assert out.read_bytes() == (FIXTURES / "records.tfrecord").read_bytes()
    gz = tmp_path / "mine.gz"
    with sf.python_io.TFRecordWriter(str(gz), sf.python_io.TFRecordOptions("GZIP")) as w:
        for r in RECORDS:
            w.write(r)
    assert gzip.decompress(gz.read_bytes()) == out.read_bytes()


def test_corrupt_tfrecord_is_a_data_loss_error_naming_file_and_offset(tmp_path):
    data = bytearray((FIXTURES / "records.tfrecord").read_bytes())
    data[12 + 5 + 4 + 12 - 1] ^= 0xFF  # the second record's length checksum
    bad = tmp_path / "bad.tfrecord"
    bad.write_bytes(bytes(data))
    with pytest.raises(sf.errors.DataLossError, match=r"bad.tfrecord: corrupted record at 21"):
        list(sf.python_io.tf_record_iterator(str(bad)))
    (tmp_path / "short.tfrecord").write_bytes(bytes(data[:30]))
    with pytest.raises(sf.errors.DataLossError, match="truncated record at 21"):
        list(sf.python_io.tf_record_iterator(str(tmp_path / "short.tfrecord")))
    q = sf.FIFOQueue(2, [sf.string], shapes=[[]])
    key, _ = sf.TFRecordReader().read(q)
    with sf.Session() as sess:
        sess.run(q.enqueue([str(bad)]))
        assert sess.run(key).endswith(b":0")
        with pytest.raises(sf.errors.DataLossError, match="ReaderReadV2"):
            sess.run(key)


def test_text_line_reader_keys_header_and_line_endings(tmp_path):
    (tmp_path / "a.csv").write_bytes(b"h1,h2\n1,2\r\n3,4\n\n5,6")
    (tmp_path / "b.csv").write_bytes(b"x,y\n7,8\n")
    files = [str(tmp_path / "a.csv"), str(tmp_path / "b.csv")]
    producer = sf.train.string_input_producer(files, num_epochs=1, shuffle=False)
    reader = sf.TextLineReader(skip_header_lines=1)
    key, value = reader.read(producer)
    with sf.Session() as sess:
        sess.run(sf.local_variables_initializer())
        coord = sf.train.Coordinator()
        threads = sf.train.start_queue_runners(sess, coord)
        got = _drain([key, value], sess)
        counts = sess.run([reader.num_records_produced(), reader.num_work_units_completed()])
        coord.request_stop()
        coord.join(threads)
    a, b = (f.encode() for f in files)
    assert got == [
        [a + b":2", b"1,2"],
        [a + b":3", b"3,4"],
        [a + b":4", b""],
        [a + b":5", b"5,6"],
        [b + b":2", b"7,8"],
    ]
    assert counts == [5, 2]


def test_read_up_to_and_whole_file_reader_and_missing_files(tmp_path):
    for i in range(3):
        (tmp_path / f"{i}.txt").write_bytes(f"l{i}a\nl{i}b\n".encode())
    q = sf.FIFOQueue(5, [sf.string], shapes=[[]])
    keys, values = sf.TextLineReader().read_up_to(q, 3)
    whole = sf.WholeFileReader().read(q)
    with sf.Session() as sess:
        sess.run(q.enqueue_many([[str(tmp_path / f"{i}.txt") for i in range(3)]]))
        sess.run(q.close())
        batches = [v.tolist() for v in _drain(values, sess)]
    assert batches == [[b"l0a", b"l0b", b"l1a"], [b"l1b", b"l2a", b"l2b"]]
    q2 = sf.FIFOQueue(5, [sf.string], shapes=[[]])
    k, v = sf.WholeFileReader().read(q2)
    with sf.Session() as sess:
        sess.run(q2.enqueue_many([[str(tmp_path / "1.txt"), str(tmp_path / "nope.txt")]]))
        assert sess.run([k, v]) == [str(tmp_path / "1.txt").encode(), b"l1a\nl1b\n"]
        with pytest.raises(sf.errors.NotFoundError, match="nope.txt; No such file or directory"):
            sess.run(v)
    assert whole is not None


def _defaults(spec):
    return [
        np.array(v, dtype=object if t == "string" else t)
        if v
        else np.array([], dtype=object if t == "string" else t)
        for t, v in spec
    ]


def _csv_cases():
    # the same cases, in order, as tests/fixtures/pipelines/make_fixtures.py gave TensorFlow
    from importlib import util

    spec = util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    mod = util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    expected = json.loads((FIXTURES / "decode_csv.json").read_text())["cases"]
    assert len(expected) == len(mod.CSV_CASES)
    return [pytest.param(c, e, id=f"case{i}") for i, (c, e) in enumerate(zip(mod.CSV_CASES, expected))]


@pytest.mark.parametrize("case,expected", _csv_cases())
def test_decode_csv_matches_tensorflow(case, expected):
    records, defaults, attrs = case
    out = sf.decode_csv(records, [sf.constant(d) for d in _defaults(defaults)], **attrs)
    with sf.Session() as sess:
        if "error" in expected:
            with pytest.raises(getattr(sf.errors, expected["error"])) as e:
                sess.run(out)
            assert expected["message"] in str(e.value)
            return
        got = sess.run(out)
    for g, want in zip(got, expected["outputs"]):
        assert g.dtype == (np.dtype(object) if want["dtype"] == "string" else np.dtype(want["dtype"]))
        if want["dtype"] == "string":
            assert np.vectorize(lambda b: b.decode("latin-1"), otypes=[object])(g).tolist() == want["values"]
        else:
            np.testing.assert_array_equal(g, np.asarray(want["values"], dtype=g.dtype))


def test_decode_csv_construction_errors_and_python_defaults():
    with pytest.raises(ValueError, match="length-0 or length-1 vector"):
        sf.decode_csv(["1,2"], [[0], [0, 2]])
    with pytest.raises(TypeError, match="DataType bool not in list"):
        sf.decode_csv(["1,2"], [[True], [0]])
    with pytest.raises(ValueError, match="not strictly increasing"):
        sf.decode_csv(["1,2,3"], [[0], [0]], select_cols=[2, 0])
    with pytest.raises(ValueError, match="do not match"):
        sf.decode_csv(["1,2,3"], [[0]], select_cols=[0, 2])
    a, b, c = sf.decode_csv(["1,x,", "2,,3.5"], [[0], ["d"], []])
    assert (a.dtype, b.dtype, c.dtype) == (sf.int32, sf.string, sf.float32)
    assert a.op.type == "DecodeCSV" and a.shape.as_list() == [2]
    with sf.Session() as sess:
        with pytest.raises(
            sf.errors.InvalidArgumentError, match="Field 2 is required but missing in record 0!"
        ):
            sess.run(c)


def test_read_write_and_matching_files(tmp_path):
    target = tmp_path / "sub" / "f.txt"
    with sf.Session() as sess:
        sess.run(sf.write_file(str(target), "hello"))
        assert sess.run(sf.read_file(str(target))) == b"hello"
        assert sess.run(sf.io.matching_files(str(tmp_path / "sub" / "*"))).tolist() == [str(target).encode()]
        with pytest.raises(sf.errors.NotFoundError, match="No such file"):
            sess.run(sf.read_file(str(tmp_path / "missing")))
