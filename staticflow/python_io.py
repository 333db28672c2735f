"""sf.python_io: TFRecord files from Python (TF1's tf.python_io)."""

from staticflow.util.tfrecord import (  # noqa: F401
    TFRecordCompressionType,
    TFRecordOptions,
    TFRecordWriter,
    tf_record_iterator,
)
