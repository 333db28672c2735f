"""Project-wide pytest hooks."""

pytest_plugins = ["parity.plugin"]
pytest_plugins.append("fuzz.report")  # the fuzz tests' counts in the terminal summary

import staticflow.passes  # noqa: E402

# every test checks the IR's invariants after each plan-time pass
staticflow.passes.VERIFY = True
