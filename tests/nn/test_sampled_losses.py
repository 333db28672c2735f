"""nce_loss and sampled_softmax_loss against a NumPy reference computed from the same
samples, gradients into the embedding against central differences, partitioned
embeddings, and word2vec-style training with each loss."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf

FLT_MAX = float(np.finfo(np.float32).max)


@pytest.fixture(autouse=True)
def graph():
    with sf.Graph().as_default() as g:
        yield g


def _sampled_logits_reference(w, b, labels, x, sampled, true_ec, sampled_ec, remove_hits):
    """TensorFlow's _compute_sampled_logits, written with loops."""
    batch, num_true = labels.shape
    true_logits = np.array(
        [[x[i] @ w[labels[i, j]] + b[labels[i, j]] for j in range(num_true)] for i in range(batch)]
    )
    sampled_logits = x @ w[sampled].T + b[sampled]
    if remove_hits:
        last = {int(v): k for k, v in enumerate(sampled)}  # ComputeAccidentalHits: last position
        hits = {(i, last[int(c)]) for i in range(batch) for c in labels[i] if int(c) in last}
        for i, k in hits:  # a hit found twice (a repeated true class) is still added once
            sampled_logits[i, k] += -FLT_MAX
    true_logits = true_logits - np.log(true_ec)
    sampled_logits = sampled_logits - np.log(sampled_ec)
    logits = np.concatenate([true_logits, sampled_logits], 1)
    targets = np.concatenate([np.full(true_logits.shape, 1.0 / num_true), np.zeros(sampled_logits.shape)], 1)
    return logits, targets


def _nce_reference(logits, targets):
    return np.sum(np.maximum(logits, 0) - logits * targets + np.log1p(np.exp(-np.abs(logits))), 1)


def _softmax_reference(logits, targets):
    m = logits.max(1, keepdims=True)
    lse = np.log(np.exp(logits - m).sum(1, keepdims=True)) + m
    return np.sum(targets * (lse - logits), 1)


RNG = np.random.default_rng(2)
W = RNG.standard_normal((10, 4))
B = RNG.standard_normal(10) * 0.1
X = RNG.standard_normal((3, 4))
SAMPLED = np.array([2, 7, 4, 2, 9], np.int64)
SAMPLED_EC = RNG.uniform(0.2, 1.0, 5)


@pytest.mark.parametrize("loss", ["nce", "softmax"])
@pytest.mark.parametrize("num_true", [1, 2])
@pytest.mark.parametrize("remove_hits", [True, False])
def test_loss_matches_reference(loss, num_true, remove_hits):
    labels = np.array([[4, 1], [2, 2], [0, 9]])[:, :num_true]
    true_ec = RNG.uniform(0.2, 1.0, (3, num_true))
    fn = sf.nn.nce_loss if loss == "nce" else sf.nn.sampled_softmax_loss
    out = fn(
        sf.constant(W),
        sf.constant(B),
        labels,
        sf.constant(X),
        5,
        10,
        num_true=num_true,
        sampled_values=(SAMPLED, true_ec, SAMPLED_EC),
        remove_accidental_hits=remove_hits,
    )
    assert out.shape.as_list() == [3]
    with sf.Session() as sess:
        got = sess.run(out)
    logits, targets = _sampled_logits_reference(W, B, labels, X, SAMPLED, true_ec, SAMPLED_EC, remove_hits)
    want = _nce_reference(logits, targets) if loss == "nce" else _softmax_reference(logits, targets)
    np.testing.assert_allclose(got, want, rtol=1e-10)


@pytest.mark.parametrize("loss", [sf.nn.nce_loss, sf.nn.sampled_softmax_loss])
def test_gradients_into_weights_biases_and_inputs(loss):
    labels = np.array([[4, 1], [2, 2], [0, 9]])
    true_ec = RNG.uniform(0.2, 1.0, (3, 2))
    w, b, x = (
        sf.placeholder(sf.float64, W.shape),
        sf.placeholder(sf.float64, B.shape),
        sf.placeholder(sf.float64, X.shape),
    )
    cot = RNG.standard_normal(3)
    total = sf.reduce_sum(
        loss(
            w,
            b,
            labels,
            x,
            5,
            10,
            num_true=2,
            sampled_values=(SAMPLED, true_ec, SAMPLED_EC),
            remove_accidental_hits=True,
        )
        * cot
    )
    grads = sf.gradients(total, [w, b, x])
    values = {w: W, b: B, x: X}
    with sf.Session() as sess:
        got = sess.run(grads, values)
        for t, g in zip([w, b, x], got):
            num = np.zeros_like(values[t])
            for idx in np.ndindex(*values[t].shape):
                for sign in (1, -1):
                    moved = values[t].copy()
                    moved[idx] += sign * 1e-6
                    num[idx] += sign * sess.run(total, {**values, t: moved}) / 2e-6
            np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-7)
    # the rows of W that no true or sampled class selects get no gradient
    untouched = sorted(set(range(10)) - set(labels.ravel()) - set(SAMPLED))
    assert untouched and np.all(got[0][untouched] == 0)


@pytest.mark.parametrize("strategy", ["mod", "div"])
def test_partitioned_weights_give_the_whole_tables_results(strategy):
    w = RNG.standard_normal((11, 3)).astype(np.float32)
    if strategy == "mod":
        shards = [w[i::3] for i in range(3)]
    else:  # 11 rows over 3 shards: 4, 4, 3
        shards = [w[0:4], w[4:8], w[8:11]]
    ids = np.array([[0, 10], [5, 7], [3, 8]])
    looked = sf.nn.embedding_lookup([sf.constant(s) for s in shards], ids, partition_strategy=strategy)
    assert looked.shape.as_list() == [3, 2, 3]
    labels = np.array([[1], [10], [6]])
    x = RNG.standard_normal((3, 3)).astype(np.float32)
    sampled = (np.array([0, 4, 9]), np.full((3, 1), 0.5, np.float32), np.full(3, 0.5, np.float32))
    b = np.zeros(11, np.float32)
    whole = sf.nn.sampled_softmax_loss(w, b, labels, x, 3, 11, sampled_values=sampled)
    split = sf.nn.sampled_softmax_loss(
        [sf.constant(s) for s in shards],
        b,
        labels,
        x,
        3,
        11,
        sampled_values=sampled,
        partition_strategy=strategy,
    )
    with sf.Session() as sess:
        lv, a, c = sess.run([looked, whole, split])
    np.testing.assert_array_equal(lv, w[ids])
    np.testing.assert_allclose(a, c, rtol=1e-6)


def test_embedding_lookup_partitions_match_tensorflow():
    # TensorFlow: shards of 3, 3 and 2 rows of [[0, 1], [2, 3], ...] + 100 * shard, ids 0..7
    shards = [sf.constant(np.arange(n * 2).reshape(n, 2) * 1.0 + 100 * k) for k, n in enumerate([3, 3, 2])]
    ids = np.arange(8)
    with sf.Session() as sess:
        div, mod = sess.run(
            [
                sf.nn.embedding_lookup(shards, ids, partition_strategy="div"),
                sf.nn.embedding_lookup(shards, ids, partition_strategy="mod"),
            ]
        )
    np.testing.assert_array_equal(div[:, 0], [0, 2, 4, 100, 102, 104, 200, 202])
    np.testing.assert_array_equal(mod[:, 0], [0, 100, 200, 2, 102, 202, 4, 104])
    with pytest.raises(ValueError, match="Unrecognized partition strategy"):
        sf.nn.embedding_lookup(shards, ids, partition_strategy="rows")


def test_default_sampler_draws_new_classes_each_run():
    labels = np.array([[1], [3]])
    w = sf.Variable(RNG.standard_normal((50, 4)).astype(np.float32))
    b = sf.Variable(np.zeros(50, np.float32))
    x = RNG.standard_normal((2, 4)).astype(np.float32)
    loss = sf.nn.sampled_softmax_loss(w, b, labels, x, 8, 50, seed=3)
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        runs = [sess.run(loss) for _ in range(4)]
    assert all(np.all(np.isfinite(r)) and np.all(r > 0) for r in runs)
    assert len({tuple(np.round(r, 6)) for r in runs}) > 1


def _skipgram_pairs(rng, vocab, n):
    """Word pairs from a toy language: word w is followed by a neighbour from its own group
    of 5 (so the model can learn which words co-occur)."""
    centers = rng.integers(0, vocab, n)
    contexts = (centers // 5) * 5 + rng.integers(0, 5, n)
    return centers, contexts[:, None]


@pytest.mark.parametrize("loss_fn", ["nce", "softmax"])
def test_word2vec_style_training_lowers_the_loss(loss_fn):
    vocab, dim, batch = 100, 16, 64
    rng = np.random.default_rng(0)
    sf.set_random_seed(1)
    words = sf.placeholder(sf.int64, [batch])
    targets = sf.placeholder(sf.int64, [batch, 1])
    emb = sf.Variable(rng.uniform(-1, 1, (vocab, dim)).astype(np.float32), name="embeddings")
    w = sf.Variable((rng.standard_normal((vocab, dim)) / np.sqrt(dim)).astype(np.float32), name="nce_w")
    b = sf.Variable(np.zeros(vocab, np.float32), name="nce_b")
    h = sf.nn.embedding_lookup(emb, words)
    fn = sf.nn.nce_loss if loss_fn == "nce" else sf.nn.sampled_softmax_loss
    loss = sf.reduce_mean(fn(w, b, targets, h, 16, vocab))
    train = sf.train.GradientDescentOptimizer(1.0).minimize(loss)
    # evaluated on fixed pairs with the full softmax, so the samples do not blur the comparison
    ev_words, ev_targets = _skipgram_pairs(np.random.default_rng(1), vocab, 512)
    full = sf.reduce_mean(
        sf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=ev_targets[:, 0],
            logits=sf.matmul(sf.nn.embedding_lookup(emb, ev_words), w, transpose_b=True) + b,
        )
    )
    with sf.Session() as sess:
        sess.run(sf.global_variables_initializer())
        before = sess.run(full)
        for _ in range(600):
            c, t = _skipgram_pairs(rng, vocab, batch)
            sess.run(train, {words: c, targets: t})
        after = sess.run(full)
    # the best possible loss is log(5) = 1.61 (one of five neighbours); guessing is log(100) = 4.6
    assert before > 4.5 and after < 2.0, (before, after)
