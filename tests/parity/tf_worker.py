"""The TensorFlow side of the parity suite: a long-lived worker process.

Run with the parity environment's Python (tensorflow-cpu, see requirements.txt);
it reads requests from stdin and answers on stdout in the framed protocol of
protocol.py, until stdin closes or an "exit" request comes. A request that fails
inside TensorFlow is answered with the error text; the worker goes on.

Requests (the header's "cmd"):
  hello    versions of TensorFlow and NumPy
  cases    a batch of graph cases: import each GraphDef (its own tf.Graph), report
           static shapes and dtypes of named tensors, run steps of fetches and
           feeds, and the gradients of a weighted sum of outputs
  program  run a TF1-style program file: `program(tf)` with tf.compat.v1
  crash    end the process at once (tests the client's recovery)
  exit     end the process
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
# tf.compat.v1.layers (TF1's tf.layers) are the Keras 2 layers of the tf_keras package
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import protocol  # noqa: E402

MAX_ERROR_CHARS = 4000


def _error_text(e: BaseException) -> str:
    """The error's type and message, without the Python stack TensorFlow appends."""
    text = str(e)
    node = re.findall(r"^Node: '([^']*)'$", text, re.M)
    if node:  # a run-time OpError: the message follows the last "Node: 'name'" line
        text = text[text.rindex(f"Node: '{node[-1]}'") :].split("\n", 1)[-1]
        text = text.split("\n\nOriginal stack trace")[0]
        text = f"{' '.join(text.split())} (node {node[-1]})"
    text = f"{type(e).__name__}: {text}"
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + " ..."


def _shape_json(shape):
    if shape.rank is None:
        return None
    return [None if d is None else int(d) for d in shape.as_list()]


def _to_numpy(v) -> np.ndarray:
    v = protocol.as_array(v)
    if v.dtype.kind == "O":
        v = np.array(v.tolist(), dtype=object).reshape(v.shape)
    return v


class Worker:
    def __init__(self, tf):
        self.tf = tf
        # each op runs as declared: no graph rewriting (constant folding, layout or
        # arithmetic rewrites) between the GraphDef and TensorFlow's kernels
        self.config = tf.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
        self.config.graph_options.rewrite_options.disable_meta_optimizer = True
        self.config.graph_options.optimizer_options.opt_level = tf.OptimizerOptions.L0

    def hello(self, header, blobs):
        return {"tensorflow": self.tf.__version__, "numpy": np.__version__}, []

    def cases(self, header, blobs):
        arrays = protocol.unpack_arrays(blobs[-1]) if header.get("arrays", False) else {}
        results, out = [], {}
        for i, case in enumerate(header["cases"]):
            results.append(self._case(i, case, blobs[case["graph"]], arrays, out))
        return {"results": results}, [protocol.pack_arrays(out)]

    def _case(self, ci, case, graph_bytes, arrays, out) -> dict:
        tf = self.tf
        res = {"import_error": None, "shapes": {}, "steps": [], "grad": None}
        g = tf.Graph()
        with g.as_default():
            try:
                gd = tf.GraphDef.FromString(graph_bytes)
                tf.import_graph_def(gd, name="")
            except Exception as e:
                res["import_error"] = _error_text(e)
                return res
            for name in case.get("shapes", []):
                t = g.get_tensor_by_name(name)
                res["shapes"][name] = {"shape": _shape_json(t.shape), "dtype": t.dtype.base_dtype.name}
            grads = None
            spec = case.get("grad")
            if spec:
                res["grad"] = {"error": None, "outputs": []}
                try:
                    ys = [g.get_tensor_by_name(n) for n in spec["ys"]]
                    terms = [
                        tf.reduce_sum(y * tf.constant(arrays[w], dtype=y.dtype.base_dtype))
                        for y, w in zip(ys, spec["weights"])
                    ]
                    loss = tf.add_n(terms)
                    grads = tf.gradients(loss, [g.get_tensor_by_name(n) for n in spec["xs"]])
                    # sparse gradients (of a gather) compare as the dense tensors they stand for
                    grads = [x if x is None else tf.convert_to_tensor(x) for x in grads]
                except Exception as e:
                    res["grad"]["error"] = _error_text(e)
            with tf.Session(graph=g, config=self.config) as sess:
                for si, step in enumerate(case.get("steps", [])):
                    feeds = {g.get_tensor_by_name(k): arrays[v] for k, v in step.get("feeds", {}).items()}
                    fetches = [g.get_tensor_by_name(n) for n in step.get("fetches", [])]
                    targets = [g.get_operation_by_name(n) for n in step.get("targets", [])]
                    sres = {"error": None, "outputs": []}
                    res["steps"].append(sres)
                    try:
                        values = sess.run(fetches + targets, feeds)[: len(fetches)]
                    except Exception as e:
                        sres["error"] = _error_text(e)
                        continue
                    for k, v in enumerate(values):
                        key = f"{ci}.{si}.{k}"
                        out[key] = _to_numpy(v)
                        sres["outputs"].append(key)
                if grads is not None:
                    feeds = {g.get_tensor_by_name(k): arrays[v] for k, v in spec.get("feeds", {}).items()}
                    present = [x for x in grads if x is not None]
                    try:
                        values = iter(sess.run(present, feeds))
                    except Exception as e:
                        res["grad"]["error"] = _error_text(e)
                        return res
                    for k, x in enumerate(grads):
                        if x is None:
                            res["grad"]["outputs"].append(None)
                            continue
                        key = f"{ci}.g.{k}"
                        out[key] = _to_numpy(next(values))
                        res["grad"]["outputs"].append(key)
        return res

    def program(self, header, blobs):
        tf = self.tf
        path = header["path"]
        try:
            spec = importlib.util.spec_from_file_location("parity_program", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            tf.reset_default_graph()
            result = module.program(tf)
            arrays = {str(k): _to_numpy(v) for k, v in result.items()}
        except Exception as e:
            tb = traceback.format_exc(limit=-4)
            return {"error": _error_text(e), "traceback": tb}, []
        finally:
            tf.reset_default_graph()
        return {"error": None}, [protocol.pack_arrays(arrays)]


def main() -> int:
    # The protocol owns the original stdin/stdout; anything TensorFlow or a program
    # prints goes to stderr, so it cannot corrupt a message.
    proto_in = os.fdopen(os.dup(0), "rb")
    proto_out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    import tensorflow.compat.v1 as tf

    tf.disable_v2_behavior()
    # one thread per op, as the test process's own engine: two workers share two cores
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    worker = Worker(tf)
    while True:
        try:
            header, blobs = protocol.read_message(proto_in)
        except protocol.ProtocolError:
            return 0
        cmd = header.get("cmd")
        if cmd == "exit":
            protocol.write_message(proto_out, {"ok": True})
            return 0
        if cmd == "crash":
            os._exit(3)
        handler = {"hello": worker.hello, "cases": worker.cases, "program": worker.program}.get(cmd)
        try:
            if handler is None:
                raise ValueError(f"unknown request {cmd!r}")
            reply, out = handler(header, blobs)
            reply["ok"] = True
        except Exception as e:  # a bug of the suite itself: report it, keep serving
            reply, out = {"ok": False, "error": _error_text(e), "traceback": traceback.format_exc()}, []
        protocol.write_message(proto_out, reply, out)


if __name__ == "__main__":
    sys.exit(main())
