"""Debugging aids: check_numerics, add_check_numerics_ops, Print and sf.print, sf.app.run."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import staticflow as sf

pytestmark = pytest.mark.usefixtures("sf_graph")  # each test builds in a fresh default graph


def test_check_numerics_stops_the_run_naming_the_op():
    x = sf.placeholder(sf.float32, [2])
    y = sf.debugging.check_numerics(sf.log(x), "log of x", name="checked")
    with sf.Session() as sess:
        np.testing.assert_allclose(sess.run(y, {x: [1.0, 2.0]}), np.log([1, 2]), rtol=1e-6)
        with pytest.raises(sf.errors.InvalidArgumentError) as e:
            sess.run(y, {x: [1.0, -1.0]})
    msg = str(e.value)
    assert "log of x : Tensor had NaN values" in msg and "checked (CheckNumerics)" in msg
    assert "test_debugging.py" in msg


def test_add_check_numerics_ops_checks_every_float_tensor():
    x = sf.placeholder(sf.float32, [2], name="x")
    y = sf.divide(1.0, x, name="inverse")
    z = sf.reduce_sum(y, name="total")
    check = sf.add_check_numerics_ops()
    with sf.Session() as sess:
        assert sess.run([check, z], {x: [1.0, 2.0]})[1] == pytest.approx(1.5)
        with pytest.raises(sf.errors.InvalidArgumentError, match="inverse:0 : Tensor had Inf values"):
            sess.run([check, z], {x: [0.0, 2.0]})


def test_print_prints_when_it_runs(capfd):
    x = sf.constant([1.0, 2.0, 3.0, 4.0])
    y = sf.Print(x, [x, x * 2], message="values: ", summarize=2)
    with sf.Session() as sess:
        np.testing.assert_array_equal(sess.run(y * 1), [1, 2, 3, 4])
    err = capfd.readouterr().err
    assert "values: [1.0 2.0...][2.0 4.0...]" in err


def test_sf_print_op(capfd):
    x = sf.constant([1, 2])
    p = sf.print("x is", x, sf.constant(0.5))
    with sf.Session() as sess:
        sess.run(p)
    assert "x is [1 2] 0.5" in capfd.readouterr().err


def test_app_run_calls_main_and_exits(monkeypatch):
    seen = []

    def main(argv):
        seen.append(argv)
        return 3

    monkeypatch.setattr(sys, "argv", ["prog", "--flag"])
    with pytest.raises(SystemExit) as e:
        sf.app.run(main)
    assert e.value.code == 3 and seen == [["prog", "--flag"]]


def test_initialize_all_variables_alias_and_aliases_of_axis():
    v = sf.Variable(np.arange(6.0).reshape(2, 3))
    s1 = sf.reduce_sum(v, reduction_indices=[1], keep_dims=True)
    with sf.Session() as sess:
        sess.run(sf.initialize_all_variables())
        np.testing.assert_array_equal(sess.run(s1), [[3], [12]])
