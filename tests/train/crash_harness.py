"""Checkpoint crash and concurrency harness: kill -9 during saves, concurrent saves, and count.

    python tests/train/crash_harness.py SCENARIO [--kills N] [--rounds N] [--seed S] [--dir DIR]

Scenarios:
  points      deterministic: for each point k at which a save reports progress (checkpoint_io's
              WRITE_HOOKS: after each chunk written, each fsync, each rename, before each
              deletion), a process saves once more and kills itself with SIGKILL at point k; to
              a fixed prefix and to step prefixes;
  fixed       a saver process saves again and again to one prefix (no global step); it is
              killed with SIGKILL after a random delay, N times, each new process resuming
              from the checkpoint it finds;
  steps       the same with a global step (prefix-1, prefix-2, ..., max_to_keep=3);
  concurrent  per round two processes save N_SAVES times each to one prefix while a third
              restores it in a loop.

After every kill, every checkpoint in the directory must load (its index, data and checksums)
and hold exactly a state that was saved: each state is a function of (writer, step), and the
checkpoint holds the writer and step it was made from. The latest one must not be older than the
last save that returned before the kill. Temporary and unreferenced data files that crashes left
must be gone after the next complete save. The result is one JSON line of counts; the exit status
is 1 if any count of a failure is not 0.

Each child is forked from this process after staticflow is imported and the graph is built, so a
kill costs no interpreter start. Set OMP_NUM_THREADS/OPENBLAS_NUM_THREADS=1 (done below before
anything is imported) so that no thread pool exists when forking.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import select
import signal
import struct
import sys
import tempfile
import time
import traceback

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

W_SIZE = 1 << 16  # 256 KiB of float32: a save takes a few writes
N_SAVES = 12  # per writer and round in the concurrent scenario
FAILURES = ("unloadable", "wrong_state", "older_than_acked", "leftovers_after_clean_save",
            "restore_failures", "corrupt_final", "child_errors")  # fmt: skip


def state(writer: int, step: int) -> dict[str, np.ndarray]:
    """What writer `writer` saves at step `step`: every value depends on both."""
    return {
        "w": ((np.arange(W_SIZE) % 997) + 7.0 * step + 100000.0 * writer).astype(np.float32),
        "b": np.arange(17, dtype=np.float64) * step - writer,
        "step": np.int64(step),
        "writer": np.int64(writer),
    }


def matches_a_saved_state(values: dict) -> tuple[bool, int, int]:
    """(values are exactly state(writer, step) for the writer and step they hold, writer, step)."""
    writer, step = int(values["writer"]), int(values["step"])
    want = state(writer, step)
    ok = set(values) == set(want) and all(
        np.asarray(values[k]).dtype == want[k].dtype and np.array_equal(values[k], want[k]) for k in want
    )
    return ok, writer, step


class Model:
    """The graph (built once, before any fork) and the operations a child performs."""

    def __init__(self, max_to_keep: int = 3):
        import staticflow as sf

        self.sf = sf
        self.graph = sf.Graph()
        with self.graph.as_default():
            init = state(0, 0)
            self.vars = {k: sf.Variable(v, name=k) for k, v in init.items()}
            self.saver = sf.train.Saver(max_to_keep=max_to_keep)

    def session(self):
        sess = self.sf.Session(graph=self.graph)
        sess.run([v.initializer for v in self.vars.values()])
        return sess

    def load(self, sess, values: dict) -> None:
        for k, v in self.vars.items():
            v.load(values[k], sess)

    def read(self, sess) -> dict:
        return sess.run({k: v for k, v in self.vars.items()})


def read_checkpoint(prefix: str) -> dict:
    """Every tensor of the checkpoint at `prefix`, verified (raises on anything wrong)."""
    from staticflow.train import checkpoint_io

    with checkpoint_io.CheckpointReader(prefix) as r:
        return r.get_tensors(r.names())


def leftovers(directory: str) -> int:
    """Temporary files, and data files that no index in the directory references."""
    from staticflow.train import checkpoint_io

    names = os.listdir(directory)
    n = sum(1 for f in names if re.search(r"\.tmp-\d+-[0-9a-f]{8}$", f))
    referenced = set()
    for f in names:
        if f.endswith(".index"):
            ref = checkpoint_io._referenced_data(os.path.join(directory, f[: -len(".index")]))
            if ref:
                referenced.add(ref)
    n += sum(1 for f in names if ".data-" in f and f not in referenced)
    return n


# ---------------------------------------------------------------------------
# children
# ---------------------------------------------------------------------------
def _fork(target, *args) -> tuple[int, int]:
    """Fork a child running target(write_fd, *args); (pid, read end of its pipe)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        code = 0
        try:
            target(w, *args)
        except BaseException:  # noqa: BLE001 - reported by the exit status
            traceback.print_exc()
            code = 3
        finally:
            os._exit(code)
    os.close(w)
    return pid, r


def saver_child(
    w: int, model: Model, prefix: str, with_step: bool, writer: int, saves: int | None,
    resume: bool = True, kill_at: int | None = None,
) -> None:  # fmt: skip
    """Resume from the latest checkpoint (if `resume`), then save state(writer, step) for step =
    next, next+1, ...; write each step to the pipe once its save returned. With `kill_at`, the
    process kills itself at that progress point of its first save."""
    sf = model.sf
    directory = os.path.dirname(prefix)
    sess = model.session()
    step = 0
    latest = sf.train.latest_checkpoint(directory) if with_step else (
        prefix if sf.train.checkpoint_exists(prefix) else None)  # fmt: skip
    if kill_at is not None:
        from staticflow.train import checkpoint_io

        calls = []

        def hook(point: str, path: str) -> None:
            calls.append(point)
            if len(calls) == kill_at + 1:
                os.kill(os.getpid(), signal.SIGKILL)

        checkpoint_io.WRITE_HOOKS.append(hook)
    if latest is not None and resume:
        if with_step:  # take over the kept checkpoints, so that max_to_keep goes on deleting
            model.saver.recover_last_checkpoints(
                list(sf.train.get_checkpoint_state(directory).all_model_checkpoint_paths)
            )
        model.saver.restore(sess, latest)
        step = int(model.read(sess)["step"])
    done = 0
    while saves is None or done < saves:
        step += 1
        model.load(sess, state(writer, step))
        model.saver.save(sess, prefix, global_step=step if with_step else None)
        os.write(w, struct.pack("<q", step))
        done += 1


def restorer_child(w: int, model: Model, prefix: str, stop_r: int) -> None:
    """Restore `prefix` in a loop until stop_r is readable; write counts as JSON to the pipe."""
    sess = model.session()
    counts = {"restores": 0, "restore_failures": 0, "wrong_state": 0}
    while not select.select([stop_r], [], [], 0)[0]:
        try:
            model.saver.restore(sess, prefix)
        except Exception as e:  # noqa: BLE001 - counted
            counts["restore_failures"] += 1
            if counts["restore_failures"] <= 3:
                print(f"restore failed: {type(e).__name__}: {e}", file=sys.stderr)
            continue
        counts["restores"] += 1
        ok, _, _ = matches_a_saved_state(model.read(sess))
        counts["wrong_state"] += not ok
    os.write(w, json.dumps(counts).encode())


def _read_all(r: int) -> bytes:
    data = b""
    while True:
        chunk = os.read(r, 1 << 16)
        if not chunk:
            break
        data += chunk
    os.close(r)
    return data


def _read_acks(r: int) -> list[int]:
    data = _read_all(r)
    return [struct.unpack_from("<q", data, i)[0] for i in range(0, len(data) - len(data) % 8, 8)]


def _wait_first_ack(r: int, timeout: float = 120.0) -> bytes:
    ready = select.select([r], [], [], timeout)[0]
    return os.read(r, 8) if ready else b""


# ---------------------------------------------------------------------------
# scenarios
# ---------------------------------------------------------------------------
def _check_directory(directory: str, prefix: str, with_step: bool, acked: int, counts: dict, log) -> None:
    """After a kill: every checkpoint loads and holds a saved state, none older than `acked`."""
    from staticflow.train import checkpoint_io

    indexes = sorted(glob.glob(os.path.join(glob.escape(directory), "*.index")))
    for index in indexes:
        p = index[: -len(".index")]
        try:
            values = read_checkpoint(p)
        except Exception as e:  # noqa: BLE001 - counted
            counts["unloadable"] += 1
            log(f"unloadable checkpoint {p}: {type(e).__name__}: {e}")
            continue
        counts["checkpoints_loaded"] += 1
        ok, _, step = matches_a_saved_state(values)
        if not ok:
            counts["wrong_state"] += 1
            log(f"{p} holds values that were never saved together (step {step})")
        if with_step and p != f"{prefix}-{step}":
            counts["wrong_state"] += 1
            log(f"{p} holds step {step}")
    try:
        latest = checkpoint_io.latest_checkpoint(directory) if with_step else prefix
        if latest is not None and not checkpoint_io.checkpoint_exists(latest):
            latest = None
    except Exception as e:  # noqa: BLE001 - counted
        counts["unloadable"] += 1
        log(f"latest checkpoint of {directory}: {type(e).__name__}: {e}")
        return
    if latest is None:
        if acked:
            counts["older_than_acked"] += 1
            log(f"no checkpoint after save {acked} returned")
        return
    try:
        step = int(read_checkpoint(latest)["step"])
    except Exception:  # noqa: BLE001 - counted above
        return
    if step < acked:
        counts["older_than_acked"] += 1
        log(f"latest checkpoint {latest} holds step {step}, but save {acked} had returned")


def run_kills(directory: str, kills: int, seed: int, with_step: bool, log) -> dict:
    rng = np.random.default_rng(seed)
    model = Model()
    prefix = os.path.join(directory, "model")
    counts = dict.fromkeys(FAILURES, 0)
    counts.update(kills=0, saves_acked=0, checkpoints_loaded=0, leftovers_seen=0, max_leftovers=0)
    # how long one save takes here: the kill delays span a few saves
    pid, r = _fork(saver_child, model, prefix, with_step, 0, 6)
    t0 = time.perf_counter()
    acks = _read_acks(r)
    save_time = (time.perf_counter() - t0) / 6
    if os.waitpid(pid, 0)[1] != 0 or len(acks) != 6:
        counts["child_errors"] += 1
    acked = acks[-1] if acks else 0
    counts["saves_acked"] += len(acks)
    for _ in range(kills):
        pid, r = _fork(saver_child, model, prefix, with_step, 0, None)
        first = _wait_first_ack(r)
        if len(first) == 8:
            acked = max(acked, struct.unpack("<q", first)[0])
            time.sleep(rng.uniform(0.0, 3.0 * save_time))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        if len(first) != 8 or not (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL):
            counts["child_errors"] += 1
            log(f"saver child ended before the kill (status {status})")
        more = _read_acks(r)
        counts["saves_acked"] += len(more) + (len(first) == 8)
        acked = max([acked, *more])
        counts["kills"] += 1
        n = leftovers(directory)
        counts["leftovers_seen"] += n
        counts["max_leftovers"] = max(counts["max_leftovers"], n)
        _check_directory(directory, prefix, with_step, acked, counts, log)
    # one complete save cleans up what the crashes left
    pid, r = _fork(saver_child, model, prefix, with_step, 0, 1)
    acks = _read_acks(r)
    if os.waitpid(pid, 0)[1] != 0 or len(acks) != 1:
        counts["child_errors"] += 1
    _check_directory(directory, prefix, with_step, acks[-1] if acks else acked, counts, log)
    counts["leftovers_after_clean_save"] = leftovers(directory)
    return counts


def count_points(model: Model, directory: str, with_step: bool) -> list[str]:
    """The progress points of a save that follows another one (deleted by max_to_keep=1)."""
    from staticflow.train import checkpoint_io

    points: list[str] = []

    def child(w: int) -> None:
        sess = model.session()
        prefix = os.path.join(directory, "model")
        for step in range(1, 3):
            model.load(sess, state(0, step))
            if step == 2:
                checkpoint_io.WRITE_HOOKS.append(lambda point, path: points.append(point))
            model.saver.save(sess, prefix, global_step=step if with_step else None)
        os.write(w, json.dumps(points).encode())

    pid, r = _fork(child)
    data = _read_all(r)
    os.waitpid(pid, 0)
    return json.loads(data)


def run_points(directory: str, log) -> dict:
    """Kill at every progress point of a save, to a fixed prefix and to step prefixes.

    In one directory per kind: a complete save, then for each point k a save killed at k,
    the checks, and a complete save (which must clean up, and precedes the next kill)."""
    model = Model(max_to_keep=1)  # each save deletes the one before
    counts = dict.fromkeys(FAILURES, 0)
    counts.update(kills=0, points=0, checkpoints_loaded=0, leftovers_seen=0, max_leftovers=0)
    for with_step in (False, True):
        kind = "steps" if with_step else "fixed"
        points = count_points(model, os.path.join(directory, f"count-{kind}"), with_step)
        counts["points"] += len(points)
        d = os.path.join(directory, kind)
        os.makedirs(d)
        prefix = os.path.join(d, "model")
        pid, r = _fork(saver_child, model, prefix, with_step, 0, 1)
        acked = max(_read_acks(r), default=0)
        if os.waitpid(pid, 0)[1] != 0:
            counts["child_errors"] += 1
        for k, point in enumerate(points):
            pid, r = _fork(saver_child, model, prefix, with_step, 0, 1, True, k)
            more = _read_acks(r)
            _, status = os.waitpid(pid, 0)
            if more or not (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL):
                counts["child_errors"] += 1
                log(f"{kind} point {k} ({point}): the child was not killed there (status {status})")
            counts["kills"] += 1
            n = leftovers(d)
            counts["leftovers_seen"] += n
            counts["max_leftovers"] = max(counts["max_leftovers"], n)
            before = dict(counts)
            _check_directory(d, prefix, with_step, acked, counts, log)
            if any(counts[f] != before[f] for f in FAILURES):
                log(f"{kind}: killed at point {k} ({point})")
            pid, r = _fork(saver_child, model, prefix, with_step, 0, 1)
            acks = _read_acks(r)
            if len(acks) != 1 or os.waitpid(pid, 0)[1] != 0:
                counts["child_errors"] += 1
            acked = max([acked, *acks])
            counts["leftovers_after_clean_save"] += leftovers(d)
    return counts


def run_concurrent(directory: str, rounds: int, seed: int, log) -> dict:
    from staticflow.train import checkpoint_io

    model = Model()
    counts = dict.fromkeys(FAILURES, 0)
    counts.update(rounds=0, saves=0, restores=0)
    for k in range(rounds):
        d = os.path.join(directory, f"round{k}")
        os.makedirs(d)
        prefix = os.path.join(d, "model")
        checkpoint_io.write_checkpoint(prefix, sorted(state(0, 0).items()))  # something to restore
        stop_r, stop_w = os.pipe()
        restorer, rr = _fork(restorer_child, model, prefix, stop_r)
        writers = [_fork(saver_child, model, prefix, False, writer, N_SAVES, False) for writer in (1, 2)]
        for pid, r in writers:
            counts["saves"] += len(_read_acks(r))
            if os.waitpid(pid, 0)[1] != 0:
                counts["child_errors"] += 1
        os.write(stop_w, b"x")
        result = _read_all(rr)
        os.close(stop_r)
        os.close(stop_w)
        if os.waitpid(restorer, 0)[1] != 0 or not result:
            counts["child_errors"] += 1
        else:
            got = json.loads(result)
            counts["restores"] += got["restores"]
            counts["restore_failures"] += got["restore_failures"]
            counts["wrong_state"] += got["wrong_state"]
        try:
            ok, writer, step = matches_a_saved_state(read_checkpoint(prefix))
            # the last commit is some writer's last save
            if not ok or writer not in (1, 2) or step != N_SAVES:
                counts["corrupt_final"] += 1
                log(f"round {k}: final checkpoint holds writer {writer} step {step} (consistent: {ok})")
        except Exception as e:  # noqa: BLE001 - counted
            counts["corrupt_final"] += 1
            log(f"round {k}: final checkpoint unloadable: {type(e).__name__}: {e}")
        left = leftovers(d)
        if left:
            log(f"round {k}: left over: {sorted(os.listdir(d))}")
        counts["leftovers_after_clean_save"] += left
        counts["rounds"] += 1
    return counts


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("scenario", choices=("points", "fixed", "steps", "concurrent"))
    p.add_argument("--kills", type=int, default=200)
    p.add_argument("--rounds", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dir", default=None, help="work directory (default: a new temporary one)")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    directory = args.dir or tempfile.mkdtemp(prefix=f"sf-crash-{args.scenario}-")
    os.makedirs(directory, exist_ok=True)
    messages: list[str] = []

    def log(msg: str) -> None:
        messages.append(msg)
        if args.verbose:
            print(msg, file=sys.stderr)

    if args.scenario == "concurrent":
        counts = run_concurrent(directory, args.rounds, args.seed, log)
    elif args.scenario == "points":
        counts = run_points(directory, log)
    else:
        counts = run_kills(directory, args.kills, args.seed, args.scenario == "steps", log)
    failed = any(counts[k] for k in FAILURES)
    counts = {"scenario": args.scenario, "ok": not failed, **counts, "messages": messages[:20]}
    print(json.dumps(counts))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
