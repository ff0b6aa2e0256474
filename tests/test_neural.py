"""The neural variational bounds (InfoNCE, NWJ, MINE, SMILE) against known MI, their ceiling,
their invariance, warm starts, and bad input; and the recorder's whole-layer use of them."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from infoscope import Recorder
from infoscope.beyond_normal import normal_task, sample
from infoscope.estimators import NeuralMI, make_estimator
from infoscope.estimators.neural import CEILING_FLAG
from infoscope.estimators.variational_bounds import BOUNDS

#: Settings small enough for the test run (the defaults train longer and wider).
FAST = dict(batch_size=64, hidden=(16, 16), max_steps=600, eval_every=50, patience=4)


def _pair(n: int, rho: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1))
    y = rho * x + math.sqrt(1 - rho**2) * rng.standard_normal((n, 1))
    return x, y, -0.5 * math.log(1 - rho**2)


@pytest.mark.parametrize("bound", BOUNDS)
def test_every_bound_finds_the_mi_of_a_bivariate_normal(bound):
    x, y, truth = _pair(1000, 0.8)  # 0.51 nats
    nats = NeuralMI(bound=bound, **FAST).mutual_information(x, y) * math.log(2)
    assert nats == pytest.approx(truth, abs=0.1)  # the benchmark's tolerance, 0.1 nats


def test_the_mi_of_a_ten_dimensional_normal_within_ten_percent():
    task = normal_task("dense", 10, 10)  # 0.78 nats
    x, y = sample(task, 1000, seed=1)
    est = NeuralMI(bound="infonce", **FAST).estimate_mutual_information(x, y)
    assert est.value * math.log(2) == pytest.approx(task.mi_nats, rel=0.15)
    # what it rests on: the bound, its curve on the held-out part, the split
    assert est.params["bound"] == "infonce" and est.params["n_heldout"] == 300 and est.params["curve"][0][0] == 0
    assert est.params["steps"] <= 600 and len(est.params["curve"]) >= 2


def test_infonce_cannot_exceed_log_batch_and_says_so():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1200, 1))
    y = x + 1e-3 * rng.standard_normal((1200, 1))  # I ≈ 6.9 nats, far above log 16 = 2.77
    est = NeuralMI(bound="infonce", batch_size=16, hidden=(32, 32), learning_rate=2e-3, max_steps=2000, gaussian_start=False).estimate_mutual_information(x, y)
    assert est.params["ceiling_bits"] == pytest.approx(4.0)
    assert 3.8 <= est.value <= 4.0 + 1e-9
    assert est.params["saturated"] == CEILING_FLAG
    # the bounds without a ceiling go past it on the same data
    smile = NeuralMI(bound="smile", batch_size=16, hidden=(32, 32), learning_rate=2e-3, max_steps=2000).estimate_mutual_information(x, y)
    assert smile.params["ceiling_bits"] is None and smile.value > 4.0 and smile.params["saturated"] is None


def test_invariant_under_invertible_maps_of_each_coordinate():
    x, y, truth = _pair(1000, 0.8, seed=2)
    est = NeuralMI(bound="infonce", **FAST)
    plain = est.mutual_information(x, y)
    # ranks: a strictly increasing map of a coordinate gives the very same samples to the critic
    assert est.mutual_information(x * np.sqrt(np.abs(x)), np.sinh(y) + 3.0) == pytest.approx(plain, abs=1e-9)
    # without ranks, the map changes what the critic sees, not the MI it finds
    raw = NeuralMI(bound="infonce", copula=False, **FAST)
    assert raw.mutual_information(np.arcsinh(3 * x), y**3) * math.log(2) == pytest.approx(truth, abs=0.1)


def test_warm_start_matches_a_cold_start_in_fewer_steps():
    x, y, truth = _pair(1000, 0.8, seed=3)
    rng = np.random.default_rng(4)
    est = NeuralMI(bound="infonce", gaussian_start=False, **{**FAST, "patience": 3})  # a critic that must learn
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    first, state = est.fit(tx, ty)
    later = (tx + 0.05 * torch.from_numpy(rng.standard_normal(x.shape)), ty)  # the next record: a little changed
    cold, _ = est.fit(*later)
    warm, _ = est.fit(*later, warm=state)
    assert warm.params["warm_started"] and not cold.params["warm_started"]
    assert warm.value == pytest.approx(cold.value, abs=0.1 / math.log(2))
    assert warm.params["steps"] < cold.params["steps"]
    # a critic of other shapes is not used
    other, _ = est.fit(torch.cat([tx, tx], 1), ty, warm=state)
    assert not other.params["warm_started"]
    # nor one that scores the new samples below the fresh start: the dependence reversed its sign
    flipped, _ = est.fit(tx, -ty, warm=state)
    fresh, _ = est.fit(tx, -ty)
    assert flipped.params["warm_rejected"] and not flipped.params["warm_started"]
    assert flipped.value == pytest.approx(fresh.value, abs=1e-9) and flipped.params["steps"] == fresh.params["steps"]


def test_bad_input_is_refused_like_the_other_estimators():
    est = NeuralMI(**FAST)
    with pytest.raises(ValueError, match="at least 2 are needed"):
        est.mutual_information(np.zeros((1, 2)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="NaN"):
        est.mutual_information(np.array([[0.0], [np.nan], [1.0], [2.0]]), np.arange(4.0)[:, None])
    with pytest.raises(ValueError, match="at least 4 samples"):
        est.mutual_information(np.arange(3.0)[:, None], np.arange(3.0)[:, None])
    const = est.estimate_mutual_information(np.ones((100, 3)), np.random.default_rng(0).standard_normal((100, 2)))
    assert const.value == 0.0 and const.params["constant"]  # a point mass shares nothing (as KSG says)
    with pytest.raises(ValueError, match="not entropy"):
        est.entropy(np.random.default_rng(0).standard_normal((100, 2)))
    with pytest.raises(ValueError, match="unknown bound"):
        NeuralMI(bound="dv")
    with pytest.raises(ValueError, match="test_fraction"):
        NeuralMI(test_fraction=1.0)


def test_the_recorder_measures_whole_layers_with_it_and_units_with_the_cheap_estimators(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    x = torch.randn(200, 4)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    neural = make_estimator("neural", **{**FAST, "max_steps": 100})
    with Recorder(model, (x, y), estimators=["binning", neural], layers=["1", "2"], store=tmp_path / "r.db", run="n") as rec:
        first = rec.measure(0).rows
        with torch.no_grad():
            model[0].weight.mul_(1.01)
        second = rec.measure(1).rows
    neural_rows = [r for r in first if r.estimator == "neural"]
    assert {r.quantity for r in neural_rows} == {"I(X;T)", "I(T;Y)"}  # no H(T): a bound measures MI
    assert all(r.unit is None for r in neural_rows)  # whole layers only
    assert any(r.unit is not None for r in first if r.estimator == "binning")  # units stay with binning
    assert not any(r.params["warm_started"] for r in neural_rows)
    again = [r for r in second if r.estimator == "neural"]
    # from the previous record's critic, unless it scored the new samples below the fresh start (then said so)
    assert any(r.params["warm_started"] for r in again)
    assert all(r.params["warm_started"] != r.params["warm_rejected"] for r in again)
    ty = [r for r in neural_rows if r.quantity == "I(T;Y)"]
    assert all(0.0 <= r.value <= 1.6 for r in ty)  # H(Y) of three classes ≤ log2 3
    with pytest.raises(ValueError, match="unit_estimators names"):
        Recorder(model, (x, y), estimators=["binning"], unit_estimators=["neural"], layers=["1"], store=None)
