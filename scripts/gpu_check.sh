#!/usr/bin/env bash
# The GPU checks of issue 15 as one time-boxed script: run from the repository root on a CUDA
# machine that has torch, numpy, scipy, scikit-learn, pandas, matplotlib, typer and rich
# (Triton, where present, runs the bisection kernel). Everything measured goes to $OUT
# (default ./gpu-check). CASES overrides the benchmark cases.
set -u
out=${OUT:-gpu-check}
mkdir -p "$out"
export PYTHONPATH=src PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$out/device.txt"
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/test_units_batched.py -k "cuda or bisection" 2>&1 | tail -4 | tee "$out/tests.txt"
timeout 420 python3 -m benchmarks --device cuda --only ${CASES:-vgg16-layers vgg16-fast4 vgg16-units vgg16-overhead vgg16-units64 conv64-units-b100 cnn-layers vgg16-units-exact} 2>&1 | tee "$out/bench.txt"
timeout 60 python3 -m infoscope.cli run mnist-cnn --epochs 1 --probe-size 200 --device cuda --out "$out/cuda-run.db" 2>&1 | tail -3 | tee "$out/run.txt"
