"""Project-wide pytest hooks."""

pytest_plugins = ["parity.plugin"]

import staticflow.passes  # noqa: E402

# every test checks the IR's invariants after each plan-time pass
staticflow.passes.VERIFY = True
