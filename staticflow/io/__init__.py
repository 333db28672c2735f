"""sf.io: reading and writing graphs, files and TFRecords; CSV decoding (TF1's tf.io)."""

from staticflow.framework.graph_io import read_graph, write_graph  # noqa: F401
from staticflow.io.idx import load_mnist, read_idx
from staticflow.io.tfrecord import (
    TFRecordCompressionType,
    TFRecordOptions,
    TFRecordWriter,
    tf_record_iterator,
)
from staticflow.ops.io_ops import matching_files, read_file, write_file
from staticflow.ops.parsing_ops import decode_csv
from staticflow.ops.string_ops import decode_base64, encode_base64
