"""The MLP's SGD step in JAX and in PyTorch, shared by the benchmarks that run it beside
staticflow.

Each imports its engine only when called, so a benchmark that measures each engine's
memory in a process of its own loads nothing else."""

from __future__ import annotations


def jax_sgd_step(init, x0, y0, lr: float):
    """A jitted step (loss, gradients and the SGD update) of the relu MLP whose parameters
    are `init` (weight, bias, ...), on the batch (x0, y0); returns a function that runs one
    step and returns the loss, its parameters passed along between calls. Raises ImportError
    where JAX is not installed."""
    import jax
    import jax.numpy as jnp

    def loss_fn(params, x, y):
        h = x
        for i in range(len(params) // 2):
            h = h @ params[2 * i] + params[2 * i + 1]
            if i < len(params) // 2 - 1:
                h = jnp.maximum(h, 0)
        logp = jax.nn.log_softmax(h)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    @jax.jit
    def update(params, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        return loss, [p - lr * g for p, g in zip(params, grads)]

    state = {"params": [jnp.asarray(p) for p in init]}
    tx, ty = jnp.asarray(x0), jnp.asarray(y0)

    def step():
        loss, state["params"] = update(state["params"], tx, ty)
        return loss.block_until_ready()

    return step


def torch_sgd_step(init, x0, y0, lr: float):
    """The same step in PyTorch (torch.optim.SGD; the weights as given, rows by columns):
    a function that runs one step and returns the loss tensor. Raises ImportError where
    PyTorch is not installed."""
    import torch

    params = [torch.tensor(p, requires_grad=True) for p in init]
    opt = torch.optim.SGD(params, lr=lr)
    tx, ty = torch.from_numpy(x0), torch.from_numpy(y0)

    def step():
        opt.zero_grad(set_to_none=True)
        h = tx
        for i in range(len(params) // 2):
            h = torch.addmm(params[2 * i + 1], h, params[2 * i])
            if i < len(params) // 2 - 1:
                h = torch.relu(h)
        loss = torch.nn.functional.cross_entropy(h, ty)
        loss.backward()
        opt.step()
        return loss.detach()

    return step
