#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU: build the CUDA kernel library
# (`make install`: the C library, then kernels/cuda/ with nvcc), then run
# tests/cuda on the GPU (every kernel family against the C kernels, the CPU build
# of the kernel bodies, the generated fused kernels through NVRTC, the library
# checks), then benchmarks/bench_gpu.py (copy bandwidth, the fused chains' GB/s,
# the 4096^2 matmul and the MLP step against PyTorch where installed) and print the
# results. Exits non-zero when the build fails, a test fails, or no GPU is usable
# (the GPU tests would skip). BENCH=0 leaves the benchmarks out.
#
#   benchmarks/gpu_check.sh            # from the repository root
#   PYTEST_ARGS="-x" benchmarks/gpu_check.sh
set -u
cd "$(dirname "$0")/.."
PY=.venv/bin/python

echo "== GPU"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 || echo "nvidia-smi: not available"
echo "== nvcc"
nvcc --version 2>&1 | tail -n 2 || echo "nvcc: not found"

echo "== build"
start=$(date +%s)
log=$(mktemp)
make install >"$log" 2>&1 || { tail -n 40 "$log"; echo "build failed"; exit 1; }
grep "CUDA kernels" "$log"
echo "make install: $(( $(date +%s) - start )) s"

echo "== device"
$PY -c "from staticflow.backends import cuda; r = cuda.unavailable_reason(); print('CUDA usable' if r is None else 'CUDA not usable: ' + r); raise SystemExit(0 if r is None else 3)" || exit 3

echo "== cuBLAS / cuDNN (matmul and conv kernels; pip install nvidia-cublas-cu12 nvidia-cudnn-cu12)"
$PY -c "
import ctypes.util
from staticflow.backends import cuda
dirs = cuda.nvidia_library_dirs()
print('wheel library dirs:', [str(d) for d in dirs] or 'none')
for lib in ('cublas', 'cudnn'):
    found = any(any(d.glob(f'lib{lib}.so*')) for d in dirs) or ctypes.util.find_library(lib)
    print(lib, 'found' if found else 'NOT found: its kernels will fail with the install message')
"

echo "== tests/cuda"
$PY -m pytest -q -rs -p no:cacheprovider ${PYTEST_ARGS:-} tests/cuda
status=$?

if [ "${BENCH:-1}" != 0 ]; then
    echo "== benchmarks/bench_gpu.py"
    $PY benchmarks/bench_gpu.py ${BENCH_ARGS:-}
fi
exit $status
