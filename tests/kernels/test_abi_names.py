"""The kernel ABI's names in Python (staticflow/ops/abi.py) are the header's: every enum
constant of kernels/include/staticflow.h has the same value there and in the built library,
so the lowering and the C kernels cannot disagree on an attribute's position."""

from __future__ import annotations

import pathlib
import re

import pytest

from staticflow.backends import cpu
from staticflow.ops import abi

HEADER = pathlib.Path(__file__).resolve().parents[2] / "kernels" / "include" / "staticflow.h"
# the header's own enums that are not kernel attributes or limits (dtype and status codes)
NOT_ATTRIBUTES = re.compile(r"^SF_(FLOAT|INT|UINT|BOOL|BFLOAT|OK$|ERR_)")


def _header_constants() -> dict[str, int]:
    """Every `SF_NAME = value` of an enum, and every `#define SF_NAME value`, in the header."""
    text = re.sub(r"/\*.*?\*/", "", HEADER.read_text(), flags=re.S)
    out = {}
    for body in re.findall(r"enum\s*\{(.*?)\}", text, flags=re.S):
        for name, value in re.findall(r"(SF_[A-Z0-9_]+)\s*=\s*(\d+)", body):
            out[name] = int(value)
    for name, value in re.findall(r"#define\s+(SF_[A-Z0-9_]+)\s+(\d+)", text):
        out[name] = int(value)
    return out


HEADER_CONSTANTS = {k: v for k, v in _header_constants().items() if not NOT_ATTRIBUTES.match(k)}
PYTHON_CONSTANTS = {k: v for k, v in vars(abi).items() if k.startswith("SF_")}


def test_the_header_names_attribute_positions():
    assert {"SF_CONV_STRIDE_H", "SF_POOL_PAD_LEFT", "SF_MATMUL_TRANSPOSE_B"} <= set(HEADER_CONSTANTS)


def test_python_has_exactly_the_header_names_and_values():
    assert PYTHON_CONSTANTS == {k: v for k, v in HEADER_CONSTANTS.items() if k != "SF_MSG_LEN"}


@pytest.mark.parametrize("name", sorted(PYTHON_CONSTANTS))
def test_the_built_library_agrees(name):
    assert getattr(cpu.lib, name) == PYTHON_CONSTANTS[name]


def test_pack_places_values_by_name_and_zeroes_the_gaps():
    assert abi.pack({abi.SF_CONV_PAD_LEFT: 3, abi.SF_CONV_STRIDE_H: 2}) == (2, 0, 0, 0, 0, 3)
    assert abi.pack({}) == ()
    with pytest.raises(ValueError, match="positions"):
        abi.pack({abi.SF_MAX_ATTRS: 1})
