"""Continuous targets (regression): I(T;Y) against the Gaussian ground truth, flagged, without an
H(Y) bound, and refused by the estimators whose I(T;Y) counts classes."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from infoscope import Recorder
from infoscope.estimators.base import ProbeContext


def _identity_model() -> nn.Module:
    lin = nn.Linear(1, 1)
    with torch.no_grad():
        lin.weight.fill_(1.0)
        lin.bias.zero_()
    return nn.Sequential(lin)


def _gaussian_pair(n: int, noise_var: float, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, generator=g)
    y = (x[:, 0] + math.sqrt(noise_var) * torch.randn(n, generator=g)).double()
    return x, y, 0.5 * math.log2(1 + 1 / noise_var)  # I(T;Y) for T = X


@pytest.mark.parametrize("noise_var, truth_bits", [(1 / 3, 1.0), (1.0, 0.5)])
def test_ksg_i_ty_of_a_continuous_target_matches_the_gaussian_truth(noise_var, truth_bits):
    estimates = []
    for seed in range(6):  # KSG's spread at N = 1,500 is about 0.05 bits per draw: the mean of 6
        x, y, truth = _gaussian_pair(1500, noise_var, seed)
        assert truth == pytest.approx(truth_bits)
        with Recorder(_identity_model(), (x, y), estimators=["ksg"], layers=["0"], store=None, units=seed == 0,
                      target="continuous") as rec:
            rows = rec.measure(0).rows
        ty = [r for r in rows if r.quantity == "I(T;Y)"]
        if seed == 0:
            assert len(ty) == 2  # the layer and its one unit: the same value by both paths
            assert ty[0].value == pytest.approx(ty[1].value, abs=1e-12)
        assert all(r.params["y_continuous"] and r.params["saturated"] is None for r in ty)
        estimates.append(ty[0].value)
    assert abs(sum(estimates) / len(estimates) - truth_bits) < 0.06


def test_renyi_i_ty_of_a_continuous_target_follows_the_dependence():
    x, y, _ = _gaussian_pair(600, 0.1)
    unrelated = torch.randn(600, generator=torch.Generator().manual_seed(5)).double()
    values = {}
    for name, target in (("dependent", y), ("independent", unrelated)):
        with Recorder(_identity_model(), (x, target), estimators=["renyi"], layers=["0"], store=None, units=False,
                      target="continuous") as rec:
            row = next(r for r in rec.measure(0).rows if r.quantity == "I(T;Y)")
        values[name] = row.value
        assert row.params["y_continuous"] and row.params["sigma_y"] > 0
    assert values["dependent"] > 1.0 and values["independent"] < 0.2 * values["dependent"]


def test_continuous_targets_are_stored_and_refused_where_classes_are_needed(tmp_path):
    x, y, _ = _gaussian_pair(100, 0.5)
    for method in ("binning", "kde", "discrete"):
        with pytest.raises(ValueError, match=f"{method}'s I\\(T;Y\\) needs class labels"):
            Recorder(_identity_model(), (x, y), estimators=[method], store=None, target="continuous")
    with pytest.raises(ValueError, match="non-integer values.*target='continuous'"):  # never read as regression unasked
        Recorder(_identity_model(), (x, y), estimators=["renyi"], store=None)
    whole = torch.arange(100) % 7  # integers, declared a continuous target (counts)
    assert ProbeContext.build(x, whole, continuous_y=True).continuous_y
    db = tmp_path / "r.db"
    with Recorder(_identity_model(), (x, whole), estimators=["renyi"], target="continuous", store=db, run="r") as rec:
        rec.record(0)
    import infoscope

    with infoscope.load(db) as store:
        probes = store.run_info("r")["config"]["probes"]
    assert probes["train"]["target"] == "continuous" and probes["train"]["label_entropy_bits"] is None
