"""Functional control flow: `If`/`StatelessIf` and `cond`, `case`, `switch_case`.

TensorFlow's control flow v2 form: a cond is one op that owns its branches as
function graphs (framework/func_graph.py), called with the predicate and the
tensors the branches capture; only the taken branch runs. The op's output shapes
must be concrete when a plan is made: the compiler infers each branch's shapes for
the run's input shapes (`ShapeContext.functions`); where they differ the If's outputs are
*dynamic*: the plan ends before the op, which runs from Python (`run_dynamic`), and the rest
of the run is planned for the shapes it gave. Lowering plans each branch once per input-shape
signature through the runtime's hook (`LowerContext.functions`) and runs the taken
one from a host step; its nested plan has its own arena.

The gradient of an If is an If over gradient functions: each recomputes its forward
branch from the If's inputs, then differentiates it (TensorFlow instead makes the
forward branch's intermediates extra outputs). The gradients function itself is
above this layer: `staticflow.autodiff` installs it (`install_gradients`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from staticflow.framework import dtypes, errors, nest
from staticflow.framework import ops as fops
from staticflow.framework.func_graph import FuncGraph, copy_body, copy_ops, unique_function_name
from staticflow.framework.tensor_shape import TensorShape
from staticflow.ops import builder, list_ops, registry
from staticflow.ops.registry import Arg, Attr, Case

_gradients: Callable | None = None  # autodiff.gradients, installed by staticflow.autodiff


def install_gradients(fn: Callable) -> None:
    """The gradients function (staticflow.autodiff.gradients) the If gradient builds with."""
    global _gradients
    _gradients = fn


# ---------------------------------------------------------------------------
# running a function graph by its NumPy references (the ops' `ref`: the test oracle)
# ---------------------------------------------------------------------------
def run_function_reference(fg: FuncGraph, values: list) -> list[np.ndarray]:
    """fg's outputs for argument `values`, computed op by op with the NumPy references."""
    from staticflow.framework.graph_walk import prune_ops, toposort_ops

    known: dict = {t: np.asarray(v) for t, v in zip(fg.inputs, values)}
    fed = set(known)
    for op in toposort_ops(prune_ops(fg.outputs, fg.control_outputs, fed), fed):
        d = registry.get(op.type)
        if op.type == "VariableV2" or d.stateful or d.source is not None:
            raise ValueError(
                f"function {fg.name}: {op.type} op '{op.name}' has no reference outside a session"
            )
        if op.type == "Const":
            outs = [np.asarray(op.get_attr("value"))]
        else:
            outs = builder.run_reference(d, [known[t] for t in op.inputs], op._attrs)
        for t, v in zip(op.outputs, outs):
            known[t] = v
    return [known[t] for t in fg.outputs]


# ---------------------------------------------------------------------------
# the If ops
# ---------------------------------------------------------------------------
def _truth(v) -> bool:
    v = np.asarray(v)
    if v.size != 1:
        raise ValueError(f"the predicate must be a scalar, got shape {list(v.shape)}")
    return bool(v.reshape(-1)[0])


def _if_shapes(ctx: registry.ShapeContext) -> list:
    then_fg, else_fg = ctx.attrs["then_branch"], ctx.attrs["else_branch"]
    n = len(ctx.attrs["Tout"])
    for fg, which in ((then_fg, "then_branch"), (else_fg, "else_branch")):
        if len(fg.outputs) != n:
            raise ValueError(f"{which} {fg.name} returns {len(fg.outputs)} values, Tout lists {n}")
        if len(fg.inputs) != len(ctx.input_shapes) - 1:
            raise ValueError(
                f"{which} {fg.name} takes {len(fg.inputs)} arguments, the op passes "
                f"{len(ctx.input_shapes) - 1}"
            )
    if ctx.planning and ctx.functions is not None:
        ins = [tuple(s.as_list()) for s in ctx.input_shapes[1:]]
        specs = list(ctx.input_specs[1:])
        known = ctx.value(0)
        if known is not None and np.size(known) == 1:  # a constant predicate: its branch only
            fg = then_fg if _truth(known) else else_fg
            return [TensorShape(list(s)) for s in ctx.functions(fg, ins, specs)]
        got, failed = [], None
        for fg in (then_fg, else_fg):
            try:
                got.append(ctx.functions(fg, ins, specs))
            except (errors.OpError, ValueError):
                # a branch that cannot take these inputs, where its arguments' shapes were not
                # all known when it was built (the gradient of a cond whose branches give
                # different shapes gets the taken branch's): only the taken one is planned, when
                # it runs; with all shapes known it is the user's error now
                if failed is not None or all(t.shape.is_fully_defined() for t in fg.inputs):
                    raise
                failed = fg
                got.append(None)
        a, b = got
        if failed is not None or any(tuple(x) != tuple(y) for x, y in zip(a, b)):
            # the branches give different shapes: the cond's are known once it has run
            ctx.dynamic = True
            return _if_graph_shapes(ctx, then_fg, else_fg, n)
        return [TensorShape(list(s)) for s in a]
    return _if_graph_shapes(ctx, then_fg, else_fg, n)


def _if_graph_shapes(ctx, then_fg: FuncGraph, else_fg: FuncGraph, n: int) -> list:
    """The If's output shapes as its branches' graphs tell them (unknown where they differ)."""
    declared = ctx.attrs.get("output_shapes") or []
    out = []
    for j in range(n):
        s = then_fg.outputs[j].shape.most_specific_compatible_shape(else_fg.outputs[j].shape)
        if j < len(declared):
            try:
                s = s.merge_with(TensorShape(declared[j]))
            except ValueError:
                s = TensorShape(declared[j])
        out.append(s)
    return out


def _if_ref(inputs, attrs):
    fg = attrs["then_branch"] if _truth(inputs[0]) else attrs["else_branch"]
    return run_function_reference(fg, list(inputs[1:]))


def _if_lower(ctx) -> None:
    plan_function = getattr(ctx, "functions", None)
    if plan_function is None:
        raise ValueError("If: planning a function's nested plan needs the runtime (no function planner)")
    ins = ctx.in_shapes[1:]
    specs = list(ctx.in_specs[1:])
    runners = [
        plan_function(ctx.attrs["then_branch"], ins, specs),
        plan_function(ctx.attrs["else_branch"], ins, specs),
    ]
    # why a branch cannot run: its shapes are not the op's (they came from the other branch,
    # the one a constant predicate picks)
    wrong: list = [None, None]
    for k, r in enumerate(runners):
        for j, (s, want) in enumerate(zip(r.out_shapes, ctx.out_shapes)):
            if tuple(s) != tuple(want):
                wrong[k] = f"branch {r.name} gives output {j} shape {list(s)}, the cond's is {list(want)}"
    then_run, else_run = runners

    def run(op, in_arrays, out_arrays):
        k = 0 if _truth(in_arrays[0]) else 1
        if wrong[k] is not None:
            raise ValueError(wrong[k])
        (then_run if k == 0 else else_run).run(in_arrays[1:], out_arrays)

    ctx.host(
        run, [ctx.inp(i) for i in range(len(ctx.in_shapes))], [ctx.out(j) for j in range(len(ctx.out_shapes))]
    )


def _if_cases(rng):
    from staticflow.ops import math_ops

    def branch(fn):
        fg = FuncGraph(unique_function_name("case_branch"))
        with fg.as_default():
            x = fg.add_input(dtypes.float64, [3], "x")
            w = fg.add_input(dtypes.float64, [3], "w")
            fg.outputs = [fn(x, w)]
        return fg

    then_fg = branch(lambda x, w: math_ops.sin(x) * w)
    else_fg = branch(lambda x, w: x * x - w)
    attrs = {"then_branch": then_fg, "else_branch": else_fg, "Tout": [dtypes.float64]}
    x, w = rng.standard_normal(3), rng.standard_normal(3)
    return [
        Case((np.bool_(True), [x, w]), attrs),
        Case((np.bool_(False), [x, w]), attrs),
        Case((), scenario=_if_scenario, grad=False),
    ]


def _if_scenario(sf) -> None:
    """The registry's check of If/StatelessIf: cond's two branches against NumPy."""
    x = np.array([1.5, -2.0, 3.0], np.float32)
    g = sf.Graph()
    with g.as_default():
        p = sf.placeholder(sf.bool, [])
        xt = sf.constant(x)
        out = sf.cond(p, lambda: xt * 2.0, lambda: xt - 1.0)
        with sf.Session() as sess:
            np.testing.assert_allclose(sess.run(out, {p: True}), x * 2.0, rtol=1e-6)
            np.testing.assert_allclose(sess.run(out, {p: False}), x - 1.0, rtol=1e-6)


for _name, _stateful in (("If", True), ("StatelessIf", False)):
    registry.op(
        name=_name,
        inputs=[Arg("cond", type_attr="Tcond", differentiable=False), Arg("input", type_list_attr="Tin")],
        outputs=[Arg("output", type_list_attr="Tout")],
        attrs=[
            Attr("Tcond", "type"),
            Attr("Tin", "list(type)"),
            Attr("Tout", "list(type)"),
            Attr("then_branch", "func"),
            Attr("else_branch", "func"),
            Attr("output_shapes", "list(shape)", default=[]),
        ],
        shape_fn=_if_shapes,
        ref=_if_ref,
        lower=_if_lower,
        cases=_if_cases,
        stateful=_stateful,
        foldable=False,
        strings_lowered=True,  # its lowering runs nested plans, lists and strings in them too
        doc="Runs then_branch or else_branch (functions) on the inputs, as the predicate says.",
    )


# ---------------------------------------------------------------------------
# building functions
# ---------------------------------------------------------------------------
def _effects(fg: FuncGraph) -> list[fops.Operation]:
    """The ops of fg that change state (writes, stateful ops): run though no output needs them."""
    out = []
    for op in fg.get_operations():
        d = op.op_def
        if op.type in ("VariableV2", "Placeholder") or d is None:
            continue
        if d.stateful or any(a.ref for a in d.inputs):
            out.append(op)
    return out


def is_stateful(fg: FuncGraph) -> bool:
    """Whether fg (or a function it calls) has an op with state: a write, a stateful or random op."""
    for op in fg.get_operations():
        d = op.op_def
        if op.type in ("VariableV2", "Placeholder") or d is None:
            continue
        if d.stateful or d.random or any(a.ref for a in d.inputs):
            return True
        for v in op._attrs.values():
            if isinstance(v, FuncGraph) and is_stateful(v):
                return True
    return False


def build_function(fn: Callable, name: str, args: list | None = None, outer: fops.Graph | None = None):
    """Trace `fn(*arg_tensors)` into a new FuncGraph; returns (the graph, fn's structured
    result). `args` are (dtype, shape) pairs of its arguments."""
    outer = outer or fops.get_default_graph()
    fg = FuncGraph(unique_function_name(name), outer)
    with fg.as_default():
        phs = [fg.add_input(dt, shape, name=f"arg{i}") for i, (dt, shape) in enumerate(args or [])]
        result = fn(*phs)
    fg.control_outputs = _effects(fg)
    return fg, result


def _flatten_result(fg: FuncGraph, result, what: str) -> tuple[list, list]:
    """(leaves, tensors): the leaves of a branch's result, and its outputs (tensors made in fg)."""
    leaves = nest.flatten(result)
    tensors = []
    with fg.as_default():
        for i, x in enumerate(leaves):
            if x is None or isinstance(x, fops.Operation):
                continue
            try:
                t = fops.convert_to_tensor(x)
            except (TypeError, ValueError) as e:
                raise TypeError(f"{what}: output {i} ({x!r}) is not a tensor: {e}") from None
            if t.graph is not fg:
                t = fg.capture(t)
            tensors.append(t)
    return leaves, tensors


def _unify_inputs(fgs: list[FuncGraph]) -> list[fops.Tensor]:
    """Give every function the same arguments: the union of their captures, in order (a
    function that does not use one gets an argument it ignores). Returns the outer tensors."""
    outer: list[fops.Tensor] = []
    for fg in fgs:
        for o, _ in fg.captures:
            if o not in outer:
                outer.append(o)
    for fg in fgs:
        mine = dict(fg.captures)
        fixed = list(fg.inputs[: len(fg.inputs) - len(fg.captures)])
        new_inputs = list(fixed)
        for o in outer:
            inner = mine.get(o)
            if inner is None:
                inner = fg.add_input(o.dtype, o.shape, name="unused_" + o.op.name.replace("/", "_"))
                fg.inputs.pop()
                fg.captures.append((o, inner))
            new_inputs.append(inner)
        fg.inputs = new_inputs
        fg.captures = [(o, dict(fg.captures)[o]) for o in outer]
    return outer


def _structure_check(a, b, where: str = "output") -> None:
    """Branch results of one structure: same nesting, None/op leaves in the same places."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            raise ValueError(f"cond: the branches return dicts of different keys ({sorted(a)}, {sorted(b)})")
        for k in a:
            _structure_check(a[k], b[k], f"{where}[{k!r}]")
        return
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and type(a) is type(b):
        if len(a) != len(b):
            raise ValueError(f"cond: the branches return {len(a)} and {len(b)} values ({where})")
        for i, (x, y) in enumerate(zip(a, b)):
            _structure_check(x, y, f"{where}[{i}]")
        return
    if (a is None) != (b is None) or nest.is_nested(a) or nest.is_nested(b):
        raise ValueError(f"cond: the branches return different structures ({where}): {a!r} and {b!r}")
    if isinstance(a, fops.Operation) != isinstance(b, fops.Operation):
        raise ValueError(f"cond: the branches return different structures ({where}): {a!r} and {b!r}")


def cond(pred, true_fn: Callable, false_fn: Callable, name=None):
    """true_fn() if pred else false_fn(), as one If op of which only the taken branch runs.

    `pred` is a boolean scalar tensor (or a Python bool: the branch is then called
    directly, as it is when the predicate's value is known while building). The branches
    return the same structure (a tensor, or a list/tuple/dict of them, Nones and
    operations allowed); each tensor pair has one dtype.
    """
    from staticflow.ops import smart_cond

    if not callable(true_fn):
        raise TypeError(f"`true_fn` must be callable, got {true_fn!r}")
    if not callable(false_fn):
        raise TypeError(f"`false_fn` must be callable, got {false_fn!r}")
    if isinstance(pred, (bool, np.bool_)):
        return true_fn() if pred else false_fn()
    with fops.name_scope(name, "cond", [pred]) as scope:
        pred = fops.convert_to_tensor(pred)
        if pred.dtype != dtypes.bool_:
            raise TypeError(f"cond: pred must be a bool tensor, got {pred.dtype.name} ({pred.name})")
        if pred.shape.ndims not in (None, 0):
            raise ValueError(f"cond: pred must be a scalar, got shape {pred.shape} ({pred.name})")
        known = smart_cond.smart_constant_value(pred)
        if known is not None:  # a predicate known while building: its branch, as smart_cond
            return true_fn() if known else false_fn()
        if pred.shape.ndims is None:  # a fed value that is not a scalar fails when the graph runs
            from staticflow.ops import array_ops

            pred = array_ops.reshape(pred, [], name="pred")
        base = scope.rstrip("/").replace("/", "_") or "cond"
        g = fops.get_default_graph()
        then_fg, a = build_function(true_fn, f"{base}_true", outer=g)
        else_fg, b = build_function(false_fn, f"{base}_false", outer=g)
        _structure_check(a, b)
        then_leaves, then_out = _flatten_result(then_fg, a, "cond true_fn")
        else_leaves, else_out = _flatten_result(else_fg, b, "cond false_fn")
        for j, (x, y) in enumerate(zip(then_out, else_out)):
            if x.dtype != y.dtype:
                raise TypeError(
                    f"cond: the branches return {x.dtype.name} and {y.dtype.name} (output {j}: "
                    f"{x.name} and {y.name})"
                )
        then_fg.outputs, else_fg.outputs = then_out, else_out
        then_fg.structured_outputs, else_fg.structured_outputs = a, b
        outer = _unify_inputs([then_fg, else_fg])
        shapes = [x.shape.most_specific_compatible_shape(y.shape) for x, y in zip(then_out, else_out)]
        op_type = "If" if is_stateful(then_fg) or is_stateful(else_fg) else "StatelessIf"
        op = builder.apply_op(
            op_type,
            [pred, outer],
            {
                "Tout": [t.dtype for t in then_out],
                "then_branch": then_fg,
                "else_branch": else_fg,
                "output_shapes": shapes,
            },
            name=scope,
        )
        outs = iter([builder.apply_op("Identity", [t], None, name="Identity").outputs[0] for t in op.outputs])
        flat = []
        for x in then_leaves:
            if x is None:
                flat.append(None)
            elif isinstance(x, fops.Operation):
                flat.append(op)
            else:
                flat.append(next(outs))
        return nest.pack_sequence_as(a, flat)


def case(pred_fn_pairs, default=None, exclusive: bool = False, strict: bool = False, name: str = "case"):
    """TF1's case: the fn of the first pair whose predicate holds, else `default` (the last
    pair's fn when default is None): a chain of conds, each in the previous one's false
    branch. `exclusive` checks at run time that at most one predicate holds."""
    if isinstance(pred_fn_pairs, dict):
        pairs = list(pred_fn_pairs.items())
    else:
        pairs = list(pred_fn_pairs)
    for p in pairs:
        if not isinstance(p, tuple) or len(p) != 2 or not callable(p[1]):
            raise TypeError(f"case: each pred_fn_pair must be a (predicate, callable) pair, got {p!r}")
    if not pairs and default is None:
        raise ValueError("case: no predicates and no default")
    if default is None:
        pairs, default = pairs[:-1], pairs[-1][1]
    if not callable(default):
        raise TypeError(f"case: default must be callable, got {default!r}")
    with fops.name_scope(name, "case") as scope:
        if exclusive and len(pairs) > 1:
            from staticflow.ops import confusion_matrix, math_ops

            count = math_ops.add_n([math_ops.cast(p, dtypes.int32) for p, _ in pairs])
            check = confusion_matrix.assert_all(
                math_ops.less_equal(count, 1),
                "case: more than one predicate is true (exclusive=True)",
                name="exclusive",
            )
            pairs = [(_after(p, check), f) for p, f in pairs]
        return _chain(pairs, default, scope)


def _after(t, op):
    from staticflow.ops import array_ops

    with fops.control_dependencies([op]):
        return array_ops.identity(t)


def _chain(pairs, default, scope):
    if not pairs:
        return default()
    (pred, fn), rest = pairs[0], pairs[1:]
    return cond(pred, fn, lambda: _chain(rest, default, scope), name="If")


def switch_case(branch_index, branch_fns, default=None, name: str = "switch_case"):
    """branch_fns[branch_index](), `default` (the last branch when None) for an index out of
    range. A chain of If ops on `branch_index == i` (TensorFlow's v2 uses one Case op: the
    chain runs the same one branch, with one predicate test per branch before it)."""
    if isinstance(branch_fns, dict):
        items = sorted(branch_fns.items())
        for k, _ in items:
            if not isinstance(k, int):
                raise TypeError(f"switch_case: branch_fns keys must be ints, got {k!r}")
    else:
        items = list(enumerate(branch_fns))
    if not items:
        raise ValueError("switch_case: branch_fns must not be empty")
    for _, f in items:
        if not callable(f):
            raise TypeError(f"switch_case: each branch must be callable, got {f!r}")
    if default is None:
        default = items[-1][1]
    with fops.name_scope(name, "switch_case", [branch_index]) as scope:
        from staticflow.ops import math_ops

        idx = fops.convert_to_tensor(branch_index)
        if idx.dtype not in (dtypes.int32, dtypes.int64):
            raise TypeError(
                f"switch_case: branch_index must be int32 or int64, got {idx.dtype.name} ({idx.name})"
            )
        if idx.shape.ndims not in (None, 0):
            raise ValueError(f"switch_case: branch_index must be a scalar, got shape {idx.shape}")
        pairs = [(math_ops.equal(idx, np.array(k, idx.dtype.np)), f) for k, f in items]
        return _chain(pairs, default, scope)


# ---------------------------------------------------------------------------
# gradient
# ---------------------------------------------------------------------------
def _grad_function(
    fg: FuncGraph, grad_specs, outer: fops.Graph, diff: list[int], list_dtypes: dict | None = None
) -> FuncGraph:
    """A function of (output gradients..., fg's arguments...) giving the gradients of fg's
    arguments listed in `diff`: fg's body recomputed, then differentiated. `list_dtypes`
    gives the element dtype of the TensorList arguments in `diff` (for a zero gradient)."""
    from staticflow.framework.func_graph import copy_body
    from staticflow.ops import array_ops

    gfg = FuncGraph(unique_function_name(fg.name + "_grad"), outer)
    with gfg.as_default():
        gys = [gfg.add_input(dt, shape, name=f"grad_{j}") for j, (dt, shape) in enumerate(grad_specs)]
        xs = [gfg.add_input(t.dtype, t.shape, name=f"x_{i}") for i, t in enumerate(fg.inputs)]
        ys, _ = copy_body(fg, xs)
        pairs = [(y, gy) for y, gy in zip(ys, gys) if y.dtype.is_floating]
        want = [xs[i] for i in diff]
        if pairs:
            got = _gradients([y for y, _ in pairs], want, grad_ys=[gy for _, gy in pairs])
        else:
            got = [None] * len(want)
        list_dtypes = list_dtypes or {}

        def zero(x, i):
            if x.dtype is dtypes.variant:
                return _zeros_like_list(x, list_dtypes[i])
            return array_ops.zeros_like(x)

        gfg.outputs = [g if g is not None else zero(x, i) for g, x, i in zip(got, want, diff)]
        gfg.outputs = [array_ops.identity(t) if t.op.type == "Placeholder" else t for t in gfg.outputs]
    gfg.control_outputs = []
    return gfg


def _read_dtype(fgs: list, i: int):
    """The element dtype the branches read their list argument i with (None if none reads it
    with one): the dtype of a list passed in as a function's argument, which the op that made
    it does not tell there."""
    for fg in fgs:
        for c in fg.inputs[i].consumers():
            if "element_dtype" in c._attrs:
                return c._attrs["element_dtype"]
    return None


def _if_grad(op, *grads):
    from staticflow.ops import array_ops

    if _gradients is None:
        raise RuntimeError("the gradient of a cond needs staticflow.autodiff (import staticflow)")
    then_fg, else_fg = op.get_attr("then_branch"), op.get_attr("else_branch")
    inputs = list(op.inputs[1:])
    # TensorLists (TensorArrays a branch reads) of floats are differentiated too: the
    # gradient of a read is a list
    list_dtypes = {
        i: dt
        for i, t in enumerate(inputs)
        if t.dtype is dtypes.variant
        and (dt := _list_dtype(t) or _read_dtype([then_fg, else_fg], i)) is not None
        and dt.is_floating
    }
    diff = [i for i, t in enumerate(inputs) if t.dtype.is_floating or i in list_dtypes]
    if not diff:
        return [None] * len(op.inputs)
    grads = [g if g is not None else array_ops.zeros_like(t) for g, t in zip(grads, op.outputs)]
    specs = [(t.dtype, t.shape) for t in op.outputs]
    g = op.graph
    gthen = _grad_function(then_fg, specs, g, diff, list_dtypes)
    gelse = _grad_function(else_fg, specs, g, diff, list_dtypes)
    n_fixed = len(grads) + len(inputs)
    for gfg in (gthen, gelse):  # the arguments before captures: (grads, inputs)
        assert len(gfg.inputs) == n_fixed + len(gfg.captures)
    outer = _unify_inputs([gthen, gelse])
    op_type = "If" if is_stateful(gthen) or is_stateful(gelse) else "StatelessIf"
    gop = builder.apply_op(
        op_type,
        [op.inputs[0], [*grads, *inputs, *outer]],
        {
            "Tout": [inputs[i].dtype for i in diff],
            "then_branch": gthen,
            "else_branch": gelse,
            "output_shapes": [inputs[i].shape for i in diff],
        },
        name=op_type,
    )
    out = [None] * len(op.inputs)
    for k, i in enumerate(diff):
        out[1 + i] = gop.outputs[k]
    return out


registry.register_gradient("If")(_if_grad)
registry.register_gradient("StatelessIf")(_if_grad)


# ---------------------------------------------------------------------------
# While
# ---------------------------------------------------------------------------
def _while_shapes(ctx: registry.ShapeContext) -> list:
    cond_fg, body_fg = ctx.attrs["cond"], ctx.attrs["body"]
    n = len(ctx.attrs["T"])
    if len(body_fg.outputs) != n or len(body_fg.inputs) != n or len(cond_fg.inputs) != n:
        raise ValueError(
            f"body {body_fg.name} takes {len(body_fg.inputs)} and returns {len(body_fg.outputs)} values, "
            f"cond {cond_fg.name} takes {len(cond_fg.inputs)}; the loop has {n} loop variables"
        )
    if len(cond_fg.outputs) != 1:
        raise ValueError(f"cond {cond_fg.name} returns {len(cond_fg.outputs)} values, not one predicate")
    if ctx.planning and ctx.functions is not None:
        ins = [tuple(s.as_list()) for s in ctx.input_shapes]
        entry = [sp if isinstance(sp, list_ops.ListSpec) else None for sp in ctx.input_specs[:n]]
        entry += [None] * (n - len(entry))
        try:
            first = ctx.functions(body_fg, ins, entry)
        except (errors.OpError, ValueError):
            # a body that cannot take the entry shapes, where its arguments' shapes were not all
            # known when it was built (the gradient's backward loop over lists of elements
            # of changing shapes, whose entry may be empty): planned when it runs, iteration by
            # iteration, if it runs at all; with all shapes known it is the user's error now
            if all(t.shape.is_fully_defined() for t in body_fg.inputs):
                raise
            ctx.dynamic = True
            return _while_graph_shapes(ctx, body_fg, n)
        _check_invariants(ctx.name, body_fg, ctx.attrs.get("output_shapes") or [], ins, first)
        if any(tuple(a) != tuple(b) for a, b in zip(ins, first)):
            # a loop variable changes shape (as its shape invariant allows): the loop's
            # outputs' shapes are known once it has run
            ctx.dynamic = True
            return _while_graph_shapes(ctx, body_fg, n)
        specs = _loop_specs(ctx, body_fg, ins)
        (c,) = ctx.functions(cond_fg, ins, specs)
        if tuple(c) != ():
            raise ValueError(f"the cond of while loop '{ctx.name}' gives shape {list(c)}, not a scalar")
        outs = ctx.functions(body_fg, ins, specs)
        if any(tuple(a) != tuple(b) for a, b in zip(ins, outs)):
            # shapes that change once what the lists hold is joined over the iterations: each
            # iteration is planned for what its lists hold when it runs
            _check_invariants(ctx.name, body_fg, ctx.attrs.get("output_shapes") or [], ins, outs)
            ctx.dynamic = True
            return _while_graph_shapes(ctx, body_fg, n)
        return [TensorShape(list(s)) for s in ins]
    return _while_graph_shapes(ctx, body_fg, n)


def _while_graph_shapes(ctx, body_fg: FuncGraph, n: int) -> list:
    """The While's output shapes as the graph tells them: its loop variables' invariants."""
    declared = ctx.attrs.get("output_shapes") or []
    out = []
    for j in range(n):
        s = ctx.input_shapes[j].most_specific_compatible_shape(body_fg.outputs[j].shape)
        if j < len(declared):
            s = TensorShape(declared[j])
        out.append(s)
    return out


def _shape_str(s) -> str:
    """A shape as TensorFlow 1 prints it: (1, 2), (?, 2), (3,)."""
    return str(TensorShape(list(s)) if not isinstance(s, TensorShape) else s)


def _check_invariants(name: str, body_fg: FuncGraph, declared: list, ins, outs) -> None:
    """TF1's check of a loop variable against its shape invariant after an iteration: the
    body's result must have a shape the invariant allows (the same rank, the same sizes where
    it gives them); a ValueError with TensorFlow's message otherwise."""
    for j, (a, b) in enumerate(zip(ins, outs)):
        if j >= len(declared) or tuple(a) == tuple(b):
            continue
        inv = TensorShape(declared[j])
        if not inv.is_compatible_with(TensorShape(list(b))):
            what = body_fg.inputs[j].name if j < len(body_fg.inputs) else f"loop variable {j}"
            raise ValueError(
                f"Input tensor '{what}' of while loop '{name}' enters the loop with shape "
                f"{_shape_str(a)}, but has shape {_shape_str(b)} after one iteration, which its shape "
                f"invariant {_shape_str(inv)} does not allow. To allow the shape to vary across "
                f"iterations, use the `shape_invariants` argument of tf.while_loop to specify a "
                f"less-specific shape."
            )


def _join_loop_spec(a, b):
    """What is known of a list that is `a` before an iteration and `b` after it."""
    from staticflow.ops import list_ops

    if a is None or b is None:
        return None
    if a == b:
        return a
    length = a.length if a.length == b.length else None
    items = a.items if a.items == b.items else None
    unwritten = a.items is not None and all(x is None for x in a.items)
    item_shape = b.item_shape if unwritten or a.item_shape == b.item_shape else None
    return list_ops.ListSpec(a.element_shape, length, items, item_shape)


def _loop_specs(ctx: registry.ShapeContext, body_fg: FuncGraph, ins: list) -> list:
    """What is known of the loop's list variables at every iteration: the specs they enter
    with, joined with what the body makes of them until that no longer changes (a body that
    passes a list through keeps its spec; one that writes slots keeps the length and the
    shape written). They are the op's outputs' specs, and the specs the cond's and body's
    plans are made with."""
    from staticflow.ops import list_ops

    specs = [sp if isinstance(sp, list_ops.ListSpec) else None for sp in ctx.input_specs[: len(ins)]]
    specs += [None] * (len(ins) - len(specs))
    if not any(specs):
        return specs
    for _ in range(8):
        _, outs = ctx.functions(body_fg, ins, specs, with_specs=True)
        new = [_join_loop_spec(a, b) for a, b in zip(specs, outs)]
        if new == specs:
            break
        specs = new
    else:
        specs = [None if sp is None else list_ops.ListSpec(sp.element_shape) for sp in specs]
    ctx.output_specs = {j: sp for j, sp in enumerate(specs) if sp is not None}
    return specs


def _while_ref(inputs, attrs):
    cond_fg, body_fg = attrs["cond"], attrs["body"]
    vals = [np.array(v) for v in inputs]
    while _truth(run_function_reference(cond_fg, vals)[0]):
        vals = [np.array(v) for v in run_function_reference(body_fg, vals)]
    return vals


def _while_lower(ctx) -> None:
    plan_function = getattr(ctx, "functions", None)
    if plan_function is None:
        raise ValueError("While: planning a function's nested plan needs the runtime (no function planner)")
    ins = [tuple(s) for s in ctx.in_shapes]
    # the loop's outputs' specs are what is known of its list variables at every iteration
    specs = list(ctx.out_specs)
    loop = plan_function.loop(ctx.attrs["cond"], ctx.attrs["body"], ins, specs)

    def run(op, in_arrays, out_arrays):
        # the loop variables live in the outputs; the body's plan copies them into its own
        # feed buffers before it writes its results back over them: no allocation per step
        for o, i in zip(out_arrays, in_arrays):
            np.copyto(o, i)
        loop.run(out_arrays)

    n = len(ctx.in_shapes)
    ctx.host(run, [ctx.inp(i) for i in range(n)], [ctx.out(j) for j in range(n)])


def _while_cases(rng):
    """Loops in TensorFlow's layout of While's inputs (the iteration counter from 0, the
    iteration limit, then the loop variables), which TensorFlow's gradient of a While reads:
    it runs as many backward iterations as the counter's final value."""
    from staticflow.ops import math_ops

    def function(fn, name):
        fg = FuncGraph(unique_function_name(name))
        with fg.as_default():
            i = fg.add_input(dtypes.int32, [], "i")
            m = fg.add_input(dtypes.int32, [], "maximum_iterations")
            x = fg.add_input(dtypes.float64, [3], "x")
            w = fg.add_input(dtypes.float64, [3], "w")
            fg.outputs = fn(i, m, x, w)
        return fg

    cond_fg = function(lambda i, m, x, w: [math_ops.less(i, m)], "case_cond")
    body_fg = function(lambda i, m, x, w: [math_ops.add(i, 1), m, math_ops.tanh(x * w) + x, w], "case_body")
    attrs = {"cond": cond_fg, "body": body_fg}
    x, w = rng.standard_normal(3), rng.standard_normal(3)
    return [
        Case(([np.int32(0), np.int32(3), x, w],), attrs),
        Case(([np.int32(0), np.int32(1), x, w],), attrs),
        Case((), scenario=_while_scenario, grad=False),
    ]


def _while_scenario(sf) -> None:
    """The registry's check of While/StatelessWhile: a loop with a fed count against NumPy."""
    g = sf.Graph()
    with g.as_default():
        n = sf.placeholder(sf.int32, [])
        x0 = np.array([1.0, 2.0], np.float32)
        _, x = sf.while_loop(lambda i, x: i < n, lambda i, x: (i + 1, x * 1.5 + 1.0), [0, sf.constant(x0)])
        with sf.Session() as sess:
            for k in (0, 1, 5):
                want = x0.copy()
                for _ in range(k):
                    want = want * np.float32(1.5) + np.float32(1.0)
                np.testing.assert_allclose(sess.run(x, {n: k}), want, rtol=1e-6)


for _name, _stateful in (("While", True), ("StatelessWhile", False)):
    registry.op(
        name=_name,
        inputs=[Arg("input", type_list_attr="T")],
        outputs=[Arg("output", type_list_attr="T")],
        attrs=[
            Attr("T", "list(type)"),
            Attr("cond", "func"),
            Attr("body", "func"),
            Attr("output_shapes", "list(shape)", default=[]),
            Attr("parallel_iterations", "int", default=10),
        ],
        shape_fn=_while_shapes,
        ref=_while_ref,
        lower=_while_lower,
        cases=_while_cases,
        stateful=_stateful,
        foldable=False,
        strings_lowered=True,  # its lowering runs nested plans, lists and strings in them too
        doc="Runs body (a function) on the loop variables while cond (a function) holds.",
    )


_LIST_WRITES = ("TensorListSetItem", "TensorListPushBack", "TensorListScatterIntoExistingList")


def _list_dtype(t: fops.Tensor):
    """The element dtype of the TensorList `t` holds, from the op that made it (through
    Identity, loops and function arguments), or None when that cannot be told."""
    seen = 0
    while seen < 1000:
        seen += 1
        op = t.op
        if "element_dtype" in op._attrs:
            return op._attrs["element_dtype"]
        if op.type in ("Identity",) or op.type in ("While", "StatelessWhile"):
            t = op.inputs[0 if op.type == "Identity" else t.value_index]
            continue
        if op.type == "Placeholder" and isinstance(t.graph, FuncGraph):
            outer = {inner: o for o, inner in t.graph.captures}.get(t)
            if outer is None:
                return None
            t = outer
            continue
        return None
    return None


def _zeros_like_list(t: fops.Tensor, dtype):
    """A list like `t` (length, element shape) of slots never written: a zero gradient."""
    from staticflow.ops import list_ops

    return list_ops.tensor_list_reserve(
        list_ops.tensor_list_element_shape(t), list_ops.tensor_list_length(t), dtype
    )


_SHAPE_READERS = ("Shape", "Size", "Rank", "ZerosLike", "OnesLike")


def _from_static_shape(op: fops.Operation, t: fops.Tensor):
    """What `op` (a reader of t's shape only: Shape, ZerosLike, ...) gives, built from t's
    static shape, or None when that shape is not fully known: the backward loop then needs
    no copy of t."""
    from staticflow.ops import array_ops

    if not _reads_static_shape(op, t):
        return None
    dims = t.shape.as_list()
    if op.type == "ZerosLike":
        return array_ops.zeros(dims, t.dtype)
    if op.type == "OnesLike":
        return array_ops.ones(dims, t.dtype)
    out_type = op.get_attr("out_type") if op.type != "Rank" else dtypes.int32
    value = {"Shape": dims, "Size": int(np.prod(dims)), "Rank": len(dims)}[op.type]
    return array_ops.constant(np.asarray(value, out_type.np), out_type)


def _reads_static_shape(op: fops.Operation, t: fops.Tensor) -> bool:
    return op.type in _SHAPE_READERS and t.dtype is not dtypes.variant and t.shape.is_fully_defined()


class _BodyGradient:
    """The gradient of one iteration of a loop's body, split as TensorFlow's while_v2 splits it.

    The body is copied into a scratch function and differentiated there; the gradient ops
    read some forward tensors, each of which the backward loop gets one of these ways:
    `outer` (a loop variable the body passes through, a list loop variable, or a float value
    of those alone, such as a weight's transpose: computed once, outside the loops), `acc`
    (pushed by the replay loop at every iteration, read back by the backward loop: the body's
    intermediates and changing loop variables), `const` (of constants alone: copied, and
    folded by planning) or `recompute` (a list the body makes, as a list of lists is not
    provided, or an integer of invariants, which planning may need to know: its op is copied
    into the backward body, on values got the other ways). A gradient op that reads only a
    forward tensor's shape (Shape, ZerosLike, ...) reads the static shape instead."""

    def __init__(
        self, body_fg: FuncGraph, inputs: list, diff: list, lists: list, grad_specs: list, grown: list
    ):
        self.body_fg, self.inputs = body_fg, inputs
        self.scratch = FuncGraph(unique_function_name(body_fg.name + "_grad"), fops.get_default_graph())
        g = self.scratch
        with g.as_default():
            # (a list argument is a capture of the loop's input, so that what reads it can
            # tell its element dtype: _list_dtype follows captures out)
            self.xs = [
                g.capture(inputs[j]) if j in lists else g.add_input(t.dtype, t.shape, name=f"x{j}")
                for j, t in enumerate(body_fg.inputs)
            ]
            self.gys = [g.add_input(dt, s, name=f"grad{m}") for m, (dt, s) in enumerate(grad_specs)]
            first = len(g.get_operations())
            mapped, _ = copy_ops(body_fg, self.xs)
            self.forward_ops = set(g.get_operations()[first:])
            ys = [mapped[t] for t in body_fg.outputs]
            got = _gradients([ys[j] for j in diff], [self.xs[j] for j in diff], grad_ys=self.gys)
            self.grads = list(got)
            self.grad_ops = [o for o in g.get_operations()[first:] if o not in self.forward_ops]
        self.source = {c: t for t, c in mapped.items()}  # scratch tensor -> body_fg tensor
        invariant = {j for j, t in enumerate(body_fg.inputs) if body_fg.outputs[j] is t}
        self.outer_of = {self.xs[j]: inputs[j] for j in range(len(inputs)) if j in invariant or j in lists}
        self.grown = {self.xs[j]: j for j in grown}  # (lists: read at each iteration's length)
        self.kind: dict = {}
        self.invariance: dict = {}
        self.accumulated: list = []  # scratch tensors the replay pushes, in order
        for o in self.grad_ops:
            for t in o.inputs:
                if self._is_forward(t) and not _reads_static_shape(o, t):
                    self._classify(t)

    def _is_forward(self, t) -> bool:
        return t in self.source

    def _invariance(self, t) -> str:
        """The invariance of t: "const" (a value of constants alone), "outer" (of the loop's invariants and
        constants: the same at every iteration) or "varying"."""
        todo = [t]
        while todo:
            x = todo[-1]
            if x in self.invariance:
                todo.pop()
                continue
            if x in self.outer_of:
                self.invariance[x] = "outer"
                continue
            if x.op not in self.forward_ops:  # a changing loop variable
                self.invariance[x] = "varying"
                continue
            missing = [i for i in x.op.inputs if i not in self.invariance]
            if missing:
                todo.extend(missing)
                continue
            d = x.op.op_def
            stateless = d is not None and not (d.stateful or d.random) and x.op.type != "VariableV2"
            stateless = stateless and not any(
                isinstance(v, FuncGraph) and is_stateful(v) for v in x.op._attrs.values()
            )
            ins = {self.invariance[i] for i in x.op.inputs}
            if not stateless or "varying" in ins:
                k = "varying"
            else:
                k = "outer" if "outer" in ins else "const"
            for o in x.op.outputs:
                self.invariance[o] = k
        return self.invariance[t]

    def _classify(self, t) -> str:
        k = self.kind.get(t)
        if k is not None:
            return k
        inv = self._invariance(t)
        if t in self.outer_of:
            k = "outer"
        elif inv == "const":
            k = "const"  # copied into the backward body, where planning folds it
        elif inv == "outer":
            # a float is computed once, outside; shapes and indices are copied (planning may
            # need their values, which a function cannot take from its arguments)
            k = "outer" if t.dtype.is_floating else "recompute"
        elif t.op in self.forward_ops and (t.dtype is dtypes.variant or t.op.type == "VariableV2"):
            k = "recompute"
        else:
            k = "acc"
        self.kind[t] = k
        if k == "acc":
            self.accumulated.append(t)
        elif k == "recompute":
            for x in t.op.inputs:
                self._classify(x)
        return k

    def hoist(self) -> None:
        """Build the `outer` values in the default graph (before the loops), from the loop's inputs."""
        from staticflow.framework.func_graph import copy_op

        for t, k in list(self.kind.items()):
            if k == "outer" and t not in self.outer_of:
                self._outer(t, copy_op)

    def _outer(self, t, copy_op):
        got = self.outer_of.get(t)
        if got is None:
            op = t.op
            new = copy_op(op, [self._outer(x, copy_op) for x in op.inputs], [])
            for a, b in zip(op.outputs, new.outputs):
                self.outer_of[a] = b
            got = self.outer_of[t]
        return got

    def backward(self, gs: list, read_acc, lengths: dict) -> list:
        """Build one backward iteration in the default graph (the backward loop's body): the
        gradient ops on `gs` (the output gradients) and the forward values, `read_acc(m)`
        giving the m-th accumulated one, `lengths[j]` the length list loop variable j (one the
        body grows) had at that iteration. Returns the gradients, None where there is none."""
        from staticflow.framework.func_graph import _variable_in, copy_op
        from staticflow.ops import list_ops

        fg = fops.get_default_graph()
        env: dict = dict(zip(self.gys, gs))
        done: dict = {}
        acc_index = {t: m for m, t in enumerate(self.accumulated)}

        def value(t):
            got = env.get(t)
            if got is not None:
                return got
            k = self._classify(t)
            if k == "outer" and t in self.grown:  # the list it started with, at that length
                got = list_ops.tensor_list_resize(fg.capture(self.outer_of[t]), lengths[self.grown[t]])
            elif k == "outer":
                got = fg.capture(self.outer_of[t])
            elif k == "acc":
                got = read_acc(acc_index[t])
                got.set_shape(t.shape)
            else:  # const, recompute
                op = t.op
                if op.type == "VariableV2":
                    new = _variable_in(fg, op.name).op
                else:
                    new = copy_op(op, [value(x) for x in op.inputs], [])
                for a, b in zip(op.outputs, new.outputs):
                    env[a] = b
                got = env[t]
            env[t] = got
            return got

        for o in self.grad_ops:
            if len(o.inputs) == 1 and self._is_forward(o.inputs[0]):
                fixed = _from_static_shape(o, o.inputs[0])
                if fixed is not None:
                    env[o.outputs[0]] = fixed
                    continue
            controls = [done[c] for c in o.control_inputs if c in done]
            new = copy_op(o, [value(t) for t in o.inputs], controls)
            done[o] = new
            for a, b in zip(o.outputs, new.outputs):
                env[a] = b
        return [None if t is None else value(t) for t in self.grads]


def _while_grad(op, *grads):
    """The gradient of a While: a replay of the forward loop that pushes, at each iteration,
    the forward values the body's gradient reads onto TensorList accumulators, then a
    backward loop that runs as many times, reads them in reverse and runs the body's
    gradient ops alone (`_BodyGradient`: no forward op is computed again; values of the
    loop's inputs alone are computed once, outside). The captured tensors are loop
    variables the body passes through, so their gradients add up over the iterations. The
    replay is the forward loop with pushes: a plan that runs both runs the replay alone
    (passes/loops.py), as TensorFlow's forward op itself keeps what its gradient needs.

    TensorList (TensorArray) loop variables are not accumulated: one the body passes through
    is the same list at every iteration, and one it changes must only be written by the body
    (as map_fn's and scan's results are), so that what it holds changes no value the body
    computes; the backward body sees the list the loop started with in its place."""
    from staticflow.ops import array_ops, list_ops, math_ops

    if _gradients is None:
        raise RuntimeError("the gradient of a while_loop needs staticflow.autodiff (import staticflow)")
    cond_fg, body_fg = op.get_attr("cond"), op.get_attr("body")
    inputs = list(op.inputs)
    n = len(inputs)
    lists = [j for j, t in enumerate(inputs) if t.dtype is dtypes.variant]
    for j in lists:
        arg, out = body_fg.inputs[j], body_fg.outputs[j]
        if out is arg:
            continue
        for c in arg.consumers():
            if c.type not in _LIST_WRITES or c.inputs[0] is not arg:
                raise NotImplementedError(
                    f"staticflow cannot differentiate through while loop '{op.name}' yet: its body "
                    f"reads the TensorList loop variable {j} ({c.type} op '{c.name}') that it also "
                    f"changes; gradients through loops that only write such lists are provided"
                )
    diff = [j for j, t in enumerate(inputs) if t.dtype.is_floating or t.dtype is dtypes.variant]
    if not [j for j in diff if inputs[j].dtype.is_floating] and all(grads[j] is None for j in lists):
        return [None] * n
    dts = {j: _list_dtype(inputs[j]) for j in lists}
    for j in lists:
        if dts[j] is None and grads[j] is None:
            raise NotImplementedError(
                f"while loop '{op.name}': cannot tell the element dtype of its TensorList loop "
                f"variable {j} ({inputs[j].name}) to give it a zero gradient"
            )
    shapes = [t.shape for t in op.outputs]

    def zero(j, like):
        if like.dtype is dtypes.variant:
            return _zeros_like_list(like, dts[j])
        return array_ops.zeros_like(like)

    # lists the body grows (a write past the end of a dynamic-size TensorArray): the gradient
    # of such a write shrinks the list's gradient back to the list's length before it, so
    # their lengths are accumulated too, and the backward body sees the list it started
    # with resized to that iteration's length
    grown = [
        j
        for j in lists
        if body_fg.outputs[j] is not body_fg.inputs[j]
        and any(
            c.type == "TensorListSetItem" and c.get_attr("resize_if_index_out_of_bounds")
            for c in body_fg.inputs[j].consumers()
        )
    ]
    with fops.name_scope(None, "while_grad"):
        grads = [g if g is not None or j not in diff else zero(j, op.outputs[j]) for j, g in enumerate(grads)]
        specs = [(inputs[j].dtype, shapes[j]) for j in diff]
        bg = _BodyGradient(body_fg, inputs, diff, lists, specs, grown)
        bg.hoist()
        # what the replay pushes: the forward values the gradient reads (the loop's first
        # variable, the counter, when it reads none: the backward loop counts the pushes)
        pushed = [bg.source[t] for t in bg.accumulated] or [body_fg.inputs[0]]
        accs = [
            list_ops.empty_tensor_list(t.shape if t.shape.is_fully_defined() else None, t.dtype)
            for t in pushed
        ] + [list_ops.empty_tensor_list([], dtypes.int32) for _ in grown]

        def replay_cond(xs, accs):
            (c,), _ = copy_body(cond_fg, list(xs))
            return c

        def replay_body(xs, accs):
            mapped, _ = copy_ops(body_fg, list(xs))
            ys = [mapped[t] for t in body_fg.outputs]
            values = [mapped[t] for t in pushed] + [list_ops.tensor_list_length(xs[j]) for j in grown]
            return ys, [list_ops.tensor_list_push_back(a, x) for a, x in zip(accs, values)]

        # the replay's variables keep the forward loop's shape invariants (its outputs' shapes);
        # a list accumulator is a scalar of any length, whose elements may differ in shape
        list_inv = [TensorShape([])] * len(accs)
        replay_out, accs = while_loop(
            replay_cond, replay_body, [inputs, accs], shape_invariants=[shapes, list_inv], name="replay"
        )
        replay = accs[0].op.inputs[0].op
        # the forward op a plan may take its outputs from this loop's (passes/loops.py)
        replay.get_attr("body").replay_of = (body_fg, cond_fg, n)
        count = list_ops.tensor_list_length(accs[0])
        # a loop whose variables change shape (as its shape invariants allow) pushes values of
        # other shapes at each iteration: its backward loop carries the accumulators and pops
        # them, so that its body, planned per iteration, knows the shape of what it reads (the
        # last element's); otherwise they are read by index, which keeps the backward loop
        # differentiable in turn (gradients of gradients)
        changing = any(
            inputs[j].dtype is not dtypes.variant and shapes[j].as_list() != inputs[j].shape.as_list()
            for j in range(n)
            if shapes[j].ndims is not None and inputs[j].shape.ndims is not None
        ) or any(shapes[j].ndims is None for j in range(n) if inputs[j].dtype is not dtypes.variant)

        def gradient_body(at, gs, read, lengths):
            fg = fops.get_default_graph()
            got = bg.backward(list(gs), read, lengths)
            new_gs = []
            for g, j, gy in zip(got, diff, gs):
                if g is None:
                    g = zero(j, fg.capture(inputs[j])) if j in lists else array_ops.zeros_like(gy)
                new_gs.append(g)
            return new_gs

        def back_cond(k, gs, *carried):
            return k > 0

        def back_body(k, gs):
            fg = fops.get_default_graph()
            at = math_ops.subtract(k, 1)
            lists_in = [fg.capture(a) for a in accs]

            def read(m):
                return list_ops.tensor_list_get_item(lists_in[m], at, pushed[m].dtype, pushed[m].shape)

            lengths = {
                j: list_ops.tensor_list_get_item(lists_in[len(pushed) + m], at, dtypes.int32, [])
                for m, j in enumerate(grown)
            }
            return at, gradient_body(at, gs, read, lengths)

        def back_body_popping(k, gs, carried):
            at = math_ops.subtract(k, 1)
            popped, left = [], []
            for m, a in enumerate(carried):
                t = pushed[m] if m < len(pushed) else None
                dt, shape = (t.dtype, t.shape) if t is not None else (dtypes.int32, TensorShape([]))
                a2, x = list_ops.tensor_list_pop_back(a, dt, shape if shape.is_fully_defined() else -1)
                x.set_shape(shape)
                left.append(a2)
                popped.append(x)
            lengths = {j: popped[len(pushed) + m] for m, j in enumerate(grown)}
            return at, gradient_body(at, gs, lambda m: popped[m], lengths), left

        # a loop variable's gradient has its shape at each iteration: the same invariant
        if changing:
            list_inv = [TensorShape([])] * len(accs)
            _, gs, _ = while_loop(
                back_cond,
                back_body_popping,
                [count, [grads[j] for j in diff], accs],
                name="backward",
                return_same_structure=True,
                shape_invariants=[TensorShape([]), [shapes[j] for j in diff], list_inv],
            )
        else:
            _, gs = while_loop(
                back_cond,
                back_body,
                [count, [grads[j] for j in diff]],
                name="backward",
                return_same_structure=True,
                shape_invariants=[TensorShape([]), [shapes[j] for j in diff]],
            )
    out: list = [None] * n
    for g, j in zip(gs, diff):
        out[j] = g
    return out


registry.register_gradient("While")(_while_grad)
registry.register_gradient("StatelessWhile")(_while_grad)


def while_loop(
    cond: Callable,
    body: Callable,
    loop_vars,
    shape_invariants=None,
    parallel_iterations: int = 10,
    back_prop: bool = True,
    swap_memory: bool = False,
    name=None,
    maximum_iterations=None,
    return_same_structure: bool = False,
):
    """TF1's while_loop as one While op (control flow v2 form): `body(*loop_vars)` repeated
    while `cond(*loop_vars)` holds, at most `maximum_iterations` times. Loop variables are a
    (nested) list/tuple of tensors; each keeps one shape when the graph is planned.

    As TensorFlow's, the op's loop variables are [iteration counter, maximum_iterations (-1:
    none), the flattened loop_vars..., the tensors cond and body capture]."""
    from staticflow.ops import array_ops, math_ops

    if not callable(cond):
        raise TypeError(f"while_loop: cond must be callable, got {cond!r}")
    if not callable(body):
        raise TypeError(f"while_loop: body must be callable, got {body!r}")
    if parallel_iterations < 1:
        raise ValueError(
            f"while_loop: parallel_iterations must be a positive integer, got {parallel_iterations}"
        )
    from staticflow.ops import tensor_array_ops

    single = not isinstance(loop_vars, (list, tuple))
    structure = [loop_vars] if single else loop_vars
    # a TensorArray travels as its flow (a variant tensor): unwrapped here, wrapped again
    # around the flow inside cond and body and around the loop's output (TensorFlow's way)
    templates = nest.flatten(structure)
    flat_in = [tensor_array_ops.to_flow(t) for t in templates]
    if not flat_in:
        raise ValueError("while_loop: no loop variables")
    with fops.name_scope(name, "while", [t for t in flat_in if isinstance(t, fops.Tensor)]) as scope:
        flat_in = [fops.convert_to_tensor(t) for t in flat_in]
        if shape_invariants is not None:
            inv = nest.flatten([shape_invariants] if single else shape_invariants)
            if len(inv) != len(flat_in):
                raise ValueError(f"while_loop: {len(inv)} shape_invariants for {len(flat_in)} loop variables")
            shapes = [TensorShape(s) if not isinstance(s, TensorShape) else s for s in inv]
            for t, s in zip(flat_in, shapes):
                if not s.is_compatible_with(t.shape):
                    raise ValueError(
                        f"The shape invariant specified for {t.name} is not compatible with the initial "
                        f"shape of the loop variable. It enters the loop with shape {t.shape}, but the "
                        f"specified shape invariant is {s}."
                    )
        else:
            shapes = [t.shape for t in flat_in]
        if maximum_iterations is None:
            max_iter = array_ops.constant(-1, dtypes.int32, name="maximum_iterations")
        else:
            max_iter = fops.convert_to_tensor(maximum_iterations, name="maximum_iterations")
            if max_iter.dtype != dtypes.int32:
                max_iter = math_ops.cast(max_iter, dtypes.int32)
        counter = array_ops.constant(0, dtypes.int32, name="loop_counter")
        specs = [(dtypes.int32, TensorShape([])), (dtypes.int32, TensorShape([]))]
        specs += [(t.dtype, s) for t, s in zip(flat_in, shapes)]
        g = fops.get_default_graph()
        base = scope.rstrip("/").replace("/", "_") or "while"
        has_max = maximum_iterations is not None

        def wrap(xs):
            return nest.pack_sequence_as(
                structure, [tensor_array_ops.from_flow(t, x) for t, x in zip(templates, xs)]
            )

        def cond_fn(i, m, *xs):
            xs_ = wrap(xs)
            c = cond(*xs_)
            c = fops.convert_to_tensor(c)
            if c.dtype != dtypes.bool_:
                raise TypeError(f"while_loop: cond must return a bool tensor, got {c.dtype.name} ({c.name})")
            if has_max:
                c = math_ops.logical_and(math_ops.less(i, m), c)
            return c

        def body_fn(i, m, *xs):
            xs_ = wrap(xs)
            out = body(*xs_)
            if not isinstance(out, (list, tuple)) and len(structure) == 1:
                out = [out]
            if isinstance(out, tuple) and isinstance(structure, list):
                out = list(out)
            flat_out = nest.flatten(list(out))
            if len(flat_out) != len(flat_in):
                raise ValueError(
                    f"while_loop: body returns {len(flat_out)} values for {len(flat_in)} loop variables"
                )
            for j, (t, x) in enumerate(zip(templates, flat_out)):
                if isinstance(t, tensor_array_ops.TensorArray) != isinstance(x, tensor_array_ops.TensorArray):
                    raise TypeError(
                        f"while_loop: loop variable {j} is {type(t).__name__} but the body returns "
                        f"{type(x).__name__} for it"
                    )
            flat_out = [tensor_array_ops.to_flow(x) for x in flat_out]
            return [math_ops.add(i, 1), m, *flat_out]

        inputs_named = [t.name for t in flat_in]
        cond_fg, c = build_function(cond_fn, f"{base}_cond", specs, outer=g)
        body_fg, b = build_function(body_fn, f"{base}_body", specs, outer=g)
        _, (cond_out,) = _flatten_result(cond_fg, [c], "while_loop cond")
        _, body_out = _flatten_result(body_fg, b, "while_loop body")
        for j, (t, (dt, s)) in enumerate(zip(body_out, specs)):
            if t.dtype != dt:
                raise TypeError(
                    f"while_loop: body returns {t.dtype.name} for loop variable {j - 2} of dtype {dt.name}"
                )
            if not s.is_compatible_with(t.shape):
                what = inputs_named[j - 2] if 0 <= j - 2 < len(inputs_named) else f"loop variable {j - 2}"
                raise ValueError(
                    f"Input tensor '{what}' enters the loop with shape {s}, but has shape {t.shape} "
                    f"after one iteration. To allow the shape to vary across iterations, use the "
                    f"`shape_invariants` argument of tf.while_loop to specify a less-specific shape."
                )
        cond_fg.outputs, body_fg.outputs = [cond_out], body_out
        outer = _unify_inputs([cond_fg, body_fg])
        body_fg.outputs = body_out + list(body_fg.inputs[len(specs) :])  # captures pass through
        op_type = "While" if is_stateful(cond_fg) or is_stateful(body_fg) else "StatelessWhile"
        inputs = [counter, max_iter, *flat_in, *outer]
        op = builder.apply_op(
            op_type,
            [inputs],
            {
                "cond": cond_fg,
                "body": body_fg,
                "output_shapes": [s for _, s in specs] + [t.shape for t in outer],
                "parallel_iterations": parallel_iterations,
            },
            name=scope,
        )
        outs = [builder.apply_op("Identity", [t], None, name="Identity").outputs[0] for t in op.outputs]
        result = wrap(outs[2 : 2 + len(flat_in)])
        if single and not return_same_structure:
            return result[0]
        if len(flat_in) == 1 and not return_same_structure and not nest.is_nested(structure[0]):
            return result[0]
        return result


# ---------------------------------------------------------------------------
# running an If or While whose outputs' shapes are only known while it runs
# ---------------------------------------------------------------------------
def _fresh(shape, dt) -> np.ndarray:
    """An array a function's results are written into: objects (None) for lists and strings."""
    if dtypes.holds_objects(dt):
        return np.full(tuple(shape), b"" if dt is dtypes.string else None, dtype=object)
    return np.empty(tuple(shape), dt.np)


def _list_arg_uses(fg: FuncGraph) -> list:
    """Per argument of fg: how it reads a list argument, which tells how much of what the list
    holds its plan needs: "push" (only appended to, or unused: nothing), "pop" (only popped
    from or appended to: the last element's shape), None (anything else: every slot's shape).
    Kept on fg."""
    got = getattr(fg, "_list_arg_uses", None)
    if got is None:
        got = []
        for t in fg.inputs:
            kinds = {c.type for c in t.consumers()}
            if any(c.inputs[0] is not t for c in t.consumers()):
                kinds.add(None)
            got.append(
                "push" if kinds <= {"TensorListPushBack"}
                else "pop" if kinds <= {"TensorListPushBack", "TensorListPopBack"}
                else None
            )
        fg._list_arg_uses = got
    return got


def _shapes_and_specs(values: list, fg: FuncGraph) -> tuple[list, list]:
    """The shapes of fg's argument arrays, and the specs of its list arguments as far as its
    plan needs them (so that iterations whose lists differ only where fg does not look share
    one plan: the backward loop of a growing loop's gradient, popping elements that grow, is
    planned once per element shape, not once per list)."""
    shapes = [tuple(v.shape) for v in values]
    specs: list = [None] * len(values)
    uses = _list_arg_uses(fg)
    for j, v in enumerate(values):
        if v.dtype != object or v.ndim != 0:
            continue
        tl = v[()]
        if not isinstance(tl, list_ops.TensorList) or j >= len(uses) or uses[j] is None:
            specs[j] = list_ops.spec_of(tl)
        elif uses[j] == "push":  # (without a walk over the list: an iteration costs no more as it grows)
            specs[j] = list_ops.ListSpec(tl.element_shape)
        else:
            last = next((x for x in reversed(tl.items) if x is not None), None)
            shape = None if last is None else tuple(np.shape(last))
            specs[j] = list_ops.ListSpec(tl.element_shape, None, None, shape)
    return shapes, specs


def run_dynamic(op: fops.Operation, values: list, plan_function: Callable) -> list[np.ndarray]:
    """The outputs of If or While `op` (one whose outputs' shapes are only known while it runs)
    for input arrays `values`, each function it calls planned by `plan_function` (the runtime's
    FunctionPlans: once per function and input shapes, reused by later iterations and runs).
    A loop's iterations whose variables keep their shapes run in place, as a planned loop's
    do; one that changes them gets fresh arrays of the new shapes, each checked against the
    loop variables' shape invariants."""
    values = [np.asarray(v) for v in values]
    if op.type in ("If", "StatelessIf"):
        fg = op.get_attr("then_branch") if _truth(values[0]) else op.get_attr("else_branch")
        shapes, specs = _shapes_and_specs(values[1:], fg)
        r = plan_function(fg, shapes, specs)
        outs = [_fresh(s, t.dtype) for s, t in zip(r.out_shapes, op.outputs)]
        r.run(values[1:], outs)
        return outs
    if op.type not in ("While", "StatelessWhile"):
        raise ValueError(f"{op.type} op '{op.name}' has no outputs of shapes known only while it runs")
    cond_fg, body_fg = op.get_attr("cond"), op.get_attr("body")
    declared = op.get_attr("output_shapes") or []
    xs = [np.array(v, copy=True) for v in values]  # the loop's own (a fed array is the caller's)
    while True:
        shapes, specs = _shapes_and_specs(xs, cond_fg)
        if not plan_function(cond_fg, shapes, specs).truth(xs):
            return xs
        r = plan_function(body_fg, shapes, _shapes_and_specs(xs, body_fg)[1])
        if [tuple(s) for s in r.out_shapes] == shapes:
            r.run(xs, xs)  # every argument is in the plan's buffers before a result is written
            continue
        if not r.invariants_checked:  # (once per plan of the body: per shapes)
            _check_invariants(op.name, body_fg, declared, shapes, r.out_shapes)
            r.invariants_checked = True
        outs = [_fresh(s, t.dtype) for s, t in zip(r.out_shapes, op.outputs)]
        r.run(xs, outs)
        xs = outs
