"""Graphs, operations, tensors, dtypes and shapes; GraphDef (de)serialization."""
