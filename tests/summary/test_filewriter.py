"""sf.summary.FileWriter: TFRecord framing with CRC32C, Event messages TensorBoard reads."""

from __future__ import annotations

import os
import struct

import numpy as np
import pytest

import staticflow as sf
from staticflow.util import records


def small_graph() -> sf.Graph:
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [None, 3], name="x")
        w = sf.Variable(np.ones((3, 2), np.float32), name="w")
        sf.matmul(x, w, name="y")
    return g


def event_files(logdir) -> list[str]:
    return sorted(os.path.join(logdir, f) for f in os.listdir(logdir) if f.startswith("events.out.tfevents."))


def test_crc32c_known_values():
    # RFC 3720 B.4 and the classic check value
    assert records.crc32c(b"123456789") == 0xE3069283
    assert records.crc32c(bytes(32)) == 0x8A9136AA
    assert records.crc32c(bytes([0xFF] * 32)) == 0x62A8AB43
    assert records.crc32c(bytes(range(32))) == 0x46DD794E
    # continuing a CRC over a split buffer gives the CRC of the whole
    assert records.crc32c(b"56789", records.crc32c(b"1234")) == 0xE3069283


def test_record_framing_by_hand():
    data = b"hello"
    rec = records.encode_record(data)
    (n,) = struct.unpack("<Q", rec[:8])
    assert n == 5 and rec[12:17] == data and len(rec) == 8 + 4 + 5 + 4
    assert struct.unpack("<I", rec[8:12])[0] == records.masked_crc32c(rec[:8])
    c = records.crc32c(data)
    masked = ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF
    assert struct.unpack("<I", rec[17:21])[0] == masked


def test_writes_version_then_graph(tmp_path):
    g = small_graph()
    with sf.summary.FileWriter(str(tmp_path), graph=g) as w:
        w.add_scalar("loss", 0.5, step=3)
        path = w.path
    assert event_files(tmp_path) == [path]
    name = os.path.basename(path)
    assert name.startswith("events.out.tfevents.") and name.split(".")[3].isdigit()
    events = list(sf.summary.summary_iterator(path))
    assert events[0].file_version == "brain.Event:2" and events[0].wall_time > 0
    gd = sf.GraphDef.FromString(events[1].graph_def)
    assert [n.name for n in gd.node] == [op.name for op in g.get_operations()]
    assert events[2].step == 3 and events[2].summary.value[0].tag == "loss"
    assert events[2].summary.value[0].simple_value == pytest.approx(0.5)


def test_every_record_checks_out(tmp_path):
    w = sf.summary.FileWriter(str(tmp_path), max_queue=2)
    w.add_graph(small_graph())
    for step in range(5):
        w.add_scalar("a/b", step * 0.25, step)
    summ = sf.summary.Summary(value=[sf.summary.Summary.Value(tag="raw", simple_value=2.0)])
    w.add_summary(summ.SerializeToString(), global_step=7)
    w.close()
    raw = open(w.path, "rb").read()
    pos, datas = 0, []
    while pos < len(raw):
        header = raw[pos : pos + 8]
        (n,) = struct.unpack("<Q", header)
        assert struct.unpack("<I", raw[pos + 8 : pos + 12])[0] == records.masked_crc32c(header)
        data = raw[pos + 12 : pos + 12 + n]
        assert struct.unpack("<I", raw[pos + 12 + n : pos + 16 + n])[0] == records.masked_crc32c(data)
        datas.append(data)
        pos += 16 + n
    assert pos == len(raw) and len(datas) == 1 + 1 + 5 + 1
    assert datas == list(records.read_records(w.path))


def test_flush_and_queue(tmp_path):
    w = sf.summary.FileWriter(str(tmp_path), max_queue=100, flush_secs=1e9)
    w.add_scalar("x", 1.0, 1)
    assert len(list(records.read_records(w.path))) == 1  # only the version record so far
    w.flush()
    assert len(list(records.read_records(w.path))) == 2
    w.close()
    with pytest.raises(RuntimeError, match="closed"):
        w.add_scalar("x", 1.0, 2)
    w.reopen()
    assert len(event_files(tmp_path)) == 2
    w.close()


def test_corruption_is_reported(tmp_path):
    with sf.summary.FileWriter(str(tmp_path), graph=small_graph()) as w:
        path = w.path
    raw = bytearray(open(path, "rb").read())
    raw[-6] ^= 0xFF  # inside the graph record's data
    bad = tmp_path / "bad"
    bad.write_bytes(bytes(raw))
    with pytest.raises(records.CorruptRecordError, match="checksum"):
        list(records.read_records(str(bad)))
    bad.write_bytes(bytes(raw[:-3]))
    with pytest.raises(records.CorruptRecordError, match="file ends"):
        list(records.read_records(str(bad)))


def test_file_writer_cache(tmp_path):
    a = sf.summary.FileWriterCache.get(str(tmp_path))
    assert sf.summary.FileWriterCache.get(str(tmp_path)) is a
    sf.summary.FileWriterCache.clear()
    b = sf.summary.FileWriterCache.get(str(tmp_path))
    assert b is not a
    sf.summary.FileWriterCache.clear()


def test_tensorboard_reads_it(tmp_path):
    loader_mod = pytest.importorskip("tensorboard.backend.event_processing.event_file_loader")
    g = small_graph()
    with sf.summary.FileWriter(str(tmp_path), graph=g) as w:
        w.add_scalar("loss", 1.5, step=2)
        path = w.path
    events = list(loader_mod.EventFileLoader(path).Load())
    assert events[0].file_version == "brain.Event:2"
    graph_events = [e for e in events if e.HasField("graph_def")]
    assert len(graph_events) == 1
    from tensorboard.compat.proto import graph_pb2

    gd = graph_pb2.GraphDef.FromString(graph_events[0].graph_def)
    assert {n.name for n in gd.node} == {op.name for op in g.get_operations()}
    assert {n.op for n in gd.node} >= {"Placeholder", "VariableV2", "MatMul"}
    # (the loader also turns the graph into a "__run_graph__" summary for its plugin)
    scalars = [e for e in events if e.HasField("summary") and e.summary.value[0].tag == "loss"]
    assert len(scalars) == 1 and scalars[0].step == 2


def test_field_numbers_are_tensorflows(tmp_path):
    """Decoded by hand: Event.wall_time=1 (double), file_version=3, graph_def=4, summary=5;
    Summary.value=1; Value.tag=1, simple_value=2 (float), as in TensorFlow's schema."""
    with sf.summary.FileWriter(str(tmp_path), graph=small_graph()) as w:
        w.add_scalar("t", 1.0, step=9)
        path = w.path
    first, graph, scalar = list(records.read_records(path))
    assert first[0] == (1 << 3 | 1) and b"\x1a\x0dbrain.Event:2" in first
    assert graph[0] == (1 << 3 | 1) and graph[9] == (4 << 3 | 2)
    # wall_time, step=9 (field 2 varint), summary (field 5) {value (1) {tag (1) "t", simple_value (2) 1.0}}
    value = b"\x0a\x01t" + b"\x15" + struct.pack("<f", 1.0)
    assert (
        scalar[9:] == b"\x10\x09" + b"\x2a" + bytes([len(value) + 2]) + b"\x0a" + bytes([len(value)]) + value
    )
