"""staticflow: a static-graph deep-learning engine with TensorFlow 1.x's API.

Build a graph of placeholders, variables and ops; a Session plans the part a
run needs (pruned, shape-checked, memory-planned) and executes it on C
kernels. ``import staticflow as sf`` and use it as ``tf.compat.v1``.
"""

from staticflow import debugging, initializers, io, layers, losses, math, nn, profiler, test, train  # noqa: E402
from staticflow.autodiff import RegisterGradient, gradients, hessian_vector_product
from staticflow.framework import dtypes, errors
from staticflow.framework.dtypes import (
    DType,
    as_dtype,
    bfloat16,
    double,
    float16,
    float32,
    float64,
    half,
    int8,
    int16,
    int32,
    int64,
    string,
    uint8,
    uint16,
    uint32,
    uint64,
    variant,
)
from staticflow.framework.dtypes import (
    bool_ as bool,
)
from staticflow.framework.graph_io import import_graph_def
from staticflow.framework.ops import (
    Graph,
    GraphKeys,
    Operation,
    Tensor,
    add_to_collection,
    add_to_collections,
    control_dependencies,
    convert_to_tensor,
    device,
    get_collection,
    get_collection_ref,
    get_default_graph,
    is_tensor,
    name_scope,
    reset_default_graph,
)
from staticflow.framework.tensor_shape import Dimension, TensorShape, dimension_value
from staticflow.framework.tensor_util import make_ndarray, make_tensor_proto
from staticflow.ops import array_grad as _array_grad  # noqa: F401  (registers gradients)
from staticflow.ops import array_ops as _array_ops
from staticflow.ops import control_flow_ops as _cf
from staticflow.ops import conv_grad as _conv_grad  # noqa: F401  (registers gradients)
from staticflow.ops import conv_ops as _conv_ops  # noqa: F401
from staticflow.ops import fused_elementwise as _fused_elementwise  # noqa: F401  (elementwise fusion's op)
from staticflow.ops import fused_ops as _fused_ops  # noqa: F401  (ops pattern fusion makes)
from staticflow.ops import list_ops as _list_ops  # noqa: F401  (registers the TensorList ops)
from staticflow.ops import logging_ops as _logging_ops
from staticflow.ops import math_grad as _math_grad  # noqa: F401
from staticflow.ops import math_ops as _math_ops
from staticflow.ops import nn_grad as _nn_grad  # noqa: F401
from staticflow.ops import nn_ops as _nn_ops
from staticflow.ops import random_ops as _random_ops
from staticflow.ops import state_ops as _state_ops
from staticflow.ops import string_ops as _string_ops  # noqa: F401  (registers the string ops)
from staticflow.ops import training_ops as _training_ops  # noqa: F401
from staticflow.ops import transfer as _transfer  # noqa: F401  (copy insertion's ops)
from staticflow.ops.array_ops import (
    broadcast_to,
    concat,
    constant,
    expand_dims,
    fill,
    gather,
    identity,
    no_op,
    one_hot,
    ones,
    ones_like,
    pad,
    placeholder,
    placeholder_with_default,
    rank,
    reshape,
    shape,
    size,
    split,
    squeeze,
    stack,
    stop_gradient,
    strided_slice,
    tile,
    transpose,
    unstack,
    zeros,
    zeros_like,
)
from staticflow.ops.array_ops import range_ as range  # noqa: A001 - TF's name
from staticflow.ops.array_ops import slice_ as slice  # noqa: A001 - TF's name
from staticflow.ops.cast_ops import bitcast, saturate_cast
from staticflow.ops.clip_ops import clip_by_global_norm, clip_by_norm, clip_by_value, global_norm
from staticflow.ops.control_flow_ops import group, with_dependencies
from staticflow.ops.control_flow_ops import tuple_ as tuple  # noqa: A001 - TF's name
from staticflow.ops.control_flow_v2 import case, cond, switch_case, while_loop
from staticflow.ops.functional_ops import foldl, foldr, map_fn, scan
from staticflow.ops.init_ops import (
    constant_initializer,
    glorot_normal_initializer,
    glorot_uniform_initializer,
    ones_initializer,
    random_normal_initializer,
    random_uniform_initializer,
    truncated_normal_initializer,
    variance_scaling_initializer,
    zeros_initializer,
)
from staticflow.ops.logging_ops import Assert, add_check_numerics_ops, check_numerics
from staticflow.ops.logging_ops import print_ as Print  # noqa: N812 - TF's name
from staticflow.ops.logging_ops import print_v2 as print  # noqa: A004 - TF's name
from staticflow.ops.math_ops import (
    abs,
    add,
    add_n,
    argmax,
    argmin,
    cast,
    ceil,
    cos,
    div,
    divide,
    equal,
    erf,
    exp,
    expm1,
    floor,
    floordiv,
    floormod,
    greater,
    greater_equal,
    less,
    less_equal,
    log,
    log1p,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    matmul,
    maximum,
    minimum,
    multiply,
    negative,
    not_equal,
    pow,
    realdiv,
    reciprocal,
    reduce_all,
    reduce_any,
    reduce_max,
    reduce_mean,
    reduce_min,
    reduce_prod,
    reduce_sum,
    round,
    rsqrt,
    sigmoid,
    sign,
    sin,
    sqrt,
    square,
    squared_difference,
    subtract,
    tanh,
    to_float,
    to_int32,
    to_int64,
    truediv,
    where,
    where_v2,
)
from staticflow.ops.math_ops import floormod as mod
from staticflow.ops.math_ops import multiply as mul
from staticflow.ops.math_ops import negative as neg
from staticflow.ops.math_ops import subtract as sub
from staticflow.ops.random_ops import random_normal, random_uniform, set_random_seed, truncated_normal
from staticflow.ops.recompute import recompute_grad
from staticflow.ops.state_ops import (
    Variable,
    assign,
    assign_add,
    assign_sub,
    global_variables,
    global_variables_initializer,
    initialize_all_variables,
    local_variables,
    local_variables_initializer,
    trainable_variables,
    variables_initializer,
)
from staticflow.ops.tensor_array_ops import TensorArray
from staticflow.ops.variable_scope import (
    AUTO_REUSE,
    VariableScope,
    get_variable,
    get_variable_scope,
    variable_scope,
)
from staticflow.runtime.session import InteractiveSession, Session, get_default_session

newaxis = None
import staticflow.contrib as contrib  # noqa: E402  (tf.contrib's aliases of core TF1)

# model saving and loading: sf.graph_util (freezing), sf.saved_model; sf.train has Saver & meta graphs
from staticflow import compat, gfile, graph_util, image, logging, saved_model, strings, summary, viz  # noqa: E402
from staticflow.framework.versions import __version__  # noqa: E402
from staticflow.ops.array_ops import unsorted_segment_sum  # noqa: E402
from staticflow.ops.rnn import reverse_sequence  # noqa: E402
from staticflow.ops.string_ops import (  # noqa: E402
    as_string,
    decode_base64,
    encode_base64,
    reduce_join,
    regex_replace,
    substr,
)
from staticflow.ops.string_ops import join as string_join  # noqa: E402
from staticflow.ops.string_ops import strip as string_strip  # noqa: E402
from staticflow.ops.string_ops import to_number as string_to_number  # noqa: E402

# TF1's top-level names for the string ops (sf.strings has them all)
from staticflow.train.meta_graph import export_meta_graph, import_meta_graph  # noqa: E402

# session and run configuration (protobuf messages, loaded on first use like GraphDef)
_CONFIG_MESSAGES = (
    "ConfigProto",
    "GPUOptions",
    "GraphOptions",
    "OptimizerOptions",
    "RewriterConfig",
    "RunOptions",
    "RunMetadata",
)


# the other protobuf message classes TF1 has at top level: module of each, loaded
# on first use (sf.GraphDef, sf.NodeDef, sf.Summary, ... are the classes)
_PROTO_MESSAGES = {
    "AttrValue": "staticflow.framework.attr_value_pb2",
    "NameAttrList": "staticflow.framework.attr_value_pb2",
    "GraphDef": "staticflow.framework.graph_pb2",
    "NodeDef": "staticflow.framework.node_def_pb2",
    "TensorProto": "staticflow.framework.tensor_pb2",
    "TensorShapeProto": "staticflow.framework.tensor_shape_pb2",
    "Summary": "staticflow.framework.summary_pb2",
    "SummaryMetadata": "staticflow.framework.summary_pb2",
    "HistogramProto": "staticflow.framework.summary_pb2",
    "MetaGraphDef": "staticflow.protobuf.meta_graph_pb2",
    "TensorInfo": "staticflow.protobuf.meta_graph_pb2",
    "Event": "staticflow.util.event_pb2",
    "LogMessage": "staticflow.util.event_pb2",
    "SessionLog": "staticflow.util.event_pb2",
}


# absl's command-line flags and app runner (sf.flags, sf.app): loaded on first use, since a
# program that builds and runs graphs needs neither, and absl brings pdb, sockets and logging
_LAZY_MODULES = ("app", "config", "flags")


def __getattr__(name: str):
    if name in _LAZY_MODULES:
        import importlib

        return importlib.import_module(f"staticflow.{name}")
    if name in _CONFIG_MESSAGES:
        from staticflow.protobuf import config_pb2

        return getattr(config_pb2, name)
    if name in _PROTO_MESSAGES:
        import importlib

        return getattr(importlib.import_module(_PROTO_MESSAGES[name]), name)
    raise AttributeError(f"module 'staticflow' has no attribute {name!r}")


# streaming metrics, the sf.random namespace, and TF1's names of everyday ops
# input pipelines: sf.data, queues, readers, CSV decoding, TFRecord files (sf.python_io)
from staticflow import data, metrics, python_io, random, raw_ops  # noqa: E402  # noqa: E402
from staticflow.ops.confusion_matrix import confusion_matrix  # noqa: E402
from staticflow.ops.io_ops import (  # noqa: E402
    IdentityReader,
    ReaderBase,
    TextLineReader,
    TFRecordReader,
    WholeFileReader,
    matching_files,
    read_file,
    write_file,
)
from staticflow.ops.nn_extras import div_no_nan  # noqa: E402
from staticflow.ops.parsing_ops import decode_csv  # noqa: E402
from staticflow.ops.queue_ops import FIFOQueue, PaddingFIFOQueue, QueueBase, RandomShuffleQueue  # noqa: E402
from staticflow.ops.random_ops import random_shuffle  # noqa: E402
from staticflow.ops.state_ops import (  # noqa: E402
    count_up_to,  # noqa: E402
    initialize_local_variables,
    moving_average_variables,
)
from staticflow.ops.topk_ops import arg_max, arg_min  # noqa: E402
