"""sf.layers.Layer: TF1's layer object (tf.layers.Layer).

A layer owns a variable scope, chosen the first time it is called: the
`name` it was given, or a default name derived from its class
(`Conv2DTranspose` -> "conv2d_transpose") made unique among the current
variable scope's sub-scopes, exactly as TF1 names them. `build` creates the
weights with `add_weight` (get_variable in that scope, so `reuse` and custom
getters work as in TF1); every later call reuses them. Ops are created in the
name scope the layer's variable scope was opened with, so a layer applied
twice puts both applications under one name ("dense/MatMul", "dense/MatMul_1").

The functional forms (`sf.layers.dense(...)`) build a layer object and apply
it once, as TF1 does.
"""

from __future__ import annotations

import inspect
import re

from staticflow.framework import dtypes
from staticflow.framework import ops as fops
from staticflow.framework.ops import GraphKeys
from staticflow.framework.tensor_shape import TensorShape
from staticflow.ops import array_ops, math_ops, state_ops
from staticflow.ops import variable_scope as vs

# keyword arguments of Keras' layer constructor that TF1 layers accept and staticflow ignores
_IGNORED_KWARGS = ("input_shape", "batch_input_shape", "batch_size", "weights", "autocast", "input_dim")


def to_snake_case(name: str) -> str:
    """Keras' class-name-to-layer-name rule: "BasicLSTMCell" -> "basic_lstm_cell"."""
    intermediate = re.sub("(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    insecure = re.sub("([a-z])([A-Z])", r"\1_\2", intermediate).lower()
    return insecure if insecure[0] != "_" else "private" + insecure


def _unique_layer_name(base: str) -> str:
    """base_1, base_2, ... per graph (TF1's layer object names; scopes are named separately)."""
    g = fops.get_default_graph()
    uids = getattr(g, "_layer_name_uids", None)
    if uids is None:
        uids = g._layer_name_uids = {}
    uids[base] = uids.get(base, 0) + 1
    return f"{base}_{uids[base]}"


def _flatten(x) -> list:
    if isinstance(x, (list, tuple)):
        out = []
        for e in x:
            out.extend(_flatten(e))
        return out
    if isinstance(x, dict):
        return _flatten([x[k] for k in sorted(x)])
    return [x]


def _map(fn, x):
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*(_map(fn, e) for e in x))
    if isinstance(x, (list, tuple)):
        return type(x)(_map(fn, e) for e in x)
    if isinstance(x, dict):
        return {k: _map(fn, v) for k, v in x.items()}
    return fn(x)


def _to_tensor(x):
    if x is None or isinstance(x, fops.Tensor):
        return x
    return fops.convert_to_tensor(x)


def _shape_of(x):
    if isinstance(x, (list, tuple)) and not hasattr(x, "_fields"):
        return [_shape_of(e) for e in x]
    return x.shape if isinstance(x, fops.Tensor) else TensorShape(None)


class Layer:
    """Base class of TF1 layers: `build(input_shape)` makes the weights once,
    `call(inputs, ...)` computes the outputs; `layer(inputs)` (or `apply`) runs both."""

    def __init__(self, trainable: bool = True, name=None, dtype=None, **kwargs):
        scope = kwargs.pop("_scope", None)
        self._reuse = kwargs.pop("_reuse", None)
        self._activity_regularizer = kwargs.pop("activity_regularizer", None)
        for k in _IGNORED_KWARGS:
            kwargs.pop(k, None)
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unknown keyword argument(s) {sorted(kwargs)}")
        self.trainable = trainable
        self.built = False
        self._dtype = None if dtype is None else dtypes.as_dtype(dtype)
        self._trainable_weights: list = []
        self._non_trainable_weights: list = []
        self._losses: list = []
        self._updates: list = []
        self.input_spec = None
        self._init_set_name(name)
        self._call_has_scope_arg = "scope" in inspect.signature(self.call).parameters
        if scope:
            with vs.variable_scope(scope) as captured:
                self._scope = captured
        else:
            self._scope = None
        self._current_scope = None

    def _init_set_name(self, name) -> None:
        base = to_snake_case(type(self).__name__)
        if isinstance(name, vs.VariableScope):
            self._name, self._base_name = _unique_layer_name(base), name.name
        elif name:
            self._name = self._base_name = name
        else:
            self._name, self._base_name = _unique_layer_name(base), base

    # --- properties -----------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def dtype(self):
        """The layer's dtype (that of its first input unless given at construction)."""
        return self._dtype

    @property
    def scope_name(self) -> str:
        if not self._scope:
            raise ValueError(
                f'No name available for layer scope because the layer "{self._name}" has not been '
                "used yet. The scope name is determined the first time the layer instance is called. "
                "You must therefore call the layer before querying `scope_name`."
            )
        return self._scope.name

    @property
    def trainable_weights(self) -> list:
        return list(self._trainable_weights) if self.trainable else []

    @property
    def non_trainable_weights(self) -> list:
        if self.trainable:
            return list(self._non_trainable_weights)
        return list(self._trainable_weights) + list(self._non_trainable_weights)

    @property
    def weights(self) -> list:
        return self.trainable_weights + self.non_trainable_weights

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights
    variables = weights

    @property
    def losses(self) -> list:
        return list(self._losses)

    @property
    def updates(self) -> list:
        return list(self._updates)

    # --- weights, losses, updates -----------------------------------------------------
    def _set_scope(self, scope=None) -> None:
        if self._scope is None:
            if self._reuse:
                with vs.variable_scope(scope if scope is not None else self._base_name) as captured:
                    self._scope = captured
            else:
                with vs.variable_scope(scope, default_name=self._base_name) as captured:
                    self._scope = captured

    def _track(self, variable, trainable: bool) -> None:
        if any(variable is v for v in self._trainable_weights + self._non_trainable_weights):
            return
        if trainable and variable in state_ops.trainable_variables():
            self._trainable_weights.append(variable)
        else:
            self._non_trainable_weights.append(variable)

    def add_weight(
        self,
        name,
        shape,
        dtype=None,
        initializer=None,
        regularizer=None,
        trainable=None,
        constraint=None,
        use_resource=None,
        partitioner=None,
        **kwargs,
    ):
        """get_variable(name) in the layer's scope (reusing once built); tracked by the layer.
        A regularizer's loss goes to `losses` and REGULARIZATION_LOSSES when the variable is new."""
        if trainable is None:
            trainable = True
        if dtype is None:
            dtype = self._dtype or dtypes.float32
        self._set_scope(None)
        reuse = self.built or self._reuse
        existing = {id(v) for v in vs.global_variables_by_name().values()}
        with vs.variable_scope(self._scope, reuse=reuse, auxiliary_name_scope=False) as scope:
            self._current_scope = scope
            with fops.name_scope(scope.original_name_scope):
                variable = vs.get_variable(
                    name,
                    shape,
                    dtype=dtypes.as_dtype(dtype),
                    initializer=initializer,
                    trainable=trainable and self.trainable,
                    constraint=constraint,
                )
                if regularizer is not None and id(variable) not in existing:
                    with fops.name_scope(name + "/Regularizer"):
                        loss = regularizer(variable)
                    self.add_loss(loss)
        self._track(variable, trainable and self.trainable)
        return variable

    add_variable = add_weight

    def add_loss(self, losses, inputs=None) -> None:
        """Record regularization losses (also put in the REGULARIZATION_LOSSES collection)."""
        new = [loss for loss in _flatten(losses) if loss is not None]
        self._losses.extend(new)
        coll = fops.get_collection_ref(GraphKeys.REGULARIZATION_LOSSES)
        for loss in new:
            if all(loss is not c for c in coll):
                coll.append(loss)

    def add_update(self, updates, inputs=None) -> None:
        """Record ops (moving averages, ...) that a train step must run; put in UPDATE_OPS on call."""
        self._updates.extend(u for u in _flatten(updates) if u is not None)

    # --- to be overridden ---------------------------------------------------------------
    def build(self, input_shape) -> None:
        """Create the layer's weights for inputs of `input_shape` (TensorShape or a list of them)."""
        self.built = True

    def call(self, inputs, **kwargs):
        """The layer's computation; the default passes its inputs through."""
        return inputs

    def compute_output_shape(self, input_shape):
        raise NotImplementedError(f"{type(self).__name__} does not define compute_output_shape")

    # --- applying -----------------------------------------------------------------------
    def __call__(self, inputs, *args, **kwargs):
        """Build on the first call (in the layer's variable scope), then `call`."""
        scope = kwargs.pop("scope", None)
        self._set_scope(scope)
        reuse = True if self.built else self._reuse
        with vs.variable_scope(self._scope, reuse=reuse, auxiliary_name_scope=False) as cur:
            self._current_scope = cur
            if self._call_has_scope_arg:
                kwargs["scope"] = cur
            with fops.name_scope(cur.original_name_scope):
                if isinstance(inputs, (list, tuple)) and not any(
                    isinstance(t, fops.Tensor) for t in _flatten(inputs)
                ):
                    inputs = fops.convert_to_tensor(inputs)  # nested Python numbers: one tensor
                else:
                    inputs = _map(_to_tensor, inputs)
                if not self.built:
                    if self._dtype is None:
                        first = [t for t in _flatten(inputs) if isinstance(t, fops.Tensor)]
                        if first:
                            self._dtype = first[0].dtype
                    self.build(_shape_of(inputs))
                    self.built = True
                outputs = self.call(inputs, *args, **kwargs)
                if self._activity_regularizer is not None:
                    with fops.name_scope("ActivityRegularizer"):
                        for out in _flatten(outputs):
                            loss = self._activity_regularizer(out)
                            if loss is not None:
                                batch = math_ops.cast(array_ops.shape(out)[0], loss.dtype)
                                self.add_loss(loss / batch)
        coll = fops.get_collection_ref(GraphKeys.UPDATE_OPS)
        for u in self._updates:
            if all(u is not c for c in coll):
                coll.append(u)
        return outputs

    def apply(self, inputs, *args, **kwargs):
        """Same as calling the layer."""
        return self.__call__(inputs, *args, **kwargs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} '{self._name}'>"
