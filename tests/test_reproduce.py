"""Reproduction studies: the machinery on every study (fast) and the quick 12-bit study (slow)."""

from __future__ import annotations

import pytest

import infoscope
from infoscope.cli import main
from infoscope.reproduce import STUDIES, reproduce


@pytest.mark.parametrize("name, first", [("saxe-relu", "tanh"), ("estimator-disagreement", "tanh"), ("wickstrom-mlp", "mlp"),
                                         ("lorenzen-quantized", "quant")])
def test_study_machinery(tmp_path, name, first):
    result = reproduce(name, tmp_path, epochs=2, probe_size=150)
    summary = result.summary
    text = summary.read_text()
    assert "**Verdict: the claim" in text and "epochs overridden to 2" in text
    assert f"**Verdict: {result.verdict.text}.**" in text
    assert result.verdict.status != "held" and "quick" in result.verdict.text  # a quick run is never called held
    for part in result.parts[0]:
        assert part.status in ("held", "did not hold", "not testable") and f"| {part.name} | **{part.status}** |" in text
    assert f"{first}-plane.png" in result.figures and all((summary.parent / f).exists() for f in result.figures)
    assert (summary.parent / f"{first}-plane.png").stat().st_size > 10_000
    with infoscope.load(summary.parent / "runs.db") as st:
        assert len(st.run_names()) == len(STUDIES[name].runs)


def test_unknown_study(capsys):
    assert main(["reproduce", "wickstrom-vgg16"]) == 2
    assert "unknown study" in capsys.readouterr().err


@pytest.mark.slow
def test_tishby_tanh_quick_keeps_data_processing_order(tmp_path):
    # robust across seeds: binning with 30 bins keeps I(X;T1) ≥ I(X;T2) ≥ … on the 12-bit task
    summary = reproduce("tishby-tanh", tmp_path).summary
    with infoscope.load(summary.parent / "runs.db") as st:
        m = st.measurements(run="tishby-tanh-tanh-s0", probe="train", quantity="I(X;T)")
        order = list(st.layers("tishby-tanh-tanh-s0").name)[:-1]
        last = m[m.epoch == m.epoch.max()].set_index("layer").value
        values = [last[layer] for layer in order]
    assert all(a >= b - 0.05 for a, b in zip(values, values[1:]))
    assert "| I(X;T) keeps the data-processing order across hidden layers at the end | **held** |" in summary.read_text()


def test_quantized_network_exact_mi_equals_a_direct_count(tmp_path):
    import numpy as np
    import torch

    from infoscope.estimators.discrete import plugin_entropy, plugin_mutual_information, symbols
    from infoscope.experiments import run_experiment
    from infoscope.experiments.trained import load_trained

    res = run_experiment("tishby-quantized", store=tmp_path / "r.db", epochs=3, probe_size=600, units=False)
    with infoscope.load(tmp_path / "r.db") as st:
        trained = load_trained(st, res.run)
        m = st.measurements(run=res.run, probe="train", estimator="discrete")
    last = m[m.epoch == 3].set_index(["layer", "quantity"]).value
    probe = trained.probes[0]
    with torch.no_grad():
        h = probe.x
        for name, module in trained.model.named_children():
            h = module(h)
            if name.startswith("quant"):
                levels = np.round((h.numpy() + 1) * 127.5).astype(int)  # the 256 levels, counted directly
                sym = symbols(levels)
                assert last[(name, "H(T)")] == pytest.approx(plugin_entropy(sym), abs=1e-12)
                assert last[(name, "I(X;T)")] == pytest.approx(plugin_entropy(sym), abs=1e-12)  # deterministic, distinct inputs
                assert last[(name, "I(T;Y)")] == pytest.approx(plugin_mutual_information(sym, probe.y.numpy()), abs=1e-12)


def test_lorenzen_study_counts_the_exact_plane_over_the_whole_data_set(tmp_path):
    told = []
    result = reproduce("lorenzen-quantized", tmp_path, epochs=1, probe_size=120, on_progress=told.append)
    # every wait is told: the run and epoch under way, a record's layers, then the analysis
    assert told[0] == "run 1/1 lorenzen-quantized-quant-s0: epoch 0/1"
    assert any(t.startswith("run 1/1 lorenzen-quantized-quant-s0: recording, ") and "layers (probe all" in t for t in told)
    assert any("epoch 1/1, test acc" in t for t in told) and told[-1].startswith("analysing 1 run(s)")
    with infoscope.load(result.summary.parent / "runs.db") as st:
        run = "lorenzen-quantized-quant-s0"
        assert list(st.layers(run).name) == [f"quant{i}" for i in range(1, 6)]
        whole = st.measurements(run=run, probe="all")
        train = st.measurements(run=run, probe="train")
    assert set(whole.estimator) == {"discrete"}  # only the exact counts can afford every input
    assert set(whole.params.map(lambda p: p["n_samples"])) == {4096}  # the exact plane's n is the data set's size
    assert set(train.estimator) == {"discrete", "binning", "kde", "renyi"} and set(train.params.map(lambda p: p["n_samples"])) == {120}
    exact = result.parts[0][0]
    assert "counts over all 4096 inputs" in exact.name and "quant5" in exact.evidence and "by construction" in exact.evidence


def test_full_wickstrom_cnn_runs_the_papers_vgg16_on_the_given_data(tmp_path):
    result = reproduce("wickstrom-cnn", tmp_path, full=True, seeds=1, epochs=0, probe_size=24, data="synthetic")
    with infoscope.load(result.summary.parent / "runs.db") as st:
        info = st.run_info("wickstrom-cnn-vgg-s0")
        assert info["experiment"] == "cifar-vgg16" and info["config"]["dataset"] == "cifar10-synthetic"
    assert "cifar-vgg16 (relu)" in result.summary.read_text()


def test_full_runs_three_seeds_and_counts_how_many_held(tmp_path):
    result = reproduce("lorenzen-quantized", tmp_path, full=True, epochs=1, probe_size=60)
    assert result.verdict.seeds == [0, 1, 2] and len(result.parts) == 3
    text = result.summary.read_text()
    assert f"{result.verdict.held_seeds} of 3 seed(s) held" in text and "paper-sized (--full)" in text
    with infoscope.load(result.summary.parent / "runs.db") as st:
        assert st.run_names() == [f"lorenzen-quantized-quant-s{s}" for s in range(3)]
