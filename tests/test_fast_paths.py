"""Every fast path of the matrix-based estimator against the plain reference of the benchmarks.

``benchmarks/reference.py`` is the naive implementation (float64, one full ``eigh`` per
entropy, S(X), S(T), S(X,T) recomputed per quantity, full label Grams, σ searches that
rebuild distances, a loop over units). Here it checks, on small cases, what the benchmarks
time on large ones.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from benchmarks import reference
from infoscope import MatrixRenyi, Recorder
from infoscope.capture import probe_activations
from infoscope.estimators.base import ProbeContext

ALPHA = 1.01
SIGMA_X = 4.0


@pytest.fixture(scope="module")
def case():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(90, 1, 8, 8, generator=g)
    y = torch.randint(0, 3, (90,), generator=g)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 3))
    return model, x, y, probe_activations(model, x, "auto")


@pytest.mark.parametrize("rule", ["silverman", "alignment"])
def test_layer_values_equal_the_reference(case, rule):
    _, x, y, acts = case
    est = MatrixRenyi(alpha=ALPHA, sigma_x=rule, sigma_input=SIGMA_X)
    ctx = ProbeContext.build(x, y)  # shared by all layers: S(X), S(Y) and the Grams cached
    for t in acts.values():
        ours = {q: r.value for q, r in est.layer_information(t, ctx).items()}
        ref = reference.layer_values(x, t, y, ALPHA, SIGMA_X, rule)
        for q in ref:
            assert ours[q] == pytest.approx(ref[q], rel=1e-6, abs=1e-9), q


def test_float64_activations_equal_the_reference_to_1e_9(case):
    _, x, y, acts = case
    est = MatrixRenyi(alpha=ALPHA, sigma_x="silverman", sigma_input=SIGMA_X)
    ctx = ProbeContext.build(x.double(), y)
    for t in acts.values():
        t = t.double()  # float64 products throughout
        ours = {q: r.value for q, r in est.layer_information(t, ctx).items()}
        ref = reference.layer_values(x.double(), t, y, ALPHA, SIGMA_X, "silverman")
        for q in ref:
            assert ours[q] == pytest.approx(ref[q], abs=1e-9), q


@pytest.mark.parametrize("alpha", [2.0, 3.0])
def test_integer_alpha_without_eigensolver_equals_the_reference(case, alpha):
    _, x, y, acts = case
    t = acts["1"]
    est = MatrixRenyi(alpha=alpha, sigma_x="silverman", sigma_input=SIGMA_X)
    ours = {q: r.value for q, r in est.layer_information(t, ProbeContext.build(x, y)).items()}
    ref = reference.layer_values(x, t, y, alpha, SIGMA_X, "silverman")
    for q in ref:
        assert ours[q] == pytest.approx(ref[q], rel=1e-6, abs=1e-9), q


def test_recorded_units_equal_the_reference_loop(case):
    model, x, y, acts = case
    est = MatrixRenyi(alpha=ALPHA, sigma_x="silverman", sigma_input=SIGMA_X)
    with Recorder(model, (x, y), layers=["1"], estimators=[est], store=None) as rec:
        rows, _, _ = rec.measure()
    units = {(r.unit, r.quantity): r.value for r in rows if r.unit is not None}
    t = acts["1"]
    for c in range(t.shape[1]):
        ref = reference.layer_values(x, t[:, c], y, ALPHA, SIGMA_X, "silverman")
        for q, v in ref.items():
            assert units[(c, q)] == pytest.approx(v, rel=1e-6, abs=1e-9), (c, q)
