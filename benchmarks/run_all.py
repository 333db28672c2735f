"""Run every ``bench_*.py`` in this folder, each in its own Python process.

A separate process per benchmark keeps their global settings (TensorFlow's
graph mode, thread pools) from leaking into one another. Exits non-zero when
any of them fails, after running the rest. Run: ``make bench``.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys


def main() -> int:
    here = pathlib.Path(__file__).resolve().parent
    failed = []
    for script in sorted(here.glob("bench_*.py")):
        print(f"== {script.relative_to(here.parent)}", flush=True)
        if subprocess.run([sys.executable, str(script)], cwd=here.parent).returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
