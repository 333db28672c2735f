"""sf.contrib.slim: TF-Slim's layer, arg_scope, variable, initializer and regularizer functions,
which were the same objects as tf.contrib.layers' and tf.contrib.framework's.

Slim's own training and evaluation loops (slim.learning, slim.evaluation), its
model zoo (slim.nets), data providers, losses, metrics and summaries are not
provided: using one raises an error that names it.
"""

from staticflow.contrib.framework import (  # noqa: F401
    add_arg_scope,
    add_model_variable,
    arg_scope,
    arg_scoped_arguments,
    assert_global_step,
    create_global_step,
    current_arg_scope,
    filter_variables,
    get_global_step,
    get_local_variables,
    get_model_variables,
    get_or_create_global_step,
    get_trainable_variables,
    get_unique_variable,
    get_variables,
    get_variables_by_name,
    get_variables_by_suffix,
    get_variables_to_restore,
    has_arg_scope,
    local_variable,
    model_variable,
    variable,
)
from staticflow.contrib.layers import (  # noqa: F401
    apply_regularization,
    avg_pool2d,
    batch_norm,
    bias_add,
    conv1d,
    conv2d,
    conv2d_transpose,
    convolution,
    convolution1d,
    convolution2d,
    convolution2d_transpose,
    dropout,
    flatten,
    fully_connected,
    l1_l2_regularizer,
    l1_regularizer,
    l2_regularizer,
    layer_norm,
    linear,
    max_pool2d,
    one_hot_encoding,
    relu,
    relu6,
    repeat,
    softmax,
    stack,
    sum_regularizer,
    variance_scaling_initializer,
    xavier_initializer,
    xavier_initializer_conv2d,
)


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(
        f"sf.contrib.slim.{name} is not provided by staticflow: only TF-Slim's layer, arg_scope, variable, "
        "initializer and regularizer functions (aliases of tf.contrib.layers and tf.contrib.framework) are; "
        "its training loop, evaluation, nets, data providers, losses and metrics were a library of their own"
    )
