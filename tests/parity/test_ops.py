"""Every registry op against TensorFlow: values, gradients and static shapes.

For each registry case and shape variant (opcases.py), staticflow exports one
GraphDef; TensorFlow imports it, infers shapes, runs it and differentiates the
weighted sum of its float outputs; staticflow does the same from the same bytes.
What differs on purpose, or by a bug not fixed yet, is listed in differences.py.
"""

from __future__ import annotations

import pytest

from parity import compare, differences, opcases, programs
from staticflow.ops import registry


class KnownBug(AssertionError):
    """A comparison failed exactly where a KNOWN_BUGS entry says it does."""


def _param(op, index, variant, case):
    bug = differences.known_bug(op, case, variant)
    marks = (
        [pytest.mark.xfail(strict=True, raises=KnownBug, reason=f"known bug: {bug.reason}")] if bug else []
    )
    return pytest.param(op, index, variant, id=f"{op}-{index}-{variant}", marks=marks)


PARAMS = [_param(*p) for p in opcases.params()]

_batches: dict[str, opcases.TfBatch] = {}


def _tf_batch(oracle, op: str) -> opcases.TfBatch:
    """TensorFlow's results for all cases of `op`, asked once (tests run op by op)."""
    if op not in _batches:
        _batches.clear()
        _batches[op] = opcases.TfBatch(oracle, op)
    return _batches[op]


def _tf_errors(res) -> dict[str, list[str]]:
    runs = [s.error for s in res.steps if s.error]
    if res.import_error:
        runs.append(res.import_error)
    return {"values": runs, "shapes": runs, "gradients": runs + ([res.grad_error] if res.grad_error else [])}


@pytest.mark.parametrize("op,index,variant", PARAMS)
def test_op_matches_tensorflow(op, index, variant, tf_oracle, record_parity):
    if opcases.cases_of(registry.get(op))[index].scenario is not None:
        _compared_through_programs(op, record_parity)
        return
    batch = _tf_batch(tf_oracle, op)
    built = batch.built[index]
    tf_res = batch.results[(index, variant)]
    sf_res = opcases.run_staticflow(built, variant)
    intended, bugs = differences.excused(op, built.case, variant, _tf_errors(tf_res))
    problems = compare.compare_case(built, sf_res, tf_res, skip=intended)
    record_parity("op", op=op, case=index, variant=variant)
    unexpected = {a: p for a, p in problems.items() if a not in bugs}
    if unexpected:
        raise AssertionError(_report(op, index, variant, unexpected))
    if problems:
        raise KnownBug(_report(op, index, variant, problems))


def _compared_through_programs(op: str, record_parity) -> None:
    """An op whose registry case is a scenario (its values come from session state: a queue,
    a reader, an iterator) cannot be one GraphDef run once; TensorFlow's GraphDef import
    would give it fresh state too. The parity programs that build and run it under both
    engines compare it, values and static shapes they return included: one must exist
    (and not be a known bug)."""
    users = [p for p in programs.ops_used().get(op, ()) if p not in differences.PROGRAM_BUGS]
    record_parity("program_op", op=op, programs=users)
    assert users, (
        f"{op}: its registry cases are scenarios (session state), and no parity program in "
        "tests/parity/programs/ runs it; add one that does"
    )


def _report(op, index, variant, problems) -> str:
    lines = [f"{op} case {index} ({variant} shapes) differs from TensorFlow:"]
    for aspect, texts in problems.items():
        lines.extend(f"  [{aspect}] {t}" for t in texts)
    return "\n".join(lines)


def test_every_registry_op_is_compared():
    compared = {p.values[0] for p in PARAMS}
    missing = [d.name for d in registry.all_ops() if d.name not in compared and not d.internal]
    assert not missing, f"registry ops without a parity comparison: {missing}"


def test_differences_name_registered_ops_and_aspects():
    names = {d.name for d in registry.all_ops()}
    for d in differences.INTENDED + differences.KNOWN_BUGS:
        assert d.reason.strip(), d
        if isinstance(d.ops, differences.Flags):
            assert any(d.ops(op) for op in registry.all_ops()), f"no op has the flags {d.ops.names}"
        else:
            unknown = set(d.ops) - names
            assert not unknown, f"differences.py names ops staticflow does not have: {unknown}"
        assert set(d.aspects) <= set(compare.ASPECTS), d.aspects
        assert d.variants is None or set(d.variants) <= set(opcases.VARIANTS), d.variants
