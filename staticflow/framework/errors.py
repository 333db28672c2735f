"""Run-time errors, shaped like ``tf.errors``: each carries the op it concerns.

Graph-construction mistakes raise ValueError / TypeError (as TensorFlow does)
with the op, its inputs and the user's source line in the message.
"""

from __future__ import annotations

OK = 0
CANCELLED = 1
UNKNOWN = 2
INVALID_ARGUMENT = 3
NOT_FOUND = 5
ALREADY_EXISTS = 6
PERMISSION_DENIED = 7
RESOURCE_EXHAUSTED = 8
FAILED_PRECONDITION = 9
ABORTED = 10
OUT_OF_RANGE = 11
UNIMPLEMENTED = 12
INTERNAL = 13
DATA_LOSS = 15


class OpError(Exception):
    """An error while running a graph; `op` is the Operation concerned, or None."""

    error_code = UNKNOWN

    def __init__(self, node_def, op, message: str, error_code: int | None = None):
        super().__init__(message)
        self.node_def = node_def
        self.op = op
        self.message = message
        if error_code is not None:
            self.error_code = error_code

    def __str__(self) -> str:
        return self.message


def _make(name: str, code: int) -> type:
    cls = type(name, (OpError,), {"error_code": code, "__doc__": f"TF-compatible {name}."})
    cls.__init__ = lambda self, node_def, op, message, *a: OpError.__init__(self, node_def, op, message, code)
    return cls


CancelledError = _make("CancelledError", CANCELLED)
UnknownError = _make("UnknownError", UNKNOWN)
InvalidArgumentError = _make("InvalidArgumentError", INVALID_ARGUMENT)
NotFoundError = _make("NotFoundError", NOT_FOUND)
AlreadyExistsError = _make("AlreadyExistsError", ALREADY_EXISTS)
PermissionDeniedError = _make("PermissionDeniedError", PERMISSION_DENIED)
ResourceExhaustedError = _make("ResourceExhaustedError", RESOURCE_EXHAUSTED)
FailedPreconditionError = _make("FailedPreconditionError", FAILED_PRECONDITION)
AbortedError = _make("AbortedError", ABORTED)
OutOfRangeError = _make("OutOfRangeError", OUT_OF_RANGE)
UnimplementedError = _make("UnimplementedError", UNIMPLEMENTED)
InternalError = _make("InternalError", INTERNAL)
DataLossError = _make("DataLossError", DATA_LOSS)

_BY_CODE = {
    c.error_code: c
    for c in (
        CancelledError,
        UnknownError,
        InvalidArgumentError,
        NotFoundError,
        AlreadyExistsError,
        PermissionDeniedError,
        ResourceExhaustedError,
        FailedPreconditionError,
        AbortedError,
        OutOfRangeError,
        UnimplementedError,
        InternalError,
        DataLossError,
    )
}


def error_class(code: int) -> type:
    """The OpError subclass for a status code (UnknownError for unknown codes)."""
    return _BY_CODE.get(code, UnknownError)
