"""The compiler's IR: a mutable dataflow graph of one plan signature.

A `Session.run` signature (fetches, feeds, feed shapes) becomes an `IRGraph`:
the pruned part of the user's Graph, with every shape and dtype concrete. The
user's Graph is never changed; passes rewrite the IR. A `Node` holds its op
record, attrs, device, output shapes and dtypes, its inputs as `Value`s
(producer node, output index), control predecessors, and its provenance: the
user Operations it stands for, so that errors, traces and drawings name what
the user wrote even after nodes are merged or fused.

The graph keeps the users of every output up to date, so a pass can replace
all uses of a value, insert nodes and remove dead ones in constant time per
edge. `verify()` checks every invariant; the tests run it after each pass.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any

from staticflow.framework import dtypes
from staticflow.framework.graph_walk import prune, smallest_ready_first
from staticflow.ops import registry

# pseudo-ops that exist only in the IR (no registry record)
FEED = "_Feed"  # a tensor whose value the run is given


class Value:
    """Output `index` of `node`: what an input refers to."""

    __slots__ = ("node", "index", "_hash")

    def __init__(self, node: Node, index: int):
        self.node = node
        self.index = index
        self._hash = hash((node.id, index))

    @property
    def shape(self) -> tuple:
        return self.node.shapes[self.index]

    @property
    def dtype(self) -> dtypes.DType:
        return self.node.dtypes[self.index]

    def __eq__(self, other) -> bool:
        return self is other or (
            isinstance(other, Value) and other.node is self.node and other.index == self.index
        )

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"{self.node.name}:{self.index}"


class _Edges:
    """An insertion-ordered set of edges with list-like use: append, remove, iteration, `in`.

    A producer with thousands of readers (a constant, a shared weight) is common; a list
    made each removal linear in them, and rewriting such a graph quadratic."""

    __slots__ = ("_d",)

    def __init__(self):
        self._d: dict = {}

    @staticmethod
    def _key(item):
        return (item[0].id, item[1]) if isinstance(item, tuple) else item.id

    def append(self, item) -> None:
        self._d[self._key(item)] = item

    def remove(self, item) -> None:
        try:
            del self._d[self._key(item)]
        except KeyError:
            raise ValueError(f"{item!r} is not in the list") from None

    def pop(self):
        return self._d.pop(next(reversed(self._d)))

    def __contains__(self, item) -> bool:
        got = self._d.get(self._key(item))
        return got is not None and got == item

    def __iter__(self):
        return iter(list(self._d.values()))  # a snapshot: callers edit while they walk

    def view(self):
        """The edges without a snapshot, for walks that do not edit."""
        return self._d.values()

    def __len__(self) -> int:
        return len(self._d)

    def __bool__(self) -> bool:
        return bool(self._d)

    def __getitem__(self, i):
        return list(self._d.values())[i]

    def __repr__(self) -> str:
        return repr(list(self._d.values()))


_PURE: dict = {}  # op name -> (its OpDef, whether a node of it is pure)


def pure_op(d: registry.OpDef | None) -> bool:
    """Whether nodes of op record `d` are pure (Node.pure); False for IR-only ops."""
    if d is None:
        return False
    got = _PURE.get(d.name)
    if got is None or got[0] is not d:  # (a property of the op record: worked out once)
        pure = not (
            d.stateful
            or d.random
            or d.source is not None
            or d.resource is not None
            or any(a.ref for a in d.inputs)
        )
        got = _PURE[d.name] = (d, pure)
    return got[1]


class Node:
    """One operation of the IR."""

    __slots__ = (
        "id",
        "type",
        "opdef",
        "attrs",
        "inputs",
        "control",
        "shapes",
        "dtypes",
        "device",
        "origin",
        "name",
        "users",
        "control_users",
        "graph",
        "tensor",
        "stands_for",
        "_values",
    )

    def __init__(self, graph: IRGraph, nid: int, op_type: str, attrs: dict, shapes, out_dtypes, origin, name):
        self.graph = graph
        self.id = nid
        self.type = op_type
        self.opdef: registry.OpDef | None = registry.lookup(op_type)
        self.attrs = attrs
        self.inputs: list[Value] = []
        self.control: list[Node] = []
        self.shapes: list[tuple] = [tuple(map(int, s)) for s in shapes]
        self.dtypes: list[dtypes.DType] = list(out_dtypes)
        self.device = ""
        self.origin: tuple = tuple(origin)  # user Operations this node stands for
        self.name = name
        # per output: [(user node, input position)]; control users: nodes that wait for this one
        self.users: list[_Edges] = [_Edges() for _ in self.shapes]  # of (Node, input position)
        self.control_users = _Edges()  # of Node
        self.tensor = None  # for a feed: the user Tensor it stands for
        # per output, the user Tensor it computes (None: none the user wrote), for a node that
        # stands for several user ops (a fused group); None when that is origin[0]'s outputs
        self.stands_for: list | None = None
        self._values = tuple(Value(self, i) for i in range(len(self.shapes)))

    # --- queries ----------------------------------------------------------------------------
    @property
    def outputs(self) -> list[Value]:
        return list(self._values)

    def output(self, i: int = 0) -> Value:
        # one Value per output, made with the node: dict lookups then match by identity
        return self._values[i]

    def user_tensor(self, j: int):
        """The user Tensor output j computes, or None."""
        if self.stands_for is not None:
            return self.stands_for[j]
        if len(self.origin) == 1 and len(self.origin[0].outputs) == len(self.shapes):
            return self.origin[0].outputs[j]
        return None

    @property
    def location(self):
        """The user's source line of the first op this node stands for."""
        return self.origin[0].location if self.origin else None

    def has_users(self) -> bool:
        return any(self.users) or bool(self.control_users)

    def flag(self, name: str) -> bool:
        """A boolean property of the op's registry record (False for IR-only ops)."""
        return bool(getattr(self.opdef, name, False)) if self.opdef is not None else False

    @property
    def pure(self) -> bool:
        """No effect beyond its outputs, and the same outputs for the same inputs (a resource
        handle is not: it names its own queue or iterator, whatever its inputs)."""
        return pure_op(self.opdef)

    def __repr__(self) -> str:
        ins = ", ".join(repr(v) for v in self.inputs)
        return f"<{self.name} = {self.type}({ins}) -> {self.shapes}>"


class IRGraph:
    """The nodes of one plan signature, with its fetches, targets and feeds."""

    def __init__(self) -> None:
        self.nodes: dict[int, Node] = {}
        self._fetches: list[Value] = []
        self._fetch_at: dict[Value, list[int]] = {}  # value -> its positions in fetches
        self.targets: list[Node] = []
        self.feeds: dict = {}  # user Tensor -> feed Node
        self.value_feeds: dict = {}  # user Tensor -> fed value the plan is specialized on
        self._ids = itertools.count()
        self._names: dict[str, int] = {}
        # the last topo_order, kept until an edit adds a node or an edge (removing nodes keeps
        # the rest in order: only what nothing reads can go); how many orders were computed
        self._order: list[Node] | None = None
        self._order_pruned = False
        self.orders_computed = 0

    def __len__(self) -> int:
        return len(self.nodes)

    # --- fetches: indexed, so asking whether a node is fetched costs O(1) -------------------
    @property
    def fetches(self) -> list[Value]:
        """The fetched values in order. Read-only: assign a new list to change it."""
        return self._fetches

    @fetches.setter
    def fetches(self, values) -> None:
        self._fetches = list(values)
        self._fetch_at = {}
        for k, f in enumerate(self._fetches):
            self._fetch_at.setdefault(f, []).append(k)

    def is_fetched(self, node: Node) -> bool:
        """Whether some fetch reads an output of `node`."""
        at = self._fetch_at
        return bool(at) and any(v in at for v in node._values)

    def is_fetched_value(self, value: Value) -> bool:
        """Whether some fetch reads `value`."""
        return value in self._fetch_at

    def __iter__(self) -> Iterator[Node]:
        return iter(list(self.nodes.values()))

    # --- building -------------------------------------------------------------------------
    def unique_name(self, base: str) -> str:
        n = self._names.get(base)
        if n is None:
            self._names[base] = 0
            return base
        while True:
            n += 1
            name = f"{base}_{n}"
            if name not in self._names:
                self._names[base] = n
                self._names[name] = 0
                return name

    def add(
        self,
        op_type: str,
        inputs: Iterable[Value] = (),
        attrs: dict | None = None,
        shapes: Iterable = (),
        out_dtypes: Iterable = (),
        origin: Iterable = (),
        name: str | None = None,
        control: Iterable[Node] = (),
        device: str = "",
    ) -> Node:
        """A new node; its inputs and control predecessors must already be in this graph."""
        node = self.detached(op_type, inputs, attrs, shapes, out_dtypes, origin, name, device)
        self.attach(node)
        for c in control:
            self.add_control(node, c)
        return node

    def detached(
        self,
        op_type: str,
        inputs: Iterable[Value] = (),
        attrs: dict | None = None,
        shapes: Iterable = (),
        out_dtypes: Iterable = (),
        origin: Iterable = (),
        name: str | None = None,
        device: str = "",
    ) -> Node:
        """A node that reads `inputs` (members of this graph) but is not in the graph yet: a
        rewrite can look at it as at any node, and `attach` adds it (or it is dropped, having
        cost no edges). Its name is made unique when attached."""
        node = Node(
            self, next(self._ids), op_type, dict(attrs or {}), list(shapes), list(out_dtypes), origin,
            name or op_type,
        )
        node.device = device
        nodes = self.nodes
        ins = node.inputs
        for v in inputs:
            if nodes.get(v.node.id) is not v.node:
                self._check_member(v.node)
            ins.append(v)
        return node

    def attach(self, node: Node) -> None:
        """Add a `detached` node: its name made unique, its inputs' user lists updated."""
        node.name = self.unique_name(node.name)
        self.nodes[node.id] = node
        self._order = None
        for i, v in enumerate(node.inputs):
            v.node.users[v.index].append((node, i))

    def add_control(self, node: Node, before: Node) -> None:
        """`node` runs after `before`."""
        self._check_member(before)
        if before not in node.control:
            self._order = None
            node.control.append(before)
            before.control_users.append(node)

    def _check_member(self, node: Node) -> None:
        if node.graph is not self or self.nodes.get(node.id) is not node:
            raise ValueError(f"{node.name} is not a node of this graph")

    # --- rewriting ------------------------------------------------------------------------
    def set_input(self, node: Node, i: int, value: Value) -> None:
        """Make input i of `node` read `value`."""
        self._check_member(value.node)
        old = node.inputs[i]
        self._order = None
        old.node.users[old.index].remove((node, i))
        node.inputs[i] = value
        value.node.users[value.index].append((node, i))

    def replace_uses(self, old: Value, new: Value) -> int:
        """Every reader of `old` (inputs and fetches) reads `new` instead; how many were moved."""
        if old == new:
            return 0
        edges = old.node.users[old.index]
        if not edges._d and not self._fetch_at:  # (a node just built: nothing reads it yet)
            return 0
        moved = 0
        for user, i in edges:
            self.set_input(user, i, new)
            moved += 1
        return moved + self.replace_fetches(old, new)

    def replace_fetches(self, old: Value, new: Value) -> int:
        """The fetches of `old` fetch `new` instead (its readers stay); how many moved."""
        at = self._fetch_at.pop(old, []) if old != new else []
        for k in at:
            self._fetches[k] = new
        if at:
            self._fetch_at.setdefault(new, []).extend(at)
        return len(at)

    def remove(self, node: Node) -> None:
        """Drop a node nothing reads, fetches or targets; its inputs lose a user."""
        if node.has_users():
            raise ValueError(f"{node.name} still has users")
        if self.is_fetched(node) or node in self.targets:
            raise ValueError(f"{node.name} is fetched or a target")
        for i, v in enumerate(node.inputs):
            v.node.users[v.index].remove((node, i))
        for c in node.control:
            c.control_users.remove(node)
        node.inputs, node.control = [], []
        del self.nodes[node.id]
        self._order_pruned = self._order is not None
        if node.tensor is not None and self.feeds.get(node.tensor) is node:
            del self.feeds[node.tensor]

    def move_control(self, old: Node, new: Node) -> None:
        """Nodes that waited for `old` wait for `new` (before `old` is removed)."""
        self._order = None
        for u in list(old.control_users):
            u.control.remove(old)
            old.control_users.remove(u)
            if u is not new:
                self.add_control(u, new)
        if old in self.targets:
            self.targets = [new if t is old else t for t in self.targets]

    # --- order ----------------------------------------------------------------------------
    def topo_order(self) -> list[Node]:
        """Producers before users (data and control edges); ties broken by creation order
        (graph_walk.toposort's order: iterative, linear in the graph times log n for the ties)."""
        if self._order is not None:
            if self._order_pruned:  # (a removed node had no users: the others keep their order)
                nodes = self.nodes
                self._order = [n for n in self._order if nodes.get(n.id) is n]
                self._order_pruned = False
            return list(self._order)
        self.orders_computed += 1
        nodes = self.nodes
        # the common case after building: every input made before its user, so creation
        # order is the order (each node, when reached, is the smallest ready one)
        if all(v.node.id < nid for nid, n in nodes.items() for v in n.inputs) and all(
            c.id < nid for nid, n in nodes.items() for c in n.control
        ):
            self._order, self._order_pruned = list(nodes.values()), False
            return list(self._order)
        # graph_walk.toposort's order, over the user lists the graph keeps: a node waits for
        # one release per input edge and control edge, and its producers release it through
        # their users, so no predecessor lists or sets are built
        pending: dict[int, int] = {}
        for nid, n in nodes.items():
            k = len(n.inputs) + len(n.control)
            if k:
                pending[nid] = k

        def released_by(nid: int) -> list[int]:
            n = nodes[nid]
            out = [u.id for edges in n.users for u, _i in edges._d.values()]
            out.extend(u.id for u in n.control_users._d.values())
            return out

        order = [nodes[i] for i in smallest_ready_first(list(nodes), pending, released_by)]
        if len(order) != len(nodes):
            stuck = sorted(nodes[i].name for i in pending)
            raise ValueError(f"the graph has a cycle through: {', '.join(stuck[:10])}")
        self._order, self._order_pruned = order, False
        return list(order)

    def set_order(self, order: list[Node]) -> None:
        """Make `order` what topo_order returns until the next edit that adds a node or an
        edge: a pass that chooses among the valid orders (memory-aware ordering) states its
        choice here. It must hold every node once, each after its inputs and control
        predecessors; anything else is a ValueError."""
        nodes = self.nodes
        pos = {n.id: k for k, n in enumerate(order)}
        if len(pos) != len(order) or len(order) != len(nodes) or any(nodes.get(i) is None for i in pos):
            raise ValueError("an order must hold every node of the graph exactly once")
        for k, n in enumerate(order):
            for p in _predecessors(n):
                if pos[p.id] >= k:
                    raise ValueError(f"{n.name} is ordered before its predecessor {p.name}")
        self._order, self._order_pruned = list(order), False

    def live(self) -> set[Node]:
        """The nodes some fetch or target needs (graph_walk.prune from them)."""
        return set(prune([f.node for f in self.fetches] + list(self.targets), _predecessors))

    # --- checking ---------------------------------------------------------------------------
    def verify(self) -> None:
        """Raise AssertionError naming the first broken invariant: edges and user lists agree,
        inputs and fetches are members, the graph is acyclic, every input's shape and dtype is
        what its producer declares, and every output has a concrete shape."""
        for n in self.nodes.values():
            where = f"IR node {n.name} ({n.type})"
            assert n.graph is self, f"{where}: belongs to another graph"
            assert len(n.shapes) == len(n.dtypes), (
                f"{where}: {len(n.shapes)} shapes for {len(n.dtypes)} dtypes"
            )
            for s in n.shapes:
                assert all(isinstance(d, int) and d >= 0 for d in s), f"{where}: shape {s} is not concrete"
            for i, v in enumerate(n.inputs):
                assert self.nodes.get(v.node.id) is v.node, f"{where}: input {i} reads a removed node"
                assert v.index < len(v.node.shapes), f"{where}: input {i} reads a missing output"
                assert (n, i) in v.node.users[v.index], f"{where}: input {i} not among its producer's users"
            for j, users in enumerate(n.users):
                for u, i in users:
                    assert self.nodes.get(u.id) is u, f"{where}: output {j} used by removed {u.name}"
                    assert i < len(u.inputs) and u.inputs[i] == Value(n, j), (
                        f"{where}: output {j} lists {u.name} input {i}, which reads {u.inputs[i]!r}"
                    )
            for c in n.control:
                assert self.nodes.get(c.id) is c, f"{where}: waits for removed {c.name}"
                assert n in c.control_users, f"{where}: control edge from {c.name} not mirrored"
            for u in n.control_users:
                assert n in u.control, f"{where}: control user {u.name} does not list it"
        at: dict = {}
        for k, f in enumerate(self.fetches):
            assert self.nodes.get(f.node.id) is f.node, f"fetch {f!r} reads a removed node"
            at.setdefault(f, []).append(k)
        assert at == {v: sorted(ks) for v, ks in self._fetch_at.items() if ks}, "fetch index out of date"
        for t in self.targets:
            assert self.nodes.get(t.id) is t, f"target {t.name} was removed"
        self.topo_order()  # raises on a cycle

    # --- text -------------------------------------------------------------------------------
    def dump(self) -> str:
        """One line per node in execution order: name = type(inputs) attrs -> shapes; origin."""
        lines = []
        fetched = {f: k for k, f in enumerate(self.fetches)}
        for n in self.topo_order():
            ins = ", ".join(repr(v) for v in n.inputs)
            ctrl = "".join(f", ^{c.name}" for c in n.control)
            outs = ", ".join(f"{dt.name}{list(s)}" for s, dt in zip(n.shapes, n.dtypes))
            attrs = _fmt_attrs(n.attrs)
            origin = ",".join(o.name for o in n.origin)
            marks = "".join(f"  [fetch {fetched[v]}]" for v in n.outputs if v in fetched)
            if n in self.targets:
                marks += "  [target]"
            lines.append(f"{n.name} = {n.type}({ins}{ctrl}){attrs} -> {outs}  # {origin}{marks}")
        return "\n".join(lines) + "\n"


def merged_origin(nodes: Iterable[Node]) -> tuple:
    """The user ops `nodes` stand for, in order, each once: the provenance of a node that
    replaces them (a fused group, a pattern)."""
    return tuple(dict.fromkeys(itertools.chain.from_iterable(n.origin for n in nodes)))


def _fmt_attrs(attrs: dict) -> str:
    parts = []
    for k in sorted(attrs):
        v = attrs[k]
        text = _short(v)
        if text is not None:
            parts.append(f"{k}={text}")
    return " {" + ", ".join(parts) + "}" if parts else ""


def _short(v: Any) -> str | None:
    import numpy as np

    if isinstance(v, np.ndarray):
        if v.size <= 8:
            return np.array2string(v.reshape(-1), separator=",").replace("\n", "")
        return f"<{v.dtype}{list(v.shape)}>"
    if isinstance(v, dtypes.DType):
        return v.name
    if callable(v):
        return None
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _predecessors(n: Node) -> list[Node]:
    return [v.node for v in n.inputs] + n.control
