"""The LSTM example (dynamic_rnn over variable-length bit strings) learns the majority bit."""

from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "examples"))

import lstm_sequences  # noqa: E402


def test_lstm_learns_the_majority_bit_of_variable_length_strings():
    assert lstm_sequences.main(["--quiet", "--steps", "100"]) >= lstm_sequences.TARGET


def test_padding_decides_the_label_unless_the_network_stops_at_each_length():
    # the padding reads as zero bits: the majority over the padded string differs from the
    # label for many strings, so an RNN that ignored sequence_length could not reach the target
    import numpy as np

    bits, lengths, labels = lstm_sequences.make_batch(np.random.default_rng(0), 1000)
    assert (
        set(np.unique(bits)) == {-1.0, 1.0}
        and lengths.min() == 1
        and lengths.max() == lstm_sequences.MAX_LENGTH
    )
    padded_majority = (bits[:, :, 0] > 0).sum(1) * 2 > lstm_sequences.MAX_LENGTH
    assert (padded_majority == labels).mean() < 0.8
