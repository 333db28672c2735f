"""Copy insertion: a host<->device copy wherever a value crosses between memories.

After placement, each node's device says which memory its kernels read and write: the
host's (the CPU) or one device's. Where a node reads a value made in another memory, a
copy node comes between them (ops/transfer.py): an `_Upload` on the reading device, or a
`_Download` on the producing device; device to another device goes through the host. One
copy per value and destination memory, whatever the number of readers there. Fetched
values on a device are downloaded once per run and fed values (host memory) uploaded once
per run by the same rule. Not copied:
- inputs a kernel never reads (values the lowering takes while planning: shapes, axes);
- constants (static nodes): the plan keeps a copy in each memory that reads them,
  uploaded once when the plan is built;
- variables: a variable's readers and writers are placed with it (placement's
  colocation), so it lives in its device's memory across runs.
"""

from __future__ import annotations

from staticflow.compiler.build import flat_args
from staticflow.compiler.ir import FEED
from staticflow.framework import backend
from staticflow.ops import transfer  # noqa: F401  (registers the copy ops)
from staticflow.ops.transfer import DOWNLOAD_OP, UPLOAD_OP


def memory(device: str) -> str:
    """The memory a node on `device` works in: "" for the host, else the device's name."""
    return "" if backend.is_host(device) else device


def output_memory(node) -> str:
    """The memory `node`'s outputs are in (a download runs on its device, writes the host's)."""
    if node.opdef is not None and node.opdef.transfer == "download":
        return ""
    return memory(node.device)


def run(ir, ctx) -> int:
    if not backend.has_devices():
        return 0
    nodes = ir.topo_order()
    if all(memory(n.device) == "" for n in nodes):
        return 0
    copies: dict = {}  # (value, destination memory) -> the copy's output

    def copy_of(v, dst: str):
        key = (v, dst)
        got = copies.get(key)
        if got is not None:
            return got
        src = output_memory(v.node)
        if src and dst:  # device to device: through the host
            out = copy_of(copy_of(v, ""), dst)
        elif dst:
            out = _add(ir, UPLOAD_OP, v, dst)
        else:
            out = _add(ir, DOWNLOAD_OP, v, v.node.device)
        copies[key] = out
        return out

    for n in nodes:
        if n.type == FEED or n.opdef is None or not n.inputs:
            continue
        if n.opdef.transfer is not None:
            continue
        dst = memory(n.device)
        args = flat_args(n.opdef, n.attrs)
        for i, (a, v) in enumerate(zip(args, list(n.inputs))):
            p = v.node
            if a.host or (p.opdef is not None and p.opdef.static):
                continue
            if output_memory(p) != dst:
                ir.set_input(n, i, copy_of(v, dst))
    for v in list(ir.fetches):
        if output_memory(v.node) and not (v.node.opdef is not None and v.node.opdef.static):
            ir.replace_fetches(v, copy_of(v, ""))
    if copies:
        ups = sum(1 for (_v, d) in copies if d)
        ctx.notes.append(f"{ups} uploads, {len(copies) - ups} downloads")
    return len(copies)


def _add(ir, op_type: str, v, device: str):
    node = ir.add(
        op_type,
        [v],
        {"T": v.dtype},
        [v.shape],
        [v.dtype],
        origin=v.node.origin or ((v.node.tensor.op,) if v.node.tensor is not None else ()),
        name=f"{v.node.name}/{'upload' if op_type == UPLOAD_OP else 'download'}",
        device=device,
    )
    return node.output(0)
