"""Gradients of the neural-network ops (activations, softmax, cross-entropy, bias)."""

from __future__ import annotations

from staticflow.ops import array_ops, builder, logging_ops, math_ops, nn_ops
from staticflow.ops.registry import register_gradient

logging_ops._register_gradients()

m = math_ops


def _grad_op(op_type, *inputs, attrs=None):
    return builder.apply_op(op_type, list(inputs), attrs).outputs[0]


@register_gradient("Softmax")
def _softmax_grad(op, g):
    y = op.outputs[0]
    return (g - m.reduce_sum(g * y, -1, keepdims=True)) * y


@register_gradient("LogSoftmax")
def _log_softmax_grad(op, g):
    return g - m.exp(op.outputs[0]) * m.reduce_sum(g, -1, keepdims=True)


@register_gradient("BiasAdd")
def _bias_add_grad(op, g):
    value = op.inputs[0]
    r = value.shape.ndims
    nchw = op.get_attr("data_format") == "NCHW"
    if r is None:  # every axis but the channel's, counted while planning
        rank = array_ops.rank(g)
        axes = (
            array_ops.concat([[0], array_ops.range_(2, rank)], 0) if nchw else array_ops.range_(0, rank - 1)
        )
        return g, m.reduce_sum(g, axes)
    channel = 1 if nchw else r - 1
    return g, m.reduce_sum(g, [i for i in range(r) if i != channel])


# activations: gradients from TensorFlow's gradient ops, and those ops' own gradients
register_gradient("Softplus")(lambda op, g: _grad_op("SoftplusGrad", g, op.inputs[0]))
register_gradient("Elu")(lambda op, g: _grad_op("EluGrad", g, op.outputs[0]))
register_gradient("Selu")(lambda op, g: _grad_op("SeluGrad", g, op.outputs[0]))
register_gradient("LeakyRelu")(
    lambda op, g: _grad_op("LeakyReluGrad", g, op.inputs[0], attrs={"alpha": op.get_attr("alpha")})
)


@register_gradient("ReluGrad")
def _relu_grad_grad(op, g):
    return _grad_op("ReluGrad", g, op.inputs[1]), array_ops.zeros_like(op.inputs[1])


@register_gradient("LeakyReluGrad")
def _leaky_relu_grad_grad(op, g):
    alpha = {"alpha": op.get_attr("alpha")}
    return _grad_op("LeakyReluGrad", g, op.inputs[1], attrs=alpha), array_ops.zeros_like(op.inputs[1])


@register_gradient("SoftplusGrad")
def _softplus_grad_grad(op, g):
    dy, x = op.inputs
    return _grad_op("SoftplusGrad", g, x), g * dy / (m.exp(-x) + 2.0 + m.exp(x))


@register_gradient("EluGrad")
def _elu_grad_grad(op, g):
    out = op.inputs[1]
    return _grad_op("EluGrad", g, out), m.where_v2(out < 0, g * op.inputs[0], array_ops.zeros_like(out))


@register_gradient("SeluGrad")
def _selu_grad_grad(op, g):
    out = op.inputs[1]
    return _grad_op("SeluGrad", g, out), m.where_v2(out < 0.0, g * op.inputs[0], array_ops.zeros_like(out))


def _xent_logits_grad(op, grad_loss, grad_backprop):
    """grad_loss * (softmax - labels), plus the second-order term when backprop is differentiated."""
    logits, backprop = op.inputs[0], op.outputs[1]
    g = array_ops.expand_dims(grad_loss, -1) * backprop
    if grad_backprop is not None and grad_backprop.op.type != "ZerosLike":
        sm = nn_ops.softmax(logits)
        g = g + (grad_backprop - m.reduce_sum(grad_backprop * sm, -1, keepdims=True)) * sm
    return g


@register_gradient("SoftmaxCrossEntropyWithLogits")
def _softmax_xent_grad(op, grad_loss, grad_backprop):
    labels_grad = array_ops.expand_dims(grad_loss, -1) * -nn_ops.log_softmax(op.inputs[0])
    if grad_backprop is not None and grad_backprop.op.type != "ZerosLike":
        labels_grad = labels_grad - grad_backprop  # backprop = softmax - labels
    return _xent_logits_grad(op, grad_loss, grad_backprop), labels_grad


@register_gradient("SparseSoftmaxCrossEntropyWithLogits")
def _sparse_softmax_xent_grad(op, grad_loss, grad_backprop):
    return _xent_logits_grad(op, grad_loss, grad_backprop), None
