"""The pipeline's first rewrites, applied to each node as `build_ir` adds it.

Constant folding, arithmetic simplification and common-subexpression elimination each
walk the IR in execution order and decide a node from its inputs alone, and `build_ir`
adds the nodes in that order with their inputs final. So they can run on a node the
moment it is made: a node that folds, simplifies away or duplicates another never
reaches the pipeline, where it would have cost a node, its edges and three rewrites
(an unrolled RNN's gradient makes most of its nodes this way: shapes, broadcast
arguments, sums over no axes, the same constants once per step). The same rules
decide (the passes' own `fold_node`, `simplify_node`, `Merger`), switched by the same
options; the pipeline still runs after building and finds what is left (nodes that
rewrites made, which are not revisited here). What was done while building is counted
in the passes' records.
"""

from __future__ import annotations

import numpy as np

from staticflow.compiler.ir import Node, Value
from staticflow.framework import errors
from staticflow.passes import Options, PassContext, arithmetic, cse, fold
from staticflow.passes.rewrite import Rewriter

FOLD, ARITH, CSE = "constant_folding", "arithmetic_optimization", "common_subgraph_elimination"


class EarlyRewrites:
    """A `build_ir` rewrite hook: `start(ir, ev)` once, then `visit(node)` per added node."""

    def __init__(self, options: Options | None = None):
        self.options = options or Options()
        self.fold = self.options.on(FOLD)
        self.arith = self.options.on(ARITH)
        self.cse = self.options.on(CSE)
        self.counts: dict[str, int] = {FOLD: 0, ARITH: 0, CSE: 0}
        self._rw: Rewriter | None = None
        self._merger: cse.Merger | None = None

    @property
    def active(self) -> bool:
        return self.fold or self.arith or self.cse

    def done(self) -> frozenset:
        """The passes that need not run again after building: those on here, when their rules
        saw every node built and made no node of their own (a rule's new op, such as the
        reshape that replaces a sum over unit axes, is left to the pipeline)."""
        if self._rw is None or self._rw.added:
            return frozenset()
        return frozenset(name for name, on in ((FOLD, self.fold), (ARITH, self.arith), (CSE, self.cse)) if on)

    def start(self, ir, evaluator) -> None:
        self._rw = Rewriter(ir, PassContext(evaluator, self.options))
        self._merger = cse.Merger(self._rw)

    def fold_op(self, op, d, inputs: list[Value], shapes: list | None, out_dtypes: list) -> list | None:
        """Constants for the outputs of user op `op` (no control inputs; its inputs and
        inferred shapes given, or for a shape-only op None: its values' shapes) when it
        folds, without making its node; else None. The decision and the values are constant
        folding's (fold.foldable, the evaluator)."""
        if not self.fold or not out_dtypes or op.type == "Placeholder":
            return None
        if not fold.foldable(d, op.type, inputs):
            return None
        if shapes is not None and fold.nbytes(shapes, out_dtypes) > self.options.max_folded_bytes:
            return None
        ev = self._rw.ctx.evaluator
        why = "constant folding"
        try:
            if not d.shape_only:
                for v in inputs:
                    ev.value(v, why)
            values = ev.computed(d, op.type, inputs, op._attrs, shapes, out_dtypes, (op,), op.name, why)
        except (errors.OpError, ValueError, ArithmeticError, TypeError, IndexError):
            return None  # (its node is made, and fails the same way when it runs)
        if shapes is None:
            if len(values) != len(out_dtypes):
                return None
            if fold.nbytes([v.shape for v in values], out_dtypes) > self.options.max_folded_bytes:
                return None
        const = self._const if self.cse else self._rw.const
        name = f"ConstantFolding/{op.name}"
        self.counts[FOLD] += 1
        self._rw.changed += 1
        return [const(val, dt, (op,), name, ()) for val, dt in zip(values, out_dtypes)]

    def simplify_new(self, node: Node) -> list[Value] | None:
        """For a `detached` node of a user op that did not fold (fold_op): the values that
        stand for its outputs when arithmetic simplification or CSE replaces it (it is then
        dropped), else None (attach it: CSE has taken it as the node later duplicates find)."""
        rw = self._rw
        if self.arith:
            v = arithmetic.simplified(rw, node)
            if v is not None:
                self.counts[ARITH] += 1
                return [v]
        if self.cse:
            keep = self._merger.find(node)
            if keep is not None:
                self.counts[CSE] += 1
                return keep.outputs
        return None

    def visit(self, node: Node) -> list[Value] | None:
        """The values that stand for `node`'s outputs when a rewrite replaced it (the node is
        gone), else None."""
        rw = self._rw
        if self.fold:
            consts = fold.fold_node(rw, node, self._const if self.cse else None)
            if consts is not None:
                self.counts[FOLD] += 1
                return consts
        if self.arith:
            v = arithmetic.simplify_node(rw, node)
            if v is not None:
                self.counts[ARITH] += 1
                return [v]
        if self.cse:
            outs = self._merger.merge(node)
            if outs is not None:
                self.counts[CSE] += 1
                return outs
        return None

    def _const(self, value, dtype, origin, name, control) -> Value:
        """A folded value's constant: the one already made when an equal constant exists
        (what CSE would merge it into, without making it first), else a new one."""
        arr = np.asarray(value, dtype=dtype.np)
        if arr.size > cse.MAX_CONST:
            return self._rw.const(arr, dtype, origin, name, control)
        key = cse.key_of("Const", "", (), control, {"value": arr, "dtype": dtype})
        keep = self._merger.earlier(key, origin)
        if keep is not None:
            self.counts[CSE] += 1
            return keep.output(0)
        v = self._rw.const(arr, dtype, origin, name, control)
        self._merger.seen[key] = v.node
        return v
