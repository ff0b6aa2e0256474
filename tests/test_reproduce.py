"""Reproduction studies: the machinery on every study (fast) and the quick 12-bit study (slow)."""

from __future__ import annotations

import pytest

import infoscope
from infoscope.cli import main
from infoscope.reproduce import STUDIES, reproduce


@pytest.mark.parametrize("name, first", [("saxe-relu", "tanh"), ("estimator-disagreement", "tanh"), ("wickstrom-mlp", "mlp")])
def test_study_machinery(tmp_path, name, first):
    result = reproduce(name, tmp_path, epochs=2, probe_size=150)
    summary = result.summary
    text = summary.read_text()
    assert "**Verdict: the claim" in text and "epochs overridden to 2" in text
    assert f"the claim {'held' if result.held else 'did not hold'} here.** {result.verdict}" in text
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
        m = st.measurements(run="tishby-tanh-tanh", probe="train", quantity="I(X;T)")
        order = list(st.layers("tishby-tanh-tanh").name)[:-1]
        last = m[m.epoch == m.epoch.max()].set_index("layer").value
        values = [last[layer] for layer in order]
    assert all(a >= b - 0.05 for a, b in zip(values, values[1:]))
    assert "I(X;T) keeps the data-processing order across hidden layers at the end: yes" in summary.read_text()
