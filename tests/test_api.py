"""Functional API, estimator objects, and bad input at every entry."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import infoscope
from infoscope import ESTIMATORS, KDE, KSG, Binning, Discrete, MatrixRenyi

METHODS = list(ESTIMATORS)


def test_methods_and_classes():
    assert METHODS == ["renyi", "binning", "discrete", "kde", "ksg", "gaussian", "neural"]
    assert isinstance(infoscope.make_estimator("renyi"), MatrixRenyi)
    assert isinstance(infoscope.make_estimator("discrete"), Discrete)
    for cls in (MatrixRenyi, Binning, Discrete, KDE, KSG):
        est = cls()
        assert est.get_params() == cls(**est.get_params()).get_params()


@pytest.mark.parametrize("method", METHODS)
def test_functional_equals_object(rng, method):
    x = rng.normal(size=(100, 3))
    y = rng.integers(0, 3, 100)
    est = infoscope.make_estimator(method)
    assert infoscope.mutual_information(x, y, method=method) == est.mutual_information(x, y)
    if est.tags.entropy:
        assert infoscope.entropy(x, method=method) == est.entropy(x)
    else:
        with pytest.raises(ValueError, match="not entropy"):
            infoscope.entropy(x, method=method)


def test_default_method_is_renyi(rng):
    x = rng.normal(size=(50, 2))
    assert infoscope.entropy(x) == MatrixRenyi().entropy(x)


@pytest.mark.parametrize("method", METHODS)
def test_any_trailing_shape_is_one_sample_per_row(rng, method):
    x = rng.normal(size=(60, 2, 3, 3))
    y = rng.integers(0, 2, 60)
    assert infoscope.mutual_information(x, y, method=method) == pytest.approx(
        infoscope.mutual_information(x.reshape(60, -1), y, method=method), abs=1e-12
    )


def test_estimate_reports_rule_chosen_sigma(rng):
    res = MatrixRenyi(sigma_x="knn").estimate_mutual_information(rng.normal(size=(80, 2)), rng.integers(0, 2, 80))
    assert isinstance(res.params["sigma_x"], float) and res.params["sigma_x"] > 0
    assert res.params["sigma_y"] == 0.1
    assert res.to_dict()["method"] == "renyi"


# --- bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_named(method, bad):
    x = np.zeros((20, 2))
    x[3, 1] = bad
    with pytest.raises(ValueError, match=r"x contains .*(NaN|infinite).*first bad samples: \[3\]"):
        infoscope.entropy(x, method=method)
    with pytest.raises(ValueError, match="y contains"):
        infoscope.mutual_information(np.ones((20, 2)), x, method=method)


@pytest.mark.parametrize("method", METHODS)
def test_too_few_samples(method):
    with pytest.raises(ValueError, match="x has 1 sample"):
        infoscope.entropy(np.ones((1, 3)), method=method)
    with pytest.raises(ValueError, match="x has 0 sample"):
        infoscope.entropy(np.ones((0, 3)), method=method)


@pytest.mark.parametrize("method", METHODS)
def test_mismatched_lengths(method):
    with pytest.raises(ValueError, match="x has 10 samples but y has 9"):
        infoscope.mutual_information(np.ones((10, 2)), np.arange(9), method=method)


def test_scalar_and_non_numeric_input():
    with pytest.raises(ValueError, match="scalar"):
        infoscope.entropy(np.float64(3.0))
    with pytest.raises(TypeError, match="dtype"):
        infoscope.entropy(np.array(["a", "b", "c"]))
    with pytest.raises(TypeError, match="complex"):
        infoscope.entropy(np.ones(5) * 1j)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sigma_x": 0.0}, "sigma_x must be a finite number > 0"),
        ({"sigma_x": -2.0}, "sigma_x must be a finite number > 0"),
        ({"sigma_y": float("nan")}, "sigma_y must be"),
        ({"alpha": 0.0}, "alpha must be a finite number > 0"),
        ({"alpha": -1.0}, "alpha"),
        ({"sigma_x": "bogus"}, "unknown sigma_x rule 'bogus'"),
        ({"kernel": "laplace"}, "unknown kernel 'laplace'"),
    ],
)
def test_bad_renyi_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MatrixRenyi(**kwargs)


def test_unknown_method_and_parameter():
    with pytest.raises(ValueError, match="unknown method 'shannon'; choose one of: renyi, binning, discrete, kde, ksg"):
        infoscope.entropy(np.ones((5, 1)), method="shannon")
    with pytest.raises(TypeError, match="method 'ksg' has no parameter.* alpha"):
        infoscope.entropy(np.ones((5, 1)), method="ksg", alpha=2)


@pytest.mark.parametrize("method", METHODS)
def test_labels_that_are_not_integers(method):
    y = np.array([0.0, 1.5, 1.0, 0.0])
    with pytest.raises(ValueError, match="non-integer values"):
        infoscope.mutual_information(np.arange(8.0).reshape(4, 2), y, method=method, discrete_y=True)
    # whole-number floats are accepted as labels when asked
    y_ok = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0])
    x = np.arange(16.0).reshape(8, 2)
    assert np.isfinite(infoscope.mutual_information(x, y_ok, method=method, discrete_y=True, **({"k": 2} if method == "ksg" else {})))


def test_labels_must_be_one_dimensional():
    with pytest.raises(ValueError, match=r"must have shape \(N,\)"):
        infoscope.mutual_information(np.ones((4, 2)), np.zeros((4, 2), dtype=int), discrete_y=True)


def test_alignment_needs_a_target():
    with pytest.raises(ValueError, match="alignment.*needs a target"):
        infoscope.entropy(np.random.default_rng(0).normal(size=(10, 2)), sigma_x="alignment")
    with pytest.raises(ValueError, match="cannot both be 'alignment'"):
        infoscope.mutual_information(np.ones((10, 2)), np.ones((10, 2)), sigma_x="alignment", sigma_y="alignment")


@pytest.mark.parametrize("method", ["renyi", "binning", "kde", "ksg"])
def test_constant_inputs_are_valid(method):
    assert infoscope.entropy(np.full((30, 3), 2.5), method=method) == 0.0
    y = np.random.default_rng(0).integers(0, 2, 30)
    assert infoscope.mutual_information(np.full((30, 3), 2.5), y, method=method) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_no_nan_ever_for_valid_input(rng, method):
    for x in (rng.normal(size=(40, 5)) * 1e6, rng.normal(size=(40, 5)) * 1e-6, rng.integers(0, 2, (40, 3)).astype(float)):
        if infoscope.make_estimator(method).tags.entropy:
            assert np.isfinite(infoscope.entropy(x, method=method))
        assert np.isfinite(infoscope.mutual_information(x, rng.integers(0, 2, 40), method=method))


def test_torch_tensors_accepted(rng):
    x = torch.randn(40, 3, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 2, (40,), generator=torch.Generator().manual_seed(1))
    for method in METHODS:
        assert infoscope.mutual_information(x, y, method=method) == pytest.approx(
            infoscope.mutual_information(x.numpy(), y.numpy(), method=method), abs=1e-12
        )
