"""sf.flags / sf.app.run: a TF1-style script run as a subprocess parses its command line as
under TensorFlow (expected outputs recorded from the same script run with tensorflow.compat.v1)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SCRIPT = """
import json
import staticflow as tf

flags = tf.app.flags
FLAGS = flags.FLAGS
flags.DEFINE_string("name", "x", "a string")
flags.DEFINE_integer("steps", 3, "an int")
flags.DEFINE_float("lr", 0.1, "a float")
flags.DEFINE_boolean("fast", False, "a bool")
tf.flags.DEFINE_bool("verbose", True, "another bool")
flags.DEFINE_list("layers", ["a", "b"], "a list")
flags.DEFINE_enum("mode", "train", ["train", "eval"], "an enum")
tf.flags.DEFINE_string(flag_name="old", default_value="o", docstring="TF1's old keyword names")
early = FLAGS.steps if EARLY else None  # read before tf.app.run: parses sys.argv then


def main(argv):
    out = {k: getattr(FLAGS, k) for k in ("name", "steps", "lr", "fast", "verbose", "layers", "mode", "old")}
    out["early"] = early
    out["argv"] = argv[1:]
    print(json.dumps(out))
    return 3


if __name__ == "__main__":
    tf.app.run()
"""

DEFAULTS = {
    "name": "x",
    "steps": 3,
    "lr": 0.1,
    "fast": False,
    "verbose": True,
    "layers": ["a", "b"],
    "mode": "train",
    "old": "o",
}


def _run(tmp_path, args, early=False):
    path = tmp_path / "script.py"
    path.write_text(f"EARLY = {early}\n" + SCRIPT)
    return subprocess.run([sys.executable, str(path), *args], capture_output=True, text=True, cwd=tmp_path)


@pytest.mark.parametrize(
    "args,early,want",
    [
        (
            [
                "--name=abc",
                "--steps",
                "7",
                "--lr=0.5",
                "--fast",
                "--noverbose",
                "--layers=1,2,3",
                "--mode=eval",
                "extra",
            ],
            False,
            {
                "name": "abc",
                "steps": 7,
                "lr": 0.5,
                "fast": True,
                "verbose": False,
                "layers": ["1", "2", "3"],
                "mode": "eval",
                "early": None,
                "argv": ["extra"],
            },
        ),
        (["--steps=5"], True, {"steps": 5, "early": 5, "argv": []}),
        (
            ["--steps=5", "--unknown=1", "extra"],
            False,
            {"steps": 5, "early": None, "argv": ["--unknown=1", "extra"]},
        ),
    ],
)
def test_app_run_parses_flags_like_tf1(tmp_path, args, early, want):
    r = _run(tmp_path, args, early)
    assert r.returncode == 3, r.stderr  # main's return value is the exit status
    assert json.loads(r.stdout.strip().splitlines()[-1]) == {**DEFAULTS, **want}


def test_bad_values_and_unknown_flags_read_early_fail_with_absl_errors(tmp_path):
    r = _run(tmp_path, ["--mode=bad"])
    assert r.returncode != 0 and "flag --mode=bad: value should be one of <train|eval>" in r.stderr
    r = _run(tmp_path, ["--unknown=1"], early=True)
    assert r.returncode != 0 and "Unknown command line flag 'unknown'" in r.stderr


def test_flags_module_is_shared():
    import staticflow as sf

    assert sf.app.flags is sf.flags and sf.flags.DEFINE_bool is sf.flags.DEFINE_boolean
