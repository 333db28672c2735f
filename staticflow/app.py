"""sf.app.run: parse the command line and run a script's main (TF1's tf.app.run), and
sf.app.flags (the same module as sf.flags)."""

from __future__ import annotations

import sys

from absl import app as _absl_app

from staticflow import flags


def _parse_flags_tolerate_undef(argv):
    """Parse the flags staticflow knows; unknown ones stay in the returned argv (absl would exit)."""
    return flags.FLAGS(sys.argv if argv is None else argv, known_only=True)


def run(main=None, argv=None) -> None:
    """Parse argv (default sys.argv) into sf.flags.FLAGS, call main(remaining argv) (default: the
    __main__ module's main) and exit with its return value."""
    if main is None:
        main = getattr(sys.modules["__main__"], "main", None)
        if main is None:
            raise AttributeError("sf.app.run needs a main function: pass main= or define main() in __main__")
    _absl_app.run(main=main, argv=argv, flags_parser=_parse_flags_tolerate_undef)


__all__ = ["flags", "run"]
