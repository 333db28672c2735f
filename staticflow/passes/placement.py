"""Placement: every node of a plan gets the device it runs on.

A node's requested device is the `sf.device` scope of the user ops it stands for (a node a
pass made carries its origin's). The devices a session may use are the CPU and, per device
type a backend serves (a CUDA GPU, or the simulated device a test installs), as many as
the backend has, bounded by `ConfigProto.device_count`. A node can run on a device when
its lowering there calls only kernels the device's backend has (`Backend.has_kernel`,
asked of the calls a trial lowering makes: the kernel table decides, never a list of op
names); ops that run on the host (strings, Python references, sources, resources, calls of
functions) run on the CPU.

Colocation, as TensorFlow's: a variable, the ops that take it by reference (assignments,
optimizer updates) and the identities that read it directly form one group and are
placed together, so that a variable lives in one device's memory. A group goes to its
requested device when every member (and every op of the user graph that takes the
variable by reference, so that each plan of a session places a variable alike) has a
kernel there; a group without a request goes to the first GPU when it can, else the CPU.
Otherwise, with `allow_soft_placement` it falls back to the CPU, and without it the run
fails with TensorFlow's message naming the op, the device, the reason and the user's line.

Constants (static nodes) are placed like any node but read wherever their consumers run:
the plan keeps one copy per device, uploaded once when the plan is built.
"""

from __future__ import annotations

from staticflow.compiler.build import flat_args, where
from staticflow.framework import backend, dtypes, errors
from staticflow.ops import registry
from staticflow.ops.lowering import HostCall, LowerContext

CPU = backend.full_name("CPU", 0)


def run(ir, ctx) -> int:
    opts = ctx.options
    available = _available(opts)
    requests = {n.id: _requested(n) for n in ir.nodes.values()}
    if len(available) == 1 and not any(requests.values()):
        return 0  # no device but the CPU, none asked for: every node stays where it is
    groups = _colocation_groups(ir)
    changed = 0
    homes = opts.variable_devices
    for members in groups:
        device = _home(members, homes, available, ctx)
        if device is None:
            device = _choose(members, requests, available, ctx, opts.soft_placement)
        for n in members:
            if n.device != device:
                n.device = device
                changed += 1
    if changed:
        on = sorted({n.device for n in ir.nodes.values()} - {CPU})
        moved = sum(n.device != CPU for n in ir.nodes.values())
        ctx.notes.append(f"{moved} nodes on {', '.join(on) or 'CPU'}")
    return changed


def _available(opts) -> dict[str, int]:
    """Device type -> how many of it the session may use (the CPU: one)."""
    out = {"CPU": 1}
    limits = opts.device_count
    for be in backend.registered():
        t = be.device_type.upper()
        if t == "CPU":
            continue
        n = be.device_count()
        if t in limits:
            n = min(n, limits[t])
        if n > 0:
            out[t] = n
    return out


def _requested(node) -> str:
    """The device the user asked for: the first non-empty scope of the ops it stands for."""
    for op in node.origin:
        if op.device:
            return op.device
    return node.device if node.type != "_Feed" else ""


def _colocation_groups(ir) -> list[list]:
    parent = {nid: nid for nid in ir.nodes}

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for n in ir.nodes.values():
        d = n.opdef
        if d is None or not n.inputs:
            continue
        args = flat_args(d, n.attrs)
        for a, v in zip(args, n.inputs):
            src = v.node
            reads_var = src.type == "VariableV2" and (a.ref or d.identity_of is not None)
            if reads_var:
                parent[find(n.id)] = find(src.id)
    groups: dict[int, list] = {}
    for nid, n in ir.nodes.items():
        groups.setdefault(find(nid), []).append(n)
    return list(groups.values())


def _home(members, homes: dict, available: dict, ctx) -> str | None:
    """Where the group's variable lives in the session, when it can stay there (so that a
    variable is not moved between plans); None to choose afresh."""
    var = next((n for n in members if n.type == "VariableV2" and n.origin), None)
    if var is None or var.origin[0].name not in homes:
        return None
    home = homes[var.origin[0].name]
    if not home:
        return CPU
    t = backend.device_type(home)
    if (backend.device_index(home) or 0) >= available.get(t, 0):
        return None
    return home if _unsupported(members, backend.for_device(home), ctx) is None else None


def _choose(members, requests, available, ctx, soft: bool) -> str:
    if any(n.type == "_Feed" for n in members):
        return CPU  # fed values arrive in host memory
    asked = next((requests[n.id] for n in members if requests[n.id]), "")
    if asked:
        t = backend.device_type(asked)
        index = backend.device_index(asked) or 0
        if t == "CPU":
            return CPU
        if t not in available or index >= available[t]:
            if soft:
                return CPU
            raise _error(members, asked, available, None)
        be = backend.for_device(asked)
        why = _unsupported(members, be, ctx)
        if why is None:
            return backend.full_name(t, index)
        if soft:
            return CPU
        raise _error(members, asked, available, why)
    for t in available:
        if t == "CPU":
            continue
        be = backend.for_device(t)
        if _unsupported(members, be, ctx) is None:
            return backend.full_name(t, 0)
    return CPU


def _unsupported(members, be, ctx):
    """None when every member can run on `be`'s device, else (the node, why not)."""
    for n in members:
        why = _why_not(n, be, ctx)
        if why is not None:
            return n, why
    var = next((n for n in members if n.type == "VariableV2"), None)
    if var is not None and var.origin:
        for consumer in var.origin[0].outputs[0].consumers():
            d = registry.lookup(consumer.type)
            if d is None or not any(a.ref for a in d.inputs):
                continue
            if not _declares_kernel(d, var.dtypes[0], be):
                why = f"{consumer.type} op '{consumer.name}' updates it and has no {be.device_type} kernel"
                return None, why
    return None


def _declares_kernel(d, dtype, be) -> bool:
    """Whether `be` has a kernel of op record `d` for `dtype`, from the kernels it declares."""
    suffix = f"_{dtype.base_dtype.name}" if hasattr(dtype, "base_dtype") else f"_{dtype.name}"
    ks = [k for k in d.kernels if k.endswith(suffix)] or list(d.kernels)
    return bool(ks) and all(be.has_kernel(k) for k in ks)


def _why_not(node, be, ctx) -> str | None:
    """None when `node` can run on `be`'s device, else why not (TensorFlow's words)."""
    d = node.opdef
    if d is None:
        return "it is not an op"
    if d.static or d.transfer is not None:
        return None  # constants are copied where they are read; copies run on their device
    if node.type == "VariableV2":
        objects = any(dtypes.holds_objects(dt) for dt in node.dtypes)
        return "strings live in host memory" if objects else None
    if d.source is not None or d.resource is not None or d.lower is None:
        return f"no supported kernel for {be.device_type} devices is available"
    in_dtypes = [v.dtype for v in node.inputs]
    if registry.runs_on_host(d, in_dtypes, node.dtypes):
        return f"no supported kernel for {be.device_type} devices is available"
    args = flat_args(d, node.attrs)
    try:
        values = [
            ctx.evaluator.value(v, f"input {i} of {node.type} op '{node.name}'") if a.host else None
            for i, (a, v) in enumerate(zip(args, node.inputs))
        ]
        lc = LowerContext(
            d, node.name, node.attrs, [v.shape for v in node.inputs], in_dtypes, list(node.shapes),
            list(node.dtypes), values, backend=be,
        )
        d.lower(lc)
    except Exception:  # noqa: BLE001 - a lowering that needs what a trial cannot give (functions)
        return f"no supported kernel for {be.device_type} devices is available"
    for call in lc.calls:
        if isinstance(call, HostCall) or call.fn is not None or not be.has_kernel(call.symbol):
            return f"no supported kernel for {be.device_type} devices is available"
    return None


def _error(members, asked: str, available: dict, why):
    node = why[0] if why and why[0] is not None else next((n for n in members if n.origin), members[0])
    op = node.origin[0] if node.origin else None
    name = op.name if op is not None else node.name
    spec = _short_device(asked)
    if why is None:
        devices = ", ".join(backend.full_name(t, i) for t, n in available.items() for i in range(n))
        msg = (
            f"Cannot assign a device for operation {name}: {{{{node {name}}}}} was explicitly assigned to "
            f"{spec} but available devices are [ {devices} ]. Make sure the device specification refers "
            f"to a valid device."
        )
        if backend.device_type(asked) == "GPU":
            msg += " The requested device appears to be a GPU, but CUDA is not enabled."
    else:
        msg = (
            f"Cannot assign a device for operation {name}: Could not satisfy explicit device "
            f"specification '{spec}' because {why[1]}"
        )
        if len(members) > 1:
            others = sorted(m.name for m in members if m is not node)[:4]
            msg += f" (it is colocated with {', '.join(others)})"
    return errors.InvalidArgumentError(None, op, msg + where(node))


def _short_device(device: str) -> str:
    """/device:GPU:0 from any spelling of a device (TensorFlow's way of naming it in errors)."""
    return f"/device:{backend.device_type(device)}:{backend.device_index(device) or 0}"
