"""Run the fuzzer from the command line and print its counts (`make fuzz`).

    python tests/fuzz/fuzz_run.py --cases 50000 --seed 1
    python tests/fuzz/fuzz_run.py --seeds                  # the un-mutated corpus only
    python tests/fuzz/fuzz_run.py --seed 4 --case 114      # one case, in this process, traced

Exit status 1 when any case ends in a bug class (crash, hang, memory, raw-exception,
mismatch, oob-view); the bugs are listed with the case numbers that make them again.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fuzz import harness, worker  # noqa: E402


def cpu_model() -> str:
    """The machine's CPU model (lscpu's "Model name"), for the figures of a run."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def show_case(seed: int, i: int) -> int:
    """Make case i of the run with seed `seed` and run it here, printing what it is and does."""
    import pickle

    import numpy as np

    import staticflow as sf

    with tempfile.TemporaryDirectory() as d:
        corp = harness.Corpus(d)
        cli = None
        if harness.shutil.which("dot") is not None:
            from test_cli_fuzz import cli_cases

            cli = cli_cases(seed, i + 1, os.path.join(d, "cli"))
        kind, case = None, None
        for j in range(i + 1):  # the CLI cases come from one stream: replay it up to case i
            kind, case = harness.make_case(seed, j, corp, cli)
        print(f"case {i} [{kind}]: {case.get('label')}")
        if os.environ.get("SF_FUZZ_DUMP"):
            with open(os.environ["SF_FUZZ_DUMP"], "wb") as f:
                pickle.dump(case, f)
        if case["handler"] == "graph":
            gd = sf.GraphDef()
            try:
                gd.ParseFromString(case["graph_def"])
                print(gd)
            except Exception as e:  # noqa: BLE001
                print("(GraphDef does not parse:", e, ")")
            with np.printoptions(threshold=50):
                print("feeds:", case["feeds"])
        elif case["handler"] == "cli":
            print("argv:", case["argv"])
        worker._SF_DIR = os.path.dirname(os.path.abspath(sf.__file__)) + os.sep
        worker.install_poison()
        r = worker.run_case(case)
        print(f"outcome: {r.outcome}: {r.detail}")
        return 1 if r.outcome in worker.BUGS else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=5000, help="mutated cases to run (5000)")
    ap.add_argument("--seed", type=int, default=1, help="the run's seed (1)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="worker processes (all cores)")
    ap.add_argument("--seeds", action="store_true", help="run the un-mutated seeds instead")
    ap.add_argument("--case", type=int, help="run this one case here, traced")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds of wall clock per case (30)")
    ap.add_argument("--log-dir", help="keep the workers' output (staticflow's prints) here")
    args = ap.parse_args(argv)
    if args.case is not None:
        return show_case(args.seed, args.case)
    opts = harness.Options(workers=args.workers, case_timeout_s=args.timeout, log_dir=args.log_dir)
    if os.environ.get("STATICFLOW_KERNEL_LIBRARY"):  # the AddressSanitizer build: no RLIMIT_AS
        opts.memory_bytes = 0
    last = [time.monotonic()]

    def progress(report):
        if time.monotonic() - last[0] > 30:
            last[0] = time.monotonic()
            print(f"... {report.cases} cases, {dict(report.by_outcome)}", flush=True)

    if args.seeds:
        report = harness.fuzz_seeds(opts, progress)
        title = "fuzz seeds"
    else:
        report = harness.fuzz(args.seed, args.cases, opts, progress)
        title = f"fuzz (seed {args.seed})"
    print(report.summary(title))
    print(f"  machine: {cpu_model()}, {args.workers} workers, Python {platform.python_version()}")
    return 1 if report.bugs else 0


if __name__ == "__main__":
    sys.exit(main())
