"""sf.train.Saver: checkpoints of a session's variables (TF1's tf.train.Saver).

``save`` copies the variables out of the session's storage and writes a
checkpoint (checkpoint_io: PREFIX.index + PREFIX.data-<unique>, checksummed;
the rename of the index commits it, so saving again to the same prefix never
leaves it unloadable), the meta graph PREFIX.meta, and the directory's
``checkpoint`` file, then deletes checkpoints beyond ``max_to_keep`` (never
a file outside that directory). Missing parent directories are created.
``restore`` checks every variable against the checkpoint (present, same dtype
and shape: all mismatches are reported at once), reads and verifies every
tensor, and only then writes the values straight into the session's variable
storage and marks the variables initialized -- nothing is half restored.

The saver also adds a few nodes under its name scope ("save/"): the
filename constant, the checkpoint keys and the variables they belong to,
and a restore op. They make its SaverDef refer to real nodes, as
TensorFlow's does, and let ``import_meta_graph`` rebuild the same saver; they
are not run (saving and restoring happen in Python, not through ops).
"""

from __future__ import annotations

import os

import numpy as np

from staticflow.framework import errors
from staticflow.framework import ops as fops
from staticflow.framework.ops import GraphKeys
from staticflow.train import checkpoint_io
from staticflow.train.checkpoint_io import (
    CheckpointReader,
    checkpoint_exists,
    get_checkpoint_state,
    latest_checkpoint,
)

SAVEABLE_OBJECTS = "saveable_objects"


def _saver_pb():
    from staticflow.protobuf import saver_pb2

    return saver_pb2


def _variable_op(x) -> fops.Operation:
    from staticflow.ops.state_ops import Variable

    if isinstance(x, Variable):
        return x.op
    if isinstance(x, fops.Tensor):
        x = x.op
    if isinstance(x, fops.Operation) and x.type == "VariableV2":
        return x
    raise TypeError(f"Saver: {x!r} is not a variable (sf.Variable, or a VariableV2 op or tensor)")


def _default_var_list(graph: fops.Graph) -> list:
    return graph.get_collection(GraphKeys.GLOBAL_VARIABLES) + graph.get_collection(SAVEABLE_OBJECTS)


def _as_dict(var_list) -> dict[str, fops.Operation]:
    """{checkpoint key: VariableV2 op}; keys are op names unless var_list is a dict."""
    out: dict[str, fops.Operation] = {}
    if isinstance(var_list, dict):
        items = list(var_list.items())
    else:
        items = []
        seen = set()
        for v in var_list:
            op = _variable_op(v)
            if op in seen:
                continue
            seen.add(op)
            items.append((op.name, v))
    for key, v in items:
        op = _variable_op(v)
        if key in out and out[key] is not op:
            raise ValueError(f"At least two variables have the same name: {key}")
        out[key] = op
    return out


class Saver:
    """Saves and restores variables (TF1's tf.train.Saver)."""

    def __init__(
        self,
        var_list=None,
        reshape=False,
        sharded=False,
        max_to_keep=5,
        keep_checkpoint_every_n_hours=10000.0,
        name=None,
        restore_sequentially=False,
        saver_def=None,
        builder=None,
        defer_build=False,
        allow_empty=False,
        write_version=2,
        pad_step_number=False,
        save_relative_paths=False,
        filename=None,
    ):
        if reshape:
            raise NotImplementedError("Saver(reshape=True) is not supported by staticflow")
        self._pad_step_number = pad_step_number
        self._filename = filename
        self._last_checkpoints: list[tuple[str, float]] = []
        self._next_preserve = checkpoint_io.now() + keep_checkpoint_every_n_hours * 3600
        if saver_def is not None:
            self._graph = fops.get_default_graph()
            self.saver_def = saver_def
            self._max_to_keep = saver_def.max_to_keep
            self._keep_hours = saver_def.keep_checkpoint_every_n_hours
            self._next_preserve = checkpoint_io.now() + self._keep_hours * 3600
            self._vars = self._vars_from_graph(saver_def)
            return
        self._max_to_keep = max_to_keep
        self._keep_hours = keep_checkpoint_every_n_hours
        if var_list is None:
            self._graph = fops.get_default_graph()
            var_list = _default_var_list(self._graph)
        elif not isinstance(var_list, dict):
            var_list = list(var_list)
        vals = list(var_list.values()) if isinstance(var_list, dict) else var_list
        self._graph = _variable_op(vals[0]).graph if vals else fops.get_default_graph()
        self._vars = _as_dict(var_list)
        if not self._vars and not allow_empty:
            raise ValueError("No variables to save")
        for key, op in self._vars.items():
            if op.graph is not self._graph:
                raise ValueError(f"Saver: variable {key} ({op.name}) is from another graph")
        self.saver_def = self._build(name or "save")

    # --- the saver's nodes ---------------------------------------------------------------------
    def _build(self, name: str):
        from staticflow.ops import array_ops

        g = self._graph
        with g.as_default(), g.control_dependencies(None), g.name_scope(name):
            filename = array_ops.constant(self._filename or "model", name="Const")
            keys = list(self._vars)
            if keys:
                array_ops.constant(keys, name="tensor_names")
                array_ops.constant([op.name for op in self._vars.values()], name="variable_names")
            save = array_ops.identity(filename, name="control_dependency")
            restore = array_ops.no_op(name="restore_all")
        sd = _saver_pb().SaverDef(
            filename_tensor_name=filename.name,
            save_tensor_name=save.name,
            restore_op_name=restore.name,
            max_to_keep=self._max_to_keep or 0,
            sharded=False,
            keep_checkpoint_every_n_hours=float(self._keep_hours),
            version=_saver_pb().SaverDef.V2,
        )
        return sd

    def _vars_from_graph(self, saver_def) -> dict[str, fops.Operation]:
        g = self._graph
        scope = saver_def.restore_op_name.rpartition("/")[0]
        try:
            keys = g.get_operation_by_name(f"{scope}/tensor_names").get_attr("value")
            names = g.get_operation_by_name(f"{scope}/variable_names").get_attr("value")
        except KeyError:
            return _as_dict(_default_var_list(g))  # e.g. a SaverDef written by another program
        parent = scope.rpartition("/")[0]  # the import scope, if any
        out = {}
        for k, n in zip(np.ravel(keys), np.ravel(names)):
            k = k.decode() if isinstance(k, bytes) else str(k)
            n = n.decode() if isinstance(n, bytes) else str(n)
            op = None
            for candidate in ([f"{parent}/{n}"] if parent else []) + [n]:
                try:
                    op = g.get_operation_by_name(candidate)
                    break
                except KeyError:
                    continue
            if op is None:
                raise ValueError(f"SaverDef {saver_def.restore_op_name}: variable {n} is not in the graph")
            out[k] = op
        return out

    # --- properties ----------------------------------------------------------------------------
    @property
    def last_checkpoints(self) -> list[str]:
        return [p for p, _ in self._last_checkpoints]

    def as_saver_def(self):
        return self.saver_def

    def to_proto(self, export_scope=None):
        return self.saver_def

    @staticmethod
    def from_proto(saver_def, import_scope=None):
        return Saver(saver_def=saver_def, name=import_scope)

    def set_last_checkpoints_with_time(self, last_checkpoints_with_time) -> None:
        self._last_checkpoints = [(p, float(t)) for p, t in last_checkpoints_with_time]

    def recover_last_checkpoints(self, checkpoint_paths) -> None:
        """Take over existing checkpoints (those that still exist) for max_to_keep bookkeeping."""
        now = checkpoint_io.now()
        self._last_checkpoints = [(p, now) for p in checkpoint_paths if checkpoint_exists(p)]

    def build(self) -> None:
        pass

    # --- saving --------------------------------------------------------------------------------
    def _values(self, sess) -> list[tuple[str, np.ndarray]]:
        if sess.graph is not self._graph:
            raise ValueError("Saver: the session's graph is not the graph of the saver's variables")
        store = sess._variables
        with sess._lock:
            out = []
            for key, op in self._vars.items():
                if not store.is_initialized(op.name):
                    raise errors.FailedPreconditionError(
                        None,
                        op,
                        f"Attempting to save uninitialized variable {op.name} (checkpoint key {key})",
                    )
                out.append((key, store.read(op)))
        return out

    def save(
        self,
        sess,
        save_path,
        global_step=None,
        latest_filename=None,
        meta_graph_suffix="meta",
        write_meta_graph=True,
        write_state=True,
        strip_default_attrs=False,
        save_debug_info=False,
    ):
        """Write a checkpoint of the variables; return its path prefix."""
        save_path = os.fspath(save_path)
        if global_step is not None:
            if not isinstance(global_step, (int, np.integer)):
                global_step = int(sess.run(global_step))
            step = f"{int(global_step):08d}" if self._pad_step_number else str(int(global_step))
            prefix = f"{save_path}-{step}"
        else:
            prefix = save_path
        if latest_filename and os.path.basename(latest_filename) != latest_filename:
            raise ValueError(f"'latest_filename' must not contain a path: {latest_filename}")
        values = self._values(sess)
        save_dir = os.path.dirname(os.path.abspath(prefix))
        try:
            os.makedirs(save_dir, exist_ok=True)  # as TensorFlow's V2 checkpoint writer does
        except (FileExistsError, NotADirectoryError):
            raise ValueError(f"Parent directory of {save_path} is not a directory, can't save.") from None
        checkpoint_io.write_checkpoint(prefix, values)
        if write_meta_graph:
            self.export_meta_graph(f"{prefix}.{meta_graph_suffix}", strip_default_attrs=strip_default_attrs)
        if write_state:
            self._update_state(save_dir, prefix, latest_filename, meta_graph_suffix)
        return prefix

    def _update_state(self, save_dir, prefix, latest_filename, meta_graph_suffix) -> None:
        now = checkpoint_io.now()
        # Only checkpoints in this directory are listed, and deleted beyond max_to_keep: paths
        # taken over from elsewhere (recover_last_checkpoints, another directory) are dropped
        # from the list untouched.
        here = os.path.abspath(prefix)
        kept = [
            (p, t)
            for p, t in self._last_checkpoints
            if os.path.abspath(p) != here and checkpoint_io.confined(os.path.abspath(p), save_dir) is not None
        ] + [(prefix, now)]
        delete = []
        if self._max_to_keep:
            while len(kept) > self._max_to_keep:
                p, t = kept.pop(0)
                if self._keep_hours and t > self._next_preserve:
                    self._next_preserve += self._keep_hours * 3600
                    continue  # preserved for keep_checkpoint_every_n_hours
                delete.append(p)
        checkpoint_io.write_checkpoint_state(
            save_dir,
            here,
            [os.path.abspath(p) for p, _ in kept],
            [t for _, t in kept],
            latest_filename=latest_filename,
        )
        self._last_checkpoints = kept
        for p in delete:
            checkpoint_io._step("delete_old", p)
            checkpoint_io.delete_checkpoint(p, meta_graph_suffix)

    def export_meta_graph(
        self,
        filename=None,
        collection_list=None,
        as_text=False,
        export_scope=None,
        clear_devices=False,
        clear_extraneous_savers=False,
        strip_default_attrs=False,
        save_debug_info=False,
    ):
        from staticflow.train import meta_graph

        return meta_graph.export_meta_graph(
            filename=filename,
            graph=self._graph,
            saver_def=self.saver_def,
            collection_list=collection_list,
            as_text=as_text,
            export_scope=export_scope,
            clear_devices=clear_devices,
        )

    # --- restoring -----------------------------------------------------------------------------
    def restore(self, sess, save_path) -> None:
        """Load the variables from a checkpoint into the session (all or none)."""
        if save_path is None:
            raise ValueError("Can't load save_path when it is None.")
        if sess.graph is not self._graph:
            raise ValueError("Saver: the session's graph is not the graph of the saver's variables")
        with CheckpointReader(save_path) as reader:
            self._restore_from(sess, reader)

    def _restore_from(self, sess, reader: CheckpointReader) -> None:
        missing, mismatched = [], []
        for key, op in self._vars.items():
            if key not in reader:
                missing.append(f"{key} (variable {op.name})" if key != op.name else key)
                continue
            want_dtype, want_shape = op.get_attr("dtype"), op.get_attr("shape")
            got_dtype, got_shape = reader.dtype(key), reader.shape(key)
            problems = []
            if got_dtype != want_dtype:
                problems.append(f"dtype {got_dtype.name} in the checkpoint, {want_dtype.name} in the graph")
            if not want_shape.is_compatible_with(got_shape) or (
                want_shape.ndims is not None and want_shape.ndims != len(got_shape)
            ):
                problems.append(f"shape {got_shape} in the checkpoint, {want_shape.as_list()} in the graph")
            if problems:
                mismatched.append(f"{key}: " + "; ".join(problems))
        if missing:
            raise errors.NotFoundError(
                None,
                None,
                f"Restoring from checkpoint {reader.prefix} failed: {len(missing)} variable(s) not found in "
                f"the checkpoint: {', '.join(missing)}"
                + (f"; also mismatched: {' | '.join(mismatched)}" if mismatched else ""),
            )
        if mismatched:
            raise errors.InvalidArgumentError(
                None,
                None,
                f"Restoring from checkpoint {reader.prefix} failed: {len(mismatched)} variable(s) differ "
                f"from the graph: " + " | ".join(mismatched),
            )
        values = reader.get_tensors(list(self._vars))
        store = sess._variables
        with sess._lock:
            for key, op in self._vars.items():
                shape = store.shape_of(op)
                if shape != values[key].shape:
                    raise errors.InvalidArgumentError(
                        None,
                        op,
                        f"Restoring {key}: shape {list(values[key].shape)} in the checkpoint, "
                        f"{list(shape)} in the session",
                    )
            for key, op in self._vars.items():
                store.write(op, values[key])
                store.mark_initialized(op.name)


# ---------------------------------------------------------------------------
# reading checkpoints without a graph
# ---------------------------------------------------------------------------
def load_checkpoint(ckpt_dir_or_file) -> CheckpointReader:
    return CheckpointReader(ckpt_dir_or_file)


def list_variables(ckpt_dir_or_file) -> list[tuple[str, list[int]]]:
    """[(name, shape)] of every tensor in a checkpoint, sorted by name."""
    with CheckpointReader(ckpt_dir_or_file) as reader:
        return [(n, reader.shape(n)) for n in reader.names()]


def load_variable(ckpt_dir_or_file, name: str) -> np.ndarray:
    """One tensor's value from a checkpoint (its checksum verified)."""
    if name.endswith(":0"):
        name = name[:-2]
    with CheckpointReader(ckpt_dir_or_file) as reader:
        return reader.get_tensor(name)


def checkpoint_exists_v1(checkpoint_prefix) -> bool:
    return checkpoint_exists(checkpoint_prefix)


def update_checkpoint_state(
    save_dir, model_checkpoint_path, all_model_checkpoint_paths=None, latest_filename=None
):
    """Write the directory's `checkpoint` file. Relative paths are relative to `save_dir`; a path
    outside it is a ValueError (staticflow's `checkpoint` files only name their own directory)."""
    paths = list(all_model_checkpoint_paths or [])
    if not paths or paths[-1] != model_checkpoint_path:
        paths.append(model_checkpoint_path)
    checkpoint_io.write_checkpoint_state(
        save_dir, model_checkpoint_path, paths, latest_filename=latest_filename
    )


def get_checkpoint_mtimes(checkpoint_prefixes) -> list[float]:
    return [
        os.path.getmtime(p + checkpoint_io.INDEX_SUFFIX) for p in checkpoint_prefixes if checkpoint_exists(p)
    ]


__all__ = [
    "Saver",
    "get_checkpoint_state",
    "latest_checkpoint",
    "list_variables",
    "load_checkpoint",
    "load_variable",
    "update_checkpoint_state",
]
