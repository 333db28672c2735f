"""Where the registry's op tests place their ops: the CPU (the default), a GPU, or the
simulated GPU (backends/simulated.py).

`STATICFLOW_TEST_DEVICE=gpu` (what `make test-gpu` sets) builds every case's op under
`sf.device("/gpu:0")` with soft placement off, so an op with a GPU kernel must run there;
an op placement refuses for want of a kernel reruns with soft placement on (on the CPU)
and is counted in `FELL_BACK`. `simulated` does the same on a simulated GPU installed for
the run (tests/devices/test_ops_on_device.py runs a selection of the cases this way in the
default suite, so the host side of the device path is tested on every machine).
"""

from __future__ import annotations

import contextlib
import os

import staticflow as sf

MODE = os.environ.get("STATICFLOW_TEST_DEVICE", "").strip().lower()  # "", "gpu", "simulated"
FELL_BACK: set[str] = set()  # ops that had no kernel on the device


def scope():
    """The device scope the cases' ops are built in."""
    return sf.device("/gpu:0") if MODE else contextlib.nullcontext()


def run(graph, fetches, feeds, op_name: str):
    """sess.run(fetches, feeds) on the device of MODE (see the module doc)."""
    if not MODE:
        with sf.Session(graph=graph) as sess:
            return sess.run(fetches, feeds)
    try:
        with sf.Session(graph=graph, config=sf.ConfigProto(allow_soft_placement=False)) as sess:
            return sess.run(fetches, feeds)
    except sf.errors.InvalidArgumentError as e:
        if "Cannot assign a device" not in str(e):
            raise
        FELL_BACK.add(op_name)
    with sf.Session(graph=graph, config=sf.ConfigProto(allow_soft_placement=True)) as sess:
        return sess.run(fetches, feeds)


def session(graph):
    """A session for cases that run several times in one (variables and their updates): on
    the device of MODE with soft placement on."""
    if not MODE:
        return sf.Session(graph=graph)
    return sf.Session(graph=graph, config=sf.ConfigProto(allow_soft_placement=True))
