"""Pattern fusion (TensorFlow's `remapping`): groups of ops that one kernel computes better.

Every rule reads op properties from the registry (`contraction`, `affine`,
`activation`, `activation_grad`, `pooling`, `reduction`, `gradient_update`,
`xent_role`), never lists of op names; the fused ops it makes are declared in
staticflow/ops/fused_ops.py, and each fused node stands for every user op it
replaces (its origin), so errors, traces and drawings name them.

- A product (MatMul, Conv2D NHWC) followed by per-channel affine steps (a bias
  add in any spelling, a subtraction, a multiplication by a vector or a
  scalar) and an activation becomes `_FusedMatMul` / `_FusedConv2D`: the
  shifts add up to one bias, applied with the activation in the product's
  epilogue; the scales fold into the weights (their output channels), which is
  how an inference graph's batch normalization, `x * inv + (offset - mean *
  inv)`, disappears into the convolution before it. A conv's max pool joins
  (`_FusedConv2DMaxPool`) when the activation feeds one.
- An activation's gradient op (ReluGrad, ...) whose rows are summed into a bias
  gradient becomes `_FusedBiasActivationGrad`: one pass for both.
- `ApplyGradientDescent` of a MatMul's product (a dense layer's weight
  gradient) becomes `_MatMulApplyGradientDescent`: one GEMM that accumulates
  into the variable, without a gradient buffer.
- A cross-entropy written out by hand, `-sum(labels * log(softmax(x)), -1)`
  (or with log_softmax, or the minus on the labels), becomes
  SoftmaxCrossEntropyWithLogits: one op, finite where log(softmax) would be
  -inf.

A rule fuses only where nothing else reads the values it swallows (a fetched
value or one with a second reader stays), the operands of an epilogue do not
depend on the product itself (a training graph's batch moments do), and the
dtypes are float32 or float64.
"""

from __future__ import annotations

import numpy as np

from staticflow.compiler.ir import merged_origin
from staticflow.framework import dtypes
from staticflow.ops import fused_ops
from staticflow.passes.rewrite import Rewriter

_FLOATS = (dtypes.float32, dtypes.float64)


class _Remap:
    def __init__(self, ir, ctx):
        self.ir = ir
        self.ctx = ctx
        self.rw = Rewriter(ir, ctx)
        self.pos: dict[int, int] = {}

    # --- queries -------------------------------------------------------------------------------
    def alive(self, node) -> bool:
        return self.ir.nodes.get(node.id) is node

    def sole_user(self, v):
        """The one (node, input index) that reads `v`, or None (several, none, or a fetch)."""
        users = v.node.users[v.index]
        if len(users) != 1 or self.ir.is_fetched_value(v):
            return None
        return users[0]

    def plain(self, node, device) -> bool:
        """A node a fusion may swallow: pure, on the product's device, of a float dtype."""
        return (
            node.opdef is not None
            and node.pure
            and node.device == device
            and len(node.shapes) == 1
            and node.dtypes[0] in _FLOATS
        )

    def depends_on(self, v, target) -> bool:
        """Whether value `v` is computed from `target`'s outputs (only nodes after `target` in the
        order can be, so the walk stops at those before it)."""
        limit = self.pos.get(target.id, -1)
        stack, seen = [v.node], set()
        while stack:
            n = stack.pop()
            if n is target:
                return True
            if n.id in seen or self.pos.get(n.id, 1 << 62) < limit:
                continue
            seen.add(n.id)
            stack.extend(x.node for x in n.inputs)
            stack.extend(n.control)
        return False

    def known(self, v):
        return self.rw.known(v)

    # --- edits ---------------------------------------------------------------------------------
    def const(self, value, dtype, origin):
        return self.rw.const(np.asarray(value, dtype=dtype.np), dtype, origin, "remap/const")

    def vector(self, v, channels: int, dtype, origin):
        """`v` (a scalar or a per-channel vector) as a [channels] value."""
        c = self.known(v)
        if c is not None:
            return self.const(
                np.broadcast_to(np.asarray(c, dtype.np).reshape(-1), (channels,)), dtype, origin
            )
        if tuple(v.shape) == (channels,):
            return v
        size = int(np.prod(v.shape, dtype=np.int64))
        if size == channels or len(v.shape) > 1:  # [1, ..., 1, channels] or [1, ..., 1]
            shape = self.const(np.array([size], np.int32), dtypes.int32, origin)
            v = self.node("Reshape", [v, shape], {"T": dtype, "Tshape": dtypes.int32}, origin).output(0)
            if size == channels:
                return v
        ones = self.const(np.ones((channels,), dtype.np), dtype, origin)
        return self.binary("Mul", ones, v, dtype, origin)  # one value (a scalar or [1]), broadcast

    def binary(self, op_type, a, b, dtype, origin):
        ca, cb = self.known(a), self.known(b)
        if ca is not None and cb is not None:
            fn = {"AddV2": np.add, "Sub": np.subtract, "Mul": np.multiply}[op_type]
            return self.const(fn(ca.astype(dtype.np), cb.astype(dtype.np)), dtype, origin)
        return self.node(op_type, [a, b], {"T": dtype}, origin).output(0)

    def node(self, op_type, inputs, attrs, origin, name=None):
        first = origin[0].name if origin else op_type
        return self.rw.add(op_type, inputs, attrs, origin, name or f"{first}/remap/{op_type}")

    def swallow(self, group, new_values, last_nodes):
        """Replace each node of `last_nodes` by its values in `new_values`, then drop the other
        nodes of `group` (each read only inside the group); control edges of the group move to
        the new nodes."""
        new_nodes = {v.node.id: v.node for vals in new_values for v in vals}
        for n in group:
            for c in n.control:
                for t in new_nodes.values():
                    if c is not t and c not in group:
                        self.ir.add_control(t, c)
        first = next(iter(new_nodes.values()))
        for n, vals in zip(last_nodes, new_values):
            for j, v in enumerate(vals):
                t = n.user_tensor(j)
                if t is not None:  # the new value computes what the user called t
                    if v.node.stands_for is None:
                        v.node.stands_for = [None] * len(v.node.shapes)
                    v.node.stands_for[v.index] = t
                self.ir.replace_uses(n.output(j), v)
        for n in group:
            self.ir.move_control(n, first)
        for n in reversed(group):
            if self.alive(n) and not n.has_users() and not self.ir.is_fetched(n):
                if n not in self.ir.targets:
                    self.ir.remove(n)
        self.rw.changed += 1

    # --- products with an epilogue ---------------------------------------------------------------
    def fuse_contraction(self, node) -> None:
        kind = node.opdef.contraction
        if node.dtypes[0] not in _FLOATS or len(node.shapes) != 1:
            return
        if kind == "conv2d" and node.attrs.get("data_format", "NHWC") != "NHWC":
            return
        if kind == "matmul" and len(node.shapes[0]) != 2:
            return
        out_shape = node.shapes[0]
        channels = out_shape[-1]
        dtype = node.dtypes[0]
        cur = node.output(0)
        group = [node]
        steps = []  # (kind, vector value)
        act = None
        while True:
            use = self.sole_user(cur)
            if use is None:
                break
            u, k = use
            if not self.plain(u, node.device) or u.shapes[0] != out_shape or u.dtypes[0] != dtype:
                break
            d = u.opdef
            if d.affine is not None and len(u.inputs) == 2:
                other = u.inputs[1 - k]
                if u.attrs.get("data_format", "NHWC") != "NHWC" and len(out_shape) > 2:
                    break  # a channels-first bias
                if not _per_channel(other.shape, channels) or (d.affine == "sub" and k == 1):
                    break
                if self.depends_on(other, node):
                    break  # a training graph's batch statistics: computed from the product
                steps.append((d.affine, other))
                group.append(u)
                cur = u.output(0)
                continue
            if d.activation in fused_ops.ACTIVATIONS:
                act = u
                group.append(u)
                cur = u.output(0)
            break
        if not steps and act is None:
            return
        origin = merged_origin([group[-1], *group[:-1]])  # the op whose value it computes first
        scale, shift = None, None
        for how, v in steps:
            vec = self.vector(v, channels, dtype, origin)
            if how == "mul":
                scale = vec if scale is None else self.binary("Mul", scale, vec, dtype, origin)
                if shift is not None:
                    shift = self.binary("Mul", shift, vec, dtype, origin)
            elif how == "add":
                shift = vec if shift is None else self.binary("AddV2", shift, vec, dtype, origin)
            else:  # x - v
                neg = self.binary(
                    "Sub", self.const(np.zeros((channels,), dtype.np), dtype, origin), vec, dtype, origin
                )
                shift = neg if shift is None else self.binary("Sub", shift, vec, dtype, origin)
        weights = node.inputs[1]
        if scale is not None:
            weights = self.scaled_weights(node, weights, scale, dtype, origin)
        fused = ["BiasAdd"] if shift is not None else []
        attrs = {"T": dtype, "num_args": len(fused), "fused_ops": fused}
        if act is not None:
            fused.append(act.opdef.activation)
            attrs["leakyrelu_alpha"] = float(act.attrs.get("alpha", 0.2))
        args = [shift] if shift is not None else []
        pool = None
        if kind == "matmul":
            attrs.update(transpose_a=node.attrs["transpose_a"], transpose_b=node.attrs["transpose_b"])
            new = self.node(
                "_FusedMatMul", [node.inputs[0], weights, *args], attrs, origin, node.name + "/fused"
            )
        else:
            for a in ("strides", "padding", "explicit_paddings", "dilations"):
                attrs[a] = node.attrs[a]
            pool = self.pool_user(cur, node.device)
            if pool is not None:
                attrs.update(
                    pool_ksize=pool.attrs["ksize"],
                    pool_strides=pool.attrs["strides"],
                    pool_padding=pool.attrs["padding"],
                )
                origin = merged_origin([group[-1], *group[:-1], pool])
                new = self.node(
                    "_FusedConv2DMaxPool",
                    [node.inputs[0], weights, *args],
                    attrs,
                    origin,
                    node.name + "/fused",
                )
            else:
                new = self.node(
                    "_FusedConv2D", [node.inputs[0], weights, *args], attrs, origin, node.name + "/fused"
                )
        last = group[-1]
        if pool is not None:
            self.swallow(group + [pool], [[new.output(0)], [new.output(1)]], [last, pool])
        else:
            self.swallow(group, [[new.output(0)]], [last])
        self.ctx.notes.append(f"{new.type}({', '.join(n.type for n in group)})")

    def scaled_weights(self, node, w, scale, dtype, origin):
        """The product's weights with each output channel multiplied by `scale` [channels]."""
        if node.opdef.contraction == "matmul" and node.attrs["transpose_b"]:
            n = w.shape[0]  # b is [N, K]: scale its rows
            cs = self.known(scale)
            if cs is not None:
                col = self.const(np.asarray(cs).reshape(n, 1), dtype, origin)
            else:
                shape = self.const(np.array([n, 1], np.int32), dtypes.int32, origin)
                col = self.node(
                    "Reshape", [scale, shape], {"T": dtype, "Tshape": dtypes.int32}, origin
                ).output(0)
            return self.binary("Mul", w, col, dtype, origin)
        return self.binary("Mul", w, scale, dtype, origin)  # the last axis is the output channel

    def pool_user(self, v, device):
        """A max pool (NHWC) that reads `v`, which the conv's kernel can compute too."""
        for u, _ in v.node.users[v.index]:
            d = u.opdef
            if (
                d is not None
                and d.pooling == "max"
                and u.pure
                and u.device == device
                and u.attrs.get("data_format", "NHWC") == "NHWC"
                and not u.control
            ):
                return u
        return None

    # --- an activation gradient and the bias gradient that sums it -----------------------------
    def fuse_bias_grad(self, s) -> None:
        x = s.inputs[0]
        g = x.node
        if g.opdef is None or g.opdef.activation_grad not in fused_ops.GRAD_ACTIVATIONS:
            return
        if not self.plain(g, s.device) or not self.plain(s, s.device) or len(x.shape) < 2:
            return
        if g.inputs[0].shape != x.shape or g.inputs[1].shape != x.shape or s.dtypes[0] != x.dtype:
            return
        axes = self.known(s.inputs[1])
        if axes is None:
            try:
                axes = self.ctx.evaluator.value(s.inputs[1], "pattern fusion")
            except Exception:  # noqa: BLE001 - not known before the run: no fusion
                return
        r = len(x.shape)
        if sorted({int(a) % r for a in np.asarray(axes).reshape(-1)}) != list(range(r - 1)):
            return
        channels = x.shape[-1]
        if int(np.prod(s.shapes[0], dtype=np.int64)) != channels:
            return
        origin = merged_origin([g, s])
        attrs = {
            "T": x.dtype,
            "activation": g.opdef.activation_grad,
            "alpha": float(g.attrs.get("alpha", 0.2)),
        }
        new = self.node("_FusedBiasActivationGrad", list(g.inputs), attrs, origin, g.name + "/fused")
        db = new.output(1)
        if s.shapes[0] != (channels,):
            shape = self.const(np.array(s.shapes[0], np.int32), dtypes.int32, origin)
            db = self.node("Reshape", [db, shape], {"T": x.dtype, "Tshape": dtypes.int32}, origin).output(0)
        self.swallow([g, s], [[new.output(0)], [db]], [g, s])
        self.ctx.notes.append(f"_FusedBiasActivationGrad({g.type}, {s.type})")

    # --- a gradient descent update of a product --------------------------------------------------
    def fuse_update(self, node) -> None:
        grad = node.inputs[2]
        p = grad.node
        if p.opdef is None or p.opdef.contraction != "matmul" or p.control or p.device != node.device:
            return
        if self.sole_user(grad) is None or not p.pure or grad.dtype not in _FLOATS:
            return
        if len(node.inputs[0].shape) != 2 or node.inputs[1].shape != () or node.dtypes[0] != grad.dtype:
            return
        if any(v.node is node.inputs[0].node for v in p.inputs):
            return  # the product reads the variable's storage itself, which the GEMM writes
        attrs = {
            "T": grad.dtype,
            "transpose_a": p.attrs["transpose_a"],
            "transpose_b": p.attrs["transpose_b"],
            "use_locking": node.attrs.get("use_locking", False),
        }
        origin = merged_origin([node, p])
        new = self.node(
            "_MatMulApplyGradientDescent",
            [node.inputs[0], node.inputs[1], *p.inputs],
            attrs,
            origin,
            node.name + "/fused",
        )
        self.swallow([p, node], [[new.output(0)]], [node])
        self.ctx.notes.append(f"_MatMulApplyGradientDescent({p.type}, {node.type})")

    # --- a cross-entropy written out -------------------------------------------------------------
    def fuse_xent(self, s) -> None:
        """s: a sum over the last axis of labels * log(softmax(x)) (negated inside or outside)."""
        x = s.inputs[0]
        if len(x.shape) != 2 or s.attrs.get("keep_dims") or s.dtypes[0] not in _FLOATS:
            return
        axes = self.known(s.inputs[1])
        if axes is None or [int(a) % 2 for a in np.asarray(axes).reshape(-1)] != [1]:
            return
        group = [s]
        m = x.node
        negated = False
        if _role(m) == "neg" and self.sole_user(x) is not None:  # sum(-(labels * log p))
            group.append(m)
            negated = True
            x = m.inputs[0]
            m = x.node
        if (
            m.opdef is None
            or m.opdef.affine != "mul"
            or self.sole_user(x) is None
            or not self.plain(m, s.device)
        ):
            return
        group.append(m)
        for k in (0, 1):
            logp, labels = m.inputs[k], m.inputs[1 - k]
            logits = self.log_softmax_of(logp)
            if logits is None:
                continue
            if _role(labels.node) == "neg" and not negated:  # sum(-labels * log p)
                labels, inner_neg = labels.node.inputs[0], True
            else:
                inner_neg = False
            if labels.shape != x.shape or logits.shape != x.shape or logits.dtype != s.dtypes[0]:
                continue
            break
        else:
            return
        last = s
        if not (negated or inner_neg):  # -sum(labels * log p): the negation after the sum
            use = self.sole_user(s.output(0))
            if use is None or _role(use[0]) != "neg" or not self.plain(use[0], s.device):
                return
            last = use[0]
            group.append(last)
        if any(not self.plain(n, s.device) for n in group):
            return
        origin = merged_origin([last, *(n for n in group if n is not last), logp.node])
        new = self.node(
            "SoftmaxCrossEntropyWithLogits",
            [logits, labels],
            {"T": s.dtypes[0]},
            origin,
            last.name + "/fused",
        )
        group = sorted(group, key=lambda n: self.pos.get(n.id, 0))
        self.swallow(group, [[new.output(0)]], [last])
        # log(softmax(x)) and the softmax go too, when nothing else reads them
        for n in (logp.node, logp.node.inputs[0].node if logp.node.inputs else None):
            if n is not None and self.alive(n) and not n.has_users() and n.pure and n not in self.ir.targets:
                if not self.ir.is_fetched(n):
                    self.ir.remove(n)
        self.ctx.notes.append("SoftmaxCrossEntropyWithLogits(" + ", ".join(n.type for n in group) + ")")

    def log_softmax_of(self, v):
        """The logits x when `v` is log_softmax(x) or log(softmax(x)) over the last axis."""
        n = v.node
        if _role(n) == "log_softmax":
            return n.inputs[0]
        if _role(n) == "log" and _role(n.inputs[0].node) == "softmax":
            return n.inputs[0].node.inputs[0]
        return None


def _role(node):
    return node.opdef.xent_role if node.opdef is not None else None


def _per_channel(shape, channels: int) -> bool:
    """A scalar, [channels], or [1, ..., 1, channels]."""
    return all(d == 1 for d in shape[:-1]) and (not shape or shape[-1] in (1, channels))


def run(ir, ctx) -> int:
    r = _Remap(ir, ctx)
    order = ir.topo_order()
    r.pos = {n.id: i for i, n in enumerate(order)}
    # updates first: a weight gradient's product goes into its variable, not into an epilogue
    for node in order:
        if r.alive(node) and node.opdef is not None and node.opdef.gradient_update == "gradient_descent":
            r.fuse_update(node)
    for node in order:
        if not r.alive(node) or node.opdef is None:
            continue
        d = node.opdef
        if d.contraction is not None and d.contraction in ("matmul", "conv2d") and node.pure:
            r.fuse_contraction(node)
        elif d.reduction == "sum":
            r.fuse_bias_grad(node)
            if r.alive(node):
                r.fuse_xent(node)
    return r.rw.changed
