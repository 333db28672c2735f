"""Convolution and pooling ops (TensorFlow's names and attrs), and their sf.nn wrappers.

Kernels are NHWC (kernels/cpu/conv.c): an NCHW op copies its image inputs
into NHWC scratch views and its NHWC result back (transposing copies).
Padding is resolved here, from the concrete shapes, into the top/left
amounts the kernels take: TensorFlow's SAME (output ceil(in / stride), the
odd pixel of padding at the bottom/right), VALID (no padding) and EXPLICIT
(`explicit_paddings`, [before, after] per dimension in data_format order).
"""

from __future__ import annotations

import math

import numpy as np

from staticflow.framework import backend, dtypes
from staticflow.framework import ops as fops
from staticflow.framework.tensor_shape import TensorShape
from staticflow.ops import abi, builder, casegen, registry
from staticflow.ops.lowering import COPY_KERNELS, View
from staticflow.ops.registry import Arg, Attr, Case, op

D = dtypes
F = D.FLOATS
_rand = casegen.rand

# each thread's im2col chunk holds at most this many column entries (more images run in
# more chunks; at least one image per chunk): 256 KiB of float32 stays in a core's L2
# cache between the im2col that writes it and the product that reads it
COL_CAP = 1 << 16


# ---------------------------------------------------------------------------
# geometry
# ---------------------------------------------------------------------------
# strides, dilations, window sizes and paddings beyond this are refused: the kernels'
# index arithmetic (window starts, padded sizes) then stays far inside 64 bits
MAX_GEOMETRY = (1 << 31) - 1
GEOMETRY_LIMIT = 1 << 48


def _hw(vals, fmt, what):
    """The (h, w) entries of a 4-element attr in data_format order; checks N and C are 1."""
    vals = [int(v) for v in vals]
    if len(vals) != 4:
        raise ValueError(f"{what} must have 4 elements, got {vals}")
    hi, wi, ni, ci = (1, 2, 0, 3) if fmt == "NHWC" else (2, 3, 0, 1)
    if vals[ni] != 1 or vals[ci] != 1:
        raise ValueError(f"{what} {vals}: the batch and depth entries must be 1 ({fmt})")
    if vals[hi] < 1 or vals[wi] < 1:
        raise ValueError(f"{what} {vals} must be positive")
    if vals[hi] > MAX_GEOMETRY or vals[wi] > MAX_GEOMETRY:
        raise ValueError(f"{what} {vals}: entries above {MAX_GEOMETRY} are not supported")
    return vals[hi], vals[wi]


def _explicit(attrs, fmt):
    """((top, bottom), (left, right)) from explicit_paddings, or None unless padding is EXPLICIT."""
    if attrs.get("padding") != "EXPLICIT":
        if attrs.get("explicit_paddings"):
            raise ValueError("explicit_paddings must be empty unless padding is EXPLICIT")
        return None
    p = [int(v) for v in attrs.get("explicit_paddings") or []]
    if len(p) != 8:
        raise ValueError(f"padding EXPLICIT needs 8 explicit_paddings, got {p}")
    if any(v < 0 for v in p):
        raise ValueError(f"explicit_paddings {p} must be non-negative")
    if any(v > MAX_GEOMETRY for v in p):
        raise ValueError(f"explicit_paddings {p}: entries above {MAX_GEOMETRY} are not supported")
    hi, wi, ci = (1, 2, 3) if fmt == "NHWC" else (2, 3, 1)
    if p[0] or p[1] or p[2 * ci] or p[2 * ci + 1]:
        raise ValueError(f"explicit_paddings {p}: the batch and depth paddings must be 0")
    return (p[2 * hi], p[2 * hi + 1]), (p[2 * wi], p[2 * wi + 1])


def out_size(n, k, s, d, padding, explicit=None):
    """(output size, padding before) of one spatial dim; n may be None (unknown)."""
    eff = (k - 1) * d + 1
    if padding == "EXPLICIT":
        before, after = explicit
        if n is None:
            return None, before
        o = (n + before + after - eff) // s + 1
        return max(o, 0), before
    if n is None:
        return None, 0
    if padding == "VALID":
        return max((n - eff + s) // s, 0), 0
    if padding != "SAME":
        raise ValueError(f"padding {padding!r} must be one of SAME, VALID, EXPLICIT")
    o = -(-n // s)
    total = max((o - 1) * s + eff - n, 0)
    return o, total // 2


class Geometry:
    """Everything about one conv/pool: NHWC sizes, strides, dilations, padding."""

    def __init__(self, attrs, in_hw, k_hw, pool=False):
        fmt = attrs.get("data_format", "NHWC")
        self.fmt = fmt
        self.sh, self.sw = _hw(attrs["strides"], fmt, "strides")
        if pool:
            self.dh = self.dw = 1
            self.kh, self.kw = _hw(attrs["ksize"], fmt, "ksize")
        else:
            self.dh, self.dw = _hw(attrs.get("dilations") or [1, 1, 1, 1], fmt, "dilations")
            self.kh, self.kw = k_hw
        pad = attrs["padding"]
        ex = _explicit(attrs, fmt) or ((0, 0), (0, 0))
        self.oh, self.pt = out_size(in_hw[0], self.kh, self.sh, self.dh, pad, ex[0])
        self.ow, self.pl = out_size(in_hw[1], self.kw, self.sw, self.dw, pad, ex[1])
        # image, window and padding sizes stay below 2**48, so that no sum or product of two
        # of them (a window's start and end in the kernels) leaves 64 bits
        for v in (*in_hw, self.kh, self.kw, self.oh, self.ow, self.pt, self.pl):
            if v is not None and v > GEOMETRY_LIMIT:
                raise ValueError(
                    f"image {tuple(in_hw)}, window ({self.kh}, {self.kw}), dilations ({self.dh}, "
                    f"{self.dw}) and padding give sizes above {GEOMETRY_LIMIT}, which are not supported"
                )
        for k, d in ((self.kh, self.dh), (self.kw, self.dw)):
            if k is not None and (k - 1) * d + 1 > GEOMETRY_LIMIT:
                raise ValueError(
                    f"the dilated window ({k} taps, dilation {d}) is larger than {GEOMETRY_LIMIT}"
                )

    @classmethod
    def direct(cls, kh: int, kw: int, oh: int, ow: int, pt: int, pl: int) -> Geometry:
        """A stride-1 conv geometry given its output size and top/left padding directly."""
        g = cls.__new__(cls)
        g.fmt = "NHWC"
        g.sh = g.sw = g.dh = g.dw = 1
        g.kh, g.kw, g.oh, g.ow, g.pt, g.pl = kh, kw, oh, ow, pt, pl
        return g

    def conv_iattr(self, chunk: int, epilogue: dict | None = None) -> tuple:
        """A conv kernel's iattr (abi.SF_CONV_*): this geometry, the chunk, and a fused conv's
        epilogue entries."""
        return abi.pack({
            abi.SF_CONV_STRIDE_H: self.sh,
            abi.SF_CONV_STRIDE_W: self.sw,
            abi.SF_CONV_DILATION_H: self.dh,
            abi.SF_CONV_DILATION_W: self.dw,
            abi.SF_CONV_PAD_TOP: self.pt,
            abi.SF_CONV_PAD_LEFT: self.pl,
            abi.SF_CONV_CHUNK: chunk,
            **(epilogue or {}),
        })

    def pool_iattr(self) -> tuple:
        """A pool kernel's iattr (abi.SF_POOL_*)."""
        return abi.pack({
            abi.SF_POOL_KSIZE_H: self.kh,
            abi.SF_POOL_KSIZE_W: self.kw,
            abi.SF_POOL_STRIDE_H: self.sh,
            abi.SF_POOL_STRIDE_W: self.sw,
            abi.SF_POOL_PAD_TOP: self.pt,
            abi.SF_POOL_PAD_LEFT: self.pl,
        })


def _to_nhwc_dims(dims, fmt):
    """An image shape (tuple, None entries allowed) in data_format order -> NHWC order."""
    return tuple(dims) if fmt == "NHWC" else (dims[0], dims[2], dims[3], dims[1])


def _from_nhwc_dims(dims, fmt):
    return tuple(dims) if fmt == "NHWC" else (dims[0], dims[3], dims[1], dims[2])


def _image(c, i, what):
    s = c.shape(i)
    if s.ndims is not None and s.ndims != 4:
        raise ValueError(f"{what} must be 4-D, got shape {s}")
    return _to_nhwc_dims(s.with_rank(4).as_tuple(), c.attrs.get("data_format", "NHWC"))


def _sizes(c, i, what, fmt=None):
    """A host sizes input (input_sizes, filter_sizes, orig_input_shape) as a 4-tuple, None if unknown."""
    v = c.value(i)
    if v is None:
        s = c.shape(i)
        if s.ndims is not None and s.ndims != 1:
            raise ValueError(f"{what} must be 1-D, got shape {s}")
        p = c.shape_value(i)  # known element by element: sf.stack([batch, 14, 14, 32])
        if p.ndims != 4:
            return (None,) * 4
        return _to_nhwc_dims(p.as_tuple(), fmt) if fmt else p.as_tuple()
    dims = [int(x) for x in np.asarray(v).reshape(-1)]
    if len(dims) != 4 or any(d < 0 for d in dims):
        raise ValueError(f"{what} must be 4 non-negative sizes, got {dims}")
    return _to_nhwc_dims(dims, fmt) if fmt else tuple(dims)


def _check_dim(a, b, msg):
    if a is not None and b is not None and a != b:
        raise ValueError(msg.format(a, b))


def _merge(a, b):
    return a if a is not None else b


def _conv_out_shape(c, x, w, depthwise=False):
    """NHWC output dims of a conv of image dims x with filter dims w, checking depths."""
    cin = w[2]
    _check_dim(x[3], cin, "input depth {} does not match filter in_channels {}")
    for k, name in ((w[0], "height"), (w[1], "width")):
        if k is not None and k < 1:
            raise ValueError(f"filter {name} must be positive, got {k}")
    khw = (w[0] or 1, w[1] or 1)
    g = Geometry(c.attrs, (x[1], x[2]), khw)
    same = c.attrs.get("padding") == "SAME"  # output ceil(input / stride), whatever the filter size
    oh = g.oh if w[0] is not None or same else None
    ow = g.ow if w[1] is not None or same else None
    for o, name in ((oh, "height"), (ow, "width")):
        if o is not None and o <= 0 and x[0] != 0:
            raise ValueError(
                f"the filter ({w[0]}x{w[1]}, dilations {c.attrs.get('dilations')}) is larger than the "
                f"padded input (height {x[1]}, width {x[2]}): output {name} would be {o}"
            )
    if depthwise:
        depth = w[2] * w[3] if w[2] is not None and w[3] is not None else None
    else:
        depth = w[3]
    return (x[0], oh, ow, depth)


def _filter(c, i, what="filter"):
    s = c.shape(i)
    if s.ndims is not None and s.ndims != 4:
        raise ValueError(f"{what} must be 4-D [height, width, in_channels, out_channels], got shape {s}")
    return s.with_rank(4).as_tuple()


def _shape(dims, fmt):
    return TensorShape(list(_from_nhwc_dims(dims, fmt)))


# ---------------------------------------------------------------------------
# lowering helpers
# ---------------------------------------------------------------------------
def _nhwc_in(ctx, i):
    """Input i as a contiguous NHWC view (an NCHW input is copied into scratch)."""
    v = ctx.inp(i)
    if ctx.attrs.get("data_format", "NHWC") == "NHWC":
        return v
    t = v.transpose((0, 2, 3, 1))
    s = ctx.scratch_buffer(t.shape, v.dtype)
    ctx.copy(t, s)
    return s


def _nhwc_out(ctx, j):
    """(view the kernel writes, function to call after it) for output j."""
    o = ctx.out(j)
    if ctx.attrs.get("data_format", "NHWC") == "NHWC":
        return o, lambda: None
    s = ctx.scratch_buffer(_to_nhwc_dims(o.shape, "NCHW"), o.dtype)
    return s, lambda: ctx.copy(s.transpose((0, 3, 1, 2)), o)


def _col_scratch(ctx, g, img_nhwc, o, dtype, base: str):
    """(the im2col scratch view, images per chunk); (None, 0) for a pointwise conv.

    One slot per thread that will have a chunk (conv.c, sf_cut), each holding
    a chunk's column matrix of at most COL_CAP entries and, for the input
    gradient, the chunk's images in planar form, for the filter gradient a
    partial filter gradient."""
    if (g.kh, g.kw, g.sh, g.sw, g.pt, g.pl) == (1, 1, 1, 1, 0, 0):
        return None, 0
    n, h, w, c = img_nhwc
    planar = h * (w + _lanes(ctx.backend, dtype.size)) * c  # an image in planar form, rows padded
    per = max(g.oh * g.ow * g.kh * g.kw * c, 1) + (planar if base.endswith("_input") else 0)
    n = max(n, 1)
    chunk = max(1, min(n, COL_CAP // per))
    slots = max(1, min(_threads(ctx.backend), -(-n // chunk)))
    slot = chunk * per + (g.kh * g.kw * c * o if base.endswith("_filter") else 0)
    return ctx.scratch_buffer((slots * slot,), dtype), chunk


# The direct kernels (conv.c, "direct convolution of narrow layers") take stride-1,
# dilation-1 convs whose filter taps per output channel, KH * KW * C, are at most
# DIRECT_MAX_TAPS and whose in * out channel pairs, C * O, are at most DIRECT_MAX_PAIRS
# (for the forward conv, and for the filter gradient): there a BLAS product is too
# skinny to run near its peak, while wider layers are better as im2col and one GEMM.
# Measured with 5x5 filters on 28x28 images, batch 64, 2 cores: LeNet's first layer
# (1 -> 6) ran 2-5x faster direct both ways; at 1 -> 32 the forward conv was still
# 10% faster direct but the filter gradient 25% slower, and at 2 -> 16 likewise.
# Tests set these to 0 or to large values to run every conv through one path.
DIRECT_MAX_TAPS = 64
DIRECT_MAX_PAIRS = {"forward": 32, "filter": 16}
# at most this many vector registers per chunk (SF_DC_MAX_M in conv.c)
_DIRECT_MAX_VECTORS = 8


def _lanes(be, itemsize: int) -> int:
    """Elements of `itemsize` bytes in one vector register of backend `be`'s kernels."""
    return max(1, be.simd_bytes() // itemsize)


def _threads(be) -> int:
    """Threads backend `be`'s kernels split their work over."""
    return max(1, be.num_threads())


def _direct_chunk(be, g: Geometry, c: int, o: int, itemsize: int, kind: str = "forward") -> int | None:
    """The chunk length (entries of a flattened output row computed in registers at once)
    for a direct conv (`kind` "forward" or "filter") with c input and o output channels, or
    None if it should not run direct."""
    if (g.sh, g.sw, g.dh, g.dw) != (1, 1, 1, 1) or o < 1:
        return None
    if IGEMM and o % _lanes(be, itemsize) == 0:
        return None  # the implicit-GEMM kernels run it faster (see IGEMM below)
    if g.kh * g.kw * c > DIRECT_MAX_TAPS or c * o > DIRECT_MAX_PAIRS[kind]:
        return None
    lanes = _lanes(be, itemsize)
    best = None
    for m in range(1, _DIRECT_MAX_VECTORS + 1):
        ch = m * lanes
        if ch % o:
            continue
        # chunks per row, each costing its vectors, and at least 4 (FMA latency hides behind 4)
        cost = -(-g.ow * o // ch) * max(m, 4)
        if best is None or cost < best[0]:
            best = (cost, ch)
    return None if best is None else best[1]


def _direct_sizes(g: Geometry, c: int, o: int, ch: int, lanes: int):
    """(tiled filter, expanded image, padded dy, accumulators) sizes in elements, as sf_dc_sizes."""
    nchunk = -(-g.ow * o // ch)
    wx = nchunk * ch + (g.kw - 1) * o
    wt = g.kh * g.kw * c * ch
    xe = (g.oh + g.kh - 1) * c * wx + lanes
    return wt, xe, g.oh * nchunk * ch, wt


def conv_work(g: Geometry, n: int, c: int, o: int) -> int:
    """Multiply-adds of a convolution (or of either of its gradients) of n images of c
    channels into o channels (a depthwise one: o is the channel multiplier)."""
    return n * g.oh * g.ow * g.kh * g.kw * c * o


def _direct_conv(ctx, g: Geometry, img_nhwc, filt: View, o: int, x: View, y: View, ch: int) -> None:
    """y = conv(x, filt) with the direct kernel; filt is [KH, KW, C, O]."""
    n, _, _, c = img_nhwc
    dt = ctx.out_dtypes[0]
    wt, xe, _, _ = _direct_sizes(g, c, o, ch, _lanes(ctx.backend, dt.size))
    slots = max(1, min(n, _threads(ctx.backend)))
    scratch = ctx.scratch_buffer((wt + slots * xe,), dt)
    work = conv_work(g, n, c, o)
    ctx.call(ctx.kernel("conv2d_direct", dt), [x, filt, scratch], [y], g.conv_iattr(ch), work=work)


# The implicit-GEMM kernels (conv.c, "implicit-GEMM convolution of wide layers") take the
# other convs whose vector channels -- the output's O, or for the input gradient the
# image's C -- fill whole vectors (the input gradient also needs stride 1 and padding
# below the dilated filter size): no column matrix, one register tile per block of
# output pixels. Measured on the wider LeNet's 32 -> 64 layer (5x5, 14x14, batch 64,
# AVX-512), CPU time per pass against im2col + OpenBLAS: see README's CNN benchmark.
# Pointwise convs stay one BLAS product; narrow layers stay direct (above). Tests set
# this to False to run every other conv through im2col.
IGEMM = True


def _igemm_padded(g: Geometry) -> tuple[int, int]:
    """(Hp, Wp): the padded image an implicit-GEMM conv reads (as sf_ig_of in conv.c)."""
    return (g.oh - 1) * g.sh + (g.kh - 1) * g.dh + 1, (g.ow - 1) * g.sw + (g.kw - 1) * g.dw + 1


def igemm_scratch_size(be, g: Geometry, img_nhwc, o: int, itemsize: int, kind: str) -> int | None:
    """The scratch (elements) of the implicit-GEMM kernel for a conv pass (`kind` "forward",
    "input" or "filter") of images img_nhwc with o output channels, or None where that
    kernel does not take it (then im2col does)."""
    n, h, w, c = img_nhwc
    if not IGEMM or (g.kh, g.kw, g.sh, g.sw, g.pt, g.pl) == (1, 1, 1, 1, 0, 0):
        return None
    if (c if kind == "input" else o) % _lanes(be, itemsize):
        return None
    slots = max(1, min(n, _threads(be)))
    if kind == "input":
        if (g.sh, g.sw) != (1, 1) or g.pt > (g.kh - 1) * g.dh or g.pl > (g.kw - 1) * g.dw:
            return None
        dyp = (h + (g.kh - 1) * g.dh) * (w + (g.kw - 1) * g.dw) * o
        return g.kh * g.kw * c * o + slots * max(dyp, 1)
    hp, wp = _igemm_padded(g)
    return (n if kind == "filter" else slots) * max(hp * wp * c, 1) or 1


# The Winograd kernels (conv.c, "Winograd convolution of 5x5 layers") take the stride-1,
# undilated 5x5 convs among those, with both channel counts filling vectors: F(2x2, 5x5)
# does 36 multiplications per 2x2 output block where the implicit GEMM does 100. Their
# tile sizes (SF_WG_TB, SF_WG_TBF, SF_WG_PARTS in conv.c) enter the scratch sizes below.
# Tests set this to False to run those convs through the implicit-GEMM kernels.
WINOGRAD = True
_WG_TB, _WG_TBF, _WG_PARTS = 7, 49, 8


def winograd_scratch_size(be, g: Geometry, img_nhwc, o: int, itemsize: int, kind: str) -> int | None:
    """The scratch (elements) of the Winograd kernel for a conv pass (`kind` "forward",
    "input" or "filter"), or None where that kernel does not take it."""
    n, h, w, c = img_nhwc
    lanes = _lanes(be, itemsize)
    if not (WINOGRAD and IGEMM) or (g.kh, g.kw, g.sh, g.sw, g.dh, g.dw) != (5, 5, 1, 1, 1, 1):
        return None
    if c % lanes or o % lanes or min(c, o) < 1 or g.oh < 2 or g.ow < 2:
        return None
    slots = _threads(be)
    hp, wp = _igemm_padded(g)
    if kind == "forward":
        return 36 * c * o + slots * (36 * _WG_TB * (c + o) + hp * wp * c)
    if kind == "input":
        if g.pt > 4 or g.pl > 4:
            return None
        return 61 * c * o + slots * (36 * _WG_TB * (c + o) + (h + 4) * (w + 4) * o)
    parts = min(n, _WG_PARTS)
    return max(parts * 36 * c * o + slots * 36 * _WG_TBF * (c + o), n * hp * wp * c, 1)


def _has(ctx, base: str) -> bool:
    """Whether the lowering's device has kernel `base` (the direct and implicit-GEMM variants
    are the C library's own: a GPU runs the plain kernels, on cuDNN)."""
    return ctx.backend.has_kernel(ctx.kernel(base, ctx.out_dtypes[0]))


def _conv_lower_common(ctx, base, img_nhwc, filt_shape, ins, out_view, finish):
    n, h, w, c = img_nhwc
    g = Geometry(ctx.attrs, (h, w), filt_shape[:2])
    work = conv_work(g, n, c, filt_shape[3])
    col, chunk = (None, 0)
    if "depthwise" not in base:
        dt = ctx.out_dtypes[0]
        kind = base.rsplit("_", 1)[-1] if "backprop" in base else "forward"
        for variant, sizer in (("_winograd", winograd_scratch_size), ("_igemm", igemm_scratch_size)):
            size = sizer(ctx.backend, g, img_nhwc, filt_shape[3], dt.size, kind)
            if size is not None and _has(ctx, base + variant):
                scratch = ctx.scratch_buffer((size,), dt)
                kernel = ctx.kernel(base + variant, dt)
                ctx.call(kernel, ins + [scratch], [out_view], g.conv_iattr(0), work=work)
                finish()
                return
        col, chunk = _col_scratch(ctx, g, img_nhwc, filt_shape[3], ctx.out_dtypes[0], base)
    ctx.call(
        ctx.kernel(base, ctx.out_dtypes[0]),
        ins + ([col] if col is not None else []),
        [out_view],
        g.conv_iattr(chunk),
        work=work,
    )
    finish()


def _empty(ctx):
    return any(math.prod(s) == 0 for s in ctx.out_shapes)


def _conv_lower(base):
    def lower(ctx):
        if _empty(ctx):
            return
        fmt = ctx.attrs.get("data_format", "NHWC")
        x = _nhwc_in(ctx, 0)
        y, finish = _nhwc_out(ctx, 0)
        img = _to_nhwc_dims(ctx.in_shapes[0], fmt)
        kh, kw, c, o = ctx.in_shapes[1]
        g = Geometry(ctx.attrs, img[1:3], (kh, kw))
        direct = base == "conv2d" and _has(ctx, "conv2d_direct")
        ch = _direct_chunk(ctx.backend, g, c, o, ctx.out_dtypes[0].size) if direct else None
        if ch is not None:
            _direct_conv(ctx, g, img, ctx.inp(1), o, x, y, ch)
            finish()
            return
        _conv_lower_common(ctx, base, img, ctx.in_shapes[1], [x, ctx.inp(1)], y, finish)

    return lower


def _backprop_input_lower(base):
    def lower(ctx):
        if _empty(ctx):
            return
        fmt = ctx.attrs.get("data_format", "NHWC")
        dy = _nhwc_in(ctx, 2)
        dx, finish = _nhwc_out(ctx, 0)
        img = _to_nhwc_dims(ctx.out_shapes[0], fmt)
        if base == "conv2d_backprop_input" and _flipped_direct(ctx, img, dy, dx):
            finish()
            return
        _conv_lower_common(ctx, base, img, ctx.in_shapes[1], [ctx.inp(1), dy], dx, finish)

    return lower


def flipped_geometry(be, attrs, img, filter_shape, itemsize: int):
    """(geometry, chunk) of the direct conv that computes Conv2DBackpropInput for these
    shapes (see _flipped_direct), or None where it does not apply.

    That conv reads dy padded with zeros, so a non-finite filter value meets the padding
    (0 * Inf is NaN), where the im2col path only adds the taps inside dy: the reference
    asks this too, to model the same NaN."""
    kh, kw, c, o = filter_shape
    g = Geometry(attrs, img[1:3], (kh, kw))
    if (g.sh, g.sw, g.dh, g.dw) != (1, 1, 1, 1) or g.pt > kh - 1 or g.pl > kw - 1:
        return None
    # the flipped conv: input dy [N, OH, OW, O], output dx [N, H, W, C]
    fg = Geometry.direct(kh, kw, img[1], img[2], kh - 1 - g.pt, kw - 1 - g.pl)
    ch = _direct_chunk(be, fg, o, c, itemsize)
    return None if ch is None else (fg, ch)


def _flipped_direct(ctx, img, dy: View, dx: View) -> bool:
    """dx of a stride-1 conv as the direct forward conv of dy with the filter flipped in
    space and its channel axes swapped, padded KH-1-pt / KW-1-pl; False where it does not
    apply (then the caller lowers it through im2col)."""
    kh, kw, c, o = ctx.in_shapes[1]
    found = flipped_geometry(ctx.backend, ctx.attrs, img, ctx.in_shapes[1], ctx.out_dtypes[0].size)
    if found is None or not _has(ctx, "conv2d_direct"):
        return False
    fg, ch = found
    w = ctx.inp(1)
    flipped = w.with_(
        (kh, kw, o, c),
        (-w.strides[0], -w.strides[1], w.strides[3], w.strides[2]),
        w.offset + (kh - 1) * w.strides[0] + (kw - 1) * w.strides[1],
    )
    wf = ctx.scratch_buffer((kh, kw, o, c), w.dtype)
    ctx.copy(flipped, wf)
    _direct_conv(ctx, fg, (img[0], None, None, o), wf, c, dy, dx, ch)
    return True


def _backprop_filter_lower(base):
    def lower(ctx):
        if _empty(ctx):
            return
        fmt = ctx.attrs.get("data_format", "NHWC")
        x = _nhwc_in(ctx, 0)
        dy = _nhwc_in(ctx, 2)
        img = _to_nhwc_dims(ctx.in_shapes[0], fmt)
        kh, kw, c, o = ctx.out_shapes[0]
        g = Geometry(ctx.attrs, img[1:3], (kh, kw))
        dt = ctx.out_dtypes[0]
        direct = base == "conv2d_backprop_filter" and _has(ctx, "conv2d_backprop_filter_direct")
        ch = _direct_chunk(ctx.backend, g, c, o, dt.size, "filter") if direct else None
        if ch is not None:
            per = sum(_direct_sizes(g, c, o, ch, _lanes(ctx.backend, dt.size))[1:])
            scratch = ctx.scratch_buffer((max(1, min(img[0], _threads(ctx.backend))) * per,), dt)
            ctx.call(ctx.kernel("conv2d_backprop_filter_direct", dt), [x, dy, scratch], [ctx.out(0)],
                     g.conv_iattr(ch), work=conv_work(g, img[0], c, o))
            return
        _conv_lower_common(ctx, base, img, ctx.out_shapes[0], [x, dy], ctx.out(0), lambda: None)

    return lower


# ---------------------------------------------------------------------------
# NumPy references (direct: padded slices and einsum, independent of the kernels)
# ---------------------------------------------------------------------------
def _np_nhwc(a, fmt):
    return a if fmt == "NHWC" else np.transpose(a, (0, 2, 3, 1))


def _np_from_nhwc(a, fmt):
    return a if fmt == "NHWC" else np.transpose(a, (0, 3, 1, 2))


def _padded(x, g, h, w):
    """x [N, H, W, C] zero-padded so that every tap of every output is inside."""
    need_h = (g.oh - 1) * g.sh + (g.kh - 1) * g.dh + 1
    need_w = (g.ow - 1) * g.sw + (g.kw - 1) * g.dw + 1
    pb = max(need_h - h - g.pt, 0)
    pr = max(need_w - w - g.pl, 0)
    return np.pad(x, ((0, 0), (g.pt, pb), (g.pl, pr), (0, 0)))


def _taps(g):
    """(kh, kw, row slice, col slice) of the padded image each filter tap reads."""
    for i in range(g.kh):
        for j in range(g.kw):
            yield (
                i,
                j,
                slice(i * g.dh, i * g.dh + (g.oh - 1) * g.sh + 1, g.sh),
                slice(j * g.dw, j * g.dw + (g.ow - 1) * g.sw + 1, g.sw),
            )


def _inside(g, h, w):
    """[1, H', W', 1] mask of the padded image: True on the image, False on the padding."""
    return _padded(np.ones((1, h, w, 1), bool), g, h, w)


def _conv_ref_nhwc(x, w, attrs, depthwise=False):
    """Conv2D multiplies the padding's zeros by the filter (im2col, as the kernels: a
    non-finite filter value there gives NaN); the depthwise conv, as its kernels and
    TensorFlow, skips taps outside the image."""
    n, h, wd, c = x.shape
    g = Geometry(attrs, (h, wd), w.shape[:2])
    depth = c * w.shape[3] if depthwise else w.shape[3]
    y = np.zeros((n, g.oh, g.ow, depth))
    if y.size == 0:
        return y
    xp = _padded(x, g, h, wd)
    inside = _inside(g, h, wd)
    with np.errstate(all="ignore"):
        for i, j, rs, cs in _taps(g):
            patch = xp[:, rs, cs, :]
            if depthwise:
                terms = patch[..., None] * w[i, j]
                y += np.where(inside[:, rs, cs, :, None], terms, 0.0).reshape(y.shape)
            else:
                y += np.einsum("nhwc,co->nhwo", patch, w[i, j])
    return y


def _conv_ref(depthwise=False):
    def ref(ins, a):
        fmt = a.get("data_format", "NHWC")
        x, w = (v.astype(np.float64) for v in ins)
        y = _conv_ref_nhwc(_np_nhwc(x, fmt), w, a, depthwise)
        return _np_from_nhwc(y, fmt).astype(ins[0].dtype)

    return ref


def _backprop_input_ref(depthwise=False):
    def ref(ins, a):
        fmt = a.get("data_format", "NHWC")
        sizes = _to_nhwc_dims([int(v) for v in ins[0]], fmt)
        w, dy = ins[1].astype(np.float64), _np_nhwc(ins[2].astype(np.float64), fmt)
        n, h, wd, c = sizes
        g = Geometry(a, (h, wd), w.shape[:2])
        dxp = _padded(np.zeros(sizes), g, h, wd)
        if dy.size:
            for i, j, rs, cs in _taps(g):
                if depthwise:
                    m = w.shape[3]
                    d = dy.reshape(dy.shape[:3] + (c, m))
                    dxp[:, rs, cs, :] += np.einsum("nhwcm,cm->nhwc", d, w[i, j])
                else:
                    dxp[:, rs, cs, :] += np.einsum("nhwo,co->nhwc", dy, w[i, j])
        dx = dxp[:, g.pt : g.pt + h, g.pl : g.pl + wd, :]
        flipped = not depthwise and dy.size
        be, itemsize = backend.default(), ins[1].dtype.itemsize
        if flipped and (
            flipped_geometry(be, a, sizes, w.shape, itemsize) is not None
            or igemm_scratch_size(be, g, sizes, w.shape[3], itemsize, "input") is not None
        ):
            dx = dx + _padding_terms(g, w, (h, wd), dy.shape[1:3])
        return _np_from_nhwc(dx, fmt).astype(ins[1].dtype)

    return ref


def _padding_terms(g, w, hw, ohw):
    """[1, H, W, C]: the sum of 0 * w over the taps of each dx position that the direct
    (flipped) or implicit-GEMM conv reads from dy's zero padding: NaN where such a tap's
    filter value is not finite, else 0 (stride 1)."""
    (h, wd), (oh, ow) = hw, ohw
    kh, kw, c, _ = w.shape
    with np.errstate(all="ignore"):
        zero_w = (0.0 * w).sum(axis=3)  # [KH, KW, C]: NaN where any out channel's value is not finite
    out = np.zeros((1, h, wd, c))
    for i in range(kh):
        rows = np.arange(h) + g.pt - i * g.dh  # dy row each dx row reads through tap i
        for j in range(kw):
            cols = np.arange(wd) + g.pl - j * g.dw
            outside = ~((rows >= 0) & (rows < oh))[:, None] | ~((cols >= 0) & (cols < ow))[None, :]
            out[0] += np.where(outside[:, :, None], zero_w[i, j], 0.0)
    return out


def _backprop_filter_ref(depthwise=False):
    def ref(ins, a):
        fmt = a.get("data_format", "NHWC")
        x, dy = _np_nhwc(ins[0].astype(np.float64), fmt), _np_nhwc(ins[2].astype(np.float64), fmt)
        fs = tuple(int(v) for v in ins[1])
        n, h, wd, c = x.shape
        g = Geometry(a, (h, wd), fs[:2])
        dw = np.zeros(fs)
        if dy.size and x.size:
            xp = _padded(x, g, h, wd)
            inside = _inside(g, h, wd)
            for i, j, rs, cs in _taps(g):
                if depthwise:  # taps outside the image are skipped (see _conv_ref_nhwc)
                    d = dy.reshape(dy.shape[:3] + fs[2:])
                    with np.errstate(all="ignore"):
                        terms = xp[:, rs, cs, :, None] * d
                    dw[i, j] = np.where(inside[:, rs, cs, :, None], terms, 0.0).sum(axis=(0, 1, 2))
                else:
                    dw[i, j] = np.einsum("nhwc,nhwo->co", xp[:, rs, cs, :], dy)
        return dw.astype(ins[0].dtype)

    return ref


# ---------------------------------------------------------------------------
# Conv2D and its backprops; DepthwiseConv2dNative and its backprops
# ---------------------------------------------------------------------------
def _conv_attrs(depthwise=False):
    return [
        Attr("T", "type", allowed=F),
        Attr("strides", "list(int)"),
        *([] if depthwise else [Attr("use_cudnn_on_gpu", "bool", True)]),
        Attr("padding", "string", allowed=("SAME", "VALID", "EXPLICIT")),
        Attr("explicit_paddings", "list(int)", []),
        Attr("data_format", "string", "NHWC", allowed=("NHWC", "NCHW")),
        Attr("dilations", "list(int)", [1, 1, 1, 1]),
    ]


def _conv_shape(depthwise):
    def shape_fn(c):
        fmt = c.attrs.get("data_format", "NHWC")
        x = _image(c, 0, "input")
        w = _filter(c, 1)
        return [_shape(_conv_out_shape(c, x, w, depthwise), fmt)]

    return shape_fn


def _backprop_input_shape(depthwise):
    def shape_fn(c):
        fmt = c.attrs.get("data_format", "NHWC")
        x = _sizes(c, 0, "input_sizes", fmt)
        w = _filter(c, 1)
        dy = _image(c, 2, "out_backprop")
        x = (_merge(x[0], dy[0]), x[1], x[2], _merge(x[3], w[2]))
        want = _conv_out_shape(c, x, w, depthwise)
        for a, b, name in zip(dy, want, ("batch", "height", "width", "depth")):
            if a is not None and b is not None and a != b:
                raise ValueError(
                    f"out_backprop {name} {a} does not match the convolution's output {name} {b} "
                    f"(out_backprop {list(dy)}, expected {list(want)}, NHWC)"
                )
        return [_shape(x, fmt)]

    return shape_fn


def _backprop_filter_shape(depthwise):
    def shape_fn(c):
        x = _image(c, 0, "input")
        w = _sizes(c, 1, "filter_sizes")
        dy = _image(c, 2, "out_backprop")
        if w[0] is not None:
            want = _conv_out_shape(c, x, w, depthwise)
            for a, b, name in zip(dy, want, ("batch", "height", "width", "depth")):
                if a is not None and b is not None and a != b:
                    raise ValueError(
                        f"out_backprop {name} {a} does not match the convolution's output {name} {b}"
                    )
        return [TensorShape(list(w))]

    return shape_fn


# test configurations: (input NHWC, filter, attrs)
_CONV_CONFIGS = [
    ((2, 5, 7, 3), (3, 2, 3, 4), {"strides": [1, 1, 1, 1], "padding": "VALID"}),
    ((1, 6, 5, 2), (3, 3, 2, 3), {"strides": [1, 2, 2, 1], "padding": "SAME"}),
    ((2, 7, 6, 1), (3, 3, 1, 2), {"strides": [1, 1, 1, 1], "padding": "SAME", "dilations": [1, 2, 2, 1]}),
    # 5x5, stride 1, channels that fill vectors: the Winograd kernels
    ((2, 6, 7, 16), (5, 5, 16, 16), {"strides": [1, 1, 1, 1], "padding": "SAME"}),
    ((2, 6, 5, 3), (2, 3, 3, 2), {"strides": [1, 1, 2, 1], "padding": "SAME", "data_format": "NCHW"}),
    (
        (1, 5, 5, 2),
        (2, 2, 2, 3),
        {"strides": [1, 2, 1, 1], "padding": "EXPLICIT", "explicit_paddings": [0, 0, 1, 2, 0, 1, 0, 0]},
    ),
    ((2, 4, 3, 3), (1, 1, 3, 5), {"strides": [1, 1, 1, 1], "padding": "VALID"}),
    ((1, 7, 7, 2), (2, 2, 2, 2), {"strides": [1, 3, 3, 1], "padding": "SAME"}),
    (
        (1, 9, 8, 2),
        (3, 2, 2, 2),
        {"strides": [1, 1, 2, 2], "padding": "VALID", "data_format": "NCHW", "dilations": [1, 1, 2, 1]},
    ),
]


def _fmt_image(shape, attrs):
    return _from_nhwc_dims(shape, attrs.get("data_format", "NHWC"))


def _conv_cases(kind, depthwise=False):
    def cases(rng):
        out = []
        for i, (xs, ws, attrs) in enumerate(_CONV_CONFIGS):
            if depthwise:
                ws = (ws[0], ws[1], ws[2], 2 if i % 2 else 1)
            for t in F if i < 4 else (D.float64,):
                g = Geometry(attrs, xs[1:3], ws[:2])
                ys = (xs[0], g.oh, g.ow, xs[3] * ws[3] if depthwise else ws[3])
                x = _rand(rng, _fmt_image(xs, attrs), t)
                w = _rand(rng, ws, t)
                dy = _rand(rng, _fmt_image(ys, attrs), t)
                if kind == "forward":
                    ins = (x, w)
                elif kind == "input":
                    ins = (np.array(_fmt_image(xs, attrs), np.int32), w, dy)
                else:
                    ins = (x, np.array(ws, np.int32), dy)
                out.append(Case(ins, dict(attrs)))
        # an empty batch
        xs, ws = (0, 4, 4, 2), (2, 2, 2, 3)
        a = {"strides": [1, 1, 1, 1], "padding": "SAME"}
        ys = (0, 4, 4, 6 if depthwise else 3)
        if kind == "forward":
            ins = (_rand(rng, xs), _rand(rng, ws))
        elif kind == "input":
            ins = (np.array(xs, np.int32), _rand(rng, ws), _rand(rng, ys))
        else:
            ins = (_rand(rng, xs), np.array(ws, np.int32), _rand(rng, ys))
        out.append(Case(ins, a, grad=False))
        return out

    return cases


def _declare_convs(prefix, base, depthwise):
    kt = registry.kernels_for([base, base + "_backprop_input", base + "_backprop_filter"], F) + COPY_KERNELS
    if base == "conv2d":
        kt += registry.kernels_for(["conv2d_direct", "conv2d_backprop_filter_direct"], F)
        kt += registry.kernels_for(
            ["conv2d_igemm", "conv2d_backprop_input_igemm", "conv2d_backprop_filter_igemm"], F
        )
        kt += registry.kernels_for(
            ["conv2d_winograd", "conv2d_backprop_input_winograd", "conv2d_backprop_filter_winograd"], F
        )
    op(
        name=prefix,
        inputs=[Arg("input", type_attr="T"), Arg("filter", type_attr="T")],
        outputs=[Arg("output", type_attr="T")],
        attrs=_conv_attrs(depthwise),
        shape_fn=_conv_shape(depthwise),
        ref=_conv_ref(depthwise),
        lower=_conv_lower(base),
        kernels=kt,
        cases=_conv_cases("forward", depthwise),
        contraction=None if depthwise else "conv2d",
        doc="2-D convolution" + (" per input channel (depthwise)" if depthwise else "") + ".",
    )
    op(
        name=prefix + "BackpropInput",
        inputs=[
            Arg("input_sizes", dtype=D.int32, host=True, differentiable=False),
            Arg("filter", type_attr="T"),
            Arg("out_backprop", type_attr="T"),
        ],
        outputs=[Arg("output", type_attr="T")],
        attrs=_conv_attrs(depthwise),
        shape_fn=_backprop_input_shape(depthwise),
        ref=_backprop_input_ref(depthwise),
        lower=_backprop_input_lower(base + "_backprop_input"),
        kernels=kt,
        cases=_conv_cases("input", depthwise),
        doc=f"The gradient of {prefix} w.r.t. its input (also the transposed convolution).",
    )
    op(
        name=prefix + "BackpropFilter",
        inputs=[
            Arg("input", type_attr="T"),
            Arg("filter_sizes", dtype=D.int32, host=True, differentiable=False),
            Arg("out_backprop", type_attr="T"),
        ],
        outputs=[Arg("output", type_attr="T")],
        attrs=_conv_attrs(depthwise),
        shape_fn=_backprop_filter_shape(depthwise),
        ref=_backprop_filter_ref(depthwise),
        lower=_backprop_filter_lower(base + "_backprop_filter"),
        kernels=kt,
        cases=_conv_cases("filter", depthwise),
        doc=f"The gradient of {prefix} w.r.t. its filter.",
    )


_declare_convs("Conv2D", "conv2d", False)
_declare_convs("DepthwiseConv2dNative", "depthwise_conv2d", True)


# ---------------------------------------------------------------------------
# pooling
# ---------------------------------------------------------------------------
def _pool_attrs():
    return [
        Attr("T", "type", allowed=F),
        Attr("ksize", "list(int)", min=4),
        Attr("strides", "list(int)", min=4),
        Attr("padding", "string", allowed=("SAME", "VALID")),
        Attr("data_format", "string", "NHWC", allowed=("NHWC", "NCHW")),
    ]


def _pool_out(c, x):
    g = Geometry(c.attrs, (x[1], x[2]), None, pool=True)
    for o, name in ((g.oh, "height"), (g.ow, "width")):
        if o is not None and o <= 0 and x[0] != 0:
            raise ValueError(
                f"the pooling window {g.kh}x{g.kw} is larger than the input "
                f"(height {x[1]}, width {x[2]}) with padding VALID: output {name} would be {o}"
            )
    return (x[0], g.oh, g.ow, x[3])


def _pool_shape(c):
    fmt = c.attrs.get("data_format", "NHWC")
    return [_shape(_pool_out(c, _image(c, 0, "input")), fmt)]


def _check_same(a, b, what):
    for i, (p, q) in enumerate(zip(a, b)):
        if p is not None and q is not None and p != q:
            raise ValueError(f"{what}: dimension {i} (NHWC) is {p}, expected {q}")


def _max_pool_grad_shape(c):
    fmt = c.attrs.get("data_format", "NHWC")
    x = _image(c, 0, "orig_input")
    y = _pool_out(c, x)
    _check_same(_image(c, 1, "orig_output"), y, "orig_output")
    _check_same(_image(c, 2, "grad"), y, "grad")
    return [_shape(x, fmt)]


def _max_pool_grad_grad_shape(c):
    fmt = c.attrs.get("data_format", "NHWC")
    x = _image(c, 0, "orig_input")
    y = _pool_out(c, x)
    _check_same(_image(c, 1, "orig_output"), y, "orig_output")
    _check_same(_image(c, 2, "grad"), x, "grad")
    return [_shape(y, fmt)]


def _avg_pool_grad_shape(c):
    fmt = c.attrs.get("data_format", "NHWC")
    x = _sizes(c, 0, "orig_input_shape", fmt)
    gy = _image(c, 1, "grad")
    x = (_merge(x[0], gy[0]), x[1], x[2], _merge(x[3], gy[3]))
    _check_same(gy, _pool_out(c, x), "grad")
    return [_shape(x, fmt)]


def _pool_lower(base, img_in, grad_in, img_dims):
    """img_in: input index of the NHWC image, or None; grad_in: the other input, or None."""

    def lower(ctx):
        if _empty(ctx):
            return
        fmt = ctx.attrs.get("data_format", "NHWC")
        dims = _to_nhwc_dims(img_dims(ctx), fmt)
        g = Geometry(ctx.attrs, dims[1:3], None, pool=True)
        ins = [_nhwc_in(ctx, i) for i in (img_in, grad_in) if i is not None]
        y, finish = _nhwc_out(ctx, 0)
        ctx.call(ctx.kernel(base, ctx.out_dtypes[0]), ins, [y], g.pool_iattr())
        finish()

    return lower


def _windows(g, h, w):
    """(oh, ow, h0, h1, w0, w1): every output's window clipped to the image."""
    for oh in range(g.oh):
        for ow in range(g.ow):
            h0, w0 = oh * g.sh - g.pt, ow * g.sw - g.pl
            yield oh, ow, max(h0, 0), min(h0 + g.kh, h), max(w0, 0), min(w0 + g.kw, w)


def _pool_max(win, lowest):
    """max_pool of windows [n, h, w, c] as TensorFlow's: the lowest finite value to start,
    replaced by every greater element, so NaN is ignored and a window of NaN and -inf gives
    the lowest finite value."""
    return np.max(np.where(np.isnan(win), lowest, win), axis=(1, 2), initial=lowest)


def _pool_ref(kind):
    def ref(ins, a):
        fmt = a.get("data_format", "NHWC")
        dt = ins[-1].dtype
        lowest = float(np.finfo(dt).min)
        if kind in ("max", "avg"):
            x = _np_nhwc(ins[0].astype(np.float64), fmt)
            n, h, w, c = x.shape
            g = Geometry(a, (h, w), None, pool=True)
            y = np.zeros((n, g.oh, g.ow, c))
            if x.size:
                for oh, ow, h0, h1, w0, w1 in _windows(g, h, w):
                    win = x[:, h0:h1, w0:w1, :]
                    y[:, oh, ow, :] = _pool_max(win, lowest) if kind == "max" else win.mean(axis=(1, 2))
            return _np_from_nhwc(y, fmt).astype(dt)
        if kind == "avg_grad":
            n, h, w, c = _to_nhwc_dims([int(v) for v in ins[0]], fmt)
            gy = _np_nhwc(ins[1].astype(np.float64), fmt)
            g = Geometry(a, (h, w), None, pool=True)
            dx = np.zeros((n, h, w, c))
            if dx.size:
                for oh, ow, h0, h1, w0, w1 in _windows(g, h, w):
                    cnt = (h1 - h0) * (w1 - w0)
                    dx[:, h0:h1, w0:w1, :] += gy[:, oh, ow, None, None, :] / cnt
            return _np_from_nhwc(dx, fmt).astype(dt)
        # max_grad (TensorFlow's MaxPoolGrad): each pooled grad to its window's first element,
        # replaced by every strictly greater one (a NaN first element keeps it); max_grad_grad
        # (MaxPoolGradGrad): the image grad at the first element equal to the window's
        # max_pool value, 0 where none is (a window of NaN and -inf)
        x = _np_nhwc(ins[0].astype(np.float64), fmt)
        gr = _np_nhwc(ins[2].astype(np.float64), fmt)
        n, h, w, c = x.shape
        g = Geometry(a, (h, w), None, pool=True)
        ni, ci = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
        out = np.zeros(x.shape if kind == "max_grad" else (n, g.oh, g.ow, c))
        if x.size and out.size:
            for oh, ow, h0, h1, w0, w1 in _windows(g, h, w):
                win = x[:, h0:h1, w0:w1, :].reshape(n, -1, c)
                if kind == "max_grad":
                    first_max = np.where(np.isnan(win), -np.inf, win).argmax(axis=1)
                    idx = np.where(np.isnan(win[:, 0, :]), 0, first_max)
                else:
                    hit = win == _pool_max(win[:, :, None, :], lowest)[:, None, :]
                    idx = hit.argmax(axis=1)
                hh, ww = h0 + idx // (w1 - w0), w0 + idx % (w1 - w0)
                if kind == "max_grad":
                    np.add.at(out, (ni, hh, ww, ci), gr[:, oh, ow, :])
                else:
                    out[:, oh, ow, :] = np.where(hit.any(axis=1), gr[ni, hh, ww, ci], 0.0)
        return _np_from_nhwc(out, fmt).astype(dt)

    return ref


_POOL_CONFIGS = [
    ((2, 5, 7, 3), {"ksize": [1, 3, 2, 1], "strides": [1, 1, 1, 1], "padding": "VALID"}),
    ((1, 6, 5, 2), {"ksize": [1, 3, 3, 1], "strides": [1, 2, 2, 1], "padding": "SAME"}),
    ((2, 7, 6, 1), {"ksize": [1, 2, 2, 1], "strides": [1, 2, 2, 1], "padding": "SAME"}),
    (
        (2, 6, 5, 3),
        {"ksize": [1, 1, 3, 2], "strides": [1, 1, 2, 1], "padding": "SAME", "data_format": "NCHW"},
    ),
    ((1, 7, 7, 2), {"ksize": [1, 2, 2, 1], "strides": [1, 3, 3, 1], "padding": "SAME"}),
    ((1, 8, 9, 2), {"ksize": [1, 3, 2, 1], "strides": [1, 2, 3, 1], "padding": "VALID"}),
]


def _distinct(rng, shape, t):
    """Values with no ties (so max pool's numerical gradient is well defined)."""
    n = int(np.prod(shape))
    v = rng.permutation(n).astype(np.float64) / max(n, 1) * 4 - 2
    return v.reshape(shape).astype(t.np)


def _pool_cases(kind):
    def cases(rng):
        out = []
        for i, (xs, attrs) in enumerate(_POOL_CONFIGS):
            for t in F if i < 3 else (D.float64,):
                g = Geometry(attrs, xs[1:3], None, pool=True)
                ys = (xs[0], g.oh, g.ow, xs[3])
                x = _distinct(rng, _fmt_image(xs, attrs), t)
                gy = _rand(rng, _fmt_image(ys, attrs), t)
                if kind in ("max", "avg"):
                    ins = (x,)
                elif kind == "avg_grad":
                    ins = (np.array(_fmt_image(xs, attrs), np.int32), gy)
                else:
                    y = _pool_ref("max")([x], {"data_format": "NHWC", **attrs})
                    gg = _rand(rng, _fmt_image(xs, attrs), t)
                    ins = (x, y, gy if kind == "max_grad" else gg)
                out.append(Case(ins, dict(attrs)))
        if kind == "max":  # ties: the first max gets the gradient (checked by value, not numerically)
            out.append(
                Case(
                    (np.ones((1, 4, 4, 2), np.float32),),
                    {"ksize": [1, 2, 2, 1], "strides": [1, 2, 2, 1], "padding": "VALID"},
                    grad=False,
                )
            )
        if kind == "max_grad":
            x = np.ones((1, 4, 4, 2), np.float32)
            y = np.ones((1, 2, 2, 2), np.float32)
            gy = _rand(rng, (1, 2, 2, 2))
            a = {"ksize": [1, 3, 3, 1], "strides": [1, 2, 2, 1], "padding": "SAME"}
            out.append(Case((x, y, gy), a, grad=False))
        return out

    return cases


_POOL_KT = (
    registry.kernels_for(["max_pool", "max_pool_grad", "max_pool_grad_grad", "avg_pool", "avg_pool_grad"], F)
    + COPY_KERNELS
)

op(
    name="MaxPool",
    inputs=[Arg("input", type_attr="T")],
    outputs=[Arg("output", type_attr="T")],
    attrs=_pool_attrs(),
    shape_fn=_pool_shape,
    ref=_pool_ref("max"),
    lower=_pool_lower("max_pool", 0, None, lambda ctx: ctx.in_shapes[0]),
    kernels=_POOL_KT,
    cases=_pool_cases("max"),
    pooling="max",
    doc="Max pooling (padding never wins: windows are clipped to the image).",
)
op(
    name="AvgPool",
    inputs=[Arg("value", type_attr="T")],
    outputs=[Arg("output", type_attr="T")],
    attrs=_pool_attrs(),
    shape_fn=_pool_shape,
    ref=_pool_ref("avg"),
    lower=_pool_lower("avg_pool", 0, None, lambda ctx: ctx.in_shapes[0]),
    kernels=_POOL_KT,
    cases=_pool_cases("avg"),
    doc="Average pooling over the in-image part of each window (TF: padding is not counted).",
)
op(
    name="MaxPoolGrad",
    inputs=[Arg("orig_input", type_attr="T"), Arg("orig_output", type_attr="T"), Arg("grad", type_attr="T")],
    outputs=[Arg("output", type_attr="T")],
    attrs=_pool_attrs(),
    shape_fn=_max_pool_grad_shape,
    ref=_pool_ref("max_grad"),
    lower=_pool_lower("max_pool_grad", 0, 2, lambda ctx: ctx.in_shapes[0]),
    kernels=_POOL_KT,
    cases=_pool_cases("max_grad"),
    doc="The gradient of MaxPool: each grad goes to its window's first maximum.",
)
op(
    name="MaxPoolGradGrad",
    inputs=[Arg("orig_input", type_attr="T"), Arg("orig_output", type_attr="T"), Arg("grad", type_attr="T")],
    outputs=[Arg("output", type_attr="T")],
    attrs=_pool_attrs(),
    shape_fn=_max_pool_grad_grad_shape,
    ref=_pool_ref("max_grad_grad"),
    lower=_pool_lower("max_pool_grad_grad", 0, 2, lambda ctx: ctx.in_shapes[0]),
    kernels=_POOL_KT,
    cases=_pool_cases("max_grad_grad"),
    doc="The gradient of MaxPoolGrad w.r.t. its grad: grad read at each window's first maximum.",
)
op(
    name="AvgPoolGrad",
    inputs=[
        Arg("orig_input_shape", dtype=D.int32, host=True, differentiable=False),
        Arg("grad", type_attr="T"),
    ],
    outputs=[Arg("output", type_attr="T")],
    attrs=_pool_attrs(),
    shape_fn=_avg_pool_grad_shape,
    ref=_pool_ref("avg_grad"),
    lower=_pool_lower("avg_pool_grad", None, 1, lambda ctx: ctx.out_shapes[0]),
    kernels=_POOL_KT,
    cases=_pool_cases("avg_grad"),
    doc="The gradient of AvgPool.",
)


# ---------------------------------------------------------------------------
# wrappers (sf.nn)
# ---------------------------------------------------------------------------
def _four(v, fmt, what, default=None):
    """TF's 1-, 2- or 4-element strides/ksize/dilations as 4 entries in data_format order."""
    if v is None:
        if default is None:
            raise ValueError(f"{what} is required")
        v = default
    if isinstance(v, (int, np.integer)):
        v = [int(v)]
    v = [int(x) for x in v]
    if len(v) == 1:
        v = v * 2
    if len(v) == 2:
        return [1, v[0], v[1], 1] if fmt == "NHWC" else [1, 1, v[0], v[1]]
    if len(v) != 4:
        raise ValueError(f"{what} must have 1, 2 or 4 elements, got {v}")
    return v


def _padding_attrs(padding):
    """padding as TF accepts it: "SAME", "VALID", or explicit [[0, 0], [t, b], [l, r], [0, 0]]."""
    if isinstance(padding, str):
        p = padding.upper()
        if p not in ("SAME", "VALID"):
            raise ValueError(f"padding must be 'SAME', 'VALID' or a list of pairs, got {padding!r}")
        return {"padding": p}
    pairs = [[int(a) for a in pair] for pair in padding]
    if len(pairs) != 4 or any(len(pair) != 2 for pair in pairs):
        raise ValueError(f"explicit padding must be 4 [before, after] pairs, got {padding}")
    return {"padding": "EXPLICIT", "explicit_paddings": [a for pair in pairs for a in pair]}


def _fmt(data_format):
    fmt = data_format or "NHWC"
    if fmt in ("NWC", "NHWC"):
        return "NHWC"
    if fmt in ("NCW", "NCHW"):
        return "NCHW"
    raise ValueError(f"data_format must be 'NHWC' or 'NCHW', got {data_format!r}")


def _conv_attr_dict(strides, padding, data_format, dilations):
    fmt = _fmt(data_format)
    return {
        "strides": _four(strides, fmt, "strides"),
        "data_format": fmt,
        "dilations": _four(dilations, fmt, "dilations", [1, 1, 1, 1]),
        **_padding_attrs(padding),
    }


def conv2d(
    input,  # noqa: A002 - TF's name
    filter=None,  # noqa: A002
    strides=None,
    padding=None,
    use_cudnn_on_gpu=True,
    data_format="NHWC",
    dilations=(1, 1, 1, 1),
    name=None,
    filters=None,
):
    """2-D convolution of a 4-D input with a [height, width, in, out] filter."""
    if filter is None:
        filter = filters  # noqa: A001
    elif filters is not None:
        raise ValueError("pass either filter or filters, not both")
    if filter is None:
        raise ValueError("conv2d needs a filter")
    if padding is None:
        raise ValueError("conv2d needs padding ('SAME', 'VALID' or explicit pairs)")
    attrs = _conv_attr_dict(strides, padding, data_format, dilations)
    attrs["use_cudnn_on_gpu"] = bool(use_cudnn_on_gpu)
    return builder.apply_op("Conv2D", [input, filter], attrs, name).outputs[0]


def conv2d_backprop_input(
    input_sizes,
    filter=None,  # noqa: A002
    out_backprop=None,
    strides=None,
    padding=None,
    use_cudnn_on_gpu=True,
    data_format="NHWC",
    dilations=(1, 1, 1, 1),
    name=None,
    filters=None,
):
    filter = filter if filter is not None else filters  # noqa: A001
    attrs = _conv_attr_dict(strides, padding, data_format, dilations)
    attrs["use_cudnn_on_gpu"] = bool(use_cudnn_on_gpu)
    sizes = fops.convert_to_tensor(input_sizes, dtype=D.int32)
    return builder.apply_op("Conv2DBackpropInput", [sizes, filter, out_backprop], attrs, name).outputs[0]


def conv2d_backprop_filter(
    input,  # noqa: A002
    filter_sizes,
    out_backprop,
    strides,
    padding,
    use_cudnn_on_gpu=True,
    data_format="NHWC",
    dilations=(1, 1, 1, 1),
    name=None,
):
    attrs = _conv_attr_dict(strides, padding, data_format, dilations)
    attrs["use_cudnn_on_gpu"] = bool(use_cudnn_on_gpu)
    sizes = fops.convert_to_tensor(filter_sizes, dtype=D.int32)
    return builder.apply_op("Conv2DBackpropFilter", [input, sizes, out_backprop], attrs, name).outputs[0]


def conv2d_transpose(
    value=None,
    filter=None,  # noqa: A002
    output_shape=None,
    strides=None,
    padding="SAME",
    data_format="NHWC",
    name=None,
    input=None,  # noqa: A002
    filters=None,
    dilations=None,
):
    """The transpose (gradient) of conv2d: filter is [height, width, out_channels, in_channels]."""
    value = value if value is not None else input
    filter = filter if filter is not None else filters  # noqa: A001
    with fops.name_scope(name, "conv2d_transpose", [value, filter, output_shape]) as scope:
        return conv2d_backprop_input(
            output_shape,
            filter,
            value,
            strides,
            padding,
            data_format=data_format,
            dilations=dilations if dilations is not None else (1, 1, 1, 1),
            name=scope,
        )


def depthwise_conv2d_native(
    input,
    filter,
    strides,
    padding,
    data_format="NHWC",
    dilations=(1, 1, 1, 1),  # noqa: A002
    name=None,
):
    attrs = _conv_attr_dict(strides, padding, data_format, dilations)
    return builder.apply_op("DepthwiseConv2dNative", [input, filter], attrs, name).outputs[0]


def depthwise_conv2d(
    input,
    filter,
    strides,
    padding,
    rate=None,
    name=None,
    data_format=None,  # noqa: A002
    dilations=None,
):
    """Depthwise 2-D convolution: filter [height, width, in_channels, multiplier]; rate = dilations."""
    if rate is not None and dilations is not None:
        raise ValueError("pass either rate or dilations, not both")
    d = rate if rate is not None else dilations
    fmt = _fmt(data_format)
    dil = [1, 1, 1, 1] if d is None else _four([int(v) for v in np.atleast_1d(d)], fmt, "rate")
    with fops.name_scope(name, "depthwise", [input, filter]) as scope:
        return depthwise_conv2d_native(input, filter, strides, padding, fmt, dil, name=scope)


def _pool(op_type, value, ksize, strides, padding, data_format, name):
    fmt = _fmt(data_format)
    if not isinstance(padding, str) or padding.upper() not in ("SAME", "VALID"):
        raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")
    attrs = {
        "ksize": _four(ksize, fmt, "ksize"),
        "strides": _four(strides, fmt, "strides"),
        "padding": padding.upper(),
        "data_format": fmt,
    }
    return builder.apply_op(op_type, [value], attrs, name).outputs[0]


def max_pool(value, ksize, strides, padding, data_format="NHWC", name=None, input=None):  # noqa: A002
    """Max pooling of a 4-D tensor."""
    return _pool("MaxPool", value if value is not None else input, ksize, strides, padding, data_format, name)


def avg_pool(value, ksize, strides, padding, data_format="NHWC", name=None, input=None):  # noqa: A002
    """Average pooling of a 4-D tensor (padding is not counted in the mean)."""
    return _pool("AvgPool", value if value is not None else input, ksize, strides, padding, data_format, name)


max_pool2d = max_pool
avg_pool2d = avg_pool


def separable_conv2d(
    input,  # noqa: A002 - TF's name
    depthwise_filter,
    pointwise_filter,
    strides,
    padding,
    rate=None,
    name=None,
    data_format=None,
    dilations=None,
):
    """Depthwise convolution ([h, w, in, multiplier] filter, `rate` = dilations) followed by a
    1x1 convolution with pointwise_filter [1, 1, in * multiplier, out]."""
    with fops.name_scope(name, "separable_conv2d", [input, depthwise_filter, pointwise_filter]) as scope:
        fmt = _fmt(data_format)
        depthwise = depthwise_conv2d(
            input, depthwise_filter, strides, padding, rate, "depthwise", fmt, dilations
        )
        return conv2d(depthwise, pointwise_filter, [1, 1, 1, 1], padding="VALID", data_format=fmt, name=scope)
