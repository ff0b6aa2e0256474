"""Analysis on constructed series with known answers, and on real runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import infoscope
from infoscope.analysis import WARNING_PREFIX, converged_since, noise_level, phases, prune_candidates, rank_units, redundant_pairs
from infoscope.analysis.sanity import bound_warnings, dpi_warnings
from infoscope.cli import main
from infoscope.experiments import run_experiment
from infoscope.experiments.inspection import analyze_run as analyze
from infoscope.experiments.inspection import unit_health_warnings, unit_redundancy
from infoscope.experiments.pruning import prune_check

# --- convergence ---------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(5))
def test_plateau_at_epoch_12_is_found_within_the_window(seed):
    rng = np.random.default_rng(seed)
    e = np.arange(40)
    v = np.where(e < 12, 2.0 + 0.25 * e, 5.0) + rng.normal(0, 0.01, 40)
    c = converged_since(e, v, window=5, rtol=0.0, atol=0.05)
    assert c.converged and abs(c.since - 12) <= 5
    assert c.plateau == pytest.approx(5.0, abs=0.02)


def test_still_changing_and_short_series():
    e = np.arange(30)
    assert converged_since(e, 0.1 * e).since is None
    assert converged_since(e[:3], np.ones(3), window=5).since is None
    # a late jump resets convergence
    v = np.ones(30)
    v[-3:] = 2.0
    assert converged_since(e, v).since is None


def test_convergence_validates_input():
    with pytest.raises(ValueError, match="entries"):
        converged_since(np.arange(3), np.ones(4))


# --- phases ----------------------------------------------------------------------------------

def test_known_peak_and_drop():
    e = np.arange(50)
    v = np.where(e <= 15, 1.0 + 0.2 * e, 4.0 - 0.04 * (e - 15))  # peak 4.0 at epoch 15, ends at 2.6
    p = phases(e, v)
    assert p.peak_epoch == 15 and p.compressed
    assert p.drop == pytest.approx(1.4, abs=0.05)
    assert p.drop_fraction == pytest.approx(1.4 / 4.0, abs=0.02)
    assert p.compression_epochs == 34


def test_noise_sized_drop_is_no_compression():
    rng = np.random.default_rng(0)
    e = np.arange(60)
    v = 3.0 + np.minimum(e, 10) * 0.1 + rng.normal(0, 0.05, 60)  # rises then flat with noise
    p = phases(e, v)
    assert not p.compressed and p.compression_epochs == 0
    assert "no compression" in p.verdict
    assert noise_level(v) > 0.1  # three robust s.d. of successive differences


# --- redundancy ------------------------------------------------------------------------------

def test_unit_redundancy_known_pairs():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(300, 1, generator=g), torch.randn(300, 1, generator=g)
    acts = torch.cat([a, -3 * a + 2, b, torch.zeros(300, 1), torch.tanh(5 * b)], dim=1)
    r = unit_redundancy(acts)
    assert r[0, 1] > 0.99  # an affine copy
    assert r[0, 2] < 0.4   # independent
    assert np.isnan(r[0, 3])  # constant unit
    assert r[2, 4] > r[0, 2]  # a monotone function shares more than an independent unit
    pairs = redundant_pairs(r, 0.9)
    assert pairs[0][:2] == (0, 1)


def _units_frame():
    rows = []
    for unit, (ity, ixt, h) in enumerate([(0.9, 3.0, 3.0), (0.1, 2.0, 2.0), (0.5, 2.5, 2.5), (0.0, 0.0, 0.0)]):
        for q, v in (("I(T;Y)", ity), ("I(X;T)", ixt), ("H(T)", h)):
            rows.append({"epoch": 3, "step": 30, "layer": "a", "unit": unit, "quantity": q, "value": v})
    return pd.DataFrame(rows)


def test_rank_and_candidates_with_reasons():
    ranks = rank_units(_units_frame())
    assert ranks.unit.tolist() == [0, 2, 1, 3]
    cands = prune_candidates(ranks, fraction=0.25, pairs={"a": [(0, 2, 0.95)]})
    reasons = {c.unit: c.reason for c in cands}
    assert "constant" in reasons[3]
    assert "redundant with unit 0" in reasons[2]
    assert set(reasons) == {2, 3}  # the lowest-I unit (3) is already listed as constant


# --- sanity ------------------------------------------------------------------------------------

def _layer_frame(values: dict[str, list[float]], quantity="I(X;T)", est="binning"):
    rows = []
    for layer, vals in values.items():
        for e, v in enumerate(vals):
            rows.append({"probe": "train", "layer": layer, "estimator": est, "quantity": quantity, "epoch": e,
                         "step": e, "value": v, "params": {}})
    return pd.DataFrame(rows)


def test_bound_and_dpi_warnings():
    w = bound_warnings(_layer_frame({"a": [5.0, 6.0], "b": [4.0, 7.9999, 6.5]}), {"train": {"n": 256, "label_entropy_bits": 1.0}})
    assert len(w) == 1 and w[0][1] == "b" and "log2 N = 8.000" in w[0][2]
    labels = _layer_frame({"a": [0.5, 0.999]}, quantity="I(T;Y)")
    assert "H(Y) = 1.000" in bound_warnings(labels, {"train": {"n": 256, "label_entropy_bits": 1.0}})[0][2]
    m = _layer_frame({"a": [5.0, 6.0, 6.0, 6.0, 6.0, 6.0], "b": [4.0, 6.5, 6.5, 6.5, 6.5, 6.5]})
    d = dpi_warnings(m, ["a", "b"])
    assert len(d) == 1 and "rises from layer a" in d[0][2] and "by up to 0.500 bits" in d[0][2] and "in 5 of 6 epochs" in d[0][2]
    back = dpi_warnings(m, ["b", "a"])  # in the other order b → a falls, but for the first epoch
    assert len(back) == 1 and "by up to 1.000 bits (epoch 0" in back[0][2] and "in 1 of 6 epochs" in back[0][2]
    assert dpi_warnings(_layer_frame({"a": [6.0] * 6, "b": [5.0] * 6}), ["a", "b"]) == []


def test_unit_health():
    relu = torch.relu(torch.randn(50, 4))
    relu[:, 2] = 0
    tanh = torch.tanh(torch.randn(50, 3))
    tanh[:, 1] = 0.999
    w = unit_health_warnings({"r": relu, "t": tanh}, {"r": "ReLU", "t": "Tanh"})
    text = " ".join(m for *_, m in w)
    assert "dead" in text and "[2]" in text and "saturated" in text and "[1]" in text


# --- on real runs ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cnn_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("analysis") / "runs.db"
    run_experiment("mnist-cnn", store=db, run="cnn", epochs=2, probe_size=120, bootstrap=3)
    return db


def test_analyze_real_run_stores_its_warnings(cnn_db):
    a = analyze(cnn_db, "cnn", window=2)
    assert set(a.phases.layer) == {"relu1", "relu2", "relu3", "fc"}
    assert {"train", "test"} <= set(a.compression.columns)
    assert not a.units.empty and a.candidates
    assert all(c.layer != "fc" for c in a.candidates)  # never the output layer
    with infoscope.load(cnn_db) as st:
        stored = st.warnings("cnn").message
        assert sum(m.startswith(WARNING_PREFIX) for m in stored) == len(a.warnings)
    again = analyze(cnn_db, "cnn", window=2)  # replaces, does not pile up
    with infoscope.load(cnn_db) as st:
        assert sum(m.startswith(WARNING_PREFIX) for m in st.warnings("cnn").message) == len(again.warnings)


def test_prune_check_compares_with_random(cnn_db):
    res = prune_check(infoscope.load(cnn_db), "cnn", fraction=0.25, seeds=3)
    t = res.table
    assert list(t.layer) == ["relu1", "relu2", "relu3", "all"]
    assert (t.n_masked == [2, 4, 8, 14]).all()
    assert t.acc.nunique() == 1 and 0.1 < res.baseline <= 1.0
    assert ((t.acc_rand_sd >= 0) & t.acc_mi_low.between(0, 1) & t.acc_mi_high.between(0, 1)).all()


def test_cli_analyze_and_prune_check(cnn_db, capsys):
    assert main(["analyze", str(cnn_db), "cnn", "--window", "2"]) == 0
    out = capsys.readouterr().out
    assert "Fitting and compression" in out and "Convergence" in out
    assert main(["prune-check", str(cnn_db), "cnn", "--fraction", "0.5", "--seeds", "2"]) == 0
    assert "acc_rand" in capsys.readouterr().out
    assert main(["prune-check", str(cnn_db), "cnn", "--fraction", "1.5"]) == 2


def test_user_recorder_run_notes_missing_model(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    x, y = torch.randn(50, 4), torch.randint(0, 2, (50,))
    with infoscope.Recorder(model, (x, y), estimators=["binning"], store=tmp_path / "r.db", run="u") as rec:
        for e in range(3):
            rec.record(epoch=e)
    a = analyze(tmp_path / "r.db", "u", window=2)
    assert any("need the trained model" in n for n in a.notes)
    with pytest.raises(ValueError, match="not recorded by an infoscope experiment"):
        prune_check(infoscope.load(tmp_path / "r.db"), "u")


def test_analyze_missing_database_creates_nothing(tmp_path):
    with pytest.raises(infoscope.StoreError, match="no database"):
        analyze(tmp_path / "missing.db", "r")
    assert not (tmp_path / "missing.db").exists()


# --- what a series does -----------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("shape, series", [
    ("rise then fall", lambda e: np.where(e < 10, 2 + 0.3 * e, 5 - 0.1 * (e - 10))),
    ("fall only", lambda e: 5 - 0.1 * e),
    ("fall then rise", lambda e: np.where(e < 8, 5 - 0.3 * e, 2.6 + 0.1 * (e - 8))),    # the demo's pattern
    ("fall then rise", lambda e: np.where(e < 8, 5 - 0.3 * e, 2.6 + 0.2 * (e - 8))),    # ends above its start
    ("rise only", lambda e: 2 + 3 * (1 - np.exp(-e / 5))),
    ("flat", lambda e: np.full(len(e), 3.0)),
])
def test_phase_shapes_on_constructed_series(seed, shape, series):
    e = np.arange(30)
    v = series(e) + np.random.default_rng(seed).normal(0, 0.005, 30)
    p = phases(e, v)
    assert p.shape == shape
    assert p.compressed == (shape == "rise then fall")  # one decision for the table and the verdict
    assert p.peak >= p.final and p.drop >= 0 and p.maximum >= p.peak
    if shape != "rise then fall":
        assert "compression of" not in p.verdict  # only a fitting phase followed by a fall is compression
    if shape == "fall only":
        assert p.peak_epoch == 0 and p.verdict.startswith("no fitting phase")
    if shape == "fall then rise":
        assert "rises again" in p.verdict and p.trough_epoch in range(6, 11)


def test_a_saturated_series_is_never_a_phase():
    e = np.arange(20)
    v = np.where(e < 8, 2 + 0.5 * e, 6 - 0.2 * (e - 8))  # would be "rise then fall"
    assert phases(e, v).shape == "rise then fall"
    p = phases(e, v, saturated=e < 12)
    assert p.shape == "saturated" and not p.compressed and "no phase" in p.verdict


def test_compression_verdict_and_shape_agree_on_a_noisy_late_peak():
    """A fall counts when raw values and the smoothed series both show it: one test decides
    both ``compressed`` and the shape (before, a raw drop of 0.06 bits with a flat smoothed end
    was "compression" under a verdict that said "drop 0.060 bits ≤ noise 0.050")."""
    from infoscope.analysis.phases import phases

    e = np.arange(60)
    v = np.minimum(e * 0.1, 4.0)
    v[40] = 4.04  # one high record where the plateau starts (the raw peak)
    v[-2:] = 3.98  # and the end 0.02 below the plateau: raw drop 0.06, over the noise floor 0.05
    p = phases(e, v)
    assert p.noise == 0.05 and p.drop == pytest.approx(0.06)
    assert p.maximum == pytest.approx(4.04) and p.maximum_epoch == 40  # the raw maximum, shown beside it
    assert p.shape == "rise only" and not p.compressed and p.compression_epochs == 0
    assert "no compression beyond noise 0.050 bits" in p.verdict
    # a real fall (0.5 bits over the last 20 epochs) is both
    w = np.minimum(e * 0.1, 4.0) - np.clip((e - 40) * 0.025, 0, None)
    q = phases(e, w)
    assert q.shape == "rise then fall" and q.compressed and q.drop == pytest.approx(0.475)


@pytest.mark.parametrize("series", [
    lambda e: np.where(e < 8, 5 - 0.3 * e, 2.6 + 0.1 * (e - 8)),  # fall then rise, peak at the first record
    lambda e: 5 - 0.1 * e,                                          # fall only
    lambda e: np.where(e < 1, 6.0, 5 - 0.05 * e),                  # one high first record, then a slow fall
])
def test_a_first_record_peak_is_never_compression(series):
    e = np.arange(30)
    p = phases(e, series(e))
    assert p.peak_epoch == 0 and not p.compressed and p.compression_epochs == 0
    assert "compression of" not in p.verdict


def test_fitting_is_not_testable_at_the_label_bound_and_fits_on_a_rise():
    from infoscope.analysis.phases import fitting

    e = np.arange(30)
    assert fitting(e, np.full(30, 3.3219), saturated=np.ones(30, bool)).status == "not testable"
    assert fitting(e, 3.3 * (1 - np.exp(-e / 4))).status == "fits"
    assert fitting(e, np.full(30, 1.0) + np.random.default_rng(0).normal(0, 0.005, 30)).status == "no rise"
    at_chance = fitting(e, 0.5 + 0.1 * e, above_chance=np.zeros(30, bool))
    assert at_chance.status == "not testable" and "chance" in at_chance.reason
