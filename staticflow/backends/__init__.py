"""Bindings of the compiled kernel libraries (the only package that imports cffi)."""
