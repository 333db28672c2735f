"""The scalar table is the one source of the elementwise kernels' expressions: the C
library's elementwise family is instantiated from it, and every elementwise op's registry
record finds in it an expression for each dtype its kernels cover."""

from __future__ import annotations

import re

from staticflow.backends import cpu
from staticflow.framework import dtypes
from staticflow.ops import registry, scalar_table


def test_every_table_entry_is_a_kernel_of_the_library():
    table = set(cpu.kernel_table())
    missing = [k for k in scalar_table.kernel_names() if k not in table]
    assert not missing, missing


def test_every_elementwise_op_has_an_expression_for_each_dtype_of_its_kernels():
    problems = []
    for d in registry.all_ops():
        if d.scalar is None:
            continue
        type_attr = next((a.type_attr for a in d.inputs if a.type_attr), None)
        allowed = d.attr(type_attr).allowed if type_attr else ()
        for t in allowed:
            if dtypes.holds_objects(t):  # strings, variants: host objects, no C expression
                continue
            base = d.scalar.base
            if base and registry.kernel_name(base, t) not in d.kernels:
                continue  # no kernel of the op for t: no expression needed
            n = 3 if d.name.startswith("Select") else 2 if len(d.inputs) > 1 else 1
            ins = [dtypes.bool_, t, t] if n == 3 else [t] * n
            out = d.outputs[0].dtype or t
            if d.name == "AddN" and (t in dtypes.HALF_FLOATS or t is dtypes.bool_):
                continue  # 16-bit AddN rounds after each addition: not fused
            if d.scalar.expression(ins, out) is None:
                problems.append(f"{d.name} {t.name}")
    assert not problems, problems


def test_the_generated_header_holds_every_list_with_c_token_pasting():
    h = scalar_table.c_header()
    for name in scalar_table.LISTS:
        assert f"#define {name}(" in h
    assert "X(log, DT, T, log##S(x))" in h
    assert "X(exp, DT, T, exp_##DT(x))" in h
    assert "X(sign, DT, T, sign_##DT(x))" in h
    assert not re.search(r"\{[A-Z]+\}", h)  # every placeholder rewritten


def test_lookup_fills_in_the_dtype():
    assert scalar_table.lookup("log", "float32", 1) == ("logf(x)", "float32")
    assert scalar_table.lookup("log", "float64", 1) == ("log(x)", "float64")
    assert scalar_table.lookup("exp", "float32", 1) == ("exp_float32(x)", "float32")
    assert scalar_table.lookup("less", "int8", 2) == ("x < y", "bool")
    assert scalar_table.lookup("neg", "uint8", 1) is None  # TensorFlow has no Neg for unsigned
    assert scalar_table.lookup("add", "int32", 2)[0] == "(int32_t)((uint32_t)x + (uint32_t)y)"
