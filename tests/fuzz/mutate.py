"""Structure-aware mutations of the fuzzer's inputs.

Each mutator edits a parsed message (a GraphDef, a MetaGraphDef, a checkpoint index) or
the fed values, not raw bytes only, so that most mutants still parse and reach shape
inference, planning and the kernels: attrs set to extreme, negative, huge or wrongly
typed values; shapes and dtypes of constants and placeholders changed; inputs rewired
(wrong output index, cycles, missing nodes, control inputs); nodes duplicated or deleted;
tensor contents truncated, extended or bit-flipped; checkpoint indexes that lie about
shapes, offsets, dtypes and checksums (with the checksums recomputed or not); meta graph
collections and signatures corrupted; fed values of odd shapes and dtypes, NaN and empty
dimensions. Every mutator returns a short label of what it did.
"""

from __future__ import annotations

import random
import zlib

import numpy as np

from staticflow.framework import dtypes, graph_pb2

INTS = [-1, 0, 1, 2, 3, 5, -2, -7, 64, 255, 1 << 16, (1 << 31) - 1, -(1 << 31), 1 << 31, 1 << 40,
        (1 << 62) + 1, (1 << 63) - 1, -(1 << 63)]  # fmt: skip
FLOATS = [float("nan"), float("inf"), float("-inf"), 0.0, -0.0, -1.0, 1e-45, 1e30, -1e38, 3.4e38, 0.5, 1e300]
STRINGS = [b"", b"SAME", b"VALID", b"NHWC", b"NCHW", b"EXPLICIT", b"same", b"VALID\x00", b"\xff\xfe",
           b"a" * 300, b"NCDHW", b"x:0", b"^y"]  # fmt: skip
# real dtypes, and enums staticflow does not have (quantized, resource, variant, refs, unknown)
DTYPES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 17, 18, 19, 22, 23, 0, 11, 13, 20, 21, 24, 101, 999]
DIMS = [-1, 0, 1, 2, 3, 7, -5, 1 << 20, 1 << 40, (1 << 62) + 1, (1 << 63) - 1]


def _pick(rng: random.Random, xs):
    return xs[rng.randrange(len(xs))]


# ---------------------------------------------------------------------------
# attrs and tensors
# ---------------------------------------------------------------------------
def _mutate_shape(rng: random.Random, shape) -> str:
    k = rng.randrange(5)
    if k == 0 or not shape.dim:
        shape.unknown_rank = False
        shape.dim.add(size=_pick(rng, DIMS))
        return "shape+dim"
    if k == 1:
        del shape.dim[rng.randrange(len(shape.dim))]
        return "shape-dim"
    if k == 2:
        shape.unknown_rank = True
        return "shape?"
    shape.dim[rng.randrange(len(shape.dim))].size = _pick(rng, DIMS)
    return "shape.dim"


def _flip_bytes(rng: random.Random, data: bytes, n: int = 1) -> bytes:
    b = bytearray(data)
    for _ in range(n if b else 0):
        b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    return bytes(b)


def mutate_tensor(rng: random.Random, t) -> str:
    """A TensorProto: its dtype, shape, content bytes or typed values."""
    k = rng.randrange(8)
    if k == 0:
        t.dtype = _pick(rng, DTYPES)
        return "tensor.dtype"
    if k == 1:
        return "tensor." + _mutate_shape(rng, t.tensor_shape)
    if k in (2, 3) and t.tensor_content:
        c = t.tensor_content
        r = rng.randrange(4)
        if r == 0:
            t.tensor_content = c[: rng.randrange(len(c))]
            return "tensor_content.truncate"
        if r == 1:
            t.tensor_content = c + bytes(rng.randrange(1, 9))
            return "tensor_content.extend"
        if r == 2:
            t.tensor_content = _flip_bytes(rng, c, rng.randrange(1, 4))
            return "tensor_content.flip"
        t.tensor_content = bytes([0xFF]) * len(c)  # NaN / -1 everywhere (indices out of range)
        return "tensor_content.ones"
    if k == 4:  # a splat: one value for a whole (perhaps huge) shape
        t.tensor_content = b""
        t.float_val[:] = [_pick(rng, FLOATS)]
        t.int_val[:] = [_pick(rng, INTS) & 0x7FFFFFFF]
        t.int64_val[:] = [_pick(rng, INTS)]
        return "tensor.splat"
    if k == 5:
        t.int_val.extend([rng.randrange(-(1 << 31), 1 << 31) for _ in range(rng.randrange(1, 5))])
        return "tensor.int_val"
    if k == 6:
        t.string_val.extend([_pick(rng, STRINGS)])
        return "tensor.string_val"
    t.float_val.extend([_pick(rng, FLOATS) for _ in range(rng.randrange(1, 5))])
    return "tensor.float_val"


def mutate_attr(rng: random.Random, a) -> str:
    """An AttrValue: an extreme value of its kind, or a value of another kind."""
    kind = a.WhichOneof("value")
    if rng.random() < 0.15:  # the wrong kind
        k = rng.randrange(6)
        a.Clear()
        if k == 0:
            a.i = _pick(rng, INTS)
        elif k == 1:
            a.s = _pick(rng, STRINGS)
        elif k == 2:
            a.f = _pick(rng, FLOATS)
        elif k == 3:
            a.list.i.extend([_pick(rng, INTS) for _ in range(rng.randrange(4))])
        elif k == 4:
            a.type = _pick(rng, DTYPES)
        else:
            a.b = True
        return f"attr:{kind}->{a.WhichOneof('value')}"
    if kind == "i":
        a.i = _pick(rng, INTS)
    elif kind == "f":
        a.f = _pick(rng, FLOATS)
    elif kind == "b":
        a.b = not a.b
    elif kind == "s":
        a.s = _pick(rng, STRINGS)
    elif kind == "type":
        a.type = _pick(rng, DTYPES)
    elif kind == "shape":
        return "attr." + _mutate_shape(rng, a.shape)
    elif kind == "tensor":
        return "attr." + mutate_tensor(rng, a.tensor)
    elif kind == "list":
        lst = a.list
        if lst.i or rng.random() < 0.3:
            k = rng.randrange(4)
            if k == 0 and lst.i:
                lst.i[rng.randrange(len(lst.i))] = _pick(rng, INTS)
            elif k == 1:
                lst.i.append(_pick(rng, INTS))
            elif k == 2 and lst.i:
                del lst.i[rng.randrange(len(lst.i))]
            else:
                lst.i[:] = [_pick(rng, INTS) for _ in range(rng.randrange(7))]
        elif lst.type:
            lst.type[rng.randrange(len(lst.type))] = _pick(rng, DTYPES)
        elif lst.shape:
            return "attr.list." + _mutate_shape(rng, lst.shape[rng.randrange(len(lst.shape))])
        elif lst.f:
            lst.f[rng.randrange(len(lst.f))] = _pick(rng, FLOATS)
        else:
            lst.s.append(_pick(rng, STRINGS))
    else:
        a.i = _pick(rng, INTS)
    return f"attr.{kind}"


# ---------------------------------------------------------------------------
# GraphDefs
# ---------------------------------------------------------------------------
def _split(s: str):
    if s.startswith("^"):
        return s[1:], None
    name, sep, idx = s.rpartition(":")
    return (name, idx) if sep and idx.isdigit() else (s, "0")


def mutate_const_values(rng: random.Random, t) -> str:
    """A constant's elements changed, its dtype and shape kept (or its shape changed with
    a consistent content): axes, sizes, indices, segment ids and paddings out of range."""
    from staticflow.framework import tensor_util

    try:
        v = np.array(tensor_util.make_ndarray(t), copy=True)
    except Exception:  # noqa: BLE001 - a constant already broken by another mutation
        return "const.unreadable"
    if v.dtype == object:
        return "const.strings"
    k = rng.randrange(4)
    if k == 0 and v.size:
        v = v.reshape(-1)[: rng.randrange(v.size)].copy()
        label = "const.shorter"
    elif k == 1:
        v = np.concatenate([v.reshape(-1), v.reshape(-1)[:1] if v.size else np.zeros(1, v.dtype)])
        label = "const.longer"
    elif v.size:
        flat = v.reshape(-1)
        for _ in range(rng.randrange(1, 3)):
            if v.dtype.kind in "iu":
                info = np.iinfo(v.dtype)
                x = _pick(rng, INTS + [int(flat[0]) + 1, -int(flat[0]) - 1, len(flat), -len(flat) - 1])
                flat[rng.randrange(flat.size)] = min(max(x, info.min), info.max)
            elif v.dtype.kind == "b":
                flat[rng.randrange(flat.size)] = not flat[0]
            else:
                with np.errstate(over="ignore"):
                    flat[rng.randrange(flat.size)] = _pick(rng, FLOATS)
        label = "const.values"
    else:
        return "const.empty"
    t.CopyFrom(tensor_util.make_tensor_proto(v, dtype=None, shape=None))
    return label


def mutate_graph_def(rng: random.Random, gd: graph_pb2.GraphDef, focus: str | None = None) -> str:
    """One structural mutation of a GraphDef (in place); `focus` names a node that attr
    mutations favour (the op of a registry case)."""
    nodes = list(gd.node)
    if not nodes:
        gd.node.add(name="x", op="Const")
        return "node.add-empty"
    n = _pick(rng, nodes)
    names = [m.name for m in nodes]
    k = rng.randrange(20)
    if k >= 16:  # the values of constants (the planning-time inputs: axes, shapes, indices)
        consts = [m for m in nodes if m.op == "Const" and m.attr["value"].HasField("tensor")]
        if consts:
            n = _pick(rng, consts)
            return f"Const:{n.name}:" + mutate_const_values(rng, n.attr["value"].tensor)
        k = 0
    if k <= 3:  # attrs: the commonest way in
        with_attrs = [m for m in nodes if m.attr] or nodes
        n = _pick(rng, with_attrs)
        if focus is not None and rng.random() < 0.7:
            n = next((m for m in nodes if m.name == focus and m.attr), n)
        if not n.attr:
            n.attr["T"].type = _pick(rng, DTYPES)
            return "attr.add"
        key = _pick(rng, sorted(n.attr))
        return f"{n.op}.{key}:" + mutate_attr(rng, n.attr[key])
    if k == 4:  # a constant's value
        consts = [m for m in nodes if m.op == "Const"]
        if consts:
            n = _pick(rng, consts)
            t = n.attr["value"].tensor
            label = mutate_tensor(rng, t)
            if rng.random() < 0.5 and label in ("tensor.dtype",):
                n.attr["dtype"].type = t.dtype  # consistent with the attr: reaches the content check
            return "Const:" + label
    if k == 5:  # a placeholder's shape or dtype
        phs = [m for m in nodes if m.op in ("Placeholder", "PlaceholderWithDefault")]
        if phs:
            n = _pick(rng, phs)
            if rng.random() < 0.5:
                n.attr["dtype"].type = _pick(rng, DTYPES)
                return "Placeholder.dtype"
            return "Placeholder." + _mutate_shape(rng, n.attr["shape"].shape)
    if k == 6 and n.input:  # the wrong output index
        i = rng.randrange(len(n.input))
        src, _ = _split(n.input[i])
        n.input[i] = f"{src}:{_pick(rng, [1, 2, 7, 99999999999, 0])}"
        return "input.index"
    if k == 7 and n.input:  # a node that does not exist
        n.input[rng.randrange(len(n.input))] = _pick(rng, ["nope", "nope:0", "", ":0", "^", "a:b"])
        return "input.missing"
    if k == 8:  # an input from anywhere: often a cycle, or one input too many
        src = _pick(rng, names)
        if n.input and rng.random() < 0.6:
            n.input[rng.randrange(len(n.input))] = src
            return "input.rewire"
        n.input.append(src)
        return "input.extra"
    if k == 9:  # control inputs
        r = rng.randrange(3)
        if r == 0:
            n.input.append("^" + _pick(rng, names))
            return "control.add"
        if r == 1:
            n.input.append("^" + n.name)
            return "control.self"
        n.input.insert(0, "^" + _pick(rng, names))
        return "control.first"
    if k == 10 and n.input:
        del n.input[rng.randrange(len(n.input))]
        return "input.delete"
    if k == 11 and len(n.input) > 1:
        n.input[0], n.input[-1] = n.input[-1], n.input[0]
        return "input.swap"
    if k == 12:  # a copy of a node, under its name or another
        c = gd.node.add()
        c.CopyFrom(n)
        if rng.random() < 0.7:
            c.name = n.name + "_dup"
        return "node.duplicate"
    if k == 13:
        del gd.node[rng.randrange(len(gd.node))]
        return "node.delete"
    if k == 14:  # another op of the same arity
        n.op = _pick(rng, _same_arity(len([s for s in n.input if not s.startswith("^")])))
        return f"node.op->{n.op}"
    r = rng.randrange(3)
    if r == 0:
        n.device = _pick(rng, ["/cpu:0", "/gpu:7", "/job:x/task:-1", "garbage", "/device:CPU:99999999999"])
        return "node.device"
    if r == 1:
        n.attr["_output_shapes"].list.shape.add().dim.add(size=_pick(rng, DIMS))
        return "node._output_shapes"
    if n.attr:
        del n.attr[_pick(rng, sorted(n.attr))]
    return "attr.delete"


_ARITY: dict[int, list[str]] = {}


def _same_arity(k: int) -> list[str]:
    if not _ARITY:
        from staticflow.ops import registry

        for d in registry.all_ops():
            if d.source is None and d.resource is None and not d.stateful:
                _ARITY.setdefault(len(d.inputs), []).append(d.name)
    return _ARITY.get(k) or _ARITY[1]


# ---------------------------------------------------------------------------
# fed values
# ---------------------------------------------------------------------------
def mutate_feeds(rng: random.Random, feeds: dict, names: list[str]) -> str:
    """One odd fed value (in place): another shape, dtype, special values, empty
    dimensions, out-of-range integers; or a feed dropped or added."""
    if not feeds or rng.random() < 0.08:
        if names and rng.random() < 0.7:
            feeds[_pick(rng, names)] = np.ones((2, 2), np.float32)
            return "feed.add"
        return "feed.none"
    key = _pick(rng, sorted(feeds))
    v = np.asarray(feeds[key])
    k = rng.randrange(10)
    if k == 0:
        shape = list(v.shape)
        if shape and rng.random() < 0.5:
            shape[rng.randrange(len(shape))] = 0
        else:
            shape = [_pick(rng, [0, 1, 3])] + shape
        feeds[key] = np.resize(v, shape) if v.size and np.prod(shape) else np.zeros(shape, v.dtype)
        return "feed.empty-or-rank+"
    if k == 1:
        feeds[key] = v.reshape(-1)[: rng.randrange(v.size + 1)] if v.ndim else v.reshape(1)
        return "feed.flat"
    if k == 2:
        rank = v.ndim if v.ndim and rng.random() < 0.7 else rng.randrange(0, 4)
        feeds[key] = np.resize(v, tuple(rng.randrange(1, 6) for _ in range(rank)))
        return "feed.reshape"
    if k == 3:
        feeds[key] = np.asarray(v).reshape(()) if v.size == 1 else np.float32(rng.random())
        return "feed.scalar"
    if k == 4:
        dt = _pick(rng, [np.float32, np.float64, np.int32, np.int64, np.bool_, np.float16, np.complex64,
                         np.uint8, np.int8, object])  # fmt: skip
        try:
            with np.errstate(all="ignore"):
                feeds[key] = v.astype(dt) if dt is not object else np.array([b"x"] * max(v.size, 1), object)
        except (ValueError, TypeError, OverflowError):  # strings that are no numbers, ints out of range
            feeds[key] = np.zeros(v.shape, dt)
        return f"feed.dtype->{np.dtype(dt).name}"
    if k in (5, 6) and v.size:
        w = np.array(v, copy=True)
        flat = w.reshape(-1)
        if w.dtype.kind in "fc" or w.dtype == dtypes.bfloat16.np:
            with np.errstate(over="ignore"):
                for _ in range(rng.randrange(1, 4)):
                    flat[rng.randrange(flat.size)] = _pick(rng, FLOATS[:5] + [1e30, -1e30])
            feeds[key] = w
            return "feed.special-floats"
        if w.dtype.kind in "iu":
            info = np.iinfo(w.dtype)
            for _ in range(rng.randrange(1, 4)):
                x = _pick(rng, [info.min, info.max, -1, 2, 1000, 0])
                flat[rng.randrange(flat.size)] = x if info.min <= x <= info.max else info.max
            feeds[key] = w
            return "feed.int-extremes"
    if k == 7 and v.size:  # large but valid: many rows
        feeds[key] = np.repeat(v.reshape((1,) + v.shape) if v.ndim == 0 else v, rng.randrange(2, 40), axis=0)
        return "feed.bigger"
    if k == 8:
        del feeds[key]
        return "feed.drop"
    if v.dtype.kind == "f":
        feeds[key] = np.full(v.shape, _pick(rng, [np.nan, np.inf, -np.inf, 0.0]), v.dtype)
        return "feed.all-special"
    feeds[key] = -np.ones(v.shape, v.dtype) if v.dtype.kind in "iuf" else v
    return "feed.all-minus-one"


# ---------------------------------------------------------------------------
# meta graphs
# ---------------------------------------------------------------------------
def mutate_meta_graph(rng: random.Random, mg) -> str:
    """One mutation of a MetaGraphDef: its graph, a collection, the signature, the saver."""
    k = rng.randrange(9)
    if k <= 2:
        return "graph:" + mutate_graph_def(rng, mg.graph_def)
    if k == 3 and mg.collection_def:
        key = _pick(rng, sorted(mg.collection_def))
        c = mg.collection_def[key]
        r = rng.randrange(5)
        if r == 0 and c.bytes_list.value:  # a serialized VariableDef: bit flips or a lie
            i = rng.randrange(len(c.bytes_list.value))
            c.bytes_list.value[i] = _flip_bytes(rng, c.bytes_list.value[i], rng.randrange(1, 3))
            return f"collection[{key}].flip"
        if r == 1:
            c.bytes_list.value.append(bytes(rng.randrange(256) for _ in range(rng.randrange(12))))
            return f"collection[{key}].junk"
        if r == 2:
            c.node_list.value.append(_pick(rng, ["nope:0", "", "x:99", "^a", "init"]))
            return f"collection[{key}].node_list"
        if r == 3:
            c.int64_list.value.append(_pick(rng, INTS))
            return f"collection[{key}].kind"
        c.Clear()
        return f"collection[{key}].clear"
    if k == 4:
        from staticflow.framework import variable_pb2

        vd = variable_pb2.VariableDef()
        vd.variable_name = _pick(rng, ["nope:0", "x:0", "", "probs:0"])
        vd.initializer_name = _pick(rng, ["nope", "", "init"])
        vd.snapshot_name = _pick(rng, ["nope:0", "x:0"])
        mg.collection_def["variables"].bytes_list.value.append(vd.SerializeToString())
        return "collection.variable-lie"
    if k == 5:
        sig = mg.signature_def["serving_default"]
        m = sig.inputs if rng.random() < 0.5 else sig.outputs
        if m:
            info = m[_pick(rng, sorted(m))]
            r = rng.randrange(3)
            if r == 0:
                info.name = _pick(rng, ["nope:0", "x:7", "", "b:zz", "probs", "init:0", "x:0"])
            elif r == 1:
                info.dtype = _pick(rng, DTYPES)
            else:
                info.tensor_shape.dim.add(size=_pick(rng, DIMS))
            return "signature.tensor"
        return "signature.empty"
    if k == 6:
        sd = mg.saver_def
        r = rng.randrange(4)
        if r == 0:
            sd.restore_op_name = _pick(rng, ["nope", "", "save/Const:0", "init"])
        elif r == 1:
            sd.filename_tensor_name = _pick(rng, ["nope:0", "", "x:0", "save/restore_all"])
        elif r == 2:
            sd.max_to_keep = _pick(rng, [-1, 0, (1 << 31) - 1])
        else:
            sd.version = _pick(rng, [0, 1, 2, 99])
        return "saver_def"
    if k == 7:
        mg.meta_info_def.tags[:] = [_pick(rng, ["", "serve", "a,b", "\x00"])]
        mg.meta_info_def.stripped_default_attrs = True
        return "meta_info_def"
    return "graph:" + mutate_graph_def(rng, mg.graph_def)


# ---------------------------------------------------------------------------
# checkpoints
# ---------------------------------------------------------------------------
def mutate_checkpoint(rng: random.Random, files: dict) -> str:
    """One lie or corruption in a checkpoint's files (in place): the index's entries (shapes,
    offsets, lengths, dtypes, checksums, names), its envelope, or the data file's bytes.
    With probability 1/2 the checksums are recomputed afterwards, so that the lie reaches
    the checks behind them."""
    from staticflow.protobuf import checkpoint_pb2

    data_name = next(f for f in files if ".data-" in f)
    env = checkpoint_pb2.CheckpointIndex.FromString(files["model.index"])
    index = checkpoint_pb2.TensorIndex.FromString(env.body)
    consistent = rng.random() < 0.5
    k = rng.randrange(12)
    label = ""
    if k <= 6 and index.tensors:
        e = _pick(rng, list(index.tensors))
        if k == 0:
            label = "entry." + _mutate_shape(rng, e.shape)
        elif k == 1:
            e.offset = _pick(rng, [e.offset + 4, e.offset - 4, -1, 1 << 62, 0, index.data_size])
            label = "entry.offset"
        elif k == 2:
            e.length = _pick(rng, [e.length + 4, max(e.length - 4, 0), 0, (1 << 63) - 1, -8])
            label = "entry.length"
        elif k == 3:
            e.dtype = _pick(rng, DTYPES)
            label = "entry.dtype"
        elif k == 4:
            e.crc32 ^= 1 << rng.randrange(32)
            label = "entry.crc32"
            consistent = False
        elif k == 5:
            other = _pick(rng, list(index.tensors))
            if rng.random() < 0.5:
                e.name = other.name  # a duplicate, or itself
                label = "entry.name-dup"
            else:  # two entries swap their bytes (a consistent lie when they are alike)
                e.offset, other.offset = other.offset, e.offset
                e.length, other.length = other.length, e.length
                e.crc32, other.crc32 = other.crc32, e.crc32
                label = "entry.swap"
        else:
            del index.tensors[rng.randrange(len(index.tensors))]
            label = "entry.delete"
    elif k == 7:
        index.data_size = _pick(rng, [index.data_size + 1, index.data_size - 1, 0, -1, 1 << 62])
        label = "index.data_size"
    elif k == 8:
        index.data_file = _pick(rng, ["model.data-00000-of-00001", "../model.data-0123456789abcdef",
                                      "/etc/passwd", "", "model.data-zz"])  # fmt: skip
        label = "index.data_file"
    elif k == 9:
        d = files[data_name]
        r = rng.randrange(3)
        if r == 0 and d:
            files[data_name] = _flip_bytes(rng, d, rng.randrange(1, 3))
            label = "data.flip"
        elif r == 1:
            files[data_name] = d[: rng.randrange(len(d) + 1)]
            label = "data.truncate"
        else:
            files[data_name] = d + bytes(rng.randrange(1, 16))
            label = "data.extend"
    elif k == 10:
        r = rng.randrange(3)
        if r == 0:
            env.format_version = _pick(rng, [0, 1, 3, 1 << 31])
        elif r == 1:
            env.magic = _pick(rng, ["", "staticflow-checkpoint ", "tensorflow"])
        else:
            env.body_crc32 ^= 1
        label = "envelope" if r < 2 else "envelope.crc"
    else:
        raw = files["model.index"]
        cut = raw[: rng.randrange(len(raw))]
        files["model.index"] = _flip_bytes(rng, raw, 1) if rng.random() < 0.5 else cut
        return "index.bytes"
    if consistent:
        data = files[data_name]
        for e in index.tensors:
            if 0 <= e.offset <= e.offset + e.length <= len(data):
                e.crc32 = zlib.crc32(data[e.offset : e.offset + e.length])
    env.body = index.SerializeToString()
    if label != "envelope.crc" and (consistent or rng.random() < 0.7):
        env.body_crc32 = zlib.crc32(env.body)
    files["model.index"] = env.SerializeToString()
    return label + (":consistent" if consistent else "")


def read_checkpoint(files: dict, graph_vars: dict):
    """What a restore of these checkpoint files must give, judged independently of
    staticflow's reader: {key: array} when every variable's entry is intact and fits the
    graph's variable (`graph_vars`: key -> (numpy dtype, shape)), else a string saying why
    the restore must fail."""
    from staticflow.framework import dtypes
    from staticflow.protobuf import checkpoint_pb2

    try:
        env = checkpoint_pb2.CheckpointIndex.FromString(files["model.index"])
        index = checkpoint_pb2.TensorIndex.FromString(env.body)
    except Exception:  # noqa: BLE001 - any parse failure: the index is unreadable
        return "has an index that does not parse"
    if env.magic != "staticflow-checkpoint" or env.format_version not in (1, 2):
        return "has a wrong magic or version"
    if zlib.crc32(env.body) != env.body_crc32:
        return "has an index whose checksum does not match"
    data = files.get(index.data_file)
    if data is None or "/" in index.data_file or not index.data_file.startswith("model.data-"):
        return f"names a data file {index.data_file!r} that is not there"
    if len(data) != index.data_size:
        return "has a data file of another size than its index says"
    names = [e.name for e in index.tensors]
    if len(set(names)) != len(names):
        return "has a name twice"
    entries = {e.name: e for e in index.tensors}
    out = {}
    for key, (npdt, shape) in graph_vars.items():
        e = entries.get(key)
        if e is None:
            return f"lacks variable {key}"
        try:
            dt = dtypes.as_dtype(e.dtype).np
        except (TypeError, ValueError, KeyError):
            return f"has an unknown dtype for {key}"
        if dt != npdt:
            return f"has dtype {dt} for {key}, the graph {npdt}"
        dims = [d.size for d in e.shape.dim]
        if e.shape.unknown_rank or dims != list(shape):
            return f"has shape {dims} for {key}, the graph {list(shape)}"
        n = int(np.prod(dims, dtype=object)) * dt.itemsize
        if e.length != n or e.offset < 0 or e.offset + e.length > len(data):
            return f"has an entry for {key} that does not fit"
        chunk = data[e.offset : e.offset + e.length]
        if zlib.crc32(chunk) != e.crc32:
            return f"has a checksum mismatch for {key}"
        out[key] = np.frombuffer(chunk, dtype=dt.newbyteorder("<")).astype(dt).reshape(dims)
    return out
