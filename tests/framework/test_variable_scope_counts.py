"""Variable scope counts (which default names such as dense_3 are free) behave exactly as
TF1's copy-and-scan bookkeeping, which the store replaces with an undo log, a child index
and a resumable search so that thousands of scopes cost time linear in their number."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf
from staticflow.ops import variable_scope as vs


class _ReferenceCounts:
    """TF1's bookkeeping as written there: a dict copied on entering a captured scope and
    restored on leaving it; a scan of every name to reset sub-scopes."""

    def __init__(self):
        self.counts = {}

    def open(self, name):
        self.counts[name] = self.counts.get(name, 0) + 1

    def close_subscopes(self, name):
        for k in self.counts:
            if k.startswith(name + "/"):
                self.counts[k] = 0

    def unique_default(self, parent_name, prefix):
        base = f"{parent_name}/{prefix}" if parent_name else prefix
        if self.counts.get(base, 0) == 0:
            return prefix
        i = 1
        while self.counts.get(f"{base}_{i}", 0) > 0:
            i += 1
        return f"{prefix}_{i}"


def _random_program(rng, steps):
    """(kind, scope name, prefix or local name) of a random nesting of named, default-named
    and captured scopes, with the names TF1's bookkeeping gives them."""
    ref, names = _ReferenceCounts(), []
    stack = [("", None)]  # (scope name, saved counts of a captured entry)
    captured = []
    for _ in range(steps):
        move = rng.integers(0, 10)
        if move < 4 or len(stack) == 1 and move >= 7:  # enter a default-named scope
            parent = stack[-1][0]
            prefix = ["dense", "conv", "rnn"][rng.integers(0, 3)]
            local = ref.unique_default(parent, prefix)
            name = f"{parent}/{local}" if parent else local
            ref.open(name)
            stack.append((name, None))
            captured.append(name)
            names.append(("default", name, prefix))
        elif move < 5:  # enter a named scope
            parent = stack[-1][0]
            local = ["a", "b"][rng.integers(0, 2)]
            name = f"{parent}/{local}" if parent else local
            ref.open(name)
            stack.append((name, None))
            names.append(("named", name, local))
        elif move < 7 and captured:  # re-enter a scope captured earlier
            name = captured[rng.integers(0, len(captured))]
            ref.open(name)
            stack.append((name, dict(ref.counts)))
            names.append(("captured", name, None))
        elif len(stack) > 1:  # leave the innermost scope
            name, saved = stack.pop()
            if saved is not None:
                ref.counts = saved
            else:
                ref.close_subscopes(name)
            names.append(("exit", name, None))
    return names


@pytest.mark.parametrize("seed", range(12))
def test_default_names_match_tf1_bookkeeping(seed):
    rng = np.random.default_rng(seed)
    program = _random_program(rng, 400)
    with sf.Graph().as_default():
        scopes, got = {}, []
        ctx = []
        for kind, name, arg in program:
            if kind == "exit":
                ctx.pop().__exit__(None, None, None)
                continue
            if kind == "default":
                cm = vs.variable_scope(None, default_name=arg)
            elif kind == "named":
                cm = vs.variable_scope(arg)
            else:
                cm = vs.variable_scope(scopes[name])
            scope = cm.__enter__()
            ctx.append(cm)
            scopes.setdefault(scope.name, scope)
            got.append(scope.name)
        while ctx:
            ctx.pop().__exit__(None, None, None)
    assert got == [name for kind, name, _ in program if kind != "exit"]


def test_reentering_a_network_scope_rebuilds_the_same_names():
    with sf.Graph().as_default():
        x = sf.placeholder(sf.float32, [None, 3])
        with vs.variable_scope("net") as net:
            a = [sf.layers.dense(x, 2).name for _ in range(3)]
        with vs.variable_scope(net, reuse=True):
            b = [sf.layers.dense(x, 2).name for _ in range(3)]
        assert len(sf.trainable_variables()) == 6
    assert [n.split("/")[1] for n in a] == ["dense", "dense_1", "dense_2"]
    assert [n.split("/")[1] for n in b] == ["dense", "dense_1", "dense_2"]
