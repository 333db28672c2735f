"""The fuzzer's child process: runs cases one after another and reports each one's outcome.

It reads pickled cases from stdin and writes pickled results to its own copy of stdout
(file descriptors 1 and 2 go to a log file, so that nothing staticflow prints can break
the protocol). Its memory is limited by RLIMIT_AS and each case's CPU time by RLIMIT_CPU
(the soft limit is moved before each case), so a blowup ends as a MemoryError or the
worker's death by SIGXCPU/SIGKILL, which the parent reports and then starts a new worker.

A case runs as a user would run the input: a GraphDef file is read with sf.io.read_graph
and imported; a meta graph with sf.train.import_meta_graph, its variables restored from
its checkpoint; the CLI through staticflow.cli.main. The fetched values are then compared
with the NumPy reference evaluator (staticflow.runtime.reference) on the same graph and
feeds. Every plan's arena is filled with a poison byte when it is made; a run is repeated
with another poison byte, and a fetched value that changes with it was read from memory no
kernel wrote (another tensor's bytes, or none): an out-of-bounds view.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import resource
import shutil
import struct
import sys
import tempfile
import traceback

import numpy as np

OUTCOMES = ("ok", "error", "crash", "hang", "memory", "raw-exception", "mismatch", "oob-view")
BUGS = ("crash", "hang", "memory", "raw-exception", "mismatch", "oob-view")
# rtol per float dtype (atol: the same fraction of the largest finite magnitude)
_RTOL = {"float16": 4e-3, "bfloat16": 3e-2, "float32": 2e-4, "float64": 1e-7}
POISON = (0xFF, 0x5A)  # NaN / -1 in every type, then a finite pattern


class Result(Exception):
    """The outcome of a case, raised from anywhere inside it."""

    def __init__(self, outcome: str, detail: str = ""):
        super().__init__(outcome, detail)
        self.outcome = outcome
        self.detail = detail


# ---------------------------------------------------------------------------
# classifying exceptions
# ---------------------------------------------------------------------------
_SF_DIR = None


def _deliberate(e: BaseException) -> bool:
    """Raised by a `raise` statement of staticflow's own code (TF's documented ValueError /
    TypeError / KeyError of graph construction, import and feeding), not by NumPy, Python's
    builtins or a failed assumption deeper down."""
    tb = traceback.extract_tb(e.__traceback__)
    if not tb:
        return False
    last = tb[-1]
    return last.filename.startswith(_SF_DIR) and (last.line or "").lstrip().startswith("raise")


def classify(e: BaseException) -> Result:
    import staticflow as sf

    if isinstance(e, Result):
        return e
    if isinstance(e, sf.errors.OpError):
        return Result("error", f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}")
    if isinstance(e, MemoryError):
        return Result("memory", _describe(e))
    if isinstance(e, (ValueError, TypeError, KeyError)) and _deliberate(e):
        return Result("error", f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}")
    return Result("raw-exception", _describe(e))


def _describe(e: BaseException) -> str:
    tb = traceback.extract_tb(e.__traceback__)
    where = ""
    for fr in reversed(tb):
        if "/tests/fuzz/" not in fr.filename:
            where = f" at {os.path.relpath(fr.filename)}:{fr.lineno} ({fr.name})"
            break
    return f"{type(e).__name__}: {str(e)[:300]}{where}"


# ---------------------------------------------------------------------------
# comparing with the reference
# ---------------------------------------------------------------------------
def compare(got, want, shapes_only: bool) -> str | None:
    """Why `got` is not `want` (None when it is)."""
    got = np.asarray(got, dtype=object) if isinstance(got, bytes) else np.asarray(got)
    want = np.asarray(want)
    if got.dtype != want.dtype:
        return f"dtype {got.dtype} != reference {want.dtype}"
    if got.shape != want.shape:
        return f"shape {got.shape} != reference {want.shape}"
    if shapes_only:
        return None
    name = want.dtype.name
    if name in _RTOL:
        g, w = got.astype(np.float64), want.astype(np.float64)
        if not np.array_equal(np.isnan(g), np.isnan(w)):
            return f"NaN at other places: {_first_diff(g, w, np.isnan(g) != np.isnan(w))}"
        inf_g, inf_w = np.where(np.isinf(g), g, 0), np.where(np.isinf(w), w, 0)
        if not np.array_equal(inf_g, inf_w):
            return f"infinities differ: {_first_diff(g, w, inf_g != inf_w)}"
        fin = np.isfinite(w)
        scale = float(np.abs(w[fin]).max()) if fin.any() else 1.0
        rtol = _RTOL[name]
        bad = fin & ~(np.abs(g - w) <= rtol * np.abs(w) + rtol * max(scale, 0.1))
        if bad.any():
            return f"values differ: {_first_diff(g, w, bad)}"
        return None
    if want.dtype == object:
        same = [a == b for a, b in zip(got.reshape(-1).tolist(), want.reshape(-1).tolist())]
        return None if all(same) else "strings differ"
    if not np.array_equal(got, want):
        return f"values differ: {_first_diff(got, want, got != want)}"
    return None


def _first_diff(g, w, mask) -> str:
    idx = tuple(int(i[0]) for i in np.nonzero(mask)) if np.ndim(mask) else ()
    return f"at {idx}: {g[idx]!r} != reference {w[idx]!r} (shape {np.shape(w)})"


# ---------------------------------------------------------------------------
# running one case
# ---------------------------------------------------------------------------
# the byte a fetched buffer's storage starts as each run (install_poison): that of the arenas
_FRESH_POISON = [POISON[0]]


def _poison_plans(sess, byte: int) -> None:
    _FRESH_POISON[0] = byte
    for plans in sess._plans.values():
        for p in plans:
            if p.arena is not None:
                p.arena.fill(byte)


def _resolve(g, names: list[str], kind: str):
    """The graph's tensors (or ops) of these names; names the graph lacks are left out."""
    out = []
    for n in names:
        with contextlib.suppress(KeyError, ValueError, TypeError):
            out.append(g.get_tensor_by_name(n) if ":" in n else g.get_operation_by_name(n))
    return out


def _sinks(g, limit: int = 6):
    used = {t for op in g.get_operations() for t in op.inputs}
    outs = [t for op in g.get_operations() for t in op.outputs if t not in used]
    return outs[-limit:]


def _needed_ops(fetches) -> list:
    """The ops a run of `fetches` runs: their data and control inputs, transitively."""
    seen, stack = {}, [f if hasattr(f, "type") else f.op for f in fetches]
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen[op.name] = op
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    return list(seen.values())


def _kinds(ops) -> tuple[bool, bool]:
    """(any random op, any op with state: stateful, or updating a variable) among `ops`."""
    from staticflow.ops import registry

    rnd = state = False
    for op in ops:
        d = registry.lookup(op.type)
        rnd = rnd or d is None or d.random
        state = state or d is None or d.stateful or any(a.ref for a in d.inputs)
    return rnd, state


def _extreme(g, feeds: dict) -> bool:
    """Whether the fed values or the graph's constants hold NaN, infinities or magnitudes
    near float overflow. Then the order of a float sum (BLAS's blocking, NumPy's pairwise
    sums) decides between inf, NaN and finite results, so values are compared by shape and
    dtype only."""

    def wild(v) -> bool:
        a = np.asarray(v)
        if a.dtype.kind not in "fc" and a.dtype.name != "bfloat16":
            return False
        a = a.astype(np.complex128 if a.dtype.kind == "c" else np.float64)
        return bool(a.size) and not bool(np.all(np.abs(a) < 1e18))

    if any(wild(v) for v in feeds.values()):
        return True
    for op in g.get_operations():
        if op.type == "Const":
            with contextlib.suppress(Exception):
                if wild(op.get_attr("value")):
                    return True
    return False


def run_graph(sess, g, fetches, feeds, variables, shapes_only: bool) -> Result:
    """Run `fetches`, run again over other poison, compare with the reference."""
    from staticflow.runtime import reference

    rnd, state = _kinds(_needed_ops(fetches))
    _FRESH_POISON[0] = POISON[0]
    # random values (an initializer run through a control input too) differ from the reference's
    shapes_only = shapes_only or rnd or _extreme(g, feeds)

    try:
        got = sess.run(fetches, feeds)
    except Exception as e:  # noqa: BLE001 - classified
        return classify(e)
    if not (rnd or state):
        _poison_plans(sess, POISON[1])
        try:
            again = sess.run(fetches, feeds)
        except Exception as e:  # noqa: BLE001
            return Result("raw-exception", "second run failed: " + _describe(e))
        for t, a, b in zip(fetches, got, again):
            if a is None:
                continue
            a, b = np.asarray(a), np.asarray(b)
            if a.dtype != object and a.tobytes() != b.tobytes():
                return Result("oob-view", f"{t.name} depends on unwritten memory: {a!r} / {b!r}"[:400])
    tensors = [t for t in fetches if not hasattr(t, "type")]
    try:
        conv = sess._convert_feeds(feeds)
        want = reference.evaluate(tensors, conv, variables)
    except Exception as e:  # noqa: BLE001
        return Result("mismatch", f"staticflow ran, the reference raised {_describe(e)}")
    gots = [x for t, x in zip(fetches, got) if not hasattr(t, "type")]
    for t, a, b in zip(tensors, gots, want):
        why = compare(a, b, shapes_only)
        if why:
            return Result("mismatch", f"{t.name}: {why}"[:500])
    return Result("ok")


def _feeds(g, feeds: dict) -> dict:
    out = {}
    for name, v in feeds.items():
        ts = _resolve(g, [name], "tensor")
        if ts:
            out[ts[0]] = v
    return out


def _initial_variables(g, sess=None) -> dict:
    """Variable op name -> array: the values a session holds (after a restore), or zeros
    (before a reference run of the init op)."""
    out = {}
    for op in g.get_operations():
        if op.type != "VariableV2":
            continue
        if sess is not None:
            if sess._variables.is_initialized(op.name):
                out[op.name] = np.array(sess._variables.storage(op), copy=True)
            continue
        with contextlib.suppress(Exception):
            out[op.name] = np.zeros(op.get_attr("shape").as_list(), op.get_attr("dtype").np)
    return out


def case_graph(case: dict, tmp: str) -> Result:
    import staticflow as sf
    from staticflow.runtime import reference

    path = os.path.join(tmp, "graph.pb")
    with open(path, "wb") as f:
        f.write(case["graph_def"])
    try:
        gd = sf.io.read_graph(path)
        g = sf.Graph()
        with g.as_default():
            sf.import_graph_def(gd, name="")
    except Exception as e:  # noqa: BLE001
        return classify(e)
    fetches = _resolve(g, case["fetches"], "fetch") or _sinks(g)
    feeds = _feeds(g, case["feeds"])
    init = _resolve(g, case.get("init", []), "op")
    variables = _initial_variables(g)
    with sf.Session(graph=g) as sess:
        try:
            if init:
                sess.run(init)
        except Exception as e:  # noqa: BLE001
            return classify(e)
        if init:
            try:
                reference.evaluate(init, {}, variables)
            except Exception as e:  # noqa: BLE001
                return Result("mismatch", f"init ran, the reference raised {_describe(e)}")
        return run_graph(sess, g, fetches, feeds, variables, case.get("random", False))


def case_meta(case: dict, tmp: str) -> Result:
    """A meta graph and its checkpoint, as files: import, restore, run the serving signature."""
    import staticflow as sf
    from staticflow.train import meta_graph

    for name, data in case["files"].items():
        with open(os.path.join(tmp, name), "wb") as f:
            f.write(data)
    meta = os.path.join(tmp, "model.meta")
    g = sf.Graph()
    try:
        with g.as_default():
            saver = sf.train.import_meta_graph(meta)
            mg = meta_graph.read_meta_graph_file(meta)
        sig = mg.signature_def["serving_default"]
        feeds = {}
        for key, info in sorted(sig.inputs.items()):
            value = case["feeds"].get(f"{key}:0")
            if value is not None:
                feeds[g.get_tensor_by_name(info.name)] = value
        fetches = [g.get_tensor_by_name(info.name) for _, info in sorted(sig.outputs.items())]
    except Exception as e:  # noqa: BLE001
        return classify(e)
    with sf.Session(graph=g) as sess:
        try:
            if saver is None:
                raise Result("error", "no saver")
            saver.restore(sess, os.path.join(tmp, "model"))
        except Exception as e:  # noqa: BLE001
            r = classify(e)
            return r
        variables = _initial_variables(g, sess)
        expect = case.get("expect")
        if expect is not None:  # a checkpoint case: the values the files hold, or a refusal
            if isinstance(expect, str):
                return Result("mismatch", f"restore accepted a checkpoint that {expect}")
            for key, want in expect.items():
                got = variables.get(key)
                if got is None or got.dtype != want.dtype or got.shape != want.shape or (
                    got.tobytes() != want.tobytes()
                ):
                    why = f"variable {key} restored as {got!r}, the file holds {want!r}"
                    return Result("mismatch", why[:400])
        if not fetches:
            return Result("ok")
        return run_graph(sess, g, fetches, feeds, variables, False)


def case_cli(case: dict, tmp: str) -> Result:
    from staticflow.cli import INTERNAL_ERROR, main

    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            rc = main(case["argv"])
        except BaseException as e:  # noqa: BLE001 - the command must not raise at all
            return Result("raw-exception", "staticflow.cli.main raised " + _describe(e))
    text = err.getvalue()
    lines = text.strip().splitlines()
    if rc == INTERNAL_ERROR or "Traceback" in text:
        return Result("raw-exception", f"exit {rc}: {text.strip()[-300:]}")
    if rc not in (0, 1, 2) or (rc != 0 and len(lines) != 1):
        return Result("raw-exception", f"exit {rc} with {len(lines)} lines: {text.strip()[-300:]}")
    return Result("ok") if rc == 0 else Result("error", f"exit {rc}")


HANDLERS = {"graph": case_graph, "meta": case_meta, "cli": case_cli}


def run_case(case: dict) -> Result:
    tmp = tempfile.mkdtemp(prefix="sf-fuzz-")
    try:
        return HANDLERS[case["handler"]](case, tmp)
    except Result as r:
        return r
    except Exception as e:  # noqa: BLE001 - a failure of the harness's own steps too
        return classify(e)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def install_poison() -> None:
    """Every arena a plan allocates from now on starts filled with POISON[0], and so does
    the storage a run takes for a fetched buffer of its own (POISON[1] on a poisoned
    second run)."""
    from staticflow.runtime import plan as plan_mod

    materialize = plan_mod._materialize
    if getattr(materialize, "poisons", False):
        return

    def poisoned(plan, buffers):  # every new arena starts as poison, not as zeros or old data
        materialize(plan, buffers)
        if plan.arena is not None:
            plan.arena.fill(POISON[0])

    poisoned.poisons = True
    plan_mod._materialize = poisoned

    storage = plan_mod._fetch_storage

    def poisoned_storage(slot):  # a fetched buffer of its own starts as the arenas do
        a = storage(slot)
        a.fill(_FRESH_POISON[0])
        return a

    plan_mod._fetch_storage = poisoned_storage
    # fetches of more than 64 float32 values get storage of their own, smaller ones are
    # copied out of the arena: both ways are fuzzed
    plan_mod.FETCH_NO_COPY_MIN_BYTES = 256


# ---------------------------------------------------------------------------
# the loop
# ---------------------------------------------------------------------------
def _read_exact(f, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = f.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def send(f, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    f.write(struct.pack("<Q", len(data)) + data)
    f.flush()


def receive(f):
    head = _read_exact(f, 8)
    if head is None:
        return None
    data = _read_exact(f, struct.unpack("<Q", head)[0])
    return None if data is None else pickle.loads(data)


def main() -> None:
    global _SF_DIR
    out = os.fdopen(os.dup(1), "wb")
    inp = os.fdopen(os.dup(0), "rb")
    log = os.environ.get("SF_FUZZ_LOG", os.devnull)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115

    import staticflow as sf

    _SF_DIR = os.path.dirname(os.path.abspath(sf.__file__)) + os.sep
    install_poison()
    mem = int(os.environ.get("SF_FUZZ_MEMORY_BYTES", "0"))
    if mem:
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    cpu_limit = int(os.environ.get("SF_FUZZ_CPU_SECONDS", "10"))
    send(out, ("ready", os.getpid()))
    while True:
        msg = receive(inp)
        if msg is None:
            return
        case_id, case = msg
        used = resource.getrusage(resource.RUSAGE_SELF)
        soft = int(used.ru_utime + used.ru_stime) + cpu_limit + 1
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
        print(f"--- case {case_id}: {case.get('label', '')}", flush=True)
        r = run_case(case)
        send(out, (case_id, r.outcome, r.detail))


if __name__ == "__main__":
    main()
