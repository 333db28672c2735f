"""The ``staticflow`` command: draw, inspect and run saved models.

    staticflow draw MODEL [-o graph.png] [--format png|svg|pdf] [--collapse|--no-collapse] [--no-gradients]
    staticflow inspect MODEL
    staticflow run MODEL --input NAME=FILE.npy ... [--output NAME ...] [-o DIR]

MODEL is a GraphDef file (binary .pb or text .pbtxt; a frozen GraphDef is one
without variables), a meta graph file (.meta, as Saver.save writes it) or a
SavedModel directory (saved_model.pb + variables/).

Mistakes in what the user asked for (a missing file, a file that is not a
model or is damaged, an unknown input or output name, an input that does not
fit, an output path that cannot be written) print one line,
``staticflow: error: ...``, and exit with status 2. A model that loads but
fails while it runs, and a missing graphviz, exit with status 1, also with
one line. Nothing prints a traceback: an unexpected failure is reported as an
internal error on one line, exit status 70 (set STATICFLOW_DEBUG=1 to see its
traceback).
"""

from __future__ import annotations

import argparse
import os
import re
import stat
import sys
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

VARIABLE_OPS = ("VariableV2", "Variable", "VarHandleOp")
PLACEHOLDER_OPS = ("Placeholder", "PlaceholderWithDefault")
DEFAULT_TAG = "serve"
DEFAULT_SIGNATURE = "serving_default"


INTERNAL_ERROR = 70  # EX_SOFTWARE: an unexpected exception inside staticflow


class CliError(Exception):
    """A mistake in what the user asked for: reported as one line, exit status 2."""


# ---------------------------------------------------------------------------
# loading a model
# ---------------------------------------------------------------------------
@dataclass
class TensorSpec:
    key: str  # what the user may call it: a signature key, else the tensor name
    name: str  # the tensor's name in the graph ("x:0")
    dtype: str | None
    shape: list | None  # None: unknown rank; None entries: unknown dimensions
    note: str | None = None  # for an op with no outputs: what to print instead of dtype and shape


@dataclass
class Model:
    path: str
    kind: str  # "graphdef", "frozen", "meta", "saved_model"
    graph_def: object
    meta_graph: object = None
    signature_key: str | None = None
    signature: object = None
    checkpoint: str | None = None  # a checkpoint prefix with the variables' values
    tags: list = field(default_factory=list)

    @property
    def description(self) -> str:
        return {
            "graphdef": "GraphDef",
            "frozen": "frozen GraphDef",
            "meta": "meta graph",
            "saved_model": "SavedModel",
        }[self.kind]


def _node_name(s: str) -> str:
    s = s.lstrip("^")
    name, sep, idx = s.rpartition(":")
    return name if sep and idx.isdigit() else s


def _has_variables(graph_def) -> bool:
    return any(n.op in VARIABLE_OPS for n in graph_def.node)


def _check_nodes(path: str, graph_def, what: str) -> None:
    if not len(graph_def.node):
        raise CliError(f"{path}: not a model ({what} with no nodes)")


def _read_graph_def(path: str):
    from staticflow.framework import graph_io

    try:
        gd = graph_io.read_graph(path)
    except (OSError, ValueError):
        return None
    return gd if len(gd.node) else None


def _read_meta(path: str):
    from staticflow.framework import errors
    from staticflow.train import meta_graph

    try:
        return meta_graph.read_meta_graph_file(path)
    except (errors.OpError, OSError, ValueError):
        return None


def _meta_checkpoint(path: str) -> str | None:
    from staticflow.train import checkpoint_io

    prefix = path[: -len(".meta")] if path.endswith(".meta") else None
    return prefix if prefix and checkpoint_io.checkpoint_exists(prefix) else None


def _select_meta_graph(path: str, sm, tag: str | None):
    metas = list(sm.meta_graphs)
    available = [sorted(m.meta_info_def.tags) for m in metas]
    if tag is None:
        if len(metas) == 1:
            return metas[0]
        tag = DEFAULT_TAG
    tags = set(t for t in tag.split(",") if t)
    for m in metas:
        if set(m.meta_info_def.tags) == tags:
            return m
    raise CliError(f"{path}: no meta graph with tags {sorted(tags)} (available: {available})")


def _select_signature(path: str, mg, key: str | None, required: bool):
    sigs = {k: v for k, v in mg.signature_def.items() if not k.startswith("__")}
    if key is None:
        if DEFAULT_SIGNATURE in sigs:
            key = DEFAULT_SIGNATURE
        elif len(sigs) == 1:
            key = next(iter(sigs))
        elif not sigs or not required:
            return None, None
        else:
            raise CliError(
                f"{path}: several signatures and none is {DEFAULT_SIGNATURE!r}; pick one with --signature "
                f"(available: {', '.join(sorted(sigs))})"
            )
    if key not in sigs:
        raise CliError(f"{path}: no signature {key!r} (available: {', '.join(sorted(sigs)) or 'none'})")
    return key, sigs[key]


def load_model(path: str, tag: str | None = None, signature: str | None = None) -> Model:
    """Read MODEL (GraphDef, meta graph or SavedModel directory); CliError when it is not one."""
    from staticflow.framework import errors
    from staticflow.saved_model import constants, loader

    path = os.fspath(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise CliError(f"{path}: no such file or directory") from None
    except OSError as e:
        raise CliError(f"{path}: cannot read ({e.strerror})") from None
    if not stat.S_ISDIR(mode) and not stat.S_ISREG(mode):
        from staticflow.framework.regular_file import kind_of

        raise CliError(f"{path}: not a model: this is {kind_of(mode)}, not a regular file or a directory")
    if stat.S_ISDIR(mode):
        if not loader.maybe_saved_model_directory(path):
            raise CliError(
                f"{path}: a directory, but not a SavedModel (it has no saved_model.pb or saved_model.pbtxt)"
            )
        try:
            sm = loader._read_saved_model(path)
        except (errors.OpError, OSError, ValueError) as e:
            raise CliError(f"{path}: not a valid SavedModel ({_one_line(e)})") from None
        if not sm.meta_graphs:
            raise CliError(f"{path}: not a valid SavedModel (it has no meta graph)")
        mg = _select_meta_graph(path, sm, tag)
        _check_nodes(path, mg.graph_def, "SavedModel graph")
        key, sig = _select_signature(path, mg, signature, required=signature is not None)
        prefix = os.path.join(path, constants.VARIABLES_DIRECTORY, constants.VARIABLES_FILENAME)
        return Model(
            path,
            "saved_model",
            mg.graph_def,
            meta_graph=mg,
            signature_key=key,
            signature=sig,
            checkpoint=prefix,
            tags=sorted(mg.meta_info_def.tags),
        )
    if not os.access(path, os.R_OK):
        raise CliError(f"{path}: cannot read the file (permission denied)")
    # A .meta file is a MetaGraphDef; anything else is tried as a GraphDef first.
    # (Binary protobufs do not say what they are, so the order matters.)
    readers = [("meta", _read_meta), ("graphdef", _read_graph_def)]
    if not path.endswith(".meta"):
        readers.reverse()
    for kind, read in readers:
        msg = read(path)
        if msg is None:
            continue
        if kind == "meta":
            _check_nodes(path, msg.graph_def, "meta graph")
            key, sig = _select_signature(path, msg, signature, required=signature is not None)
            return Model(
                path,
                "meta",
                msg.graph_def,
                meta_graph=msg,
                signature_key=key,
                signature=sig,
                checkpoint=_meta_checkpoint(path),
            )
        return Model(path, "graphdef" if _has_variables(msg) else "frozen", msg)
    raise CliError(
        f"{path}: not a model (neither a GraphDef, binary or text, nor a meta graph; "
        f"a SavedModel is a directory)"
    )


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


# ---------------------------------------------------------------------------
# what a model has: inputs, outputs, parameters
# ---------------------------------------------------------------------------
def _dtype_name(enum) -> str | None:
    from staticflow.framework import dtypes

    try:
        return dtypes.as_dtype(int(enum)).name
    except (TypeError, ValueError, KeyError):
        return None


def _shape_of(shape_proto) -> list | None:
    if shape_proto.unknown_rank:
        return None
    return [d.size if d.size >= 0 else None for d in shape_proto.dim]


def _fmt_shape(shape) -> str:
    if shape is None:
        return "<unknown rank>"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _fmt_count(n: int) -> str:
    return f"{n:,}"


def _consumed(graph_def) -> set[str]:
    return {_node_name(i) for n in graph_def.node for i in n.input}


def _imported_graph(graph_def):
    """graph_def imported into a new sf.Graph (for shapes and dtypes), or None when that fails."""
    import staticflow as sf

    g = sf.Graph()
    try:
        with g.as_default():
            sf.import_graph_def(graph_def, name="")
    except Exception:  # noqa: BLE001 - best effort: inspect still works from the GraphDef alone
        return None
    return g


def _placeholder_specs(graph_def) -> list[TensorSpec]:
    out = []
    for n in graph_def.node:
        if n.op in PLACEHOLDER_OPS:
            dtype = _dtype_name(n.attr["dtype"].type) if "dtype" in n.attr else None
            shape = _shape_of(n.attr["shape"].shape) if "shape" in n.attr else None
            out.append(TensorSpec(n.name + ":0", n.name + ":0", dtype, shape))
    return out


def _signature_specs(sig_map) -> list[TensorSpec]:
    return [
        TensorSpec(k, info.name, _dtype_name(info.dtype), _shape_of(info.tensor_shape))
        for k, info in sorted(sig_map.items())
    ]


def _terminal_specs(graph_def, graph=None) -> list[TensorSpec]:
    """The outputs of the ops nobody consumes (ops with no outputs are left out)."""
    consumed = _consumed(graph_def)
    out = []
    for n in graph_def.node:
        if n.name in consumed:
            continue
        try:
            op = graph.get_operation_by_name(n.name) if graph is not None else None
        except (KeyError, ValueError):  # a name the graph cannot look up (say, one with a ':')
            op = None
        if op is not None:
            for t in op.outputs:
                shape = t.shape.as_list() if t.shape.ndims is not None else None
                out.append(TensorSpec(t.name, t.name, t.dtype.name, shape))
            if not op.outputs:
                out.append(TensorSpec(n.name, n.name, None, None, note=f"({n.op}, no outputs)"))
        elif n.op == "NoOp":
            out.append(TensorSpec(n.name, n.name, None, None, note=f"({n.op}, no outputs)"))
        else:
            out.append(TensorSpec(n.name + ":0", n.name + ":0", None, None))
    return out


def _inputs(model: Model) -> list[TensorSpec]:
    if model.signature is not None:
        return _signature_specs(model.signature.inputs)
    return _placeholder_specs(model.graph_def)


def _outputs(model: Model, graph=None) -> list[TensorSpec]:
    if model.signature is not None:
        return _signature_specs(model.signature.outputs)
    return _terminal_specs(model.graph_def, graph)


def _elements(shape) -> int | None:
    if shape is None or any(d is None for d in shape):
        return None
    return int(np.prod(shape, dtype=np.int64))


def _parameters(model: Model) -> tuple[str, int, int, int]:
    """(what was counted, elements, how many tensors, how many of unknown size)."""
    if model.kind == "saved_model":
        from staticflow.framework import errors
        from staticflow.train import checkpoint_io

        try:
            shapes = checkpoint_io.CheckpointReader(model.checkpoint).get_variable_to_shape_map()
        except (errors.OpError, OSError) as e:
            raise CliError(f"{model.path}: cannot read the variables checkpoint ({_one_line(e)})") from None
        total = sum(_elements(s) or 0 for s in shapes.values())
        return "{} variables in the checkpoint", total, len(shapes), 0
    if model.kind == "frozen":
        total = count = 0
        for n in model.graph_def.node:
            if n.op == "Const" and "value" in n.attr:
                count += 1
                total += _elements(_shape_of(n.attr["value"].tensor.tensor_shape)) or 0
        return "elements of {} Const nodes: a frozen graph holds its variables as constants", total, count, 0
    total = count = unknown = 0
    for n in model.graph_def.node:
        if n.op in VARIABLE_OPS:
            count += 1
            k = _elements(_shape_of(n.attr["shape"].shape)) if "shape" in n.attr else None
            if k is None:
                unknown += 1
            else:
                total += k
    return "{} variables", total, count, unknown


# ---------------------------------------------------------------------------
# subcommands
# ---------------------------------------------------------------------------
def _table(specs: list[TensorSpec], with_key: bool) -> list[str]:
    if not specs:
        return ["  (none)"]
    rows = []
    for s in specs:
        row = [s.key, s.name] if with_key else [s.name]
        if s.note is not None:
            row += [s.note, ""]
        else:
            row += [
                s.dtype or "?",
                _fmt_shape(s.shape) if s.dtype is not None or s.shape is not None else "?",
            ]
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


def cmd_inspect(args) -> int:
    model = load_model(args.model, args.tag, args.signature)
    gd = model.graph_def
    out = [f"{model.path}: {model.description}, {len(gd.node)} nodes"]
    if model.kind == "saved_model":
        out.append(f"Tags: {', '.join(model.tags) or '(none)'}")
    sig = f" (signature {model.signature_key!r})" if model.signature is not None else ""
    with_key = model.signature is not None
    out.append(f"Inputs{sig}:")
    out += _table(_inputs(model), with_key)
    graph = None if model.signature is not None else _imported_graph(gd)
    out.append(f"Outputs{sig or ' (ops nobody consumes)'}:")
    out += _table(_outputs(model, graph), with_key)
    counts = Counter(n.op for n in gd.node)
    out.append(f"Ops ({len(gd.node)} nodes, {len(counts)} types):")
    width = max(len(t) for t in counts)
    for op_type, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        out.append(f"  {op_type.ljust(width)}  {n}")
    what, total, count, unknown = _parameters(model)
    line = f"Parameters: {_fmt_count(total)} ({what.format(count)})"
    if unknown:
        line += f"; {unknown} of unknown shape not counted"
    out.append(line)
    print("\n".join(out))
    return 0


def cmd_draw(args) -> int:
    import shutil

    from staticflow import viz

    model = load_model(args.model, args.tag, None)
    fmt = args.format
    path = args.output
    if path is None:
        stem = os.path.basename(os.path.normpath(model.path))
        stem = os.path.splitext(stem)[0] if not os.path.isdir(model.path) else stem
        path = f"{stem or 'graph'}.{fmt or 'png'}"
    if fmt is None:
        ext = os.path.splitext(path)[1].lstrip(".").lower()
        fmt = ext if ext in viz.FORMATS else "png"
    if shutil.which("dot") is None:
        print(
            "staticflow: error: drawing needs graphviz's `dot` program, which is not installed "
            "(install the graphviz system package, e.g. `apt-get install graphviz`)",
            file=sys.stderr,
        )
        return 1
    parent = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise CliError(f"{path}: is a directory; -o names the image file to write")
    if not os.path.isdir(parent):
        why = "is not a directory" if os.path.exists(parent) else "does not exist"
        raise CliError(f"{path}: the output directory {parent} {why}")
    try:
        viz.draw(
            model.graph_def, path=path, gradients=args.gradients, collapse_scopes=args.collapse, format=fmt
        )
    except OSError as e:
        raise CliError(f"{path}: cannot write the drawing ({e.strerror or e})") from None
    except RuntimeError as e:  # no `dot`, or dot failed
        print(f"staticflow: error: {_one_line(e)}", file=sys.stderr)
        return 1
    print(f"wrote {path} ({fmt}, {model.description} {model.path})")
    return 0


def _sanitize(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_.-]", "_", re.sub(r":0$", "", name)).lstrip(".")
    return s or "output"


def _valid_list(names, limit: int = 20) -> str:
    names = list(names)
    shown = ", ".join(names[:limit])
    if len(names) > limit:
        shown += f", ... ({len(names) - limit} more)"
    return shown or "none"


def _resolve(model: Model, graph, name: str, what: str, specs: list[TensorSpec], any_tensor: bool):
    """The tensor `name` refers to: a signature key, a tensor name ("x:0") or an op name ("x")."""
    by_key = {s.key: s for s in specs}
    by_tensor = {s.name: s for s in specs}
    tname = name if re.search(r":\d+$", name) else name + ":0"
    spec = by_key.get(name) or by_tensor.get(tname)
    if spec is not None:
        return graph.get_tensor_by_name(spec.name)
    if any_tensor:
        try:
            return graph.get_tensor_by_name(tname)
        except (KeyError, ValueError):
            pass
    valid = [s.key for s in specs]
    if model.signature is not None:
        valid += [s.name for s in specs if s.name not in valid]
    hint = " (or any tensor of the graph)" if any_tensor else ""
    raise CliError(f"{model.path}: no {what} named {name!r}; valid {what}s: {_valid_list(valid)}{hint}")


# dtype kinds an input file may hold: booleans, numbers, strings (no objects, no records)
_NPY_KINDS = "biufcSU"


def read_npy(file: str, name: str) -> np.ndarray:
    """The array in a .npy file, checked before anything is allocated (CliError naming the file).

    The file must be a regular file; its header must parse (format 1.0 or 2.0, no pickled
    objects) and the bytes after it must be exactly what its shape and dtype say, so that a
    header that lies about the size is refused instead of allocating or reading garbage.
    """
    from numpy.lib import format as npy_format

    from staticflow.framework import errors
    from staticflow.framework.regular_file import open_regular

    what = f"(input {name!r})"
    try:
        f = open_regular(file, "an input")
    except FileNotFoundError:
        raise CliError(f"{file}: no such file {what}") from None
    except errors.FailedPreconditionError as e:
        raise CliError(f"{e} {what}") from None
    except OSError as e:
        raise CliError(f"{file}: cannot read ({e.strerror}) {what}") from None
    with f:
        size = os.fstat(f.fileno()).st_size
        if f.read(4) == b"PK\x03\x04":
            raise CliError(f"{file}: holds several arrays (an .npz), input {name!r} needs one .npy array")
        f.seek(0)
        try:
            version = npy_format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = npy_format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = npy_format.read_array_header_2_0(f)
            else:
                raise ValueError(f"format version {version[0]}.{version[1]}")
        except (ValueError, EOFError, TypeError, SyntaxError, OverflowError) as e:
            raise CliError(f"{file}: not a .npy file ({_one_line(e)}) {what}") from None
        if dtype.kind not in _NPY_KINDS or dtype.fields is not None or dtype.subdtype is not None:
            raise CliError(f"{file}: holds {dtype} values; inputs hold numbers, booleans or strings {what}")
        if any(d < 0 for d in shape):
            raise CliError(f"{file}: its header gives the invalid shape {list(shape)} {what}")
        count = 1
        for d in shape:  # Python ints: a lying header cannot overflow this
            count *= d
        nbytes = count * dtype.itemsize
        present = size - f.tell()
        if present != nbytes:
            raise CliError(
                f"{file}: its header says shape {list(shape)} {dtype} ({nbytes:,} bytes), but "
                f"{present:,} bytes follow it ({'truncated' if present < nbytes else 'extra bytes'}) {what}"
            )
        arr = np.fromfile(f, dtype=dtype, count=count)
    return arr.reshape(shape, order="F" if fortran else "C")


def _load_input(model: Model, name: str, file: str, tensor):
    arr = read_npy(file, name)
    try:
        want = tensor.dtype.np
    except (TypeError, ValueError, KeyError, AttributeError):
        raise CliError(
            f"{model.path}: input {name!r} ({tensor.name}) has a dtype staticflow cannot feed"
        ) from None
    if arr.dtype != want:
        if not np.can_cast(arr.dtype, want, "safe"):
            raise CliError(
                f"{file}: dtype {arr.dtype} does not fit input {name!r} "
                f"({tensor.name}, {tensor.dtype.name}); save it as {tensor.dtype.name}"
            )
        arr = arr.astype(want)
    shape = tensor.shape
    if not shape.is_compatible_with(arr.shape):
        raise CliError(
            f"{file}: shape {list(arr.shape)} does not fit input {name!r} "
            f"({tensor.name}, shape {_fmt_shape(shape.as_list() if shape.ndims is not None else None)})"
        )
    return arr


def _check_signature(model: Model, graph) -> None:
    """Every tensor the model's signature names is in the graph (CliError naming the first that is not)."""
    if model.signature is None:
        return
    for what, sig_map in (("input", model.signature.inputs), ("output", model.signature.outputs)):
        for key, info in sorted(sig_map.items()):
            try:
                graph.get_tensor_by_name(info.name)
            except (KeyError, ValueError, TypeError) as e:
                raise CliError(
                    f"{model.path}: signature {model.signature_key!r} names the tensor {info.name!r} for "
                    f"its {what} {key!r}, which the graph does not have ({_one_line(e)})"
                ) from None


def _parse_inputs(items) -> list[tuple[str, str]]:
    out = []
    for item in items or []:
        name, sep, file = item.partition("=")
        if not sep or not name or not file:
            raise CliError(f"--input {item!r}: expected NAME=FILE.npy")
        out.append((name, file))
    return out


def cmd_run(args) -> int:
    import staticflow as sf
    from staticflow import graph_util
    from staticflow.framework import errors

    inputs = _parse_inputs(args.input)
    out_dir = args.output_dir
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise CliError(f"{out_dir}: exists and is not a directory (-o names the directory for the outputs)")
    model = load_model(args.model, args.tag, args.signature)
    if model.kind == "graphdef":
        raise CliError(
            f"{model.path}: a GraphDef with variables but not their values; run a frozen GraphDef "
            f"(sf.graph_util.convert_variables_to_constants), a SavedModel, or a .meta with its checkpoint"
        )
    if model.kind == "meta" and model.checkpoint is None and _has_variables(model.graph_def):
        prefix = model.path[: -len(".meta")] if model.path.endswith(".meta") else model.path
        raise CliError(
            f"{model.path}: a meta graph without its checkpoint ({prefix}.index is missing), "
            f"so its variables have no values"
        )
    graph = sf.Graph()
    sess = sf.Session(graph=graph)
    try:
        with graph.as_default():
            try:
                if model.kind == "saved_model":
                    sf.saved_model.loader.load(sess, model.tags, model.path)
                elif model.kind == "meta":
                    saver = sf.train.import_meta_graph(model.meta_graph)
                    if saver is not None and model.checkpoint is not None:
                        saver.restore(sess, model.checkpoint)
                else:
                    sf.import_graph_def(model.graph_def, name="")
            except (errors.OpError, ValueError, TypeError, KeyError, RuntimeError, OSError) as e:
                raise CliError(f"{model.path}: cannot load the model ({_one_line(e)})") from None
        _check_signature(model, graph)
        in_specs = _inputs(model)
        out_specs = [s for s in _outputs(model, graph if model.signature is None else None) if s.note is None]
        feeds, fed_ops = {}, set()
        for name, file in inputs:
            t = _resolve(model, graph, name, "input", in_specs, any_tensor=False)
            if t.op.name in fed_ops:
                raise CliError(f"{model.path}: input {name!r} is given twice")
            fed_ops.add(t.op.name)
            feeds[t] = _load_input(model, name, file, t)
        if args.output:
            outs = [(n, _resolve(model, graph, n, "output", out_specs, any_tensor=True)) for n in args.output]
        else:
            outs = []
            for spec in out_specs:
                try:
                    outs.append((spec.key, graph.get_tensor_by_name(spec.name)))
                except (KeyError, ValueError) as e:
                    why = _one_line(e)
                    raise CliError(f"{model.path}: cannot run output {spec.name!r} ({why})") from None
            if not outs:
                raise CliError(f"{model.path}: the model has no outputs to run; name some with --output")
        # every placeholder the outputs need must be fed
        need = graph_util.extract_sub_graph(graph.as_graph_def(), [t.op.name for _, t in outs])
        missing = [n.name for n in need.node if n.op == "Placeholder" and n.name not in fed_ops]
        if missing:
            names = [s.key for s in in_specs if _node_name(s.name) in missing] or missing
            raise CliError(
                f"{model.path}: missing input(s) {', '.join(names)}; give each with --input NAME=FILE.npy"
            )
        try:
            values = sess.run([t for _, t in outs], feed_dict=feeds)
        except (errors.OpError, ValueError, TypeError, KeyError) as e:
            print(
                f"staticflow: error: {model.path}: running the model failed: {_one_line(e)}", file=sys.stderr
            )
            return 1
    finally:
        sess.close()
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise CliError(f"{out_dir}: cannot create the output directory ({e.strerror})") from None
    used: set[str] = set()
    for (name, t), value in zip(outs, values):
        base = _sanitize(name)
        fname, i = base, 1
        while fname in used:
            fname, i = f"{base}_{i}", i + 1
        used.add(fname)
        path = os.path.join(out_dir, fname + ".npy")
        value = np.asarray(value)
        try:
            np.save(path, value)
        except OSError as e:
            raise CliError(f"{path}: cannot write output {name!r} ({e.strerror or e})") from None
        print(f"{name} ({t.name}, {value.dtype} {list(value.shape)}) -> {path}")
    return 0


# ---------------------------------------------------------------------------
# the command line
# ---------------------------------------------------------------------------
MODEL_HELP = (
    "a GraphDef file (.pb binary or .pbtxt text; frozen or not), a meta graph file (.meta) "
    "or a SavedModel directory"
)


def build_parser() -> argparse.ArgumentParser:
    import staticflow as sf

    p = argparse.ArgumentParser(
        prog="staticflow",
        description="Draw, inspect and run staticflow / TensorFlow 1.x models.",
        epilog="Run `staticflow SUBCOMMAND --help` for a subcommand's options.",
    )
    p.add_argument("--version", action="version", version=f"staticflow {sf.__version__}")
    sub = p.add_subparsers(dest="command", metavar="SUBCOMMAND", required=True)

    def saved_model_opts(q, signature: bool = True):
        q.add_argument(
            "--tag",
            default=None,
            help="SavedModel: the meta graph's tags, comma separated (default: the only one, else 'serve')",
        )
        if signature:
            q.add_argument(
                "--signature",
                default=None,
                help=f"SavedModel / meta graph: the signature to use (default: {DEFAULT_SIGNATURE!r} "
                "or the only one)",
            )

    d = sub.add_parser("draw", help="draw a model's graph with graphviz", description="Draw a model's graph.")
    d.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    d.add_argument("-o", "--output", metavar="FILE", help="the image to write (default: MODEL's name + .png)")
    d.add_argument("--format", choices=("png", "svg", "pdf"), help="default: from FILE's extension, else png")
    d.add_argument(
        "--collapse",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="draw each top-level name scope as one node (default: only when the graph is large)",
    )
    d.add_argument(
        "--no-gradients",
        dest="gradients",
        action="store_false",
        help="leave out the gradient graph (and what is computed from it, such as optimizer updates)",
    )
    saved_model_opts(d, signature=False)
    d.set_defaults(func=cmd_draw)

    i = sub.add_parser(
        "inspect",
        help="print a model's inputs, outputs, op counts and parameter count",
        description="Print a model's inputs, outputs, op counts by type and parameter count.",
    )
    i.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    saved_model_opts(i)
    i.set_defaults(func=cmd_inspect)

    r = sub.add_parser(
        "run",
        help="run a frozen GraphDef or a SavedModel on .npy inputs",
        description=(
            "Run a frozen GraphDef or a SavedModel (restoring its variables; also a .meta next to its "
            "checkpoint) and write each output as DIR/<output name>.npy (a ':0' suffix dropped; characters "
            "other than letters, digits, '_', '.' and '-' become '_')."
        ),
    )
    r.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    r.add_argument(
        "--input",
        "-i",
        action="append",
        metavar="NAME=FILE.npy",
        help="feed FILE.npy to the input NAME: a tensor name (x:0), an op name (x) or a signature key; "
        "repeat for each input",
    )
    r.add_argument(
        "--output",
        nargs="+",
        metavar="NAME",
        help="what to compute (default: the signature's outputs, or the ops nobody consumes)",
    )
    r.add_argument("-o", "--output-dir", metavar="DIR", default=".", help="where to write the .npy files")
    saved_model_opts(r)
    r.set_defaults(func=cmd_run)
    return p


def main(argv=None) -> int:
    """The `staticflow` console script; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, or a usage error (already printed)
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    try:
        return args.func(args)
    except CliError as e:
        print(f"staticflow: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("staticflow: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `staticflow inspect MODEL | head`
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 141
    except Exception as e:  # a bug: still one line, no traceback
        if os.environ.get("STATICFLOW_DEBUG"):
            raise
        print(
            f"staticflow: internal error: {type(e).__name__}: {_one_line(e)} "
            f"(a bug in staticflow; STATICFLOW_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
