"""sf.app.run: run a script's main and exit with its status (TF1's tf.app.run)."""

from __future__ import annotations

import sys


def run(main=None, argv=None) -> None:
    """Call main(argv) (default: the __main__ module's main) and exit with its return value."""
    if main is None:
        main = getattr(sys.modules["__main__"], "main", None)
        if main is None:
            raise ValueError("sf.app.run needs a main function (or a `main` in the __main__ module)")
    sys.exit(main(list(sys.argv) if argv is None else argv))
