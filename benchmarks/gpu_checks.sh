#!/usr/bin/env bash
# One prepared pass over the GPU paths, for a machine with CUDA (no network needed):
#   the @gpu tests (ensemble fit on CUDA + predict on CPU, k-NN radius CUDA vs CPU,
#   bf16 causal-LM embedding, the naive BAL-PM reference on CUDA), then the GPU benchmarks.
# Usage: bash benchmarks/gpu_checks.sh [OUT_DIR]
# The logs go to OUT_DIR; the benchmarks also write their JSON results to
# docs/benchmarks/speed/<script>_cuda.json, which the documentation renders (commit them).
# Needs benchmarks/results/hh_prompt_embeddings.npy (made by bench_acquisition.py) to skip
# re-embedding the real prompts.
set -uo pipefail
out=${1:-benchmarks/results}
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, sklearn; print('torch', torch.__version__, '| scikit-learn', sklearn.__version__, '| CUDA', torch.cuda.is_available())"
nproc

echo "=== GPU tests"
python3 -m pytest -p no:cacheprovider -q -m gpu -o addopts="" \
  tests/test_ensemble.py tests/test_acquisition_scores.py tests/test_speed_results.py \
  tests/test_embedding.py::test_causal_lm_bfloat16_on_cuda 2>&1 | tee "$out/gpu_tests.txt"

echo "=== bench_ensemble (cuda)"
timeout 120 python3 benchmarks/bench_ensemble.py --device cuda 2>&1 | tee "$out/bench_ensemble_cuda.txt"

echo "=== bench_acquisition (cuda)"
timeout 300 python3 benchmarks/bench_acquisition.py --device cuda --n 20000 --n-large 100000 \
  2>&1 | tee "$out/bench_acquisition_cuda.txt"
