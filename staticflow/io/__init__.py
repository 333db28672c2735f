"""sf.io: reading and writing graphs (and, later, exchange formats)."""

from staticflow.framework.graph_io import read_graph, write_graph  # noqa: F401
from staticflow.io import gfile
from staticflow.io.idx import load_mnist, read_idx
from staticflow.ops.string_ops import decode_base64, encode_base64
