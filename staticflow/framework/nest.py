"""Nested structures of tensors (TF's nest, for the structures RNN states use).

A structure is a leaf or a list, tuple or namedtuple of structures (dicts are
walked in sorted key order). Used by the RNN cells and static_rnn, whose states
may be tensors, LSTMStateTuples or tuples of those.
"""

from __future__ import annotations

from collections.abc import Callable


def is_nested(x) -> bool:
    return isinstance(x, (list, tuple, dict))


def _children(x) -> list:
    if isinstance(x, dict):
        return [x[k] for k in sorted(x)]
    return list(x)


def _sequence_like(instance, args):
    if isinstance(instance, dict):
        return type(instance)(zip(sorted(instance), args))
    if isinstance(instance, tuple) and hasattr(instance, "_fields"):
        return type(instance)(*args)
    return type(instance)(args)


def flatten(structure) -> list:
    """The leaves of `structure`, depth first."""
    if not is_nested(structure):
        return [structure]
    out = []
    for c in _children(structure):
        out.extend(flatten(c))
    return out


def pack_sequence_as(structure, flat_sequence):
    """`flat_sequence` put back into the shape of `structure`."""
    flat_sequence = list(flat_sequence)
    if not is_nested(structure):
        if len(flat_sequence) != 1:
            raise ValueError(f"Structure is a scalar but len(flat_sequence) == {len(flat_sequence)} > 1")
        return flat_sequence[0]

    def pack(s, pos):
        if not is_nested(s):
            return flat_sequence[pos], pos + 1
        args = []
        for c in _children(s):
            v, pos = pack(c, pos)
            args.append(v)
        return _sequence_like(s, args), pos

    if len(flatten(structure)) != len(flat_sequence):
        raise ValueError(
            f"Could not pack sequence. Structure had {len(flatten(structure))} elements, but "
            f"flat_sequence had {len(flat_sequence)} elements."
        )
    return pack(structure, 0)[0]


def assert_same_structure(a, b, check_types: bool = True) -> None:
    """Raise ValueError (TypeError for differing sequence types) unless a and b nest alike."""
    if is_nested(a) != is_nested(b):
        raise ValueError(f"The two structures don't have the same nested structure: {a} and {b}")
    if not is_nested(a):
        return
    if check_types and type(a) is not type(b) and not (isinstance(a, list) and isinstance(b, list)):
        raise TypeError(f"The two structures don't have the same sequence type: {type(a)} and {type(b)}")
    ca, cb = _children(a), _children(b)
    if len(ca) != len(cb):
        raise ValueError(f"The two structures don't have the same number of elements: {a} and {b}")
    for x, y in zip(ca, cb):
        assert_same_structure(x, y, check_types)


def map_structure(fn: Callable, *structures):
    """fn applied to corresponding leaves, in the shape of the first structure."""
    for s in structures[1:]:
        assert_same_structure(structures[0], s, check_types=False)
    flat = [flatten(s) for s in structures]
    return pack_sequence_as(structures[0], [fn(*leaves) for leaves in zip(*flat)])


def flatten_up_to(shallow, structure) -> list:
    """The sub-structures of `structure` at the leaves of `shallow`."""
    if not is_nested(shallow):
        return [structure]
    if not is_nested(structure):
        raise TypeError(f"If shallow structure is a sequence, input must also be a sequence: {structure}")
    cs, ci = _children(shallow), _children(structure)
    if len(cs) != len(ci):
        raise ValueError(f"The two structures don't have the same sequence length: {shallow} and {structure}")
    out = []
    for s, i in zip(cs, ci):
        out.extend(flatten_up_to(s, i))
    return out


def map_structure_up_to(shallow, fn: Callable, *structures):
    """fn applied to the sub-structures of each input at the leaves of `shallow`."""
    flat = [flatten_up_to(shallow, s) for s in structures]
    return pack_sequence_as(shallow, [fn(*args) for args in zip(*flat)])


def get_traverse_shallow_structure(traverse_fn: Callable, structure):
    """The shallow structure of booleans `traverse_fn` selects (TF's nest of the same name)."""
    to_traverse = traverse_fn(structure)
    if not is_nested(structure):
        if not isinstance(to_traverse, bool):
            raise TypeError(f"traverse_fn returned structure: {to_traverse} for non-structure: {structure}")
        return to_traverse
    level = []
    if isinstance(to_traverse, bool):
        if not to_traverse:
            return False
        for branch in _children(structure):
            level.append(get_traverse_shallow_structure(traverse_fn, branch))
    elif not is_nested(to_traverse):
        raise TypeError(f"traverse_fn returned a non-bool scalar: {to_traverse} for input: {structure}")
    else:
        for t, branch in zip(_children(to_traverse), _children(structure)):
            if not isinstance(t, bool):
                raise TypeError(f"traverse_fn didn't return a depth=1 structure of bools: {to_traverse}")
            level.append(get_traverse_shallow_structure(traverse_fn, branch) if t else False)
    return _sequence_like(structure, level)
