"""The interactive report: self-contained, faithful to the store, and working in headless Chromium.

What the page shows is read back from the page (the values Plotly was given, the epoch the
slider selected, the text of the hover label) and compared with what the store holds.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from infoscope import Binning, MatrixRenyi
from infoscope.cli import main
from infoscope.experiments import run_experiment
from infoscope.labels import layer_labels
from infoscope.report import build_report, write_report
from infoscope.report.payload import record_positions, run_payload
from infoscope.store import load

from .browser import errors, needs_browser, open_page, plane_points
from .test_plots import saturated_store


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "runs.db"
    run_experiment("tishby", store=path, run="tanh", epochs=3, probe_size=200, chance=3, bootstrap=3,
                   estimators=[MatrixRenyi(), Binning(n_bins=30)])
    run_experiment("tishby", store=path, run="relu", epochs=2, probe_size=200, activation="relu")
    return path


def _embedded(text: str) -> dict:
    m = re.search(r'<script id="infoscope-data" type="application/json">(.*?)</script>', text, re.S)
    return json.loads(m.group(1).replace("<\\/", "</"))


def test_report_is_self_contained(db):
    text = build_report(db)
    assert text.startswith("<!DOCTYPE html>")
    # nothing fetched from anywhere: outside the scripts' code, no external src/href and no link
    # tags; no script loaded by URL (what the scripts ask for is checked in the browser, offline)
    markup = re.sub(r"<script([^>]*)>.*?</script>", r"<script\1></script>", text, flags=re.S)
    assert not re.search(r'(src|href)\s*=\s*["\'](?!data:|#)', markup)
    assert "<link" not in markup and not re.search(r"<script[^>]+src", markup)
    assert "Plotly" in text and len(text) > 3_000_000  # Plotly's bundle travels inside the page
    for needed in ("Configuration", "Final values", "Analysis", "Phases", "Recorded warnings", "tanh", "relu", "bits"):
        assert needed in text
    assert set(_embedded(text)) == {"tanh", "relu"}


def test_payload_is_what_the_store_holds(db):
    with load(db) as st:
        p = run_payload(st, "tanh")
        m = st.measurements(run="tanh", units=None)
        bands = st.bands(run="tanh")
        records = st.records("tanh")
    assert p["estimators"] == ["binning", "renyi"] and p["probes"] == ["test", "train"]
    assert [r["epoch"] for r in p["records"]] == records.epoch.tolist() == [0, 1, 2, 3]
    # every whole-layer value, exactly (to the 4 decimals kept), with its bootstrap and chance bands
    n = 0
    for s in p["series"]:
        rows = m[(m.probe == s["probe"]) & (m.estimator == s["estimator"]) & (m.layer == s["layer"])
                 & (m.quantity == s["quantity"]) & m.unit.isna()].sort_values(["epoch", "step"])
        np.testing.assert_allclose(s["v"], rows.value, atol=1e-4)
        n += len(rows)
        if s["quantity"] == "I(T;Y)":
            ch = bands[(bands.kind == "chance") & (bands.probe == s["probe"]) & (bands.estimator == s["estimator"])
                       & (bands.layer == s["layer"])].sort_values("epoch")
            np.testing.assert_allclose(s["chi"], ch.high, atol=1e-4)
            assert s["chance"] == [prm["above_chance"] for prm in rows.params]
        if s["estimator"] == "renyi":
            np.testing.assert_allclose(s["res"], [prm["sigma_x"] for prm in rows.params], atol=1e-4)
        boot = bands[(bands.kind == "bootstrap") & (bands.probe == s["probe"]) & (bands.estimator == s["estimator"])
                     & (bands.layer == s["layer"]) & (bands.quantity == s["quantity"])].sort_values("epoch")
        np.testing.assert_allclose(s["lo"], boot.low, atol=1e-4)
    assert n == int(m.unit.isna().sum())
    # per-unit values: record × unit grids
    for u in p["units"]:
        rows = m[(m.probe == u["probe"]) & (m.estimator == u["estimator"]) & (m.layer == u["layer"])
                 & (m.quantity == u["quantity"]) & m.unit.notna()]
        grid = rows.pivot_table(index="epoch", columns="unit", values="value").to_numpy()
        np.testing.assert_allclose(np.array(u["v"], dtype=float), grid, atol=1e-4)
    assert sum(len(u["v"]) * len(u["v"][0]) for u in p["units"]) == int(m.unit.notna().sum())
    assert set(p["metrics"]) >= {"train_loss", "test_acc"}


def test_record_positions_within_epochs():
    recs = pd.DataFrame({"epoch": [0, 1, 1, 1, 1, 2], "step": [0, 10, 20, 30, 40, 80]})
    assert record_positions(recs) == [0.0, 0.25, 0.5, 0.75, 1.0, 2.0]
    assert record_positions(pd.DataFrame({"epoch": [3], "step": [7]})) == [3.0]


def test_saturated_values_are_carried(tmp_path):
    """A value stored as saturated reaches the page with the bound it sits at."""
    with load(saturated_store(tmp_path / "s.db")) as st:
        p = run_payload(st, "s")
    s = [s for s in p["series"] if s["quantity"] == "I(X;T)"][0]
    assert s["sat"] == [None, "at log2 N"]  # its mark (infoscope.marks.value_mark)
    assert all(u["sat"] == [[1, 2]] for u in p["units"])


def test_unknown_run_and_bad_suffix(db, tmp_path):
    from infoscope import StoreError

    with pytest.raises(StoreError, match="no run named"):
        build_report(db, ["nope"])
    with pytest.raises(ValueError, match="html"):
        write_report(db, tmp_path / "r.pdf")


def test_report_and_plot_commands(db, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["report", str(db), "tanh", "-o", str(out)]) == 0
    assert out.exists() and "wrote" in capsys.readouterr().out
    for fmt, magic in (("svg", b"<?xml"), ("pdf", b"%PDF"), ("png", b"\x89PNG")):
        target = tmp_path / f"plane-{fmt}"
        assert main(["plot", str(db), "tanh", "plane", "-o", str(target), "--format", fmt]) == 0
        assert target.with_suffix("." + fmt).read_bytes()[:5].startswith(magic[:4])
    assert main(["plot", str(db), "tanh", "plane", "--format", "gif"]) == 2
    assert "png, svg or pdf" in capsys.readouterr().err
    assert main(["plot", str(db), "tanh", "plane", "-o", str(tmp_path / "x.png"), "--format", "pdf"]) == 2


@needs_browser
def test_report_in_headless_chromium(db, tmp_path, browser):
    out = write_report(db, tmp_path / "report.html")
    page = open_page(browser, Path(out).resolve().as_uri())
    try:
        assert not errors(page), page.messages
        assert not page.outside  # works with no network: nothing was asked of it
        section = 'section[data-run="tanh"]'
        # the slider: at the end by default, every recorded epoch drawn
        pts = plane_points(page, "tanh")
        with load(db) as st:
            m = st.measurements(run="tanh", probe="train")
            labels = layer_labels(st.layers("tanh"))
        n_layers = m.layer.nunique()
        assert len(pts) == n_layers * 2 * 4  # layers × estimators × epochs 0..3
        # each drawn point is the stored pair (I(X;T), I(T;Y)) of its layer and epoch
        for pt in pts[:12]:
            layer = [k for k, v in labels.items() if v == pt["name"]][0]
            at = m[(m.layer == layer) & (m.epoch == pt["epoch"])]
            assert any(abs(at[(at.quantity == "I(X;T)") & (at.estimator == e)].value.iloc[0] - pt["x"]) < 1e-4
                       and abs(at[(at.quantity == "I(T;Y)") & (at.estimator == e)].value.iloc[0] - pt["y"]) < 1e-4
                       for e in ("renyi", "binning"))
        page.eval_on_selector(f"{section} input.epoch", "s => { s.value = '1'; s.dispatchEvent(new Event('input')); }")
        assert page.get_attribute(f"{section} .views", "data-epoch") == "1"
        pts = plane_points(page, "tanh")
        assert len(pts) == n_layers * 2 * 2 and max(p["epoch"] for p in pts) == 1
        assert "epoch 1 of 3" in page.inner_text(f"{section} .epoch-label")
        # play runs the epochs forward to the last
        page.click(f"{section} button.play")
        page.wait_for_function(f"document.querySelector('{section} .views').dataset.epoch === '3'", timeout=10_000)
        # hover over a drawn point: the label shows its layer, epoch, value, σ and band
        # (a point no other point is near, so that the label is this point's)
        target = page.evaluate(f"""(() => {{
            const gd = document.querySelector('{section} .plane'), pts = [];
            const box = gd.getBoundingClientRect();
            gd._fullData.forEach(t => {{
                const xa = gd._fullLayout[t.xaxis.replace('x', 'xaxis')], ya = gd._fullLayout[t.yaxis.replace('y', 'yaxis')];
                t.x.forEach((x, i) => pts.push({{px: box.left + xa._offset + xa.l2p(x), py: box.top + ya._offset + ya.l2p(t.y[i]),
                                                 x: x, y: t.y[i], name: t.name, epoch: t.marker.color[i]}}));
            }});
            const far = p => Math.min(...pts.filter(q => q !== p).map(q => Math.hypot(q.px - p.px, q.py - p.py)));
            return pts.sort((a, b) => far(b) - far(a))[0];
        }})()""")
        page.mouse.move(target["px"], target["py"])
        page.wait_for_selector(f"{section} .plane .hoverlayer .hovertext", timeout=5_000)
        hover = page.text_content(f"{section} .plane .hoverlayer")
        assert f"{target['x']:.4f}" in hover and f"{target['y']:.4f}" in hover, hover
        assert target["name"] in hover and f"epoch {target['epoch']}" in hover
        assert "chance band" in hover and "bootstrap band" in hover
        assert "σ = " in hover or "bin width = " in hover
        # estimator toggles: binning off leaves renyi alone in every view
        page.uncheck(f"{section} input.estimator[value='binning']")
        assert len(plane_points(page, "tanh")) == n_layers * 4
        assert "binning" not in page.evaluate(f"Array.from(document.querySelector('{section} .curves').data).map(t => t.hovertemplate || '').join()")
        # per-unit heat map, sorted by final I(unit;Y) or in layer order
        z_sorted = page.evaluate(f"(() => {{ const t = document.querySelector('{section} .units').data[0]; return [t.y, t.z]; }})()")
        final = [row[-1] for row in z_sorted[1]]
        assert final == sorted(final, reverse=True) and len(final) >= 2
        page.select_option(f"{section} select.unit-sort", "layer")
        names = page.evaluate(f"document.querySelector('{section} .units').data[0].y")
        assert names == [f"unit {i}" for i in range(len(names))]
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        assert not errors(page), page.messages
    finally:
        page.context.close()


@needs_browser
def test_long_runs_are_drawn_thinned_but_the_chosen_epoch_always(tmp_path, browser):
    """1,201 records: at most 500 drawn per series (every 3rd and the last), the slider's own
    record drawn wherever it falls, and every stored value still in the page's data."""
    from infoscope.records import MeasurementRow
    from infoscope.store import Store

    path = tmp_path / "long.db"
    with Store(path) as st:
        writer = st.open_run("long", experiment=None, config={}, seed=0)
        writer.add_layers([("a", [3], "Tanh", 3)])
        for epoch in range(1201):
            rows = [MeasurementRow("train", "a", None, q, "binning", {}, v, 0.0)
                    for q, v in (("I(X;T)", 5 + epoch / 1000), ("I(T;Y)", epoch / 1200))]
            writer.write_record(epoch, epoch, rows, metrics={"loss": 1 / (1 + epoch)})
    page = open_page(browser, write_report(path, tmp_path / "long.html").resolve().as_uri())
    try:
        assert not errors(page), page.messages
        pts = plane_points(page, "long")
        assert [p["epoch"] for p in pts] == list(range(0, 1201, 3))
        lines = page.evaluate("Array.from(document.querySelector('.curves').data).map(t => t.x.length)")
        assert max(lines) == 401
        page.eval_on_selector("input.epoch", "s => { s.value = '700'; s.dispatchEvent(new Event('input')); }")
        pts = plane_points(page, "long")
        assert pts[-1]["epoch"] == 700 and abs(pts[-1]["x"] - 5.7) < 1e-9 and abs(pts[-1]["y"] - 700 / 1200) < 1e-4
        assert len(pts) == len(range(0, 700, 3)) + 1
        assert "1 in 3 of 1201 records" in page.inner_text(".epoch-label")
        assert page.evaluate("window.infoscope.views.long.data.series[0].v.length") == 1201
    finally:
        page.context.close()
