"""Low-rank S(T) and S(T,Y) of units: each value within its stated bound of the exact spectra's.

Ground truths: Grams of k coincident clusters have rank k and entropy log2 k exactly; exact
spectra (LAPACK) of the same Grams; the class-block joint entropy of the exact path.
"""

from __future__ import annotations

import math

import pytest
import torch

from infoscope import MatrixRenyi
from infoscope.estimators.base import ProbeContext
from infoscope.estimators.kernels import batched_squared_distances
from infoscope.estimators.low_rank_entropy import LowRankEntropies, low_rank_entropies, pivoted_cholesky, residual_for_bound
from infoscope.estimators.matrix_entropy import class_blocks, class_joint_entropies, matrix_entropies

QUANTITIES = ("H(T)", "I(X;T)", "I(T;Y)")


def _unit_grams(m: int, n: int, seed: int = 0) -> torch.Tensor:
    """RBF Grams of M neurons: Gaussian, ReLU (ties at 0), bimodal and heavy-tailed values."""
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(m, n, generator=g, dtype=torch.float64)
    v[1::4] = torch.relu(v[1::4])
    v[2::4] = torch.where(v[2::4] > 0, 3.0, -3.0) + 0.3 * v[2::4]
    v[3::4] = v[3::4] ** 3
    sqd = batched_squared_distances(v[:, :, None])
    sigma = torch.sqrt(sqd.mean(dim=(1, 2))) / 3
    return torch.exp(sqd / (-2 * sigma[:, None, None] ** 2))


def test_the_factor_and_its_residual():
    k = _unit_grams(4, 60)
    factors, left = pivoted_cholesky(k, torch.full((4,), 1e-3, dtype=torch.float64), 60)
    residual = k - factors.transpose(1, 2) @ factors
    assert torch.allclose(torch.diagonal(residual, dim1=1, dim2=2).sum(-1), left, atol=1e-10)
    assert bool((left <= 1e-3).all())
    assert float(torch.linalg.eigvalsh(residual).min()) > -1e-10  # positive semi-definite: Ã ≼ A


@pytest.mark.parametrize("k", [1, 3, 7])
def test_coincident_clusters_have_rank_k_and_entropy_log2_k(k):
    n = 14 * k
    values = torch.arange(n, dtype=torch.float64) % k * 100.0  # k clusters of 14 identical samples, far apart
    sqd = batched_squared_distances(values[None, :, None])
    entropy, error, rank, done = low_rank_entropies(torch.exp(-sqd / 2), 1.01, 0.01, n)
    assert int(rank[0]) == k and bool(done[0])
    assert float(entropy[0]) == pytest.approx(math.log2(k), abs=1e-9) and float(error[0]) < 1e-9


@pytest.mark.parametrize("alpha", [1.0, 1.01, 1.5])
def test_entropies_are_within_their_bounds_of_the_exact_spectra(alpha):
    k = _unit_grams(12, 150, seed=int(alpha * 100))
    n = k.shape[-1]
    lr = LowRankEntropies(k, alpha, 0.01, n // 2)
    entropy, error = lr.entropies()
    exact = matrix_entropies(k / n, alpha)
    assert bool(lr.done.all())
    assert bool(((entropy - exact).abs() <= error + 1e-12).all())
    assert float(error.max()) <= 0.01 and int(lr.rank.max()) < n // 2
    codes = torch.arange(n) % 3
    index, valid, _ = class_blocks(codes[None])
    joint, joint_error = lr.class_joint_entropies(index, valid)
    exact_joint = class_joint_entropies(k[:, None], codes[None], alpha)[:, 0]
    assert bool(((joint - exact_joint).abs() <= joint_error + 1e-12).all())
    assert float(joint_error.max()) <= 0.01


def test_the_stopping_residual_gives_the_bound():
    for alpha in (1.0, 1.01, 2.5):
        delta = residual_for_bound(0.01, alpha, 400)
        assert delta > 0
    assert residual_for_bound(0.01, 0.5, 400) == 0.0  # α < 1: no bound of this kind
    assert residual_for_bound(0.0, 1.01, 400) == 0.0


def _probe_and_layer(n: int = 240):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(n, 5, generator=g, dtype=torch.float64)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    w = torch.randn(5, 9, generator=g, dtype=torch.float64)
    t = torch.relu(x @ w)
    t[:, 4] = 0.0  # a dead unit: one point, 0 bits, exactly
    return ProbeContext.build(x, y), t


@pytest.mark.parametrize("sigma_x", ["alignment", "silverman"])
def test_default_unit_values_are_within_their_stated_bounds_of_the_exact_path(sigma_x):
    ctx, t = _probe_and_layer()
    units = list(range(t.shape[1]))
    fast = MatrixRenyi(sigma_x=sigma_x).units_information(t, ctx, units)
    exact = MatrixRenyi(sigma_x=sigma_x, unit_solver="eigh").units_information(t, ctx, units)
    for f, e in zip(fast, exact):
        for q in QUANTITIES:
            bound = f[q].params["error_bound_bits"]
            assert f[q].params["spectrum"] == "low-rank" and e[q].params["spectrum"] == "exact"
            assert 0.0 <= bound <= 0.01 and e[q].params["error_bound_bits"] == 0.0
            assert abs(f[q].value - e[q].value) <= bound + 1e-9, q
            assert f[q].params["sigma_x"] == e[q].params["sigma_x"]  # the same σ either way
    assert all(fast[4][q].value == 0.0 and fast[4][q].params["error_bound_bits"] == 0.0 for q in QUANTITIES)


def test_exact_spectra_where_no_bound_applies():
    """α < 1, a tolerance of 0, and a Gram that needs a rank above N/4 get exact spectra, and say so."""
    ctx, t = _probe_and_layer(120)
    units = list(range(t.shape[1]))
    exact = MatrixRenyi(unit_solver="eigh", alpha=0.7).units_information(t, ctx, units)
    for est in (MatrixRenyi(alpha=0.7), MatrixRenyi(unit_tolerance=0.0)):
        got = est.units_information(t, ctx, units)
        assert all(u[q].params["spectrum"] == "exact" and u[q].params["error_bound_bits"] == 0.0 for u in got for q in QUANTITIES)
    got = MatrixRenyi(alpha=0.7).units_information(t, ctx, units)
    assert all(abs(a[q].value - b[q].value) < 1e-9 for a, b in zip(got, exact) for q in QUANTITIES)
    spread = MatrixRenyi(sigma_x=1e-3).units_information(t, ctx, [0, 1])  # σ far below the spacing: K ≈ I, full rank
    assert all(u[q].params["spectrum"] == "exact" for u in spread for q in QUANTITIES)
    reference = MatrixRenyi(sigma_x=1e-3, unit_solver="eigh").units_information(t, ctx, [0, 1])
    assert all(abs(a[q].value - b[q].value) < 1e-9 for a, b in zip(spread, reference) for q in QUANTITIES)


def test_a_tolerance_out_of_range_is_refused():
    for bad in (-0.01, 2.0):
        with pytest.raises(ValueError, match="unit_tolerance"):
            MatrixRenyi(unit_tolerance=bad)
