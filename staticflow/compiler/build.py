"""From the user's Graph to the IR of one plan signature.

`build_ir` prunes the graph to what the fetches and targets need (fed tensors
cut the walk), makes one IR node per remaining op (a fed tensor becomes a feed
node), and infers every shape with the concrete feed shapes. Values needed
while planning (shape arguments, axes, sizes: the registry's `host` inputs)
are computed on demand by `IRGraph`'s companion `Evaluator`, iteratively, so
neither building nor evaluation recurses over the graph's depth.
"""

from __future__ import annotations

import math

import numpy as np

from staticflow.compiler.ir import FEED, IRGraph, Node, Value
from staticflow.framework import dtypes, errors, sizes
from staticflow.framework import ops as fops
from staticflow.framework.graph_walk import prune_ops, toposort_ops
from staticflow.framework.tensor_shape import TensorShape, concrete
from staticflow.ops import builder, list_ops, registry


def where(node_or_op) -> str:
    """The suffix of an error message that names the user's op(s) and source line(s): those a
    node stands for, one op, or a sequence of ops."""
    if isinstance(node_or_op, Node):
        ops_ = node_or_op.origin
    elif isinstance(node_or_op, (list, tuple)):
        ops_ = tuple(node_or_op)
    else:
        ops_ = (node_or_op,)
    if not ops_:
        return ""
    parts = [f"node {op.name} ({op.type}) defined at {fops.format_location(op.location)}" for op in ops_[:4]]
    more = f" and {len(ops_) - 4} more" if len(ops_) > 4 else ""
    return "\n\t [[" + "; ".join(parts) + more + "]]"


def _first(node: Node):
    return node.origin[0] if node.origin else None


def flat_args(d: registry.OpDef, attrs: dict) -> list:
    """Input Args repeated for list inputs, aligned with a node's inputs."""
    out = []
    for a in d.inputs:
        out.extend([a] * a.count(attrs))
    return out


class Evaluator:
    """Values of IR outputs known before the run: constants, values that depend only on
    shapes, fed values (the plan is then specialized on them), and what the NumPy
    references compute from those. Each value is computed once."""

    def __init__(self, ir: IRGraph, feeds: dict, allocation_limit=None):
        self.ir = ir
        self.feeds = feeds
        self.allocation_limit = allocation_limit  # bytes a computed value may take (None: default)
        self._limit: int | None = None  # that limit, resolved when first needed
        self.known: dict[Value, np.ndarray] = {}
        # variant values: what their shape functions know of them while planning (a TensorList's
        # element shapes and length, ops/list_ops.py), read by the shape functions of their users
        self.specs: dict[Value, object] = {}
        self._new_specs: dict = {}  # output index -> spec of the op _infer saw last
        self._function_shapes: dict = {}

    def function_shapes(self, fg, in_shapes, in_specs=None, with_specs: bool = False):
        """The concrete output shapes of function graph `fg` (a branch, a loop body) for
        arguments of these concrete shapes: its IR built as a plan's would be. Its values
        needed while planning must not come from its arguments (a shape argument computed
        from an argument's value): they are only known while it runs. `in_specs`: what is
        known of its list arguments (ListSpecs, None where nothing); `with_specs`: return
        (shapes, the specs of its outputs) instead."""
        specs = tuple(in_specs) if in_specs else ()
        key = (id(fg), tuple(tuple(s) for s in in_shapes), specs)
        got = self._function_shapes.get(key)
        if got is None:
            feeds = {t: _shaped(tuple(s), t.dtype) for t, s in zip(fg.inputs, in_shapes)}
            feed_specs = {t: sp for t, sp in zip(fg.inputs, specs) if sp is not None}
            ir, ev = build_ir(
                fg, fg.outputs, fg.control_outputs, feeds, self.allocation_limit, feed_specs=feed_specs
            )
            check_no_value_feeds(fg, ir)
            shapes = [tuple(v.node.shapes[v.index]) for v in ir.fetches]
            out_specs = [ev.specs.get(v) for v in ir.fetches]
            got = self._function_shapes[key] = (fg, shapes, out_specs)
        return (got[1], got[2]) if with_specs else got[1]

    def value(self, v: Value, why: str) -> np.ndarray:
        """The value of `v`, or InvalidArgumentError when it is only known while running."""
        if v in self.known:
            return self.known[v]
        stack = [v.node]
        done: set[int] = set()
        while stack:
            n = stack[-1]
            if n.id in done:
                stack.pop()
                continue
            missing = [x.node for x in self._needed(n, why) if x not in self.known and x.node.id not in done]
            if missing:
                stack.extend(missing)
                continue
            stack.pop()
            done.add(n.id)
            for j, out in enumerate(self._compute(n, why)):
                self.known[n.output(j)] = out
        return self.known[v]

    def _needed(self, n: Node, why: str) -> list[Value]:
        if n.type in (FEED, "Const") or (n.opdef is not None and (n.opdef.shape_only or n.opdef.resource)):
            return []
        self._check_computable(n, why)
        return list(n.inputs)

    def _check_computable(self, n: Node, why: str) -> None:
        d = n.opdef
        runtime_only = d is None or d.stateful or d.random or d.source is not None
        if runtime_only or n.type in ("Placeholder", "VariableV2"):
            op = _first(n)
            name = op.name if op is not None else n.name
            raise errors.InvalidArgumentError(
                None,
                op,
                f"The value of {name}:0 is needed before the run starts ({why}), but it comes from "
                f"{n.type} op '{name}', whose value is only known while the graph runs. Compute "
                f"shape arguments from constants, sf.shape() or fed values." + where(n),
            )

    def _compute(self, n: Node, why: str) -> list[np.ndarray]:
        if n.type == FEED:
            value = self.feeds[n.tensor]
            self.ir.value_feeds[n.tensor] = value
            return [value]
        if n.type == "Const":
            return [np.asarray(n.attrs["value"])]
        d = n.opdef
        if d.resource:  # a handle: the op's name (runtime/resources.py)
            return [np.array(_first(n).name.encode(), dtype=object)]
        return self.computed(d, n.type, n.inputs, n.attrs, n.shapes, n.dtypes, n.origin, n.name, why)

    def computed(
        self, d: registry.OpDef, op_type: str, inputs, attrs, shapes, out_dtypes, origin, name: str, why: str
    ) -> list[np.ndarray]:
        """The outputs of an op that computes from its inputs (their values already known) or,
        shape-only, from their shapes; `origin` and `name` are what errors name."""
        try:
            if d.shape_only:  # (a shape that does not fit a 32-bit out_type fails here)
                out = d.ref([_shaped(v.shape, v.dtype) for v in inputs[:1]], attrs)
                outs = out if isinstance(out, (list, tuple)) else [out]
                return [np.asarray(o, dtype=dt.np) for o, dt in zip(outs, out_dtypes)]
            op = origin[0] if origin else None
            if self._limit is None:
                self._limit = sizes.allocation_limit(self.allocation_limit)
            for j, (s, dt) in enumerate(zip(shapes, out_dtypes)):  # the reference allocates its outputs
                nbytes = sizes.num_elements(s) * dt.np.itemsize
                if nbytes > self._limit:
                    sizes.check_allocation(nbytes, f"tensor {name}:{j}", op, self.allocation_limit)
            known = self.known
            return builder.run_reference(d, [known[x] for x in inputs], attrs)
        except (ArithmeticError, ValueError, IndexError, TypeError) as e:
            # a computation of shapes that fails (a division by zero, an index out of range)
            # fails as the op would when it runs: named, with its source line
            op = origin[0] if origin else None
            name = op.name if op is not None else name
            raise errors.InvalidArgumentError(
                None, op, f"{op_type} op '{name}': {e} (while computing {why})" + where(tuple(origin))
            ) from None


def check_no_value_feeds(fg, ir: IRGraph) -> None:
    """A function's plan cannot be specialized on its arguments' values (they change from call
    to call): fail, naming the argument, when its IR needed one while planning."""
    for t in ir.value_feeds:
        raise errors.UnimplementedError(
            None,
            t.op,
            f"function {fg.name} needs the value of its argument {t.name} while it is planned "
            f"(a shape or axis computed from it); inside cond and while_loop such values must come "
            f"from constants or shapes" + where(t.op),
        )


_SHAPED: dict = {}  # (shape, dtype) -> a read-only zero-stride array of it


def _shaped(shape, dt: dtypes.DType) -> np.ndarray:
    """An array of this shape and dtype that takes no memory (shape-only references read
    shapes, never values); read-only, so one per shape and dtype serves every reference."""
    key = (tuple(shape), dt)
    got = _SHAPED.get(key)
    if got is None:
        if len(_SHAPED) > 4096:
            _SHAPED.clear()
        got = np.broadcast_to(np.empty((), dt.np if not dtypes.holds_objects(dt) else object), key[0])
        _SHAPED[key] = got
    return got


def build_ir(
    graph, fetch_tensors, target_ops, feeds: dict, allocation_limit=None, rewrites=None, feed_specs=None
) -> tuple[IRGraph, Evaluator]:
    """The IR of the run that computes `fetch_tensors` and runs `target_ops` given `feeds`
    (user Tensor -> array), with every shape concrete; values computed while planning stay
    within `allocation_limit` bytes each. `rewrites` (passes.early.EarlyRewrites) sees each
    node as it is added and may replace it: its readers then read what replaced it.
    `feed_specs` (fed Tensor -> list_ops.ListSpec) tells what is known of fed variants (a
    function's TensorList arguments: a loop body reads elements of the shapes its caller
    knows)."""
    ir = IRGraph()
    ev = Evaluator(ir, feeds, allocation_limit)
    if rewrites is not None and rewrites.active:
        rewrites.start(ir, ev)
    else:
        rewrites = None
    fed = set(feeds)
    values: dict = {}  # user Tensor -> Value
    for t, v in feeds.items():
        n = ir.add(FEED, (), {"dtype": t.dtype}, [v.shape], [t.dtype], origin=[t.op], name=t.op.name)
        n.tensor = t
        ir.feeds[t] = n
        values[t] = n.output(0)
        if feed_specs and feed_specs.get(t) is not None:
            ev.specs[n.output(0)] = feed_specs[t]
    nodes: dict = {}  # user Operation -> Node
    for op in toposort_ops(prune_ops(fetch_tensors, target_ops, fed), fed):
        nodes[op] = _add_op(ir, ev, op, values, nodes, fed, rewrites)
    ir.fetches = [values[t] for t in fetch_tensors]
    ir.targets = [nodes[o] for o in target_ops]
    return ir, ev


def _add_op(ir: IRGraph, ev: Evaluator, op, values: dict, nodes: dict, fed: set, rewrites=None) -> Node:
    """The node of `op` (or, when `rewrites` replaced it, the node of its first output's
    replacement, which its control users then wait for); its outputs are entered in `values`."""
    d = registry.lookup(op.type)
    if d is None:
        raise errors.UnimplementedError(None, op, f"staticflow has no op {op.type!r}" + where(op))
    if d.source is not None:
        raise errors.InternalError(
            None,
            op,
            f"{op.type} op '{op.name}' is a source: Session.run evaluates it before planning and "
            "feeds its outputs" + where(op),
        )
    if op.type == "Placeholder" and op.outputs[0] not in fed:
        raise errors.InvalidArgumentError(
            None,
            op,
            f"You must feed a value for placeholder tensor '{op.name}' with dtype "
            f"{op.get_attr('dtype').name} and shape {op.get_attr('shape')}" + where(op),
        )
    inputs = [values[t] for t in op._inputs]
    control = [nodes[c] for c in op._control_inputs if c in nodes]
    out_dtypes = [t.dtype for t in op._outputs]
    if rewrites is not None and not control:
        # the rewrites decide before the node exists: one that folds (a shape-only op, before
        # even its shape function), simplifies away or duplicates another never gets edges
        got = rewrites.fold_op(op, d, inputs, None, out_dtypes) if d.shape_only else None
        if got is None:
            shapes = _infer(ev, op, d, inputs)
            if not d.shape_only:
                got = rewrites.fold_op(op, d, inputs, shapes, out_dtypes)
        if got is None:
            node = ir.detached(op.type, inputs, op._attrs, shapes, out_dtypes, (op,), op.name, op.device)
            got = rewrites.simplify_new(node)
            if got is None:
                ir.attach(node)
                got = node._values
        node = got[0].node if got else node
        for t in op._outputs:
            if t not in fed:
                values[t] = got[t._value_index]
        _keep_specs(ev, op, values)
        return node
    shapes = _infer(ev, op, d, inputs)
    node = ir.add(
        op.type,
        inputs,
        op._attrs,
        shapes,
        out_dtypes,
        origin=[op],
        name=op.name,
        control=control,
        device=op.device,
    )
    outs = node._values
    if rewrites is not None:
        got = rewrites.visit(node)
        if got is not None:
            outs = got
            node = got[0].node
    for t in op._outputs:
        if t not in fed:
            values[t] = outs[t._value_index]
    _keep_specs(ev, op, values)
    return node


def _keep_specs(ev: Evaluator, op, values: dict) -> None:
    """Record the specs the op's shape function gave its variant outputs."""
    if ev._new_specs:
        for j, spec in ev._new_specs.items():
            v = values.get(op._outputs[j])
            if v is not None and spec is not None:
                ev.specs[v] = spec
        ev._new_specs = {}


def _infer(ev: Evaluator, op, d: registry.OpDef, inputs: list[Value]) -> list[tuple]:
    """Concrete output shapes, from the op's shape function with the inputs' shapes and the
    values of its host inputs."""
    if op.type == "VariableV2":
        s = op.get_attr("shape")
        if not s.is_fully_defined():
            raise errors.InvalidArgumentError(
                None, op, f"variable {op.name} has shape {s}, which is not fully defined" + where(op)
            )
        return [tuple(s.as_list())]
    known = _known_shapes(ev, op, d, inputs)
    if known is not None:
        return known
    host = {i for i, a in enumerate(flat_args(d, op._attrs)) if a.host} if _has_host(d) else ()

    def value(i):
        if i in host:
            return ev.value(inputs[i], f"input {i} of {op.type} op '{op.name}'")
        node = inputs[i].node
        if node.type == "Const":
            return node.attrs["value"]
        if node.opdef is not None and node.opdef.shape_only:  # Shape, Size, Rank: shapes are concrete
            return ev.value(inputs[i], f"input {i} of {op.type} op '{op.name}'")
        return None

    ctx = registry.ShapeContext(
        d,
        op.name,
        [concrete(v.node.shapes[v.index]) for v in inputs],
        [v.node.dtypes[v.index] for v in inputs],
        op._attrs,
        value,
        planning=True,
        functions=ev.function_shapes,
    )
    if ev.specs:
        ctx.input_specs = [ev.specs.get(v) for v in inputs]
    try:
        shapes = d.shape_fn(ctx)
        # an op of lists alone that passes them through without knowing them (Identity, AddN
        # of gradients); not one that maps several to several (a loop's output j is its input j)
        passes_lists = len(op._outputs) == 1 and op._outputs[0].dtype is dtypes.variant
        if passes_lists and not ctx.output_specs and ctx.input_specs:
            if all(t.dtype is dtypes.variant for t in op._inputs):
                ctx.output_specs = {0: list_ops.joined_spec(ctx.input_specs)}
        ev._new_specs = ctx.output_specs
    except (ValueError, IndexError) as e:
        ins = ", ".join(str(TensorShape(v.shape)) for v in inputs)
        raise errors.InvalidArgumentError(
            None, op, f"{op.type} op '{op.name}': {e}. Input shapes: [{ins}]" + where(op)
        ) from None
    out = []
    for t, s in zip(op.outputs, shapes):
        if t in ev.feeds:  # fed: its shape is the fed value's (the op's own output goes unused)
            out.append(tuple(ev.feeds[t].shape))
            continue
        s = TensorShape(s) if not isinstance(s, TensorShape) else s
        dims = s.as_tuple()
        if dims is None or None in dims:
            raise errors.InternalError(None, op, f"shape of {t.name} is {s} after planning" + where(op))
        # (what check_shape checks, done in a line for the common shape, whatever the itemsize
        # (at most 16 bytes); the rest is checked)
        n = math.prod(dims)
        if len(dims) > sizes.MAX_RANK or not 0 < n <= _SAFE_ELEMENTS:
            itemsize = t.dtype.np.itemsize
            if len(dims) <= sizes.MAX_RANK and 0 < n * itemsize <= sizes.INT64_MAX:
                out.append(dims)
                continue
            try:
                sizes.check_shape(dims, itemsize, f"the shape of {t.name}")
            except ValueError as e:
                raise errors.InvalidArgumentError(
                    None, op, f"{op.type} op '{op.name}': {e}" + where(op)
                ) from None
        out.append(dims)
    return out


def _known_shapes(ev: Evaluator, op, d: registry.OpDef, inputs: list[Value]) -> list[tuple] | None:
    """The outputs' shapes as the graph knows them, when the shape function would only repeat
    what it worked out while the graph was built: every output's shape fully known and none
    fed, every input's concrete shape the one the graph knew and every input whose value a
    shape may depend on a constant of the graph. (Those shapes were checked for size then.)
    None otherwise."""
    if _op_flags(d)[1] or any(t.dtype is dtypes.variant for t in (*op._inputs, *op._outputs)):
        return None
    out = []
    for t in op._outputs:
        dims = t._shape._dims
        if dims is None or None in dims or t in ev.feeds:
            return None
        out.append(dims)
    for v, t in zip(inputs, op._inputs):
        if v.node.shapes[v.index] != t._shape._dims:
            return None
    if _has_host(d):
        args = flat_args(d, op._attrs)
        if any(a.host and t.op.type != "Const" for a, t in zip(args, op._inputs)):
            return None
    return out


_SAFE_ELEMENTS = sizes.INT64_MAX >> 4  # elements of any dtype whose bytes fit in an int64

# OpDef name -> (the OpDef, (whether any of its inputs is a host input, whether its shape
# function must always run))
_FLAGS: dict = {}


def _op_flags(d: registry.OpDef) -> tuple[bool, bool]:
    got = _FLAGS.get(d.name)
    if got is None or got[0] is not d:
        got = _FLAGS[d.name] = (d, (any(a.host for a in d.inputs), _infers_beyond_shapes(d)))
    return got[1]


def _has_host(d: registry.OpDef) -> bool:
    return _op_flags(d)[0]


def _infers_beyond_shapes(d: registry.OpDef) -> bool:
    """Whether the op's shape function must run even when the graph knew its shapes: it
    records what a list holds (variant inputs or outputs: the specs its readers plan with)
    or plans functions (a branch's or body's shapes for the run's inputs)."""
    args = (*d.inputs, *d.outputs)
    return any(a.kind == "func" for a in d.attrs) or any(a.dtype is dtypes.variant for a in args)


__all__ = ["Evaluator", "build_ir", "flat_args", "where", "dtypes"]
