"""Optimizers (TF1's tf.train.*Optimizer): gradients, slot variables, fused update ops.

`minimize(loss)` = `compute_gradients` (sf.gradients w.r.t. the trainable
variables) + `apply_gradients` (one Apply* op per variable, updating it and
its slots in place, grouped into one train op). Slots are ordinary,
non-trainable Variables named like TensorFlow's ("w/Adam", "w/Adam_1"), so
they are saved, restored and drawn like any other variable.
"""

from __future__ import annotations

from staticflow.autodiff import gradients
from staticflow.framework import ops as fops
from staticflow.framework.ops import GraphKeys
from staticflow.ops import array_ops, builder, control_flow_ops, math_ops, state_ops


class Optimizer:
    """Base class. Subclasses declare slots and build one update op per variable."""

    GATE_NONE = 0
    GATE_OP = 1
    GATE_GRAPH = 2

    def __init__(self, use_locking: bool, name: str):
        if not name:
            raise ValueError("Must specify the optimizer name")
        self._use_locking = use_locking
        self._name = name
        self._slots: dict[str, dict[str, state_ops.Variable]] = {}
        self._non_slot: dict[tuple, state_ops.Variable] = {}

    def get_name(self) -> str:
        return self._name

    # --- gradients ------------------------------------------------------------------
    def compute_gradients(
        self,
        loss,
        var_list=None,
        gate_gradients=GATE_OP,
        aggregation_method=None,
        colocate_gradients_with_ops=False,
        grad_loss=None,
    ):
        """[(gradient, variable)] for the variables (default: all trainable ones)."""
        if callable(loss):
            loss = loss()
        loss = fops.convert_to_tensor(loss)
        if var_list is None:
            var_list = loss.graph.get_collection(GraphKeys.TRAINABLE_VARIABLES)
        var_list = list(var_list)
        if not var_list:
            raise ValueError("No variables to optimize.")
        for v in var_list:
            if not isinstance(v, state_ops.Variable):
                raise TypeError(f"Argument is not a sf.Variable: {v!r}")
        grads = gradients(loss, [v._ref() for v in var_list], grad_ys=grad_loss)
        return list(zip(grads, var_list))

    def minimize(
        self,
        loss,
        global_step=None,
        var_list=None,
        gate_gradients=GATE_OP,
        aggregation_method=None,
        colocate_gradients_with_ops=False,
        name=None,
        grad_loss=None,
    ):
        """One op that computes the gradients of loss and applies them."""
        gvs = self.compute_gradients(loss, var_list=var_list, grad_loss=grad_loss)
        if not any(g is not None for g, _ in gvs):
            names = ", ".join(v.name for _, v in gvs)
            raise ValueError(
                f"No gradients provided for any variable, check your graph for ops that do not support "
                f"gradients, between variables [{names}] and loss {loss}."
            )
        return self.apply_gradients(gvs, global_step=global_step, name=name)

    # --- updates ----------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        """One op that updates every variable with its gradient (and steps global_step)."""
        gvs = [(g, v) for g, v in grads_and_vars if g is not None]
        if not gvs:
            raise ValueError(
                f"No gradients provided for any variable: {[v.name for _, v in grads_and_vars]}."
            )
        var_list = [v for _, v in gvs]
        g = var_list[0].graph
        with g.as_default():
            with fops.control_dependencies(None):
                self._create_slots(var_list)
            with fops.name_scope(name, self._name) as scope:
                self._hyper = {}  # (name, dtype) -> its scalar tensor, made once per apply
                self._prepare()
                updates = []
                for grad, var in gvs:
                    grad = fops.convert_to_tensor(grad)
                    if not grad.shape.is_compatible_with(var.shape):
                        raise ValueError(
                            f"gradient of shape {grad.shape} for variable {var.name} of shape {var.shape}"
                        )
                    with fops.name_scope("update_" + var.op.name):
                        updates.append(self._apply_dense(math_ops.cast(grad, var.dtype), var))
                self._hyper = None
                if global_step is None:
                    train = self._finish(updates, scope[:-1].rsplit("/", 1)[-1])
                else:
                    with fops.control_dependencies([self._finish(updates, "update")]):
                        one = array_ops.constant(1, dtype=global_step.dtype)
                        train = state_ops.assign_add(global_step, one).op
                if train not in g.get_collection(GraphKeys.TRAIN_OP):
                    g.add_to_collection(GraphKeys.TRAIN_OP, train)
                return train

    def _finish(self, update_ops, name_scope):
        return control_flow_ops.group(*update_ops, name=name_scope)

    def _prepare(self) -> None:
        pass

    def _create_slots(self, var_list) -> None:
        pass

    def _apply_dense(self, grad, var):  # pragma: no cover - abstract
        raise NotImplementedError

    # --- slots --------------------------------------------------------------------------
    def _zeros_slot(self, var, slot_name: str, op_name: str):
        return self._slot(var, slot_name, op_name, array_ops.zeros_like_value(var))

    def _slot(self, var, slot_name: str, op_name: str, initial):
        slots = self._slots.setdefault(slot_name, {})
        key = var.op.name
        if key not in slots:
            with fops.name_scope(None):
                slots[key] = state_ops.Variable(
                    initial, trainable=False, name=f"{var.op.name}/{op_name}", dtype=var.dtype
                )
        return slots[key]

    def get_slot(self, var, name: str):
        return self._slots.get(name, {}).get(var.op.name)

    def get_slot_names(self) -> list[str]:
        return sorted(self._slots)

    def _non_slot_variable(self, name: str, initial, graph, dtype):
        key = (name, id(graph))
        v = self._non_slot.get(key)
        if v is None:
            with graph.as_default(), fops.name_scope(None), fops.control_dependencies(None):
                v = state_ops.Variable(initial, trainable=False, name=name, dtype=dtype)
            self._non_slot[key] = v
        return v

    def variables(self) -> list:
        """The optimizer's own variables (slots and accumulators)."""
        out = [v for slots in self._slots.values() for v in slots.values()]
        return out + list(self._non_slot.values())

    def _scalar(self, value, var, name):
        """A hyperparameter as a scalar of the variable's dtype (numbers converted exactly).

        A number becomes one constant per dtype for all the variables one `apply_gradients`
        updates, as TensorFlow's `_prepare` makes one learning-rate tensor, not one per
        variable (a model of 800 variables would carry 800 copies to fold)."""
        value = value() if callable(value) else value
        if isinstance(value, fops.Tensor):
            return math_ops.cast(value, var.dtype)
        cache = getattr(self, "_hyper", None)
        if cache is None:
            return fops.convert_to_tensor(value, dtype=var.dtype, name=name)
        key = (name, var.dtype, value)
        if key not in cache:
            cache[key] = fops.convert_to_tensor(value, dtype=var.dtype, name=name)
        return cache[key]

    def _apply(self, op_type, inputs, attrs=None):
        return builder.apply_op(op_type, inputs, dict(attrs or {}, use_locking=self._use_locking))


class GradientDescentOptimizer(Optimizer):
    """var -= learning_rate * grad."""

    def __init__(self, learning_rate, use_locking=False, name="GradientDescent"):
        super().__init__(use_locking, name)
        self._lr = learning_rate

    def _apply_dense(self, grad, var):
        return self._apply(
            "ApplyGradientDescent", [var._ref(), self._scalar(self._lr, var, "learning_rate"), grad]
        )


class MomentumOptimizer(Optimizer):
    """accum = momentum * accum + grad; var -= lr * accum (or the Nesterov step)."""

    def __init__(self, learning_rate, momentum, use_locking=False, name="Momentum", use_nesterov=False):
        super().__init__(use_locking, name)
        self._lr, self._momentum, self._nesterov = learning_rate, momentum, use_nesterov

    def _create_slots(self, var_list):
        for v in var_list:
            self._zeros_slot(v, "momentum", self._name)

    def _apply_dense(self, grad, var):
        accum = self.get_slot(var, "momentum")
        return self._apply(
            "ApplyMomentum",
            [
                var._ref(),
                accum._ref(),
                self._scalar(self._lr, var, "learning_rate"),
                grad,
                self._scalar(self._momentum, var, "momentum"),
            ],
            {"use_nesterov": self._nesterov},
        )


class AdamOptimizer(Optimizer):
    """Adam (Kingma & Ba), TensorFlow's formulation with bias-corrected step size."""

    def __init__(
        self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8, use_locking=False, name="Adam"
    ):
        super().__init__(use_locking, name)
        self._lr, self._beta1, self._beta2, self._epsilon = learning_rate, beta1, beta2, epsilon

    def _create_slots(self, var_list):
        first = min(var_list, key=lambda v: v.name)
        self._beta1_power = self._non_slot_variable("beta1_power", self._beta1, first.graph, first.dtype)
        self._beta2_power = self._non_slot_variable("beta2_power", self._beta2, first.graph, first.dtype)
        for v in var_list:
            self._zeros_slot(v, "m", self._name)
            self._zeros_slot(v, "v", self._name + "_1")

    def _apply_dense(self, grad, var):
        m, v = self.get_slot(var, "m"), self.get_slot(var, "v")
        s = self._scalar
        return self._apply(
            "ApplyAdam",
            [
                var._ref(),
                m._ref(),
                v._ref(),
                math_ops.cast(self._beta1_power, var.dtype),
                math_ops.cast(self._beta2_power, var.dtype),
                s(self._lr, var, "learning_rate"),
                s(self._beta1, var, "beta1"),
                s(self._beta2, var, "beta2"),
                s(self._epsilon, var, "epsilon"),
                grad,
            ],
            {"use_nesterov": False},
        )

    def _finish(self, update_ops, name_scope):
        with fops.control_dependencies(update_ops):
            b1 = self._beta1_power.assign(self._beta1_power * self._beta1, name="update_beta1")
            b2 = self._beta2_power.assign(self._beta2_power * self._beta2, name="update_beta2")
        return control_flow_ops.group(*update_ops, b1, b2, name=name_scope)


class RMSPropOptimizer(Optimizer):
    """RMSProp (Hinton), with momentum and the centered variant."""

    def __init__(
        self,
        learning_rate,
        decay=0.9,
        momentum=0.0,
        epsilon=1e-10,
        use_locking=False,
        centered=False,
        name="RMSProp",
    ):
        super().__init__(use_locking, name)
        self._lr, self._decay, self._momentum, self._epsilon = learning_rate, decay, momentum, epsilon
        self._centered = centered

    def _create_slots(self, var_list):
        for v in var_list:
            self._slot(v, "rms", self._name, array_ops.ones_like_value(v))
            self._zeros_slot(v, "momentum", self._name + "_1")
            if self._centered:
                self._zeros_slot(v, "mg", self._name + "_2")

    def _apply_dense(self, grad, var):
        s = self._scalar
        scalars = [
            s(self._lr, var, "learning_rate"),
            s(self._decay, var, "decay"),
            s(self._momentum, var, "momentum"),
            s(self._epsilon, var, "epsilon"),
        ]
        rms, mom = self.get_slot(var, "rms"), self.get_slot(var, "momentum")
        if self._centered:
            mg = self.get_slot(var, "mg")
            return self._apply(
                "ApplyCenteredRMSProp", [var._ref(), mg._ref(), rms._ref(), mom._ref(), *scalars, grad]
            )
        return self._apply("ApplyRMSProp", [var._ref(), rms._ref(), mom._ref(), *scalars, grad])


class AdagradOptimizer(Optimizer):
    """Adagrad: accum += grad^2; var -= lr * grad / sqrt(accum)."""

    def __init__(self, learning_rate, initial_accumulator_value=0.1, use_locking=False, name="Adagrad"):
        if initial_accumulator_value <= 0.0:
            raise ValueError(f"initial_accumulator_value must be positive: {initial_accumulator_value}")
        super().__init__(use_locking, name)
        self._lr, self._init = learning_rate, initial_accumulator_value

    def _create_slots(self, var_list):
        for v in var_list:
            self._slot(v, "accumulator", self._name, array_ops.full_like_value(v, self._init))

    def _apply_dense(self, grad, var):
        acc = self.get_slot(var, "accumulator")
        return self._apply(
            "ApplyAdagrad", [var._ref(), acc._ref(), self._scalar(self._lr, var, "learning_rate"), grad]
        )
