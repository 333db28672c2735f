"""Sampled losses (TF1's sf.nn.nce_loss and sf.nn.sampled_softmax_loss): a loss over a few
sampled classes instead of all of them, for large vocabularies (word2vec, language
models). Both build TensorFlow's logits over [true classes, sampled classes], with the
log of each class's expected count subtracted, and differ in the loss put on them.

Accidental hits (a sampled class that is one of the row's true classes) are removed as
TensorFlow removes them: the matching sampled logit gets -FLT_MAX added. TensorFlow finds
the hits with ComputeAccidentalHits (an output whose size depends on the data) and a
SparseToDense; staticflow builds the same [batch, num_sampled] addend from a mask, so a
plan keeps fixed shapes while the samples change every run.
"""

from __future__ import annotations

import numpy as np

from staticflow.framework import dtypes
from staticflow.framework import ops as fops
from staticflow.ops import array_ops, candidate_sampling_ops, math_ops, nn_impl, nn_ops

D = dtypes


def _accidental_hit_mask(labels, sampled, num_true: int, num_sampled: int):
    """bool [batch, num_sampled]: ComputeAccidentalHits' hits as a dense mask (sample k is a
    true class of its row, and no later sample has its value: TF keeps the last position)."""
    true2 = array_ops.reshape(labels, [-1, num_true])
    in_row = math_ops.reduce_any(
        math_ops.equal(array_ops.expand_dims(true2, 2), array_ops.reshape(sampled, [1, 1, -1])), 1
    )
    same = math_ops.equal(array_ops.expand_dims(sampled, 1), array_ops.expand_dims(sampled, 0))
    later = array_ops.constant(np.triu(np.ones((num_sampled, num_sampled), bool), 1))
    repeated_later = math_ops.reduce_any(math_ops.logical_and(same, later), 1)
    return math_ops.logical_and(in_row, math_ops.logical_not(repeated_later))


def compute_sampled_logits(
    weights,
    biases,
    labels,
    inputs,
    num_sampled,
    num_classes,
    num_true=1,
    sampled_values=None,
    subtract_log_q=True,
    remove_accidental_hits=False,
    partition_strategy="mod",
    name=None,
    seed=None,
):
    """(logits [batch, num_true + num_sampled], labels of the same shape): TensorFlow's
    _compute_sampled_logits. The first num_true columns are the true classes' logits (label
    1 / num_true each), the rest the sampled classes' (label 0)."""
    shards = list(weights) if isinstance(weights, (list, tuple)) else [weights]
    num_true, num_sampled = int(num_true), int(num_sampled)
    with fops.name_scope(name, "compute_sampled_logits", shards + [biases, inputs, labels]):
        labels = fops.convert_to_tensor(labels)
        if labels.dtype != D.int64:
            labels = math_ops.cast(labels, D.int64)
        inputs = fops.convert_to_tensor(inputs)
        labels_flat = array_ops.reshape(labels, [-1])
        if sampled_values is None:
            sampled_values = candidate_sampling_ops.log_uniform_candidate_sampler(
                true_classes=labels,
                num_true=num_true,
                num_sampled=num_sampled,
                unique=True,
                range_max=num_classes,
                seed=seed,
            )
        if len(sampled_values) != 3:
            raise ValueError(
                "sampled_values must be (sampled_candidates, true_expected_count, sampled_expected_count)"
            )
        sampled, true_expected_count, sampled_expected_count = (
            array_ops.stop_gradient(s) for s in sampled_values
        )
        sampled = math_ops.cast(sampled, D.int64)
        all_ids = array_ops.concat([labels_flat, sampled], 0)
        all_w = nn_impl.embedding_lookup(shards, all_ids, partition_strategy=partition_strategy)
        if all_w.dtype != inputs.dtype:
            all_w = math_ops.cast(all_w, inputs.dtype)
        n_true = array_ops.shape(labels_flat)[0]
        true_w = array_ops.slice_(all_w, [0, 0], array_ops.stack([n_true, -1]))
        sampled_w = array_ops.slice_(all_w, array_ops.stack([n_true, 0]), [-1, -1])
        sampled_logits = math_ops.matmul(inputs, sampled_w, transpose_b=True)
        all_b = nn_impl.embedding_lookup(biases, all_ids, partition_strategy=partition_strategy)
        if all_b.dtype != inputs.dtype:
            all_b = math_ops.cast(all_b, inputs.dtype)
        true_b = array_ops.slice_(all_b, [0], array_ops.shape(labels_flat))
        sampled_b = array_ops.slice_(all_b, array_ops.shape(labels_flat), [-1])
        # true logits: each input row against its num_true true classes
        dim = array_ops.shape(true_w)[1:2]
        row_wise_dots = math_ops.multiply(
            array_ops.expand_dims(inputs, 1),
            array_ops.reshape(true_w, array_ops.concat([[-1, num_true], dim], 0)),
        )
        true_logits = math_ops.reduce_sum(row_wise_dots, -1) + array_ops.reshape(true_b, [-1, num_true])
        sampled_logits += sampled_b
        if remove_accidental_hits:
            hit = _accidental_hit_mask(labels, sampled, num_true, num_sampled)
            flt_max = array_ops.constant(-candidate_sampling_ops.FLT_MAX, dtype=D.float32)
            sampled_logits += math_ops.where_v2(
                hit, math_ops.cast(flt_max, sampled_logits.dtype), array_ops.zeros([], sampled_logits.dtype)
            )
        if subtract_log_q:
            true_logits -= math_ops.log(math_ops.cast(true_expected_count, true_logits.dtype))
            sampled_logits -= math_ops.log(math_ops.cast(sampled_expected_count, sampled_logits.dtype))
        out_logits = array_ops.concat([true_logits, sampled_logits], 1)
        out_labels = array_ops.concat(
            [array_ops.ones_like(true_logits) / num_true, array_ops.zeros_like(sampled_logits)], 1
        )
        return out_logits, out_labels


def nce_loss(
    weights,
    biases,
    labels,
    inputs,
    num_sampled,
    num_classes,
    num_true=1,
    sampled_values=None,
    remove_accidental_hits=False,
    partition_strategy="mod",
    name="nce_loss",
):
    """Noise-contrastive estimation loss per example [batch]: logistic losses of the true
    classes (label 1 / num_true) and of num_sampled sampled classes (label 0).

    weights [num_classes, dim] (or a list of shards), biases [num_classes], labels int
    [batch, num_true], inputs [batch, dim]. sampled_values defaults to
    log_uniform_candidate_sampler(labels, num_true, num_sampled, unique=True, num_classes).
    """
    logits, labels = compute_sampled_logits(
        weights=weights,
        biases=biases,
        labels=labels,
        inputs=inputs,
        num_sampled=num_sampled,
        num_classes=num_classes,
        num_true=num_true,
        sampled_values=sampled_values,
        subtract_log_q=True,
        remove_accidental_hits=remove_accidental_hits,
        partition_strategy=partition_strategy,
        name=name,
    )
    losses = nn_ops.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits, name="sampled_losses")
    return math_ops.reduce_sum(losses, 1)


def sampled_softmax_loss(
    weights,
    biases,
    labels,
    inputs,
    num_sampled,
    num_classes,
    num_true=1,
    sampled_values=None,
    remove_accidental_hits=True,
    partition_strategy="mod",
    name="sampled_softmax_loss",
    seed=None,
):
    """Sampled softmax loss per example [batch]: softmax cross-entropy over the true classes
    and num_sampled sampled classes (a training-time estimate of the full softmax loss).

    Arguments as nce_loss; accidental hits are removed by default, and seed seeds the
    default sampler.
    """
    logits, labels = compute_sampled_logits(
        weights=weights,
        biases=biases,
        labels=labels,
        inputs=inputs,
        num_sampled=num_sampled,
        num_classes=num_classes,
        num_true=num_true,
        sampled_values=sampled_values,
        subtract_log_q=True,
        remove_accidental_hits=remove_accidental_hits,
        partition_strategy=partition_strategy,
        name=name,
        seed=seed,
    )
    labels = array_ops.stop_gradient(labels, name="labels_stop_gradient")
    return nn_ops.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits)
