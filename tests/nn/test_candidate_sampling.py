"""Candidate samplers and accidental hits: TensorFlow's expected-count formulas (against
values TensorFlow computed), the samples' distribution, the stream's seeding, and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import staticflow as sf
from staticflow.ops import candidate_sampling_ops as cs

pytestmark = pytest.mark.usefixtures("sf_graph")  # each test builds in a fresh default graph


TRUE_CLASSES = np.array([[1, 5], [3, 3], [0, 9], [40, 2]], np.int64)

# TensorFlow 2.21 (compat.v1), seed=11, true_classes=TRUE_CLASSES, num_true=2, range_max=50:
# (sampler, unique, num_sampled) -> (candidates, true_expected_count, sampled_expected_count)
TF_RUNS = {
    ("log_uniform", True, 20): (
        [15, 0, 2, 1, 26, 35, 11, 18, 6, 34, 27, 3, 4, 5, 32, 8, 24, 16, 46, 21],
        [
            [0.9692787528038025, 0.7219192981719971],
            [0.8458259105682373, 0.8458259105682373],
            [0.9979828000068665, 0.5439983010292053],
            [0.1785847544670105, 0.9120898246765137],
        ],
        [
            0.3917989730834961,
            0.9979828000068665,
            0.9120898246765137,
            0.9692787528038025,
            0.25722581148147583,
            0.2005033940076828,
            0.48220038414001465,
            0.3430900573730469,
            0.6690065860748291,
            0.2055458277463913,
            0.24939841032028198,
            0.8458259105682373,
            0.7811499834060669,
            0.7219192981719971,
            0.21642756462097168,
            0.5807121396064758,
            0.2744380831718445,
            0.37412863969802856,
            0.1578591912984848,
            0.30499815940856934,
        ],
    ),
    ("log_uniform", False, 7): (
        [15, 0, 2, 1, 0, 26, 1],
        [
            [0.7218671441078186, 0.2744411528110504],
            [0.39727216958999634, 0.39727216958999634],
            [1.2340400218963623, 0.16968485713005066],
            [0.04290191829204559, 0.5121728777885437],
        ],
        [
            0.10793264955282211,
            1.2340400218963623,
            0.5121728777885437,
            0.7218671441078186,
            1.2340400218963623,
            0.0647469013929367,
            0.7218671441078186,
        ],
    ),
    ("uniform", True, 30): (
        [
            43,
            49,
            40,
            7,
            25,
            33,
            23,
            13,
            48,
            44,
            31,
            5,
            41,
            18,
            19,
            10,
            24,
            39,
            38,
            16,
            21,
            30,
            20,
            4,
            6,
            15,
            0,
            42,
            9,
            14,
        ],
        [[0.545203685760498] * 2] * 4,
        [0.545203685760498] * 30,
    ),
    ("uniform", False, 7): (
        [43, 43, 49, 40, 40, 7, 25],
        [[0.14000000059604645] * 2] * 4,
        [0.14000000059604645] * 7,
    ),
}


@pytest.mark.parametrize("key", list(TF_RUNS))
def test_expected_counts_follow_tensorflows_formulas(key):
    """TensorFlow's counts for its own samples are ours for some number of draws (unique
    sampling hides how many draws it took; without unique it is num_sampled)."""
    kind, unique, num_sampled = key
    cand, true_ec, sampled_ec = (np.array(v) for v in TF_RUNS[key])
    tries_range = range(num_sampled, 10 * num_sampled) if unique else [num_sampled]
    found = []
    for tries in tries_range:
        t = cs.expected_count(cs.probability(kind, 50, TRUE_CLASSES), num_sampled, tries)
        s = cs.expected_count(cs.probability(kind, 50, cand), num_sampled, tries)
        if np.allclose(t, true_ec, rtol=3e-7, atol=0) and np.allclose(s, sampled_ec, rtol=3e-7, atol=0):
            found.append(tries)
    assert len(found) == 1, f"draw counts that reproduce TensorFlow's counts: {found}"


@pytest.mark.parametrize("sampler", [sf.nn.log_uniform_candidate_sampler, sf.nn.uniform_candidate_sampler])
@pytest.mark.parametrize("unique", [True, False])
def test_sampler_values_and_counts(sampler, unique):
    kind = "log_uniform" if sampler is sf.nn.log_uniform_candidate_sampler else "uniform"
    out = sampler(TRUE_CLASSES, 2, 20, unique, 50, seed=4)
    assert out.sampled_candidates.shape.as_list() == [20]
    assert out.true_expected_count.shape.as_list() == [4, 2]
    with sf.Session() as sess:
        cand, tec, sec = sess.run(out)
    assert cand.dtype == np.int64 and tec.dtype == np.float32
    assert np.all((cand >= 0) & (cand < 50))
    if unique:
        assert len(set(cand.tolist())) == 20
    op = out.sampled_candidates.op
    want_cand, want_tec, want_sec, tries = cs.reference_sample(
        kind, TRUE_CLASSES, 20, unique, 50, op.get_attr("seed"), op.get_attr("seed2")
    )
    np.testing.assert_array_equal(cand, want_cand)
    np.testing.assert_allclose(tec, want_tec, rtol=2e-6)
    np.testing.assert_allclose(sec, want_sec, rtol=2e-6)
    assert tries >= 20 if unique else tries == 20


def test_log_uniform_frequencies_match_the_distribution():
    """Without unique, each class's frequency over many draws estimates P(class)."""
    rmax, n = 20, 200_000
    s = sf.nn.log_uniform_candidate_sampler(np.zeros((1, 1), np.int64), 1, n, False, rmax, seed=9)
    with sf.Session() as sess:
        cand, _, sec = sess.run(s)
    freq = np.bincount(cand, minlength=rmax) / n
    p = np.log((np.arange(rmax) + 2.0) / (np.arange(rmax) + 1.0)) / math.log(rmax + 1)
    np.testing.assert_allclose(freq, p, atol=4 * np.sqrt(p * (1 - p) / n).max())
    np.testing.assert_allclose(sec, p[cand] * n, rtol=1e-5)


def test_runs_draw_new_samples_and_a_new_session_replays_them():
    s = sf.nn.uniform_candidate_sampler(TRUE_CLASSES, 2, 10, True, 1000, seed=1)
    with sf.Session() as sess:
        first, second = sess.run(s.sampled_candidates), sess.run(s.sampled_candidates)
    with sf.Session() as sess:
        again = sess.run(s.sampled_candidates)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, again)


def test_random_namespace_aliases():
    assert sf.random.log_uniform_candidate_sampler is sf.nn.log_uniform_candidate_sampler
    assert sf.random.uniform_candidate_sampler is sf.nn.uniform_candidate_sampler


def test_sampler_errors():
    with pytest.raises(ValueError, match="Sampler's range is too small"):
        sf.nn.log_uniform_candidate_sampler(TRUE_CLASSES, 2, 12, True, 10)
    with pytest.raises(ValueError, match="num_true columns, expected: 3 was: 2"):
        sf.nn.log_uniform_candidate_sampler(TRUE_CLASSES, 3, 2, True, 10)
    with pytest.raises(ValueError, match="'num_sampled'.*less than minimum 1"):
        sf.nn.uniform_candidate_sampler(TRUE_CLASSES, 2, 0, True, 10)
    with pytest.raises(ValueError, match="rank"):
        sf.nn.uniform_candidate_sampler(np.array([1, 2], np.int64), 2, 3, True, 10)
    with pytest.raises(TypeError, match="int64"):
        sf.nn.uniform_candidate_sampler(np.array([[1, 2]], np.int32), 2, 3, True, 10)
    # a fed batch of the wrong width fails the run, naming the op
    ph = sf.placeholder(sf.int64, [None, None])
    s = sf.nn.uniform_candidate_sampler(ph, 2, 3, True, 10)
    with sf.Session() as sess, pytest.raises(sf.errors.InvalidArgumentError, match="num_true columns"):
        sess.run(s, {ph: np.zeros((2, 3), np.int64)})


@pytest.mark.parametrize("sampler", [sf.nn.uniform_candidate_sampler, sf.nn.log_uniform_candidate_sampler])
def test_true_classes_outside_the_range_fail_the_run(sampler):
    # TensorFlow's message, for a class at range_max and a negative one
    ph = sf.placeholder(sf.int64, [None, 2])
    s = sampler(ph, 2, 3, True, 10, seed=1)
    with sf.Session() as sess:
        for bad in (10, -1):
            text = rf"`true_candidate` out of range \[0, 10\), received {bad}"
            with pytest.raises(sf.errors.InvalidArgumentError, match=text):
                sess.run(s, {ph: np.array([[1, bad]], np.int64)})
        ok = sess.run(s, {ph: np.array([[0, 9]], np.int64)})
    assert ok.sampled_candidates.shape == (3,)


def test_compute_accidental_hits_matches_tensorflow():
    sampled = np.array([3, 5, 3, 7, 9, 1], np.int64)
    hits = sf.nn.compute_accidental_hits(np.array([[1, 5], [3, 3], [0, 9]], np.int64), sampled, num_true=2)
    assert hits.indices.shape.as_list() == [5]
    with sf.Session() as sess:
        idx, ids, w = sess.run(hits)
    # TensorFlow: the last position of a repeated sample; one hit per (row, true class)
    np.testing.assert_array_equal(idx, np.array([0, 0, 1, 1, 2], np.int32))
    np.testing.assert_array_equal(ids, np.array([5, 1, 2, 2, 4], np.int64))
    np.testing.assert_array_equal(w, np.full(5, -np.finfo(np.float32).max, np.float32))


def test_compute_accidental_hits_on_fed_values_and_its_limit():
    tc = sf.placeholder(sf.int64, [None, 1])
    sampled = sf.placeholder(sf.int64, [None])
    hits = sf.nn.compute_accidental_hits(tc, sampled, num_true=1)
    assert hits.ids.shape.as_list() == [None]
    with sf.Session() as sess:
        idx, ids, _ = sess.run(hits, {tc: [[4], [2], [4]], sampled: [4, 0, 2]})
        np.testing.assert_array_equal(idx, [0, 1, 2])
        np.testing.assert_array_equal(ids, [0, 2, 0])
        assert sess.run(hits.ids, {tc: [[8]], sampled: [4, 0, 2]}).shape == (0,)
    # samples drawn while the graph runs cannot size the outputs of a static plan
    s = sf.nn.log_uniform_candidate_sampler(np.array([[1]], np.int64), 1, 3, True, 10)
    hits = sf.nn.compute_accidental_hits(np.array([[1]], np.int64), s.sampled_candidates, num_true=1)
    with sf.Session() as sess, pytest.raises(sf.errors.InvalidArgumentError, match="needed before the run"):
        sess.run(hits)
