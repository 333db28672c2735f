"""The compiler between a Graph and the kernels: IR of one plan signature (ir.py), built from
the pruned graph with concrete shapes (build.py); passes rewrite it (staticflow/passes)."""
