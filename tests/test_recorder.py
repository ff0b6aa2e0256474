"""The recorder: values equal direct estimator calls, cadence, noise, bad activations."""

from __future__ import annotations

import os

import pytest
import torch
from torch import nn

import infoscope
from infoscope import KDE, KSG, Binning, MatrixRenyi, Recorder
from infoscope.recorder import unit_view


class Explode(nn.Module):
    """Turns its input into NaN when ``armed``."""

    def __init__(self):
        super().__init__()
        self.armed = False

    def forward(self, x):
        return x * float("nan") if self.armed else x


def _data(n=120, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    y = (x[:, 0] + 0.3 * torch.randn(n, generator=g) > 0).long()
    return x, y


def _conv_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 2))


def test_unit_values_equal_direct_estimator_calls(tmp_path):
    model = _conv_model()
    x = torch.randn(80, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 2, (80,), generator=torch.Generator().manual_seed(2))
    est = MatrixRenyi(alpha=1.01, sigma_x=2.0, sigma_input=3.0)
    with Recorder(model, (x, y), layers=["1"], estimators=[est, Binning(n_bins=10)], store=tmp_path / "r.db", run="r") as rec:
        rec.record(epoch=0)
    with infoscope.load(tmp_path / "r.db") as st:
        units = st.measurements(run="r", units=True)
    acts = torch.relu(model[0](x)).detach()
    for unit in range(3):
        u_map = acts[:, unit]
        got = units[(units.unit == unit) & (units.estimator == "renyi")].set_index("quantity").value
        assert got["I(T;Y)"] == pytest.approx(est.mutual_information(u_map, y), abs=1e-9)
        assert got["I(X;T)"] == pytest.approx(MatrixRenyi(alpha=1.01, sigma_x=2.0, sigma_y=3.0).mutual_information(u_map, x), abs=1e-9)
        assert got["H(T)"] == pytest.approx(est.entropy(u_map), abs=1e-9)
        pooled = u_map.reshape(80, -1).mean(dim=1, keepdim=True)
        b = units[(units.unit == unit) & (units.estimator == "binning")].set_index("quantity").value
        assert b["I(T;Y)"] == pytest.approx(Binning(n_bins=10).mutual_information(pooled, y), abs=1e-12)
        assert b["H(T)"] == pytest.approx(Binning(n_bins=10).entropy(pooled), abs=1e-12)


def test_layer_values_equal_direct_calls_and_sigma_is_stored(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 2))
    x, y = _data()
    est = MatrixRenyi(sigma_x="alignment")
    with Recorder(model, (x, y), estimators=[est, KDE()], units=False, store=tmp_path / "r.db", run="r") as rec:
        summary = rec.record(epoch=0)
    with infoscope.load(tmp_path / "r.db") as st:
        m = st.measurements(run="r", layer="1")
    t = torch.tanh(model[0](x)).detach()
    ity = m[(m.quantity == "I(T;Y)") & (m.estimator == "renyi")].iloc[0]
    sigma = ity.params["sigma_x"]
    assert sigma == est.estimate_mutual_information(t, y).params["sigma_x"]  # alignment with the labels
    assert ity.value == pytest.approx(MatrixRenyi(sigma_x=sigma).mutual_information(t, y), abs=1e-9)
    kde_ixt = m[(m.quantity == "I(X;T)") & (m.estimator == "kde")].value.iloc[0]
    assert kde_ixt == pytest.approx(KDE().entropy(t), abs=1e-9)  # distinct inputs: I(X;T) = H(T)
    assert summary[("train", "1", "I(T;Y)", "renyi")] == pytest.approx(ity.value)


def _ixt_under_noise(tmp_path, est, variances, draws=10):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 4), nn.Tanh())
    x, y = _data(200)
    out = []
    for i, v in enumerate(variances):
        with Recorder(model, (x, y), estimators=[est], units=False, store=tmp_path / "r.db", run=f"{est.name}{i}{v}",
                      noise_variance=v, noise_draws=draws) as rec:
            out.append(rec.record(epoch=0)[("train", "1", "I(X;T)", est.name)])
    return out


def test_noise_injection_makes_ixt_finite_and_decreasing(tmp_path):
    variances = (0.001, 0.01, 0.1, 1.0)
    binned = _ixt_under_noise(tmp_path, Binning(n_bins=4, value_range=(-6, 6)), variances)
    assert all(a > b for a, b in zip(binned, binned[1:]))
    renyi = _ixt_under_noise(tmp_path, MatrixRenyi(), variances)
    assert all(a > b for a, b in zip(renyi, renyi[1:]))
    # without noise the same binning sees a deterministic layer: I(X;T) = H(T)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 4), nn.Tanh())
    x, y = _data(200)
    t = torch.tanh(model[0](x)).detach()
    with Recorder(model, (x, y), estimators=[Binning(n_bins=4, value_range=(-6, 6))], units=False, store=tmp_path / "d.db", run="d") as rec:
        clean = rec.record(epoch=0)[("train", "1", "I(X;T)", "binning")]
    assert clean == pytest.approx(Binning(n_bins=4, value_range=(-6, 6)).entropy(t), abs=1e-12)
    assert binned[0] <= clean + 1e-9


def test_every_n_steps(tmp_path):
    model = nn.Sequential(nn.Linear(6, 2))
    x, y = _data()
    with Recorder(model, (x, y), estimators=["binning"], every=3, store=tmp_path / "r.db", run="r") as rec:
        done = [s for s in range(10) if rec.record(epoch=0, step=s) is not None]
    assert done == [0, 3, 6, 9]
    with infoscope.load(tmp_path / "r.db") as st:
        assert st.records("r").step.tolist() == [0, 3, 6, 9]


def test_unit_every_measures_units_on_schedule_and_when_forced(tmp_path):
    model = _conv_model()
    x = torch.randn(60, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 2, (60,), generator=torch.Generator().manual_seed(2))
    with Recorder(model, (x, y), layers=["1"], estimators=["binning"], unit_every=3, store=tmp_path / "r.db", run="r") as rec:
        for epoch in range(7):
            rec.record(epoch=epoch, units=True if epoch == 5 else None)
    with infoscope.load(tmp_path / "r.db") as st:
        units, layers = st.measurements(run="r", units=True), st.measurements(run="r")
    assert sorted(set(units.epoch)) == [0, 3, 5, 6]
    assert sorted(set(layers[layers.unit.isna()].epoch)) == list(range(7))  # whole layers every time
    # under a step cadence the schedule counts measurements, not steps
    with Recorder(model, (x, y), layers=["1"], estimators=["binning"], every=2, unit_every=2, store=None) as rec:
        assert [s for s in range(12) if rec.due(s) and rec.units_due(0, s)] == [0, 4, 8]
    with pytest.raises(ValueError, match="unit_every"):
        Recorder(model, (x, y), unit_every=0, store=None)
    # per-unit values on the named probes only
    probes = {"train": (x[:30], y[:30]), "test": (x[30:], y[30:])}
    with Recorder(model, probes, layers=["1"], estimators=["binning"], unit_probes=["train"], store=None) as rec:
        rows, _, _ = rec.measure()
    assert {r.probe for r in rows if r.unit is not None} == {"train"}
    assert {r.probe for r in rows if r.unit is None} == {"train", "test"}
    with pytest.raises(ValueError, match="unit_probes names probe"):
        Recorder(model, probes, unit_probes=["validation"], store=None)


def test_experiment_units_every_k_epochs_and_at_the_last(tmp_path):
    from infoscope.experiments import run_experiment

    db = tmp_path / "r.db"
    run_experiment("digits-mlp", store=db, run="sparse", epochs=3, probe_size=60, unit_every=2)
    run_experiment("digits-mlp", store=db, run="dense", epochs=3, probe_size=60, unit_every=1)
    with infoscope.load(db) as st:
        sparse, dense = st.measurements(run="sparse", units=True), st.measurements(run="dense", units=True)
    assert sorted(set(sparse.epoch)) == [0, 2, 3] and sorted(set(dense.epoch)) == [0, 1, 2, 3]
    assert set(sparse.probe) == {"train"}  # the experiments' default unit_probes
    # same seed, same training: the scheduled epochs hold the values an every-epoch run records
    key = ["epoch", "probe", "layer", "unit", "quantity", "estimator"]
    merged = sparse.merge(dense, on=key, suffixes=("_s", "_d"))
    assert len(merged) == len(sparse)
    assert (merged.value_s - merged.value_d).abs().max() < 1e-9


def test_nan_activations_warn_and_continue_or_raise(tmp_path):
    boom = Explode()
    model = nn.Sequential(nn.Linear(6, 3), boom, nn.Tanh())
    x, y = _data()
    with Recorder(model, (x, y), layers=["1", "2"], estimators=["binning"], store=tmp_path / "r.db", run="r") as rec:
        rec.record(epoch=0)
        boom.armed = True
        rec.record(epoch=1, metrics={"loss": 1.0})
    with infoscope.load(tmp_path / "r.db") as st:
        w = st.warnings("r")
        assert any("layer '1', epoch 1" in m and "NaN" in m for m in w.message)
        assert st.metrics("r").value.tolist() == [1.0]  # the epoch's other data kept
        assert sorted(st.measurements(run="r").epoch.unique()) == [0]
    with Recorder(model, (x, y), layers=["1"], estimators=["binning"], store=tmp_path / "r.db", run="r2", on_error="raise") as rec:
        with pytest.raises(ValueError, match="layer '1', epoch 0.*NaN"):
            rec.record(epoch=0)


def test_constructor_validation(tmp_path):
    model = nn.Sequential(nn.Linear(6, 2), nn.ReLU())
    x, y = _data()
    with pytest.raises(ValueError, match="unknown layer name"):
        Recorder(model, (x, y), layers=["fc"], store=tmp_path / "r.db")
    with pytest.raises(ValueError, match="every must be"):
        Recorder(model, (x, y), every=0, store=tmp_path / "r.db")
    with pytest.raises(ValueError, match="probe 'train' inputs has 1 sample"):
        Recorder(model, (x[:1], y[:1]), store=tmp_path / "r.db")
    with pytest.raises(ValueError, match="has 120 samples but its labels has 3"):
        Recorder(model, (x, y[:3]), store=tmp_path / "r.db")
    with pytest.raises(ValueError, match="probe labels.*non-integer"):
        Recorder(model, (x, torch.rand(120)), store=tmp_path / "r.db")


def test_unit_view_shapes():
    t = torch.arange(24.0).reshape(2, 3, 2, 2)
    assert unit_view(t, 1, "map").shape == (2, 2, 2)
    assert unit_view(t, 1, "max").tolist() == [[7.0], [19.0]]
    assert unit_view(torch.ones(5, 4), 2).shape == (5, 1)


def test_max_units_skips_with_a_note(tmp_path):
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU())
    x, y = _data()
    with Recorder(model, (x, y), estimators=["binning"], max_units=4, store=tmp_path / "r.db", run="r") as rec:
        rec.record(epoch=0)
    with infoscope.load(tmp_path / "r.db") as st:
        assert st.measurements(run="r", units=True).empty
        assert "8 units > max_units=4" in st.warnings("r").message.iloc[0]


def test_memory_budget_refuses_up_front(tmp_path):
    from infoscope.budget import MemoryBudgetError

    model = nn.Sequential(nn.Linear(6, 50), nn.ReLU())
    x, y = _data(2000)
    with pytest.raises(MemoryBudgetError, match=r"would need about .*MiB for probe 'train' \(N=2000\), layer '1'.*over the memory budget of 10.0 MiB; use a smaller probe"):
        Recorder(model, (x, y), estimators=["renyi"], store=tmp_path / "r.db", run="big", memory_budget=10 * 2**20)
    with infoscope.Store(tmp_path / "r.db") as st:
        assert "big" not in st.run_names()  # nothing recorded, nothing half-written
    # binning needs no N×N matrices: the same probe fits
    with Recorder(model, (x, y), estimators=["binning"], units=False, store=tmp_path / "r.db", run="small", memory_budget=10 * 2**20) as rec:
        assert rec.record(epoch=0) is not None


def test_sigma_smoothing_is_an_exponential_moving_average(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 4), nn.Tanh())
    x, y = _data(150)
    rules = []
    with Recorder(model, (x, y), estimators=[MatrixRenyi(sigma_x="alignment")], units=False, store=tmp_path / "r.db",
                  run="ema", sigma_smoothing=0.9) as rec:
        for epoch in range(3):
            with torch.no_grad():
                model[0].weight.mul_(1.5)  # the layer changes, so the rule's σ changes
            rec.record(epoch=epoch)
    with infoscope.load(tmp_path / "r.db") as st:
        m = st.measurements(run="ema", quantity="I(T;Y)").sort_values("epoch")
    rules = [p["sigma_x_rule"] for p in m.params]
    used = [p["sigma_x"] for p in m.params]
    assert used[0] == rules[0]
    assert used[1] == pytest.approx(0.9 * used[0] + 0.1 * rules[1])
    assert used[2] == pytest.approx(0.9 * used[1] + 0.1 * rules[2])
    t = torch.tanh(model[0](x)).detach()
    assert m.value.iloc[-1] == pytest.approx(MatrixRenyi(sigma_x=used[2]).mutual_information(t, y), abs=1e-9)
    with pytest.raises(ValueError, match="sigma_smoothing"):
        Recorder(model, (x, y), store=tmp_path / "r.db", run="bad", sigma_smoothing=1.0)


def test_sigma_smoothing_weighs_by_optimisation_steps_and_flags_a_lagging_sigma(tmp_path):
    torch.manual_seed(0)
    x, y = _data(150)

    def run(name: str, steps: tuple[int, int]):
        model = nn.Sequential(nn.Linear(6, 4), nn.Tanh())
        with torch.no_grad():
            model[0].weight.mul_(1e-3)  # tiny activations at the first record, as at initialisation
        with Recorder(model, (x, y), estimators=[MatrixRenyi(sigma_x="alignment")], units=False,
                      store=tmp_path / "r.db", run=name, sigma_smoothing=0.99) as rec:
            rec.record(epoch=0, step=steps[0])
            with torch.no_grad():
                model[0].weight.mul_(1e3)  # the distances grow 1000× within the epoch
            rec.record(epoch=1, step=steps[1])
        with infoscope.load(tmp_path / "r.db") as st:
            return [p for p in st.measurements(run=name, quantity="I(T;Y)").sort_values("epoch").params]

    one_step = run("lag", (0, 1))
    assert one_step[1]["sigma_smoothing_weight"] == pytest.approx(0.99)
    assert one_step[1]["sigma_x"] == pytest.approx(0.99 * one_step[0]["sigma_x"] + 0.01 * one_step[1]["sigma_x_rule"])
    assert one_step[1]["sigma_x_outside_grid"] and one_step[1]["sigma_x_over_mean_distance"] < 0.1
    epoch = run("epoch", (0, 80))  # one record per epoch of 80 steps: w^80
    w = 0.99**80
    assert epoch[1]["sigma_smoothing_weight"] == pytest.approx(w)
    assert epoch[1]["sigma_x"] == pytest.approx(w * epoch[0]["sigma_x"] + (1 - w) * epoch[1]["sigma_x_rule"])
    assert not epoch[1]["sigma_x_outside_grid"] and not epoch[0]["sigma_x_outside_grid"]


def test_saturation_flags_identity_and_all_ones_grams():

    torch.manual_seed(0)
    x, y = _data(64)
    spread = nn.Sequential(nn.Linear(6, 6))  # distinct samples under a tiny σ: the Gram is the identity
    with torch.no_grad():
        spread[0].weight.copy_(torch.eye(6) * 100)
    with Recorder(spread, (x, y), layers=["0"], estimators=[MatrixRenyi(sigma_x=1e-3), Binning(n_bins=1000), KSG()],
                  units=False, store=None) as rec:
        rows, _, _ = rec.measure()
    flags = {(r.estimator, r.quantity): r.params["saturated"] for r in rows}
    assert flags[("renyi", "H(T)")] == "log2 n"
    assert flags[("renyi", "I(T;Y)")] == "H(Y)" and flags[("renyi", "I(X;T)")] == "H(X)"  # each at its own bound
    assert flags[("binning", "H(T)")] == "log2 n"
    const = nn.Sequential(nn.Linear(6, 3))  # every sample maps to one point: the Gram is all ones
    with torch.no_grad():
        const[0].weight.zero_()
    with Recorder(const, (x, y), layers=["0"], estimators=[MatrixRenyi(), Binning(n_bins=10), KSG()], units=False,
                  store=None) as rec:
        rows, _, _ = rec.measure()
    flags = {(r.estimator, r.quantity): r.params["saturated"] for r in rows}
    assert flags[("renyi", "H(T)")] == "zero" and flags[("binning", "I(X;T)")] == "zero"
    assert flags[("ksg", "I(T;Y)")] == "zero"
    from infoscope.estimators.base import Estimate

    mid = {"H(T)": Estimate(3.0, "renyi", {"n_samples": 64})}
    assert MatrixRenyi.saturation(mid) == {"H(T)": None}  # 3 bits of at most 6: not saturated


def test_chance_band_of_label_information():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(200, 4, generator=g)
    model = nn.Sequential(nn.Linear(4, 4))
    with torch.no_grad():
        model[0].weight.copy_(torch.eye(4))
        model[0].bias.zero_()
    est = MatrixRenyi(sigma_x=1.0)
    results = {}
    for name, y in (("independent", torch.randint(0, 2, (200,), generator=g)), ("deterministic", (x[:, 0] > 0).long())):
        with Recorder(model, (x, y), layers=["0"], estimators=[est], units=False, store=None, chance=20, seed=1) as rec:
            rows, _, bands = rec.measure()
        value = next(r for r in rows if r.quantity == "I(T;Y)")
        band = next(b for b in bands if b.kind == "chance")
        results[name] = (value, band)
        assert band.quantity == "I(T;Y)" and band.detail["n"] == 20 and band.low <= band.high
    value, band = results["independent"]
    assert not value.params["above_chance"] and value.value <= band.high  # indistinguishable from chance
    value, band = results["deterministic"]
    assert value.params["above_chance"] and value.value > band.high + 0.1


def test_chance_permutations_are_the_same_in_every_process():
    """The label permutations of the chance band are seeded by integers only, so two processes
    (whose str hashes are salted differently) permute alike: runs repeat, ranks agree."""
    import subprocess
    import sys

    code = ("import torch; from infoscope.estimators.base import ProbeContext; "
            "from infoscope.uncertainty import permuted_labels; "
            "ctx = ProbeContext.build(torch.arange(40.0)[:, None], torch.arange(40) % 4); "
            "print([c.y.tolist() for c in permuted_labels(ctx, 3, 7)])")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": str(h)}).stdout for h in (1, 2)}
    assert len(outs) == 1 and outs.pop().count("[") == 4


def test_a_long_record_shows_its_progress_and_can_be_silenced(capsys):
    from infoscope.progress import WaitProgress

    model = nn.Sequential(nn.Linear(6, 4), nn.Tanh(), nn.Linear(4, 3), nn.ReLU())
    x, y = _data()
    seen = []
    with Recorder(model, (x, y), estimators=["binning"], store=None, progress=lambda d, t, w: seen.append((d, t, w))) as rec:
        rec.record(0)
    assert seen[0] == (0, 2, "probe train, layer 1 and its units") and seen[-1] == (2, 2, "done")
    assert [d for d, *_ in seen] == sorted(d for d, *_ in seen)  # steps only go forward
    with Recorder(model, (x, y), estimators=["binning"], store=None, progress="off") as rec:
        rec.record(0)
    assert capsys.readouterr().err == ""
    # plain lines once a wait has lasted its delay: what is done and the time left
    report = WaitProgress("record of epoch 3", 4, mode="plain", delay=0, every=0)
    report.update(1, "probe train, layer fc1")
    report.update(4, "done")
    report.close()
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("infoscope: record of epoch 3: 1/4 (probe train, layer fc1), ") and lines[0].endswith("s left")
    assert lines[-1].startswith("infoscope: record of epoch 3: 4/4 (done)")
    with pytest.raises(ValueError, match="progress must be one of auto, rich, plain, off"):
        Recorder(model, (x, y), store=None, progress="loud")
