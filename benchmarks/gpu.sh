#!/usr/bin/env bash
# The GPU session: what ran on the lent machine (one NVIDIA H100/H200, 16 cores, nothing
# reachable from it), from the repository root, in one call of at most 10 minutes.
#
# Set-up: gpu_setup.sh. Everything it writes is packed into $OUT/results.tgz.
#
# 1. benchmarks/speed.py on the GPU alone: NeuroMask at batch 1 and 8 against extremal
#    perturbation, 3 runs each;
# 2. then, side by side: the CUDA tests, the quality-versus-steps curve, and the full
#    benchmark suite as time-boxed shards (a shard cut short keeps its rows; the CPU
#    resumes it with `neuromask benchmark --suite full --out DIR`).
set -u
source benchmarks/gpu_setup.sh
nvidia-smi -L | tee "$R/gpu.txt"
python3 -c "import torch, neuromask; print(torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name(0), neuromask.methods(available=True))" | tee -a "$R/gpu.txt"
timeout "${SPEED_SECONDS:-150}" python3 benchmarks/speed.py --device "${DEVICE:-cuda}" --runs 3 --out "$R" 2>&1 | tail -n 12
cuda_tests 120
(timeout "${STEPS_SECONDS:-300}" python3 benchmarks/neuromask_steps.py --device "${DEVICE:-cuda}" --out "$R" >"$R/steps_log.txt" 2>&1) &
python3 benchmarks/full_suite_sharded.py --out "$R/benchmark" --device "${DEVICE:-cuda}" --seconds "${SHARD_SECONDS:-330}" --threads 1
wait
tail -n 3 "$R/cuda_tests.txt"
tail -n 2 "$R/steps_log.txt"
tar czf "$OUT/results.tgz" -C /tmp --exclude=maps results
ls -la "$OUT"
