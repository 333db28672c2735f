"""The cache of generated kernels: a second process loads what the first compiled, processes
compiling one kernel at once leave one whole library, a damaged file is rebuilt, and without
a compiler plans run the unfused kernels after one warning."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from staticflow.backends import jit

# plans a fused chain, checks its values and prints what the kernel cache did
PROGRAM = r"""
import json, warnings
import numpy as np
warnings.simplefilter("always")
import staticflow as sf
from staticflow.backends import jit
x = sf.placeholder(sf.float32, [1000])
y = sf.tanh(x * 0.25 + 1.0) * sf.exp(-x) - 2.0
v = np.linspace(-1, 1, 1000, dtype=np.float32)
with warnings.catch_warnings(record=True) as w:
    with sf.Session() as s:
        got = s.run(y, {x: v})
        calls = s.plan(y, {x: v}).stats.kernel_calls
want = np.tanh(v * np.float32(0.25) + np.float32(1.0)) * np.exp(-v) - np.float32(2.0)
print(json.dumps({"ok": bool(np.allclose(got, want, rtol=1e-5)), "calls": calls, **jit.stats,
                  "warnings": [str(m.message) for m in w if m.category is jit.FusionWarning]}))
"""


def _run(tmp_path, **env):
    e = dict(os.environ, STATICFLOW_CACHE_DIR=str(tmp_path / "cache"), **env)
    r = subprocess.run([sys.executable, "-c", PROGRAM], env=e, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def _start(tmp_path):
    e = dict(os.environ, STATICFLOW_CACHE_DIR=str(tmp_path / "cache"))
    return subprocess.Popen([sys.executable, "-c", PROGRAM], env=e, stdout=subprocess.PIPE, text=True)


def test_a_second_process_loads_the_compiled_kernel(tmp_path):
    first = _run(tmp_path)
    assert first["ok"] and first["calls"] == 1 and first["compiled"] == 1 and first["cached"] == 0
    libs = sorted(p.name for p in (tmp_path / "cache").glob("*.so"))
    second = _run(tmp_path)
    assert second["ok"] and second["compiled"] == 0 and second["cached"] == 1
    assert sorted(p.name for p in (tmp_path / "cache").glob("*.so")) == libs


def test_processes_compiling_at_once_leave_one_whole_library(tmp_path):
    procs = [_start(tmp_path) for _ in range(3)]
    results = [json.loads(p.communicate(timeout=300)[0].strip().splitlines()[-1]) for p in procs]
    assert all(r["ok"] for r in results)
    assert len(list((tmp_path / "cache").glob("*.so"))) == 1
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")]  # no partial files
    again = _run(tmp_path)
    assert again["ok"] and again["compiled"] == 0


def test_a_damaged_library_is_rebuilt(tmp_path):
    _run(tmp_path)
    (lib,) = (tmp_path / "cache").glob("*.so")
    lib.write_bytes(b"not a library")
    again = _run(tmp_path)
    assert again["ok"] and again["compiled"] == 1


def test_without_a_compiler_plans_run_unfused_after_one_warning(tmp_path):
    r = _run(tmp_path, STATICFLOW_CC=str(tmp_path / "no-such-cc"))
    assert r["ok"] and r["calls"] == 7 and r["compiled"] == 0
    assert len(r["warnings"]) == 1 and "no C compiler" in r["warnings"][0]


def test_the_key_covers_the_source():
    assert jit.key_of("int f(void) { return 1; }") != jit.key_of("int f(void) { return 2; }")
    assert len(np.unique([jit.key_of("x")] * 3)) == 1
