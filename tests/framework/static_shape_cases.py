"""Graphs whose static shapes staticflow must infer at least as precisely as TensorFlow.

Each case is a function of the engine module (`staticflow`, or `tensorflow.compat.v1`
with v2 behaviour disabled) that builds a few ops in the default graph and returns a
tensor or a (nested) list/tuple of tensors. Inputs are placeholders with partially
known shapes or unknown rank, and shape vectors computed from them, the way TF1
tutorials write them.

`make_static_shapes.py` (run with TensorFlow) records TensorFlow's static shapes in
`tests/fixtures/tensorflow/static_shapes.json`; `test_static_shapes_vs_tf.py` checks
staticflow's against them. This module imports only NumPy so that both engines can
run it.
"""

from __future__ import annotations

import numpy as np

CASES: dict = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def _f(tf, shape):
    return tf.placeholder(tf.float32, shape)


def _i(tf, shape):
    return tf.placeholder(tf.int32, shape)


def _w(tf, *shape):
    return tf.constant(np.zeros(shape, np.float32))


# --- matmul-like ---------------------------------------------------------------------------------
@case
def matmul_known_rank(tf):
    return tf.matmul(_f(tf, [None, 5]), _w(tf, 5, 3))


@case
def matmul_unknown_rank(tf):
    return tf.matmul(_f(tf, None), _w(tf, 1024, 10))


@case
def matmul_unknown_dims_transpose_b(tf):
    return tf.matmul(_f(tf, [None, None]), _w(tf, 5, 3), transpose_b=True)


@case
def matmul_transpose_a(tf):
    return tf.matmul(_f(tf, [7, None]), _f(tf, [7, 2]), transpose_a=True)


@case
def matmul_batch_by_matrix(tf):
    return tf.matmul(_f(tf, [None, 2, 5]), _w(tf, 5, 3))


@case
def matmul_batch_partial(tf):
    return tf.matmul(_f(tf, [4, None, 5]), _f(tf, [None, 5, 3]))


@case
def matmul_batch_unknown_rank(tf):
    return tf.matmul(_f(tf, [None, None, 5]), _f(tf, None))


@case
def matmul_batch_adjoint(tf):
    return tf.matmul(_f(tf, [None, 5, 2]), _f(tf, [None, 3, 5]), adjoint_a=True, adjoint_b=True)


# --- conv2d and pooling --------------------------------------------------------------------------
@case
def conv2d_same(tf):
    return tf.nn.conv2d(_f(tf, [None, 28, 28, 1]), _w(tf, 5, 5, 1, 32), [1, 1, 1, 1], "SAME")


@case
def conv2d_unknown_spatial(tf):
    return tf.nn.conv2d(_f(tf, [None, None, None, 3]), _w(tf, 3, 3, 3, 8), [1, 1, 1, 1], "VALID")


@case
def conv2d_unknown_rank(tf):
    return tf.nn.conv2d(_f(tf, None), _w(tf, 3, 3, 3, 8), [1, 1, 1, 1], "SAME")


@case
def conv2d_strided_valid(tf):
    return tf.nn.conv2d(_f(tf, [None, 9, 9, 3]), _w(tf, 3, 3, 3, 4), [1, 2, 2, 1], "VALID")


@case
def conv2d_strided_same_odd(tf):
    return tf.nn.conv2d(_f(tf, [2, 7, None, 3]), _w(tf, 3, 3, 3, 4), [1, 2, 2, 1], "SAME")


@case
def max_pool_same(tf):
    return tf.nn.max_pool(_f(tf, [None, 28, 28, 32]), [1, 2, 2, 1], [1, 2, 2, 1], "SAME")


@case
def max_pool_unknown_rank(tf):
    return tf.nn.max_pool(_f(tf, None), [1, 2, 2, 1], [1, 2, 2, 1], "SAME")


@case
def avg_pool_valid_partial(tf):
    return tf.nn.avg_pool(_f(tf, [None, 7, None, 3]), [1, 3, 3, 1], [1, 2, 2, 1], "VALID")


@case
def layers_conv_pool(tf):
    h = tf.layers.conv2d(_f(tf, [None, 28, 28, 1]), 4, 5, padding="same", activation=tf.nn.relu)
    return tf.layers.max_pooling2d(h, 2, 2)


# --- reshape -------------------------------------------------------------------------------------
@case
def reshape_flatten_const(tf):
    return tf.reshape(_f(tf, [None, 7, 7, 64]), [-1, 7 * 7 * 64])


@case
def reshape_unknown_rank_const(tf):
    return tf.reshape(_f(tf, None), [-1, 10])


@case
def reshape_batch_tensor_list(tf):
    x = _f(tf, [None, 5, 4])
    return tf.reshape(x, tf.stack([tf.shape(x)[0], -1]))


@case
def reshape_batch_tensor_known_rest(tf):
    x = _f(tf, [None, 5, 4])
    return tf.reshape(x, tf.stack([tf.shape(x)[0], 20]))


@case
def reshape_known_input_tensor_batch(tf):
    x = _f(tf, [2, 5, 4])
    return tf.reshape(x, tf.stack([tf.shape(x)[0], -1]))


@case
def reshape_to_shape_of(tf):
    return tf.reshape(_f(tf, [None, 6]), tf.shape(_f(tf, [None, 2, 3])))


@case
def reshape_fed_shape(tf):
    return tf.reshape(_f(tf, [6]), _i(tf, [2]))


@case
def reshape_to_vector(tf):
    return tf.reshape(_f(tf, [None, 5, 4]), [-1])


@case
def reshape_partial_minus_one(tf):
    return tf.reshape(_f(tf, [3, None]), [3, -1])


@case
def reshape_concat_of_shape(tf):
    x = _f(tf, [None, 5, 4])
    return tf.reshape(x, tf.concat([tf.shape(x)[:1], [4, 5]], 0))


@case
def reshape_cast_shape(tf):
    x = _f(tf, [None, 5, 4])
    return tf.reshape(x, tf.cast(tf.stack([tf.shape(x)[0], 20]), tf.int64))


@case
def flatten_layer_known(tf):
    return tf.layers.flatten(_f(tf, [None, 7, 7, 64]))


@case
def flatten_layer_partial(tf):
    return tf.layers.flatten(_f(tf, [None, None, 3]))


# --- join and split ------------------------------------------------------------------------------
@case
def concat_partial(tf):
    return tf.concat([_f(tf, [None, 3]), _f(tf, [None, 4])], 1)


@case
def concat_unknown_rank_and_known(tf):
    return tf.concat([_f(tf, None), _f(tf, [2, 3])], 0)


@case
def concat_merges_other_dims(tf):
    return tf.concat([_f(tf, [None, None]), _f(tf, [2, 3])], 1)


@case
def stack_merges(tf):
    return tf.stack([_f(tf, [None, 3]), _f(tf, [2, None])])


@case
def stack_unknown_rank_axis1(tf):
    return tf.stack([_f(tf, None), _f(tf, [3])], axis=1)


@case
def unstack_partial(tf):
    return tf.unstack(_f(tf, [None, 3]), axis=1)


@case
def split_even(tf):
    return tf.split(_f(tf, [None, 6]), 3, axis=1)


@case
def split_sizes(tf):
    return tf.split(_f(tf, [None, 6]), [1, 2, 3], 1)


@case
def split_unknown_rank(tf):
    return tf.split(_f(tf, None), 2, 1)


@case
def split_unknown_dim(tf):
    return tf.split(_f(tf, [4, None]), 2, 1)


# --- gather, one_hot, argmax ---------------------------------------------------------------------
@case
def gather_rows(tf):
    return tf.gather(_f(tf, [10, 4]), _i(tf, [None]))


@case
def gather_unknown_params(tf):
    return tf.gather(_f(tf, None), [1, 2])


@case
def gather_axis1(tf):
    return tf.gather(_f(tf, [None, 5, 2]), _i(tf, [3]), axis=1)


@case
def embedding_lookup(tf):
    return tf.nn.embedding_lookup(_w(tf, 50, 8), _i(tf, [None, 7]))


@case
def one_hot_partial(tf):
    return tf.one_hot(_i(tf, [None]), 10)


@case
def one_hot_unknown_rank(tf):
    return tf.one_hot(_i(tf, None), 10)


@case
def one_hot_axis0(tf):
    return tf.one_hot(_i(tf, [None, 3]), 4, axis=0)


@case
def argmax_partial(tf):
    return tf.argmax(_f(tf, [None, 10]), 1)


@case
def argmax_unknown_rank(tf):
    return tf.argmax(_f(tf, None), 1)


@case
def argmin_axis0(tf):
    return tf.argmin(_f(tf, [None, 4, 3]), 0)


# --- reductions ----------------------------------------------------------------------------------
@case
def reduce_sum_axis(tf):
    return tf.reduce_sum(_f(tf, [None, 3]), 1)


@case
def reduce_mean_keepdims(tf):
    return tf.reduce_mean(_f(tf, [None, 3]), 0, keepdims=True)


@case
def reduce_all_axes_unknown_rank(tf):
    return tf.reduce_mean(_f(tf, None))


@case
def reduce_sum_unknown_rank_axis(tf):
    return tf.reduce_sum(_f(tf, None), 1)


@case
def reduce_max_two_axes(tf):
    return tf.reduce_max(_f(tf, [None, None, 3]), axis=[1, 2])


@case
def reduce_fed_axis(tf):
    return tf.reduce_sum(_f(tf, [None, 3]), _i(tf, []))


@case
def reduce_fed_axis_keepdims(tf):
    return tf.reduce_sum(_f(tf, [None, 3]), _i(tf, []), keepdims=True)


@case
def reduce_fed_axes_vector(tf):
    return tf.reduce_sum(_f(tf, [None, 3, 4]), _i(tf, [2]))


@case
def moments_partial(tf):
    return tf.nn.moments(_f(tf, [None, 4]), [0])


@case
def l2_loss(tf):
    return tf.nn.l2_loss(_f(tf, None))


# --- broadcasting binaries -----------------------------------------------------------------------
@case
def add_row(tf):
    return tf.add(_f(tf, [None, 3]), _f(tf, [3]))


@case
def add_unknown_both(tf):
    return _f(tf, [None, 1]) + _f(tf, [1, None])


@case
def mul_unknown_rank(tf):
    return _f(tf, None) * _f(tf, [3])


@case
def add_python_scalar(tf):
    return _f(tf, [None, 3]) + 1.0


@case
def sub_partial_broadcast(tf):
    return _f(tf, [5, None]) - _f(tf, [None])


@case
def equal_partial(tf):
    return tf.equal(_i(tf, [None]), _i(tf, [None]))


@case
def maximum_broadcast(tf):
    return tf.maximum(_f(tf, [None, 1, 4]), _f(tf, [3, 1]))


@case
def where_select(tf):
    return tf.where(tf.placeholder(tf.bool, [None, 3]), _f(tf, [None, 3]), _f(tf, [4, None]))


@case
def where_v2_scalar_condition(tf):
    return tf.where_v2(tf.placeholder(tf.bool, []), _f(tf, [None, 3]), _f(tf, [None, 3]))


# --- transpose, slicing, expand/squeeze ----------------------------------------------------------
@case
def transpose_default(tf):
    return tf.transpose(_f(tf, [None, 3, 4]))


@case
def transpose_perm(tf):
    return tf.transpose(_f(tf, [None, 3]), [1, 0])


@case
def transpose_unknown_rank(tf):
    return tf.transpose(_f(tf, None))


@case
def transpose_unknown_rank_perm(tf):
    return tf.transpose(_f(tf, None), [1, 0, 2])


@case
def getitem_columns(tf):
    return _f(tf, [None, 5])[:, 1:3]


@case
def getitem_row(tf):
    return _f(tf, [None, 5])[0]


@case
def getitem_ellipsis_unknown_rank(tf):
    return _f(tf, None)[..., 0]


@case
def getitem_newaxis(tf):
    return _f(tf, [None, 5])[:, None]


@case
def getitem_tail(tf):
    return _f(tf, [None])[1:]


@case
def getitem_negative_stride(tf):
    return _f(tf, [None, 6])[:, ::-2]


@case
def slice_const(tf):
    return tf.slice(_f(tf, [None, 5]), [0, 1], [-1, 2])


@case
def slice_tensor_size(tf):
    x = _f(tf, [None, 5])
    return tf.slice(x, [0, 1], tf.stack([tf.shape(x)[0], 2]))


@case
def slice_unknown_begin(tf):
    return tf.slice(_f(tf, [None, 5]), _i(tf, [2]), [3, 2])


@case
def strided_slice_unknown_rank(tf):
    return tf.strided_slice(_f(tf, None), [0, 1], [2, 3])


@case
def expand_dims_partial(tf):
    return tf.expand_dims(_f(tf, [None, 3]), 1)


@case
def expand_dims_unknown_rank(tf):
    return tf.expand_dims(_f(tf, None), 0)


@case
def squeeze_all_partial(tf):
    return tf.squeeze(_f(tf, [None, 1, 3]))


@case
def squeeze_axis(tf):
    return tf.squeeze(_f(tf, [None, 1, 3]), [1])


@case
def squeeze_unknown_rank(tf):
    return tf.squeeze(_f(tf, None), [1])


@case
def squeeze_known(tf):
    return tf.squeeze(_f(tf, [1, 2, 1]))


# --- shapes, sizes, ranges -----------------------------------------------------------------------
@case
def shape_size_rank_unknown_rank(tf):
    x = _f(tf, None)
    return tf.shape(x), tf.size(x), tf.rank(x)


@case
def shape_partial(tf):
    return tf.shape(_f(tf, [None, 3]))


@case
def range_of_batch(tf):
    return tf.range(tf.shape(_f(tf, [None, 3]))[0])


@case
def range_const(tf):
    return tf.range(2, 11, 3)


# --- nn ------------------------------------------------------------------------------------------
@case
def softmax_unknown_rank(tf):
    return tf.nn.softmax(_f(tf, None))


@case
def softmax_partial(tf):
    return tf.nn.softmax(_f(tf, [None, 10]))


@case
def log_softmax_axis0(tf):
    return tf.nn.log_softmax(_f(tf, [None, 10]), axis=0)


@case
def xent_v2_partial(tf):
    return tf.nn.softmax_cross_entropy_with_logits_v2(labels=_f(tf, [None, 10]), logits=_f(tf, [None, 10]))


@case
def xent_v2_unknown_rank_logits(tf):
    return tf.nn.softmax_cross_entropy_with_logits_v2(labels=_f(tf, [None, 10]), logits=_f(tf, None))


@case
def xent_unknown_rank_both(tf):
    return tf.nn.softmax_cross_entropy_with_logits_v2(labels=_f(tf, None), logits=_f(tf, None))


@case
def xent_rank3(tf):
    return tf.nn.softmax_cross_entropy_with_logits_v2(
        labels=_f(tf, [2, None, 5]), logits=_f(tf, [None, 3, 5])
    )


@case
def sparse_xent_unknown_rank_logits(tf):
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=_i(tf, [None]), logits=_f(tf, None))


@case
def sparse_xent_unknown_both(tf):
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=_i(tf, None), logits=_f(tf, None))


@case
def sparse_xent_rank3(tf):
    return tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=_i(tf, [None, 4]), logits=_f(tf, [2, None, 7])
    )


@case
def sigmoid_xent_partial(tf):
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=_f(tf, [None, 3]), logits=_f(tf, [4, None]))


@case
def bias_add_partial(tf):
    return tf.nn.bias_add(_f(tf, [None, None, None, 8]), _w(tf, 8))


@case
def bias_add_unknown_rank(tf):
    return tf.nn.bias_add(_f(tf, None), _w(tf, 8))


@case
def bias_add_nchw(tf):
    return tf.nn.bias_add(_f(tf, [None, None, 5, 5]), _w(tf, 3), data_format="NCHW")


@case
def relu_unknown_rank(tf):
    return tf.nn.relu(_f(tf, None))


@case
def dropout_fed_keep_prob(tf):
    return tf.nn.dropout(_f(tf, [None, 1024]), tf.placeholder(tf.float32))


@case
def dropout_unknown_rank(tf):
    return tf.nn.dropout(_f(tf, None), 0.5)


@case
def dropout_noise_shape(tf):
    x = _f(tf, [None, 4, 4, 8])
    return tf.nn.dropout(x, 0.5, noise_shape=tf.stack([tf.shape(x)[0], 1, 1, 8]))


@case
def dense_partial(tf):
    return tf.layers.dense(_f(tf, [None, 5]), 3)


@case
def dense_rank3(tf):
    return tf.layers.dense(_f(tf, [None, None, 5]), 3)


@case
def layers_dropout_tensor_training(tf):
    return tf.layers.dropout(_f(tf, [None, 8, 8, 3]), training=tf.placeholder(tf.bool))


@case
def layers_batch_norm_tensor_training(tf):
    return tf.layers.batch_normalization(_f(tf, [None, 8, 8, 3]), training=tf.placeholder(tf.bool))


# --- tile, pad, cast -----------------------------------------------------------------------------
@case
def tile_const(tf):
    return tf.tile(_f(tf, [None, 3]), [2, 2])


@case
def tile_partial_multiples(tf):
    x = _f(tf, [None, 3])
    return tf.tile(x, tf.stack([tf.shape(x)[0], 2]))


@case
def tile_unknown_rank(tf):
    return tf.tile(_f(tf, None), [2, 3])


@case
def tile_fed_multiples(tf):
    return tf.tile(_f(tf, [None, 3]), _i(tf, [2]))


@case
def pad_const(tf):
    return tf.pad(_f(tf, [None, 3]), [[1, 1], [2, 2]])


@case
def pad_unknown_rank(tf):
    return tf.pad(_f(tf, None), [[1, 1], [2, 2]])


@case
def pad_fed_paddings(tf):
    return tf.pad(_f(tf, [None, 3]), _i(tf, [2, 2]))


@case
def cast_partial(tf):
    return tf.cast(_f(tf, [None, 3]), tf.int32)


# --- shape vectors: fill, zeros, ones, random, broadcast_to ---------------------------------------
@case
def zeros_stack_batch(tf):
    b = _f(tf, [None, 5])
    return tf.zeros(tf.stack([tf.shape(b)[0], 7]))


@case
def zeros_stack_known_dim(tf):
    b = _f(tf, [None, 5])
    return tf.zeros(tf.stack([tf.shape(b)[0], tf.shape(b)[1]]))


@case
def zeros_fed_scalar(tf):
    return tf.zeros(tf.stack([_i(tf, []), 3]))


@case
def ones_shape_tail(tf):
    return tf.ones(tf.shape(_f(tf, [None, 2, 3]))[1:])


@case
def fill_shape_of(tf):
    return tf.fill(tf.shape(_f(tf, [None, 3])), 1.0)


@case
def zeros_concat_shape(tf):
    return tf.zeros(tf.concat([tf.shape(_f(tf, [None, 5]))[:1], [5]], 0))


@case
def zeros_cast_shape(tf):
    return tf.zeros(tf.cast(tf.shape(_f(tf, [None, 5])), tf.int64))


@case
def zeros_like_partial(tf):
    return tf.zeros_like(_f(tf, [None, 3]))


@case
def random_uniform_shape_of(tf):
    return tf.random_uniform(tf.shape(_f(tf, [None, 4])))


@case
def random_normal_stack(tf):
    return tf.random_normal(tf.stack([tf.shape(_f(tf, [None, 4]))[0], 5]))


@case
def truncated_normal_stack(tf):
    return tf.truncated_normal(tf.stack([_i(tf, []), 2]))


@case
def broadcast_to_partial(tf):
    x = _f(tf, [None, 1])
    return tf.broadcast_to(x, tf.stack([tf.shape(x)[0], 4]))


@case
def broadcast_to_fed_batch(tf):
    return tf.broadcast_to(_f(tf, [3]), tf.stack([_i(tf, []), 3]))


# --- more nn ops and their shape arguments ---------------------------------------------------------
@case
def conv2d_transpose_stacked_output_shape(tf):
    x = _f(tf, [None, 7, 7, 4])
    out = tf.stack([tf.shape(x)[0], 14, 14, 2])
    return tf.nn.conv2d_transpose(x, _w(tf, 3, 3, 2, 4), out, [1, 2, 2, 1], "SAME")


@case
def conv2d_transpose_const_output_shape(tf):
    return tf.nn.conv2d_transpose(_f(tf, [None, 7, 7, 4]), _w(tf, 3, 3, 2, 4), [5, 14, 14, 2], [1, 2, 2, 1])


@case
def depthwise_conv2d_partial(tf):
    return tf.nn.depthwise_conv2d(_f(tf, [None, 8, None, 3]), _w(tf, 3, 3, 3, 2), [1, 1, 1, 1], "SAME")


@case
def top_k_partial(tf):
    return tf.nn.top_k(_f(tf, [None, 10]), 3)


@case
def top_k_unknown_rank(tf):
    return tf.nn.top_k(_f(tf, None), 2)


@case
def in_top_k_partial(tf):
    return tf.nn.in_top_k(_f(tf, [None, 10]), _i(tf, [None]), 3)


@case
def arg_max_old_name(tf):
    return tf.arg_max(_f(tf, [None, 7]), 1)


@case
def l2_normalize_partial(tf):
    return tf.nn.l2_normalize(_f(tf, [None, 5]), 1)


@case
def clip_by_value_partial(tf):
    return tf.clip_by_value(_f(tf, [None, 5]), 0.0, 1.0)


@case
def squeeze_after_reduce_keepdims(tf):
    return tf.squeeze(tf.reduce_sum(_f(tf, [None, 5]), 1, keepdims=True), [1])


@case
def sequence_of_reshapes(tf):
    x = _f(tf, [None, 28 * 28])
    h = tf.reshape(x, [-1, 28, 28, 1])
    h = tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
    return tf.reshape(h, [-1, 14 * 14])


@case
def gather_nested_indices_shape(tf):
    return tf.gather(_f(tf, [None, 6]), _i(tf, [2, None]), axis=1)


@case
def one_hot_of_argmax(tf):
    return tf.one_hot(tf.argmax(_f(tf, [None, 4]), 1), 4)


@case
def expand_then_tile(tf):
    x = _f(tf, [None, 3])
    return tf.tile(tf.expand_dims(x, 1), [1, 4, 1])


@case
def concat_shape_vectors_for_reshape(tf):
    x = _f(tf, [None, 2, 3, 4])
    return tf.reshape(x, tf.concat([tf.shape(x)[:-2], [-1]], 0))


# --- graphs both engines must reject while building ----------------------------------------------
@case
def error_matmul_inner_dims(tf):
    return tf.matmul(_f(tf, [None, 5]), _w(tf, 4, 3))


@case
def error_reshape_known_size(tf):
    return tf.reshape(_f(tf, [2, 5, 4]), [3, -1])


@case
def error_reshape_partial_target(tf):
    x = _f(tf, [2, 5, 4])
    return tf.reshape(x, tf.stack([_i(tf, []), 3]))


@case
def error_broadcast(tf):
    return _f(tf, [None, 3]) + _f(tf, [4])


@case
def error_concat_ranks(tf):
    return tf.concat([_f(tf, [None, 3]), _f(tf, [None, 3, 1])], 0)


@case
def error_conv_channels(tf):
    return tf.nn.conv2d(_f(tf, [None, 8, 8, 3]), _w(tf, 3, 3, 4, 2), [1, 1, 1, 1], "SAME")


@case
def early_error_xent_shapes(tf):
    return tf.nn.softmax_cross_entropy_with_logits_v2(labels=_f(tf, [None, 4]), logits=_f(tf, [None, 5]))


@case
def zeros_partial_negative(tf):
    return tf.zeros(tf.stack([_i(tf, []), -3]))


# --- recurrent cells -----------------------------------------------------------------------------
@case
def lstm_zero_state(tf):
    cell = tf.nn.rnn_cell.BasicLSTMCell(8)
    return tuple(cell.zero_state(tf.shape(_f(tf, [None, 3]))[0], tf.float32))


@case
def static_rnn_lstm_dynamic_batch(tf):
    x = _f(tf, [None, 4, 3])
    cell = tf.nn.rnn_cell.BasicLSTMCell(8)
    outputs, state = tf.nn.static_rnn(cell, tf.unstack(x, axis=1), dtype=tf.float32)
    return outputs[-1], tuple(state)


# --- gradients -----------------------------------------------------------------------------------
@case
def gradient_partial(tf):
    x = _f(tf, [None, 3])
    return tf.gradients(tf.reduce_sum(tf.matmul(x, _w(tf, 3, 2))), x)[0]


@case
def gradient_reduce_unknown_rank(tf):
    x = _f(tf, None)
    return tf.gradients(tf.reduce_sum(x * 2.0), x)[0]


# TF1's shapes for the cases whose APIs TensorFlow 2 with Keras 3 no longer has (tf.layers and
# the RNN cells moved to Keras 2): from TF1's documented layer output shapes.
EXPECTED = {
    "dense_partial": [[None, 3]],
    "dense_rank3": [[None, None, 3]],
    "flatten_layer_known": [[None, 3136]],
    "flatten_layer_partial": [[None, None]],
    "layers_conv_pool": [[None, 14, 14, 4]],
    "layers_dropout_tensor_training": [[None, 8, 8, 3]],
    "layers_batch_norm_tensor_training": [[None, 8, 8, 3]],
    "lstm_zero_state": [[None, 8], [None, 8]],
    "static_rnn_lstm_dynamic_batch": [[None, 8], [None, 8], [None, 8]],
}

# graphs TensorFlow builds but can never run, which staticflow rejects while building: why
REJECTED_EARLIER = {
    "early_error_xent_shapes": "logits (?, 5) and labels (?, 4) never match; TF flattens them with "
    "shapes computed at run time and fails then",
}
