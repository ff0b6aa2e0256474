"""What infoscope tells from its numbers (issue 25): values at or past a bound are marked
wherever they are shown, phases follow one rule, study claims are tested part by part."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from infoscope import Recorder, load
from infoscope.cli import main
from infoscope.estimators import KSG, Binning, MatrixRenyi


def test_a_value_past_its_bound_is_flagged_not_clipped():
    """KSG's I(T;Y) with many two-sample classes exceeds H(Y) = log2 250: flagged with how far."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(250), 2)
    t = rng.normal(size=(250, 2))[y] * 10 + rng.normal(size=(500, 2)) * 0.01
    e = KSG().estimate_mutual_information(t, y)
    assert e.value > np.log2(250) + 0.1  # the estimator's error, kept as it is
    assert e.params["saturated"] == "H(Y)" and e.params["bound_bits"] == pytest.approx(np.log2(250))
    assert e.params["past_bound"] == pytest.approx(e.value - np.log2(250))
    # a negative MI is flagged too
    neg = KSG().estimate_mutual_information(rng.normal(size=(500, 10)), rng.integers(0, 250, 500))
    assert neg.value < 0 and neg.params["saturated"] == "below 0"
    # and a value well inside its bounds carries no flag
    inside = Binning(n_bins=4).estimate_mutual_information(rng.normal(size=(2000, 1)), rng.integers(0, 2, 2000))
    assert inside.params["saturated"] is None and "past_bound" not in inside.params


def test_entropy_json_carries_the_flag(tmp_path, capsys):
    x = np.random.default_rng(1).normal(size=(500, 10))  # 500 distinct samples: one bin each
    np.save(tmp_path / "x.npy", x)
    assert main(["entropy", str(tmp_path / "x.npy"), "-m", "binning", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["value"] == pytest.approx(np.log2(500))
    assert out["params"]["saturated"] == "log2 n" and out["mark"] == "at log2 n"
    assert main(["entropy", str(tmp_path / "x.npy"), "-m", "binning"]) == 0
    assert "[at log2 n]" in capsys.readouterr().out


def test_recorded_values_at_their_bounds_are_stored_and_shown(tmp_path, capsys, monkeypatch):
    """A layer that resolves every probe sample: H(T) = I(X;T) = log2 N and I(T;Y) = H(Y) under
    binning, stored with their flags and shown marked by ``infoscope show``."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(10, 10), torch.nn.Tanh(), torch.nn.Linear(10, 3))
    x = torch.randn(200, 10)
    y = torch.arange(200) % 4
    db = tmp_path / "r.db"
    with Recorder(model, probes={"train": (x, y)}, layers=["1"], estimators=[Binning(n_bins=30), MatrixRenyi()],
                  units=False, store=db, run="r") as rec:
        rec.record(epoch=0)
    with load(db) as st:
        m = st.measurements(run="r", estimator="binning").set_index("quantity")
    assert m.loc["I(T;Y)", "value"] == pytest.approx(2.0)
    assert m.loc["I(T;Y)", "params"]["saturated"] == "H(Y)" and m.loc["I(T;Y)", "params"]["bound_bits"] == 2.0
    assert m.loc["I(X;T)", "params"]["saturated"] == "H(X)"  # I(X;T) = H(X) = log2 200: distinct inputs
    assert m.loc["H(T)", "params"]["saturated"] == "log2 n"
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["show", str(db), "r"]) == 0
    out = capsys.readouterr().out
    assert "7.644 [at log2 n]" in out and "7.644 [at H(X)]" in out and "2.000 [at H(Y)]" in out and "marks:" in out


def test_renyi_bounds_are_its_own_entropies_of_the_probe():
    from infoscope.estimators.base import ProbeContext

    rng = np.random.default_rng(2)
    ctx = ProbeContext.build(rng.normal(size=(60, 3)), np.arange(60) % 3)
    b = MatrixRenyi(alpha=2.0).bounds(ctx)
    assert b["I(T;Y)"] == pytest.approx(np.log2(3))  # three equal classes: every order gives log2 3
    chunked = MatrixRenyi(alpha=2.0, chunk_size=20).bounds(ctx)
    assert chunked["I(T;Y)"] == pytest.approx(np.log2(3)) and chunked["I(X;T)"] is None


def test_ksg_is_invariant_to_the_scale_of_each_variable():
    """Before, I(X; s·T) was 0.87, 1.16 and 0.82 bits for s = 0.01, 1, 100 on the same data."""
    from infoscope.estimators.base import ProbeContext

    rng = np.random.default_rng(3)
    x = rng.normal(size=(800, 10))
    t = np.tanh(x @ rng.normal(size=(10, 10))) + 0.3 * rng.normal(size=(800, 10))
    y = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 0)
    est = KSG()
    base = est.mutual_information(x, t)
    per_column = rng.uniform(0.01, 100, size=10)  # every unit on its own scale
    for scaled in (0.01 * t, 100 * t, t * per_column):
        assert est.mutual_information(x, scaled) == pytest.approx(base, abs=0.01)
    assert est.mutual_information(1e3 * x, t) == pytest.approx(base, abs=0.01)
    ctx = ProbeContext.build(x, y)
    layer = est.layer_information(t, ctx)
    for s in (0.01, 100.0):
        other = est.layer_information(s * t, ctx)
        for q in ("I(X;T)", "I(T;Y)"):
            assert other[q].value == pytest.approx(layer[q].value, abs=0.01)
        # a differential entropy changes by D·log2 s under T → s·T, as it must
        assert other["H(T)"].value == pytest.approx(layer["H(T)"].value + 10 * np.log2(s), abs=0.01)
    # units measured together give the same values as one by one, at any scale
    units = est.units_information(torch.as_tensor(100 * t), ctx, [0, 3])
    for j, u in zip((0, 3), units):
        alone = est.layer_information(100 * t[:, j:j + 1], ctx)
        for q in ("H(T)", "I(X;T)", "I(T;Y)"):
            assert u[q].value == pytest.approx(alone[q].value, abs=1e-6)


def _growing_layer_store(path, estimators, epochs=8):
    """A layer that only grows: T_e = (1 + e) · T_0, the same information at every scale."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 5), torch.nn.Tanh(), torch.nn.Linear(5, 5))
    x = torch.randn(150, 5)
    y = (x[:, 0] > 0).long()
    with Recorder(model, probes={"train": (x, y)}, layers=["2"], estimators=estimators, units=False,
                  store=path, run="grow") as rec:
        for epoch in range(epochs):
            rec.record(epoch=epoch)
            with torch.no_grad():
                model[2].weight.mul_((epoch + 2) / (epoch + 1))
                model[2].bias.mul_((epoch + 2) / (epoch + 1))
    return path


def test_each_layer_scale_is_stored_and_scale_dependent_values_are_checked_at_unit_variance(tmp_path):
    from infoscope.estimators import KDE

    db = _growing_layer_store(tmp_path / "g.db", [KDE(), KSG(), MatrixRenyi(sigma_x=1.0)])
    with load(db) as st:
        m = st.measurements(run="grow", quantity="I(X;T)")
    scales = m[m.estimator == "kde"].sort_values("epoch").params.map(lambda p: p["layer_scale"]).to_numpy()
    assert scales == pytest.approx(scales[0] * np.arange(1, 9), rel=1e-6)  # RMS distance grows with the layer
    for est in ("kde", "renyi"):  # values that depend on the scale rise; at unit variance they stay put
        g = m[m.estimator == est].sort_values("epoch")
        assert g.value.iloc[-1] - g.value.iloc[0] > 0.2
        unit = g.params.map(lambda p: p["at_unit_variance"]).to_numpy()
        assert np.ptp(unit) < 1e-6
    ksg = m[m.estimator == "ksg"]
    assert "at_unit_variance" not in ksg.params.iloc[0] and np.ptp(ksg.value) < 0.01  # invariant: nothing to check


def test_a_fall_that_is_a_change_of_scale_is_named_so(tmp_path):
    """A layer that shrinks (T_e = T_0 / (1 + e)) under KDE: I(X;T) falls, but at unit variance
    nothing changes, and the verdict says so; KSG sees no fall at all."""
    from infoscope.analysis import analyze
    from infoscope.estimators import KDE

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 5), torch.nn.Tanh(), torch.nn.Linear(5, 5))
    x = torch.randn(150, 5)
    y = (x[:, 0] > 0).long()
    db = tmp_path / "s.db"
    with Recorder(model, probes={"train": (x, y)}, layers=["2"], estimators=[KDE(), KSG()], units=False,
                  store=db, run="shrink") as rec:
        for epoch in range(12):
            rec.record(epoch=epoch)
            with torch.no_grad():  # grows for 4 epochs (a fit), then shrinks
                f = 1.5 if epoch < 4 else 0.7
                model[2].weight.mul_(f)
                model[2].bias.mul_(f)
    p = analyze(db, "shrink").phases.set_index("estimator")
    assert p.loc["kde", "compressed"] and p.loc["kde", "rescaled"] == "does not survive"
    assert "change of scale" in p.loc["kde", "verdict"] and p.loc["kde", "scale_change"] < 0.5
    assert not p.loc["ksg", "compressed"]


def test_a_rescaling_layer_that_raises_kde_is_a_named_dpi_violation(tmp_path):
    """T' = 10·T after a tanh layer: KDE's I(X;T) rises from T to T' (it cannot, for any true MI)."""
    from infoscope.analysis import analyze
    from infoscope.estimators import KDE

    torch.manual_seed(0)
    times_ten = torch.nn.Linear(6, 6)
    with torch.no_grad():
        times_ten.weight.copy_(10 * torch.eye(6))
        times_ten.bias.zero_()
    model = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), times_ten)
    x = torch.randn(300, 4)
    y = (x[:, 0] > 0).long()
    db = tmp_path / "d.db"
    with Recorder(model, probes={"train": (x, y)}, layers=["1", "2"], estimators=[KDE()], units=False,
                  store=db, run="dpi") as rec:
        for epoch in range(3):
            rec.record(epoch=epoch)
    warnings = [w for _, layer, w in analyze(db, "dpi").warnings if "data-processing" in w and "I(X;T)" in w]
    assert len(warnings) == 1 and "in 3 of 3 epochs" in warnings[0] and "depends on each layer's scale" in warnings[0]
    with load(db) as st:
        m = st.measurements(run="dpi", quantity="I(X;T)").groupby("layer").value.last()
    assert f"by up to {m['2'] - m['1']:.3f} bits" in warnings[0]


def test_a_study_part_on_saturated_numbers_is_not_testable_never_held():
    """Tishby's 'every layer first fits' on layers whose I(T;Y) sits at H(Y) from epoch 0, and
    'the deeper layers compress' on saturated series: not testable; the claim not held."""
    import pandas as pd

    from infoscope.claims import verdict
    from infoscope.reproduce import _compresses, _fits

    rows = pd.DataFrame({"layer": ["tanh1", "tanh2"], "fits": ["not testable", "fits"],
                         "fit_evidence": ["at its bound from the first record", "rises 0.4 bits"],
                         "shape": ["saturated", "saturated"], "compressed": [False, False], "rescaled": ["", ""],
                         "drop": [0.0, 0.0], "peak_epoch": [0, 0]})
    fits = _fits(rows, "every hidden layer first fits")
    compresses = _compresses(rows, "the deeper layers compress")
    assert fits.status == "not testable" and compresses.status == "not testable"
    v = verdict({0: [fits, compresses], 1: [fits, compresses], 2: [fits, compresses]}, full=True)
    assert v.status == "not testable" and not v.held and v.held_seeds == 0
    # one failing part on one seed fails the claim, whatever the rest
    failed = _compresses(rows.assign(shape=["rise only", "rise only"]), "the deeper layers compress")
    assert failed.status == "did not hold"
    assert verdict({0: [failed], 1: [compresses]}, full=True).status == "did not hold"
    # a fall that is only a change of scale does not count as compression
    scale = rows.assign(shape="rise then fall", compressed=True, rescaled="does not survive", drop=0.5)
    assert _compresses(scale, "the deeper layers compress").status == "did not hold"


def test_first_record_peaks_are_never_compressed_in_the_demo_tables(tmp_path):
    """The demo's pattern (I(X;T) highest at the first record, then down and up): every output
    built on the analysis says no compression."""
    from infoscope.analysis import analyze
    from infoscope.report.tables import run_tables

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    x = torch.randn(120, 5)
    y = (x[:, 0] > 0).long()
    db = tmp_path / "p.db"
    with Recorder(model, probes={"train": (x, y)}, layers=["1"], estimators=[MatrixRenyi(sigma_x=0.5)], units=False,
                  store=db, run="p") as rec:
        for epoch, f in enumerate([1.0, 0.5, 0.5, 0.5, 2.0, 1.0, 1.0]):
            with torch.no_grad():
                model[0].weight.mul_(f)
            rec.record(epoch=epoch)
    p = analyze(db, "p").phases.iloc[0]
    assert p.peak_epoch == 0 and not p.compressed and "compression of" not in p.verdict
    with load(db) as st:
        html = run_tables(st, "p")
    assert "compression of" not in html
