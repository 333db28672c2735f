"""Summary protocol buffers compared by content rather than by their bytes.

TensorFlow's image summaries hold PNGs that libpng compresses with its own zlib
settings and per-row filters; staticflow writes valid PNGs of the same pixels
with other settings. `canonical` rewrites a serialized `Summary` so that each
image holds its decoded pixels instead (staticflow's PNG decoder reads any filter;
tests/summary checks it on a PNG TensorFlow wrote), and everything else stays as it was:
two summaries are equal when their canonical forms are.
"""

from __future__ import annotations

from staticflow.util import png


def canonical(data: bytes) -> bytes:
    """A serialized Summary with each image's PNG replaced by its pixels (and their shape)."""
    from staticflow.framework import summary_pb2

    s = summary_pb2.Summary.FromString(data)
    for v in s.value:
        if v.HasField("image"):
            pixels = png.decode(v.image.encoded_image_string)
            v.image.encoded_image_string = repr(pixels.shape).encode() + pixels.tobytes()
    return s.SerializeToString(deterministic=True)
