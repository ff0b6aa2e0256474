"""Binning estimator against exact discrete answers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import entropy as scipy_entropy

import infoscope
from infoscope import Binning
from infoscope.estimators.binning import bin_codes


def test_independent_labels_give_exactly_zero():
    # every pattern appears equally often with every label: exact independence
    patterns = np.array(list(itertools.product([0.0, 1.0], repeat=3)))
    t = np.repeat(patterns, 4, axis=0)
    y = np.tile(np.arange(4), len(patterns))
    assert infoscope.mutual_information(t, y, method="binning", n_bins=2) == 0.0


def test_one_to_one_code_of_labels_gives_label_entropy(rng):
    y = rng.choice(5, size=1000, p=[0.4, 0.3, 0.15, 0.1, 0.05])
    codes = np.array([[-0.9, 0.1], [0.5, 0.5], [0.9, -0.9], [0.0, 0.9], [-0.5, -0.5]])
    t = codes[y]
    h_y = scipy_entropy(np.bincount(y), base=2)
    value = infoscope.mutual_information(t, y, method="binning", n_bins=30, value_range=(-1, 1))
    assert value == pytest.approx(h_y, abs=1e-12)
    assert infoscope.entropy(t, method="binning") == pytest.approx(h_y, abs=1e-12)


@pytest.mark.parametrize("bits", [1, 4, 12])
def test_uniform_patterns_give_log2_patterns(bits):
    patterns = np.array(list(itertools.product([0.0, 1.0], repeat=bits)))
    assert infoscope.entropy(patterns, method="binning", n_bins=2) == pytest.approx(bits, abs=1e-12)


def test_mi_with_itself_is_entropy_and_symmetric(rng):
    x = rng.normal(size=(500, 2))
    y = x[:, :1] + 0.5 * rng.normal(size=(500, 1))
    est = Binning(n_bins=8)
    assert est.mutual_information(x, x) == pytest.approx(est.entropy(x), abs=1e-12)
    assert est.mutual_information(x, y) == pytest.approx(est.mutual_information(y, x), abs=1e-12)


def test_data_processing_inequality_under_coarser_binning(rng):
    # T2 = a deterministic function of the binned T1 cannot carry more label information
    y = rng.integers(0, 4, 2000)
    t = y[:, None] + rng.normal(size=(2000, 1))
    fine = infoscope.mutual_information(t, y, method="binning", n_bins=40)
    codes, _ = bin_codes(t, 40)
    coarse = infoscope.mutual_information(codes // 4, y, method="binning", n_bins=10)
    assert coarse <= fine + 1e-12


def test_entropy_bounds(rng):
    x = rng.normal(size=(300, 3))
    h = infoscope.entropy(x, method="binning", n_bins=30)
    assert 0 <= h <= np.log2(300) + 1e-12


def test_tanh_range_and_upper_edge():
    x = np.array([[-1.0], [1.0], [0.999]])
    codes, used = bin_codes(x, 30, (-1, 1))
    assert used == (-1.0, 1.0)
    assert codes.ravel().tolist() == [0, 29, 29]


def test_values_outside_range_are_an_error_not_a_clip():
    with pytest.raises(ValueError, match="outside value_range"):
        infoscope.entropy(np.array([[0.0], [2.0]]), method="binning", value_range=(-1, 1))


def test_range_reported(rng):
    x = rng.uniform(-0.5, 0.25, size=(100, 2))
    res = Binning().estimate_mutual_information(x, rng.integers(0, 2, 100))
    assert res.params["value_range_x"] == (float(x.min()), float(x.max()))
    assert res.params["value_range_y"] is None


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_bin_counts(bad):
    with pytest.raises(ValueError, match="n_bins"):
        Binning(n_bins=bad)


def test_constant_input_zero_entropy():
    assert infoscope.entropy(np.full((20, 3), 0.7), method="binning") == 0.0
