"""The plan-time pass pipeline: rewrites of one plan signature's IR, in order.

Each pass is one module with one entry point, ``run(ir, ctx) -> int`` (how many
nodes it changed), and reads op properties from the registry, never lists of op
names. The pipeline is `PIPELINE`; `optimize` runs it on an IR, skipping the
passes the session's config turns off (TensorFlow's own switches:
``ConfigProto.graph_options.rewrite_options`` and ``optimizer_options``).

`optimize` returns one `PassRecord` per pass (its time, the nodes before and
after, what it changed), logs them at DEBUG level on the ``staticflow.passes``
logger, and, when the environment variable STATICFLOW_DUMP_GRAPHS names a
directory, writes the IR after every pass there: its text (``.txt``), the
GraphDef text protobuf (``.pbtxt``), and a PNG where graphviz is installed.
With ``VERIFY`` set (the test suite sets it), the IR's verifier runs after
every pass.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from staticflow.compiler.ir import IRGraph

log = logging.getLogger("staticflow.passes")

# run IRGraph.verify() after every pass (tests turn it on; STATICFLOW_VERIFY_IR=1 too)
VERIFY = bool(os.environ.get("STATICFLOW_VERIFY_IR"))
DUMP_ENV = "STATICFLOW_DUMP_GRAPHS"
DEFAULT_MAX_FOLDED_BYTES = 10 << 20  # TensorFlow's default for max_folded_constant_in_bytes


@dataclass
class Options:
    """Which passes run and their limits, read from a ConfigProto (or the defaults)."""

    enabled: dict[str, bool] = field(default_factory=dict)
    max_folded_bytes: int = DEFAULT_MAX_FOLDED_BYTES
    memory_optimization: int = 0  # RewriterConfig.MemOptType (0: DEFAULT_MEM_OPT)
    # placement (ConfigProto): ops without a kernel on their requested device fall back to the
    # CPU; device type -> most devices of it the session uses (ConfigProto.device_count)
    soft_placement: bool = False
    device_count: dict[str, int] = field(default_factory=dict)
    # variable name -> the memory it lives in ("" the host, else a device's full name): the
    # session's, so that placement keeps a variable where earlier plans put it
    variable_devices: dict[str, str] = field(default_factory=dict)

    def on(self, name: str) -> bool:
        return self.enabled.get(name, True)


@dataclass
class PassContext:
    """What a pass may use besides the IR: the evaluator of plan-time values and options."""

    evaluator: object
    options: Options
    notes: list[str] = field(default_factory=list)  # what the running pass did, for the log


@dataclass(frozen=True)
class Pass:
    name: str
    run: Callable[[IRGraph, PassContext], int]
    doc: str
    # not an optimization: runs whatever the config turns off, and has a record only when it
    # changed something (placement, copy insertion: a plan on devices needs them)
    required: bool = False


@dataclass
class PassRecord:
    name: str
    seconds: float
    nodes_before: int
    nodes_after: int
    changed: int
    notes: list[str]

    def __str__(self) -> str:
        what = "; ".join(self.notes[:3]) + (" ..." if len(self.notes) > 3 else "")
        return (
            f"{self.name}: {self.changed} changed, {self.nodes_before} -> {self.nodes_after} nodes, "
            f"{self.seconds * 1e3:.2f} ms{': ' + what if what else ''}"
        )


def _pipeline() -> list[Pass]:
    from staticflow.passes import (
        arithmetic,
        copy_insertion,
        cse,
        dce,
        fold,
        fusion,
        inline,
        loop_invariant,
        loops,
        memory_order,
        placement,
        recompute,
        remap,
    )

    return [
        Pass("function_optimization", inline.run, "a cond on a constant predicate becomes its taken branch"),
        Pass(
            "loop_optimization",
            lambda ir, ctx: loops.run(ir, ctx) + loop_invariant.run(ir, ctx),
            "a loop and its gradient's replay: the replay alone runs; invariant values of a loop "
            "body run once, before it",
        ),
        Pass("constant_folding", fold.run, "computes nodes whose inputs are all constants"),
        Pass("arithmetic_optimization", arithmetic.run, "algebraic identities, chains of views and casts"),
        Pass("common_subgraph_elimination", cse.run, "merges nodes that compute the same value"),
        Pass("remapping", remap.run, "fuses products with their epilogue, bias and activation gradients"),
        # placement before elementwise fusion: a group is made of one device's nodes and
        # lowered by that device's backend (C on the CPU, NVRTC on a GPU)
        Pass("placement", placement.run, "gives every node a device: its scope's, where it has the kernels",
             required=True),
        Pass("elementwise_fusion", fusion.run, "groups of elementwise ops become one generated kernel"),
        Pass("recomputation", recompute.run, "backward readers of forward values read recomputed copies"),
        Pass("copy_insertion", copy_insertion.run, "host<->device copies where a value crosses memories",
             required=True),
        Pass("dead_node_elimination", dce.run, "drops nodes nothing fetched or targeted needs"),
        Pass("memory_ordering", memory_order.run, "orders the nodes for a lower peak of live bytes"),
    ]


def options_from_config(config) -> Options:
    """The passes a session's ConfigProto turns on, with TensorFlow's meaning of its fields."""
    opts = Options()
    if config is None:
        return opts
    opts.soft_placement = bool(config.allow_soft_placement)
    opts.device_count = {k.upper(): int(v) for k, v in config.device_count.items()}
    visible = config.gpu_options.visible_device_list.strip()
    if visible:  # GPUs the session may see: as many as the list names
        n = len([v for v in visible.split(",") if v.strip()])
        opts.device_count["GPU"] = min(opts.device_count.get("GPU", n), n)
    go = config.graph_options
    rw, oo = go.rewrite_options, go.optimizer_options
    off = rw.OFF
    level_zero = oo.opt_level == oo.L0
    opts.enabled = {
        "function_optimization": rw.function_optimization != off,
        "loop_optimization": rw.loop_optimization != off,
        "constant_folding": rw.constant_folding != off and (not level_zero or oo.do_constant_folding),
        "arithmetic_optimization": rw.arithmetic_optimization != off,
        "common_subgraph_elimination": rw.common_subgraph_elimination != off
        and (not level_zero or oo.do_common_subexpression_elimination),
        "remapping": rw.remapping != off,
        "elementwise_fusion": rw.elementwise_fusion != off,
        "dead_node_elimination": not rw.disable_model_pruning,
        **_memory_switches(rw),
    }
    opts.memory_optimization = int(rw.memory_optimization)
    if rw.disable_meta_optimizer:
        opts.enabled = {k: False for k in opts.enabled}
    if oo.max_folded_constant_in_bytes > 0:
        opts.max_folded_bytes = int(oo.max_folded_constant_in_bytes)
    return opts


def _memory_switches(rw) -> dict[str, bool]:
    """The memory passes that RewriterConfig.memory_optimization turns on.

    NO_MEM_OPT turns them all off. Outputs written in place over a dying input
    ("memory_in_place", done while the plan assigns buffers) stay on for every other value.
    Memory-aware ordering ("memory_ordering") is TensorFlow's scheduling heuristic: on for
    DEFAULT_MEM_OPT, HEURISTICS and SCHEDULING_HEURISTICS, off for the values that name
    other techniques alone (MANUAL, SWAPPING_HEURISTICS, RECOMPUTATION_HEURISTICS).
    Recomputation ("recomputation") runs for every value but NO_MEM_OPT: unmarked nodes
    only under HEURISTICS and RECOMPUTATION_HEURISTICS (the pass reads the value itself),
    nodes marked by recompute_grad always, as TensorFlow's recompute_grad needs no option."""
    m = rw.memory_optimization
    if m == rw.NO_MEM_OPT:
        return {"memory_ordering": False, "memory_in_place": False, "recomputation": False}
    return {
        "memory_ordering": m in (rw.DEFAULT_MEM_OPT, rw.HEURISTICS, rw.SCHEDULING_HEURISTICS),
        "memory_in_place": True,
        "recomputation": True,
    }


_runs = itertools.count()


def optimize(
    ir: IRGraph,
    evaluator,
    options: Options | None = None,
    built: dict[str, int] | None = None,
    done: frozenset = frozenset(),
) -> list[PassRecord]:
    """Run the pipeline on `ir` in place; one record per pass that ran. `built`: how many
    nodes each pass's rules replaced while the IR was built (passes.early), counted in its
    record; `done`: the passes whose rules saw every node while building, so that running
    them again would change nothing (their records then count the building's work only)."""
    options = options or Options()
    dump_dir = os.environ.get(DUMP_ENV)
    run_id = next(_runs)
    if dump_dir:
        _dump(ir, dump_dir, run_id, 0, "input")
    if VERIFY:
        ir.verify()
    records = []
    for k, p in enumerate(_pipeline(), start=1):
        if not p.required and not options.on(p.name):
            continue
        ctx = PassContext(evaluator, options)
        before = len(ir)
        t0 = time.perf_counter()
        changed = 0 if p.name in done else p.run(ir, ctx)
        early = (built or {}).get(p.name, 0)
        if early:
            ctx.notes.insert(0, f"{early} nodes while building")
        rec = PassRecord(p.name, time.perf_counter() - t0, before, len(ir), changed + early, ctx.notes)
        if p.required and not rec.changed:
            continue
        records.append(rec)
        log.debug("%s", rec)
        if VERIFY:
            try:
                ir.verify()
            except AssertionError as e:
                raise AssertionError(f"the IR is broken after pass {p.name}: {e}") from None
        if dump_dir:
            _dump(ir, dump_dir, run_id, k, p.name)
    return records


def _dump(ir: IRGraph, directory: str, run_id: int, k: int, name: str) -> None:
    """The IR after pass k: text, GraphDef text protobuf, and a PNG when graphviz can draw it."""
    from google.protobuf import text_format

    from staticflow.compiler.export import to_graph_def

    os.makedirs(directory, exist_ok=True)
    stem = os.path.join(directory, f"plan{os.getpid()}-{run_id:04d}_{k:02d}_{name}")
    with open(stem + ".txt", "w") as f:
        f.write(ir.dump())
    gd = to_graph_def(ir)
    with open(stem + ".pbtxt", "w") as f:
        f.write(text_format.MessageToString(gd))
    try:
        from staticflow import viz

        viz.draw(gd, stem + ".png")
    except Exception as e:  # noqa: BLE001 - drawing is a convenience: no graphviz, no picture
        log.debug("no drawing of %s: %s", stem, e)
