"""A multilayer perceptron written by hand in NumPy: forward, backward and optimizer steps.

Relu hidden layers, a linear output layer, and the mean sparse softmax
cross-entropy loss, with the backward pass derived by hand (no autodiff), and
the update rules of TensorFlow 1.x's GradientDescent, Momentum and Adam
optimizers. It is the reference the training tests compare staticflow
against (in float64) and the NumPy entry of the MLP benchmark (in float32):
it computes in the dtype of the parameters it is given.

Parameters are a flat list ``[w1, b1, w2, b2, ...]`` with ``w`` of shape
[fan_in, fan_out], the layout ``x @ w + b`` of the TF1 graphs it mirrors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "AdamState",
    "adam_step",
    "forward",
    "glorot_uniform_params",
    "loss_and_grads",
    "momentum_step",
    "sgd_step",
]


def glorot_uniform_params(sizes: list[int], rng: np.random.Generator, dtype=np.float32) -> list[np.ndarray]:
    """``[w1, b1, ...]`` for layer sizes ``[n_in, h1, ..., n_out]``: glorot-uniform weights, zero biases."""
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        params.append(rng.uniform(-limit, limit, (fan_in, fan_out)).astype(dtype))
        params.append(np.zeros(fan_out, dtype))
    return params


def forward(params: list[np.ndarray], x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Logits, and the activations of every layer's input (what the backward pass needs)."""
    acts = [x]
    h = x
    n_layers = len(params) // 2
    for i in range(n_layers):
        z = h @ params[2 * i] + params[2 * i + 1]
        h = np.maximum(z, 0) if i < n_layers - 1 else z
        if i < n_layers - 1:
            acts.append(h)
    return h, acts


def loss_and_grads(params: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray]]:
    """Mean sparse softmax cross-entropy of the logits against integer labels `y`, and its gradients.

    d loss / d logits = (softmax(logits) - onehot(y)) / batch; each layer then
    gives dW = input.T @ dz, db = sum(dz), and d input = dz @ W.T masked by relu.
    """
    logits, acts = forward(params, x)
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_z = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_p = shifted - log_z
    loss = -log_p[np.arange(n), y].mean()
    dz = np.exp(log_p)
    dz[np.arange(n), y] -= 1
    dz /= n
    grads: list[np.ndarray] = [np.empty(0)] * len(params)
    for i in reversed(range(len(params) // 2)):
        h = acts[i]
        grads[2 * i] = h.T @ dz
        grads[2 * i + 1] = dz.sum(axis=0)
        if i > 0:
            dz = (dz @ params[2 * i].T) * (h > 0)
    return float(loss), grads


def sgd_step(params: list[np.ndarray], grads: list[np.ndarray], lr: float) -> None:
    """GradientDescentOptimizer: ``p -= lr * g``, in place."""
    for p, g in zip(params, grads):
        p -= p.dtype.type(lr) * g


def momentum_step(
    params: list[np.ndarray],
    grads: list[np.ndarray],
    accum: list[np.ndarray],
    lr: float,
    momentum: float,
    use_nesterov: bool = False,
) -> None:
    """MomentumOptimizer, in place: ``a = momentum * a + g; p -= lr * a``.

    With ``use_nesterov``: ``p -= lr * (g + momentum * a)``.
    """
    for p, g, a in zip(params, grads, accum):
        a *= momentum
        a += g
        p -= lr * (g + momentum * a) if use_nesterov else lr * a


@dataclass
class AdamState:
    """Adam's moments and step count for one parameter list (TF1's AdamOptimizer defaults)."""

    params: list[np.ndarray]
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    t: int = 0
    m: list[np.ndarray] = field(default_factory=list)
    v: list[np.ndarray] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]


def adam_step(params: list[np.ndarray], grads: list[np.ndarray], state: AdamState, lr: float) -> None:
    """AdamOptimizer (TF1 form, epsilon outside the bias correction), in place.

    ``lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)``,
    ``m = beta1 m + (1 - beta1) g``, ``v = beta2 v + (1 - beta2) g^2``,
    ``p -= lr_t * m / (sqrt(v) + epsilon)``.
    """
    state.t += 1
    b1, b2 = state.beta1, state.beta2
    lr_t = float(lr * np.sqrt(1 - b2**state.t) / (1 - b1**state.t))
    for p, g, m, v in zip(params, grads, state.m, state.v):
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        p -= lr_t * m / (np.sqrt(v) + state.epsilon)
