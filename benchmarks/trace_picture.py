"""Draw a Chrome trace written by `sf.profiler.Timeline` as a picture of its thread lanes.

One row per thread that ran kernels, one box per kernel call (the ops of a fused kernel
share their call's span, so they make one box, labelled with their op types joined by
"+"), time in milliseconds from the step's first call. It is what Perfetto shows, as a
PNG that fits in a README. Needs matplotlib.

Run: ``python benchmarks/trace_picture.py TRACE.json OUT.png [--title TEXT]``; the README's
picture comes from ``python benchmarks/bench_cnn.py --model wide --trace-dir DIR`` then
this script on DIR/wide_step_trace.json.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict


def kernel_calls(trace: dict) -> dict[int, list[tuple[float, float, str]]]:
    """{thread id: [(start us, duration us, label)]}, one entry per kernel call."""
    spans: dict[tuple, list[str]] = defaultdict(list)
    for e in trace["traceEvents"]:
        if e.get("ph") == "X":
            spans[(e["tid"], e["ts"], e["dur"])].append(e["args"].get("op", e["name"]))
    lanes: dict[int, list] = defaultdict(list)
    for (tid, ts, dur), ops in spans.items():
        lanes[tid].append((float(ts), float(dur), "+".join(sorted(set(ops)))))
    return lanes


def thread_names(trace: dict) -> dict[int, str]:
    return {
        e["tid"]: e["args"]["name"]
        for e in trace["traceEvents"]
        if e.get("ph") == "M" and e.get("name") == "thread_name"
    }


def draw(trace: dict, out: str, title: str = "") -> None:
    """Write the lanes of `trace` to the PNG `out`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lanes = kernel_calls(trace)
    names = thread_names(trace)
    t0 = min(ts for calls in lanes.values() for ts, _, _ in calls)
    t1 = max(ts + d for calls in lanes.values() for ts, d, _ in calls)
    kinds = sorted({label for calls in lanes.values() for _, _, label in calls})
    palette = plt.get_cmap("tab20")
    color = {k: palette(i % 20) for i, k in enumerate(kinds)}
    tids = sorted(lanes)
    legend_rows = -(-len(kinds) // 4)
    lanes_h, legend_h = 0.9 + 0.55 * len(tids), 0.2 + 0.17 * legend_rows
    fig, ax = plt.subplots(figsize=(11, lanes_h + legend_h), dpi=110)
    for row, tid in enumerate(tids):
        for ts, dur, label in lanes[tid]:
            x, w = (ts - t0) / 1e3, dur / 1e3
            ax.broken_barh([(x, w)], (row - 0.38, 0.76), facecolors=color[label], edgecolor="white", lw=0.4)
            if w > (t1 - t0) / 1e3 * 0.06:  # label only the boxes wide enough to read
                ax.text(x + w / 2, row, label, ha="center", va="center", fontsize=6.5, clip_on=True)
    ax.set_yticks(range(len(tids)), [names.get(t, str(t)) for t in tids])
    ax.set_ylim(len(tids) - 0.5, -0.5)
    ax.set_xlim(0, (t1 - t0) / 1e3)
    ax.set_xlabel("ms from the step's first kernel call")
    if title:
        ax.set_title(title, fontsize=9)
    handles = [plt.Rectangle((0, 0), 1, 1, color=color[k]) for k in kinds]
    fig.legend(handles, kinds, fontsize=6.5, ncol=4, loc="lower center", frameon=False)
    fig.tight_layout(rect=(0, legend_h / (lanes_h + legend_h), 1, 1))
    fig.savefig(out)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("trace", help="a Chrome trace from sf.profiler.Timeline")
    ap.add_argument("out", help="the PNG to write")
    ap.add_argument("--title", default="")
    args = ap.parse_args()
    with open(args.trace) as f:
        trace = json.load(f)
    draw(trace, args.out, args.title)
    print(f"wrote {args.out}: {sum(len(c) for c in kernel_calls(trace).values())} kernel calls")


if __name__ == "__main__":
    main()
