"""TF1 dataflow control flow in a GraphDef, rewritten into functional If and While nodes.

TensorFlow 1.x (and TensorFlow 2.x's compat.v1 with control flow v2 turned off) writes a
cond as a Switch/Merge diamond and a while_loop as a frame: Enter nodes (loop variables,
and with ``is_constant`` the tensors the loop reads), a Merge per loop variable joining
its Enter and its NextIteration, the loop condition into LoopCond, a Switch per loop
variable whose true output feeds the body and whose false output leaves through Exit.
staticflow has the control flow v2 form only (`If`, `While`: ops/control_flow_v2.py), so
import rewrites the GraphDef first (`functionalize`, as TensorFlow's own
functionalize_control_flow does for XLA):

- a cond's Merge becomes an If on the Switches' predicate: each branch function holds the
  nodes between the Switches' true (false) outputs and the Merge's input from that side,
  its arguments are the Switches' data inputs. Merges whose branches share Switches or
  nodes become one If with one output per Merge.
- a frame becomes a While whose loop variables are the frame's variables then its
  constants (which the body passes through): cond is the nodes between the Merges and
  LoopCond, body those between the Switches' true outputs and the NextIterations.

Innermost constructs go first, so nested conds and loops (a cond in a body, a loop in a
loop) nest as functions. The Merge and Exit nodes stay as Identity nodes of the same name
reading the new node's outputs, so fetches and consumers keep their tensor names. What
cannot be converted is refused with an error naming the construct (op type, node, frame)
and asking for a re-export with control flow v2.
"""

from __future__ import annotations

import posixpath

from staticflow.framework import dtypes
from staticflow.framework.hooks import hooks

V1_OPS = frozenset({"Switch", "Merge", "Enter", "Exit", "NextIteration", "LoopCond"})
# reference-typed variants (TF1 variables read in a loop) and the gradient's n-way switch
REFUSED_OPS = frozenset({"RefSwitch", "RefMerge", "RefEnter", "RefExit", "RefNextIteration", "_SwitchN"})
# what TF1's gradient of a while loop keeps each iteration's values on
GRADIENT_STACK_OPS = frozenset({"StackV2", "StackPushV2", "StackPopV2", "Stack", "StackPush", "StackPop"})
REEXPORT = (
    "re-export the graph with control flow v2 (call tf.compat.v1.enable_control_flow_v2() "
    "before building it), which writes functional If/While ops"
)


class ControlFlowImportError(ValueError):
    """A TF1 control-flow construct of a GraphDef that cannot become a functional op."""


def has_v1_control_flow(graph_def) -> bool:
    """Whether `graph_def`'s nodes use TF1's dataflow control flow ops."""
    return any(n.op in V1_OPS or n.op in REFUSED_OPS for n in graph_def.node)


def _ref(s: str) -> tuple[str, int, bool]:
    """(node, output index, is_control) of a NodeDef input string."""
    if s.startswith("^"):
        return s[1:], -1, True
    name, sep, idx = s.rpartition(":")
    if sep and idx.isdigit():
        return name, int(idx), False
    return s, 0, False


def _fmt(name: str, idx: int) -> str:
    return name if idx == 0 else f"{name}:{idx}"


class _Blocked(Exception):
    """A walk met a control-flow node of a construct not converted yet."""


class _Graph:
    """The GraphDef's nodes by name (in order), their consumers, and the new functions."""

    def __init__(self, graph_def):
        from staticflow.framework import graph_pb2

        self.out = graph_pb2.GraphDef()
        self.out.CopyFrom(graph_def)
        self.nodes = {n.name: n for n in self.out.node}
        self.fn_names = {f.signature.name for f in self.out.library.function}
        self.removed: set[str] = set()
        self._consumers: dict[str, list] | None = None
        self.just_removed: list[str] = []  # removed since the last _drop_readers

    def consumers(self, name: str) -> list[tuple[object, int, bool]]:
        """(node, output index or -1 for control, is_control) of the nodes reading node
        `name`, from an index made once and kept up to date (`edges`)."""
        if self._consumers is None:
            index: dict[str, list] = {}
            for n in self.nodes.values():
                for s in n.input:
                    src, idx, ctrl = _ref(s)
                    index.setdefault(src, []).append((n, idx, ctrl))
            self._consumers = index
        return [x for x in self._consumers.get(name, ()) if self.nodes.get(x[0].name) is x[0]]

    def edges(self, n, add: bool) -> None:
        """Record (add) or forget the edges into node `n` in the consumer index."""
        if self._consumers is None:
            return
        for s in n.input:
            src, idx, ctrl = _ref(s)
            got = self._consumers.setdefault(src, [])
            if add:
                got.append((n, idx, ctrl))
            else:
                got[:] = [x for x in got if x[0] is not n]

    def unique(self, name: str) -> str:
        base, k = name, 0
        while name in self.nodes or name in self.removed:
            k += 1
            name = f"{base}_{k}"
        return name

    def fn_name(self, base: str) -> str:
        base = "".join(c if c.isalnum() or c == "_" else "_" for c in base).strip("_") or "fn"
        name, k = base, 0
        while name in self.fn_names:
            k += 1
            name = f"{base}_{k}"
        self.fn_names.add(name)
        return name

    def frame_of(self, n) -> str:
        return n.attr["frame_name"].s.decode() if "frame_name" in n.attr else ""


def _dtype_attr(n):
    return n.attr["T"].type


def _stateful(n) -> bool:
    d = hooks.op_def(n.op)
    return d is None or bool(d.stateful or d.random)


def _forward(g: _Graph, starts, passes) -> set[str]:
    """The nodes reachable from `starts` along data and control edges, not going through a
    control-flow node unless `passes(name)`: the region a construct's Switches or Enters
    lead to, where its branches or body lie."""
    seen = set(starts)
    stack = list(starts)
    while stack:
        for c, _, _ in g.consumers(stack.pop()):
            if c.name in seen or (c.op in V1_OPS and not passes(c.name)):
                continue
            seen.add(c.name)
            stack.append(c.name)
    return seen


def _walk(g: _Graph, roots: list[str], boundary, inside: set[str], where: str):
    """The nodes between `roots` (node names) and the boundary nodes (`boundary(name)`
    true), walking back along data and control inputs within `inside` (the nodes the
    construct's Switches or Enters lead to); returns (their names, whether a control-flow node
    of another construct blocked the walk, the nodes outside that they wait for: control
    inputs the new node takes). A data input from outside is refused: TF1 guards everything a
    branch or body reads with a Switch or Enter."""
    seen: set[str] = set()
    order: list[str] = []
    external: list[str] = []
    errors: list[ControlFlowImportError] = []
    blocked = False

    def outside(src: str, ctrl: bool) -> None:
        nonlocal blocked
        n = g.nodes.get(src)
        if n is None:
            raise ControlFlowImportError(f"{where}: input {src!r} is not a node of the GraphDef")
        if n.op in V1_OPS:
            blocked = True
        elif ctrl:
            if src not in external:
                external.append(src)
        elif not errors:
            errors.append(
                ControlFlowImportError(
                    f"{where}: node '{src}' ({n.op}) is used inside it but does not enter it through "
                    f"a Switch or Enter node, so it cannot be made a function; {REEXPORT}"
                )
            )

    stack = []
    for r in roots:
        if boundary(r):
            continue
        if r in inside:
            stack.append(r)
        else:
            outside(r, False)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        order.append(name)
        for t in g.nodes[name].input:
            src, _, ctrl = _ref(t)
            if boundary(src) or src in seen:
                continue
            if src in inside:
                stack.append(src)
            else:
                outside(src, ctrl)
    return order, blocked, external, (errors[0] if errors else None)


def _function(
    g: _Graph,
    name: str,
    args: list[tuple[int, str]],
    argmap: dict,
    node_names: list[str],
    outputs: list[str],
    out_types: list[int],
    where: str,
):
    """A FunctionDef named `name`: its arguments `args` ((dtype enum, name) pairs) stand for
    the tensors `argmap` maps to their names ((node, output index) keys); the nodes
    `node_names` are copied in, their inputs rewritten; it returns the tensors `outputs`
    (refs of the graph being rewritten) of dtypes `out_types`. `where` names the construct."""
    from staticflow.framework import function_pb2

    fd = function_pb2.FunctionDef()
    fd.signature.name = name
    for dt, an in args:
        a = fd.signature.input_arg.add()
        a.name, a.type = an, dt
    inside = set(node_names)

    def rewrite(s: str, where: str) -> str | None:
        src, idx, ctrl = _ref(s)
        if ctrl:
            if src in inside:
                return s
            return None  # a control edge to a boundary (a Switch, Merge, Enter): the call's
        key = (src, idx)
        if key in argmap:
            return argmap[key]
        if src in inside:
            return f"{src}:{idx}"
        raise ControlFlowImportError(
            f"{where} reads '{s}', which is neither one of its nodes nor one of its arguments; {REEXPORT}"
        )

    for nn in node_names:
        n = g.nodes[nn]
        m = fd.node_def.add()
        m.CopyFrom(n)
        del m.input[:]
        for s in n.input:
            r = rewrite(s, f"{where}: node '{nn}'")
            if r is not None:
                m.input.append(r)
    for k, (o, dt) in enumerate(zip(outputs, out_types)):
        a = fd.signature.output_arg.add()
        a.name, a.type = f"output_{k}", dt
        fd.ret[a.name] = rewrite(o, f"{where}: output {k}")
    return fd


def _arg_names(g: _Graph, nodes: list[str], count: int) -> list[str]:
    taken = set(nodes)
    out, k = [], 0
    while len(out) < count:
        a = f"arg_{k}"
        k += 1
        if a not in taken:
            out.append(a)
    return out


def _replace_with_identity(g: _Graph, n, src: str, dtype: int) -> None:
    """Node `n` becomes an Identity of `src` under its name (its consumers keep their refs)."""
    controls = [s for s in n.input if s.startswith("^") and _ref(s)[0] not in g.removed]
    g.edges(n, add=False)
    del n.input[:]
    n.input.append(src)
    n.input.extend(controls)
    n.op = "Identity"
    for k in list(n.attr):
        del n.attr[k]
    n.attr["T"].type = dtype
    g.edges(n, add=True)


def _remove(g: _Graph, names) -> None:
    """Drop nodes (the consumer index skips them from now on)."""
    for nn in names:
        if g.nodes.pop(nn, None) is not None:
            g.removed.add(nn)
            g.just_removed.append(nn)


def _add_node(g: _Graph, name: str, op: str, inputs: list[str], device: str = ""):
    from staticflow.framework import node_def_pb2

    n = node_def_pb2.NodeDef()
    n.name, n.op, n.device = name, op, device
    n.input.extend(inputs)
    g.nodes[name] = n
    g.edges(n, add=True)
    return n


# ---------------------------------------------------------------------------
# conds
# ---------------------------------------------------------------------------
def _resolve(g: _Graph, s: str) -> str:
    """A tensor ref through Identity nodes: the predicate a Switch tests, for comparing."""
    src, idx, _ = _ref(s)
    for _ in range(1000):
        n = g.nodes.get(src)
        if n is None or n.op != "Identity":
            break
        src, idx, _ = _ref(n.input[0])
    return f"{src}:{idx}"


def _is_loop_merge(g: _Graph, n) -> bool:
    return any(
        (g.nodes.get(_ref(s)[0]) is not None and g.nodes[_ref(s)[0]].op in ("Enter", "NextIteration"))
        for s in n.input
        if not s.startswith("^")
    )


def _cond_side(g: _Graph, merge, s: str, inside: set[str]):
    """(branch: 1 then / 0 else, inner node names, the Switches it starts at, blocked, the
    outside nodes it waits for) of the Merge input `s`."""
    where = f"cond Merge node '{merge.name}'"
    src, idx, _ = _ref(s)
    if src not in g.nodes:
        raise ControlFlowImportError(f"{where}: input {src!r} is not a node of the GraphDef")
    nodes, blocked, external, error = _walk(
        g, [src], lambda x: g.nodes.get(x) is not None and g.nodes[x].op == "Switch", inside, where
    )
    ports: set[int] = set()
    switches: set[str] = set()
    if g.nodes[src].op == "Switch":
        ports.add(idx)
        switches.add(src)
    for nn in nodes:
        for t in g.nodes[nn].input:
            a, k, ctrl = _ref(t)
            if not ctrl and g.nodes.get(a) is not None and g.nodes[a].op == "Switch":
                ports.add(k)
                switches.add(a)
    if blocked:
        return None, nodes, switches, True, external, None
    if error is not None:  # refused once the cond waits for nothing (see _convert_conds)
        return None, nodes, switches, False, external, error
    if len(ports) != 1:
        raise ControlFlowImportError(
            f"{where}: its input '{s}' is "
            + ("not behind a Switch node" if not ports else "behind both outputs of its Switch nodes")
            + f", so it is in neither branch of a cond; {REEXPORT}"
        )
    return ports.pop(), nodes, switches, False, external, None


def _switches_behind(g: _Graph, s: str) -> set[str]:
    """The Switches a walk back along data inputs from tensor `s` meets (its cond's, when the
    graph is TF1's), not walking through control-flow nodes."""
    seen, stack, found = set(), [_ref(s)[0]], set()
    while stack:
        name = stack.pop()
        n = g.nodes.get(name)
        if name in seen or n is None:
            continue
        seen.add(name)
        if n.op == "Switch":
            found.add(name)
        elif n.op not in V1_OPS:
            stack.extend(_ref(t)[0] for t in n.input if not t.startswith("^"))
    return found


def _cond_region(g: _Graph, merge, by_pred: dict, cache: dict) -> set[str]:
    """The nodes the Switches on the predicates of this Merge's Switches lead to (up to
    control-flow nodes): where its branches lie."""
    preds = {
        _resolve(g, g.nodes[x].input[1])
        for t in merge.input
        if not t.startswith("^")
        for x in _switches_behind(g, t)
    }
    region: set[str] = set()
    for pred in preds:
        if pred not in cache:
            cache[pred] = _forward(g, by_pred.get(pred, []), lambda x: False)
        region |= cache[pred]
    return region


def _convert_conds(g: _Graph) -> bool:
    """Convert the cond groups whose branches hold no control flow left to convert; whether
    one was converted."""
    merges = [n for n in g.nodes.values() if n.op == "Merge" and not _is_loop_merge(g, n)]
    sides: dict[str, list] = {}
    regions: dict[str, set[str]] = {}
    by_pred: dict[str, list[str]] = {}  # the Switches testing each predicate
    for n in g.nodes.values():
        if n.op == "Switch":
            by_pred.setdefault(_resolve(g, n.input[1]), []).append(n.name)
    for m in merges:
        data = [s for s in m.input if not s.startswith("^")]
        if len(data) != 2:
            raise ControlFlowImportError(
                f"cond Merge node '{m.name}' has {len(data)} inputs; a cond's Merge joins two branches "
                f"(a Merge of more, as TF1's case writes, is not converted); {REEXPORT}"
            )
        inside = _cond_region(g, m, by_pred, regions)
        sides[m.name] = [_cond_side(g, m, s, inside) for s in data]
    # group the Merges of one cond: those sharing a Switch or a node
    parent = {m.name: m.name for m in merges}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    owner: dict[str, str] = {}
    for mn, ss in sides.items():
        for _, nodes, switches, _, _, _ in ss:
            for x in list(nodes) + list(switches):
                if x in owner:
                    parent[find(mn)] = find(owner[x])
                else:
                    owner[x] = mn
    groups: dict[str, list[str]] = {}
    for m in merges:
        groups.setdefault(find(m.name), []).append(m.name)
    done = False
    for members in groups.values():  # ready groups share no node: each converts on its own
        if any(s[3] for mn in members for s in sides[mn]):
            continue
        # a branch's outside input is refused once the cond waits for nothing: the region a
        # blocked cond's branches lie in is only known after its inner constructs convert
        for mn in members:
            for side in sides[mn]:
                if side[5] is not None:
                    raise side[5]
        _convert_cond(g, members, sides)
        done = True
    return done


def _convert_cond(g: _Graph, members: list[str], sides: dict) -> None:
    where = f"cond Merge node '{members[0]}'"
    switches: list[str] = []
    external: list[str] = []  # outside nodes the branches wait for: the If's control inputs
    branch_nodes: dict[int, list[str]] = {0: [], 1: []}
    outs: dict[int, list[str]] = {0: [], 1: []}
    for mn in members:
        m = g.nodes[mn]
        data = [s for s in m.input if not s.startswith("^")]
        (pa, na, sa, _, ea, _), (pb, nb, sb, _, eb, _) = sides[mn]
        external += [x for x in ea + eb if x not in external]
        if pa == pb:
            raise ControlFlowImportError(
                f"cond Merge node '{mn}': both its inputs are in the {'true' if pa else 'false'} branch "
                f"of its cond; {REEXPORT}"
            )
        for c, idx, ctrl in g.consumers(mn):
            if idx == 1 and not ctrl:
                raise ControlFlowImportError(
                    f"cond Merge node '{mn}': node '{c.name}' ({c.op}) reads its value_index output "
                    f"(which branch ran), which the functional If does not give; {REEXPORT}"
                )
        for p, nodes, sw, s in ((pa, na, sa, data[0]), (pb, nb, sb, data[1])):
            outs[p].append(s)
            branch_nodes[p] += [x for x in nodes if x not in branch_nodes[p]]
            switches += [x for x in sorted(sw) if x not in switches]
    preds = {_resolve(g, g.nodes[s].input[1]) for s in switches}
    if len(preds) != 1:
        raise ControlFlowImportError(
            f"{where}: its branches begin at Switch nodes ({', '.join(switches)}) that test different "
            f"predicates ({', '.join(sorted(preds))}); {REEXPORT}"
        )
    pred = g.nodes[switches[0]].input[1]
    everything = branch_nodes[0] + branch_nodes[1]
    arg_names = _arg_names(g, everything, len(switches))
    args = [(_dtype_attr(g.nodes[s]), a) for s, a in zip(switches, arg_names)]
    out_types = [_dtype_attr(g.nodes[mn]) for mn in members]
    scope = posixpath.dirname(members[0]) or "cond"
    fds = {}
    for p, label in ((1, "true"), (0, "false")):
        argmap = {(s, p): a for s, a in zip(switches, arg_names)}
        fds[p] = _function(
            g,
            g.fn_name(f"{scope}_{label}"),
            args,
            argmap,
            _topo(g, branch_nodes[p]),
            outs[p],
            out_types,
            f"the {label} branch of {where}",
        )
    stateful = any(_stateful(g.nodes[x]) for x in everything)
    controls = ["^" + x for x in external]
    for s in switches:
        for t in g.nodes[s].input:
            if t.startswith("^") and t not in controls:
                controls.append(t)
    if_name = g.unique(scope)
    data_inputs = [g.nodes[s].input[0] for s in switches]
    _remove(g, everything)
    _remove(g, switches)
    n = _add_node(g, if_name, "If" if stateful else "StatelessIf", [pred, *data_inputs, *controls])
    n.attr["Tcond"].type = dtypes.bool_.as_datatype_enum
    n.attr["Tin"].list.type.extend(dt for dt, _ in args)
    n.attr["Tout"].list.type.extend(out_types)
    n.attr["then_branch"].func.name = fds[1].signature.name
    n.attr["else_branch"].func.name = fds[0].signature.name
    for fd in (fds[1], fds[0]):
        g.out.library.function.add().CopyFrom(fd)
    for k, mn in enumerate(members):
        _replace_with_identity(g, g.nodes[mn], _fmt(if_name, k), out_types[k])


def _topo(g: _Graph, names: list[str]) -> list[str]:
    """`names` with producers first."""
    inside = set(names)
    done: set[str] = set()
    out: list[str] = []
    for root in names:
        stack = [(root, False)]
        while stack:
            x, expanded = stack.pop()
            if x in done:
                continue
            if expanded:
                done.add(x)
                out.append(x)
                continue
            stack.append((x, True))
            for s in g.nodes[x].input:
                src = _ref(s)[0]
                if src in inside and src not in done:
                    stack.append((src, False))
    return out


# ---------------------------------------------------------------------------
# while frames
# ---------------------------------------------------------------------------
def _frame_error(frame: str, n, what: str) -> ControlFlowImportError:
    return ControlFlowImportError(
        f"while loop frame '{frame}': {n.op} node '{n.name}' {what}, which is not the frame TF1's "
        f"while_loop writes, so it cannot be converted to a While; {REEXPORT}"
    )


def _convert_frames(g: _Graph) -> bool:
    """Convert one ready while frame; whether one was converted."""
    frames: dict[str, list] = {}
    for n in g.nodes.values():
        if n.op == "Enter":
            frames.setdefault(g.frame_of(n), []).append(n)
    for frame, enters in frames.items():
        if _convert_frame(g, frame, enters):
            return True
    return False


def _single(g: _Graph, frame: str, n, op: str, idx: int | None = None, optional: bool = False):
    got = [c for c, k, ctrl in g.consumers(n.name) if c.op == op and not ctrl and (idx is None or k == idx)]
    if len(got) > 1 or (not got and not optional):
        where = f"output {idx}" if idx is not None else "output"
        raise _frame_error(frame, n, f"has {len(got)} {op} consumers of its {where} (one expected)")
    return got[0] if got else None


def _convert_frame(g: _Graph, frame: str, enters: list) -> bool:
    var_enters = [e for e in enters if not e.attr["is_constant"].b]
    const_enters = [e for e in enters if e.attr["is_constant"].b]
    if not var_enters:
        raise _frame_error(
            frame, enters[0], "is one of the frame's Enter nodes, none of which is a loop variable"
        )
    merges, switches, nexts, exits = [], [], [], []
    loop_cond = None
    for e in var_enters:
        for c, _, ctrl in g.consumers(e.name):
            if c.op != "Merge" and not ctrl:
                raise _frame_error(
                    frame, e, f"feeds {c.op} node '{c.name}' (a loop variable's Enter feeds its Merge)"
                )
        m = _single(g, frame, e, "Merge")
        data = [s for s in m.input if not s.startswith("^")]
        ni = [g.nodes.get(_ref(s)[0]) for s in data if _ref(s)[0] != e.name]
        if len(data) != 2 or len(ni) != 1 or ni[0] is None or ni[0].op != "NextIteration":
            raise _frame_error(frame, m, "does not join its Enter and one NextIteration node")
        sw = _single(g, frame, m, "Switch")
        lc = g.nodes.get(_ref(sw.input[1])[0])
        if lc is None or lc.op != "LoopCond" or (loop_cond is not None and lc is not loop_cond):
            raise _frame_error(frame, sw, "does not test the frame's one LoopCond node")
        loop_cond = lc
        merges.append(m)
        switches.append(sw)
        nexts.append(ni[0])
        exits.append(_single(g, frame, sw, "Exit", idx=0, optional=True))
    merge_names = {m.name for m in merges}
    const_names = {e.name for e in const_enters}
    switch_names = {s.name for s in switches}
    own = merge_names | switch_names | {n.name for n in nexts} | {loop_cond.name}
    inside = _forward(g, [e.name for e in enters], own.__contains__)
    cond_nodes, b1, e1, err1 = _walk(
        g,
        [_ref(loop_cond.input[0])[0]],
        lambda x: x in merge_names or x in const_names,
        inside,
        f"the cond of while loop frame '{frame}'",
    )
    body_nodes, b2, e2, err2 = _walk(
        g,
        [_ref(n.input[0])[0] for n in nexts],
        lambda x: x in switch_names or x in const_names,
        inside,
        f"the body of while loop frame '{frame}'",
    )
    if b1 or b2:
        return False
    if err1 or err2:
        raise err1 or err2
    nv, nc = len(var_enters), len(const_enters)
    types = [_dtype_attr(e) for e in var_enters] + [_dtype_attr(e) for e in const_enters]
    arg_names = _arg_names(g, cond_nodes + body_nodes, nv + nc)
    args = list(zip(types, arg_names))
    scope = posixpath.dirname(var_enters[0].name) or "while"
    consts = {(e.name, 0): a for e, a in zip(const_enters, arg_names[nv:])}
    argmap = {**{(m.name, 0): a for m, a in zip(merges, arg_names)}, **consts}
    cond_fd = _function(
        g,
        g.fn_name(f"{scope}_cond"),
        args,
        argmap,
        _topo(g, cond_nodes),
        [loop_cond.input[0]],
        [dtypes.bool_.as_datatype_enum],
        f"the cond of while loop frame '{frame}'",
    )
    argmap = {**{(s.name, 1): a for s, a in zip(switches, arg_names)}, **consts}
    body_outs = [n.input[0] for n in nexts] + [e.name for e in const_enters]
    for o in body_outs:
        if _ref(o)[0] in switch_names and _ref(o)[1] != 1:
            raise _frame_error(frame, g.nodes[_ref(o)[0]], "passes its false output to the next iteration")
    body_fd = _function(
        g,
        g.fn_name(f"{scope}_body"),
        args,
        argmap,
        _topo(g, body_nodes),
        body_outs,
        types,
        f"the body of while loop frame '{frame}'",
    )
    inner = set(cond_nodes) | set(body_nodes)
    stateful = any(_stateful(g.nodes[x]) for x in inner)
    controls = ["^" + x for x in dict.fromkeys(e1 + e2)]
    for e in enters:
        for t in e.input:
            if t.startswith("^") and t not in controls:
                controls.append(t)
    inputs = [e.input[0] for e in var_enters] + [e.input[0] for e in const_enters]
    parallel = (
        var_enters[0].attr["parallel_iterations"].i if "parallel_iterations" in var_enters[0].attr else 10
    )
    name = g.unique(scope)
    _remove(g, inner)
    _remove(
        g,
        [e.name for e in enters]
        + [m.name for m in merges]
        + list(switch_names)
        + [n.name for n in nexts]
        + [loop_cond.name],
    )
    n = _add_node(g, name, "While" if stateful else "StatelessWhile", inputs + controls, var_enters[0].device)
    n.attr["T"].list.type.extend(types)
    n.attr["cond"].func.name = cond_fd.signature.name
    n.attr["body"].func.name = body_fd.signature.name
    n.attr["parallel_iterations"].i = parallel or 10
    g.out.library.function.add().CopyFrom(cond_fd)
    g.out.library.function.add().CopyFrom(body_fd)
    for k, x in enumerate(exits):
        if x is not None:
            _replace_with_identity(g, x, _fmt(name, k), types[k])
    return True


# ---------------------------------------------------------------------------
# the rewrite
# ---------------------------------------------------------------------------
def functionalize(graph_def):
    """A copy of `graph_def` whose TF1 conds and while loops are functional If/While nodes
    (their branches, conds and bodies in its library). Raises ControlFlowImportError for a
    construct it cannot convert."""
    for n in graph_def.node:
        if n.op in REFUSED_OPS:
            raise ControlFlowImportError(
                f"{n.op} node '{n.name}'"
                + (
                    f" (while loop frame '{n.attr['frame_name'].s.decode()}')"
                    if "frame_name" in n.attr
                    else ""
                )
                + f": TF1 control flow on reference-typed tensors (or a gradient's n-way switch) is not "
                f"converted; {REEXPORT}"
            )
    stacks = [n for n in graph_def.node if n.op in GRADIENT_STACK_OPS]
    if stacks:
        n = stacks[0]
        raise ControlFlowImportError(
            f"{n.op} node '{n.name}': the GraphDef holds TF1's gradient of a while loop (its "
            f"per-iteration values kept on Stack ops, popped by a second frame), which is not "
            f"converted; {REEXPORT} (or import the forward graph and take its gradients in staticflow)"
        )
    g = _Graph(graph_def)
    while _convert_conds(g) or _convert_frames(g):
        _drop_readers(g)
    _drop_dead_switches(g)
    _drop_readers(g)
    left = [n for n in g.nodes.values() if n.op in V1_OPS]
    if left:
        n = left[0]
        frame = g.frame_of(n) if n.op == "Enter" else ""
        raise ControlFlowImportError(
            f"{n.op} node '{n.name}'"
            + (f" (while loop frame '{frame}')" if frame else "")
            + f" is part of TF1 control flow that could not be converted to If/While "
            f"(its construct is not a cond's Switch/Merge diamond or a while_loop's frame); {REEXPORT}"
        )
    del g.out.node[:]
    g.out.node.extend(g.nodes.values())
    return g.out


def _drop_dead_switches(g: _Graph) -> None:
    """Drop the Switches from which no Merge, Exit or NextIteration can be reached any more,
    and what reads them (a cond's pivot Switch(pred, pred) and its switch_t/switch_f Identity
    nodes, a branch's nodes no output needs). A dropped node with effects is refused: it ran
    when its branch did, and no output of the If carries it."""
    for s in [n for n in g.nodes.values() if n.op == "Switch"]:
        if s.name not in g.nodes:
            continue
        closure, stack, live = {s.name}, [s.name], False
        while stack and not live:
            for c, _, _ in g.consumers(stack.pop()):
                if c.op in V1_OPS:  # it reaches control flow not converted: not dead
                    live = True
                    break
                if c.name not in closure:
                    closure.add(c.name)
                    stack.append(c.name)
        if live:
            continue
        for x in closure:
            if x != s.name and _stateful(g.nodes[x]):
                n = g.nodes[x]
                raise ControlFlowImportError(
                    f"{n.op} node '{n.name}' runs in a branch of the cond of Switch '{s.name}' but no "
                    f"output of the cond needs it, and it has effects, so the converted graph could not "
                    f"run it as the original did; {REEXPORT}"
                )
        _remove(g, closure)


def _drop_readers(g: _Graph) -> None:
    """Drop the nodes left reading a node a conversion removed (one that moved into a
    function): they only ran in its branch or body, and nothing converted needs them. One
    with effects is refused, as in _drop_dead_switches; a control-flow node other than a
    Switch (a cond's pivot) is left for the error about unconverted control flow."""
    while g.just_removed:
        name = g.just_removed.pop()
        for n, _, _ in g.consumers(name):
            if n.op in V1_OPS and n.op != "Switch":
                continue
            if n.op != "Switch" and _stateful(n):
                raise ControlFlowImportError(
                    f"{n.op} node '{n.name}' reads '{name}' of a converted cond or while loop but no "
                    f"output of it needs the node, and it has effects, so the converted graph could "
                    f"not run it as the original did; {REEXPORT}"
                )
            _remove(g, [n.name])
