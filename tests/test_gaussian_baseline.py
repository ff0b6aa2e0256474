"""The Gaussian baseline: exact for normal data (its bias corrected), what it is not (a bound),
the copula's invariance, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from infoscope.beyond_normal import normal_task, sample
from infoscope.estimators import Gaussian


@pytest.mark.parametrize("kind, d", [("dense", 1), ("dense", 5), ("2-pair", 25), ("dense", 50)])
def test_exact_for_normal_data(kind, d):
    task = normal_task(kind, max(d, 2), max(d, 2)) if d > 1 else normal_task(kind, 1, 1)
    x, y = sample(task, 2000, seed=5)
    nats = Gaussian().mutual_information(x, y) * math.log(2)
    assert nats == pytest.approx(task.mi_nats, abs=0.05)


def test_the_bias_correction_is_what_removes_the_high_dimensional_excess():
    task = normal_task("dense", 50, 50)  # 1.62 nats; the plain sample value is ~0.6 nats too high at N = 2000
    x, y = sample(task, 2000, seed=6)
    plain = Gaussian(bias_correction=False).mutual_information(x, y) * math.log(2)
    corrected = Gaussian().estimate_mutual_information(x, y)
    assert plain - task.mi_nats > 0.4
    assert corrected.value * math.log(2) == pytest.approx(task.mi_nats, abs=0.06)
    assert corrected.params["bias_correction_bits"] * math.log(2) == pytest.approx(50 * 50 / (2 * 2000), rel=0.1)


def test_neither_a_lower_nor_an_upper_bound():
    rng = np.random.default_rng(0)
    s = rng.choice([-1.0, 1.0], size=(5000, 1))
    x, y = s + 0.05 * rng.standard_normal((5000, 1)), s + 0.05 * rng.standard_normal((5000, 1))
    assert Gaussian().mutual_information(x, y) * math.log(2) > math.log(2) + 1.0  # I(X;Y) ≤ H(S) = log 2 nats
    x = rng.standard_normal((5000, 1))
    y = x * rng.choice([-1.0, 1.0], size=(5000, 1))  # |Y| = |X|: dependent, uncorrelated
    assert Gaussian().mutual_information(x, y) < 0.01


def test_the_copula_ignores_monotone_maps_and_is_a_lower_bound_in_one_dimension():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4000, 1))
    y = 0.7 * x + math.sqrt(1 - 0.49) * rng.standard_normal((4000, 1))
    cop = Gaussian(copula=True)
    assert cop.mutual_information(np.exp(x), y**3) == pytest.approx(cop.mutual_information(x, y), abs=1e-12)
    # the shared sign again: the copula value stays below the true MI (log 2 nats plus the noise's share)
    s = rng.choice([-1.0, 1.0], size=(5000, 1))
    x, y = s + 0.05 * rng.standard_normal((5000, 1)), s + 0.05 * rng.standard_normal((5000, 1))
    assert cop.mutual_information(x, y) * math.log(2) < math.log(2)


def test_bad_input_and_degenerate_data():
    g = Gaussian()
    with pytest.raises(ValueError, match="at least 2 are needed"):
        g.mutual_information(np.zeros((1, 2)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="NaN"):
        g.mutual_information(np.array([[0.0], [np.nan], [1.0]]), np.arange(3.0)[:, None])
    assert g.mutual_information(np.ones((50, 3)), np.random.default_rng(0).standard_normal((50, 2))) == 0.0
    with pytest.raises(ValueError, match="shrinkage"):
        Gaussian(shrinkage=2.0)
    # more dimensions than samples: shrunk, finite, and says by how much
    rng = np.random.default_rng(2)
    est = Gaussian().estimate_mutual_information(rng.standard_normal((40, 30)), rng.standard_normal((40, 30)))
    assert math.isfinite(est.value) and est.params["shrinkage"] > 0
