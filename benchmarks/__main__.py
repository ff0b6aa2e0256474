"""``python -m benchmarks [--quick] [--full] [--vgg] [--device DEV] [--only CASE ...]``: print the benchmark table.

Cases (N is the probe size; "ours" runs on --device, default cuda when available, else cpu):
  cnn-layers        all layers of mnist-cnn, one epoch's measurement, Silverman σ, N=1000
  cnn-layers-align  the same with σ by kernel alignment with the labels (Wickstrøm et al.)
  cnn-layers-b100   the same as cnn-layers estimated on chunks of 100 samples and averaged
                    (MatrixRenyi(chunk_size=100); the reference loops over the chunks)
  conv64-units      per-unit MI of a 64-channel conv layer, N=500 (ours: all units in one batched call)
  conv64-units-b100 the same at N=1000 on chunks of 100 (the reference loops over units and chunks)
  conv64-units-floor the same exact per-unit values against their eigenvalue floor: the eigenvalue
                    calls alone (S(T), S(X,T), class blocks) on matrices built before the clock
                    starts; printed as ours / floor
  conv64-units-binning  binning (30 bins) of its 64 channels' spatial means, N=1000: one batched
                    count against the plain per-unit digitize-and-count
  conv64-units-ksg  KSG of 16 of its channels' spatial means with X the pixels, N=500: distance
                    matrices (the input's once) against a k-d tree per unit and quantity
  slq-large         exact against deflated stochastic Lanczos entropy at N=10,000 (with --full)
  overhead          mnist-cnn training with and without recording at the default cadence
                    (layers every epoch, units every 5th and the last epoch): ratio of wall times
  overhead-layers   the same with whole layers only
  vgg16-layers      (with --vgg, or on a GPU) one record of the 16 layers of a VGG16 with batch norm on
                    CIFAR-size synthetic inputs, N=1000 on chunks of 100, σ by alignment: all layers in
                    one batched call on the device against layer by layer on the CPU
  vgg16-units64     per-unit MI of its first conv layer (64 units), batched against unit by unit,
                    both on the device
  vgg16-fast4       its first 4 conv layers (384 units), unit_solver="bisection" against the
                    batched eigensolver path, both on the device
  vgg16-units       all 4,224 conv units, unit_solver="bisection" (no reference: absolute time)
  vgg16-units-exact all 4,224 conv units with the eigensolver (absolute time)
  vgg16-overhead    a 50,000-sample training epoch with and without one record of the layers
  readme-overhead   the README's "Watching a network learn" example: a 64-64-32-10 MLP on digits,
                    probes of 400 (train and test), MatrixRenyi(sigma_x="alignment") and Binning,
                    units on the train probe: one training epoch against the same epoch plus one
                    record (medians of 3)
  readme-units      its 106 units on the train probe after one epoch, Rényi by alignment: the default
                    (low-rank S(T) and S(T,Y) within 0.01 bits, bounded alignment search) against
                    unit_solver="eigh" (every spectrum exact), N=400
  readme-units-plain the same default against the plain reference, unit by unit
  readme-units-floor the same default against its floor: the exact S(X,T) spectra alone, on matrices
                    built before the clock starts; printed as ours / floor
  neural-warm       the same network's 3 layers measured by NeuralMI (I(X;T), I(T;Y), InfoNCE) after a
                    second epoch: critics warm-started from the first record's (ours) against critics
                    from the Gaussian start (ref), N=1000
  contention        `infoscope run digits-mlp` idle, then beside one single-threaded busy loop with the
                    command's own thread choice (the idle cores), and with every core (--threads =
                    cores, torch's default); printed as busy / idle
  startup           `infoscope --help` against `python -c "import torch"` (medians of 3); printed as
                    help / import torch

Memory: each side runs in a fresh process; "+MB" is the peak resident memory during the timed
call above the resident memory just before it (Linux: the kernel's high-water mark, reset
before the call), and "data MB" the size of what is measured (the captured activations, or the
matrix) so that "ours +MB / data MB" is the measurement's memory relative to its input.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

from infoscope.capture import probe_activations
from infoscope.datasets import load_mnist_subset
from infoscope.estimators import MatrixRenyi
from infoscope.estimators.base import ProbeContext

from . import reference

ALPHA = 1.01
SIGMA_X = 8.0 / 2**0.5  # Wickstrøm et al.'s input σ = 8 in their exp(-d²/σ²) convention


def _status_kb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


def _peak_extra_mb(fn):
    """(result, peak resident MB above the start) of ``fn()``."""
    base = _status_kb("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the high-water mark VmHWM to the current RSS
    except OSError:
        base = None
    values = fn()
    peak = _status_kb("VmHWM")
    if base is None or peak is None:  # no procfs: fall back to the process's lifetime peak
        return values, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return values, (peak - base) / 1024


#: Where "ours" runs (set from --device in each process).
DEVICE = torch.device("cpu")


def _sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)


def run_worker(case: str, side: str, size: int) -> None:
    """In a fresh process: set the case up, then time one side and report JSON on stdout."""
    ours, ref, what, data_bytes = CASES[case](size)
    fn = ours if side == "ours" else ref
    if DEVICE.type == "cuda":
        torch.cuda.reset_peak_memory_stats(DEVICE)
    _sync()
    t0 = time.perf_counter()
    values, extra = _peak_extra_mb(fn)
    _sync()
    seconds = time.perf_counter() - t0
    if DEVICE.type == "cuda" and side == "ours":
        extra = torch.cuda.max_memory_allocated(DEVICE) / 2**20  # GPU peak, not host memory
    print(json.dumps({"seconds": seconds, "values": values, "peak_mb": extra, "data_mb": data_bytes / 2**20, "what": what}))


def measure(case: str, side: str, size: int) -> tuple[float, list[float], float, float, str]:
    """(seconds, values, peak extra MB, data MB, description) of one side of a case, in its own process."""
    out = subprocess.run([sys.executable, "-m", "benchmarks", "--device", str(DEVICE), "--worker", case, side, str(size)],
                         capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return r["seconds"], r["values"], r["peak_mb"], r["data_mb"], r["what"]


def _trained_cnn(n: int):
    from infoscope.experiments.registry import get_experiment
    from infoscope.experiments.runner import build_model

    exp = get_experiment("mnist-cnn")
    model = build_model(exp, "relu", 0)
    data = load_mnist_subset(8000, 2000)
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    for idx in torch.randperm(len(x), generator=g).split(100):  # one epoch
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    return model, x[:n], y[:n]


def case_layers(n: int, rule: str, batch: int | None = None, model_xy=None):
    model, x, y = model_xy or _trained_cnn(n)
    acts = probe_activations(model, x, "auto")
    on_device = {k: v.to(DEVICE) for k, v in acts.items()}

    def ours():
        est = MatrixRenyi(alpha=ALPHA, sigma_x=rule, sigma_input=SIGMA_X, chunk_size=batch)
        ctx = ProbeContext.build(x, y).to(DEVICE)
        return [r.value for t in on_device.values() for r in est.layer_information(t, ctx).values()]

    def ref():
        chunks = [slice(0, n)] if batch is None else [slice(a, a + batch) for a in range(0, n, batch)]
        values = []
        for t in acts.values():
            per_chunk = [reference.layer_values(x[c], t[c], y[c], ALPHA, SIGMA_X, rule) for c in chunks]
            values += [float(np.mean([p[q] for p in per_chunk])) for q in per_chunk[0]]
        return values

    what = f"{len(acts)} layers, N={n}, σ_T={rule}" + (f", chunks of {batch}" if batch else "")
    return ours, ref, what, sum(t.numel() * t.element_size() for t in acts.values())


def _conv64(n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """N MNIST images, their labels and the output of an untrained 64-channel conv block (N, 64, 14, 14)."""
    torch.manual_seed(0)
    data = load_mnist_subset(n, 10)
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    layer = torch.nn.Sequential(torch.nn.Conv2d(1, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2))
    with torch.no_grad():
        return x, y, layer(x)


def case_units(n: int, batch: int | None = None):
    x, y, t = _conv64(n)
    t_dev = t.to(DEVICE)

    def ours():
        est = MatrixRenyi(alpha=ALPHA, sigma_x="silverman", sigma_input=SIGMA_X, chunk_size=batch)
        ctx = ProbeContext.build(x, y).to(DEVICE)
        return [r.value for unit in est.units_information(t_dev, ctx, list(range(t.shape[1]))) for r in unit.values()]

    def ref():
        chunks = [slice(0, n)] if batch is None else [slice(a, a + batch) for a in range(0, n, batch)]
        values = []
        for c in range(t.shape[1]):
            per_chunk = [reference.layer_values(x[k], t[k, c], y[k], ALPHA, SIGMA_X, "silverman") for k in chunks]
            values += [float(np.mean([p[q] for p in per_chunk])) for q in per_chunk[0]]
        return values

    return ours, ref, f"64 channels of 14×14, N={n}" + (f", chunks of {batch}" if batch else ""), t.numel() * t.element_size()


def case_units_floor(n: int):
    """Exact per-unit values of the 64-channel layer against their eigenvalue floor: the
    reference side is only the eigenvalue work the exact values cannot avoid (S(T) and S(X,T)
    of every unit, the class blocks of S(T,Y)) on matrices built before the clock starts."""
    from infoscope.estimators.bandwidth import silverman_sigmas
    from infoscope.estimators.kernels import batched_squared_distances
    from infoscope.estimators.matrix_entropy import class_joint_entropies, matrix_entropies

    x, y, t = _conv64(n)
    est = MatrixRenyi(alpha=ALPHA, sigma_x="silverman", sigma_input=SIGMA_X)
    units = list(range(t.shape[1]))

    def ours():
        ctx = ProbeContext.build(x, y)
        return [r.value for unit in est.units_information(t, ctx, units) for r in unit.values()]

    pg = est.probe_grams(ProbeContext.build(x, y), torch.device("cpu"))
    flat = t.flatten(2).transpose(0, 1)  # (units, N, 196)
    sqd = batched_squared_distances(flat)
    sigma = silverman_sigmas(sqd, flat.shape[-1])
    kt = torch.exp(sqd / (-2.0 * sigma[:, None, None] ** 2))
    kxt = kt * pg.input_gram
    both = torch.cat((kt / n, kxt / torch.diagonal(kxt, dim1=1, dim2=2).sum(-1)[:, None, None]))

    def floor():
        s_t, s_xt = matrix_entropies(both, ALPHA).split(len(units))
        s_ty = class_joint_entropies(kt[:, None], pg.class_codes[None], ALPHA)[:, 0]
        return [v for u in range(len(units)) for v in (float(s_t[u]), pg.input_entropy + float(s_t[u] - s_xt[u]),
                                                      float(s_t[u]) + pg.label_entropy - float(s_ty[u]))]

    return ours, floor, f"64 channels of 14×14, N={n}, exact, against its eigenvalue floor", t.numel() * t.element_size()


def case_units_binning(n: int):
    """Binning of every unit (spatial means) of the 64-channel layer: one batched count against
    the plain per-unit digitize-and-count."""
    from infoscope import Binning

    x, y, t = _conv64(n)
    t = t.double()
    means = t.mean(dim=(2, 3))

    def ours():
        ctx = ProbeContext.build(x, y)
        return [r.value for unit in Binning(n_bins=30).units_information(t, ctx, list(range(t.shape[1])), "mean") for r in unit.values()]

    def ref():
        return [v for c in range(t.shape[1]) for v in reference.binning_unit_values(x, means[:, c], y, 30).values()]

    return ours, ref, f"binning, 64 channels (spatial means), N={n}", t.numel() * t.element_size()


def case_units_ksg(n: int):
    """KSG of 16 channels (spatial means) of the 64-channel layer, X = the MNIST pixels: distance
    matrices with the input's computed once, against the unit-by-unit k-d trees."""
    from infoscope import KSG
    from infoscope.estimators.base import Estimator

    x, y, t = _conv64(n)
    t = t.double()
    units = list(range(16))

    def ours():
        return [r.value for u in KSG().units_information(t, ProbeContext.build(x, y), units, "mean") for r in u.values()]

    def ref():
        return [r.value for u in Estimator.units_information(KSG(), t, ProbeContext.build(x, y), units, "mean") for r in u.values()]

    return ours, ref, f"KSG, 16 channels (spatial means), X 784-D, N={n}", t.numel() * t.element_size()


def _vgg16(n: int):
    """An untrained VGG16 (batch norm, eval mode) and N CIFAR-size synthetic probe samples."""
    from infoscope.experiments.models import vgg16

    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 3, 32, 32, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    return vgg16().to(DEVICE).eval(), x, y


def case_vgg16_layers(n: int):
    """Ours: all layers in one call on the device, as a record measures them (after one untimed
    call: kernels compile and the probe's Grams are built once per process); the reference is
    the same estimator layer by layer on the CPU (CPU/device agreement)."""
    model, x, y = _vgg16(n)
    acts = probe_activations(model, x.to(DEVICE), "auto", store_device=DEVICE)
    est = MatrixRenyi(alpha=ALPHA, sigma_x="alignment", sigma_input=SIGMA_X, chunk_size=100)
    prepared = ProbeContext.build(x, y)  # once per probe, as the Recorder does
    ctx = prepared.to(DEVICE)

    def ours():
        return [r.value for res in est.layers_information(list(acts.values()), ctx) for r in res.values()]

    _sync()
    t0 = time.perf_counter()
    ours()
    _sync()
    first = time.perf_counter() - t0

    def ref():
        cpu = prepared.to(torch.device("cpu"))
        return [r.value for t in acts.values() for r in est.layer_information(t.cpu(), cpu).values()]

    what = f"VGG16, {len(acts)} layers, N={n}, σ_T=alignment, chunks of 100 (ref: CPU, layer by layer; first call {first:.2f} s)"
    return ours, ref, what, sum(t.numel() * t.element_size() for t in acts.values())


def case_vgg16_units(n: int, n_layers: int | None, solver: str, reference: str | None):
    """Per-unit MI of the first ``n_layers`` conv layers (all: None) with ``solver``; the reference
    is the unit-by-unit path ("loop") or the batched eigensolver path ("eigh"), on the device."""
    from infoscope.estimators.base import Estimator

    model, x, y = _vgg16(n)
    acts = probe_activations(model, x.to(DEVICE), "auto", store_device=DEVICE)
    convs = [k for k, v in acts.items() if v.ndim == 4][:n_layers]
    n_units = sum(acts[k].shape[1] for k in convs)

    def run(how: str):
        est = MatrixRenyi(alpha=ALPHA, sigma_x="alignment", sigma_input=SIGMA_X, chunk_size=100,
                          unit_solver="bisection" if how == "bisection" else "eigh")
        ctx = ProbeContext.build(x, y).to(DEVICE)
        fn = (lambda *a: Estimator.units_information(est, *a)) if how == "loop" else est.units_information
        return [r.value for k in convs for unit in fn(acts[k], ctx, list(range(acts[k].shape[1]))) for r in unit.values()]

    data = sum(acts[k].numel() * acts[k].element_size() for k in convs)
    what = f"VGG16, {n_units} units of {len(convs)} conv layers, {solver}" + (f" (ref: {reference})" if reference else "")
    return (lambda: run(solver)), ((lambda: run(reference)) if reference else (lambda: [])), what, data


def case_slq(n: int):
    from infoscope.estimators.kernels import normalize_gram, rbf_gram, squared_distances
    from infoscope.estimators.lanczos import slq_entropy
    from infoscope.estimators.matrix_entropy import matrix_entropy

    g = torch.Generator().manual_seed(0)
    a = normalize_gram(rbf_gram(squared_distances(torch.randn(n, 10, generator=g, dtype=torch.float64)), 1.0))
    return (lambda: [slq_entropy(a, ALPHA, seed=0)]), (lambda: [matrix_entropy(a, ALPHA)]), f"N={n}, 10 probes × 20 steps, 16 deflated", a.numel() * 8


def case_overhead(epochs: int, units: bool = True):
    import tempfile

    from infoscope.experiments import run_experiment

    def with_recording_once():
        with tempfile.TemporaryDirectory() as d:
            r = run_experiment("mnist-cnn", store=f"{d}/r.db", epochs=epochs, units=units)
        return sum(r.seconds_per_epoch)

    def without_once(epochs: int = epochs):
        from infoscope.experiments.registry import get_experiment
        from infoscope.experiments.runner import _Training, build_model

        exp = get_experiment("mnist-cnn")
        data = load_mnist_subset(8000, 2000)
        tr = _Training(exp, build_model(exp, "relu", 0), 0, *(torch.from_numpy(a) for a in (data.x_train, data.y_train, data.x_test, data.y_test)), "relu")

        class NoRecorder:
            def due_within_epoch(self, epoch, step):
                return False

        t0 = time.perf_counter()
        for _ in range(epochs):
            tr.train_epoch(NoRecorder(), "epoch")
            tr.metrics()
        return time.perf_counter() - t0

    def interleaved():
        # wall times of a few seconds drift by 10-25 % here: plain and recorded runs alternate,
        # five of each, and the medians are compared
        without_once(1)  # warm-up: the first epochs of a process run slower
        plain, recorded = [], []
        for _ in range(5):
            plain.append(without_once())
            recorded.append(with_recording_once())
        return [statistics.median(plain), statistics.median(recorded)]

    return interleaved, interleaved, f"{epochs} epochs of mnist-cnn, {'default cadence' if units else 'layers only'}", 0


def case_vgg16_overhead(samples: int):
    """A training epoch of ``samples`` synthetic CIFAR-size images (batches of 100, SGD), plain and
    followed by one record of all 16 layers (N=1000, chunks of 100): medians of 5 alternating pairs, with the spread of each part."""
    from infoscope import Recorder

    model, x_probe, y_probe = _vgg16(1000)
    model.train()
    g = torch.Generator().manual_seed(1)
    x = torch.rand(samples, 3, 32, 32, generator=g).to(DEVICE)
    y = torch.randint(0, 10, (samples,), generator=g).to(DEVICE)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rec = Recorder(model, (x_probe, y_probe), store=None, units=False, max_units=None,
                   estimators=[MatrixRenyi(sigma_x="alignment", sigma_input=SIGMA_X, chunk_size=100)])

    def epoch(record: bool) -> tuple[float, float]:
        """(training seconds, recording seconds) of one epoch."""
        _sync()
        t0 = time.perf_counter()
        for idx in torch.randperm(samples, device=DEVICE).split(100):
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
        _sync()
        t1 = time.perf_counter()
        if record:
            rec.measure()
            _sync()
        return t1 - t0, time.perf_counter() - t1

    def interleaved():
        epoch(False)  # warm-up
        rec.measure()  # the first record compiles kernels and builds the probe's Grams, once per process
        plain, recorded = [], []
        for _ in range(5):
            plain.append(sum(epoch(False)))
            recorded.append(epoch(True))
        totals = [sum(r) for r in recorded]
        # medians, then the spread: plain epochs, recorded epochs' training part and their records
        return [statistics.median(plain), statistics.median(totals), min(plain), max(plain),
                min(r[0] for r in recorded), max(r[0] for r in recorded), min(r[1] for r in recorded), max(r[1] for r in recorded)]

    return interleaved, interleaved, f"VGG16, {samples}-sample epoch + one record of 16 layers (5 pairs)", 0


def _readme_example(n: int):
    """The README's "Watching a network learn" network (64-64-32-10 MLP on digits, untrained), its
    optimiser, the training data and probes of ``n`` samples."""
    from infoscope.datasets import load_digits

    data = load_digits()
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    probes = {"train": (x[:n], y[:n]), "test": (torch.from_numpy(data.x_test[:n]), torch.from_numpy(data.y_test[:n]))}
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 32), torch.nn.ReLU(),
                                torch.nn.Linear(32, 10))
    return model, torch.optim.Adam(model.parameters(), lr=2e-3), x, y, probes


def _train_epoch(model, opt, x, y) -> float:
    """One epoch of minibatches of 32; its seconds."""
    t0 = time.perf_counter()
    for idx in torch.randperm(len(x)).split(32):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    return time.perf_counter() - t0


def case_readme_overhead(n: int):
    """One training epoch of the README example's network, plain and with one record."""
    from infoscope import Binning, Recorder

    model, opt, x, y, probes = _readme_example(n)

    def both():
        _train_epoch(model, opt, x, y)  # warm-up
        rec = Recorder(model, probes, estimators=[MatrixRenyi(sigma_x="alignment"), Binning(n_bins=30)], units=True,
                       unit_probes=["train"], store=None, progress="off")
        plain, recorded = [], []
        for e in range(3):
            plain.append(_train_epoch(model, opt, x, y))
            t0 = time.perf_counter()
            rec.record(epoch=e + 1)
            recorded.append(plain[-1] + time.perf_counter() - t0)
        return [statistics.median(plain), statistics.median(recorded)]

    return both, both, f"README example, N={n}, units on train", 0


def case_readme_units(n: int, against: str):
    """The README example's 106 units on its train probe after one epoch, Rényi by alignment:
    the default (low-rank S(T) and S(T,Y), bounded alignment search) against ``against``:
    "exact" (unit_solver="eigh", every spectrum exact), "plain" (the reference's loop over units)
    or "floor" (the S(X,T) spectra alone, the exact part of the default, on matrices built before
    the clock starts; the values returned are the exact ones)."""
    from infoscope.estimators.bandwidth import alignment_sigmas
    from infoscope.estimators.kernels import batched_squared_distances
    from infoscope.estimators.matrix_entropy import matrix_entropies

    model, opt, x, y, probes = _readme_example(n)
    _train_epoch(model, opt, x, y)
    xp, yp = probes["train"]
    acts = [a.double() for a in probe_activations(model, xp, "auto").values()]
    units = sum(a.shape[1] for a in acts)

    def measured(est: MatrixRenyi):
        def run():
            ctx = ProbeContext.build(xp, yp)
            return [r.value for a in acts for unit in est.units_information(a, ctx, list(range(a.shape[1]))) for r in unit.values()]
        return run

    ours = measured(MatrixRenyi(sigma_x="alignment"))
    what = f"README MLP, {units} units, N={n}: default vs {against}"
    if against == "exact":
        return ours, measured(MatrixRenyi(sigma_x="alignment", unit_solver="eigh")), what, 0
    exact = MatrixRenyi(sigma_x="alignment", unit_solver="eigh")
    pg = exact.probe_grams(ProbeContext.build(xp, yp), torch.device("cpu"))
    if against == "plain":
        def plain():
            return [v for a in acts for u in range(a.shape[1])
                    for v in reference.layer_values(xp, a[:, u:u + 1], yp, ALPHA, float(pg.input_sigma), "alignment").values()]
        return ours, plain, what, 0
    stack = torch.cat([a.T for a in acts])[:, :, None]  # (units, N, 1)
    sqd = batched_squared_distances(stack)
    sigma, _ = alignment_sigmas(sqd, pg.label_gram)
    kxt = torch.exp(sqd / (-2.0 * sigma[:, None, None] ** 2)) * pg.input_gram
    values = measured(exact)()

    def floor():
        matrix_entropies(kxt, ALPHA, "auto")
        return values

    return ours, floor, what, 0


def case_neural_warm(n: int):
    """One record of the README example's layers with the neural estimator, its critics
    started from the previous record's (ours) and from scratch (ref)."""
    from infoscope import NeuralMI, Recorder

    model, opt, x, y, _ = _readme_example(n)

    def recorder(warm: bool) -> Recorder:
        return Recorder(model, {"train": (x[:n], y[:n])}, estimators=[NeuralMI(device=DEVICE.type)], units=False,
                        warm_start=warm, store=None, progress="off")

    def second_record(rec: Recorder):
        def timed():
            return [r.value for r in rec.measure(epoch=2).rows]
        return timed

    warm, cold = recorder(True), recorder(False)
    _train_epoch(model, opt, x, y)
    warm.measure(epoch=1)  # the first record, from the Gaussian start; its critics are kept
    _train_epoch(model, opt, x, y)
    return second_record(warm), second_record(cold), f"README MLP, N={n}: neural record, warm vs cold", 0


CASES = {
    "cnn-layers": lambda n: case_layers(n, "silverman"),
    "cnn-layers-align": lambda n: case_layers(n, "alignment"),
    "cnn-layers-b100": lambda n: case_layers(n, "silverman", batch=100),
    "conv64-units": case_units,
    "conv64-units-b100": lambda n: case_units(n, batch=100),
    "conv64-units-floor": case_units_floor,
    "conv64-units-binning": case_units_binning,
    "conv64-units-ksg": case_units_ksg,
    "overhead": case_overhead,
    "overhead-layers": lambda epochs: case_overhead(epochs, units=False),
    "slq-large": case_slq,
    "vgg16-layers": case_vgg16_layers,
    "vgg16-units64": lambda n: case_vgg16_units(n, 1, "eigh", "loop"),
    "vgg16-fast4": lambda n: case_vgg16_units(n, 4, "bisection", "eigh"),
    "vgg16-units": lambda n: case_vgg16_units(n, None, "bisection", None),
    "vgg16-overhead": case_vgg16_overhead,
    "vgg16-units-exact": lambda n: case_vgg16_units(n, None, "eigh", None),
    "readme-overhead": case_readme_overhead,
    "readme-units": lambda n: case_readme_units(n, "exact"),
    "readme-units-plain": lambda n: case_readme_units(n, "plain"),
    "readme-units-floor": lambda n: case_readme_units(n, "floor"),
    "neural-warm": case_neural_warm,
    "contention": None,  # whole commands: command_cases
    "startup": None,
}
def _timed(cmd: list[str], repeat: int = 1, env: dict[str, str] | None = None) -> float:
    """Median wall seconds of a command, run ``repeat`` times (in ``env``, default this process's)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def command_cases(name: str, size: int) -> None:
    """The cases that time whole commands (start-up, a neighbour's load) and print their own row."""
    import os
    import tempfile

    cli = [sys.executable, "-m", "infoscope"]
    unset = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    if name == "startup":
        torch_s = _timed([sys.executable, "-c", "import torch"], 3)
        help_s = _timed(cli + ["--help"], 3)
        what = 'infoscope --help vs python -c "import torch"'
        print(f"{name:<17} {what:<46} {torch_s:>8.2f} {help_s:>8.2f} "
              f"{help_s / torch_s:>6.2f}×  (help / import torch)", flush=True)
        return
    with tempfile.TemporaryDirectory() as d:
        run = lambda *extra: cli + list(extra) + ["run", "digits-mlp", "--epochs", str(size), "-o", f"{d}/r{time.time_ns()}.db"]  # noqa: E731
        subprocess.run(run(), check=True, capture_output=True, env=unset)  # warm-up (file caches)
        idle = statistics.median(_timed(run(), 1, unset) for _ in range(2))  # (each run its own database)
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            time.sleep(1.0)
            loaded = statistics.median(_timed(run(), 1, unset) for _ in range(2))
            every_core = _timed(run("--threads", str(os.cpu_count() or 1)), 1, unset)
        finally:
            busy.kill()
    print(f"{name:<17} {f'digits-mlp, {size} epochs, a busy neighbour':<46} {idle:>8.2f} {loaded:>8.2f} {loaded / idle:>6.2f}×  "
          f"(busy / idle; with every core's thread beside the neighbour {every_core:.2f} s, {every_core / idle:.2f}×)", flush=True)


VGG = ("vgg16-layers", "vgg16-units64", "vgg16-fast4", "vgg16-units", "vgg16-units-exact", "vgg16-overhead")
#: Cases whose reference is the eigenvalue floor of ours: printed as ours / floor.
FLOOR = ("conv64-units-floor", "readme-units-floor")
#: Cases without a reference (absolute times).
NO_REFERENCE = ("vgg16-units", "vgg16-units-exact")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller N for a fast check")
    ap.add_argument("--full", action="store_true", help="also the N=10,000 randomized-estimator case")
    ap.add_argument("--vgg", action="store_true", help="add the VGG16 cases (default on a GPU)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="where ours runs (default: cuda if available)")
    ap.add_argument("--only", nargs="*", help="run only these cases")
    ap.add_argument("--worker", nargs=3, metavar=("CASE", "SIDE", "SIZE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    global DEVICE
    DEVICE = torch.device(args.device)
    if args.worker:
        run_worker(args.worker[0], args.worker[1], int(args.worker[2]))
        return
    sizes = {"cnn-layers": 1000, "cnn-layers-align": 1000, "cnn-layers-b100": 1000, "conv64-units": 500, "conv64-units-b100": 1000,
             "conv64-units-floor": 500, "conv64-units-binning": 1000, "conv64-units-ksg": 500, "overhead": 10, "overhead-layers": 10, "slq-large": 10_000, "vgg16-layers": 1000, "vgg16-units64": 1000,
             "vgg16-units": 1000, "vgg16-units-exact": 1000, "vgg16-fast4": 1000, "vgg16-overhead": 50_000, "readme-overhead": 400, "readme-units": 400, "readme-units-plain": 400,
             "readme-units-floor": 400, "neural-warm": 1000, "contention": 5,
             "startup": 0}
    if args.quick:
        sizes.update({"cnn-layers": 300, "cnn-layers-align": 300, "cnn-layers-b100": 300, "conv64-units": 200, "conv64-units-b100": 300,
                      "conv64-units-floor": 200, "conv64-units-binning": 300, "conv64-units-ksg": 200, "overhead": 2, "overhead-layers": 2, "vgg16-layers": 300, "vgg16-units64": 300, "vgg16-units": 300, "vgg16-units-exact": 300, "vgg16-fast4": 300,
                      "vgg16-overhead": 5_000, "readme-overhead": 200, "readme-units": 200, "readme-units-plain": 200,
                      "readme-units-floor": 200, "neural-warm": 400, "contention": 2})
    vgg = args.vgg or DEVICE.type == "cuda"
    names = [n for n in CASES if (args.only and n in args.only)
             or (not args.only and (n != "slq-large" or args.full) and (n not in VGG or vgg))]
    card = torch.cuda.get_device_name(DEVICE) if DEVICE.type == "cuda" else f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)"
    print(f"# infoscope benchmarks — ours on {DEVICE}: {card}; reference on the CPU unless said; torch {torch.__version__}"
          f"{', quick' if args.quick else ''}", flush=True)
    print(f"{'case':<17} {'what':<46} {'ref s':>8} {'ours s':>8} {'ratio':>7} {'max|Δ| bits':>11} {'max rel':>8} "
          f"{'data MB':>7} {'ref +MB':>7} {'ours +MB':>8}", flush=True)
    for name in names:
        if CASES[name] is None:
            command_cases(name, sizes[name])
            continue
        if "overhead" in name:  # one process alternates plain and recorded training
            _, (plain, recorded, *spread), _, _, what = measure(name, "ours", sizes[name])
            detail = ("; plain {:.2f}–{:.2f} s, recorded: training {:.2f}–{:.2f} s + record {:.3f}–{:.3f} s".format(*spread)
                      if spread else "")
            print(f"{name:<17} {what:<46} {plain:>8.2f} {recorded:>8.2f} {recorded / plain:>6.2f}× {'—':>11} {'—':>8} "
                  f"{'—':>7} {'—':>7} {'—':>8}  (recorded / plain training time, medians of alternating runs{detail})", flush=True)
            continue
        t_ours, v_ours, m_ours, data_mb, what = measure(name, "ours", sizes[name])
        if name in NO_REFERENCE:  # no reference: the unit-by-unit path would take minutes
            print(f"{name:<17} {what:<46} {'—':>8} {t_ours:>8.2f} {'—':>7} {'—':>11} {'—':>8} {data_mb:>7.1f} {'—':>7} {m_ours:>8.0f}", flush=True)
            continue
        t_ref, v_ref, m_ref, _, _ = measure(name, "ref", sizes[name])
        diff = float(np.max(np.abs(np.asarray(v_ours) - np.asarray(v_ref))))
        # relative to the value, for values of at least 0.01 bits (below that only the absolute error means anything)
        rel = float(np.max(np.abs(np.asarray(v_ours) - np.asarray(v_ref)) / np.maximum(np.abs(v_ref), 0.01)))
        ratio = f"{t_ours / t_ref:>6.2f}×" if name in FLOOR else f"{t_ref / t_ours:>6.1f}×"
        print(f"{name:<17} {what:<46} {t_ref:>8.2f} {t_ours:>8.2f} {ratio} {diff:>11.1e} {rel:>8.1e} "
              f"{data_mb:>7.1f} {m_ref:>7.0f} {m_ours:>8.0f}{'  (ours / its eigenvalue floor)' if name in FLOOR else ''}", flush=True)


if __name__ == "__main__":
    main()
