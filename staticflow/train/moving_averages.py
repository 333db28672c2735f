"""Exponential moving averages (TF1's tf.train.ExponentialMovingAverage).

`ExponentialMovingAverage.apply(var_list)` makes one shadow variable per variable or
tensor, named as TensorFlow names it (``<variable op name>/<ema name>``, under the
current variable scope), and returns an op that moves each shadow towards its source:
``shadow -= (shadow - value) * (1 - decay)``. With ``num_updates`` the decay is
``min(decay, (1 + num_updates) / (10 + num_updates))``. Shadows of tensors may be
zero-debiased (TF's ``zero_debias``): a ``biased`` accumulator and a ``local_step``
counter sit beside the shadow, which holds ``biased / (1 - (1 - decay) ** local_step)``.

A shadow of a variable starts at the variable's initial value (TensorFlow starts it at
the variable's current value when the variable is already initialised; the two agree
whenever the shadow is initialised with, or before, its variable).
"""

from __future__ import annotations

from staticflow.framework import dtypes
from staticflow.framework import ops as fops
from staticflow.framework.tensor_shape import TensorShape
from staticflow.ops import builder, init_ops, math_ops, state_ops
from staticflow.ops import variable_scope as vs

D = dtypes
_FLOATS = (D.float16, D.float32, D.float64)


def _exact(op_type: str, inputs: list, scope: str) -> fops.Operation:
    """An op named exactly `scope` without its trailing '/' (TF's `name=scope`)."""
    return builder.apply_op(op_type, inputs, None, name=scope.rstrip("/"), exact_name=True)


def _ref(v):
    return v._ref() if isinstance(v, state_ops.Variable) else v


def _new_variable(full_name: str, shape, dtype, initializer) -> state_ops.Variable:
    """A non-trainable global variable named exactly full_name, made as get_variable makes it
    (so a later get_variable with reuse finds it)."""
    parent, _, base = full_name.rpartition("/")
    scope = vs.VariableScope(False, name=parent)
    return vs._get_variable(scope, base, shape, dtype, initializer, None, False, None)


def _current_scope_prefix() -> str:
    name = vs.get_variable_scope().name
    return name + "/" if name else ""


def _unique_scope(default_name: str) -> str:
    """The full name of variable_scope(None, default_name) opened now (TF's unique default)."""
    st = vs._store()
    key = _current_scope_prefix() + default_name
    n = st.counts.get(key, 0)
    st.counts[key] = n + 1
    return key if n == 0 else f"{key}_{n}"


def assign_moving_average(variable, value, decay, zero_debias=True, name=None):
    """variable -= (variable - value) * (1 - decay); returns the updated variable.

    zero_debias (for a variable that starts at zero) keeps a biased average beside it and
    divides it by 1 - decay ** steps, so early values are not pulled towards zero.
    """
    with fops.name_scope(name, "AssignMovingAvg", [variable, value, decay]) as scope:
        if isinstance(value, state_ops.Variable):
            # a fresh read under the current control dependencies (TF's reference variables read
            # through their buffer, so an update made before this op is seen; so is it here)
            value = value.read_value()
        one_minus = fops.convert_to_tensor(1.0 - decay, name="decay")
        if one_minus.dtype != variable.dtype:
            one_minus = math_ops.cast(one_minus, variable.dtype)
        if zero_debias:
            return _zero_debias(variable, value, one_minus)
        delta = (variable - value) * one_minus
        return _exact("AssignSub", [_ref(variable), delta], scope).outputs[0]


def _unique_in_scope(scope_name: str, name: str) -> str:
    """TF's _maybe_get_unique: name, or name_<i> when scope_name/name is taken."""
    taken = {v.op.name for v in state_ops.global_variables()}
    full = f"{scope_name}/{name}"
    if full not in taken:
        return name
    i = 1
    while f"{full}_{i}" in taken:
        i += 1
    return f"{name}_{i}"


def _zero_debias(unbiased, value, one_minus_decay):
    scope_name = _current_scope_prefix() + unbiased.op.name
    shape, dtype = unbiased.shape, unbiased.dtype
    with fops.name_scope(None), fops.control_dependencies(None):
        biased = _new_variable(
            f"{scope_name}/{_unique_in_scope(scope_name, 'biased')}",
            shape,
            dtype,
            init_ops.zeros_initializer(),
        )
        local_step = _new_variable(
            f"{scope_name}/{_unique_in_scope(scope_name, 'local_step')}",
            TensorShape([]),
            dtype,
            init_ops.zeros_initializer(),
        )
    update_biased = state_ops.assign_sub(biased, (biased - value) * one_minus_decay)
    update_step = local_step.assign_add(1)
    bias_factor = 1 - math_ops.pow(1.0 - one_minus_decay, update_step)
    return _exact(
        "Assign", [_ref(unbiased), update_biased / bias_factor], fops.get_default_graph().get_name_scope()
    )


class ExponentialMovingAverage:
    """Shadow copies of variables or tensors that follow them as exponential moving averages.

    ``ema.apply(var_list)`` creates the shadows (non-trainable global variables) and returns
    the op that updates them; run it after each training step. ``ema.average(var)`` is the
    shadow, ``ema.variables_to_restore()`` maps shadow names to variables, so a Saver can
    load the averages into the model's variables for evaluation.
    """

    def __init__(self, decay, num_updates=None, zero_debias=False, name="ExponentialMovingAverage"):
        self._decay = decay
        self._num_updates = num_updates
        self._zero_debias = zero_debias
        self._name = name
        self._averages: dict = {}

    @property
    def name(self) -> str:
        return self._name

    def apply(self, var_list=None) -> fops.Operation:
        """Create shadows for var_list (default: the trainable variables) and return one op
        that updates them all. Variables and tensors must be float16, float32 or float64."""
        if var_list is None:
            var_list = state_ops.trainable_variables()
        var_list = list(var_list)
        zero_debias_true = set()
        for var in var_list:
            if var.dtype not in _FLOATS:
                raise TypeError(f"The variables must be half, float, or double: {var.name}")
            if var in self._averages:
                continue
            with fops.name_scope(None), fops.control_dependencies(None):
                if isinstance(var, state_ops.Variable):
                    init = var.initial_value if var.initial_value is not None else var.read_value()
                    avg = self._slot(var, init)
                    fops.add_to_collection(fops.GraphKeys.MOVING_AVERAGE_VARIABLES, var)
                else:
                    if not var.shape.is_fully_defined():
                        raise ValueError(
                            f"ExponentialMovingAverage: tensor {var.name} has shape {var.shape}; its shadow "
                            "variable needs a fully defined shape"
                        )
                    avg = self._slot(var, init_ops.zeros_initializer())
                    if self._zero_debias:
                        zero_debias_true.add(avg)
            self._averages[var] = avg
        with fops.name_scope(self._name) as scope:
            decay = fops.convert_to_tensor(self._decay, dtype=D.float32, name="decay")
            if self._num_updates is not None:
                num_updates = math_ops.cast(self._num_updates, D.float32, name="num_updates")
                decay = math_ops.minimum(decay, (1.0 + num_updates) / (10.0 + num_updates))
            updates = []
            for var in var_list:
                avg = self._averages[var]
                updates.append(assign_moving_average(avg, var, decay, zero_debias=avg in zero_debias_true))
            g = fops.get_default_graph()
            with g.control_dependencies([u.op if isinstance(u, fops.Tensor) else u for u in updates]):
                return _exact("NoOp", [], scope)

    def _slot(self, primary, initializer):
        """The shadow variable of primary, named as TF's slot_creator names it."""
        full = _unique_scope(f"{primary.op.name}/{self._name}")
        return _new_variable(full, primary.shape, primary.dtype, initializer)

    def average(self, var):
        """The shadow variable of var, or None if apply() was not called for it."""
        return self._averages.get(var)

    def average_name(self, var) -> str:
        """The name of var's shadow variable (what it would be before apply())."""
        if var in self._averages:
            return self._averages[var].op.name
        return fops.get_default_graph().unique_name(f"{var.op.name}/{self._name}", mark_as_used=False)

    def variables_to_restore(self, moving_avg_variables=None) -> dict:
        """{checkpoint name: variable}: each averaged variable restored from its shadow's
        name, every other global variable from its own name (for a Saver's var_list)."""
        if moving_avg_variables is None:
            moving_avg_variables = state_ops.trainable_variables() + fops.get_collection(
                fops.GraphKeys.MOVING_AVERAGE_VARIABLES
            )
        unique = list(dict.fromkeys(moving_avg_variables))
        name_map = {self.average_name(v): v for v in unique}
        averaged = {v.name for v in unique}
        for v in state_ops.global_variables():
            if v.name not in averaged and v.op.name not in name_map:
                name_map[v.op.name] = v
        return name_map
