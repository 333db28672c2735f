"""Generated protobuf modules of the training and serving schema (proto/staticflow/protobuf/)."""
