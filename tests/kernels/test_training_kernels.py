"""training.c kernels (TensorFlow's Apply* optimizer updates, in place)
called directly against float64 NumPy references of TensorFlow's formulas.

Every sf_cpu_apply_* kernel in the table must have a reference in SPEC.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from staticflow.backends.cpu import KernelError, call_kernel, kernel_table, set_num_threads

FLOATS = {"float32": np.float32, "float64": np.float64}
PARALLEL_MIN = 32768  # SF_PARALLEL_MIN


def _gd(s, sc, attr):
    s["var"] = s["var"] - sc["alpha"] * s["delta"]


def _momentum(s, sc, attr):
    s["accum"] = s["accum"] * sc["momentum"] + s["grad"]
    if attr:
        s["var"] = s["var"] - (s["grad"] * sc["lr"] + s["accum"] * sc["momentum"] * sc["lr"])
    else:
        s["var"] = s["var"] - sc["lr"] * s["accum"]


def _adam(s, sc, attr):
    lr_t = sc["lr"] * np.sqrt(1 - sc["beta2_power"]) / (1 - sc["beta1_power"])
    g = s["grad"]
    s["m"] = s["m"] + (g - s["m"]) * (1 - sc["beta1"])
    s["v"] = s["v"] + (g * g - s["v"]) * (1 - sc["beta2"])
    num = s["m"] * sc["beta1"] + (1 - sc["beta1"]) * g if attr else s["m"]
    s["var"] = s["var"] - lr_t * num / (np.sqrt(s["v"]) + sc["epsilon"])


def _rms(s, sc, attr):
    g = s["grad"]
    s["ms"] = s["ms"] + (g * g - s["ms"]) * (1 - sc["rho"])
    s["mom"] = s["mom"] * sc["momentum"] + sc["lr"] * g / np.sqrt(s["ms"] + sc["epsilon"])
    s["var"] = s["var"] - s["mom"]


def _centered(s, sc, attr):
    g = s["grad"]
    s["mg"] = s["mg"] + (g - s["mg"]) * (1 - sc["rho"])
    s["ms"] = s["ms"] + (g * g - s["ms"]) * (1 - sc["rho"])
    s["mom"] = s["mom"] * sc["momentum"] + sc["lr"] * g / np.sqrt(s["ms"] - s["mg"] ** 2 + sc["epsilon"])
    s["var"] = s["var"] - s["mom"]


def _adagrad(s, sc, attr):
    if attr:
        s["accum"] = s["accum"] + s["grad"] ** 2
    s["var"] = s["var"] - sc["lr"] * s["grad"] / np.sqrt(s["accum"])


# op -> (operands in order: name, kind), reference, iattr[0] values. kind:
# "t" a tensor of var's shape (slots start positive where they are divided
# by or square-rooted), "s" a scalar with its value.
SPEC = {
    "apply_gradient_descent": ([("var", "t"), ("alpha", 0.1), ("delta", "t")], _gd, (0,)),
    "apply_momentum": (
        [("var", "t"), ("accum", "t"), ("lr", 0.05), ("grad", "t"), ("momentum", 0.9)],
        _momentum,
        (0, 1),
    ),
    "apply_adam": (
        [
            ("var", "t"),
            ("m", "t"),
            ("v", "pos"),
            ("beta1_power", 0.9**3),
            ("beta2_power", 0.999**3),
            ("lr", 0.01),
            ("beta1", 0.9),
            ("beta2", 0.999),
            ("epsilon", 1e-7),
            ("grad", "t"),
        ],
        _adam,
        (0, 1),
    ),
    "apply_rms_prop": (
        [
            ("var", "t"),
            ("ms", "pos"),
            ("mom", "t"),
            ("lr", 0.01),
            ("rho", 0.9),
            ("momentum", 0.5),
            ("epsilon", 1e-7),
            ("grad", "t"),
        ],
        _rms,
        (0,),
    ),
    "apply_centered_rms_prop": (
        [
            ("var", "t"),
            ("mg", "small"),
            ("ms", "pos"),
            ("mom", "t"),
            ("lr", 0.01),
            ("rho", 0.9),
            ("momentum", 0.5),
            ("epsilon", 1e-7),
            ("grad", "t"),
        ],
        _centered,
        (0,),
    ),
    "apply_adagrad": ([("var", "t"), ("accum", "pos"), ("lr", 0.1), ("grad", "t")], _adagrad, (1, 0)),
}

NAMES = sorted(n for n in kernel_table() if n.startswith("sf_cpu_apply_"))


def _parse(name):
    op, dt = name[len("sf_cpu_") :].rsplit("_", 1)
    return op, FLOATS[dt]


def test_every_kernel_has_a_reference():
    assert NAMES == sorted(f"sf_cpu_{op}_{dt}" for op in SPEC for dt in FLOATS)


def _operands(op, dtype, shape, rng, scalar_shape=()):
    operands, _, _ = SPEC[op]
    arrays = []
    for _, kind in operands:
        if kind == "t":
            a = rng.standard_normal(shape)
        elif kind == "pos":
            a = rng.uniform(0.5, 2, shape)
        elif kind == "small":
            a = rng.uniform(-0.3, 0.3, shape)
        else:
            a = np.full(scalar_shape, kind)
        arrays.append(np.ascontiguousarray(a, dtype=dtype))
    return arrays


def _reference_steps(op, arrays, attr, grads):
    operands, ref, _ = SPEC[op]
    s = {n: a.astype(np.float64) for (n, k), a in zip(operands, arrays) if not isinstance(k, float)}
    sc = {n: float(a.reshape(-1)[0]) for (n, k), a in zip(operands, arrays) if isinstance(k, float)}
    gname = "delta" if op == "apply_gradient_descent" else "grad"
    for g in grads:
        s[gname] = g.astype(np.float64)
        ref(s, sc, attr)
    return s


def _run_steps(name, arrays, attr, grads):
    op, _ = _parse(name)
    operands, _, _ = SPEC[op]
    gi = [n for n, _ in operands].index("grad" if op != "apply_gradient_descent" else "delta")
    for g in grads:
        arrays[gi][...] = g
        call_kernel(name, arrays, [], iattr=[attr])


def _tol(dtype):
    return dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)


SHAPES = [(7,), (3, 4, 5), (), (0, 3), (1000,), (300, 257)]  # the last one runs on OpenMP threads
assert 300 * 257 > PARALLEL_MIN


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", NAMES)
def test_update_matches_numpy(name, shape):
    op, dtype = _parse(name)
    operands, _, attrs = SPEC[op]
    for attr in attrs:
        rng = np.random.default_rng(zlib.crc32(f"{name}/{shape}/{attr}".encode()))
        arrays = _operands(op, dtype, shape, rng)
        gname = "delta" if op == "apply_gradient_descent" else "grad"
        gi = [n for n, _ in operands].index(gname)
        grads = [rng.standard_normal(shape).astype(dtype) for _ in range(3)]
        want = _reference_steps(op, [a.copy() for a in arrays], attr, grads)
        buffers = [a.ctypes.data for a in arrays]
        _run_steps(name, arrays, attr, grads)
        assert [a.ctypes.data for a in arrays] == buffers  # updated in place
        for (n, _), a in zip(operands, arrays):
            if n in want and n != gname:
                np.testing.assert_allclose(a, want[n], err_msg=f"{name} {n} attr={attr}", **_tol(dtype))
        # the gradient and the scalars are read only
        np.testing.assert_array_equal(arrays[gi], grads[-1])
        for (_, k), a in zip(operands, arrays):
            if isinstance(k, float):
                assert a == dtype(k)


@pytest.mark.parametrize("name", NAMES)
def test_scalars_may_have_one_element_of_any_shape(name):
    op, dtype = _parse(name)
    rng = np.random.default_rng(5)
    a0 = _operands(op, dtype, (4, 3), rng)
    a1 = [a.copy() if a.ndim == 2 else a.reshape(1, 1) for a in a0]
    call_kernel(name, a0, [], iattr=[1])
    call_kernel(name, a1, [], iattr=[1])
    for x, y in zip(a0, a1):
        np.testing.assert_array_equal(x.reshape(-1), y.reshape(-1))


@pytest.mark.parametrize("name", NAMES)
def test_thread_count_does_not_change_results(name):
    op, dtype = _parse(name)
    rng = np.random.default_rng(8)
    base = _operands(op, dtype, (200_000,), rng)
    outs = []
    try:
        for threads in (1, 0):
            set_num_threads(threads)
            arrays = [a.copy() for a in base]
            call_kernel(name, arrays, [], iattr=[1])
            outs.append(arrays)
    finally:
        set_num_threads(0)
    for x, y in zip(*outs):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("name", NAMES)
def test_rejects_bad_operands(name):
    op, dtype = _parse(name)
    operands, _, _ = SPEC[op]
    names = [n for n, _ in operands]
    rng = np.random.default_rng(2)
    good = _operands(op, dtype, (4, 3), rng)
    last = names.index("delta" if op == "apply_gradient_descent" else "grad")
    bad = list(good)
    bad[last] = good[last][:, :2].copy()
    with pytest.raises(
        KernelError, match=rf"{names[last]} and var do not have the same shape: \[4, 2\] vs \[4, 3\]"
    ):
        call_kernel(name, bad, [])
    bad = list(good)
    bad[last] = np.zeros((3, 4), dtype).T  # right shape, not contiguous
    with pytest.raises(KernelError, match=f"{names[last]} must be contiguous"):
        call_kernel(name, bad, [])
    si = next(i for i, (_, k) in enumerate(operands) if isinstance(k, float))
    bad = list(good)
    bad[si] = np.zeros(2, dtype)
    with pytest.raises(KernelError, match=rf"{names[si]} is not a scalar: \[2\]"):
        call_kernel(name, bad, [])
    other = np.float64 if dtype == np.float32 else np.float32
    bad = list(good)
    bad[0] = good[0].astype(other)
    with pytest.raises(KernelError, match="var has dtype"):
        call_kernel(name, bad, [])
    with pytest.raises(KernelError, match="no outputs"):
        call_kernel(name, good, [np.zeros(1, dtype)])
    with pytest.raises(KernelError, match=f"takes {len(operands)} inputs"):
        call_kernel(name, good[:-1], [])
    for a, b in zip(good, _operands(op, dtype, (4, 3), np.random.default_rng(2))):
        np.testing.assert_array_equal(a, b)  # failed calls write nothing


def test_adam_converges_on_a_quadratic():
    """Training smoke test: Adam drives w to the target of 0.5 * |w - t|^2."""
    t = np.linspace(-1, 1, 50).astype(np.float32)
    w, m, v = np.zeros(50, np.float32), np.zeros(50, np.float32), np.zeros(50, np.float32)
    b1, b2 = 0.9, 0.999
    sc = {k: np.array(x, np.float32) for k, x in dict(lr=0.05, beta1=b1, beta2=b2, eps=1e-7).items()}
    for step in range(1, 500):
        grad = w - t
        call_kernel(
            "sf_cpu_apply_adam_float32",
            [w, m, v, np.array(b1**step, np.float32), np.array(b2**step, np.float32)]
            + [sc["lr"], sc["beta1"], sc["beta2"], sc["eps"], grad],
            [],
        )
    np.testing.assert_allclose(w, t, atol=1e-3)
