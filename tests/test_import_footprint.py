"""What `import staticflow` loads: the modules a program that builds and runs float32 graphs
never uses load on first use instead (absl's flags and app runner, ml_dtypes for bfloat16,
OpenSSL through hashlib), and each still works once asked for."""

from __future__ import annotations

import subprocess
import sys

LAZY = ("absl", "absl.app", "absl.flags", "ml_dtypes", "hashlib", "hmac", "secrets")


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_import_and_a_float32_graph_load_none_of_the_lazy_modules():
    """None at import; building and running a float32 graph needs neither absl nor ml_dtypes
    (hashlib may load then: generated kernels are cached by the hash of their source)."""
    code = (
        "import sys, numpy as np, staticflow as sf\n"
        f"print(sorted(m for m in {LAZY!r} if m in sys.modules))\n"
        "x = sf.placeholder(sf.float32, [None, 3])\n"
        "w = sf.Variable(sf.glorot_uniform_initializer(seed=1)([3, 2]))\n"
        "y = sf.nn.relu(sf.matmul(x, w))\n"
        "with sf.Session() as s:\n"
        "    s.run(sf.global_variables_initializer())\n"
        "    s.run(y, {x: np.ones((4, 3), np.float32)})\n"
        f"print(sorted(m for m in {LAZY[:4]!r} if m in sys.modules))\n"
    )
    assert _run(code).splitlines() == ["[]", "[]"]


def test_the_lazy_modules_load_when_used():
    code = (
        "import sys, numpy as np, staticflow as sf\n"
        "assert sf.flags.FLAGS is sf.app.flags.FLAGS and 'absl.flags' in sys.modules\n"
        "assert sf.as_dtype(sf.bfloat16.np) is sf.bfloat16 and 'ml_dtypes' in sys.modules\n"
        "import ml_dtypes\n"
        "assert sf.bfloat16.as_numpy_dtype is ml_dtypes.bfloat16\n"
        "with sf.Session() as s:\n"
        "    v = s.run(sf.cast(sf.constant([1.5, 2.25, 3.0]), sf.bfloat16) * 2)\n"
        "print(v.dtype, v.astype(np.float32).tolist(), float(sf.bfloat16.max))\n"
    )
    assert _run(code) == f"bfloat16 [3.0, 4.5, 6.0] {float.fromhex('0x1.fep127')}"


def test_a_bfloat16_array_made_first_converts_to_its_dtype():
    """A program that makes a bfloat16 array with ml_dtypes before staticflow has loaded the
    type: the array's NumPy dtype still names sf.bfloat16, and it feeds and fetches."""
    code = (
        "import numpy as np, ml_dtypes, staticflow as sf\n"
        "a = np.array([0.5, -2.0], ml_dtypes.bfloat16)\n"
        "assert sf.as_dtype(a.dtype) is sf.bfloat16\n"
        "x = sf.placeholder(sf.bfloat16, [2])\n"
        "with sf.Session() as s:\n"
        "    print(s.run(sf.cast(x + x, sf.float32), {x: a}).tolist())\n"
    )
    assert _run(code) == "[1.0, -4.0]"
