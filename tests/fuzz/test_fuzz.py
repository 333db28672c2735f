"""The fuzzer's fixed runs: the un-mutated seeds, and a fixed-seed run of mutated inputs.

Every seed (each registry case and each example model, saved and loaded back) must run and
equal the NumPy reference. In the mutated run every case must end either equal to the
reference or in staticflow's error for bad input (an `sf.errors.*` error, or the
ValueError/TypeError/KeyError TensorFlow documents for building and importing graphs and
for feeds, raised by staticflow itself); never in a crash, a hang, a memory blowup, a raw
exception, a value that differs from the reference or an out-of-bounds view. The counts
per outcome and input kind are printed in the terminal summary.
"""

from __future__ import annotations

import os

from fuzz import harness

FIXED_SEED = 20240601
FIXED_CASES = 3000


def _options() -> harness.Options:
    opts = harness.Options(workers=2, case_timeout_s=120.0, cpu_seconds=60)
    if os.environ.get("STATICFLOW_KERNEL_LIBRARY"):  # the AddressSanitizer build: no RLIMIT_AS
        opts.memory_bytes = 0
    return opts


def _bugs(report: harness.Report) -> str:
    return "\n".join(f"case {c} [{k}] {o}: {d}  <- {lab}" for c, k, o, d, lab in report.bugs[:20])


def test_every_seed_runs_and_equals_the_reference(fuzz_report):
    report = harness.fuzz_seeds(_options())
    fuzz_report(report.summary("fuzz seeds"))
    assert not report.bugs, _bugs(report)
    kinds = report.by_kind["seed"]
    # a seed may fail only where its registry case expects an error (none do today)
    assert kinds["ok"] == report.cases, report.summary("fuzz seeds")
    assert report.cases > 4000


def test_fixed_seed_mutated_run(fuzz_report):
    report = harness.fuzz(FIXED_SEED, FIXED_CASES, _options())
    fuzz_report(report.summary(f"fuzz (seed {FIXED_SEED})"))
    assert report.cases == FIXED_CASES
    assert not report.bugs, _bugs(report)
    # the run reaches both ends: inputs that run and equal the reference, and refused ones
    for kind in ("op", "model", "feed", "meta", "checkpoint"):
        assert report.by_kind[kind]["ok"] > 0 and report.by_kind[kind]["error"] > 0, report.summary()
