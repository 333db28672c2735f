"""assert_no_new_plans: catch a run signature that changes every step.

A Session plans each (fetches, feeds, feed shapes and dtypes) signature once and
reuses the plan. A feed whose shape changes every step (a last partial batch,
sequences of varying length) or a fed value the plan depends on (a shape
argument) makes it plan again, every time. Warm up with the runs whose plans
you expect, then run the steady state inside ``with assert_no_new_plans(sess):``.
"""

from __future__ import annotations

import numpy as np


def _plans(session) -> list[tuple[tuple, object]]:
    return [(key, p) for key, ps in session._plans.items() for p in ps]


def _element_names(graph, ids) -> list[str]:
    """Names of the tensors/ops whose ids a plan key holds."""
    by_id = {}
    for op in graph.get_operations():
        by_id[id(op)] = op.name
        for t in op.outputs:
            by_id[id(t)] = t.name
    return [by_id.get(i, "?") for i in ids]


def _dtype_name(dtype_str: str) -> str:
    try:
        return np.dtype(dtype_str).name
    except TypeError:
        return dtype_str


def _fmt_feeds(sig) -> str:
    return (
        ", ".join(f"'{name}' {_dtype_name(dtype)} {tuple(shape)}" for name, shape, dtype in sig) or "no feeds"
    )


def _why(key, plan, earlier: list[tuple[tuple, object]]) -> str:
    """What distinguishes a new plan from the earlier plans of the same fetches."""
    same_fetches = [(k, p) for k, p in earlier if k[:2] == key[:2]]
    if not same_fetches:
        return "no earlier plan had these fetches"
    feeds = {name: (tuple(shape), dtype) for name, shape, dtype in key[2]}
    prev_key, prev_plan = same_fetches[-1]
    prev = {name: (tuple(shape), dtype) for name, shape, dtype in prev_key[2]}
    changes = []
    for name in sorted(set(feeds) | set(prev)):
        if name not in prev:
            changes.append(f"'{name}' is fed now and was not before")
        elif name not in feeds:
            changes.append(f"'{name}' was fed before and is not now")
        elif feeds[name] != prev[name]:
            (s1, d1), (s0, d0) = feeds[name], prev[name]
            what = f"shape {s0} -> {s1}" if s0 != s1 else f"dtype {_dtype_name(d0)} -> {_dtype_name(d1)}"
            changes.append(f"feed '{name}' changed {what}")
    if not changes and key == prev_key:
        for t, v in plan.value_feeds.items():
            old = prev_plan.value_feeds.get(t)
            changes.append(
                f"the value fed to '{t.name}' changed ({old.tolist() if old is not None else '?'} -> "
                f"{v.tolist()}), and the plan depends on it (a shape or other planning-time argument)"
            )
    return "; ".join(changes) or "the signature differs from the earlier plans"


class assert_no_new_plans:  # noqa: N801 - used as a function: `with assert_no_new_plans(sess):`
    """Fail when the block makes `session` build more than `allowed` new plans.

    The message names each new plan's fetches and feeds and says what changed
    since the previous plan of the same fetches (a feed's shape or dtype, or a
    fed value the plan depends on)."""

    def __init__(self, session, allowed: int = 0):
        self.session = session
        self.allowed = allowed
        self._before: list = []

    def __enter__(self):
        self._before = _plans(self.session)
        return self.session

    def __exit__(self, exc_type, exc, tb):
        __tracebackhide__ = True
        if exc_type is not None:
            return False
        seen = {id(p) for _, p in self._before}
        new = [(k, p) for k, p in _plans(self.session) if id(p) not in seen]
        if len(new) > self.allowed:
            raise AssertionError(self._message(new))
        return False

    def _message(self, new) -> str:
        session = self.session
        lines = [
            f"assert_no_new_plans: {len(new)} new plan{'s' if len(new) != 1 else ''} built inside the "
            f"block ({self.allowed} allowed); a run signature that changes every step is planned every step"
        ]
        earlier = list(self._before)
        for key, p in new:
            fetches = _element_names(session.graph, key[0]) + _element_names(session.graph, key[1])
            lines.append(f"  plan for fetches [{', '.join(fetches)}] with feeds {_fmt_feeds(key[2])}:")
            lines.append(f"    {_why(key, p, earlier)}")
            earlier.append((key, p))
        lines.append(
            "  (keep feed shapes fixed between steps: pad or bucket varying lengths, drop or pad a last "
            "partial batch, and compute shape arguments in the graph instead of feeding them)"
        )
        return "\n".join(lines)
