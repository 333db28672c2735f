"""Record TensorFlow's static shapes for the graphs of static_shape_cases.py.

Run with a Python that has TensorFlow (tf.compat.v1 graph mode is the reference) and, for
tf.layers and the RNN cells, tf_keras (TensorFlow 2.16 and later keep them there; the
script selects it with TF_USE_LEGACY_KERAS=1):

    python tests/framework/make_static_shapes.py

It writes tests/fixtures/tensorflow/static_shapes.json: for each case, the flattened
list of output shapes (a list of ints and nulls, or null for an unknown rank), or
{"error": <exception type>} when TensorFlow rejects the graph, or {"unavailable": ...} for
APIs this TensorFlow lacks (tf.layers needs Keras 2); those cases carry TF1's shapes in
static_shape_cases.EXPECTED instead.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE.parent / "fixtures" / "tensorflow" / "static_shapes.json"


def load_cases():
    spec = importlib.util.spec_from_file_location("static_shape_cases", HERE / "static_shape_cases.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.CASES


def flatten(x) -> list:
    if isinstance(x, (list, tuple)):
        return [t for y in x for t in flatten(y)]
    return [x]


def shape_of(t):
    s = t.shape
    return None if s.ndims is None else [d if isinstance(d, int) or d is None else d.value for d in s]


def record(tf) -> dict:
    out = {}
    for name, fn in load_cases().items():
        g = tf.Graph()
        with g.as_default():
            try:
                out[name] = [shape_of(t) for t in flatten(fn(tf))]
            except (ValueError, TypeError) as e:
                out[name] = {"error": type(e).__name__}
            except AttributeError as e:  # tf.layers and the RNN cells need Keras 2 (tf_keras)
                out[name] = {"unavailable": str(e).splitlines()[0]}
    return out


def main() -> None:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tensorflow.compat.v1 as tf

    tf.disable_v2_behavior()
    result = {"tensorflow": tf.__version__, "shapes": record(tf)}
    OUT.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(result['shapes'])} cases to {OUT}")


if __name__ == "__main__":
    main()
