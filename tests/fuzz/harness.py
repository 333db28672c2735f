"""The fuzz driver: makes cases from the seeds, runs them on a pool of worker processes,
and counts the outcomes per class and per input kind.

Case i of a run with seed S depends on (S, i) only, so any case can be made again on its
own (`make_case(S, i, ...)`) whatever the number of workers. Input kinds:

- ``op``: a registry case's GraphDef, mutated (and often its fed values too);
- ``model``: an example model's frozen GraphDef, mutated;
- ``feed``: an un-mutated op or model graph with odd fed values;
- ``meta``: an example's MetaGraphDef (collections, signature, saver, graph) mutated;
- ``checkpoint``: an example's checkpoint files with a lie or corruption;
- ``cli``: the `staticflow` command on inputs from tests/test_cli_fuzz.py's cli_cases;
- ``seed``: an un-mutated seed (the corpus run).

Workers are separate interpreters limited in memory and CPU time; one that dies (a
signal) or overruns a case's wall-clock limit is replaced and the case counted as a
crash, a memory blowup (SIGKILL, or the address-space limit) or a hang.
"""

from __future__ import annotations

import collections
import copy
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from . import corpus, mutate
from .worker import BUGS, OUTCOMES, receive, send

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KINDS = ("op", "model", "feed", "meta", "checkpoint", "cli", "seed")
# the share of each kind in a mutated run
MIX = (("op", 0.55), ("model", 0.08), ("feed", 0.12), ("meta", 0.09), ("checkpoint", 0.10), ("cli", 0.06))


# ---------------------------------------------------------------------------
# making cases
# ---------------------------------------------------------------------------
class Corpus:
    """The seeds of a run: registry cases (made on demand) and the example models (saved
    under `workdir` once)."""

    def __init__(self, workdir: str):
        self.workdir = workdir
        self.op_index = corpus.op_case_index()
        self._op: dict = {}
        self.models = corpus.model_seeds(os.path.join(workdir, "models"))
        self.frozen = [s for s in self.models if s.kind == "model"]
        self.meta = [s for s in self.models if s.kind == "meta"]

    def op(self, i: int) -> corpus.Seed:
        key = self.op_index[i % len(self.op_index)]
        if key not in self._op:
            self._op[key] = corpus.op_seed(*key)
        return self._op[key]

    def seeds(self):
        """Every seed, un-mutated: each registry case, then each example model."""
        for i in range(len(self.op_index)):
            yield self.op(i)
        yield from self.models


def graph_case(seed: corpus.Seed, graph_def: bytes, feeds: dict, label: str) -> dict:
    return {
        "handler": "graph",
        "graph_def": graph_def,
        "feeds": feeds,
        "fetches": list(seed.fetches),
        "init": list(seed.init),
        "random": seed.random,
        "label": label,
    }


def seed_case(seed: corpus.Seed) -> dict:
    if seed.kind == "meta":
        return {"handler": "meta", "files": dict(seed.files), "feeds": dict(seed.feeds), "label": seed.name}
    return graph_case(seed, seed.graph_def, dict(seed.feeds), seed.name)


def _mutated_graph(rng: random.Random, seed: corpus.Seed, feed_too: float) -> dict:
    from staticflow.framework import graph_pb2

    gd = graph_pb2.GraphDef.FromString(seed.graph_def)
    focus = "op" if seed.kind == "op" else None
    labels = [mutate.mutate_graph_def(rng, gd, focus) for _ in range(1 + (rng.random() < 0.3))]
    feeds = copy.deepcopy(seed.feeds)
    if rng.random() < feed_too:
        labels.append(mutate.mutate_feeds(rng, feeds, seed.fetches))
    data = gd.SerializeToString()
    if rng.random() < 0.04:  # bytes, not structure: the file itself is damaged
        data = mutate._flip_bytes(rng, data, rng.randrange(1, 4))
        labels.append("bytes.flip")
    return graph_case(seed, data, feeds, f"{seed.name}: " + ", ".join(labels))


def _graph_vars(seed: corpus.Seed) -> dict:
    return {k: (v.dtype, v.shape) for k, v in seed.saved.items()}


def make_case(run_seed: int, i: int, corp: Corpus, cli_argv=None) -> tuple[str, dict]:
    """(input kind, case) of case i of the run with seed `run_seed`."""
    rng = random.Random(f"{run_seed}:{i}")
    r = rng.random()
    kind = "op"
    for k, share in MIX:
        if r < share:
            kind = k
            break
        r -= share
    if kind == "cli" and cli_argv is None:
        kind = "op"
    if kind == "op":
        return kind, _mutated_graph(rng, corp.op(rng.randrange(len(corp.op_index))), 0.35)
    if kind == "model":
        return kind, _mutated_graph(rng, rng.choice(corp.frozen), 0.25)
    if kind == "feed":
        seed = corp.op(rng.randrange(len(corp.op_index))) if rng.random() < 0.8 else rng.choice(corp.frozen)
        feeds = copy.deepcopy(seed.feeds)
        labels = [mutate.mutate_feeds(rng, feeds, seed.fetches) for _ in range(1 + (rng.random() < 0.3))]
        return kind, graph_case(seed, seed.graph_def, feeds, f"{seed.name}: " + ", ".join(labels))
    if kind == "meta":
        from staticflow.protobuf import meta_graph_pb2
        from staticflow.train.meta_graph import seal, unseal

        seed = rng.choice(corp.meta)
        files = dict(seed.files)
        mg = meta_graph_pb2.MetaGraphDef.FromString(unseal(files["model.meta"], "model.meta")[0])
        label = mutate.mutate_meta_graph(rng, mg)
        body = mg.SerializeToString()
        files["model.meta"] = seal(body, False) if rng.random() < 0.8 else body
        if rng.random() < 0.05:
            files["model.meta"] = mutate._flip_bytes(rng, files["model.meta"])
            label += ", bytes.flip"
        feeds = copy.deepcopy(seed.feeds)
        if rng.random() < 0.2:
            label += ", " + mutate.mutate_feeds(rng, feeds, [])
        return kind, {"handler": "meta", "files": files, "feeds": feeds, "label": f"{seed.name}: {label}"}
    if kind == "checkpoint":
        seed = rng.choice(corp.meta)
        files = dict(seed.files)
        label = mutate.mutate_checkpoint(rng, files)
        expect = mutate.read_checkpoint(files, _graph_vars(seed))
        return kind, {
            "handler": "meta",
            "files": files,
            "feeds": dict(seed.feeds),
            "expect": expect,
            "label": f"{seed.name}: {label}",
        }
    return kind, {"handler": "cli", "argv": next(cli_argv), "label": "cli"}


# ---------------------------------------------------------------------------
# the pool
# ---------------------------------------------------------------------------
@dataclass
class Options:
    workers: int = 2
    case_timeout_s: float = 30.0  # wall clock per case (a hang)
    cpu_seconds: int = 15  # RLIMIT_CPU per case
    memory_bytes: int = 3 << 30  # RLIMIT_AS of a worker (0: none, as under AddressSanitizer)
    allocation_limit: str = "64M"  # staticflow's own limit on one allocation in a worker
    env: dict = field(default_factory=dict)  # extra environment of the workers
    log_dir: str | None = None


class _Worker:
    def __init__(self, opts: Options, n: int):
        env = dict(os.environ)
        env.update(
            {
                "SF_FUZZ_MEMORY_BYTES": str(opts.memory_bytes),
                "SF_FUZZ_CPU_SECONDS": str(opts.cpu_seconds),
                "STATICFLOW_ALLOCATION_LIMIT": opts.allocation_limit,
                "OMP_NUM_THREADS": "1",
                "OPENBLAS_NUM_THREADS": "1",
                "PYTHONHASHSEED": "0",
            }
        )
        env.pop("STATICFLOW_DEBUG", None)
        if opts.log_dir:
            env["SF_FUZZ_LOG"] = os.path.join(opts.log_dir, f"worker{n}.log")
        env.update(opts.env)
        code = f"import sys; sys.path.insert(0, {TESTS_DIR!r}); from fuzz.worker import main; main()"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        self.case = None  # (case id, kind, case, deadline)
        ready = receive(self.proc.stdout)
        if not ready or ready[0] != "ready":
            raise RuntimeError(f"fuzz worker did not start (exit status {self.proc.poll()})")

    def start(self, case_id: int, kind: str, case: dict, timeout: float) -> None:
        self.case = (case_id, kind, case, time.monotonic() + timeout)
        send(self.proc.stdin, (case_id, case))

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


def _death(returncode: int) -> tuple[str, str]:
    """The outcome of a worker that died with this status."""
    if returncode < 0:
        sig = -returncode
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        if sig == signal.SIGXCPU:
            return "hang", f"CPU time limit ({name})"
        if sig == signal.SIGKILL:
            return "memory", f"killed ({name}), the OOM killer's signal"
        return "crash", f"killed by {name}"
    return "crash", f"worker exited with status {returncode}"


@dataclass
class Report:
    cases: int = 0
    seconds: float = 0.0
    by_outcome: collections.Counter = field(default_factory=collections.Counter)
    by_kind: dict = field(default_factory=lambda: collections.defaultdict(collections.Counter))
    errors: collections.Counter = field(default_factory=collections.Counter)  # error class -> count
    bugs: list = field(default_factory=list)  # (case id, kind, outcome, detail, label)

    def add(self, case_id: int, kind: str, outcome: str, detail: str, label: str) -> None:
        self.cases += 1
        self.by_outcome[outcome] += 1
        self.by_kind[kind][outcome] += 1
        if outcome == "error":
            self.errors[detail.split(":")[0] or "?"] += 1
        if outcome in BUGS:
            self.bugs.append((case_id, kind, outcome, detail, label))

    def summary(self, title: str = "fuzz") -> str:
        rate = self.cases / self.seconds if self.seconds else 0.0
        lines = [f"{title}: {self.cases} cases in {self.seconds:.1f} s ({rate:.0f}/s)"]
        lines.append("  by outcome: " + ", ".join(f"{o} {self.by_outcome.get(o, 0)}" for o in OUTCOMES))
        for kind in KINDS:
            if kind in self.by_kind:
                c = self.by_kind[kind]
                parts = ", ".join(f"{o} {c[o]}" for o in OUTCOMES if c.get(o))
                lines.append(f"  {kind:<10} {sum(c.values()):>6}: {parts}")
        if self.errors:
            top = ", ".join(f"{k} {v}" for k, v in self.errors.most_common(8))
            lines.append(f"  errors by class: {top}")
        for case_id, kind, outcome, detail, label in self.bugs[:20]:
            lines.append(f"  BUG case {case_id} [{kind}] {outcome}: {detail[:300]}  <- {label[:200]}")
        return "\n".join(lines)


def run_cases(cases, opts: Options, progress=None) -> Report:
    """Run (case id, kind, case) items on `opts.workers` workers; the outcome counts."""
    report = Report()
    t0 = time.monotonic()
    workers = [_Worker(opts, n) for n in range(opts.workers)]
    it = iter(cases)
    exhausted = False
    try:
        while True:
            for w in workers:
                if w.case is None and not exhausted:
                    try:
                        case_id, kind, case = next(it)
                    except StopIteration:
                        exhausted = True
                        break
                    w.start(case_id, kind, case, opts.case_timeout_s)
            busy = [w for w in workers if w.case is not None]
            if not busy:
                break
            timeout = max(0.0, min(w.case[3] for w in busy) - time.monotonic())
            ready, _, _ = select.select([w.proc.stdout for w in busy], [], [], timeout)
            now = time.monotonic()
            for i, w in enumerate(workers):
                if w.case is None:
                    continue
                case_id, kind, case, deadline = w.case
                outcome = None
                if w.proc.stdout in ready:
                    msg = receive(w.proc.stdout)
                    if msg is None:  # died while running the case
                        w.proc.wait()
                        outcome, detail = _death(w.proc.returncode)
                    else:
                        _, outcome, detail = msg
                        # after a MemoryError the worker's state is suspect: replace it
                        w.case = None if outcome != "memory" else w.case
                elif now >= deadline:
                    outcome, detail = "hang", f"no result in {opts.case_timeout_s:.0f} s"
                if outcome is None:
                    continue
                report.add(case_id, kind, outcome, detail, case.get("label", ""))
                if progress is not None:
                    progress(report)
                if w.case is not None:  # dead or hung: a fresh worker takes its place
                    w.kill()
                    workers[i] = _Worker(opts, i)
    finally:
        for w in workers:
            w.kill()
        report.seconds = time.monotonic() - t0
    return report


def mutated_cases(run_seed: int, n: int, workdir: str, cli: bool = True):
    """The n cases of a run: (case id, kind, case)."""
    corp = Corpus(workdir)
    cli_argv = None
    if cli and shutil.which("dot") is not None:
        from test_cli_fuzz import cli_cases

        cli_dir = os.path.join(workdir, "cli")
        os.makedirs(cli_dir, exist_ok=True)
        cli_argv = cli_cases(run_seed, n, cli_dir)
    for i in range(n):
        kind, case = make_case(run_seed, i, corp, cli_argv)
        yield i, kind, case


def seed_cases(workdir: str):
    corp = Corpus(workdir)
    for i, seed in enumerate(corp.seeds()):
        yield i, "seed", seed_case(seed)


def fuzz(run_seed: int, n: int, opts: Options | None = None, progress=None) -> Report:
    """A mutated run of n cases."""
    opts = opts or Options()
    with tempfile.TemporaryDirectory(prefix="sf-fuzz-run-") as d:
        return run_cases(mutated_cases(run_seed, n, d), opts, progress)


def fuzz_seeds(opts: Options | None = None, progress=None) -> Report:
    """Every seed, un-mutated."""
    opts = opts or Options()
    with tempfile.TemporaryDirectory(prefix="sf-fuzz-seeds-") as d:
        return run_cases(seed_cases(d), opts, progress)
