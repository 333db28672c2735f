"""sf.contrib: the parts of TF1's tf.contrib that were thin aliases of core TensorFlow 1.x.

Provided (loaded on first use): `contrib.rnn` (the core cells, wrappers and
static RNNs), `contrib.layers` (fully_connected, conv2d, batch_norm, the xavier
and variance-scaling initializers, the l1/l2 regularizers, ...),
`contrib.framework` (arg_scope, add_arg_scope, the global step and variable
helpers), `contrib.seq2seq.sequence_loss`, and `contrib.slim`'s layer and
variable functions (the same objects as contrib.layers and contrib.framework).

The rest of tf.contrib were libraries of their own (random forests, boosted
trees, factorization, the TensorBoard projector, tf.contrib.learn, ...):
accessing one raises an error that names it.
"""

from __future__ import annotations

import importlib

_PROVIDED = ("framework", "layers", "rnn", "seq2seq", "slim")

# tf.contrib parts that were separate libraries, with what they were
_SEPARATE = {
    "tensor_forest": "random forests (TensorForest)",
    "boosted_trees": "gradient boosted trees",
    "factorization": "matrix factorization, WALS, k-means and GMM clustering",
    "tensorboard": "TensorBoard plugins, e.g. the projector (contrib.tensorboard.plugins.projector)",
    "learn": "tf.contrib.learn, the Estimator library with its datasets (e.g. learn.datasets.mnist)",
    "estimator": "Estimator extensions",
    "keras": "a copy of Keras",
    "distributions": "probability distributions (later TensorFlow Probability)",
    "bayesflow": "Bayesian inference tools (later TensorFlow Probability)",
    "gan": "TF-GAN",
    "timeseries": "time-series models",
    "tpu": "TPU support",
    "lite": "TensorFlow Lite",
    "crf": "linear-chain conditional random fields",
    "cudnn_rnn": "cuDNN RNN kernels",
    "legacy_seq2seq": "the legacy sequence-to-sequence models",
    "data": "tf.contrib.data (use sf.data where provided)",
    "losses": "tf.contrib.losses (use sf.losses: its argument orders differ)",
    "metrics": "tf.contrib.metrics streaming metrics",
    "training": "training utilities such as bucketing and HParams",
    "opt": "extra optimizers",
    "image": "image operations",
    "graph_editor": "the graph editor",
    "predictor": "predictors for saved models",
    "quantize": "quantization rewrites",
    "text": "text operations",
    "feature_column": "feature columns",
}


class ContribNotProvidedError(AttributeError):
    """A part of tf.contrib that staticflow does not provide."""


def __getattr__(name: str):
    if name in _PROVIDED:
        module = importlib.import_module(f"staticflow.contrib.{name}")
        globals()[name] = module
        return module
    if name.startswith("__"):
        raise AttributeError(name)
    what = _SEPARATE.get(name)
    detail = (
        f"it was {what}, a library of its own inside tf.contrib"
        if what
        else "it was not an alias of core TF1"
    )
    raise ContribNotProvidedError(
        f"sf.contrib.{name} is not provided by staticflow: {detail}. staticflow provides "
        "contrib.rnn, contrib.layers, contrib.framework, contrib.seq2seq.sequence_loss and contrib.slim's "
        "layer functions."
    )


def __dir__():
    return sorted(list(globals()) + list(_PROVIDED))
