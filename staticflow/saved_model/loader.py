"""Loading a SavedModel into a session (TF1's tf.saved_model.loader)."""

from __future__ import annotations

import os

from staticflow.framework import errors
from staticflow.saved_model import constants


def _read_saved_model(export_dir: str):
    from google.protobuf import message, text_format

    from staticflow.protobuf import saved_model_pb2

    pb = os.path.join(export_dir, constants.SAVED_MODEL_FILENAME_PB)
    txt = os.path.join(export_dir, "saved_model.pbtxt")
    sm = saved_model_pb2.SavedModel()
    if os.path.isfile(pb):
        with open(pb, "rb") as f:
            data = f.read()
        try:
            sm.ParseFromString(data)
        except message.DecodeError as e:
            raise errors.DataLossError(
                None, None, f"{pb}: not a SavedModel, or truncated/corrupted ({e})"
            ) from None
        if not sm.meta_graphs or any(not m.HasField("graph_def") for m in sm.meta_graphs):
            raise errors.DataLossError(None, None, f"{pb}: not a SavedModel (no meta graph with a graph)")
        return sm
    if os.path.isfile(txt):
        with open(txt, "rb") as f:
            data = f.read()
        try:
            text_format.Parse(data.decode("utf-8"), sm)
        except (UnicodeDecodeError, text_format.ParseError) as e:
            raise errors.DataLossError(None, None, f"{txt}: not a SavedModel in text format ({e})") from None
        return sm
    raise OSError(
        f"SavedModel file does not exist at: {export_dir}{os.sep}{{saved_model.pbtxt|saved_model.pb}}"
    )


def maybe_saved_model_directory(export_dir) -> bool:
    export_dir = os.fspath(export_dir)
    return any(
        os.path.isfile(os.path.join(export_dir, n))
        for n in (constants.SAVED_MODEL_FILENAME_PB, "saved_model.pbtxt")
    )


def load(sess, tags, export_dir, import_scope=None, **saver_kwargs):
    """Load the meta graph tagged `tags` and its variables into `sess`; return the MetaGraphDef."""
    from staticflow.framework import meta_graph

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
