#!/usr/bin/env bash
# The third GPU session: the CUDA tests once more (after the stable sort and the float32
# fixture), and extremal perturbation's cells of the full suite again (its sort is stable
# since that fix, so the first session's CUDA rows used another order for ties), one
# shard per group. Set-up: gpu_setup.sh.
set -u
source benchmarks/gpu_setup.sh
cuda_tests 150
python3 benchmarks/full_suite_sharded.py --out "$R/extremal" --device "${DEVICE:-cuda}" --seconds "${SHARD_SECONDS:-140}" \
    --per-group --methods extremal_perturbation
wait
tail -n 4 "$R/cuda_tests.txt"
wc -l "$R/extremal/rows.jsonl"
tar czf "$OUT/results.tgz" -C /tmp --exclude=maps results
