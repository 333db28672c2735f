"""Loading a SavedModel into a session (TF1's tf.saved_model.loader)."""

from __future__ import annotations

import os

from staticflow.framework import errors
from staticflow.saved_model import constants


def _read_saved_model(export_dir: str):
    """The SavedModel message of export_dir's saved_model.pb (or .pbtxt), verified.

    A checksum header (see train/meta_graph.py) is checked when present; a
    file that is not a regular file (a FIFO, a device) is refused at once.
    """
    from staticflow.framework.regular_file import read_regular
    from staticflow.protobuf import saved_model_pb2
    from staticflow.train.meta_graph import parse_sealed

    sm = saved_model_pb2.SavedModel()
    for name in (constants.SAVED_MODEL_FILENAME_PB, constants.SAVED_MODEL_FILENAME_PBTXT):
        path = os.path.join(export_dir, name)
        if not os.path.exists(path):
            continue
        try:
            data = read_regular(path, "a SavedModel file")
        except OSError as e:
            raise errors.FailedPreconditionError(
                None, None, f"{path}: cannot read the SavedModel: {e.strerror}"
            ) from None
        parse_sealed(
            sm,
            data,
            path,
            "SavedModel",
            lambda m: len(m.meta_graphs) > 0 and all(mg.HasField("graph_def") for mg in m.meta_graphs),
        )
        return sm
    raise OSError(
        f"SavedModel file does not exist at: {export_dir}{os.sep}{{saved_model.pbtxt|saved_model.pb}}"
    )


def maybe_saved_model_directory(export_dir) -> bool:
    """Whether export_dir has a saved_model.pb or saved_model.pbtxt (of whatever kind: reading
    it refuses one that is not a regular file)."""
    export_dir = os.fspath(export_dir)
    return any(
        os.path.exists(os.path.join(export_dir, n))
        for n in (constants.SAVED_MODEL_FILENAME_PB, constants.SAVED_MODEL_FILENAME_PBTXT)
    )


def load(sess, tags, export_dir, import_scope=None, **saver_kwargs):
    """Load the meta graph tagged `tags` and its variables into `sess`; return the MetaGraphDef."""
    from staticflow.train import meta_graph

    export_dir = os.fspath(export_dir)
    if isinstance(tags, str):
        tags = [tags]
    sm = _read_saved_model(export_dir)
    found = [m for m in sm.meta_graphs if set(m.meta_info_def.tags) == set(tags)]
    if not found:
        available = [list(m.meta_info_def.tags) for m in sm.meta_graphs]
        raise RuntimeError(
            f"MetaGraphDef associated with tags {sorted(tags)} could not be found in SavedModel "
            f"{export_dir}. Available tags: {available}"
        )
    mg = found[0]
    with sess.graph.as_default():
        saver = meta_graph.import_meta_graph(mg, import_scope=import_scope, **saver_kwargs)
        if saver is not None:
            prefix = os.path.join(export_dir, constants.VARIABLES_DIRECTORY, constants.VARIABLES_FILENAME)
            saver.restore(sess, prefix)
        g = sess.graph
        for key in (constants.MAIN_OP_KEY, constants.LEGACY_INIT_OP_KEY):
            ops = g.get_collection(key)
            if ops:
                sess.run(ops[0])
                break
    return mg
