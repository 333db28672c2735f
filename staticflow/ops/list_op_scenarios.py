"""The registry cases of the TensorList ops (ops/list_ops.py): scenarios, since a list is no
array a case could hold. Each builds small graphs through the public API it is given (`sf`),
runs them and compares with NumPy; the differentiable ops' scenarios also compare
`sf.gradients` with central differences of the same graph. Imported only when the generated
tests run the cases.
"""

from __future__ import annotations

import numpy as np

from staticflow.ops import list_ops as L

_RNG_SEED = 7


def _rng():
    return np.random.default_rng(_RNG_SEED)


def _run(sf, fetches, feeds=None):
    with sf.Session() as sess:
        return sess.run(fetches, feeds or {})


def _close(got, want, what: str, tol: float = 1e-6) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    if want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def _raises(sf, fn, match: str, what: str) -> None:
    """fn() must fail with an InvalidArgumentError whose message holds `match`."""
    try:
        fn()
    except sf.errors.InvalidArgumentError as e:
        assert match in str(e), f"{what}: {match!r} not in {e}"
        return
    raise AssertionError(f"{what}: no InvalidArgumentError")


def grad_check(sf, build, x: np.ndarray, what: str, eps: float = 1e-6, tol: float = 1e-6) -> None:
    """The gradient of <build(x), c> (c a fixed random cotangent, x float64) from
    sf.gradients against central differences, every element of x."""
    g = sf.Graph()
    with g.as_default():
        p = sf.placeholder(sf.float64, shape=[None] * x.ndim)
        y = build(p)
        with sf.Session() as sess:
            y0 = sess.run(y, {p: x})
        c = np.random.default_rng(1).standard_normal(np.shape(y0))
        loss = sf.reduce_sum(y * sf.constant(c))
        (gx,) = sf.gradients(loss, [p])
        assert gx is not None, f"{what}: no gradient"
        with sf.Session() as sess:
            analytic = sess.run(gx, {p: x})
            numeric = np.zeros_like(x)
            flat = numeric.reshape(-1)
            for k in range(x.size):
                xp, xm = x.copy().reshape(-1), x.copy().reshape(-1)
                xp[k] += eps
                xm[k] -= eps
                lp = sess.run(loss, {p: xp.reshape(x.shape)})
                lm = sess.run(loss, {p: xm.reshape(x.shape)})
                flat[k] = (lp - lm) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=tol, atol=tol, err_msg=f"{what}: gradient")


# --- one function per op -------------------------------------------------------------------
def _empty(sf):
    g = sf.Graph()
    with g.as_default():
        lst = L.empty_tensor_list([2], sf.float32)
        x = sf.constant([[1.0, 2.0], [3.0, 4.0]])
        lst = L.tensor_list_push_back(L.tensor_list_push_back(lst, x[0]), x[1])
        got = _run(sf, [L.tensor_list_length(lst), L.tensor_list_stack(lst, sf.float32, element_shape=[2])])
    _close(got[0], np.int32(2), "EmptyTensorList length after two pushes")
    _close(got[1], np.array([[1, 2], [3, 4]], np.float32), "EmptyTensorList stacked")
    with sf.Graph().as_default():
        full = L.empty_tensor_list([], sf.float32, max_num_elements=1)
        full = L.tensor_list_push_back(L.tensor_list_push_back(full, 1.0), 2.0)
        _raises(sf, lambda: _run(sf, L.tensor_list_length(full)), "full list", "push past max_num_elements")


def _reserve(sf):
    with sf.Graph().as_default():
        lst = L.tensor_list_reserve([3], 4, sf.float32)
        got = _run(sf, [L.tensor_list_length(lst), L.tensor_list_stack(lst, sf.float32, element_shape=[3])])
    _close(got[0], np.int32(4), "TensorListReserve length")
    _close(got[1], np.zeros((4, 3), np.float32), "a reserved list reads as zeros")
    with sf.Graph().as_default():
        n = sf.placeholder(sf.int32, [])
        bad = L.tensor_list_length(L.tensor_list_reserve([3], n, sf.float32))
        _raises(sf, lambda: _run(sf, bad, {n: -1}), "non negative", "negative num_elements")


def _from_tensor(sf):
    x = _rng().standard_normal((4, 2, 3)).astype(np.float32)
    with sf.Graph().as_default():
        p = sf.placeholder(sf.float32, [None, None, None])
        lst = L.tensor_list_from_tensor(p, [None, 3])
        got = _run(sf, [L.tensor_list_stack(lst, sf.float32), L.tensor_list_length(lst)], {p: x})
    _close(got[0], x, "FromTensor then Stack")
    _close(got[1], np.int32(4), "FromTensor length")
    with sf.Graph().as_default():
        p = sf.placeholder(sf.float32, [None, None])
        bad = L.tensor_list_length(L.tensor_list_from_tensor(p, [5]))
        _raises(sf, lambda: _run(sf, bad, {p: x[:, 0]}), "from a tensor with shape", "element shape mismatch")
    grad_check(
        sf,
        lambda t: L.tensor_list_stack(L.tensor_list_from_tensor(t, [None]), sf.float64) * 2.0,
        _rng().standard_normal((3, 2)),
        "FromTensor",
    )


def _get_item(sf):
    x = _rng().standard_normal((4, 3)).astype(np.float32)
    with sf.Graph().as_default():
        p = sf.placeholder(sf.float32, [None, None])
        lst = L.tensor_list_from_tensor(p, None)
        reads = [L.tensor_list_get_item(lst, i, sf.float32) for i in (0, 3)]
        got = _run(sf, reads, {p: x})
        unwritten = L.tensor_list_get_item(L.tensor_list_reserve([2], 3, sf.float32), 1, sf.float32)
        got0 = _run(sf, unwritten)
        oob = L.tensor_list_get_item(lst, 4, sf.float32, element_shape=[3])
        _raises(
            sf,
            lambda: _run(sf, oob, {p: x}),
            "Trying to access element 4 in a list with 4",
            "read past the end",
        )
    _close(got[0], x[0], "GetItem 0")
    _close(got[1], x[3], "GetItem 3")
    _close(got0, np.zeros(2, np.float32), "an unwritten slot of known shape reads as zeros")

    def build(t):
        lst = L.tensor_list_from_tensor(t, [2])
        return L.tensor_list_get_item(lst, 1, sf.float64, [2]) * L.tensor_list_get_item(
            lst, 2, sf.float64, [2]
        )

    grad_check(sf, build, _rng().standard_normal((3, 2)), "GetItem (two reads of one list)")


def _set_item(sf):
    x = _rng().standard_normal((2, 3)).astype(np.float32)
    with sf.Graph().as_default():
        p = sf.placeholder(sf.float32, [None])
        lst = L.tensor_list_reserve([3], 3, sf.float32)
        lst = L.tensor_list_set_item(lst, 2, p)
        lst = L.tensor_list_set_item(lst, 0, p * 2.0)
        lst = L.tensor_list_set_item(lst, 0, p * 3.0)  # a second write replaces the first
        st = L.tensor_list_stack(lst, sf.float32, element_shape=[3])
        grown = L.tensor_list_set_item(lst, 5, p, resize_if_index_out_of_bounds=True)
        got = _run(sf, [st, L.tensor_list_length(grown)], {p: x[0]})
        bad = L.tensor_list_set_item(lst, 3, p)
        _raises(
            sf, lambda: _run(sf, L.tensor_list_length(bad), {p: x[0]}), "modify element 3", "write past end"
        )
    _close(got[0], np.stack([3 * x[0], np.zeros(3, np.float32), x[0]]), "SetItem then Stack")
    _close(got[1], np.int32(6), "SetItem with resize grows the list")

    def build(t):
        lst = L.tensor_list_from_tensor(t, [2])
        lst = L.tensor_list_set_item(lst, 0, t[2] * t[1])
        return L.tensor_list_stack(lst, sf.float64, element_shape=[2])

    grad_check(sf, build, _rng().standard_normal((3, 2)), "SetItem")


def _stack(sf):
    x = _rng().standard_normal((3, 2)).astype(np.float32)
    with sf.Graph().as_default():
        p = sf.placeholder(sf.float32, [None, None])
        lst = L.tensor_list_from_tensor(p, None)
        got = _run(sf, L.tensor_list_stack(lst, sf.float32, num_elements=3), {p: x})
        wrong = L.tensor_list_stack(lst, sf.float32, num_elements=2)
        _raises(sf, lambda: _run(sf, wrong, {p: x}), "expected a list with 2 elements", "num_elements")
    _close(got, x, "Stack")
    grad_check(
        sf,
        lambda t: L.tensor_list_stack(L.tensor_list_from_tensor(t, [2]), sf.float64),
        x.astype(np.float64),
        "Stack",
    )


def _gather(sf):
    x = _rng().standard_normal((4, 2)).astype(np.float32)
    with sf.Graph().as_default():
        p = sf.placeholder(sf.float32, [None, None])
        lst = L.tensor_list_from_tensor(p, None)
        got = _run(sf, L.tensor_list_gather(lst, [3, 0, 3], sf.float32), {p: x})
        bad = L.tensor_list_gather(lst, [0, 4], sf.float32, element_shape=[2])
        _raises(sf, lambda: _run(sf, bad, {p: x}), "Index 4 out o range", "gather past the end")
    _close(got, x[[3, 0, 3]], "Gather")
    grad_check(
        sf,
        lambda t: L.tensor_list_gather(L.tensor_list_from_tensor(t, [2]), [2, 0, 2], sf.float64, [2]),
        x.astype(np.float64),
        "Gather",
    )


def _scatter_existing(sf):
    x = _rng().standard_normal((2, 3)).astype(np.float32)
    with sf.Graph().as_default():
        p = sf.placeholder(sf.float32, [None, None])
        lst = L.tensor_list_scatter(p, [3, 1], input_handle=L.tensor_list_reserve([3], 4, sf.float32))
        got = _run(sf, L.tensor_list_stack(lst, sf.float32, element_shape=[3]), {p: x})
        neg = L.tensor_list_scatter(p, [0, -1], input_handle=L.tensor_list_reserve([3], 4, sf.float32))
        _raises(sf, lambda: _run(sf, L.tensor_list_length(neg), {p: x}), "non-negative", "negative index")
    want = np.zeros((4, 3), np.float32)
    want[[3, 1]] = x
    _close(got, want, "ScatterIntoExistingList")

    def build(t):
        base = L.tensor_list_from_tensor(t * 3.0, [2])
        lst = L.tensor_list_scatter(t[:2] * t[2:4], [2, 0], input_handle=base)
        return L.tensor_list_stack(lst, sf.float64, element_shape=[2])

    grad_check(sf, build, _rng().standard_normal((4, 2)), "ScatterIntoExistingList")


def _scatter_v2(sf):
    x = _rng().standard_normal((2, 3)).astype(np.float32)
    with sf.Graph().as_default():
        p = sf.placeholder(sf.float32, [None, None])
        lst = L.tensor_list_scatter(p, [2, 0], element_shape=[3])
        got = _run(sf, L.tensor_list_stack(lst, sf.float32, element_shape=[3]), {p: x})
    want = np.zeros((3, 3), np.float32)
    want[[2, 0]] = x
    _close(got, want, "ScatterV2")
    grad_check(
        sf,
        lambda t: L.tensor_list_stack(L.tensor_list_scatter(t, [1, 0], [2]), sf.float64, element_shape=[2]),
        x[:, :2].astype(np.float64),
        "ScatterV2",
    )


def _length(sf):
    with sf.Graph().as_default():
        n = sf.placeholder(sf.int32, [])
        got = _run(sf, L.tensor_list_length(L.tensor_list_reserve(None, n, sf.int32)), {n: 5})
    _close(got, np.int32(5), "Length of a list of fed size")


def _element_shape(sf):
    with sf.Graph().as_default():
        got = _run(
            sf,
            [
                L.tensor_list_element_shape(L.tensor_list_reserve([None, 3], 1, sf.float32)),
                L.tensor_list_element_shape(L.tensor_list_reserve(None, 1, sf.float32), shape_type=sf.int64),
            ],
        )
    _close(got[0], np.array([-1, 3], np.int32), "ElementShape, a dimension unknown")
    _close(got[1], np.int64(-1), "ElementShape, unknown rank")


def _concat(sf):
    a = _rng().standard_normal((5, 2)).astype(np.float32)
    with sf.Graph().as_default():
        p = sf.placeholder(sf.float32, [None, None])
        lst = L.tensor_list_split(p, [None, 2], sf.constant([1, 4], sf.int64))
        t, lengths = L.tensor_list_concat_v2(lst, sf.float32, [None, 2])
        got = _run(sf, [t, lengths], {p: a})
        padded = L.tensor_list_set_item(L.tensor_list_reserve([None, 2], 2, sf.float32), 1, p)
        t2, _ = L.tensor_list_concat_v2(padded, sf.float32, [None, 2], sf.constant([3, 0], sf.int64))
        got2 = _run(sf, t2, {p: a})
    _close(got[0], a, "ConcatV2 of a split")
    _close(got[1], np.array([1, 4], np.int64), "ConcatV2 lengths")
    _close(got2, np.concatenate([np.zeros((3, 2), np.float32), a]), "ConcatV2 with leading_dims")

    def build(t):
        lst = L.tensor_list_split(t * t, [None, 2], sf.constant([2, 1], sf.int64))
        return L.tensor_list_concat(lst, sf.float64, [None, 2])

    grad_check(sf, build, _rng().standard_normal((3, 2)), "ConcatV2")


def _split(sf):
    a = _rng().standard_normal((6,)).astype(np.float32)
    with sf.Graph().as_default():
        p = sf.placeholder(sf.float32, [None])
        lst = L.tensor_list_split(p, [None], sf.constant([2, 0, 4], sf.int64))
        got = _run(sf, [L.tensor_list_get_item(lst, i, sf.float32) for i in range(3)], {p: a})
        bad = L.tensor_list_split(p, [None], sf.constant([2, 3], sf.int64))
        _raises(
            sf, lambda: _run(sf, L.tensor_list_length(bad), {p: a}), "Unused values in tensor", "split sum"
        )
    for k, want in enumerate(np.split(a, [2, 2])):
        _close(got[k], want, f"Split element {k}")

    def build(t):
        lst = L.tensor_list_split(t, [None], sf.constant([1, 3], sf.int64))
        return L.tensor_list_get_item(lst, 1, sf.float64, [3]) * 2.0

    grad_check(sf, build, _rng().standard_normal((4,)), "Split")


def _push_back(sf):
    def build(t):
        lst = L.empty_tensor_list([2], sf.float64)
        lst = L.tensor_list_push_back(L.tensor_list_push_back(lst, t[1] * t[0]), t[2])
        return L.tensor_list_stack(lst, sf.float64, element_shape=[2])

    x = _rng().standard_normal((3, 2))
    with sf.Graph().as_default():
        got = _run(sf, build(sf.constant(x)))
    _close(got, np.stack([x[1] * x[0], x[2]]), "PushBack")
    grad_check(sf, build, x, "PushBack")


def _pop_back(sf):
    x = _rng().standard_normal((3, 2))
    with sf.Graph().as_default():
        lst = L.tensor_list_from_tensor(sf.constant(x), [2])
        rest, last = L.tensor_list_pop_back(lst, sf.float64)
        got = _run(sf, [last, L.tensor_list_length(rest)])
        empty = L.empty_tensor_list([2], sf.float64)
        _, none = L.tensor_list_pop_back(empty, sf.float64)
        _raises(sf, lambda: _run(sf, none), "pop from an empty list", "pop from empty")
    _close(got[0], x[2], "PopBack element")
    _close(got[1], np.int32(2), "PopBack length")

    def build(t):
        rest, last = L.tensor_list_pop_back(L.tensor_list_from_tensor(t, [2]), sf.float64, [2])
        return last * L.tensor_list_get_item(rest, 0, sf.float64, [2])

    grad_check(sf, build, x, "PopBack")


def _resize(sf):
    x = _rng().standard_normal((3, 2)).astype(np.float32)
    with sf.Graph().as_default():
        lst = L.tensor_list_from_tensor(sf.constant(x), [2])
        got = _run(
            sf,
            [
                L.tensor_list_stack(L.tensor_list_resize(lst, 2), sf.float32, element_shape=[2]),
                L.tensor_list_stack(L.tensor_list_resize(lst, 4), sf.float32, element_shape=[2]),
            ],
        )
    _close(got[0], x[:2], "Resize down")
    _close(got[1], np.concatenate([x, np.zeros((1, 2), np.float32)]), "Resize up")
    grad_check(
        sf,
        lambda t: L.tensor_list_stack(
            L.tensor_list_resize(L.tensor_list_from_tensor(t, [2]), 2), sf.float64, element_shape=[2]
        ),
        x.astype(np.float64),
        "Resize",
    )


empty = [_empty]
reserve = [_reserve]
from_tensor = [_from_tensor]
get_item = [_get_item]
set_item = [_set_item]
stack = [_stack]
gather = [_gather]
scatter_existing = [_scatter_existing]
scatter_v2 = [_scatter_v2]
length = [_length]
element_shape = [_element_shape]
concat = [_concat]
split = [_split]
push_back = [_push_back]
pop_back = [_pop_back]
resize = [_resize]
