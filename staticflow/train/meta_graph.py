"""MetaGraphDef export and import: a graph with its collections, saver and signatures.

What training needs to resume without the code that built the graph goes
into one protobuf: the GraphDef, the SaverDef, and the collections -- the
variable collections as VariableDefs (rebuilt as sf.Variable objects on
import), tensors and operations by name (TRAIN_OP, user collections such as
a loss), strings and numbers as values.

Checksums. A meta graph file (and a SavedModel's saved_model.pb) that
staticflow writes starts with a header carrying the CRC-32 and length of the
rest of the file, so that a truncated or bit-flipped file is refused instead
of loading a different graph. In binary files the header is a protobuf
field that TensorFlow's messages do not have (number HEADER_FIELD, bytes
"SFCRC1" + CRC-32 + length): TensorFlow reads such a file and ignores it. In
text files it is a comment line, "# staticflow-crc32: <hex> length: <n>".
Files without the header -- written by TensorFlow, or by staticflow before
it wrote checksums -- are read as before, checked only by parsing.
"""

from __future__ import annotations

import os
import re
import struct
import zlib

from staticflow.framework import errors, versions
from staticflow.framework import ops as fops
from staticflow.framework.ops import GraphKeys

# Collections of variables that TensorFlow stores as serialized VariableDefs in bytes_list.
VARIABLE_COLLECTIONS = frozenset(
    {
        GraphKeys.GLOBAL_VARIABLES,
        GraphKeys.LOCAL_VARIABLES,
        GraphKeys.TRAINABLE_VARIABLES,
        GraphKeys.MODEL_VARIABLES,
        GraphKeys.MOVING_AVERAGE_VARIABLES,
        GraphKeys.GLOBAL_STEP,
        "metric_variables",
    }
)
_VARIABLE_DEF_URL = "type.googleapis.com/staticflow.VariableDef"


def _pb():
    from staticflow.framework import variable_pb2
    from staticflow.protobuf import meta_graph_pb2

    return meta_graph_pb2, variable_pb2


def _is_variable(x) -> bool:
    from staticflow.ops.state_ops import Variable

    return isinstance(x, Variable)


def variable_to_proto(v):
    _, variable_pb2 = _pb()
    d = v.to_proto_dict()
    return variable_pb2.VariableDef(
        variable_name=d["variable_name"],
        initializer_name=d["initializer_name"],
        snapshot_name=d["snapshot_name"],
        initial_value_name=d.get("initial_value_name", ""),
        trainable=bool(d.get("trainable", True)),
    )


def _collection_def(key: str, items):
    """The CollectionDef of a collection, or None when its items cannot be stored."""
    meta_graph_pb2, _ = _pb()
    cd = meta_graph_pb2.CollectionDef()
    if not items:
        return None
    if all(_is_variable(x) for x in items):
        if key in VARIABLE_COLLECTIONS:
            cd.bytes_list.value.extend(variable_to_proto(v).SerializeToString() for v in items)
        else:
            for v in items:
                cd.any_list.value.add(
                    type_url=_VARIABLE_DEF_URL, value=variable_to_proto(v).SerializeToString()
                )
    elif all(isinstance(x, (fops.Tensor, fops.Operation)) for x in items):
        cd.node_list.value.extend(x.name for x in items)
    elif all(isinstance(x, (str, bytes)) for x in items):
        cd.bytes_list.value.extend(x.encode() if isinstance(x, str) else x for x in items)
    elif all(isinstance(x, (bool, int)) and not isinstance(x, float) for x in items):
        cd.int64_list.value.extend(int(x) for x in items)
    elif all(isinstance(x, (int, float)) for x in items):
        cd.float_list.value.extend(float(x) for x in items)
    else:
        return None  # Python objects (savers, ...) are not stored, as in TensorFlow
    return cd


def create_meta_graph_def(
    graph=None,
    graph_def=None,
    saver_def=None,
    collection_list=None,
    meta_info_def=None,
    clear_devices=False,
    tags=None,
    signature_def_map=None,
):
    """A MetaGraphDef of `graph` (default: the default graph)."""
    meta_graph_pb2, _ = _pb()
    g = graph or fops.get_default_graph()
    mg = meta_graph_pb2.MetaGraphDef()
    if meta_info_def is not None:
        mg.meta_info_def.CopyFrom(meta_info_def)
    # The producer goes where TensorFlow keeps its git version: TensorFlow parses
    # tensorflow_version as a version number when it imports a meta graph.
    mg.meta_info_def.tensorflow_git_version = f"staticflow {versions.__version__}"
    if tags:
        mg.meta_info_def.tags.extend(tags)
    mg.graph_def.CopyFrom(graph_def if graph_def is not None else g.as_graph_def())
    if clear_devices:
        for n in mg.graph_def.node:
            n.device = ""
    if saver_def is not None:
        mg.saver_def.CopyFrom(saver_def)
    keys = g.get_all_collection_keys() if collection_list is None else list(collection_list)
    for key in keys:
        cd = _collection_def(key, g.get_collection(key))
        if cd is not None:
            mg.collection_def[key].CopyFrom(cd)
    for k, sig in (signature_def_map or {}).items():
        mg.signature_def[k].CopyFrom(sig)
    return mg


def export_meta_graph(
    filename=None,
    meta_info_def=None,
    graph_def=None,
    saver_def=None,
    collection_list=None,
    as_text=False,
    graph=None,
    export_scope=None,
    clear_devices=False,
    clear_extraneous_savers=False,
    strip_default_attrs=False,
    save_debug_info=False,
    **kwargs,
):
    """Build a MetaGraphDef (graph, saver_def, collections); write it to `filename` if given. Atomic."""
    if export_scope:
        raise NotImplementedError("export_meta_graph(export_scope=...) is not supported by staticflow")
    mg = create_meta_graph_def(
        graph=graph,
        graph_def=graph_def,
        saver_def=saver_def,
        collection_list=collection_list,
        meta_info_def=meta_info_def,
        clear_devices=clear_devices,
    )
    if filename:
        write_meta_graph(mg, filename, as_text=as_text)
    return mg


# ---------------------------------------------------------------------------
# checksummed files
# ---------------------------------------------------------------------------
# A field number that no TensorFlow message staticflow writes this way uses (MetaGraphDef's
# fields are 1-8, SavedModel's 1-2); length-delimited, so any protobuf parser skips it.
HEADER_FIELD = 51966
_HEADER_MAGIC = b"SFCRC1"
_HEADER_PAYLOAD = struct.Struct("<6sIQ")  # magic, CRC-32 of the body, length of the body


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


_HEADER_PREFIX = _varint(HEADER_FIELD << 3 | 2) + _varint(_HEADER_PAYLOAD.size) + _HEADER_MAGIC
_TEXT_HEADER_RE = re.compile(rb"\A# staticflow-crc32: ([0-9a-f]{8}) length: ([0-9]{1,19})\n")


def seal(body: bytes, as_text: bool) -> bytes:
    """`body` (a serialized message, binary or text) behind a header with its CRC-32 and length."""
    crc = zlib.crc32(body)
    if as_text:
        return b"# staticflow-crc32: %08x length: %d\n" % (crc, len(body)) + body
    payload = _HEADER_PAYLOAD.pack(_HEADER_MAGIC, crc, len(body))
    return _HEADER_PREFIX[: -len(_HEADER_MAGIC)] + payload + body


def unseal(data: bytes, path: str) -> tuple[bytes, bool | None]:
    """(body, True for binary / False for text) of a sealed file; (data, None) for one without a
    header. A header that does not match the body raises DataLossError naming `path`."""
    if data.startswith(_HEADER_PREFIX):
        start = len(_HEADER_PREFIX) - len(_HEADER_MAGIC)
        if len(data) < start + _HEADER_PAYLOAD.size:
            raise errors.DataLossError(None, None, f"{path}: truncated (inside its checksum header)")
        _, crc, length = _HEADER_PAYLOAD.unpack_from(data, start)
        body, binary = data[start + _HEADER_PAYLOAD.size :], True
    else:
        m = _TEXT_HEADER_RE.match(data)
        if m is None:
            return data, None
        crc, length = int(m.group(1), 16), int(m.group(2))
        body, binary = data[m.end() :], False
    if len(body) != length:
        raise errors.DataLossError(
            None, None, f"{path}: truncated or extended: {len(body)} bytes follow its header, not {length}"
        )
    if zlib.crc32(body) != crc:
        raise errors.DataLossError(None, None, f"{path}: corrupted (checksum mismatch)")
    return body, binary


def parse_sealed(message, data: bytes, path: str, what: str, valid) -> None:
    """Parse a (possibly sealed) binary or text file into `message` (cleared first).

    `valid(message)` tells a plausible parse from a wrong-format one. DataLossError naming `path`
    and `what` when neither format gives a valid message.
    """
    from google.protobuf import message as pb_message
    from google.protobuf import text_format

    body, binary = unseal(data, path)
    binary_error = text_error = "not tried"
    if binary is not False:
        message.Clear()
        try:
            message.ParseFromString(body)
            if valid(message):
                return
            binary_error = "parses, but is not one"
        except pb_message.DecodeError as e:
            binary_error = str(e)
    if binary is not True:
        message.Clear()
        try:
            # fields staticflow's schema lacks are skipped, as the binary parser does (TensorFlow's
            # text meta graphs have meta_info_def.stripped_op_list, for one)
            text_format.Parse(body.decode("utf-8"), message, allow_unknown_field=True)
            if valid(message):
                return
            text_error = "parses, but is not one"
        except (UnicodeDecodeError, text_format.ParseError) as e:
            text_error = " ".join(str(e).split())
    message.Clear()
    raise errors.DataLossError(
        None,
        None,
        f"{path}: not a {what} in binary or text format, or truncated/corrupted "
        f"(binary: {binary_error}; text: {text_error})",
    )


def write_meta_graph(mg, filename: str, as_text: bool = False) -> str:
    """Write a MetaGraphDef file, checksummed (see above), atomically."""
    from google.protobuf import text_format

    from staticflow.train import checkpoint_io

    filename = os.fspath(filename)
    parent = os.path.dirname(filename)
    if parent:
        os.makedirs(parent, exist_ok=True)
    data = text_format.MessageToString(mg).encode() if as_text else mg.SerializeToString()
    checkpoint_io.atomic_write(filename, seal(data, as_text), "meta")
    return filename


def read_meta_graph_file(filename: str):
    """Read a MetaGraphDef file (binary or text); a bad file raises DataLossError naming it."""
    from staticflow.framework.regular_file import read_regular

    meta_graph_pb2, _ = _pb()
    filename = os.fspath(filename)
    try:
        data = read_regular(filename, "a MetaGraphDef file")
    except FileNotFoundError:
        raise errors.NotFoundError(None, None, f"MetaGraphDef file {filename} does not exist") from None
    except OSError as e:
        raise errors.FailedPreconditionError(
            None, None, f"{filename}: cannot read the MetaGraphDef file: {e.strerror}"
        ) from None
    mg = meta_graph_pb2.MetaGraphDef()
    parse_sealed(
        mg,
        data,
        filename,
        "MetaGraphDef",
        lambda m: m.HasField("graph_def") and all(n.name and n.op for n in m.graph_def.node),
    )
    return mg


def _scoped(name: str, scope: str | None) -> str:
    return f"{scope}/{name}" if scope else name


def _variable_from_def(vd, import_scope, cache: dict):
    from staticflow.ops.state_ops import Variable

    v = cache.get(vd.variable_name)
    if v is None:
        v = Variable(
            variable_def={
                "variable_name": vd.variable_name,
                "initializer_name": vd.initializer_name,
                "snapshot_name": vd.snapshot_name,
                "initial_value_name": vd.initial_value_name,
                "trainable": vd.trainable,
            },
            import_scope=import_scope,
        )
        cache[vd.variable_name] = v
    return v


def import_scoped_meta_graph(meta_graph_or_file, clear_devices=False, import_scope=None, input_map=None):
    """Import the graph and collections of a MetaGraphDef into the default graph; return the MetaGraphDef."""
    from google.protobuf import message

    from staticflow.framework import graph_io

    meta_graph_pb2, variable_pb2 = _pb()
    if isinstance(meta_graph_or_file, meta_graph_pb2.MetaGraphDef):
        mg = meta_graph_or_file
        source = "MetaGraphDef"
    else:
        source = os.fspath(meta_graph_or_file)
        mg = read_meta_graph_file(source)
    gd = mg.graph_def
    if clear_devices:
        gd = type(gd)()
        gd.CopyFrom(mg.graph_def)
        for n in gd.node:
            n.device = ""
    g = fops.get_default_graph()
    graph_io.import_graph_def(gd, input_map=input_map, name=import_scope or "")
    cache: dict = {}
    for key in sorted(mg.collection_def):
        cd = mg.collection_def[key]
        kind = cd.WhichOneof("kind")
        where = f"{source}: collection {key!r}"
        try:
            if kind == "node_list":
                for name in cd.node_list.value:
                    g.add_to_collection(key, g.as_graph_element(_scoped(name, import_scope)))
            elif kind == "bytes_list" and key in VARIABLE_COLLECTIONS:
                for raw in cd.bytes_list.value:
                    vd = variable_pb2.VariableDef.FromString(raw)
                    g.add_to_collection(key, _variable_from_def(vd, import_scope, cache))
            elif kind == "bytes_list":
                for raw in cd.bytes_list.value:
                    try:
                        g.add_to_collection(key, raw.decode("utf-8"))
                    except UnicodeDecodeError:
                        g.add_to_collection(key, raw)
            elif kind == "int64_list":
                for x in cd.int64_list.value:
                    g.add_to_collection(key, int(x))
            elif kind == "float_list":
                for x in cd.float_list.value:
                    g.add_to_collection(key, float(x))
            elif kind == "any_list":
                for a in cd.any_list.value:
                    if a.type_url == _VARIABLE_DEF_URL:
                        vd = variable_pb2.VariableDef.FromString(a.value)
                        g.add_to_collection(key, _variable_from_def(vd, import_scope, cache))
                    else:
                        g.add_to_collection(key, a)
        except (KeyError, ValueError, message.DecodeError) as e:
            raise ValueError(f"{where} refers to something the graph does not have: {e}") from None
    return mg


def import_meta_graph(meta_graph_or_file, clear_devices=False, import_scope=None, **kwargs):
    """Import a MetaGraphDef (file or message) into the default graph; return its Saver (or None).

    The Saver restores the variables the exporting Saver saved, so
    ``saver.restore(sess, prefix)`` resumes training with nothing but the file.
    """
    from staticflow.train.saver import Saver

    mg = import_scoped_meta_graph(
        meta_graph_or_file,
        clear_devices=clear_devices,
        import_scope=import_scope,
        input_map=kwargs.get("input_map"),
    )
    if mg.HasField("saver_def"):
        sd = type(mg.saver_def)()
        sd.CopyFrom(mg.saver_def)
        if import_scope:
            sd.filename_tensor_name = _scoped(sd.filename_tensor_name, import_scope)
            sd.save_tensor_name = _scoped(sd.save_tensor_name, import_scope)
            sd.restore_op_name = _scoped(sd.restore_op_name, import_scope)
        return Saver(saver_def=sd)
    if fops.get_default_graph().get_collection(GraphKeys.GLOBAL_VARIABLES):
        return Saver()
    return None
