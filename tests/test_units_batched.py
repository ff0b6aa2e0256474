"""Every unit of a layer in one batched computation equals the unit-by-unit path, on any device."""

from __future__ import annotations

import math

import pytest
import torch

from infoscope import MatrixRenyi, Recorder
from infoscope.budget import MemoryBudgetError
from infoscope.estimators.base import Estimator, ProbeContext
from infoscope.estimators.kernels import batched_squared_distances, squared_distances
from infoscope.estimators.matrix_entropy import class_joint_entropies, class_joint_entropy, matrix_entropies, matrix_entropy

QUANTITIES = ("H(T)", "I(X;T)", "I(T;Y)")


def _probe(n: int, seed: int = 0, device: str = "cpu") -> ProbeContext:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g, dtype=torch.float64)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.3).long() + (x[:, 2] > 1).long()
    return ProbeContext.build(x, y).to(device)


def _layer(n: int, conv: bool, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    shape = (n, 5, 3, 4) if conv else (n, 7)
    t = torch.randn(shape, generator=g, dtype=torch.float64)
    t[:, 2] = torch.relu(t[:, 2] - 0.5)  # a unit with ties at zero
    return t


#: What only the batched Rényi path states of a unit's value: its spectra and their error bound.
SPECTRUM_KEYS = {"spectrum", "error_bound_bits"}


def _assert_same(batched, loop, tol=1e-9):
    """Batched values equal the unit-by-unit path's to ``tol``, or to their stated error bound
    where their spectra were low-rank (the loop's are exact)."""
    assert len(batched) == len(loop)
    for b, r in zip(batched, loop):
        for q in QUANTITIES:
            bound = b[q].params.get("error_bound_bits", 0.0)
            assert b[q].value == pytest.approx(r[q].value, abs=tol + bound, rel=0), q
            assert bound <= b[q].params.get("unit_tolerance", 0.0) + 1e-12, q
            assert b[q].params.keys() - SPECTRUM_KEYS == r[q].params.keys() - SPECTRUM_KEYS
            for key in ("sigma_x", "sigma_input", "sigma_y", "n_samples", "n_chunks", "sigma_x_at_grid_edge"):
                if isinstance(r[q].params.get(key), (int, float)):
                    assert b[q].params[key] == pytest.approx(r[q].params[key], rel=1e-12), key
                elif key in r[q].params:
                    assert b[q].params[key] == r[q].params[key], key
            if "chunk_std" in r[q].params:  # each chunk's value within the tolerance where low-rank
                spread = 2 * b[q].params["unit_tolerance"] if b[q].params.get("spectrum", "exact") != "exact" else 0.0
                assert b[q].params["chunk_std"] == pytest.approx(r[q].params["chunk_std"], abs=tol + spread)


@pytest.mark.parametrize("sigma_x", ["silverman", "knn", "alignment", 0.7])
@pytest.mark.parametrize("conv, pooling", [(False, "map"), (True, "map"), (True, "mean"), (True, "max")])
@pytest.mark.parametrize("chunk_size", [None, 40])
def test_batched_units_equal_unit_by_unit(sigma_x, conv, pooling, chunk_size):
    est = MatrixRenyi(sigma_x=sigma_x, chunk_size=chunk_size)
    probe, t = _probe(130), _layer(130, conv)
    units = list(range(t.shape[1]))
    loop = Estimator.units_information(est, t, _probe(130), units, pooling)
    _assert_same(est.units_information(t, probe, units, pooling), loop)


@pytest.mark.parametrize("alpha", [1.0, 1.01, 2.0, 3.0])
@pytest.mark.parametrize("sigma_y", [None, 1.0])  # class blocks, or the full label Gram
def test_batched_units_every_alpha_and_label_kernel(alpha, sigma_y):
    est = MatrixRenyi(alpha=alpha, sigma_y=sigma_y, chunk_size=50)
    t = _layer(120, conv=True)
    loop = Estimator.units_information(est, t, _probe(120), [0, 2, 4], "map")
    _assert_same(est.units_information(t, _probe(120), [0, 2, 4], "map"), loop)


def test_batched_spectra_match_single_matrices():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, 30, 5, generator=g, dtype=torch.float64)
    d = batched_squared_distances(x)
    for i in range(4):
        assert torch.allclose(d[i], squared_distances(x[i]), rtol=0, atol=1e-12)
    k = torch.exp(-d / 4.0)
    a = k / 30
    codes = torch.arange(30) % 4
    for alpha in (1.01, 2.0):
        whole = matrix_entropies(a, alpha)
        blocks = class_joint_entropies(k[:, None], codes[None], alpha)[:, 0]
        bisected = matrix_entropies(a, alpha, "bisection")
        for i in range(4):
            assert float(whole[i]) == pytest.approx(matrix_entropy(a[i], alpha), abs=1e-10)
            assert float(bisected[i]) == pytest.approx(matrix_entropy(a[i], alpha), abs=1e-10)
            assert float(blocks[i]) == pytest.approx(class_joint_entropy(k[i], codes, alpha), abs=1e-10)
    # identity Grams: log2 n bits; all-ones: 0 bits, for every matrix of the batch
    eye = torch.eye(16, dtype=torch.float64).expand(3, 16, 16) / 16
    assert torch.allclose(matrix_entropies(eye, 1.01), torch.full((3,), 4.0, dtype=torch.float64), atol=1e-9)
    ones = torch.ones(3, 16, 16, dtype=torch.float64) / 16
    assert torch.allclose(matrix_entropies(ones, 1.01), torch.zeros(3, dtype=torch.float64), atol=1e-9)


def test_bisection_eigenvalues_on_known_spectra():
    from infoscope.estimators.tridiagonal import eigenvalues_by_bisection

    g = torch.Generator().manual_seed(5)
    spectra = torch.stack([torch.linspace(0, 1, 40, dtype=torch.float64) ** p for p in (1, 3, 10)])  # spread, clustered near 0
    spectra[1, :20] = 0.0  # a rank-deficient matrix (20 exact zeros)
    q, _ = torch.linalg.qr(torch.randn(3, 40, 40, generator=g, dtype=torch.float64))
    a = q @ torch.diag_embed(spectra) @ q.transpose(1, 2)
    got = eigenvalues_by_bisection(a)
    assert torch.allclose(got, torch.sort(spectra, dim=1).values, rtol=0, atol=2e-15 * 40)
    # the identity / n and all-ones / n: log2 n and 0 bits by either solver
    eye = torch.eye(16, dtype=torch.float64).expand(2, 16, 16) / 16
    assert torch.allclose(matrix_entropies(eye, 1.01, "bisection"), torch.full((2,), 4.0, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(matrix_entropies(torch.ones(2, 16, 16, dtype=torch.float64) / 16, 1.01, "bisection"),
                          torch.zeros(2, dtype=torch.float64), atol=1e-12)


@pytest.mark.parametrize("sigma_y", [None, 1.0])
def test_units_by_bisection_equal_the_eigensolver(sigma_y):
    t = _layer(200, conv=True)
    exact = MatrixRenyi(sigma_x="alignment", sigma_y=sigma_y, chunk_size=100, unit_solver="eigh").units_information(
        t, _probe(200), list(range(5)))
    fast = MatrixRenyi(sigma_x="alignment", sigma_y=sigma_y, chunk_size=100, unit_solver="bisection")
    got = fast.units_information(t, _probe(200), list(range(5)))
    for b, r in zip(got, exact):
        for q in QUANTITIES:
            assert b[q].value == pytest.approx(r[q].value, abs=1e-9)


def test_memory_splitting_gives_the_same_numbers_and_too_big_is_refused():
    est = MatrixRenyi(sigma_x="alignment", chunk_size=40)
    t, units = _layer(120, conv=True), list(range(5))
    whole = est.units_information(t, _probe(120), units, "map", memory_budget=2**30)
    one = est.memory_bytes(120, 12, with_probe=False)
    split = est.units_information(t, _probe(120), units, "map", memory_budget=one)  # one unit per group
    _assert_same(split, whole, tol=1e-12)
    with pytest.raises(MemoryBudgetError, match=r"one unit needs about .* MiB \(120 samples of 12 values, chunks of 40\)"):
        est.units_information(t, _probe(120), units, "map", memory_budget=one - 1)


def test_recorder_units_equal_direct_calls():
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 36, 3))
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(90, 1, 8, 8, generator=g), torch.randint(0, 3, (90,), generator=g)
    est = MatrixRenyi(chunk_size=30)
    with Recorder(model, (x, y), layers=["1"], estimators=[est], store=None) as rec:
        rows, warnings, _ = rec.measure()
    assert not warnings
    acts = torch.relu(model[0](x)).detach()
    direct = Estimator.units_information(est, acts, ProbeContext.build(x, y), list(range(4)), "map")
    got = {(r.unit, r.quantity): r.value for r in rows if r.unit is not None}
    for u in range(4):
        for q in QUANTITIES:
            assert got[(u, q)] == pytest.approx(direct[u][q].value, abs=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_cuda_results_match_the_cpu_and_stay_on_the_device():
    est = MatrixRenyi(sigma_x="alignment", chunk_size=50)
    t = _layer(200, conv=True)
    cpu = est.units_information(t, _probe(200), list(range(5)), "map")
    gpu = est.units_information(t.cuda(), _probe(200, device="cuda"), list(range(5)), "map")
    for c, g in zip(cpu, gpu):
        for q in QUANTITIES:
            assert g[q].value == pytest.approx(c[q].value, rel=1e-6, abs=1e-9)
    ctx = _probe(200, device="cuda")
    layer = est.layer_information(t.cuda(), ctx)
    assert all(math.isfinite(r.value) for r in layer.values())
    grams = [v for v in ctx.cache.values() if isinstance(v, list)][0][0]
    assert grams.x.is_cuda  # chunk contexts, and the Grams cached on them, live on the device


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_cuda_recording_equals_the_cpu_recording():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 6, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(6 * 36, 3), torch.nn.Tanh())
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(150, 1, 8, 8, generator=g), torch.randint(0, 3, (150,), generator=g)
    from infoscope import KDE, Binning

    ests = [MatrixRenyi(sigma_x="alignment", chunk_size=50), KDE(), Binning(n_bins=8)]
    with Recorder(model, (x, y), estimators=ests, store=None) as rec:
        cpu, _, _ = rec.measure()
    with Recorder(model.cuda(), (x, y), estimators=ests, store=None) as rec:
        assert rec.device.type == "cuda"
        gpu, _, _ = rec.measure()
    assert [(r.layer, r.unit, r.quantity, r.estimator) for r in cpu] == [(r.layer, r.unit, r.quantity, r.estimator) for r in gpu]
    for c, g_ in zip(cpu, gpu):
        assert g_.value == pytest.approx(c.value, rel=1e-6, abs=1e-6), (c.layer, c.unit, c.quantity, c.estimator)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_cuda_bisection_equals_the_eigensolver():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(300, 100, 8, generator=g, dtype=torch.float64).cuda()
    a = torch.exp(-torch.cdist(x, x) ** 2 / 8) / 100
    from infoscope.estimators.tridiagonal import eigenvalues_by_bisection

    assert float((eigenvalues_by_bisection(a) - torch.linalg.eigvalsh(a)).abs().max()) < 1e-13
    t = _layer(300, conv=True).cuda()
    exact = MatrixRenyi(sigma_x="alignment", chunk_size=100, unit_solver="eigh").units_information(t, _probe(300, device="cuda"), list(range(5)))
    fast = MatrixRenyi(sigma_x="alignment", chunk_size=100, unit_solver="bisection").units_information(
        t, _probe(300, device="cuda"), list(range(5)))
    for b, r in zip(fast, exact):
        for q in QUANTITIES:
            assert b[q].value == pytest.approx(r[q].value, abs=1e-9)


@pytest.mark.parametrize("conv,pooling", [(False, "map"), (True, "mean"), (True, "max")])
def test_binning_units_batched_equal_unit_by_unit(conv, pooling):
    """Binning's batched path bins every unit with the same edges and counts the same symbols:
    values equal the unit-by-unit path to float rounding, parameters (the ranges) exactly."""
    from infoscope import Binning

    t = _layer(400, conv)
    t[:, 4] = 1.5  # a constant unit: one bin, H = 0
    probe = _probe(400)
    probe.x_ids[1] = probe.x_ids[0]  # two probe samples alike: I(X;T) is no longer H(T)
    est = Binning(n_bins=12)
    units = list(range(t.shape[1]))
    batched = est.units_information(t, probe, units, pooling)
    loop = Estimator.units_information(est, t, probe, units, pooling)
    _assert_same(batched, loop, tol=1e-12)
    assert all(b[q].params == r[q].params for b, r in zip(batched, loop) for q in QUANTITIES)
    assert batched[4]["H(T)"].value == 0.0 and batched[4]["I(T;Y)"].value == 0.0
    # a binned unit is a deterministic function of the input: I(X;T) = H(T) up to the shared pair
    assert all(abs(b["I(X;T)"].value - b["H(T)"].value) < 0.01 for b in batched)


def test_binning_units_fall_back_where_batching_does_not_apply():
    """Whole maps (several values per sample), a fixed range and Discrete go unit by unit and
    say the same things (a value outside the fixed range is refused, naming the range)."""
    from infoscope import Binning
    from infoscope.estimators.binning import Discrete

    t, probe = _layer(200, True), _probe(200)
    for est, pooling in ((Binning(n_bins=8), "map"), (Binning(n_bins=8, value_range=(-9.0, 9.0)), "mean"), (Discrete(), "mean")):
        _assert_same(est.units_information(t, probe, [0, 1, 2], pooling), Estimator.units_information(est, t, probe, [0, 1, 2], pooling))
    with pytest.raises(ValueError, match="outside value_range"):
        Binning(n_bins=8, value_range=(-0.1, 0.1)).units_information(t, probe, [0], "mean")


@pytest.mark.parametrize("conv,pooling,bound", [(False, "map", "upper"), (True, "map", "lower"), (True, "mean", "upper")])
def test_kde_units_batched_equal_unit_by_unit(conv, pooling, bound):
    """KDE's units share one distance matrix each for all three quantities and are reduced
    together; split by a small memory budget they give the same numbers."""
    from infoscope import KDE

    t = _layer(300, conv)
    t[:, 4] = 0.25  # a constant unit: no information above the noise
    probe = _probe(300)
    probe.x_ids[1] = probe.x_ids[0]
    est = KDE(noise_variance=0.2, bound=bound)
    units = list(range(t.shape[1]))
    loop = Estimator.units_information(est, t, probe, units, pooling)
    for budget in (None, 3 * 8 * 300 * 300 * 2):  # all at once, or two units at a time
        batched = est.units_information(t, probe, units, pooling, budget)
        _assert_same(batched, loop, tol=1e-10)
        assert all(b[q].params == r[q].params for b, r in zip(batched, loop) for q in QUANTITIES)
    assert batched[4]["H(T)"].value == 0.0 and batched[4]["I(T;Y)"].value == 0.0


@pytest.mark.parametrize("conv,pooling", [(False, "map"), (True, "mean")])
def test_ksg_units_from_distance_matrices_equal_unit_by_unit(conv, pooling):
    """KSG per unit from distance matrices (the input's computed once and cached on the probe)
    finds the same neighbours as a k-d tree per unit: the same values, bit for bit."""
    from infoscope import KSG

    t = _layer(250, conv)
    t[:, 4] = 0.5  # a constant unit: a point mass, 0 bits everywhere
    probe = _probe(250)
    est = KSG(k=4)
    units = list(range(t.shape[1]))
    loop = Estimator.units_information(est, t, probe, units, pooling)
    batched = est.units_information(t, probe, units, pooling)
    assert [b[q].value for b in batched for q in QUANTITIES] == [r[q].value for r in loop for q in QUANTITIES]
    assert all(b[q].params == r[q].params for b, r in zip(batched, loop) for q in QUANTITIES)
    assert batched[4]["H(T)"].value == 0.0 and batched[4]["I(X;T)"].value == 0.0
    assert any(key[0] == "ksg input distances" for key in probe.cache if isinstance(key, tuple))
    again = est.units_information(t, probe, units[:2], pooling)  # from the cached input distances
    assert [a[q].value for a in again for q in QUANTITIES] == [r[q].value for r in loop[:2] for q in QUANTITIES]


def test_ksg_units_fall_back_for_whole_maps_and_refuse_too_few_samples():
    from infoscope import KSG

    t, probe = _layer(60, True), _probe(60)
    _assert_same(KSG().units_information(t, probe, [0, 1], "map"), Estimator.units_information(KSG(), t, probe, [0, 1], "map"))
    with pytest.raises(ValueError, match="k=80 needs more than k samples"):
        KSG(k=80).units_information(t, probe, [0], "mean")
