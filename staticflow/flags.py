"""sf.flags (also sf.app.flags): TF1's command-line flags, which are absl-py's flags.

Two TF1 leniencies are kept: the define functions accept TF1's old keyword
names (flag_name, default_value, docstring), and reading a flag value before
the command line was parsed parses sys.argv then (absl itself raises).
`sf.app.run()` parses the command line, leaving flags it does not know in the
argv it passes to main, as TF1 does.
"""

from __future__ import annotations

import functools
import logging as _logging
import sys as _sys

from absl import flags as _absl_flags
from absl.flags import (  # noqa: F401 - re-exported, as tf.flags does
    DEFINE,
    ArgumentParser,
    DEFINE_alias,
    DEFINE_enum_class,
    DEFINE_flag,
    DEFINE_multi_enum,
    DEFINE_multi_float,
    DEFINE_multi_integer,
    DEFINE_multi_string,
    DEFINE_spaceseplist,
    Error,
    Flag,
    FlagValues,
    IllegalFlagValueError,
    UnparsedFlagAccessError,
    UnrecognizedFlagError,
    ValidationError,
    declare_key_flag,
    mark_flag_as_required,
    mark_flags_as_mutual_exclusive,
    mark_flags_as_required,
    register_multi_flags_validator,
    register_validator,
    validator,
)

_RENAMED_ARGUMENTS = {"flag_name": "name", "default_value": "default", "docstring": "help"}


def _wrap_define_function(original):
    """Let a define function take TF1's old keyword names too."""

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        renamed = False
        for old, new in _RENAMED_ARGUMENTS.items():
            if old in kwargs:
                renamed = True
                kwargs[new] = kwargs.pop(old)
        if renamed:
            _logging.warning(
                "Use of the keyword argument names (flag_name, default_value, docstring) is deprecated, "
                "please use (name, default, help) instead."
            )
        return original(*args, **kwargs)

    return wrapper


class _FlagValuesWrapper:
    """absl's FLAGS, except that reading a flag before parsing parses sys.argv first."""

    def __init__(self, flags_object):
        self.__dict__["__wrapped"] = flags_object

    def __getattribute__(self, name):
        if name == "__dict__":
            return super().__getattribute__(name)
        return self.__dict__["__wrapped"].__getattribute__(name)

    def __getattr__(self, name):
        wrapped = self.__dict__["__wrapped"]
        if not wrapped.is_parsed():
            wrapped(_sys.argv)
        return wrapped.__getattr__(name)

    def __setattr__(self, name, value):
        return self.__dict__["__wrapped"].__setattr__(name, value)

    def __delattr__(self, name):
        return self.__dict__["__wrapped"].__delattr__(name)

    def __dir__(self):
        return self.__dict__["__wrapped"].__dir__()

    def __getitem__(self, name):
        return self.__dict__["__wrapped"].__getitem__(name)

    def __setitem__(self, name, flag):
        return self.__dict__["__wrapped"].__setitem__(name, flag)

    def __len__(self):
        return self.__dict__["__wrapped"].__len__()

    def __iter__(self):
        return self.__dict__["__wrapped"].__iter__()

    def __str__(self):
        return self.__dict__["__wrapped"].__str__()

    def __call__(self, *args, **kwargs):
        return self.__dict__["__wrapped"].__call__(*args, **kwargs)


DEFINE_string = _wrap_define_function(_absl_flags.DEFINE_string)
DEFINE_boolean = _wrap_define_function(_absl_flags.DEFINE_boolean)
DEFINE_bool = DEFINE_boolean
DEFINE_float = _wrap_define_function(_absl_flags.DEFINE_float)
DEFINE_integer = _wrap_define_function(_absl_flags.DEFINE_integer)
DEFINE_list = _wrap_define_function(_absl_flags.DEFINE_list)
DEFINE_enum = _wrap_define_function(_absl_flags.DEFINE_enum)

FLAGS = _FlagValuesWrapper(_absl_flags.FLAGS)
