"""Where one record of a VGG16's 16 layers spends its time on a GPU (torch profiler, top operators).

Run from the repository root with the project on PYTHONPATH: ``python3 scripts/gpu_profile.py``.
"""

import time

import torch

from infoscope import MatrixRenyi, Recorder
from infoscope.experiments.models import vgg16

device = torch.device("cuda")
torch.manual_seed(0)
g = torch.Generator().manual_seed(0)
x, y = torch.rand(1000, 3, 32, 32, generator=g), torch.randint(0, 10, (1000,), generator=g)
model = vgg16().to(device).eval()
for solver in ("eigh", "bisection", "auto"):  # the record profiled below is the last: "auto"
    est = MatrixRenyi(sigma_x="alignment", sigma_input=8 / 2**0.5, chunk_size=100, unit_solver=solver)
    rec = Recorder(model, (x, y), store=None, units=False, max_units=None, estimators=[est])
    rec.measure()  # first record: probe Grams, kernel compilation
    torch.cuda.synchronize()
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        rec.measure()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    print(f"{solver}: one record of 16 layers, N=1000 in chunks of 100: {min(times):.3f} s (best of 3)", flush=True)
full = Recorder(model, (x, y), store=None, units=True, max_units=None, estimators=[est])
for attempt in ("first", "second"):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    rows = full.measure(units=True).rows
    torch.cuda.synchronize()
    print(f"auto, layers and every unit ({sum(r.unit is not None for r in rows) // 3} units), {attempt} record: "
          f"{time.perf_counter() - t0:.2f} s", flush=True)
with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]) as prof:
    rec.measure()
    torch.cuda.synchronize()
print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=25), flush=True)
print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=15), flush=True)
