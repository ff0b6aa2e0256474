"""Every picture kind renders from a real run to a real image with labelled axes in bits."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import torch

import infoscope
from infoscope import Recorder
from infoscope.cli import main
from infoscope.experiments import run_experiment
from infoscope.labels import layer_labels
from infoscope.plots import PLOT_KINDS, plot, save


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("plots") / "runs.db"
    run_experiment("tishby", store=path, run="tanh", epochs=3, probe_size=400, estimators=["binning", "renyi"])
    run_experiment("tishby", store=path, run="relu", epochs=2, probe_size=400, activation="relu", estimators=["binning"])
    return path


@pytest.mark.parametrize("kind", PLOT_KINDS)
def test_every_kind_renders_a_real_png(db, tmp_path, kind):
    runs = ["tanh", "relu"] if kind == "compare" else "tanh"
    fig = plot(db, runs, kind)
    out = save(fig, tmp_path / f"{kind}.png", dpi=80)
    with Image.open(out) as img:
        img.verify()
    with Image.open(out) as img:
        w, h = fig.get_size_inches()
        assert img.size == (round(w * 80), round(h * 80))
        assert img.size[0] > 300 and img.size[1] > 250
        assert np.unique(np.asarray(img.convert("L"))).size > 20  # not a blank canvas
    labels = [ax.get_xlabel() + " " + ax.get_ylabel() for ax in fig.axes]
    assert all(label.strip() for label in labels[:1])
    if kind in ("plane", "compare", "curves", "units"):
        assert any("(bits)" in label for label in labels)


def test_plane_has_one_panel_per_estimator_and_a_colour_bar(db):
    fig = plot(db, "tanh", "plane")
    panels = [ax for ax in fig.axes if ax.get_xlabel() == "I(X;T) (bits)"]
    assert len(panels) == 2
    assert any(ax.get_ylabel() == "epoch" for ax in fig.axes)


def test_units_heatmap_rows_are_units_sorted_by_final_value(db):
    fig = plot(db, "tanh", "units", estimator="binning", layers=["tanh1"])
    mesh = fig.axes[0].collections[0]
    image = np.asarray(mesh.get_array()).reshape(10, -1)  # ten units in the first layer, one column per epoch
    final = image[:, -1]
    assert list(final) == sorted(final, reverse=True)
    assert fig.axes[0].yaxis_inverted()  # the best unit on top


def test_units_of_a_probe_without_them_name_the_probes_that_have_them(db):
    with pytest.raises(ValueError, match=r"no per-unit measurements on the 'test' probe; probes with units: train \(--probe train\)"):
        plot(db, "tanh", "units", probe="test")


def test_units_rows_are_labelled_and_units_at_zero_are_drawn(tmp_path):
    from infoscope.plots import unit_maps

    path = tmp_path / "z.db"
    x = torch.randn(200, 6)
    model = torch.nn.Sequential(torch.nn.Linear(6, 32), torch.nn.ReLU())
    with torch.no_grad():
        model[0].bias[:4] = -100.0  # four dead units: zero on every sample, I(unit;Y) = 0
    with Recorder(model, (x, (x[:, 0] > 0).long()), estimators=["binning"], layers=["1"], store=path, run="z") as rec:
        rec.record(0)
        rec.record(1)
    fig = unit_maps(path, "z")
    assert len(fig.axes[0].get_yticklabels()) == 32  # every one of the 32 units named
    bars = fig.axes[-1] if fig.axes[-1].get_xlabel() == "final I(unit;Y) (bits)" else fig.axes[2]
    assert "4 at 0 bits" in bars.get_legend_handles_labels()[1]


def saturated_store(path):
    """A run of one 4-unit layer over 2 epochs whose epoch-1 values of layer and unit 2 are
    stored as saturated (at log2 N)."""
    from infoscope.records import MeasurementRow
    from infoscope.store import Store

    with Store(path) as st:
        writer = st.open_run("s", experiment=None, config={}, seed=0)
        writer.add_layers([("a", [4], "Linear", 4)])
        for epoch in range(2):
            sat = "log2 N" if epoch == 1 else None
            rows = [MeasurementRow("train", "a", None, q, "renyi", {"sigma_x": 1.0, "saturated": sat}, v, 0.0)
                    for q, v in (("I(X;T)", 7.6), ("I(T;Y)", 1.0))]
            rows += [MeasurementRow("train", "a", u, q, "renyi", {"saturated": sat if u == 2 else None}, 0.1 * u + epoch, 0.0)
                     for u in range(4) for q in ("I(X;T)", "I(T;Y)")]
            writer.write_record(epoch, 0, rows, seconds=0.1)
    return path


def test_saturated_unit_values_are_crossed(tmp_path):
    fig = plot(saturated_store(tmp_path / "s.db"), "s", "units")
    for ax in fig.axes[:2]:  # the I(unit;Y) and I(X;unit) maps
        crosses = [c for c in ax.collections if c.get_label() == "× at a bound or at chance"]
        assert len(crosses) == 1
        # unit 2 is the second best at the end (values 0.1·unit + epoch: order 3, 2, 1, 0), at epoch 1
        assert crosses[0].get_offsets().tolist() == [[1.0, 1.0]]


def test_unit_cells_are_centred_on_sparse_epochs():
    from infoscope.plots.units import _cell_edges

    # units measured every 5th epoch (unit_every=5) and at the last: cells span halfway to the neighbours
    assert _cell_edges(np.array([0.0, 5.0, 10.0, 12.0])).tolist() == [-0.5, 2.5, 7.5, 11.0, 12.5]
    assert _cell_edges(np.array([3.0])).tolist() == [2.5, 3.5]


def test_formats_and_errors(db, tmp_path):
    for suffix in ("svg", "pdf"):
        assert save(plot(db, "tanh", "sigma"), tmp_path / f"s.{suffix}").stat().st_size > 1000
    with pytest.raises(ValueError, match="png, .svg or .pdf"):
        save(plot(db, "tanh", "sigma"), tmp_path / "s.jpg")
    with pytest.raises(ValueError, match="two or more runs"):
        plot(db, ["tanh"], "compare")
    with pytest.raises(ValueError, match="unknown plot kind"):
        plot(db, "tanh", "pie")


def test_cli_plot(db, tmp_path, capsys):
    out = tmp_path / "p.png"
    assert main(["plot", str(db), "tanh", "curves", "-o", str(out)]) == 0
    assert out.exists() and out.stat().st_size > 10_000
    assert main(["plot", str(db), "tanh,relu", "compare", "-o", str(tmp_path / "c.png"), "--estimator", "binning"]) == 0
    assert main(["plot", str(db), "nope", "plane"]) == 2
    assert "no run named 'nope'" in capsys.readouterr().err


def test_layer_labels_in_legends_and_the_report(db):
    from infoscope.plots import information_plane, mi_curves
    from infoscope.report import build_report

    with infoscope.load(db) as st:
        labels = layer_labels(st.layers("tanh"))
    assert labels["tanh1"] == "tanh1 · Tanh · 10" and labels["softmax"] == "softmax · Softmax · 2"
    plane = information_plane(db, "tanh")
    legend = [t.get_text() for lg in plane.legends for t in lg.get_texts()]
    assert "tanh1 · Tanh · 10" in legend
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(plane)
    canvas.draw()
    renderer = canvas.get_renderer()
    box = plane.legends[0].get_window_extent(renderer)
    assert not any(box.overlaps(ax.get_window_extent(renderer)) for ax in plane.axes[:1])  # below the panel, over no point
    curves = [t.get_text() for ax in mi_curves(db, "tanh").axes if ax.get_legend() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("tanh2 · Tanh · 7") for t in curves)
    assert "tanh3 · Tanh · 5" in build_report(db, ["tanh"])


def test_curves_legend_keys_layers_by_colour_and_probes_by_line_style(db):
    from infoscope.plots import mi_curves

    legend = mi_curves(db, "tanh").axes[0].get_legend()
    keys = {t.get_text(): h for t, h in zip(legend.get_texts(), legend.legend_handles)}
    assert keys["train probe"].get_linestyle() == "-" and keys["test probe"].get_linestyle() == "--"
    assert sum(text.startswith("tanh2 · Tanh · 7") for text in keys) == 1  # once, not once per probe
    assert legend.handlelength >= 3  # long enough to show the dashes


def test_saturated_values_are_crossed_in_the_plane(tmp_path):
    from infoscope.plots import information_plane

    run_experiment("tishby-quantized", store=tmp_path / "q.db", run="q", epochs=2, probe_size=300, units=False)
    fig = information_plane(tmp_path / "q.db", "q")
    labels = [t for ax in fig.axes for t in ax.get_legend_handles_labels()[1]]
    assert "× at a bound or at chance" in labels  # quant1 resolves every probe sample: H(T) = log2 n
    from infoscope.plots import mi_curves

    curves = mi_curves(tmp_path / "q.db", "q")
    assert "× at a bound or at chance" in [t for ax in curves.axes for t in ax.get_legend_handles_labels()[1]]
    assert all(ax.get_ylim()[1] - ax.get_ylim()[0] >= 0.1 - 1e-9 for ax in curves.axes[:2])  # no 5-millibit axes


def test_pictures_draw_the_first_listed_estimator_and_whole_epochs(tmp_path):
    """A run recording Rényi, then binning: curves and units draw Rényi (the first listed, not
    the first by name), and epoch axes tick whole epochs only."""
    import torch

    from infoscope import Recorder
    from infoscope.estimators import Binning, MatrixRenyi
    from infoscope.plots import mi_curves, unit_maps

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    x, y = torch.randn(80, 4), torch.arange(80) % 2
    db = tmp_path / "o.db"
    with Recorder(model, probes={"train": (x, y)}, layers=["1"], estimators=[MatrixRenyi(), Binning()], units=True,
                  store=db, run="o") as rec:
        for epoch in range(3):
            rec.record(epoch=epoch)
    fig = mi_curves(db, "o")
    assert fig.axes[0].get_title().startswith("o: renyi")
    fig.canvas.draw()
    assert all(float(t).is_integer() for t in fig.axes[-1].get_xticks())
    assert unit_maps(db, "o").axes[0].get_title() == "I(unit;Y), renyi, train"
