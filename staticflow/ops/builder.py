"""Creating operations from registry declarations (TF's op_def_library).

`apply_op` converts inputs, resolves type attrs, fills attr defaults, names
the op inside the current name scope, runs the shape function and reports
any mismatch with the op, its inputs' shapes and the user's source line.
"""

from __future__ import annotations

import numpy as np

from staticflow.framework import dtypes, sizes
from staticflow.framework import hooks as framework_hooks
from staticflow.framework import ops as fops
from staticflow.framework.tensor_shape import TensorShape, as_shape
from staticflow.ops import const_eval, registry
from staticflow.ops.const_eval import constant_value, constant_value_as_shape  # noqa: F401


def _graph_of(inputs) -> fops.Graph:
    dg = fops.get_default_graph()
    if dg.building_function:  # inside a function every op is the function's (outer tensors captured)
        return dg
    for x in inputs:
        if isinstance(x, (list, tuple)):
            for y in x:
                if isinstance(y, fops.Tensor):
                    return y.graph
        elif isinstance(x, fops.Tensor):
            return x.graph
    return fops.get_default_graph()


def _check_graph(g: fops.Graph, t: fops.Tensor, op_type: str) -> fops.Tensor:
    """`t` as graph `g` sees it: itself, or, in a function, its capture from an enclosing graph."""
    if t.graph is not g and g.building_function and g.is_ancestor(t.graph):
        return g.capture(t)
    if t.graph is not g:
        raise ValueError(f"{op_type}: Tensor {t.name} must be from the same graph as the other inputs.")
    return t


def _fmt_shapes(shapes) -> str:
    return ", ".join(str(s) for s in shapes)


def apply_op(
    op_type: str,
    inputs: list,
    attrs: dict | None = None,
    name: str | None = None,
    loc=None,
    exact_name: bool = False,
    extra_attrs: dict | None = None,
    device: str | None = None,
) -> fops.Operation:
    """Create an op of registered type `op_type` in the inputs' (or default) graph.

    `exact_name` uses `name` as the full op name (import); so does a name ending in "/"
    (a scope's name, as TF: the op named after the scope that holds its helpers).
    `extra_attrs` keeps attrs staticflow does not declare (as AttrValue protos) so they
    round-trip.
    """
    d = registry.get(op_type)
    if name and name.endswith("/") and not exact_name:
        name, exact_name = name[:-1], True
    attrs = dict(attrs or {})
    loc = loc or fops.user_frame()
    if name and name.endswith("/") and not exact_name:  # a scope (as a name_scope yields): its full name
        name, exact_name = name[:-1], True
    if len(inputs) != len(d.inputs):
        raise TypeError(
            f"{op_type} takes {len(d.inputs)} inputs ({', '.join(a.name for a in d.inputs)}), "
            f"got {len(inputs)}"
        )
    g = _graph_of(inputs)
    # 1. type attrs from tensor inputs
    for arg, x in zip(d.inputs, inputs):
        if arg.type_list_attr is not None and arg.type_list_attr not in attrs:
            if isinstance(x, (list, tuple)) and all(isinstance(y, fops.Tensor) for y in x):
                attrs[arg.type_list_attr] = [y.dtype for y in x]
            continue
        if arg.type_attr is None:
            continue
        for y in x if arg.is_list else [x]:
            if isinstance(y, fops.Tensor) and arg.type_attr not in attrs:
                attrs[arg.type_attr] = y.dtype
    # 2. convert the rest; as in TF, constants made for an op live in its name
    # scope ("ArgMax/dimension") and the op takes the scope's name
    needs = any(
        not isinstance(y, fops.Tensor)
        for arg, x in zip(d.inputs, inputs)
        for y in (x if arg.is_list and isinstance(x, (list, tuple)) else [x])
    )
    if needs and not exact_name:
        with g.name_scope(name or op_type) as scope:
            flat = _convert_inputs(g, d, inputs, attrs, op_type, name, loc)
        name, exact_name = scope[:-1], True
    else:
        flat = _convert_inputs(g, d, inputs, attrs, op_type, name, loc)
    # 3. attr defaults and checks
    _complete_attrs(d, attrs, op_type, name, loc)
    # 4. name, outputs, shapes
    out_dtypes = output_dtypes(d, attrs)
    if exact_name:
        if name in g._ops:
            raise ValueError(f"an operation named {name!r} already exists in the graph")
        op_name = name
        g._names_in_use[name.lower()] = max(1, g._names_in_use.get(name.lower(), 0))
    else:
        op_name = g.unique_name(name or op_type)
    controls = list(g._current_control_inputs())
    op = fops.Operation(
        g,
        op_name,
        op_type,
        flat,
        attrs,
        out_dtypes,
        controls,
        g._current_device() if device is None else device,
        loc,
    )
    op._extra_attrs = dict(extra_attrs or {})
    if op_type in g._gradient_override_map:
        from staticflow.framework import attr_value_pb2

        mapped = g._gradient_override_map[op_type].encode()
        op._extra_attrs["_gradient_op_type"] = attr_value_pb2.AttrValue(s=mapped)
    infer_shapes(op)
    g._add_op(op)
    return op


def _convert_inputs(g, d, inputs, attrs, op_type, name, loc) -> list[fops.Tensor]:
    """Tensors for `inputs`: Python/NumPy values become constants named after their arg."""
    flat: list[fops.Tensor] = []
    for arg, x in zip(d.inputs, inputs):
        if arg.type_list_attr:
            flat.extend(_convert_typed_list(g, arg, x, attrs, op_type, name, loc))
            continue
        if arg.is_list and not isinstance(x, (list, tuple)):
            raise TypeError(f"{op_type}: input {arg.name} must be a list of tensors")
        if arg.number_attr:
            attrs[arg.number_attr] = len(x)
        want = arg.dtype or (attrs.get(arg.type_attr) if arg.type_attr else None)
        for y in list(x) if arg.is_list else [x]:
            if isinstance(y, fops.Tensor):
                t = _check_graph(g, y, op_type)
            else:
                # as TF: a type attr's default is the preferred dtype of a converted value
                # (an empty shape list [] becomes int32, not float32)
                preferred = None
                if want is None and arg.type_attr:
                    default = d.attr(arg.type_attr).default
                    preferred = None if default is registry.REQUIRED else default
                with g.as_default():
                    t = fops.convert_to_tensor(y, dtype=want, name=arg.name, preferred_dtype=preferred)
                if t.graph is not g:  # a variable's value from an enclosing graph: captured
                    t = _check_graph(g, t, op_type)
                if arg.type_attr and arg.type_attr not in attrs:
                    attrs[arg.type_attr] = want = t.dtype
            if want is not None and t.dtype != want:
                raise TypeError(
                    f"{op_type} op '{name or op_type}': input {arg.name} has dtype {t.dtype.name}, "
                    f"expected {want.name} (to match the other inputs). Defined at "
                    f"{fops.format_location(loc)}"
                )
            flat.append(t)
    return flat


def _convert_typed_list(g, arg, x, attrs, op_type, name, loc) -> list[fops.Tensor]:
    """The tensors of a type_list_attr input: each converted to the dtype the attr lists for
    it (when given), and the attr set to the dtypes they have."""
    if not isinstance(x, (list, tuple)):
        raise TypeError(f"{op_type}: input {arg.name} must be a list of tensors")
    wants = attrs.get(arg.type_list_attr)
    if wants is not None and len(wants) != len(x):
        raise TypeError(
            f"{op_type} op '{name or op_type}': input {arg.name} has {len(x)} tensors, but attr "
            f"{arg.type_list_attr} lists {len(wants)} types. Defined at {fops.format_location(loc)}"
        )
    out = []
    for i, y in enumerate(x):
        want = dtypes.as_dtype(wants[i]) if wants is not None else None
        if isinstance(y, fops.Tensor):
            t = _check_graph(g, y, op_type)
        else:
            with g.as_default():
                t = fops.convert_to_tensor(y, dtype=want, name=f"{arg.name}_{i}")
            if t.graph is not g:
                t = _check_graph(g, t, op_type)
        if want is not None and t.dtype != want:
            raise TypeError(
                f"{op_type} op '{name or op_type}': tensor {i} of input {arg.name} has dtype "
                f"{t.dtype.name}, expected {want.name}. Defined at {fops.format_location(loc)}"
            )
        out.append(t)
    attrs[arg.type_list_attr] = [t.dtype for t in out]
    return out


def _complete_attrs(d: registry.OpDef, attrs: dict, op_type: str, name, loc) -> None:
    """Fill defaults, convert every attr to its kind (dtypes, shapes, 32-bit floats) and check
    it against the registry's declaration (kind, range, allowed values); reject missing or
    unknown attrs. Errors name the op, the attr, the value and the user's source line."""
    unknown = set(attrs) - {a.name for a in d.attrs}
    if unknown:
        raise TypeError(f"{op_type}: unknown attrs {sorted(unknown)}")
    for a in d.attrs:
        if a.name not in attrs:
            if a.default is registry.REQUIRED:
                raise TypeError(f"{op_type}: missing required attr {a.name!r}")
            attrs[a.name] = a.default
        if a.kind == "type" and a.allowed is not None:
            try:
                dt = dtypes.as_dtype(attrs[a.name])
            except (TypeError, ValueError, KeyError):
                dt = None  # not a dtype at all: check_attr says so
            if dt is not None and dt not in a.allowed:
                allowed = ", ".join(t.name for t in a.allowed)
                # TensorFlow's wording names the input that carries the type
                params = [arg.name for arg in d.inputs if arg.type_attr == a.name]
                what = f"Value passed to parameter '{params[0]}' has" if params else f"Attr {a.name} is"
                raise TypeError(
                    f"{op_type} op '{name or op_type}': {what} DataType {dt.name} not in list "
                    f"of allowed values: {allowed} (no kernel for it; {a.name}={dt.name} is not "
                    f"allowed). Defined at {fops.format_location(loc)}"
                )
        try:
            attrs[a.name] = registry.check_attr(a, attrs[a.name], f"{op_type} op '{name or op_type}'")
        except (TypeError, ValueError) as e:
            raise type(e)(f"{e}. Defined at {fops.format_location(loc)}") from None


def output_dtypes(d: registry.OpDef, attrs: dict) -> list[dtypes.DType]:
    out = []
    for arg in d.outputs:
        if arg.type_list_attr is not None:
            out.extend(dtypes.as_dtype(t) for t in attrs[arg.type_list_attr])
            continue
        dt = arg.dtype if arg.dtype is not None else dtypes.as_dtype(attrs[arg.type_attr])
        out.extend([dt] * arg.count(attrs))
    return out


def infer_shapes(op: fops.Operation, strict: bool = True) -> None:
    """Run the op's shape function; a failure names op, input shapes and source line."""
    d = registry.get(op.type)
    ctx = registry.ShapeContext(
        d,
        op.name,
        [t.shape for t in op.inputs],
        [t.dtype for t in op.inputs],
        op._attrs,
        lambda i: const_eval.constant_value(op.inputs[i]),
        partials=lambda i: const_eval.partial_value(op.inputs[i]),
    )
    try:
        shapes = d.shape_fn(ctx)
        if len(shapes) != len(op.outputs):
            raise RuntimeError(
                f"shape function of {op.type} returned {len(shapes)} shapes for {len(op.outputs)} outputs"
            )
        shapes = [as_shape(s) for s in shapes]
        for t, s in zip(op.outputs, shapes):
            if s.is_fully_defined():  # element counts and byte sizes must fit in int64
                sizes.check_shape(s.as_list(), t.dtype.size, f"the shape of output {t.value_index}")
    except (ValueError, IndexError) as e:
        raise ValueError(
            f"{op.type} op '{op.name}': {e}. Input shapes: [{_fmt_shapes(ctx.input_shapes)}]. "
            f"Defined at {fops.format_location(op.location)}"
        ) from None
    for t, s in zip(op.outputs, shapes):
        t._shape = s


def run_reference(d: registry.OpDef, values: list, attrs: dict) -> list[np.ndarray]:
    """Run the op's NumPy reference, returning one array per output with the declared dtype."""
    out = d.ref([np.asarray(v) for v in values], attrs)
    if not isinstance(out, (list, tuple)):
        out = [out]
    dts = output_dtypes(d, attrs)
    # copies: an output must not alias an input a later reference call updates in place
    return [
        np.array(o, dtype=dt.np) if not dtypes.holds_objects(dt) else _object_array(o)
        for o, dt in zip(out, dts)
    ]


def _object_array(o) -> np.ndarray:
    """A reference's output of Python objects as an object array (a TensorList, which NumPy
    must not take apart, as a 0-d one)."""
    if isinstance(o, np.ndarray):
        return np.array(o, dtype=object)
    if isinstance(o, (bytes, str, list, tuple)):
        return np.array(o, dtype=object)
    arr = np.empty((), dtype=object)
    arr[()] = o
    return arr


def shape_of(t: fops.Tensor) -> TensorShape:
    return t.shape


# GraphDef import (framework/graph_io.py) builds its ops through the framework's hook
framework_hooks.install(apply_op=apply_op)
