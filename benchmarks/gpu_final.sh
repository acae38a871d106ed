#!/usr/bin/env bash
# The third GPU session: the CUDA tests once more (after the stable sort and the float32
# fixture), and extremal perturbation's cells of the full suite again (its sort is stable
# since that fix, so the first session's CUDA rows used another order for ties), one
# shard per group. Set-up as in gpu.sh.
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH="$PWD/src:/tmp/site" PYTHONUNBUFFERED=1 NEUROMASK_CACHE="$PWD/.devcache"
R=/tmp/results
mkdir -p "$R"
(timeout 150 python3 -m pytest -q -p no:cacheprovider -k cuda tests/explainers/test_neuromask.py tests/explainers/test_sizes.py \
    tests/models/test_loader.py tests/bench/test_bench.py >"$R/cuda_tests.txt" 2>&1; echo "pytest exit $?" >>"$R/cuda_tests.txt") &
python3 benchmarks/full_suite_sharded.py --out "$R/extremal" --device "${DEVICE:-cuda}" --seconds "${SHARD_SECONDS:-140}" \
    --per-group --methods extremal_perturbation
wait
tail -n 4 "$R/cuda_tests.txt"
wc -l "$R/extremal/rows.jsonl"
tar czf "$OUT/results.tgz" -C /tmp --exclude=maps results
