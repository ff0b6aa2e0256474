#!/usr/bin/env bash
# The GPU checks of issue 15 as one time-boxed script: run from the repository root on a CUDA
# machine that has torch, numpy, scipy, scikit-learn, pandas, matplotlib, typer and rich.
# Everything it measures goes to $OUT (default ./gpu-check).
set -u
out=${OUT:-gpu-check}
mkdir -p "$out"
export PYTHONPATH=src PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$out/device.txt"
timeout 60 python3 - <<'PY' 2>&1 | tee "$out/eigh.txt"
import time, torch
from infoscope.estimators.tridiagonal import eigenvalues_by_bisection
dev = torch.device("cuda")
def timed(fn):
    fn(); torch.cuda.synchronize(); t0 = time.perf_counter(); fn(); torch.cuda.synchronize(); return time.perf_counter() - t0
for n, b in ((100, 2000), (32, 4000), (16, 40000)):
    for dt in (torch.float64, torch.float32):
        a = torch.randn(b, n, n, device=dev, dtype=dt); a = a @ a.transpose(1, 2) / n
        print(f"torch eigvalsh {b}x{n}x{n} {dt}: {1e3 * timed(lambda: torch.linalg.eigvalsh(a)) / b:.4f} ms per matrix", flush=True)
    a = torch.randn(b, n, n, device=dev, dtype=torch.float64); a = a @ a.transpose(1, 2) / n
    print(f"bisection      {b}x{n}x{n} float64: {1e3 * timed(lambda: eigenvalues_by_bisection(a)) / b:.4f} ms per matrix; "
          f"max |Δλ| vs eigvalsh {float((eigenvalues_by_bisection(a) - torch.linalg.eigvalsh(a)).abs().max()):.1e}", flush=True)
PY
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/test_units_batched.py -k "cuda or bisection" 2>&1 | tail -4 | tee "$out/tests.txt"
timeout 420 python3 -m benchmarks --device cuda --only vgg16-layers vgg16-fast4 vgg16-units vgg16-overhead vgg16-units64 \
  conv64-units-b100 cnn-layers vgg16-units-exact 2>&1 | tee "$out/bench.txt"
timeout 60 python3 -m infoscope.cli run mnist-cnn --epochs 1 --probe-size 200 --device cuda --out "$out/cuda-run.db" 2>&1 | tail -8 | tee "$out/run.txt"
