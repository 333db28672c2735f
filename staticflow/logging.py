"""sf.logging: TF1's tf.logging on Python's logging, with a "staticflow" logger.

Messages print as ``INFO:staticflow:message`` on stderr (TensorFlow's format,
with its logger name), unless the root logger already has handlers, in which
case they go there only. The default verbosity is WARN, as TensorFlow's.
"""

from __future__ import annotations

import logging as _logging
import os as _os
import sys as _sys
import threading as _threading

DEBUG = _logging.DEBUG
INFO = _logging.INFO
WARN = _logging.WARN
ERROR = _logging.ERROR
FATAL = _logging.FATAL

_logger: _logging.Logger | None = None
_lock = _threading.Lock()
_counts: dict[tuple, int] = {}


def get_logger() -> _logging.Logger:
    """The "staticflow" logger, with a stderr handler unless the root logger has one."""
    global _logger
    if _logger is not None:
        return _logger
    with _lock:
        if _logger is None:
            logger = _logging.getLogger("staticflow")
            if not _logging.getLogger().handlers and not logger.handlers:
                handler = _logging.StreamHandler(_sys.stderr)
                handler.setFormatter(_logging.Formatter(_logging.BASIC_FORMAT, None))
                logger.addHandler(handler)
            _logger = logger
    return _logger


def set_verbosity(v: int) -> None:
    """Log messages at level v and above."""
    get_logger().setLevel(v)


def get_verbosity() -> int:
    """The effective level (WARN unless set)."""
    return get_logger().getEffectiveLevel()


def log(level: int, msg, *args, **kwargs) -> None:
    get_logger().log(level, msg, *args, **kwargs)


def debug(msg, *args, **kwargs) -> None:
    get_logger().debug(msg, *args, **kwargs)


def info(msg, *args, **kwargs) -> None:
    get_logger().info(msg, *args, **kwargs)


def warning(msg, *args, **kwargs) -> None:
    get_logger().warning(msg, *args, **kwargs)


warn = warning


def error(msg, *args, **kwargs) -> None:
    get_logger().error(msg, *args, **kwargs)


def fatal(msg, *args, **kwargs) -> None:
    """Log at FATAL (logging's CRITICAL); as in TensorFlow, the program goes on."""
    get_logger().fatal(msg, *args, **kwargs)


def vlog(level: int, msg, *args, **kwargs) -> None:
    get_logger().log(level, msg, *args, **kwargs)


def log_if(level: int, msg, condition, *args) -> None:
    """Log msg when condition is true."""
    if condition:
        log(level, msg, *args)


def _call_site() -> tuple:
    """(file, line) of the code that called into this module."""
    f = _sys._getframe(1)
    here = _os.path.normcase(__file__)
    while f is not None and _os.path.normcase(f.f_code.co_filename) == here:
        f = f.f_back
    return (f.f_code.co_filename, f.f_lineno) if f is not None else ("<unknown>", 0)


def _next_count(site: tuple) -> int:
    with _lock:
        n = _counts.get(site, 0)
        _counts[site] = n + 1
    return n


def log_every_n(level: int, msg, n: int, *args) -> None:
    """Log on the 1st, (n+1)th, (2n+1)th, ... call from one line of code."""
    count = _next_count(_call_site())
    log_if(level, msg, count % n == 0, *args)


def log_first_n(level: int, msg, n: int, *args) -> None:
    """Log on the first n calls from one line of code."""
    count = _next_count(_call_site())
    log_if(level, msg, count < n, *args)


def flush() -> None:
    for h in get_logger().handlers:
        h.flush()


def TaskLevelStatusMessage(msg) -> None:  # noqa: N802 - TF's name
    error(msg)
