"""sf.strings: ops on string tensors (TF1's tf.strings)."""

from staticflow.ops.string_ops import (
    as_string,
    join,
    length,
    lower,
    reduce_join,
    regex_full_match,
    regex_replace,
    strip,
    substr,
    to_number,
    upper,
)
from staticflow.ops.string_ops import to_number as string_to_number
