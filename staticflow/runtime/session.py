"""Session: runs (parts of) a graph, caching one plan per run signature.

The plan cache is bounded (ConfigProto.plan_cache_size, default
DEFAULT_PLAN_CACHE_SIZE): a program that runs with ever new feed shapes keeps
the most recently used plans and frees the others' arenas. Fetch structures
are walked with loops, not recursion, so any nesting depth works.

A run's fixed cost: each run signature (the fetch structure, when it is one
element or a flat list or tuple of them, and the feed_dict's keys) keeps a
_Signature with everything a run of it can reuse: the fetched tensors and
targets, the fed tensors in key order, how to rebuild the fetch structure, and
a runner of the last plan it ran (plan.runner). A run whose fed arrays have that
plan's dtypes and shapes hands them to the runner directly. `make_callable`
returns a function over one _Signature.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import operator
import os
import sys
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from staticflow.framework import backend, dtypes, errors, strings
from staticflow.framework import ops as fops
from staticflow.ops import list_ops
from staticflow.runtime import plan as plan_mod
from staticflow.runtime import sources
from staticflow.runtime.resources import ResourceStore

# Plans a Session keeps when its ConfigProto does not say (plan_cache_size 0).
DEFAULT_PLAN_CACHE_SIZE = 64


# streams of every session in the process get distinct numbers (traces name their lanes by them)
_stream_numbers = itertools.count(1)


class VariableStore:
    """Persistent storage of a session's variables (stable addresses for plans).

    A variable placed on the CPU is a NumPy array; one placed on a device lives in that
    device's memory (allocated by its backend, freed with the session), and so do the
    stream states of random ops placed there. Code outside plans reads and writes a
    variable through `read` and `write`, which copy to and from a device where it lives
    there. The store also holds the session's stream on each device (`stream`)."""

    def __init__(self, graph: fops.Graph):
        self._graph = graph
        self._arrays: dict[str, np.ndarray] = {}
        self._initialized: set[str] = set()
        self._states: dict[str, np.ndarray] = {}
        # variable or random op name -> (device, backend, address, nbytes) in a device's memory
        self._on_device: dict[str, tuple] = {}
        self._device_states: dict[str, tuple] = {}
        self._streams: dict[str, int] = {}  # device -> the session's stream there (an address)
        self._stream_index: dict[str, int] = {}  # device -> its stream's number (trace lanes)
        self._stream_free: dict[str, weakref.finalize] = {}  # device -> frees its stream
        # variable name -> the device it lives on: placement keeps variables where they are
        # (the session's pass options hold this dict); a plan that must place one elsewhere
        # moves it, and `on_move` (the session's) drops the plans that point at the old storage
        self.homes: dict[str, str] = {}
        self.on_move = None
        self.moved = 0

    def storage(self, op: fops.Operation) -> np.ndarray:
        """The host storage of variable `op` (moved from a device, when it lived on one)."""
        if op.name in self._on_device:
            self._move(op, self._on_device, "")
        a = self._arrays.get(op.name)
        if a is None:
            shape = op.get_attr("shape").as_list()
            a = np.zeros(shape, dtype=op.get_attr("dtype").np)
            self._arrays[op.name] = a
        if self.homes.get(op.name, "") != "":
            self.homes[op.name] = ""
        return a

    def _move(self, op: fops.Operation, table: dict, device: str) -> None:
        """Move a variable (or random state) off the device it lives on, to `device` ("" the
        host): a plan placed it elsewhere than the plans before it. Its value goes along;
        the session's plans, which point at the old storage, are dropped (`on_move`)."""
        old_device, be, ptr, nbytes = table.pop(op.name)
        if table is self._on_device:
            value = np.empty(op.get_attr("shape").as_list(), op.get_attr("dtype").np)
        else:
            value = np.empty(3, np.int64)
        be.copy_out(value, ptr, self.stream(old_device))
        (self._arrays if table is self._on_device else self._states)[op.name] = value
        self.moved += 1
        if self.on_move is not None:
            self.on_move()

    def _device_block(self, table: dict, name: str, device: str, host: np.ndarray) -> tuple[int, int]:
        got = table.get(name)
        if got is not None and got[0] == device:
            return got[2], got[3]
        be = backend.for_device(device)
        ptr = be.allocate(max(host.nbytes, 1))
        be.copy_in(ptr, host, self.stream(device))
        table[name] = (device, be, ptr, host.nbytes)
        weakref.finalize(self, be.free, ptr)
        return ptr, host.nbytes

    def device_storage(self, op: fops.Operation, device: str) -> tuple[int, int]:
        """(address, bytes) of variable `op` in `device`'s memory, made on first use (from its
        host value, when it had one: the session's first plan placed it elsewhere)."""
        got = self._on_device.get(op.name)
        if got is not None and got[0] == device:
            return got[2], got[3]
        if got is not None:
            self._move(op, self._on_device, "")
        host = self._arrays.pop(op.name, None)
        if host is None:
            host = np.zeros(op.get_attr("shape").as_list(), dtype=op.get_attr("dtype").np)
        elif self.on_move is not None and got is None:
            self.on_move()  # plans made before point at its host storage
        self.homes[op.name] = device
        return self._device_block(self._on_device, op.name, device, host)

    def device_op_state(self, op: fops.Operation, device: str) -> tuple[int, int]:
        """(address, bytes) of a random op's stream state in `device`'s memory."""
        got = self._device_states.get(op.name)
        if got is not None and got[0] != device:
            self._move(op, self._device_states, "")
        if got is None or got[0] != device:
            host = self._states.pop(op.name, None)
            if host is None:
                host = self.op_state(op)
                self._states.pop(op.name, None)
            return self._device_block(self._device_states, op.name, device, host)
        return got[2], got[3]

    def stream(self, device: str) -> int:
        """The session's stream on `device` (one per session and device), as an address."""
        s = self._streams.get(device)
        if s is None:
            be = backend.for_device(device)
            st = be.new_stream()
            s = self._streams[device] = int(be.ffi.cast("intptr_t", st)) if st is not None else 0
            self._stream_index[device] = next(_stream_numbers)
            self._stream_free[device] = weakref.finalize(self, be.free_stream, s)
        return s

    def stream_index(self, device: str) -> int:
        """The number of the session's stream on `device` (traces name it ".../stream:N")."""
        self.stream(device)
        return self._stream_index[device]

    def free_streams(self) -> None:
        """Give back the session's streams (it is closed: no run comes)."""
        for free in self._stream_free.values():
            free()
        self._streams.clear()
        self._stream_index.clear()
        self._stream_free.clear()

    def device_of(self, name: str) -> str:
        """The device a variable lives on ("" the host)."""
        got = self._on_device.get(name)
        return got[0] if got is not None else ""

    def read(self, op: fops.Operation) -> np.ndarray:
        """A copy of variable `op`'s value, wherever it lives."""
        got = self._on_device.get(op.name)
        if got is None:
            return np.array(self.storage(op), copy=True)
        device, be, ptr, _n = got
        out = np.empty(op.get_attr("shape").as_list(), op.get_attr("dtype").np)
        be.copy_out(out, ptr, self.stream(device))
        return out

    def write(self, op: fops.Operation, value) -> None:
        """Set variable `op` to `value` (its shape), wherever it lives."""
        got = self._on_device.get(op.name)
        if got is None:
            np.copyto(self.storage(op), value)
            return
        device, be, ptr, _n = got
        arr = np.ascontiguousarray(value, dtype=op.get_attr("dtype").np)
        be.copy_in(ptr, arr, self.stream(device))

    def shape_of(self, op: fops.Operation) -> tuple:
        return tuple(op.get_attr("shape").as_list())

    def op_state(self, op: fops.Operation) -> np.ndarray:
        """The stream state [seed, seed2, counter] of a random op, created on first use (moved
        from a device, when it lived on one)."""
        if op.name in self._device_states:
            self._move(op, self._device_states, "")
        a = self._states.get(op.name)
        if a is None:
            seed, seed2 = op.get_attr("seed"), op.get_attr("seed2")
            if seed == 0 and seed2 == 0:  # nondeterministic: fresh seeds for this session
                seed, seed2 = (int.from_bytes(os.urandom(8), "little") >> 2 for _ in range(2))
            a = np.array([seed, seed2, 0], np.int64)
            self._states[op.name] = a
        return a

    def is_initialized(self, name: str) -> bool:
        return name in self._initialized

    def mark_initialized(self, name: str) -> None:
        self._initialized.add(name)

    def op(self, name: str) -> fops.Operation:
        return self._graph.get_operation_by_name(name)

    def names(self) -> list[str]:
        return list(self._arrays) + list(self._on_device)


class _FetchMapper:
    """Flattens a fetch structure to graph elements and rebuilds it from values.

    Lists, tuples, namedtuples and mappings nest to any depth: both directions are
    loops over an explicit stack, so a structure 2,000 levels deep is no
    RecursionError. The template is a tree of ("leaf", index) and
    [kind, cls, keys, children] nodes, kind "seq", "namedtuple" or "dict"; leaves
    are numbered depth first, in order.
    """

    def __init__(self, graph: fops.Graph, fetches):
        self.leaves: list = []
        self.template = self._walk(graph, fetches)

    def _node(self, graph, f):
        """The template node of `f`; a container's children are still the raw fetches."""
        if isinstance(f, (list, tuple)) and not hasattr(f, "_fields"):
            return ["seq", type(f), None, list(f)]
        if hasattr(f, "_fields") and isinstance(f, tuple):  # namedtuple
            return ["namedtuple", type(f), None, list(f)]
        if isinstance(f, Mapping):
            return ["dict", type(f), list(f.keys()), list(f.values())]
        if f is None:
            raise TypeError("Fetch argument None has invalid type <class 'NoneType'>")
        self.leaves.append(self._element(graph, f))
        return ("leaf", len(self.leaves) - 1)

    def _walk(self, graph, fetches):
        root: list = [None]
        on_path: set[int] = set()  # containers being expanded: one met again is a cycle
        stack: list = [(False, fetches, root, 0)]
        while stack:
            done, f, parent, i = stack.pop()
            if done:
                on_path.discard(id(f))
                continue
            node = self._node(graph, f)
            parent[i] = node
            if node[0] == "leaf":
                continue
            if id(f) in on_path:
                raise ValueError(f"Fetch argument of type {type(f).__name__} contains itself")
            on_path.add(id(f))
            raw = node[3]
            node[3] = [None] * len(raw)
            stack.append((True, f, None, 0))
            stack.extend((False, raw[j], node[3], j) for j in reversed(range(len(raw))))
        return root[0]

    def build(self, values):
        """The fetch structure with each leaf replaced by its value (children built first)."""
        root: list = [None]
        stack: list = [(self.template, root, 0, None)]
        while stack:
            node, parent, i, built = stack.pop()
            if node[0] == "leaf":
                parent[i] = values[node[1]]
            elif built is None:
                built = [None] * len(node[3])
                stack.append((node, parent, i, built))
                stack.extend((node[3][j], built, j, None) for j in reversed(range(len(built))))
            else:
                parent[i] = self._construct(node, built)
        return root[0]

    @staticmethod
    def _construct(node, items: list):
        kind, cls, keys, _ = node
        if kind == "namedtuple":
            return cls(*items)
        if kind == "dict":
            d = {} if cls is dict else cls()
            for k, v in zip(keys, items):
                d[k] = v
            return d
        return items if cls is list else cls(items)

    @staticmethod
    def _element(graph, f):
        if hasattr(f, "value") and hasattr(f, "initializer") and callable(f.value):
            f = f.value()  # a Variable fetches its value
        try:
            el = graph.as_graph_element(f)
        except (KeyError, ValueError) as e:
            raise ValueError(f"Fetch argument {f!r} cannot be interpreted as a Tensor. ({e})") from None
        except TypeError as e:
            raise TypeError(
                f"Fetch argument {f!r} has invalid type {type(f)}, must be a string, Tensor or "
                f"Operation. ({e})"
            ) from None
        if isinstance(el, fops.Tensor) and el.dtype is dtypes.variant:
            # (TensorFlow fails too: a variant has no NumPy form; its class is TensorFlow's)
            raise errors.InternalError(
                None,
                el.op,
                f"Tensor {el.name} has dtype variant (a TensorList, the value of a TensorArray), "
                "which Session.run cannot return: fetch what reads it (TensorArray.stack(), "
                "read(), size())",
            )
        return el


# the most run signatures a Session keeps (a program fetching ever new tensors starts over)
_MAX_SIGNATURES = 4096
_INTERNAL = object()  # marks the keys of _run_internal's signatures


def _flat_unflattener(mapper: _FetchMapper):
    """How a _Signature turns its fetched tensors' values into the fetch structure of
    `mapper`: None (the list of values itself), a function of that list, or False when the
    structure is nested (not a single element, nor a flat list or tuple of them)."""
    t = mapper.template
    if t[0] == "leaf":
        return operator.itemgetter(0) if isinstance(mapper.leaves[0], fops.Tensor) else _no_value
    kind, cls, _, children = t
    if kind != "seq" or cls not in (list, tuple) or any(c[0] != "leaf" for c in children):
        return False
    is_tensor = [isinstance(x, fops.Tensor) for x in mapper.leaves]
    if all(is_tensor):
        return None if cls is list else tuple

    def interleave(values):
        it = iter(values)
        out = [next(it) if x else None for x in is_tensor]
        return out if cls is list else tuple(out)

    return interleave


def _no_value(values) -> None:
    """The value of a run fetching one operation."""
    return None


class _Signature:
    """The runs of one signature: fetched tensors, targets, fed tensors (in the order the
    values come in) and how the fetch structure is rebuilt, resolved once.

    A call converts its values as `run` does, finds the plan and remembers it, with a
    runner of it (plan.runner) and the fed arrays' dtypes and shapes; a later call whose
    values are NumPy arrays of exactly those dtypes and shapes (what the plan cache would
    look up) goes straight to the runner (which sets a config's kernel thread count around
    the run). Plans specialized on fed values and runs that evaluate source ops first
    (queues, iterators, readers) take the general path each time."""

    __slots__ = (
        "__weakref__",
        "_direct",
        "_fast",
        "_runners",
        "_sess",
        "_unflatten",
        "fed",
        "targets",
        "tensors",
    )

    def __init__(self, sess: Session, tensors: list, targets: list, fed: list, unflatten):
        self._sess = sess
        self.tensors, self.targets, self.fed = tensors, targets, fed
        self._unflatten = unflatten
        needs_sources = sources.needed(tensors, targets, dict.fromkeys(fed))
        self._direct = not needs_sources
        # (dtypes and shapes fed arrays must have, runner, plan, dtypes and shapes converted
        # values must have: strings' too)
        self._fast = None
        self._runners: dict = {}  # plan -> its runner for these fed tensors

    def __call__(self, values):
        fast = self._fast
        if fast is not None:
            specs, run, p, _ = fast
            if len(specs) == 1:  # the common case, without the loop
                v = values[0]
                dt, shape = specs[0]
                hit = type(v) is np.ndarray and v.dtype is dt and v.shape == shape
            else:
                hit = True
                for v, (dt, shape) in zip(values, specs):
                    if type(v) is not np.ndarray or v.dtype is not dt or v.shape != shape:
                        hit = False
                        break
            if hit:
                p.used = True
                out = run(values)
                return out if self._unflatten is None else self._unflatten(out)
        out = self._run_converting(values)
        return out if self._unflatten is None else self._unflatten(out)

    def _run_converting(self, values) -> list:
        """The fetched values of a run whose values are first converted (and checked)."""
        sess = self._sess
        fast = self._fast
        if fast is None:
            feeds = {t: sess._feed_value(t, v) for t, v in zip(self.fed, values)}
        else:  # the arrays the last plan takes as they are need no conversion (a scalar fed beside)
            feeds = {
                t: v
                if type(v) is np.ndarray and v.dtype is dt and v.shape == shape
                else sess._feed_value(t, v)
                for t, v, (dt, shape) in zip(self.fed, values, fast[0])
            }
        if not self._direct:
            return sess._execute(self.tensors, self.targets, feeds)[1]
        converted = tuple(feeds.values())
        if fast is not None and all(
            a.dtype == dt and a.shape == shape for a, (dt, shape) in zip(converted, fast[3])
        ):  # converted values (Python scalars, lists, strings) for the last plan
            fast[2].used = True
            return fast[1](converted)
        p = sess._plan_for(self.tensors, self.targets, feeds)
        run = self._runners.get(p)
        if run is None:
            run = sess._runner(p, self.fed)
            if len(self._runners) >= 8:
                self._runners.clear()
            self._runners[p] = run
        if p.value_feeds:
            self._fast = None
        else:
            # strings are converted each run (an object array may hold str, not bytes)
            specs = tuple(
                (None if t.dtype is dtypes.string else a.dtype, a.shape) for t, a in zip(self.fed, converted)
            )
            self._fast = (specs, run, p, tuple((a.dtype, a.shape) for a in converted))
        return run(converted)

    def forget(self, plan) -> None:
        """Drop the runner of `plan` (evicted), or of every plan (None: the session closed)."""
        fast = self._fast
        if plan is None:
            self._runners = {}
            self._fast = None
            return
        self._runners.pop(plan, None)
        if fast is not None and fast[2] is plan:
            self._fast = None


class Session:
    """Runs operations and evaluates tensors of a graph (TF1's tf.Session).

    Each distinct run signature (fetches, fed tensors, their shapes and dtypes) gets a
    plan, cached for the next run; `config.plan_cache_size` (ConfigProto, staticflow's
    own field) bounds how many are kept, least recently used evicted first (default
    DEFAULT_PLAN_CACHE_SIZE, 64). `plans_built`, `plans_cached` and `plans_evicted`
    count them.
    """

    def __init__(self, target: str = "", graph: fops.Graph | None = None, config=None, executor: str = "c"):
        if target:
            raise ValueError(f"staticflow runs in-process; target {target!r} is not supported")
        self._config = _message(config, "ConfigProto", "config")
        from staticflow import passes

        self._pass_options = passes.options_from_config(self._config)
        self._graph = graph if graph is not None else fops.get_default_graph()
        self._closed = False
        size = self._config.plan_cache_size if self._config is not None else 0
        if size < 0:
            raise ValueError(f"ConfigProto.plan_cache_size must be at least 0 (0: the default), got {size}")
        self.plan_cache_size = size or DEFAULT_PLAN_CACHE_SIZE
        # signature -> its plans (several when a plan depends on fed values), least recently
        # used first; at most plan_cache_size plans in all
        self._plans: OrderedDict = OrderedDict()
        self._plan_count = 0
        self._plans_lock = threading.Lock()
        self.plans_evicted = 0
        self._variables = VariableStore(self._graph)
        self._pass_options.variable_devices = self._variables.homes
        self._variables.on_move = self._drop_plans
        self._executor_mode = executor
        self._inter_op = _inter_op_threads(self._config)
        # runs do not take this lock (each plan has its own, so that a run blocked in a queue
        # never stops another); it guards direct reads and writes of variable storage
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()  # one plan build at a time (storage is created then)
        self._resources = ResourceStore(self._graph, self)  # queues, iterators, readers
        self._sources: dict = {}  # run signature -> the source ops it evaluates first
        self._default_ctx = None
        self.plans_built = 0
        # run key (fetches, feed keys) -> _Signature, or False for a fetch structure runs
        # build afresh each time (nested); every live _Signature (make_callable's too), so
        # that evicting a plan or closing the session drops their runners
        self._signatures: dict = {}
        self._signature_set: weakref.WeakSet = weakref.WeakSet()
        # the config's kernel thread count, set around each run (0: the default)
        self._intra = self._config.intra_op_parallelism_threads if self._config is not None else 0

    @property
    def graph(self) -> fops.Graph:
        return self._graph

    @property
    def graph_def(self):
        return self._graph.as_graph_def()

    @property
    def sess_str(self) -> str:
        return ""

    # --- running ------------------------------------------------------------------------------
    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        """Compute `fetches` (any nesting of tensors, ops and names) given `feed_dict`.

        `options` (a RunOptions) with a trace_level above NO_TRACE times every op of
        the run into `run_metadata.step_stats` (a RunMetadata), as TensorFlow does.
        """
        if self._closed:
            raise RuntimeError("Attempted to use a closed Session.")
        if options is None and run_metadata is None:
            kind = type(fetches)
            key = (kind, *fetches) if kind is list or kind is tuple else fetches
            if feed_dict:
                key = (key, tuple(feed_dict))
            try:
                sig = self._signatures.get(key)
            except TypeError:  # an unhashable fetch structure (dicts, lists inside)
                sig = False
            if sig is None:
                sig = self._signature_of(key, fetches, feed_dict)
            if sig is not False:
                return sig(tuple(feed_dict.values()) if feed_dict else ())
        return self._run_general(fetches, feed_dict, options, run_metadata)

    def _run_general(self, fetches, feed_dict, options, run_metadata):
        """A run that walks its fetch structure and converts its feeds afresh: traced runs
        and fetch structures a _Signature does not keep."""
        options = _message(options, "RunOptions", "options")
        run_metadata = _message(run_metadata, "RunMetadata", "run_metadata")
        mapper = _FetchMapper(self._graph, fetches)
        feeds = self._convert_feeds(feed_dict)
        tensors = [x for x in mapper.leaves if isinstance(x, fops.Tensor)]
        targets = [x for x in mapper.leaves if isinstance(x, fops.Operation)]
        traced = options is not None and options.trace_level and run_metadata is not None
        trace = plan_mod.Trace() if traced else None
        p, values = self._execute(tensors, targets, feeds, trace)
        if trace is not None:
            _fill_step_stats(run_metadata, p, trace)
        it = iter(values)
        leaf_values = [next(it) if isinstance(x, fops.Tensor) else None for x in mapper.leaves]
        return mapper.build(leaf_values)

    def _signature_of(self, key, fetches, feed_dict):
        """The _Signature of a run (kept under `key`), or False when its fetch structure is
        nested (rebuilt by each run's _FetchMapper: a key compares elements by equality, so
        only a flat structure's key says the structure too)."""
        mapper = _FetchMapper(self._graph, fetches)
        fed = [self._feed_tensor(k) for k in feed_dict] if feed_dict else []
        unflatten = _flat_unflattener(mapper)
        sig = False
        if unflatten is not False and len(set(fed)) == len(fed):
            sig = self._new_signature(mapper.leaves, fed, unflatten)
        if len(self._signatures) >= _MAX_SIGNATURES:
            self._signatures.clear()
        self._signatures[key] = sig
        return sig

    def _new_signature(self, leaves, fed, unflatten) -> _Signature:
        tensors = [x for x in leaves if isinstance(x, fops.Tensor)]
        targets = [x for x in leaves if isinstance(x, fops.Operation)]
        sig = _Signature(self, tensors, targets, fed, unflatten)
        self._signature_set.add(sig)
        return sig

    def make_callable(self, fetches, feed_list=None, accept_options: bool = False):
        """A function that runs `fetches` as `run(fetches, feed_dict)` does, taking the
        feed_dict's values positionally in `feed_list` order (TF1's Session.make_callable).

        The fetches and the feed_list's tensors are resolved once, here (a fetch or feed
        that run would refuse raises the same error now); each call then costs little more
        than binding its values and running the plan. With `accept_options`, the function
        also takes `options` (a RunOptions) and `run_metadata` (a RunMetadata) keywords, as
        run does. Calling it with more or fewer values than `feed_list` holds is a
        TypeError (TensorFlow ignores extra values and misses the absent ones' feeds); a
        tensor listed twice takes the later value, as a feed_dict would.
        """
        if feed_list is not None and not isinstance(feed_list, (list, tuple)):
            raise TypeError(
                f"Argument `feed_list` must be a list or tuple. Received: feed_list={feed_list!r}"
            )
        mapper = _FetchMapper(self._graph, fetches)
        listed = [self._feed_tensor(k) for k in feed_list or ()]
        fed = list(dict.fromkeys(reversed(listed)))[::-1]  # each tensor once, at its last place
        last = {t: i for i, t in enumerate(listed)}
        pick = None if len(fed) == len(listed) else operator.itemgetter(*[last[t] for t in fed])
        unflatten = _flat_unflattener(mapper)
        sig = self._new_signature(mapper.leaves, fed, None if unflatten is False else unflatten)
        rebuild = mapper.build if unflatten is False else None
        count = len(listed)
        names = ", ".join(t.name for t in listed)

        def values_of(args):
            if self._closed:
                raise RuntimeError("Attempted to use a closed Session.")
            if len(args) != count:
                raise TypeError(
                    f"This callable of Session.make_callable takes {count} feed value(s), in feed_list "
                    f"order ({names or 'no feeds'}); it was given {len(args)}"
                )
            if pick is None:
                return args
            picked = pick(args)
            return picked if len(fed) > 1 else (picked,)

        def structured(flat):
            it = iter(flat)
            return rebuild([next(it) if isinstance(x, fops.Tensor) else None for x in mapper.leaves])

        if accept_options:

            def call_with_options(*args, options=None, run_metadata=None):
                values = values_of(args)
                if options is None and run_metadata is None:
                    out = sig(values)
                    return out if rebuild is None else structured(out)
                return self._run_general(fetches, dict(zip(fed, values)), options, run_metadata)

            return call_with_options
        if rebuild is not None:
            return lambda *args: structured(sig(values_of(args)))

        if pick is not None:
            return lambda *args: sig(values_of(args))

        def call(*args):
            if self._closed or len(args) != count:
                values_of(args)  # raises
            return sig(args)

        return call

    @property
    def _executor(self) -> str:
        """How plans run: "c" (one call into the C executor) or "python" (the same records
        walked from Python, for debugging)."""
        return self._executor_mode

    @_executor.setter
    def _executor(self, mode: str) -> None:
        # the signatures' runners were made for the old mode
        self._executor_mode = mode
        self._signatures.clear()

    def _runner(self, p, fed: list):
        """A function of the fed values (in `fed` order) that runs plan `p` (plan.runner's; a
        SplitPlan's runs its parts)."""
        if isinstance(p, plan_mod.SplitPlan):
            run = lambda values: self._run_split(p, dict(zip(fed, values)))  # noqa: E731
        else:
            run = plan_mod.runner(p, self._variables, fed, self._executor)
        if self._intra <= 0:
            return run
        # the config's kernel threads for this run: OpenMP's thread count is the calling
        # thread's own setting, so another thread's sessions keep theirs
        n, be = self._intra, backend.default()

        def run_on_threads(values):
            before = be.num_threads()
            be.set_num_threads(n)
            try:
                return run(values)
            finally:
                be.set_num_threads(before)

        return run_on_threads

    def _run_split(self, p, feeds: dict, trace=None) -> list:
        """The fetched values of a run planned as a SplitPlan: its static part runs, then the
        ops whose outputs' shapes it could not know, then the continuation, planned (or found
        in the plan cache) for the shapes they gave, fed what it reads (so nothing before it
        runs twice). The continuation may split again."""
        sp = p.split
        with p.static.lock:
            static_values = plan_mod.execute(p.static, feeds, self._variables, self._executor, trace)
        known = p.run_dynamic(feeds, static_values)
        if sp.cont_fetches or sp.cont_targets:
            cont_feeds = {t: _as_array(t, known[t]) for t in sp.cont_feeds}
            cp = self._plan_for(sp.cont_fetches, sp.cont_targets, cont_feeds, sp.done)
            if isinstance(cp, plan_mod.SplitPlan):
                values = self._run_split(cp, cont_feeds)
            else:
                with cp.lock:
                    values = plan_mod.execute(cp, cont_feeds, self._variables, self._executor)
            known.update(zip(sp.cont_fetches, values))
        n = len(sp.static_fetches)
        static = dict(zip(sp.static_fetches, static_values[:n]))
        out = []
        for t in p.fetch_tensors:
            v = static[t] if t in static else known[t]
            if t not in static and isinstance(v, np.ndarray):
                v = v[()] if v.ndim == 0 else v  # a scalar, as TF gives it
            out.append(v)
        return out

    def _plan_for(self, tensors, targets, feeds, done=None):
        # a fed list (a continuation's) is planned with what it holds: its slots' shapes
        specs = {t: list_ops.spec_of(v) for t, v in feeds.items() if t.dtype is dtypes.variant}
        key = (
            tuple(id(t) for t in tensors),
            tuple(id(o) for o in targets),
            tuple(sorted((t.name, v.shape, v.dtype.str) for t, v in feeds.items())),
            done,
            tuple(sorted((t.name, sp) for t, sp in specs.items())) if specs else None,
        )
        with self._plans_lock:
            plans = self._plans.get(key, [])
            for i, p in enumerate(plans):
                if all(np.array_equal(feeds[t], v) for t, v in p.value_feeds.items()):
                    self._plans.move_to_end(key)
                    plans.append(plans.pop(i))
                    return p
        limit = self._config.allocation_limit_bytes if self._config is not None else 0
        with self._build_lock:
            p = plan_mod.build_plan(
                self._graph,
                tensors,
                targets,
                feeds,
                self._variables,
                resources=self._resources,
                options=self._pass_options,
                allocation_limit=limit or None,
                inter_op_threads=self._inter_op,
                feed_specs={t: sp for t, sp in specs.items() if sp is not None} or None,
                done=done,
            )
        self.plans_built += 1
        if self._config is not None and self._config.log_device_placement:
            for step in p.steps:  # every user op a step stands for (a fused group: several)
                if step.node is not None and step.node.opdef is not None and step.node.opdef.transfer:
                    continue  # the copies placement's devices imply: not user ops
                for o in step.node.origin if step.node is not None and step.node.origin else (step.op,):
                    print(f"{o.name}: ({o.type}): {_device_name(step.node)}", file=sys.stderr)
        with self._plans_lock:
            self._plans.setdefault(key, []).append(p)
            self._plans.move_to_end(key)
            self._plan_count += 1
            evicted = []
            while self._plan_count > self.plan_cache_size:  # evict the least recently used
                old_key, old = next(iter(self._plans.items()))
                if old[0].used:  # reused by a runner since it was last looked up: a second chance
                    old[0].used = False
                    self._plans.move_to_end(old_key)
                    continue
                evicted.append(old.pop(0))
                if not old:
                    del self._plans[old_key]
                self._plan_count -= 1
                self.plans_evicted += 1
        for gone in evicted:  # no signature keeps an evicted plan's arena alive
            for sig in list(self._signature_set):
                sig.forget(gone)
        return p

    @property
    def plans_cached(self) -> int:
        """How many plans the session holds now (at most plan_cache_size)."""
        return self._plan_count

    def plan(self, fetches, feed_dict=None) -> plan_mod.Plan:
        """The (cached) plan `run(fetches, feed_dict)` executes, to inspect or draw."""
        mapper = _FetchMapper(self._graph, fetches)
        feeds = self._convert_feeds(feed_dict)
        tensors = [x for x in mapper.leaves if isinstance(x, fops.Tensor)]
        targets = [x for x in mapper.leaves if isinstance(x, fops.Operation)]
        return self._plan_for(tensors, targets, feeds)

    def _plan_and_execute(self, tensors, targets, feeds, trace):
        p = self._plan_for(tensors, targets, feeds)
        if isinstance(p, plan_mod.SplitPlan):
            return p, self._run_split(p, feeds, trace)
        with p.lock:  # a plan owns its arena: one run of it at a time
            return p, plan_mod.execute(p, feeds, self._variables, self._executor, trace)

    def _evaluate_sources(self, tensors, targets, feeds: dict) -> tuple[dict, list]:
        """(feeds plus the values of the source ops (dequeues, iterators, readers) the run
        needs, evaluated before it is planned (runtime/sources.py); the targets left to run,
        without the sources, which have done their work)."""
        key = (tuple(map(id, tensors)), tuple(map(id, targets)), frozenset(map(id, feeds)))
        srcs = self._sources.get(key)
        if srcs is None:
            srcs = self._sources[key] = sources.needed(tensors, targets, feeds)
        if not srcs:
            return feeds, targets
        done = set(srcs)
        return sources.evaluate(self, srcs, feeds), [op for op in targets if op not in done]

    def _run_internal(self, tensors, targets, feeds: dict) -> list:
        """A run of graph elements with feeds already converted: the nested runs of dataset
        functions and of a source's control inputs."""
        if self._closed:
            raise RuntimeError("Attempted to use a closed Session.")
        key = (_INTERNAL, tuple(tensors), tuple(targets), tuple(feeds))
        sig = self._signatures.get(key)
        if sig is None:
            if len(self._signatures) >= _MAX_SIGNATURES:
                self._signatures.clear()
            sig = self._new_signature(list(tensors) + list(targets), list(feeds), None)
            self._signatures[key] = sig
        return sig(tuple(feeds.values()))

    def _execute(self, tensors, targets, feeds: dict, trace=None):
        """(plan, fetched values) of a run whose feeds are converted: its source ops
        evaluated first, on the config's kernel thread count."""
        feeds, targets = self._evaluate_sources(tensors, targets, feeds)
        if self._intra > 0:
            with self._threads(self._intra):
                return self._plan_and_execute(tensors, targets, feeds, trace)
        return self._plan_and_execute(tensors, targets, feeds, trace)

    @staticmethod
    @contextlib.contextmanager
    def _threads(n: int):
        """n kernel threads (the config's intra_op_parallelism_threads) for one run."""
        be = backend.default()
        before = be.num_threads()
        be.set_num_threads(n)
        try:
            yield
        finally:
            be.set_num_threads(before)

    def _convert_feeds(self, feed_dict) -> dict:
        feeds: dict = {}
        for key, value in (feed_dict or {}).items():
            t = self._feed_tensor(key)
            feeds[t] = self._feed_value(t, value)
        return feeds

    def _feed_tensor(self, key) -> fops.Tensor:
        if hasattr(key, "_as_graph_element") and not isinstance(key, fops.Tensor):
            key = key._as_graph_element()
        if isinstance(key, str):
            if ":" not in key:
                raise ValueError(
                    f"Cannot interpret feed_dict key {key!r} as Tensor: The name {key!r} refers to an "
                    f"Operation, not a Tensor. Tensor names must be of the form "
                    f'"<op_name>:<output_index>".'
                )
            try:
                return self._graph.get_tensor_by_name(key)
            except (KeyError, ValueError) as e:
                raise ValueError(f"Cannot interpret feed_dict key {key!r} as Tensor: {e}") from None
        if isinstance(key, fops.Tensor):
            if key.graph is not self._graph:
                raise ValueError(
                    f"Cannot interpret feed_dict key as Tensor: Tensor {key.name} is not an element "
                    f"of this graph."
                )
            return key
        raise TypeError(
            f"Cannot interpret feed_dict key {key!r} as a Tensor (keys are Tensors or tensor names)"
        )

    @staticmethod
    def _feed_value(t: fops.Tensor, value) -> np.ndarray:
        if isinstance(value, (fops.Tensor, fops.Operation)):
            raise TypeError(
                f"The value of a feed cannot be a sf.Tensor object ({value.name} fed to {t.name}). "
                "Acceptable feed values include Python scalars, strings, lists, NumPy ndarrays."
            )
        if t.dtype is dtypes.variant:
            raise TypeError(
                f"Cannot feed a value to Tensor '{t.name}': it has dtype variant (a TensorList, "
                "made by the list ops), which has no NumPy form"
            )
        if t.dtype is dtypes.string:
            arr = strings.bytes_array(value, f"the value fed to Tensor '{t.name}' (dtype string)")
        else:
            arr = np.asarray(value)
            if t.dtype.is_integer and arr.dtype.kind in "fO":
                _check_python_ints(t, value, arr)
        want = t.dtype.np
        if arr.dtype != want:
            src_kind_ok = (
                arr.dtype.kind in "biuf"
                and np.can_cast(arr.dtype, want, casting="same_kind")
                and not (arr.dtype.kind in "iu" and t.dtype.is_integer)  # those: any_ints
            )
            python_int_to_float = arr.dtype.kind in "iu" and t.dtype.is_floating
            # bfloat16 (ml_dtypes) is no NumPy kind: floats narrow to it as to float16
            float_to_float = arr.dtype.kind == "f" and t.dtype.is_floating
            # integers (Python lists) into any integer type: every value must fit (_check_fits)
            any_ints = arr.dtype.kind in "iu" and t.dtype.is_integer
            if not (src_kind_ok or python_int_to_float or float_to_float or any_ints):
                raise TypeError(
                    f"Cannot feed value of dtype {arr.dtype} for Tensor '{t.name}', which has dtype "
                    f"{t.dtype.name} (the conversion would lose information)"
                )
            _check_fits(t, arr)
            with np.errstate(over="ignore"):
                arr = arr.astype(want)
        if not t.shape.is_compatible_with(arr.shape):
            raise ValueError(
                f"Cannot feed value of shape {arr.shape} for Tensor '{t.name}', which has shape '{t.shape}'"
            )
        return np.asarray(arr, order="C")

    # --- lifetime -----------------------------------------------------------------------------
    def _drop_plans(self) -> None:
        """Forget every plan (a variable moved between memories: their pointers are stale);
        the next runs plan again."""
        with self._plans_lock:
            self._plans.clear()
            self._plan_count = 0
        self._signatures.clear()
        for sig in list(self._signature_set):
            sig.forget(None)

    def close(self) -> None:
        self._closed = True
        self._resources.close()  # wakes runs blocked in a queue, stops background readers
        with self._plans_lock:
            self._plans.clear()
            self._plan_count = 0
        self._signatures.clear()
        for sig in list(self._signature_set):  # make_callable's functions keep theirs
            sig.forget(None)
        self._variables.free_streams()

    def __enter__(self):
        self._default_ctx = self.as_default()
        self._default_ctx.__enter__()
        return self

    def __exit__(self, *exc):
        ctx, self._default_ctx = self._default_ctx, None
        if ctx is not None:
            ctx.__exit__(*exc)
        self.close()
        return False

    @contextlib.contextmanager
    def as_default(self):
        stack = _session_stack()
        stack.append(self)
        try:
            with self._graph.as_default():
                yield self
        finally:
            stack.remove(self)

    def list_devices(self) -> list[str]:
        return list_local_devices()


def _as_array(t: fops.Tensor, value) -> np.ndarray:
    """A value a run computed (a scalar as NumPy gives it, a list object) as the array a plan
    is fed for tensor `t`."""
    if t.dtype is dtypes.variant:
        if isinstance(value, np.ndarray) and value.dtype == object and value.ndim == 0:
            return value
        arr = np.empty((), dtype=object)
        arr[()] = value
        return arr
    return np.asarray(value, dtype=None if t.dtype is dtypes.string else t.dtype.np)


def _check_python_ints(t: fops.Tensor, value, arr: np.ndarray) -> None:
    """Python ints beyond NumPy's integer types (NumPy makes them float64 or objects) fed to
    an integer placeholder: the range check of _check_fits, on the ints themselves."""
    try:
        flat = np.asarray(value, dtype=object).reshape(-1)
    except (TypeError, ValueError):
        return
    if flat.size == 0 or not all(isinstance(v, int) and not isinstance(v, bool) for v in flat):
        return
    lo, hi = min(flat), max(flat)
    if lo >= int(t.dtype.min) and hi <= int(t.dtype.max):
        return
    _check_fits(t, np.array([lo if lo < int(t.dtype.min) else hi], dtype=object), ints=True)


_FLOAT_TOPS: dict = {}  # float DType -> its largest finite value (finfo is slow to ask)


def _check_fits(t: fops.Tensor, arr: np.ndarray, ints: bool = False) -> None:
    """A fed value must be representable in the placeholder's dtype: an integer outside
    the range of an integer dtype, or a finite float beyond a float dtype's largest value,
    is an InvalidArgumentError naming the placeholder. (TensorFlow wraps or overflows to
    inf silently; staticflow refuses on purpose.)"""
    if arr.size == 0:
        return
    dt = t.dtype
    if dt.is_integer and (ints or arr.dtype.kind in "iu"):
        lo, hi = int(arr.min()), int(arr.max())
        low, top = int(dt.min), int(dt.max)
        bad = lo if lo < low else hi if hi > top else None
    elif dt.is_floating and arr.dtype.kind == "f" and arr.dtype.itemsize > dt.size:
        top = _FLOAT_TOPS.get(dt)
        if top is None:
            top = _FLOAT_TOPS[dt] = float(dt.max)
        if arr.size == 1:  # a fed scalar (a learning rate): no NumPy reductions over one value
            v = float(arr.reshape(-1)[0])
            bad = v if math.isfinite(v) and abs(v) > top else None
        else:
            finite = arr[np.isfinite(arr)]
            big = finite[np.abs(finite) > top] if finite.size else finite
            bad = big.reshape(-1)[0] if big.size else None
        low = -top
    else:
        return
    if bad is None:  # (the limits are formatted only for the error: a float's repr is slow)
        return
    limits = f"[{low}, {top}]"
    op = t.op
    from staticflow.framework import errors

    raise errors.InvalidArgumentError(
        None,
        op,
        f"Cannot feed a value of dtype {arr.dtype} to {op.type} '{op.name}' ({t.name}) of dtype "
        f"{dt.name}: it holds {bad}, outside the {dt.name} range {limits}"
        f"\n\t [[node {op.name} ({op.type}) defined at {fops.format_location(op.location)}]]",
    )


def list_local_devices() -> list[str]:
    """The devices plans can run on in this process: the CPU, and each GPU a backend serves
    (a simulated one only when it was installed to be listed)."""
    return [f"/device:{b.device_type}:{i}" for b in backend.listed() for i in range(b.device_count())]


def _device_name(node) -> str:
    """Where a plan's node runs, in TensorFlow's device naming."""
    device = node.device if node is not None else ""
    if device.startswith(backend.DEVICE_PREFIX):
        return device
    return backend.for_device(device).device_name


def _message(value, kind: str, arg: str):
    """`value` as staticflow's protobuf message `kind` (ConfigProto, RunOptions,
    RunMetadata): None stays None, ours is used as is, and TensorFlow's own message
    (same field numbers) is read through its bytes; anything else is a TypeError."""
    if value is None:
        return None
    from staticflow.protobuf import config_pb2

    cls = getattr(config_pb2, kind)
    if isinstance(value, cls):
        return value
    if type(value).__name__ == kind and hasattr(value, "SerializeToString"):
        if kind == "RunMetadata":
            return value  # written into through its bytes (_fill_step_stats)
        return cls.FromString(value.SerializeToString())
    raise TypeError(f"{arg} must be a {kind} (sf.{kind}), got {type(value).__name__}")


def _fill_step_stats(run_metadata, plan, trace) -> None:
    """Per-op wall times of a traced run: trace holds (step index, start ns, end ns, thread,
    OpenMP threads) per kernel or host call, in the plan's order; an op's entry spans its
    first call to its last, in the lane of the thread that ran its first call (thread 0: the
    calling thread, others the scheduled executor's workers), its kernel_threads the most
    OpenMP threads any of its calls had."""
    from staticflow.protobuf import config_pb2

    spans: dict[int, list[int]] = {}
    for step, t0, t1, thread, omp in trace:
        span = spans.setdefault(step, [t0, t1, thread, omp])
        span[0], span[1], span[3] = min(span[0], t0), max(span[1], t1), max(span[3], omp)
    caller = threading.get_ident() & 0x7FFFFFFF
    md = config_pb2.RunMetadata()
    dev = md.step_stats.dev_stats.add(device=plan.backend.device_name)
    st = plan.stats
    dev.memory_plan.arena_bytes = st.arena_bytes
    dev.memory_plan.intermediate_bytes = st.intermediate_bytes
    dev.memory_plan.peak_bytes = st.peak_bytes
    dev.memory_plan.in_place_outputs = st.in_place
    memory = plan_mod.step_memory(plan)
    epoch = time.time_ns() - time.perf_counter_ns()  # the trace's clock is perf_counter_ns
    for step, (t0, t1, thread, omp) in spans.items():
        t1, t0 = t1 + epoch, t0 + epoch
        node = plan.steps[step].node
        group = node.origin if node is not None and node.origin else (plan.steps[step].op,)
        # one entry per user op the step stands for; a fused group's entries share its span and
        # their labels name the group's kernel and every op in it
        fused = f" [{node.type}: {', '.join(o.name for o in group)}]" if len(group) > 1 else ""
        for k, op in enumerate(group):
            ns = _add_node_stats(dev, op, t0, t1, fused, caller + thread)
            ns.kernel_threads = omp
            if k == 0:  # the step's arena bytes, once (TensorFlow's per-node allocator record)
                total, live, peak, in_use = memory[step]
                ns.memory.add(
                    allocator_name="arena",
                    total_bytes=total,
                    peak_bytes=peak,
                    live_bytes=live,
                    allocator_bytes_in_use=in_use,
                )
    # the device's own time of each device step, one lane per device stream (TensorFlow's
    # ".../device:GPU:0/stream:N" device stats)
    lanes: dict = {}
    for device, index, step, t0, t1 in getattr(trace, "device_spans", ()):
        lane = lanes.get((device, index))
        if lane is None:
            lane = lanes[(device, index)] = md.step_stats.dev_stats.add(device=f"{device}/stream:{index}")
        node = plan.steps[step].node
        group = node.origin if node is not None and node.origin else (plan.steps[step].op,)
        fused = f" [{node.type}: {', '.join(o.name for o in group)}]" if len(group) > 1 else ""
        _add_node_stats(lane, group[0], t0 + epoch, t1 + epoch, fused, 0)
    if isinstance(run_metadata, config_pb2.RunMetadata):
        run_metadata.step_stats.CopyFrom(md.step_stats)
    else:  # TensorFlow's RunMetadata: the same wire format
        run_metadata.ClearField("step_stats")
        run_metadata.MergeFromString(md.SerializeToString())


def _add_node_stats(dev, op, t0: int, t1: int, suffix: str, thread_id: int):
    """One NodeExecStats of `op` spanning [t0, t1) (wall-clock ns), labelled with what it
    computed and the user's source line where it was made, then `suffix`; returns it."""
    inputs = ", ".join(t.name for t in op.inputs)
    where = fops.format_location(op.location)
    return dev.node_stats.add(
        node_name=op.name,
        all_start_micros=t0 // 1000,
        op_start_rel_micros=0,
        op_end_rel_micros=(t1 - t0) // 1000,
        all_end_rel_micros=(t1 - t0) // 1000,
        all_start_nanos=t0,
        op_start_rel_nanos=0,
        op_end_rel_nanos=t1 - t0,
        all_end_rel_nanos=t1 - t0,
        timeline_label=f"{op.name} = {op.type}({inputs}) @ {where}{suffix}",
        thread_id=thread_id & 0x7FFFFFFF,
    )


def _inter_op_threads(config) -> int:
    """Threads a session's plans run independent kernel calls on (the scheduled executor):
    the config's inter_op_parallelism_threads as given; 0 (the default) as many as fit in
    the processors beside the kernels' own OpenMP threads (intra_op_parallelism_threads, else
    the current count), which every call keeps so that results are the same bits as in
    order: one thread per core with one-thread kernels, in order with kernels on every core;
    below 0, as in TensorFlow, the calling thread alone."""
    inter = config.inter_op_parallelism_threads if config is not None else 0
    if inter != 0:
        return max(inter, 1)
    be = backend.default()
    intra = config.intra_op_parallelism_threads if config is not None else 0
    return max(1, be.num_procs() // max(1, intra if intra > 0 else be.num_threads()))


class InteractiveSession(Session):
    """A Session that makes itself the default on creation (for shells and notebooks)."""

    def __init__(self, target: str = "", graph: fops.Graph | None = None, config=None):
        super().__init__(target, graph, config)
        self._ctx = self.as_default()
        self._ctx.__enter__()

    def close(self) -> None:
        if getattr(self, "_ctx", None) is not None:
            ctx, self._ctx = self._ctx, None
            try:
                ctx.__exit__(None, None, None)
            except ValueError:
                pass
        super().close()


# the default-session stack lives in the framework (Tensor.eval finds it there)
_session_stack = fops._session_stack
get_default_session = fops.get_default_session
_default_session_or = fops._default_session_or
_run_with_default = fops._run_with_default
