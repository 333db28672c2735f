"""sf.nn: neural-network functions."""

from staticflow.layers import rnn_cell
from staticflow.ops.candidate_sampling_ops import (
    compute_accidental_hits,
    log_uniform_candidate_sampler,
    uniform_candidate_sampler,
)
from staticflow.ops.conv_ops import (  # noqa: F401
    avg_pool,
    avg_pool2d,
    conv2d,
    conv2d_backprop_filter,
    conv2d_backprop_input,
    conv2d_transpose,
    depthwise_conv2d,
    depthwise_conv2d_native,
    max_pool,
    max_pool2d,
    separable_conv2d,
)
from staticflow.ops.math_ops import erf, sigmoid, tanh  # noqa: F401
from staticflow.ops.nn_extras import (
    batch_norm_with_global_normalization,
    crelu,
    l2_normalize,
    log_poisson_loss,
    normalize_moments,
    relu_layer,
    softsign,
    sufficient_statistics,
    swish,
    weighted_cross_entropy_with_logits,
    weighted_moments,
    xw_plus_b,
    zero_fraction,
)
from staticflow.ops.nn_extras import swish as silu
from staticflow.ops.nn_impl import (
    batch_normalization,
    dropout,
    embedding_lookup,
    fused_batch_norm,
    moments,
    scaled_dot_product_attention,
)
from staticflow.ops.nn_ops import (  # noqa: F401
    bias_add,
    elu,
    l2_loss,
    leaky_relu,
    log_softmax,
    relu,
    relu6,
    selu,
    sigmoid_cross_entropy_with_logits,
    softmax,
    softmax_cross_entropy_with_logits,
    softmax_cross_entropy_with_logits_v2,
    softplus,
    sparse_softmax_cross_entropy_with_logits,
)
from staticflow.ops.rnn import static_bidirectional_rnn, static_rnn
from staticflow.ops.rnn_dynamic import bidirectional_dynamic_rnn, dynamic_rnn, raw_rnn
from staticflow.ops.sampled_losses import nce_loss, sampled_softmax_loss
from staticflow.ops.topk_ops import in_top_k, top_k
