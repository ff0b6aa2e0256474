"""KSG and Kozachenko–Leonenko against Gaussian and mixture ground truths."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

import infoscope
from infoscope import KSG

from .conftest import gaussian_mi_bits, gaussian_pair


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.9])
def test_gaussian_pairs_within_005_bits(rho):
    # the estimator's bias, averaged over 5 independent draws of N = 2000
    values = [infoscope.mutual_information(*gaussian_pair(rho, 2000, seed), method="ksg") for seed in range(5)]
    assert np.mean(values) == pytest.approx(gaussian_mi_bits(rho), abs=0.05)
    assert max(abs(v - gaussian_mi_bits(rho)) for v in values) < 0.1
    if rho == 0.0:
        assert all(abs(v) < 0.05 for v in values)


def test_mixed_labels_against_numerical_integration():
    means, p = np.array([0.0, 1.5, 3.0]), np.array([0.5, 0.3, 0.2])

    def density(t):
        return sum(pi * stats.norm.pdf(t, m) for pi, m in zip(p, means))

    h_x = integrate.quad(lambda t: -density(t) * np.log2(density(t)), -12, 15)[0]
    truth = h_x - 0.5 * np.log2(2 * np.pi * np.e)
    values = []
    for seed in range(4):
        r = np.random.default_rng(seed)
        y = r.choice(3, size=2000, p=p)
        values.append(infoscope.mutual_information(means[y] + r.normal(size=2000), y, method="ksg"))
    assert np.mean(values) == pytest.approx(truth, abs=0.03)


def test_kozachenko_leonenko_gaussian_entropy(rng):
    x = rng.normal(size=(4000, 2)) * [1.0, 2.0]
    truth = 0.5 * np.log2((2 * np.pi * np.e) ** 2 * 4.0)
    assert infoscope.entropy(x, method="ksg") == pytest.approx(truth, abs=0.06)


def test_symmetry_and_order(rng):
    x, y = gaussian_pair(0.6, 500, seed=9)
    a = infoscope.mutual_information(x, y, method="ksg", jitter=0)
    assert infoscope.mutual_information(y, x, method="ksg", jitter=0) == pytest.approx(a, abs=1e-12)
    perm = rng.permutation(500)
    assert infoscope.mutual_information(x[perm], y[perm], method="ksg", jitter=0) == pytest.approx(a, abs=1e-12)


def test_constant_variable():
    x = np.ones(100)
    y = np.random.default_rng(0).normal(size=100)
    assert infoscope.entropy(x, method="ksg") == 0.0
    assert infoscope.mutual_information(x, y, method="ksg") == 0.0


def test_k_validation():
    with pytest.raises(ValueError, match="k"):
        KSG(k=0)
    with pytest.raises(ValueError, match="k=3 needs more than k samples"):
        infoscope.mutual_information(np.arange(3.0), np.arange(3.0), method="ksg")
