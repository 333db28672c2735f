"""Settings every test run of this repository shares (tests/ and examples/testing/)."""

import os
import tempfile

# kernels that plans generate (fused elementwise groups) are compiled into a cache of this
# run's own, never into the user's cache: tests write only under temporary directories
if "STATICFLOW_CACHE_DIR" not in os.environ:
    _kernel_cache = tempfile.TemporaryDirectory(prefix="staticflow-kernels-")
    os.environ["STATICFLOW_CACHE_DIR"] = _kernel_cache.name
