"""KDE (Kolchinsky & Tracey) bounds against analytic mixtures."""

from __future__ import annotations

import numpy as np
import pytest

import infoscope
from infoscope import KDE
from infoscope.estimators.kde import kde_differential_entropy

from .conftest import gaussian_pair


def test_two_components_analytic():
    # two points at distance d: upper bound = -log2(0.5 (1 + exp(-d^2 / (2 s^2))))
    d, s2 = 0.7, 0.1
    t = np.array([[0.0], [d]])
    expected_upper = -np.log2(0.5 * (1 + np.exp(-(d**2) / (2 * s2))))
    expected_lower = -np.log2(0.5 * (1 + np.exp(-(d**2) / (8 * s2))))
    assert infoscope.entropy(t, method="kde", noise_variance=s2) == pytest.approx(expected_upper, abs=1e-12)
    assert infoscope.entropy(t, method="kde", noise_variance=s2, bound="lower") == pytest.approx(expected_lower, abs=1e-12)


def test_bounds_sandwich_the_true_gaussian_entropy(rng):
    # samples of N(0, 1) plus N(0, 0.1) noise: the mixture is close to N(0, 1.1)
    x = rng.normal(size=(2000, 1))
    truth = 0.5 * np.log2(2 * np.pi * np.e * 1.1)
    assert kde_differential_entropy(x, 0.1, "lower") <= truth <= kde_differential_entropy(x, 0.1, "upper")


def test_separated_clusters_give_label_entropy(rng):
    y = rng.integers(0, 4, 400)
    t = np.eye(4)[y] * 50 + 0.01 * rng.normal(size=(400, 4))
    h_y = -(np.bincount(y) / 400 * np.log2(np.bincount(y) / 400)).sum()
    for bound in ("upper", "lower"):
        assert infoscope.mutual_information(t, y, method="kde", bound=bound) == pytest.approx(h_y, abs=1e-6)


def test_upper_at_least_lower(rng):
    t = rng.normal(size=(300, 3))
    assert KDE(bound="upper").entropy(t) >= KDE(bound="lower").entropy(t)
    assert 0 <= KDE(bound="lower").entropy(t) <= np.log2(300)


def test_more_noise_less_information(rng):
    t = rng.normal(size=(300, 2))
    values = [infoscope.entropy(t, method="kde", noise_variance=v) for v in (1e-5, 1e-2, 1e-1, 1.0, 10.0)]
    assert all(a > b for a, b in zip(values, values[1:]))
    assert values[0] == pytest.approx(np.log2(300), abs=0.05)  # tiny noise: injective layer saturates


def test_gaussian_independence_is_small_and_dependence_is_seen():
    x, y = gaussian_pair(0.0, 2000, seed=1)
    assert abs(infoscope.mutual_information(x, y, method="kde")) < 0.05
    x, y = gaussian_pair(0.9, 1000, seed=1)
    assert infoscope.mutual_information(x, y, method="kde") > 0.5


def test_constant_and_noise_validation():
    assert infoscope.entropy(np.ones((10, 2)), method="kde") == 0.0
    with pytest.raises(ValueError, match="noise_variance"):
        KDE(noise_variance=0)
    with pytest.raises(ValueError, match="bound"):
        KDE(bound="middle")
