"""tinyclf: a tiny classifier written against TF1's API with `import staticflow as tf`,
the model package of the testing example (its tests are in ../tests)."""

from tinyclf.model import (
    Model,
    batches,
    build_model,
    cross_entropy,
    forward,
    initial_params,
    make_blobs,
    train_step,
)

__all__ = [
    "Model",
    "batches",
    "build_model",
    "cross_entropy",
    "forward",
    "initial_params",
    "make_blobs",
    "train_step",
]
