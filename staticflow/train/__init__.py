"""sf.train: optimizers, learning-rate schedules, the global step, and checkpoints (Saver)."""

from staticflow.train.checkpoint_io import checkpoint_exists, get_checkpoint_state, latest_checkpoint
from staticflow.train.learning_rate_decay import (
    cosine_decay,
    exponential_decay,
    inverse_time_decay,
    natural_exp_decay,
    piecewise_constant,
    polynomial_decay,
)
from staticflow.train.meta_graph import export_meta_graph, import_meta_graph
from staticflow.train.moving_averages import ExponentialMovingAverage
from staticflow.train.optimizer import (
    AdagradOptimizer,
    AdamOptimizer,
    GradientDescentOptimizer,
    MomentumOptimizer,
    Optimizer,
    RMSPropOptimizer,
)
from staticflow.train.saver import (
    Saver,
    get_checkpoint_mtimes,
    list_variables,
    load_checkpoint,
    load_variable,
    update_checkpoint_state,
)
from staticflow.train.training_util import (
    create_global_step,
    get_global_step,
    get_or_create_global_step,
    global_step,
)

__all__ = [
    "ExponentialMovingAverage",
    "AdagradOptimizer",
    "AdamOptimizer",
    "GradientDescentOptimizer",
    "MomentumOptimizer",
    "Optimizer",
    "RMSPropOptimizer",
    "Saver",
    "checkpoint_exists",
    "export_meta_graph",
    "get_checkpoint_mtimes",
    "get_checkpoint_state",
    "import_meta_graph",
    "latest_checkpoint",
    "list_variables",
    "load_checkpoint",
    "load_variable",
    "update_checkpoint_state",
    "cosine_decay",
    "create_global_step",
    "exponential_decay",
    "get_global_step",
    "get_or_create_global_step",
    "global_step",
    "inverse_time_decay",
    "natural_exp_decay",
    "piecewise_constant",
    "polynomial_decay",
]

# TF1's queue-based input pipelines: producers, batching, queue runners and their coordinator
from staticflow.train import queue_runner  # noqa: E402
from staticflow.train.coordinator import Coordinator, LooperThread  # noqa: E402
from staticflow.train.input import (  # noqa: E402
    batch,
    batch_join,
    input_producer,
    limit_epochs,
    range_input_producer,
    shuffle_batch,
    shuffle_batch_join,
    slice_input_producer,
    string_input_producer,
)
from staticflow.train.queue_runner import QueueRunner, add_queue_runner, start_queue_runners  # noqa: E402

__all__ += [
    "Coordinator",
    "LooperThread",
    "QueueRunner",
    "add_queue_runner",
    "batch",
    "batch_join",
    "input_producer",
    "limit_epochs",
    "queue_runner",
    "range_input_producer",
    "shuffle_batch",
    "shuffle_batch_join",
    "slice_input_producer",
    "start_queue_runners",
    "string_input_producer",
]
