"""Summary ops: values turned into serialized `Summary` protocol buffers for TensorBoard.

Each op's output is a scalar string, the bytes of a `Summary` message that
`FileWriter.add_summary` accepts; `MergeSummary` concatenates several. They are
host kernels (their NumPy reference runs in Python between kernel calls) with
TensorFlow's encodings: a histogram's buckets are TensorFlow's default
exponential limits with runs of empty buckets collapsed, images are PNG, text
is a string tensor with the "text" plugin's metadata.
"""

from __future__ import annotations

import numpy as np

from staticflow.framework import dtypes
from staticflow.framework.tensor_shape import TensorShape
from staticflow.ops import casegen
from staticflow.ops.registry import Arg, Attr, Case, op

D = dtypes
S = D.string
_rand = casegen.rand
_REAL = (D.float32, D.float64, D.int32, D.int64, D.uint8)
_IMAGE_T = (D.uint8, D.float32, D.float64, D.float16)
_DBL_MAX = float(np.finfo(np.float64).max)


def _pb():
    from staticflow.framework import summary_pb2

    return summary_pb2


def _text(b) -> str:
    b = b.item() if isinstance(b, np.ndarray) else b
    return b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b)


def _scalar_out(c):
    return [TensorShape([])]


def _summary_bytes(values) -> np.ndarray:
    s = _pb().Summary(value=values)
    return np.array(s.SerializeToString(), dtype=object)


# ---------------------------------------------------------------------------
# ScalarSummary
# ---------------------------------------------------------------------------
def _scalar_shape(c):
    tags, values = c.shape(0), c.shape(1)
    if not tags.is_compatible_with(values):
        raise ValueError(f"tags and values are not the same shape: {tags} != {values}")
    return [TensorShape([])]


def _scalar_ref(ins, a):
    tags, values = ins
    if tags.shape != values.shape:
        where = f" (tag '{_text(tags.reshape(-1)[0])}')" if tags.ndim == 0 else ""
        raise ValueError(
            f"tags and values are not the same shape: {list(tags.shape)} != {list(values.shape)}{where}"
        )
    V = _pb().Summary.Value
    return _summary_bytes(
        [V(tag=_text(t), simple_value=float(v)) for t, v in zip(tags.reshape(-1), values.reshape(-1))]
    )


op(
    name="ScalarSummary",
    inputs=[Arg("tags", dtype=S), Arg("values", type_attr="T")],
    outputs=[Arg("summary", dtype=S)],
    attrs=[Attr("T", "type", allowed=_REAL)],
    shape_fn=_scalar_shape,
    ref=_scalar_ref,
    host_kernel=True,
    differentiable=False,
    cases=lambda rng: [
        Case((np.array(b"loss", object), _rand(rng, (), t)), grad=False) for t in _REAL
    ]
    + [Case((np.array([b"a", b"b"], object), _rand(rng, (2,))), grad=False)],
    doc="A Summary with one simple_value per (tag, value) pair.",
)


# ---------------------------------------------------------------------------
# HistogramSummary
# ---------------------------------------------------------------------------
def _default_limits() -> np.ndarray:
    """TensorFlow's default histogram bucket limits: +-1e-12 * 1.1^k up to 1e20, +-DBL_MAX, 0."""
    pos = []
    v = 1.0e-12
    while v < 1.0e20:
        pos.append(v)
        v *= 1.1
    pos.append(_DBL_MAX)
    return np.array([-x for x in reversed(pos)] + [0.0] + pos)


_LIMITS = _default_limits()


def histogram_proto(values: np.ndarray, tag: str = ""):
    """The HistogramProto TensorFlow writes for these values (non-finite values refused)."""
    v = np.asarray(values, np.float64).reshape(-1)
    if not np.all(np.isfinite(v)):
        raise ValueError(f"Nan in summary histogram for: {tag}")
    counts = np.bincount(np.searchsorted(_LIMITS, v, side="right"), minlength=_LIMITS.size).astype(np.float64)
    h = _pb().HistogramProto(
        min=float(v.min()) if v.size else _DBL_MAX,
        max=float(v.max()) if v.size else -_DBL_MAX,
        num=float(v.size),
        # running sums in element order, as TensorFlow accumulates them
        sum=float(np.cumsum(v)[-1]) if v.size else 0.0,
        sum_squares=float(np.cumsum(v * v)[-1]) if v.size else 0.0,
    )
    i, n = 0, counts.size
    while i < n:  # a run of empty buckets is written as one, ending where the run ends
        end, count = _LIMITS[i], counts[i]
        i += 1
        if count <= 0:
            while i < n and counts[i] <= 0:
                end, count = _LIMITS[i], counts[i]
                i += 1
        h.bucket_limit.append(float(end))
        h.bucket.append(float(count))
    return h


def _histogram_ref(ins, a):
    tag = _text(ins[0])
    return _summary_bytes([_pb().Summary.Value(tag=tag, histo=histogram_proto(ins[1], tag))])


op(
    name="HistogramSummary",
    inputs=[Arg("tag", dtype=S), Arg("values", type_attr="T")],
    outputs=[Arg("summary", dtype=S)],
    attrs=[Attr("T", "type", D.float32, allowed=_REAL)],
    shape_fn=_scalar_out,
    ref=_histogram_ref,
    host_kernel=True,
    differentiable=False,
    cases=lambda rng: [
        Case((np.array(b"h", object), _rand(rng, s, t) * 100), grad=False)
        for t in _REAL
        for s in [(), (3, 4)]
    ]
    + [Case((np.array(b"empty", object), np.zeros((0,), np.float32)), grad=False)],
    doc="A Summary with the histogram of all values (TensorFlow's default buckets).",
)


# ---------------------------------------------------------------------------
# ImageSummary
# ---------------------------------------------------------------------------
def _image_shape(c):
    s = c.shape(1)
    if s.ndims is not None:
        depth = s.as_tuple()[-1] if s.ndims else None
        if s.ndims != 4 or (depth is not None and depth not in (1, 3, 4)):
            raise ValueError(f"Tensor must be 4-D with last dim 1, 3, or 4, not {s}")
    if c.attrs["max_images"] < 1:
        raise ValueError(f"max_images must be at least 1, got {c.attrs['max_images']}")
    return [TensorShape([])]


def normalize_image(image: np.ndarray, bad_color: np.ndarray) -> np.ndarray:
    """One float [h, w, c] image as uint8, as TensorFlow's ImageSummary does it: over the
    finite pixels, all >= 0 scales the maximum to 255; otherwise 0 goes to 128 and the
    largest magnitude to 127 off it. Pixels with a non-finite channel get bad_color.

    The arithmetic is TensorFlow's, rounding for rounding: the range and the scale in
    float32, the affine map in the image's own type (float16 images in float16), then
    truncation to an integer."""
    ct = image.dtype.type if image.dtype in (np.float16, np.float64) else np.float32
    x = image.astype(ct)
    finite = np.all(np.isfinite(x), axis=-1)
    vals = x[finite].astype(np.float32)
    lo = vals.min() if vals.size else np.float32(np.inf)
    hi = vals.max() if vals.size else np.float32(-np.inf)
    if lo < 0:
        m = max(abs(lo), abs(hi))
        scale, offset = (np.float32(0) if m < 1e-6 else np.float32(127) / m), 128.0
    else:
        scale, offset = (np.float32(0) if hi < 1e-6 else np.float32(255) / hi), 0.0
    with np.errstate(invalid="ignore", over="ignore"):
        out = (x * ct(scale) + ct(offset)).astype(np.int64)
    out = np.clip(out, 0, 255).astype(np.uint8)
    out[~finite] = bad_color[: image.shape[-1]]
    return out


def _image_ref(ins, a):
    from staticflow.util import png

    tag, tensor = _text(ins[0]), ins[1]
    if tensor.ndim != 4 or tensor.shape[-1] not in (1, 3, 4):
        raise ValueError(f"Tensor must be 4-D with last dim 1, 3, or 4, not {list(tensor.shape)}")
    bad = np.asarray(a["bad_color"]).reshape(-1)
    if bad.size < tensor.shape[-1]:
        raise ValueError(f"bad_color has {bad.size} channels, the images have {tensor.shape[-1]}")
    pb = _pb()
    values = []
    for i in range(min(tensor.shape[0], a["max_images"])):
        img = tensor[i] if tensor.dtype == np.uint8 else normalize_image(tensor[i], bad.astype(np.uint8))
        h, w, ch = img.shape
        name = f"{tag}/image" if a["max_images"] == 1 else f"{tag}/image/{i}"
        encoded = pb.Summary.Image(height=h, width=w, colorspace=ch, encoded_image_string=png.encode(img))
        values.append(pb.Summary.Value(tag=name, image=encoded))
    return _summary_bytes(values)


op(
    name="ImageSummary",
    inputs=[Arg("tag", dtype=S), Arg("tensor", type_attr="T")],
    outputs=[Arg("summary", dtype=S)],
    attrs=[
        Attr("max_images", "int", 3),
        Attr("T", "type", D.float32, allowed=_IMAGE_T),
        Attr("bad_color", "tensor", np.array([255, 0, 0, 255], np.uint8)),
    ],
    shape_fn=_image_shape,
    ref=_image_ref,
    host_kernel=True,
    differentiable=False,
    cases=lambda rng: [
        Case((np.array(b"img", object), _rand(rng, (2, 3, 4, c), t) * 9), {"max_images": m}, grad=False)
        for t, c, m in [(D.float32, 1, 1), (D.float64, 3, 3), (D.uint8, 4, 2), (D.float16, 3, 1)]
    ]
    + [Case((np.array(b"inf", object), np.array([[[[-1.0], [np.inf]]]], np.float32)), grad=False)],
    doc="A Summary with up to max_images PNG images of a [batch, h, w, 1|3|4] tensor.",
)


# ---------------------------------------------------------------------------
# TensorSummaryV2 (text and generic tensors)
# ---------------------------------------------------------------------------
def _tensor_summary_ref(ins, a):
    from staticflow.framework import tensor_util

    tag, tensor, meta = ins
    pb = _pb()
    try:
        metadata = pb.SummaryMetadata.FromString(meta.item() if isinstance(meta, np.ndarray) else meta)
    except Exception:  # noqa: BLE001 - the message names what failed
        raise ValueError("serialized_summary_metadata is not a SummaryMetadata message") from None
    value = pb.Summary.Value(tag=_text(tag), metadata=metadata)
    value.tensor.CopyFrom(tensor_util.make_tensor_proto(tensor, dtype=D.as_dtype(tensor.dtype)))
    return _summary_bytes([value])


def _text_metadata() -> np.ndarray:
    pb = _pb()
    meta = pb.SummaryMetadata(plugin_data=pb.SummaryMetadata.PluginData(plugin_name="text"))
    return np.array(meta.SerializeToString(), dtype=object)


op(
    name="TensorSummaryV2",
    inputs=[Arg("tag", dtype=S), Arg("tensor", type_attr="T"), Arg("serialized_summary_metadata", dtype=S)],
    outputs=[Arg("summary", dtype=S)],
    attrs=[Attr("T", "type")],
    shape_fn=_scalar_out,
    ref=_tensor_summary_ref,
    host_kernel=True,
    differentiable=False,
    cases=lambda rng: [
        Case((np.array(b"note", object), _rand(rng, (2,), S), _text_metadata()), grad=False),
        Case((np.array(b"t", object), _rand(rng, (2, 3)), np.array(b"", object)), grad=False),
    ],
    doc="A Summary holding the whole tensor, with the given metadata (text summaries use it).",
)


# ---------------------------------------------------------------------------
# MergeSummary
# ---------------------------------------------------------------------------
def _merge_ref(ins, a):
    pb = _pb()
    out, tags = pb.Summary(), set()
    for x in ins:
        for data in np.asarray(x, dtype=object).reshape(-1):
            try:
                s = pb.Summary.FromString(data)
            except Exception:  # noqa: BLE001 - protobuf raises its own DecodeError
                raise ValueError("Could not parse one of the summary inputs") from None
            for v in s.value:
                if v.tag and v.tag in tags:
                    raise ValueError(f"Duplicate tag {v.tag} found in summary inputs")
                tags.add(v.tag)
                out.value.add().CopyFrom(v)
    return np.array(out.SerializeToString(), dtype=object)


def _merge_cases(rng):
    pb = _pb()

    def one(tag, v):
        return pb.Summary(value=[pb.Summary.Value(tag=tag, simple_value=v)]).SerializeToString()

    a = np.array(one("a", 1.0), dtype=object)
    b = np.array([one("b", 2.0), one("c", 3.0)], dtype=object)
    return [Case(([a, b],), grad=False), Case(([a],), grad=False)]


op(
    name="MergeSummary",
    inputs=[Arg("inputs", dtype=S, number_attr="N")],
    outputs=[Arg("summary", dtype=S)],
    attrs=[Attr("N", "int")],
    shape_fn=_scalar_out,
    ref=_merge_ref,
    host_kernel=True,
    differentiable=False,
    cases=_merge_cases,
    doc="The values of all input Summary messages in one Summary (a tag may appear once).",
)
