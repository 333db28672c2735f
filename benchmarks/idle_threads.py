"""Imported by every benchmark before NumPy: idle BLAS threads go to sleep soon.

OpenBLAS (NumPy's, and any peer's that uses it) keeps its worker threads spinning
after each product for 2^28 cycles by default, a tenth of a second or more. On a
2-core machine those threads take a core from whichever engine is timed next:
staticflow's 1024x1024 product measured 12.3 ms on its own but 15-17 ms right
after NumPy had computed the reference product. 2^20 cycles (under a millisecond)
still keeps an engine's threads awake between the products of its own step. The
setting is read when a BLAS library loads, hence before NumPy is imported.
"""

import os

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")
