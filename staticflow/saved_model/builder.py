"""Writing a SavedModel: saved_model.pb (checksummed) + variables/variables.{index,data-<unique>}.

The directory is assembled under a temporary name beside `export_dir` and
renamed into place when complete, so a failed export leaves no export_dir.
"""

from __future__ import annotations

import os
import shutil

from staticflow.framework import ops as fops
from staticflow.framework.ops import GraphKeys
from staticflow.saved_model import constants, signature_constants, signature_def_utils


class SavedModelBuilder:
    """Builds one SavedModel directory (TF1's tf.saved_model.Builder, one meta graph with variables)."""

    def __init__(self, export_dir):
        self._export_dir = os.fspath(export_dir)
        if os.path.exists(self._export_dir):
            raise AssertionError(
                f"Export directory already exists, and isn't empty. Please choose a different export "
                f"directory, or delete all the contents of the specified directory: {self._export_dir}"
                if os.listdir(self._export_dir)
                else f"Export directory already exists: {self._export_dir}"
            )
        self._meta_graphs: list = []
        self._tmp = None

    def add_meta_graph_and_variables(
        self,
        sess,
        tags,
        signature_def_map=None,
        assets_collection=None,
        legacy_init_op=None,
        clear_devices=False,
        main_op=None,
        strip_default_attrs=False,
        saver=None,
        train_op=None,
    ):

        if self._meta_graphs:
            raise AssertionError("Graph state including variables and assets has already been saved.")
        g = sess.graph
        parent = os.path.dirname(os.path.abspath(self._export_dir))
        os.makedirs(parent, exist_ok=True)
        self._tmp = os.path.join(
            parent, f".{os.path.basename(self._export_dir)}.tmp-{os.getpid()}-{os.urandom(4).hex()}"
        )
        var_dir = os.path.join(self._tmp, constants.VARIABLES_DIRECTORY)
        os.makedirs(var_dir)
        try:
            self._meta_graphs.append(
                self._write(
                    sess, g, var_dir, tags, signature_def_map, legacy_init_op, main_op, clear_devices, saver
                )
            )
        except BaseException:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
            raise

    def _write(
        self, sess, g, var_dir, tags, signature_def_map, legacy_init_op, main_op, clear_devices, saver
    ):
        from staticflow.train import meta_graph
        from staticflow.train import saver as saver_mod

        with g.as_default():
            init_op = main_op if main_op is not None else legacy_init_op
            if init_op is not None:
                key = constants.MAIN_OP_KEY if main_op is not None else constants.LEGACY_INIT_OP_KEY
                op = init_op if isinstance(init_op, fops.Operation) else init_op.op
                g.clear_collection(key)
                g.add_to_collection(key, op)
            if saver is None:
                if g.get_collection(GraphKeys.GLOBAL_VARIABLES) or g.get_collection(
                    saver_mod.SAVEABLE_OBJECTS
                ):
                    saver = saver_mod.Saver(max_to_keep=0)
            saver_def = None
            if saver is not None:
                saver.save(
                    sess,
                    os.path.join(var_dir, constants.VARIABLES_FILENAME),
                    write_meta_graph=False,
                    write_state=False,
                )
                saver_def = saver.saver_def
            mg = meta_graph.create_meta_graph_def(
                graph=g,
                saver_def=saver_def,
                clear_devices=clear_devices,
                tags=list(tags),
                signature_def_map=signature_def_map,
            )
        return mg

    def save(self, as_text=False) -> str:
        """Write saved_model.pb and move the directory into place; return its path."""
        from google.protobuf import text_format

        from staticflow.protobuf import saved_model_pb2
        from staticflow.train import checkpoint_io
        from staticflow.train.meta_graph import seal

        if self._tmp is None:
            raise AssertionError("add_meta_graph_and_variables must be called before save")
        sm = saved_model_pb2.SavedModel(saved_model_schema_version=constants.SAVED_MODEL_SCHEMA_VERSION)
        sm.meta_graphs.extend(self._meta_graphs)
        try:
            if as_text:
                name, data = constants.SAVED_MODEL_FILENAME_PBTXT, text_format.MessageToString(sm).encode()
            else:
                name, data = constants.SAVED_MODEL_FILENAME_PB, sm.SerializeToString()
            # checksummed as meta graph files are (TensorFlow skips the header)
            checkpoint_io.atomic_write(os.path.join(self._tmp, name), seal(data, as_text), "saved_model")
            os.rename(self._tmp, self._export_dir)
        except BaseException:
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise
        finally:
            self._tmp = None
        return self._export_dir


Builder = SavedModelBuilder


def simple_save(session, export_dir, inputs, outputs, legacy_init_op=None):
    """Save a serving SavedModel: tag "serve", signature "serving_default" (predict) of inputs -> outputs."""
    sig = signature_def_utils.predict_signature_def(inputs, outputs)
    b = SavedModelBuilder(export_dir)
    b.add_meta_graph_and_variables(
        session,
        tags=["serve"],
        signature_def_map={signature_constants.DEFAULT_SERVING_SIGNATURE_DEF_KEY: sig},
        legacy_init_op=legacy_init_op,
    )
    b.save()
