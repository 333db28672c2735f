"""Summary ops: TensorFlow's encodings, tags, errors, and TensorBoard reading what they write.

Expected values marked "TF" were produced by TensorFlow 2.21 (tf.compat.v1) for the same inputs.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import staticflow as sf
from staticflow.util import png

FIXTURES = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "tensorflow")


pytestmark = pytest.mark.usefixtures("sf_graph")  # each test builds in a fresh default graph


def _run(t, feed=None):
    with sf.Session() as s:
        return sf.summary.Summary.FromString(s.run(t, feed))


def test_scalar_and_histogram_as_tensorflow_writes_them():
    x = sf.placeholder(sf.float32, [None])
    with sf.name_scope("outer"):
        s1 = sf.summary.scalar("loss", sf.reduce_mean(x))
        h = sf.summary.histogram("h", x)
    feed = {x: [1.0, 2.0, 2.0, -3.0, 0.0]}
    got = _run(s1, feed)
    assert [(v.tag, v.simple_value) for v in got.value] == [("outer/loss", pytest.approx(0.4))]
    hv = _run(h, feed).value[0]
    assert hv.tag == "outer/h"
    p = hv.histo
    assert (p.min, p.max, p.num, p.sum, p.sum_squares) == (-3, 2, 5, 2, 18)
    # TF: runs of empty buckets collapse into one ending where the run ends
    assert list(p.bucket_limit) == [
        -3.1665833053880363,
        -2.8787120958073054,
        0.0,
        1e-12,
        0.917246389039776,
        1.0089710279437536,
        1.9661990955585713,
        2.1628190051144287,
        1.7976931348623157e308,
    ]
    assert list(p.bucket) == [0, 1, 0, 1, 0, 1, 0, 2, 0]


def test_histogram_bytes_equal_tensorflows():
    values = np.random.default_rng(4).normal(size=1000) * 50
    got = _run(sf.summary.histogram("hh", sf.constant(values))).SerializeToString()
    with open(os.path.join(FIXTURES, "summary_histogram.hex")) as f:  # written by TF for these values
        want = bytes.fromhex(f.read().strip())
    assert got == want


def test_empty_and_nonfinite_histograms():
    p = _run(sf.summary.histogram("e", sf.constant([], sf.float32))).value[0].histo
    dmax = float(np.finfo(np.float64).max)
    assert (p.min, p.max, p.num, list(p.bucket_limit), list(p.bucket)) == (dmax, -dmax, 0, [dmax], [0])
    bad = sf.summary.histogram("h", sf.constant([1.0, np.nan]))
    with sf.Session() as s, pytest.raises(sf.errors.InvalidArgumentError, match="Nan in summary histogram"):
        s.run(bad)


def test_tags_follow_scopes_families_and_repeats():
    a = sf.summary.scalar("bad name!", 1.0)
    b = sf.summary.scalar("b", 3.0, family="fam")
    c = sf.summary.scalar("b", 4.0, family="fam")
    assert a.op.name == "bad_name_" and b.op.name == "fam/b" and c.op.name == "fam/b_1"
    assert [_run(t).value[0].tag for t in (a, b, c)] == ["bad_name_", "fam/fam/b", "fam/fam/b_1"]
    assert sf.get_collection(sf.GraphKeys.SUMMARIES) == [a, b, c]


def test_scalar_shape_errors():
    with pytest.raises(ValueError, match="must be a scalar"):
        sf.summary.scalar("v", sf.constant([1.0, 2.0]))
    from staticflow.ops import builder

    with pytest.raises(ValueError, match="not the same shape"):
        builder.apply_op("ScalarSummary", [sf.constant(["x", "y"]), sf.constant([1.0, 2.0, 3.0])])


def test_image_normalization_and_tags_as_tensorflow():
    imgs = sf.constant(np.linspace(-1, 2, 12).reshape(2, 3, 2, 1), sf.float32)
    v = _run(sf.summary.image("img", imgs, max_outputs=1)).value
    assert len(v) == 1 and v[0].tag == "img/image"
    assert (v[0].image.height, v[0].image.width, v[0].image.colorspace) == (3, 2, 1)
    pixels = png.decode(v[0].image.encoded_image_string).reshape(-1).tolist()
    assert pixels == [1, 35, 70, 104, 139, 174]  # TF
    pos = sf.constant(np.array([[[[0.25], [0.5]], [[1.0], [2.0]]]], np.float32))
    assert png.decode(_run(sf.summary.image("p", pos)).value[0].image.encoded_image_string).reshape(
        -1
    ).tolist() == [31, 63, 127, 255]  # TF: all positive, max to 255


def test_float16_images_are_mapped_in_float16_as_tensorflow_does():
    # -5.113 * float16(127 / 5.113) + 128 rounds to 0 in float16 arithmetic (1 in float32)
    x = np.array([4.082, -5.113, 0.8364, -1.136, -0.9053, -0.4312, -4.04, -0.4639], np.float16)
    v = _run(sf.summary.image("h", sf.constant(x.reshape(1, 2, 4, 1)))).value
    assert png.decode(v[0].image.encoded_image_string).reshape(-1).tolist() == [
        229, 0, 148, 99, 105, 117, 27, 116,
    ]  # TF


def test_rgb_image_with_nan_gets_bad_color():
    x = np.random.default_rng(3).normal(size=(1, 4, 5, 3)).astype(np.float32)
    x[0, 1, 2, 1] = np.nan
    v = _run(sf.summary.image("rgb", sf.constant(x), max_outputs=2)).value
    assert [e.tag for e in v] == ["rgb/image/0"] and v[0].image.colorspace == 3
    want = [206, 30, 143, 106, 110, 119, 50, 119, 94, 255, 136, 114, 117, 102, 87, 113, 146, 118, 164, 120]
    want += [128, 255, 0, 0, 121, 148, 201, 117, 118, 166, 94, 116, 161, 150, 131, 153, 19, 167, 91, 64]
    want += [138, 154, 111, 86, 128, 125, 181, 156, 135, 170, 120, 92, 150, 150, 119, 98, 136, 32, 154, 146]
    assert png.decode(v[0].image.encoded_image_string).reshape(-1).tolist() == want  # TF


def test_uint8_images_are_unchanged_and_bad_shapes_refused():
    x = np.arange(2 * 2 * 3 * 4, dtype=np.uint8).reshape(2, 2, 3, 4)
    v = _run(sf.summary.image("u", sf.constant(x))).value
    assert [e.tag for e in v] == ["u/image/0", "u/image/1"]
    for e, img in zip(v, x, strict=True):
        np.testing.assert_array_equal(png.decode(e.image.encoded_image_string), img)
    with pytest.raises(ValueError, match="4-D with last dim 1, 3, or 4"):
        sf.summary.image("bad", sf.constant(np.zeros((1, 2, 2, 2), np.float32)))


def test_png_decoder_reads_tensorflows_png():
    tf_png = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x02\x00\x00\x00\x03\x08\x00\x00\x00\x00\x9c\x81\x81]"
        b"\x00\x00\x00\x11IDAT\x08\x99cdTbqUbqU\x06\x00\x03\xba\x00\xfc\x80P{ \x00\x00\x00\x00IEND\xaeB`\x82"
    )
    assert png.decode(tf_png).reshape(-1).tolist() == [1, 35, 70, 104, 139, 174]
    rgba = np.random.default_rng(0).integers(0, 256, (5, 7, 4)).astype(np.uint8)
    np.testing.assert_array_equal(png.decode(png.encode(rgba)), rgba)


def test_text_and_tensor_summaries():
    v = _run(sf.summary.text("note", sf.constant(["a", "b"]))).value[0]
    assert v.tag == "note" and v.metadata.plugin_data.plugin_name == "text"
    assert sf.make_ndarray(v.tensor).tolist() == [b"a", b"b"]
    t = _run(sf.summary.tensor_summary("w", sf.constant([[1.0, 2.0]]), display_name="W")).value[0]
    assert t.metadata.display_name == "W"
    np.testing.assert_array_equal(sf.make_ndarray(t.tensor), [[1.0, 2.0]])
    with pytest.raises(ValueError, match="dtype string"):
        sf.summary.text("n", sf.constant(1.0))


def test_merge_and_merge_all():
    assert sf.summary.merge_all() is None
    with sf.name_scope("a"):
        s1 = sf.summary.scalar("x", 1.0)
    with sf.name_scope("b"):
        s2 = sf.summary.scalar("y", 2.0)
    merged = _run(sf.summary.merge_all())
    assert [(v.tag, v.simple_value) for v in merged.value] == [("a/x", 1.0), ("b/y", 2.0)]
    only_b = _run(sf.summary.merge_all(scope="b"))
    assert [v.tag for v in only_b.value] == ["b/y"]
    with sf.Session() as s, pytest.raises(sf.errors.InvalidArgumentError, match="Duplicate tag a/x"):
        s.run(sf.summary.merge([s1, s1, s2]))
    with sf.Session() as s, pytest.raises(sf.errors.InvalidArgumentError, match="Could not parse"):
        s.run(sf.summary.merge([sf.constant("junk")]))


def test_tensorboard_shows_every_kind(tmp_path):
    ea_mod = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    x = sf.placeholder(sf.float32, [None])
    sf.summary.scalar("loss", sf.reduce_mean(x))
    sf.summary.histogram("values", x)
    sf.summary.image("picture", sf.reshape(x[:4], [1, 2, 2, 1]))
    sf.summary.text("note", sf.as_string(sf.reduce_sum(x)))
    merged = sf.summary.merge_all()
    with sf.Session() as s, sf.summary.FileWriter(str(tmp_path), s.graph) as w:
        for step in range(3):
            w.add_summary(s.run(merged, {x: np.arange(4, dtype=np.float32) * (step + 1)}), step)
    acc = ea_mod.EventAccumulator(str(tmp_path), size_guidance={"tensors": 0, "histograms": 0, "images": 0})
    acc.Reload()
    tags = acc.Tags()
    assert tags["scalars"] == ["loss"] and tags["histograms"] == ["values"]
    assert tags["images"] == ["picture/image/0"] and "note" in tags["tensors"]
    assert [e.value for e in acc.Scalars("loss")] == [1.5, 3.0, 4.5]
    assert [h.histogram_value.max for h in acc.Histograms("values")] == [3.0, 6.0, 9.0]
    assert acc.Images("picture/image/0")[0].height == 2
    assert acc.Tensors("note")[2].tensor_proto.string_val == [b"18.000000"]
    assert acc.Graph() is not None
