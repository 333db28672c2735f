"""`sf.raw_ops`: every registered op by its TensorFlow name, called as TensorFlow's `tf.raw_ops`.

`sf.raw_ops.TensorListPushBack(input_handle=lst, tensor=x)` builds one op: keyword arguments
only, inputs by their names in the op's declaration, attrs by theirs (type attrs that the
inputs tell may be left out), and `name`. What staticflow has no wrapper for (the TensorList
ops a while loop's gradient accumulates with, say) is built this way, as in TensorFlow.
"""

from __future__ import annotations

from staticflow.ops import builder, registry


def _raw_op(d: registry.OpDef):
    inputs = [a.name for a in d.inputs]
    attrs = {a.name for a in d.attrs}

    def call(name=None, **kwargs):
        missing = [n for n in inputs if n not in kwargs]
        if missing:
            raise TypeError(f"raw_ops.{d.name} missing required argument(s): {', '.join(missing)}")
        unknown = [k for k in kwargs if k not in inputs and k not in attrs]
        if unknown:
            raise TypeError(f"raw_ops.{d.name} got unexpected argument(s): {', '.join(unknown)}")
        op = builder.apply_op(
            d.name, [kwargs[n] for n in inputs], {k: v for k, v in kwargs.items() if k in attrs}, name
        )
        outs = op.outputs
        if not outs:
            return op
        return outs[0] if len(outs) == 1 and not d.outputs[0].is_list else list(outs)

    call.__name__ = call.__qualname__ = d.name
    call.__doc__ = d.doc
    return call


def __getattr__(name: str):
    d = registry.lookup(name)
    if d is None or d.internal:
        raise AttributeError(f"module 'staticflow.raw_ops' has no attribute {name!r}")
    return _raw_op(d)


def __dir__() -> list[str]:
    return [d.name for d in registry.all_ops() if not d.internal]
