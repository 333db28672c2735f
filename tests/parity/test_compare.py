"""The parity suite's comparisons and its differences list, on values made up here."""

from __future__ import annotations

import struct
import zlib

import ml_dtypes
import numpy as np
import pytest

from parity import compare, differences, summaries
from staticflow.framework import dtypes as D
from staticflow.framework import summary_pb2
from staticflow.ops import registry
from staticflow.util import png


def test_bfloat16_compares_as_a_float_within_its_precision():
    want = np.array([1.0, 2.0, 300.0], ml_dtypes.bfloat16)
    assert compare.is_float(want.dtype) and not compare.is_float(np.dtype(np.int32))
    assert compare.array_problem(want, want, "x") is None
    one_ulp = np.array([1.0078125, 2.0, 300.0], ml_dtypes.bfloat16)  # 1 + 2**-7
    assert compare.array_problem(one_ulp, want, "x") is None
    far = np.array([1.0, 2.0, 310.0], ml_dtypes.bfloat16)
    assert "values differ" in compare.array_problem(far, want, "x")
    assert "dtype" in compare.array_problem(want.astype(np.float32), want, "x")


def test_strings_compare_as_bytes():
    pb = np.array([b"\x08\xff\x00", b"a"], object)  # not UTF-8, ends with NUL
    assert compare.array_problem(pb, pb.copy(), "s") is None
    assert compare.array_problem(np.array(["a"]), np.array([b"a"], object), "s") is None
    assert "strings differ" in compare.array_problem(np.array([b"\x08\xff"], object), pb[:1], "s")


def _image_summary(pixels: np.ndarray, encoded: bytes) -> bytes:
    h, w, c = pixels.shape
    image = summary_pb2.Summary.Image(height=h, width=w, colorspace=c, encoded_image_string=encoded)
    value = summary_pb2.Summary.Value(tag="t/image", image=image)
    return summary_pb2.Summary(value=[value]).SerializeToString()


def test_image_summaries_compare_by_pixels():
    pixels = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    ours = _image_summary(pixels, png.encode(pixels))
    # the same pixels as libpng writes them: "Up" filter on the second row, another zlib level
    rows = pixels.reshape(2, 6).astype(np.int64)
    raw = bytes([0, *rows[0]]) + bytes([2, *((rows[1] - rows[0]) & 0xFF)])
    idat = zlib.compress(raw, 9)
    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    theirs_png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    theirs = _image_summary(pixels, theirs_png)
    assert ours != theirs and summaries.canonical(ours) == summaries.canonical(theirs)
    other = pixels.copy()
    other[1, 1, 2] += 1
    assert summaries.canonical(_image_summary(other, png.encode(other))) != summaries.canonical(ours)


def test_differences_select_ops_by_registry_flags():
    random_ops = differences.flagged("random")
    assert random_ops(registry.get("RandomUniform")) and random_ops(registry.get("RandomShuffle"))
    assert not random_ops(registry.get("Add"))
    d = differences.Difference(random_ops, ("values",), "why")
    assert d.applies("UniformCandidateSampler", None, "exact") and not d.applies("Sub", None, "exact")
    with pytest.raises(ValueError, match="no op flag"):
        differences.flagged("not_a_flag")


def test_out_of_range_casts_are_excused_only_out_of_range():
    def case(x, dst):
        return registry.Case((np.asarray(x),), {"DstT": dst})

    excused = differences._float_to_int_out_of_range
    assert excused(case([1.5, -0.5], D.uint8)) is False  # truncates to 0: in range
    assert excused(case([-1.0], D.uint8)) and excused(case([np.nan], D.int32))
    assert excused(case([128.0], D.int8)) and not excused(case([127.9], D.int8))
    assert excused(case([2.0**63], D.int64)) and not excused(case([2.0**62], D.int64))
    assert not excused(case([-1], D.uint8))  # an integer source is exact in both engines
