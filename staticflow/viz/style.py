"""How a node looks: its family (from the op registry) and the DOT attributes of each family.

The family is read from the op's registry record (flags: static, stateful,
random, elementwise; arguments: ref inputs; attrs: keep_dims marks a
reduction), so a newly declared op gets the right colour without being
listed here. Ops staticflow does not know (a foreign GraphDef) are "other".
"""

from __future__ import annotations

import re

from staticflow.ops import registry

# the first component of gradient op names: "gradients", "gradients_1", ...
GRADIENT_SCOPE = re.compile(r"^gradients(_\d+)?$")

FONT = "Helvetica"

# family -> node attributes
FAMILIES: dict[str, dict[str, str]] = {
    "variable": {"shape": "cylinder", "fillcolor": "#f6d58e"},
    "placeholder": {"shape": "invhouse", "fillcolor": "#9ecae1"},
    "constant": {"shape": "box", "fillcolor": "#eeeeee", "fontcolor": "#555555", "fontsize": "8"},
    "static": {"shape": "box", "fillcolor": "#e5e5e5", "fontcolor": "#444444"},
    "matmul": {"shape": "box", "fillcolor": "#f4a582", "penwidth": "1.5"},
    "reduction": {"shape": "trapezium", "fillcolor": "#bcbddc"},
    "elementwise": {"shape": "ellipse", "fillcolor": "#c7e9c0"},
    "update": {"shape": "box", "fillcolor": "#fbb4ae", "style": "filled,bold"},
    "random": {"shape": "hexagon", "fillcolor": "#fee391"},
    "stateful": {"shape": "box", "fillcolor": "#fddbc7"},
    "control": {"shape": "octagon", "fillcolor": "#ffffff", "fontsize": "8"},
    "other": {"shape": "box", "fillcolor": "#ffffff"},
}

# gradient ops keep their family's shape but are drawn in the gradient colours
GRADIENT_NODE = {"color": "#d94801", "fontcolor": "#7f2704"}
GRADIENT_FILL = "#fdd0a2"
GRADIENT_CLUSTER = {"style": "filled,rounded", "fillcolor": "#fff5eb", "color": "#d94801", "penwidth": "2"}
GRADIENT_EDGE = {"color": "#e6550d", "fontcolor": "#a63603"}
CLUSTER = {"style": "rounded", "color": "#9e9e9e", "fontcolor": "#424242"}
# a plan step that stands for several ops (a fused kernel): a blue frame around them
FUSED_CLUSTER = {"style": "filled,rounded", "fillcolor": "#eef4fb", "color": "#2171b5", "penwidth": "2"}
COLLAPSED = {"shape": "box3d", "fillcolor": "#dbe6f3"}
CONTROL_EDGE = {"style": "dashed", "color": "#757575", "arrowhead": "odot"}


def family(op_type: str) -> str:
    """The drawing family of an op type, from its registry record."""
    d = registry.lookup(op_type)
    if d is None:
        return "other"
    if op_type.startswith("Placeholder"):
        return "placeholder"
    if not d.outputs:
        return "control"
    if d.static:
        return "constant" if not d.inputs else "static"
    if not d.inputs and d.stateful and not d.random:
        return "variable"
    if not d.inputs and not d.stateful and not d.random:
        return "placeholder"
    if d.random:
        return "random"
    if any(a.ref for a in d.inputs):
        return "update"
    if d.stateful:
        return "stateful"
    if re.search(r"MatMul|Conv", op_type):
        return "matmul"
    if any(a.name == "keep_dims" for a in d.attrs):
        return "reduction"
    if d.elementwise:
        return "elementwise"
    return "other"


def is_gradient(name: str) -> bool:
    """Whether an op name lies in a gradients() name scope."""
    return bool(GRADIENT_SCOPE.match(name.split("/", 1)[0]))


def node_attrs(fam: str, gradient: bool) -> dict[str, str]:
    a = {"style": "filled", **FAMILIES.get(fam, FAMILIES["other"])}
    if gradient:
        a.update(GRADIENT_NODE)
        if fam in ("elementwise", "other", "matmul", "reduction", "static", "constant"):
            a["fillcolor"] = GRADIENT_FILL
    return a
