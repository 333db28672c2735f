"""Tags of the meta graphs in a SavedModel (TF's tf.saved_model.tag_constants)."""

SERVING = "serve"
TRAINING = "train"
EVAL = "eval"
GPU = "gpu"
TPU = "tpu"
