"""sf.profiler: a traced run's op timings as a Chrome trace (TF1's client `timeline` module).

    md = sf.RunMetadata()
    sess.run(train, options=sf.RunOptions(trace_level=sf.RunOptions.FULL_TRACE), run_metadata=md)
    with open("step.json", "w") as f:
        f.write(sf.profiler.Timeline(md.step_stats).generate_chrome_trace_format())

The file opens in Perfetto (ui.perfetto.dev) and chrome://tracing: one process per device,
one lane per thread that ran ops and per device stream (its steps' device time), one box
per op (its type as the title; its name, inputs and the user's source line as arguments),
and arrows from each op to the ops that read its outputs. A fused kernel's box is drawn
once per user op it stands for, with the same span.
"""

from __future__ import annotations

import json

__all__ = ["Timeline"]


def _parse_label(label: str) -> tuple[str, list[str], str]:
    """(op type, input tensor names, the rest) of a timeline label written by the Session:
    "name = Type(in0, in1) @ file:line [Fused: a, b]". TensorFlow's own labels, "name =
    Type(in0, in1)", parse the same way."""
    _, sep, rhs = label.partition(" = ")
    if not sep:
        return label, [], ""
    op_type, paren, rest = rhs.partition("(")
    if not paren:
        return op_type.strip(), [], ""
    args, _, tail = rest.partition(")")
    inputs = [a.strip() for a in args.split(",") if a.strip()]
    return op_type.strip(), inputs, tail.strip()


class Timeline:
    """A Chrome trace of `step_stats` (a StepStats, staticflow's or TensorFlow's: the wire
    format is the same), as TF1's `timeline.Timeline`."""

    def __init__(self, step_stats, graph=None):
        self._step_stats = step_stats
        self._graph = graph  # accepted as TF1 does; the labels already name every input

    def generate_chrome_trace_format(self, show_dataflow: bool = True, show_memory: bool = False) -> str:
        """The trace as a JSON string in the Chrome trace event format: metadata events
        naming each device's process and each thread's lane, a complete ("X") event per op
        (microseconds since the epoch), and with `show_dataflow` a flow arrow from the op
        that produced each input to the op that read it."""
        if show_memory:
            raise ValueError(
                "Timeline.generate_chrome_trace_format(show_memory=True): the step stats carry no "
                "allocation records to draw; the plan's memory figures are in RunMetadata"
            )
        events: list[dict] = []
        ends: dict[str, tuple[int, int, int]] = {}  # op name -> (pid, tid, end us) of its last box
        reads: list[tuple[str, int, int, int]] = []  # (producer op, pid, tid, start us)
        for pid, dev in enumerate(self._step_stats.dev_stats):
            events.append(_meta("process_name", pid, None, {"name": f"{dev.device} Compute"}))
            events.append(_meta("process_sort_index", pid, None, {"sort_index": pid}))
            tids: dict[int, int] = {}
            for ns in dev.node_stats:
                tid = int(ns.thread_id)
                if tid not in tids:
                    tids[tid] = len(tids)
                    lane = f"thread {tids[tid]}"
                    if "/stream:" in dev.device:  # a device stream's lane (its kernels' device time)
                        lane = "stream " + dev.device.rsplit("/stream:", 1)[1]
                    events.append(_meta("thread_name", pid, tid, {"name": lane}))
                op_type, inputs, rest = _parse_label(ns.timeline_label)
                start, dur = int(ns.all_start_micros), int(ns.all_end_rel_micros)
                args = {"name": ns.node_name, "op": op_type}
                for i, name in enumerate(inputs):
                    args[f"input{i}"] = name
                if rest:
                    args["where"] = rest
                if ns.kernel_threads:
                    args["kernel threads"] = int(ns.kernel_threads)
                events.append(
                    {"ph": "X", "cat": "Op", "name": op_type, "pid": pid, "tid": tid, "ts": start, "dur": dur,
                     "args": args}
                )
                ends[ns.node_name] = (pid, tid, start + dur)
                reads.extend((name.split(":")[0].lstrip("^"), pid, tid, start) for name in inputs)
        if show_dataflow:
            flow = 0
            for producer, pid, tid, start in reads:
                if producer not in ends:
                    continue  # a fed or constant input: nothing ran to make it
                p_pid, p_tid, p_end = ends[producer]
                events.append({"ph": "s", "cat": "DataFlow", "name": "dataflow", "id": flow, "pid": p_pid,
                               "tid": p_tid, "ts": p_end})
                events.append({"ph": "t", "cat": "DataFlow", "name": "dataflow", "id": flow, "pid": pid,
                               "tid": tid, "ts": start})
                flow += 1
        return json.dumps({"traceEvents": events}, separators=(",", ":"))


def _meta(name: str, pid: int, tid: int | None, args: dict) -> dict:
    event = {"ph": "M", "name": name, "pid": pid, "args": args}
    if tid is not None:
        event["tid"] = tid
    return event
