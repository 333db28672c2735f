"""sf.viz.draw: the DOT it emits (clusters, styling, labels, collapsing) and real renders."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import staticflow as sf
from staticflow.viz import style

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's `dot` is not installed")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def mlp_with_gradients() -> tuple[sf.Graph, sf.Tensor]:
    rng = np.random.default_rng(0)
    g = sf.Graph()
    with g.as_default():
        x = sf.placeholder(sf.float32, [None, 4], name="x")
        y = sf.placeholder(sf.int32, [None], name="y")
        with sf.name_scope("hidden"):
            w1 = sf.Variable(rng.normal(size=(4, 8)).astype(np.float32), name="w")
            h = sf.nn.relu(sf.matmul(x, w1))
        with sf.name_scope("output"):
            w2 = sf.Variable(rng.normal(size=(8, 3)).astype(np.float32), name="w")
            logits = sf.matmul(h, w2, name="logits")
        loss = sf.reduce_mean(
            sf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits), name="loss"
        )
        sf.gradients(loss, [w1, w2])
        sf.global_variables_initializer()
    return g, loss


def node_line(source: str, label_start: str) -> str:
    """The attribute list of the first node whose label starts with label_start."""
    m = re.search(r'\[label="?' + re.escape(label_start) + r"[^\]]*\]", source)
    assert m, f"no node labelled {label_start!r}"
    return m.group(0)


def test_clusters_labels_and_families():
    g, _ = mlp_with_gradients()
    src = sf.viz.draw(g).source
    assert "subgraph cluster_hidden {" in src
    assert 'subgraph "cluster_hidden/w" {' in src  # nested: a variable with its Assign and read
    assert "subgraph cluster_gradients {" in src
    # edges carry dtype and shape
    assert "float32 [?,4]" in src and "float32 [4,8]" in src and "int32 [?]" in src
    # variables and placeholders have their own shapes; matmul its colour
    assert "shape=cylinder" in node_line(src, "w\nVariableV2")
    assert "shape=invhouse" in node_line(src, "x\nPlaceholder")
    assert style.FAMILIES["matmul"]["fillcolor"] in node_line(src, "MatMul")


def test_families_come_from_the_registry():
    assert style.family("VariableV2") == "variable"
    assert style.family("Placeholder") == "placeholder"
    assert style.family("Const") == "constant"
    assert style.family("MatMul") == "matmul"
    assert style.family("Sum") == "reduction"
    assert style.family("Relu") == "elementwise"
    assert style.family("Assign") == "update"
    assert style.family("RandomUniform") == "random"
    assert style.family("NoOp") == "control"
    assert style.family("NotAnOp") == "other"


def test_gradient_part_is_distinct_and_can_be_left_out():
    g, _ = mlp_with_gradients()
    src = sf.viz.draw(g, gradients=True).source
    cluster = src.split("subgraph cluster_gradients {", 1)[1].splitlines()[1]
    assert style.GRADIENT_CLUSTER["fillcolor"] in cluster
    assert style.GRADIENT_NODE["color"] in src and style.GRADIENT_EDGE["color"] in src
    fwd = sf.viz.draw(g, gradients=False).source
    assert "cluster_gradients" not in fwd and style.GRADIENT_NODE["color"] not in fwd
    assert "cluster_hidden" in fwd and "loss" in fwd


def test_control_dependencies_are_dashed():
    g, _ = mlp_with_gradients()
    src = sf.viz.draw(g).source
    init = re.search(r"\t(n\d+) \[label=\"init\n", src).group(1)
    into_init = [ln for ln in src.splitlines() if re.search(rf"-> {init}\b", ln)]
    assert len(into_init) == 2 and all("style=dashed" in ln for ln in into_init)
    data_edges = [ln for ln in src.splitlines() if " -> " in ln and "style=dashed" not in ln]
    assert data_edges and all("label=" in ln for ln in data_edges)


def test_collapsed_scopes():
    g, _ = mlp_with_gradients()
    src = sf.viz.draw(g, collapse_scopes=["hidden"]).source
    assert "cluster_hidden" not in src
    assert re.search(r'label="hidden/\n\d+ ops"', src) and "shape=box3d" in src
    assert "cluster_output" in src
    everything = sf.viz.draw(g, collapse_scopes=True).source
    assert "cluster_hidden" not in everything and "cluster_gradients" not in everything
    assert 'label="gradients/' in everything
    with pytest.raises(ValueError, match="no name scope"):
        sf.viz.draw(g, collapse_scopes=["nope"])


def test_fetches_restrict_the_drawing():
    g, loss = mlp_with_gradients()
    src = sf.viz.draw(g, fetches=g.get_tensor_by_name("hidden/Relu:0")).source
    assert "Relu" in src and "output" not in src and "loss" not in src and "gradients" not in src
    assert "loss" in sf.viz.draw(g, fetches=[loss]).source


def big_graph(layers: int = 10, per_layer: int = 25) -> sf.Graph:
    g = sf.Graph()
    with g.as_default():
        h = sf.placeholder(sf.float32, [None, 4], name="x")
        for i in range(layers):
            with sf.name_scope(f"layer{i}"):
                w = sf.constant(1.0, shape=[4, 4], name="w")
                for _ in range(per_layer):
                    h = sf.tanh(sf.matmul(h, w) + 0.5)
    assert len(g.get_operations()) >= 1000
    return g


def test_large_graphs_collapse_automatically():
    src = sf.viz.draw(big_graph()).source
    assert src.count('ops"') == 10 and "cluster_layer0" not in src


def test_graph_def_is_drawn_like_the_graph():
    g, _ = mlp_with_gradients()
    src = sf.viz.draw(g.as_graph_def(add_shapes=True)).source
    assert "cluster_gradients" in src and "float32 [?,4]" in src and "style=dashed" in src


@needs_dot
def test_renders_png_svg_and_pdf(tmp_path):
    g, _ = mlp_with_gradients()
    png = tmp_path / "g.png"
    d = sf.viz.draw(g, png)
    assert isinstance(d, __import__("graphviz").Digraph)
    assert png.read_bytes().startswith(PNG_MAGIC)
    svg = tmp_path / "g.svg"
    sf.viz.draw(g, svg, gradients=False)
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    sf.viz.draw(g, tmp_path / "g.pdf")
    assert (tmp_path / "g.pdf").read_bytes().startswith(b"%PDF")
    sf.viz.draw(g, tmp_path / "forced", format="svg")
    ET.parse(tmp_path / "forced")


@needs_dot
def test_jupyter_repr_is_svg():
    g, _ = mlp_with_gradients()
    for svg in (g._repr_svg_(), sf.viz.draw(g)._repr_svg_()):
        assert ET.fromstring(svg).tag.endswith("svg")


@needs_dot
def test_thousand_node_graph_renders(tmp_path):
    g = big_graph()
    sf.viz.draw(g, tmp_path / "big.png", collapse_scopes=False)
    assert (tmp_path / "big.png").read_bytes().startswith(PNG_MAGIC)
    sf.viz.draw(g, tmp_path / "big.svg", collapse_scopes=False)
    assert len(ET.parse(tmp_path / "big.svg").getroot().findall(".//{*}g[@class='node']")) >= 1000
