"""sf.io: reading and writing graphs (and, later, exchange formats)."""

from staticflow.framework.graph_io import read_graph, write_graph  # noqa: F401
from staticflow.io import gfile
from staticflow.io.idx import load_mnist, read_idx
from staticflow.ops.io_ops import matching_files, read_file, write_file  # noqa: E402
from staticflow.ops.parsing_ops import decode_csv  # noqa: E402
from staticflow.ops.string_ops import decode_base64, encode_base64

# TF1's tf.io names for files, TFRecords and CSV records
from staticflow.util.tfrecord import (  # noqa: E402
    TFRecordCompressionType,
    TFRecordOptions,
    TFRecordWriter,
    tf_record_iterator,
)
