"""``python -m staticflow``: the `staticflow` command (see staticflow.cli)."""

import sys

from staticflow.cli import main

sys.exit(main())
