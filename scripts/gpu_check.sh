#!/usr/bin/env bash
# The GPU checks of issue 15 as one time-boxed script: run from the repository root on a CUDA
# machine that has torch, numpy, scipy, scikit-learn, pandas, matplotlib, typer and rich
# (Triton, where present, runs the bisection kernel). Everything measured goes to $OUT
# (default ./gpu-check). CASES overrides the benchmark cases; PROFILE=0 skips the profile.
set -u
out=${OUT:-gpu-check}
mkdir -p "$out"
export PYTHONPATH=src PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$out/device.txt"
python3 -c "import torch; print('torch', torch.__version__)" | tee -a "$out/device.txt"
timeout 100 python3 -m pytest -q -p no:cacheprovider tests/test_units_batched.py tests/test_layers_batched.py tests/test_renyi.py -k "cuda or bisection" 2>&1 | tail -4 | tee "$out/tests.txt"
if [ "${PROFILE:-1}" = 1 ]; then timeout 80 python3 scripts/gpu_profile.py > "$out/profile.txt" 2>&1; head -6 "$out/profile.txt"; fi
timeout 360 python3 -m benchmarks --device cuda --only ${CASES:-vgg16-layers vgg16-overhead vgg16-units vgg16-units-exact vgg16-fast4 vgg16-units64 cnn-layers} 2>&1 | tee "$out/bench.txt"
timeout 45 python3 -m infoscope.cli run mnist-cnn --epochs 1 --probe-size 200 --device cuda --out "$out/cuda-run.db" 2>&1 | tail -3 | tee "$out/run.txt"
