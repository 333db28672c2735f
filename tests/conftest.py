"""Project-wide pytest hooks."""

pytest_plugins = ["parity.plugin"]
