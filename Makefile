# staticflow: set-up, tests, demo and benchmarks.
#
#   make demo     set everything up, then run examples/demo.py and the training examples
#   make test     set everything up, then run the tests (slow ones left out),
#                 the TensorFlow parity suite included (its oracle lives in .venv-tf), then
#                 the ASAN_CI_TESTS again on the AddressSanitizer build of the kernels
#   make install  the set-up step alone: .venv, an editable install of
#                 staticflow with its test tools, graphviz's `dot`
#   make asan     build the kernels with AddressSanitizer (build/asan/, beside the
#                 normal build) and run ASAN_TESTS (default: the whole suite) on them
#   make lint     ruff
#   make bench    benchmarks/
#   make crash-test  kill -9 during checkpoint saves (200 per scenario) and 200 rounds of
#                 concurrent saves; prints the counts (tests/train/crash_harness.py)
#   make fuzz     the long fuzz run: FUZZ_CASES mutated GraphDefs, meta graphs, checkpoints,
#                 feeds and CLI inputs from seed FUZZ_SEED, on FUZZ_WORKERS processes; prints
#                 the counts per outcome class and input kind (tests/fuzz/fuzz_run.py)
#
# The set-up is idempotent: the editable install is redone only when its
# inputs (setup files, proto/, kernels/) changed since the last one.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.staticflow-installed
PYTEST_ARGS ?= -n 2

# Everything the editable install is built from: a change re-runs it, which
# regenerates the protobuf modules and rebuilds the C library.
# (The .cu sources are not among them: the CUDA library has its own incremental build below.)
SETUP_INPUTS := setup.py pyproject.toml staticflow/backends/_build_cpu.py staticflow/ops/scalar_table.py \
	$(shell find proto kernels -type f \( -name '*.proto' -o -name '*.c' -o -name '*.h' \
	    -o -name '*.cuh' \) 2>/dev/null | sort)

# The list itself is an input too, so that removing or renaming a kernel file
# also rebuilds; the file is rewritten only when the list changes.
INPUT_LIST := $(VENV)/.staticflow-inputs

# The parity suite's oracle: TensorFlow in its own environment, rebuilt from
# scratch when its pinned requirements change. `make test` names its Python to
# pytest and makes the suite required, so a broken environment fails the run.
TF_VENV  := .venv-tf
TF_PY    := $(TF_VENV)/bin/python
TF_REQS  := tests/parity/requirements.txt
TF_STAMP := $(TF_VENV)/.requirements-installed

.PHONY: all install cuda graphviz parity-env test test-gpu test-gpu-simulated demo lint bench crash-test fuzz clean asan asan-build FORCE

all: test

install: $(STAMP) graphviz cuda

# The CUDA kernel library (kernels/cuda/), when nvcc is present: the builder compiles
# only the families whose sources or headers changed, and says so in one line
# when nvcc is missing (staticflow/backends/_build_cuda.py).
cuda: $(STAMP)
	@$(PY) staticflow/backends/_build_cuda.py

$(PY):
	$(PYTHON) -m venv $(VENV)

# The build runs inside .venv (no build isolation): faster rebuilds, and the C
# library's run-time path to OpenBLAS points into .venv. The build
# requirements are read from pyproject.toml so they are listed only there.
$(INPUT_LIST): FORCE | $(PY)
	@echo '$(SETUP_INPUTS)' | cmp -s - $@ || echo '$(SETUP_INPUTS)' > $@

$(STAMP): $(SETUP_INPUTS) $(INPUT_LIST) | $(PY)
	$(PY) -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires']))" \
		> $(VENV)/build-requirements.txt
	$(PIP) install -q -r $(VENV)/build-requirements.txt
	$(PIP) install -q --no-build-isolation -e '.[test,examples]'
	touch $@

# graphviz's `dot` renders graphs; without it the drawing tests skip.
graphviz:
	@if command -v dot >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing graphviz (apt-get)"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null) \
		|| echo "warning: could not install graphviz; drawing tests will be skipped" >&2; \
	else \
		echo "note: graphviz's 'dot' is missing; install the graphviz system package" \
		     "(e.g. 'sudo apt-get install graphviz') to draw graphs. Drawing tests will be skipped." >&2; \
	fi

parity-env: $(TF_STAMP)

$(TF_STAMP): $(TF_REQS)
	rm -rf $(TF_VENV)
	$(PYTHON) -m venv $(TF_VENV)
	$(TF_VENV)/bin/python -m pip install -q -r $(TF_REQS)
	TF_CPP_MIN_LOG_LEVEL=3 $(TF_PY) -c "import tensorflow.compat.v1"
	cp $(TF_REQS) $@

# pytest exits 5 when it collected no test: that is a failure here. After the
# normal suite, the tests in ASAN_CI_TESTS run again on the AddressSanitizer build.
test: install parity-env
	@STATICFLOW_PARITY_PYTHON="$(abspath $(TF_PY))" STATICFLOW_PARITY_REQUIRED=1 \
	$(PY) -m pytest -q $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; \
	if [ $$rc -ne 0 ]; then exit $$rc; fi
	@$(MAKE) --no-print-directory asan ASAN_TESTS="$(ASAN_CI_TESTS)"

# The op tests on the GPU, each op placed on /gpu:0 with soft placement off where the GPU has
# its kernels (tests/ondevice.py), compared with the CPU's references, then the MLP and CNN
# examples (their ops go to the GPU by default). Without a GPU this fails with the reason:
# asked for GPU tests, a machine without one must not look like one where they passed.
# test-gpu-simulated runs the same selection on the simulated GPU (any machine).
GPU_TESTS ?= tests/ops/test_registry_ops.py tests/devices tests/cuda
test-gpu: install
	@$(PY) -c "import sys, staticflow as sf; from staticflow.backends import cuda; \
	ok = sf.test.is_gpu_available(); \
	ok or print('no GPU: ' + (cuda.unavailable_reason() or 'none listed') + '; make test-gpu needs one', file=sys.stderr); \
	sys.exit(0 if ok else 1)"
	STATICFLOW_TEST_DEVICE=gpu $(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) $(GPU_TESTS)
	$(PY) examples/mlp_digits.py
	$(PY) examples/cnn_digits.py --model lenet

test-gpu-simulated: install
	STATICFLOW_TEST_DEVICE=simulated $(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) tests/ops/test_registry_ops.py

# AddressSanitizer: a second build of the kernel library, with every load and store
# checked, in build/asan/ (the normal build is untouched). The tests load it through
# STATICFLOW_KERNEL_LIBRARY with libasan preloaded into Python (which is not built with
# ASan itself, hence detect_leaks=0: Python's own allocations would be reported).
# ASAN_CI_TESTS is what `make test` runs on it: add test paths there (the op and kernel
# tests, the hardening reproducers, and the fuzzer's un-mutated seeds).
ASAN_LIB       := build/asan/_sf_cpu.abi3.so
ASAN_TESTS     ?= tests
ASAN_CI_TESTS  ?= tests/ops tests/kernels tests/hardening tests/runtime/test_scheduler.py \
	tests/fuzz/test_fuzz.py::test_every_seed_runs_and_equals_the_reference
ASAN_OPTIONS_  := detect_leaks=0:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=0
CC             ?= cc

asan-build: $(ASAN_LIB)

$(ASAN_LIB): $(STAMP)
	$(PY) staticflow/backends/_build_cpu.py --asan

asan: install $(ASAN_LIB)
	@libasan=$$($(CC) -print-file-name=libasan.so); \
	if [ ! -e "$$libasan" ]; then echo "error: $(CC) has no libasan.so (AddressSanitizer)" >&2; exit 1; fi; \
	echo "AddressSanitizer build: $(ASAN_TESTS)"; \
	LD_PRELOAD="$$libasan" ASAN_OPTIONS="$(ASAN_OPTIONS_)" STATICFLOW_KERNEL_LIBRARY="$(CURDIR)/$(ASAN_LIB)" \
		$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) $(ASAN_TESTS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; exit $$rc

demo: install
	$(PY) examples/demo.py
	$(PY) examples/softmax_regression.py
	$(PY) examples/mlp_digits.py
	$(PY) examples/cnn_digits.py --model lenet
	$(PY) examples/cnn_digits.py --model resnet
	$(PY) examples/transformer_reverse.py
	$(PY) examples/lstm_sequences.py

lint: install
	$(PY) -m ruff check .

bench: install
	@if [ -f benchmarks/run_all.py ]; then $(PY) benchmarks/run_all.py; \
	elif ls benchmarks/*.py >/dev/null 2>&1; then \
		set -e; for f in benchmarks/*.py; do echo "== $$f"; $(PY) "$$f"; done; \
	else echo "error: no benchmarks in benchmarks/" >&2; exit 1; fi

CRASH_KILLS ?= 200
CRASH_ROUNDS ?= 200
crash-test: install
	@set -e; for s in points fixed steps; do \
		OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(PY) tests/train/crash_harness.py $$s --kills $(CRASH_KILLS); \
	done; \
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(PY) tests/train/crash_harness.py concurrent --rounds $(CRASH_ROUNDS)

FUZZ_CASES ?= 50000
FUZZ_SEED ?= 1
FUZZ_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
fuzz: install
	$(PY) tests/fuzz/fuzz_run.py --cases $(FUZZ_CASES) --seed $(FUZZ_SEED) --workers $(FUZZ_WORKERS)

clean:
	rm -rf build $(STAMP) staticflow/backends/_sf_cpu*.so staticflow/backends/_sf_cuda.so staticflow/backends/include
	find staticflow -name '*_pb2.py' -delete
