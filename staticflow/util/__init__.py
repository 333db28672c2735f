"""Generated protobuf modules of proto/staticflow/util/ (event files)."""
