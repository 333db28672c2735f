"""Project-wide pytest hooks."""

pytest_plugins = ["parity.plugin"]
pytest_plugins.append("fuzz.report")  # the fuzz tests' counts in the terminal summary

import os  # noqa: E402

import staticflow.passes  # noqa: E402

# every test checks the IR's invariants after each plan-time pass
staticflow.passes.VERIFY = True

# STATICFLOW_TEST_DEVICE=simulated: the registry's op tests run on a simulated GPU
# (tests/ondevice.py; `make test-gpu-simulated`), installed for the whole run
if os.environ.get("STATICFLOW_TEST_DEVICE", "").strip().lower() == "simulated":
    from staticflow.backends import simulated as _simulated

    _simulated.install()
