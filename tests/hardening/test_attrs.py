"""Every attr is checked against its declaration (kind, range, allowed values) when an op
is built and when a GraphDef is imported, with an error naming the op, attr and value."""

from __future__ import annotations

import numpy as np
import pytest

import staticflow as sf
from staticflow.framework import dtypes, graph_io
from staticflow.ops import builder, registry


def _graph_def(build) -> sf.GraphDef:
    g = sf.Graph()
    with g.as_default():
        build()
    return g.as_graph_def()


def _import(gd):
    g = sf.Graph()
    with g.as_default():
        sf.import_graph_def(gd, name="")
    return g


def _node(gd, op_type):
    return next(n for n in gd.node if n.op == op_type)


# ---------------------------------------------------------------------------
# the reported cases
# ---------------------------------------------------------------------------
def _conv():
    sf.nn.conv2d(sf.zeros([1, 4, 4, 1]), sf.zeros([2, 2, 1, 1]), [1, 1, 1, 1], "VALID", name="c")


def test_conv2d_padding_of_arbitrary_bytes_is_refused_at_import():
    gd = _graph_def(_conv)
    _node(gd, "Conv2D").attr["padding"].s = b"\xff\xfeSAME"  # used to run as SAME
    raw = r"node 'c' \(Conv2D\): attr 'padding' = b'\\xff\\xfeSAME' is not one"
    with pytest.raises(ValueError, match=raw):
        _import(gd)
    _node(gd, "Conv2D").attr["padding"].s = b"same"
    with pytest.raises(ValueError, match=r"attr 'padding' = 'same' is not one of the allowed values"):
        _import(gd)


def test_conv2d_padding_is_checked_when_built():
    g = sf.Graph()
    with g.as_default(), pytest.raises(ValueError, match=r"Conv2D op 'c': attr 'padding' = 'BOGUS'"):
        builder.apply_op(
            "Conv2D",
            [sf.zeros([1, 4, 4, 1]), sf.zeros([2, 2, 1, 1])],
            {"strides": [1, 1, 1, 1], "padding": "BOGUS"},
            name="c",
        )


def test_placeholder_with_default_shape_must_fit_its_default():
    g = sf.Graph()
    with g.as_default():
        with pytest.raises(ValueError, match=r"default value of shape \(2, 3\) is not compatible.*\(4,\)"):
            builder.apply_op("PlaceholderWithDefault", [sf.zeros([2, 3])], {"shape": sf.TensorShape([4])})
    gd = _graph_def(lambda: sf.placeholder_with_default(sf.zeros([2, 3]), [None, 3], name="p"))
    _node(gd, "PlaceholderWithDefault").attr["shape"].CopyFrom(graph_io.attr_to_proto([4], "shape"))
    with pytest.raises(ValueError, match="PlaceholderWithDefault op 'p'.*not compatible"):
        _import(gd)


@pytest.mark.parametrize("num_split", [0, -1])
def test_split_num_split_must_be_positive(num_split):
    # 0 gave ZeroDivisionError, a negative count an op with no outputs
    g = sf.Graph()
    with g.as_default():
        with pytest.raises(ValueError, match=f"attr 'num_split' = {num_split} is less than the minimum 1"):
            sf.split(sf.zeros([4]), num_split)
    gd = _graph_def(lambda: sf.split(sf.zeros([4]), 2, name="s"))
    _node(gd, "Split").attr["num_split"].i = num_split
    with pytest.raises(ValueError, match=r"node 's' \(Split\): attr 'num_split'"):
        _import(gd)


def test_concat_n_below_two_is_refused_at_import():
    gd = _graph_def(lambda: sf.concat([sf.zeros([2]), sf.ones([2])], 0, name="c"))
    for n in (-1, 0, 1):
        _node(gd, "ConcatV2").attr["N"].i = n  # -1 used to raise IndexError
        says = rf"node 'c' \(ConcatV2\): attr 'N' = {n} is less than the minimum 2"
        with pytest.raises(ValueError, match=says):
            _import(gd)
    _node(gd, "ConcatV2").attr["N"].i = 4  # more than the inputs there are
    with pytest.raises(ValueError, match="attr N = 4 does not match its 3 inputs"):
        _import(gd)


@pytest.mark.parametrize(
    "mask", ["begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask"]
)
def test_strided_slice_masks_must_be_non_negative(mask):
    g = sf.Graph()
    with g.as_default():
        with pytest.raises(ValueError, match=f"attr '{mask}' = -1 is less than the minimum 0"):
            sf.strided_slice(sf.zeros([3, 4]), [0, 0], [1, 1], [1, 1], **{mask: -1})
    gd = _graph_def(lambda: sf.strided_slice(sf.zeros([3, 4]), [0, 0], [1, 1], [1, 1], name="s"))
    _node(gd, "StridedSlice").attr[mask].i = -1
    with pytest.raises(ValueError, match=rf"node 's' \(StridedSlice\): attr '{mask}' = -1"):
        _import(gd)


def test_an_unknown_dtype_enum_is_a_clear_import_error():
    gd = _graph_def(lambda: sf.zeros([2], name="z"))
    _node(gd, "Fill").attr["T"].type = 99
    with pytest.raises(ValueError, match=r"node 'z' \(Fill\): .*\b99\b"):
        _import(gd)


def test_a_const_whose_dtype_attr_contradicts_its_value_is_refused():
    gd = _graph_def(lambda: sf.constant([1.0, 2.0], name="k"))
    _node(gd, "Const").attr["dtype"].type = dtypes.int32.as_datatype_enum
    with pytest.raises(ValueError, match="value has dtype float32, but its dtype attr is int32"):
        _import(gd)


# ---------------------------------------------------------------------------
# every declared attr of every op, from the registry
# ---------------------------------------------------------------------------
_BAD_KIND = {  # a value of the wrong kind, and an AttrValue field of the wrong kind
    "type": ("float32x", "i"),
    "int": ("three", "s"),
    "float": ("x", "s"),
    "bool": (7, "s"),
    "string": (3, "i"),
    "shape": ("?", "i"),
    "tensor": (None, "i"),
    "list(int)": ("1,2", "i"),
    "list(float)": (2.5, "i"),
    "list(type)": ("float32", "i"),
    "list(shape)": (5, "i"),
    "list(string)": ("NHWC", "i"),
    "func": ("cond_true", "i"),
}


_ALL_DTYPES = [
    dtypes.as_dtype(n)
    for n in ("string", "float16", "bool", "uint8", "float32", "float64", "int32", "int64")
]


def _bad_values(a: registry.Attr):
    """(value, what the error says) pairs that attr `a` must refuse."""
    out = []
    if a.min is not None:
        if a.kind == "int":
            out.append((a.min - 1, "less than the minimum"))
        elif a.kind.startswith("list(") and a.min > 0:
            out.append(([1] * (a.min - 1) if a.kind == "list(int)" else [], "fewer than the minimum"))
    if a.max is not None:
        out.append((a.max + 1, "more than the maximum"))
    if a.allowed is not None:
        if a.kind in ("string", "list(string)"):
            bad = "NOT-ALLOWED"
        else:  # a dtype it does not allow, if there is one
            bad = next((t for t in _ALL_DTYPES if t not in a.allowed), None)
        if bad is not None:
            out.append(([bad] if a.kind.startswith("list(") else bad, "allowed values"))
    return out


_ATTR_PARAMS = [
    pytest.param(d.name, a.name, id=f"{d.name}.{a.name}")
    for d in registry.all_ops()
    for a in d.attrs
    if d.cases is not None
]


def _build_case(d, case, attrs):
    inputs = []
    for arg, v in zip(d.inputs, case.inputs):
        if arg.is_list:
            inputs.append([sf.constant(x) for x in v])
        else:
            inputs.append(sf.constant(v))
    return builder.apply_op(d.name, inputs, attrs, name="the_op")


def _declaration_only(a: registry.Attr):
    """Ops of session state (queues, iterators: their cases are scenarios) are not built
    from a case here: their declarations are checked directly, through check_attr, which
    both building and importing run (as the other ops show)."""
    value, _ = _BAD_KIND[a.kind]
    with pytest.raises((TypeError, ValueError), match=f"attr '{a.name}'"):
        registry.check_attr(a, value)
    for value, says in _bad_values(a):
        with pytest.raises((TypeError, ValueError), match=f"attr '{a.name}'.*{says}"):
            registry.check_attr(a, value)


@pytest.mark.parametrize("op_name,attr_name", _ATTR_PARAMS)
def test_every_attr_is_checked_when_built_and_imported(op_name, attr_name):
    d = registry.get(op_name)
    a = d.attr(attr_name)
    cases = d.cases(np.random.default_rng(0))
    if not cases or cases[0].scenario is not None:
        # no case to build (the compiler's own ops that only passes make) or a scenario
        _declaration_only(a)
        return
    case = cases[0]
    derived = {arg.type_attr for arg in d.inputs} | {arg.number_attr for arg in d.inputs}
    derived |= {arg.type_list_attr for arg in d.inputs}
    g = sf.Graph()
    with g.as_default():
        op = _build_case(d, case, dict(case.attrs))
    gd = g.as_graph_def()
    node = next(n for n in gd.node if n.name == "the_op")
    # a value of the wrong kind
    value, field = _BAD_KIND[a.kind]
    if a.name not in derived:  # attrs the inputs determine are set from them while building
        with sf.Graph().as_default(), pytest.raises((TypeError, ValueError), match=f"attr '{a.name}'"):
            _build_case(d, case, {**case.attrs, a.name: value})
    bad = gd.__class__.FromString(gd.SerializeToString())
    target = next(n for n in bad.node if n.name == "the_op")
    target.attr[a.name].Clear()
    if field == "i":
        target.attr[a.name].i = 3
    else:
        target.attr[a.name].s = b"wrong kind"
    if d.internal:
        # the compiler's own ops are refused whole on import; their attrs are checked as declared
        with pytest.raises(ValueError, match=rf"'the_op' uses op '{op_name}', which only staticflow"):
            _import(bad)
        _declaration_only(a)
        return
    with pytest.raises(ValueError, match=rf"node 'the_op' \({op_name}\)"):
        _import(bad)
    # values out of the declared range or not allowed
    for value, says in _bad_values(a):
        if a.name not in derived:
            with sf.Graph().as_default():
                with pytest.raises((TypeError, ValueError), match=f"{a.name}.*{says}"):
                    _build_case(d, case, {**case.attrs, a.name: value})
        bad = gd.__class__.FromString(gd.SerializeToString())
        target = next(n for n in bad.node if n.name == "the_op")
        target.attr[a.name].CopyFrom(graph_io.attr_to_proto(value, a.kind))
        with pytest.raises(ValueError, match=rf"node 'the_op' \({op_name}\): attr '{a.name}'.*{says}"):
            _import(bad)
    assert node.attr[a.name] == graph_io.attr_to_proto(op.get_attr(a.name), a.kind) or a.kind == "tensor"
