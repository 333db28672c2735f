"""staticflow's schema is wire-compatible with TensorFlow's GraphDef.

The raw bytes are decoded by hand here (a few lines of protobuf wire format),
so the field numbers are checked against TensorFlow's, not against our own
generated code.
"""

from __future__ import annotations

import struct

import pytest
from google.protobuf import text_format

from staticflow.framework import (
    attr_value_pb2,
    graph_pb2,
    node_def_pb2,
    step_stats_pb2,
    tensor_pb2,
    tensor_shape_pb2,
    types_pb2,
)
from staticflow.protobuf import config_pb2

VARINT, I64, LEN, I32 = 0, 1, 2, 5


# -- a minimal wire-format reader and writer ----------------------------------


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos


def fields(buf: bytes) -> list[tuple[int, int, object]]:
    """(field number, wire type, value) of each field in order; LEN values as bytes."""
    out, pos = [], 0
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == VARINT:
            value, pos = read_varint(buf, pos)
        elif wire == I64:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == I32:
            value, pos = buf[pos : pos + 4], pos + 4
        elif wire == LEN:
            n, pos = read_varint(buf, pos)
            value, pos = buf[pos : pos + n], pos + n
        else:
            raise AssertionError(f"unexpected wire type {wire}")
        out.append((num, wire, value))
    return out


def by_number(buf: bytes) -> dict[int, list[tuple[int, object]]]:
    d: dict[int, list[tuple[int, object]]] = {}
    for num, wire, value in fields(buf):
        d.setdefault(num, []).append((wire, value))
    return d


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_varint(num: int, n: int) -> bytes:
    return varint(num << 3 | VARINT) + varint(n)


def field_len(num: int, payload: bytes | str) -> bytes:
    if isinstance(payload, str):
        payload = payload.encode()
    return varint(num << 3 | LEN) + varint(len(payload)) + payload


# -- a graph like the one TensorFlow 1.x writes for relu(x @ w + b) ------------


def attr_type(dt: int) -> attr_value_pb2.AttrValue:
    return attr_value_pb2.AttrValue(type=dt)


def make_graph() -> graph_pb2.GraphDef:
    g = graph_pb2.GraphDef()
    g.versions.producer = 27
    x = g.node.add(name="x", op="Placeholder")
    x.attr["dtype"].type = types_pb2.DT_FLOAT
    x.attr["shape"].shape.dim.add(size=-1)
    x.attr["shape"].shape.dim.add(size=3)
    w = g.node.add(name="w", op="Const", device="/device:CPU:0")
    w.attr["dtype"].CopyFrom(attr_type(types_pb2.DT_FLOAT))
    t = w.attr["value"].tensor
    t.dtype = types_pb2.DT_FLOAT
    t.tensor_shape.dim.add(size=3)
    t.tensor_shape.dim.add(size=2)
    t.tensor_content = struct.pack("<6f", *range(6))
    b = g.node.add(name="b", op="Const")
    b.attr["dtype"].type = types_pb2.DT_FLOAT
    b.attr["value"].tensor.dtype = types_pb2.DT_FLOAT
    b.attr["value"].tensor.tensor_shape.dim.add(size=2)
    b.attr["value"].tensor.float_val.extend([1.0, 2.0])
    mm = g.node.add(name="MatMul", op="MatMul", input=["x", "w"])
    mm.attr["T"].type = types_pb2.DT_FLOAT
    mm.attr["transpose_a"].b = False
    mm.attr["transpose_b"].b = False
    add = g.node.add(name="add", op="AddV2", input=["MatMul", "b:0", "^w"])
    add.attr["T"].type = types_pb2.DT_FLOAT
    relu = g.node.add(name="Relu", op="Relu", input=["add"])
    relu.attr["T"].type = types_pb2.DT_FLOAT
    pool = g.node.add(name="pool", op="MaxPool", input=["x"])
    pool.attr["ksize"].list.i.extend([1, 2, 2, 1])
    pool.attr["padding"].s = b"SAME"
    pool.attr["data_format"].s = b"NHWC"
    return g


def test_graphdef_round_trip():
    g = make_graph()
    data = g.SerializeToString()
    back = graph_pb2.GraphDef.FromString(data)
    assert back == g
    assert [n.name for n in back.node] == ["x", "w", "b", "MatMul", "add", "Relu", "pool"]
    assert back.node[4].input == ["MatMul", "b:0", "^w"]
    assert back.node[1].attr["value"].tensor.tensor_content == struct.pack("<6f", *range(6))
    assert list(back.node[6].attr["ksize"].list.i) == [1, 2, 2, 1]


def test_graphdef_field_numbers():
    top = by_number(make_graph().SerializeToString())
    assert set(top) == {1, 4}  # node, versions
    assert len(top[1]) == 7
    assert by_number(top[4][0][1]) == {1: [(VARINT, 27)]}  # VersionDef.producer


def test_node_def_field_numbers():
    node = node_def_pb2.NodeDef(name="add", op="AddV2", input=["a", "b:1", "^c"], device="/device:CPU:0")
    node.attr["T"].type = types_pb2.DT_FLOAT
    f = by_number(node.SerializeToString())
    assert f[1] == [(LEN, b"add")]
    assert f[2] == [(LEN, b"AddV2")]
    assert f[3] == [(LEN, b"a"), (LEN, b"b:1"), (LEN, b"^c")]
    assert f[4] == [(LEN, b"/device:CPU:0")]
    # field 5 is the attr map: entries of {1: key, 2: AttrValue}
    ((wire, entry),) = f[5]
    assert wire == LEN
    entry = by_number(entry)
    assert entry[1] == [(LEN, b"T")]
    assert by_number(entry[2][0][1]) == {6: [(VARINT, types_pb2.DT_FLOAT)]}  # AttrValue.type


def test_attr_value_field_numbers():
    def only(av):
        ((num, wire, value),) = fields(av.SerializeToString())
        return num, wire, value

    assert only(attr_value_pb2.AttrValue(s=b"SAME")) == (2, LEN, b"SAME")
    assert only(attr_value_pb2.AttrValue(i=-1)) == (3, VARINT, (1 << 64) - 1)
    assert only(attr_value_pb2.AttrValue(f=0.5)) == (4, I32, struct.pack("<f", 0.5))
    assert only(attr_value_pb2.AttrValue(b=True)) == (5, VARINT, 1)
    assert only(attr_value_pb2.AttrValue(type=types_pb2.DT_INT64)) == (6, VARINT, 9)
    assert only(attr_value_pb2.AttrValue(placeholder="T")) == (9, LEN, b"T")
    shape = attr_value_pb2.AttrValue()
    shape.shape.dim.add(size=-1)
    shape.shape.dim.add(size=3, name="c")
    num, wire, value = only(shape)
    assert (num, wire) == (7, LEN)
    dims = by_number(value)[2]  # TensorShapeProto.dim
    assert [by_number(d) for _, d in dims] == [
        {1: [(VARINT, (1 << 64) - 1)]},
        {1: [(VARINT, 3)], 2: [(LEN, b"c")]},
    ]
    assert by_number(tensor_shape_pb2.TensorShapeProto(unknown_rank=True).SerializeToString()) == {
        3: [(VARINT, 1)]
    }
    func = attr_value_pb2.AttrValue()
    func.func.name = "f"
    func.func.attr["T"].type = types_pb2.DT_FLOAT
    num, wire, value = only(func)
    assert (num, wire) == (10, LEN)
    assert set(by_number(value)) == {1, 2}  # NameAttrList name, attr


def test_list_value_fields_are_packed():
    av = attr_value_pb2.AttrValue()
    lv = av.list
    lv.s.extend([b"a", b"b"])
    lv.i.extend([1, 2, 3])
    lv.f.extend([1.0, 2.0])
    lv.b.extend([True, False])
    lv.type.extend([types_pb2.DT_FLOAT, types_pb2.DT_INT32])
    lv.shape.add().dim.add(size=2)
    lv.tensor.add(dtype=types_pb2.DT_FLOAT)
    lv.func.add(name="g")
    ((num, wire, value),) = fields(av.SerializeToString())
    assert (num, wire) == (1, LEN)
    f = by_number(value)
    assert f[2] == [(LEN, b"a"), (LEN, b"b")]
    assert f[3] == [(LEN, bytes([1, 2, 3]))]  # packed varints
    assert f[4] == [(LEN, struct.pack("<2f", 1.0, 2.0))]
    assert f[5] == [(LEN, bytes([1, 0]))]
    assert f[6] == [(LEN, bytes([1, 3]))]
    assert [n for n in f] == [2, 3, 4, 5, 6, 7, 8, 9]


def test_tensor_proto_field_numbers():
    t = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, version_number=0)
    t.tensor_shape.dim.add(size=2)
    t.float_val.extend([1.0, 2.0])
    f = by_number(t.SerializeToString())
    assert f[1] == [(VARINT, 1)]
    assert f[5] == [(LEN, struct.pack("<2f", 1.0, 2.0))]  # packed floats
    cases = {
        "tensor_content": (4, b"\x00\x01"),
        "half_val": (13, [0x3C00]),
        "double_val": (6, [1.5]),
        "int_val": (7, [7]),
        "string_val": (8, [b"s"]),
        "scomplex_val": (9, [1.0, -1.0]),
        "int64_val": (10, [-5]),
        "bool_val": (11, [True]),
        "dcomplex_val": (12, [1.0, 2.0]),
        "uint32_val": (16, [2**32 - 1]),
        "uint64_val": (17, [2**64 - 1]),
    }
    for name, (num, value) in cases.items():
        t = tensor_pb2.TensorProto()
        if isinstance(value, bytes):
            setattr(t, name, value)
        else:
            getattr(t, name).extend(value)
        ((got, wire, _),) = fields(t.SerializeToString())
        assert (got, wire) == (num, LEN), name


def test_parses_bytes_as_tensorflow_writes_them():
    """A Placeholder NodeDef encoded field by field with TensorFlow's numbers."""
    shape = field_len(2, field_varint(1, -1)) + field_len(2, field_varint(1, 3))
    attrs = field_len(5, field_len(1, "dtype") + field_len(2, field_varint(6, 1))) + field_len(
        5, field_len(1, "shape") + field_len(2, field_len(7, shape))
    )
    node = field_len(1, "x") + field_len(2, "Placeholder") + field_len(4, "/device:CPU:0") + attrs
    graph = field_len(1, node) + field_len(4, field_varint(1, 27) + field_varint(2, 0))
    g = graph_pb2.GraphDef.FromString(graph)
    (n,) = g.node
    assert (n.name, n.op, n.device) == ("x", "Placeholder", "/device:CPU:0")
    assert n.attr["dtype"].type == types_pb2.DT_FLOAT
    assert [d.size for d in n.attr["shape"].shape.dim] == [-1, 3]
    assert g.versions.producer == 27


def test_unknown_tensorflow_fields_are_kept():
    """Fields staticflow does not declare (a function library's FunctionDefs,
    NodeDef.experimental_type) survive a parse and re-serialization."""
    function_def = field_len(1, field_len(1, field_len(1, "my_fn")))  # FunctionDef.signature.name
    library = field_len(2, function_def + field_len(2, field_len(1, "my_fn") + field_len(2, "my_grad")))
    node = field_len(1, "n") + field_len(2, "NoOp") + field_len(7, field_varint(1, 1))
    data = field_len(1, node) + library
    g = graph_pb2.GraphDef.FromString(data)
    assert g.library.gradient[0].gradient_func == "my_grad"
    assert graph_pb2.GraphDef.FromString(g.SerializeToString()) == g
    again = by_number(g.SerializeToString())
    assert by_number(again[2][0][1])[1] == [(LEN, field_len(1, field_len(1, "my_fn")))]
    assert by_number(again[1][0][1])[7] == [(LEN, field_varint(1, 1))]


def test_text_format_round_trip():
    g = make_graph()
    text = text_format.MessageToString(g)
    assert text_format.Parse(text, graph_pb2.GraphDef()) == g
    assert 'op: "Placeholder"' in text and "type: DT_FLOAT" in text


TF_PBTXT = """
node {
  name: "x"
  op: "Placeholder"
  attr {
    key: "dtype"
    value {
      type: DT_FLOAT
    }
  }
  attr {
    key: "shape"
    value {
      shape {
        dim {
          size: -1
        }
        dim {
          size: 3
        }
      }
    }
  }
}
node {
  name: "Variable"
  op: "VariableV2"
  attr {
    key: "dtype"
    value {
      type: DT_FLOAT
    }
  }
  attr {
    key: "container"
    value {
      s: ""
    }
  }
}
node {
  name: "Variable/read"
  op: "Identity"
  input: "Variable"
  attr {
    key: "T"
    value {
      type: DT_FLOAT
    }
  }
  attr {
    key: "_class"
    value {
      list {
        s: "loc:@Variable"
      }
    }
  }
}
versions {
  producer: 27
}
"""


def test_parses_tensorflow_text_format():
    g = text_format.Parse(TF_PBTXT, graph_pb2.GraphDef())
    assert [n.op for n in g.node] == ["Placeholder", "VariableV2", "Identity"]
    assert list(g.node[2].attr["_class"].list.s) == [b"loc:@Variable"]
    assert text_format.Parse(text_format.MessageToString(g), graph_pb2.GraphDef()) == g


def test_data_type_values():
    expected = {
        "DT_INVALID": 0, "DT_FLOAT": 1, "DT_DOUBLE": 2, "DT_INT32": 3, "DT_UINT8": 4,
        "DT_INT16": 5, "DT_INT8": 6, "DT_STRING": 7, "DT_COMPLEX64": 8, "DT_INT64": 9,
        "DT_BOOL": 10, "DT_QINT8": 11, "DT_QUINT8": 12, "DT_QINT32": 13, "DT_BFLOAT16": 14,
        "DT_QINT16": 15, "DT_QUINT16": 16, "DT_UINT16": 17, "DT_COMPLEX128": 18, "DT_HALF": 19,
        "DT_RESOURCE": 20, "DT_VARIANT": 21, "DT_UINT32": 22, "DT_UINT64": 23,
    }  # fmt: skip
    for name, value in expected.items():
        assert types_pb2.DataType.Value(name) == value, name
    names = types_pb2.DataType.keys()
    for name in names:
        value = types_pb2.DataType.Value(name)
        if 0 < value < 100:
            assert types_pb2.DataType.Value(name + "_REF") == value + 100, name
        elif value > 100:
            assert name.endswith("_REF") and types_pb2.DataType.Value(name[:-4]) == value - 100


def test_config_and_trace_field_numbers():
    """TensorFlow's numbers: ConfigProto.intra_op_parallelism_threads 2, gpu_options 6
    (GPUOptions.allow_growth 4), log_device_placement 8; RunOptions.trace_level 1;
    RunMetadata.step_stats 1 > dev_stats 1 > node_stats 2 > node_name 1,
    all_start_nanos 13, timeline_label 8."""
    cfg = config_pb2.ConfigProto(intra_op_parallelism_threads=3, log_device_placement=True)
    cfg.gpu_options.allow_growth = True
    f = by_number(cfg.SerializeToString())
    assert f[2] == [(VARINT, 3)] and f[8] == [(VARINT, 1)]
    assert by_number(f[6][0][1]) == {4: [(VARINT, 1)]}
    ro = config_pb2.RunOptions(trace_level=config_pb2.RunOptions.FULL_TRACE)
    assert by_number(ro.SerializeToString()) == {1: [(VARINT, 3)]}
    md = config_pb2.RunMetadata()
    dev_stats = md.step_stats.dev_stats.add(device="cpu")
    dev_stats.node_stats.add(node_name="mm", all_start_nanos=7, timeline_label="l")
    dev = by_number(by_number(by_number(md.SerializeToString())[1][0][1])[1][0][1])
    assert dev[1] == [(LEN, b"cpu")]
    assert by_number(dev[2][0][1]) == {1: [(LEN, b"mm")], 8: [(LEN, b"l")], 13: [(VARINT, 7)]}
    assert step_stats_pb2.StepStats.FromString(md.step_stats.SerializeToString()) == md.step_stats


def test_tensorflow_reads_our_bytes_and_we_read_its():
    """With TensorFlow installed, both sides parse each other's GraphDefs."""
    tf_graph_pb2 = pytest.importorskip("tensorflow.core.framework.graph_pb2")
    ours = make_graph()
    theirs = tf_graph_pb2.GraphDef.FromString(ours.SerializeToString())
    assert [n.name for n in theirs.node] == [n.name for n in ours.node]
    assert graph_pb2.GraphDef.FromString(theirs.SerializeToString()) == ours
