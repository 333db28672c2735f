"""DecodeCSV: CSV records to one tensor per column, as TensorFlow parses them.

The parse is TensorFlow's (RFC 4180 with its particulars): fields split on a
one-byte delimiter; with use_quote_delim, a field that starts with a double
quote runs to a quote followed by the delimiter or the end, and holds "" for a
quote; a quote or a line break inside an unquoted field is an error; line
breaks at the start of a field are skipped. An empty field, or one equal to
na_value, takes the column's default, and is an error where the column has
none. Numbers may have spaces around them; int columns take decimal digits
only. The errors are TensorFlow's, with its messages.
"""

from __future__ import annotations

import re

import numpy as np

from staticflow.framework import dtypes
from staticflow.framework import ops as fops
from staticflow.ops import builder
from staticflow.ops.registry import Arg, Attr, Case, op

D = dtypes
CSV_T = (D.float32, D.float64, D.int32, D.int64, D.string)

_INT = re.compile(rb"^\s*[+-]?[0-9]+\s*$")
_FLOAT = re.compile(
    rb"^\s*[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?|nan(?:\([0-9A-Za-z_]*\))?"
    rb"|0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?)\s*$",
    re.IGNORECASE,
)
_INT_RANGE = {D.int32: (-(2**31), 2**31 - 1), D.int64: (-(2**63), 2**63 - 1)}


def _fields(rec: bytes, delim: int, quotes: bool, select: list[int] | None) -> list[bytes]:
    """The fields of one record (those of select_cols only, when given)."""
    if not rec:
        return []
    if select is None and not (quotes and 34 in rec) and 10 not in rec and 13 not in rec:
        return rec.split(bytes([delim]))  # the common case: no quotes, no line breaks
    out: list[bytes] = []
    i, n, parsed, sel = 0, len(rec), 0, 0
    while i < n:
        c = rec[i]
        if c in (10, 13):
            i += 1
            continue
        include = select is None or select[sel] == parsed
        field = bytearray()
        if quotes and c == 34:
            i += 1
            while i < n - 1 and not (rec[i] == 34 and rec[i + 1] == delim):
                if rec[i] != 34:
                    field.append(rec[i])
                    i += 1
                elif rec[i + 1] == 34:
                    field.append(34)
                    i += 2
                else:
                    raise ValueError("Quote inside a string has to be escaped by another quote")
            if not (i < n and rec[i] == 34 and (i == n - 1 or rec[i + 1] == delim)):
                raise ValueError("Quoted field has to end with quote followed by delim or end")
            i += 2
        else:
            while i < n and rec[i] != delim:
                if (quotes and rec[i] == 34) or rec[i] in (10, 13):
                    raise ValueError("Unquoted fields cannot have quotes/CRLFs inside")
                field.append(rec[i])
                i += 1
            i += 1
        parsed += 1
        if include:
            out.append(bytes(field))
            sel += 1
            if select is not None and sel == len(select):
                return out
    if rec[-1] == delim and (select is None or select[sel] == parsed):
        out.append(b"")
    return out


def _parse(field: bytes, dt: D.DType, f: int, r: int):
    if dt is D.string:
        return field
    if dt.is_integer:
        lo, hi = _INT_RANGE[dt]
        if _INT.match(field):
            v = int(field)
            if lo <= v <= hi:
                return v
        raise ValueError(
            f"Field {f} in record {r} is not a valid {dt.name}: {field.decode('utf-8', 'replace')}"
        )
    if _FLOAT.match(field):
        s = field.strip().decode("ascii").lower()
        body = s.lstrip("+-")
        if body.startswith("0x"):
            v = float.fromhex(s)
        elif body.startswith("nan"):
            v = float("nan")
        else:
            v = float(s)
        with np.errstate(over="ignore", under="ignore"):
            return dt.np.type(v)
    name = "float" if dt is D.float32 else "double"
    raise ValueError(f"Field {f} in record {r} is not a valid {name}: {field.decode('utf-8', 'replace')}")


def _decode_csv_ref(ins, a):
    records, defaults = np.asarray(ins[0]), [np.asarray(d) for d in ins[1:]]
    types = [D.as_dtype(t) for t in a["OUT_TYPE"]]
    delim = a["field_delim"]
    delim = delim.encode() if isinstance(delim, str) else delim
    if len(delim) != 1:
        raise ValueError("field_delim should be only 1 char")
    na = a["na_value"]
    na = na.encode() if isinstance(na, str) else na
    select = list(a["select_cols"]) or None
    for i, d in enumerate(defaults):
        if d.size > 1:
            raise ValueError(f"There should only be 1 default per field but field {i} has {d.size}")
    outs = [np.empty(records.shape, dtype=t.np if t is not D.string else object) for t in types]
    flat_outs = [o.reshape(-1) for o in outs]
    for r, rec in enumerate(records.reshape(-1)):
        fields = _fields(rec, delim[0], a["use_quote_delim"], select)
        if len(fields) != len(types):
            raise ValueError(f"Expect {len(types)} fields but have {len(fields)} in record {r}")
        for f, (field, t) in enumerate(zip(fields, types)):
            if not field or field == na:
                if defaults[f].size != 1:
                    raise ValueError(f"Field {f} is required but missing in record {r}!")
                flat_outs[f][r] = defaults[f].reshape(-1)[0]
            else:
                flat_outs[f][r] = _parse(field, t, f, r)
    return outs


def _decode_csv_shape(c):
    for s in c.input_shapes[1:]:
        if s.ndims is not None and (
            s.ndims > 1 or (s.ndims == 1 and s[0].value is not None and s[0].value > 1)
        ):
            raise ValueError("Shape of a default must be a length-0 or length-1 vector, or a scalar.")
    return [c.shape(0) for _ in c.attrs["OUT_TYPE"]]


def _csv(rows):
    return np.array([r.encode() for r in rows], dtype=object)


op(
    name="DecodeCSV",
    inputs=[Arg("records", dtype=D.string), Arg("record_defaults", type_list_attr="OUT_TYPE")],
    outputs=[Arg("output", type_list_attr="OUT_TYPE")],
    attrs=[
        Attr("OUT_TYPE", "list(type)", allowed=CSV_T),
        Attr("field_delim", "string", ","),
        Attr("use_quote_delim", "bool", True),
        Attr("na_value", "string", ""),
        Attr("select_cols", "list(int)", []),
    ],
    shape_fn=_decode_csv_shape,
    ref=_decode_csv_ref,
    host_kernel=True,
    differentiable=False,
    cases=lambda rng: [
        Case(
            (
                _csv(["1,2.5,abc,7", "3,,x,", ' -4 ,1e3,"q,""u""",9']),
                [
                    np.array([0], np.int32),
                    np.array([0.5], np.float32),
                    np.array([b"d"], object),
                    np.array([1], np.int64),
                ],
            ),
            grad=False,
        ),
        Case(
            (
                _csv(["a;NA;2", "b;3.25;"]).reshape(2, 1),
                [np.array([], object), np.array(-1.0), np.array([8])],
            ),
            {"field_delim": ";", "na_value": "NA"},
            grad=False,
        ),
        Case(
            (_csv(["1,x,3", "4,y,6"]), [np.array([0]), np.array([0.0])]), {"select_cols": [0, 2]}, grad=False
        ),
        Case((_csv(['"a,b",c']), [np.array([b""], object)] * 3), {"use_quote_delim": False}, grad=False),
        Case((_csv([]), [np.array([0.0])]), grad=False),
    ],
    doc="CSV records to one tensor per column (record_defaults give types and missing values).",
)


def decode_csv(
    records, record_defaults, field_delim=",", use_quote_delim=True, name=None, na_value="", select_cols=None
):
    """One tensor per column of the CSV records, each of the records' shape (TF1's
    tf.decode_csv). A record_defaults entry is a list of one value (the column's
    default, whose type is the column's) or an empty tensor (the column is required)."""
    if select_cols is not None:
        select_cols = list(select_cols)
        if any(select_cols[i] >= select_cols[i + 1] for i in range(len(select_cols) - 1)):
            raise ValueError("select_cols is not strictly increasing.")
        if select_cols and select_cols[0] < 0:
            raise ValueError("select_cols contains negative values.")
        if len(select_cols) != len(record_defaults):
            raise ValueError("Length of select_cols and record_defaults do not match.")
    defaults = []
    with fops.name_scope(name, "DecodeCSV") as scope:
        for i, d in enumerate(record_defaults):
            if isinstance(d, fops.Tensor):
                defaults.append(d)
                continue
            arr = np.asarray(d)
            if arr.size == 0 and arr.dtype == np.float64 and not isinstance(d, np.ndarray):
                arr = arr.astype(np.float32)  # TF1: [] is an empty float32 default
            defaults.append(fops.convert_to_tensor(d if arr.size else arr, name=f"record_defaults_{i}"))
        for d in defaults:
            if d.dtype not in CSV_T:
                raise TypeError(
                    f"Value passed to parameter 'record_defaults' has DataType {d.dtype.name} not in list of "
                    "allowed values: float32, float64, int32, int64, string"
                )
        attrs = {
            "field_delim": field_delim,
            "use_quote_delim": bool(use_quote_delim),
            "na_value": na_value,
            "select_cols": select_cols or [],
        }
        records = fops.convert_to_tensor(records, dtype=D.string, name="records")
        o = builder.apply_op("DecodeCSV", [records, defaults], attrs, name=scope[:-1], exact_name=True)
    return list(o.outputs)
