"""sf.debugging: numerical checks."""

from staticflow.ops.logging_ops import add_check_numerics_ops, check_numerics  # noqa: F401
