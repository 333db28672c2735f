"""The copies between host and device memory that copy insertion adds to a plan's IR.

`_Upload` runs on a device and copies a tensor from host memory into the device's;
`_Download` runs on a device and copies one of its tensors into host memory. Each lowers
to one call of the device's transfer kernel (framework.backend.UPLOAD / DOWNLOAD) on the
session's stream, so the copies take their place in the stream's order between the
device's kernels. Only the compiler makes them (passes/copy_insertion.py).
"""

from __future__ import annotations

from staticflow.framework import backend
from staticflow.ops.lowering import KernelCall, LowerContext
from staticflow.ops.registry import Arg, Attr, op

UPLOAD_OP = "_Upload"
DOWNLOAD_OP = "_Download"


def _lower(symbol: str):
    def lower(ctx: LowerContext) -> None:
        if any(n == 0 for n in ctx.in_shapes[0]):
            return  # nothing to copy: an empty tensor
        ctx.calls.append(KernelCall(symbol, [ctx.inp(0)], [ctx.out(0)]))

    return lower


for _name, _symbol, _kind, _doc in (
    (UPLOAD_OP, backend.UPLOAD, "upload", "A tensor copied from host memory into its device's."),
    (DOWNLOAD_OP, backend.DOWNLOAD, "download", "A tensor copied from its device's memory to the host."),
):
    op(
        name=_name,
        inputs=[Arg("input", type_attr="T")],
        outputs=[Arg("output", type_attr="T")],
        attrs=[Attr("T", "type")],
        shape_fn=lambda c: [c.shape(0)],
        ref=lambda ins, a: ins[0],
        lower=_lower(_symbol),
        internal=True,
        differentiable=False,
        transfer=_kind,
        cases=lambda rng: [],
        tested_by="tests/devices/test_copies.py",
        doc=_doc,
    )
