"""``python -m benchmarks.report [DB ...] [--vgg16]``: how big the report is and how fast it opens.

For each database: the report's size, the seconds to build it, and the seconds from
navigation to the views drawn (``body[data-ready]``) in headless Chromium, cold (a new browser
each time) and warm (a reload), medians of ``--repeat`` tries. The reference in the same run
is a page with Plotly's bundle alone and one empty plot, opened the same way: the ratio says
what the views and the data add to what the charting library costs by itself.

``--vgg16`` adds a database written here with the shape of a VGG16 run: 16 layers, every one
of the 4,224 conv units, 2 probes, 2 estimators, 50 epochs with 4 records each in the first
(about 13,000 points in the information planes and 630,000 per-unit values; the values are
random walks, since only their number matters here).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from infoscope.records import MeasurementRow
from infoscope.report import write_report
from infoscope.report.html import plotly_js
from infoscope.store import Store

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


VGG16_UNITS = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]  # conv layers


def vgg16_sized(path: Path, epochs: int = 50, seed: int = 0) -> Path:
    """Write a run shaped like a VGG16 recording (see the module docstring) to ``path``."""
    rng = np.random.default_rng(seed)
    layers = [(f"relu{i + 1}", [c, 4, 4], "ReLU", c) for i, c in enumerate(VGG16_UNITS)]
    layers += [("relu14", [512], "ReLU", 512), ("relu15", [512], "ReLU", 512), ("fc3", [10], "Linear", 10)]
    records = [(0, 0)] + [(1, s) for s in (49, 98, 147, 196)] + [(e, 196 * e) for e in range(2, epochs + 1)]
    walk = lambda n: np.clip(4 + np.cumsum(rng.normal(0, 0.05, (len(records), n)), axis=0), 0, 9.97)  # noqa: E731
    with Store(path) as st:
        writer = st.open_run("vgg16-sized", experiment="cifar-vgg16", config={}, seed=seed)
        writer.add_layers(layers)
        values = {(p, e, name): walk(3) for p in ("train", "test") for e in ("renyi", "binning") for name, *_ in layers}
        unit_values = {name: walk(3 * n) for name, _, _, n in layers[:13]}
        for k, (epoch, step) in enumerate(records):
            rows = [MeasurementRow(p, name, None, q, e, {"sigma_x": 1.0}, float(v[k, j]), 0.0)
                    for (p, e, name), v in values.items() for j, q in enumerate(("H(T)", "I(X;T)", "I(T;Y)"))]
            rows += [MeasurementRow("train", name, u, q, "renyi", {}, float(v[k, 3 * u + j]), 0.0)
                     for name, v in unit_values.items() for u in range(v.shape[1] // 3)
                     for j, q in enumerate(("H(T)", "I(X;T)", "I(T;Y)"))]
            writer.write_record(epoch, step, rows, metrics={"train_loss": 2.3 / (1 + k), "test_acc": k / len(records)})
    return path


def _open_seconds(p, chromium: str, url: str, ready: str, repeat: int) -> tuple[float, float]:
    cold, warm = [], []
    for _ in range(repeat):
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            t = time.perf_counter()
            page.goto(url, wait_until="load")
            page.wait_for_selector(ready, timeout=60_000)
            cold.append(time.perf_counter() - t)
            t = time.perf_counter()
            page.reload(wait_until="load")
            page.wait_for_selector(ready, timeout=60_000)
            warm.append(time.perf_counter() - t)
        finally:
            browser.close()
    return statistics.median(cold), statistics.median(warm)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dbs", nargs="*", type=Path, help="infoscope databases")
    parser.add_argument("--vgg16", action="store_true", help="add a VGG16-sized run written here")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="folder for the reports (default: a temporary one)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("Chromium is needed (apt-get install chromium)")
    out = args.out or Path(tempfile.mkdtemp())
    out.mkdir(parents=True, exist_ok=True)
    dbs = list(args.dbs)
    if args.vgg16:
        (out / "vgg16-sized.db").unlink(missing_ok=True)
        dbs.append(vgg16_sized(out / "vgg16-sized.db"))
    if not dbs:
        parser.error("name a database, or --vgg16")
    ref = out / "plotly-only.html"
    ref.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'><script>" + plotly_js() + "</script></head><body>"
                   "<div id='p'></div><script>Plotly.newPlot('p', [], {}).then(function () { document.body.dataset.ready = '1'; });"
                   "</script></body></html>", encoding="utf-8")
    with sync_playwright() as p:
        ref_cold, ref_warm = _open_seconds(p, chromium, ref.resolve().as_uri(), "body[data-ready='1']", args.repeat)
        print(f"reference: Plotly alone, {ref.stat().st_size / 1e6:.2f} MB, opens in {ref_cold:.2f} s cold, {ref_warm:.2f} s warm")
        print("| database | report MB | build s | opens cold s | ratio to Plotly alone | warm s |")
        print("|---|---|---|---|---|---|")
        for db in dbs:
            t = time.perf_counter()
            report = write_report(db, out / (db.stem + ".html"))
            built = time.perf_counter() - t
            cold, warm = _open_seconds(p, chromium, report.resolve().as_uri(), "body[data-ready='1']", args.repeat)
            print(f"| {db.name} | {report.stat().st_size / 1e6:.2f} | {built:.2f} | {cold:.2f} | {cold / ref_cold:.2f}× | {warm:.2f} |")


if __name__ == "__main__":
    main()
