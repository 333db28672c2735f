"""TensorBoard summaries and event files.

``sf.summary.scalar``, ``histogram``, ``image``, ``text`` and ``tensor_summary``
add ops whose value is a serialized `Summary`; ``merge``/``merge_all`` join
them; ``FileWriter.add_summary`` records the fetched bytes.

``sf.summary.FileWriter(logdir, graph)`` writes the graph for TensorBoard's
Graphs tab; ``add_scalar(tag, value, step)`` and ``add_summary(summary,
step)`` record values for its Scalars tab. `Summary` and `Event` are the
protobuf messages (wire-compatible with TensorFlow's).
"""

from staticflow.summary.summary import (
    get_summary_description,
    histogram,
    image,
    merge,
    merge_all,
    scalar,
    tensor_summary,
    text,
)
from staticflow.summary.writer import FileWriter, FileWriterCache, summary_iterator
from staticflow.util.records import CorruptRecordError, crc32c, masked_crc32c, read_records


def __getattr__(name):
    # the generated protobuf classes, loaded on first use
    if name in ("Summary", "SummaryMetadata", "HistogramProto"):
        from staticflow.framework import summary_pb2

        return getattr(summary_pb2, name)
    if name in ("Event", "SessionLog", "TaggedRunMetadata"):
        from staticflow.util import event_pb2

        return getattr(event_pb2, name)
    raise AttributeError(f"module 'staticflow.summary' has no attribute {name!r}")


__all__ = [
    "CorruptRecordError",
    "FileWriter",
    "FileWriterCache",
    "crc32c",
    "get_summary_description",
    "histogram",
    "image",
    "masked_crc32c",
    "merge",
    "merge_all",
    "read_records",
    "scalar",
    "summary_iterator",
    "tensor_summary",
    "text",
]
