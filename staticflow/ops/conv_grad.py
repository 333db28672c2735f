"""Gradients of the convolution and pooling ops (TensorFlow's definitions)."""

from __future__ import annotations

from staticflow.ops import array_ops, builder
from staticflow.ops.grad_util import shape_of
from staticflow.ops.registry import register_gradient

_CONV_ATTRS = ("strides", "padding", "explicit_paddings", "data_format", "dilations")
_POOL_ATTRS = ("ksize", "strides", "padding", "data_format")


def _attrs(op, names):
    out = {k: op.get_attr(k) for k in names}
    if op.type.startswith("Conv2D"):
        out["use_cudnn_on_gpu"] = op.get_attr("use_cudnn_on_gpu")
    return out


def _apply(op_type, inputs, attrs):
    return builder.apply_op(op_type, list(inputs), attrs).outputs[0]


def _register_conv(prefix):
    fwd, bin_, bfi = prefix, prefix + "BackpropInput", prefix + "BackpropFilter"

    @register_gradient(fwd)
    def _fwd_grad(op, g):
        x, w = op.inputs
        a = _attrs(op, _CONV_ATTRS)
        return _apply(bin_, [shape_of(x), w, g], a), _apply(bfi, [x, shape_of(w), g], a)

    @register_gradient(bin_)
    def _bin_grad(op, g):
        _, w, dy = op.inputs
        a = _attrs(op, _CONV_ATTRS)
        return None, _apply(bfi, [g, shape_of(w), dy], a), _apply(fwd, [g, w], a)

    @register_gradient(bfi)
    def _bfi_grad(op, g):
        x, _, dy = op.inputs
        a = _attrs(op, _CONV_ATTRS)
        return _apply(bin_, [shape_of(x), g, dy], a), None, _apply(fwd, [x, g], a)


_register_conv("Conv2D")
_register_conv("DepthwiseConv2dNative")


@register_gradient("MaxPool")
def _max_pool_grad(op, g):
    return _apply("MaxPoolGrad", [op.inputs[0], op.outputs[0], g], _attrs(op, _POOL_ATTRS))


@register_gradient("MaxPoolGrad")
def _max_pool_grad_grad(op, g):
    x, y, _ = op.inputs
    return (
        array_ops.zeros_like(x),
        array_ops.zeros_like(y),
        _apply("MaxPoolGradGrad", [x, y, g], _attrs(op, _POOL_ATTRS)),
    )


@register_gradient("MaxPoolGradGrad")
def _max_pool_grad_grad_grad(op, g):
    x, y, _ = op.inputs
    return (
        array_ops.zeros_like(x),
        array_ops.zeros_like(y),
        _apply("MaxPoolGrad", [x, y, g], _attrs(op, _POOL_ATTRS)),
    )


@register_gradient("AvgPool")
def _avg_pool_grad(op, g):
    return _apply("AvgPoolGrad", [shape_of(op.inputs[0]), g], _attrs(op, _POOL_ATTRS))


@register_gradient("AvgPoolGrad")
def _avg_pool_grad_grad(op, g):
    return None, _apply("AvgPool", [g], _attrs(op, _POOL_ATTRS))
